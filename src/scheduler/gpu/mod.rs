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

use std::fmt;
use std::str::FromStr;

pub use node_gpus::NodeGpus;
pub use pod_gpu::PodGpuRequest;
pub use typical_pods::TypicalPods;

use crate::sim::rng::SimRng;

/// Highest node score a plugin may return (`MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;
/// Lowest node score a plugin may return (`MinNodeScore`).
pub const MIN_NODE_SCORE: i64 = 0;
/// CPU of the largest node the artifact normalises by (`MaxSpecCpu`, millicores).
pub const MAX_SPEC_CPU: i64 = 128_000;
/// GPU milli of the largest node the artifact normalises by (`MaxSpecGpu`: 8 GPUs).
pub const MAX_SPEC_GPU: i64 = 8_000;

/// The six policies of the paper's experiments (fgd-spec §2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// Uniformly random feasible node; random GPU (§2.2).
    Random,
    /// Smallest dot product of remaining and requested resources (§2.3).
    DotProd,
    /// Keep pods of a kind together (§2.4).
    GpuClustering,
    /// Fill used GPUs and nodes first (§2.5).
    GpuPacking,
    /// Least remaining CPU and GPU after placement (§2.6).
    BestFit,
    /// Fragmentation gradient descent (§2.7).
    Fgd,
}

impl Policy {
    /// Every policy, in the paper's order.
    pub const ALL: [Policy; 6] = [
        Policy::Random,
        Policy::DotProd,
        Policy::GpuClustering,
        Policy::GpuPacking,
        Policy::BestFit,
        Policy::Fgd,
    ];

    /// The command-line name (`random`, `dotprod`, `gpuclustering`, `gpupacking`, `bestfit`,
    /// `fgd`).
    pub const fn name(self) -> &'static str {
        match self {
            Policy::Random => "random",
            Policy::DotProd => "dotprod",
            Policy::GpuClustering => "gpuclustering",
            Policy::GpuPacking => "gpupacking",
            Policy::BestFit => "bestfit",
            Policy::Fgd => "fgd",
        }
    }

    /// The paper's name (`Random`, `DotProd`, `GpuClustering`, `GpuPacking`, `BestFit`, `FGD`).
    pub const fn label(self) -> &'static str {
        match self {
            Policy::Random => "Random",
            Policy::DotProd => "DotProd",
            Policy::GpuClustering => "GpuClustering",
            Policy::GpuPacking => "GpuPacking",
            Policy::BestFit => "BestFit",
            Policy::Fgd => "FGD",
        }
    }

    /// The name of its score plugin, as the artifact registers it (`RandomScore`,
    /// `DotProductScore`, `GpuClusteringScore`, `GpuPackingScore`, `BestFitScore`, `FGDScore`).
    pub const fn plugin_name(self) -> &'static str {
        match self {
            Policy::Random => "RandomScore",
            Policy::DotProd => "DotProductScore",
            Policy::GpuClustering => "GpuClusteringScore",
            Policy::GpuPacking => "GpuPackingScore",
            Policy::BestFit => "BestFitScore",
            Policy::Fgd => "FGDScore",
        }
    }

    /// The policy whose score plugin is called `name` (exactly).
    pub fn from_plugin_name(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.plugin_name() == name)
    }

    /// The policy's scorer.
    pub fn scorer(self) -> Box<dyn GpuPolicy> {
        match self {
            Policy::Random => Box::new(random::RandomScore),
            Policy::DotProd => Box::new(dot_product::DotProductScore),
            Policy::GpuClustering => Box::new(gpu_clustering::GpuClusteringScore),
            Policy::GpuPacking => Box::new(gpu_packing::GpuPackingScore),
            Policy::BestFit => Box::new(best_fit::BestFitScore),
            Policy::Fgd => Box::new(fgd::FgdScore),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A policy name that is none of the six.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown policy {0:?}; expected one of random, dotprod, gpuclustering, gpupacking, bestfit, fgd"
)]
pub struct UnknownPolicy(pub String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    /// Parses a policy name, ignoring case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownPolicy(text.to_owned()))
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
    fn policy_names_parse_case_insensitively() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>(), Ok(p));
            assert_eq!(p.label().parse::<Policy>(), Ok(p));
            assert_eq!(p.name().to_uppercase().parse::<Policy>(), Ok(p));
            assert_eq!(p.scorer().policy(), p);
            assert_eq!(Policy::from_plugin_name(p.plugin_name()), Some(p));
            assert_eq!(p.scorer().has_normalize(), p == Policy::BestFit);
        }
        let err = "first-fit".parse::<Policy>().map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("unknown policy \"first-fit\"; expected one of random, dotprod, gpuclustering, gpupacking, bestfit, fgd".into())
        );
    }
}
