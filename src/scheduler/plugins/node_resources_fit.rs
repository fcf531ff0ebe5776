//! NodeResourcesFit: a pod fits a node only if the node has a free pod slot and, for every
//! resource the pod requests, allocatable minus what the node's pods already request covers it
//! (Filter, every shortfall listed). Among feasible nodes it scores by how much would be
//! allocated after placing the pod, with one of three strategies: LeastAllocated (spread,
//! the default), MostAllocated (pack), or RequestedToCapacityRatio (a piecewise-linear
//! function of utilization).
//!
//! Upstream: `pkg/scheduler/framework/plugins/noderesources/{fit.go, resource_allocation.go,
//! least_allocated.go, most_allocated.go, requested_to_capacity_ratio.go}` and
//! `pkg/scheduler/framework/plugins/helper/shape_score.go`; defaults and validation from
//! `pkg/scheduler/apis/config/v1/defaults.go` and `apis/config/validation`.
//!
//! Scoring counts cpu and memory with the scheduler's non-zero defaults (100m / 200 MiB for a
//! container that requests none), on the pod and on the node, so best-effort pods still
//! spread; other resources count as requested. A resource the node does not offer
//! (allocatable 0) takes no part in a node's score, and neither does an extended resource the
//! pod does not request.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::lanes::{self, LANES};
use super::written_state;
use crate::api::labels::validate_label_key;
use crate::api::resources::{
    CPU, EPHEMERAL_STORAGE, MEMORY, MissingRequests, Resources, pod_requests,
};
use crate::config::kube_scheduler::{ResourceSpec, UtilizationShapePoint};
use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventChange, EventResource};
use crate::scheduler::framework::{
    Code, CycleState, ExtensionPoints, MAX_NODE_SCORE, Plugin, PreFilterResult, QueueingHint,
    Status, retain_feasible,
};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "NodeResourcesFit";

/// Highest score a RequestedToCapacityRatio shape point may give (scaled ×10 into 0..=100).
pub const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;

/// Filter reason for a node whose pod slots are all taken.
pub const ERR_REASON_TOO_MANY_PODS: &str = "Too many pods";

/// How scores are computed from allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum ScoringStrategyType {
    /// Favour nodes with the most free resources (spread).
    #[default]
    LeastAllocated,
    /// Favour nodes with the least free resources (bin packing).
    MostAllocated,
    /// A user-shaped function of utilization.
    RequestedToCapacityRatio,
}

/// Upstream's default scored resources: cpu and memory, weight 1 each.
pub fn default_resources() -> Vec<ResourceSpec> {
    vec![ResourceSpec::new(CPU, 1), ResourceSpec::new(MEMORY, 1)]
}

/// RequestedToCapacityRatio parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestedToCapacityRatioParam {
    /// The function's points, by increasing utilization.
    pub shape: Vec<UtilizationShapePoint>,
}

/// `scoringStrategy`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScoringStrategy {
    /// The strategy.
    #[serde(rename = "type")]
    pub type_: ScoringStrategyType,
    /// Scored resources and weights (empty means the default cpu and memory).
    pub resources: Vec<ResourceSpec>,
    /// Shape for RequestedToCapacityRatio.
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioParam>,
}

impl Default for ScoringStrategy {
    fn default() -> Self {
        ScoringStrategy {
            type_: ScoringStrategyType::LeastAllocated,
            resources: default_resources(),
            requested_to_capacity_ratio: None,
        }
    }
}

/// `NodeResourcesFitArgs` (kubescheduler.config.k8s.io/v1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeResourcesFitArgs {
    /// Extended resources Filter does not check.
    pub ignored_resources: Vec<String>,
    /// Extended resource groups (the part before `/`) Filter does not check.
    pub ignored_resource_groups: Vec<String>,
    /// How Score works.
    pub scoring_strategy: ScoringStrategy,
}

impl NodeResourcesFitArgs {
    /// The args after upstream's defaulting: no resources means cpu and memory; weight 0
    /// means 1.
    pub fn with_defaults(mut self) -> Self {
        let resources = &mut self.scoring_strategy.resources;
        if resources.is_empty() {
            *resources = default_resources();
        }
        for r in resources.iter_mut() {
            if r.weight == 0 {
                r.weight = 1;
            }
        }
        self
    }

    /// Checks the (defaulted) args as upstream's `ValidateNodeResourcesFitArgs` does; the
    /// message starts with the field's path below the args, in upstream's words.
    pub fn validate(&self) -> Result<(), String> {
        let args = self.clone().with_defaults();
        for (i, r) in args.ignored_resources.iter().enumerate() {
            validate_label_key(r)
                .map_err(|e| format!("ignoredResources[{i}]: Invalid value: {r:?}: {e}"))?;
        }
        for (i, g) in args.ignored_resource_groups.iter().enumerate() {
            if g.contains('/') {
                return Err(format!(
                    "ignoredResourceGroups[{i}]: Invalid value: {g:?}: resource group name can't contain '/'"
                ));
            }
            validate_label_key(g)
                .map_err(|e| format!("ignoredResourceGroups[{i}]: Invalid value: {g:?}: {e}"))?;
        }
        let strategy = &args.scoring_strategy;
        for (i, r) in strategy.resources.iter().enumerate() {
            if !(1..=100).contains(&r.weight) {
                return Err(format!(
                    "scoringStrategy.resources[{i}].weight: Invalid value: {}: resource weight of {} not in valid range (0, 100]",
                    r.weight, r.name
                ));
            }
        }
        const RTCR: &str = "scoringStrategy.requestedToCapacityRatio";
        match (&strategy.requested_to_capacity_ratio, strategy.type_) {
            (Some(p), ScoringStrategyType::RequestedToCapacityRatio) => validate_shape(&p.shape),
            (None, ScoringStrategyType::RequestedToCapacityRatio) => Err(format!(
                "{RTCR}: Required value: must be specified when type is RequestedToCapacityRatio"
            )),
            (Some(_), _) => Err(format!(
                "{RTCR}: Forbidden: must be nil when type is not RequestedToCapacityRatio"
            )),
            (None, _) => Ok(()),
        }
    }
}

/// Upstream's `validateFunctionShape`: at least one point, utilizations strictly increasing
/// (the first offender named), each utilization in 0–100 and each score in 0–10.
fn validate_shape(shape: &[UtilizationShapePoint]) -> Result<(), String> {
    const PATH: &str = "scoringStrategy.requestedToCapacityRatio.shape";
    if shape.is_empty() {
        return Err(format!(
            "{PATH}: Required value: at least one point must be specified"
        ));
    }
    for (i, w) in shape.windows(2).enumerate() {
        if w[0].utilization >= w[1].utilization {
            return Err(format!(
                "{PATH}[{}].utilization: Invalid value: {}: values must be sorted in increasing order",
                i + 1,
                w[1].utilization
            ));
        }
    }
    for (i, p) in shape.iter().enumerate() {
        if !(0..=100).contains(&p.utilization) {
            return Err(format!(
                "{PATH}[{i}].utilization: Invalid value: {}: not in valid range [0, 100]",
                p.utilization
            ));
        }
        if !(0..=MAX_CUSTOM_PRIORITY_SCORE).contains(&i64::from(p.score)) {
            return Err(format!(
                "{PATH}[{i}].score: Invalid value: {}: not in valid range [0, {MAX_CUSTOM_PRIORITY_SCORE}]",
                p.score
            ));
        }
    }
    Ok(())
}

/// Whether `name` is a native resource: no domain, or in the `kubernetes.io/` domain.
fn is_native_resource_name(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Whether `name` is an extended resource (`example.com/widget`): not native, not a quota
/// `requests.` name, and a qualified name once prefixed with `requests.` (upstream
/// `IsExtendedResourceName`). Allocates: call it outside per-node paths.
pub(crate) fn is_extended_resource_name(name: &str) -> bool {
    if is_native_resource_name(name) || name.starts_with("requests.") {
        return false;
    }
    validate_label_key(&format!("requests.{name}")).is_ok()
}

/// Whether the scheduler tracks `name` as a scalar resource (upstream `IsScalarResourceName`):
/// extended resources, hugepages, `kubernetes.io/`-prefixed native ones, attachable volumes.
/// Other names never reach the scheduler's resource vectors.
pub(crate) fn is_scalar_resource_name(name: &str) -> bool {
    is_extended_resource_name(name)
        || name.starts_with("hugepages-")
        || name.contains("kubernetes.io/")
        || name.starts_with("attachable-volumes-")
}

/// Which field of [`crate::api::resources::Resources`] a scored resource reads, decided once
/// from its name so that the per-node path does not compare strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResourceKind {
    /// `cpu`.
    Cpu,
    /// `memory`.
    Memory,
    /// `ephemeral-storage`.
    EphemeralStorage,
    /// A scalar resource, looked up by name.
    Scalar,
    /// Anything else: takes no part in scoring.
    Other,
}

/// A configured scored resource, with what the per-node path needs precomputed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScoredResource {
    /// Resource name.
    pub name: String,
    /// Weight (defaulted).
    pub weight: i64,
    /// Whether the name is a scalar resource (decided once: the check allocates).
    pub scalar: bool,
    /// Which resource field the name reads.
    pub kind: ResourceKind,
}

