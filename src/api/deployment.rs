//! Deployment (apps/v1): a rolled-out sequence of ReplicaSets.

use serde::{Deserialize, Serialize};

use super::labels::LabelSelector;
use super::meta::{IntOrString, ObjectMeta};
use super::pod::PodTemplateSpec;

/// A Deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Deployment {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Desired state.
    pub spec: DeploymentSpec,
    /// Observed state.
    pub status: DeploymentStatus,
}

/// A Deployment's `spec`; the API defaults are applied by the accessors, so a manifest that
/// omits a field reads as upstream would default it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentSpec {
    /// Desired pod count (default 1).
    pub replicas: Option<i32>,
    /// Which pods belong to it.
    pub selector: LabelSelector,
    /// The pods of the current revision.
    pub template: PodTemplateSpec,
    /// How to replace old pods.
    pub strategy: DeploymentStrategy,
    /// Seconds a pod must be ready to count as available (default 0).
    pub min_ready_seconds: i32,
    /// Old ReplicaSets kept for rollback (default 10).
    pub revision_history_limit: Option<i32>,
    /// Paused deployments do not roll out.
    pub paused: bool,
    /// Seconds without progress before `ProgressDeadlineExceeded` (default 600).
    pub progress_deadline_seconds: Option<i32>,
}

impl DeploymentSpec {
    /// `replicas`, defaulted to 1.
    pub fn desired_replicas(&self) -> i32 {
        self.replicas.unwrap_or(1)
    }

    /// `revisionHistoryLimit`, defaulted to 10.
    pub fn revision_history_limit(&self) -> i32 {
        self.revision_history_limit.unwrap_or(10)
    }

    /// `progressDeadlineSeconds`, defaulted to 600.
    pub fn progress_deadline_seconds(&self) -> i32 {
        self.progress_deadline_seconds.unwrap_or(600)
    }
}

/// `spec.strategy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentStrategy {
    /// `RollingUpdate` (default) or `Recreate`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Parameters of a rolling update.
    pub rolling_update: Option<RollingUpdateDeployment>,
}

impl DeploymentStrategy {
    /// Whether the strategy is `Recreate`.
    pub fn is_recreate(&self) -> bool {
        self.type_.as_deref() == Some("Recreate")
    }

    /// `maxSurge`, defaulted to 25%.
    pub fn max_surge(&self) -> IntOrString {
        self.rolling_update
            .as_ref()
            .and_then(|r| r.max_surge.clone())
            .unwrap_or_else(|| IntOrString::String("25%".into()))
    }

    /// `maxUnavailable`, defaulted to 25%.
    pub fn max_unavailable(&self) -> IntOrString {
        self.rolling_update
            .as_ref()
            .and_then(|r| r.max_unavailable.clone())
            .unwrap_or_else(|| IntOrString::String("25%".into()))
    }
}

/// `spec.strategy.rollingUpdate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RollingUpdateDeployment {
    /// Pods above the desired count allowed during a rollout.
    pub max_surge: Option<IntOrString>,
    /// Pods below the desired count allowed during a rollout.
    pub max_unavailable: Option<IntOrString>,
}

/// A Deployment's `status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentStatus {
    /// The generation the status describes.
    pub observed_generation: i64,
    /// Pods of all its ReplicaSets.
    pub replicas: i32,
    /// Pods of the newest ReplicaSet.
    pub updated_replicas: i32,
    /// Ready pods.
    pub ready_replicas: i32,
    /// Available pods.
    pub available_replicas: i32,
    /// Unavailable pods.
    pub unavailable_replicas: i32,
}
