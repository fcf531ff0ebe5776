//! Test fixtures for the plugin tests: builders for pods and nodes, and drivers that run a
//! plugin's extension points the way the framework does (PreFilter then Filter; PreScore,
//! Score, NormalizeScore), on a few nodes or over a whole snapshot, so each test reads as
//! "this pod, these nodes, these results".

use std::sync::Arc;

use crate::api::Object;
use crate::api::affinity::{Affinity, NodeAffinity};
use crate::api::node::{ContainerImage, LABEL_HOSTNAME, LABEL_ZONE, Node};
use crate::api::pod::{Container, ContainerPort, Pod};
use crate::api::quantity::Quantity;
use crate::api::resources::ResourceList;
use crate::api::taints::{Taint, TaintEffect, Toleration, TolerationOperator};
use crate::api::test_util::labels;
use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventChange, EventResource};
use crate::scheduler::framework::{
    Code, CycleState, Plugin, PreFilterResult, QueueingHint, Status,
};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};

/// 1 MiB in bytes.
pub const MIB: i64 = 1024 * 1024;

/// Parses a quantity written in a test.
pub fn q(s: &str) -> Quantity {
    match s.parse() {
        Ok(q) => q,
        Err(e) => panic!("bad test quantity {s:?}: {e}"),
    }
}

/// A resource list from `(name, quantity)` pairs.
pub fn list(pairs: &[(&str, &str)]) -> ResourceList {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), q(v)))
        .collect()
}

/// A toleration.
pub fn tol(
    key: &str,
    operator: TolerationOperator,
    value: &str,
    effect: Option<TaintEffect>,
) -> Toleration {
    Toleration {
        key: key.into(),
        operator,
        value: value.into(),
        effect,
        toleration_seconds: None,
    }
}

/// Builds a pod step by step.
pub struct PodBuilder(Pod);

impl PodBuilder {
    /// A pod in namespace `default` with no containers.
    pub fn new(name: &str) -> Self {
        let mut pod = Pod::default();
        pod.metadata.name = name.into();
        pod.metadata.namespace = "default".into();
        PodBuilder(pod)
    }

    /// Adds an app container requesting `requests`.
    pub fn container(mut self, requests: &[(&str, &str)]) -> Self {
        let mut c = Container::default();
        c.resources.requests = list(requests);
        Arc::make_mut(&mut self.0.spec).containers.push(c);
        self
    }

    /// Adds an init container requesting `requests`.
    pub fn init_container(mut self, requests: &[(&str, &str)]) -> Self {
        let mut c = Container::default();
        c.resources.requests = list(requests);
        Arc::make_mut(&mut self.0.spec).init_containers.push(c);
        self
    }

    /// Sets the pod overhead.
    pub fn overhead(mut self, pairs: &[(&str, &str)]) -> Self {
        Arc::make_mut(&mut self.0.spec).overhead = list(pairs);
        self
    }

    /// Adds an app container running `image` (no requests).
    pub fn image(mut self, image: &str) -> Self {
        Arc::make_mut(&mut self.0.spec).containers.push(Container {
            image: image.into(),
            ..Container::default()
        });
        self
    }

    /// Adds an init container running `image` (no requests).
    pub fn init_image(mut self, image: &str) -> Self {
        Arc::make_mut(&mut self.0.spec)
            .init_containers
            .push(Container {
                image: image.into(),
                ..Container::default()
            });
        self
    }

    fn port(ip: &str, protocol: &str, port: i32) -> ContainerPort {
        ContainerPort {
            container_port: port,
            host_port: port,
            host_ip: ip.into(),
            protocol: protocol.into(),
            ..ContainerPort::default()
        }
    }

    /// Adds an app container claiming host port `port` on `ip` (empty = all) over `protocol`
    /// (empty = TCP).
    pub fn host_port(mut self, ip: &str, protocol: &str, port: i32) -> Self {
        Arc::make_mut(&mut self.0.spec).containers.push(Container {
            ports: vec![Self::port(ip, protocol, port)],
            ..Container::default()
        });
        self
    }

