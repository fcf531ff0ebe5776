//! The HorizontalPodAutoscaler controller (upstream `pkg/controller/podautoscaler/horizontal.go`)
//! as kube-controller-manager runs it: the plumbing around one sync ([`super::sync`]).
//!
//! * **Queue.** Upstream's queue limits every item to one fixed interval (its HPA rate
//!   limiter, `--horizontal-pod-autoscaler-sync-period`, 15 s): an HPA added or changed is
//!   queued to be synced one period later, a sync queues its HPA one period on, and the HPA
//!   informer's resync (the same period) queues every HPA one period on — whichever is
//!   earliest wins. The resync fires when the HPA is due, finds it still queued and changes
//!   nothing, so the period runs from the end of each sync: 15 s plus the sync's API calls,
//!   the race upstream's comment on the requeue describes. A deleted HPA's history is
//!   dropped.
//! * **Workers** (`--concurrent-horizontal-pod-autoscaler-syncs`, 5): each sync reads the HPA
//!   from the shared cache, GETs its target's `/scale` (Deployments and ReplicaSets), lists
//!   the target's pods from the shared pod cache by the target's selector, reads the Metrics
//!   API (and the custom and external metrics APIs the metrics adapter serves), computes ([`super::sync::sync`]), writes the new scale if it changed (the history
//!   records the change once the write succeeded; a failed write sets AbleToScale False
//!   `FailedUpdateScale`), then the status through `/status` when it differs from the cached
//!   one. Each call waits for its answer before the next.
//! * **Failures** before the metrics: a target kind kubesim does not scale, or a failed GET,
//!   sets AbleToScale False `FailedGetScale`; a target without a selector sets ScalingActive
//!   False `InvalidSelector`; both are written and retried one period later.
//!
//! Every sync's outcome is kept ([`HpaSyncRecord`]) for `kubesim explain --hpa` and the report.
//! Left out: Events (SuccessfulRescale, FailedGetScale, …), the check that two HPAs do not
//! select the same pods (`AmbiguousSelector`), targets through the generic scale client
//! (StatefulSets and custom resources), and the scale write's resourceVersion precondition (the
//! write is a patch of the replicas).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::normalize::{Behavior, History};
use super::pod_selection::PodSelections;
use super::replica_calculator::{PodMetric, PodMetrics};
use super::sync::{
    ABLE_TO_SCALE, HpaSettings, MetricsSource, SCALING_ACTIVE, Scale, SyncInput, SyncOutcome,
    rescale_failed, set_condition, sync,
};
use crate::api::hpa::{HorizontalPodAutoscaler, HpaStatus, MetricIdentifier, MetricSpec};
use crate::api::labels::LabelSelector;
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{
    ClientId, PatchOp, Request, RequestId, Response, ResponseBody, Subresource, UserInfo,
};
use crate::client::informer::Delta;
use crate::client::informer_set::InformerSet;
use crate::client::workqueue::{RateLimits, WorkQueue};
use crate::component::{ComponentContext, Timer};
use crate::config::kube_controller_manager::HpaControllerConfig;
use crate::controllers::kube_controller_manager::Controller;
use crate::metrics_adapter::{MetricsAdapter, rate_to_milli};
use crate::metrics_server::MetricsServer;
use crate::metrics_server::storage::nanocores_to_millicores;
use crate::sim::SimTime;

/// The kinds the controller reads: HPAs (with handlers) and pods (a lister).
const KINDS: [Kind; 2] = [Kind::HorizontalPodAutoscaler, Kind::Pod];

/// The work queue's wake-up.
const QUEUE_WAKE: Timer = Timer {
    code: 1,
    background: false,
    generation: 0,
};
/// The HPA informer's resync.
const RESYNC: Timer = Timer {
    code: 2,
    background: true,
    generation: 0,
};

