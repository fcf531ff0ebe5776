//! TaintToleration: a node's NoSchedule and NoExecute taints keep off every pod that does not
//! tolerate them (Filter); PreferNoSchedule taints only make a node less attractive, by how
//! many of them the pod does not tolerate (Score, reversed so fewer is better).
//!
//! Upstream: `pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go`.

use super::written_state;
use crate::api::taints::{
    TaintEffect, Toleration, count_untolerated_taints, find_untolerated_taint,
};
use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventChange, EventResource};
use crate::scheduler::framework::{
    CycleState, ExtensionPoints, MAX_NODE_SCORE, Plugin, QueueingHint, Status,
    default_normalize_score, is_update_of, node_now_admits, retain_feasible,
};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "TaintToleration";

/// The effects Filter enforces.
const FILTERED_EFFECTS: [TaintEffect; 2] = [TaintEffect::NoSchedule, TaintEffect::NoExecute];

/// The effect Score counts.
const SCORED_EFFECTS: [TaintEffect; 1] = [TaintEffect::PreferNoSchedule];

/// What PreScore keeps for Score: the pod's tolerations that can tolerate a PreferNoSchedule
/// taint (those with that effect or with none), so Score looks at no others.
struct PreScoreState {
    tolerations: Vec<Toleration>,
}

impl PreScoreState {
    /// The node's untolerated PreferNoSchedule taints (none on a node without taints, which
    /// the inline flag tells without reading the node object).
    fn untolerated(&self, node: &NodeInfo) -> i64 {
        if !node.has_taints() {
            return 0;
        }
        let count =
            count_untolerated_taints(&node.node.spec.taints, &self.tolerations, &SCORED_EFFECTS);
        i64::try_from(count).unwrap_or(i64::MAX)
    }
}

fn pre_score_state(state: &CycleState) -> Result<&PreScoreState, Status> {
    written_state(state, NAME, "PreScore")
}

/// The rejection of `node` for a NoSchedule / NoExecute taint `pod` does not tolerate, if any.
fn untolerated_taint(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    // Most nodes have no taint: the inline flag answers without reading the node object.
    if !node.has_taints() {
        return None;
    }
    let taint = find_untolerated_taint(
        &node.node.spec.taints,
        &pod.pod.spec.tolerations,
        &FILTERED_EFFECTS,
    )?;
    // Preemption cannot remove a taint, hence unresolvable. Upstream's wording, which names
    // the first offending taint as `{key: value}`.
    Some(Status::unresolvable(
        NAME,
        format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key, taint.value
        ),
    ))
}

/// The TaintToleration plugin (no args).
#[derive(Clone, Copy, Debug, Default)]
pub struct TaintToleration;

