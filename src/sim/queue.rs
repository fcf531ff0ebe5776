//! The kernel's pending-event set: [`EventQueue`], which hands events back in
//! (virtual time, insertion sequence) order.
//!
//! This file owns only the ordering of pending events; what an event means, and
//! cancelling one (the kernel leaves tombstones), live elsewhere.
//!
//! # Why a radix heap
//!
//! The kernel never schedules an event before the last event it popped, so keys
//! are monotone and a *radix heap* applies. Every pending time later than the
//! current instant `now` (the last popped time) is filed by the highest 6-bit
//! digit in which it differs from `now` (its *level*) and by its value in that
//! digit, giving 11 levels of 64 buckets. Buckets compare as wholes: a lower
//! level, or a lower digit on the same level, means an earlier time. A push is
//! O(1): one `leading_zeros`, a shift and a `Vec::push`. A pop takes from the FIFO
//! of events at `now`; only when that is empty does it find the lowest non-empty
//! bucket (two `trailing_zeros` over occupancy bitmaps), make its earliest time
//! the new `now` and re-file the bucket's events on lower levels. An event thus
//! moves at most 11 times and in practice a few, each move part of a
//! sequential scan of a `Vec`, so the structure stays cache friendly at a million
//! pending events, where a binary heap pays a chain of cache misses per operation.
//!
//! The key is the time alone, not `(time << 64) | seq`: insertion order comes for
//! free because every bucket is in sequence order. Pushes append the newest
//! sequence number, and a bucket is only split into buckets that are empty (all
//! lower levels are empty when it is the lowest), in order, so the events at
//! `now` come out as a FIFO.
//!
//! When the lowest bucket holds a single event, as it mostly does in a sparse
//! queue, a pop takes it straight from the bucket.
//!
//! Hold model (pop one, push one at `popped + Exp(1 ms)`, 16-byte payload) on the
//! 2-core development machine, criterion group `hold_model` in
//! `benches/kernel.rs`, million events per second:
//!
//! | pending | this queue | binary radix heap | binary radix heap, 128-bit key | `BinaryHeap` |
//! |--------:|-----------:|------------------:|-------------------------------:|-------------:|
//! | 1 k     | 26–28      | 21                | 16                             | 14           |
//! | 100 k   | 22–23      | 14                | 11                             | 4.8          |
//! | 1 M     | 21–22      | 10                | 7.6                            | 1.4          |
//!
//! The binary radix heaps (one bucket per bit position, with the same singleton
//! shortcut) move each event more often; the 128-bit `(time << 64) | seq` key
//! also makes every event of a same-instant burst a separate split. Digits of 4
//! to 8 bits (measured before the singleton shortcut) were within noise of each
//! other up to 100 k; 7 and 8 bits lost at 1 M, where more buckets spread the
//! queue over more memory. 6 bits keeps one `u64` occupancy word per level.

use std::collections::VecDeque;

use super::time::SimTime;

/// Bits per digit. 64 buckets per level, so one `u64` records which are occupied.
const DIGIT_BITS: u32 = 6;
/// Buckets per level.
const RADIX: usize = 1 << DIGIT_BITS;
/// Levels needed to cover a `u64` time (the top one only uses 4 bits).
const LEVELS: usize = (u64::BITS as usize).div_ceil(DIGIT_BITS as usize);

/// An event's insertion sequence number: strictly increasing over the life of a
/// queue, and the tie-break between events at the same virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventSeq(u64);

impl EventSeq {
    /// The raw sequence number (0 for the first event pushed into a queue).
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

/// An event taken out of an [`EventQueue`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled<E> {
    /// When the event happens. Equal to the time it was pushed with, except for an
    /// event pushed in the past in a release build, which is reported at the time
    /// of the last popped event (see [`EventQueue::push`]).
    pub at: SimTime,
    /// Its insertion sequence number, as returned by [`EventQueue::push`].
    pub seq: EventSeq,
    /// What the kernel attached to it.
    pub payload: E,
}

