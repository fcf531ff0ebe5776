//! `apiserverRestart` and `apiserverRollingRestart`: kube-apiserver processes stop and,
//! `downtime` later, new ones start — an upgrade, a crash, an OOM kill. What clients see
//! (every watch of the replica broken, requests refused or reset, 429s until the new
//! process's watch caches are filled, then 410s for watches from before the restart) is the
//! apiserver's own (`apiserver/restart.rs`); where they reconnect is the load balancer's
//! (`apiserver/load_balancer.rs`); how they come back is their reflectors'
//! (`client/reflector.rs`). Only a modelled apiserver (`spec.apiserver.flowControl` other
//! than `ideal`) restarts: the ideal one has no process.
//!
//! * `apiserverRestart` restarts one replica (`replica: i`) or, without `replica`, every
//!   replica at the same instant: a whole control plane going down together (a single
//!   apiserver's restart, or an HA control plane's upgrade that does not roll). Clients then
//!   find no replica up and are refused until the replicas come back, all at once.
//! * `apiserverRollingRestart` is a rolling update with `maxUnavailable: 1`, as kubeadm
//!   upgrades the static pods of one control-plane node after another or a Deployment of
//!   apiservers rolls: replica 0 goes down, comes up `downtime` later, and `interval` after
//!   that (a `minReadySeconds`-like pause; 0: at once) replica 1 goes down, and so on. Replica
//!   `i` is thus down over `[i × (downtime + interval), i × (downtime + interval) +
//!   downtime)` from the fault's time. "Up again" is the new process listening, not its
//!   caches ready: kube-apiserver's `/readyz` does not wait for the watch caches.

use super::FaultStep;
use crate::sim::SimDuration;

/// The steps of a restart of `replica` (every replica: `None`) with `downtime` between the
/// old process going down and the new one starting.
pub fn steps(downtime: SimDuration, replica: Option<u32>) -> Vec<(SimDuration, FaultStep)> {
    vec![
        (SimDuration::ZERO, FaultStep::ApiserverDown(replica)),
        (downtime, FaultStep::ApiserverUp(replica)),
    ]
}

/// The steps of a rolling restart of `replicas` replicas: each down for `downtime`, the next
/// going down `interval` after the previous is up.
pub fn rolling_steps(
    replicas: u32,
    downtime: SimDuration,
    interval: SimDuration,
) -> Vec<(SimDuration, FaultStep)> {
    let period = downtime + interval;
    (0..replicas)
        .flat_map(|r| {
            let down = period.saturating_mul(u64::from(r));
            [
                (down, FaultStep::ApiserverDown(Some(r))),
                (down + downtime, FaultStep::ApiserverUp(Some(r))),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_goes_down_then_comes_up_after_the_downtime() {
        let thirty = SimDuration::from_secs(30);
        assert_eq!(
            steps(thirty, None),
            vec![
                (SimDuration::ZERO, FaultStep::ApiserverDown(None)),
                (thirty, FaultStep::ApiserverUp(None)),
            ]
        );
    }

    #[test]
    fn a_rolling_restart_takes_one_replica_down_at_a_time() {
        // 3 replicas, 20 s down, 10 s between: 0 is down over [0, 20), 1 over [30, 50), 2 over
        // [60, 80).
        let s = SimDuration::from_secs;
        assert_eq!(
            rolling_steps(3, s(20), s(10)),
            vec![
                (s(0), FaultStep::ApiserverDown(Some(0))),
                (s(20), FaultStep::ApiserverUp(Some(0))),
                (s(30), FaultStep::ApiserverDown(Some(1))),
                (s(50), FaultStep::ApiserverUp(Some(1))),
                (s(60), FaultStep::ApiserverDown(Some(2))),
                (s(80), FaultStep::ApiserverUp(Some(2))),
            ]
        );
    }
}
