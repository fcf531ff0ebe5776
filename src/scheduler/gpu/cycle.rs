//! One scheduling cycle as the FGD artifact's scheduler framework runs it (fgd-spec §2.1):
//! filter every node (§1.3); with no feasible node the pod fails; with exactly one it goes there
//! without scoring; otherwise PreScore, Score, NormalizeScore, the `[0, 100]` range check, and
//! the highest score wins, ties to the lowest node rank. Then the policy chooses the GPUs.
//!
//! Nodes are given in rank order (index 0 = lowest rank = smallest permuted name), so "ties to
//! the lowest rank" is "the first maximum". One plugin with weight 1000 multiplies every score
//! alike, so the weight is left out.
//!
//! [`GpuScheduler`] can reuse a deterministic policy's score of a node for a pod type until the
//! node changes ([`GpuScheduler::node_changed`]); that is what makes a whole openb replay fast.

use super::filter::fits;
use super::pod_gpu::PodGpuRequest;
use super::{
    GpuPolicy, MAX_NODE_SCORE, MIN_NODE_SCORE, NodeGpus, ScoreContext, TypicalPods, scorer,
};
use crate::config::gpu_sharing::Policy;
use crate::sim::rng::SimRng;

/// Where a pod goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Bind to the node with this index, on these GPUs.
    Bind {
        /// Node index (rank order).
        node: usize,
        /// GPU indices on the node.
        gpus: Vec<usize>,
    },
    /// No node fits.
    Unschedulable,
    /// A score left `[0, 100]` after normalisation; the framework fails the pod.
    ScoreOutOfRange {
        /// The node scored.
        node: usize,
        /// Its score.
        score: i64,
    },
}

/// Marks an empty cache slot (no policy returns it).
const UNSCORED: i64 = i64::MIN;

/// A policy with its random stream, score cache and scratch buffers.
pub struct GpuScheduler {
    policy: Box<dyn GpuPolicy>,
    rng: SimRng,
    pod_types: usize,
    /// `cache[node · pod_types + type]`: the raw score, or [`UNSCORED`].
    cache: Vec<i64>,
    feasible: Vec<usize>,
    scores: Vec<i64>,
}

impl std::fmt::Debug for GpuScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuScheduler")
            .field("policy", &self.policy.policy())
            .field("pod_types", &self.pod_types)
            .finish_non_exhaustive()
    }
}

impl GpuScheduler {
    /// A scheduler for `policy`, drawing (Random only) from `rng`; no score cache.
    pub fn new(policy: Policy, rng: SimRng) -> Self {
        GpuScheduler {
            policy: scorer(policy),
            rng,
            pod_types: 0,
            cache: Vec::new(),
            feasible: Vec::new(),
            scores: Vec::new(),
        }
    }

    /// Adds a score cache for `nodes` nodes and pod types `0..pod_types` (ignored for Random,
    /// whose scores are not a function of the node).
    pub fn with_score_cache(mut self, nodes: usize, pod_types: usize) -> Self {
        if self.policy.deterministic() {
            self.pod_types = pod_types;
            self.cache = vec![UNSCORED; nodes.saturating_mul(pod_types)];
        }
        self
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy.policy()
    }

    /// Forgets cached scores of node `node`; call after its state changes.
    pub fn node_changed(&mut self, node: usize) {
        if self.pod_types > 0
            && let Some(slots) = self
                .cache
                .get_mut(node * self.pod_types..(node + 1) * self.pod_types)
        {
            slots.fill(UNSCORED);
        }
    }

    /// Schedules `pod` on `nodes` (rank order). `pod_type` indexes the score cache (`None`: do
    /// not cache). The nodes are not changed: the caller places the pod.
    pub fn schedule(
        &mut self,
        nodes: &[NodeGpus],
        pod: &PodGpuRequest,
        pod_type: Option<usize>,
        typical: &TypicalPods,
    ) -> Decision {
        self.feasible.clear();
        self.feasible
            .extend((0..nodes.len()).filter(|&i| fits(&nodes[i], pod)));
        let chosen = match self.feasible.as_slice() {
            [] => return Decision::Unschedulable,
            [only] => *only,
            _ => match self.score_feasible(nodes, pod, pod_type, typical) {
                Ok(best) => best,
                Err(out_of_range) => return out_of_range,
            },
        };
        let gpus = self
            .policy
            .select_gpus(&nodes[chosen], pod, typical, &mut self.rng);
        Decision::Bind { node: chosen, gpus }
    }

