//! A node's health as the controller tracks it (upstream `nodeHealthData` and
//! `tryUpdateNodeHealth`).
//!
//! The controller never trusts the kubelet's clock: it keeps its own *probe timestamp* per
//! node, set to the time of the monitor pass that first sees a sign of life — a Ready
//! condition whose `lastHeartbeatTime` differs from the one it saved, or a node Lease whose
//! `renewTime` is later than the one it saved. A node with no sign of life for longer than
//! its grace (`--node-monitor-grace-period`, 50 s; `--node-startup-grace-period`, 60 s, while
//! it never posted Ready) gets its Ready, MemoryPressure, DiskPressure and PIDPressure
//! conditions set to Unknown (`NodeStatusUnknown`; `NodeStatusNeverUpdated` for one the
//! kubelet never posted) by a status update.

use std::borrow::Cow;

use crate::api::node::{Node, NodeCondition};
use crate::sim::{SimDuration, SimTime};

/// The conditions the controller sets to Unknown when a node falls silent (not
/// NetworkUnavailable, which the control plane owns).
const SILENCED_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What the controller keeps of a node between passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeHealth {
    /// The last time the controller saw a sign of life (its own clock).
    pub probe_timestamp: SimTime,
    /// The last time it saw the Ready condition change.
    pub ready_transition_timestamp: SimTime,
    /// The Ready condition as last saved (None: the node had none).
    pub ready: Option<NodeCondition>,
    /// The lease's renew time as last saved (None: no lease seen since the last reset).
    pub lease_renew: Option<Option<SimTime>>,
}

impl NodeHealth {
    /// Moves the record out, leaving an empty one behind (to be overwritten).
    pub fn take(&mut self) -> NodeHealth {
        std::mem::replace(
            self,
            NodeHealth {
                probe_timestamp: SimTime::ZERO,
                ready_transition_timestamp: SimTime::ZERO,
                ready: None,
                lease_renew: None,
            },
        )
    }
}

/// The grace periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Graces {
    /// `--node-monitor-grace-period`.
    pub monitor: SimDuration,
    /// `--node-startup-grace-period`.
    pub startup: SimDuration,
}

/// What one look at a node found: the node's own conditions borrowed while nothing changes
/// them (most looks at most nodes).
#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheck<'a> {
    /// The Ready condition as the node had it (a stand-in Unknown one if it had none).
    pub observed: Cow<'a, NodeCondition>,
    /// The Ready condition after this look (None: the node has none and is within grace).
    pub current: Option<Cow<'a, NodeCondition>>,
    /// The node with its conditions set to Unknown, to write, if they changed.
    pub update: Option<Node>,
}

/// The Ready condition of `node`.
pub fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status.conditions.iter().find(|c| c.type_ == "Ready")
}