/// One sync as it happened, for `explain` and the report.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSyncRecord {
    /// The HPA's key.
    pub key: ObjectKey,
    /// When the sync computed.
    pub at: SimTime,
    /// The target's scale it read.
    pub scale: Scale,
    /// What it computed (None when it failed before the metrics).
    pub outcome: Option<SyncOutcome>,
    /// The status it left (written if it changed).
    pub status: HpaStatus,
    /// Whether the scale write it sent failed.
    pub rescale_failed: Option<String>,
    /// The HPA's history once the sync computed (its recommendation kept; a scale event is
    /// recorded only after the write).
    pub history: History,
    /// The HPA as the sync read it.
    pub hpa: CachedHpa,
}

/// An HPA as the informer's cache holds it: the cached object shared, not copied, for the
/// length of a sync (every HPA syncs every 15 s, and a sync only reads it).
#[derive(Clone, Debug)]
pub struct CachedHpa(Arc<Object>);

impl CachedHpa {
    /// `object`, if it is an HPA.
    fn of(object: &Arc<Object>) -> Option<Self> {
        matches!(**object, Object::HorizontalPodAutoscaler(_))
            .then(|| CachedHpa(Arc::clone(object)))
    }
}

impl std::ops::Deref for CachedHpa {
    type Target = HorizontalPodAutoscaler;

    fn deref(&self) -> &HorizontalPodAutoscaler {
        match &*self.0 {
            Object::HorizontalPodAutoscaler(hpa) => hpa,
            _ => unreachable!("a CachedHpa is made of HPAs only"),
        }
    }
}

impl PartialEq for CachedHpa {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// Which HPAs' syncs the controller keeps, for `kubesim explain --hpa` and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HpaTrace {
    /// None (a run keeps only counters).
    #[default]
    Off,
    /// Every HPA's.
    All,
    /// These HPAs'.
    Named(std::collections::BTreeSet<ObjectKey>),
}

impl HpaTrace {
    fn keeps(&self, key: &ObjectKey) -> bool {
        match self {
            HpaTrace::Off => false,
            HpaTrace::All => true,
            HpaTrace::Named(keys) => keys.contains(key),
        }
    }
}

/// What the controller has done, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HpaCounters {
    /// Syncs started.
    pub syncs: u64,
    /// Scale writes sent.
    pub rescales: u64,
    /// Scale writes that failed.
    pub failed_rescales: u64,
    /// Status writes sent.
    pub status_writes: u64,
}

/// Where a worker's sync stands: the call it waits for.
#[derive(Clone, Debug)]
enum Stage {
    /// GET of the target's scale.
    GetScale,
    /// The scale write of `desired` replicas from `current`.
    Rescale { current: i32, desired: i32 },
    /// The status write.
    WriteStatus,
}

/// A worker's sync in flight.
#[derive(Clone, Debug)]
struct Running {
    key: ObjectKey,
    hpa: CachedHpa,
    stage: Stage,
    record: HpaSyncRecord,
}

/// The HorizontalPodAutoscaler controller.
pub struct HpaController {
    client: ClientId,
    user: UserInfo,
    config: HpaControllerConfig,
    settings: HpaSettings,
    queue: WorkQueue<ObjectKey>,
    histories: BTreeMap<ObjectKey, History>,
    selections: PodSelections,
    running: BTreeMap<RequestId, Running>,
    wake_at: Option<SimTime>,
    resync_started: bool,
    trace: HpaTrace,
    records: Vec<HpaSyncRecord>,
    counters: HpaCounters,
}

impl HpaController {
    /// The controller speaking as `client` (its service account,
    /// `horizontal-pod-autoscaler`), with kube-controller-manager's flags.
    pub fn new(client: ClientId, config: HpaControllerConfig) -> Self {
        let settings = HpaSettings {
            tolerance: config.tolerance,
            downscale_stabilization: config.downscale_stabilization,
            readiness: super::replica_calculator::Readiness {
                cpu_initialization_period: config.cpu_initialization_period,
                initial_readiness_delay: config.initial_readiness_delay,
            },
        };
        HpaController {
            client,
            user: UserInfo::kube_system_service_account("horizontal-pod-autoscaler"),
            config,
            settings,
            queue: WorkQueue::new(RateLimits::default()),
            histories: BTreeMap::new(),
            selections: PodSelections::default(),
            running: BTreeMap::new(),
            wake_at: None,
            resync_started: false,
            trace: HpaTrace::Off,
            records: Vec::new(),
            counters: HpaCounters::default(),
        }
    }

