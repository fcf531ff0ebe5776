//! The `pods/eviction` subresource (upstream `pkg/registry/core/pod/storage/eviction.go`):
//! whether a pod may go, judged by its PodDisruptionBudget, and what the budget's status
//! becomes when the eviction spends a disruption.
//!
//! The rules, in upstream's order:
//!
//! * a pod that is Pending, Succeeded or Failed, or already terminating, goes without a look at
//!   any budget (it is no disruption, or one already made);
//! * more than one budget covering the pod is a 500: the subresource does not support it;
//! * no budget: the pod goes;
//! * a pod that is not Ready goes without spending the budget if the budget's policy is
//!   `AlwaysAllow`, or (`IfHealthyBudget`, the default) while the application is healthy
//!   (`currentHealthy ≥ desiredHealthy > 0`);
//! * otherwise the budget must have been worked out for its current spec (else 429), allow a
//!   disruption (0: 429 "Cannot evict pod as it would violate the pod's disruption budget.";
//!   negative or more than 2000 pods awaiting confirmation: 403), and then is spent: one
//!   disruption less, the pod recorded in `disruptedPods` with the time, so the controller
//!   does not count it as healthy until it sees it terminating.
//!
//! The hub then marks the pod `DisruptionTarget` (reason `EvictionByEvictionAPI`) and deletes it
//! gracefully, all within the one request. Upstream retries conflicts of the budget's status
//! write; here the request runs atomically against the store, so none can happen.

use crate::api::pdb::{PodDisruptionBudget, UnhealthyPodEvictionPolicy};
use crate::api::pod::{DISRUPTION_TARGET, Pod, PodCondition, PodPhase};
use crate::api::{Kind, Object, ObjectKey};
use crate::sim::SimTime;

use super::request::ApiError;
use super::store::Store;

/// The most pods a budget may be waiting to see go (`MaxDisruptedPodSize`).
pub const MAX_DISRUPTED_POD_SIZE: usize = 2000;
/// The message of a refused eviction.
pub const MSG_VIOLATES_BUDGET: &str =
    "Cannot evict pod as it would violate the pod's disruption budget.";
/// The condition reason the eviction puts on the pod.
pub const REASON_EVICTION_BY_EVICTION_API: &str = "EvictionByEvictionAPI";

/// What an eviction does, once allowed.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Delete the pod; no budget is spent.
    Delete,
    /// Write the budget's status as given (one disruption spent), then delete the pod.
    Spend(Box<PodDisruptionBudget>),
}

/// Judges the eviction of `pod` at `now` against the budgets in `store`.
pub fn decide(store: &Store, pod: &Pod, now: SimTime) -> Result<Decision, ApiError> {
    if can_ignore_budget(pod) {
        return Ok(Decision::Delete);
    }
    let namespace = pod.metadata.namespace.as_str();
    let budgets: Vec<&PodDisruptionBudget> = store
        .iter_namespace(Kind::PodDisruptionBudget, namespace)
        .filter_map(|o| o.as_pdb())
        .filter(|pdb| pdb.covers(namespace, &pod.metadata.labels))
        .collect();
    let pdb = match budgets.as_slice() {
        [] => return Ok(Decision::Delete),
        [one] => *one,
        _ => {
            return Err(ApiError::Internal {
                message: "This pod has more than one PodDisruptionBudget, which the eviction \
                          subresource does not support."
                    .into(),
            });
        }
    };
    if pod.status.ready_since().is_none() {
        match pdb.spec.unhealthy_policy() {
            UnhealthyPodEvictionPolicy::AlwaysAllow => return Ok(Decision::Delete),
            UnhealthyPodEvictionPolicy::IfHealthyBudget
                if pdb.status.current_healthy >= pdb.status.desired_healthy
                    && pdb.status.desired_healthy > 0 =>
            {
                return Ok(Decision::Delete);
            }
            // An unhealthy pod of a disrupted application spends the budget like any other.
            UnhealthyPodEvictionPolicy::IfHealthyBudget => {}
        }
    }
    check_and_decrement(pdb, &pod.metadata.name, now).map(Decision::Spend)
}

/// Whether the pod can go without a look at its budgets (`canIgnorePDB`).
fn can_ignore_budget(pod: &Pod) -> bool {
    matches!(
        pod.status.phase,
        PodPhase::Pending | PodPhase::Succeeded | PodPhase::Failed
    ) || pod.metadata.is_terminating()
}

