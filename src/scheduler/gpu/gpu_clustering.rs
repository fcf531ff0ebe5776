//! GpuClustering (fgd-spec §2.4, `gpu_clustering_score.go`): keep GPU pods of one kind together.
//! A pod's tag is `share` (one GPU, less than all of it) or `<n>-gpu`; a node's tags are those of
//! the GPU pods on it. With `base = (25 · (8000 − ΣgpuLeft)) div 8000`:
//!
//! * only the pod's tag on the node → `base + 75`;
//! * the pod's tag and others → `base + 50`;
//! * no GPU pods on the node → `base + 25`;
//! * only other tags → `base`.
//!
//! CPU-only pods score 0 everywhere (so the lowest-rank feasible node wins). No normalisation;
//! GPU choice `best`.

use super::pod_gpu::PodGpuRequest;
use super::{GpuPolicy, MAX_SPEC_GPU, NodeGpus, ScoreContext};
use crate::config::gpu_sharing::Policy;

/// The GpuClustering policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuClusteringScore;

/// The GpuClustering score of `node` for `pod`.
pub fn gpu_clustering_score(node: &NodeGpus, pod: &PodGpuRequest) -> i64 {
    let Some(tag) = pod.tag() else { return 0 };
    // Integer arithmetic in this order; Go's division truncates toward zero, as Rust's does.
    let base = (25 * (MAX_SPEC_GPU - node.idle_milli())) / MAX_SPEC_GPU;
    let has_own = node.gpu_tags.iter().any(|&(t, _)| t == tag);
    let has_other = node.gpu_tags.iter().any(|&(t, _)| t != tag);
    match (has_own, has_other) {
        (true, false) => base + 75,
        (true, true) => base + 50,
        (false, false) => base + 25,
        (false, true) => base,
    }
}

impl GpuPolicy for GpuClusteringScore {
    fn policy(&self) -> Policy {
        Policy::GpuClustering
    }

    fn score(&self, node: &NodeGpus, pod: &PodGpuRequest, _ctx: &ScoreContext<'_>) -> i64 {
        gpu_clustering_score(node, pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_decide_the_bonus() {
        let share = PodGpuRequest::new(1000, 1, 1, 300, "");
        let whole = PodGpuRequest::new(1000, 1, 1, 1000, "");
        let two = PodGpuRequest::new(1000, 1, 2, 1000, "");
        let cpu = PodGpuRequest::new(1000, 1, 0, 0, "");
        // Empty 8-GPU node: base = 25·(8000 − 8000) div 8000 = 0; no GPU pods → 0 + 25.
        let mut node = NodeGpus::with_gpus("G2", 96000, 1 << 20, vec![1000; 8]);
        assert_eq!(gpu_clustering_score(&node, &share), 25);
        assert_eq!(gpu_clustering_score(&node, &cpu), 0);
        // After a sharing pod on GPU 0: idle 7700, base = 25·300 div 8000 = 7500 div 8000 = 0.
        node.place(&share, &[0]);
        assert_eq!(gpu_clustering_score(&node, &share), 75);
        assert_eq!(gpu_clustering_score(&node, &whole), 0);
        // After a 2-GPU pod on GPUs 1, 2: idle 5700, base = 25·2300 div 8000 = 57500 div 8000 = 7.
        node.place(&two, &[1, 2]);
        assert_eq!(gpu_clustering_score(&node, &share), 7 + 50);
        assert_eq!(gpu_clustering_score(&node, &two), 7 + 50);
        assert_eq!(gpu_clustering_score(&node, &whole), 7);
        // A 2-GPU node (2000 milli): base = 25·6000 div 8000 = 18; no GPU pods yet → 18 + 25,
        // even with a CPU-only pod on it (CPU-only pods have no tag).
        let mut small = NodeGpus::with_gpus("P100", 64000, 1 << 20, vec![1000; 2]);
        small.place(&cpu, &[]);
        assert_eq!(gpu_clustering_score(&small, &whole), 43);
    }
}
