//! The run loop: pop the earliest event, advance virtual time to it, let the model handle it.
//!
//! One [`Simulation`] owns the pending-event set, the clock, the trace digest and the model (the
//! whole simulated world). The model receives a [`Context`] through which it reads the clock and
//! schedules further events; it never sees the queue itself, so the ordering rule — (time,
//! insertion sequence), nothing else — cannot be bypassed.

use super::digest::TraceDigest;
use super::queue::{EventQueue, EventSeq};
use super::time::{SimDuration, SimTime};

/// What the kernel needs to know about an event, without knowing what it means.
pub trait SimEvent {
    /// A word that identifies the event for the trace digest (its kind, the object it is about).
    fn fingerprint(&self) -> u64;

    /// Background events (periodic samplers, resyncs) happen forever; they do not keep a run
    /// from being quiescent. Everything else is foreground.
    fn is_background(&self) -> bool {
        false
    }
}

/// The simulated world, as the kernel sees it: something that handles events.
pub trait Model {
    /// The events this model schedules and handles.
    type Event: SimEvent;

    /// Handles `event` at `ctx.now()`, scheduling whatever follows from it through `ctx`.
    fn handle(&mut self, ctx: &mut Context<'_, Self::Event>, event: Self::Event);
}

/// The model's handle on the kernel while it handles one event.
pub struct Context<'a, E> {
    now: SimTime,
    queue: &'a mut EventQueue<E>,
    foreground: &'a mut u64,
}

impl<E: SimEvent> Context<'_, E> {
    /// The current virtual time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at`. A time in the past is treated as now: the kernel never moves
    /// time backwards.
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> EventSeq {
        push(self.queue, self.foreground, at.max(self.now), event)
    }

    /// Schedules `event` after `delay`.
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventSeq {
        self.schedule_at(self.now + delay, event)
    }
}

fn push<E: SimEvent>(
    queue: &mut EventQueue<E>,
    foreground: &mut u64,
    at: SimTime,
    event: E,
) -> EventSeq {
    if !event.is_background() {
        *foreground += 1;
    }
    queue.push(at, event)
}

/// When a run stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StopAt {
    /// Stop once every event due at or before this time has been handled; the clock then reads
    /// exactly this time.
    pub until: Option<SimTime>,
    /// Stop as soon as no foreground event is pending.
    pub when_quiescent: bool,
    /// Stop after handling this many events in this call (a guard against runaway models).
    pub max_events: Option<u64>,
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The `until` time was reached.
    Deadline,
    /// No foreground event was pending.
    Quiescent,
    /// No event at all was pending.
    Exhausted,
    /// The event budget of this call ran out.
    EventLimit,
}

/// A discrete-event simulation of one model.
pub struct Simulation<M: Model> {
    model: M,
    queue: EventQueue<M::Event>,
    now: SimTime,
    foreground: u64,
    processed: u64,
    digest: TraceDigest,
}

impl<M: Model> Simulation<M> {
    /// A simulation of `model` at time zero with nothing scheduled.
    pub fn new(model: M) -> Self {
        Simulation {
            model,
            queue: EventQueue::new(),
            now: SimTime::ZERO,
            foreground: 0,
            processed: 0,
            digest: TraceDigest::new(),
        }
    }

    /// Schedules an event from outside the model (initial events); times in the past mean now.
    pub fn schedule_at(&mut self, at: SimTime, event: M::Event) -> EventSeq {
        push(
            &mut self.queue,
            &mut self.foreground,
            at.max(self.now),
            event,
        )
    }

    /// The current virtual time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, mutably (for inspection between steps; events are the way to change it).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// Gives the model back.
    pub fn into_model(self) -> M {
        self.model
    }

    /// Events handled so far.
    pub fn processed_events(&self) -> u64 {
        self.processed
    }

    /// Events pending, foreground and background.
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// Whether no foreground event is pending.
    pub fn is_quiescent(&self) -> bool {
        self.foreground == 0
    }

    /// The digest of the trace handled so far.
    pub fn digest(&self) -> &TraceDigest {
        &self.digest
    }

