//! `kubesim explain`: filter verdicts and scores on a small cluster, checked against values
//! derived by hand from the plugins' formulas.

use std::ffi::OsStr;

use serde_json::{Value, json};

use crate::support::kubesim;

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

fn explain_json() -> Value {
    let (code, stdout, stderr) = explain(&["--pod", "default/incoming", "--json"]);
    assert_eq!(code, Some(0), "explain failed: {stderr}");
    serde_json::from_str(&stdout).expect("explain prints JSON")
}

fn scored(raw: i64, normalized: i64, weighted: i64) -> Value {
    json!({"raw": raw, "normalized": normalized, "weighted": weighted})
}

#[test]
fn explain_matches_hand_computed_verdicts_and_scores() {
    let e = explain_json();
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
    let expected_nodes = json!([
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
    ]);
    assert_eq!(e["nodes"], expected_nodes);
    assert_eq!(e["chosen"], json!("n2"));
    assert_eq!(e["pod"], json!("default/incoming"));
    assert_eq!(e["profile"], json!("default-scheduler"));
    assert_eq!(
        e["message"],
        json!("3/5 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.")
    );
}

#[test]
fn explain_names_a_missing_pod() {
    let (code, _, stderr) = explain(&["--pod", "default/nope"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("pod default/nope does not exist"),
        "{stderr}"
    );
}
