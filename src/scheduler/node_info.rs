//! What the scheduler knows about each node and pod: [`NodeInfo`] (a node with the pods on it
//! and their summed requests), [`PodInfo`] (a pod with its requests precomputed) and
//! [`Snapshot`], the cluster view a scheduling cycle reads.
//!
//! Node order matters: filtering starts where the previous cycle stopped and may stop early, so
//! which nodes are looked at depends on it. Like kube-scheduler's node tree, the snapshot lists
//! nodes zone by zone in turn (one from each zone, round-robin), each zone in the order its
//! nodes were added.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::labels::{LabelSelector, Labels, Selector};
use crate::api::node::{LABEL_HOSTNAME, LABEL_REGION, LABEL_ZONE, Node};
use crate::api::pod::Pod;
use crate::api::resources::{MissingRequests, Resources, pod_requests};
use crate::api::{ObjectKey, Uid};
use crate::scheduler::gpu::TypicalPods;
use crate::scheduler::gpu::node_cache::GpuNodeInfo;
use crate::scheduler::pod_label_index::PodLabelIndex;

/// A host port a pod claims: (IP, protocol, port). `0.0.0.0` conflicts with every IP.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    /// Host IP (`0.0.0.0` when unset).
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// Port number.
    pub port: i32,
}

impl HostPort {
    /// Whether two claims collide: same port and protocol, and the same IP or a wildcard.
    pub fn conflicts_with(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == WILDCARD_IP || other.ip == WILDCARD_IP)
    }
}

/// The IP that means every IP.
pub const WILDCARD_IP: &str = "0.0.0.0";

/// The host ports `pod` claims: app containers' ports with a host port (as upstream counts
/// them), with the wildcard IP and TCP where the port leaves them out.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    pod.spec
        .containers
        .iter()
        .flat_map(|c| &c.ports)
        .filter(|p| p.host_port > 0)
        .map(|p| HostPort {
            ip: if p.host_ip.is_empty() {
                WILDCARD_IP.to_string()
            } else {
                p.host_ip.clone()
            },
            protocol: if p.protocol.is_empty() {
                "TCP".to_string()
            } else {
                p.protocol.clone()
            },
            port: p.host_port,
        })
        .collect()
}

/// A pod with what the scheduler derives from it once.
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// Requests as NodeResourcesFit filters them (missing requests are zero).
    pub requests: Resources,
    /// Requests as scoring counts them (missing cpu/memory count as 100m / 200 MiB).
    pub non_zero_requests: Resources,
    /// Host ports the pod claims.
    pub host_ports: Vec<HostPort>,
}

impl PodInfo {
    /// Derives the scheduler's view of `pod`.
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let requests = pod_requests(&pod.spec, MissingRequests::AsZero);
        let non_zero_requests = pod_requests(&pod.spec, MissingRequests::AsSchedulerDefaults);
        let host_ports = host_ports(&pod);
        PodInfo {
            pod,
            requests,
            non_zero_requests,
            host_ports,
        }
    }

    /// `namespace/name`.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(
            self.pod.metadata.namespace.clone(),
            self.pod.metadata.name.clone(),
        )
    }

    /// The pod's uid.
    pub fn uid(&self) -> Uid {
        self.pod.metadata.uid
    }

    /// The pod's priority (0 when unset).
    pub fn priority(&self) -> i32 {
        self.pod.spec.priority.unwrap_or(0)
    }

    /// The pod's labels.
    pub fn labels(&self) -> &Labels {
        &self.pod.metadata.labels
    }

    /// Whether the pod has pod affinity or pod anti-affinity of any kind (upstream's
    /// `podWithAffinity`): such pods are also listed in [`NodeInfo::pods_with_affinity`].
    pub fn has_pod_affinity(&self) -> bool {
        self.pod
            .spec
            .affinity
            .as_ref()
            .is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
    }

    /// Whether the pod has required pod anti-affinity terms (upstream's
    /// `podWithRequiredAntiAffinity`): such pods are also listed in
    /// [`NodeInfo::pods_with_required_anti_affinity`].
    pub fn has_required_anti_affinity(&self) -> bool {
        self.pod
            .spec
            .affinity
            .as_ref()
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .is_some_and(|a| {
                !a.required_during_scheduling_ignored_during_execution
                    .is_empty()
            })
    }
}

