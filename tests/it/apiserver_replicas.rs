//! Several kube-apiserver replicas behind a load balancer (`spec.apiserver.replicas`): each
//! client's one connection, per-replica flow control, a replica's restart re-homing only its
//! clients, and the imbalance a rolling restart leaves, which `--goaway-chance` repairs.
//!
//! The hub is driven by hand here (its events in time order), so every number follows from
//! the load balancer's rules: a client's requests go to the replica its connection is on; a
//! new connection lands on a replica drawn uniformly among those up; a replica going down
//! breaks its connections; with a GOAWAY chance p each request is the last of its connection
//! with probability p.

use std::collections::BTreeMap;

use kubesim::api::{Kind, ObjectKey};
use kubesim::apiserver::flowcontrol::FlowControlConfig;
use kubesim::apiserver::{
    ApiError, ApiEvent, ApiOutput, ApiServer, ApiServerConfig, ClientId, FlowControlMode,
    ListOptions, Request, RequestId, RequestPathConfig, Response, UserInfo, WatchId,
};
use kubesim::sim::{RngStreams, SimDuration, SimTime};

use crate::support::{self, run_in_folder, summary_in};

/// A hub on its own, its events in time order, its answers and ended watches written down.
struct Driver {
    api: ApiServer,
    queue: BTreeMap<(SimTime, u64), ApiEvent>,
    seq: u64,
    answers: BTreeMap<RequestId, (SimTime, Response)>,
    ended: Vec<(ClientId, WatchId)>,
}

impl Driver {
    fn new(config: ApiServerConfig, seed: u64) -> Self {
        let streams = RngStreams::new(seed);
        let mut api = ApiServer::new(config, streams.stream("apiserver/generate-name"));
        api.seed_load_balancer(streams);
        Driver {
            api,
            queue: BTreeMap::new(),
            seq: 0,
            answers: BTreeMap::new(),
            ended: Vec::new(),
        }
    }

    fn absorb(&mut self, now: SimTime, out: Vec<ApiOutput>) {
        for output in out {
            match output {
                ApiOutput::Schedule(at, event) => {
                    self.queue.insert((at, self.seq), event);
                    self.seq += 1;
                }
                ApiOutput::Respond {
                    request, response, ..
                } => {
                    self.answers.insert(request, (now, response));
                }
                ApiOutput::WatchEnded { client, watch } => self.ended.push((client, watch)),
                ApiOutput::Deliver { .. } => {}
            }
        }
    }

    fn send(&mut self, at: SimTime, request: Request) -> RequestId {
        let mut out = Vec::new();
        let id = self.api.submit(at, request, &mut out);
        self.absorb(at, out);
        id
    }

    fn run_until(&mut self, until: SimTime) {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            let mut out = Vec::new();
            self.api.handle(at, event, &mut out);
            self.absorb(at, out);
        }
    }

    fn shut_down(&mut self, at: SimTime, replica: usize) {
        self.run_until(at);
        let mut out = Vec::new();
        self.api.shut_down(at, replica, &mut out);
        self.absorb(at, out);
    }

    fn come_up(&mut self, at: SimTime, replica: usize) {
        self.run_until(at);
        self.api.come_up(at, replica);
    }

    fn answer(&self, id: RequestId) -> &(SimTime, Response) {
        match self.answers.get(&id) {
            Some(answer) => answer,
            None => panic!("request {id:?} is not answered"),
        }
    }

    /// Clients connected to each replica now.
    fn connected(&self) -> Vec<u64> {
        let lb = self.api.load_balancer();
        lb.replicas().iter().map(|r| r.connected).collect()
    }

    fn replica_of(&self, client: ClientId) -> Option<u32> {
        self.api.load_balancer().connection(client)
    }
}

