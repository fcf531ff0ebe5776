//! One HPA sync (upstream `reconcileAutoscaler` and `computeReplicasForMetrics`), as a pure
//! function of what the controller read: the HPA, its target's scale, the target's pods, the
//! metrics, the controller's settings and its [`History`] of the HPA, at a virtual time. It
//! returns the status to write, the scale to set (if any) and what each metric proposed, so
//! the component that sends the requests and `kubesim explain --hpa` read the same story.
//!
//! The scale write is assumed to succeed; the component calls [`History::record_scale`] once
//! it has, or [`rescale_failed`] when it has not.

use super::normalize::{Behavior, History, Normalized, normalize_legacy, normalize_with_behavior};
use super::replica_calculator::{
    PodMetrics, Proposal, Readiness, Sample, average_value_replicas, plain_metric_replicas,
    ready_pod_count, resource_replicas, value_replicas,
};
use super::{MetricOutcome, combine_proposals, tolerances};
use crate::api::hpa::{
    HorizontalPodAutoscaler, HpaCondition, HpaStatus, MetricIdentifier, MetricSpec, MetricStatus,
    MetricTarget,
};
use crate::api::pod::Pod;
use crate::sim::{SimDuration, SimTime};

/// The condition types.
pub const ABLE_TO_SCALE: &str = "AbleToScale";
/// See [`ABLE_TO_SCALE`].
pub const SCALING_ACTIVE: &str = "ScalingActive";
/// See [`ABLE_TO_SCALE`].
pub const SCALING_LIMITED: &str = "ScalingLimited";

/// The controller's settings a sync reads (kube-controller-manager's flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HpaSettings {
    /// `--horizontal-pod-autoscaler-tolerance` (0.1).
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (5 min).
    pub downscale_stabilization: SimDuration,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` and
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`.
    pub readiness: Readiness,
}

impl Default for HpaSettings {
    fn default() -> Self {
        HpaSettings {
            tolerance: super::DEFAULT_TOLERANCE,
            downscale_stabilization: SimDuration::from_mins(5),
            readiness: Readiness::default(),
        }
    }
}

/// The target's `/scale` subresource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// `spec.replicas`: what the target is asked for.
    pub spec_replicas: i32,
    /// `status.replicas`: what it has.
    pub status_replicas: i32,
}

/// Where the controller's metrics clients read values, in milli-units.
pub trait MetricsSource {
    /// Each pod's value of `resource` (of `container` alone when named) from the Metrics API;
    /// a pod whose containers lack the resource is absent.
    fn resource(&self, resource: &str, container: Option<&str>) -> Result<PodMetrics, String>;
    /// Each pod's value of the custom metric `metric`.
    fn pods(&self, metric: &MetricIdentifier) -> Result<PodMetrics, String>;
    /// The custom metric `name` of the object `spec` describes.
    fn object(&self, spec: &MetricSpec, name: &str) -> Result<i64, String>;
    /// The values of the external metric `metric` (summed by the controller).
    fn external(&self, metric: &MetricIdentifier) -> Result<Vec<i64>, String>;
}

/// What one metric did in a sync.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricExplanation {
    /// The metric's name as the controller reports it.
    pub name: String,
    /// The replicas it proposed, or why it could not.
    pub outcome: Result<i32, String>,
    /// The per-pod calculation (Resource, ContainerResource and Pods metrics).
    pub calculation: Option<Proposal>,
    /// The per-pod values the calculation read (empty for Object and External metrics).
    pub values: PodMetrics,
}

/// What one sync decided.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOutcome {
    /// The status to write.
    pub status: HpaStatus,
    /// The replicas to set on the target, when they change.
    pub rescale: Option<i32>,
    /// Why (`cpu resource utilization (percentage of request) above target`, …).
    pub reason: String,
    /// Each metric's part, in the order of `spec.metrics`.
    pub metrics: Vec<MetricExplanation>,
    /// The normalization, when the metrics gave a proposal.
    pub normalized: Option<Normalized>,
    /// Why no replica count could be computed (`FailedComputeMetricsReplicas`).
    pub error: Option<String>,
}

