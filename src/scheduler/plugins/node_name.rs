//! NodeName: a pod that names a node in `spec.nodeName` fits only that node.
//!
//! Upstream: `pkg/scheduler/framework/plugins/nodename/node_name.go`.

use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventResource};
use crate::scheduler::framework::{CycleState, ExtensionPoints, Plugin, Status, retain_feasible};
use crate::scheduler::node_info::{NodeInfo, PodInfo};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "NodeName";

/// Filter reason for any other node.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// The NodeName filter plugin (no args).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeName;

impl NodeName {
    /// The plugin.
    pub fn new() -> Self {
        NodeName
    }
}

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            filter: true,
            ..ExtensionPoints::default()
        }
    }

    /// A node added (upstream gives no hint: any new node retries the pod).
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[ClusterEvent::new(EventResource::Node, ActionType::ADD)];
        EVENTS
    }

    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let wanted = &pod.pod.spec.node_name;
        if wanted.is_empty() || wanted == node.name() {
            Status::success()
        } else {
            // No eviction makes another node become the named one.
            Status::unresolvable(NAME, ERR_REASON)
        }
    }

    /// Most pods name no node: then the batch passes without a look at its nodes.
    fn filter_nodes<'n>(
        &self,
        _state: &CycleState,
        pod: &PodInfo,
        nodes: &mut Vec<&'n NodeInfo>,
        rejected: &mut Vec<(&'n NodeInfo, Status)>,
    ) {
        let wanted = &pod.pod.spec.node_name;
        if wanted.is_empty() {
            return;
        }
        retain_feasible(nodes, rejected, |node| {
            (wanted != node.name()).then(|| Status::unresolvable(NAME, ERR_REASON))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::Code;
    use crate::scheduler::plugins::test_util::{NodeBuilder, PodBuilder, filter};

    #[test]
    fn no_node_name_fits_every_node() {
        let pod = PodBuilder::new("p").info();
        assert!(filter(&NodeName, &pod, &NodeBuilder::new("a").info()).is_success());
    }

    #[test]
    fn named_node_fits_and_others_are_unresolvable() {
        let pod = PodBuilder::new("p").node_name("a").info();
        assert!(filter(&NodeName, &pod, &NodeBuilder::new("a").info()).is_success());
        let status = filter(&NodeName, &pod, &NodeBuilder::new("b").info());
        assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(status.reasons, vec![ERR_REASON.to_string()]);
    }
}
