//! Reading the runs of a sweep back from their folders and reducing them, serially and in the
//! sweep's order: the headline metrics of each run (from its `summary.json`), and per value
//! combination the mean, min, max and standard deviation of each metric over the seeds.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::execute::{RunKind, SweepMark, is_done};
use super::plan::Plan;
use crate::sim::SimDuration;

/// Which way a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Larger is better.
    Higher,
    /// Smaller is better.
    Lower,
}

/// A headline metric read from a run's `summary.json`.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// Column name in `sweep.csv` (and prefix in `comparison.csv`).
    pub column: &'static str,
    /// What it is, for people.
    pub label: &'static str,
    /// Unit shown after values (may be empty).
    pub unit: &'static str,
    /// Decimals of a run's value; means and deviations get two more.
    pub decimals: usize,
    /// Which way is better.
    pub better: Better,
    /// Reads the value from `summary.json`.
    pub read: fn(&Value) -> Option<f64>,
}

fn number(json: &Value, pointer: &str) -> Option<f64> {
    json.pointer(pointer).and_then(Value::as_f64)
}

/// A duration such as `"2.121ms"` at `pointer`, in milliseconds.
fn millis(json: &Value, pointer: &str) -> Option<f64> {
    let text = json.pointer(pointer)?.as_str()?;
    let d: SimDuration = text.parse().ok()?;
    Some(d.as_nanos() as f64 / 1e6)
}

/// The metrics of cluster runs.
pub const CLUSTER_METRICS: &[Metric] = &[
    Metric {
        column: "pods_bound",
        label: "pods bound",
        unit: "",
        decimals: 0,
        better: Better::Higher,
        read: |j| number(j, "/placement/pods/bound"),
    },
    Metric {
        column: "pods_pending",
        label: "pods pending",
        unit: "",
        decimals: 0,
        better: Better::Lower,
        read: |j| number(j, "/placement/pods/pending"),
    },
    Metric {
        column: "scheduling_latency_p50_ms",
        label: "scheduling latency p50",
        unit: "ms",
        decimals: 3,
        better: Better::Lower,
        read: |j| millis(j, "/scheduling/schedulingLatency/p50"),
    },
    Metric {
        column: "scheduling_latency_p99_ms",
        label: "scheduling latency p99",
        unit: "ms",
        decimals: 3,
        better: Better::Lower,
        read: |j| millis(j, "/scheduling/schedulingLatency/p99"),
    },
    Metric {
        column: "cpu_allocation_pct",
        label: "CPU allocation",
        unit: "%",
        decimals: 2,
        better: Better::Higher,
        read: |j| number(j, "/placement/allocation/cpu/percent"),
    },
    Metric {
        column: "api_requests",
        label: "apiserver requests",
        unit: "",
        decimals: 0,
        better: Better::Lower,
        read: |j| number(j, "/stampede/apiserver_request_total"),
    },
];

/// The metrics of replay runs.
pub const REPLAY_METRICS: &[Metric] = &[
    Metric {
        column: "gpu_alloc_pct_at_100",
        label: "GPU allocation at 100 % arrived",
        unit: "%",
        decimals: 2,
        better: Better::Higher,
        read: |j| number(j, "/gpuAllocPctAt100"),
    },
    Metric {
        column: "gpu_alloc_pct_at_130",
        label: "GPU allocation at 130 % arrived",
        unit: "%",
        decimals: 2,
        better: Better::Higher,
        read: |j| number(j, "/gpuAllocPctAt130"),
    },
    Metric {
        column: "frag_amount_pct_at_130",
        label: "GPU fragmentation at 130 % arrived",
        unit: "%",
        decimals: 2,
        better: Better::Lower,
        read: |j| number(j, "/fragAmountPctAt130"),
    },
    Metric {
        column: "failed_pods",
        label: "failed pods",
        unit: "",
        decimals: 0,
        better: Better::Lower,
        read: |j| number(j, "/failedPods"),
    },
];

/// The metrics of `kind`.
pub fn metrics(kind: RunKind) -> &'static [Metric] {
    match kind {
        RunKind::Cluster => CLUSTER_METRICS,
        RunKind::Replay => REPLAY_METRICS,
    }
}

/// The metrics (indices into [`metrics`]) that decide the best combination, compared in
/// order on their means: for cluster runs fewest pending pods, then lowest p99 scheduling
/// latency; for replays the highest GPU allocation at 130 % arrived (the FGD paper's
/// headline).
pub fn ranking(kind: RunKind) -> &'static [usize] {
    match kind {
        RunKind::Cluster => &[1, 3],
        RunKind::Replay => &[1],
    }
}

/// The ranking rule in words.
pub fn ranking_rule(kind: RunKind) -> String {
    let list = metrics(kind);
    ranking(kind)
        .iter()
        .filter_map(|&i| list.get(i))
        .map(|m| {
            let way = match m.better {
                Better::Higher => "highest",
                Better::Lower => "lowest",
            };
            format!("{way} mean {}", m.label)
        })
        .collect::<Vec<_>>()
        .join(", then ")
}

