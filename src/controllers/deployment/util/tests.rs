//! Upstream's `deployment_util_test.go` tables, each expected value worked out by hand.

use super::*;
use crate::api::deployment::{DEPLOYMENT_AVAILABLE, RollingUpdateDeployment};
use crate::api::pod::Container;

fn int(n: i64) -> IntOrString {
    IntOrString::Int(n)
}

fn pct(s: &str) -> IntOrString {
    IntOrString::String(s.into())
}

/// A rolling Deployment of `replicas` with these fenceposts.
fn rolling(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
    let mut d = Deployment::default();
    d.metadata.name = "nginx".into();
    d.spec.replicas = Some(replicas);
    d.spec.strategy.type_ = Some("RollingUpdate".into());
    d.spec.strategy.rolling_update = Some(RollingUpdateDeployment {
        max_surge: Some(surge),
        max_unavailable: Some(unavailable),
    });
    d.spec.template.spec.containers = vec![Container {
        name: "nginx".into(),
        image: "nginx".into(),
        ..Container::default()
    }];
    d
}

fn recreate(replicas: i32) -> Deployment {
    let mut d = rolling(replicas, int(0), int(0));
    d.spec.strategy.type_ = Some("Recreate".into());
    d.spec.strategy.rolling_update = None;
    d
}

fn rs(name: &str, replicas: i32) -> ReplicaSet {
    let mut rs = ReplicaSet::default();
    rs.metadata.name = name.into();
    rs.spec.replicas = Some(replicas);
    rs
}

#[test]
fn resolve_fenceposts_table() {
    // (maxSurge, maxUnavailable, desired) → (surge, unavailable). An absent value is 0.
    let cases = [
        // 0% and 0% of 0: both 0, so one may be unavailable.
        (pct("0%"), pct("0%"), 0, Some((0, 1))),
        // 39% of 10 = 3.9: surge rounds up to 4, unavailable down to 3.
        (pct("39%"), pct("39%"), 10, Some((4, 3))),
        (pct("oops"), pct("39%"), 10, None),
        (pct("55%"), pct("urg"), 10, None),
        (int(0), pct("39%"), 10, Some((0, 3))),
        (pct("39%"), int(0), 10, Some((4, 0))),
        (int(0), int(0), 10, Some((0, 1))),
    ];
    for (surge, unavailable, desired, expected) in cases {
        let got = resolve_fenceposts(&surge, &unavailable, desired).ok();
        assert_eq!(got, expected, "{surge:?} {unavailable:?} of {desired}");
    }
}

#[test]
fn new_rs_new_replicas_table() {
    // The other ReplicaSet has 5; maxUnavailable 1.
    let other = rs("rs5", 5);
    let cases = [
        // 1 desired, surge 1: room for 2, 5 + 5 exist: cannot grow, stays 5.
        (false, 1, 5, 1, 5),
        // 6 desired, surge 10: room for 16, 5 + 2 exist: +9, but at most 6 − 2 = 4: 6.
        (false, 6, 2, 10, 6),
        // Recreate: straight to 3.
        (true, 3, 1, 1, 3),
    ];
    for (is_recreate, desired, new_size, surge, expected) in cases {
        let mut d = rolling(desired, int(surge), int(1));
        if is_recreate {
            d.spec.strategy.type_ = Some("Recreate".into());
        }
        let new_rs = rs("new", new_size);
        let all = [&other, &new_rs];
        assert_eq!(new_rs_new_replicas(&d, &all, &new_rs), Ok(expected));
    }
}

