//! An apiserver restart under a whole cluster: 5,000 nodes, 1,000 Deployments of 150 pods
//! (150,000 pods declared), kubelets and kube-proxies on, API Priority and Fairness; the
//! apiserver goes down at 5 minutes for 30 s and every informer relists from the new process
//! — 10 minutes of virtual time.
//!
//! * `restart_storm/5000_nodes_150000_pods`: the whole run, `world::build` + `run_until`.
//! * `restart_storm/500_nodes_15000_pods`: the same cluster at a tenth of the size.
//!
//! Throughput is in simulation events (criterion's `elem/s` is events per second): one run
//! is made first to count them, and the count is printed. The scenario is generated into the
//! target folder (`restart_storm-<nodes>.yaml`), so the same run can be timed and its peak
//! memory measured as a whole process with `kubesim run`.

// Benchmarks measure wall-clock time by definition; the determinism rule against the wall
// clock is for the simulator, not for its stopwatch.
#![allow(clippy::disallowed_methods)]

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/generated.rs"]
mod generated;

/// Pods per Deployment.
const REPLICAS: usize = 150;

/// The scenario text: `nodes` nodes, `nodes / 5` Deployments of [`REPLICAS`] pods, the
/// apiserver restarting at 5m for 30 s.
fn scenario_text(nodes: usize) -> String {
    let deployments = nodes / 5;
    let mut text = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: restart-storm-{nodes}
  description: {nodes} nodes, {deployments} Deployments of {REPLICAS} pods, APF, the apiserver down at 5m for 30s
spec:
  duration: 10m
  apiserver:
    flowControl: apf
  controllerManager:
    kubeApiQps: 1000
    kubeApiBurst: 2000
  nodePools:
    - name: node
      count: {nodes}
      zones: [zone-a, zone-b, zone-c]
      template:
        allocatable: {{cpu: \"32\", memory: 128Gi, pods: \"110\"}}
  report:
    sampleEvery: 5s
  timeline:
    - {{at: 5m, apiserverRestart: {{downtime: 30s}}}}
"
    );
    generated::append_deployments(&mut text, deployments, REPLICAS);
    text.push_str(
        "---
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: {qps: 2000, burst: 4000}
",
    );
    text
}

fn restart_storm(c: &mut Criterion) {
    let sizes: Vec<(usize, usize, String)> = [500, 5000]
        .into_iter()
        .map(|nodes| (nodes, nodes / 5 * REPLICAS, scenario_text(nodes)))
        .collect();
    generated::bench_runs_in_events(c, "restart_storm", "pods", &sizes);
}

criterion_group!(benches, restart_storm);
criterion_main!(benches);
