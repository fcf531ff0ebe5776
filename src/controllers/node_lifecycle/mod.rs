//! The node lifecycle controller (upstream `pkg/controller/nodelifecycle/
//! node_lifecycle_controller.go`): notices nodes whose kubelet has fallen silent, marks them
//! and their pods, and taints them so that the taint eviction controller moves their pods.
//!
//! It reads kube-controller-manager's shared informers of nodes, node Leases and pods. Once
//! they have synced, three loops run:
//!
//! * **monitor** (every `--node-monitor-period`, 5 s): for each node, its health
//!   ([`health`]): a node silent past its grace gets its conditions set to Unknown by a status
//!   update; then, from the Ready condition as the pass *found* it (`observedReadyCondition`),
//!   False / Unknown queue the node in its zone's tainting queue (or swap the opposite
//!   NoExecute taint at once, if it has it), True lifts both NoExecute taints; a node this
//!   pass turned from Ready to not Ready gets its pods marked not Ready (`MarkPodsNotReady`:
//!   each pod's Ready condition set to False by a pod status write). Then the zones' states
//!   ([`zones`]) set each zone's tainting rate — and if every zone is fully disrupted, the
//!   controller assumes it is itself cut off: it lifts every node's not-ready / unreachable
//!   NoExecute taints and stops tainting, until some node is Ready again, when every node's
//!   probe timestamp restarts from then.
//! * **tainting** (every 100 ms, `NodeEvictionPeriod`, while a queue holds a node): each
//!   zone's queue ([`rate_limited_queue`]) hands out nodes one per token (burst 1) and each
//!   gets the NoExecute taint of its Ready condition (not-ready for False, unreachable for
//!   Unknown), the other removed.
//! * **NoSchedule pass** on every node add and update ([`taints`]): the NoSchedule taints the
//!   node's conditions and `spec.unschedulable` call for.
//!
//! A pod newly bound to a node that is not Ready is marked not Ready too (`processPod`).
//!
//! Writes are sent without waiting for them to land (upstream's workers wait, a few ms); a
//! status update that conflicts is retried by the next pass, which looks again. Left out:
//! the Events upstream records (`NodeNotReady`, `RegisteredNode`, …), the node label
//! reconciliation (beta OS / arch labels) and the metrics other than the counters here.

pub mod health;
pub mod rate_limited_queue;
pub mod taints;
pub mod zones;

use crate::controllers::pods_by_node::{PodsByNode, pod_key, pods_of};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::lease::NODE_LEASE_NAMESPACE;
use crate::api::node::Node;
use crate::api::pod::PodCondition;
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{
    ClientId, PatchOp, Request, RequestId, Response, ResponseBody, Subresource, UserInfo,
};
use crate::client::informer::Delta;
use crate::client::informer_set::InformerSet;
use crate::component::{ComponentContext, Timer};
use crate::config::kube_controller_manager::KubeControllerManagerConfig;
use crate::controllers::kube_controller_manager::Controller;
use crate::sim::{SimDuration, SimTime};
use health::{Graces, NodeHealth, check_node, ready_condition};
use rate_limited_queue::{Processed, RateLimitedTimedQueue};
use taints::{
    TaintChange, TaintWriter, has_taint, is_not_ready_or_unreachable, no_schedule_change,
    not_ready_taint, unreachable_taint,
};
use zones::{ZonePolicy, ZoneState, zone_key};

/// The kinds the controller reads.
const KINDS: [Kind; 3] = [Kind::Node, Kind::Lease, Kind::Pod];

/// The monitor loop's timer: periodic housekeeping, so background.
const MONITOR: Timer = Timer {
    code: 1,
    background: true,
    generation: 0,
};

/// The tainting loop's timer.
const TAINTING: Timer = Timer {
    code: 2,
    background: true,
    generation: 0,
};

/// How often the tainting queues are processed (upstream `NodeEvictionPeriod`).
pub const NODE_EVICTION_PERIOD: SimDuration = SimDuration::from_millis(100);

/// How long a node without a Ready condition waits in the tainting queue before it is looked
/// at again (upstream retries in 50 ms).
const NO_CONDITION_RETRY: SimDuration = SimDuration::from_millis(50);

/// The label that keeps a node out of its zone's disruption count.
const LABEL_EXCLUDE_DISRUPTION: &str = "node.kubernetes.io/exclude-disruption";