#[test]
fn max_unavailable_and_min_available_tables() {
    // maxSurge 1 throughout.
    let cases = [
        (10, int(5), 5, 5),
        (10, int(10), 10, 0),
        // Capped at the replicas.
        (5, int(10), 5, 0),
        // No replicas: nothing may be unavailable.
        (0, int(10), 0, 0),
        (10, pct("50%"), 5, 5),
        (10, pct("100%"), 10, 0),
        (5, pct("100%"), 5, 0),
        // 60% of 10 = 6 may be unavailable, so 4 stay.
        (10, pct("60%"), 6, 4),
    ];
    for (replicas, unavailable, expected_max, expected_min) in cases {
        let d = rolling(replicas, int(1), unavailable.clone());
        assert_eq!(
            max_unavailable(&d),
            expected_max,
            "{replicas} {unavailable:?}"
        );
        assert_eq!(
            min_available(&d),
            expected_min,
            "{replicas} {unavailable:?}"
        );
    }
    // Recreate: none of either.
    assert_eq!(max_unavailable(&recreate(10)), 0);
    assert_eq!(min_available(&recreate(10)), 0);
    assert_eq!(max_surge(&recreate(10)), 0);
}

#[test]
fn replica_set_fraction_table() {
    // (replicas, status.replicas, maxSurge, rs replicas, max-replicas annotation) → fraction.
    let cases = [
        // Scaling to zero takes the whole ReplicaSet.
        (0, 0, 0, 10, None::<&str>, -10),
        // No annotation and no status: no base to scale from.
        (10, 0, 0, 5, None, 0),
        (10, 0, 0, 5, Some("0"), 0),
        // No annotation (or 0): the status (100) is the base: 50 × 120 / 100 = 60, +10.
        (120, 100, 0, 50, None, 10),
        (120, 100, 0, 50, Some("0"), 10),
        // 50 × 120 / 100 = 60: +10.
        (120, 0, 0, 50, Some("100"), 10),
        // 50 × (120 + 10) / 110 = 59.09, rounds to 59: +9.
        (120, 0, 10, 50, Some("110"), 9),
        // 6 × 10 / 12 = 5: −1.
        (10, 0, 0, 6, Some("12"), -1),
        // 50 × (100 + 10) / 130 = 42.3, rounds to 42: −8.
        (100, 0, 10, 50, Some("130"), -8),
    ];
    for (replicas, status, surge, rs_replicas, annotation, expected) in cases {
        let mut d = rolling(replicas, int(surge), int(1));
        d.status.replicas = status;
        let mut r = rs("rs", rs_replicas);
        if let Some(a) = annotation {
            r.metadata
                .annotations
                .insert(MAX_REPLICAS_ANNOTATION.into(), a.into());
        }
        assert_eq!(
            replica_set_fraction(&r, &d),
            expected,
            "{replicas} {annotation:?}"
        );
    }
}

#[test]
fn annotations_are_non_negative_32_bit_integers() {
    let value = |v: &str| {
        let mut r = rs("rs", 1);
        r.metadata
            .annotations
            .insert(DESIRED_REPLICAS_ANNOTATION.into(), v.into());
        desired_replicas_annotation(&r)
    };
    assert_eq!(value("0"), Some(0));
    assert_eq!(value("13"), Some(13));
    assert_eq!(value("2147483647"), Some(i32::MAX));
    for bad in ["invalid", "-1", "2147483648", "4294967296", ""] {
        assert_eq!(value(bad), None, "{bad}");
    }
    assert_eq!(desired_replicas_annotation(&rs("rs", 1)), None);
}

#[test]
fn revisions_advance_and_the_history_keeps_what_fits() {
    // Upstream's TestAnnotationUtils: revision 11 through 20 with a 5-character history.
    let mut d = rolling(1, int(1), int(0));
    d.metadata
        .annotations
        .insert(REVISION_ANNOTATION.into(), "1".into());
    let mut r = rs("rs", 1);
    for i in 10..20 {
        set_new_replica_set_annotations(&d, &mut r, i + 1, true, 5);
        let annotations = &r.metadata.annotations;
        assert_eq!(
            annotations.get(REVISION_ANNOTATION),
            Some(&(i + 1).to_string())
        );
        // From the third raise on, the history "a,b" is 5 characters: i − 1 and i.
        if i >= 12 {
            assert_eq!(
                annotations.get(REVISION_HISTORY_ANNOTATION),
                Some(&format!("{},{}", i - 1, i))
            );
        }
    }
    // The Deployment's revision is never copied onto a ReplicaSet.
    assert_ne!(
        r.metadata.annotations.get(REVISION_ANNOTATION),
        Some(&"1".to_string())
    );
    // desired 10, max 11.
    assert!(set_replicas_annotations(&mut r, 10, 11));
    assert!(!set_replicas_annotations(&mut r, 10, 11));
    assert!(!replicas_annotations_need_update(&r, 10, 11));
    assert!(replicas_annotations_need_update(&r, 10, 12));
    assert!(replicas_annotations_need_update(&r, 8, 11));
    assert!(replicas_annotations_need_update(&rs("bare", 1), 10, 20));
    // Saturated: 1 replica, desired annotation 1, 1 available.
    let mut saturated = rs("rs", 1);
    set_replicas_annotations(&mut saturated, 1, 2);
    saturated.status.available_replicas = 1;
    assert!(is_saturated(&d, Some(&saturated)));
    saturated.status.available_replicas = 0;
    assert!(!is_saturated(&d, Some(&saturated)));
    assert!(!is_saturated(&d, None));
}

