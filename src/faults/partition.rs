//! `partition`: chosen nodes and the apiserver cannot reach each other. Every client that
//! runs on those nodes (their kubelets and kube-proxies) is cut off: its requests do not reach
//! the apiserver, and neither the answers to its earlier requests nor its watch events reach
//! it. The node keeps running — its pods keep running, its kubelet keeps trying — but its
//! lease and status stop, so the control plane sees it fall silent.
//!
//! When the partition heals, what was held goes through in order: the requests reach the
//! apiserver, the answers and watch events reach the clients. This stands for what a client
//! does after a broken connection (the informers relist and see what changed; the kubelet
//! posts its status again): its caches end where a relist would put them, though they see
//! the changes one by one.

use std::collections::BTreeSet;

use super::FaultStep;
use crate::apiserver::{ApiEvent, ApiOutput, ClientId};
use crate::sim::SimDuration;

/// The cut-off clients and what is held for them.
#[derive(Debug, Default)]
pub struct Network {
    cut: BTreeSet<ClientId>,
    /// Requests of cut clients, to execute on healing, in the order sent.
    requests: Vec<(ClientId, ApiEvent)>,
    /// Answers and watch events for cut clients, to deliver on healing, in order.
    held: Vec<ApiOutput>,
}

impl Network {
    /// Whether `client` is cut off.
    pub fn is_cut(&self, client: ClientId) -> bool {
        self.cut.contains(&client)
    }

    /// Whether any client is cut off.
    pub fn any_cut(&self) -> bool {
        !self.cut.is_empty()
    }

    /// Cuts `clients` off.
    pub fn cut(&mut self, clients: &[ClientId]) {
        self.cut.extend(clients.iter().copied());
    }

    /// Holds a request of cut `client`.
    pub fn hold_request(&mut self, client: ClientId, event: ApiEvent) {
        self.requests.push((client, event));
    }

    /// Holds an answer or a watch event for a cut client.
    pub fn hold(&mut self, output: ApiOutput) {
        self.held.push(output);
    }

    /// Reconnects `clients`: their held requests (to schedule now) and the answers and watch
    /// events held for them (to route now), in the order they were held.
    pub fn heal(&mut self, clients: &[ClientId]) -> (Vec<ApiEvent>, Vec<ApiOutput>) {
        for client in clients {
            self.cut.remove(client);
        }
        let healed = |c: &ClientId| clients.contains(c);
        let (requests, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.requests)
            .into_iter()
            .partition(|(c, _)| healed(c));
        self.requests = kept;
        let (outputs, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|o| match o {
                ApiOutput::Respond { client, .. }
                | ApiOutput::Deliver { client, .. }
                | ApiOutput::WatchEnded { client, .. } => healed(client),
                ApiOutput::Schedule(..) => true,
            });
        self.held = kept;
        (requests.into_iter().map(|(_, e)| e).collect(), outputs)
    }
}

/// The steps of a partition of `nodes`: cut now, healed after `heal_after` if given.
pub fn steps(nodes: &[String], heal_after: Option<SimDuration>) -> Vec<(SimDuration, FaultStep)> {
    let mut steps = vec![(SimDuration::ZERO, FaultStep::Cut(nodes.to_vec()))];
    if let Some(after) = heal_after {
        steps.push((after, FaultStep::Heal(nodes.to_vec())));
    }
    steps
}

/// The steps of `flap`: `node` cut off for `down`, back for `up`, `times` times over; it ends
/// connected.
pub fn flap_steps(
    node: &str,
    down: SimDuration,
    up: SimDuration,
    times: u32,
) -> Vec<(SimDuration, FaultStep)> {
    let nodes = vec![node.to_string()];
    let mut steps = Vec::new();
    let mut at = SimDuration::ZERO;
    for _ in 0..times {
        steps.push((at, FaultStep::Cut(nodes.clone())));
        at += down;
        steps.push((at, FaultStep::Heal(nodes.clone())));
        at += up;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flap_alternates_cut_and_heal_and_ends_connected() {
        let s = |secs| SimDuration::from_secs(secs);
        let n = || vec!["n1".to_string()];
        // 2 × (30 s cut off, 90 s back): cut 0, heal 30, cut 120, heal 150.
        assert_eq!(
            flap_steps("n1", s(30), s(90), 2),
            vec![
                (s(0), FaultStep::Cut(n())),
                (s(30), FaultStep::Heal(n())),
                (s(120), FaultStep::Cut(n())),
                (s(150), FaultStep::Heal(n())),
            ]
        );
    }
}
