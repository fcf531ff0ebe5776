//! One sync of a Deployment (upstream `syncDeployment` and `sync.go`): which way it goes
//! (paused, rolled back, resized, rolled out), finding or creating the new ReplicaSet and
//! keeping revisions, scaling — proportionally when several ReplicaSets are active — the
//! history cleanup, and the status.
//!
//! `d` is the controller's own copy of the cached Deployment, changed as the sync goes
//! (revision annotation, conditions) and written with the resourceVersion it was read at, as
//! upstream does: a sync that writes the Deployment's status twice meets a conflict the
//! second time and is retried.

use std::sync::Arc;

use super::claim::claim_replica_sets;
use super::recreate::rollout_recreate;
use super::replay::{Flow, Step, ignore_error};
use super::requests::{SyncContext, controller_ref};
use super::rollback::{rollback, rollback_to};
use super::rolling::rollout_rolling;
use super::util::{
    self, MAX_REV_HISTORY_LENGTH_IN_CHARS, compute_hash, find_new_replica_set, max_revision,
    max_surge, new_condition, set_condition, set_deployment_revision,
    set_new_replica_set_annotations,
};
use crate::api::ObjectMeta;
use crate::api::deployment::{
    DEPLOYMENT_AVAILABLE, DEPLOYMENT_PROGRESSING, Deployment, DeploymentStatus,
    POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION,
};
use crate::api::replicaset::{ReplicaSet, ReplicaSetSpec};
use crate::apiserver::ApiError;

/// What a sync starts from: the cached Deployment and the ReplicaSets it may own (those whose
/// controller reference names it and the orphans of its namespace), oldest first.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The Deployment.
    pub deployment: Arc<Deployment>,
    /// ReplicaSets it owns or may adopt.
    pub candidates: Vec<ReplicaSet>,
}

/// Syncs the Deployment (upstream `syncDeployment`): in order of precedence, a Deployment
/// selecting everything is refused, one being deleted gets its status only, a paused one is
/// only resized, a rollback request is carried out, a resize is spread proportionally, and
/// otherwise the rollout takes its step.
pub fn sync_deployment(cx: &mut SyncContext<'_>, snapshot: &Snapshot) -> Step<()> {
    let mut d = (*snapshot.deployment).clone();
    if d.spec.selector.is_empty() {
        // Upstream also records a `SelectingAll` warning Event here.
        if d.status.observed_generation < d.metadata.generation {
            d.status.observed_generation = d.metadata.generation;
            ignore_error(cx.update_status(&d))?;
        }
        return Ok(());
    }
    let mut rs_list = claim_replica_sets(cx, &d, &snapshot.candidates)?;
    rs_list.sort_by(util::by_creation);
    if d.metadata.is_terminating() {
        return sync_status_only(cx, &mut d, &rs_list);
    }
    check_paused_conditions(cx, &mut d)?;
    if d.spec.paused {
        return sync(cx, &mut d, &rs_list);
    }
    if rollback_to(&d).is_some() {
        return rollback(cx, &mut d, &rs_list);
    }
    if is_scaling_event(cx, &mut d, &rs_list)? {
        return sync(cx, &mut d, &rs_list);
    }
    if d.spec.strategy.is_recreate() {
        rollout_recreate(cx, &mut d, &rs_list)
    } else {
        rollout_rolling(cx, &mut d, &rs_list)
    }
}

/// Only the status (upstream `syncStatusOnly`).
fn sync_status_only(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    rs_list: &[ReplicaSet],
) -> Step<()> {
    let (new_rs, old) = get_all_replica_sets_and_sync_revision(cx, d, rs_list, false)?;
    let all = with_new(&old, new_rs.as_ref());
    sync_deployment_status(cx, &all, new_rs.as_ref(), d)
}

/// A resize or a paused Deployment (upstream `sync`): scale, clean up a paused Deployment's
/// history, write the status.
pub fn sync(cx: &mut SyncContext<'_>, d: &mut Deployment, rs_list: &[ReplicaSet]) -> Step<()> {
    let (new_rs, mut old) = get_all_replica_sets_and_sync_revision(cx, d, rs_list, false)?;
    scale(cx, d, new_rs.as_ref(), &mut old)?;
    if d.spec.paused && rollback_to(d).is_none() {
        cleanup_deployment(cx, &old, d)?;
    }
    let all = with_new(&old, new_rs.as_ref());
    sync_deployment_status(cx, &all, new_rs.as_ref(), d)
}

