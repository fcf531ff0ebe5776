//! kube-controller-manager: one component running the enabled controllers over one shared
//! informer factory, as the real one is one process.
//!
//! Upstream, `CreateControllerContext` builds one `SharedInformerFactory` on the
//! `shared-informers` client (user `system:kube-controller-manager`) and hands it to every
//! controller's constructor: the ReplicaSet, Deployment, EndpointSlice, disruption, node
//! lifecycle and taint eviction controllers all register their event handlers on the same pod
//! informer, the same node informer and so on, and the garbage collector's typed informers come
//! from the same factory. So the controller-manager opens one LIST and one WATCH per kind and
//! keeps one cache per kind, whatever number of controllers read it. Each controller still
//! writes through its own client (with `--use-service-account-credentials`, its own service
//! account).
//!
//! Here the manager owns the shared [`InformerSet`] (the kinds its controllers use, opened as
//! its own client) and the controllers, each a [`Controller`]:
//!
//! * a watch event or an informer's answer updates the shared cache once; its deltas then go
//!   (as `Arc` clones) to every controller that uses the kind, in the order the controllers
//!   were registered, each one settling after its deltas;
//! * the answer to a controller's own request goes to the controller whose client sent it;
//! * a timer carries the controller's place in its code's top 8 bits ([`timer_for`]), so each
//!   controller's `on_timer` gets back its own code.
//!
//! No fault reaches a controller: a node fault is the node agents', a container kill the
//! kubelet's, and the controller-manager learns of both through its informers.
//!
//! **Leader election** (`generic.leaderElection`, on the modelled apiserver only). Upstream
//! the controller-manager campaigns for its Lease (`kube-system/kube-controller-manager`)
//! before anything else, and only `OnStartedLeading` builds the controller context, starts
//! the controllers and the shared informers. With a [`LeaseLock`] the manager does the same:
//! until the lease is won it has no open informer and its controllers do nothing. When the
//! leader cannot renew within the renew deadline (`OnStoppedLeading`), upstream's process
//! exits and is restarted; here the manager starts a new *life* at once: the informers' watches
//! close, the controllers are built afresh (no cache, queue, expectation or pending request
//! survives), and the fresh process campaigns under a new identity, so it waits for its former
//! lease to expire before leading again, then relists everything. The former life's timers
//! are ignored (each timer carries its life as its generation); answers to its requests reach
//! nobody. Not modelled: the delay before the kubelet restarts the static pod (the new life
//! starts at once), releasing the lease on a clean stop, several controller-manager replicas.
//!
//! On the ideal apiserver a lease can never be lost (nothing is ever refused, slow or down),
//! so the world gives the manager no lock: it leads from time 0 and sends no Lease request,
//! and ideal runs stay as they were.

use std::any::Any;
use std::collections::BTreeMap;

use crate::api::Kind;
use crate::apiserver::{ClientId, RequestId, Response, UserInfo, WatchEvent, WatchId};
use crate::client::informer::{Delta, InformerHealth};
use crate::client::informer_set::InformerSet;
use crate::client::leader_election::Transition;
use crate::client::lease_lock::LeaseLock;
use crate::component::{Component, ComponentContext, Timer};
use crate::sim::SimTime;

/// The user kube-controller-manager's shared informers speak as.
pub const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";

/// How far a controller's place is shifted into a timer's code.
const TIMER_SHIFT: u32 = 24;
/// The bits of a timer's code that are the controller's own.
const TIMER_MASK: u32 = (1 << TIMER_SHIFT) - 1;
/// The code of the leader elector's wake-up: a place no controller takes.
const ELECTOR_TIMER: u32 = 0xFF << TIMER_SHIFT;

/// Builds a fresh set of controllers: a restarted manager's.
pub type ControllerFactory = Box<dyn Fn() -> Vec<Box<dyn Controller>>>;

/// A controller of kube-controller-manager, as the manager drives it: it reads the shared
/// caches it is handed and never owns an informer.
pub trait Controller: Any {
    /// The client the controller's own requests go out as (its service account's).
    fn client(&self) -> ClientId;

    /// The kinds whose informers it uses (its event handlers and listers).
    fn kinds(&self) -> &[Kind];

    /// One change the shared informer of `kind` saw, at `now`; the shared cache already
    /// holds it.
    fn on_delta(&mut self, kind: Kind, delta: Delta, informers: &InformerSet, now: SimTime);