/// The scored resources of `specs`, with weight 0 defaulted to 1.
pub(crate) fn scored_resources(specs: &[ResourceSpec]) -> Vec<ScoredResource> {
    specs
        .iter()
        .map(|r| {
            let scalar = is_scalar_resource_name(&r.name);
            ScoredResource {
                name: r.name.clone(),
                weight: if r.weight == 0 { 1 } else { r.weight },
                scalar,
                // The native names first, then scalars (upstream's order).
                kind: match r.name.as_str() {
                    CPU => ResourceKind::Cpu,
                    MEMORY => ResourceKind::Memory,
                    EPHEMERAL_STORAGE => ResourceKind::EphemeralStorage,
                    _ if scalar => ResourceKind::Scalar,
                    _ => ResourceKind::Other,
                },
            }
        })
        .collect()
}

/// [`CycleResource::on`] of a scalar resource: two map lookups, kept out of line so
/// that the per-node scoring loops, which rarely meet one, stay small.
#[cold]
#[inline(never)]
fn scalar_allocatable_and_requested(node: &NodeInfo, name: &str, pod_request: i64) -> (i64, i64) {
    match node.allocatable.scalar.get(name) {
        Some(&a) => {
            let used = node.requested.scalar.get(name).copied().unwrap_or(0);
            (a, used.saturating_add(pod_request))
        }
        None => (0, 0),
    }
}

/// A scored resource as one cycle reads it: the pod's request of it is known, so a resource
/// that takes part in no node's score this cycle — a scalar the pod does not request, a name
/// the scheduler does not track, for which [`CycleResource::on`] would be `(0, 0)` on every
/// node — is left out once rather than skipped at every node. What the per-node path needs is
/// copied in, so that it reads no `ScoredResource`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CycleResource<'a> {
    /// Which field to read.
    pub kind: ResourceKind,
    /// The resource's weight.
    pub weight: i64,
    /// The pod's request of it.
    pub pod_request: i64,
    /// The resource's name (for a scalar).
    pub name: &'a str,
}

impl CycleResource<'_> {
    /// The node's allocatable amount of the resource and what would be requested there with
    /// the pod, as upstream's `calculateResourceAllocatableRequest`: cpu and memory from the
    /// node's actual requests when `use_requested`, else from its non-zero requests; ephemeral
    /// storage and scalars always actual. `(0, 0)` — "leave this resource out" — for a scalar
    /// the node does not list.
    #[inline]
    pub fn on(&self, node: &NodeInfo, use_requested: bool) -> (i64, i64) {
        let counted = if use_requested {
            &node.requested
        } else {
            &node.non_zero_requested
        };
        let alloc = &node.allocatable;
        match self.kind {
            ResourceKind::Cpu => (
                alloc.milli_cpu,
                counted.milli_cpu.saturating_add(self.pod_request),
            ),
            ResourceKind::Memory => (
                alloc.memory,
                counted.memory.saturating_add(self.pod_request),
            ),
            ResourceKind::EphemeralStorage => (
                alloc.ephemeral_storage,
                node.requested
                    .ephemeral_storage
                    .saturating_add(self.pod_request),
            ),
            ResourceKind::Scalar => {
                scalar_allocatable_and_requested(node, self.name, self.pod_request)
            }
            ResourceKind::Other => (0, 0),
        }
    }
}

/// The resources of `resources` (with the pod's requests, aligned) that take part this cycle.
pub(crate) fn cycle_resources<'a>(
    resources: &'a [ScoredResource],
    pod_requests: &[i64],
) -> Vec<CycleResource<'a>> {
    resources
        .iter()
        .zip(pod_requests)
        .filter(|&(res, &req)| !(req == 0 && res.scalar) && res.kind != ResourceKind::Other)
        .map(|(res, &pod_request)| CycleResource {
            kind: res.kind,
            weight: res.weight,
            pod_request,
            name: &res.name,
        })
        .collect()
}

/// How the scoring plugins read, on each node, every resource that takes part this cycle:
/// `f(allocatable, requested with the pod, weight)` per resource, in order (see
/// [`CycleResource::on`]). Chosen once per cycle ([`CpuMemory`] when it applies, else the
/// list), so that the per-node loop is compiled for the configuration at hand.
pub(crate) trait NodeAmounts: Copy {
    /// Calls `f` for each resource, reading `node`.
    fn each(self, node: &NodeInfo, use_requested: bool, f: impl FnMut(i64, i64, i64));

    /// The sum of the weights: the divisor of a weighted mean on a node offering them all.
    fn total_weight(self) -> i64;
}

impl NodeAmounts for &[CycleResource<'_>] {
    #[inline]
    fn each(self, node: &NodeInfo, use_requested: bool, mut f: impl FnMut(i64, i64, i64)) {
        for r in self {
            let (alloc, requested) = r.on(node, use_requested);
            f(alloc, requested, r.weight);
        }
    }

    fn total_weight(self) -> i64 {
        self.iter().map(|r| r.weight).fold(0, i64::saturating_add)
    }
}

/// Exactly cpu then memory, the resources of the default configuration: read straight from
/// their fields, the two steps unrolled, no per-resource dispatch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuMemory {
    cpu: CycleResource<'static>,
    memory: CycleResource<'static>,
}

impl NodeAmounts for CpuMemory {
    #[inline]
    fn each(self, node: &NodeInfo, use_requested: bool, mut f: impl FnMut(i64, i64, i64)) {
        let counted = if use_requested {
            &node.requested
        } else {
            &node.non_zero_requested
        };
        let alloc = &node.allocatable;
        f(
            alloc.milli_cpu,
            counted.milli_cpu.saturating_add(self.cpu.pod_request),
            self.cpu.weight,
        );
        f(
            alloc.memory,
            counted.memory.saturating_add(self.memory.pod_request),
            self.memory.weight,
        );
    }

    fn total_weight(self) -> i64 {
        self.cpu.weight.saturating_add(self.memory.weight)
    }
}

impl CpuMemory {
    /// The pod's cpu and memory requests.
    pub(crate) fn pod_requests(self) -> (i64, i64) {
        (self.cpu.pod_request, self.memory.pod_request)
    }

    /// The reader for the configured `resources` (with the pod's requests, aligned) if they
    /// are exactly cpu then memory — worked out without building the cycle's resource list.
    pub(crate) fn configured(resources: &[ScoredResource], pod_requests: &[i64]) -> Option<Self> {
        match (resources, pod_requests) {
            ([cpu, memory], &[cpu_request, memory_request])
                if cpu.kind == ResourceKind::Cpu && memory.kind == ResourceKind::Memory =>
            {
                let native = |r: &ScoredResource, pod_request| CycleResource {
                    kind: r.kind,
                    weight: r.weight,
                    pod_request,
                    name: "",
                };
                Some(CpuMemory {
                    cpu: native(cpu, cpu_request),
                    memory: native(memory, memory_request),
                })
            }
            _ => None,
        }
    }
}

/// `a × b / c` without overflow (Go would wrap; kubesim's magnitudes never get there).
///
/// Scoring calls this for every resource of every node, and a 128-bit division is a library
/// call many times slower than a 64-bit one, so it is the fallback only: when `a × b` and the
/// quotient fit in `i64` (always, for real capacities), the 64-bit result is the same.
#[inline]
pub(crate) fn mul_div(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    let Some(p) = a.checked_mul(b) else {
        return mul_div_wide(a, b, c);
    };
    if p >= 0 && c > 0 && p < FLOAT_PATH_LIMIT && c < FLOAT_PATH_LIMIT {
        return floor_div_via_f64(p, c);
    }
    p.checked_div(c).unwrap_or_else(|| mul_div_wide(a, b, c))
}

/// Operands below 2^52 take the floating-point path: they convert to `f64` exactly, and so
/// does their quotient's nearest integer, which [`floor_div_via_f64`] reads from the bits.
const FLOAT_PATH_LIMIT: i64 = 1 << 52;

/// `p / c` (both non-negative, below 2^52) by one floating-point division, which pipelines
/// across nodes where a 64-bit integer division (memory in bytes needs one) stalls. The
/// correctly rounded quotient, rounded to the nearest integer ([`lanes::nearest_i64`]), is
/// within one of the true quotient; the integer check after it makes the result exact.
#[inline]
fn floor_div_via_f64(p: i64, c: i64) -> i64 {
    let mut q = lanes::nearest_i64(p as f64 / c as f64);
    if q * c > p {
        q -= 1;
    } else if (q + 1) * c <= p {
        q += 1;
    }
    q
}

/// Integer division by a divisor fixed for a whole cycle (the sum of the resource weights) as a
/// multiplication and a shift: with `m = ⌈2^40 / d⌉`, `⌊n·m / 2^40⌋ = ⌊n / d⌋` whenever
/// `n·d < 2^40` (the error `n·(m·d − 2^40) / (d·2^40)` stays below `1/d`). Larger or negative
/// dividends, which no score reaches, divide the ordinary way.
#[derive(Clone, Copy, Debug)]
struct ExactDivisor {
    divisor: i64,
    multiplier: u64,
    /// Dividends below this take the multiply-and-shift path.
    limit: i64,
}

impl ExactDivisor {
    const SHIFT: u32 = 40;

