//! The simulated world: the apiserver and every component, wired into one [`Model`].
//!
//! The world owns all state; components never hold references to each other. An event is
//! either the apiserver's own (a request executing, a watch event arriving), a component's
//! (a timeline action, a timer), or the metrics sampler's. Whatever the apiserver answers is
//! routed here to the component that asked.
//!
//! Knowing every component, the world also answers the scenario loader for them: which
//! component resolves which configuration document ([`Components`]).

use std::collections::BTreeMap;

mod components;
pub mod drain;
pub mod kubectl;
mod populations;
pub mod transport;

use crate::api::Object;
use crate::apiserver::ClientId;
use crate::apiserver::{
    ApiEvent, ApiOutput, ApiServer, ApiServerConfig, Request, RequestId, UserInfo,
};
use crate::client::informer::InformerHealth;
use crate::client::lease_lock::LeaseLock;
use crate::component::{Component, ComponentContext, Timer};
use crate::config::feature_gates::ClientFeatureGates;
use crate::config::kube_controller_manager::KubeControllerManagerConfig;
use crate::config::leader_election::LeaderElectionSettings;
use crate::controllers::deployment::DeploymentController;
use crate::controllers::disruption::DisruptionController;
use crate::controllers::endpointslice::{EndpointSliceController, EndpointSliceSettings};
use crate::controllers::garbage_collector::GarbageCollector;
use crate::controllers::hpa::controller::{HpaController, HpaTrace};
use crate::controllers::kube_controller_manager::{
    CONTROLLER_MANAGER_USER, Controller, KubeControllerManager,
};
use crate::controllers::node_lifecycle::{NodeLifecycleController, NodeLifecycleSettings};
use crate::controllers::replicaset::{ReplicaSetController, ReplicaSetSettings};
use crate::controllers::taint_eviction::TaintEvictionController;
use crate::faults::partition::Network;
use crate::faults::{
    Fault, FaultStep, PodFaultError, apiserver_restart, control_plane, crash_node, oom_kill,
    partition, pod_crash, zone_outage,
};
use crate::kube_proxy::KubeProxies;
use crate::kube_proxy::kube_proxy_client;
use crate::kubelet::Kubelets;
use crate::kubelet::kubelet_client;
use crate::metrics::{LeaderStatus, Observed, Recorder};
use crate::metrics_adapter::MetricsAdapter;
use crate::metrics_server::MetricsServer;
use crate::scenario::{Action, Scenario, TimedAction};
use crate::scheduler;
use crate::scheduler::cycle_trace::TracedPods;
use crate::scheduler::kube_scheduler::{
    ELECTOR_TIMER as SCHEDULER_ELECTOR_TIMER, KubeScheduler, SCHEDULER_USER,
};
use crate::sim::{
    Context, Model, RngStreams, SimDuration, SimEvent, SimRng, SimTime, Simulation, StopAt,
    TraceDigest,
};
use crate::workload::load::LoadModel;
pub use components::Components;
use kubectl::{KUBECTL_CLIENT, Kubectl};
use transport::{ClientLimits, Delivery, Transport};

/// The client id of kube-scheduler.
pub const SCHEDULER_CLIENT: ClientId = ClientId(1);
/// The client id of kube-controller-manager's shared informers (upstream's
/// `shared-informers` client, user `system:kube-controller-manager`): one LIST and WATCH per
/// kind for every controller.
pub const CONTROLLER_MANAGER_CLIENT: ClientId = ClientId(6);
/// The client id of kube-controller-manager's ReplicaSet controller (each controller speaks
/// with its own service account, as `--use-service-account-credentials` makes them).
pub const REPLICASET_CLIENT: ClientId = ClientId(2);
/// The client id of kube-controller-manager's Deployment controller.
pub const DEPLOYMENT_CLIENT: ClientId = ClientId(3);
/// The client id of kube-controller-manager's EndpointSlice controller.
pub const ENDPOINTSLICE_CLIENT: ClientId = ClientId(4);
/// The client id of kube-controller-manager's garbage collector.
pub const GARBAGE_COLLECTOR_CLIENT: ClientId = ClientId(5);
/// The client id of kube-controller-manager's disruption controller.
pub const DISRUPTION_CLIENT: ClientId = ClientId(9);
/// The client id of kube-controller-manager's node lifecycle controller.
pub const NODE_LIFECYCLE_CLIENT: ClientId = ClientId(10);
/// The client id of kube-controller-manager's taint eviction controller.
pub const TAINT_EVICTION_CLIENT: ClientId = ClientId(11);

/// The client id of kube-controller-manager's HorizontalPodAutoscaler controller.
pub const HPA_CLIENT: ClientId = ClientId(14);

/// The client id of kube-controller-manager's leader election: upstream builds the elector's
/// clientset apart (user agent `leader-election`), with its own token bucket.
pub const CONTROLLER_MANAGER_LEADER_ELECTION_CLIENT: ClientId = ClientId(12);
/// The client id of kube-scheduler's leader election, its own clientset likewise.
pub const SCHEDULER_LEADER_ELECTION_CLIENT: ClientId = ClientId(13);

/// The random stream from which a pod fault's selector draws its pods.
pub const POD_CHOICE_STREAM: &str = "faults/pod-choice";

/// A component's place in the world (its registration order).
pub type ComponentId = u32;

/// Every event of the world.
#[derive(Debug)]
pub enum Event {
    /// The apiserver's own events.
    Api(ApiEvent),
    /// Timeline action `n` is due.
    Action(u32),
    /// Timeline action `n` asked to be resumed (a drain's retry or read).
    Resume(u32),
    /// Take a metrics sample (periodic, background).
    Sample,
    /// Start a component.
    Start(ComponentId),
    /// A later step of a fault (a recovery, a partition healing), by its place in the
    /// world's list.
    Fault(u32),
    /// One of a component's timers.
    Timer(ComponentId, Timer),
    /// The load model re-evaluates the traffic rates due now (periodic, background).
    LoadStep,
    /// metrics-server scrapes every node (periodic, background).
    MetricsScrape,
    /// Prometheus scrapes every traffic's endpoints for the metrics adapter (periodic,
    /// background).
    AdapterScrape,
}

