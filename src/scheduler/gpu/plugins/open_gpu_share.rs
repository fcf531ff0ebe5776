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

use crate::scheduler::framework::{
    BindingAnnotations, CycleState, ExtensionPoints, Plugin, PreFilterResult, Status,
    retain_feasible,
};
use crate::scheduler::gpu::filter::{GpuFit, gpu_fit};
use crate::scheduler::gpu::node_gpus::NodeGpus;
use crate::scheduler::gpu::pod_gpu::{
    ANNOTATION_GPU_INDEX, PodGpuRequest, format_gpu_index, gpu_index_of,
};
use crate::scheduler::gpu::{GpuPolicy, Policy};
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
    selection: Policy,
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
            selection,
            selector: selection.scorer(),
            rng: RefCell::new(rng),
        })
    }

    /// The policy whose GPU choice Reserve applies.
    pub fn selection(&self) -> Policy {
        self.selection
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