    /// The answer to one of the controller's own requests.
    fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    );

    /// After its deltas or an answer: hand work to free workers, set wake-ups.
    fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>);

    /// One of the controller's own timers fired (its own code).
    fn on_timer(&mut self, timer: Timer, informers: &InformerSet, cx: &mut ComponentContext<'_>);

    /// The controller, for typed reads by observers (metrics, reports, tests).
    fn as_any(&self) -> &dyn Any;
}

/// Controller `index`'s `timer` as the manager in its life `life` sets it: the place in the
/// top bits, the life as the generation.
fn timer_for(index: usize, life: u32, timer: Timer) -> Timer {
    debug_assert!(
        timer.code <= TIMER_MASK,
        "a controller's timer code fits 24 bits"
    );
    Timer {
        code: (index as u32) << TIMER_SHIFT | (timer.code & TIMER_MASK),
        generation: life,
        ..timer
    }
}

/// The kinds `controllers` use (the shared factory's informers, in first-use order) and the
/// controllers that use each kind, in registration order.
fn kinds_and_handlers(
    controllers: &[Box<dyn Controller>],
) -> (Vec<Kind>, BTreeMap<Kind, Vec<usize>>) {
    let mut kinds: Vec<Kind> = Vec::new();
    let mut handlers: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
    for (index, controller) in controllers.iter().enumerate() {
        for &kind in controller.kinds() {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
            let users = handlers.entry(kind).or_default();
            if !users.contains(&index) {
                users.push(index);
            }
        }
    }
    (kinds, handlers)
}

/// kube-controller-manager.
pub struct KubeControllerManager {
    client: ClientId,
    /// The shared informer factory: one informer per kind any controller uses.
    informers: InformerSet,
    /// The controllers, in registration order (the order deltas reach them).
    controllers: Vec<Box<dyn Controller>>,
    /// The controllers that use each kind, in registration order.
    handlers: BTreeMap<Kind, Vec<usize>>,
    /// The leader election, if the manager elects (modelled apiserver, `leaderElect`).
    lock: Option<LeaseLock>,
    /// Builds the controllers of a restarted manager.
    rebuild: Option<ControllerFactory>,
    /// The manager's restarts so far: its timers' generation.
    life: u32,
    /// What the informers of former lives did (their lists, watches and backoffs), so that
    /// the counters go on across a restart and a new life's first lists count as relists.
    retired: InformerHealth,
}

impl KubeControllerManager {
    /// The controller-manager speaking as `client` for its shared informers, running
    /// `controllers` in this order.
    pub fn new(client: ClientId, controllers: Vec<Box<dyn Controller>>) -> Self {
        let (kinds, handlers) = kinds_and_handlers(&controllers);
        // The last place is the elector's.
        debug_assert!(controllers.len() < (1 << (32 - TIMER_SHIFT)) - 1);
        let user = UserInfo::new(CONTROLLER_MANAGER_USER, &[]);
        KubeControllerManager {
            client,
            informers: InformerSet::new(&kinds, client, &user),
            controllers,
            handlers,
            lock: None,
            rebuild: None,
            life: 0,
            retired: InformerHealth::default(),
        }
    }

    /// The manager campaigning on `lock` before it runs its controllers; a restart after a
    /// lost lease runs the controllers `rebuild` makes.
    pub fn with_leader_election(mut self, lock: LeaseLock, rebuild: ControllerFactory) -> Self {
        self.lock = Some(lock);
        self.rebuild = Some(rebuild);
        self
    }

    /// The leader election, if the manager elects.
    pub fn leader_election(&self) -> Option<&LeaseLock> {
        self.lock.as_ref()
    }

    /// The code of the elector's timers, for the lock the manager is handed.
    pub const ELECTOR_TIMER: u32 = ELECTOR_TIMER;

    /// Acts on a change of leadership.
    fn on_transition(&mut self, transition: Option<Transition>, cx: &mut ComponentContext<'_>) {
        match transition {
            Some(Transition::StartedLeading) => {
                // `OnStartedLeading`: the controllers start, then the shared informers.
                self.informers.start(cx);
            }
            Some(Transition::StoppedLeading) => self.restart(cx),
            None => {}
        }
    }

