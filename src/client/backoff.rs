//! The jittered exponential backoff of apimachinery's `wait` package, as client-go's reflector
//! uses it between list-and-watch rounds: 800 ms doubling to 30 s, each delay stretched by a
//! random 0–100 %, reset after 2 minutes.
//!
//! * **A step** (`wait.Backoff.Step` / `delay`): the delay handed out is the *current* duration
//!   jittered — `d + ⌊u · jitter · d⌋` ns with `u` uniform in [0, 1) — and the duration kept for
//!   next time is `⌊d · factor⌋`, or the cap once that would pass the cap (from then on the
//!   duration stays at the cap and only the jitter varies). Jitter never feeds back into the
//!   duration, and it is applied *after* the cap: with the reflector's jitter of 1.0 a capped
//!   delay lies in [30 s, 60 s).
//! * **Steps.** Each step spends one of `steps`; with none left the duration no longer changes.
//!   The reflector's `⌈30 s / 800 ms⌉ = 38` steps always outlast the six doublings to the cap.
//! * **Reset** back to the initial duration, two rules, both checked at the start of a step with
//!   a strict `>`:
//!   - [`ResetRule::Periodic`] (client-go v1.36 and later, `Backoff.DelayWithReset`): when more
//!     than `reset_after` has passed since the backoff was made or last reset, *whether or not
//!     steps were taken meanwhile*, so a reflector failing without pause still drops back to
//!     800 ms every two minutes;
//!   - [`ResetRule::Idle`] (v1.35 and earlier, `NewExponentialBackoffManager`): when more than
//!     `reset_after` has passed since the previous step, i.e. after two quiet minutes.
//!
//! The draw `u` comes from the caller's named stream; one draw per step when jitter is on,
//! none otherwise (as upstream draws only to jitter).

use rand::RngExt;

use crate::sim::{SimDuration, SimRng, SimTime};

/// When the backoff drops back to its initial duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetRule {
    /// Every `reset_after` since creation or the last reset (client-go ≥ v1.36).
    Periodic,
    /// After `reset_after` without a step (client-go ≤ v1.35).
    Idle,
}

/// The parameters of a backoff (`wait.Backoff` plus the reset interval).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackoffParams {
    /// The first duration.
    pub initial: SimDuration,
    /// What the duration is multiplied by at each step (0: constant).
    pub factor: f64,
    /// The most random stretch, as a share of the duration (0: none).
    pub jitter: f64,
    /// Steps in which the duration may still change.
    pub steps: u32,
    /// The largest duration before jitter (zero: no cap).
    pub cap: SimDuration,
    /// How long until the backoff resets (zero: every step starts from `initial`).
    pub reset_after: SimDuration,
    /// Which reset rule applies.
    pub reset: ResetRule,
}

impl BackoffParams {
    /// The reflector's backoff in current client-go (`tools/cache/reflector.go`: 800 ms, ×2,
    /// jitter 1.0, cap 30 s, ⌈30 s / 800 ms⌉ = 38 steps, periodic reset every 2 min).
    pub const REFLECTOR: BackoffParams = BackoffParams {
        initial: SimDuration::from_millis(800),
        factor: 2.0,
        jitter: 1.0,
        steps: 38,
        cap: SimDuration::from_secs(30),
        reset_after: SimDuration::from_mins(2),
        reset: ResetRule::Periodic,
    };

    /// The reflector's backoff up to client-go v1.35
    /// (`wait.NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0)`: unlimited steps,
    /// reset after two minutes without a step).
    pub const REFLECTOR_BEFORE_1_36: BackoffParams = BackoffParams {
        steps: i32::MAX as u32,
        reset: ResetRule::Idle,
        ..BackoffParams::REFLECTOR
    };
}

/// A backoff's state: the duration of the next step and the steps left.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    params: BackoffParams,
    duration: SimDuration,
    steps: u32,
    /// Since when the reset interval is counted: the last reset ([`ResetRule::Periodic`]) or
    /// the last step ([`ResetRule::Idle`]), at first the backoff's creation.
    anchor: SimTime,
}

