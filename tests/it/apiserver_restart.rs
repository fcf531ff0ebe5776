//! An apiserver restart as the clients live it: every watch broken, requests refused while the
//! process is down, then each informer's 410 from the new process's watch cache and its relist
//! — the storm of kubernetes #47899 and #65954 in miniature.
//!
//! The cluster: 3 nodes, kubelets and kube-proxies on, a Deployment `web` of 6 pods, API
//! Priority and Fairness. At 60 s the apiserver goes down for 10 s.
//!
//! What the informers do, from client-go's reflector (k8s-reference §8): the stream of each
//! watch ends at 60 s (EOF), the reflector watches again at once and is refused (nothing
//! listens), backs off 0.8 s, 1.6 s, 3.2 s, 6.4 s (each × a jitter in [1, 2)) and is refused
//! again until 70 s; the first watch after 70 s reaches a new process whose caches listed at
//! 70 s, so its resourceVersion — the last event the informer saw, before 60 s — is too old:
//! 410, the round ends, and after one more backoff (at most 2 × 12.8 s) the informer relists
//! and watches from the list's version. The backoffs are far below the 2 min after which
//! they reset, so by 5 min every informer has relisted exactly once and follows changes again.

use kubesim::api::Kind;
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};

use crate::support::{fixture, load_text, run_in_folder, summary_in, web_deployment};

fn scenario_text(flow_control: &str) -> String {
    with_fault(flow_control, "apiserverRestart: {downtime: 10s}")
}

/// The cluster with `fault` at 60 s.
fn with_fault(flow_control: &str, fault: &str) -> String {
    format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: restart}}
spec:
  duration: 5m
  apiserver: {{flowControl: {flow_control}}}
  nodePools:
    - name: n
      count: 3
      zones: [a]
      template:
        allocatable: {{cpu: "8", memory: 32Gi, pods: "110"}}
        images: [{{names: ["web:v1"], sizeBytes: 100000000}}]
  timeline:
    - {{at: 60s, {fault}}}
  report: {{sampleEvery: 5s}}
{}"#,
        web_deployment(6)
    )
}

fn at(seconds: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(seconds)
}

fn run_to(sim: &mut Simulation<World>, seconds: u64) {
    sim.run(kubesim::sim::StopAt {
        until: Some(at(seconds)),
        when_quiescent: false,
        max_events: None,
    });
}

/// Answers with status `code` so far.
fn answered(sim: &Simulation<World>, code: u16) -> u64 {
    let counters = sim.model().api().counters();
    counters
        .requests
        .iter()
        .filter(|((_, _, c), _)| *c == code)
        .map(|(_, n)| n)
        .sum()
}

