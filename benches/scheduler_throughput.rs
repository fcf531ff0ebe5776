//! Scheduler throughput: kube-scheduler's scheduler_perf "SchedulingBasic" workload with the
//! default profile.
//!
//! * `scheduler_throughput/<nodes>`: the scheduling cycle alone, as scheduler_perf measures
//!   it. N nodes of 4 CPU / 32 Gi / 110 pod slots in 3 zones, then 2·N pods of 100m / 500 Mi,
//!   each run through `Profile::schedule` and assumed on the chosen node (`Snapshot::add_pod`),
//!   as kube-scheduler's cycle + assume do — no apiserver, informers, queue or event loop. One
//!   timed iteration schedules the whole batch on a fresh copy of the empty cluster (copied
//!   outside the timed region), so every iteration sees the same cluster states; throughput is
//!   reported in pods/s.
//! * `scheduling_basic_end_to_end`: `scenarios/scheduling-basic.yaml` (5,000 nodes, 10,000
//!   pods) through `world::build` + `run_until`, so the cost of the whole simulation
//!   (apiserver, watches, informers, queue, metrics) stays visible next to the cycle's.

// Benchmarks measure wall-clock time by definition; the determinism rule against the wall
// clock is for the simulator, not for its stopwatch.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use kubesim::api::Uid;
use kubesim::api::node::LABEL_ZONE;
use kubesim::api::pod::{Container, Pod};
use kubesim::api::taints::{
    TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE, TaintEffect, Toleration, TolerationOperator,
};
use kubesim::config::kube_scheduler::KubeSchedulerConfiguration;
use kubesim::scenario;
use kubesim::scheduler;
use kubesim::scheduler::framework::{CycleResult, CycleWork, Profile, Rotation};
use kubesim::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};
use kubesim::sim::SimTime;
use kubesim::sim::rng;
use kubesim::world::{self, Components, RunOptions};
use support::quantity;

mod support;

/// Cluster sizes (nodes); each is given two pods per node.
const NODE_COUNTS: [usize; 4] = [500, 1_000, 5_000, 15_000];
/// Pods scheduled per node in one iteration.
const PODS_PER_NODE: usize = 2;
const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

/// Node `i` of the pool, as `nodePools` builds it: hostname and zone labels, zones in turn.
fn node(i: usize) -> NodeInfo {
    let zone = [(LABEL_ZONE, ZONES[i % ZONES.len()])];
    let resources = [("cpu", "4"), ("memory", "32Gi"), ("pods", "110")];
    support::node(format!("node-{i:05}"), &zone, &resources)
}

/// Pod `i` as the apiserver admits the scenario's template: priority 0 and the two default
/// NoExecute tolerations.
fn pod(i: usize) -> Arc<PodInfo> {
    let mut p = Pod::default();
    p.metadata.name = format!("pod-{i}");
    p.metadata.namespace = "sched-0".into();
    p.metadata.uid = Uid(i as u64 + 1);
    let mut c = Container {
        name: "pause".into(),
        image: "registry.k8s.io/pause:3.10".into(),
        ..Container::default()
    };
    c.resources.requests.insert("cpu".into(), quantity("100m"));
    c.resources
        .requests
        .insert("memory".into(), quantity("500Mi"));
    let spec = Arc::make_mut(&mut p.spec);
    spec.containers.push(c);
    spec.priority = Some(0);
    for key in [TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE] {
        spec.tolerations.push(Toleration {
            key: key.into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: Some(TaintEffect::NoExecute),
            toleration_seconds: Some(300),
        });
    }
    Arc::new(PodInfo::new(Arc::new(p)))
}

fn default_profile() -> Profile {
    let mut config = scheduler::config::resolve(&KubeSchedulerConfiguration::default())
        .unwrap_or_else(|e| panic!("the default configuration resolves: {e}"));
    config.profiles.remove(0)
}

/// Schedules every pod in turn, assuming each on its node; returns how many were scheduled.
fn schedule_all(profile: &Profile, snapshot: &mut Snapshot, pods: &[Arc<PodInfo>]) -> usize {
    let mut rotation = Rotation::default();
    let mut tie_break = rng::stream(1, "scheduler/tie-break");
    let mut scheduled = 0;
    for pod in pods {
        let mut work = CycleWork::default();
        let result = profile.schedule(pod, snapshot, &mut rotation, &mut tie_break, &mut work);
        if let CycleResult::Scheduled { node, .. } = result {
            snapshot.add_pod(&node, Arc::clone(pod));
            scheduled += 1;
        }
    }
    scheduled
}

fn cycle_throughput(c: &mut Criterion) {
    let profile = default_profile();
    let mut group = c.benchmark_group("scheduler_throughput");
    // One iteration is a whole batch (up to 30,000 cycles): few, equal-sized iterations.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for nodes in NODE_COUNTS {
        let mut empty = Snapshot::new((0..nodes).map(node).collect());
        empty.refresh();
        let pods: Vec<Arc<PodInfo>> = (0..nodes * PODS_PER_NODE).map(pod).collect();
        group.throughput(Throughput::Elements(pods.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(nodes), &nodes, |b, _| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let mut snapshot = empty.clone();
                    let start = Instant::now();
                    let scheduled = schedule_all(&profile, &mut snapshot, black_box(&pods));
                    elapsed += start.elapsed();
                    assert_eq!(scheduled, pods.len(), "every pod fits");
                    drop(black_box(snapshot));
                }
                elapsed
            })
        });
    }
    group.finish();
}

fn end_to_end(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/scheduling-basic.yaml");
    let scenario = scenario::load(&path, &Components)
        .unwrap_or_else(|e| panic!("scheduling-basic.yaml should load: {e}"));
    let until = SimTime::ZERO + scenario.duration;
    let mut group = c.benchmark_group("scheduling_basic_end_to_end");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(10_000));
    group.bench_function("5000_nodes_10000_pods", |b| {
        b.iter(|| {
            let mut sim = world::build(black_box(&scenario), &RunOptions::default());
            black_box(sim.run_until(until))
        })
    });
    group.finish();
}

criterion_group!(benches, cycle_throughput, end_to_end);
criterion_main!(benches);