    /// The divisor `d`; for `d ≤ 0` every division goes the ordinary way (and 0 is never used
    /// as a divisor: `weighted_mean` checks it first).
    fn new(divisor: i64) -> ExactDivisor {
        let Ok(d) = u64::try_from(divisor) else {
            return ExactDivisor {
                divisor,
                multiplier: 0,
                limit: 0,
            };
        };
        if d == 0 || d >= 1 << 20 {
            return ExactDivisor {
                divisor,
                multiplier: 0,
                limit: 0,
            };
        }
        ExactDivisor {
            divisor,
            multiplier: (1u64 << Self::SHIFT).div_ceil(d),
            limit: ((1u64 << Self::SHIFT) / d) as i64,
        }
    }

    fn divisor(self) -> i64 {
        self.divisor
    }

    #[inline]
    fn divide(self, n: i64) -> i64 {
        if (0..self.limit).contains(&n) {
            ((n as u64 * self.multiplier) >> Self::SHIFT) as i64
        } else {
            n / self.divisor
        }
    }
}

/// [`mul_div`] in 128 bits, out of line: reached only by magnitudes no real node has.
#[cold]
#[inline(never)]
fn mul_div_wide(a: i64, b: i64, c: i64) -> i64 {
    let q = i128::from(a) * i128::from(b) / i128::from(c);
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

/// LeastAllocated per resource: the free share after placing the pod, 0..=100.
#[inline]
fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    // Saturating: a request below 0 on a node of near-i64::MAX capacity must not overflow.
    mul_div(capacity.saturating_sub(requested), MAX_NODE_SCORE, capacity)
}

/// MostAllocated per resource: the used share after placing the pod, 0..=100 (requests above
/// capacity, possible through the non-zero defaults, count as full).
#[inline]
fn most_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    mul_div(requested.min(capacity), MAX_NODE_SCORE, capacity)
}

/// The broken-linear function through `shape` (utilization, score already scaled ×10):
/// the first score below the first point, the last beyond the last, integer interpolation
/// (truncating) between (upstream `BuildBrokenLinearFunction`).
fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, &(util, score)) in shape.iter().enumerate() {
        if p <= util {
            let Some(&(prev_util, prev_score)) = i.checked_sub(1).and_then(|j| shape.get(j)) else {
                return score;
            };
            // Reached only when util > prev_util, so the divisor is positive.
            return prev_score + mul_div(score - prev_score, p - prev_util, util - prev_util);
        }
    }
    shape.last().map_or(0, |&(_, score)| score)
}

/// What PreFilter keeps for Filter: the pod's scalar requests Filter must check (non-zero,
/// scalar names, not ignored). The native resources are read from `PodInfo::requests`.
struct PreFilterState {
    scalars: Vec<(String, i64)>,
}

/// What PreScore keeps for Score: the pod's request of each scored resource, in order.
struct PreScoreState {
    pod_requests: Vec<i64>,
}

/// The NodeResourcesFit plugin.
#[derive(Clone, Debug)]
pub struct NodeResourcesFit {
    ignored_resources: BTreeSet<String>,
    ignored_resource_groups: BTreeSet<String>,
    strategy: ScoringStrategyType,
    resources: Vec<ScoredResource>,
    /// RequestedToCapacityRatio shape: (utilization, score × 10).
    shape: Vec<(i64, i64)>,
}

impl Default for NodeResourcesFit {
    fn default() -> Self {
        NodeResourcesFit::new(NodeResourcesFitArgs::default())
    }
}

