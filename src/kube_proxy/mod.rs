//! kube-proxy: on every node, the agent that programs Services' cluster IPs to their endpoints
//! (iptables, ipvs or nftables rules), from what it watches of Services and EndpointSlices.
//!
//! Every node of a run gets one, and all of them are one component ([`KubeProxies`]) keeping
//! each node's state compactly in a `Vec`. Each node still speaks as its own client
//! (`ClientId(200_000 + index)`) with its own watches, so flow control and restart storms see
//! them apart; all authenticate as kubeadm deploys kube-proxy, with the DaemonSet's service
//! account `system:serviceaccount:kube-system:kube-proxy`. A node's kube-proxy starts when the
//! scenario applies the node.
//!
//! Each watches, as upstream's `kube-proxy` does:
//!
//! * Services and EndpointSlices, without the ones labelled
//!   `service.kubernetes.io/service-proxy-name` (another proxy's) or
//!   `service.kubernetes.io/headless` (nothing to program) — every slice write reaches every
//!   node, which is what makes endpoint churn expensive in large clusters;
//! * its own Node (`metadata.name=<node>`), whose zone label change resyncs the rules.
//!
//! Changes that alter what the node programs ([`change_tracker`]) ask the sync runner for a
//! rule sync ([`sync_runner`]): at once if the runner is idle, else when `minSyncPeriod` after
//! the last sync is over, one sync taking every change asked for meanwhile. The first sync
//! runs as soon as both Services and EndpointSlices are listed. A sync takes no virtual time;
//! at a sync every endpoint change with a last-change trigger time later than the proxy's
//! start is measured: the network programming latency (upstream
//! `kubeproxy_network_programming_duration_seconds`), from the change that moved the endpoints
//! (a pod becoming ready, say) to the rules on this node.

mod change_tracker;
mod sync_runner;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::endpointslice::{EndpointSlice, LABEL_HEADLESS, LABEL_SERVICE_PROXY_NAME};
use crate::api::labels::{FieldOperator, FieldRequirement, FieldSelector, parse_label_selector};
use crate::api::node::LABEL_ZONE;
use crate::api::{Kind, Object};
use crate::apiserver::{ClientId, ListOptions, RequestId, Response, UserInfo, WatchEvent, WatchId};
use crate::client::informer::{Delta, Informer, InformerHealth};
use crate::component::{Component, ComponentContext, Timer, population_index};
use crate::config::kube_proxy::{KubeProxySettings, SyncPeriods};
use crate::sim::{SimDuration, SimTime};
use change_tracker::ChangeTracker;
use sync_runner::{Next, SyncRunner};

/// The first kube-proxy client id; node `i` (in the order [`KubeProxies::new`] is given them)
/// speaks as `ClientId(KUBE_PROXY_CLIENT_BASE + i)`.
pub const KUBE_PROXY_CLIENT_BASE: u32 = 200_000;

/// The client id of the kube-proxy of node `index`.
pub const fn kube_proxy_client(index: u32) -> ClientId {
    ClientId(KUBE_PROXY_CLIENT_BASE + index)
}

/// kube-proxy's identity in a kubeadm cluster: its DaemonSet's service account.
pub const SERVICE_ACCOUNT: &str = "system:serviceaccount:kube-system:kube-proxy";

/// How long a proxier goes at most without a sync (`proxyutil.FullSyncPeriod`).
pub const FULL_SYNC_PERIOD: SimDuration = SimDuration::from_mins(60);

/// What kube-proxy's informers leave out (its informer factory's tweak on both Services and
/// EndpointSlices).
fn proxy_label_selector() -> ListOptions {
    let text = format!("!{LABEL_SERVICE_PROXY_NAME},!{LABEL_HEADLESS}");
    ListOptions {
        label_selector: parse_label_selector(&text).ok(),
        ..ListOptions::default()
    }
}

/// What a kube-proxy timer is for; its code is `3 × node + what`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    /// The kube-proxy starts (its node has been applied).
    Start = 0,
    /// `minSyncPeriod` after the last sync is over, and a sync waits.
    Cooldown = 1,
    /// The periodic (full) sync may be due.
    Periodic = 2,
}

impl Wake {
    const ALL: [Wake; 3] = [Wake::Start, Wake::Cooldown, Wake::Periodic];

    fn timer(self, node: u32) -> Timer {
        Timer {
            code: node * 3 + self as u32,
            background: self == Wake::Periodic,
            generation: 0,
        }
    }

