//! Workload traces and offered load: what a cluster is asked to run, and to serve.
//!
//! * [`openb`]: trace readers that turn published cluster traces into plain rows (nodes and
//!   pods) that experiments replay; what a row means to a component lives with the component
//!   (for GPU sharing, [`crate::scheduler::gpu`]).
//! * [`traffic`]: a request rate over virtual time (constant, step, ramp, sine, diurnal,
//!   spike, or points replayed from a `time,rps` CSV file), as data and a pure function.
//! * [`saturation`]: what a pod does with the requests it is offered, as an M/M/c/K queue's
//!   steady state (served, dropped, utilization, latency percentiles).
//! * [`load`]: the load model, which spreads each Service's rate over its ready endpoints and
//!   sets every running pod's CPU and memory usage — what the kubelets report and
//!   metrics-server scrapes for the HPA — with each Service's totals and changes of load. It
//!   follows the store's commits like an observer and is not a component: it sends no
//!   request.

pub mod load;
pub mod openb;
pub mod saturation;
pub mod traffic;
