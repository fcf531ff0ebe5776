//! ReplicaSet (apps/v1): keeps `replicas` pods matching a selector.

use serde::{Deserialize, Serialize};

use super::labels::LabelSelector;
use super::meta::ObjectMeta;
use super::pod::PodTemplateSpec;

/// A ReplicaSet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicaSet {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Desired state.
    pub spec: ReplicaSetSpec,
    /// Observed state.
    pub status: ReplicaSetStatus,
}

impl ReplicaSet {
    /// `spec.replicas`, defaulted to 1.
    pub fn replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }
}

/// A ReplicaSet's `spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicaSetSpec {
    /// Desired pod count (defaults to 1 when omitted).
    pub replicas: Option<i32>,
    /// Seconds a pod must be ready to count as available.
    pub min_ready_seconds: i32,
    /// Which pods belong to it.
    pub selector: LabelSelector,
    /// The pods it creates.
    pub template: PodTemplateSpec,
}

/// A ReplicaSet's `status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicaSetStatus {
    /// Active pods.
    pub replicas: i32,
    /// Active pods whose labels match the template.
    pub fully_labeled_replicas: i32,
    /// Ready pods.
    pub ready_replicas: i32,
    /// Pods ready for at least `minReadySeconds`.
    pub available_replicas: i32,
    /// The generation the status describes.
    pub observed_generation: i64,
    /// Conditions (`ReplicaFailure` while creating or deleting pods fails).
    pub conditions: Vec<ReplicaSetCondition>,
}

/// A ReplicaSet condition (`ReplicaFailure`).
pub type ReplicaSetCondition = super::meta::Condition;
