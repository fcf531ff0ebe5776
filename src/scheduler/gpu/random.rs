//! Random (fgd-spec §2.2, `random_score.go`): PreScore draws one feasible node uniformly
//! (`Intn(#feasible)`); it scores 100 and every other node 0. Sharing pods get a uniformly random
//! fitting GPU (reservoir sampling in index order).

use rand::RngExt;

use super::pod_gpu::PodGpuRequest;
use super::select::{random_gpu, select_gpus_with};
use super::{GpuPolicy, MAX_NODE_SCORE, MIN_NODE_SCORE, NodeGpus, ScoreContext, TypicalPods};
use crate::config::gpu_sharing::Policy;
use crate::sim::rng::SimRng;

/// The Random policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomScore;

impl GpuPolicy for RandomScore {
    fn policy(&self) -> Policy {
        Policy::Random
    }

    fn pre_score(&self, feasible: usize, rng: &mut SimRng) -> Option<usize> {
        // Drawn as u64 so the draw is the same on 32- and 64-bit machines.
        (feasible > 0).then(|| rng.random_range(0..feasible as u64) as usize)
    }

    fn score(&self, _node: &NodeGpus, _pod: &PodGpuRequest, ctx: &ScoreContext<'_>) -> i64 {
        if ctx.pre_score == Some(ctx.feasible_index) {
            MAX_NODE_SCORE
        } else {
            MIN_NODE_SCORE
        }
    }

    fn deterministic(&self) -> bool {
        false
    }

    fn select_gpus(
        &self,
        node: &NodeGpus,
        pod: &PodGpuRequest,
        _typical: &TypicalPods,
        rng: &mut SimRng,
    ) -> Vec<usize> {
        select_gpus_with(node, pod, |n, p| random_gpu(n, p.gpu_milli, rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    #[test]
    fn only_the_drawn_node_scores() {
        let typical = TypicalPods::from_counts(vec![]);
        let node = NodeGpus::with_gpus("T4", 1000, 1000, vec![1000]);
        let pod = PodGpuRequest::new(1, 1, 1, 500, "");
        let mut rng = stream(1, "test/random");
        let pick = RandomScore.pre_score(3, &mut rng);
        assert!(pick.is_some_and(|p| p < 3));
        let scores: Vec<i64> = (0..3)
            .map(|i| {
                let ctx = ScoreContext {
                    typical: &typical,
                    feasible_index: i,
                    pre_score: pick,
                };
                RandomScore.score(&node, &pod, &ctx)
            })
            .collect();
        assert_eq!(scores.iter().sum::<i64>(), 100);
        assert_eq!(pick.map(|p| scores[p]), Some(100));
        assert_eq!(RandomScore.pre_score(0, &mut rng), None);
    }

    #[test]
    fn gpu_choice_is_random_among_fitting_gpus_and_exclusive_is_lowest_free() {
        let typical = TypicalPods::from_counts(vec![]);
        // Sharing pod of 300 milli fits GPUs 0, 1 and 3 (GPU 2 has 200 left).
        let node = NodeGpus::with_gpus("T4", 1000, 1000, vec![500, 1000, 200, 300]);
        let pod = PodGpuRequest::new(1, 1, 1, 300, "");
        let mut rng = stream(3, "test/random");
        let mut seen = [false; 4];
        for _ in 0..200 {
            for g in RandomScore.select_gpus(&node, &pod, &typical, &mut rng) {
                seen[g] = true;
            }
        }
        assert_eq!(seen, [true, true, false, true]);
        let whole = PodGpuRequest::new(1, 1, 1, 1000, "");
        assert_eq!(
            RandomScore.select_gpus(&node, &whole, &typical, &mut rng),
            vec![1]
        );
    }
}