/// A node and the pods the scheduler counts on it (bound ones and assumed ones).
///
/// A cycle reads a few fields of every node it examines, one plugin after another, and
/// examines hundreds of nodes, so the layout matters: `repr(C)` keeps the fields in the order
/// written, which puts what the cycle reads (the inline node flags, the pod count, the three
/// resource vectors) in the first 128 bytes, and 64-byte alignment makes those exactly two
/// cache lines.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct NodeInfo {
    /// Copies of the few `node` fields that Filter and Score read on every node of every
    /// cycle, kept inline so that a cycle does not follow `node` into a separate allocation
    /// (a cache miss per node) only to find the node cordoned-free, untainted and image-less.
    /// Set from `node` by [`NodeInfo::new`] and [`NodeInfo::set_node`].
    hot: NodeFlags,
    /// The pods on the node, in the order they were added.
    pub pods: Vec<Arc<PodInfo>>,
    /// Allocatable resources (`pods` included).
    pub allocatable: Resources,
    /// Sum of the pods' filter-view requests.
    pub requested: Resources,
    /// Sum of the pods' scoring-view requests.
    pub non_zero_requested: Resources,
    /// The node object (replace it with [`NodeInfo::set_node`], which keeps the inline copies
    /// of its hot fields in step).
    pub node: Arc<Node>,
    /// The pods of `pods` with pod affinity or anti-affinity ([`PodInfo::has_pod_affinity`]),
    /// in the order they were added; InterPodAffinity scoring reads only these for plain pods.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    /// The pods of `pods` with required anti-affinity
    /// ([`PodInfo::has_required_anti_affinity`]); every pod must be checked against them.
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Bumped on every change, so per-node caches can tell when they are stale.
    pub generation: u64,
    /// The GPUs of a GPU node and what its pods hold of them (None for a node without GPUs),
    /// kept in step with `pods` by [`GpuNodeInfo`].
    pub gpus: Option<Box<GpuNodeInfo>>,
    /// Copies of what scoring reads of the node object on every node of most cycles: the
    /// hostname and zone labels and the images, each one short read away.
    read_often: ReadOften,
    /// Where the node is in the snapshot holding it (node-tree order); 0 outside a snapshot.
    position: usize,
}

/// The node's values of the labels nearly every topology spread constraint and affinity term
/// names, and its images by name (upstream's `NodeInfo.ImageStates`), sorted so that a name is
/// found by binary search. Reading a label from the node's label map compares the key with
/// each label on the way; these are read on hundreds of nodes per cycle.
#[derive(Clone, Debug, Default)]
struct ReadOften {
    hostname: Option<Box<str>>,
    zone: Option<Box<str>>,
    image_sizes: Box<[(Box<str>, i64)]>,
}

impl ReadOften {
    fn of(node: &Node) -> ReadOften {
        let labels = &node.metadata.labels;
        let mut image_sizes: Vec<(Box<str>, i64)> = node
            .status
            .images
            .iter()
            .flat_map(|image| {
                image
                    .names
                    .iter()
                    .map(|n| (n.as_str().into(), image.size_bytes))
            })
            .collect();
        // A name listed under two images is the first one's, as a scan of the list finds it
        // (the stable sort keeps the list's order among equal names).
        image_sizes.sort_by(|a, b| a.0.cmp(&b.0));
        image_sizes.dedup_by(|later, first| later.0 == first.0);
        ReadOften {
            hostname: labels.get(LABEL_HOSTNAME).map(|v| v.as_str().into()),
            zone: labels.get(LABEL_ZONE).map(|v| v.as_str().into()),
            image_sizes: image_sizes.into_boxed_slice(),
        }
    }
}

/// A label key as the scheduler reads it on many nodes: the hostname and zone keys are read
/// from [`NodeInfo`]'s copies, any other key from the node's labels.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeLabelKey {
    /// `kubernetes.io/hostname`.
    Hostname,
    /// `topology.kubernetes.io/zone`.
    Zone,
    /// Any other key.
    Other(String),
}

impl NodeLabelKey {
    /// The key called `key`.
    pub fn new(key: &str) -> NodeLabelKey {
        match key {
            LABEL_HOSTNAME => NodeLabelKey::Hostname,
            LABEL_ZONE => NodeLabelKey::Zone,
            other => NodeLabelKey::Other(other.to_string()),
        }
    }

    /// The key's name.
    pub fn as_str(&self) -> &str {
        match self {
            NodeLabelKey::Hostname => LABEL_HOSTNAME,
            NodeLabelKey::Zone => LABEL_ZONE,
            NodeLabelKey::Other(key) => key,
        }
    }
}

/// The inline copies of a node's hot fields: `spec.unschedulable`, whether `spec.taints` is
/// non-empty and whether `status.images` is non-empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct NodeFlags {
    unschedulable: bool,
    has_taints: bool,
    has_images: bool,
}

