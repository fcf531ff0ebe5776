//! Real inputs as users have them: a cluster dumped with `kubectl get … -o yaml` or `-o json`
//! (a `kind: List` whose items are the objects) loads as a scenario, and an error inside an
//! item points at the item's line and column in the dump.

use kubesim::api::{Kind, Object};
use kubesim::scenario::{self, Scenario};
use kubesim::sim::SimTime;
use kubesim::world::{self, Components, RunOptions};

use crate::support::{fixture, load};

fn names(scenario: &Scenario, kind: Kind) -> Vec<String> {
    scenario
        .initial
        .iter()
        .filter(|o| o.kind() == kind)
        .map(|o| o.meta().name.clone())
        .collect()
}

/// What `kubectl get nodes,pods -A -o yaml` prints for a two-node cluster with one pod bound
/// and one pending (trimmed, but with the fields a real dump has and kubesim does not model).
const DUMP_YAML: &str = r#"apiVersion: v1
items:
- apiVersion: v1
  kind: Node
  metadata:
    annotations:
      node.alpha.kubernetes.io/ttl: "0"
    creationTimestamp: "2026-11-30T10:00:00Z"
    labels:
      kubernetes.io/hostname: worker-1
      topology.kubernetes.io/zone: zone-a
    name: worker-1
    resourceVersion: "1234"
    uid: 4f0b6c1e-8a61-4c55-9d0e-3c1f2b7c9a10
  spec:
    podCIDR: 10.244.1.0/24
    providerID: kind://docker/kind/worker-1
  status:
    allocatable:
      cpu: "4"
      memory: 8Gi
      pods: "110"
    capacity:
      cpu: "4"
      memory: 8Gi
      pods: "110"
    conditions:
    - lastHeartbeatTime: "2026-11-30T10:05:00Z"
      lastTransitionTime: "2026-11-30T10:00:10Z"
      message: kubelet is posting ready status
      reason: KubeletReady
      status: "True"
      type: Ready
    nodeInfo:
      kubeletVersion: v1.35.0
- apiVersion: v1
  kind: Node
  metadata:
    labels:
      kubernetes.io/hostname: worker-2
      topology.kubernetes.io/zone: zone-b
    name: worker-2
  status:
    allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-1
    namespace: default
    ownerReferences:
    - apiVersion: apps/v1
      controller: true
      kind: ReplicaSet
      name: web-7d9f
      uid: 11111111-2222-3333-4444-555555555555
  spec:
    containers:
    - image: nginx:1.27
      name: nginx
      resources:
        requests:
          cpu: 250m
          memory: 64Mi
    nodeName: worker-1
  status:
    phase: Running
    podIP: 10.244.1.7
- apiVersion: v1
  kind: Pod
  metadata:
    name: batch-1
    namespace: jobs
  spec:
    containers:
    - image: busybox
      name: main
      resources:
        requests:
          cpu: "1"
  status:
    phase: Pending
kind: List
metadata:
  resourceVersion: ""
"#;

#[test]
fn a_kubectl_yaml_dump_loads_its_items_and_runs() {
    let (_dir, path) = fixture("cluster.yaml", DUMP_YAML, &[]);
    let scenario = load(&path);
    assert_eq!(names(&scenario, Kind::Node), vec!["worker-1", "worker-2"]);
    assert_eq!(names(&scenario, Kind::Pod), vec!["web-1", "batch-1"]);
    // The item's own fields are read: the bound pod keeps its node, the node its zone.
    let web = scenario
        .initial
        .iter()
        .find_map(|o| match o {
            Object::Pod(p) if p.metadata.name == "web-1" => Some(p.clone()),
            _ => None,
        })
        .expect("web-1");
    assert_eq!(web.spec.node_name, "worker-1");
    // Fields a dump has and kubesim does not model are noted per item, with the item's line:
    // the first Node starts on line 3, the bound Pod (its ownerReferences, podIP) on line 45.
    let note_lines: Vec<u64> = scenario.notes.iter().map(|n| n.pos.line).collect();
    let note_at = |line: u64| note_lines.contains(&line);
    let notes = &note_lines;
    assert!(note_at(3), "{notes:#?}");
    assert!(note_at(45), "{notes:#?}");
    // Its owner, ReplicaSet web-7d9f, is not in the dump: the pod stays, as an orphan.
    assert!(
        scenario.notes.iter().any(|n| n.pos.line == 45
            && n.message
                .contains("owner ReplicaSet web-7d9f is not in the inputs")),
        "{notes:#?}"
    );
    assert!(web.metadata.owner_references.is_empty());
    // The dumped cluster runs: the pending pod is scheduled onto a node with room.
    let mut sim = world::build(&scenario, &RunOptions::default());
    sim.run_until(SimTime::ZERO + scenario.duration);
    let bound = sim
        .model()
        .api()
        .store()
        .iter(Kind::Pod)
        .filter_map(|o| o.as_pod())
        .filter(|p| p.is_bound())
        .count();
    assert_eq!(bound, 2);
}

