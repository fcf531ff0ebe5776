//! The EndpointSlice controller (upstream `pkg/controller/endpointslice/`, with its reconciler
//! in `staging/src/k8s.io/endpointslice/`): keeps, for every Service with a selector, the
//! EndpointSlices that list the pods it selects — their addresses, whether they are ready,
//! serving or terminating, their node and zone — at most `--max-endpoints-per-slice` to a
//! slice, labelled `kubernetes.io/service-name` and managed-by
//! `endpointslice-controller.k8s.io`, owned by the Service (so the garbage collector removes
//! them with it).
//!
//! kube-controller-manager's shared informers of Services, pods, nodes (the zone of an
//! endpoint, and whether its node exists) and EndpointSlices feed a work queue of Service keys, as upstream's handlers do: a Service
//! event queues it at once; a pod event queues the Services whose selectors match the pod
//! (before and after, when its labels changed) after `--endpoint-updates-batch-period`; a
//! slice event queues its Service after at least 1 s — unless the controller wrote that
//! generation itself. `--concurrent-service-endpoint-syncs` workers take keys; a failed sync
//! is retried rate-limited (1 s doubling to 1000 s, 10/s overall), at most 15 times.
//!
//! A sync (upstream `syncService`) reads the caches, gives up as *stale* when the slice cache
//! lags the controller's own writes ([`slice_tracker`]), works out the last-change trigger
//! time ([`trigger_time`]) and the writes ([`reconciler`]), then sends the writes one at a
//! time, each waiting for its answer, as a real worker does. The files:
//!
//! * `reconciler.rs` — the slices to create, update and delete;
//! * `pod_endpoint.rs` — a pod as an endpoint of a Service, and its ports;
//! * `slice_tracker.rs` — the writes the slice informer has not shown yet;
//! * `trigger_time.rs` — the `endpoints.kubernetes.io/last-change-trigger-time` annotation.
//!
//! Left out: topology-aware hints and `trafficDistribution` (no hints are written), the Events
//! upstream records on failures, and the informers' periodic resync.

mod pod_endpoint;
pub mod reconciler;
mod slice_tracker;
mod trigger_time;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::api::endpointslice::{EndpointSlice, LABEL_MANAGED_BY, MANAGED_BY_CONTROLLER};
use crate::api::pod::Pod;
use crate::api::service::Service;
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{ApiError, ClientId, Request, RequestId, Response, ResponseBody, UserInfo};
use crate::client::informer::Delta;
use crate::client::informer_set::InformerSet;
use crate::client::workqueue::{RateLimits, WorkQueue};
use crate::component::{ComponentContext, Timer};
use crate::config::kube_controller_manager::KubeControllerManagerConfig;
use crate::controllers::kube_controller_manager::Controller;
use crate::sim::{SimDuration, SimTime};
use pod_endpoint::pod_endpoints_changed;
use reconciler::{Inputs, SliceWrite, reconcile};
use slice_tracker::SliceTracker;
use trigger_time::TriggerTimes;

/// The controller's identity: its own service account, as kube-controller-manager's
/// `--use-service-account-credentials` gives each controller.
pub const SERVICE_ACCOUNT: &str = "system:serviceaccount:kube-system:endpointslice-controller";

/// The kinds the controller reads.
const KINDS: [Kind; 4] = [Kind::Service, Kind::Pod, Kind::Node, Kind::EndpointSlice];

/// The timer that wakes the work queue when a held key is due.
const QUEUE_WAKE: Timer = Timer {
    code: 1,
    background: false,
    generation: 0,
};

/// How often a failing Service is retried before it is dropped (upstream `maxRetries`).
const MAX_RETRIES: u32 = 15;

/// The least delay before a slice change syncs its Service (`endpointSliceChangeMinSyncDelay`),
/// so that the controller's own burst of writes is looked at once.
const SLICE_CHANGE_MIN_SYNC_DELAY: SimDuration = SimDuration::from_secs(1);

/// The queue's rate limits: upstream raises the per-item base delay to 1 s (from client-go's
/// 5 ms), since a sync may rewrite many slices.
const RATE_LIMITS: RateLimits = RateLimits {
    base_delay: SimDuration::from_secs(1),
    max_delay: SimDuration::from_secs(1000),
    qps: 10.0,
    burst: 100,
};