    /// The same controller keeping the syncs of the HPAs `trace` names.
    pub fn with_trace(mut self, trace: HpaTrace) -> Self {
        self.trace = trace;
        self
    }

    /// Every traced sync so far, in the order they ended.
    pub fn records(&self) -> &[HpaSyncRecord] {
        &self.records
    }

    /// What the controller has done so far.
    pub fn counters(&self) -> HpaCounters {
        self.counters
    }

    /// Upstream `enqueueHPA` with its fixed-interval limiter: one period from now, unless
    /// queued earlier.
    fn enqueue(&mut self, key: ObjectKey, now: SimTime) {
        self.queue.add_after(key, self.config.sync_period, now);
    }

    /// Hands due HPAs to free workers; sets the next wake-up.
    fn pump(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if !informers.has_synced_kinds(&KINDS) {
            return;
        }
        if !self.resync_started {
            self.resync_started = true;
            cx.set_timer_in(self.config.sync_period, RESYNC);
        }
        while self.running.len() < self.config.concurrent_syncs as usize {
            let Some(key) = self.queue.get() else { break };
            self.start_sync(key, informers, cx);
        }
        if let Some(at) = self.queue.next_wake()
            && self.wake_at.is_none_or(|w| at < w || w < cx.now())
        {
            self.wake_at = Some(at);
            cx.set_timer(at, QUEUE_WAKE);
        }
    }

    /// Upstream `reconcileKey` up to the scale GET.
    fn start_sync(
        &mut self,
        key: ObjectKey,
        informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        let now = cx.now();
        let Some(hpa) = informers
            .cache(Kind::HorizontalPodAutoscaler)
            .get(&key)
            .and_then(CachedHpa::of)
        else {
            // Deleted: its history goes with it, and it is not queued again.
            self.histories.remove(&key);
            self.queue.done(&key);
            return;
        };
        self.counters.syncs += 1;
        let record = HpaSyncRecord {
            key: key.clone(),
            at: now,
            scale: Scale {
                spec_replicas: 0,
                status_replicas: 0,
            },
            outcome: None,
            status: hpa.status.clone(),
            rescale_failed: None,
            history: History::default(),
            hpa: hpa.clone(),
        };
        let target = &hpa.spec.scale_target_ref;
        let Some(kind) = scalable_kind(&target.api_version, &target.kind) else {
            let message = format!(
                "no matches for kind \"{}\" in group \"{}\"",
                target.kind,
                target.api_version.split('/').next().unwrap_or("")
            );
            self.fail_before_metrics(key, hpa, record, &message, informers, cx);
            return;
        };
        let target_key = ObjectKey::new(key.namespace.clone(), target.name.clone());
        let mut get = Request::get(self.client, self.user.clone(), kind, &target_key);
        get.subresource = Some(Subresource::Scale);
        let request = cx.api.submit(now, get, cx.out);
        self.running.insert(
            request,
            Running {
                key,
                hpa,
                stage: Stage::GetScale,
                record,
            },
        );
    }

    /// The scale could not be read: AbleToScale False `FailedGetScale`, status written.
    fn fail_before_metrics(
        &mut self,
        key: ObjectKey,
        hpa: CachedHpa,
        mut record: HpaSyncRecord,
        error: &str,
        informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        set_condition(
            &mut record.status.conditions,
            ABLE_TO_SCALE,
            false,
            "FailedGetScale",
            format!("the HPA controller was unable to get the target's current scale: {error}"),
            cx.now(),
        );
        self.write_status(
            Running {
                key,
                hpa,
                stage: Stage::WriteStatus,
                record,
            },
            informers,
            cx,
        );
    }

