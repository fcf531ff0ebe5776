//! NodePorts: a pod that claims host ports fits a node only if none of them is already taken
//! there. A claim on `0.0.0.0` (or with no host IP) collides with the same protocol and port
//! on any IP, and the other way round.
//!
//! Upstream: `pkg/scheduler/framework/plugins/nodeports/node_ports.go`. As upstream, only the
//! app containers' ports are the pod's claims (`getContainerPorts` reads `spec.containers`).

use super::written_state;
use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventChange, EventResource};
use crate::scheduler::framework::{
    CycleState, ExtensionPoints, Plugin, PreFilterResult, QueueingHint, Status,
};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot, host_ports};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "NodePorts";

/// Filter reason when a wanted port is taken.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// PreFilter's mark that the pod claims host ports. The claims themselves, sanitized (empty
/// IP = `0.0.0.0`, empty protocol = TCP), are [`PodInfo::host_ports`], which Filter reads
/// from the pod it is given.
struct PreFilterState;

/// The NodePorts filter plugin (no args).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodePorts;

impl NodePorts {
    /// The plugin.
    pub fn new() -> Self {
        NodePorts
    }
}

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            pre_filter: true,
            filter: true,
            ..ExtensionPoints::default()
        }
    }

    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> Result<PreFilterResult, Status> {
        if pod.host_ports.is_empty() {
            // Most pods claim no host port: Filter has nothing to do.
            return Err(Status::skip());
        }
        state.write(NAME, PreFilterState);
        Ok(PreFilterResult::AllNodes)
    }

    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if let Err(missing) = written_state::<PreFilterState>(state, NAME, "PreFilter") {
            return missing;
        }
        let taken = pod
            .host_ports
            .iter()
            .any(|w| node.used_ports.iter().any(|u| u.conflicts_with(w)));
        if taken {
            // Evicting the pod holding the port frees it, so preemption may help.
            Status::unschedulable(NAME, ERR_REASON)
        } else {
            Status::success()
        }
    }

    /// A pod deleted, or a node added (upstream gives node events no hint).
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[
            ClusterEvent::new(EventResource::Pod, ActionType::DELETE),
            ClusterEvent::new(EventResource::Node, ActionType::ADD),
        ];
        EVENTS
    }

    /// A deleted pod helps only if it held (or was nominated to take) a host port the pod
    /// wants.
    fn queueing_hint(&self, pod: &PodInfo, change: &EventChange) -> QueueingHint {
        let Some(deleted) = change.old_pod() else {
            return QueueingHint::Queue;
        };
        if deleted.spec.node_name.is_empty() && deleted.status.nominated_node_name.is_empty() {
            return QueueingHint::Skip;
        }
        let held = host_ports(deleted);
        QueueingHint::queue_if(
            pod.host_ports
                .iter()
                .any(|want| held.iter().any(|h| h.conflicts_with(want))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::Code;
    use crate::scheduler::plugins::test_util::{NodeBuilder, PodBuilder, filter, pre_filter};

    #[test]
    fn queueing_hint_waits_for_the_pod_holding_the_port() {
        use crate::scheduler::cluster_event::{ActionType, EventResource};
        use crate::scheduler::plugins::test_util::{change, hint};
        let pod = PodBuilder::new("p").host_port("", "TCP", 8080).info();
        let deleted = |p| change(EventResource::Pod, ActionType::DELETE, Some(p), None);
        let holder = PodBuilder::new("h")
            .node_name("n")
            .host_port("10.0.0.1", "TCP", 8080)
            .object();
        assert_eq!(
            hint(&NodePorts, &pod, &deleted(holder)),
            QueueingHint::Queue
        );
        // Another port, another protocol, or a pod that was never on a node: no help.
        let other = PodBuilder::new("o")
            .node_name("n")
            .host_port("", "TCP", 9090)
            .object();
        assert_eq!(hint(&NodePorts, &pod, &deleted(other)), QueueingHint::Skip);
        let udp = PodBuilder::new("u")
            .node_name("n")
            .host_port("", "UDP", 8080)
            .object();
        assert_eq!(hint(&NodePorts, &pod, &deleted(udp)), QueueingHint::Skip);
        let pending = PodBuilder::new("q").host_port("", "TCP", 8080).object();
        assert_eq!(
            hint(&NodePorts, &pod, &deleted(pending)),
            QueueingHint::Skip
        );
        // A new node: always worth a try (upstream gives it no hint).
        let added = change(
            EventResource::Node,
            ActionType::ADD,
            None,
            Some(NodeBuilder::new("m").object()),
        );
        assert_eq!(hint(&NodePorts, &pod, &added), QueueingHint::Queue);
    }

    /// A node with one pod holding `ip:port/protocol`.
    fn node_using(ip: &str, protocol: &str, port: i32) -> NodeInfo {
        let holder = PodBuilder::new("holder")
            .host_port(ip, protocol, port)
            .info();
        NodeBuilder::new("n").with_pods(vec![holder])
    }

    #[test]
    fn pod_without_host_ports_skips() {
        let pod = PodBuilder::new("p").container(&[]).info();
        assert!(pre_filter(&NodePorts, &pod, vec![]).is_err_and(|s| s.is_skip()));
    }

    #[test]
    fn wildcard_and_specific_ips_conflict_both_ways() {
        let cases = [
            // (used ip, used proto, wanted ip, wanted proto, conflict?)
            // Wildcard used: any IP wanting the same port and protocol collides.
            ("0.0.0.0", "TCP", "127.0.0.1", "TCP", true),
            // Wildcard wanted collides with a specific used IP.
            ("127.0.0.1", "TCP", "0.0.0.0", "TCP", true),
            // An empty host IP means the wildcard; an empty protocol means TCP.
            ("127.0.0.1", "TCP", "", "", true),
            ("", "", "10.0.0.1", "TCP", true),
            // Same IP, same port.
            ("127.0.0.1", "TCP", "127.0.0.1", "TCP", true),
            // Different specific IPs share the port.
            ("127.0.0.1", "TCP", "127.0.0.2", "TCP", false),
            // Different protocol, even on the wildcard.
            ("0.0.0.0", "TCP", "0.0.0.0", "UDP", false),
        ];
        for (uip, uproto, wip, wproto, conflict) in cases {
            let node = node_using(uip, uproto, 8080);
            let pod = PodBuilder::new("p").host_port(wip, wproto, 8080).info();
            let status = filter(&NodePorts, &pod, &node);
            assert_eq!(
                !status.is_success(),
                conflict,
                "used {uip}/{uproto}, wanted {wip}/{wproto}"
            );
            if conflict {
                assert_eq!(status.code, Code::Unschedulable);
                assert_eq!(status.reasons, vec![ERR_REASON.to_string()]);
            }
        }
    }

    #[test]
    fn different_port_is_free_and_any_taken_port_rejects() {
        let node = node_using("0.0.0.0", "TCP", 8080);
        let free = PodBuilder::new("p").host_port("", "TCP", 8081).info();
        assert!(filter(&NodePorts, &free, &node).is_success());
        // One of two wanted ports is taken: rejected.
        let one_taken = PodBuilder::new("p")
            .host_port("", "TCP", 8081)
            .host_port("", "TCP", 8080)
            .info();
        assert!(!filter(&NodePorts, &one_taken, &node).is_success());
    }

    #[test]
    fn init_container_ports_are_not_claims() {
        // Upstream's getContainerPorts reads app containers only.
        let node = node_using("0.0.0.0", "TCP", 8080);
        let pod = PodBuilder::new("p").init_host_port("", "TCP", 8080).info();
        assert!(pre_filter(&NodePorts, &pod, vec![]).is_err_and(|s| s.is_skip()));
        assert!(filter(&NodePorts, &pod, &node).is_success());
    }
}
