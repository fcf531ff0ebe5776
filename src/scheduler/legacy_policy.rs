//! What the legacy scheduler `Policy` (`kind: Policy`, `apiVersion: v1`; the document is
//! [`crate::config::legacy_policy`]) becomes: the predicates and priorities kube-scheduler was
//! configured with before scheduling profiles, accepted until v1.22 and removed in v1.23.
//!
//! kube-scheduler 1.22 no longer ran predicates and priorities: it translated a Policy into
//! one framework profile, `default-scheduler` (`pkg/scheduler/framework/plugins/
//! legacy_registry.go` and `createFromPolicy` in `pkg/scheduler/factory.go`). This module
//! does the same translation, step by step, into [`LegacyProfile`] — the plugins of each
//! extension point with 1.22's names and weights — and then into the equivalent
//! [`KubeSchedulerConfiguration`], which the resolver builds like any other:
//!
//! 1. The document is checked as `ValidatePolicy` checked it: every priority weight positive
//!    (including `EqualPriority`'s), `requestedToCapacityRatioArguments` at most once,
//!    `hardPodAffinitySymmetricWeight` within 0–100.
//! 2. Predicates: `predicates` absent (or null) means the default set, `[]` means none; the
//!    mandatory `PodToleratesNodeTaints` and `CheckNodeUnschedulable` are always added.
//!    `PodFitsPorts` is an alias of `PodFitsHostPorts`. A built-in name ignores any argument.
//! 3. Priorities: `priorities` absent means the default set (each with its default weight),
//!    `[]` means none. `EqualPriority` adds nothing. `ServiceSpreadingPriority` is an alias of
//!    `SelectorSpreadPriority`. A priority with `requestedToCapacityRatioArguments` becomes
//!    `RequestedToCapacityRatio` — unless it is named so: 1.22 then took the built-in key,
//!    dropped the argument and failed to start. A name given twice keeps its last weight.
//! 4. Plugins: QueueSort PrioritySort, PostFilter DefaultPreemption and Bind DefaultBinder
//!    first; then each predicate in kube-scheduler's fixed predicate order; then each
//!    priority in name order. Each adds its plugins to the extension points it names, once: a
//!    plugin already there keeps its place and its first weight (1.22 meant to keep the
//!    larger, but its loop changed a copy).
//!
//! The translation of `SelectorSpreadPriority` depends on the feature gate
//! `DefaultPodTopologySpread`, on in 1.22: on, it is PodTopologySpread with the system default
//! constraints; off, the SelectorSpread plugin. `ResourceLimitsPriority` (plugin
//! NodeResourceLimits) was removed in v1.19; kubesim accepts it again with its old alpha gate
//! `ResourceLimitsPriorityFunction`, which also adds it to the default priorities as 1.18 did.
//!
//! Where the 1.22 plugin has since become part of another, the configuration uses today's:
//! NodeResourcesLeastAllocated, NodeResourcesMostAllocated and RequestedToCapacityRatio are
//! NodeResourcesFit with the scoring strategy of the same name and the Policy's weight. Since
//! one NodeResourcesFit has one strategy, a Policy may use only one of them. The plugins run
//! as kubesim implements them today (current kube-scheduler), which differs from 1.22 in a few
//! places; docs/scenario.md lists them.
//!
//! Names kube-scheduler 1.22 did not know are rejected with upstream's message and, for names
//! earlier releases knew, the release that removed them and what replaced them. The custom
//! predicates and priorities made with `serviceAffinity`, `labelsPresence`,
//! `serviceAntiAffinity` or `labelPreference` arguments ran the ServiceAffinity and NodeLabel
//! plugins, which kubesim does not model: they are rejected too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::api::pod::DEFAULT_SCHEDULER_NAME;
use crate::config::kube_scheduler::{
    KubeSchedulerConfiguration, PluginConfigEntry, PluginRef, PluginSet, PluginsConfig,
    ProfileConfig,
};
use crate::config::legacy_policy::{
    FeatureGates, Policy, PolicyNote, RequestedToCapacityRatioArguments,
};

/// The largest weight kube-scheduler 1.22 carried a priority with: it converted the Policy's
/// 64-bit weight to a 32-bit one (a larger weight wrapped around).
pub const MAX_PRIORITY_WEIGHT: i64 = i32::MAX as i64;

/// Whether a name is a predicate's or a priority's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// An entry of `predicates`.
    Predicate,
    /// An entry of `priorities`.
    Priority,
}

impl NameKind {
    /// The Policy field that lists names of this kind.
    pub fn field(self) -> &'static str {
        match self {
            NameKind::Predicate => "predicates",
            NameKind::Priority => "priorities",
        }
    }
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Predicate => "predicate",
            NameKind::Priority => "priority",
        })
    }
}

