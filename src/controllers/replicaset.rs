//! The ReplicaSet controller (upstream `pkg/controller/replicaset/replica_set.go`): keeps
//! `spec.replicas` active pods matching each ReplicaSet's selector, and writes its status.
//!
//! It reads kube-controller-manager's shared ReplicaSet and pod informers and keeps upstream's
//! indexes: pods by the uid of their controller (orphans by namespace), ReplicaSets by their
//! controller's uid (a Deployment's ReplicaSets). Informer events put ReplicaSet keys on a rate-limited work
//! queue; `concurrentReplicasetSyncs` workers take keys from it. A sync is upstream's
//! `syncReplicaSet`, and it takes the virtual time its API calls take, because a real worker
//! waits for each call:
//!
//! 1. **claim** the active pods: keep the ones it controls that still match, release (patch
//!    away its reference from) the ones that no longer match, adopt matching orphans (after one
//!    uncached GET that makes sure the ReplicaSet is not being deleted) — one patch at a time;
//! 2. **manage replicas**, only if the expectations of the last sync are met (or 5 minutes old)
//!    and the ReplicaSet is not being deleted: create `min(missing, burstReplicas)` pods in
//!    slow-start batches of 1, 2, 4, … (a batch's creates in parallel; a failure stops the
//!    batches, and the creations never sent are no longer expected), or delete
//!    `min(excess, burstReplicas)` pods in the ranked order ([`super::deletion_ranking`]), all in
//!    parallel;
//! 3. **status**: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
//!    observedGeneration and the ReplicaFailure condition, written only if changed, retried once
//!    after a fresh GET if the write fails;
//! 4. a failed sync goes back on the queue rate-limited; a sync that leaves pods ready but not
//!    yet available for `minReadySeconds` comes back after `minReadySeconds`.
//!
//! Left out: the Events upstream records per create and delete (`SuccessfulCreate`, …), and
//! the informers' periodic resync (12 h or more).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use super::deletion_ranking::{is_active, pods_to_delete};
use super::expectations::Expectations;
use crate::api::labels::LabelSelector;
use crate::api::meta::{ObjectMeta, OwnerReference};
use crate::api::pod::{Pod, PodTemplateSpec};
use crate::api::replicaset::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use crate::api::{Kind, Object, ObjectKey, Uid};
use crate::apiserver::{
    ApiError, ClientId, PatchOp, Request, RequestId, Response, ResponseBody, Subresource, UserInfo,
};
use crate::client::informer::Delta;
use crate::client::informer_set::InformerSet;
use crate::client::workqueue::{RateLimits, WorkQueue};
use crate::component::{ComponentContext, Timer};
use crate::controllers::kube_controller_manager::Controller;
use crate::sim::{SimDuration, SimTime};

/// The ReplicaSet condition a failed create or delete sets.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// The kinds the controller reads.
const KINDS: [Kind; 2] = [Kind::ReplicaSet, Kind::Pod];

/// The timer that wakes the work queue when a held key is due.
const QUEUE_WAKE: Timer = Timer {
    code: 1,
    background: false,
    generation: 0,
};

/// How the controller runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaSetSettings {
    /// Workers (`--concurrent-replicaset-syncs`).
    pub workers: usize,
    /// The most pods one sync creates or deletes (`BurstReplicas`).
    pub burst_replicas: usize,
}

impl Default for ReplicaSetSettings {
    fn default() -> Self {
        let config = crate::config::kube_controller_manager::KubeControllerManagerConfig::default();
        ReplicaSetSettings {
            workers: config.concurrent_replicaset_syncs as usize,
            burst_replicas: config.burst_replicas as usize,
        }
    }
}

/// What the controller has done, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSetCounters {
    /// Syncs finished.
    pub syncs: u64,
    /// Pods created.
    pub pods_created: u64,
    /// Pods deleted.
    pub pods_deleted: u64,
    /// Pods adopted.
    pub pods_adopted: u64,
    /// Pods released.
    pub pods_released: u64,
    /// Status writes.
    pub status_writes: u64,
}

/// A claim to make on a pod: take it, or let it go.
#[derive(Clone, Debug)]
enum Claim {
    Adopt(Arc<Pod>),
    Release(Arc<Pod>),
}