    /// Adds an init container claiming a host port.
    pub fn init_host_port(mut self, ip: &str, protocol: &str, port: i32) -> Self {
        Arc::make_mut(&mut self.0.spec)
            .init_containers
            .push(Container {
                ports: vec![Self::port(ip, protocol, port)],
                ..Container::default()
            });
        self
    }

    /// Adds a toleration.
    pub fn toleration(mut self, t: Toleration) -> Self {
        Arc::make_mut(&mut self.0.spec).tolerations.push(t);
        self
    }

    /// Adds a `nodeSelector` entry.
    pub fn node_selector(mut self, key: &str, value: &str) -> Self {
        Arc::make_mut(&mut self.0.spec)
            .node_selector
            .insert(key.into(), value.into());
        self
    }

    /// Sets the node affinity.
    pub fn node_affinity(mut self, affinity: NodeAffinity) -> Self {
        Arc::make_mut(&mut self.0.spec).affinity = Some(Affinity {
            node_affinity: Some(affinity),
            ..Affinity::default()
        });
        self
    }

    /// Sets `spec.nodeName`.
    pub fn node_name(mut self, name: &str) -> Self {
        Arc::make_mut(&mut self.0.spec).node_name = name.into();
        self
    }

    /// The scheduler's view of the pod.
    pub fn info(self) -> PodInfo {
        PodInfo::new(Arc::new(self.0))
    }

    /// The pod as an API object (what informers deliver in cluster events).
    pub fn object(self) -> Arc<Object> {
        Arc::new(Object::Pod(Arc::new(self.0)))
    }
}

/// Builds a node step by step.
pub struct NodeBuilder(Node);

impl NodeBuilder {
    /// A node with nothing allocatable.
    pub fn new(name: &str) -> Self {
        let mut node = Node::default();
        node.metadata.name = name.into();
        NodeBuilder(node)
    }