    /// The process exits and a new one starts: fresh controllers and informers, campaigning.
    fn restart(&mut self, cx: &mut ComponentContext<'_>) {
        self.life += 1;
        // The old process's connections die with it: its watches end.
        self.informers.stop(cx.api);
        self.retired += self.informers.health().retired();
        if let Some(rebuild) = &self.rebuild {
            self.controllers = rebuild();
        }
        let (kinds, handlers) = kinds_and_handlers(&self.controllers);
        let user = UserInfo::new(CONTROLLER_MANAGER_USER, &[]);
        self.informers = InformerSet::new(&kinds, self.client, &user);
        self.handlers = handlers;
        let life = self.life;
        let transition = self.lock.as_mut().and_then(|lock| lock.restart(life, cx));
        self.on_transition(transition, cx);
    }

    /// The shared informers.
    pub fn informers(&self) -> &InformerSet {
        &self.informers
    }

    /// The client the shared informers speak as.
    pub fn client(&self) -> ClientId {
        self.client
    }

    /// The first controller of type `C`, if the manager runs one.
    pub fn controller<C: Controller>(&self) -> Option<&C> {
        self.controllers
            .iter()
            .find_map(|c| c.as_any().downcast_ref::<C>())
    }

    /// Hands the deltas of `kind` to every controller that uses it, each settling after its
    /// deltas (as each of upstream's handlers runs and its workers pick up the work).
    fn fan_out(&mut self, kind: Kind, deltas: &[Delta], cx: &mut ComponentContext<'_>) {
        let Some(users) = self.handlers.get(&kind) else {
            return;
        };
        let now = cx.now();
        let informers = &self.informers;
        let life = self.life;
        for &index in users {
            let controller = &mut self.controllers[index];
            for delta in deltas {
                controller.on_delta(kind, delta.clone(), informers, now);
            }
            cx.map_timers(
                |cx| controller.settle(informers, cx),
                |t| timer_for(index, life, t),
            );
        }
    }
}

impl Component for KubeControllerManager {
    fn clients(&self) -> Vec<ClientId> {
        std::iter::once(self.client)
            .chain(self.controllers.iter().map(|c| c.client()))
            .chain(self.lock.as_ref().map(LeaseLock::client))
            .collect()
    }

    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        match self.lock.as_mut() {
            Some(lock) => {
                let transition = lock.start(cx);
                self.on_transition(transition, cx);
            }
            None => {
                // The factory starts once, after every controller registered its handlers
                // (upstream `InformerFactory.Start` after the controllers' constructors).
                self.informers.start(cx);
            }
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
        if client == self.client {
            match self.informers.on_response(request, response, cx) {
                Some((kind, deltas)) => self.fan_out(kind, &deltas, cx),
                // A former life's watch that opened after it was gone.
                None if self.life > 0 => {
                    self.informers.close_orphan(response, cx.api);
                }
                None => {}
            }
            return;
        }
        let Some(index) = self.controllers.iter().position(|c| c.client() == client) else {
            return;
        };
        let informers = &self.informers;
        let controller = &mut self.controllers[index];
        let life = self.life;
        cx.map_timers(
            |cx| {
                controller.on_response(request, response, informers, cx);
                controller.settle(informers, cx);
            },
            |t| timer_for(index, life, t),
        );
    }

    fn on_watch_event(
        &mut self,
        _client: ClientId,
        watch: WatchId,
        event: &WatchEvent,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some((kind, deltas)) = self.informers.on_watch_event(watch, event, cx.now()) {
            self.fan_out(kind, deltas.as_slice(), cx);
        }
    }

    fn on_watch_ended(&mut self, _client: ClientId, watch: WatchId, cx: &mut ComponentContext<'_>) {
        self.informers.on_watch_ended(watch, cx);
    }

