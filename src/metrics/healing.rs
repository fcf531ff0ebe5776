//! Healing: what faults and disruptions did to the cluster and how it recovered, measured from
//! every committed change (ground truth, as a watch of nodes and pods would show it).
//!
//! * **Nodes by condition and taint**: each node's `Ready` condition (True, False, or Unknown —
//!   a node that never posted one counts as Unknown, as the node lifecycle controller reads
//!   it) and whether it carries the `node.kubernetes.io/not-ready` or
//!   `node.kubernetes.io/unreachable` NoExecute taint that taint-based eviction acts on; the
//!   counts now, and the peaks of nodes *down* (Ready once, not Ready now: a node still
//!   coming up is not a fault) and of tainted nodes.
//! * **Evictions**: pods marked for a disruption on purpose — the `DisruptionTarget` condition
//!   that the Eviction API, the taint eviction controller, preemption and the kubelet set
//!   before deleting a pod — counted once per pod, by the condition's reason, with when.
//! * **Creations**: when each pod was created, so the replacements made after a fault can be
//!   counted.
//!
//! How long a fault took to heal is the convergence tracker's answer for its timeline action
//! ([`super::convergence::Convergence::settle_times`]); the replica-seconds each workload
//! lost are the convergence tracker's too.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::node::Node;
use crate::api::pod::{DISRUPTION_TARGET, Pod};
use crate::api::taints::{TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE, TaintEffect};
use crate::api::{Object, Uid};
use crate::apiserver::{Change, ChangeType};
use crate::sim::SimTime;

/// A node's health as the tracker counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct NodeHealth {
    ready: ReadyStatus,
    tainted_not_ready: bool,
    tainted_unreachable: bool,
}

/// A node's `Ready` condition status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ReadyStatus {
    True,
    False,
    /// `Unknown`, or no Ready condition yet.
    #[default]
    Unknown,
}

impl NodeHealth {
    fn of(node: &Node) -> NodeHealth {
        let ready = match node
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.status.as_str())
        {
            Some("True") => ReadyStatus::True,
            Some("False") => ReadyStatus::False,
            _ => ReadyStatus::Unknown,
        };
        let no_execute = |key: &str| {
            node.spec
                .taints
                .iter()
                .any(|t| t.key == key && t.effect == TaintEffect::NoExecute)
        };
        NodeHealth {
            ready,
            tainted_not_ready: no_execute(TAINT_NODE_NOT_READY),
            tainted_unreachable: no_execute(TAINT_NODE_UNREACHABLE),
        }
    }
}

/// How many nodes are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeHealthCounts {
    /// Ready=True.
    pub ready: u64,
    /// Ready=False.
    pub not_ready: u64,
    /// Ready=Unknown (or not posted yet).
    pub unknown: u64,
    /// With the `node.kubernetes.io/not-ready:NoExecute` taint.
    pub tainted_not_ready: u64,
    /// With the `node.kubernetes.io/unreachable:NoExecute` taint.
    pub tainted_unreachable: u64,
}

impl NodeHealthCounts {
    fn apply(&mut self, health: NodeHealth, sign: i64) {
        let add = |n: &mut u64| *n = n.saturating_add_signed(sign);
        match health.ready {
            ReadyStatus::True => add(&mut self.ready),
            ReadyStatus::False => add(&mut self.not_ready),
            ReadyStatus::Unknown => add(&mut self.unknown),
        }
        if health.tainted_not_ready {
            add(&mut self.tainted_not_ready);
        }
        if health.tainted_unreachable {
            add(&mut self.tainted_unreachable);
        }
    }

    /// Nodes with either NoExecute taint (a node has one of the two at a time).
    pub fn tainted(&self) -> u64 {
        self.tainted_not_ready + self.tainted_unreachable
    }
}

/// A node as the tracker keeps it.
#[derive(Clone, Copy, Debug, Default)]
struct TrackedNode {
    health: NodeHealth,
    /// The node has been Ready at some point.
    was_ready: bool,
}

impl TrackedNode {
    fn is_down(&self) -> bool {
        self.was_ready && self.health.ready != ReadyStatus::True
    }
}

/// The healing tracker.
#[derive(Clone, Debug, Default)]
pub struct Healing {
    nodes: BTreeMap<String, TrackedNode>,
    counts: NodeHealthCounts,
    /// Nodes Ready once and not Ready now.
    down: u64,
    /// Most nodes down at once.
    peak_down: u64,
    /// Most nodes with a not-ready / unreachable NoExecute taint at once.
    peak_tainted: u64,
    /// Pods seen with the DisruptionTarget condition and not deleted yet.
    marked: BTreeSet<Uid>,
    /// Each eviction: when, and the condition's reason.
    evictions: Vec<(SimTime, String)>,
    /// When each pod was created, in order.
    created: Vec<SimTime>,
}

