//! `kubesim sweep`: one scenario run over the cartesian product of varied field values and
//! seeds, in parallel across runs, and the comparison of the results.
//!
//! * [`plan`] orders the runs (vary keys in the order given, values in the order given, seeds
//!   innermost), names their folders and picks a shard's share (`index % N == I`).
//! * [`execute`] runs one: the scenario loaded with the run's overrides
//!   ([`crate::scenario::load_with_overrides`]), simulated single-threaded with the run's seed,
//!   its outputs written atomically to `DIR/runs/<index>-<slug>/` with a `sweep` section in
//!   `run.json`. A run whose folder already holds that mark is skipped, so an interrupted sweep
//!   resumes.
//! * [`collect`] reads the runs back, serially and in order, and reduces them; [`report`]
//!   writes `sweep.csv`, `comparison.csv`, `charts/*.svg` and `report.html`.
//!
//! Runs go in parallel (rayon) and may finish in any order; nothing of the sweep is computed
//! from that order: the comparison is built from the run folders, read in the plan's order.
//! So `-j 1` and `-j 8`, one process or many shards merged, give byte-identical files.

pub mod collect;
pub mod execute;
pub mod plan;
pub mod report;

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::report::output::StagedDir;
use crate::scenario::{ScenarioError, load, load_with_overrides};
use crate::world::Components;
use collect::{CollectError, Collected, headline_metric, metrics};
use execute::{RunKind, SweepMark, is_done};
use plan::{Plan, PlannedRun, Shard, Vary};

/// Version of `sweep.json` and the comparison files.
pub const SWEEP_FORMAT_VERSION: u32 = 1;
/// The file that marks a folder as a sweep and records its plan.
pub const SWEEP_FILE: &str = "sweep.json";

/// `sweep.json`: the plan of a sweep, the same in every shard (so shards can be merged and a
/// sweep resumed only into a folder of the same sweep).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepFile {
    /// [`SWEEP_FORMAT_VERSION`].
    pub sweep_format: u32,
    /// kubesim's version.
    pub kubesim_version: String,
    /// Scenario name.
    pub scenario: String,
    /// Scenario file name (no folders).
    pub scenario_file: String,
    /// SHA-256 of the scenario's files.
    pub scenario_hash: String,
    /// Cluster runs or replays.
    pub kind: RunKind,
    /// The varied keys and values, in order.
    pub vary: Vec<Vary>,
    /// The seeds, in order.
    pub seeds: Vec<u64>,
    /// How many runs.
    pub runs: usize,
}

/// What `kubesim sweep` was asked.
#[derive(Clone, Debug)]
pub struct SweepSettings {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The varied keys.
    pub vary: Vec<Vary>,
    /// The seeds (`None`: the scenario's own seed).
    pub seeds: Option<Vec<u64>>,
    /// Parallel runs (`None`: one per CPU).
    pub jobs: Option<usize>,
    /// Output folder (`None`: `reports/<scenario name>-sweep/`).
    pub out: Option<PathBuf>,
    /// The share of runs this process runs.
    pub shard: Shard,
}

/// Why a sweep could not run or be merged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The scenario, or the scenario with some run's overrides, does not load.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// The sweep's settings do not make a plan.
    #[error("{0}")]
    Plan(String),
    /// A file system operation failed.
    #[error("{}: {message}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The reason.
        message: String,
    },
    /// The output folder exists and is not a sweep folder.
    #[error(
        "{}: exists and is not a kubesim sweep (no sweep.json); choose another --out or remove it",
        path.display()
    )]
    NotASweep {
        /// The folder.
        path: PathBuf,
    },
    /// The folder holds another sweep (a different plan, scenario or kubesim version).
    #[error(
        "{}: holds a different sweep ({what} differs); choose another --out or remove it",
        path.display()
    )]
    OtherSweep {
        /// The folder.
        path: PathBuf,
        /// What differs.
        what: String,
    },
    /// Runs are missing: the comparison needs every run.
    #[error(
        "{missing} of {total} runs are not finished yet (first: {first}); run the remaining shards, then `kubesim sweep merge`"
    )]
    Incomplete {
        /// How many are missing.
        missing: usize,
        /// Of how many.
        total: usize,
        /// The first missing runs' folders.
        first: String,
    },
    /// The comparison could not be drawn.
    #[error("comparison: {0}")]
    Comparison(String),
}

