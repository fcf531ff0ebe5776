//! client-go's leader election (`tools/leaderelection/leaderelection.go`) over a Lease, as a
//! state machine: kube-controller-manager and kube-scheduler run their controllers only while
//! they hold the lease.
//!
//! * **Candidate** (`acquire`): try at once; after a failed try wait the retry period stretched
//!   by a random 0–120 % (`wait.JitterUntil` with `JitterFactor` 1.2, timed from the end of the
//!   try: 2 s → [2 s, 4.4 s)), and try again, until the lease is won.
//! * **Leader** (`renew`): right after winning, and then `retry_period` after each successful
//!   renewal (`wait.Until`, timed from its end), a *renewal round* starts: a try at once and then
//!   one at every retry-period tick counted from the round's start (`PollUntilContextTimeout`: a
//!   try still running at a tick delays the next try to its end; later missed ticks are dropped),
//!   for at most `renew_deadline`. A round with no successful try by its deadline means the
//!   leader gives up at the deadline — [`Transition::StoppedLeading`]; upstream's
//!   controller-manager and scheduler then exit, and are restarted from scratch. An answer that
//!   arrives after the deadline is too late (upstream cancels the request).
//! * **A try** (`tryAcquireOrRenew`), one to three API calls on the lock: a leader whose lease
//!   is still valid first updates it blind (the fast path); otherwise, or if that fails, GET it:
//!   absent → CREATE it; held by another whose lease is still valid → the try fails; otherwise
//!   UPDATE it with itself as holder (counting a transition when taking it from another).
//! * **Validity** is judged on the local clock, never on the record's times: a lease is valid
//!   until `leaseDurationSeconds` after the moment this elector last *saw the record change*
//!   (or wrote it). So a standby takes over no sooner than a lease duration after it last saw
//!   the leader renew, and a leader gives up (after `renew_deadline`) before anyone may take
//!   over (after `lease_duration`): 15 s − 10 s = 5 s of margin by default.
//!
//! Releasing the lease on a graceful stop (`ReleaseOnCancel`) and the coordinated-election
//! variant are not modelled.

use rand::RngExt;

use crate::sim::{SimDuration, SimRng, SimTime};

/// How much a candidate's wait between tries is stretched at most: 1.2 × the retry period.
pub const JITTER_FACTOR: f64 = 1.2;

/// kube-controller-manager's and kube-scheduler's `--leader-elect-lease-duration` (15 s).
pub const DEFAULT_LEASE_DURATION: SimDuration = SimDuration::from_secs(15);
/// Their `--leader-elect-renew-deadline` (10 s).
pub const DEFAULT_RENEW_DEADLINE: SimDuration = SimDuration::from_secs(10);
/// Their `--leader-elect-retry-period` (2 s).
pub const DEFAULT_RETRY_PERIOD: SimDuration = SimDuration::from_secs(2);

/// The timing of an election (`LeaderElectionConfiguration`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// How long others wait, from when they last saw the lease change, before taking it.
    pub lease_duration: SimDuration,
    /// How long a leader's renewal round may go on failing before it gives up.
    pub renew_deadline: SimDuration,
    /// The time between tries.
    pub retry_period: SimDuration,
}

impl Default for LeaderElectionConfig {
    fn default() -> Self {
        LeaderElectionConfig {
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }
}

/// Timings upstream refuses (`NewLeaderElector`'s checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaderElectionError {
    /// `leaseDuration must be greater than renewDeadline`.
    #[error(
        "lease duration {lease_duration} must be greater than the renew deadline {renew_deadline}"
    )]
    LeaseNotLongerThanDeadline {
        /// The lease duration.
        lease_duration: SimDuration,
        /// The renew deadline.
        renew_deadline: SimDuration,
    },
    /// `renewDeadline must be greater than retryPeriod*JitterFactor`.
    #[error(
        "renew deadline {renew_deadline} must be greater than 1.2 × the retry period {retry_period}"
    )]
    DeadlineNotLongerThanJitteredRetry {
        /// The renew deadline.
        renew_deadline: SimDuration,
        /// The retry period.
        retry_period: SimDuration,
    },
    /// A duration is zero.
    #[error("the lease duration, renew deadline and retry period must all be greater than zero")]
    ZeroDuration,
}

