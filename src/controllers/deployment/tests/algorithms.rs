//! Upstream's `rolling_test.go` and `sync_test.go` tables, run through the controller's own
//! functions with every request answered as sent; each expected size worked out by hand.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::Object;
use crate::api::deployment::{Deployment, RollingUpdateDeployment};
use crate::api::meta::IntOrString;
use crate::api::replicaset::ReplicaSet;
use crate::apiserver::request::RequestBody;
use crate::apiserver::{ClientId, Request, ResponseBody, UserInfo};
use crate::controllers::deployment::replay::{Calls, Flow, Reply, Step};
use crate::controllers::deployment::requests::SyncContext;
use crate::controllers::deployment::rolling::{
    cleanup_unhealthy_replicas, reconcile_new_replica_set, reconcile_old_replica_sets,
    scale_down_old_replica_sets,
};
use crate::controllers::deployment::sync::scale;
use crate::controllers::deployment::util::set_replicas_annotations;
use crate::sim::{SimDuration, SimTime};

/// Runs `step` to the end, answering each request with its own object (as the apiserver
/// stores it); the result and the ReplicaSet sizes written, by name, in order.
fn drive<T>(
    mut step: impl FnMut(&mut SyncContext<'_>) -> Step<T>,
) -> (Step<T>, Vec<(String, i32)>) {
    let user = UserInfo::new("test", &[]);
    let pods = BTreeMap::new();
    let mut replies: Vec<Reply> = Vec::new();
    let mut writes = Vec::new();
    loop {
        let mut cx = SyncContext {
            calls: Calls::new(SimTime::ZERO, &replies),
            client: ClientId(3),
            user: &user,
            pods: &pods,
        };
        let result = step(&mut cx);
        let pending = cx.calls.take_pending();
        let (Err(Flow::Suspend), Some(request)) = (&result, pending) else {
            return (result, writes);
        };
        if let Some(Object::ReplicaSet(rs)) = object_of(&request) {
            writes.push((rs.metadata.name.clone(), rs.replicas()));
        }
        let response = match object_of(&request) {
            Some(o) => Ok(ResponseBody::Object(Arc::new(o))),
            None => Ok(ResponseBody::Deleted),
        };
        replies.push(Reply {
            response,
            at: SimTime::ZERO,
            cached: None,
        });
    }
}

fn object_of(request: &Request) -> Option<Object> {
    match &request.body {
        RequestBody::Object(o) => Some((**o).clone()),
        _ => None,
    }
}

/// Upstream's test Deployment: `replicas`, rolling with these fenceposts.
fn deployment(replicas: i32, surge: i64, unavailable: i64) -> Deployment {
    let mut d = Deployment::default();
    d.metadata.name = "foo".into();
    d.spec.replicas = Some(replicas);
    d.spec.strategy.rolling_update = Some(RollingUpdateDeployment {
        max_surge: Some(IntOrString::Int(surge)),
        max_unavailable: Some(IntOrString::Int(unavailable)),
    });
    d
}

fn rs(name: &str, replicas: i32, available: i32, created_secs: u64) -> ReplicaSet {
    let mut rs = ReplicaSet::default();
    rs.metadata.name = name.into();
    rs.spec.replicas = Some(replicas);
    rs.status.available_replicas = available;
    rs.metadata.creation_timestamp = SimTime::ZERO + SimDuration::from_secs(created_secs);
    rs
}

#[test]
fn reconcile_new_replica_set_table() {
    // (replicas, maxSurge, old, new) → the new size written, if any. maxUnavailable 0.
    let cases = [
        // Surge 0 and 10 old pods of 10: no room.
        (10, 0, 10, 0, None),
        // Room for 12, 10 exist: +2.
        (10, 2, 10, 0, Some(2)),
        // Room for 12, 5 exist: +7 (at most 10).
        (10, 2, 5, 0, Some(7)),
        // Room for 12, 12 exist.
        (10, 2, 10, 2, None),
        // Above the desired 2: down to 2 at once.
        (2, 2, 2, 4, Some(2)),
    ];
    for (replicas, surge, old, new, expected) in cases {
        let d = deployment(replicas, surge, 0);
        let old_rs = rs("foo-v1", old, old, 0);
        let new_rs = rs("foo-v2", new, 0, 1);
        let all = [&old_rs, &new_rs];
        let (result, writes) = drive(|cx| reconcile_new_replica_set(cx, &all, &new_rs, &d));
        assert_eq!(result, Ok(expected.is_some()));
        let written: Vec<i32> = writes.iter().map(|(_, n)| *n).collect();
        assert_eq!(
            written,
            expected.into_iter().collect::<Vec<_>>(),
            "{replicas} {surge} {old} {new}"
        );
    }
}

#[test]
fn reconcile_old_replica_sets_table() {
    // (replicas, maxUnavailable, old, new, old available, new available) → the old size
    // written last, if any. maxSurge 0.
    let cases = [
        // Unavailable 0 and surge 0 resolve to 1 unavailable: 9 must stay, 10 available: −1.
        (10, 0, 10, 0, 10, 0, Some(9)),
        // 8 must stay: −2.
        (10, 2, 10, 0, 10, 0, Some(8)),
        // 2 unavailable old pods are cleaned up (13 − … budget 10 − 8 − 0 = 2): 8; then 8
        // available is not above 8.
        (10, 2, 10, 0, 8, 0, Some(8)),
        // 1 unavailable cleaned up (9), then 9 available is 1 above 8: 8.
        (10, 2, 10, 0, 9, 0, Some(8)),
        // 10 − 8 − 2 unavailable new pods = 0: nothing.
        (10, 2, 8, 2, 8, 0, None),
    ];
    for (replicas, unavailable, old, new, old_available, new_available, expected) in cases {
        let d = deployment(replicas, 0, unavailable);
        let old_rs = rs("foo-v1", old, old_available, 0);
        let new_rs = rs("foo-v2", new, new_available, 1);
        let all = [&old_rs, &new_rs];
        let (result, writes) =
            drive(|cx| reconcile_old_replica_sets(cx, &all, vec![old_rs.clone()], &new_rs, &d));
        assert_eq!(result, Ok(expected.is_some()));
        assert_eq!(writes.last().map(|(_, n)| *n), expected);
    }
}

#[test]
fn cleanup_unhealthy_replicas_table() {
    // An old ReplicaSet of 10 with `ready` available; at most `max` go → how many went.
    let cases = [(8, 1, 1), (8, 3, 2), (8, 0, 0), (10, 3, 0)];
    let d = deployment(10, 0, 2);
    for (ready, max, expected) in cases {
        let old = rs("foo-v1", 10, ready, 0);
        let (result, _) = drive(|cx| cleanup_unhealthy_replicas(cx, vec![old.clone()], &d, max));
        let cleaned = result.map(|(_, n)| n);
        assert_eq!(cleaned, Ok(expected), "{ready} ready, at most {max}");
    }
}

#[test]
fn an_old_replica_set_whose_status_lags_its_scale_down_is_never_scaled_up() {
    // 10 replicas at 25 %/25 % (surge 3, unavailable 2), well into a rollout: the new
    // ReplicaSet has all 10, 8 of them available; the old one was just scaled from 2 to 1 and
    // its status still counts the 2 available pods it had (the ReplicaSet controller has not
    // deleted the surplus pod yet).
    let d = deployment(10, 3, 2);
    let old_rs = rs("foo-v1", 1, 2, 0);
    let new_rs = rs("foo-v2", 10, 8, 1);
    let all = [&old_rs, &new_rs];
    // Its `replicas − available` is −1: "cleaning up" −1 unhealthy pods would take it to 2.
    // Upstream's cleanupUnhealthyReplicas refuses ("got invalid request to scale down
    // foo-v1 1 -> 2") and writes nothing.
    let (result, writes) = drive(|cx| cleanup_unhealthy_replicas(cx, vec![old_rs.clone()], &d, 1));
    assert!(matches!(result, Err(Flow::Failed(_))), "{result:?}");
    assert_eq!(writes, sizes(&[]));
    // reconcileOldReplicaSets swallows that error and scales nothing this sync, although
    // 11 pods − 8 to keep − 2 unavailable new ones = 1 could go: no write, not "scaled". (The
    // old ReplicaSet goes to 0 in a later sync, once its status shows the 1 pod it keeps.)
    // Before the fix it wrote 2, then 0: up, then down.
    let (result, writes) =
        drive(|cx| reconcile_old_replica_sets(cx, &all, vec![old_rs.clone()], &new_rs, &d));
    assert_eq!(result, Ok(false));
    assert_eq!(writes, sizes(&[]));
}

#[test]
fn scale_down_old_replica_sets_table() {
    // (replicas, maxUnavailable, available, old) → the old size written, if any. The old
    // ReplicaSet is the only one; maxSurge 0.
    let cases = [
        // 0 and 0: 1 unavailable allowed, 9 stay of 10 available: −1.
        (10, 0, 10, 10, Some(9)),
        (10, 2, 10, 10, Some(8)),
        // 8 available is not above 8.
        (10, 2, 8, 10, None),
        (10, 2, 10, 0, None),
        (10, 2, 1, 10, None),
    ];
    for (replicas, unavailable, available, old, expected) in cases {
        let d = deployment(replicas, 0, unavailable);
        let old_rs = rs("foo-v1", old, available, 0);
        let all = [&old_rs];
        let olds = [old_rs.clone()];
        let (result, writes) = drive(|cx| scale_down_old_replica_sets(cx, &all, &olds, &d));
        assert_eq!(result.map(|n| n > 0), Ok(expected.is_some()));
        assert_eq!(writes.last().map(|(_, n)| *n), expected);
    }
}

/// Upstream's TestScale: the Deployment resized from `before` to `after` (surge 0), each
/// ReplicaSet last scaled at `before`; the sizes written, by name.
fn resize(
    before: i32,
    after: i32,
    new: (&str, i32),
    old: &[(&str, i32, u64)],
) -> Vec<(String, i32)> {
    let d = deployment(after, 0, 0);
    let annotate = |mut r: ReplicaSet| {
        set_replicas_annotations(&mut r, before, before);
        r
    };
    let new_rs = annotate(rs(new.0, new.1, 0, 100));
    let olds: Vec<ReplicaSet> = old
        .iter()
        .map(|&(name, size, created)| annotate(rs(name, size, 0, created)))
        .collect();
    let (result, writes) = drive(|cx| {
        let mut olds = olds.clone();
        scale(cx, &d, Some(&new_rs), &mut olds)
    });
    assert_eq!(result, Ok(()));
    writes
}

fn sizes(pairs: &[(&str, i32)]) -> Vec<(String, i32)> {
    pairs.iter().map(|&(n, s)| (n.to_string(), s)).collect()
}

#[test]
fn scale_table() {
    // One ReplicaSet: it takes the new size.
    assert_eq!(
        resize(10, 12, ("foo-v1", 10), &[]),
        sizes(&[("foo-v1", 12)])
    );
    assert_eq!(resize(10, 5, ("foo-v1", 10), &[]), sizes(&[("foo-v1", 5)]));
    // 5 → 10: 5 to add, largest first (v1, 3): 3 × 10 / 5 = 6, +3; then v2 (2): 4, +2.
    assert_eq!(
        resize(5, 10, ("foo-v2", 2), &[("foo-v1", 3, 50)]),
        sizes(&[("foo-v1", 6), ("foo-v2", 4)])
    );
    // 5 → 3: −2, largest first (v1, 3): 3 × 3 / 5 = 1.8 → 2, −1; v2: 2 × 3 / 5 = 1.2 → 1, −1.
    assert_eq!(
        resize(5, 3, ("foo-v2", 2), &[("foo-v1", 3, 50)]),
        sizes(&[("foo-v1", 2), ("foo-v2", 1)])
    );
    // 9 → 4: −5, largest first (v2, 8): 8 × 4 / 9 = 3.6 → 4, −4; v1: 0.4 → 0, −1.
    assert_eq!(
        resize(9, 4, ("foo-v2", 8), &[("foo-v1", 1, 50)]),
        sizes(&[("foo-v2", 4), ("foo-v1", 0)])
    );
    // 7 → 10: +3; v2 (3) first, then the two of 2, newer first (v3, then v1): each
    // 2 × 10 / 7 = 2.9 → 3, +1; v2: 3 × 10 / 7 = 4.3 → 4, +1.
    assert_eq!(
        resize(
            7,
            10,
            ("foo-v3", 2),
            &[("foo-v2", 3, 50), ("foo-v1", 2, 10)]
        ),
        sizes(&[("foo-v2", 4), ("foo-v3", 3), ("foo-v1", 3)])
    );
    // 13 → 8: −5; v2 (8): 4.9 → 5, −3; v1 (3): 1.8 → 2, −1; v3 (2): 1.2 → 1, −1.
    assert_eq!(
        resize(
            13,
            8,
            ("foo-v3", 2),
            &[("foo-v2", 8, 50), ("foo-v1", 3, 10)]
        ),
        sizes(&[("foo-v2", 5), ("foo-v1", 2), ("foo-v3", 1)])
    );
    // A saturated new ReplicaSet (10 of 10, all available, desired 10) takes the old ones to
    // zero, newest first.
    let d = deployment(10, 0, 0);
    let mut new_rs = rs("foo-v3", 10, 10, 100);
    set_replicas_annotations(&mut new_rs, 10, 10);
    let olds = vec![rs("foo-v1", 1, 1, 10), rs("foo-v2", 2, 2, 50)];
    let (_, writes) = drive(|cx| scale(cx, &d, Some(&new_rs), &mut olds.clone()));
    assert_eq!(writes, sizes(&[("foo-v2", 0), ("foo-v1", 0)]));
}
