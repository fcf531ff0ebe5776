//! Load and autoscaling end to end: a Service's traffic drives its pods' CPU (the load
//! model), cAdvisor samples it, metrics-server scrapes it, the HPA controller reads the
//! Metrics API and scales the Deployment through `/scale`, kube-scheduler places the new
//! pods, the kubelets start them and the EndpointSlice controller adds them to the Service.

use kubesim::api::{Kind, Object, ObjectKey};
use kubesim::controllers::hpa::controller::{HpaController, HpaTrace};
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};

use crate::support::load_text;

/// The HPA's metric in [`spike`]: CPU at 60 %.
const CPU_AT_60: &str = "    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}";

/// A Deployment `web` of 2 pods (500m CPU requested each, Ready 5 s after starting), its
/// Service, an HPA at 60 % CPU (2 to 30 replicas, no `behavior`: the legacy path), and
/// traffic stepping from 100 to 1,000 rps at 2m, 1.5m CPU per request, no base.
fn spike(extra_spec: &str, hpa_extra: &str) -> kubesim::scenario::Scenario {
    load_text(&spike_text(extra_spec, CPU_AT_60, hpa_extra), &[])
}

/// [`spike`]'s text with the HPA's `metrics` entries given.
fn spike_text(extra_spec: &str, metrics: &str, hpa_extra: &str) -> String {
    format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: hpa-spike}}
