//! The `kubesim` command; everything it does lives in the library's `cli` module.

use std::process::ExitCode;

/// A run allocates and frees millions of small objects (object versions, watch events,
/// strings); mimalloc's per-size free lists serve them faster than the system allocator and
/// keep the peak lower.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    kubesim::cli::main_with_args(std::env::args_os())
}
