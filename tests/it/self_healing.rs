//! Self-healing end to end: the kubelets, the node lifecycle and taint eviction controllers,
//! the ReplicaSet and Deployment controllers and kube-scheduler, with a node crashed or cut
//! off from the apiserver by a timeline fault.
//!
//! The cluster: 4 nodes in one zone (so one node down leaves the zone Normal: 1/4 < 0.55),
//! a Deployment `web` of 8 pods that tolerate `unreachable:NoExecute` for the default 300 s
//! (DefaultTolerationSeconds), both images on every node; sandbox 500 ms, container start
//! 200 ms, no readiness probe (a pod is Ready once its container runs and the PLEG, relisting
//! every second, has seen it).
//!
//! The node lifecycle controller with its defaults: monitor every 5 s, grace 50 s; the
//! kubelets renew their lease every 10 s (plus up to 4 % jitter) and post status only on
//! change (every 5 min otherwise).

use kubesim::api::{Kind, Object, ObjectKey};
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};

use crate::support::{load_text, web_deployment};

fn scenario(timeline: &str) -> kubesim::scenario::Scenario {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: self-healing}}
spec:
  duration: 30m
  nodePools:
    - name: n
      count: 4
      zones: [a]
      template:
        allocatable: {{cpu: "8", memory: 32Gi, pods: "110"}}
        images: [{{names: ["web:v1"], sizeBytes: 100000000}}]
  kubelet:
    timing: {{sandbox: {{fixed: 500ms}}, imagePull: {{fixed: 2s}}, containerStart: {{fixed: 200ms}}, containerStop: {{fixed: 1s}}}}
  timeline:
{timeline}
{web}---
apiVersion: v1
kind: Pod
metadata: {{name: stays, namespace: default}}
spec:
  nodeName: n-1
  tolerations: [{{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}}]
  containers: [{{name: app, image: "web:v1"}}]
"#,
        web = web_deployment(8),
    );
    load_text(&text, &[])
}

fn secs(s: f64) -> SimTime {
    SimTime::ZERO + SimDuration::from_nanos((s * 1e9) as u64)
}

/// The pods of `web` (by name: node, Running and Ready, terminating).
fn web_pods(sim: &Simulation<World>) -> Vec<(String, String, bool, bool)> {
    sim.model()
        .api()
        .store()
        .iter(Kind::Pod)
        .filter_map(|o| match &**o {
            Object::Pod(p) if p.metadata.labels.get("app").map(String::as_str) == Some("web") => {
                let ready = p
                    .status
                    .condition("Ready")
                    .is_some_and(|c| c.status == "True");
                let running = p.status.phase == kubesim::api::pod::PodPhase::Running;
                Some((
                    p.metadata.name.clone(),
                    p.spec.node_name.clone(),
                    running && ready,
                    p.metadata.deletion_timestamp.is_some(),
                ))
            }
            _ => None,
        })
        .collect()
}

/// Runs to the first time, in steps of 100 ms from `from` to `to`, when 8 pods of `web` run
/// Ready on nodes other than `node` and none of them is terminating.
fn healed_at(sim: &mut Simulation<World>, node: &str, from: f64, to: f64) -> Option<SimTime> {
    let mut t = secs(from);
    while t <= secs(to) {
        sim.run_until(t);
        let healthy = web_pods(sim)
            .iter()
            .filter(|(_, n, ready, terminating)| n != node && *ready && !terminating)
            .count();
        if healthy == 8 {
            return Some(t);
        }
        t += SimDuration::from_millis(100);
    }
    None
}

fn node_taints(sim: &Simulation<World>, node: &str) -> Vec<String> {
    sim.model()
        .api()
        .store()
        .get(Kind::Node, &ObjectKey::cluster(node))
        .and_then(|o| o.as_node().cloned())
        .map(|n| n.spec.taints.iter().map(|t| t.to_string()).collect())
        .unwrap_or_default()
}