/// A Policy kube-scheduler would refuse, or one kubesim cannot run as written. Each names the
/// field inside the Policy document (`priorities[2].name`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// A predicate or priority name an earlier release knew and a later one removed.
    Removed {
        /// Field path.
        path: String,
        /// Predicate or priority.
        kind: NameKind,
        /// The name.
        name: String,
        /// The release that removed it (`v1.17`).
        removed_in: &'static str,
        /// What replaced it, or how to run it in kubesim.
        instead: &'static str,
    },
    /// A name that is no predicate or priority kube-scheduler 1.22 knew.
    Unknown {
        /// Field path.
        path: String,
        /// Predicate or priority.
        kind: NameKind,
        /// The name.
        name: String,
        /// A hint (the name meant, or what was expected).
        hint: String,
    },
    /// Something kube-scheduler 1.22 ran that kubesim does not model.
    NotModelled {
        /// Field path.
        path: String,
        /// What, and what to do instead.
        message: String,
    },
    /// A value kube-scheduler 1.22 rejected, or that kubesim cannot carry over.
    Invalid {
        /// Field path.
        path: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl PolicyError {
    /// The field path inside the Policy document.
    pub fn path(&self) -> &str {
        match self {
            PolicyError::Removed { path, .. }
            | PolicyError::Unknown { path, .. }
            | PolicyError::NotModelled { path, .. }
            | PolicyError::Invalid { path, .. } => path,
        }
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> String {
        match self {
            PolicyError::Removed {
                kind,
                name,
                removed_in,
                instead,
                ..
            } => format!(
                "{kind} {name:?} was removed in {removed_in} (kube-scheduler 1.22, the last \
                 release that read a Policy, rejected it); {instead}"
            ),
            PolicyError::Unknown {
                kind, name, hint, ..
            } => format!("{kind} type not found for {name:?}; {hint}"),
            PolicyError::NotModelled { message, .. } | PolicyError::Invalid { message, .. } => {
                message.clone()
            }
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.path(), self.message())
    }
}

impl std::error::Error for PolicyError {}

/// The profile kube-scheduler 1.22 built from a Policy: the plugins of each extension point
/// in order, by their 1.22 names, Score with weights; and the plugin args the translation set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegacyProfile {
    /// QueueSort.
    pub queue_sort: Vec<&'static str>,
    /// PreFilter.
    pub pre_filter: Vec<&'static str>,
    /// Filter.
    pub filter: Vec<&'static str>,
    /// PostFilter.
    pub post_filter: Vec<&'static str>,
    /// PreScore.
    pub pre_score: Vec<&'static str>,
    /// Score, with weights.
    pub score: Vec<(&'static str, i64)>,
    /// Reserve.
    pub reserve: Vec<&'static str>,
    /// PreBind.
    pub pre_bind: Vec<&'static str>,
    /// Bind.
    pub bind: Vec<&'static str>,
    /// PodTopologySpreadArgs.defaultingType, when the translation set it (`System`, `List`).
    pub pod_topology_spread_defaulting: Option<&'static str>,
    /// InterPodAffinityArgs.hardPodAffinityWeight, when the translation set it.
    pub hard_pod_affinity_weight: Option<i32>,
    /// RequestedToCapacityRatioArgs, when a priority had them.
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioArguments>,
}

/// A Policy translated.
#[derive(Clone, Debug)]
pub struct Translation {
    /// The profile in 1.22's terms.
    pub legacy: LegacyProfile,
    /// The same profile as kubesim builds it: one profile, `default-scheduler`, every
    /// extension point listed explicitly (nothing from the default profile).
    pub configuration: KubeSchedulerConfiguration,
    /// What is read but not acted on.
    pub notes: Vec<PolicyNote>,
}

// Plugin names of the translation. Those that are kubesim plugins too are spelled the same.
const PRIORITY_SORT: &str = "PrioritySort";
const DEFAULT_PREEMPTION: &str = "DefaultPreemption";
const DEFAULT_BINDER: &str = "DefaultBinder";
const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";
const NODE_RESOURCES_FIT: &str = "NodeResourcesFit";
const NODE_NAME: &str = "NodeName";
const NODE_PORTS: &str = "NodePorts";
const NODE_AFFINITY: &str = "NodeAffinity";
const VOLUME_RESTRICTIONS: &str = "VolumeRestrictions";
const TAINT_TOLERATION: &str = "TaintToleration";
const EBS_LIMITS: &str = "EBSLimits";
const GCE_PD_LIMITS: &str = "GCEPDLimits";
const NODE_VOLUME_LIMITS: &str = "NodeVolumeLimits";
const AZURE_DISK_LIMITS: &str = "AzureDiskLimits";
const CINDER_LIMITS: &str = "CinderLimits";
const VOLUME_BINDING: &str = "VolumeBinding";
const VOLUME_ZONE: &str = "VolumeZone";
const POD_TOPOLOGY_SPREAD: &str = "PodTopologySpread";
const INTER_POD_AFFINITY: &str = "InterPodAffinity";
const SELECTOR_SPREAD: &str = "SelectorSpread";
const IMAGE_LOCALITY: &str = "ImageLocality";
const NODE_PREFER_AVOID_PODS: &str = "NodePreferAvoidPods";
const BALANCED_ALLOCATION: &str = "NodeResourcesBalancedAllocation";
const LEAST_ALLOCATED: &str = "NodeResourcesLeastAllocated";
const MOST_ALLOCATED: &str = "NodeResourcesMostAllocated";
const REQUESTED_TO_CAPACITY_RATIO: &str = "RequestedToCapacityRatio";
const NODE_RESOURCE_LIMITS: &str = "NodeResourceLimits";

/// The order predicates' plugins are added in (1.22's `predicateOrdering`); it lists every
/// predicate name kube-scheduler 1.22 registered.
pub const PREDICATE_ORDERING: &[&str] = &[
    "CheckNodeUnschedulable",
    "GeneralPredicates",
    "HostName",
    "PodFitsHostPorts",
    "MatchNodeSelector",
    "PodFitsResources",
    "NoDiskConflict",
    "PodToleratesNodeTaints",
    "CheckNodeLabelPresence",
    "CheckServiceAffinity",
    "MaxEBSVolumeCount",
    "MaxGCEPDVolumeCount",
    "MaxCSIVolumeCountPred",
    "MaxAzureDiskVolumeCount",
    "MaxCinderVolumeCount",
    "CheckVolumeBinding",
    "NoVolumeZoneConflict",
    "EvenPodsSpread",
    "MatchInterPodAffinity",
];

/// Predicates every Policy gets.
pub const MANDATORY_PREDICATES: &[&str] = &["PodToleratesNodeTaints", "CheckNodeUnschedulable"];

/// The predicates of a Policy without `predicates` (1.22's `DefaultPredicates`).
pub const DEFAULT_PREDICATES: &[&str] = &[
    "NoVolumeZoneConflict",
    "MaxEBSVolumeCount",
    "MaxGCEPDVolumeCount",
    "MaxAzureDiskVolumeCount",
    "MaxCSIVolumeCountPred",
    "MatchInterPodAffinity",
    "NoDiskConflict",
    "GeneralPredicates",
    "PodToleratesNodeTaints",
    "CheckVolumeBinding",
    "CheckNodeUnschedulable",
    "EvenPodsSpread",
];

/// The priorities of a Policy without `priorities`, with their weights (1.22's
/// `DefaultPriorities`).
pub const DEFAULT_PRIORITIES: &[(&str, i64)] = &[
    ("SelectorSpreadPriority", 1),
    ("InterPodAffinityPriority", 1),
    ("LeastRequestedPriority", 1),
    ("BalancedResourceAllocation", 1),
    ("NodePreferAvoidPodsPriority", 10000),
    ("NodeAffinityPriority", 1),
    ("TaintTolerationPriority", 1),
    ("ImageLocalityPriority", 1),
    ("EvenPodsSpreadPriority", 2),
];

/// Every priority name kube-scheduler 1.22 registered (besides the custom ones).
pub const PRIORITY_NAMES: &[&str] = &[
    "SelectorSpreadPriority",
    "TaintTolerationPriority",
    "NodeAffinityPriority",
    "ImageLocalityPriority",
    "InterPodAffinityPriority",
    "NodePreferAvoidPodsPriority",
    "MostRequestedPriority",
    "BalancedResourceAllocation",
    "LeastRequestedPriority",
    REQUESTED_TO_CAPACITY_RATIO,
    "NodeLabel",
    "ServiceAffinity",
    "EvenPodsSpreadPriority",
];

/// The priority `ResourceLimitsPriority`, registered only behind its feature gate.
const RESOURCE_LIMITS_PRIORITY: &str = "ResourceLimitsPriority";

/// Names earlier releases knew and 1.22 did not: (kind, name, removed in, instead).
const REMOVED: &[(NameKind, &str, &str, &str)] = &[
    (
        NameKind::Predicate,
        "CheckNodeCondition",
        "v1.17",
        "node conditions reach the scheduler as taints (node.kubernetes.io/not-ready, \
         node.kubernetes.io/unreachable, …) since TaintNodesByCondition, and \
         PodToleratesNodeTaints, always on, keeps pods off such nodes: remove the entry",
    ),
    (
        NameKind::Predicate,
        "CheckNodeMemoryPressure",
        "v1.17",
        "memory pressure is the taint node.kubernetes.io/memory-pressure since \
         TaintNodesByCondition, which PodToleratesNodeTaints (always on) checks: remove the entry",
    ),
    (
        NameKind::Predicate,
        "CheckNodeDiskPressure",
        "v1.17",
        "disk pressure is the taint node.kubernetes.io/disk-pressure since \
         TaintNodesByCondition, which PodToleratesNodeTaints (always on) checks: remove the entry",
    ),
    (
        NameKind::Predicate,
        "CheckNodePIDPressure",
        "v1.17",
        "PID pressure is the taint node.kubernetes.io/pid-pressure since \
         TaintNodesByCondition, which PodToleratesNodeTaints (always on) checks: remove the entry",
    ),
    (
        NameKind::Predicate,
        "NoVolumeNodeConflict",
        "v1.9",
        "CheckVolumeBinding replaced it (volumes are not modelled by kubesim)",
    ),
    (
        NameKind::Priority,
        RESOURCE_LIMITS_PRIORITY,
        "v1.19",
        "until then it ran only behind the alpha feature gate \
         ResourceLimitsPriorityFunction; kubesim runs it (plugin NodeResourceLimits) with \
         `spec.scheduler.featureGates: {ResourceLimitsPriorityFunction: true}` in the Scenario",
    ),
];

/// Names often written that never were Policy names: (kind, name, what was meant).
const MISNAMED: &[(NameKind, &str, &str)] = &[
    (
        NameKind::Predicate,
        "PodFitsHost",
        "PodFitsHost is the check behind the predicate HostName, never a Policy name; expected \
         HostName",
    ),
    (
        NameKind::Predicate,
        "PodMatchNodeSelector",
        "PodMatchNodeSelector is the check behind the predicate MatchNodeSelector, never a \
         Policy name; expected MatchNodeSelector",
    ),
    (
        NameKind::Predicate,
        "PodSelectorMatches",
        "PodSelectorMatches is an old name of the check behind the predicate \
         MatchNodeSelector; expected MatchNodeSelector",
    ),
    (
        NameKind::Priority,
        "RequestedToCapacityRatioPriority",
        "this priority is made by giving a priority (of any name) the argument \
         requestedToCapacityRatioArguments: {shape: [...], resources: [...]}",
    ),
];

/// The resource-scoring plugins of 1.22 that are NodeResourcesFit scoring strategies now:
/// (1.22 plugin, the priority that adds it, the strategy).
const RESOURCE_SCORERS: &[(&str, &str, &str)] = &[
    (LEAST_ALLOCATED, "LeastRequestedPriority", "LeastAllocated"),
    (MOST_ALLOCATED, "MostRequestedPriority", "MostAllocated"),
    (
        REQUESTED_TO_CAPACITY_RATIO,
        REQUESTED_TO_CAPACITY_RATIO,
        "RequestedToCapacityRatio",
    ),
];

/// Appends `name` unless the list has it.
fn add(list: &mut Vec<&'static str>, name: &'static str) {
    if !list.contains(&name) {
        list.push(name);
    }
}

/// Appends `name` with `weight` unless the list has it (a plugin already there keeps its
/// first weight, as 1.22's `appendToPluginSet` in effect did).
fn add_weighted(list: &mut Vec<(&'static str, i64)>, name: &'static str, weight: i64) {
    if !list.iter().any(|(n, _)| *n == name) {
        list.push((name, weight));
    }
}

impl LegacyProfile {
    /// Adds what predicate `key` adds (1.22's predicate config producers).
    fn add_predicate(&mut self, key: &str) {
        match key {
            "CheckNodeUnschedulable" => add(&mut self.filter, NODE_UNSCHEDULABLE),
            "GeneralPredicates" => {
                add(&mut self.filter, NODE_RESOURCES_FIT);
                add(&mut self.pre_filter, NODE_RESOURCES_FIT);
                add(&mut self.filter, NODE_NAME);
                add(&mut self.filter, NODE_PORTS);
                add(&mut self.pre_filter, NODE_PORTS);
                add(&mut self.filter, NODE_AFFINITY);
                add(&mut self.pre_filter, NODE_AFFINITY);
            }
            "HostName" => add(&mut self.filter, NODE_NAME),
            "PodFitsHostPorts" => {
                add(&mut self.filter, NODE_PORTS);
                add(&mut self.pre_filter, NODE_PORTS);
            }
            "MatchNodeSelector" => {
                add(&mut self.filter, NODE_AFFINITY);
                add(&mut self.pre_filter, NODE_AFFINITY);
            }
            "PodFitsResources" => {
                add(&mut self.filter, NODE_RESOURCES_FIT);
                add(&mut self.pre_filter, NODE_RESOURCES_FIT);
            }
            "NoDiskConflict" => add(&mut self.filter, VOLUME_RESTRICTIONS),
            "PodToleratesNodeTaints" => add(&mut self.filter, TAINT_TOLERATION),
            "MaxEBSVolumeCount" => add(&mut self.filter, EBS_LIMITS),
            "MaxGCEPDVolumeCount" => add(&mut self.filter, GCE_PD_LIMITS),
            "MaxCSIVolumeCountPred" => add(&mut self.filter, NODE_VOLUME_LIMITS),
            "MaxAzureDiskVolumeCount" => add(&mut self.filter, AZURE_DISK_LIMITS),
            "MaxCinderVolumeCount" => add(&mut self.filter, CINDER_LIMITS),
            "CheckVolumeBinding" => {
                add(&mut self.pre_filter, VOLUME_BINDING);
                add(&mut self.filter, VOLUME_BINDING);
                add(&mut self.reserve, VOLUME_BINDING);
                add(&mut self.pre_bind, VOLUME_BINDING);
            }
            "NoVolumeZoneConflict" => add(&mut self.filter, VOLUME_ZONE),
            "EvenPodsSpread" => {
                add(&mut self.pre_filter, POD_TOPOLOGY_SPREAD);
                add(&mut self.filter, POD_TOPOLOGY_SPREAD);
            }
            "MatchInterPodAffinity" => {
                add(&mut self.filter, INTER_POD_AFFINITY);
                add(&mut self.pre_filter, INTER_POD_AFFINITY);
            }
            // CheckNodeLabelPresence and CheckServiceAffinity are refused before this.
            _ => {}
        }
    }

    /// Adds what priority `key` adds with `weight` (1.22's priority config producers).
    fn add_priority(&mut self, key: &str, weight: i64, gates: FeatureGates, hard_weight: i32) {
        match key {
            "SelectorSpreadPriority" if !gates.default_pod_topology_spread => {
                add_weighted(&mut self.score, SELECTOR_SPREAD, weight);
                add(&mut self.pre_score, SELECTOR_SPREAD);
            }
            "SelectorSpreadPriority" => {
                add_weighted(&mut self.score, POD_TOPOLOGY_SPREAD, weight);
                add(&mut self.pre_score, POD_TOPOLOGY_SPREAD);
                // Replaces what EvenPodsSpreadPriority may have set.
                self.pod_topology_spread_defaulting = Some("System");
            }
            "TaintTolerationPriority" => {
                add(&mut self.pre_score, TAINT_TOLERATION);
                add_weighted(&mut self.score, TAINT_TOLERATION, weight);
            }
            "NodeAffinityPriority" => {
                add(&mut self.pre_score, NODE_AFFINITY);
                add_weighted(&mut self.score, NODE_AFFINITY, weight);
            }
            "ImageLocalityPriority" => add_weighted(&mut self.score, IMAGE_LOCALITY, weight),
            "InterPodAffinityPriority" => {
                add(&mut self.pre_score, INTER_POD_AFFINITY);
                add_weighted(&mut self.score, INTER_POD_AFFINITY, weight);
                if hard_weight != 0 {
                    self.hard_pod_affinity_weight = Some(hard_weight);
                }
            }
            "NodePreferAvoidPodsPriority" => {
                add_weighted(&mut self.score, NODE_PREFER_AVOID_PODS, weight);
            }
            "MostRequestedPriority" => add_weighted(&mut self.score, MOST_ALLOCATED, weight),
            "BalancedResourceAllocation" => {
                add_weighted(&mut self.score, BALANCED_ALLOCATION, weight);
            }
            "LeastRequestedPriority" => add_weighted(&mut self.score, LEAST_ALLOCATED, weight),
            REQUESTED_TO_CAPACITY_RATIO => {
                add_weighted(&mut self.score, REQUESTED_TO_CAPACITY_RATIO, weight);
            }
            RESOURCE_LIMITS_PRIORITY => {
                add(&mut self.pre_score, NODE_RESOURCE_LIMITS);
                add_weighted(&mut self.score, NODE_RESOURCE_LIMITS, weight);
            }
            "EvenPodsSpreadPriority" => {
                add(&mut self.pre_score, POD_TOPOLOGY_SPREAD);
                add_weighted(&mut self.score, POD_TOPOLOGY_SPREAD, weight);
                // Without system defaults, unless SelectorSpreadPriority asked for them.
                if gates.default_pod_topology_spread
                    && self.pod_topology_spread_defaulting.is_none()
                {
                    self.pod_topology_spread_defaulting = Some("List");
                }
            }
            // NodeLabel and ServiceAffinity are refused before this.
            _ => {}
        }
    }
}

/// The registered predicate key `name` stands for (with its alias resolved), if any.
fn predicate_key(name: &str) -> Option<&'static str> {
    let name = if name == "PodFitsPorts" {
        "PodFitsHostPorts"
    } else {
        name
    };
    PREDICATE_ORDERING.iter().copied().find(|k| *k == name)
}

/// The registered priority key `name` stands for (with its alias resolved), if any.
fn priority_key(name: &str, gates: FeatureGates) -> Option<&'static str> {
    let name = if name == "ServiceSpreadingPriority" {
        "SelectorSpreadPriority"
    } else {
        name
    };
    if name == RESOURCE_LIMITS_PRIORITY && gates.resource_limits_priority_function {
        return Some(RESOURCE_LIMITS_PRIORITY);
    }
    PRIORITY_NAMES.iter().copied().find(|k| *k == name)
}

/// The error for a name that is not registered: removed, misnamed, or unknown.
fn unregistered(kind: NameKind, name: &str, path: String) -> PolicyError {
    if let Some(&(_, _, removed_in, instead)) =
        REMOVED.iter().find(|(k, n, _, _)| *k == kind && *n == name)
    {
        return PolicyError::Removed {
            path,
            kind,
            name: name.to_string(),
            removed_in,
            instead,
        };
    }
    let other = match kind {
        NameKind::Predicate => NameKind::Priority,
        NameKind::Priority => NameKind::Predicate,
    };
    let other_knows = match other {
        NameKind::Predicate => predicate_key(name).is_some(),
        NameKind::Priority => priority_key(name, FeatureGates::default()).is_some(),
    } || REMOVED.iter().any(|(k, n, _, _)| *k == other && *n == name);
    // The names that work, aliases included; not those kubesim refuses as not modelled.
    let refused = [
        "CheckNodeLabelPresence",
        "CheckServiceAffinity",
        "NodeLabel",
        "ServiceAffinity",
        REQUESTED_TO_CAPACITY_RATIO,
    ];
    let mut known: Vec<&str> = match kind {
        NameKind::Predicate => PREDICATE_ORDERING
            .iter()
            .copied()
            .chain(["PodFitsPorts"])
            .collect(),
        NameKind::Priority => PRIORITY_NAMES
            .iter()
            .copied()
            .chain(["ServiceSpreadingPriority", "EqualPriority"])
            .collect(),
    };
    known.retain(|k| !refused.contains(k));
    known.sort_unstable();
    let hint = if other_knows {
        format!(
            "{name} is a {other}, not a {kind}: it belongs under `{}`",
            other.field()
        )
    } else if let Some(&(_, _, meant)) = MISNAMED.iter().find(|(k, n, _)| *k == kind && *n == name)
    {
        meant.to_string()
    } else if let Some(close) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        format!("names are case-sensitive; expected {close}")
    } else {
        let custom = match kind {
            NameKind::Predicate => "",
            NameKind::Priority => {
                " (or a priority of any other name with requestedToCapacityRatioArguments)"
            }
        };
        format!("expected one of {}{custom}", known.join(", "))
    };
    PolicyError::Unknown {
        path,
        kind,
        name: name.to_string(),
        hint,
    }
}

