//! How the server's seats are divided among priority levels (upstream `apf_controller.go` and
//! `conc_alloc.go`).
//!
//! *Nominal limits.* Each level gets ⌈serverCL × shares / Σ shares⌉ seats (the ceiling makes
//! the nominal limits sum to a little more than the server's). It may lend
//! round(nominal × lendablePercent / 100) of them and borrow round(nominal ×
//! borrowingLimitPercent / 100), or up to serverCL when the percent is unset; so its current
//! limit stays within [minCL = nominal − lendable, maxCL = nominal + borrowing].
//!
//! *Borrowing.* Every 10 s each level's seat demand (seats executing plus seats waiting) over the
//! period is summarised: its high-water mark, and its time-weighted mean and standard
//! deviation, whose sum (the envelope) feeds an exponential smoothing that rises at once and
//! decays by 0.977 a period. Each non-exempt level is then due at least minCurrentCL =
//! max(minCL, min(nominal, high-water mark)) and asks for target = max(minCurrentCL,
//! smoothed). The exempt level's demand high-water mark is taken off the top. If what is left
//! covers the targets' lower bounds, the limits are the fair allocation: the one proportion p
//! such that Σ clamp(p × target, minCurrentCL, maxCL) equals the sum of nominal limits;
//! otherwise every level gets minCL, or its share of what is left above minCL. Each limit is
//! rounded to whole seats.

use super::config::{LevelShape, ResolvedLevel};
use crate::sim::SimTime;

/// The period of the borrowing adjustment.
pub const BORROWING_PERIOD_SECS: u64 = 10;
/// The smoothing coefficient of seat demand.
pub const SEAT_DEMAND_SMOOTHING: f64 = 0.977;
/// Targets below this are raised to it (avoids dividing by zero).
const MIN_TARGET: f64 = 0.001;
/// Upstream's tolerance when comparing sums of bounds to the required sum.
const EPSILON: f64 = 0.000_000_1;

/// A level's fixed limits, derived from its configuration and the server's concurrency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelLimits {
    /// Nominal limit (seats).
    pub nominal: u32,
    /// Lower limit: nominal − lendable.
    pub min: u32,
    /// Upper limit: nominal + borrowable.
    pub max: u32,
    /// The starting current limit: nominal − lendable / 2 (replaced at once by the first
    /// allocation, as upstream replaces it when the configuration is digested).
    pub initial: u32,
}

/// Go's `math.Round` of `value × percent / 100` for non-negative integers: half away from zero.
fn round_percent(value: u32, percent: u32) -> u32 {
    let scaled = u64::from(value) * u64::from(percent);
    ((scaled * 2 + 100) / 200) as u32
}

/// The limits of every level, in the order given, for `server_limit` seats.
pub fn level_limits(levels: &[ResolvedLevel], server_limit: u32) -> Vec<LevelLimits> {
    let share_sum: u64 = levels.iter().map(|l| u64::from(l.shares)).sum();
    levels
        .iter()
        .map(|l| {
            // ⌈serverCL × shares / Σ shares⌉ in integers, exact where upstream uses a float.
            let nominal = if share_sum == 0 {
                0
            } else {
                (u64::from(server_limit) * u64::from(l.shares)).div_ceil(share_sum) as u32
            };
            let lendable = round_percent(nominal, l.lendable_percent);
            let borrowing = match (l.shape, l.borrowing_limit_percent) {
                (_, Some(p)) => round_percent(nominal, p),
                (_, None) => server_limit,
            };
            LevelLimits {
                nominal,
                min: nominal - lendable,
                max: nominal.saturating_add(borrowing),
                initial: nominal - lendable / 2,
            }
        })
        .collect()
}

/// A time-weighted integrator of one level's seat demand (upstream `fairqueuing/integrator.go`),
/// in integers: the sums of x·dt and x²·dt over nanoseconds, so that the statistics of a
/// period come out the same on every machine.
#[derive(Clone, Debug)]
pub struct DemandIntegrator {
    last: SimTime,
    value: u64,
    elapsed: u128,
    sum_x: u128,
    sum_xx: u128,
    max: u64,
}

