//! GPU-sharing scheduling as in the FGD paper (Weng et al., USENIX ATC'23) and its artifact,
//! implemented from `fgd-spec.md`: the per-node GPU state, a pod's GPU request, the feasibility
//! filter, the six node-scoring policies with their GPU choice, the fragmentation measure, and
//! the openb trace replay protocol.
//!
//! The policies do not depend on the scheduler framework. Each implements the small
//! [`GpuPolicy`] trait (score a node for a pod, choose GPUs on the chosen node). Two paths run
//! them:
//!
//! * the openb replay: [`cycle`] runs one scheduling cycle (§2.1) the way the artifact's
//!   framework does; [`replay`] runs the whole experiment (§3.2, §4);
//! * a cluster run: [`plugins`] wraps them as kube-scheduler framework plugins (the
//!   Open-Gpu-Share filter and reserve, one score plugin per policy), the scheduler's node cache
//!   keeps each GPU node's state ([`node_cache`]) and the target workload ([`workload`]).
//!
//! | policy (`--policy`) | score plugin | file | GPU choice for sharing pods |
//! |---|---|---|---|
//! | Random (`random`) | `RandomScore` | [`random`] | uniform (reservoir) |
//! | DotProd (`dotprod`) | `DotProductScore` | [`dot_product`] | best fit |
//! | GpuClustering (`gpuclustering`) | `GpuClusteringScore` | [`gpu_clustering`] | best fit |
//! | GpuPacking (`gpupacking`) | `GpuPackingScore` | [`gpu_packing`] | best fit |
//! | BestFit (`bestfit`) | `BestFitScore` | [`best_fit`] | best fit |
//! | FGD (`fgd`) | `FGDScore` | [`fgd`] | highest FGD score |
//!
//! Scores are integers computed exactly (integer arithmetic where the formula is a ratio of
//! integers); floating point appears only in FGD's sigmoid and in reported ratios.

pub mod best_fit;
pub mod cycle;
pub mod dot_product;
pub mod fgd;
pub mod filter;
pub mod fragmentation;
pub mod gpu_clustering;
pub mod gpu_packing;
pub mod node_cache;
pub mod node_gpus;
pub mod plugins;
pub mod pod_gpu;
pub mod random;
pub mod replay;
pub mod select;
#[cfg(test)]
pub(crate) mod test_util;
pub mod typical_pods;
pub mod workload;

pub use node_gpus::NodeGpus;
pub use pod_gpu::PodGpuRequest;
pub use typical_pods::TypicalPods;

use crate::config::gpu_sharing::Policy;
use crate::sim::rng::SimRng;

/// Highest node score a plugin may return (`MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;
/// Lowest node score a plugin may return (`MinNodeScore`).
pub const MIN_NODE_SCORE: i64 = 0;
/// CPU of the largest node the artifact normalises by (`MaxSpecCpu`, millicores).
pub const MAX_SPEC_CPU: i64 = 128_000;
/// GPU milli of the largest node the artifact normalises by (`MaxSpecGpu`: 8 GPUs).
pub const MAX_SPEC_GPU: i64 = 8_000;

/// The scorer of `policy`.
pub fn scorer(policy: Policy) -> Box<dyn GpuPolicy> {
    match policy {
        Policy::Random => Box::new(random::RandomScore),
        Policy::DotProd => Box::new(dot_product::DotProductScore),
        Policy::GpuClustering => Box::new(gpu_clustering::GpuClusteringScore),
        Policy::GpuPacking => Box::new(gpu_packing::GpuPackingScore),
        Policy::BestFit => Box::new(best_fit::BestFitScore),
        Policy::Fgd => Box::new(fgd::FgdScore),
    }
}

/// What a policy may read when scoring one node, besides the node and the pod.
#[derive(Clone, Copy, Debug)]
pub struct ScoreContext<'a> {
    /// The target workload (FGD).
    pub typical: &'a TypicalPods,
    /// Position of the node in the list of feasible nodes (rank order).
    pub feasible_index: usize,
    /// What [`GpuPolicy::pre_score`] returned for this pod.
    pub pre_score: Option<usize>,
}

/// A GPU-sharing policy: one node-score plugin plus its GPU choice (fgd-spec §2).
pub trait GpuPolicy {
    /// Which policy this is.
    fn policy(&self) -> Policy;

    /// PreScore: runs once per pod before scoring, given the number of feasible nodes (≥ 2:
    /// with one feasible node the framework does not score). Random draws its node here.
    fn pre_score(&self, _feasible: usize, _rng: &mut SimRng) -> Option<usize> {
        None
    }

    /// The node's raw score for `pod` (the node is feasible).
    fn score(&self, node: &NodeGpus, pod: &PodGpuRequest, ctx: &ScoreContext<'_>) -> i64;

    /// Whether the policy has a NormalizeScore ([`GpuPolicy::normalize`]); most have none.
    fn has_normalize(&self) -> bool {
        false
    }

    /// NormalizeScore over the feasible nodes' scores (in feasible order); most policies have
    /// none.
    fn normalize(&self, _scores: &mut [i64]) {}

    /// Whether the score is a function of (node state, pod type, target workload) alone, so a
    /// replay may reuse it until the node changes. True for all but Random.
    fn deterministic(&self) -> bool {
        true
    }

    /// The GPUs `pod` gets on `node` (the chosen node, which fits it), by index (§1.4). By
    /// default best fit, which four of the six policies use for a sharing pod; Random and FGD
    /// choose their own way.
    fn select_gpus(
        &self,
        node: &NodeGpus,
        pod: &PodGpuRequest,
        _typical: &TypicalPods,
        _rng: &mut SimRng,
    ) -> Vec<usize> {
        select::select_gpus_with(node, pod, |n, p| select::best_gpu(n, p.gpu_milli))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_has_its_own_scorer() {
        for p in Policy::ALL {
            assert_eq!(scorer(p).policy(), p);
            assert_eq!(scorer(p).has_normalize(), p == Policy::BestFit);
        }
    }
}
