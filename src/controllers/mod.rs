//! kube-controller-manager's controllers, one file each, and the algorithms they share.
//!
//! kube-controller-manager is one component ([`kube_controller_manager`]) with one shared
//! informer factory, as upstream's one process; each controller is a
//! [`kube_controller_manager::Controller`] that reads the shared caches and acts through API
//! requests as its own client, as the real ones do.

pub mod deletion_ranking;
pub mod deployment;
pub mod disruption;
pub mod endpointslice;
pub mod expectations;
pub mod garbage_collector;
pub mod hpa;
pub mod kube_controller_manager;
pub mod node_lifecycle;
pub mod pods_by_node;
pub mod replicaset;
pub mod taint_eviction;
