//! What a component of the cluster is to the world: the one interface through which the world
//! starts it, hands it the apiserver's answers and watch events, and fires its timers.
//!
//! A component speaks to the apiserver as one or more API clients (kube-scheduler as one; a
//! kubelet component as one client per node, each with its own identity and watches). The
//! world routes every response and watch event to the component that owns the client it is
//! addressed to, and every timer back to the component that set it: adding a component means
//! implementing [`Component`] and registering it once, with no routing code of its own.
//!
//! A component acts only through its [`ComponentContext`]: requests go to the apiserver, timers
//! to the world. It never sees another component.

use std::any::Any;

use crate::api::Kind;
use crate::apiserver::{ApiOutput, ApiServer, ClientId, RequestId, Response, WatchEvent, WatchId};
use crate::client::informer::Delta;
use crate::client::informer_set::InformerSet;
use crate::faults::{ContainerKill, NodeFault, PodFaultError};
use crate::sim::{SimDuration, SimTime};

/// A timer a component sets: a code only the component interprets, and whether the timer is
/// background work (periodic housekeeping that must not keep a run from being quiescent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// The component's own meaning of the timer.
    pub code: u32,
    /// Whether a run may stop as quiescent while only such timers are pending.
    pub background: bool,
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
}

impl<'a> ComponentContext<'a> {
    /// A context at `now`, collecting timers into `timers`.
    pub fn new(
        now: SimTime,
        api: &'a mut ApiServer,
        out: &'a mut Vec<ApiOutput>,
        timers: &'a mut Vec<(SimTime, Timer)>,
    ) -> Self {
        ComponentContext {
            now,
            api,
            out,
            timers,
        }
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

    /// The component, for typed reads by observers (metrics, reports, `explain`).
    fn as_any(&self) -> &dyn Any;
}

/// A component whose informers are one [`InformerSet`] (a controller): what it does with its
/// informers' deltas, with the answers to its own requests, and once either is handled.
/// [`route_response`] and [`route_watch_event`] are then its [`Component`] handlers' glue.
pub trait InformerDriven {
    /// The component's informers.
    fn informer_set(&mut self) -> &mut InformerSet;

    /// One change an informer saw, at `now`.
    fn on_delta(&mut self, kind: Kind, delta: Delta, now: SimTime);

    /// The answer to a request none of the informers sent (the component's own).
    fn on_own_response(
        &mut self,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    );

    /// After each response or watch event: hand work to free workers, set wake-ups.
    fn settle(&mut self, cx: &mut ComponentContext<'_>);
}

/// Hands a response to the informer that sent it (its deltas to the component) or to the
/// component's own handling, then lets the component settle.
pub fn route_response<C: InformerDriven>(
    component: &mut C,
    request: RequestId,
    response: &Response,
    cx: &mut ComponentContext<'_>,
) {
    let now = cx.now();
    let routed = component
        .informer_set()
        .on_response(request, response, now, cx.api, cx.out);
    match routed {
        Some((kind, deltas)) => deltas
            .into_iter()
            .for_each(|delta| component.on_delta(kind, delta, now)),
        None => component.on_own_response(request, response, cx),
    }
    component.settle(cx);
}

/// Hands a watch event to the informer whose watch it is (its delta to the component), then
/// lets the component settle.
pub fn route_watch_event<C: InformerDriven>(
    component: &mut C,
    watch: WatchId,
    event: &WatchEvent,
    cx: &mut ComponentContext<'_>,
) {
    if let Some((kind, delta)) = component.informer_set().on_watch_event(watch, event) {
        component.on_delta(kind, delta, cx.now());
    }
    component.settle(cx);
}

/// The four [`Component`] handlers of a controller that speaks as one client (its field
/// `$client`) and is [`InformerDriven`]: its one client, starting its informers, and
/// [`route_response`] / [`route_watch_event`] for what arrives. Written inside its
/// `impl Component` block, beside its own `on_timer` and `as_any`.
#[macro_export]
macro_rules! informer_driven_handlers {
    ($client:ident) => {
        fn clients(&self) -> Vec<$crate::apiserver::ClientId> {
            vec![self.$client]
        }

        fn start(&mut self, cx: &mut $crate::component::ComponentContext<'_>) {
            let now = cx.now();
            $crate::component::InformerDriven::informer_set(self).start(now, cx.api, cx.out);
        }

        fn on_response(
            &mut self,
            _client: $crate::apiserver::ClientId,
            request: $crate::apiserver::RequestId,
            response: &$crate::apiserver::Response,
            cx: &mut $crate::component::ComponentContext<'_>,
        ) {
            $crate::component::route_response(self, request, response, cx);
        }

        fn on_watch_event(
            &mut self,
            _client: $crate::apiserver::ClientId,
            watch: $crate::apiserver::WatchId,
            event: &$crate::apiserver::WatchEvent,
            cx: &mut $crate::component::ComponentContext<'_>,
        ) {
            $crate::component::route_watch_event(self, watch, event, cx);
        }
    };
}

/// The place of `client` in a population of per-node agents held by one component (kubelets,
/// kube-proxies), whose node `i` of `count` speaks as `ClientId(base + i)`.
pub fn population_index(client: ClientId, base: u32, count: usize) -> Option<usize> {
    let index = client.0.checked_sub(base)? as usize;
    (index < count).then_some(index)
}
