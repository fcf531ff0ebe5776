//! PodDisruptionBudgets end to end: the disruption controller keeps each budget's status, the
//! eviction subresource spends it, and `drain` / `evict` actions run as kubectl does, against
//! the real scheduler, ReplicaSet and Deployment controllers and kubelets.
//!
//! Common timing (as in `rollout.rs`): a request commits and is answered 1 ms after it is
//! sent; a watcher sees a commit 1 ms later. A drain at `t` cordons (answered at `t + 1 ms`),
//! lists the node's pods (answered at `t + 2 ms`) and sends every eviction then. kubectl
//! sends a refused eviction again 5 s after the refusal arrives.

use std::path::Path;

use kubesim::api::pdb::PodDisruptionBudget;
use kubesim::api::{Kind, Object, ObjectKey};
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::drain::DrainStats;
use kubesim::world::{self, RunOptions, World};

use crate::support::{load, load_text, store_pods};

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

/// Pods labelled `app: <app>` that are Ready and not terminating: what a budget protects.
fn healthy(sim: &Simulation<World>, app: &str) -> usize {
    store_pods(sim)
        .iter()
        .filter(|p| p.metadata.labels.get("app").map(String::as_str) == Some(app))
        .filter(|p| !p.metadata.is_terminating() && p.status.ready_since().is_some())
        .count()
}

fn budget(sim: &Simulation<World>, name: &str) -> PodDisruptionBudget {
    let key = ObjectKey::new("default", name);
    match sim
        .model()
        .api()
        .store()
        .get(Kind::PodDisruptionBudget, &key)
        .map(|o| &**o)
    {
        Some(Object::PodDisruptionBudget(b)) => PodDisruptionBudget::clone(b),
        other => panic!("budget {name}: {other:?}"),
    }
}

fn drains(sim: &Simulation<World>) -> Vec<(String, DrainStats)> {
    sim.model()
        .kubectl()
        .drains()
        .map(|(_, d)| (d.node().to_string(), d.stats.clone()))
        .collect()
}

/// The shipped `scenarios/drain.yaml`: three of four nodes drained at 2m against `web-pdb`
/// (6 pods, minAvailable 5) and `api-pdb` (4 pods, maxUnavailable 25 %).
#[test]
fn a_drain_of_three_nodes_never_takes_a_budget_below_its_minimum() {
    let scenario = load(Path::new("scenarios/drain.yaml"));
    let mut sim = world::build(&scenario, &RunOptions::default());
    sim.run_until(secs(119));
    // Before the drains, as the controller works it out by hand:
    // web-pdb: minAvailable 5 is an integer, so the pods themselves are expected (6);
    //   6 Ready − 5 desired = 1 disruption allowed.
    // api-pdb: maxUnavailable 25 % of the Deployment's 4 replicas = 1 rounded up; desired
    //   4 − 1 = 3; 4 Ready − 3 = 1 allowed.
    for (name, expected, desired) in [("web-pdb", 6, 5), ("api-pdb", 4, 3)] {
        let b = budget(&sim, name);
        assert_eq!(
            (
                b.status.expected_pods,
                b.status.desired_healthy,
                b.status.current_healthy,
                b.status.disruptions_allowed
            ),
            (expected, desired, expected, 1),
            "{name} before the drains"
        );
    }
    assert_eq!((healthy(&sim, "web"), healthy(&sim, "api")), (6, 4));
    // From the drains on, after every event: never fewer healthy pods than a budget's
    // minimum.
    while let Some(now) = sim.step() {
        if now > secs(15 * 60) {
            break;
        }
        let (web, api) = (healthy(&sim, "web"), healthy(&sim, "api"));
        assert!(web >= 5, "{web} healthy web pods at {now}");
        assert!(api >= 3, "{api} healthy api pods at {now}");
    }
    let stats = drains(&sim);
    assert_eq!(stats.len(), 3);
    let all = store_pods(&sim);
    let on = |node: &str| {
        all.iter()
            .filter(|p| p.spec.node_name == node)
            .map(|p| p.metadata.name.clone())
            .collect::<Vec<_>>()
    };
    for (node, s) in &stats {
        // Every pod of the node but its log agent was evicted, each refusal retried (no
        // timeout), and the drain finished.
        assert_eq!(s.skipped, 1, "{node}: the DaemonSet's pod is left");
        assert_eq!(s.evicted, s.pods, "{node}: {s:?}");
        assert_eq!(s.retries, s.blocked, "{node}: {s:?}");
        assert!(!s.timed_out && s.finished_at.is_some(), "{node}: {s:?}");
        assert_eq!(on(node), vec![format!("log-agent-{node}")], "{node}");
    }
    // With one disruption allowed per budget, three simultaneous drains must have been
    // refused some evictions.
    let blocked: u32 = stats.iter().map(|(_, s)| s.blocked).sum();
    assert!(blocked > 0);
    // Everything was replaced on the one schedulable node, and the budgets are whole again.
    assert_eq!((healthy(&sim, "web"), healthy(&sim, "api")), (6, 4));
    assert_eq!(on("worker-3").len(), 6 + 4 + 1);
    for name in ["web-pdb", "api-pdb"] {
        assert_eq!(budget(&sim, name).status.disruptions_allowed, 1, "{name}");
    }
    // The healing metrics saw the same: every accepted eviction marked its pod with the
    // DisruptionTarget condition (reason EvictionByEvictionAPI), each pod once; draining takes
    // no node down and taints none NoExecute.
    let accepted: u32 = stats.iter().map(|(_, s)| s.evicted).sum();
    let healing = sim.model().recorder().healing();
    assert_eq!(
        healing.evicted_by_reason().into_iter().collect::<Vec<_>>(),
        vec![("EvictionByEvictionAPI", accepted as usize)]
    );
    assert_eq!((healing.peak_down(), healing.peak_tainted()), (0, 0));
    // Each evicted pod came back as exactly one replacement, created after the drains began
    // (nothing else is created after 2m).
    assert_eq!(
        healing.created_between(secs(120), secs(15 * 60)),
        accepted as usize
    );
}

