//! Running totals of the cluster's nodes and pods — counts by state, resources allocatable and
//! requested, CPU requested per node — kept in step with every committed change.
//!
//! A sample reads these totals instead of walking every node and pod of the store: with
//! 150,000 pods sampled every 5 s, the walk cost more than the rest of a run's sampling put
//! together, while the changes between two samples are few. Each object's last contribution
//! is remembered by uid, so an update takes the old one out before putting the new one in and
//! a delete takes it out; the totals are the sums a walk would make.

use std::collections::BTreeMap;

use crate::api::gpu::node_gpu_count;
use crate::api::node::Node;
use crate::api::pod::{Pod, PodPhase};
use crate::api::resources::{MissingRequests, Resources, pod_requests};
use crate::api::{Object, Uid};
use crate::apiserver::{Change, ChangeType};

/// What a node adds to the totals.
#[derive(Clone, Debug)]
struct NodeEntry {
    name: String,
    unschedulable: bool,
    allocatable: Resources,
    has_gpus: bool,
}

/// What a pod adds to the totals.
#[derive(Clone, Debug)]
struct PodEntry {
    phase: PodPhase,
    terminating: bool,
    placement: Placement,
}

/// Where a pod's requests count.
#[derive(Clone, Debug)]
enum Placement {
    /// Succeeded or Failed: it holds nothing.
    Finished,
    /// Not bound yet.
    Pending,
    /// Bound to `node` and holding `requests` there (its pod slot included).
    Bound { node: String, requests: Resources },
}

/// CPU on one node name: requested by the pods bound to it, and allocatable while a node of
/// that name exists.
#[derive(Clone, Copy, Debug, Default)]
struct NodeCpu {
    requested: i64,
    allocatable: Option<i64>,
}

/// The totals a sample reports about nodes and pods.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Nodes.
    pub nodes: u64,
    /// Nodes marked unschedulable.
    pub nodes_unschedulable: u64,
    /// Allocatable resources over all nodes.
    pub allocatable: Resources,
    /// Pods.
    pub pods: u64,
    /// Pods by phase (indexed by `PodPhase as usize`).
    pub pods_by_phase: [u64; 5],
    /// Pods being deleted.
    pub pods_terminating: u64,
    /// Pods bound and not finished.
    pub pods_bound: u64,
    /// Pods neither bound nor finished.
    pub pods_pending: u64,
    /// Requests of the bound, unfinished pods (one pod slot each).
    pub requested: Resources,
}

/// The running totals, fed every committed change in order.
#[derive(Clone, Debug, Default)]
pub struct ClusterTally {
    nodes: BTreeMap<Uid, NodeEntry>,
    pods: BTreeMap<Uid, PodEntry>,
    cpu_by_node: BTreeMap<String, NodeCpu>,
    nodes_with_gpus: usize,
    totals: Totals,
}

impl ClusterTally {
    /// Takes in one committed change.
    pub fn apply(&mut self, change: &Change) {
        let uid = change.object.meta().uid;
        match &*change.object {
            Object::Node(node) => {
                self.remove_node(uid);
                if change.change != ChangeType::Deleted {
                    self.add_node(uid, node);
                }
            }
            Object::Pod(pod) => {
                self.remove_pod(uid);
                if change.change != ChangeType::Deleted {
                    self.add_pod(uid, pod);
                }
            }
            _ => {}
        }
    }

    /// The totals now.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// How many nodes and pods the tally remembers (those that exist).
    pub fn len(&self) -> usize {
        self.nodes.len() + self.pods.len()
    }

    /// Whether it remembers none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether some node has GPUs.
    pub fn has_gpu_nodes(&self) -> bool {
        self.nodes_with_gpus > 0
    }

    /// Per existing node in name order, (CPU requested by its pods, CPU allocatable), in
    /// millicores.
    pub fn cpu_by_node(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.cpu_by_node
            .values()
            .filter_map(|c| c.allocatable.map(|a| (c.requested, a)))
    }

