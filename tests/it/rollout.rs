//! Rollouts end to end with the real control plane: kube-scheduler, the ReplicaSet and
//! Deployment controllers and the kubelets, talking through the apiserver. The sizes are read
//! from `events.jsonl` as `kubesim run --events` writes it.
//!
//! The three sequence tests run one Deployment `web` of 10 pods on one node, `n-0`, whose pod
//! startup is fixed, so every step can be derived by hand from upstream's rules
//! (`pkg/controller/deployment/rolling.go`, `recreate.go`, `util/deployment_util.go`). Their
//! common timing:
//!
//! * **apiserver**: a write commits 1 ms after it is sent, and the answer is back then; a
//!   watcher sees a commit 1 ms after it. An update (the controllers write ReplicaSets and the
//!   Deployment's status so; the kubelet patches) whose copy of the object predates the
//!   object's last write conflicts: upstream's optimistic concurrency.
//! * **kube-scheduler**: a cycle costs 100 µs + 1 µs for the one node filtered (a single
//!   feasible node is not scored), one cycle at a time; the binding is sent when the cycle
//!   ends. So a pod committed at `c` is seen at `c + 1 ms`, bound at `c + 2.101 ms` (101 µs
//!   later for each pod seen together before it), and its kubelet sees the binding at
//!   `T = c + 3.101 ms`.
//! * **kubelet**: both images are on the node already (no pull); sandbox 500 ms, container
//!   start 200 ms, so the container runs from `T + 0.7 s`. Its readiness probe ticks every
//!   second from `T` (the kubelet has run longer than a period, so no random offset) and
//!   passes from 5 s after the start (`kubesim.io/ready-after: 5s`): the tick at `T + 6 s` makes
//!   the pod Ready (the PLEG, relisting every whole second, has seen the container running by
//!   then), and the status write commits 1 ms later — unless the node's status manager
//!   is writing another pod's status (it writes one pod at a time), then 1 ms after that one
//!   is answered. A deleted pod's container stops in 1 s (within its 30 s grace period); the
//!   kubelet then writes its final status (Succeeded) and, once that is answered, sends the
//!   final delete.
//! * **ReplicaSet controller**: it syncs a ReplicaSet as soon as an event about it or one of
//!   its pods arrives, or, if it is syncing that ReplicaSet already, right after that sync
//!   (upstream's work queue: dirty while processing). It creates pods in slow-start batches
//!   (1, 2, 4, …; each batch once the previous one is answered). Its status write, the sync's
//!   last call, counts the pods its cache held when the sync started (upstream
//!   `calculateStatus` over the pods from before `manageReplicas`: a ReplicaSet that just
//!   deleted a pod still counts it), and is written only if it changed; if the cached copy of
//!   the ReplicaSet was stale (its own previous status write, or a scale, not seen yet) the
//!   write conflicts and is retried once after a GET, 2 ms later (upstream
//!   `updateReplicaSetStatus`); a second conflict fails the sync, and the next sync writes.
//! * **Deployment controller**: one sync at a time per Deployment, from its cache as it is
//!   when the sync starts; events arriving during a sync make it sync again as soon as it is
//!   over, and so does a conflict (a failed sync is requeued). A sync makes at most one
//!   step of the rollout, then writes the Deployment's status.
//!
//! At 0 s the Deployment is applied (committed at 1 ms, which the controllers' first lists,
//! answered then, already see) and its first ReplicaSet created at 10 (2 ms): (0, 10). Its pods
//! are all Ready within 10 s; the image is set at 60 s.
//!
//! The property test drops the fixed timing: random fenceposts, sizes, nodes and per-pod
//! startup times, and checks the rollout's bounds after every commit.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::Value;

use kubesim::api::deployment::Deployment;
use kubesim::api::{Kind, Object, ObjectKey, ObjectMeta, Uid};
use kubesim::controllers::deployment::util::deployment_complete;
use kubesim::scenario::Scenario;
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};

use crate::support::{load_text, proptest_config};

/// The kubelets' step durations of the sequence tests: fixed, so every pod starts alike.
const FIXED_TIMING: &str = "{sandbox: {fixed: 500ms}, imagePull: {fixed: 2s}, \
    containerStart: {fixed: 200ms}, containerStop: {fixed: 1s}}";

