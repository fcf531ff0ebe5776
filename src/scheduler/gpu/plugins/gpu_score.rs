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

use crate::config::gpu_sharing::Policy;
use crate::scheduler::framework::{CycleState, ExtensionPoints, Plugin, Status};
use crate::scheduler::gpu::node_gpus::NodeGpus;
use crate::scheduler::gpu::pod_gpu::{MIB, PodGpuRequest};
use crate::scheduler::gpu::{GpuPolicy, ScoreContext, TypicalPods, scorer};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};
use crate::sim::SimRng;

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
            policy: scorer(policy),
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
        let request = PodGpuRequest::from_pod_info_lenient(pod);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::gpu::{ANNOTATION_GPU_COUNT, ANNOTATION_GPU_MILLI};
    use crate::scheduler::framework::Code;
    use crate::scheduler::gpu::test_util::{gpu_node, gpu_pod};
    use crate::sim::rng::stream;

    fn node(name: &str, gpus: u32, cores: u32) -> NodeInfo {
        NodeInfo::new(Arc::new(gpu_node(name, "T4", gpus, &cores.to_string())))
    }

    fn pod(cores: u32, gpu: Option<(&str, &str)>) -> PodInfo {
        let annotations = gpu.map_or(Vec::new(), |(count, milli)| {
            vec![(ANNOTATION_GPU_COUNT, count), (ANNOTATION_GPU_MILLI, milli)]
        });
        PodInfo::new(Arc::new(gpu_pod(&cores.to_string(), &annotations)))
    }

    fn plugin(policy: Policy, score_cpu_only_pods: bool) -> GpuScore {
        let args = GpuScoreArgs {
            score_cpu_only_pods,
            ..GpuScoreArgs::default()
        };
        GpuScore::new(policy, &args, stream(1, "test/gpu-score")).expect("modelled args")
    }

    /// PreScore, then Score per node and NormalizeScore, as the framework runs them.
    fn scores(p: &GpuScore, pod: &PodInfo, nodes: Vec<NodeInfo>) -> Result<Vec<i64>, Status> {
        let snapshot = Snapshot::new(nodes);
        let feasible: Vec<&NodeInfo> = snapshot.nodes().iter().collect();
        let mut state = CycleState::default();
        let status = p.pre_score(&mut state, pod, &feasible, &snapshot);
        if !status.is_success() {
            return Err(status);
        }
        let mut out = vec![0; feasible.len()];
        p.score_nodes(&state, pod, &feasible, &mut out)?;
        // One node at a time gives the same scores.
        for (node, &s) in feasible.iter().zip(&out) {
            assert_eq!(p.score(&state, pod, node), Ok(s));
        }
        if p.has_normalize() {
            p.normalize(&state, pod, &mut out);
        }
        Ok(out)
    }

    #[test]
    fn scores_are_the_policies_and_cpu_only_pods_skip() {
        // A 500-milli pod of 4 cores on an idle 2-GPU, 104-core node and an idle 8-GPU,
        // 96-core node. BestFit raw: s = 0.5·(cpuLeft − 4000)/128000 + 0.5·(ΣgpuLeft − 500)/8000:
        // small: 0.390625 + 0.09375 = 0.484375 → trunc(51.56) = 51; big: 0.359375 + 0.46875 =
        // 0.828125 → trunc(17.19) = 17; min–max normalised: 100 and 0.
        let nodes = || vec![node("small", 2, 104), node("big", 8, 96)];
        let s500 = pod(4, Some(("1", "500")));
        assert_eq!(
            scores(&plugin(Policy::BestFit, false), &s500, nodes()),
            Ok(vec![100, 0])
        );
        // GpuPacking, idle nodes: max(33 − F, F) = 31 for 2 GPUs, 25 for 8.
        assert_eq!(
            scores(&plugin(Policy::GpuPacking, false), &s500, nodes()),
            Ok(vec![31, 25])
        );
        // A CPU-only pod skips the plugin…
        let cpu = pod(2, None);
        let skipped = scores(&plugin(Policy::BestFit, false), &cpu, nodes());
        assert_eq!(skipped.map_err(|s| s.code), Err(Code::Skip));
        // …unless asked to be scored as the artifact does: raw small 0.5·102000/128000 +
        // 0.5·2000/8000 = 0.5234 → 47; big 0.5·94000/128000 + 0.5 = 0.8672 → 13; normalised
        // 100 and 0.
        assert_eq!(
            scores(&plugin(Policy::BestFit, true), &cpu, nodes()),
            Ok(vec![100, 0])
        );
    }

    #[test]
    fn random_scores_only_its_drawn_node() {
        let nodes = || vec![node("a", 2, 8), node("b", 2, 8), node("c", 2, 8)];
        let s = scores(
            &plugin(Policy::Random, false),
            &pod(1, Some(("1", "300"))),
            nodes(),
        )
        .expect("scored");
        assert_eq!(s.iter().sum::<i64>(), 100);
        assert_eq!(s.iter().filter(|&&x| x == 100).count(), 1);
    }

    #[test]
    fn score_without_its_prescore_is_an_error_and_unmodelled_args_are_refused() {
        let p = plugin(Policy::Fgd, false);
        let n = node("a", 2, 8);
        let status = p.score(&CycleState::default(), &pod(1, Some(("1", "300"))), &n);
        assert_eq!(
            status.map_err(|s| s.reasons),
            Err(vec![
                "FGDScore: no PreScore state; enable FGDScore at preScore as well as score \
                 (multiPoint enables both)"
                    .to_string()
            ])
        );
        let share = GpuScoreArgs {
            dim_ext_method: Some("share".into()),
            ..GpuScoreArgs::default()
        };
        assert_eq!(
            GpuScore::new(Policy::DotProd, &share, stream(1, "t")).err(),
            Some(
                "dimExtMethod \"share\" is not modelled for DotProductScore; expected \"merge\""
                    .into()
            )
        );
        // FGDScore accepts the artifact's args and does not read them.
        assert!(GpuScore::new(Policy::Fgd, &share, stream(1, "t")).is_ok());
    }
}
