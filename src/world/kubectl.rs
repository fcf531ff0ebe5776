//! The scenario's user: carries out timeline actions as API requests, the way `kubectl` would.
//!
//! `apply` creates each object; if it already exists, it sends the manifest as an apply patch,
//! which the apiserver merges onto the live object as `kubectl apply`'s patch merges (see
//! `apiserver::apply`): an unchanged manifest writes nothing, a new image updates a pod in
//! place, and a change the API forbids (a bound pod's requests) is refused with 422.
//!
//! Applying a dump of a cluster, it restores owner references as a restore tool does: an
//! object whose `ownerReferences` name an owner by kind and name only (the loader keeps only
//! owners that are in the inputs) is created once its owners are — an owner in the same apply
//! after its create is answered, any other after a GET — with the live owners' uids.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::meta::OwnerReference;
use crate::api::{Kind, Object, ObjectKey, Uid};
use crate::apiserver::{
    ApiError, ApiOutput, ApiServer, ClientId, DeleteOptions, PatchOp, Request, RequestId, Response,
    ResponseBody, UserInfo,
};
use crate::scenario::{Action, TimedAction};
use crate::sim::SimTime;

/// The client id of the scenario's user.
pub const KUBECTL_CLIENT: ClientId = ClientId(0);

/// How one timeline action went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionOutcome {
    /// When the action ran.
    pub at: SimTime,
    /// What it was.
    pub description: String,
    /// Requests it sent.
    pub requests: u32,
    /// Errors the apiserver answered with.
    pub errors: Vec<String>,
}

/// What to do when a request of an action is answered.
#[derive(Debug)]
struct Pending {
    action: usize,
    step: ApplyStep,
}

/// Where an apply of one object is.
#[derive(Debug)]
enum ApplyStep {
    /// Not an apply, or its last request.
    Done,
    /// The create of this manifest: if it exists already, patch it with the manifest.
    Create(Box<Object>),
    /// The apply patch of the object with this identity.
    Patch(Identity),
    /// The GET of an owner that deferred object `slot` waits for.
    ReadOwner(usize, Identity),
}

/// An object's identity in an apply: kind, namespace, name.
type Identity = (Kind, String, String);

/// An object of an apply waiting for its owners' uids.
#[derive(Debug)]
struct Deferred {
    action: usize,
    object: Object,
    /// Owners not resolved yet.
    owners_pending: usize,
}

fn identity(object: &Object) -> Identity {
    let meta = object.meta();
    (object.kind(), meta.namespace.clone(), meta.name.clone())
}

/// The owner a reference names, if its kind is modelled.
fn owner_identity(reference: &OwnerReference, namespace: &str) -> Option<Identity> {
    let kind = Kind::from_name(&reference.kind)?;
    let namespace = if kind.is_namespaced() { namespace } else { "" };
    Some((kind, namespace.to_string(), reference.name.clone()))
}

/// The distinct owners `object` names without knowing their uid.
fn unresolved_owners(object: &Object) -> impl Iterator<Item = Identity> + '_ {
    let namespace = &object.meta().namespace;
    let owners: BTreeSet<Identity> = object
        .meta()
        .owner_references
        .iter()
        .filter(|r| r.uid == Uid(0))
        .filter_map(|r| owner_identity(r, namespace))
        .collect();
    owners.into_iter()
}

/// The scenario's user.
#[derive(Debug)]
pub struct Kubectl {
    user: UserInfo,
    actions: Vec<TimedAction>,
    outcomes: Vec<ActionOutcome>,
    pending: BTreeMap<RequestId, Pending>,
    /// Objects waiting for their owners, by slot.
    deferred: Vec<Option<Deferred>>,
    /// The deferred slots waiting for an owner of the same apply, by (action, owner).
    waiting_for: BTreeMap<(usize, Identity), Vec<usize>>,
}

