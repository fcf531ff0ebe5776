//! Zone-aware tainting end to end: the kubelets, the node lifecycle and taint eviction
//! controllers (and, where pods run, the scheduler and the ReplicaSet and Deployment
//! controllers), with many nodes crashed by `crash` faults at the same instant.
//!
//! The controller's rules (upstream `node_lifecycle_controller.go`, defaults): a monitor pass
//! every 5 s; a node silent for more than 50 s (its probe timestamp, the pass that last saw
//! its lease renewed or its Ready heartbeat change, + 50 s < now) is set Unknown; the pass
//! after finds it Unknown and queues it in its zone's tainting queue, which a pass every
//! 100 ms empties through a token bucket of burst 1. The zone's state, from its nodes' Ready
//! conditions after each monitor pass, sets the bucket's rate: Normal 0.1 nodes/s; Partial
//! (more than 2 not Ready and at least 55 % of the zone) 0.01 nodes/s in a zone of more than
//! 50 nodes, else 0; Full (none Ready) 0.1 nodes/s — unless every zone is Full, when tainting
//! stops and the not-ready / unreachable NoExecute taints are lifted.
//!
//! The common timeline, from the run's own timing (a request commits and is answered 1 ms
//! after it is sent; a watcher sees a commit 1 ms later):
//!
//! * the controller's informers have listed at 1 ms: its monitor passes run at
//!   `m_k = 0.001 + 5k` s and its tainting passes on the 100 ms grid from 0.001 s;
//! * each kubelet has listed its node at 1 ms and starts its heartbeats then: its status
//!   (Ready, heartbeat 1 ms) commits at 2 ms and is never written again in these runs (nothing
//!   changes, and the 5 min report is later than any crash here); its lease is got (answered
//!   at 2 ms) and written (answered at 3 ms); each renewal, dated when it is sent, is sent
//!   10 s + up to 4 % (0.4 s) after the previous one was answered, 1 ms after it was sent.
//!   So renewal 2 is sent at `r ∈ [0.003 + 0.001 + 20, 0.003 + 0.001 + 20.8] = [20.004,
//!   20.804]` and renewal 3 not before 30 s (each test checks its nodes against this);
//! * a crash at 22 s: every crashed node's last sign of life is its renewal 2, committed by
//!   20.805 and seen by 20.806 — after the pass at 20.001 (r + 2 ms > 20.001), before the one
//!   at 25.001: all have probe timestamp p = 25.001. The first pass with now > p + 50 =
//!   75.001 is 80.001: all are set Unknown in the same pass, and the zone's state is computed
//!   with all of them not Ready. The pass at 85.001 finds them Unknown and queues them (in
//!   name order, the order the pass walks the nodes); the tainting pass at that same instant
//!   takes the bucket's token for the first, whose taint commits at **85.002 s**; each later
//!   one waits for the next token, on the 100 ms grid since 1/rate is a whole number of
//!   100 ms: at 85.002 + k / rate.
//!
//! The bucket is full at 85.001 in every zone here: it was last swapped at 5.001 s at the
//! latest (the first pass may find nodes without a Ready condition yet, all zones Full, and
//! the limiter 0; the second leaves that mode and sets 0.1 with a drained bucket, full again
//! 10 s later), and nothing took a token since; a swap at 80.001 to another rate finds the old
//! bucket's token there and starts the new one full.

use std::collections::BTreeMap;
use std::sync::Arc;

use kubesim::api::taints::{TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE, TaintEffect};
use kubesim::api::{Kind, Object};
use kubesim::controllers::node_lifecycle::NodeLifecycleController;
use kubesim::controllers::node_lifecycle::zones::ZoneState;
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};

use crate::support::{load_text, store_pods};

