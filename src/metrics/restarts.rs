//! What each apiserver restart cost, read from the samples around it: how long until the
//! clients had recovered, how many relists and 429s it caused, how many informers were not
//! following changes at the worst moment.
//!
//! A restart has **recovered** at the first sample, at or after the new process started, where
//! every informer follows changes again (a watch open, or re-opening after a clean end) and the
//! 429s answered since the sample before are no more than the run's rate before the restart
//! would give over that interval. It is known to the sample (`report.sampleEvery`).

use super::{ClientsSample, Sample};
use crate::apiserver::restart::RestartRecord;
use crate::sim::SimTime;

/// One restart and what followed it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RestartOutcome {
    /// When it went down, came up, and its watch caches were ready.
    pub record: RestartRecord,
    /// The first sample where the clients had recovered (`None`: not by the next restart or
    /// the end of the run).
    pub recovered_at: Option<SimTime>,
    /// LISTs the informers sent from the restart to the next one (or the end).
    pub relists: u64,
    /// Requests answered 429 over the same span.
    pub too_many_requests: u64,
    /// The most informers not following changes at one sample.
    pub informers_not_following_peak: u64,
}

/// The outcome of every restart in `history`, from `samples` (in time order).
pub fn restart_outcomes(samples: &[Sample], history: &[RestartRecord]) -> Vec<RestartOutcome> {
    let sampled: Vec<(SimTime, ClientsSample)> = samples
        .iter()
        .filter_map(|s| Some((s.at, s.clients?)))
        .collect();
    history
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let until = history.get(i + 1).map(|next| next.down_at);
            outcome(&sampled, *record, until)
        })
        .collect()
}

/// The outcome of `record`, from the samples up to `until` (the next restart, if any).
fn outcome(
    sampled: &[(SimTime, ClientsSample)],
    record: RestartRecord,
    until: Option<SimTime>,
) -> RestartOutcome {
    let before: Vec<&(SimTime, ClientsSample)> = sampled
        .iter()
        .filter(|(at, _)| *at < record.down_at)
        .collect();
    let after: Vec<&(SimTime, ClientsSample)> = sampled
        .iter()
        .filter(|(at, _)| *at >= record.down_at && until.is_none_or(|u| *at < u))
        .collect();
    let baseline = before.last().map(|(_, s)| *s).unwrap_or_default();
    // 429s per second before the restart.
    let baseline_rate = match (before.first(), before.last()) {
        (Some((first, f)), Some((last, l))) if last > first => {
            (l.too_many_requests - f.too_many_requests) as f64
                / last.saturating_since(*first).as_secs_f64()
        }
        _ => 0.0,
    };
    let mut recovered_at = None;
    let mut previous = before.last().copied();
    for sample in &after {
        let (at, s) = sample;
        let quiet = previous.is_none_or(|(prev_at, prev)| {
            let interval = at.saturating_since(*prev_at).as_secs_f64();
            (s.too_many_requests - prev.too_many_requests) as f64 <= baseline_rate * interval
        });
        if *at >= record.up_at && s.informers.following == s.informers.informers && quiet {
            recovered_at = Some(*at);
            break;
        }
        previous = Some(sample);
    }
    let end = after.last().map(|(_, s)| *s).unwrap_or(baseline);
    RestartOutcome {
        record,
        recovered_at,
        // A streaming list that filled a cache is that informer's relist as much as a LIST.
        relists: (end.informers.lists + end.informers.stream_lists)
            - (baseline.informers.lists + baseline.informers.stream_lists),
        too_many_requests: end.too_many_requests - baseline.too_many_requests,
        informers_not_following_peak: after
            .iter()
            .map(|(_, s)| s.informers.informers - s.informers.following)
            .max()
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::informer::InformerHealth;
    use crate::sim::SimDuration;

    fn t(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    fn sample(at: u64, following: u64, lists: u64, too_many: u64) -> Sample {
        Sample {
            at: t(at),
            clients: Some(ClientsSample {
                apiserver_up: true,
                too_many_requests: too_many,
                informers: InformerHealth {
                    informers: 10,
                    following,
                    lists,
                    ..InformerHealth::default()
                },
                ..ClientsSample::default()
            }),
            ..Sample::default()
        }
    }

    #[test]
    fn recovery_waits_for_every_informer_and_for_429s_back_to_their_rate() {
        // Before: 2 429s in 20 s (0.1/s). Down at 25 s, up at 35 s.
        // At 40 s 6 of 10 informers follow; at 50 s all do but 5 429s came in 10 s (over the
        // 1 allowed by 0.1/s × 10 s); at 60 s all follow and 1 429 came: recovered at 60 s.
        let samples = [
            sample(0, 10, 10, 0),
            sample(20, 10, 10, 2),
            sample(30, 0, 10, 2),
            sample(40, 6, 14, 4),
            sample(50, 10, 20, 9),
            sample(60, 10, 20, 10),
        ];
        let record = RestartRecord {
            down_at: t(25),
            up_at: t(35),
            caches_ready_at: t(36),
        };
        let outcomes = restart_outcomes(&samples, &[record]);
        assert_eq!(
            outcomes,
            [RestartOutcome {
                record,
                recovered_at: Some(t(60)),
                // 20 lists at the end against 10 before; 10 429s against 2.
                relists: 10,
                too_many_requests: 8,
                // 10 at 30 s, when none followed.
                informers_not_following_peak: 10,
            }]
        );
    }

    #[test]
    fn a_restart_never_recovered_from_says_so() {
        let samples = [sample(0, 10, 10, 0), sample(30, 3, 12, 0)];
        let record = RestartRecord {
            down_at: t(10),
            up_at: t(20),
            caches_ready_at: t(20),
        };
        assert_eq!(restart_outcomes(&samples, &[record])[0].recovered_at, None);
    }
}