impl Kubectl {
    /// A user that will carry out `actions` (indexed by their position).
    pub fn new(actions: Vec<TimedAction>) -> Self {
        let outcomes = actions
            .iter()
            .map(|a| ActionOutcome {
                at: a.at,
                description: a.action.describe(),
                requests: 0,
                errors: Vec::new(),
            })
            .collect();
        Kubectl {
            user: UserInfo::new(
                "kubernetes-admin",
                &["system:masters", "system:authenticated"],
            ),
            actions,
            outcomes,
            pending: BTreeMap::new(),
            deferred: Vec::new(),
            waiting_for: BTreeMap::new(),
        }
    }

    /// The actions and when each is due.
    pub fn actions(&self) -> &[TimedAction] {
        &self.actions
    }

    /// How each action went so far.
    pub fn outcomes(&self) -> &[ActionOutcome] {
        &self.outcomes
    }

    /// Whether action `index` has run and every request it sent, or deferred, is answered.
    pub fn is_settled(&self, index: usize) -> bool {
        self.outcomes.get(index).is_some_and(|o| o.requests > 0)
            && !self.pending.values().any(|p| p.action == index)
            && !self.waiting_for.keys().any(|(action, _)| *action == index)
            && !self.deferred.iter().flatten().any(|d| d.action == index)
    }

    /// Whether applying `objects` defers some of them until their owners exist (see the
    /// module docs).
    pub fn defers(objects: &[Object]) -> bool {
        objects
            .iter()
            .any(|o| unresolved_owners(o).next().is_some())
    }

    /// Carries out action `index` at `now`.
    pub fn run(
        &mut self,
        index: usize,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(action) = self.actions.get(index) else {
            return;
        };
        let user = || self.user.clone();
        let requests: Vec<(Request, ApplyStep)> = match &action.action {
            Action::Apply(objects) => {
                let objects = objects.clone();
                self.apply(index, objects, now, api, out);
                return;
            }
            Action::Delete(kind, key, cascade) => {
                let options = DeleteOptions {
                    propagation_policy: Some(*cascade),
                    ..DeleteOptions::default()
                };
                vec![(
                    Request::delete_with(KUBECTL_CLIENT, user(), *kind, key, options),
                    ApplyStep::Done,
                )]
            }
            Action::Scale(kind, key, n) => vec![(
                Request::patch(KUBECTL_CLIENT, user(), *kind, key, PatchOp::Replicas(*n)),
                ApplyStep::Done,
            )],
            Action::SetImage {
                kind,
                key,
                container,
                image,
            } => {
                let op = PatchOp::Image {
                    container: container.clone(),
                    image: image.clone(),
                };
                vec![(
                    Request::patch(KUBECTL_CLIENT, user(), *kind, key, op),
                    ApplyStep::Done,
                )]
            }
            Action::Cordon(node, cordon) => {
                let key = crate::api::ObjectKey::cluster(node.clone());
                let op = PatchOp::Unschedulable(*cordon);
                vec![(
                    Request::patch(KUBECTL_CLIENT, user(), crate::api::Kind::Node, &key, op),
                    ApplyStep::Done,
                )]
            }
        };
        for (request, step) in requests {
            self.send(index, request, step, now, api, out);
        }
    }

    fn send(
        &mut self,
        action: usize,
        request: Request,
        step: ApplyStep,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let id = api.submit(now, request, out);
        if let Some(outcome) = self.outcomes.get_mut(action) {
            outcome.requests += 1;
        }
        self.pending.insert(id, Pending { action, step });
    }

