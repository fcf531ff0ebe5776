//! The kubelet end to end: a node's pods started, probed, restarted and terminated through
//! the apiserver, their status written, the node's status and lease kept, with fixed step
//! durations so every expected time can be worked out by hand.
//!
//! Common to every test unless it says otherwise: one node `n1`, applied at 0 s, so its
//! kubelet starts at 0 s and its PLEG relists at every whole second (a container's start or
//! exit is seen at the first whole second strictly after it). The apiserver's admission
//! latency and watch delay are 1 ms each: a pod created at 10 s commits at 10.001 s and its
//! kubelet sees it at 10.002 s. The timing model is fixed: sandbox 1 s, image pull 4 s,
//! container start 500 ms, container stop 2 s.

use std::sync::Arc;

use kubesim::api::pod::{Pod, PodPhase};
use kubesim::api::{Kind, Object, ObjectKey};
use kubesim::apiserver::{ChangeType, Verb};
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};

use crate::support::{fixture, load};

const SCENARIO_HEAD: &str = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: kubelet}
spec:
  duration: 20m
  kubelet:
    timing:
      sandbox: {fixed: 1s}
      imagePull: {fixed: 4s}
      containerStart: {fixed: 500ms}
      containerStop: {fixed: 2s}
    imageSizes: {"big:v1": 500Mi}
"#;

const NODE: &str = r#"---
apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
  images: [{names: ["cached:v1"], sizeBytes: 100000000}]
"#;

/// A world of the common head, `extra_spec` lines added to the Scenario's `spec`, the node,
/// and `pods` applied at 10 s (from a file beside the scenario).
fn world_with(extra_spec: &str, pods: &str) -> Simulation<World> {
    let text = format!(
        "{SCENARIO_HEAD}{extra_spec}  timeline:\n    - {{at: 10s, apply: pods.yaml}}\n{NODE}"
    );
    let (_dir, path) = fixture("scenario.yaml", &text, &[("pods.yaml", pods)]);
    let scenario = load(&path);
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    world::build(&scenario, &options)
}

/// `s` seconds and `ms` milliseconds.
fn at(s: u64, ms: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(s * 1000 + ms)
}

fn pod(sim: &Simulation<World>, name: &str) -> Option<Arc<Pod>> {
    let key = ObjectKey::new("default", name);
    sim.model()
        .api()
        .store()
        .get(Kind::Pod, &key)
        .and_then(|o| o.as_pod().cloned())
}

fn pod_at(sim: &mut Simulation<World>, t: SimTime, name: &str) -> Arc<Pod> {
    sim.run_until(t);
    pod(sim, name).unwrap_or_else(|| panic!("pod {name} exists at {t}"))
}

/// The start time of the pod's first container as its status shows it, if running.
fn running_since(p: &Pod) -> Option<SimTime> {
    p.status
        .container_statuses
        .first()
        .and_then(|c| c.state.running.as_ref())
        .map(|r| r.started_at)
}

fn ready_since(p: &Pod) -> Option<SimTime> {
    p.status.ready_since()
}

/// A pod manifest pinned to n1 (bound at creation) unless `pinned` is false.
fn pod_manifest(name: &str, pinned: bool, image: &str, extra: &str) -> String {
    let node = if pinned { "\n  nodeName: n1" } else { "" };
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:{node}\n{extra}  containers:\n    - name: app\n      image: \"{image}\"\n      resources: {{requests: {{cpu: 100m}}}}\n"
    )
}

