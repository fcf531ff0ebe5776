//! GPU-sharing measures of a cluster run (fgd-spec §4), taken from the store: GPU allocation —
//! the GPU milli that bound pods hold over the cluster's GPU capacity — and GPU fragmentation
//! `F_cluster = Σ_nodes F(node)` against the target workload (the typical pods of every pod that
//! exists, [`crate::scheduler::gpu::workload`]), as an amount and as a share of the idle GPU.
//!
//! A node's GPU state is what its bound, unfinished pods hold by their `gpu-index` annotations,
//! built the way the scheduler's cache builds it ([`GpuNodeInfo`]). Only nodes declaring GPUs
//! count; a run without them has no GPU sample at all.

use std::collections::BTreeMap;

use crate::api::gpu::GPU_MILLI;
use crate::api::node::Node;
use crate::api::pod::Pod;
use crate::api::resources::Resources;
use crate::api::{Kind, Object};
use crate::apiserver::Store;
use crate::scheduler::gpu::fragmentation::ClusterFrag;
use crate::scheduler::gpu::node_cache::GpuNodeInfo;
use crate::scheduler::gpu::workload::typical_of;

/// The GPU side of one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpuSample {
    /// Nodes with GPUs.
    pub nodes: u64,
    /// GPUs of those nodes.
    pub gpus: u64,
    /// GPU milli the bound pods hold.
    pub allocated_milli: i64,
    /// Cluster fragmentation against the target workload.
    pub frag: ClusterFrag,
    /// Pods in the target workload.
    pub workload_pods: u64,
    /// Distinct pod types among them.
    pub workload_types: usize,
    /// Types in the typical (95 %) prefix.
    pub typical_types: usize,
}

impl GpuSample {
    /// GPU capacity in milli (1000 per GPU).
    pub fn capacity_milli(&self) -> i64 {
        self.gpus as i64 * GPU_MILLI
    }

    /// `100 · allocated / capacity` (0 without GPUs).
    pub fn allocation_pct(&self) -> f64 {
        percent(self.allocated_milli as f64, self.capacity_milli())
    }

    /// Fragmentation amount as a percent of the GPU capacity (`100 · F_cluster / capacity`).
    pub fn frag_amount_pct(&self) -> f64 {
        percent(self.frag.amount_milli(), self.capacity_milli())
    }

    /// Fragmentation as a percent of the idle GPU (`100 · F_cluster / I_cluster`).
    pub fn frag_ratio_pct(&self) -> f64 {
        self.frag.ratio_pct()
    }
}

fn percent(part: f64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        100.0 * part / whole as f64
    }
}

/// The GPU sample of the cluster in `store`, given its GPU nodes with their allocatable (as
/// the caller already derived it).
pub fn sample(store: &Store, gpu_nodes: &[(&Node, &Resources)]) -> GpuSample {
    let mut on_node: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    let mut pods: Vec<&Pod> = Vec::new();
    for object in store.iter(Kind::Pod) {
        if let Object::Pod(pod) = &**object {
            pods.push(pod);
            if pod.is_bound() && !pod.is_terminal() {
                on_node
                    .entry(pod.spec.node_name.as_str())
                    .or_default()
                    .push(pod);
            }
        }
    }
    let typical = typical_of(pods.iter().copied());
    let states: Vec<_> = gpu_nodes
        .iter()
        .filter_map(|&(node, allocatable)| {
            let placed = on_node
                .get(node.metadata.name.as_str())
                .into_iter()
                .flatten()
                .copied();
            GpuNodeInfo::build(node, allocatable, placed).map(|info| info.state().clone())
        })
        .collect();
    GpuSample {
        nodes: states.len() as u64,
        gpus: states.iter().map(|s| s.gpu_count() as u64).sum(),
        allocated_milli: states.iter().map(|s| s.allocated_milli()).sum(),
        frag: ClusterFrag::of(&states, &typical),
        workload_pods: typical.pods(),
        workload_types: typical.distinct_types(),
        typical_types: typical.types().len(),
    }
}