/// A rollout of Deployment `default/web` (pods `app: web`, image `web:v1`, 100m CPU each) to
/// image `web:v2` at 60 s.
struct Rollout<'a> {
    /// Nodes (`n-0`, `n-1`, …; 8 CPUs each, both images already pulled).
    nodes: u32,
    /// The Deployment's replicas.
    replicas: i32,
    /// Its `spec.strategy`, in flow style.
    strategy: &'a str,
    /// `spec.kubelet.timing`, in flow style.
    timing: &'a str,
    /// The pods' `kubesim.io/ready-after`.
    ready_after: &'a str,
    /// Their readiness probe's `periodSeconds`.
    probe_period: u64,
}

impl Rollout<'_> {
    /// The sequence tests' rollout: 10 pods on one node, fixed startup, Ready 5 s after their
    /// container starts, probed every second.
    fn fixed(strategy: &str) -> Rollout<'_> {
        Rollout {
            nodes: 1,
            replicas: 10,
            strategy,
            timing: FIXED_TIMING,
            ready_after: "5s",
            probe_period: 1,
        }
    }

    fn scenario(&self) -> Scenario {
        let Rollout {
            nodes,
            replicas,
            strategy,
            timing,
            ready_after,
            probe_period,
        } = self;
        let text = format!(
            r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: rollout}}
spec:
  duration: 30m
  nodePools:
    - name: n
      count: {nodes}
      template:
        allocatable: {{cpu: "8", memory: 32Gi, pods: "110"}}
        images: [{{names: ["web:v1", "web:v2"], sizeBytes: 100000000}}]
  apiserver: {{admissionLatency: 1ms, watchDelay: 1ms}}
  scheduler: {{cycleCost: {{perCycle: 100us, perNodeFiltered: 1us, perNodeScored: 1us}}}}
  kubelet:
    timing: {timing}
  timeline:
    - {{at: 60s, set: {{deployment: default/web, image: "web:v2"}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  strategy: {strategy}
  template:
    metadata:
      labels: {{app: web}}
      annotations: {{kubesim.io/ready-after: {ready_after}}}
    spec:
      containers:
        - name: web
          image: "web:v1"
          resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
          readinessProbe: {{periodSeconds: {probe_period}, httpGet: {{path: /, port: 80}}}}
"#
        );
        load_text(&text, &[])
    }
}

