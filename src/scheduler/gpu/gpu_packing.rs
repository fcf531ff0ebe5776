//! GpuPacking (fgd-spec §2.5, `gpu_packing_score.go`): prefer sharing an already used GPU (best
//! fit), then free GPUs of a partly used node, then an idle node (fewer GPUs preferred). With
//! `F` fully free GPUs of `N`:
//!
//! 1. `F = N` (no GPU allocated): `max(33 − F, F)`;
//! 2. otherwise walk the GPUs in ascending `gpuLeft` (stable by index), taking each GPU with
//!    `gpuLeft ≥ milli` until `num_gpu` are taken; with `U` of them fully free:
//!    `U > 0` → `max(50 − U, 33)`; `U = 0` → `max(100 − (Σ_taken (gpuLeft·100 div 1000)) div 10, 50)`.
//!
//! CPU-only pods score 0 everywhere. No normalisation; GPU choice `best`.

use super::pod_gpu::PodGpuRequest;
use super::select::ascending_gpus;
use super::{GpuPolicy, NodeGpus, ScoreContext};
use crate::api::gpu::GPU_MILLI;
use crate::config::gpu_sharing::Policy;

/// The GpuPacking policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuPackingScore;

/// The GpuPacking score of `node` for `pod`.
pub fn gpu_packing_score(node: &NodeGpus, pod: &PodGpuRequest) -> i64 {
    if !pod.is_gpu() {
        return 0;
    }
    let n = node.gpu_count() as i64;
    let free = node.fully_free() as i64;
    if free == n {
        return (33 - free).max(free);
    }
    let taken = ascending_gpus(node, pod.num_gpu as usize, pod.gpu_milli);
    let used_free = taken
        .iter()
        .filter(|&&g| node.gpu_left[g] >= GPU_MILLI)
        .count() as i64;
    if used_free > 0 {
        (50 - used_free).max(33)
    } else {
        let sum: i64 = taken
            .iter()
            .map(|&g| node.gpu_left[g] * 100 / GPU_MILLI)
            .sum();
        (100 - sum / 10).max(50)
    }
}

impl GpuPolicy for GpuPackingScore {
    fn policy(&self) -> Policy {
        Policy::GpuPacking
    }

    fn score(&self, node: &NodeGpus, pod: &PodGpuRequest, _ctx: &ScoreContext<'_>) -> i64 {
        gpu_packing_score(node, pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_rank_used_gpu_then_used_node_then_idle_node() {
        let share = PodGpuRequest::new(1000, 1, 1, 500, "");
        // Idle nodes: max(33 − F, F): 8 GPUs → 25, 2 GPUs → 31, 1 GPU → 32.
        for (n, expected) in [(8, 25), (2, 31), (1, 32)] {
            let idle = NodeGpus::with_gpus("G2", 1, 1, vec![1000; n]);
            assert_eq!(gpu_packing_score(&idle, &share), expected, "{n} GPUs");
        }
        // [200, 1000, 1000, 500]: ascending 200 (too small), 500 (taken, not free): U = 0,
        // Σ = 500·100 div 1000 = 50, 50 div 10 = 5 → max(100 − 5, 50) = 95.
        let used = NodeGpus::with_gpus("T4", 1, 1, vec![200, 1000, 1000, 500]);
        assert_eq!(gpu_packing_score(&used, &share), 95);
        // 600 milli: ascending 200, 500 too small; 1000 at index 1 taken, fully free: U = 1 →
        // max(50 − 1, 33) = 49.
        assert_eq!(
            gpu_packing_score(&used, &PodGpuRequest::new(1, 1, 1, 600, "")),
            49
        );
        // Two whole GPUs on a partly used node: U = 2 → 48.
        assert_eq!(
            gpu_packing_score(&used, &PodGpuRequest::new(1, 1, 2, 1000, "")),
            48
        );
        // A GPU with 999 left: Σ = 999·100 div 1000 = 99, 99 div 10 = 9 → 91.
        let nearly = NodeGpus::with_gpus("T4", 1, 1, vec![999, 0]);
        assert_eq!(gpu_packing_score(&nearly, &share), 91);
        assert_eq!(
            gpu_packing_score(&used, &PodGpuRequest::new(1, 1, 0, 0, "")),
            0
        );
    }
}
