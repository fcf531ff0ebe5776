//! kube-controller-manager's controllers, one file each, and the algorithms they share.
//!
//! Each controller is a component ([`crate::component::Component`]) that watches through
//! informers and acts through API requests, as the real ones do.

pub mod deletion_ranking;
pub mod deployment;
pub mod disruption;
pub mod endpointslice;
pub mod expectations;
pub mod garbage_collector;
pub mod node_lifecycle;
pub mod pods_by_node;
pub mod replicaset;
pub mod taint_eviction;
