//! Pod faults end to end: `oomKill` and `podCrash` reach the kubelet of the pod's node as the
//! world acting on its container runtime, and the kubelet does what it does with any exit.
//!
//! Common to every test: one node `n1`, applied at 0 s, so its kubelet starts at 0 s and its
//! PLEG relists at every whole second (an exit is seen at the first whole second strictly
//! after it). The image is on the node; sandbox 1 s, container start 500 ms. The apiserver's
//! admission latency and watch delay are 1 ms each. No readiness probe: a container is ready
//! once the relist has seen it running.

use std::sync::Arc;

use kubesim::api::pod::{Pod, PodPhase};
use kubesim::api::{Kind, Object, ObjectKey};
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};

use crate::support::{load_text, web_deployment};

/// A scenario of node n1, `timeline` entries and `manifests` applied at 0 s.
fn world(timeline: &str, manifests: &str, seed: u64) -> Simulation<World> {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: pod-faults}}
spec:
  seed: {seed}
  duration: 10m
  nodePools:
    - name: n
      count: 1
      template:
        allocatable: {{cpu: "8", memory: 32Gi, pods: "110"}}
        images: [{{names: ["web:v1"], sizeBytes: 100000000}}]
  kubelet:
    timing: {{sandbox: {{fixed: 1s}}, imagePull: {{fixed: 2s}}, containerStart: {{fixed: 500ms}}, containerStop: {{fixed: 1s}}}}
  timeline:
{timeline}
{manifests}"#
    );
    world::build(&load_text(&text, &[]), &RunOptions::default())
}

fn secs(s: f64) -> SimTime {
    SimTime::ZERO + SimDuration::from_nanos((s * 1e9).round() as u64)
}

fn pods(sim: &Simulation<World>) -> Vec<Arc<Pod>> {
    sim.model()
        .api()
        .store()
        .iter(Kind::Pod)
        .filter_map(|o| match &**o {
            Object::Pod(p) => Some(Arc::clone(p)),
            _ => None,
        })
        .collect()
}

fn pod(sim: &Simulation<World>, name: &str) -> Arc<Pod> {
    sim.model()
        .api()
        .store()
        .get(Kind::Pod, &ObjectKey::new("default", name))
        .and_then(|o| o.as_pod().cloned())
        .unwrap_or_else(|| panic!("pod {name} exists"))
}

fn ready(p: &Pod) -> bool {
    p.status
        .condition("Ready")
        .is_some_and(|c| c.status == "True")
}

fn lost(sim: &Simulation<World>, at: SimTime) -> f64 {
    let lost = sim
        .model()
        .recorder()
        .convergence()
        .replica_seconds_lost(at);
    lost.iter()
        .find(|(key, _)| key.name == "web")
        .map_or(0.0, |(_, s)| *s)
}

fn errors(sim: &Simulation<World>) -> Vec<Vec<String>> {
    sim.model()
        .kubectl()
        .outcomes()
        .iter()
        .map(|o| o.errors.clone())
        .collect()
}

