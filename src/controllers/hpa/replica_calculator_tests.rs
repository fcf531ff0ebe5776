//! Upstream's replica-calculator corner cases (`replica_calculator_test.go`), each number
//! derived by hand in its comment. Unless a test says otherwise: CPU, the default readiness
//! settings (5 min initialization, 30 s initial readiness delay), tolerance 0.1, pods started
//! at 0 s and Ready since 10 s, the sync at 1,000 s (past the initialization period).

use std::sync::Arc;

use super::*;
use crate::api::pod::{Container, PodCondition, PodSpec};
use crate::api::quantity::Quantity;

const NOW: SimTime = SimTime::from_nanos(1_000_000_000_000);

fn at(secs: u64) -> SimTime {
    SimTime::from_nanos(secs * 1_000_000_000)
}

fn container(name: &str, cpu_milli: i64) -> Container {
    let mut c = Container {
        name: name.into(),
        ..Container::default()
    };
    c.resources
        .requests
        .insert("cpu".into(), Quantity::from_milli(cpu_milli));
    c
}

/// A Running pod requesting `cpu_milli` in one container, Ready (`True`) since 10 s.
fn pod(name: &str, cpu_milli: i64) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = name.into();
    p.spec = Arc::new(PodSpec {
        containers: vec![container("app", cpu_milli)],
        ..PodSpec::default()
    });
    p.status.phase = PodPhase::Running;
    p.status.start_time = Some(at(0));
    p.status.conditions.push(PodCondition {
        type_: POD_READY.into(),
        status: "True".into(),
        last_transition_time: at(10),
        ..PodCondition::default()
    });
    p
}

fn ready(mut p: Pod, status: &str, since: SimTime) -> Pod {
    p.status.conditions[0].status = status.into();
    p.status.conditions[0].last_transition_time = since;
    p
}

fn started(mut p: Pod, start: SimTime) -> Pod {
    p.status.start_time = Some(start);
    p
}

/// Values for pods `p0`, `p1`, … measured over 30 s up to 5 s before the sync.
fn metrics(values: &[(&str, i64)]) -> PodMetrics {
    values
        .iter()
        .map(|(name, value)| {
            let metric = PodMetric {
                value: *value,
                timestamp: SimTime::from_nanos(NOW.as_nanos() - 5_000_000_000),
                window: SimDuration::from_secs(30),
            };
            (name.to_string(), metric)
        })
        .collect()
}

/// The sample of `pods` and `metrics` at [`NOW`] with tolerance 0.1.
fn sample<'a>(pods: &'a [&'a Pod], metrics: &'a PodMetrics) -> Sample<'a> {
    Sample {
        pods,
        metrics,
        tolerances: Tolerances::both(0.1),
        readiness: Readiness::default(),
        now: NOW,
    }
}

fn cpu(current: i32, target: i32, pods: &[Pod], m: &PodMetrics) -> Proposal {
    let refs: Vec<&Pod> = pods.iter().collect();
    resource_replicas(current, target, CPU, None, &sample(&refs, m)).expect("a proposal")
}

#[test]
fn scale_up_by_the_utilization_ratio() {
    // 300 + 500 + 700 = 1,500m of 3 × 1,000m requested: 50 %. 50 / 30 = 1.667, outside
    // tolerance: ceil(1.667 × 3 ready pods) = 5.
    let pods = [pod("p0", 1000), pod("p1", 1000), pod("p2", 1000)];
    let got = cpu(
        3,
        30,
        &pods,
        &metrics(&[("p0", 300), ("p1", 500), ("p2", 700)]),
    );
    assert_eq!((got.replicas, got.utilization, got.average), (5, 50, 500));
    assert_eq!(got.adjusted_ratio, None);
}

#[test]
fn scale_down_by_the_utilization_ratio() {
    // 100 + 300 + 500 + 250 + 250 = 1,400m of 5,000m: 28 %. 28 / 50 = 0.56: ceil(0.56 × 5)
    // = ceil(2.8) = 3.
    let pods: Vec<Pod> = (0..5).map(|i| pod(&format!("p{i}"), 1000)).collect();
    let m = metrics(&[
        ("p0", 100),
        ("p1", 300),
        ("p2", 500),
        ("p3", 250),
        ("p4", 250),
    ]);
    let got = cpu(5, 50, &pods, &m);
    assert_eq!((got.replicas, got.utilization), (3, 28));
}

#[test]
fn within_tolerance_keeps_the_current_count() {
    // 52 + 54 + 50 = 156m of 300m: 52 %, 52 / 50 = 1.04 ≤ 1.1: keep 4 (not ceil(1.04 × 3)).
    let pods = [pod("p0", 100), pod("p1", 100), pod("p2", 100)];
    let got = cpu(
        4,
        50,
        &pods,
        &metrics(&[("p0", 52), ("p1", 54), ("p2", 50)]),
    );
    assert_eq!((got.replicas, got.utilization), (4, 52));
    // The bound itself is inside: 55 % of a 50 % target is exactly 1.1.
    let got = cpu(
        4,
        50,
        &pods,
        &metrics(&[("p0", 55), ("p1", 55), ("p2", 55)]),
    );
    assert_eq!(got.replicas, 4);
}

