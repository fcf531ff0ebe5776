//! The rolling update (upstream `rolling.go`): each sync takes at most one step — scale the new
//! ReplicaSet up as far as `replicas + maxSurge` allows, or else scale old ReplicaSets down as
//! far as keeping `replicas − maxUnavailable` available allows — then writes the status. Old
//! ReplicaSets lose their unavailable pods first (oldest ReplicaSet first), then available ones.

use super::progress::sync_rollout_status;
use super::replay::{Flow, Step};
use super::requests::SyncContext;
use super::sync::{
    cleanup_deployment, get_all_replica_sets_and_sync_revision, scale_replica_set_and_record_event,
    with_new,
};
use super::util::{self, deployment_complete, max_unavailable, new_rs_new_replicas};
use crate::api::deployment::Deployment;
use crate::api::replicaset::ReplicaSet;

/// One step of a rolling update (upstream `rolloutRolling`).
pub fn rollout_rolling(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    rs_list: &[ReplicaSet],
) -> Step<()> {
    let (new_rs, old) = get_all_replica_sets_and_sync_revision(cx, d, rs_list, true)?;
    let new_rs = new_rs.ok_or_else(|| Flow::Failed("no new ReplicaSet".into()))?;
    let all = with_new(&old, Some(&new_rs));
    if reconcile_new_replica_set(cx, &all, &new_rs, d)? {
        return sync_rollout_status(cx, &all, Some(&new_rs), d);
    }
    let active_old: Vec<ReplicaSet> = old.iter().filter(|rs| rs.replicas() > 0).cloned().collect();
    if reconcile_old_replica_sets(cx, &all, active_old, &new_rs, d)? {
        return sync_rollout_status(cx, &all, Some(&new_rs), d);
    }
    if deployment_complete(d, &d.status) {
        cleanup_deployment(cx, &old, d)?;
    }
    sync_rollout_status(cx, &all, Some(&new_rs), d)
}

/// Scales the new ReplicaSet towards `replicas` (down at once if above); whether it scaled.
pub fn reconcile_new_replica_set(
    cx: &mut SyncContext<'_>,
    all: &[&ReplicaSet],
    new_rs: &ReplicaSet,
    d: &Deployment,
) -> Step<bool> {
    let desired = d.spec.desired_replicas();
    if new_rs.replicas() == desired {
        return Ok(false);
    }
    let size = if new_rs.replicas() > desired {
        desired
    } else {
        new_rs_new_replicas(d, all, new_rs).map_err(|e| Flow::Failed(e.to_string()))?
    };
    scale_replica_set_and_record_event(cx, new_rs, size, d).map(|(scaled, _)| scaled)
}

/// Scales old ReplicaSets down as far as availability allows; whether any scaled. At most
/// `all pods − minAvailable − the new ReplicaSet's unavailable pods` go, so unavailable new
/// pods never make room for removing available old ones. A failed scale-down is only logged
/// upstream: the sync goes on as if nothing scaled.
pub fn reconcile_old_replica_sets(
    cx: &mut SyncContext<'_>,
    all: &[&ReplicaSet],
    old: Vec<ReplicaSet>,
    new_rs: &ReplicaSet,
    d: &Deployment,
) -> Step<bool> {
    if util::replica_count(&old) == 0 {
        return Ok(false);
    }
    let all_pods = util::replica_count(all.iter().copied());
    let min_available = d.spec.desired_replicas() - max_unavailable(d);
    let new_unavailable = new_rs.replicas() - new_rs.status.available_replicas;
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Ok(false);
    }
    let (old, cleaned) = match cleanup_unhealthy_replicas(cx, old, d, max_scaled_down) {
        Ok(v) => v,
        Err(Flow::Suspend) => return Err(Flow::Suspend),
        Err(_) => return Ok(false),
    };
    let all = with_new(&old, Some(new_rs));
    let scaled = match scale_down_old_replica_sets(cx, &all, &old, d) {
        Ok(n) => n,
        Err(Flow::Suspend) => return Err(Flow::Suspend),
        Err(_) => return Ok(false),
    };
    Ok(cleaned + scaled > 0)
}

/// Takes the unavailable pods out of old ReplicaSets, oldest first, at most `max` in all
/// (upstream `cleanupUnhealthyReplicas`): they do not count towards availability, so removing
/// them costs nothing. The ReplicaSets as they now are, and how many pods went.
///
/// A ReplicaSet just scaled down whose status still counts the pods it is deleting has more
/// available pods than replicas: `replicas − available` is negative, and "scaling it down" by
/// that would scale it up. Upstream refuses such a request with an error (which
/// `reconcileOldReplicaSets` swallows, scaling nothing this sync) and so does this.
pub fn cleanup_unhealthy_replicas(
    cx: &mut SyncContext<'_>,
    mut old: Vec<ReplicaSet>,
    d: &Deployment,
    max: i32,
) -> Step<(Vec<ReplicaSet>, i32)> {
    old.sort_by(util::by_creation);
    let mut total = 0;
    for rs in &mut old {
        if total >= max {
            break;
        }
        let unhealthy = rs.replicas() - rs.status.available_replicas;
        if rs.replicas() == 0 || unhealthy == 0 {
            continue;
        }
        let count = (max - total).min(unhealthy);
        if count < 0 {
            return Err(Flow::Failed(format!(
                "when cleaning up unhealthy replicas, got invalid request to scale down {}/{} {} -> {}",
                rs.metadata.namespace,
                rs.metadata.name,
                rs.replicas(),
                rs.replicas() - count
            )));
        }
        let (_, updated) = scale_replica_set_and_record_event(cx, rs, rs.replicas() - count, d)?;
        *rs = updated;
        total += count;
    }
    Ok((old, total))
}

/// Scales old ReplicaSets down, oldest first, by as many pods as are available beyond
/// `replicas − maxUnavailable` (upstream `scaleDownOldReplicaSetsForRollingUpdate`); how many.
pub fn scale_down_old_replica_sets(
    cx: &mut SyncContext<'_>,
    all: &[&ReplicaSet],
    old: &[ReplicaSet],
    d: &Deployment,
) -> Step<i32> {
    let min_available = d.spec.desired_replicas() - max_unavailable(d);
    let available = util::available_replica_count(all.iter().copied());
    if available <= min_available {
        return Ok(0);
    }
    let mut order: Vec<&ReplicaSet> = old.iter().collect();
    order.sort_by(|a, b| util::by_creation(a, b));
    let to_scale_down = available - min_available;
    let mut total = 0;
    for rs in order {
        if total >= to_scale_down {
            break;
        }
        if rs.replicas() == 0 {
            continue;
        }
        let count = rs.replicas().min(to_scale_down - total);
        scale_replica_set_and_record_event(cx, rs, rs.replicas() - count, d)?;
        total += count;
    }
    Ok(total)
}