spec:
  duration: 10m
  nodePools:
    - name: n
      count: 4
      template:
        allocatable: {{cpu: "8", memory: 32Gi, pods: "110"}}
        images: [{{names: ["web:1"], sizeBytes: 100000000}}]
  kubelet:
    timing: {{sandbox: {{fixed: 500ms}}, imagePull: {{fixed: 2s}}, containerStart: {{fixed: 200ms}}}}
  traffic:
    - service: default/web
      rate: {{step: {{from: 100, to: 1000, at: 2m}}}}
      cpuPerRequest: 1500u
{extra_spec}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
      annotations: {{kubesim.io/ready-after: 5s}}
    spec:
      containers:
        - name: app
          image: web:1
          resources: {{requests: {{cpu: 500m}}}}
          ports: [{{containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 2
  maxReplicas: 30
  metrics:
{metrics}
{hpa_extra}
"#
    )
}

/// Run options keeping every HPA sync.
fn traced() -> RunOptions {
    RunOptions {
        trace_hpas: HpaTrace::All,
        ..RunOptions::default()
    }
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

/// The run's HPA controller, with the syncs it kept.
fn hpa_controller(sim: &Simulation<World>) -> &HpaController {
    sim.model()
        .controller::<HpaController>()
        .expect("HPA controller")
}

/// The Deployment's `spec.replicas` now.
fn replicas(sim: &Simulation<World>) -> i32 {
    sim.model()
        .api()
        .store()
        .get(Kind::Deployment, &ObjectKey::new("default", "web"))
        .and_then(|o| match &**o {
            Object::Deployment(d) => d.spec.replicas,
            _ => None,
        })
        .unwrap_or(0)
}

/// Each change of the Deployment's replicas, as (time, replicas), sampled every second.
fn replica_steps(sim: &mut Simulation<World>, until: u64) -> Vec<(u64, i32)> {
    let mut steps = vec![(0, 2)];
    for t in 1..=until {
        sim.run_until(secs(t));
        let now = replicas(sim);
        if steps.last().is_some_and(|(_, r)| *r != now) {
            steps.push((t, now));
        }
    }
    steps
}

/// A step from 100 to 1,000 rps at 2m reaches 5 replicas between 2m30s and 3m30s, and
/// holds them.
///
/// The numbers: 1,000 rps × 1.5m = 1,500m over n pods of 500m requested; at 60 % a pod
/// should use 300m. n = 5 gives 300m (ratio 1.0); n = 4 gives 375m (1.25) and n = 6 250m
/// (0.83), both outside the 0.1 tolerance, so 5 is the only count the HPA keeps. Before the
/// step 100 rps use 75m per pod of 2 (15 %): the proposal ceil(2 × 0.25) = 1 is clamped to
/// minReplicas 2, no change.
///
/// The pipeline: the load model steps every 5 s from 0, so the usage jumps at 120 s exactly.
/// Each node's cAdvisor samples at its phase p + 10 s·k; metrics-server scrapes at 15 s·k,
/// reading the last sample and rating CPU between its last two scrapes' samples. The HPA
/// controller syncs on its resync beat, 15 s·k plus the ~10 ms its informers took to list.
///
/// * The 120 s scrape reads samples at or before 120 s: the old usage, no change at 120 s.
/// * The 135 s scrape rates [s0, s1] with s0 in (110, 120] and s1 in (125, 135]; the share
///   after the step is (10 + p)/20 for p ≤ 5 and p/10 above, at least 1/2, so utilization is
///   at least (75 + 675 / 2) / 500 = 82 % (ratio 1.37, proposal ≥ 3) and at most 150 %
///   (ratio 2.5, proposal 5). The legacy path (no `behavior`) caps a step at
///   max(2 × 2, 4) = 4: the sync at ~135 s sets 3 or 4.
/// * The new pods run ~3 s after their creation (sandbox 0.5 s, pull 2 s, start 0.2 s, the
///   PLEG) and are Ready 5 s later, by ~146 s. Until a window of metrics starts after their
///   readiness they are unready or missing, which the scale-up fills in at 0: at best the
///   150 s sync sees them (ratio 1.25 over 4 ready pods: 5); at worst their first full window
///   is the 195 s scrape's (its start sample after 150 s + the 10 s housekeeping), so the 195 s
///   sync scales to 5 — with a proposal of 3 first, one more step (3 → 5 needs 4 pods'
///   1.25 or 3 pods' 500m = 100 %, ratio 1.67, ceil(5.0) = 5) fits in the same bound.
///   Hence 5 replicas within [150 s, 210 s].
#[test]
fn a_tenfold_step_reaches_five_replicas_within_the_pipeline_window() {
    let mut sim = world::build(&spike("", ""), &traced());
    let steps = replica_steps(&mut sim, 600);
    // 2 until the first scale-up, which follows the 135 s scrape (observed at the second
    // after the sync's write).
    let (first_at, first) = steps[1];
    assert!((136..=137).contains(&first_at), "{steps:?}");
    assert!(first == 3 || first == 4, "{steps:?}");
    let (five_at, five) = *steps.last().expect("a change");
    assert_eq!(five, 5, "{steps:?}");
    assert!((150..=210).contains(&five_at), "{steps:?}");
    // Never above 5 on the way, and nothing after: 5 holds to the end (10 min).
    assert!(steps.iter().all(|(_, r)| *r <= 5), "{steps:?}");
    let hpa = hpa_controller(&sim);
    let last = hpa.records().last().expect("syncs");
    assert_eq!(last.status.current_replicas, 5);
    assert_eq!(last.status.current_metrics[0].average_utilization, Some(60));
}

/// With `behavior.scaleUp` allowing one pod per minute, the same step climbs 2 → 3 → 4 → 5 a
/// minute apart: the rate policy, not the metrics, sets the pace.
///
/// The first sync that sees the step (~135 s, as above) proposes 3 to 5; the Pods policy
/// limits it to the replicas at the period's start (2) + 1 = 3. That scale-up counts against
/// the policy while it is newer than 60 s (upstream: its timestamp after `now − period`).
/// Each sync comes a few ms later than the one before — the HPA is queued again one period
/// after its sync ends, as upstream's requeue does when the informer's resync finds it still
/// queued — so the sync at ~195 s finds the event of ~135.01 s just over 60 s old: the period
/// starts at 3, the limit is 4. Likewise 5 at ~255 s. Stabilization (0 s up) plays no part.
#[test]
fn a_pods_policy_of_one_per_minute_paces_the_scale_up() {
    let behavior =
        "  behavior:\n    scaleUp:\n      policies: [{type: Pods, value: 1, periodSeconds: 60}]";
    let mut sim = world::build(&spike("", behavior), &RunOptions::default());
    let steps = replica_steps(&mut sim, 400);
    let times: Vec<u64> = steps[1..].iter().map(|(t, _)| *t).collect();
    let values: Vec<i32> = steps[1..].iter().map(|(_, r)| *r).collect();
    assert_eq!(values, [3, 4, 5], "{steps:?}");
    assert!((136..=137).contains(&times[0]), "{steps:?}");
    assert!((196..=197).contains(&times[1]), "{steps:?}");
    assert!((256..=257).contains(&times[2]), "{steps:?}");
}

/// Every sync of the HPA, as text, for comparing runs.
fn hpa_story(sim: &Simulation<World>) -> Vec<String> {
    let hpa = hpa_controller(sim);
    hpa.records()
        .iter()
        .map(|r| format!("{} {:?} {:?}", r.at, r.scale, r.status.current_metrics))
        .collect()
}

/// With noise on the spread, two runs of one seed tell the same story to the nanosecond and
/// the byte; another seed spreads the traffic differently.
#[test]
fn noisy_traffic_is_deterministic_per_seed() {
    let noisy = spike("      noise: 0.3", "");
    let run = |seed: u64| {
        let options = RunOptions {
            seed: Some(seed),
            ..traced()
        };
        let mut sim = world::build(&noisy, &options);
        sim.run_until(secs(300));
        hpa_story(&sim)
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a, b);
    assert!(a.len() > 15, "{a:?}");
    assert_ne!(a, c, "another seed draws other shares");
}

/// Loads a scenario whose `spec` ends with `spec_tail` (and a `rates.csv` of `csv` beside
/// it) and returns its path and the error it must fail with.
fn traffic_error(spec_tail: &str, csv: &str) -> (std::path::PathBuf, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("rates.csv"), csv).expect("write csv");
    let path = dir.path().join("bad.yaml");
    let text = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n{spec_tail}"
    );
    std::fs::write(&path, &text).expect("write scenario");
    match kubesim::scenario::load(&path, &world::Components) {
        Ok(_) => panic!("should not load:\n{text}"),
        Err(e) => (path, e.to_string()),
    }
}

