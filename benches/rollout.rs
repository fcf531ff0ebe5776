//! A whole cluster rolling out: 5,000 nodes, 1,000 Deployments of 150 pods (150,000 pods),
//! kubelets heartbeating, every Deployment's image changed at 10 minutes, 30 minutes of
//! virtual time — the scale of the Kubernetes scalability envelope, every component running.
//!
//! * `rollout/5000_nodes_150000_pods`: the whole run, `world::build` + `run_until`.
//! * `rollout/500_nodes_15000_pods`: the same cluster at a tenth of the size, to see how the
//!   cost grows.
//!
//! The scenario is generated into the target folder (`rollout-<nodes>.yaml`), so the same run
//! can be timed and its peak memory measured as a whole process with `kubesim run`.

// Benchmarks measure wall-clock time by definition; the determinism rule against the wall
// clock is for the simulator, not for its stopwatch.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/generated.rs"]
mod generated;

/// Pods per Deployment.
const REPLICAS: usize = 150;

/// The scenario text: `nodes` nodes and `nodes / 5` Deployments of [`REPLICAS`] pods.
fn scenario_text(nodes: usize) -> String {
    let deployments = nodes / 5;
    let mut text = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: rollout-{nodes}
  description: {nodes} nodes, {deployments} Deployments of {REPLICAS} pods, all rolled out at 10m
spec:
  duration: 30m
  nodePools:
    - name: node
      count: {nodes}
      zones: [zone-a, zone-b, zone-c]
      template:
        allocatable: {{cpu: \"32\", memory: 128Gi, pods: \"110\"}}
  report:
    sampleEvery: 30s
  timeline:
"
    );
    for d in 0..deployments {
        let _ = writeln!(
            text,
            "    - {{at: 10m, set: {{deployment: default/app-{d:04}, image: \"app:v2\"}}}}"
        );
    }
    generated::append_deployments(&mut text, deployments, REPLICAS);
    text
}

fn rollout(c: &mut Criterion) {
    let sizes: Vec<(usize, usize, String)> = [500, 5000]
        .into_iter()
        .map(|nodes| (nodes, nodes / 5 * REPLICAS, scenario_text(nodes)))
        .collect();
    generated::bench_runs(c, "rollout", &sizes);
}

criterion_group!(benches, rollout);
criterion_main!(benches);
