//! The GPU-sharing policy of the FGD paper's experiments (Weng et al., USENIX ATC'23), by
//! name: what a replay's `spec.replay.policy` and `kubesim replay --policy` say, and which GPU
//! score plugin a `KubeSchedulerConfiguration` names for it. The policies themselves are the
//! scheduler's ([`crate::scheduler::gpu`]).

use std::fmt;
use std::str::FromStr;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_parse_case_insensitively() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>(), Ok(p));
            assert_eq!(p.label().parse::<Policy>(), Ok(p));
            assert_eq!(p.name().to_uppercase().parse::<Policy>(), Ok(p));
            assert_eq!(Policy::from_plugin_name(p.plugin_name()), Some(p));
        }
        let err = "first-fit".parse::<Policy>().map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("unknown policy \"first-fit\"; expected one of random, dotprod, gpuclustering, gpupacking, bestfit, fgd".into())
        );
    }
}