/// The metrics an HPA without any declares: CPU at 80 % utilization.
fn default_metrics() -> Vec<MetricSpec> {
    vec![MetricSpec {
        type_: "Resource".into(),
        resource: Some(crate::api::hpa::ResourceMetricSource {
            name: "cpu".into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(80),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    }]
}

/// Sets a condition, adding it if absent; its transition time moves only when its status
/// does (upstream `setConditionInList`).
pub fn set_condition(
    conditions: &mut Vec<HpaCondition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    now: SimTime,
) {
    let status = if status { "True" } else { "False" };
    let i = match conditions.iter().position(|c| c.type_ == type_) {
        Some(i) => i,
        None => {
            conditions.push(HpaCondition {
                type_: type_.to_string(),
                ..HpaCondition::default()
            });
            conditions.len() - 1
        }
    };
    let c = &mut conditions[i];
    if c.status != status {
        c.last_transition_time = now;
    }
    c.status = status.to_string();
    c.reason = reason.to_string();
    c.message = message;
}

/// What one sync reads.
#[derive(Clone, Copy)]
pub struct SyncInput<'a> {
    /// The HPA, as the controller's informer has it.
    pub hpa: &'a HorizontalPodAutoscaler,
    /// Its target's scale.
    pub scale: Scale,
    /// The pods the target's selector selects.
    pub pods: &'a [&'a Pod],
    /// The metrics.
    pub source: &'a dyn MetricsSource,
    /// The controller's settings.
    pub settings: &'a HpaSettings,
    /// The sync's time.
    pub now: SimTime,
}

/// One sync (upstream `reconcileAutoscaler` from the point the scale was read).
pub fn sync(input: &SyncInput<'_>, history: &mut History) -> SyncOutcome {
    let (hpa, now) = (input.hpa, input.now);
    let mut status = hpa.status.clone();
    set_condition(
        &mut status.conditions,
        ABLE_TO_SCALE,
        true,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale".into(),
        now,
    );
    let current = input.scale.spec_replicas;
    history.record_initial(current, now);
    let min = hpa.spec.min_replicas.unwrap_or(1);
    let max = hpa.spec.max_replicas;
    let mut outcome = SyncOutcome {
        status: HpaStatus::default(),
        rescale: None,
        reason: String::new(),
        metrics: Vec::new(),
        normalized: None,
        error: None,
    };
    let mut metric_statuses = Vec::new();
    let rescale = if current == 0 && min != 0 {
        set_condition(
            &mut status.conditions,
            SCALING_ACTIVE,
            false,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".into(),
            now,
        );
        None
    } else if current > max {
        outcome.reason = "Current number of replicas above Spec.MaxReplicas".into();
        Some(max)
    } else if current < min {
        outcome.reason = "Current number of replicas below Spec.MinReplicas".into();
        Some(min)
    } else {
        let bounds = (min, max);
        match from_metrics(input, bounds, history, &mut status, &mut outcome) {
            Some((desired, metrics)) => {
                metric_statuses = metrics;
                Some(desired).filter(|d| *d != current)
            }
            None => {
                // Upstream `setCurrentReplicasInStatus`: the desired replicas and the metrics
                // of the last good sync stay.
                status.current_replicas = current;
                outcome.status = status;
                return outcome;
            }
        }
    };
    if let Some(desired) = rescale {
        set_condition(
            &mut status.conditions,
            ABLE_TO_SCALE,
            true,
            "SucceededRescale",
            format!("the HPA controller was able to update the target scale to {desired}"),
            now,
        );
        status.last_scale_time = Some(now);
    }
    outcome.rescale = rescale;
    status.current_replicas = current;
    status.desired_replicas = rescale.unwrap_or(current);
    status.current_metrics = metric_statuses;
    outcome.status = status;
    outcome
}

