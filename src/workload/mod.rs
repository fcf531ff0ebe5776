//! Workload traces: readers that turn published cluster traces into plain rows (nodes and pods)
//! that experiments replay. Readers own parsing and input errors only; what a row means to a
//! scheduler lives with the scheduler (for GPU sharing, [`crate::scheduler::gpu`]).

pub mod openb;
