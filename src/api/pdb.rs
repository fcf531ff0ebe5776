//! PodDisruptionBudget (`policy/v1`): how many of the pods a selector picks must stay healthy
//! (or may be unavailable) while they are disrupted on purpose — evicted by a drain, preempted
//! by the scheduler — and the status the disruption controller keeps and the eviction
//! subresource spends.
//!
//! Besides the kind, the pure functions Kubernetes defines on it: which pods a budget covers,
//! and the `DisruptionAllowed` condition as `k8s.io/component-helpers/apps/poddisruptionbudget`
//! sets and checks it. The disruption controller (`controllers::disruption`), the apiserver's
//! eviction subresource and kube-scheduler's preemption all read them from here.
//!
//! Fields kubesim does not model (a condition's `lastTransitionTime` as text, the status of a
//! dump, which the apiserver resets at creation as upstream's strategy does) are ignored with a
//! note when a manifest carries them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::labels::{LabelSelector, Labels};
use super::meta::{IntOrString, ObjectMeta};
use crate::sim::SimTime;

/// The condition type the disruption controller and the eviction subresource keep.
pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
/// The condition's reason when disruptions are allowed.
pub const REASON_SUFFICIENT_PODS: &str = "SufficientPods";
/// The condition's reason when none is.
pub const REASON_INSUFFICIENT_PODS: &str = "InsufficientPods";
/// The condition's reason when the controller could not work the status out.
pub const REASON_SYNC_FAILED: &str = "SyncFailed";

/// `spec.unhealthyPodEvictionPolicy`: when a pod that is running but not Ready may be evicted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnhealthyPodEvictionPolicy {
    /// Only while the application is not disrupted (currentHealthy ≥ desiredHealthy): the
    /// default.
    #[default]
    IfHealthyBudget,
    /// Always, without spending the budget.
    AlwaysAllow,
}

impl UnhealthyPodEvictionPolicy {
    /// The policies, as the API spells them, in upstream's order of its error message.
    pub const NAMES: [&'static str; 2] = ["AlwaysAllow", "IfHealthyBudget"];

    /// The policy called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "IfHealthyBudget" => Some(UnhealthyPodEvictionPolicy::IfHealthyBudget),
            "AlwaysAllow" => Some(UnhealthyPodEvictionPolicy::AlwaysAllow),
            _ => None,
        }
    }
}

/// A PodDisruptionBudget.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodDisruptionBudget {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// What the budget protects, and how much.
    pub spec: PdbSpec,
    /// What the disruption controller last worked out, and what evictions spent since.
    pub status: PdbStatus,
}

/// A PodDisruptionBudget's `spec`. At most one of `minAvailable` and `maxUnavailable`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PdbSpec {
    /// Pods that must stay healthy: a number, or a percentage of the expected pods.
    pub min_available: Option<IntOrString>,
    /// The pods covered. Absent covers none; empty covers every pod of the namespace.
    pub selector: Option<LabelSelector>,
    /// Pods that may be unavailable: a number, or a percentage of the expected pods.
    pub max_unavailable: Option<IntOrString>,
    /// `IfHealthyBudget` (the default when absent) or `AlwaysAllow`.
    pub unhealthy_pod_eviction_policy: Option<String>,
}

impl PdbSpec {
    /// The unhealthy pod eviction policy, the default when absent (an unknown name does not
    /// pass validation).
    pub fn unhealthy_policy(&self) -> UnhealthyPodEvictionPolicy {
        self.unhealthy_pod_eviction_policy
            .as_deref()
            .and_then(UnhealthyPodEvictionPolicy::from_name)
            .unwrap_or_default()
    }
}

/// A PodDisruptionBudget's `status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PdbStatus {
    /// The generation of the spec the controller last worked from.
    pub observed_generation: i64,
    /// Pods the eviction subresource let go and the controller has not yet seen terminating,
    /// by name, with the time of their eviction.
    #[serde(skip)]
    pub disrupted_pods: BTreeMap<String, SimTime>,
    /// How many more pods may be disrupted now.
    pub disruptions_allowed: i32,
    /// Covered pods that are Ready and not on their way out.
    pub current_healthy: i32,
    /// How many must stay so.
    pub desired_healthy: i32,
    /// The pods the budget expects (the scale of their controllers, or the pods themselves).
    pub expected_pods: i32,
    /// `DisruptionAllowed`.
    pub conditions: Vec<PdbCondition>,
}

