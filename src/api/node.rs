//! Node: capacity, allocatable resources, taints, images present, conditions.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use super::resources::ResourceList;
use super::taints::Taint;
use crate::sim::SimTime;

/// Label every kubelet sets to its node name.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// Label of the node's zone.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
/// Label of the node's region.
pub const LABEL_REGION: &str = "topology.kubernetes.io/region";

/// A node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Node {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Desired state.
    pub spec: NodeSpec,
    /// Observed state.
    pub status: NodeStatus,
}

/// A node's `spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSpec {
    /// Cordoned: no new pods are scheduled here.
    pub unschedulable: bool,
    /// Taints.
    pub taints: Vec<Taint>,
}

/// A node's `status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeStatus {
    /// Total resources.
    pub capacity: ResourceList,
    /// Resources available to pods (what the scheduler uses; falls back to capacity).
    pub allocatable: ResourceList,
    /// Conditions (`Ready`, pressures).
    pub conditions: Vec<NodeCondition>,
    /// Images present on the node.
    pub images: Vec<ContainerImage>,
}

impl NodeStatus {
    /// Allocatable resources, or capacity where allocatable is not given.
    pub fn effective_allocatable(&self) -> ResourceList {
        let mut list = self.capacity.clone();
        for (name, q) in &self.allocatable {
            list.insert(name.clone(), *q);
        }
        list
    }
}

/// A node condition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeCondition {
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// Virtual time of the last heartbeat.
    #[serde(skip)]
    pub last_heartbeat_time: SimTime,
    /// Virtual time of the last status change.
    #[serde(skip)]
    pub last_transition_time: SimTime,
}

/// An image present on a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerImage {
    /// Names (tags and digests) of the image.
    pub names: Vec<String>,
    /// Size in bytes.
    pub size_bytes: i64,
}
