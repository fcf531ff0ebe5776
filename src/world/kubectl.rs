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
//!
//! `rollout` reads the Deployment first, as kubectl does, and refuses what kubectl refuses
//! (pausing a paused Deployment, restarting or undoing a paused one): `pause` / `resume` patch
//! `spec.paused`; `restart` sets the template annotation `kubectl.kubernetes.io/restartedAt`
//! to the virtual time (RFC 3339, the run starting at the Unix epoch); `undo` lists the
//! Deployment's ReplicaSets and patches in the template and annotations of the revision asked
//! for (the previous one by default).
//!
//! `drain` runs as kubectl drain does (see [`super::drain`]), woken by the world for its
//! retries and reads; `evict` sends one eviction, whose refusal is the action's error.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::deployment::{Deployment, RESTARTED_AT_ANNOTATION};
use crate::api::meta::OwnerReference;
use crate::api::replicaset::ReplicaSet;
use crate::api::timestamp::rfc3339;
use crate::api::{Kind, Object, ObjectKey, Uid};
use crate::apiserver::{
    ApiError, ApiOutput, ApiServer, ClientId, DeleteOptions, ListOptions, PatchOp, Request,
    RequestId, Response, ResponseBody, UserInfo,
};
use crate::controllers::deployment::util as deployment_util;
use crate::scenario::{Action, TimedAction};
use crate::sim::SimTime;

use super::drain::{DrainRun, DrainStep, Next};

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

/// Where an action of several requests is.
#[derive(Debug)]
enum ApplyStep {
    /// A single request, or an action's last.
    Done,
    /// The create of this manifest: if it exists already, patch it with the manifest.
    Create(Box<Object>),
    /// The apply patch of the object with this identity.
    Patch(Identity),
    /// The GET of an owner that deferred object `slot` waits for.
    ReadOwner(usize, Identity),
    /// The read of the Deployment a `rollout` acts on: its patch follows.
    Rollout(Rollout),
    /// The list of the ReplicaSets of a Deployment to undo: the patch follows.
    UndoList(Box<Deployment>, i64),
    /// A request of a drain.
    Drain(DrainStep),
}