/// The refusal of a custom predicate or priority that runs NodeLabel or ServiceAffinity.
fn not_modelled(path: String, what: &str, plugin: &str, instead: &str) -> PolicyError {
    PolicyError::NotModelled {
        path,
        message: format!(
            "{what} ran the {plugin} plugin, which kube-scheduler removed in v1.23 and kubesim \
             does not model; {instead}"
        ),
    }
}

/// Checks the Policy as `ValidatePolicy` did, before anything else.
fn validate(policy: &Policy) -> Result<(), PolicyError> {
    let mut capacity_ratio: Option<usize> = None;
    for (i, p) in policy.priorities.iter().flatten().enumerate() {
        if !(1..=MAX_PRIORITY_WEIGHT).contains(&p.weight) {
            return Err(PolicyError::Invalid {
                path: format!("priorities[{i}].weight"),
                message: format!(
                    "priority {:?} has weight {}; expected a positive weight (kube-scheduler \
                     1.22 carried weights as 32-bit integers: 1 to {MAX_PRIORITY_WEIGHT})",
                    p.name, p.weight
                ),
            });
        }
        let rtcr = p
            .argument
            .as_ref()
            .and_then(|a| a.requested_to_capacity_ratio_arguments.as_ref());
        if rtcr.is_some() {
            if let Some(first) = capacity_ratio {
                return Err(PolicyError::Invalid {
                    path: format!("priorities[{i}].argument.requestedToCapacityRatioArguments"),
                    message: format!(
                        "priority {:?} redeclares the custom priority requestedToCapacityRatio \
                         of priorities[{first}]; expected it at most once",
                        p.name
                    ),
                });
            }
            capacity_ratio = Some(i);
        }
    }
    let w = policy.hard_pod_affinity_symmetric_weight;
    if !(0..=100).contains(&w) {
        return Err(PolicyError::Invalid {
            path: "hardPodAffinitySymmetricWeight".into(),
            message: format!("{w} is not in the valid range [0-100]"),
        });
    }
    Ok(())
}

