//! Scheduling end to end: shipped scheduling scenarios run through the real scheduler
//! component, apiserver and plugins, and land pods where kube-scheduler would.

use std::collections::BTreeMap;
use std::path::Path;

use kubesim::api::{Kind, Object};
use kubesim::scenario;
use kubesim::sim::SimTime;
use kubesim::world::{self, Components, RunOptions};

fn run(path: &str) -> world::World {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = match scenario::load(&root.join(path), &Components) {
        Ok(s) => s,
        Err(e) => panic!("{path} should load: {e}"),
    };
    let mut sim = world::build(&scenario, &RunOptions::default());
    sim.run_until(SimTime::ZERO + scenario.duration);
    sim.into_model()
}

/// Pods per node, over the bound pods.
fn pods_per_node(world: &world::World) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for object in world.api().store().iter(Kind::Pod) {
        if let Object::Pod(p) = &**object
            && p.is_bound()
        {
            *counts.entry(p.spec.node_name.clone()).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn scheduling_basic_binds_every_pod_two_per_node() {
    let world = run("scenarios/scheduling-basic.yaml");
    let counts = pods_per_node(&world);
    let bound: usize = counts.values().sum();
    assert_eq!(bound, 10_000, "every pod is bound");
    // 5,000 nodes of 4 CPU / 32 Gi and 10,000 pods of 100m / 500 Mi. With n pods on a node:
    //   LeastAllocated = ((4000 − 100n)·100/4000 + (32768 − 500n)·100/32768) / 2
    //                  = n=0: (100 + 100)/2 = 100; n=1: (97 + 98)/2 = 97; n=2: (95 + 96)/2 = 95,
    //   BalancedAllocation = int((1 − |0.025n − 0.01526n|/2)·100) = 100, 99, 99,
    // so a node with fewer pods always scores higher. Each cycle filters a 500-node window
    // (10 % of 5,000) that moves on by 500 nodes, so every window gets one pod per ten
    // cycles and always has an emptier node while one exists: every node ends with exactly 2.
    assert_eq!(counts.len(), 5_000, "every node got pods");
    assert!(
        counts.values().all(|&n| n == 2),
        "uneven: {:?}",
        counts.values().max()
    );
    let stats = world
        .scheduler()
        .map(|s| s.stats().clone())
        .unwrap_or_default();
    assert_eq!(stats.bound, 10_000);
    assert_eq!(stats.attempts.get("unschedulable"), None);
}

/// The node each pod is bound to (pods that still exist).
fn placements(world: &world::World) -> BTreeMap<String, String> {
    world
        .api()
        .store()
        .iter(Kind::Pod)
        .filter_map(|o| o.as_pod())
        .map(|p| (p.metadata.name.clone(), p.spec.node_name.clone()))
        .collect()
}

#[test]
fn preemption_evicts_exactly_the_victims_upstream_chooses() {
    let world = run("scenarios/preemption.yaml");
    // The scenario's header derives it: on node-0, removing mid-a, low and lowest and
    // reprieving by importance keeps mid-a (2.5 CPU free ≥ 2) and evicts low and lowest
    // (highest victim priority 100); on node-1 it would evict mid-c (priority 900). Fewest PDB
    // violations tie at 0; the lower highest-victim priority picks node-0.
    let expected: BTreeMap<String, String> = [
        ("critical", "node-0"),
        ("mid-a", "node-0"),
        ("mid-b", "node-1"),
        ("mid-c", "node-1"),
    ]
    .into_iter()
    .map(|(p, n)| (p.to_string(), n.to_string()))
    .collect();
    assert_eq!(placements(&world), expected);
    let stats = world
        .scheduler()
        .map(|s| s.stats().clone())
        .unwrap_or_default();
    assert_eq!((stats.preemptions, stats.preemption_victims), (1, 2));
    // Bound 30 s (the victims' grace period) after its first attempt at 1m + 1 ms.
    assert_eq!(stats.bound, 1);
}

#[test]
fn topology_spread_balances_zones_and_leaves_the_fifteenth_pod_pending() {
    let world = run("scenarios/topology-spread.yaml");
    let zone_of = |node: &str| match node {
        "big-0" | "big-2" => "zone-a",
        "big-1" | "big-3" => "zone-b",
        _ => "zone-c",
    };
    let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    let mut pending = Vec::new();
    for (pod, node) in placements(&world) {
        if node.is_empty() {
            pending.push(pod);
        } else {
            *per_zone.entry(zone_of(&node)).or_insert(0) += 1;
        }
    }
    // zone-c holds 2 CPU / 500m = 4 pods; with maxSkew 1 the other zones stop at 4 + 1 = 5.
    let expected: BTreeMap<&str, usize> = [("zone-a", 5), ("zone-b", 5), ("zone-c", 4)].into();
    assert_eq!(per_zone, expected);
    // Pods queue in creation order (equal priority and timestamp), so the last one is left.
    assert_eq!(pending, vec!["web-14".to_string()]);
}