/// Upstream `checkAndDecrement`: the budget with one disruption spent on `pod`, or why not.
fn check_and_decrement(
    pdb: &PodDisruptionBudget,
    pod: &str,
    now: SimTime,
) -> Result<Box<PodDisruptionBudget>, ApiError> {
    let name = &pdb.metadata.name;
    if pdb.status.observed_generation < pdb.metadata.generation {
        return Err(ApiError::TooManyRequests {
            message: MSG_VIOLATES_BUDGET.into(),
            cause: format!("The disruption budget {name} is still being processed by the server."),
            retry_after_seconds: 10,
        });
    }
    if pdb.status.disruptions_allowed < 0 {
        return Err(ApiError::Forbidden {
            message: format!(
                "poddisruptionbudgets.policy {name:?}: pdb disruptions allowed is negative"
            ),
        });
    }
    if pdb.status.disrupted_pods.len() > MAX_DISRUPTED_POD_SIZE {
        return Err(ApiError::Forbidden {
            message: format!(
                "poddisruptionbudgets.policy {name:?}: DisruptedPods map too big - too many \
                 evictions not confirmed by PDB controller"
            ),
        });
    }
    if pdb.status.disruptions_allowed == 0 {
        return Err(ApiError::TooManyRequests {
            message: MSG_VIOLATES_BUDGET.into(),
            cause: format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                pdb.status.desired_healthy, pdb.status.current_healthy
            ),
            retry_after_seconds: 0,
        });
    }
    let mut spent = Box::new(pdb.clone());
    spent.status.disruptions_allowed -= 1;
    if spent.status.disruptions_allowed == 0 {
        spent.update_disruption_allowed_condition(now);
    }
    spent.status.disrupted_pods.insert(pod.to_string(), now);
    Ok(spent)
}

/// The `DisruptionTarget` condition an eviction puts on the pod before deleting it.
pub fn disruption_target(now: SimTime) -> PodCondition {
    PodCondition {
        type_: DISRUPTION_TARGET.into(),
        status: "True".into(),
        reason: REASON_EVICTION_BY_EVICTION_API.into(),
        message: "Eviction API: evicting".into(),
        last_transition_time: now,
    }
}

/// The key of a budget, for its status write.
pub fn budget_key(pdb: &PodDisruptionBudget) -> ObjectKey {
    ObjectKey::new(pdb.metadata.namespace.clone(), pdb.metadata.name.clone())
}