impl SimEvent for Event {
    fn fingerprint(&self) -> u64 {
        match self {
            Event::Api(e) => e.fingerprint().rotate_left(3),
            Event::Action(n) => 0xA000_0000 | u64::from(*n),
            Event::Resume(n) => 0xB000_0000 | u64::from(*n),
            Event::Sample => 0x5A,
            Event::Start(c) => 0x5C | u64::from(*c) << 8,
            Event::Fault(n) => 0xFA00_0000 | u64::from(*n),
            // A later life's timers differ from the first's; the first's mark is as it was.
            Event::Timer(c, t) => {
                (0x5C00 | u64::from(t.code) | u64::from(*c) << 32) ^ u64::from(t.generation) << 48
            }
            Event::LoadStep => 0x10AD,
            Event::MetricsScrape => 0x5C2A,
            Event::AdapterScrape => 0x5C2B,
        }
    }

    fn is_background(&self) -> bool {
        match self {
            Event::Sample
            | Event::LoadStep
            | Event::MetricsScrape
            | Event::AdapterScrape
            | Event::Api(ApiEvent::ExpireEvent { .. } | ApiEvent::FlowControlWakeup(_)) => true,
            Event::Timer(_, timer) => timer.background,
            Event::Api(_)
            | Event::Action(_)
            | Event::Resume(_)
            | Event::Start(_)
            | Event::Fault(_) => false,
        }
    }
}

/// Component `id` as the type it is, if it is a `C`.
fn component_as<C: Component>(components: &[Box<dyn Component>], id: ComponentId) -> Option<&C> {
    components.get(id as usize)?.as_any().downcast_ref::<C>()
}

/// Settings of a run that are not in the scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The seed (overrides the scenario's).
    pub seed: Option<u64>,
    /// Keep every API write for `events.jsonl`.
    pub record_writes: bool,
    /// The pods whose scheduling cycles the scheduler traces (for `kubesim explain`).
    pub trace_pods: TracedPods,
    /// The HPAs whose syncs the HPA controller keeps (for `kubesim explain --hpa`).
    pub trace_hpas: HpaTrace,
}

/// The apiserver of a run seeded with `streams`: its generated names and its load balancer
/// draw from the run's streams.
fn seeded_apiserver(config: ApiServerConfig, streams: RngStreams) -> ApiServer {
    let mut api = ApiServer::new(config, streams.stream("apiserver/generate-name"));
    api.seed_load_balancer(streams);
    api
}

/// When a run of `scenario` stops: at `until` (default: the scenario's duration), or sooner
/// once nothing is left to happen if the scenario says so.
pub fn stop_at(scenario: &Scenario, until: Option<SimDuration>) -> StopAt {
    StopAt {
        until: Some(SimTime::ZERO + until.unwrap_or(scenario.duration)),
        when_quiescent: scenario.stop_when_quiescent,
        max_events: None,
    }
}

/// The world.
pub struct World {
    api: ApiServer,
    kubectl: Kubectl,
    /// Every component, by [`ComponentId`].
    components: Vec<Box<dyn Component>>,
    /// Which component speaks as each client.
    owners: BTreeMap<ClientId, ComponentId>,
    /// kube-scheduler's id, if the scenario runs it.
    scheduler: Option<ComponentId>,
    /// The kubelets' id, if the scenario runs them.
    kubelets: Option<ComponentId>,
    /// The kube-proxies' id, if the scenario runs them.
    kube_proxies: Option<ComponentId>,
    /// Timers set by the component being handled, for the kernel's queue.
    timers: Vec<(SimTime, Timer)>,
    /// Components wait for the initial apply to settle (a dump whose objects wait for their
    /// owners is loaded before the control plane starts, as a cluster it describes would be).
    start_after_initial_apply: bool,
    recorder: Recorder,
    sample_every: SimDuration,
    /// Outputs of the apiserver waiting to be routed.
    outputs: Vec<ApiOutput>,
    /// The clients a partition cuts off, and what is held for them.
    network: Network,
    /// Later steps of faults, by [`Event::Fault`] number.
    fault_steps: Vec<FaultStep>,
    /// Each node's place among the per-node agents (its kubelet's and kube-proxy's client).
    node_index: BTreeMap<String, u32>,
    /// Which pods a pod fault's selector picks (`faults/pod-choice`).
    pod_choice: SimRng,
    /// The random part of etcd leader elections (`faults/etcd-leader-election`).
    etcd_elections: SimRng,
    /// A second buffer for routing, kept to reuse its allocation.
    spare_outputs: Vec<ApiOutput>,
    /// The clients' rate limiters and retries, when the apiserver is modelled.
    transport: Option<Transport>,
    /// The run's random streams, handed to components as they act.
    streams: RngStreams,
    /// client-go's feature gates of every client (`spec.clientFeatureGates`).
    client_gates: ClientFeatureGates,
    /// What the scenario's traffic does to the pods, when it has traffic or metrics-server.
    load: Option<LoadModel>,
    /// metrics-server, when the scenario runs it.
    metrics_server: Option<MetricsServer>,
    /// The custom and external metrics adapter, in runs that have one.
    metrics_adapter: Option<MetricsAdapter>,
}

impl World {
    /// The apiserver.
    pub fn api(&self) -> &ApiServer {
        &self.api
    }

    /// Gives every client client-go's `gates` from now on (a world made by [`with_components`]
    /// has them all off; informers read them when they start).
    pub fn set_client_gates(&mut self, gates: ClientFeatureGates) {
        self.client_gates = gates;
    }

