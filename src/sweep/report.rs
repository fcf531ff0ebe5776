//! The comparison of a sweep: `sweep.csv` (one row per run), `comparison.csv` (per value
//! combination, each metric's mean, min, max and standard deviation over seeds),
//! `charts/<metric>.svg` and `report.html`, the answer first. Every number is formatted with a
//! fixed number of decimals, so the files are byte-identical whatever the order runs finished
//! in.

use std::path::{Path, PathBuf};

use super::SweepFile;
use super::collect::{
    Collected, Metric, MetricSet, Stats, fixed, headline_metric, metrics, ranking_rule,
};
use super::plan::Plan;
use crate::report::chart::{LineChart, Series};
use crate::report::html::{Block, Metric as Headline, Report, Section};
use crate::report::sweep_chart::{Category, SpreadChart};

/// The files of a comparison: relative path and bytes.
pub type Files = Vec<(String, Vec<u8>)>;

/// Rows of the runs table beyond this are left to `sweep.csv`.
const MAX_RUN_ROWS: usize = 500;

fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

fn value_text(value: Option<f64>, metric: &Metric) -> String {
    value.map(|v| fixed(v, metric.decimals)).unwrap_or_default()
}

fn with_unit(text: String, metric: &Metric) -> String {
    match metric.unit {
        "" => text,
        "%" => format!("{text} %"),
        unit => format!("{text} {unit}"),
    }
}

/// The bytes of `sweep.csv`.
pub fn sweep_csv(plan: &Plan, collected: &Collected) -> Vec<u8> {
    let list = metrics(collected.set);
    let mut header = vec!["index".to_owned()];
    header.extend(plan.vary.iter().map(|v| v.key.clone()));
    header.push("seed".into());
    header.extend(list.iter().map(|m| m.column.to_owned()));
    let mut out = csv_line(&header);
    for run in &collected.runs {
        let mut row = vec![run.index.to_string()];
        row.extend(
            plan.combinations
                .get(run.combination)
                .cloned()
                .unwrap_or_default(),
        );
        row.push(run.seed.to_string());
        row.extend(list.iter().zip(&run.values).map(|(m, v)| value_text(*v, m)));
        out.push_str(&csv_line(&row));
    }
    out.into_bytes()
}

/// The bytes of `comparison.csv`.
pub fn comparison_csv(plan: &Plan, collected: &Collected) -> Vec<u8> {
    let list = metrics(collected.set);
    let mut header: Vec<String> = plan.vary.iter().map(|v| v.key.clone()).collect();
    header.push("runs".into());
    for m in list {
        for stat in ["mean", "min", "max", "stddev"] {
            header.push(format!("{}_{stat}", m.column));
        }
    }
    let mut out = csv_line(&header);
    for (c, values) in plan.combinations.iter().enumerate() {
        let mut row = values.clone();
        let runs = collected.runs.iter().filter(|r| r.combination == c).count();
        row.push(runs.to_string());
        for (m, metric) in list.iter().enumerate() {
            match collected
                .stats
                .get(c)
                .and_then(|s| s.get(m))
                .copied()
                .flatten()
            {
                Some(s) => {
                    row.push(fixed(s.mean, metric.decimals + 2));
                    row.push(fixed(s.min, metric.decimals));
                    row.push(fixed(s.max, metric.decimals));
                    row.push(fixed(s.stddev, metric.decimals + 2));
                }
                None => row.extend(std::iter::repeat_n(String::new(), 4)),
            }
        }
        out.push_str(&csv_line(&row));
    }
    out.into_bytes()
}

/// The chart file name of `metric`.
pub fn chart_file(metric: &Metric) -> String {
    format!("charts/{}.svg", metric.column)
}

