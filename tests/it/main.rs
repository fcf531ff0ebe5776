//! The integration tests: one binary, one module per area.

mod cli;
mod determinism;
mod store_watch;