/// How the controller runs: kube-controller-manager's node lifecycle flags.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeLifecycleSettings {
    /// `--node-monitor-period`.
    pub monitor_period: SimDuration,
    /// The grace periods.
    pub graces: Graces,
    /// The zone states' thresholds and rates.
    pub zones: ZonePolicy,
}

impl NodeLifecycleSettings {
    /// The settings of kube-controller-manager's `config`.
    pub fn of(config: &KubeControllerManagerConfig) -> Self {
        NodeLifecycleSettings {
            monitor_period: config.node_monitor_period,
            graces: Graces {
                monitor: config.node_monitor_grace_period,
                startup: config.node_startup_grace_period,
            },
            zones: ZonePolicy {
                eviction_rate: config.node_eviction_rate,
                secondary_eviction_rate: config.secondary_node_eviction_rate,
                unhealthy_zone_threshold: config.unhealthy_zone_threshold,
                large_cluster_size_threshold: config.large_cluster_size_threshold,
            },
        }
    }
}

impl Default for NodeLifecycleSettings {
    fn default() -> Self {
        NodeLifecycleSettings::of(&KubeControllerManagerConfig::default())
    }
}

/// What the controller has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeLifecycleCounters {
    /// Node status updates setting conditions to Unknown.
    pub status_updates: u64,
    /// NoExecute taints added through the zones' queues (upstream
    /// `node_collector_evictions_total`).
    pub no_execute_taints: u64,
    /// Pods marked not Ready.
    pub pods_marked_not_ready: u64,
}

/// What a request of the controller was.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    /// A taint patch of this node.
    Taints(String),
    /// A node status update or a pod status write.
    Status,
}

/// The node lifecycle controller.
pub struct NodeLifecycleController {
    client: ClientId,
    user: UserInfo,
    settings: NodeLifecycleSettings,
    /// The pods bound to each node, by key.
    pods_by_node: PodsByNode,
    /// The nodes the monitor has registered (`knownNodeSet`).
    known: BTreeSet<String>,
    health: BTreeMap<String, NodeHealth>,
    zone_states: BTreeMap<String, ZoneState>,
    /// Each zone's tainting queue (`zoneNoExecuteTainter`).
    tainters: BTreeMap<String, RateLimitedTimedQueue>,
    writer: TaintWriter,
    /// Nodes whose NoSchedule pass is due.
    dirty_nodes: BTreeSet<String>,
    /// Pods newly bound, to look at (`podUpdateQueue`).
    new_pods: BTreeSet<ObjectKey>,
    pending: BTreeMap<RequestId, Pending>,
    /// When the loops started (the tainting loop's ticks are on its grid).
    started_at: Option<SimTime>,
    /// When the tainting loop next runs, if it is armed; when it last ran.
    tainting_at: Option<SimTime>,
    last_tainting: Option<SimTime>,
    counters: NodeLifecycleCounters,
}

impl NodeLifecycleController {
    /// The controller speaking as `client`, with its service account.
    pub fn new(client: ClientId, settings: NodeLifecycleSettings) -> Self {
        let user = UserInfo::kube_system_service_account("node-controller");
        NodeLifecycleController {
            client,
            user,
            settings,
            pods_by_node: PodsByNode::default(),
            known: BTreeSet::new(),
            health: BTreeMap::new(),
            zone_states: BTreeMap::new(),
            tainters: BTreeMap::new(),
            writer: TaintWriter::default(),
            dirty_nodes: BTreeSet::new(),
            new_pods: BTreeSet::new(),
            pending: BTreeMap::new(),
            started_at: None,
            tainting_at: None,
            last_tainting: None,
            counters: NodeLifecycleCounters::default(),
        }
    }

    /// What the controller has done so far.
    pub fn counters(&self) -> NodeLifecycleCounters {
        self.counters
    }

    /// Each zone's state, by zone key.
    pub fn zone_states(&self) -> &BTreeMap<String, ZoneState> {
        &self.zone_states
    }

    /// The tainting rate of each zone, by zone key.
    pub fn zone_rates(&self) -> BTreeMap<String, f64> {
        self.tainters
            .iter()
            .map(|(zone, q)| (zone.clone(), q.qps()))
            .collect()
    }

    fn cached_node(informers: &InformerSet, name: &str) -> Option<Arc<Node>> {
        informers
            .cache(Kind::Node)
            .get(&ObjectKey::cluster(name))
            .and_then(|o| o.as_node().cloned())
    }

