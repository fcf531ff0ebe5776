//! Which of a ReplicaSet's pods go first when it has too many: upstream's `getPodsToDelete`
//! and the order `ActivePodsWithRanks` sorts pods in (`pkg/controller/controller_utils.go`),
//! with the PodDeletionCost and LogarithmicScaleDown features on, as they are by default.
//!
//! Pod `a` goes before pod `b` at the first of these rules that tells them apart:
//!
//! 1. unassigned (no node) before assigned, when exactly one of them is unassigned;
//! 2. phase Pending before Unknown before Running;
//! 3. not Ready before Ready;
//! 4. lower `controller.kubernetes.io/pod-deletion-cost` first (absent or invalid: 0);
//! 5. higher rank first: the number of active pods of the same workload (every ReplicaSet of
//!    the Deployment) on the pod's node, so doubled-up nodes lose pods first;
//! 6. when both are Ready since different times: the more recently Ready first, times compared
//!    on a logarithmic scale (`⌊log2(now − t)⌋` of nanoseconds), equal buckets by uid;
//! 7. more restarts (of its most restarted container) first;
//! 8. when created at different times: the newer first, on the same logarithmic scale.
//!
//! Otherwise they are equal. Upstream breaks equal buckets by comparing the pods' uids, random
//! UUIDs, which makes the choice among pods of the same age pseudo-random; kubesim's uids are
//! sequential, so it compares a fixed scramble of them instead (same pseudo-randomness, same
//! result on every run). Upstream's sort is not stable; kubesim's is, so pods that are equal
//! keep the order they were given in.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::api::Uid;
use crate::api::pod::{Pod, PodPhase};
use crate::sim::SimTime;

/// The annotation that lowers (or raises) a pod's claim to survive a scale-down.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The `diff` pods of `active` to delete (upstream `getPodsToDelete`). They are ranked only
/// when some must stay; `related` are the workload's active pods (every ReplicaSet of its
/// Deployment), whose count per node makes the ranks.
pub fn pods_to_delete<'p>(
    active: &[&'p Pod],
    related: &[&Pod],
    diff: usize,
    now: SimTime,
) -> Vec<&'p Pod> {
    let mut pods = active.to_vec();
    if diff < pods.len() {
        let on_node = pods_per_node(related);
        let rank = |p: &Pod| on_node.get(p.spec.node_name.as_str()).copied().unwrap_or(0);
        merge_sort(&mut pods, &|a, b| compare(a, rank(a), b, rank(b), now));
    }
    pods.truncate(diff);
    pods
}

/// A stable merge sort that asks nothing of `cmp` beyond answering. Upstream's order is not
/// always a strict weak order (two pods Ready at the same instant are compared by restarts,
/// each against a third Ready in the same bucket by uid), which the standard library's sort
/// may reject with a panic; this one gives a definite order whatever the comparisons say.
fn merge_sort<T: Copy>(items: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let mid = items.len() / 2;
    merge_sort(&mut items[..mid], cmp);
    merge_sort(&mut items[mid..], cmp);
    let mut merged = Vec::with_capacity(items.len());
    let (mut i, mut j) = (0, mid);
    while i < mid && j < items.len() {
        // Ties take the left run's item first: the sort is stable.
        if cmp(&items[j], &items[i]) == Ordering::Less {
            merged.push(items[j]);
            j += 1;
        } else {
            merged.push(items[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&items[i..mid]);
    merged.extend_from_slice(&items[j..]);
    items.copy_from_slice(&merged);
}

/// How many active pods of `related` each node holds (unassigned ones under `""`).
fn pods_per_node<'p>(related: &[&'p Pod]) -> BTreeMap<&'p str, usize> {
    let mut on_node = BTreeMap::new();
    for pod in related.iter().filter(|p| is_active(p)) {
        *on_node.entry(pod.spec.node_name.as_str()).or_insert(0) += 1;
    }
    on_node
}

/// Whether a pod still counts for its ReplicaSet: not finished and not being deleted
/// (upstream `IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    !pod.is_terminal() && !pod.metadata.is_terminating()
}

