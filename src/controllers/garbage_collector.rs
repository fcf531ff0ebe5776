//! The garbage collector (upstream `pkg/controller/garbagecollector/`): deletes objects whose
//! owners are gone, and carries out the orphan and foreground propagation policies.
//!
//! **The graph.** kube-controller-manager's shared informers of every namespaced kind kubesim
//! models (Events aside; upstream's typed informers come from the same factory) feed a graph
//! of objects by uid, each with its dependents (the objects whose `ownerReferences` name it).
//! An owner not seen yet is a *virtual* node until its own event arrives (upstream
//! `GraphBuilder.processGraphChanges`). Changes put uids on two rate-limited work queues:
//!
//! * **attempt to delete** — a dependent whose owner went away, a virtual owner to check, an
//!   owner deleting its dependents in the foreground. The item is read uncached; each owner
//!   is read uncached too (unless recently found absent) and classified *solid* (exists),
//!   *dangling* (gone, or another object now has its name) or *waiting* (being deleted in
//!   the foreground). With a solid owner, references to the others are removed by a patch;
//!   otherwise the item is deleted, with its own finalizer's policy (background by default).
//!   An owner deleting its dependents in the foreground loses its `foregroundDeletion`
//!   finalizer (and so goes) once no dependent that blocks owner deletion is left;
//! * **attempt to orphan** — an owner deleted with the `orphan` finalizer: every dependent
//!   loses its reference to it (in parallel), then the owner loses the finalizer.
//!
//! `--concurrent-gc-syncs` workers serve each queue; like every controller here, a worker waits
//! for its API calls. Owner references to kinds kubesim does not model (a StatefulSet, a Job)
//! cannot be checked, so they count as solid: their dependents are never collected.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::api::meta::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER, OwnerReference};
use crate::api::{Kind, Object, ObjectKey, Uid};
use crate::apiserver::{
    ApiError, ClientId, DeleteOptions, PatchOp, PropagationPolicy, Request, RequestId, Response,
    ResponseBody, UserInfo,
};
use crate::client::informer::Delta;
use crate::client::informer_set::InformerSet;
use crate::client::workqueue::{RateLimits, WorkQueue};
use crate::component::{ComponentContext, Timer};
use crate::controllers::kube_controller_manager::Controller;
use crate::sim::SimTime;

/// The timer that wakes the work queues when a held item is due.
const QUEUE_WAKE: Timer = Timer {
    code: 1,
    background: false,
    generation: 0,
};

/// Owners recently found absent, so their dependents' checks need no GET (upstream keeps an
/// LRU of 500).
const ABSENT_OWNER_CACHE_SIZE: usize = 500;

/// What the collector has done, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GarbageCollectorCounters {
    /// Objects it deleted.
    pub deleted: u64,
    /// Dependents it orphaned (removed an owner reference from).
    pub orphaned: u64,
    /// Finalizers it removed.
    pub finalizers_removed: u64,
}

/// Who an object in the graph is.
#[derive(Clone, Debug)]
enum Identity {
    /// Seen through an informer: its latest state.
    Observed(Arc<Object>),
    /// Only named by a dependent's owner reference (`kind` is None for a kind kubesim does
    /// not model, which is never read).
    Virtual { kind: Option<Kind>, key: ObjectKey },
}

/// One object of the graph.
#[derive(Clone, Debug)]
struct GraphNode {
    identity: Identity,
    dependents: BTreeSet<Uid>,
    /// It has a deletionTimestamp.
    being_deleted: bool,
    /// It is being deleted in the foreground: it waits for its blocking dependents.
    deleting_dependents: bool,
}

impl GraphNode {
    fn kind_and_key(&self) -> Option<(Kind, ObjectKey)> {
        match &self.identity {
            Identity::Observed(o) => Some((o.kind(), o.key())),
            Identity::Virtual { kind, key } => kind.map(|k| (k, key.clone())),
        }
    }

    fn owners(&self) -> &[OwnerReference] {
        match &self.identity {
            Identity::Observed(o) => &o.meta().owner_references,
            Identity::Virtual { .. } => &[],
        }
    }

