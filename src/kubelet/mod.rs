//! The kubelet: the node agent that runs the pods bound to its node, reports their status and
//! its node's, and renews its node's lease.
//!
//! Every node of a run gets a kubelet, and all of them are one component ([`Kubelets`]) that
//! keeps each node's state compactly in a `Vec` indexed by node. Each node still speaks to the
//! apiserver as its own client (`ClientId(100_000 + index)`, user `system:node:<name>`, group
//! `system:nodes`) with its own watches — its pods (`spec.nodeName=<node>`) and its own Node
//! (`metadata.name=<node>`) — so flow control and restart storms see them apart. A node's
//! kubelet starts when the scenario applies the node and does nothing before.
//!
//! The files, one mechanism each:
//!
//! * `admission.rs` — whether a pod may run here (resources, affinity, ports, NoExecute taints);
//! * `pod_worker.rs` — what the kubelet keeps of a pod and its containers;
//! * `pod_startup.rs` — the start of a pod (sandbox, image, container, in order), container
//!   exits and restarts, and the relist (PLEG) that sees them;
//! * `image_puller.rs` — the node's images and its pulls (serialized by default);
//! * `probes.rs` — readiness, liveness and startup probes;
//! * `restart_backoff.rs` — CrashLoopBackOff (10 s doubling to 5 min, reset after 10 min up);
//! * `termination.rs` — graceful termination and the final delete;
//! * `status_manager.rs` — the pod status the kubelet computes and its writes, one at a time;
//! * `node_status.rs` — the node status every `nodeStatusUpdateFrequency` and the lease;
//! * `pod_ip.rs` — the address a pod gets with its sandbox (host-local IPAM);
//! * `resource_metrics.rs` — what its resource metrics endpoint reports of a container's CPU
//!   and memory at cAdvisor's last housekeeping sample;
//! * `behavior.rs` — what containers do (`kubesim.io/*` annotations), `timing.rs` — the
//!   seeded durations of each step, `wakeups.rs` — the kubelets' timers.

mod admission;
pub mod behavior;
mod image_puller;
mod node_status;
mod pod_ip;
mod pod_startup;
mod pod_worker;
mod probes;
pub mod resource_metrics;
mod restart_backoff;
mod status_manager;
mod termination;
mod timing;
mod wakeups;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::labels::{FieldOperator, FieldRequirement, FieldSelector};
use crate::api::node::Node;
use crate::api::{Kind, Object, Uid};
use crate::apiserver::{
    ClientId, ListOptions, Request, RequestId, Response, UserInfo, WatchEvent, WatchId,
};
use crate::client::informer::{Delta, Informer, InformerHealth};
use crate::component::{Component, ComponentContext, Timer, population_index};
use crate::config::kubelet::KubeletSettings;
use crate::faults::{ContainerKill, NodeFault, PodFaultError};
use crate::sim::{RngStreams, SimRng, SimTime};

use image_puller::ImagePuller;
use node_status::Heartbeat;
use pod_ip::PodIpam;
use pod_worker::PodWork;
use status_manager::StatusQueue;
use wakeups::{Wake, Wakeups};

/// The first kubelet client id; node `i` (in the order [`Kubelets::new`] is given them) speaks
/// as `ClientId(KUBELET_CLIENT_BASE + i)`.
pub const KUBELET_CLIENT_BASE: u32 = 100_000;

/// The client id of the kubelet of node `index`.
pub const fn kubelet_client(index: u32) -> ClientId {
    ClientId(KUBELET_CLIENT_BASE + index)
}

/// A request a kubelet is waiting on (besides its informers').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    /// A pod status write.
    PodStatus(Uid),
    /// The final delete of a pod.
    FinalDelete,
    /// A node status write.
    NodeStatus,
    /// The lease get, create or update.
    Lease(node_status::LeaseStep),
}

/// One node's kubelet.
struct NodeAgent {
    name: String,
    client: ClientId,
    user: UserInfo,
    /// When the scenario applies the node (the kubelet starts then).
    start_at: SimTime,
    /// When the kubelet started.
    started_at: Option<SimTime>,
    node_informer: Informer,
    pod_informer: Informer,
    /// The node as last seen.
    node: Option<Arc<Node>>,
    /// The pods the kubelet knows, by uid.
    pods: BTreeMap<Uid, PodWork>,
    /// Pods that arrived before the node did, to admit once it has.
    awaiting_node: Vec<Arc<crate::api::pod::Pod>>,
    images: ImagePuller,
    /// The addresses its pods get.
    ipam: PodIpam,
    /// The kubelet is stopped (a fault): it does nothing until started again.
    down: bool,
    status: StatusQueue,
    heartbeat: Heartbeat,
    requests: BTreeMap<RequestId, Pending>,
    /// Durations of the node's steps (`kubelet/startup/<node>`).
    startup_rng: SimRng,
    /// Probe workers' start jitter (`kubelet/probes/<node>`).
    probe_rng: SimRng,
    /// The node status and lease loops' jitter (`kubelet/heartbeat/<node>`).
    heartbeat_rng: SimRng,
}

