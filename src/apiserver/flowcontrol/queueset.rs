//! Fair queuing of one priority level (upstream `fairqueuing/queueset`): its queues, its
//! virtual clock, and which waiting request starts next.
//!
//! The level's queues share its current concurrency limit as fair queuing shares a link:
//! virtual time R advances at min(seats requested, limit) / active queues seat-seconds per
//! second, the service each active queue would get if all were served in parallel. A queue that
//! becomes active starts at the current R; each dispatch advances its `next_dispatch_r` by the
//! request's estimated work, (initial seats × 3 ms) + (final seats × their latency), and when
//! the request finishes the 3 ms guess is corrected to the time it really took. The next request
//! to start is the head of the queue whose virtual finish (`next_dispatch_r` + head's work) is
//! smallest, scanning from just after the last queue served so ties rotate; it starts only if
//! its seats fit — and nothing else starts until they do, so a wide request is never starved.
//!
//! A new request is shuffle-sharded to the queue of its hand with the least waiting work
//! (scanning the hand from an offset that turns by one per enqueue), and rejected instead if the
//! level is using all its seats and that queue is full. A Reject level has no queues: it starts
//! a request if its seats fit and rejects it otherwise. The exempt level starts everything and
//! only counts.
//!
//! Per-request work is independent of everything but the number of queues (the dispatch scan,
//! as upstream's).
//!
//! Upstream shifts every virtual time down by half the range ("epochs") when R nears the top
//! of its 64 bits. kubesim does not: at 600 seats and one active queue R grows by 6·10¹⁰
//! units a second, so the top is ~10 years of virtual time away; additions saturate.

use std::collections::VecDeque;

use super::config::LevelShape;
use super::seat_seconds::SeatSeconds;
use super::shuffle_shard::{Dealer, MAX_HAND_SIZE};
use super::work_estimate::WorkEstimate;
use super::{RejectReason, Ticket};
use crate::sim::{SimDuration, SimTime};

/// The service time fair queuing assumes per seat before a request finishes (upstream
/// `estimatedServiceDuration`).
pub const ESTIMATED_SERVICE_DURATION: SimDuration = SimDuration::from_millis(3);

/// A request waiting in a queue.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    ticket: Ticket,
    work: WorkEstimate,
    total_work: SeatSeconds,
    arrival_r: SeatSeconds,
    arrival: SimTime,
}

#[derive(Clone, Debug, Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    next_dispatch_r: SeatSeconds,
    executing: u32,
    seats_in_use: u64,
    /// Σ total work of the waiting requests (what shuffle sharding compares).
    waiting_work: SeatSeconds,
}

impl Queue {
    fn active(&self) -> bool {
        !self.waiting.is_empty() || self.executing > 0
    }
}

/// A request that has started executing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Started {
    /// The request.
    pub ticket: Ticket,
    /// Its queue (none at Reject and Exempt levels).
    pub queue: Option<u32>,
    /// Its work, with the final seats capped at the limit if they exceeded it.
    pub work: WorkEstimate,
    /// When it arrived.
    pub arrival: SimTime,
}

/// What became of a request handed to [`QueueSet::start`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartOutcome {
    /// It waits in a queue.
    Queued {
        /// The queue.
        queue: u32,
    },
    /// It was refused.
    Rejected(RejectReason),
    /// It started at once (Reject and Exempt levels; a queued one that starts at once is
    /// reported among the started).
    Started(Started),
}

/// One priority level's queues and seats.
#[derive(Clone, Debug)]
pub struct QueueSet {
    shape: LevelShape,
    dealer: Option<Dealer>,
    queue_length_limit: usize,
    queues: Vec<Queue>,
    limit: u64,
    current_r: SeatSeconds,
    last_sync: SimTime,
    robin: usize,
    enqueues: u64,
    waiting_requests: u32,
    waiting_seats: u64,
    executing_requests: u32,
    seats_in_use: u64,
    active_queues: u32,
}

impl QueueSet {
    /// A queue set of the given shape with `limit` seats, its clock at `now`.
    pub fn new(shape: LevelShape, limit: u32, now: SimTime) -> Self {
        let (dealer, queues, qll) = match shape {
            LevelShape::Queue {
                queues,
                hand_size,
                queue_length_limit,
            } => (
                Dealer::new(queues, hand_size).ok(),
                vec![Queue::default(); queues as usize],
                queue_length_limit as usize,
            ),
            _ => (None, Vec::new(), 0),
        };
        QueueSet {
            shape,
            dealer,
            queue_length_limit: qll,
            queues,
            limit: u64::from(limit),
            current_r: SeatSeconds::ZERO,
            last_sync: now,
            robin: 0,
            enqueues: 0,
            waiting_requests: 0,
            waiting_seats: 0,
            executing_requests: 0,
            seats_in_use: 0,
            active_queues: 0,
        }
    }

