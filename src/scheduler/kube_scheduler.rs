//! The kube-scheduler component: it watches pods and nodes through informers, keeps the
//! scheduler cache (nodes with their bound and assumed pods), runs one scheduling cycle at a
//! time in virtual time, assumes the chosen node and binds through the apiserver.
//!
//! Timing: a cycle starts when the scheduler is idle and a pod is ready; it takes a virtual
//! cost (`perCycle + perNodeFiltered × nodes filtered + perNodeScored × nodes scored`, tunable
//! because the real cost depends on hardware), after which the pod is assumed on its node and
//! the bind request is sent; the next cycle can start at once, as binding runs asynchronously
//! in kube-scheduler too. A failed bind forgets the assumption and requeues the pod.
//!
//! What Reserve plugins decide for the pod (the GPUs it gets) travels as annotations: on the
//! assumed pod in the cache, and on the Binding, which the apiserver copies onto the pod, so the
//! informer brings them back with the bound pod.
//!
//! **Leader election** (`leaderElection` of the KubeSchedulerConfiguration, on the modelled
//! apiserver only). Upstream kube-scheduler starts its informers at once (unless
//! `DelayCacheUntilActive`), then campaigns for its Lease (`kube-system/kube-scheduler`) and
//! runs the scheduling loop only `OnStartedLeading`. With a [`LeaseLock`] the scheduler does
//! the same: its informers fill the cache and the queue, but no cycle starts until the lease
//! is won. When the leader cannot renew within the renew deadline (`OnStoppedLeading`), the
//! process exits and is restarted: here a new *life* starts at once — the informers' watches
//! close, the cache, queue, assumptions, nominations and Event recorders start empty, the
//! cycle in flight and the binds awaited are forgotten — and the fresh process relists and
//! campaigns under a new identity (so it waits for its former lease to expire). Timers of a
//! former life are ignored (each carries its life as its generation). What the report counts
//! (attempts, binds, latencies, traced attempts) carries over, as a monitoring system keeps
//! the series of a restarted process; the random streams carry over too. Not modelled: the
//! delay before the restart, releasing the lease on a clean stop, several replicas.
//!
//! On the ideal apiserver a lease can never be lost, so the world gives the scheduler no lock:
//! it leads from time 0 and sends no Lease request, and ideal runs stay as they were.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::ObjectKey;
use crate::api::event::{EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING, ObjectReference};
use crate::api::node::Node;
use crate::api::pod::Pod;
use crate::api::pod::PodCondition;
use crate::api::{Kind, Object, Uid};
use crate::apiserver::{
    ApiOutput, ApiServer, ClientId, PatchOp, Request, RequestId, Response, UserInfo, WatchEvent,
    WatchId,
};
use crate::client::event_recorder::{
    EventRecorder, FINISH_TIME, Occurrence, REFRESH_TIME, reference_to,
};
use crate::client::informer::{Delta, InformerHealth};
use crate::client::informer_set::InformerSet;
use crate::client::leader_election::Transition;
use crate::client::lease_lock::LeaseLock;
use crate::component::{Component, ComponentContext, Timer};
use crate::config::kube_scheduler::CycleCost;
use crate::sim::{SimDuration, SimRng, SimTime};

use super::cluster_event::{
    ActionType, ClusterEvent, EventChange, EventResource, node_changes, pod_update_actions,
};
use super::config::SchedulerConfig;
use super::cycle_trace::{AttemptLog, AttemptOutcome, CycleTrace, ScheduleAttempt, TracedPods};
use super::framework::{CycleResult, CycleWork, Diagnosis, NominatedRejections, Profile, Rotation};
use super::gpu::workload::TargetWorkload;
use super::node_info::{ControllerKind, NodeInfo, PodInfo, Snapshot};
use super::preemption::{
    self, DISRUPTION_TARGET, NominatedPods, PodDisruptionBudgetView, PreemptionArgs,
    PreemptionOutcome, PreemptionView, REASON_PREEMPTION_BY_SCHEDULER,
};
use super::queue::{
    BACKOFF_FLUSH_PERIOD, PendingPods, QueuedPod, SchedulingQueue, UNSCHEDULABLE_FLUSH_PERIOD,
};

/// The note of the `Scheduled` Event of pod `pod` (`namespace/name`) bound to `node`.
pub fn scheduled_note(pod: &dyn std::fmt::Display, node: &str) -> String {
    format!("Successfully assigned {pod} to {node}")
}

/// The message of a cycle on a cluster without nodes (upstream `ErrNoNodesAvailable`).
pub const ERR_NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";
/// `PodScheduled` condition reason of a pod no node could take.
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";
/// `PodScheduled` condition reason of a pod whose attempt failed with an error.
pub const REASON_SCHEDULER_ERROR: &str = "SchedulerError";
/// The pod condition kube-scheduler reports on.
pub const POD_SCHEDULED: &str = "PodScheduled";
/// The user kube-scheduler speaks as.
pub const SCHEDULER_USER: &str = "system:kube-scheduler";
/// The host kube-scheduler runs on, which names its Event recorder's instance.
pub const SCHEDULER_HOST: &str = "kubesim-control-plane";

/// How long a cycle that did `work` takes in virtual time, at `cost`.
fn cycle_duration(cost: &CycleCost, work: &CycleWork) -> SimDuration {
    cost.per_cycle
        + cost
            .per_node_filtered
            .saturating_mul(work.nodes_filtered as u64)
        + cost
            .per_node_scored
            .saturating_mul(work.nodes_scored as u64)
}

/// The scheduler's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedulerTimer {
    /// The cycle of the pod in flight is over.
    CycleDone,
    /// Move pods whose backoff expired (every second).
    FlushBackoff,
    /// Retry pods stuck in the unschedulable pool (every 30 s).
    FlushUnschedulable,
    /// Write every Event series again (every 30 minutes).
    RefreshEventSeries,
    /// Finish the Event series not seen for 6 minutes (every 6 minutes).
    FinishEventSeries,
}

impl SchedulerTimer {
    const ALL: [SchedulerTimer; 5] = [
        SchedulerTimer::CycleDone,
        SchedulerTimer::FlushBackoff,
        SchedulerTimer::FlushUnschedulable,
        SchedulerTimer::RefreshEventSeries,
        SchedulerTimer::FinishEventSeries,
    ];

    /// The period of a timer that re-arms itself: the queue's flushes and the Event
    /// recorder's series. Such work is background: it does not keep a run from ending.
    fn period(self) -> Option<SimDuration> {
        match self {
            SchedulerTimer::CycleDone => None,
            SchedulerTimer::FlushBackoff => Some(BACKOFF_FLUSH_PERIOD),
            SchedulerTimer::FlushUnschedulable => Some(UNSCHEDULABLE_FLUSH_PERIOD),
            SchedulerTimer::RefreshEventSeries => Some(REFRESH_TIME),
            SchedulerTimer::FinishEventSeries => Some(FINISH_TIME),
        }
    }