/// An OOM kill of a Deployment's only pod (restartPolicy Always), twice.
///
/// The pod starts at ~1.5 s and is Ready from the relist at 2 s. First kill at 60 s: the
/// container ends at 60.000 with code 137; the relist at 61 s sees it: the status shows
/// `terminated` (OOMKilled, 137) and Ready False. The container never restarted before, so
/// it has no back-off entry: upstream's `doBackOff` lets it restart in that same sync (and
/// starts the 10 s entry); it starts at 61.5 s and the relist at 62 s sees it running:
/// restartCount 1, `lastState.terminated` OOMKilled 137 finished at 60 s, Ready again.
///
/// Second kill at 120 s: seen at 121 s; the entry (10 s, set at 61 s) holds, and 121 − 120 =
/// 1 s < 10 s, so the container waits in CrashLoopBackOff until 120 + 10 = 130 s (the 10 s
/// initial delay, counted from the exit); it starts at 130.5 s and is Ready from the relist
/// at 131 s: restartCount 2.
///
/// Unready from 61 to 62 s and from 121 to 131 s: 11 s of one replica. The Deployment's
/// availableReplicas follows the pod's Ready condition through the status write, the
/// ReplicaSet's status and the Deployment's, a few ms after each change in both directions,
/// so its replicaSecondsLost grows by 11 s (the lag is the same both ways: exactly 11 s).
/// Nothing is evicted and no pod is created: the pod heals in place.
#[test]
fn an_oom_kill_restarts_the_container_at_once_then_after_the_10_s_back_off() {
    let timeline = "    - {at: 60s, oomKill: {selector: app=web}}\n    \
                    - {at: 120s, oomKill: {selector: app=web}}";
    let mut sim = world(timeline, &web_deployment(1), 1);
    sim.run_until(secs(59.0));
    let [web] = pods(&sim).try_into().expect("one pod");
    let name = web.metadata.name.clone();
    assert!(ready(&web));
    let lost_before = lost(&sim, secs(59.0));
    let created_before = sim
        .model()
        .recorder()
        .healing()
        .created_between(secs(0.0), secs(59.0));

    sim.run_until(secs(60.9));
    assert!(ready(&pod(&sim, &name)), "not seen before the relist");
    sim.run_until(secs(61.2));
    let p = pod(&sim, &name);
    assert!(!ready(&p));
    let c = &p.status.container_statuses[0];
    let t = c.state.terminated.as_ref().expect("terminated");
    assert_eq!((t.exit_code, t.reason.as_str()), (137, "OOMKilled"));
    assert_eq!(t.finished_at, secs(60.0));
    assert_eq!(c.restart_count, 0);

    sim.run_until(secs(62.2));
    let p = pod(&sim, &name);
    assert!(ready(&p));
    let c = &p.status.container_statuses[0];
    assert_eq!(
        c.state.running.as_ref().map(|r| r.started_at),
        Some(secs(61.5))
    );
    let last = c.last_state.terminated.as_ref().expect("lastState");
    assert_eq!((last.exit_code, last.reason.as_str()), (137, "OOMKilled"));
    assert_eq!(last.finished_at, secs(60.0));
    assert_eq!(c.restart_count, 1);

    sim.run_until(secs(125.0));
    let p = pod(&sim, &name);
    assert!(!ready(&p));
    let c = &p.status.container_statuses[0];
    let waiting = c.state.waiting.as_ref().expect("waiting");
    assert_eq!(waiting.reason, "CrashLoopBackOff");
    assert!(
        waiting.message.starts_with("back-off 10s"),
        "{}",
        waiting.message
    );
    assert_eq!(
        c.last_state
            .terminated
            .as_ref()
            .map(|t| (t.reason.as_str(), t.finished_at)),
        Some(("OOMKilled", secs(120.0)))
    );
    sim.run_until(secs(130.9));
    assert!(!ready(&pod(&sim, &name)));
    sim.run_until(secs(131.2));
    let p = pod(&sim, &name);
    assert!(ready(&p));
    let c = &p.status.container_statuses[0];
    assert_eq!(
        c.state.running.as_ref().map(|r| r.started_at),
        Some(secs(130.5))
    );
    assert_eq!(c.restart_count, 2);

    sim.run_until(secs(140.0));
    let grown = lost(&sim, secs(140.0)) - lost_before;
    assert!(
        (grown - 11.0).abs() < 1e-3,
        "replicaSecondsLost grew by {grown}"
    );
    let healing = sim.model().recorder().healing();
    assert_eq!(healing.evicted(), 0);
    assert_eq!(healing.created_between(secs(59.0), secs(140.0)), 0);
    assert_eq!(created_before, 1);
    // Each outcome names the pod it hit, and none failed.
    let outcomes = sim.model().kubectl().outcomes();
    assert!(
        outcomes[1]
            .description
            .ends_with(&format!("matching app=web: default/{name}")),
        "{}",
        outcomes[1].description
    );
    assert!(errors(&sim).iter().all(Vec::is_empty));
}

fn solo(name: &str, policy: &str, containers: &[&str]) -> String {
    let list: Vec<String> = containers
        .iter()
        .map(|c| format!("{{name: {c}, image: \"web:v1\"}}"))
        .collect();
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  \
         nodeName: n-0\n  restartPolicy: {policy}\n  containers: [{}]\n",
        list.join(", ")
    )
}

