//! The human-readable outputs: `charts/*.svg` and `report.html`, answer first.

use super::RunInfo;
use super::chart::{LineChart, Mark, Series, Span};
use super::files::{population_value, rates, round2};
use super::html::{Block, Metric, Report, Section};
use crate::api::resources::{CPU, MEMORY, PODS};
use crate::metrics::gpu::GpuSample;
use crate::metrics::{Sample, nearest_rank_counted};
use crate::sim::SimTime;
use crate::world::World;

/// The place of the 429 count in `files::POPULATION_TIMESERIES_METRICS`.
const REJECTED_METRIC: usize = 1;

/// A chart file and its picture.
pub struct ChartFile {
    /// File name under `charts/`.
    pub file: &'static str,
    /// The chart.
    pub chart: LineChart,
}

fn series(name: &str, samples: &[Sample], value: impl Fn(&Sample) -> f64) -> Series {
    Series {
        name: name.to_string(),
        points: samples
            .iter()
            .map(|s| (s.at.as_secs_f64(), value(s)))
            .collect(),
    }
}

/// The charts of a run.
pub fn charts(world: &World) -> Vec<ChartFile> {
    let samples = world.recorder().samples();
    let chart = |title: &str, y_label: &str, series: Vec<Series>| LineChart {
        title: title.to_string(),
        x_label: "virtual time".to_string(),
        y_label: y_label.to_string(),
        series,
        y_min_zero: true,
        spans: Vec::new(),
        marks: Vec::new(),
    };
    let mut files = vec![
        ChartFile {
            file: "pods.svg",
            chart: chart(
                "Pods",
                "pods",
                vec![
                    series("bound", samples, |s| s.pods_bound as f64),
                    series("pending", samples, |s| s.pods_pending as f64),
                    series("terminating", samples, |s| s.pods_terminating as f64),
                    series("in scheduler queue", samples, |s| {
                        s.scheduler_pending_pods.total() as f64
                    }),
                ],
            ),
        },
        ChartFile {
            file: "allocation.svg",
            chart: chart(
                "Requested share of allocatable",
                "percent",
                vec![
                    series("cpu", samples, |s| s.allocation_pct(CPU)),
                    series("memory", samples, |s| s.allocation_pct(MEMORY)),
                    series("pods", samples, |s| s.allocation_pct(PODS)),
                ],
            ),
        },
        ChartFile {
            file: "apiserver_requests.svg",
            chart: chart(
                "Apiserver requests",
                "requests / s",
                vec![
                    Series {
                        name: "all".into(),
                        points: rates(samples, |s| s.api_requests),
                    },
                    Series {
                        name: "mutating".into(),
                        points: rates(samples, |s| s.api_writes),
                    },
                ],
            ),
        },
    ];
    if samples.iter().any(|s| s.deployments > 0) {
        // A rollout's story: the new pods rising, availability dipping no lower than
        // maxUnavailable allows, the desired count reached again.
        files.push(ChartFile {
            file: "rollout.svg",
            chart: chart(
                "Deployments' replicas",
                "replicas",
                vec![
                    series("desired", samples, |s| s.deployment_replicas_desired as f64),
                    series("updated", samples, |s| s.deployment_replicas_updated as f64),
                    series("available", samples, |s| {
                        s.deployment_replicas_available as f64
                    }),
                    series("unavailable", samples, |s| {
                        s.deployment_replicas_unavailable as f64
                    }),
                ],
            ),
        });
        files.push(ChartFile {
            file: "pod_phases.svg",
            chart: chart(
                "Pods by phase",
                "pods",
                vec![
                    series("Pending", samples, |s| s.pods_by_phase[0] as f64),
                    series("Running", samples, |s| s.pods_by_phase[1] as f64),
                    series("Succeeded", samples, |s| s.pods_by_phase[2] as f64),
                    series("Failed", samples, |s| s.pods_by_phase[3] as f64),
                ],
            ),
        });
    }
    if world.recorder().healing().anything_happened() {
        // A fault's story: nodes dropping out and being tainted, replicas lost, pods evicted,
        // and each line back at rest once the cluster healed.
        files.push(ChartFile {
            file: "healing.svg",
            chart: chart(
                "Faults and healing",
                "nodes / replicas / pods",
                vec![
                    series("nodes not Ready", samples, |s| {
                        (s.node_health.not_ready + s.node_health.unknown) as f64
                    }),
                    series("nodes tainted NoExecute", samples, |s| {
                        s.node_health.tainted() as f64
                    }),
                    series("replicas unavailable", samples, |s| {
                        s.deployment_replicas_unavailable as f64
                    }),
                    series("pods evicted (total)", samples, |s| s.pods_evicted as f64),
                ],
            ),
        });
    }
    if samples.iter().any(|s| s.clients.is_some()) {
        files.push(ChartFile {
            file: "stampede.svg",
            chart: stampede_chart(world),
        });
    }
    if let Some(chart) = client_populations_chart(samples) {
        files.push(ChartFile {
            file: "client_populations.svg",
            chart,
        });
    }
    if samples.iter().any(|s| s.gpu.is_some()) {
        // Samples before the first GPU node are gaps.
        let gpu =
            |value: fn(&GpuSample) -> f64| move |s: &Sample| s.gpu.as_ref().map_or(f64::NAN, value);
        files.push(ChartFile {
            file: "gpu.svg",
            chart: chart(
                "GPU allocation and fragmentation",
                "percent",
                vec![
                    series(
                        "allocated, % of GPU capacity",
                        samples,
                        gpu(GpuSample::allocation_pct),
                    ),
                    series(
                        "fragmented, % of GPU capacity",
                        samples,
                        gpu(GpuSample::frag_amount_pct),
                    ),
                    series(
                        "fragmented, % of idle GPU",
                        samples,
                        gpu(GpuSample::frag_ratio_pct),
                    ),
                ],
            ),
        });
    }
    files.extend(
        super::autoscaling::charts(world)
            .into_iter()
            .map(|(file, chart)| ChartFile { file, chart }),
    );
    files
}