/// The replicas the metrics ask for once normalized, and the metrics' status entries; `None`
/// when the metrics give no count (ScalingActive False with the first failed metric's
/// reason, `outcome.error` set).
fn from_metrics(
    input: &SyncInput<'_>,
    (min, max): (i32, i32),
    history: &mut History,
    status: &mut HpaStatus,
    outcome: &mut SyncOutcome,
) -> Option<(i32, Vec<MetricStatus>)> {
    let (hpa, now, current) = (input.hpa, input.now, input.scale.spec_replicas);
    let defaults;
    let specs: &[MetricSpec] = if hpa.spec.metrics.is_empty() {
        defaults = default_metrics();
        &defaults
    } else {
        &hpa.spec.metrics
    };
    // Each metric reads its own values into a copy of this sample.
    let sample = Sample {
        pods: input.pods,
        metrics: &PodMetrics::new(),
        tolerances: tolerances(hpa.spec.behavior.as_ref(), input.settings.tolerance),
        readiness: input.settings.readiness,
        now,
    };
    let mut outcomes = Vec::new();
    let mut metric_statuses = Vec::new();
    for spec in specs {
        let (explanation, metric_status) = compute_metric(spec, input.scale, &sample, input.source);
        outcomes.push(MetricOutcome {
            name: explanation.name.clone(),
            proposal: explanation.outcome.clone(),
        });
        metric_statuses.push(metric_status);
        outcome.metrics.push(explanation);
    }
    let (proposal, metric) = match combine_proposals(current, &outcomes) {
        Ok(best) => best,
        Err(invalid) => {
            set_condition(
                &mut status.conditions,
                SCALING_ACTIVE,
                false,
                failure_reason(&specs[invalid.first_index]),
                format!(
                    "the HPA was unable to compute the replica count: {}",
                    invalid.first
                ),
                now,
            );
            outcome.error = Some(invalid.to_string());
            return None;
        }
    };
    set_condition(
        &mut status.conditions,
        SCALING_ACTIVE,
        true,
        "ValidMetricFound",
        format!("the HPA was able to successfully calculate a replica count from {metric}"),
        now,
    );
    if proposal > current {
        outcome.reason = format!("{metric} above target");
    } else if proposal < current {
        outcome.reason = "All metrics below target".into();
    }
    let window = input.settings.downscale_stabilization;
    let n = match &hpa.spec.behavior {
        None => normalize_legacy(history, current, proposal, min, max, window, now),
        Some(b) => {
            let behavior = Behavior::new(b, window);
            normalize_with_behavior(history, &behavior, current, proposal, min, max, now)
        }
    };
    let (able, limited) = (&n.able_to_scale, &n.scaling_limited);
    set_condition(
        &mut status.conditions,
        ABLE_TO_SCALE,
        true,
        able.reason,
        able.message.into(),
        now,
    );
    set_condition(
        &mut status.conditions,
        SCALING_LIMITED,
        n.limited,
        limited.reason,
        limited.message.into(),
        now,
    );
    let replicas = n.replicas;
    outcome.normalized = Some(n);
    Some((replicas, metric_statuses))
}

/// The ScalingActive reason when a metric of `spec`'s type cannot be read.
fn failure_reason(spec: &MetricSpec) -> &'static str {
    match spec.type_.as_str() {
        "Object" => "FailedGetObjectMetric",
        "Pods" => "FailedGetPodsMetric",
        "Resource" => "FailedGetResourceMetric",
        "ContainerResource" => "FailedGetContainerResourceMetric",
        "External" => "FailedGetExternalMetric",
        _ => "InvalidMetricSourceType",
    }
}

/// One metric of a sync (upstream `computeReplicasForMetric`): its explanation and its status
/// entry.
fn compute_metric(
    spec: &MetricSpec,
    scale: Scale,
    sample: &Sample<'_>,
    source: &dyn MetricsSource,
) -> (MetricExplanation, MetricStatus) {
    let mut status = MetricStatus {
        type_: spec.type_.clone(),
        ..MetricStatus::default()
    };
    let result = match spec.type_.as_str() {
        "Resource" | "ContainerResource" => {
            resource_metric(spec, scale, sample, source, &mut status)
        }
        "Pods" => pods_metric(spec, scale, sample, source, &mut status),
        "Object" | "External" => value_metric(spec, scale, sample, source, &mut status),
        other => Err(format!("unknown metric source type {other:?}")),
    };
    let explanation = match result {
        Ok((name, replicas, calculation)) => {
            let (calculation, values) = calculation.unzip();
            MetricExplanation {
                name,
                outcome: Ok(replicas),
                calculation,
                values: values.unwrap_or_default(),
            }
        }
        Err(message) => MetricExplanation {
            name: String::new(),
            outcome: Err(message),
            calculation: None,
            values: PodMetrics::new(),
        },
    };
    (explanation, status)
}

/// A metric's name, replicas and per-pod calculation with the values it read; or its error
/// message (upstream names no metric when it fails).
type Computed = Result<(String, i32, Option<(Proposal, PodMetrics)>), String>;

