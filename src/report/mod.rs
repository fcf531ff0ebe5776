//! The outputs of a run: `summary.json`, `timeseries.csv`, `events.jsonl`, `metrics.om`,
//! `run.json`, `charts/*.svg` and `report.html`, written atomically into one folder.

pub mod autoscaling;
pub mod chart;
pub mod files;
pub mod html;
pub mod openmetrics;
pub mod output;
pub mod page;
pub mod sweep_chart;

use std::path::{Path, PathBuf};

use crate::scenario::Scenario;
use crate::sim::{SimTime, StopReason};
use crate::world::World;
pub use output::{ReportError, StagedDir};

/// What the report says about the run itself.
pub struct RunInfo<'a> {
    /// The scenario that ran.
    pub scenario: &'a Scenario,
    /// The scenario's file name as given (no folders, so reports do not depend on where the
    /// file lives).
    pub scenario_file: String,
    /// The seed used.
    pub seed: u64,
    /// Virtual time at the end.
    pub end: SimTime,
    /// Why the run stopped.
    pub stop_reason: StopReason,
    /// Events processed.
    pub events_processed: u64,
    /// Digest of the processed trace.
    pub trace_digest: String,
}

impl RunInfo<'_> {
    /// The stop reason as written in outputs.
    pub fn stop_reason_name(&self) -> &'static str {
        match self.stop_reason {
            StopReason::Deadline => "duration",
            StopReason::Quiescent => "quiescent",
            StopReason::Exhausted => "no-more-events",
            StopReason::EventLimit => "event-limit",
        }
    }
}

/// Which optional outputs to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// Write `events.jsonl`.
    pub events: bool,
    /// Write `metrics.om`, with virtual time 0 at this instant.
    pub openmetrics: Option<openmetrics::Start>,
}

/// Writes every output of the run into `dir`, replacing a previous report there.
pub fn write(
    dir: &Path,
    info: &RunInfo<'_>,
    world: &World,
    options: ReportOptions,
) -> Result<PathBuf, ReportError> {
    let staged = StagedDir::new(dir)?;
    staged.write("summary.json", &files::summary_json(info, world))?;
    staged.write(
        "timeseries.csv",
        &files::timeseries_csv(world.recorder().samples()),
    )?;
    if let Some(start) = options.openmetrics {
        let run = openmetrics::RunLabels {
            scenario: &info.scenario.name,
            seed: info.seed,
        };
        staged.write(
            openmetrics::FILE,
            &openmetrics::render(world.recorder().samples(), &run, start),
        )?;
    }
    if options.events {
        staged.write_with("events.jsonl", |out| {
            files::write_events(out, world.api().writes())
        })?;
    }
    let charts = page::charts(world);
    let mut rendered = Vec::with_capacity(charts.len());
    for chart in &charts {
        let svg = chart.chart.to_svg().map_err(|e| ReportError::Chart {
            name: chart.file.to_string(),
            message: e.to_string(),
        })?;
        staged.write(&format!("charts/{}", chart.file), svg.as_bytes())?;
        rendered.push((chart, svg));
    }
    staged.write("report.html", page::html(info, world, &rendered).as_bytes())?;
    // run.json last: its presence marks a complete report.
    staged.write(output::MARKER_FILE, &files::run_json(info))?;
    staged.commit()
}