    fn is_observed(&self) -> bool {
        matches!(self.identity, Identity::Observed(_))
    }
}

/// An owner reference's coordinates, for the absent-owner cache.
type OwnerCoordinates = (Kind, ObjectKey, Uid);

/// Which queue an item came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queue {
    Delete,
    Orphan,
}

/// Where a job is.
#[derive(Debug)]
enum Step {
    /// The uncached GET of the item is out.
    ReadingItem,
    /// The item's owners are being read, one GET at a time.
    ReadingOwners {
        item: Arc<Object>,
        todo: VecDeque<OwnerReference>,
        current: Option<OwnerReference>,
        solid: Vec<OwnerReference>,
        dangling: Vec<OwnerReference>,
        waiting: Vec<OwnerReference>,
    },
    /// The job's writes are out; when they are answered, `then` follows.
    Writing { in_flight: usize, then: Then },
}

/// What a job does once its writes are answered.
#[derive(Debug)]
enum Then {
    Done,
    /// Delete the item (after unblocking it from owners that wait for it).
    Delete(Arc<Object>, PropagationPolicy),
    /// Remove the finalizer from the owner (after orphaning its dependents).
    RemoveFinalizer(&'static str),
}

/// One worker's job on one item.
#[derive(Debug)]
struct Job {
    queue: Queue,
    uid: Uid,
    step: Step,
    /// The job failed: the item goes back on its queue rate-limited.
    failed: bool,
    /// Put the item back rate-limited even on success (a virtual node not observed yet).
    requeue: bool,
}

/// The garbage collector.
pub struct GarbageCollector {
    client: ClientId,
    user: UserInfo,
    workers_per_queue: usize,
    /// The kinds it watches.
    kinds: Vec<Kind>,
    graph: BTreeMap<Uid, GraphNode>,
    attempt_to_delete: WorkQueue<Uid>,
    attempt_to_orphan: WorkQueue<Uid>,
    /// Jobs by worker; the first half serve attempt-to-delete, the second attempt-to-orphan.
    workers: Vec<Option<Job>>,
    pending: BTreeMap<RequestId, usize>,
    absent_owners: BTreeMap<OwnerCoordinates, u64>,
    absent_by_age: BTreeMap<u64, OwnerCoordinates>,
    absent_clock: u64,
    wakes: BTreeSet<SimTime>,
    counters: GarbageCollectorCounters,
}

impl GarbageCollector {
    /// The collector speaking as `client` with the garbage collector's service account, with
    /// `workers` workers per queue (`--concurrent-gc-syncs`).
    pub fn new(client: ClientId, workers: usize) -> Self {
        let user = UserInfo::kube_system_service_account("generic-garbage-collector");
        let kinds: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| k.is_namespaced() && *k != Kind::Event)
            .collect();
        let workers_per_queue = workers.max(1);
        GarbageCollector {
            client,
            user,
            workers_per_queue,
            kinds,
            graph: BTreeMap::new(),
            attempt_to_delete: WorkQueue::new(RateLimits::default()),
            attempt_to_orphan: WorkQueue::new(RateLimits::default()),
            workers: (0..2 * workers_per_queue).map(|_| None).collect(),
            pending: BTreeMap::new(),
            absent_owners: BTreeMap::new(),
            absent_by_age: BTreeMap::new(),
            absent_clock: 0,
            wakes: BTreeSet::new(),
            counters: GarbageCollectorCounters::default(),
        }
    }

    /// What the collector has done so far.
    pub fn counters(&self) -> GarbageCollectorCounters {
        self.counters
    }

    /// Objects in the graph (virtual ones included).
    pub fn graph_len(&self) -> usize {
        self.graph.len()
    }

    // ---- the graph -------------------------------------------------------------------

    fn observe_delta(&mut self, delta: Delta) {
        match delta {
            Delta::Added(object) => self.observe(None, object),
            Delta::Updated(old, new) => self.observe(Some(old), new),
            Delta::Deleted(object) => self.observe_deletion(&object),
        }
    }

