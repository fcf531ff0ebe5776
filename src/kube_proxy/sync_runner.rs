//! When a proxier syncs its rules (upstream `BoundedFrequencyRunner`,
//! `pkg/proxy/runner/bounded_frequency_runner.go`, as the iptables, ipvs and nftables
//! proxiers build it from `minSyncPeriod`, `syncPeriod` and the full-sync period).
//!
//! A change asks for a sync. With the runner idle the sync runs at once; within
//! `minSyncPeriod` of the end of the last one it waits until that period is over, and every
//! change asked for meanwhile is taken by that one sync. Without changes a sync still runs an
//! hour after the last (the full-sync period). A failed sync would be retried after
//! `syncPeriod`; kubesim's syncs do not fail, so that period never comes into play.

use crate::sim::{SimDuration, SimTime};

/// What to do about a request for a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Sync now.
    RunNow,
    /// Set a timer for `at` and sync then (the end of `minSyncPeriod`).
    WakeAt(SimTime),
    /// A sync is already waiting for the end of `minSyncPeriod`.
    Waiting,
}

/// One proxier's sync runner.
#[derive(Clone, Debug)]
pub struct SyncRunner {
    min_interval: SimDuration,
    max_interval: SimDuration,
    /// When the last sync ran (it takes no virtual time).
    last_run: Option<SimTime>,
    /// A sync waits for the end of `minSyncPeriod`.
    pending: bool,
    /// When the periodic sync is due.
    periodic_due: SimTime,
}

impl SyncRunner {
    /// A runner started at `now`: no sync before a change asks for one, the first periodic
    /// one `max_interval` later.
    pub fn new(min_interval: SimDuration, max_interval: SimDuration, now: SimTime) -> Self {
        // Upstream refuses (panics on) a maximum below the minimum; a `minSyncPeriod` above
        // the full-sync period stretches that period to it instead.
        SyncRunner {
            min_interval,
            max_interval: max_interval.max(min_interval),
            last_run: None,
            pending: false,
            periodic_due: now + max_interval.max(min_interval),
        }
    }

    /// When `minSyncPeriod` after the last sync ends, if it has not yet at `now`.
    fn cooldown_until(&self, now: SimTime) -> Option<SimTime> {
        let end = self.last_run? + self.min_interval;
        (end > now).then_some(end)
    }

    /// A change asks for a sync at `now` (upstream `Run`).
    pub fn request(&mut self, now: SimTime) -> Next {
        match self.cooldown_until(now) {
            None => Next::RunNow,
            Some(_) if self.pending => Next::Waiting,
            Some(end) => {
                self.pending = true;
                Next::WakeAt(end)
            }
        }
    }

    /// The sync ran at `now`.
    pub fn ran(&mut self, now: SimTime) {
        self.last_run = Some(now);
        self.pending = false;
        self.periodic_due = now + self.max_interval;
    }

    /// The timer set for the end of `minSyncPeriod` fired: whether the waiting sync runs now.
    pub fn cooldown_over(&mut self, now: SimTime) -> bool {
        self.pending && self.cooldown_until(now).is_none()
    }

    /// When the periodic sync is due.
    pub fn periodic_due(&self) -> SimTime {
        self.periodic_due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(n)
    }

    #[test]
    fn changes_within_min_sync_period_wait_for_one_sync() {
        let second = SimDuration::from_secs(1);
        let mut runner = SyncRunner::new(second, SimDuration::from_secs(3600), ms(0));
        assert_eq!(runner.periodic_due(), ms(3_600_000));
        // Idle: the first change syncs at once.
        assert_eq!(runner.request(ms(10_000)), Next::RunNow);
        runner.ran(ms(10_000));
        // Changes at +300 ms and +600 ms: the first waits for 11 s, the second joins it.
        assert_eq!(runner.request(ms(10_300)), Next::WakeAt(ms(11_000)));
        assert_eq!(runner.request(ms(10_600)), Next::Waiting);
        assert!(runner.cooldown_over(ms(11_000)));
        runner.ran(ms(11_000));
        // Nothing waits now: a stray timer does nothing; the periodic sync moved to 1 h on.
        assert!(!runner.cooldown_over(ms(12_000)));
        assert_eq!(runner.periodic_due(), ms(3_611_000));
        // After minSyncPeriod a change runs at once again.
        assert_eq!(runner.request(ms(12_000)), Next::RunNow);
        // With minSyncPeriod 0 every change syncs at once.
        let mut eager = SyncRunner::new(SimDuration::ZERO, second, ms(0));
        eager.ran(ms(5));
        assert_eq!(eager.request(ms(5)), Next::RunNow);
    }
}
