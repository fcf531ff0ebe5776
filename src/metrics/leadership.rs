//! What a component's leader election cost it: the time no instance of it led, from its
//! changes of leadership (the report's `stampede.leaderElection`).

use crate::client::lease_lock::LeadershipChange;
use crate::sim::{SimDuration, SimTime};

/// How long, from time 0 to `end`, the component had no leader: until its first acquisition,
/// from each loss to the next acquisition, and from the last loss to `end` if none followed.
pub fn time_without_leader(changes: &[LeadershipChange], end: SimTime) -> SimDuration {
    let mut without = SimDuration::ZERO;
    // When the current span without a leader began, if one is going on.
    let mut since = Some(SimTime::ZERO);
    for change in changes {
        match (change.acquired, since) {
            (true, Some(from)) => {
                without += change.at.min(end).saturating_since(from);
                since = None;
            }
            (false, None) => since = Some(change.at),
            // A repeated change changes nothing.
            _ => {}
        }
    }
    if let Some(from) = since {
        without += end.saturating_since(from);
    }
    without
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(seconds)
    }

    fn change(seconds: u64, acquired: bool) -> LeadershipChange {
        LeadershipChange {
            at: at(seconds),
            acquired,
        }
    }

    #[test]
    fn spans_without_a_leader_add_up_to_the_end() {
        // 0–1 s before the first acquisition, 70–90 s after a loss, 200–300 s at the end.
        let changes = [
            change(1, true),
            change(70, false),
            change(90, true),
            change(200, false),
        ];
        assert_eq!(
            time_without_leader(&changes, at(300)),
            SimDuration::from_secs(1 + 20 + 100)
        );
        // Never elected: the whole run.
        assert_eq!(time_without_leader(&[], at(30)), SimDuration::from_secs(30));
    }
}
