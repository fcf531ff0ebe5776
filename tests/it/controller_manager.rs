//! kube-controller-manager as one process: one shared informer factory whose one watch per
//! kind feeds every controller, each controller still writing as its own client.
//!
//! The cluster: 4 nodes in one zone, kubelets on, a Deployment `web` of 4 pods, a Service and
//! a PodDisruptionBudget selecting them; at 1 min the Deployment is scaled to 8, at 2 min node
//! n-1 crashes. Every controller has work: the Deployment and ReplicaSet controllers scale, the
//! EndpointSlice controller lists the pods, the disruption controller keeps the budget's
//! status, the node lifecycle controller taints the silent node, the taint eviction
//! controller deletes its pods, and the ReplicaSet controller replaces them.

use std::collections::BTreeMap;

use kubesim::api::{Kind, Object};
use kubesim::controllers::disruption::DisruptionController;
use kubesim::controllers::endpointslice::EndpointSliceController;
use kubesim::controllers::kube_controller_manager::KubeControllerManager;
use kubesim::controllers::node_lifecycle::NodeLifecycleController;
use kubesim::controllers::replicaset::ReplicaSetController;
use kubesim::controllers::taint_eviction::TaintEvictionController;
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};

use crate::support::load_text;

fn scenario() -> kubesim::scenario::Scenario {
    let text = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: controller-manager}
spec:
  duration: 15m
  nodePools:
    - name: n
      count: 4
      zones: [a]
      template:
        allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
        images: [{names: ["web:v1"], sizeBytes: 100000000}]
  kubelet:
    timing: {sandbox: {fixed: 500ms}, imagePull: {fixed: 2s}, containerStart: {fixed: 200ms}, containerStop: {fixed: 1s}}
  timeline:
    - {at: 1m, scale: {deployment: default/web, replicas: 8}}
    - {at: 2m, crash: {node: n-1}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "web:v1"
          resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: 8080, protocol: TCP}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: default}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: web}}
"#;
    load_text(text, &[])
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

/// The open watches by client and kind.
fn watches_by_client(sim: &Simulation<World>) -> BTreeMap<(u32, Kind), usize> {
    let mut counts = BTreeMap::new();
    for (_, watch) in sim.model().api().watches().open_watches() {
        *counts.entry((watch.client.0, watch.kind)).or_insert(0) += 1;
    }
    counts
}

/// The `web` pods Ready and not terminating, by node.
fn ready_web_pods(sim: &Simulation<World>) -> Vec<String> {
    sim.model()
        .api()
        .store()
        .iter(Kind::Pod)
        .filter_map(|o| match &**o {
            Object::Pod(p)
                if p.metadata.labels.get("app").map(String::as_str) == Some("web")
                    && p.metadata.deletion_timestamp.is_none()
                    && p.status
                        .condition("Ready")
                        .is_some_and(|c| c.status == "True") =>
            {
                Some(p.spec.node_name.clone())
            }
            _ => None,
        })
        .collect()
}

/// The controller-manager's kinds, worked out by hand from what each controller reads:
/// ReplicaSet {ReplicaSet, Pod}, Deployment {Deployment, ReplicaSet, Pod}, EndpointSlice
/// {Service, Pod, Node, EndpointSlice}, disruption {PodDisruptionBudget, Pod, ReplicaSet,
/// Deployment}, garbage collector (every namespaced kind but Event) {Service, Deployment,
/// ReplicaSet, HorizontalPodAutoscaler, Pod, Lease, EndpointSlice, PodDisruptionBudget},
/// node lifecycle {Node, Lease, Pod}, taint eviction {Node, Pod}: 26 informers as seven
/// components, 9 distinct kinds as one.
const SHARED_KINDS: [Kind; 9] = [
    Kind::Node,
    Kind::Service,
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::HorizontalPodAutoscaler,
    Kind::Pod,
    Kind::Lease,
    Kind::EndpointSlice,
    Kind::PodDisruptionBudget,
];