/// A `metav1.Condition` of a budget.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PdbCondition {
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` or `False`.
    pub status: String,
    /// One word.
    pub reason: String,
    /// For humans.
    pub message: String,
    /// The generation the condition was set from.
    pub observed_generation: i64,
    /// Virtual time of the last status change.
    #[serde(skip)]
    pub last_transition_time: SimTime,
}

impl PodDisruptionBudget {
    /// Whether the budget covers a pod with `labels` in `namespace`, as the disruption
    /// controller lists a budget's pods and the eviction subresource finds a pod's budgets
    /// (`LabelSelectorAsSelector`): an absent or invalid selector covers nothing, an empty one
    /// every pod of the namespace.
    pub fn covers(&self, namespace: &str, labels: &Labels) -> bool {
        self.metadata.namespace == namespace
            && self
                .spec
                .selector
                .as_ref()
                .is_some_and(|s| s.validate().is_ok() && s.matches(labels))
    }

    /// Whether the budget is one of a pod's budgets as the lister's
    /// `GetPodPodDisruptionBudgets` and the scheduler's preemption find them: as
    /// [`covers`](Self::covers), except that an empty selector covers nothing there.
    pub fn lists_for(&self, namespace: &str, labels: &Labels) -> bool {
        self.spec.selector.as_ref().is_some_and(|s| !s.is_empty()) && self.covers(namespace, labels)
    }

    /// Sets `DisruptionAllowed` from `disruptionsAllowed` (`UpdateDisruptionAllowedCondition`):
    /// True with `SufficientPods` if any is allowed, else False with `InsufficientPods`.
    pub fn update_disruption_allowed_condition(&mut self, now: SimTime) {
        let (status, reason) = if self.status.disruptions_allowed > 0 {
            ("True", REASON_SUFFICIENT_PODS)
        } else {
            ("False", REASON_INSUFFICIENT_PODS)
        };
        let generation = self.status.observed_generation;
        self.set_condition(status, reason, String::new(), generation, now);
    }

    /// Whether `DisruptionAllowed` says what the status does, for the generation observed
    /// (`ConditionsAreUpToDate`).
    pub fn conditions_are_up_to_date(&self) -> bool {
        let Some(condition) = self.condition(DISRUPTION_ALLOWED) else {
            return false;
        };
        if self.status.observed_generation != self.metadata.generation {
            return false;
        }
        if self.status.disruptions_allowed > 0 {
            condition.status == "True" && condition.reason == REASON_SUFFICIENT_PODS
        } else {
            condition.status == "False" && condition.reason == REASON_INSUFFICIENT_PODS
        }
    }

    /// The condition of type `type_`, if set.
    pub fn condition(&self, type_: &str) -> Option<&PdbCondition> {
        self.status.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Sets `DisruptionAllowed` as `meta.SetStatusCondition` does: the transition time moves
    /// only when the status does.
    pub fn set_condition(
        &mut self,
        status: &str,
        reason: &str,
        message: String,
        observed_generation: i64,
        now: SimTime,
    ) {
        let conditions = &mut self.status.conditions;
        let existing = conditions
            .iter_mut()
            .find(|c| c.type_ == DISRUPTION_ALLOWED);
        match existing {
            Some(c) => {
                if c.status != status {
                    c.status = status.to_string();
                    c.last_transition_time = now;
                }
                c.reason = reason.to_string();
                c.message = message;
                c.observed_generation = observed_generation;
            }
            None => conditions.push(PdbCondition {
                type_: DISRUPTION_ALLOWED.to_string(),
                status: status.to_string(),
                reason: reason.to_string(),
                message,
                observed_generation,
                last_transition_time: now,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn at(seconds: u64) -> SimTime {
        SimTime::ZERO + crate::sim::SimDuration::from_secs(seconds)
    }

    fn budget(selector: Option<LabelSelector>) -> PodDisruptionBudget {
        let mut pdb = PodDisruptionBudget::default();
        pdb.metadata.namespace = "default".into();
        pdb.spec.selector = selector;
        pdb
    }

    #[test]
    fn selectors_cover_as_upstream_reads_them() {
        let web = labels(&[("app", "web")]);
        let by_app = budget(Some(LabelSelector::from_match_labels(web.clone())));
        assert!(by_app.covers("default", &web));
        assert!(!by_app.covers("other", &web));
        assert!(!by_app.covers("default", &labels(&[("app", "db")])));
        // Absent: nothing, anywhere.
        assert!(!budget(None).covers("default", &web));
        // Empty: every pod of the namespace to the controller and the eviction subresource,
        // none to the lister and preemption.
        let everything = budget(Some(LabelSelector::default()));
        assert!(everything.covers("default", &web));
        assert!(!everything.lists_for("default", &web));
        assert!(by_app.lists_for("default", &web));
    }

    #[test]
    fn the_condition_follows_disruptions_allowed() {
        let mut pdb = budget(None);
        pdb.metadata.generation = 2;
        pdb.status.observed_generation = 2;
        assert!(!pdb.conditions_are_up_to_date());
        pdb.status.disruptions_allowed = 1;
        pdb.update_disruption_allowed_condition(at(5));
        assert!(pdb.conditions_are_up_to_date());
        let c = pdb
            .condition(DISRUPTION_ALLOWED)
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "SufficientPods")
        );
        // A spent budget: False, InsufficientPods, and a new transition time.
        pdb.status.disruptions_allowed = 0;
        assert!(!pdb.conditions_are_up_to_date());
        pdb.update_disruption_allowed_condition(at(9));
        let c = pdb
            .condition(DISRUPTION_ALLOWED)
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "InsufficientPods")
        );
        assert_eq!(c.last_transition_time, at(9));
        // The same status again keeps the time.
        pdb.update_disruption_allowed_condition(at(20));
        let c = pdb
            .condition(DISRUPTION_ALLOWED)
            .cloned()
            .unwrap_or_default();
        assert_eq!(c.last_transition_time, at(9));
        // A newer spec makes it stale.
        pdb.metadata.generation = 3;
        assert!(!pdb.conditions_are_up_to_date());
    }
}