impl Healing {
    /// Takes in one committed change at `now`.
    pub fn observe(&mut self, now: SimTime, change: &Change) {
        match &*change.object {
            Object::Node(node) => self.node(change.change, node),
            Object::Pod(pod) => self.pod(now, change.change, pod),
            _ => {}
        }
    }

    fn node(&mut self, change: ChangeType, node: &Node) {
        let name = &node.metadata.name;
        if change == ChangeType::Deleted {
            if let Some(gone) = self.nodes.remove(name) {
                self.counts.apply(gone.health, -1);
                self.down -= u64::from(gone.is_down());
            }
        } else {
            let health = NodeHealth::of(node);
            let seen = |was_ready: bool| TrackedNode {
                health,
                was_ready: was_ready || health.ready == ReadyStatus::True,
            };
            // Updated in place: a node's status changes often, its name never.
            let (before, after) = match self.nodes.get_mut(name) {
                Some(tracked) => {
                    let before = *tracked;
                    *tracked = seen(before.was_ready);
                    (Some(before), *tracked)
                }
                None => {
                    let after = seen(false);
                    self.nodes.insert(name.clone(), after);
                    (None, after)
                }
            };
            if let Some(before) = before {
                self.counts.apply(before.health, -1);
                self.down -= u64::from(before.is_down());
            }
            self.counts.apply(after.health, 1);
            self.down += u64::from(after.is_down());
        }
        self.peak_down = self.peak_down.max(self.down);
        self.peak_tainted = self.peak_tainted.max(self.counts.tainted());
    }

