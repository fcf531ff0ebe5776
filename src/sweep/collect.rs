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

/// The longest `recoveredAfter` of the run's apiserver restarts, in seconds; none without a
/// restart or when one was never recovered from.
fn recovered_after(json: &Value) -> Option<f64> {
    let restarts = json.pointer("/stampede/clients/restarts")?.as_array()?;
    let mut longest: Option<f64> = None;
    for r in restarts {
        let text = r.get("recoveredAfter")?.as_str()?;
        let d: SimDuration = text.parse().ok()?;
        let secs = d.as_nanos() as f64 / 1e9;
        longest = Some(longest.map_or(secs, |l: f64| l.max(secs)));
    }
    longest
}

/// `field` of every apiserver restart of the run, summed (`max`: the largest); none without a
/// restart.
fn over_restarts(json: &Value, field: &str, max: bool) -> Option<f64> {
    let restarts = json.pointer("/stampede/clients/restarts")?.as_array()?;
    let values: Vec<f64> = restarts
        .iter()
        .filter_map(|r| r.get(field).and_then(Value::as_f64))
        .collect();
    if values.is_empty() {
        None
    } else if max {
        Some(values.iter().copied().fold(0.0, f64::max))
    } else {
        Some(values.iter().sum())
    }
}

/// Requests flow control rejected, over every level.
fn flowcontrol_rejected(json: &Value) -> Option<f64> {
    let levels = json
        .pointer("/stampede/flowcontrol/priorityLevels")?
        .as_object()?;
    Some(
        levels
            .values()
            .filter_map(|l| l.get(REJECTED_TOTAL).and_then(Value::as_f64))
            .sum(),
    )
}

/// The per-level rejection counter in `summary.json`.
const REJECTED_TOTAL: &str = "apiserver_flowcontrol_rejected_requests_total";

/// What an apiserver restart cost the clients, for runs with a modelled apiserver.
pub const CLIENT_METRICS: &[Metric] = &[
    Metric {
        column: "recovered_after_s",
        label: "clients recovered after the restart",
        unit: "s",
        decimals: 0,
        better: Better::Lower,
        read: recovered_after,
    },
    Metric {
        column: "restart_relists",
        label: "relists after the restart",
        unit: "",
        decimals: 0,
        better: Better::Lower,
        read: |j| over_restarts(j, "relists", false),
    },
    Metric {
        column: "restart_429s",
        label: "429s after the restart",
        unit: "",
        decimals: 0,
        better: Better::Lower,
        read: |j| over_restarts(j, "apiserverRequestTotal429", false),
    },
    Metric {
        column: "informers_not_following_peak",
        label: "informers not following at worst",
        unit: "",
        decimals: 0,
        better: Better::Lower,
        read: |j| over_restarts(j, "informersNotFollowingPeak", true),
    },
    Metric {
        column: "flowcontrol_rejected",
        label: "requests rejected by flow control",
        unit: "",
        decimals: 0,
        better: Better::Lower,
        read: flowcontrol_rejected,
    },
];

/// `a` then `b`.
const fn concat<const N: usize>(a: &[Metric], b: &[Metric]) -> [Metric; N] {
    let mut out = [a[0]; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[a.len() + j] = b[j];
        j += 1;
    }
    out
}

/// The metrics of cluster runs with a modelled apiserver: the cluster's, then the clients'.
pub const CLUSTER_CLIENT_METRICS: [Metric; CLUSTER_METRICS.len() + CLIENT_METRICS.len()] =
    concat(CLUSTER_METRICS, CLIENT_METRICS);

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

/// Which metrics a sweep's runs are compared on: a replay's, a cluster run's, or a cluster
/// run's and its clients' when some run has a modelled apiserver (`stampede.clients` in its
/// summary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricSet {
    /// [`CLUSTER_METRICS`].
    Cluster,
    /// [`CLUSTER_CLIENT_METRICS`].
    ClusterWithClients,
    /// [`REPLAY_METRICS`].
    Replay,
}

impl MetricSet {
    /// The set of `kind`'s runs, `clients` when some run's summary has `stampede.clients`.
    pub fn of(kind: RunKind, clients: bool) -> MetricSet {
        match kind {
            RunKind::Replay => MetricSet::Replay,
            RunKind::Cluster if clients => MetricSet::ClusterWithClients,
            RunKind::Cluster => MetricSet::Cluster,
        }
    }
}

/// The metrics of `set`.
pub fn metrics(set: MetricSet) -> &'static [Metric] {
    match set {
        MetricSet::Cluster => CLUSTER_METRICS,
        MetricSet::ClusterWithClients => &CLUSTER_CLIENT_METRICS,
        MetricSet::Replay => REPLAY_METRICS,
    }
}