    /// Requests waiting.
    pub fn waiting_requests(&self) -> u32 {
        self.waiting_requests
    }
    /// Seats the waiting requests will take.
    pub fn waiting_seats(&self) -> u64 {
        self.waiting_seats
    }
    /// Requests executing (not counting those only holding final seats).
    pub fn executing_requests(&self) -> u32 {
        self.executing_requests
    }
    /// Seats in use, final seats included.
    pub fn seats_in_use(&self) -> u64 {
        self.seats_in_use
    }
    /// The level's seat demand: in use plus waiting.
    pub fn seat_demand(&self) -> u64 {
        self.seats_in_use + self.waiting_seats
    }
    /// The current concurrency limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }
    /// The virtual time.
    pub fn virtual_time(&self) -> SeatSeconds {
        self.current_r
    }

    /// Advances virtual time to `now`.
    fn sync(&mut self, now: SimTime) {
        let dt = now.saturating_since(self.last_sync);
        self.last_sync = self.last_sync.max(now);
        if self.active_queues == 0 || dt.is_zero() {
            return;
        }
        let requested = (self.seats_in_use + self.waiting_seats).min(self.limit);
        let incr =
            SeatSeconds::ratio_times(u128::from(requested), u128::from(self.active_queues), dt);
        self.current_r = self.current_r.saturating_add(incr);
    }

    /// Runs `change` on queue `qi`, keeping the active-queue count.
    fn with_queue<T>(&mut self, qi: usize, change: impl FnOnce(&mut Queue) -> T) -> T {
        let was = self.queues[qi].active();
        let out = change(&mut self.queues[qi]);
        match (was, self.queues[qi].active()) {
            (false, true) => self.active_queues += 1,
            (true, false) => self.active_queues -= 1,
            _ => {}
        }
        out
    }

    /// A queue's next dispatch never lies before its oldest waiting request's arrival.
    fn bound_next_dispatch(&mut self, qi: usize) {
        let q = &mut self.queues[qi];
        if let Some(head) = q.waiting.front() {
            q.next_dispatch_r = q.next_dispatch_r.max(head.arrival_r);
        }
    }

    fn can_accommodate(&self, seats: u64) -> bool {
        match self.shape {
            LevelShape::Exempt => true,
            // A request wider than the whole limit may run alone.
            _ if seats > self.limit => self.executing_requests == 0,
            _ => self.seats_in_use + seats <= self.limit,
        }
    }

    /// Offers a new request at `now`; requests that start as a result (the new one among
    /// them, if queued and dispatched at once) are pushed to `started`.
    pub fn start(
        &mut self,
        now: SimTime,
        ticket: Ticket,
        work: WorkEstimate,
        hash: u64,
        started: &mut Vec<Started>,
    ) -> StartOutcome {
        self.sync(now);
        let seats = work.max_seats();
        let Some(dealer) = self.dealer else {
            if !self.can_accommodate(seats) {
                return StartOutcome::Rejected(RejectReason::ConcurrencyLimit);
            }
            self.executing_requests += 1;
            self.seats_in_use += seats;
            return StartOutcome::Started(Started {
                ticket,
                queue: None,
                work,
                arrival: now,
            });
        };
        let qi = self.shuffle_shard(&dealer, hash);
        if self.seats_in_use >= self.limit
            && self.queues[qi].waiting.len() >= self.queue_length_limit
        {
            return StartOutcome::Rejected(RejectReason::QueueFull);
        }
        let total_work = SeatSeconds::seats_times(work.initial_seats, ESTIMATED_SERVICE_DURATION)
            .saturating_add(work.final_work());
        let current_r = self.current_r;
        self.with_queue(qi, |q| {
            if !q.active() {
                q.next_dispatch_r = current_r;
            }
            q.waiting.push_back(Waiting {
                ticket,
                work,
                total_work,
                arrival_r: current_r,
                arrival: now,
            });
            q.waiting_work = q.waiting_work.saturating_add(total_work);
        });
        self.waiting_requests += 1;
        self.waiting_seats += seats;
        self.bound_next_dispatch(qi);
        self.dispatch_all(started);
        StartOutcome::Queued { queue: qi as u32 }
    }

