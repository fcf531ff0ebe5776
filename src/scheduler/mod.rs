//! kube-scheduler in virtual time: the framework (profiles, extension points, the scheduling
//! cycle), the node/pod view it works on, and the plugins, one per file under `plugins/`.

pub mod cluster_event;
pub mod config;
pub mod cycle_trace;
pub mod explain;
pub mod framework;
pub mod gpu;
pub mod kube_scheduler;
pub mod legacy_policy;
pub mod node_info;
pub mod plugins;
pub mod pod_label_index;
pub mod preemption;
pub mod queue;
