//! What flow control counts, under the Prometheus names kube-apiserver exports, for the metrics
//! layer to sample (`apiserver_flowcontrol_*` per priority level; the max-in-flight and dynamic
//! modes fill the same record per request kind or client level).

use std::collections::BTreeMap;

use super::RejectReason;
use crate::sim::SimDuration;

/// Upper bounds (seconds) of `apiserver_flowcontrol_request_wait_duration_seconds` buckets.
pub const WAIT_BUCKETS_SECS: [f64; 13] = [
    0.0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0,
];
/// The same bounds in nanoseconds.
const WAIT_BUCKETS_NANOS: [u64; 13] = [
    0,
    5_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
    15_000_000_000,
    30_000_000_000,
];

/// A latency histogram with upstream's buckets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WaitHistogram {
    /// Observations per bucket (not cumulative); the last slot counts those above 30 s.
    pub buckets: [u64; 14],
    /// Number of observations.
    pub count: u64,
    /// Sum of observations in nanoseconds.
    pub sum_nanos: u128,
}

impl WaitHistogram {
    /// Records one wait.
    pub fn observe(&mut self, wait: SimDuration) {
        let n = wait.as_nanos();
        let i = WAIT_BUCKETS_NANOS
            .iter()
            .position(|&b| n <= b)
            .unwrap_or(WAIT_BUCKETS_NANOS.len());
        self.buckets[i] += 1;
        self.count += 1;
        self.sum_nanos += u128::from(n);
    }
}

/// `apiserver_flowcontrol_rejected_requests_total` by `reason`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejections {
    /// `queue-full`.
    pub queue_full: u64,
    /// `concurrency-limit`.
    pub concurrency_limit: u64,
    /// `time-out`.
    pub time_out: u64,
    /// `throttled` (dynamic mode: the client's level was below its token reserve).
    pub throttled: u64,
}

impl Rejections {
    /// Counts one.
    pub fn count(&mut self, reason: RejectReason) {
        match reason {
            RejectReason::QueueFull => self.queue_full += 1,
            RejectReason::ConcurrencyLimit => self.concurrency_limit += 1,
            RejectReason::TimeOut => self.time_out += 1,
            RejectReason::Throttled => self.throttled += 1,
        }
    }

    /// The total over reasons.
    pub fn total(&self) -> u64 {
        self.queue_full + self.concurrency_limit + self.time_out + self.throttled
    }
}

/// One priority level's (or request kind's, or client level's) metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LevelMetrics {
    /// The `priority_level` label.
    pub name: String,
    /// `apiserver_flowcontrol_nominal_limit_seats`.
    pub nominal_limit_seats: u64,
    /// `apiserver_flowcontrol_lower_limit_seats`.
    pub lower_limit_seats: u64,
    /// `apiserver_flowcontrol_upper_limit_seats`.
    pub upper_limit_seats: u64,
    /// `apiserver_flowcontrol_current_limit_seats`.
    pub current_limit_seats: u64,
    /// `apiserver_flowcontrol_current_inqueue_requests`.
    pub current_inqueue_requests: u64,
    /// `apiserver_flowcontrol_current_inqueue_seats`.
    pub current_inqueue_seats: u64,
    /// `apiserver_flowcontrol_current_executing_requests`.
    pub current_executing_requests: u64,
    /// `apiserver_flowcontrol_current_executing_seats` (final seats included).
    pub current_executing_seats: u64,
    /// `apiserver_flowcontrol_dispatched_requests_total`.
    pub dispatched_requests_total: u64,
    /// `apiserver_flowcontrol_rejected_requests_total`.
    pub rejected_requests_total: Rejections,
    /// `apiserver_flowcontrol_request_wait_duration_seconds`.
    pub request_wait_duration_seconds: WaitHistogram,
    /// `apiserver_flowcontrol_demand_seats_high_watermark` (last borrowing period).
    pub demand_seats_high_watermark: u64,
    /// `apiserver_flowcontrol_demand_seats_average`.
    pub demand_seats_average: f64,
    /// `apiserver_flowcontrol_demand_seats_stdev`.
    pub demand_seats_stdev: f64,
    /// `apiserver_flowcontrol_demand_seats_smoothed`.
    pub demand_seats_smoothed: f64,
    /// `apiserver_flowcontrol_target_seats`.
    pub target_seats: f64,
    /// Retry-After values sent with this level's 429s: seconds → count.
    pub retry_after_seconds: BTreeMap<u64, u64>,
}

impl LevelMetrics {
    /// A record for the level `name`.
    pub fn named(name: &str) -> Self {
        LevelMetrics {
            name: name.to_string(),
            ..LevelMetrics::default()
        }
    }

    /// The scalar metrics as (Prometheus name, value), in a fixed order, for samplers.
    pub fn gauges(&self) -> [(&'static str, f64); 15] {
        [
            (
                "apiserver_flowcontrol_nominal_limit_seats",
                self.nominal_limit_seats as f64,
            ),
            (
                "apiserver_flowcontrol_lower_limit_seats",
                self.lower_limit_seats as f64,
            ),
            (
                "apiserver_flowcontrol_upper_limit_seats",
                self.upper_limit_seats as f64,
            ),
            (
                "apiserver_flowcontrol_current_limit_seats",
                self.current_limit_seats as f64,
            ),
            (
                "apiserver_flowcontrol_current_inqueue_requests",
                self.current_inqueue_requests as f64,
            ),
            (
                "apiserver_flowcontrol_current_inqueue_seats",
                self.current_inqueue_seats as f64,
            ),
            (
                "apiserver_flowcontrol_current_executing_requests",
                self.current_executing_requests as f64,
            ),
            (
                "apiserver_flowcontrol_current_executing_seats",
                self.current_executing_seats as f64,
            ),
            (
                "apiserver_flowcontrol_dispatched_requests_total",
                self.dispatched_requests_total as f64,
            ),
            (
                "apiserver_flowcontrol_rejected_requests_total",
                self.rejected_requests_total.total() as f64,
            ),
            (
                "apiserver_flowcontrol_demand_seats_high_watermark",
                self.demand_seats_high_watermark as f64,
            ),
            (
                "apiserver_flowcontrol_demand_seats_average",
                self.demand_seats_average,
            ),
            (
                "apiserver_flowcontrol_demand_seats_stdev",
                self.demand_seats_stdev,
            ),
            (
                "apiserver_flowcontrol_demand_seats_smoothed",
                self.demand_seats_smoothed,
            ),
            ("apiserver_flowcontrol_target_seats", self.target_seats),
        ]
    }

    /// Counts a rejection sent with `retry_after_secs`.
    pub fn reject(&mut self, reason: RejectReason, retry_after_secs: u64) {
        self.rejected_requests_total.count(reason);
        *self
            .retry_after_seconds
            .entry(retry_after_secs)
            .or_insert(0) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_fall_in_upstream_buckets() {
        let mut h = WaitHistogram::default();
        h.observe(SimDuration::ZERO);
        h.observe(SimDuration::from_millis(5));
        h.observe(SimDuration::from_millis(6));
        h.observe(SimDuration::from_secs(15));
        h.observe(SimDuration::from_secs(31));
        // 0 → "≤ 0"; 5 ms → "≤ 0.005"; 6 ms → "≤ 0.02"; 15 s → "≤ 15"; 31 s → "+Inf".
        assert_eq!(h.buckets[0], 1);
        assert_eq!(h.buckets[1], 1);
        assert_eq!(h.buckets[2], 1);
        assert_eq!(h.buckets[11], 1);
        assert_eq!(h.buckets[13], 1);
        assert_eq!(h.count, 5);
    }
}
