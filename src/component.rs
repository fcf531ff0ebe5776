//! What a component of the cluster is to the world: the one interface through which the world
//! starts it, hands it the apiserver's answers and watch events, and fires its timers.
//!
//! A component speaks to the apiserver as one or more API clients (kube-scheduler as one; a
//! kubelet component as one client per node, each with its own identity and watches;
//! kube-controller-manager as its shared informers' client plus one per controller). The
//! world routes every response and watch event to the component that owns the client it is
//! addressed to, and every timer back to the component that set it: adding a component means
//! implementing [`Component`] and registering it once, with no routing code of its own.
//!
//! A component acts only through its [`ComponentContext`]: requests go to the apiserver, timers
//! to the world. It never sees another component.

use std::any::Any;

use crate::apiserver::{ApiOutput, ApiServer, ClientId, RequestId, Response, WatchEvent, WatchId};
use crate::client::informer::InformerHealth;
use crate::config::feature_gates::ClientFeatureGates;
use crate::faults::{ContainerKill, NodeFault, PodFaultError};
use crate::metrics_adapter::MetricsAdapter;
use crate::metrics_server::MetricsServer;
use crate::sim::{RngStreams, SimDuration, SimTime};

/// A timer a component sets: a code only the component interprets, and whether the timer is
/// background work (periodic housekeeping that must not keep a run from being quiescent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// The component's own meaning of the timer.
    pub code: u32,
    /// Whether a run may stop as quiescent while only such timers are pending.
    pub background: bool,
    /// Which life of the component set it (0 for a component that never restarts). A
    /// component that starts again from scratch as a fresh process (kube-controller-manager
    /// or kube-scheduler after losing its leader lease) counts its lives and ignores its former
    /// lives' timers, which the world cannot take back.
    pub generation: u32,
}

/// What a component can do while it handles something: read the clock, send requests to the
/// apiserver, set timers.
pub struct ComponentContext<'a> {
    now: SimTime,
    /// The apiserver, to submit requests to.
    pub api: &'a mut ApiServer,
    /// Where the apiserver's outputs go, for the world to route.
    pub out: &'a mut Vec<ApiOutput>,
    timers: &'a mut Vec<(SimTime, Timer)>,
    streams: RngStreams,
    client_gates: ClientFeatureGates,
    metrics_api: Option<&'a MetricsServer>,
    custom_metrics: Option<&'a MetricsAdapter>,
}

impl<'a> ComponentContext<'a> {
    /// A context at `now`, collecting timers into `timers`, in a run whose random streams are
    /// `streams`.
    pub fn new(
        now: SimTime,
        api: &'a mut ApiServer,
        out: &'a mut Vec<ApiOutput>,
        timers: &'a mut Vec<(SimTime, Timer)>,
        streams: RngStreams,
    ) -> Self {
        ComponentContext {
            now,
            api,
            out,
            timers,
            streams,
            client_gates: ClientFeatureGates::default(),
            metrics_api: None,
            custom_metrics: None,
        }
    }

    /// The same context, the Metrics API served by `server` (a run with metrics-server).
    pub fn with_metrics_api(mut self, server: Option<&'a MetricsServer>) -> Self {
        self.metrics_api = server;
        self
    }