/// What a kubelet can do while it handles something: the clock, its settings, its timers and
/// the apiserver.
struct Env<'e, 'c> {
    now: SimTime,
    settings: &'e KubeletSettings,
    wakeups: &'e mut Wakeups,
    cx: &'e mut ComponentContext<'c>,
    node: u32,
    incarnation: u32,
}

impl Env<'_, '_> {
    /// Wakes the node's kubelet for `wake` at `at`.
    fn wake_at(&mut self, at: SimTime, wake: Wake) {
        self.set(at, wake, false);
    }

    /// The same for periodic housekeeping, which does not keep a run from being quiescent.
    fn wake_background(&mut self, at: SimTime, wake: Wake) {
        self.set(at, wake, true);
    }

    fn set(&mut self, at: SimTime, wake: Wake, background: bool) {
        let code = self.wakeups.insert(self.node, self.incarnation, wake);
        self.cx.set_timer(
            at,
            Timer {
                code,
                background,
                generation: 0,
            },
        );
    }

    /// Sends `request` to the apiserver.
    fn submit(&mut self, request: Request) -> RequestId {
        self.cx.api.submit(self.now, request, self.cx.out)
    }
}

/// The kubelets of every node of a run.
pub struct Kubelets {
    settings: KubeletSettings,
    nodes: Vec<NodeAgent>,
    wakeups: Wakeups,
    /// Each node's kubelet incarnation: it changes when a fault stops or starts the kubelet.
    incarnations: Vec<u32>,
    /// Where each node's random streams come from (a restarted kubelet derives them again).
    streams: RngStreams,
}

/// A field selector `field=value`.
fn field_equals(field: &str, value: &str) -> FieldSelector {
    FieldSelector::from_requirements(vec![FieldRequirement {
        field: field.to_string(),
        operator: FieldOperator::Equals,
        value: value.to_string(),
    }])
}

impl Kubelets {
    /// A kubelet for each of `nodes` (name, and when the scenario applies the node), with
    /// `settings`; each node's random streams derive from `streams`.
    pub fn new(
        nodes: &[(String, SimTime)],
        settings: KubeletSettings,
        streams: RngStreams,
    ) -> Kubelets {
        let agents = nodes
            .iter()
            .enumerate()
            .map(|(i, (name, start_at))| NodeAgent::new(i as u32, name, *start_at, streams))
            .collect();
        Kubelets {
            settings,
            incarnations: vec![0; nodes.len()],
            nodes: agents,
            wakeups: Wakeups::default(),
            streams,
        }
    }

    /// How many nodes have a kubelet.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// How many kubelet timers are pending.
    pub fn pending_timers(&self) -> usize {
        self.wakeups.pending()
    }

    fn index_of(&self, client: ClientId) -> Option<usize> {
        population_index(client, KUBELET_CLIENT_BASE, self.nodes.len())
    }

    /// Runs `f` on node `index` with its environment; None if the node has no kubelet
    /// running.
    fn with_node<R>(
        &mut self,
        index: usize,
        cx: &mut ComponentContext<'_>,
        f: impl FnOnce(&mut NodeAgent, &mut Env<'_, '_>) -> R,
    ) -> Option<R> {
        let agent = self.nodes.get_mut(index)?;
        if agent.down {
            // A stopped kubelet hears nothing.
            return None;
        }
        let mut env = Env {
            now: cx.now(),
            settings: &self.settings,
            wakeups: &mut self.wakeups,
            cx,
            node: index as u32,
            incarnation: self.incarnations.get(index).copied().unwrap_or(0),
        };
        Some(f(agent, &mut env))
    }