/// Where a sync is.
#[derive(Debug)]
enum Stage {
    /// Claims still to make, one request at a time; `can_adopt` once the uncached GET said.
    Claiming {
        todo: VecDeque<Claim>,
        can_adopt: Option<bool>,
        /// The claim whose request is out.
        current: Option<Claim>,
    },
    /// Waiting for the GET that decides whether orphans may be adopted.
    CheckingAdoption { todo: VecDeque<Claim> },
    /// Slow-start creation: `remaining` not yet sent, a batch of `in_flight` out.
    Creating {
        remaining: usize,
        batch: usize,
        in_flight: usize,
        batch_failed: bool,
    },
    /// Deletes out.
    Deleting { in_flight: usize },
    /// The status write is out; `retried` once it is the second.
    WritingStatus { retried: bool },
    /// The GET before the status write's retry is out.
    RefreshingForStatus,
}

/// One worker's sync of one ReplicaSet.
#[derive(Debug)]
struct Sync {
    key: ObjectKey,
    rs: ReplicaSet,
    /// The active pods it controls (claimed so far).
    pods: Vec<Arc<Pod>>,
    stage: Stage,
    /// The first error of managing replicas (creating or deleting pods).
    manage_error: Option<String>,
    /// Active pods minus desired replicas when the sync managed them.
    diff: i64,
    /// The first error of the sync as a whole (requeues it rate-limited).
    failed: bool,
}

/// Whose a request is: the worker whose sync sent it, and the pod a delete was for.
#[derive(Clone, Debug)]
struct Pending {
    worker: usize,
    deleting: Option<ObjectKey>,
}

/// The ReplicaSet controller.
pub struct ReplicaSetController {
    client: ClientId,
    user: UserInfo,
    settings: ReplicaSetSettings,
    /// Pods by their controller's uid.
    pods_by_owner: BTreeMap<Uid, BTreeMap<Uid, Arc<Pod>>>,
    /// Pods without a controller, by namespace.
    orphans: BTreeMap<String, BTreeMap<Uid, Arc<Pod>>>,
    /// ReplicaSets by their controller's uid.
    replicasets_by_owner: BTreeMap<Uid, BTreeSet<ObjectKey>>,
    queue: WorkQueue<ObjectKey>,
    expectations: Expectations,
    /// Each worker's sync, if it is busy.
    workers: Vec<Option<Sync>>,
    pending: BTreeMap<RequestId, Pending>,
    /// Queue wake-ups already set.
    wakes: BTreeSet<SimTime>,
    counters: ReplicaSetCounters,
}

impl ReplicaSetController {
    /// The controller speaking as `client`, with the ReplicaSet controller's service account.
    pub fn new(client: ClientId, settings: ReplicaSetSettings) -> Self {
        let user = UserInfo::kube_system_service_account("replicaset-controller");
        ReplicaSetController {
            client,
            user,
            settings: ReplicaSetSettings {
                workers: settings.workers.max(1),
                ..settings
            },
            pods_by_owner: BTreeMap::new(),
            orphans: BTreeMap::new(),
            replicasets_by_owner: BTreeMap::new(),
            queue: WorkQueue::new(RateLimits::default()),
            expectations: Expectations::default(),
            workers: Vec::new(),
            pending: BTreeMap::new(),
            wakes: BTreeSet::new(),
            counters: ReplicaSetCounters::default(),
        }
    }

    /// What the controller has done so far.
    pub fn counters(&self) -> ReplicaSetCounters {
        self.counters
    }

    /// Keys waiting for a worker.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    // ---- informer events -------------------------------------------------------------

    fn on_replicaset_delta(&mut self, delta: Delta) {
        match delta {
            Delta::Added(rs) => {
                self.index_replicaset(None, Some(&rs));
                self.queue.add(rs.key());
            }
            Delta::Updated(old, new) => {
                self.index_replicaset(Some(&old), Some(&new));
                if old.meta().uid != new.meta().uid {
                    self.expectations.forget(&old.key());
                }
                self.queue.add(new.key());
            }
            Delta::Deleted(rs) => {
                self.index_replicaset(Some(&rs), None);
                self.expectations.forget(&rs.key());
                self.queue.add(rs.key());
            }
        }
    }

    fn index_replicaset(&mut self, old: Option<&Arc<Object>>, new: Option<&Arc<Object>>) {
        if let Some(old) = old
            && let Some(owner) = old.meta().controller_ref()
            && let Some(set) = self.replicasets_by_owner.get_mut(&owner.uid)
        {
            set.remove(&old.key());
            if set.is_empty() {
                self.replicasets_by_owner.remove(&owner.uid);
            }
        }
        if let Some(new) = new
            && let Some(owner) = new.meta().controller_ref()
        {
            self.replicasets_by_owner
                .entry(owner.uid)
                .or_default()
                .insert(new.key());
        }
    }

