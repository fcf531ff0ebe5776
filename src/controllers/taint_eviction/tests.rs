//! The taint eviction controller against the apiserver, with nothing else running: the tests
//! play the user (and the node lifecycle controller) through API requests and read the
//! deletes the apiserver committed.
//!
//! The apiserver here has no latency at all (admission and watch delays of 0), so the
//! controller sees a taint at the very time it is written, and a deletion it schedules for
//! `t` commits at `t` exactly.

use std::sync::Arc;

use super::*;
use crate::api::Object;
use crate::api::node::Node;
use crate::api::pod::Container;
use crate::api::taints::{TAINT_NODE_UNREACHABLE, Toleration, TolerationOperator};
use crate::apiserver::{ApiServerConfig, Verb};
use crate::controllers::kube_controller_manager::KubeControllerManager;
use crate::sim::Simulation;
use crate::world::{self, World};

const CONTROLLER: ClientId = ClientId(11);
const USER_CLIENT: ClientId = ClientId(90);

fn secs(n: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(n)
}

fn world() -> Simulation<World> {
    let config = ApiServerConfig {
        admission_latency: SimDuration::ZERO,
        watch_delay: SimDuration::ZERO,
        record_writes: true,
        ..ApiServerConfig::default()
    };
    world::with_components(
        config,
        1,
        vec![Box::new(KubeControllerManager::new(
            world::CONTROLLER_MANAGER_CLIENT,
            vec![Box::new(TaintEvictionController::new(CONTROLLER))],
        ))],
    )
}

fn user() -> UserInfo {
    UserInfo::new("kubernetes-admin", &["system:masters"])
}

fn submit_at(sim: &mut Simulation<World>, at: SimTime, request: Request) {
    sim.run_until(at);
    world::submit(sim, request);
}

fn node(name: &str) -> Object {
    let mut n = Node::default();
    n.metadata.name = name.into();
    Object::Node(Arc::new(n))
}

/// Pod `name` on `node`, tolerating `unreachable:NoExecute` for `seconds` (None: forever)
/// if `tolerate` (the apiserver adds the default 300 s toleration otherwise).
fn pod(name: &str, node: &str, tolerate: Option<Option<i64>>) -> Object {
    let mut p = Pod::default();
    p.metadata.name = name.into();
    p.metadata.namespace = "default".into();
    let spec = Arc::make_mut(&mut p.spec);
    spec.node_name = node.into();
    spec.containers = vec![Container {
        name: "app".into(),
        image: "app:1".into(),
        ..Container::default()
    }];
    if let Some(seconds) = tolerate {
        spec.tolerations.push(Toleration {
            key: TAINT_NODE_UNREACHABLE.into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: Some(TaintEffect::NoExecute),
            toleration_seconds: seconds,
        });
    }
    Object::Pod(Arc::new(p))
}

fn taint_at(sim: &mut Simulation<World>, at: SimTime, node: &str, taints: Vec<Taint>) {
    let key = ObjectKey::cluster(node);
    let op = PatchOp::NodeTaints(taints);
    submit_at(
        sim,
        at,
        Request::patch(USER_CLIENT, user(), Kind::Node, &key, op),
    );
}

fn unreachable() -> Taint {
    Taint::new(TAINT_NODE_UNREACHABLE, "", TaintEffect::NoExecute)
}

/// The pods deleted (the delete requests committed), with when, in order.
fn deletes(sim: &Simulation<World>) -> Vec<(String, SimTime)> {
    sim.model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == Kind::Pod && w.verb == Verb::Delete && w.user.contains("taint"))
        .map(|w| (w.key.name.clone(), w.at))
        .collect()
}

fn setup(sim: &mut Simulation<World>) {
    let create = |o| Request::create(USER_CLIENT, user(), o);
    for request in [
        create(node("n1")),
        create(node("n2")),
        // 30 s, forever, and the default 300 s.
        create(pod("short", "n1", Some(Some(30)))),
        create(pod("forever", "n1", Some(None))),
        create(pod("default", "n1", None)),
        create(pod("other", "n2", None)),
    ] {
        submit_at(sim, SimTime::ZERO, request);
    }
}

#[test]
fn tolerated_pods_go_at_taint_time_plus_their_seconds() {
    let mut sim = world();
    setup(&mut sim);
    // n1 unreachable at 10 s: `short` goes at 10 + 30 = 40 s, `default` at 10 + 300 =
    // 310 s, `forever` never; n2 has no taint, so `other` stays.
    taint_at(&mut sim, secs(10), "n1", vec![unreachable()]);
    sim.run_until(secs(1000));
    assert_eq!(
        deletes(&sim),
        vec![
            ("short".to_string(), secs(40)),
            ("default".to_string(), secs(310))
        ]
    );
    // The deletion set DisruptionTarget first.
    let writes = sim.model().api().writes();
    let target = writes
        .iter()
        .find(|w| w.key.name == "short" && w.verb == Verb::Patch)
        .map(|w| w.at);
    assert_eq!(target, Some(secs(40)));
}

#[test]
fn lifting_the_taint_cancels_pending_deletions() {
    let mut sim = world();
    setup(&mut sim);
    taint_at(&mut sim, secs(10), "n1", vec![unreachable()]);
    // Lifted at 100 s: `short` went at 40 s, `default` (due at 310 s) stays.
    taint_at(&mut sim, secs(100), "n1", Vec::new());
    sim.run_until(secs(1000));
    assert_eq!(deletes(&sim), vec![("short".to_string(), secs(40))]);
    let controller = sim
        .model()
        .controller::<TaintEvictionController>()
        .expect("the controller");
    assert_eq!(controller.counters().cancelled, 1);
    assert!(controller.scheduled_deletions().is_empty());
}

#[test]
fn an_untolerated_taint_deletes_at_once_and_a_second_taint_keeps_the_earlier_time() {
    let mut sim = world();
    setup(&mut sim);
    // n1 unreachable at 10 s, then at 20 s a taint nobody tolerates joins it: every pod of
    // n1 goes at 20 s (`short` was due at 40 s, `forever` never).
    taint_at(&mut sim, secs(10), "n1", vec![unreachable()]);
    let custom = Taint::new("example.com/broken", "", TaintEffect::NoExecute);
    taint_at(&mut sim, secs(20), "n1", vec![unreachable(), custom]);
    // n2 unreachable at 50 s, then the taint's time is rewritten at 100 s (a NoExecute
    // change, seen again): `other` keeps its deletion at 50 + 300 = 350 s, as upstream keeps
    // the earlier work (started at 50 s, 50 + 300 is before 100 + 300).
    taint_at(&mut sim, secs(50), "n2", vec![unreachable()]);
    let mut stamped = unreachable();
    stamped.time_added = Some("1970-01-01T00:01:40Z".into());
    taint_at(&mut sim, secs(100), "n2", vec![stamped]);
    sim.run_until(secs(1000));
    let mut got = deletes(&sim);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("default".to_string(), secs(20)),
            ("forever".to_string(), secs(20)),
            ("other".to_string(), secs(350)),
            ("short".to_string(), secs(20)),
        ]
    );
}
