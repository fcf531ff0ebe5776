//! Kernel benchmarks: the pending-event set under the classic hold model.
//!
//! Each timed iteration is one hold operation: pop the earliest event and push
//! one at `popped.at + increment`, so the number of pending events stays fixed.
//! Increments are exponential with a mean of 1 ms (in ns), drawn up front from a
//! seeded ChaCha8 stream so that the random number generator is not what gets
//! measured. The queue is filled once per size, outside the timed region, and
//! carries its state across criterion's samples (warm-up lets it reach the
//! steady-state time distribution). `BinaryHeap` is the baseline.

// Benchmarks measure wall-clock time by definition; the determinism rule against the wall
// clock is for the simulator, not for its stopwatch.
#![allow(clippy::disallowed_methods)]

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use kubesim::sim::queue::EventQueue;
use kubesim::sim::time::SimTime;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pending-event counts to measure at.
const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];
/// Mean increment: 1 ms of virtual time.
const MEAN_NS: f64 = 1_000_000.0;
/// Seed of the increment stream ("kubesim" in ASCII); fixed so runs compare.
const SEED: u64 = 0x006b_7562_6573_696d;
/// Pre-drawn increments, reused cyclically: many more than the smallest queue
/// holds, and read sequentially, so the table costs little cache.
const INCREMENTS: usize = 1 << 16;

/// A payload the size of what the kernel carries: an object id and an event kind.
#[derive(Clone, Copy, Debug)]
struct Payload {
    id: u64,
    kind: u32,
}

/// The operations the hold model needs, so both queues run the same loop.
trait HoldQueue {
    fn push(&mut self, at: u64, payload: Payload);
    fn pop(&mut self) -> (u64, Payload);
}

impl HoldQueue for EventQueue<Payload> {
    #[inline]
    fn push(&mut self, at: u64, payload: Payload) {
        EventQueue::push(self, SimTime::from_nanos(at), payload);
    }

    #[inline]
    fn pop(&mut self) -> (u64, Payload) {
        let ev = EventQueue::pop(self).expect("hold model keeps the queue non-empty");
        (ev.at.as_nanos(), ev.payload)
    }
}

/// Baseline entry, ordered like the kernel orders events: (time, insertion sequence).
struct HeapEntry {
    at: u64,
    seq: u64,
    payload: Payload,
}

impl PartialEq for HeapEntry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for HeapEntry {}

impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// `std`'s binary heap with a sequence counter for the tie-break.
#[derive(Default)]
struct Baseline {
    heap: BinaryHeap<Reverse<HeapEntry>>,
    next_seq: u64,
}

impl HoldQueue for Baseline {
    #[inline]
    fn push(&mut self, at: u64, payload: Payload) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(HeapEntry { at, seq, payload }));
    }

    #[inline]
    fn pop(&mut self) -> (u64, Payload) {
        let Reverse(e) = self
            .heap
            .pop()
            .expect("hold model keeps the queue non-empty");
        (e.at, e.payload)
    }
}

/// Exponentially distributed increments (mean [`MEAN_NS`]) from a seeded stream.
fn increments(seed: u64) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..INCREMENTS)
        .map(|_| {
            // `1 - u` is in (0, 1], so the logarithm is finite.
            let u: f64 = rng.random();
            (-MEAN_NS * (1.0 - u).ln()) as u64
        })
        .collect()
}

/// Fills `queue` with `pending` events (untimed), then times hold operations on it.
fn bench_hold<Q: HoldQueue>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    pending: usize,
    mut queue: Q,
    incs: &[u64],
) {
    let mask = incs.len() - 1;
    let mut k = 0usize;
    for i in 0..pending {
        queue.push(
            incs[k & mask],
            Payload {
                id: i as u64,
                kind: (i % 7) as u32,
            },
        );
        k += 1;
    }
    group.bench_with_input(BenchmarkId::new(name, pending), &pending, |b, _| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let (at, mut payload) = queue.pop();
                payload.id ^= u64::from(payload.kind);
                payload.kind = payload.kind.wrapping_add(1);
                queue.push(at + incs[k & mask], black_box(payload));
                k += 1;
            }
            start.elapsed()
        })
    });
}

fn hold_model(c: &mut Criterion) {
    let incs = increments(SEED);
    let mut group = c.benchmark_group("hold_model");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for pending in SIZES {
        bench_hold(&mut group, "EventQueue", pending, EventQueue::new(), &incs);
        bench_hold(
            &mut group,
            "BinaryHeap",
            pending,
            Baseline::default(),
            &incs,
        );
    }
    group.finish();
}

criterion_group!(benches, hold_model);
criterion_main!(benches);
