//! What the scheduler knows about each node and pod: [`NodeInfo`] (a node with the pods on it
//! and their summed requests), [`PodInfo`] (a pod with its requests precomputed) and
//! [`Snapshot`], the cluster view a scheduling cycle reads.
//!
//! Node order matters: filtering starts where the previous cycle stopped and may stop early, so
//! which nodes are looked at depends on it. Like kube-scheduler's node tree, the snapshot lists
//! nodes zone by zone in turn (one from each zone, round-robin), each zone in the order its
//! nodes were added.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::labels::Labels;
use crate::api::node::{LABEL_REGION, LABEL_ZONE, Node};
use crate::api::pod::Pod;
use crate::api::resources::{MissingRequests, Resources, pod_requests};
use crate::api::{ObjectKey, Uid};

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
        let host_ports = pod
            .spec
            .init_containers
            .iter()
            .chain(&pod.spec.containers)
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
            .collect();
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
}

/// A node and the pods the scheduler counts on it (bound ones and assumed ones).
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The node object.
    pub node: Arc<Node>,
    /// Allocatable resources (`pods` included).
    pub allocatable: Resources,
    /// Sum of the pods' filter-view requests.
    pub requested: Resources,
    /// Sum of the pods' scoring-view requests.
    pub non_zero_requested: Resources,
    /// The pods on the node, in the order they were added.
    pub pods: Vec<Arc<PodInfo>>,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Bumped on every change, so per-node caches can tell when they are stale.
    pub generation: u64,
}

impl NodeInfo {
    /// A node with no pods.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let allocatable = Resources::from_list(&node.status.effective_allocatable());
        NodeInfo {
            node,
            allocatable,
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            pods: Vec::new(),
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

    /// Replaces the node object (labels, taints, allocatable may have changed), keeping pods.
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = Resources::from_list(&node.status.effective_allocatable());
        self.node = node;
        self.generation += 1;
    }

    /// Counts `pod` on this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero_requests);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        self.pods.push(pod);
        self.generation += 1;
    }

    /// Stops counting the pod with `uid`; returns it if it was here.
    pub fn remove_pod(&mut self, uid: Uid) -> Option<Arc<PodInfo>> {
        let idx = self.pods.iter().position(|p| p.uid() == uid)?;
        let pod = self.pods.remove(idx);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.sub(&pod.non_zero_requests);
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.remove(i);
            }
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

/// The cluster as a scheduling cycle sees it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Nodes in node-tree order (zones interleaved).
    nodes: Vec<NodeInfo>,
    /// Where each node is in `nodes`.
    index: BTreeMap<String, usize>,
    /// How many nodes have each image (by every name the image goes by).
    image_nodes: BTreeMap<String, usize>,
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

    /// The node called `name`, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut NodeInfo> {
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

    /// Adds a node (at the end of its zone's turn order: the snapshot is rebuilt).
    pub fn add_node(&mut self, node: NodeInfo) {
        let mut nodes = std::mem::take(&mut self.nodes);
        nodes.push(node);
        *self = Snapshot::new(nodes);
    }

    /// Removes node `name` and returns it.
    pub fn remove_node(&mut self, name: &str) -> Option<NodeInfo> {
        let idx = self.position(name)?;
        let mut nodes = std::mem::take(&mut self.nodes);
        let removed = nodes.remove(idx);
        *self = Snapshot::new(nodes);
        Some(removed)
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
