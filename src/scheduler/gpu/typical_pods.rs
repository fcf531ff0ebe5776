//! The target workload ("typical pods", fgd-spec §2.7): the most popular pod types of the
//! original trace and their popularity, against which FGD and the fragmentation metric measure
//! fragmentation.
//!
//! Popularities are kept as integer counts over the prefix total, so `p_t = count_t / total` is
//! exact and fragmentation sums can be integers ([`super::fragmentation`]).

use std::collections::BTreeMap;

use super::pod_gpu::PodGpuRequest;

/// A pod type: `(cpu, milli per GPU, num_gpu, gpu_spec)`. The derived order is the lexicographic
/// order of these fields in this order, which the tie rule uses (descending).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PodTypeKey {
    /// CPU in millicores (as scores count it).
    pub cpu_milli: i64,
    /// Milli per GPU (0 for CPU-only pods).
    pub gpu_milli: i64,
    /// Number of GPUs.
    pub num_gpu: u32,
    /// Allowed models as written (`|`-separated; empty: any).
    pub gpu_spec: String,
}

/// One typical pod type with its count in the original trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypicalPod {
    /// The type.
    pub key: PodTypeKey,
    /// Pods of this type in the original trace.
    pub count: u64,
    /// `gpu_spec` split on `|` (empty: any model).
    pub models: Vec<String>,
}

impl TypicalPod {
    /// A typical type with its count.
    pub fn new(key: PodTypeKey, count: u64) -> Self {
        let models = if key.gpu_spec.is_empty() {
            Vec::new()
        } else {
            key.gpu_spec.split('|').map(str::to_owned).collect()
        };
        TypicalPod { key, count, models }
    }

    /// Whether a GPU of `model` may serve this type.
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }

    /// Whether the type asks for no GPU (`milli = 0`).
    pub fn is_cpu_only(&self) -> bool {
        self.key.gpu_milli == 0
    }
}

/// Share of all pods the typical prefix must cover, in percent (`podPopularityThreshold`).
pub const POPULARITY_THRESHOLD_PCT: u64 = 95;

/// The typical pod types with popularities `p_t = count_t / total()` (the default has none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypicalPods {
    types: Vec<TypicalPod>,
    total: u64,
    distinct_types: usize,
    pods: u64,
}

