//! Client populations (`spec.clients`): per-node agents, operators and scrapers as API
//! clients of their own — each client its own id and token bucket, every client of a
//! population its service account — and their requests in `summary.json`.
//!
//! Timing on the ideal path: a request is executed and answered `admissionLatency` = 1 ms
//! after it is sent. On the modelled path it arrives 1 ms after it leaves its client's bucket
//! and a LIST holds its seat 500 µs plus 10 µs per object returned.

use kubesim::api::Kind;
use kubesim::apiserver::{ClientId, Verb};
use kubesim::populations::{Operators, PerNodeAgents, Scraper, population_client};
use kubesim::sim::{SimDuration, SimTime, Simulation, StopAt};
use kubesim::world::{self, RunOptions, World};

use crate::support::{fixture, kubesim, load_text, run_in_folder, summary_in};

/// A Scenario of `nodes` nodes with no control plane, no kubelets and the `extra` spec lines.
fn scenario(nodes: u32, extra: &str) -> String {
    format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: populations}}
spec:
  seed: 1
  duration: 2m
  scheduler: {{enabled: false}}
  controllerManager: {{enabled: false}}
  kubelet: {{enabled: false}}
  nodePools:
    - {{name: n, count: {nodes}, template: {{allocatable: {{cpu: \"4\", memory: 8Gi, pods: \"110\"}}}}}}
{extra}"
    )
}

/// The run of `text` until `until`.
fn run_until(text: &str, until: SimDuration) -> Simulation<World> {
    let loaded = load_text(text, &[]);
    let mut sim = world::build(&loaded, &RunOptions::default());
    sim.run(StopAt {
        until: Some(SimTime::ZERO + until),
        when_quiescent: false,
        max_events: Some(1_000_000),
    });
    sim
}

const NPD: &str = "  clients:
    - name: npd
      serviceAccount: node-problem-detector
      perNodeAgent: {period: 10s}
";

#[test]
fn a_per_node_agent_lists_every_period_from_its_seeded_phase_as_its_own_client() {
    let sim = run_until(&scenario(3, NPD), SimDuration::from_secs(55));
    let agents = sim
        .model()
        .component::<PerNodeAgents>()
        .expect("the agents");
    // The phases are the first three draws of the stream "clients/npd/phase" under seed 1,
    // uniform in [0, 10 s), one per node in node order:
    let phases: Vec<SimDuration> = ["n-0", "n-1", "n-2"]
        .iter()
        .map(|n| agents.phase(n).expect("an agent per node"))
        .collect();
    assert_eq!(
        phases,
        [
            SimDuration::from_nanos(9_731_857_652),
            SimDuration::from_nanos(9_602_362_250),
            SimDuration::from_nanos(3_235_200_542),
        ]
    );
    // Node i's k-th LIST (k = 0, 1, …) goes at phase_i + k × 10.001 s: the first at its phase
    // (every node is applied at 0 s), each later one 10 s after the answer to the one before,
    // which comes 1 ms after it was sent. Up to 55 s: k ≤ (55 − phase) / 10.001, so
    //   n-0: (55 − 9.732) / 10.001 = 4.53 → k = 0…4, 5 LISTs (the last at 49.736 s);
    //   n-1: (55 − 9.602) / 10.001 = 4.54 → 5 LISTs (the last at 49.607 s);
    //   n-2: (55 − 3.235) / 10.001 = 5.18 → 6 LISTs (the last at 53.240 s).
    // 16 in all, each answered (the last at 53.241 s).
    let lists: Vec<Option<u64>> = ["n-0", "n-1", "n-2"]
        .iter()
        .map(|n| agents.lists(n))
        .collect();
    assert_eq!(lists, [Some(5), Some(5), Some(6)]);
    let stats = agents.stats();
    assert_eq!(stats.count(Verb::List, 200), 16);
    assert_eq!(stats.total(), 16);
    // Each agent is its own client, population 0's ids in node order; all authenticate as the
    // DaemonSet's service account.
    for (i, node) in ["n-0", "n-1", "n-2"].iter().enumerate() {
        assert_eq!(agents.client_of(node), Some(population_client(0, i as u32)));
    }
    assert_eq!(population_client(0, 2), ClientId(1_000_002));
    assert_eq!(
        stats.user,
        "system:serviceaccount:default:node-problem-detector"
    );
    assert_eq!(stats.clients, 3);
    // The apiserver counted them as LISTs of pods (there are no pods: each returned nothing).
    let counters = sim.model().api().counters();
    assert_eq!(
        counters.requests.get(&(Verb::List, Kind::Pod, 200)),
        Some(&16)
    );
}

#[test]
fn a_per_node_agent_stops_with_its_node_and_starts_a_phase_after_it_boots() {
    // n-0 crashes at 20 s and boots at 40 s. Its LISTs (phase 9.732 s, as above): 9.732 s and
    // 19.733 s; the next, due at 29.734 s, never goes. It starts afresh at 40 s and lists at
    // 40 + 9.732 = 49.732 s and 59.733 s: 4 LISTs by 60 s. The others list 6 times (n-1 from
    // 9.602 s, the last at 59.607 s; n-2 from 3.235 s, the last at 53.240 s).
    let text = scenario(
        3,
        &format!(
            "{NPD}  timeline:
    - {{at: 20s, crash: {{node: n-0, recoverAfter: 20s}}}}
"
        ),
    );
    let sim = run_until(&text, SimDuration::from_secs(60));
    let agents = sim
        .model()
        .component::<PerNodeAgents>()
        .expect("the agents");
    assert_eq!(agents.lists("n-0"), Some(4));
    assert_eq!(agents.lists("n-1"), Some(6));
    assert_eq!(agents.lists("n-2"), Some(6));
}

#[test]
fn an_operator_opens_one_list_and_one_watch_per_kind_per_replica() {
    let text = scenario(
        2,
        "  clients:
    - name: cert-operator
      namespace: operators
      operator: {replicas: 3, resources: [pods, nodes, services]}
",
    );
    let sim = run_until(&text, SimDuration::from_secs(30));
    let operators = sim.model().component::<Operators>().expect("the operator");
    // 3 replicas × 3 kinds: 9 LISTs at 0 s, answered at 1 ms, then 9 WATCHes from the lists'
    // resourceVersion, opened at 2 ms; nothing fails, so nothing relists.
    let stats = operators.stats();
    assert_eq!(stats.count(Verb::List, 200), 9);
    assert_eq!(stats.count(Verb::Watch, 200), 9);
    assert_eq!(stats.total(), 18);
    assert_eq!(stats.clients, 3);
    // Each replica's caches are synced: its node cache holds both nodes.
    for r in 0..3 {
        let replica = operators.replica(r).expect("a replica");
        assert!(replica.has_synced(), "replica {r}");
        assert_eq!(replica.cache(Kind::Node).len(), 2);
    }
    // The apiserver holds the 9 watches, one per kind per replica, each as its replica.
    let mut watches: Vec<(u32, Kind)> = sim
        .model()
        .api()
        .watches()
        .open_watches()
        .map(|(_, w)| (w.client.0, w.kind))
        .collect();
    watches.sort();
    let mut expected = Vec::new();
    for r in 0..3 {
        for kind in [Kind::Node, Kind::Service, Kind::Pod] {
            expected.push((population_client(0, r).0, kind));
        }
    }
    expected.sort();
    assert_eq!(watches, expected);
}

#[test]
fn a_scraper_lists_its_resources_every_interval_after_its_phase() {
    let text = scenario(
        1,
        "  clients:
    - name: inventory
      scraper: {interval: 30s, resources: [nodes, pods]}
",
    );
    let sim = run_until(&text, SimDuration::from_secs(120));
    let scraper = sim.model().component::<Scraper>().expect("the scraper");
    // Its phase is the first draw of "clients/inventory/phase" under seed 1, in [0, 30 s).
    assert_eq!(scraper.phase(), SimDuration::from_nanos(8_206_870_030));
    // Rounds at 8.207 s, then 30 s after each round's last answer (1 ms after it went):
    // 38.208 s, 68.209 s, 98.210 s — 4 rounds by 120 s, 2 LISTs each.
    assert_eq!(scraper.rounds(), 4);
    assert_eq!(scraper.stats().count(Verb::List, 200), 8);
}

/// One node, one read seat (`maxRequestsInflight: 1`) and the scraper `inventory` of
/// `monitoring` listing nodes, pods and services every minute.
fn one_seat_scraper() -> String {
    scenario(
        1,
        "  apiserver: {flowControl: maxInflight, maxRequestsInflight: 1}
  clients:
    - name: inventory
      namespace: monitoring
      scraper: {interval: 1m, resources: [nodes, pods, services]}
",
    )
}

/// Runs the binary on `text` with `args`; returns summary.json.
fn summary_of(text: &str, args: &[&str]) -> serde_json::Value {
    let (_dir, out) = run_in_folder(text, args);
    summary_in(&out)
}

#[test]
fn the_summary_counts_each_populations_requests_by_verb_and_status() {
    // One read seat (`maxRequestsInflight: 1`). The scraper's round sends its three LISTs at
    // once; they arrive 1 ms later: the first takes the seat (500 µs), the others get 429
    // with max-in-flight's Retry-After 1 s. client-go sends each again after 1 s: the second
    // gets the seat, the third a second 429, and goes through a second later. So 3 × 200 and
    // 3 × 429, of which every 429 was sent again (the component saw three 200s).
    let text = one_seat_scraper();
    // Its phase, the first draw of "clients/inventory/phase" under seed 1 in [0, 1 m), is
    // 16.414 s: the round's last answer comes at 16.414 + 2.0035 s, the next round 1 m
    // later; by 40 s there has been one round.
    let summary = summary_of(&text, &["--until", "40s"]);
    let inventory = &summary["stampede"]["clientPopulations"]["inventory"];
    assert_eq!(inventory["type"], "scraper");
    assert_eq!(
        inventory["user"],
        "system:serviceaccount:monitoring:inventory"
    );
    assert_eq!(inventory["clients"], 1);
    assert_eq!(
        inventory["requests"],
        serde_json::json!({"list": {"200": 3, "429": 3}})
    );
    assert_eq!(
        inventory["clientRetries"],
        serde_json::json!({"list": {"429": 3}})
    );
    // On the modelled path every answer passes the clients' transport, so the components'
    // clients are counted too, by component: here kubectl's create of the one Node.
    assert_eq!(
        summary["stampede"]["clientPopulations"]["kubectl"],
        serde_json::json!({
            "type": "component",
            "clients": 1,
            "requests": {"create": {"201": 1}},
            "clientRetries": {}
        })
    );
    // A run on the ideal path without populations has no such key.
    let plain = summary_of(&scenario(1, ""), &["--until", "10s"]);
    assert!(plain["stampede"].get("clientPopulations").is_none());
}

#[test]
fn timeseries_and_metrics_om_carry_each_populations_requests_over_time() {
    // The run of the test above: one read seat, the scraper's one round at 16.414 s gets
    // 3 × 200 and 3 × 429, all answered by 16.414 + 2.0035 = 18.418 s; kubectl's create of
    // the Node is answered at once.
    let text = one_seat_scraper();
    let (_dir, out) = run_in_folder(&text, &["--until", "40s", "--openmetrics"]);
    let read = |file: &str| {
        std::fs::read_to_string(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let csv = read("timeseries.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // The populations summary.json names, sorted, after every other column.
    assert_eq!(
        header[header.len() - 4..],
        [
            "inventory:apiserver_request_total",
            "inventory:apiserver_request_total_429",
            "kubectl:apiserver_request_total",
            "kubectl:apiserver_request_total_429",
        ]
    );
    let column = |name: &str| -> Vec<u64> {
        let i = header.iter().position(|h| *h == name).expect(name);
        rows.iter()
            .map(|r| r[i].parse().unwrap_or(u64::MAX))
            .collect()
    };
    // A sample every 10 s, 0 s to 40 s: nothing of the scraper's before its round at 16.414 s,
    // all six answers (three of them 429) from the 20 s sample on.
    assert_eq!(column("inventory:apiserver_request_total"), [0, 0, 6, 6, 6]);
    assert_eq!(
        column("inventory:apiserver_request_total_429"),
        [0, 0, 3, 3, 3]
    );
    assert_eq!(column("kubectl:apiserver_request_total")[1..], [1, 1, 1, 1]);
    assert_eq!(column("kubectl:apiserver_request_total_429"), [0; 5]);
    // The last row is what summary.json counts.
    let summary: serde_json::Value = serde_json::from_str(&read("summary.json")).expect("JSON");
    let populations = &summary["stampede"]["clientPopulations"];
    let counted = |name: &str, status: Option<&str>| -> u64 {
        let verbs = populations[name]["requests"].as_object().expect(name);
        verbs
            .values()
            .flat_map(|codes| codes.as_object().into_iter().flatten())
            .filter(|(code, _)| status.is_none_or(|s| s == code.as_str()))
            .map(|(_, n)| n.as_u64().unwrap_or(0))
            .sum()
    };
    for name in ["inventory", "kubectl"] {
        let total = column(&format!("{name}:apiserver_request_total"));
        let refused = column(&format!("{name}:apiserver_request_total_429"));
        assert_eq!(total.last(), Some(&counted(name, None)), "{name}");
        assert_eq!(refused.last(), Some(&counted(name, Some("429"))), "{name}");
    }
    // metrics.om: the same counts as counters labelled by population.
    let om = read("metrics.om");
    assert!(om.contains("# TYPE kubesim_client_population_rejected_requests counter\n"));
    let last_of = |family: &str, population: &str| {
        let prefix = format!("{family}{{population=\"{population}\",");
        om.lines()
            .rfind(|l| l.starts_with(&prefix))
            .and_then(|l| l.split(' ').nth(1))
            .map(String::from)
    };
    assert_eq!(
        last_of("kubesim_client_population_requests_total", "inventory").as_deref(),
        Some("6")
    );
    assert_eq!(
        last_of(
            "kubesim_client_population_rejected_requests_total",
            "inventory"
        )
        .as_deref(),
        Some("3")
    );
    // The chart of who is refused: the scraper alone got 429s (3 between the 10 s and 20 s
    // samples, 0.3 / s), drawn beside all populations' together.
    let svg = read("charts/client_populations.svg");
    assert!(svg.contains("all populations 429s / s"), "{svg}");
    assert!(svg.contains("inventory 429s / s"), "{svg}");
    assert!(!svg.contains("kubectl 429s / s"));
    // A run on the ideal path without populations has no such columns or chart.
    let (_plain_dir, plain) = run_in_folder(&scenario(1, ""), &["--until", "10s"]);
    let plain_csv = std::fs::read_to_string(plain.join("timeseries.csv")).expect("csv");
    assert!(!plain_csv.contains("apiserver_request_total_429"));
    assert!(!plain.join("charts/client_populations.svg").exists());
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
fn a_population_that_does_not_make_sense_is_a_load_error_naming_the_field() {
    // The Scenario's `clients:` is line 12, its first entry line 13.
    for (clients, expected) in [
        (
            "    - {name: npd, perNodeAgent: {perod: 10s}}\n",
            "scenario.yaml:13:34: field `spec.clients[0].perNodeAgent.perod`: unknown field \
             `perod`, expected one of resource, fieldSelector, labelSelector, period",
        ),
        (
            "    - {name: npd, replica: 2, operator: {resources: [pods]}}\n",
            "field `spec.clients[0].replica`: unknown field `replica`, expected one of name, \
             namespace, serviceAccount, qps, burst, perNodeAgent, operator, scraper",
        ),
        (
            "    - {name: npd, perNodeAgent: {period: 0s}}\n",
            "scenario.yaml:13:42: field `spec.clients[0].perNodeAgent.period`: expected a \
             positive duration",
        ),
        (
            "    - {name: npd, perNodeAgent: {resource: podz}}\n",
            "field `spec.clients[0].perNodeAgent.resource`: unknown resource \"podz\"",
        ),
        (
            "    - {name: ops, operator: {resources: [pods]}, scraper: {resources: [pods]}}\n",
            "scenario.yaml:13:7: field `spec.clients[0]`: expected exactly one of perNodeAgent, \
             operator or scraper",
        ),
        (
            "    - {name: a, scraper: {resources: [pods]}}\n    - {name: a, scraper: \
             {resources: [nodes]}}\n",
            "field `spec.clients[1].name`: a is already the name of spec.clients[0]",
        ),
        (
            "    - {name: kubelet, scraper: {resources: [pods]}}\n",
            "field `spec.clients[0].name`: kubelet is a component's name",
        ),
        (
            "    - {name: a, qps: 5, burst: 0, scraper: {resources: [pods]}}\n",
            "scenario.yaml:13:32: field `spec.clients[0].burst`: burst is required to be \
             greater than 0 when qps is greater than 0, found 0",
        ),
        (
            "    - {name: a, operator: {replicas: 0, resources: [pods]}}\n",
            "field `spec.clients[0].operator.replicas`: expected 1 to 1000000 replicas, found 0",
        ),
        (
            "    - {name: a, perNodeAgent: {fieldSelector: \"spec.nodeName\"}}\n",
            "field `spec.clients[0].perNodeAgent.fieldSelector`",
        ),
        (
            "    - {name: a, operator: {resources: [pods, pods]}}\n",
            "field `spec.clients[0].operator.resources[1]`: pods is listed twice",
        ),
        (
            "    - {name: a, namespace: Kube_System, operator: {resources: [pods]}}\n",
            "field `spec.clients[0].namespace`: \"Kube_System\" is not a DNS-1123 label",
        ),
    ] {
        let (code, stderr) = validate(&scenario(1, &format!("  clients:\n{clients}")));
        assert_eq!(code, Some(1), "{clients}: {stderr}");
        assert!(stderr.contains(expected), "{clients}:\n{stderr}");
    }
}

#[test]
fn under_apf_a_listing_daemonset_fills_workload_high_while_leases_and_kubelets_are_served() {
    // kubernetes#47899's storm, small: 400 per-node agents in kube-system LIST 5,000 pods
    // 1 s after each answer, under APF with a server concurrency of 20 + 10 = 30 seats.
    // Nominal seats are ⌈30 × shares / 245⌉: workload-high (40) 5, node-high (40) 5,
    // leader-election (10) 2, system (30) 4, workload-low (100) 13, global-default (20) 3,
    // catch-all (5) 1.
    //
    // The agents' service account is a kube-system one: `kube-system-service-accounts`, level
    // workload-high, one flow for the namespace. A LIST of 5,000 pods holds its seats for
    // 500 µs + 5,000 × 10 µs = 50.5 ms. Workload-high runs at most its 5 seats plus what the
    // lending levels lend (workload-low 90 % of 13 = 11, global-default 1, system 1,
    // node-high 1): 19 LISTs at once, 19 / 0.0505 ≈ 376 a second, fewer than 400 agents
    // asking every second plus their wait. The agents neither running nor sleeping queue, and
    // their one flow's hand of 6 queues holds 6 × 50 = 300: the rest is refused, queue-full
    // — and so are the kube-proxies' and kube-controller-manager's first lists, which share
    // the level (kube-system service accounts too).
    //
    // The kubelets (group system:nodes: `system-nodes`, node-high) create and renew their
    // Leases, report their Node and list and watch their pods and Node: at least 6 requests
    // each in the first 20 s, 2,400 in all. kube-controller-manager takes its Lease (a GET
    // and a CREATE) and renews it every 2 s (leader-election): about 11 requests by 20 s.
    // Both levels have their own seats, so neither loses a request to the storm.
    let text = scenario(
        400,
        "  apiserver: {flowControl: apf, maxRequestsInflight: 20, maxMutatingRequestsInflight: 10}
  clients:
    - name: npd
      namespace: kube-system
      serviceAccount: node-problem-detector
      perNodeAgent: {resource: pods, period: 1s}
  timeline:
    - at: 0s
      createPods:
        count: 5000
        template:
          metadata: {name: load, namespace: load}
          spec: {containers: [{name: c, image: pause, resources: {requests: {cpu: 1m}}}]}
",
    )
    .replace(
        "  controllerManager: {enabled: false}\n  kubelet: {enabled: false}\n",
        "",
    );
    let summary = summary_of(&text, &["--until", "20s"]);
    let levels = &summary["stampede"]["flowcontrol"]["priorityLevels"];
    let count = |level: &str, metric: &str| {
        levels[level][metric]
            .as_f64()
            .unwrap_or_else(|| panic!("{level} {metric}: {}", levels[level]))
    };
    let rejected = |level: &str| count(level, "apiserver_flowcontrol_rejected_requests_total");
    let dispatched = |level: &str| count(level, "apiserver_flowcontrol_dispatched_requests_total");
    assert!(
        rejected("workload-high") > 0.0,
        "{}",
        levels["workload-high"]
    );
    assert_eq!(rejected("leader-election"), 0.0);
    assert_eq!(rejected("node-high"), 0.0);
    assert!(
        dispatched("leader-election") >= 10.0,
        "{}",
        levels["leader-election"]
    );
    assert!(
        dispatched("node-high") >= 2_400.0,
        "{}",
        levels["node-high"]
    );
    let npd = &summary["stampede"]["clientPopulations"]["npd"]["requests"]["list"];
    assert!(npd["429"].as_u64().unwrap_or(0) > 0, "{npd}");
}