/// A zone: its name (the pool's and the zone label's) and its node count.
type Zone = (&'static str, usize);

/// The name of node `i` of a pool of `count` (the loader pads to the widest index).
fn node(zone: &str, i: usize, count: usize) -> String {
    let width = count.saturating_sub(1).to_string().len();
    format!("{zone}-{i:0width$}")
}

/// A cluster of one node pool per zone (no kube-proxies), with `crashes` (zone, n, at): the
/// first n nodes of the zone crashed at `at`; and with `pods` a Deployment `web` of one pod
/// per node (spread by hostname with ScheduleAnyway: a preference, which on equal nodes puts
/// one pod on each, as the tests check; tolerating the NoExecute taints for the default
/// 300 s, as DefaultTolerationSeconds adds), its image on every node.
fn scenario(
    zones: &[Zone],
    crashes: &[(&str, usize, &str)],
    pods: bool,
    duration: &str,
) -> kubesim::scenario::Scenario {
    let mut pools = String::new();
    for (zone, count) in zones {
        pools.push_str(&format!(
            "    - {{name: {zone}, count: {count}, zones: [{zone}], template: {{allocatable: \
             {{cpu: \"4\", memory: 8Gi, pods: \"110\"}}, images: [{{names: [\"web:v1\"], \
             sizeBytes: 1000000}}]}}}}\n"
        ));
    }
    let mut timeline = String::new();
    for (zone, crashed, at) in crashes {
        let count = zones.iter().find(|(z, _)| z == zone).map_or(0, |(_, c)| *c);
        for i in 0..*crashed {
            let name = node(zone, i, count);
            timeline.push_str(&format!("    - {{at: {at}, crash: {{node: {name}}}}}\n"));
        }
    }
    let mut text = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: zones}}\nspec:\n  \
         duration: {duration}\n  kubeProxy: {{enabled: false}}\n  kubelet:\n    timing: \
         {{sandbox: {{fixed: 500ms}}, containerStart: {{fixed: 200ms}}, containerStop: \
         {{fixed: 1s}}}}\n  nodePools:\n{pools}  timeline:\n{timeline}"
    );
    if pods {
        let replicas: usize = zones.iter().map(|(_, c)| c).sum();
        text.push_str(&format!(
            "---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      topologySpreadConstraints:
        - {{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {{matchLabels: {{app: web}}}}}}
      containers:
        - name: web
          image: \"web:v1\"
          resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
"
        ));
    }
    load_text(&text, &[])
}

fn secs(s: f64) -> SimTime {
    SimTime::ZERO + SimDuration::from_nanos((s * 1e9).round() as u64)
}

fn seconds(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e9
}

/// A not-ready / unreachable NoExecute taint put on (`true`) or taken off a node, when its
/// write committed.
#[derive(Clone, Debug, PartialEq)]
struct TaintChange {
    at: SimTime,
    node: String,
    added: bool,
}

/// Whether `object` is a node with the not-ready or unreachable NoExecute taint.
fn no_execute_tainted(object: Option<&Arc<Object>>) -> bool {
    object.and_then(|o| o.as_node()).is_some_and(|n| {
        n.spec.taints.iter().any(|t| {
            t.effect == TaintEffect::NoExecute
                && (t.key == TAINT_NODE_UNREACHABLE || t.key == TAINT_NODE_NOT_READY)
        })
    })
}

/// Runs event by event to `until`, collecting every NoExecute taint put on or taken off, at
/// the instant its write committed (from the store's history of node changes).
fn run_collecting_taints(sim: &mut Simulation<World>, until: SimTime) -> Vec<TaintChange> {
    let mut changes = Vec::new();
    let mut seen = sim.model().api().store().revision();
    while let Some(now) = sim.step() {
        let store = sim.model().api().store();
        if store.revision() != seen {
            let history = store
                .changes_to_kind_since(Kind::Node, None, seen)
                .expect("the history holds the last event's changes");
            for change in history {
                let (before, after) = (
                    no_execute_tainted(change.previous.as_ref()),
                    no_execute_tainted(Some(&change.object)),
                );
                if before != after {
                    changes.push(TaintChange {
                        at: now,
                        node: change.object.meta().name.clone(),
                        added: after,
                    });
                }
            }
            seen = store.revision();
        }
        if now >= until {
            break;
        }
    }
    changes
}

/// The taints added: when, on which node.
fn added(changes: &[TaintChange]) -> Vec<(SimTime, String)> {
    changes
        .iter()
        .filter(|c| c.added)
        .map(|c| (c.at, c.node.clone()))
        .collect()
}

