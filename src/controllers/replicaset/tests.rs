//! The ReplicaSet controller against the apiserver, with nothing else running: the tests play
//! the user and the kubelet through API requests, and read the apiserver's write record.
//!
//! Timing in every derivation: the default admission latency is 1 ms (a request commits, and
//! is answered, 1 ms after it is sent) and the default watch delay 1 ms (a commit reaches the
//! controller's informers 1 ms later). The controller's informers are synced at 1 ms.

use std::sync::Arc;

use super::*;
use crate::api::pod::{Container, POD_READY, PodCondition, PodPhase, PodStatus};
use crate::api::test_util::labels;
use crate::apiserver::{ApiServerConfig, WriteRecord};
use crate::controllers::kube_controller_manager::KubeControllerManager;
use crate::sim::Simulation;
use crate::world::{self, World};

const CONTROLLER: ClientId = ClientId(2);
const USER_CLIENT: ClientId = ClientId(90);
const CONTROLLER_USER: &str = "system:serviceaccount:kube-system:replicaset-controller";

fn ms(n: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(n)
}

fn world_with(config: ApiServerConfig, settings: ReplicaSetSettings) -> Simulation<World> {
    let config = ApiServerConfig {
        record_writes: true,
        ..config
    };
    let controller = ReplicaSetController::new(CONTROLLER, settings);
    let manager =
        KubeControllerManager::new(world::CONTROLLER_MANAGER_CLIENT, vec![Box::new(controller)]);
    world::with_components(config, 1, vec![Box::new(manager)])
}

fn world() -> Simulation<World> {
    world_with(ApiServerConfig::default(), ReplicaSetSettings::default())
}

fn user() -> UserInfo {
    UserInfo::new("kubernetes-admin", &["system:masters"])
}

fn template_spec() -> crate::api::pod::PodSpec {
    crate::api::pod::PodSpec {
        containers: vec![Container {
            name: "app".into(),
            image: "nginx:1.27".into(),
            ..Container::default()
        }],
        ..Default::default()
    }
}

/// A ReplicaSet `name` of `replicas` pods labelled `app: web`.
fn replicaset(name: &str, replicas: i32) -> ReplicaSet {
    let mut rs = ReplicaSet::default();
    rs.metadata.name = name.into();
    rs.metadata.namespace = "default".into();
    rs.spec.replicas = Some(replicas);
    rs.spec.selector = LabelSelector::from_match_labels(labels(&[("app", "web")]));
    rs.spec.template.metadata.labels = labels(&[("app", "web")]);
    rs.spec.template.spec = template_spec();
    rs
}

/// An orphan pod labelled `app: web`, bound to `node` unless it is empty.
fn orphan(name: &str, node: &str) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = name.into();
    pod.metadata.namespace = "default".into();
    pod.metadata.labels = labels(&[("app", "web")]);
    pod.spec = template_spec().into();
    std::sync::Arc::make_mut(&mut pod.spec).node_name = node.into();
    pod
}

fn send_at(sim: &mut Simulation<World>, at: SimTime, request: Request) {
    sim.run_until(at);
    world::submit(sim, request);
}

fn create_at(sim: &mut Simulation<World>, at: SimTime, object: Object) {
    send_at(sim, at, Request::create(USER_CLIENT, user(), object));
}

fn scale_at(sim: &mut Simulation<World>, at: SimTime, name: &str, replicas: i32) {
    let key = ObjectKey::new("default", name);
    let op = PatchOp::Replicas(replicas);
    let request = Request::patch(USER_CLIENT, user(), Kind::ReplicaSet, &key, op);
    send_at(sim, at, request);
}

/// Marks pod `name` Running and Ready since `at`, as its kubelet would report it.
fn make_ready_at(sim: &mut Simulation<World>, at: SimTime, name: &str) {
    sim.run_until(at);
    let mut pod = (*stored_pod(sim, name)).clone();
    pod.status = PodStatus {
        phase: PodPhase::Running,
        conditions: vec![PodCondition {
            type_: POD_READY.into(),
            status: "True".into(),
            last_transition_time: at,
            ..PodCondition::default()
        }],
        ..pod.status
    };
    let object = Object::Pod(Arc::new(pod));
    world::submit(
        sim,
        Request::update(USER_CLIENT, user(), object, Some(Subresource::Status)),
    );
}

fn stored_pod(sim: &Simulation<World>, name: &str) -> Arc<Pod> {
    let key = ObjectKey::new("default", name);
    let object = sim.model().api().store().get(Kind::Pod, &key);
    Arc::clone(object.and_then(|o| o.as_pod()).expect("the pod exists"))
}