#[test]
fn a_pod_starts_as_a_chain_of_steps_and_is_ready_at_its_probe() {
    // web: unbound, scheduled by kube-scheduler; image app:v1 not on the node; a readiness
    // probe every 10 s, passing 3 s after the container starts.
    let pods = r#"apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations: {kubesim.io/ready-after: 3s}
spec:
  containers:
    - name: app
      image: "app:v1"
      readinessProbe: {periodSeconds: 10, httpGet: {path: /healthz, port: 80}}
"#;
    let mut sim = world_with("", pods);
    let p = pod_at(&mut sim, at(12, 0), "web");
    // Created at 10.001 s; bound by the scheduler at T_b; the kubelet sees the binding at
    // T_k = T_b + 1 ms, which is the pod's startTime.
    assert_eq!(p.metadata.creation_timestamp, at(10, 1));
    let scheduled = p
        .status
        .condition("PodScheduled")
        .map(|c| c.last_transition_time)
        .expect("scheduled");
    let seen = scheduled + SimDuration::from_millis(1);
    assert_eq!(p.status.start_time, Some(seen));
    assert_eq!(p.status.phase, PodPhase::Pending);
    let waiting = p.status.container_statuses[0].state.waiting.as_ref();
    assert_eq!(
        waiting.map(|w| w.reason.as_str()),
        Some("ContainerCreating")
    );
    // Sandbox 1 s, pull 4 s, start 500 ms: the container runs from T_k + 5.5 s (≈ 15.5 s);
    // the PLEG sees it at the next whole second, 16 s, and the status says Running then.
    let started = seen + SimDuration::from_millis(5500);
    assert!(started > at(15, 0) && started < at(16, 0), "{started}");
    let p = pod_at(&mut sim, at(15, 999), "web");
    assert_eq!(p.status.phase, PodPhase::Pending);
    let p = pod_at(&mut sim, at(16, 2), "web");
    assert_eq!(p.status.phase, PodPhase::Running);
    assert_eq!(running_since(&p), Some(started));
    assert_eq!(p.status.container_statuses[0].started, Some(true));
    // The readiness worker ticks from T_k (the kubelet has run for more than a period, so
    // without a random offset): T_k, T_k + 10 s, … The sync at 16 s triggers a probe at once:
    // 16 < started + 3 s ≈ 18.5 s, a failure. The tick at T_k + 10 s (≈ 20.003 s) passes:
    // Ready then.
    assert_eq!(ready_since(&p), None);
    let p = pod_at(&mut sim, seen + SimDuration::from_millis(10_002), "web");
    assert_eq!(ready_since(&p), Some(seen + SimDuration::from_secs(10)));
    assert!(p.status.container_statuses[0].ready);
}

#[test]
fn readiness_waits_for_its_success_threshold() {
    // Pinned: T_k = 10.002 s, runs from 11.502 s (no pull), seen at 12 s. Ready from
    // 11.502 + 12 = 23.502 s on; probes every 5 s from T_k with successThreshold 3: the ticks
    // at 25.002, 30.002 and 35.002 s succeed, so Ready at 35.002 s — not at the first success.
    let pods = pod_manifest(
        "web",
        true,
        "cached:v1",
        "",
    )
    .replace(
        "name: web\n",
        "name: web\n  annotations: {kubesim.io/ready-after: 12s}\n",
    )
    .replace(
        "resources: {requests: {cpu: 100m}}\n",
        "resources: {requests: {cpu: 100m}}\n      readinessProbe: {periodSeconds: 5, successThreshold: 3, failureThreshold: 2}\n",
    );
    let mut sim = world_with("", &pods);
    let p = pod_at(&mut sim, at(34, 0), "web");
    assert_eq!(running_since(&p), Some(at(11, 502)));
    assert_eq!(ready_since(&p), None);
    let ready = p.status.condition("Ready").expect("a Ready condition");
    assert_eq!(ready.reason, "ContainersNotReady");
    assert_eq!(ready.message, "containers with unready status: [app]");
    let p = pod_at(&mut sim, at(35, 10), "web");
    assert_eq!(ready_since(&p), Some(at(35, 2)));
}