/// Client populations drawn on `client_populations.svg`: those refused most, at most this many
/// (a legend of every population would drown the lines).
const REFUSED_POPULATIONS: usize = 5;

/// Who is being refused (`client_populations.svg`): the 429s per second of all client
/// populations and of those that got the most, from their cumulative counts between samples;
/// none when no population got a 429.
fn client_populations_chart(samples: &[Sample]) -> Option<LineChart> {
    let last = samples.last()?;
    let mut refused: Vec<(u64, &str)> = last
        .populations
        .iter()
        .filter(|p| p.rejected > 0)
        .map(|p| (p.rejected, p.name.as_str()))
        .collect();
    if refused.is_empty() {
        return None;
    }
    // Most 429s first; equal counts by name (the samples' order).
    refused.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    // Every population's together first: it puts the few drawn in proportion, and with a
    // second line the chart has a legend naming the populations.
    let mut series = vec![Series {
        name: "all populations 429s / s".into(),
        points: rates(samples, |s| s.populations.iter().map(|p| p.rejected).sum()),
    }];
    series.extend(
        refused
            .into_iter()
            .take(REFUSED_POPULATIONS)
            .map(|(_, name)| Series {
                name: format!("{name} 429s / s"),
                points: rates(samples, |s| population_value(s, name, REJECTED_METRIC)),
            }),
    );
    Some(LineChart {
        title: "429s by client population".into(),
        x_label: "virtual time".into(),
        y_label: "429 answers / s".into(),
        series,
        y_min_zero: true,
        spans: Vec::new(),
        marks: Vec::new(),
    })
}

/// Per-level rejections drawn on the stampede chart: the levels with the most, at most this
/// many (a legend of every level would drown the lines).
const STAMPEDE_LEVELS: usize = 3;