    /// The timer as the world keeps it, set in the scheduler's life `life`.
    fn as_timer(self, life: u32) -> Timer {
        Timer {
            code: self as u32,
            background: self.period().is_some(),
            generation: life,
        }
    }

    /// The scheduler's timer the world fired.
    fn of(timer: Timer) -> Option<SchedulerTimer> {
        Self::ALL.get(timer.code as usize).copied()
    }
}

/// The code of the leader elector's wake-up: no [`SchedulerTimer`]'s.
pub const ELECTOR_TIMER: u32 = 0xFF;

/// The kinds the scheduler's informers watch, in the order they start: nodes, Services and
/// ReplicaSets (their selectors make PodTopologySpread's system default constraints), pods,
/// and the budgets preemption reads.
const INFORMER_KINDS: [Kind; 5] = [
    Kind::Node,
    Kind::Service,
    Kind::ReplicaSet,
    Kind::Pod,
    Kind::PodDisruptionBudget,
];

/// What the scheduler counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Scheduling attempts, by result (`scheduled`, `unschedulable`, `error`), as
    /// `scheduler_schedule_attempts_total`.
    pub attempts: BTreeMap<&'static str, u64>,
    /// Failed attempts by rejecting reason (each node's reason counted once per attempt).
    pub failure_reasons: BTreeMap<String, u64>,
    /// Pods bound.
    pub bound: u64,
    /// Creation-to-bind latency of each bound pod (`scheduler_pod_scheduling_sli_duration`).
    pub latencies: Vec<SimDuration>,
    /// Bind requests that failed.
    pub bind_failures: u64,
    /// Preemptions carried out (`scheduler_preemption_attempts_total` that found victims).
    pub preemptions: u64,
    /// Pods evicted by preemption (`scheduler_preemption_victims`, summed).
    pub preemption_victims: u64,
}

/// A pod the scheduler assumed onto a node, until its bind is confirmed.
#[derive(Clone, Debug)]
struct Assumed {
    /// The node.
    node: String,
    /// What Reserve wrote for the binding; the assumed pod carries it in the cache.
    annotations: crate::api::meta::Annotations,
}

/// The pod in its scheduling cycle.
#[derive(Debug)]
struct InFlight {
    pod: Arc<PodInfo>,
    result: CycleResult,
    /// PostFilter's outcome when no node fit and the profile preempts.
    preemption: Option<PreemptionOutcome>,
    cycle: u64,
    /// The attempt's trace, when the pod is one `kubesim explain` asks about.
    attempt: Option<Box<ScheduleAttempt>>,
}

/// kube-scheduler.
pub struct KubeScheduler {
    client: ClientId,
    user: UserInfo,
    profiles: Vec<Profile>,
    /// Per profile: DefaultPreemption's args, when it runs.
    preemption: Vec<Option<PreemptionArgs>>,
    /// Pods nominated to nodes by preemption, waiting for their victims to go.
    nominated: NominatedPods,
    /// Draws the random start of preemption's candidate search.
    preemption_rng: SimRng,
    queue: SchedulingQueue,
    snapshot: Snapshot,
    /// Every pod the scheduler knows, by uid.
    pods: BTreeMap<Uid, Arc<Pod>>,
    /// Pods bound or assumed to a node the cache does not have (not yet, or no longer), by
    /// node: they are counted on it when it comes, without a look at every pod (upstream
    /// keeps such pods on a node info without a node).
    pods_without_node: BTreeMap<String, BTreeSet<Uid>>,
    /// Pods the scheduler assumed onto a node, waiting for their bind to be confirmed.
    assumed: BTreeMap<Uid, Assumed>,
    /// The GPU-sharing policies' target workload, counted once the cluster has a GPU node (so
    /// clusters without GPUs pay nothing for it).
    gpu_workload: Option<TargetWorkload>,
    /// When each pending pod was first seen (for latency).
    first_seen: BTreeMap<Uid, SimTime>,
    /// Nodes, Services and ReplicaSets (their selectors make PodTopologySpread's system
    /// default constraints) and pods, started in that order.
    informers: InformerSet,
    rotation: Rotation,
    tie_break: SimRng,
    cost: CycleCost,
    in_flight: Option<InFlight>,
    binds: BTreeMap<RequestId, Binding>,
    /// Each profile's Event recorder (events.k8s.io/v1), reporting as the profile's name.
    events: BTreeMap<String, EventRecorder>,
    stats: SchedulerStats,
    /// The traced attempts of the pods `kubesim explain` asks about.
    attempt_log: AttemptLog,
    /// The leader election, if the scheduler elects (modelled apiserver, `leaderElect`).
    lock: Option<LeaseLock>,
    /// Whether cycles may run: leading, or not electing.
    leading: bool,
    /// The scheduler's restarts so far: its timers' generation.
    life: u32,
    /// What the informers of former lives did, so that the counters go on across a restart.
    retired: InformerHealth,
}

impl KubeScheduler {
    /// A scheduler talking as `client`.
    pub fn new(
        client: ClientId,
        config: SchedulerConfig,
        cost: CycleCost,
        tie_break: SimRng,
        preemption_rng: SimRng,
    ) -> Self {
        let user = UserInfo::new(SCHEDULER_USER, &["system:authenticated"]);
        let events = event_recorders(&config.profiles, client, &user);
        KubeScheduler {
            informers: InformerSet::new(&INFORMER_KINDS, client, &user),
            client,
            user,
            profiles: config.profiles,
            preemption: config.preemption,
            nominated: NominatedPods::new(),
            preemption_rng,
            queue: SchedulingQueue::new(config.queue),
            snapshot: Snapshot::default(),
            pods: BTreeMap::new(),
            pods_without_node: BTreeMap::new(),
            assumed: BTreeMap::new(),
            gpu_workload: None,
            first_seen: BTreeMap::new(),
            rotation: Rotation::default(),
            tie_break,
            cost,
            in_flight: None,
            binds: BTreeMap::new(),
            events,
            stats: SchedulerStats::default(),
            attempt_log: AttemptLog::default(),
            lock: None,
            leading: true,
            life: 0,
            retired: InformerHealth::default(),
        }
    }

    /// The scheduler campaigning on `lock`: it schedules only while it leads.
    pub fn with_leader_election(mut self, lock: LeaseLock) -> Self {
        self.lock = Some(lock);
        self.leading = false;
        self
    }

    /// The leader election, if the scheduler elects.
    pub fn leader_election(&self) -> Option<&LeaseLock> {
        self.lock.as_ref()
    }

    /// Acts on a change of leadership.
    fn on_transition(&mut self, transition: Option<Transition>, cx: &mut ComponentContext<'_>) {
        match transition {
            Some(Transition::StartedLeading) => {
                // `OnStartedLeading`: `sched.Run`, the scheduling loop.
                self.leading = true;
                let timers = self.maybe_start_cycle(cx.now());
                set_timers(cx, timers, self.life);
            }
            Some(Transition::StoppedLeading) => self.restart(cx),
            None => {}
        }
    }

