//! Whether a rollout makes progress (upstream `progress.go`): after each rollout step the
//! `Progressing` condition says the rollout completed (`NewReplicaSetAvailable`), moved
//! (`ReplicaSetUpdated`, its last update time renewed) or ran out of time
//! (`ProgressDeadlineExceeded`: `progressDeadlineSeconds` since the last news, reported only,
//! nothing is rolled back). A rollout that neither moved nor finished is looked at again when
//! its deadline would pass, so the timeout is reported on time without any other event.

use super::replay::{Effect, Step};
use super::requests::SyncContext;
use super::sync::calculate_status;
use super::util::{
    self, NEW_RS_AVAILABLE_REASON, deadline, deployment_complete, deployment_progressing,
    deployment_timed_out, new_condition, remove_condition, set_condition,
};
use crate::api::deployment::{
    DEPLOYMENT_PROGRESSING, DEPLOYMENT_REPLICA_FAILURE, Deployment, DeploymentCondition,
    DeploymentStatus,
};
use crate::api::replicaset::ReplicaSet;
use crate::sim::{SimDuration, SimTime};

/// Writes the status with the `Progressing` condition brought up to date, or, if nothing
/// changed, arranges the next look at a rollout that may time out (upstream
/// `syncRolloutStatus`).
pub fn sync_rollout_status(
    cx: &mut SyncContext<'_>,
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &mut Deployment,
) -> Step<()> {
    let now = cx.calls.now();
    let mut status = calculate_status(all, new_rs, d, now);
    if !d.spec.has_progress_deadline() {
        remove_condition(&mut status, DEPLOYMENT_PROGRESSING);
    }
    let current = d.status.condition(DEPLOYMENT_PROGRESSING).cloned();
    let complete_before = status.replicas == status.updated_replicas
        && current
            .as_ref()
            .is_some_and(|c| c.reason == NEW_RS_AVAILABLE_REASON);
    if d.spec.has_progress_deadline() && !complete_before {
        update_progressing(d, &mut status, new_rs, current.as_ref(), now);
    }
    match replica_failure(all, new_rs) {
        Some(failure) => set_condition(&mut status, failure),
        None => remove_condition(&mut status, DEPLOYMENT_REPLICA_FAILURE),
    }
    if d.status == status {
        if let Some(effect) = requeue_stuck_deployment(d, &status, now) {
            cx.calls.effect(effect);
        }
        return Ok(());
    }
    d.status = status;
    cx.update_status(d)
}