/// A crashed node's pods run elsewhere 5 min 40 s to 6 min 15 s after the crash.
///
/// Crash at c = 120 s. Its kubelet last renewed its lease at r, with c − 10.4 s < r ≤ c
/// (renewals 10 s apart plus up to 4 % jitter). The controller's pass that first sees that
/// renewal (1 ms later) sets the probe timestamp p, r ≤ p < r + 5 s. Passes come every 5 s,
/// so the first pass with now > p + 50 s is p + 55 s: Ready becomes Unknown. The next pass,
/// p + 60 s, finds it Unknown and queues the node; the zone's bucket is full, so the
/// tainting pass at that instant taints it `unreachable:NoExecute` (committed ~2 ms later).
/// The taint eviction controller sees the taint 1 ms after that and deletes the pods 300 s
/// later: at p + 360 s + a few ms. The ReplicaSet controller sees each pod terminating and
/// creates its replacement at once; the scheduler binds it within ms to another node (the
/// crashed one carries `unreachable:NoSchedule` since p + 55 s); the kubelet starts it in
/// 0.7 s, and the PLEG (≤ 1 s) and a status write later it is Ready: within p + 362 s.
/// With c − 10.4 ≤ p < c + 5: c + 349.6 s ≤ healed ≤ c + 367 s, inside [c + 340, c + 375].
#[test]
fn a_crashed_nodes_pods_run_elsewhere_after_six_minutes() {
    let mut sim = world::build(
        &scenario("    - {at: 2m, crash: {node: n-1}}"),
        &RunOptions::default(),
    );
    sim.run_until(secs(119.0));
    let on_node = web_pods(&sim).iter().filter(|p| p.1 == "n-1").count();
    assert!(on_node > 0, "the Deployment spreads over n-1 too");
    // 60 s after the crash the node is Unknown and tainted (p + 60 < c + 65).
    sim.run_until(secs(120.0 + 66.0));
    let taints = node_taints(&sim, "n-1");
    assert!(
        taints.contains(&"node.kubernetes.io/unreachable:NoExecute".to_string()),
        "{taints:?}"
    );
    assert!(taints.contains(&"node.kubernetes.io/unreachable:NoSchedule".to_string()));
    // Before 5 min 40 s nothing is healed yet; then it is, by 6 min 15 s.
    let healed = healed_at(&mut sim, "n-1", 120.0 + 300.0, 120.0 + 375.0)
        .expect("the pods run elsewhere within 6 min 15 s");
    let after = (healed - secs(120.0)).as_nanos() as f64 / 1e9;
    eprintln!("crash → running elsewhere: {after:.1} s");
    assert!(
        (340.0..=375.0).contains(&after),
        "healed {after} s after the crash"
    );
    // The crashed node's pods are terminating (no kubelet finishes their deletion); the pod
    // tolerating unreachable forever stays as it was.
    let stuck: Vec<_> = web_pods(&sim)
        .into_iter()
        .filter(|p| p.1 == "n-1")
        .collect();
    assert_eq!(stuck.len(), on_node);
    assert!(stuck.iter().all(|p| p.3), "{stuck:?}");
    let stays = sim
        .model()
        .api()
        .store()
        .get(Kind::Pod, &ObjectKey::new("default", "stays"));
    assert!(stays.is_some_and(|o| o.meta().deletion_timestamp.is_none()));
}

/// A node that recovers: its kubelet finishes the deletions the apiserver started, starts
/// what is still bound to it, and posts Ready again, which lifts the taints.
#[test]
fn a_recovered_node_finishes_deletions_and_is_ready_again() {
    let mut sim = world::build(
        &scenario("    - {at: 2m, crash: {node: n-1, recoverAfter: 10m}}"),
        &RunOptions::default(),
    );
    sim.run_until(secs(120.0 + 600.0 + 60.0));
    // Every web pod of n-1 was deleted while it was down: now they are gone.
    assert!(web_pods(&sim).iter().all(|p| p.1 != "n-1"));
    assert_eq!(web_pods(&sim).len(), 8);
    // The kubelet posted Ready again; the controller lifted its taints.
    assert!(
        node_taints(&sim, "n-1").is_empty(),
        "{:?}",
        node_taints(&sim, "n-1")
    );
    let stays = sim
        .model()
        .api()
        .store()
        .get(Kind::Pod, &ObjectKey::new("default", "stays"))
        .and_then(|o| o.as_pod().cloned())
        .expect("the tolerating pod is still there");
    assert_eq!(stays.status.phase, kubesim::api::pod::PodPhase::Running);
    assert!(
        stays
            .status
            .condition("Ready")
            .is_some_and(|c| c.status == "True")
    );
}

