//! The Deployment controller (upstream `pkg/controller/deployment`): it rolls a Deployment's
//! pods from one pod template to the next through ReplicaSets, one per template.
//!
//! This file is the controller: its event handlers on kube-controller-manager's shared
//! Deployment, ReplicaSet and pod informers, which put Deployment keys into a rate-limited
//! work queue as upstream's do, and `--concurrent-deployment-syncs` workers (5) that each take
//! a key and sync it. A sync's API calls take virtual time: a worker waits for each answer
//! before its next step and is free only when the sync is over ([`replay`]). The algorithm is in the other files:
//!
//! * [`sync`]: one sync (which way it goes), the new ReplicaSet and revisions, proportional
//!   scaling, history cleanup, the status;
//! * [`rolling`] and [`recreate`]: the two strategies' steps;
//! * [`progress`]: the `Progressing` condition and the deadline;
//! * [`rollback`]: the deprecated rollback annotation;
//! * [`claim`]: adopting and releasing ReplicaSets;
//! * [`util`]: what needs no API call (fenceposts, proportions, hashes, revisions, conditions);
//! * [`requests`]: the calls a sync makes.
//!
//! For its size it keeps indexes, never scanning every object per sync: ReplicaSets by the uid
//! of their controller (and orphans by namespace), pods by the uid of their ReplicaSet.

pub mod claim;
pub mod progress;
pub mod recreate;
pub mod replay;
pub mod requests;
pub mod rollback;
pub mod rolling;
pub mod sync;
pub mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::deployment::Deployment;
use crate::api::pod::Pod;
use crate::api::{Kind, Object, ObjectKey, Uid};
use crate::apiserver::{ApiError, ClientId, Request, RequestId, Response, UserInfo};
use crate::client::informer::Delta;
use crate::client::informer_set::InformerSet;
use crate::client::workqueue::{RateLimits, WorkQueue};
use crate::component::{ComponentContext, Timer};
use crate::controllers::kube_controller_manager::Controller;
use crate::sim::SimTime;

use replay::{Calls, Effect, Flow, Reply};
use requests::SyncContext;
use sync::{Snapshot, sync_deployment};

/// How many times a failing key is retried, rate-limited, before it is dropped until its next
/// event (upstream `maxRetries`).
pub const MAX_RETRIES: u32 = 15;
/// The user the controller speaks as.
pub const DEPLOYMENT_CONTROLLER_USER: &str =
    "system:serviceaccount:kube-system:deployment-controller";

/// The kinds the controller reads.
const KINDS: [Kind; 3] = [Kind::Deployment, Kind::ReplicaSet, Kind::Pod];

/// The controller's only timer: the work queue has a held key due.
const WAKE: Timer = Timer {
    code: 0,
    background: false,
    generation: 0,
};

/// What the controller counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeploymentControllerStats {
    /// Syncs finished.
    pub syncs: u64,
    /// Syncs that ended in an error (and were retried, rate-limited, up to [`MAX_RETRIES`]).
    pub sync_errors: u64,
    /// Requests sent by syncs.
    pub requests: u64,
    /// The last errors, newest last (at most 20), for reports and tests.
    pub last_errors: Vec<String>,
}

/// A sync in progress on a worker.
#[derive(Debug)]
struct Running {
    key: ObjectKey,
    snapshot: Snapshot,
    /// The pods of the candidate ReplicaSets, by ReplicaSet uid (Recreate only).
    pods: BTreeMap<Uid, Vec<Arc<Pod>>>,
    start: SimTime,
    replies: Vec<Reply>,
    /// The request waited for, and the ReplicaSet a create names (to read back from the
    /// cache if it exists already).
    waiting: Option<(RequestId, Option<ObjectKey>)>,
}

/// The Deployment controller.
pub struct DeploymentController {
    client: ClientId,
    user: UserInfo,
    queue: WorkQueue<ObjectKey>,
    workers: Vec<Option<Running>>,
    /// Which worker waits for each request.
    requests: BTreeMap<RequestId, usize>,
    /// ReplicaSets by the uid of their controller.
    rs_by_owner: BTreeMap<Uid, BTreeSet<ObjectKey>>,
    /// ReplicaSets without a controller, by namespace.
    orphan_rs: BTreeMap<String, BTreeSet<ObjectKey>>,
    /// Pods by the uid of their controlling ReplicaSet.
    pods_by_owner: BTreeMap<Uid, BTreeMap<ObjectKey, Arc<Pod>>>,
    /// The earliest wake-up timer set and not yet fired.
    wake_at: Option<SimTime>,
    stats: DeploymentControllerStats,
}