/// `old` followed by the new ReplicaSet, if any (upstream `append(oldRSs, newRS)`).
pub fn with_new<'a>(old: &'a [ReplicaSet], new_rs: Option<&'a ReplicaSet>) -> Vec<&'a ReplicaSet> {
    old.iter().chain(new_rs).collect()
}

/// Sets `Progressing` to `Unknown` with reason `DeploymentPaused` when the Deployment is
/// paused, and `DeploymentResumed` when it is resumed, so the time spent paused never counts
/// against the progress deadline (upstream `checkPausedConditions`).
fn check_paused_conditions(cx: &mut SyncContext<'_>, d: &mut Deployment) -> Step<()> {
    if !d.spec.has_progress_deadline() {
        return Ok(());
    }
    let reason = d
        .status
        .condition(DEPLOYMENT_PROGRESSING)
        .map(|c| c.reason.clone());
    if reason.as_deref() == Some(util::TIMED_OUT_REASON) {
        return Ok(());
    }
    let paused_exists = reason.as_deref() == Some(util::PAUSED_DEPLOY_REASON);
    let (reason, message) = match (d.spec.paused, paused_exists) {
        (true, false) => (util::PAUSED_DEPLOY_REASON, "Deployment is paused"),
        (false, true) => (util::RESUMED_DEPLOY_REASON, "Deployment is resumed"),
        _ => return Ok(()),
    };
    let condition = new_condition(
        DEPLOYMENT_PROGRESSING,
        "Unknown",
        reason,
        message.to_string(),
        cx.calls.now(),
    );
    set_condition(&mut d.status, condition);
    cx.update_status(d)
}

/// Whether the Deployment was resized: an active ReplicaSet's `desired-replicas` differs from
/// `replicas` (upstream `isScalingEvent`).
fn is_scaling_event(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    rs_list: &[ReplicaSet],
) -> Step<bool> {
    let (new_rs, old) = get_all_replica_sets_and_sync_revision(cx, d, rs_list, false)?;
    let desired = d.spec.desired_replicas();
    Ok(with_new(&old, new_rs.as_ref())
        .into_iter()
        .filter(|rs| rs.replicas() > 0)
        .filter_map(util::desired_replicas_annotation)
        .any(|annotated| annotated != desired))
}

/// The new ReplicaSet (created if asked and missing) and every old one, with the revisions
/// brought up to date (upstream `getAllReplicaSetsAndSyncRevision`).
pub fn get_all_replica_sets_and_sync_revision(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    rs_list: &[ReplicaSet],
    create: bool,
) -> Step<(Option<ReplicaSet>, Vec<ReplicaSet>)> {
    let new_index = find_new_replica_set(d, rs_list);
    let old: Vec<ReplicaSet> = rs_list
        .iter()
        .enumerate()
        .filter(|&(i, _)| Some(i) != new_index)
        .map(|(_, rs)| rs.clone())
        .collect();
    let new_rs = get_new_replica_set(cx, d, rs_list, &old, create)?;
    Ok((new_rs, old))
}

/// The new ReplicaSet (upstream `getNewReplicaSet`). If it exists, its annotations (the
/// Deployment's, a revision one above every old one) and `minReadySeconds` are brought up to
/// date, then the Deployment's revision. Otherwise, if asked, it is created: named
/// `<deployment>-<pod-template-hash>`, labelled and selecting with the hash, owned by the
/// Deployment, sized by [`util::new_rs_new_replicas`].
fn get_new_replica_set(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    rs_list: &[ReplicaSet],
    old: &[ReplicaSet],
    create: bool,
) -> Step<Option<ReplicaSet>> {
    let new_revision = max_revision(old) + 1;
    if let Some(i) = find_new_replica_set(d, rs_list) {
        return sync_existing_new_replica_set(cx, d, &rs_list[i], new_revision).map(Some);
    }
    if !create {
        return Ok(None);
    }
    create_new_replica_set(cx, d, old, new_revision).map(Some)
}