/// What a `kubectl rollout` does once it has read the Deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rollout {
    /// `undo` to a revision (0: the previous one).
    Undo(i64),
    /// `pause` (true) or `resume` (false).
    Pause(bool),
    /// `restart`.
    Restart,
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
    /// Drains, by action.
    drains: BTreeMap<usize, DrainRun>,
    /// Wake-ups asked for and not yet handed to the world, and those already handed.
    wakeups: Vec<(SimTime, usize)>,
    scheduled: BTreeSet<(SimTime, usize)>,
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
            drains: BTreeMap::new(),
            wakeups: Vec::new(),
            scheduled: BTreeSet::new(),
        }
    }

    /// The drains run so far, by action index.
    pub fn drains(&self) -> impl Iterator<Item = (usize, &DrainRun)> {
        self.drains.iter().map(|(i, d)| (*i, d))
    }

    /// The times at which actions asked to be resumed since the last call (for the world to
    /// schedule), each (time, action) once.
    pub fn take_wakeups(&mut self) -> Vec<(SimTime, usize)> {
        std::mem::take(&mut self.wakeups)
    }

    /// Resumes action `index` at `now` (a drain's retries and reads).
    pub fn resume(
        &mut self,
        index: usize,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        self.scheduled.retain(|&(at, _)| at > now);
        let Some(drain) = self.drains.get_mut(&index) else {
            return;
        };
        let next = drain.wake(now);
        self.follow_drain(index, next, now, api, out);
    }

    /// Sends a drain's requests, records its errors and asks for its wake-up.
    fn follow_drain(
        &mut self,
        action: usize,
        next: Next,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        for error in next.errors {
            self.fail(action, error);
        }
        for (request, step) in next.requests {
            self.send(action, request, ApplyStep::Drain(step), now, api, out);
        }
        if let Some(at) = next.wake_at
            && self.scheduled.insert((at, action))
        {
            self.wakeups.push((at, action));
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
            // Every rollout reads the Deployment first, as kubectl's resource builder does.
            Action::RolloutUndo(key, revision) => {
                vec![(
                    get_deployment(user(), key),
                    ApplyStep::Rollout(Rollout::Undo(*revision)),
                )]
            }
            Action::RolloutPause(key, pause) => {
                vec![(
                    get_deployment(user(), key),
                    ApplyStep::Rollout(Rollout::Pause(*pause)),
                )]
            }
            Action::RolloutRestart(key) => {
                vec![(
                    get_deployment(user(), key),
                    ApplyStep::Rollout(Rollout::Restart),
                )]
            }
            Action::Evict(key, grace_period_seconds) => {
                let options = DeleteOptions {
                    grace_period_seconds: *grace_period_seconds,
                    ..DeleteOptions::default()
                };
                vec![(
                    Request::evict(KUBECTL_CLIENT, user(), key, options),
                    ApplyStep::Done,
                )]
            }
            Action::Drain(drain) => {
                let (run, next) = DrainRun::start(drain.clone(), KUBECTL_CLIENT, user());
                self.drains.insert(index, run);
                self.follow_drain(index, next, now, api, out);
                return;
            }
            // Faults are not the user's requests: the world carries them out.
            Action::Fault(_) => return,
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
        if let ApplyStep::Drain(step) = pending.step {
            if let Some(drain) = self.drains.get_mut(&action) {
                let next = drain.on_response(step, response, now);
                self.follow_drain(action, next, now, api, out);
            }
            return;
        }
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
            (Ok(body), ApplyStep::Rollout(rollout)) => {
                let next = match deployment_in(body) {
                    Some(d) => rollout_next(rollout, d, now, self.user.clone()),
                    None => Err("the answer is not a Deployment".to_string()),
                };
                self.follow(action, next, now, api, out);
            }
            (Ok(body), ApplyStep::UndoList(d, revision)) => {
                let next = undo_patch(&d, revision, body, self.user.clone())
                    .map(|r| r.map(|r| (r, ApplyStep::Done)));
                self.follow(action, next, now, api, out);
            }
            (
                _,
                ApplyStep::Done
                | ApplyStep::Rollout(_)
                | ApplyStep::UndoList(..)
                | ApplyStep::Drain(_),
            ) => {}
        }
        if let Err(e) = response {
            self.fail(action, e.to_string());
        }
    }

    /// Sends an action's next request, if any, or records why it stopped.
    fn follow(
        &mut self,
        action: usize,
        next: Result<Option<(Request, ApplyStep)>, String>,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        match next {
            Ok(Some((request, step))) => self.send(action, request, step, now, api, out),
            Ok(None) => {}
            Err(e) => self.fail(action, e),
        }
    }

    /// A pod fault of action `index` has fired: it names the pods it hit and records what
    /// kept it from hitting the others, as the action's errors.
    pub fn fault_done(
        &mut self,
        index: usize,
        hit: &[ObjectKey],
        errors: &[crate::faults::PodFaultError],
    ) {
        if let Some(outcome) = self.outcomes.get_mut(index)
            && !hit.is_empty()
        {
            let names: Vec<String> = hit.iter().map(ToString::to_string).collect();
            outcome.description = format!("{}: {}", outcome.description, names.join(", "));
        }
        for error in errors {
            self.fail(index, error.to_string());
        }
    }

    fn fail(&mut self, action: usize, error: String) {
        if let Some(outcome) = self.outcomes.get_mut(action) {
            outcome.errors.push(error);
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

fn get_deployment(user: UserInfo, key: &ObjectKey) -> Request {
    Request::get(KUBECTL_CLIENT, user, Kind::Deployment, key)
}

fn deployment_in(body: &ResponseBody) -> Option<&Deployment> {
    match body {
        ResponseBody::Object(o) => match &**o {
            Object::Deployment(d) => Some(d),
            _ => None,
        },
        _ => None,
    }
}

/// What a rollout sends once it has read the Deployment, or why it stops (kubectl's checks,
/// in its words): pause and resume patch `spec.paused`, restart patches the template's
/// `restartedAt` annotation with the time, undo lists the ReplicaSets first.
fn rollout_next(
    rollout: Rollout,
    d: &Deployment,
    now: SimTime,
    user: UserInfo,
) -> Result<Option<(Request, ApplyStep)>, String> {
    let key = ObjectKey::new(d.metadata.namespace.clone(), d.metadata.name.clone());
    let name = &d.metadata.name;
    let patch = |op| Request::patch(KUBECTL_CLIENT, user.clone(), Kind::Deployment, &key, op);
    match rollout {
        Rollout::Pause(true) if d.spec.paused => {
            Err(format!("deployments.apps {name:?} is already paused"))
        }
        Rollout::Pause(false) if !d.spec.paused => {
            Err(format!("deployments.apps {name:?} is not paused"))
        }
        Rollout::Pause(pause) => Ok(Some((patch(PatchOp::Paused(pause)), ApplyStep::Done))),
        Rollout::Restart if d.spec.paused => Err(format!(
            "deployments.apps {name:?} can't restart paused deployment (run rollout resume first)"
        )),
        Rollout::Restart => {
            let op = PatchOp::TemplateAnnotation {
                key: RESTARTED_AT_ANNOTATION.to_string(),
                value: rfc3339(now),
            };
            Ok(Some((patch(op), ApplyStep::Done)))
        }
        Rollout::Undo(revision) => {
            let selector = d
                .spec
                .selector
                .to_selector()
                .map_err(|e| format!("invalid selector of Deployment {key}: {e}"))?;
            let options = ListOptions {
                label_selector: Some(selector),
                ..ListOptions::default()
            };
            let list = Request::list(
                KUBECTL_CLIENT,
                user,
                Kind::ReplicaSet,
                &key.namespace,
                options,
            );
            Ok(Some((
                list,
                ApplyStep::UndoList(Box::new(d.clone()), revision),
            )))
        }
    }
}

/// The patch of `kubectl rollout undo` (kubectl's `DeploymentRollbacker`): the ReplicaSet of
/// the revision asked for (0: the one before the newest) among those the Deployment controls;
/// its template (without the hash label) and annotations (the controller's own kept) go into
/// the Deployment. A paused Deployment is refused; a template that already matches is skipped.
fn undo_patch(
    d: &Deployment,
    to_revision: i64,
    listed: &ResponseBody,
    user: UserInfo,
) -> Result<Option<Request>, String> {
    let ResponseBody::List { items, .. } = listed else {
        return Err("the answer is not a list".into());
    };
    let owned: Vec<&ReplicaSet> = items
        .iter()
        .filter_map(|o| match &**o {
            Object::ReplicaSet(rs) => Some(&**rs),
            _ => None,
        })
        .filter(|rs| {
            rs.metadata
                .controller_ref()
                .is_some_and(|r| r.uid == d.metadata.uid)
        })
        .collect();
    let rs = revision_to_undo(d, &owned, to_revision)?;
    if d.spec.paused {
        return Err(
            "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
                .into(),
        );
    }
    if deployment_util::equal_ignore_hash(&rs.spec.template, &d.spec.template) {
        // kubectl prints "skipped rollback (current template already matches revision N)".
        return Ok(None);
    }
    let key = ObjectKey::new(d.metadata.namespace.clone(), d.metadata.name.clone());
    let op = PatchOp::Template {
        template: Box::new(deployment_util::template_without_hash(&rs.spec.template)),
        annotations: deployment_util::annotations_rolled_back_to(d, rs),
    };
    Ok(Some(Request::patch(
        KUBECTL_CLIENT,
        user,
        Kind::Deployment,
        &key,
        op,
    )))
}

/// kubectl's `deploymentRevision`: the ReplicaSet of revision `to`, or for 0 the second
/// newest revision.
fn revision_to_undo<'a>(
    d: &Deployment,
    owned: &[&'a ReplicaSet],
    to: i64,
) -> Result<&'a ReplicaSet, String> {
    let mut latest: Option<(i64, &ReplicaSet)> = None;
    let mut previous: Option<(i64, &ReplicaSet)> = None;
    for &rs in owned {
        let Ok(v) = deployment_util::revision(&rs.metadata.annotations) else {
            continue;
        };
        if to > 0 {
            if v == to {
                return Ok(rs);
            }
            continue;
        }
        if latest.is_none_or(|(l, _)| l < v) {
            previous = latest;
            latest = Some((v, rs));
        } else if previous.is_none_or(|(p, _)| p < v) {
            previous = Some((v, rs));
        }
    }
    if to > 0 {
        return Err(format!("unable to find specified revision {to} in history"));
    }
    previous.map(|(_, rs)| rs).ok_or_else(|| {
        format!(
            "no rollout history found for deployment {:?}",
            d.metadata.name
        )
    })
}