fn config(replicas: u32, mode: FlowControlMode) -> ApiServerConfig {
    ApiServerConfig {
        replicas,
        request_path: RequestPathConfig {
            mode,
            ..RequestPathConfig::default()
        },
        ..ApiServerConfig::default()
    }
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

fn ms(m: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(m)
}

fn user(client: ClientId) -> UserInfo {
    UserInfo::new(format!("system:node:n{}", client.0), &["system:nodes"])
}

fn get(client: ClientId) -> Request {
    let key = ObjectKey::new("default", "absent");
    Request::get(client, user(client), Kind::Pod, &key)
}

fn list(client: ClientId) -> Request {
    Request::list(client, user(client), Kind::Pod, "", ListOptions::default())
}

fn watch(client: ClientId) -> Request {
    Request::watch(client, user(client), Kind::Pod, "", ListOptions::default())
}

/// Every client of `clients` sends a GET at each whole second of `seconds`.
fn every_second(hub: &mut Driver, clients: u32, seconds: std::ops::Range<u64>) {
    for s in seconds {
        hub.run_until(secs(s));
        for c in 0..clients {
            hub.send(secs(s), get(ClientId(c)));
        }
    }
}

#[test]
fn clients_split_over_the_replicas_and_keep_theirs() {
    // 3,000 clients, each connecting with its first request: 1,000 per replica expected, a
    // binomial standard deviation of √(3000 × 1/3 × 2/3) = 25.8; within 5 of them (±129).
    let mut hub = Driver::new(config(3, FlowControlMode::Apf), 1);
    every_second(&mut hub, 3000, 0..3);
    hub.run_until(secs(4));
    let connected = hub.connected();
    assert_eq!(connected.iter().sum::<u64>(), 3000);
    for n in &connected {
        assert!(n.abs_diff(1000) < 130, "{connected:?}");
    }
    // Three requests each, every one to the client's own replica: one connection per client.
    let lb = hub.api.load_balancer().replicas();
    assert_eq!(lb.iter().map(|r| r.connections_made).sum::<u64>(), 3000);
    for (r, n) in lb.iter().zip(&connected) {
        assert_eq!(r.requests, 3 * n);
        assert_eq!(r.connected_peak, *n);
    }
}

#[test]
fn flow_control_limits_are_per_replica() {
    // --max-requests-inflight=1: one read at a time per server. Two LISTs arriving together
    // (sent at 100 ms, arriving at 101 ms, each holding its seat 500 µs for an empty list).
    let with = |replicas| {
        let mut c = config(replicas, FlowControlMode::MaxInflight);
        c.request_path.flow_control = FlowControlConfig {
            max_requests_inflight: 1,
            ..c.request_path.flow_control.clone()
        };
        c
    };
    // One replica: the second LIST finds the only read seat taken, 429 at once.
    let mut one = Driver::new(with(1), 1);
    let a = one.send(ms(100), list(ClientId(1)));
    let b = one.send(ms(100), list(ClientId(2)));
    one.run_until(ms(200));
    assert!(one.answer(a).1.is_ok());
    assert!(matches!(
        one.answer(b).1,
        Err(ApiError::TooManyRequests { .. })
    ));
    // Two replicas: find one client on each (a first GET connects them), then both LISTs
    // start on their own replica's seat and are answered together at 101.5 ms.
    let mut two = Driver::new(with(2), 1);
    for c in 0..20 {
        two.send(ms(0), get(ClientId(c)));
    }
    two.run_until(ms(50));
    let on = |r| {
        (0..20)
            .map(ClientId)
            .find(|&c| two.replica_of(c) == Some(r))
    };
    let (Some(x), Some(y)) = (on(0), on(1)) else {
        panic!("20 clients over 2 replicas: 2^-19 odds that one replica has none");
    };
    let a = two.send(ms(100), list(x));
    let b = two.send(ms(100), list(y));
    two.run_until(ms(200));
    let done = SimTime::ZERO + SimDuration::from_micros(101_500);
    assert!(two.answer(a).1.is_ok(), "{:?}", two.answer(a));
    assert!(two.answer(b).1.is_ok(), "{:?}", two.answer(b));
    assert_eq!(two.answer(a).0, done);
    assert_eq!(two.answer(b).0, done);
    // The control plane's limits are the sums: 2 read seats, 2 × 200 mutating.
    let levels = two.api.level_metrics();
    let seats = |name: &str| {
        levels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.nominal_limit_seats)
    };
    assert_eq!(seats("readOnly"), Some(2));
    assert_eq!(seats("mutating"), Some(400));
}