    /// The queue of the flow's hand with the least waiting work.
    fn shuffle_shard(&mut self, dealer: &Dealer, hash: u64) -> usize {
        let mut hand = [0usize; MAX_HAND_SIZE];
        let n = dealer.deal(hash, &mut hand);
        let offset = (self.enqueues % n as u64) as usize;
        self.enqueues += 1;
        let mut best = hand[offset];
        let mut best_work = SeatSeconds::MAX;
        for i in 0..n {
            let qi = hand[(offset + i) % n];
            let work = self.queues[qi].waiting_work;
            if work < best_work {
                best_work = work;
                best = qi;
            }
        }
        best
    }

    /// Starts waiting requests while seats allow.
    fn dispatch_all(&mut self, started: &mut Vec<Started>) {
        while self.waiting_requests > 0 && self.seats_in_use < self.limit {
            match self.dispatch_one() {
                Some(s) => started.push(s),
                None => break,
            }
        }
    }

    fn dispatch_one(&mut self) -> Option<Started> {
        let n = self.queues.len();
        let mut best: Option<(SeatSeconds, usize)> = None;
        let mut idx = self.robin;
        for _ in 0..n {
            idx = (idx + 1) % n;
            let q = &self.queues[idx];
            if let Some(head) = q.waiting.front() {
                let finish = q.next_dispatch_r.saturating_add(head.total_work);
                if best.is_none_or(|(f, _)| finish < f) {
                    best = Some((finish, idx));
                }
            }
        }
        let (_, qi) = best?;
        let head = *self.queues[qi].waiting.front()?;
        let seats = head.work.max_seats();
        if !self.can_accommodate(seats) {
            return None;
        }
        let mut work = head.work;
        if work.final_seats > self.limit {
            // Final seats beyond the whole limit could never be held: narrow them, keeping
            // their work.
            let final_work = work.final_work();
            work.final_seats = self.limit;
            work.additional_latency = final_work.duration_per_seat(self.limit);
        }
        let held = work.max_seats();
        self.with_queue(qi, |q| {
            q.waiting.pop_front();
            q.waiting_work = q.waiting_work.saturating_sub(head.total_work);
            q.executing += 1;
            q.seats_in_use += held;
            q.next_dispatch_r = q.next_dispatch_r.saturating_add(head.total_work);
        });
        self.robin = qi;
        self.waiting_requests -= 1;
        self.waiting_seats -= seats;
        self.executing_requests += 1;
        self.seats_in_use += held;
        self.bound_next_dispatch(qi);
        Some(Started {
            ticket: head.ticket,
            queue: Some(qi as u32),
            work,
            arrival: head.arrival,
        })
    }

    /// A request started at `start_time` returns at `now`. Its initial seats' virtual work is
    /// corrected to the real service time; its seats are released now unless it has final
    /// seats, which the caller releases with [`QueueSet::release`] after the latency.
    pub fn finish(
        &mut self,
        now: SimTime,
        request: &Started,
        start_time: SimTime,
        started: &mut Vec<Started>,
    ) {
        self.sync(now);
        self.executing_requests -= 1;
        if let Some(qi) = request.queue {
            let qi = qi as usize;
            let actual = now.saturating_since(start_time);
            let guessed = ESTIMATED_SERVICE_DURATION;
            // nextDispatchR −= initial × (3 ms − actual): a request that ran long moves its
            // queue's next turn later, one that ran short brings it earlier.
            let initial = request.work.initial_seats;
            self.with_queue(qi, |q| {
                q.executing -= 1;
                q.next_dispatch_r = if actual >= guessed {
                    q.next_dispatch_r
                        .saturating_add(SeatSeconds::seats_times(initial, diff(actual, guessed)))
                } else {
                    q.next_dispatch_r
                        .saturating_sub(SeatSeconds::seats_times(initial, diff(guessed, actual)))
                };
            });
            self.bound_next_dispatch(qi);
        }
        if request.work.additional_latency.is_zero() {
            self.release_seats(request);
        }
        self.dispatch_all(started);
    }

    fn release_seats(&mut self, request: &Started) {
        let seats = request.work.max_seats();
        self.seats_in_use -= seats;
        if let Some(qi) = request.queue {
            self.queues[qi as usize].seats_in_use -= seats;
        }
    }

    /// A finished request's final seats are released at `now`.
    pub fn release(&mut self, now: SimTime, request: &Started, started: &mut Vec<Started>) {
        self.sync(now);
        self.release_seats(request);
        self.dispatch_all(started);
    }