/// podCrash on pods that are not restarted. Each pod is bound to n-0 from the start: created
/// at 0.001 s (admission 1 ms), taken on by the kubelet's list then, it runs from 1.501 s
/// (sandbox 1 s, container 0.5 s; a second container starts 0.5 s after the first). At 30 s:
/// * `never` (restartPolicy Never) crashes with code 3: seen at 31 s, its only container is
///   done, so the pod is Failed (upstream's getPhase: every container terminated, one
///   failed); `terminated` exit 3, reason Error, finished at 30 s; restartCount 0.
/// * `zero` (Never) exits 0: every container terminated with 0 → Succeeded, reason Completed.
/// * `onfail` (OnFailure) exits 0: not restarted either (a success) → Succeeded.
/// * `pair` (Never, two containers) loses `a` only: `b` still runs, so the pod stays Running
///   (getPhase: a running container), not Ready (`a` is not).
#[test]
fn a_crash_with_restart_policy_never_ends_the_pod_as_upstream_s_phase_rules_say() {
    let manifests = [
        solo("never", "Never", &["app"]),
        solo("zero", "Never", &["app"]),
        solo("onfail", "OnFailure", &["app"]),
        solo("pair", "Never", &["a", "b"]),
    ]
    .concat();
    let timeline = "    - {at: 30s, podCrash: {pod: default/never, exitCode: 3}}\n    \
                    - {at: 30s, podCrash: {pod: zero, exitCode: 0}}\n    \
                    - {at: 30s, podCrash: {pod: default/onfail, exitCode: 0}}\n    \
                    - {at: 30s, podCrash: {pod: default/pair, container: a}}";
    let mut sim = world(timeline, &manifests, 1);
    sim.run_until(secs(29.0));
    for name in ["never", "zero", "onfail", "pair"] {
        let p = pod(&sim, name);
        assert_eq!(p.status.phase, PodPhase::Running, "{name}");
        assert!(ready(&p), "{name}");
    }
    sim.run_until(secs(30.9));
    assert_eq!(pod(&sim, "never").status.phase, PodPhase::Running);
    sim.run_until(secs(32.0));
    let expect = [
        ("never", PodPhase::Failed, 3, "Error"),
        ("zero", PodPhase::Succeeded, 0, "Completed"),
        ("onfail", PodPhase::Succeeded, 0, "Completed"),
    ];
    for (name, phase, code, reason) in expect {
        let p = pod(&sim, name);
        assert_eq!(p.status.phase, phase, "{name}");
        assert!(!ready(&p), "{name}");
        let c = &p.status.container_statuses[0];
        let t = c.state.terminated.as_ref().expect("terminated");
        assert_eq!((t.exit_code, t.reason.as_str()), (code, reason), "{name}");
        assert_eq!(
            (t.started_at, t.finished_at),
            (secs(1.501), secs(30.0)),
            "{name}"
        );
        assert_eq!(c.restart_count, 0, "{name}");
    }
    let pair = pod(&sim, "pair");
    assert_eq!(pair.status.phase, PodPhase::Running);
    assert!(!ready(&pair));
    let states: Vec<(bool, bool)> = pair
        .status
        .container_statuses
        .iter()
        .map(|c| (c.state.terminated.is_some(), c.state.running.is_some()))
        .collect();
    assert_eq!(states, vec![(true, false), (false, true)]);
    // Nothing restarts later.
    sim.run_until(secs(120.0));
    assert_eq!(pod(&sim, "never").status.phase, PodPhase::Failed);
    assert!(errors(&sim).iter().all(Vec::is_empty));
}

/// The pods a selector's fault hit, by the containers that ended with `code`.
fn crashed(sim: &Simulation<World>, code: i32) -> Vec<String> {
    pods(sim)
        .iter()
        .filter(|p| {
            p.status.container_statuses.iter().any(|c| {
                [&c.state.terminated, &c.last_state.terminated]
                    .into_iter()
                    .flatten()
                    .any(|t| t.exit_code == code)
            })
        })
        .map(|p| p.metadata.name.clone())
        .collect()
}

