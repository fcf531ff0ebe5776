//! Zones and their disruption states (upstream `ComputeZoneState`, `handleDisruption`,
//! `setLimiterInZone`, `ReducedQPSFunc` / `HealthyQPSFunc`).
//!
//! A zone is what `nodetopology.GetZoneKey` makes of a node's region and zone labels. Its
//! state comes from its nodes' Ready conditions as the pass left them:
//!
//! * FullDisruption: no node Ready and at least one not;
//! * PartialDisruption: more than 2 nodes not Ready and their share at least
//!   `--unhealthy-zone-threshold` (0.55, compared in `float32` as upstream does);
//! * Normal otherwise.
//!
//! Each state has a tainting rate: Normal `--node-eviction-rate` (0.1 nodes/s);
//! PartialDisruption `--secondary-node-eviction-rate` (0.01) if the zone has more than
//! `--large-cluster-size-threshold` (50) nodes, else 0; FullDisruption the normal rate again —
//! unless every zone is fully disrupted, which the controller takes for its own network
//! partition and stops tainting altogether (see `mod.rs`).

use crate::api::node::{LABEL_REGION, LABEL_ZONE, Node};

/// The legacy zone label upstream still reads when the GA one is missing.
const LEGACY_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
/// The legacy region label.
const LEGACY_REGION: &str = "failure-domain.beta.kubernetes.io/region";

/// A zone's disruption state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ZoneState {
    /// Seen for the first time this pass.
    Initial,
    /// Healthy enough.
    Normal,
    /// Many nodes not Ready.
    PartialDisruption,
    /// No node Ready.
    FullDisruption,
}

/// The zone key of `node` (`GetZoneKey`): `region:\0:zone`, or empty without either label.
pub fn zone_key(node: &Node) -> String {
    let labels = &node.metadata.labels;
    let get = |ga: &str, legacy: &str| {
        labels
            .get(ga)
            .or_else(|| labels.get(legacy))
            .map_or("", String::as_str)
    };
    let region = get(LABEL_REGION, LEGACY_REGION);
    let zone = get(LABEL_ZONE, LEGACY_ZONE);
    if region.is_empty() && zone.is_empty() {
        return String::new();
    }
    format!("{region}:\u{0}:{zone}")
}

/// The thresholds and rates of the zone states (kube-controller-manager's flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZonePolicy {
    /// `--node-eviction-rate`.
    pub eviction_rate: f64,
    /// `--secondary-node-eviction-rate`.
    pub secondary_eviction_rate: f64,
    /// `--unhealthy-zone-threshold`.
    pub unhealthy_zone_threshold: f64,
    /// `--large-cluster-size-threshold`.
    pub large_cluster_size_threshold: u32,
}

impl ZonePolicy {
    /// The state of a zone whose nodes' Ready statuses are `ready` (true: Ready=True; a node
    /// without a Ready condition counts as not Ready), and how many are not Ready.
    pub fn zone_state(&self, ready: &[bool]) -> (usize, ZoneState) {
        let ready_nodes = ready.iter().filter(|&&r| r).count();
        let not_ready = ready.len() - ready_nodes;
        // Upstream divides and compares in float32.
        let share = not_ready as f32 / (not_ready + ready_nodes).max(1) as f32;
        let state = if ready_nodes == 0 && not_ready > 0 {
            ZoneState::FullDisruption
        } else if not_ready > 2 && share >= self.unhealthy_zone_threshold as f32 {
            ZoneState::PartialDisruption
        } else {
            ZoneState::Normal
        };
        (not_ready, state)
    }

    /// The tainting rate of a zone of `size` nodes in `state` (None: leave it as it is).
    pub fn rate(&self, state: ZoneState, size: usize) -> Option<f64> {
        match state {
            ZoneState::Normal | ZoneState::FullDisruption => Some(self.eviction_rate),
            ZoneState::PartialDisruption => {
                Some(if size > self.large_cluster_size_threshold as usize {
                    self.secondary_eviction_rate
                } else {
                    0.0
                })
            }
            ZoneState::Initial => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ZonePolicy {
        ZonePolicy {
            eviction_rate: 0.1,
            secondary_eviction_rate: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
        }
    }

    fn zone(ready: usize, not_ready: usize) -> Vec<bool> {
        let mut v = vec![true; ready];
        v.extend(std::iter::repeat_n(false, not_ready));
        v
    }

    #[test]
    fn zone_states_follow_the_share_of_nodes_not_ready() {
        let p = policy();
        // 60 nodes, 33 down: 33/60 = 0.55 ≥ 0.55 and 33 > 2 → partial; 32 down: 0.533 → normal.
        assert_eq!(
            p.zone_state(&zone(27, 33)),
            (33, ZoneState::PartialDisruption)
        );
        assert_eq!(p.zone_state(&zone(28, 32)), (32, ZoneState::Normal));
        // 40 nodes, 22 down: 0.55 → partial.
        assert_eq!(
            p.zone_state(&zone(18, 22)),
            (22, ZoneState::PartialDisruption)
        );
        // Small zones: 2 of 3 down is 0.67 but not more than 2 nodes → normal; 3 of 4 →
        // partial; all down → full (even a single node).
        assert_eq!(p.zone_state(&zone(1, 2)), (2, ZoneState::Normal));
        assert_eq!(p.zone_state(&zone(1, 3)), (3, ZoneState::PartialDisruption));
        assert_eq!(p.zone_state(&zone(0, 1)), (1, ZoneState::FullDisruption));
        assert_eq!(p.zone_state(&zone(0, 60)), (60, ZoneState::FullDisruption));
        // No node at all: normal (nothing not Ready).
        assert_eq!(p.zone_state(&[]), (0, ZoneState::Normal));
    }

    #[test]
    fn rates_per_state_and_zone_size() {
        let p = policy();
        assert_eq!(p.rate(ZoneState::Normal, 60), Some(0.1));
        // Partial: 0.01 above 50 nodes, 0 at 50 and below.
        assert_eq!(p.rate(ZoneState::PartialDisruption, 60), Some(0.01));
        assert_eq!(p.rate(ZoneState::PartialDisruption, 51), Some(0.01));
        assert_eq!(p.rate(ZoneState::PartialDisruption, 50), Some(0.0));
        assert_eq!(p.rate(ZoneState::PartialDisruption, 40), Some(0.0));
        // Full: the normal rate (all zones full is the controller's business).
        assert_eq!(p.rate(ZoneState::FullDisruption, 60), Some(0.1));
        assert_eq!(p.rate(ZoneState::Initial, 60), None);
    }

    #[test]
    fn zone_keys_join_region_and_zone() {
        let mut node = Node::default();
        assert_eq!(zone_key(&node), "");
        node.metadata.labels.insert(LABEL_ZONE.into(), "a".into());
        assert_eq!(zone_key(&node), ":\u{0}:a");
        node.metadata.labels.insert(LABEL_REGION.into(), "r".into());
        assert_eq!(zone_key(&node), "r:\u{0}:a");
    }
}