    /// Takes a waiting request out of its queue (its wait timed out). Returns whether it was
    /// there.
    pub fn remove_waiting(&mut self, now: SimTime, ticket: Ticket, queue: u32) -> bool {
        self.sync(now);
        let qi = queue as usize;
        let Some(pos) = self
            .queues
            .get(qi)
            .and_then(|q| q.waiting.iter().position(|w| w.ticket == ticket))
        else {
            return false;
        };
        let removed = self.with_queue(qi, |q| {
            let w = q.waiting.remove(pos);
            if let Some(w) = &w {
                q.waiting_work = q.waiting_work.saturating_sub(w.total_work);
            }
            w
        });
        if let Some(w) = removed {
            self.waiting_requests -= 1;
            self.waiting_seats -= w.work.max_seats();
        }
        self.bound_next_dispatch(qi);
        true
    }

    /// Sets the concurrency limit at `now` (a borrowing adjustment) and starts what now fits.
    pub fn set_limit(&mut self, now: SimTime, limit: u32, started: &mut Vec<Started>) {
        self.sync(now);
        self.limit = u64::from(limit);
        self.dispatch_all(started);
    }
}

fn diff(a: SimDuration, b: SimDuration) -> SimDuration {
    SimDuration::from_nanos(a.as_nanos() - b.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    /// Four queues, hand size 1: a flow's hash mod 4 is its queue (deck 4, one digit).
    fn qs(limit: u32) -> QueueSet {
        QueueSet::new(
            LevelShape::Queue {
                queues: 4,
                hand_size: 1,
                queue_length_limit: 3,
            },
            limit,
            SimTime::ZERO,
        )
    }

    #[test]
    fn dispatch_order_follows_virtual_finish_times() {
        // Limit 2 seats. At t=0 two 1-seat requests of flow A (queue 0) take both seats.
        // Then, still at t=0, three more of A and two of B (queue 1) queue up, with one
        // 2-seat request of C (queue 2).
        let mut q = qs(2);
        let mut started = Vec::new();
        let one = WorkEstimate::seats(1);
        let two = WorkEstimate::seats(2);
        for t in 0..2 {
            q.start(at_ms(0), Ticket::new(t), one, 0, &mut started);
        }
        assert_eq!(started.len(), 2);
        // Queue 0's next dispatch is now 2 × (1 seat × 3 ms) = 0.006 ss = 600,000 units.
        assert_eq!(q.queues[0].next_dispatch_r, SeatSeconds(600_000));
        for t in 2..5 {
            q.start(at_ms(0), Ticket::new(t), one, 0, &mut started);
        }
        for t in 5..7 {
            q.start(at_ms(0), Ticket::new(t), one, 1, &mut started);
        }
        q.start(at_ms(0), Ticket::new(7), two, 2, &mut started);
        assert_eq!(started.len(), 2);
        assert_eq!(q.waiting_requests(), 6);
        // Virtual finish of each queue's head (R = 0 so far):
        //   queue 0: 600,000 + 300,000 = 900,000   queue 1: 0 + 300,000 = 300,000
        //   queue 2: 0 + 2 × 300,000 = 600,000
        // Both running requests finish at t = 3 ms (their guess: no correction). R grew
        // over 3 ms at min(seats requested, limit) / active queues = min(2 in use + 7
        // waiting, 2) / 3 queues: 2/3 × 0.003 = 0.002 ss = 200,000 units.
        let first = Started {
            ticket: Ticket::new(0),
            queue: Some(0),
            work: one,
            arrival: at_ms(0),
        };
        q.finish(at_ms(3), &first, at_ms(0), &mut started);
        assert_eq!(q.virtual_time(), SeatSeconds(200_000));
        // One seat free: queue 1's head (300,000) goes first → ticket 5; queue 1 moves to
        // 300,000, so its next head would finish at 600,000.
        assert_eq!(started[2].ticket, Ticket::new(5));
        let second = Started {
            ticket: Ticket::new(1),
            ..first
        };
        q.finish(at_ms(3), &second, at_ms(0), &mut started);
        // A tie at 600,000 between queue 2 (C) and queue 1: the scan starts after the last
        // queue served (1), so queue 2 is seen first and keeps the tie — but C needs 2 seats
        // and only 1 is free, and nothing else may pass it: nothing starts.
        assert_eq!(started.len(), 3);
        // Ticket 5 returns at 4 ms after 1 ms (< 3 ms): queue 1's next dispatch comes back by
        // 1 seat × 2 ms = 200,000 to 100,000 (not below its head's arrival R, 0). Its head
        // now finishes at 400,000 < C's 600,000: B's ticket 6 starts; C still does not fit.
        // R: +2/3 × 1 ms = 66,667 → 266,667.
        let t5 = started[2];
        q.finish(at_ms(4), &t5, at_ms(3), &mut started);
        assert_eq!(q.virtual_time(), SeatSeconds(266_667));
        assert_eq!(started[3].ticket, Ticket::new(6));
        assert_eq!(started.len(), 4);
        // Ticket 6 returns at 6 ms: both seats free, C (600,000) is the smallest finish
        // against queue 0's 900,000 and starts holding both. R: +2/3 × 2 ms → 400,000.
        let t6 = started[3];
        q.finish(at_ms(6), &t6, at_ms(4), &mut started);
        assert_eq!(q.virtual_time(), SeatSeconds(400_000));
        assert_eq!(started[4].ticket, Ticket::new(7));
        assert_eq!(q.seats_in_use(), 2);
        // C returns at 10 ms; queue 0's tickets 2 and 3 take the two seats. R grew 2/2 ×
        // 4 ms with queues 0 and 2 active → 800,000.
        let c = started[4];
        q.finish(at_ms(10), &c, at_ms(6), &mut started);
        assert_eq!(q.virtual_time(), SeatSeconds(800_000));
        let order: Vec<u64> = started.iter().map(|s| s.ticket.index()).collect();
        assert_eq!(order, vec![0, 1, 5, 6, 7, 2, 3]);
    }

    #[test]
    fn rejects_when_full_and_queue_at_limit() {
        let mut q = qs(1);
        let mut started = Vec::new();
        let one = WorkEstimate::seats(1);
        // One executes; queue 0 holds 3 (its limit); the fifth is refused as queue-full.
        for t in 0..4 {
            let o = q.start(at_ms(0), Ticket::new(t), one, 0, &mut started);
            assert!(!matches!(o, StartOutcome::Rejected(_)));
        }
        assert_eq!(
            q.start(at_ms(0), Ticket::new(4), one, 0, &mut started),
            StartOutcome::Rejected(RejectReason::QueueFull)
        );
        // Another flow's queue still has room.
        assert_eq!(
            q.start(at_ms(0), Ticket::new(5), one, 1, &mut started),
            StartOutcome::Queued { queue: 1 }
        );
        // A timed-out request leaves its queue.
        assert!(q.remove_waiting(at_ms(1), Ticket::new(2), 0));
        assert_eq!(q.waiting_requests(), 3);
    }

    #[test]
    fn reject_levels_start_or_refuse_at_once() {
        let mut q = QueueSet::new(LevelShape::Reject, 13, SimTime::ZERO);
        let mut started = Vec::new();
        let ten = WorkEstimate::seats(10);
        assert!(matches!(
            q.start(at_ms(0), Ticket::new(0), ten, 0, &mut started),
            StartOutcome::Started(_)
        ));
        // 10 + 10 > 13.
        assert_eq!(
            q.start(at_ms(0), Ticket::new(1), ten, 0, &mut started),
            StartOutcome::Rejected(RejectReason::ConcurrencyLimit)
        );
        // 10 + 3 fits.
        assert!(matches!(
            q.start(
                at_ms(0),
                Ticket::new(2),
                WorkEstimate::seats(3),
                0,
                &mut started
            ),
            StartOutcome::Started(_)
        ));
    }

    #[test]
    fn final_seats_are_held_after_the_request_returns() {
        let mut q = qs(10);
        let mut started = Vec::new();
        let write = WorkEstimate {
            initial_seats: 1,
            final_seats: 10,
            additional_latency: SimDuration::from_millis(5),
        };
        q.start(at_ms(0), Ticket::new(0), write, 0, &mut started);
        q.start(
            at_ms(0),
            Ticket::new(1),
            WorkEstimate::seats(1),
            1,
            &mut started,
        );
        // The write holds max(1, 10) = 10 seats: the read waits.
        assert_eq!(started.len(), 1);
        let w = started[0];
        q.finish(at_ms(2), &w, at_ms(0), &mut started);
        assert_eq!((started.len(), q.seats_in_use()), (1, 10));
        q.release(at_ms(7), &w, &mut started);
        assert_eq!(started.len(), 2);
        assert_eq!(q.seats_in_use(), 1);
    }
}
