//! BestFit (fgd-spec §2.6, `best_fit_score.go`): least remaining CPU and GPU after placement.
//! `free = [cpuLeft, ΣgpuLeft]`, `req = [cpu, num_gpu·milli]`, `max = [128000, 8000]`, weights
//! `[0.5, 0.5]`: `s = Σ w_i·(free_i − req_i)/max_i`, `score = trunc(100 · (1 − s))`, then min–max
//! normalisation over the feasible nodes (`(x − lo)·100 div (hi − lo)`, all 0 when `hi = lo`).
//! Memory is ignored. GPU choice `best`.

use super::pod_gpu::PodGpuRequest;
use super::{GpuPolicy, MAX_NODE_SCORE, NodeGpus, ScoreContext};
use crate::config::gpu_sharing::Policy;

/// The BestFit policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct BestFitScore;

/// The raw BestFit score, computed exactly: with `Δc = cpuLeft − cpu` and `Δg = ΣgpuLeft −
/// num_gpu·milli`, `s = Δc/256000 + Δg/16000 = (Δc + 16·Δg)/256000`, so
/// `100·(1 − s) = (25 600 000 − 100·Δc − 1600·Δg) / 256 000`, truncated toward zero.
pub fn best_fit_score(node: &NodeGpus, pod: &PodGpuRequest) -> i64 {
    let dc = i128::from(node.cpu_left) - i128::from(pod.score_cpu_milli);
    let dg = i128::from(node.idle_milli()) - i128::from(pod.total_gpu_milli());
    let score = (25_600_000 - 100 * dc - 1600 * dg) / 256_000;
    i64::try_from(score).unwrap_or(i64::MIN)
}

/// Min–max normalisation of `plugin_utils.go: NormalizeScore`: `(x − lo)·100 div (hi − lo)`,
/// all 0 when every score is equal.
pub fn normalize_min_max(scores: &mut [i64]) {
    let (Some(&lo), Some(&hi)) = (scores.iter().min(), scores.iter().max()) else {
        return;
    };
    for s in scores.iter_mut() {
        *s = if hi == lo {
            0
        } else {
            let scaled = (i128::from(*s) - i128::from(lo)) * i128::from(MAX_NODE_SCORE)
                / (i128::from(hi) - i128::from(lo));
            i64::try_from(scaled).unwrap_or(i64::MAX)
        };
    }
}

impl GpuPolicy for BestFitScore {
    fn policy(&self) -> Policy {
        Policy::BestFit
    }

    fn score(&self, node: &NodeGpus, pod: &PodGpuRequest, _ctx: &ScoreContext<'_>) -> i64 {
        best_fit_score(node, pod)
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize(&self, scores: &mut [i64]) {
        normalize_min_max(scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_scores_and_normalisation() {
        let pod = PodGpuRequest::new(32000, 1, 1, 500, "");
        // Δc = 64000 − 32000 = 32000, Δg = 1500 − 500 = 1000:
        // s = 0.5·32000/128000 + 0.5·1000/8000 = 0.125 + 0.0625 = 0.1875 → 100·0.8125 = 81.25 → 81.
        let a = NodeGpus::with_gpus("T4", 64000, 0, vec![1000, 500]);
        assert_eq!(best_fit_score(&a, &pod), 81);
        // Exact fit: Δc = Δg = 0 → s = 0 → 100.
        let b = NodeGpus::with_gpus("T4", 32000, 0, vec![500]);
        assert_eq!(best_fit_score(&b, &pod), 100);
        // Δc = 96000, Δg = 7500: s = 0.375 + 0.46875 = 0.84375 → 15.625 → 15.
        let c = NodeGpus::with_gpus("G2", 128000, 0, vec![1000; 8]);
        assert_eq!(best_fit_score(&c, &pod), 15);
        // Normalised over the three: lo 15, hi 100 → (81−15)·100 div 85 = 6600 div 85 = 77.
        let mut scores = vec![81, 100, 15];
        normalize_min_max(&mut scores);
        assert_eq!(scores, vec![77, 100, 0]);
        let mut equal = vec![40, 40];
        normalize_min_max(&mut equal);
        assert_eq!(equal, vec![0, 0]);
    }
}
