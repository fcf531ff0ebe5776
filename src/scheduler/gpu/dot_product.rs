//! DotProd (fgd-spec §2.3, `dot_product_score.go` with `dimExtMethod = merge`, `normMethod =
//! max`): node vector `[cpuLeft/128000, ΣgpuLeft/8000]`, pod vector `[cpu/128000,
//! num_gpu·milli/8000]`, `score = trunc(100 · (1 − dot/2))`; no normalisation. The smallest dot
//! product wins: a packing heuristic. GPU choice `best`.

use super::pod_gpu::PodGpuRequest;
use super::{GpuPolicy, MAX_SPEC_CPU, MAX_SPEC_GPU, NodeGpus, ScoreContext};
use crate::config::gpu_sharing::Policy;

/// The DotProd policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct DotProductScore;

/// `trunc(100 · (1 − dot/2))`, computed exactly:
/// `dot = a/128000² + b/8000²` with `a = cpuLeft·cpu`, `b = ΣgpuLeft·gpuReq`; since
/// `128000² = 256 · 8000²`, `dot = (a + 256·b) / D` with `D = 128000²`, so
/// `100·(1 − dot/2) = (100·D − 50·(a + 256·b)) / D`, truncated toward zero.
pub fn dot_product_score(node: &NodeGpus, pod: &PodGpuRequest) -> i64 {
    let cpu = pod.score_cpu_milli;
    if node.cpu_left < cpu {
        return 0;
    }
    let a = i128::from(node.cpu_left) * i128::from(cpu);
    let b = i128::from(node.idle_milli()) * i128::from(pod.total_gpu_milli());
    let d = i128::from(MAX_SPEC_CPU) * i128::from(MAX_SPEC_CPU);
    debug_assert_eq!(d, 256 * i128::from(MAX_SPEC_GPU) * i128::from(MAX_SPEC_GPU));
    let score = (100 * d - 50 * (a + 256 * b)) / d;
    i64::try_from(score).unwrap_or(i64::MIN)
}

impl GpuPolicy for DotProductScore {
    fn policy(&self) -> Policy {
        Policy::DotProd
    }

    fn score(&self, node: &NodeGpus, pod: &PodGpuRequest, _ctx: &ScoreContext<'_>) -> i64 {
        dot_product_score(node, pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::gpu::TypicalPods;

    #[test]
    fn scores_follow_the_formula() {
        // Node 64000 m CPU, GPUs [1000, 500] (1500 idle); pod 32000 m, 1 × 500 milli.
        // dot = 64000·32000/128000² + 1500·500/8000² = 0.125 + 0.01171875 = 0.13671875;
        // 100·(1 − 0.068359375) = 93.16 → 93.
        let node = NodeGpus::with_gpus("T4", 64000, 0, vec![1000, 500]);
        assert_eq!(
            dot_product_score(&node, &PodGpuRequest::new(32000, 1, 1, 500, "")),
            93
        );
        // Full 128-core, 8-GPU node and the largest pod: dot = 1 + 1 = 2 → 100·(1 − 1) = 0.
        let big = NodeGpus::with_gpus("G3", 128000, 0, vec![1000; 8]);
        assert_eq!(
            dot_product_score(&big, &PodGpuRequest::new(128000, 1, 8, 1000, "")),
            0
        );
        // CPU-only pod: only the CPU term. 96000·12000/128000² = 0.0703125 → 100·(1 − 0.03515625)
        // = 96.48 → 96.
        let g2 = NodeGpus::with_gpus("G2", 96000, 0, vec![1000; 8]);
        assert_eq!(
            dot_product_score(&g2, &PodGpuRequest::new(12000, 1, 0, 0, "")),
            96
        );
        // Exact at an integer: 128000·64000/128000² = 0.5, no GPU → 100·(1 − 0.25) = 75 exactly.
        let n = NodeGpus::with_gpus("G3", 128000, 0, vec![]);
        assert_eq!(
            dot_product_score(&n, &PodGpuRequest::new(64000, 1, 0, 0, "")),
            75
        );
        // The plugin's guard: not enough CPU scores 0.
        assert_eq!(
            dot_product_score(&node, &PodGpuRequest::new(64001, 1, 0, 0, "")),
            0
        );
    }

    #[test]
    fn sharing_pods_take_the_tightest_gpu() {
        let node = NodeGpus::with_gpus("T4", 64000, 0, vec![1000, 600, 700]);
        let pod = PodGpuRequest::new(1, 1, 1, 500, "");
        let typical = TypicalPods::from_counts(vec![]);
        let mut rng = crate::sim::rng::stream(1, "unused");
        assert_eq!(
            DotProductScore.select_gpus(&node, &pod, &typical, &mut rng),
            vec![1]
        );
    }
}