/// The deletion order of pods `a` and `b` with ranks `rank_a` and `rank_b`: `Less` when `a`
/// goes first.
pub fn compare(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: SimTime) -> Ordering {
    let unassigned = |p: &Pod| p.spec.node_name.is_empty();
    if a.spec.node_name != b.spec.node_name && (unassigned(a) || unassigned(b)) {
        return unassigned(b).cmp(&unassigned(a));
    }
    let by_phase = phase_ordinal(a.status.phase).cmp(&phase_ordinal(b.status.phase));
    if by_phase.is_ne() {
        return by_phase;
    }
    let (ready_a, ready_b) = (a.status.ready_since(), b.status.ready_since());
    if ready_a.is_some() != ready_b.is_some() {
        return ready_a.is_some().cmp(&ready_b.is_some());
    }
    let by_cost = deletion_cost(a).cmp(&deletion_cost(b));
    if by_cost.is_ne() {
        return by_cost;
    }
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    if let (Some(since_a), Some(since_b)) = (ready_a, ready_b)
        && since_a != since_b
    {
        return newer_first(a, since_a, b, since_b, now);
    }
    let by_restarts = max_restarts(b).cmp(&max_restarts(a));
    if by_restarts.is_ne() {
        return by_restarts;
    }
    let (created_a, created_b) = (a.metadata.creation_timestamp, b.metadata.creation_timestamp);
    if created_a != created_b {
        return newer_first(a, created_a, b, created_b, now);
    }
    Ordering::Equal
}

/// Pending, Unknown, Running (upstream `podPhaseToOrdinal`; other phases count as Pending).
fn phase_ordinal(phase: PodPhase) -> u8 {
    match phase {
        PodPhase::Unknown => 1,
        PodPhase::Running => 2,
        PodPhase::Pending | PodPhase::Succeeded | PodPhase::Failed => 0,
    }
}

/// The pod's deletion cost: its annotation as a 32-bit integer written plainly (no `+`, no
/// leading zero); anything else counts as 0, as upstream's `GetDeletionCostFromPodAnnotations`.
pub fn deletion_cost(pod: &Pod) -> i32 {
    let Some(value) = pod.metadata.annotations.get(POD_DELETION_COST) else {
        return 0;
    };
    let plain = match value.as_bytes() {
        [b'-', ..] => true,
        [b'0'] => true,
        [first, ..] => (b'1'..=b'9').contains(first),
        [] => false,
    };
    if plain { value.parse().unwrap_or(0) } else { 0 }
}

/// The restarts of the pod's most restarted container.
fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .container_statuses
        .iter()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
        .max(0)
}

/// Rules 6 and 8: the pod whose time `t` is more recent goes first, comparing
/// `⌊log2(now − t)⌋` (−1 when `t` is not before `now`); in the same bucket, by scrambled uid.
fn newer_first(a: &Pod, t_a: SimTime, b: &Pod, t_b: SimTime, now: SimTime) -> Ordering {
    let by_bucket = log2_bucket(t_a, now).cmp(&log2_bucket(t_b, now));
    if by_bucket.is_ne() {
        return by_bucket;
    }
    scramble(a.metadata.uid).cmp(&scramble(b.metadata.uid))
}

/// `⌊log2(now − t)⌋` over nanoseconds, through a float as upstream computes it (so a duration
/// just below a power of two that rounds up to it lands in the next bucket, as there).
fn log2_bucket(t: SimTime, now: SimTime) -> i64 {
    let age = now.as_nanos().saturating_sub(t.as_nanos());
    if age == 0 {
        -1
    } else {
        libm::log2(age as f64) as i64
    }
}

