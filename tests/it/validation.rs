//! The apiserver's validation and `kubectl apply`'s merge, end to end: invalid pods and nodes
//! are load errors at their field, a bound pod's spec changes only where upstream allows,
//! re-applying an unchanged manifest writes nothing, and an object defined twice is applied
//! twice with a warning naming both places.

use std::path::Path;

use kubesim::api::{Kind, ObjectKey};
use kubesim::apiserver::Verb;
use kubesim::scenario::{self, ScenarioError};
use kubesim::sim::{SimDuration, SimTime};
use kubesim::world::{self, Components, RunOptions, World};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn load_error(text: &str) -> (std::path::PathBuf, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(dir.path(), "bad.yaml", text);
    match scenario::load(&path, &Components) {
        Ok(_) => panic!("should not load:\n{text}"),
        Err(e @ ScenarioError::Invalid { .. }) => (path, e.to_string()),
        Err(e) => panic!("expected a validation error, got {e}"),
    }
}

#[test]
fn invalid_pod_and_node_fields_are_load_errors_at_the_field() {
    // Line 8 `      resources: {requests: {cpu: "-1"}}`: 6 spaces, `resources: ` to column 17,
    // `{requests: ` to 28, `{cpu: ` to 34: `"-1"` at column 35.
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    \
               - name: c\n      image: i\n      resources: {requests: {cpu: \"-1\"}}\n";
    let (path, err) = load_error(pod);
    assert!(
        err.starts_with(&format!("{}:8:35:", path.display())),
        "{err}"
    );
    assert!(
        err.contains("spec.containers[0].resources.requests[cpu]")
            && err.contains("Invalid value: \"-1\": must be greater than or equal to 0"),
        "{err}"
    );
    // maxSkew 0, line 7 `    - {maxSkew: 0, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}`:
    // the 0 at column 17.
    let spread = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i}]\n  \
                  topologySpreadConstraints:\n    - {maxSkew: 0, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}\n";
    let (path, err) = load_error(spread);
    assert!(
        err.starts_with(&format!("{}:7:17:", path.display())),
        "{err}"
    );
    assert!(err.contains("must be greater than zero"), "{err}");
    // A request above the limit is reported at `requests`, as upstream does (line 8, where
    // the `requests` map starts: column 20).
    let over = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    \
                - name: c\n      image: i\n      resources: {requests: {cpu: 500m}, limits: {cpu: 100m}}\n";
    let (_, err) = load_error(over);
    assert!(
        err.contains("spec.containers[0].resources.requests")
            && err.contains("must be less than or equal to cpu limit of 100m"),
        "{err}"
    );
    // Negative node allocatable; line 4 `status: {allocatable: {cpu: "-4"}}`, `"-4"` at 29.
    let node =
        "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {allocatable: {cpu: \"-4\"}}\n";
    let (path, err) = load_error(node);
    assert!(
        err.starts_with(&format!("{}:4:29:", path.display())),
        "{err}"
    );
    assert!(err.contains("status.allocatable.cpu"), "{err}");
    // A quantity kubesim cannot hold is an error, never a silent clamp: 2^63 bytes.
    let huge = "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {allocatable: {memory: \"9223372036854775808\"}}\n";
    let (_, err) = load_error(huge);
    assert!(err.contains("larger than kubesim can hold"), "{err}");
}

/// A node, and `web` bound to it at creation; at 10 s the timeline applies `again.yaml`.
fn bound_pod_reapplied(again: &str) -> World {
    let dir = tempfile::tempdir().expect("temp dir");
    let pod = |cpu: &str, image: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: default}}\nspec:\n  \
             nodeName: n1\n  containers:\n    - name: c\n      image: {image}\n      \
             resources: {{requests: {{cpu: {cpu}}}}}\n"
        )
    };
    let again = match again {
        "same" => pod("500m", "web:1"),
        "image" => pod("500m", "web:2"),
        _ => pod("1", "web:1"),
    };
    write(dir.path(), "again.yaml", &again);
    let scenario = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: reapply}}\nspec:\n  \
         duration: 1m\n  timeline:\n    - {{at: 10s, apply: again.yaml}}\n---\n\
         apiVersion: v1\nkind: Node\nmetadata: {{name: n1}}\n\
         status: {{allocatable: {{cpu: \"4\", memory: 8Gi, pods: \"110\"}}}}\n---\n{}",
        pod("500m", "web:1")
    );
    let path = write(dir.path(), "scenario.yaml", &scenario);
    let scenario = scenario::load(&path, &Components).expect("loads");
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    let mut sim = world::build(&scenario, &options);
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(60));
    sim.into_model()
}

fn web(world: &World) -> kubesim::api::pod::Pod {
    world
        .api()
        .store()
        .get(Kind::Pod, &ObjectKey::new("default", "web"))
        .and_then(|o| o.as_pod().map(|p| (**p).clone()))
        .expect("web exists")
}

/// Writes of the pod committed by the scenario's user after its creation.
fn user_changes(world: &World) -> usize {
    world
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == Kind::Pod && w.user == "kubernetes-admin" && w.verb != Verb::Create)
        .count()
}