    /// Handles the answer to one of its requests.
    pub fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(pending) = self.pending.remove(&request) else {
            return;
        };
        let action = pending.action;
        let created = match response {
            Ok(ResponseBody::Object(o)) => Some(o.meta().uid),
            _ => None,
        };
        match (response, pending.step) {
            (Err(ApiError::AlreadyExists { .. }), ApplyStep::Create(manifest)) => {
                let (kind, key) = (manifest.kind(), manifest.key());
                let step = ApplyStep::Patch(identity(&manifest));
                let op = PatchOp::Apply(manifest);
                let patch = Request::patch(KUBECTL_CLIENT, self.user.clone(), kind, &key, op);
                self.send(action, patch, step, now, api, out);
                return;
            }
            (_, ApplyStep::ReadOwner(slot, owner)) => {
                self.owner_resolved(action, slot, &owner, created, now, api, out);
                return;
            }
            (_, ApplyStep::Create(manifest)) => {
                self.owner_ready(action, identity(&manifest), created, now, api, out);
            }
            (_, ApplyStep::Patch(id)) => self.owner_ready(action, id, created, now, api, out),
            (_, ApplyStep::Done) => {}
        }
        if let Err(e) = response
            && let Some(outcome) = self.outcomes.get_mut(action)
        {
            outcome.errors.push(e.to_string());
        }
    }

    /// Applies `objects`: creates each at once, unless it waits for owners (see the module
    /// docs).
    fn apply(
        &mut self,
        action: usize,
        objects: Vec<Object>,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let batch: BTreeSet<Identity> = objects.iter().map(identity).collect();
        let mut reads = Vec::new();
        for object in objects {
            let own = identity(&object);
            let owners: Vec<Identity> = unresolved_owners(&object).collect();
            if owners.is_empty() {
                self.create(action, object, now, api, out);
                continue;
            }
            let slot = self.deferred.len();
            for owner in &owners {
                if batch.contains(owner) && *owner != own {
                    self.waiting_for
                        .entry((action, owner.clone()))
                        .or_default()
                        .push(slot);
                } else {
                    reads.push((slot, owner.clone()));
                }
            }
            self.deferred.push(Some(Deferred {
                action,
                object,
                owners_pending: owners.len(),
            }));
        }
        // Owners outside this apply exist already (or never will): read them after this
        // apply's creates, which the apiserver then handles first.
        for (slot, owner) in reads {
            let key = ObjectKey::new(owner.1.clone(), owner.2.clone());
            let get = Request::get(KUBECTL_CLIENT, self.user.clone(), owner.0, &key);
            self.send(
                action,
                get,
                ApplyStep::ReadOwner(slot, owner),
                now,
                api,
                out,
            );
        }
    }

    fn create(
        &mut self,
        action: usize,
        object: Object,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let request = Request::create(KUBECTL_CLIENT, self.user.clone(), object.clone());
        self.send(
            action,
            request,
            ApplyStep::Create(Box::new(object)),
            now,
            api,
            out,
        );
    }

    /// The owner `owner` of this apply was created (with uid `uid`) or failed (None): the
    /// objects waiting for it learn its uid.
    fn owner_ready(
        &mut self,
        action: usize,
        owner: Identity,
        uid: Option<Uid>,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let slots = self
            .waiting_for
            .remove(&(action, owner.clone()))
            .unwrap_or_default();
        for slot in slots {
            self.owner_resolved(action, slot, &owner, uid, now, api, out);
        }
    }

    /// Deferred object `slot` learnt owner `owner`'s uid (None: the owner is not there, so the
    /// reference goes and the object will be an orphan); created once it knows them all.
    #[allow(clippy::too_many_arguments)]
    fn owner_resolved(
        &mut self,
        action: usize,
        slot: usize,
        owner: &Identity,
        uid: Option<Uid>,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(Some(deferred)) = self.deferred.get_mut(slot) else {
            return;
        };
        let namespace = deferred.object.meta().namespace.clone();
        let refs = &mut deferred.object.meta_mut().owner_references;
        let names_owner = |r: &OwnerReference| {
            r.uid == Uid(0) && owner_identity(r, &namespace).as_ref() == Some(owner)
        };
        match uid {
            Some(uid) => refs
                .iter_mut()
                .filter(|r| names_owner(r))
                .for_each(|r| r.uid = uid),
            None => refs.retain(|r| !names_owner(r)),
        }
        deferred.owners_pending = deferred.owners_pending.saturating_sub(1);
        if deferred.owners_pending == 0
            && let Some(done) = self.deferred[slot].take()
        {
            self.create(action, done.object, now, api, out);
        }
    }
}