#[test]
fn a_kubectl_json_dump_loads_too() {
    let json = r#"{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
            "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p1", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}
        }
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}
"#;
    let (_dir, path) = fixture("cluster.yaml", json, &[]);
    let scenario = load(&path);
    assert_eq!(names(&scenario, Kind::Node), vec!["n1"]);
    assert_eq!(names(&scenario, Kind::Pod), vec!["p1"]);
}

#[test]
fn typed_lists_and_indented_items_load() {
    // `kubectl get pods -o yaml` against the API directly gives a PodList; items may be
    // indented under `items:`.
    let text = "apiVersion: v1\nkind: PodList\nitems:\n  - apiVersion: v1\n    kind: Pod\n    \
                metadata: {name: a}\n    spec: {containers: [{name: c, image: i}]}\n  \
                - apiVersion: v1\n    kind: Pod\n    metadata: {name: b}\n    \
                spec: {containers: [{name: c, image: i}]}\n";
    let (_dir, path) = fixture("pods.yaml", text, &[]);
    assert_eq!(names(&load(&path), Kind::Pod), vec!["a", "b"]);
}

#[test]
fn an_error_inside_an_item_points_into_the_dump() {
    // The second item's cpu is not a quantity. Lines: 1 apiVersion, 2 items:, 3 "- apiVersion"
    // (first item), 4 kind, 5 metadata, 6 "- apiVersion" (second), 7 kind, 8 metadata,
    // 9 status:, 10 "    allocatable: {cpu: lots}"; the value `lots` starts at column 24.
    let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: ok}\n\
                - apiVersion: v1\n  kind: Node\n  metadata: {name: bad}\n  status:\n    \
                allocatable: {cpu: lots}\nkind: List\n";
    let (_dir, path) = fixture("dump.yaml", text, &[]);
    let err = match scenario::load(&path, &Components) {
        Ok(_) => panic!("a bad quantity must not load"),
        Err(e) => e.to_string(),
    };
    let expected = format!("{}:10:24:", path.display());
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.contains("status.allocatable.cpu"), "{err}");
}

/// A ReplicaSet of two running pods, as `kubectl get rs,pods -o yaml` prints them: the pods
/// name their owner by the ReplicaSet's uid in that cluster.
const REPLICASET_DUMP: &str = r#"apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: worker-1}
  status:
    allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    name: web-7d9f
    namespace: shop
    uid: 0b6d2c41-1111-4a55-9d0e-3c1f2b7c9a10
  spec:
    replicas: 2
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers: [{name: nginx, image: "nginx:1.27"}]
  status: {replicas: 2, readyReplicas: 2, availableReplicas: 2}
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-7d9f-abcde
    namespace: shop
    labels: {app: web}
    ownerReferences:
    - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f, controller: true,
       blockOwnerDeletion: true, uid: 0b6d2c41-1111-4a55-9d0e-3c1f2b7c9a10}
  spec:
    nodeName: worker-1
    containers: [{name: nginx, image: "nginx:1.27"}]
  status: {phase: Running}
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-7d9f-fghij
    namespace: shop
    labels: {app: web}
    ownerReferences:
    - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f, controller: true,
       blockOwnerDeletion: true, uid: 0b6d2c41-1111-4a55-9d0e-3c1f2b7c9a10}
  spec:
    nodeName: worker-1
    containers: [{name: nginx, image: "nginx:1.27"}]
  status: {phase: Running}
"#;

#[test]
fn an_imported_replicaset_keeps_its_pods_and_creates_none() {
    let (_dir, path) = fixture("shop.yaml", REPLICASET_DUMP, &[]);
    let scenario = load(&path);
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    let mut sim = world::build(&scenario, &options);
    sim.run_until(SimTime::ZERO + kubesim::sim::SimDuration::from_secs(60));
    let store = sim.model().api().store();
    let rs = store
        .iter(Kind::ReplicaSet)
        .next()
        .expect("the ReplicaSet")
        .clone();
    // Each pod points at the ReplicaSet kubesim created, by its new uid.
    let pods: Vec<_> = store.iter(Kind::Pod).filter_map(|o| o.as_pod()).collect();
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        let owner = pod.metadata.controller_ref().expect("owned");
        assert_eq!(owner.uid, rs.meta().uid, "{}", pod.metadata.name);
        assert_eq!(pod.spec.node_name, "worker-1");
    }
    // The controllers found what was declared: no pod created or deleted after the import.
    let controller_writes: Vec<_> = sim
        .model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == Kind::Pod && w.user.starts_with("system:serviceaccount"))
        .map(|w| (w.verb, w.key.name.clone()))
        .collect();
    assert!(controller_writes.is_empty(), "{controller_writes:?}");
}

