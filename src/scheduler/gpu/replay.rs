//! The openb replay experiment (fgd-spec §3.2, §4): one policy, one seed, one trace.
//!
//! 1. Typical pods from the ORIGINAL pods (name-sorted copy), §2.7.
//! 2. Pods sorted by name, then shuffled (Fisher–Yates from the end; stream `replay/shuffle`).
//! 3. Tuning to 130 % of GPU capacity (stream `replay/inflate`): while below, draw an original
//!    (name order) and clone it to the end, stopping — clone discarded — as soon as
//!    `G + clone's milli per GPU > T`; when above (multigpu30/40/50), remove random pods until
//!    `G ≤ T`.
//! 4. Node ranks: nodes sorted by name get a random permutation of `0..n` (stream
//!    `replay/node-rank`); ties between equal scores go to the lowest rank.
//! 5. Each pod is attempted exactly once, in list order: `arrived += num_gpu·milli` first; a pod
//!    no node fits fails and is dropped. Random draws from `replay/random-policy`.
//! 6. After every pod: arrived and used GPU milli, cluster fragmentation (amount and ratio) and
//!    failures so far; then the per-percent binning of §4 (0..=130, round-half-even, neighbour
//!    fallback).
//!
//! Every node's `F` is kept and the cluster sum updated when a pod lands (only that node's `F`
//! changes); scores of deterministic policies are cached per (node, pod type) until the node
//! changes. Both are exact (integers), so they change speed, not results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::RngExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::cycle::{Decision, GpuScheduler};
use super::fragmentation::{ClusterFrag, node_frag_scaled};
use super::node_gpus::NodeGpus;
use super::pod_gpu::PodGpuRequest;
use super::typical_pods::{PodTypeKey, TypicalPods};
use crate::api::gpu::GPU_MILLI;
use crate::config::gpu_sharing::Policy;
use crate::report::chart::{LineChart, Series};
use crate::report::output::{MARKER_FILE, ReportError, StagedDir};
use crate::sim::rng::{SimRng, stream};
use crate::workload::openb::{NodeSpec, PodRow};

/// Stream of the pod-order shuffle.
pub const STREAM_SHUFFLE: &str = "replay/shuffle";
/// Stream of the tuning draws (clone sampling, or removals when tuning down).
pub const STREAM_INFLATE: &str = "replay/inflate";
/// Stream of the node-rank permutation.
pub const STREAM_NODE_RANK: &str = "replay/node-rank";
/// Stream of the Random policy's node and GPU draws.
pub const STREAM_RANDOM_POLICY: &str = "replay/random-policy";

/// Tune ratio `r = 1.3` as a fraction: target `T = 13/10 · C`.
pub const TUNE_RATIO: (i64, i64) = (13, 10);
/// Last arrived-workload percent reported.
pub const MAX_ARRIVED_PCT: i64 = 130;
/// Version of the replay output files; bumped when a key or column changes meaning.
pub const REPLAY_OUTPUT_FORMAT: u32 = 1;
/// Columns of `replay.csv`.
pub const CSV_HEADER: &str = "arrived_pct,gpu_alloc_pct,frag_amount_pct,frag_ratio_pct,failed_pods";

/// The pod list a replay submits, after shuffle and tuning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedPods {
    /// The pods in submission order: the shuffled originals, then the clones.
    pub pods: Vec<PodRow>,
    /// Pods in the original trace.
    pub originals: usize,
    /// Clones appended by tuning up.
    pub clones: usize,
    /// Pods removed by tuning down.
    pub removed: usize,
    /// GPU request of the original trace, `Σ num_gpu·milli`.
    pub original_gpu_milli: i64,
    /// GPU request of the submitted list.
    pub gpu_milli: i64,
}

/// One pod attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Pod name (`<original>-tuned-<i>` for clones).
    pub pod: String,
    /// Index of the node in the replay's input node list, `None` if the pod failed.
    pub node: Option<usize>,
    /// GPU indices on that node.
    pub gpus: Vec<usize>,
}

/// The metrics after one pod (fgd-spec §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Σ `num_gpu·milli` of every pod attempted so far (failed ones too).
    pub arrived_milli: i64,
    /// GPU milli allocated in the cluster.
    pub used_milli: i64,
    /// Cluster fragmentation, scaled by the typical pods' total (exact).
    pub frag_scaled: i64,
    /// Idle GPU milli of the cluster.
    pub idle_milli: i64,
    /// Pods failed so far.
    pub failed: u64,
}

