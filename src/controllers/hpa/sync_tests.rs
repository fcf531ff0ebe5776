//! Whole syncs: what the status, the conditions and the scale become, each number derived in
//! the test's comment. Pods request 100m CPU, are Running and Ready since 10 s; the sync is at
//! 1,000 s.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::api::hpa::{
    HpaBehavior, HpaSpec, MetricIdentifier, NamedMetricSource, ResourceMetricSource,
};
use crate::api::pod::{Container, POD_READY, PodCondition, PodPhase, PodSpec};
use crate::api::quantity::Quantity;
use crate::controllers::hpa::replica_calculator::PodMetric;

const NOW: SimTime = SimTime::from_nanos(1_000_000_000_000);

fn pod(name: &str) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = name.into();
    let mut c = Container {
        name: "app".into(),
        ..Container::default()
    };
    c.resources
        .requests
        .insert("cpu".into(), Quantity::from_milli(100));
    p.spec = Arc::new(PodSpec {
        containers: vec![c],
        ..PodSpec::default()
    });
    p.status.phase = PodPhase::Running;
    p.status.start_time = Some(SimTime::ZERO);
    p.status.conditions.push(PodCondition {
        type_: POD_READY.into(),
        status: "True".into(),
        last_transition_time: SimTime::from_nanos(10_000_000_000),
        ..PodCondition::default()
    });
    p
}

/// Values per pod for every resource and custom metric; external values by name.
#[derive(Default)]
struct Fake {
    cpu: BTreeMap<String, i64>,
    pods: Option<BTreeMap<String, i64>>,
    external: BTreeMap<String, Vec<i64>>,
}

fn values(m: &BTreeMap<String, i64>) -> PodMetrics {
    m.iter()
        .map(|(pod, v)| {
            let metric = PodMetric {
                value: *v,
                timestamp: SimTime::from_nanos(NOW.as_nanos() - 5_000_000_000),
                window: SimDuration::from_secs(15),
            };
            (pod.clone(), metric)
        })
        .collect()
}

impl MetricsSource for Fake {
    fn resource(&self, _: &str, _: Option<&str>) -> Result<PodMetrics, String> {
        Ok(values(&self.cpu))
    }
    fn pods(&self, _: &MetricIdentifier) -> Result<PodMetrics, String> {
        self.pods
            .as_ref()
            .map(values)
            .ok_or_else(|| "no such metric".to_string())
    }
    fn object(&self, _: &MetricSpec, _: &str) -> Result<i64, String> {
        Err("no object metrics".into())
    }
    fn external(&self, metric: &MetricIdentifier) -> Result<Vec<i64>, String> {
        self.external
            .get(&metric.name)
            .cloned()
            .ok_or_else(|| "no such metric".to_string())
    }
}

fn cpu_usage(per_pod: &[(&str, i64)]) -> Fake {
    Fake {
        cpu: per_pod.iter().map(|(p, v)| (p.to_string(), *v)).collect(),
        ..Fake::default()
    }
}

fn cpu_metric(utilization: i32) -> MetricSpec {
    MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: "cpu".into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(utilization),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    }
}

fn hpa(min: i32, max: i32, metrics: Vec<MetricSpec>) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        spec: HpaSpec {
            min_replicas: Some(min),
            max_replicas: max,
            metrics,
            ..HpaSpec::default()
        },
        ..HorizontalPodAutoscaler::default()
    }
}

fn run(h: &HorizontalPodAutoscaler, replicas: i32, pods: &[Pod], source: &Fake) -> SyncOutcome {
    let refs: Vec<&Pod> = pods.iter().collect();
    let scale = Scale {
        spec_replicas: replicas,
        status_replicas: replicas,
    };
    let input = SyncInput {
        hpa: h,
        scale,
        pods: &refs,
        source,
        settings: &HpaSettings::default(),
        now: NOW,
    };
    sync(&input, &mut History::default())
}