#[test]
fn the_utilization_is_truncated_to_whole_percent_before_the_ratio() {
    // 100m of 300m is 33.33 %, truncated to 33: ratio 33 / 30 = 1.1 (inside), where
    // 33.33 / 30 = 1.111 would have been outside.
    let pods = [pod("p0", 100), pod("p1", 100), pod("p2", 100)];
    let got = cpu(
        3,
        30,
        &pods,
        &metrics(&[("p0", 40), ("p1", 30), ("p2", 30)]),
    );
    assert_eq!((got.utilization, got.replicas), (33, 3));
}

#[test]
fn unready_pods_are_left_out_then_counted_at_zero_on_a_scale_up() {
    // p0 never became Ready (False since 10 s, within 30 s of its start): unready. The others:
    // 500 + 700 = 1,200m of 2,000m = 60 %, ratio 2.0 > 1 with an unready pod, so it is filled
    // in at 0: 1,200m of 3,000m = 40 %, ratio 1.333, outside tolerance and still up:
    // ceil(1.333 × 3) = 4 (upstream: ScaleUpUnreadyLessScale).
    let pods = [
        ready(pod("p0", 1000), "False", at(10)),
        pod("p1", 1000),
        pod("p2", 1000),
    ];
    let got = cpu(
        3,
        30,
        &pods,
        &metrics(&[("p0", 300), ("p1", 500), ("p2", 700)]),
    );
    assert_eq!(got.groups.unready.iter().collect::<Vec<_>>(), ["p0"]);
    assert_eq!((got.replicas, got.utilization), (4, 60));
    assert_eq!(got.adjusted_ratio, Some(40.0 / 30.0));
}

#[test]
fn unready_pods_that_turn_the_direction_round_mean_no_change() {
    // Only p0 is ready: 400m of 1,000m = 40 %, ratio 1.333 up. Two unready pods at 0:
    // 400m of 3,000m = 13 %, ratio 0.433 — down: the direction flipped, keep 3 (upstream:
    // ScaleUpUnreadyNoScale).
    let pods = [
        pod("p0", 1000),
        ready(pod("p1", 1000), "False", at(10)),
        ready(pod("p2", 1000), "False", at(10)),
    ];
    let got = cpu(
        3,
        30,
        &pods,
        &metrics(&[("p0", 400), ("p1", 500), ("p2", 700)]),
    );
    assert_eq!((got.replicas, got.utilization), (3, 40));
}

#[test]
fn unready_pods_do_not_count_on_a_scale_down() {
    // p2 unready: left out and not filled in on a scale-down. 100 + 100 = 200m of 2,000m =
    // 10 %, ratio 0.2: ceil(0.2 × 2 ready) = 1.
    let pods = [
        pod("p0", 1000),
        pod("p1", 1000),
        ready(pod("p2", 1000), "False", at(10)),
    ];
    let got = cpu(
        3,
        50,
        &pods,
        &metrics(&[("p0", 100), ("p1", 100), ("p2", 900)]),
    );
    assert_eq!(got.replicas, 1);
    assert_eq!(got.adjusted_ratio, None);
}

#[test]
fn missing_pods_count_as_their_request_on_a_scale_down() {
    // 4 of 5 pods report 10m of 100m: 10 %, ratio 0.2 down. The missing pod counts at
    // max(100, 50) = 100 % of its request: 140m of 500m = 28 %, ratio 0.56, still down and
    // outside tolerance: ceil(0.56 × 5) = 3.
    let pods: Vec<Pod> = (0..5).map(|i| pod(&format!("p{i}"), 100)).collect();
    let m = metrics(&[("p0", 10), ("p1", 10), ("p2", 10), ("p3", 10)]);
    let got = cpu(5, 50, &pods, &m);
    assert_eq!(got.groups.missing.iter().collect::<Vec<_>>(), ["p4"]);
    assert_eq!(got.replicas, 3);
    assert_eq!(got.adjusted_ratio, Some(28.0 / 50.0));
}

#[test]
fn missing_pods_that_bring_the_ratio_within_tolerance_mean_no_change() {
    // 3 of 4 pods at 40m of 100m: 40 %, ratio 0.8 down; the missing one at 100m: 220m of
    // 400m = 55 %, ratio 1.1 — inside the tolerance: keep 4 (without the missing pod it
    // would have been ceil(0.8 × 3) = 3).
    let pods: Vec<Pod> = (0..4).map(|i| pod(&format!("p{i}"), 100)).collect();
    let got = cpu(
        4,
        50,
        &pods,
        &metrics(&[("p0", 40), ("p1", 40), ("p2", 40)]),
    );
    assert_eq!(got.replicas, 4);
}