    /// The process exits and a new one starts: what the process held starts empty, the
    /// informers relist, and it campaigns again.
    fn restart(&mut self, cx: &mut ComponentContext<'_>) {
        self.life += 1;
        self.leading = false;
        // The old process's connections die with it: its watches end.
        self.informers.stop(cx.api);
        self.retired += self.informers.health().retired();
        self.informers = InformerSet::new(&INFORMER_KINDS, self.client, &self.user);
        self.nominated = NominatedPods::new();
        self.queue = SchedulingQueue::new(self.queue.settings().clone());
        self.snapshot = Snapshot::default();
        self.pods.clear();
        self.pods_without_node.clear();
        self.assumed.clear();
        self.gpu_workload = None;
        self.first_seen.clear();
        self.rotation = Rotation::default();
        self.in_flight = None;
        self.binds.clear();
        self.events = event_recorders(&self.profiles, self.client, &self.user);
        self.start_process(cx);
        let life = self.life;
        let transition = self.lock.as_mut().and_then(|lock| lock.restart(life, cx));
        self.on_transition(transition, cx);
    }

    /// What a process does first: start the informers and the periodic work (queue flushes,
    /// Event series).
    fn start_process(&mut self, cx: &mut ComponentContext<'_>) {
        self.informers.start(cx);
        for timer in SchedulerTimer::ALL {
            if let Some(period) = timer.period() {
                cx.set_timer_in(period, timer.as_timer(self.life));
            }
        }
    }

    /// Traces the scheduling cycles of `pods` from now on (see [`KubeScheduler::attempts`]).
    pub fn trace(&mut self, pods: TracedPods) {
        self.attempt_log = AttemptLog::new(pods);
    }

    /// The traced attempts, by pod.
    pub fn attempts(&self) -> &AttemptLog {
        &self.attempt_log
    }

    /// The scheduler's client id.
    pub fn client(&self) -> ClientId {
        self.client
    }

    /// The counters.
    pub fn stats(&self) -> &SchedulerStats {
        &self.stats
    }

    /// The scheduling queue.
    pub fn queue(&self) -> &SchedulingQueue {
        &self.queue
    }

    /// The cache: nodes with their bound and assumed pods, as the scheduler sees them.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Where the next cycle starts filtering (kube-scheduler's `nextStartNodeIndex`).
    pub fn next_start_node_index(&self) -> usize {
        self.rotation.next_start_node_index
    }