    fn decode(code: u32) -> (u32, Wake) {
        (code / 3, Wake::ALL[(code % 3) as usize])
    }
}

/// What the kube-proxies have done, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeProxyStats {
    /// Rule syncs over every node (`kubeproxy_sync_proxy_rules_duration_seconds_count`).
    pub syncs: u64,
    /// Of which the periodic full syncs.
    pub periodic_syncs: u64,
    /// Service changes the syncs took in, over every node.
    pub service_changes: u64,
    /// Endpoint changes (Services whose endpoints changed) the syncs took in.
    pub endpoint_changes: u64,
    /// Network programming latencies over every node: value → how many times it was seen
    /// (nodes that sync together see the same one, so this stays small).
    pub network_programming_latency: BTreeMap<SimDuration, u64>,
}

/// One node's kube-proxy.
struct ProxyNode {
    name: String,
    client: ClientId,
    /// When the scenario applies the node (the kube-proxy starts then).
    start_at: SimTime,
    started: bool,
    services: Informer,
    slices: Informer,
    node: Informer,
    /// The zone label of its node as last seen.
    zone: Option<String>,
    changes: ChangeTracker,
    runner: SyncRunner,
    /// The first lists of Services and of EndpointSlices are in: the rules can be synced.
    initialized: bool,
    /// Rule syncs so far.
    syncs: u64,
}

/// What a node's kube-proxy can do while it handles something.
struct Env<'e, 'c> {
    now: SimTime,
    node: u32,
    stats: &'e mut KubeProxyStats,
    cx: &'e mut ComponentContext<'c>,
}

/// The kube-proxies of every node of a run.
pub struct KubeProxies {
    periods: SyncPeriods,
    nodes: Vec<ProxyNode>,
    stats: KubeProxyStats,
}

impl KubeProxies {
    /// A kube-proxy for each of `nodes` (name, and when the scenario applies the node).
    pub fn new(nodes: &[(String, SimTime)], settings: &KubeProxySettings) -> KubeProxies {
        let user = UserInfo::kube_system_service_account("kube-proxy");
        let periods = settings.periods;
        let nodes = nodes
            .iter()
            .enumerate()
            .map(|(i, (name, start_at))| ProxyNode::new(i as u32, name, *start_at, &user, periods))
            .collect();
        KubeProxies {
            periods,
            nodes,
            stats: KubeProxyStats::default(),
        }
    }

    /// How many nodes have a kube-proxy.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// What they have done so far.
    pub fn stats(&self) -> &KubeProxyStats {
        &self.stats
    }

    /// The rule syncs of node `name`'s kube-proxy so far, if it has one.
    pub fn node_syncs(&self, name: &str) -> Option<u64> {
        self.nodes.iter().find(|n| n.name == name).map(|n| n.syncs)
    }

    /// Node `index`'s kube-proxy and what it may touch while it handles something.
    fn node<'a, 'c>(
        &'a mut self,
        index: usize,
        cx: &'a mut ComponentContext<'c>,
    ) -> Option<(&'a mut ProxyNode, Env<'a, 'c>)> {
        let node = self.nodes.get_mut(index)?;
        let env = Env {
            now: cx.now(),
            node: index as u32,
            stats: &mut self.stats,
            cx,
        };
        Some((node, env))
    }

    /// The kube-proxy `client` is, and what it may touch.
    fn by_client<'a, 'c>(
        &'a mut self,
        client: ClientId,
        cx: &'a mut ComponentContext<'c>,
    ) -> Option<(&'a mut ProxyNode, Env<'a, 'c>)> {
        let index = population_index(client, KUBE_PROXY_CLIENT_BASE, self.nodes.len())?;
        self.node(index, cx)
    }
}

impl ProxyNode {
    fn new(
        index: u32,
        name: &str,
        start_at: SimTime,
        user: &UserInfo,
        periods: SyncPeriods,
    ) -> Self {
        let client = kube_proxy_client(index);
        let own_node = ListOptions {
            field_selector: Some(FieldSelector::from_requirements(vec![FieldRequirement {
                field: "metadata.name".into(),
                operator: FieldOperator::Equals,
                value: name.to_string(),
            }])),
            ..ListOptions::default()
        };
        ProxyNode {
            name: name.to_string(),
            client,
            start_at,
            started: false,
            services: Informer::new(Kind::Service, client, user.clone(), proxy_label_selector()),
            slices: Informer::new(
                Kind::EndpointSlice,
                client,
                user.clone(),
                proxy_label_selector(),
            ),
            node: Informer::new(Kind::Node, client, user.clone(), own_node),
            zone: None,
            changes: ChangeTracker::default(),
            runner: SyncRunner::new(periods.min_sync_period, FULL_SYNC_PERIOD, start_at),
            initialized: false,
            syncs: 0,
        }
    }

