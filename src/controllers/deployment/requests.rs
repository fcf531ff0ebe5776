//! The requests a sync sends, as typed calls: what the controller's clientset calls are
//! upstream (`ReplicaSets(ns).Create/Update/Delete/Patch`, `Deployments(ns).Get/Update/
//! UpdateStatus`), each through the sync's [`Calls`] so that it blocks the worker.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::replay::{Calls, Flow, Step};
use crate::api::deployment::Deployment;
use crate::api::meta::OwnerReference;
use crate::api::pod::Pod;
use crate::api::replicaset::ReplicaSet;
use crate::api::{Kind, Object, ObjectKey, Uid};
use crate::apiserver::{ClientId, PatchOp, Request, ResponseBody, Subresource, UserInfo};

/// What one sync works with: its calls, who it speaks as, and the pods of the Deployment's
/// ReplicaSets by ReplicaSet uid (Recreate looks at them).
pub struct SyncContext<'a> {
    /// The sync's calls.
    pub calls: Calls<'a>,
    /// The controller's client.
    pub client: ClientId,
    /// The controller's user.
    pub user: &'a UserInfo,
    /// The pods of each candidate ReplicaSet that the Deployment's selector matches.
    pub pods: &'a BTreeMap<Uid, Vec<Arc<Pod>>>,
}

impl SyncContext<'_> {
    fn send(&mut self, request: Request) -> Step<ResponseBody> {
        self.calls.call(request)
    }

    /// Creates `rs`; the stored ReplicaSet.
    pub fn create_rs(&mut self, rs: ReplicaSet) -> Step<ReplicaSet> {
        let request = Request::create(
            self.client,
            self.user.clone(),
            Object::ReplicaSet(Box::new(rs)),
        );
        replica_set(self.send(request)?)
    }

    /// Updates `rs` (conflicts if its resourceVersion is stale); the stored ReplicaSet.
    pub fn update_rs(&mut self, rs: ReplicaSet) -> Step<ReplicaSet> {
        let request = Request::update(
            self.client,
            self.user.clone(),
            Object::ReplicaSet(Box::new(rs)),
            None,
        );
        replica_set(self.send(request)?)
    }

    /// Patches ReplicaSet `key` with `op`; the stored ReplicaSet.
    pub fn patch_rs(&mut self, key: &ObjectKey, op: PatchOp) -> Step<ReplicaSet> {
        let request = Request::patch(self.client, self.user.clone(), Kind::ReplicaSet, key, op);
        replica_set(self.send(request)?)
    }

    /// Deletes ReplicaSet `rs`.
    pub fn delete_rs(&mut self, rs: &ReplicaSet) -> Step<()> {
        let key = ObjectKey::new(rs.metadata.namespace.clone(), rs.metadata.name.clone());
        let request = Request::delete(self.client, self.user.clone(), Kind::ReplicaSet, &key, None);
        self.send(request).map(|_| ())
    }

    /// Reads Deployment `key` from the apiserver, not the cache.
    pub fn get_deployment(&mut self, key: &ObjectKey) -> Step<Deployment> {
        let request = Request::get(self.client, self.user.clone(), Kind::Deployment, key);
        match self.send(request)? {
            ResponseBody::Object(o) => match &*o {
                Object::Deployment(d) => Ok((**d).clone()),
                other => Err(unexpected(other.kind())),
            },
            _ => Err(Flow::Failed("unexpected answer to a get".into())),
        }
    }

    /// Updates Deployment `d` (spec and metadata).
    pub fn update_deployment(&mut self, d: &Deployment) -> Step<()> {
        let object = Object::Deployment(Box::new(d.clone()));
        let request = Request::update(self.client, self.user.clone(), object, None);
        self.send(request).map(|_| ())
    }

    /// Updates Deployment `d`'s status (and, as the status strategy allows, its annotations).
    pub fn update_status(&mut self, d: &Deployment) -> Step<()> {
        let object = Object::Deployment(Box::new(d.clone()));
        let status = Some(Subresource::Status);
        let request = Request::update(self.client, self.user.clone(), object, status);
        self.send(request).map(|_| ())
    }
}

/// The controller reference a Deployment puts on its ReplicaSets (upstream
/// `metav1.NewControllerRef`).
pub fn controller_ref(d: &Deployment) -> OwnerReference {
    OwnerReference {
        api_version: Kind::Deployment.api_version().to_string(),
        kind: Kind::Deployment.name().to_string(),
        name: d.metadata.name.clone(),
        uid: d.metadata.uid,
        controller: true,
        block_owner_deletion: true,
        ..OwnerReference::default()
    }
}

fn replica_set(body: ResponseBody) -> Step<ReplicaSet> {
    match body {
        ResponseBody::Object(o) => match &*o {
            Object::ReplicaSet(rs) => Ok((**rs).clone()),
            other => Err(unexpected(other.kind())),
        },
        _ => Err(Flow::Failed(
            "unexpected answer to a ReplicaSet write".into(),
        )),
    }
}

fn unexpected(kind: Kind) -> Flow {
    Flow::Failed(format!("unexpected {kind} in an answer"))
}