    /// The Metrics API (`metrics.k8s.io`), which the apiserver serves by proxying to
    /// metrics-server, as it would answer now; None when the run has no metrics-server (the
    /// API is not registered).
    pub fn metrics_api(&self) -> Option<&'a MetricsServer> {
        self.metrics_api
    }

    /// The same context, the custom and external metrics APIs served by `adapter` (a run
    /// with a metrics adapter).
    pub fn with_custom_metrics(mut self, adapter: Option<&'a MetricsAdapter>) -> Self {
        self.custom_metrics = adapter;
        self
    }

    /// The custom and external metrics APIs (`custom.metrics.k8s.io`,
    /// `external.metrics.k8s.io`) as the adapter would answer now; None when the run has no
    /// adapter (the APIs are not registered).
    pub fn custom_metrics(&self) -> Option<&'a MetricsAdapter> {
        self.custom_metrics
    }

    /// The same context, its clients running with client-go's `gates` (the run's
    /// `spec.clientFeatureGates`; all off unless set).
    pub fn with_client_gates(mut self, gates: ClientFeatureGates) -> Self {
        self.client_gates = gates;
        self
    }

    /// client-go's feature gates every client of the run has (an informer reads
    /// `WatchListClient` when it starts).
    pub fn client_gates(&self) -> ClientFeatureGates {
        self.client_gates
    }

    /// The run's random streams, for a part of a component that makes its own when it first
    /// needs one (an informer's reflector).
    pub fn streams(&self) -> RngStreams {
        self.streams
    }

    /// The current virtual time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Fires `timer` at `at` (now, if `at` is past). Timers set at the same time fire in the
    /// order they were set.
    pub fn set_timer(&mut self, at: SimTime, timer: Timer) {
        self.timers.push((at.max(self.now), timer));
    }

    /// Fires `timer` after `delay`.
    pub fn set_timer_in(&mut self, delay: SimDuration, timer: Timer) {
        self.set_timer(self.now + delay, timer);
    }

    /// Runs `f` with this context, then rewrites every timer `f` set through `map`: a
    /// component made of parts (kube-controller-manager and its controllers) marks each
    /// part's timers as that part's, so the timer comes back to the part that set it.
    pub fn map_timers<R>(
        &mut self,
        f: impl FnOnce(&mut Self) -> R,
        map: impl Fn(Timer) -> Timer,
    ) -> R {
        let mark = self.timers.len();
        let result = f(self);
        for (_, timer) in &mut self.timers[mark..] {
            *timer = map(*timer);
        }
        result
    }
}

/// A component of the cluster.
pub trait Component: Any {
    /// The API clients the component speaks as; the world routes what is addressed to them here.
    fn clients(&self) -> Vec<ClientId>;

    /// Starts the component (opens its watches, sets its first timers).
    fn start(&mut self, cx: &mut ComponentContext<'_>);

    /// The apiserver answered `request`, sent as `client`.
    fn on_response(
        &mut self,
        client: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    );

    /// A watch event arrived on `watch`, opened as `client`.
    fn on_watch_event(
        &mut self,
        client: ClientId,
        watch: WatchId,
        event: &WatchEvent,
        cx: &mut ComponentContext<'_>,
    );

    /// The stream of `watch`, opened as `client`, ended without an error (its timeout ran out,
    /// or the apiserver went away): the informer that owned it decides what comes next.
    fn on_watch_ended(&mut self, client: ClientId, watch: WatchId, cx: &mut ComponentContext<'_>);

    /// How the component's informers are doing, summed (nothing for a component without).
    fn informer_health(&self) -> InformerHealth {
        InformerHealth::default()
    }

    /// One of the component's timers fired.
    fn on_timer(&mut self, timer: Timer, cx: &mut ComponentContext<'_>);

    /// A fault hits node `node`'s agents (a crash, a kubelet stopped or started). Only a
    /// component that runs agents on nodes acts on it.
    fn on_node_fault(&mut self, node: &str, fault: NodeFault, cx: &mut ComponentContext<'_>) {
        let _ = (node, fault, cx);
    }

    /// A fault kills containers of a pod on node `node` (`podCrash`, `oomKill`): the world
    /// acting on the node's container runtime. Only the component that runs the node's
    /// kubelet acts on it, and answers whether the containers were there to kill; the others
    /// answer None.
    fn on_container_kill(
        &mut self,
        node: &str,
        kill: &ContainerKill,
        cx: &mut ComponentContext<'_>,
    ) -> Option<Result<(), PodFaultError>> {
        let _ = (node, kill, cx);
        None
    }

    /// The component's leader election, if it runs one (kube-controller-manager and
    /// kube-scheduler on the modelled apiserver), for the report.
    fn leadership(&self) -> Option<&crate::client::lease_lock::LeaseLock> {
        None
    }

    /// What the component's clients asked and were answered, if it is a client population
    /// (`spec.clients`), for the report.
    fn client_population(&self) -> Option<&crate::populations::PopulationStats> {
        None
    }

    /// The component, for typed reads by observers (metrics, reports, `explain`).
    fn as_any(&self) -> &dyn Any;
}

/// The place of `client` in a population of per-node agents held by one component (kubelets,
/// kube-proxies), whose node `i` of `count` speaks as `ClientId(base + i)`.
pub fn population_index(client: ClientId, base: u32, count: usize) -> Option<usize> {
    let index = client.0.checked_sub(base)? as usize;
    (index < count).then_some(index)
}
