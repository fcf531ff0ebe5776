//! `crash`: a node goes down. Its kubelet stops at once — no more node status, no lease
//! renewals, no pod status — and its containers with it; its pods stay in the API as the
//! kubelet last wrote them, until the control plane notices (the node lifecycle controller
//! after its grace period) and the taint eviction controller deletes them. With `recoverAfter`
//! the node boots again: a fresh kubelet lists its node and its pods, finishes the deletions
//! the apiserver started meanwhile (pods deleted while it was down are gone), starts the
//! pods still bound to it anew, and posts its node status again.

use super::{FaultStep, NodeFault};
use crate::sim::SimDuration;

/// The steps of a crash of `node`: now, and the boot after `recover_after` if given.
pub fn steps(node: &str, recover_after: Option<SimDuration>) -> Vec<(SimDuration, FaultStep)> {
    let mut steps = vec![(
        SimDuration::ZERO,
        FaultStep::Node(node.to_string(), NodeFault::Crash),
    )];
    if let Some(after) = recover_after {
        steps.push((
            after,
            FaultStep::Node(node.to_string(), NodeFault::StartKubelet),
        ));
    }
    steps
}
