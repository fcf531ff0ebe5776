//! The Recreate strategy (upstream `recreate.go`): scale every old ReplicaSet to zero, wait
//! until none of their pods is left running (terminal pods do not count), only then create the
//! new ReplicaSet and scale it to `replicas` at once.

use super::progress::sync_rollout_status;
use super::replay::{Flow, Step};
use super::requests::SyncContext;
use super::sync::{
    cleanup_deployment, get_all_replica_sets_and_sync_revision, scale_replica_set_and_record_event,
    with_new,
};
use super::util::{actual_replica_count, deployment_complete};
use crate::api::deployment::Deployment;
use crate::api::pod::PodPhase;
use crate::api::replicaset::ReplicaSet;

/// One step of a Recreate rollout (upstream `rolloutRecreate`).
pub fn rollout_recreate(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    rs_list: &[ReplicaSet],
) -> Step<()> {
    // No new ReplicaSet yet: it must not scale up before the old ones are down.
    let (mut new_rs, mut old) = get_all_replica_sets_and_sync_revision(cx, d, rs_list, false)?;
    let active_old: Vec<ReplicaSet> = old.iter().filter(|rs| rs.replicas() > 0).cloned().collect();
    if scale_down_old_replica_sets(cx, &active_old, d)? {
        let all = with_new(&old, new_rs.as_ref());
        return sync_rollout_status(cx, &all, new_rs.as_ref(), d);
    }
    if old_pods_running(cx, new_rs.as_ref(), &old) {
        let all = with_new(&old, new_rs.as_ref());
        return sync_rollout_status(cx, &all, new_rs.as_ref(), d);
    }
    if new_rs.is_none() {
        (new_rs, old) = get_all_replica_sets_and_sync_revision(cx, d, rs_list, true)?;
    }
    let created = new_rs.ok_or_else(|| Flow::Failed("no new ReplicaSet".into()))?;
    scale_replica_set_and_record_event(cx, &created, d.spec.desired_replicas(), d)?;
    if deployment_complete(d, &d.status) {
        cleanup_deployment(cx, &old, d)?;
    }
    let all = with_new(&old, Some(&created));
    sync_rollout_status(cx, &all, Some(&created), d)
}

/// Scales each active old ReplicaSet to zero; whether any scaled (upstream
/// `scaleDownOldReplicaSetsForRecreate`).
fn scale_down_old_replica_sets(
    cx: &mut SyncContext<'_>,
    old: &[ReplicaSet],
    d: &Deployment,
) -> Step<bool> {
    let mut scaled = false;
    for rs in old.iter().filter(|rs| rs.replicas() > 0) {
        let (did, _) = scale_replica_set_and_record_event(cx, rs, 0, d)?;
        scaled |= did;
    }
    Ok(scaled)
}

/// Whether an old ReplicaSet still reports pods, or still has a pod that has not finished
/// (upstream `oldPodsRunning`; a pod of phase Unknown counts as running).
fn old_pods_running(cx: &SyncContext<'_>, new_rs: Option<&ReplicaSet>, old: &[ReplicaSet]) -> bool {
    if actual_replica_count(old) > 0 {
        return true;
    }
    let new_uid = new_rs.map(|rs| rs.metadata.uid);
    cx.pods
        .iter()
        .filter(|(uid, _)| Some(**uid) != new_uid)
        .flat_map(|(_, pods)| pods)
        .any(|pod| !matches!(pod.status.phase, PodPhase::Succeeded | PodPhase::Failed))
}
