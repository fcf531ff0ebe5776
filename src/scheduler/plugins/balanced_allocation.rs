//! NodeResourcesBalancedAllocation: prefers nodes where, after placing the pod, the configured
//! resources would be used in similar proportions — score `(1 − σ) × 100` truncated, σ the
//! standard deviation of the requested/allocatable fractions (each capped at 1). It counts
//! actual requests (no non-zero defaults), and skips best-effort pods entirely so they do not
//! all pile onto the one most balanced node. Resource weights are accepted but unused.
//!
//! Upstream: `pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go` (with
//! `resource_allocation.go`); defaults from `pkg/scheduler/apis/config/v1/defaults.go`.

use serde::Deserialize;

use super::lanes::{self, LANES};
use super::node_resources_fit::{
    CpuMemory, NodeAmounts, ScoredResource, cycle_resources, default_resources, scored_resources,
};
use crate::config::kube_scheduler::ResourceSpec;
use crate::scheduler::framework::{CycleState, ExtensionPoints, MAX_NODE_SCORE, Plugin, Status};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// `NodeResourcesBalancedAllocationArgs` (kubescheduler.config.k8s.io/v1).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeResourcesBalancedAllocationArgs {
    /// Resources to balance (empty means cpu and memory).
    pub resources: Vec<ResourceSpec>,
}

impl Default for NodeResourcesBalancedAllocationArgs {
    fn default() -> Self {
        NodeResourcesBalancedAllocationArgs {
            resources: default_resources(),
        }
    }
}

impl NodeResourcesBalancedAllocationArgs {
    /// Checks the (defaulted) resources as upstream's validation does: each named once, each
    /// of weight 1 (the formula does not use weights).
    pub fn validate(&self) -> Result<(), String> {
        for (i, r) in scored_resources(&self.resources).iter().enumerate() {
            if self.resources[..i].iter().any(|o| o.name == r.name) {
                return Err(format!(
                    "resources[{i}].name: Duplicate value: {:?}",
                    r.name
                ));
            }
            if r.weight != 1 {
                return Err(format!(
                    "resources[{i}].weight: Invalid value: {}: must be 1",
                    r.weight
                ));
            }
        }
        Ok(())
    }
}

/// What PreScore keeps: the pod's actual request of each configured resource, in order.
struct PreScoreState {
    pod_requests: Vec<i64>,
}

/// The NodeResourcesBalancedAllocation score plugin.
#[derive(Clone, Debug)]
pub struct BalancedAllocation {
    resources: Vec<ScoredResource>,
}

impl Default for BalancedAllocation {
    fn default() -> Self {
        BalancedAllocation::new(NodeResourcesBalancedAllocationArgs::default())
    }
}

impl BalancedAllocation {
    /// The plugin with `args` (empty resources default to cpu and memory, as upstream).
    pub fn new(args: NodeResourcesBalancedAllocationArgs) -> Self {
        let specs = if args.resources.is_empty() {
            default_resources()
        } else {
            args.resources
        };
        BalancedAllocation {
            resources: scored_resources(&specs),
        }
    }

    fn pod_requests(&self, pod: &PodInfo) -> Vec<i64> {
        self.resources
            .iter()
            .map(|r| pod.requests.get(&r.name))
            .collect()
    }