#[test]
fn a_failed_liveness_probe_restarts_the_container() {
    // Runs from S1 = 11.502 s; liveness ticks every 10 s from T_k = 10.002 s, failing from
    // S1 + 25 s = 36.502 s: failures at 40.002, 50.002, 60.002 s → the third reaches
    // failureThreshold 3: killed at 60.002 s, stopped 2 s later (within the 30 s grace
    // period: exit code 0), restarted at once (no earlier exit, so no back-off): the new
    // container runs from 62.502 s and is seen at 63 s.
    let pods = pod_manifest("web", true, "cached:v1", "")
        .replace(
            "name: web\n",
            "name: web\n  annotations: {kubesim.io/liveness-fails-after: 25s}\n",
        )
        .replace(
            "resources: {requests: {cpu: 100m}}\n",
            "resources: {requests: {cpu: 100m}}\n      livenessProbe: {periodSeconds: 10, failureThreshold: 3}\n",
        );
    let mut sim = world_with("", &pods);
    let p = pod_at(&mut sim, at(62, 900), "web");
    assert_eq!(p.status.container_statuses[0].restart_count, 0);
    let p = pod_at(&mut sim, at(63, 2), "web");
    let status = &p.status.container_statuses[0];
    assert_eq!(status.restart_count, 1);
    assert_eq!(running_since(&p), Some(at(62, 502)));
    let last = status.last_state.terminated.as_ref().expect("lastState");
    assert_eq!((last.exit_code, last.finished_at), (0, at(62, 2)));
    assert_eq!(last.started_at, at(11, 502));
    // The second container fails from 62.502 + 25 = 87.502 s: ticks 90.002, 100.002,
    // 110.002 s → killed at 110.002, stopped at 112.002 s. The kubelet's back-off looks at
    // the exit before (62.002 s), 50 s old: not held, restarted at once → 112.502 s.
    let p = pod_at(&mut sim, at(113, 2), "web");
    assert_eq!(p.status.container_statuses[0].restart_count, 2);
    assert_eq!(running_since(&p), Some(at(112, 502)));
}

#[test]
fn a_startup_probe_holds_the_liveness_probe_back() {
    // Runs from 11.502 s, seen at 12 s. The startup probe (every 5 s from 10.002 s) passes
    // from 11.502 + 20 = 31.502 s: failures at 15.002 … 30.002 s (four, below failureThreshold
    // 10), success at 35.002 s: started then. The liveness probe fails from the start, but
    // counts only once the container has started: ticks 40.002, 50.002, 60.002 s → killed at
    // 60.002 s, restarted at 62.502 s. (Without the startup probe it would have been killed at
    // the third tick after 12 s: 40.002 s.)
    let pods = pod_manifest("web", true, "cached:v1", "")
        .replace(
            "name: web\n",
            "name: web\n  annotations: {kubesim.io/started-after: 20s, kubesim.io/liveness-fails-after: 0s}\n",
        )
        .replace(
            "resources: {requests: {cpu: 100m}}\n",
            "resources: {requests: {cpu: 100m}}\n      startupProbe: {periodSeconds: 5, failureThreshold: 10}\n      livenessProbe: {periodSeconds: 10, failureThreshold: 3}\n",
        );
    let mut sim = world_with("", &pods);
    let p = pod_at(&mut sim, at(34, 0), "web");
    assert_eq!(p.status.container_statuses[0].started, Some(false));
    assert_eq!(ready_since(&p), None, "not started, not ready");
    let p = pod_at(&mut sim, at(35, 10), "web");
    assert_eq!(p.status.container_statuses[0].started, Some(true));
    assert_eq!(ready_since(&p), Some(at(35, 2)));
    let p = pod_at(&mut sim, at(60, 0), "web");
    assert_eq!(p.status.container_statuses[0].restart_count, 0);
    let p = pod_at(&mut sim, at(63, 2), "web");
    assert_eq!(p.status.container_statuses[0].restart_count, 1);
    assert_eq!(running_since(&p), Some(at(62, 502)));
}

