//! The load balancer in front of the kube-apiserver replicas, and the connection each client
//! holds through it.
//!
//! client-go keeps one HTTP/2 connection per client (rest.Config's transport) and multiplexes
//! every request and watch of the client over it, so a client talks to one replica until its
//! connection breaks. An L4 load balancer (the default of a cloud TCP load balancer, or
//! kube-vip / haproxy in TCP mode) places each new connection on a backend that passes its
//! health check, without regard to how many connections each already has: kubesim draws the
//! replica uniformly among those that are up, from the stream `apiserver/load-balancer`.
//!
//! A connection is made when a client's request arrives and it has none: its first request,
//! the first after its replica went down (which resets the connection), and the first after a
//! GOAWAY. Nothing ever moves an established connection, which is why a rolling restart ends
//! with the replica restarted last almost empty: every client it lost has reconnected to the
//! replicas that were up then, and nothing sends any back.
//!
//! `--goaway-chance` (`spec.apiserver.goawayChance`, upstream's `WithProbabilisticGoaway`
//! filter, default 0, at most 0.02) is the cure: each request a replica receives is, with that
//! probability, answered with `Connection: close`, which makes Go's HTTP/2 server send GOAWAY;
//! the request and the client's other streams (its open watches) finish on the old
//! connection, and the client's next request dials a new one through the load balancer. kubesim
//! drops the connection when the request arrives (the draw is the filter's, at the head of the
//! handler chain), so the client's next request to arrive opens a new one; its open watches
//! stay with the replica that serves them until they end. The draws come from
//! `apiserver/goaway`; with a chance of 0 nothing is drawn.

use std::collections::BTreeMap;

use rand::RngExt;

use super::request::ClientId;
use crate::sim::SimRng;

/// `--goaway-chance`'s upper bound: 1 request in 50.
pub const MAX_GOAWAY_CHANCE: f64 = 0.02;

/// A probability in parts per billion (so configurations stay comparable and hashable);
/// 0.02 is 20 000 000.
pub const PARTS_PER_BILLION: u32 = 1_000_000_000;

/// What the load balancer did for one replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaConnections {
    /// Clients connected to it now.
    pub connected: u64,
    /// The most clients connected to it at once.
    pub connected_peak: u64,
    /// Connections it was given (each client's first, and each reconnection).
    pub connections_made: u64,
    /// Requests that arrived at it.
    pub requests: u64,
    /// GOAWAYs it sent.
    pub goaways: u64,
}

/// The load balancer and every client's connection.
#[derive(Debug)]
pub struct LoadBalancer {
    /// Each connected client's replica.
    connections: BTreeMap<ClientId, u32>,
    /// Per replica.
    replicas: Vec<ReplicaConnections>,
    /// Which replica a new connection lands on.
    picks: SimRng,
    /// Whether a request gets a GOAWAY.
    goaway_draws: SimRng,
    /// `--goaway-chance` in parts per billion.
    goaway_ppb: u32,
    /// Requests that found no replica up: refused at the connection.
    refused: u64,
}

impl LoadBalancer {
    /// A load balancer in front of `replicas` replicas that sends GOAWAY to a request with
    /// probability `goaway_ppb` / 10⁹; `picks` and `goaway_draws` are its streams.
    pub fn new(replicas: usize, goaway_ppb: u32, picks: SimRng, goaway_draws: SimRng) -> Self {
        LoadBalancer {
            connections: BTreeMap::new(),
            replicas: vec![ReplicaConnections::default(); replicas],
            picks,
            goaway_draws,
            goaway_ppb,
            refused: 0,
        }
    }

    /// The replica `client` is connected to, if any.
    pub fn connection(&self, client: ClientId) -> Option<u32> {
        self.connections.get(&client).copied()
    }

    /// Per replica: clients connected, connections made, requests, GOAWAYs.
    pub fn replicas(&self) -> &[ReplicaConnections] {
        &self.replicas
    }

    /// Requests refused at the connection because no replica was up.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// The replica that serves `client`'s request arriving now: its connection's, or a new
    /// connection's among the replicas `up` says are up; `None` (refused) if none is. The
    /// request may carry a GOAWAY: then the client's next request connects anew.
    pub fn route(&mut self, client: ClientId, up: impl Fn(u32) -> bool) -> Option<u32> {
        let replica = match self.connection(client) {
            Some(replica) => replica,
            None => self.connect(client, up)?,
        };
        let slot = &mut self.replicas[replica as usize];
        slot.requests += 1;
        if self.goaway_ppb > 0
            && self.goaway_draws.random_range(0..PARTS_PER_BILLION) < self.goaway_ppb
        {
            slot.goaways += 1;
            self.disconnect(client);
        }
        Some(replica)
    }

