//! A day of autoscaling: 500 nodes, 200 Services in 10 namespaces, each with a Deployment
//! scaled by a CPU HorizontalPodAutoscaler (legacy path, 70 % of 500m, 2 to 40 replicas) and a
//! diurnal traffic curve (a tenth of its peak at night; peaks of 600 to 3,300 rps spread over
//! the day), 24 hours of virtual time. Every part of the load path runs: the load model spreads
//! each Service's rate over its ready endpoints every 30 s with 10 % noise and solves each
//! pod's queue, metrics-server scrapes 500 kubelets every 15 s, the HPA controller syncs each
//! of its 200 HPAs every 15 s, the ReplicaSets, scheduler and kubelets follow, and the
//! recorder samples every Service's latency percentiles every 10 s.
//!
//! * `hpa/500_nodes_200_services`: the whole run, `world::build` + `run_until`.
//! * `hpa/50_nodes_20_services`: the same at a tenth of the size.
//!
//! Throughput is in simulation events (counted in a first run, printed). The scenario is
//! generated into the target folder (`hpa-<nodes>.yaml`), so the same run can be timed and
//! its peak memory measured as a whole process with `kubesim run`.

// Benchmarks measure wall-clock time by definition; the determinism rule against the wall
// clock is for the simulator, not for its stopwatch.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/generated.rs"]
mod generated;

/// Services per namespace.
const SERVICES_PER_NAMESPACE: usize = 20;

/// The scenario text: `nodes` nodes and `nodes / 5 * 2` Services in namespaces of
/// [`SERVICES_PER_NAMESPACE`].
fn scenario_text(nodes: usize) -> String {
    let services = nodes * 2 / 5;
    let mut text = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: hpa-{nodes}
  description: 24 h of diurnal traffic on {services} Services with CPU HPAs, {nodes} nodes
spec:
  duration: 24h
  nodePools:
    - name: node
      count: {nodes}
      zones: [zone-a, zone-b, zone-c]
      template:
        allocatable: {{cpu: \"8\", memory: 32Gi, pods: \"110\"}}
        images: [{{names: [\"app:v1\"], sizeBytes: 100000000}}]
  traffic:
"
    );
    for s in 0..services {
        let high = 600 + (s % 10) * 300;
        let _ = writeln!(
            text,
            "    - {{service: {}/svc-{s:04}, rate: {{diurnal: {{low: {}, high: {high}, peakAt: {}h}}}}, \
             cpuPerRequest: 2m, baseCpu: 50m, baseMemory: 120Mi, memoryPerRequest: 50Ki, \
             noise: 0.1, step: 30s, server: {{concurrency: 16, serviceTime: 25ms, queueLimit: 200}}}}",
            namespace(s),
            high / 10,
            s % 24,
        );
    }
    for n in 0..services.div_ceil(SERVICES_PER_NAMESPACE) {
        let _ = write!(
            text,
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: team-{n:02}}}\n"
        );
    }
    for s in 0..services {
        append_service(&mut text, &namespace(s), &format!("svc-{s:04}"));
    }
    text
}

/// The namespace of Service `s`.
fn namespace(s: usize) -> String {
    format!("team-{:02}", s / SERVICES_PER_NAMESPACE)
}

/// Appends a Deployment, its Service and its HPA, all named `name`.
fn append_service(text: &mut String, namespace: &str, name: &str) {
    let _ = write!(
        text,
        "---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {{kubesim.io/ready-after: 10s}}
    spec:
      containers:
        - name: app
          image: app:v1
          resources: {{requests: {{cpu: 500m, memory: 256Mi}}, limits: {{cpu: \"1\"}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 2
  maxReplicas: 40
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
"
    );
}

fn hpa(c: &mut Criterion) {
    let sizes: Vec<(usize, usize, String)> = [50, 500]
        .into_iter()
        .map(|nodes| (nodes, nodes * 2 / 5, scenario_text(nodes)))
        .collect();
    generated::bench_runs_in_events(c, "hpa", "services", &sizes);
}

criterion_group!(benches, hpa);
criterion_main!(benches);
