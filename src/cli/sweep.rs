//! `kubesim sweep SCENARIO --vary KEY=V1,V2 --seeds 1..10` and `kubesim sweep merge DIR…`:
//! flags → [`crate::sweep::SweepSettings`] → the library; a progress bar counting runs on a
//! terminal; a closing summary.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{CliError, EXIT_USAGE};
use crate::sweep::plan::{Shard, Vary, parse_seeds};
use crate::sweep::{self, Progress, SweepSettings};

/// Help shown after `kubesim sweep --help`.
pub const AFTER_HELP: &str = "\
Examples:
  kubesim sweep scenarios/scheduling-basic.yaml \\
      --vary 'spec.nodePools[0].count=1000,2000' --seeds 1..10 -j 8
  kubesim sweep scenarios/quickstart.yaml \\
      --vary 'scheduler.profiles[0].pluginConfig[0].args.scoringStrategy.type=LeastAllocated,MostAllocated'
  kubesim sweep scenarios/legacy-policy.yaml \\
      --vary 'policy.priorities[0].name=MostRequestedPriority,LeastRequestedPriority'
  kubesim sweep scenarios/openb-policies.yaml \\
      --vary spec.replay.policy=random,dotprod,gpuclustering,gpupacking,bestfit,fgd --seeds 1..5
  kubesim sweep S.yaml --vary … --seeds 1..100 --out /results --shard-from-env   # one shard
  kubesim sweep merge /results                                                   # after all shards