/// One row of `replay.csv`: the samples whose arrived percent rounds to `arrived_pct` (or, if
/// none, to a neighbour), averaged. `None` where no sample is near.
#[derive(Clone, Debug, PartialEq)]
pub struct Bin {
    /// Arrived workload, percent of GPU capacity.
    pub arrived_pct: i64,
    /// Mean GPU allocation, hundredths of a percent (each sample rounded to 2 dp first).
    pub gpu_alloc_centi_pct: Option<i64>,
    /// Mean fragmentation amount, hundredths of a percent of GPU capacity.
    pub frag_amount_centi_pct: Option<i64>,
    /// Mean fragmentation ratio (percent of idle GPU).
    pub frag_ratio_pct: Option<f64>,
    /// Pods failed by the last sample of the bin.
    pub failed_pods: Option<u64>,
}

/// Failed pods of one kind (`analysis_fail.csv`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedGroup {
    /// CPU request, millicores.
    pub cpu_milli: i64,
    /// GPUs.
    pub num_gpu: u32,
    /// Milli per GPU.
    pub gpu_milli: i64,
    /// Allowed models (empty: any).
    pub gpu_spec: String,
    /// How many failed.
    pub count: u64,
}

/// Everything a replay measured.
#[derive(Clone, Debug)]
pub struct ReplayResult {
    /// The policy.
    pub policy: Policy,
    /// The seed.
    pub seed: u64,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// GPUs in the cluster.
    pub gpus: i64,
    /// The target workload.
    pub typical: TypicalPods,
    /// Fragmentation of the empty cluster.
    pub initial_frag: ClusterFrag,
    /// The pods submitted.
    pub prepared: PreparedPodsSummary,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// The metrics after every attempt.
    pub samples: Vec<Sample>,
    /// Failed pods grouped by kind, most frequent first.
    pub failed_groups: Vec<FailedGroup>,
    /// One bin per arrived percent `0..=130`.
    pub bins: Vec<Bin>,
}

/// The counts of [`PreparedPods`] without the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedPodsSummary {
    /// Pods in the original trace.
    pub original_pods: usize,
    /// GPU request of the original trace (milli).
    pub original_gpu_milli: i64,
    /// Clones appended.
    pub clones: usize,
    /// Pods removed.
    pub removed: usize,
    /// Pods submitted.
    pub pods: usize,
    /// GPU request submitted (milli).
    pub gpu_milli: i64,
}

impl ReplayResult {
    /// Pods that failed.
    pub fn failed(&self) -> u64 {
        self.samples.last().map_or(0, |s| s.failed)
    }

    /// The bin of `pct` arrived (`None` outside `0..=130`).
    pub fn bin(&self, pct: i64) -> Option<&Bin> {
        usize::try_from(pct).ok().and_then(|i| self.bins.get(i))
    }

    /// GPU allocation percent at `pct` arrived, when measured.
    pub fn alloc_pct_at(&self, pct: i64) -> Option<f64> {
        self.bin(pct)
            .and_then(|b| b.gpu_alloc_centi_pct)
            .map(centi_to_f64)
    }

    /// Fragmentation amount (percent of GPU capacity) at `pct` arrived, when measured.
    pub fn frag_amount_pct_at(&self, pct: i64) -> Option<f64> {
        self.bin(pct)
            .and_then(|b| b.frag_amount_centi_pct)
            .map(centi_to_f64)
    }
}

fn centi_to_f64(centi: i64) -> f64 {
    centi as f64 / 100.0
}

/// `a / d` rounded to the nearest integer, halves to even (Python's `round`), for `d > 0`.
pub fn round_half_even(a: i128, d: i128) -> i128 {
    if d <= 0 {
        return 0;
    }
    let q = a.div_euclid(d);
    let twice_r = 2 * a.rem_euclid(d);
    if twice_r > d || (twice_r == d && q % 2 != 0) {
        q + 1
    } else {
        q
    }
}

/// Arrived percent of a sample: `round(arrived_milli / gpus / 10)`, halves to even.
pub fn arrived_pct(arrived_milli: i64, gpus: i64) -> i64 {
    round_half_even(i128::from(arrived_milli), 10 * i128::from(gpus)) as i64
}