/// One pending event; `at` is already clamped to the queue's current instant.
#[derive(Debug)]
struct Entry<E> {
    at: u64,
    seq: u64,
    payload: E,
}

/// The pending events of a simulation, popped in (time, insertion sequence) order.
///
/// # Precondition: time never goes backwards
///
/// Every `push` must be at or after the time of the last event popped (any time
/// is fine before the first pop). This is what makes the radix heap possible.
/// Debug builds assert it. Release builds never panic: an event pushed earlier is
/// treated as pushed at the last popped time, so it comes out at that time after
/// everything already pending at it, in insertion order.
///
/// Memory: bucket vectors keep their capacity when they empty (and across
/// [`clear`](Self::clear)), so once a run has warmed up, pushing and popping
/// rarely allocate.
#[derive(Debug)]
pub struct EventQueue<E> {
    /// Events at exactly `now`, in sequence order: the front is the next to pop.
    current: VecDeque<Entry<E>>,
    /// `buckets[level][digit]`: events later than `now` whose highest digit
    /// differing from `now` is `level`, with value `digit` there; in sequence
    /// order. Boxed because it is 17 KB of `Vec` headers.
    buckets: Box<[[Vec<Entry<E>>; RADIX]; LEVELS]>,
    /// Bit `digit` of `occupied[level]` is set iff that bucket is non-empty.
    occupied: [u64; LEVELS],
    /// Bit `level` set iff `occupied[level] != 0`: with it, finding the lowest
    /// non-empty bucket is two `trailing_zeros` rather than a scan.
    levels: u32,
    /// The time of the last popped event (zero before the first pop). It only
    /// moves when a pop needs it to, never on `peek_time`, so that a push at any
    /// time at or after the last pop stays legal after a peek.
    now: u64,
    /// The earliest time in `buckets` if known. `peek_time` fills it so that a
    /// peek followed by a pop scans the lowest bucket once, not twice; a push can
    /// only lower it and a split consumes it.
    bucket_min: Option<u64>,
    /// The sequence number the next push gets.
    next_seq: u64,
    /// Number of pending events.
    len: usize,
}

