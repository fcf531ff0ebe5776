//! client-go's rate-limited work queue (`util/workqueue`), in virtual time: what every
//! controller puts the keys of changed objects into and its workers take them from.
//!
//! * **Queue.** An item added while already waiting is not added again (`dirty`); an item
//!   added while a worker holds it (`processing`) waits until the worker is `done` with it,
//!   then goes to the back of the queue; no item is handed to two workers at once.
//! * **Delays.** `add_after` holds an item until its time; an item already held keeps the
//!   earlier of its two times. kubesim cannot block, so the owner asks [`WorkQueue::next_wake`]
//!   for when to set a timer and calls [`WorkQueue::wake`] then.
//! * **Rate limits.** `add_rate_limited` delays by the larger of two limiters, as
//!   `DefaultControllerRateLimiter` does: per item, 5 ms doubling at each failure up to
//!   1000 s (`ItemExponentialFailureRateLimiter`); overall, a token bucket of 10 per second
//!   with a burst of 100 (`BucketRateLimiter` over `golang.org/x/time/rate`). `forget` resets
//!   an item's failures (after a successful sync).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::sim::{SimDuration, SimTime};

/// The rate limits of a queue (client-go's `DefaultControllerRateLimiter` by default).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    /// An item's first delay after a failure, doubled at each further one.
    pub base_delay: SimDuration,
    /// The largest per-item delay.
    pub max_delay: SimDuration,
    /// Items per second the overall bucket lets through.
    pub qps: f64,
    /// The bucket's size: how many may go at once.
    pub burst: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            base_delay: SimDuration::from_millis(5),
            max_delay: SimDuration::from_secs(1000),
            qps: 10.0,
            burst: 100,
        }
    }
}

/// A token bucket as `golang.org/x/time/rate` keeps one: full at first, refilled at `qps`,
/// each reservation taking a token, possibly ahead of time (the delay says how far).
#[derive(Clone, Debug)]
struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    /// When `tokens` was last worked out; `None` before the first reservation (a full bucket).
    /// Virtual time never goes back, so unlike upstream no earlier time needs handling.
    last: Option<SimTime>,
}

impl TokenBucket {
    fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst);
        TokenBucket {
            qps,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// Reserves one token at `now`; returns how long until it may be used.
    fn reserve(&mut self, now: SimTime) -> SimDuration {
        let elapsed = self
            .last
            .map_or(0.0, |last| seconds(now.saturating_since(last)));
        let tokens = (self.tokens + elapsed * self.qps).min(self.burst) - 1.0;
        self.tokens = tokens;
        self.last = Some(now);
        if tokens < 0.0 {
            // `durationFromTokens`: seconds as a float, truncated to whole nanoseconds.
            SimDuration::from_nanos((-tokens / self.qps * 1e9) as u64)
        } else {
            SimDuration::ZERO
        }
    }
}

/// A span in seconds as Go's `Duration.Seconds` works it out (whole seconds, plus the rest
/// over 1e9), so the bucket's float arithmetic matches upstream's step by step.
fn seconds(d: SimDuration) -> f64 {
    const NANOS: u64 = 1_000_000_000;
    let nanos = d.as_nanos();
    (nanos / NANOS) as f64 + (nanos % NANOS) as f64 / 1e9
}

/// A rate-limited work queue of keys `T`.
#[derive(Clone, Debug)]
pub struct WorkQueue<T: Ord + Clone> {
    queue: VecDeque<T>,
    dirty: BTreeSet<T>,
    processing: BTreeSet<T>,
    /// Items held until a time, by (time, order of holding).
    waiting: BTreeMap<(SimTime, u64), T>,
    /// Each held item's place in `waiting`.
    waiting_at: BTreeMap<T, (SimTime, u64)>,
    holds: u64,
    limits: RateLimits,
    failures: BTreeMap<T, u32>,
    bucket: TokenBucket,
}

