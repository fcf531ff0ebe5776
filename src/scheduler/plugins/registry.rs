//! The plugin registry: which plugin names exist, and building a plugin from its name and its
//! `pluginConfig` args.
//!
//! Plugins that kubesim knows by name but whose work lives elsewhere or is out of scope have no
//! framework instance: PrioritySort and SchedulingGates are the queue's, DefaultPreemption is
//! the scheduler's PostFilter, DefaultBinder is the bind request; the volume plugins
//! (VolumeRestrictions, NodeVolumeLimits, VolumeBinding, VolumeZone) and DynamicResources are
//! out of scope because volumes and devices are not modelled.
//!
//! Some names exist for configurations translated from a legacy `Policy` (see
//! `scheduler::legacy_policy`), and may be used in a KubeSchedulerConfiguration too:
//! SelectorSpread and NodeResourceLimits run as kube-scheduler last ran them; the in-tree
//! volume limits EBSLimits, GCEPDLimits, AzureDiskLimits and CinderLimits are volume plugins
//! (no instance); NodePreferAvoidPods has no instance either: it reads a node annotation that
//! names controllers by UID, which a scenario cannot know, so it would give every node the
//! same score.
//!
//! The GPU-sharing plugins of the FGD artifact (`Open-Gpu-Share` and the six GPU score plugins)
//! live in `scheduler/gpu/plugins/`.

use serde::de::DeserializeOwned;

use super::balanced_allocation::{self, BalancedAllocation};
use super::image_locality::{self, ImageLocality};
use super::inter_pod_affinity::{self, InterPodAffinity};
use super::node_affinity::{self, NodeAffinity};
use super::node_name::{self, NodeName};
use super::node_ports::{self, NodePorts};
use super::node_resource_limits::{self, NodeResourceLimits};
use super::node_resources_fit::{self, NodeResourcesFit};
use super::node_unschedulable::{self, NodeUnschedulable};
use super::pod_topology_spread::{self, PodTopologySpread};
use super::selector_spread::{self, SelectorSpread};
use super::taint_toleration::{self, TaintToleration};
use crate::config::ConfigError;
use crate::config::gpu_sharing::Policy;
use crate::scheduler::framework::{ExtensionPoints, Plugin};
use crate::scheduler::gpu::plugins::gpu_score::GpuScore;
use crate::scheduler::gpu::plugins::open_gpu_share::{self, OpenGpuShare};
use crate::sim::SimRng;
use crate::sim::rng::RngStreams;

/// Every plugin name a configuration may use.
pub const KNOWN_PLUGINS: &[&str] = &[
    "SchedulingGates",
    "PrioritySort",
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "VolumeZone",
    "PodTopologySpread",
    "InterPodAffinity",
    "DynamicResources",
    "DefaultPreemption",
    "NodeResourcesBalancedAllocation",
    "ImageLocality",
    "DefaultBinder",
    // Plugins a legacy Policy translates to that later releases dropped.
    "SelectorSpread",
    "NodeResourceLimits",
    "NodePreferAvoidPods",
    "EBSLimits",
    "GCEPDLimits",
    "AzureDiskLimits",
    "CinderLimits",
    // GPU sharing (the FGD artifact's plugins).
    "Open-Gpu-Share",
    "RandomScore",
    "DotProductScore",
    "GpuClusteringScore",
    "GpuPackingScore",
    "BestFitScore",
    "FGDScore",
];

/// Whether `name` is a plugin kubesim knows.
pub fn is_known(name: &str) -> bool {
    KNOWN_PLUGINS.contains(&name)
}

/// A plugin's `args` as written, the field path to name in errors, and where a plugin that
/// draws random numbers gets its stream.
pub struct PluginArgs<'a> {
    /// The args (None when the profile has no pluginConfig entry for the plugin).
    pub value: Option<&'a serde_json::Value>,
    /// `profiles[i].pluginConfig[j].args`.
    pub path: &'a str,
    /// The run's streams.
    pub streams: RngStreams,
    /// The profile's name (`schedulerName`).
    pub profile: &'a str,
}

