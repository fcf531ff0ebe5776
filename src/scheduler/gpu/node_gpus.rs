//! Per-node GPU-sharing state ([`NodeGpus`]): the GPU model, what is left of CPU, memory, pod
//! slots and each GPU (in milli, by GPU index — the index order decides which GPU a pod gets),
//! and the GpuClustering tags of the GPU pods placed on the node. Placing a pod updates it
//! (fgd-spec §1.4: `cpuLeft -= cpu`, `memLeft -= mem`, chosen GPUs `-= milli`); removing it
//! ([`NodeGpus::unplace`]) gives all of that back.

use super::pod_gpu::{GpuTag, PodGpuRequest};
use crate::api::gpu::GPU_MILLI;
use crate::workload::openb::NodeSpec;

/// One node as the GPU-sharing policies see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeGpus {
    /// GPU model (`""` for a node without GPUs).
    pub model: String,
    /// Unrequested CPU in millicores.
    pub cpu_left: i64,
    /// Unrequested memory in MiB.
    pub mem_left: i64,
    /// Free pod slots.
    pub pods_left: i64,
    /// Unallocated milli of each GPU, by GPU index (each GPU has 1000).
    pub gpu_left: Vec<i64>,
    /// GpuClustering tags of the GPU pods on the node with their counts, sorted by tag.
    pub gpu_tags: Vec<(GpuTag, u32)>,
}

impl NodeGpus {
    /// An empty node of this spec.
    pub fn new(spec: &NodeSpec) -> Self {
        NodeGpus::with_gpus(
            &spec.model,
            spec.cpu_milli,
            spec.memory_mib,
            vec![GPU_MILLI; spec.gpus as usize],
        )
        .with_max_pods(spec.max_pods)
    }

    /// A node in a given state, without pods' tags (tests and examples): `gpu_left` by index.
    pub fn with_gpus(model: &str, cpu_left: i64, mem_left: i64, gpu_left: Vec<i64>) -> Self {
        NodeGpus {
            model: model.to_owned(),
            cpu_left,
            mem_left,
            pods_left: crate::workload::openb::DEFAULT_MAX_PODS,
            gpu_left,
            gpu_tags: Vec::new(),
        }
    }

    /// The same node with `max_pods` free pod slots.
    pub fn with_max_pods(mut self, max_pods: i64) -> Self {
        self.pods_left = max_pods;
        self
    }

    /// Number of GPUs.
    pub fn gpu_count(&self) -> usize {
        self.gpu_left.len()
    }

    /// Idle GPU milli `I = Σ gpuLeft`.
    pub fn idle_milli(&self) -> i64 {
        self.gpu_left.iter().sum()
    }

    /// Allocated GPU milli `N·1000 − Σ gpuLeft`.
    pub fn allocated_milli(&self) -> i64 {
        self.gpu_left.len() as i64 * GPU_MILLI - self.idle_milli()
    }

    /// Number of fully free GPUs (`gpuLeft = 1000`).
    pub fn fully_free(&self) -> usize {
        self.gpu_left.iter().filter(|&&g| g >= GPU_MILLI).count()
    }

    /// Number of GPUs with at least `milli` left.
    pub fn gpus_with_at_least(&self, milli: i64) -> usize {
        self.gpu_left.iter().filter(|&&g| g >= milli).count()
    }

    /// Places `pod` here on the GPUs `gpus` (indices, as the policy chose them): takes its CPU,
    /// memory, one pod slot and `gpu_milli` of each chosen GPU, and records its tag.
    pub fn place(&mut self, pod: &PodGpuRequest, gpus: &[usize]) {
        self.cpu_left -= pod.cpu_milli;
        self.mem_left -= pod.memory_mib;
        self.pods_left -= 1;
        for &g in gpus {
            if let Some(left) = self.gpu_left.get_mut(g) {
                *left -= pod.gpu_milli;
            }
        }
        if let Some(tag) = pod.tag() {
            match self.gpu_tags.binary_search_by(|(t, _)| t.cmp(&tag)) {
                Ok(i) => self.gpu_tags[i].1 += 1,
                Err(i) => self.gpu_tags.insert(i, (tag, 1)),
            }
        }
    }

    /// Undoes [`NodeGpus::place`] of `pod` on `gpus`: the pod leaves the node (the scheduler's
    /// cache removes pods that were deleted, preempted or whose bind failed).
    pub fn unplace(&mut self, pod: &PodGpuRequest, gpus: &[usize]) {
        self.cpu_left += pod.cpu_milli;
        self.mem_left += pod.memory_mib;
        self.pods_left += 1;
        for &g in gpus {
            if let Some(left) = self.gpu_left.get_mut(g) {
                *left += pod.gpu_milli;
            }
        }
        if let Some(tag) = pod.tag()
            && let Ok(i) = self.gpu_tags.binary_search_by(|(t, _)| t.cmp(&tag))
        {
            self.gpu_tags[i].1 -= 1;
            if self.gpu_tags[i].1 == 0 {
                self.gpu_tags.remove(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placing_takes_resources_and_records_tags() {
        let spec = NodeSpec {
            name: "n".into(),
            cpu_milli: 32000,
            memory_mib: 1024,
            gpus: 4,
            model: "T4".into(),
            max_pods: 1001,
        };
        let mut node = NodeGpus::new(&spec);
        assert_eq!(node.gpu_left, vec![1000; 4]);
        assert_eq!((node.idle_milli(), node.fully_free()), (4000, 4));
        node.place(&PodGpuRequest::new(4000, 100, 1, 300, ""), &[2]);
        node.place(&PodGpuRequest::new(1000, 100, 2, 1000, ""), &[0, 1]);
        node.place(&PodGpuRequest::new(1000, 100, 1, 300, ""), &[2]);
        node.place(&PodGpuRequest::new(1000, 100, 0, 0, ""), &[]);
        assert_eq!(node.gpu_left, vec![0, 0, 400, 1000]);
        assert_eq!(
            (node.cpu_left, node.mem_left, node.pods_left),
            (25000, 624, 997)
        );
        assert_eq!(node.allocated_milli(), 2600);
        assert_eq!(node.gpus_with_at_least(400), 2);
        assert_eq!(
            node.gpu_tags,
            vec![(GpuTag::Share, 2), (GpuTag::Gpus(2), 1)]
        );
        // Removing the 2-GPU pod and one sharing pod gives back exactly what they took.
        node.unplace(&PodGpuRequest::new(1000, 100, 2, 1000, ""), &[0, 1]);
        node.unplace(&PodGpuRequest::new(4000, 100, 1, 300, ""), &[2]);
        assert_eq!(node.gpu_left, vec![1000, 1000, 700, 1000]);
        assert_eq!(
            (node.cpu_left, node.mem_left, node.pods_left),
            (30000, 824, 999)
        );
        assert_eq!(node.gpu_tags, vec![(GpuTag::Share, 1)]);
    }
}
