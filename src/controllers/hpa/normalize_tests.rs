//! The normalization's rules, each number derived by hand in its comment: the default
//! `behavior` (scale up by max(4 pods, 100 %) per 15 s, scale down after a 300 s window),
//! custom policies with `selectPolicy` Min and Disabled, and the legacy path.

use super::*;
use crate::api::hpa::HpaScalingPolicy;

fn at(secs: u64) -> SimTime {
    SimTime::from_nanos(secs * 1_000_000_000)
}

const DOWNSCALE: SimDuration = SimDuration::from_secs(300);

fn defaults() -> Behavior {
    Behavior::new(&HpaBehavior::default(), DOWNSCALE)
}

fn policy(kind: &str, value: i32, period_seconds: i32) -> HpaScalingPolicy {
    HpaScalingPolicy {
        type_: kind.into(),
        value,
        period_seconds,
    }
}

/// One sync as the controller runs it: record the first recommendation, normalize, and
/// remember the scale change it makes.
fn sync(
    h: &mut History,
    b: &Behavior,
    current: i32,
    desired: i32,
    (min, max): (i32, i32),
    now: SimTime,
) -> Normalized {
    h.record_initial(current, now);
    let n = normalize_with_behavior(h, b, current, desired, min, max, now);
    if n.replicas != current {
        h.record_scale(b, current, n.replicas, now);
    }
    n
}

#[test]
fn the_default_behavior_fills_in_upstreams_rules() {
    let b = defaults();
    assert_eq!(b.scale_up.stabilization_window, SimDuration::ZERO);
    assert_eq!(b.scale_up.select_policy, SelectPolicy::Max);
    assert_eq!(
        b.scale_up.policies,
        [
            ScalingPolicy {
                kind: PolicyKind::Pods,
                value: 4,
                period_seconds: 15
            },
            ScalingPolicy {
                kind: PolicyKind::Percent,
                value: 100,
                period_seconds: 15
            },
        ]
    );
    assert_eq!(b.scale_down.stabilization_window, DOWNSCALE);
    assert_eq!(
        b.scale_down.policies,
        [ScalingPolicy {
            kind: PolicyKind::Percent,
            value: 100,
            period_seconds: 15
        }]
    );
}

#[test]
fn default_scale_up_is_limited_to_4_pods_or_100_percent_per_15_seconds() {
    let b = defaults();
    let mut h = History::default();
    // 3 → 20 wanted: Pods 3 + 4 = 7, Percent ceil(3 × 2) = 6; Max takes 7.
    let n = sync(&mut h, &b, 3, 20, (1, 50), at(100));
    assert_eq!(n.replicas, 7);
    assert!(n.limited);
    assert_eq!(n.scaling_limited.reason, "ScaleUpLimit");
    assert_eq!(n.upper_limit, 7);
    // 10 s later the +4 is still in the 15 s period: the period started at 7 − 4 = 3, so the
    // limit is 7 again — no change.
    let n = sync(&mut h, &b, 7, 20, (1, 50), at(110));
    assert_eq!(n.replicas, 7);
    // At 115 s the change at 100 s is exactly 15 s old: not after the cut-off, out of the
    // period. From 7: Pods 11, Percent 14; Max 14.
    let n = sync(&mut h, &b, 7, 20, (1, 50), at(115));
    assert_eq!(n.replicas, 14);
    // maxReplicas binds before the rate: 14 → 20 wanted, limits 18 / 28, max 16.
    let n = sync(&mut h, &b, 14, 20, (1, 16), at(130));
    assert_eq!(
        (n.replicas, n.scaling_limited.reason),
        (16, "TooManyReplicas")
    );
}

#[test]
fn default_scale_down_waits_out_the_300_second_window() {
    let b = defaults();
    let mut h = History::default();
    // 10 replicas at 0 s (the first recommendation), then every 15 s the metrics want 2. The
    // recommendation of 10 at 0 s stays in the window while 0 + 300 > now, so the highest
    // recommendation is 10 and nothing changes through 285 s. At 300 s it has left (not
    // after the cut-off): the highest is 2, the 100 % / 15 s policy allows down to 0, and
    // minReplicas 1 is below 2: 2.
    h.record_initial(10, at(0));
    for t in (15..=285).step_by(15) {
        let n = sync(&mut h, &b, 10, 2, (1, 20), at(t));
        assert_eq!(n.replicas, 10, "at {t} s");
        assert_eq!(n.able_to_scale.reason, "ScaleDownStabilized");
    }
    let n = sync(&mut h, &b, 10, 2, (1, 20), at(300));
    assert_eq!((n.replicas, n.stabilized), (2, 2));
    assert_eq!(n.able_to_scale.reason, "ReadyForNewScale");
}

#[test]
fn stabilization_reuses_a_slot_older_than_both_windows() {
    let b = defaults();
    let mut h = History::default();
    h.record_initial(4, at(0));
    // At 400 s the slot of 0 s is older than both windows (0 s and 300 s): it is reused.
    sync(&mut h, &b, 4, 4, (1, 20), at(400));
    assert_eq!(
        h.recommendations,
        [Recommendation {
            replicas: 4,
            at: at(400)
        }]
    );
}