    fn on_pod_delta(&mut self, informers: &InformerSet, delta: Delta, now: SimTime) {
        match delta {
            Delta::Added(object) => {
                let Some(pod) = object.as_pod() else { return };
                self.index_pod(None, Some(pod));
                self.pod_added(informers, pod);
            }
            Delta::Updated(old, new) => {
                let (Some(old), Some(new)) = (old.as_pod(), new.as_pod()) else {
                    return;
                };
                self.index_pod(Some(old), Some(new));
                self.pod_updated(informers, old, new, now);
            }
            Delta::Deleted(object) => {
                let Some(pod) = object.as_pod() else { return };
                self.index_pod(Some(pod), None);
                self.pod_deleted(informers, pod);
            }
        }
    }

    fn index_pod(&mut self, old: Option<&Arc<Pod>>, new: Option<&Arc<Pod>>) {
        if let Some(old) = old {
            let bucket = match old.metadata.controller_ref() {
                Some(owner) => self.pods_by_owner.get_mut(&owner.uid),
                None => self.orphans.get_mut(&old.metadata.namespace),
            };
            if let Some(bucket) = bucket {
                bucket.remove(&old.metadata.uid);
            }
        }
        if let Some(new) = new {
            let bucket = match new.metadata.controller_ref() {
                Some(owner) => self.pods_by_owner.entry(owner.uid).or_default(),
                None => self
                    .orphans
                    .entry(new.metadata.namespace.clone())
                    .or_default(),
            };
            bucket.insert(new.metadata.uid, Arc::clone(new));
        }
    }

    /// Upstream `addPod`.
    fn pod_added(&mut self, informers: &InformerSet, pod: &Arc<Pod>) {
        if pod.metadata.is_terminating() {
            // Seen for the first time already being deleted (after a relist, say).
            self.pod_deleted(informers, pod);
            return;
        }
        if let Some(owner) = pod.metadata.controller_ref() {
            if let Some(rs) = self.resolve(informers, &pod.metadata.namespace, owner) {
                self.expectations.creation_observed(&rs);
                self.queue.add(rs);
            }
            return;
        }
        for rs in self.matching_replicasets(informers, pod) {
            self.queue.add(rs);
        }
    }

    /// Upstream `updatePod`.
    fn pod_updated(
        &mut self,
        informers: &InformerSet,
        old: &Arc<Pod>,
        new: &Arc<Pod>,
        now: SimTime,
    ) {
        if old.metadata.resource_version == new.metadata.resource_version {
            return;
        }
        let labels_changed = old.metadata.labels != new.metadata.labels;
        if new.metadata.is_terminating() {
            // The graceful deletion began: the pod no longer counts, so the controller may
            // replace it now rather than when the kubelet is done with it.
            self.pod_deleted(informers, new);
            if labels_changed {
                self.pod_deleted(informers, old);
            }
            return;
        }
        let (old_ref, new_ref) = (old.metadata.controller_ref(), new.metadata.controller_ref());
        let ref_changed = old_ref != new_ref;
        if ref_changed
            && let Some(owner) = old_ref
            && let Some(rs) = self.resolve(informers, &old.metadata.namespace, owner)
        {
            self.queue.add(rs);
        }
        if let Some(owner) = new_ref {
            let Some(key) = self.resolve(informers, &new.metadata.namespace, owner) else {
                return;
            };
            self.queue.add(key.clone());
            // A pod that just became ready becomes available minReadySeconds later; look again
            // then (upstream adds a second for safety).
            let min_ready = self.min_ready_seconds(informers, &key);
            if min_ready > 0
                && old.status.ready_since().is_none()
                && new.status.ready_since().is_some()
            {
                let delay = SimDuration::from_secs(min_ready as u64 + 1);
                self.queue.add_after(key, delay, now);
            }
            return;
        }
        if labels_changed || ref_changed {
            for rs in self.matching_replicasets(informers, new) {
                self.queue.add(rs);
            }
        }
    }

    /// Upstream `deletePod`.
    fn pod_deleted(&mut self, informers: &InformerSet, pod: &Arc<Pod>) {
        let Some(owner) = pod.metadata.controller_ref() else {
            return;
        };
        if let Some(rs) = self.resolve(informers, &pod.metadata.namespace, owner) {
            self.expectations.deletion_observed(&rs, &pod_key(pod));
            self.queue.add(rs);
        }
    }