    /// A zone seen for the first time: state Initial, a queue at the normal rate.
    fn add_zone(&mut self, zone: &str) {
        if !self.zone_states.contains_key(zone) {
            self.zone_states
                .insert(zone.to_string(), ZoneState::Initial);
            self.tainters.insert(
                zone.to_string(),
                RateLimitedTimedQueue::new(self.settings.zones.eviction_rate),
            );
        }
    }

    fn send(&mut self, request: Request, pending: Pending, cx: &mut ComponentContext<'_>) {
        let id = cx.api.submit(cx.now(), request, cx.out);
        self.pending.insert(id, pending);
    }

    // ---- the monitor -------------------------------------------------------------------

    /// One pass of `monitorNodeHealth`.
    fn monitor(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        let nodes: Vec<Arc<Node>> = informers
            .cache(Kind::Node)
            .values()
            .filter_map(|o| o.as_node().cloned())
            .collect();
        // Each node's zone key once per pass: the pass reads it three times per node.
        let zones: Vec<String> = nodes.iter().map(|n| zone_key(n)).collect();
        for (node, zone) in nodes.iter().zip(&zones) {
            self.add_zone(zone);
            if !self.known.contains(&node.metadata.name) {
                self.known.insert(node.metadata.name.clone());
                self.mark_node_as_reachable(node, zone);
            }
        }
        // Every cached node is known by now, so a node is gone only when more are known.
        if self.known.len() > nodes.len() {
            self.forget_gone(&nodes);
        }
        let mut zone_ready: BTreeMap<String, Vec<bool>> = BTreeMap::new();
        let mut leases = NodeLeases::of(informers);
        for (node, zone) in nodes.iter().zip(&zones) {
            let name = &node.metadata.name;
            let lease = leases.renew_time(name);
            // The record is taken out for the check and put back in place: no remove and
            // re-insert (with a name cloned) per node per pass.
            let mut health = self.health.get_mut(name).map(NodeHealth::take);
            let check = check_node(node, lease, &mut health, self.settings.graces, now);
            if let Some(health) = health {
                self.keep_health(name, health);
            }
            if let Some(updated) = check.update {
                self.counters.status_updates += 1;
                let object = Object::Node(Arc::new(updated));
                let request = Request::update(
                    self.client,
                    self.user.clone(),
                    object,
                    Some(Subresource::Status),
                );
                self.send(request, Pending::Status, cx);
            }
            let ready = check.current.as_ref().is_some_and(|c| c.status == "True");
            if !node.metadata.labels.contains_key(LABEL_EXCLUDE_DISRUPTION) {
                match zone_ready.get_mut(zone) {
                    Some(readiness) => readiness.push(ready),
                    None => {
                        zone_ready.insert(zone.clone(), vec![ready]);
                    }
                }
            }
            let Some(current) = check.current else {
                continue;
            };
            self.process_taint_based_eviction(node, zone, &check.observed.status, now);
            if current.status != "True" && check.observed.status == "True" {
                self.mark_pods_not_ready(informers, name, cx);
            }
        }
        self.handle_disruption(&zone_ready, &nodes, now);
    }

    /// Puts `health` back as the record of node `name`.
    fn keep_health(&mut self, name: &str, health: NodeHealth) {
        match self.health.get_mut(name) {
            Some(saved) => *saved = health,
            None => {
                self.health.insert(name.to_string(), health);
            }
        }
    }

    /// Forgets the known nodes no longer in the cache.
    fn forget_gone(&mut self, nodes: &[Arc<Node>]) {
        let names: BTreeSet<&str> = nodes.iter().map(|n| n.metadata.name.as_str()).collect();
        let gone: Vec<String> = self
            .known
            .iter()
            .filter(|name| !names.contains(name.as_str()))
            .cloned()
            .collect();
        for name in gone {
            self.known.remove(&name);
            self.health.remove(&name);
            self.writer.forget(&name);
        }
    }

    /// `processTaintBaseEviction`, from the Ready status the pass found.
    fn process_taint_based_eviction(
        &mut self,
        cached: &Arc<Node>,
        zone: &str,
        observed: &str,
        now: SimTime,
    ) {
        let node = self.writer.newest(cached);
        let (wanted, opposite) = match observed {
            "False" => (not_ready_taint(), unreachable_taint()),
            "Unknown" => (unreachable_taint(), not_ready_taint()),
            "True" => {
                self.mark_node_as_reachable(&node, zone);
                return;
            }
            _ => return,
        };
        let name = node.metadata.name.clone();
        if has_taint(&node, &opposite) {
            // Already tainted the other way: swap at once, no token needed.
            self.writer.push(
                &name,
                TaintChange {
                    add: vec![wanted],
                    remove: vec![opposite],
                },
            );
            return;
        }
        // `markNodeForTainting`: a node still without its taint is put back in line.
        let Some(queue) = self.tainters.get_mut(zone) else {
            return;
        };
        if !has_taint(&node, &wanted) {
            queue.remove(&name);
        }
        queue.add(&name, now);
    }