/// `budget`'s spent status put onto the stored budget `object`.
pub fn put_spent_status(object: &mut Object, budget: &PodDisruptionBudget) {
    if let Object::PodDisruptionBudget(stored) = object {
        stored.status = budget.status.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::labels::LabelSelector;
    use crate::api::meta::IntOrString;
    use crate::api::pod::{POD_READY, PodCondition};
    use crate::sim::SimDuration;

    fn at(seconds: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(seconds)
    }

    fn pod(name: &str, phase: PodPhase, ready: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.metadata.namespace = "default".into();
        p.metadata.labels.insert("app".into(), "web".into());
        p.status.phase = phase;
        if ready {
            p.status.conditions.push(PodCondition {
                type_: POD_READY.into(),
                status: "True".into(),
                ..PodCondition::default()
            });
        }
        p
    }

    /// A budget over `app: web` whose controller has reported `current` healthy of `desired`
    /// with `allowed` disruptions, for the spec it has.
    fn budget(name: &str, desired: i32, current: i32, allowed: i32) -> PodDisruptionBudget {
        let mut b = PodDisruptionBudget::default();
        b.metadata.name = name.into();
        b.metadata.namespace = "default".into();
        let web = [("app".to_string(), "web".to_string())]
            .into_iter()
            .collect();
        b.spec.selector = Some(LabelSelector::from_match_labels(web));
        b.spec.min_available = Some(IntOrString::Int(i64::from(desired)));
        b.status.desired_healthy = desired;
        b.status.current_healthy = current;
        b.status.disruptions_allowed = allowed;
        // The store sets generation 1 at creation; the controller has observed it.
        b.status.observed_generation = 1;
        b
    }

    fn store_with(budgets: Vec<PodDisruptionBudget>) -> Store {
        let mut store = Store::new(100);
        for b in budgets {
            let created = store.create(Object::PodDisruptionBudget(Box::new(b)));
            assert!(created.is_ok());
        }
        store
    }

    #[test]
    fn a_spent_budget_refuses_with_429_and_its_cause() {
        // desired 2, current 2: 2 − 2 = 0 allowed.
        let store = store_with(vec![budget("web-pdb", 2, 2, 0)]);
        let refused = decide(&store, &pod("web-0", PodPhase::Running, true), at(60));
        assert_eq!(
            refused,
            Err(ApiError::TooManyRequests {
                message: MSG_VIOLATES_BUDGET.into(),
                cause: "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"
                    .into(),
                retry_after_seconds: 0,
            })
        );
        assert_eq!(refused.map_err(|e| e.code()), Err(429));
    }

    #[test]
    fn an_allowed_eviction_spends_one_disruption_and_records_the_pod() {
        // desired 2, current 3: one allowed; spending it leaves 0, so the condition turns
        // False / InsufficientPods.
        let store = store_with(vec![budget("web-pdb", 2, 3, 1)]);
        let decision = decide(&store, &pod("web-0", PodPhase::Running, true), at(60));
        let Ok(Decision::Spend(spent)) = decision else {
            panic!("expected a spend, got {decision:?}");
        };
        assert_eq!(spent.status.disruptions_allowed, 0);
        assert_eq!(
            spent.status.disrupted_pods.get("web-0").copied(),
            Some(at(60))
        );
        let condition = spent
            .condition(crate::api::pdb::DISRUPTION_ALLOWED)
            .cloned();
        assert_eq!(
            condition.map(|c| (c.status, c.reason)),
            Some(("False".into(), "InsufficientPods".into()))
        );
    }

    #[test]
    fn pods_that_disrupt_nothing_go_without_a_look_at_the_budget() {
        let store = store_with(vec![budget("web-pdb", 2, 2, 0)]);
        for phase in [PodPhase::Pending, PodPhase::Succeeded, PodPhase::Failed] {
            let p = pod("web-0", phase, false);
            assert_eq!(decide(&store, &p, at(1)), Ok(Decision::Delete), "{phase:?}");
        }
        let mut terminating = pod("web-0", PodPhase::Running, true);
        terminating.metadata.deletion_timestamp = Some(at(30));
        assert_eq!(decide(&store, &terminating, at(1)), Ok(Decision::Delete));
        // A pod no budget covers.
        let mut other = pod("db-0", PodPhase::Running, true);
        other.metadata.labels.insert("app".into(), "db".into());
        assert_eq!(decide(&store, &other, at(1)), Ok(Decision::Delete));
    }

    #[test]
    fn unhealthy_pods_follow_the_unhealthy_pod_eviction_policy() {
        let unready = pod("web-0", PodPhase::Running, false);
        // IfHealthyBudget: current 2 ≥ desired 2 > 0, the application is whole: the unready
        // pod goes without spending.
        let whole = store_with(vec![budget("web-pdb", 2, 2, 0)]);
        assert_eq!(decide(&whole, &unready, at(1)), Ok(Decision::Delete));
        // current 1 < desired 2: the budget decides, and it has nothing left.
        let short = store_with(vec![budget("web-pdb", 2, 1, 0)]);
        let refused = decide(&short, &unready, at(1)).map_err(|e| e.code());
        assert_eq!(refused, Err(429));
        // AlwaysAllow: the unready pod goes all the same.
        let mut always = budget("web-pdb", 2, 1, 0);
        always.spec.unhealthy_pod_eviction_policy = Some("AlwaysAllow".into());
        let always = store_with(vec![always]);
        assert_eq!(decide(&always, &unready, at(1)), Ok(Decision::Delete));
        // A Ready pod under AlwaysAllow is still guarded.
        let ready = pod("web-0", PodPhase::Running, true);
        assert_eq!(
            decide(&always, &ready, at(1)).map_err(|e| e.code()),
            Err(429)
        );
    }

    #[test]
    fn two_budgets_are_a_500_and_a_stale_budget_a_429() {
        let two = store_with(vec![budget("a", 1, 3, 2), budget("b", 1, 3, 2)]);
        let p = pod("web-0", PodPhase::Running, true);
        assert_eq!(decide(&two, &p, at(1)).map_err(|e| e.code()), Err(500));
        // A spec the controller has not observed yet (generation 1, observed 0).
        let mut stale = budget("web-pdb", 1, 3, 2);
        stale.status.observed_generation = 0;
        let stale = store_with(vec![stale]);
        let refused = decide(&stale, &p, at(1));
        assert!(
            matches!(&refused, Err(ApiError::TooManyRequests { cause, .. })
                if cause.ends_with("is still being processed by the server.")),
            "{refused:?}"
        );
        // A negative budget is refused for good.
        let negative = store_with(vec![budget("web-pdb", 1, 3, -1)]);
        assert_eq!(decide(&negative, &p, at(1)).map_err(|e| e.code()), Err(403));
    }
}