    /// The ReplicaSet a controller reference names, if it is in the cache with that uid.
    fn resolve(
        &self,
        informers: &InformerSet,
        namespace: &str,
        owner: &OwnerReference,
    ) -> Option<ObjectKey> {
        if owner.kind != Kind::ReplicaSet.name() {
            return None;
        }
        let key = ObjectKey::new(namespace, owner.name.clone());
        let rs = informers.cache(Kind::ReplicaSet).get(&key)?;
        (rs.meta().uid == owner.uid).then_some(key)
    }

    /// The ReplicaSets of the pod's namespace whose selector selects it (upstream
    /// `GetPodReplicaSets`; an empty selector selects nothing).
    fn matching_replicasets(&self, informers: &InformerSet, pod: &Pod) -> Vec<ObjectKey> {
        let namespace = pod.metadata.namespace.as_str();
        informers
            .in_namespace(Kind::ReplicaSet, namespace)
            .filter_map(|(key, object)| match &**object {
                Object::ReplicaSet(rs) if selects(&rs.spec.selector, &pod.metadata.labels) => {
                    Some(key.clone())
                }
                _ => None,
            })
            .collect()
    }

    fn min_ready_seconds(&self, informers: &InformerSet, key: &ObjectKey) -> i32 {
        match informers.cache(Kind::ReplicaSet).get(key).map(|o| &**o) {
            Some(Object::ReplicaSet(rs)) => rs.spec.min_ready_seconds,
            _ => 0,
        }
    }

    // ---- workers ---------------------------------------------------------------------

    /// Hands queued keys to free workers (once both caches are synced, as upstream's workers
    /// wait for them), then makes sure the queue wakes when a held key is due.
    fn pump(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if informers.has_synced_kinds(&KINDS) {
            while let Some(worker) = self.free_worker() {
                let Some(key) = self.queue.get() else { break };
                self.start_sync(informers, worker, key, cx);
            }
        }
        if let Some(at) = self.queue.next_wake()
            && self.wakes.insert(at)
        {
            cx.set_timer(at, QUEUE_WAKE);
        }
    }

    fn free_worker(&mut self) -> Option<usize> {
        if let Some(i) = self.workers.iter().position(Option::is_none) {
            return Some(i);
        }
        if self.workers.len() < self.settings.workers {
            self.workers.push(None);
            return Some(self.workers.len() - 1);
        }
        None
    }

    /// Upstream `syncReplicaSet`, up to its first API call.
    fn start_sync(
        &mut self,
        informers: &InformerSet,
        worker: usize,
        key: ObjectKey,
        cx: &mut ComponentContext<'_>,
    ) {
        let rs = match informers.cache(Kind::ReplicaSet).get(&key).map(|o| &**o) {
            Some(Object::ReplicaSet(rs)) => (**rs).clone(),
            _ => {
                // Deleted: nothing to do but forget what it expected.
                self.expectations.forget(&key);
                self.queue.done(&key);
                self.queue.forget(&key);
                self.counters.syncs += 1;
                return;
            }
        };
        let mut sync = Sync {
            key,
            pods: Vec::new(),
            stage: Stage::Claiming {
                todo: VecDeque::new(),
                can_adopt: None,
                current: None,
            },
            manage_error: None,
            diff: 0,
            failed: false,
            rs,
        };
        if sync.rs.spec.selector.validate().is_err() {
            // Upstream logs an invalid selector and gives up on the ReplicaSet until it changes.
            self.finish(sync, cx);
            return;
        }
        let todo = self.claims(&mut sync);
        sync.stage = Stage::Claiming {
            todo,
            can_adopt: None,
            current: None,
        };
        self.workers[worker] = Some(sync);
        self.advance(informers, worker, cx);
    }