/// Steps 2 and 3 of §3.2: name sort, seeded shuffle, tuning to 130 % of `capacity_milli`.
pub fn prepare_pods(pods: &[PodRow], capacity_milli: i64, seed: u64) -> PreparedPods {
    let mut originals: Vec<PodRow> = pods.to_vec();
    originals.sort_by(|a, b| a.name.cmp(&b.name));
    let requests: Vec<PodGpuRequest> = originals.iter().map(PodGpuRequest::from_row).collect();
    let original_gpu_milli: i64 = requests.iter().map(PodGpuRequest::total_gpu_milli).sum();

    let mut list = originals.clone();
    shuffle(&mut list, &mut stream(seed, STREAM_SHUFFLE));

    let mut rng = stream(seed, STREAM_INFLATE);
    let (num, den) = TUNE_RATIO;
    // G vs T = (13/10)·C, compared as 10·G vs 13·C so nothing is rounded.
    let target_10 = i128::from(capacity_milli) * i128::from(num);
    let tenfold = |g: i64| i128::from(g) * i128::from(den);
    let mut g = original_gpu_milli;
    let mut clones = 0usize;
    let mut removed = 0usize;
    if tenfold(g) < target_10 {
        // Without a GPU pod nothing could ever stop the loop (CPU-only clones never do), and
        // nothing could raise G: such a trace is left as it is.
        if requests.iter().any(PodGpuRequest::is_gpu) {
            loop {
                let index = rng.random_range(0..originals.len() as u64) as usize;
                let request = &requests[index];
                // The stop rule compares the clone's milli PER GPU, not its total (§3.2).
                if tenfold(g + request.gpu_milli) > target_10 {
                    break;
                }
                let mut clone = originals[index].clone();
                clone.name = format!("{}-tuned-{clones}", clone.name);
                list.push(clone);
                g += request.total_gpu_milli();
                clones += 1;
            }
        }
    } else {
        while tenfold(g) > target_10 && !list.is_empty() {
            let index = rng.random_range(0..list.len() as u64) as usize;
            let pod = list.remove(index);
            g -= PodGpuRequest::from_row(&pod).total_gpu_milli();
            removed += 1;
        }
    }
    PreparedPods {
        pods: list,
        originals: originals.len(),
        clones,
        removed,
        original_gpu_milli,
        gpu_milli: g,
    }
}

/// Fisher–Yates from the end, as Go's `rand.Shuffle`: for `i = n−1 … 1`, swap `i` with a draw
/// from `0..=i`.
fn shuffle<T>(items: &mut [T], rng: &mut SimRng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i as u64) as usize;
        items.swap(i, j);
    }
}

/// Step 4 of §3.2: the rank of each node (by its index in `nodes`). Nodes sorted by name get
/// the entries of a random permutation of `0..n` (Go's `rand.Perm` algorithm: inside-out
/// shuffle), the artifact's random 4-digit name prefixes.
pub fn node_ranks(nodes: &[NodeSpec], seed: u64) -> Vec<usize> {
    let mut by_name: Vec<usize> = (0..nodes.len()).collect();
    by_name.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
    let mut rng = stream(seed, STREAM_NODE_RANK);
    let mut perm = vec![0usize; nodes.len()];
    for i in 0..perm.len() {
        let j = rng.random_range(0..=i as u64) as usize;
        perm[i] = perm[j];
        perm[j] = i;
    }
    let mut ranks = vec![0usize; nodes.len()];
    for (k, &node) in by_name.iter().enumerate() {
        ranks[node] = perm[k];
    }
    ranks
}