impl NodeResourcesFit {
    /// The plugin with `args` (defaulted as upstream; check them first with
    /// [`NodeResourcesFitArgs::validate`]).
    pub fn new(args: NodeResourcesFitArgs) -> Self {
        let args = args.with_defaults();
        let strategy = args.scoring_strategy;
        let shape = strategy
            .requested_to_capacity_ratio
            .map(|p| {
                p.shape
                    .iter()
                    .map(|pt| {
                        (
                            i64::from(pt.utilization),
                            // Shape scores are 0..=10; the framework's are 0..=100.
                            i64::from(pt.score) * (MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        NodeResourcesFit {
            ignored_resources: args.ignored_resources.into_iter().collect(),
            ignored_resource_groups: args.ignored_resource_groups.into_iter().collect(),
            strategy: strategy.type_,
            resources: scored_resources(&strategy.resources),
            shape,
        }
    }

    /// Whether Filter skips the extended resource `name` (by name or by group).
    fn ignored(&self, name: &str) -> bool {
        if !is_extended_resource_name(name) {
            return false;
        }
        let group = name.split('/').next().unwrap_or_default();
        self.ignored_resources.contains(name) || self.ignored_resource_groups.contains(group)
    }

    /// The pod's scoring-view request of each scored resource.
    fn pod_requests(&self, pod: &PodInfo) -> Vec<i64> {
        self.resources
            .iter()
            .map(|r| pod.non_zero_requests.get(&r.name))
            .collect()
    }

    /// Σ score·weight / Σ weight (integer division) over the resources the node offers.
    /// `all_weights` divides on a node that offers every resource, the usual case.
    #[inline]
    fn weighted_mean(
        node: &NodeInfo,
        amounts: impl NodeAmounts,
        all_weights: ExactDivisor,
        // Generic rather than a `fn` pointer, so the per-resource function is inlined.
        per_resource: impl Fn(i64, i64) -> i64,
    ) -> i64 {
        let (mut total, mut weights) = (0i64, 0i64);
        amounts.each(node, false, |alloc, requested, weight| {
            if alloc != 0 {
                total = total.saturating_add(per_resource(requested, alloc).saturating_mul(weight));
                weights = weights.saturating_add(weight);
            }
        });
        if weights == all_weights.divisor() {
            all_weights.divide(total)
        } else if weights == 0 {
            0
        } else {
            total / weights
        }
    }

    /// RequestedToCapacityRatio: the shape at each resource's utilization; resources scoring 0
    /// count in neither sum (upstream's current behaviour); the weighted mean is rounded.
    fn requested_to_capacity_ratio(&self, node: &NodeInfo, amounts: impl NodeAmounts) -> i64 {
        let (mut total, mut weights) = (0i64, 0i64);
        amounts.each(node, false, |alloc, requested, weight| {
            if alloc == 0 {
                return;
            }
            let utilization = if requested > alloc {
                MAX_NODE_SCORE
            } else {
                mul_div(requested, MAX_NODE_SCORE, alloc)
            };
            let s = broken_linear(&self.shape, utilization);
            if s > 0 {
                total = total.saturating_add(s.saturating_mul(weight));
                weights = weights.saturating_add(weight);
            }
        });
        if weights == 0 {
            return 0;
        }
        // Go's math.Round and Rust's f64::round both round halves away from zero.
        (total as f64 / weights as f64).round() as i64
    }

    /// Every node's score under the configured strategy, reading resources with `amounts`.
    fn score_all(&self, amounts: impl NodeAmounts, nodes: &[&NodeInfo], scores: &mut [i64]) {
        let all_weights = ExactDivisor::new(amounts.total_weight());
        match self.strategy {
            ScoringStrategyType::LeastAllocated => score_each(nodes, scores, |node| {
                Self::weighted_mean(node, amounts, all_weights, least_requested_score)
            }),
            ScoringStrategyType::MostAllocated => score_each(nodes, scores, |node| {
                Self::weighted_mean(node, amounts, all_weights, most_requested_score)
            }),
            ScoringStrategyType::RequestedToCapacityRatio => score_each(nodes, scores, |node| {
                self.requested_to_capacity_ratio(node, amounts)
            }),
        }
    }
}

/// LeastAllocated over cpu and memory, the default profile's scoring and so the one every
/// cycle of a default cluster runs on hundreds of nodes: [`NodeResourcesFit::weighted_mean`]
/// with what is known for the whole cycle taken out of the per-node loop, [`LANES`] nodes at
/// a time. A group's amounts are gathered first; when all are usual (both resources offered,
/// up to [`WIDE_CAPACITY`], and room for the pod) one pass of float arithmetic with
/// [`lanes`]' steps, which runs on several nodes per instruction, scores the group. Any other
/// group, and the nodes left over, go the general way.
fn least_allocated_cpu_memory(amounts: CpuMemory, nodes: &[&NodeInfo], scores: &mut [i64]) {
    let all_weights = ExactDivisor::new(amounts.total_weight());
    let (cpu, memory) = (amounts.cpu, amounts.memory);
    let general = |node: &NodeInfo| {
        NodeResourcesFit::weighted_mean(node, amounts, all_weights, least_requested_score)
    };
    // With weights of at most 100 (as validated configurations have), a weighted sum of
    // shares is at most 2 × 100 × 100, and its quotient by the weights' sum (at most 200) is
    // at least 1/200 from the next integer unless it is one: far more than the rounding of
    // an `f64` below 128, so flooring the float quotient is exact.
    let weights = 1..=MAX_NODE_SCORE;
    if !weights.contains(&cpu.weight) || !weights.contains(&memory.weight) {
        return score_each(nodes, scores, general);
    }
    let (cpu_weight, memory_weight) = (cpu.weight as f64, memory.weight as f64);
    let all_weights_f64 = all_weights.divisor() as f64;
    let group = |group: &[&NodeInfo; LANES], slots: &mut [i64; LANES]| {
        let mut capacity = [[0i64; LANES]; 2];
        let mut free = [[0i64; LANES]; 2];
        // Every capacity in 1..=WIDE_CAPACITY and every request, and what is left, in
        // 0..WIDE_CAPACITY (a request past the capacity, or a sum that wrapped, sets a sign
        // bit).
        let mut high_bits = 0i64;
        for (i, node) in group.iter().enumerate() {
            let (alloc, counted) = (&node.allocatable, &node.non_zero_requested);
            let cpu_requested = counted.milli_cpu.wrapping_add(cpu.pod_request);
            let memory_requested = counted.memory.wrapping_add(memory.pod_request);
            capacity[0][i] = alloc.milli_cpu;
            capacity[1][i] = alloc.memory;
            free[0][i] = alloc.milli_cpu.wrapping_sub(cpu_requested);
            free[1][i] = alloc.memory.wrapping_sub(memory_requested);
            high_bits |= cpu_requested | memory_requested | free[0][i] | free[1][i];
            high_bits |= alloc.milli_cpu.wrapping_sub(1) | alloc.memory.wrapping_sub(1);
        }
        if high_bits >> WIDE_CAPACITY.trailing_zeros() != 0 {
            return false;
        }
        for (i, slot) in slots.iter_mut().enumerate() {
            let share = |r: usize| free_share(free[r][i], capacity[r][i]);
            let sum = share(0) * cpu_weight + share(1) * memory_weight;
            *slot = lanes::whole_to_i64(lanes::floor(sum / all_weights_f64));
        }
        true
    };
    lanes::score_in_groups(nodes, scores, group, general);
}

/// LeastAllocated's share of one resource, ⌊free × 100 / capacity⌋ (upstream's
/// `leastRequestedScore`), for a capacity in `1..=WIDE_CAPACITY` and `free` in
/// `0..=capacity`, by one floating-point division and no correction. free × 100 and the
/// capacity are below 2^53, so exact as `f64`, and the quotient q is at most 100. When q is
/// not an integer it is at least 1/capacity ≥ 2^-45 below the next one, more than half an ulp
/// of any number below 128 (2^-47), so the correctly rounded quotient stays below that
/// integer too, and flooring it gives ⌊q⌋ exactly.
#[inline]
fn free_share(free: i64, capacity: i64) -> f64 {
    let scaled = lanes::exact_f64(free) * MAX_NODE_SCORE as f64;
    lanes::floor(scaled / lanes::exact_f64(capacity))
}

/// Capacities above this (2^45: 32 TiB of memory) score through the general path, whose
/// arithmetic is wide enough for any value.
const WIDE_CAPACITY: i64 = 1 << 45;

/// Scores every node of `nodes` into `scores` with `score`.
fn score_each(nodes: &[&NodeInfo], scores: &mut [i64], score: impl Fn(&NodeInfo) -> i64) {
    for (slot, node) in scores.iter_mut().zip(nodes) {
        *slot = score(node);
    }
}

/// What PreFilter wrote, or the error when NodeResourcesFit is enabled at Filter but not
/// PreFilter.
fn pre_filter_state(state: &CycleState) -> Result<&PreFilterState, Status> {
    written_state(state, NAME, "PreFilter")
}

/// Why `pod` does not fit `node` (`None` when it fits): it needs a free pod slot and, for
/// every requested resource, enough left.
#[inline]
fn shortfall(
    s: &PreFilterState,
    needs: NativeNeeds,
    pod: &PodInfo,
    node: &NodeInfo,
) -> Option<Status> {
    if s.scalars.is_empty() && needs.fit(node) {
        return None;
    }
    shortfall_reasons(s, pod, node)
}

/// The pod's cpu, memory and ephemeral-storage requests as the per-node fit check reads
/// them: a request of 0 or less, which upstream does not check at all, as `i64::MIN`, which
/// any amount left covers. Worked out once per batch of nodes.
#[derive(Clone, Copy)]
struct NativeNeeds {
    cpu: i64,
    memory: i64,
    ephemeral_storage: i64,
}

impl NativeNeeds {
    fn of(pod: &PodInfo) -> NativeNeeds {
        let need = |request: i64| if request > 0 { request } else { i64::MIN };
        let req = &pod.requests;
        NativeNeeds {
            cpu: need(req.milli_cpu),
            memory: need(req.memory),
            ephemeral_storage: need(req.ephemeral_storage),
        }
    }

    /// The usual case, decided without building a reason list: a free pod slot and room for
    /// each native resource. The tests are combined without branches (the data, not the
    /// order, decides); ephemeral storage, seldom requested, is read only when it is.
    #[inline]
    fn fit(self, node: &NodeInfo) -> bool {
        let alloc = &node.allocatable;
        let used = &node.requested;
        let room = |need: i64, have: i64, taken: i64| need <= have.saturating_sub(taken);
        let slot = (node.pods.len() as u64) < u64::try_from(alloc.pods).unwrap_or(0);
        slot & room(self.cpu, alloc.milli_cpu, used.milli_cpu)
            & room(self.memory, alloc.memory, used.memory)
            && (self.ephemeral_storage == i64::MIN
                || room(
                    self.ephemeral_storage,
                    alloc.ephemeral_storage,
                    used.ephemeral_storage,
                ))
    }
}

/// Every reason `pod` does not fit `node` (`None` when it fits after all, having scalars to
/// check): the rare path, kept out of line so the per-node check stays small.
#[cold]
#[inline(never)]
fn shortfall_reasons(s: &PreFilterState, pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    let alloc = &node.allocatable;
    let used = &node.requested;
    let req = &pod.requests;
    let mut reasons: Vec<String> = Vec::new();
    // Preemption cannot help when the request exceeds the whole node (upstream marks such
    // a shortfall unresolvable); a full pod count is resolvable.
    let mut unresolvable = false;
    let pods_here = i64::try_from(node.pods.len()).unwrap_or(i64::MAX);
    if pods_here.saturating_add(1) > alloc.pods {
        reasons.push(ERR_REASON_TOO_MANY_PODS.to_string());
    }
    let mut check = |want: i64, have: i64, taken: i64, reason: &str| {
        if want > 0 && want > have.saturating_sub(taken) {
            reasons.push(reason.to_string());
            unresolvable |= want > have;
        }
    };
    check(
        req.milli_cpu,
        alloc.milli_cpu,
        used.milli_cpu,
        "Insufficient cpu",
    );
    check(req.memory, alloc.memory, used.memory, "Insufficient memory");
    check(
        req.ephemeral_storage,
        alloc.ephemeral_storage,
        used.ephemeral_storage,
        "Insufficient ephemeral-storage",
    );
    for (name, want) in &s.scalars {
        let have = alloc.scalar.get(name).copied().unwrap_or(0);
        let taken = used.scalar.get(name).copied().unwrap_or(0);
        if *want > have.saturating_sub(taken) {
            reasons.push(format!("Insufficient {name}"));
            unresolvable |= *want > have;
        }
    }
    if reasons.is_empty() {
        return None;
    }
    Some(Status {
        code: if unresolvable {
            Code::UnschedulableAndUnresolvable
        } else {
            Code::Unschedulable
        },
        plugin: NAME,
        reasons,
    })
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            pre_filter: true,
            filter: true,
            pre_score: true,
            score: true,
            ..ExtensionPoints::default()
        }
    }

    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> Result<PreFilterResult, Status> {
        let scalars = pod
            .requests
            .scalar
            .iter()
            .filter(|&(name, &v)| v != 0 && is_scalar_resource_name(name) && !self.ignored(name))
            .map(|(name, &v)| (name.clone(), v))
            .collect();
        state.write(NAME, PreFilterState { scalars });
        Ok(PreFilterResult::AllNodes)
    }

    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pre_filter_state(state) {
            Ok(s) => shortfall(s, NativeNeeds::of(pod), pod, node).unwrap_or_else(Status::success),
            Err(missing) => missing,
        }
    }

    /// Every node of the batch with one read of the cycle state.
    fn filter_nodes<'n>(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &mut Vec<&'n NodeInfo>,
        rejected: &mut Vec<(&'n NodeInfo, Status)>,
    ) {
        let s = match pre_filter_state(state) {
            Ok(s) => s,
            Err(missing) => return retain_feasible(nodes, rejected, |_| Some(missing.clone())),
        };
        // Without scalar requests, a batch where every node fits (the usual case) is settled
        // by the native check alone.
        let needs = NativeNeeds::of(pod);
        if s.scalars.is_empty() && nodes.iter().all(|node| needs.fit(node)) {
            return;
        }
        retain_feasible(nodes, rejected, |node| shortfall(s, needs, pod, node));
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _snapshot: &Snapshot,
    ) -> Status {
        state.write(
            NAME,
            PreScoreState {
                pod_requests: self.pod_requests(pod),
            },
        );
        Status::success()
    }

    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let mut score = [0];
        self.score_nodes(state, pod, &[node], &mut score)?;
        Ok(score[0])
    }

    /// Every node with one read of the cycle state, and the resources and the strategy
    /// resolved once: each node's score is then one inlined computation.
    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Result<(), Status> {
        let fallback;
        let pod_requests = match state.read::<PreScoreState>(NAME) {
            Some(s) => s.pod_requests.as_slice(),
            // PreScore did not run (not enabled at that point): compute here, as upstream.
            None => {
                fallback = self.pod_requests(pod);
                fallback.as_slice()
            }
        };
        match (
            CpuMemory::configured(&self.resources, pod_requests),
            self.strategy,
        ) {
            (Some(cpu_memory), ScoringStrategyType::LeastAllocated) => {
                least_allocated_cpu_memory(cpu_memory, nodes, scores);
            }
            (Some(cpu_memory), _) => self.score_all(cpu_memory, nodes, scores),
            (None, _) => {
                let resources = cycle_resources(&self.resources, pod_requests);
                self.score_all(resources.as_slice(), nodes, scores);
            }
        }
        Ok(())
    }

    /// A pod deleted or shrunk, a node added or given more allocatable.
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[
            ClusterEvent::new(
                EventResource::Pod,
                ActionType::DELETE.or(ActionType::UPDATE_POD_SCALE_DOWN),
            ),
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD.or(ActionType::UPDATE_NODE_ALLOCATABLE),
            ),
        ];
        EVENTS
    }