#[test]
fn crash_loop_back_off_waits_10_20_40_80_160_300_300_seconds() {
    // A container that exits with code 1 one second after every start (restartPolicy
    // Always). Start k runs from S_k, exits at E_k = S_k + 1 s, is seen by a relist at a whole
    // second (the one set at the start, when the exit falls on it); the back-off counts from
    // E_k whenever it is seen; a restart takes 500 ms to start.
    //   S1 = 11.502 (T_k 10.002 + sandbox 1 + start 0.5), E1 = 12.502, R1 = 13: no back-off
    //        entry yet → restart at once (entry 10 s):            S2 = 13.5
    //   E2 = 14.5, R2 = 15: 0.5 s < 10 s → CrashLoopBackOff until E2 + 10 = 24.5 (entry 20 s):
    //                                                            S3 = 25.0
    //   E3 = 26.0 (seen at 26) → until 46.0  (entry 40 s)         S4 = 46.5
    //   E4 = 47.5 → until 87.5  (entry 80 s)                     S5 = 88.0
    //   E5 = 89.0 → until 169.0 (entry 160 s)                    S6 = 169.5
    //   E6 = 170.5 → until 330.5 (entry 320 s, capped at 300 s)  S7 = 331.0
    //   E7 = 332.0 → until 632.0                                 S8 = 632.5
    //   E8 = 633.5 → until 933.5                                 S9 = 934.0
    // So the waits from an exit to its restart are 10, 20, 40, 80, 160, 300, 300 s after the
    // first restart, which is at once (only the PLEG's 0.498 s).
    let pods = pod_manifest("crashy", true, "cached:v1", "").replace(
        "name: crashy\n",
        "name: crashy\n  annotations: {kubesim.io/exit-after: 1s, kubesim.io/exit-code: \"1\"}\n",
    );
    let mut sim = world_with("", &pods);
    // Every run shows in the status one way or another: running, or ended (state or
    // lastState). A run that ends on a relist's instant is only ever seen ended (S3 = 25 s
    // starts on one relist, ends at 26 s as the next one looks).
    let mut starts: Vec<SimTime> = Vec::new();
    let mut exits: Vec<SimTime> = Vec::new();
    let mut t = at(11, 0);
    while t < at(940, 0) {
        let p = pod_at(&mut sim, t, "crashy");
        let c = &p.status.container_statuses[0];
        let ended = [
            c.state.terminated.as_ref(),
            c.last_state.terminated.as_ref(),
        ];
        for run in ended.into_iter().flatten() {
            assert_eq!(run.exit_code, 1);
            starts.push(run.started_at);
            exits.push(run.finished_at);
        }
        starts.extend(running_since(&p));
        t += SimDuration::from_millis(250);
    }
    starts.sort();
    starts.dedup();
    exits.sort();
    exits.dedup();
    let ms = |s: &[SimTime]| -> Vec<u64> {
        s.iter()
            .map(|t| t.since_start().as_nanos() / 1_000_000)
            .collect()
    };
    assert_eq!(
        ms(&starts),
        vec![
            11_502, 13_500, 25_000, 46_500, 88_000, 169_500, 331_000, 632_500, 934_000
        ]
    );
    let waits: Vec<u64> = starts[1..]
        .iter()
        .zip(&exits)
        .map(|(s, e)| (*s - *e).as_nanos() / 1_000_000 - 500)
        .collect();
    assert_eq!(
        waits,
        vec![
            498, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000
        ]
    );
    // During a back-off the container waits as CrashLoopBackOff, its last run shown.
    let p = pod_at(&mut sim, at(940, 0), "crashy");
    assert_eq!(p.status.phase, PodPhase::Running);
    let mut sim = world_with("", &pods);
    let p = pod_at(&mut sim, at(20, 0), "crashy");
    let c = &p.status.container_statuses[0];
    let waiting = c.state.waiting.as_ref().expect("waiting");
    assert_eq!(waiting.reason, "CrashLoopBackOff");
    assert!(
        waiting
            .message
            .starts_with("back-off 10s restarting failed container=app pod=crashy_default("),
        "{}",
        waiting.message
    );
    assert_eq!(c.restart_count, 1);
    assert_eq!(
        c.last_state.terminated.as_ref().map(|t| t.finished_at),
        Some(at(14, 500))
    );
}

