//! The HPA's replica calculator (upstream `pkg/controller/podautoscaler/replica_calculator.go`
//! and the ratio helpers of `podautoscaler/metrics/utilization.go`): from one metric's values
//! and the target's pods, the replica count that metric proposes.
//!
//! Every function is pure: the controller hands in the pods its informer lists for the
//! target's selector, the values its metrics client read, and the virtual time. What each
//! calculation saw (the pods grouped ready / unready / missing / ignored, the ratio before and
//! after filling in the pods without usable values) comes back with the proposal, so that
//! `kubesim explain --hpa` can show it.
//!
//! Values are milli-units, as upstream's `MilliValue()`: CPU in millicores, memory in
//! thousandths of a byte, custom metrics in thousandths.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::pod::{POD_READY, Pod, PodPhase};
use crate::sim::{SimDuration, SimTime};

/// The CPU resource name: the only one whose samples are filtered by readiness.
pub const CPU: &str = "cpu";

/// The usage ratios a metric may stray from 1.0 without a change of scale
/// (`--horizontal-pod-autoscaler-tolerance`, or the HPA's own per direction).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// How far below 1.0 a ratio may fall.
    pub scale_down: f64,
    /// How far above 1.0 a ratio may rise.
    pub scale_up: f64,
}

impl Tolerances {
    /// The same tolerance both ways.
    pub fn both(tolerance: f64) -> Self {
        Tolerances {
            scale_down: tolerance,
            scale_up: tolerance,
        }
    }

    /// Whether `ratio` asks for no change (upstream `isWithin`: both bounds inclusive).
    pub fn is_within(&self, ratio: f64) -> bool {
        (1.0 - self.scale_down) <= ratio && ratio <= (1.0 + self.scale_up)
    }
}

/// The controller's readiness settings for CPU samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min).
    pub cpu_initialization_period: SimDuration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s).
    pub initial_readiness_delay: SimDuration,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            cpu_initialization_period: SimDuration::from_mins(5),
            initial_readiness_delay: SimDuration::from_secs(30),
        }
    }
}

/// One pod's value as the metrics API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodMetric {
    /// The value, in milli-units.
    pub value: i64,
    /// The end of the window the value was measured over.
    pub timestamp: SimTime,
    /// The window's length.
    pub window: SimDuration,
}

/// Pod values by pod name (upstream `PodMetricsInfo`).
pub type PodMetrics = BTreeMap<String, PodMetric>;

/// What a per-pod calculation reads: the target's pods (the informer's list for its
/// selector), the metric's values, and the controller's settings at the sync's time.
#[derive(Clone, Copy, Debug)]
pub struct Sample<'a> {
    /// The pods the target's selector selects.
    pub pods: &'a [&'a Pod],
    /// The metric's value per pod.
    pub metrics: &'a PodMetrics,
    /// The HPA's tolerances.
    pub tolerances: Tolerances,
    /// The controller's readiness settings.
    pub readiness: Readiness,
    /// The sync's time.
    pub now: SimTime,
}

/// Why a metric proposes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalculationError {
    /// The selector selects no pod.
    #[error("no pods returned by selector while calculating replica count")]
    NoPods,
    /// Every pod with a value was unready or ignored.
    #[error("did not receive metrics for targeted pods (pods might be unready)")]
    NoUsableMetrics,
    /// A container of a pod does not request the resource.
    #[error("missing request for {resource} in container {container} of Pod {pod}")]
    MissingRequest {
        /// The resource.
        resource: String,
        /// The container.
        container: String,
        /// The pod.
        pod: String,
    },
    /// A ContainerResource metric names a container the pod does not have.
    #[error("container {container} not found in Pod {pod}")]
    ContainerNotFound {
        /// The container.
        container: String,
        /// The pod.
        pod: String,
    },
    /// No pod with a value has a request.
    #[error("no metrics returned matched known pods")]
    NoMatchingPods,
}

/// The target's pods as one calculation sorted them (upstream `groupPods`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodGroups {
    /// Pods whose values count as they are.
    pub ready: BTreeSet<String>,
    /// Pending pods, and for CPU pods not ready or still warming up: left out, or counted
    /// at 0 on a scale-up.
    pub unready: BTreeSet<String>,
    /// Running pods without a value: counted at the target on a scale-down, 0 on a scale-up.
    pub missing: BTreeSet<String>,
    /// Pods being deleted or Failed: never counted.
    pub ignored: BTreeSet<String>,
}