    /// The profiles.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The profile serving `scheduler_name`.
    pub fn profile(&self, scheduler_name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == scheduler_name)
    }

    /// Handles a response to one of the scheduler's requests; returns timers to set.
    fn handle_response(
        &mut self,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) -> Vec<(SimTime, SchedulerTimer)> {
        let now = cx.now();
        if let Some((kind, deltas)) = self.informers.on_response(request, response, cx) {
            for d in deltas {
                self.on_delta(kind, d, now);
            }
            return self.maybe_start_cycle(now);
        }
        let (api, out) = (&mut *cx.api, &mut *cx.out);
        if let Some(binding) = self.binds.remove(&request) {
            self.on_bind_response(binding, response, now, api, out);
        } else if self.life > 0 && self.informers.close_orphan(response, api) {
            // A former life's watch that opened after it was gone.
        } else {
            for recorder in self.events.values_mut() {
                if recorder.on_response(request, response, now, api, out) {
                    break;
                }
            }
        }
        self.maybe_start_cycle(now)
    }

    /// The end of a binding cycle: a bound pod counts as `scheduled` only now, with a
    /// `Scheduled` Event; a failed bind forgets the assumption (which frees the node's room as
    /// a pod deletion would) and fails the pod as an error.
    fn on_bind_response(
        &mut self,
        binding: Binding,
        response: &Response,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let Binding { pod, node } = binding;
        if self.attempt_log.wants(&pod.pod) {
            let error = response.as_ref().err().map(ToString::to_string);
            self.attempt_log.bind_answered(&pod.key(), pod.uid(), error);
        }
        let error = match response {
            Ok(_) => {
                self.count_attempt("scheduled");
                // The assumed pod is the popped one with its node: the same reference.
                let note = scheduled_note(&pod.key(), &node);
                let occurrence = Occurrence {
                    regarding: reference_to(Kind::Pod, &pod.pod.metadata),
                    related: None,
                    type_: EVENT_TYPE_NORMAL,
                    reason: "Scheduled",
                    action: "Binding",
                    note: &note,
                };
                self.record_event(&pod.pod.spec.scheduler_name, now, occurrence, api, out);
                return;
            }
            Err(e) => e.to_string(),
        };
        self.stats.bind_failures += 1;
        let uid = pod.uid();
        let forgotten = self.forget(uid);
        let cycle = self.queue.cycle();
        let failure = Failure::error(error, Some(String::new()));
        self.fail(&pod, BTreeSet::new(), cycle, failure, now, api, out);
        if let Some(forgotten) = forgotten {
            let gone = Arc::new(Object::Pod(forgotten));
            self.move_pods(assigned_pod_deleted(gone), now);
        }
    }

    /// Puts a pod whose attempt in cycle `cycle` failed back in the queue.
    fn requeue(&mut self, uid: Uid, rejectors: BTreeSet<&'static str>, cycle: u64, now: SimTime) {
        self.queue
            .requeue_failed(uid, rejectors, cycle, now, worth_requeuing(&self.profiles));
    }

    fn count_attempt(&mut self, result: &'static str) {
        *self.stats.attempts.entry(result).or_insert(0) += 1;
    }

    /// Handles a watch event on one of the scheduler's watches; returns timers to set.
    fn handle_watch_event(
        &mut self,
        watch: WatchId,
        event: &WatchEvent,
        now: SimTime,
    ) -> Vec<(SimTime, SchedulerTimer)> {
        if let Some((kind, deltas)) = self.informers.on_watch_event(watch, event, now) {
            for d in deltas {
                self.on_delta(kind, d, now);
            }
        }
        self.maybe_start_cycle(now)
    }

    /// Every PodDisruptionBudget as preemption reads it (upstream's `pdbLister.List`).
    fn budgets(&self) -> Vec<PodDisruptionBudgetView> {
        self.informers
            .cache(Kind::PodDisruptionBudget)
            .values()
            .filter_map(|o| o.as_pdb())
            .map(PodDisruptionBudgetView::of)
            .collect()
    }

    /// Hands an informer's delta to the handler of its kind.
    fn on_delta(&mut self, kind: Kind, delta: Delta, now: SimTime) {
        match kind {
            Kind::Node => self.on_node_delta(delta, now),
            Kind::Pod => self.on_pod_delta(delta, now),
            // Budgets are read as a lister, when preemption needs them.
            Kind::PodDisruptionBudget => {}
            _ => self.on_workload_delta(delta),
        }
    }

    /// Handles one of its timers; returns further timers to set.
    fn handle_timer(
        &mut self,
        timer: SchedulerTimer,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) -> Vec<(SimTime, SchedulerTimer)> {
        match timer {
            SchedulerTimer::CycleDone => self.finish_cycle(now, api, out),
            SchedulerTimer::FlushBackoff => self.queue.flush_backoff_completed(now),
            SchedulerTimer::FlushUnschedulable => self.queue.flush_unschedulable_leftover(now),
            SchedulerTimer::RefreshEventSeries => {
                for recorder in self.events.values_mut() {
                    recorder.refresh(now, api, out);
                }
            }
            SchedulerTimer::FinishEventSeries => {
                for recorder in self.events.values_mut() {
                    recorder.finish(now, api, out);
                }
            }
        }
        self.maybe_start_cycle(now)
    }

    /// Keeps the Service and ReplicaSet selectors PodTopologySpread's defaults are built from.
    fn on_workload_delta(&mut self, delta: Delta) {
        let workloads = self.snapshot.workloads_mut();
        match delta {
            Delta::Added(o) | Delta::Updated(_, o) => match &*o {
                Object::Service(svc) => workloads.set_service(
                    &svc.metadata.namespace,
                    &svc.metadata.name,
                    svc.spec.selector.clone(),
                ),
                Object::ReplicaSet(rs) => workloads.set_controller(
                    ControllerKind::ReplicaSet,
                    &rs.metadata.namespace,
                    &rs.metadata.name,
                    rs.spec.selector.clone(),
                ),
                _ => {}
            },
            Delta::Deleted(o) => match &*o {
                Object::Service(svc) => {
                    workloads.remove_service(&svc.metadata.namespace, &svc.metadata.name);
                }
                Object::ReplicaSet(rs) => workloads.remove_controller(
                    ControllerKind::ReplicaSet,
                    &rs.metadata.namespace,
                    &rs.metadata.name,
                ),
                _ => {}
            },
        }
    }

    fn on_node_delta(&mut self, delta: Delta, now: SimTime) {
        match delta {
            Delta::Added(o) => {
                if let Object::Node(n) = &*o {
                    let mut info = NodeInfo::new(Arc::clone(n));
                    let waiting = self.pods_without_node.remove(&n.metadata.name);
                    for uid in waiting.iter().flatten() {
                        if let Some(pod) = self.pods.get(uid) {
                            info.add_pod(Arc::new(PodInfo::new(self.as_cached(pod))));
                        }
                    }
                    self.count_gpu_workload_if(info.gpus.is_some());
                    self.snapshot.add_node(info);
                    let change = EventChange {
                        event: ClusterEvent::NODE_ADD,
                        old: None,
                        new: Some(o),
                    };
                    self.move_pods(change, now);
                }
            }
            Delta::Updated(old, new) => {
                if let (Object::Node(before), Object::Node(after)) = (&*old, &*new) {
                    // A heartbeat (new condition times, images) changes none of what the
                    // scheduler looks at: the node is updated in the cache and nothing moves.
                    let gpu_node = self.snapshot.update_node(Arc::clone(after));
                    self.count_gpu_workload_if(gpu_node);
                    for action in node_changes(before, after).bits() {
                        let change = EventChange {
                            event: ClusterEvent::new(EventResource::Node, action),
                            old: Some(Arc::clone(&old)),
                            new: Some(Arc::clone(&new)),
                        };
                        self.move_pods(change, now);
                    }
                }
            }
            Delta::Deleted(o) => {
                let name = &o.meta().name;
                if let Some(removed) = self.snapshot.remove_node(name) {
                    // Its pods stay known, waiting for a node of that name.
                    let uids = removed.pods.iter().map(|p| p.uid());
                    self.pods_without_node
                        .entry(name.clone())
                        .or_default()
                        .extend(uids);
                }
                let change = EventChange {
                    event: ClusterEvent::new(EventResource::Node, ActionType::DELETE),
                    old: Some(o),
                    new: None,
                };
                self.move_pods(change, now);
            }
        }
    }

    /// Moves the queue's pods that `change` may help (upstream
    /// `MoveAllToActiveOrBackoffQueue`).
    fn move_pods(&mut self, change: EventChange, now: SimTime) {
        self.queue
            .on_event(change, now, worth_requeuing(&self.profiles));
    }

    /// Starts counting the target workload (every pod known so far) at the cluster's first GPU
    /// node.
    fn count_gpu_workload_if(&mut self, gpu_node: bool) {
        if gpu_node && self.gpu_workload.is_none() {
            let mut workload = TargetWorkload::default();
            for pod in self.pods.values() {
                workload.upsert(pod);
            }
            self.gpu_workload = Some(workload);
        }
    }

    /// The node a pod counts on in the cache: its binding, or the scheduler's assumption.
    fn node_of(&self, pod: &Pod) -> Option<String> {
        if pod.is_bound() {
            Some(pod.spec.node_name.clone())
        } else {
            self.assumed.get(&pod.metadata.uid).map(|a| a.node.clone())
        }
    }

    /// The pod as the cache counts it: an assumed pod carries what Reserve wrote for its
    /// binding until the bound pod, which has it from the apiserver, replaces it.
    fn as_cached(&self, pod: &Arc<Pod>) -> Arc<Pod> {
        if pod.is_bound() {
            return Arc::clone(pod);
        }
        match self.assumed.get(&pod.metadata.uid) {
            Some(a) if !a.annotations.is_empty() => {
                let mut assumed = (**pod).clone();
                assumed
                    .metadata
                    .annotations
                    .extend(a.annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
                Arc::new(assumed)
            }
            _ => Arc::clone(pod),
        }
    }

    /// Whether the pod is this scheduler's to place (gated pods wait in the queue).
    fn wants(&self, pod: &Pod) -> bool {
        !pod.is_bound()
            && !pod.is_terminal()
            && !pod.metadata.is_terminating()
            && self.profile(&pod.spec.scheduler_name).is_some()
    }

    fn on_pod_delta(&mut self, delta: Delta, now: SimTime) {
        match delta {
            Delta::Added(o) => {
                if let Object::Pod(p) = &*o {
                    self.upsert_pod(Arc::clone(p), None, Some(&o), now);
                }
            }
            Delta::Updated(old, new) => {
                if let Object::Pod(p) = &*new {
                    self.upsert_pod(Arc::clone(p), Some(&old), Some(&new), now);
                }
            }
            Delta::Deleted(o) => {
                let uid = o.meta().uid;
                if let Some(workload) = &mut self.gpu_workload {
                    workload.remove(uid);
                }
                self.nominated.remove(uid);
                self.queue.remove(uid);
                self.first_seen.remove(&uid);
                if let Some(pod) = self.pods.remove(&uid) {
                    let counted = self.node_of(&pod).is_some() && !pod.is_terminal();
                    self.uncount(&pod);
                    self.assumed.remove(&uid);
                    // Only a pod that held a place on a node, or a nomination to one, frees
                    // anything; deleting any other pending pod moves no pod.
                    if counted {
                        self.move_pods(assigned_pod_deleted(o), now);
                    } else if !pod.status.nominated_node_name.is_empty() {
                        self.nomination_released(o, pod.spec.priority.unwrap_or(0), now);
                    }
                }
            }
        }
    }

    /// A pod appeared or changed (`old` and `new` are the informer's objects).
    fn upsert_pod(
        &mut self,
        pod: Arc<Pod>,
        old: Option<&Arc<Object>>,
        new: Option<&Arc<Object>>,
        now: SimTime,
    ) {
        let uid = pod.metadata.uid;
        self.track_nomination(&pod);
        if let Some(workload) = &mut self.gpu_workload {
            workload.upsert(&pod);
        }
        let previous = self.pods.insert(uid, Arc::clone(&pod));
        if let Some(prev) = &previous {
            self.uncount(prev);
        }
        if pod.is_bound() {
            self.upsert_assigned_pod(&pod, previous.as_deref(), old, new, now);
            return;
        }
        if self.assumed.contains_key(&uid) {
            self.count(&pod);
            return;
        }
        if !self.wants(&pod) {
            self.queue.remove(uid);
            return;
        }
        self.first_seen
            .entry(uid)
            .or_insert(pod.metadata.creation_timestamp);
        let before = previous.as_deref().filter(|p| !p.is_bound());
        let changes: Vec<EventChange> = before
            .map(|before| pod_update_actions(before, &pod))
            .unwrap_or_default()
            .into_iter()
            .map(|action| EventChange {
                event: ClusterEvent::new(EventResource::UnscheduledPod, action),
                old: old.cloned(),
                new: new.cloned(),
            })
            .collect();
        let info = Arc::new(PodInfo::new(Arc::clone(&pod)));
        self.queue
            .update(info, &changes, now, worth_requeuing(&self.profiles));
        // A pod that gives up its nomination frees the room it held on that node for pods of
        // no higher priority.
        if let (Some(before), Some(o)) = (before, old)
            && !before.status.nominated_node_name.is_empty()
            && before.status.nominated_node_name != pod.status.nominated_node_name
        {
            self.nomination_released(Arc::clone(o), before.spec.priority.unwrap_or(0), now);
        }
    }

    /// A pending pod nominated to a node left it (deleted, or nominated elsewhere): pods of no
    /// higher priority are moved as if a pod on that node had been deleted.
    fn nomination_released(&mut self, pod: Arc<Object>, priority: i32, now: SimTime) {
        let worth = worth_requeuing(&self.profiles);
        self.queue.on_event(assigned_pod_deleted(pod), now, |q, c| {
            q.priority() <= priority && worth(q, c)
        });
    }

    /// A bound pod appeared or changed: it leaves the queue, the assumption becomes fact, and
    /// the pods its arrival, change or end may help are moved.
    fn upsert_assigned_pod(
        &mut self,
        pod: &Arc<Pod>,
        previous: Option<&Pod>,
        old: Option<&Arc<Object>>,
        new: Option<&Arc<Object>>,
        now: SimTime,
    ) {
        let uid = pod.metadata.uid;
        if self.assumed.remove(&uid).is_some()
            && let Some(first) = self.first_seen.remove(&uid)
        {
            self.stats.bound += 1;
            self.stats.latencies.push(now.saturating_since(first));
        }
        self.queue.remove(uid);
        let was_counted = previous.is_some_and(|p| p.is_bound() && !p.is_terminal());
        if pod.is_terminal() {
            // A finished pod holds nothing on its node any more.
            if was_counted && let Some(o) = new {
                self.move_pods(assigned_pod_deleted(Arc::clone(o)), now);
            }
            return;
        }
        self.count(pod);
        match previous {
            Some(before) if was_counted => {
                for action in pod_update_actions(before, pod) {
                    let change = EventChange {
                        event: ClusterEvent::new(EventResource::AssignedPod, action),
                        old: old.cloned(),
                        new: new.cloned(),
                    };
                    self.move_pods(change, now);
                }
            }
            _ => {
                let change = EventChange {
                    event: ClusterEvent::ASSIGNED_POD_ADD,
                    old: None,
                    new: new.cloned(),
                };
                self.move_pods(change, now);
            }
        }
    }

    /// Keeps the nominator in step with a pod's `status.nominatedNodeName`: only pending pods
    /// hold a nomination.
    fn track_nomination(&mut self, pod: &Arc<Pod>) {
        let uid = pod.metadata.uid;
        let node = &pod.status.nominated_node_name;
        if node.is_empty() || pod.is_bound() || pod.metadata.is_terminating() {
            self.nominated.remove(uid);
        } else if self.nominated.node_of(uid) != Some(node.as_str()) {
            self.nominated
                .set(node, Arc::new(PodInfo::new(Arc::clone(pod))));
        }
    }

    /// Adds `pod` to its node in the cache (if it has one).
    fn count(&mut self, pod: &Arc<Pod>) {
        if let Some(node) = self.node_of(pod) {
            let cached = self.as_cached(pod);
            if !self.snapshot.add_pod(&node, Arc::new(PodInfo::new(cached))) {
                let uid = pod.metadata.uid;
                self.pods_without_node.entry(node).or_default().insert(uid);
            }
        }
    }

    /// Removes `pod` from its node in the cache.
    fn uncount(&mut self, pod: &Pod) {
        if let Some(node) = self.node_of(pod) {
            self.remove_from_cache(&node, pod.metadata.uid);
        }
    }

    /// Takes the pod `uid` off node `node` in the cache, or out of the pods waiting for that
    /// node; returns it as the cache held it, if the node was there.
    fn remove_from_cache(&mut self, node: &str, uid: Uid) -> Option<Arc<PodInfo>> {
        let removed = self.snapshot.remove_pod(node, uid);
        if removed.is_none()
            && let Some(waiting) = self.pods_without_node.get_mut(node)
        {
            waiting.remove(&uid);
            if waiting.is_empty() {
                self.pods_without_node.remove(node);
            }
        }
        removed
    }

    /// Drops an assumption (failed bind): the pod leaves the cache, giving back what it held
    /// (its GPUs too), and the Reserve plugins unreserve it.
    /// Returns the pod as the cache held it.
    fn forget(&mut self, uid: Uid) -> Option<Arc<Pod>> {
        let assumed = self.assumed.remove(&uid)?;
        let pod = self.remove_from_cache(&assumed.node, uid)?;
        self.unreserve(&pod, &assumed.node);
        Some(Arc::clone(&pod.pod))
    }

    /// Starts the next cycle if idle and a pod is ready.
    fn maybe_start_cycle(&mut self, now: SimTime) -> Vec<(SimTime, SchedulerTimer)> {
        let synced = self.informers.has_synced();
        if self.in_flight.is_some() || !synced || !self.leading {
            return Vec::new();
        }
        self.snapshot.refresh();
        if let Some(workload) = &mut self.gpu_workload {
            let typical = workload.typical();
            if !Arc::ptr_eq(&typical, self.snapshot.gpu_workload()) {
                self.snapshot.set_gpu_workload(typical);
            }
        }
        while let Some(queued) = self.queue.pop() {
            let Some(pod) = self.pods.get(&queued.uid).cloned() else {
                self.queue.remove(queued.uid);
                continue;
            };
            let Some(profile_idx) = self
                .profiles
                .iter()
                .position(|p| p.name == pod.spec.scheduler_name)
            else {
                self.queue.remove(queued.uid);
                continue;
            };
            // The queue holds what the scheduler derived from the pod it last saw.
            let info = if Arc::ptr_eq(&queued.pod.pod, &pod) {
                queued.pod
            } else {
                Arc::new(PodInfo::new(pod))
            };
            let mut work = CycleWork::default();
            // Pods nominated to nodes by earlier preemptions count on those nodes for pods of
            // no higher priority (`RunFilterPluginsWithNominatedPods`).
            let nominated = if self.nominated.is_empty() {
                NominatedRejections::default()
            } else {
                preemption::nominated_rejections(
                    &self.profiles[profile_idx],
                    &info,
                    &mut self.snapshot,
                    &self.nominated,
                    &mut work,
                )
            };
            let mut attempt = self.attempt_log.wants(&info.pod).then(|| {
                Box::new(ScheduleAttempt {
                    at: now,
                    uid: info.uid(),
                    profile: self.profiles[profile_idx].name.clone(),
                    trace: CycleTrace::default(),
                    outcome: AttemptOutcome::Abandoned,
                })
            });
            let result = self.profiles[profile_idx].schedule_traced(
                &info,
                &self.snapshot,
                &nominated,
                &mut self.rotation,
                &mut self.tie_break,
                &mut work,
                attempt.as_mut().map(|a| &mut a.trace),
            );
            // PostFilter runs in the same cycle, so its dry runs count in the cycle's cost.
            let pdbs = match (&result, &self.preemption[profile_idx]) {
                (CycleResult::Unschedulable(_), Some(_)) => self.budgets(),
                _ => Vec::new(),
            };
            let preemption = match (&result, &self.preemption[profile_idx]) {
                (CycleResult::Unschedulable(diagnosis), Some(args)) => Some(preemption::preempt(
                    args,
                    &self.profiles[profile_idx],
                    &info,
                    PreemptionView {
                        snapshot: &mut self.snapshot,
                        nominated: &self.nominated,
                        pdbs: &pdbs,
                    },
                    diagnosis,
                    &mut self.preemption_rng,
                    &mut work,
                )),
                _ => None,
            };
            let done = now + cycle_duration(&self.cost, &work);
            self.in_flight = Some(InFlight {
                pod: info,
                result,
                preemption,
                cycle: self.queue.cycle(),
                attempt,
            });
            return vec![(done, SchedulerTimer::CycleDone)];
        }
        Vec::new()
    }

    /// Ends the cycle in flight: assume and bind, or requeue as unschedulable.
    fn finish_cycle(&mut self, now: SimTime, api: &mut ApiServer, out: &mut Vec<ApiOutput>) {
        let Some(InFlight {
            pod,
            result,
            preemption,
            cycle,
            attempt,
        }) = self.in_flight.take()
        else {
            return;
        };
        let uid = pod.uid();
        // Only a traced attempt needs the pod's key, after the pod has gone to `settle`.
        let key = attempt.as_ref().map(|_| pod.key());
        let outcome = if !self.queue.contains(uid) {
            // Deleted or bound elsewhere while in flight.
            if let CycleResult::Scheduled { node, .. } = &result {
                self.unreserve(&pod, node);
            }
            AttemptOutcome::Abandoned
        } else {
            self.settle(pod, result, preemption, cycle, now, api, out)
        };
        if let (Some(mut attempt), Some(key)) = (attempt, key) {
            attempt.outcome = outcome;
            self.attempt_log.push(key, *attempt);
        }
    }

    /// Acts on a cycle's result for a pod still waiting for it: assume and bind, or fail the
    /// attempt (carrying out what preemption decided). Returns how the attempt ended.
    // The cycle's result and context; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        pod: Arc<PodInfo>,
        result: CycleResult,
        preemption: Option<PreemptionOutcome>,
        cycle: u64,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) -> AttemptOutcome {
        let failure = match result {
            CycleResult::Scheduled {
                node, annotations, ..
            } => {
                if self.snapshot.get(&node).is_some() {
                    self.assume_and_bind(pod, node.clone(), annotations, now, api, out);
                    return AttemptOutcome::Binding { node };
                }
                // The node went away during the cycle: assuming fails, an error.
                self.unreserve(&pod, &node);
                let message = format!("node {node:?} is gone");
                self.fail(
                    &pod,
                    BTreeSet::new(),
                    cycle,
                    Failure::error(message, Some(String::new())),
                    now,
                    api,
                    out,
                )
            }
            CycleResult::NoNodes => {
                let failure =
                    Failure::unschedulable(ERR_NO_NODES_AVAILABLE.to_string(), Some(String::new()));
                self.fail(&pod, BTreeSet::new(), cycle, failure, now, api, out)
            }
            CycleResult::Unschedulable(mut diagnosis) => {
                self.record_failure(&diagnosis);
                let plugins = rejecting_plugins(&diagnosis);
                // PostFilter: what preemption did, and what it says in the FitError text.
                let nominate = match preemption {
                    Some(outcome) => {
                        diagnosis.post_filter_msg =
                            post_filter_message(&outcome, self.snapshot.len());
                        self.carry_out(&pod, outcome, now, api, out)
                    }
                    None => Some(String::new()),
                };
                let message = diagnosis.message(self.snapshot.len());
                let failure = Failure::unschedulable(message, nominate);
                self.fail(&pod, plugins, cycle, failure, now, api, out)
            }
            CycleResult::Error(status) => {
                let failure = Failure::error(status.reasons.join(", "), Some(String::new()));
                self.fail(&pod, BTreeSet::new(), cycle, failure, now, api, out)
            }
        };
        if failure.reason == REASON_UNSCHEDULABLE {
            AttemptOutcome::Unschedulable {
                message: failure.message,
                nominated: failure.nominate.filter(|n| !n.is_empty()),
            }
        } else {
            AttemptOutcome::Error {
                message: failure.message,
            }
        }
    }

    /// Assumes `pod` on `node` in the cache and sends the binding (the binding cycle runs on
    /// while the next pod is scheduled).
    fn assume_and_bind(
        &mut self,
        pod: Arc<PodInfo>,
        node: String,
        annotations: crate::api::meta::Annotations,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let uid = pod.uid();
        self.assumed.insert(
            uid,
            Assumed {
                node: node.clone(),
                annotations: annotations.clone(),
            },
        );
        let assumed = if annotations.is_empty() {
            Arc::clone(&pod)
        } else {
            Arc::new(PodInfo::new(self.as_cached(&pod.pod)))
        };
        self.snapshot.add_pod(&node, assumed);
        let request = Request::bind_with_annotations(
            self.client,
            self.user.clone(),
            &pod.key(),
            &node,
            annotations,
        );
        let id = api.submit(now, request, out);
        self.binds.insert(id, Binding { pod, node });
    }

    /// A failed attempt of `pod` in cycle `cycle`, as kube-scheduler's
    /// `handleSchedulingFailure`: counted by result, the pod requeued (rejected by `plugins`;
    /// none for an error), a `FailedScheduling` Event, and the pod's `PodScheduled=False`
    /// condition and nomination patched when they change.
    // The failure's context; a struct would only rename it.
    #[allow(clippy::too_many_arguments)]
    fn fail(
        &mut self,
        pod: &PodInfo,
        plugins: BTreeSet<&'static str>,
        cycle: u64,
        failure: Failure,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) -> Failure {
        self.count_attempt(if failure.reason == REASON_UNSCHEDULABLE {
            "unschedulable"
        } else {
            "error"
        });
        self.requeue(pod.uid(), plugins, cycle, now);
        let occurrence = Occurrence {
            regarding: reference_to(Kind::Pod, &pod.pod.metadata),
            related: None,
            type_: EVENT_TYPE_WARNING,
            reason: "FailedScheduling",
            action: "Scheduling",
            note: &failure.message,
        };
        self.record_event(&pod.pod.spec.scheduler_name, now, occurrence, api, out);
        self.patch_scheduling_status(&pod.pod, &failure, now, api, out);
        failure
    }

    /// Patches the pod's `PodScheduled` condition and `nominatedNodeName` as upstream's
    /// `updatePod`: only what differs from the pod as the scheduler saw it, and nothing at all
    /// when nothing does.
    fn patch_scheduling_status(
        &mut self,
        pod: &Pod,
        failure: &Failure,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let condition_changes = pod.status.condition(POD_SCHEDULED).is_none_or(|c| {
            c.status != "False" || c.reason != failure.reason || c.message != failure.message
        });
        let nominated_changes = failure
            .nominate
            .as_ref()
            .is_some_and(|n| *n != pod.status.nominated_node_name);
        if !condition_changes && !nominated_changes {
            return;
        }
        let condition = condition_changes.then(|| PodCondition {
            type_: POD_SCHEDULED.into(),
            status: "False".into(),
            reason: failure.reason.into(),
            message: failure.message.clone(),
            last_transition_time: now,
        });
        let op = PatchOp::PodStatus {
            condition,
            nominated_node_name: failure.nominate.clone().filter(|_| nominated_changes),
        };
        let key = ObjectKey::new(pod.metadata.namespace.clone(), pod.metadata.name.clone());
        let request = Request::patch(self.client, self.user.clone(), Kind::Pod, &key, op);
        api.submit(now, request, out);
    }

    /// Unreserve for a pod whose cycle chose `node` but that will not be assumed there.
    fn unreserve(&self, pod: &PodInfo, node: &str) {
        if let Some(profile) = self.profile(&pod.pod.spec.scheduler_name) {
            profile.run_unreserve(pod, node);
        }
    }

    /// Carries out PostFilter's decision through the apiserver, as DefaultPreemption does:
    /// mark each victim with the `DisruptionTarget` condition, delete it (gracefully) and
    /// record a `Preempted` Event on it, and clear the nominations of lower-priority pods on
    /// that node. Returns the preemptor's nomination to write with its failure: the chosen
    /// node, `""` to clear it, or `None` to leave it.
    fn carry_out(
        &mut self,
        pod: &PodInfo,
        outcome: PreemptionOutcome,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) -> Option<String> {
        match outcome {
            PreemptionOutcome::Preempt(p) => {
                self.stats.preemptions += 1;
                let preemptor = reference_to(Kind::Pod, &pod.pod.metadata);
                for victim in &p.victims {
                    if victim.pod.metadata.is_terminating() {
                        continue;
                    }
                    self.stats.preemption_victims += 1;
                    self.evict(victim, pod, &preemptor, &p.node, now, api, out);
                }
                for other in &p.clear_nominations {
                    let op = PatchOp::PodStatus {
                        condition: None,
                        nominated_node_name: Some(String::new()),
                    };
                    let request =
                        Request::patch(self.client, self.user.clone(), Kind::Pod, &other.key(), op);
                    api.submit(now, request, out);
                }
                Some(p.node)
            }
            PreemptionOutcome::NoCandidates(_) => Some(String::new()),
            PreemptionOutcome::NotEligible(_) | PreemptionOutcome::Error(_) => None,
        }
    }

    /// Evicts one victim of `preemptor` on `node` (upstream `PreemptPod`).
    // The eviction's context; a struct would only rename it.
    #[allow(clippy::too_many_arguments)]
    fn evict(
        &mut self,
        victim: &PodInfo,
        preemptor: &PodInfo,
        preemptor_ref: &ObjectReference,
        node: &str,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let key = victim.key();
        let condition = PodCondition {
            type_: DISRUPTION_TARGET.into(),
            status: "True".into(),
            reason: REASON_PREEMPTION_BY_SCHEDULER.into(),
            message: format!(
                "{}: preempting to accommodate a higher priority pod",
                preemptor.pod.spec.scheduler_name
            ),
            last_transition_time: now,
        };
        let op = PatchOp::PodStatus {
            condition: Some(condition),
            nominated_node_name: None,
        };
        let mark = Request::patch(self.client, self.user.clone(), Kind::Pod, &key, op);
        api.submit(now, mark, out);
        let delete = Request::delete(self.client, self.user.clone(), Kind::Pod, &key, None);
        api.submit(now, delete, out);
        let note = format!("Preempted by pod {} on node {node}", preemptor.uid().0);
        let occurrence = Occurrence {
            regarding: reference_to(Kind::Pod, &victim.pod.metadata),
            related: Some(preemptor_ref.clone()),
            type_: EVENT_TYPE_NORMAL,
            reason: "Preempted",
            action: "Preempting",
            note: &note,
        };
        self.record_event(
            &preemptor.pod.spec.scheduler_name,
            now,
            occurrence,
            api,
            out,
        );
    }

    /// Records an Event through the recorder of profile `profile`.
    fn record_event(
        &mut self,
        profile: &str,
        now: SimTime,
        occurrence: Occurrence<'_>,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        if let Some(recorder) = self.events.get_mut(profile) {
            recorder.record(now, occurrence, api, out);
        }
    }

    fn record_failure(&mut self, diagnosis: &Diagnosis) {
        let statuses = diagnosis
            .pre_filter
            .iter()
            .chain(diagnosis.node_statuses.values());
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for status in statuses {
            for reason in &status.reasons {
                seen.insert(reason.as_str());
            }
        }
        for reason in seen {
            *self
                .stats
                .failure_reasons
                .entry(reason.to_string())
                .or_insert(0) += 1;
        }
    }

    /// Pods waiting to be scheduled, by `scheduler_pending_pods`' `queue` label.
    pub fn pending_pods(&self) -> PendingPods {
        self.queue.pending()
    }

    /// Whether any node exists in the cache named `name` (for tests and explain).
    pub fn has_node(&self, name: &str) -> bool {
        self.snapshot.get(name).is_some()
    }

    /// A node object from the cache.
    pub fn node(&self, name: &str) -> Option<&Arc<Node>> {
        self.snapshot.get(name).map(|n| &n.node)
    }
}