    /// Opens `client`'s connection on a replica drawn uniformly among those up (no draw when
    /// one is).
    fn connect(&mut self, client: ClientId, up: impl Fn(u32) -> bool) -> Option<u32> {
        let candidates: Vec<u32> = (0..self.replicas.len() as u32).filter(|&r| up(r)).collect();
        let replica = match candidates.len() {
            0 => {
                self.refused += 1;
                return None;
            }
            1 => candidates[0],
            n => candidates[self.picks.random_range(0..n)],
        };
        self.connections.insert(client, replica);
        let slot = &mut self.replicas[replica as usize];
        slot.connected += 1;
        slot.connected_peak = slot.connected_peak.max(slot.connected);
        slot.connections_made += 1;
        Some(replica)
    }

    /// `client`'s connection closes.
    fn disconnect(&mut self, client: ClientId) {
        if let Some(replica) = self.connections.remove(&client) {
            self.replicas[replica as usize].connected -= 1;
        }
    }

    /// Replica `replica` went down: every connection to it breaks. Walks every connection, but
    /// only when a replica goes down, never per request.
    pub fn drop_replica(&mut self, replica: u32) {
        self.connections.retain(|_, r| *r != replica);
        if let Some(slot) = self.replicas.get_mut(replica as usize) {
            slot.connected = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    fn balancer(replicas: usize, goaway_ppb: u32) -> LoadBalancer {
        LoadBalancer::new(
            replicas,
            goaway_ppb,
            stream(1, "apiserver/load-balancer"),
            stream(1, "apiserver/goaway"),
        )
    }

    #[test]
    fn a_client_keeps_its_replica_until_it_goes_down_then_lands_on_one_that_is_up() {
        let mut lb = balancer(3, 0);
        let all = |_| true;
        let first = lb.route(ClientId(7), all);
        let Some(first) = first else {
            panic!("three replicas up");
        };
        for _ in 0..10 {
            assert_eq!(lb.route(ClientId(7), all), Some(first));
        }
        assert_eq!(lb.replicas()[first as usize].connected, 1);
        assert_eq!(lb.replicas()[first as usize].requests, 11);
        lb.drop_replica(first);
        assert_eq!(lb.connection(ClientId(7)), None);
        assert_eq!(lb.replicas()[first as usize].connected, 0);
        assert_eq!(lb.replicas()[first as usize].connected_peak, 1);
        // Only `first` is down: any other replica.
        let next = lb.route(ClientId(7), |r| r != first);
        assert!(next.is_some_and(|r| r != first), "{next:?}");
        // Nothing up: refused, and counted.
        assert_eq!(lb.route(ClientId(8), |_| false), None);
        assert_eq!(lb.refused(), 1);
    }

    #[test]
    fn new_connections_spread_uniformly_over_the_replicas_up() {
        // 3,000 clients over 3 replicas: 1,000 each expected, a binomial standard deviation of
        // √(3000 × 1/3 × 2/3) = 25.8; within 5 of them.
        let mut lb = balancer(3, 0);
        for c in 0..3000 {
            lb.route(ClientId(c), |_| true);
        }
        for slot in lb.replicas() {
            assert!(slot.connected.abs_diff(1000) < 130, "{slot:?}");
        }
        // A single replica up takes them all without a draw.
        let mut lb = balancer(3, 0);
        for c in 0..100 {
            assert_eq!(lb.route(ClientId(c), |r| r == 2), Some(2));
        }
    }

    #[test]
    fn a_goaway_lets_the_request_through_and_the_next_one_reconnects() {
        // A chance of 1 (beyond upstream's cap, for the test): every request is the last of
        // its connection.
        let mut lb = balancer(2, PARTS_PER_BILLION);
        let served = lb.route(ClientId(1), |_| true);
        assert!(served.is_some());
        assert_eq!(lb.connection(ClientId(1)), None);
        let slots = lb.replicas();
        assert_eq!(slots.iter().map(|s| s.goaways).sum::<u64>(), 1);
        assert_eq!(slots.iter().map(|s| s.connected).sum::<u64>(), 0);
        // 0.001 over 100,000 requests of one client: about 100 GOAWAYs (σ ≈ 10), so about 101
        // connections.
        let mut lb = balancer(2, 1_000_000);
        for _ in 0..100_000 {
            lb.route(ClientId(1), |_| true);
        }
        let made: u64 = lb.replicas().iter().map(|s| s.connections_made).sum();
        assert!((60..=140).contains(&made), "{made}");
    }
}