/// A partition: the node's pods are evicted after the 300 s like a crashed node's, but the
/// node keeps running them; once it reconnects, its kubelet sees the deletions and finishes
/// them, and posts Running and Ready for the pod that is still there.
#[test]
fn a_partitioned_node_is_evicted_and_reports_again_on_reconnect() {
    let mut sim = world::build(
        &scenario("    - {at: 2m, partition: {nodes: [n-1], healAfter: 8m}}"),
        &RunOptions::default(),
    );
    // Same timeline as a crash: replacements run elsewhere by c + 375 s.
    let healed = healed_at(&mut sim, "n-1", 120.0 + 300.0, 120.0 + 375.0);
    assert!(healed.is_some(), "the partitioned node's pods are replaced");
    // The tolerating pod was marked not Ready when the node went Unknown.
    let ready = |sim: &Simulation<World>| {
        sim.model()
            .api()
            .store()
            .get(Kind::Pod, &ObjectKey::new("default", "stays"))
            .and_then(|o| o.as_pod().cloned())
            .and_then(|p| p.status.condition("Ready").map(|c| c.status.clone()))
    };
    assert_eq!(ready(&sim).as_deref(), Some("False"));
    // Reconnected at 10 min: a minute later the evicted pods are gone for good, and the
    // remaining pod is Ready again, the node's taints lifted.
    sim.run_until(secs(600.0 + 60.0));
    assert!(web_pods(&sim).iter().all(|p| p.1 != "n-1"));
    assert_eq!(ready(&sim).as_deref(), Some("True"));
    assert!(
        node_taints(&sim, "n-1").is_empty(),
        "{:?}",
        node_taints(&sim, "n-1")
    );
}

/// The shipped `scenarios/node-failure.yaml`: general-07 (3 of the 90 pods) crashes at 5m.
/// Every Deployment is whole again inside the window the defaults give: the last lease
/// renewal 0–10.4 s before the crash (10 s plus up to 4 % jitter), Unknown once the grace
/// period (50 s) has passed at a monitor pass (every 5 s) — 40–55 s after the crash — the
/// NoExecute taint on the next tainting pass (≤ 100 ms), the pods deleted 300 s later, their
/// replacements created, placed and started (sandbox 500 ms + container 300 ms + the PLEG
/// relist, ≤ 1 s) and the ReplicaSets' and Deployments' status written: 5 min 40 s at the
/// earliest, 6 min 15 s at the latest. The healing metrics see one node down
/// and tainted, and the three pods evicted and replaced.
#[test]
fn the_shipped_node_failure_heals_within_the_window() {
    let scenario = crate::support::load(std::path::Path::new("scenarios/node-failure.yaml"));
    let mut sim = world::build(&scenario, &RunOptions::default());
    sim.run_until(SimTime::ZERO + scenario.duration);
    let world = sim.model();
    let outcomes = world.kubectl().outcomes();
    let times: Vec<SimTime> = outcomes.iter().map(|o| o.at).collect();
    let crash = SimTime::ZERO + SimDuration::from_mins(5);
    let i = times.iter().position(|&t| t == crash).expect("the crash");
    let healed = world.recorder().convergence().settle_times(&times)[i].expect("healed");
    assert!(
        healed >= SimDuration::from_secs(340) && healed <= SimDuration::from_secs(375),
        "healed after {healed}"
    );
    let healing = world.recorder().healing();
    assert_eq!((healing.peak_down(), healing.peak_tainted()), (1, 1));
    assert_eq!(
        healing.evicted_by_reason().into_iter().collect::<Vec<_>>(),
        vec![("DeletionByTaintManager", 3)]
    );
    assert_eq!(healing.created_between(crash, SimTime::MAX), 3);
}

/// Watches a kubelet holds open in the apiserver for node `node` (its node's and its pods').
fn kubelet_watches(sim: &Simulation<World>, node: &str) -> usize {
    let kubelets =
        kubesim::kubelet::KUBELET_CLIENT_BASE..kubesim::kube_proxy::KUBE_PROXY_CLIENT_BASE;
    sim.model()
        .api()
        .watches()
        .open_watches()
        .filter(|(_, w)| kubelets.contains(&w.client.0) && w.pinned_name().as_deref() == Some(node))
        .count()
}

#[test]
fn a_crashed_kubelets_watches_end_with_it_and_its_successor_opens_its_own() {
    let mut sim = world::build(
        &scenario("    - {at: 2m, crash: {node: n-1, recoverAfter: 10m}}"),
        &RunOptions::default(),
    );
    let run_to = |sim: &mut Simulation<World>, s: f64| {
        sim.run(kubesim::sim::StopAt {
            until: Some(secs(s)),
            when_quiescent: false,
            max_events: None,
        });
    };
    // Its node watch (metadata.name) and its pods watch (spec.nodeName).
    run_to(&mut sim, 119.0);
    assert_eq!(kubelet_watches(&sim, "n-1"), 2);
    run_to(&mut sim, 121.0);
    assert_eq!(kubelet_watches(&sim, "n-1"), 0);
    assert_eq!(kubelet_watches(&sim, "n-2"), 2);
    // Booted at 12 min, the fresh kubelet lists and watches again.
    run_to(&mut sim, 750.0);
    assert_eq!(kubelet_watches(&sim, "n-1"), 2);
}