/// How the controller runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointSliceSettings {
    /// Workers (`--concurrent-service-endpoint-syncs`).
    pub workers: usize,
    /// Endpoints per slice at most (`--max-endpoints-per-slice`).
    pub max_endpoints_per_slice: usize,
    /// The delay of syncs a pod change asks for (`--endpoint-updates-batch-period`).
    pub batch_period: SimDuration,
}

impl EndpointSliceSettings {
    /// The settings of kube-controller-manager's `config`.
    pub fn of(config: &KubeControllerManagerConfig) -> Self {
        EndpointSliceSettings {
            workers: config.concurrent_service_endpoint_syncs as usize,
            max_endpoints_per_slice: config.max_endpoints_per_slice as usize,
            batch_period: config.endpoint_updates_batch_period,
        }
    }
}

impl Default for EndpointSliceSettings {
    fn default() -> Self {
        EndpointSliceSettings::of(&KubeControllerManagerConfig::default())
    }
}

/// What the controller has done, under upstream's metric names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointSliceCounters {
    /// `endpoint_slice_controller_syncs{result="success"}`.
    pub syncs_success: u64,
    /// `endpoint_slice_controller_syncs{result="error"}`.
    pub syncs_error: u64,
    /// `endpoint_slice_controller_syncs{result="stale"}`: the cache lagged the controller.
    pub syncs_stale: u64,
    /// `endpoint_slice_controller_changes{operation="create"}`.
    pub slices_created: u64,
    /// `endpoint_slice_controller_changes{operation="update"}`.
    pub slices_updated: u64,
    /// `endpoint_slice_controller_changes{operation="delete"}`.
    pub slices_deleted: u64,
}

/// How a sync ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    Error,
    Stale,
}

/// A worker's sync in progress: the runs of writes left, and the write whose answer it
/// waits for.
#[derive(Debug)]
struct Running {
    key: ObjectKey,
    runs: VecDeque<VecDeque<SliceWrite>>,
    waiting: Option<SliceWrite>,
    failed: bool,
}

/// The EndpointSlice controller.
pub struct EndpointSliceController {
    client: ClientId,
    user: UserInfo,
    settings: EndpointSliceSettings,
    /// The slice writes the informer has yet to show, and what the last syncs saw.
    tracker: SliceTracker,
    trigger_times: TriggerTimes,
    /// Service keys to sync, and the times a timer is set to let held ones in.
    queue: WorkQueue<ObjectKey>,
    wakes: BTreeSet<SimTime>,
    /// Per worker, the sync it runs; per request out, its worker.
    workers: Vec<Option<Running>>,
    pending: BTreeMap<RequestId, usize>,
    counters: EndpointSliceCounters,
}

impl EndpointSliceController {
    /// The controller speaking as `client`, with its service account.
    pub fn new(client: ClientId, settings: EndpointSliceSettings) -> Self {
        let user = UserInfo::kube_system_service_account("endpointslice-controller");
        let workers = settings.workers.max(1);
        EndpointSliceController {
            client,
            user,
            settings: EndpointSliceSettings {
                workers,
                max_endpoints_per_slice: settings.max_endpoints_per_slice.max(1),
                ..settings
            },
            queue: WorkQueue::new(RATE_LIMITS),
            tracker: SliceTracker::default(),
            trigger_times: TriggerTimes::default(),
            workers: (0..workers).map(|_| None).collect(),
            pending: BTreeMap::new(),
            wakes: BTreeSet::new(),
            counters: EndpointSliceCounters::default(),
        }
    }

    /// What the controller has done so far.
    pub fn counters(&self) -> EndpointSliceCounters {
        self.counters
    }

    // ---- informer events -------------------------------------------------------------

    fn handle_delta(&mut self, kind: Kind, delta: Delta, informers: &InformerSet, now: SimTime) {
        match kind {
            Kind::Service => {
                let (Delta::Added(s) | Delta::Updated(_, s) | Delta::Deleted(s)) = delta;
                self.queue.add(s.key());
            }
            Kind::Pod => self.on_pod_delta(delta, informers, now),
            Kind::EndpointSlice => self.on_slice_delta(delta, now),
            _ => {}
        }
    }