fn io(path: &Path, e: impl std::fmt::Display) -> SweepError {
    SweepError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A run that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRun {
    /// Its index.
    pub index: usize,
    /// Its folder under `runs/`.
    pub folder: String,
    /// Why.
    pub message: String,
}

/// What a sweep did.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    /// The sweep folder.
    pub out: PathBuf,
    /// Runs in the whole sweep.
    pub planned: usize,
    /// Runs of this shard.
    pub in_shard: usize,
    /// Runs of this shard that were already done (resumed).
    pub skipped: usize,
    /// Runs this process ran.
    pub ran: usize,
    /// Runs that failed.
    pub failed: Vec<FailedRun>,
    /// Runs of the whole sweep still missing (other shards' or failed).
    pub missing: usize,
    /// The best combination and its main metric, when the comparison was built.
    pub answer: Option<String>,
}

/// What a sweep reports while it runs (for a progress bar).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// This many runs are about to run (the shard's runs not already done).
    Pending(usize),
    /// One run finished (from any thread).
    Finished,
}

/// Runs the sweep `settings` describes: the runs of its shard not already done, in parallel,
/// then (once every run of the sweep exists in the folder) the comparison. `progress` hears
/// how many runs will run and each one that finishes.
pub fn run(
    settings: &SweepSettings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<SweepOutcome, SweepError> {
    let base = load(&settings.scenario, &Components)?;
    let kind = RunKind::of(&base);
    let seeds = settings.seeds.clone().unwrap_or_else(|| vec![base.seed]);
    let plan = Plan::new(settings.vary.clone(), seeds).map_err(SweepError::Plan)?;
    // Every value combination must load before anything runs: a typo in the tenth value is
    // an error now, not after nine combinations of runs.
    for c in 0..plan.combinations.len() {
        let Some(first) = plan.runs.iter().find(|r| r.combination == c) else {
            continue;
        };
        let loaded = load_with_overrides(&settings.scenario, &first.overrides, &Components)?;
        if RunKind::of(&loaded) != kind {
            return Err(SweepError::Plan(format!(
                "{}: makes a {} run where the scenario makes a {} run; a sweep compares runs of one kind",
                plan.describe(c),
                kind_name(RunKind::of(&loaded)),
                kind_name(kind)
            )));
        }
    }
    let scenario_file = settings
        .scenario
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = SweepFile {
        sweep_format: SWEEP_FORMAT_VERSION,
        kubesim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: base.name.clone(),
        scenario_file: scenario_file.clone(),
        scenario_hash: base.hash.clone(),
        kind,
        vary: plan.vary.clone(),
        seeds: plan.seeds.clone(),
        runs: plan.runs.len(),
    };
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(format!("{}-sweep", base.name)));
    prepare_folder(&out, &file)?;
    let runs_dir = out.join("runs");
    fs::create_dir_all(&runs_dir).map_err(|e| io(&runs_dir, e))?;

    let mine: Vec<&PlannedRun> = plan.shard(settings.shard).collect();
    let pending: Vec<&PlannedRun> = mine
        .iter()
        .copied()
        .filter(|r| !is_done(&runs_dir.join(&r.folder), &mark(&file, r)))
        .collect();
    let skipped = mine.len() - pending.len();
    progress(Progress::Pending(pending.len()));
    let jobs = settings.jobs.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        // Runs are single-threaded simulations; give them the main thread's stack size.
        .stack_size(16 << 20)
        .build()
        .map_err(|e| SweepError::Plan(format!("cannot start {jobs} worker threads: {e}")))?;
    let results: Vec<Result<(), String>> = pool.install(|| {
        pending
            .par_iter()
            .map(|r| {
                let target = runs_dir.join(&r.folder);
                // A folder of this sweep without run.json is a run that never finished.
                if target.is_dir() && !target.join(crate::report::output::MARKER_FILE).exists() {
                    let _ = fs::remove_dir_all(&target);
                }
                let result = execute::execute(
                    &settings.scenario,
                    &scenario_file,
                    &r.overrides,
                    r.seed,
                    &mark(&file, r),
                    &target,
                )
                .map(|_| ())
                .map_err(|e| e.to_string());
                progress(Progress::Finished);
                result
            })
            .collect()
    });
    let failed: Vec<FailedRun> = pending
        .iter()
        .zip(&results)
        .filter_map(|(r, result)| {
            result.as_ref().err().map(|message| FailedRun {
                index: r.index,
                folder: r.folder.clone(),
                message: message.clone(),
            })
        })
        .collect();
    let ran = pending.len() - failed.len();
    let (missing, answer) = match compare(&out, &file, &plan) {
        Ok(answer) => (0, Some(answer)),
        Err(SweepError::Incomplete { missing, .. }) => (missing, None),
        Err(e) => return Err(e),
    };
    Ok(SweepOutcome {
        out,
        planned: plan.runs.len(),
        in_shard: mine.len(),
        skipped,
        ran,
        failed,
        missing,
        answer,
    })
}