impl NodeFlags {
    fn of(node: &Node) -> NodeFlags {
        NodeFlags {
            unschedulable: node.spec.unschedulable,
            has_taints: !node.spec.taints.is_empty(),
            has_images: !node.status.images.is_empty(),
        }
    }
}

impl NodeInfo {
    /// A node with no pods.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let allocatable = Resources::from_list(&node.status.effective_allocatable());
        NodeInfo {
            gpus: GpuNodeInfo::build(&node, &allocatable, []),
            hot: NodeFlags::of(&node),
            read_often: ReadOften::of(&node),
            position: 0,
            node,
            allocatable,
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            pods: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            used_ports: Vec::new(),
            generation: 0,
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.node.metadata.name
    }

    /// The node's labels.
    pub fn labels(&self) -> &Labels {
        &self.node.metadata.labels
    }

    /// The node's value of label `key`.
    pub fn label(&self, key: &NodeLabelKey) -> Option<&str> {
        match key {
            NodeLabelKey::Hostname => self.read_often.hostname.as_deref(),
            NodeLabelKey::Zone => self.read_often.zone.as_deref(),
            NodeLabelKey::Other(key) => self.labels().get(key).map(String::as_str),
        }
    }

    /// The size the node reports of the image called `name`, if it has it.
    pub fn image_size(&self, name: &str) -> Option<i64> {
        let images = &self.read_often.image_sizes;
        images
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| images[i].1)
    }

    /// Where the node is in the snapshot's node-tree order.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Whether the node is cordoned (`spec.unschedulable`), without reading the node object.
    pub fn unschedulable(&self) -> bool {
        self.hot.unschedulable
    }

    /// Whether the node has any taint, without reading the node object: when it has none,
    /// taint checks pass at once.
    pub fn has_taints(&self) -> bool {
        self.hot.has_taints
    }

    /// Whether the node reports any image, without reading the node object: when it reports
    /// none, it holds none of a pod's images.
    pub fn has_images(&self) -> bool {
        self.hot.has_images
    }

    /// Replaces the node object (labels, taints, allocatable may have changed), keeping pods.
    /// The only way to change `node`: it keeps the inline copies of its fields in step.
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = Resources::from_list(&node.status.effective_allocatable());
        self.gpus = GpuNodeInfo::build(&node, &self.allocatable, self.pods.iter().map(|p| &*p.pod));
        self.hot = NodeFlags::of(&node);
        if node.metadata.labels != self.node.metadata.labels
            || node.status.images != self.node.status.images
        {
            self.read_often = ReadOften::of(&node);
        }
        self.node = node;
        self.generation += 1;
    }

    /// Counts `pod` on this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero_requests);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_pod_affinity() {
            self.pods_with_affinity.push(Arc::clone(&pod));
        }
        if pod.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity.push(Arc::clone(&pod));
        }
        if let Some(gpus) = &mut self.gpus {
            gpus.add_pod(&pod);
        }
        self.pods.push(pod);
        self.generation += 1;
    }

    /// Stops counting the pod with `uid`; returns it if it was here.
    pub fn remove_pod(&mut self, uid: Uid) -> Option<Arc<PodInfo>> {
        let idx = self.pods.iter().position(|p| p.uid() == uid)?;
        let pod = self.pods.remove(idx);
        self.pods_with_affinity.retain(|p| p.uid() != uid);
        self.pods_with_required_anti_affinity
            .retain(|p| p.uid() != uid);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.sub(&pod.non_zero_requests);
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.remove(i);
            }
        }
        if let Some(gpus) = &mut self.gpus {
            gpus.remove_pod(&pod);
        }
        self.generation += 1;
        Some(pod)
    }

    /// The zone key kube-scheduler groups nodes by: `region:\x00:zone` from the labels
    /// (empty when neither is set).
    pub fn zone_key(&self) -> String {
        let labels = self.labels();
        let region = labels.get(LABEL_REGION).map(String::as_str).unwrap_or("");
        let zone = labels.get(LABEL_ZONE).map(String::as_str).unwrap_or("");
        if region.is_empty() && zone.is_empty() {
            String::new()
        } else {
            format!("{region}:\x00:{zone}")
        }
    }
}

/// A workload controller kind whose selector PodTopologySpread's default constraints use when
/// the controller owns the pod (upstream's `helper.DefaultSelector`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ControllerKind {
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `v1` ReplicationController.
    ReplicationController,
    /// `apps/v1` StatefulSet.
    StatefulSet,
}

