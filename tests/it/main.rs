//! The integration tests: one binary, one module per area.

mod cli;
mod determinism;
mod explain;
mod gpu;
mod replay;
mod scheduling;
mod store_watch;
mod sweep;
