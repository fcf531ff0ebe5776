//! kube-scheduler's configuration as written: the `KubeSchedulerConfiguration` document
//! (kubescheduler.config.k8s.io/v1) — profiles, which plugins run at which extension point with
//! which weight, plugin args, the queue's backoff — and kubesim's own setting of the scheduler,
//! the virtual cost of a cycle (the Scenario's `spec.scheduler.cycleCost`).
//!
//! Merging a document with the default profile, checking plugin names and args, and building
//! the profiles is the scheduler's ([`crate::scheduler::config`]).

use serde::Deserialize;

use crate::sim::SimDuration;

/// The configuration document as written (fields kubesim does not use are ignored leniently
/// by the scenario loader, which lists them).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KubeSchedulerConfiguration {
    /// Global `percentageOfNodesToScore` (0 = adaptive).
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Initial backoff of a pod that failed to schedule, seconds (default 1).
    pub pod_initial_backoff_seconds: Option<i64>,
    /// Largest backoff, seconds (default 10).
    pub pod_max_backoff_seconds: Option<i64>,
    /// Profiles; none means the default profile.
    pub profiles: Vec<ProfileConfig>,
    /// `clientConnection`: of its fields kubesim reads `qps` and `burst`, the token bucket of
    /// kube-scheduler's API client (default 50 / 100; zero means unset).
    pub client_connection: super::ClientConnection,
    /// `leaderElection`: whether and how kube-scheduler campaigns for its Lease (upstream
    /// defaults: leaderElect true, 15s / 10s / 2s, `kube-system/kube-scheduler`).
    pub leader_election: super::leader_election::LeaderElectionConfiguration,
    /// The largest score weight a plugin may be given:
    /// [`MAX_WEIGHT`](crate::scheduler::config::MAX_WEIGHT) when unset, as for a configuration
    /// as written. Never read from a document: a configuration translated from a legacy Policy
    /// sets it, whose priorities could weigh far more.
    #[serde(skip)]
    pub max_weight: Option<i64>,
}

/// One profile as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileConfig {
    /// The `schedulerName` this profile serves.
    pub scheduler_name: Option<String>,
    /// Per-profile `percentageOfNodesToScore`.
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Plugin sets per extension point.
    pub plugins: PluginsConfig,
    /// Plugin args.
    pub plugin_config: Vec<PluginConfigEntry>,
}

/// `plugins:` of a profile.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PluginsConfig {
    /// Every extension point the plugin implements.
    pub multi_point: PluginSet,
    /// PreEnqueue.
    pub pre_enqueue: PluginSet,
    /// QueueSort.
    pub queue_sort: PluginSet,
    /// PreFilter.
    pub pre_filter: PluginSet,
    /// Filter.
    pub filter: PluginSet,
    /// PostFilter.
    pub post_filter: PluginSet,
    /// PreScore.
    pub pre_score: PluginSet,
    /// Score.
    pub score: PluginSet,
    /// Reserve.
    pub reserve: PluginSet,
    /// Permit.
    pub permit: PluginSet,
    /// PreBind.
    pub pre_bind: PluginSet,
    /// Bind.
    pub bind: PluginSet,
    /// PostBind.
    pub post_bind: PluginSet,
}

/// `enabled` / `disabled` lists of one extension point.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PluginSet {
    /// Plugins to run, in order.
    pub enabled: Vec<PluginRef>,
    /// Plugins not to run (`*` = every default).
    pub disabled: Vec<PluginRef>,
}

/// A plugin reference with an optional weight.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PluginRef {
    /// Plugin name.
    pub name: String,
    /// Score weight (0 = default 1).
    pub weight: i64,
}

/// One `pluginConfig` entry; its args are parsed by the plugin registry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PluginConfigEntry {
    /// Plugin name.
    pub name: String,
    /// The plugin's args, as written.
    pub args: serde_json::Value,
}

/// A resource and its weight in the score (`ResourceSpec` of NodeResourcesFit's and
/// NodeResourcesBalancedAllocation's args, and of a legacy Policy's
/// `requestedToCapacityRatioArguments`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceSpec {
    /// Resource name (`cpu`, `memory`, `nvidia.com/gpu`, …).
    pub name: String,
    /// Weight (1..=100; 0 or omitted means 1).
    pub weight: i64,
}

impl ResourceSpec {
    /// A resource with a weight.
    pub fn new(name: &str, weight: i64) -> Self {
        ResourceSpec {
            name: name.to_string(),
            weight,
        }
    }
}

/// One point of a RequestedToCapacityRatio shape (NodeResourcesFit's args, and a legacy
/// Policy's `requestedToCapacityRatioArguments`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UtilizationShapePoint {
    /// Utilization in percent (0..=100).
    pub utilization: i32,
    /// Score at that utilization (0..=10).
    pub score: i32,
}

/// The virtual cost of a scheduling cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CycleCost {
    /// Fixed cost of every cycle.
    pub per_cycle: SimDuration,
    /// Cost per node run through the filters.
    pub per_node_filtered: SimDuration,
    /// Cost per node scored.
    pub per_node_scored: SimDuration,
}

impl Default for CycleCost {
    /// About 1 ms per cycle on 5,000 nodes (500 filtered and scored): the order of magnitude of
    /// kube-scheduler's throughput on that workload (hundreds of pods per second).
    fn default() -> Self {
        CycleCost {
            per_cycle: SimDuration::from_micros(100),
            per_node_filtered: SimDuration::from_nanos(1_000),
            per_node_scored: SimDuration::from_nanos(1_000),
        }
    }
}