/// The plugins that rejected the pod somewhere (upstream `Diagnosis.UnschedulablePlugins`).
impl Component for KubeScheduler {
    fn clients(&self) -> Vec<ClientId> {
        std::iter::once(self.client)
            .chain(self.lock.as_ref().map(LeaseLock::client))
            .collect()
    }

    /// Starts the informers and the periodic work (queue flushes, Event series), then
    /// campaigns if the scheduler elects.
    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        self.start_process(cx);
        if let Some(lock) = self.lock.as_mut() {
            let transition = lock.start(cx);
            self.on_transition(transition, cx);
        }
    }

    fn on_response(
        &mut self,
        client: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some(lock) = self.lock.as_mut()
            && client == lock.client()
        {
            let transition = lock.on_response(request, response, cx);
            self.on_transition(transition, cx);
            return;
        }
        let timers = self.handle_response(request, response, cx);
        set_timers(cx, timers, self.life);
    }

    fn on_watch_event(
        &mut self,
        _client: ClientId,
        watch: WatchId,
        event: &WatchEvent,
        cx: &mut ComponentContext<'_>,
    ) {
        let timers = self.handle_watch_event(watch, event, cx.now());
        set_timers(cx, timers, self.life);
    }

    fn on_watch_ended(&mut self, _client: ClientId, watch: WatchId, cx: &mut ComponentContext<'_>) {
        self.informers.on_watch_ended(watch, cx);
    }

    fn informer_health(&self) -> InformerHealth {
        let mut health = self.informers.health();
        health += self.retired;
        health
    }

    fn leadership(&self) -> Option<&LeaseLock> {
        self.lock.as_ref()
    }

    fn on_timer(&mut self, timer: Timer, cx: &mut ComponentContext<'_>) {
        // A former life's timer: that process is gone.
        if timer.generation != self.life {
            return;
        }
        if let Some(lock) = self.lock.as_mut()
            && lock.is_timer(timer)
        {
            let transition = lock.on_timer(cx);
            self.on_transition(transition, cx);
            return;
        }
        let Some(timer) = SchedulerTimer::of(timer) else {
            return;
        };
        // A periodic timer re-arms itself first, so the next round is due whatever this one
        // does.
        if let Some(period) = timer.period() {
            cx.set_timer_in(period, timer.as_timer(self.life));
        }
        let timers = self.handle_timer(timer, cx.now(), cx.api, cx.out);
        set_timers(cx, timers, self.life);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn set_timers(cx: &mut ComponentContext<'_>, timers: Vec<(SimTime, SchedulerTimer)>, life: u32) {
    for (at, timer) in timers {
        cx.set_timer(at, timer.as_timer(life));
    }
}

/// Each profile's Event recorder (events.k8s.io/v1), reporting as the profile's name.
fn event_recorders(
    profiles: &[Profile],
    client: ClientId,
    user: &UserInfo,
) -> BTreeMap<String, EventRecorder> {
    profiles
        .iter()
        .map(|p| {
            let instance = format!("{}-{SCHEDULER_HOST}", p.name);
            let recorder = EventRecorder::new(client, user.clone(), &p.name, &instance);
            (p.name.clone(), recorder)
        })
        .collect()
}

fn rejecting_plugins(diagnosis: &Diagnosis) -> BTreeSet<&'static str> {
    diagnosis
        .pre_filter
        .iter()
        .chain(diagnosis.node_statuses.values())
        .filter(|s| !s.plugin.is_empty())
        .map(|s| s.plugin)
        .collect()
}