    /// The active pods the ReplicaSet controls and the orphans of its namespace, split into
    /// the ones it keeps (into `sync.pods`) and the claims to make (upstream `ClaimPods`).
    fn claims(&self, sync: &mut Sync) -> VecDeque<Claim> {
        let rs = &sync.rs;
        let uid = rs.metadata.uid;
        let deleting = rs.metadata.is_terminating();
        let owned = self.pods_by_owner.get(&uid).into_iter().flatten();
        let orphans = self
            .orphans
            .get(&rs.metadata.namespace)
            .into_iter()
            .flatten();
        let mut todo = VecDeque::new();
        for (_, pod) in owned.chain(orphans) {
            if !is_active(pod) {
                continue;
            }
            let matches = selects(&rs.spec.selector, &pod.metadata.labels);
            match pod.metadata.controller_ref() {
                Some(_) if matches => sync.pods.push(Arc::clone(pod)),
                Some(_) if !deleting => todo.push_back(Claim::Release(Arc::clone(pod))),
                Some(_) => {}
                None if matches && !deleting => todo.push_back(Claim::Adopt(Arc::clone(pod))),
                None => {}
            }
        }
        todo
    }

    /// Moves worker `worker`'s sync on until it waits for a response or is done.
    fn advance(&mut self, informers: &InformerSet, worker: usize, cx: &mut ComponentContext<'_>) {
        loop {
            let Some(sync) = self.workers[worker].as_mut() else {
                return;
            };
            match &mut sync.stage {
                Stage::Claiming {
                    todo,
                    can_adopt,
                    current,
                } => {
                    if current.is_some() {
                        return;
                    }
                    let Some(claim) = todo.pop_front() else {
                        self.manage(informers, worker, cx);
                        continue;
                    };
                    let request = match &claim {
                        Claim::Adopt(pod) => match can_adopt {
                            None => {
                                // Upstream re-reads the ReplicaSet, uncached, before its first
                                // adoption: it must not adopt for a ReplicaSet being deleted.
                                todo.push_front(claim);
                                let todo = std::mem::take(todo);
                                let get = Request::get(
                                    self.client,
                                    self.user.clone(),
                                    Kind::ReplicaSet,
                                    &sync.key,
                                );
                                sync.stage = Stage::CheckingAdoption { todo };
                                self.send(worker, get, cx);
                                return;
                            }
                            Some(false) => continue,
                            Some(true) => adopt_request(self.client, &self.user, &sync.rs, pod),
                        },
                        Claim::Release(pod) => Request::patch(
                            self.client,
                            self.user.clone(),
                            Kind::Pod,
                            &pod_key(pod),
                            PatchOp::RemoveOwners {
                                owners: vec![sync.rs.metadata.uid],
                                uid: pod.metadata.uid,
                            },
                        ),
                    };
                    *current = Some(claim);
                    self.send(worker, request, cx);
                    return;
                }
                Stage::Creating {
                    remaining,
                    batch,
                    in_flight,
                    batch_failed,
                } => {
                    if *in_flight > 0 {
                        return;
                    }
                    if *batch_failed || *remaining == 0 {
                        // Creations never sent will never be observed.
                        let skipped = *remaining;
                        self.expectations.lower(&sync.key, skipped);
                        self.write_status(worker, cx);
                        continue;
                    }
                    let size = (*batch).min(*remaining);
                    *remaining -= size;
                    *batch = size * 2;
                    *in_flight = size;
                    let requests: Vec<Request> = (0..size)
                        .map(|_| create_request(self.client, &self.user, &sync.rs))
                        .collect();
                    for request in requests {
                        self.send(worker, request, cx);
                    }
                    return;
                }
                Stage::CheckingAdoption { .. }
                | Stage::Deleting { .. }
                | Stage::WritingStatus { .. }
                | Stage::RefreshingForStatus => return,
            }
        }
    }

    /// Upstream `manageReplicas`: decides to create, delete or do nothing, and moves the sync
    /// to that stage (or straight to its status).
    fn manage(&mut self, informers: &InformerSet, worker: usize, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        let Some(mut sync) = self.workers[worker].take() else {
            return;
        };
        let desired = i64::from(sync.rs.spec.replicas.unwrap_or(1));
        sync.diff = sync.pods.len() as i64 - desired;
        let may_act =
            self.expectations.satisfied(&sync.key, now) && !sync.rs.metadata.is_terminating();
        let burst = self.settings.burst_replicas;
        let mut deletes = Vec::new();
        if !may_act || sync.diff == 0 {
            self.workers[worker] = Some(sync);
            self.write_status(worker, cx);
            return;
        } else if sync.diff < 0 {
            let count = (sync.diff.unsigned_abs() as usize).min(burst);
            self.expectations.expect_creations(&sync.key, count, now);
            sync.stage = Stage::Creating {
                remaining: count,
                batch: 1,
                in_flight: 0,
                batch_failed: false,
            };
        } else {
            let count = (sync.diff as usize).min(burst);
            let related = self.related_pods(informers, &sync.rs);
            let related: Vec<&Pod> = related.iter().map(|p| &**p).collect();
            let active: Vec<&Pod> = sync.pods.iter().map(|p| &**p).collect();
            deletes = pods_to_delete(&active, &related, count, now)
                .into_iter()
                .map(pod_key)
                .collect();
            self.expectations.expect_deletions(&sync.key, &deletes, now);
            sync.stage = Stage::Deleting {
                in_flight: deletes.len(),
            };
        }
        self.workers[worker] = Some(sync);
        for key in &deletes {
            let request = Request::delete(self.client, self.user.clone(), Kind::Pod, key, None);
            self.send(worker, request, cx);
        }
    }

