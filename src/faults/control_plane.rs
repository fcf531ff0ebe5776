//! Faults of the control plane's own machinery, short of a restart (`apiserver_restart.rs`):
//!
//! * `breakWatches` — a network blip between the apiserver and its clients: every watch's
//!   stream ends at once, nothing else is lost. Each informer watches again at once from the
//!   last version it saw; the apiserver's caches are warm, so none needs to relist (unless its
//!   version has left the retained history, then 410 and a relist).
//! * `etcdSlowdown` — etcd's own work (fsync, peer round trips, range reads) takes `percent` %
//!   of its normal time, for a while: a slow disk, a noisy neighbour. Writes and GETs slow
//!   down and hold their seats longer; flow control's queues fill.
//! * `etcdLeaderElection` — the etcd leader is lost: no write commits and no linearizable read
//!   is served until a new leader is elected, after the election timeout (1 s) plus a random
//!   number of heartbeat ticks (100 ms each, drawn from `faults/etcd-leader-election`) and a
//!   vote round.
//!
//! The etcd faults need a modelled apiserver (`spec.apiserver.flowControl` other than
//! `ideal`): the ideal one has no etcd model.

use super::FaultStep;
use crate::sim::SimDuration;

/// The steps of a slowdown to `percent` % for `lasting` (forever if `None`).
pub fn etcd_slowdown_steps(
    percent: u32,
    lasting: Option<SimDuration>,
) -> Vec<(SimDuration, FaultStep)> {
    let mut steps = vec![(SimDuration::ZERO, FaultStep::EtcdSlowdown(percent))];
    if let Some(lasting) = lasting {
        steps.push((lasting, FaultStep::EtcdSlowdown(100)));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slowdown_ends_at_normal_speed_after_its_time() {
        let minute = SimDuration::from_mins(1);
        assert_eq!(
            etcd_slowdown_steps(400, Some(minute)),
            vec![
                (SimDuration::ZERO, FaultStep::EtcdSlowdown(400)),
                (minute, FaultStep::EtcdSlowdown(100)),
            ]
        );
        assert_eq!(
            etcd_slowdown_steps(250, None),
            vec![(SimDuration::ZERO, FaultStep::EtcdSlowdown(250))]
        );
    }
}