fn condition<'a>(s: &'a HpaStatus, type_: &str) -> (&'a str, &'a str) {
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} in {:?}", s.conditions));
    (c.status.as_str(), c.reason.as_str())
}

fn three_pods() -> Vec<Pod> {
    vec![pod("p0"), pod("p1"), pod("p2")]
}

#[test]
fn a_cpu_scale_up_on_the_legacy_path() {
    // 3 pods at 100m of 100m: 100 % against 50 %, ratio 2: ceil(2 × 3) = 6; the legacy limit
    // max(2 × 3, 4) = 6 lets it through.
    let h = hpa(1, 10, vec![cpu_metric(50)]);
    let got = run(
        &h,
        3,
        &three_pods(),
        &cpu_usage(&[("p0", 100), ("p1", 100), ("p2", 100)]),
    );
    assert_eq!(got.rescale, Some(6));
    assert_eq!(
        got.reason,
        "cpu resource utilization (percentage of request) above target"
    );
    let s = &got.status;
    assert_eq!((s.current_replicas, s.desired_replicas), (3, 6));
    assert_eq!(s.last_scale_time, Some(NOW));
    assert_eq!(condition(s, ABLE_TO_SCALE), ("True", "SucceededRescale"));
    assert_eq!(condition(s, SCALING_ACTIVE), ("True", "ValidMetricFound"));
    assert_eq!(
        condition(s, SCALING_LIMITED),
        ("False", "DesiredWithinRange")
    );
    assert_eq!(
        s.current_metrics,
        [MetricStatus {
            type_: "Resource".into(),
            name: "cpu".into(),
            average_utilization: Some(100),
            average_value_milli: Some(100),
            value_milli: None,
        }]
    );
}

#[test]
fn without_metrics_the_hpa_targets_80_percent_cpu_and_stabilizes_a_scale_down() {
    // No metrics: CPU at 80 %. 40m of 100m is 40 %, ratio 0.5: ceil(0.5 × 3) = 2. The first
    // recommendation (3, the current count) is 0 s old, inside the 5 min window: stay at 3.
    let h = hpa(1, 10, Vec::new());
    let got = run(
        &h,
        3,
        &three_pods(),
        &cpu_usage(&[("p0", 40), ("p1", 40), ("p2", 40)]),
    );
    assert_eq!(got.rescale, None);
    assert_eq!(got.metrics[0].outcome, Ok(2));
    assert_eq!(got.status.desired_replicas, 3);
    assert_eq!(
        condition(&got.status, ABLE_TO_SCALE),
        ("True", "ScaleDownStabilized")
    );
}

#[test]
fn a_failed_metric_stops_a_scale_down_on_partial_data() {
    // cpu proposes 2 (as above, target 80 %), the Pods metric cannot be read: 2 < 3 would
    // scale down on partial data, so the sync fails with the Pods metric's condition.
    let rps = MetricSpec {
        type_: "Pods".into(),
        pods: Some(NamedMetricSource {
            metric: MetricIdentifier {
                name: "rps".into(),
                selector: None,
            },
            target: MetricTarget {
                type_: "AverageValue".into(),
                average_value: Some(Quantity::from_milli(10_000)),
                ..MetricTarget::default()
            },
            ..NamedMetricSource::default()
        }),
        ..MetricSpec::default()
    };
    let h = hpa(1, 10, vec![cpu_metric(80), rps]);
    let got = run(
        &h,
        3,
        &three_pods(),
        &cpu_usage(&[("p0", 40), ("p1", 40), ("p2", 40)]),
    );
    assert_eq!(got.rescale, None);
    assert_eq!(
        condition(&got.status, SCALING_ACTIVE),
        ("False", "FailedGetPodsMetric")
    );
    assert_eq!(
        got.error.as_deref(),
        Some(
            "invalid metrics (1 invalid out of 2), first error is: failed to get pods metric \
             value: unable to get metric rps: no such metric"
        )
    );
    // The status keeps the desired replicas and metrics of the last good sync (none here).
    assert_eq!(got.status.desired_replicas, 0);
    assert!(got.status.current_metrics.is_empty());
    let message = &got.status.conditions[1].message;
    assert!(
        message.starts_with("the HPA was unable to compute the replica count: failed to get pods"),
        "{message}"
    );
}

