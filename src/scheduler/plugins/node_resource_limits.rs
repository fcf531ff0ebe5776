//! NodeResourceLimits: a tie-breaker that gives 1 (not 100) to a node whose allocatable cpu
//! or memory covers the pod's limit of it, and 0 to the others. It is the plugin behind the
//! legacy Policy's `ResourceLimitsPriority`, which kube-scheduler ran only behind the alpha
//! feature gate `ResourceLimitsPriorityFunction` and removed in v1.19.
//!
//! * **PreScore** sums the pod's limits: app containers' limits added up, then each resource
//!   raised to any init container's limit of it (init containers run one at a time).
//! * **Score**: per resource, 1 when the pod's limit is set (non-zero), the node's allocatable
//!   is non-zero and the limit is at most the allocatable — the node's raw allocatable, not
//!   what is left of it; the node scores 1 when cpu or memory does, else 0. There is no
//!   NormalizeScore: the score stays 0 or 1, so with weight w it moves a node's total by at
//!   most w, enough to break ties between otherwise equal nodes.
//!
//! Upstream: `pkg/scheduler/framework/plugins/noderesources/resource_limits.go` of v1.18, its
//! last release.

use super::written_state;
use crate::api::resources::Resources;
use crate::scheduler::framework::{CycleState, ExtensionPoints, Plugin, Status};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "NodeResourceLimits";

/// What PreScore keeps for Score: the pod's cpu (millicores) and memory (bytes) limits.
struct PreScoreState {
    milli_cpu: i64,
    memory: i64,
}

/// The pod's limits as upstream's `getResourceLimits` sums them: the app containers' limits
/// added up, then the component-wise max with each init container's.
pub fn pod_limits(pod: &PodInfo) -> Resources {
    let spec = &pod.pod.spec;
    let mut total = Resources::default();
    for c in &spec.containers {
        total.add(&Resources::from_list(&c.resources.limits));
    }
    for c in &spec.init_containers {
        total.max_with(&Resources::from_list(&c.resources.limits));
    }
    total
}

/// 1 when `limit` is set and fits in a non-zero `allocatable`, else 0.
fn compute_score(limit: i64, allocatable: i64) -> i64 {
    i64::from(limit != 0 && allocatable != 0 && limit <= allocatable)
}

/// The NodeResourceLimits plugin (PreScore, Score; no args).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeResourceLimits;

impl NodeResourceLimits {
    /// The plugin.
    pub fn new() -> Self {
        NodeResourceLimits
    }
}

impl Plugin for NodeResourceLimits {
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
        let limits = pod_limits(pod);
        state.write(
            NAME,
            PreScoreState {
                milli_cpu: limits.milli_cpu,
                memory: limits.memory,
            },
        );
        Status::success()
    }

    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let limits: &PreScoreState = written_state(state, NAME, "PreScore")?;
        let cpu = compute_score(limits.milli_cpu, node.allocatable.milli_cpu);
        let memory = compute_score(limits.memory, node.allocatable.memory);
        Ok(i64::from(cpu == 1 || memory == 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pod::Container;
    use crate::scheduler::plugins::test_util::{NodeBuilder, PodBuilder, info, list, pod, score};

    /// A container with limits (and no requests).
    fn limited(limits: &[(&str, &str)]) -> Container {
        let mut c = Container::default();
        c.resources.limits = list(limits);
        c
    }

    fn pod_with(containers: Vec<Container>, init: Vec<Container>) -> PodInfo {
        let mut p = pod("p", "default", &[]);
        std::sync::Arc::make_mut(&mut p.spec).containers = containers;
        std::sync::Arc::make_mut(&mut p.spec).init_containers = init;
        info(p)
    }

    #[test]
    fn limits_add_over_containers_and_take_the_init_maximum() {
        // Containers 1 cpu + 500m = 1500m, 1Gi + 1Gi = 2Gi; an init container with 2 cpu and
        // 1Gi raises cpu to 2000m and leaves memory at 2Gi.
        let p = pod_with(
            vec![
                limited(&[("cpu", "1"), ("memory", "1Gi")]),
                limited(&[("cpu", "500m"), ("memory", "1Gi")]),
            ],
            vec![limited(&[("cpu", "2"), ("memory", "1Gi")])],
        );
        let l = pod_limits(&p);
        assert_eq!((l.milli_cpu, l.memory), (2000, 2 << 30));
    }

    #[test]
    fn a_node_scores_1_when_cpu_or_memory_covers_the_limit() {
        // The pod's limits: 2 cpu, 4Gi.
        //   big:     4 cpu, 8Gi → both fit → 1
        //   cpu-ok:  2 cpu, 2Gi → cpu fits (2000 ≤ 2000) → 1
        //   mem-ok:  1 cpu, 4Gi → memory fits (4Gi ≤ 4Gi) → 1
        //   small:   1 cpu, 2Gi → neither → 0
        //   empty:   nothing allocatable → 0
        // No normalization: the scores stay 0 or 1.
        let p = pod_with(vec![limited(&[("cpu", "2"), ("memory", "4Gi")])], vec![]);
        let node = |name: &str, cpu: &str, mem: &str| {
            NodeBuilder::new(name)
                .allocatable(&[("cpu", cpu), ("memory", mem)])
                .info()
        };
        let got = score(
            &NodeResourceLimits,
            &p,
            vec![
                node("big", "4", "8Gi"),
                node("cpu-ok", "2", "2Gi"),
                node("mem-ok", "1", "4Gi"),
                node("small", "1", "2Gi"),
                NodeBuilder::new("empty").info(),
            ],
        );
        assert_eq!(got, Ok(vec![1, 1, 1, 0, 0]));
    }

    #[test]
    fn what_other_pods_use_does_not_matter() {
        // The node's raw allocatable counts, not what is free: a node whose 4 cpu are all
        // requested still scores 1 for a pod limited to 2 cpu.
        let p = pod_with(vec![limited(&[("cpu", "2")])], vec![]);
        let busy = NodeBuilder::new("busy")
            .allocatable(&[("cpu", "4"), ("memory", "8Gi")])
            .with_pods(vec![
                PodBuilder::new("hog")
                    .container(&[("cpu", "4"), ("memory", "8Gi")])
                    .info(),
            ]);
        assert_eq!(score(&NodeResourceLimits, &p, vec![busy]), Ok(vec![1]));
    }

    #[test]
    fn a_pod_without_limits_scores_0_everywhere() {
        // Requests are not limits: a limit of 0 (unset) never fits.
        let p = PodBuilder::new("p")
            .container(&[("cpu", "1"), ("memory", "1Gi")])
            .info();
        let n = NodeBuilder::new("n")
            .allocatable(&[("cpu", "4"), ("memory", "8Gi")])
            .info();
        assert_eq!(score(&NodeResourceLimits, &p, vec![n]), Ok(vec![0]));
    }
}