    /// The kube-proxy starts: its change tracker and sync loop begin now; it lists and
    /// watches Services, EndpointSlices and its Node.
    fn start(&mut self, periods: SyncPeriods, env: &mut Env<'_, '_>) {
        if self.started {
            return;
        }
        self.started = true;
        self.changes = ChangeTracker::new(env.now);
        self.runner = SyncRunner::new(periods.min_sync_period, FULL_SYNC_PERIOD, env.now);
        let due = self.runner.periodic_due();
        env.cx.set_timer(due, Wake::Periodic.timer(env.node));
        self.services.start(env.cx);
        self.slices.start(env.cx);
        self.node.start(env.cx);
    }

    fn on_wake(&mut self, wake: Wake, periods: SyncPeriods, env: &mut Env<'_, '_>) {
        match wake {
            Wake::Start => self.start(periods, env),
            Wake::Cooldown => {
                if self.runner.cooldown_over(env.now) {
                    self.run(false, env);
                }
            }
            Wake::Periodic => {
                if env.now >= self.runner.periodic_due() {
                    // Due: the last sync ended at least the full-sync period (≥ minSyncPeriod)
                    // ago, so the runner syncs at once.
                    self.request_sync(true, env);
                }
                // One timer at a time, set again for the sync this one ran, or for where the
                // syncs since it was set pushed the periodic one.
                let due = self.runner.periodic_due();
                if due > env.now {
                    env.cx.set_timer(due, Wake::Periodic.timer(env.node));
                }
            }
        }
    }

    fn on_response(&mut self, request: RequestId, response: &Response, env: &mut Env<'_, '_>) {
        let mut answered = None;
        for (kind, informer) in self.informers() {
            let was_synced = informer.has_synced();
            if let Some(deltas) = informer.on_response(request, response, env.cx) {
                answered = Some((kind, deltas, !was_synced && informer.has_synced()));
                break;
            }
        }
        let Some((kind, deltas, first_list)) = answered else {
            return;
        };
        self.on_deltas(kind, deltas, first_list, env);
    }

    fn on_watch_event(&mut self, watch: WatchId, event: &WatchEvent, env: &mut Env<'_, '_>) {
        let now = env.now;
        let answered = self
            .informers()
            .into_iter()
            .find(|(_, informer)| informer.owns_watch(watch))
            .map(|(kind, informer)| {
                let was_synced = informer.has_synced();
                let deltas = informer.on_watch_event(event, now);
                (kind, deltas, !was_synced && informer.has_synced())
            });
        // A streaming list fills the cache at its end bookmark: that is a first list too.
        if let Some((kind, deltas, first_list)) = answered {
            self.on_deltas(kind, deltas, first_list, env);
        }
    }

    /// Hands an informer's deltas to the proxier; after the first lists of Services and of
    /// EndpointSlices, the first sync.
    fn on_deltas(
        &mut self,
        kind: Kind,
        deltas: impl IntoIterator<Item = Delta>,
        first_list: bool,
        env: &mut Env<'_, '_>,
    ) {
        for delta in deltas {
            self.on_delta(kind, delta, env);
        }
        if first_list && !self.initialized && self.services.has_synced() && self.slices.has_synced()
        {
            // `OnServiceSynced` / `OnEndpointSlicesSynced`: the first sync, straight away.
            self.initialized = true;
            self.sync(false, env);
        }
    }

    /// The stream of `watch` ended: the informer that owned it watches again.
    fn on_watch_ended(&mut self, watch: WatchId, env: &mut Env<'_, '_>) {
        for (_, informer) in self.informers() {
            if informer.on_watch_ended(watch, env.cx) {
                return;
            }
        }
    }

    /// The three informers, with their kinds.
    fn informers(&mut self) -> [(Kind, &mut Informer); 3] {
        [
            (Kind::Service, &mut self.services),
            (Kind::EndpointSlice, &mut self.slices),
            (Kind::Node, &mut self.node),
        ]
    }

    /// How its informers are doing.
    fn informer_health(&self) -> InformerHealth {
        let mut health = self.services.health();
        health += self.slices.health();
        health += self.node.health();
        health
    }

