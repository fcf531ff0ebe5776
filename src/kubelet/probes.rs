//! Readiness, liveness and startup probes, as the kubelet's probe workers run them
//! (`pkg/kubelet/prober/worker.go`).
//!
//! A worker lives as long as its pod and ticks every `periodSeconds` from when the kubelet
//! took the pod on (after a random part of a period when the kubelet itself started less than
//! a period ago); a readiness probe also runs at once when a sync finds its started container
//! not ready (the manual trigger). A probe does nothing while the container is not running,
//! before `initialDelaySeconds` have passed since it started, and — for readiness and liveness
//! — until the container has started (its startup probe passed); a startup probe stops once it
//! has. `successThreshold` consecutive successes set the result to Success,
//! `failureThreshold` consecutive failures to Failure; a liveness or startup Failure holds the
//! worker until the next container. A new container resets the result to the kind's initial
//! value (readiness Failure, liveness Success, startup Unknown), not the run of results.
//!
//! The outcome of each probe is the container's behaviour: a step in time from one answer to
//! the other. While the result already equals the answer and will until the step, probing
//! changes nothing but the count of the run; the worker then sleeps until the first tick at or
//! after the step and counts the ticks it slept through, so a long-stable probe costs no events.

use crate::api::pod::Probe;
use crate::sim::{SimDuration, SimTime};

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProbeKind {
    /// `readinessProbe`.
    Readiness = 0,
    /// `livenessProbe`.
    Liveness = 1,
    /// `startupProbe`.
    Startup = 2,
}

impl ProbeKind {
    /// The kind from its code in a wakeup.
    pub fn from_code(code: u8) -> Option<ProbeKind> {
        match code {
            0 => Some(ProbeKind::Readiness),
            1 => Some(ProbeKind::Liveness),
            2 => Some(ProbeKind::Startup),
            _ => None,
        }
    }

    /// The result a new container starts with.
    fn initial(self) -> ProbeResult {
        match self {
            ProbeKind::Readiness => ProbeResult::Failure,
            ProbeKind::Liveness => ProbeResult::Success,
            ProbeKind::Startup => ProbeResult::Unknown,
        }
    }
}

/// A probe result as the kubelet's results managers keep it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    /// Not decided yet.
    Unknown,
    /// Passing.
    Success,
    /// Failing.
    Failure,
}

impl ProbeResult {
    fn of(success: bool) -> ProbeResult {
        if success {
            ProbeResult::Success
        } else {
            ProbeResult::Failure
        }
    }
}

/// What a probe answers over time for the current container: `before` until `switch_at`,
/// the opposite from then on (never, without a switch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The answer before the switch (true: success).
    pub before: bool,
    /// When the answer flips.
    pub switch_at: Option<SimTime>,
}

impl Outcome {
    /// The answer of a probe at `t`.
    pub fn at(self, t: SimTime) -> bool {
        match self.switch_at {
            Some(s) if t >= s => !self.before,
            _ => self.before,
        }
    }
}

/// What a worker sees of its container, from the kubelet's last status of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeView {
    /// Which container (1, 2, … per restart; 0 before the first is created).
    pub instance: u32,
    /// Since when it runs, if it does.
    pub running_since: Option<SimTime>,
    /// Whether it counts as started (its startup probe passed, or it has none).
    pub started: bool,
    /// Whether it ended for good (exited under `restartPolicy: Never`).
    pub finished: bool,
    /// Whether the pod is being deleted.
    pub terminating: bool,
    /// What a probe answers.
    pub outcome: Outcome,
}

/// One probe worker (a container's probe of one kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeWorker {
    /// Which probe.
    pub kind: ProbeKind,
    initial_delay: SimDuration,
    period: SimDuration,
    success_threshold: u32,
    failure_threshold: u32,
    /// The next tick not yet accounted for.
    cursor: SimTime,
    /// The container the result is for.
    instance: u32,
    result: ProbeResult,
    last: Option<bool>,
    run: u32,
    on_hold: bool,
    stopped: bool,
    /// From this tick on, until the worker is woken, every tick answers this and changes no
    /// result.
    stable: Option<(SimTime, bool)>,
    /// The tick the worker's timer is set for.
    armed: Option<SimTime>,
    /// Bumped whenever the timer is moved, so the old one is ignored.
    pub epoch: u32,
}

impl ProbeWorker {
    /// A worker for `probe` whose first tick is `first_tick`.
    pub fn new(kind: ProbeKind, probe: &Probe, first_tick: SimTime) -> ProbeWorker {
        ProbeWorker {
            kind,
            initial_delay: SimDuration::from_secs(probe.initial_delay_seconds()),
            period: SimDuration::from_secs(probe.period_seconds()),
            success_threshold: probe.success_threshold(),
            failure_threshold: probe.failure_threshold(),
            cursor: first_tick,
            instance: 0,
            result: ProbeResult::Unknown,
            last: None,
            run: 0,
            on_hold: false,
            stopped: false,
            stable: None,
            armed: None,
            epoch: 0,
        }
    }