/// Runs the §3.2 protocol with `policy` and `seed` on the openb `nodes` and `pods`.
pub fn replay(nodes: &[NodeSpec], pods: &[PodRow], policy: Policy, seed: u64) -> ReplayResult {
    // Step 1: typical pods from the original trace (order does not matter to counting).
    let originals: Vec<PodGpuRequest> = pods.iter().map(PodGpuRequest::from_row).collect();
    let typical = TypicalPods::from_pods(&originals);

    let gpus: i64 = nodes.iter().map(|n| i64::from(n.gpus)).sum();
    let capacity_milli = gpus * GPU_MILLI;
    let prepared = prepare_pods(pods, capacity_milli, seed);

    // Nodes in rank order: index 0 has the lowest rank, so ties go to the first maximum.
    let ranks = node_ranks(nodes, seed);
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|&i| ranks[i]);
    let mut state: Vec<NodeGpus> = order.iter().map(|&i| NodeGpus::new(&nodes[i])).collect();
    let mut node_frag: Vec<i64> = state
        .iter()
        .map(|n| node_frag_scaled(n, &typical))
        .collect();
    let initial_frag = ClusterFrag::of(&state, &typical);
    let mut frag_scaled = initial_frag.frag_scaled;
    let mut idle_milli = initial_frag.idle_milli;

    // Pod types index the score cache; scores depend on a pod only through its type.
    let requests: Vec<PodGpuRequest> = prepared.pods.iter().map(PodGpuRequest::from_row).collect();
    let mut type_ids: BTreeMap<PodTypeKey, usize> = BTreeMap::new();
    let pod_types: Vec<usize> = requests
        .iter()
        .map(|r| {
            let next = type_ids.len();
            *type_ids.entry(r.type_key()).or_insert(next)
        })
        .collect();

    let mut scheduler = GpuScheduler::new(policy, stream(seed, STREAM_RANDOM_POLICY))
        .with_score_cache(state.len(), type_ids.len());
    let mut arrived_milli = 0i64;
    let mut failed = 0u64;
    let mut failed_by_kind: BTreeMap<(i64, u32, i64, String), u64> = BTreeMap::new();
    let mut attempts = Vec::with_capacity(requests.len());
    let mut samples = Vec::with_capacity(requests.len());
    for ((row, request), &pod_type) in prepared.pods.iter().zip(&requests).zip(&pod_types) {
        arrived_milli += request.total_gpu_milli();
        let decision = scheduler.schedule(&state, request, Some(pod_type), &typical);
        match decision {
            Decision::Bind { node, gpus } => {
                let slot = &mut state[node];
                slot.place(request, &gpus);
                let new_frag = node_frag_scaled(slot, &typical);
                frag_scaled += new_frag - node_frag[node];
                node_frag[node] = new_frag;
                idle_milli -= request.gpu_milli * gpus.len() as i64;
                scheduler.node_changed(node);
                attempts.push(Attempt {
                    pod: row.name.clone(),
                    node: Some(order[node]),
                    gpus,
                });
            }
            Decision::Unschedulable | Decision::ScoreOutOfRange { .. } => {
                failed += 1;
                *failed_by_kind
                    .entry((
                        request.cpu_milli,
                        request.num_gpu,
                        request.gpu_milli,
                        request.gpu_spec.clone(),
                    ))
                    .or_insert(0) += 1;
                attempts.push(Attempt {
                    pod: row.name.clone(),
                    node: None,
                    gpus: Vec::new(),
                });
            }
        }
        samples.push(Sample {
            arrived_milli,
            used_milli: capacity_milli - idle_milli,
            frag_scaled,
            idle_milli,
            failed,
        });
    }

    let mut failed_groups: Vec<FailedGroup> = failed_by_kind
        .into_iter()
        .map(
            |((cpu_milli, num_gpu, gpu_milli, gpu_spec), count)| FailedGroup {
                cpu_milli,
                num_gpu,
                gpu_milli,
                gpu_spec,
                count,
            },
        )
        .collect();
    // Stable: equal counts keep the key order.
    failed_groups.sort_by_key(|g| std::cmp::Reverse(g.count));

    let bins = bin_samples(&samples, gpus, typical.total());
    ReplayResult {
        policy,
        seed,
        nodes: nodes.len(),
        gpus,
        typical,
        initial_frag,
        prepared: PreparedPodsSummary {
            original_pods: prepared.originals,
            original_gpu_milli: prepared.original_gpu_milli,
            clones: prepared.clones,
            removed: prepared.removed,
            pods: prepared.pods.len(),
            gpu_milli: prepared.gpu_milli,
        },
        attempts,
        samples,
        failed_groups,
        bins,
    }
}

/// Sums of the samples whose arrived percent is one value.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    n: i128,
    alloc_centi: i128,
    frag_scaled: i128,
    ratio: f64,
    last_failed: u64,
}

impl Acc {
    fn merge(&mut self, other: &Acc) {
        self.n += other.n;
        self.alloc_centi += other.alloc_centi;
        self.frag_scaled += other.frag_scaled;
        self.ratio += other.ratio;
        self.last_failed = self.last_failed.max(other.last_failed);
    }
}

/// The binning of §4 (`merge_*_discrete.py`), with exact integer rounding:
///
/// * `arrive = round(arrived_milli / gpus / 10)`, halves to even;
/// * per sample `alloc = round(used_milli / gpus / 10, 2)`, i.e. `used·10/gpus` hundredths;
/// * for `x` in `0..=130`: the samples with `arrive = x`, or if none those with
///   `x−1 ≤ arrive ≤ x+1`; alloc = their mean, rounded to 2 dp; frag amount =
///   `round(100·mean(F_cluster)/1000/gpus, 2)`; frag ratio = mean of the per-sample ratios;
///   failed pods = the count at the last of them.
pub fn bin_samples(samples: &[Sample], gpus: i64, typical_total: u64) -> Vec<Bin> {
    let mut by_pct: BTreeMap<i64, Acc> = BTreeMap::new();
    if gpus > 0 {
        for s in samples {
            let pct = arrived_pct(s.arrived_milli, gpus);
            if pct > MAX_ARRIVED_PCT + 1 {
                continue;
            }
            let acc = by_pct.entry(pct).or_default();
            acc.n += 1;
            acc.alloc_centi += round_half_even(10 * i128::from(s.used_milli), i128::from(gpus));
            acc.frag_scaled += i128::from(s.frag_scaled);
            acc.ratio += frag_ratio_pct(s, typical_total);
            acc.last_failed = acc.last_failed.max(s.failed);
        }
    }
    (0..=MAX_ARRIVED_PCT)
        .map(|x| {
            let acc = match by_pct.get(&x) {
                Some(acc) if acc.n > 0 => *acc,
                _ => {
                    let mut merged = Acc::default();
                    for near in [x - 1, x + 1] {
                        if let Some(acc) = by_pct.get(&near) {
                            merged.merge(acc);
                        }
                    }
                    merged
                }
            };
            if acc.n == 0 {
                return Bin {
                    arrived_pct: x,
                    gpu_alloc_centi_pct: None,
                    frag_amount_centi_pct: None,
                    frag_ratio_pct: None,
                    failed_pods: None,
                };
            }
            // round(100·mean(F)/1000/gpus, 2) in hundredths = 10·ΣF_scaled / (n·gpus·total).
            let frag_den = acc.n * i128::from(gpus) * i128::from(typical_total.max(1));
            let frag = if typical_total == 0 {
                0
            } else {
                round_half_even(10 * acc.frag_scaled, frag_den)
            };
            Bin {
                arrived_pct: x,
                gpu_alloc_centi_pct: Some(round_half_even(acc.alloc_centi, acc.n) as i64),
                frag_amount_centi_pct: Some(frag as i64),
                frag_ratio_pct: Some(acc.ratio / acc.n as f64),
                failed_pods: Some(acc.last_failed),
            }
        })
        .collect()
}

