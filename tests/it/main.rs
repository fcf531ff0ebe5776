//! The integration tests: one binary, one module per area, and `support` for what several
//! share.

mod cli;
mod controller_manager;
mod determinism;
mod disruption;
mod endpoints;
mod explain;
mod fault_properties;
mod flow_control;
mod gpu;
mod inputs;
mod kubelet;
mod legacy_policy;
mod openmetrics;
mod pod_faults;
mod queue;
mod replay;
mod reporting;
mod rollout;
mod scheduling;
mod self_healing;
mod store_watch;
mod support;
mod sweep;
mod validation;
mod zone_disruption;