#[test]
fn max_and_last_revision() {
    let with = |name: &str, revision: &str| {
        let mut r = rs(name, 1);
        r.metadata
            .annotations
            .insert(REVISION_ANNOTATION.into(), revision.into());
        r
    };
    let rss = [
        with("a", "3"),
        with("b", "7"),
        with("c", "x"),
        with("d", "5"),
    ];
    // "x" is skipped: 7 is the newest, 5 the one before.
    assert_eq!(max_revision(&rss), 7);
    assert_eq!(last_revision(&rss), 5);
    assert_eq!(last_revision(&rss[..1]), 0);
}

#[test]
fn the_new_replica_set_is_the_oldest_with_the_deployments_template() {
    let d = rolling(1, int(1), int(0));
    let mut newer = rs("newer", 1);
    newer.spec.template = d.spec.template.clone();
    newer
        .spec
        .template
        .metadata
        .labels
        .insert(POD_TEMPLATE_HASH_LABEL.into(), "hash".into());
    newer.metadata.creation_timestamp = SimTime::ZERO + SimDuration::from_secs(60);
    let mut dup = newer.clone();
    dup.metadata.name = "dup".into();
    dup.spec
        .template
        .metadata
        .labels
        .insert(POD_TEMPLATE_HASH_LABEL.into(), "different-hash".into());
    dup.metadata.creation_timestamp = SimTime::ZERO;
    let mut old = rs("old", 1);
    old.spec.template = d.spec.template.clone();
    old.spec.template.spec.containers[0].name = "nginx-old-1".into();
    assert_eq!(
        find_new_replica_set(&d, &[newer.clone(), old.clone()]),
        Some(0)
    );
    // Two with the template: the older one (dup, created at 0 s).
    assert_eq!(
        find_new_replica_set(&d, &[newer, old.clone(), dup]),
        Some(2)
    );
    assert_eq!(find_new_replica_set(&d, &[old]), None);
}

#[test]
fn templates_compare_without_the_hash_label() {
    let d = rolling(1, int(1), int(0));
    let mut a = d.spec.template.clone();
    let mut b = d.spec.template.clone();
    a.metadata
        .labels
        .insert(POD_TEMPLATE_HASH_LABEL.into(), "value-1".into());
    b.metadata
        .labels
        .insert(POD_TEMPLATE_HASH_LABEL.into(), "value-2".into());
    assert!(equal_ignore_hash(&a, &b) && equal_ignore_hash(&b, &a));
    b.metadata.labels.insert("something".into(), "else".into());
    assert!(!equal_ignore_hash(&a, &b) && !equal_ignore_hash(&b, &a));
    let mut c = a.clone();
    c.spec.node_name = "foo-node-2".into();
    assert!(!equal_ignore_hash(&a, &c));
    assert_eq!(template_without_hash(&a), d.spec.template);
}

