//! The `kubesim` command; everything it does lives in the library's `cli` module.

use std::process::ExitCode;

fn main() -> ExitCode {
    kubesim::cli::main_with_args(std::env::args_os())
}