#[test]
fn reapplying_an_unchanged_manifest_writes_nothing() {
    let world = bound_pod_reapplied("same");
    // kubectl: create (409 AlreadyExists), then the apply patch, merged onto the live pod
    // (which keeps its node and what admission added): nothing differs, nothing is written.
    assert_eq!(user_changes(&world), 0);
    let outcome = &world.kubectl().outcomes()[1];
    assert_eq!((outcome.requests, outcome.errors.len()), (2, 0));
    assert_eq!(web(&world).spec.node_name, "n1");
}

#[test]
fn a_new_image_updates_a_bound_pod_in_place() {
    let world = bound_pod_reapplied("image");
    assert_eq!(user_changes(&world), 1);
    let pod = web(&world);
    assert_eq!(
        (
            pod.spec.node_name.as_str(),
            pod.spec.containers[0].image.as_str()
        ),
        ("n1", "web:2")
    );
}

#[test]
fn new_requests_for_a_bound_pod_are_refused_with_upstreams_message() {
    let world = bound_pod_reapplied("requests");
    let outcome = &world.kubectl().outcomes()[1];
    assert_eq!(outcome.errors.len(), 1, "{:?}", outcome.errors);
    let error = &outcome.errors[0];
    assert!(
        error.contains(
            "Pod \"web\" is invalid: spec: Forbidden: pod updates may not change fields other than \
             `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,\
             `spec.tolerations` (only additions to existing tolerations),\
             `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
        ),
        "{error}"
    );
    // Refused: the pod keeps its request (500m) and its node.
    let pod = web(&world);
    assert_eq!(pod.spec.node_name, "n1");
    assert_eq!(
        pod.spec.containers[0].resources.requests["cpu"].to_string(),
        "500m"
    );
    let refused = world
        .api()
        .counters()
        .requests
        .get(&(Verb::Patch, Kind::Pod, 422))
        .copied();
    assert_eq!(refused, Some(1));
    assert_eq!(user_changes(&world), 0);
}

#[test]
fn an_object_defined_twice_is_applied_twice_with_a_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: a}]\n\
                ---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec:\n  containers: [{name: c, image: b}]\n";
    let path = write(dir.path(), "twice.yaml", text);
    let scenario = scenario::load(&path, &Components).expect("loads");
    // The second document starts on line 6 (its `---`), the first on line 1.
    assert_eq!(scenario.warnings.len(), 1);
    let warning = &scenario.warnings[0];
    assert_eq!(warning.pos.line, 6);
    assert!(
        warning
            .message
            .contains(&format!("first at {}:1:1", path.display())),
        "{}",
        warning.message
    );
    // Both are applied in order: the second (image b) wins.
    let mut sim = world::build(&scenario, &RunOptions::default());
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(5));
    let pod = sim
        .model()
        .api()
        .store()
        .get(Kind::Pod, &ObjectKey::new("default", "p"))
        .and_then(|o| o.as_pod().cloned())
        .expect("p exists");
    assert_eq!(pod.spec.containers[0].image, "b");
}

#[test]
fn faults_name_nodes_of_the_scenario_and_positive_durations() {
    let head = "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nspec:\n  nodePools:\n    \
                - {name: n, count: 2}\n  timeline:\n";
    // Line 8: the second timeline entry names a node that does not exist.
    let unknown = format!(
        "{head}    - {{at: 1m, crash: {{node: n-0}}}}\n    - {{at: 2m, partition: {{nodes: [n-7]}}}}\n"
    );
    let (path, err) = load_error(&unknown);
    assert!(err.starts_with(&format!("{}:8:", path.display())), "{err}");
    assert!(err.contains("spec.timeline[1]"), "{err}");
    assert!(err.contains("unknown node \"n-7\""), "{err}");
    // A zero recovery time is refused at its field.
    let zero = format!("{head}    - {{at: 1m, crash: {{node: n-0, recoverAfter: 0s}}}}\n");
    let (_, err) = load_error(&zero);
    assert!(err.contains("spec.timeline[0].crash.recoverAfter"), "{err}");
    assert!(err.contains("positive duration"), "{err}");
    // A malformed duration is a parse error at its line, not a panic.
    let bad = format!("{head}    - {{at: 1m, crash: {{node: n-0, recoverAfter: soon}}}}\n");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(dir.path(), "bad.yaml", &bad);
    let err = scenario::load(&path, &Components)
        .expect_err("a bad duration")
        .to_string();
    assert!(err.starts_with(&format!("{}:7:", path.display())), "{err}");
    // A zone outage names a zone some node is in (the pool's nodes have none here), and a
    // flap at least one loss; each is refused at its field.
    let zone = format!("{head}    - {{at: 1m, zoneOutage: {{zone: zone-x}}}}\n");
    let (_, err) = load_error(&zone);
    assert!(err.contains("spec.timeline[0].zoneOutage.zone"), "{err}");
    assert!(err.contains("no node is in zone \"zone-x\""), "{err}");
    let flap =
        format!("{head}    - {{at: 1m, flap: {{node: n-1, down: 30s, up: 1m, times: 0}}}}\n");
    let (_, err) = load_error(&flap);
    assert!(err.contains("spec.timeline[0].flap.times"), "{err}");
    assert!(err.contains("expected at least 1"), "{err}");
    // A bad flag value of the node lifecycle controller is refused at its field.
    let rate = "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nspec:\n  controllerManager:\n    \
                unhealthyZoneThreshold: 1.5\n";
    let (_, err) = load_error(rate);
    assert!(
        err.contains("spec.controllerManager.unhealthyZoneThreshold"),
        "{err}"
    );
}