/// The metrics (indices into [`metrics`]) that decide the best combination, compared in
/// order on their means: for cluster runs fewest pending pods, then lowest p99 scheduling
/// latency — with a modelled apiserver, fewest pending pods, then the quickest recovery from
/// the restart, then fewest 429s after it; for replays the highest GPU allocation at 130 %
/// arrived (the FGD paper's headline).
pub fn ranking(set: MetricSet) -> &'static [usize] {
    match set {
        MetricSet::Cluster => &[1, 3],
        MetricSet::ClusterWithClients => {
            const RANKING: [usize; 3] = [1, CLUSTER_METRICS.len(), CLUSTER_METRICS.len() + 2];
            &RANKING
        }
        MetricSet::Replay => &[1],
    }
}

/// The metric the answer and the headline give (an index into [`metrics`]): the last of the
/// ranking, but with a modelled apiserver the clients' recovery from the restart.
pub fn headline_metric(set: MetricSet) -> usize {
    match set {
        MetricSet::ClusterWithClients => CLUSTER_METRICS.len(),
        _ => ranking(set).last().copied().unwrap_or(0),
    }
}

/// The ranking rule in words.
pub fn ranking_rule(set: MetricSet) -> String {
    let list = metrics(set);
    ranking(set)
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
    /// With a modelled apiserver: requests flow control rejected, by level (its
    /// `priorityLevels` in `summary.json`).
    pub rejected_by_level: std::collections::BTreeMap<String, u64>,
    /// With a modelled apiserver: informers not following changes at each sample
    /// (`informers − informers_following` of `timeseries.csv`), as (seconds, count).
    pub not_following: Vec<(f64, f64)>,
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
    /// The metrics they are compared on.
    pub set: MetricSet,
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
    let mut summaries = Vec::with_capacity(plan.runs.len());
    for r in &plan.runs {
        let path = dir.join("runs").join(&r.folder).join("summary.json");
        let unreadable = |message: String| CollectError::Unreadable {
            path: path.clone(),
            message,
        };
        let text = fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
        let json: Value = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        summaries.push(json);
    }
    let clients = summaries
        .iter()
        .any(|j| j.pointer("/stampede/clients").is_some());
    let set = MetricSet::of(kind, clients);
    let list = metrics(set);
    let mut runs = Vec::with_capacity(plan.runs.len());
    for (r, json) in plan.runs.iter().zip(&summaries) {
        let not_following = if json.pointer("/stampede/clients").is_some() {
            let path = dir.join("runs").join(&r.folder).join("timeseries.csv");
            not_following(&path).map_err(|message| CollectError::Unreadable { path, message })?
        } else {
            Vec::new()
        };
        runs.push(RunRecord {
            index: r.index,
            combination: r.combination,
            seed: r.seed,
            values: list.iter().map(|m| (m.read)(json)).collect(),
            rejected_by_level: rejected_by_level(json),
            not_following,
        });
    }
    Ok(reduce(kind, set, plan.combinations.len(), runs))
}

/// Each level's rejected requests in a run's `summary.json` (none on the ideal path).
fn rejected_by_level(json: &Value) -> std::collections::BTreeMap<String, u64> {
    json.pointer("/stampede/flowcontrol/priorityLevels")
        .and_then(Value::as_object)
        .map(|levels| {
            levels
                .iter()
                .filter_map(|(name, l)| {
                    let n = l.get(REJECTED_TOTAL)?.as_f64()?;
                    Some((name.clone(), n.max(0.0) as u64))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `informers − informers_following` at each row of the `timeseries.csv` at `path`.
fn not_following(path: &Path) -> Result<Vec<(f64, f64)>, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
    let header = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("no column {name}"))
    };
    let (t, informers, following) = (
        column("t_seconds")?,
        column("informers")?,
        column("informers_following")?,
    );
    let mut points = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| e.to_string())?;
        let number = |i: usize| -> Result<f64, String> {
            row.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| format!("row {}: not a number in column {i}", points.len() + 1))
        };
        points.push((number(t)?, number(informers)? - number(following)?));
    }
    Ok(points)
}

/// The statistics and ranking of `runs` (in the sweep's order).
pub fn reduce(
    kind: RunKind,
    set: MetricSet,
    combinations: usize,
    runs: Vec<RunRecord>,
) -> Collected {
    let list = metrics(set);
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
        for &m in ranking(set) {
            let ord = key(a, m).total_cmp(&key(b, m));
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
    Collected {
        kind,
        set,
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
            rejected_by_level: Default::default(),
            not_following: Vec::new(),
        };
        let collected = reduce(
            RunKind::Cluster,
            MetricSet::Cluster,
            3,
            vec![rec(0, 2.0, 1.0), rec(1, 0.0, 5.0), rec(2, 0.0, 3.0)],
        );
        assert_eq!(collected.order, vec![2, 1, 0]);
    }
}