/// `events.jsonl` of a run of `rollout` to `until` seconds, one JSON object per line.
fn events_jsonl(rollout: &Rollout<'_>, until: u64) -> Vec<Value> {
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    let mut sim = world::build(&rollout.scenario(), &options);
    sim.run_until(at_micros(until * 1_000_000));
    let mut text = Vec::new();
    kubesim::report::files::write_events(&mut text, sim.model().api().writes())
        .expect("events.jsonl is written to memory");
    String::from_utf8(text)
        .expect("events.jsonl is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect()
}

fn at_micros(us: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_micros(us)
}

/// The sizes (`replicas`) of the first ReplicaSet (the old one) and the second (the new one)
/// after every ReplicaSet write that changed either, as (time in µs, (new, old)); a
/// ReplicaSet not created yet, or deleted, counts 0.
fn size_steps(events: &[Value]) -> Vec<(u64, (i64, i64))> {
    let mut names: Vec<&str> = Vec::new();
    let mut sizes = [0i64; 2];
    let mut steps: Vec<(u64, (i64, i64))> = Vec::new();
    for e in events.iter().filter(|e| e["kind"] == "ReplicaSet") {
        let name = e["name"].as_str().expect("a name");
        if !names.contains(&name) {
            names.push(name);
        }
        let i = names.iter().position(|&n| n == name).expect("named");
        assert!(i < 2, "a third ReplicaSet: {e}");
        sizes[i] = if e["type"] == "DELETED" {
            0
        } else {
            e["replicas"].as_i64().expect("replicas")
        };
        let pair = (sizes[1], sizes[0]);
        if steps.last().map(|s| s.1) != Some(pair) {
            let t = e["t"].as_u64().expect("t");
            steps.push((t / 1000, pair));
        }
    }
    steps
}

/// A rolling update of 10 pods at maxSurge 25 % / maxUnavailable 25 %: at most
/// 10 + ⌈2.5⌉ = 13 pods (`allPods` counts ReplicaSet sizes) and at least 10 − ⌊2.5⌋ = 8
/// available (`minAvailable`).
///
/// 60.001 s: the image is set. 60.002 s, sync 1: no ReplicaSet has the new template, so `new`
/// is created at `NewRSNewReplicas` = min(13 − 10, 10 − 0) = 3 (commits 60.003): (3, 10). Its
/// status write (revision 2, Progressing NewReplicaSetCreated) commits 60.004. The same sync
/// goes on: reconcileNewReplicaSet finds 13 of 13, nothing; reconcileOldReplicaSets:
/// maxScaledDown = 13 − 8 − (3 − 0 available) = 2, cleanupUnhealthyReplicas finds old at 10 of
/// 10 available (nothing to clean), scaleDownOldReplicaSetsForRollingUpdate: 10 available − 8
/// = 2, so old goes to 8 (commits 60.005): (3, 8). Its last status write conflicts (its copy
/// of the Deployment predates its own first status write, as upstream's does), so it syncs
/// again at once (60.006): 11 of 13, new + min(13 − 11, 10 − 3) = 5; but the ReplicaSet controller's
/// first status write of `new` commits first (60.007), so the update conflicts; the sync after
/// seeing that write (60.008) scales it (commits 60.009): (5, 8).
///
/// The new pods. `new` at 3 is seen at 60.004: pod A1 commits 60.005, A2 and A3 (the second
/// slow-start batch) 60.006. `new` at 5 is seen at 60.010: B1 commits 60.011, B2 (a batch of
/// one) 60.012. T = c + 3.101 ms: A1 60.008101, A2 60.009101, A3 60.009202 (bound a cycle after
/// A2), B1 60.014101, B2 60.015101. Ready ticks at T + 6 s; the status writes: A1 66.009101,
/// A2 66.010101 (after A1's answer), A3 66.011101 (after A2's), B1 66.015101, B2 66.016101
/// (after B1's). So the pods of one step are Ready 1 ms apart, and the two steps 5 ms apart:
/// equal startup times do not make a step's pods Ready together.
///
/// What the Deployment controller learns, from `new`'s status writes: 1 available at
/// 66.011101 (the sync on A1); 2 at 66.014101 (the sync on A2 started before its cache held
/// the first write: conflict, GET, retry); A3's sync fails (conflict, then after the GET a
/// conflict with the Deployment controller's scale to 6 at 66.017101), and the next sync,
/// started on B1 and B2, writes 5 at 66.020101 (conflict with that scale again, GET, retry).
/// Old's status, after each scale-down, first still counts the pod it deletes (8 of 7 at
/// 66.016101), then the sync after the deletion writes the truth (7 of 7 at 66.019101).
///
/// * 66.012101 (sees 1 of 5): maxScaledDown = 13 − 8 − (5 − 1) = 1; old 8 of 8; 8 + 1 = 9
///   available, 1 above 8: old 7 (commits 66.013101): (5, 7).
/// * 66.014101 (its own scale-down seen): 12 of 13, new + 1 = 6; the update conflicts with
///   `new`'s status write of 66.014101, and once more as the retry starts just before the
///   controller's cache has that write; the third try commits 66.017101: (6, 7).
/// * 66.018101–66.019101: new 2 of 6, maxScaledDown = 13 − 8 − 4 = 1, but old says 8
///   available of 7: cleanupUnhealthyReplicas refuses to "scale down" by 7 − 8 = −1 (an
///   error reconcileOldReplicaSets swallows): nothing.
/// * 66.020101 (old 7 of 7 seen): 13 − 8 − 4 = 1; 7 + 2 = 9: old 6 (66.021101): (6, 6).
/// * 66.022101 (new 5 of 6 seen): 12 of 13, new 7 (66.023101): (7, 6).
/// * 66.024101–66.027101: maxScaledDown = 13 − 8 − (7 − 5) = 3, but old says 7 of 6: refused.
/// * 66.028101 (old 6 of 6, written 66.027101): 13 − 8 − 2 = 3; 6 + 5 = 11, 3 above 8: old 3
///   (66.029101): (7, 3).
/// * 66.030101: 10 of 13, new + min(3, 3) = 10 (66.031101): (10, 3).
///
/// The last five pods: C1 (for 6) commits 66.021101 (`new` at 6 is seen at 66.018101 during
/// the status sync that writes 5, the next sync creates it), C2 (for 7) 66.025101; D1
/// 66.035101, D2 and D3 66.036101 (`new` at 10 is seen at 66.032101 during a status sync
/// whose write conflicts with that very scale and is retried, committing 66.034101; the next
/// sync creates them). Ready writes:
/// C1 72.025202, C2 72.029202, D1 72.039202, D2 72.040202, D3 72.041202; `new`'s status: 6 at
/// 72.027202, 7 at 72.031202, 8 at 72.041202, 9 at 72.044202, 10 at 72.047202.
///
/// * 72.028202 (6 of 10): 13 − 8 − 4 = 1; 3 + 6 = 9: old 2 (72.029202): (10, 2).
/// * 72.030202–72.031202: 12 − 8 − 4 = 0, nothing; 72.032202–72.035202: new 7, 12 − 8 − 3 =
///   1, but old says 3 of 2: refused.
/// * 72.036202 (old 2 of 2, written 72.035202): 12 − 8 − 3 = 1; 2 + 7 = 9: old 1 (72.037202):
///   (10, 1).
/// * 72.038202–72.044202: old says 2 of 1: nothing (new 7: 11 − 8 − 3 = 0; new 8: refused).
/// * 72.045202 (old 1 of 1, written 72.043202; new 8): 11 − 8 − 2 = 1; 1 + 8 = 9: old 0
///   (72.046202): (10, 0).
///
/// The shipped scenarios/rolling-update.yaml (the same fixed startup on four nodes) gives the
/// same sequence. The textbook one — (3, 10), (3, 8), (5, 8), (5, 5), (8, 5), (8, 3), (10, 3),
/// (10, 0), which the controller's unit tests get from a stand-in that makes a whole step
/// Ready and reports it in one status write — needs every pod of a step reported at once.
/// Here they are created, bound and written one after the other, so availability reaches the
/// Deployment controller as 1, 2, 5 and 6, 7, 8, and it takes a step on each.
#[test]
fn a_rolling_update_of_10_at_25_percent_steps_as_derived_from_upstreams_rules() {
    let rollout = Rollout::fixed(
        "{type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}",
    );
    let steps = size_steps(&events_jsonl(&rollout, 120));
    assert_eq!(
        steps,
        [
            (2_000, (0, 10)),
            (60_003_000, (3, 10)),
            (60_005_000, (3, 8)),
            (60_009_000, (5, 8)),
            (66_013_101, (5, 7)),
            (66_017_101, (6, 7)),
            (66_021_101, (6, 6)),
            (66_023_101, (7, 6)),
            (66_029_101, (7, 3)),
            (66_031_101, (10, 3)),
            (72_029_202, (10, 2)),
            (72_037_202, (10, 1)),
            (72_046_202, (10, 0)),
        ]
    );
}

/// maxSurge 1 / maxUnavailable 0: at most 11 pods, all 10 available throughout.
///
/// 60.002 s: `new` is created at min(11 − 10, 10) = 1 (commits U₁ = 60.003); reconcileOld:
/// maxScaledDown = 11 − 10 − (1 − 0) = 0, old stays at 10: (1, 10).
///
/// Round k, `new` scaled to k at U_k, one pod at a time so nothing overlaps:
/// * U + 1 ms the ReplicaSet controller sees it, its one pod commits U + 2 ms; the kubelet
///   sees the binding at T = U + 5.101 ms; Ready at T + 6 s, written U + 6.006101 s;
/// * the ReplicaSet controller's status (k of k available) commits U + 6.008101 s (no
///   conflict: nothing has written `new` for 6 s, its cache is up to date);
/// * the Deployment controller sees it at U + 6.009101 s: old's 11 − k and new's k make 11
///   pods, all available; maxScaledDown = 11 − 10 − (k − k) = 1, and 11 available is 1 above
///   10: old − 1, committing U + 6.010101 s: (k, 10 − k);
/// * its status write (1 ms), then the sync its own scale-down caused: 10 of 11, new + 1,
///   committing U_{k+1} = U + 6.012101 s: (k + 1, 10 − k).
///
/// So (k, 11 − k) at 60.003 + (k − 1) × 6.012101 s and (k, 10 − k) 6.010101 s later, the
/// last, (10, 0), at 60.003 + 9 × 6.012101 + 6.010101 = 120.122010 s. This is the textbook
/// sequence: with one pod per step there is nothing to report piecemeal.
#[test]
fn a_rolling_update_with_surge_1_and_no_unavailability_replaces_one_pod_at_a_time() {
    let rollout =
        Rollout::fixed("{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}");
    let steps = size_steps(&events_jsonl(&rollout, 180));
    let mut expected = vec![(2_000, (0, 10))];
    for k in 1..=10 {
        let raised = 60_003_000 + (k as u64 - 1) * 6_012_101;
        expected.push((raised, (k, 11 - k)));
        expected.push((raised + 6_010_101, (k, 10 - k)));
    }
    assert_eq!(steps, expected);
    assert_eq!(steps.last(), Some(&(120_122_010, (10, 0))));
}

/// Recreate: every old ReplicaSet to 0, then nothing until no old pod is left, then `new` at
/// once at 10.
///
/// * 60.002 s: rolloutRecreate scales old to 0 (commits 60.003): (0, 0). There is no `new`
///   yet (it is created only once the old pods are gone).
/// * 60.004: the ReplicaSet controller deletes all 10 pods at once (burstReplicas 500), each
///   committing 60.005 with a 30 s grace period; its status says 0 pods from 60.009 (the one
///   written with the deletions, at 60.006, still counts them).
/// * 60.006: the kubelet sees the deletions and stops every container; each stops 1 s later,
///   at 61.006, and the 10 pods' final status (Succeeded) goes out one at a time: pod k's
///   commits at 61.006 + k ms, and its final delete, sent on that answer, at 61.007 + k ms.
///   The syncs before then (on old's status writes) find old pods running (upstream
///   `oldPodsRunning`: old's status counts pods, then pods not yet Succeeded or Failed), and
///   no pod event wakes the Deployment controller but a deletion that leaves no pod (upstream
///   `deletePod`).
/// * 61.018: it sees the tenth deletion: no pods left, old's status says 0 replicas, so the
///   sync creates `new` at `replicas` at once (commits 61.019): (10, 0).
#[test]
fn recreate_scales_the_old_replica_set_to_zero_then_the_new_one_to_10_once_no_old_pod_is_left() {
    let rollout = Rollout::fixed("{type: Recreate}");
    let steps = size_steps(&events_jsonl(&rollout, 120));
    assert_eq!(
        steps,
        [
            (2_000, (0, 10)),
            (60_003_000, (0, 0)),
            (61_019_000, (10, 0))
        ]
    );
}

/// `maxSurge` / `maxUnavailable` as a manifest writes them: a number (0–3) or a percentage
/// (0–60 %).
fn fencepost() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..=3i64).prop_map(|n| n.to_string()),
        (0..=60i64).prop_map(|p| format!("\"{p}%\"")),
    ]
}

