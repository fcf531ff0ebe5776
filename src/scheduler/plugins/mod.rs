//! The scheduler plugins, one file each, named as in KubeSchedulerConfiguration.

mod registry;
pub use registry::{KNOWN_PLUGINS, NoOp, PluginArgs, is_known, new_plugin};
