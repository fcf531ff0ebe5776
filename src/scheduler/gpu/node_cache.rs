//! The GPU part of the scheduler's node cache: [`GpuNodeInfo`], the `gpus` field of
//! [`NodeInfo`](crate::scheduler::node_info::NodeInfo) — a GPU node as the policies see it
//! ([`NodeGpus`]), kept in step with the pods the cache counts on the node.
//!
//! A node has GPUs when its allocatable (or capacity) `alibabacloud.com/gpu-count` is 1 or
//! more, as the FGD artifact's node YAML declares them; each GPU has 1000 milli, and the model
//! is the node label `alibabacloud.com/gpu-card-model`.
//!
//! Which GPUs a pod holds is read from its `gpu-index` annotation, not remembered apart from
//! the pod: Reserve writes it on the assumed pod and on the pod's Binding, the apiserver copies
//! it onto the pod, and the informer-fed cache reads it back. So removing a pod — deleted,
//! preempted, or an assumption forgotten after a failed bind — gives back exactly what it held,
//! and bound pods' GPUs are known to any cache built from the apiserver. A pod without the
//! annotation (or with one that does not parse) holds no GPU, as in the artifact's cache
//! (`gpunodeinfo.go: addOrUpdatePod`).

use super::node_gpus::NodeGpus;
use super::pod_gpu::{MIB, PodGpuRequest, gpu_index_of};
use crate::api::gpu::{GPU_MILLI, LABEL_GPU_MODEL, node_gpu_count};
use crate::api::node::Node;
use crate::api::pod::Pod;
use crate::api::resources::Resources;
use crate::scheduler::node_info::PodInfo;

/// A GPU node's state in the scheduler's cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuNodeInfo {
    state: NodeGpus,
}

/// What a placed pod takes on its node: its request (GPU annotations that do not parse read as
/// none, as the artifact's readers do) and the GPUs of its `gpu-index` annotation.
fn holding(pod: &Pod, request: PodGpuRequest) -> (PodGpuRequest, Vec<usize>) {
    let gpus = if request.is_gpu() {
        gpu_index_of(&pod.metadata.annotations)
            .ok()
            .flatten()
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    (request, gpus)
}

impl GpuNodeInfo {
    /// The GPU state of `node` (whose allocatable the cache has as `allocatable`) with `pods`
    /// on it; `None` for a node without GPUs.
    pub fn build<'a>(
        node: &Node,
        allocatable: &Resources,
        pods: impl IntoIterator<Item = &'a Pod>,
    ) -> Option<Box<GpuNodeInfo>> {
        let gpus = node_gpu_count(allocatable)?;
        let model = node
            .metadata
            .labels
            .get(LABEL_GPU_MODEL)
            .map(String::as_str)
            .unwrap_or_default();
        let state = NodeGpus::with_gpus(
            model,
            allocatable.milli_cpu,
            allocatable.memory / MIB,
            vec![GPU_MILLI; gpus as usize],
        )
        .with_max_pods(allocatable.pods);
        let mut info = Box::new(GpuNodeInfo { state });
        for pod in pods {
            let (request, gpus) = holding(pod, PodGpuRequest::from_pod_lenient(pod));
            info.state.place(&request, &gpus);
        }
        Some(info)
    }

    /// Counts `pod` on the node: its CPU (which FGD and BestFit see as `cpuLeft`), its memory,
    /// a pod slot, its GPUs and its GpuClustering tag.
    pub fn add_pod(&mut self, pod: &PodInfo) {
        let (request, gpus) = holding(&pod.pod, PodGpuRequest::from_pod_info_lenient(pod));
        self.state.place(&request, &gpus);
    }

    /// Stops counting `pod` (the same pod object [`GpuNodeInfo::add_pod`] counted).
    pub fn remove_pod(&mut self, pod: &PodInfo) {
        let (request, gpus) = holding(&pod.pod, PodGpuRequest::from_pod_info_lenient(pod));
        self.state.unplace(&request, &gpus);
    }

    /// The node as the GPU-sharing policies see it.
    pub fn state(&self) -> &NodeGpus {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::gpu::{ANNOTATION_GPU_COUNT, ANNOTATION_GPU_INDEX, ANNOTATION_GPU_MILLI};
    use crate::scheduler::gpu::pod_gpu::GpuTag;
    use crate::scheduler::gpu::test_util::{self, gpu_pod as pod};

    fn gpu_node(count: u32, model: &str) -> (Node, Resources) {
        let node = test_util::gpu_node("n", model, count, "32");
        let allocatable = Resources::from_list(&node.status.effective_allocatable());
        (node, allocatable)
    }

    #[test]
    fn gpus_come_from_the_pods_index_annotations() {
        let (node, allocatable) = gpu_node(4, "T4");
        let share = pod(
            "2",
            &[
                (ANNOTATION_GPU_COUNT, "1"),
                (ANNOTATION_GPU_MILLI, "300"),
                (ANNOTATION_GPU_INDEX, "2"),
            ],
        );
        let pair = pod(
            "4",
            &[
                (ANNOTATION_GPU_COUNT, "2"),
                (ANNOTATION_GPU_MILLI, "1000"),
                (ANNOTATION_GPU_INDEX, "0-1"),
            ],
        );
        // Asks for GPU but was never given one (no gpu-index): holds none, keeps its tag.
        let unplaced = pod(
            "1",
            &[(ANNOTATION_GPU_COUNT, "1"), (ANNOTATION_GPU_MILLI, "500")],
        );
        let cpu_only = pod("8", &[]);
        let mut info = GpuNodeInfo::build(&node, &allocatable, [&share, &pair, &unplaced])
            .expect("a GPU node");
        // Added and removed as the scheduler's cache does, through the pods' `PodInfo`s.
        let info_of = |p: &Pod| PodInfo::new(std::sync::Arc::new(p.clone()));
        info.add_pod(&info_of(&cpu_only));
        let s = info.state();
        assert_eq!(s.model, "T4");
        assert_eq!(s.gpu_left, vec![0, 0, 700, 1000]);
        // 32 cores − (2 + 4 + 1 + 8) = 17 cores left.
        assert_eq!(
            (s.cpu_left, s.mem_left, s.pods_left),
            (17_000, 262_144, 106)
        );
        assert_eq!(s.gpu_tags, vec![(GpuTag::Share, 2), (GpuTag::Gpus(2), 1)]);
        // Removing pods gives back what they held.
        info.remove_pod(&info_of(&pair));
        info.remove_pod(&info_of(&cpu_only));
        assert_eq!(info.state().gpu_left, vec![1000, 1000, 700, 1000]);
        assert_eq!(info.state().cpu_left, 29_000);
        assert_eq!(info.state().gpu_tags, vec![(GpuTag::Share, 2)]);
    }

    #[test]
    fn only_nodes_declaring_gpus_have_gpu_state() {
        let (node, allocatable) = gpu_node(0, "T4");
        assert!(GpuNodeInfo::build(&node, &allocatable, []).is_none());
        let (node, allocatable) = gpu_node(2000, "T4");
        assert!(
            GpuNodeInfo::build(&node, &allocatable, []).is_none(),
            "over 1024 GPUs"
        );
        let (node, allocatable) = gpu_node(8, "");
        let info = GpuNodeInfo::build(&node, &allocatable, []).expect("a GPU node");
        assert_eq!(
            (info.state().gpu_count(), info.state().model.as_str()),
            (8, "")
        );
    }
}
