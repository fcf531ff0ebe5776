//! `zoneOutage`: every node of a zone goes down at once — a power or network failure of a
//! whole failure domain — and, with `recoverAfter`, every one boots again. Each node crashes
//! as `crash` makes one crash; what differs is what the control plane sees: a zone whose
//! nodes are all silent is in FullDisruption, and the node lifecycle controller taints its
//! nodes at the full-disruption rate, unless every zone is down.

use super::{FaultStep, crash_node};
use crate::sim::SimDuration;

/// The steps of an outage of the zone made of `nodes`: each crashes now, and boots after
/// `recover_after` if given (crashes first, then recoveries, each in the nodes' order).
pub fn steps(
    nodes: &[String],
    recover_after: Option<SimDuration>,
) -> Vec<(SimDuration, FaultStep)> {
    let mut steps: Vec<(SimDuration, FaultStep)> = nodes
        .iter()
        .flat_map(|node| crash_node::steps(node, recover_after))
        .collect();
    // Stable: nodes keep their order within the crashes and within the recoveries.
    steps.sort_by_key(|(delay, _)| *delay);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::NodeFault;

    #[test]
    fn every_node_crashes_then_every_node_recovers() {
        let nodes = vec!["a1".to_string(), "a2".to_string()];
        let ten = SimDuration::from_mins(10);
        let step = |n: &str, f| FaultStep::Node(n.to_string(), f);
        assert_eq!(
            steps(&nodes, Some(ten)),
            vec![
                (SimDuration::ZERO, step("a1", NodeFault::Crash)),
                (SimDuration::ZERO, step("a2", NodeFault::Crash)),
                (ten, step("a1", NodeFault::StartKubelet)),
                (ten, step("a2", NodeFault::StartKubelet)),
            ]
        );
    }
}