    /// `(1 − σ) × 100`, truncated, σ the standard deviation of the used fraction of each
    /// resource the node offers (capped at 1). Allocates nothing; the float operations are
    /// upstream's, in upstream's order.
    #[inline]
    fn balanced_score(node: &NodeInfo, amounts: impl NodeAmounts) -> i64 {
        let (mut n, mut total) = (0usize, 0.0f64);
        let (mut first, mut second) = (0.0f64, 0.0f64);
        amounts.each(node, true, |alloc, requested, _| {
            if alloc == 0 {
                return;
            }
            let f = (requested as f64 / alloc as f64).min(1.0);
            match n {
                0 => first = f,
                1 => second = f,
                _ => {}
            }
            total += f;
            n += 1;
        });
        let std = match n {
            // Two resources (the usual cpu + memory): σ = |f1 − f2| / 2.
            2 => ((first - second) / 2.0).abs(),
            0 | 1 => 0.0,
            _ => {
                let mean = total / n as f64;
                let mut sum = 0.0f64;
                amounts.each(node, true, |alloc, requested, _| {
                    if alloc != 0 {
                        let f = (requested as f64 / alloc as f64).min(1.0);
                        sum += (f - mean) * (f - mean);
                    }
                });
                (sum / n as f64).sqrt()
            }
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }

    /// [`BalancedAllocation::balanced_score`] for exactly cpu and memory (the default, scored
    /// on hundreds of nodes a cycle) on a node offering both: the same float operations in the
    /// same order, without the general path's bookkeeping.
    #[inline]
    fn balanced_cpu_memory(node: &NodeInfo, amounts: CpuMemory) -> i64 {
        let alloc = &node.allocatable;
        if alloc.milli_cpu == 0 || alloc.memory == 0 {
            return Self::balanced_score(node, amounts);
        }
        let (cpu_request, memory_request) = amounts.pod_requests();
        let used = &node.requested;
        let fraction =
            |requested: i64, allocatable: i64| (requested as f64 / allocatable as f64).min(1.0);
        let cpu = fraction(used.milli_cpu.saturating_add(cpu_request), alloc.milli_cpu);
        let memory = fraction(used.memory.saturating_add(memory_request), alloc.memory);
        let std = ((cpu - memory) / 2.0).abs();
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }

    /// [`BalancedAllocation::balanced_cpu_memory`] on every node, [`LANES`] nodes at a time.
    /// A group's amounts are gathered first; when all are in the usual range (capacities in
    /// `1..=2^51`, sums in `0..2^51`) one pass of float arithmetic, written with [`lanes`]'
    /// steps so that it runs on several nodes per instruction, scores the group. Any other
    /// group goes node by node.
    fn score_cpu_memory(amounts: CpuMemory, nodes: &[&NodeInfo], scores: &mut [i64]) {
        let (cpu_request, memory_request) = amounts.pod_requests();
        let group = |group: &[&NodeInfo; LANES], slots: &mut [i64; LANES]| {
            let mut used = [[0i64; LANES]; 2];
            let mut offered = [[0i64; LANES]; 2];
            for (i, node) in group.iter().enumerate() {
                let (alloc, requested) = (&node.allocatable, &node.requested);
                used[0][i] = requested.milli_cpu.wrapping_add(cpu_request);
                used[1][i] = requested.memory.wrapping_add(memory_request);
                offered[0][i] = alloc.milli_cpu;
                offered[1][i] = alloc.memory;
            }
            // Every value below 2^51: sums in 0..2^51 (a request below 0, or a sum that
            // wrapped, sets the sign bit), capacities in 1..=2^51.
            let mut high_bits = 0i64;
            for i in 0..LANES {
                high_bits |= used[0][i] | used[1][i];
                high_bits |= offered[0][i].wrapping_sub(1) | offered[1][i].wrapping_sub(1);
            }
            if high_bits >> lanes::LANE_BITS != 0 {
                return false;
            }
            for (i, slot) in slots.iter_mut().enumerate() {
                let fraction = |r: usize| {
                    (lanes::exact_f64(used[r][i]) / lanes::exact_f64(offered[r][i])).min(1.0)
                };
                let std = ((fraction(0) - fraction(1)) / 2.0).abs();
                // σ in 0..=0.5: a score in 50..=100, where truncating is flooring.
                let score = (1.0 - std) * MAX_NODE_SCORE as f64;
                *slot = lanes::whole_to_i64(lanes::floor(score));
            }
            true
        };
        lanes::score_in_groups(nodes, scores, group, |node| {
            Self::balanced_cpu_memory(node, amounts)
        });
    }

    /// Every node's score, reading resources with `amounts`.
    fn score_all(amounts: impl NodeAmounts, nodes: &[&NodeInfo], scores: &mut [i64]) {
        for (slot, node) in scores.iter_mut().zip(nodes) {
            *slot = Self::balanced_score(node, amounts);
        }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            pre_score: true,
            score: true,
            ..ExtensionPoints::default()
        }
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _snapshot: &Snapshot,
    ) -> Status {
        let pod_requests = self.pod_requests(pod);
        if pod_requests.iter().all(|&r| r == 0) {
            // Best-effort pod: every node would look alike and the most balanced one would
            // collect them all (kubernetes#129138).
            return Status::skip();
        }
        state.write(NAME, PreScoreState { pod_requests });
        Status::success()
    }

    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let mut score = [0];
        self.score_nodes(state, pod, &[node], &mut score)?;
        Ok(score[0])
    }

    /// Every node with one read of the cycle state and the resources resolved once.
    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Result<(), Status> {
        let fallback;
        let pod_requests = match state.read::<PreScoreState>(NAME) {
            Some(s) => s.pod_requests.as_slice(),
            // PreScore did not run (not enabled at that point): compute here, as upstream.
            None => {
                fallback = self.pod_requests(pod);
                if fallback.iter().all(|&r| r == 0) {
                    scores.fill(0);
                    return Ok(());
                }
                fallback.as_slice()
            }
        };
        match CpuMemory::configured(&self.resources, pod_requests) {
            Some(cpu_memory) => Self::score_cpu_memory(cpu_memory, nodes, scores),
            None => {
                let resources = cycle_resources(&self.resources, pod_requests);
                Self::score_all(resources.as_slice(), nodes, scores);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::test_util::{NodeBuilder, PodBuilder, score};
    use proptest::strategy::{Just, Strategy};

    fn pod(requests: &[(&str, &str)]) -> PodInfo {
        PodBuilder::new("p").container(requests).info()
    }

    /// A node with `capacity` (cpu, memory) and `requested` (cpu, memory).
    fn node_with(capacity: (i64, i64), requested: (i64, i64)) -> NodeInfo {
        let mut node = NodeBuilder::new("n").info();
        (node.allocatable.milli_cpu, node.allocatable.memory) = capacity;
        (node.requested.milli_cpu, node.requested.memory) = requested;
        node
    }

    /// Each node's score by the batch path, by the one-node fast path and by the general one.
    fn three_ways(nodes: &[NodeInfo], pod: (i64, i64)) -> [Vec<i64>; 3] {
        let plugin = BalancedAllocation::default();
        let amounts = CpuMemory::configured(&plugin.resources, &[pod.0, pod.1]);
        let amounts = amounts.unwrap_or_else(|| panic!("cpu and memory are the defaults"));
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut batch = vec![0; nodes.len()];
        BalancedAllocation::score_cpu_memory(amounts, &refs, &mut batch);
        let one = |score: fn(&NodeInfo, CpuMemory) -> i64| {
            nodes.iter().map(|n| score(n, amounts)).collect::<Vec<_>>()
        };
        [
            batch,
            one(BalancedAllocation::balanced_cpu_memory),
            one(BalancedAllocation::balanced_score),
        ]
    }

    /// A node in the batch path's usual range: capacities up to 2^51 (often right at it)
    /// and anything from nothing to more than the whole node requested.
    fn usual_node() -> impl proptest::strategy::Strategy<Value = NodeInfo> {
        let memory = proptest::prop_oneof![Just(1i64 << 51), 1i64..=(1 << 51)];
        (1i64..200_000, memory, 0i64..=1500, 0i64..=1500).prop_map(|(cpu, mem, fc, fm)| {
            node_with((cpu, mem), (cpu / 1000 * fc, mem / 1000 * fm))
        })
    }

    proptest::proptest! {
        /// The batch path (a full group of `LANES` nodes and the rest) and the one-node fast
        /// path score every node as the general path does.
        #[test]
        fn cpu_memory_paths_match_the_general_one(
            nodes in proptest::collection::vec(usual_node(), LANES + 3),
            pod_cpu in 0i64..10_000,
            pod_memory in 0i64..(1 << 36),
        ) {
            let [batch, one, general] = three_ways(&nodes, (pod_cpu, pod_memory));
            proptest::prop_assert_eq!(&batch, &general);
            proptest::prop_assert_eq!(&one, &general);
        }

        /// A node outside the usual range (a capacity of 0, below 0 or past 2^51, a sum past
        /// `i64::MAX`) or a request below 0 sends its group down the general path's saturating
        /// arithmetic, with the general path's scores.
        #[test]
        fn batch_path_matches_the_general_one_at_the_extremes(
            mut nodes in proptest::collection::vec(usual_node(), LANES + 3),
            at in 0..LANES + 3,
            field in 0usize..4,
            value in proptest::prop_oneof![
                Just(0i64), Just(-4000), Just((1 << 51) + 1), Just(i64::MAX), Just(i64::MAX - 5)
            ],
            pod_cpu in proptest::prop_oneof![Just(-100i64), Just(i64::MAX), 0i64..10_000],
        ) {
            let node = &mut nodes[at];
            match field {
                0 => node.allocatable.milli_cpu = value,
                1 => node.allocatable.memory = value,
                2 => node.requested.milli_cpu = value,
                _ => node.requested.memory = value,
            }
            let [batch, _, general] = three_ways(&nodes, (pod_cpu, 1 << 29));
            proptest::prop_assert_eq!(batch, general);
        }
    }

    fn with_resources(names: &[&str]) -> BalancedAllocation {
        BalancedAllocation::new(NodeResourcesBalancedAllocationArgs {
            resources: names.iter().map(|n| ResourceSpec::new(n, 1)).collect(),
        })
    }

    #[test]
    fn two_resources_use_half_the_difference() {
        // Node 4000m / 10000 with a pod using 1000m / 2000; the pod adds 1000m / 2000.
        // cpu 2000/4000 = 0.5, memory 4000/10000 = 0.4; σ = |0.5 − 0.4|/2 = 0.05;
        // (1 − 0.05)·100 = 95.
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4000m"), ("memory", "10000"), ("pods", "32")])
            .with_pods(vec![pod(&[("cpu", "1000m"), ("memory", "2000")])]);
        let p = pod(&[("cpu", "1000m"), ("memory", "2000")]);
        assert_eq!(
            score(&BalancedAllocation::default(), &p, vec![node]),
            Ok(vec![95])
        );
    }

    #[test]
    fn balanced_and_unbalanced_nodes() {
        // The pod takes 3000/6000 = 0.5 of cpu and 5000/10000 = 0.5 of memory: σ 0 → 100.
        let even = NodeBuilder::new("even")
            .allocatable(&[("cpu", "6000m"), ("memory", "10000"), ("pods", "32")])
            .info();
        let p = pod(&[("cpu", "3000m"), ("memory", "5000")]);
        assert_eq!(
            score(&BalancedAllocation::default(), &p, vec![even]),
            Ok(vec![100])
        );
        // A cpu-only pod filling a node's cpu: cpu 1, memory 0 (actual requests, no 200 MiB
        // default): σ = 0.5 → 50.
        let skewed = NodeBuilder::new("skewed")
            .allocatable(&[("cpu", "3000m"), ("memory", "5000"), ("pods", "32")])
            .info();
        let cpu_only = pod(&[("cpu", "3000m")]);
        assert_eq!(
            score(&BalancedAllocation::default(), &cpu_only, vec![skewed]),
            Ok(vec![50])
        );
    }

    #[test]
    fn fractions_are_capped_at_one() {
        // cpu 8000/4000 = 2 → capped to 1; memory 5000/10000 = 0.5; σ = 0.25 → 75.
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4000m"), ("memory", "10000"), ("pods", "32")])
            .info();
        let p = pod(&[("cpu", "8000m"), ("memory", "5000")]);
        assert_eq!(
            score(&BalancedAllocation::default(), &p, vec![node]),
            Ok(vec![75])
        );
    }

    #[test]
    fn three_resources_use_the_population_standard_deviation() {
        // cpu 2000/4000 = 0.5, memory 5000/10000 = 0.5, gpu 2/2 = 1.
        // mean = 2/3; squares (1/6)², (1/6)², (1/3)² = 1/36 + 1/36 + 4/36 = 1/6; /3 = 1/18;
        // σ = √(1/18) ≈ 0.2357; (1 − 0.2357)·100 = 76.43 → 76.
        let pl = with_resources(&["cpu", "memory", "nvidia.com/gpu"]);
        let node = NodeBuilder::new("n")
            .allocatable(&[
                ("cpu", "4000m"),
                ("memory", "10000"),
                ("nvidia.com/gpu", "2"),
                ("pods", "32"),
            ])
            .info();
        let p = pod(&[
            ("cpu", "2000m"),
            ("memory", "5000"),
            ("nvidia.com/gpu", "2"),
        ]);
        assert_eq!(score(&pl, &p, vec![node.clone()]), Ok(vec![76]));
        // Without a gpu request the gpu is left out and the two-resource rule applies:
        // 0.5 and 0.5 → 100.
        let no_gpu = pod(&[("cpu", "2000m"), ("memory", "5000")]);
        assert_eq!(score(&pl, &no_gpu, vec![node]), Ok(vec![100]));
    }

    #[test]
    fn a_resource_the_node_lacks_is_left_out() {
        // Ephemeral storage configured but not offered (allocatable 0): only cpu and memory
        // remain: cpu 1000/4000 = 0.25, memory 7500/10000 = 0.75; σ = 0.25 → 75.
        let pl = with_resources(&["cpu", "memory", "ephemeral-storage"]);
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4000m"), ("memory", "10000"), ("pods", "32")])
            .info();
        let p = pod(&[
            ("cpu", "1000m"),
            ("memory", "7500"),
            ("ephemeral-storage", "1"),
        ]);
        assert_eq!(score(&pl, &p, vec![node]), Ok(vec![75]));
        // A single remaining fraction has σ 0 → 100.
        let cpu_only = with_resources(&["cpu"]);
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4000m"), ("pods", "32")])
            .info();
        assert_eq!(score(&cpu_only, &p, vec![node]), Ok(vec![100]));
    }

    #[test]
    fn node_usage_counts_actual_requests_not_the_non_zero_defaults() {
        // A best-effort pod already on the node requests nothing (scoring elsewhere would count
        // it as 100m / 200 MiB). cpu 2000/4000 = 0.5; memory 5000/10000 = 0.5 → 100.
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4000m"), ("memory", "10000"), ("pods", "32")])
            .with_pods(vec![PodBuilder::new("be").container(&[]).info()]);
        let p = pod(&[("cpu", "2000m"), ("memory", "5000")]);
        assert_eq!(
            score(&BalancedAllocation::default(), &p, vec![node]),
            Ok(vec![100])
        );
    }

    #[test]
    fn best_effort_pods_skip() {
        let node = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4000m"), ("memory", "10000"), ("pods", "32")])
            .info();
        let be = PodBuilder::new("be").container(&[]).info();
        let r = score(&BalancedAllocation::default(), &be, vec![node]);
        assert!(r.is_err_and(|s| s.is_skip()));
    }

    #[test]
    fn args_default_and_parse() {
        let args: NodeResourcesBalancedAllocationArgs = serde_json::from_str("{}").expect("args");
        assert_eq!(args.resources, default_resources());
        // A weight left out is 1 (defaulting); upstream requires exactly 1, as the formula
        // does not use weights.
        let args: NodeResourcesBalancedAllocationArgs = serde_json::from_str(
            r#"{"resources":[{"name":"cpu","weight":1},{"name":"nvidia.com/gpu"}]}"#,
        )
        .expect("args");
        assert_eq!(args.validate(), Ok(()));
        assert_eq!(args.resources[1].name, "nvidia.com/gpu");
        let heavy = NodeResourcesBalancedAllocationArgs {
            resources: vec![ResourceSpec::new("cpu", 2)],
        };
        assert_eq!(
            heavy.validate(),
            Err("resources[0].weight: Invalid value: 2: must be 1".into())
        );
        let twice = NodeResourcesBalancedAllocationArgs {
            resources: vec![ResourceSpec::new("cpu", 1), ResourceSpec::new("cpu", 1)],
        };
        assert_eq!(
            twice.validate(),
            Err("resources[1].name: Duplicate value: \"cpu\"".into())
        );
    }
}