/// What one metric proposes and how it got there.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// The replica count the metric asks for.
    pub replicas: i32,
    /// The usage ratio of the ready pods' values to the target.
    pub ratio: f64,
    /// The ratio again with the unready and missing pods filled in, when they had to be.
    pub adjusted_ratio: Option<f64>,
    /// The utilization in percent of the requests (Utilization targets), else 0.
    pub utilization: i32,
    /// The average value per ready pod, in milli-units.
    pub average: i64,
    /// How the pods were sorted.
    pub groups: PodGroups,
}

/// Sorts the target's pods (upstream `groupPods`).
pub fn group_pods(
    pods: &[&Pod],
    metrics: &PodMetrics,
    resource: &str,
    readiness: Readiness,
    now: SimTime,
) -> PodGroups {
    let mut groups = PodGroups::default();
    for pod in pods {
        let name = pod.metadata.name.clone();
        if pod.metadata.is_terminating() || pod.status.phase == PodPhase::Failed {
            groups.ignored.insert(name);
            continue;
        }
        if pod.status.phase == PodPhase::Pending {
            groups.unready.insert(name);
            continue;
        }
        let Some(metric) = metrics.get(&name) else {
            groups.missing.insert(name);
            continue;
        };
        if resource == CPU && cpu_sample_unusable(pod, metric, readiness, now) {
            groups.unready.insert(name);
            continue;
        }
        groups.ready.insert(name);
    }
    groups
}

/// Whether a pod's CPU sample must be left out: no Ready condition or start time; within the
/// initialization period, not ready or sampled partly before it became ready; after it, not
/// ready and never ready since its start (the first readiness came later than the initial
/// readiness delay allows, so it is still the one from the start).
fn cpu_sample_unusable(pod: &Pod, metric: &PodMetric, readiness: Readiness, now: SimTime) -> bool {
    let (Some(ready), Some(start)) = (pod.status.condition(POD_READY), pod.status.start_time)
    else {
        return true;
    };
    let not_ready = ready.status == "False";
    if start + readiness.cpu_initialization_period > now {
        not_ready || metric.timestamp < ready.last_transition_time + metric.window
    } else {
        not_ready && start + readiness.initial_readiness_delay > ready.last_transition_time
    }
}

/// Each pod's request of `resource`, in milli-units: of `container` alone when named, else
/// of its containers and sidecars (upstream `calculateRequests`; a request the apiserver
/// defaulted from a limit counts).
pub fn pod_requests(
    pods: &[&Pod],
    container: Option<&str>,
    resource: &str,
) -> Result<BTreeMap<String, i64>, CalculationError> {
    let mut requests = BTreeMap::new();
    for pod in pods {
        requests.insert(
            pod.metadata.name.clone(),
            pod_request(pod, container, resource)?,
        );
    }
    Ok(requests)
}

fn pod_request(
    pod: &Pod,
    container: Option<&str>,
    resource: &str,
) -> Result<i64, CalculationError> {
    let sidecars = pod.spec.init_containers.iter().filter(|c| c.is_sidecar());
    let mut total = 0i64;
    for c in pod.spec.containers.iter().chain(sidecars) {
        if container.is_none_or(|name| name == c.name) {
            let request = c
                .resources
                .requests
                .get(resource)
                .or_else(|| c.resources.limits.get(resource))
                .ok_or_else(|| CalculationError::MissingRequest {
                    resource: resource.to_string(),
                    container: c.name.clone(),
                    pod: pod.metadata.name.clone(),
                })?;
            total = total.saturating_add(request.milli_value());
        }
        if container == Some(c.name.as_str()) {
            return Ok(total);
        }
    }
    match container {
        Some(name) => Err(CalculationError::ContainerNotFound {
            container: name.to_string(),
            pod: pod.metadata.name.clone(),
        }),
        None => Ok(total),
    }
}

/// Upstream `GetResourceUtilizationRatio`: the values over the requests of the pods that have
/// both, in whole percent (truncated, as upstream's integer division), divided by the target;
/// and the average value per counted pod.
pub fn utilization_ratio(
    metrics: &PodMetrics,
    requests: &BTreeMap<String, i64>,
    target_utilization: i32,
) -> Result<(f64, i32, i64), CalculationError> {
    let (mut used, mut requested, mut counted) = (0i64, 0i64, 0i64);
    for (pod, metric) in metrics {
        let Some(request) = requests.get(pod) else {
            continue;
        };
        used = used.saturating_add(metric.value);
        requested = requested.saturating_add(*request);
        counted += 1;
    }
    if requested == 0 {
        return Err(CalculationError::NoMatchingPods);
    }
    let utilization = i32::try_from(used.saturating_mul(100) / requested).unwrap_or(i32::MAX);
    let ratio = f64::from(utilization) / f64::from(target_utilization);
    Ok((ratio, utilization, used / counted))
}