    /// `markNodeAsReachable`: lifts both NoExecute taints and takes the node out of line.
    fn mark_node_as_reachable(&mut self, cached: &Arc<Node>, zone: &str) {
        let node = self.writer.newest(cached);
        // Most passes find a healthy node untainted: look before building the taints.
        if node.spec.taints.iter().any(is_not_ready_or_unreachable) {
            self.writer.push(
                &node.metadata.name,
                TaintChange {
                    add: Vec::new(),
                    remove: vec![unreachable_taint(), not_ready_taint()],
                },
            );
        }
        if let Some(queue) = self.tainters.get_mut(zone) {
            queue.remove(&node.metadata.name);
        }
    }

    /// `MarkPodsNotReady`: each pod of the node whose Ready condition is not False gets it
    /// False.
    fn mark_pods_not_ready(
        &mut self,
        informers: &InformerSet,
        node: &str,
        cx: &mut ComponentContext<'_>,
    ) {
        for key in self.pods_by_node.on(node) {
            self.mark_pod_not_ready(informers, &key, node, cx);
        }
    }

    fn mark_pod_not_ready(
        &mut self,
        informers: &InformerSet,
        key: &ObjectKey,
        node: &str,
        cx: &mut ComponentContext<'_>,
    ) {
        let Some(pod) = informers
            .cache(Kind::Pod)
            .get(key)
            .and_then(|o| o.as_pod().cloned())
        else {
            return;
        };
        if pod.spec.node_name != node {
            return;
        }
        let Some(ready) = pod.status.condition("Ready") else {
            return;
        };
        if ready.status == "False" {
            return;
        }
        let condition = PodCondition {
            status: "False".into(),
            last_transition_time: cx.now(),
            ..ready.clone()
        };
        let op = PatchOp::PodStatus {
            condition: Some(condition),
            nominated_node_name: None,
        };
        let request = Request::patch(self.client, self.user.clone(), Kind::Pod, key, op);
        self.counters.pods_marked_not_ready += 1;
        self.send(request, Pending::Status, cx);
    }

    /// `handleDisruption`: the zones' new states and what they mean for tainting.
    fn handle_disruption(
        &mut self,
        zone_ready: &BTreeMap<String, Vec<bool>>,
        nodes: &[Arc<Node>],
        now: SimTime,
    ) {
        let policy = self.settings.zones;
        let mut new_states: BTreeMap<String, ZoneState> = BTreeMap::new();
        let mut all_are_full = true;
        for (zone, ready) in zone_ready {
            let (_, state) = policy.zone_state(ready);
            if state != ZoneState::FullDisruption {
                all_are_full = false;
            }
            new_states.insert(zone.clone(), state);
            self.zone_states
                .entry(zone.clone())
                .or_insert(ZoneState::Initial);
        }
        // Upstream walks its (unordered) map and stops at the first zone not fully
        // disrupted, dropping the zones without nodes it meets on the way; kubesim walks in
        // zone order.
        let mut all_were_full = true;
        let zones: Vec<(String, ZoneState)> = self
            .zone_states
            .iter()
            .map(|(z, s)| (z.clone(), *s))
            .collect();
        for (zone, state) in zones {
            if !zone_ready.contains_key(&zone) {
                self.zone_states.remove(&zone);
                continue;
            }
            if state != ZoneState::FullDisruption {
                all_were_full = false;
                break;
            }
        }
        if all_are_full && all_were_full {
            return;
        }
        if all_are_full {
            // Every zone is down: more likely the controller is cut off than the whole
            // cluster dead. Lift every NoExecute taint and stop tainting.
            for node in nodes {
                self.mark_node_as_reachable(node, &zone_key(node));
            }
            for queue in self.tainters.values_mut() {
                queue.swap_limiter(0.0, now);
            }
            for state in self.zone_states.values_mut() {
                *state = ZoneState::FullDisruption;
            }
            return;
        }
        if all_were_full {
            // Back from it: every node's silence counts from now.
            for node in nodes {
                if let Some(h) = self.health.get_mut(&node.metadata.name) {
                    h.probe_timestamp = now;
                    h.ready_transition_timestamp = now;
                }
            }
            let zones: Vec<String> = self.zone_states.keys().cloned().collect();
            for zone in zones {
                let state = new_states.get(&zone).copied();
                self.set_zone(&zone, state, zone_ready, now);
            }
            return;
        }
        let zones: Vec<(String, ZoneState)> = self
            .zone_states
            .iter()
            .map(|(z, s)| (z.clone(), *s))
            .collect();
        for (zone, state) in zones {
            let new = new_states.get(&zone).copied();
            if new == Some(state) {
                continue;
            }
            self.set_zone(&zone, new, zone_ready, now);
        }
    }