    /// Scores the (≥ 2) feasible nodes and returns the winner.
    fn score_feasible(
        &mut self,
        nodes: &[NodeGpus],
        pod: &PodGpuRequest,
        pod_type: Option<usize>,
        typical: &TypicalPods,
    ) -> Result<usize, Decision> {
        let pre_score = self.policy.pre_score(self.feasible.len(), &mut self.rng);
        let cached_type = pod_type.filter(|&t| t < self.pod_types);
        self.scores.clear();
        for (feasible_index, &node) in self.feasible.iter().enumerate() {
            let slot = cached_type.map(|t| node * self.pod_types + t);
            let cached = slot.and_then(|s| self.cache.get(s).copied());
            let score = match cached {
                Some(score) if score != UNSCORED => score,
                _ => {
                    let ctx = ScoreContext {
                        typical,
                        feasible_index,
                        pre_score,
                    };
                    let score = self.policy.score(&nodes[node], pod, &ctx);
                    if let Some(entry) = slot.and_then(|s| self.cache.get_mut(s)) {
                        *entry = score;
                    }
                    score
                }
            };
            self.scores.push(score);
        }
        self.policy.normalize(&mut self.scores);
        let mut best: Option<(i64, usize)> = None;
        for (&score, &node) in self.scores.iter().zip(&self.feasible) {
            if !(MIN_NODE_SCORE..=MAX_NODE_SCORE).contains(&score) {
                return Err(Decision::ScoreOutOfRange { node, score });
            }
            // Strictly greater: among equal scores the first (lowest-rank) node stays.
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, node));
            }
        }
        Ok(best.map_or(self.feasible[0], |(_, node)| node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    fn empty_typical() -> TypicalPods {
        TypicalPods::from_counts(vec![])
    }

    #[test]
    fn ties_go_to_the_lowest_rank_and_single_nodes_skip_scoring() {
        // Two identical idle T4 nodes: every policy ties; node 0 (lowest rank) wins.
        let nodes = vec![
            NodeGpus::with_gpus("T4", 32000, 1 << 20, vec![1000; 2]),
            NodeGpus::with_gpus("T4", 32000, 1 << 20, vec![1000; 2]),
        ];
        let pod = PodGpuRequest::new(4000, 1024, 1, 500, "");
        for policy in Policy::ALL.into_iter().filter(|p| *p != Policy::Random) {
            let mut s = GpuScheduler::new(policy, stream(1, "test"));
            let d = s.schedule(&nodes, &pod, None, &empty_typical());
            assert_eq!(
                d,
                Decision::Bind {
                    node: 0,
                    gpus: vec![0]
                },
                "{policy}"
            );
        }
        // No T4 node fits a V100M32-only pod: unschedulable.
        let v100 = PodGpuRequest::new(4000, 1024, 1, 500, "V100M32");
        let mut s = GpuScheduler::new(Policy::Fgd, stream(1, "test"));
        assert_eq!(
            s.schedule(&nodes, &v100, None, &empty_typical()),
            Decision::Unschedulable
        );
        // One feasible node: chosen without scoring, so Random draws only for the GPU.
        let mut one = nodes.clone();
        one[0].cpu_left = 0;
        let mut s = GpuScheduler::new(Policy::Random, stream(1, "test"));
        assert!(matches!(
            s.schedule(&one, &pod, None, &empty_typical()),
            Decision::Bind { node: 1, .. }
        ));
    }

    #[test]
    fn packing_prefers_the_used_node_over_rank() {
        // Node 0 idle, node 1 has a used GPU: BestFit and GpuPacking both pick node 1.
        let mut nodes = vec![
            NodeGpus::with_gpus("T4", 32000, 1 << 20, vec![1000; 2]),
            NodeGpus::with_gpus("T4", 32000, 1 << 20, vec![1000; 2]),
        ];
        nodes[1].place(&PodGpuRequest::new(1000, 1, 1, 300, ""), &[1]);
        let pod = PodGpuRequest::new(4000, 1024, 1, 500, "");
        for policy in [Policy::BestFit, Policy::GpuPacking, Policy::GpuClustering] {
            let mut s = GpuScheduler::new(policy, stream(1, "test"));
            let d = s.schedule(&nodes, &pod, None, &empty_typical());
            // The used GPU (index 1, 700 left) is the best fit for 500.
            assert_eq!(
                d,
                Decision::Bind {
                    node: 1,
                    gpus: vec![1]
                },
                "{policy}"
            );
        }
        // DotProd truncates both to 98, so the tie goes to rank 0:
        // node 0: dot = 32000·4000/128000² + 2000·500/8000² = 0.0078 + 0.0156 → 100·(1 − 0.0117) = 98.8;
        // node 1: dot = 31000·4000/128000² + 1700·500/8000² = 0.0076 + 0.0133 → 100·(1 − 0.0104) = 98.96.
        let mut s = GpuScheduler::new(Policy::DotProd, stream(1, "test"));
        let d = s.schedule(&nodes, &pod, None, &empty_typical());
        assert_eq!(
            d,
            Decision::Bind {
                node: 0,
                gpus: vec![0]
            }
        );
    }

    #[test]
    fn cache_is_reused_until_the_node_changes() {
        let mut nodes = vec![
            NodeGpus::with_gpus("T4", 32000, 1 << 20, vec![1000; 2]),
            NodeGpus::with_gpus("T4", 32000, 1 << 20, vec![1000; 2]),
        ];
        let pod = PodGpuRequest::new(4000, 1024, 1, 500, "");
        let mut s = GpuScheduler::new(Policy::BestFit, stream(1, "test")).with_score_cache(2, 1);
        let typical = empty_typical();
        assert!(matches!(
            s.schedule(&nodes, &pod, Some(0), &typical),
            Decision::Bind { node: 0, .. }
        ));
        // Change node 1 without telling the scheduler: the stale cached tie keeps node 0.
        nodes[1].place(&PodGpuRequest::new(1000, 1, 1, 300, ""), &[1]);
        assert!(matches!(
            s.schedule(&nodes, &pod, Some(0), &typical),
            Decision::Bind { node: 0, .. }
        ));
        s.node_changed(1);
        assert!(matches!(
            s.schedule(&nodes, &pod, Some(0), &typical),
            Decision::Bind { node: 1, .. }
        ));
    }

    #[test]
    fn random_spreads_over_feasible_nodes() {
        let nodes = vec![NodeGpus::with_gpus("T4", 32000, 1 << 20, vec![1000; 2]); 4];
        let pod = PodGpuRequest::new(1, 1, 0, 0, "");
        let mut s = GpuScheduler::new(Policy::Random, stream(5, "test")).with_score_cache(4, 1);
        let mut hits = [0u32; 4];
        for _ in 0..400 {
            if let Decision::Bind { node, .. } = s.schedule(&nodes, &pod, Some(0), &empty_typical())
            {
                hits[node] += 1;
            }
        }
        assert!(hits.iter().all(|&h| (60..140).contains(&h)), "{hits:?}");
    }

    #[test]
    fn scores_outside_0_to_100_fail_the_pod() {
        // A 256-core node is beyond BestFit's 128-core normalisation: raw scores go negative.
        // BestFit normalises them back into range, DotProd does not.
        let nodes = vec![
            NodeGpus::with_gpus("T4", 512_000, 1 << 20, vec![1000; 2]),
            NodeGpus::with_gpus("T4", 512_000, 1 << 20, vec![1000; 2]),
        ];
        let pod = PodGpuRequest::new(256_000, 1, 0, 0, "");
        // dot = 512000·256000/128000² = 8 → 100·(1 − 4) = −300.
        let mut s = GpuScheduler::new(Policy::DotProd, stream(1, "test"));
        assert_eq!(
            s.schedule(&nodes, &pod, None, &empty_typical()),
            Decision::ScoreOutOfRange {
                node: 0,
                score: -300
            }
        );
        let mut s = GpuScheduler::new(Policy::BestFit, stream(1, "test"));
        assert!(matches!(
            s.schedule(&nodes, &pod, None, &empty_typical()),
            Decision::Bind { node: 0, .. }
        ));
    }
}