    /// The result for container `instance` (`None` when the worker has none for it yet).
    pub fn result_for(&self, instance: u32) -> Option<ProbeResult> {
        (self.instance == instance && instance != 0 && self.result != ProbeResult::Unknown)
            .then_some(self.result)
    }

    /// The worker's timer for `epoch` fired at `now`: runs the tick due then. Returns whether
    /// the result changed.
    pub fn on_timer(&mut self, epoch: u32, now: SimTime, view: &ProbeView) -> bool {
        if epoch != self.epoch || self.armed != Some(now) {
            return false;
        }
        self.armed = None;
        self.catch_up(now);
        if self.cursor != now {
            return false;
        }
        self.cursor = now + self.period;
        self.probe(now, view)
    }

    /// A probe now, off the ticks (the readiness manual trigger). Returns whether the result
    /// changed.
    pub fn probe_now(&mut self, now: SimTime, view: &ProbeView) -> bool {
        self.catch_up(now);
        self.probe(now, view)
    }

    /// Works out when the worker must next wake, after whatever it saw at `now`; returns the
    /// time to set a timer for (with [`ProbeWorker::epoch`]) when it moved.
    pub fn plan(&mut self, now: SimTime, view: &ProbeView) -> Option<SimTime> {
        self.catch_up(now);
        self.adopt(view);
        let wake = self.next_wake(view);
        if wake == self.armed {
            return None;
        }
        self.armed = wake;
        self.epoch = self.epoch.wrapping_add(1);
        wake
    }

    /// The next tick that can change anything; sets `stable` for the ticks before it.
    fn next_wake(&mut self, view: &ProbeView) -> Option<SimTime> {
        self.stable = None;
        let since = view.running_since?;
        let gated = match self.kind {
            ProbeKind::Startup => view.started,
            _ => !view.started,
        };
        if self.stopped || self.on_hold || gated || view.terminating {
            return None;
        }
        let first = self.tick_at_or_after(self.cursor.max(since + self.initial_delay));
        let answer = view.outcome.at(first);
        if self.result != ProbeResult::of(answer) {
            return Some(first);
        }
        // Stable: nothing changes until the answer flips.
        self.stable = Some((first, answer));
        match view.outcome.switch_at {
            Some(switch) if switch > first => Some(self.tick_at_or_after(switch)),
            _ => None,
        }
    }

    /// Counts the ticks before `now` that the worker slept through.
    fn catch_up(&mut self, now: SimTime) {
        if self.cursor >= now {
            return;
        }
        let ticks = self.ticks_between(self.cursor, now);
        if let Some((from, answer)) = self.stable
            && from < now
        {
            let counted = self.ticks_between(from.max(self.cursor), now);
            if counted > 0 {
                self.run = match self.last {
                    Some(last) if last == answer => self.run.saturating_add(counted),
                    _ => counted,
                };
                self.last = Some(answer);
            }
        }
        self.cursor += self.period.saturating_mul(u64::from(ticks));
    }

    /// Ticks in `[from, until)` on the worker's grid, `from` being a tick.
    fn ticks_between(&self, from: SimTime, until: SimTime) -> u32 {
        if from >= until {
            return 0;
        }
        let span = (until - from).as_nanos();
        let period = self.period.as_nanos().max(1);
        u32::try_from(span.div_ceil(period)).unwrap_or(u32::MAX)
    }

    /// The first tick at or after `t`.
    fn tick_at_or_after(&self, t: SimTime) -> SimTime {
        if t <= self.cursor {
            return self.cursor;
        }
        self.cursor
            + self
                .period
                .saturating_mul(u64::from(self.ticks_between(self.cursor, t)))
    }

    /// A new container resets the result and releases a hold.
    fn adopt(&mut self, view: &ProbeView) {
        if view.instance != 0 && view.instance != self.instance {
            self.instance = view.instance;
            self.result = self.kind.initial();
            self.on_hold = false;
        }
    }

