//! Which ReplicaSets a Deployment owns (upstream `getReplicaSetsForDeployment` and the
//! `ControllerRefManager`'s `ClaimReplicaSets`): those whose controller reference names it and
//! whose labels its selector still matches; an orphan its selector matches is adopted (after
//! one uncached read of the Deployment, to be sure it still exists under the same uid); one it
//! owns but no longer matches is released.

use super::replay::{Flow, Step};
use super::requests::{SyncContext, controller_ref};
use crate::api::ObjectKey;
use crate::api::deployment::Deployment;
use crate::api::replicaset::ReplicaSet;
use crate::apiserver::{ApiError, PatchOp};

/// The Deployment's ReplicaSets among `candidates` (the ReplicaSets it owns and the orphans in
/// its namespace), adopting and releasing as needed.
pub fn claim_replica_sets(
    cx: &mut SyncContext<'_>,
    d: &Deployment,
    candidates: &[ReplicaSet],
) -> Step<Vec<ReplicaSet>> {
    let mut claimed = Vec::new();
    let mut errors = Vec::new();
    let mut can_adopt: Option<Result<(), Flow>> = None;
    let deleting = d.metadata.is_terminating();
    for rs in candidates {
        let matches = d.spec.selector.matches(&rs.metadata.labels);
        match rs.metadata.controller_ref() {
            Some(owner) if owner.uid != d.metadata.uid => {}
            Some(_) if matches => claimed.push(rs.clone()),
            Some(_) if deleting => {}
            Some(_) => {
                if let Err(e) = release(cx, d, rs) {
                    errors.push(e);
                }
            }
            None if deleting || !matches || rs.metadata.is_terminating() => {}
            None => {
                if can_adopt.is_none() {
                    can_adopt = Some(check_can_adopt(cx, d));
                }
                match can_adopt.clone().unwrap_or(Ok(())) {
                    Err(Flow::Suspend) => return Err(Flow::Suspend),
                    Err(e) => errors.push(e),
                    Ok(()) => match adopt(cx, d, rs) {
                        Ok(Some(adopted)) => claimed.push(adopted),
                        Ok(None) => {}
                        Err(e) => errors.push(e),
                    },
                }
            }
        }
    }
    if errors.contains(&Flow::Suspend) {
        return Err(Flow::Suspend);
    }
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(claimed),
    }
}

/// The fresh read before the first adoption (upstream `RecheckDeletionTimestamp` around a
/// quorum GET): the Deployment must still be the one the cache knew, and not being deleted.
fn check_can_adopt(cx: &mut SyncContext<'_>, d: &Deployment) -> Result<(), Flow> {
    let key = ObjectKey::new(d.metadata.namespace.clone(), d.metadata.name.clone());
    let fresh = cx.get_deployment(&key)?;
    if fresh.metadata.uid != d.metadata.uid {
        return Err(Flow::Failed(format!(
            "original Deployment {key} is gone: got uid {}, wanted {}",
            fresh.metadata.uid.0, d.metadata.uid.0
        )));
    }
    if fresh.metadata.is_terminating() {
        return Err(Flow::Failed(format!("{key} has just been deleted")));
    }
    Ok(())
}

/// Adopts orphan `rs`; `None` if it is gone meanwhile.
fn adopt(cx: &mut SyncContext<'_>, d: &Deployment, rs: &ReplicaSet) -> Step<Option<ReplicaSet>> {
    let op = PatchOp::AddOwner {
        reference: controller_ref(d),
        uid: rs.metadata.uid,
    };
    not_found_is_none(cx.patch_rs(&key_of(rs), op))
}

/// Releases `rs`, which the selector no longer matches.
fn release(cx: &mut SyncContext<'_>, d: &Deployment, rs: &ReplicaSet) -> Step<()> {
    let op = PatchOp::RemoveOwners {
        owners: vec![d.metadata.uid],
        uid: rs.metadata.uid,
    };
    not_found_is_none(cx.patch_rs(&key_of(rs), op)).map(|_| ())
}

fn not_found_is_none<T>(step: Step<T>) -> Step<Option<T>> {
    match step {
        Ok(v) => Ok(Some(v)),
        Err(Flow::Api(ApiError::NotFound { .. })) => Ok(None),
        Err(e) => Err(e),
    }
}

fn key_of(rs: &ReplicaSet) -> ObjectKey {
    ObjectKey::new(rs.metadata.namespace.clone(), rs.metadata.name.clone())
}