    /// `setLimiterInZone` and the zone's new state.
    fn set_zone(
        &mut self,
        zone: &str,
        state: Option<ZoneState>,
        zone_ready: &BTreeMap<String, Vec<bool>>,
        now: SimTime,
    ) {
        let Some(state) = state else {
            self.zone_states.remove(zone);
            return;
        };
        let size = zone_ready.get(zone).map_or(0, Vec::len);
        if let (Some(rate), Some(queue)) = (
            self.settings.zones.rate(state, size),
            self.tainters.get_mut(zone),
        ) {
            queue.swap_limiter(rate, now);
        }
        self.zone_states.insert(zone.to_string(), state);
    }

    // ---- the tainting loop ---------------------------------------------------------------

    /// One pass of `doNoExecuteTaintingPass`.
    fn tainting_pass(&mut self, informers: &InformerSet, now: SimTime) {
        let NodeLifecycleController {
            tainters,
            writer,
            counters,
            ..
        } = self;
        for queue in tainters.values_mut() {
            queue.try_process(now, |name| {
                let Some(cached) = informers
                    .cache(Kind::Node)
                    .get(&ObjectKey::cluster(name))
                    .and_then(|o| o.as_node().cloned())
                else {
                    return Processed::Done;
                };
                let node = writer.newest(&cached);
                let Some(ready) = ready_condition(&node) else {
                    return Processed::Retry(NO_CONDITION_RETRY);
                };
                let (add, remove) = match ready.status.as_str() {
                    "False" => (not_ready_taint(), unreachable_taint()),
                    "Unknown" => (unreachable_taint(), not_ready_taint()),
                    // Ready again meanwhile: nothing to do.
                    _ => return Processed::Done,
                };
                writer.push(
                    name,
                    TaintChange {
                        add: vec![add],
                        remove: vec![remove],
                    },
                );
                counters.no_execute_taints += 1;
                Processed::Done
            });
        }
    }

    /// Sets the tainting loop's timer for its next tick on its grid, if a queue holds a node.
    fn arm_tainting(&mut self, cx: &mut ComponentContext<'_>) {
        let Some(start) = self.started_at else {
            return;
        };
        if self.tainting_at.is_some() || self.tainters.values().all(|q| q.is_empty()) {
            return;
        }
        let now = cx.now();
        let period = NODE_EVICTION_PERIOD.as_nanos();
        let since = (now - start).as_nanos();
        let mut next = start + SimDuration::from_nanos(since.div_ceil(period) * period);
        if self.last_tainting == Some(next) {
            next += NODE_EVICTION_PERIOD;
        }
        self.tainting_at = Some(next);
        cx.set_timer(next, TAINTING);
    }

    /// Sends the taint writes that are ready.
    fn flush_writes(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        let cache = informers.cache(Kind::Node);
        let writes = self.writer.next_writes(now, |name| {
            cache
                .get(&ObjectKey::cluster(name))
                .and_then(|o| o.as_node().cloned())
        });
        for (name, taints) in writes {
            let key = ObjectKey::cluster(name.clone());
            let op = PatchOp::NodeTaints(taints);
            let request = Request::patch(self.client, self.user.clone(), Kind::Node, &key, op);
            self.send(request, Pending::Taints(name), cx);
        }
    }
}

impl Controller for NodeLifecycleController {
    fn client(&self) -> ClientId {
        self.client
    }

    fn kinds(&self) -> &[Kind] {
        &KINDS
    }