/// `100 · F_cluster / I_cluster` of a sample (0 when nothing is idle).
fn frag_ratio_pct(s: &Sample, typical_total: u64) -> f64 {
    if s.idle_milli == 0 || typical_total == 0 {
        0.0
    } else {
        100.0 * (s.frag_scaled as f64 / typical_total as f64) / s.idle_milli as f64
    }
}

/// Where the inputs of a replay came from, for `run.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// Node list file as named on the command line.
    pub nodes_file: String,
    /// SHA-256 of its bytes.
    pub nodes_sha256: String,
    /// Pod list file as named on the command line.
    pub pods_file: String,
    /// SHA-256 of its bytes.
    pub pods_sha256: String,
}

impl Provenance {
    /// Names and hashes the two input files.
    pub fn of_files(nodes: &Path, pods: &Path) -> std::io::Result<Provenance> {
        let hash = |p: &Path| -> std::io::Result<String> {
            let bytes = std::fs::read(p)?;
            Ok(Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect())
        };
        Ok(Provenance {
            nodes_file: nodes.display().to_string(),
            nodes_sha256: hash(nodes)?,
            pods_file: pods.display().to_string(),
            pods_sha256: hash(pods)?,
        })
    }
}

/// The bytes of `replay.csv`: [`CSV_HEADER`], then one row per arrived percent `0..=130`;
/// empty cells where no sample was near.
pub fn replay_csv(result: &ReplayResult) -> String {
    let mut out = String::with_capacity(40 * result.bins.len() + 80);
    out.push_str(CSV_HEADER);
    out.push('\n');
    for b in &result.bins {
        let centi = |v: Option<i64>| v.map(format_centi).unwrap_or_default();
        let ratio = b
            .frag_ratio_pct
            .map(|r| format!("{r:.2}"))
            .unwrap_or_default();
        let failed = b.failed_pods.map(|f| f.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            b.arrived_pct,
            centi(b.gpu_alloc_centi_pct),
            centi(b.frag_amount_centi_pct),
            ratio,
            failed
        ));
    }
    out
}

/// Hundredths as a decimal with two places (`9523` → `95.23`).
fn format_centi(centi: i64) -> String {
    let sign = if centi < 0 { "-" } else { "" };
    let abs = centi.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryJson<'a> {
    output_format: u32,
    policy: &'static str,
    policy_label: &'static str,
    seed: u64,
    nodes: usize,
    gpus: i64,
    gpu_capacity_milli: i64,
    typical_pods: TypicalJson,
    tuning: PreparedPodsSummary,
    scheduled_pods: u64,
    failed_pods: u64,
    gpu_alloc_pct_at_100: Option<f64>,
    gpu_alloc_pct_at_130: Option<f64>,
    frag_amount_pct_at_130: Option<f64>,
    frag_ratio_pct_at_130: Option<f64>,
    initial_frag_amount_milli: f64,
    initial_frag_amount_pct: f64,
    failed_pod_groups: &'a [FailedGroup],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TypicalJson {
    pod_types: usize,
    typical_types: usize,
    coverage_pct: f64,
    cpu_only_popularity: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunJson<'a> {
    kubesim_version: &'static str,
    output_format: u32,
    command: &'static str,
    policy: &'static str,
    seed: u64,
    #[serde(flatten)]
    provenance: &'a Provenance,
}

/// Rounds to `places` decimals (for JSON display only).
fn round_to(value: f64, places: i32) -> f64 {
    let scale = libm::pow(10.0, f64::from(places));
    (value * scale).round_ties_even() / scale
}