impl<E> EventQueue<E> {
    /// An empty queue. Allocates the bucket table (17 KB) but no event storage.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` events at time zero before it reallocates:
    /// the usual initial burst, everything a scenario sets up at the start. Events
    /// at later times go into buckets that grow on demand and keep their capacity
    /// afterwards.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            current: VecDeque::with_capacity(n),
            buckets: Box::new(std::array::from_fn(|_| std::array::from_fn(|_| Vec::new()))),
            occupied: [0; LEVELS],
            levels: 0,
            now: 0,
            bucket_min: None,
            next_seq: 0,
            len: 0,
        }
    }

    /// Schedules `payload` at `at` and returns its insertion sequence number.
    ///
    /// Precondition: `at` is not before the time of the last popped event. Debug
    /// builds panic if it is; release builds schedule the event at that time
    /// instead (after the events already pending there).
    pub fn push(&mut self, at: SimTime, payload: E) -> EventSeq {
        debug_assert!(
            at.as_nanos() >= self.now,
            "event pushed at {at:?}, before the last popped event at {:?}",
            SimTime::from_nanos(self.now)
        );
        self.push_clamped(at, payload)
    }

    /// [`push`](Self::push) without the debug assertion: the release behaviour,
    /// callable from tests in any build.
    fn push_clamped(&mut self, at: SimTime, payload: E) -> EventSeq {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        let at = at.as_nanos().max(self.now);
        let entry = Entry { at, seq, payload };
        if at == self.now {
            self.current.push_back(entry);
        } else {
            self.file(entry, self.now);
            if let Some(min) = &mut self.bucket_min {
                *min = (*min).min(at);
            }
        }
        EventSeq(seq)
    }

    /// Removes and returns the earliest event (lowest time, then lowest sequence
    /// number), or `None` if the queue is empty.
    pub fn pop(&mut self) -> Option<Scheduled<E>> {
        let Entry { at, seq, payload } = match self.current.pop_front() {
            Some(entry) => entry,
            None => self.advance()?,
        };
        self.len -= 1;
        Some(Scheduled {
            at: SimTime::from_nanos(at),
            seq: EventSeq(seq),
            payload,
        })
    }

    /// The time of the event [`pop`](Self::pop) would return next, or `None` if
    /// the queue is empty. Takes `&mut self` because it caches what it finds;
    /// it does not move the queue's notion of the current time, so pushes at or
    /// after the last popped time stay legal after a peek.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if !self.current.is_empty() {
            return Some(SimTime::from_nanos(self.now));
        }
        let (level, digit) = self.lowest_bucket()?;
        let min = match self.bucket_min {
            Some(min) => min,
            None => {
                let bucket = &self.buckets[level][digit];
                // A level-0 bucket holds a single instant.
                let min = if level == 0 {
                    bucket[0].at
                } else {
                    min_time(bucket)
                };
                self.bucket_min = Some(min);
                min
            }
        };
        Some(SimTime::from_nanos(min))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every pending event, keeping the allocated memory. The sequence
    /// numbers keep increasing and the last popped time still bounds later pushes,
    /// as if the dropped events had been cancelled.
    pub fn clear(&mut self) {
        self.current.clear();
        for bucket in self.buckets.iter_mut().flatten() {
            bucket.clear();
        }
        self.occupied = [0; LEVELS];
        self.levels = 0;
        self.bucket_min = None;
        self.len = 0;
    }

    /// Files an event later than `pivot` (the current or about-to-be current
    /// `now`) in its bucket, behind the events already there.
    #[inline]
    fn file(&mut self, entry: Entry<E>, pivot: u64) {
        debug_assert!(entry.at > pivot);
        let highest_diff = u64::BITS - 1 - (entry.at ^ pivot).leading_zeros();
        let level = highest_diff / DIGIT_BITS;
        let digit = (entry.at >> (level * DIGIT_BITS)) as usize % RADIX;
        let level = level as usize;
        self.buckets[level][digit].push(entry);
        self.occupied[level] |= 1 << digit;
        self.levels |= 1 << level;
    }

    /// The lowest non-empty bucket, which holds the earliest pending event if
    /// `current` is empty: a bucket on a lower level agrees with `now` on more
    /// digits, and on the same level a lower digit is an earlier time.
    #[inline]
    fn lowest_bucket(&self) -> Option<(usize, usize)> {
        if self.levels == 0 {
            return None;
        }
        let level = self.levels.trailing_zeros() as usize;
        Some((level, self.occupied[level].trailing_zeros() as usize))
    }

    /// With `current` empty: moves `now` to the earliest pending time, splits the
    /// lowest non-empty bucket around it so that `current` gets the events at that
    /// time, and takes the first of them. `None` if nothing is pending.
    fn advance(&mut self) -> Option<Entry<E>> {
        debug_assert!(self.current.is_empty());
        let (level, digit) = self.lowest_bucket()?;
        let bucket = &mut self.buckets[level][digit];
        if bucket.len() == 1 {
            // A sparse queue splits mostly singletons; skipping the trip through
            // `current` took the hold model at 1 k pending from ~58 to ~35 ns.
            let entry = bucket.pop()?;
            self.release(level, digit);
            self.now = entry.at;
            self.bucket_min = None;
            return Some(entry);
        }
        let mut split = std::mem::take(bucket);
        self.release(level, digit);
        if level == 0 {
            // Every digit of these times is fixed: they are all one instant, already
            // in sequence order. Swap the vector in as `current` rather than copy
            // (both conversions are O(1) here, `current` being empty).
            self.now = split[0].at;
            self.bucket_min = None;
            let drained = std::mem::replace(&mut self.current, VecDeque::from(split));
            self.buckets[0][digit] = Vec::from(drained);
            return self.current.pop_front();
        }
        let now = match self.bucket_min.take() {
            Some(min) => min,
            None => min_time(&split),
        };
        self.now = now;
        // Every time in this bucket agrees with the new `now` on every digit from
        // `level` up, so each lands on a lower level, in buckets that are empty
        // (this was the lowest bucket); walking `split` in order keeps every
        // bucket, and `current`, in sequence order.
        for entry in split.drain(..) {
            if entry.at == now {
                self.current.push_back(entry);
            } else {
                self.file(entry, now);
            }
        }
        // Hand the emptied vector back so its capacity serves the next events
        // filed in this bucket.
        self.buckets[level][digit] = split;
        self.current.pop_front()
    }

    /// Marks a bucket that has just been emptied as such.
    #[inline]
    fn release(&mut self, level: usize, digit: usize) {
        self.occupied[level] &= !(1 << digit);
        if self.occupied[level] == 0 {
            self.levels &= !(1 << level);
        }
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// The earliest time in a non-empty bucket.
fn min_time<E>(bucket: &[Entry<E>]) -> u64 {
    bucket
        .iter()
        .map(|e| e.at)
        .min()
        .expect("occupancy bit set on an empty bucket")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    fn t(n: u64) -> SimTime {
        SimTime::from_nanos(n)
    }

    /// Pops everything, as (time, seq, payload).
    fn drain<E>(q: &mut EventQueue<E>) -> Vec<(u64, u64, E)> {
        std::iter::from_fn(|| q.pop())
            .map(|s| (s.at.as_nanos(), s.seq.as_u64(), s.payload))
            .collect()
    }

    #[test]
    fn empty_queue() {
        let mut q: EventQueue<()> = EventQueue::default();
        assert!(q.is_empty());
        assert_eq!(q.len(), 0);
        assert_eq!(q.peek_time(), None);
        assert!(q.pop().is_none());
    }

    #[test]
    fn fifo_among_equal_times() {
        let mut q = EventQueue::new();
        for i in 0..100u32 {
            q.push(t(7), i);
        }
        // Also at an instant reached by a split, not just the initial one.
        for i in 100..200u32 {
            q.push(t(1 << 40), i);
        }
        let out = drain(&mut q);
        let payloads: Vec<u32> = out.iter().map(|&(_, _, p)| p).collect();
        assert_eq!(payloads, (0..200).collect::<Vec<_>>());
        assert!(out.windows(2).all(|w| w[0].1 < w[1].1));
    }

    #[test]
    fn fifo_at_current_instant_after_pop() {
        let mut q = EventQueue::new();
        q.push(t(5), 0);
        q.push(t(5), 1);
        q.push(t(9), 2);
        assert_eq!(q.pop().unwrap().payload, 0);
        // Same instant as the event just popped: after the one still pending there.
        q.push(t(5), 3);
        q.push(t(6), 4);
        let payloads: Vec<u32> = drain(&mut q).into_iter().map(|(_, _, p)| p).collect();
        assert_eq!(payloads, vec![1, 3, 4, 2]);
    }

    #[test]
    fn orders_by_time() {
        let mut q = EventQueue::new();
        let times = [50u64, 3, u64::MAX, 0, 1 << 63, 17, 16, 1_000_000, 3];
        for (i, &at) in times.iter().enumerate() {
            q.push(t(at), i);
        }
        let out = drain(&mut q);
        let mut expected: Vec<(u64, u64)> = times
            .iter()
            .enumerate()
            .map(|(i, &at)| (at, i as u64))
            .collect();
        expected.sort();
        let got: Vec<(u64, u64)> = out.iter().map(|&(at, seq, _)| (at, seq)).collect();
        assert_eq!(got, expected);
        assert!(out.iter().all(|&(_, seq, p)| seq == p as u64));
    }

    #[test]
    fn peek_time_agrees_with_next_pop() {
        let mut q = EventQueue::new();
        for (i, at) in [9u64, 2, 2, 1 << 33, 40, 41, 1 << 33]
            .into_iter()
            .enumerate()
        {
            q.push(t(at), i);
        }
        while let Some(peeked) = q.peek_time() {
            // Peeking twice must not change the answer or the order.
            assert_eq!(q.peek_time(), Some(peeked));
            assert_eq!(q.pop().unwrap().at, peeked);
        }
        assert!(q.pop().is_none());
    }

    #[test]
    fn seq_is_strictly_increasing_and_survives_clear() {
        let mut q = EventQueue::new();
        let a = q.push(t(10), ());
        let b = q.push(t(5), ());
        assert!(a < b);
        assert_eq!((a.as_u64(), b.as_u64()), (0, 1));
        q.pop();
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.peek_time(), None);
        assert!(q.pop().is_none());
        let c = q.push(t(5), ());
        assert_eq!(c.as_u64(), 2);
        assert_eq!(q.pop().unwrap().seq, c);
    }

    #[test]
    fn len_bookkeeping() {
        let mut q = EventQueue::with_capacity(8);
        for i in 0..10u64 {
            q.push(t(i * 3 % 7), i);
            assert_eq!(q.len(), i as usize + 1);
        }
        assert!(!q.is_empty());
        for left in (0..10).rev() {
            let _ = q.peek_time();
            assert!(q.pop().is_some());
            assert_eq!(q.len(), left);
        }
        assert!(q.is_empty());
        assert!(q.pop().is_none());
        assert_eq!(q.len(), 0);
        q.push(t(100), 0);
        q.push(t(200), 1);
        q.clear();
        assert_eq!(q.len(), 0);
        assert!(q.is_empty());
    }

    #[test]
    fn peek_then_push_earlier_than_peeked() {
        // A peek must not commit the clock: the kernel may peek past a horizon,
        // stop, and then schedule something before the peeked time.
        let mut q = EventQueue::new();
        q.push(t(10), 'a');
        q.push(t(1000), 'b');
        assert_eq!(q.pop().unwrap().payload, 'a');
        assert_eq!(q.peek_time(), Some(t(1000)));
        q.push(t(10), 'c');
        q.push(t(500), 'd');
        assert_eq!(q.peek_time(), Some(t(10)));
        let out: Vec<(u64, char)> = drain(&mut q).into_iter().map(|(a, _, p)| (a, p)).collect();
        assert_eq!(out, vec![(10, 'c'), (500, 'd'), (1000, 'b')]);
    }

    /// The release-build rule, exercised through the assertion-free path so it is
    /// checked in every build.
    #[test]
    fn push_in_the_past_is_clamped_to_last_popped_time() {
        let mut q = EventQueue::new();
        q.push(t(100), 0);
        q.push(t(100), 1);
        q.push(t(150), 2);
        assert_eq!(q.pop().unwrap().payload, 0);
        q.push_clamped(t(40), 3);
        q.push_clamped(t(0), 4);
        q.push(t(100), 5);
        assert_eq!(q.len(), 5);
        assert_eq!(q.peek_time(), Some(t(100)));
        let out: Vec<(u64, u32)> = drain(&mut q).into_iter().map(|(a, _, p)| (a, p)).collect();
        assert_eq!(out, vec![(100, 1), (100, 3), (100, 4), (100, 5), (150, 2)]);
    }

    #[cfg(not(debug_assertions))]
    #[test]
    fn release_push_in_the_past_does_not_panic() {
        let mut q = EventQueue::new();
        q.push(t(100), 0);
        q.push(t(300), 1);
        assert_eq!(q.pop().unwrap().payload, 0);
        q.push(t(50), 2);
        let out: Vec<(u64, u32)> = drain(&mut q).into_iter().map(|(a, _, p)| (a, p)).collect();
        assert_eq!(out, vec![(100, 2), (300, 1)]);
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "before the last popped event")]
    fn debug_push_in_the_past_panics() {
        let mut q = EventQueue::new();
        q.push(t(100), ());
        q.pop();
        q.push(t(50), ());
    }

    #[test]
    fn interleaved_against_sorted_vec_model() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
        let mut q = EventQueue::new();
        // Kept sorted by (time, seq) descending, so the next event is at the end.
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut now = 0u64;
        for _ in 0..20_000 {
            if model.is_empty() || rng.random_range(0..100u32) < 55 {
                // Small offsets give many equal times; large ones exercise high buckets.
                let offset = match rng.random_range(0..4u32) {
                    0 => 0,
                    1 => rng.random_range(0..8u64),
                    2 => rng.random_range(0..1_000_000u64),
                    _ => rng.random_range(0..1u64 << 50),
                };
                let at = now + offset;
                let seq = q.push(t(at), at).as_u64();
                let pos = model.partition_point(|&k| k > (at, seq));
                model.insert(pos, (at, seq));
            } else {
                let expected = model.pop().unwrap();
                assert_eq!(q.peek_time(), Some(t(expected.0)));
                let got = q.pop().unwrap();
                assert_eq!((got.at.as_nanos(), got.seq.as_u64()), expected);
                assert_eq!(got.payload, expected.0);
                now = expected.0;
            }
            assert_eq!(q.len(), model.len());
        }
        while let Some(expected) = model.pop() {
            let got = q.pop().unwrap();
            assert_eq!((got.at.as_nanos(), got.seq.as_u64()), expected);
        }
        assert!(q.pop().is_none());
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// Push at (last popped time + offset).
        Push(u64),
        Pop,
        Peek,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u64..4).prop_map(Op::Push),
            3 => (0u64..5_000).prop_map(Op::Push),
            1 => (0u64..u64::MAX / 4).prop_map(Op::Push),
            4 => Just(Op::Pop),
            1 => Just(Op::Peek),
        ]
    }

    proptest! {
        #[test]
        fn matches_binary_heap(ops in prop::collection::vec(op(), 0..400)) {
            let mut q = EventQueue::new();
            let mut reference: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
            let mut now = 0u64;
            for op in ops {
                match op {
                    Op::Push(offset) => {
                        let at = now.saturating_add(offset);
                        let seq = q.push(t(at), seq_payload(at)).as_u64();
                        reference.push(Reverse((at, seq)));
                    }
                    Op::Pop => {
                        let got = q.pop().map(|s| {
                            prop_assert_eq!(s.payload, seq_payload(s.at.as_nanos()));
                            Ok((s.at.as_nanos(), s.seq.as_u64()))
                        }).transpose()?;
                        let expected = reference.pop().map(|Reverse(k)| k);
                        prop_assert_eq!(got, expected);
                        if let Some((at, _)) = got {
                            now = at;
                        }
                    }
                    Op::Peek => {
                        let expected = reference.peek().map(|Reverse((at, _))| t(*at));
                        prop_assert_eq!(q.peek_time(), expected);
                    }
                }
                prop_assert_eq!(q.len(), reference.len());
                prop_assert_eq!(q.is_empty(), reference.is_empty());
            }
            while let Some(Reverse(expected)) = reference.pop() {
                let got = q.pop().map(|s| (s.at.as_nanos(), s.seq.as_u64()));
                prop_assert_eq!(got, Some(expected));
            }
            prop_assert!(q.pop().is_none());
        }
    }

    /// A payload derived from the time, to check payloads travel with their keys.
    fn seq_payload(at: u64) -> u64 {
        at.rotate_left(17) ^ 0xa5a5
    }
}
