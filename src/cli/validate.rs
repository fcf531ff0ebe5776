//! `kubesim validate`: load each scenario and report what it holds, or what is wrong.

use super::{CliError, ValidateArgs};
use crate::scenario;
use crate::world::Components;

/// Validates every scenario named; fails (exit 1) if any is invalid, after checking them all.
pub fn validate(args: &ValidateArgs) -> Result<(), CliError> {
    let mut failed = 0;
    for path in &args.scenarios {
        match scenario::load(path, &Components) {
            Ok(s) => {
                println!(
                    "ok: {} — scenario {:?}: {} object(s) at 0s, {} timeline action(s), duration {}, {} note(s)",
                    path.display(),
                    s.name,
                    s.initial.len(),
                    s.timeline.len(),
                    s.duration,
                    s.notes.len()
                );
                for warning in &s.warnings {
                    eprintln!("  warning: {}: {}", warning.pos, warning.message);
                }
                if args.verbose {
                    for note in &s.notes {
                        println!("  note: {}: {}", note.pos, note.message);
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(CliError::bad_input(format!(
            "{failed} of {} scenario(s) invalid",
            args.scenarios.len()
        )));
    }
    Ok(())
}