#[test]
fn graceful_termination_ends_with_the_kubelet_s_final_delete() {
    // Two running pods deleted at 60 s: the delete commits at 60.001 s (deletionTimestamp =
    // 60.001 + grace) and the kubelet sees it at 60.002 s and stops the containers.
    // * calm: grace 30 s, stops in 2 s → stopped at 62.002 s, exit 0: Succeeded. The status
    //   write commits at 62.003 s, then the final delete (grace 0) at 62.004 s.
    // * stubborn: grace 1 s < 2 s → killed at 61.002 s, exit 137: Failed; deleted at
    //   61.004 s. The kill took the grace period, never more.
    let pods = format!(
        "{}{}",
        pod_manifest("calm", true, "cached:v1", ""),
        pod_manifest(
            "stubborn",
            true,
            "cached:v1",
            "  terminationGracePeriodSeconds: 1\n"
        )
    );
    let text = format!(
        "{SCENARIO_HEAD}  timeline:\n    - {{at: 10s, apply: pods.yaml}}\n    - {{at: 60s, delete: {{pod: default/calm}}}}\n    - {{at: 60s, delete: {{pod: default/stubborn}}}}\n{NODE}"
    );
    let (_dir, path) = fixture("scenario.yaml", &text, &[("pods.yaml", &pods)]);
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    let mut sim = world::build(&load(&path), &options);
    let p = pod_at(&mut sim, at(60, 3), "calm");
    assert_eq!(p.metadata.deletion_timestamp, Some(at(90, 1)));
    assert_eq!(p.status.phase, PodPhase::Running, "still stopping");
    let p = pod_at(
        &mut sim,
        at(61, 3) + SimDuration::from_micros(500),
        "stubborn",
    );
    assert_eq!(p.status.phase, PodPhase::Failed);
    let exit = p.status.container_statuses[0].state.terminated.as_ref();
    assert_eq!(
        exit.map(|t| (t.exit_code, t.finished_at)),
        Some((137, at(61, 2)))
    );
    let p = pod_at(&mut sim, at(62, 3) + SimDuration::from_micros(500), "calm");
    assert_eq!(p.status.phase, PodPhase::Succeeded);
    let exit = p.status.container_statuses[0].state.terminated.as_ref();
    assert_eq!(
        exit.map(|t| (t.exit_code, t.reason.as_str())),
        Some((0, "Completed"))
    );
    sim.run_until(at(70, 0));
    assert!(pod(&sim, "calm").is_none() && pod(&sim, "stubborn").is_none());
    let deletes: Vec<(String, SimTime, String)> = sim
        .model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == Kind::Pod && w.change == ChangeType::Deleted)
        .map(|w| (w.key.name.clone(), w.at, w.user.clone()))
        .collect();
    assert_eq!(
        deletes,
        vec![
            (
                "stubborn".to_string(),
                at(61, 4),
                "system:node:n1".to_string()
            ),
            ("calm".to_string(), at(62, 4), "system:node:n1".to_string()),
        ]
    );
}

#[test]
fn image_pulls_are_serialized_and_a_present_image_is_not_pulled() {
    // Four pods seen at 10.002 s, sandboxes up at 11.002 s, in order:
    //   a (big:v1): pulls 11.002 → 15.002, runs from 15.502 s;
    //   b (big2:v1): its pull waits for a's (serialized): 15.002 → 19.002, runs 19.502 s;
    //   c (cached:v1): on the node already, runs from 11.502 s;
    //   d (big:v1): waits for a's pull of the same image, runs from 15.502 s.
    // With serializeImagePulls: false, b pulls from 11.002 s too and runs from 15.502 s.
    let pods = ["a big:v1", "b big2:v1", "c cached:v1", "d big:v1"]
        .iter()
        .map(|spec| {
            let (name, image) = spec.split_once(' ').expect("name image");
            pod_manifest(name, true, image, "")
        })
        .collect::<String>();
    let runs = |sim: &mut Simulation<World>| -> Vec<u64> {
        sim.run_until(at(25, 0));
        ["a", "b", "c", "d"]
            .iter()
            .map(|n| {
                let p = pod(sim, n).expect("pod");
                running_since(&p).map_or(0, |t| t.since_start().as_nanos() / 1_000_000)
            })
            .collect()
    };
    let mut serialized = world_with("", &pods);
    assert_eq!(runs(&mut serialized), vec![15_502, 19_502, 11_502, 15_502]);
    let mut parallel = world_with("    serializeImagePulls: false\n", &pods);
    assert_eq!(runs(&mut parallel), vec![15_502, 15_502, 11_502, 15_502]);
    // The pulled images join the node's status.images, largest first: big:v1 (500Mi, from
    // imageSizes), big2:v1 (the default 200Mi), cached:v1 (100 MB, as the node declared).
    serialized.run_until(at(40, 0));
    let node = serialized
        .model()
        .api()
        .store()
        .get(Kind::Node, &ObjectKey::cluster("n1"))
        .and_then(|o| o.as_node().cloned())
        .expect("node");
    let images: Vec<(String, i64)> = node
        .status
        .images
        .iter()
        .map(|i| (i.names[0].clone(), i.size_bytes))
        .collect();
    assert_eq!(
        images,
        vec![
            ("big:v1".to_string(), 500 * 1024 * 1024),
            ("big2:v1".to_string(), 200 * 1024 * 1024),
            ("cached:v1".to_string(), 100_000_000),
        ]
    );
}