    /// The clients' rate limiters and retries, when the apiserver is modelled.
    pub fn transport(&self) -> Option<&Transport> {
        self.transport.as_ref()
    }

    /// The scenario's user and how its actions went.
    pub fn kubectl(&self) -> &Kubectl {
        &self.kubectl
    }

    /// kube-scheduler, if the scenario runs it.
    pub fn scheduler(&self) -> Option<&KubeScheduler> {
        component_as(&self.components, self.scheduler?)
    }

    /// The kubelets, if the scenario runs them.
    pub fn kubelets(&self) -> Option<&Kubelets> {
        component_as(&self.components, self.kubelets?)
    }

    /// The load model, if the scenario has traffic or metrics-server.
    pub fn load(&self) -> Option<&LoadModel> {
        self.load.as_ref()
    }

    /// metrics-server, if the scenario runs it.
    pub fn metrics_server(&self) -> Option<&MetricsServer> {
        self.metrics_server.as_ref()
    }

    /// The kube-proxies, if the scenario runs them.
    pub fn kube_proxies(&self) -> Option<&KubeProxies> {
        component_as(&self.components, self.kube_proxies?)
    }

    /// Registers `component`: what is addressed to its clients is routed to it from now on.
    fn register(&mut self, component: Box<dyn Component>) -> ComponentId {
        let id = self.components.len() as ComponentId;
        for client in component.clients() {
            self.owners.insert(client, id);
        }
        self.components.push(component);
        id
    }

