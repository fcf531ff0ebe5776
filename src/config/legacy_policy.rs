//! The legacy scheduler `Policy` document as written (`kind: Policy`, `apiVersion: v1`): the
//! predicates and priorities kube-scheduler was configured with before scheduling profiles,
//! accepted until v1.22 and removed in v1.23; the feature gates its translation reads; and the
//! rule by which a `KubeSchedulerConfiguration` may stand beside one.
//!
//! What a Policy becomes — the profile kube-scheduler 1.22 made of it, as a
//! `KubeSchedulerConfiguration` — is the scheduler's ([`crate::scheduler::legacy_policy`]).

use serde::Deserialize;

use super::kube_scheduler::{KubeSchedulerConfiguration, ResourceSpec, UtilizationShapePoint};

/// The `kind` of a Policy document.
pub const KIND: &str = "Policy";

/// A Policy document as written. `predicates` and `priorities` tell absent (or null) from
/// empty: absent means the defaults, empty means none.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Policy {
    /// The predicates (filters).
    pub predicates: Option<Vec<PredicatePolicy>>,
    /// The priorities (scores) and their weights.
    pub priorities: Option<Vec<PriorityPolicy>>,
    /// HTTP extenders (not modelled: noted and ignored).
    pub extenders: Vec<serde_json::Value>,
    /// InterPodAffinity's weight for the required affinity terms of existing pods that select
    /// the incoming pod (0–100; 0 leaves the default, 1).
    pub hard_pod_affinity_symmetric_weight: i32,
    /// Run every predicate on a node even after one failed (not modelled: noted).
    pub always_check_all_predicates: bool,
}

/// One entry of `predicates`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PredicatePolicy {
    /// A built-in predicate's name, or any name for a custom predicate with an argument.
    pub name: String,
    /// What makes a custom predicate.
    pub argument: Option<PredicateArgument>,
}

/// A custom predicate's argument: exactly one member.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PredicateArgument {
    /// Pods of a Service all on nodes with the same values of these labels.
    pub service_affinity: Option<ServiceAffinity>,
    /// Nodes must (or must not) have these labels.
    pub labels_presence: Option<LabelsPresence>,
}

/// `serviceAffinity` of a custom predicate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceAffinity {
    /// Node labels.
    pub labels: Vec<String>,
}

/// `labelsPresence` of a custom predicate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelsPresence {
    /// Node labels.
    pub labels: Vec<String>,
    /// Whether the labels must be present (else absent).
    pub presence: bool,
}

/// One entry of `priorities`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PriorityPolicy {
    /// A built-in priority's name, or any name for a custom priority with an argument.
    pub name: String,
    /// The weight its scores are multiplied by (positive).
    pub weight: i64,
    /// What makes a custom priority.
    pub argument: Option<PriorityArgument>,
}

/// A custom priority's argument: exactly one member.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PriorityArgument {
    /// Spread a Service's pods over the values of a node label.
    pub service_anti_affinity: Option<ServiceAntiAffinity>,
    /// Prefer nodes with (or without) a label.
    pub label_preference: Option<LabelPreference>,
    /// Score by utilization through a piecewise-linear function.
    pub requested_to_capacity_ratio_arguments: Option<RequestedToCapacityRatioArguments>,
}

/// `serviceAntiAffinity` of a custom priority.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceAntiAffinity {
    /// A node label.
    pub label: String,
}

/// `labelPreference` of a custom priority.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelPreference {
    /// A node label.
    pub label: String,
    /// Prefer nodes with the label (else without).
    pub presence: bool,
}

/// `requestedToCapacityRatioArguments` of a custom priority.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestedToCapacityRatioArguments {
    /// (utilization 0–100, score 0–10) points, by increasing utilization.
    pub shape: Vec<UtilizationShapePoint>,
    /// Resources scored and their weights (none: the priority scores nothing).
    pub resources: Vec<ResourceSpec>,
}

