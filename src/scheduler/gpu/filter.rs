//! Feasibility (fgd-spec §1.3): whether a node fits a pod — the default Kubernetes resource
//! filter plus the Open-Gpu-Share filter, as the FGD experiments configure them.

use super::node_gpus::NodeGpus;
use super::pod_gpu::PodGpuRequest;

/// Whether `node` fits `pod`:
///
/// 1. `cpuLeft ≥ cpu`, `memLeft ≥ mem` and a free pod slot (NodeResourcesFit on actual requests);
/// 2. if the pod asks for GPU (`gpu_milli > 0`): the node has GPUs, its model is allowed (empty
///    spec: any), and at least `num_gpu` GPUs have `gpuLeft ≥ gpu_milli` (for one-GPU pods: some
///    GPU; for 1000-milli pods: fully free GPUs);
/// 3. CPU-only pods pass the GPU part on every node.
pub fn fits(node: &NodeGpus, pod: &PodGpuRequest) -> bool {
    if node.cpu_left < pod.cpu_milli || node.mem_left < pod.memory_mib || node.pods_left < 1 {
        return false;
    }
    if !pod.is_gpu() {
        return true;
    }
    node.gpu_count() > 0
        && pod.allows(&node.model)
        && node.gpus_with_at_least(pod.gpu_milli) >= pod.num_gpu as usize
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
        let full = node.clone().with_max_pods(0);
        assert!(
            !fits(&full, &PodGpuRequest::new(1, 1, 0, 0, "")),
            "pod slots"
        );
    }
}