    fn queueing_hint(&self, pod: &PodInfo, change: &EventChange) -> QueueingHint {
        if change.event.resource == EventResource::Node {
            self.hint_after_node_change(pod, change)
        } else {
            self.hint_after_pod_change(pod, change)
        }
    }
}

impl NodeResourcesFit {
    /// The resources Filter checks for `pod`, with the amounts: native ones requested above 0,
    /// and scalar ones not ignored.
    fn checked_requests<'p>(&self, pod: &'p PodInfo) -> Vec<(&'p str, i64)> {
        let req = &pod.requests;
        let native = [
            (CPU, req.milli_cpu),
            (MEMORY, req.memory),
            (EPHEMERAL_STORAGE, req.ephemeral_storage),
        ];
        let scalars = req
            .scalar
            .iter()
            .filter(|&(name, &v)| v != 0 && is_scalar_resource_name(name) && !self.ignored(name))
            .map(|(name, &v)| (name.as_str(), v));
        native
            .into_iter()
            .filter(|&(_, v)| v > 0)
            .chain(scalars)
            .collect()
    }

    /// A node event helps if the pod would fit the node were it empty, and, for an update, the
    /// node's pod slots or allocatable of something the pod requests grew (upstream
    /// `isSchedulableAfterNodeChange`).
    fn hint_after_node_change(&self, pod: &PodInfo, change: &EventChange) -> QueueingHint {
        let Some(new) = change.new_node() else {
            return QueueingHint::Skip;
        };
        let after = Resources::from_list(&new.status.effective_allocatable());
        let wanted = self.checked_requests(pod);
        let fits_empty = after.pods >= 1 && wanted.iter().all(|&(name, v)| v <= after.get(name));
        if !fits_empty {
            return QueueingHint::Skip;
        }
        let Some(old) = change.old_node() else {
            return QueueingHint::Queue;
        };
        let before = Resources::from_list(&old.status.effective_allocatable());
        QueueingHint::queue_if(
            after.pods > before.pods
                || wanted
                    .iter()
                    .any(|&(name, _)| after.get(name) > before.get(name)),
        )
    }

    /// A pod event helps if a pod that held room (or a nomination) went away, or the pod
    /// itself or a bound pod shrank in something the pod requests (upstream
    /// `isSchedulableAfterPodEvent`).
    fn hint_after_pod_change(&self, pod: &PodInfo, change: &EventChange) -> QueueingHint {
        let Some(old) = change.old_pod() else {
            return QueueingHint::Skip;
        };
        let Some(new) = change.new_pod() else {
            let held_room =
                !old.spec.node_name.is_empty() || !old.status.nominated_node_name.is_empty();
            return QueueingHint::queue_if(held_room);
        };
        if new.metadata.uid == pod.uid() {
            return QueueingHint::Queue;
        }
        if new.spec.node_name.is_empty() {
            return QueueingHint::Skip;
        }
        let before = pod_requests(&old.spec, MissingRequests::AsZero);
        let after = pod_requests(&new.spec, MissingRequests::AsZero);
        QueueingHint::queue_if(
            self.checked_requests(pod)
                .iter()
                .any(|&(name, _)| after.get(name) < before.get(name)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::DEFAULT_MEMORY_REQUEST;
    use crate::scheduler::plugins::test_util::{NodeBuilder, PodBuilder, filter, score};

    #[test]
    fn queueing_hints_follow_what_could_make_room() {
        use crate::scheduler::plugins::test_util::{change, hint};
        use ActionType as A;
        use EventResource::{Node, Pod};
        use QueueingHint::{Queue, Skip};
        let fit = NodeResourcesFit::default();
        let pod = PodBuilder::new("p").container(&[("cpu", "2")]).info();
        let node = |cpu: &str, pods: &str| {
            NodeBuilder::new("n")
                .allocatable(&[("cpu", cpu), ("memory", "4Gi"), ("pods", pods)])
                .object()
        };
        // A node too small even when empty cannot help; one with room can.
        let add = |n| change(Node, A::ADD, None, Some(n));
        assert_eq!(hint(&fit, &pod, &add(node("1", "110"))), Skip);
        assert_eq!(hint(&fit, &pod, &add(node("2", "110"))), Queue);
        // A node that takes no pod at all cannot help.
        assert_eq!(hint(&fit, &pod, &add(node("4", "0"))), Skip);
        // An update helps only if the node grew in cpu (what the pod asks for) or pod slots.
        let grew = |old, new| change(Node, A::UPDATE_NODE_ALLOCATABLE, Some(old), Some(new));
        assert_eq!(
            hint(&fit, &pod, &grew(node("2", "110"), node("4", "110"))),
            Queue
        );
        assert_eq!(
            hint(&fit, &pod, &grew(node("4", "10"), node("4", "110"))),
            Queue
        );
        let more_memory = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4"), ("memory", "8Gi"), ("pods", "110")])
            .object();
        assert_eq!(hint(&fit, &pod, &grew(node("4", "110"), more_memory)), Skip);
        // A bound pod deleted frees room; a pending one never held any.
        let deleted = |p| change(Pod, A::DELETE, Some(p), None);
        let bound = PodBuilder::new("b").node_name("n").object();
        assert_eq!(hint(&fit, &pod, &deleted(bound)), Queue);
        let pending = PodBuilder::new("q").object();
        assert_eq!(hint(&fit, &pod, &deleted(pending)), Skip);
    }
    use proptest::strategy::Just;
    use std::sync::Arc;

    proptest::proptest! {
        /// The float-assisted quotient is the exact floor quotient, checked against 128-bit
        /// integer division, for the magnitudes scoring meets (up to petabytes × 100) and for
        /// quotients right at an integer, where a rounded float division would land on it.
        #[test]
        fn mul_div_is_the_exact_quotient(
            a in 0i64..(1 << 50),
            b in 0i64..=100,
            c in 1i64..(1 << 50),
        ) {
            let exact = i128::from(a) * i128::from(b) / i128::from(c);
            proptest::prop_assert_eq!(i128::from(mul_div(a, b, c)), exact);
            // c·k − 1 over c is just below k: the floor is k − 1.
            let k = b.max(1);
            let p = c * k - 1;
            proptest::prop_assert_eq!(mul_div(p, 1, c), k - 1);
        }
    }

    proptest::proptest! {
        /// Multiply-and-shift division equals integer division for every dividend a weighted
        /// mean can have (up to 100 × the weight sum) and beyond, and for every weight sum.
        #[test]
        fn exact_divisor_divides_exactly(d in 1i64..(1 << 21), n in 0i64..(1 << 40)) {
            let divisor = ExactDivisor::new(d);
            proptest::prop_assert_eq!(divisor.divide(n), n / d);
            let small = n % (100 * d + 1);
            proptest::prop_assert_eq!(divisor.divide(small), small / d);
        }
    }

    proptest::proptest! {
        /// The fast LeastAllocated share is upstream's integer one for every capacity it
        /// takes, including requests just off an integer share.
        #[test]
        fn free_share_is_the_integer_share(
            capacity in 1i64..=WIDE_CAPACITY,
            requested_frac in 0u32..=1000,
            nudge in -2i64..=2,
        ) {
            let requested = (capacity / 1000 * i64::from(requested_frac) + nudge).clamp(0, capacity);
            proptest::prop_assert_eq!(
                free_share(capacity - requested, capacity),
                least_requested_score(requested, capacity) as f64
            );
        }
    }

    /// A node with `capacity` (cpu, memory) and `counted` (cpu, memory) non-zero requests.
    fn node_with(capacity: (i64, i64), counted: (i64, i64)) -> NodeInfo {
        let mut node = NodeBuilder::new("n").info();
        (node.allocatable.milli_cpu, node.allocatable.memory) = capacity;
        (
            node.non_zero_requested.milli_cpu,
            node.non_zero_requested.memory,
        ) = counted;
        node
    }

    /// Each node's LeastAllocated score by the cpu + memory fast path, and by the general one.
    fn fast_and_general(
        nodes: &[NodeInfo],
        pod: (i64, i64),
        weights: (i64, i64),
    ) -> Result<(Vec<i64>, Vec<i64>), proptest::test_runner::TestCaseError> {
        let resources = scored_resources(&[
            ResourceSpec {
                name: CPU.into(),
                weight: weights.0,
            },
            ResourceSpec {
                name: MEMORY.into(),
                weight: weights.1,
            },
        ]);
        let Some(amounts) = CpuMemory::configured(&resources, &[pod.0, pod.1]) else {
            return Err(proptest::test_runner::TestCaseError::fail("cpu and memory"));
        };
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut fast = vec![0; nodes.len()];
        least_allocated_cpu_memory(amounts, &refs, &mut fast);
        let divisor = ExactDivisor::new(amounts.total_weight());
        let general = nodes
            .iter()
            .map(|n| NodeResourcesFit::weighted_mean(n, amounts, divisor, least_requested_score))
            .collect();
        Ok((fast, general))
    }

    /// A node in the fast path's usual range: capacities up to `WIDE_CAPACITY` (often right
    /// at it) and a free share anywhere from none to all, before the pod's request (of at
    /// most 100m and 1 MiB, which a capacity of at least 1000m and 2 MiB covers).
    fn usual_node() -> impl proptest::strategy::Strategy<Value = NodeInfo> {
        use proptest::strategy::Strategy;
        let memory = proptest::prop_oneof![Just(WIDE_CAPACITY), (1i64 << 21)..=WIDE_CAPACITY];
        (1000i64..200_000, memory, 0i64..=1000, 0i64..=1000).prop_map(|(cpu, mem, fc, fm)| {
            node_with((cpu, mem), (cpu / 1000 * fc, mem / 1000 * fm))
        })
    }

    /// A node with one amount at an extreme: a capacity of 0 or below or past
    /// `WIDE_CAPACITY`, or a request past the capacity or near `i64::MAX`.
    fn unusual_node() -> impl proptest::strategy::Strategy<Value = NodeInfo> {
        use proptest::strategy::Strategy;
        let extreme = proptest::prop_oneof![
            Just(0i64),
            Just(-4000),
            Just(WIDE_CAPACITY + 1),
            Just(i64::MAX),
            Just(i64::MAX - 5)
        ];
        (usual_node(), extreme, 0usize..4).prop_map(|(mut node, value, field)| {
            match field {
                0 => node.allocatable.milli_cpu = value,
                1 => node.allocatable.memory = value,
                2 => node.non_zero_requested.milli_cpu = value,
                _ => node.non_zero_requested.memory = value,
            }
            node
        })
    }

    proptest::proptest! {
        /// LeastAllocated's cpu + memory fast path scores every node as the general path does:
        /// a full group of `LANES` nodes and the rest, with any weights.
        #[test]
        fn least_allocated_fast_path_matches_the_general_one(
            nodes in proptest::collection::vec(usual_node(), LANES + 3),
            pod_cpu in 0i64..=100,
            pod_memory in 0i64..=(1 << 20),
            weights in (1i64..=100, 1i64..=100),
        ) {
            let (fast, general) = fast_and_general(&nodes, (pod_cpu, pod_memory), weights)?;
            proptest::prop_assert_eq!(fast, general);
        }

        /// At the extremes (a node with an unusual amount among usual ones, a request below 0
        /// or near `i64::MAX`, a weight above 100) the fast path defers to the general one's
        /// saturating arithmetic and gives its scores.
        #[test]
        fn least_allocated_fast_path_defers_at_the_extremes(
            mut nodes in proptest::collection::vec(usual_node(), LANES + 3),
            odd in unusual_node(),
            at in 0..LANES + 3,
            pod_cpu in proptest::prop_oneof![Just(-100i64), Just(i64::MAX), 0i64..=100],
            weight in proptest::prop_oneof![1i64..=100, Just(101i64), Just(1i64 << 40)],
        ) {
            nodes[at] = odd;
            let (fast, general) = fast_and_general(&nodes, (pod_cpu, 1 << 20), (weight, 1))?;
            proptest::prop_assert_eq!(fast, general);
        }

        /// The native fit check passes exactly the nodes the reason-building one finds no
        /// shortfall on, for requests of 0 or below (never checked) and nodes already
        /// overcommitted or full.
        #[test]
        fn native_fit_check_agrees_with_the_reasons(
            alloc_cpu in -10i64..100,
            used_cpu in -10i64..150,
            want_cpu in -10i64..100,
            want_storage in proptest::prop_oneof![Just(0i64), -10i64..100],
            used_storage in 0i64..150,
            pods_here in 0usize..4,
            pods_allowed in -1i64..4,
        ) {
            let mut node = NodeBuilder::new("n").info();
            node.allocatable.milli_cpu = alloc_cpu;
            node.allocatable.memory = 1 << 30;
            node.allocatable.ephemeral_storage = 100;
            node.allocatable.pods = pods_allowed;
            node.requested.milli_cpu = used_cpu;
            node.requested.ephemeral_storage = used_storage;
            for i in 0..pods_here {
                node.pods.push(Arc::new(PodBuilder::new(&format!("q{i}")).info()));
            }
            let mut pod = PodBuilder::new("p").info();
            pod.requests.milli_cpu = want_cpu;
            pod.requests.ephemeral_storage = want_storage;
            let state = PreFilterState { scalars: Vec::new() };
            proptest::prop_assert_eq!(
                NativeNeeds::of(&pod).fit(&node),
                shortfall_reasons(&state, &pod, &node).is_none()
            );
        }
    }

    #[test]
    fn free_share_corner_cases() {
        // 32 GiB with 1 byte used: ⌊(2^35 − 1)·100 / 2^35⌋ = 99 (not 100); the largest
        // capacity with one unit used: ⌊(2^45 − 1)·100 / 2^45⌋ = 99.
        assert_eq!(free_share((1 << 35) - 1, 1 << 35), 99.0);
        assert_eq!(free_share(WIDE_CAPACITY - 1, WIDE_CAPACITY), 99.0);
        assert_eq!(free_share(WIDE_CAPACITY, WIDE_CAPACITY), 100.0);
        // 3 of 7 used: ⌊400 / 7⌋ = 57; nothing free: 0.
        assert_eq!(free_share(4, 7), 57.0);
        assert_eq!(free_share(0, 7), 0.0);
    }

    #[test]
    fn mul_div_corner_cases() {
        // (2^52 − 1) / 3 = 1501199875790165 exactly (float path, quotient near 2^50.4);
        // (2^53 − 1) / 3 = 3002399751580330 and 2^53 + 1 go the integer way.
        assert_eq!(mul_div((1 << 52) - 1, 1, 3), 1_501_199_875_790_165);
        assert_eq!(mul_div((1 << 52) - 1, 1, 1), (1 << 52) - 1);
        assert_eq!(mul_div((1 << 53) - 1, 1, 3), 3_002_399_751_580_330);
        assert_eq!(mul_div((1 << 53) + 1, 1, 2), (1 << 52));
        assert_eq!(mul_div(7, 100, 0), 0);
        assert_eq!(mul_div(-7, 100, 3), -233);
        // Past i64: 128-bit fallback, saturating.
        assert_eq!(mul_div(i64::MAX, 100, 1), i64::MAX);
    }

    fn fit(type_: ScoringStrategyType, resources: Vec<ResourceSpec>) -> NodeResourcesFit {
        NodeResourcesFit::new(NodeResourcesFitArgs {
            scoring_strategy: ScoringStrategy {
                type_,
                resources,
                requested_to_capacity_ratio: None,
            },
            ..NodeResourcesFitArgs::default()
        })
    }

    fn rtcr(shape: &[(i32, i32)], resources: Vec<ResourceSpec>) -> NodeResourcesFit {
        NodeResourcesFit::new(NodeResourcesFitArgs {
            scoring_strategy: ScoringStrategy {
                type_: ScoringStrategyType::RequestedToCapacityRatio,
                resources,
                requested_to_capacity_ratio: Some(RequestedToCapacityRatioParam {
                    shape: shape
                        .iter()
                        .map(|&(utilization, score)| UtilizationShapePoint { utilization, score })
                        .collect(),
                }),
            },
            ..NodeResourcesFitArgs::default()
        })
    }

    // ---- Filter ----

    /// A node with 10m cpu, 20 bytes of memory, 32 pod slots, and one pod using 5m / 19.
    fn small_node() -> NodeInfo {
        NodeBuilder::new("n")
            .allocatable(&[("cpu", "10m"), ("memory", "20"), ("pods", "32")])
            .with_pods(vec![
                PodBuilder::new("used")
                    .container(&[("cpu", "5m"), ("memory", "19")])
                    .info(),
            ])
    }

    fn pod(requests: &[(&str, &str)]) -> PodInfo {
        PodBuilder::new("p").container(requests).info()
    }

    #[test]
    fn fits_when_the_free_share_covers_the_request() {
        // Free: cpu 10 − 5 = 5, memory 20 − 19 = 1. Requests 5m / 1 fit exactly.
        let status = filter(
            &NodeResourcesFit::default(),
            &pod(&[("cpu", "5m"), ("memory", "1")]),
            &small_node(),
        );
        assert!(status.is_success(), "{status:?}");
    }

    #[test]
    fn every_shortfall_is_listed_and_resolvable_while_the_node_could_hold_the_pod() {
        // cpu 6 > 5 free and memory 2 > 1 free, but 6 ≤ 10 and 2 ≤ 20 allocatable: evicting
        // the existing pod would make room, so Unschedulable.
        let status = filter(
            &NodeResourcesFit::default(),
            &pod(&[("cpu", "6m"), ("memory", "2")]),
            &small_node(),
        );
        assert_eq!(status.code, Code::Unschedulable);
        assert_eq!(status.plugin, NAME);
        assert_eq!(
            status.reasons,
            vec!["Insufficient cpu", "Insufficient memory"]
        );
    }

    #[test]
    fn a_request_larger_than_the_whole_node_is_unresolvable() {
        // cpu 11 > 10 allocatable: no preemption helps.
        let status = filter(
            &NodeResourcesFit::default(),
            &pod(&[("cpu", "11m")]),
            &small_node(),
        );
        assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(status.reasons, vec!["Insufficient cpu"]);
    }

    #[test]
    fn init_containers_count_at_their_peak() {
        // App 1m, init 3m: the request is max(1, 3) = 3m; the existing 8m leaves 2m free, and
        // 3 > 2 → Insufficient cpu. Memory: max(1, 1) = 1 ≤ 20 − 8 = 12.
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "10m"), ("memory", "20"), ("pods", "32")])
            .with_pods(vec![pod(&[("cpu", "8m"), ("memory", "8")])]);
        let with_init = PodBuilder::new("p")
            .container(&[("cpu", "1m"), ("memory", "1")])
            .init_container(&[("cpu", "3m"), ("memory", "1")])
            .info();
        let status = filter(&NodeResourcesFit::default(), &with_init, &node);
        assert_eq!(status.reasons, vec!["Insufficient cpu"]);
        // Without the init container, 1m fits in the 2m left.
        assert!(filter(&NodeResourcesFit::default(), &pod(&[("cpu", "1m")]), &node).is_success());
    }

    #[test]
    fn overhead_adds_to_the_request() {
        // 1m app + 2m overhead = 3m > 2m free (8m used of 10m).
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "10m"), ("memory", "20"), ("pods", "32")])
            .with_pods(vec![pod(&[("cpu", "8m")])]);
        let p = PodBuilder::new("p")
            .container(&[("cpu", "1m")])
            .overhead(&[("cpu", "2m")])
            .info();
        let status = filter(&NodeResourcesFit::default(), &p, &node);
        assert_eq!(status.reasons, vec!["Insufficient cpu"]);
    }

    #[test]
    fn extended_resources_are_checked_and_can_be_ignored() {
        let gpu_node = || {
            NodeBuilder::new("n")
                .allocatable(&[("cpu", "1"), ("nvidia.com/gpu", "2"), ("pods", "32")])
                .with_pods(vec![pod(&[("nvidia.com/gpu", "1")])])
        };
        // 2 wanted, 2 − 1 = 1 free, 2 ≤ 2 allocatable: resolvable shortfall.
        let two = pod(&[("nvidia.com/gpu", "2")]);
        let status = filter(&NodeResourcesFit::default(), &two, &gpu_node());
        assert_eq!(status.code, Code::Unschedulable);
        assert_eq!(status.reasons, vec!["Insufficient nvidia.com/gpu"]);
        // 3 > 2 allocatable: unresolvable.
        let three = pod(&[("nvidia.com/gpu", "3")]);
        let status = filter(&NodeResourcesFit::default(), &three, &gpu_node());
        assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
        // A node without the resource has 0 of it.
        let plain = NodeBuilder::new("m").allocatable(&[("pods", "32")]).info();
        let status = filter(
            &NodeResourcesFit::default(),
            &pod(&[("nvidia.com/gpu", "1")]),
            &plain,
        );
        assert_eq!(status.reasons, vec!["Insufficient nvidia.com/gpu"]);
        // Ignored by name, or by group: passes.
        let by_name = NodeResourcesFit::new(NodeResourcesFitArgs {
            ignored_resources: vec!["nvidia.com/gpu".into()],
            ..NodeResourcesFitArgs::default()
        });
        assert!(filter(&by_name, &three, &gpu_node()).is_success());
        let by_group = NodeResourcesFit::new(NodeResourcesFitArgs {
            ignored_resource_groups: vec!["nvidia.com".into()],
            ..NodeResourcesFitArgs::default()
        });
        assert!(filter(&by_group, &three, &gpu_node()).is_success());
    }

    #[test]
    fn only_extended_resources_can_be_ignored() {
        // hugepages-2Mi is a scalar resource but not an extended one: still checked.
        let args = NodeResourcesFitArgs {
            ignored_resources: vec!["hugepages-2Mi".into()],
            ..NodeResourcesFitArgs::default()
        };
        let node = NodeBuilder::new("n").allocatable(&[("pods", "32")]).info();
        let status = filter(
            &NodeResourcesFit::new(args),
            &pod(&[("hugepages-2Mi", "2Mi")]),
            &node,
        );
        assert_eq!(status.reasons, vec!["Insufficient hugepages-2Mi"]);
    }

    #[test]
    fn names_outside_the_schedulers_resource_classes_are_not_checked() {
        // "widgets" is neither native nor extended nor another scalar class: upstream's
        // resource vector never holds it, so it cannot be short.
        let node = NodeBuilder::new("n").allocatable(&[("pods", "32")]).info();
        assert!(
            filter(
                &NodeResourcesFit::default(),
                &pod(&[("widgets", "5")]),
                &node
            )
            .is_success()
        );
    }

    #[test]
    fn too_many_pods_is_listed_first_and_stays_resolvable() {
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "10m"), ("memory", "20"), ("pods", "1")])
            .with_pods(vec![pod(&[("cpu", "5m")])]);
        // A best-effort pod only checks the pod count: 1 + 1 > 1.
        let status = filter(&NodeResourcesFit::default(), &pod(&[]), &node);
        assert_eq!(status.code, Code::Unschedulable);
        assert_eq!(status.reasons, vec![ERR_REASON_TOO_MANY_PODS]);
        // With a shortfall too, both reasons, pod count first.
        let status = filter(&NodeResourcesFit::default(), &pod(&[("cpu", "6m")]), &node);
        assert_eq!(
            status.reasons,
            vec![ERR_REASON_TOO_MANY_PODS, "Insufficient cpu"]
        );
        assert_eq!(status.code, Code::Unschedulable);
    }

    // ---- Score ----

    /// node1: 4000m cpu, 10000 bytes, empty. node2: 6000m cpu, 10000 bytes, a pod using 2000m /
    /// 5000. The pod requests 3000m / 5000 (explicit, so the non-zero defaults do not apply).
    fn two_nodes() -> Vec<NodeInfo> {
        vec![
            NodeBuilder::new("node1")
                .allocatable(&[("cpu", "4000m"), ("memory", "10000"), ("pods", "32")])
                .info(),
            NodeBuilder::new("node2")
                .allocatable(&[("cpu", "6000m"), ("memory", "10000"), ("pods", "32")])
                .with_pods(vec![pod(&[("cpu", "2000m"), ("memory", "5000")])]),
        ]
    }

    fn incoming() -> PodInfo {
        pod(&[("cpu", "3000m"), ("memory", "5000")])
    }

    #[test]
    fn least_allocated_on_two_nodes() {
        // node1: cpu (4000 − 3000)·100/4000 = 25; memory (10000 − 5000)·100/10000 = 50;
        //        (25 + 50)/2 = 37.
        // node2: cpu (6000 − 5000)·100/6000 = 16; memory 10000 of 10000 → 0; (16 + 0)/2 = 8.
        assert_eq!(
            score(&NodeResourcesFit::default(), &incoming(), two_nodes()),
            Ok(vec![37, 8])
        );
    }

    #[test]
    fn least_allocated_weights() {
        // cpu weight 2: node1 (25·2 + 50·1)/3 = 100/3 = 33; node2 (16·2 + 0)/3 = 32/3 = 10.
        let pl = fit(
            ScoringStrategyType::LeastAllocated,
            vec![ResourceSpec::new("cpu", 2), ResourceSpec::new("memory", 1)],
        );
        assert_eq!(score(&pl, &incoming(), two_nodes()), Ok(vec![33, 10]));
    }

    #[test]
    fn least_allocated_counts_missing_requests_as_the_non_zero_defaults() {
        // A best-effort pod counts 100m and 200 MiB. Node: 1000m, 1000 MiB, empty.
        // cpu (1000 − 100)·100/1000 = 90; memory (1000 − 200)·100/1000 = 80; (90 + 80)/2 = 85.
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "1000m"), ("memory", "1000Mi"), ("pods", "32")])
            .info();
        let best_effort = PodBuilder::new("p").container(&[]).info();
        assert_eq!(best_effort.non_zero_requests.memory, DEFAULT_MEMORY_REQUEST);
        assert_eq!(
            score(&NodeResourcesFit::default(), &best_effort, vec![node]),
            Ok(vec![85])
        );
    }

    #[test]
    fn least_allocated_over_capacity_scores_zero() {
        // cpu 5000 > 4000: 0; memory 5000 of 10000 free: 50 → (0 + 50)/2 = 25.
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4000m"), ("memory", "10000"), ("pods", "32")])
            .info();
        let big = pod(&[("cpu", "5000m"), ("memory", "5000")]);
        assert_eq!(
            score(&NodeResourcesFit::default(), &big, vec![node]),
            Ok(vec![25])
        );
    }

    #[test]
    fn extended_resources_score_only_when_requested_and_offered() {
        let pl = fit(
            ScoringStrategyType::LeastAllocated,
            vec![
                ResourceSpec::new("cpu", 1),
                ResourceSpec::new("memory", 1),
                ResourceSpec::new("nvidia.com/gpu", 2),
            ],
        );
        let gpu_node = NodeBuilder::new("g")
            .allocatable(&[
                ("cpu", "4000m"),
                ("memory", "10000"),
                ("nvidia.com/gpu", "4"),
                ("pods", "32"),
            ])
            // Explicit zero cpu and memory: the non-zero defaults apply only to missing requests.
            .with_pods(vec![pod(&[
                ("cpu", "0"),
                ("memory", "0"),
                ("nvidia.com/gpu", "1"),
            ])]);
        // With 1 gpu requested: gpu (4 − 2)·100/4 = 50; cpu 25, memory 50 as on node1:
        // (25 + 50 + 50·2)/4 = 175/4 = 43.
        let with_gpu = pod(&[
            ("cpu", "3000m"),
            ("memory", "5000"),
            ("nvidia.com/gpu", "1"),
        ]);
        assert_eq!(score(&pl, &with_gpu, vec![gpu_node.clone()]), Ok(vec![43]));
        // Without a gpu request the gpu is left out: (25 + 50)/2 = 37.
        assert_eq!(score(&pl, &incoming(), vec![gpu_node]), Ok(vec![37]));
    }

    #[test]
    fn most_allocated_on_two_nodes() {
        // node1: cpu 3000·100/4000 = 75; memory 5000·100/10000 = 50; (75 + 50)/2 = 62.
        // node2: cpu 5000·100/6000 = 83; memory 10000·100/10000 = 100; (83 + 100)/2 = 91.
        let pl = fit(ScoringStrategyType::MostAllocated, default_resources());
        assert_eq!(score(&pl, &incoming(), two_nodes()), Ok(vec![62, 91]));
        // Over capacity counts as full: cpu 5000 on 4000 → 100; memory 50 → 75.
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4000m"), ("memory", "10000"), ("pods", "32")])
            .info();
        let big = pod(&[("cpu", "5000m"), ("memory", "5000")]);
        assert_eq!(score(&pl, &big, vec![node]), Ok(vec![75]));
    }

    #[test]
    fn requested_to_capacity_ratio_linear_shape_rounds_the_mean() {
        // Shape (0 → 0, 100 → 10) is scaled to (0 → 0, 100 → 100): the score is the
        // utilization. node1: cpu 75, memory 50 → round(125/2 = 62.5) = 63 (MostAllocated
        // truncates to 62). node2: cpu 5000·100/6000 = 83, memory 100 → round(91.5) = 92.
        let pl = rtcr(&[(0, 0), (100, 10)], default_resources());
        assert_eq!(score(&pl, &incoming(), two_nodes()), Ok(vec![63, 92]));
    }

    #[test]
    fn requested_to_capacity_ratio_interpolates_and_clamps_to_the_end_points() {
        // Shape (20 → 2, 60 → 8), scaled (20 → 20, 60 → 80).
        let shape = [(20, 2), (60, 8)];
        let scaled: Vec<(i64, i64)> = vec![(20, 20), (60, 80)];
        // Below the first point: the first score.
        assert_eq!(broken_linear(&scaled, 10), 20);
        // Between: 20 + (80 − 20)·(40 − 20)/(60 − 20) = 20 + 1200/40 = 50.
        assert_eq!(broken_linear(&scaled, 40), 50);
        // Truncating: 20 + 60·15/40 = 20 + 22 (22.5) = 42.
        assert_eq!(broken_linear(&scaled, 35), 42);
        // Beyond the last point: the last score.
        assert_eq!(broken_linear(&scaled, 90), 80);
        // A node at cpu 40 % and memory 90 %: round((50 + 80)/2) = 65.
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "1000m"), ("memory", "1000"), ("pods", "32")])
            .info();
        let p = pod(&[("cpu", "400m"), ("memory", "900")]);
        assert_eq!(
            score(&rtcr(&shape, default_resources()), &p, vec![node]),
            Ok(vec![65])
        );
    }

    #[test]
    fn requested_to_capacity_ratio_leaves_zero_scores_out_of_the_mean() {
        // Shape (0 → 10, 100 → 0): favours empty nodes.
        let pl = rtcr(&[(0, 10), (100, 0)], default_resources());
        // cpu full (utilization 100 → 0) is left out; memory 50 % → 50: score 50, not 25.
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "1000m"), ("memory", "1000"), ("pods", "32")])
            .info();
        let p = pod(&[("cpu", "1000m"), ("memory", "500")]);
        assert_eq!(score(&pl, &p, vec![node.clone()]), Ok(vec![50]));
        // Both full: no resource counts, score 0. Over capacity is utilization 100 too.
        let full = pod(&[("cpu", "2000m"), ("memory", "1000")]);
        assert_eq!(score(&pl, &full, vec![node]), Ok(vec![0]));
    }

    // ---- Args ----

    #[test]
    fn args_default_to_least_allocated_on_cpu_and_memory() {
        let args: NodeResourcesFitArgs = serde_json::from_str("{}").expect("empty args");
        assert_eq!(args, NodeResourcesFitArgs::default());
        assert_eq!(
            args.scoring_strategy.type_,
            ScoringStrategyType::LeastAllocated
        );
        assert_eq!(args.scoring_strategy.resources, default_resources());
    }

    #[test]
    fn args_use_the_v1_field_names() {
        let args: NodeResourcesFitArgs = serde_json::from_str(
            r#"{"ignoredResources":["example.com/foo"],"ignoredResourceGroups":["example.org"],
                "scoringStrategy":{"type":"RequestedToCapacityRatio",
                  "resources":[{"name":"cpu","weight":3},{"name":"memory"}],
                  "requestedToCapacityRatio":{"shape":[{"utilization":0,"score":0},
                                                       {"utilization":100,"score":10}]}}}"#,
        )
        .expect("args");
        assert_eq!(args.ignored_resources, vec!["example.com/foo"]);
        assert_eq!(args.ignored_resource_groups, vec!["example.org"]);
        let s = &args.scoring_strategy;
        assert_eq!(s.type_, ScoringStrategyType::RequestedToCapacityRatio);
        // An omitted weight reads as 0 and is defaulted to 1.
        assert_eq!(
            args.clone().with_defaults().scoring_strategy.resources,
            vec![ResourceSpec::new("cpu", 3), ResourceSpec::new("memory", 1)]
        );
        assert_eq!(args.validate(), Ok(()));
        // A strategy without resources gets cpu and memory.
        let args: NodeResourcesFitArgs =
            serde_json::from_str(r#"{"scoringStrategy":{"type":"MostAllocated"}}"#).expect("args");
        assert_eq!(
            args.with_defaults().scoring_strategy.resources,
            default_resources()
        );
        assert!(
            serde_json::from_str::<NodeResourcesFitArgs>(r#"{"scoringStrategy":{"type":"Bogus"}}"#)
                .is_err()
        );
    }

    #[test]
    fn args_validation_catches_bad_shapes_weights_and_groups() {
        let mut args = NodeResourcesFitArgs::default();
        args.scoring_strategy.type_ = ScoringStrategyType::RequestedToCapacityRatio;
        assert!(args.validate().is_err(), "shape required");
        args.scoring_strategy.requested_to_capacity_ratio = Some(RequestedToCapacityRatioParam {
            shape: vec![
                UtilizationShapePoint {
                    utilization: 50,
                    score: 1,
                },
                UtilizationShapePoint {
                    utilization: 50,
                    score: 2,
                },
            ],
        });
        assert!(args.validate().is_err(), "utilization must increase");
        args.scoring_strategy.requested_to_capacity_ratio = Some(RequestedToCapacityRatioParam {
            shape: vec![UtilizationShapePoint {
                utilization: 50,
                score: 11,
            }],
        });
        assert!(args.validate().is_err(), "score above 10");
        let mut args = NodeResourcesFitArgs::default();
        args.scoring_strategy.resources = vec![ResourceSpec::new("cpu", 101)];
        assert!(args.validate().is_err(), "weight above 100");
        let args = NodeResourcesFitArgs {
            ignored_resource_groups: vec!["example.com/x".into()],
            ..NodeResourcesFitArgs::default()
        };
        assert!(args.validate().is_err(), "group with a slash");
    }

    #[test]
    fn resource_name_classes() {
        assert!(is_extended_resource_name("nvidia.com/gpu"));
        assert!(!is_extended_resource_name("cpu"));
        assert!(!is_extended_resource_name("kubernetes.io/foo"));
        assert!(!is_extended_resource_name("requests.example.com/foo"));
        assert!(!is_extended_resource_name("example.com/Bad_"));
        assert!(is_scalar_resource_name("hugepages-1Gi"));
        assert!(is_scalar_resource_name("attachable-volumes-csi-x"));
        assert!(is_scalar_resource_name("example.kubernetes.io/foo"));
        assert!(!is_scalar_resource_name("widgets"));
    }
}