    fn pod(&mut self, now: SimTime, change: ChangeType, pod: &Pod) {
        let uid = pod.metadata.uid;
        match change {
            ChangeType::Deleted => {
                self.marked.remove(&uid);
                return;
            }
            ChangeType::Added => self.created.push(now),
            // A bookmark is never committed; a modification creates nothing.
            ChangeType::Modified | ChangeType::Bookmark => {}
        }
        if self.marked.contains(&uid) {
            return;
        }
        if let Some(target) = pod
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == DISRUPTION_TARGET && c.status == "True")
        {
            self.marked.insert(uid);
            self.evictions.push((now, target.reason.clone()));
        }
    }

    /// Nodes by condition and taint now.
    pub fn nodes(&self) -> NodeHealthCounts {
        self.counts
    }

    /// Nodes that have been Ready and are not now.
    pub fn down(&self) -> u64 {
        self.down
    }

    /// Most nodes down at once.
    pub fn peak_down(&self) -> u64 {
        self.peak_down
    }

    /// Most nodes with a not-ready / unreachable NoExecute taint at once.
    pub fn peak_tainted(&self) -> u64 {
        self.peak_tainted
    }

    /// Pods evicted so far.
    pub fn evicted(&self) -> usize {
        self.evictions.len()
    }

    /// Pods evicted so far, by the DisruptionTarget condition's reason.
    pub fn evicted_by_reason(&self) -> BTreeMap<&str, usize> {
        let mut by_reason = BTreeMap::new();
        for (_, reason) in &self.evictions {
            *by_reason.entry(reason.as_str()).or_insert(0) += 1;
        }
        by_reason
    }

    /// Pods evicted at `from` or later and before `to`.
    pub fn evicted_between(&self, from: SimTime, to: SimTime) -> usize {
        let start = self.evictions.partition_point(|(t, _)| *t < from);
        let end = self.evictions.partition_point(|(t, _)| *t < to);
        end.saturating_sub(start)
    }

    /// Pods created at `from` or later and before `to`.
    pub fn created_between(&self, from: SimTime, to: SimTime) -> usize {
        let start = self.created.partition_point(|t| *t < from);
        let end = self.created.partition_point(|t| *t < to);
        end.saturating_sub(start)
    }

    /// Whether anything this tracker watches for happened: a node went down or was tainted
    /// for it, or a pod was evicted.
    pub fn anything_happened(&self) -> bool {
        self.peak_down > 0 || self.peak_tainted > 0 || !self.evictions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ResourceVersion;
    use crate::api::node::NodeCondition;
    use crate::api::pod::PodCondition;
    use crate::api::taints::Taint;
    use crate::sim::SimDuration;
    use std::sync::Arc;

    fn change(change: ChangeType, object: Object) -> Change {
        Change {
            resource_version: ResourceVersion(1),
            change,
            object: Arc::new(object),
            previous: None,
        }
    }

    fn node(name: &str, ready: Option<&str>, taint: Option<&str>) -> Object {
        let mut n = Node::default();
        n.metadata.name = name.into();
        if let Some(status) = ready {
            n.status.conditions.push(NodeCondition {
                type_: "Ready".into(),
                status: status.into(),
                ..NodeCondition::default()
            });
        }
        if let Some(key) = taint {
            n.spec
                .taints
                .push(Taint::new(key, "", TaintEffect::NoExecute));
        }
        Object::Node(Arc::new(n))
    }

    fn pod(uid: u64, disruption: Option<&str>) -> Object {
        let mut p = Pod::default();
        p.metadata.uid = Uid(uid);
        if let Some(reason) = disruption {
            p.status.conditions.push(PodCondition {
                type_: DISRUPTION_TARGET.into(),
                status: "True".into(),
                reason: reason.into(),
                ..PodCondition::default()
            });
        }
        Object::Pod(Arc::new(p))
    }

    #[test]
    fn nodes_are_counted_by_ready_status_and_no_execute_taint() {
        let mut h = Healing::default();
        let t = SimTime::ZERO;
        // Two nodes come up without a Ready condition (Unknown); a is Ready first, while b
        // still comes up: nothing is down yet.
        h.observe(t, &change(ChangeType::Added, node("a", None, None)));
        h.observe(t, &change(ChangeType::Added, node("b", None, None)));
        assert_eq!(h.nodes().unknown, 2);
        h.observe(
            t,
            &change(ChangeType::Modified, node("a", Some("True"), None)),
        );
        assert_eq!((h.nodes().ready, h.nodes().unknown, h.down()), (1, 1, 0));
        h.observe(
            t,
            &change(ChangeType::Modified, node("b", Some("True"), None)),
        );
        assert_eq!(h.nodes().ready, 2);
        assert!(!h.anything_happened());
        // b stops reporting: Unknown, then tainted unreachable; a goes NotReady with the
        // not-ready taint. Peak not Ready 2, peak tainted 2.
        h.observe(
            t,
            &change(ChangeType::Modified, node("b", Some("Unknown"), None)),
        );
        h.observe(
            t,
            &change(
                ChangeType::Modified,
                node("b", Some("Unknown"), Some(TAINT_NODE_UNREACHABLE)),
            ),
        );
        h.observe(
            t,
            &change(
                ChangeType::Modified,
                node("a", Some("False"), Some(TAINT_NODE_NOT_READY)),
            ),
        );
        let counts = h.nodes();
        assert_eq!((counts.ready, counts.not_ready, counts.unknown), (0, 1, 1));
        assert_eq!(
            (counts.tainted_not_ready, counts.tainted_unreachable),
            (1, 1)
        );
        // a recovers, b is deleted: only a remains, Ready, untainted.
        h.observe(
            t,
            &change(ChangeType::Modified, node("a", Some("True"), None)),
        );
        h.observe(
            t,
            &change(ChangeType::Deleted, node("b", Some("Unknown"), None)),
        );
        assert_eq!(
            h.nodes(),
            NodeHealthCounts {
                ready: 1,
                ..Default::default()
            }
        );
        assert_eq!((h.down(), h.peak_down(), h.peak_tainted()), (0, 2, 2));
        assert!(h.anything_happened());
    }

    #[test]
    fn a_pod_marked_for_disruption_counts_once_with_its_reason_and_time() {
        let mut h = Healing::default();
        let at = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        h.observe(at(0), &change(ChangeType::Added, pod(1, None)));
        h.observe(at(0), &change(ChangeType::Added, pod(2, None)));
        h.observe(at(0), &change(ChangeType::Added, pod(3, None)));
        // Pod 1 is marked at 10 s and written again at 12 s (its deletion timestamp): one
        // eviction. Pod 2 is evicted through the API at 20 s. Pod 3 is deleted without a
        // mark: not an eviction.
        h.observe(
            at(10),
            &change(ChangeType::Modified, pod(1, Some("DeletionByTaintManager"))),
        );
        h.observe(
            at(12),
            &change(ChangeType::Modified, pod(1, Some("DeletionByTaintManager"))),
        );
        h.observe(
            at(20),
            &change(ChangeType::Modified, pod(2, Some("EvictionByEvictionAPI"))),
        );
        h.observe(at(21), &change(ChangeType::Deleted, pod(3, None)));
        // Replacements created at 30 s and 31 s.
        h.observe(at(30), &change(ChangeType::Added, pod(4, None)));
        h.observe(at(31), &change(ChangeType::Added, pod(5, None)));
        assert_eq!(h.evicted(), 2);
        assert_eq!(
            h.evicted_by_reason(),
            BTreeMap::from([("DeletionByTaintManager", 1), ("EvictionByEvictionAPI", 1)])
        );
        // [10 s, 20 s) holds pod 1's eviction only; [0, 31 s) holds pods 1–4's creations.
        assert_eq!(h.evicted_between(at(10), at(20)), 1);
        assert_eq!(h.evicted_between(at(0), at(60)), 2);
        assert_eq!(h.created_between(at(0), at(31)), 4);
        assert_eq!(h.created_between(at(25), at(60)), 2);
    }
}
