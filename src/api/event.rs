//! Event (`events.k8s.io/v1`): what a component reports about an object — kube-scheduler's
//! `FailedScheduling`, `Scheduled` and `Preempted` — with a series when it repeats.

use serde::{Deserialize, Serialize};

use super::meta::{ObjectMeta, ResourceVersion, Uid};
use crate::sim::SimTime;

/// `type: Normal`.
pub const EVENT_TYPE_NORMAL: &str = "Normal";
/// `type: Warning`.
pub const EVENT_TYPE_WARNING: &str = "Warning";

/// An Event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Event {
    /// Metadata (the name is the regarding object's name and the time, in hex nanoseconds).
    pub metadata: ObjectMeta,
    /// When it first happened.
    #[serde(skip)]
    pub event_time: SimTime,
    /// How often it happened, once it happened more than once.
    pub series: Option<EventSeries>,
    /// The component that reports it (`default-scheduler`).
    pub reporting_controller: String,
    /// The instance of that component (`default-scheduler-<host>`).
    pub reporting_instance: String,
    /// What the component did or tried (`Scheduling`, `Binding`, `Preempting`).
    pub action: String,
    /// Why (`FailedScheduling`, `Scheduled`, `Preempted`).
    pub reason: String,
    /// The object it is about.
    pub regarding: ObjectReference,
    /// A second object involved (the preemptor of a `Preempted` pod).
    pub related: Option<ObjectReference>,
    /// The human-readable text (at most 1024 bytes).
    pub note: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// A repeating event's count and last occurrence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventSeries {
    /// How many times it happened (2 or more).
    pub count: i32,
    /// When it last happened.
    #[serde(skip)]
    pub last_observed_time: SimTime,
}

/// A reference to an object at one of its versions.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectReference {
    /// `kind`.
    pub kind: String,
    /// `apiVersion`.
    pub api_version: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid.
    #[serde(skip)]
    pub uid: Uid,
    /// The object's resourceVersion when the reference was taken.
    #[serde(skip)]
    pub resource_version: ResourceVersion,
}
