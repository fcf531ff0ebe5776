//! `kubesim replay openb`: replay an openb trace under one GPU-sharing policy (the FGD paper's
//! experiment, fgd-spec §3.2) and write `replay.csv`, `summary.json` and `charts/replay.svg`.

use std::path::PathBuf;

use super::CliError;
use crate::config::gpu_sharing::Policy;
use crate::scheduler::gpu::replay::{Provenance, replay as run_replay, write_report};
use crate::workload::openb;
use crate::world::Components;

/// Trace formats `kubesim replay` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// Alibaba cluster-trace-gpu-v2023 (openb) node and pod lists.
    Openb,
}

/// `kubesim replay` arguments.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Trace format.
    #[arg(value_enum)]
    pub format: TraceFormat,
    /// Node list: openb CSV (sn,cpu_milli,memory_mib,gpu,model) or Node manifests (.yaml).
    #[arg(long)]
    pub nodes: PathBuf,
    /// Pod list: openb CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,…]).
    #[arg(long)]
    pub pods: PathBuf,
    /// Policy: random, dotprod, gpuclustering, gpupacking, bestfit or fgd (any case).
    #[arg(long, value_parser = parse_policy)]
    pub policy: Policy,
    /// Seed of the shuffle, tuning, node ranks and the Random policy.
    #[arg(long)]
    pub seed: u64,
    /// Output folder (default: reports/replay-POLICY-SEED/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_policy(text: &str) -> Result<Policy, String> {
    text.parse()
        .map_err(|e: crate::config::gpu_sharing::UnknownPolicy| e.to_string())
}

/// Runs the replay named in `args` and writes its report.
pub fn replay(args: &ReplayArgs) -> Result<(), CliError> {
    let TraceFormat::Openb = args.format;
    let bad = |e: &dyn std::fmt::Display| CliError::bad_input(e.to_string());
    let nodes = openb::read_nodes(&args.nodes, &Components).map_err(|e| bad(&e))?;
    let pods = openb::read_pods(&args.pods).map_err(|e| bad(&e))?;
    if nodes.iter().all(|n| n.gpus == 0) {
        return Err(CliError::bad_input(format!(
            "{}: no node has a GPU; the replay measures GPU allocation",
            args.nodes.display()
        )));
    }
    let provenance = Provenance::of_files(&args.nodes, &args.pods).map_err(|e| bad(&e))?;
    let result = run_replay(&nodes, &pods, args.policy, args.seed);
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("replay-{}-{}", args.policy.name(), args.seed))
    });
    let written = write_report(&result, &provenance, &out).map_err(|e| bad(&e))?;
    if !args.quiet {
        let pct = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2} %"));
        println!(
            "{} seed {}: {} nodes, {} GPUs; {} pods ({} original + {} clones − {} removed), {} failed",
            result.policy.label(),
            result.seed,
            result.nodes,
            result.gpus,
            result.prepared.pods,
            result.prepared.original_pods,
            result.prepared.clones,
            result.prepared.removed,
            result.failed()
        );
        println!(
            "GPU allocation at 100 % arrived: {}; at 130 %: {}; fragmentation at 130 %: {} of capacity",
            pct(result.alloc_pct_at(100)),
            pct(result.alloc_pct_at(130)),
            pct(result.frag_amount_pct_at(130))
        );
        println!("report: {}", written.display());
    }
    Ok(())
}