/// The bytes of `summary.json`.
pub fn summary_json(result: &ReplayResult) -> Vec<u8> {
    let attempts = result.attempts.len() as u64;
    let capacity = result.gpus * GPU_MILLI;
    let summary = SummaryJson {
        output_format: REPLAY_OUTPUT_FORMAT,
        policy: result.policy.name(),
        policy_label: result.policy.label(),
        seed: result.seed,
        nodes: result.nodes,
        gpus: result.gpus,
        gpu_capacity_milli: capacity,
        typical_pods: TypicalJson {
            pod_types: result.typical.distinct_types(),
            typical_types: result.typical.types().len(),
            coverage_pct: round_to(100.0 * result.typical.coverage(), 2),
            cpu_only_popularity: round_to(result.typical.cpu_only_popularity(), 4),
        },
        tuning: result.prepared,
        scheduled_pods: attempts - result.failed(),
        failed_pods: result.failed(),
        gpu_alloc_pct_at_100: result.alloc_pct_at(100),
        gpu_alloc_pct_at_130: result.alloc_pct_at(MAX_ARRIVED_PCT),
        frag_amount_pct_at_130: result.frag_amount_pct_at(MAX_ARRIVED_PCT),
        frag_ratio_pct_at_130: result
            .bin(MAX_ARRIVED_PCT)
            .and_then(|b| b.frag_ratio_pct)
            .map(|r| round_to(r, 2)),
        initial_frag_amount_milli: round_to(result.initial_frag.amount_milli(), 1),
        initial_frag_amount_pct: if capacity > 0 {
            round_to(
                100.0 * result.initial_frag.amount_milli() / capacity as f64,
                2,
            )
        } else {
            0.0
        },
        failed_pod_groups: &result.failed_groups,
    };
    to_pretty_json(&summary)
}

fn to_pretty_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of strings and finite numbers always serialize.
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The chart of allocation and fragmentation against arrived workload, as SVG.
pub fn replay_chart(result: &ReplayResult) -> Result<String, ReportError> {
    let series = |name: &str, value: &dyn Fn(&Bin) -> Option<f64>| Series {
        name: name.to_owned(),
        points: result
            .bins
            .iter()
            .map(|b| (b.arrived_pct as f64, value(b).unwrap_or(f64::NAN)))
            .collect(),
    };
    let chart = LineChart {
        title: format!(
            "openb replay: {}, seed {}",
            result.policy.label(),
            result.seed
        ),
        x_label: "arrived workload (% of GPU capacity)".to_owned(),
        y_label: "%".to_owned(),
        series: vec![
            series("GPU allocation", &|b| {
                b.gpu_alloc_centi_pct.map(centi_to_f64)
            }),
            series("fragmentation (% of capacity)", &|b| {
                b.frag_amount_centi_pct.map(centi_to_f64)
            }),
            series("fragmentation (% of idle)", &|b| b.frag_ratio_pct),
        ],
        y_min_zero: true,
        spans: Vec::new(),
        marks: Vec::new(),
    };
    let svg = chart.to_svg().map_err(|e| ReportError::Chart {
        name: "replay.svg".to_owned(),
        message: e.to_string(),
    })?;
    Ok(percent_x_labels(&svg))
}

/// `LineChart` labels its x axis as virtual time (`1m30s`); the replay's x axis is a percent.
/// Relabels the tick texts: a label `d` of a whole number of seconds `k ≤ 200` becomes `k%`.
/// (Tick labels are the only texts of this exact form; y labels carry no unit.)
fn percent_x_labels(svg: &str) -> String {
    let mut out = svg.to_owned();
    for k in (0..=2 * MAX_ARRIVED_PCT).rev() {
        let (m, s) = (k / 60, k % 60);
        let duration = match (m, s) {
            (0, s) => format!("{s}s"),
            (m, 0) => format!("{m}m"),
            (m, s) => format!("{m}m{s}s"),
        };
        let from = format!(">\n{duration}\n</text>");
        if out.contains(&from) {
            out = out.replace(&from, &format!(">\n{k}%\n</text>"));
        }
    }
    out
}

