//! Which GPUs a pod gets on its node (fgd-spec §1.4, the Reserve step): the choice rules the
//! policies share. A policy picks the rule for sharing pods (`best`, `random` or its own, FGD);
//! every other class of pod is handled the same way under every policy by [`select_gpus_with`].

use rand::RngExt;

use super::node_gpus::NodeGpus;
use super::pod_gpu::PodGpuRequest;
use crate::api::gpu::GPU_MILLI;
use crate::sim::rng::SimRng;

/// The GPUs of `pod` on `node`:
///
/// * CPU-only pods (`gpu_milli = 0`): none;
/// * exclusive pods (`gpu_milli = 1000`, any `num_gpu`): the first `num_gpu` fully free GPUs in
///   index order, under every policy;
/// * sharing pods (`num_gpu = 1`, `0 < milli < 1000`): `sharing(node, pod)`, the policy's rule;
/// * multi-GPU pods with less than 1000 milli each (none in openb; fgd-spec does not cover them):
///   [`ascending_gpus`], the first `num_gpu` GPUs in ascending `gpuLeft` order.
///
/// Fewer GPUs than asked come back only for a node that does not fit the pod.
pub fn select_gpus_with(
    node: &NodeGpus,
    pod: &PodGpuRequest,
    sharing: impl FnOnce(&NodeGpus, &PodGpuRequest) -> Option<usize>,
) -> Vec<usize> {
    if !pod.is_gpu() {
        Vec::new()
    } else if pod.is_exclusive() {
        exclusive_gpus(node, pod.num_gpu as usize)
    } else if pod.is_sharing() {
        sharing(node, pod).into_iter().collect()
    } else {
        ascending_gpus(node, pod.num_gpu as usize, pod.gpu_milli)
    }
}

/// The first `count` fully free GPUs in index order (`AllocateExclusiveGpuId`).
pub fn exclusive_gpus(node: &NodeGpus, count: usize) -> Vec<usize> {
    node.gpu_left
        .iter()
        .enumerate()
        .filter(|&(_, &left)| left >= GPU_MILLI)
        .map(|(i, _)| i)
        .take(count)
        .collect()
}

/// `best`: the GPU with the smallest `gpuLeft ≥ milli`; ties go to the lowest index.
pub fn best_gpu(node: &NodeGpus, milli: i64) -> Option<usize> {
    let mut best: Option<(i64, usize)> = None;
    for (i, &left) in node.gpu_left.iter().enumerate() {
        if left >= milli && best.is_none_or(|(b, _)| left < b) {
            best = Some((left, i));
        }
    }
    best.map(|(_, i)| i)
}

/// `random`: uniform among GPUs with `gpuLeft ≥ milli`, by reservoir sampling in index order as
/// the artifact does it: the k-th candidate (1-based) replaces the choice when a draw from
/// `0..k` is 0, so there is one draw per candidate.
pub fn random_gpu(node: &NodeGpus, milli: i64, rng: &mut SimRng) -> Option<usize> {
    let mut chosen = None;
    let mut seen = 0u32;
    for (i, &left) in node.gpu_left.iter().enumerate() {
        if left >= milli {
            seen += 1;
            if rng.random_range(0..seen) == 0 {
                chosen = Some(i);
            }
        }
    }
    chosen
}

/// The first `count` GPUs with `gpuLeft ≥ milli` in ascending `gpuLeft` order, ties by index
/// (the walk of GpuPacking §2.5 and of FGD's hypothetical placement §2.7).
pub fn ascending_gpus(node: &NodeGpus, count: usize, milli: i64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..node.gpu_count())
        .filter(|&i| node.gpu_left[i] >= milli)
        .collect();
    // Stable: equal gpuLeft keep index order.
    order.sort_by_key(|&i| node.gpu_left[i]);
    order.truncate(count);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    #[test]
    fn exclusive_takes_lowest_free_indices() {
        let node = NodeGpus::with_gpus("G2", 1, 1, vec![500, 1000, 0, 1000, 1000]);
        assert_eq!(exclusive_gpus(&node, 2), vec![1, 3]);
        let pod = PodGpuRequest::new(1, 1, 2, 1000, "");
        // The sharing rule is never asked for an exclusive pod.
        assert_eq!(select_gpus_with(&node, &pod, |_, _| Some(99)), vec![1, 3]);
        let cpu = PodGpuRequest::new(1, 1, 0, 0, "");
        assert!(select_gpus_with(&node, &cpu, |_, _| Some(99)).is_empty());
    }

    #[test]
    fn best_takes_the_tightest_gpu_lowest_index_on_ties() {
        // gpuLeft ≥ 300: indices 0 (500), 1 (1000), 3 (500), 4 (1000); smallest is 500 at 0 and 3.
        let node = NodeGpus::with_gpus("G2", 1, 1, vec![500, 1000, 200, 500, 1000]);
        assert_eq!(best_gpu(&node, 300), Some(0));
        assert_eq!(best_gpu(&node, 600), Some(1));
        assert_eq!(best_gpu(&node, 100), Some(2));
        assert_eq!(
            best_gpu(&NodeGpus::with_gpus("G2", 1, 1, vec![50]), 100),
            None
        );
        assert_eq!(ascending_gpus(&node, 3, 300), vec![0, 3, 1]);
    }

    #[test]
    fn random_is_uniform_among_fitting_gpus() {
        // Candidates for 300 milli: 0, 1, 3 (GPU 2 has 200). Each should get about a third.
        let node = NodeGpus::with_gpus("T4", 1, 1, vec![500, 1000, 200, 300]);
        let mut rng = stream(7, "test/random-gpu");
        let mut counts = [0u32; 4];
        for _ in 0..3000 {
            if let Some(i) = random_gpu(&node, 300, &mut rng) {
                counts[i] += 1;
            }
        }
        assert_eq!(counts[2], 0);
        for i in [0, 1, 3] {
            assert!((850..1150).contains(&counts[i]), "{counts:?}");
        }
        assert_eq!(random_gpu(&node, 1001, &mut rng), None);
    }
}