impl LeaderElectionConfig {
    /// Whether upstream accepts these timings.
    pub fn validate(&self) -> Result<(), LeaderElectionError> {
        if self.lease_duration <= self.renew_deadline {
            return Err(LeaderElectionError::LeaseNotLongerThanDeadline {
                lease_duration: self.lease_duration,
                renew_deadline: self.renew_deadline,
            });
        }
        // `time.Duration(JitterFactor * float64(RetryPeriod))`, truncated.
        let jittered =
            SimDuration::from_nanos((JITTER_FACTOR * self.retry_period.as_nanos() as f64) as u64);
        if self.renew_deadline <= jittered {
            return Err(LeaderElectionError::DeadlineNotLongerThanJitteredRetry {
                renew_deadline: self.renew_deadline,
                retry_period: self.retry_period,
            });
        }
        if self.lease_duration.is_zero()
            || self.renew_deadline.is_zero()
            || self.retry_period.is_zero()
        {
            return Err(LeaderElectionError::ZeroDuration);
        }
        Ok(())
    }

    /// `leaseDurationSeconds` as written into the record: whole seconds, truncated.
    pub fn lease_duration_seconds(&self) -> u32 {
        u32::try_from(self.lease_duration.as_nanos() / 1_000_000_000).unwrap_or(u32::MAX)
    }
}

/// Who holds a lease: the owner's mapping of `holderIdentity` strings to numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HolderId(pub u32);

/// The Lease's spec as the election reads and writes it (`LeaderElectionRecord`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderRecord {
    /// `holderIdentity` (`None`: released).
    pub holder: Option<HolderId>,
    /// `leaseDurationSeconds`.
    pub lease_duration_seconds: u32,
    /// `acquireTime`.
    pub acquire_time: SimTime,
    /// `renewTime`.
    pub renew_time: SimTime,
    /// `leaseTransitions`.
    pub leader_transitions: u32,
}

/// An API call on the lock the owner should send now, and answer with [`LeaderElector::on_reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockCall {
    /// GET the Lease.
    Get,
    /// CREATE the Lease with this record.
    Create(LeaderRecord),
    /// UPDATE the Lease to this record (against the version last read).
    Update(LeaderRecord),
}

/// How a lock call came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockReply {
    /// The GET found the Lease with this record.
    Got(LeaderRecord),
    /// The GET found no Lease.
    NotFound,
    /// The CREATE or UPDATE succeeded.
    Written,
    /// Any error (a conflict, a timeout, a refusal).
    Failed,
}

/// A change of leadership the owner must act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The lease is won: start the controllers.
    StartedLeading,
    /// The lease could not be renewed in time: stop the controllers (upstream, the process
    /// exits).
    StoppedLeading,
}

/// What the owner should do after an input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ElectorOutput {
    /// A lock call to send now.
    pub call: Option<LockCall>,
    /// When to call [`LeaderElector::on_timer`] (the elector's one pending wakeup).
    pub wake_at: Option<SimTime>,
    /// A change of leadership.
    pub transition: Option<Transition>,
}

/// Where an elector is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Trying to acquire the lease.
    Candidate,
    /// Holding it.
    Leader,
    /// Gave it up; a restarted component makes a new elector.
    Stopped,
}

/// The calls of one try made so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TryStep {
    /// The leader's blind update.
    FastUpdate(LeaderRecord),
    /// Reading the lock.
    Getting,
    /// Creating it with this record.
    Creating(LeaderRecord),
    /// Updating it to this record after reading it.
    SlowUpdate(LeaderRecord),
}

/// A try in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Try {
    /// When it started: the time written into the record and judged validity at.
    started: SimTime,
    step: TryStep,
}

/// A leader's renewal round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Round {
    /// Its start: ticks fall at start + k · retry period.
    start: SimTime,
    /// start + renew deadline.
    deadline: SimTime,
}

/// One component's elector.
#[derive(Clone, Debug)]
pub struct LeaderElector {
    config: LeaderElectionConfig,
    id: HolderId,
    role: Role,
    /// The record last seen or written, and when (the local clock validity counts from).
    observed: Option<LeaderRecord>,
    observed_at: SimTime,
    /// The try in flight.
    current: Option<Try>,
    /// When the next try starts, if none is in flight.
    next_try: Option<SimTime>,
    /// The leader's renewal round, while one goes on.
    round: Option<Round>,
}