#[test]
fn missing_pods_count_as_zero_on_a_scale_up() {
    // 3 of 4 pods at 80m of 100m: 80 %, ratio 1.6 up; the missing one at 0: 240m of 400m =
    // 60 %, ratio 1.2: ceil(1.2 × 4) = 5.
    let pods: Vec<Pod> = (0..4).map(|i| pod(&format!("p{i}"), 100)).collect();
    let got = cpu(
        4,
        50,
        &pods,
        &metrics(&[("p0", 80), ("p1", 80), ("p2", 80)]),
    );
    assert_eq!(got.replicas, 5);
    assert_eq!(got.adjusted_ratio, Some(60.0 / 50.0));
}

#[test]
fn a_missing_pod_that_flips_a_scale_down_into_a_scale_up_means_no_change() {
    // p0 at 40m of 100m: 40 %, ratio 0.8 down; p1 missing at 100m: 140m of 200m = 70 %,
    // ratio 1.4 up: flipped, keep 2.
    let pods = [pod("p0", 100), pod("p1", 100)];
    let got = cpu(2, 50, &pods, &metrics(&[("p0", 40)]));
    assert_eq!(got.replicas, 2);
}

#[test]
fn cpu_samples_during_initialization_need_a_whole_window_of_readiness() {
    // Started at 900 s: at 1,000 s it is within the 5 min initialization period. The sample
    // ends at 995 s and covers 30 s. Ready since 950 s: 995 ≥ 950 + 30, usable. Ready since
    // 980 s: 995 < 980 + 30, the window saw the pod unready: left out.
    let usable = started(ready(pod("p0", 100), "True", at(950)), at(900));
    let early = started(ready(pod("p0", 100), "True", at(980)), at(900));
    let m = metrics(&[("p0", 100)]);
    let refs = |p: &Pod| -> PodGroups { group_pods(&[p], &m, CPU, Readiness::default(), NOW) };
    assert_eq!(refs(&usable).ready.len(), 1);
    assert_eq!(refs(&early).unready.len(), 1);
    // Memory samples are never filtered by readiness.
    assert_eq!(
        group_pods(&[&early], &m, "memory", Readiness::default(), NOW)
            .ready
            .len(),
        1
    );
}

#[test]
fn after_initialization_only_a_pod_never_ready_is_left_out() {
    // Not ready since 20 s, started at 0: 0 + 30 s > 20 s, the False is the one from its start
    // (never ready): left out. Not ready since 100 s: it was ready once, its sample counts.
    let m = metrics(&[("p0", 100)]);
    let never = ready(pod("p0", 100), "False", at(20));
    let once = ready(pod("p0", 100), "False", at(100));
    let group = |p: &Pod| group_pods(&[p], &m, CPU, Readiness::default(), NOW);
    assert_eq!(group(&never).unready.len(), 1);
    assert_eq!(group(&once).ready.len(), 1);
    // An Unknown readiness is not False.
    assert_eq!(
        group(&ready(pod("p0", 100), "Unknown", at(20))).ready.len(),
        1
    );
}

#[test]
fn pending_deleted_and_failed_pods_are_grouped_apart() {
    let mut pending = pod("pending", 100);
    pending.status.phase = PodPhase::Pending;
    let mut failed = pod("failed", 100);
    failed.status.phase = PodPhase::Failed;
    let mut deleting = pod("deleting", 100);
    deleting.metadata.deletion_timestamp = Some(at(990));
    let mut no_start = pod("no-start", 100);
    no_start.status.start_time = None;
    let running = pod("running", 100);
    let pods = [&pending, &failed, &deleting, &no_start, &running];
    let m = metrics(&[
        ("pending", 1),
        ("failed", 1),
        ("deleting", 1),
        ("no-start", 1),
    ]);
    let g = group_pods(&pods, &m, CPU, Readiness::default(), NOW);
    let names = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>();
    assert_eq!(names(&g.ignored), ["deleting", "failed"]);
    assert_eq!(names(&g.unready), ["no-start", "pending"]);
    assert_eq!(names(&g.missing), ["running"]);
    assert!(g.ready.is_empty());
}

