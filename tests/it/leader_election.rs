//! kube-controller-manager's and kube-scheduler's leader elections on the modelled apiserver:
//! each campaigns for its Lease in `kube-system`, runs its controllers / schedules only while
//! it leads, and when it cannot renew within the renew deadline starts again from scratch as
//! a candidate (upstream's process exits and is restarted).
//!
//! The cluster: 3 nodes, kubelets and kube-proxies on, a Deployment `web` of 6 pods, API
//! Priority and Fairness, the default timings (leaseDuration 15 s, renewDeadline 10 s,
//! retryPeriod 2 s).
//!
//! How a leader renews (client-go, `client/leader_election.rs`): `retryPeriod` after a
//! successful renewal's answer a *round* starts, trying at once and at every 2 s tick of the
//! round, for at most `renewDeadline`; a round with no success by its deadline gives up. So a
//! leader whose last renewal was answered at `s` starts a round at `s + 2 s` and, if every try
//! fails, stops leading at `s + 2 s + 10 s = s + 12 s`.

use kubesim::api::{Kind, ObjectKey};
use kubesim::controllers::kube_controller_manager::KubeControllerManager;
use kubesim::scheduler::kube_scheduler::KubeScheduler;
use kubesim::sim::{SimDuration, SimTime, Simulation, StopAt};
use kubesim::world::{self, RunOptions, World};

use crate::support::{self, load_text, run_in_folder, summary_in, web_deployment};

/// The cluster on `flow_control`, with `controller_manager` as `spec.controllerManager`, the
/// timeline entries `timeline` and `extra` documents after the Deployment.
fn scenario(flow_control: &str, controller_manager: &str, timeline: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: elections}}
spec:
  duration: 3m
  apiserver: {{flowControl: {flow_control}}}
  controllerManager: {controller_manager}
  nodePools:
    - name: n
      count: 3
      zones: [a]
      template:
        allocatable: {{cpu: "8", memory: 32Gi, pods: "110"}}
        images: [{{names: ["web:v1"], sizeBytes: 100000000}}]
  timeline: {timeline}
  report: {{sampleEvery: 5s}}
{}{extra}"#,
        web_deployment(6)
    )
}

fn at_millis(ms: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(ms)
}

fn at(seconds: u64) -> SimTime {
    at_millis(seconds * 1000)
}

fn run_until(sim: &mut Simulation<World>, until: SimTime) {
    sim.run(StopAt {
        until: Some(until),
        when_quiescent: false,
        max_events: None,
    });
}

/// Each change of leadership of the component `C` so far: (when, acquired).
fn changes<C: kubesim::component::Component>(sim: &Simulation<World>) -> Vec<(SimTime, bool)> {
    match sim.model().leadership::<C>() {
        Some(lock) => lock.changes().iter().map(|c| (c.at, c.acquired)).collect(),
        None => panic!("the component elects on a modelled apiserver"),
    }
}

/// The Lease `kube-system/<name>`'s renewTime now.
fn renew_time(sim: &Simulation<World>, name: &str) -> SimTime {
    let key = ObjectKey::new("kube-system", name);
    match sim
        .model()
        .api()
        .store()
        .get(Kind::Lease, &key)
        .map(|o| &**o)
    {
        Some(kubesim::api::Object::Lease(lease)) => lease.spec.renew_time.unwrap_or_default(),
        _ => panic!("no Lease {key}"),
    }
}

#[test]
fn the_controller_manager_acquires_its_lease_at_start_and_its_controllers_run() {
    let (_dir, out) = run_in_folder(&scenario("apf", "{}", "[]", ""), &[]);
    let summary = summary_in(&out);
    let elections = &summary["stampede"]["leaderElection"];
    for component in ["kube-controller-manager", "kube-scheduler"] {
        let election = &elections[component];
        assert_eq!(election["lease"], format!("kube-system/{component}"));
        // GET (404), CREATE: won within the first second, never lost.
        assert_eq!(election["acquired"], 1, "{election}");
        assert_eq!(election["lost"], 0, "{election}");
        assert_eq!(election["transitions"][0]["event"], "acquired");
        assert!(election["secondsWithoutLeader"].as_f64().unwrap_or(1.0) < 1.0);
        assert_eq!(election["leadingAtEnd"], true);
    }
    // The controllers ran: the Deployment's 6 pods exist and are bound.
    assert_eq!(
        summary["placement"]["pods"]["bound"], 6,
        "{}",
        summary["placement"]
    );
    // The Lease requests went out as the components' users, which flow control puts in the
    // system-leader-election schema's level: a renewal every ~2 s per component.
    let level = &summary["stampede"]["flowcontrol"]["priorityLevels"]["leader-election"];
    let dispatched = level["apiserver_flowcontrol_dispatched_requests_total"]
        .as_f64()
        .unwrap_or(0.0);
    // 3 minutes, 2 components, a renewal every 2 s and a bit: close to 180 (and the first
    // GET and CREATE each).
    assert!((170.0..=184.0).contains(&dispatched), "{dispatched}");
    // Each leads on the timeseries from the first sample after it won.
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).expect("timeseries.csv");
    let header: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
    let column = header
        .iter()
        .position(|c| *c == "kube-controller-manager:leader_election_master_status")
        .unwrap_or_else(|| panic!("no status column in {header:?}"));
    let values: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|row| row.split(',').nth(column).unwrap_or(""))
        .collect();
    assert_eq!(values[0], "0", "at 0 s nothing is won yet");
    assert!(values[1..].iter().all(|v| *v == "1"), "{values:?}");
}