/// A fixed bijective scramble of a uid (SplitMix64's finalizer), standing in for upstream's
/// random UUIDs when pods of the same age are ordered by uid.
fn scramble(uid: Uid) -> u64 {
    let mut z = uid.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pod::{ContainerStatus, POD_READY, PodCondition};
    use crate::sim::SimDuration;

    fn at(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    /// A running, assigned pod created at 0 s, not ready, with no annotation or restarts.
    fn pod(uid: u64, node: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = format!("web-{uid}");
        p.metadata.uid = Uid(uid);
        std::sync::Arc::make_mut(&mut p.spec).node_name = node.into();
        p.status.phase = PodPhase::Running;
        p
    }

    fn ready_since(mut p: Pod, secs: u64) -> Pod {
        p.status.conditions.push(PodCondition {
            type_: POD_READY.into(),
            status: "True".into(),
            last_transition_time: at(secs),
            ..PodCondition::default()
        });
        p
    }

    fn first(a: &Pod, b: &Pod, now: SimTime) -> bool {
        compare(a, 0, b, 0, now) == Ordering::Less && compare(b, 0, a, 0, now) == Ordering::Greater
    }

    #[test]
    fn each_rule_in_turn() {
        let now = at(1000);
        // 1. Unassigned before assigned, though it is Running and Ready and the other Pending.
        let mut pending = pod(1, "n1");
        pending.status.phase = PodPhase::Pending;
        assert!(first(&ready_since(pod(2, ""), 10), &pending, now));
        // 2. Pending < Unknown < Running.
        let mut unknown = pod(3, "n1");
        unknown.status.phase = PodPhase::Unknown;
        assert!(first(&pending, &unknown, now));
        assert!(first(&unknown, &pod(4, "n1"), now));
        // 3. Not ready before ready.
        assert!(first(&pod(5, "n1"), &ready_since(pod(6, "n1"), 10), now));
        // 4. Lower deletion cost first, even when it is the ready one.
        let mut cheap = ready_since(pod(7, "n1"), 10);
        cheap
            .metadata
            .annotations
            .insert(POD_DELETION_COST.into(), "-5".into());
        assert!(first(&cheap, &ready_since(pod(8, "n1"), 10), now));
        // 5. Higher rank (more of the workload on its node) first.
        let (a, b) = (pod(9, "n1"), pod(10, "n2"));
        assert_eq!(compare(&a, 3, &b, 1, now), Ordering::Less);
        assert_eq!(compare(&a, 1, &b, 3, now), Ordering::Greater);
        // 7. More restarts first.
        let mut crashy = pod(11, "n1");
        crashy.status.container_statuses = vec![
            ContainerStatus {
                name: "app".into(),
                restart_count: 4,
                ..ContainerStatus::default()
            },
            ContainerStatus {
                name: "sidecar".into(),
                restart_count: 1,
                ..ContainerStatus::default()
            },
        ];
        let mut once = pod(12, "n1");
        once.status.container_statuses = vec![ContainerStatus {
            name: "app".into(),
            restart_count: 3,
            ..ContainerStatus::default()
        }];
        assert!(first(&crashy, &once, now));
        // Everything equal (same creation time, uids aside): equal.
        assert_eq!(
            compare(&pod(13, "n1"), 0, &pod(14, "n1"), 0, now),
            Ordering::Equal
        );
    }

    #[test]
    fn ages_compare_on_a_logarithmic_scale() {
        let now = at(100);
        // Ready since 90 s: age 10 s = 1e10 ns, log2 = 33.2, bucket 33. Since 80 s: 2e10 ns,
        // log2 = 34.2, bucket 34. The more recently ready goes first.
        let recent = ready_since(pod(1, "n1"), 90);
        let older = ready_since(pod(2, "n1"), 80);
        assert!(first(&recent, &older, now));
        // Since 95 s (5e9 ns, log2 32.2) and 94 s (6e9 ns, log2 32.5): both bucket 32, so the
        // scrambled uids decide, whichever pod is the more recent.
        let (u, v) = (ready_since(pod(3, "n1"), 95), ready_since(pod(4, "n1"), 94));
        let by_uid = scramble(Uid(3)).cmp(&scramble(Uid(4)));
        assert_eq!(compare(&u, 0, &v, 0, now), by_uid);
        let (u, v) = (ready_since(pod(3, "n1"), 94), ready_since(pod(4, "n1"), 95));
        assert_eq!(compare(&u, 0, &v, 0, now), by_uid);
        // Creation times likewise (rule 8): created at 99 s (1e9 ns, bucket 29) before one
        // created at 0 s (1e11 ns, bucket 36).
        let mut newer = pod(5, "n1");
        newer.metadata.creation_timestamp = at(99);
        assert!(first(&newer, &pod(6, "n1"), now));
        // A time not before now is bucket −1, the newest of all.
        assert_eq!(log2_bucket(now, now), -1);
        assert_eq!(log2_bucket(at(90), now), 33);
        // 2^40 − 1 ns is exact as a float: log2 just under 40, bucket 39. 2^60 − 1 ns (36
        // years) is not: it rounds up to 2^60, bucket 60, as upstream's float64 gives, where
        // the integer logarithm would say 59.
        let age = |nanos: u64| log2_bucket(SimTime::ZERO, SimTime::from_nanos(nanos));
        assert_eq!(age((1 << 40) - 1), 39);
        assert_eq!(age((1 << 60) - 1), 60);
    }

    #[test]
    fn deletion_cost_is_a_plain_32_bit_integer_or_zero() {
        let cost = |value: &str| {
            let mut p = pod(1, "n1");
            p.metadata
                .annotations
                .insert(POD_DELETION_COST.into(), value.into());
            deletion_cost(&p)
        };
        assert_eq!(cost("10"), 10);
        assert_eq!(cost("-3"), -3);
        assert_eq!(cost("0"), 0);
        assert_eq!(cost("2147483647"), i32::MAX);
        // Leading zero, plus sign, not a number, beyond 32 bits, empty: 0.
        for bad in ["007", "+5", "x", "2147483648", ""] {
            assert_eq!(cost(bad), 0, "{bad:?}");
        }
        assert_eq!(deletion_cost(&pod(1, "n1")), 0);
    }

    #[test]
    fn a_scale_down_takes_the_first_pods_of_the_ranking() {
        let now = at(1000);
        // Six pods of a Deployment of two ReplicaSets; this ReplicaSet's active pods are
        // a..e, and the other ReplicaSet has one pod (f) on n2. Per node, counting both:
        // n1: a, b → 2; n2: c, d, f → 3; "" : e → 1.
        let a = ready_since(pod(1, "n1"), 100);
        let b = ready_since(pod(2, "n1"), 500);
        let c = ready_since(pod(3, "n2"), 100);
        let d = pod(4, "n2");
        let e = {
            let mut p = pod(5, "");
            p.status.phase = PodPhase::Pending;
            p
        };
        let f = ready_since(pod(6, "n2"), 100);
        let active = [&a, &b, &c, &d, &e];
        let related = [&a, &b, &c, &d, &e, &f];
        // Scale 5 → 2, delete 3: e is unassigned (rule 1); d is not ready (rule 3); then the
        // ready a, b, c: c's node holds 3 of the workload against 2 for a and b (rule 5).
        let names = |pods: Vec<&Pod>| -> Vec<String> {
            pods.iter().map(|p| p.metadata.name.clone()).collect()
        };
        assert_eq!(
            names(pods_to_delete(&active, &related, 3, now)),
            ["web-5", "web-4", "web-3"]
        );
        // Delete 4: next is b, ready since 500 s (age 500 s, bucket 38) before a, ready since
        // 100 s (age 900 s, bucket 39).
        assert_eq!(
            names(pods_to_delete(&active, &related, 4, now)),
            ["web-5", "web-4", "web-3", "web-2"]
        );
        // Deleting every pod ranks nothing: they go in the order given.
        assert_eq!(
            names(pods_to_delete(&active, &related, 5, now)),
            ["web-1", "web-2", "web-3", "web-4", "web-5"]
        );
        // A pod being deleted does not count on its node.
        let mut leaving = ready_since(pod(7, "n1"), 100);
        leaving.metadata.deletion_timestamp = Some(at(999));
        assert!(!is_active(&leaving));
        let related = [&a, &b, &c, &d, &e, &f, &leaving];
        assert_eq!(pods_per_node(&related).get("n1"), Some(&2));
    }

    #[test]
    fn pods_ready_at_the_same_instant_sort_without_complaint() {
        // Rule 6 skips pods Ready at the same instant, so with restarts deciding between
        // those and uids between the others of one bucket, the comparisons need not be
        // transitive. The sort still ends, in the same order every time, with every pod
        // once.
        let now = at(1000);
        let pods: Vec<Pod> = (0..200u64)
            .map(|i| {
                let mut p = ready_since(pod(i + 1, "n1"), 900 + i % 3);
                p.status.container_statuses = vec![ContainerStatus {
                    name: "app".into(),
                    restart_count: (i % 7) as i32,
                    ..ContainerStatus::default()
                }];
                p
            })
            .collect();
        let active: Vec<&Pod> = pods.iter().collect();
        let once = pods_to_delete(&active, &active, 199, now);
        let again = pods_to_delete(&active, &active, 199, now);
        assert_eq!(once.len(), 199);
        let uids = |v: &[&Pod]| v.iter().map(|p| p.metadata.uid).collect::<Vec<_>>();
        assert_eq!(uids(&once), uids(&again));
        let mut distinct = uids(&once);
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 199);
    }
}
