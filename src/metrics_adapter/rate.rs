//! PromQL's `rate(counter[range])` at one instant (Prometheus `promql/functions.go`,
//! `extrapolatedRate` with `isCounter` and `isRate`): the increase between the first and the
//! last sample in the range, corrected for counter resets, extrapolated towards the range's
//! edges, per second of the range.
//!
//! The extrapolation, as Prometheus 3 does it: a gap between the range's start (end) and the
//! first (last) sample is covered when it is shorter than 1.1 × the average spacing of the
//! samples, else only half a spacing is; towards the start it also stops where the counter
//! would reach zero, since a counter is never negative. With samples every interval over a
//! range of whole intervals, the result is the slope between the first and last sample.

use crate::sim::SimTime;

/// One scraped value of a counter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CounterSample {
    /// When it was scraped.
    pub at: SimTime,
    /// The counter's value.
    pub value: f64,
}

/// `rate()` over `samples` (in time order, already selected for the range) for the range
/// `(end − range, end]` of `range_secs` seconds; None with fewer than two samples, as
/// Prometheus gives no result.
pub fn extrapolated_rate(samples: &[CounterSample], end: SimTime, range_secs: f64) -> Option<f64> {
    let (first, last) = match samples {
        [first, .., last] => (first, last),
        _ => return None,
    };
    // A value lower than the one before is a reset: the counter counted the one before too.
    let resets: f64 = samples
        .windows(2)
        .filter(|pair| pair[1].value < pair[0].value)
        .map(|pair| pair[0].value)
        .sum();
    let delta = last.value - first.value + resets;
    let sampled = secs_between(first.at, last.at);
    if sampled <= 0.0 || range_secs <= 0.0 {
        return None;
    }
    let average_spacing = sampled / (samples.len() - 1) as f64;
    let threshold = average_spacing * 1.1;
    let start_secs = end.as_secs_f64() - range_secs;
    let mut to_start = first.at.as_secs_f64() - start_secs;
    let mut to_end = secs_between(last.at, end);
    if to_start >= threshold {
        to_start = average_spacing / 2.0;
    }
    if delta > 0.0 && first.value >= 0.0 {
        // Not past the instant the counter would have been zero.
        to_start = to_start.min(sampled * (first.value / delta));
    }
    if to_end >= threshold {
        to_end = average_spacing / 2.0;
    }
    let factor = (sampled + to_start + to_end) / sampled / range_secs;
    Some(delta * factor)
}

fn secs_between(from: SimTime, to: SimTime) -> f64 {
    to.saturating_since(from).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SimTime {
        SimTime::from_nanos(secs * 1_000_000_000)
    }

    fn samples(points: &[(u64, f64)]) -> Vec<CounterSample> {
        points
            .iter()
            .map(|&(secs, value)| CounterSample {
                at: at(secs),
                value,
            })
            .collect()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn samples_spanning_the_range_give_the_slope() {
        // 10 rps from a counter at 1,000 at 30 s, scraped every 30 s; rate at 300 s over
        // 5m: samples at 30 … 300 s (0 s is outside the left-open range), 9 spacings of 30 s,
        // sampled 270 s, increase 2,700. To the start: 30 s < 33 s ⇒ covered; the zero point
        // is 270 × 1,000 / 2,700 = 100 s away, farther. To the end: 0. Factor (270 + 30) /
        // 270 / 300; 2,700 × 300 / 270 / 300 = 10.
        let points: Vec<(u64, f64)> = (1..=10)
            .map(|k| (30 * k, 1000.0 + 300.0 * (k - 1) as f64))
            .collect();
        let rate = extrapolated_rate(&samples(&points), at(300), 300.0);
        close(rate.expect("two samples or more"), 10.0);
    }

    #[test]
    fn a_new_series_is_extrapolated_no_further_than_its_zero() {
        // A pod started at 100 s serving 5 rps, scraped at 120, 150, 180 s: 100, 250, 400.
        // Rate at 180 s over 5m: sampled 60 s, increase 300, spacing 30 s. To the start:
        // 120 − (180 − 300) = 240 s ≥ 33 s ⇒ 15 s; the zero point is 60 × 100 / 300 = 20 s
        // away, farther. To the end: 0. (60 + 15) / 60 × 300 / 300 = 1.25 requests per
        // second: a new series reads low until the range is full of samples.
        let rate = extrapolated_rate(
            &samples(&[(120, 100.0), (150, 250.0), (180, 400.0)]),
            at(180),
            300.0,
        );
        close(rate.expect("three samples"), 1.25);
        // Here the zero point is nearer: from 10 at 120 s, 5 rps. To the start 15 s, zero
        // 60 × 10 / 300 = 2 s ⇒ 2 s. (60 + 2) / 60 × 300 / 300 = 1.0333…
        let rate = extrapolated_rate(
            &samples(&[(120, 10.0), (150, 160.0), (180, 310.0)]),
            at(180),
            300.0,
        );
        close(rate.expect("three samples"), 310.0 / 300.0);
    }

    #[test]
    fn a_reset_counts_what_came_before_it_and_one_sample_is_no_rate() {
        // 100, 400, then a reset to 50 (the counter restarted and counted 50), then 350:
        // increase 350 − 100 + 400 = 650 over 90 s sampled, 30 s apart. To the start: 30 s
        // (< 33 s), but the zero point is 90 × 100 / 650 = 13.85 s away, so 13.85 s. To the
        // end: 0. 650 × (90 + 9,000 / 650) / 90 / 120 = (58,500 + 9,000) / 10,800 = 6.25.
        let rate = extrapolated_rate(
            &samples(&[(30, 100.0), (60, 400.0), (90, 50.0), (120, 350.0)]),
            at(120),
            120.0,
        );
        close(rate.expect("four samples"), 6.25);
        assert_eq!(
            extrapolated_rate(&samples(&[(30, 100.0)]), at(60), 60.0),
            None
        );
    }

    #[test]
    fn a_last_sample_older_than_the_spacing_extrapolates_half_a_spacing() {
        // Samples at 0 … 60 s every 30 s (0, 300, 600), evaluated at 150 s over 150 s: to the
        // start 0 s; to the end 90 s ≥ 33 s ⇒ 15 s. (60 + 0 + 15) / 60 × 600 / 150 = 5.
        let rate = extrapolated_rate(
            &samples(&[(0, 0.0), (30, 300.0), (60, 600.0)]),
            at(150),
            150.0,
        );
        close(rate.expect("three samples"), 5.0);
    }
}
