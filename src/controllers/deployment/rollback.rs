//! Rolling back through the Deployment's `deprecated.deployment.rollback.to` annotation
//! (upstream `rollback.go`, kept for the extensions/v1beta1 `rollbackTo` field): the template
//! of the ReplicaSet of that revision (0: the previous one) is copied into the Deployment,
//! which makes that ReplicaSet the new one again; the request is cleared either way.
//!
//! `kubectl rollout undo` of an apps/v1 Deployment does not go through here: kubectl patches
//! the template itself (see `world::kubectl`).

use super::replay::Step;
use super::requests::SyncContext;
use super::sync::{get_all_replica_sets_and_sync_revision, with_new};
use super::util::{
    annotations_rolled_back_to, equal_ignore_hash, last_revision, revision, template_without_hash,
};
use crate::api::deployment::{DEPRECATED_ROLLBACK_TO_ANNOTATION, Deployment};
use crate::api::replicaset::ReplicaSet;

/// The revision the Deployment asks to be rolled back to, if it asks (an annotation that is
/// not a number is ignored, as upstream).
pub fn rollback_to(d: &Deployment) -> Option<i64> {
    let value = d
        .metadata
        .annotations
        .get(DEPRECATED_ROLLBACK_TO_ANNOTATION)?;
    if value.is_empty() {
        return None;
    }
    value.parse().ok()
}

/// Carries out the rollback (upstream `rollback`). Upstream records a `DeploymentRollback`
/// Event on success and a `DeploymentRollbackRevisionNotFound` warning when there is no such
/// revision.
pub fn rollback(cx: &mut SyncContext<'_>, d: &mut Deployment, rs_list: &[ReplicaSet]) -> Step<()> {
    let (new_rs, old) = get_all_replica_sets_and_sync_revision(cx, d, rs_list, true)?;
    let all = with_new(&old, new_rs.as_ref());
    let mut to = rollback_to(d).unwrap_or(0);
    if to == 0 {
        to = last_revision(all.iter().copied());
        if to == 0 {
            return clear_rollback_to(cx, d);
        }
    }
    let target = all
        .iter()
        .find(|rs| revision(&rs.metadata.annotations).ok() == Some(to));
    if let Some(rs) = target
        && !equal_ignore_hash(&d.spec.template, &rs.spec.template)
    {
        d.spec.template = template_without_hash(&rs.spec.template);
        d.metadata.annotations = annotations_rolled_back_to(d, rs);
    }
    clear_rollback_to(cx, d)
}

/// Removes the request and updates the Deployment (upstream `updateDeploymentAndClearRollbackTo`).
fn clear_rollback_to(cx: &mut SyncContext<'_>, d: &mut Deployment) -> Step<()> {
    d.metadata
        .annotations
        .remove(DEPRECATED_ROLLBACK_TO_ANNOTATION);
    cx.update_deployment(d)
}