    /// Lets component `id` handle something through `handle`, then queues the timers it set.
    fn dispatch(
        &mut self,
        ctx: &mut Context<'_, Event>,
        id: ComponentId,
        handle: impl FnOnce(&mut dyn Component, &mut ComponentContext<'_>),
    ) {
        let Some(component) = self.components.get_mut(id as usize) else {
            return;
        };
        let mut timers = std::mem::take(&mut self.timers);
        let mut cx = ComponentContext::new(
            ctx.now(),
            &mut self.api,
            &mut self.outputs,
            &mut timers,
            self.streams,
        )
        .with_client_gates(self.client_gates)
        .with_metrics_api(self.metrics_server.as_ref())
        .with_custom_metrics(self.metrics_adapter.as_ref());
        handle(component.as_mut(), &mut cx);
        for (at, timer) in timers.drain(..) {
            ctx.schedule_at(at, Event::Timer(id, timer));
        }
        self.timers = timers;
    }

    /// The first component of type `C`, if there is one.
    pub fn component<C: Component>(&self) -> Option<&C> {
        self.components
            .iter()
            .find_map(|c| c.as_any().downcast_ref::<C>())
    }

    /// kube-controller-manager's controller of type `C`, if it runs one.
    pub fn controller<C: Controller>(&self) -> Option<&C> {
        self.component::<KubeControllerManager>()?.controller::<C>()
    }

    /// Whether the component of type `C` holds its lease, if it runs and elects.
    fn leading<C: Component>(&self) -> Option<bool> {
        self.leadership::<C>().map(LeaseLock::is_leading)
    }

    /// The leader election of the component of type `C`, if it runs and elects.
    pub fn leadership<C: Component>(&self) -> Option<&LeaseLock> {
        self.components
            .iter()
            .find(|c| c.as_any().is::<C>())?
            .leadership()
    }

    /// The metrics recorded so far.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The digest of a run: the kernel's digest of the processed events folded with the
    /// apiserver's digest of what was committed, so two runs that differ in any written object
    /// name or any event differ here.
    pub fn trace_digest(&self, events: &TraceDigest) -> TraceDigest {
        let mut digest = *events;
        let commits = self.api.commit_digest().finish();
        digest.update(commits as u64);
        digest.update((commits >> 64) as u64);
        digest
    }

    /// Takes a sample now (the end of a run samples once more).
    pub fn sample(&mut self, now: SimTime) {
        let observed = Observed {
            scheduler: self
                .scheduler
                .and_then(|id| component_as::<KubeScheduler>(&self.components, id)),
            kube_proxies: self
                .kube_proxies
                .and_then(|id| component_as::<KubeProxies>(&self.components, id)),
            // Only a modelled run samples its clients: an ideal run need not walk every
            // informer of every node at each sample.
            informers: if self.api.request_path().is_some() {
                self.components
                    .iter()
                    .fold(InformerHealth::default(), |mut sum, c| {
                        sum += c.informer_health();
                        sum
                    })
            } else {
                InformerHealth::default()
            },
            leaders: LeaderStatus {
                controller_manager: self.leading::<KubeControllerManager>(),
                scheduler: self.leading::<KubeScheduler>(),
            },
            populations: self.population_samples(),
            load: self.load.as_ref(),
        };
        self.recorder.sample(now, &self.api, observed);
    }

    /// Starts every component once the initial apply has settled, if they wait for it.
    fn start_once_loaded(&mut self, ctx: &mut Context<'_, Event>) {
        if self.start_after_initial_apply && self.kubectl.is_settled(0) {
            self.start_after_initial_apply = false;
            for id in 0..self.components.len() as ComponentId {
                ctx.schedule_in(SimDuration::ZERO, Event::Start(id));
            }
        }
    }

    /// Schedules the resumptions kubectl asked for.
    fn schedule_kubectl_wakeups(&mut self, ctx: &mut Context<'_, Event>) {
        for (at, action) in self.kubectl.take_wakeups() {
            ctx.schedule_at(at, Event::Resume(action as u32));
        }
    }

    /// Carries out the fault of timeline action `action`: its first step now, its later ones
    /// (a recovery, a healing) when due. What keeps a pod fault from hitting what it asks
    /// for is the action's error.
    fn start_fault(&mut self, action: usize, fault: &Fault, ctx: &mut Context<'_, Event>) {
        let steps = match fault {
            Fault::PodCrash {
                target,
                container,
                exit_code,
            } => {
                let (pods, errors) = target.resolve(self.api.store(), &mut self.pod_choice);
                self.pod_fault(action, &pods, errors, ctx, |pod| {
                    pod_crash::step(pod, container.as_deref(), *exit_code)
                });
                return;
            }
            Fault::OomKill { target, container } => {
                let (pods, errors) = target.resolve(self.api.store(), &mut self.pod_choice);
                self.pod_fault(action, &pods, errors, ctx, |pod| {
                    oom_kill::step(pod, container.as_deref())
                });
                return;
            }
            Fault::CrashNode {
                node,
                recover_after,
            } => crash_node::steps(node, *recover_after),
            Fault::StopKubelet(node) => {
                vec![(SimDuration::ZERO, crate::faults::kubelet::stop(node))]
            }
            Fault::StartKubelet(node) => {
                vec![(SimDuration::ZERO, crate::faults::kubelet::start(node))]
            }
            Fault::Partition { nodes, heal_after } => partition::steps(nodes, *heal_after),
            Fault::ZoneOutage {
                nodes,
                recover_after,
                ..
            } => zone_outage::steps(nodes, *recover_after),
            Fault::Flap {
                node,
                down,
                up,
                times,
            } => partition::flap_steps(node, *down, *up, *times),
            Fault::ApiserverRestart { downtime, replica } => {
                apiserver_restart::steps(*downtime, *replica)
            }
            Fault::ApiserverRollingRestart { downtime, interval } => {
                let replicas = self.api.replicas().len() as u32;
                apiserver_restart::rolling_steps(replicas, *downtime, *interval)
            }
            Fault::BreakWatches => vec![(SimDuration::ZERO, FaultStep::BreakWatches)],
            Fault::EtcdSlowdown { percent, lasting } => {
                control_plane::etcd_slowdown_steps(*percent, *lasting)
            }
            Fault::EtcdLeaderElection => vec![(SimDuration::ZERO, FaultStep::EtcdLeaderLoss)],
        };
        for (delay, step) in steps {
            if delay.is_zero() {
                let _ = self.fault_step(step, ctx);
            } else {
                let n = self.fault_steps.len() as u32;
                self.fault_steps.push(step);
                ctx.schedule_in(delay, Event::Fault(n));
            }
        }
    }

    /// Carries out a pod fault on `pods` (each one's step made by `step`), now: the action
    /// names the pods it hit, and records the errors of its resolution and of its steps.
    fn pod_fault(
        &mut self,
        action: usize,
        pods: &[std::sync::Arc<crate::api::pod::Pod>],
        mut errors: Vec<PodFaultError>,
        ctx: &mut Context<'_, Event>,
        step: impl Fn(&crate::api::pod::Pod) -> FaultStep,
    ) {
        let mut hit = Vec::new();
        for pod in pods {
            let failed = self.fault_step(step(pod), ctx);
            if failed.is_empty() {
                hit.push(crate::api::ObjectKey::new(
                    pod.metadata.namespace.clone(),
                    pod.metadata.name.clone(),
                ));
            }
            errors.extend(failed);
        }
        self.kubectl.fault_done(action, &hit, &errors);
    }

    /// The clients of `nodes`' agents (kubelet and kube-proxy).
    fn node_clients(&self, nodes: &[String]) -> Vec<ClientId> {
        nodes
            .iter()
            .filter_map(|n| self.node_index.get(n))
            .flat_map(|&i| [kubelet_client(i), kube_proxy_client(i)])
            .collect()
    }

    /// The apiserver replicas a step names: one, or every one (`None`), in index order.
    fn apiserver_replicas(&self, replica: Option<u32>) -> std::ops::Range<usize> {
        match replica {
            Some(r) => r as usize..r as usize + 1,
            None => 0..self.api.replicas().len(),
        }
    }

    /// One step of a fault; what kept it from happening (a pod step only).
    fn fault_step(&mut self, step: FaultStep, ctx: &mut Context<'_, Event>) -> Vec<PodFaultError> {
        match step {
            FaultStep::Node(node, fault) => {
                for id in 0..self.components.len() as ComponentId {
                    self.dispatch(ctx, id, |c, cx| c.on_node_fault(&node, fault, cx));
                }
            }
            FaultStep::Pod(node, kill) => {
                let mut answer = None;
                for id in 0..self.components.len() as ComponentId {
                    self.dispatch(ctx, id, |c, cx| {
                        if let Some(a) = c.on_container_kill(&node, &kill, cx) {
                            answer = Some(a);
                        }
                    });
                }
                // No component runs the node's kubelet (kubelets are off, or the node is
                // not one of the run's): nothing runs the pod.
                let answer = answer.unwrap_or(Err(PodFaultError::NotOnNode {
                    node,
                    pod: kill.pod,
                }));
                return answer.err().into_iter().collect();
            }
            FaultStep::Cut(nodes) => {
                let clients = self.node_clients(&nodes);
                self.network.cut(&clients);
            }
            FaultStep::ApiserverDown(replica) => {
                for r in self.apiserver_replicas(replica) {
                    self.api.shut_down(ctx.now(), r, &mut self.outputs);
                }
            }
            FaultStep::ApiserverUp(replica) => {
                for r in self.apiserver_replicas(replica) {
                    self.api.come_up(ctx.now(), r);
                }
            }
            FaultStep::BreakWatches => self.api.break_watches(&mut self.outputs),
            FaultStep::EtcdSlowdown(percent) => self.api.slow_etcd(percent),
            FaultStep::EtcdLeaderLoss => {
                self.api
                    .lose_etcd_leader(ctx.now(), &mut self.etcd_elections);
            }
            FaultStep::Heal(nodes) => {
                let clients = self.node_clients(&nodes);
                let (requests, outputs) = self.network.heal(&clients);
                for event in requests {
                    ctx.schedule_in(SimDuration::ZERO, Event::Api(event));
                }
                self.outputs.extend(outputs);
            }
        }
        Vec::new()
    }

    /// Routes everything the apiserver produced, including what routing produces in turn
    /// (a response can make a component send another request).
    fn route(&mut self, ctx: &mut Context<'_, Event>) {
        let mut batch = std::mem::take(&mut self.spare_outputs);
        while !self.outputs.is_empty() {
            std::mem::swap(&mut batch, &mut self.outputs);
            for output in batch.drain(..) {
                // A request leaves its client once the client's rate limiter lets it.
                let output = match (output, self.transport.as_mut()) {
                    (ApiOutput::Schedule(at, ApiEvent::Execute(id)), Some(transport)) => {
                        let at = transport.on_send(id, at, ctx.now(), &self.api);
                        ApiOutput::Schedule(at, ApiEvent::Execute(id))
                    }
                    (output, _) => output,
                };
                match output {
                    ApiOutput::Schedule(at, ApiEvent::Execute(id))
                        if self.network.any_cut()
                            && self
                                .api
                                .request_client(id)
                                .is_some_and(|c| self.network.is_cut(c)) =>
                    {
                        // Sent by a client a partition cuts off: it waits for the healing.
                        let client = self.api.request_client(id).unwrap_or(ClientId(0));
                        self.network.hold_request(client, ApiEvent::Execute(id));
                        let _ = at;
                    }
                    ApiOutput::Schedule(at, event) => {
                        ctx.schedule_at(at, Event::Api(event));
                    }
                    ApiOutput::Respond { client, .. }
                    | ApiOutput::Deliver { client, .. }
                    | ApiOutput::WatchEnded { client, .. }
                        if self.network.is_cut(client) =>
                    {
                        self.network.hold(output);
                    }
                    ApiOutput::Respond {
                        client,
                        request,
                        response,
                    } => {
                        if let Some(transport) = self.transport.as_mut()
                            && transport.on_answer(
                                client,
                                request,
                                &response,
                                ctx.now(),
                                &mut self.api,
                                &mut self.outputs,
                            ) == Delivery::Retried
                        {
                            continue;
                        }
                        if client == KUBECTL_CLIENT {
                            self.kubectl.on_response(
                                request,
                                &response,
                                ctx.now(),
                                &mut self.api,
                                &mut self.outputs,
                            );
                            self.schedule_kubectl_wakeups(ctx);
                            self.start_once_loaded(ctx);
                        } else if let Some(&id) = self.owners.get(&client) {
                            self.dispatch(ctx, id, |c, cx| {
                                c.on_response(client, request, &response, cx);
                            });
                        }
                    }
                    ApiOutput::Deliver {
                        client,
                        watch,
                        event,
                    } => {
                        if let Some(&id) = self.owners.get(&client) {
                            self.dispatch(ctx, id, |c, cx| {
                                c.on_watch_event(client, watch, &event, cx);
                            });
                        }
                    }
                    ApiOutput::WatchEnded { client, watch } => {
                        if let Some(&id) = self.owners.get(&client) {
                            self.dispatch(ctx, id, |c, cx| c.on_watch_ended(client, watch, cx));
                        }
                    }
                }
            }
        }
        self.spare_outputs = batch;
    }
}

impl Model for World {
    type Event = Event;