#[test]
fn a_replica_restart_resets_only_its_clients_who_re_home_to_the_others() {
    let mut hub = Driver::new(config(3, FlowControlMode::Apf), 5);
    // 300 clients, each with a watch open (sent at 0, open at 2 ms).
    let watches: Vec<RequestId> = (0..300)
        .map(|c| hub.send(ms(0), watch(ClientId(c))))
        .collect();
    hub.run_until(ms(100));
    let replica_of: Vec<Option<u32>> = (0..300).map(|c| hub.replica_of(ClientId(c))).collect();
    let on_zero: Vec<u32> = (0..300)
        .filter(|&c| replica_of[c as usize] == Some(0))
        .collect();
    assert!(!on_zero.is_empty());
    assert_eq!(hub.api.watches().open_count(), 300);
    for &id in &watches {
        assert!(hub.answer(id).1.is_ok());
    }
    // At 1 s a LIST of a replica-0 client and one of another client are on their way; both
    // arrive at 1.001 s and hold their seats 500 µs, so replica 0 goes down mid-LIST.
    let other = (0..300).find(|&c| replica_of[c as usize] == Some(1));
    let Some(other) = other else {
        panic!("no client on replica 1");
    };
    let cut = hub.send(secs(1), list(ClientId(on_zero[0])));
    let served = hub.send(secs(1), list(ClientId(other)));
    hub.shut_down(ms(1_001) + SimDuration::from_micros(200), 0);
    // Only replica 0's watches ended and only its clients lost their connection.
    let ended: Vec<u32> = hub.ended.iter().map(|(c, _)| c.0).collect();
    assert_eq!(ended, on_zero);
    assert_eq!(hub.api.watches().open_count(), 300 - on_zero.len());
    assert_eq!(hub.connected()[0], 0);
    for c in 0..300u32 {
        let expected = replica_of[c as usize].filter(|&r| r != 0);
        assert_eq!(hub.replica_of(ClientId(c)), expected, "client {c}");
    }
    hub.run_until(secs(2));
    assert!(matches!(
        hub.answer(cut).1,
        Err(ApiError::Connection(
            kubesim::apiserver::ConnectionFailure::Reset
        ))
    ));
    assert!(hub.answer(served).1.is_ok());
    assert_eq!(hub.api.replicas()[0].process().reset(), 1);
    assert_eq!(hub.api.replicas()[1].process().reset(), 0);
    // The cut-off clients watch again at 3 s: every one lands on replica 1 or 2, and opens.
    let again: Vec<RequestId> = on_zero
        .iter()
        .map(|&c| hub.send(secs(3), watch(ClientId(c))))
        .collect();
    hub.run_until(secs(4));
    for (&c, id) in on_zero.iter().zip(&again) {
        assert!(hub.answer(*id).1.is_ok());
        assert!(matches!(hub.replica_of(ClientId(c)), Some(1 | 2)));
    }
    assert_eq!(hub.api.watches().open_count(), 300);
    assert_eq!(hub.api.connections_refused(), 0);
    // Every replica down: refused at the connection, counted by the load balancer.
    hub.shut_down(secs(5), 1);
    hub.shut_down(secs(5), 2);
    let refused = hub.send(secs(6), get(ClientId(1)));
    hub.run_until(secs(7));
    assert!(matches!(
        hub.answer(refused).1,
        Err(ApiError::Connection(
            kubesim::apiserver::ConnectionFailure::Refused
        ))
    ));
    assert_eq!(hub.api.connections_refused(), 1);
}