#[test]
fn select_policy_min_takes_the_smallest_change() {
    let rules = HpaScalingRules {
        select_policy: Some("Min".into()),
        policies: vec![policy("Pods", 2, 60), policy("Percent", 50, 60)],
        stabilization_window_seconds: Some(0),
        ..HpaScalingRules::default()
    };
    let b = Behavior::new(
        &HpaBehavior {
            scale_up: Some(rules.clone()),
            scale_down: Some(HpaScalingRules {
                policies: vec![policy("Pods", 3, 60), policy("Percent", 50, 60)],
                ..rules
            }),
        },
        DOWNSCALE,
    );
    let mut h = History::default();
    // Up 10 → 30: Pods 12, Percent ceil(15) = 15; Min 12.
    let n = sync(&mut h, &b, 10, 30, (1, 100), at(100));
    assert_eq!((n.replicas, n.scaling_limited.reason), (12, "ScaleUpLimit"));
    // Down 10 → 1 (window 0): Pods 7, Percent trunc(10 × 0.5) = 5; Min for a scale-down is
    // the smaller change, 7.
    let mut h = History::default();
    let n = sync(&mut h, &b, 10, 1, (1, 100), at(100));
    assert_eq!(
        (n.replicas, n.scaling_limited.reason),
        (7, "ScaleDownLimit")
    );
    // A Percent scale-down is truncated: 9 × 0.5 = 4.5 → 4 (with Max: min(9 − 3, 4) = 4).
    let max_down = ScalingRules {
        select_policy: SelectPolicy::Max,
        ..b.scale_down.clone()
    };
    assert_eq!(
        scale_down_limit(&History::default(), &max_down, 9, at(0)),
        4
    );
}

#[test]
fn a_disabled_direction_never_moves() {
    let b = Behavior::new(
        &HpaBehavior {
            scale_up: Some(HpaScalingRules {
                select_policy: Some("Disabled".into()),
                ..HpaScalingRules::default()
            }),
            scale_down: None,
        },
        DOWNSCALE,
    );
    let mut h = History::default();
    let n = sync(&mut h, &b, 5, 9, (1, 20), at(100));
    assert_eq!((n.replicas, n.scaling_limited.reason), (5, "ScaleUpLimit"));
}

#[test]
fn scale_changes_in_both_directions_set_the_period_start() {
    // Policy Pods 4 / 60 s up. Within the last minute +6 then −2: the period started at
    // 10 − 6 + 2 = 6, so the limit is 6 + 4 = 10 — no room from 10.
    let b = Behavior::new(
        &HpaBehavior {
            scale_up: Some(HpaScalingRules {
                policies: vec![policy("Pods", 4, 60)],
                ..HpaScalingRules::default()
            }),
            scale_down: Some(HpaScalingRules {
                policies: vec![policy("Pods", 10, 60)],
                stabilization_window_seconds: Some(0),
                ..HpaScalingRules::default()
            }),
        },
        DOWNSCALE,
    );
    let mut h = History::default();
    h.record_scale(&b, 6, 12, at(100));
    h.record_scale(&b, 12, 10, at(110));
    assert_eq!(scale_up_limit(&h, &b.scale_up, 10, at(120)), 10);
    // At 165 s the +6 (at 100 s) has left its 60 s period (100 + 60 is not after 165), the
    // −2 (at 110 s) has not: start 10 + 2 = 12, limit 16.
    assert_eq!(scale_up_limit(&h, &b.scale_up, 10, at(165)), 16);
    // An event older than the longest period is marked outdated and its slot reused.
    h.record_scale(&b, 10, 11, at(200));
    assert_eq!(h.scale_ups.len(), 1);
    assert_eq!((h.scale_ups[0].change, h.scale_ups[0].at), (1, at(200)));
}

#[test]
fn legacy_path_limits_a_scale_up_to_twice_the_current_or_4() {
    let mut h = History::default();
    // 3 → 10 wanted, max 20: limit max(2 × 3, 4) = 6.
    let n = normalize_legacy(&mut h, 3, 10, 1, 20, DOWNSCALE, at(0));
    assert_eq!((n.replicas, n.scaling_limited.reason), (6, "ScaleUpLimit"));
    // 1 → 10: max(2, 4) = 4.
    let n = normalize_legacy(&mut History::default(), 1, 10, 1, 20, DOWNSCALE, at(0));
    assert_eq!(n.replicas, 4);
    // maxReplicas 5 below the rate limit 6: TooManyReplicas.
    let n = normalize_legacy(&mut History::default(), 3, 10, 1, 5, DOWNSCALE, at(0));
    assert_eq!(
        (n.replicas, n.scaling_limited.reason),
        (5, "TooManyReplicas")
    );
    // Below minReplicas: TooFewReplicas.
    let n = normalize_legacy(&mut History::default(), 3, 1, 2, 5, DOWNSCALE, at(0));
    assert_eq!(
        (n.replicas, n.scaling_limited.reason),
        (2, "TooFewReplicas")
    );
}

