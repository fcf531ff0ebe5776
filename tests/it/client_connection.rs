//! The components' client rate limits under their real setting names: kube-scheduler's
//! `clientConnection.qps` / `burst` (KubeSchedulerConfiguration), kube-controller-manager's
//! `--kube-api-qps` / `--kube-api-burst` (`spec.controllerManager.kubeApiQps` /
//! `kubeApiBurst`), the kubelets' `kubeAPIQPS` / `kubeAPIBurst` (`spec.kubelet`) and the
//! kube-proxies' `clientConnection` (`spec.kubeProxy`) change the token bucket each of their
//! clients gets; without them every component keeps its shipped numbers.
//!
//! Each test runs a scenario with no nodes and no control plane (so nothing else sends a
//! request) on the modelled request path (`flowControl: maxInflight`, far from its limits),
//! and a stand-in client speaking as the component's client id sends six LISTs of Nodes at
//! 0 s. Timing of one LIST: it leaves when its client's bucket lets it, arrives 1 ms later
//! (`admissionLatency`) and holds its seat 500 µs (a LIST's base cost; there are no Nodes to
//! return), so it is answered 1.5 ms after it leaves.

use kubesim::apiserver::{
    ClientId, ListOptions, Request, RequestId, Response, UserInfo, WatchEvent, WatchId,
};
use kubesim::component::{Component, ComponentContext, Timer};
use kubesim::sim::{SimDuration, SimTime, StopAt};
use kubesim::world::{self, RunOptions};

use crate::support::{fixture, kubesim, load_text};

/// Sends `count` LISTs of Nodes as `client` when it starts; writes down when each is answered.
struct Lister {
    client: ClientId,
    count: usize,
    answered: Vec<SimTime>,
}

impl Component for Lister {
    fn clients(&self) -> Vec<ClientId> {
        vec![self.client]
    }

    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        let user = UserInfo::new("stand-in", &["system:authenticated"]);
        for _ in 0..self.count {
            let list = Request::list(
                self.client,
                user.clone(),
                kubesim::api::Kind::Node,
                "",
                ListOptions::default(),
            );
            cx.api.submit(cx.now(), list, cx.out);
        }
    }

    fn on_response(
        &mut self,
        _client: ClientId,
        _request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        assert!(response.is_ok(), "a LIST of Nodes succeeds: {response:?}");
        self.answered.push(cx.now());
    }

    fn on_watch_event(
        &mut self,
        _client: ClientId,
        _watch: WatchId,
        _event: &WatchEvent,
        _cx: &mut ComponentContext<'_>,
    ) {
    }

    fn on_watch_ended(&mut self, _: ClientId, _: WatchId, _: &mut ComponentContext<'_>) {}

    fn on_timer(&mut self, _timer: Timer, _cx: &mut ComponentContext<'_>) {}

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A Scenario document with no nodes and no control plane on the max-in-flight path, with
/// `spec` lines added (indented under `spec:`) and `extra` documents after it.
fn scenario(spec: &str, extra: &str) -> String {
    format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: client-connection}}
spec:
  duration: 1m
  apiserver: {{flowControl: maxInflight}}
  scheduler: {{enabled: false}}
{spec}{extra}"
    )
}

/// When each of six LISTs sent at 0 s as `client` is answered, in `text`'s run, in ms.
fn answers_ms(text: &str, client: ClientId) -> Vec<f64> {
    let loaded = load_text(text, &[]);
    let mut sim = world::build(&loaded, &RunOptions::default());
    world::add_component(
        &mut sim,
        Box::new(Lister {
            client,
            count: 6,
            answered: Vec::new(),
        }),
    );
    sim.run(StopAt {
        until: Some(SimTime::ZERO + SimDuration::from_secs(10)),
        when_quiescent: true,
        max_events: Some(10_000),
    });
    let lister = sim.model().component::<Lister>().expect("the stand-in");
    lister
        .answered
        .iter()
        .map(|t| t.as_nanos() as f64 / 1e6)
        .collect()
}

const KUBELET_0: ClientId = ClientId(kubesim::kubelet::KUBELET_CLIENT_BASE);
const KUBE_PROXY_0: ClientId = ClientId(kubesim::kube_proxy::KUBE_PROXY_CLIENT_BASE);

#[test]
fn without_overrides_every_component_keeps_its_shipped_bucket() {
    // Every shipped burst is at least 10: six LISTs all leave at 0 s and are answered at
    // 1.5 ms.
    let text = scenario("  controllerManager: {enabled: false}\n", "");
    for client in [
        world::SCHEDULER_CLIENT,
        world::REPLICASET_CLIENT,
        KUBELET_0,
        KUBE_PROXY_0,
    ] {
        assert_eq!(answers_ms(&text, client), [1.5; 6], "client {}", client.0);
    }
}