#[test]
fn a_target_at_zero_replicas_disables_scaling_and_bounds_apply_first() {
    let h = hpa(1, 10, vec![cpu_metric(50)]);
    let got = run(&h, 0, &[], &Fake::default());
    assert_eq!(got.rescale, None);
    assert_eq!(
        condition(&got.status, SCALING_ACTIVE),
        ("False", "ScalingDisabled")
    );
    // 12 replicas above maxReplicas 10: back to 10 without reading a metric.
    let got = run(&h, 12, &[], &Fake::default());
    assert_eq!(got.rescale, Some(10));
    assert_eq!(
        got.reason,
        "Current number of replicas above Spec.MaxReplicas"
    );
    assert!(got.metrics.is_empty());
}

#[test]
fn an_external_value_scales_by_the_ready_pods_within_the_default_behavior() {
    // queue_depth 3 + 2 = 5 against a value target of 1: ratio 5 × 3 ready pods = 15. The
    // default behavior lets 3 grow to max(3 + 4, 3 × 2) = 7 in 15 s: ScalingLimited.
    let queue = MetricSpec {
        type_: "External".into(),
        external: Some(NamedMetricSource {
            metric: MetricIdentifier {
                name: "queue_depth".into(),
                selector: None,
            },
            target: MetricTarget {
                type_: "Value".into(),
                value: Some(Quantity::from_milli(1000)),
                ..MetricTarget::default()
            },
            ..NamedMetricSource::default()
        }),
        ..MetricSpec::default()
    };
    let mut h = hpa(1, 20, vec![queue]);
    h.spec.behavior = Some(HpaBehavior::default());
    let source = Fake {
        external: BTreeMap::from([("queue_depth".to_string(), vec![3000, 2000])]),
        ..Fake::default()
    };
    let got = run(&h, 3, &three_pods(), &source);
    assert_eq!(got.metrics[0].name, "external metric queue_depth");
    assert_eq!(got.metrics[0].outcome, Ok(15));
    assert_eq!(got.rescale, Some(7));
    assert_eq!(
        condition(&got.status, SCALING_LIMITED),
        ("True", "ScaleUpLimit")
    );
    assert_eq!(got.status.current_metrics[0].value_milli, Some(5000));
}

#[test]
fn a_failed_scale_write_is_reported_and_undone_in_the_status() {
    let h = hpa(1, 10, vec![cpu_metric(50)]);
    let mut got = run(
        &h,
        3,
        &three_pods(),
        &cpu_usage(&[("p0", 100), ("p1", 100), ("p2", 100)]),
    );
    rescale_failed(&mut got.status, None, "conflict", NOW);
    assert_eq!(
        condition(&got.status, ABLE_TO_SCALE),
        ("False", "FailedUpdateScale")
    );
    assert_eq!(got.status.desired_replicas, 3);
    assert_eq!(got.status.last_scale_time, None);
}

#[test]
fn a_condition_keeps_its_transition_time_while_its_status_holds() {
    let mut conditions = Vec::new();
    let t = |s: u64| SimTime::from_nanos(s * 1_000_000_000);
    set_condition(&mut conditions, ABLE_TO_SCALE, true, "A", "a".into(), t(1));
    set_condition(&mut conditions, ABLE_TO_SCALE, true, "B", "b".into(), t(2));
    assert_eq!(
        (
            conditions[0].reason.as_str(),
            conditions[0].last_transition_time
        ),
        ("B", t(1))
    );
    set_condition(&mut conditions, ABLE_TO_SCALE, false, "C", "c".into(), t(3));
    assert_eq!(conditions[0].last_transition_time, t(3));
    assert_eq!(conditions.len(), 1);
}
