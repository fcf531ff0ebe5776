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
///
/// A scrape reads the counter at the last housekeeping sample, up to one interval in the
/// past, while the usage may have changed since: the counter keeps the segments of the last
/// [`HOUSEKEEPING_INTERVAL`] (and the one running at its start), so a read that far back is
/// exact. Older segments are folded away as the usage changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuCounter {
    /// The segments in time order, the newest last; never empty.
    segments: Vec<Segment>,
}

/// From `since` on (until the next segment's start), `millicores`, having used `used` by then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    since: SimTime,
    used: u128,
    millicores: u64,
}

impl Segment {
    fn used_at(&self, t: SimTime) -> u128 {
        let elapsed = u128::from(t.saturating_since(self.since).as_nanos());
        // millicores × ns / 1,000 = core-ns.
        self.used + elapsed * u128::from(self.millicores) / 1000
    }
}

impl CpuCounter {
    /// A counter for a container started at `start`, using `millicores` from then.
    pub fn new(start: SimTime, millicores: u64) -> Self {
        CpuCounter {
            segments: vec![Segment {
                since: start,
                used: 0,
                millicores,
            }],
        }
    }

    fn newest(&self) -> Segment {
        // The constructor makes one segment and nothing removes the last.
        self.segments[self.segments.len() - 1]
    }

    /// The usage changes to `millicores` at `now` (not before the last change).
    pub fn set_usage(&mut self, now: SimTime, millicores: u64) {
        let newest = self.newest();
        if newest.millicores == millicores {
            return;
        }
        let now = now.max(newest.since);
        let segment = Segment {
            since: now,
            used: newest.used_at(now),
            millicores,
        };
        match self.segments.last_mut() {
            Some(last) if last.since == now => *last = segment,
            _ => self.segments.push(segment),
        }
        // Keep the segment running at `now - interval`: a read back to there stays exact.
        let horizon = now.saturating_sub(HOUSEKEEPING_INTERVAL);
        let keep_from = self
            .segments
            .partition_point(|s| s.since <= horizon)
            .saturating_sub(1);
        self.segments.drain(..keep_from);
    }

    /// Core-nanoseconds used up to `t`: exact from one housekeeping interval before the last
    /// change on; earlier reads the oldest kept segment's start, before the start nothing.
    pub fn used_at(&self, t: SimTime) -> u128 {
        let index = self.segments.partition_point(|s| s.since <= t);
        match index.checked_sub(1) {
            Some(i) => self.segments[i].used_at(t),
            None => self.segments[0].used,
        }
    }

    /// The usage now, in millicores.
    pub fn millicores(&self) -> u64 {
        self.newest().millicores
    }

    /// How many segments the counter keeps (its memory).
    pub fn segments_kept(&self) -> usize {
        self.segments.len()
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
    fn a_read_up_to_one_housekeeping_interval_back_is_exact() {
        // 100m from 0 s, 300m from 12 s, 600m from 16 s. At 14 s (before the last change):
        // 1.2 core-s + 2 s × 0.3 = 1.8 core-s.
        let mut c = CpuCounter::new(at(0), 100);
        c.set_usage(at(12), 300);
        c.set_usage(at(16), 600);
        assert_eq!(c.used_at(at(14)), 1_800_000_000);
        // At 20 s: 1.2 + 1.2 + 4 × 0.6 = 4.8 core-s.
        assert_eq!(c.used_at(at(20)), 4_800_000_000);
        // A change at 30 s folds away what ended before 20 s: the 16 s segment is the oldest
        // kept, as it runs at 20 s.
        c.set_usage(at(30), 0);
        assert_eq!(c.segments_kept(), 2);
        assert_eq!(c.used_at(at(25)), 7_800_000_000);
        // The same usage again is no change.
        c.set_usage(at(31), 0);
        assert_eq!(c.segments_kept(), 2);
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