    /// Upstream `addPod`, `updatePod` and `deletePod`: the Services a pod change may concern.
    fn on_pod_delta(&mut self, delta: Delta, informers: &InformerSet, now: SimTime) {
        let services = match &delta {
            Delta::Added(pod) | Delta::Deleted(pod) => match pod.as_pod() {
                Some(pod) => services_selecting(informers, pod),
                None => BTreeSet::new(),
            },
            Delta::Updated(old, new) => match (old.as_pod(), new.as_pod()) {
                (Some(old), Some(new)) => services_to_update(informers, old, new),
                _ => BTreeSet::new(),
            },
        };
        for key in services {
            self.queue.add_after(key, self.settings.batch_period, now);
        }
    }

    /// Upstream `onEndpointSliceAdd` / `Update` / `Delete`: a slice change queues its Service
    /// unless the controller made it itself.
    fn on_slice_delta(&mut self, delta: Delta, now: SimTime) {
        let slice = |o: &Arc<Object>| match &**o {
            Object::EndpointSlice(s) => Some(s.clone()),
            _ => None,
        };
        match delta {
            Delta::Added(o) => {
                if let Some(s) = slice(&o)
                    && is_managed(&s)
                    && self.tracker.should_sync(&s)
                {
                    self.queue_for_slice(&s, now);
                }
            }
            Delta::Updated(old, new) => {
                let (Some(old), Some(new)) = (slice(&old), slice(&new)) else {
                    return;
                };
                if old.service_name() != new.service_name() {
                    self.queue_for_slice(&new, now);
                    self.queue_for_slice(&old, now);
                } else if is_managed(&old) != is_managed(&new)
                    || (is_managed(&new) && self.tracker.should_sync(&new))
                {
                    self.queue_for_slice(&new, now);
                }
            }
            Delta::Deleted(o) => {
                if let Some(s) = slice(&o)
                    && is_managed(&s)
                    && self.tracker.has(&s)
                    && !self.tracker.handle_deletion(&s)
                {
                    self.queue_for_slice(&s, now);
                }
            }
        }
    }

    /// Queues the slice's Service after the larger of 1 s and the batch period.
    fn queue_for_slice(&mut self, slice: &EndpointSlice, now: SimTime) {
        let Some(service) = slice.service_name() else {
            return;
        };
        let key = ObjectKey::new(slice.metadata.namespace.clone(), service);
        let delay = SLICE_CHANGE_MIN_SYNC_DELAY.max(self.settings.batch_period);
        self.queue.add_after(key, delay, now);
    }

    // ---- workers ---------------------------------------------------------------------

    /// Hands queued keys to free workers once every cache has synced, then makes sure the
    /// queue wakes when a held key is due.
    fn pump(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        while informers.has_synced_kinds(&KINDS) {
            let Some(worker) = self.workers.iter().position(Option::is_none) else {
                break;
            };
            let Some(key) = self.queue.get() else { break };
            self.start_sync(informers, worker, key, cx);
        }
        if let Some(at) = self.queue.next_wake()
            && self.wakes.insert(at)
        {
            cx.set_timer(at, QUEUE_WAKE);
        }
    }

    /// Upstream `syncService` up to its first write.
    fn start_sync(
        &mut self,
        informers: &InformerSet,
        worker: usize,
        key: ObjectKey,
        cx: &mut ComponentContext<'_>,
    ) {
        let Some(service) = cached_service(informers, &key) else {
            // Deleted: its slices go with it (the garbage collector); forget it.
            self.trigger_times.delete_service(&key);
            self.tracker.delete_service(&key);
            self.finish(key, Outcome::Success, cx.now());
            return;
        };
        if service.is_external_name() || service.spec.selector.is_empty() {
            // No endpoints from this controller: an ExternalName Service has none, and a
            // Service without a selector gets its slices from whoever wrote it.
            self.finish(key, Outcome::Success, cx.now());
            return;
        }
        let pods = selected_pods(informers, &service);
        let existing = managed_slices(informers, &service);
        if self
            .tracker
            .stale_slices(&key, service.metadata.uid, &existing)
        {
            self.finish(key, Outcome::Stale, cx.now());
            return;
        }
        // Worked out even when nothing is written, so the next sync compares with now.
        let trigger_time = self.trigger_times.compute(&key, &service, &pods);
        let plan = reconcile(&Inputs {
            service: &service,
            pods: &pods,
            nodes: informers.cache(Kind::Node),
            existing: &existing,
            max_endpoints: self.settings.max_endpoints_per_slice,
            trigger_time,
        });
        self.workers[worker] = Some(Running {
            key,
            runs: plan.runs.into_iter().map(VecDeque::from).collect(),
            waiting: None,
            failed: !plan.errors.is_empty(),
        });
        self.advance(worker, cx);
    }

