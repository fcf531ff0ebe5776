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
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use kubesim::scenario;
use kubesim::sim::SimTime;
use kubesim::world::{self, Components, RunOptions};

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
    for d in 0..deployments {
        let _ = write!(
            text,
            "---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{d:04}}}
spec:
  replicas: {REPLICAS}
  selector: {{matchLabels: {{app: app-{d:04}}}}}
  template:
    metadata: {{labels: {{app: app-{d:04}}}}}
    spec:
      containers:
        - name: app
          image: app:v1
          resources: {{requests: {{cpu: 100m, memory: 128Mi}}}}
"
        );
    }
    text
}

/// Writes the scenario for `nodes` nodes into the target folder and returns its path.
fn scenario_file(nodes: usize) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let path = dir.join(format!("rollout-{nodes}.yaml"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    std::fs::write(&path, scenario_text(nodes))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

fn rollout(c: &mut Criterion) {
    let mut group = c.benchmark_group("rollout");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    for nodes in [500, 5000] {
        let path = scenario_file(nodes);
        let scenario = scenario::load(&path, &Components)
            .unwrap_or_else(|e| panic!("the generated scenario should load: {e}"));
        let until = SimTime::ZERO + scenario.duration;
        let pods = (nodes / 5 * REPLICAS) as u64;
        group.throughput(Throughput::Elements(pods));
        let id = BenchmarkId::from_parameter(format!("{nodes}_nodes_{pods}_pods"));
        group.bench_function(id, |b| {
            b.iter(|| {
                let mut sim = world::build(black_box(&scenario), &RunOptions::default());
                black_box(sim.run_until(until))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, rollout);
criterion_main!(benches);
