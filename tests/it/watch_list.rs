//! Streaming lists end to end (KEP-3157): informers whose reflector starts each round with a
//! WATCH with `sendInitialEvents=true` (client-go's `WatchListClient`) against an apiserver
//! that serves it (its `WatchList` gate) or refuses it.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use kubesim::api::{Kind, Object, ObjectKey};
use kubesim::apiserver::{
    ApiServerConfig, ClientId, ListOptions, Request, RequestId, Response, UserInfo, Verb,
    WatchEvent, WatchId,
};
use kubesim::client::informer::{Delta, Informer, InformerHealth};
use kubesim::component::{Component, ComponentContext, Timer};
use kubesim::config::feature_gates::ClientFeatureGates;
use kubesim::sim::{SimDuration, SimTime, Simulation, StopAt};
use kubesim::world::{self, World};

use crate::support::{load_text, run_in_folder, summary_in, web_deployment};

const CLIENT: ClientId = ClientId(77);

/// What the stand-in saw, in order: each answer or event, and whether its informer was
/// synced after it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// An answer to one of its requests.
    Answer { synced: bool },
    /// A watch event of this type.
    Event { change: &'static str, synced: bool },
}

/// A component that is nothing but one pod informer (the test's stand-in for a controller).
struct PodWatcher {
    informer: Informer,
    seen: Vec<Seen>,
    /// Every delta handed out, as `<Added|Updated|Deleted> <key>`.
    deltas: Vec<String>,
}

impl PodWatcher {
    fn new(options: ListOptions) -> Self {
        let user = UserInfo::new("watcher", &["system:authenticated"]);
        PodWatcher {
            informer: Informer::new(Kind::Pod, CLIENT, user, options),
            seen: Vec::new(),
            deltas: Vec::new(),
        }
    }

    fn record(&mut self, deltas: impl IntoIterator<Item = Delta>) {
        for delta in deltas {
            self.deltas.push(match delta {
                Delta::Added(o) => format!("Added {}", o.key()),
                Delta::Updated(_, o) => format!("Updated {}", o.key()),
                Delta::Deleted(o) => format!("Deleted {}", o.key()),
            });
        }
    }
}