impl LeaderElector {
    /// An elector for the component `id`, with timings upstream accepts.
    pub fn new(config: LeaderElectionConfig, id: HolderId) -> Result<Self, LeaderElectionError> {
        config.validate()?;
        Ok(LeaderElector {
            config,
            id,
            role: Role::Candidate,
            observed: None,
            observed_at: SimTime::ZERO,
            current: None,
            next_try: None,
            round: None,
        })
    }

    /// Where the elector is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the last record seen names this elector.
    pub fn is_leader(&self) -> bool {
        self.observed.and_then(|r| r.holder) == Some(self.id)
    }

    /// The record last seen or written.
    pub fn observed(&self) -> Option<LeaderRecord> {
        self.observed
    }

    /// Starts campaigning at `now`: the first try goes at once.
    pub fn start(&mut self, now: SimTime) -> ElectorOutput {
        if self.role != Role::Candidate || self.current.is_some() {
            return self.idle_output();
        }
        self.begin_try(now)
    }

    /// The answer to the last [`LockCall`] arrived at `now`.
    pub fn on_reply(&mut self, now: SimTime, reply: LockReply, rng: &mut SimRng) -> ElectorOutput {
        if let Some(out) = self.give_up_if_late(now) {
            return out;
        }
        let Some(current) = self.current else {
            return self.idle_output();
        };
        let step = match (current.step, reply) {
            (TryStep::FastUpdate(record), LockReply::Written)
            | (TryStep::Creating(record), LockReply::Written)
            | (TryStep::SlowUpdate(record), LockReply::Written) => {
                self.observe(record, now);
                return self.end_try(now, true, rng);
            }
            // The blind update failed: read the lock and try the slow way.
            (TryStep::FastUpdate(_), _) => TryStep::Getting,
            (TryStep::Getting, LockReply::NotFound) => {
                TryStep::Creating(self.record(current.started, 0))
            }
            (TryStep::Getting, LockReply::Got(record)) => {
                if self.observed != Some(record) {
                    self.observe(record, now);
                }
                if record.holder.is_some() && self.lease_valid(current.started) && !self.is_leader()
                {
                    return self.end_try(now, false, rng);
                }
                let mut mine = self.record(current.started, record.leader_transitions);
                if self.is_leader() {
                    mine.acquire_time = record.acquire_time;
                } else {
                    mine.leader_transitions = record.leader_transitions.saturating_add(1);
                }
                TryStep::SlowUpdate(mine)
            }
            _ => return self.end_try(now, false, rng),
        };
        self.current = Some(Try { step, ..current });
        ElectorOutput {
            call: Some(match step {
                TryStep::Getting => LockCall::Get,
                TryStep::Creating(r) => LockCall::Create(r),
                TryStep::FastUpdate(r) | TryStep::SlowUpdate(r) => LockCall::Update(r),
            }),
            wake_at: self.wake_at(),
            transition: None,
        }
    }

    /// A timer set for [`ElectorOutput::wake_at`] fired at `now`.
    pub fn on_timer(&mut self, now: SimTime) -> ElectorOutput {
        if let Some(out) = self.give_up_if_late(now) {
            return out;
        }
        match self.next_try {
            Some(at) if now >= at && self.current.is_none() => {
                if self.role == Role::Leader && self.round.is_none() {
                    self.round = Some(Round {
                        start: now,
                        deadline: now + self.config.renew_deadline,
                    });
                }
                self.begin_try(now)
            }
            _ => self.idle_output(),
        }
    }

