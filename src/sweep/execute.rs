//! One run: a scenario (with a sweep's overrides) simulated with one seed — the cluster
//! simulation, or the trace replay a `spec.replay` scenario asks for — and its outputs written
//! atomically into one folder, exactly as `kubesim run` writes them, plus a `sweep` section in
//! `run.json` that says which run of which sweep the folder holds (what resuming checks).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::{self, ReportError, ReportOptions, RunInfo, StagedDir};
use crate::scenario::load::ReplaySettings;
use crate::scenario::overrides::Override;
use crate::scenario::{Scenario, ScenarioError, load_with_overrides};
use crate::scheduler::gpu::replay::{Provenance, ReplayResult, replay, write_report};
use crate::workload::openb;
use crate::world::{self, Components, RunOptions};

/// Why a run could not produce its outputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The scenario (with the run's overrides) does not load.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The replay's trace files cannot be read or hold no GPU.
    #[error("{0}")]
    Trace(String),
    /// The outputs cannot be written.
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// Which simulation a scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// The cluster simulation (`kubesim run`'s report).
    Cluster,
    /// A `spec.replay` trace replay (`kubesim replay`'s outputs).
    Replay,
}

impl RunKind {
    /// The kind of run `scenario` makes.
    pub fn of(scenario: &Scenario) -> RunKind {
        if scenario.replay.is_some() {
            RunKind::Replay
        } else {
            RunKind::Cluster
        }
    }
}

/// One override as `run.json` records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideJson {
    /// The field path.
    pub key: String,
    /// The value.
    pub value: String,
}

/// The `sweep` section of a run's `run.json`: which run of which sweep the folder holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepMark {
    /// The run's index in its sweep.
    pub index: usize,
    /// SHA-256 of the scenario's files.
    pub scenario_hash: String,
    /// The overrides, in the order of the varied keys.
    pub overrides: Vec<OverrideJson>,
    /// The seed.
    pub seed: u64,
}

impl SweepMark {
    /// The mark of run `index` with `overrides` and `seed` of a scenario hashing to `hash`.
    pub fn new(index: usize, hash: &str, overrides: &[Override], seed: u64) -> SweepMark {
        SweepMark {
            index,
            scenario_hash: hash.to_owned(),
            overrides: overrides
                .iter()
                .map(|o| OverrideJson {
                    key: o.key.clone(),
                    value: o.value.clone(),
                })
                .collect(),
            seed,
        }
    }
}

/// Reads the [`SweepMark`] of the run folder `dir`, if it holds a complete run of a sweep.
pub fn read_mark(dir: &Path) -> Option<SweepMark> {
    let text = fs::read_to_string(dir.join(report::output::MARKER_FILE)).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(json.get("sweep")?.clone()).ok()
}

/// Whether `dir` already holds the run `mark` describes (then a resumed sweep skips it).
pub fn is_done(dir: &Path, mark: &SweepMark) -> bool {
    read_mark(dir).is_some_and(|m| &m == mark)
}

/// Loads the scenario at `scenario` with `overrides`, runs it with `seed` and writes its
/// outputs into `target` atomically, with `mark` in `run.json`. `scenario_file` is the
/// scenario's file name as reports show it.
pub fn execute(
    scenario: &Path,
    scenario_file: &str,
    overrides: &[Override],
    seed: u64,
    mark: &SweepMark,
    target: &Path,
) -> Result<PathBuf, RunError> {
    let loaded = load_with_overrides(scenario, overrides, &Components)?;
    let staged = StagedDir::new(target)?;
    // The library's writers stage and commit a folder of their own: here they write into this
    // run's staging folder, so the run appears, with its mark, in one rename.
    match &loaded.replay {
        Some(settings) => {
            let (result, provenance) = replay_scenario(settings, seed)?;
            write_report(&result, &provenance, staged.path())?;
        }
        None => {
            write_cluster_run(&loaded, scenario_file, seed, staged.path())?;
        }
    }
    let run_json = staged.path().join(report::output::MARKER_FILE);
    let bytes = fs::read(&run_json).map_err(|e| ReportError::Io {
        path: run_json.clone(),
        message: e.to_string(),
    })?;
    let marked = with_sweep_section(&bytes, mark).ok_or_else(|| ReportError::Io {
        path: run_json.clone(),
        message: "run.json is not a JSON object; cannot add the sweep section".into(),
    })?;
    staged.write(report::output::MARKER_FILE, &marked)?;
    Ok(staged.commit()?)
}