fn kind_name(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Cluster => "cluster",
        RunKind::Replay => "replay",
    }
}

fn mark(file: &SweepFile, run: &PlannedRun) -> SweepMark {
    SweepMark::new(run.index, &file.scenario_hash, &run.overrides, run.seed)
}

/// Makes `out` a folder of the sweep `file`: creates it and `sweep.json`, or checks that an
/// existing one holds the same sweep.
fn prepare_folder(out: &Path, file: &SweepFile) -> Result<(), SweepError> {
    if out.exists() {
        match read_sweep_file(out) {
            Ok(existing) => {
                if let Some(what) = difference(&existing, file) {
                    return Err(SweepError::OtherSweep {
                        path: out.to_path_buf(),
                        what,
                    });
                }
                return Ok(());
            }
            Err(SweepError::NotASweep { .. }) => {
                // Empty, but for a file system's lost+found (a fresh volume) or another shard
                // writing sweep.json this very moment.
                let empty = fs::read_dir(out)
                    .map(|d| {
                        d.filter_map(Result::ok).all(|e| {
                            let name = e.file_name().to_string_lossy().into_owned();
                            name == "lost+found" || name.starts_with(".sweep.json.tmp-")
                        })
                    })
                    .unwrap_or(false);
                if !empty {
                    return Err(SweepError::NotASweep {
                        path: out.to_path_buf(),
                    });
                }
            }
            Err(e) => return Err(e),
        }
    }
    fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let mut bytes = serde_json::to_vec_pretty(file).map_err(|e| io(out, e))?;
    bytes.push(b'\n');
    write_atomic(&out.join(SWEEP_FILE), &bytes)
}

/// What differs between two sweeps, if anything.
fn difference(a: &SweepFile, b: &SweepFile) -> Option<String> {
    let checks: [(&str, bool); 7] = [
        ("the output format", a.sweep_format == b.sweep_format),
        (
            "the kubesim version",
            a.kubesim_version == b.kubesim_version,
        ),
        (
            "the scenario",
            a.scenario == b.scenario && a.scenario_file == b.scenario_file,
        ),
        (
            "the scenario's content (hash)",
            a.scenario_hash == b.scenario_hash,
        ),
        ("the run kind", a.kind == b.kind),
        ("--vary", a.vary == b.vary),
        ("--seeds", a.seeds == b.seeds && a.runs == b.runs),
    ];
    checks
        .iter()
        .find(|(_, same)| !same)
        .map(|(what, _)| (*what).to_owned())
}

/// Reads `dir/sweep.json`.
pub fn read_sweep_file(dir: &Path) -> Result<SweepFile, SweepError> {
    let path = dir.join(SWEEP_FILE);
    if !path.is_file() {
        return Err(SweepError::NotASweep {
            path: dir.to_path_buf(),
        });
    }
    let text = fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| io(&path, format!("not a sweep.json: {e}")))
}

/// Writes `bytes` to `path` through a temporary file beside it and a rename, so a reader (or
/// another shard writing the same bytes) never sees half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// Builds the comparison in `out` if every run of `plan` is there; returns the answer line.
fn compare(out: &Path, file: &SweepFile, plan: &Plan) -> Result<String, SweepError> {
    let collected = match collect::collect(out, plan, file.kind, &file.scenario_hash) {
        Ok(c) => c,
        Err(CollectError::Missing(missing)) => {
            let first = missing
                .iter()
                .take(5)
                .filter_map(|&i| plan.runs.get(i))
                .map(|r| r.folder.clone())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(SweepError::Incomplete {
                missing: missing.len(),
                total: plan.runs.len(),
                first,
            });
        }
        Err(CollectError::Unreadable { path, message }) => return Err(io(&path, message)),
    };
    let files = report::files(file, plan, &collected).map_err(SweepError::Comparison)?;
    for (relative, bytes) in &files {
        write_atomic(&report::path_in(out, relative), bytes)?;
    }
    Ok(answer(plan, &collected))
}