#[test]
fn traffic_errors_name_the_field_and_point_at_it() {
    // Each entry on line 6 `    - {service: …`: `    - {` is 7 columns, so the first key
    // starts at column 8 and `service`'s value at column 17.
    let cases: [(&str, &str, &str, &[&str]); 9] = [
        (
            "  traffic:\n    - {service: a/b/c, rate: {constant: 10}}\n",
            "",
            ":6:17:",
            &[
                "spec.traffic[0].service",
                "expected a Service as name or namespace/name",
            ],
        ),
        (
            // `service: web, ` is 14 columns and `rate: {constant: 10}, ` 22, so
            // `cpuPerRequest: ` starts at column 44 and its value at 59.
            "  traffic:\n    - {service: web, rate: {constant: 10}, cpuPerRequest: 2 cores}\n",
            "",
            ":6:59:",
            &[
                "spec.traffic[0].cpuPerRequest",
                "expected a quantity such as 5m or 64Mi",
            ],
        ),
        (
            // `baseCpu: ` from column 44 too: its value at 53.
            "  traffic:\n    - {service: web, rate: {constant: 10}, baseCpu: -5m}\n",
            "",
            ":6:53:",
            &[
                "spec.traffic[0].baseCpu",
                "expected a quantity of at least 0, found \"-5m\"",
            ],
        ),
        (
            // Both ways of giving a rate: the entry itself is the place (line 6, column 7).
            "  traffic:\n    - {service: web, rate: {constant: 10}, rateFile: rates.csv}\n",
            "",
            ":6:7:",
            &[
                "spec.traffic[0].rate",
                "expected exactly one of rate and rateFile",
            ],
        ),
        (
            // The rate file's own line and column: row 3's rps `fast` is at column 5.
            "  traffic:\n    - {service: web, rateFile: rates.csv}\n",
            "time,rps\n0s,10\n60s,fast\n",
            "rates.csv:3:5:",
            &["spec.traffic[0].rateFile"],
        ),
        (
            // metrics-server refuses a resolution under 10 s. Line 5: `  metricsServer: {` is
            // 18 columns and `metricResolution: ` 18 more: the value at column 37.
            "  metricsServer: {metricResolution: 5s}\n",
            "",
            ":5:37:",
            &[
                "spec.metricsServer.metricResolution",
                "expected at least 10s (metrics-server refuses less)",
            ],
        ),
        (
            // Line 5: `  metricsAdapter: {` is 19 columns, `rateWindow: ` 12: the value at 32.
            "  metricsAdapter: {rateWindow: 0s}\n",
            "",
            ":5:32:",
            &[
                "spec.metricsAdapter.rateWindow",
                "expected a positive duration, found 0s",
            ],
        ),
        (
            // `metricName: ` is 12 columns after the 19: the value at 32.
            "  metricsAdapter: {metricName: \"\"}\n",
            "",
            ":5:32:",
            &[
                "spec.metricsAdapter.metricName",
                "expected a metric name, found an empty string",
            ],
        ),
        (
            // Line 6: `    nodePricePerHour: {` is 23 columns, `m5.large: ` 10: the price at 34.
            "  report:\n    nodePricePerHour: {m5.large: -0.1}\n",
            "",
            ":6:34:",
            &[
                "spec.report.nodePricePerHour.m5.large",
                "expected a price of at least 0",
            ],
        ),
    ];
    for (spec_tail, csv, at, wanted) in cases {
        let (path, err) = traffic_error(spec_tail, csv);
        assert!(err.contains(at), "{spec_tail}: expected {at} in: {err}");
        assert!(
            err.starts_with(&path.display().to_string()),
            "{spec_tail}: expected the scenario's path first: {err}"
        );
        for w in wanted {
            assert!(err.contains(w), "{spec_tail}: expected {w:?} in: {err}");
        }
    }
}

