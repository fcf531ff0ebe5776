//! The scheduling queue end to end: backoff after errors, the unschedulable pool and the
//! cluster events that do (and do not) bring a pod back, through the real scheduler, informers
//! and apiserver.

use std::sync::Arc;

use kubesim::api::node::NodeCondition;
use kubesim::api::{Kind, Object, ObjectKey};
use kubesim::apiserver::{ClientId, Request, Subresource, UserInfo};
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};

use crate::support::load_text;

/// The simulation of the scenario `text` (with `extra` files beside it).
fn simulation(text: &str, extra: &[(&str, &str)]) -> Simulation<World> {
    world::build(&load_text(text, extra), &RunOptions::default())
}

fn at(secs: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(secs)
}

fn attempts(world: &World, result: &str) -> u64 {
    world
        .scheduler()
        .and_then(|s| s.stats().attempts.get(result).copied())
        .unwrap_or(0)
}

fn node_of(world: &World, pod: &str) -> String {
    world
        .api()
        .store()
        .get(Kind::Pod, &ObjectKey::new("default", pod))
        .and_then(|o| o.as_pod().map(|p| p.spec.node_name.clone()))
        .unwrap_or_default()
}

const POD: &str = r#"
---
apiVersion: v1
kind: Pod
metadata: {name: big, namespace: default}
spec:
  containers:
    - name: app
      image: app:1
      resources: {requests: {cpu: "2"}}
"#;

#[test]
fn a_pod_with_no_nodes_backs_off_1_2_4_8_10_seconds() {
    let scenario = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: no-nodes}}\n\
         spec:\n  duration: 2m\n  timeline:\n    - {{at: 60s, apply: node.yaml}}\n{POD}"
    );
    let node = "apiVersion: v1\nkind: Node\nmetadata: {name: late}\n\
                status: {allocatable: {cpu: \"4\", memory: 8Gi, pods: \"110\"}}\n";
    let mut sim = simulation(&scenario, &[("node.yaml", node)]);
    sim.run_until(at(120));
    let world = sim.model();
    // With no node, every attempt fails with "no nodes available to schedule pods": no plugin
    // rejected the pod, so it goes to the error backoff queue, which Pop never takes from; the
    // 1-second flush lets it out once its whole-second expiry is before the current second.
    // Failure n (at t ≈ its attempt, plus a 100 µs cycle) earns min(2^(n−1), 10) s:
    //   attempt 1 at ~0 s   → expiry ⌊0 + 1⌋ = 1  → flushed at 2 s
    //   attempt 2 at 2 s    → expiry ⌊2 + 2⌋ = 4  → 5 s
    //   attempt 3 at 5 s    → 9  → 10 s;   attempt 4 at 10 s → 18 → 19 s
    //   attempt 5 at 19 s   → 29 → 30 s;   attempt 6 at 30 s → 40 → 41 s
    //   attempt 7 at 41 s   → 51 → 52 s;   attempt 8 at 52 s → 62 → 63 s
    // The node added at 60 s moves nothing (the pod is not in the unschedulable pool), so
    // attempt 9 at 63 s is the first to see it and binds. Each failure counts as
    // "unschedulable" (upstream's status is UnschedulableAndUnresolvable).
    assert_eq!(attempts(world, "unschedulable"), 8);
    assert_eq!(attempts(world, "scheduled"), 1);
    assert_eq!(node_of(world, "big"), "late");
    let latencies = world
        .scheduler()
        .map(|s| s.stats().latencies.clone())
        .unwrap_or_default();
    assert_eq!(latencies.len(), 1);
    // Created at 0 s, bound shortly after the 63 s cycle (cycle cost, bind latency).
    let bound_after = latencies[0];
    assert!(
        bound_after >= SimDuration::from_secs(63) && bound_after < SimDuration::from_secs(64),
        "bound after {bound_after:?}"
    );
}

/// Five thousand nodes of 1 CPU (too small for the 2-CPU pod), each sending a kubelet-style
/// status update with a fresh heartbeat every 10 s.
fn heartbeat_all(sim: &mut Simulation<World>, beat: u64) {
    let nodes: Vec<_> = sim
        .model()
        .api()
        .store()
        .iter(Kind::Node)
        .filter_map(|o| match &**o {
            Object::Node(n) => Some((**n).clone()),
            _ => None,
        })
        .collect();
    for mut node in nodes {
        node.status.conditions = vec![NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "KubeletReady".into(),
            message: String::new(),
            last_heartbeat_time: at(beat),
            last_transition_time: SimTime::ZERO,
        }];
        let user = UserInfo::new(
            format!("system:node:{}", node.metadata.name),
            &["system:nodes"],
        );
        let request = Request::update(
            ClientId(1000),
            user,
            Object::Node(Arc::new(node)),
            Some(Subresource::Status),
        );
        world::submit(sim, request);
    }
}