    fn handle(&mut self, ctx: &mut Context<'_, Event>, event: Event) {
        let now = ctx.now();
        match event {
            Event::Api(e) => self.api.handle(now, e, &mut self.outputs),
            Event::Action(n) => {
                let fault = match self.kubectl.actions().get(n as usize).map(|a| &a.action) {
                    Some(Action::Fault(fault)) => Some(fault.clone()),
                    _ => None,
                };
                match fault {
                    Some(fault) => self.start_fault(n as usize, &fault, ctx),
                    None => {
                        self.kubectl
                            .run(n as usize, now, &mut self.api, &mut self.outputs);
                        self.schedule_kubectl_wakeups(ctx);
                    }
                }
            }
            Event::Resume(n) => {
                self.kubectl
                    .resume(n as usize, now, &mut self.api, &mut self.outputs);
                self.schedule_kubectl_wakeups(ctx);
            }
            Event::Fault(n) => {
                if let Some(step) = self.fault_steps.get(n as usize).cloned() {
                    // Only a pod step can fail, and pod faults have no later steps.
                    let _ = self.fault_step(step, ctx);
                }
            }
            Event::Sample => {
                self.sample(now);
                ctx.schedule_in(self.sample_every, Event::Sample);
            }
            Event::Start(id) => self.dispatch(ctx, id, |c, cx| c.start(cx)),
            Event::Timer(id, timer) => self.dispatch(ctx, id, |c, cx| c.on_timer(timer, cx)),
            Event::LoadStep => {
                if let Some(load) = self.load.as_mut() {
                    load.observe(now, self.api.store());
                    load.step(now);
                    if let Some(next) = load.next_step(now) {
                        ctx.schedule_at(next, Event::LoadStep);
                    }
                }
            }
            Event::MetricsScrape => {
                if let (Some(server), Some(load)) =
                    (self.metrics_server.as_mut(), self.load.as_mut())
                {
                    load.observe(now, self.api.store());
                    server.scrape(now, load);
                    ctx.schedule_at(server.next_scrape(now), Event::MetricsScrape);
                }
            }
            Event::AdapterScrape => {
                if let (Some(adapter), Some(load)) =
                    (self.metrics_adapter.as_mut(), self.load.as_mut())
                {
                    load.observe(now, self.api.store());
                    adapter.scrape(now, load.request_counts(now));
                    ctx.schedule_at(adapter.next_scrape(now), Event::AdapterScrape);
                }
            }
        }
        self.route(ctx);
        self.recorder.observe(now, &self.api);
        if let Some(load) = self.load.as_mut() {
            load.observe(now, self.api.store());
        }
    }
}

/// Adds `component` to a built simulation and starts it now: for a component the scenario
/// does not make (a test's stand-in for one kubesim does not model yet).
pub fn add_component(sim: &mut Simulation<World>, component: Box<dyn Component>) -> ComponentId {
    let id = sim.model_mut().register(component);
    let now = sim.now();
    sim.schedule_at(now, Event::Start(id));
    id
}

/// Submits `request` at the simulation's current time as an outside client would (a test, a
/// tool standing in for a component kubesim does not model yet): it passes admission and
/// reaches every watcher as any request does; its response goes to no component.
pub fn submit(sim: &mut Simulation<World>, request: Request) -> RequestId {
    let now = sim.now();
    let mut out = Vec::new();
    let id = sim.model_mut().api.submit(now, request, &mut out);
    for output in out {
        if let ApiOutput::Schedule(at, event) = output {
            sim.schedule_at(at, Event::Api(event));
        }
    }
    id
}

/// A world of `components` alone, started at time 0, with no scenario: no kubectl actions, no
/// metrics sampling. Tests of one component against the apiserver drive it with [`submit`].
pub fn with_components(
    config: ApiServerConfig,
    seed: u64,
    components: Vec<Box<dyn Component>>,
) -> Simulation<World> {
    let streams = RngStreams::new(seed);
    let transport = modelled(&config).then(Transport::default);
    let mut world = World {
        api: seeded_apiserver(config, streams),
        kubectl: Kubectl::new(Vec::new()),
        components: Vec::new(),
        owners: BTreeMap::new(),
        scheduler: None,
        kubelets: None,
        kube_proxies: None,
        timers: Vec::new(),
        start_after_initial_apply: false,
        recorder: Recorder::default(),
        sample_every: SimDuration::from_secs(60),
        outputs: Vec::new(),
        spare_outputs: Vec::new(),
        transport,
        streams,
        client_gates: ClientFeatureGates::default(),
        load: None,
        metrics_server: None,
        metrics_adapter: None,
        network: Network::default(),
        fault_steps: Vec::new(),
        node_index: BTreeMap::new(),
        pod_choice: streams.stream(POD_CHOICE_STREAM),
        etcd_elections: streams.stream("faults/etcd-leader-election"),
    };
    let ids: Vec<ComponentId> = components.into_iter().map(|c| world.register(c)).collect();
    let mut sim = Simulation::new(world);
    for id in ids {
        sim.schedule_at(SimTime::ZERO, Event::Start(id));
    }
    sim
}

/// Whether `config` models the request path (flow control, service times, the clients'
/// transport) rather than the ideal one.
fn modelled(config: &ApiServerConfig) -> bool {
    config.request_path.mode != crate::apiserver::FlowControlMode::Ideal
}

/// kube-controller-manager's controllers as `config` enables them, in this order (the order
/// each shared informer's deltas reach them); the node lifecycle controller only
/// `with_kubelets`.
fn controllers_of(
    config: &KubeControllerManagerConfig,
    with_kubelets: bool,
    hpa_trace: &HpaTrace,
) -> Vec<Box<dyn Controller>> {
    let settings = ReplicaSetSettings {
        workers: config.concurrent_replicaset_syncs as usize,
        burst_replicas: config.burst_replicas as usize,
    };
    let mut enabled: Vec<Box<dyn Controller>> = vec![
        Box::new(ReplicaSetController::new(REPLICASET_CLIENT, settings)),
        Box::new(DeploymentController::new(
            DEPLOYMENT_CLIENT,
            config.concurrent_deployment_syncs as usize,
        )),
        Box::new(EndpointSliceController::new(
            ENDPOINTSLICE_CLIENT,
            EndpointSliceSettings::of(config),
        )),
        Box::new(DisruptionController::new(DISRUPTION_CLIENT)),
        Box::new(GarbageCollector::new(
            GARBAGE_COLLECTOR_CLIENT,
            config.concurrent_gc_syncs as usize,
        )),
    ];
    // Without kubelets no node ever posts a heartbeat: the node lifecycle controller would
    // only find every node silent, so it runs with kubelets alone.
    if with_kubelets {
        enabled.push(Box::new(NodeLifecycleController::new(
            NODE_LIFECYCLE_CLIENT,
            NodeLifecycleSettings::of(config),
        )));
    }
    enabled.push(Box::new(TaintEvictionController::new(
        TAINT_EVICTION_CLIENT,
    )));
    enabled.push(Box::new(
        HpaController::new(HPA_CLIENT, config.hpa).with_trace(hpa_trace.clone()),
    ));
    enabled
}

/// A component's leader election on its Lease, if it elects: on a modelled apiserver (`elects`)
/// with `leaderElect` on. Its random jitter is the component's own stream.
fn lease_lock(
    elects: bool,
    settings: &LeaderElectionSettings,
    client: ClientId,
    user: UserInfo,
    timer_code: u32,
    streams: RngStreams,
) -> Option<LeaseLock> {
    if !(elects && settings.leader_elect) {
        return None;
    }
    let rng = streams.stream(&format!(
        "client/leader-election/{}",
        settings.resource_name
    ));
    // The loader checked the timings: they are accepted.
    LeaseLock::new(settings, client, user, timer_code, rng).ok()
}

/// Every node the actions apply, with the time of its first apply, in that order.
fn applied_nodes(actions: &[TimedAction]) -> Vec<(String, SimTime)> {
    let mut seen = BTreeMap::new();
    let mut nodes = Vec::new();
    for action in actions {
        let Action::Apply(objects) = &action.action else {
            continue;
        };
        for object in objects {
            if let Object::Node(node) = object
                && seen.insert(node.metadata.name.clone(), ()).is_none()
            {
                nodes.push((node.metadata.name.clone(), action.at));
            }
        }
    }
    nodes
}

/// Builds the simulation of `scenario`: the initial objects are applied at time 0, before any
/// timeline action, and sampling starts at time 0.
///
/// Every node the scenario applies (initially or in a timeline `apply`) gets a kubelet and a
/// kube-proxy, which start when its node is applied; with kubelets running, the kubelets —
/// not the apiserver — finish graceful pod deletions.
pub fn build(scenario: &Scenario, options: &RunOptions) -> Simulation<World> {
    let seed = options.seed.unwrap_or(scenario.seed);
    let streams = RngStreams::new(seed);
    let mut actions = Vec::with_capacity(scenario.timeline.len() + 1);
    if !scenario.initial.is_empty() {
        actions.push(TimedAction {
            at: SimTime::ZERO,
            action: Action::Apply(scenario.initial.clone()),
        });
    }
    actions.extend(scenario.timeline.iter().cloned());
    let nodes = applied_nodes(&actions);
    // Traffic, or metrics-server reading the pods' usage: the load model runs, and the
    // recorder follows scaling and cost.
    let follows_load = !scenario.traffic.is_empty() || scenario.metrics_server.is_some();
    let node_index: BTreeMap<String, u32> = nodes
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.clone(), i as u32))
        .collect();
    let kubelets = (scenario.kubelet.enabled && !nodes.is_empty())
        .then(|| Kubelets::new(&nodes, scenario.kubelet.clone(), streams));
    let kube_proxies = (scenario.kube_proxy.enabled && !nodes.is_empty())
        .then(|| KubeProxies::new(&nodes, &scenario.kube_proxy));
    let config = ApiServerConfig {
        record_writes: options.record_writes,
        complete_graceful_deletions: scenario.apiserver.complete_graceful_deletions
            && kubelets.is_none(),
        ..scenario.apiserver.clone()
    };
    // On the ideal apiserver a lease can never be lost: the components lead from time 0
    // without an election, and ideal runs send no Lease request.
    let elects = modelled(&config);
    let scheduler = if scenario.scheduler.enabled {
        // The configuration was resolved once at load time; it resolves the same way again.
        scheduler::config::resolve_seeded(&scenario.scheduler.config, seed)
            .ok()
            .map(|config| {
                let mut scheduler = KubeScheduler::new(
                    SCHEDULER_CLIENT,
                    config,
                    scenario.scheduler.cycle_cost,
                    streams.stream("scheduler/tie-break"),
                    streams.stream("scheduler/preemption"),
                );
                scheduler.trace(options.trace_pods.clone());
                let settings = scenario
                    .scheduler
                    .config
                    .leader_election
                    .settings("kube-scheduler");
                let user = UserInfo::new(SCHEDULER_USER, &["system:authenticated"]);
                match lease_lock(
                    elects,
                    &settings,
                    SCHEDULER_LEADER_ELECTION_CLIENT,
                    user,
                    SCHEDULER_ELECTOR_TIMER,
                    streams,
                ) {
                    Some(lock) => scheduler.with_leader_election(lock),
                    None => scheduler,
                }
            })
    } else {
        None
    };
    let transport = modelled(&config).then(|| Transport::new(ClientLimits::of(scenario)));
    let mut world = World {
        api: seeded_apiserver(config, streams),
        kubectl: Kubectl::new(actions),
        components: Vec::new(),
        owners: BTreeMap::new(),
        scheduler: None,
        kubelets: None,
        kube_proxies: None,
        timers: Vec::new(),
        start_after_initial_apply: Kubectl::defers(&scenario.initial),
        recorder: if follows_load {
            Recorder::default().with_autoscaling()
        } else {
            Recorder::default()
        },
        sample_every: scenario.sample_every,
        outputs: Vec::new(),
        spare_outputs: Vec::new(),
        transport,
        streams,
        client_gates: scenario.client_feature_gates,
        load: follows_load.then(|| LoadModel::new(&scenario.traffic, streams)),
        metrics_server: scenario
            .metrics_server
            .map(|config| MetricsServer::new(config, streams)),
        metrics_adapter: scenario.metrics_adapter.clone().map(|config| {
            let services = scenario.traffic.iter().map(|t| t.service.clone()).collect();
            MetricsAdapter::new(config, services)
        }),
        network: Network::default(),
        fault_steps: Vec::new(),
        node_index,
        pod_choice: streams.stream(POD_CHOICE_STREAM),
        etcd_elections: streams.stream("faults/etcd-leader-election"),
    };
    if let Some(scheduler) = scheduler {
        world.scheduler = Some(world.register(Box::new(scheduler)));
    }
    let controllers = &scenario.controller_manager;
    if controllers.enabled {
        let with_kubelets = scenario.kubelet.enabled;
        let mut manager = KubeControllerManager::new(
            CONTROLLER_MANAGER_CLIENT,
            controllers_of(controllers, with_kubelets, &options.trace_hpas),
        );
        let user = UserInfo::new(CONTROLLER_MANAGER_USER, &[]);
        if let Some(lock) = lease_lock(
            elects,
            &controllers.leader_election,
            CONTROLLER_MANAGER_LEADER_ELECTION_CLIENT,
            user,
            KubeControllerManager::ELECTOR_TIMER,
            streams,
        ) {
            let settings = controllers.clone();
            let trace = options.trace_hpas.clone();
            let rebuild = Box::new(move || controllers_of(&settings, with_kubelets, &trace));
            manager = manager.with_leader_election(lock, rebuild);
        }
        world.register(Box::new(manager));
    }
    if let Some(kubelets) = kubelets {
        world.kubelets = Some(world.register(Box::new(kubelets)));
    }
    if let Some(proxies) = kube_proxies {
        world.kube_proxies = Some(world.register(Box::new(proxies)));
    }
    for (k, population) in scenario.clients.iter().enumerate() {
        world.register(crate::populations::build(k, population, &nodes, streams));
    }
    let components = world.components.len() as ComponentId;
    let mut sim = Simulation::new(world);
    let due: Vec<SimTime> = sim.model().kubectl.actions().iter().map(|a| a.at).collect();
    for (i, at) in due.into_iter().enumerate() {
        sim.schedule_at(at, Event::Action(i as u32));
    }
    sim.schedule_at(SimTime::ZERO, Event::Sample);
    if !scenario.traffic.is_empty() {
        sim.schedule_at(SimTime::ZERO, Event::LoadStep);
    }
    if let Some(server) = &sim.model().metrics_server {
        let first = server.next_scrape(SimTime::ZERO);
        sim.schedule_at(first, Event::MetricsScrape);
    }
    if let Some(adapter) = &sim.model().metrics_adapter {
        let first = adapter.next_scrape(SimTime::ZERO);
        sim.schedule_at(first, Event::AdapterScrape);
    }
    if !sim.model().start_after_initial_apply {
        for id in 0..components {
            sim.schedule_at(SimTime::ZERO, Event::Start(id));
        }
    }
    sim
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;
    use crate::apiserver::{ListOptions, Response, UserInfo, WatchEvent, WatchId};
    use crate::sim::StopReason;

    /// A component speaking as two clients that writes down everything it is handed.
    #[derive(Default)]
    struct Probe {
        log: Vec<String>,
    }

    const FIRST: ClientId = ClientId(7);
    const SECOND: ClientId = ClientId(8);

    impl Component for Probe {
        fn clients(&self) -> Vec<ClientId> {
            vec![FIRST, SECOND]
        }

        fn start(&mut self, cx: &mut ComponentContext<'_>) {
            self.log.push(format!("start at {}", cx.now()));
            let user = UserInfo::new("probe", &[]);
            let list = Request::list(SECOND, user, Kind::Node, "", ListOptions::default());
            cx.api.submit(cx.now(), list, cx.out);
            let second = SimDuration::from_secs(1);
            cx.set_timer_in(
                SimDuration::from_secs(5),
                Timer {
                    code: 3,
                    background: false,
                    generation: 0,
                },
            );
            cx.set_timer_in(
                second,
                Timer {
                    code: 4,
                    background: true,
                    generation: 0,
                },
            );
        }

        fn on_response(
            &mut self,
            client: ClientId,
            _request: RequestId,
            response: &Response,
            cx: &mut ComponentContext<'_>,
        ) {
            let ok = response.is_ok();
            self.log
                .push(format!("response to {} at {}: ok {ok}", client.0, cx.now()));
        }

        fn on_watch_event(
            &mut self,
            client: ClientId,
            _watch: WatchId,
            _event: &WatchEvent,
            _cx: &mut ComponentContext<'_>,
        ) {
            self.log.push(format!("watch event for {}", client.0));
        }

        fn on_watch_ended(&mut self, client: ClientId, _: WatchId, _: &mut ComponentContext<'_>) {
            self.log.push(format!("watch ended for {}", client.0));
        }

        fn on_timer(&mut self, timer: Timer, cx: &mut ComponentContext<'_>) {
            self.log
                .push(format!("timer {} at {}", timer.code, cx.now()));
        }

        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    fn world_with_probe() -> (Simulation<World>, ComponentId) {
        let sim = with_components(
            ApiServerConfig::default(),
            1,
            vec![Box::new(Probe::default())],
        );
        (sim, 0)
    }

    #[test]
    fn a_component_gets_its_clients_responses_and_its_timers() {
        let (mut sim, id) = world_with_probe();
        // Foreground work: the start, the list (answered after the default admission
        // latency), the 5 s timer. The background 1 s timer fires on the way, and the run is
        // then quiescent.
        let reason = sim.run(StopAt {
            until: None,
            when_quiescent: true,
            max_events: Some(100),
        });
        assert_eq!(reason, StopReason::Quiescent);
        let probe = component_as::<Probe>(&sim.model().components, id).expect("the probe");
        let latency = ApiServerConfig::default().admission_latency;
        assert_eq!(
            probe.log,
            vec![
                "start at 0s".to_string(),
                format!("response to 8 at {}: ok true", SimTime::ZERO + latency),
                "timer 4 at 1s".to_string(),
                "timer 3 at 5s".to_string(),
            ]
        );
        assert_eq!(sim.model().owners.get(&FIRST), Some(&id));
        assert_eq!(sim.model().owners.get(&SECOND), Some(&id));
    }

    #[test]
    fn background_timers_alone_do_not_keep_a_run_going() {
        let (mut sim, id) = world_with_probe();
        let late = Timer {
            code: 9,
            background: true,
            generation: 0,
        };
        sim.schedule_at(
            SimTime::ZERO + SimDuration::from_secs(20),
            Event::Timer(id, late),
        );
        let reason = sim.run(StopAt {
            until: None,
            when_quiescent: true,
            max_events: Some(100),
        });
        // The last foreground event is the 5 s timer; the background one at 20 s is left.
        assert_eq!(reason, StopReason::Quiescent);
        assert_eq!(sim.now(), SimTime::ZERO + SimDuration::from_secs(5));
        assert_eq!(sim.pending_events(), 1);
        let probe = component_as::<Probe>(&sim.model().components, id).expect("the probe");
        assert!(!probe.log.iter().any(|line| line.starts_with("timer 9")));
        // Distinct timers and components leave distinct marks in the trace digest.
        let timer = |c, code| {
            Event::Timer(
                c,
                Timer {
                    code,
                    background: false,
                    generation: 0,
                },
            )
            .fingerprint()
        };
        assert_ne!(timer(0, 3), timer(0, 4));
        assert_ne!(timer(0, 3), timer(1, 3));
    }
}