    /// A fault hits node `index`'s kubelet: a crash or a stop replaces it by one that is
    /// down (what the old one ran is gone, its timers and answers are ignored); a start
    /// replaces a stopped one by a fresh kubelet that starts now.
    fn node_fault(&mut self, index: usize, fault: NodeFault, cx: &mut ComponentContext<'_>) {
        let Some(agent) = self.nodes.get(index) else {
            return;
        };
        let (name, start_at) = (agent.name.clone(), agent.start_at);
        let starting = fault == NodeFault::StartKubelet;
        if starting && !agent.down {
            return;
        }
        if let Some(incarnation) = self.incarnations.get_mut(index) {
            *incarnation += 1;
        }
        let mut fresh = NodeAgent::new(index as u32, &name, start_at, self.streams);
        fresh.down = !starting;
        // The old kubelet's connections die with it: its watches end.
        let old = &mut self.nodes[index];
        old.node_informer.stop(cx.api);
        old.pod_informer.stop(cx.api);
        self.nodes[index] = fresh;
        if starting {
            let now = cx.now();
            self.with_node(index, cx, |_, env| env.wake_at(now, Wake::Start));
        }
    }
}

impl NodeAgent {
    fn new(index: u32, name: &str, start_at: SimTime, streams: RngStreams) -> NodeAgent {
        let client = kubelet_client(index);
        let user = UserInfo::new(
            format!("system:node:{name}"),
            &["system:nodes", "system:authenticated"],
        );
        let pods = ListOptions {
            field_selector: Some(field_equals("spec.nodeName", name)),
            ..ListOptions::default()
        };
        let node = ListOptions {
            field_selector: Some(field_equals("metadata.name", name)),
            ..ListOptions::default()
        };
        NodeAgent {
            name: name.to_string(),
            client,
            node_informer: Informer::new(Kind::Node, client, user.clone(), node),
            pod_informer: Informer::new(Kind::Pod, client, user.clone(), pods),
            user,
            start_at,
            started_at: None,
            node: None,
            pods: BTreeMap::new(),
            awaiting_node: Vec::new(),
            images: ImagePuller::default(),
            ipam: PodIpam::new(index),
            down: false,
            status: StatusQueue::default(),
            heartbeat: Heartbeat::default(),
            requests: BTreeMap::new(),
            startup_rng: streams.stream(&format!("kubelet/startup/{name}")),
            probe_rng: streams.stream(&format!("kubelet/probes/{name}")),
            heartbeat_rng: streams.stream(&format!("kubelet/heartbeat/{name}")),
        }
    }

    /// The kubelet starts: it lists and watches its Node and its pods.
    fn start(&mut self, env: &mut Env<'_, '_>) {
        if self.started_at.is_some() {
            return;
        }
        self.started_at = Some(env.now);
        self.node_informer.start(env.cx);
        self.pod_informer.start(env.cx);
    }

    fn on_wake(&mut self, wake: Wake, env: &mut Env<'_, '_>) {
        match wake {
            Wake::Start => self.start(env),
            Wake::NodeStatus => self.node_status_tick(env),
            Wake::Lease => self.lease_tick(env),
            Wake::SyncBatch => self.sync_batch(env),
            Wake::ImagePulled(id) => self.image_pulled(id, env),
            Wake::Pod { uid, epoch, what } => self.pod_wake(uid, epoch, what, env),
        }
    }

    fn on_response(&mut self, request: RequestId, response: &Response, env: &mut Env<'_, '_>) {
        if let Some(deltas) = self.node_informer.on_response(request, response, env.cx) {
            self.node_deltas(deltas, env);
            return;
        }
        if let Some(deltas) = self.pod_informer.on_response(request, response, env.cx) {
            self.pod_deltas(deltas, env);
            return;
        }
        match self.requests.remove(&request) {
            Some(Pending::PodStatus(uid)) => self.status_written(uid, response, env),
            Some(Pending::FinalDelete) | None => {}
            Some(Pending::NodeStatus) => self.node_status_written(response, env),
            Some(Pending::Lease(step)) => self.lease_answered(step, response, env),
        }
    }

    fn on_watch_event(&mut self, watch: WatchId, event: &WatchEvent, env: &mut Env<'_, '_>) {
        if self.node_informer.owns_watch(watch) {
            let deltas = self.node_informer.on_watch_event(event, env.now);
            self.node_deltas(deltas.into_iter().collect(), env);
        } else if self.pod_informer.owns_watch(watch) {
            let deltas = self.pod_informer.on_watch_event(event, env.now);
            self.pod_deltas(deltas.into_iter().collect(), env);
        }
    }

    /// The stream of `watch` ended: the informer that owned it watches again.
    fn on_watch_ended(&mut self, watch: WatchId, env: &mut Env<'_, '_>) {
        if !self.node_informer.on_watch_ended(watch, env.cx) {
            self.pod_informer.on_watch_ended(watch, env.cx);
        }
    }