/// One look at `node` at `now` (upstream `tryUpdateNodeHealth`): updates `health` (None: the
/// node was never seen) from its Ready condition and its lease's renew time (`lease`: None
/// without a lease), and says what to write.
pub fn check_node<'a>(
    node: &'a Node,
    lease: Option<Option<SimTime>>,
    health: &mut Option<NodeHealth>,
    graces: Graces,
    now: SimTime,
) -> HealthCheck<'a> {
    let created = node.metadata.creation_timestamp;
    let current = ready_condition(node);
    let (grace, observed) = match current {
        None => {
            // Never posted: a stand-in condition dated from the node's creation.
            let stand_in = NodeCondition {
                type_: "Ready".into(),
                status: "Unknown".into(),
                reason: String::new(),
                message: String::new(),
                last_heartbeat_time: created,
                last_transition_time: created,
            };
            match health {
                Some(h) => h.ready = None,
                None => {
                    *health = Some(NodeHealth {
                        probe_timestamp: created,
                        ready_transition_timestamp: created,
                        ready: None,
                        lease_renew: None,
                    });
                }
            }
            (graces.startup, Cow::Owned(stand_in))
        }
        Some(c) => (graces.monitor, Cow::Borrowed(c)),
    };
    // The saved condition's times are all the comparison needs.
    let saved = health
        .as_ref()
        .and_then(|h| h.ready.as_ref())
        .map(|s| (s.last_heartbeat_time, s.last_transition_time));
    let saved_lease = health.as_ref().and_then(|h| h.lease_renew);
    let fresh = |transition: SimTime| NodeHealth {
        probe_timestamp: now,
        ready_transition_timestamp: transition,
        ready: current.cloned(),
        // Upstream builds a new record without the lease here, so the next look takes the
        // lease as new even if it was not renewed.
        lease_renew: None,
    };
    match (saved, current) {
        _ if health.is_none() => *health = Some(fresh(now)),
        (None, Some(_)) | (Some(_), None) => *health = Some(fresh(now)),
        (Some((heartbeat, transition)), Some(c)) if heartbeat != c.last_heartbeat_time => {
            let transition = if transition != c.last_transition_time {
                now
            } else {
                health
                    .as_ref()
                    .map_or(now, |h| h.ready_transition_timestamp)
            };
            *health = Some(fresh(transition));
        }
        _ => {}
    }
    // Always there by now (the first arm above makes one); made here too rather than trusted.
    let h = health.get_or_insert_with(|| fresh(now));
    if let Some(renewed) = lease
        && saved_lease.is_none_or(|saved| saved < renewed)
    {
        h.lease_renew = Some(renewed);
        h.probe_timestamp = now;
    }
    if now <= h.probe_timestamp + grace {
        return HealthCheck {
            observed,
            current: current.map(Cow::Borrowed),
            update: None,
        };
    }
    // Silent for longer than its grace: every node condition the kubelet owns is Unknown.
    let mut updated = node.clone();
    for type_ in SILENCED_CONDITIONS {
        match updated
            .status
            .conditions
            .iter_mut()
            .find(|c| c.type_ == type_)
        {
            None => updated.status.conditions.push(NodeCondition {
                type_: type_.into(),
                status: "Unknown".into(),
                reason: "NodeStatusNeverUpdated".into(),
                message: "Kubelet never posted node status.".into(),
                last_heartbeat_time: created,
                last_transition_time: now,
            }),
            Some(c) if c.status != "Unknown" => {
                c.status = "Unknown".into();
                c.reason = "NodeStatusUnknown".into();
                c.message = "Kubelet stopped posting node status.".into();
                c.last_transition_time = now;
            }
            Some(_) => {}
        }
    }
    let after = ready_condition(&updated).cloned();
    if after.as_ref() == Some(&*observed) {
        return HealthCheck {
            observed,
            current: after.map(Cow::Owned),
            update: None,
        };
    }
    h.ready.clone_from(&after);
    h.ready_transition_timestamp = now;
    h.lease_renew = lease;
    HealthCheck {
        observed,
        current: after.map(Cow::Owned),
        update: Some(updated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    const GRACES: Graces = Graces {
        monitor: SimDuration::from_secs(50),
        startup: SimDuration::from_secs(60),
    };

    fn ready_node(heartbeat: u64) -> Node {
        let mut node = Node::default();
        node.metadata.name = "n".into();
        node.status.conditions.push(NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "KubeletReady".into(),
            message: String::new(),
            last_heartbeat_time: secs(heartbeat),
            last_transition_time: secs(0),
        });
        node
    }

    #[test]
    fn a_renewed_lease_keeps_a_node_alive_and_silence_makes_it_unknown() {
        let mut health = None;
        let node = ready_node(0);
        // First look at 5 s: probe = 5 s.
        let c = check_node(&node, Some(Some(secs(0))), &mut health, GRACES, secs(5));
        assert!(c.update.is_none());
        assert_eq!(health.as_ref().map(|h| h.probe_timestamp), Some(secs(5)));
        // The lease renewed at 10 s, seen at 10 s: probe = 10 s.
        check_node(&node, Some(Some(secs(10))), &mut health, GRACES, secs(10));
        assert_eq!(health.as_ref().map(|h| h.probe_timestamp), Some(secs(10)));
        // No renewal after: 10 + 50 = 60 s is still within grace (upstream: now after
        // probe + grace); 65 s is not.
        let c = check_node(&node, Some(Some(secs(10))), &mut health, GRACES, secs(60));
        assert!(c.update.is_none());
        let c = check_node(&node, Some(Some(secs(10))), &mut health, GRACES, secs(65));
        let updated = c.update.expect("the node goes Unknown");
        assert_eq!(c.observed.status, "True");
        let current = c.current.expect("a Ready condition");
        assert_eq!(current.status, "Unknown");
        assert_eq!(current.reason, "NodeStatusUnknown");
        assert_eq!(current.last_transition_time, secs(65));
        // All four kubelet conditions: the three pressures did not exist, so they are
        // added as never updated.
        let unknown: Vec<&str> = updated
            .status
            .conditions
            .iter()
            .filter(|c| c.status == "Unknown")
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(unknown, SILENCED_CONDITIONS);
        // Once Unknown, a later look writes nothing more.
        let c = check_node(
            &updated,
            Some(Some(secs(10))),
            &mut health,
            GRACES,
            secs(70),
        );
        assert!(c.update.is_none());
    }

    #[test]
    fn a_node_that_never_posted_gets_the_startup_grace() {
        let mut node = Node::default();
        node.metadata.creation_timestamp = secs(0);
        let mut health = None;
        // Probe from the creation: 60 s of grace.
        let c = check_node(&node, None, &mut health, GRACES, secs(60));
        assert!(c.update.is_none());
        assert!(c.current.is_none());
        let c = check_node(&node, None, &mut health, GRACES, secs(65));
        let current = c.current.expect("Ready added");
        assert_eq!(current.reason, "NodeStatusNeverUpdated");
        assert!(c.update.is_some());
    }
}
