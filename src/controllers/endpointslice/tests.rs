//! The EndpointSlice controller against the apiserver, with nothing else running (the garbage
//! collector where a test says so): the tests play the user and the kubelets through API
//! requests, and read the slices the apiserver holds and who wrote them.
//!
//! Timing in every derivation: a request commits, and is answered, 1 ms after it is sent; a
//! commit reaches the controller's informers 1 ms later. The tests make the node and the pods
//! at 0 s and the Service at 1 s, so the Service's first sync (at 1.002 s, when its event
//! arrives) sees every pod; its writes commit from 1.003 s on.

use std::sync::Arc;

use super::*;
use crate::api::endpointslice::{
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME, AddressType, LABEL_SERVICE_NAME,
};
use crate::api::node::Node;
use crate::api::pod::{Container, POD_READY, PodCondition, PodIp, PodPhase};
use crate::api::service::ServicePort;
use crate::api::test_util::labels;
use crate::api::timestamp::rfc3339_nano;
use crate::apiserver::{ApiServerConfig, PatchOp, Verb};
use crate::controllers::garbage_collector::GarbageCollector;
use crate::controllers::kube_controller_manager::{Controller, KubeControllerManager};
use crate::sim::Simulation;
use crate::world::{self, World};

const CONTROLLER: ClientId = ClientId(4);
const USER_CLIENT: ClientId = ClientId(90);

fn ms(n: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(n)
}

fn world_with(settings: EndpointSliceSettings, gc: bool) -> Simulation<World> {
    let config = ApiServerConfig {
        record_writes: true,
        ..ApiServerConfig::default()
    };
    let mut controllers: Vec<Box<dyn Controller>> =
        vec![Box::new(EndpointSliceController::new(CONTROLLER, settings))];
    if gc {
        controllers.push(Box::new(GarbageCollector::new(ClientId(5), 20)));
    }
    let manager = KubeControllerManager::new(world::CONTROLLER_MANAGER_CLIENT, controllers);
    world::with_components(config, 1, vec![Box::new(manager)])
}

fn world() -> Simulation<World> {
    world_with(EndpointSliceSettings::default(), false)
}

fn user() -> UserInfo {
    UserInfo::new("kubernetes-admin", &["system:masters"])
}

fn submit_at(sim: &mut Simulation<World>, at: SimTime, request: Request) {
    sim.run_until(at);
    world::submit(sim, request);
}

fn create_at(sim: &mut Simulation<World>, at: SimTime, object: Object) {
    submit_at(sim, at, Request::create(USER_CLIENT, user(), object));
}

fn node(name: &str, zone: &str) -> Object {
    let mut n = Node::default();
    n.metadata.name = name.into();
    n.metadata.labels = labels(&[(crate::api::node::LABEL_ZONE, zone)]);
    Object::Node(Arc::new(n))
}

/// Service `web` selecting `app: web`, port `http` 80 → 8080.
fn service() -> Object {
    let mut s = Service::default();
    s.metadata.name = "web".into();
    s.metadata.namespace = "default".into();
    s.spec.selector = labels(&[("app", "web")]);
    s.spec.ports = vec![ServicePort {
        name: "http".into(),
        port: 80,
        target_port: Some(crate::api::meta::IntOrString::Int(8080)),
        protocol: "TCP".into(),
    }];
    Object::Service(Box::new(s))
}

/// Pod `name` of `web` on `node` with address `ip`, Ready since `ready_since` if given.
fn pod(name: &str, node: &str, ip: &str, ready_since: Option<SimTime>) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = name.into();
    p.metadata.namespace = "default".into();
    p.metadata.labels = labels(&[("app", "web")]);
    let spec = Arc::make_mut(&mut p.spec);
    spec.node_name = node.into();
    spec.containers = vec![Container {
        name: "app".into(),
        image: "nginx:1.27".into(),
        ..Container::default()
    }];
    p.status.phase = PodPhase::Running;
    if !ip.is_empty() {
        p.status.pod_ip = ip.into();
        p.status.pod_ips = vec![PodIp { ip: ip.into() }];
    }
    p.status.conditions.push(PodCondition {
        type_: POD_READY.into(),
        status: if ready_since.is_some() {
            "True"
        } else {
            "False"
        }
        .into(),
        last_transition_time: ready_since.unwrap_or(SimTime::ZERO),
        ..PodCondition::default()
    });
    p
}

