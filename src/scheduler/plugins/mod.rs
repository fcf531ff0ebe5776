//! The scheduler plugins, one file each, named as in KubeSchedulerConfiguration.

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
mod registry;
pub mod taint_toleration;
#[cfg(test)]
pub(crate) mod test_util;
pub use registry::{KNOWN_PLUGINS, NoOp, PluginArgs, is_known, new_plugin};