    fn add_node(&mut self, uid: Uid, node: &Node) {
        let allocatable = Resources::from_list(&node.status.effective_allocatable());
        let entry = NodeEntry {
            name: node.metadata.name.clone(),
            unschedulable: node.spec.unschedulable,
            has_gpus: node_gpu_count(&allocatable).is_some(),
            allocatable,
        };
        let t = &mut self.totals;
        t.nodes += 1;
        t.nodes_unschedulable += u64::from(entry.unschedulable);
        t.allocatable.add(&entry.allocatable);
        self.nodes_with_gpus += usize::from(entry.has_gpus);
        self.cpu_by_node
            .entry(entry.name.clone())
            .or_default()
            .allocatable = Some(entry.allocatable.milli_cpu);
        self.nodes.insert(uid, entry);
    }

    fn remove_node(&mut self, uid: Uid) {
        let Some(entry) = self.nodes.remove(&uid) else {
            return;
        };
        let t = &mut self.totals;
        t.nodes -= 1;
        t.nodes_unschedulable -= u64::from(entry.unschedulable);
        t.allocatable.sub(&entry.allocatable);
        self.nodes_with_gpus -= usize::from(entry.has_gpus);
        if let Some(cpu) = self.cpu_by_node.get_mut(&entry.name) {
            cpu.allocatable = None;
            if cpu.requested == 0 {
                self.cpu_by_node.remove(&entry.name);
            }
        }
    }

    fn add_pod(&mut self, uid: Uid, pod: &Pod) {
        let finished = matches!(pod.status.phase, PodPhase::Succeeded | PodPhase::Failed);
        let placement = if finished {
            Placement::Finished
        } else if pod.is_bound() {
            let mut requests = pod_requests(&pod.spec, MissingRequests::AsZero);
            requests.pods = 1;
            Placement::Bound {
                node: pod.spec.node_name.clone(),
                requests,
            }
        } else {
            Placement::Pending
        };
        let entry = PodEntry {
            phase: pod.status.phase,
            terminating: pod.metadata.is_terminating(),
            placement,
        };
        self.count_pod(&entry, 1);
        self.pods.insert(uid, entry);
    }

    fn remove_pod(&mut self, uid: Uid) {
        if let Some(entry) = self.pods.remove(&uid) {
            self.count_pod(&entry, -1);
        }
    }