/// What a period of seat demand came to.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DemandStats {
    /// Seconds integrated.
    pub duration_secs: f64,
    /// Time-weighted mean.
    pub average: f64,
    /// Time-weighted standard deviation.
    pub std_dev: f64,
    /// Highest value in the period (including the value at its start).
    pub high_watermark: u64,
}

impl DemandIntegrator {
    /// An integrator starting at `now` with demand 0.
    pub fn new(now: SimTime) -> Self {
        DemandIntegrator {
            last: now,
            value: 0,
            elapsed: 0,
            sum_x: 0,
            sum_xx: 0,
            max: 0,
        }
    }

    fn advance(&mut self, now: SimTime) {
        let dt = u128::from(now.saturating_since(self.last).as_nanos());
        self.last = self.last.max(now);
        let x = u128::from(self.value);
        self.elapsed += dt;
        self.sum_x += x * dt;
        self.sum_xx += x * x * dt;
    }

    /// The demand is `value` from `now` on.
    pub fn set(&mut self, now: SimTime, value: u64) {
        self.advance(now);
        self.value = value;
        self.max = self.max.max(value);
    }

    /// The period's statistics; starts the next period at `now` with the current value.
    pub fn reset(&mut self, now: SimTime) -> DemandStats {
        self.advance(now);
        let stats = if self.elapsed == 0 {
            DemandStats {
                high_watermark: self.max,
                ..DemandStats::default()
            }
        } else {
            let t = self.elapsed as f64;
            let average = self.sum_x as f64 / t;
            let variance = self.sum_xx as f64 / t - average * average;
            DemandStats {
                duration_secs: t / 1e9,
                average,
                // A variance a rounding below zero is zero (upstream: NaN, then 0).
                std_dev: if variance > 0.0 { variance.sqrt() } else { 0.0 },
                high_watermark: self.max,
            }
        };
        self.elapsed = 0;
        self.sum_x = 0;
        self.sum_xx = 0;
        self.max = self.value;
        stats
    }
}

/// A level's smoothed seat demand, carried from period to period.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SeatDemand {
    /// The last period's statistics.
    pub last: DemandStats,
    /// The smoothed envelope.
    pub smoothed: f64,
}

impl SeatDemand {
    /// Takes in a period's statistics. A period of no length changes only the high-water mark.
    pub fn update(&mut self, stats: DemandStats) {
        self.last.high_watermark = stats.high_watermark;
        if stats.duration_secs <= 0.0 {
            return;
        }
        self.last = stats;
        let envelope = stats.average + stats.std_dev;
        self.smoothed = envelope
            .max(SEAT_DEMAND_SMOOTHING * self.smoothed + (1.0 - SEAT_DEMAND_SMOOTHING) * envelope);
    }
}

/// One class of the fair allocation problem.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AllocItem {
    /// What it would like.
    pub target: f64,
    /// What it must get.
    pub lower: f64,
    /// What it may get at most.
    pub upper: f64,
}

/// Why an allocation problem has no solution.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AllocError {
    /// Bounds out of order, or a target below its lower bound.
    #[error("class {0} has bounds out of order")]
    BadBounds(usize),
    /// The lower bounds exceed the sum.
    #[error("lower bounds sum to {0}, above the required {1}")]
    LowerTooHigh(f64, f64),
    /// The upper bounds fall short of the sum.
    #[error("upper bounds sum to {0}, below the required {1}")]
    UpperTooLow(f64, f64),
}

