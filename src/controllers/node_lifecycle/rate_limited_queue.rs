//! The per-zone tainting queue (upstream `pkg/controller/nodelifecycle/scheduler/
//! rate_limited_queue.go`): a queue of node names, each at most once until it is removed,
//! processed in order of when it is due, through a token bucket of burst 1.
//!
//! The bucket (client-go's `NewTokenBucketRateLimiter(qps, 1)`) holds at most one token and
//! refills at `qps`: with burst 1 it is fully described by the time its token is (or was)
//! back, so it needs no fractions — a take at `t` succeeds if `t` is at or after that time,
//! and the token is then back at `t + 1/qps`. A rate of 0 is upstream's "never" limiter.
//!
//! A pass ([`RateLimitedTimedQueue::try_process`]) takes a token for every item it looks at,
//! due or not, as upstream's `Try` does: a pass over a non-empty queue spends the token even
//! if the head is only due later. Items are ordered by when they are due, then by when they
//! were added (upstream's heap leaves ties unordered; kubesim takes the first added first).

use std::collections::{BTreeMap, BTreeSet};

use crate::sim::{SimDuration, SimTime};

/// A token bucket of burst 1 refilling at a rate of nodes per second.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    /// Nodes per second; 0 never lets anything through.
    qps: f64,
    /// The time between two tokens (None for the never limiter).
    period: Option<SimDuration>,
    /// When the token is back: a take at or after it succeeds.
    ready_at: SimTime,
}

impl TokenBucket {
    /// A full bucket at `qps` (a rate of 0 or below never accepts).
    pub fn new(qps: f64) -> Self {
        let period = (qps > 0.0).then(|| {
            // 1/qps seconds, to the nanosecond (0.1 → 10 s, 0.01 → 100 s).
            SimDuration::from_nanos((1e9 / qps).round() as u64)
        });
        TokenBucket {
            qps,
            period,
            ready_at: SimTime::ZERO,
        }
    }

    /// The rate.
    pub fn qps(&self) -> f64 {
        self.qps
    }

    /// Takes the token if it is there at `now` (`TryAccept`).
    pub fn try_accept(&mut self, now: SimTime) -> bool {
        let Some(period) = self.period else {
            return false;
        };
        if now < self.ready_at {
            return false;
        }
        self.ready_at = now + period;
        true
    }
}

/// One queued node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    process_at: SimTime,
    seq: u64,
}

/// What the action made of an item: done, or to retry after a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processed {
    /// Done: the item leaves the queue but stays in the set until removed.
    Done,
    /// Not done: try again after this long (plus a nanosecond, as upstream adds one).
    Retry(SimDuration),
}

/// A unique, time-ordered, rate-limited queue of node names.
#[derive(Clone, Debug)]
pub struct RateLimitedTimedQueue {
    /// Every name added and not removed since (also those already processed).
    set: BTreeSet<String>,
    /// The names waiting, by their slot.
    queue: BTreeMap<Slot, String>,
    /// Each waiting name's slot.
    slots: BTreeMap<String, Slot>,
    seq: u64,
    limiter: TokenBucket,
}

impl RateLimitedTimedQueue {
    /// An empty queue with a full bucket at `qps`.
    pub fn new(qps: f64) -> Self {
        RateLimitedTimedQueue {
            set: BTreeSet::new(),
            queue: BTreeMap::new(),
            slots: BTreeMap::new(),
            seq: 0,
            limiter: TokenBucket::new(qps),
        }
    }

    /// Adds `name`, due now, unless it was added and not removed since; whether it was added.
    pub fn add(&mut self, name: &str, now: SimTime) -> bool {
        if self.set.contains(name) {
            return false;
        }
        self.set.insert(name.to_string());
        self.push(name.to_string(), now);
        true
    }

    fn push(&mut self, name: String, process_at: SimTime) {
        self.seq += 1;
        let slot = Slot {
            process_at,
            seq: self.seq,
        };
        self.slots.insert(name.clone(), slot.clone());
        self.queue.insert(slot, name);
    }

    /// Removes `name` so that it may be added again; whether it was in the set.
    pub fn remove(&mut self, name: &str) -> bool {
        if !self.set.remove(name) {
            return false;
        }
        if let Some(slot) = self.slots.remove(name) {
            self.queue.remove(&slot);
        }
        true
    }

