//! The Retry-After a priority level sends with its 429s (upstream
//! `dropped_requests_tracker.go`, since v1.28; before, APF sent a constant 1 s like
//! max-in-flight).
//!
//! Each level counts its dropped requests (rejected or timed out in the queue) per whole
//! second. Its Retry-After starts at 1 s and is reconsidered only when a drop is the first of
//! a new second, from the drops of the last `retryAfter` seconds before it:
//! * at least 3 × retryAfter drops, and at least retryAfter seconds since the last raise:
//!   doubled (capped at 32 s), in the manner of TCP's multiplicative backoff;
//! * fewer than retryAfter drops: lowered by 1 s (linear decrease).
//!
//! The drop that triggers the update is counted first, so it already carries the new value.

use std::collections::VecDeque;

use crate::sim::SimTime;

/// The largest Retry-After, in seconds.
pub const MAX_RETRY_AFTER_SECS: u64 = 32;

/// One level's drop history and current Retry-After.
#[derive(Clone, Debug)]
pub struct DroppedRequests {
    /// Completed seconds with their drop counts, oldest first.
    history: VecDeque<(u64, u64)>,
    /// The second being counted, and its count so far.
    current: (u64, u64),
    retry_after: u64,
    /// The second of the last raise; none yet means a raise may come at any time.
    raised_at: Option<u64>,
}

impl Default for DroppedRequests {
    fn default() -> Self {
        DroppedRequests {
            history: VecDeque::new(),
            current: (0, 0),
            retry_after: 1,
            raised_at: None,
        }
    }
}

impl DroppedRequests {
    /// Counts a drop at `now` and returns the Retry-After (seconds) to send with it.
    pub fn record(&mut self, now: SimTime) -> u64 {
        let second = now.as_nanos() / 1_000_000_000;
        if second == self.current.0 {
            self.current.1 += 1;
            return self.retry_after;
        }
        let (done_second, done_count) = self.current;
        if done_count > 0 {
            self.history.push_back((done_second, done_count));
        }
        // Seconds older than 2 × retryAfter (at most 32) can no longer fall in a window.
        let keep = (2 * self.retry_after).min(MAX_RETRY_AFTER_SECS);
        while self
            .history
            .front()
            .is_some_and(|&(s, _)| second.saturating_sub(s) > keep)
        {
            self.history.pop_front();
        }
        self.current = (second, 1);
        self.update(second);
        self.retry_after
    }

    /// The Retry-After now (seconds).
    pub fn retry_after(&self) -> u64 {
        self.retry_after
    }

    fn update(&mut self, second: u64) {
        let ra = self.retry_after;
        // Drops in [second − ra, second).
        let dropped: u64 = self
            .history
            .iter()
            .rev()
            .take_while(|&&(s, _)| second - s <= ra)
            .filter(|&&(s, _)| s < second)
            .map(|&(_, n)| n)
            .sum();
        let may_raise = self.raised_at.is_none_or(|t| second - t >= ra);
        if may_raise && dropped >= 3 * ra {
            self.retry_after = (ra * 2).min(MAX_RETRY_AFTER_SECS);
            self.raised_at = Some(second);
        } else if dropped < ra && ra > 1 {
            self.retry_after = ra - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimDuration;

    fn at(secs: u64, millis: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs) + SimDuration::from_millis(millis)
    }

    #[test]
    fn doubles_under_drops_and_decays_by_one() {
        let mut d = DroppedRequests::default();
        // Second 10: 5 drops, all answered with the starting 1 s.
        for ms in 0..5 {
            assert_eq!(d.record(at(10, ms * 100)), 1);
        }
        // Second 11, first drop: window [10, 11) holds 5 ≥ 3 × 1 and nothing was raised
        // yet → 2 s. Four more drops this second (5 in all) keep 2.
        assert_eq!(d.record(at(11, 0)), 2);
        for ms in 1..5 {
            assert_eq!(d.record(at(11, ms * 100)), 2);
        }
        // Second 12: window [10, 12) holds 10 ≥ 6, but the raise was 1 s ago (< 2) → stays 2.
        for ms in 0..6 {
            assert_eq!(d.record(at(12, ms * 100)), 2);
        }
        // Second 13: window [11, 13) holds 5 + 6 = 11 ≥ 6 and 13 − 11 = 2 ≥ 2 → 4 s.
        assert_eq!(d.record(at(13, 0)), 4);
        // Second 20: window [16, 20) holds nothing (second 13 had 1) < 4 → 3 s.
        assert_eq!(d.record(at(20, 0)), 3);
        // Second 30: window [27, 30) empty < 3 → 2; second 31 ([29, 31): 1 drop in 30) < 2 → 1.
        assert_eq!(d.record(at(30, 0)), 2);
        assert_eq!(d.record(at(31, 0)), 1);
        // It never goes below 1.
        assert_eq!(d.record(at(40, 0)), 1);
    }

    #[test]
    fn caps_at_32_seconds() {
        let mut d = DroppedRequests::default();
        // 200 drops every second: each new second may raise once retryAfter seconds passed.
        let mut last = 0;
        for s in 0..200 {
            for k in 0..200 {
                last = d.record(at(s, k));
            }
        }
        assert_eq!(last, 32);
        assert_eq!(d.retry_after(), 32);
    }
}
