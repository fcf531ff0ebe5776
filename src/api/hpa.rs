//! HorizontalPodAutoscaler (autoscaling/v2): target, bounds, metrics and scaling behavior.

use serde::{Deserialize, Serialize};

use super::labels::LabelSelector;
use super::meta::ObjectMeta;
use super::quantity::Quantity;
use crate::sim::SimTime;

/// A HorizontalPodAutoscaler.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HorizontalPodAutoscaler {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Desired behaviour.
    pub spec: HpaSpec,
    /// Observed state.
    pub status: HpaStatus,
}

/// An HPA's `spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaSpec {
    /// The workload to scale.
    pub scale_target_ref: CrossVersionObjectReference,
    /// Lower bound (default 1).
    pub min_replicas: Option<i32>,
    /// Upper bound.
    pub max_replicas: i32,
    /// Metrics; empty means CPU at 80% average utilization (the API default).
    pub metrics: Vec<MetricSpec>,
    /// Scaling policies and stabilization windows.
    pub behavior: Option<HpaBehavior>,
}

/// `scaleTargetRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CrossVersionObjectReference {
    /// API version of the target.
    pub api_version: String,
    /// Kind of the target.
    pub kind: String,
    /// Name of the target, in the HPA's namespace.
    pub name: String,
}

/// One metric of an HPA.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricSpec {
    /// `Resource`, `ContainerResource`, `Pods`, `Object` or `External`.
    #[serde(rename = "type")]
    pub type_: String,
    /// A resource metric of the pods (cpu, memory).
    pub resource: Option<ResourceMetricSource>,
    /// A resource metric of one container of the pods.
    pub container_resource: Option<ContainerResourceMetricSource>,
    /// A custom metric averaged over the pods.
    pub pods: Option<NamedMetricSource>,
    /// A metric of another object.
    pub object: Option<NamedMetricSource>,
    /// A metric from outside the cluster.
    pub external: Option<NamedMetricSource>,
}

/// `resource` metric source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceMetricSource {
    /// Resource name (`cpu`, `memory`).
    pub name: String,
    /// Target.
    pub target: MetricTarget,
}

/// `containerResource` metric source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerResourceMetricSource {
    /// Resource name.
    pub name: String,
    /// Container name.
    pub container: String,
    /// Target.
    pub target: MetricTarget,
}

/// `pods`, `object` and `external` metric sources (the parts kubesim uses).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NamedMetricSource {
    /// The object an Object metric describes (unused by the other sources).
    pub described_object: CrossVersionObjectReference,
    /// The metric.
    pub metric: MetricIdentifier,
    /// Target.
    pub target: MetricTarget,
}

/// A metric's name, and the labels that narrow it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricIdentifier {
    /// Metric name.
    pub name: String,
    /// The metric's labels to select by (the adapter adds them to its query); None: every
    /// series of the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// A metric's target value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricTarget {
    /// `Utilization`, `AverageValue` or `Value`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Percent of the request.
    pub average_utilization: Option<i32>,
    /// Average per pod.
    pub average_value: Option<Quantity>,
    /// Total value.
    pub value: Option<Quantity>,
}

/// `spec.behavior`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaBehavior {
    /// Rules for scaling up.
    pub scale_up: Option<HpaScalingRules>,
    /// Rules for scaling down.
    pub scale_down: Option<HpaScalingRules>,
}

/// Scaling rules of one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaScalingRules {
    /// Stabilization window in seconds.
    pub stabilization_window_seconds: Option<i32>,
    /// `Max` (default), `Min` or `Disabled`.
    pub select_policy: Option<String>,
    /// Rate limits.
    pub policies: Vec<HpaScalingPolicy>,
    /// Per-HPA tolerance (a quantity such as `0.05`).
    pub tolerance: Option<Quantity>,
}

/// One scaling rate limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaScalingPolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The amount.
    pub value: i32,
    /// The window the amount applies to, in seconds.
    pub period_seconds: i32,
}

/// An HPA's `status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaStatus {
    /// The generation the status describes.
    pub observed_generation: Option<i64>,
    /// Replicas seen at the last sync.
    pub current_replicas: i32,
    /// Replicas wanted at the last sync.
    pub desired_replicas: i32,
    /// When the controller last changed the target's scale.
    #[serde(skip)]
    pub last_scale_time: Option<SimTime>,
    /// Each metric's value at the last sync, in the order of `spec.metrics`.
    pub current_metrics: Vec<MetricStatus>,
    /// AbleToScale, ScalingActive, ScalingLimited.
    pub conditions: Vec<HpaCondition>,
}

/// One metric's current value (`status.currentMetrics[]`), flattened: the source's type and
/// name, and the values its target type reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricStatus {
    /// `Resource`, `ContainerResource`, `Pods`, `Object` or `External`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The resource or metric name.
    pub name: String,
    /// Percent of the request (Utilization targets).
    pub average_utilization: Option<i32>,
    /// Average per pod, in milli-units.
    pub average_value_milli: Option<i64>,
    /// Total, in milli-units (Value targets).
    pub value_milli: Option<i64>,
}

/// An HPA condition (`AbleToScale`, `ScalingActive`, `ScalingLimited`).
pub type HpaCondition = super::meta::Condition;