#[test]
fn an_outage_longer_than_the_renew_deadline_loses_both_leases_until_the_apiserver_is_back() {
    // The apiserver is down from 60 s to 90 s; at 95 s (up again) the Deployment is scaled to
    // 8 — work only a leading controller-manager does.
    let timeline = "[{at: 60s, apiserverRestart: {downtime: 30s}}, \
                    {at: 95s, scale: {deployment: default/web, replicas: 8}}]";
    let loaded = load_text(&scenario("apf", "{}", timeline, ""), &[]);
    let mut sim = world::build(&loaded, &RunOptions::default());
    // Just before the outage: each Lease holds the start of its holder's last renewal.
    run_until(&mut sim, at_millis(59_999));
    let renewed = [
        renew_time(&sim, "kube-controller-manager"),
        renew_time(&sim, "kube-scheduler"),
    ];
    run_until(&mut sim, at(180));
    let kcm = changes::<KubeControllerManager>(&sim);
    let scheduler = changes::<KubeScheduler>(&sim);
    for (name, changes, renewed) in [
        ("kube-controller-manager", &kcm, renewed[0]),
        ("kube-scheduler", &scheduler, renewed[1]),
    ] {
        // Won at the start, lost once, won again.
        let events: Vec<bool> = changes.iter().map(|c| c.1).collect();
        assert_eq!(events, [true, false, true], "{name}: {changes:?}");
        // Lost: the last renewal started at `renewed` (at most 2 s and a few ms before 60 s)
        // was answered a few ms later at `s`; the next round began at s + 2 s and tried at
        // s + 2, 4, 6, 8, 10 s — each refused, the apiserver being down until 90 s — and gave
        // up at its deadline s + 12 s: in (68 s, 72 s], at most the answer's latency after
        // renewed + 12 s.
        let lost = changes[1].0;
        let since = lost.saturating_since(renewed);
        assert!(
            since >= SimDuration::from_secs(12) && since < SimDuration::from_millis(12_500),
            "{name}: renewed at {renewed}, lost at {lost}"
        );
        assert!(lost > at(68) && lost <= at(72), "{name}: lost at {lost}");
        // Won again: the new process campaigns at once (refused while down), trying every
        // 2 s + up to 2.4 s of jitter, so its first GET after 90 s comes before 94.4 s. It
        // finds the lease held by its former life's identity, a stranger to it, so it waits
        // until 15 s after that first sight by its own clock: acquired in [105 s, 94.4 + 15 +
        // 4.4 s) = [105 s, 113.8 s).
        let won = changes[2].0;
        assert!(
            won >= at(105) && won < at_millis(113_800),
            "{name}: won at {won}"
        );
    }
    // While the controller-manager did not lead, the ReplicaSet controller created nothing:
    // the 2 pods of the scale-up at 95 s came after it led again.
    let (lost, won) = (kcm[1].0, kcm[2].0);
    let created: Vec<SimTime> = sim
        .model()
        .api()
        .store()
        .iter(Kind::Pod)
        .map(|o| o.meta().creation_timestamp)
        .collect();
    assert_eq!(created.len(), 8);
    assert!(
        created.iter().all(|&t| t < lost || t >= won),
        "lost at {lost}, won at {won}: {created:?}"
    );
    assert_eq!(created.iter().filter(|&&t| t >= won).count(), 2);
    // The new leaders' record: held by the new identity, one transition more.
    let key = ObjectKey::new("kube-system", "kube-controller-manager");
    match sim
        .model()
        .api()
        .store()
        .get(Kind::Lease, &key)
        .map(|o| &**o)
    {
        Some(kubesim::api::Object::Lease(lease)) => {
            assert_eq!(lease.spec.holder_identity, "kubesim-control-plane_1");
            assert_eq!(lease.spec.lease_transitions, Some(1));
        }
        _ => panic!("no Lease {key}"),
    }
}