    fn node_deltas(&mut self, deltas: Vec<Delta>, env: &mut Env<'_, '_>) {
        for delta in deltas {
            match delta {
                Delta::Added(object) | Delta::Updated(_, object) => {
                    if let Some(node) = object.as_node() {
                        self.node_seen(Arc::clone(node), env);
                    }
                }
                // The node is gone: its kubelet keeps what it runs until it comes back.
                Delta::Deleted(_) => self.node = None,
            }
        }
    }

    fn pod_deltas(&mut self, deltas: Vec<Delta>, env: &mut Env<'_, '_>) {
        for delta in deltas {
            match delta {
                Delta::Added(object) | Delta::Updated(_, object) => {
                    if let Object::Pod(pod) = &*object {
                        self.pod_seen(Arc::clone(pod), env);
                    }
                }
                Delta::Deleted(object) => {
                    if let Object::Pod(pod) = &*object {
                        self.pod_removed(pod.metadata.uid);
                    }
                }
            }
        }
    }

    /// The node appeared or changed: the first time, the heartbeats start and the pods that
    /// waited for it are admitted.
    fn node_seen(&mut self, node: Arc<Node>, env: &mut Env<'_, '_>) {
        let first = self.node.is_none() && !self.heartbeat.running();
        if self.node.is_none() {
            let limit = if env.settings.serialize_image_pulls {
                1
            } else {
                env.settings
                    .max_parallel_image_pulls
                    .map_or(usize::MAX, |n| n as usize)
            };
            if first {
                self.images = ImagePuller::new(limit, &node.status.images);
            }
        }
        self.node = Some(node);
        if first {
            self.start_heartbeats(env);
        }
        for pod in std::mem::take(&mut self.awaiting_node) {
            self.pod_seen(pod, env);
        }
    }
}

impl Component for Kubelets {
    fn clients(&self) -> Vec<ClientId> {
        self.nodes.iter().map(|n| n.client).collect()
    }

    /// Each kubelet starts when the scenario applies its node.
    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        for index in 0..self.nodes.len() {
            let at = self.nodes[index].start_at;
            self.with_node(index, cx, |_, env| env.wake_at(at, Wake::Start));
        }
    }

    fn on_response(
        &mut self,
        client: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some(index) = self.index_of(client) {
            self.with_node(index, cx, |agent, env| {
                agent.on_response(request, response, env);
            });
        }
    }

    fn on_watch_event(
        &mut self,
        client: ClientId,
        watch: WatchId,
        event: &WatchEvent,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some(index) = self.index_of(client) {
            self.with_node(index, cx, |agent, env| {
                agent.on_watch_event(watch, event, env);
            });
        }
    }

    fn on_watch_ended(&mut self, client: ClientId, watch: WatchId, cx: &mut ComponentContext<'_>) {
        if let Some(index) = self.index_of(client) {
            self.with_node(index, cx, |agent, env| agent.on_watch_ended(watch, env));
        }
    }

    fn informer_health(&self) -> InformerHealth {
        let mut health = InformerHealth::default();
        for agent in &self.nodes {
            health += agent.node_informer.health();
            health += agent.pod_informer.health();
        }
        health
    }

    fn on_timer(&mut self, timer: Timer, cx: &mut ComponentContext<'_>) {
        let Some((node, incarnation, wake)) = self.wakeups.take(timer.code) else {
            return;
        };
        if self.incarnations.get(node as usize) != Some(&incarnation) {
            // Set by a kubelet that has since crashed or stopped.
            return;
        }
        self.with_node(node as usize, cx, |agent, env| agent.on_wake(wake, env));
    }

    fn on_node_fault(&mut self, node: &str, fault: NodeFault, cx: &mut ComponentContext<'_>) {
        if let Some(index) = self.nodes.iter().position(|a| a.name == node) {
            self.node_fault(index, fault, cx);
        }
    }

    fn on_container_kill(
        &mut self,
        node: &str,
        kill: &ContainerKill,
        cx: &mut ComponentContext<'_>,
    ) -> Option<Result<(), PodFaultError>> {
        let index = self.nodes.iter().position(|a| a.name == node)?;
        // A node whose kubelet is down runs no containers (kubesim models the kubelet and
        // the runtime as one): nothing is there to kill.
        let outcome = self
            .with_node(index, cx, |agent, env| agent.kill_containers(kill, env))
            .unwrap_or_else(|| {
                Err(PodFaultError::NotOnNode {
                    node: node.to_string(),
                    pod: kill.pod.clone(),
                })
            });
        Some(outcome)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
