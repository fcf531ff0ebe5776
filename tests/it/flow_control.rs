//! The apiserver under load: flow control in the hub and the clients' transport in the world.
//!
//! Acceptance criteria of the issue: "a request is classified (user, groups, namespace, verb,
//! resource, subresource, name), admitted by flow control, then occupies seats for its
//! service time and completes in a later event; responses carry a status code and, on 429 /
//! 5xx, a Retry-After"; "client-go's token-bucket rate limiter per client; retries on 429 /
//! 5xx honouring Retry-After, at most 10"; "the 'ideal' apiserver stays available".
//!
//! The timings below follow from the defaults: a request arrives `admissionLatency` = 1 ms
//! after it is sent; an idle etcd write answers in 150 + 875 + 400 + 25 + 150 µs = 1.6 ms
//! (`apiserver/etcd.rs`), plus the apply of its 2048 bytes at 1 GB/s, 2.048 µs: 1 602 048 ns
//! is a create's service time; a test client (neither a
//! component kubesim knows nor kubectl) has client-go's default bucket, 5 QPS / burst 10.

use std::sync::Arc;

use kubesim::api::pod::{Container, Pod, PodSpec};
use kubesim::api::{Kind, Object, ObjectKey, ObjectMeta};
use kubesim::apiserver::{
    ApiError, ApiServerConfig, ClientId, FlowControlMode, Request, RequestId, RequestPathConfig,
    Response, UserInfo, WatchEvent, WatchId,
};
use kubesim::component::{Component, ComponentContext, Timer};
use kubesim::sim::{SimDuration, SimTime, Simulation, StopAt};
use kubesim::world::{self, World};

use crate::support::{fixture, kubesim};

/// The test client.
const CLIENT: ClientId = ClientId(42);

fn alice() -> UserInfo {
    UserInfo::new("alice", &["system:authenticated"])
}