#[test]
fn the_controller_manager_opens_one_watch_per_kind_for_all_its_controllers() {
    let mut sim = world::build(&scenario(), &RunOptions::default());
    sim.run_until(secs(30));
    let counts = watches_by_client(&sim);
    let manager = world::CONTROLLER_MANAGER_CLIENT.0;
    let ours: BTreeMap<Kind, usize> = counts
        .iter()
        .filter(|((client, _), _)| *client == manager)
        .map(|((_, kind), n)| (*kind, *n))
        .collect();
    let expected: BTreeMap<Kind, usize> = SHARED_KINDS.iter().map(|&k| (k, 1)).collect();
    assert_eq!(ours, expected, "one watch per kind, opened as the manager");
    // The controllers' own clients open none: they only write.
    let controller_clients = [
        world::REPLICASET_CLIENT,
        world::DEPLOYMENT_CLIENT,
        world::ENDPOINTSLICE_CLIENT,
        world::GARBAGE_COLLECTOR_CLIENT,
        world::DISRUPTION_CLIENT,
        world::NODE_LIFECYCLE_CLIENT,
        world::TAINT_EVICTION_CLIENT,
    ];
    for client in controller_clients {
        assert!(
            !counts.keys().any(|(c, _)| *c == client.0),
            "client {} opened a watch: {counts:?}",
            client.0
        );
    }
    // The manager's set is exactly that union, and every informer of it has synced.
    let component = sim
        .model()
        .component::<KubeControllerManager>()
        .expect("the controller-manager runs");
    let mut kinds: Vec<Kind> = component.informers().kinds().collect();
    kinds.sort();
    assert_eq!(kinds, SHARED_KINDS.to_vec());
    assert!(component.informers().has_synced_kinds(&SHARED_KINDS));
}

/// Every controller still gets the deltas it registered for: the scale-up runs, the slice
/// lists the pods, the budget is kept, and the crashed node's pods run elsewhere within the
/// window `self_healing.rs` derives (c + 340 s to c + 375 s; here by c + 375 s at the latest).
#[test]
fn every_controller_sees_the_shared_deltas_and_a_node_failure_heals() {
    let mut sim = world::build(&scenario(), &RunOptions::default());
    // The scale-up at 60 s: 4 new pods created, bound, started (0.7 s) and Ready (PLEG ≤ 1 s)
    // within seconds.
    sim.run_until(secs(90));
    assert_eq!(ready_web_pods(&sim).len(), 8, "scaled to 8");
    let on_crashed = ready_web_pods(&sim).iter().filter(|n| *n == "n-1").count();
    assert!(on_crashed > 0, "the pods spread over n-1 too");
    // Crash at c = 120 s; healed by c + 375 s.
    sim.run_until(secs(120 + 375));
    let ready = ready_web_pods(&sim);
    assert_eq!(ready.len(), 8, "{ready:?}");
    assert!(ready.iter().all(|n| n != "n-1"), "{ready:?}");

    let model = sim.model();
    let replicasets = model
        .controller::<ReplicaSetController>()
        .expect("ReplicaSet controller");
    // 4 at first, 4 for the scale-up, one replacement per pod evicted from n-1.
    assert_eq!(
        replicasets.counters().pods_created,
        8 + on_crashed as u64,
        "{:?}",
        replicasets.counters()
    );
    let lifecycle = model
        .controller::<NodeLifecycleController>()
        .expect("node lifecycle controller");
    assert!(lifecycle.counters().no_execute_taints >= 1);
    let eviction = model
        .controller::<TaintEvictionController>()
        .expect("taint eviction controller");
    assert_eq!(eviction.counters().evictions, on_crashed as u64);
    let slices = model
        .controller::<EndpointSliceController>()
        .expect("EndpointSlice controller");
    assert!(slices.counters().slices_created >= 1);
    assert!(slices.counters().syncs_success >= 1);
    let budgets = model
        .controller::<DisruptionController>()
        .expect("disruption controller");
    assert!(budgets.counters().status_writes >= 1);
}
