//! From the replicas the metrics propose to the replicas the HPA sets (upstream
//! `horizontal.go`: `normalizeDesiredReplicas`, `normalizeDesiredReplicasWithBehaviors` and
//! their helpers).
//!
//! * **Without `behavior`** (the legacy path): the proposal is stabilized against every
//!   recommendation of the downscale stabilization window (5 min), then clamped to
//!   `[minReplicas, min(maxReplicas, max(2 × current, 4))]`.
//! * **With `behavior`**: the proposal is stabilized between the lowest recommendation of the
//!   scale-up window and the highest of the scale-down window, then limited by the rate
//!   policies against the scale changes of each policy's period, then clamped to the bounds.
//!
//! The controller keeps one [`History`] per HPA: the recommendations and the scale changes it
//! made, with their virtual times. Times compare as upstream's `After` / `Before` on a
//! cut-off `now − window`: a record exactly at the cut-off is neither inside nor outdated.

use crate::api::hpa::{HpaBehavior, HpaScalingRules};
use crate::sim::{SimDuration, SimTime};

/// `scaleUpLimitFactor` of the legacy path.
const SCALE_UP_LIMIT_FACTOR: i32 = 2;
/// `scaleUpLimitMinimum` of the legacy path.
const SCALE_UP_LIMIT_MINIMUM: i32 = 4;

/// How the policies of one direction combine (`selectPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    /// The policy allowing the largest change (default).
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// A rate policy's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// A number of pods per period.
    Pods,
    /// A percentage of the replicas at the period's start.
    Percent,
}

/// One rate policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalingPolicy {
    /// Its unit.
    pub kind: PolicyKind,
    /// The change it allows per period.
    pub value: i32,
    /// The period, in seconds.
    pub period_seconds: i32,
}

/// One direction's rules with the API's defaults filled in (upstream
/// `GenerateHPAScaleUpRules` / `GenerateHPAScaleDownRules`, then the controller's
/// `--horizontal-pod-autoscaler-downscale-stabilization` for an unset scale-down window).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingRules {
    /// The stabilization window.
    pub stabilization_window: SimDuration,
    /// How the policies combine.
    pub select_policy: SelectPolicy,
    /// The rate policies.
    pub policies: Vec<ScalingPolicy>,
}

impl ScalingRules {
    /// The scale-up rules of `rules`: window 0 s, policies 4 pods and 100 % per 15 s,
    /// `Max`, each where unset.
    pub fn scale_up(rules: Option<&HpaScalingRules>) -> Self {
        let defaults = [
            ScalingPolicy {
                kind: PolicyKind::Pods,
                value: 4,
                period_seconds: 15,
            },
            ScalingPolicy {
                kind: PolicyKind::Percent,
                value: 100,
                period_seconds: 15,
            },
        ];
        Self::with_defaults(rules, SimDuration::ZERO, &defaults)
    }

    /// The scale-down rules of `rules`: window `downscale_stabilization` (the controller's
    /// flag, 5 min), policy 100 % per 15 s, `Max`, each where unset.
    pub fn scale_down(
        rules: Option<&HpaScalingRules>,
        downscale_stabilization: SimDuration,
    ) -> Self {
        let defaults = [ScalingPolicy {
            kind: PolicyKind::Percent,
            value: 100,
            period_seconds: 15,
        }];
        Self::with_defaults(rules, downscale_stabilization, &defaults)
    }

    fn with_defaults(
        rules: Option<&HpaScalingRules>,
        window: SimDuration,
        policies: &[ScalingPolicy],
    ) -> Self {
        let window = rules
            .and_then(|r| r.stabilization_window_seconds)
            .map_or(window, |s| SimDuration::from_secs(s.max(0) as u64));
        let select_policy = match rules.and_then(|r| r.select_policy.as_deref()) {
            Some("Min") => SelectPolicy::Min,
            Some("Disabled") => SelectPolicy::Disabled,
            _ => SelectPolicy::Max,
        };
        let given: Vec<ScalingPolicy> = rules
            .map(|r| {
                r.policies
                    .iter()
                    .map(|p| ScalingPolicy {
                        kind: if p.type_ == "Percent" {
                            PolicyKind::Percent
                        } else {
                            PolicyKind::Pods
                        },
                        value: p.value,
                        period_seconds: p.period_seconds,
                    })
                    .collect()
            })
            .unwrap_or_default();
        ScalingRules {
            stabilization_window: window,
            select_policy,
            policies: if given.is_empty() {
                policies.to_vec()
            } else {
                given
            },
        }
    }