impl DeploymentController {
    /// A controller speaking as `client` with `workers` concurrent syncs.
    pub fn new(client: ClientId, workers: usize) -> Self {
        let user = UserInfo::kube_system_service_account("deployment-controller");
        DeploymentController {
            client,
            user,
            queue: WorkQueue::new(RateLimits::default()),
            workers: (0..workers.max(1)).map(|_| None).collect(),
            requests: BTreeMap::new(),
            rs_by_owner: BTreeMap::new(),
            orphan_rs: BTreeMap::new(),
            pods_by_owner: BTreeMap::new(),
            wake_at: None,
            stats: DeploymentControllerStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &DeploymentControllerStats {
        &self.stats
    }

    /// How many workers the controller runs.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    fn synced(&self, informers: &InformerSet) -> bool {
        informers.has_synced_kinds(&KINDS)
    }

    // -----------------------------------------------------------------------------------------
    // Event handlers
    // -----------------------------------------------------------------------------------------

    fn on_deployment_delta(&mut self, delta: &Delta) {
        // Upstream's add, update and delete handlers all enqueue the Deployment.
        let object = match delta {
            Delta::Added(o) | Delta::Updated(_, o) | Delta::Deleted(o) => o,
        };
        self.queue.add(object.key());
    }

    fn on_replica_set_delta(&mut self, informers: &InformerSet, delta: &Delta) {
        match delta {
            Delta::Added(o) => {
                self.index_replica_set(None, Some(o));
                self.replica_set_added(informers, o);
            }
            Delta::Updated(old, cur) => {
                self.index_replica_set(Some(old), Some(cur));
                self.replica_set_updated(informers, old, cur);
            }
            Delta::Deleted(o) => {
                self.index_replica_set(Some(o), None);
                if let Some(key) = self.owner_of_replica_set(informers, o) {
                    self.queue.add(key);
                }
            }
        }
    }

    /// Upstream `addReplicaSet`: its controller, or for an orphan every Deployment whose
    /// selector matches it (one may adopt it).
    fn replica_set_added(&mut self, informers: &InformerSet, o: &Object) {
        if o.meta().controller_ref().is_some() || o.meta().is_terminating() {
            if let Some(key) = self.owner_of_replica_set(informers, o) {
                self.queue.add(key);
            }
            return;
        }
        for key in self.deployments_selecting(informers, o) {
            self.queue.add(key);
        }
    }

    /// Upstream `updateReplicaSet`: the old controller if it changed, the current one, or for
    /// an orphan whose labels or controller changed, every Deployment that may adopt it.
    fn replica_set_updated(&mut self, informers: &InformerSet, old: &Object, cur: &Object) {
        if old.meta().resource_version == cur.meta().resource_version {
            return;
        }
        let (old_ref, cur_ref) = (old.meta().controller_ref(), cur.meta().controller_ref());
        let ref_changed = old_ref != cur_ref;
        if ref_changed
            && old_ref.is_some()
            && let Some(key) = self.owner_of_replica_set(informers, old)
        {
            self.queue.add(key);
        }
        if cur_ref.is_some() {
            if let Some(key) = self.owner_of_replica_set(informers, cur) {
                self.queue.add(key);
            }
            return;
        }
        if ref_changed || old.meta().labels != cur.meta().labels {
            for key in self.deployments_selecting(informers, cur) {
                self.queue.add(key);
            }
        }
    }

    fn on_pod_delta(&mut self, informers: &InformerSet, delta: &Delta) {
        match delta {
            Delta::Added(o) => self.index_pod(None, Some(o)),
            Delta::Updated(old, cur) => self.index_pod(Some(old), Some(cur)),
            Delta::Deleted(o) => {
                self.index_pod(Some(o), None);
                self.pod_deleted(informers, o);
            }
        }
    }

    /// Upstream `deletePod`: a Recreate Deployment whose last pod went may go on. (Upstream
    /// lists the Deployment's ReplicaSets from the apiserver here; kubesim counts from its
    /// indexes.)
    fn pod_deleted(&mut self, informers: &InformerSet, o: &Object) {
        let Some(d) = self.deployment_of_pod(informers, o) else {
            return;
        };
        if !d.spec.strategy.is_recreate() {
            return;
        }
        let left: usize = self
            .rs_by_owner
            .get(&d.metadata.uid)
            .into_iter()
            .flatten()
            .filter_map(|key| informers.cache(Kind::ReplicaSet).get(key))
            .filter_map(|rs| self.pods_by_owner.get(&rs.meta().uid))
            .map(BTreeMap::len)
            .sum();
        if left == 0 {
            self.queue.add(ObjectKey::new(
                d.metadata.namespace.clone(),
                d.metadata.name.clone(),
            ));
        }
    }

    /// The Deployment a ReplicaSet's controller reference names, if it is in the cache with
    /// that uid (upstream `resolveControllerRef`).
    fn owner_of_replica_set(&self, informers: &InformerSet, o: &Object) -> Option<ObjectKey> {
        let owner = o.meta().controller_ref()?;
        if owner.kind != Kind::Deployment.name() {
            return None;
        }
        let key = ObjectKey::new(o.meta().namespace.clone(), owner.name.clone());
        let d = informers.cache(Kind::Deployment).get(&key)?;
        (d.meta().uid == owner.uid).then_some(key)
    }

    /// The Deployment of a pod, through its ReplicaSet (upstream `getDeploymentForPod`).
    fn deployment_of_pod(&self, informers: &InformerSet, o: &Object) -> Option<Deployment> {
        let owner = o.meta().controller_ref()?;
        if owner.kind != Kind::ReplicaSet.name() {
            return None;
        }
        let rs_key = ObjectKey::new(o.meta().namespace.clone(), owner.name.clone());
        let rs = informers.cache(Kind::ReplicaSet).get(&rs_key)?;
        if rs.meta().uid != owner.uid {
            return None;
        }
        let key = self.owner_of_replica_set(informers, rs)?;
        match &**informers.cache(Kind::Deployment).get(&key)? {
            Object::Deployment(d) => Some((**d).clone()),
            _ => None,
        }
    }

    /// Deployments in the ReplicaSet's namespace whose (non-empty) selector matches its labels
    /// (upstream `GetDeploymentsForReplicaSet`).
    fn deployments_selecting(&self, informers: &InformerSet, o: &Object) -> Vec<ObjectKey> {
        let namespace = o.meta().namespace.clone();
        let from = ObjectKey::new(namespace.clone(), "");
        informers
            .cache(Kind::Deployment)
            .range(from..)
            .take_while(|(k, _)| k.namespace == namespace)
            .filter_map(|(k, d)| match &**d {
                Object::Deployment(d)
                    if !d.spec.selector.is_empty() && d.spec.selector.matches(&o.meta().labels) =>
                {
                    Some(k.clone())
                }
                _ => None,
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Indexes
    // -----------------------------------------------------------------------------------------

    fn index_replica_set(&mut self, old: Option<&Arc<Object>>, new: Option<&Arc<Object>>) {
        if let Some(o) = old {
            let key = o.key();
            match o.meta().controller_ref() {
                Some(r) => remove_from(&mut self.rs_by_owner, &r.uid, &key),
                None => remove_from(&mut self.orphan_rs, &o.meta().namespace, &key),
            }
        }
        if let Some(o) = new {
            let key = o.key();
            match o.meta().controller_ref() {
                Some(r) => self.rs_by_owner.entry(r.uid).or_default().insert(key),
                None => self
                    .orphan_rs
                    .entry(o.meta().namespace.clone())
                    .or_default()
                    .insert(key),
            };
        }
    }

    fn index_pod(&mut self, old: Option<&Arc<Object>>, new: Option<&Arc<Object>>) {
        if let Some(o) = old
            && let Some(r) = o.meta().controller_ref()
            && let Some(pods) = self.pods_by_owner.get_mut(&r.uid)
        {
            pods.remove(&o.key());
            if pods.is_empty() {
                self.pods_by_owner.remove(&r.uid);
            }
        }
        if let Some(o) = new
            && let Some(r) = o.meta().controller_ref()
            && let Some(pod) = o.as_pod()
        {
            self.pods_by_owner
                .entry(r.uid)
                .or_default()
                .insert(o.key(), Arc::clone(pod));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Workers
    // -----------------------------------------------------------------------------------------

    /// Gives free workers the next keys, once the caches have synced.
    fn pump(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if !self.synced(informers) {
            return;
        }
        while let Some(worker) = self.workers.iter().position(Option::is_none) {
            let Some(key) = self.queue.get() else {
                break;
            };
            self.start_sync(informers, worker, key, cx);
        }
        self.arm_wake(cx);
    }

    /// Starts syncing `key` on `worker`: a Deployment gone from the cache has nothing to sync.
    fn start_sync(
        &mut self,
        informers: &InformerSet,
        worker: usize,
        key: ObjectKey,
        cx: &mut ComponentContext<'_>,
    ) {
        let Some(snapshot) = self.snapshot(informers, &key) else {
            self.finish(key, None, Vec::new(), cx.now());
            return;
        };
        let pods = if snapshot.deployment.spec.strategy.is_recreate() {
            self.pod_map(&snapshot)
        } else {
            BTreeMap::new()
        };
        self.workers[worker] = Some(Running {
            key,
            snapshot,
            pods,
            start: cx.now(),
            replies: Vec::new(),
            waiting: None,
        });
        self.run(worker, cx);
    }

    /// What a sync of `key` starts from, if the Deployment is cached.
    fn snapshot(&self, informers: &InformerSet, key: &ObjectKey) -> Option<Snapshot> {
        let Object::Deployment(d) = &**informers.cache(Kind::Deployment).get(key)? else {
            return None;
        };
        let cache = informers.cache(Kind::ReplicaSet);
        let owned = self.rs_by_owner.get(&d.metadata.uid).into_iter().flatten();
        let orphans = self.orphan_rs.get(&key.namespace).into_iter().flatten();
        let keys: BTreeSet<&ObjectKey> = owned.chain(orphans).collect();
        let candidates = keys
            .into_iter()
            .filter_map(|k| match &**cache.get(k)? {
                Object::ReplicaSet(rs) => Some((**rs).clone()),
                _ => None,
            })
            .collect();
        Some(Snapshot {
            deployment: Arc::new((**d).clone()),
            candidates,
        })
    }

    /// The pods of the candidate ReplicaSets that the Deployment's selector matches, by
    /// ReplicaSet uid (upstream `getPodMapForDeployment`).
    fn pod_map(&self, snapshot: &Snapshot) -> BTreeMap<Uid, Vec<Arc<Pod>>> {
        let selector = &snapshot.deployment.spec.selector;
        snapshot
            .candidates
            .iter()
            .map(|rs| {
                let pods = self
                    .pods_by_owner
                    .get(&rs.metadata.uid)
                    .into_iter()
                    .flat_map(BTreeMap::values)
                    .filter(|p| selector.matches(&p.metadata.labels))
                    .cloned()
                    .collect();
                (rs.metadata.uid, pods)
            })
            .collect()
    }

    /// Runs `worker`'s sync from the top with the answers it has: it sends its next request,
    /// or it is over.
    fn run(&mut self, worker: usize, cx: &mut ComponentContext<'_>) {
        let Some(running) = self.workers[worker].as_mut() else {
            return;
        };
        let mut sync = SyncContext {
            calls: Calls::new(running.start, &running.replies),
            client: self.client,
            user: &self.user,
            pods: &running.pods,
        };
        let result = sync_deployment(&mut sync, &running.snapshot);
        let pending = sync.calls.take_pending();
        let effects = sync.calls.into_effects();
        match (result, pending) {
            (Err(Flow::Suspend), Some(request)) => {
                let created = created_replica_set(&request);
                let id = cx.api.submit(cx.now(), request, cx.out);
                running.waiting = Some((id, created));
                self.requests.insert(id, worker);
                self.stats.requests += 1;
            }
            (result, _) => {
                let error = result.err().map(|e| e.to_string());
                if let Some(running) = self.workers[worker].take() {
                    self.finish(running.key, error, effects, cx.now());
                }
            }
        }
    }

    /// A sync is over (upstream `processNextWorkItem` after `syncHandler`): its requeues, then
    /// `handleErr` (an error retries the key, rate-limited, up to [`MAX_RETRIES`] times), then
    /// `Done`.
    fn finish(
        &mut self,
        key: ObjectKey,
        error: Option<String>,
        effects: Vec<Effect>,
        now: SimTime,
    ) {
        for effect in effects {
            match effect {
                Effect::EnqueueAfter(delay) => self.queue.add_after(key.clone(), delay, now),
                Effect::EnqueueRateLimited => self.queue.add_rate_limited(key.clone(), now),
            }
        }
        self.stats.syncs += 1;
        match error {
            None => self.queue.forget(&key),
            Some(e) => {
                self.stats.sync_errors += 1;
                if self.stats.last_errors.len() == 20 {
                    self.stats.last_errors.remove(0);
                }
                self.stats.last_errors.push(format!("{key}: {e}"));
                if self.queue.num_requeues(&key) < MAX_RETRIES {
                    self.queue.add_rate_limited(key.clone(), now);
                } else {
                    self.queue.forget(&key);
                }
            }
        }
        self.queue.done(&key);
    }

    /// An answer for a worker: recorded, and the sync resumes.
    fn on_reply(
        &mut self,
        informers: &InformerSet,
        worker: usize,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        let Some(running) = self.workers[worker].as_mut() else {
            return;
        };
        let Some((waited, created)) = running.waiting.take() else {
            return;
        };
        if waited != request {
            return;
        }
        let cached = match (response, created) {
            (Err(ApiError::AlreadyExists { .. }), Some(key)) => {
                informers.cache(Kind::ReplicaSet).get(&key).cloned()
            }
            _ => None,
        };
        running.replies.push(Reply {
            response: response.clone(),
            at: cx.now(),
            cached,
        });
        self.run(worker, cx);
        self.pump(informers, cx);
    }

    /// Sets a timer for the queue's next held key, unless one is set for then or sooner.
    fn arm_wake(&mut self, cx: &mut ComponentContext<'_>) {
        let Some(at) = self.queue.next_wake() else {
            return;
        };
        if self.wake_at.is_some_and(|armed| armed <= at) {
            return;
        }
        self.wake_at = Some(at);
        cx.set_timer(at, WAKE);
    }
}

/// The ReplicaSet a request creates, if it is such a create.
fn created_replica_set(request: &Request) -> Option<ObjectKey> {
    (request.kind == Kind::ReplicaSet && request.verb == crate::apiserver::Verb::Create)
        .then(|| ObjectKey::new(request.namespace.clone(), request.name.clone()))
}

fn remove_from<K: Ord + Clone>(
    index: &mut BTreeMap<K, BTreeSet<ObjectKey>>,
    at: &K,
    key: &ObjectKey,
) {
    if let Some(keys) = index.get_mut(at) {
        keys.remove(key);
        if keys.is_empty() {
            index.remove(at);
        }
    }
}

impl Controller for DeploymentController {
    fn client(&self) -> ClientId {
        self.client
    }

    fn kinds(&self) -> &[Kind] {
        &KINDS
    }

    fn on_delta(&mut self, kind: Kind, delta: Delta, informers: &InformerSet, _now: SimTime) {
        match kind {
            Kind::Deployment => self.on_deployment_delta(&delta),
            Kind::ReplicaSet => self.on_replica_set_delta(informers, &delta),
            _ => self.on_pod_delta(informers, &delta),
        }
    }

    fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some(worker) = self.requests.remove(&request) {
            self.on_reply(informers, worker, request, response, cx);
        }
    }

    fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        self.pump(informers, cx);
    }

    fn on_timer(&mut self, timer: Timer, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if timer != WAKE {
            return;
        }
        if self.wake_at.is_some_and(|at| at <= cx.now()) {
            self.wake_at = None;
        }
        self.queue.wake(cx.now());
        self.pump(informers, cx);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests;
