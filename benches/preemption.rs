//! Preemption: the time of one DefaultPreemption (PostFilter) run must not grow with the pods
//! of the cluster that are not its business.
//!
//! `preemption/<pods>`: 5,000 nodes of 4 CPU. 100 of them (`pool: a`) are full of four 1-CPU
//! pods of priority 0: every one is a candidate for a 1-CPU pod of priority 1000 that asks for
//! `pool: a`. The other 4,900 (`pool: b`) hold 0, 6 or 30 pods of 100m each — 400, 29,800 or
//! 147,400 pods in the cluster — and are rejected by NodeAffinity as unresolvable, so
//! preemption never looks at their pods (upstream's `nodesWherePreemptionMightHelp`). One
//! iteration is one `preemption::preempt` call after the failed cycle: 100 dry runs (at least
//! 100 candidates are wanted, `minCandidateNodesAbsolute`), each removing the node's
//! lower-priority pods and putting back as many as fit (`SelectVictimsOnNode`), on the
//! scheduler's snapshot in place, then the choice of one candidate. The three sizes should
//! take the same time.

// Benchmarks measure wall-clock time by definition; the determinism rule against the wall
// clock is for the simulator, not for its stopwatch.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use kubesim::api::Uid;
use kubesim::api::pod::{Container, Pod};
use kubesim::config::kube_scheduler::KubeSchedulerConfiguration;
use kubesim::scheduler;
use kubesim::scheduler::framework::{CycleResult, CycleWork, Rotation};
use kubesim::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};
use kubesim::scheduler::preemption::{self, NominatedPods, PreemptionOutcome, PreemptionView};
use kubesim::sim::rng;
use support::quantity;

mod support;

/// Nodes in all; the first [`CANDIDATES`] are full of victims.
const NODES: usize = 5_000;
const CANDIDATES: usize = 100;
/// Pods on each node that is not a candidate, per benchmark.
const OTHER_PODS_PER_NODE: [usize; 3] = [0, 6, 30];

fn node(i: usize) -> NodeInfo {
    let pool = if i < CANDIDATES { "a" } else { "b" };
    let resources = [("cpu", "4"), ("memory", "32Gi"), ("pods", "110")];
    support::node(format!("node-{i:05}"), &[("pool", pool)], &resources)
}

fn pod(uid: u64, cpu: &str, priority: i32) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = format!("pod-{uid}");
    p.metadata.namespace = "default".into();
    p.metadata.uid = Uid(uid);
    let mut c = Container {
        name: "app".into(),
        image: "app:1".into(),
        ..Container::default()
    };
    c.resources.requests.insert("cpu".into(), quantity(cpu));
    c.resources
        .requests
        .insert("memory".into(), quantity("1Gi"));
    Arc::make_mut(&mut p.spec).containers.push(c);
    Arc::make_mut(&mut p.spec).priority = Some(priority);
    p
}

/// The cluster: candidates with four 1-CPU pods each, the others with `others` pods of 100m.
fn cluster(others: usize) -> Snapshot {
    let mut uid = 0;
    let mut nodes: Vec<NodeInfo> = (0..NODES).map(node).collect();
    for (i, node) in nodes.iter_mut().enumerate() {
        let (count, cpu) = if i < CANDIDATES {
            (4, "1")
        } else {
            (others, "100m")
        };
        for _ in 0..count {
            uid += 1;
            let mut p = pod(uid, cpu, 0);
            Arc::make_mut(&mut p.spec).node_name = node.name().to_string();
            node.add_pod(Arc::new(PodInfo::new(Arc::new(p))));
        }
    }
    let mut snapshot = Snapshot::new(nodes);
    snapshot.refresh();
    snapshot
}

fn preemption_time(c: &mut Criterion) {
    let mut config = scheduler::config::resolve(&KubeSchedulerConfiguration::default())
        .unwrap_or_else(|e| panic!("the default configuration resolves: {e}"));
    let profile = config.profiles.remove(0);
    let args = config
        .preemption
        .remove(0)
        .unwrap_or_else(|| panic!("the default profile preempts"));
    let mut preemptor = pod(u64::MAX, "1", 1000);
    Arc::make_mut(&mut preemptor.spec)
        .node_selector
        .insert("pool".into(), "a".into());
    let preemptor = PodInfo::new(Arc::new(preemptor));
    let nominated = NominatedPods::new();
    let mut group = c.benchmark_group("preemption");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for others in OTHER_PODS_PER_NODE {
        let mut snapshot = cluster(others);
        let pods = CANDIDATES * 4 + (NODES - CANDIDATES) * others;
        let mut work = CycleWork::default();
        let mut tie_break = rng::stream(1, "scheduler/tie-break");
        let diagnosis = match profile.schedule(
            &preemptor,
            &snapshot,
            &mut Rotation::default(),
            &mut tie_break,
            &mut work,
        ) {
            CycleResult::Unschedulable(d) => d,
            other => panic!("the preemptor must not fit: {other:?}"),
        };
        let mut rng = rng::stream(1, "scheduler/preemption");
        group.bench_with_input(BenchmarkId::from_parameter(pods), &pods, |b, _| {
            b.iter(|| {
                let view = PreemptionView {
                    snapshot: &mut snapshot,
                    nominated: &nominated,
                    pdbs: &[],
                };
                let outcome = preemption::preempt(
                    &args,
                    &profile,
                    black_box(&preemptor),
                    view,
                    &diagnosis,
                    &mut rng,
                    &mut work,
                );
                assert!(
                    matches!(outcome, PreemptionOutcome::Preempt(_)),
                    "a candidate is found: {outcome:?}"
                );
                outcome
            })
        });
    }
    group.finish();
}

criterion_group!(benches, preemption_time);
criterion_main!(benches);