/// Solves the fair allocation problem: allocations summing to `required`, each within its
/// bounds, each equal to p × target unless a bound binds. Returns the allocations and p.
///
/// The allocated sum grows piecewise linearly with p; its breakpoints are where p × target
/// meets a bound, i.e. the bounds divided by the target. Walking the breakpoints in order,
/// keeping the sum of the targets of the classes not held at a bound, finds the segment where
/// the sum reaches `required`, and p within it.
pub fn allocate(required: f64, items: &[AllocItem]) -> Result<(Vec<f64>, f64), AllocError> {
    let mut low_sum = 0.0;
    let mut high_sum = 0.0;
    let mut targets = Vec::with_capacity(items.len());
    // (breakpoint p, index, whether it is the lower bound).
    let mut breaks = Vec::with_capacity(items.len() * 2);
    for (i, item) in items.iter().enumerate() {
        if item.lower < 0.0 || item.target < item.lower || item.upper < item.lower {
            return Err(AllocError::BadBounds(i));
        }
        let target = item.target.max(MIN_TARGET);
        low_sum += item.lower;
        high_sum += item.upper;
        targets.push(target);
        breaks.push((item.lower / target, i, true));
        breaks.push((item.upper / target, i, false));
    }
    if low_sum - required > EPSILON {
        return Err(AllocError::LowerTooHigh(low_sum, required));
    }
    if required - high_sum > EPSILON {
        return Err(AllocError::UpperTooLow(high_sum, required));
    }
    let lb_min = breaks
        .iter()
        .filter(|b| b.2)
        .map(|b| b.0)
        .fold(f64::INFINITY, f64::min);
    let ub_max = breaks
        .iter()
        .filter(|b| !b.2)
        .map(|b| b.0)
        .fold(0.0, f64::max);
    if required == 0.0 || items.is_empty() {
        return Ok((vec![0.0; items.len()], 0.0));
    }
    if low_sum - required > -EPSILON {
        return Ok((items.iter().map(|i| i.lower).collect(), lb_min));
    }
    if required - high_sum > -EPSILON {
        return Ok((items.iter().map(|i| i.upper).collect(), ub_max));
    }
    // When no bound binds, p is simply the required sum over the targets' sum.
    let target_sum: f64 = targets.iter().sum();
    let lb_max = breaks
        .iter()
        .filter(|b| b.2)
        .map(|b| b.0)
        .fold(0.0, f64::max);
    let ub_min = breaks
        .iter()
        .filter(|b| !b.2)
        .map(|b| b.0)
        .fold(f64::INFINITY, f64::min);
    let simple = required / target_sum;
    if lb_max <= simple && simple <= ub_min {
        return Ok((targets.iter().map(|t| t * simple).collect(), simple));
    }
    // Stable order by breakpoint, then class, so equal breakpoints are taken the same way on
    // every run (they are all passed together, so the answer does not depend on it).
    breaks.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut p = lb_min;
    let mut sum = low_sum;
    let mut free_target = 0.0; // Σ target of classes between their bounds at p.
    let mut k = 0;
    while sum < required && k < breaks.len() {
        // Take in every breakpoint at or below p.
        while k < breaks.len() && breaks[k].0 <= p {
            let (_, i, lower) = breaks[k];
            if lower {
                free_target += targets[i];
            } else {
                free_target -= targets[i];
            }
            k += 1;
        }
        let next = breaks.get(k).map_or(f64::INFINITY, |b| b.0);
        if free_target <= 0.0 {
            p = next;
            continue;
        }
        let reach = p + (required - sum) / free_target;
        if reach <= next {
            p = reach;
            break;
        }
        sum += (next - p) * free_target;
        p = next;
    }
    let allocs = items
        .iter()
        .zip(&targets)
        .map(|(item, &t)| (p * t).clamp(item.lower, item.upper))
        .collect();
    Ok((allocs, p))
}

/// One level's inputs to a borrowing adjustment.
#[derive(Clone, Copy, Debug)]
pub struct BorrowInput {
    /// The level's limits.
    pub limits: LevelLimits,
    /// Whether it is the exempt level.
    pub exempt: bool,
    /// Its demand, already updated with the period's statistics.
    pub demand: SeatDemand,
    /// Its current limit before the adjustment (kept if the problem has no solution).
    pub current: u32,
}

