//! NodeUnschedulable: keeps pods off cordoned nodes (`spec.unschedulable: true`) unless the pod
//! tolerates the `node.kubernetes.io/unschedulable:NoSchedule` taint, which is how DaemonSet
//! pods still land on cordoned nodes.
//!
//! Upstream: `pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go`.

use std::sync::LazyLock;

use crate::api::taints::{
    TAINT_NODE_UNSCHEDULABLE, Taint, TaintEffect, tolerations_tolerate_taint,
};
use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventChange, EventResource};
use crate::scheduler::framework::{
    CycleState, ExtensionPoints, Plugin, QueueingHint, Status, is_update_of, node_now_admits,
    retain_feasible,
};
use crate::scheduler::node_info::{NodeInfo, PodInfo};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "NodeUnschedulable";

/// Filter reason for a cordoned node the pod does not tolerate.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";

/// The taint a pod must tolerate to be placed on a cordoned node. Built once so Filter never
/// allocates.
static UNSCHEDULABLE_TAINT: LazyLock<Taint> =
    LazyLock::new(|| Taint::new(TAINT_NODE_UNSCHEDULABLE, "", TaintEffect::NoSchedule));

/// The NodeUnschedulable filter plugin (no args).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeUnschedulable;

impl NodeUnschedulable {
    /// The plugin.
    pub fn new() -> Self {
        NodeUnschedulable
    }
}

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            filter: true,
            ..ExtensionPoints::default()
        }
    }

    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        // The inline flag, not `node.node.spec`: this runs on every node of every cycle.
        if !node.unschedulable()
            || tolerations_tolerate_taint(&pod.pod.spec.tolerations, &UNSCHEDULABLE_TAINT)
        {
            return Status::success();
        }
        // Preemption cannot uncordon a node, hence unresolvable.
        Status::unresolvable(NAME, ERR_REASON_UNSCHEDULABLE)
    }

    /// A node added schedulable or uncordoned, or the pod gaining the toleration.
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
            return node_now_admits(change, |node| !node.spec.unschedulable);
        }
        QueueingHint::queue_if(
            is_update_of(pod, change)
                && change.new_pod().is_some_and(|p| {
                    tolerations_tolerate_taint(&p.spec.tolerations, &UNSCHEDULABLE_TAINT)
                }),
        )
    }

    /// The pod's tolerations are looked at once per batch, not once per node.
    fn filter_nodes<'n>(
        &self,
        _state: &CycleState,
        pod: &PodInfo,
        nodes: &mut Vec<&'n NodeInfo>,
        rejected: &mut Vec<(&'n NodeInfo, Status)>,
    ) {
        // Cordoned nodes are rare: a read-only look first, which usually settles the batch.
        if !nodes.iter().any(|node| node.unschedulable())
            || tolerations_tolerate_taint(&pod.pod.spec.tolerations, &UNSCHEDULABLE_TAINT)
        {
            return;
        }
        retain_feasible(nodes, rejected, |node| {
            node.unschedulable()
                .then(|| Status::unresolvable(NAME, ERR_REASON_UNSCHEDULABLE))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::taints::TolerationOperator::{Equal, Exists};
    use crate::scheduler::framework::Code;
    use crate::scheduler::plugins::test_util::{NodeBuilder, PodBuilder, filter, tol};

    #[test]
    fn queueing_hint_waits_for_an_uncordon_or_the_toleration() {
        use crate::scheduler::plugins::test_util::{change, hint};
        let pod = PodBuilder::new("p").info();
        let cordoned = || NodeBuilder::new("n").unschedulable().object();
        let open = || NodeBuilder::new("n").object();
        let update = |old, new| {
            change(
                EventResource::Node,
                ActionType::UPDATE_NODE_TAINT,
                Some(old),
                Some(new),
            )
        };
        let pl = NodeUnschedulable;
        assert_eq!(
            hint(&pl, &pod, &update(cordoned(), open())),
            QueueingHint::Queue
        );
        assert_eq!(hint(&pl, &pod, &update(open(), open())), QueueingHint::Skip);
        let added = change(EventResource::Node, ActionType::ADD, None, Some(cordoned()));
        assert_eq!(hint(&pl, &pod, &added), QueueingHint::Skip);
        // The pod itself gains the toleration.
        let tolerant = PodBuilder::new("p")
            .toleration(tol(
                TAINT_NODE_UNSCHEDULABLE,
                Exists,
                "",
                Some(TaintEffect::NoSchedule),
            ))
            .object();
        let gained = change(
            EventResource::UnscheduledPod,
            ActionType::UPDATE_POD_TOLERATION,
            Some(PodBuilder::new("p").object()),
            Some(tolerant),
        );
        assert_eq!(hint(&pl, &pod, &gained), QueueingHint::Queue);
    }

    #[test]
    fn schedulable_node_admits_any_pod() {
        let node = NodeBuilder::new("n").info();
        let pod = PodBuilder::new("p").info();
        assert!(filter(&NodeUnschedulable, &pod, &node).is_success());
    }

    #[test]
    fn cordoned_node_rejects_a_pod_without_the_toleration() {
        let node = NodeBuilder::new("n").unschedulable().info();
        let pod = PodBuilder::new("p").info();
        let status = filter(&NodeUnschedulable, &pod, &node);
        assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(status.reasons, vec![ERR_REASON_UNSCHEDULABLE.to_string()]);
        assert_eq!(status.plugin, NAME);
    }

    #[test]
    fn tolerating_the_unschedulable_taint_passes() {
        let node = NodeBuilder::new("n").unschedulable().info();
        let cases = [
            // The DaemonSet controller's toleration.
            (
                tol(
                    TAINT_NODE_UNSCHEDULABLE,
                    Exists,
                    "",
                    Some(TaintEffect::NoSchedule),
                ),
                true,
            ),
            // Equal with the taint's empty value, any effect.
            (tol(TAINT_NODE_UNSCHEDULABLE, Equal, "", None), true),
            // Tolerate-everything.
            (tol("", Exists, "", None), true),
            // Wrong effect: NoExecute does not cover the NoSchedule taint.
            (
                tol(
                    TAINT_NODE_UNSCHEDULABLE,
                    Exists,
                    "",
                    Some(TaintEffect::NoExecute),
                ),
                false,
            ),
            // Equal with a value: the taint's value is empty, so no match.
            (tol(TAINT_NODE_UNSCHEDULABLE, Equal, "true", None), false),
        ];
        for (t, ok) in cases {
            let pod = PodBuilder::new("p").toleration(t.clone()).info();
            assert_eq!(
                filter(&NodeUnschedulable, &pod, &node).is_success(),
                ok,
                "{t:?}"
            );
        }
    }
}