    /// Adds (`sign` 1) or takes out (`sign` −1) what `entry` counts.
    fn count_pod(&mut self, entry: &PodEntry, sign: i64) {
        let step = |n: &mut u64| {
            *n = if sign > 0 { *n + 1 } else { *n - 1 };
        };
        let t = &mut self.totals;
        step(&mut t.pods);
        step(&mut t.pods_by_phase[entry.phase as usize]);
        if entry.terminating {
            step(&mut t.pods_terminating);
        }
        match &entry.placement {
            Placement::Finished => {}
            Placement::Pending => step(&mut t.pods_pending),
            Placement::Bound { node, requests } => {
                step(&mut t.pods_bound);
                if sign > 0 {
                    t.requested.add(requests);
                } else {
                    t.requested.sub(requests);
                }
                let cpu = self.cpu_by_node.entry(node.clone()).or_default();
                cpu.requested += sign * requests.milli_cpu;
                if cpu.requested == 0 && cpu.allocatable.is_none() {
                    self.cpu_by_node.remove(node);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::ResourceVersion;
    use crate::api::quantity::Quantity;

    fn node(uid: u64, name: &str, cpu: &str) -> Arc<Object> {
        let mut n = Node::default();
        n.metadata.uid = Uid(uid);
        n.metadata.name = name.into();
        n.status.allocatable = [
            ("cpu".to_string(), Quantity::parse(cpu).expect("cpu")),
            ("pods".to_string(), Quantity::parse("110").expect("pods")),
        ]
        .into_iter()
        .collect();
        Arc::new(Object::Node(Arc::new(n)))
    }

    fn pod(uid: u64, node: &str, cpu: &str, phase: PodPhase) -> Arc<Object> {
        let mut p = Pod::default();
        p.metadata.uid = Uid(uid);
        p.metadata.name = format!("p{uid}");
        let spec = Arc::make_mut(&mut p.spec);
        spec.node_name = node.into();
        let mut c = crate::api::pod::Container {
            name: "c".into(),
            ..Default::default()
        };
        c.resources
            .requests
            .insert("cpu".to_string(), Quantity::parse(cpu).expect("cpu"));
        spec.containers.push(c);
        p.status.phase = phase;
        Arc::new(Object::Pod(Arc::new(p)))
    }

    fn change(change: ChangeType, object: Arc<Object>) -> Change {
        Change {
            resource_version: ResourceVersion(1),
            change,
            object,
            previous: None,
        }
    }

    #[test]
    fn updates_and_deletes_take_the_old_contribution_out() {
        let mut tally = ClusterTally::default();
        tally.apply(&change(ChangeType::Added, node(1, "n1", "4")));
        tally.apply(&change(
            ChangeType::Added,
            pod(10, "", "500m", PodPhase::Pending),
        ));
        // Pending, unbound: counted as pending, requesting nothing.
        assert_eq!(
            (tally.totals().pods_pending, tally.totals().pods_bound),
            (1, 0)
        );
        tally.apply(&change(
            ChangeType::Modified,
            pod(10, "n1", "500m", PodPhase::Running),
        ));
        tally.apply(&change(
            ChangeType::Added,
            pod(11, "n1", "250m", PodPhase::Running),
        ));
        let t = tally.totals();
        // Two bound pods on n1: 500m + 250m = 750m and two pod slots; none pending.
        assert_eq!((t.pods, t.pods_bound, t.pods_pending), (2, 2, 0));
        assert_eq!((t.requested.milli_cpu, t.requested.pods), (750, 2));
        assert_eq!(t.pods_by_phase[PodPhase::Running as usize], 2);
        assert_eq!(tally.cpu_by_node().collect::<Vec<_>>(), [(750, 4000)]);
        // A finished pod holds nothing; a deleted one is gone.
        tally.apply(&change(
            ChangeType::Modified,
            pod(10, "n1", "500m", PodPhase::Succeeded),
        ));
        tally.apply(&change(
            ChangeType::Deleted,
            pod(11, "n1", "250m", PodPhase::Running),
        ));
        let t = tally.totals();
        assert_eq!((t.pods, t.pods_bound, t.requested.milli_cpu), (1, 0, 0));
        assert_eq!(t.pods_by_phase[PodPhase::Succeeded as usize], 1);
        assert_eq!(tally.cpu_by_node().collect::<Vec<_>>(), [(0, 4000)]);
        // The node's deletion leaves no per-node entry behind.
        tally.apply(&change(ChangeType::Deleted, node(1, "n1", "4")));
        assert_eq!(tally.totals().nodes, 0);
        assert_eq!(tally.cpu_by_node().count(), 0);
        assert_eq!(tally.len(), 1);
    }

    #[test]
    fn pods_bound_to_a_missing_node_count_but_not_in_its_cpu() {
        let mut tally = ClusterTally::default();
        tally.apply(&change(
            ChangeType::Added,
            pod(10, "ghost", "1", PodPhase::Running),
        ));
        assert_eq!(tally.totals().requested.milli_cpu, 1000);
        // No node "ghost": no per-node CPU share until it exists.
        assert_eq!(tally.cpu_by_node().count(), 0);
        tally.apply(&change(ChangeType::Added, node(1, "ghost", "2")));
        assert_eq!(tally.cpu_by_node().collect::<Vec<_>>(), [(1000, 2000)]);
    }
}
