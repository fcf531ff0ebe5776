//! `kubesim run`: load a scenario, simulate it, write the report.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{CliError, RunArgs};
use crate::report::{self, ReportOptions, RunInfo};
use crate::scenario;
use crate::sim::SimTime;
use crate::world::{self, Components, RunOptions};

/// Events between progress updates: often enough to look alive, rare enough to cost nothing.
const PROGRESS_EVERY: u64 = 4096;

/// Runs the scenario named in `args`.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    let scenario = scenario::load(&args.scenario, &Components)
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    for warning in &scenario.warnings {
        eprintln!("warning: {}: {}", warning.pos, warning.message);
    }
    if args.verbose {
        for note in &scenario.notes {
            eprintln!("note: {}: {}", note.pos, note.message);
        }
    }
    if let Some(replay) = &scenario.replay {
        return run_replay(args, &scenario, replay);
    }
    let options = RunOptions {
        seed: args.seed,
        record_writes: args.events,
        ..RunOptions::default()
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let stop = world::stop_at(&scenario, args.until);
    let until = stop.until.unwrap_or(SimTime::ZERO);
    let mut sim = world::build(&scenario, &options);
    let mut progress = Progress::new(until, !args.quiet && std::io::stderr().is_terminal());
    let stop_reason = sim.run_with_progress(stop, PROGRESS_EVERY, |now| progress.update(now));
    progress.finish();
    let end = sim.now();
    sim.model_mut().sample(end);
    let info = RunInfo {
        scenario: &scenario,
        scenario_file: args
            .scenario
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        seed,
        end,
        stop_reason,
        events_processed: sim.processed_events(),
        trace_digest: sim.model().trace_digest(sim.digest()).to_string(),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(&scenario.name));
    let report_options = ReportOptions {
        events: args.events,
        openmetrics: args
            .openmetrics
            .then(|| args.openmetrics_start.unwrap_or_default()),
    };
    let written = report::write(&out, &info, sim.model(), report_options)
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    if !args.quiet {
        print_summary(&info, sim.model(), &written, report_options);
    }
    // The process ends here: freeing a large cluster object by object would take a tenth of
    // a big run's time for memory the exit returns anyway.
    std::mem::forget(sim);
    Ok(())
}

/// Runs a `spec.replay` scenario: the replay protocol with the scenario's policy, writing the
/// replay outputs (`kubesim replay`'s) instead of a cluster report.
fn run_replay(
    args: &RunArgs,
    scenario: &scenario::Scenario,
    replay: &scenario::load::ReplaySettings,
) -> Result<(), CliError> {
    if args.until.is_some() || args.events || args.openmetrics {
        return Err(CliError::bad_input(format!(
            "{}: a replay scenario places each pod once; --until, --events and --openmetrics do not apply",
            args.scenario.display()
        )));
    }
    let seed = args.seed.unwrap_or(scenario.seed);
    let bad = |e: &dyn std::fmt::Display| CliError::bad_input(e.to_string());
    let (result, provenance) =
        crate::sweep::execute::replay_scenario(replay, seed).map_err(|e| bad(&e))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(&scenario.name));
    let written = crate::scheduler::gpu::replay::write_report(&result, &provenance, &out)
        .map_err(|e| bad(&e))?;
    if !args.quiet {
        let pct = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2} %"));
        println!(
            "{}: replay of {} under {}, seed {}: {} nodes, {} GPUs, {} pods, {} failed",
            scenario.name,
            replay.pods_as_written,
            result.policy.label(),
            seed,
            result.nodes,
            result.gpus,
            result.prepared.pods,
            result.failed()
        );
        println!(
            "  GPU allocation at 100 % arrived: {}; at 130 %: {}; fragmentation at 130 %: {}",
            pct(result.alloc_pct_at(100)),
            pct(result.alloc_pct_at(130)),
            pct(result.frag_amount_pct_at(130))
        );
        println!("  report: {}", written.display());
    }
    Ok(())
}

/// A progress bar in virtual time on stderr, shown only to a person watching (stderr is a
/// terminal) and only once a run has taken long enough to need one.
struct Progress {
    until: SimTime,
    enabled: bool,
    /// Wall-clock start; progress display is the one use of the wall clock, and it never
    /// influences the run or its outputs.
    started: Option<std::time::Instant>,
    bar: Option<ProgressBar>,
}

/// Runs shorter than this never show a bar.
const PROGRESS_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

impl Progress {
    // The wall clock decides only when the progress bar appears, never what is simulated
    // or written.
    #[allow(clippy::disallowed_methods)]
    fn new(until: SimTime, enabled: bool) -> Self {
        Progress {
            until,
            enabled,
            started: enabled.then(std::time::Instant::now),
            bar: None,
        }
    }

    fn update(&mut self, now: SimTime) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.is_some_and(|s| s.elapsed() >= PROGRESS_AFTER) {
            self.bar = Some(new_bar(self.until));
        }
        if let Some(bar) = &self.bar {
            bar.set_position(now.as_nanos() / 1_000_000);
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A bar counting virtual milliseconds.
fn new_bar(until: SimTime) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(until.as_nanos() / 1_000_000),
        ProgressDrawTarget::stderr_with_hz(4),
    );
    let style =
        ProgressStyle::with_template("{spinner} virtual time [{bar:40}] {percent}% ({eta} left)")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn print_summary(
    info: &RunInfo<'_>,
    world: &world::World,
    out: &std::path::Path,
    options: ReportOptions,
) {
    let empty = crate::metrics::Sample::default();
    let last = world.recorder().last().unwrap_or(&empty);
    let failed = world
        .kubectl()
        .outcomes()
        .iter()
        .filter(|o| !o.errors.is_empty())
        .count();
    println!(
        "{}: simulated {} ({}), {} events, seed {}",
        info.scenario.name,
        info.end,
        info.stop_reason_name(),
        info.events_processed,
        info.seed
    );
    println!(
        "  nodes {}, pods {} ({} bound, {} pending, {} terminating); cpu {:.1}% and memory {:.1}% requested",
        last.nodes,
        last.pods,
        last.pods_bound,
        last.pods_pending,
        last.pods_terminating,
        last.allocation_pct(crate::api::resources::CPU),
        last.allocation_pct(crate::api::resources::MEMORY),
    );
    println!(
        "  apiserver: {} requests ({} writes); timeline: {} action(s), {} with errors",
        last.api_requests,
        last.api_writes,
        world.kubectl().outcomes().len(),
        failed
    );
    println!("  report: {}", out.join("report.html").display());
    if let Some(start) = options.openmetrics {
        println!(
            "  OpenMetrics: {} (virtual time 0 at {start})",
            out.join(report::openmetrics::FILE).display()
        );
    }
}
