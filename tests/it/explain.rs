//! `kubesim explain`: filter verdicts and scores on a small cluster, checked against values
//! derived by hand from the plugins' formulas; the scheduler's own decision explained, with
//! `chosen` the node each pod was bound to, on shipped scenarios and random small clusters.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use kubesim::api::{Kind, ObjectKey};
use kubesim::scheduler::cycle_trace::{AttemptOutcome, ScheduleAttempt, TracedPods};
use kubesim::scheduler::explain::explain_attempt;
use kubesim::world::{self, RunOptions};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::{kubesim, load, load_text, proptest_config};

const SCENARIO: &str = "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: explain-fixture}
spec:
  duration: 1m
---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
status: {allocatable: {cpu: '4', memory: 8Gi, pods: '110'}}
---
apiVersion: v1
kind: Node
metadata: {name: n2, labels: {kubernetes.io/hostname: n2}}
status: {allocatable: {cpu: '4', memory: 8Gi, pods: '110'}}
---
apiVersion: v1
kind: Node
metadata: {name: n3, labels: {kubernetes.io/hostname: n3}}
spec:
  taints: [{key: slow, value: 'yes', effect: PreferNoSchedule}]
status: {allocatable: {cpu: '2', memory: 8Gi, pods: '110'}}
---
apiVersion: v1
kind: Node
metadata: {name: n4, labels: {kubernetes.io/hostname: n4}}
spec: {unschedulable: true}
status: {allocatable: {cpu: '4', memory: 8Gi, pods: '110'}}
---
apiVersion: v1
kind: Node
metadata: {name: n5, labels: {kubernetes.io/hostname: n5}}
status: {allocatable: {cpu: '1', memory: 8Gi, pods: '110'}}
---
apiVersion: v1
kind: Pod
metadata: {name: existing}
spec:
  nodeName: n1
  containers: [{name: c, image: app, resources: {requests: {cpu: '1', memory: 2Gi}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: incoming}
spec:
  containers: [{name: c, image: nginx, resources: {requests: {cpu: 1500m, memory: 1Gi}}}]
";

/// Runs `kubesim explain SCENARIO ARGS…`; returns the exit code, stdout and stderr.
fn explain(args: &[&str]) -> (Option<i32>, String, String) {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let file = tmp.path().join("explain.yaml");
    std::fs::write(&file, SCENARIO).expect("write the scenario");
    let mut all = vec![OsStr::new("explain"), file.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    kubesim(&all, tmp.path(), &[])
}

fn explain_json(extra: &[&str]) -> Value {
    let mut args = vec!["--pod", "default/incoming", "--json"];
    args.extend(extra);
    let (code, stdout, stderr) = explain(&args);
    assert_eq!(code, Some(0), "explain failed: {stderr}");
    serde_json::from_str(&stdout).expect("explain prints JSON")
}

fn scored(raw: i64, normalized: i64, weighted: i64) -> Value {
    json!({"raw": raw, "normalized": normalized, "weighted": weighted})
}

/// The nodes of the fixture as the hand derivation below scores them, for the pod `incoming`
/// (what-if or decision: the cluster is the same, as `existing` is bound from the start).
fn expected_nodes() -> Value {
    let skipped = json!({"skipped": true});
    // The pod asks for 1500m CPU and 1 Gi; every container lacking a request would count as
    // 100m / 200 Mi for scoring, but both are set.
    //
    // NodeResourcesFit, LeastAllocated: per resource (alloc − requested)·100/alloc, averaged.
    //   n1: cpu (4000 − 2500)·100/4000 = 37, memory (8 − 3)·100/8 = 62 → (37 + 62)/2 = 49.
    //   n2: cpu 2500·100/4000 = 62, memory 7·100/8 = 87 → 74.
    //   n3: cpu 500·100/2000 = 25, memory 87 → 56.
    // BalancedAllocation: 100·(1 − |cpu share − memory share|/2), truncated.
    //   n1: |0.625 − 0.375|/2 = 0.125 → 87; n2: |0.375 − 0.125|/2 = 0.125 → 87;
    //   n3: |0.75 − 0.125|/2 = 0.3125 → 68.
    // TaintToleration: intolerable PreferNoSchedule taints 0, 0, 1; reversed normalisation by
    // the maximum 1 gives 100, 100, 0; weight 3.
    // ImageLocality: no node has the image: below the 23 MiB floor → 0.
    // NodeAffinity (no preferred terms), PodTopologySpread (no constraints, no workload
    // selects the pod) and InterPodAffinity (no affinity anywhere) skip at PreScore.
    let feasible = |name: &str, fit: i64, balanced: i64, taint: (i64, i64), total: i64| {
        json!({
            "name": name, "feasible": true, "filter": null,
            "scores": {
                "ImageLocality": scored(0, 0, 0),
                "InterPodAffinity": skipped,
                "NodeAffinity": skipped,
                "NodeResourcesBalancedAllocation": scored(balanced, balanced, balanced),
                "NodeResourcesFit": scored(fit, fit, fit),
                "PodTopologySpread": skipped,
                "TaintToleration": scored(taint.0, taint.1, taint.1 * 3),
            },
            "total": total,
        })
    };
    json!([
        // 300 + 49 + 87 + 0 = 436
        feasible("n1", 49, 87, (0, 100), 436),
        // 300 + 74 + 87 = 461
        feasible("n2", 74, 87, (0, 100), 461),
        // 0 + 56 + 68 = 124
        feasible("n3", 56, 68, (1, 0), 124),
        {"name": "n4", "feasible": false,
         "filter": {"plugin": "NodeUnschedulable", "reason": "node(s) were unschedulable"},
         "scores": {}, "total": null},
        {"name": "n5", "feasible": false,
         "filter": {"plugin": "NodeResourcesFit", "reason": "Insufficient cpu"},
         "scores": {}, "total": null},
    ])
}

#[test]
fn what_if_matches_hand_computed_verdicts_and_scores() {
    let e = explain_json(&["--at", "0s"]);
    assert_eq!(e["nodes"], expected_nodes());
    assert_eq!(e["chosen"], json!("n2"));
    assert_eq!(e["pod"], json!("default/incoming"));
    assert_eq!(e["profile"], json!("default-scheduler"));
    assert_eq!(e.get("attempt"), None);
    assert_eq!(
        e["message"],
        json!("3/5 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.")
    );
}

#[test]
fn the_decision_is_the_scheduler_s_own_cycle() {
    let e = explain_json(&[]);
    // The pod's only cycle: five nodes, fewer than 100, so the cycle looks for all five
    // feasible ones; no cycle ran before (`existing` names its node), so filtering starts at
    // node 0 and reaches the nodes in the cluster's order, n1 to n5. The verdicts and scores
    // are those of the what-if above, each node now with its place in that order.
    let mut nodes = expected_nodes();
    for (i, node) in nodes.as_array_mut().expect("a list").iter_mut().enumerate() {
        node["order"] = json!(i + 1);
    }
    assert_eq!(e["nodes"], nodes);
    assert_eq!(
        e["attempt"],
        json!({"number": 1, "of": 1, "outcome": "bound", "numNodes": 5,
               "startNodeIndex": 0, "nodesToFind": 5})
    );
    // n2's 461 is the only best total: no random draw.
    assert_eq!(e["tieBreak"], json!({"best": 461, "tied": ["n2"]}));
    assert_eq!(e["chosen"], json!("n2"));
    assert_eq!(e["at"], json!("1ms"));
    assert_eq!(
        e["message"],
        json!("Successfully assigned default/incoming to n2")
    );
}

#[test]
fn explain_names_a_missing_pod() {
    let (code, _, stderr) = explain(&["--pod", "default/nope", "--at", "0s"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("pod default/nope does not exist"),
        "{stderr}"
    );
    let (code, _, stderr) = explain(&["--pod", "default/nope"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("kube-scheduler never tried to schedule pod default/nope"),
        "{stderr}"
    );
    let (code, _, stderr) = explain(&["--pod", "default/incoming", "--attempt", "2"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("had 1 scheduling attempt(s); --attempt must be between 1 and 1"),
        "{stderr}"
    );
}

// =============================================================================================
// The decision is the placement: `chosen` is the node each pod was bound to
// =============================================================================================

/// Each traced pod's attempts, in key order.
type Attempts = Vec<(ObjectKey, Vec<ScheduleAttempt>)>;

/// Runs `scenario` as `kubesim run` does, tracing every pod's cycles; returns each pod's
/// attempts and the node each pod is bound to at the end (pods that exist and are bound).
fn run_traced(scenario: &kubesim::scenario::Scenario) -> (Attempts, BTreeMap<ObjectKey, String>) {
    let options = RunOptions {
        trace_pods: TracedPods::All,
        ..RunOptions::default()
    };
    let mut sim = world::build(scenario, &options);
    sim.run(world::stop_at(scenario, None));
    let world = sim.model();
    let bound = world
        .api()
        .store()
        .iter(Kind::Pod)
        .filter_map(|o| o.as_pod())
        .filter(|p| p.is_bound())
        .map(|p| {
            let key = ObjectKey::new(p.metadata.namespace.clone(), p.metadata.name.clone());
            (key, p.spec.node_name.clone())
        })
        .collect();
    let attempts = world
        .scheduler()
        .expect("the scenario runs the scheduler")
        .attempts()
        .iter()
        .map(|(k, a)| (k.clone(), a.to_vec()))
        .collect();
    (attempts, bound)
}

/// For every traced pod: each attempt's explanation is consistent (the chosen node is
/// feasible, among the best-scored ones when several were scored), a bound attempt's
/// `chosen` is its node, and a pod bound at the end was bound by its last attempt, to the
/// node that attempt chose. Returns the number of nodes tied in each attempt that scored.
fn check_decisions(attempts: &Attempts, bound: &BTreeMap<ObjectKey, String>) -> Vec<usize> {
    let mut ties = Vec::new();
    for (key, pod_attempts) in attempts {
        for number in 1..=pod_attempts.len() {
            let e = explain_attempt(&key.to_string(), pod_attempts, number).expect("explained");
            let attempt = &pod_attempts[number - 1];
            if let Some(tie) = &e.tie_break {
                ties.push(tie.tied.len());
                let chosen = e.chosen.as_ref().expect("a scored cycle chooses");
                assert!(
                    tie.tied.contains(chosen),
                    "{key} #{number}: {chosen} not among {:?}",
                    tie.tied
                );
                let best = e.nodes.iter().filter_map(|n| n.total).max();
                assert_eq!(Some(tie.best), best, "{key} #{number}");
            }
            if let AttemptOutcome::Bound { node } = &attempt.outcome {
                assert_eq!(e.chosen.as_ref(), Some(node), "{key} #{number}");
                let row = e
                    .nodes
                    .iter()
                    .find(|n| &n.name == node)
                    .expect("the node is listed");
                assert!(row.feasible && row.sampled, "{key} #{number}: {row:?}");
            }
        }
        if let Some(node) = bound.get(key) {
            let last = pod_attempts.len();
            let e = explain_attempt(&key.to_string(), pod_attempts, last).expect("explained");
            assert_eq!(
                e.chosen.as_ref(),
                Some(node),
                "{key}: last attempt of {last}"
            );
            assert_eq!(e.attempt.map(|a| a.outcome), Some("bound"), "{key}");
        }
    }
    ties
}

#[test]
fn every_pod_of_the_shipped_scenarios_was_bound_where_explain_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for name in [
        "quickstart",
        "topology-spread",
        "preemption",
        "legacy-policy",
    ] {
        let scenario = load(&root.join(format!("{name}.yaml")));
        let (attempts, bound) = run_traced(&scenario);
        // Every bound pod the scheduler placed was traced.
        assert!(!bound.is_empty(), "{name}");
        let ties = check_decisions(&attempts, &bound);
        if name == "preemption" {
            // The scenario's header derives it: `critical` fits nowhere, preempts on node-0
            // and is nominated there (attempt 1); once the victims are gone, its last cycle
            // tries node-0 first and alone, and takes it.
            let key = ObjectKey::new("default", "critical");
            let (_, critical) = attempts.iter().find(|(k, _)| *k == key).expect("traced");
            let first = explain_attempt("default/critical", critical, 1).expect("explained");
            let first = first.attempt.expect("a decision");
            assert_eq!(
                (first.outcome, first.nominates.as_deref()),
                ("unschedulable", Some("node-0"))
            );
            let last =
                explain_attempt("default/critical", critical, critical.len()).expect("explained");
            let nominated = last
                .attempt
                .and_then(|a| a.nominated_node)
                .expect("tried first");
            assert!(
                nominated.fits && nominated.name == "node-0",
                "{nominated:?}"
            );
            assert_eq!(last.nodes.iter().filter(|n| n.order.is_some()).count(), 1);
        }
        if name == "legacy-policy" {
            // MostAllocated ×10 packs: a pod goes to the fullest node with room, which is
            // always one node, except when the last one just filled up (8 pods of 1 CPU on
            // 8 CPU) and every node left with room is empty: 10 of them for the first pod,
            // then 9, 8, 7, 6 as each of five nodes fills. 40 pods, 40 scored cycles.
            let tied: Vec<usize> = ties.iter().copied().filter(|&n| n > 1).collect();
            assert_eq!(tied, vec![10, 9, 8, 7, 6]);
            assert_eq!(ties.len(), 40);
            assert_eq!(bound.len(), 40);
        }
    }
}

/// A node of a random cluster: CPU cores, whether it has a PreferNoSchedule taint, whether
/// it arrives late (applied at 20 s).
type RandomNode = (u32, bool, bool);
/// A pod of a random cluster: CPU request in millicores, whether it prefers the tainted
/// zone, when it is created (0 s or 10 s).
type RandomPod = (u32, bool, bool);

/// The scenario of a random cluster: the nodes in zones a and b (alternating); pods created
/// at 0 s or at 10 s; late nodes applied at 20 s.
fn random_cluster(
    nodes: &[RandomNode],
    pods: &[RandomPod],
    seed: u64,
) -> kubesim::scenario::Scenario {
    let node = |i: usize, &(cores, tainted, _): &RandomNode| {
        let taint = if tainted {
            "\nspec: {taints: [{key: slow, value: 'yes', effect: PreferNoSchedule}]}"
        } else {
            ""
        };
        let zone = if i.is_multiple_of(2) { "a" } else { "b" };
        format!(
            "apiVersion: v1\nkind: Node\n\
             metadata: {{name: n{i}, labels: {{kubernetes.io/hostname: n{i}, topology.kubernetes.io/zone: {zone}}}}}{taint}\n\
             status: {{allocatable: {{cpu: '{cores}', memory: 16Gi, pods: '110'}}}}\n"
        )
    };
    let pod = |i: usize, &(milli, prefers_b, _): &RandomPod| {
        let affinity = if prefers_b {
            "\n  affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: \
             [{weight: 10, preference: {matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [b]}]}}]}}"
        } else {
            ""
        };
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, labels: {{app: web}}}}\n\
             spec:{affinity}\n  containers: [{{name: c, image: app, resources: {{requests: {{cpu: {milli}m, memory: 1Gi}}}}}}]\n"
        )
    };
    let join = |docs: Vec<String>| docs.join("---\n");
    let (initial_nodes, late_nodes) = split_by_arrival(nodes, |n| n.2, node);
    let (first_pods, later_pods) = split_by_arrival(pods, |p| p.2, pod);
    let mut timeline = String::new();
    let mut extra: Vec<(&str, String)> = Vec::new();
    if !later_pods.is_empty() {
        timeline.push_str("    - {at: 10s, apply: later-pods.yaml}\n");
        extra.push(("later-pods.yaml", join(later_pods)));
    }
    if !late_nodes.is_empty() {
        timeline.push_str("    - {at: 20s, apply: late-nodes.yaml}\n");
        extra.push(("late-nodes.yaml", join(late_nodes)));
    }
    let timeline = if timeline.is_empty() {
        String::new()
    } else {
        format!("  timeline:\n{timeline}")
    };
    let mut text = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: random}}\n\
         spec:\n  seed: {seed}\n  duration: 2m\n{timeline}"
    );
    for doc in initial_nodes.into_iter().chain(first_pods) {
        text.push_str("---\n");
        text.push_str(&doc);
    }
    let extra: Vec<(&str, &str)> = extra.iter().map(|(n, t)| (*n, t.as_str())).collect();
    load_text(&text, &extra)
}