/// Upstream `GetMetricUsageRatio`: the average value (truncated) over the target.
pub fn usage_ratio(metrics: &PodMetrics, target: i64) -> (f64, i64) {
    let total = metrics
        .values()
        .fold(0i64, |sum, m| sum.saturating_add(m.value));
    let average = total / (metrics.len().max(1) as i64);
    (average as f64 / target as f64, average)
}

/// A Resource or ContainerResource metric with a Utilization target (upstream
/// `GetResourceReplicas`).
pub fn resource_replicas(
    current: i32,
    target_utilization: i32,
    resource: &str,
    container: Option<&str>,
    sample: &Sample<'_>,
) -> Result<Proposal, CalculationError> {
    let (groups, usable) = usable_sample(sample, resource)?;
    let requests = pod_requests(sample.pods, container, resource)?;
    let (ratio, utilization, average) = utilization_ratio(&usable, &requests, target_utilization)?;
    // A scale-down treats a pod without a value as using its request (or the target, when
    // the target is above 100 %).
    let fallback_percent = i64::from(target_utilization.max(100));
    let fill = |pod: &str| requests.get(pod).copied().unwrap_or(0) * fallback_percent / 100;
    let filled = fill_in(usable, &groups, ratio, &fill);
    let adjusted_ratio = match &filled {
        Some(filled) => Some(utilization_ratio(filled, &requests, target_utilization)?.0),
        None => None,
    };
    let proposal = Proposal {
        replicas: current,
        ratio,
        adjusted_ratio,
        utilization,
        average,
        groups,
    };
    Ok(propose(
        proposal,
        sample.tolerances,
        filled.map(|f| f.len()),
    ))
}

/// A Pods metric, or a Resource metric with an AverageValue target (upstream
/// `calcPlainMetricReplicas`); `resource` is the resource's name, empty for a Pods metric
/// (only CPU samples are filtered by readiness).
pub fn plain_metric_replicas(
    current: i32,
    target: i64,
    resource: &str,
    sample: &Sample<'_>,
) -> Result<Proposal, CalculationError> {
    let (groups, usable) = usable_sample(sample, resource)?;
    let (ratio, average) = usage_ratio(&usable, target);
    // A scale-down treats a pod without a value as using exactly the target.
    let filled = fill_in(usable, &groups, ratio, &|_| target);
    let proposal = Proposal {
        replicas: current,
        ratio,
        adjusted_ratio: filled.as_ref().map(|f| usage_ratio(f, target).0),
        utilization: 0,
        average,
        groups,
    };
    Ok(propose(
        proposal,
        sample.tolerances,
        filled.map(|f| f.len()),
    ))
}

/// What both per-pod calculations start from: the pods grouped and the usable values; an
/// error when there is no pod or no usable value.
fn usable_sample(
    sample: &Sample<'_>,
    resource: &str,
) -> Result<(PodGroups, PodMetrics), CalculationError> {
    if sample.pods.is_empty() {
        return Err(CalculationError::NoPods);
    }
    let groups = group_pods(
        sample.pods,
        sample.metrics,
        resource,
        sample.readiness,
        sample.now,
    );
    let usable = usable_metrics(sample.metrics, &groups);
    if usable.is_empty() {
        return Err(CalculationError::NoUsableMetrics);
    }
    Ok((groups, usable))
}

/// `proposal` (its `replicas` still the current count) with the replicas it proposes: from
/// the ready pods' ratio alone when no pod had to be filled in, else from the adjusted ratio
/// over the `counted` pods the fill-in left.
fn propose(mut proposal: Proposal, tolerances: Tolerances, counted: Option<usize>) -> Proposal {
    let (current, ratio) = (proposal.replicas, proposal.ratio);
    proposal.replicas = match proposal.adjusted_ratio.zip(counted) {
        Some((adjusted, counted)) => {
            adjusted_replicas(current, ratio, adjusted, counted, tolerances)
        }
        None if tolerances.is_within(ratio) => current,
        None => ceil_replicas(ratio * proposal.groups.ready.len() as f64),
    };
    proposal
}

/// The values of the pods counted as they are: all but the unready and ignored pods'.
fn usable_metrics(metrics: &PodMetrics, groups: &PodGroups) -> PodMetrics {
    metrics
        .iter()
        .filter(|(pod, _)| !groups.unready.contains(*pod) && !groups.ignored.contains(*pod))
        .map(|(pod, m)| (pod.clone(), *m))
        .collect()
}