#[test]
fn the_hash_is_safe_encoded_and_moves_with_the_collision_count() {
    let d = rolling(1, int(1), int(0));
    let hash = compute_hash(&d.spec.template, None);
    // The decimal digits '0'…'9' are bytes 48…57, which modulo 27 are 21…26 and 0…3: the
    // characters "456789" and "bcdf" of "bcdfghjklmnpqrstvwxz2456789".
    assert!(hash.chars().all(|c| "456789bcdf".contains(c)), "{hash}");
    assert_eq!(safe_encode("0123456789"), "456789bcdf");
    assert_eq!(hash, compute_hash(&d.spec.template, None));
    assert_ne!(hash, compute_hash(&d.spec.template, Some(1)));
    assert_ne!(
        compute_hash(&d.spec.template, Some(1)),
        compute_hash(&d.spec.template, Some(2))
    );
    // FNV-1a of "a": (0x811c9dc5 ^ 0x61) × 0x01000193 mod 2^32 = 0xe40c292c.
    assert_eq!(fnv32a(0x811c_9dc5, b"a"), 0xe40c_292c);
}

#[test]
fn proportions_never_go_beyond_what_is_left_to_spread() {
    // 10 replicas (surge 0), a ReplicaSet of 5 last scaled at max 5: its fraction is +5.
    let d = rolling(10, int(0), int(1));
    let mut r = rs("rs", 5);
    set_replicas_annotations(&mut r, 5, 5);
    assert_eq!(get_proportion(&r, &d, 5, 0), 5);
    // Only 2 left to add: 2.
    assert_eq!(get_proportion(&r, &d, 5, 3), 2);
    // Nothing to add, everything added, or an empty ReplicaSet: 0.
    assert_eq!(get_proportion(&r, &d, 0, 0), 0);
    assert_eq!(get_proportion(&r, &d, 5, 5), 0);
    assert_eq!(get_proportion(&rs("empty", 0), &d, 5, 0), 0);
    // Scaling down to 3 (max 5 before): 5 × 3 / 5 = 3, −2; but only −1 left: −1.
    let down = rolling(3, int(0), int(1));
    assert_eq!(get_proportion(&r, &down, -2, 0), -2);
    assert_eq!(get_proportion(&r, &down, -2, -1), -1);
}

#[test]
fn conditions_set_remove_and_keep_their_transition_time() {
    let t0 = SimTime::ZERO + SimDuration::from_millis(1_500);
    let t1 = SimTime::ZERO + SimDuration::from_secs(10);
    let mut status = DeploymentStatus::default();
    let progressing = |s: &str, r: &str, t| new_condition("Progressing", s, r, String::new(), t);
    // Whole seconds: 1.5 s is written as 1 s.
    set_condition(&mut status, progressing("False", "ForSomeReason", t0));
    assert_eq!(
        status.conditions[0].last_update_time,
        SimTime::ZERO + SimDuration::from_secs(1)
    );
    set_condition(
        &mut status,
        new_condition(DEPLOYMENT_AVAILABLE, "True", "Awesome", String::new(), t0),
    );
    assert_eq!(status.conditions.len(), 2);
    // Same status and reason: nothing changes, not even the update time.
    set_condition(&mut status, progressing("False", "ForSomeReason", t1));
    assert_eq!(
        status.condition("Progressing").map(|c| c.last_update_time),
        Some(SimTime::ZERO + SimDuration::from_secs(1))
    );
    // Same status, new reason: the transition time stays, the update time moves.
    set_condition(&mut status, progressing("False", "Other", t1));
    let c = status.condition("Progressing").expect("set");
    assert_eq!(
        (c.last_transition_time, c.last_update_time),
        (SimTime::ZERO + SimDuration::from_secs(1), t1)
    );
    // A new status: both move.
    set_condition(&mut status, progressing("True", "BecauseItIs", t1));
    assert_eq!(
        status
            .condition("Progressing")
            .map(|c| c.last_transition_time),
        Some(t1)
    );
    remove_condition(&mut status, "Progressing");
    remove_condition(&mut status, "ReplicaFailure");
    assert_eq!(status.conditions.len(), 1);
}

