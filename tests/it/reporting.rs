//! What kube-scheduler writes about a pod through the API, end to end: the FitError text in
//! the pod's `PodScheduled=False` condition and its `FailedScheduling` Event, the condition
//! patched only when it changes, repeats folded into one Event series, `Scheduled` Events.

use kubesim::api::event::Event;
use kubesim::api::{Kind, Object, ObjectKey};
use kubesim::apiserver::Verb;
use kubesim::sim::{SimDuration, SimTime};
use kubesim::world::{self, RunOptions, World};

use crate::support::load_text;

/// A cluster where every node rejects the 3-CPU pod `big` for a different reason:
///
/// * `a-cordoned` (8 CPU): cordoned — NodeUnschedulable, unresolvable;
/// * `b-tainted` (8 CPU): `dedicated=db:NoSchedule` — TaintToleration, unresolvable;
/// * `c-small`, `d-small` (2 CPU): 3 > 2 even empty — NodeResourcesFit, unresolvable;
/// * `e-busy` (4 CPU) holding `busy` (2 CPU, priority 0): 3 > 4 − 2 — Insufficient cpu, which
///   evicting a pod could fix, but `busy` has the pod's own priority: no victims.
///
/// No kubelets run: the tests count the scheduler's own pod writes.
const CLUSTER: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: fit-error}
spec:
  duration: 31m
  kubelet: {enabled: false}