    /// When the elector next needs [`LeaderElector::on_timer`]: the next try or, while a
    /// renewal round goes on, its deadline, whichever is first.
    pub fn wake_at(&self) -> Option<SimTime> {
        if self.role == Role::Stopped {
            return None;
        }
        let next_try = self.next_try.filter(|_| self.current.is_none());
        let deadline = self.round.map(|r| r.deadline);
        match (next_try, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn idle_output(&self) -> ElectorOutput {
        ElectorOutput {
            call: None,
            wake_at: self.wake_at(),
            transition: None,
        }
    }

    /// A leader whose round passed its deadline gives up, whatever is in flight.
    fn give_up_if_late(&mut self, now: SimTime) -> Option<ElectorOutput> {
        let round = self.round?;
        if self.role != Role::Leader || now < round.deadline {
            return None;
        }
        self.role = Role::Stopped;
        self.current = None;
        self.next_try = None;
        self.round = None;
        Some(ElectorOutput {
            call: None,
            wake_at: None,
            transition: Some(Transition::StoppedLeading),
        })
    }

    fn record(&self, at: SimTime, leader_transitions: u32) -> LeaderRecord {
        LeaderRecord {
            holder: Some(self.id),
            lease_duration_seconds: self.config.lease_duration_seconds(),
            acquire_time: at,
            renew_time: at,
            leader_transitions,
        }
    }

    fn observe(&mut self, record: LeaderRecord, now: SimTime) {
        self.observed = Some(record);
        self.observed_at = now;
    }

    /// Whether the record seen is still valid at `t`, by the local clock.
    fn lease_valid(&self, t: SimTime) -> bool {
        let seconds = self.observed.map_or(0, |r| r.lease_duration_seconds);
        self.observed_at + SimDuration::from_secs(u64::from(seconds)) > t
    }

    fn begin_try(&mut self, now: SimTime) -> ElectorOutput {
        self.next_try = None;
        let (step, call) = if self.is_leader() && self.lease_valid(now) {
            let observed = self.observed.unwrap_or_else(|| self.record(now, 0));
            let mut mine = self.record(now, observed.leader_transitions);
            mine.acquire_time = observed.acquire_time;
            (TryStep::FastUpdate(mine), LockCall::Update(mine))
        } else {
            (TryStep::Getting, LockCall::Get)
        };
        self.current = Some(Try { started: now, step });
        ElectorOutput {
            call: Some(call),
            wake_at: self.wake_at(),
            transition: None,
        }
    }

    fn end_try(&mut self, now: SimTime, won: bool, rng: &mut SimRng) -> ElectorOutput {
        let started = self.current.map_or(now, |t| t.started);
        self.current = None;
        match (self.role, won) {
            (Role::Candidate, true) => {
                // Leading: the first renewal round starts at once.
                self.role = Role::Leader;
                self.round = Some(Round {
                    start: now,
                    deadline: now + self.config.renew_deadline,
                });
                let mut out = self.begin_try(now);
                out.transition = Some(Transition::StartedLeading);
                out
            }
            (Role::Candidate, false) => {
                let u: f64 = rng.random();
                let period = self.config.retry_period;
                let extra = u * JITTER_FACTOR * period.as_nanos() as f64;
                self.next_try = Some(now + period + SimDuration::from_nanos(extra as u64));
                self.idle_output()
            }
            (Role::Leader, true) => {
                self.round = None;
                self.next_try = Some(now + self.config.retry_period);
                self.idle_output()
            }
            (Role::Leader, false) => {
                if let Some(round) = self.round {
                    let next = now.max(next_tick_after(
                        round.start,
                        started,
                        self.config.retry_period,
                    ));
                    if next < round.deadline {
                        self.next_try = Some(next);
                    }
                }
                self.idle_output()
            }
            (Role::Stopped, _) => self.idle_output(),
        }
    }
}

/// The first tick of a round started at `start` strictly after `t`.
fn next_tick_after(start: SimTime, t: SimTime, period: SimDuration) -> SimTime {
    let p = period.as_nanos().max(1);
    let k = t.saturating_since(start).as_nanos() / p + 1;
    start + SimDuration::from_nanos(k.saturating_mul(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    const ME: HolderId = HolderId(1);
    const OTHER: HolderId = HolderId(2);

    fn ms(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(n)
    }

    fn elector(id: HolderId) -> LeaderElector {
        match LeaderElector::new(LeaderElectionConfig::default(), id) {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn upstream_checks_the_timings() {
        let ok = LeaderElectionConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.lease_duration_seconds(), 15);
        let same = LeaderElectionConfig {
            renew_deadline: SimDuration::from_secs(15),
            ..ok
        };
        assert!(matches!(
            same.validate(),
            Err(LeaderElectionError::LeaseNotLongerThanDeadline { .. })
        ));
        // 1.2 × 2 s = 2.4 s: a deadline of 2.4 s is not greater; 2.5 s is.
        let tight = LeaderElectionConfig {
            renew_deadline: SimDuration::from_millis(2400),
            ..ok
        };
        assert!(matches!(
            tight.validate(),
            Err(LeaderElectionError::DeadlineNotLongerThanJitteredRetry { .. })
        ));
        let fine = LeaderElectionConfig {
            renew_deadline: SimDuration::from_millis(2500),
            ..ok
        };
        assert_eq!(fine.validate(), Ok(()));
    }

    #[test]
    fn wins_a_missing_lease_then_renews_every_retry_period() {
        let mut rng = stream(3, "client/leader-election");
        let mut e = elector(ME);
        // 0 s: GET; 10 ms: not found → CREATE, written at 20 ms: leading.
        assert_eq!(e.start(ms(0)).call, Some(LockCall::Get));
        let create = e.on_reply(ms(10), LockReply::NotFound, &mut rng);
        let Some(LockCall::Create(record)) = create.call else {
            panic!("a missing lease is created");
        };
        assert_eq!(record.holder, Some(ME));
        assert_eq!(record.acquire_time, ms(0));
        assert_eq!(record.lease_duration_seconds, 15);
        let won = e.on_reply(ms(20), LockReply::Written, &mut rng);
        assert_eq!(won.transition, Some(Transition::StartedLeading));
        // The first renewal round starts at once, with the blind update (the lease is ours and
        // valid); its deadline 20 ms + 10 s is the wakeup meanwhile.
        assert!(matches!(won.call, Some(LockCall::Update(_))));
        assert_eq!(won.wake_at, Some(ms(10_020)));
        // Written at 30 ms: the next round 2 s after, at 2.03 s.
        let renewed = e.on_reply(ms(30), LockReply::Written, &mut rng);
        assert_eq!(renewed.wake_at, Some(ms(2030)));
        let round = e.on_timer(ms(2030));
        let Some(LockCall::Update(r)) = round.call else {
            panic!("a renewal is a blind update");
        };
        // renewTime is the try's start; acquireTime stays the first one.
        assert_eq!((r.renew_time, r.acquire_time), (ms(2030), ms(0)));
        assert_eq!(e.role(), Role::Leader);
    }

    #[test]
    fn a_leader_that_cannot_renew_for_the_renew_deadline_stops_leading() {
        let mut rng = stream(3, "client/leader-election");
        let mut e = elector(ME);
        e.start(ms(0));
        e.on_reply(ms(0), LockReply::NotFound, &mut rng);
        e.on_reply(ms(0), LockReply::Written, &mut rng); // leading; renewal round at 0 s
        e.on_reply(ms(100), LockReply::Written, &mut rng); // renewed at 100 ms
        // The round starting at 2.1 s: deadline 12.1 s; ticks at 4.1, 6.1, 8.1, 10.1 s.
        // Each try's blind update fails, then its GET fails 50 ms later.
        let mut tries = Vec::new();
        let mut now = ms(2100);
        let out = e.on_timer(now);
        assert_eq!(out.wake_at, Some(ms(12_100)));
        loop {
            tries.push(now);
            e.on_reply(
                now + SimDuration::from_millis(50),
                LockReply::Failed,
                &mut rng,
            );
            let out = e.on_reply(
                now + SimDuration::from_millis(100),
                LockReply::Failed,
                &mut rng,
            );
            let Some(wake) = out.wake_at else {
                panic!("a failing leader still has a wakeup");
            };
            if wake == ms(12_100) {
                break;
            }
            now = wake;
            assert!(e.on_timer(now).call.is_some());
        }
        // Five tries: at the round's start and at the four ticks before the deadline.
        assert_eq!(tries, [ms(2100), ms(4100), ms(6100), ms(8100), ms(10_100)]);
        // At 12.1 s the round is over: stop leading (10 s after the round began, still 5 s
        // before a standby that saw the 100 ms renewal may take the lease, at 15.1 s).
        let out = e.on_timer(ms(12_100));
        assert_eq!(out.transition, Some(Transition::StoppedLeading));
        assert_eq!(e.role(), Role::Stopped);
        assert_eq!(e.wake_at(), None);
    }

    #[test]
    fn a_slow_try_delays_the_next_tick_and_a_late_answer_is_too_late() {
        let mut rng = stream(3, "client/leader-election");
        let mut e = elector(ME);
        e.start(ms(0));
        e.on_reply(ms(0), LockReply::NotFound, &mut rng);
        e.on_reply(ms(0), LockReply::Written, &mut rng);
        // The renewal round started at 0 s (deadline 10 s). Its try fails after 2.5 s: the
        // tick at 2 s was missed, so the next try goes at once, at 2.5 s; it fails at 3 s and
        // the one after waits for the 4 s tick.
        let out = e.on_reply(ms(2500), LockReply::Failed, &mut rng);
        assert_eq!(out.call, Some(LockCall::Get));
        let out = e.on_reply(ms(2500), LockReply::Failed, &mut rng);
        assert_eq!(out.wake_at, Some(ms(2500)));
        assert!(e.on_timer(ms(2500)).call.is_some());
        e.on_reply(ms(3000), LockReply::Failed, &mut rng);
        let out = e.on_reply(ms(3000), LockReply::Failed, &mut rng);
        assert_eq!(out.wake_at, Some(ms(4000)));
        // The 4 s try hangs; its answer comes at 10.5 s, after the deadline: too late.
        assert!(e.on_timer(ms(4000)).call.is_some());
        let late = e.on_reply(ms(10_500), LockReply::Written, &mut rng);
        assert_eq!(late.transition, Some(Transition::StoppedLeading));
    }

    #[test]
    fn a_candidate_waits_for_the_lease_to_expire_by_its_own_clock() {
        let mut rng = stream(3, "client/leader-election");
        let mut check = stream(3, "client/leader-election");
        let mut e = elector(ME);
        let held = LeaderRecord {
            holder: Some(OTHER),
            lease_duration_seconds: 15,
            acquire_time: ms(0),
            renew_time: ms(0),
            leader_transitions: 3,
        };
        e.start(ms(1000));
        // Seen at 1 s: valid by our clock until 16 s. The try fails; the next one waits
        // 2 s + u · 1.2 · 2 s, u the stream's first draw: in [2 s, 4.4 s).
        let out = e.on_reply(ms(1000), LockReply::Got(held), &mut rng);
        let u: f64 = check.random();
        let expected = ms(3000) + SimDuration::from_nanos((u * 1.2 * 2e9) as u64);
        assert_eq!(out.wake_at, Some(expected));
        assert!(expected >= ms(3000) && expected < ms(5400));
        // Keep seeing the same record (the holder has stopped renewing): at 15.9 s still
        // valid (1 s + 15 s = 16 s > 15.9 s).
        e.on_timer(ms(15_900));
        let out = e.on_reply(ms(15_900), LockReply::Got(held), &mut rng);
        assert_eq!(out.call, None);
        let _: f64 = check.random();
        // At 16 s it is not (16 s > 16 s is false): take it over, one more transition.
        e.next_try = Some(ms(16_000));
        e.on_timer(ms(16_000));
        let out = e.on_reply(ms(16_000), LockReply::Got(held), &mut rng);
        let Some(LockCall::Update(mine)) = out.call else {
            panic!("an expired lease is taken over");
        };
        assert_eq!(mine.holder, Some(ME));
        assert_eq!(mine.leader_transitions, 4);
        assert_eq!(mine.acquire_time, ms(16_000));
        let won = e.on_reply(ms(16_010), LockReply::Written, &mut rng);
        assert_eq!(won.transition, Some(Transition::StartedLeading));
    }

    #[test]
    fn a_renewed_lease_restarts_the_candidates_clock() {
        let mut rng = stream(3, "client/leader-election");
        let mut e = elector(ME);
        let mut held = LeaderRecord {
            holder: Some(OTHER),
            lease_duration_seconds: 15,
            acquire_time: ms(0),
            renew_time: ms(0),
            leader_transitions: 0,
        };
        e.start(ms(0));
        e.on_reply(ms(0), LockReply::Got(held), &mut rng);
        // At 14 s the record has changed (renewed): valid again until 29 s.
        held.renew_time = ms(13_000);
        e.next_try = Some(ms(14_000));
        e.on_timer(ms(14_000));
        e.on_reply(ms(14_000), LockReply::Got(held), &mut rng);
        e.next_try = Some(ms(28_999));
        e.on_timer(ms(28_999));
        assert_eq!(
            e.on_reply(ms(28_999), LockReply::Got(held), &mut rng).call,
            None
        );
        e.next_try = Some(ms(29_000));
        e.on_timer(ms(29_000));
        assert!(matches!(
            e.on_reply(ms(29_000), LockReply::Got(held), &mut rng).call,
            Some(LockCall::Update(_))
        ));
    }
}