fn pod(name: &str) -> Object {
    Object::Pod(Arc::new(Pod {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: "default".into(),
            ..Default::default()
        },
        spec: Arc::new(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: "img:0".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// A client that sends its requests at once when it starts and writes down each answer it is
/// handed, with the time: the items of a list, 1 for any other success, or the error.
struct Sender {
    requests: Vec<Request>,
    /// Requests sent once every first request is answered.
    after: Vec<Request>,
    sent: Vec<RequestId>,
    answers: Vec<(RequestId, SimTime, Result<usize, ApiError>)>,
}

impl Sender {
    fn new(requests: Vec<Request>) -> Self {
        Sender {
            requests,
            after: Vec::new(),
            sent: Vec::new(),
            answers: Vec::new(),
        }
    }
}

impl Component for Sender {
    fn clients(&self) -> Vec<ClientId> {
        let mut clients: Vec<ClientId> = self
            .requests
            .iter()
            .chain(&self.after)
            .map(|r| r.client)
            .collect();
        clients.sort();
        clients.dedup();
        clients
    }

    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        for request in std::mem::take(&mut self.requests) {
            let id = cx.api.submit(cx.now(), request, cx.out);
            self.sent.push(id);
        }
    }

    fn on_response(
        &mut self,
        _client: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        let code = match response {
            Ok(kubesim::apiserver::ResponseBody::List { items, .. }) => Ok(items.len()),
            Ok(_) => Ok(1),
            Err(e) => Err(e.clone()),
        };
        self.answers.push((request, cx.now(), code));
        if self.answers.len() == self.sent.len() {
            for request in std::mem::take(&mut self.after) {
                let id = cx.api.submit(cx.now(), request, cx.out);
                self.sent.push(id);
            }
        }
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

fn config(path: RequestPathConfig) -> ApiServerConfig {
    ApiServerConfig {
        request_path: path,
        ..ApiServerConfig::default()
    }
}

fn run(config: ApiServerConfig, requests: Vec<Request>) -> Simulation<World> {
    run_sender(config, Sender::new(requests))
}

fn run_sender(config: ApiServerConfig, sender: Sender) -> Simulation<World> {
    let mut sim = world::with_components(config, 1, vec![Box::new(sender)]);
    sim.run(StopAt {
        until: Some(SimTime::ZERO + SimDuration::from_secs(60)),
        when_quiescent: true,
        max_events: Some(100_000),
    });
    sim
}

fn sender(sim: &Simulation<World>) -> &Sender {
    sim.model().component::<Sender>().expect("the sender")
}

fn ns(n: u64) -> SimTime {
    SimTime::from_nanos(n)
}

fn requests_with_code(sim: &Simulation<World>, code: u16) -> u64 {
    sim.model()
        .api()
        .counters()
        .requests
        .iter()
        .filter(|((_, _, c), _)| *c == code)
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn max_inflight_refuses_a_burst_and_the_retries_get_every_create_through() {
    // maxMutatingRequestsInflight 1, three creates sent at 0 s. The bucket (burst 10) lets all
    // three go at once; they arrive at 1 ms, in order:
    //   #1 takes the only write seat; its service time is an idle etcd write, 1.602048 ms:
    //      it commits and is answered at 2.602048 ms.
    //   #2 and #3 find the seat taken: 429 with Retry-After 1 (max-in-flight's constant). The
    //      transport sleeps 1 s from the answer at 1 ms, takes a token at 1.001 s (plenty
    //      left), and sends them again: they arrive at 1.002 s.
    //   #2 takes the seat (free since 2.6 ms) and is answered at 1.002 s + 1.602048 ms =
    //      1.003602048 s; #3 is refused again at 1.002 s, sent again at 2.002 s, arrives at
    //      2.003 s and is answered at 2.004602048 s.
    // Three 429s in all (#2 once, #3 twice), three retries, every create a 201, and the
    // component sees one answer per request, never a 429.
    let path = RequestPathConfig {
        mode: FlowControlMode::MaxInflight,
        flow_control: kubesim::apiserver::flowcontrol::FlowControlConfig {
            max_mutating_requests_inflight: 1,
            ..Default::default()
        },
        ..RequestPathConfig::default()
    };
    let creates = ["a", "b", "c"]
        .iter()
        .map(|n| Request::create(CLIENT, alice(), pod(n)))
        .collect();
    let sim = run(config(path), creates);
    let s = sender(&sim);
    let answered: Vec<(RequestId, SimTime, bool)> = s
        .answers
        .iter()
        .map(|(id, at, code)| (*id, *at, code.is_ok()))
        .collect();
    assert_eq!(
        answered,
        vec![
            (s.sent[0], ns(2_602_048), true),
            (s.sent[1], ns(1_003_602_048), true),
            (s.sent[2], ns(2_004_602_048), true),
        ]
    );
    assert_eq!(requests_with_code(&sim, 429), 3);
    assert_eq!(requests_with_code(&sim, 201), 3);
    let transport = sim
        .model()
        .transport()
        .expect("a modelled run has a transport");
    assert_eq!(transport.retries().get(&429), Some(&3));
    assert_eq!(transport.exhausted(), 0);
    let path = sim.model().api().request_path().expect("modelled");
    assert_eq!(path.retry_after_seconds().get(&1), Some(&3));
    // The pods were written when their creates completed: #2 exactly 1 s (the Retry-After)
    // plus 1 ms (the retry's way to the apiserver) after #1.
    let created = |name: &str| {
        sim.model()
            .api()
            .store()
            .get(Kind::Pod, &ObjectKey::new("default", name))
            .map(|o| o.meta().creation_timestamp)
    };
    assert_eq!(created("a"), Some(ns(2_602_048)));
    assert_eq!(created("b"), Some(ns(2_602_048 + 1_001_000_000)));
    assert_eq!(created("c"), Some(ns(2_004_602_048)));
}

#[test]
fn the_eleventh_429_in_a_row_reaches_the_component() {
    // Dynamic mode with a bucket of one token: alice falls in the `workloads` level, which
    // must leave 25 % of the bucket (0.25 token) after its request's 1 token — never possible
    // with a bucket of 1. So every try is refused, with Retry-After 1 s (the bucket is full:
    // ≥ 50 % left). Try k (1..=11) arrives at 1 ms + (k − 1) × 1.001 s (1 s asleep, 1 ms on
    // the wire); after the 11th refusal (10 retries spent) the error goes to the component,
    // at 1 ms + 10 × 1.001 s = 10.011 s.
    let path = RequestPathConfig {
        mode: FlowControlMode::Dynamic,
        dynamic: Some(kubesim::apiserver::flowcontrol::DynamicConfig {
            bucket_size: 1,
            ..Default::default()
        }),
        ..RequestPathConfig::default()
    };
    let get = Request::get(CLIENT, alice(), Kind::Pod, &ObjectKey::new("default", "a"));
    let sim = run(config(path), vec![get]);
    let s = sender(&sim);
    assert_eq!(s.answers.len(), 1);
    let (id, at, answer) = &s.answers[0];
    assert_eq!(*id, s.sent[0]);
    assert_eq!(*at, ns(10_011_000_000));
    assert!(
        matches!(
            answer,
            Err(ApiError::TooManyRequests {
                retry_after_seconds: 1,
                ..
            })
        ),
        "{answer:?}"
    );
    assert_eq!(requests_with_code(&sim, 429), 11);
    let transport = sim.model().transport().expect("transport");
    assert_eq!(transport.retries().get(&429), Some(&10));
    assert_eq!(transport.exhausted(), 1);
}

#[test]
fn apf_classifies_each_client_into_its_bootstrap_level() {
    // One request each, all at 0 s, under the bootstrap configuration:
    //   a kubelet's node status patch (system:nodes; nodes/status) → system-node-high →
    //     node-high;
    //   kube-scheduler's binding (user system:kube-scheduler; pods/binding) → kube-scheduler
    //     (precedence 800) → workload-high;
    //   the ReplicaSet controller's create (a kube-system service account) →
    //     kube-system-service-accounts (900) → workload-high;
    //   the scenario's user (kubernetes-admin in system:masters) → exempt;
    //   alice (system:authenticated) → global-default;
    //   a user in no group → only catch-all matches → catch-all.
    // Each level's dispatched count says where its requests went; nobody was refused (the
    // levels are far from full).
    let node_user = UserInfo::new("system:node:n1", &["system:nodes", "system:authenticated"]);
    let scheduler = UserInfo::new("system:kube-scheduler", &["system:authenticated"]);
    let controller = UserInfo::kube_system_service_account("replicaset-controller");
    let admin = UserInfo::new(
        "kubernetes-admin",
        &["system:masters", "system:authenticated"],
    );
    let stranger = UserInfo::new("stranger", &[]);
    let requests = vec![
        Request::patch(
            ClientId(43),
            node_user,
            Kind::Node,
            &ObjectKey::cluster("n1"),
            kubesim::apiserver::PatchOp::KubeletNodeStatus(Box::default()),
        ),
        Request::bind(
            ClientId(44),
            scheduler,
            &ObjectKey::new("default", "a"),
            "n1",
        ),
        Request::create(ClientId(45), controller, pod("b")),
        Request::create(ClientId(46), admin, pod("c")),
        Request::create(ClientId(47), alice(), pod("d")),
        Request::create(ClientId(48), stranger, pod("e")),
    ];
    let path = RequestPathConfig {
        mode: FlowControlMode::Apf,
        ..RequestPathConfig::default()
    };
    let sim = run(config(path), requests);
    let dispatched: Vec<(String, u64)> = sim
        .model()
        .api()
        .level_metrics()
        .iter()
        .filter(|m| m.dispatched_requests_total > 0)
        .map(|m| (m.name.clone(), m.dispatched_requests_total))
        .collect();
    let mut dispatched = dispatched;
    dispatched.sort();
    assert_eq!(
        dispatched,
        vec![
            ("catch-all".to_string(), 1),
            ("exempt".to_string(), 1),
            ("global-default".to_string(), 1),
            ("node-high".to_string(), 1),
            ("workload-high".to_string(), 2),
        ]
    );
    assert_eq!(requests_with_code(&sim, 429), 0);
    assert_eq!(sender(&sim).answers.len(), 6);
}

#[test]
fn a_watch_holds_no_seats_once_it_is_initialized() {
    // Under APF a watch is admitted like any request, holds its seat while it initializes
    // (1 ms) and is finished then. Afterwards every level is back to zero executing requests
    // while the watch stays open.
    let path = RequestPathConfig {
        mode: FlowControlMode::Apf,
        ..RequestPathConfig::default()
    };
    let watch = Request::watch(
        CLIENT,
        alice(),
        Kind::Pod,
        "",
        kubesim::apiserver::ListOptions::default(),
    );
    let sim = run(config(path), vec![watch]);
    let s = sender(&sim);
    // Sent at 0, arrives at 1 ms, initialized at 2 ms.
    assert_eq!(s.answers.len(), 1);
    assert_eq!(s.answers[0].1, ns(2_000_000));
    assert_eq!(sim.model().api().watches().open_count(), 1);
    let api = sim.model().api();
    assert!(api.request_path().is_some(), "modelled");
    assert_eq!(api.replicas()[0].occupancy(), (0, 0));
    assert!(
        api.level_metrics()
            .iter()
            .all(|m| m.current_executing_requests == 0)
    );
}

#[test]
fn a_list_holds_its_seat_in_proportion_to_the_objects_it_returns() {
    // A client in system:masters (exempt from APF) creates 100 pods at 0 s; its bucket
    // (client-go's 5 QPS, burst 10) lets 10 go at once and then one every 0.2 s, so the 100th
    // leaves at 90 × 0.2 s = 18 s, arrives at 18.001 s and is answered after an idle etcd
    // write, at T = 18.002602048 s. Then alice's two LISTs (same client, same bucket): the
    // bucket has refilled 0.013 token since 18 s, so the first waits for its token until
    // 18.2 s and the second until 18.4 s. Each arrives 1 ms later and is served from the
    // watch cache in 500 µs + 10 µs per object returned: 100 pods of `default` take 1.5 ms
    // (answered at 18.2025 s), the empty namespace 500 µs (18.4015 s).
    let admin = UserInfo::new(
        "kubernetes-admin",
        &["system:masters", "system:authenticated"],
    );
    let creates = (0..100)
        .map(|i| Request::create(CLIENT, admin.clone(), pod(&format!("p{i}"))))
        .collect();
    let mut client = Sender::new(creates);
    let list = |namespace: &str| {
        Request::list(
            CLIENT,
            alice(),
            Kind::Pod,
            namespace,
            kubesim::apiserver::ListOptions::default(),
        )
    };
    client.after = vec![list("default"), list("empty")];
    let path = RequestPathConfig {
        mode: FlowControlMode::Apf,
        ..RequestPathConfig::default()
    };
    let sim = run_sender(config(path), client);
    let s = sender(&sim);
    assert_eq!(s.answers.len(), 102);
    let created_by = s.answers[99].1;
    assert!(s.answers[..100].iter().all(|(_, _, a)| a.is_ok()));
    assert_eq!(created_by, ns(18_002_602_048));
    let lists: Vec<(SimTime, Result<usize, ApiError>)> = s.answers[100..]
        .iter()
        .map(|(_, t, a)| (*t, a.clone()))
        .collect();
    assert_eq!(
        lists,
        vec![(ns(18_202_500_000), Ok(100)), (ns(18_401_500_000), Ok(0))]
    );
}

/// A scenario of 3 nodes with kubelets and a Deployment of 6, with `apiserver` as its
/// `spec.apiserver`.
fn cluster_scenario(apiserver: &str) -> String {
    format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: flow}}
spec:
  seed: 3
  duration: 2m
  nodePools:
    - name: w
      count: 3
      template:
        allocatable: {{cpu: \"8\", memory: 32Gi, pods: \"110\"}}
  apiserver: {apiserver}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 6
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: c, image: nginx, resources: {{requests: {{cpu: 100m}}}}}}]
"
    )
}

/// The run's summary.json as bytes and as JSON, and timeseries.csv's header.
fn summary_of(scenario: &str) -> (Vec<u8>, serde_json::Value, String) {
    let (dir, path) = fixture("scenario.yaml", scenario, &[]);
    let out = dir.path().join("out");
    let (code, _, stderr) = kubesim(
        &[
            "run".as_ref(),
            path.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let bytes = std::fs::read(out.join("summary.json")).expect("summary.json");
    let json = serde_json::from_slice(&bytes).expect("summary.json is JSON");
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).expect("timeseries.csv");
    let header = csv.lines().next().unwrap_or_default().to_string();
    (bytes, json, header)
}

#[test]
fn each_mode_runs_a_cluster_the_same_way_twice() {
    // The same scenario twice gives byte-identical summaries in every mode; the modelled
    // modes report flow control's levels and the ideal one does not, and in every mode the
    // Deployment's 6 pods end up bound.
    for (apiserver, level) in [
        ("{}", None),
        ("{flowControl: maxInflight}", Some("mutating")),
        ("{flowControl: apf}", Some("workload-high")),
        ("{enablePriorityAndFairness: true}", Some("node-high")),
        ("{flowControl: dynamic}", Some("core")),
    ] {
        let scenario = cluster_scenario(apiserver);
        let (first, json, header) = summary_of(&scenario);
        let (second, _, _) = summary_of(&scenario);
        assert!(first == second, "{apiserver}: two runs differ");
        assert_eq!(json["placement"]["pods"]["bound"], 6, "{apiserver}");
        let levels = &json["stampede"]["flowcontrol"]["priorityLevels"];
        match level {
            None => {
                assert!(json["stampede"].get("flowcontrol").is_none());
                assert!(json["stampede"].get("retryAfterSeconds").is_none());
                assert!(!header.contains("apiserver_flowcontrol"), "{header}");
            }
            Some(level) => {
                let dispatched = &levels[level]["apiserver_flowcontrol_dispatched_requests_total"];
                assert!(
                    dispatched.as_f64().is_some_and(|n| n > 0.0),
                    "{apiserver}: {level} dispatched {dispatched}"
                );
                assert!(json["stampede"]["retryAfterSeconds"].is_object());
                let column = format!("{level}:apiserver_flowcontrol_current_inqueue_requests");
                assert!(header.contains(&column), "{header}");
                assert!(
                    levels[level]["apiserver_flowcontrol_request_wait_duration_seconds"]["count"]
                        .is_u64()
                );
            }
        }
    }
}

#[test]
fn flow_control_documents_and_fields_load_or_fail_at_their_place() {
    // A PriorityLevelConfiguration replacing a bootstrap one loads and reaches the apiserver's
    // configuration; its `status` is noted, not an error.
    let plc = "apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: workload-low}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 20
    limitResponse: {type: Reject}
status: {}
";
    let scenario = format!("{}---\n{plc}", cluster_scenario("{flowControl: apf}"));
    let loaded = crate::support::load_text(&scenario, &[]);
    let path = &loaded.apiserver.request_path;
    assert_eq!(path.mode, FlowControlMode::Apf);
    assert_eq!(path.priority_levels.len(), 1);
    assert!(loaded.notes.iter().any(|n| {
        n.message
            .contains("PriorityLevelConfiguration workload-low")
    }));
    // A FlowSchema naming a level that does not exist is an error at its document.
    let fs = "apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: mine}
spec:
  priorityLevelConfiguration: {name: nowhere}
  matchingPrecedence: 500
  rules:
    - subjects: [{kind: Group, group: {name: system:authenticated}}]
      resourceRules: [{verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*']}]
";
    let scenario = cluster_scenario("{flowControl: apf}");
    // The FlowSchema's document starts at its `---`, the line after the scenario's text.
    let first_line = scenario.lines().count() as u64 + 1;
    let text = format!("{scenario}---\n{fs}");
    let (_dir, file) = fixture("scenario.yaml", &text, &[]);
    let err = kubesim::scenario::load(&file, &kubesim::world::Components)
        .expect_err("a dangling level reference");
    let message = err.to_string();
    assert!(message.contains("nowhere"), "{message}");
    assert!(
        message.contains(&format!("scenario.yaml:{first_line}:")),
        "{message}"
    );
    // The flag and the switch must agree; the error names the flag.
    let (_dir, file) = fixture(
        "scenario.yaml",
        &cluster_scenario("{flowControl: apf, enablePriorityAndFairness: false}"),
        &[],
    );
    let err = kubesim::scenario::load(&file, &kubesim::world::Components)
        .expect_err("contradicting fields");
    assert!(
        err.to_string()
            .contains("spec.apiserver.enablePriorityAndFairness"),
        "{err}"
    );
    // An unknown mode names the ones there are.
    let (_dir, file) = fixture(
        "scenario.yaml",
        &cluster_scenario("{flowControl: fair}"),
        &[],
    );
    let err =
        kubesim::scenario::load(&file, &kubesim::world::Components).expect_err("unknown mode");
    assert!(err.to_string().contains("maxInflight"), "{err}");
}

/// The request path of a scenario whose `spec.apiserver` is `apiserver` and which holds a
/// priority level `tiny` of one seat (the server has one: `maxRequestsInflight: 1`,
/// `maxMutatingRequestsInflight: 0`, so every level's nominal limit is ceil(1 × shares / Σ
/// shares) = 1; `tiny` lends none) with one queue, and a FlowSchema sending alice there.
fn tiny_level(apiserver: &str) -> RequestPathConfig {
    let docs = "---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: tiny}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 1
    lendablePercent: 0
    borrowingLimitPercent: 0
    limitResponse:
      type: Queue
      queuing: {queues: 1, handSize: 1, queueLengthLimit: 5}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: alice}
spec:
  priorityLevelConfiguration: {name: tiny}
  matchingPrecedence: 500
  rules:
    - subjects: [{kind: User, user: {name: alice}}]
      resourceRules: [{verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*']}]
";
    let scenario = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: tiny}}
spec:
  apiserver: {apiserver}
{docs}"
    );
    crate::support::load_text(&scenario, &[])
        .apiserver
        .request_path
}

fn three_creates() -> Vec<Request> {
    ["a", "b", "c"]
        .iter()
        .map(|n| Request::create(CLIENT, alice(), pod(n)))
        .collect()
}

fn tiny_metrics(sim: &Simulation<World>) -> kubesim::apiserver::flowcontrol::LevelMetrics {
    sim.model()
        .api()
        .level_metrics()
        .iter()
        .find(|m| m.name == "tiny")
        .cloned()
        .expect("the tiny level")
}

#[test]
fn apf_queues_what_its_seats_cannot_take_and_starts_it_when_one_frees() {
    // Three creates of alice's at 0 s arrive at 1 ms. The first takes tiny's one seat; the
    // other two queue. Each create holds the seat for an idle etcd write, 1.602048 ms (the
    // disk and apply loop are free again by the time the next one reaches etcd), and the
    // next starts the instant the seat frees: answers at 2.602048, 4.204096 and 5.806144
    // ms. The waits are 0, 1.602048 and 3.204096 ms. Nothing is refused.
    let path =
        tiny_level("{flowControl: apf, maxRequestsInflight: 1, maxMutatingRequestsInflight: 0}");
    let sim = run(config(path), three_creates());
    let at: Vec<SimTime> = sender(&sim).answers.iter().map(|(_, t, _)| *t).collect();
    assert_eq!(at, vec![ns(2_602_048), ns(4_204_096), ns(5_806_144)]);
    assert_eq!(requests_with_code(&sim, 201), 3);
    assert_eq!(requests_with_code(&sim, 429), 0);
    let tiny = tiny_metrics(&sim);
    assert_eq!(tiny.nominal_limit_seats, 1);
    assert_eq!(tiny.dispatched_requests_total, 3);
    assert_eq!(tiny.request_wait_duration_seconds.count, 3);
    assert_eq!(
        tiny.request_wait_duration_seconds.sum_nanos,
        1_602_048 + 3_204_096
    );
    assert_eq!(tiny.current_executing_requests, 0);
}

#[test]
fn apf_refuses_a_request_whose_queue_wait_runs_out() {
    // The same, with --request-timeout 4ms: a request may queue a quarter of it, 1 ms, less
    // than one create's 1.602048 ms of service. The two queued at 1 ms time out at 2 ms,
    // before the first create frees the seat at 2.602048 ms: two 429s (reason time-out)
    // with tiny's Retry-After, 1 s. Sent again at 1.002 s, they arrive at 1.003 s: #2 takes
    // the seat (answered at 1.003 s + 1.602048 ms = 1.004602048 s); #3 queues and times out
    // again at 1.004 s, a third 429 (one drop in the last second: the Retry-After stays
    // 1 s; it doubles only at 3 × 1 drops). Sent again at 2.004 s, it arrives at 2.005 s to
    // a free seat: answered at 2.006602048 s.
    let path = tiny_level(
        "{flowControl: apf, maxRequestsInflight: 1, maxMutatingRequestsInflight: 0, \
         requestTimeout: 4ms}",
    );
    let sim = run(config(path), three_creates());
    let at: Vec<SimTime> = sender(&sim).answers.iter().map(|(_, t, _)| *t).collect();
    assert_eq!(
        at,
        vec![ns(2_602_048), ns(1_004_602_048), ns(2_006_602_048)]
    );
    assert_eq!(requests_with_code(&sim, 429), 3);
    assert_eq!(requests_with_code(&sim, 201), 3);
    let tiny = tiny_metrics(&sim);
    assert_eq!(tiny.rejected_requests_total.time_out, 3);
    assert_eq!(tiny.retry_after_seconds.get(&1), Some(&3));
    let path = sim.model().api().request_path().expect("modelled");
    assert_eq!(path.retry_after_seconds().get(&1), Some(&3));
}