fn stored_replicaset(sim: &Simulation<World>, name: &str) -> ReplicaSet {
    let key = ObjectKey::new("default", name);
    match sim
        .model()
        .api()
        .store()
        .get(Kind::ReplicaSet, &key)
        .map(|o| &**o)
    {
        Some(Object::ReplicaSet(rs)) => (**rs).clone(),
        other => panic!("no ReplicaSet {name}: {other:?}"),
    }
}

fn pods(sim: &Simulation<World>) -> Vec<Arc<Pod>> {
    let store = sim.model().api().store();
    store
        .iter(Kind::Pod)
        .filter_map(|o| o.as_pod().cloned())
        .collect()
}

/// The controller's writes of `kind` with `verb` (and `subresource`), in commit order.
fn writes(
    sim: &Simulation<World>,
    verb: crate::apiserver::Verb,
    kind: Kind,
    subresource: Option<Subresource>,
) -> Vec<WriteRecord> {
    sim.model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.user == CONTROLLER_USER && w.verb == verb && w.kind == kind)
        .filter(|w| w.subresource == subresource)
        .cloned()
        .collect()
}

/// Sizes of the groups of pod creations that committed at the same instant.
fn creation_batches(sim: &Simulation<World>) -> Vec<(SimTime, usize)> {
    let mut batches: Vec<(SimTime, usize)> = Vec::new();
    for w in writes(sim, crate::apiserver::Verb::Create, Kind::Pod, None) {
        match batches.last_mut() {
            Some((at, n)) if *at == w.at => *n += 1,
            _ => batches.push((w.at, 1)),
        }
    }
    batches
}

#[test]
fn creates_in_slow_start_batches_and_owns_what_it_creates() {
    let mut sim = world();
    // The ReplicaSet commits at 1.001 s and reaches the controller at 1.002 s. Its sync sends
    // a batch of 1 create (commits at 1.003 s); once it is answered, a batch of 2 (1.004 s),
    // then 4 (1.005 s), then the remaining 3 (1.006 s): min(2 × 4, 10 − 7).
    create_at(
        &mut sim,
        ms(1000),
        Object::ReplicaSet(Box::new(replicaset("web", 10))),
    );
    sim.run_until(ms(5000));
    assert_eq!(
        creation_batches(&sim),
        vec![(ms(1003), 1), (ms(1004), 2), (ms(1005), 4), (ms(1006), 3)]
    );
    let rs = stored_replicaset(&sim, "web");
    let pods = pods(&sim);
    assert_eq!(pods.len(), 10);
    for pod in &pods {
        assert!(
            pod.metadata.name.starts_with("web-"),
            "{}",
            pod.metadata.name
        );
        assert_eq!(pod.metadata.labels, labels(&[("app", "web")]));
        let owner = pod
            .metadata
            .controller_ref()
            .expect("a controller reference");
        assert_eq!(
            (owner.kind.as_str(), owner.uid),
            ("ReplicaSet", rs.metadata.uid)
        );
        assert!(owner.block_owner_deletion);
    }
    // Nothing runs the pods: 10 replicas, none ready, every pod labelled as the template.
    assert_eq!(
        (
            rs.status.replicas,
            rs.status.fully_labeled_replicas,
            rs.status.ready_replicas,
            rs.status.available_replicas,
            rs.status.observed_generation
        ),
        (10, 10, 0, 0, 1)
    );
}

#[test]
fn one_sync_creates_at_most_burst_replicas() {
    let mut sim = world();
    create_at(
        &mut sim,
        ms(1000),
        Object::ReplicaSet(Box::new(replicaset("big", 700))),
    );
    sim.run_until(ms(60_000));
    // First sync: min(700, 500) = 500 in batches 1, 2, 4, …, 128 (255 in all), then the
    // remaining 245. The next sync waits until the informer has seen all 500 (expectations),
    // then creates the other 200: 1, 2, …, 64 (127), then 73.
    let sizes: Vec<usize> = creation_batches(&sim).into_iter().map(|(_, n)| n).collect();
    assert_eq!(
        sizes,
        vec![1, 2, 4, 8, 16, 32, 64, 128, 245, 1, 2, 4, 8, 16, 32, 64, 73]
    );
    assert_eq!(pods(&sim).len(), 700);
    // A smaller burst, as a scenario may set it: 3 per sync.
    let settings = ReplicaSetSettings {
        burst_replicas: 3,
        ..ReplicaSetSettings::default()
    };
    let mut sim = world_with(ApiServerConfig::default(), settings);
    create_at(
        &mut sim,
        ms(1000),
        Object::ReplicaSet(Box::new(replicaset("small", 7))),
    );
    sim.run_until(ms(60_000));
    let sizes: Vec<usize> = creation_batches(&sim).into_iter().map(|(_, n)| n).collect();
    assert_eq!(sizes, vec![1, 2, 1, 2, 1]);
}