    /// The proxier's event handlers: a change that alters what the node programs asks for a
    /// sync (once the first lists are in); a new zone of its node always does.
    fn on_delta(&mut self, kind: Kind, delta: Delta, env: &mut Env<'_, '_>) {
        let (old, new) = match delta {
            Delta::Added(new) => (None, Some(new)),
            Delta::Updated(old, new) => (Some(old), Some(new)),
            Delta::Deleted(old) => (Some(old), None),
        };
        let changed = match kind {
            Kind::Service => {
                self.changes.service_changed(old.as_ref(), new.as_ref()) && self.initialized
            }
            Kind::EndpointSlice => {
                let (old, new) = (
                    old.as_deref().and_then(slice),
                    new.as_deref().and_then(slice),
                );
                self.changes.slice_changed(old, new) && self.initialized
            }
            _ => self.zone_changed(new.as_ref()),
        };
        if changed {
            self.request_sync(false, env);
        }
    }

    /// Whether the node's zone label changed (upstream `NodeTopologyConfig`; a deleted Node
    /// changes nothing).
    fn zone_changed(&mut self, node: Option<&Arc<Object>>) -> bool {
        let Some(node) = node.and_then(|n| n.as_node()) else {
            return false;
        };
        let zone = node.metadata.labels.get(LABEL_ZONE).cloned();
        if zone == self.zone {
            return false;
        }
        self.zone = zone;
        true
    }

    /// Asks the sync runner for a sync (`Proxier.Sync`).
    fn request_sync(&mut self, periodic: bool, env: &mut Env<'_, '_>) {
        match self.runner.request(env.now) {
            Next::RunNow => self.run(periodic, env),
            Next::WakeAt(at) => env.cx.set_timer(at, Wake::Cooldown.timer(env.node)),
            Next::Waiting => {}
        }
    }

    /// The runner runs a sync; its next periodic one moves an hour on.
    fn run(&mut self, periodic: bool, env: &mut Env<'_, '_>) {
        self.runner.ran(env.now);
        self.sync(periodic, env);
    }

    /// `syncProxyRules`: once initialized, programs every pending change, measuring the
    /// network programming latency of each endpoint change.
    fn sync(&mut self, periodic: bool, env: &mut Env<'_, '_>) {
        if !self.initialized {
            return;
        }
        let checkout = self.changes.checkout(env.now);
        self.syncs += 1;
        let stats = &mut *env.stats;
        stats.syncs += 1;
        stats.periodic_syncs += u64::from(periodic);
        stats.service_changes += checkout.services as u64;
        stats.endpoint_changes += checkout.endpoints as u64;
        for latency in checkout.latencies {
            *stats
                .network_programming_latency
                .entry(latency)
                .or_insert(0) += 1;
        }
    }
}

/// The slice in `object`, if it is one.
fn slice(object: &Object) -> Option<&EndpointSlice> {
    match object {
        Object::EndpointSlice(s) => Some(s),
        _ => None,
    }
}

impl Component for KubeProxies {
    fn clients(&self) -> Vec<ClientId> {
        self.nodes.iter().map(|n| n.client).collect()
    }

    /// Each kube-proxy starts when the scenario applies its node.
    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        for (index, node) in self.nodes.iter().enumerate() {
            cx.set_timer(node.start_at, Wake::Start.timer(index as u32));
        }
    }

    fn on_response(
        &mut self,
        client: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some((node, mut env)) = self.by_client(client, cx) {
            node.on_response(request, response, &mut env);
        }
    }

    fn on_watch_event(
        &mut self,
        client: ClientId,
        watch: WatchId,
        event: &WatchEvent,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some((node, mut env)) = self.by_client(client, cx) {
            node.on_watch_event(watch, event, &mut env);
        }
    }

    fn on_watch_ended(&mut self, client: ClientId, watch: WatchId, cx: &mut ComponentContext<'_>) {
        if let Some((node, mut env)) = self.by_client(client, cx) {
            node.on_watch_ended(watch, &mut env);
        }
    }

    fn informer_health(&self) -> InformerHealth {
        let mut health = InformerHealth::default();
        for node in &self.nodes {
            health += node.informer_health();
        }
        health
    }

    fn on_timer(&mut self, timer: Timer, cx: &mut ComponentContext<'_>) {
        let (index, wake) = Wake::decode(timer.code);
        let periods = self.periods;
        if let Some((node, mut env)) = self.node(index as usize, cx) {
            node.on_wake(wake, periods, &mut env);
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests;
