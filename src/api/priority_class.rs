//! PriorityClass (scheduling.k8s.io/v1) and Namespace (v1): small cluster-scoped kinds.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;

/// A PriorityClass: a named pod priority.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PriorityClass {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// The priority of pods that name this class.
    pub value: i32,
    /// Whether pods without a class get this one.
    pub global_default: bool,
    /// `PreemptLowerPriority` (default) or `Never`.
    pub preemption_policy: Option<String>,
    /// Free text.
    pub description: String,
}

/// A Namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Namespace {
    /// Metadata.
    pub metadata: ObjectMeta,
}