/// A ReplicaSet's `ReplicaFailure` (pods it could not create or delete) promoted to the
/// Deployment, the new ReplicaSet's first (upstream `getReplicaFailures`, of which the
/// controller sets the first).
fn replica_failure(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
) -> Option<DeploymentCondition> {
    let failure = |rs: &ReplicaSet| {
        rs.status
            .conditions
            .iter()
            .find(|c| c.type_ == DEPLOYMENT_REPLICA_FAILURE)
            .map(|c| DeploymentCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                last_update_time: c.last_transition_time,
                last_transition_time: c.last_transition_time,
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
    };
    new_rs
        .and_then(failure)
        .or_else(|| all.iter().find_map(|rs| failure(rs)))
}

/// The `Progressing` condition for the new status: complete, progressing (same transition
/// time if it was true already, a new update time), or timed out.
fn update_progressing(
    d: &Deployment,
    status: &mut DeploymentStatus,
    new_rs: Option<&ReplicaSet>,
    current: Option<&DeploymentCondition>,
    now: SimTime,
) {
    let subject = match new_rs {
        Some(rs) => format!("ReplicaSet {:?}", rs.metadata.name),
        None => format!("Deployment {:?}", d.metadata.name),
    };
    if deployment_complete(d, status) {
        let message = format!("{subject} has successfully progressed.");
        let condition = new_condition(
            DEPLOYMENT_PROGRESSING,
            "True",
            NEW_RS_AVAILABLE_REASON,
            message,
            now,
        );
        set_condition(status, condition);
    } else if deployment_progressing(d, status) {
        let message = format!("{subject} is progressing.");
        let mut condition = new_condition(
            DEPLOYMENT_PROGRESSING,
            "True",
            util::REPLICA_SET_UPDATED_REASON,
            message,
            now,
        );
        // Same reason, new update time: set_condition would keep the old one, so the
        // condition is replaced here, keeping the transition time of a true condition.
        if let Some(current) = current {
            if current.status == "True" {
                condition.last_transition_time = current.last_transition_time;
            }
            remove_condition(status, DEPLOYMENT_PROGRESSING);
        }
        set_condition(status, condition);
    } else if deployment_timed_out(d, status, now) {
        let message = format!("{subject} has timed out progressing.");
        let condition = new_condition(
            DEPLOYMENT_PROGRESSING,
            "False",
            util::TIMED_OUT_REASON,
            message,
            now,
        );
        set_condition(status, condition);
    }
}

/// When to look again at a rollout that made no progress (upstream `requeueStuckDeployment`):
/// when its deadline passes, counted from the `Progressing` condition's last update, plus a
/// second against clock skew; at once (rate-limited) if that is less than a second away.
/// Nothing for a complete or timed-out rollout, or without a deadline.
pub fn requeue_stuck_deployment(
    d: &Deployment,
    status: &DeploymentStatus,
    now: SimTime,
) -> Option<Effect> {
    let current = d.status.condition(DEPLOYMENT_PROGRESSING)?;
    if !d.spec.has_progress_deadline()
        || deployment_complete(d, status)
        || current.reason == util::TIMED_OUT_REASON
    {
        return None;
    }
    let due = current.last_update_time + deadline(d);
    let second = SimDuration::from_secs(1);
    match due.as_nanos().checked_sub(now.as_nanos()) {
        Some(after) if after >= second.as_nanos() => Some(Effect::EnqueueAfter(
            SimDuration::from_nanos(after) + second,
        )),
        _ => Some(Effect::EnqueueRateLimited),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::deployment::DeploymentCondition;

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    fn stuck(updated_at: u64, reason: &str) -> Deployment {
        let mut d = Deployment::default();
        d.spec.replicas = Some(3);
        d.spec.progress_deadline_seconds = Some(600);
        d.status.conditions.push(DeploymentCondition {
            type_: DEPLOYMENT_PROGRESSING.into(),
            status: "True".into(),
            reason: reason.into(),
            last_update_time: at(updated_at),
            last_transition_time: at(updated_at),
            message: String::new(),
        });
        d
    }

    #[test]
    fn a_stuck_rollout_is_looked_at_again_when_its_deadline_passes() {
        // Upstream's example: last update 00:00, deadline 10 min, now 00:03: due in 7 min, and
        // one more second against skew: 421 s.
        let d = stuck(0, util::REPLICA_SET_UPDATED_REASON);
        let status = DeploymentStatus::default();
        assert_eq!(
            requeue_stuck_deployment(&d, &status, at(180)),
            Some(Effect::EnqueueAfter(SimDuration::from_secs(421)))
        );
        // Less than a second left (599.5 s after the update): now, rate-limited.
        let half = at(599) + SimDuration::from_millis(500);
        assert_eq!(
            requeue_stuck_deployment(&d, &status, half),
            Some(Effect::EnqueueRateLimited)
        );
        // Past the deadline: likewise now.
        assert_eq!(
            requeue_stuck_deployment(&d, &status, at(700)),
            Some(Effect::EnqueueRateLimited)
        );
        // Timed out already, or no deadline: nothing.
        let timed_out = stuck(0, util::TIMED_OUT_REASON);
        assert_eq!(requeue_stuck_deployment(&timed_out, &status, at(180)), None);
        let mut unbounded = stuck(0, util::REPLICA_SET_UPDATED_REASON);
        unbounded.spec.progress_deadline_seconds = Some(i32::MAX);
        assert_eq!(requeue_stuck_deployment(&unbounded, &status, at(180)), None);
        // Complete (3 updated, 3 in all, 3 available, generation observed): nothing.
        let done = DeploymentStatus {
            replicas: 3,
            updated_replicas: 3,
            available_replicas: 3,
            ..DeploymentStatus::default()
        };
        assert_eq!(requeue_stuck_deployment(&d, &done, at(180)), None);
    }
}