/// The pod's status as its kubelet would write it: Ready or not since `at`.
fn set_ready_at(sim: &mut Simulation<World>, at: SimTime, name: &str, ready: bool) {
    sim.run_until(at);
    let key = ObjectKey::new("default", name);
    let Some(Object::Pod(stored)) = sim.model().api().store().get(Kind::Pod, &key).map(|o| &**o)
    else {
        panic!("no pod {name}");
    };
    let mut status = stored.status.clone();
    status.conditions = vec![PodCondition {
        type_: POD_READY.into(),
        status: if ready { "True" } else { "False" }.into(),
        last_transition_time: at,
        ..PodCondition::default()
    }];
    let op = PatchOp::KubeletPodStatus(Box::new(status));
    world::submit(
        sim,
        Request::patch(USER_CLIENT, user(), Kind::Pod, &key, op),
    );
}

/// The slices in the store, by name.
fn slices(sim: &Simulation<World>) -> Vec<EndpointSlice> {
    let store = sim.model().api().store();
    let slices = store.iter(Kind::EndpointSlice);
    slices
        .filter_map(|o| o.as_endpoint_slice().cloned())
        .collect()
}

/// The only slice in the store.
fn the_slice(sim: &Simulation<World>) -> EndpointSlice {
    let all = slices(sim);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.into_iter().next().expect("one slice")
}

/// (ready, serving, terminating) of the slice's endpoints, in order.
fn conditions(slice: &EndpointSlice) -> Vec<(Option<bool>, Option<bool>, Option<bool>)> {
    slice
        .endpoints
        .iter()
        .map(|e| {
            let c = e.conditions;
            (c.ready, c.serving, c.terminating)
        })
        .collect()
}

/// The controller's slice writes of `verb`, as (commit time, slice name).
fn writes(sim: &Simulation<World>, verb: Verb) -> Vec<(SimTime, String)> {
    sim.model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.user == SERVICE_ACCOUNT && w.verb == verb && w.kind == Kind::EndpointSlice)
        .map(|w| (w.at, w.key.name.clone()))
        .collect()
}

fn controller(sim: &Simulation<World>) -> &EndpointSliceController {
    sim.model()
        .controller::<EndpointSliceController>()
        .expect("the controller")
}

/// A world with node `n1` (zone a) and `pods` made at 0 s, and Service `web` at 1 s.
fn cluster_with(sim: &mut Simulation<World>, pods: impl IntoIterator<Item = Pod>) {
    create_at(sim, SimTime::ZERO, node("n1", "a"));
    for p in pods {
        create_at(sim, SimTime::ZERO, Object::Pod(Arc::new(p)));
    }
    create_at(sim, ms(1_000), service());
}

fn ready_pods(n: usize) -> impl Iterator<Item = Pod> {
    (0..n).map(|i| {
        let ip = format!("10.64.{}.{}", i / 250, 1 + i % 250);
        pod(&format!("web-{i:03}"), "n1", &ip, Some(SimTime::ZERO))
    })
}

#[test]
fn two_hundred_fifty_ready_pods_fill_slices_of_100_100_and_50() {
    let mut sim = world();
    cluster_with(&mut sim, ready_pods(250));
    sim.run_until(ms(5_000));
    // No slice exists: the desired 250 go into new slices, each filled to 100 before the
    // next is started: 100, 100, then the 50 left (no unchanged slice to top up).
    let mut sizes: Vec<usize> = slices(&sim).iter().map(|s| s.endpoints.len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![50, 100, 100]);
    for slice in slices(&sim) {
        assert!(
            slice.metadata.name.starts_with("web-"),
            "{}",
            slice.metadata.name
        );
        assert_eq!(slice.address_type, AddressType::IPv4);
        assert_eq!(slice.service_name(), Some("web"));
        assert_eq!(
            slice
                .metadata
                .labels
                .get(LABEL_MANAGED_BY)
                .map(String::as_str),
            Some(MANAGED_BY_CONTROLLER)
        );
        let owner = slice
            .metadata
            .controller_ref()
            .expect("owned by the Service");
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("Service", "web")
        );
        // Port `http` targets 8080 on every pod.
        assert_eq!(slice.ports.len(), 1);
        assert_eq!(slice.ports[0].port, Some(8080));
        let e = &slice.endpoints[0];
        assert_eq!(
            (e.node_name.as_deref(), e.zone.as_deref()),
            (Some("n1"), Some("a"))
        );
    }
    // One sync, three creates (committing at 1.003, 1.004 and 1.005 s, one after the other's
    // answer); the events of its own writes call for no other sync.
    let created: Vec<SimTime> = writes(&sim, Verb::Create)
        .into_iter()
        .map(|w| w.0)
        .collect();
    assert_eq!(created, vec![ms(1_003), ms(1_004), ms(1_005)]);
    let counters = controller(&sim).counters();
    assert_eq!((counters.syncs_success, counters.slices_updated), (1, 0));
}

