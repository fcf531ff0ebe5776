//! What the whole-cluster benches share: their scenario is generated into the target folder
//! (so the same run can be timed and its peak memory measured as a whole process with
//! `kubesim run`), loaded, and run from `world::build` to its duration.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use kubesim::scenario;
use kubesim::sim::SimTime;
use kubesim::world::{self, Components, RunOptions};

/// The allocator `kubesim` itself runs with (see `src/main.rs`), so that a bench times what
/// the command does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Writes `text` as `target/<name>.yaml` and returns its path.
pub fn scenario_file(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// One benchmark per `(nodes, pods, scenario text)` of `sizes` in group `group`: the whole
/// run, `world::build` and `run_until` the scenario's duration; throughput in pods.
#[allow(dead_code)]
pub fn bench_runs(c: &mut Criterion, group: &str, sizes: &[(usize, usize, String)]) {
    runs(c, group, "pods", sizes, |pods, _| {
        Throughput::Elements(pods as u64)
    });
}

/// As [`bench_runs`] over `(nodes, count, scenario text)`, the benchmark named for the nodes
/// and `count` `unit` (`500_nodes_200_services`), with the throughput in simulation events:
/// each scenario is run once first to count the events a run processes (printed), so
/// criterion's `elem/s` is events per second.
#[allow(dead_code)]
pub fn bench_runs_in_events(
    c: &mut Criterion,
    group: &str,
    unit: &str,
    sizes: &[(usize, usize, String)],
) {
    runs(c, group, unit, sizes, |_, scenario| {
        let mut sim = world::build(scenario, &RunOptions::default());
        sim.run_until(SimTime::ZERO + scenario.duration);
        let events = sim.processed_events();
        println!("{}: {events} events a run", scenario.name);
        Throughput::Elements(events)
    });
}

/// One benchmark per size of `sizes`, named for its nodes and its count of `unit`, with the
/// throughput `throughput` gives for that count and the loaded scenario.
fn runs(
    c: &mut Criterion,
    group: &str,
    unit: &str,
    sizes: &[(usize, usize, String)],
    throughput: impl Fn(usize, &scenario::Scenario) -> Throughput,
) {
    let mut g = c.benchmark_group(group);
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    for (nodes, count, text) in sizes {
        let path = scenario_file(&format!("{group}-{nodes}"), text);
        let scenario = scenario::load(&path, &Components)
            .unwrap_or_else(|e| panic!("the generated scenario should load: {e}"));
        let until = SimTime::ZERO + scenario.duration;
        g.throughput(throughput(*count, &scenario));
        let id = BenchmarkId::from_parameter(format!("{nodes}_nodes_{count}_{unit}"));
        g.bench_function(id, |b| {
            b.iter(|| {
                let mut sim = world::build(black_box(&scenario), &RunOptions::default());
                black_box(sim.run_until(until))
            })
        });
    }
    g.finish();
}

/// Appends `count` Deployments `app-0000`, `app-0001`, … of `replicas` pods each (image
/// `app:v1`, 100m CPU and 128Mi requested) to the scenario `text`.
#[allow(dead_code)]
pub fn append_deployments(text: &mut String, count: usize, replicas: usize) {
    for d in 0..count {
        let _ = write!(
            text,
            "---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{d:04}}}
spec:
  replicas: {replicas}
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
}
