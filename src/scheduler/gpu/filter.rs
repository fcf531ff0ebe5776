//! Feasibility (fgd-spec §1.3): whether a node fits a pod — the default Kubernetes resource
//! filter plus the Open-Gpu-Share filter, as the FGD experiments configure them. [`gpu_fit`] is
//! the Open-Gpu-Share part alone (the framework plugin runs it beside NodeResourcesFit).

use super::node_gpus::NodeGpus;
use super::pod_gpu::PodGpuRequest;

/// The Open-Gpu-Share verdict on one node, with the reason a node is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuFit {
    /// The pod asks for no GPU, or the node has what it asks.
    Fits,
    /// The node has no GPU.
    NoGpus,
    /// The node's GPU model is not among the pod's `gpu-card-model` list.
    ModelNotAllowed,
    /// Fewer than `num_gpu` GPUs have `gpu_milli` left.
    InsufficientGpu,
}

/// The GPU part of [`fits`] (`open_gpu_share.go: Filter`): a pod asking for GPU
/// (`gpu_milli > 0`) needs a node with GPUs, of an allowed model (empty spec: any), with at least
/// `num_gpu` GPUs having `gpuLeft ≥ gpu_milli` (for one-GPU pods: some GPU; for 1000-milli pods:
/// fully free GPUs). CPU-only pods fit every node.
pub fn gpu_fit(node: &NodeGpus, pod: &PodGpuRequest) -> GpuFit {
    if !pod.is_gpu() {
        GpuFit::Fits
    } else if node.gpu_count() == 0 {
        GpuFit::NoGpus
    } else if !pod.allows(&node.model) {
        GpuFit::ModelNotAllowed
    } else if node.gpus_with_at_least(pod.gpu_milli) < pod.num_gpu as usize {
        GpuFit::InsufficientGpu
    } else {
        GpuFit::Fits
    }
}

/// Whether `node` fits `pod`:
///
/// 1. `cpuLeft ≥ cpu`, `memLeft ≥ mem` and a free pod slot (NodeResourcesFit on actual requests);
/// 2. the GPU part, [`gpu_fit`].
pub fn fits(node: &NodeGpus, pod: &PodGpuRequest) -> bool {
    node.cpu_left >= pod.cpu_milli
        && node.mem_left >= pod.memory_mib
        && node.pods_left >= 1
        && gpu_fit(node, pod) == GpuFit::Fits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_checks_cpu_memory_model_and_gpu_counts() {
        let node = NodeGpus::with_gpus("V100M32", 8000, 4096, vec![1000, 300, 1000, 0]);
        let share = |cpu, mem, milli, spec: &str| PodGpuRequest::new(cpu, mem, 1, milli, spec);
        assert!(fits(&node, &share(8000, 4096, 300, "")));
        assert!(!fits(&node, &share(8001, 1, 300, "")), "CPU");
        assert!(!fits(&node, &share(1, 4097, 300, "")), "memory");
        assert!(fits(&node, &share(1, 1, 1000, "V100M16|V100M32")));
        assert!(!fits(&node, &share(1, 1, 100, "T4")), "model");
        assert!(fits(&node, &PodGpuRequest::new(1, 1, 2, 1000, "")));
        assert!(
            !fits(&node, &PodGpuRequest::new(1, 1, 3, 1000, "")),
            "3 free GPUs"
        );
        // CPU-only pods ignore the GPU part, even with a model written in the row.
        assert!(fits(&node, &PodGpuRequest::new(1, 1, 0, 0, "T4")));
        let no_gpus = NodeGpus::with_gpus("", 8000, 4096, vec![]);
        assert!(fits(&no_gpus, &PodGpuRequest::new(1, 1, 0, 0, "")));
        assert!(!fits(&no_gpus, &share(1, 1, 100, "")));
        assert_eq!(gpu_fit(&no_gpus, &share(1, 1, 100, "")), GpuFit::NoGpus);
        assert_eq!(
            gpu_fit(&node, &share(1, 1, 100, "T4")),
            GpuFit::ModelNotAllowed
        );
        assert_eq!(
            gpu_fit(&node, &PodGpuRequest::new(1, 1, 3, 1000, "")),
            GpuFit::InsufficientGpu
        );
        // The GPU part ignores CPU: 8001 m does not fit, yet the GPUs do.
        assert_eq!(gpu_fit(&node, &share(8001, 1, 300, "")), GpuFit::Fits);
        let full = node.clone().with_max_pods(0);
        assert!(
            !fits(&full, &PodGpuRequest::new(1, 1, 0, 0, "")),
            "pod slots"
        );
    }
}