/// One line: the best combination and its main metric.
fn answer(plan: &Plan, collected: &Collected) -> String {
    let list = metrics(collected.set);
    let main = headline_metric(collected.set);
    let best = collected.order.first().copied().unwrap_or(0);
    let value = list.get(main).and_then(|m| {
        let s = collected.stats.get(best)?.get(main).copied().flatten()?;
        Some(format!(
            "{} mean {}{} (min {}, max {}, {} seed{})",
            m.label,
            collect::fixed(s.mean, m.decimals + 2),
            if m.unit.is_empty() {
                String::new()
            } else {
                format!(" {}", m.unit)
            },
            collect::fixed(s.min, m.decimals),
            collect::fixed(s.max, m.decimals),
            s.n,
            if s.n == 1 { "" } else { "s" }
        ))
    });
    format!(
        "best: {} — {}",
        plan.describe(best),
        value.unwrap_or_else(|| "no value".into())
    )
}

/// What `kubesim sweep merge` did.
#[derive(Clone, Debug)]
pub struct MergeOutcome {
    /// The merged sweep folder.
    pub out: PathBuf,
    /// Runs copied into it from the other folders.
    pub copied: usize,
    /// Runs in the sweep.
    pub runs: usize,
    /// The best combination and its main metric.
    pub answer: String,
}

/// Merges the sweep folders `dirs` (shards of one sweep) into `out` (default: the first):
/// copies every finished run that `out` lacks, then builds the comparison. Every run of the
/// sweep must be in one of the folders.
pub fn merge(dirs: &[PathBuf], out: Option<&Path>) -> Result<MergeOutcome, SweepError> {
    let Some(first) = dirs.first() else {
        return Err(SweepError::Plan("no sweep folder to merge".into()));
    };
    let file = read_sweep_file(first)?;
    for dir in &dirs[1..] {
        let other = read_sweep_file(dir)?;
        if let Some(what) = difference(&file, &other) {
            return Err(SweepError::OtherSweep {
                path: dir.clone(),
                what: format!("{what}, compared with {}", first.display()),
            });
        }
    }
    let plan = Plan::new(file.vary.clone(), file.seeds.clone()).map_err(SweepError::Plan)?;
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| first.clone());
    prepare_folder(&out, &file)?;
    let runs_dir = out.join("runs");
    fs::create_dir_all(&runs_dir).map_err(|e| io(&runs_dir, e))?;
    let mut copied = 0;
    for run in &plan.runs {
        let m = mark(&file, run);
        let target = runs_dir.join(&run.folder);
        if is_done(&target, &m) {
            continue;
        }
        let source = dirs
            .iter()
            .map(|d| d.join("runs").join(&run.folder))
            .find(|s| is_done(s, &m));
        if let Some(source) = source {
            if target.is_dir() && !target.join(crate::report::output::MARKER_FILE).exists() {
                // A run that never finished here: the copy replaces it.
                fs::remove_dir_all(&target).map_err(|e| io(&target, e))?;
            }
            copy_run(&source, &target)?;
            copied += 1;
        }
    }
    let answer = compare(&out, &file, &plan)?;
    Ok(MergeOutcome {
        out,
        copied,
        runs: plan.runs.len(),
        answer,
    })
}

/// Copies the run folder `from` to `to`, atomically.
fn copy_run(from: &Path, to: &Path) -> Result<(), SweepError> {
    fn copy_tree(from: &Path, staged: &StagedDir, relative: &str) -> Result<(), SweepError> {
        let dir = if relative.is_empty() {
            from.to_path_buf()
        } else {
            from.join(relative)
        };
        let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(|e| io(&dir, e))?
            .map(|e| e.map(|e| e.path()).map_err(|e| io(&dir, e)))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let rel = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            if entry.is_dir() {
                copy_tree(from, staged, &rel)?;
            } else {
                let bytes = fs::read(&entry).map_err(|e| io(&entry, e))?;
                staged.write(&rel, &bytes).map_err(|e| io(&entry, e))?;
            }
        }
        Ok(())
    }
    let staged = StagedDir::new(to).map_err(|e| io(to, e))?;
    copy_tree(from, &staged, "")?;
    staged.commit().map_err(|e| io(to, e))?;
    Ok(())
}
