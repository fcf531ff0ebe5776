//! The six GPU-sharing score plugins of the FGD artifact — `RandomScore`, `DotProductScore`,
//! `GpuClusteringScore`, `GpuPackingScore`, `BestFitScore`, `FGDScore` — as framework PreScore,
//! Score and NormalizeScore plugins ([`GpuScore`]).
//!
//! One plugin type serves all six because the policies already are one trait, one file each
//! ([`GpuPolicy`]): this file only adapts that trait to the framework's extension points, so a
//! cluster run scores a node exactly as the replay's [`crate::scheduler::gpu::cycle`] does.
//!
//! * PreScore reads the pod's request once and takes the target workload (FGD's typical pods)
//!   from the snapshot; a pod asking for no GPU skips the plugin, so CPU-only pods cost nothing,
//!   unless the args ask for them to be scored as the artifact does (`scoreCpuOnlyPods`).
//!   `RandomScore` draws its node here (`Intn(#feasible)`), from the plugin's own seeded stream.
//! * Score is the policy's score of the node (a node without GPUs is scored as one with no GPU
//!   left). Score needs PreScore's state and fails without it, as upstream plugins do: enable the
//!   plugin through `multiPoint`, or at both `preScore` and `score`.
//! * NormalizeScore is the policy's: BestFit's min–max over the feasible nodes; the others have
//!   none (fgd-spec §2).
//!
//! The artifact's `dimExtMethod` / `normMethod` args are accepted; only `DotProductScore` reads
//! them, and it models `merge` / `max`, the values its experiments use (§2.3).

use std::cell::RefCell;
use std::sync::Arc;

use serde::Deserialize;

use crate::scheduler::framework::{CycleState, ExtensionPoints, Plugin, Status};
use crate::scheduler::gpu::node_gpus::NodeGpus;
use crate::scheduler::gpu::pod_gpu::PodGpuRequest;
use crate::scheduler::gpu::{GpuPolicy, Policy, ScoreContext, TypicalPods};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};
use crate::sim::SimRng;

const MIB: i64 = 1024 * 1024;

/// The args of a GPU score plugin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GpuScoreArgs {
    /// The artifact's dimension-extension method; `DotProductScore` models `merge` only.
    pub dim_ext_method: Option<String>,
    /// The artifact's normalisation method; `DotProductScore` models `max` only.
    pub norm_method: Option<String>,
    /// Score pods that ask for no GPU too, as the artifact does (its plugins score every pod:
    /// FGD then keeps CPU-only pods off the CPU that typical GPU pods need). Off by default:
    /// the plugin skips them and the other score plugins (or the tie-break) place them.
    pub score_cpu_only_pods: bool,
}

/// What PreScore learns about the pod, shared by the GPU score plugins of a profile.
#[derive(Clone, Debug)]
struct GpuScoreState {
    request: PodGpuRequest,
    typical: Arc<TypicalPods>,
}

/// `RandomScore`'s draw: the feasible node (its index among the feasible nodes, and its name).
#[derive(Clone, Debug)]
struct RandomPick {
    index: usize,
    node: String,
}

/// One of the six GPU-sharing score plugins.
pub struct GpuScore {
    policy: Box<dyn GpuPolicy>,
    score_cpu_only_pods: bool,
    /// `RandomScore`'s draws.
    rng: RefCell<SimRng>,
}

impl GpuScore {
    /// The score plugin of `policy` with `args`, drawing (`RandomScore` only) from `rng`; an
    /// error names an arg value that is not modelled.
    pub fn new(policy: Policy, args: &GpuScoreArgs, rng: SimRng) -> Result<Self, String> {
        if policy == Policy::DotProd {
            for (field, value, modelled) in [
                ("dimExtMethod", &args.dim_ext_method, "merge"),
                ("normMethod", &args.norm_method, "max"),
            ] {
                if let Some(v) = value.as_deref().filter(|v| *v != modelled) {
                    return Err(format!(
                        "{field} {v:?} is not modelled for {}; expected {modelled:?}",
                        policy.plugin_name()
                    ));
                }
            }
        }
        Ok(GpuScore {
            policy: policy.scorer(),
            score_cpu_only_pods: args.score_cpu_only_pods,
            rng: RefCell::new(rng),
        })
    }

    fn no_state(&self) -> Status {
        let name = self.name();
        Status::error(
            name,
            format!(
                "{name}: no PreScore state; enable {name} at preScore as well as score \
                 (multiPoint enables both)"
            ),
        )
    }

    /// The policy's score of `node`, the `feasible_index`-th feasible node.
    fn score_node(
        &self,
        s: &GpuScoreState,
        node: &NodeInfo,
        feasible_index: usize,
        pick: Option<usize>,
    ) -> i64 {
        let ctx = ScoreContext {
            typical: &s.typical,
            feasible_index,
            pre_score: pick,
        };
        match node.gpus.as_deref() {
            Some(gpus) => self.policy.score(gpus.state(), &s.request, &ctx),
            None => {
                // A node without GPUs is scored as a GPU node with none left.
                let cpu_left = node.allocatable.milli_cpu - node.requested.milli_cpu;
                let mem_left = (node.allocatable.memory - node.requested.memory) / MIB;
                let view = NodeGpus::with_gpus("", cpu_left, mem_left, Vec::new());
                self.policy.score(&view, &s.request, &ctx)
            }
        }
    }
}

impl Plugin for GpuScore {
    fn name(&self) -> &'static str {
        self.policy.policy().plugin_name()
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            pre_score: true,
            score: true,
            ..ExtensionPoints::default()
        }
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        let request = PodGpuRequest::from_pod_lenient(&pod.pod);
        if !request.is_gpu() && !self.score_cpu_only_pods {
            return Status::skip();
        }
        if let Some(index) = self
            .policy
            .pre_score(nodes.len(), &mut self.rng.borrow_mut())
            && let Some(node) = nodes.get(index)
        {
            state.write(
                "RandomPick",
                RandomPick {
                    index,
                    node: node.name().to_string(),
                },
            );
        }
        state.write(
            "GpuScore",
            GpuScoreState {
                request,
                typical: Arc::clone(snapshot.gpu_workload()),
            },
        );
        Status::success()
    }

    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<GpuScoreState>("GpuScore")
            .ok_or_else(|| self.no_state())?;
        let pick = state.read::<RandomPick>("RandomPick");
        // Only the drawn node needs its feasible index; any other index differs from the draw.
        let index = match pick {
            Some(p) if p.node == node.name() => p.index,
            _ => usize::MAX,
        };
        Ok(self.score_node(s, node, index, pick.map(|p| p.index)))
    }

    /// PreScore's state is read once, not once per node.
    fn score_nodes(
        &self,
        state: &CycleState,
        _pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Result<(), Status> {
        let s = state
            .read::<GpuScoreState>("GpuScore")
            .ok_or_else(|| self.no_state())?;
        let pick = state.read::<RandomPick>("RandomPick").map(|p| p.index);
        for (i, (slot, node)) in scores.iter_mut().zip(nodes).enumerate() {
            *slot = self.score_node(s, node, i, pick);
        }
        Ok(())
    }

    fn has_normalize(&self) -> bool {
        self.policy.has_normalize()
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        self.policy.normalize(scores);
        Status::success()
    }
}
