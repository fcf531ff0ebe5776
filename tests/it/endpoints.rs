//! Service endpoints end to end: `spec.kubeProxy` and the EndpointSlice controller's flags as a
//! scenario writes them, EndpointSlice manifests, and a Deployment behind a Service whose
//! pods reach every node's kube-proxy.

use kubesim::api::endpointslice::EndpointSlice;
use kubesim::api::{Kind, Object};
use kubesim::config::kube_proxy::ProxyMode;
use kubesim::sim::{SimDuration, SimTime};
use kubesim::world::{self, RunOptions};

use crate::support::load_text;

const HEAD: &str = "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: endpoints}
spec:
  duration: 2m
";

/// The load error of the scenario `text`.
fn load_error(text: &str) -> String {
    crate::support::load_error("scenario.yaml", text)
}

/// The scenario of `HEAD` with `spec` lines added.
fn with_spec(spec: &str) -> kubesim::scenario::Scenario {
    load_text(&format!("{HEAD}{spec}"), &[])
}

#[test]
fn kube_proxy_settings_take_kube_proxy_configuration_names() {
    // Defaults: iptables, minSyncPeriod 1 s, syncPeriod 30 s, on wherever kubelets are.
    let plain = with_spec("");
    assert!(plain.kube_proxy.enabled);
    assert_eq!(plain.kube_proxy.mode, ProxyMode::Iptables);
    assert_eq!(
        plain.kube_proxy.periods.min_sync_period,
        SimDuration::from_secs(1)
    );
    // The mode's own section (v1alpha1), then the root fields (v1alpha2) over it.
    let nft = with_spec(
        "  kubeProxy:\n    mode: nftables\n    nftables: {minSyncPeriod: 2s, syncPeriod: 1m}\n",
    );
    assert_eq!(nft.kube_proxy.mode, ProxyMode::Nftables);
    assert_eq!(
        nft.kube_proxy.periods.min_sync_period,
        SimDuration::from_secs(2)
    );
    assert_eq!(
        nft.kube_proxy.periods.sync_period,
        SimDuration::from_secs(60)
    );
    let root =
        with_spec("  kubeProxy:\n    iptables: {minSyncPeriod: 2s}\n    minSyncPeriod: 500ms\n");
    assert_eq!(
        root.kube_proxy.periods.min_sync_period,
        SimDuration::from_millis(500)
    );
    // ipvs defaults minSyncPeriod to 0; without kubelets kube-proxies are off unless asked.
    let ipvs = with_spec("  kubelet: {enabled: false}\n  kubeProxy: {mode: ipvs}\n");
    assert!(ipvs.kube_proxy.periods.min_sync_period.is_zero());
    assert!(!ipvs.kube_proxy.enabled);
    // The controller's flags.
    let kcm = with_spec(
        "  controllerManager:\n    concurrentServiceEndpointSyncs: 10\n    \
         maxEndpointsPerSlice: 500\n    endpointUpdatesBatchPeriod: 2s\n",
    );
    let c = &kcm.controller_manager;
    assert_eq!(
        (
            c.concurrent_service_endpoint_syncs,
            c.max_endpoints_per_slice
        ),
        (10, 500)
    );
    assert_eq!(c.endpoint_updates_batch_period, SimDuration::from_secs(2));
}

#[test]
fn invalid_settings_name_the_field_and_line() {
    let err = load_error(&format!("{HEAD}  kubeProxy:\n    mode: kernelspace\n"));
    assert!(err.contains("scenario.yaml:7:"), "{err}");
    assert!(err.contains("spec.kubeProxy.mode"), "{err}");
    assert!(err.contains("expected iptables, ipvs or nftables"), "{err}");
    let err = load_error(&format!(
        "{HEAD}  kubeProxy:\n    iptables:\n      minSyncPeriod: 10s\n      syncPeriod: 5s\n"
    ));
    assert!(err.contains("scenario.yaml:9:"), "{err}");
    assert!(err.contains("spec.kubeProxy.iptables.syncPeriod"), "{err}");
    assert!(
        err.contains("must be greater than or equal to iptables.minSyncPeriod (10s)"),
        "{err}"
    );
    let err = load_error(&format!(
        "{HEAD}  controllerManager:\n    maxEndpointsPerSlice: 1001\n"
    ));
    assert!(
        err.contains("spec.controllerManager.maxEndpointsPerSlice"),
        "{err}"
    );
    assert!(err.contains("expected at most 1000, found 1001"), "{err}");
    let err = load_error(&format!(
        "{HEAD}  controllerManager:\n    concurrentServiceEndpointSyncs: 0\n"
    ));
    assert!(err.contains("expected a count of at least 1"), "{err}");
    let err = load_error(&format!("{HEAD}  kubeProxy:\n    minSyncPeriods: 1s\n"));
    assert!(err.contains("minSyncPeriods"), "{err}");
}