    /// The longest period of the policies, in seconds: how long scale changes matter.
    fn longest_period(&self) -> i32 {
        self.policies
            .iter()
            .map(|p| p.period_seconds)
            .max()
            .unwrap_or(0)
    }
}

/// Both directions' rules of an HPA with `behavior`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behavior {
    /// Scaling up.
    pub scale_up: ScalingRules,
    /// Scaling down.
    pub scale_down: ScalingRules,
}

impl Behavior {
    /// `behavior` with its defaults (upstream `ensureScalingBehaviorsNotPartiallyPopulated`).
    pub fn new(behavior: &HpaBehavior, downscale_stabilization: SimDuration) -> Self {
        Behavior {
            scale_up: ScalingRules::scale_up(behavior.scale_up.as_ref()),
            scale_down: ScalingRules::scale_down(
                behavior.scale_down.as_ref(),
                downscale_stabilization,
            ),
        }
    }
}

/// A recommendation the controller computed, kept for stabilization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recommendation {
    /// The replicas the metrics proposed (not stabilized).
    pub replicas: i32,
    /// When.
    pub at: SimTime,
}

/// A scale change the controller made, kept for the rate policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleEvent {
    /// How many replicas it added (scale-up) or removed (scale-down).
    pub change: i32,
    /// When.
    pub at: SimTime,
    /// Older than the longest policy period when last checked: its slot is reused.
    pub outdated: bool,
}

/// What the controller remembers of one HPA between syncs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Recent recommendations; a slot older than both windows is reused.
    pub recommendations: Vec<Recommendation>,
    /// Recent scale-ups.
    pub scale_ups: Vec<ScaleEvent>,
    /// Recent scale-downs.
    pub scale_downs: Vec<ScaleEvent>,
}

/// Whether a record at `at` is newer than `window` before `now` (upstream
/// `timestamp.After(now - window)`).
fn within(at: SimTime, window: SimDuration, now: SimTime) -> bool {
    at + window > now
}

/// Whether a record at `at` is older than `window` before `now` (upstream
/// `timestamp.Before(now - window)`).
fn older(at: SimTime, window: SimDuration, now: SimTime) -> bool {
    at + window < now
}

fn seconds(s: i32) -> SimDuration {
    SimDuration::from_secs(s.max(0) as u64)
}

impl History {
    /// The first sync's recommendation: the current replicas (upstream
    /// `recordInitialRecommendation`).
    pub fn record_initial(&mut self, current: i32, now: SimTime) {
        if self.recommendations.is_empty() {
            self.recommendations.push(Recommendation {
                replicas: current,
                at: now,
            });
        }
    }

    /// Keeps `recommendation` in the slot at `old` if there is one, else appends it.
    fn keep(&mut self, old: Option<usize>, recommendation: Recommendation) {
        match old {
            Some(i) => self.recommendations[i] = recommendation,
            None => self.recommendations.push(recommendation),
        }
    }

    /// Remembers a scale change from `previous` to `new` (upstream `storeScaleEvent`; only
    /// with `behavior`, whose policies read them).
    pub fn record_scale(&mut self, behavior: &Behavior, previous: i32, new: i32, now: SimTime) {
        let (events, rules, change) = if new > previous {
            (&mut self.scale_ups, &behavior.scale_up, new - previous)
        } else {
            (&mut self.scale_downs, &behavior.scale_down, previous - new)
        };
        let period = seconds(rules.longest_period());
        for event in events.iter_mut() {
            if older(event.at, period, now) {
                event.outdated = true;
            }
        }
        let event = ScaleEvent {
            change,
            at: now,
            outdated: false,
        };
        match events.iter().rposition(|e| e.outdated) {
            Some(i) => events[i] = event,
            None => events.push(event),
        }
    }
}

/// The replicas added (or removed) by `events` within `period_seconds` before `now` (upstream
/// `getReplicasChangePerPeriod`).
fn change_in_period(events: &[ScaleEvent], period_seconds: i32, now: SimTime) -> i32 {
    events
        .iter()
        .filter(|e| within(e.at, seconds(period_seconds), now))
        .map(|e| e.change)
        .sum()
}

/// A condition the normalization sets: its reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// The condition's reason.
    pub reason: &'static str,
    /// The condition's message.
    pub message: &'static str,
}

