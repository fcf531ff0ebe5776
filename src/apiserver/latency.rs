//! How long the modelled apiserver takes to answer, as its `apiserver_request_duration_seconds`
//! histogram records it (from the request's arrival to its answer: the queue wait included),
//! and the API call latency SLOs of SIG Scalability it is judged by (k8s-reference §10):
//! p99 ≤ 1 s for a single object (GET, create, update, patch, delete), ≤ 5 s for a LIST of
//! one namespace, ≤ 30 s for a cluster-wide LIST. Watches are long-running and not measured.
//!
//! Quantiles are read from the buckets as Prometheus's `histogram_quantile` reads them: the
//! bucket the rank falls in, linearly interpolated between its bounds.

use crate::sim::SimDuration;

/// The upper bounds, in seconds, of `apiserver_request_duration_seconds`'s buckets.
pub const REQUEST_DURATION_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

/// What an API call latency SLO measures a request as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SloScope {
    /// One object: GET, create, update, patch, delete (SLO: p99 ≤ 1 s).
    Resource,
    /// A LIST of one namespace (SLO: p99 ≤ 5 s).
    Namespace,
    /// A LIST of the whole cluster (SLO: p99 ≤ 30 s).
    Cluster,
}

impl SloScope {
    /// Every scope, in order.
    pub const ALL: [SloScope; 3] = [SloScope::Resource, SloScope::Namespace, SloScope::Cluster];

    /// The `scope` label upstream's SLI uses.
    pub const fn name(self) -> &'static str {
        match self {
            SloScope::Resource => "resource",
            SloScope::Namespace => "namespace",
            SloScope::Cluster => "cluster",
        }
    }

    /// The p99 the SLO allows.
    pub const fn threshold(self) -> SimDuration {
        match self {
            SloScope::Resource => SimDuration::from_secs(1),
            SloScope::Namespace => SimDuration::from_secs(5),
            SloScope::Cluster => SimDuration::from_secs(30),
        }
    }
}

/// One histogram of request durations.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyHistogram {
    /// Observations per bucket; the last one is `+Inf`.
    counts: [u64; REQUEST_DURATION_BUCKETS.len() + 1],
    /// Sum of the observations.
    sum: SimDuration,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: [0; REQUEST_DURATION_BUCKETS.len() + 1],
            sum: SimDuration::ZERO,
        }
    }
}

impl LatencyHistogram {
    /// Records one request that took `took`.
    pub fn observe(&mut self, took: SimDuration) {
        let seconds = took.as_secs_f64();
        let bucket = REQUEST_DURATION_BUCKETS.partition_point(|&bound| bound < seconds);
        self.counts[bucket] += 1;
        self.sum = SimDuration::from_nanos(self.sum.as_nanos().saturating_add(took.as_nanos()));
    }

    /// Observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of the observations.
    pub fn sum(&self) -> SimDuration {
        self.sum
    }

    /// Cumulative counts at each upper bound (`le`), `+Inf` last, as Prometheus exposes them.
    pub fn cumulative(&self) -> impl Iterator<Item = (Option<f64>, u64)> + '_ {
        let mut total = 0;
        self.counts.iter().enumerate().map(move |(i, n)| {
            total += n;
            (REQUEST_DURATION_BUCKETS.get(i).copied(), total)
        })
    }

    /// The `q` quantile in seconds as `histogram_quantile` estimates it (`None` with no
    /// observation). A rank in the `+Inf` bucket answers the highest finite bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = q * count as f64;
        let mut below = 0u64;
        for (i, &n) in self.counts.iter().enumerate() {
            let upto = below + n;
            if upto as f64 >= rank && n > 0 {
                let Some(&upper) = REQUEST_DURATION_BUCKETS.get(i) else {
                    return REQUEST_DURATION_BUCKETS.last().copied();
                };
                let lower = if i == 0 {
                    0.0
                } else {
                    REQUEST_DURATION_BUCKETS[i - 1]
                };
                return Some(lower + (upper - lower) * (rank - below as f64) / n as f64);
            }
            below = upto;
        }
        REQUEST_DURATION_BUCKETS.last().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(m: u64) -> SimDuration {
        SimDuration::from_millis(m)
    }

    #[test]
    fn observations_land_in_the_bucket_whose_bound_holds_them() {
        let mut h = LatencyHistogram::default();
        // 5 ms is in the first bucket (le 0.005, bounds are inclusive); 6 ms in the second;
        // 61 s in +Inf.
        h.observe(ms(5));
        h.observe(ms(6));
        h.observe(SimDuration::from_secs(61));
        let cumulative: Vec<(Option<f64>, u64)> = h.cumulative().collect();
        assert_eq!(cumulative[0], (Some(0.005), 1));
        assert_eq!(cumulative[1], (Some(0.01), 2));
        assert_eq!(cumulative[39], (Some(60.0), 2));
        assert_eq!(cumulative[40], (None, 3));
        assert_eq!(h.count(), 3);
        assert_eq!(h.sum(), SimDuration::from_millis(61_011));
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket_as_histogram_quantile_does() {
        let mut h = LatencyHistogram::default();
        // 90 requests of 3 ms (bucket 0–5 ms), 10 of 120 ms (bucket 100–150 ms).
        for _ in 0..90 {
            h.observe(ms(3));
        }
        for _ in 0..10 {
            h.observe(ms(120));
        }
        // p50: rank 50 of 90 in [0, 0.005]: 0.005 × 50 / 90 = 0.0027…
        let p50 = h.quantile(0.5).unwrap_or(f64::NAN);
        assert!((p50 - 0.005 * 50.0 / 90.0).abs() < 1e-12, "{p50}");
        // p99: rank 99, 9 into the 10 of [0.1, 0.15]: 0.1 + 0.05 × 9 / 10 = 0.145.
        let p99 = h.quantile(0.99).unwrap_or(f64::NAN);
        assert!((p99 - 0.145).abs() < 1e-12, "{p99}");
        assert_eq!(LatencyHistogram::default().quantile(0.99), None);
    }

    #[test]
    fn each_scope_has_its_slo() {
        let thresholds: Vec<(&str, u64)> = SloScope::ALL
            .iter()
            .map(|s| (s.name(), s.threshold().as_secs_f64() as u64))
            .collect();
        assert_eq!(
            thresholds,
            [("resource", 1), ("namespace", 5), ("cluster", 30)]
        );
    }
}