    /// Sends worker `worker`'s next write, or ends its sync when none is left.
    fn advance(&mut self, worker: usize, cx: &mut ComponentContext<'_>) {
        let next = match self.workers[worker].as_mut() {
            Some(running) if running.waiting.is_none() => next_write(running),
            _ => return,
        };
        let Some(write) = next else {
            if let Some(done) = self.workers[worker].take() {
                let outcome = if done.failed {
                    Outcome::Error
                } else {
                    Outcome::Success
                };
                self.finish(done.key, outcome, cx.now());
            }
            return;
        };
        let request = self.request_for(&write);
        if let Some(running) = self.workers[worker].as_mut() {
            running.waiting = Some(write);
        }
        let id = cx.api.submit(cx.now(), request, cx.out);
        self.pending.insert(id, worker);
    }

    fn request_for(&self, write: &SliceWrite) -> Request {
        let (client, user) = (self.client, self.user.clone());
        match write {
            SliceWrite::Create(s) => {
                Request::create(client, user, Object::EndpointSlice(Box::new(s.clone())))
            }
            SliceWrite::Update(s) => {
                let object = Object::EndpointSlice(Box::new(s.clone()));
                Request::update(client, user, object, None)
            }
            SliceWrite::Delete(s) => {
                let key = ObjectKey::new(s.metadata.namespace.clone(), s.metadata.name.clone());
                Request::delete(client, user, Kind::EndpointSlice, &key, None)
            }
        }
    }

    /// The answer to worker `worker`'s write: the tracker learns what was written; a failure
    /// abandons the rest of its run and fails the sync.
    fn on_write_answered(
        &mut self,
        worker: usize,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        let Some(running) = self.workers[worker].as_mut() else {
            return;
        };
        let Some(write) = running.waiting.take() else {
            return;
        };
        let written = match response {
            Ok(ResponseBody::Object(object)) => match &**object {
                Object::EndpointSlice(s) => Some(s),
                _ => None,
            },
            _ => None,
        };
        match (&write, response) {
            (SliceWrite::Create(_), Ok(_)) => {
                self.counters.slices_created += 1;
                written.inspect(|s| self.tracker.update(s));
            }
            (SliceWrite::Update(_), Ok(_)) => {
                self.counters.slices_updated += 1;
                written.inspect(|s| self.tracker.update(s));
            }
            (SliceWrite::Delete(s), Ok(_)) => {
                self.counters.slices_deleted += 1;
                self.tracker.expect_deletion(s);
            }
            // Already gone: nothing to do and nothing to expect.
            (SliceWrite::Delete(_), Err(ApiError::NotFound { .. })) => {}
            (_, Err(_)) => {
                running.failed = true;
                running.runs.pop_front();
            }
        }
        self.advance(worker, cx);
    }

    /// The end of a sync of `key`: forgotten on success; otherwise retried rate-limited,
    /// until it has failed `MAX_RETRIES` times in a row.
    fn finish(&mut self, key: ObjectKey, outcome: Outcome, now: SimTime) {
        self.queue.done(&key);
        match outcome {
            Outcome::Success => self.counters.syncs_success += 1,
            Outcome::Error => self.counters.syncs_error += 1,
            Outcome::Stale => self.counters.syncs_stale += 1,
        }
        if outcome == Outcome::Success || self.queue.num_requeues(&key) >= MAX_RETRIES {
            self.queue.forget(&key);
        } else {
            self.queue.add_rate_limited(key, now);
        }
    }
}

impl Controller for EndpointSliceController {
    fn client(&self) -> ClientId {
        self.client
    }