    /// An object added or updated (upstream `processGraphChanges` for add and update events).
    fn observe(&mut self, old: Option<Arc<Object>>, object: Arc<Object>) {
        let uid = object.meta().uid;
        // The previous version is held by its Arc, so its owners are read, not copied.
        let previous = match self.graph.get(&uid).map(|n| &n.identity) {
            Some(Identity::Observed(o)) => Some(Arc::clone(o)),
            _ => None,
        };
        let old_owners: &[OwnerReference] = previous
            .as_ref()
            .map_or(&[], |o| &o.meta().owner_references);
        let meta = object.meta();
        let being_deleted = meta.deletion_timestamp.is_some();
        let node = self.graph.entry(uid).or_insert_with(|| GraphNode {
            identity: Identity::Observed(Arc::clone(&object)),
            dependents: BTreeSet::new(),
            being_deleted,
            deleting_dependents: false,
        });
        node.identity = Identity::Observed(Arc::clone(&object));
        node.being_deleted = being_deleted;
        let namespace = meta.namespace.clone();
        for reference in &meta.owner_references {
            if !old_owners.iter().any(|r| r.uid == reference.uid) {
                self.add_dependent(reference, &namespace, uid);
            }
        }
        for reference in old_owners {
            let kept = meta
                .owner_references
                .iter()
                .find(|r| r.uid == reference.uid);
            let unblocked =
                kept.is_none_or(|r| reference.block_owner_deletion && !r.block_owner_deletion);
            if kept.is_none()
                && let Some(owner) = self.graph.get_mut(&reference.uid)
            {
                owner.dependents.remove(&uid);
            }
            // An owner waiting for its dependents may be able to go now.
            if unblocked
                && self
                    .graph
                    .get(&reference.uid)
                    .is_some_and(|o| o.deleting_dependents)
            {
                self.attempt_to_delete.add(reference.uid);
            }
        }
        self.process_transitions(old.as_deref(), &object);
    }

    /// Makes `dependent` a dependent of `reference`'s owner, adding a virtual node for an
    /// owner not seen yet (and checking whether it exists).
    fn add_dependent(&mut self, reference: &OwnerReference, namespace: &str, dependent: Uid) {
        let owner = self.graph.entry(reference.uid).or_insert_with(|| {
            let kind = Kind::from_name(&reference.kind);
            let key = match kind {
                Some(k) if !k.is_namespaced() => ObjectKey::cluster(reference.name.clone()),
                _ => ObjectKey::new(namespace, reference.name.clone()),
            };
            GraphNode {
                identity: Identity::Virtual { kind, key },
                dependents: BTreeSet::new(),
                being_deleted: false,
                deleting_dependents: false,
            }
        });
        let is_new_virtual = !owner.is_observed() && owner.dependents.is_empty();
        owner.dependents.insert(dependent);
        if is_new_virtual && Kind::from_name(&reference.kind).is_some() {
            self.attempt_to_delete.add(reference.uid);
        }
    }

    /// Upstream `processTransitions`: an object that just started waiting for its dependents
    /// to be orphaned or deleted.
    fn process_transitions(&mut self, old: Option<&Object>, new: &Object) {
        let waits_for = |o: Option<&Object>, finalizer: &str| {
            o.is_some_and(|o| {
                o.meta().deletion_timestamp.is_some()
                    && o.meta().finalizers.iter().any(|f| f == finalizer)
            })
        };
        let uid = new.meta().uid;
        if waits_for(Some(new), ORPHAN_FINALIZER) && !waits_for(old, ORPHAN_FINALIZER) {
            self.attempt_to_orphan.add(uid);
        }
        if waits_for(Some(new), FOREGROUND_FINALIZER) && !waits_for(old, FOREGROUND_FINALIZER) {
            let Some(node) = self.graph.get_mut(&uid) else {
                return;
            };
            node.deleting_dependents = true;
            let dependents: Vec<Uid> = node.dependents.iter().copied().collect();
            for dependent in dependents {
                self.attempt_to_delete.add(dependent);
            }
            self.attempt_to_delete.add(uid);
        }
    }