impl PluginArgs<'_> {
    /// The stream of plugin `plugin` in this profile: `scheduler/<profile>/<plugin>`.
    pub fn stream(&self, plugin: &str) -> SimRng {
        self.streams
            .stream(&format!("scheduler/{}/{plugin}", self.profile))
    }

    /// Parses the args into `T`, or `T::default()` (upstream's defaults) when absent.
    pub fn parse<T: DeserializeOwned + Default>(&self) -> Result<T, ConfigError> {
        match self.value {
            None | Some(serde_json::Value::Null) => Ok(T::default()),
            Some(v) => serde_path_to_error::deserialize(v).map_err(|e| ConfigError {
                path: if e.path().to_string() == "." {
                    self.path.to_string()
                } else {
                    format!("{}.{}", self.path, e.path())
                },
                message: e.inner().to_string(),
            }),
        }
    }
}

/// An args validation error worded as upstream's (`scoringStrategy.resources[0].weight:
/// Invalid value: -1: …`), located at its field below the args at `args_path`. A message
/// that names no field is the args' own.
fn args_error(args_path: &str, message: String) -> ConfigError {
    match message.split_once(": ") {
        Some((field, rest)) if !field.is_empty() && !field.contains(' ') => ConfigError {
            path: format!("{args_path}.{field}"),
            message: rest.to_string(),
        },
        _ => ConfigError {
            path: args_path.to_string(),
            message,
        },
    }
}

/// A plugin that does nothing at any extension point (stands in for plugins without a
/// framework instance, so profile indices stay aligned).
pub struct NoOp;

impl Plugin for NoOp {
    fn name(&self) -> &'static str {
        "NoOp"
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints::default()
    }
}

/// Builds the plugin called `name` with `args`; `Ok(None)` for known plugins without a
/// framework instance.
pub fn new_plugin(
    name: &str,
    args: PluginArgs<'_>,
) -> Result<Option<Box<dyn Plugin>>, ConfigError> {
    let invalid = |message: String| args_error(args.path, message);
    if let Some(policy) = Policy::from_plugin_name(name) {
        let plugin = GpuScore::new(policy, &args.parse()?, args.stream(name)).map_err(invalid)?;
        return Ok(Some(Box::new(plugin)));
    }
    let plugin: Box<dyn Plugin> = match name {
        node_unschedulable::NAME => Box::new(NodeUnschedulable::new()),
        node_name::NAME => Box::new(NodeName::new()),
        taint_toleration::NAME => Box::new(TaintToleration::new()),
        node_affinity::NAME => {
            let parsed: node_affinity::NodeAffinityArgs = args.parse()?;
            parsed
                .validate()
                .map_err(|e| invalid(format!("addedAffinity: Invalid value: {e}")))?;
            Box::new(NodeAffinity::new(parsed))
        }
        node_ports::NAME => Box::new(NodePorts::new()),
        node_resources_fit::NAME => {
            let parsed: node_resources_fit::NodeResourcesFitArgs = args.parse()?;
            parsed.validate().map_err(invalid)?;
            Box::new(NodeResourcesFit::new(parsed))
        }
        balanced_allocation::NAME => {
            let parsed: balanced_allocation::NodeResourcesBalancedAllocationArgs = args.parse()?;
            parsed.validate().map_err(invalid)?;
            Box::new(BalancedAllocation::new(parsed))
        }
        image_locality::NAME => Box::new(ImageLocality::new()),
        selector_spread::NAME => Box::new(SelectorSpread::new()),
        node_resource_limits::NAME => Box::new(NodeResourceLimits::new()),
        pod_topology_spread::NAME => {
            Box::new(PodTopologySpread::new(args.parse()?).map_err(invalid)?)
        }
        inter_pod_affinity::NAME => {
            Box::new(InterPodAffinity::new(args.parse()?).map_err(invalid)?)
        }
        open_gpu_share::NAME => {
            Box::new(OpenGpuShare::new(&args.parse()?, args.stream(name)).map_err(invalid)?)
        }

        _ if is_known(name) => return Ok(None),
        _ => return Err(invalid(format!("unknown plugin {name:?}"))),
    };
    Ok(Some(plugin))
}