KEY is a field of the Scenario document (spec.…, metadata.…; [N] indexes a list, [\"a.b\"]
names a map key holding dots) or, behind `scheduler.`, of the KubeSchedulerConfiguration, or,
behind `policy.`, of the legacy scheduler Policy (policy.priorities[0].name=…).
Values are YAML (1000 is a number, 50us a string; quote with '…'); commas inside [], {} or
quotes do not split. Runs: the product of the values (keys in order, values in order, seeds
innermost), numbered from 0. --seeds takes 7, 1..10 (both ends included) or a list.

Writes DIR/runs/<index>-<slug>/ (each run's full report, with a `sweep` section in run.json),
then, once every run exists, DIR/sweep.csv, DIR/comparison.csv, DIR/charts/*.svg and
DIR/report.html. A run whose folder already holds it is skipped: rerun to resume.

--shard I/N runs the runs with index % N == I. --shard-from-env reads I from
JOB_COMPLETION_INDEX (Kubernetes Indexed Job) and N from KUBESIM_SHARDS, or
SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) and SLURM_ARRAY_TASK_COUNT.";

/// `kubesim sweep` arguments.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    /// `merge`: combine the folders of a sweep's shards.
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// Scenario file.
    #[arg(required = true)]
    pub scenario: Option<PathBuf>,
    /// A field and its values: KEY=V1,V2,… (repeat for more keys).
    #[arg(long, value_name = "KEY=V1,V2,…", value_parser = parse_vary)]
    pub vary: Vec<Vary>,
    /// Seeds: N, A..B (inclusive), A..=B, or a comma list (default: the scenario's seed).
    #[arg(long, value_name = "SEEDS", value_parser = parse_seed_list)]
    pub seeds: Option<SeedList>,
    /// Runs at a time (default: one per CPU).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Sweep folder (default: reports/<scenario name>-sweep/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only shard I of N: the runs with index % N == I.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, conflicts_with = "shard_from_env")]
    pub shard: Option<Shard>,
    /// Take the shard from JOB_COMPLETION_INDEX and KUBESIM_SHARDS, or from
    /// SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT.
    #[arg(long)]
    pub shard_from_env: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Seeds from `--seeds` (a newtype so clap does not take `Vec` as "many values").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedList(pub Vec<u64>);

/// `kubesim sweep` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SweepCommand {
    /// Merge the folders of a sweep's shards and build the comparison.
    #[command(after_help = "Examples:
  kubesim sweep merge /results                      # shards shared one folder
  kubesim sweep merge shard-0 shard-1 --out all     # one folder per shard

Copies every finished run the output folder lacks (default: the first DIR), then writes
sweep.csv, comparison.csv, charts/*.svg and report.html there. Every run must be finished.")]
    Merge(MergeArgs),
}

/// `kubesim sweep merge` arguments.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Sweep folders (shards of one sweep).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Folder to merge into (default: the first DIR).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_vary(text: &str) -> Result<Vary, String> {
    Vary::parse(text).map_err(|e| e.to_string())
}

fn parse_seed_list(text: &str) -> Result<SeedList, String> {
    parse_seeds(text).map(SeedList)
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    Shard::parse(text)
}

/// Runs `kubesim sweep` or `kubesim sweep merge`.
pub fn sweep(args: &SweepArgs) -> Result<(), CliError> {
    if let Some(SweepCommand::Merge(merge)) = &args.command {
        return run_merge(merge);
    }
    let Some(scenario) = args.scenario.clone() else {
        return Err(CliError {
            code: EXIT_USAGE,
            message: "kubesim sweep: expected a scenario file (or `merge DIR…`)".into(),
        });
    };
    let shard = if args.shard_from_env {
        Shard::from_env(|name| std::env::var(name).ok()).map_err(CliError::bad_input)?
    } else {
        args.shard.unwrap_or_default()
    };
    if args.jobs == Some(0) {
        return Err(CliError {
            code: EXIT_USAGE,
            message: "-j 0: expected at least one run at a time".into(),
        });
    }
    let settings = SweepSettings {
        scenario,
        vary: args.vary.clone(),
        seeds: args.seeds.clone().map(|s| s.0),
        jobs: args.jobs,
        out: args.out.clone(),
        shard,
    };
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = show.then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4));
        let style = ProgressStyle::with_template(
            "{spinner} runs [{bar:40}] {pos}/{len} ({elapsed}, {eta} left)",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let on_progress = |event: Progress| {
        if let Some(bar) = &bar {
            match event {
                Progress::Pending(n) => bar.set_length(n as u64),
                Progress::Finished => bar.inc(1),
            }
        }
    };
    let outcome =
        sweep::run(&settings, &on_progress).map_err(|e| CliError::bad_input(e.to_string()));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let outcome = outcome?;
    if !args.quiet {
        let shard_text = if shard.count > 1 {
            format!(" (shard {}/{})", shard.index, shard.count)
        } else {
            String::new()
        };
        println!(
            "sweep: {} runs; this process{shard_text}: {} ran, {} already done, {} failed",
            outcome.planned,
            outcome.ran,
            outcome.skipped,
            outcome.failed.len()
        );
        match &outcome.answer {
            Some(answer) => {
                println!("  {answer}");
                println!("  report: {}", outcome.out.join("report.html").display());
            }
            None => println!(
                "  {} run(s) of the sweep not finished yet; when every shard is done: kubesim sweep merge {}",
                outcome.missing,
                outcome.out.display()
            ),
        }
    }
    if !outcome.failed.is_empty() {
        let list = outcome
            .failed
            .iter()
            .map(|f| format!("  run {} ({}): {}", f.index, f.folder, f.message))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(CliError::bad_input(format!(
            "{} run(s) failed:\n{list}",
            outcome.failed.len()
        )));
    }
    Ok(())
}

fn run_merge(args: &MergeArgs) -> Result<(), CliError> {
    let outcome = sweep::merge(&args.dirs, args.out.as_deref())
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    if !args.quiet {
        println!(
            "merged: {} runs ({} copied into {})",
            outcome.runs,
            outcome.copied,
            outcome.out.display()
        );
        println!("  {}", outcome.answer);
        println!("  report: {}", outcome.out.join("report.html").display());
    }
    Ok(())
}
