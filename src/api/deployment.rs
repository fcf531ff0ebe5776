//! Deployment (apps/v1): a rolled-out sequence of ReplicaSets.

use serde::{Deserialize, Serialize};

use super::labels::LabelSelector;
use super::meta::{IntOrString, ObjectMeta};
use super::pod::PodTemplateSpec;
use crate::sim::SimTime;

/// The label (and selector key) a Deployment adds to each of its ReplicaSets and their pods, so
/// that the ReplicaSets of two revisions never select each other's pods
/// (`apps.DefaultDeploymentUniqueLabelKey`).
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// A ReplicaSet's revision within its Deployment, and the Deployment's current revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The revisions a ReplicaSet served before it was rolled back to.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's `spec.replicas` when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// `spec.replicas + maxSurge` when the ReplicaSet was last scaled.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// The extensions/v1beta1 rollback request, still honoured by the controller
/// (`apps.DeprecatedRollbackTo`): the revision to roll back to, `0` for the previous one.
pub const DEPRECATED_ROLLBACK_TO_ANNOTATION: &str = "deprecated.deployment.rollback.to";
/// The pod-template annotation `kubectl rollout restart` sets to the time of the restart.
pub const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";
/// The condition type saying whether a rollout makes progress.
pub const DEPLOYMENT_PROGRESSING: &str = "Progressing";
/// The condition type saying whether enough pods are available.
pub const DEPLOYMENT_AVAILABLE: &str = "Available";
/// The condition type a ReplicaSet's failure to create or delete pods is promoted to.
pub const DEPLOYMENT_REPLICA_FAILURE: &str = "ReplicaFailure";

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

    /// Whether the rollout has a deadline (upstream `HasProgressDeadline`): always, once
    /// defaulted, unless it is `MaxInt32`, which means none.
    pub fn has_progress_deadline(&self) -> bool {
        self.progress_deadline_seconds() != i32::MAX
    }

    /// Whether old ReplicaSets beyond a limit are deleted (upstream `HasRevisionHistoryLimit`):
    /// `MaxInt32` keeps every revision.
    pub fn has_revision_history_limit(&self) -> bool {
        self.revision_history_limit() != i32::MAX
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

    /// Whether the strategy is `RollingUpdate` (the default when `type` is omitted).
    pub fn is_rolling_update(&self) -> bool {
        matches!(self.type_.as_deref(), None | Some("RollingUpdate"))
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
    /// The latest observations of the Deployment's state (`Available`, `Progressing`).
    pub conditions: Vec<DeploymentCondition>,
    /// How many hash collisions the controller met naming a new ReplicaSet; mixed into the
    /// next pod-template-hash.
    pub collision_count: Option<i32>,
}

impl DeploymentStatus {
    /// The condition of type `type_`, if present (upstream `GetDeploymentCondition`).
    pub fn condition(&self, type_: &str) -> Option<&DeploymentCondition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// One of a Deployment's `status.conditions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentCondition {
    /// `Available`, `Progressing` or `ReplicaFailure`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Virtual time the condition was last written with news.
    #[serde(skip)]
    pub last_update_time: SimTime,
    /// Virtual time the status last changed.
    #[serde(skip)]
    pub last_transition_time: SimTime,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}