#[test]
fn expectations_hold_back_a_second_create_while_the_cache_lags() {
    // Watch events take 3 s. The ReplicaSet (committed at 1.001 s) reaches the controller at
    // 4.001 s, which creates 5 pods by 4.004 s; their events arrive from 7.003 s on. A label
    // change committed at 1.501 s reaches the controller at 4.501 s: its cache still has no
    // pod, so without expectations it would create 5 more. It must wait.
    let config = ApiServerConfig {
        watch_delay: SimDuration::from_secs(3),
        ..ApiServerConfig::default()
    };
    let mut sim = world_with(config, ReplicaSetSettings::default());
    create_at(
        &mut sim,
        ms(1000),
        Object::ReplicaSet(Box::new(replicaset("web", 5))),
    );
    let mut relabelled = replicaset("web", 5);
    relabelled.metadata.labels = labels(&[("tier", "front")]);
    let request = Request::update(
        USER_CLIENT,
        user(),
        Object::ReplicaSet(Box::new(relabelled)),
        None,
    );
    send_at(&mut sim, ms(1500), request);
    sim.run_until(ms(30_000));
    assert_eq!(pods(&sim).len(), 5);
    assert_eq!(
        writes(&sim, crate::apiserver::Verb::Create, Kind::Pod, None).len(),
        5
    );
    // The status of the sync at 4.501 s (0 pods seen) conflicted with the one written at
    // 4.005 s; it was retried after a GET, and later syncs count the 5 pods.
    assert_eq!(stored_replicaset(&sim, "web").status.replicas, 5);
}

#[test]
fn adopts_matching_orphans_and_scales_down_in_upstreams_order() {
    let mut sim = world();
    // Three orphans: `unbound` has no node; `pending` is on n1, not started; `running` is on
    // n2, Running and Ready.
    create_at(
        &mut sim,
        ms(100),
        Object::Pod(Arc::new(orphan("unbound", ""))),
    );
    create_at(
        &mut sim,
        ms(100),
        Object::Pod(Arc::new(orphan("pending", "n1"))),
    );
    create_at(
        &mut sim,
        ms(100),
        Object::Pod(Arc::new(orphan("running", "n2"))),
    );
    make_ready_at(&mut sim, ms(200), "running");
    create_at(
        &mut sim,
        ms(1000),
        Object::ReplicaSet(Box::new(replicaset("web", 3))),
    );
    sim.run_until(ms(2000));
    // The sync read the ReplicaSet once (uncached) and adopted the three, one patch at a
    // time; it created nothing.
    let rs = stored_replicaset(&sim, "web");
    for name in ["unbound", "pending", "running"] {
        let owner = stored_pod(&sim, name).metadata.controller_ref().cloned();
        assert_eq!(owner.map(|o| o.uid), Some(rs.metadata.uid), "{name}");
    }
    let adoptions = writes(&sim, crate::apiserver::Verb::Patch, Kind::Pod, None);
    let times: Vec<SimTime> = adoptions.iter().map(|w| w.at).collect();
    // RS at 1.002 s → GET commits… answered at 1.003 s → patches at 1.004, 1.005, 1.006 s.
    assert_eq!(times, vec![ms(1004), ms(1005), ms(1006)]);
    assert_eq!(
        writes(&sim, crate::apiserver::Verb::Create, Kind::Pod, None).len(),
        0
    );
    assert_eq!(rs.status.ready_replicas, 1);
    // Scaled to 1, it deletes the unassigned pod first, then the pending one (rules 1, 2).
    scale_at(&mut sim, ms(5000), "web", 1);
    sim.run_until(ms(5010));
    let deleted: Vec<String> = writes(&sim, crate::apiserver::Verb::Delete, Kind::Pod, None)
        .iter()
        .map(|w| w.key.name.clone())
        .collect();
    assert_eq!(deleted, vec!["unbound".to_string(), "pending".to_string()]);
    // The unbound pod goes at once; the bound one terminates for its 30 s grace period,
    // during which it no longer counts.
    assert!(pods(&sim).iter().all(|p| p.metadata.name != "unbound"));
    assert!(stored_pod(&sim, "pending").metadata.is_terminating());
    assert_eq!(stored_replicaset(&sim, "web").status.replicas, 1);
}