    /// The time of the next pending event, if any.
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.queue.peek_time()
    }

    /// Handles the next event; returns its time, or `None` if nothing is pending.
    pub fn step(&mut self) -> Option<SimTime> {
        let scheduled = self.queue.pop()?;
        if !scheduled.payload.is_background() {
            self.foreground -= 1;
        }
        self.now = scheduled.at;
        self.processed += 1;
        self.digest.update(scheduled.at.as_nanos());
        self.digest.update(scheduled.payload.fingerprint());
        let mut ctx = Context {
            now: self.now,
            queue: &mut self.queue,
            foreground: &mut self.foreground,
        };
        self.model.handle(&mut ctx, scheduled.payload);
        Some(self.now)
    }

    /// Handles every event due at or before `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: SimTime) -> StopReason {
        self.run(StopAt {
            until: Some(until),
            ..StopAt::default()
        })
    }

    /// Runs until a stop condition holds.
    pub fn run(&mut self, stop: StopAt) -> StopReason {
        self.run_with_progress(stop, u64::MAX, |_| {})
    }

    /// Runs like [`Simulation::run`], calling `progress` with the clock every `every` events
    /// (for progress display; it cannot influence the run).
    pub fn run_with_progress(
        &mut self,
        stop: StopAt,
        every: u64,
        mut progress: impl FnMut(SimTime),
    ) -> StopReason {
        let budget = stop.max_events.unwrap_or(u64::MAX);
        let mut handled: u64 = 0;
        loop {
            if stop.when_quiescent && self.is_quiescent() {
                return StopReason::Quiescent;
            }
            if handled >= budget {
                return StopReason::EventLimit;
            }
            let Some(next) = self.queue.peek_time() else {
                if let Some(until) = stop.until {
                    self.now = self.now.max(until);
                    return StopReason::Deadline;
                }
                return StopReason::Exhausted;
            };
            if let Some(until) = stop.until
                && next > until
            {
                self.now = self.now.max(until);
                return StopReason::Deadline;
            }
            self.step();
            handled += 1;
            if handled.is_multiple_of(every.max(1)) {
                progress(self.now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that records what it handled and can re-schedule itself.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<(u64, &'static str)>,
    }

    #[derive(Debug)]
    enum Ev {
        Mark(&'static str),
        /// Schedules `Mark(name)` after `delay` ns.
        Then(u64, &'static str),
        Tick,
    }

    impl SimEvent for Ev {
        fn fingerprint(&self) -> u64 {
            match self {
                Ev::Mark(n) => n.len() as u64,
                Ev::Then(d, _) => *d,
                Ev::Tick => 99,
            }
        }
        fn is_background(&self) -> bool {
            matches!(self, Ev::Tick)
        }
    }

    impl Model for Recorder {
        type Event = Ev;
        fn handle(&mut self, ctx: &mut Context<'_, Ev>, event: Ev) {
            let now = ctx.now().as_nanos();
            match event {
                Ev::Mark(name) => self.seen.push((now, name)),
                Ev::Then(delay, name) => {
                    ctx.schedule_in(SimDuration::from_nanos(delay), Ev::Mark(name));
                }
                Ev::Tick => {
                    self.seen.push((now, "tick"));
                    ctx.schedule_in(SimDuration::from_nanos(10), Ev::Tick);
                }
            }
        }
    }

    fn at(n: u64) -> SimTime {
        SimTime::from_nanos(n)
    }

    #[test]
    fn events_run_in_time_then_insertion_order() {
        let mut sim = Simulation::new(Recorder::default());
        sim.schedule_at(at(5), Ev::Mark("b"));
        sim.schedule_at(at(1), Ev::Mark("a"));
        sim.schedule_at(at(5), Ev::Mark("c"));
        sim.schedule_at(at(0), Ev::Then(5, "d"));
        assert_eq!(sim.run(StopAt::default()), StopReason::Exhausted);
        // "d" is scheduled at t=0 for t=5, after "b" and "c" were inserted: it runs last at t=5.
        assert_eq!(
            sim.model().seen,
            vec![(1, "a"), (5, "b"), (5, "c"), (5, "d")]
        );
        assert_eq!(sim.processed_events(), 5);
    }

    #[test]
    fn run_until_stops_at_the_deadline_and_sets_the_clock() {
        let mut sim = Simulation::new(Recorder::default());
        sim.schedule_at(at(0), Ev::Tick);
        assert_eq!(sim.run_until(at(25)), StopReason::Deadline);
        // Ticks at 0, 10, 20; the one at 30 is still pending.
        assert_eq!(sim.model().seen.len(), 3);
        assert_eq!(sim.now(), at(25));
        assert_eq!(sim.pending_events(), 1);
    }

    #[test]
    fn background_events_do_not_prevent_quiescence() {
        let mut sim = Simulation::new(Recorder::default());
        sim.schedule_at(at(0), Ev::Tick);
        sim.schedule_at(at(35), Ev::Mark("last"));
        let stop = StopAt {
            when_quiescent: true,
            until: Some(at(1_000)),
            ..StopAt::default()
        };
        assert_eq!(sim.run(stop), StopReason::Quiescent);
        // Ticks at 0..=30 (4 of them) then the mark at 35; the tick at 40 never runs.
        assert_eq!(sim.model().seen.last(), Some(&(35, "last")));
        assert_eq!(sim.model().seen.len(), 5);
    }

    #[test]
    fn event_budget_is_honoured() {
        let mut sim = Simulation::new(Recorder::default());
        sim.schedule_at(at(0), Ev::Tick);
        let stop = StopAt {
            max_events: Some(7),
            ..StopAt::default()
        };
        assert_eq!(sim.run(stop), StopReason::EventLimit);
        assert_eq!(sim.processed_events(), 7);
    }

    #[test]
    fn digest_depends_on_the_trace() {
        let run = |delay| {
            let mut sim = Simulation::new(Recorder::default());
            sim.schedule_at(at(0), Ev::Then(delay, "x"));
            sim.run(StopAt::default());
            sim.digest().finish()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