    fn kinds(&self) -> &[Kind] {
        &KINDS
    }

    fn on_delta(&mut self, kind: Kind, delta: Delta, informers: &InformerSet, now: SimTime) {
        self.handle_delta(kind, delta, informers, now);
    }

    fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        _informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some(worker) = self.pending.remove(&request) {
            self.on_write_answered(worker, response, cx);
        }
    }

    fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        self.pump(informers, cx);
    }

    fn on_timer(&mut self, timer: Timer, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if timer == QUEUE_WAKE {
            let now = cx.now();
            self.wakes.retain(|&at| at > now);
            self.queue.wake(now);
            self.pump(informers, cx);
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The Services a pod update concerns (upstream `GetServicesToUpdate`): none if nothing
/// that shapes endpoints changed; with new labels, those selecting it before or after —
/// all of them if its endpoint changed too, else only those that gained or lost it.
fn services_to_update(informers: &InformerSet, old: &Pod, new: &Pod) -> BTreeSet<ObjectKey> {
    if old.metadata.resource_version == new.metadata.resource_version {
        return BTreeSet::new();
    }
    let (endpoint_changed, labels_changed) = pod_endpoints_changed(old, new);
    if !endpoint_changed && !labels_changed {
        return BTreeSet::new();
    }
    let now = services_selecting(informers, new);
    if !labels_changed {
        return now;
    }
    let before = services_selecting(informers, old);
    if endpoint_changed {
        now.union(&before).cloned().collect()
    } else {
        now.symmetric_difference(&before).cloned().collect()
    }
}

/// The Services of the pod's namespace whose selector selects it (a Service without a
/// selector selects nothing).
fn services_selecting(informers: &InformerSet, pod: &Pod) -> BTreeSet<ObjectKey> {
    let namespace = pod.metadata.namespace.as_str();
    informers
        .in_namespace(Kind::Service, namespace)
        .filter_map(|(key, object)| match &**object {
            Object::Service(svc) if selects(svc, pod) => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// The Service `key` as cached.
fn cached_service(informers: &InformerSet, key: &ObjectKey) -> Option<Service> {
    match &**informers.cache(Kind::Service).get(key)? {
        Object::Service(s) => Some(Service::clone(s)),
        _ => None,
    }
}

/// The cached pods of the Service's namespace its selector selects.
fn selected_pods(informers: &InformerSet, service: &Service) -> Vec<Arc<Pod>> {
    let namespace = service.metadata.namespace.as_str();
    informers
        .in_namespace(Kind::Pod, namespace)
        .filter_map(|(_, o)| o.as_pod().filter(|p| selects(service, p)).cloned())
        .collect()
}

/// The cached slices the controller manages for the Service, but those being deleted.
fn managed_slices(informers: &InformerSet, service: &Service) -> Vec<EndpointSlice> {
    let namespace = service.metadata.namespace.as_str();
    informers
        .in_namespace(Kind::EndpointSlice, namespace)
        .filter_map(|(_, o)| match &**o {
            Object::EndpointSlice(s)
                if is_managed(s)
                    && s.service_name() == Some(service.metadata.name.as_str())
                    && !s.metadata.is_terminating() =>
            {
                Some(EndpointSlice::clone(s))
            }
            _ => None,
        })
        .collect()
}

/// The next write of a sync, past the runs it has finished.
fn next_write(running: &mut Running) -> Option<SliceWrite> {
    while let Some(run) = running.runs.front_mut() {
        if let Some(write) = run.pop_front() {
            return Some(write);
        }
        running.runs.pop_front();
    }
    None
}

/// Whether the Service's selector selects `pod` (every pair matches; none selects nothing).
fn selects(service: &Service, pod: &Pod) -> bool {
    let selector = &service.spec.selector;
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| pod.metadata.labels.get(k) == Some(v))
}

/// Whether the slice is this controller's (its managed-by label).
fn is_managed(slice: &EndpointSlice) -> bool {
    slice
        .metadata
        .labels
        .get(LABEL_MANAGED_BY)
        .map(String::as_str)
        == Some(MANAGED_BY_CONTROLLER)
}

#[cfg(test)]
mod tests;