/// The kube-scheduler feature gates the translation reads (`--feature-gates`), with 1.22's
/// defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureGates {
    /// `DefaultPodTopologySpread` (beta, on): `SelectorSpreadPriority` runs PodTopologySpread
    /// with the system default constraints rather than SelectorSpread.
    pub default_pod_topology_spread: bool,
    /// `ResourceLimitsPriorityFunction` (alpha, off; removed in v1.19):
    /// `ResourceLimitsPriority` runs NodeResourceLimits.
    pub resource_limits_priority_function: bool,
}

impl Default for FeatureGates {
    fn default() -> Self {
        FeatureGates {
            default_pod_topology_spread: true,
            resource_limits_priority_function: false,
        }
    }
}

impl FeatureGates {
    /// The gates' names.
    pub const NAMES: &'static [&'static str] =
        &["DefaultPodTopologySpread", "ResourceLimitsPriorityFunction"];

    /// Sets gate `name`; an unknown name is an error naming the known ones.
    pub fn set(&mut self, name: &str, on: bool) -> Result<(), String> {
        match name {
            "DefaultPodTopologySpread" => self.default_pod_topology_spread = on,
            "ResourceLimitsPriorityFunction" => self.resource_limits_priority_function = on,
            other => {
                return Err(format!(
                    "unknown feature gate {other:?}; expected one of {} (the gates a legacy \
                     Policy's translation reads)",
                    Self::NAMES.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Something in the Policy kubesim reads but does not act on, with its field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyNote {
    /// Field path.
    pub path: String,
    /// What is ignored and why.
    pub message: String,
}

/// Whether `config` sets profiles a Policy cannot stand beside: more than one, or one with
/// plugins or plugin args (kube-scheduler 1.22's "cannot set a Plugin config and Policy
/// config"; its check let one profile without plugins and pluginConfig through).
pub fn sets_profiles(config: &KubeSchedulerConfiguration) -> bool {
    match config.profiles.as_slice() {
        [] => false,
        [profile] => {
            let p = &profile.plugins;
            let sets = [
                &p.multi_point,
                &p.pre_enqueue,
                &p.queue_sort,
                &p.pre_filter,
                &p.filter,
                &p.post_filter,
                &p.pre_score,
                &p.score,
                &p.reserve,
                &p.permit,
                &p.pre_bind,
                &p.bind,
                &p.post_bind,
            ];
            !profile.plugin_config.is_empty()
                || sets
                    .iter()
                    .any(|s| !s.enabled.is_empty() || !s.disabled.is_empty())
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_a_configuration_without_profile_plugins_may_stand_beside_a_policy() {
        let config = |value: serde_json::Value| -> KubeSchedulerConfiguration {
            match serde_json::from_value(value) {
                Ok(c) => c,
                Err(e) => panic!("{e}"),
            }
        };
        assert!(!sets_profiles(&config(
            json!({"percentageOfNodesToScore": 50})
        )));
        assert!(!sets_profiles(&config(
            json!({"profiles": [{"schedulerName": "default-scheduler"}]})
        )));
        assert!(sets_profiles(&config(
            json!({"profiles": [{"plugins": {"score": {"disabled": [{"name": "*"}]}}}]})
        )));
        assert!(sets_profiles(&config(
            json!({"profiles": [{"pluginConfig": [{"name": "NodeResourcesFit"}]}]})
        )));
        assert!(sets_profiles(&config(
            json!({"profiles": [{}, {"schedulerName": "b"}]})
        )));
    }

    #[test]
    fn unknown_feature_gates_are_named() {
        let mut gates = FeatureGates::default();
        assert_eq!(gates.set("DefaultPodTopologySpread", false), Ok(()));
        assert!(!gates.default_pod_topology_spread);
        let err = gates.set("PodOverhead", true).err().unwrap_or_default();
        assert!(
            err.contains("DefaultPodTopologySpread, ResourceLimitsPriorityFunction"),
            "{err}"
        );
    }
}