    /// Puts a processed `name` back in line, due at `at` (a write that failed after the
    /// action counted it done: upstream's action would have returned "retry").
    pub fn retry(&mut self, name: &str, at: SimTime) {
        if self.set.contains(name) && !self.slots.contains_key(name) {
            self.push(name.to_string(), at);
        }
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// How many names wait.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// The rate.
    pub fn qps(&self) -> f64 {
        self.limiter.qps()
    }

    /// Replaces the bucket with one at `qps`, unless the rate is the same (`SwapLimiter`). If
    /// the old bucket had no token now, the new one starts empty too (upstream drains it,
    /// which with burst 1 carries the wait over).
    pub fn swap_limiter(&mut self, qps: f64, now: SimTime) {
        if self.limiter.qps() == qps {
            return;
        }
        let mut next = TokenBucket::new(qps);
        if qps > 0.0 && !self.limiter.try_accept(now) {
            next.try_accept(now);
        }
        self.limiter = next;
    }

    /// One pass (`Try`): while the queue has a head and the bucket a token, the head is
    /// handed to `action` if it is due (else the pass ends, the token spent).
    pub fn try_process(&mut self, now: SimTime, mut action: impl FnMut(&str) -> Processed) {
        while let Some((slot, name)) = self.queue.first_key_value() {
            let (slot, name) = (slot.clone(), name.clone());
            if !self.limiter.try_accept(now) {
                break;
            }
            if now < slot.process_at {
                break;
            }
            self.queue.remove(&slot);
            self.slots.remove(&name);
            match action(&name) {
                Processed::Done => {}
                Processed::Retry(wait) => {
                    let at = now + wait + SimDuration::from_nanos(1);
                    self.push(name, at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: f64) -> SimTime {
        SimTime::ZERO + SimDuration::from_nanos((secs * 1e9) as u64)
    }

    #[test]
    fn a_bucket_of_burst_one_lets_one_through_per_period() {
        // 0.1 nodes/s: a token every 10 s, one at most in the bucket, full at first.
        let mut bucket = TokenBucket::new(0.1);
        assert!(bucket.try_accept(at(0.0)));
        assert!(!bucket.try_accept(at(9.9)));
        assert!(bucket.try_accept(at(10.0)));
        // Idle for a minute: still one token only.
        assert!(bucket.try_accept(at(70.0)));
        assert!(!bucket.try_accept(at(70.0)));
        assert!(bucket.try_accept(at(80.0)));
        // 0.01 nodes/s: every 100 s; 0: never.
        let mut slow = TokenBucket::new(0.01);
        assert!(slow.try_accept(at(0.0)));
        assert!(!slow.try_accept(at(99.9)));
        assert!(slow.try_accept(at(100.0)));
        let mut never = TokenBucket::new(0.0);
        assert!(!never.try_accept(at(0.0)));
        assert!(!never.try_accept(at(1e6)));
    }

    /// Runs a pass every 100 ms from `from` to `to` (as the controller does), recording what
    /// is processed and when.
    fn passes(q: &mut RateLimitedTimedQueue, from: f64, to: f64) -> Vec<(String, SimTime)> {
        let mut done = Vec::new();
        let mut t = at(from);
        while t <= at(to) {
            q.try_process(t, |name| {
                done.push((name.to_string(), t));
                Processed::Done
            });
            t += SimDuration::from_millis(100);
        }
        done
    }

    #[test]
    fn nodes_leave_one_per_token_in_the_order_they_were_added() {
        let mut q = RateLimitedTimedQueue::new(0.1);
        for name in ["a", "b", "c"] {
            assert!(q.add(name, at(0.0)));
        }
        // Added twice: ignored.
        assert!(!q.add("a", at(0.0)));
        // a at 0 s (the full bucket), b at 10 s, c at 20 s.
        let done = passes(&mut q, 0.0, 25.0);
        assert_eq!(
            done,
            vec![
                ("a".to_string(), at(0.0)),
                ("b".to_string(), at(10.0)),
                ("c".to_string(), at(20.0)),
            ]
        );
        // Processed names stay in the set: adding again does nothing until removed.
        assert!(!q.add("a", at(30.0)));
        assert!(q.remove("a"));
        assert!(q.add("a", at(30.0)));
        // The bucket refilled meanwhile (its token was back at 30 s): a goes at once.
        assert_eq!(
            passes(&mut q, 30.0, 30.0),
            vec![("a".to_string(), at(30.0))]
        );
    }

    #[test]
    fn a_removed_node_is_not_processed_and_a_retry_waits() {
        let mut q = RateLimitedTimedQueue::new(10.0);
        q.add("a", at(0.0));
        q.add("b", at(0.0));
        assert!(q.remove("a"));
        assert!(!q.remove("a"));
        // b asks to be retried 50 ms later: at 0 s it is tried and put back due at
        // 0.050000001 s; the pass at 0.1 s (the 10/s bucket has a token again) takes it.
        let mut tries = Vec::new();
        let mut t = at(0.0);
        while t <= at(0.2) {
            q.try_process(t, |name| {
                tries.push((name.to_string(), t));
                if tries.len() == 1 {
                    Processed::Retry(SimDuration::from_millis(50))
                } else {
                    Processed::Done
                }
            });
            t += SimDuration::from_millis(100);
        }
        assert_eq!(
            tries,
            vec![("b".to_string(), at(0.0)), ("b".to_string(), at(0.1))]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn swapping_the_limiter_carries_an_empty_bucket_over() {
        // Normal (0.1/s) zone: a taken at 0 s, so the bucket is empty until 10 s.
        let mut q = RateLimitedTimedQueue::new(0.1);
        q.add("a", at(0.0));
        q.add("b", at(0.0));
        q.add("c", at(0.0));
        assert_eq!(passes(&mut q, 0.0, 0.0).len(), 1);
        // At 5 s the zone turns partially disrupted in a large cluster (0.01/s): the old
        // bucket is empty, so the new one starts drained: its token is back at 105 s.
        q.swap_limiter(0.01, at(5.0));
        let done = passes(&mut q, 5.0, 210.0);
        assert_eq!(
            done,
            vec![("b".to_string(), at(105.0)), ("c".to_string(), at(205.0))]
        );
        // The same rate again changes nothing; a rate of 0 stops everything.
        q.swap_limiter(0.01, at(210.0));
        q.add("d", at(210.0));
        q.swap_limiter(0.0, at(210.0));
        assert!(passes(&mut q, 210.0, 1000.0).is_empty());
        // Back to 0.1/s from the never limiter, which has no token either: the new bucket
        // starts drained, so d goes when its token is back, 10 s later.
        q.swap_limiter(0.1, at(1000.0));
        assert_eq!(
            passes(&mut q, 1000.0, 1020.0),
            vec![("d".to_string(), at(1010.0))]
        );
    }
}