/// 1,200 clients sending a GET every second over 3 replicas, replica 0, 1, 2 restarted in
/// turn (down 10 → 15 s, 20 → 25 s, 30 → 35 s), then run to `until` seconds; the clients
/// connected to each replica at the end. The ideal path: the load balancer is the same on
/// either, and a GET there costs no flow control.
fn rolling_restart(goaway_ppb: u32, until: u64) -> Vec<u64> {
    let mut c = config(3, FlowControlMode::Ideal);
    c.goaway_chance_ppb = goaway_ppb;
    let mut hub = Driver::new(c, 9);
    let mut at = 0;
    for (replica, down) in [(0, 10), (1, 20), (2, 30)] {
        every_second(&mut hub, 1200, at..down);
        hub.shut_down(secs(down), replica);
        every_second(&mut hub, 1200, down..down + 5);
        hub.come_up(secs(down + 5), replica);
        at = down + 5;
    }
    every_second(&mut hub, 1200, at..until);
    hub.run_until(secs(until + 1));
    hub.connected()
}

#[test]
fn a_rolling_restart_leaves_the_last_replica_empty_without_goaway() {
    // Without GOAWAY nothing moves a connection but its replica going down:
    //   start:        400 / 400 / 400
    //   0 down (10s): its 400 reconnect to 1 or 2 → 0 / 600 / 600 (0 back at 15 s, empty)
    //   1 down (20s): its 600 reconnect to 0 or 2 → 300 / 0 / 900
    //   2 down (30s): its 900 reconnect to 0 or 1 → 750 / 450 / 0
    // and so it stays: replica 2, restarted last, has no client at all. Each split is a
    // binomial draw (900 halves: σ = 15; the earlier ones add less): ±100 is > 5 σ.
    let connected = rolling_restart(0, 60);
    assert_eq!(connected.iter().sum::<u64>(), 1200);
    assert_eq!(connected[2], 0, "{connected:?}");
    assert!(connected[0].abs_diff(750) < 100, "{connected:?}");
    assert!(connected[1].abs_diff(450) < 100, "{connected:?}");
}

#[test]
fn goaway_chance_rebalances_the_replicas_after_a_rolling_restart() {
    // At upstream's maximum 0.02, each second 2 % of the clients reconnect, each landing on
    // replica 2 with probability 1/3: its share f follows f' = 0.02 (1/3 − f), so 150 s after
    // the restart (at 185 s) f = 1/3 (1 − e^-3) = 0.317, about 380 of 1,200 — against 0
    // without GOAWAY. (It also draws during the restart itself, which only helps.) Every
    // replica within 400 ± 80.
    let connected = rolling_restart(20_000_000, 185);
    // The clients whose last request carried a GOAWAY have no connection until their next:
    // about 2 % of them (24, σ ≈ 5).
    let total = connected.iter().sum::<u64>();
    assert!((1150..=1200).contains(&total), "{connected:?}");
    assert!(connected[2] > 320, "{connected:?}");
    for n in &connected {
        assert!(n.abs_diff(400) < 80, "{connected:?}");
    }
}

#[test]
fn the_same_seed_spreads_the_clients_the_same_way_and_another_seed_differently() {
    let spread = |seed| {
        let mut hub = Driver::new(config(3, FlowControlMode::Apf), seed);
        every_second(&mut hub, 200, 0..1);
        hub.run_until(secs(2));
        (0..200)
            .map(|c| hub.replica_of(ClientId(c)))
            .collect::<Vec<_>>()
    };
    assert_eq!(spread(4), spread(4));
    assert_ne!(spread(4), spread(5));
}

/// A small cluster of `replicas` apiservers under APF with `timeline` entries.
fn scenario(apiserver: &str, timeline: &str) -> String {
    format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: ha}}
spec:
  duration: 3m
  apiserver: {{flowControl: apf, {apiserver}}}
  nodePools:
    - name: n
      count: 12
      zones: [a]
      template:
        allocatable: {{cpu: "8", memory: 32Gi, pods: "110"}}
  timeline:
{timeline}
  report: {{sampleEvery: 5s}}
{}"#,
        crate::support::web_deployment(6)
    )
}

