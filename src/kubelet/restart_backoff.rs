//! The container restart back-off, as the kubelet keeps it (client-go `flowcontrol.Backoff`,
//! used by `kuberuntime`'s `doBackOff`): initial 10 s, doubled on every restart, capped at
//! 5 min (`MaxContainerBackOff`), forgotten once a container ran more than twice the cap
//! (10 min) between restarts.
//!
//! The check is made when the kubelet would restart an exited container, against the time
//! that container finished: within the back-off the container waits (`CrashLoopBackOff`) and
//! the pod is synced again when the back-off ends; otherwise the container restarts and the
//! back-off moves to its next step. The first restart of a container therefore happens at
//! once (there is no entry yet), and the waits after the next exits are 10, 20, 40, 80, 160,
//! 300, 300 s.

use crate::sim::{SimDuration, SimTime};

/// The initial back-off (`backOffPeriod` in kubelet.go).
pub const INITIAL_BACKOFF: SimDuration = SimDuration::from_secs(10);
/// The cap (`MaxContainerBackOff`).
pub const MAX_BACKOFF: SimDuration = SimDuration::from_secs(300);

/// One container's back-off entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    entry: Option<Entry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    backoff: SimDuration,
    last_update: SimTime,
}

impl Backoff {
    /// When a container that finished at `finished_at` may restart, asked at `now`: `None` if
    /// it may restart now (and the back-off moves on: `Backoff.Next`), else the time its
    /// back-off ends (`IsInBackOffSince`).
    pub fn restart_at(&mut self, finished_at: SimTime, now: SimTime) -> Option<SimTime> {
        if let Some(entry) = self.entry
            && !expired(finished_at, entry.last_update)
            && now.saturating_since(finished_at) < entry.backoff
        {
            return Some(finished_at + entry.backoff);
        }
        self.next(finished_at, now);
        None
    }

    /// `Backoff.Next`: a fresh entry when there is none or it expired, else the doubled one.
    fn next(&mut self, event_time: SimTime, now: SimTime) {
        let backoff = match self.entry {
            Some(entry) if !expired(event_time, entry.last_update) => {
                SimDuration::from_nanos(entry.backoff.as_nanos().saturating_mul(2)).min(MAX_BACKOFF)
            }
            _ => INITIAL_BACKOFF,
        };
        self.entry = Some(Entry {
            backoff,
            last_update: now,
        });
    }

    /// The current back-off (zero before the first restart).
    pub fn current(&self) -> SimDuration {
        self.entry.map_or(SimDuration::ZERO, |e| e.backoff)
    }
}

/// `hasExpired`: the container stayed up more than twice the cap since the last restart.
fn expired(event_time: SimTime, last_update: SimTime) -> bool {
    event_time.saturating_since(last_update) > SimDuration::from_nanos(MAX_BACKOFF.as_nanos() * 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    #[test]
    fn waits_double_to_the_cap() {
        // A container that exits the instant it starts (and restarts the instant it may).
        // Exit at 0: no entry → restart now, entry 10 s. Exit again at 0 → wait until 10.
        // Restart at 10 (entry 20 s); exit at 10 → wait until 30; and so on: waits 10, 20, 40,
        // 80, 160, then 300 (320 capped), 300.
        let mut b = Backoff::default();
        assert_eq!(b.restart_at(at(0), at(0)), None);
        let mut t = 0;
        let mut waits = Vec::new();
        for _ in 0..7 {
            let until = b.restart_at(at(t), at(t)).expect("in back-off");
            let wait = (until - at(t)).as_nanos() / 1_000_000_000;
            waits.push(wait);
            t += wait;
            assert_eq!(b.restart_at(at(t - wait), at(t)), None);
        }
        assert_eq!(waits, vec![10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn ten_minutes_up_forgets_the_back_off() {
        let mut b = Backoff::default();
        assert_eq!(b.restart_at(at(0), at(0)), None);
        assert_eq!(b.restart_at(at(1), at(1)), Some(at(11)));
        assert_eq!(b.restart_at(at(1), at(11)), None); // restarted at 11, entry 20 s
        // Up from 11 to 612: 601 s > 600 s since the last restart, so it restarts at once
        // with a fresh 10 s entry.
        assert_eq!(b.restart_at(at(612), at(612)), None);
        assert_eq!(b.current(), INITIAL_BACKOFF);
        // Up from 612 to 1212 exactly: 600 s is not more than 600 s, so the entry holds.
        assert_eq!(b.restart_at(at(1212), at(1212)), Some(at(1222)));
    }
}