#[test]
fn max_endpoints_per_slice_can_be_lowered() {
    let settings = EndpointSliceSettings {
        max_endpoints_per_slice: 2,
        ..EndpointSliceSettings::default()
    };
    let mut sim = world_with(settings, false);
    cluster_with(&mut sim, ready_pods(5));
    sim.run_until(ms(5_000));
    // --max-endpoints-per-slice=2: 5 endpoints → 2, 2, 1.
    let mut sizes: Vec<usize> = slices(&sim).iter().map(|s| s.endpoints.len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![1, 2, 2]);
}

#[test]
fn a_pod_turning_unready_flips_its_endpoint_in_place() {
    let mut sim = world();
    cluster_with(&mut sim, ready_pods(2));
    sim.run_until(ms(5_000));
    let before = the_slice(&sim);
    assert_eq!(
        conditions(&before),
        vec![(Some(true), Some(true), Some(false)); 2]
    );
    // web-001's readiness fails at 10 s: the status commits at 10.001 s, reaches the
    // controller at 10.002 s (batch period 0: queued at once), whose update commits at
    // 10.003 s. The endpoint stays in its slice, neither ready nor serving; the trigger time
    // is the Ready condition's transition, 10 s.
    set_ready_at(&mut sim, ms(10_000), "web-001", false);
    sim.run_until(ms(12_000));
    let after = the_slice(&sim);
    assert_eq!(after.metadata.name, before.metadata.name);
    assert_eq!(
        conditions(&after),
        vec![
            (Some(true), Some(true), Some(false)),
            (Some(false), Some(false), Some(false))
        ]
    );
    assert_eq!(
        writes(&sim, Verb::Update),
        vec![(ms(10_003), before.metadata.name.clone())]
    );
    assert_eq!(
        after
            .metadata
            .annotations
            .get(ANNOTATION_LAST_CHANGE_TRIGGER_TIME),
        Some(&rfc3339_nano(ms(10_000)))
    );
}

#[test]
fn a_terminating_pod_stays_serving_then_leaves_a_placeholder() {
    let mut sim = world();
    cluster_with(&mut sim, ready_pods(1));
    sim.run_until(ms(5_000));
    let name = the_slice(&sim).metadata.name;
    // Deleted at 10 s with a 30 s grace period (no kubelet: the apiserver ends it at 40.001 s).
    // Meanwhile its endpoint is terminating, still serving, no longer ready.
    let key = ObjectKey::new("default", "web-000");
    submit_at(
        &mut sim,
        ms(10_000),
        Request::delete(USER_CLIENT, user(), Kind::Pod, &key, None),
    );
    sim.run_until(ms(20_000));
    assert_eq!(
        conditions(&the_slice(&sim)),
        vec![(Some(false), Some(true), Some(true))]
    );
    // Once the pod is gone, no endpoint is left: the slice would be deleted and an empty
    // placeholder created; the create becomes an update of the same slice (upstream
    // `finalize`), which keeps no ports.
    sim.run_until(ms(45_000));
    let placeholder = the_slice(&sim);
    assert_eq!(placeholder.metadata.name, name);
    assert!(placeholder.endpoints.is_empty() && placeholder.ports.is_empty());
    assert!(writes(&sim, Verb::Delete).is_empty());
}

#[test]
fn a_service_without_pods_keeps_one_placeholder_and_one_without_selector_none() {
    let mut sim = world();
    create_at(&mut sim, SimTime::ZERO, service());
    let mut manual = Service::default();
    manual.metadata.name = "manual".into();
    manual.metadata.namespace = "default".into();
    create_at(&mut sim, SimTime::ZERO, Object::Service(Box::new(manual)));
    sim.run_until(ms(5_000));
    let placeholder = the_slice(&sim);
    assert_eq!(placeholder.service_name(), Some("web"));
    assert!(placeholder.endpoints.is_empty() && placeholder.ports.is_empty());
    // The Service relabelled at 10 s: the placeholder no longer mirrors its labels, so the
    // sync plans a new one in its place, which `finalize` turns into an update of it.
    let Object::Service(mut relabelled) = service() else {
        unreachable!()
    };
    relabelled.metadata.labels = labels(&[("team", "shop")]);
    let request = Request::update(USER_CLIENT, user(), Object::Service(relabelled), None);
    submit_at(&mut sim, ms(10_000), request);
    sim.run_until(ms(15_000));
    let after = the_slice(&sim);
    assert_eq!(
        after.metadata.labels.get("team").map(String::as_str),
        Some("shop")
    );
    assert_eq!(writes(&sim, Verb::Create).len(), 1);
}