/// Whether a fencepost is written as 0 (the apiserver refuses maxSurge and maxUnavailable
/// both 0).
fn is_zero(fencepost: &str) -> bool {
    fencepost == "0" || fencepost == "\"0%\""
}

/// A fencepost resolved against `replicas` as upstream's `ResolveFenceposts` does: a number
/// as it is, a percentage of `replicas` rounded up (`round_up`) or down.
fn resolve(fencepost: &str, replicas: i64, round_up: bool) -> i64 {
    match fencepost.trim_matches('"').strip_suffix('%') {
        Some(percent) => {
            let scaled = percent.parse::<i64>().expect("a percentage") * replicas;
            if round_up {
                (scaled + 99) / 100
            } else {
                scaled / 100
            }
        }
        None => fencepost.parse().expect("a number"),
    }
}

/// What the bounds are checked on, at one instant.
#[derive(Debug)]
struct Census {
    /// Σ `spec.replicas` over the Deployment's ReplicaSets.
    replicas: i64,
    /// The Deployment's active pods: neither being deleted nor finished.
    active: i64,
    /// Those of them Ready.
    available: i64,
}

/// The census of Deployment `d`, from the store.
fn census(sim: &Simulation<World>, d: &Deployment) -> Census {
    let store = sim.model().api().store();
    let controlled_by = |meta: &ObjectMeta, uids: &BTreeSet<Uid>| {
        meta.controller_ref().is_some_and(|r| uids.contains(&r.uid))
    };
    let deployment = BTreeSet::from([d.metadata.uid]);
    let mut replicas = 0;
    let mut replica_sets = BTreeSet::new();
    for o in store.iter(Kind::ReplicaSet) {
        if let Object::ReplicaSet(rs) = &**o
            && controlled_by(&rs.metadata, &deployment)
        {
            replicas += i64::from(rs.replicas());
            replica_sets.insert(rs.metadata.uid);
        }
    }
    let active: Vec<_> = store
        .iter(Kind::Pod)
        .filter_map(|o| o.as_pod())
        .filter(|p| controlled_by(&p.metadata, &replica_sets))
        .filter(|p| !p.metadata.is_terminating() && !p.is_terminal())
        .collect();
    let available = active.iter().filter(|p| p.status.ready_since().is_some());
    Census {
        replicas,
        available: available.count() as i64,
        active: active.len() as i64,
    }
}

