//! kube-proxies against the apiserver: the tests write EndpointSlices and Services by hand (or
//! run the EndpointSlice controller) and read each node's syncs and the latencies measured.
//!
//! Timing in every derivation: a request commits, and is answered, 1 ms after it is sent; a
//! commit reaches every watcher 1 ms later. A kube-proxy started at 0 s has its Service and
//! EndpointSlice lists at 1 ms and syncs once then, with nothing to program.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::api::ObjectKey;
use crate::api::endpointslice::{
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME, Endpoint, EndpointConditions, LABEL_SERVICE_NAME,
};
use crate::api::node::Node;
use crate::api::pod::{Container, POD_READY, Pod, PodCondition, PodIp, PodPhase};
use crate::api::service::{Service, ServicePort};
use crate::api::timestamp::rfc3339_nano;
use crate::apiserver::{ApiServerConfig, PatchOp, Request};
use crate::config::kube_proxy::KubeProxySettings;
use crate::controllers::endpointslice::{EndpointSliceController, EndpointSliceSettings};
use crate::sim::Simulation;
use crate::world::{self, World};

const USER_CLIENT: ClientId = ClientId(90);

fn ms(n: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(n)
}

fn user() -> UserInfo {
    UserInfo::new("kubernetes-admin", &["system:masters"])
}

fn proxies(nodes: &[&str]) -> KubeProxies {
    let nodes: Vec<(String, SimTime)> = nodes
        .iter()
        .map(|n| (n.to_string(), SimTime::ZERO))
        .collect();
    KubeProxies::new(&nodes, &KubeProxySettings::default())
}

fn world_of(components: Vec<Box<dyn Component>>) -> Simulation<World> {
    world::with_components(ApiServerConfig::default(), 1, components)
}

fn submit_at(sim: &mut Simulation<World>, at: SimTime, request: Request) {
    sim.run_until(at);
    world::submit(sim, request);
}

fn the_proxies(sim: &Simulation<World>) -> &KubeProxies {
    sim.model()
        .component::<KubeProxies>()
        .expect("the kube-proxies")
}

/// Slice `web-abcde` of Service `web` whose endpoints `10.64.0.1`, `.2`, … are ready as
/// `ready` says, last changed at `trigger` if given.
pub(super) fn web_slice(ready: &[bool], trigger: Option<SimTime>) -> EndpointSlice {
    let mut s = EndpointSlice::default();
    s.metadata.name = "web-abcde".into();
    s.metadata.namespace = "default".into();
    s.metadata
        .labels
        .insert(LABEL_SERVICE_NAME.into(), "web".into());
    if let Some(t) = trigger {
        let annotations = &mut s.metadata.annotations;
        annotations.insert(ANNOTATION_LAST_CHANGE_TRIGGER_TIME.into(), rfc3339_nano(t));
    }
    for (i, &r) in ready.iter().enumerate() {
        s.endpoints.push(Endpoint {
            addresses: vec![format!("10.64.0.{}", i + 1)],
            conditions: EndpointConditions {
                ready: Some(r),
                ..EndpointConditions::default()
            },
            ..Endpoint::default()
        });
    }
    s
}

fn slice(ready: &[bool], trigger: SimTime) -> Object {
    Object::EndpointSlice(Box::new(web_slice(ready, Some(trigger))))
}

#[test]
fn changes_within_min_sync_period_are_programmed_by_one_sync() {
    let mut sim = world_of(vec![Box::new(proxies(&["n1"]))]);
    // 10 s: a slice last changed at 9.5 s reaches the proxy at 10.002 s. Its runner is idle
    // (the first sync at 1 ms did not start it): sync #2 at once, latency 10.002 − 9.5 =
    // 502 ms.
    let create = Request::create(USER_CLIENT, user(), slice(&[true], ms(9_500)));
    submit_at(&mut sim, ms(10_000), create);
    // 10.3 s: an endpoint turns unready (changed at 10.25 s), seen at 10.302 s: within the
    // 1 s minSyncPeriod of the last sync, so it waits until 11.002 s. 10.6 s: another endpoint
    // (changed at 10.55 s), seen at 10.602 s, joins the waiting sync.
    let update = Request::update(USER_CLIENT, user(), slice(&[false], ms(10_250)), None);
    submit_at(&mut sim, ms(10_300), update);
    let update = Request::update(USER_CLIENT, user(), slice(&[false, true], ms(10_550)), None);
    submit_at(&mut sim, ms(10_600), update);
    sim.run_until(ms(10_900));
    assert_eq!(the_proxies(&sim).node_syncs("n1"), Some(2));
    // Sync #3 at 11.002 s takes both: 11.002 − 10.25 = 752 ms and 11.002 − 10.55 = 452 ms.
    sim.run_until(ms(20_000));
    let stats = the_proxies(&sim).stats();
    assert_eq!(the_proxies(&sim).node_syncs("n1"), Some(3));
    let latencies: Vec<(u64, u64)> = stats
        .network_programming_latency
        .iter()
        .map(|(d, n)| (d.as_nanos() / 1_000_000, *n))
        .collect();
    assert_eq!(latencies, vec![(452, 1), (502, 1), (752, 1)]);
    assert_eq!(stats.endpoint_changes, 2);
}

#[test]
fn a_change_that_programs_nothing_new_asks_for_no_sync() {
    let mut sim = world_of(vec![Box::new(proxies(&["n1"]))]);
    let create = Request::create(USER_CLIENT, user(), slice(&[true], ms(900)));
    submit_at(&mut sim, ms(1_000), create);
    // The same endpoints with a new trigger time: nothing to program.
    let update = Request::update(USER_CLIENT, user(), slice(&[true], ms(4_000)), None);
    submit_at(&mut sim, ms(5_000), update);
    sim.run_until(ms(10_000));
    assert_eq!(the_proxies(&sim).node_syncs("n1"), Some(2));
}