/// The documents of `items` (each rendered with its index), split into those there from the
/// start and those that come later (`later`).
fn split_by_arrival<T>(
    items: &[T],
    later: impl Fn(&T) -> bool,
    render: impl Fn(usize, &T) -> String,
) -> (Vec<String>, Vec<String>) {
    let (late, first): (Vec<_>, Vec<_>) = items.iter().enumerate().partition(|(_, t)| later(t));
    let docs = |part: Vec<(usize, &T)>| part.into_iter().map(|(i, t)| render(i, t)).collect();
    (docs(first), docs(late))
}

proptest! {
    #![proptest_config(proptest_config(24))]

    /// For random small clusters (some nodes arriving late, some tainted, two zones) and pods
    /// (some created later, some preferring a zone, some too big for any node), `explain`'s
    /// `chosen` for every bound pod is the node it was bound to, and every explanation is
    /// consistent with itself (see `check_decisions`).
    #[test]
    fn chosen_is_the_bound_node(
        nodes in prop::collection::vec((1u32..=8, any::<bool>(), prop::bool::weighted(0.25)), 1..7),
        pods in prop::collection::vec((prop::sample::select(vec![100u32, 250, 500, 1000, 2000, 4000, 9000]), any::<bool>(), any::<bool>()), 1..16),
        seed in 0u64..1000,
    ) {
        let scenario = random_cluster(&nodes, &pods, seed);
        let (attempts, bound) = run_traced(&scenario);
        check_decisions(&attempts, &bound);
        // Every pod the scheduler bound was traced, and every traced pod bound at the end is
        // one the scheduler placed (the scenario binds none itself).
        let placed: Vec<&ObjectKey> = attempts
            .iter()
            .filter(|(_, a)| a.iter().any(|a| matches!(a.outcome, AttemptOutcome::Bound { .. })))
            .map(|(k, _)| k)
            .collect();
        prop_assert_eq!(placed, bound.keys().collect::<Vec<_>>());
    }
}