    /// `doProbe` at `now`.
    fn probe(&mut self, now: SimTime, view: &ProbeView) -> bool {
        self.adopt(view);
        if self.stopped || self.on_hold || view.instance == 0 {
            return false;
        }
        let Some(since) = view.running_since else {
            // Not running: the result is Failure; a container that will not be restarted
            // ends the worker.
            self.stopped = view.finished;
            return self.set(ProbeResult::Failure);
        };
        if view.terminating && self.kind != ProbeKind::Readiness {
            // Graceful shutdown: liveness and startup pass and stop.
            self.stopped = true;
            return self.set(ProbeResult::Success);
        }
        // Whole seconds since the start, as upstream truncates them.
        let up = SimDuration::from_secs((now - since).as_nanos() / 1_000_000_000);
        if up < self.initial_delay {
            return false;
        }
        let gated = match self.kind {
            ProbeKind::Startup => view.started,
            _ => !view.started,
        };
        if gated {
            return false;
        }
        let answer = view.outcome.at(now);
        if self.last == Some(answer) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(answer);
            self.run = 1;
        }
        let threshold = if answer {
            self.success_threshold
        } else {
            self.failure_threshold
        };
        if self.run < threshold {
            return false;
        }
        let changed = self.set(ProbeResult::of(answer));
        if !answer && self.kind != ProbeKind::Readiness {
            // The container will be restarted: wait for the next one.
            self.on_hold = true;
            self.run = 0;
        }
        changed
    }

    fn set(&mut self, result: ProbeResult) -> bool {
        let changed = self.result != result;
        self.result = result;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    fn probe(delay: i32, period: i32, success: i32, failure: i32) -> Probe {
        Probe {
            initial_delay_seconds: Some(delay),
            period_seconds: Some(period),
            success_threshold: Some(success),
            failure_threshold: Some(failure),
            ..Probe::default()
        }
    }

    fn view(since: u64, before: bool, switch: Option<u64>) -> ProbeView {
        ProbeView {
            instance: 1,
            running_since: Some(secs(since)),
            started: true,
            finished: false,
            terminating: false,
            outcome: Outcome {
                before,
                switch_at: switch.map(secs),
            },
        }
    }

    /// Runs the worker through its timers until `until`; returns the times its result
    /// changed and the result then.
    fn run(w: &mut ProbeWorker, v: &ProbeView, start: u64, until: u64) -> Vec<(u64, ProbeResult)> {
        let mut changes = Vec::new();
        let mut next = w.plan(secs(start), v);
        let mut wakes = 0;
        while let Some(at) = next.filter(|t| *t <= secs(until)) {
            wakes += 1;
            assert!(wakes < 100, "too many wakes");
            if w.on_timer(w.epoch, at, v) {
                changes.push((at.since_start().as_nanos() / 1_000_000_000, w.result));
            }
            next = w.plan(at, v);
            if next.is_none() {
                next = w.armed;
            }
        }
        changes
    }

    #[test]
    fn readiness_needs_its_success_threshold_in_a_row() {
        // Ticks at 0, 5, 10, …; the container runs from 0 and answers ready from 12 s on.
        // successThreshold 3: successes at 15, 20, 25 → Ready at 25.
        let mut w = ProbeWorker::new(ProbeKind::Readiness, &probe(0, 5, 3, 3), secs(0));
        let v = view(0, false, Some(12));
        assert_eq!(run(&mut w, &v, 0, 100), vec![(25, ProbeResult::Success)]);
    }

    #[test]
    fn readiness_failure_threshold_counts_failures_in_a_row() {
        // Ready from the start (Success at tick 0); the answer turns to failure at 21 s.
        // failureThreshold 3: failures at 25, 30, 35 → not ready at 35.
        let mut w = ProbeWorker::new(ProbeKind::Readiness, &probe(0, 5, 1, 3), secs(0));
        let v = view(0, true, Some(21));
        assert_eq!(
            run(&mut w, &v, 0, 100),
            vec![(0, ProbeResult::Success), (35, ProbeResult::Failure)]
        );
    }

    #[test]
    fn initial_delay_holds_the_first_counted_probe() {
        // Ticks every 10 s from 0; started at 3 s; initialDelaySeconds 15: the ticks at 10
        // (7 s up) and 0 (not running) do nothing; at 20 it has been up 17 s ≥ 15 → Success.
        let mut w = ProbeWorker::new(ProbeKind::Readiness, &probe(15, 10, 1, 3), secs(0));
        let v = view(3, true, None);
        assert_eq!(run(&mut w, &v, 3, 100), vec![(20, ProbeResult::Success)]);
    }

    #[test]
    fn liveness_fails_after_its_threshold_and_holds() {
        // Liveness passes until 40 s, ticks every 10 s: failures at 40, 50, 60 → Failure at
        // 60, and the worker holds until the next container.
        let mut w = ProbeWorker::new(ProbeKind::Liveness, &probe(0, 10, 1, 3), secs(0));
        let v = view(0, true, Some(40));
        assert_eq!(run(&mut w, &v, 0, 200), vec![(60, ProbeResult::Failure)]);
        assert_eq!(w.plan(secs(60), &v), None);
        // A new container: the result is Success again and probing resumes.
        let next = ProbeView {
            instance: 2,
            running_since: Some(secs(65)),
            outcome: Outcome {
                before: true,
                switch_at: None,
            },
            ..v
        };
        assert_eq!(w.plan(secs(65), &next), None, "stable: passes, no switch");
        assert_eq!(w.result_for(2), Some(ProbeResult::Success));
    }

    #[test]
    fn a_stable_worker_sleeps_until_the_switch() {
        // Ready at 0; the readiness answer never changes after: no further wake at all.
        let mut w = ProbeWorker::new(ProbeKind::Readiness, &probe(0, 10, 1, 3), secs(0));
        let v = view(0, true, None);
        assert_eq!(w.plan(secs(0), &v), Some(secs(0)));
        assert!(w.on_timer(w.epoch, secs(0), &v));
        assert_eq!(w.plan(secs(0), &v), None);
        assert_eq!(w.armed, None);
    }
}