    /// The active pods of every ReplicaSet with the same controller (a Deployment's), whose
    /// count per node ranks pods for deletion (upstream `getIndirectlyRelatedPods`, which
    /// lists each ReplicaSet's selector; kubesim takes each one's controlled pods from the
    /// index, the same pods unless another controller's pods match the selector too).
    fn related_pods(&self, informers: &InformerSet, rs: &ReplicaSet) -> Vec<Arc<Pod>> {
        let Some(owner) = rs.metadata.controller_ref() else {
            return Vec::new();
        };
        let Some(siblings) = self.replicasets_by_owner.get(&owner.uid) else {
            return Vec::new();
        };
        let mut related = Vec::new();
        for key in siblings {
            let Some(sibling) = informers.cache(Kind::ReplicaSet).get(key) else {
                continue;
            };
            if let Some(pods) = self.pods_by_owner.get(&sibling.meta().uid) {
                related.extend(pods.values().filter(|p| is_active(p)).cloned());
            }
        }
        related
    }

    /// Computes the status and writes it if it changed; otherwise the sync is done.
    fn write_status(&mut self, worker: usize, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        let Some(sync) = self.workers[worker].as_mut() else {
            return;
        };
        let status = calculate_status(&sync.rs, &sync.pods, sync.manage_error.as_deref(), now);
        if status == sync.rs.status {
            let sync = self.workers[worker].take();
            if let Some(sync) = sync {
                self.finish(sync, cx);
            }
            return;
        }
        sync.rs.status = status;
        sync.stage = Stage::WritingStatus { retried: false };
        let request = status_request(self.client, &self.user, &sync.rs);
        self.send(worker, request, cx);
    }

    /// The end of a sync: requeue as upstream's worker and `syncReplicaSet` decide, and give
    /// the worker the next key.
    fn finish(&mut self, sync: Sync, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        let failed = sync.failed || sync.manage_error.is_some();
        self.queue.done(&sync.key);
        if failed {
            self.queue.add_rate_limited(sync.key.clone(), now);
        } else {
            self.queue.forget(&sync.key);
            let rs = &sync.rs;
            let desired = rs.spec.replicas.unwrap_or(1);
            if rs.spec.min_ready_seconds > 0
                && rs.status.ready_replicas == desired
                && rs.status.available_replicas != desired
            {
                let delay = SimDuration::from_secs(rs.spec.min_ready_seconds as u64);
                self.queue.add_after(sync.key.clone(), delay, now);
            }
        }
        self.counters.syncs += 1;
    }

    fn send(&mut self, worker: usize, request: Request, cx: &mut ComponentContext<'_>) {
        let deleting = (request.verb == crate::apiserver::Verb::Delete)
            .then(|| ObjectKey::new(request.namespace.clone(), request.name.clone()));
        let id = cx.api.submit(cx.now(), request, cx.out);
        self.pending.insert(id, Pending { worker, deleting });
    }