    /// Sets `status.allocatable`.
    pub fn allocatable(mut self, pairs: &[(&str, &str)]) -> Self {
        self.0.status.allocatable = list(pairs);
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.0.metadata.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a taint.
    pub fn taint(mut self, key: &str, value: &str, effect: TaintEffect) -> Self {
        self.0.spec.taints.push(Taint::new(key, value, effect));
        self
    }

    /// Cordons the node.
    pub fn unschedulable(mut self) -> Self {
        self.0.spec.unschedulable = true;
        self
    }

    /// Lists an image (by all its names) as present, `size` bytes.
    pub fn image(mut self, names: &[&str], size: i64) -> Self {
        self.0.status.images.push(ContainerImage {
            names: names.iter().map(|n| (*n).to_string()).collect(),
            size_bytes: size,
        });
        self
    }

    /// The node as an API object (what informers deliver in cluster events).
    pub fn object(self) -> Arc<Object> {
        Arc::new(Object::Node(Arc::new(self.0)))
    }

    /// The scheduler's view of the node, with no pods.
    pub fn info(self) -> NodeInfo {
        NodeInfo::new(Arc::new(self.0))
    }

    /// The scheduler's view of the node with `pods` on it.
    pub fn with_pods(self, pods: Vec<PodInfo>) -> NodeInfo {
        let mut info = self.info();
        for p in pods {
            info.add_pod(Arc::new(p));
        }
        info
    }
}

/// The event of `new` added (`old` absent) or `old` updated to `new` (`action` names what
/// changed; `new` absent: `old` deleted), as the scheduler hands it to queueing hints.
pub fn change(
    resource: EventResource,
    action: ActionType,
    old: Option<Arc<Object>>,
    new: Option<Arc<Object>>,
) -> EventChange {
    EventChange {
        event: ClusterEvent::new(resource, action),
        old,
        new,
    }
}

/// What `plugin`'s queueing hint says of `change` for `pod`, after checking that the plugin
/// registered the event at all (a hint is never asked about another).
pub fn hint(plugin: &dyn Plugin, pod: &PodInfo, change: &EventChange) -> QueueingHint {
    assert!(
        plugin
            .events_to_register()
            .iter()
            .any(|r| r.hears(&change.event)),
        "{} did not register {:?}",
        plugin.name(),
        change.event
    );
    plugin.queueing_hint(pod, change)
}

/// What PreFilter + Filter say about one node: PreFilter's rejection, Success when PreFilter
/// skipped the plugin, or Filter's status. Checks that `filter_nodes`, which the cycle calls,
/// gives the same verdict.
pub fn filter(plugin: &dyn Plugin, pod: &PodInfo, node: &NodeInfo) -> Status {
    let snapshot = Snapshot::new(vec![node.clone()]);
    let mut state = CycleState::default();
    if plugin.points().pre_filter {
        match plugin.pre_filter(&mut state, pod, &snapshot) {
            Ok(_) => {}
            Err(s) if s.is_skip() => return Status::success(),
            Err(s) => return s,
        }
    }
    let status = plugin.filter(&state, pod, node);
    // The cycle filters in batches: the batch path must give the same verdict.
    let mut batch = vec![node];
    let mut rejected = Vec::new();
    plugin.filter_nodes(&state, pod, &mut batch, &mut rejected);
    match rejected.as_slice() {
        [] => assert!(
            status.is_success() && batch.len() == 1,
            "filter_nodes passed, filter gave {status:?}"
        ),
        [(_, batched)] => assert_eq!(batched, &status, "filter_nodes and filter disagree"),
        _ => panic!("filter_nodes rejected one node twice"),
    }
    status
}

/// PreFilter alone, on a snapshot of `nodes`.
pub fn pre_filter(
    plugin: &dyn Plugin,
    pod: &PodInfo,
    nodes: Vec<NodeInfo>,
) -> Result<PreFilterResult, Status> {
    let snapshot = Snapshot::new(nodes);
    let mut state = CycleState::default();
    plugin.pre_filter(&mut state, pod, &snapshot)
}

/// PreScore, Score on every node of `nodes` (in order; tests give no zone labels so the
/// snapshot keeps that order) and NormalizeScore. `Err` carries PreScore's Skip or error.
/// Checks that `score_nodes`, which the cycle calls, gives the raw scores `score` gives.
pub fn score(plugin: &dyn Plugin, pod: &PodInfo, nodes: Vec<NodeInfo>) -> Result<Vec<i64>, Status> {
    let snapshot = Snapshot::new(nodes);
    let feasible: Vec<&NodeInfo> = snapshot.nodes().iter().collect();
    let mut state = CycleState::default();
    if plugin.points().pre_score {
        let status = plugin.pre_score(&mut state, pod, &feasible, &snapshot);
        if !status.is_success() {
            return Err(status);
        }
    }
    let mut scores = feasible
        .iter()
        .map(|n| plugin.score(&state, pod, n))
        .collect::<Result<Vec<i64>, Status>>()?;
    // The cycle scores in batches: the batch path must give the same raw scores.
    let mut batched = vec![-1; feasible.len()];
    plugin.score_nodes(&state, pod, &feasible, &mut batched)?;
    assert_eq!(batched, scores, "score_nodes and score disagree");
    if plugin.has_normalize() {
        let status = plugin.normalize(&state, pod, &mut scores);
        if !status.is_success() {
            return Err(status);
        }
    }
    Ok(scores)
}

/// A pod `name` in `namespace` with labels `pod_labels` and nothing else.
pub fn pod(name: &str, namespace: &str, pod_labels: &[(&str, &str)]) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = name.to_string();
    p.metadata.namespace = namespace.to_string();
    p.metadata.labels = labels(pod_labels);
    p
}