#[test]
fn traffic_to_a_service_no_manifest_defines_is_a_warning_at_its_entry() {
    // `wbe` is a typo: the scenario loads (a timeline could create it), with a warning at the
    // entry's `service` (line 6, `    - {service: ` is 16 columns: its value at 17).
    let text = "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {name: t}\nspec:\n  \
                traffic:\n    - {service: wbe, rate: {constant: 10}}\n---\napiVersion: v1\n\
                kind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n";
    let scenario = load_text(text, &[]);
    assert_eq!(scenario.warnings.len(), 1, "{:?}", scenario.warnings);
    let warning = &scenario.warnings[0];
    assert_eq!((warning.pos.line, warning.pos.column), (6, 17));
    assert!(
        warning
            .message
            .starts_with("no manifest of the scenario defines Service default/wbe"),
        "{}",
        warning.message
    );
    // The Service it meant draws no warning.
    let right = load_text(&text.replace("wbe", "web"), &[]);
    assert!(right.warnings.is_empty(), "{:?}", right.warnings);
}

/// The HPA's metric in the requests-per-second runs: 100 requests per second per pod, a
/// `Pods` metric the metrics adapter serves.
const RPS_PER_POD: &str = "    - type: Pods
      pods:
        metric: {name: http_requests_per_second}
        target: {type: AverageValue, averageValue: \"100\"}";

/// [`spike`] scaled on requests per second, Prometheus scraping every 15 s and the adapter's
/// rate over 1m.
fn rps_spike() -> kubesim::scenario::Scenario {
    let adapter = "  metricsAdapter: {scrapeInterval: 15s, rateWindow: 1m}";
    load_text(&spike_text(adapter, RPS_PER_POD, ""), &[])
}

/// The same tenfold step, scaled on the requests per second the metrics adapter serves: the
/// HPA reaches 1,000 / 100 = 10 replicas, the first step exactly as the rate derives.
///
/// Prometheus scrapes each pod's counter every 15 s from 0; a sync at 15 s·k + ε (ε ~10 ms)
/// reads the rate over (15 s·k + ε − 60 s, 15 s·k + ε]: the samples of 15 s·(k − 3) … 15 s·k,
/// a first sample 14.99 s after the range's start (< 1.1 × 15 s, so covered), the last ε
/// before its end: the increase over 45 s × (45 + 14.99 + ε) / 45 / 60 — the slope, when
/// the counter grew steadily.
///
/// * Before the step each pod serves 50 rps: 50 per pod of a 100 target, ratio 0.5,
///   proposal ceil(2 × 0.5) = 1, held at minReplicas 2. (The adapter truncates to milli-
///   units: 49.999… reads 49,999m.)
/// * The sync at ~135 s reads samples at 90, 105, 120 s (50 rps) and 135 s (500 rps since
///   120 s): an increase of 750 + 750 + 7,500 = 9,000 over 45 s sampled, × 60 / 45 / 60 =
///   200 rps per pod (the counter's zero point, 90 s of 50 rps back, is farther than the
///   range's start), ratio 2.0, ceil(2 × 2.0) = 4 — the legacy cap max(2 × 2, 4) = 4 too.
///   So 4 at ~136 s.
/// * Then new pods have fewer than two samples for a while and count as 0 on the way up,
///   while the old pods' window still holds their busier past; the legacy cap doubles at
///   most per sync (4 → 8 → 16). The syncs of ~150 s and ~165 s add 2 each (6, 8), and 10
///   comes once the 8 pods' windows fill, by the sync of ~210 s: a minute of window after the
///   pods that came at ~150 s are Ready, plus a sync.
/// * 10 pods serve 100 rps each, ratio 1.0: it holds. (11 would read 90.9, within the 0.1
///   tolerance, so holding at 10 is the rate's doing, not the tolerance's.)
#[test]
fn a_tenfold_step_scaled_on_requests_per_second_reaches_ten_replicas() {
    let mut sim = world::build(&rps_spike(), &traced());
    let steps = replica_steps(&mut sim, 600);
    assert_eq!(steps[1].1, 4, "{steps:?}");
    assert!((136..=137).contains(&steps[1].0), "{steps:?}");
    let (ten_at, ten) = *steps.last().expect("a change");
    assert_eq!(ten, 10, "{steps:?}");
    assert!((150..=225).contains(&ten_at), "{steps:?}");
    assert!(steps.iter().all(|(_, r)| *r <= 10), "{steps:?}");
    let hpa = hpa_controller(&sim);
    let average = |at: u64| {
        let record = hpa
            .records()
            .iter()
            .rfind(|r| r.at <= secs(at))
            .expect("a sync by then");
        let metric = &record.status.current_metrics[0];
        assert_eq!(metric.name, "http_requests_per_second");
        metric.average_value_milli.expect("an average value")
    };
    assert!((49_999..=50_000).contains(&average(120)));
    assert!((199_999..=200_000).contains(&average(136)));
    assert!((99_999..=100_000).contains(&average(600)));
}

/// The step scaled on the Service's requests per second, as an `Object` metric of the
/// Service with an average target of 100 per pod and, in a second run, as an `External`
/// metric selected by the `service` label: both end at ceil(1,000 / 100) = 10 replicas.
/// Between the two the only difference is the API the value comes from: the adapter sums
/// the same series (every pod of the Service) either way.
#[test]
fn object_and_external_request_rates_scale_to_the_total_over_the_target() {
    let adapter = "  metricsAdapter: {scrapeInterval: 15s, rateWindow: 1m}";
    let object = "    - type: Object
      object:
        describedObject: {apiVersion: v1, kind: Service, name: web}
        metric: {name: http_requests_per_second}
        target: {type: AverageValue, averageValue: \"100\"}";
    let external = "    - type: External
      external:
        metric:
          name: http_requests_per_second
          selector: {matchLabels: {service: web}}
        target: {type: AverageValue, averageValue: \"100\"}";
    for metrics in [object, external] {
        let scenario = load_text(&spike_text(adapter, metrics, ""), &[]);
        let mut sim = world::build(&scenario, &traced());
        let steps = replica_steps(&mut sim, 600);
        assert_eq!(
            steps.last().map(|(_, r)| *r),
            Some(10),
            "{metrics}: {steps:?}"
        );
        let hpa = hpa_controller(&sim);
        let last = hpa.records().last().expect("syncs");
        // The total of 1,000 rps over 10 replicas: 100 each (99.999… truncated to milli).
        let average = last.status.current_metrics[0].average_value_milli;
        assert!(
            matches!(average, Some(99_999..=100_000)),
            "{metrics}: {average:?}"
        );
    }
}

/// A metric the adapter does not serve fails as prometheus-adapter's 404 does: no count,
/// ScalingActive False, the replicas kept.
#[test]
fn a_metric_the_adapter_does_not_serve_leaves_the_replicas() {
    let unknown = RPS_PER_POD.replace("http_requests_per_second", "queue_depth");
    let scenario = load_text(&spike_text("", &unknown, ""), &[]);
    let mut sim = world::build(&scenario, &traced());
    let steps = replica_steps(&mut sim, 300);
    assert_eq!(steps, [(0, 2)]);
    let hpa = hpa_controller(&sim);
    let last = hpa.records().last().expect("syncs");
    let active = last
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "ScalingActive")
        .expect("ScalingActive");
    assert_eq!(
        (active.status.as_str(), active.reason.as_str()),
        ("False", "FailedGetPodsMetric")
    );
    assert!(
        active
            .message
            .contains("could not find the metric queue_depth"),
        "{}",
        active.message
    );
}