fn resource_metric(
    spec: &MetricSpec,
    scale: Scale,
    sample: &Sample<'_>,
    source: &dyn MetricsSource,
    status: &mut MetricStatus,
) -> Computed {
    let (resource, container, target) = match (&spec.resource, &spec.container_resource) {
        (Some(r), _) if spec.type_ == "Resource" => (r.name.as_str(), None, &r.target),
        (_, Some(c)) if spec.type_ == "ContainerResource" => {
            (c.name.as_str(), Some(c.container.as_str()), &c.target)
        }
        _ => {
            return Err(format!("the {} metric source is not set", spec.type_));
        }
    };
    status.name = resource.to_string();
    let what = if target.average_value.is_some() {
        "usage"
    } else {
        "utilization"
    };
    let failed = |e: String| {
        let inner = format!("failed to get {resource} {what}: {e}");
        match container {
            None => format!("failed to get {resource} resource metric value: {inner}"),
            Some(c) => format!("failed to get {c} container metric value: {inner}"),
        }
    };
    let values = source.resource(resource, container).map_err(|e| {
        let e = format!("unable to get metrics for resource {resource}: {e}");
        failed(e)
    })?;
    let sample = Sample {
        metrics: &values,
        ..*sample
    };
    if let Some(average) = &target.average_value {
        let p = plain_metric_replicas(
            scale.spec_replicas,
            average.milli_value(),
            resource,
            &sample,
        )
        .map_err(|e| failed(e.to_string()))?;
        status.average_value_milli = Some(p.average);
        return Ok((
            format!("{resource} resource"),
            p.replicas,
            Some((p, values)),
        ));
    }
    let Some(utilization) = target.average_utilization else {
        return Err(
            "invalid resource metric source: neither an average utilization target nor an \
             average value (usage) target was set"
                .into(),
        );
    };
    let p = resource_replicas(
        scale.spec_replicas,
        utilization,
        resource,
        container,
        &sample,
    )
    .map_err(|e| failed(e.to_string()))?;
    status.average_utilization = Some(p.utilization);
    status.average_value_milli = Some(p.average);
    let kind = if container.is_some() {
        "container resource"
    } else {
        "resource"
    };
    Ok((
        format!("{resource} {kind} utilization (percentage of request)"),
        p.replicas,
        Some((p, values)),
    ))
}

fn pods_metric(
    spec: &MetricSpec,
    scale: Scale,
    sample: &Sample<'_>,
    source: &dyn MetricsSource,
    status: &mut MetricStatus,
) -> Computed {
    let Some(pods) = &spec.pods else {
        return Err("the Pods metric source is not set".into());
    };
    let name = &pods.metric.name;
    status.name = name.clone();
    let failed = |e: String| format!("failed to get pods metric value: {e}");
    let values = source
        .pods(&pods.metric)
        .map_err(|e| failed(format!("unable to get metric {name}: {e}")))?;
    let target = pods
        .target
        .average_value
        .map(|q| q.milli_value())
        .unwrap_or(0);
    let sample = Sample {
        metrics: &values,
        ..*sample
    };
    let p = plain_metric_replicas(scale.spec_replicas, target, "", &sample)
        .map_err(|e| failed(e.to_string()))?;
    status.average_value_milli = Some(p.average);
    Ok((format!("pods metric {name}"), p.replicas, Some((p, values))))
}

fn value_metric(
    spec: &MetricSpec,
    scale: Scale,
    sample: &Sample<'_>,
    source: &dyn MetricsSource,
    status: &mut MetricStatus,
) -> Computed {
    let object = spec.type_ == "Object";
    let named = if object { &spec.object } else { &spec.external };
    let Some(named) = named else {
        return Err(format!("the {} metric source is not set", spec.type_));
    };
    let name = &named.metric.name;
    status.name = name.clone();
    let (label, failed) = if object {
        let kind = &named.described_object.kind;
        (
            format!("{kind} metric {name}"),
            "failed to get object metric value",
        )
    } else {
        (
            format!("external metric {name}"),
            "failed to get external metric value",
        )
    };
    let usage = if object {
        source.object(spec, name)
    } else {
        source
            .external(&named.metric)
            .map(|values| values.into_iter().fold(0i64, i64::saturating_add))
    }
    .map_err(|e| format!("{failed}: unable to get metric {name}: {e}"))?;
    let target = &named.target;
    let tolerances = sample.tolerances;
    if let Some(average) = &target.average_value {
        let (replicas, average) = average_value_replicas(
            scale.status_replicas,
            usage,
            average.milli_value(),
            tolerances,
        );
        status.average_value_milli = Some(average);
        return Ok((label, replicas, None));
    }
    let Some(value) = &target.value else {
        return Err(format!(
            "{failed}: invalid {} metric source: neither a value target nor an average value target was set",
            spec.type_.to_lowercase()
        ));
    };
    let (replicas, _) = value_replicas(
        scale.spec_replicas,
        usage,
        value.milli_value(),
        tolerances,
        || ready_pod_count(sample.pods),
    )
    .map_err(|e| format!("{failed}: unable to calculate ready pods: {e}"))?;
    status.value_milli = Some(usage);
    Ok((label, replicas, None))
}

/// The status after a failed scale write (upstream: AbleToScale False `FailedUpdateScale`, the
/// replicas and the last scale time as they were).
pub fn rescale_failed(
    status: &mut HpaStatus,
    previous_scale_time: Option<SimTime>,
    error: &str,
    now: SimTime,
) {
    status.last_scale_time = previous_scale_time;
    set_condition(
        &mut status.conditions,
        ABLE_TO_SCALE,
        false,
        "FailedUpdateScale",
        format!("the HPA controller was unable to update the target scale: {error}"),
        now,
    );
    status.desired_replicas = status.current_replicas;
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