const DESIRED_WITHIN_RANGE: Reason = Reason {
    reason: "DesiredWithinRange",
    message: "the desired count is within the acceptable range",
};
const READY_FOR_NEW_SCALE: Reason = Reason {
    reason: "ReadyForNewScale",
    message: "recommended size matches current size",
};
const SCALE_UP_LIMIT: Reason = Reason {
    reason: "ScaleUpLimit",
    message: "the desired replica count is increasing faster than the maximum scale rate",
};
const TOO_MANY_REPLICAS: Reason = Reason {
    reason: "TooManyReplicas",
    message: "the desired replica count is more than the maximum replica count",
};
const SCALE_DOWN_LIMIT: Reason = Reason {
    reason: "ScaleDownLimit",
    message: "the desired replica count is decreasing faster than the maximum scale rate",
};
const TOO_FEW_REPLICAS: Reason = Reason {
    reason: "TooFewReplicas",
    message: "the desired replica count is less than the minimum replica count",
};
const SCALE_UP_STABILIZED: Reason = Reason {
    reason: "ScaleUpStabilized",
    message: "recent recommendations were lower than current one, applying the lowest recent \
              recommendation",
};
const SCALE_DOWN_STABILIZED: Reason = Reason {
    reason: "ScaleDownStabilized",
    message: "recent recommendations were higher than current one, applying the highest \
              recent recommendation",
};

/// The outcome of one normalization, with what explains it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// The replicas to set.
    pub replicas: i32,
    /// The proposal after stabilization, before rate limits and bounds.
    pub stabilized: i32,
    /// The AbleToScale condition's reason (`ReadyForNewScale`, `ScaleUpStabilized`,
    /// `ScaleDownStabilized`).
    pub able_to_scale: Reason,
    /// Whether the limits changed the stabilized value (ScalingLimited True), and why.
    pub limited: bool,
    /// The ScalingLimited condition's reason.
    pub scaling_limited: Reason,
    /// The highest replicas the limits allowed.
    pub upper_limit: i32,
    /// The lowest replicas the limits allowed.
    pub lower_limit: i32,
}

/// The legacy path (no `behavior`): downscale stabilization over `window`, then
/// `[min, min(max, max(2 × current, 4))]` (upstream `normalizeDesiredReplicas`).
pub fn normalize_legacy(
    history: &mut History,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    window: SimDuration,
    now: SimTime,
) -> Normalized {
    let mut stabilized = desired;
    let mut old = None;
    for (i, rec) in history.recommendations.iter().enumerate() {
        if older(rec.at, window, now) {
            old = Some(i);
        } else if rec.replicas > stabilized {
            stabilized = rec.replicas;
        }
    }
    history.keep(
        old,
        Recommendation {
            replicas: desired,
            at: now,
        },
    );
    let able_to_scale = if stabilized != desired {
        SCALE_DOWN_STABILIZED
    } else {
        READY_FOR_NEW_SCALE
    };
    let scale_up_limit = SCALE_UP_LIMIT_FACTOR
        .saturating_mul(current)
        .max(SCALE_UP_LIMIT_MINIMUM);
    let (upper, upper_reason) = if max > scale_up_limit {
        (scale_up_limit, SCALE_UP_LIMIT)
    } else {
        (max, TOO_MANY_REPLICAS)
    };
    let (replicas, reason) = if stabilized < min {
        (min, TOO_FEW_REPLICAS)
    } else if stabilized > upper {
        (upper, upper_reason)
    } else {
        (stabilized, DESIRED_WITHIN_RANGE)
    };
    Normalized {
        replicas,
        stabilized,
        able_to_scale,
        limited: replicas != stabilized,
        scaling_limited: reason,
        upper_limit: upper,
        lower_limit: min,
    }
}

/// The path with `behavior` (upstream `normalizeDesiredReplicasWithBehaviors`):
/// stabilization, then the rate policies and the bounds.
pub fn normalize_with_behavior(
    history: &mut History,
    behavior: &Behavior,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    now: SimTime,
) -> Normalized {
    let (stabilized, stabilization_reason) = stabilize(history, behavior, current, desired, now);
    let able_to_scale = if stabilized != desired {
        stabilization_reason
    } else {
        READY_FOR_NEW_SCALE
    };
    let (mut upper, mut lower) = (max, min);
    let (replicas, reason) = if stabilized > current {
        let limit = scale_up_limit(history, &behavior.scale_up, current, now).max(current);
        let reason = if max > limit {
            upper = limit;
            SCALE_UP_LIMIT
        } else {
            TOO_MANY_REPLICAS
        };
        if stabilized > upper {
            (upper, reason)
        } else {
            (stabilized, DESIRED_WITHIN_RANGE)
        }
    } else if stabilized < current {
        let limit = scale_down_limit(history, &behavior.scale_down, current, now).min(current);
        let reason = if min < limit {
            lower = limit;
            SCALE_DOWN_LIMIT
        } else {
            TOO_FEW_REPLICAS
        };
        if stabilized < lower {
            (lower, reason)
        } else {
            (stabilized, DESIRED_WITHIN_RANGE)
        }
    } else {
        (stabilized, DESIRED_WITHIN_RANGE)
    };
    Normalized {
        replicas,
        stabilized,
        able_to_scale,
        limited: replicas != stabilized,
        scaling_limited: reason,
        upper_limit: upper,
        lower_limit: lower,
    }
}

