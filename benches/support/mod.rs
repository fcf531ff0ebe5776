//! What the scheduler benches share: quantities and nodes built as a node pool builds them.

use std::sync::Arc;

use kubesim::api::node::{LABEL_HOSTNAME, Node};
use kubesim::api::quantity::Quantity;
use kubesim::scheduler::node_info::NodeInfo;

/// The quantity `s`; a bench with a bad literal stops at once.
pub fn quantity(s: &str) -> Quantity {
    s.parse()
        .unwrap_or_else(|e| panic!("bad quantity {s}: {e}"))
}

/// The node `name`, with its hostname label and `labels`, and `resources` as both its
/// allocatable and its capacity.
pub fn node(name: String, labels: &[(&str, &str)], resources: &[(&str, &str)]) -> NodeInfo {
    let mut n = Node::default();
    n.metadata
        .labels
        .insert(LABEL_HOSTNAME.into(), name.clone());
    for (key, value) in labels {
        n.metadata.labels.insert((*key).into(), (*value).into());
    }
    n.metadata.name = name;
    for (resource, q) in resources {
        n.status.allocatable.insert((*resource).into(), quantity(q));
    }
    n.status.capacity = n.status.allocatable.clone();
    NodeInfo::new(Arc::new(n))
}