    /// An object deleted (upstream's delete event, observed or virtual): its dependents are
    /// checked, and an owner waiting for it looks again.
    fn observe_deletion(&mut self, object: &Object) {
        self.remove_node(object.meta().uid, &object.meta().owner_references);
    }

    fn remove_node(&mut self, uid: Uid, owners: &[OwnerReference]) {
        let Some(node) = self.graph.remove(&uid) else {
            return;
        };
        if !node.dependents.is_empty()
            && let Some((kind, key)) = node.kind_and_key()
        {
            self.remember_absent((kind, key, uid));
        }
        for dependent in &node.dependents {
            self.attempt_to_delete.add(*dependent);
        }
        for reference in owners {
            if let Some(owner) = self.graph.get_mut(&reference.uid) {
                owner.dependents.remove(&uid);
                if owner.deleting_dependents {
                    self.attempt_to_delete.add(reference.uid);
                }
            }
        }
    }

    fn remember_absent(&mut self, coordinates: OwnerCoordinates) {
        self.absent_clock += 1;
        if let Some(old) = self
            .absent_owners
            .insert(coordinates.clone(), self.absent_clock)
        {
            self.absent_by_age.remove(&old);
        }
        self.absent_by_age.insert(self.absent_clock, coordinates);
        while self.absent_owners.len() > ABSENT_OWNER_CACHE_SIZE {
            let Some((_, oldest)) = self.absent_by_age.pop_first() else {
                break;
            };
            self.absent_owners.remove(&oldest);
        }
    }

    // ---- workers ---------------------------------------------------------------------

    fn pump(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if informers.has_synced_kinds(&self.kinds) {
            for worker in 0..self.workers.len() {
                if self.workers[worker].is_some() {
                    continue;
                }
                let queue = if worker < self.workers_per_queue {
                    Queue::Delete
                } else {
                    Queue::Orphan
                };
                let next = match queue {
                    Queue::Delete => self.attempt_to_delete.get(),
                    Queue::Orphan => self.attempt_to_orphan.get(),
                };
                let Some(uid) = next else { continue };
                self.start_job(worker, queue, uid, cx);
            }
        }
        let due = [
            self.attempt_to_delete.next_wake(),
            self.attempt_to_orphan.next_wake(),
        ];
        for at in due.into_iter().flatten() {
            if self.wakes.insert(at) {
                cx.set_timer(at, QUEUE_WAKE);
            }
        }
    }

    fn start_job(&mut self, worker: usize, queue: Queue, uid: Uid, cx: &mut ComponentContext<'_>) {
        let mut job = Job {
            queue,
            uid,
            step: Step::Writing {
                in_flight: 0,
                then: Then::Done,
            },
            failed: false,
            requeue: false,
        };
        let Some(node) = self.graph.get(&uid) else {
            // Gone from the graph meanwhile: nothing to do.
            self.finish(job, cx);
            return;
        };
        match queue {
            Queue::Delete => {
                if node.being_deleted && !node.deleting_dependents {
                    // Being deleted is a one-way trip: wait for its delete event.
                    self.finish(job, cx);
                    return;
                }
                let Some((kind, key)) = node.kind_and_key() else {
                    self.finish(job, cx);
                    return;
                };
                job.step = Step::ReadingItem;
                self.workers[worker] = Some(job);
                let get = Request::get(self.client, self.user.clone(), kind, &key);
                self.send(worker, get, cx);
            }
            Queue::Orphan => {
                let dependents: Vec<Uid> = node.dependents.iter().copied().collect();
                let requests: Vec<Request> = dependents
                    .iter()
                    .filter_map(|d| self.graph.get(d))
                    .filter_map(|d| match &d.identity {
                        Identity::Observed(o) => Some(Arc::clone(o)),
                        Identity::Virtual { .. } => None,
                    })
                    .map(|dependent| {
                        let op = PatchOp::RemoveOwners {
                            owners: vec![uid],
                            uid: dependent.meta().uid,
                        };
                        let (kind, key) = (dependent.kind(), dependent.key());
                        Request::patch(self.client, self.user.clone(), kind, &key, op)
                    })
                    .collect();
                job.step = Step::Writing {
                    in_flight: requests.len(),
                    then: Then::RemoveFinalizer(ORPHAN_FINALIZER),
                };
                self.workers[worker] = Some(job);
                for request in requests {
                    self.send(worker, request, cx);
                }
                self.after_writes(worker, cx);
            }
        }
    }

