//! The plugin registry: which plugin names exist, and building a plugin from its name and its
//! `pluginConfig` args.
//!
//! Plugins that kubesim knows by name but whose work lives elsewhere or is out of scope have no
//! framework instance: PrioritySort and SchedulingGates are the queue's, DefaultPreemption is
//! the scheduler's PostFilter, DefaultBinder is the bind request; the volume plugins
//! (VolumeRestrictions, NodeVolumeLimits, VolumeBinding, VolumeZone) and DynamicResources are
//! out of scope because volumes and devices are not modelled.

use serde::de::DeserializeOwned;

use crate::scheduler::config::ConfigError;
use crate::scheduler::framework::{ExtensionPoints, Plugin};

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
];

/// Whether `name` is a plugin kubesim knows.
pub fn is_known(name: &str) -> bool {
    KNOWN_PLUGINS.contains(&name)
}

/// A plugin's `args` as written, and the field path to name in errors.
pub struct PluginArgs<'a> {
    /// The args (None when the profile has no pluginConfig entry for the plugin).
    pub value: Option<&'a serde_json::Value>,
    /// `profiles[i].pluginConfig[j].args`.
    pub path: &'a str,
}

impl PluginArgs<'_> {
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
    let _ = &args;
    match name {
        _ if is_known(name) => Ok(None),
        _ => Err(ConfigError {
            path: args.path.to_string(),
            message: format!("unknown plugin {name:?}"),
        }),
    }
}