#[test]
fn pod_faults_name_a_declared_pod_or_a_valid_selector() {
    let head = "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nspec:\n  nodePools:\n    \
                - {name: n, count: 1}\n  timeline:\n";
    let pod = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: solo}\nspec:\n  \
               containers: [{name: app, image: img}]\n";
    // Each entry is line 7; the error names the field after spec.timeline[0].
    let cases = [
        (
            "podCrash: {pod: default/solo/x}",
            "spec.timeline[0].podCrash.pod",
            "expected namespace/name, such as default/web-0, found \"default/solo/x\"",
        ),
        (
            "oomKill: {pod: /solo}",
            "spec.timeline[0].oomKill.pod",
            "expected namespace/name",
        ),
        (
            "podCrash: {selector: app=web, count: 0}",
            "spec.timeline[0].podCrash.count",
            "expected at least 1",
        ),
        (
            "oomKill: {selector: \"app in web\"}",
            "spec.timeline[0].oomKill.selector",
            "",
        ),
        (
            "oomKill: {selector: \"\"}",
            "spec.timeline[0].oomKill.selector",
            "expected a label selector such as app=web",
        ),
        (
            "podCrash: {pod: default/solo, selector: app=web}",
            "spec.timeline[0].podCrash",
            "expected exactly one of pod (namespace/name) or selector (such as app=web), found 2",
        ),
        (
            "podCrash: {pod: default/solo, count: 2}",
            "spec.timeline[0].podCrash.count",
            "count goes with selector only",
        ),
        (
            "podCrash: {pod: default/solo, exitCode: 300}",
            "spec.timeline[0].podCrash.exitCode",
            "expected an exit code from 0 to 255",
        ),
        (
            "oomKill: {pod: default/other}",
            "spec.timeline[0].oomKill.pod",
            "unknown pod default/other; expected a pod the scenario declares (such as default/solo)",
        ),
        (
            "oomKill: {pod: solo, container: db}",
            "spec.timeline[0].oomKill.container",
            "pod default/solo has no container \"db\"; expected one of app",
        ),
    ];
    for (entry, field, message) in cases {
        let text = format!("{head}    - {{at: 1m, {entry}}}\n{pod}");
        let (path, err) = load_error(&text);
        assert!(err.starts_with(&format!("{}:7:", path.display())), "{err}");
        assert!(err.contains(field), "{entry}: {err}");
        assert!(err.contains(message), "{entry}: {err}");
    }
    // An unknown field is a parse error at its line, naming the field.
    let text = format!("{head}    - {{at: 1m, podCrash: {{pod: solo, signal: 9}}}}\n{pod}");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(dir.path(), "bad.yaml", &text);
    let err = scenario::load(&path, &Components)
        .expect_err("an unknown field")
        .to_string();
    assert!(err.starts_with(&format!("{}:7:", path.display())), "{err}");
    assert!(err.contains("signal"), "{err}");
    // The valid forms load: a declared pod by bare name (namespace default), a selector with
    // a count in another namespace.
    let good = format!(
        "{head}    - {{at: 1m, podCrash: {{pod: solo, exitCode: 0}}}}\n    \
         - {{at: 2m, oomKill: {{selector: \"app=web,tier!=db\", count: 2, namespace: shop}}}}\n{pod}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(dir.path(), "good.yaml", &good);
    let loaded = scenario::load(&path, &Components).expect("loads");
    let described: Vec<String> = loaded
        .timeline
        .iter()
        .map(|a| a.action.describe())
        .collect();
    assert_eq!(
        described,
        vec![
            "crash every container of pod default/solo (exit code 0)",
            "OOM-kill the first container of 2 running pod(s) of shop matching app=web,tier!=db",
        ]
    );
}
