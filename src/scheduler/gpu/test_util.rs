//! Test fixtures of the GPU-sharing tests: fgd-spec §6's typical pods, nodes declaring GPUs as
//! the artifact's node YAML does, and pods asking with the artifact's annotations.

use super::TypicalPods;
use super::typical_pods::PodTypeKey;
use crate::api::gpu::{LABEL_GPU_MODEL, RESOURCE_GPU_COUNT};
use crate::api::node::Node;
use crate::api::pod::{Container, Pod};

/// The typical list of fgd-spec §6: A=(4000, 500×1, any) p=0.4; B=(8000, 1000×1, any) p=0.3;
/// C=(2000, CPU-only) p=0.1; D=(16000, 1000×2, "V100M32") p=0.2 — as counts 4, 3, 1, 2 of 10.
pub fn spec_example_typical() -> TypicalPods {
    let key = |cpu, milli, n, spec: &str| PodTypeKey {
        cpu_milli: cpu,
        gpu_milli: milli,
        num_gpu: n,
        gpu_spec: spec.to_owned(),
    };
    TypicalPods::from_counts(vec![
        (key(4000, 500, 1, ""), 4),
        (key(8000, 1000, 1, ""), 3),
        (key(2000, 0, 0, ""), 1),
        (key(16000, 1000, 2, "V100M32"), 2),
    ])
}

/// A node with `gpus` GPUs (`alibabacloud.com/gpu-count`, written even when 0) of `model`,
/// `cpu` CPUs, 256 Gi of memory and 110 pod slots.
pub fn gpu_node(name: &str, model: &str, gpus: u32, cpu: &str) -> Node {
    let mut node = Node::default();
    node.metadata.name = name.into();
    node.metadata
        .labels
        .insert(LABEL_GPU_MODEL.into(), model.into());
    node.status.allocatable = [
        ("cpu", cpu.to_string()),
        ("memory", "256Gi".to_string()),
        ("pods", "110".to_string()),
        (RESOURCE_GPU_COUNT, gpus.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.parse().expect("a test quantity")))
    .collect();
    node
}

/// A pod of one container requesting `cpu`, with `annotations`.
pub fn gpu_pod(cpu: &str, annotations: &[(&str, &str)]) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = "p".into();
    let mut c = Container::default();
    c.resources.requests = [("cpu".to_string(), cpu.parse().expect("a test quantity"))].into();
    std::sync::Arc::make_mut(&mut pod.spec).containers.push(c);
    for (k, v) in annotations {
        pod.metadata.annotations.insert((*k).into(), (*v).into());
    }
    pod
}