    /// A response to one of worker `worker`'s requests.
    fn on_sync_response(
        &mut self,
        informers: &InformerSet,
        worker: usize,
        pod: Option<ObjectKey>,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        let Some(sync) = self.workers[worker].as_mut() else {
            return;
        };
        match &mut sync.stage {
            Stage::CheckingAdoption { todo } => {
                let allowed = match response {
                    Ok(ResponseBody::Object(fresh)) => {
                        fresh.meta().uid == sync.rs.metadata.uid && !fresh.meta().is_terminating()
                    }
                    _ => false,
                };
                if !allowed {
                    // Upstream's claim fails with an error: the sync is retried later.
                    sync.failed = true;
                }
                let todo = std::mem::take(todo);
                sync.stage = Stage::Claiming {
                    todo,
                    can_adopt: Some(allowed),
                    current: None,
                };
            }
            Stage::Claiming { current, .. } => {
                match (current.take(), response) {
                    (Some(Claim::Adopt(pod)), Ok(ResponseBody::Object(object))) => {
                        self.counters.pods_adopted += 1;
                        sync.pods.push(object.as_pod().cloned().unwrap_or(pod));
                    }
                    (Some(Claim::Release(_)), Ok(_)) => self.counters.pods_released += 1,
                    // Gone or changed meanwhile: not ours to count.
                    (_, Err(ApiError::NotFound { .. } | ApiError::Invalid { .. })) => {}
                    (_, Err(ApiError::Conflict { .. })) => {}
                    (_, Err(_)) => sync.failed = true,
                    (_, Ok(_)) => {}
                }
            }
            Stage::Creating {
                in_flight,
                batch_failed,
                ..
            } => {
                *in_flight = in_flight.saturating_sub(1);
                match response {
                    Ok(_) => self.counters.pods_created += 1,
                    Err(e) => {
                        // The informer will never see this pod.
                        self.expectations.creation_observed(&sync.key);
                        *batch_failed = true;
                        sync.manage_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            Stage::Deleting { in_flight } => {
                *in_flight = in_flight.saturating_sub(1);
                match response {
                    Ok(_) => self.counters.pods_deleted += 1,
                    Err(e) => {
                        // The informer will not see this deletion; a pod already gone is no
                        // error.
                        if let Some(pod) = pod {
                            self.expectations.deletion_observed(&sync.key, &pod);
                        }
                        if !matches!(e, ApiError::NotFound { .. }) {
                            sync.manage_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                if *in_flight == 0 {
                    self.write_status(worker, cx);
                }
                return;
            }
            Stage::WritingStatus { retried } => {
                match response {
                    Ok(ResponseBody::Object(object)) => {
                        self.counters.status_writes += 1;
                        if let Object::ReplicaSet(rs) = &**object {
                            sync.rs = (**rs).clone();
                        }
                    }
                    Err(_) if !*retried => {
                        let get = Request::get(
                            self.client,
                            self.user.clone(),
                            Kind::ReplicaSet,
                            &sync.key,
                        );
                        sync.stage = Stage::RefreshingForStatus;
                        self.send(worker, get, cx);
                        return;
                    }
                    _ => sync.failed = true,
                }
                if let Some(sync) = self.workers[worker].take() {
                    self.finish(sync, cx);
                }
                return;
            }
            Stage::RefreshingForStatus => {
                let Ok(ResponseBody::Object(object)) = response else {
                    sync.failed = true;
                    if let Some(sync) = self.workers[worker].take() {
                        self.finish(sync, cx);
                    }
                    return;
                };
                if let Object::ReplicaSet(fresh) = &**object {
                    let status = std::mem::take(&mut sync.rs.status);
                    sync.rs = (**fresh).clone();
                    sync.rs.status = status;
                }
                sync.stage = Stage::WritingStatus { retried: true };
                let request = status_request(self.client, &self.user, &sync.rs);
                self.send(worker, request, cx);
                return;
            }
        }
        self.advance(informers, worker, cx);
    }
}

impl Controller for ReplicaSetController {
    fn client(&self) -> ClientId {
        self.client
    }

    fn kinds(&self) -> &[Kind] {
        &KINDS
    }

    fn on_delta(&mut self, kind: Kind, delta: Delta, informers: &InformerSet, now: SimTime) {
        match kind {
            Kind::ReplicaSet => self.on_replicaset_delta(delta),
            _ => self.on_pod_delta(informers, delta, now),
        }
    }

    fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some(pending) = self.pending.remove(&request) {
            self.on_sync_response(informers, pending.worker, pending.deleting, response, cx);
        }
    }

    fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        self.pump(informers, cx);
    }

    fn on_timer(&mut self, timer: Timer, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if timer == QUEUE_WAKE {
            let now = cx.now();
            self.wakes = self.wakes.split_off(&(now + SimDuration::from_nanos(1)));
            self.queue.wake(now);
            self.pump(informers, cx);
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `namespace/name` of a pod (upstream `PodKey`).
fn pod_key(pod: &Pod) -> ObjectKey {
    ObjectKey::new(pod.metadata.namespace.clone(), pod.metadata.name.clone())
}

/// Whether a ReplicaSet's selector selects `labels`; an empty selector selects nothing, as
/// upstream guards against one that slipped past validation.
fn selects(selector: &LabelSelector, labels: &crate::api::labels::Labels) -> bool {
    !selector.is_empty() && selector.matches(labels)
}

/// The controller reference a ReplicaSet puts on its pods.
fn controller_reference(rs: &ReplicaSet) -> OwnerReference {
    OwnerReference {
        api_version: Kind::ReplicaSet.api_version().into(),
        kind: Kind::ReplicaSet.name().into(),
        name: rs.metadata.name.clone(),
        uid: rs.metadata.uid,
        controller: true,
        block_owner_deletion: true,
        ..OwnerReference::default()
    }
}

/// A pod made from a ReplicaSet's template (upstream `GetPodFromTemplate`): the template's
/// labels, annotations, finalizers and spec, a name generated from `<replicaset>-`, and the
/// ReplicaSet as its controller.
pub fn pod_from_template(template: &PodTemplateSpec, rs: &ReplicaSet) -> Pod {
    Pod {
        metadata: ObjectMeta {
            generate_name: format!("{}-", rs.metadata.name),
            namespace: rs.metadata.namespace.clone(),
            labels: template.metadata.labels.clone(),
            annotations: template.metadata.annotations.clone(),
            finalizers: template.metadata.finalizers.clone(),
            owner_references: vec![controller_reference(rs)],
            ..ObjectMeta::default()
        },
        spec: Arc::new(template.spec.clone()),
        status: Default::default(),
    }
}

fn create_request(client: ClientId, user: &UserInfo, rs: &ReplicaSet) -> Request {
    let pod = pod_from_template(&rs.spec.template, rs);
    Request::create(client, user.clone(), Object::Pod(Arc::new(pod)))
}

fn adopt_request(client: ClientId, user: &UserInfo, rs: &ReplicaSet, pod: &Pod) -> Request {
    let op = PatchOp::AddOwner {
        reference: controller_reference(rs),
        uid: pod.metadata.uid,
    };
    Request::patch(client, user.clone(), Kind::Pod, &pod_key(pod), op)
}

fn status_request(client: ClientId, user: &UserInfo, rs: &ReplicaSet) -> Request {
    let object = Object::ReplicaSet(Box::new(rs.clone()));
    Request::update(client, user.clone(), object, Some(Subresource::Status))
}

/// Upstream `calculateStatus`: counts of the active pods the ReplicaSet controls, the
/// generation they answer, and the ReplicaFailure condition while creating or deleting fails.
pub fn calculate_status(
    rs: &ReplicaSet,
    pods: &[Arc<Pod>],
    manage_error: Option<&str>,
    now: SimTime,
) -> ReplicaSetStatus {
    let template = &rs.spec.template.metadata.labels;
    let min_ready = SimDuration::from_secs(rs.spec.min_ready_seconds.max(0) as u64);
    let mut status = ReplicaSetStatus {
        replicas: pods.len() as i32,
        observed_generation: rs.metadata.generation,
        conditions: rs.status.conditions.clone(),
        ..ReplicaSetStatus::default()
    };
    for pod in pods {
        if template
            .iter()
            .all(|(k, v)| pod.metadata.labels.get(k) == Some(v))
        {
            status.fully_labeled_replicas += 1;
        }
        if let Some(since) = pod.status.ready_since() {
            status.ready_replicas += 1;
            if is_available(since, min_ready, now) {
                status.available_replicas += 1;
            }
        }
    }
    let failing = status
        .conditions
        .iter()
        .position(|c| c.type_ == REPLICA_FAILURE);
    match (manage_error, failing) {
        (Some(message), None) => {
            let desired = rs.spec.replicas.unwrap_or(1) as usize;
            let reason = match pods.len().cmp(&desired) {
                std::cmp::Ordering::Less => "FailedCreate",
                std::cmp::Ordering::Greater => "FailedDelete",
                std::cmp::Ordering::Equal => "",
            };
            status.conditions.push(ReplicaSetCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: reason.into(),
                message: message.into(),
                last_transition_time: now,
            });
        }
        (None, Some(i)) => {
            status.conditions.remove(i);
        }
        _ => {}
    }
    status
}

/// Upstream `IsPodAvailable`: Ready, and with `minReadySeconds`, Ready for strictly longer.
pub fn is_available(ready_since: SimTime, min_ready: SimDuration, now: SimTime) -> bool {
    min_ready.is_zero() || ready_since + min_ready < now
}

#[cfg(test)]
mod tests;