/// The stored Deployment `default/web`, once it exists.
fn stored_deployment(sim: &Simulation<World>) -> Option<Deployment> {
    let key = ObjectKey::new("default", "web");
    let object = sim.model().api().store().get(Kind::Deployment, &key)?;
    match &**object {
        Object::Deployment(d) => Some((**d).clone()),
        _ => None,
    }
}

proptest! {
    #![proptest_config(proptest_config(16))]

    /// A rolling update of `replicas` pods (1–12) to a new image at 60 s, with random
    /// fenceposts (numbers or percentages, not both written 0, which the apiserver refuses),
    /// on 1–3 nodes whose kubelets draw each pod's sandbox and container start times (uniform
    /// up to 3 s each; the run's seed picks the draws), its readiness probe (every 1–3 s)
    /// passing `ready_after` (up to 10 s) after its container started. After every commit:
    ///
    /// * Σ `spec.replicas` of the Deployment's ReplicaSets is at most `replicas + maxSurge`:
    ///   the bound upstream keeps, on ReplicaSet sizes (`NewRSNewReplicas` and
    ///   `reconcileOldReplicaSets` count `spec.replicas`, never pods);
    /// * and so is the number of its active pods (upstream `IsPodActive`: not being deleted,
    ///   not Succeeded or Failed; what a ReplicaSet's size counts). Pods being deleted are
    ///   left out: they run out their grace period, but no controller counts them any more.
    ///   Upstream does not promise this bound for pods — the scale-down and the scale-up it
    ///   makes room for are carried out by two independent ReplicaSet syncs — but here the
    ///   Deployment controller scales up only after seeing its own scale-down, which the
    ///   ReplicaSet controller sees as early and carries out at once: the deletions commit
    ///   1 ms after the scale-down is seen, the new pods 3 ms after (the scale-up's commit,
    ///   its sight, the creations).
    /// * once the first rollout is complete, at least `replicas − maxUnavailable` of the
    ///   Deployment's pods are available: Ready (`minReadySeconds` is 0) and not being
    ///   deleted (a ReplicaSet's `availableReplicas` does not count those either).
    /// * the rollout completes (upstream `DeploymentComplete`: updated = available = replicas
    ///   pods, observed the new template) within `replicas` rounds of `sandbox + container
    ///   start + ready_after + probe period + 1 s` (the maxima of the draws) after the image
    ///   change. A pod created at `c` is seen by its kubelet milliseconds later, runs after its
    ///   sandbox and container start, is seen running by the PLEG within the second, and is
    ///   Ready at the first probe after `ready_after` (or at that relist's probe), within a
    ///   period; the 1 s of slack covers the milliseconds of API calls, scheduling and the
    ///   controllers' retries. Each round makes at least one more new pod available: new pods
    ///   are on their way, or the new ReplicaSet may grow (fewer than `replicas + maxSurge`),
    ///   or every pod is available — `replicas + maxSurge` of them, more than `replicas −
    ///   maxUnavailable` since the two cannot both be 0 — and old ones go to make room for
    ///   new ones. The new ReplicaSet has `replicas` pods to make available: `replicas`
    ///   rounds.
    #[test]
    fn a_rolling_update_keeps_its_bounds_and_completes_in_time(
        replicas in 1..=12i64,
        (surge, unavailable) in (fencepost(), fencepost())
            .prop_filter("maxSurge and maxUnavailable both 0", |(s, u)| !(is_zero(s) && is_zero(u))),
        nodes in 1..=3u32,
        sandbox_ms in 0..=3000u64,
        start_ms in 0..=3000u64,
        ready_after_ms in 0..=10_000u64,
        probe_period in 1..=3u64,
        seed in any::<u64>(),
    ) {
        let strategy = format!(
            "{{type: RollingUpdate, rollingUpdate: {{maxSurge: {surge}, maxUnavailable: {unavailable}}}}}"
        );
        let timing = format!(
            "{{sandbox: {{uniform: {{min: 0s, max: {sandbox_ms}ms}}}}, \
             containerStart: {{uniform: {{min: 0s, max: {start_ms}ms}}}}, \
             containerStop: {{uniform: {{min: 0s, max: 2s}}}}}}"
        );
        let ready_after = format!("{ready_after_ms}ms");
        let rollout = Rollout {
            nodes,
            replicas: replicas as i32,
            strategy: &strategy,
            timing: &timing,
            ready_after: &ready_after,
            probe_period,
        };
        let options = RunOptions { seed: Some(seed), ..RunOptions::default() };
        let mut sim = world::build(&rollout.scenario(), &options);
        // Upstream's fenceposts: surge rounds up, unavailability down; if both come to 0, one
        // pod may be unavailable; never more than `replicas`.
        let max_surge = resolve(&surge, replicas, true);
        let mut max_unavailable = resolve(&unavailable, replicas, false);
        if max_surge == 0 && max_unavailable == 0 {
            max_unavailable = 1;
        }
        let max_unavailable = max_unavailable.min(replicas);
        let round = sandbox_ms + start_ms + ready_after_ms + 1000 * probe_period + 1000;
        let change = at_micros(60_000_000);
        let deadline = change + SimDuration::from_millis(replicas as u64 * round);
        let (mut first_done, mut done) = (false, false);
        let mut revision = sim.model().api().store().revision();
        while let Some(t) = sim.step() {
            prop_assert!(t <= deadline, "not complete by {deadline}: {:?}", stored_deployment(&sim).map(|d| d.status));
            if sim.model().api().store().revision() == revision {
                continue;
            }
            revision = sim.model().api().store().revision();
            let Some(d) = stored_deployment(&sim) else {
                continue;
            };
            let c = census(&sim, &d);
            prop_assert!(
                c.replicas <= replicas + max_surge,
                "{c:?} at {t}: more than {replicas} + {max_surge} replicas"
            );
            prop_assert!(
                c.active <= replicas + max_surge,
                "{c:?} at {t}: more than {replicas} + {max_surge} active pods"
            );
            let complete = deployment_complete(&d, &d.status);
            if !first_done {
                prop_assert!(t < change, "the first rollout not complete at {t}");
                first_done = complete;
                continue;
            }
            prop_assert!(
                c.available >= replicas - max_unavailable,
                "{c:?} at {t}: fewer than {replicas} − {max_unavailable} available"
            );
            if complete && d.spec.template.spec.containers[0].image == "web:v2" {
                done = true;
                break;
            }
        }
        prop_assert!(done, "the run ended before the rollout completed");
    }
}

/// The shipped `scenarios/rolling-update.yaml` replaces its 10 pods three times (two rollouts
/// and a rollback): 30 pods are deleted along the way. The recorder keeps derived resources
/// only for what still exists, so a long run with churn does not grow its samples' cache
/// without end: at most the nodes and pods of the store at the end.
#[test]
fn the_samples_cache_holds_only_objects_that_still_exist() {
    let scenario = crate::support::load(std::path::Path::new("scenarios/rolling-update.yaml"));
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    let mut sim = world::build(&scenario, &options);
    sim.run_until(SimTime::ZERO + scenario.duration);
    let world = sim.model();
    let store = world.api().store();
    let existing = store.count(Kind::Pod) + store.count(Kind::Node);
    let deleted_pods = world
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == Kind::Pod && w.change == kubesim::apiserver::ChangeType::Deleted)
        .count();
    assert!(deleted_pods >= 20, "{deleted_pods} pod deletions");
    assert!(
        world.recorder().cached_resources() <= existing,
        "{} cached, {existing} exist",
        world.recorder().cached_resources()
    );
}