impl ControllerKind {
    /// The kind an owner reference names, matched on API version and kind exactly as upstream
    /// does (`apps/v1` ReplicaSet or StatefulSet, `v1` ReplicationController).
    pub fn from_owner(api_version: &str, kind: &str) -> Option<ControllerKind> {
        match (api_version, kind) {
            ("apps/v1", "ReplicaSet") => Some(ControllerKind::ReplicaSet),
            ("v1", "ReplicationController") => Some(ControllerKind::ReplicationController),
            ("apps/v1", "StatefulSet") => Some(ControllerKind::StatefulSet),
            _ => None,
        }
    }
}

/// The selectors of the objects that group pods into workloads — Services (by namespace) and
/// controllers (by namespace, kind and name) — which PodTopologySpread's default constraints
/// are built from. The scheduler keeps it from its informers, as upstream's plugin reads its
/// Service / ReplicaSet / ReplicationController / StatefulSet listers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadSelectors {
    /// Namespace → Service name → `spec.selector`.
    services: BTreeMap<String, BTreeMap<String, Labels>>,
    /// Namespace → controller name → (kind, selector); a name may be used by several kinds.
    controllers: BTreeMap<String, BTreeMap<String, Vec<(ControllerKind, LabelSelector)>>>,
}

impl WorkloadSelectors {
    /// Records (or replaces) Service `namespace/name` with its `spec.selector`. A Service with
    /// an empty selector selects no pods and contributes nothing, as upstream treats a nil one.
    pub fn set_service(&mut self, namespace: &str, name: &str, selector: Labels) {
        self.services
            .entry(namespace.to_string())
            .or_default()
            .insert(name.to_string(), selector);
    }

    /// Forgets Service `namespace/name`.
    pub fn remove_service(&mut self, namespace: &str, name: &str) {
        if let Some(list) = self.services.get_mut(namespace) {
            list.remove(name);
            if list.is_empty() {
                self.services.remove(namespace);
            }
        }
    }

    /// The selectors of the Services in `namespace`, by Service name.
    pub fn services(&self, namespace: &str) -> impl Iterator<Item = &Labels> {
        self.services
            .get(namespace)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Records (or replaces) the controller `kind` `namespace/name` with its selector.
    pub fn set_controller(
        &mut self,
        kind: ControllerKind,
        namespace: &str,
        name: &str,
        selector: LabelSelector,
    ) {
        let list = self
            .controllers
            .entry(namespace.to_string())
            .or_default()
            .entry(name.to_string())
            .or_default();
        match list.iter_mut().find(|(k, _)| *k == kind) {
            Some(slot) => slot.1 = selector,
            None => list.push((kind, selector)),
        }
    }

    /// Forgets the controller `kind` `namespace/name`.
    pub fn remove_controller(&mut self, kind: ControllerKind, namespace: &str, name: &str) {
        let Some(by_name) = self.controllers.get_mut(namespace) else {
            return;
        };
        if let Some(list) = by_name.get_mut(name) {
            list.retain(|(k, _)| *k != kind);
            if list.is_empty() {
                by_name.remove(name);
            }
        }
        if by_name.is_empty() {
            self.controllers.remove(namespace);
        }
    }

    /// The selector of the controller `kind` `namespace/name`, if known.
    pub fn controller(
        &self,
        kind: ControllerKind,
        namespace: &str,
        name: &str,
    ) -> Option<&LabelSelector> {
        self.controllers
            .get(namespace)?
            .get(name)?
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s)
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.controllers.is_empty()
    }
}

/// Positions (in node-tree order) of the nodes hosting pods with pod affinity, and with
/// required anti-affinity: upstream's `havePodsWithAffinityNodeInfoList` and
/// `havePodsWithRequiredAntiAffinityNodeInfoList`.
#[derive(Clone, Debug, Default)]
struct AffinityIndex {
    with_affinity: Vec<usize>,
    with_required_anti_affinity: Vec<usize>,
}

impl AffinityIndex {
    fn build(nodes: &[NodeInfo]) -> AffinityIndex {
        let positions = |has: fn(&NodeInfo) -> bool| {
            nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| has(n))
                .map(|(i, _)| i)
                .collect()
        };
        AffinityIndex {
            with_affinity: positions(|n| !n.pods_with_affinity.is_empty()),
            with_required_anti_affinity: positions(|n| {
                !n.pods_with_required_anti_affinity.is_empty()
            }),
        }
    }

    /// Puts `position` in (or takes it out of) a sorted list.
    fn set(list: &mut Vec<usize>, position: usize, present: bool) {
        match (list.binary_search(&position), present) {
            (Err(at), true) => list.insert(at, position),
            (Ok(at), false) => {
                list.remove(at);
            }
            _ => {}
        }
    }

    fn update(&mut self, position: usize, node: &NodeInfo) {
        Self::set(
            &mut self.with_affinity,
            position,
            !node.pods_with_affinity.is_empty(),
        );
        Self::set(
            &mut self.with_required_anti_affinity,
            position,
            !node.pods_with_required_anti_affinity.is_empty(),
        );
    }
}

