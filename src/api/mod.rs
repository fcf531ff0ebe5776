//! The Kubernetes object model: value types and kinds, with no behaviour beyond the pure
//! functions Kubernetes itself defines on them (quantity parsing, selector and toleration
//! matching, counting a pod's request).

pub mod affinity;
pub mod behavior;
pub mod deployment;
pub mod endpointslice;
pub mod event;
pub mod gpu;
pub mod hpa;
pub mod labels;
pub mod lease;
pub mod meta;
pub mod node;
pub mod object;
pub mod pdb;
pub mod pod;
pub mod priority_class;
pub mod quantity;
pub mod replicaset;
pub mod resources;
pub mod service;
pub mod sorted_map;
pub mod taints;
#[cfg(test)]
pub(crate) mod test_util;
pub mod timestamp;
pub mod validation;

pub use meta::{ObjectKey, ObjectMeta, ResourceVersion, Uid};
pub use object::{Kind, Object};