impl Component for PodWatcher {
    fn clients(&self) -> Vec<ClientId> {
        vec![CLIENT]
    }

    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        self.informer.start(cx);
    }

    fn on_response(
        &mut self,
        _: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some(deltas) = self.informer.on_response(request, response, cx) {
            self.record(deltas);
            let synced = self.informer.has_synced();
            self.seen.push(Seen::Answer { synced });
        }
    }

    fn on_watch_event(
        &mut self,
        _: ClientId,
        watch: WatchId,
        event: &WatchEvent,
        cx: &mut ComponentContext<'_>,
    ) {
        if self.informer.owns_watch(watch) {
            let deltas = self.informer.on_watch_event(event, cx.now());
            self.record(deltas);
            let synced = self.informer.has_synced();
            let change = event.change.name();
            self.seen.push(Seen::Event { change, synced });
        }
    }

    fn on_watch_ended(&mut self, _: ClientId, watch: WatchId, cx: &mut ComponentContext<'_>) {
        self.informer.on_watch_ended(watch, cx);
    }

    fn informer_health(&self) -> InformerHealth {
        self.informer.health()
    }

    fn on_timer(&mut self, _: Timer, _: &mut ComponentContext<'_>) {}

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn at(ms: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(ms)
}

fn run_to(sim: &mut Simulation<World>, ms: u64) {
    sim.run(StopAt {
        until: Some(at(ms)),
        when_quiescent: false,
        max_events: None,
    });
}

fn pod(namespace: &str, name: &str, node: &str) -> Object {
    let mut p = kubesim::api::pod::Pod::default();
    p.metadata.namespace = namespace.into();
    p.metadata.name = name.into();
    let mut spec = (*p.spec).clone();
    spec.node_name = node.into();
    spec.containers = vec![kubesim::api::pod::Container {
        name: "c".into(),
        image: "img".into(),
        ..Default::default()
    }];
    p.spec = Arc::new(spec);
    Object::Pod(Arc::new(p))
}

/// An ideal apiserver (its `WatchList` gate `server`) holding five pods — three on n0 (two in
/// namespace a, one in b), two on n1 — and, from 1 s, a pod informer of n0's pods with
/// client-go's `WatchListClient` gate `client`, run to 2 s.
fn watch_n0(server: bool, client: bool) -> Simulation<World> {
    let mut config = ApiServerConfig::default();
    config.feature_gates.watch_list = server;
    let mut sim = world::with_components(config, 1, Vec::new());
    let user = UserInfo::new("admin", &["system:masters"]);
    for (ns, name, node) in [
        ("a", "p1", "n0"),
        ("a", "p2", "n1"),
        ("a", "p3", "n0"),
        ("b", "q1", "n0"),
        ("b", "q2", "n1"),
    ] {
        world::submit(
            &mut sim,
            Request::create(ClientId(1), user.clone(), pod(ns, name, node)),
        );
    }
    run_to(&mut sim, 1000);
    sim.model_mut().set_client_gates(ClientFeatureGates {
        watch_list_client: client,
    });
    let options = ListOptions {
        field_selector: kubesim::api::labels::parse_field_selector("spec.nodeName=n0").ok(),
        ..ListOptions::default()
    };
    world::add_component(&mut sim, Box::new(PodWatcher::new(options)));
    run_to(&mut sim, 2000);
    sim
}

fn watcher(sim: &Simulation<World>) -> &PodWatcher {
    match sim.model().component::<PodWatcher>() {
        Some(w) => w,
        None => panic!("the stand-in is registered"),
    }
}

fn cache(sim: &Simulation<World>) -> BTreeMap<ObjectKey, Arc<Object>> {
    watcher(sim).informer.cache().clone()
}

/// `apiserver_request_total` of `verb` answered `code`.
fn answered(sim: &Simulation<World>, verb: Verb, code: u16) -> u64 {
    let counters = sim.model().api().counters();
    counters
        .requests
        .iter()
        .filter(|((v, k, c), _)| *v == verb && *k == Kind::Pod && *c == code)
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn a_streaming_informer_is_synced_at_the_end_bookmark_with_the_cache_a_list_gives() {
    let streamed = watch_n0(true, true);
    let listed = watch_n0(true, false);
    // n0's pods: a/p1, a/p3, b/q1 — the same objects (same versions) either way.
    let keys: Vec<String> = cache(&streamed).keys().map(ToString::to_string).collect();
    assert_eq!(keys, ["a/p1", "a/p3", "b/q1"]);
    assert_eq!(cache(&streamed), cache(&listed));
    // And the component was handed the same deltas: one Added each, in key order.
    assert_eq!(watcher(&streamed).deltas, watcher(&listed).deltas);
    assert_eq!(
        watcher(&streamed).deltas,
        ["Added a/p1", "Added a/p3", "Added b/q1"]
    );
    // The streaming informer: the watch's answer, three initial events, then the bookmark;
    // synced only from the bookmark on.
    let unsynced = |change| Seen::Event {
        change,
        synced: false,
    };
    assert_eq!(
        watcher(&streamed).seen,
        [
            Seen::Answer { synced: false },
            unsynced("ADDED"),
            unsynced("ADDED"),
            unsynced("ADDED"),
            Seen::Event {
                change: "BOOKMARK",
                synced: true
            },
        ]
    );
    // No LIST was sent; the listing informer sent one, then its watch.
    assert_eq!(answered(&streamed, Verb::List, 200), 0);
    assert_eq!(answered(&streamed, Verb::Watch, 200), 1);
    assert_eq!(answered(&listed, Verb::List, 200), 1);
    let health = watcher(&streamed).informer.health();
    assert_eq!((health.lists, health.stream_lists), (0, 1));
    assert_eq!(health.following, 1);
    assert_eq!(health.relists(), 0);
}

#[test]
fn a_server_without_watch_list_refuses_the_stream_and_the_informer_falls_back_to_a_list() {
    let sim = watch_n0(false, true);
    // The streaming list is refused as invalid (422); the same round LISTs, then watches.
    assert_eq!(answered(&sim, Verb::Watch, 422), 1);
    assert_eq!(answered(&sim, Verb::List, 200), 1);
    assert_eq!(answered(&sim, Verb::Watch, 200), 1);
    let keys: Vec<String> = cache(&sim).keys().map(ToString::to_string).collect();
    assert_eq!(keys, ["a/p1", "a/p3", "b/q1"]);
    let health = watcher(&sim).informer.health();
    assert_eq!((health.lists, health.stream_lists), (1, 0));
    assert!(watcher(&sim).informer.has_synced());
    assert_eq!(health.following, 1);
}

/// The restart of `apiserver_restart.rs` (3 nodes, APF, down 10 s at 60 s) with 60 pods and
/// both gates set to `streaming`.
fn restart_storm(streaming: bool) -> String {
    format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: restart-streaming}}
spec:
  duration: 3m
  apiserver:
    flowControl: apf
    featureGates: {{WatchList: {streaming}}}
  clientFeatureGates: {{WatchListClient: {streaming}}}
  nodePools:
    - name: n
      count: 3
      zones: [a]
      template:
        allocatable: {{cpu: "64", memory: 256Gi, pods: "110"}}
        images: [{{names: ["web:v1"], sizeBytes: 100000000}}]
  timeline:
    - {{at: 60s, apiserverRestart: {{downtime: 10s}}}}
  report: {{sampleEvery: 5s}}
{}"#,
        web_deployment(60)
    )
}