/// Watches opened so far.
fn watches_opened(sim: &Simulation<World>) -> u64 {
    let counters = sim.model().api().counters();
    counters
        .requests
        .iter()
        .filter(|((verb, _, code), _)| *verb == kubesim::apiserver::Verb::Watch && *code == 200)
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn a_restart_breaks_every_watch_and_each_informer_relists_once_from_the_new_process() {
    let scenario = load_text(&scenario_text("apf"), &[]);
    let mut sim = world::build(&scenario, &RunOptions::default());
    run_to(&mut sim, 59);
    let health = |sim: &Simulation<World>| match sim.model().recorder().last() {
        Some(sample) => match sample.clients {
            Some(clients) => clients,
            None => panic!("a modelled run samples its clients"),
        },
        None => panic!("a sample"),
    };
    let before = health(&sim);
    // 3 kubelets × (node, pods) + 3 kube-proxies × (Services, EndpointSlices, node) + the
    // scheduler's and kube-controller-manager's shared informers: each its watch open.
    let informers = before.informers.informers;
    assert!(informers > 15, "{informers} informers");
    assert_eq!(before.informers.following, informers);
    assert_eq!(
        before.informers.lists, informers,
        "one LIST each, no relist"
    );
    assert_eq!(sim.model().api().watches().open_count() as u64, informers);
    assert!(before.apiserver_up);
    let gone_before = answered(&sim, 410);
    assert_eq!(gone_before, 0);

    // Just after 60 s the process is down and no watch is open.
    run_to(&mut sim, 61);
    let process = sim.model().api().process();
    assert!(process.is_down());
    assert_eq!(sim.model().api().watches().open_count(), 0);
    let pods_at_restart = sim.model().api().store().count(Kind::Pod);

    run_to(&mut sim, 300);
    let process = sim.model().api().process();
    assert!(!process.is_down());
    let record = process.history()[0];
    assert_eq!((record.down_at, record.up_at), (at(60), at(70)));
    // Each informer's re-watches were refused while it was down.
    assert!(sim.model().api().connections_refused() >= informers);
    let after = health(&sim);
    assert_eq!(after.informers.informers, informers);
    assert_eq!(after.informers.following, informers);
    // Every informer met a 410 once — but one: the informer that saw the last write before
    // the restart holds the very revision the new caches listed at (no write could happen
    // while the process was down), so its watch resumes.
    assert_eq!(answered(&sim, 410), informers - 1);
    // Every informer relisted once, that one too: 10 s down is as long as the renew deadline,
    // so kube-controller-manager and kube-scheduler lost their leases (each leader's last
    // renewal was answered at s ≤ 60 s, its next round tried at s + 2 … s + 8 s < 70 s,
    // refused, and gave up at s + 12 s, just after 70 s) and started again as fresh
    // processes, whose first lists are their components' relists. (Their former lives'
    // watches still in flight were answered 410 all the same, to nobody.)
    assert_eq!(after.informers.relists(), informers);
    assert_eq!(sim.model().api().watches().open_count() as u64, informers);
    // The workload went through it whole: no pod lost or made twice.
    assert_eq!(pods_at_restart, 6);
    assert_eq!(sim.model().api().store().count(Kind::Pod), 6);
}

#[test]
fn the_summary_says_when_the_clients_recovered_from_the_restart() {
    let (_dir, out) = run_in_folder(&scenario_text("apf"), &[]);
    let summary = summary_in(&out);
    let clients = &summary["stampede"]["clients"];
    let restart = &clients["restarts"][0];
    assert_eq!(restart["downAt"], "1m");
    assert_eq!(restart["upAt"], "1m10s");
    // Every informer was cut off at the worst sample.
    assert_eq!(
        restart["informersNotFollowingPeak"], clients["informers"],
        "{clients}"
    );
    let informers = clients["informers"].as_u64().unwrap_or(0);
    // Every informer relisted once (see the first test: the control plane restarted too).
    assert_eq!(restart["relists"], informers);
    // Recovered at a sample (every 5 s) after the new process started, before the end.
    let recovered = restart["recoveredAfter"].as_str().unwrap_or("none");
    let recovered: SimDuration = recovered
        .parse()
        .unwrap_or_else(|e| panic!("recoveredAfter {recovered}: {e}"));
    assert!(recovered > SimDuration::from_secs(10), "{recovered}");
    assert!(recovered < SimDuration::from_secs(240), "{recovered}");
    assert_eq!(recovered.as_nanos() % 5_000_000_000, 0, "{recovered}");
    // The timeseries marks the process down for the samples from 60 s to 65 s.
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).expect("timeseries.csv");
    let header: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
    let up = header.iter().position(|c| *c == "apiserver_up");
    let up = up.unwrap_or_else(|| panic!("an apiserver_up column in {header:?}"));
    let down: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter(|row| row.split(',').nth(up) == Some("0"))
        .map(|row| row.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(down, ["60.000", "65.000"]);
}

#[test]
fn a_network_blip_that_breaks_every_watch_sends_no_informer_back_to_a_list() {
    // The caches stay warm: each informer watches again at once from its last version, which
    // the retained history still holds. Nothing is relisted, every watch is back.
    let scenario = load_text(&with_fault("apf", "breakWatches: {}"), &[]);
    let mut sim = world::build(&scenario, &RunOptions::default());
    run_to(&mut sim, 59);
    let opened_before = watches_opened(&sim);
    let informers = sim.model().api().watches().open_count() as u64;
    run_to(&mut sim, 120);
    let opened_after = watches_opened(&sim);
    assert_eq!(opened_after - opened_before, informers);
    assert_eq!(sim.model().api().watches().open_count() as u64, informers);
    assert_eq!(answered(&sim, 410), 0);
    let Some(clients) = sim.model().recorder().last().and_then(|s| s.clients) else {
        panic!("a modelled run samples its clients");
    };
    assert_eq!(clients.informers.relists(), 0);
    assert_eq!(clients.informers.following, informers);
}

#[test]
fn the_ideal_apiserver_has_no_etcd_to_slow_down() {
    let (_dir, path) = fixture(
        "etcd.yaml",
        &with_fault("ideal", "etcdSlowdown: {percent: 300, for: 1m}"),
        &[],
    );
    let error = match kubesim::scenario::load(&path, &kubesim::world::Components) {
        Ok(_) => panic!("an ideal etcd slowdown loads"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("spec.timeline[0].etcdSlowdown"), "{error}");
    // A zero percentage is refused in any mode.
    let (_dir, path) = fixture(
        "etcd.yaml",
        &with_fault("apf", "etcdSlowdown: {percent: 0}"),
        &[],
    );
    let error = match kubesim::scenario::load(&path, &kubesim::world::Components) {
        Ok(_) => panic!("a zero slowdown loads"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("etcdSlowdown.percent"), "{error}");
}

#[test]
fn the_ideal_apiserver_cannot_restart() {
    let (_dir, path) = fixture("restart.yaml", &scenario_text("ideal"), &[]);
    let error = match kubesim::scenario::load(&path, &kubesim::world::Components) {
        Ok(_) => panic!("an ideal apiserver restart loads"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("spec.timeline[0].apiserverRestart"),
        "{error}"
    );
    assert!(error.contains("flowControl"), "{error}");
    // The entry's line and column: `- {at: 60s, …}` is line 15, its map at column 7.
    assert!(error.contains("restart.yaml:15:7:"), "{error}");
}

#[test]
fn the_stampede_chart_shows_the_restart_the_storm_and_the_recovery() {
    let scenario = load_text(&scenario_text("apf"), &[]);
    let mut sim = world::build(&scenario, &RunOptions::default());
    run_to(&mut sim, 300);
    let charts = kubesim::report::page::charts(sim.model());
    let Some(file) = charts.iter().find(|c| c.file == "stampede.svg") else {
        panic!("no stampede.svg in a modelled run")
    };
    let chart = &file.chart;
    let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names[..3],
        ["informers not following (count)", "relists / s", "429s / s"]
    );
    let informers = match sim.model().recorder().last().and_then(|s| s.clients) {
        Some(c) => c.informers.informers as f64,
        None => panic!("a modelled run samples its clients"),
    };
    let value = |series: usize, t: f64| {
        chart.series[series]
            .points
            .iter()
            .find(|(x, _)| *x == t)
            .map(|(_, y)| *y)
            .unwrap_or_else(|| panic!("{} has no point at {t} s", names[series]))
    };
    // Samples every 5 s: before 60 s every informer follows; at 65 s (down since 60 s) none
    // does; by the end all do again.
    assert_eq!(value(0, 55.0), 0.0);
    assert_eq!(value(0, 65.0), informers);
    assert_eq!(value(0, 300.0), 0.0);
    // No relist before the restart; after it every informer relists once (see the first
    // test), so the relists per second over the run add up to the informers in all.
    assert_eq!(value(1, 55.0), 0.0);
    let relists: f64 = chart.series[1]
        .points
        .iter()
        .map(|(_, per_s)| per_s * 5.0)
        .sum();
    assert_eq!(relists.round(), informers);
    // The span the process was down, then the caches filling; the restart and the recovery.
    assert_eq!(chart.spans[0].name, "apiserver down");
    assert_eq!(chart.spans[0].ranges, [(60.0, 70.0)]);
    assert_eq!(chart.spans[1].name, "watch caches filling");
    assert_eq!(chart.spans[1].ranges[0].0, 70.0);
    assert!(chart.spans[1].ranges[0].1 > 70.0);
    assert_eq!(chart.marks[0].label, "restart");
    assert_eq!(chart.marks[0].x, 60.0);
    assert_eq!(chart.marks[1].label, "recovered");
    assert!(chart.marks[1].x > 70.0 && chart.marks[1].x < 300.0);

    // The SVG carries every legend entry and both marks.
    let svg = chart.to_svg().expect("the chart renders");
    for text in [
        "Apiserver stampede",
        "informers not following (count)",
        "relists / s",
        "429s / s",
        "apiserver down",
        "watch caches filling",
        ">\nrestart\n</text>",
        ">\nrecovered\n</text>",
        "virtual time",
    ] {
        assert!(svg.contains(text), "no {text:?} in stampede.svg");
    }
}

#[test]
fn the_report_has_the_stampede_chart_in_modelled_runs_only() {
    for (flow_control, timeline, expected) in [
        (
            "apf",
            "    - {at: 60s, apiserverRestart: {downtime: 10s}}",
            true,
        ),
        (
            "ideal",
            "    - {at: 60s, scale: {deployment: default/web, replicas: 7}}",
            false,
        ),
    ] {
        let text = scenario_text(flow_control).replace(
            "    - {at: 60s, apiserverRestart: {downtime: 10s}}",
            timeline,
        );
        let (_dir, out) = run_in_folder(&text, &[]);
        let chart = out.join("charts/stampede.svg");
        assert_eq!(
            chart.exists(),
            expected,
            "{flow_control}: {}",
            chart.display()
        );
        let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
        assert_eq!(
            html.contains("Apiserver stampede"),
            expected,
            "{flow_control}"
        );
        if expected {
            let svg = std::fs::read_to_string(&chart).expect("stampede.svg");
            assert!(svg.contains("apiserver down"), "{svg}");
            // The chart is inline in report.html under its title, as every chart is.
            assert!(html.contains("<figcaption>Apiserver stampede</figcaption>"));
            assert!(
                html.contains("watch caches filling"),
                "the chart's legend in report.html"
            );
        }
    }
}