const TIMED: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: evictions}
spec:
  duration: 10m
  nodePools:
    - name: n
      count: 2
      template:
        allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
        images: [{names: ["app:v1"], sizeBytes: 1000000}]
  apiserver: {admissionLatency: 1ms, watchDelay: 1ms}
  kubelet:
    timing: {sandbox: {fixed: 500ms}, containerStart: {fixed: 200ms}, containerStop: {fixed: 1s}}
  timeline:
TIMELINE
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web-pdb}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {app: web}}
spec:
  nodeName: n-0
  containers: [{name: app, image: "app:v1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec:
  nodeName: n-0
  containers: [{name: app, image: "app:v1"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: agent
  labels: {app: agent}
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, controller: true}]
spec:
  nodeName: n-0
  containers: [{name: app, image: "app:v1"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels: {app: static}
  annotations: {kubernetes.io/config.mirror: "3f2a"}
spec:
  nodeName: n-0
  containers: [{name: app, image: "app:v1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: loner, labels: {app: loner}}
spec:
  nodeName: n-0
  containers: [{name: app, image: "app:v1"}]
"#;

fn timed(timeline: &str) -> Simulation<World> {
    let text = TIMED.replace("TIMELINE", timeline);
    world::build(&load_text(&text, &[]), &RunOptions::default())
}

/// Two unmanaged pods `web-0` / `web-1` under minAvailable 2: an integer minimum expects the
/// pods themselves, 2; both Ready, so 2 − 2 = 0 disruptions allowed, and the eviction is
/// refused with upstream's 429 and its cause.
#[test]
fn an_eviction_against_a_spent_budget_is_refused_with_429() {
    let mut sim = timed("    - {at: 1m, evict: {pod: default/web-0}}");
    sim.run_until(secs(120));
    let b = budget(&sim, "web-pdb");
    assert_eq!(
        (
            b.status.expected_pods,
            b.status.desired_healthy,
            b.status.current_healthy,
            b.status.disruptions_allowed
        ),
        (2, 2, 2, 0)
    );
    let outcome = &sim.model().kubectl().outcomes()[1];
    assert_eq!(outcome.description, "evict Pod default/web-0");
    assert_eq!(
        outcome.errors,
        vec![
            "Cannot evict pod as it would violate the pod's disruption budget. (The disruption \
             budget web-pdb needs 2 healthy pods and has 2 currently)"
                .to_string()
        ]
    );
    // The pod is untouched: not terminating, no DisruptionTarget.
    let web0 = store_pods(&sim)
        .into_iter()
        .find(|p| p.metadata.name == "web-0")
        .expect("web-0 stays");
    assert!(!web0.metadata.is_terminating());
    assert!(web0.status.condition("DisruptionTarget").is_none());
}

/// A drain of `n-0` with a 20 s timeout against the spent budget. It leaves the DaemonSet's
/// pod `agent` and the mirror pod `static-web`, evicts `loner` (no controller: `--force`) at
/// once, and keeps being refused for `web-0` and `web-1`:
///
/// * the list is answered at 2m + 2 ms = t0, the deadline is t0 + 20 s;
/// * each web pod's eviction goes at t0, is refused 1 ms later, and goes again 5 s after
///   that: at t0 + 5.001 s, + 10.002 s, + 15.003 s — four refusals, three retries each;
/// * the wake-up at t0 + 20.004 s is past the deadline: both are given up ("global timeout
///   reached"), and the drain ends then, 20.006 s after it began.
#[test]
fn a_drain_skips_daemonset_and_mirror_pods_and_gives_up_at_its_timeout() {
    let mut sim = timed("    - {at: 2m, drain: {node: n-0, timeout: 20s}}");
    sim.run_until(secs(180));
    let [(node, stats)] = drains(&sim).try_into().expect("one drain");
    assert_eq!(node, "n-0");
    assert_eq!(
        stats,
        DrainStats {
            pods: 3,
            skipped: 2,
            evicted: 1,
            blocked: 8,
            retries: 6,
            timed_out: true,
            finished_at: Some(secs(120) + SimDuration::from_micros(20_006_000)),
        }
    );
    let left: Vec<String> = store_pods(&sim)
        .into_iter()
        .map(|p| p.metadata.name)
        .collect();
    assert_eq!(left, ["agent", "static-web", "web-0", "web-1"]);
    let outcome = &sim.model().kubectl().outcomes()[1];
    assert_eq!(outcome.errors.len(), 2, "{:?}", outcome.errors);
    assert!(
        outcome.errors[0].ends_with("global timeout reached: 20s"),
        "{:?}",
        outcome.errors
    );
    // kubectl leaves the node cordoned.
    let node = sim
        .model()
        .api()
        .store()
        .get(Kind::Node, &ObjectKey::cluster("n-0"))
        .and_then(|o| o.as_node().cloned())
        .expect("n-0");
    assert!(node.spec.unschedulable);
}

/// What loading `text` fails with (the scenario file's name stripped off).
fn load_error(text: &str) -> String {
    let (_dir, path) = crate::support::fixture("bad.yaml", text, &[]);
    match kubesim::scenario::load(&path, &kubesim::world::Components) {
        Ok(_) => panic!("should not load:\n{text}"),
        Err(e) => e
            .to_string()
            .replace(&path.display().to_string(), "bad.yaml"),
    }
}

const PDB_HEAD: &str =
    "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: b}\nspec:\n";

#[test]
fn budgets_are_validated_as_the_apiserver_does() {
    // Line 5 `  minAvailable: 1`: its value at column 17.
    let both = format!("{PDB_HEAD}  minAvailable: 1\n  maxUnavailable: 1\n");
    let err = load_error(&both);
    assert!(
        err.starts_with("bad.yaml:5:17: field `spec.minAvailable`"),
        "{err}"
    );
    assert!(
        err.contains("minAvailable and maxUnavailable cannot be both set"),
        "{err}"
    );
    let over = format!("{PDB_HEAD}  maxUnavailable: 120%\n");
    let err = load_error(&over);
    assert!(err.contains("spec.maxUnavailable"), "{err}");
    assert!(err.contains("must not be greater than 100%"), "{err}");
    let words = format!("{PDB_HEAD}  minAvailable: half\n");
    assert!(load_error(&words).contains("must be an integer or percentage (e.g '5%')"));
    let negative = format!("{PDB_HEAD}  minAvailable: -1\n");
    assert!(load_error(&negative).contains("must be greater than or equal to 0"));
    let policy = format!("{PDB_HEAD}  unhealthyPodEvictionPolicy: Sometimes\n");
    let err = load_error(&policy);
    assert!(
        err.contains("spec.unhealthyPodEvictionPolicy")
            && err.contains(
                "Unsupported value: \"Sometimes\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""
            ),
        "{err}"
    );
    // policy/v1beta1 is no longer served.
    let beta = "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: b}\n";
    assert!(load_error(beta).contains("expected apiVersion policy/v1"));
    // A valid one loads, with a dump's status and an unknown field noted, not refused.
    let good = format!(
        "{PDB_HEAD}  minAvailable: 50%\n  selector: {{matchLabels: {{app: web}}}}\n  \
         unhealthyPodEvictionPolicy: AlwaysAllow\n  surprise: 1\n"
    );
    let scenario = load_text(&good, &[]);
    let Some(Object::PodDisruptionBudget(b)) = scenario.initial.first() else {
        panic!("one budget: {:?}", scenario.initial);
    };
    assert_eq!(
        b.spec.unhealthy_policy(),
        kubesim::api::pdb::UnhealthyPodEvictionPolicy::AlwaysAllow
    );
    assert!(
        scenario
            .notes
            .iter()
            .any(|n| n.message.contains("spec.surprise")),
        "{:?}",
        scenario.notes
    );
}

#[test]
fn drain_and_evict_actions_are_checked_at_load() {
    let scenario = |action: &str| {
        format!(
            "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: s}}\nspec:\n  \
             duration: 10m\n  timeline:\n    - {{at: 1m, {action}}}\n"
        )
    };
    let ok = load_text(
        &scenario("drain: {node: n-0, timeout: 2m, gracePeriod: 5}"),
        &[],
    );
    assert_eq!(ok.timeline[0].action.describe(), "drain n-0 --timeout=2m");
    let ok = load_text(&scenario("evict: {pod: web-0}"), &[]);
    assert_eq!(ok.timeline[0].action.describe(), "evict Pod default/web-0");
    // Line 7 holds the entry; the errors name the field.
    let err = load_error(&scenario("drain: {node: n-0, timout: 2m}"));
    assert!(err.starts_with("bad.yaml:7:"), "{err}");
    assert!(err.contains("timout"), "{err}");
    let err = load_error(&scenario("drain: {node: \"\"}"));
    assert!(err.contains("spec.timeline[0].drain.node"), "{err}");
    let err = load_error(&scenario("evict: {pod: \"ns/\"}"));
    assert!(err.contains("spec.timeline[0].evict.pod"), "{err}");
    let err = load_error(&scenario("drain: {node: n-0}, cordon: n-1"));
    assert!(err.contains("expected exactly one action"), "{err}");
}

/// kube-scheduler reads the budgets through its own informer: a pod of priority 1000 needing a
/// whole node preempts on the node whose victims no budget protects, although the victims on
/// the other node are less important.
///
/// n-0 runs `guarded-0` / `guarded-1` (priority 10, budget minAvailable 2 of these 2 pods:
/// 0 disruptions allowed); n-1 runs `free-0` / `free-1` (priority 20, no budget). Each pod
/// takes 1 CPU of the node's 2. Candidates: n-0 with 2 violations, n-1 with none. Without the
/// budget, n-0 would win (lowest highest victim priority, 10 < 20).
#[test]
fn preemption_spares_the_pods_a_budget_protects() {
    let text = |budget: &str| {
        let pod = |name: &str, node: &str, class: &str, app: &str| {
            format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{app: {app}}}}}\n\
                 spec:\n  nodeName: {node}\n  priorityClassName: {class}\n  \
                 containers: [{{name: c, image: app, resources: {{requests: {{cpu: \"1\"}}}}}}]\n"
            )
        };
        format!(
            "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: p}}\nspec:\n  \
             duration: 3m\n  nodePools:\n    - name: n\n      count: 2\n      template:\n        \
             allocatable: {{cpu: \"2\", memory: 8Gi, pods: \"110\"}}\n  timeline:\n    \
             - {{at: 1m, createPods: {{count: 1, template: {{metadata: {{name: vip}}, spec: \
             {{priorityClassName: high, containers: [{{name: c, image: app, resources: \
             {{requests: {{cpu: \"2\"}}}}}}]}}}}}}}}\n---\n\
             apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: high}}\nvalue: 1000\n---\n\
             apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: p10}}\nvalue: 10\n---\n\
             apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: p20}}\nvalue: 20\n\
             {}{}{}{}{budget}",
            pod("guarded-0", "n-0", "p10", "guarded"),
            pod("guarded-1", "n-0", "p10", "guarded"),
            pod("free-0", "n-1", "p20", "free"),
            pod("free-1", "n-1", "p20", "free"),
        )
    };
    let nominated = |text: String| {
        let mut sim = world::build(&load_text(&text, &[]), &RunOptions::default());
        sim.run_until(secs(150));
        store_pods(&sim)
            .into_iter()
            .find(|p| p.metadata.name == "vip-0")
            .map(|p| {
                (
                    p.status.nominated_node_name.clone(),
                    p.spec.node_name.clone(),
                )
            })
            .expect("vip-0")
    };
    let guarded = "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: g}\n\
                   spec: {minAvailable: 2, selector: {matchLabels: {app: guarded}}}\n";
    // With the budget: n-1 (its nomination is cleared once it is bound there).
    assert_eq!(nominated(text(guarded)).1, "n-1");
    // Without it: n-0.
    assert_eq!(nominated(text("")).1, "n-0");
}