/// Checks the timeline's premise: every node's lease was last renewed (renewal 2) in
/// [20.004 s, 20.804 s], and its Ready heartbeat is the first status write's, 1 ms.
fn assert_renewals_in_window(sim: &Simulation<World>) {
    let store = sim.model().api().store();
    for o in store.iter(Kind::Lease) {
        if let Object::Lease(lease) = &**o {
            let renewed = lease.spec.renew_time.expect("a node lease is renewed");
            assert!(
                (secs(20.004)..=secs(20.804)).contains(&renewed),
                "{}: renewed at {renewed}",
                lease.metadata.name
            );
        }
    }
    for o in store.iter(Kind::Node) {
        let n = o.as_node().expect("a node");
        let ready = n.status.conditions.iter().find(|c| c.type_ == "Ready");
        assert_eq!(
            ready.map(|c| (c.status.as_str(), c.last_heartbeat_time)),
            Some(("True", secs(0.001))),
            "{}",
            n.metadata.name
        );
    }
}

/// The controller's zone states and rates, by zone name.
fn zones(sim: &Simulation<World>) -> BTreeMap<String, (ZoneState, f64)> {
    let controller = sim
        .model()
        .controller::<NodeLifecycleController>()
        .expect("the node lifecycle controller runs");
    let rates = controller.zone_rates();
    controller
        .zone_states()
        .iter()
        .map(|(key, state)| {
            // The key is `region:\0:zone`; these nodes have no region.
            let name = key.rsplit(":\u{0}:").next().unwrap_or_default().to_string();
            (name, (*state, rates.get(key).copied().unwrap_or(f64::NAN)))
        })
        .collect()
}

/// The nodes with `unreachable:NoSchedule` and Ready Unknown: what the controller saw down,
/// independently of the rate-limited NoExecute taints.
fn seen_down(sim: &Simulation<World>) -> Vec<String> {
    sim.model()
        .api()
        .store()
        .iter(Kind::Node)
        .filter_map(|o| o.as_node())
        .filter(|n| {
            let unknown = n
                .status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "Unknown");
            let no_schedule =
                n.spec.taints.iter().any(|t| {
                    t.key == TAINT_NODE_UNREACHABLE && t.effect == TaintEffect::NoSchedule
                });
            unknown && no_schedule
        })
        .map(|n| n.metadata.name.clone())
        .collect()
}

/// Checks that the `nodes` nodes run one web pod each, Ready.
fn assert_one_pod_per_node(sim: &Simulation<World>, nodes: usize) {
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for p in store_pods(sim) {
        assert!(
            p.status.ready_since().is_some(),
            "{} Ready",
            p.metadata.name
        );
        *per_node.entry(p.spec.node_name.clone()).or_default() += 1;
    }
    assert_eq!(per_node.len(), nodes, "{per_node:?}");
    assert!(per_node.values().all(|&n| n == 1), "{per_node:?}");
}

/// 34 of a 60-node zone down: 34/60 = 0.567 ≥ 0.55 and 34 > 2, so the pass at 80.001 that
/// sets them Unknown makes the zone PartialDisruption; it has 60 > 50 nodes, so its rate is
/// the secondary 0.01 nodes/s: one taint per 100 s. The bucket was full (see the module
/// comment), so a-00 is tainted at 85.002 s, a-01 at 185.002 s, a-02 at 285.002 s, a-03 at
/// 385.002 s — and nothing else by 390 s (the 26 healthy nodes keep renewing).
#[test]
fn a_large_zone_in_partial_disruption_is_tainted_at_the_secondary_rate() {
    let mut sim = world::build(
        &scenario(&[("a", 60)], &[("a", 34, "22s")], false, "10m"),
        &RunOptions::default(),
    );
    sim.run_until(secs(21.999));
    assert_renewals_in_window(&sim);
    let changes = run_collecting_taints(&mut sim, secs(390.0));
    let expected: Vec<(SimTime, String)> = (0..4)
        .map(|k| (secs(85.002 + 100.0 * k as f64), node("a", k, 60)))
        .collect();
    assert_eq!(added(&changes), expected);
    assert!(changes.iter().all(|c| c.added), "{changes:?}");
    // Successive taints 100 s apart: the rate is 0.01 nodes/s.
    let times: Vec<SimTime> = changes.iter().map(|c| c.at).collect();
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], SimDuration::from_secs(100));
    }
    assert_eq!(
        zones(&sim),
        BTreeMap::from([("a".to_string(), (ZoneState::PartialDisruption, 0.01))])
    );
    // The controller saw all 34 down (Unknown, NoSchedule at once): only the NoExecute
    // taints are held back.
    let down: Vec<String> = (0..34).map(|i| node("a", i, 60)).collect();
    assert_eq!(seen_down(&sim), down);
}