#[test]
fn each_component_runs_with_the_bucket_its_settings_give() {
    let text = scenario(
        "  controllerManager: {enabled: false, kubeApiQps: 4, kubeApiBurst: 2}
  kubelet: {kubeAPIQPS: 1, kubeAPIBurst: 3}
  kubeProxy: {clientConnection: {qps: 2, burst: 5}}
",
        "---
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: {qps: 10, burst: 1, contentType: application/vnd.kubernetes.protobuf}
",
    );
    // A full bucket of b tokens refilled at q a second lets b requests go at 0 s; request
    // n > b waits (n − b) / q s for its token. Answered 1.5 ms after it leaves:
    // kube-scheduler, 10 QPS / burst 1: leaves at 0, 0.1, 0.2, 0.3, 0.4, 0.5 s.
    assert_eq!(
        answers_ms(&text, world::SCHEDULER_CLIENT),
        [1.5, 101.5, 201.5, 301.5, 401.5, 501.5]
    );
    // kube-controller-manager (any of its clients), 4 QPS / burst 2: 0, 0, 0.25, 0.5, 0.75,
    // 1 s.
    assert_eq!(
        answers_ms(&text, world::DEPLOYMENT_CLIENT),
        [1.5, 1.5, 251.5, 501.5, 751.5, 1001.5]
    );
    // A kubelet, 1 QPS / burst 3: 0, 0, 0, 1, 2, 3 s.
    assert_eq!(
        answers_ms(&text, KUBELET_0),
        [1.5, 1.5, 1.5, 1001.5, 2001.5, 3001.5]
    );
    // A kube-proxy, 2 QPS / burst 5: five at 0 s, the sixth at 0.5 s.
    assert_eq!(
        answers_ms(&text, KUBE_PROXY_0),
        [1.5, 1.5, 1.5, 1.5, 1.5, 501.5]
    );
}

#[test]
fn zero_means_unset_but_the_kubelets_explicit_zero_qps_reaches_client_go() {
    // kube-proxy `clientConnection: {qps: 0, burst: 2}`: the QPS is unset, so kube-proxy's 5,
    // with burst 2: leaves at 0, 0, 0.2, 0.4, 0.6, 0.8 s. The kubelet's `kubeAPIQPS: 0` is
    // written out: client-go then runs at its own 5 QPS, with `kubeAPIBurst: 4`: 0, 0, 0, 0,
    // 0.2, 0.4 s.
    let text = scenario(
        "  controllerManager: {enabled: false}
  kubelet: {kubeAPIQPS: 0, kubeAPIBurst: 4}
  kubeProxy: {clientConnection: {qps: 0, burst: 2}}
",
        "",
    );
    assert_eq!(
        answers_ms(&text, KUBE_PROXY_0),
        [1.5, 1.5, 201.5, 401.5, 601.5, 801.5]
    );
    assert_eq!(
        answers_ms(&text, KUBELET_0),
        [1.5, 1.5, 1.5, 1.5, 201.5, 401.5]
    );
}

/// `kubesim validate` of `text`: the exit code and stderr.
fn validate(text: &str) -> (Option<i32>, String) {
    let (dir, path) = fixture("scenario.yaml", text, &[]);
    let (code, _, stderr) = kubesim(
        &[std::ffi::OsStr::new("validate"), path.as_os_str()],
        dir.path(),
        &[],
    );
    (code, stderr)
}

#[test]
fn refused_settings_are_load_errors_naming_the_field() {
    // Line numbers: the Scenario document's `spec:` is line 4, the lines added under it
    // start at line 8.
    for (spec, extra, expected) in [
        (
            "  kubelet: {kubeAPIQPS: -1}\n",
            "",
            "scenario.yaml:8:25: field `spec.kubelet.kubeAPIQPS`: kubeAPIQPS (kubelet): must not \
             be a negative number, found -1",
        ),
        (
            "  kubeProxy:\n    clientConnection: {qps: 5, burst: -2}\n",
            "",
            "scenario.yaml:9:39: field `spec.kubeProxy.clientConnection.burst`: \
             clientConnection.burst (kube-proxy): must not be a negative number, found -2",
        ),
        (
            "  controllerManager: {kubeApiQps: 5, kubeApiBurst: -1}\n",
            "",
            "scenario.yaml:8:52: field `spec.controllerManager.kubeApiBurst`: --kube-api-burst \
             (kube-controller-manager): burst is required to be greater than 0 when qps is \
             greater than 0, found -1; expected a burst of at least 1",
        ),
        (
            "",
            "---\napiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n\
             clientConnection:\n  qps: 50\n  burst: -100\n",
            "scenario.yaml:13:10: field `clientConnection.burst`: clientConnection.burst \
             (kube-scheduler): must not be a negative number, found -100",
        ),
        (
            "  kubeProxy: {clientConnection: {qps: 5, kubeconfig: /etc/kubeconfig}}\n",
            "",
            "spec.kubeProxy.clientConnection",
        ),
    ] {
        let (code, stderr) = validate(&scenario(spec, extra));
        assert_eq!(code, Some(1), "{spec}{extra}: {stderr}");
        assert!(stderr.contains(expected), "{spec}{extra}:\n{stderr}");
    }
}

#[test]
fn a_client_population_runs_with_its_qps_and_burst() {
    // Each client of a population gets a bucket of the population's `qps` / `burst`
    // (rest.Config): client 5 of population 0 (the operator's own replica is client 0, with
    // its own bucket) at 4 QPS / burst 2 leaves at 0, 0, 0.25, 0.5, 0.75, 1 s; a population
    // that writes neither gets client-go's 5 / 10, and all six leave at once.
    let text = scenario(
        "  controllerManager: {enabled: false}
  clients:
    - {name: limited, qps: 4, burst: 2, operator: {resources: [services]}}
    - {name: plain, operator: {resources: [services]}}
",
        "",
    );
    let limited = kubesim::populations::population_client(0, 5);
    let plain = kubesim::populations::population_client(1, 5);
    assert_eq!(
        answers_ms(&text, limited),
        [1.5, 1.5, 251.5, 501.5, 751.5, 1001.5]
    );
    assert_eq!(answers_ms(&text, plain), [1.5; 6]);
}