---
apiVersion: v1
kind: Node
metadata: {name: a-cordoned}
spec: {unschedulable: true}
status: {allocatable: {cpu: "8", memory: 16Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: b-tainted}
spec:
  taints: [{key: dedicated, value: db, effect: NoSchedule}]
status: {allocatable: {cpu: "8", memory: 16Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: c-small}
status: {allocatable: {cpu: "2", memory: 16Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: d-small}
status: {allocatable: {cpu: "2", memory: 16Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: e-busy}
status: {allocatable: {cpu: "4", memory: 16Gi, pods: "110"}}
---
apiVersion: v1
kind: Pod
metadata: {name: busy, namespace: default}
spec:
  nodeName: e-busy
  containers: [{name: c, image: i, resources: {requests: {cpu: "2"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: big, namespace: default}
spec:
  containers: [{name: c, image: i, resources: {requests: {cpu: "3"}}}]
"#;

/// The FitError text, derived by hand. Filter reasons, counted over nodes and sorted as whole
/// "<count> <reason>" strings: "1 node(s) had untolerated taint {dedicated: db}" <
/// "1 node(s) were unschedulable" ('h' < 'w') < "3 Insufficient cpu". Then DefaultPreemption's
/// PostFilter: only `e-busy` was rejected as resolvable (Unschedulable), and its dry run finds
/// no pod of lower priority; the other four are not potential nodes ("not helpful").
const FIT_ERROR: &str = "0/5 nodes are available: \
    1 node(s) had untolerated taint {dedicated: db}, 1 node(s) were unschedulable, \
    3 Insufficient cpu. preemption: 0/5 nodes are available: \
    1 No preemption victims found for incoming pod, 4 Preemption is not helpful for scheduling.";

fn run_for(minutes: u64) -> World {
    let mut sim = world::build(&load_text(CLUSTER, &[]), &RunOptions::default());
    sim.run_until(SimTime::ZERO + SimDuration::from_mins(minutes));
    sim.into_model()
}

fn events(world: &World, reason: &str) -> Vec<Event> {
    world
        .api()
        .store()
        .iter(Kind::Event)
        .filter_map(|o| match &**o {
            Object::Event(e) if e.reason == reason => Some((**e).clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_failed_pod_carries_upstreams_fit_error_in_its_condition_and_event() {
    let world = run_for(1);
    let pod = world
        .api()
        .store()
        .get(Kind::Pod, &ObjectKey::new("default", "big"))
        .and_then(|o| o.as_pod().cloned())
        .expect("big exists");
    let condition = pod.status.condition("PodScheduled").expect("condition");
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("False", "Unschedulable")
    );
    assert_eq!(condition.message, FIT_ERROR);
    // No candidate for preemption: the nomination is cleared (it was empty already).
    assert_eq!(pod.status.nominated_node_name, "");
    let failed = events(&world, "FailedScheduling");
    assert_eq!(failed.len(), 1);
    let event = &failed[0];
    assert_eq!(event.note, FIT_ERROR);
    assert_eq!(event.type_, "Warning");
    assert_eq!(event.action, "Scheduling");
    assert_eq!(event.reporting_controller, "default-scheduler");
    assert_eq!(event.regarding.name, "big");
    assert_eq!(event.regarding.kind, "Pod");
    assert!(
        event.metadata.name.starts_with("big."),
        "{}",
        event.metadata.name
    );
}

#[test]
fn repeated_failures_patch_the_condition_once_and_fold_into_one_series() {
    let world = run_for(31);
    // The pod waits in the unschedulable pool (no event helps it); the 30 s flush retries it
    // once it has waited more than 5 minutes: attempts at ~0 s, 330, 660, 990, 1320, 1650 s
    // (at 300 s it has waited 299.99… s, not more than 300).
    let attempts = world
        .scheduler()
        .and_then(|s| s.stats().attempts.get("unschedulable").copied());
    assert_eq!(attempts, Some(6));
    // The first failure sets the condition; the same message after that changes nothing, so
    // no further status patch: one pod patch in all.
    let patches = world
        .api()
        .counters()
        .requests
        .iter()
        .filter(|((verb, kind, _), _)| *verb == Verb::Patch && *kind == Kind::Pod)
        .map(|(_, n)| n)
        .sum::<u64>();
    assert_eq!(patches, 1);
    // Events are keyed by the pod at its resourceVersion. The first attempt saw the pod before
    // its condition was patched: its own Event. The others saw the patched pod: the second
    // creates an Event, the third makes it a series of 2 (a patch), the next three count in
    // the recorder (5); the 30-minute refresh at 1800 s writes count 5. The first Event was
    // seen once and left the recorder's cache at the 6-minute sweep of 720 s.
    let mut failed = events(&world, "FailedScheduling");
    failed.sort_by_key(|e| e.event_time);
    let counts: Vec<Option<i32>> = failed
        .iter()
        .map(|e| e.series.as_ref().map(|s| s.count))
        .collect();
    assert_eq!(counts, vec![None, Some(5)]);
    assert!(failed.iter().all(|e| e.note == FIT_ERROR));
    let event_writes = world
        .api()
        .counters()
        .requests
        .iter()
        .filter(|((_, kind, _), _)| *kind == Kind::Event)
        .map(|(_, n)| n)
        .sum::<u64>();
    // 2 creates, the series patch at 660 s and the refresh at 1800 s.
    assert_eq!(event_writes, 4);
}

#[test]
fn a_bound_pod_gets_a_scheduled_event_and_its_condition_turns_true() {
    // The same cluster with a pod of 1 CPU, which fits the small nodes.
    let text = CLUSTER.replace("requests: {cpu: \"3\"}", "requests: {cpu: \"1\"}");
    let mut sim = world::build(&load_text(&text, &[]), &RunOptions::default());
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(5));
    let world = sim.model();
    let scheduled = events(world, "Scheduled");
    assert_eq!(scheduled.len(), 1);
    let pod = world
        .api()
        .store()
        .get(Kind::Pod, &ObjectKey::new("default", "big"))
        .and_then(|o| o.as_pod().cloned())
        .expect("big exists");
    assert_eq!(
        scheduled[0].note,
        format!(
            "Successfully assigned default/big to {}",
            pod.spec.node_name
        )
    );
    assert_eq!(
        (scheduled[0].type_.as_str(), scheduled[0].action.as_str()),
        ("Normal", "Binding")
    );
    let condition = pod.status.condition("PodScheduled").expect("condition");
    assert_eq!(condition.status, "True");
    assert!(events(world, "FailedScheduling").is_empty());
}

/// `events.jsonl` carries what later checks read from it: bindings their node, pod status
/// writes their phase and readiness, ReplicaSet and Deployment writes their size (and, on
/// status writes, readyReplicas and availableReplicas), graceful deletes their
/// deletionTimestamp.
#[test]
fn events_jsonl_carries_the_fields_checks_read() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().expect("temporary folder");
    let target = out.path().join("quickstart");
    let scenario = root.join("scenarios/quickstart.yaml");
    let (code, _, stderr) = crate::support::kubesim(
        &[
            "run".as_ref(),
            scenario.as_os_str(),
            "--out".as_ref(),
            target.as_os_str(),
            "--events".as_ref(),
            "--quiet".as_ref(),
        ],
        root,
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let text = std::fs::read_to_string(target.join("events.jsonl")).expect("events.jsonl");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| lines.iter().find(|l| pred(l)).cloned();
    let binding = find(&|l| l["subresource"] == "binding").expect("a binding");
    assert!(
        binding["node"].as_str().is_some_and(|n| !n.is_empty()),
        "{binding}"
    );
    // The kubelets write pod status: a Running, Ready pod among them.
    let pod_status = find(&|l| {
        l["kind"] == "Pod"
            && l["subresource"] == "status"
            && l["phase"] == "Running"
            && l["ready"] == true
    })
    .expect("a pod status write of a Ready pod");
    assert!(
        pod_status["user"]
            .as_str()
            .is_some_and(|u| u.starts_with("system:node:")),
        "{pod_status}"
    );
    for kind in ["ReplicaSet", "Deployment"] {
        let status = find(&|l| l["kind"] == kind && l["subresource"] == "status")
            .unwrap_or_else(|| panic!("a {kind} status write"));
        assert!(status["replicas"].is_i64(), "{status}");
        assert!(status["readyReplicas"].is_i64(), "{status}");
        assert!(status["availableReplicas"].is_i64(), "{status}");
    }
    // The timeline deletes default/cache-1 at 10m: the delete commits 1 ms later and the pod
    // terminates for its 30 s grace period.
    let delete = find(&|l| l["verb"] == "delete" && l["name"] == "cache-1").expect("the delete");
    let expected =
        (SimTime::ZERO + SimDuration::from_secs(630) + SimDuration::from_millis(1)).as_nanos();
    assert_eq!(
        delete["deletionTimestamp"].as_u64(),
        Some(expected),
        "{delete}"
    );
    assert_eq!(delete["type"], "MODIFIED");
}