const SLICE: &str = "---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: example-abc
  namespace: default
  labels: {kubernetes.io/service-name: example}
addressType: IPv4
ports:
  - {name: http, protocol: TCP, port: 80, appProtocol: http}
endpoints:
  - addresses: [10.1.2.3]
    conditions: {ready: true, serving: true, terminating: false}
    hostname: pod-1
    nodeName: node-1
    zone: us-west2-a
    targetRef: {kind: Pod, namespace: default, name: pod-1, uid: 1b2c}
    hints:
      forZones: [{name: us-west2-a}]
";

#[test]
fn a_real_endpoint_slice_manifest_is_read_with_unmodelled_fields_noted() {
    let scenario = with_spec(SLICE);
    let slice = scenario
        .initial
        .iter()
        .find_map(|o| match o {
            Object::EndpointSlice(s) => Some(s),
            _ => None,
        })
        .expect("the slice is an object of the scenario");
    assert_eq!(slice.service_name(), Some("example"));
    assert_eq!(slice.ports[0].port, Some(80));
    let endpoint = &slice.endpoints[0];
    assert_eq!(endpoint.addresses, vec!["10.1.2.3".to_string()]);
    assert_eq!(endpoint.zone.as_deref(), Some("us-west2-a"));
    assert_eq!(
        endpoint.target_ref.as_ref().map(|r| r.source_uid.as_str()),
        Some("1b2c")
    );
    let notes: Vec<&str> = scenario.notes.iter().map(|n| n.message.as_str()).collect();
    for field in [
        "endpoints.0.hints",
        "endpoints.0.hostname",
        "ports.0.appProtocol",
    ] {
        assert!(
            notes.iter().any(|n| n.contains(field)),
            "{field} in {notes:?}"
        );
    }
}

const CLUSTER: &str = "  kubelet:
    timing:
      sandbox: {fixed: 1s}
      imagePull: {fixed: 2s}
      containerStart: {fixed: 500ms}
  nodePools:
    - {name: n, count: 3, zones: [a, b, c], template: {allocatable: {cpu: \"4\", memory: 8Gi, pods: \"110\"}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: nginx:1.27
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
";

#[test]
fn a_deployment_behind_a_service_reaches_every_node_s_rules() {
    let scenario = with_spec(CLUSTER);
    let mut sim = world::build(&scenario, &RunOptions::default());
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(60));
    let world = sim.model();
    let store = world.api().store();
    let slices: Vec<&EndpointSlice> = store
        .iter(Kind::EndpointSlice)
        .filter_map(|o| o.as_endpoint_slice())
        .collect();
    // One slice: the three pods, ready, at their kubelets' addresses, on port 8080 (the named
    // container port `http`).
    assert_eq!(slices.len(), 1, "{slices:#?}");
    let slice = slices[0];
    assert_eq!(slice.endpoints.len(), 3);
    for e in &slice.endpoints {
        assert!(
            e.is_ready() && e.is_serving() && !e.is_terminating(),
            "{e:?}"
        );
        assert!(e.addresses[0].starts_with("10.64."), "{e:?}");
        assert!(e.zone.is_some() && e.node_name.is_some(), "{e:?}");
    }
    assert_eq!(slice.ports[0].port, Some(8080));
    // Every node's kube-proxy synced and measured the endpoints' arrival.
    let proxies = world
        .kube_proxies()
        .expect("kube-proxies run with the kubelets");
    assert_eq!(proxies.node_count(), 3);
    for node in ["n-0", "n-1", "n-2"] {
        assert!(proxies.node_syncs(node).is_some_and(|n| n >= 2), "{node}");
    }
    let measured: u64 = proxies.stats().network_programming_latency.values().sum();
    assert!(measured >= 3, "{measured}");
    // Switched off, there are none.
    let off = with_spec(&format!("  kubeProxy: {{enabled: false}}\n{CLUSTER}"));
    let sim = world::build(&off, &RunOptions::default());
    assert!(sim.model().kube_proxies().is_none());
}
