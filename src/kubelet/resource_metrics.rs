//! What the kubelet's resource metrics endpoint (`/metrics/resource`, from cAdvisor) says of a
//! container: its start time, and at the last housekeeping sample the cumulative CPU it used
//! (`container_cpu_usage_seconds_total`, here in core-nanoseconds) and its memory working set.
//!
//! A container's usage is piecewise constant: the load model sets it when the rate it serves
//! changes ([`CpuCounter::set_usage`]). cAdvisor samples every `housekeepingInterval` (10 s);
//! a scrape reads the last sample, not the present, which is one of the delays between load
//! and the HPA.

use crate::sim::{SimDuration, SimTime};

/// cAdvisor's housekeeping interval in the kubelet (`--housekeeping-interval`, 10 s).
pub const HOUSEKEEPING_INTERVAL: SimDuration = SimDuration::from_secs(10);

/// A container's cumulative CPU under a piecewise-constant usage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuCounter {
    /// Core-nanoseconds used up to `since`.
    used: u128,
    /// When the usage last changed.
    since: SimTime,
    /// The usage since then, in millicores.
    millicores: u64,
}

impl CpuCounter {
    /// A counter for a container started at `start`, using `millicores` from then.
    pub fn new(start: SimTime, millicores: u64) -> Self {
        CpuCounter {
            used: 0,
            since: start,
            millicores,
        }
    }

    /// The usage changes to `millicores` at `now` (not before the last change).
    pub fn set_usage(&mut self, now: SimTime, millicores: u64) {
        self.used = self.used_at(now);
        self.since = self.since.max(now);
        self.millicores = millicores;
    }

    /// Core-nanoseconds used up to `t` (`t` at or after the last change; earlier reads the
    /// total at the last change).
    pub fn used_at(&self, t: SimTime) -> u128 {
        let elapsed = u128::from(t.saturating_since(self.since).as_nanos());
        // millicores × ns / 1,000 = core-ns.
        self.used + elapsed * u128::from(self.millicores) / 1000
    }

    /// The usage now, in millicores.
    pub fn millicores(&self) -> u64 {
        self.millicores
    }
}

/// The last housekeeping sample at or before `now`, for a node whose cAdvisor samples at
/// `phase`, `phase + interval`, … (each node has its own phase).
pub fn last_sample(now: SimTime, phase: SimDuration, interval: SimDuration) -> Option<SimTime> {
    let (now, phase, interval) = (now.as_nanos(), phase.as_nanos(), interval.as_nanos().max(1));
    if now < phase {
        return None;
    }
    Some(SimTime::from_nanos(now - (now - phase) % interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SimTime {
        SimTime::from_nanos(secs * 1_000_000_000)
    }

    #[test]
    fn the_counter_integrates_a_piecewise_constant_usage() {
        // 250m from 10 s to 30 s (5 core-s), then 1,000m to 40 s (10 core-s): 15 core-s.
        let mut c = CpuCounter::new(at(10), 250);
        assert_eq!(c.used_at(at(30)), 5_000_000_000);
        c.set_usage(at(30), 1000);
        assert_eq!(c.used_at(at(40)), 15_000_000_000);
        assert_eq!(c.millicores(), 1000);
        // Before the container started nothing was used.
        assert_eq!(CpuCounter::new(at(10), 500).used_at(at(5)), 0);
    }

    #[test]
    fn a_scrape_reads_the_last_housekeeping_sample() {
        // Samples at 3 s, 13 s, 23 s, …: at 22.9 s the last is 13 s, at 23 s it is 23 s.
        let phase = SimDuration::from_secs(3);
        let sample = |t: SimTime| last_sample(t, phase, HOUSEKEEPING_INTERVAL);
        assert_eq!(sample(SimTime::from_nanos(22_900_000_000)), Some(at(13)));
        assert_eq!(sample(at(23)), Some(at(23)));
        assert_eq!(sample(at(2)), None);
    }
}