#[test]
fn deployment_complete_table() {
    // (desired, current, updated, available, maxUnavailable, maxSurge) → complete.
    let cases = [
        // Min availability but not all available.
        ((5, 5, 5, 4, 1, 0), false),
        ((5, 5, 5, 3, 1, 0), false),
        ((5, 5, 5, 5, 0, 0), true),
        // All available, not all updated.
        ((5, 5, 4, 5, 0, 0), false),
        // An old pod still running.
        ((1, 2, 1, 1, 0, 1), false),
        ((1, 1, 1, 0, 1, 1), false),
    ];
    for ((desired, current, updated, available, unavailable, surge), expected) in cases {
        let mut d = rolling(desired, int(surge), int(unavailable));
        d.status.replicas = current;
        d.status.updated_replicas = updated;
        d.status.available_replicas = available;
        assert_eq!(deployment_complete(&d, &d.status), expected);
    }
}

#[test]
fn deployment_progressing_table() {
    // (current, updated, ready, available) before and after → progressing.
    let cases = [
        ((10, 4, 4, 4), (10, 6, 4, 4), true),
        ((10, 4, 4, 4), (10, 4, 4, 4), false),
        // Old pods removed: 6 old before, 4 after.
        ((10, 4, 6, 6), (8, 4, 6, 6), true),
        // Fewer new pods.
        ((10, 7, 3, 3), (10, 6, 3, 3), false),
        ((10, 4, 7, 7), (8, 8, 5, 5), true),
        ((10, 10, 9, 8), (10, 10, 10, 8), true),
        ((10, 10, 10, 9), (10, 10, 10, 10), true),
    ];
    let status = |(replicas, updated, ready, available)| DeploymentStatus {
        replicas,
        updated_replicas: updated,
        ready_replicas: ready,
        available_replicas: available,
        ..DeploymentStatus::default()
    };
    for (before, after, expected) in cases {
        let d = Deployment {
            status: status(before),
            ..Deployment::default()
        };
        assert_eq!(deployment_progressing(&d, &status(after)), expected);
    }
}

#[test]
fn deployment_timed_out_table() {
    let at = |min: u64, sec: u64| SimTime::ZERO + SimDuration::from_secs(min * 60 + sec);
    let with = |deadline: Option<i32>, reason: &str, from: SimTime| {
        let mut d = Deployment::default();
        d.spec.progress_deadline_seconds = deadline;
        d.status.conditions.push(DeploymentCondition {
            type_: "Progressing".into(),
            status: "True".into(),
            reason: reason.into(),
            last_update_time: from,
            ..DeploymentCondition::default()
        });
        d
    };
    // No deadline (MaxInt32): never.
    let d = with(Some(i32::MAX), "", at(1, 9));
    assert!(!deployment_timed_out(&d, &d.status, at(1, 20)));
    // 10 s from 1:09 is 1:19, before 1:20: timed out.
    let d = with(Some(10), "", at(1, 9));
    assert!(deployment_timed_out(&d, &d.status, at(1, 20)));
    // From 1:11 it is 1:21, not before 1:20.
    let d = with(Some(10), "", at(1, 11));
    assert!(!deployment_timed_out(&d, &d.status, at(1, 20)));
    // A completed rollout never times out; a timed-out one stays so.
    let d = with(Some(10), NEW_RS_AVAILABLE_REASON, SimTime::ZERO);
    assert!(!deployment_timed_out(&d, &d.status, at(9, 0)));
    let d = with(Some(10), TIMED_OUT_REASON, at(8, 59));
    assert!(deployment_timed_out(&d, &d.status, at(9, 0)));
}

#[test]
fn replica_set_orders() {
    let at = |s| SimTime::ZERO + SimDuration::from_secs(s);
    let mut a = rs("a", 3);
    a.metadata.creation_timestamp = at(1);
    let mut b = rs("b", 3);
    b.metadata.creation_timestamp = at(2);
    let c = rs("c", 5);
    // By size then older: c (5), a (3, older), b.
    let mut v = [&b, &a, &c];
    v.sort_by(|x, y| by_size_older(x, y));
    assert_eq!(v.map(|r| r.metadata.name.as_str()), ["c", "a", "b"]);
    // By size then newer: c, b, a.
    v.sort_by(|x, y| by_size_newer(x, y));
    assert_eq!(v.map(|r| r.metadata.name.as_str()), ["c", "b", "a"]);
}