/// One run's metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    /// Index in the sweep.
    pub index: usize,
    /// Its value combination.
    pub combination: usize,
    /// Its seed.
    pub seed: u64,
    /// One value per metric (`None` when the run has none, e.g. no pod was scheduled).
    pub values: Vec<Option<f64>>,
}

/// Mean, min, max and sample standard deviation of one metric over a combination's seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Runs with a value.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 for one value).
    pub stddev: f64,
}

impl Stats {
    /// Statistics of `values` (in order, so the sums are the same everywhere); `None` if empty.
    pub fn of(values: &[f64]) -> Option<Stats> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let stddev = if n > 1 {
            (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Stats {
            n,
            mean,
            min,
            max,
            stddev,
        })
    }
}

/// The runs of a sweep read back, and their reduction.
#[derive(Clone, Debug)]
pub struct Collected {
    /// What kind of runs.
    pub kind: RunKind,
    /// One record per run, in the sweep's order.
    pub runs: Vec<RunRecord>,
    /// Per combination (in order), per metric, the statistics over seeds.
    pub stats: Vec<Vec<Option<Stats>>>,
    /// Combinations from best to worst by [`ranking`] (ties keep the sweep's order).
    pub order: Vec<usize>,
}

/// Why the runs could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectError {
    /// Runs whose folders do not hold a finished run of this sweep (indices).
    Missing(Vec<usize>),
    /// A run's `summary.json` cannot be read.
    Unreadable {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
}

/// Reads every run of `plan` from `dir/runs/` (each must carry the mark of its run of a sweep
/// of a scenario hashing to `hash`) and reduces them.
pub fn collect(
    dir: &Path,
    plan: &Plan,
    kind: RunKind,
    hash: &str,
) -> Result<Collected, CollectError> {
    let missing: Vec<usize> = plan
        .runs
        .iter()
        .filter(|r| {
            let mark = SweepMark::new(r.index, hash, &r.overrides, r.seed);
            !is_done(&dir.join("runs").join(&r.folder), &mark)
        })
        .map(|r| r.index)
        .collect();
    if !missing.is_empty() {
        return Err(CollectError::Missing(missing));
    }
    let list = metrics(kind);
    let mut runs = Vec::with_capacity(plan.runs.len());
    for r in &plan.runs {
        let path = dir.join("runs").join(&r.folder).join("summary.json");
        let unreadable = |message: String| CollectError::Unreadable {
            path: path.clone(),
            message,
        };
        let text = fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
        let json: Value = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        runs.push(RunRecord {
            index: r.index,
            combination: r.combination,
            seed: r.seed,
            values: list.iter().map(|m| (m.read)(&json)).collect(),
        });
    }
    Ok(reduce(kind, plan.combinations.len(), runs))
}

/// The statistics and ranking of `runs` (in the sweep's order).
pub fn reduce(kind: RunKind, combinations: usize, runs: Vec<RunRecord>) -> Collected {
    let list = metrics(kind);
    let stats: Vec<Vec<Option<Stats>>> = (0..combinations)
        .map(|c| {
            (0..list.len())
                .map(|m| {
                    let values: Vec<f64> = runs
                        .iter()
                        .filter(|r| r.combination == c)
                        .filter_map(|r| r.values.get(m).copied().flatten())
                        .filter(|v| v.is_finite())
                        .collect();
                    Stats::of(&values)
                })
                .collect()
        })
        .collect();
    let mut order: Vec<usize> = (0..combinations).collect();
    let key = |c: usize, m: usize| -> f64 {
        // Missing values rank last whichever way is better.
        let better = list.get(m).map_or(Better::Lower, |d| d.better);
        match stats[c].get(m).copied().flatten() {
            Some(s) if better == Better::Higher => -s.mean,
            Some(s) => s.mean,
            None => f64::INFINITY,
        }
    };
    order.sort_by(|&a, &b| {
        for &m in ranking(kind) {
            let ord = key(a, m).total_cmp(&key(b, m));
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
    Collected {
        kind,
        runs,
        stats,
        order,
    }
}

/// `value` with `decimals` decimals, never `-0`.
pub fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_use_the_sample_deviation() {
        let s = Stats::of(&[1.0, 2.0, 3.0]);
        assert_eq!(
            s.map(|s| (s.n, s.mean, s.min, s.max, s.stddev)),
            Some((3, 2.0, 1.0, 3.0, 1.0))
        );
        assert_eq!(Stats::of(&[5.0]).map(|s| s.stddev), Some(0.0));
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn negative_zero_is_printed_as_zero() {
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(fixed(-1.5, 1), "-1.5");
    }

    #[test]
    fn ranking_prefers_fewer_pending_then_lower_latency() {
        let rec = |c: usize, pending: f64, p99: f64| RunRecord {
            index: c,
            combination: c,
            seed: 1,
            values: vec![None, Some(pending), None, Some(p99), None, None],
        };
        let collected = reduce(
            RunKind::Cluster,
            3,
            vec![rec(0, 2.0, 1.0), rec(1, 0.0, 5.0), rec(2, 0.0, 3.0)],
        );
        assert_eq!(collected.order, vec![2, 1, 0]);
    }
}
