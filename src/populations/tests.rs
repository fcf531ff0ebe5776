//! The populations' shared parts: the client id scheme, identities, and the count of what
//! their clients asked and were answered.

use std::sync::Arc;

use super::*;
use crate::api::Kind;
use crate::apiserver::{ApiError, ApiServer, ApiServerConfig, ListOptions, Request, ResponseBody};
use crate::config::populations::{Operator, PopulationKind, Scraper};
use crate::sim::SimDuration;
use crate::sim::rng::stream;

fn settings(name: &str, namespace: &str, kind: PopulationKind) -> ClientPopulation {
    ClientPopulation {
        name: name.into(),
        namespace: namespace.into(),
        service_account: name.into(),
        qps: 5.0,
        burst: 10,
        kind,
    }
}

fn operator(replicas: u32) -> PopulationKind {
    PopulationKind::Operator(Operator {
        replicas,
        kinds: vec![Kind::Pod],
    })
}

#[test]
fn population_ids_are_apart_from_every_component_and_from_each_other() {
    // Population 0 starts at 1 000 000, above the kube-proxies' 200 000 + i; population k
    // at 1 000 000 × (k + 1), so the last of the 1 000 ends at 1 000 999 999 < 2^32.
    assert_eq!(population_client(0, 0), ClientId(1_000_000));
    assert_eq!(population_client(1, 0), ClientId(2_000_000));
    assert_eq!(population_client(2, 41), ClientId(3_000_041));
    assert_eq!(client_range(0), 1_000_000..=1_999_999);
    assert_eq!(*client_range(MAX_POPULATIONS - 1).end(), 1_000_999_999);
    // Nothing of a population is a kubelet's or a kube-proxy's.
    let last_proxy = crate::kube_proxy::KUBE_PROXY_CLIENT_BASE + 99_999;
    assert!(*client_range(0).start() > last_proxy);
}

#[test]
fn a_population_speaks_as_its_service_account() {
    let common = Common::new(3, &settings("cert-operator", "operators", operator(2)));
    assert_eq!(
        common.user.name,
        "system:serviceaccount:operators:cert-operator"
    );
    assert_eq!(
        common.user.groups,
        [
            "system:serviceaccounts",
            "system:serviceaccounts:operators",
            "system:authenticated"
        ]
    );
    assert_eq!(common.client(1), ClientId(4_000_001));
    assert_eq!(common.index(ClientId(4_000_001), 2), Some(1));
    assert_eq!(common.index(ClientId(4_000_002), 2), None);
    assert_eq!(common.stats.kind, "operator");
}

#[test]
fn answers_are_counted_by_the_verb_of_the_request_they_answer() {
    let mut api = ApiServer::new(ApiServerConfig::default(), stream(1, "test"));
    let (mut out, mut timers) = (Vec::new(), Vec::new());
    let mut cx = ComponentContext::new(
        SimTime::ZERO,
        &mut api,
        &mut out,
        &mut timers,
        RngStreams::new(1),
    );
    let mut common = Common::new(0, &settings("a", "default", operator(1)));
    let user = common.user.clone();
    let client = common.client(0);
    let sent = common.stats.sending(&mut cx, |cx| {
        let list = Request::list(client, user.clone(), Kind::Pod, "", ListOptions::default());
        let watch = Request::watch(client, user.clone(), Kind::Pod, "", ListOptions::default());
        [
            cx.api.submit(SimTime::ZERO, list.clone(), cx.out),
            cx.api.submit(SimTime::ZERO, list, cx.out),
            cx.api.submit(SimTime::ZERO, watch, cx.out),
        ]
    });
    let listed = Ok(ResponseBody::List {
        items: Vec::<Arc<crate::api::Object>>::new(),
        resource_version: crate::api::meta::ResourceVersion(0),
    });
    let refused = Err(ApiError::TooManyRequests {
        message: "Too many requests, please try again later.".into(),
        cause: "the server is busy".into(),
        retry_after_seconds: 1,
    });
    common.stats.answered(sent[0], &listed);
    common.stats.answered(sent[1], &refused);
    // An answer to something the population did not send, or a second answer, counts nothing.
    common.stats.answered(sent[0], &listed);
    assert_eq!(common.stats.count(Verb::List, 200), 1);
    assert_eq!(common.stats.count(Verb::List, 429), 1);
    assert_eq!(common.stats.total(), 2);
    // The watch is still open-ended: no answer yet.
    assert_eq!(common.stats.count(Verb::Watch, 200), 0);
}

#[test]
fn each_type_reports_its_clients() {
    let nodes: Vec<(String, SimTime)> = (0..4).map(|i| (format!("n-{i}"), SimTime::ZERO)).collect();
    let streams = RngStreams::new(1);
    let agent = PopulationKind::PerNodeAgent(crate::config::populations::PerNodeAgent {
        resource: Kind::Pod,
        field_selector: None,
        label_selector: None,
        period: SimDuration::from_secs(10),
    });
    let scraper = PopulationKind::Scraper(Scraper {
        interval: SimDuration::from_secs(60),
        kinds: vec![Kind::Node],
    });
    let built: Vec<(u32, Vec<ClientId>)> = [agent, operator(3), scraper]
        .into_iter()
        .enumerate()
        .map(|(k, kind)| {
            let component = build(k, &settings("p", "default", kind), &nodes, streams);
            let stats = component.client_population().expect("a population");
            (stats.clients, component.clients())
        })
        .collect();
    // One agent per node, one client per replica, one scraper, each in its own range.
    assert_eq!(built[0].0, 4);
    assert_eq!(built[0].1.first(), Some(&ClientId(1_000_000)));
    assert_eq!(built[0].1.last(), Some(&ClientId(1_000_003)));
    assert_eq!(
        built[1],
        (
            3,
            vec![
                ClientId(2_000_000),
                ClientId(2_000_001),
                ClientId(2_000_002)
            ]
        )
    );
    assert_eq!(built[2], (1, vec![ClientId(3_000_000)]));
}