#[test]
fn legacy_path_stabilizes_only_downwards() {
    let mut h = History::default();
    h.record_initial(10, at(0));
    // At 100 s the metrics want 3; 10 at 0 s is within 300 s: stabilized 10.
    let n = normalize_legacy(&mut h, 10, 3, 1, 20, DOWNSCALE, at(100));
    assert_eq!(
        (n.replicas, n.able_to_scale.reason),
        (10, "ScaleDownStabilized")
    );
    // A higher wish is taken at once (limit 2 × 10 = 20): 15.
    let n = normalize_legacy(&mut h, 10, 15, 1, 20, DOWNSCALE, at(115));
    assert_eq!(
        (n.replicas, n.able_to_scale.reason),
        (15, "ReadyForNewScale")
    );
    // At 401 s: 0 s and 100 s are older than 300 s; 115 s (15) is not: stabilized 15.
    let n = normalize_legacy(&mut h, 15, 3, 1, 20, DOWNSCALE, at(401));
    assert_eq!(n.replicas, 15);
    // At 416 s 115 s has left too; the 3 of 401 s and this 3: 3.
    let n = normalize_legacy(&mut h, 15, 3, 1, 20, DOWNSCALE, at(416));
    assert_eq!(n.replicas, 3);
}

mod properties {
    //! Whatever the rules and the wishes: the replicas stay within the bounds and move only
    //! towards the (stabilized) wish, never past it; held long enough, a wish is reached.

    use super::*;
    use proptest::prelude::*;

    fn rules() -> impl Strategy<Value = HpaBehavior> {
        (
            1..10i32,
            1..300i32,
            1..100i32,
            0..600i32,
            prop_oneof![Just("Max"), Just("Min")],
        )
            .prop_map(|(pods, up_pct, down_pct, window, select)| HpaBehavior {
                scale_up: Some(HpaScalingRules {
                    policies: vec![policy("Pods", pods, 15), policy("Percent", up_pct, 60)],
                    select_policy: Some(select.into()),
                    ..HpaScalingRules::default()
                }),
                scale_down: Some(HpaScalingRules {
                    policies: vec![policy("Percent", down_pct, 30)],
                    stabilization_window_seconds: Some(window),
                    ..HpaScalingRules::default()
                }),
            })
    }

    proptest! {
        #[test]
        fn behavior_moves_towards_the_wish_within_bounds(
            behavior in rules(),
            min in 1..5i32,
            span in 0..60i32,
            start in 0..60i32,
            wishes in proptest::collection::vec((1..40u64, 0..200i32), 1..40),
            held in 0..200i32,
        ) {
            let b = Behavior::new(&behavior, DOWNSCALE);
            let max = min + span;
            let mut current = (min + start).min(max);
            let mut h = History::default();
            let mut now = 0u64;
            for (gap, desired) in wishes {
                now += gap;
                let n = sync(&mut h, &b, current, desired, (min, max), at(now));
                prop_assert!(n.replicas >= min && n.replicas <= max, "{n:?}");
                let (low, high) = (current.min(n.stabilized), current.max(n.stabilized));
                prop_assert!(
                    n.replicas >= low.max(min).min(max) && n.replicas <= high.min(max).max(min),
                    "{} not between {current} and {} (bounds {min}..={max})",
                    n.replicas,
                    n.stabilized
                );
                current = n.replicas;
            }
            // A wish held for longer than the stabilization window and enough rate periods
            // is reached (every policy allows at least one pod, or a percentage rounded up,
            // per period).
            let wish = held.clamp(min, max);
            for _ in 0..200 {
                now += 15;
                current = sync(&mut h, &b, current, wish, (min, max), at(now)).replicas;
            }
            prop_assert_eq!(current, wish);
        }

        #[test]
        fn the_legacy_path_moves_towards_the_wish_within_bounds(
            min in 1..5i32,
            span in 0..60i32,
            start in 0..60i32,
            wishes in proptest::collection::vec((1..40u64, 0..200i32), 1..40),
            held in 0..200i32,
        ) {
            let max = min + span;
            let mut current = (min + start).min(max);
            let mut h = History::default();
            h.record_initial(current, at(0));
            let mut now = 0u64;
            for (gap, desired) in wishes {
                now += gap;
                let n = normalize_legacy(&mut h, current, desired, min, max, DOWNSCALE, at(now));
                prop_assert!(n.replicas >= min && n.replicas <= max);
                // Towards the stabilized wish (the highest of the window, which may lie above
                // both the current count and this wish), at most max(2 × current, 4) up.
                if n.replicas > current {
                    prop_assert!(n.replicas <= (2 * current).max(4));
                    prop_assert!(n.replicas <= n.stabilized.max(min));
                }
                if n.replicas < current {
                    prop_assert!(n.replicas >= n.stabilized.min(max));
                    prop_assert!(n.stabilized >= desired);
                }
                current = n.replicas;
            }
            let wish = held.clamp(min, max);
            for _ in 0..40 {
                now += 15;
                current = normalize_legacy(&mut h, current, wish, min, max, DOWNSCALE, at(now)).replicas;
            }
            prop_assert_eq!(current, wish);
        }
    }
}
