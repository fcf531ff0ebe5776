use std::sync::Arc;

use super::*;
use crate::api::endpointslice::{Endpoint, EndpointConditions, ObjectReference};
use crate::api::meta::ObjectMeta;
use crate::api::pod::{
    Container, ContainerState, ContainerStateRunning, ContainerStatus, PodPhase, PodSpec,
};
use crate::api::{Object, endpointslice::LABEL_SERVICE_NAME};
use crate::apiserver::Store;

fn at(secs: u64) -> SimTime {
    SimTime::from_nanos(secs * 1_000_000_000)
}

fn container(name: &str, cpu_request: i64, cpu_limit: Option<i64>) -> Container {
    let mut c = Container {
        name: name.into(),
        ..Container::default()
    };
    c.resources
        .requests
        .insert("cpu".into(), Quantity::from_milli(cpu_request));
    if let Some(limit) = cpu_limit {
        c.resources
            .limits
            .insert("cpu".into(), Quantity::from_milli(limit));
    }
    c
}

/// A pod on node `n1` whose containers run since `start`.
fn pod(name: &str, containers: Vec<Container>, start: SimTime) -> Object {
    let mut p = Pod::default();
    p.metadata.name = name.into();
    p.metadata.namespace = "default".into();
    p.status.phase = PodPhase::Running;
    p.status.container_statuses = containers
        .iter()
        .map(|c| ContainerStatus {
            name: c.name.clone(),
            state: ContainerState {
                running: Some(ContainerStateRunning { started_at: start }),
                ..ContainerState::default()
            },
            ..ContainerStatus::default()
        })
        .collect();
    p.spec = Arc::new(PodSpec {
        node_name: "n1".into(),
        containers,
        ..PodSpec::default()
    });
    Object::Pod(Arc::new(p))
}

/// The Service `web`'s slice with `endpoints` (pod name, ready).
fn slice(endpoints: &[(&str, bool)]) -> Object {
    let mut meta = ObjectMeta {
        name: "web-abc".into(),
        namespace: "default".into(),
        ..ObjectMeta::default()
    };
    meta.labels.insert(LABEL_SERVICE_NAME.into(), "web".into());
    Object::EndpointSlice(Box::new(EndpointSlice {
        metadata: meta,
        endpoints: endpoints
            .iter()
            .map(|(name, ready)| Endpoint {
                conditions: EndpointConditions {
                    ready: Some(*ready),
                    ..EndpointConditions::default()
                },
                target_ref: Some(ObjectReference {
                    kind: "Pod".into(),
                    namespace: "default".into(),
                    name: (*name).into(),
                    ..ObjectReference::default()
                }),
                ..Endpoint::default()
            })
            .collect(),
        ..EndpointSlice::default()
    }))
}

/// 300 rps to `web`, 1m per request and 10m base (or `cost`), no noise, stepping every 5 s.
fn traffic(rate: RateProfile, noise: f64, server: Option<Server>) -> Traffic {
    Traffic {
        service: ObjectKey::new("default", "web"),
        rate,
        cost: RequestCost {
            base_cpu: 10.0,
            cpu_per_request: 1.0,
            base_memory: 1_000_000.0,
            memory_per_request: 1000.0,
        },
        noise,
        step: DEFAULT_STEP,
        server,
    }
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("default", name)
}