impl TaintToleration {
    /// The plugin.
    pub fn new() -> Self {
        TaintToleration
    }
}

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            filter: true,
            pre_score: true,
            score: true,
            ..ExtensionPoints::default()
        }
    }

    /// A node added or retainted so that the pod tolerates it, or the pod gaining
    /// tolerations.
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD.or(ActionType::UPDATE_NODE_TAINT),
            ),
            ClusterEvent::new(EventResource::Pod, ActionType::UPDATE_POD_TOLERATION),
        ];
        EVENTS
    }

    fn queueing_hint(&self, pod: &PodInfo, change: &EventChange) -> QueueingHint {
        if change.event.resource == EventResource::Node {
            let tolerations = &pod.pod.spec.tolerations;
            return node_now_admits(change, |node| {
                find_untolerated_taint(&node.spec.taints, tolerations, &FILTERED_EFFECTS).is_none()
            });
        }
        QueueingHint::queue_if(is_update_of(pod, change))
    }

    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        untolerated_taint(pod, node).unwrap_or_else(Status::success)
    }

    /// Every node of the batch without a [`Status`] for the nodes that pass.
    fn filter_nodes<'n>(
        &self,
        _state: &CycleState,
        pod: &PodInfo,
        nodes: &mut Vec<&'n NodeInfo>,
        rejected: &mut Vec<(&'n NodeInfo, Status)>,
    ) {
        // Tainted nodes are few: a read-only look first, which usually settles the batch.
        if nodes.iter().any(|node| node.has_taints()) {
            retain_feasible(nodes, rejected, |node| untolerated_taint(pod, node));
        }
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _snapshot: &Snapshot,
    ) -> Status {
        let tolerations = pod
            .pod
            .spec
            .tolerations
            .iter()
            .filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule))
            .cloned()
            .collect();
        state.write(NAME, PreScoreState { tolerations });
        Status::success()
    }

    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(pre_score_state(state)?.untolerated(node))
    }

    /// Every node with one read of the cycle state.
    fn score_nodes(
        &self,
        state: &CycleState,
        _pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Result<(), Status> {
        let s = pre_score_state(state)?;
        if nodes.iter().any(|node| node.has_taints()) {
            for (slot, node) in scores.iter_mut().zip(nodes) {
                *slot = s.untolerated(node);
            }
        } else {
            // No taint anywhere: nothing untolerated.
            scores.fill(0);
        }
        Ok(())
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        // More untolerated PreferNoSchedule taints is worse: reverse.
        default_normalize_score(MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::taints::TaintEffect::{NoExecute, NoSchedule, PreferNoSchedule};
    use crate::api::taints::TolerationOperator::{Equal, Exists};
    use crate::scheduler::framework::Code;
    use crate::scheduler::plugins::test_util::{NodeBuilder, PodBuilder, filter, score, tol};

    #[test]
    fn queueing_hint_waits_for_a_node_the_pod_tolerates() {
        use crate::scheduler::plugins::test_util::{change, hint};
        let pod = PodBuilder::new("p").info();
        let tainted = || {
            NodeBuilder::new("n")
                .taint("dedicated", "db", TaintEffect::NoSchedule)
                .object()
        };
        let clean = || NodeBuilder::new("n").object();
        let node = |action, old, new| change(EventResource::Node, action, old, new);
        // Added tainted: no; added clean: yes.
        let added_tainted = node(ActionType::ADD, None, Some(tainted()));
        assert_eq!(
            hint(&TaintToleration, &pod, &added_tainted),
            QueueingHint::Skip
        );
        let added_clean = node(ActionType::ADD, None, Some(clean()));
        assert_eq!(
            hint(&TaintToleration, &pod, &added_clean),
            QueueingHint::Queue
        );
        // The taint removed: yes. A taint added to a clean node: no (it admitted the pod
        // before, so it was not what rejected it).
        let untainted = node(
            ActionType::UPDATE_NODE_TAINT,
            Some(tainted()),
            Some(clean()),
        );
        assert_eq!(
            hint(&TaintToleration, &pod, &untainted),
            QueueingHint::Queue
        );
        let retainted = node(
            ActionType::UPDATE_NODE_TAINT,
            Some(clean()),
            Some(tainted()),
        );
        assert_eq!(hint(&TaintToleration, &pod, &retainted), QueueingHint::Skip);
        // A PreferNoSchedule taint does not reject: such a node admits the pod.
        let soft = NodeBuilder::new("n")
            .taint("spot", "", TaintEffect::PreferNoSchedule)
            .object();
        let added_soft = node(ActionType::ADD, None, Some(soft));
        assert_eq!(
            hint(&TaintToleration, &pod, &added_soft),
            QueueingHint::Queue
        );
    }

    #[test]
    fn untolerated_no_schedule_taint_is_unresolvable_with_upstream_message() {
        let node = NodeBuilder::new("n")
            .taint("dedicated", "user1", NoSchedule)
            .info();
        let pod = PodBuilder::new("p").info();
        let status = filter(&TaintToleration, &pod, &node);
        assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(
            status.reasons,
            vec!["node(s) had untolerated taint {dedicated: user1}".to_string()]
        );
    }

    #[test]
    fn filter_checks_no_schedule_and_no_execute_only() {
        let pod = PodBuilder::new("p")
            .toleration(tol("dedicated", Equal, "user1", Some(NoSchedule)))
            .info();
        // Tolerated NoSchedule taint: fits.
        let tolerated = NodeBuilder::new("a")
            .taint("dedicated", "user1", NoSchedule)
            .info();
        assert!(filter(&TaintToleration, &pod, &tolerated).is_success());
        // A different value is not tolerated by Equal.
        let other_value = NodeBuilder::new("b")
            .taint("dedicated", "user2", NoSchedule)
            .info();
        assert!(!filter(&TaintToleration, &pod, &other_value).is_success());
        // PreferNoSchedule never filters.
        let soft = NodeBuilder::new("c")
            .taint("x", "", PreferNoSchedule)
            .info();
        assert!(filter(&TaintToleration, &pod, &soft).is_success());
        // NoExecute untolerated: rejected; the message names the first offending taint.
        let exec = NodeBuilder::new("d")
            .taint("dedicated", "user1", NoSchedule)
            .taint("node.kubernetes.io/not-ready", "", NoExecute)
            .info();
        let status = filter(&TaintToleration, &pod, &exec);
        assert_eq!(
            status.reasons,
            vec!["node(s) had untolerated taint {node.kubernetes.io/not-ready: }".to_string()]
        );
    }

    #[test]
    fn score_counts_untolerated_prefer_no_schedule_taints_reversed() {
        // The pod tolerates "a" (no effect = all effects) and "b" only for NoSchedule, which
        // does not cover a PreferNoSchedule taint.
        let pod = PodBuilder::new("p")
            .toleration(tol("a", Exists, "", None))
            .toleration(tol("b", Exists, "", Some(NoSchedule)))
            .info();
        let nodes = vec![
            // 0 untolerated: "a" is tolerated.
            NodeBuilder::new("n0")
                .taint("a", "", PreferNoSchedule)
                .info(),
            // 1 untolerated: "b"; the NoSchedule "c" is not counted by Score.
            NodeBuilder::new("n1")
                .taint("b", "", PreferNoSchedule)
                .taint("c", "", NoSchedule)
                .info(),
            // 2 untolerated: "b" and "c".
            NodeBuilder::new("n2")
                .taint("b", "", PreferNoSchedule)
                .taint("c", "", PreferNoSchedule)
                .info(),
        ];
        // Raw counts [0, 1, 2], max 2, reversed: 100 − 100·0/2 = 100, 100 − 100·1/2 = 50,
        // 100 − 100·2/2 = 0.
        assert_eq!(score(&TaintToleration, &pod, nodes), Ok(vec![100, 50, 0]));
    }

    #[test]
    fn score_with_no_untolerated_taint_anywhere_gives_everyone_the_maximum() {
        let pod = PodBuilder::new("p").info();
        let nodes = vec![
            NodeBuilder::new("n0").info(),
            NodeBuilder::new("n1").taint("x", "", NoSchedule).info(),
        ];
        // Raw [0, 0]: max 0, reversed → every node 100.
        assert_eq!(score(&TaintToleration, &pod, nodes), Ok(vec![100, 100]));
    }

    #[test]
    fn score_with_uneven_counts_uses_integer_division() {
        let pod = PodBuilder::new("p").info();
        let nodes = vec![
            NodeBuilder::new("n0")
                .taint("x", "", PreferNoSchedule)
                .info(),
            NodeBuilder::new("n1")
                .taint("x", "", PreferNoSchedule)
                .taint("y", "", PreferNoSchedule)
                .taint("z", "", PreferNoSchedule)
                .info(),
            NodeBuilder::new("n2").info(),
        ];
        // Raw [1, 3, 0], max 3: 100 − 100·1/3 = 100 − 33 = 67; 100 − 100 = 0; 100 − 0 = 100.
        assert_eq!(score(&TaintToleration, &pod, nodes), Ok(vec![67, 0, 100]));
    }
}
