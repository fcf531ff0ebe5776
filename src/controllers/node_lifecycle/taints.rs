//! The controller's taints: which ones a node's conditions call for, and how they are written.
//!
//! * NoExecute (`node.kubernetes.io/not-ready` for Ready=False, `…/unreachable` for
//!   Ready=Unknown): the two are swapped for each other as the condition changes and both
//!   removed once the node is Ready (upstream `SwapNodeControllerTaint`,
//!   `markNodeAsReachable`). Adding them is rate-limited per zone (`mod.rs`).
//! * NoSchedule (`doNoScheduleTaintingPass`): Ready False / Unknown ⇒ not-ready /
//!   unreachable, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable True ⇒ their
//!   `node.kubernetes.io/*` taint, `spec.unschedulable` ⇒ `node.kubernetes.io/unschedulable`
//!   (nothing else in kubesim adds that one: a cordon only sets the field). Only these keys
//!   are the controller's; other NoSchedule taints are left alone.
//!
//! A change is a set of taints to add (with `timeAdded` now, replacing one of the same key
//! and effect that differs) and a set to remove (by key and effect), written as a patch of
//! the node's taint list (client-go `PatchNodeTaints`). Upstream sends the add and the remove
//! of a swap as two patches; kubesim sends one with both. The changes to one node are written
//! one at a time, each applied to the newest copy of the node the controller has (its cache,
//! or the answer to its own last write if that is newer), so two changes never undo each
//! other.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::api::node::Node;
use crate::api::taints::{
    TAINT_NODE_DISK_PRESSURE, TAINT_NODE_MEMORY_PRESSURE, TAINT_NODE_NETWORK_UNAVAILABLE,
    TAINT_NODE_NOT_READY, TAINT_NODE_PID_PRESSURE, TAINT_NODE_UNREACHABLE,
    TAINT_NODE_UNSCHEDULABLE, Taint, TaintEffect,
};
use crate::api::timestamp::rfc3339;
use crate::sim::SimTime;

/// Which condition status calls for which taint key (upstream
/// `nodeConditionToTaintKeyStatusMap`).
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", TAINT_NODE_NOT_READY),
    ("Ready", "Unknown", TAINT_NODE_UNREACHABLE),
    ("MemoryPressure", "True", TAINT_NODE_MEMORY_PRESSURE),
    ("DiskPressure", "True", TAINT_NODE_DISK_PRESSURE),
    ("NetworkUnavailable", "True", TAINT_NODE_NETWORK_UNAVAILABLE),
    ("PIDPressure", "True", TAINT_NODE_PID_PRESSURE),
];

/// The NoExecute taint of a Ready=Unknown node.
pub fn unreachable_taint() -> Taint {
    Taint::new(TAINT_NODE_UNREACHABLE, "", TaintEffect::NoExecute)
}

/// The NoExecute taint of a Ready=False node.
pub fn not_ready_taint() -> Taint {
    Taint::new(TAINT_NODE_NOT_READY, "", TaintEffect::NoExecute)
}

/// Whether `taint` is the NoExecute taint of a not-ready or an unreachable node.
pub fn is_not_ready_or_unreachable(taint: &Taint) -> bool {
    taint.effect == TaintEffect::NoExecute
        && (taint.key == TAINT_NODE_NOT_READY || taint.key == TAINT_NODE_UNREACHABLE)
}

/// Whether `node` carries a taint of `template`'s key and effect (`TaintExists`).
pub fn has_taint(node: &Node, template: &Taint) -> bool {
    node.spec.taints.iter().any(|t| t.matches_taint(template))
}

/// Taints to add and to remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaintChange {
    /// Added (or replacing the one of the same key and effect).
    pub add: Vec<Taint>,
    /// Removed, by key and effect.
    pub remove: Vec<Taint>,
}

impl TaintChange {
    /// `node`'s taints after the change at `now`, or None if it changes nothing.
    pub fn apply(&self, taints: &[Taint], now: SimTime) -> Option<Vec<Taint>> {
        let mut next = taints.to_vec();
        for add in &self.add {
            let stamped = Taint {
                time_added: Some(rfc3339(now)),
                ..add.clone()
            };
            match next.iter_mut().find(|t| t.matches_taint(add)) {
                // Upstream compares the whole taint, time included: an existing one is
                // replaced (its time renewed) — but a swap is only asked for when it is missing.
                Some(existing) if *existing == stamped => {}
                Some(existing) => *existing = stamped,
                None => next.push(stamped),
            }
        }
        next.retain(|t| !self.remove.iter().any(|r| r.matches_taint(t)));
        (next != taints).then_some(next)
    }
}

/// The NoSchedule change `node`'s conditions and `spec.unschedulable` call for, if any.
pub fn no_schedule_change(node: &Node) -> Option<TaintChange> {
    let mut wanted: Vec<Taint> = node
        .status
        .conditions
        .iter()
        .filter_map(|c| {
            CONDITION_TAINTS
                .iter()
                .find(|(type_, status, _)| *type_ == c.type_ && *status == c.status)
                .map(|(_, _, key)| Taint::new(*key, "", TaintEffect::NoSchedule))
        })
        .collect();
    if node.spec.unschedulable {
        wanted.push(Taint::new(
            TAINT_NODE_UNSCHEDULABLE,
            "",
            TaintEffect::NoSchedule,
        ));
    }
    let ours = |t: &Taint| {
        t.effect == TaintEffect::NoSchedule
            && (t.key == TAINT_NODE_UNSCHEDULABLE
                || CONDITION_TAINTS.iter().any(|(_, _, key)| *key == t.key))
    };
    let existing: Vec<&Taint> = node.spec.taints.iter().filter(|t| ours(t)).collect();
    let add: Vec<Taint> = wanted
        .iter()
        .filter(|w| !existing.iter().any(|e| e.matches_taint(w)))
        .cloned()
        .collect();
    let remove: Vec<Taint> = existing
        .iter()
        .filter(|e| !wanted.iter().any(|w| w.matches_taint(e)))
        .map(|e| (*e).clone())
        .collect();
    (!add.is_empty() || !remove.is_empty()).then_some(TaintChange { add, remove })
}

