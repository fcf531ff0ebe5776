//! The scheduler plugins, one file each, named as in KubeSchedulerConfiguration, and what
//! several of them share.

use std::any::Any;

use crate::scheduler::framework::{CycleState, Status};

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
mod lanes;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resource_limits;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
mod registry;
pub mod selector_spread;
pub mod taint_toleration;
#[cfg(test)]
pub(crate) mod test_util;
pub use registry::{KNOWN_PLUGINS, NoOp, PluginArgs, is_known, new_plugin};

/// The state of type `T` that `plugin` wrote at its extension point `point` (`PreFilter`,
/// `PreScore`), or the error a later extension point fails with when that one did not run.
pub(crate) fn written_state<'s, T: Any>(
    state: &'s CycleState,
    plugin: &'static str,
    point: &str,
) -> Result<&'s T, Status> {
    state
        .read::<T>(plugin)
        .ok_or_else(|| Status::error(plugin, format!("{plugin} {point} state missing")))
}