#[test]
fn deleting_the_service_takes_its_slices_through_the_garbage_collector() {
    let mut sim = world_with(EndpointSliceSettings::default(), true);
    cluster_with(&mut sim, ready_pods(150));
    sim.run_until(ms(5_000));
    assert_eq!(slices(&sim).len(), 2);
    let key = ObjectKey::new("default", "web");
    submit_at(
        &mut sim,
        ms(10_000),
        Request::delete(USER_CLIENT, user(), Kind::Service, &key, None),
    );
    sim.run_until(ms(20_000));
    // The controller writes nothing for a deleted Service; the collector deletes the slices
    // its owner left behind.
    assert!(slices(&sim).is_empty());
    let collected = sim
        .model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == Kind::EndpointSlice && w.verb == Verb::Delete)
        .map(|w| w.user.as_str())
        .collect::<Vec<_>>();
    assert_eq!(
        collected,
        vec!["system:serviceaccount:kube-system:generic-garbage-collector"; 2]
    );
}

#[test]
fn pods_without_an_address_or_on_an_unknown_node_are_left_out() {
    let mut sim = world();
    let no_ip = pod("web-a", "n1", "", Some(SimTime::ZERO));
    let lost = pod("web-b", "gone", "10.64.9.9", Some(SimTime::ZERO));
    let fine = pod("web-c", "n1", "10.64.0.3", Some(SimTime::ZERO));
    cluster_with(&mut sim, [no_ip, lost, fine]);
    sim.run_until(ms(5_000));
    // web-a has no address; web-b's node is not known, which fails the sync, retried 1 s
    // later (rate-limited) with the same result.
    let slice = the_slice(&sim);
    let names: Vec<&str> = slice
        .endpoints
        .iter()
        .filter_map(|e| e.target_ref.as_ref().map(|r| r.name.as_str()))
        .collect();
    assert_eq!(names, vec!["web-c"]);
    assert!(controller(&sim).counters().syncs_error >= 2);
}

#[test]
fn slices_of_other_services_and_managers_are_left_alone() {
    let mut sim = world();
    cluster_with(&mut sim, ready_pods(1));
    // A slice someone else manages for the same Service.
    let mut other = EndpointSlice::default();
    other.metadata.name = "web-custom".into();
    other.metadata.namespace = "default".into();
    other.metadata.labels = labels(&[
        (LABEL_SERVICE_NAME, "web"),
        (LABEL_MANAGED_BY, "someone-else"),
    ]);
    create_at(
        &mut sim,
        SimTime::ZERO,
        Object::EndpointSlice(Box::new(other)),
    );
    sim.run_until(ms(5_000));
    let names: Vec<String> = slices(&sim).into_iter().map(|s| s.metadata.name).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"web-custom".to_string()));
    assert!(writes(&sim, Verb::Update).is_empty() && writes(&sim, Verb::Delete).is_empty());
}

#[test]
fn a_pod_change_waits_for_the_batch_period() {
    let settings = EndpointSliceSettings {
        batch_period: SimDuration::from_secs(3),
        ..EndpointSliceSettings::default()
    };
    let mut sim = world_with(settings, false);
    cluster_with(&mut sim, ready_pods(1));
    sim.run_until(ms(5_000));
    // The readiness change reaches the controller at 10.002 s and waits 3 s: the update
    // commits at 13.003 s.
    set_ready_at(&mut sim, ms(10_000), "web-000", false);
    sim.run_until(ms(20_000));
    let name = the_slice(&sim).metadata.name;
    assert_eq!(writes(&sim, Verb::Update), vec![(ms(13_003), name)]);
}

#[test]
fn the_controller_speaks_with_its_own_service_account() {
    let mut sim = world();
    cluster_with(&mut sim, ready_pods(1));
    sim.run_until(ms(5_000));
    let users: Vec<&str> = sim
        .model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == Kind::EndpointSlice)
        .map(|w| w.user.as_str())
        .collect();
    assert_eq!(users, vec![SERVICE_ACCOUNT]);
}