#[test]
fn releases_a_pod_whose_labels_no_longer_match_and_replaces_it() {
    let mut sim = world();
    create_at(
        &mut sim,
        ms(1000),
        Object::ReplicaSet(Box::new(replicaset("web", 2))),
    );
    sim.run_until(ms(2000));
    let first = pods(&sim)[0].metadata.name.clone();
    let mut relabelled = (*stored_pod(&sim, &first)).clone();
    relabelled.metadata.labels = labels(&[("app", "debug")]);
    let request = Request::update(USER_CLIENT, user(), Object::Pod(Arc::new(relabelled)), None);
    send_at(&mut sim, ms(3000), request);
    sim.run_until(ms(4000));
    // The relabelled pod lost its controller reference and a third pod took its place.
    assert!(
        stored_pod(&sim, &first)
            .metadata
            .owner_references
            .is_empty()
    );
    let owned = pods(&sim)
        .iter()
        .filter(|p| p.metadata.controller_ref().is_some())
        .count();
    assert_eq!((pods(&sim).len(), owned), (3, 2));
}

#[test]
fn availability_waits_for_min_ready_seconds() {
    let mut sim = world();
    let mut rs = replicaset("web", 1);
    rs.spec.min_ready_seconds = 10;
    create_at(&mut sim, ms(1000), Object::ReplicaSet(Box::new(rs)));
    sim.run_until(ms(2000));
    let name = pods(&sim)[0].metadata.name.clone();
    // Ready since 5 s (the status commits at 5.001 s and reaches the controller at 5.002 s).
    // That sync writes readyReplicas 1 (commits at 5.003 s) and, ready but not available,
    // comes back 10 s after it ends: 15.003 s (the pod handler's own requeue, 11 s after
    // 5.002 s, is later and merges into it). At 15.003 s the pod has been ready for 10.003 s,
    // strictly more than 10 s: availableReplicas 1 commits at 15.004 s.
    make_ready_at(&mut sim, ms(5000), &name);
    sim.run_until(ms(15_003));
    let status = stored_replicaset(&sim, "web").status;
    assert_eq!((status.ready_replicas, status.available_replicas), (1, 0));
    sim.run_until(ms(15_004));
    let status = stored_replicaset(&sim, "web").status;
    assert_eq!((status.ready_replicas, status.available_replicas), (1, 1));
    let status_writes: Vec<SimTime> = writes(
        &sim,
        crate::apiserver::Verb::Update,
        Kind::ReplicaSet,
        Some(Subresource::Status),
    )
    .iter()
    .map(|w| w.at)
    .collect();
    assert_eq!(status_writes.last(), Some(&ms(15_004)));
    assert!(status_writes.contains(&ms(5003)));
}

#[test]
fn failing_creates_set_replica_failure_and_back_off() {
    let mut sim = world();
    // A container without a name: the apiserver refuses every pod (422).
    let mut rs = replicaset("broken", 3);
    rs.spec.template.spec.containers[0].name = String::new();
    create_at(&mut sim, ms(1000), Object::ReplicaSet(Box::new(rs)));
    sim.run_until(ms(61_000));
    let rs = stored_replicaset(&sim, "broken");
    let failure = rs
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == REPLICA_FAILURE)
        .expect("a ReplicaFailure condition");
    assert_eq!(failure.reason, "FailedCreate");
    assert!(
        failure.message.starts_with("invalid Pod: Pod \"broken-")
            && failure
                .message
                .ends_with("spec.containers[0].name: Required value"),
        "{}",
        failure.message
    );
    // Each sync tries one create (a failed first batch stops the slow start: the other two
    // are no longer expected), then goes back on the queue rate-limited, 5 ms × 2^n:
    //   #1 fails at 1.003 s; its status (ReplicaFailure) commits at 1.004 s, and the key is
    //      held until 1.009 s (5 ms);
    //   #2 runs at once on that status's watch event (1.005 s) and fails at 1.006 s; its 10 ms
    //      hold (1.016 s) merges into the earlier one, 1.009 s;
    //   #3 fails at 1.010 s, held 20 ms; #4 at 1.031 s (40 ms); #5 1.072 s (80 ms);
    //   #6 1.153 s; #7 1.314 s; #8 1.635 s; #9 2.276 s; #10 3.557 s; #11 6.118 s;
    //   #12 11.239 s; #13 21.480 s; #14 41.961 s; the next would be at 83 s.
    let refused =
        sim.model().api().counters().requests[&(crate::apiserver::Verb::Create, Kind::Pod, 422)];
    assert_eq!(refused, 14);
}