    /// The scale's answer: compute, then rescale or write the status.
    fn on_scale(
        &mut self,
        mut running: Running,
        response: &Response,
        informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        let now = cx.now();
        let target = match response {
            Ok(ResponseBody::Object(object)) => object.clone(),
            Ok(_) => return self.finish(running.key, informers, cx),
            Err(e) => {
                let (key, hpa, record) = (running.key, running.hpa, running.record);
                return self.fail_before_metrics(key, hpa, record, &e.to_string(), informers, cx);
            }
        };
        let Some((scale, selector)) = scale_of(&target) else {
            return self.finish(running.key, informers, cx);
        };
        running.record.scale = scale;
        running.record.at = now;
        if selector.is_empty() {
            // Upstream `validateAndParseSelector`: an HPA needs its target's selector.
            set_condition(
                &mut running.record.status.conditions,
                SCALING_ACTIVE,
                false,
                "InvalidSelector",
                "the HPA target's scale is missing a selector".into(),
                now,
            );
            running.stage = Stage::WriteStatus;
            return self.write_status(running, informers, cx);
        }
        let selected = self
            .selections
            .select(&running.key, &selector, informers.cache(Kind::Pod));
        let source = MetricsApi {
            server: cx.metrics_api(),
            adapter: cx.custom_metrics(),
            namespace: &running.key.namespace,
            pods: &selected.keys,
            now,
        };
        let history = self.histories.entry(running.key.clone()).or_default();
        let outcome = sync(
            &SyncInput {
                hpa: &running.hpa,
                scale,
                pods: &selected.pods,
                source: &source,
                settings: &self.settings,
                now,
            },
            history,
        );
        if self.trace.keeps(&running.key) {
            running.record.history = history.clone();
        }
        running.record.status = outcome.status.clone();
        let rescale = outcome.rescale;
        running.record.outcome = Some(outcome);
        match rescale {
            Some(desired) => {
                self.counters.rescales += 1;
                let kind = match &*target {
                    Object::Deployment(_) => Kind::Deployment,
                    _ => Kind::ReplicaSet,
                };
                let target_key = target.key();
                let patch = Request::patch(
                    self.client,
                    self.user.clone(),
                    kind,
                    &target_key,
                    PatchOp::Replicas(desired),
                );
                let request = cx.api.submit(now, patch, cx.out);
                running.stage = Stage::Rescale {
                    current: scale.spec_replicas,
                    desired,
                };
                self.running.insert(request, running);
            }
            None => {
                running.stage = Stage::WriteStatus;
                self.write_status(running, informers, cx);
            }
        }
    }

    /// The scale write's answer: the history on success, the failed-write status otherwise.
    fn on_rescale(
        &mut self,
        mut running: Running,
        (current, desired): (i32, i32),
        response: &Response,
        informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        let now = cx.now();
        match response {
            Ok(_) => {
                if let Some(behavior) = &running.hpa.spec.behavior {
                    let behavior = Behavior::new(behavior, self.config.downscale_stabilization);
                    self.histories
                        .entry(running.key.clone())
                        .or_default()
                        .record_scale(&behavior, current, desired, now);
                }
            }
            Err(e) => {
                self.counters.failed_rescales += 1;
                let previous = running.hpa.status.last_scale_time;
                rescale_failed(&mut running.record.status, previous, &e.to_string(), now);
                running.record.rescale_failed = Some(e.to_string());
            }
        }
        running.stage = Stage::WriteStatus;
        self.write_status(running, informers, cx);
    }

    /// Upstream `updateStatusIfNeeded`: the status through `/status` if it changed.
    fn write_status(
        &mut self,
        running: Running,
        informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        if self.trace.keeps(&running.key) {
            self.records.push(running.record.clone());
        }
        if running.record.status == running.hpa.status {
            return self.finish(running.key, informers, cx);
        }
        self.counters.status_writes += 1;
        let mut hpa = (*running.hpa).clone();
        hpa.status = running.record.status.clone();
        let update = Request::update(
            self.client,
            self.user.clone(),
            Object::HorizontalPodAutoscaler(Box::new(hpa)),
            Some(Subresource::Status),
        );
        let request = cx.api.submit(cx.now(), update, cx.out);
        self.running.insert(request, running);
    }

    /// The sync is over: the HPA is queued one period on and the worker takes the next.
    fn finish(&mut self, key: ObjectKey, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        self.queue.done(&key);
        self.enqueue(key, cx.now());
        self.pump(informers, cx);
    }
}