impl<T: Ord + Clone> WorkQueue<T> {
    /// An empty queue with `limits`.
    pub fn new(limits: RateLimits) -> Self {
        WorkQueue {
            queue: VecDeque::new(),
            dirty: BTreeSet::new(),
            processing: BTreeSet::new(),
            waiting: BTreeMap::new(),
            waiting_at: BTreeMap::new(),
            holds: 0,
            bucket: TokenBucket::new(limits.qps, limits.burst),
            limits,
            failures: BTreeMap::new(),
        }
    }

    /// Adds `item` unless it already waits in the queue; an item a worker holds goes back in
    /// once the worker is done with it.
    pub fn add(&mut self, item: T) {
        if !self.dirty.insert(item.clone()) {
            return;
        }
        if !self.processing.contains(&item) {
            self.queue.push_back(item);
        }
    }

    /// Adds `item` after `delay` (at once if zero); an item already held keeps the earlier
    /// time.
    pub fn add_after(&mut self, item: T, delay: SimDuration, now: SimTime) {
        if delay == SimDuration::ZERO {
            self.add(item);
            return;
        }
        let at = now + delay;
        if let Some(&held) = self.waiting_at.get(&item) {
            if held.0 <= at {
                return;
            }
            self.waiting.remove(&held);
        }
        self.holds += 1;
        let place = (at, self.holds);
        self.waiting_at.insert(item.clone(), place);
        self.waiting.insert(place, item);
    }

    /// Adds `item` after the delay its failures and the overall bucket call for.
    pub fn add_rate_limited(&mut self, item: T, now: SimTime) {
        let delay = self.when(&item, now);
        self.add_after(item, delay, now);
    }

    /// The delay for `item` now: the larger of its own backoff and the bucket's, both
    /// counted (upstream `MaxOfRateLimiter.When` asks every limiter).
    fn when(&mut self, item: &T, now: SimTime) -> SimDuration {
        let failures = self.failures.entry(item.clone()).or_insert(0);
        let exp = *failures;
        *failures += 1;
        let backoff = 1u64
            .checked_shl(exp)
            .and_then(|factor| self.limits.base_delay.as_nanos().checked_mul(factor))
            .map_or(self.limits.max_delay, SimDuration::from_nanos)
            .min(self.limits.max_delay);
        backoff.max(self.bucket.reserve(now))
    }

    /// Forgets `item`'s failures: its next rate-limited add starts from the base delay.
    pub fn forget(&mut self, item: &T) {
        self.failures.remove(item);
    }