/// The times of the kubelet's writes of `kind` in `world`.
fn kubelet_writes(world: &World, kind: Kind) -> Vec<SimTime> {
    world
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == kind && w.user == "system:node:n1")
        .map(|w| w.at)
        .collect()
}

#[test]
fn node_status_is_checked_every_10_s_and_written_on_change_or_every_5_min() {
    // The kubelet sees its node at 0.001 s (its list) and writes the status at once (the
    // node has no conditions yet): committed at 0.002 s. After that it checks every 10 s
    // (+ up to 4 % jitter) and writes only when the status changed or 5 minutes passed since
    // its last report. A pod at 400 s pulls big:v1 (done 405.002 s): the next check, at most
    // 10.4 s later, writes the new image list.
    let pods = pod_manifest("web", true, "big:v1", "");
    let text = format!("{SCENARIO_HEAD}  timeline:\n    - {{at: 400s, apply: pods.yaml}}\n{NODE}");
    let (_dir, path) = fixture("scenario.yaml", &text, &[("pods.yaml", &pods)]);
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    let mut sim = world::build(&load(&path), &options);
    sim.run_until(at(1000, 0));
    let writes = kubelet_writes(sim.model(), Kind::Node);
    assert_eq!(writes[0], at(0, 2));
    // 300 s after the first report, at the first check from then: within one check period.
    let second = writes[1] - writes[0];
    assert!(
        second >= SimDuration::from_secs(300) && second <= SimDuration::from_millis(310_400),
        "{second}"
    );
    // The image pulled for web: written at the first check after 405.002 s.
    assert!(
        writes[2] > at(405, 2) && writes[2] <= at(415, 402),
        "{}",
        writes[2]
    );
    // Then nothing until 5 minutes after that report.
    let fourth = writes[3] - writes[2];
    assert!(
        fourth >= SimDuration::from_secs(300) && fourth <= SimDuration::from_millis(310_400),
        "{fourth}"
    );
    assert_eq!(writes.len(), 4, "{writes:?}");
    let node = sim
        .model()
        .api()
        .store()
        .get(Kind::Node, &ObjectKey::cluster("n1"))
        .and_then(|o| o.as_node().cloned())
        .expect("node");
    let ready = node.status.conditions.iter().find(|c| c.type_ == "Ready");
    assert_eq!(
        ready.map(|c| (c.status.as_str(), c.reason.as_str())),
        Some(("True", "KubeletReady"))
    );
}