/// Checks the shape and resources of `requestedToCapacityRatioArguments` at `path`.
fn validate_capacity_ratio(
    args: &RequestedToCapacityRatioArguments,
    path: &str,
) -> Result<(), PolicyError> {
    let invalid = |field: String, message: String| PolicyError::Invalid {
        path: format!("{path}.{field}"),
        message,
    };
    if args.shape.is_empty() {
        return Err(invalid(
            "shape".into(),
            "at least one point must be specified".into(),
        ));
    }
    for (i, p) in args.shape.iter().enumerate() {
        if !(0..=100).contains(&p.utilization) {
            return Err(invalid(
                format!("shape[{i}].utilization"),
                format!("{} is not in the range [0, 100]", p.utilization),
            ));
        }
        if !(0..=10).contains(&p.score) {
            return Err(invalid(
                format!("shape[{i}].score"),
                format!("{} is not in the range [0, 10]", p.score),
            ));
        }
        if i > 0 && args.shape[i - 1].utilization >= p.utilization {
            return Err(invalid(
                format!("shape[{i}].utilization"),
                format!(
                    "{} should be greater than the utilization of the point before",
                    p.utilization
                ),
            ));
        }
    }
    for (i, r) in args.resources.iter().enumerate() {
        if !(1..=100).contains(&r.weight) {
            return Err(invalid(
                format!("resources[{i}].weight"),
                format!(
                    "{} is not in the range [1, 100] (kubesim's NodeResourcesFit takes \
                     resource weights up to 100)",
                    r.weight
                ),
            ));
        }
    }
    Ok(())
}

/// Translates `policy` with `gates` (see the module documentation).
pub fn translate(policy: &Policy, gates: FeatureGates) -> Result<Translation, PolicyError> {
    validate(policy)?;
    let mut notes = Vec::new();
    if !policy.extenders.is_empty() {
        notes.push(PolicyNote {
            path: "extenders".into(),
            message: format!(
                "{} extender(s) not modelled (kubesim calls no HTTP extenders); ignored",
                policy.extenders.len()
            ),
        });
    }
    if policy.always_check_all_predicates {
        notes.push(PolicyNote {
            path: "alwaysCheckAllPredicates".into(),
            message: "not modelled: kubesim stops at a node's first failing filter, as \
                      kube-scheduler does by default, so only the failure reasons reported \
                      for a node (and which nodes preemption leaves out) can differ; ignored"
                .into(),
        });
    }
    let predicates = predicate_keys(policy, &mut notes)?;
    let (priorities, capacity_ratio) = priority_keys(policy, gates, &mut notes)?;

    let mut legacy = LegacyProfile {
        queue_sort: vec![PRIORITY_SORT],
        post_filter: vec![DEFAULT_PREEMPTION],
        bind: vec![DEFAULT_BINDER],
        ..LegacyProfile::default()
    };
    for key in PREDICATE_ORDERING {
        if predicates.contains(key) {
            legacy.add_predicate(key);
        }
    }
    for (key, &(weight, _)) in &priorities {
        legacy.add_priority(
            key,
            weight,
            gates,
            policy.hard_pod_affinity_symmetric_weight,
        );
    }
    if let Some((_, args)) = &capacity_ratio {
        legacy.requested_to_capacity_ratio = Some(args.clone());
    }
    let configuration = configuration(&legacy, &priorities, gates, &mut notes)?;
    Ok(Translation {
        legacy,
        configuration,
        notes,
    })
}

/// The predicate keys of `policy`, the mandatory ones included.
fn predicate_keys(
    policy: &Policy,
    notes: &mut Vec<PolicyNote>,
) -> Result<BTreeSet<&'static str>, PolicyError> {
    let mut keys: BTreeSet<&'static str> = MANDATORY_PREDICATES.iter().copied().collect();
    let Some(list) = &policy.predicates else {
        keys.extend(DEFAULT_PREDICATES);
        return Ok(keys);
    };
    for (i, p) in list.iter().enumerate() {
        let path = format!("predicates[{i}]");
        if let Some(arg) = &p.argument {
            let members = usize::from(arg.service_affinity.is_some())
                + usize::from(arg.labels_presence.is_some());
            if members != 1 {
                return Err(PolicyError::Invalid {
                    path: format!("{path}.argument"),
                    message: format!(
                        "exactly 1 predicate argument is required, found {members}; expected \
                         serviceAffinity or labelsPresence"
                    ),
                });
            }
        }
        if let Some(key) = predicate_key(&p.name) {
            if matches!(key, "CheckNodeLabelPresence" | "CheckServiceAffinity") {
                let (plugin, instead) = if key == "CheckNodeLabelPresence" {
                    ("NodeLabel", "use node affinity in the pods instead")
                } else {
                    (
                        "ServiceAffinity",
                        "use pod affinity with a topologyKey in the pods instead",
                    )
                };
                return Err(not_modelled(
                    format!("{path}.name"),
                    &format!("predicate {key}"),
                    plugin,
                    instead,
                ));
            }
            if p.argument.is_some() {
                notes.push(PolicyNote {
                    path: format!("{path}.argument"),
                    message: format!(
                        "{:?} is a built-in predicate, so its argument is ignored (as \
                         kube-scheduler 1.22 ignored it)",
                        p.name
                    ),
                });
            }
            keys.insert(key);
            continue;
        }
        match &p.argument {
            Some(arg) if arg.service_affinity.is_some() => {
                return Err(not_modelled(
                    format!("{path}.argument.serviceAffinity"),
                    "a custom predicate with serviceAffinity",
                    "ServiceAffinity",
                    "use pod affinity with a topologyKey in the pods instead",
                ));
            }
            Some(_) => {
                return Err(not_modelled(
                    format!("{path}.argument.labelsPresence"),
                    "a custom predicate with labelsPresence",
                    "NodeLabel",
                    "use node affinity (or nodeSelector) in the pods instead",
                ));
            }
            None => {
                return Err(unregistered(
                    NameKind::Predicate,
                    &p.name,
                    format!("{path}.name"),
                ));
            }
        }
    }
    Ok(keys)
}

/// Priority key → (weight, index of the entry that set it; `usize::MAX` for a default).
type PriorityKeys = BTreeMap<&'static str, (i64, usize)>;

/// The priority keys of `policy` with their weights, and the custom
/// requestedToCapacityRatio arguments (with their entry's index).
fn priority_keys(
    policy: &Policy,
    gates: FeatureGates,
    notes: &mut Vec<PolicyNote>,
) -> Result<
    (
        PriorityKeys,
        Option<(usize, RequestedToCapacityRatioArguments)>,
    ),
    PolicyError,