impl Backoff {
    /// A backoff made at `now`.
    pub fn new(params: BackoffParams, now: SimTime) -> Self {
        Backoff {
            params,
            duration: params.initial,
            steps: params.steps,
            anchor: now,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &BackoffParams {
        &self.params
    }

    /// The duration the next step starts from, before jitter (and before any reset).
    pub fn current(&self) -> SimDuration {
        self.duration
    }

    /// The delay to wait from `now`, jittered with a draw from `rng`.
    pub fn next(&mut self, now: SimTime, rng: &mut SimRng) -> SimDuration {
        let fraction = if self.params.jitter > 0.0 {
            rng.random::<f64>()
        } else {
            0.0
        };
        self.next_with(now, fraction)
    }

    /// The delay to wait from `now`, with `fraction` (in [0, 1)) as the jitter draw.
    pub fn next_with(&mut self, now: SimTime, fraction: f64) -> SimDuration {
        let since = now.saturating_since(self.anchor);
        match self.params.reset {
            ResetRule::Periodic => {
                if self.params.reset_after.is_zero() || since > self.params.reset_after {
                    self.reset();
                    self.anchor = now;
                }
            }
            ResetRule::Idle => {
                if since > self.params.reset_after {
                    self.reset();
                }
                self.anchor = now;
            }
        }
        self.step(fraction)
    }

    fn reset(&mut self) {
        self.duration = self.params.initial;
        self.steps = self.params.steps;
    }

    /// One step of `wait.Backoff`: the jittered current duration out, the next one kept.
    fn step(&mut self, fraction: f64) -> SimDuration {
        let current = self.duration;
        if self.steps == 0 {
            return jittered(current, self.params.jitter, fraction);
        }
        self.steps -= 1;
        if self.params.factor != 0.0 {
            // `time.Duration(float64(d) * factor)`: truncated toward zero (saturating here).
            let mut next =
                SimDuration::from_nanos((current.as_nanos() as f64 * self.params.factor) as u64);
            if !self.params.cap.is_zero() && next > self.params.cap {
                next = self.params.cap;
                self.steps = 0;
            }
            self.duration = next;
        }
        jittered(current, self.params.jitter, fraction)
    }
}

/// `wait.Jitter`: `d` plus `fraction · jitter · d`, truncated to whole nanoseconds, the factors
/// multiplied in upstream's order so the float rounds the same.
fn jittered(d: SimDuration, jitter: f64, fraction: f64) -> SimDuration {
    if jitter <= 0.0 {
        return d;
    }
    let extra = fraction * jitter * d.as_nanos() as f64;
    d + SimDuration::from_nanos(extra as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn at_secs(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(n)
    }

    #[test]
    fn doubles_from_800ms_to_the_30s_cap_then_jitter_alone_varies() {
        // With no jitter drawn (u = 0), steps one second apart (no reset): 0.8, 1.6, 3.2, 6.4,
        // 12.8, 25.6 s; 25.6 × 2 = 51.2 s passes the cap, so 30 s from then on.
        let mut b = Backoff::new(BackoffParams::REFLECTOR, SimTime::ZERO);
        let delays: Vec<SimDuration> = (1..=9).map(|s| b.next_with(at_secs(s), 0.0)).collect();
        assert_eq!(
            delays,
            [
                800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000, 30_000
            ]
            .map(ms)
        );
    }

    #[test]
    fn jitter_stretches_each_delay_by_up_to_100_percent_after_the_cap() {
        // u = 0.5 stretches by half: 0.8 → 1.2 s, 1.6 → 2.4 s, …, 25.6 → 38.4 s; the capped
        // 30 s → 45 s. u = 0.999 takes 30 s to 30 s + 29.97 s = 59.97 s: never 60 s.
        let mut b = Backoff::new(BackoffParams::REFLECTOR, SimTime::ZERO);
        let delays: Vec<SimDuration> = (1..=7).map(|s| b.next_with(at_secs(s), 0.5)).collect();
        assert_eq!(
            delays,
            [1200, 2400, 4800, 9600, 19_200, 38_400, 45_000].map(ms)
        );
        assert_eq!(b.next_with(at_secs(8), 0.999), ms(59_970));
        // Jitter did not feed back: the duration kept is still the cap.
        assert_eq!(b.current(), ms(30_000));
    }

    #[test]
    fn the_reflector_sequence_for_a_fixed_seed() {
        // The first eight draws u of stream (seed 7, "client/reflector-backoff"), pinned below,
        // one per step; each delay is base + ⌊u · base⌋ ns, with the bases of the doubling:
        //   u1 0.86509964… × 800 ms    =    692.079718… ms →  1.492079718 s
        //   u2 0.47361949… × 1.6 s     =    757.791185… ms →  2.357791185 s
        //   u3 0.59261691… × 3.2 s     =  1 896.374116… ms →  5.096374116 s
        //   u4 0.15409236… × 6.4 s     =    986.191109… ms →  7.386191109 s
        //   u5 0.39841566… × 12.8 s    =  5 099.720493… ms → 17.899720493 s
        //   u6 0.28731031… × 25.6 s    =  7 355.143959… ms → 32.955143959 s (25.6 × 2 > 30: capped)
        //   u7 0.20344431… × 30 s      =  6 103.329509… ms → 36.103329509 s
        //   u8 0.51071431… × 30 s      = 15 321.429537… ms → 45.321429537 s
        // The draws are checked too, so a change of the stream's derivation fails here.
        let mut rng = stream(7, "client/reflector-backoff");
        let mut check = stream(7, "client/reflector-backoff");
        let draws: Vec<f64> = (0..8).map(|_| check.random::<f64>()).collect();
        assert_eq!(draws, PINNED_DRAWS);
        let bases = [800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000].map(ms);
        let mut b = Backoff::new(BackoffParams::REFLECTOR, SimTime::ZERO);
        for (i, (&base, &u)) in bases.iter().zip(&PINNED_DRAWS).enumerate() {
            let expected = base + SimDuration::from_nanos((u * base.as_nanos() as f64) as u64);
            let got = b.next_with(at_secs(i as u64 + 1), u);
            assert_eq!(got, expected, "step {}", i + 1);
            assert!(got >= base && got < base + base);
        }
        // And through the stream itself: the same sequence.
        let mut b = Backoff::new(BackoffParams::REFLECTOR, SimTime::ZERO);
        let through_stream: Vec<SimDuration> =
            (1..=8).map(|s| b.next(at_secs(s), &mut rng)).collect();
        assert_eq!(
            through_stream,
            PINNED_SEQUENCE_NANOS.map(SimDuration::from_nanos)
        );
    }

    const PINNED_DRAWS: [f64; 8] = [
        0.8650996475645941,
        0.4736194909607254,
        0.5926169114388778,
        0.15409236089937972,
        0.3984156635266086,
        0.2873103109283639,
        0.2034443169780964,
        0.5107143179308948,
    ];
    const PINNED_SEQUENCE_NANOS: [u64; 8] = [
        1_492_079_718,
        2_357_791_185,
        5_096_374_116,
        7_386_191_109,
        17_899_720_493,
        32_955_143_959,
        36_103_329_509,
        45_321_429_537,
    ];

    #[test]
    fn current_client_go_resets_every_two_minutes_even_while_failing() {
        // Made at 0 s; a step every 10 s. Steps at 10 … 120 s are within 2 min of the anchor
        // (0 s): 0.8, 1.6, …, 25.6, then 30 s. At 130 s, 130 s > 120 s since the anchor: reset
        // to 0.8 s and the anchor moves to 130 s; the next reset is after 250 s.
        let mut b = Backoff::new(BackoffParams::REFLECTOR, SimTime::ZERO);
        let mut last = SimDuration::ZERO;
        for s in (10..=120).step_by(10) {
            last = b.next_with(at_secs(s), 0.0);
        }
        assert_eq!(last, ms(30_000));
        assert_eq!(b.next_with(at_secs(130), 0.0), ms(800));
        assert_eq!(b.next_with(at_secs(250), 0.0), ms(1600));
        // 250 s is exactly 120 s after 130 s: not more, no reset. 251 s is.
        assert_eq!(b.next_with(at_secs(251), 0.0), ms(800));
    }

    #[test]
    fn older_client_go_resets_only_after_two_quiet_minutes() {
        // Steps every 10 s never leave 2 min between two steps: no reset, however long.
        let mut b = Backoff::new(BackoffParams::REFLECTOR_BEFORE_1_36, SimTime::ZERO);
        let mut last = SimDuration::ZERO;
        for s in (10..=300).step_by(10) {
            last = b.next_with(at_secs(s), 0.0);
        }
        assert_eq!(last, ms(30_000));
        // Exactly 120 s after the last step: not more than 2 min, still 30 s.
        assert_eq!(b.next_with(at_secs(420), 0.0), ms(30_000));
        // 121 s after it: reset to 800 ms.
        assert_eq!(b.next_with(at_secs(541), 0.0), ms(800));
    }

    #[test]
    fn no_factor_or_no_jitter_keeps_it_constant() {
        let params = BackoffParams {
            initial: ms(500),
            factor: 0.0,
            jitter: 0.0,
            steps: 3,
            cap: SimDuration::ZERO,
            reset_after: SimDuration::from_mins(1),
            reset: ResetRule::Idle,
        };
        let mut b = Backoff::new(params, SimTime::ZERO);
        let mut rng = stream(1, "unused");
        for s in 1..=5 {
            assert_eq!(b.next(at_secs(s), &mut rng), ms(500));
        }
    }
}
