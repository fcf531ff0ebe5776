//! `stopKubelet` / `startKubelet`: a node's kubelet stops, and later starts again.
//!
//! kubesim models the kubelet and the container runtime as one: a stopped kubelet's
//! containers stop with it (upstream's would keep running under the runtime, and the restarted
//! kubelet would adopt them), so a started kubelet starts its pods anew, as after a crash. Its
//! node, meanwhile, stops heartbeating exactly as a crashed node does.

use super::{FaultStep, NodeFault};

/// The step of a stop of `node`'s kubelet.
pub fn stop(node: &str) -> FaultStep {
    FaultStep::Node(node.to_string(), NodeFault::StopKubelet)
}

/// The step of a start of `node`'s kubelet.
pub fn start(node: &str) -> FaultStep {
    FaultStep::Node(node.to_string(), NodeFault::StartKubelet)
}