/// A selector picks `count` distinct running pods, and the same ones for the same seed: the
/// draws come from the seeded stream `faults/pod-choice`, over the matching pods in name
/// order. 6 replicas; a crash of 3 at 60 s with code 42 (each restarted at once: the relist
/// at 61 s sees it, the restart runs from 61.5 s).
#[test]
fn a_selector_picks_the_same_distinct_running_pods_for_the_same_seed() {
    let timeline = "    - {at: 60s, podCrash: {selector: app=web, count: 3, exitCode: 42}}";
    let run = |seed| {
        let mut sim = world(timeline, &web_deployment(6), seed);
        sim.run_until(secs(63.0));
        let hit = crashed(&sim, 42);
        let description = sim.model().kubectl().outcomes()[1].description.clone();
        let restarts: Vec<i32> = pods(&sim)
            .iter()
            .map(|p| p.status.container_statuses[0].restart_count)
            .collect();
        (hit, description, restarts, errors(&sim))
    };
    let (hit, description, restarts, errs) = run(7);
    assert_eq!(hit.len(), 3, "{hit:?}");
    let listed: Vec<String> = hit.iter().map(|n| format!("default/{n}")).collect();
    assert!(description.ends_with(&listed.join(", ")), "{description}");
    assert_eq!(restarts.iter().filter(|&&r| r == 1).count(), 3);
    assert_eq!(restarts.iter().filter(|&&r| r == 0).count(), 3);
    assert!(errs.iter().all(Vec::is_empty));
    assert_eq!(run(7).0, hit);
    // Over a few seeds the choice varies (generated names vary too, so compare positions in
    // name order).
    let positions = |seed| {
        let mut sim = world(timeline, &web_deployment(6), seed);
        sim.run_until(secs(63.0));
        let hit = crashed(&sim, 42);
        let mut names: Vec<String> = pods(&sim).iter().map(|p| p.metadata.name.clone()).collect();
        names.sort();
        names
            .iter()
            .enumerate()
            .filter(|(_, n)| hit.contains(n))
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    };
    let first = positions(1);
    assert!((2..8).any(|seed| positions(seed) != first));
}

/// A fault that cannot hit what it asks for is the action's error, and the run goes on:
/// * at 20 s, `late` is not running: pinned to a node too small for it, the kubelet rejected
///   it (phase Failed);
/// * at 30 s, 5 pods of app=web are asked for and only 2 run: both are hit (code 1, restarted
///   at once), and the shortfall is the error;
/// * at 30 s, `solo` (restartPolicy Never) crashes; at 30.2 s an OOM kill of it finds its
///   container gone — the API still says Running, since the relist that sees the exit is at
///   31 s, but the runtime has nothing to kill;
/// * at 40 s, no pod matches app=none.
#[test]
fn a_fault_that_cannot_hit_is_the_action_s_error() {
    let big = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: late, namespace: default}\n\
               spec:\n  nodeName: n-0\n  containers: [{name: app, image: \"web:v1\", \
               resources: {requests: {cpu: \"64\"}}}]\n";
    let timeline = "    - {at: 20s, oomKill: {pod: default/late}}\n    \
                    - {at: 30s, podCrash: {selector: app=web, count: 5}}\n    \
                    - {at: 30s, podCrash: {pod: default/solo, container: app}}\n    \
                    - {at: 30.2s, oomKill: {pod: default/solo}}\n    \
                    - {at: 40s, podCrash: {selector: app=none}}";
    let manifests = format!(
        "{}{}{big}",
        web_deployment(2),
        solo("solo", "Never", &["app"])
    );
    let mut sim = world(timeline, &manifests, 1);
    sim.run_until(secs(60.0));
    assert_eq!(pod(&sim, "late").status.phase, PodPhase::Failed);
    let errs = errors(&sim);
    // Action 0 is the initial apply.
    assert_eq!(
        errs[1..],
        [
            vec!["pod default/late is not running (phase Failed)".to_string()],
            vec![
                "only 2 running pod(s) in namespace default match app=web; expected 5".to_string()
            ],
            vec![],
            // solo crashed at 30 s with restartPolicy Never: the API still says Running
            // until the relist at 31 s, but its container is gone.
            vec!["container \"app\" of pod default/solo is not running".to_string()],
            vec![
                "only 0 running pod(s) in namespace default match app=none; expected 1".to_string()
            ],
        ]
    );
    assert_eq!(crashed(&sim, 1).len(), 3, "both web pods and solo");
}
