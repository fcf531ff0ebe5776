//! GPU fragmentation with respect to the target workload (fgd-spec §2.7, §4): a node's expected
//! fragment `F(node) = Σ_t p_t · f_t(node)` and the cluster's amount and ratio.
//!
//! With `p_t = count_t / total` (see [`TypicalPods`]), this module computes the *scaled* value
//! `F·total = Σ_t count_t · f_t`, an exact integer: sums over nodes do not depend on order, and
//! the FGD score's difference `old − new` is exact before the one floating-point step (sigmoid).

use super::node_gpus::NodeGpus;
use super::typical_pods::TypicalPods;

/// `F(state) · typical.total()` for a node state given by parts (used for hypothetical states):
///
/// with idle `I = Σ gpuLeft`, for each typical type `t` with count `c_t`:
/// * `f_t = I` if `t` is CPU-only (every idle GPU is a fragment to it);
/// * `f_t = I` if `t`'s model list excludes `model` (no access);
/// * `f_t = I` if fewer than `num_gpu_t` GPUs have `gpuLeft ≥ milli_t`, or `cpuLeft < cpu_t`;
/// * otherwise `f_t = Σ gpuLeft_g` over the GPUs with `gpuLeft_g < milli_t` (too small for it).
///
/// Memory is never considered.
pub fn frag_scaled(model: &str, cpu_left: i64, gpu_left: &[i64], typical: &TypicalPods) -> i64 {
    let idle: i64 = gpu_left.iter().sum();
    let mut sum = 0i64;
    for t in typical.types() {
        let f = if t.is_cpu_only() || !t.allows(model) || cpu_left < t.key.cpu_milli {
            idle
        } else {
            let milli = t.key.gpu_milli;
            let mut fitting = 0u32;
            let mut small = 0i64;
            for &left in gpu_left {
                if left >= milli {
                    fitting += 1;
                } else {
                    small += left;
                }
            }
            if fitting < t.key.num_gpu { idle } else { small }
        };
        // count ≤ pods in the trace and f ≤ the node's GPU milli: far from i64's range.
        sum += t.count as i64 * f;
    }
    sum
}

/// `F(node) · typical.total()`.
pub fn node_frag_scaled(node: &NodeGpus, typical: &TypicalPods) -> i64 {
    frag_scaled(&node.model, node.cpu_left, &node.gpu_left, typical)
}

/// `F(node)` in GPU milli.
pub fn node_frag_milli(node: &NodeGpus, typical: &TypicalPods) -> f64 {
    unscale(node_frag_scaled(node, typical), typical)
}

/// A scaled fragment back in milli (0 when there are no typical pods).
pub fn unscale(scaled: i64, typical: &TypicalPods) -> f64 {
    if typical.total() == 0 {
        0.0
    } else {
        scaled as f64 / typical.total() as f64
    }
}

/// Cluster fragmentation (fgd-spec §4): `F_cluster = Σ_nodes F(node)`, idle
/// `I_cluster = Σ_nodes Σ gpuLeft`, ratio `100 · F_cluster / I_cluster`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterFrag {
    /// `F_cluster · typical total` (exact).
    pub frag_scaled: i64,
    /// Idle GPU milli of the cluster.
    pub idle_milli: i64,
    /// The typical pods' total count (the scale of `frag_scaled`).
    pub typical_total: u64,
}

impl ClusterFrag {
    /// The fragmentation of these nodes.
    pub fn of(nodes: &[NodeGpus], typical: &TypicalPods) -> Self {
        ClusterFrag {
            frag_scaled: nodes.iter().map(|n| node_frag_scaled(n, typical)).sum(),
            idle_milli: nodes.iter().map(NodeGpus::idle_milli).sum(),
            typical_total: typical.total(),
        }
    }

    /// `F_cluster` in GPU milli.
    pub fn amount_milli(&self) -> f64 {
        if self.typical_total == 0 {
            0.0
        } else {
            self.frag_scaled as f64 / self.typical_total as f64
        }
    }

    /// `100 · F_cluster / I_cluster` (0 when nothing is idle).
    pub fn ratio_pct(&self) -> f64 {
        if self.idle_milli == 0 {
            0.0
        } else {
            100.0 * self.amount_milli() / self.idle_milli as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::gpu::test_util::spec_example_typical;

    fn f(model: &str, cpu: i64, gpus: &[i64]) -> f64 {
        let node = NodeGpus::with_gpus(model, cpu, 0, gpus.to_vec());
        node_frag_milli(&node, &spec_example_typical())
    }

    #[test]
    fn worked_examples_of_the_spec() {
        // T4, 32000, [1000×4]: I = 4000. A, B fit with no small GPU → 0; C: 0.1·4000 = 400;
        // D no access (T4 ∉ {V100M32}): 0.2·4000 = 800. F = 1200.
        assert_eq!(f("T4", 32000, &[1000, 1000, 1000, 1000]), 1200.0);
        // T4, 32000, [200,1000,1000,500]: I = 2700. A: only GPU 0 (200 < 500) is small →
        // 0.4·200 = 80; B: 200 + 500 small → 0.3·700 = 210; C: 0.1·2700 = 270; D: 0.2·2700 = 540.
        // F = 1100.
        assert_eq!(f("T4", 32000, &[200, 1000, 1000, 500]), 1100.0);
        // Same GPUs, cpuLeft 6000 < B's 8000: B counts all idle, 0.3·2700 = 810; A 80, C 270,
        // D 540. F = 1700.
        assert_eq!(f("T4", 6000, &[200, 1000, 1000, 500]), 1700.0);
        // V100M32, 20000, [1000,300]: I = 1300. A: 300 < 500 small → 120; B: 300 → 90;
        // C: 130; D needs 2 free GPUs, has 1 → 0.2·1300 = 260. F = 600.
        assert_eq!(f("V100M32", 20000, &[1000, 300]), 600.0);
        // V100M32, 20000, [1000,1000]: only C counts: 0.1·2000 = 200.
        assert_eq!(f("V100M32", 20000, &[1000, 1000]), 200.0);
    }

    #[test]
    fn cluster_sums_nodes_and_ratio_divides_by_idle() {
        let typical = spec_example_typical();
        let nodes = vec![
            NodeGpus::with_gpus("T4", 32000, 0, vec![1000; 4]),
            NodeGpus::with_gpus("V100M32", 20000, 0, vec![1000, 300]),
        ];
        let cluster = ClusterFrag::of(&nodes, &typical);
        // 1200 + 600 = 1800 milli over 4000 + 1300 idle = 33.96 %.
        assert_eq!(cluster.amount_milli(), 1800.0);
        assert_eq!(cluster.frag_scaled, 18000);
        assert!((cluster.ratio_pct() - 100.0 * 1800.0 / 5300.0).abs() < 1e-9);
        let none = ClusterFrag::of(&[NodeGpus::with_gpus("", 1, 1, vec![])], &typical);
        assert_eq!((none.amount_milli(), none.ratio_pct()), (0.0, 0.0));
    }
}