#[test]
fn without_changes_the_rules_are_synced_every_hour() {
    let mut sim = world_of(vec![Box::new(proxies(&["n1"]))]);
    // The first sync at 1 ms leaves the runner as it started at 0 s: its periodic syncs fall
    // at 1 h and 2 h. (Background timers: the run goes on only as far as asked.)
    sim.run_until(SimTime::ZERO + SimDuration::from_mins(150));
    let proxies = the_proxies(&sim);
    assert_eq!(proxies.node_syncs("n1"), Some(3));
    assert_eq!(proxies.stats().periodic_syncs, 2);
}

#[test]
fn network_programming_latency_runs_from_the_pod_to_every_node() {
    let controller = EndpointSliceController::new(ClientId(4), EndpointSliceSettings::default());
    let manager = crate::controllers::kube_controller_manager::KubeControllerManager::new(
        crate::world::CONTROLLER_MANAGER_CLIENT,
        vec![Box::new(controller)],
    );
    let mut sim = world_of(vec![Box::new(manager), Box::new(proxies(&["n1", "n2"]))]);
    for name in ["n1", "n2"] {
        let mut node = Node::default();
        node.metadata.name = name.into();
        let create = Request::create(USER_CLIENT, user(), Object::Node(Arc::new(node)));
        submit_at(&mut sim, SimTime::ZERO, create);
    }
    let mut pod = Pod::default();
    pod.metadata.name = "web-0".into();
    pod.metadata.namespace = "default".into();
    pod.metadata.labels.insert("app".into(), "web".into());
    let spec = Arc::make_mut(&mut pod.spec);
    spec.node_name = "n1".into();
    spec.containers.push(Container {
        name: "app".into(),
        image: "nginx:1.27".into(),
        ..Container::default()
    });
    pod.status.phase = PodPhase::Running;
    pod.status.pod_ips = vec![PodIp {
        ip: "10.64.0.1".into(),
    }];
    let create = Request::create(USER_CLIENT, user(), Object::Pod(Arc::new(pod.clone())));
    submit_at(&mut sim, SimTime::ZERO, create);
    // 1 s: Service web, created (committed) at 1.001 s. The proxies see it at 1.002 s and
    // sync at once (a new cluster IP). The controller, also at 1.002 s, writes the slice —
    // web-0 not ready — stamped with the Service's creation (its first sync); it reaches the
    // proxies at 1.004 s, within their minSyncPeriod: synced at 2.002 s, 1.001 s after 1.001 s.
    let mut service = Service::default();
    service.metadata.name = "web".into();
    service.metadata.namespace = "default".into();
    service.spec.selector.insert("app".into(), "web".into());
    service.spec.ports.push(ServicePort {
        name: "http".into(),
        port: 80,
        ..ServicePort::default()
    });
    let create = Request::create(USER_CLIENT, user(), Object::Service(Box::new(service)));
    submit_at(&mut sim, ms(1_000), create);
    // 10 s: web-0 becomes ready (its kubelet's status commits at 10.001 s); the controller
    // sees it at 10.002 s and its update, stamped 10 s, commits at 10.003 s; each proxy sees
    // it at 10.004 s with its runner idle: 4 ms.
    sim.run_until(ms(10_000));
    pod.status.conditions.push(PodCondition {
        type_: POD_READY.into(),
        status: "True".into(),
        last_transition_time: ms(10_000),
        ..PodCondition::default()
    });
    let key = ObjectKey::new("default", "web-0");
    let op = PatchOp::KubeletPodStatus(Box::new(pod.status.clone()));
    world::submit(
        &mut sim,
        Request::patch(USER_CLIENT, user(), Kind::Pod, &key, op),
    );
    sim.run_until(ms(20_000));
    let proxies = the_proxies(&sim);
    assert_eq!(
        proxies.stats().network_programming_latency,
        BTreeMap::from([
            (SimDuration::from_millis(4), 2),
            (SimDuration::from_millis(1_001), 2)
        ])
    );
    // Per node: the first sync (1 ms), the Service (1.002 s), the slice (2.002 s), the
    // ready endpoint (10.004 s).
    assert_eq!(proxies.node_syncs("n1"), Some(4));
    assert_eq!(proxies.node_syncs("n2"), Some(4));
}

#[test]
fn each_node_speaks_as_its_own_client_with_kube_proxy_s_identity() {
    let proxies = proxies(&["n1", "n2", "n3"]);
    assert_eq!(
        proxies.clients(),
        vec![ClientId(200_000), ClientId(200_001), ClientId(200_002)]
    );
    let mut sim = world_of(vec![Box::new(proxies)]);
    sim.run_until(ms(10));
    // Each node watches Services and EndpointSlices (leaving out other proxies' and headless
    // ones) and its own Node: three watches per node.
    let watches = sim.model().api().watches();
    assert_eq!(watches.open_count(), 9);
    for id in 0..9 {
        let Some(watch) = watches.get(crate::apiserver::WatchId(id)) else {
            panic!("watch {id} is open");
        };
        let selects = |labels: &[(&str, &str)]| {
            let mut s = EndpointSlice::default();
            s.metadata.labels = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            watch.selects(&Object::EndpointSlice(Box::new(s)))
        };
        if watch.kind == Kind::EndpointSlice {
            assert!(selects(&[(LABEL_SERVICE_NAME, "web")]));
            assert!(!selects(&[(LABEL_HEADLESS, "")]));
            assert!(!selects(&[(LABEL_SERVICE_PROXY_NAME, "cilium")]));
        }
    }
    assert!(proxy_label_selector().label_selector.is_some());
}