> {
    let mut keys = PriorityKeys::new();
    let Some(list) = &policy.priorities else {
        for &(key, weight) in DEFAULT_PRIORITIES {
            keys.insert(key, (weight, usize::MAX));
        }
        if gates.resource_limits_priority_function {
            keys.insert(RESOURCE_LIMITS_PRIORITY, (1, usize::MAX));
        }
        return Ok((keys, None));
    };
    let mut capacity_ratio = None;
    for (i, p) in list.iter().enumerate() {
        let path = format!("priorities[{i}]");
        if p.name == "EqualPriority" {
            // Every node alike: kube-scheduler 1.22 skipped it (its weight was still checked).
            continue;
        }
        if let Some(arg) = &p.argument {
            let members = usize::from(arg.service_anti_affinity.is_some())
                + usize::from(arg.label_preference.is_some())
                + usize::from(arg.requested_to_capacity_ratio_arguments.is_some());
            if members != 1 {
                return Err(PolicyError::Invalid {
                    path: format!("{path}.argument"),
                    message: format!(
                        "exactly 1 priority argument is required, found {members}; expected \
                         serviceAntiAffinity, labelPreference or \
                         requestedToCapacityRatioArguments"
                    ),
                });
            }
        }
        if let Some(key) = priority_key(&p.name, gates) {
            match key {
                "NodeLabel" | "ServiceAffinity" => {
                    let (what, instead) = if key == "NodeLabel" {
                        (
                            "priority NodeLabel (made by labelPreference arguments)",
                            "use preferred node affinity in the pods instead",
                        )
                    } else {
                        (
                            "priority ServiceAffinity (made by serviceAntiAffinity arguments)",
                            "use preferred pod anti-affinity or topology spread constraints \
                             in the pods instead",
                        )
                    };
                    return Err(not_modelled(format!("{path}.name"), what, key, instead));
                }
                REQUESTED_TO_CAPACITY_RATIO => {
                    // 1.22 took this name for its built-in key and dropped any argument, then
                    // could not build the plugin without args.
                    return Err(PolicyError::Invalid {
                        path: format!("{path}.name"),
                        message: "kube-scheduler 1.22 read the name RequestedToCapacityRatio \
                                  as its built-in key, dropped the priority's argument and \
                                  then failed to build the plugin without args; expected \
                                  another name for the priority with \
                                  requestedToCapacityRatioArguments (such as \
                                  RequestedToCapacityRatioPriority)"
                            .into(),
                    });
                }
                _ => {
                    if p.argument.is_some() {
                        notes.push(PolicyNote {
                            path: format!("{path}.argument"),
                            message: format!(
                                "{:?} is a built-in priority, so its argument is ignored (as \
                                 kube-scheduler 1.22 ignored it)",
                                p.name
                            ),
                        });
                    }
                }
            }
            keys.insert(key, (p.weight, i));
            continue;
        }
        let Some(arg) = &p.argument else {
            return Err(unregistered(
                NameKind::Priority,
                &p.name,
                format!("{path}.name"),
            ));
        };
        if let Some(args) = &arg.requested_to_capacity_ratio_arguments {
            validate_capacity_ratio(
                args,
                &format!("{path}.argument.requestedToCapacityRatioArguments"),
            )?;
            capacity_ratio = Some((i, args.clone()));
            keys.insert(REQUESTED_TO_CAPACITY_RATIO, (p.weight, i));
        } else if arg.service_anti_affinity.is_some() {
            return Err(not_modelled(
                format!("{path}.argument.serviceAntiAffinity"),
                "a custom priority with serviceAntiAffinity",
                "ServiceAffinity",
                "use preferred pod anti-affinity or topology spread constraints in the pods \
                 instead",
            ));
        } else {
            return Err(not_modelled(
                format!("{path}.argument.labelPreference"),
                "a custom priority with labelPreference",
                "NodeLabel",
                "use preferred node affinity in the pods instead",
            ));
        }
    }
    Ok((keys, capacity_ratio))
}

/// A plugin set of exactly `names` (and weights), nothing from the defaults.
fn only(names: impl IntoIterator<Item = (&'static str, i64)>) -> PluginSet {
    PluginSet {
        enabled: names
            .into_iter()
            .map(|(name, weight)| PluginRef {
                name: name.to_string(),
                weight,
            })
            .collect(),
        disabled: vec![PluginRef {
            name: "*".into(),
            weight: 0,
        }],
    }
}

fn unweighted<'a>(names: &'a [&'static str]) -> impl Iterator<Item = (&'static str, i64)> + 'a {
    names.iter().map(|&n| (n, 0))
}