impl TypicalPods {
    /// The typical pods of a trace (pass the ORIGINAL pods, before shuffling or tuning):
    ///
    /// 1. count pods per [`PodTypeKey`] (weight 1 each, CPU-only pods included);
    /// 2. sort types by count descending, ties by key descending (cpu, milli, num_gpu, spec);
    /// 3. keep the shortest prefix whose cumulative count is ≥ 95 % of all pods, one type at a
    ///    time (integer test `100·cumulative ≥ 95·pods`);
    /// 4. popularity = count over the prefix's total (renormalised to sum 1).
    pub fn from_pods<'a>(pods: impl IntoIterator<Item = &'a PodGpuRequest>) -> Self {
        let mut counts: BTreeMap<PodTypeKey, u64> = BTreeMap::new();
        for pod in pods {
            *counts.entry(pod.type_key()).or_insert(0) += 1;
        }
        TypicalPods::from_type_counts(&counts)
    }

    /// Steps 2–4 of [`TypicalPods::from_pods`] on pods already counted by type (types with a
    /// count of 0 are left out).
    pub fn from_type_counts(counts: &BTreeMap<PodTypeKey, u64>) -> Self {
        let distinct_types = counts.values().filter(|&&c| c > 0).count();
        let pods: u64 = counts.values().sum();
        let mut sorted: Vec<(PodTypeKey, u64)> = counts
            .iter()
            .filter(|&(_, &c)| c > 0)
            .map(|(k, &c)| (k.clone(), c))
            .collect();
        // BTreeMap order is ascending by key; sort by (count desc, key desc).
        sorted.sort_by(|(ka, ca), (kb, cb)| cb.cmp(ca).then_with(|| kb.cmp(ka)));
        let mut types = Vec::new();
        let mut cumulative = 0u64;
        for (key, count) in sorted {
            if cumulative * 100 >= POPULARITY_THRESHOLD_PCT * pods {
                break;
            }
            cumulative += count;
            types.push(TypicalPod::new(key, count));
        }
        TypicalPods {
            types,
            total: cumulative,
            distinct_types,
            pods,
        }
    }

    /// A given list of typical types with their counts, used as is (no threshold): for worked
    /// examples and tests. Popularity is `count / Σ counts`.
    pub fn from_counts(types: Vec<(PodTypeKey, u64)>) -> Self {
        let total = types.iter().map(|(_, c)| c).sum();
        let distinct_types = types.len();
        TypicalPods {
            types: types
                .into_iter()
                .map(|(k, c)| TypicalPod::new(k, c))
                .collect(),
            total,
            distinct_types,
            pods: total,
        }
    }

    /// The typical types, most popular first.
    pub fn types(&self) -> &[TypicalPod] {
        &self.types
    }

    /// Σ counts of the typical types: the denominator of every popularity.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Distinct pod types in the trace.
    pub fn distinct_types(&self) -> usize {
        self.distinct_types
    }

    /// Pods in the trace.
    pub fn pods(&self) -> u64 {
        self.pods
    }

    /// Popularity of the `index`-th typical type (0 when out of range or without pods).
    pub fn popularity(&self, index: usize) -> f64 {
        match self.types.get(index) {
            Some(t) if self.total > 0 => t.count as f64 / self.total as f64,
            _ => 0.0,
        }
    }

    /// Share of the trace's pods the typical types cover (0..=1).
    pub fn coverage(&self) -> f64 {
        if self.pods == 0 {
            0.0
        } else {
            self.total as f64 / self.pods as f64
        }
    }

    /// Σ popularity of the CPU-only typical types.
    pub fn cpu_only_popularity(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let cpu: u64 = self
            .types
            .iter()
            .filter(|t| t.is_cpu_only())
            .map(|t| t.count)
            .sum();
        cpu as f64 / self.total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(spec: &[(i64, i64, u32, &str, usize)]) -> Vec<PodGpuRequest> {
        spec.iter()
            .flat_map(|&(cpu, milli, n, model, copies)| {
                std::iter::repeat_n(PodGpuRequest::new(cpu, 1, n, milli, model), copies)
            })
            .collect()
    }

    #[test]
    fn prefix_reaches_95_percent_with_descending_key_ties() {
        // 40 pods in 6 types. Counts: A 12, B 10, C 10, D 4, E 2, F 2.
        // B and C tie at 10: the larger key first; C has cpu 8000 > B's 4000, so C before B.
        // E and F tie at 2: same cpu 1000, milli 0 vs 500 → F (500) first.
        // Cumulative in sorted order: A 12 (30 %), C 22 (55 %), B 32 (80 %), D 36 (90 %),
        // F 38 (95 %: 100·38 ≥ 95·40, stop). Typical: A, C, B, D, F; E is left out.
        let list = pods(&[
            (2000, 1000, 1, "", 12),   // A
            (4000, 300, 1, "", 10),    // B
            (8000, 0, 0, "", 10),      // C (CPU-only)
            (16000, 1000, 2, "T4", 4), // D
            (1000, 0, 0, "", 2),       // E
            (1000, 500, 1, "", 2),     // F
        ]);
        let typical = TypicalPods::from_pods(&list);
        let cpus: Vec<(i64, i64)> = typical
            .types()
            .iter()
            .map(|t| (t.key.cpu_milli, t.key.gpu_milli))
            .collect();
        assert_eq!(
            cpus,
            vec![
                (2000, 1000),
                (8000, 0),
                (4000, 300),
                (16000, 1000),
                (1000, 500)
            ]
        );
        assert_eq!(
            (typical.total(), typical.pods(), typical.distinct_types()),
            (38, 40, 6)
        );
        assert!((typical.coverage() - 0.95).abs() < 1e-12);
        assert!((typical.popularity(0) - 12.0 / 38.0).abs() < 1e-12);
        assert!((typical.cpu_only_popularity() - 10.0 / 38.0).abs() < 1e-12);
        assert!(typical.types()[3].allows("T4") && !typical.types()[3].allows("G2"));
    }

    #[test]
    fn cpu_only_rows_ignore_gpu_fields_in_the_key_and_spec_separates_types() {
        // A CPU-only row with milli and a model written still keys as (cpu, 0, 0, "").
        let list = pods(&[
            (1000, 700, 0, "T4", 1),
            (1000, 0, 0, "", 1),
            (1000, 500, 1, "T4", 1),
            (1000, 500, 1, "", 1),
        ]);
        let typical = TypicalPods::from_pods(&list);
        assert_eq!(typical.distinct_types(), 3);
        assert_eq!(typical.types()[0].count, 2);
        assert_eq!(typical.types()[0].key.gpu_spec, "");
        // Tie at 1 between (1000,500,1,"T4") and (1000,500,1,""): "T4" > "" so it comes first.
        assert_eq!(typical.types()[1].key.gpu_spec, "T4");
    }

    #[test]
    fn empty_trace_has_no_typical_pods() {
        let typical = TypicalPods::from_pods(&[]);
        assert!(typical.types().is_empty());
        assert_eq!((typical.coverage(), typical.popularity(0)), (0.0, 0.0));
    }
}
