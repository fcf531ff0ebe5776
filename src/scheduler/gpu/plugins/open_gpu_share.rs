//! Open-Gpu-Share (the FGD artifact's `open_gpu_share.go`): GPU-sharing feasibility (fgd-spec
//! §1.3) and the choice of a pod's GPUs (§1.4), as a framework Filter and Reserve plugin.
//!
//! * PreFilter reads the pod's GPU request from its annotations (`gpu-count`, `gpu-milli`,
//!   `gpu-card-model`). A pod asking for no GPU skips the plugin, so CPU-only pods cost nothing;
//!   annotations that do not parse make the pod unschedulable everywhere (unresolvable), naming
//!   the annotation.
//! * Filter keeps the nodes [`gpu_fit`] accepts: GPUs of an allowed model, enough of them with the
//!   pod's milli left. CPU, memory and pod slots are NodeResourcesFit's.
//! * Reserve chooses the pod's GPUs on the chosen node by `gpuSelMethod` — `best`, `random`, or a
//!   GPU score plugin's own rule (`FGDScore`: the GPU of the best FGD score) — and writes them as
//!   the `gpu-index` annotation of the binding, which is how the scheduler's cache and the
//!   apiserver learn them ([`crate::scheduler::gpu::node_cache`]). A pod that already carries a
//!   `gpu-index` keeps those GPUs where they fit (the artifact's "predefined" devices).
//!
//! Enabled at Filter alone (as the artifact's configuration does), without its PreFilter, the
//! plugin reads the pod itself, once per batch of nodes.

use std::borrow::Cow;
use std::cell::RefCell;

use serde::Deserialize;

use crate::api::gpu::ANNOTATION_GPU_INDEX;
use crate::config::gpu_sharing::Policy;
use crate::scheduler::framework::{
    BindingAnnotations, CycleState, ExtensionPoints, Plugin, PreFilterResult, Status,
    retain_feasible,
};
use crate::scheduler::gpu::filter::{GpuFit, gpu_fit};
use crate::scheduler::gpu::node_gpus::NodeGpus;
use crate::scheduler::gpu::pod_gpu::{PodGpuRequest, format_gpu_index, gpu_index_of};
use crate::scheduler::gpu::{GpuPolicy, scorer};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};
use crate::sim::SimRng;

/// The plugin's name in KubeSchedulerConfiguration (the artifact's `OpenGpuSharePluginName`).
pub const NAME: &str = "Open-Gpu-Share";

/// Filter reason: the node has no GPU.
pub const ERR_REASON_NO_GPU: &str = "node(s) had no GPU";
/// Filter reason: the node's GPU model is not one the pod accepts.
pub const ERR_REASON_MODEL: &str = "node(s) didn't have the requested GPU model";
/// Filter reason: too few GPUs with the pod's milli left.
pub const ERR_REASON_INSUFFICIENT: &str = "Insufficient alibabacloud.com/gpu-milli";

/// `gpuSelMethod` values besides the score plugins' names.
const SEL_BEST: &str = "best";
const SEL_RANDOM: &str = "random";

/// The plugin's args, as the artifact's `OpenGpuSharePluginCfg`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OpenGpuShareArgs {
    /// How a sharing pod's GPU is chosen at Reserve: `best` (the tightest fitting GPU),
    /// `random`, or a GPU score plugin's name for that policy's own rule (`FGDScore`). When
    /// unset, the profile's highest-weight GPU score plugin decides, as the artifact's experiment
    /// scripts set it (see [`default_gpu_sel_method`]); `best` in a profile without one.
    pub gpu_sel_method: Option<String>,
    /// Accepted as the artifact's configurations write it; no modelled policy reads it here.
    pub dim_ext_method: Option<String>,
    /// Accepted as the artifact's configurations write it; no modelled policy reads it here.
    pub norm_method: Option<String>,
}

/// The `gpuSelMethod` a profile gets when it sets none: the name of its highest-weight GPU
/// score plugin (the first of equal weights, in score order), given the profile's score plugins
/// with their weights. `None` when it has no GPU score plugin.
pub fn default_gpu_sel_method<'a>(
    score_plugins: impl IntoIterator<Item = (&'a str, i64)>,
) -> Option<&'static str> {
    let mut best: Option<(i64, Policy)> = None;
    for (name, weight) in score_plugins {
        if let Some(policy) = Policy::from_plugin_name(name)
            && best.is_none_or(|(w, _)| weight > w)
        {
            best = Some((weight, policy));
        }
    }
    best.map(|(_, policy)| policy.plugin_name())
}