/// The cluster as a scheduling cycle sees it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Nodes in node-tree order (zones interleaved).
    nodes: Vec<NodeInfo>,
    /// Where each node is in `nodes`.
    index: BTreeMap<String, usize>,
    /// How many nodes have each image (by every name the image goes by).
    image_nodes: BTreeMap<String, usize>,
    /// Which nodes host pods with pod affinity; built on first use, kept in step by
    /// [`Snapshot::add_pod`] / [`Snapshot::remove_pod`], dropped by [`Snapshot::get_mut`].
    affinity_index: OnceCell<AffinityIndex>,
    /// The assigned pods by label; built on first use and kept in step like
    /// `affinity_index`.
    pod_labels: OnceCell<PodLabelIndex>,
    /// Services' and controllers' selectors (for PodTopologySpread's default constraints).
    workloads: Arc<WorkloadSelectors>,
    /// The GPU-sharing policies' target workload (FGD's typical pods).
    gpu_workload: Arc<TypicalPods>,
    /// Nodes were added since the list was last put in node-tree order.
    order_dirty: bool,
}

impl Snapshot {
    /// A snapshot of `nodes` (each with its pods), ordered as kube-scheduler's node tree lists
    /// them: zones in order of first appearance, one node from each zone in turn.
    pub fn new(nodes: Vec<NodeInfo>) -> Snapshot {
        let mut zones: Vec<(String, Vec<NodeInfo>)> = Vec::new();
        for node in nodes {
            let key = node.zone_key();
            match zones.iter_mut().find(|(z, _)| *z == key) {
                Some((_, list)) => list.push(node),
                None => zones.push((key, vec![node])),
            }
        }
        let total: usize = zones.iter().map(|(_, l)| l.len()).sum();
        let mut iters: Vec<std::vec::IntoIter<NodeInfo>> =
            zones.into_iter().map(|(_, l)| l.into_iter()).collect();
        let mut ordered = Vec::with_capacity(total);
        while ordered.len() < total {
            for it in &mut iters {
                if let Some(n) = it.next() {
                    ordered.push(n);
                }
            }
        }
        let mut snapshot = Snapshot {
            nodes: ordered,
            ..Snapshot::default()
        };
        snapshot.reindex();
        snapshot
    }