/// The profile as a KubeSchedulerConfiguration of kubesim's plugins.
fn configuration(
    legacy: &LegacyProfile,
    priorities: &PriorityKeys,
    gates: FeatureGates,
    notes: &mut Vec<PolicyNote>,
) -> Result<KubeSchedulerConfiguration, PolicyError> {
    let entry_of = |priority: &str| {
        let index = priorities.get(priority).map_or(usize::MAX, |&(_, i)| i);
        (index != usize::MAX).then(|| format!("priorities[{index}]"))
    };
    // NodeResourcesFit scores with one strategy: at most one resource scorer (a
    // RequestedToCapacityRatio without resources scores nothing and does not count).
    let rtcr = legacy.requested_to_capacity_ratio.as_ref();
    let empty_rtcr = rtcr.is_none_or(|a| a.resources.is_empty());
    let mut scorers: Vec<(usize, &'static str)> = RESOURCE_SCORERS
        .iter()
        .filter(|(plugin, _, _)| legacy.score.iter().any(|(n, _)| n == plugin))
        .filter(|(plugin, _, _)| *plugin != REQUESTED_TO_CAPACITY_RATIO || !empty_rtcr)
        .map(|&(_, priority, _)| {
            let index = priorities.get(priority).map_or(usize::MAX, |&(_, i)| i);
            (index, priority)
        })
        .collect();
    scorers.sort();
    if let [(first_index, first), (index, second), ..] = scorers[..] {
        let name = |priority: &'static str| {
            if priority == REQUESTED_TO_CAPACITY_RATIO {
                "the requestedToCapacityRatioArguments priority"
            } else {
                priority
            }
        };
        return Err(PolicyError::NotModelled {
            path: format!("priorities[{index}].name"),
            message: format!(
                "{} and {} (priorities[{first_index}]) both score requested resources: \
                 kube-scheduler 1.22 ran them as two plugins, but they are one now \
                 (NodeResourcesFit, with one scoring strategy, since v1.23), and so in \
                 kubesim; expected at most one of LeastRequestedPriority, \
                 MostRequestedPriority and a requestedToCapacityRatioArguments priority",
                name(second),
                name(first)
            ),
        });
    }
    let mut plugin_config = Vec::new();
    let mut score: Vec<(&'static str, i64)> = Vec::new();
    for &(name, weight) in &legacy.score {
        let resources = RESOURCE_SCORERS.iter().any(|(p, _, _)| *p == name);
        if !resources {
            score.push((name, weight));
            continue;
        }
        if name == REQUESTED_TO_CAPACITY_RATIO && empty_rtcr {
            // 1.22 did not default explicit args: with no resources, every node scored 0.
            notes.push(PolicyNote {
                path: entry_of(REQUESTED_TO_CAPACITY_RATIO)
                    .map(|p| format!("{p}.argument.requestedToCapacityRatioArguments.resources"))
                    .unwrap_or_default(),
                message: "no resources: kube-scheduler 1.22 scored every node 0 with it, so \
                          the priority adds nothing"
                    .into(),
            });
            continue;
        }
        score.push((NODE_RESOURCES_FIT, weight));
        let strategy = RESOURCE_SCORERS
            .iter()
            .find(|(plugin, _, _)| *plugin == name)
            .map_or("LeastAllocated", |&(_, _, strategy)| strategy);
        let args = match rtcr.filter(|_| name == REQUESTED_TO_CAPACITY_RATIO) {
            Some(a) => serde_json::json!({
                "scoringStrategy": {
                    "type": strategy,
                    "resources": a.resources.iter()
                        .map(|r| serde_json::json!({"name": r.name, "weight": r.weight}))
                        .collect::<Vec<_>>(),
                    "requestedToCapacityRatio": {
                        "shape": a.shape.iter()
                            .map(|p| serde_json::json!({"utilization": p.utilization, "score": p.score}))
                            .collect::<Vec<_>>(),
                    },
                }
            }),
            None => serde_json::json!({
                "scoringStrategy": {
                    "type": strategy,
                    "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
                }
            }),
        };
        plugin_config.push(PluginConfigEntry {
            name: NODE_RESOURCES_FIT.into(),
            args,
        });
    }
    let uses = |name: &str| {
        legacy.filter.contains(&name)
            || legacy.pre_filter.contains(&name)
            || score.iter().any(|(n, _)| *n == name)
    };
    // Explicit args, or what 1.22's v1beta2 defaulting gave PodTopologySpread: System defaults
    // with the gate on, none with it off.
    let defaulting = legacy
        .pod_topology_spread_defaulting
        .or((!gates.default_pod_topology_spread && uses(POD_TOPOLOGY_SPREAD)).then_some("List"));
    if let Some(t) = defaulting {
        plugin_config.push(PluginConfigEntry {
            name: POD_TOPOLOGY_SPREAD.into(),
            args: serde_json::json!({ "defaultingType": t }),
        });
    }
    if let Some(w) = legacy.hard_pod_affinity_weight {
        plugin_config.push(PluginConfigEntry {
            name: INTER_POD_AFFINITY.into(),
            args: serde_json::json!({ "hardPodAffinityWeight": w }),
        });
    }
    // kubesim's plugins do their per-cycle work at PreFilter and PreScore, where 1.22's
    // sometimes did it inside Filter and Score: every filter plugin also runs at PreFilter,
    // every score plugin at PreScore (the resolver leaves out points a plugin lacks).
    let mut pre_filter = legacy.pre_filter.clone();
    for &name in &legacy.filter {
        add(&mut pre_filter, name);
    }
    let mut pre_score = legacy.pre_score.clone();
    for &(name, _) in &score {
        add(&mut pre_score, name);
    }
    let plugins = PluginsConfig {
        multi_point: only([]),
        queue_sort: only(unweighted(&legacy.queue_sort)),
        pre_filter: only(unweighted(&pre_filter)),
        filter: only(unweighted(&legacy.filter)),
        post_filter: only(unweighted(&legacy.post_filter)),
        pre_score: only(unweighted(&pre_score)),
        score: only(score),
        reserve: only(unweighted(&legacy.reserve)),
        pre_bind: only(unweighted(&legacy.pre_bind)),
        bind: only(unweighted(&legacy.bind)),
        ..PluginsConfig::default()
    };
    Ok(KubeSchedulerConfiguration {
        profiles: vec![ProfileConfig {
            scheduler_name: Some(DEFAULT_SCHEDULER_NAME.to_string()),
            percentage_of_nodes_to_score: None,
            plugins,
            plugin_config,
        }],
        max_weight: Some(MAX_PRIORITY_WEIGHT),
        ..KubeSchedulerConfiguration::default()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::kube_scheduler::ResourceSpec;

    fn policy(value: serde_json::Value) -> Policy {
        match serde_json::from_value(value) {
            Ok(p) => p,
            Err(e) => panic!("a test policy: {e}"),
        }
    }

    fn legacy(value: serde_json::Value) -> LegacyProfile {
        legacy_with(value, FeatureGates::default())
    }

    fn legacy_with(value: serde_json::Value, gates: FeatureGates) -> LegacyProfile {
        match translate(&policy(value), gates) {
            Ok(t) => t.legacy,
            Err(e) => panic!("translate: {e}"),
        }
    }

    fn error(value: serde_json::Value) -> PolicyError {
        match translate(&policy(value), FeatureGates::default()) {
            Ok(t) => panic!("expected an error, got {:?}", t.legacy),
            Err(e) => e,
        }
    }

    /// The resolved profile's plugins at Filter, and at Score with weights.
    fn resolved(
        value: serde_json::Value,
        gates: FeatureGates,
    ) -> (Vec<String>, Vec<(String, i64)>) {
        let t = match translate(&policy(value), gates) {
            Ok(t) => t,
            Err(e) => panic!("translate: {e}"),
        };
        let config = match crate::scheduler::config::resolve(&t.configuration) {
            Ok(c) => c,
            Err(e) => panic!("resolve: {e}"),
        };
        let profile = &config.profiles[0];
        assert_eq!(profile.name, "default-scheduler");
        let name = |i: usize| profile.plugins[i].name().to_string();
        (
            profile.filter.iter().map(|&i| name(i)).collect(),
            profile
                .score
                .iter()
                .map(|w| (name(w.plugin), w.weight))
                .collect(),
        )
    }

    #[test]
    fn each_predicate_adds_its_plugins_after_the_mandatory_ones_in_fixed_order() {
        // Every Policy gets CheckNodeUnschedulable (NodeUnschedulable, first in the predicate
        // order) and PodToleratesNodeTaints (TaintToleration, eighth); each predicate's
        // plugins go where its name sits in that order.
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "GeneralPredicates",
                &[
                    "NodeUnschedulable",
                    "NodeResourcesFit",
                    "NodeName",
                    "NodePorts",
                    "NodeAffinity",
                    "TaintToleration",
                ],
                &["NodeResourcesFit", "NodePorts", "NodeAffinity"],
            ),
            (
                "HostName",
                &["NodeUnschedulable", "NodeName", "TaintToleration"],
                &[],
            ),
            (
                "PodFitsHostPorts",
                &["NodeUnschedulable", "NodePorts", "TaintToleration"],
                &["NodePorts"],
            ),
            (
                "PodFitsPorts",
                &["NodeUnschedulable", "NodePorts", "TaintToleration"],
                &["NodePorts"],
            ),
            (
                "MatchNodeSelector",
                &["NodeUnschedulable", "NodeAffinity", "TaintToleration"],
                &["NodeAffinity"],
            ),
            (
                "PodFitsResources",
                &["NodeUnschedulable", "NodeResourcesFit", "TaintToleration"],
                &["NodeResourcesFit"],
            ),
            (
                "NoDiskConflict",
                &["NodeUnschedulable", "VolumeRestrictions", "TaintToleration"],
                &[],
            ),
            (
                "PodToleratesNodeTaints",
                &["NodeUnschedulable", "TaintToleration"],
                &[],
            ),
            (
                "CheckNodeUnschedulable",
                &["NodeUnschedulable", "TaintToleration"],
                &[],
            ),
            (
                "MaxEBSVolumeCount",
                &["NodeUnschedulable", "TaintToleration", "EBSLimits"],
                &[],
            ),
            (
                "MaxGCEPDVolumeCount",
                &["NodeUnschedulable", "TaintToleration", "GCEPDLimits"],
                &[],
            ),
            (
                "MaxCSIVolumeCountPred",
                &["NodeUnschedulable", "TaintToleration", "NodeVolumeLimits"],
                &[],
            ),
            (
                "MaxAzureDiskVolumeCount",
                &["NodeUnschedulable", "TaintToleration", "AzureDiskLimits"],
                &[],
            ),
            (
                "MaxCinderVolumeCount",
                &["NodeUnschedulable", "TaintToleration", "CinderLimits"],
                &[],
            ),
            (
                "CheckVolumeBinding",
                &["NodeUnschedulable", "TaintToleration", "VolumeBinding"],
                &["VolumeBinding"],
            ),
            (
                "NoVolumeZoneConflict",
                &["NodeUnschedulable", "TaintToleration", "VolumeZone"],
                &[],
            ),
            (
                "EvenPodsSpread",
                &["NodeUnschedulable", "TaintToleration", "PodTopologySpread"],
                &["PodTopologySpread"],
            ),
            (
                "MatchInterPodAffinity",
                &["NodeUnschedulable", "TaintToleration", "InterPodAffinity"],
                &["InterPodAffinity"],
            ),
        ];
        for &(name, filter, pre_filter) in cases {
            let p = legacy(json!({"predicates": [{"name": name}], "priorities": []}));
            assert_eq!(p.filter, filter, "{name}");
            assert_eq!(p.pre_filter, pre_filter, "{name}");
            assert!(p.score.is_empty(), "{name}");
            assert_eq!(p.queue_sort, ["PrioritySort"]);
            assert_eq!(p.post_filter, ["DefaultPreemption"]);
            assert_eq!(p.bind, ["DefaultBinder"]);
        }
        // VolumeBinding also reserves and pre-binds (both no-ops here: no volumes).
        let p = legacy(json!({"predicates": [{"name": "CheckVolumeBinding"}]}));
        assert_eq!(
            (p.reserve, p.pre_bind),
            (vec!["VolumeBinding"], vec!["VolumeBinding"])
        );
    }

    #[test]
    fn each_priority_adds_its_score_plugin_with_the_policy_weight() {
        // (priority, Score plugin, PreScore plugins) with weight 3 each.
        let cases: &[(&str, &str, &[&str])] = &[
            // DefaultPodTopologySpread is on in 1.22: PodTopologySpread, system defaults.
            (
                "SelectorSpreadPriority",
                "PodTopologySpread",
                &["PodTopologySpread"],
            ),
            (
                "ServiceSpreadingPriority",
                "PodTopologySpread",
                &["PodTopologySpread"],
            ),
            (
                "EvenPodsSpreadPriority",
                "PodTopologySpread",
                &["PodTopologySpread"],
            ),
            (
                "InterPodAffinityPriority",
                "InterPodAffinity",
                &["InterPodAffinity"],
            ),
            ("LeastRequestedPriority", "NodeResourcesLeastAllocated", &[]),
            ("MostRequestedPriority", "NodeResourcesMostAllocated", &[]),
            (
                "BalancedResourceAllocation",
                "NodeResourcesBalancedAllocation",
                &[],
            ),
            ("NodeAffinityPriority", "NodeAffinity", &["NodeAffinity"]),
            (
                "TaintTolerationPriority",
                "TaintToleration",
                &["TaintToleration"],
            ),
            ("ImageLocalityPriority", "ImageLocality", &[]),
            ("NodePreferAvoidPodsPriority", "NodePreferAvoidPods", &[]),
        ];
        for &(name, plugin, pre_score) in cases {
            let p = legacy(json!({"predicates": [], "priorities": [{"name": name, "weight": 3}]}));
            assert_eq!(p.score, [(plugin, 3)], "{name}");
            assert_eq!(p.pre_score, pre_score, "{name}");
            assert_eq!(p.filter, ["NodeUnschedulable", "TaintToleration"], "{name}");
        }
        // The spreading priorities' PodTopologySpread args: system defaults for
        // SelectorSpreadPriority, none (List) for EvenPodsSpreadPriority.
        let args = |name: &str| {
            legacy(json!({"priorities": [{"name": name, "weight": 1}]}))
                .pod_topology_spread_defaulting
        };
        assert_eq!(args("SelectorSpreadPriority"), Some("System"));
        assert_eq!(args("EvenPodsSpreadPriority"), Some("List"));
        // EqualPriority adds nothing at all.
        let p = legacy(json!({"priorities": [{"name": "EqualPriority", "weight": 1}]}));
        assert!(p.score.is_empty() && p.pre_score.is_empty());
        // A requestedToCapacityRatioArguments priority, whatever its name.
        let rtcr = json!({"shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}],
                          "resources": [{"name": "cpu", "weight": 2}]});
        let p = legacy(json!({"priorities": [
            {"name": "Bin", "weight": 4, "argument": {"requestedToCapacityRatioArguments": rtcr}}]}));
        assert_eq!(p.score, [("RequestedToCapacityRatio", 4)]);
        assert_eq!(
            p.requested_to_capacity_ratio
                .map(|a| (a.shape.len(), a.resources)),
            Some((2, vec![ResourceSpec::new("cpu", 2)]))
        );
        // hardPodAffinitySymmetricWeight reaches InterPodAffinity through its priority.
        let p = legacy(json!({"hardPodAffinitySymmetricWeight": 7,
                              "priorities": [{"name": "InterPodAffinityPriority", "weight": 1}]}));
        assert_eq!(p.hard_pod_affinity_weight, Some(7));
    }

    #[test]
    fn absent_lists_mean_the_defaults_and_empty_lists_mean_none() {
        // 1.22's defaults (DefaultPredicates, DefaultPriorities) expanded. Filter follows the
        // predicate order; Score follows the priorities' names in byte order:
        // BalancedResourceAllocation, EvenPodsSpreadPriority (PodTopologySpread, weight 2),
        // ImageLocalityPriority, InterPodAffinityPriority, LeastRequestedPriority,
        // NodeAffinityPriority, NodePreferAvoidPodsPriority (10000), SelectorSpreadPriority
        // (PodTopologySpread again: it keeps weight 2, and its args become System),
        // TaintTolerationPriority.
        let p = legacy(json!({}));
        assert_eq!(
            p.filter,
            [
                "NodeUnschedulable",
                "NodeResourcesFit",
                "NodeName",
                "NodePorts",
                "NodeAffinity",
                "VolumeRestrictions",
                "TaintToleration",
                "EBSLimits",
                "GCEPDLimits",
                "NodeVolumeLimits",
                "AzureDiskLimits",
                "VolumeBinding",
                "VolumeZone",
                "PodTopologySpread",
                "InterPodAffinity",
            ]
        );
        assert_eq!(
            p.pre_filter,
            [
                "NodeResourcesFit",
                "NodePorts",
                "NodeAffinity",
                "VolumeBinding",
                "PodTopologySpread",
                "InterPodAffinity",
            ]
        );
        assert_eq!(
            p.score,
            [
                ("NodeResourcesBalancedAllocation", 1),
                ("PodTopologySpread", 2),
                ("ImageLocality", 1),
                ("InterPodAffinity", 1),
                ("NodeResourcesLeastAllocated", 1),
                ("NodeAffinity", 1),
                ("NodePreferAvoidPods", 10000),
                ("TaintToleration", 1),
            ]
        );
        assert_eq!(
            p.pre_score,
            [
                "PodTopologySpread",
                "InterPodAffinity",
                "NodeAffinity",
                "TaintToleration"
            ]
        );
        assert_eq!(p.pod_topology_spread_defaulting, Some("System"));
        // null is absent too.
        assert_eq!(legacy(json!({"predicates": null, "priorities": null})), p);
        // Empty lists: the mandatory filters and nothing else.
        let p = legacy(json!({"predicates": [], "priorities": []}));
        assert_eq!(p.filter, ["NodeUnschedulable", "TaintToleration"]);
        assert!(p.pre_filter.is_empty() && p.score.is_empty() && p.pre_score.is_empty());
    }

    #[test]
    fn a_plugin_keeps_its_first_weight_and_a_repeated_priority_its_last() {
        // EvenPodsSpreadPriority (5) comes before SelectorSpreadPriority (9) in name order:
        // PodTopologySpread keeps 5, and SelectorSpreadPriority still sets System defaults.
        let p = legacy(json!({"priorities": [
            {"name": "SelectorSpreadPriority", "weight": 9},
            {"name": "EvenPodsSpreadPriority", "weight": 5}]}));
        assert_eq!(p.score, [("PodTopologySpread", 5)]);
        assert_eq!(p.pod_topology_spread_defaulting, Some("System"));
        // The same name twice: the last entry's weight.
        let p = legacy(json!({"priorities": [
            {"name": "LeastRequestedPriority", "weight": 1},
            {"name": "LeastRequestedPriority", "weight": 4}]}));
        assert_eq!(p.score, [("NodeResourcesLeastAllocated", 4)]);
    }

    #[test]
    fn the_gates_choose_selector_spread_and_node_resource_limits() {
        let old = FeatureGates {
            default_pod_topology_spread: false,
            resource_limits_priority_function: true,
        };
        let p = legacy_with(
            json!({"predicates": [{"name": "EvenPodsSpread"}], "priorities": [
                {"name": "SelectorSpreadPriority", "weight": 2},
                {"name": "ResourceLimitsPriority", "weight": 1}]}),
            old,
        );
        // Name order: ResourceLimitsPriority, SelectorSpreadPriority.
        assert_eq!(p.score, [("NodeResourceLimits", 1), ("SelectorSpread", 2)]);
        assert_eq!(p.pre_score, ["NodeResourceLimits", "SelectorSpread"]);
        // No explicit PodTopologySpread args: with the gate off, 1.22 defaulted them to List.
        assert_eq!(p.pod_topology_spread_defaulting, None);
        let (_, score) = resolved(
            json!({"priorities": [{"name": "SelectorSpreadPriority", "weight": 2}]}),
            old,
        );
        assert_eq!(score, [("SelectorSpread".to_string(), 2)]);
        // With the alpha gate, the default priorities gain ResourceLimitsPriority (weight 1).
        let p = legacy_with(json!({}), old);
        assert!(
            p.score.contains(&("NodeResourceLimits", 1)),
            "{:?}",
            p.score
        );
        assert!(p.score.contains(&("SelectorSpread", 1)), "{:?}", p.score);
    }

    #[test]
    fn the_configuration_runs_kubesims_plugins_with_the_policy_weights() {
        // LeastRequested and Most are NodeResourcesFit with a strategy; the volume and
        // avoid-pods plugins have no instance and disappear from the built profile.
        let (filter, score) = resolved(
            json!({"predicates": [{"name": "GeneralPredicates"}, {"name": "NoDiskConflict"}],
                   "priorities": [
                       {"name": "MostRequestedPriority", "weight": 200},
                       {"name": "NodePreferAvoidPodsPriority", "weight": 10000},
                       {"name": "TaintTolerationPriority", "weight": 3}]}),
            FeatureGates::default(),
        );
        assert_eq!(
            filter,
            [
                "NodeUnschedulable",
                "NodeResourcesFit",
                "NodeName",
                "NodePorts",
                "NodeAffinity",
                "TaintToleration",
            ]
        );
        // Weights above 100 are a Policy's to give.
        assert_eq!(
            score,
            [
                ("NodeResourcesFit".to_string(), 200),
                ("TaintToleration".to_string(), 3)
            ]
        );
        let t = translate(
            &policy(json!({"priorities": [{"name": "MostRequestedPriority", "weight": 1}]})),
            FeatureGates::default(),
        );
        let args = t.map(|t| t.configuration.profiles[0].plugin_config.clone());
        assert_eq!(
            args.map(|c| c
                .iter()
                .map(|e| (e.name.clone(), e.args.clone()))
                .collect::<Vec<_>>()),
            Ok(vec![(
                "NodeResourcesFit".to_string(),
                json!({"scoringStrategy": {"type": "MostAllocated", "resources": [
                    {"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]}})
            )])
        );
        // A capacity-ratio priority carries its shape and resources over.
        let (_, score) = resolved(
            json!({"priorities": [{"name": "x", "weight": 2, "argument": {
                "requestedToCapacityRatioArguments": {
                    "shape": [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}],
                    "resources": [{"name": "cpu", "weight": 1}]}}}]}),
            FeatureGates::default(),
        );
        assert_eq!(score, [("NodeResourcesFit".to_string(), 2)]);
    }

    #[test]
    fn removed_names_are_refused_with_the_release_that_removed_them() {
        let e = error(
            json!({"predicates": [{"name": "GeneralPredicates"}, {"name": "CheckNodeCondition"}]}),
        );
        assert_eq!(e.path(), "predicates[1].name");
        assert!(
            matches!(
                &e,
                PolicyError::Removed {
                    removed_in: "v1.17",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.message().contains("PodToleratesNodeTaints"), "{e}");
        for name in [
            "CheckNodeMemoryPressure",
            "CheckNodeDiskPressure",
            "CheckNodePIDPressure",
        ] {
            let e = error(json!({"predicates": [{"name": name}]}));
            assert!(
                matches!(
                    e,
                    PolicyError::Removed {
                        removed_in: "v1.17",
                        ..
                    }
                ),
                "{name}"
            );
        }
        let e = error(json!({"predicates": [{"name": "NoVolumeNodeConflict"}]}));
        assert!(
            matches!(
                e,
                PolicyError::Removed {
                    removed_in: "v1.9",
                    ..
                }
            ),
            "{e}"
        );
        let e = error(json!({"priorities": [
            {"name": "LeastRequestedPriority", "weight": 1},
            {"name": "EqualPriority", "weight": 1},
            {"name": "ResourceLimitsPriority", "weight": 1}]}));
        assert_eq!(e.path(), "priorities[2].name");
        assert!(
            matches!(
                e,
                PolicyError::Removed {
                    removed_in: "v1.19",
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.message().contains("ResourceLimitsPriorityFunction"),
            "{e}"
        );
    }

    #[test]
    fn names_that_never_were_policy_names_say_what_was_meant() {
        let hint = |value: serde_json::Value| match error(value) {
            PolicyError::Unknown { path, hint, .. } => format!("{path}: {hint}"),
            other => panic!("expected Unknown, got {other:?}"),
        };
        let h = hint(json!({"predicates": [{"name": "PodFitsHost"}]}));
        assert!(
            h.starts_with("predicates[0].name: ") && h.ends_with("expected HostName"),
            "{h}"
        );
        let h = hint(json!({"predicates": [{"name": "PodMatchNodeSelector"}]}));
        assert!(h.ends_with("expected MatchNodeSelector"), "{h}");
        let h = hint(
            json!({"priorities": [{"name": "RequestedToCapacityRatioPriority", "weight": 1}]}),
        );
        assert!(h.contains("requestedToCapacityRatioArguments"), "{h}");
        // The built-in key itself, even with the argument, was a startup failure in 1.22.
        let e = error(
            json!({"priorities": [{"name": "RequestedToCapacityRatio", "weight": 1,
            "argument": {"requestedToCapacityRatioArguments": {"shape": [{"utilization": 0, "score": 1}]}}}]}),
        );
        assert_eq!(e.path(), "priorities[0].name");
        assert!(
            e.message().contains("RequestedToCapacityRatioPriority"),
            "{e}"
        );
        // A predicate under priorities, wrong case, and a plain typo.
        let h = hint(json!({"priorities": [{"name": "GeneralPredicates", "weight": 1}]}));
        assert!(
            h.contains("is a predicate, not a priority: it belongs under `predicates`"),
            "{h}"
        );
        let h = hint(json!({"priorities": [{"name": "leastRequestedPriority", "weight": 1}]}));
        assert!(
            h.ends_with("case-sensitive; expected LeastRequestedPriority"),
            "{h}"
        );
        let e = error(json!({"predicates": [{"name": "Nope"}]}));
        let m = e.message();
        assert!(m.starts_with("predicate type not found for \"Nope\"; expected one of CheckNodeUnschedulable, CheckVolumeBinding,"), "{m}");
    }

    #[test]
    fn invalid_values_are_refused_as_kube_scheduler_refused_them() {
        let path = |value: serde_json::Value| {
            let e = error(value);
            (e.path().to_string(), e.message())
        };
        // Weights: EqualPriority's too, and nothing a 32-bit weight cannot hold.
        let (p, m) = path(json!({"priorities": [{"name": "EqualPriority", "weight": 0}]}));
        assert_eq!(p, "priorities[0].weight");
        assert!(m.contains("expected a positive weight"), "{m}");
        let (p, _) = path(
            json!({"priorities": [{"name": "ImageLocalityPriority", "weight": 2147483648i64}]}),
        );
        assert_eq!(p, "priorities[0].weight");
        let (p, _) = path(json!({"hardPodAffinitySymmetricWeight": 101}));
        assert_eq!(p, "hardPodAffinitySymmetricWeight");
        // Arguments: exactly one member; a capacity ratio once, with a valid shape.
        let (p, m) = path(json!({"predicates": [{"name": "x", "argument": {}}]}));
        assert_eq!(p, "predicates[0].argument");
        assert!(
            m.contains("exactly 1 predicate argument is required, found 0"),
            "{m}"
        );
        let rtcr = json!({"shape": [{"utilization": 50, "score": 5}, {"utilization": 50, "score": 10}],
                          "resources": [{"name": "cpu", "weight": 1}]});
        let (p, _) = path(json!({"priorities": [{"name": "a", "weight": 1,
            "argument": {"requestedToCapacityRatioArguments": rtcr}}]}));
        assert_eq!(
            p,
            "priorities[0].argument.requestedToCapacityRatioArguments.shape[1].utilization"
        );
        let ok = json!({"shape": [{"utilization": 0, "score": 0}], "resources": [{"name": "cpu", "weight": 1}]});
        let (p, _) = path(json!({"priorities": [
            {"name": "a", "weight": 1, "argument": {"requestedToCapacityRatioArguments": ok}},
            {"name": "b", "weight": 1, "argument": {"requestedToCapacityRatioArguments": ok}}]}));
        assert_eq!(
            p,
            "priorities[1].argument.requestedToCapacityRatioArguments"
        );
    }

    #[test]
    fn what_kubesim_does_not_model_is_refused_or_noted() {
        // NodeLabel and ServiceAffinity, by name or by argument.
        for (value, at) in [
            (
                json!({"predicates": [{"name": "zone", "argument": {"labelsPresence": {"labels": ["z"], "presence": true}}}]}),
                "predicates[0].argument.labelsPresence",
            ),
            (
                json!({"predicates": [{"name": "svc", "argument": {"serviceAffinity": {"labels": ["z"]}}}]}),
                "predicates[0].argument.serviceAffinity",
            ),
            (
                json!({"predicates": [{"name": "CheckNodeLabelPresence"}]}),
                "predicates[0].name",
            ),
            (
                json!({"priorities": [{"name": "a", "weight": 1, "argument": {"serviceAntiAffinity": {"label": "z"}}}]}),
                "priorities[0].argument.serviceAntiAffinity",
            ),
            (
                json!({"priorities": [{"name": "a", "weight": 1, "argument": {"labelPreference": {"label": "z", "presence": true}}}]}),
                "priorities[0].argument.labelPreference",
            ),
        ] {
            let e = error(value);
            assert!(matches!(e, PolicyError::NotModelled { .. }), "{e}");
            assert_eq!(e.path(), at);
            assert!(e.message().contains("removed in v1.23"), "{e}");
        }
        // Two resource scorers: NodeResourcesFit has one strategy.
        let e = error(json!({"priorities": [
            {"name": "MostRequestedPriority", "weight": 1},
            {"name": "BalancedResourceAllocation", "weight": 1},
            {"name": "LeastRequestedPriority", "weight": 1}]}));
        assert_eq!(e.path(), "priorities[2].name");
        assert!(
            e.message()
                .starts_with("LeastRequestedPriority and MostRequestedPriority (priorities[0])"),
            "{e}"
        );
        // Noted: extenders, alwaysCheckAllPredicates, an argument a built-in name ignores,
        // and a capacity ratio without resources (which scores nothing).
        let t = translate(
            &policy(
                json!({"extenders": [{"urlPrefix": "http://x"}], "alwaysCheckAllPredicates": true,
                "predicates": [{"name": "HostName", "argument": {"labelsPresence": {"labels": ["a"]}}}],
                "priorities": [
                    {"name": "LeastRequestedPriority", "weight": 1},
                    {"name": "r", "weight": 1, "argument": {"requestedToCapacityRatioArguments": {
                        "shape": [{"utilization": 0, "score": 0}]}}}]}),
            ),
            FeatureGates::default(),
        );
        let (notes, score) = match t {
            Ok(t) => (
                t.notes.into_iter().map(|n| n.path).collect::<Vec<_>>(),
                t.configuration.profiles[0].plugins.score.enabled.clone(),
            ),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            notes,
            [
                "extenders",
                "alwaysCheckAllPredicates",
                "predicates[0].argument",
                "priorities[1].argument.requestedToCapacityRatioArguments.resources",
            ]
        );
        assert_eq!(
            score,
            [PluginRef {
                name: "NodeResourcesFit".into(),
                weight: 1
            }]
        );
    }
}