/// The kind of a scale target kubesim can scale (`apps/v1` Deployment or ReplicaSet).
fn scalable_kind(api_version: &str, kind: &str) -> Option<Kind> {
    let group = api_version.split('/').next().unwrap_or("");
    match (group, kind) {
        ("apps", "Deployment") => Some(Kind::Deployment),
        ("apps", "ReplicaSet") => Some(Kind::ReplicaSet),
        _ => None,
    }
}

/// A Deployment's or ReplicaSet's `/scale`: its replicas asked and had, and its selector.
fn scale_of(object: &Object) -> Option<(Scale, LabelSelector)> {
    match object {
        Object::Deployment(d) => Some((
            Scale {
                spec_replicas: d.spec.replicas.unwrap_or(1),
                status_replicas: d.status.replicas,
            },
            d.spec.selector.clone(),
        )),
        Object::ReplicaSet(rs) => Some((
            Scale {
                spec_replicas: rs.spec.replicas.unwrap_or(1),
                status_replicas: rs.status.replicas,
            },
            rs.spec.selector.clone(),
        )),
        _ => None,
    }
}

/// The metrics APIs as the HPA's metrics clients read them for one target's pods at the
/// sync's time: the resource metrics from metrics-server, the custom and external metrics
/// from the metrics adapter; an API without its server fails as unregistered.
struct MetricsApi<'a> {
    server: Option<&'a MetricsServer>,
    adapter: Option<&'a MetricsAdapter>,
    /// The HPA's.
    namespace: &'a str,
    /// The selected pods.
    pods: &'a [&'a ObjectKey],
    now: SimTime,
}

impl<'a> MetricsApi<'a> {
    /// The adapter, if it serves `name` (upstream's error otherwise: the API is not
    /// registered, or has no such metric).
    fn adapter_for(&self, api: &str, name: &str) -> Result<&'a MetricsAdapter, String> {
        match self.adapter {
            None => Err(no_adapter(api, name)),
            Some(adapter) if adapter.serves(name) => Ok(adapter),
            Some(adapter) => Err(format!(
                "the server could not find the metric {name} ({api}.metrics.k8s.io serves {})",
                adapter.config().metric_name
            )),
        }
    }
}