/// `run.json` with `"sweep": mark` added as its last key, keeping the keys before it as they
/// are (the bytes `kubesim run` writes, then one more key).
fn with_sweep_section(run_json: &[u8], mark: &SweepMark) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(run_json).ok()?;
    let body = text.trim_end().strip_suffix('}')?.trim_end();
    let section = serde_json::to_string_pretty(mark).ok()?;
    let section = section.replace('\n', "\n  ");
    let separator = if body.ends_with('{') { "" } else { "," };
    Some(format!("{body}{separator}\n  \"sweep\": {section}\n}}\n").into_bytes())
}

/// Simulates the cluster scenario `scenario` with `seed` and writes `kubesim run`'s report
/// (without `events.jsonl`) into `dir`.
pub fn write_cluster_run(
    scenario: &Scenario,
    scenario_file: &str,
    seed: u64,
    dir: &Path,
) -> Result<PathBuf, RunError> {
    let options = RunOptions {
        seed: Some(seed),
        ..RunOptions::default()
    };
    let mut sim = world::build(scenario, &options);
    let stop_reason = sim.run(world::stop_at(scenario, None));
    let end = sim.now();
    sim.model_mut().sample(end);
    let info = RunInfo {
        scenario,
        scenario_file: scenario_file.to_owned(),
        seed,
        end,
        stop_reason,
        events_processed: sim.processed_events(),
        trace_digest: sim.model().trace_digest(sim.digest()).to_string(),
    };
    Ok(report::write(
        dir,
        &info,
        sim.model(),
        ReportOptions::default(),
    )?)
}

/// Reads the trace a `spec.replay` scenario names and replays it with `seed`: the result and
/// the provenance (files as the scenario writes them, with their SHA-256).
pub fn replay_scenario(
    settings: &ReplaySettings,
    seed: u64,
) -> Result<(ReplayResult, Provenance), RunError> {
    let trace = |e: &dyn std::fmt::Display| RunError::Trace(e.to_string());
    let nodes = openb::read_nodes(&settings.nodes, &Components).map_err(|e| trace(&e))?;
    let pods = openb::read_pods(&settings.pods).map_err(|e| trace(&e))?;
    if nodes.iter().all(|n| n.gpus == 0) {
        return Err(RunError::Trace(format!(
            "{}: no node has a GPU; the replay measures GPU allocation",
            settings.nodes.display()
        )));
    }
    let mut provenance = Provenance::of_files(&settings.nodes, &settings.pods).map_err(|e| {
        RunError::Trace(format!(
            "{} or {}: {e}",
            settings.nodes.display(),
            settings.pods.display()
        ))
    })?;
    provenance.nodes_file = settings.nodes_as_written.clone();
    provenance.pods_file = settings.pods_as_written.clone();
    let result = replay(&nodes, &pods, settings.policy, seed);
    Ok((result, provenance))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_section_is_appended_as_the_last_key() {
        let mark = SweepMark {
            index: 3,
            scenario_hash: "ab".into(),
            overrides: vec![OverrideJson {
                key: "spec.seed".into(),
                value: "2".into(),
            }],
            seed: 9,
        };
        let out = with_sweep_section(b"{\n  \"seed\": 9\n}\n", &mark).unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(json["seed"], 9);
        assert_eq!(json["sweep"]["index"], 3);
        assert!(text.starts_with("{\n  \"seed\": 9,\n  \"sweep\": {\n    \"index\": 3,"));
        assert!(text.ends_with("\n  }\n}\n"), "{text}");
    }
}
