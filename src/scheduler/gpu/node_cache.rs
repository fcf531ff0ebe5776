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
use crate::api::node::Node;
use crate::api::pod::Pod;
use crate::api::resources::{ResourceList, Resources};
use crate::scheduler::node_info::PodInfo;
use crate::workload::openb::{
    GPU_MILLI, LABEL_GPU_MODEL, MAX_GPUS_PER_NODE, RESOURCE_GPU_COUNT, RESOURCE_GPU_MILLI,
};

/// A GPU node's state in the scheduler's cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuNodeInfo {
    state: NodeGpus,
}

/// The number of GPUs a node declares (`alibabacloud.com/gpu-count` in its allocatable, as
/// [`Resources`]), when it is from 1 to [`MAX_GPUS_PER_NODE`]; `None` otherwise.
pub fn node_gpu_count(allocatable: &Resources) -> Option<u32> {
    u32::try_from(allocatable.get(RESOURCE_GPU_COUNT))
        .ok()
        .filter(|n| (1..=MAX_GPUS_PER_NODE).contains(n))
}

/// Checks a node's GPU declaration in a resource list (its allocatable or capacity), as a
/// scenario is loaded: `alibabacloud.com/gpu-count` a whole number from 0 to
/// [`MAX_GPUS_PER_NODE`], and `alibabacloud.com/gpu-milli`, when given, 1000 per GPU. The error
/// says what was expected.
pub fn validate_gpu_declaration(list: &ResourceList) -> Result<(), String> {
    let Some(count) = list.get(RESOURCE_GPU_COUNT) else {
        return match list.get(RESOURCE_GPU_MILLI) {
            Some(_) => Err(format!(
                "{RESOURCE_GPU_MILLI} without {RESOURCE_GPU_COUNT}; expected the number of GPUs \
                 as {RESOURCE_GPU_COUNT} (and {GPU_MILLI} milli per GPU)"
            )),
            None => Ok(()),
        };
    };
    let milli = count.milli_value();
    let gpus = milli / 1000;
    if milli % 1000 != 0 || !(0..=i64::from(MAX_GPUS_PER_NODE)).contains(&gpus) {
        return Err(format!(
            "{RESOURCE_GPU_COUNT}: expected a whole number of GPUs from 0 to {MAX_GPUS_PER_NODE}, \
             found {count}"
        ));
    }
    match list.get(RESOURCE_GPU_MILLI) {
        Some(total) if total.milli_value() != gpus * GPU_MILLI * 1000 => Err(format!(
            "{RESOURCE_GPU_MILLI}: expected {GPU_MILLI} per GPU, {} for {gpus} GPU(s), found {}",
            gpus * GPU_MILLI,
            total.value()
        )),
        _ => Ok(()),
    }
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
    use crate::api::quantity::Quantity;
    use crate::scheduler::gpu::pod_gpu::{
        ANNOTATION_GPU_COUNT, ANNOTATION_GPU_INDEX, ANNOTATION_GPU_MILLI, GpuTag,
    };
    use crate::scheduler::gpu::test_util::{self, gpu_pod as pod};

    fn q(text: &str) -> Quantity {
        text.parse().expect("test quantity")
    }

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
    fn gpu_declarations_are_checked_at_load() {
        let list = |pairs: &[(&str, &str)]| -> ResourceList {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), q(v)))
                .collect()
        };
        assert_eq!(validate_gpu_declaration(&list(&[("cpu", "8")])), Ok(()));
        let ok = list(&[(RESOURCE_GPU_COUNT, "4"), (RESOURCE_GPU_MILLI, "4000")]);
        assert_eq!(validate_gpu_declaration(&ok), Ok(()));
        assert_eq!(
            validate_gpu_declaration(&list(&[(RESOURCE_GPU_COUNT, "1500m")])),
            Err(
                "alibabacloud.com/gpu-count: expected a whole number of GPUs from 0 to 1024, \
                 found 1500m"
                    .into()
            )
        );
        assert_eq!(
            validate_gpu_declaration(&list(&[
                (RESOURCE_GPU_COUNT, "2"),
                (RESOURCE_GPU_MILLI, "1000")
            ])),
            Err(
                "alibabacloud.com/gpu-milli: expected 1000 per GPU, 2000 for 2 GPU(s), found 1000"
                    .into()
            )
        );
        assert!(validate_gpu_declaration(&list(&[(RESOURCE_GPU_MILLI, "1000")])).is_err());
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