impl MetricsSource for MetricsApi<'_> {
    /// Upstream `resourceMetricsClient.GetResourceMetric`: each pod's containers summed in
    /// milli-units (CPU rounded up from nanocores, memory in bytes × 1000); a pod lacking the
    /// resource or the named container is left out; no pod at all is an error.
    fn resource(&self, resource: &str, container: Option<&str>) -> Result<PodMetrics, String> {
        let server = self.server.ok_or(
            "unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)",
        )?;
        let mut found = false;
        let mut metrics = PodMetrics::new();
        for &pod in self.pods {
            let Some(usage) = server.pod_usage(pod) else {
                continue;
            };
            found = true;
            let mut value = 0i64;
            let mut matched = container.is_none();
            for c in &usage.containers {
                if container.is_some_and(|name| name != c.name) {
                    continue;
                }
                matched = true;
                value += match resource {
                    "cpu" => nanocores_to_millicores(c.cpu_nanocores),
                    "memory" => i64::try_from(c.memory).unwrap_or(i64::MAX / 1000) * 1000,
                    _ => return Err(format!("no metrics for resource {resource}")),
                };
            }
            if matched && !usage.containers.is_empty() {
                metrics.insert(
                    pod.name.clone(),
                    PodMetric {
                        value,
                        timestamp: usage.timestamp,
                        window: usage.window,
                    },
                );
            }
        }
        if !found {
            return Err("no metrics returned from resource metrics API".into());
        }
        Ok(metrics)
    }

    /// prometheus-adapter's answer for the selected pods: each pod with a rate, stamped at
    /// the query's time over the rate window; no pod at all is an error.
    fn pods(&self, metric: &MetricIdentifier) -> Result<PodMetrics, String> {
        let adapter = self.adapter_for("custom", &metric.name)?;
        let window = adapter.config().rate_window;
        let selector = metric.selector.as_ref();
        let metrics: PodMetrics = self
            .pods
            .iter()
            .filter_map(|pod| {
                let rate = adapter.pod_rate(pod, selector, self.now)?;
                let metric = PodMetric {
                    value: rate_to_milli(rate),
                    timestamp: self.now,
                    window,
                };
                Some((pod.name.clone(), metric))
            })
            .collect();
        if metrics.is_empty() {
            return Err(format!(
                "no metrics returned from custom metrics API (no series of {} for the pods)",
                metric.name
            ));
        }
        Ok(metrics)
    }

    /// The rate of a Service's pods (the adapter maps the `service` label to Services only).
    fn object(&self, spec: &MetricSpec, name: &str) -> Result<i64, String> {
        let adapter = self.adapter_for("custom", name)?;
        let Some(source) = &spec.object else {
            return Err("the Object metric source is not set".into());
        };
        let described = &source.described_object;
        if described.kind != "Service" {
            return Err(format!(
                "the server could not find the metric {name} for {} {}",
                described.kind, described.name
            ));
        }
        let service = ObjectKey::new(self.namespace, described.name.as_str());
        adapter
            .service_rate(&service, source.metric.selector.as_ref(), self.now)
            .map(rate_to_milli)
            .ok_or_else(|| {
                format!(
                    "the server could not find the metric {name} for services {}",
                    described.name
                )
            })
    }

    /// The rate of every series of the HPA's namespace the selector picks, as one value.
    fn external(&self, metric: &MetricIdentifier) -> Result<Vec<i64>, String> {
        let adapter = self.adapter_for("external", &metric.name)?;
        adapter
            .external_rate(self.namespace, metric.selector.as_ref(), self.now)
            .map(|rate| vec![rate_to_milli(rate)])
            .ok_or_else(|| {
                format!(
                    "no external metric {} has a value in namespace {}",
                    metric.name, self.namespace
                )
            })
    }
}

/// The error of a metric no adapter serves.
fn no_adapter(api: &str, name: &str) -> String {
    format!(
        "unable to fetch metrics from {api} metrics API: no {api} metrics API ({api}.metrics.k8s.io) is registered, so metric {name} cannot be read"
    )
}

impl Controller for HpaController {
    fn client(&self) -> ClientId {
        self.client
    }

    fn kinds(&self) -> &[Kind] {
        &KINDS
    }

    fn on_delta(&mut self, kind: Kind, delta: Delta, _informers: &InformerSet, now: SimTime) {
        if kind == Kind::Pod {
            return self.selections.on_pod_delta(&delta);
        }
        if kind != Kind::HorizontalPodAutoscaler {
            return;
        }
        match delta {
            Delta::Added(o) | Delta::Updated(_, o) => self.enqueue(o.key(), now),
            Delta::Deleted(o) => {
                // Upstream `deleteHPA` forgets the key; a queued sync finds it gone.
                let key = o.key();
                self.queue.forget(&key);
                self.histories.remove(&key);
                self.selections.forget(&key);
            }
        }
    }

    fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        let Some(running) = self.running.remove(&request) else {
            return;
        };
        match running.stage.clone() {
            Stage::GetScale => self.on_scale(running, response, informers, cx),
            Stage::Rescale { current, desired } => {
                self.on_rescale(running, (current, desired), response, informers, cx)
            }
            Stage::WriteStatus => self.finish(running.key, informers, cx),
        }
    }

    fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        self.pump(informers, cx);
    }

    fn on_timer(&mut self, timer: Timer, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        if timer == RESYNC {
            // The informer's resync: every HPA's update handler, so queued one period on.
            let keys: Vec<ObjectKey> = informers
                .cache(Kind::HorizontalPodAutoscaler)
                .keys()
                .cloned()
                .collect();
            for key in keys {
                self.enqueue(key, now);
            }
            cx.set_timer_in(self.config.sync_period, RESYNC);
        } else if timer == QUEUE_WAKE {
            self.wake_at = None;
            self.queue.wake(now);
        }
        self.pump(informers, cx);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