/// The current limits after a borrowing adjustment, one per input, and the fair proportion
/// (0 when the levels are held at or near their lower limits).
pub fn adjust(inputs: &[BorrowInput]) -> (Vec<u32>, f64) {
    let nominal_sum: i64 = inputs.iter().map(|i| i64::from(i.limits.nominal)).sum();
    let mut remaining = nominal_sum;
    let mut min_sum: i64 = 0;
    let mut min_current_sum: i64 = 0;
    let mut items = Vec::with_capacity(inputs.len());
    let mut min_currents = Vec::with_capacity(inputs.len());
    for input in inputs {
        let hw = i64::try_from(input.demand.last.high_watermark).unwrap_or(i64::MAX);
        let (min, nominal) = (i64::from(input.limits.min), i64::from(input.limits.nominal));
        if input.exempt {
            // Exempt demand is served whatever happens; take it off the top.
            let min_current = min.max(hw);
            remaining -= min_current;
            min_currents.push(min_current);
        } else {
            let min_current = min.max(nominal.min(hw));
            min_currents.push(min_current);
            items.push(AllocItem {
                lower: min_current as f64,
                upper: f64::from(input.limits.max),
                target: (min_current as f64).max(input.demand.smoothed),
            });
            min_sum += min;
            min_current_sum += min_current;
        }
    }
    let mut fair = 0.0;
    let mut allocs: Option<Vec<f64>> = None;
    let mut share = 0.0;
    if remaining <= min_sum {
        // Not even the lower limits fit: everyone gets their lower limit.
    } else if remaining <= min_current_sum {
        share = (remaining - min_sum) as f64 / (min_current_sum - min_sum) as f64;
    } else {
        // Upstream allocates the whole nominal sum here, not what the exempt level left.
        match allocate(nominal_sum as f64, &items) {
            Ok((a, p)) => {
                fair = p;
                allocs = Some(a);
            }
            Err(_) => {
                allocs = Some(
                    inputs
                        .iter()
                        .filter(|i| !i.exempt)
                        .map(|i| f64::from(i.current))
                        .collect(),
                )
            }
        }
    }
    let mut item = 0;
    let out = inputs
        .iter()
        .zip(&min_currents)
        .map(|(input, &min_current)| {
            if input.exempt {
                return u32::try_from(min_current).unwrap_or(u32::MAX);
            }
            let idx = item;
            item += 1;
            let min = i64::from(input.limits.min);
            let cl = if remaining <= min_sum {
                min
            } else if remaining <= min_current_sum {
                min + ((min_current - min) as f64 * share).round() as i64
            } else {
                allocs.as_ref().map_or(min, |a| a[idx].round() as i64)
            };
            u32::try_from(cl.max(0)).unwrap_or(u32::MAX)
        })
        .collect();
    (out, fair)
}