/// Whether a change may help a queued pod, by its profile's plugins.
fn worth_requeuing(profiles: &[Profile]) -> impl Fn(&QueuedPod, &EventChange) -> bool + '_ {
    move |pod, change| {
        profiles
            .iter()
            .find(|p| p.name == pod.pod.pod.spec.scheduler_name)
            .is_none_or(|p| p.worth_requeuing(&pod.unschedulable_plugins, &pod.pod, change))
    }
}

/// PostFilter's words for the FitError text (upstream DefaultPreemption's status message,
/// prefixed `preemption: `): nothing when preemption found a node.
fn post_filter_message(outcome: &PreemptionOutcome, num_nodes: usize) -> String {
    let said = match outcome {
        PreemptionOutcome::Preempt(_) => return String::new(),
        PreemptionOutcome::NotEligible(reason) => (*reason).to_string(),
        PreemptionOutcome::NoCandidates(diagnosis) => diagnosis.message(num_nodes),
        PreemptionOutcome::Error(status) => status.reasons.join(", "),
    };
    format!("preemption: {said}")
}

/// How an attempt failed, as `handleSchedulingFailure` reports it.
struct Failure {
    /// `Unschedulable` (the pod was rejected) or `SchedulerError`.
    reason: &'static str,
    /// The message: the FitError text, or the error.
    message: String,
    /// The nomination to write: a node, `""` to clear it, `None` to leave it.
    nominate: Option<String>,
}

impl Failure {
    fn unschedulable(message: String, nominate: Option<String>) -> Failure {
        Failure {
            reason: REASON_UNSCHEDULABLE,
            message,
            nominate,
        }
    }

    fn error(message: String, nominate: Option<String>) -> Failure {
        Failure {
            reason: REASON_SCHEDULER_ERROR,
            message,
            nominate,
        }
    }
}

/// A pod's binding in flight: the pod as the cycle saw it, and its node.
#[derive(Debug)]
struct Binding {
    pod: Arc<PodInfo>,
    node: String,
}

/// The event of a pod leaving its node, with the pod as it was.
fn assigned_pod_deleted(pod: Arc<Object>) -> EventChange {
    EventChange {
        event: ClusterEvent::ASSIGNED_POD_DELETE,
        old: Some(pod),
        new: None,
    }
}