    fn on_delta(&mut self, kind: Kind, delta: Delta, _informers: &InformerSet, _now: SimTime) {
        match kind {
            Kind::Node => match &delta {
                Delta::Added(o) | Delta::Updated(_, o) => {
                    if let Some(node) = o.as_node() {
                        self.dirty_nodes.insert(node.metadata.name.clone());
                    }
                }
                Delta::Deleted(o) => {
                    if let Some(node) = o.as_node() {
                        self.dirty_nodes.remove(&node.metadata.name);
                        self.writer.forget(&node.metadata.name);
                    }
                }
            },
            Kind::Pod => {
                let (old, new) = pods_of(&delta);
                self.pods_by_node.apply(old, new);
                // `podUpdated`: a pod newly bound (or moved) is looked at.
                if let Some(new) = new
                    && !new.spec.node_name.is_empty()
                    && old.is_none_or(|o| o.spec.node_name != new.spec.node_name)
                {
                    self.new_pods.insert(pod_key(new));
                }
            }
            _ => {}
        }
    }

    fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        _informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        let _ = cx;
        if let Some(Pending::Taints(name)) = self.pending.remove(&request) {
            let written = match response {
                Ok(ResponseBody::Object(o)) => o.as_node().cloned(),
                _ => None,
            };
            // A failed taint patch (the node is gone) is not retried.
            let _ = self.writer.answered(&name, written);
        }
    }

    fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if !informers.has_synced_kinds(&KINDS) {
            return;
        }
        if self.started_at.is_none() {
            // The caches have synced: the loops start, the monitor at once.
            self.started_at = Some(cx.now());
            self.monitor(informers, cx);
            cx.set_timer_in(self.settings.monitor_period, MONITOR);
        }
        for name in std::mem::take(&mut self.dirty_nodes) {
            if let Some(cached) = Self::cached_node(informers, &name) {
                let node = self.writer.newest(&cached);
                if let Some(change) = no_schedule_change(&node) {
                    self.writer.push(&name, change);
                }
            }
        }
        for key in std::mem::take(&mut self.new_pods) {
            // `processPod`: a pod bound to a node the controller holds not Ready.
            let node = informers
                .cache(Kind::Pod)
                .get(&key)
                .and_then(|o| o.as_pod().map(|p| p.spec.node_name.clone()));
            let Some(node) = node else { continue };
            let not_ready = self
                .health
                .get(&node)
                .and_then(|h| h.ready.as_ref())
                .is_some_and(|c| c.status != "True");
            if not_ready && Self::cached_node(informers, &node).is_some() {
                self.mark_pod_not_ready(informers, &key, &node, cx);
            }
        }
        self.flush_writes(informers, cx);
        self.arm_tainting(cx);
    }

    fn on_timer(&mut self, timer: Timer, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if timer == MONITOR {
            self.monitor(informers, cx);
            cx.set_timer_in(self.settings.monitor_period, MONITOR);
        } else if timer == TAINTING {
            let now = cx.now();
            self.tainting_at = None;
            self.last_tainting = Some(now);
            self.tainting_pass(informers, now);
        }
        self.settle(informers, cx);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The node leases of the informer's cache, read in node name order alongside a pass over
/// the nodes (both caches are sorted by name): one walk instead of a lookup, with a key
/// built, per node.
struct NodeLeases<'a> {
    leases: std::iter::Peekable<std::collections::btree_map::Range<'a, ObjectKey, Arc<Object>>>,
}

impl<'a> NodeLeases<'a> {
    fn of(informers: &'a InformerSet) -> Self {
        // Exactly the lease namespace: no namespace sorts between it and itself plus NUL.
        let from = ObjectKey::new(NODE_LEASE_NAMESPACE, "");
        let to = ObjectKey::new(format!("{NODE_LEASE_NAMESPACE}\0"), "");
        NodeLeases {
            leases: informers.cache(Kind::Lease).range(from..to).peekable(),
        }
    }

    /// The renew time of node `name`'s lease (`None` inside when it has none), or `None`
    /// without a lease. Names must come in ascending order.
    fn renew_time(&mut self, name: &str) -> Option<Option<SimTime>> {
        // Leases of nodes before `name` are passed; one after it is left for its node.
        while self
            .leases
            .next_if(|(key, _)| key.name.as_str() < name)
            .is_some()
        {}
        let (_, lease) = self.leases.next_if(|(key, _)| key.name == name)?;
        match &**lease {
            Object::Lease(lease) => Some(lease.spec.renew_time),
            _ => None,
        }
    }
}