/// Whether a level's shape is the exempt one.
pub fn is_exempt(level: &ResolvedLevel) -> bool {
    level.shape == LevelShape::Exempt
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::flowcontrol::config::{resolve, with_bootstrap};
    use crate::sim::SimDuration;

    /// The default levels, in upstream's documentation order, with their limits at 600.
    fn defaults() -> Vec<(String, bool, LevelLimits)> {
        let (l, s) = with_bootstrap(&[], &[], true);
        let cfg = resolve(&l, &s).unwrap();
        let limits = level_limits(&cfg.levels, 600);
        let order = [
            "exempt",
            "catch-all",
            "system",
            "node-high",
            "leader-election",
            "workload-high",
            "workload-low",
            "global-default",
        ];
        order
            .iter()
            .map(|n| {
                let i = cfg.levels.iter().position(|l| l.name == *n).unwrap();
                (n.to_string(), is_exempt(&cfg.levels[i]), limits[i])
            })
            .collect()
    }

    #[test]
    fn default_nominal_limits_at_600_seats() {
        // Σ shares = 0 + 5 + 30 + 40 + 10 + 40 + 100 + 20 = 245; nominal = ⌈600 × s / 245⌉:
        //   catch-all        ⌈ 3000/245 = 12.24⌉ = 13
        //   system           ⌈18000/245 = 73.47⌉ = 74
        //   node-high        ⌈24000/245 = 97.96⌉ = 98
        //   leader-election  ⌈ 6000/245 = 24.49⌉ = 25
        //   workload-high    ⌈24000/245 = 97.96⌉ = 98
        //   workload-low     ⌈60000/245 = 244.9⌉ = 245
        //   global-default   ⌈12000/245 = 48.98⌉ = 49
        // (they sum to 602: the ceilings overshoot 600 by 2).
        let d = defaults();
        let nominal: Vec<u32> = d.iter().map(|x| x.2.nominal).collect();
        assert_eq!(nominal, vec![0, 13, 74, 98, 25, 98, 245, 49]);
        // Lendable = round(nominal × lend%): system round(24.42) = 24 → min 50; node-high
        // round(24.5) = 25 (half away from zero) → 73; workload-high 49 → 49; workload-low
        // round(220.5) = 221 → 24; global-default round(24.5) = 25 → 24; the rest lend 0.
        let min: Vec<u32> = d.iter().map(|x| x.2.min).collect();
        assert_eq!(min, vec![0, 13, 50, 73, 25, 49, 24, 24]);
        // No borrowing limit: max = nominal + 600.
        assert_eq!(d[2].2.max, 674);
        // nominal − lendable/2: system 74 − 12 = 62.
        assert_eq!(d[2].2.initial, 62);
    }

    fn inputs(d: &[(String, bool, LevelLimits)]) -> Vec<BorrowInput> {
        d.iter()
            .map(|(_, exempt, limits)| BorrowInput {
                limits: *limits,
                exempt: *exempt,
                demand: SeatDemand::default(),
                current: limits.initial,
            })
            .collect()
    }

    #[test]
    fn idle_levels_share_in_proportion_to_their_lower_limits() {
        // No demand: every target is its lower limit (Σ = 13+50+73+25+49+24+24 = 258), and the
        // nominal sum 602 is shared at p = 602/258 = 2.3333, no bound binding (the upper
        // limits are ≥ 9.5 × the targets):
        //   catch-all 13p = 30.33 → 30     system 50p = 116.67 → 117   node-high 73p = 170.33 → 170
        //   leader-election 25p = 58.33 → 58   workload-high 49p = 114.33 → 114
        //   workload-low 24p = 56 → 56     global-default 24p = 56 → 56
        let d = defaults();
        let (limits, p) = adjust(&inputs(&d));
        assert_eq!(limits, vec![0, 30, 117, 170, 58, 114, 56, 56]);
        assert!((p - 602.0 / 258.0).abs() < 1e-12);
    }

    #[test]
    fn a_busy_level_borrows_what_idle_ones_lend() {
        // workload-low held a steady 100 seats all period: high-water 100, mean 100, stddev 0,
        // smoothed max(100, 0.977·0 + 0.023·100) = 100; minCurrentCL = max(24, min(245, 100))
        // = 100 = its target. Σ targets = 258 − 24 + 100 = 334, p = 602/334 = 1.80240:
        //   catch-all 23.43 → 23   system 90.12 → 90   node-high 131.58 → 132
        //   leader-election 45.06 → 45   workload-high 88.32 → 88
        //   workload-low 180.24 → 180   global-default 43.26 → 43
        let d = defaults();
        let mut inp = inputs(&d);
        let mut integ = DemandIntegrator::new(SimTime::ZERO);
        integ.set(SimTime::ZERO, 100);
        let stats = integ.reset(SimTime::ZERO + SimDuration::from_secs(10));
        assert_eq!(stats.high_watermark, 100);
        assert_eq!((stats.average, stats.std_dev), (100.0, 0.0));
        inp[6].demand.update(stats);
        assert_eq!(inp[6].demand.smoothed, 100.0);
        let (limits, _) = adjust(&inp);
        assert_eq!(limits, vec![0, 23, 90, 132, 45, 88, 180, 43]);
    }

    #[test]
    fn exempt_demand_squeezes_everyone_to_their_lower_limits() {
        // Exempt peaked at 400 seats: 602 − 400 = 202 left, below Σ minCL = 258, so every
        // limited level gets exactly its lower limit; exempt's limit is its peak.
        let d = defaults();
        let mut inp = inputs(&d);
        inp[0].demand.last.high_watermark = 400;
        let (limits, p) = adjust(&inp);
        assert_eq!(limits, vec![400, 13, 50, 73, 25, 49, 24, 24]);
        assert_eq!(p, 0.0);
    }

    #[test]
    fn demand_statistics_are_time_weighted() {
        // 0 seats for 4 s, then 10 seats for 6 s: mean (0·4 + 10·6)/10 = 6; E[x²] = 600/10 = 60,
        // variance 60 − 36 = 24, stddev √24 = 4.899; high-water 10.
        let mut integ = DemandIntegrator::new(SimTime::ZERO);
        integ.set(SimTime::ZERO + SimDuration::from_secs(4), 10);
        let s = integ.reset(SimTime::ZERO + SimDuration::from_secs(10));
        assert_eq!(s.average, 6.0);
        assert!((s.std_dev - 24f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.high_watermark, 10);
        // Smoothing from 20: envelope 10.899 < 0.977·20 + 0.023·10.899 = 19.79 → decays to 19.79.
        let mut demand = SeatDemand {
            smoothed: 20.0,
            ..SeatDemand::default()
        };
        demand.update(s);
        let envelope = 6.0 + 24f64.sqrt();
        assert!((demand.smoothed - (0.977 * 20.0 + 0.023 * envelope)).abs() < 1e-12);
        // The next period starts at the current value: its high-water mark is at least 10.
        let s2 = integ.reset(SimTime::ZERO + SimDuration::from_secs(20));
        assert_eq!((s2.average, s2.high_watermark), (10.0, 10));
    }

    #[test]
    fn allocation_with_binding_bounds() {
        // Targets 10 and 50, required 100: p = 100/60 = 1.667 would give class 0 16.7 > its
        // upper bound 12, so it is held at 12 and class 1 takes 88 = p × 50 with p = 1.76.
        let items = [
            AllocItem {
                target: 10.0,
                lower: 5.0,
                upper: 12.0,
            },
            AllocItem {
                target: 50.0,
                lower: 5.0,
                upper: 100.0,
            },
        ];
        let (a, p) = allocate(100.0, &items).unwrap();
        assert_eq!(a[0], 12.0);
        assert!((a[1] - 88.0).abs() < 1e-9);
        assert!((p - 1.76).abs() < 1e-12);
        // Targets 30 and 70 with lower bounds 30 and 10, required 50: p = 0.5 would put
        // class 0 at 15 < 30, so it stays at 30 and class 1 gets 20 (p = 20/70).
        let items = [
            AllocItem {
                target: 30.0,
                lower: 30.0,
                upper: 100.0,
            },
            AllocItem {
                target: 70.0,
                lower: 10.0,
                upper: 100.0,
            },
        ];
        let (a, p) = allocate(50.0, &items).unwrap();
        assert_eq!(a[0], 30.0);
        assert!((a[1] - 20.0).abs() < 1e-9);
        assert!((p - 20.0 / 70.0).abs() < 1e-12);
        assert!(matches!(
            allocate(1000.0, &items),
            Err(AllocError::UpperTooLow(..))
        ));
    }
}