    /// How many times `item` was added rate-limited since it was last forgotten.
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.failures.get(item).copied().unwrap_or(0)
    }

    /// The next item for a worker, which holds it until [`WorkQueue::done`].
    pub fn get(&mut self) -> Option<T> {
        let item = self.queue.pop_front()?;
        self.dirty.remove(&item);
        self.processing.insert(item.clone());
        Some(item)
    }

    /// A worker is done with `item`: if it was added meanwhile, it goes back in.
    pub fn done(&mut self, item: &T) {
        self.processing.remove(item);
        if self.dirty.contains(item) {
            self.queue.push_back(item.clone());
        }
    }

    /// Items waiting for a worker.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no item waits for a worker.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// When the first held item is due, if any.
    pub fn next_wake(&self) -> Option<SimTime> {
        self.waiting.keys().next().map(|&(at, _)| at)
    }

    /// Adds every held item due by `now`, earliest first.
    pub fn wake(&mut self, now: SimTime) {
        while let Some(entry) = self.waiting.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let item = entry.remove();
            self.waiting_at.remove(&item);
            self.add(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn at_ms(n: u64) -> SimTime {
        SimTime::ZERO + ms(n)
    }

    #[test]
    fn an_item_waits_once_and_is_never_handed_to_two_workers() {
        let mut q = WorkQueue::new(RateLimits::default());
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get(), Some("a"));
        // Added while a worker holds it: not queued until the worker is done.
        q.add("a");
        assert_eq!(q.len(), 1);
        assert_eq!(q.get(), Some("b"));
        assert_eq!(q.get(), None);
        q.done(&"a");
        assert_eq!(q.get(), Some("a"));
        // Done with an item nobody re-added: it is gone.
        q.done(&"a");
        q.done(&"b");
        assert!(q.is_empty());
    }

    #[test]
    fn failures_back_off_5_ms_doubling_to_1000_s_and_forget_resets() {
        let mut q = WorkQueue::new(RateLimits::default());
        // One failure a second, so the bucket (10/s, burst 100) never delays: the item's own
        // backoff is 5 ms · 2^(failures so far): 5, 10, 20, 40 ms, …; 5 ms · 2^17 = 655.36 s;
        // 5 ms · 2^18 = 1310.72 s is beyond 1000 s, so 1000 s from then on.
        let mut delays = Vec::new();
        for second in 0..20u64 {
            let now = at_ms(second * 1000);
            delays.push(q.when(&"a", now));
        }
        assert_eq!(&delays[..4], &[ms(5), ms(10), ms(20), ms(40)]);
        assert_eq!(delays[17], ms(655_360));
        assert_eq!(delays[18], SimDuration::from_secs(1000));
        assert_eq!(delays[19], SimDuration::from_secs(1000));
        assert_eq!(q.num_requeues(&"a"), 20);
        q.forget(&"a");
        assert_eq!(q.num_requeues(&"a"), 0);
        assert_eq!(q.when(&"a", at_ms(30_000)), ms(5));
    }

    #[test]
    fn the_bucket_lets_100_through_then_one_per_100_ms() {
        let mut q: WorkQueue<u32> = WorkQueue::new(RateLimits::default());
        // 103 distinct items at 0 s: the first 100 take the full bucket's tokens and wait only
        // their own 5 ms; the 101st finds −1 token: 1/10 s = 100 ms; then 200 ms, 300 ms.
        let delays: Vec<SimDuration> = (0..103).map(|i| q.when(&i, SimTime::ZERO)).collect();
        assert!(delays[..100].iter().all(|&d| d == ms(5)));
        assert_eq!(&delays[100..], &[ms(100), ms(200), ms(300)]);
        // At 1 s the bucket has refilled 10 tokens: from −3 to 7, so the next goes at once
        // (its own 5 ms) and leaves 6.
        assert_eq!(q.when(&1000, at_ms(1000)), ms(5));
        assert!((q.bucket.tokens - 6.0).abs() < 1e-9);
    }

    #[test]
    fn a_held_item_keeps_its_earlier_time_and_wakes_in_time_order() {
        let mut q = WorkQueue::new(RateLimits::default());
        q.add_after("late", ms(300), SimTime::ZERO);
        q.add_after("a", ms(200), SimTime::ZERO);
        // Again, later: keeps 200 ms. Again, sooner: moves to 100 ms.
        q.add_after("a", ms(500), SimTime::ZERO);
        assert_eq!(q.next_wake(), Some(at_ms(200)));
        q.add_after("a", ms(50), at_ms(50));
        assert_eq!(q.next_wake(), Some(at_ms(100)));
        q.wake(at_ms(99));
        assert!(q.is_empty());
        q.wake(at_ms(300));
        assert_eq!(q.get(), Some("a"));
        assert_eq!(q.get(), Some("late"));
        assert_eq!(q.next_wake(), None);
        // A zero delay adds at once.
        q.add_after("now", SimDuration::ZERO, at_ms(300));
        assert_eq!(q.get(), Some("now"));
    }

    #[test]
    fn a_rate_limited_add_is_held_for_the_larger_delay() {
        let mut q = WorkQueue::new(RateLimits::default());
        q.add_rate_limited("a", SimTime::ZERO);
        q.add_rate_limited("a", SimTime::ZERO);
        // First 5 ms; the second (10 ms) is later, so the item keeps 5 ms.
        assert_eq!(q.next_wake(), Some(at_ms(5)));
        q.wake(at_ms(5));
        assert_eq!(q.get(), Some("a"));
        assert_eq!(q.num_requeues(&"a"), 2);
    }
}
