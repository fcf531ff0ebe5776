//! FGD, fragmentation gradient descent (fgd-spec §2.7, `fgd_score.go`): place the pod where the
//! node's expected fragmentation w.r.t. the target workload ([`super::fragmentation`]) grows
//! least. `score = trunc(100 · sigmoid((F_old − F_new)/1000))`, 50 when nothing changes; no
//! normalisation.
//!
//! * Sharing pods: each GPU `i` with `gpuLeft_i ≥ milli` is tried (`cpuLeft − cpu`, GPU `i`
//!   reduced by `milli`); the node's score is the best, and the best GPU (lowest index among
//!   equal integer scores) is also the GPU the pod gets.
//! * Other pods: `cpuLeft − cpu` and the GPUs taken in ascending `gpuLeft` order (stable) among
//!   those with `gpuLeft ≥ milli`; the GPUs actually assigned are the first free indices (§1.4).

use super::fragmentation::{frag_scaled, node_frag_scaled};
use super::pod_gpu::PodGpuRequest;
use super::select::{ascending_gpus, select_gpus_with};
use super::{GpuPolicy, MIN_NODE_SCORE, NodeGpus, ScoreContext, TypicalPods};
use crate::config::gpu_sharing::Policy;
use crate::sim::rng::SimRng;

/// The FGD policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct FgdScore;

/// `trunc(100 · sigmoid((old − new)/1000))` for fragments given scaled by `total` (see
/// [`super::fragmentation`]): `(old − new)/1000 = (old_s − new_s) / (1000 · total)`.
pub fn score_of_change(old_scaled: i64, new_scaled: i64, total: u64) -> i64 {
    let x = if total == 0 {
        0.0
    } else {
        (old_scaled - new_scaled) as f64 / (1000.0 * total as f64)
    };
    let sigmoid = 1.0 / (1.0 + libm::exp(-x));
    // sigmoid is in [0, 1], so the cast truncates a value in [0, 100].
    (100.0 * sigmoid) as i64
}

/// The node's FGD score for `pod` and, for a sharing pod, the GPU that achieves it.
pub fn evaluate(
    node: &NodeGpus,
    pod: &PodGpuRequest,
    typical: &TypicalPods,
) -> (i64, Option<usize>) {
    let total = typical.total();
    let old = node_frag_scaled(node, typical);
    let cpu_after = node.cpu_left - pod.score_cpu_milli;
    let mut gpus = node.gpu_left.clone();
    if pod.is_sharing() {
        let milli = pod.gpu_milli;
        let mut best: Option<(i64, usize)> = None;
        for i in 0..gpus.len() {
            let left = node.gpu_left[i];
            // GPUs with equal gpuLeft give the same state; the first of them is the one kept.
            if left < milli || node.gpu_left[..i].contains(&left) {
                continue;
            }
            gpus[i] = left - milli;
            let new = frag_scaled(&node.model, cpu_after, &gpus, typical);
            gpus[i] = left;
            let score = score_of_change(old, new, total);
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, i));
            }
        }
        return match best {
            Some((score, gpu)) => (score, Some(gpu)),
            None => (MIN_NODE_SCORE, None),
        };
    }
    if pod.is_gpu() {
        for g in ascending_gpus(node, pod.num_gpu as usize, pod.gpu_milli) {
            gpus[g] -= pod.gpu_milli;
        }
    }
    let new = frag_scaled(&node.model, cpu_after, &gpus, typical);
    (score_of_change(old, new, total), None)
}

impl GpuPolicy for FgdScore {
    fn policy(&self) -> Policy {
        Policy::Fgd
    }

    fn score(&self, node: &NodeGpus, pod: &PodGpuRequest, ctx: &ScoreContext<'_>) -> i64 {
        evaluate(node, pod, ctx.typical).0
    }

