//! The command line: `kubesim run` and `kubesim validate`. Arguments are parsed in two stages —
//! raw flags (clap) then validated settings — and every failure becomes a [`CliError`] with the
//! exit code the README documents.

pub mod explain;
pub mod replay;
pub mod run;
pub mod sweep;
pub mod validate;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::sim::SimDuration;

/// Exit code of a successful run.
pub const EXIT_OK: u8 = 0;
/// Exit code of bad input (scenario or trace errors) or a run that could not write its outputs.
pub const EXIT_BAD_INPUT: u8 = 1;
/// Exit code of a command line that does not parse.
pub const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
Examples:
  kubesim run scenarios/quickstart.yaml
  kubesim run scenarios/quickstart.yaml --seed 7 --out /tmp/qs --events
  kubesim run manifests/ --until 5m
  kubesim validate scenarios/*.yaml

Exit codes: 0 success, 1 bad input or failed run, 2 usage error.";

/// kubesim: a deterministic discrete-event simulator of a Kubernetes cluster.
#[derive(Debug, Parser)]
#[command(name = "kubesim", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write its report.
    #[command(after_help = "Examples:
  kubesim run scenarios/quickstart.yaml
  kubesim run scenarios/quickstart.yaml --seed 7 --out /tmp/qs --events --until 5m
  kubesim run scenarios/quickstart.yaml --openmetrics --openmetrics-start 2026-03-01T09:00:00Z

Writes summary.json, timeseries.csv, run.json, charts/*.svg and report.html (and events.jsonl
with --events, metrics.om with --openmetrics) into the output folder, atomically: a failed run
leaves no partial output.

metrics.om holds timeseries.csv's series as OpenMetrics text with timestamps; import it with
  promtool tsdb create-blocks-from openmetrics metrics.om DATA_DIR")]
    Run(RunArgs),
    /// Show why the scheduler put a pod where it did, node by node, or why an HPA set the
    /// replicas it did.
    #[command(after_help = "Examples:
  kubesim explain scenarios/quickstart.yaml --pod default/report-job
  kubesim explain scenarios/quickstart.yaml --pod default/batch-2 --attempt 1 --json
  kubesim explain scenarios/quickstart.yaml --pod default/batch-2 --at 15m
  kubesim explain scenarios/hpa-spike.yaml --hpa default/web --at 2m30s
  kubesim explain scenarios/hpa-spike.yaml --hpa default/web --json

Without --at, runs the scenario and explains the scheduler's own cycle for the pod (its last
attempt, or --attempt N): where filtering started, every node's filter verdict (first failing
plugin and its reason) in the order the cycle reached it, each score plugin's raw, normalized
and weighted score, the totals, the nodes tied at the best total; `chosen` is the node the pod
was bound to. Nodes the cycle did not reach are shown with the verdict they would have had.

--at T asks what if instead: the pod against every node of the cluster as the scheduler sees it
once everything due at T has been applied, leaving the pod's own placement out.

--hpa NS/NAME explains the HPA controller's syncs of that HPA instead: per metric its pods as
ready, unready, missing or ignored with their values, the utilization or average, the ratio and
the proposal; then the recommendation history, the stabilized value, each policy's limit, the
replicas set and the conditions. With --at T the last sync at or before T; without, every sync
of the run (one JSON object per line with --json).")]
    Explain(ExplainArgs),
    /// Check scenario files without running them.
    #[command(after_help = "Example:
  kubesim validate scenarios/*.yaml")]
    Validate(ValidateArgs),
    /// Replay a GPU-cluster trace under one GPU-sharing policy (the FGD paper's experiment).
    #[command(after_help = "Example:
  kubesim replay openb --nodes ../shared/data/openb/openb_node_list_gpu_node.csv \\
      --pods ../shared/data/openb/openb_pod_list_default.csv --policy fgd --seed 42

Writes replay.csv, summary.json, charts/replay.svg and run.json into the output folder
(default reports/replay-POLICY-SEED/), atomically: a failed run leaves no partial output.")]
    Replay(replay::ReplayArgs),
    /// Run a scenario over varied field values and seeds, in parallel, and compare the results.
    #[command(after_help = sweep::AFTER_HELP)]
    Sweep(sweep::SweepArgs),
}

/// `kubesim run` flags.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file, or a folder of Kubernetes manifests.
    pub scenario: PathBuf,
    /// Seed of every random stream (default: the scenario's `spec.seed`, else 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder (default: reports/<scenario name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop at this virtual time instead of the scenario's duration (e.g. 90s, 5m, 1h30m).
    #[arg(long, value_parser = parse_duration)]
    pub until: Option<SimDuration>,
    /// Also write events.jsonl: every API write with its virtual time.
    #[arg(long)]
    pub events: bool,
    /// Also write metrics.om: the sampled series as OpenMetrics text with timestamps, for
    /// `promtool tsdb create-blocks-from openmetrics`.
    #[arg(long)]
    pub openmetrics: bool,
    /// The instant virtual time 0 stands for in metrics.om: RFC 3339 (2026-01-01T00:00:00Z,
    /// 2026-01-01T01:00:00+01:00) or Unix seconds (1767225600) [default: 2026-01-01T00:00:00Z].
    #[arg(long, value_name = "TIME", requires = "openmetrics", value_parser = parse_start)]
    pub openmetrics_start: Option<crate::report::openmetrics::Start>,
    /// Print nothing but errors.
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also list the manifest fields and kinds kubesim ignored.
    #[arg(long, short)]
    pub verbose: bool,
}

/// `kubesim explain` flags.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Scenario file, or a folder of Kubernetes manifests.
    pub scenario: PathBuf,
    /// The pod, as namespace/name (namespace `default` when omitted).
    #[arg(long, required_unless_present = "hpa", conflicts_with = "hpa")]
    pub pod: Option<String>,
    /// A HorizontalPodAutoscaler, as namespace/name: its syncs as the controller computed
    /// them (every sync, or with --at the one at or last before that time).
    #[arg(long)]
    pub hpa: Option<String>,
    /// With --pod, what if: evaluate the pod against the cluster as it is at this virtual
    /// time, instead of explaining the scheduler's own decision. With --hpa, the sync at or
    /// last before this time.
    #[arg(long, value_parser = parse_duration)]
    pub at: Option<SimDuration>,
    /// Which of the pod's scheduling attempts to explain, 1 for the first (default: its last).
    #[arg(long, conflicts_with_all = ["at", "hpa"], value_parser = clap::value_parser!(u32).range(1..))]
    pub attempt: Option<u32>,
    /// The run's seed, which also breaks ties among equally good nodes (default: the
    /// scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print stable JSON instead of a table (with --hpa and no --at, one JSON line per
    /// sync).
    #[arg(long)]
    pub json: bool,
}

/// `kubesim validate` arguments.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files or folders of manifests.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Also list the manifest fields and kinds kubesim ignored.
    #[arg(long, short)]
    pub verbose: bool,
}

fn parse_start(text: &str) -> Result<crate::report::openmetrics::Start, String> {
    text.parse()
        .map_err(|e: crate::report::openmetrics::StartError| e.to_string())
}

fn parse_duration(text: &str) -> Result<SimDuration, String> {
    text.parse()
        .map_err(|e: crate::sim::time::DurationParseError| e.to_string())
}

/// A failure with its exit code; the message is printed to stderr.
#[derive(Debug)]
pub struct CliError {
    /// Exit code.
    pub code: u8,
    /// What to tell the user.
    pub message: String,
}

impl CliError {
    /// A bad-input failure (exit 1).
    pub fn bad_input(message: impl Into<String>) -> Self {
        CliError {
            code: EXIT_BAD_INPUT,
            message: message.into(),
        }
    }
}

/// Writes `text` to standard output. A reader that stops reading (`kubesim explain … | head`)
/// is not a failure: the rest is dropped, as other command-line tools drop it.
pub fn write_stdout(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::bad_input(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Runs the command line `args` (the first item is the program name); returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version land here too, with exit code 0.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Validate(args) => validate::validate(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Replay(args) => replay::replay(&args),
        Command::Sweep(args) => sweep::sweep(&args),
    };
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