/// The same share of a 40-node zone, 23 nodes (23/40 = 0.575 ≥ 0.55, 23 > 2): Partial, and
/// with 40 ≤ 50 nodes the rate is 0 — no node is tainted NoExecute at all, for 10 minutes
/// after they were set Unknown (80.001 s).
#[test]
fn a_small_zone_in_partial_disruption_is_not_tainted() {
    let mut sim = world::build(
        &scenario(&[("a", 40)], &[("a", 23, "22s")], false, "15m"),
        &RunOptions::default(),
    );
    sim.run_until(secs(21.999));
    assert_renewals_in_window(&sim);
    let changes = run_collecting_taints(&mut sim, secs(80.0 + 600.0));
    assert_eq!(changes, Vec::new());
    assert_eq!(
        zones(&sim),
        BTreeMap::from([("a".to_string(), (ZoneState::PartialDisruption, 0.0))])
    );
    let down: Vec<String> = (0..23).map(|i| node("a", i, 40)).collect();
    assert_eq!(seen_down(&sim), down);
    let counters = sim
        .model()
        .controller::<NodeLifecycleController>()
        .expect("the controller")
        .counters();
    assert_eq!(
        (counters.status_updates, counters.no_execute_taints),
        (23, 0)
    );
}

/// Every node of zone a (4) down, zone b (4) healthy: zone a is FullDisruption, whose rate is
/// the normal 0.1 nodes/s (zone b keeps the controller from taking itself for cut off). The
/// taints: a-0 at 85.002 s, a-1 at 95.002 s, a-2 at 105.002 s, a-3 at 115.002 s.
///
/// With one web pod per node (tolerating unreachable:NoExecute for 300 s): the taint
/// eviction controller sees each taint 1 ms after it commits and evicts the node's pod 300 s
/// later — the DisruptionTarget condition commits 1 ms after that: at 385.004 s, 395.004 s,
/// 405.004 s and 415.004 s. The replacements go to zone b (zone a's nodes carry
/// unreachable:NoSchedule), two pods per node there.
#[test]
fn a_whole_zone_down_is_tainted_at_the_normal_rate() {
    let mut sim = world::build(
        &scenario(&[("a", 4), ("b", 4)], &[("a", 4, "22s")], true, "10m"),
        &RunOptions::default(),
    );
    sim.run_until(secs(21.999));
    assert_renewals_in_window(&sim);
    assert_one_pod_per_node(&sim, 8);
    let changes = run_collecting_taints(&mut sim, secs(420.0));
    let expected: Vec<(SimTime, String)> = (0..4)
        .map(|k| (secs(85.002 + 10.0 * k as f64), node("a", k, 4)))
        .collect();
    assert_eq!(added(&changes), expected);
    assert_eq!(changes.len(), 4, "{changes:?}");
    assert_eq!(
        zones(&sim),
        BTreeMap::from([
            ("a".to_string(), (ZoneState::FullDisruption, 0.1)),
            ("b".to_string(), (ZoneState::Normal, 0.1)),
        ])
    );
    let healing = sim.model().recorder().healing();
    for k in 0..4 {
        let at = 385.004 + 10.0 * k as f64;
        assert_eq!(
            healing.evicted_between(secs(at), secs(at + 0.0005)),
            1,
            "one eviction at {at} s"
        );
    }
    assert_eq!(healing.evicted(), 4);
    // By 420 s the four replacements run in zone b.
    let running_on_b = store_pods(&sim)
        .iter()
        .filter(|p| p.spec.node_name.starts_with("b-") && p.status.ready_since().is_some())
        .count();
    assert_eq!(running_on_b, 8);
}