/// The point of `pod`'s `container` in a scrape.
fn point_of(points: &[ScrapedPoint<'_>], pod: &ObjectKey, container: &str) -> ContainerPoint {
    let found = points
        .iter()
        .find(|p| p.pod == pod && p.container == container);
    found.expect("the container is in the scrape").point
}

fn model_with(objects: Vec<Object>, t: Traffic) -> (Store, LoadModel) {
    let mut store = Store::new(10_000);
    for o in objects {
        store.create(o).expect("create");
    }
    let mut model = LoadModel::new(&[t], RngStreams::new(1));
    model.observe(at(1), &store);
    (store, model)
}

#[test]
fn ready_endpoints_share_the_rate_and_containers_split_by_request() {
    // 300 rps over a, b, c: 100 rps each, 10m + 100 × 1m = 110m. Pod a's containers request
    // 300m and 100m: 3/4 of 110m is 82.5m, truncated to 82m; the last takes the rest, 28m.
    let objects = vec![
        pod(
            "a",
            vec![container("app", 300, None), container("side", 100, None)],
            at(0),
        ),
        pod("b", vec![container("app", 100, None)], at(0)),
        pod("c", vec![container("app", 100, None)], at(0)),
        slice(&[("a", true), ("b", true), ("c", true)]),
    ];
    let (_, model) = model_with(objects, traffic(RateProfile::Constant(300.0), 0.0, None));
    assert_eq!(model.cpu_millicores(&key("a")), Some(110));
    assert_eq!(model.cpu_millicores(&key("b")), Some(110));
    let points = model.resource_points(at(21), |_| SimDuration::ZERO);
    // The sample at 20 s: a's app container at 82m from 1 s, when the model first saw it
    // running, to 20 s.
    let a_app = point_of(&points, &key("a"), "app");
    assert_eq!(a_app.timestamp, at(20));
    assert_eq!(a_app.cumulative_cpu, 82 * 19 * 1_000_000);
    let a_side = point_of(&points, &key("a"), "side");
    assert_eq!(a_side.cumulative_cpu, 28 * 19 * 1_000_000);
    // Memory: 1 MB + 100 × 1 kB = 1.1 MB, split 3:1.
    assert_eq!(a_app.memory + a_side.memory, 1_100_000);
    // Each pod's requests: 100 rps from 1 s, when the model first spread over it, so 2,000
    // by 21 s; in pod order, with the traffic's place.
    let counts: Vec<(usize, &str, f64)> = model
        .request_counts(at(21))
        .map(|(i, pod, count)| (i, pod.name.as_str(), count))
        .collect();
    assert_eq!(
        counts,
        [(0, "a", 2000.0), (0, "b", 2000.0), (0, "c", 2000.0)]
    );
    // The pod's containers come in name order.
    let a_containers: Vec<&str> = points
        .iter()
        .filter(|p| p.pod == &key("a"))
        .map(|p| p.container)
        .collect();
    assert_eq!(a_containers, ["app", "side"]);
    let (service, now) = model.services().next().expect("one service");
    assert_eq!(service, &key("web"));
    assert_eq!((now.offered, now.served, now.endpoints), (300.0, 300.0, 3));
}

#[test]
fn an_unready_endpoint_gets_only_its_base() {
    // b is not ready: a serves all 300 rps (310m), b only its base 10m.
    let objects = vec![
        pod("a", vec![container("app", 100, None)], at(0)),
        pod("b", vec![container("app", 100, None)], at(0)),
        slice(&[("a", true), ("b", false)]),
    ];
    let (_, model) = model_with(objects, traffic(RateProfile::Constant(300.0), 0.0, None));
    assert_eq!(model.cpu_millicores(&key("a")), Some(310));
    assert_eq!(model.cpu_millicores(&key("b")), Some(10));
}

#[test]
fn a_cpu_limit_throttles_and_drops_what_it_cannot_serve() {
    // 300 rps on one pod limited to 200m: it can serve (200 − 10) / 1 = 190 rps; 110 dropped.
    let objects = vec![
        pod("a", vec![container("app", 100, Some(200))], at(0)),
        slice(&[("a", true)]),
    ];
    let (_, model) = model_with(objects, traffic(RateProfile::Constant(300.0), 0.0, None));
    assert_eq!(model.cpu_millicores(&key("a")), Some(200));
    let (_, now) = model.services().next().expect("one service");
    assert_eq!((now.served, now.dropped, now.throttled), (190.0, 110.0, 1));
}

#[test]
fn a_pinned_pod_uses_what_its_annotation_says() {
    let mut pinned = pod("a", vec![container("app", 100, None)], at(0));
    pinned
        .meta_mut()
        .annotations
        .insert(ANNOTATION_CPU_USAGE.into(), "750m".into());
    let objects = vec![pinned, slice(&[("a", true)])];
    let (_, model) = model_with(objects, traffic(RateProfile::Constant(300.0), 0.0, None));
    assert_eq!(model.cpu_millicores(&key("a")), Some(750));
}

#[test]
fn a_step_changes_usage_on_its_grid_and_a_scrape_reads_the_past_exactly() {
    // 100 → 400 rps at 10 s on one pod: 110m, then 410m from 10 s. A read at the sample of
    // 10 s (phase 0) after the step was applied still sees 110m × 9 s (from 1 s).
    let objects = vec![
        pod("a", vec![container("app", 100, None)], at(0)),
        slice(&[("a", true)]),
    ];
    let step = RateProfile::Step {
        from: 100.0,
        to: 400.0,
        at: SimDuration::from_secs(10),
    };
    let (_, mut model) = model_with(objects, traffic(step, 0.0, None));
    assert_eq!(model.next_step(at(1)), Some(at(5)));
    model.step(at(5));
    assert_eq!(model.cpu_millicores(&key("a")), Some(110));
    model.step(at(10));
    assert_eq!(model.cpu_millicores(&key("a")), Some(410));
    let points = model.resource_points(at(12), |_| SimDuration::ZERO);
    assert_eq!(
        point_of(&points, &key("a"), "app").cumulative_cpu,
        110 * 9 * 1_000_000
    );
    let points = model.resource_points(at(20), |_| SimDuration::ZERO);
    assert_eq!(
        point_of(&points, &key("a"), "app").cumulative_cpu,
        (110 * 9 + 410 * 10) * 1_000_000
    );
}

#[test]
fn noise_moves_shares_but_keeps_the_total() {
    let objects = vec![
        pod("a", vec![container("app", 100, None)], at(0)),
        pod("b", vec![container("app", 100, None)], at(0)),
        pod("c", vec![container("app", 100, None)], at(0)),
        slice(&[("a", true), ("b", true), ("c", true)]),
    ];
    let (_, model) = model_with(objects, traffic(RateProfile::Constant(300.0), 0.3, None));
    let shares: Vec<f64> = ["a", "b", "c"]
        .iter()
        .map(|n| model.share(&key(n), 0).expect("a share").offered)
        .collect();
    assert!(
        (shares.iter().sum::<f64>() - 300.0).abs() < 1e-9,
        "{shares:?}"
    );
    assert!(shares.iter().any(|s| (s - 100.0).abs() > 1.0), "{shares:?}");
}

#[test]
fn a_pod_that_stops_running_or_leaves_the_service_is_dropped() {
    let objects = vec![
        pod("a", vec![container("app", 100, None)], at(0)),
        pod("b", vec![container("app", 100, None)], at(0)),
        slice(&[("a", true), ("b", true)]),
    ];
    let (mut store, mut model) =
        model_with(objects, traffic(RateProfile::Constant(300.0), 0.0, None));
    assert_eq!(model.cpu_millicores(&key("a")), Some(160));
    // b leaves the slice: a takes all 300 rps; b keeps running idle (no share, no base).
    store
        .update(slice(&[("a", true)]), |_, _| Ok(()))
        .expect("update");
    model.observe(at(2), &store);
    assert_eq!(model.cpu_millicores(&key("a")), Some(310));
    assert_eq!(model.cpu_millicores(&key("b")), Some(0));
    store.delete(Kind::Pod, &key("b")).expect("delete");
    model.observe(at(3), &store);
    assert_eq!(model.cpu_millicores(&key("b")), None);
    assert_eq!(model.running_pods(), 1);
}

#[test]
fn a_queueing_server_drops_past_its_capacity() {
    // One pod, 1 server of 10 ms (100 rps capacity), queue of 5, offered 300 rps: it serves
    // just under 100 rps and drops the rest.
    let server = Server {
        concurrency: 1,
        service_time: SimDuration::from_millis(10),
        queue_limit: 5,
    };
    let objects = vec![
        pod("a", vec![container("app", 100, None)], at(0)),
        slice(&[("a", true)]),
    ];
    let (_, model) = model_with(
        objects,
        traffic(RateProfile::Constant(300.0), 0.0, Some(server)),
    );
    let (_, now) = model.services().next().expect("one service");
    assert!(now.served > 99.0 && now.served < 100.0, "{now:?}");
    assert!((now.served + now.dropped - 300.0).abs() < 1e-9, "{now:?}");
}