#[test]
fn heartbeats_do_not_requeue_the_unschedulable_pool_but_a_new_node_does() {
    let scenario = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: heartbeats}}\n\
         spec:\n  duration: 10m\n  nodePools:\n    - name: small\n      count: 5000\n\
         \x20     template: {{allocatable: {{cpu: \"1\", memory: 4Gi, pods: \"110\"}}}}\n{POD}"
    );
    let mut sim = simulation(&scenario, &[]);
    sim.run_until(at(5));
    // One attempt: every node lacks CPU (NodeResourcesFit), so the pod waits in the pool for
    // an event NodeResourcesFit registered (a node added or given more allocatable, a pod
    // deleted).
    assert_eq!(attempts(sim.model(), "unschedulable"), 1);
    // 24 rounds of heartbeats, 10 s apart, up to 4 minutes (the pool's 5-minute timeout is
    // not reached). The first round adds the Ready condition (a condition change); the others
    // change only heartbeat times (no scheduling-relevant change at all). NodeResourcesFit
    // registered neither, so the pod stays in the pool: still one attempt.
    for round in 1..=24u64 {
        heartbeat_all(&mut sim, 5 + round * 10);
        sim.run_until(at(5 + round * 10));
    }
    let world = sim.model();
    assert_eq!(
        attempts(world, "unschedulable"),
        1,
        "heartbeats moved the pod"
    );
    let pending = world.scheduler().map(|s| s.pending_pods());
    assert_eq!(pending.map(|p| (p.unschedulable, p.active)), Some((1, 0)));
    // A node with room arrives at 245 s: NodeAdd, and NodeResourcesFit's hint sees the pod
    // fit it, so the pod (whose 1 s backoff is long over) goes to activeQ and binds there.
    let mut big = kubesim::api::node::Node::default();
    big.metadata.name = "big-node".into();
    big.status.allocatable = [("cpu", "4"), ("memory", "8Gi"), ("pods", "110")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.parse().expect("quantity")))
        .collect();
    let create = Request::create(
        ClientId(1000),
        UserInfo::new("admin", &["system:masters"]),
        Object::Node(Arc::new(big)),
    );
    world::submit(&mut sim, create);
    sim.run_until(at(250));
    let world = sim.model();
    assert_eq!(attempts(world, "scheduled"), 1);
    assert_eq!(attempts(world, "unschedulable"), 1);
    assert_eq!(node_of(world, "big"), "big-node");
}

#[test]
fn a_node_too_small_for_the_pod_does_not_requeue_it() {
    // Nodes of 1 CPU at 0 s; another 1-CPU node at 30 s (NodeAdd, but the pod, asking for 2,
    // would not fit it even empty: NodeResourcesFit's hint says skip); a 4-CPU node at 60 s.
    let scenario = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: small}}\n\
         spec:\n  duration: 2m\n  nodePools:\n    - name: small\n      count: 3\n\
         \x20     template: {{allocatable: {{cpu: \"1\", memory: 4Gi, pods: \"110\"}}}}\n\
         \x20 timeline:\n    - {{at: 30s, apply: tiny.yaml}}\n    - {{at: 60s, apply: roomy.yaml}}\n{POD}"
    );
    let node = |name: &str, cpu: &str| {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n\
             status: {{allocatable: {{cpu: \"{cpu}\", memory: 8Gi, pods: \"110\"}}}}\n"
        )
    };
    let mut sim = simulation(
        &scenario,
        &[
            ("tiny.yaml", &node("tiny", "1")),
            ("roomy.yaml", &node("roomy", "4")),
        ],
    );
    sim.run_until(at(59));
    assert_eq!(
        attempts(sim.model(), "unschedulable"),
        1,
        "the tiny node moved the pod"
    );
    sim.run_until(at(120));
    assert_eq!(attempts(sim.model(), "unschedulable"), 1);
    assert_eq!(node_of(sim.model(), "big"), "roomy");
}

#[test]
fn pods_bound_to_a_node_count_on_it_when_it_arrives_and_when_it_returns() {
    // `pinned` (3 CPU) names node n1 before n1 exists; n1 (4 CPU) arrives at 10 s, so the
    // scheduler's cache must count `pinned` on it when it comes: `big` (2 CPU, created at
    // 20 s) then finds 4 − 3 = 1 CPU free and stays pending. At 30 s n1 is deleted (its pod
    // stays: nothing deletes it) and at 40 s a node n1 of 4 CPU comes back: `pinned` counts
    // again, so `big` stays pending; a second node n2 at 60 s takes it.
    let scenario = "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {name: late}\n\
         spec:\n  duration: 2m\n  timeline:\n    - {at: 10s, apply: n1.yaml}\n\
         \x20   - {at: 20s, apply: big.yaml}\n    - {at: 30s, delete: {node: n1}}\n\
         \x20   - {at: 40s, apply: n1.yaml}\n    - {at: 60s, apply: n2.yaml}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: pinned, namespace: default}\n\
         spec:\n  nodeName: n1\n  containers: [{name: app, image: app:1, resources: {requests: {cpu: \"3\"}}}]\n";
    let node = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n\
             status: {{allocatable: {{cpu: \"4\", memory: 8Gi, pods: \"110\"}}}}\n"
        )
    };
    let mut sim = simulation(
        scenario,
        &[
            ("n1.yaml", &node("n1")),
            ("n2.yaml", &node("n2")),
            ("big.yaml", POD.trim_start_matches("\n---\n")),
        ],
    );
    sim.run_until(at(29));
    assert_eq!(node_of(sim.model(), "big"), "");
    assert_eq!(attempts(sim.model(), "unschedulable"), 1);
    sim.run_until(at(59));
    assert_eq!(node_of(sim.model(), "big"), "");
    assert_eq!(attempts(sim.model(), "scheduled"), 0);
    sim.run_until(at(120));
    assert_eq!(node_of(sim.model(), "big"), "n2");
    assert_eq!(node_of(sim.model(), "pinned"), "n1");
}