/// Both zones (3 nodes each) down at once: the pass at 80.001 finds every zone Full, so the
/// controller takes itself for cut off: every bucket's rate 0, no NoExecute taint ever, no
/// pod evicted — the six pods stay bound where they were, not terminating, for 15 minutes.
#[test]
fn all_zones_down_taint_and_evict_nothing() {
    let mut sim = world::build(
        &scenario(
            &[("a", 3), ("b", 3)],
            &[("a", 3, "22s"), ("b", 3, "22s")],
            true,
            "20m",
        ),
        &RunOptions::default(),
    );
    sim.run_until(secs(21.999));
    assert_renewals_in_window(&sim);
    let before: Vec<(String, String)> = store_pods(&sim)
        .iter()
        .map(|p| (p.metadata.name.clone(), p.spec.node_name.clone()))
        .collect();
    assert_one_pod_per_node(&sim, 6);
    let changes = run_collecting_taints(&mut sim, secs(22.0 + 900.0));
    assert_eq!(changes, Vec::new());
    assert_eq!(
        zones(&sim),
        BTreeMap::from([
            ("a".to_string(), (ZoneState::FullDisruption, 0.0)),
            ("b".to_string(), (ZoneState::FullDisruption, 0.0)),
        ])
    );
    // Every node was seen down all the same.
    assert_eq!(seen_down(&sim).len(), 6);
    let healing = sim.model().recorder().healing();
    assert_eq!((healing.evicted(), healing.peak_tainted()), (0, 0));
    let after: Vec<(String, String)> = store_pods(&sim)
        .iter()
        .filter(|p| !p.metadata.is_terminating())
        .map(|p| (p.metadata.name.clone(), p.spec.node_name.clone()))
        .collect();
    assert_eq!(after, before);
}

/// Zone a (3 nodes) down at 22 s: tainted at 85.002, 95.002 and 105.002 s (Full, 0.1/s).
/// Zone b (3 nodes) down at 150 s: its nodes' last renewals r ∈ (150 − 10.4 s, 150 s] are
/// seen 2 ms after r by the pass after, so their probe timestamps are passes p ∈ [140.001,
/// 155.001]; each is set Unknown at p + 55 (the first pass after p + 50). The pass that sets
/// the last of them Unknown, in [195.001, 210.001], finds every zone Full: it lifts zone a's
/// three taints at once (commits 1 ms later, 45.002 to 60.002 s after b's crash) and stops
/// tainting. Zone a's pods, due for eviction 300 s
/// after their taints (385 s on), are never evicted: the lift cancels it. Through 15 min: no
/// taint again, nothing evicted.
#[test]
fn the_last_zone_going_down_lifts_the_taints() {
    let mut sim = world::build(
        &scenario(
            &[("a", 3), ("b", 3)],
            &[("a", 3, "22s"), ("b", 3, "150s")],
            true,
            "20m",
        ),
        &RunOptions::default(),
    );
    sim.run_until(secs(21.999));
    assert_renewals_in_window(&sim);
    let changes = run_collecting_taints(&mut sim, secs(900.0));
    let expected: Vec<(SimTime, String)> = (0..3)
        .map(|k| (secs(85.002 + 10.0 * k as f64), node("a", k, 3)))
        .collect();
    assert_eq!(added(&changes), expected);
    let lifted: Vec<&TaintChange> = changes.iter().filter(|c| !c.added).collect();
    assert_eq!(lifted.len(), 3, "{changes:?}");
    let at = lifted[0].at;
    assert!(lifted.iter().all(|c| c.at == at), "one pass lifts all");
    let lifted_after = seconds(at) - 150.0;
    assert!(
        (45.0015..=60.0025).contains(&lifted_after),
        "lifted at {}",
        seconds(at)
    );
    let healing = sim.model().recorder().healing();
    assert_eq!(
        (
            healing.evicted(),
            healing.peak_tainted(),
            healing.nodes().tainted()
        ),
        (0, 3, 0)
    );
    assert_eq!(
        zones(&sim),
        BTreeMap::from([
            ("a".to_string(), (ZoneState::FullDisruption, 0.0)),
            ("b".to_string(), (ZoneState::FullDisruption, 0.0)),
        ])
    );
    assert_eq!(
        store_pods(&sim)
            .iter()
            .filter(|p| !p.metadata.is_terminating())
            .count(),
        6
    );
}