/// The policy whose GPU choice a `gpuSelMethod` names (`best` is the rule of DotProd,
/// GpuClustering, GpuPacking and BestFit alike).
fn selection_policy(method: &str) -> Result<Policy, String> {
    match method {
        SEL_BEST => Ok(Policy::BestFit),
        SEL_RANDOM => Ok(Policy::Random),
        other => Policy::from_plugin_name(other).ok_or_else(|| {
            let names: Vec<&str> = Policy::ALL.iter().map(|p| p.plugin_name()).collect();
            format!(
                "gpuSelMethod {other:?} is not modelled; expected {SEL_BEST}, {SEL_RANDOM} or one of {}",
                names.join(", ")
            )
        }),
    }
}

/// What PreFilter learns about the pod.
#[derive(Clone, Debug)]
struct GpuShareState {
    /// The pod's request.
    request: PodGpuRequest,
    /// GPUs the pod already names in its `gpu-index` annotation.
    pinned: Option<Vec<usize>>,
}

/// Reads the pod: `Ok(None)` for a pod asking for no GPU.
fn read_pod(pod: &PodInfo) -> Result<Option<GpuShareState>, Status> {
    let unresolvable =
        |e: crate::scheduler::gpu::pod_gpu::PodGpuError| Status::unresolvable(NAME, e.to_string());
    let request = PodGpuRequest::from_pod(&pod.pod).map_err(unresolvable)?;
    if !request.is_gpu() {
        return Ok(None);
    }
    let pinned = gpu_index_of(&pod.pod.metadata.annotations).map_err(unresolvable)?;
    Ok(Some(GpuShareState { request, pinned }))
}

/// PreFilter's state, or the pod read now when PreFilter did not run.
fn pod_state<'s>(
    state: &'s CycleState,
    pod: &PodInfo,
) -> Result<Option<Cow<'s, GpuShareState>>, Status> {
    match state.read::<GpuShareState>(NAME) {
        Some(s) => Ok(Some(Cow::Borrowed(s))),
        None => Ok(read_pod(pod)?.map(Cow::Owned)),
    }
}

/// Whether the GPUs a pod names fit it on `node`: each exists and has the pod's milli left.
fn pinned_fit(node: &NodeGpus, request: &PodGpuRequest, gpus: &[usize]) -> bool {
    !gpus.is_empty()
        && gpus.iter().all(|&g| {
            node.gpu_left
                .get(g)
                .is_some_and(|&left| left >= request.gpu_milli)
        })
}

/// The status Filter gives `node`, `None` when it fits.
fn rejection(node: &NodeInfo, pod: &GpuShareState) -> Option<Status> {
    let Some(gpus) = node.gpus.as_deref() else {
        return Some(Status::unresolvable(NAME, ERR_REASON_NO_GPU));
    };
    let view = gpus.state();
    let fit = match (gpu_fit(view, &pod.request), &pod.pinned) {
        // A pod naming its GPUs needs those GPUs, on a node of an allowed model.
        (GpuFit::Fits | GpuFit::InsufficientGpu, Some(pinned)) => {
            if pinned_fit(view, &pod.request, pinned) {
                GpuFit::Fits
            } else {
                GpuFit::InsufficientGpu
            }
        }
        (fit, _) => fit,
    };
    match fit {
        GpuFit::Fits => None,
        GpuFit::NoGpus => Some(Status::unresolvable(NAME, ERR_REASON_NO_GPU)),
        GpuFit::ModelNotAllowed => Some(Status::unresolvable(NAME, ERR_REASON_MODEL)),
        // Preemption can free GPUs.
        GpuFit::InsufficientGpu => Some(Status::unschedulable(NAME, ERR_REASON_INSUFFICIENT)),
    }
}

/// The Open-Gpu-Share plugin.
pub struct OpenGpuShare {
    /// The policy whose GPU choice Reserve applies.
    selector: Box<dyn GpuPolicy>,
    /// Draws of the `random` choice.
    rng: RefCell<SimRng>,
}

impl OpenGpuShare {
    /// The plugin with `args`, drawing random GPU choices from `rng`; an error names a
    /// `gpuSelMethod` that is not modelled.
    pub fn new(args: &OpenGpuShareArgs, rng: SimRng) -> Result<Self, String> {
        let selection = selection_policy(args.gpu_sel_method.as_deref().unwrap_or(SEL_BEST))?;
        Ok(OpenGpuShare {
            selector: scorer(selection),
            rng: RefCell::new(rng),
        })
    }