/// Loads `text`; the error's text if it does not load.
fn load_error(text: &str) -> String {
    support::load_error("ha.yaml", text)
}

#[test]
fn replicas_goaway_and_replica_indexes_are_checked_at_load() {
    let restart = "    - {at: 1m, apiserverRestart: {downtime: 5s}}";
    let zero = load_error(&scenario("replicas: 0", restart));
    assert!(zero.contains("spec.apiserver.replicas"), "{zero}");
    assert!(zero.contains("at least 1"), "{zero}");
    let fraction = load_error(&scenario("replicas: 1.5", restart));
    assert!(fraction.contains("replicas"), "{fraction}");
    let high = load_error(&scenario("replicas: 2, goawayChance: 0.05", restart));
    assert!(high.contains("spec.apiserver.goawayChance"), "{high}");
    assert!(high.contains("0.02"), "{high}");
    let missing = load_error(&scenario(
        "replicas: 3",
        "    - {at: 1m, apiserverRestart: {downtime: 5s, replica: 3}}",
    ));
    assert!(
        missing.contains("spec.timeline[0].apiserverRestart.replica"),
        "{missing}"
    );
    assert!(missing.contains("from 0 to 2"), "{missing}");
    // The ideal apiserver has no process to restart, one or several.
    let ideal = load_error(
        &scenario(
            "replicas: 3",
            "    - {at: 1m, apiserverRollingRestart: {downtime: 5s, interval: 5s}}",
        )
        .replace("flowControl: apf, ", ""),
    );
    assert!(
        ideal.contains("spec.timeline[0].apiserverRollingRestart"),
        "{ideal}"
    );
}

#[test]
fn a_run_reports_each_replica_and_each_restart() {
    // 12 nodes, 3 replicas, a rolling restart from 1m: replica 0 down 1m → 1m10s, 1 from
    // 1m15s to 1m25s, 2 from 1m30s to 1m40s.
    let text = scenario(
        "replicas: 3",
        "    - {at: 1m, apiserverRollingRestart: {downtime: 10s, interval: 5s}}",
    );
    let (_dir, out) = run_in_folder(&text, &[]);
    let summary = summary_in(&out);
    let restarts = &summary["stampede"]["clients"]["restarts"];
    let seen: Vec<(u64, &str, &str)> = (0..3)
        .map(|i| {
            let r = &restarts[i];
            (
                r["replica"].as_u64().unwrap_or(99),
                r["downAt"].as_str().unwrap_or(""),
                r["upAt"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (0, "1m", "1m10s"),
            (1, "1m15s", "1m25s"),
            (2, "1m30s", "1m40s")
        ]
    );
    let replicas = &summary["stampede"]["apiserver"]["replicas"];
    let clients: u64 = (0..3)
        .map(|i| replicas[i]["connectedClients"].as_u64().unwrap_or(0))
        .sum();
    // 12 kubelets, 12 kube-proxies, the scheduler and kube-controller-manager's clients:
    // every one connected somewhere at the end.
    assert!(clients >= 24, "{replicas}");
    for i in 0..3 {
        assert_eq!(replicas[i]["restarts"], 1, "{replicas}");
        assert!(replicas[i]["connectedClientsPeak"].as_u64().unwrap_or(0) > 0);
    }
    // Replica 2 restarted last: no more clients than either other at the end.
    let at_end = |i: usize| replicas[i]["connectedClients"].as_u64().unwrap_or(0);
    assert!(at_end(2) <= at_end(0).min(at_end(1)), "{replicas}");
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).expect("timeseries.csv");
    let header = csv.lines().next().unwrap_or("");
    for i in 0..3 {
        for m in [
            "apiserver_replica_up",
            "apiserver_connected_clients",
            "apiserver_inflight_requests",
            "apiserver_inqueue_requests",
        ] {
            assert!(header.contains(&format!("replica-{i}:{m}")), "{header}");
        }
    }
}