#[test]
fn errors_name_what_is_missing() {
    let refs: Vec<&Pod> = Vec::new();
    let calc = |pods: &[&Pod], m: &PodMetrics, container: Option<&str>| {
        resource_replicas(1, 50, CPU, container, &sample(pods, m))
    };
    assert_eq!(
        calc(&refs, &PodMetrics::new(), None),
        Err(CalculationError::NoPods)
    );
    let unready = ready(pod("p0", 100), "False", at(10));
    assert_eq!(
        calc(&[&unready], &metrics(&[("p0", 50)]), None),
        Err(CalculationError::NoUsableMetrics)
    );
    let mut no_request = pod("p0", 100);
    Arc::make_mut(&mut no_request.spec).containers[0]
        .resources
        .requests
        .clear();
    let err = calc(&[&no_request], &metrics(&[("p0", 50)]), None).expect_err("no request");
    assert_eq!(
        err.to_string(),
        "missing request for cpu in container app of Pod p0"
    );
    let err = calc(&[&pod("p0", 100)], &metrics(&[("p0", 50)]), Some("db")).expect_err("no db");
    assert_eq!(err.to_string(), "container db not found in Pod p0");
}

#[test]
fn a_container_resource_counts_that_container_and_a_pod_resource_counts_sidecars() {
    // app 200m + sidecar 100m (restartPolicy Always) + a plain init container 900m.
    let mut p = pod("p0", 200);
    let spec = Arc::make_mut(&mut p.spec);
    let mut sidecar = container("proxy", 100);
    sidecar.restart_policy = Some("Always".into());
    spec.init_containers = vec![container("init", 900), sidecar];
    assert_eq!(pod_requests(&[&p], None, CPU).expect("ok")["p0"], 300);
    assert_eq!(
        pod_requests(&[&p], Some("proxy"), CPU).expect("ok")["p0"],
        100
    );
    // A limit alone is the request (apiserver defaulting).
    let mut limited = pod("p1", 0);
    let c = &mut Arc::make_mut(&mut limited.spec).containers[0];
    c.resources.requests.clear();
    c.resources
        .limits
        .insert("cpu".into(), Quantity::from_milli(250));
    assert_eq!(pod_requests(&[&limited], None, CPU).expect("ok")["p1"], 250);
}

#[test]
fn a_pods_metric_scales_by_the_truncated_average() {
    // 12 + 15 + 19 = 46 (in milli: 46,000) over 3 pods: average 15,333 (truncated), target
    // 10,000: ratio 1.5333, ceil(1.5333 × 3) = ceil(4.6) = 5.
    let pods = [pod("p0", 100), pod("p1", 100), pod("p2", 100)];
    let refs: Vec<&Pod> = pods.iter().collect();
    let m = metrics(&[("p0", 12_000), ("p1", 15_000), ("p2", 19_000)]);
    let got = plain_metric_replicas(3, 10_000, "", &sample(&refs, &m)).expect("a proposal");
    assert_eq!((got.replicas, got.average), (5, 15_333));
    // A missing pod on a scale-down counts at exactly the target: (4,000 + 10,000) / 2 =
    // 7,000, ratio 0.7 (from 0.4): ceil(0.7 × 2) = 2 — no lower than the current 2.
    let two = [&pods[0], &pods[1]];
    let one = metrics(&[("p0", 4_000)]);
    let got = plain_metric_replicas(2, 10_000, "", &sample(&two, &one)).expect("a proposal");
    assert_eq!(got.adjusted_ratio, Some(0.7));
    assert_eq!(got.replicas, 2);
}

#[test]
fn object_and_external_values() {
    let t = Tolerances::both(0.1);
    // Value: 2,500 of a 1,000 target is 2.5 × the 4 ready pods: 10.
    assert_eq!(value_replicas(3, 2_500, 1_000, t, || Ok(4)), Ok((10, 2.5)));
    // From zero replicas the ratio alone, rounded up, and no pods are read: 3.
    let no_pods = || -> Result<i64, CalculationError> { Err(CalculationError::NoPods) };
    assert_eq!(value_replicas(0, 2_500, 1_000, t, no_pods), Ok((3, 2.5)));
    // Within tolerance: keep 3, no pods read either.
    assert_eq!(value_replicas(3, 1_050, 1_000, t, no_pods), Ok((3, 1.05)));
    // AverageValue: 10,000 over 4 replicas of 2,000 each is ratio 1.25: ceil(10,000 / 2,000)
    // = 5; the average per replica 2,500.
    assert_eq!(average_value_replicas(4, 10_000, 2_000, t), (5, 2_500));
    // 8,500 over 4 × 2,000 is 1.0625, inside: 4; average ceil(2,125) = 2,125.
    assert_eq!(average_value_replicas(4, 8_500, 2_000, t), (4, 2_125));
}

#[test]
fn ready_pods_are_running_and_ready() {
    let mut pending = pod("p2", 100);
    pending.status.phase = PodPhase::Pending;
    let pods = [
        pod("p0", 100),
        ready(pod("p1", 100), "False", at(10)),
        pending,
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    assert_eq!(ready_pod_count(&refs), Ok(1));
    assert_eq!(ready_pod_count(&[]), Err(CalculationError::NoPods));
}