/// Writes `replay.csv`, `summary.json`, `charts/replay.svg` and `run.json` into `out`,
/// atomically (staged beside it, swapped in at the end). Returns the folder written.
pub fn write_report(
    result: &ReplayResult,
    provenance: &Provenance,
    out: &Path,
) -> Result<PathBuf, ReportError> {
    let staged = StagedDir::new(out)?;
    staged.write("replay.csv", replay_csv(result).as_bytes())?;
    staged.write("summary.json", &summary_json(result))?;
    staged.write("charts/replay.svg", replay_chart(result)?.as_bytes())?;
    let run = RunJson {
        kubesim_version: env!("CARGO_PKG_VERSION"),
        output_format: REPLAY_OUTPUT_FORMAT,
        command: "replay openb",
        policy: result.policy.name(),
        seed: result.seed,
        provenance,
    };
    // run.json last: its presence marks a complete report.
    staged.write(MARKER_FILE, &to_pretty_json(&run))?;
    staged.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cpu: i64, num_gpu: u32, milli: i64) -> PodRow {
        PodRow {
            name: name.to_owned(),
            cpu_milli: cpu,
            memory_mib: 1024,
            num_gpu,
            gpu_milli: milli,
            gpu_spec: String::new(),
            qos: String::new(),
            pod_phase: String::new(),
            creation_time: None,
            deletion_time: None,
            scheduled_time: None,
        }
    }

    fn node(name: &str, gpus: u32) -> NodeSpec {
        NodeSpec {
            name: name.to_owned(),
            cpu_milli: 96000,
            memory_mib: 1 << 20,
            gpus,
            model: "G2".to_owned(),
            max_pods: 1001,
        }
    }

    #[test]
    fn round_half_even_matches_python() {
        // Python: round(0.5) = 0, round(1.5) = 2, round(2.5) = 2, round(2.6) = 3.
        assert_eq!(round_half_even(1, 2), 0);
        assert_eq!(round_half_even(3, 2), 2);
        assert_eq!(round_half_even(5, 2), 2);
        assert_eq!(round_half_even(26, 10), 3);
        assert_eq!(round_half_even(24, 10), 2);
        assert_eq!(round_half_even(0, 7), 0);
        // 6212 GPUs: 31060 milli is exactly 0.5 % → 0; 93180 is 1.5 % → 2; 93181 → 2.
        assert_eq!(arrived_pct(31_060, 6212), 0);
        assert_eq!(arrived_pct(31_061, 6212), 1);
        assert_eq!(arrived_pct(93_180, 6212), 2);
        assert_eq!(arrived_pct(155_300, 6212), 2);
        assert_eq!(format_centi(9523), "95.23");
        assert_eq!(format_centi(7), "0.07");
    }

    #[test]
    fn binning_uses_the_bin_or_its_neighbours() {
        // 10 GPUs: 1 % arrived = 100 milli. Samples at 0 %, 2 %, 2 % and 5 %.
        let sample = |arrived, used, failed| Sample {
            arrived_milli: arrived,
            used_milli: used,
            frag_scaled: 0,
            idle_milli: 10_000 - used,
            failed,
        };
        let samples = [
            sample(0, 0, 0),
            sample(200, 150, 0),
            sample(150, 201, 1), // 1.5 % rounds to 2 (even)
            sample(500, 400, 1),
        ];
        let bins = bin_samples(&samples, 10, 1);
        // Bin 2: two samples, allocs 1.50 % and 2.01 % → mean 1.755 → 176 hundredths (half-even
        // of 351/2 = 175.5 → 176).
        assert_eq!(bins[2].gpu_alloc_centi_pct, Some(176));
        assert_eq!(bins[2].failed_pods, Some(1));
        // Bin 1: empty; neighbours 0 and 2: (0 + 150 + 201)/3 = 117 hundredths.
        assert_eq!(bins[1].gpu_alloc_centi_pct, Some(117));
        // Bin 3: neighbours 2 and 4: only 2's samples.
        assert_eq!(bins[3].gpu_alloc_centi_pct, Some(176));
        // Bin 4: neighbours 3 (none) and 5.
        assert_eq!(bins[4].gpu_alloc_centi_pct, Some(400));
        // Bin 7: nothing within one percent.
        assert_eq!(bins[7].gpu_alloc_centi_pct, None);
        assert_eq!(bins.len(), 131);
    }

    #[test]
    fn tuning_stops_on_the_per_gpu_milli_of_the_drawn_clone() {
        // Capacity 10 GPUs = 10 000 milli; T = 13 000. Originals total 2·1000 + 8000 = 10 000.
        let pods = vec![
            row("a", 1000, 1, 1000),
            row("b", 1000, 8, 1000),
            row("c", 1000, 0, 0),
            row("d", 1000, 1, 1000),
        ];
        for seed in 0..20 {
            let p = prepare_pods(&pods, 10_000, seed);
            assert_eq!(p.originals, 4);
            assert_eq!(p.pods.len(), 4 + p.clones);
            // The originals come first (shuffled), the clones after, each `<name>-tuned-<i>`.
            let mut first: Vec<&str> = p.pods[..4].iter().map(|r| r.name.as_str()).collect();
            first.sort_unstable();
            assert_eq!(first, ["a", "b", "c", "d"]);
            for (i, clone) in p.pods[4..].iter().enumerate() {
                assert!(
                    clone.name.ends_with(&format!("-tuned-{i}")),
                    "{}",
                    clone.name
                );
            }
            // Stop rule: every accepted clone kept G ≤ T at its per-GPU milli, so before the last
            // accepted GPU clone G + 1000 ≤ 13 000; an 8-GPU clone may overshoot by up to 7000.
            let g: i64 = p
                .pods
                .iter()
                .map(|r| i64::from(r.num_gpu) * r.gpu_milli)
                .sum();
            assert_eq!(g, p.gpu_milli);
            assert!(g <= 13_000 + 7_000, "seed {seed}: {g}");
            // The loop only stops on a GPU clone whose 1000 would exceed T: G > 12 000.
            assert!(g > 12_000, "seed {seed}: {g}");
        }
        // Some seed overshoots T through an 8-GPU clone accepted at G ≤ 12 000.
        assert!((0..50).any(|seed| prepare_pods(&pods, 10_000, seed).gpu_milli > 13_000));
    }

    #[test]
    fn tuning_down_removes_random_pods_until_at_most_the_target() {
        // Capacity 1000 milli → T = 1300; originals request 5 × 1000 = 5000.
        let pods: Vec<PodRow> = (0..5).map(|i| row(&format!("p{i}"), 1, 1, 1000)).collect();
        let p = prepare_pods(&pods, 1000, 9);
        assert_eq!(
            (p.removed, p.clones, p.pods.len(), p.gpu_milli),
            (4, 0, 1, 1000)
        );
        // Exactly at the target (13 × 1000 = 1.3 × 10 000): no tuning at all.
        let exact: Vec<PodRow> = (0..13)
            .map(|i| row(&format!("e{i:02}"), 1, 1, 1000))
            .collect();
        let p = prepare_pods(&exact, 10_000, 9);
        assert_eq!((p.clones, p.removed, p.pods.len()), (0, 0, 13));
        // A trace without GPU pods is left alone (nothing could stop the loop).
        let cpu: Vec<PodRow> = (0..3).map(|i| row(&format!("c{i}"), 1, 0, 0)).collect();
        assert_eq!(prepare_pods(&cpu, 1000, 1).pods.len(), 3);
    }

    #[test]
    fn shuffle_and_ranks_are_seeded_permutations() {
        let pods: Vec<PodRow> = (0..30).map(|i| row(&format!("p{i:02}"), 1, 0, 0)).collect();
        let a = prepare_pods(&pods, 0, 1);
        let b = prepare_pods(&pods, 0, 1);
        let c = prepare_pods(&pods, 0, 2);
        assert_eq!(a, b);
        assert_ne!(a.pods, c.pods);
        // Input order does not matter: the list is name-sorted before the shuffle.
        let mut reversed = pods.clone();
        reversed.reverse();
        assert_eq!(prepare_pods(&reversed, 0, 1), a);
        let nodes: Vec<NodeSpec> = (0..10).map(|i| node(&format!("n{i}"), 1)).collect();
        let mut ranks = node_ranks(&nodes, 3);
        assert_eq!(ranks, node_ranks(&nodes, 3));
        assert_ne!(ranks, node_ranks(&nodes, 4));
        ranks.sort_unstable();
        assert_eq!(ranks, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn every_pod_is_attempted_once_and_metrics_add_up() {
        let nodes = vec![node("n0", 2), node("n1", 1)];
        // 3 GPUs. Originals: 4 × 500 + 1 × 2000 = 4000 > T = 3900 → tune down.
        let pods = vec![
            row("s0", 1000, 1, 500),
            row("s1", 1000, 1, 500),
            row("s2", 1000, 1, 500),
            row("s3", 1000, 1, 500),
            row("w", 1000, 2, 1000),
        ];
        for policy in Policy::ALL {
            let r = replay(&nodes, &pods, policy, 7);
            assert_eq!(r.attempts.len(), r.prepared.pods);
            assert_eq!(r.samples.len(), r.prepared.pods);
            let last = r.samples.last().copied();
            assert_eq!(last.map(|s| s.arrived_milli), Some(r.prepared.gpu_milli));
            let placed: i64 = r
                .attempts
                .iter()
                .zip(r.prepared_requests_for_test(&pods, 7))
                .map(|(a, req)| req.gpu_milli * a.gpus.len() as i64)
                .sum();
            assert_eq!(last.map(|s| s.used_milli), Some(placed), "{policy}");
            assert_eq!(r.bins.len(), 131);
        }
    }

    impl ReplayResult {
        /// The requests of the pods this result attempted (recomputed from the inputs).
        fn prepared_requests_for_test(&self, pods: &[PodRow], seed: u64) -> Vec<PodGpuRequest> {
            prepare_pods(pods, self.gpus * GPU_MILLI, seed)
                .pods
                .iter()
                .map(PodGpuRequest::from_row)
                .collect()
        }
    }

    #[test]
    fn chart_labels_read_as_percent() {
        let svg = percent_x_labels("<text>\n1m30s\n</text><text>\n30s\n</text><text>\n2m\n</text>");
        assert_eq!(
            svg,
            "<text>\n90%\n</text><text>\n30%\n</text><text>\n120%\n</text>"
        );
    }
}