    fn reindex(&mut self) {
        for (position, node) in self.nodes.iter_mut().enumerate() {
            node.position = position;
        }
        self.index = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name().to_string(), i))
            .collect();
        self.image_nodes.clear();
        for node in &self.nodes {
            for image in &node.node.status.images {
                for name in &image.names {
                    *self.image_nodes.entry(name.clone()).or_insert(0) += 1;
                }
            }
        }
    }

    /// Nodes in node-tree order.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node called `name`.
    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// The node called `name`, mutably. Prefer [`Snapshot::add_pod`] / [`Snapshot::remove_pod`]
    /// to change its pods: this drops the index of nodes hosting pods with affinity, which the
    /// next InterPodAffinity cycle then rebuilds over every node.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut NodeInfo> {
        self.affinity_index.take();
        self.pod_labels.take();
        match self.index.get(name) {
            Some(&i) => self.nodes.get_mut(i),
            None => None,
        }
    }

    /// The position of node `name` in node-tree order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// How many nodes have the image called `name`.
    pub fn nodes_with_image(&self, name: &str) -> usize {
        self.image_nodes.get(name).copied().unwrap_or(0)
    }

    /// Adds a node. It is appended for now; [`Snapshot::refresh`] (which the scheduler calls
    /// before each cycle, as kube-scheduler updates its snapshot) puts it in its zone's turn.
    /// Adding many nodes therefore costs one reordering, not one per node.
    pub fn add_node(&mut self, mut node: NodeInfo) {
        for image in &node.node.status.images {
            for name in &image.names {
                *self.image_nodes.entry(name.clone()).or_insert(0) += 1;
            }
        }
        node.position = self.nodes.len();
        self.index.insert(node.name().to_string(), node.position);
        self.nodes.push(node);
        self.affinity_index.take();
        self.pod_labels.take();
        self.order_dirty = true;
    }

    /// Replaces node `node`'s object, keeping its pods (and so the index of nodes hosting pods
    /// with affinity) and the image counts in step; returns whether the node has GPUs.
    pub fn update_node(&mut self, node: Arc<Node>) -> bool {
        let Some(&i) = self.index.get(&node.metadata.name) else {
            return false;
        };
        let Some(info) = self.nodes.get_mut(i) else {
            return false;
        };
        if info.node.status.images != node.status.images {
            for (images, delta) in [(&info.node.status.images, -1), (&node.status.images, 1)] {
                for name in images.iter().flat_map(|image| &image.names) {
                    let count = self.image_nodes.entry(name.clone()).or_insert(0);
                    *count = count.saturating_add_signed(delta);
                }
            }
            self.image_nodes.retain(|_, count| *count > 0);
        }
        let zone = info.zone_key();
        info.set_node(node);
        if info.zone_key() != zone {
            // It joins another zone's turn in node-tree order.
            self.order_dirty = true;
        }
        info.gpus.is_some()
    }

    /// Puts the nodes in node-tree order if nodes were added since the last call.
    pub fn refresh(&mut self) {
        if !self.order_dirty {
            return;
        }
        let nodes = std::mem::take(&mut self.nodes);
        self.rebuild(nodes);
    }

    /// The snapshot over `nodes` (put in node-tree order, indexes rebuilt), keeping what the
    /// snapshot holds besides its nodes.
    fn rebuild(&mut self, nodes: Vec<NodeInfo>) {
        let workloads = std::mem::take(&mut self.workloads);
        let gpu_workload = std::mem::take(&mut self.gpu_workload);
        *self = Snapshot::new(nodes);
        self.workloads = workloads;
        self.gpu_workload = gpu_workload;
    }

    /// Removes node `name` and returns it.
    pub fn remove_node(&mut self, name: &str) -> Option<NodeInfo> {
        let idx = self.position(name)?;
        let mut nodes = std::mem::take(&mut self.nodes);
        let removed = nodes.remove(idx);
        self.rebuild(nodes);
        Some(removed)
    }

    /// Counts `pod` on node `name` (keeping the affinity index in step); false if there is no
    /// such node.
    pub fn add_pod(&mut self, name: &str, pod: Arc<PodInfo>) -> bool {
        let Some(&i) = self.index.get(name) else {
            return false;
        };
        let Some(node) = self.nodes.get_mut(i) else {
            return false;
        };
        if let Some(index) = self.pod_labels.get_mut() {
            index.add(i, &pod);
        }
        node.add_pod(pod);
        if let Some(index) = self.affinity_index.get_mut() {
            index.update(i, node);
        }
        true
    }

    /// Stops counting the pod with `uid` on node `name` (keeping the affinity index in step);
    /// returns it if it was there.
    pub fn remove_pod(&mut self, name: &str, uid: Uid) -> Option<Arc<PodInfo>> {
        let &i = self.index.get(name)?;
        let node = self.nodes.get_mut(i)?;
        let removed = node.remove_pod(uid)?;
        if let Some(index) = self.affinity_index.get_mut() {
            index.update(i, node);
        }
        if let Some(index) = self.pod_labels.get_mut() {
            index.remove(i, &removed);
        }
        Some(removed)
    }

    /// The nodes hosting at least one pod with pod affinity or anti-affinity, in node-tree
    /// order (upstream's `HavePodsWithAffinityList`).
    pub fn nodes_with_pods_with_affinity(&self) -> impl Iterator<Item = &NodeInfo> {
        let index = self
            .affinity_index
            .get_or_init(|| AffinityIndex::build(&self.nodes));
        index
            .with_affinity
            .iter()
            .filter_map(|&i| self.nodes.get(i))
    }

    /// The nodes hosting at least one pod with required anti-affinity, in node-tree order
    /// (upstream's `HavePodsWithRequiredAntiAffinityList`).
    pub fn nodes_with_pods_with_required_anti_affinity(&self) -> impl Iterator<Item = &NodeInfo> {
        let index = self
            .affinity_index
            .get_or_init(|| AffinityIndex::build(&self.nodes));
        index
            .with_required_anti_affinity
            .iter()
            .filter_map(|&i| self.nodes.get(i))
    }

    /// Per node position (node-tree order), the pods in `namespace` that `selector` matches
    /// and that are not being deleted, listing only nodes with some; `None` when the selector
    /// pins no label to a value, so that only a walk over every pod can count.
    pub fn count_matching_by_node(
        &self,
        namespace: &str,
        selector: &Selector,
    ) -> Option<Vec<(usize, i64)>> {
        self.pod_labels
            .get_or_init(|| PodLabelIndex::build(&self.nodes))
            .count_by_node(namespace, selector)
    }

    /// Services' and controllers' selectors, for PodTopologySpread's default constraints.
    pub fn workloads(&self) -> &WorkloadSelectors {
        &self.workloads
    }

    /// Services' and controllers' selectors, to update (copied first if shared with a clone).
    pub fn workloads_mut(&mut self) -> &mut WorkloadSelectors {
        Arc::make_mut(&mut self.workloads)
    }

    /// The GPU-sharing policies' target workload (see [`crate::scheduler::gpu::workload`]).
    pub fn gpu_workload(&self) -> &Arc<TypicalPods> {
        &self.gpu_workload
    }

    /// Replaces the target workload.
    pub fn set_gpu_workload(&mut self, typical: Arc<TypicalPods>) {
        self.gpu_workload = typical;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, zone: Option<&str>) -> NodeInfo {
        let mut n = Node::default();
        n.metadata.name = name.to_string();
        if let Some(z) = zone {
            n.metadata.labels.insert(LABEL_ZONE.into(), z.into());
        }
        NodeInfo::new(Arc::new(n))
    }

    #[test]
    fn nodes_are_listed_zone_by_zone_in_turn() {
        let snap = Snapshot::new(vec![
            node("a1", Some("a")),
            node("a2", Some("a")),
            node("a3", Some("a")),
            node("b1", Some("b")),
            node("c1", Some("c")),
            node("c2", Some("c")),
        ]);
        let names: Vec<&str> = snap.nodes().iter().map(|n| n.name()).collect();
        // Round 1 takes one node from each zone (a, b, c in order of first appearance), round 2
        // from the zones that still have nodes, and so on.
        assert_eq!(names, vec!["a1", "b1", "c1", "a2", "c2", "a3"]);
        assert_eq!(snap.position("c2"), Some(4));
    }

    #[test]
    fn positions_follow_node_tree_order_and_appended_nodes() {
        let mut snap = Snapshot::new(vec![node("a1", Some("a")), node("b1", Some("b"))]);
        snap.add_node(node("a2", Some("a")));
        // Appended at the end until the next refresh puts it in its zone's turn: the order
        // is then a1, b1, a2 as before, since zone a's second node follows round 1.
        let positions = |snap: &Snapshot| -> Vec<(String, usize)> {
            snap.nodes()
                .iter()
                .map(|n| (n.name().to_string(), n.position()))
                .collect()
        };
        assert_eq!(
            positions(&snap),
            [("a1".into(), 0), ("b1".into(), 1), ("a2".into(), 2)]
        );
        snap.add_node(node("b0", Some("b")));
        snap.refresh();
        // Round 1: a1, b1; round 2: a2, b0.
        assert_eq!(
            positions(&snap),
            [
                ("a1".into(), 0),
                ("b1".into(), 1),
                ("a2".into(), 2),
                ("b0".into(), 3)
            ]
        );
        snap.remove_node("b1");
        assert_eq!(
            positions(&snap),
            [("a1".into(), 0), ("b0".into(), 1), ("a2".into(), 2)]
        );
    }

    #[test]
    fn copied_labels_and_images_follow_the_node_object() {
        let mut n = Node::default();
        n.metadata.name = "n1".into();
        n.metadata.labels.insert(LABEL_HOSTNAME.into(), "n1".into());
        n.metadata.labels.insert("pool".into(), "gpu".into());
        n.status.images = vec![
            crate::api::node::ContainerImage {
                names: vec!["web:1".into(), "registry/web:1".into()],
                size_bytes: 300,
            },
            // A second image listing a name already seen: the first one's size stays.
            crate::api::node::ContainerImage {
                names: vec!["web:1".into(), "db:2".into()],
                size_bytes: 900,
            },
        ];
        let mut info = NodeInfo::new(Arc::new(n.clone()));
        assert_eq!(info.label(&NodeLabelKey::Hostname), Some("n1"));
        assert_eq!(info.label(&NodeLabelKey::Zone), None);
        assert_eq!(info.label(&NodeLabelKey::new("pool")), Some("gpu"));
        assert_eq!(NodeLabelKey::new(LABEL_ZONE), NodeLabelKey::Zone);
        assert_eq!(info.image_size("web:1"), Some(300));
        assert_eq!(info.image_size("registry/web:1"), Some(300));
        assert_eq!(info.image_size("db:2"), Some(900));
        assert_eq!(info.image_size("web:2"), None);

        n.metadata.labels.insert(LABEL_ZONE.into(), "z1".into());
        n.status.images.truncate(1);
        info.set_node(Arc::new(n));
        assert_eq!(info.label(&NodeLabelKey::Zone), Some("z1"));
        assert_eq!(info.image_size("db:2"), None);
    }

    fn pod_with_anti_affinity(uid: u64, required: bool) -> Arc<PodInfo> {
        use crate::api::affinity::{Affinity, PodAffinityTerm, PodAntiAffinity};
        let mut p = Pod::default();
        p.metadata.uid = Uid(uid);
        let term = PodAffinityTerm {
            topology_key: "kubernetes.io/hostname".into(),
            ..PodAffinityTerm::default()
        };
        let mut anti = PodAntiAffinity::default();
        if required {
            anti.required_during_scheduling_ignored_during_execution = vec![term];
        }
        Arc::make_mut(&mut p.spec).affinity = Some(Affinity {
            pod_anti_affinity: Some(anti),
            ..Affinity::default()
        });
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    #[test]
    fn affinity_index_follows_pods() {
        let mut snap = Snapshot::new(vec![node("a", None), node("b", None), node("c", None)]);
        let names = |it: &mut dyn Iterator<Item = &NodeInfo>| {
            it.map(|n| n.name().to_string()).collect::<Vec<_>>()
        };
        assert!(snap.nodes_with_pods_with_affinity().next().is_none());
        // A pod with only preferred anti-affinity is "with affinity" but not "with required
        // anti-affinity"; a plain pod is neither.
        assert!(snap.add_pod("c", pod_with_anti_affinity(1, false)));
        assert!(snap.add_pod("a", pod_with_anti_affinity(2, true)));
        assert!(snap.add_pod("b", Arc::new(PodInfo::new(Arc::new(Pod::default())))));
        assert!(!snap.add_pod("zz", pod_with_anti_affinity(3, true)));
        assert_eq!(names(&mut snap.nodes_with_pods_with_affinity()), ["a", "c"]);
        assert_eq!(
            names(&mut snap.nodes_with_pods_with_required_anti_affinity()),
            ["a"]
        );
        assert!(snap.remove_pod("a", Uid(2)).is_some());
        assert_eq!(names(&mut snap.nodes_with_pods_with_affinity()), ["c"]);
        assert!(
            snap.nodes_with_pods_with_required_anti_affinity()
                .next()
                .is_none()
        );
        // Changing pods through get_mut drops the index, which is rebuilt on demand.
        if let Some(b) = snap.get_mut("b") {
            b.add_pod(pod_with_anti_affinity(4, true));
        }
        assert_eq!(names(&mut snap.nodes_with_pods_with_affinity()), ["b", "c"]);
        assert_eq!(
            names(&mut snap.nodes_with_pods_with_required_anti_affinity()),
            ["b"]
        );
        if let Some(b) = snap.get_mut("b") {
            assert!(b.remove_pod(Uid(4)).is_some());
            assert!(b.pods_with_affinity.is_empty());
        }
        assert_eq!(names(&mut snap.nodes_with_pods_with_affinity()), ["c"]);
    }

    #[test]
    fn workload_selectors_survive_node_changes() {
        let mut snap = Snapshot::new(vec![node("a", None)]);
        let sel: Labels = [("app".to_string(), "web".to_string())].into();
        snap.workloads_mut().set_service("ns", "svc", sel.clone());
        snap.workloads_mut().set_controller(
            ControllerKind::ReplicaSet,
            "ns",
            "rs",
            LabelSelector::from_match_labels(sel.clone()),
        );
        snap.add_node(node("b", None));
        snap.remove_node("a");
        assert_eq!(snap.workloads().services("ns").collect::<Vec<_>>(), [&sel]);
        assert!(snap.workloads().services("other").next().is_none());
        assert!(
            snap.workloads()
                .controller(ControllerKind::ReplicaSet, "ns", "rs")
                .is_some()
        );
        assert!(
            snap.workloads()
                .controller(ControllerKind::StatefulSet, "ns", "rs")
                .is_none()
        );
        snap.workloads_mut().remove_service("ns", "svc");
        snap.workloads_mut()
            .remove_controller(ControllerKind::ReplicaSet, "ns", "rs");
        assert!(snap.workloads().is_empty());
        assert_eq!(
            ControllerKind::from_owner("apps/v1", "ReplicaSet"),
            Some(ControllerKind::ReplicaSet)
        );
        assert_eq!(ControllerKind::from_owner("apps/v1", "Deployment"), None);
    }

    #[test]
    fn host_ports_conflict_on_wildcards() {
        let p = |ip: &str| HostPort {
            ip: ip.into(),
            protocol: "TCP".into(),
            port: 80,
        };
        assert!(p("0.0.0.0").conflicts_with(&p("10.0.0.1")));
        assert!(p("10.0.0.1").conflicts_with(&p("10.0.0.1")));
        assert!(!p("10.0.0.1").conflicts_with(&p("10.0.0.2")));
    }
}