#[test]
fn the_node_lease_is_renewed_every_10_s() {
    // At 0.001 s the kubelet gets kube-node-lease/n1 (404 at 0.002 s) and creates it
    // (committed 0.003 s). Each renewal is due 10 s (+ up to 4 % jitter) after the previous
    // one returned, and commits 1 ms after it is sent: 10.001–10.401 s apart.
    let mut sim = world_with("", "");
    sim.run_until(at(300, 0));
    let writes: Vec<(Verb, SimTime)> = sim
        .model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == Kind::Lease)
        .map(|w| (w.verb, w.at))
        .collect();
    assert_eq!(writes[0], (Verb::Create, at(0, 3)));
    assert!(writes[1..].iter().all(|(verb, _)| *verb == Verb::Update));
    for pair in writes.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(
            gap >= SimDuration::from_millis(10_001) && gap < SimDuration::from_millis(10_401),
            "{gap}"
        );
    }
    // 300 s / 10–10.4 s: 28 or 29 renewals after the create.
    assert!((28..=30).contains(&(writes.len() - 1)), "{}", writes.len());
    let lease = sim
        .model()
        .api()
        .store()
        .get(Kind::Lease, &ObjectKey::new("kube-node-lease", "n1"))
        .cloned()
        .expect("the lease");
    let Object::Lease(lease) = &*lease else {
        panic!("a Lease");
    };
    assert_eq!(lease.spec.holder_identity, "n1");
    assert_eq!(lease.spec.lease_duration_seconds, 40);
    assert_eq!(lease.metadata.owner_references[0].kind, "Node");
}

#[test]
fn the_kubelet_rejects_a_pod_that_does_not_fit() {
    // Both pinned to n1 (4 CPU): big takes 3 CPU, then huge asks for 2: 2000 > 4000 − 3000.
    // The scheduler never checked (nodeName was set); the kubelet's admission refuses it.
    let pods = format!(
        "{}{}",
        pod_manifest("big", true, "cached:v1", "").replace("cpu: 100m", "cpu: \"3\""),
        pod_manifest("huge", true, "cached:v1", "").replace("cpu: 100m", "cpu: \"2\"")
    );
    let mut sim = world_with("", &pods);
    let p = pod_at(&mut sim, at(11, 0), "huge");
    assert_eq!(p.status.phase, PodPhase::Failed);
    assert_eq!(p.status.reason, "OutOfcpu");
    assert_eq!(
        p.status.message,
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 2000, used: \
         3000, capacity: 4000"
    );
    let big = pod_at(&mut sim, at(13, 0), "big");
    assert_eq!(big.status.phase, PodPhase::Running);
    // A rejected pod is terminal: deleting it removes it at once, no kubelet needed.
    assert!(pod(&sim, "huge").is_some_and(|p| p.is_terminal()));
}

#[test]
fn a_scenario_without_kubelets_leaves_pods_as_bound() {
    let pods = pod_manifest("web", true, "cached:v1", "");
    let mut sim = world_with("    enabled: false\n", &pods);
    let p = pod_at(&mut sim, at(60, 0), "web");
    assert_eq!(p.status.phase, PodPhase::Pending);
    assert!(p.status.container_statuses.is_empty());
    assert!(sim.model().kubelets().is_none());
}

#[test]
fn kubelet_settings_errors_name_the_field_and_line() {
    let text = SCENARIO_HEAD.replace(
        "sandbox: {fixed: 1s}",
        "sandbox: {uniform: {min: 2s, max: 1s}}",
    );
    let (_dir, path) = fixture("scenario.yaml", &text, &[]);
    let err = kubesim::scenario::load(&path, &kubesim::world::Components)
        .expect_err("min > max")
        .to_string();
    assert!(err.contains("scenario.yaml:8:"), "{err}");
    assert!(err.contains("spec.kubelet.timing.sandbox"), "{err}");
    assert!(err.contains("expected min ≤ max"), "{err}");
    let text = SCENARIO_HEAD.replace("imagePull:", "imagePulls:");
    let (_dir, path) = fixture("scenario.yaml", &text, &[]);
    let err = kubesim::scenario::load(&path, &kubesim::world::Components)
        .expect_err("unknown field")
        .to_string();
    assert!(err.contains("scenario.yaml:9:"), "{err}");
    assert!(err.contains("imagePulls"), "{err}");
    // A behaviour annotation that does not parse is refused where it is written.
    let pods = pod_manifest("web", true, "cached:v1", "").replace(
        "name: web\n",
        "name: web\n  annotations: {kubesim.io/exit-after: soon}\n",
    );
    let text = format!("{SCENARIO_HEAD}{NODE}{pods}");
    let (_dir, path) = fixture("scenario.yaml", &text, &[]);
    let err = kubesim::scenario::load(&path, &kubesim::world::Components)
        .expect_err("not a duration")
        .to_string();
    assert!(err.contains("metadata.annotations"), "{err}");
    assert!(
        err.contains("kubesim.io/exit-after: expected a duration such as 30s, found \"soon\""),
        "{err}"
    );
}

