//! The human-readable outputs: `charts/*.svg` and `report.html`, answer first.

use super::RunInfo;
use super::chart::{LineChart, Series};
use super::files::{rates, round2};
use super::html::{Block, Metric, Report, Section};
use crate::api::resources::{CPU, MEMORY, PODS};
use crate::metrics::gpu::GpuSample;
use crate::metrics::{Sample, nearest_rank_counted};
use crate::sim::SimTime;
use crate::world::World;

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
    files
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