fn summary_of(text: &str) -> serde_json::Value {
    let (_dir, out) = run_in_folder(text, &[]);
    summary_in(&out)
}

#[test]
fn streaming_lists_cut_the_restart_storm_s_list_memory_peak() {
    let listed = summary_of(&restart_storm(false));
    let streamed = summary_of(&restart_storm(true));
    let peak = |s: &serde_json::Value| {
        s["stampede"]["apiserverListMemoryPeakBytes"]
            .as_u64()
            .unwrap_or_else(|| panic!("a memory peak in {}", s["stampede"]))
    };
    let (listed_peak, streamed_peak) = (peak(&listed), peak(&streamed));
    let clients = &streamed["stampede"]["clients"];
    let informers = clients["informers"].as_u64().unwrap_or(0);
    // With LISTs: after the restart the scheduler's and kube-controller-manager's pod
    // informers relist all 60 pods; one such answer alone holds 5 × 60 × 2 KiB = 614,400
    // bytes while it is served.
    assert!(listed_peak >= 614_400, "{listed_peak}");
    // Streaming: no informer LISTs; each streaming list holds one 2 KiB object in flight
    // while its initial events go out, so even every informer streaming at once holds at
    // most informers × 2,048 bytes — 30-odd informers here, about a tenth of one pod LIST.
    assert_eq!(clients["reflectorListsTotal"], 0, "{clients}");
    assert!(streamed_peak > 0);
    assert!(streamed_peak <= informers * 2048, "{streamed_peak}");
    assert!(
        streamed_peak * 10 <= listed_peak,
        "{streamed_peak} vs {listed_peak}"
    );
    // Each informer filled its cache twice: its first streaming list, and again after the
    // 410 the new process's cache answered its re-watch (a relist, streamed) — the control
    // plane's new processes' first lists counting as their relists, as with LISTs.
    assert_eq!(clients["reflectorRelistsTotal"].as_u64(), Some(informers));
    assert_eq!(
        clients["reflectorStreamingListsTotal"].as_u64(),
        Some(2 * informers)
    );
    assert_eq!(clients["restarts"][0]["relists"].as_u64(), Some(informers));
    // Both recovered: every informer follows changes again.
    assert_eq!(clients["informersFollowing"].as_u64(), Some(informers));
    assert_eq!(
        listed["stampede"]["clients"]["reflectorStreamingListsTotal"],
        0
    );
}

#[test]
fn streaming_runs_are_deterministic() {
    let text = restart_storm(true);
    let digest = || {
        let scenario = load_text(&text, &[]);
        let mut sim = world::build(&scenario, &world::RunOptions::default());
        run_to(&mut sim, 120_000);
        let events = *sim.digest();
        sim.model().trace_digest(&events).finish()
    };
    assert_eq!(digest(), digest());
}