#[test]
fn restart_policy_decides_what_an_exit_does() {
    // Each app container runs from 11.502 s (seen at 12 s).
    // * job (Never): exits 0 after 5 s, at 16.502 s, seen at 17 s: Succeeded, not restarted.
    // * broken (Never): exits 3 at 16.502 s: Failed.
    // * retry (OnFailure): exits 1 after 1 s (12.502 s), seen at 13 s: restarted at once,
    //   running again from 13.5 s; the pod stays Running.
    // * staged: an init container running 2 s (11.502 → 13.502 s, seen at 14 s), then the app
    //   container: started at 14 s, running from 14.5 s, seen at 15 s.
    let pod = |name: &str, policy: &str, annotations: &str| {
        pod_manifest(
            name,
            true,
            "cached:v1",
            &format!("  restartPolicy: {policy}\n"),
        )
        .replace(
            &format!("name: {name}\n"),
            &format!("name: {name}\n  annotations: {{{annotations}}}\n"),
        )
    };
    let staged = pod_manifest(
        "staged",
        true,
        "cached:v1",
        "  initContainers: [{name: init, image: \"cached:v1\"}]\n",
    )
    .replace(
        "name: staged\n",
        "name: staged\n  annotations: {kubesim.io/exit-after.init: 2s}\n",
    );
    let pods = [
        pod(
            "job",
            "Never",
            "kubesim.io/exit-after: 5s, kubesim.io/exit-code: \"0\"",
        ),
        pod(
            "broken",
            "Never",
            "kubesim.io/exit-after: 5s, kubesim.io/exit-code: \"3\"",
        ),
        pod(
            "retry",
            "OnFailure",
            "kubesim.io/exit-after: 1s, kubesim.io/exit-code: \"1\"",
        ),
        staged,
    ]
    .concat();
    let mut sim = world_with("", &pods);
    let p = pod_at(&mut sim, at(14, 200), "staged");
    assert_eq!(p.status.phase, PodPhase::Pending);
    assert_eq!(
        p.status.condition("Initialized").map(|c| c.status.as_str()),
        Some("True")
    );
    let init = &p.status.init_container_statuses[0];
    assert_eq!(
        init.state.terminated.as_ref().map(|t| t.finished_at),
        Some(at(13, 502))
    );
    let p = pod_at(&mut sim, at(15, 2), "staged");
    assert_eq!(p.status.phase, PodPhase::Running);
    assert_eq!(running_since(&p), Some(at(14, 500)));
    let retry = pod_at(&mut sim, at(16, 0), "retry");
    assert_eq!(retry.status.phase, PodPhase::Running);
    assert!(retry.status.container_statuses[0].restart_count >= 1);
    let p = pod_at(&mut sim, at(16, 900), "job");
    assert_eq!(p.status.phase, PodPhase::Running);
    let job = pod_at(&mut sim, at(17, 2), "job");
    assert_eq!(job.status.phase, PodPhase::Succeeded);
    let ready = job.status.condition("Ready").expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "PodCompleted")
    );
    let broken = pod_at(&mut sim, at(17, 2), "broken");
    assert_eq!(broken.status.phase, PodPhase::Failed);
    let exit = broken.status.container_statuses[0]
        .state
        .terminated
        .as_ref();
    assert_eq!(
        exit.map(|t| (t.exit_code, t.reason.as_str())),
        Some((3, "Error"))
    );
    // Terminal pods are not restarted.
    let later = pod_at(&mut sim, at(120, 0), "job");
    assert_eq!(later.status.container_statuses[0].restart_count, 0);
    assert_eq!(later.status.phase, PodPhase::Succeeded);
}