    fn select_gpus(
        &self,
        node: &NodeGpus,
        pod: &PodGpuRequest,
        typical: &TypicalPods,
        _rng: &mut SimRng,
    ) -> Vec<usize> {
        select_gpus_with(node, pod, |n, p| evaluate(n, p, typical).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::gpu::test_util::spec_example_typical as typical;

    #[test]
    fn worked_example_of_the_spec_scores_57_on_gpu_3() {
        // Sharing pod (4000 m, 500 milli) on T4 / 32000 / [200, 1000, 1000, 500], old F = 1100.
        // GPU 0 (200) cannot take 500. GPU 1 or 2 → [200, 500, 1000, 500]: A 0.4·200 = 80,
        // B 0.3·(200+500+500) = 360, C 0.1·2200 = 220, D 0.2·2200 = 440 → 1100, Δ 0 → 50.
        // GPU 3 → [200, 1000, 1000, 0]: A 80, B 0.3·200 = 60, C 220, D 440 → 800, Δ 300 →
        // trunc(100·σ(0.3)) = trunc(57.44) = 57. Node score 57, GPU 3.
        let node = NodeGpus::with_gpus("T4", 32000, 0, vec![200, 1000, 1000, 500]);
        let pod = PodGpuRequest::new(4000, 1, 1, 500, "");
        assert_eq!(evaluate(&node, &pod, &typical()), (57, Some(3)));
        let mut rng = crate::sim::rng::stream(1, "unused");
        assert_eq!(
            FgdScore.select_gpus(&node, &pod, &typical(), &mut rng),
            vec![3]
        );
    }

    #[test]
    fn score_of_change_is_a_truncated_sigmoid() {
        assert_eq!(score_of_change(1100, 1100, 1), 50);
        assert_eq!(score_of_change(11000, 8000, 10), 57);
        // Δ = −300: σ(−0.3) = 0.4256 → 42. Δ = +5000: σ(5) = 0.9933 → 99. Δ = −5000 → 0.
        assert_eq!(score_of_change(800, 1100, 1), 42);
        assert_eq!(score_of_change(5000, 0, 1), 99);
        assert_eq!(score_of_change(0, 5000, 1), 0);
        assert_eq!(score_of_change(7, 3, 0), 50);
    }

    #[test]
    fn ties_go_to_the_lowest_gpu_index() {
        // Empty typical list: F is always 0, every GPU scores 50; the lowest fitting index wins.
        let empty = TypicalPods::from_counts(vec![]);
        let node = NodeGpus::with_gpus("T4", 32000, 0, vec![100, 700, 1000, 700]);
        let pod = PodGpuRequest::new(1000, 1, 1, 600, "");
        assert_eq!(evaluate(&node, &pod, &empty), (50, Some(1)));
    }

    #[test]
    fn whole_gpu_and_cpu_only_pods() {
        let t = typical();
        // Whole-GPU pod (8000 m, 1000) on T4 / 32000 / [200, 1000, 1000, 500] (F 1100): takes a
        // free GPU → [200, 0, 1000, 500], cpu 24000: I = 1700; A: small 200 → 80; B: small
        // 200 + 0 + 500 → 210; C: 170; D: 340 → 800; Δ 300 → 57. GPU assigned: first free, 1.
        let node = NodeGpus::with_gpus("T4", 32000, 0, vec![200, 1000, 1000, 500]);
        let whole = PodGpuRequest::new(8000, 1, 1, 1000, "");
        assert_eq!(evaluate(&node, &whole, &t), (57, None));
        let mut rng = crate::sim::rng::stream(1, "unused");
        assert_eq!(FgdScore.select_gpus(&node, &whole, &t, &mut rng), vec![1]);
        // CPU-only pod (26000 m): cpu 6000 < B's 8000 → F 1700 (§6), Δ −600 → σ(−0.6) = 0.354 → 35.
        let cpu = PodGpuRequest::new(26000, 1, 0, 0, "");
        assert_eq!(evaluate(&node, &cpu, &t), (35, None));
        // A small CPU-only pod changes nothing → 50.
        assert_eq!(
            evaluate(&node, &PodGpuRequest::new(1000, 1, 0, 0, ""), &t).0,
            50
        );
    }
}
