//! Workload traces and offered load. Trace readers turn published cluster traces into plain
//! rows (nodes and pods) that experiments replay; [`traffic`] gives a request rate over
//! virtual time. Both own parsing and input errors only; what a row or a rate means to a
//! component lives with the component (for GPU sharing, [`crate::scheduler::gpu`]).

pub mod load;
pub mod openb;
pub mod saturation;
pub mod traffic;