/// One Deployment of `kubectl get deploy,rs,pods -o yaml` from a real cluster: the Deployment,
/// its ReplicaSet (named and labelled with the cluster's own pod-template-hash) and its running,
/// Ready pods.
fn deployment_dump(name: &str, replicas: usize, node: &str) -> String {
    let rs_uid = format!("{name}-rs-uid-0000-1111");
    let mut text = format!(
        r#"- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: {name}
    namespace: shop
    uid: {name}-deploy-uid-0000
    generation: 1
    annotations: {{deployment.kubernetes.io/revision: "1"}}
  spec:
    replicas: {replicas}
    selector: {{matchLabels: {{app: {name}}}}}
    template:
      metadata: {{labels: {{app: {name}}}}}
      spec:
        containers: [{{name: app, image: "{name}:1.0"}}]
  status: {{observedGeneration: 1, replicas: {replicas}, updatedReplicas: {replicas}, readyReplicas: {replicas}, availableReplicas: {replicas}}}
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    name: {name}-6b7c9d8f5
    namespace: shop
    uid: {rs_uid}
    labels: {{app: {name}, pod-template-hash: 6b7c9d8f5}}
    annotations: {{deployment.kubernetes.io/revision: "1", deployment.kubernetes.io/desired-replicas: "{replicas}", deployment.kubernetes.io/max-replicas: "{max}"}}
    ownerReferences:
    - {{apiVersion: apps/v1, kind: Deployment, name: {name}, uid: {name}-deploy-uid-0000, controller: true, blockOwnerDeletion: true}}
  spec:
    replicas: {replicas}
    selector: {{matchLabels: {{app: {name}, pod-template-hash: 6b7c9d8f5}}}}
    template:
      metadata: {{labels: {{app: {name}, pod-template-hash: 6b7c9d8f5}}}}
      spec:
        containers: [{{name: app, image: "{name}:1.0"}}]
  status: {{replicas: {replicas}, readyReplicas: {replicas}, availableReplicas: {replicas}}}
"#,
        max = replicas + replicas.div_ceil(4),
    );
    for i in 0..replicas {
        text.push_str(&format!(
            r#"- apiVersion: v1
  kind: Pod
  metadata:
    name: {name}-6b7c9d8f5-p{i}
    namespace: shop
    labels: {{app: {name}, pod-template-hash: 6b7c9d8f5}}
    ownerReferences:
    - {{apiVersion: apps/v1, kind: ReplicaSet, name: {name}-6b7c9d8f5, uid: {rs_uid}, controller: true, blockOwnerDeletion: true}}
  spec:
    nodeName: {node}
    containers: [{{name: app, image: "{name}:1.0"}}]
  status:
    phase: Running
    conditions:
    - {{type: Ready, status: "True"}}
    containerStatuses:
    - {{name: app, ready: true, restartCount: 0}}
"#
        ));
    }
    text
}

/// The acceptance check of an import: a dump of 3 Deployments with their running pods loads
/// as that cluster and converges without creating or deleting a pod — the controllers find
/// each ReplicaSet to be its Deployment's current one (templates compared without the hash, as
/// upstream compares them) and each pod already there.
#[test]
fn an_imported_cluster_of_three_deployments_converges_without_pod_churn() {
    let mut dump = String::from(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: worker-1}\n  status:\n    allocatable: {cpu: \"16\", memory: 64Gi, pods: \"110\"}\n",
    );
    for (name, replicas) in [("web", 3), ("api", 2), ("cache", 1)] {
        dump.push_str(&deployment_dump(name, replicas, "worker-1"));
    }
    let (_dir, path) = fixture("shop.yaml", &dump, &[]);
    let scenario = load(&path);
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    let mut sim = world::build(&scenario, &options);
    sim.run_until(SimTime::ZERO + kubesim::sim::SimDuration::from_secs(120));
    let writes = sim.model().api().writes();
    let churn: Vec<_> = writes
        .iter()
        .filter(|w| w.kind == Kind::Pod || w.kind == Kind::ReplicaSet)
        .filter(|w| w.user.starts_with("system:serviceaccount"))
        .filter(|w| {
            w.verb == kubesim::apiserver::Verb::Create || w.verb == kubesim::apiserver::Verb::Delete
        })
        .map(|w| (w.verb, w.kind, w.key.name.clone()))
        .collect();
    assert!(churn.is_empty(), "{churn:?}");
    let store = sim.model().api().store();
    assert_eq!(store.iter(Kind::Pod).count(), 6);
    assert_eq!(store.iter(Kind::ReplicaSet).count(), 3);
    // Every workload holds its declared state: 6 replicas desired, updated and available.
    let convergence = sim.model().recorder().convergence();
    assert!(convergence.is_converged());
    let totals = convergence.deployment_totals();
    assert_eq!(
        (totals.desired, totals.updated, totals.available),
        (6, 6, 6)
    );
}