/// Upstream `stabilizeRecommendationWithBehaviors`: the current replicas brought within
/// [lowest recommendation of the scale-up window, highest of the scale-down window], each
/// including this one; the raw recommendation is kept.
fn stabilize(
    history: &mut History,
    behavior: &Behavior,
    current: i32,
    desired: i32,
    now: SimTime,
) -> (i32, Reason) {
    let up_window = behavior.scale_up.stabilization_window;
    let down_window = behavior.scale_down.stabilization_window;
    let (mut up, mut down) = (desired, desired);
    let mut old = None;
    for (i, rec) in history.recommendations.iter().enumerate() {
        if within(rec.at, up_window, now) {
            up = up.min(rec.replicas);
        }
        if within(rec.at, down_window, now) {
            down = down.max(rec.replicas);
        }
        if older(rec.at, up_window, now) && older(rec.at, down_window, now) {
            old = Some(i);
        }
    }
    let stabilized = current.max(up).min(down);
    history.keep(
        old,
        Recommendation {
            replicas: desired,
            at: now,
        },
    );
    let reason = if desired >= current {
        SCALE_UP_STABILIZED
    } else {
        SCALE_DOWN_STABILIZED
    };
    (stabilized, reason)
}

/// The replicas at the start of a policy's period: now, less what was added in it, plus what
/// was removed.
fn period_start(history: &History, current: i32, period_seconds: i32, now: SimTime) -> i32 {
    current - change_in_period(&history.scale_ups, period_seconds, now)
        + change_in_period(&history.scale_downs, period_seconds, now)
}

/// Upstream `calculateScaleUpLimitWithScalingRules`: the most replicas the policies allow
/// (Max: the largest of their limits; Min: the smallest; Disabled: the current count). A
/// Percent limit is rounded up, so that a small count can still grow.
pub fn scale_up_limit(history: &History, rules: &ScalingRules, current: i32, now: SimTime) -> i32 {
    rate_limit(history, rules, current, now, true)
}

/// Upstream `calculateScaleDownLimitWithBehaviors`: the fewest replicas the policies allow
/// (Max: the lowest of their limits, the largest change; Min: the highest; Disabled: the
/// current count). A Percent limit is truncated, as upstream's conversion.
pub fn scale_down_limit(
    history: &History,
    rules: &ScalingRules,
    current: i32,
    now: SimTime,
) -> i32 {
    rate_limit(history, rules, current, now, false)
}

/// The limit of `rules` in one direction: each policy's limit from the replicas at its
/// period's start, combined so that `Max` allows the largest change and `Min` the smallest.
fn rate_limit(
    history: &History,
    rules: &ScalingRules,
    current: i32,
    now: SimTime,
    up: bool,
) -> i32 {
    let largest_change = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Max => true,
        SelectPolicy::Min => false,
    };
    let (pick, start): (fn(i32, i32) -> i32, i32) = if largest_change == up {
        (i32::max, i32::MIN)
    } else {
        (i32::min, i32::MAX)
    };
    policy_limits(history, rules, current, now, up)
        .into_iter()
        .fold(start, |limit, (_, proposed)| pick(limit, proposed))
}

/// Each policy of `rules` with the limit it sets in one direction (`up` or down), from the
/// replicas at the start of its period — what `kubesim explain --hpa` shows.
pub fn policy_limits(
    history: &History,
    rules: &ScalingRules,
    current: i32,
    now: SimTime,
    up: bool,
) -> Vec<(ScalingPolicy, i32)> {
    rules
        .policies
        .iter()
        .map(|policy| {
            let base = period_start(history, current, policy.period_seconds, now);
            let fraction = f64::from(policy.value) / 100.0;
            let proposed = match (policy.kind, up) {
                (PolicyKind::Pods, true) => base.saturating_add(policy.value),
                (PolicyKind::Pods, false) => base.saturating_sub(policy.value),
                (PolicyKind::Percent, true) => (f64::from(base) * (1.0 + fraction)).ceil() as i32,
                (PolicyKind::Percent, false) => (f64::from(base) * (1.0 - fraction)) as i32,
            };
            (*policy, proposed)
        })
        .collect()
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