/// The stampede of a modelled run (`stampede.svg`): informers not following changes, relists
/// and 429s per second, and the rejections of the levels that rejected most, over the spans
/// the apiserver was down and its watch caches were filling; each restart and the clients'
/// recovery from it marked.
fn stampede_chart(world: &World) -> LineChart {
    let samples = world.recorder().samples();
    let clients = |value: fn(&crate::metrics::ClientsSample) -> u64| {
        move |s: &Sample| s.clients.as_ref().map_or(0, value)
    };
    let mut series = vec![
        series("informers not following (count)", samples, |s| {
            s.clients.as_ref().map_or(f64::NAN, |c| {
                c.informers.informers.saturating_sub(c.informers.following) as f64
            })
        }),
        Series {
            name: "relists / s".into(),
            points: rates(samples, clients(|c| c.informers.relists())),
        },
        Series {
            name: "429s / s".into(),
            points: rates(samples, clients(|c| c.too_many_requests)),
        },
    ];
    // Flow control's rejected total is the tenth gauge (`LevelMetrics::gauges`).
    const REJECTED: usize = 9;
    let rejected_at = |s: &Sample, level: usize| {
        s.flowcontrol
            .as_ref()
            .and_then(|levels| levels.get(level))
            .map_or(0, |(_, gauges)| gauges[REJECTED] as u64)
    };
    let mut levels: Vec<(u64, usize, String)> = samples
        .iter()
        .rev()
        .find_map(|s| s.flowcontrol.as_ref())
        .map(|levels| {
            levels
                .iter()
                .enumerate()
                .map(|(i, (name, gauges))| (gauges[REJECTED] as u64, i, name.clone()))
                .filter(|(rejected, _, _)| *rejected > 0)
                .collect()
        })
        .unwrap_or_default();
    // Most rejections first; equal counts in the levels' order.
    levels.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, level, name) in levels.into_iter().take(STAMPEDE_LEVELS) {
        series.push(Series {
            name: format!("{name} rejected / s"),
            points: rates(samples, |s| rejected_at(s, level)),
        });
    }
    let history: Vec<_> = world
        .api()
        .restart_history()
        .into_iter()
        .map(|(_, record)| record)
        .collect();
    let secs = |t: SimTime| t.as_secs_f64();
    let mut marks: Vec<Mark> = history
        .iter()
        .map(|r| Mark {
            label: "restart".into(),
            x: secs(r.down_at),
        })
        .collect();
    marks.extend(
        crate::metrics::restarts::restart_outcomes(samples, &history)
            .iter()
            .filter_map(|o| o.recovered_at)
            .map(|t| Mark {
                label: "recovered".into(),
                x: secs(t),
            }),
    );
    let mut spans = Vec::new();
    if !history.is_empty() {
        spans.push(Span {
            name: "apiserver down".into(),
            ranges: history
                .iter()
                .map(|r| (secs(r.down_at), secs(r.up_at)))
                .collect(),
        });
        spans.push(Span {
            name: "watch caches filling".into(),
            ranges: history
                .iter()
                .map(|r| (secs(r.up_at), secs(r.caches_ready_at)))
                .collect(),
        });
    }
    LineChart {
        title: "Apiserver stampede".into(),
        x_label: "virtual time".into(),
        y_label: "informers, or per second".into(),
        series,
        y_min_zero: true,
        spans,
        marks,
    }
}