    fn send(&mut self, worker: usize, request: Request, cx: &mut ComponentContext<'_>) {
        let id = cx.api.submit(cx.now(), request, cx.out);
        self.pending.insert(id, worker);
    }

    fn on_job_response(
        &mut self,
        worker: usize,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        let Some(mut job) = self.workers[worker].take() else {
            return;
        };
        match std::mem::replace(
            &mut job.step,
            Step::Writing {
                in_flight: 0,
                then: Then::Done,
            },
        ) {
            Step::ReadingItem => self.item_read(worker, job, response, cx),
            Step::ReadingOwners {
                item,
                todo,
                current,
                mut solid,
                mut dangling,
                mut waiting,
            } => {
                match (current, response) {
                    (Some(reference), Ok(ResponseBody::Object(owner)))
                        if owner.meta().uid == reference.uid =>
                    {
                        let foreground = owner.meta().deletion_timestamp.is_some()
                            && owner
                                .meta()
                                .finalizers
                                .iter()
                                .any(|f| f == FOREGROUND_FINALIZER);
                        if foreground {
                            waiting.push(reference);
                        } else {
                            solid.push(reference);
                        }
                    }
                    (Some(reference), Ok(_) | Err(ApiError::NotFound { .. })) => {
                        if let Some(kind) = Kind::from_name(&reference.kind) {
                            let key = owner_key(kind, &reference, &item.meta().namespace);
                            self.remember_absent((kind, key, reference.uid));
                        }
                        dangling.push(reference);
                    }
                    (_, Err(_)) => {
                        job.failed = true;
                        self.finish(job, cx);
                        return;
                    }
                    (None, Ok(_)) => {}
                }
                job.step = Step::ReadingOwners {
                    item,
                    todo,
                    current: None,
                    solid,
                    dangling,
                    waiting,
                };
                self.workers[worker] = Some(job);
                self.read_next_owner(worker, cx);
            }
            Step::Writing { in_flight, then } => {
                match response {
                    Ok(_) | Err(ApiError::NotFound { .. }) => {}
                    Err(_) => job.failed = true,
                }
                job.step = Step::Writing {
                    in_flight: in_flight.saturating_sub(1),
                    then,
                };
                self.workers[worker] = Some(job);
                self.after_writes(worker, cx);
            }
        }
    }

    /// Upstream `attemptToDeleteItem` once the item is read.
    fn item_read(
        &mut self,
        worker: usize,
        mut job: Job,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        let uid = job.uid;
        let latest = match response {
            Ok(ResponseBody::Object(o)) if o.meta().uid == uid => Arc::clone(o),
            Ok(_) | Err(ApiError::NotFound { .. }) => {
                // It does not exist (or another object has its name): a virtual delete.
                let owners: Vec<OwnerReference> = self
                    .graph
                    .get(&uid)
                    .map(|n| n.owners().to_vec())
                    .unwrap_or_default();
                self.remove_node(uid, &owners);
                self.finish(job, cx);
                return;
            }
            Err(_) => {
                job.failed = true;
                self.finish(job, cx);
                return;
            }
        };
        let Some(node) = self.graph.get(&uid) else {
            self.finish(job, cx);
            return;
        };
        // A virtual node that exists: look again until its informer reports it.
        job.requeue = !node.is_observed();
        if node.deleting_dependents {
            self.deleting_dependents(worker, job, &latest, cx);
            return;
        }
        let owners = latest.meta().owner_references.clone();
        if owners.is_empty() {
            self.finish(job, cx);
            return;
        }
        job.step = Step::ReadingOwners {
            item: latest,
            todo: owners.into(),
            current: None,
            solid: Vec::new(),
            dangling: Vec::new(),
            waiting: Vec::new(),
        };
        self.workers[worker] = Some(job);
        self.read_next_owner(worker, cx);
    }