/// One chart per metric: each combination's seeds, mean and range.
pub fn charts(plan: &Plan, collected: &Collected) -> Result<Vec<(String, String, String)>, String> {
    let list = metrics(collected.set);
    let x_label = if plan.vary.is_empty() {
        "scenario".to_owned()
    } else {
        plan.vary
            .iter()
            .map(|v| v.key.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::with_capacity(list.len());
    for (m, metric) in list.iter().enumerate() {
        let categories = (0..plan.combinations.len())
            .map(|c| Category {
                label: plan.values_label(c),
                values: collected
                    .runs
                    .iter()
                    .filter(|r| r.combination == c)
                    .filter_map(|r| r.values.get(m).copied().flatten())
                    .collect(),
            })
            .collect();
        let title = if metric.unit.is_empty() {
            metric.label.to_owned()
        } else {
            format!("{} ({})", metric.label, metric.unit)
        };
        let chart = SpreadChart {
            title: title.clone(),
            x_label: x_label.clone(),
            y_label: if metric.unit.is_empty() {
                metric.label.to_owned()
            } else {
                metric.unit.to_owned()
            },
            categories,
        };
        let svg = chart.to_svg().map_err(|e| e.to_string())?;
        out.push((chart_file(metric), title, svg));
    }
    if collected.set == MetricSet::ClusterWithClients {
        let title = "Informers not following changes".to_owned();
        let svg = not_following_chart(plan, collected, &title)
            .to_svg()
            .map_err(|e| e.to_string())?;
        out.push((NOT_FOLLOWING_CHART.to_owned(), title, svg));
    }
    Ok(out)
}

/// The chart of every run's informers not following changes over time, with a modelled
/// apiserver.
pub const NOT_FOLLOWING_CHART: &str = "charts/informers_not_following.svg";

/// A run's name in a legend: its values, and its seed when the sweep has several.
fn run_label(plan: &Plan, run: &super::collect::RunRecord) -> String {
    let values = plan.values_label(run.combination);
    if plan.seeds.len() > 1 {
        format!("{values}, seed {}", run.seed)
    } else {
        values
    }
}

/// Every run's `informers − informers_following` against virtual time, one line each: the
/// storm of each combination side by side.
fn not_following_chart(plan: &Plan, collected: &Collected, title: &str) -> LineChart {
    LineChart {
        title: title.to_owned(),
        x_label: "virtual time".into(),
        y_label: "informers not following".into(),
        series: collected
            .runs
            .iter()
            .map(|r| Series {
                name: run_label(plan, r),
                points: r.not_following.clone(),
            })
            .collect(),
        y_min_zero: true,
        spans: Vec::new(),
        marks: Vec::new(),
    }
}

/// Requests flow control rejected, by level (columns: every level any run has) and run.
fn rejected_table(plan: &Plan, collected: &Collected) -> Block {
    let levels: std::collections::BTreeSet<&String> = collected
        .runs
        .iter()
        .flat_map(|r| r.rejected_by_level.keys())
        .collect();
    let mut columns = vec!["run".to_owned()];
    columns.extend(levels.iter().map(|l| (*l).clone()));
    let rows = collected
        .runs
        .iter()
        .take(MAX_RUN_ROWS)
        .map(|r| {
            let mut row = vec![run_label(plan, r)];
            row.extend(levels.iter().map(|l| {
                r.rejected_by_level
                    .get(*l)
                    .map_or_else(|| "–".to_owned(), u64::to_string)
            }));
            row
        })
        .collect();
    Block::Table { columns, rows }
}

fn stats_of(collected: &Collected, combination: usize, metric: usize) -> Option<Stats> {
    collected
        .stats
        .get(combination)
        .and_then(|s| s.get(metric))
        .copied()
        .flatten()
}

/// `mean (min–max, n seeds)` of a combination's metric.
fn summary(collected: &Collected, combination: usize, m: usize) -> String {
    let list = metrics(collected.set);
    let Some(metric) = list.get(m) else {
        return String::new();
    };
    match stats_of(collected, combination, m) {
        Some(s) => format!(
            "{} (min {}, max {}, sd {}, {} seed{})",
            with_unit(fixed(s.mean, metric.decimals + 2), metric),
            fixed(s.min, metric.decimals),
            fixed(s.max, metric.decimals),
            fixed(s.stddev, metric.decimals + 2),
            s.n,
            if s.n == 1 { "" } else { "s" }
        ),
        None => "no value".into(),
    }
}

/// The bytes of `report.html`.
pub fn html(
    file: &SweepFile,
    plan: &Plan,
    collected: &Collected,
    charts: &[(String, String, String)],
) -> Vec<u8> {
    let list = metrics(collected.set);
    let main = headline_metric(collected.set);
    let main_metric = list.get(main).copied();
    let rule = ranking_rule(collected.set);
    let best = collected.order.first().copied().unwrap_or(0);
    let mut headline = vec![Headline {
        label: if plan.vary.is_empty() {
            "scenario".into()
        } else {
            format!("best {}", short_keys(plan))
        },
        value: plan.values_label(best),
        note: Some(format!("by {rule}")),
    }];
    if let Some(metric) = main_metric {
        let value = stats_of(collected, best, main)
            .map(|s| with_unit(fixed(s.mean, metric.decimals + 2), &metric))
            .unwrap_or_else(|| "–".into());
        headline.push(Headline {
            label: format!("{} (mean)", metric.label),
            value,
            note: stats_of(collected, best, main).map(|s| {
                format!(
                    "min {}, max {} over {} seed{}",
                    fixed(s.min, metric.decimals),
                    fixed(s.max, metric.decimals),
                    s.n,
                    if s.n == 1 { "" } else { "s" }
                )
            }),
        });
    }
    if let Some(&second) = collected.order.get(1) {
        headline.push(Headline {
            label: "runner-up".into(),
            value: plan.values_label(second),
            note: main_metric.and_then(|metric| {
                stats_of(collected, second, main).map(|s| {
                    format!(
                        "{} mean {}",
                        metric.label,
                        with_unit(fixed(s.mean, metric.decimals + 2), &metric)
                    )
                })
            }),
        });
    }
    headline.push(Headline {
        label: "runs".into(),
        value: plan.runs.len().to_string(),
        note: Some(format!(
            "{} combination{} × {} seed{}",
            plan.combinations.len(),
            if plan.combinations.len() == 1 {
                ""
            } else {
                "s"
            },
            plan.seeds.len(),
            if plan.seeds.len() == 1 { "" } else { "s" }
        )),
    });

    let mut answer = vec![Block::Paragraph(format!(
        "Best by {rule}: {}. {}: {}.",
        plan.describe(best),
        main_metric.map_or("", |m| m.label),
        summary(collected, best, main)
    ))];
    if let Some(&second) = collected.order.get(1) {
        answer.push(Block::Paragraph(format!(
            "Next: {} with {}.",
            plan.describe(second),
            summary(collected, second, main)
        )));
    }
    answer.push(Block::Paragraph(
        "Each run is one seed of one value combination; a combination's number is the mean \
         over its seeds, with the smallest, the largest and the sample standard deviation."
            .into(),
    ));

    let chart_blocks = charts
        .iter()
        .map(|(_, title, svg)| Block::Chart {
            title: title.clone(),
            svg: svg.clone(),
        })
        .collect();

    let mut columns: Vec<String> = vec!["rank".into()];
    columns.extend(plan.vary.iter().map(|v| v.key.clone()));
    columns.push("runs".into());
    columns.extend(list.iter().map(|m| {
        if m.unit.is_empty() {
            format!("{} (mean ± sd)", m.label)
        } else {
            format!("{} ({}, mean ± sd)", m.label, m.unit)
        }
    }));
    let rows = collected
        .order
        .iter()
        .enumerate()
        .map(|(rank, &c)| {
            let mut row = vec![(rank + 1).to_string()];
            row.extend(plan.combinations.get(c).cloned().unwrap_or_default());
            row.push(
                collected
                    .runs
                    .iter()
                    .filter(|r| r.combination == c)
                    .count()
                    .to_string(),
            );
            row.extend(list.iter().enumerate().map(|(m, metric)| {
                stats_of(collected, c, m)
                    .map(|s| {
                        format!(
                            "{} ± {}",
                            fixed(s.mean, metric.decimals + 2),
                            fixed(s.stddev, metric.decimals + 2)
                        )
                    })
                    .unwrap_or_else(|| "–".into())
            }));
            row
        })
        .collect();

    let mut run_columns = vec!["index".to_owned(), "folder".to_owned()];
    run_columns.extend(plan.vary.iter().map(|v| v.key.clone()));
    run_columns.push("seed".into());
    run_columns.extend(list.iter().map(|m| m.column.to_owned()));
    let run_rows: Vec<Vec<String>> = collected
        .runs
        .iter()
        .take(MAX_RUN_ROWS)
        .map(|r| {
            let mut row = vec![
                r.index.to_string(),
                plan.runs
                    .get(r.index)
                    .map(|p| format!("runs/{}/", p.folder))
                    .unwrap_or_default(),
            ];
            row.extend(
                plan.combinations
                    .get(r.combination)
                    .cloned()
                    .unwrap_or_default(),
            );
            row.push(r.seed.to_string());
            row.extend(list.iter().zip(&r.values).map(|(m, v)| value_text(*v, m)));
            row
        })
        .collect();
    let mut run_blocks = vec![Block::Table {
        columns: run_columns,
        rows: run_rows,
    }];
    if collected.runs.len() > MAX_RUN_ROWS {
        run_blocks.push(Block::Paragraph(format!(
            "The first {MAX_RUN_ROWS} of {} runs; sweep.csv has them all.",
            collected.runs.len()
        )));
    }

    let vary_text = if plan.vary.is_empty() {
        "nothing varied".to_owned()
    } else {
        plan.vary
            .iter()
            .map(|v| format!("{} over {}", v.key, v.values.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let provenance = vec![Block::Paragraph(format!(
        "Scenario {} (SHA-256 {} over its files), kubesim {}; {vary_text}; seeds {}. \
         Every run's folder runs/<index>-<slug>/ holds its complete outputs with run.json \
         (whose sweep section names the run's overrides and seed). sweep.csv has one row per \
         run; comparison.csv the mean, min, max and sample standard deviation over seeds per \
         combination; charts/ one chart per metric (with a modelled apiserver also \
         informers_not_following.svg: every run's informers not following changes).",
        file.scenario_file,
        file.scenario_hash,
        file.kubesim_version,
        seeds_text(&plan.seeds)
    ))];

    let mut sections = vec![
        Section {
            title: "Answer".into(),
            blocks: answer,
        },
        Section {
            title: "Charts".into(),
            blocks: chart_blocks,
        },
        Section {
            title: "Comparison".into(),
            blocks: vec![Block::Table { columns, rows }],
        },
    ];
    if collected.set == MetricSet::ClusterWithClients {
        sections.push(Section {
            title: "Requests rejected by flow control, by level".into(),
            blocks: vec![
                Block::Paragraph(
                    "apiserver_flowcontrol_rejected_requests_total at the end of each run, per \
                     priority level (max-in-flight: per request kind; dynamic: per client \
                     level); – where the run's mode has no such level. The 429s of watch \
                     caches still filling after a restart are not flow control's and are not \
                     counted here."
                        .into(),
                ),
                rejected_table(plan, collected),
            ],
        });
    }
    sections.extend([
        Section {
            title: "Runs".into(),
            blocks: run_blocks,
        },
        Section {
            title: "Where the numbers come from".into(),
            blocks: provenance,
        },
    ]);
    let report = Report {
        title: format!("Sweep: {}", file.scenario),
        subtitle: format!(
            "{} {} runs · {}",
            plan.runs.len(),
            match collected.kind {
                super::execute::RunKind::Cluster => "cluster",
                super::execute::RunKind::Replay => "replay",
            },
            vary_text
        ),
        headline,
        sections,
    };
    report.to_html().into_bytes()
}

/// The varied keys' last field names, for short labels.
fn short_keys(plan: &Plan) -> String {
    plan.vary
        .iter()
        .map(|v| {
            v.key
                .rsplit(['.', '['])
                .map(|s| s.trim_end_matches(']').trim_matches('"'))
                .find(|s| !s.is_empty() && s.parse::<usize>().is_err())
                .unwrap_or(v.key.as_str())
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seeds as ranges: `1..5, 9`.
pub fn seeds_text(seeds: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seeds.len() {
        let mut j = i;
        while j + 1 < seeds.len() && seeds[j + 1] == seeds[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}..{}", seeds[i], seeds[j])
        } else {
            seeds[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Every file of the comparison, relative to the sweep folder.
pub fn files(file: &SweepFile, plan: &Plan, collected: &Collected) -> Result<Files, String> {
    let charts = charts(plan, collected)?;
    let mut out: Files = vec![
        ("sweep.csv".into(), sweep_csv(plan, collected)),
        ("comparison.csv".into(), comparison_csv(plan, collected)),
    ];
    for (name, _, svg) in &charts {
        out.push((name.clone(), svg.clone().into_bytes()));
    }
    out.push(("report.html".into(), html(file, plan, collected, &charts)));
    Ok(out)
}

/// `dir/relative` as a path.
pub fn path_in(dir: &Path, relative: &str) -> PathBuf {
    relative
        .split('/')
        .fold(dir.to_path_buf(), |p, s| p.join(s))
}