    fn informer_health(&self) -> InformerHealth {
        // Informers not started yet (before leading) count as not following.
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
        let index = (timer.code >> TIMER_SHIFT) as usize;
        let own = Timer {
            code: timer.code & TIMER_MASK,
            ..timer
        };
        let informers = &self.informers;
        let life = self.life;
        let Some(controller) = self.controllers.get_mut(index) else {
            return;
        };
        cx.map_timers(
            |cx| controller.on_timer(own, informers, cx),
            |t| timer_for(index, life, t),
        );
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::Object;
    use crate::api::node::Node;
    use crate::apiserver::{ApiServerConfig, Request};
    use crate::sim::{SimDuration, StopAt, StopReason};
    use crate::world::{self, World};

    const MANAGER: ClientId = ClientId(6);

    /// A controller that writes down what it is handed and sets timer code 1 once synced.
    struct Stub {
        client: ClientId,
        kinds: Vec<Kind>,
        log: Vec<String>,
        armed: bool,
    }

    impl Stub {
        fn new(client: u32, kinds: &[Kind]) -> Box<Self> {
            Box::new(Stub {
                client: ClientId(client),
                kinds: kinds.to_vec(),
                log: Vec::new(),
                armed: false,
            })
        }
    }

    impl Controller for Stub {
        fn client(&self) -> ClientId {
            self.client
        }

        fn kinds(&self) -> &[Kind] {
            &self.kinds
        }

        fn on_delta(&mut self, kind: Kind, delta: Delta, informers: &InformerSet, _: SimTime) {
            let (Delta::Added(o) | Delta::Updated(_, o) | Delta::Deleted(o)) = delta;
            // The shared cache holds the change before any controller hears of it.
            let cached = informers.cache(kind).contains_key(&o.key());
            self.log
                .push(format!("{kind:?} {} cached {cached}", o.meta().name));
        }

        fn on_response(
            &mut self,
            _: RequestId,
            response: &Response,
            _: &InformerSet,
            _: &mut ComponentContext<'_>,
        ) {
            self.log.push(format!("own answer ok {}", response.is_ok()));
        }

        fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
            if !self.armed && informers.has_synced_kinds(&self.kinds) {
                self.armed = true;
                let timer = Timer {
                    code: 1,
                    background: false,
                    generation: 0,
                };
                cx.set_timer_in(SimDuration::from_secs(self.client.0 as u64), timer);
                let user = UserInfo::new("stub", &[]);
                let key = crate::api::ObjectKey::cluster("n1");
                let get = Request::get(self.client, user, Kind::Node, &key);
                cx.api.submit(cx.now(), get, cx.out);
            }
        }

        fn on_timer(&mut self, timer: Timer, _: &InformerSet, cx: &mut ComponentContext<'_>) {
            self.log
                .push(format!("timer {} at {}", timer.code, cx.now()));
        }

        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    fn log_of(sim: &crate::sim::Simulation<World>, index: usize) -> Vec<String> {
        let manager = sim
            .model()
            .component::<KubeControllerManager>()
            .expect("the manager");
        let stub = manager.controllers[index]
            .as_any()
            .downcast_ref::<Stub>()
            .expect("a stub");
        stub.log.clone()
    }

    #[test]
    fn one_watch_per_kind_feeds_every_controller_and_timers_come_back_to_their_setter() {
        let controllers: Vec<Box<dyn Controller>> = vec![
            Stub::new(2, &[Kind::Node, Kind::Pod]),
            Stub::new(3, &[Kind::Node]),
        ];
        let manager = KubeControllerManager::new(MANAGER, controllers);
        let mut sim =
            world::with_components(ApiServerConfig::default(), 1, vec![Box::new(manager)]);
        let mut node = Node::default();
        node.metadata.name = "n1".into();
        let user = UserInfo::new("kubernetes-admin", &["system:masters"]);
        let create = Request::create(ClientId(90), user, Object::Node(Arc::new(node)));
        world::submit(&mut sim, create);
        let reason = sim.run(StopAt {
            until: None,
            when_quiescent: true,
            max_events: Some(1_000),
        });
        assert_eq!(reason, StopReason::Quiescent);
        // Two watches, both the manager's: Node and Pod.
        let watches: Vec<(ClientId, Kind)> = sim
            .model()
            .api()
            .watches()
            .open_watches()
            .map(|(_, w)| (w.client, w.kind))
            .collect();
        assert_eq!(watches, vec![(MANAGER, Kind::Node), (MANAGER, Kind::Pod)]);
        // The node (created at 0 s, committed at 1 ms) is in the first list (answered at
        // 1 ms) or comes as a watch event; either way both controllers hear of it once, from
        // the one cache. Each gets its own answer (its GET, sent on sync), then its own
        // timer code 1 at 2 s and 3 s (set at ~1 ms: the seconds are the client ids).
        for (index, at) in [(0, "2.001s"), (1, "3.001s")] {
            let log = log_of(&sim, index);
            assert_eq!(
                log,
                vec![
                    "Node n1 cached true".to_string(),
                    "own answer ok true".to_string(),
                    format!("timer 1 at {at}"),
                ],
                "controller {index}"
            );
        }
    }
}