/// `report.html`, with the charts already rendered to SVG (same order as [`charts`]).
pub fn html(info: &RunInfo<'_>, world: &World, rendered: &[(&ChartFile, String)]) -> String {
    let empty = Sample::default();
    let last = world.recorder().last().unwrap_or(&empty);
    let pct = |name: &str| format!("{}%", round2(last.allocation_pct(name)));
    let failed: usize = world
        .kubectl()
        .outcomes()
        .iter()
        .filter(|o| !o.errors.is_empty())
        .count();
    let mut headline = vec![
        Metric {
            label: "Pods bound".into(),
            value: format!("{} / {}", last.pods_bound, last.pods),
            note: Some(format!("{} pending", last.pods_pending)),
        },
        Metric {
            label: "CPU requested".into(),
            value: pct(CPU),
            note: Some(format!("of {} nodes' allocatable", last.nodes)),
        },
        Metric {
            label: "Memory requested".into(),
            value: pct(MEMORY),
            note: None,
        },
    ];
    if let Some(gpu) = &last.gpu {
        headline.push(Metric {
            label: "GPU allocated".into(),
            value: format!("{}%", round2(gpu.allocation_pct())),
            note: Some(format!(
                "{}% of GPU capacity fragmented",
                round2(gpu.frag_amount_pct())
            )),
        });
    }
    if let Some(proxies) = world.kube_proxies() {
        let stats = proxies.stats();
        let latencies = &stats.network_programming_latency;
        if let Some(p99) = nearest_rank_counted(latencies, 0.99) {
            let p50 = nearest_rank_counted(latencies, 0.5).unwrap_or_default();
            headline.push(Metric {
                label: "Network programming p99".into(),
                value: p99.to_string(),
                note: Some(format!(
                    "p50 {p50}; {} rule syncs on {} nodes",
                    stats.syncs,
                    proxies.node_count()
                )),
            });
        }
    }
    let healing = world.recorder().healing();
    if healing.anything_happened() {
        let lost: f64 = world
            .recorder()
            .convergence()
            .replica_seconds_lost(info.end)
            .iter()
            .map(|(_, seconds)| seconds)
            .sum();
        headline.push(Metric {
            label: "Pods evicted".into(),
            value: healing.evicted().to_string(),
            note: Some(format!(
                "at worst {} node(s) down, {} tainted NoExecute; {} replica-seconds unavailable",
                healing.peak_down(),
                healing.peak_tainted(),
                lost.round()
            )),
        });
    }
    headline.extend([
        Metric {
            label: "API requests".into(),
            value: last.api_requests.to_string(),
            note: Some(format!("{} writes", last.api_writes)),
        },
        Metric {
            label: "Timeline actions failed".into(),
            value: format!("{failed} / {}", world.kubectl().outcomes().len()),
            note: None,
        },
        Metric {
            label: "Virtual time".into(),
            value: info.end.to_string(),
            note: Some(format!("{} events", info.events_processed)),
        },
    ]);
    let charts = rendered
        .iter()
        .map(|(file, svg)| Block::Chart {
            title: file.chart.title.clone(),
            svg: svg.clone(),
        })
        .collect();
    let outcomes = world.kubectl().outcomes();
    let times: Vec<SimTime> = outcomes.iter().map(|o| o.at).collect();
    let settled = world.recorder().convergence().settle_times(&times);
    let timeline_rows = outcomes
        .iter()
        .zip(settled)
        .map(|(o, settled)| {
            vec![
                o.at.to_string(),
                o.description.clone(),
                o.requests.to_string(),
                if o.errors.is_empty() {
                    "ok".into()
                } else {
                    o.errors.join("; ")
                },
                settled.map_or_else(|| "not by the end".into(), |d| d.to_string()),
            ]
        })
        .collect();
    let mut sections = vec![
        Section {
            title: "Over time".into(),
            blocks: charts,
        },
        Section {
            title: "Timeline".into(),
            blocks: vec![Block::Table {
                columns: vec![
                    "at".into(),
                    "action".into(),
                    "requests".into(),
                    "result".into(),
                    "converged after".into(),
                ],
                rows: timeline_rows,
            }],
        },
    ];
    if !info.scenario.notes.is_empty() {
        sections.push(Section {
            title: "Notes on the input".into(),
            blocks: vec![Block::Table {
                columns: vec!["where".into(), "note".into()],
                rows: info
                    .scenario
                    .notes
                    .iter()
                    .map(|n| {
                        vec![
                            n.pos.relative_to(&info.scenario.root).to_string(),
                            n.message.clone(),
                        ]
                    })
                    .collect(),
            }],
        });
    }
    sections.push(Section {
        title: "Provenance".into(),
        blocks: vec![Block::Table {
            columns: vec!["".into(), "".into()],
            rows: vec![
                vec!["kubesim".into(), env!("CARGO_PKG_VERSION").into()],
                vec!["scenario file".into(), info.scenario_file.clone()],
                vec!["scenario hash".into(), info.scenario.hash.clone()],
                vec!["seed".into(), info.seed.to_string()],
                vec!["stop reason".into(), info.stop_reason_name().into()],
                vec!["trace digest".into(), info.trace_digest.clone()],
            ],
        }],
    });
    let mut subtitle = format!("seed {}, {} of virtual time", info.seed, info.end);
    if !info.scenario.description.is_empty() {
        subtitle = format!("{} — {subtitle}", info.scenario.description);
    }
    Report {
        title: format!("kubesim: {}", info.scenario.name),
        subtitle,
        headline,
        sections,
    }
    .to_html()
}