/// The scheduler's view of `p`.
pub fn info(p: Pod) -> PodInfo {
    PodInfo::new(Arc::new(p))
}

/// A node named `name` with its hostname label, a zone (if any) and extra labels.
pub fn node(name: &str, zone: Option<&str>, extra: &[(&str, &str)]) -> Node {
    let mut n = Node::default();
    n.metadata.name = name.to_string();
    n.metadata.labels = labels(extra);
    n.metadata
        .labels
        .insert(LABEL_HOSTNAME.to_string(), name.to_string());
    if let Some(z) = zone {
        n.metadata
            .labels
            .insert(LABEL_ZONE.to_string(), z.to_string());
    }
    n
}

/// One node's Filter outcome: (node, code, first reason).
pub type Verdict = (String, Code, String);

/// One node's scores: (node, raw, normalized).
pub type Scores = (String, i64, i64);

/// PreFilter then Filter on every node of `snap`, sorted by node; None if PreFilter skipped.
/// Panics on any other PreFilter failure.
pub fn filter_all(plugin: &dyn Plugin, pod: &PodInfo, snap: &Snapshot) -> Option<Vec<Verdict>> {
    let mut state = CycleState::default();
    match plugin.pre_filter(&mut state, pod, snap) {
        Ok(_) => {}
        Err(s) if s.is_skip() => return None,
        Err(s) => panic!("pre_filter: {s:?}"),
    }
    let mut out: Vec<Verdict> = snap
        .nodes()
        .iter()
        .map(|n| {
            let s = plugin.filter(&state, pod, n);
            let reason = s.reasons.first().cloned().unwrap_or_default();
            (n.name().to_string(), s.code, reason)
        })
        .collect();
    out.sort();
    Some(out)
}

/// The nodes of [`filter_all`]'s results that passed, in node order (as `filter_all` sorts
/// them).
pub fn passing(results: &[Verdict]) -> Vec<&str> {
    results
        .iter()
        .filter(|r| r.1 == Code::Success)
        .map(|r| r.0.as_str())
        .collect()
}

/// PreScore, Score and NormalizeScore over every node of `snap`, sorted by node; None if
/// PreScore skipped. Panics on any other failure.
pub fn score_all(plugin: &dyn Plugin, pod: &PodInfo, snap: &Snapshot) -> Option<Vec<Scores>> {
    let mut state = CycleState::default();
    let nodes: Vec<&NodeInfo> = snap.nodes().iter().collect();
    let status = plugin.pre_score(&mut state, pod, &nodes, snap);
    if status.is_skip() {
        return None;
    }
    assert!(status.is_success(), "{status:?}");
    let raw: Vec<i64> = nodes
        .iter()
        .map(|n| plugin.score(&state, pod, n).expect("score"))
        .collect();
    let mut norm = raw.clone();
    assert!(plugin.normalize(&state, pod, &mut norm).is_success());
    let mut out: Vec<Scores> = nodes
        .iter()
        .zip(raw.iter().zip(&norm))
        .map(|(n, (&r, &s))| (n.name().to_string(), r, s))
        .collect();
    out.sort();
    Some(out)
}

/// Asserts that PreFilter and PreScore both skip `pod` on `snap`, and that Filter, left without
/// PreFilter state, reports an error rather than guessing.
pub fn assert_skips_cheaply(plugin: &dyn Plugin, pod: &PodInfo, snap: &Snapshot) {
    let mut state = CycleState::default();
    assert!(
        plugin
            .pre_filter(&mut state, pod, snap)
            .is_err_and(|s| s.is_skip())
    );
    let nodes: Vec<&NodeInfo> = snap.nodes().iter().collect();
    assert!(plugin.pre_score(&mut state, pod, &nodes, snap).is_skip());
    assert_eq!(plugin.filter(&state, pod, nodes[0]).code, Code::Error);
}