fn sync_existing_new_replica_set(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    existing: &ReplicaSet,
    new_revision: i64,
) -> Step<ReplicaSet> {
    let mut rs = existing.clone();
    let annotations_updated = set_new_replica_set_annotations(
        d,
        &mut rs,
        new_revision,
        true,
        MAX_REV_HISTORY_LENGTH_IN_CHARS,
    );
    if annotations_updated || rs.spec.min_ready_seconds != d.spec.min_ready_seconds {
        rs.spec.min_ready_seconds = d.spec.min_ready_seconds;
        return cx.update_rs(rs);
    }
    let revision = rs
        .metadata
        .annotations
        .get(REVISION_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let mut needs_update = set_deployment_revision(d, &revision);
    if d.spec.has_progress_deadline() && d.status.condition(DEPLOYMENT_PROGRESSING).is_none() {
        let message = format!("Found new replica set {:?}", rs.metadata.name);
        let condition = new_condition(
            DEPLOYMENT_PROGRESSING,
            "True",
            util::FOUND_NEW_RS_REASON,
            message,
            cx.calls.now(),
        );
        set_condition(&mut d.status, condition);
        needs_update = true;
    }
    if needs_update {
        cx.update_status(d)?;
    }
    Ok(rs)
}

/// The ReplicaSet a Deployment would create now, sized for the rollout.
fn new_replica_set(d: &Deployment, old: &[ReplicaSet], new_revision: i64) -> Step<ReplicaSet> {
    let hash = compute_hash(&d.spec.template, d.status.collision_count);
    let mut template = d.spec.template.clone();
    template
        .metadata
        .labels
        .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
    let mut selector = d.spec.selector.clone();
    selector
        .match_labels
        .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
    let mut rs = ReplicaSet {
        metadata: ObjectMeta {
            name: format!("{}-{hash}", d.metadata.name),
            namespace: d.metadata.namespace.clone(),
            owner_references: vec![controller_ref(d)],
            labels: template.metadata.labels.clone(),
            ..ObjectMeta::default()
        },
        spec: ReplicaSetSpec {
            replicas: Some(0),
            min_ready_seconds: d.spec.min_ready_seconds,
            selector,
            template,
        },
        status: Default::default(),
    };
    let all: Vec<&ReplicaSet> = old.iter().chain(Some(&rs)).collect();
    let replicas =
        util::new_rs_new_replicas(d, &all, &rs).map_err(|e| Flow::Failed(e.to_string()))?;
    rs.spec.replicas = Some(replicas);
    set_new_replica_set_annotations(
        d,
        &mut rs,
        new_revision,
        false,
        MAX_REV_HISTORY_LENGTH_IN_CHARS,
    );
    Ok(rs)
}

fn create_new_replica_set(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    old: &[ReplicaSet],
    new_revision: i64,
) -> Step<ReplicaSet> {
    let rs = new_replica_set(d, old, new_revision)?;
    let name = rs.metadata.name.clone();
    let (created, already_existed) = match cx.create_rs(rs) {
        Ok(created) => (created, false),
        Err(Flow::Api(e @ ApiError::AlreadyExists { .. })) => (own_or_collision(cx, d, e)?, true),
        Err(Flow::Api(e)) => return Err(creation_failed(cx, d, &name, e)?),
        Err(other) => return Err(other),
    };
    let mut needs_update = set_deployment_revision(d, &new_revision.to_string());
    if !already_existed && d.spec.has_progress_deadline() {
        let message = format!("Created new replica set {name:?}");
        let condition = new_condition(
            DEPLOYMENT_PROGRESSING,
            "True",
            util::NEW_REPLICA_SET_REASON,
            message,
            cx.calls.now(),
        );
        set_condition(&mut d.status, condition);
        needs_update = true;
    }
    if needs_update {
        cx.update_status(d)?;
    }
    Ok(created)
}

/// The create met an existing ReplicaSet of that name (a slow cache, or a hash collision). If
/// the cache shows it is the Deployment's own with the same template, it is the new one;
/// otherwise the collision count goes up, so the next sync hashes to another name.
fn own_or_collision(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    error: ApiError,
) -> Step<ReplicaSet> {
    let cached = cx.calls.cached_at_last_reply();
    let Some(crate::api::Object::ReplicaSet(rs)) = cached.as_deref() else {
        return Err(Flow::Failed(format!("{error}; not in the cache either")));
    };
    let own = rs
        .metadata
        .controller_ref()
        .is_some_and(|r| r.uid == d.metadata.uid);
    if own && util::equal_ignore_hash(&d.spec.template, &rs.spec.template) {
        return Ok((**rs).clone());
    }
    d.status.collision_count = Some(d.status.collision_count.unwrap_or(0) + 1);
    ignore_error(cx.update_status(d))?;
    Err(Flow::Api(error))
}

/// The create failed otherwise: `Progressing` becomes `False` with `ReplicaSetCreateError`
/// (a write whose own failure does not matter); the error stands.
fn creation_failed(
    cx: &mut SyncContext<'_>,
    d: &mut Deployment,
    name: &str,
    error: ApiError,
) -> Step<Flow> {
    if d.spec.has_progress_deadline() {
        let message = format!("Failed to create new replica set {name:?}: {error}");
        let condition = new_condition(
            DEPLOYMENT_PROGRESSING,
            "False",
            util::FAILED_RS_CREATE_REASON,
            message,
            cx.calls.now(),
        );
        set_condition(&mut d.status, condition);
        ignore_error(cx.update_status(d))?;
    }
    Ok(Flow::Api(error))
}

/// Scales for a resize (upstream `scale`): a lone active ReplicaSet (or, with none active,
/// the newest) takes `replicas`; a saturated new ReplicaSet leaves the old ones nothing;
/// otherwise a rolling Deployment spreads the difference to `replicas + maxSurge` over the
/// active ReplicaSets in proportion to their sizes, the largest taking what rounding leaves.
pub fn scale(
    cx: &mut SyncContext<'_>,
    d: &Deployment,
    new_rs: Option<&ReplicaSet>,
    old: &mut [ReplicaSet],
) -> Step<()> {
    let desired = d.spec.desired_replicas();
    if let Some(rs) = find_active_or_latest(new_rs, old) {
        if rs.replicas() != desired {
            scale_replica_set_and_record_event(cx, &rs, desired, d)?;
        }
        return Ok(());
    }
    if util::is_saturated(d, new_rs) {
        for rs in old.iter().filter(|rs| rs.replicas() > 0) {
            scale_replica_set_and_record_event(cx, rs, 0, d)?;
        }
        return Ok(());
    }
    if !d.spec.strategy.is_rolling_update() {
        return Ok(());
    }
    let mut active: Vec<&ReplicaSet> = with_new(old, new_rs)
        .into_iter()
        .filter(|rs| rs.replicas() > 0)
        .collect();
    let allowed = if desired > 0 {
        desired + max_surge(d)
    } else {
        0
    };
    let to_add = allowed - util::replica_count(active.iter().copied());
    if to_add > 0 {
        active.sort_by(|a, b| util::by_size_newer(a, b));
    } else if to_add < 0 {
        active.sort_by(|a, b| util::by_size_older(a, b));
    }
    let sizes = proportional_sizes(d, &active, to_add);
    for (rs, size) in active.into_iter().zip(sizes) {
        scale_replica_set(cx, rs, size, d)?;
    }
    Ok(())
}

/// Each active ReplicaSet's size after spreading `to_add` over them in order (upstream's
/// `nameToSize`): each its proportion, and the first (the largest) what is left over, never
/// below zero.
pub fn proportional_sizes(d: &Deployment, active: &[&ReplicaSet], to_add: i32) -> Vec<i32> {
    let mut added = 0;
    let mut sizes: Vec<i32> = active
        .iter()
        .map(|rs| {
            if to_add == 0 {
                return rs.replicas();
            }
            let proportion = util::get_proportion(rs, d, to_add, added);
            added += proportion;
            rs.replicas() + proportion
        })
        .collect();
    if to_add != 0
        && let Some(first) = sizes.first_mut()
    {
        *first = (*first + to_add - added).max(0);
    }
    sizes
}

/// The only active ReplicaSet, or with none active the new one or else the newest old one;
/// `None` when several are active (upstream `FindActiveOrLatest`, which also leaves the old
/// ReplicaSets newest first).
pub fn find_active_or_latest(
    new_rs: Option<&ReplicaSet>,
    old: &mut [ReplicaSet],
) -> Option<ReplicaSet> {
    if new_rs.is_none() && old.is_empty() {
        return None;
    }
    old.sort_by(|a, b| util::by_creation(b, a));
    let active: Vec<&ReplicaSet> = with_new(old, new_rs)
        .into_iter()
        .filter(|rs| rs.replicas() > 0)
        .collect();
    match active.as_slice() {
        [] => new_rs.or(old.first()).cloned(),
        [only] => Some((*only).clone()),
        _ => None,
    }
}

/// Scales `rs` to `size` unless it has that size (upstream `scaleReplicaSetAndRecordEvent`);
/// whether it was scaled, and the ReplicaSet as it now is.
pub fn scale_replica_set_and_record_event(
    cx: &mut SyncContext<'_>,
    rs: &ReplicaSet,
    size: i32,
    d: &Deployment,
) -> Step<(bool, ReplicaSet)> {
    if rs.replicas() == size {
        return Ok((false, rs.clone()));
    }
    scale_replica_set(cx, rs, size, d)
}

/// Writes `rs` with `size` replicas and the Deployment's current `desired-replicas` and
/// `max-replicas`, if either differs (upstream `scaleReplicaSet`). Upstream then records a
/// `ScalingReplicaSet` Event ("Scaled up replica set web-5d8f to 3 from 1").
pub fn scale_replica_set(
    cx: &mut SyncContext<'_>,
    rs: &ReplicaSet,
    size: i32,
    d: &Deployment,
) -> Step<(bool, ReplicaSet)> {
    let desired = d.spec.desired_replicas();
    let max = desired + max_surge(d);
    let size_changes = rs.replicas() != size;
    if !size_changes && !util::replicas_annotations_need_update(rs, desired, max) {
        return Ok((false, rs.clone()));
    }
    let mut copy = rs.clone();
    copy.spec.replicas = Some(size);
    util::set_replicas_annotations(&mut copy, desired, max);
    let updated = cx.update_rs(copy)?;
    Ok((size_changes, updated))
}

/// Deletes the oldest old ReplicaSets beyond `revisionHistoryLimit`, among those not being
/// deleted; one that still has or wants pods, or whose controller has not seen its latest
/// spec, is kept (upstream `cleanupDeployment`).
pub fn cleanup_deployment(
    cx: &mut SyncContext<'_>,
    old: &[ReplicaSet],
    d: &Deployment,
) -> Step<()> {
    if !d.spec.has_revision_history_limit() {
        return Ok(());
    }
    let mut cleanable: Vec<&ReplicaSet> = old
        .iter()
        .filter(|rs| !rs.metadata.is_terminating())
        .collect();
    let diff = cleanable.len() as i64 - i64::from(d.spec.revision_history_limit());
    if diff <= 0 {
        return Ok(());
    }
    cleanable.sort_by(|a, b| util::by_revision(a, b));
    for rs in cleanable.into_iter().take(diff as usize) {
        let busy = rs.status.replicas != 0
            || rs.replicas() != 0
            || rs.metadata.generation > rs.status.observed_generation;
        if busy {
            continue;
        }
        match cx.delete_rs(rs) {
            Ok(()) | Err(Flow::Api(ApiError::NotFound { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes the status if it changed (upstream `syncDeploymentStatus`).
pub fn sync_deployment_status(
    cx: &mut SyncContext<'_>,
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &mut Deployment,
) -> Step<()> {
    let status = calculate_status(all, new_rs, d, cx.calls.now());
    if d.status == status {
        return Ok(());
    }
    d.status = status;
    cx.update_status(d)
}

/// The status the ReplicaSets make (upstream `calculateStatus`): pods that exist (all and
/// updated), ready and available pods, the unavailable ones among the desired, and
/// `Available` true once `replicas − maxUnavailable` are available.
pub fn calculate_status(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
    now: crate::sim::SimTime,
) -> DeploymentStatus {
    let available = util::available_replica_count(all.iter().copied());
    let total = util::replica_count(all.iter().copied());
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: util::actual_replica_count(all.iter().copied()),
        updated_replicas: util::actual_replica_count(new_rs),
        ready_replicas: util::ready_replica_count(all.iter().copied()),
        available_replicas: available,
        unavailable_replicas: (total - available).max(0),
        conditions: d.status.conditions.clone(),
        collision_count: d.status.collision_count,
    };
    let condition = if available >= d.spec.desired_replicas() - util::max_unavailable(d) {
        new_condition(
            DEPLOYMENT_AVAILABLE,
            "True",
            util::MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        new_condition(
            DEPLOYMENT_AVAILABLE,
            "False",
            util::MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    set_condition(&mut status, condition);
    status
}