#[test]
fn an_outage_shorter_than_the_renew_deadline_loses_no_lease() {
    // Down 60–65 s: the round that starts after the last renewal (answered at s ≤ 60 s) tries
    // at s + 2 s and s + 4 s (refused while before 65 s) and at s + 6 s > 64 s; the first
    // try after 65 s, at most 2 s after it, renews, far before the deadline s + 12 s.
    let timeline = "[{at: 60s, apiserverRestart: {downtime: 5s}}]";
    let loaded = load_text(&scenario("apf", "{}", timeline, ""), &[]);
    let mut sim = world::build(&loaded, &RunOptions::default());
    run_until(&mut sim, at(180));
    for changes in [
        changes::<KubeControllerManager>(&sim),
        changes::<KubeScheduler>(&sim),
    ] {
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(changes[0].1 && changes[0].0 < at(1), "{changes:?}");
    }
}

#[test]
fn leader_elect_false_sends_no_lease_request() {
    let scheduler_config = "---\napiVersion: kubescheduler.config.k8s.io/v1\n\
                            kind: KubeSchedulerConfiguration\n\
                            leaderElection: {leaderElect: false}\n";
    let text = scenario(
        "apf",
        "{generic: {leaderElection: {leaderElect: false}}}",
        "[]",
        scheduler_config,
    );
    let (_dir, out) = run_in_folder(&text, &[]);
    let summary = summary_in(&out);
    assert!(summary["stampede"].get("leaderElection").is_none());
    let level = &summary["stampede"]["flowcontrol"]["priorityLevels"]["leader-election"];
    assert_eq!(
        level["apiserver_flowcontrol_dispatched_requests_total"].as_f64(),
        Some(0.0),
        "{level}"
    );
    // Leading from the start without a lease: the controllers and the scheduler ran.
    assert_eq!(
        summary["placement"]["pods"]["bound"], 6,
        "{}",
        summary["placement"]
    );
    // The same through the library: no Lease in kube-system.
    let loaded = load_text(&text, &[]);
    let mut sim = world::build(&loaded, &RunOptions::default());
    run_until(&mut sim, at(30));
    let in_kube_system = sim
        .model()
        .api()
        .store()
        .iter(Kind::Lease)
        .filter(|o| o.meta().namespace == "kube-system")
        .count();
    assert_eq!(in_kube_system, 0);
    assert!(sim.model().leadership::<KubeControllerManager>().is_none());
}

#[test]
fn the_ideal_apiserver_runs_no_election() {
    let loaded = load_text(&scenario("ideal", "{}", "[]", ""), &[]);
    let mut sim = world::build(&loaded, &RunOptions::default());
    run_until(&mut sim, at(30));
    assert!(sim.model().leadership::<KubeControllerManager>().is_none());
    assert!(sim.model().leadership::<KubeScheduler>().is_none());
    assert_eq!(
        sim.model()
            .api()
            .store()
            .iter(Kind::Lease)
            .filter(|o| o.meta().namespace == "kube-system")
            .count(),
        0
    );
}

/// Loads `text` and returns its load error.
fn load_error(text: &str) -> String {
    support::load_error("elections.yaml", text)
}

#[test]
fn bad_timings_are_load_errors_naming_the_field() {
    // leaseDuration must be greater than renewDeadline.
    let error = load_error(&scenario(
        "apf",
        "{generic: {leaderElection: {leaseDuration: 10s, renewDeadline: 10s}}}",
        "[]",
        "",
    ));
    assert!(
        error.contains("spec.controllerManager.generic.leaderElection.leaseDuration"),
        "{error}"
    );
    // Line 7 of the file, the value's column.
    assert!(error.contains("elections.yaml:7:"), "{error}");
    // The flag, and renewDeadline > 1.2 × retryPeriod: 2.4 s is not more than 1.2 × 2 s.
    let error = load_error(&scenario(
        "apf",
        "{leaderElectRenewDeadline: 2400ms}",
        "[]",
        "",
    ));
    assert!(
        error.contains("spec.controllerManager.leaderElectRenewDeadline"),
        "{error}"
    );
    assert!(error.contains("1.2"), "{error}");
    // Written both ways.
    let error = load_error(&scenario(
        "apf",
        "{leaderElectRetryPeriod: 1s, generic: {leaderElection: {retryPeriod: 1s}}}",
        "[]",
        "",
    ));
    assert!(
        error.contains("spec.controllerManager.leaderElectRetryPeriod"),
        "{error}"
    );
    // kube-scheduler's document: the field inside it.
    let scheduler_config = "---\napiVersion: kubescheduler.config.k8s.io/v1\n\
                            kind: KubeSchedulerConfiguration\n\
                            leaderElection: {renewDeadline: 2s}\n";
    let error = load_error(&scenario("apf", "{}", "[]", scheduler_config));
    assert!(error.contains("leaderElection.renewDeadline"), "{error}");
}