/// The usable values with the pods that lack one filled in, or `None` when no pod has to
/// be (no missing pod, and no unready pod on a scale-up). On a scale-down a missing pod gets
/// `scale_down_fill` of its name; on a scale-up missing and unready pods get 0; at exactly 1.0
/// missing pods stay out.
fn fill_in(
    mut filled: PodMetrics,
    groups: &PodGroups,
    ratio: f64,
    scale_down_fill: &dyn Fn(&str) -> i64,
) -> Option<PodMetrics> {
    let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && groups.missing.is_empty() {
        return None;
    }
    let at = |value| PodMetric {
        value,
        timestamp: SimTime::ZERO,
        window: SimDuration::ZERO,
    };
    for pod in &groups.missing {
        if ratio < 1.0 {
            filled.insert(pod.clone(), at(scale_down_fill(pod)));
        } else if ratio > 1.0 {
            filled.insert(pod.clone(), at(0));
        }
    }
    if scale_up_with_unready {
        for pod in &groups.unready {
            filled.insert(pod.clone(), at(0));
        }
    }
    Some(filled)
}

/// The proposal once the pods without usable values are filled in: no change when the new
/// ratio is within tolerance or points the other way, or when the count of pods now counted
/// would turn the direction round.
fn adjusted_replicas(
    current: i32,
    ratio: f64,
    adjusted: f64,
    counted: usize,
    tolerances: Tolerances,
) -> i32 {
    let flipped = (ratio < 1.0 && adjusted > 1.0) || (ratio > 1.0 && adjusted < 1.0);
    if tolerances.is_within(adjusted) || flipped {
        return current;
    }
    let replicas = ceil_replicas(adjusted * counted as f64);
    if (adjusted < 1.0 && replicas > current) || (adjusted > 1.0 && replicas < current) {
        return current;
    }
    replicas
}

/// `int32(math.Ceil(x))`, saturating where Go's conversion would not be defined.
fn ceil_replicas(x: f64) -> i32 {
    let c = x.ceil();
    if c >= f64::from(i32::MAX) {
        i32::MAX
    } else if c <= f64::from(i32::MIN) {
        i32::MIN
    } else {
        c as i32
    }
}

/// Pods Running and Ready (upstream `getReadyPodsCount`).
pub fn ready_pod_count(pods: &[&Pod]) -> Result<i64, CalculationError> {
    if pods.is_empty() {
        return Err(CalculationError::NoPods);
    }
    Ok(pods
        .iter()
        .filter(|p| p.status.phase == PodPhase::Running && p.status.ready_since().is_some())
        .count() as i64)
}

/// An Object or External metric with a Value target (upstream `getUsageRatioReplicaCount`):
/// the ratio times the ready pods, outside tolerance; from zero replicas, the ratio alone
/// (scaling from zero needs no pods). `ready_pods` is only asked for when it is needed.
pub fn value_replicas(
    current: i32,
    usage: i64,
    target: i64,
    tolerances: Tolerances,
    ready_pods: impl FnOnce() -> Result<i64, CalculationError>,
) -> Result<(i32, f64), CalculationError> {
    let ratio = usage as f64 / target as f64;
    if current == 0 {
        return Ok((ceil_replicas(ratio), ratio));
    }
    if tolerances.is_within(ratio) {
        return Ok((current, ratio));
    }
    Ok((ceil_replicas(ratio * ready_pods()? as f64), ratio))
}

/// An Object or External metric with an AverageValue target (upstream
/// `GetObjectPerPodMetricReplicas` / `GetExternalPerPodMetricReplicas`): the total over the
/// per-pod target, outside tolerance of the current replicas' share; and the average per
/// replica (rounded up).
pub fn average_value_replicas(
    status_replicas: i32,
    usage: i64,
    target_per_pod: i64,
    tolerances: Tolerances,
) -> (i32, i64) {
    let ratio = usage as f64 / (target_per_pod as f64 * f64::from(status_replicas));
    let replicas = if tolerances.is_within(ratio) {
        status_replicas
    } else {
        ceil_replicas(usage as f64 / target_per_pod as f64)
    };
    let average = if usage as f64 >= i64::MAX as f64 {
        i64::MAX
    } else {
        (usage as f64 / f64::from(status_replicas)).ceil() as i64
    };
    (replicas, average)
}

#[cfg(test)]
#[path = "replica_calculator_tests.rs"]
mod tests;