/// The taint changes waiting to be written, per node, one write in flight per node.
#[derive(Debug, Default)]
pub struct TaintWriter {
    waiting: BTreeMap<String, VecDeque<TaintChange>>,
    in_flight: BTreeMap<String, TaintChange>,
    /// The node as the controller's last write to it returned it.
    written: BTreeMap<String, Arc<Node>>,
}

impl TaintWriter {
    /// Queues `change` for `node`.
    pub fn push(&mut self, node: &str, change: TaintChange) {
        self.waiting
            .entry(node.to_string())
            .or_default()
            .push_back(change);
    }

    /// The newest copy of `node` between the cache's and the controller's own last write.
    pub fn newest(&self, cached: &Arc<Node>) -> Arc<Node> {
        match self.written.get(&cached.metadata.name) {
            Some(w) if w.metadata.resource_version > cached.metadata.resource_version => {
                Arc::clone(w)
            }
            _ => Arc::clone(cached),
        }
    }

    /// The next write to send: for each node with nothing in flight, its next change that
    /// changes something, as the node's new taint list. `cached` gives the cache's copy.
    pub fn next_writes(
        &mut self,
        now: SimTime,
        cached: impl Fn(&str) -> Option<Arc<Node>>,
    ) -> Vec<(String, Vec<Taint>)> {
        let mut writes = Vec::new();
        let names: Vec<String> = self.waiting.keys().cloned().collect();
        for name in names {
            if self.in_flight.contains_key(&name) {
                continue;
            }
            let Some(node) = cached(&name) else {
                // The node is gone: nothing to write.
                self.waiting.remove(&name);
                continue;
            };
            let node = self.newest(&node);
            let Some(queue) = self.waiting.get_mut(&name) else {
                continue;
            };
            while let Some(change) = queue.pop_front() {
                if let Some(taints) = change.apply(&node.spec.taints, now) {
                    self.in_flight.insert(name.clone(), change);
                    writes.push((name.clone(), taints));
                    break;
                }
            }
            if queue.is_empty() {
                self.waiting.remove(&name);
            }
        }
        writes
    }

    /// The write to `node` was answered: with the node written, or failed (the change is
    /// returned, to be retried as its cause sees fit).
    pub fn answered(&mut self, node: &str, written: Option<Arc<Node>>) -> Option<TaintChange> {
        let change = self.in_flight.remove(node);
        match written {
            Some(n) => {
                self.written.insert(node.to_string(), n);
                None
            }
            None => change,
        }
    }

    /// Forgets `node` (deleted).
    pub fn forget(&mut self, node: &str) {
        self.waiting.remove(node);
        self.written.remove(node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::node::NodeCondition;

    fn condition(type_: &str, status: &str) -> NodeCondition {
        NodeCondition {
            type_: type_.into(),
            status: status.into(),
            reason: String::new(),
            message: String::new(),
            last_heartbeat_time: SimTime::ZERO,
            last_transition_time: SimTime::ZERO,
        }
    }

    #[test]
    fn no_schedule_taints_follow_conditions_and_cordons() {
        let mut node = Node::default();
        node.status.conditions = vec![
            condition("Ready", "Unknown"),
            condition("DiskPressure", "False"),
        ];
        node.spec.unschedulable = true;
        // A user's NoSchedule taint is not the controller's.
        node.spec
            .taints
            .push(Taint::new("dedicated", "x", TaintEffect::NoSchedule));
        let change = no_schedule_change(&node).expect("taints to add");
        let keys: Vec<&str> = change.add.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, [TAINT_NODE_UNREACHABLE, TAINT_NODE_UNSCHEDULABLE]);
        assert!(change.remove.is_empty());
        // Applied, then Ready again and uncordoned: both go, the user's stays.
        node.spec.taints = change
            .apply(&node.spec.taints, SimTime::ZERO)
            .expect("changed");
        assert_eq!(no_schedule_change(&node).map(|_| ()), None);
        node.status.conditions[0].status = "True".into();
        node.spec.unschedulable = false;
        let change = no_schedule_change(&node).expect("taints to remove");
        let taints = change
            .apply(&node.spec.taints, SimTime::ZERO)
            .expect("changed");
        assert_eq!(
            taints,
            vec![Taint::new("dedicated", "x", TaintEffect::NoSchedule)]
        );
    }

    #[test]
    fn a_swap_replaces_the_opposite_taint_and_stamps_the_time() {
        let swap = TaintChange {
            add: vec![not_ready_taint()],
            remove: vec![unreachable_taint()],
        };
        let now = SimTime::ZERO + crate::sim::SimDuration::from_secs(90);
        let taints = swap
            .apply(&[unreachable_taint()], now)
            .expect("the swap changes the list");
        assert_eq!(taints.len(), 1);
        assert_eq!(taints[0].key, TAINT_NODE_NOT_READY);
        assert_eq!(
            taints[0].time_added.as_deref(),
            Some("1970-01-01T00:01:30Z")
        );
        // Removing what is not there changes nothing.
        let lift = TaintChange {
            add: Vec::new(),
            remove: vec![unreachable_taint()],
        };
        assert_eq!(lift.apply(&[], now), None);
    }
}
