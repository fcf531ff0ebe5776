//! A zone failing under a full cluster: 5,000 nodes in 5 zones, 1,000 Deployments of 150 pods
//! (150,000 pods), kubelets heartbeating, every node of `zone-a` down from 10 to 20 minutes,
//! 30 minutes of virtual time. The node lifecycle controller finds the zone's 1,000 nodes
//! silent, taints them at the full-disruption rate (0.1 nodes/s), the taint eviction
//! controller deletes their pods 300 s after each taint, and the ReplicaSets replace them in
//! the four other zones; at 20 minutes the zone boots again.
//!
//! * `zone_outage/5000_nodes_150000_pods`: the whole run, `world::build` + `run_until`.
//! * `zone_outage/500_nodes_15000_pods`: the same cluster at a tenth of the size.
//!
//! The scenario is generated into the target folder (`zone_outage-<nodes>.yaml`), so the same
//! run can be timed and its peak memory measured as a whole process with `kubesim run`.

// Benchmarks measure wall-clock time by definition; the determinism rule against the wall
// clock is for the simulator, not for its stopwatch.
#![allow(clippy::disallowed_methods)]

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/generated.rs"]
mod generated;

/// Pods per Deployment.
const REPLICAS: usize = 150;

/// The scenario text: `nodes` nodes over five zones and `nodes / 5` Deployments of
/// [`REPLICAS`] pods.
fn scenario_text(nodes: usize) -> String {
    let deployments = nodes / 5;
    let mut text = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: zone-outage-{nodes}
  description: {nodes} nodes in 5 zones, {deployments} Deployments of {REPLICAS} pods, zone-a down from 10m to 20m
spec:
  duration: 30m
  nodePools:
    - name: node
      count: {nodes}
      zones: [zone-a, zone-b, zone-c, zone-d, zone-e]
      template:
        allocatable: {{cpu: \"32\", memory: 128Gi, pods: \"110\"}}
        images: [{{names: [\"app:v1\"], sizeBytes: 100000000}}]
  report:
    sampleEvery: 30s
  timeline:
    - {{at: 10m, zoneOutage: {{zone: zone-a, recoverAfter: 10m}}}}
"
    );
    generated::append_deployments(&mut text, deployments, REPLICAS);
    text
}

fn zone_outage(c: &mut Criterion) {
    let sizes: Vec<(usize, usize, String)> = [500, 5000]
        .into_iter()
        .map(|nodes| (nodes, nodes / 5 * REPLICAS, scenario_text(nodes)))
        .collect();
    generated::bench_runs(c, "zone_outage", &sizes);
}

criterion_group!(benches, zone_outage);
criterion_main!(benches);
