//! `apiserverRestart`: the kube-apiserver process stops and, `downtime` later, a new one
//! starts — an upgrade, a crash, an OOM kill. What clients see (every watch broken, requests
//! refused or reset, 429s until the new process's watch caches are filled, then 410s for
//! watches from before the restart) is the apiserver's own (`apiserver/restart.rs`); how they
//! come back is their reflectors' (`client/reflector.rs`). Only a modelled apiserver
//! (`spec.apiserver.flowControl` other than `ideal`) restarts: the ideal one has no process.

use super::FaultStep;
use crate::sim::SimDuration;

/// The steps of a restart with `downtime` between the old process going down and the new one
/// starting.
pub fn steps(downtime: SimDuration) -> Vec<(SimDuration, FaultStep)> {
    vec![
        (SimDuration::ZERO, FaultStep::ApiserverDown),
        (downtime, FaultStep::ApiserverUp),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_goes_down_then_comes_up_after_the_downtime() {
        let thirty = SimDuration::from_secs(30);
        assert_eq!(
            steps(thirty),
            vec![
                (SimDuration::ZERO, FaultStep::ApiserverDown),
                (thirty, FaultStep::ApiserverUp),
            ]
        );
    }
}