    /// Upstream `processDeletingDependentsItem`: the owner goes once nothing blocks it.
    fn deleting_dependents(
        &mut self,
        worker: usize,
        mut job: Job,
        latest: &Arc<Object>,
        cx: &mut ComponentContext<'_>,
    ) {
        let uid = job.uid;
        let blocking: Vec<Uid> = self
            .graph
            .get(&uid)
            .map(|n| {
                n.dependents
                    .iter()
                    .copied()
                    .filter(|d| {
                        self.graph.get(d).is_some_and(|d| {
                            d.owners()
                                .iter()
                                .any(|r| r.uid == uid && r.block_owner_deletion)
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if blocking.is_empty() {
            let op = PatchOp::RemoveFinalizer(FOREGROUND_FINALIZER.into());
            let request = Request::patch(
                self.client,
                self.user.clone(),
                latest.kind(),
                &latest.key(),
                op,
            );
            job.step = Step::Writing {
                in_flight: 1,
                then: Then::Done,
            };
            self.counters.finalizers_removed += 1;
            self.workers[worker] = Some(job);
            self.send(worker, request, cx);
            return;
        }
        for dependent in blocking {
            if self
                .graph
                .get(&dependent)
                .is_some_and(|d| !d.deleting_dependents)
            {
                self.attempt_to_delete.add(dependent);
            }
        }
        self.finish(job, cx);
    }

    /// Reads the next owner (upstream `isDangling`), or decides once all are classified.
    fn read_next_owner(&mut self, worker: usize, cx: &mut ComponentContext<'_>) {
        loop {
            let Some(job) = self.workers[worker].as_mut() else {
                return;
            };
            let Step::ReadingOwners {
                item,
                todo,
                current,
                solid,
                dangling,
                ..
            } = &mut job.step
            else {
                return;
            };
            let Some(reference) = todo.pop_front() else {
                break;
            };
            let Some(kind) = Kind::from_name(&reference.kind) else {
                // A kind kubesim does not model: it cannot be checked, so it holds.
                solid.push(reference);
                continue;
            };
            let key = owner_key(kind, &reference, &item.meta().namespace);
            let coordinates = (kind, key.clone(), reference.uid);
            if self.absent_owners.contains_key(&coordinates) {
                dangling.push(reference);
                continue;
            }
            *current = Some(reference);
            let get = Request::get(self.client, self.user.clone(), kind, &key);
            self.send(worker, get, cx);
            return;
        }
        if let Some(job) = self.workers[worker].take() {
            self.decide(worker, job, cx);
        }
    }

    /// Upstream `attemptToDeleteItem`'s decision, once every owner is classified.
    fn decide(&mut self, worker: usize, mut job: Job, cx: &mut ComponentContext<'_>) {
        let Step::ReadingOwners {
            item,
            solid,
            dangling,
            waiting,
            ..
        } = std::mem::replace(
            &mut job.step,
            Step::Writing {
                in_flight: 0,
                then: Then::Done,
            },
        )
        else {
            return;
        };
        let (kind, key) = (item.kind(), item.key());
        let uid = item.meta().uid;
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                self.finish(job, cx);
                return;
            }
            // Some owner holds it: only the references to the others go.
            let owners = dangling.iter().chain(&waiting).map(|r| r.uid).collect();
            let op = PatchOp::RemoveOwners { owners, uid };
            let request = Request::patch(self.client, self.user.clone(), kind, &key, op);
            job.step = Step::Writing {
                in_flight: 1,
                then: Then::Done,
            };
            self.counters.orphaned += 1;
            self.workers[worker] = Some(job);
            self.send(worker, request, cx);
            return;
        }
        let has_dependents = self
            .graph
            .get(&uid)
            .is_some_and(|n| !n.dependents.is_empty());
        if !waiting.is_empty() && has_dependents {
            // Its owner waits for it and it has dependents of its own: it goes in the
            // foreground too, after no longer blocking its owners (which would deadlock).
            let requests: Vec<Request> = waiting
                .iter()
                .filter(|r| r.block_owner_deletion)
                .map(|r| {
                    let op = PatchOp::AddOwner {
                        reference: OwnerReference {
                            block_owner_deletion: false,
                            ..r.clone()
                        },
                        uid,
                    };
                    Request::patch(self.client, self.user.clone(), kind, &key, op)
                })
                .collect();
            job.step = Step::Writing {
                in_flight: requests.len(),
                then: Then::Delete(item, PropagationPolicy::Foreground),
            };
            self.workers[worker] = Some(job);
            for request in requests {
                self.send(worker, request, cx);
            }
            self.after_writes(worker, cx);
            return;
        }
        let finalizers = &item.meta().finalizers;
        let policy = if finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
            PropagationPolicy::Orphan
        } else if finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        job.step = Step::Writing {
            in_flight: 0,
            then: Then::Delete(item, policy),
        };
        self.workers[worker] = Some(job);
        self.after_writes(worker, cx);
    }

    /// Once a job's writes are all answered: its next write, or its end.
    fn after_writes(&mut self, worker: usize, cx: &mut ComponentContext<'_>) {
        let Some(mut job) = self.workers[worker].take() else {
            return;
        };
        let Step::Writing { in_flight, then } = &mut job.step else {
            self.workers[worker] = Some(job);
            return;
        };
        if *in_flight > 0 {
            self.workers[worker] = Some(job);
            return;
        }
        let request = match std::mem::replace(then, Then::Done) {
            Then::Done => {
                self.finish(job, cx);
                return;
            }
            Then::Delete(item, policy) => {
                let options = DeleteOptions {
                    propagation_policy: Some(policy),
                    precondition_uid: Some(item.meta().uid),
                    ..DeleteOptions::default()
                };
                self.counters.deleted += 1;
                Request::delete_with(
                    self.client,
                    self.user.clone(),
                    item.kind(),
                    &item.key(),
                    options,
                )
            }
            Then::RemoveFinalizer(finalizer) => {
                if job.failed {
                    self.finish(job, cx);
                    return;
                }
                let Some((kind, key)) = self.graph.get(&job.uid).and_then(GraphNode::kind_and_key)
                else {
                    self.finish(job, cx);
                    return;
                };
                self.counters.finalizers_removed += 1;
                let op = PatchOp::RemoveFinalizer(finalizer.into());
                Request::patch(self.client, self.user.clone(), kind, &key, op)
            }
        };
        job.step = Step::Writing {
            in_flight: 1,
            then: Then::Done,
        };
        self.workers[worker] = Some(job);
        self.send(worker, request, cx);
    }

    fn finish(&mut self, job: Job, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        let queue = match job.queue {
            Queue::Delete => &mut self.attempt_to_delete,
            Queue::Orphan => &mut self.attempt_to_orphan,
        };
        queue.done(&job.uid);
        if job.failed || job.requeue {
            queue.add_rate_limited(job.uid, now);
        } else {
            queue.forget(&job.uid);
        }
    }
}

/// Where an owner named by `reference` lives: in the dependent's namespace unless its kind is
/// cluster-scoped.
fn owner_key(kind: Kind, reference: &OwnerReference, namespace: &str) -> ObjectKey {
    if kind.is_namespaced() {
        ObjectKey::new(namespace, reference.name.clone())
    } else {
        ObjectKey::cluster(reference.name.clone())
    }
}

impl Controller for GarbageCollector {
    fn client(&self) -> ClientId {
        self.client
    }

    fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    fn on_delta(&mut self, _kind: Kind, delta: Delta, _informers: &InformerSet, _now: SimTime) {
        self.observe_delta(delta);
    }

    fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        _informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some(worker) = self.pending.remove(&request) {
            self.on_job_response(worker, response, cx);
        }
    }

    fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        self.pump(informers, cx);
    }

    fn on_timer(&mut self, timer: Timer, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if timer == QUEUE_WAKE {
            let now = cx.now();
            self.wakes.retain(|&at| at > now);
            self.attempt_to_delete.wake(now);
            self.attempt_to_orphan.wake(now);
            self.pump(informers, cx);
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests;