    /// The policy whose GPU choice Reserve applies.
    pub fn selection(&self) -> Policy {
        self.selector.policy()
    }
}

impl Plugin for OpenGpuShare {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            pre_filter: true,
            filter: true,
            reserve: true,
            ..ExtensionPoints::default()
        }
    }

    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> Result<PreFilterResult, Status> {
        match read_pod(pod)? {
            None => Err(Status::skip()),
            Some(s) => {
                state.write(NAME, s);
                Ok(PreFilterResult::AllNodes)
            }
        }
    }

    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pod_state(state, pod) {
            Err(status) => status,
            Ok(None) => Status::success(),
            Ok(Some(s)) => rejection(node, &s).unwrap_or_else(Status::success),
        }
    }

    /// The pod is read once per batch (when PreFilter did not run), not once per node.
    fn filter_nodes<'n>(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &mut Vec<&'n NodeInfo>,
        rejected: &mut Vec<(&'n NodeInfo, Status)>,
    ) {
        match pod_state(state, pod) {
            Ok(None) => {}
            Ok(Some(s)) => retain_feasible(nodes, rejected, |node| rejection(node, &s)),
            Err(status) => retain_feasible(nodes, rejected, |_| Some(status.clone())),
        }
    }

    fn reserve(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        node: &str,
    ) -> Status {
        let pod_gpus = match pod_state(state, pod) {
            Err(status) => return status,
            Ok(None) => return Status::success(),
            Ok(Some(s)) => s.into_owned(),
        };
        let Some(gpus) = snapshot.get(node).and_then(|n| n.gpus.as_deref()) else {
            return Status::unresolvable(NAME, ERR_REASON_NO_GPU);
        };
        let view = gpus.state();
        let request = &pod_gpus.request;
        let chosen = match pod_gpus.pinned {
            Some(pinned) if pinned_fit(view, request, &pinned) => pinned,
            _ => self.selector.select_gpus(
                view,
                request,
                snapshot.gpu_workload(),
                &mut self.rng.borrow_mut(),
            ),
        };
        if chosen.len() < request.num_gpu as usize {
            return Status::unschedulable(NAME, ERR_REASON_INSUFFICIENT);
        }
        let annotation = format_gpu_index(&chosen);
        match state.read_mut::<BindingAnnotations>("BindingAnnotations") {
            Some(a) => {
                a.0.insert(ANNOTATION_GPU_INDEX.to_owned(), annotation);
            }
            None => state.write(
                "BindingAnnotations",
                BindingAnnotations([(ANNOTATION_GPU_INDEX.to_owned(), annotation)].into()),
            ),
        }
        Status::success()
    }

    // No Unreserve: the GPUs are held by the assumed pod's annotation, and the cache gives them
    // back when it forgets the pod.
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::gpu::{ANNOTATION_GPU_COUNT, ANNOTATION_GPU_MILLI, ANNOTATION_GPU_MODEL};
    use crate::scheduler::framework::Code;
    use crate::scheduler::gpu::test_util::spec_example_typical;
    use crate::scheduler::gpu::test_util::{gpu_node, gpu_pod};
    use crate::sim::rng::stream;

    /// A node with `gpus` GPUs of `model` (none when 0) and `cores` CPUs.
    fn node(name: &str, model: &str, gpus: u32, cores: u32) -> NodeInfo {
        NodeInfo::new(Arc::new(gpu_node(name, model, gpus, &cores.to_string())))
    }

    /// A pod of `cores` CPUs with GPU annotations `(name, value)`.
    fn pod(cores: u32, annotations: &[(&str, &str)]) -> PodInfo {
        PodInfo::new(Arc::new(gpu_pod(&cores.to_string(), annotations)))
    }

    fn share(milli: &str) -> Vec<(&'static str, String)> {
        vec![
            (ANNOTATION_GPU_COUNT, "1".into()),
            (ANNOTATION_GPU_MILLI, milli.into()),
        ]
    }

    fn plugin(method: Option<&str>) -> OpenGpuShare {
        let args = OpenGpuShareArgs {
            gpu_sel_method: method.map(str::to_owned),
            ..OpenGpuShareArgs::default()
        };
        OpenGpuShare::new(&args, stream(1, "test/open-gpu-share")).expect("a modelled method")
    }

    fn verdict(p: &OpenGpuShare, pod: &PodInfo, node: &NodeInfo) -> Status {
        let snapshot = Snapshot::new(vec![node.clone()]);
        let mut state = CycleState::default();
        match p.pre_filter(&mut state, pod, &snapshot) {
            Ok(_) => p.filter(&state, pod, node),
            Err(s) => s,
        }
    }

    fn annotated<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[test]
    fn filter_checks_gpus_models_and_skips_cpu_only_pods() {
        let p = plugin(None);
        let t4 = node("t4", "T4", 2, 32);
        let plain = node("cpu", "", 0, 32);
        let s500 = pod(4, &annotated(&share("500")));
        assert!(verdict(&p, &s500, &t4).is_success());
        let no_gpu = verdict(&p, &s500, &plain);
        assert_eq!(
            (no_gpu.code, no_gpu.reasons.clone()),
            (
                Code::UnschedulableAndUnresolvable,
                vec![ERR_REASON_NO_GPU.to_string()]
            )
        );
        let mut v100 = share("500");
        v100.push((ANNOTATION_GPU_MODEL, "V100M16|V100M32".into()));
        let wrong_model = verdict(&p, &pod(4, &annotated(&v100)), &t4);
        assert_eq!(wrong_model.reasons, vec![ERR_REASON_MODEL.to_string()]);
        // Three whole GPUs on a 2-GPU node: unschedulable, not unresolvable (preemption can
        // free GPUs).
        let three = pod(
            4,
            &[(ANNOTATION_GPU_COUNT, "3"), (ANNOTATION_GPU_MILLI, "1000")],
        );
        let insufficient = verdict(&p, &three, &t4);
        assert_eq!(
            (insufficient.code, insufficient.reasons.clone()),
            (
                Code::Unschedulable,
                vec![ERR_REASON_INSUFFICIENT.to_string()]
            )
        );
        // CPU-only pods skip the plugin at PreFilter.
        let snapshot = Snapshot::new(vec![plain.clone()]);
        let skipped = p.pre_filter(&mut CycleState::default(), &pod(1, &[]), &snapshot);
        assert_eq!(skipped.map_err(|s| s.code), Err(Code::Skip));
        // Annotations that do not parse: unresolvable everywhere, naming the annotation.
        let bad = verdict(&p, &pod(1, &[(ANNOTATION_GPU_COUNT, "two")]), &t4);
        assert_eq!(bad.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(
            bad.reasons,
            vec![
                "annotation alibabacloud.com/gpu-count: expected a non-negative integer, found \"two\""
                    .to_string()
            ]
        );
        // Without PreFilter (enabled at filter alone), filter_nodes reads the pod itself.
        let mut nodes = vec![&t4, &plain];
        let mut rejected = Vec::new();
        p.filter_nodes(&CycleState::default(), &s500, &mut nodes, &mut rejected);
        assert_eq!(nodes.iter().map(|n| n.name()).collect::<Vec<_>>(), ["t4"]);
        assert_eq!(rejected.len(), 1);
    }

    /// A T4 node with 4 GPUs whose GPUs have [200, 1000, 1000, 500] milli left — fgd-spec §6's
    /// worked example — from two sharing pods holding 800 of GPU 0 and 500 of GPU 3; 32 cores
    /// with 4 of them requested, like the example's cpuLeft once the pods' CPU is added back:
    /// 36 cores − 4 = 32 000 m left.
    fn spec_example_node() -> NodeInfo {
        let mut n = node("t4", "T4", 4, 36);
        let mut a = share("800");
        a.push((ANNOTATION_GPU_INDEX, "0".into()));
        let mut b = share("500");
        b.push((ANNOTATION_GPU_INDEX, "3".into()));
        n.add_pod(Arc::new(pod(2, &annotated(&a))));
        n.add_pod(Arc::new(pod(2, &annotated(&b))));
        n
    }

    fn reserved(p: &OpenGpuShare, pod: &PodInfo, node: NodeInfo) -> (Status, Option<String>) {
        let mut snapshot = Snapshot::new(vec![node]);
        snapshot.set_gpu_workload(Arc::new(spec_example_typical()));
        let mut state = CycleState::default();
        let status = p.reserve(&mut state, pod, &snapshot, "t4");
        let index = state
            .read::<BindingAnnotations>("BindingAnnotations")
            .and_then(|a| a.0.get(ANNOTATION_GPU_INDEX).cloned());
        (status, index)
    }

    #[test]
    fn reserve_writes_the_chosen_gpus_as_the_index_annotation() {
        let node = spec_example_node();
        assert_eq!(
            node.gpus.as_deref().map(|g| g.state().gpu_left.clone()),
            Some(vec![200, 1000, 1000, 500])
        );
        assert_eq!(
            node.gpus.as_deref().map(|g| g.state().cpu_left),
            Some(32_000)
        );
        let s500 = pod(4, &annotated(&share("500")));
        // best: the tightest GPU with 500 left is GPU 3 (500 left).
        let (status, index) = reserved(&plugin(Some("best")), &s500, node.clone());
        assert!(status.is_success());
        assert_eq!(index.as_deref(), Some("3"));
        // FGDScore: fgd-spec §6 — GPU 1 or 2 leaves F at 1100 (score 50), GPU 3 takes it to 800
        // (score 57): GPU 3 as well, by a different rule.
        let (_, index) = reserved(&plugin(Some("FGDScore")), &s500, node.clone());
        assert_eq!(index.as_deref(), Some("3"));
        // A 300-milli pod: best takes GPU 3 (500 left, the tightest ≥ 300 after GPU 0's 200 is
        // too small). FGD: on GPU 3 (500 → 200) A (500 milli) loses GPU 3 and B is unchanged:
        // A 0.4·(200+200) = 160, B 0.3·(200+200) = 120, C 0.1·2400 = 240, D 0.2·2400 = 480 →
        // F 1000, Δ 100 → trunc(100·σ(0.1)) = 52; on GPU 1 (1000 → 700): A 80, B 0.3·(200+700+500)
        // = 420, C 240, D 480 → 1220, Δ −120 → 47. GPU 3 again.
        let s300 = pod(4, &annotated(&share("300")));
        let (_, index) = reserved(&plugin(Some("FGDScore")), &s300, node.clone());
        assert_eq!(index.as_deref(), Some("3"));
        // Two whole GPUs: the first two fully free ones, under every method.
        let two = pod(
            4,
            &[(ANNOTATION_GPU_COUNT, "2"), (ANNOTATION_GPU_MILLI, "1000")],
        );
        let (_, index) = reserved(&plugin(Some("random")), &two, node.clone());
        assert_eq!(index.as_deref(), Some("1-2"));
        // A pod naming its GPUs keeps them where they fit…
        let mut pinned = share("500");
        pinned.push((ANNOTATION_GPU_INDEX, "2".into()));
        let (_, index) = reserved(&plugin(None), &pod(4, &annotated(&pinned)), node.clone());
        assert_eq!(index.as_deref(), Some("2"));
        // …and is filtered out where they do not (GPU 0 has 200 left).
        let mut too_small = share("500");
        too_small.push((ANNOTATION_GPU_INDEX, "0".into()));
        let status = verdict(&plugin(None), &pod(4, &annotated(&too_small)), &node);
        assert_eq!(status.reasons, vec![ERR_REASON_INSUFFICIENT.to_string()]);
        // Three whole GPUs do not fit: Reserve fails rather than half-allocating.
        let three = pod(
            4,
            &[(ANNOTATION_GPU_COUNT, "3"), (ANNOTATION_GPU_MILLI, "1000")],
        );
        let (status, index) = reserved(&plugin(None), &three, node);
        assert_eq!((status.code, index), (Code::Unschedulable, None));
    }

    #[test]
    fn gpu_sel_method_defaults_to_the_heaviest_gpu_score_plugin() {
        assert_eq!(default_gpu_sel_method([("NodeResourcesFit", 5)]), None);
        assert_eq!(
            default_gpu_sel_method([
                ("NodeResourcesFit", 50),
                ("BestFitScore", 2),
                ("FGDScore", 3),
                ("RandomScore", 3),
            ]),
            Some("FGDScore")
        );
        assert_eq!(plugin(None).selection(), Policy::BestFit);
        assert_eq!(plugin(Some("random")).selection(), Policy::Random);
        assert_eq!(
            plugin(Some("GpuPackingScore")).selection(),
            Policy::GpuPacking
        );
        let worst = OpenGpuShareArgs {
            gpu_sel_method: Some("worst".into()),
            ..OpenGpuShareArgs::default()
        };
        assert_eq!(
            OpenGpuShare::new(&worst, stream(1, "t")).err(),
            Some(
                "gpuSelMethod \"worst\" is not modelled; expected best, random or one of \
                 RandomScore, DotProductScore, GpuClusteringScore, GpuPackingScore, \
                 BestFitScore, FGDScore"
                    .to_string()
            )
        );
    }
}
