//! The garbage collector against the apiserver, alone: the tests make owners and dependents
//! by hand (a Deployment owning a ReplicaSet owning pods), delete an owner with each
//! propagation policy and read what the apiserver holds and who wrote what.
//!
//! Timing: a request commits and is answered 1 ms after it is sent; a commit reaches the
//! collector's informers 1 ms later.

use std::sync::Arc;

use super::*;
use crate::api::deployment::Deployment;
use crate::api::meta::ObjectMeta;
use crate::api::pod::{Container, Pod};
use crate::api::replicaset::ReplicaSet;
use crate::apiserver::{ApiServerConfig, ChangeType, Verb};
use crate::controllers::kube_controller_manager::KubeControllerManager;
use crate::sim::{SimDuration, Simulation};
use crate::world::{self, World};

const GC: ClientId = ClientId(5);
const USER_CLIENT: ClientId = ClientId(90);
const GC_USER: &str = "system:serviceaccount:kube-system:generic-garbage-collector";

fn ms(n: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(n)
}

fn world() -> Simulation<World> {
    let config = ApiServerConfig {
        record_writes: true,
        ..ApiServerConfig::default()
    };
    let gc = GarbageCollector::new(GC, 20);
    let manager = KubeControllerManager::new(world::CONTROLLER_MANAGER_CLIENT, vec![Box::new(gc)]);
    world::with_components(config, 1, vec![Box::new(manager)])
}

fn user() -> UserInfo {
    UserInfo::new("kubernetes-admin", &["system:masters"])
}

fn meta(name: &str, owner: Option<&Object>) -> ObjectMeta {
    ObjectMeta {
        name: name.into(),
        namespace: "default".into(),
        owner_references: owner.into_iter().map(reference_to).collect(),
        ..ObjectMeta::default()
    }
}

/// A controller reference to `owner`, blocking its foreground deletion.
fn reference_to(owner: &Object) -> OwnerReference {
    OwnerReference {
        api_version: owner.kind().api_version().into(),
        kind: owner.kind().name().into(),
        name: owner.meta().name.clone(),
        uid: owner.meta().uid,
        controller: true,
        block_owner_deletion: true,
        ..OwnerReference::default()
    }
}

fn pod(name: &str, node: &str, owner: Option<&Object>) -> Object {
    let mut pod = Pod {
        metadata: meta(name, owner),
        ..Pod::default()
    };
    Arc::make_mut(&mut pod.spec).node_name = node.into();
    Arc::make_mut(&mut pod.spec).containers = vec![Container {
        name: "app".into(),
        image: "nginx".into(),
        ..Container::default()
    }];
    Object::Pod(Arc::new(pod))
}

fn create_at(sim: &mut Simulation<World>, at: SimTime, object: Object) -> Object {
    sim.run_until(at);
    let key = object.key();
    let kind = object.kind();
    world::submit(sim, Request::create(USER_CLIENT, user(), object));
    let committed = sim.now() + SimDuration::from_millis(1);
    sim.run_until(committed);
    stored(sim, kind, &key.name).expect("created")
}

fn delete_at(sim: &mut Simulation<World>, at: SimTime, object: &Object, policy: PropagationPolicy) {
    sim.run_until(at);
    let options = DeleteOptions {
        propagation_policy: Some(policy),
        ..DeleteOptions::default()
    };
    let request = Request::delete_with(USER_CLIENT, user(), object.kind(), &object.key(), options);
    world::submit(sim, request);
}

fn stored(sim: &Simulation<World>, kind: Kind, name: &str) -> Option<Object> {
    let key = ObjectKey::new("default", name);
    let store = sim.model().api().store();
    store.get(kind, &key).map(|o| (**o).clone())
}

/// A ReplicaSet `web-1` with pods `a` (unbound) and `b` (bound, so it terminates for 30 s).
fn replicaset_with_pods(sim: &mut Simulation<World>) -> (Object, Object, Object) {
    let rs = ReplicaSet {
        metadata: meta("web-1", None),
        ..ReplicaSet::default()
    };
    let rs = create_at(sim, ms(100), Object::ReplicaSet(Box::new(rs)));
    let a = create_at(sim, ms(200), pod("a", "", Some(&rs)));
    let b = create_at(sim, ms(300), pod("b", "n1", Some(&rs)));
    (rs, a, b)
}

/// Commits of `kind` objects: (time, name, change, writer).
fn commits(sim: &Simulation<World>, kind: Kind) -> Vec<(SimTime, String, ChangeType, String)> {
    sim.model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == kind)
        .map(|w| (w.at, w.key.name.clone(), w.change, w.user.clone()))
        .collect()
}

#[test]
fn background_deletes_the_owner_at_once_and_its_dependents_after() {
    let mut sim = world();
    let (rs, _, _) = replicaset_with_pods(&mut sim);
    // The ReplicaSet goes at 1.001 s; its delete reaches the collector at 1.002 s, which
    // reads each pod (1.003 s), finds its owner absent from the graph's record and deletes
    // it with the background policy and the pod's uid as precondition (1.004 s). Pod `a` is
    // unbound and goes at once; `b` terminates for 30 s.
    delete_at(&mut sim, ms(1000), &rs, PropagationPolicy::Background);
    sim.run_until(ms(2000));
    assert!(stored(&sim, Kind::ReplicaSet, "web-1").is_none());
    assert!(stored(&sim, Kind::Pod, "a").is_none());
    let b = stored(&sim, Kind::Pod, "b").expect("terminating");
    assert!(b.meta().is_terminating());
    let by_gc: Vec<(SimTime, String)> = commits(&sim, Kind::Pod)
        .into_iter()
        .filter(|c| c.3 == GC_USER)
        .map(|c| (c.0, c.1))
        .collect();
    assert_eq!(by_gc, vec![(ms(1004), "a".into()), (ms(1004), "b".into())]);
    assert_eq!(
        sim.model()
            .controller::<GarbageCollector>()
            .expect("the collector")
            .counters()
            .deleted,
        2
    );
    sim.run_until(ms(40_000));
    assert!(stored(&sim, Kind::Pod, "b").is_none());
}

#[test]
fn orphan_keeps_the_dependents_without_their_owner() {
    let mut sim = world();
    let (rs, _, _) = replicaset_with_pods(&mut sim);
    // The delete marks the ReplicaSet (orphan finalizer) at 1.001 s; the collector sees it
    // at 1.002 s, removes the reference from both pods in parallel (1.003 s), then the
    // finalizer (1.004 s), which deletes the ReplicaSet.
    delete_at(&mut sim, ms(1000), &rs, PropagationPolicy::Orphan);
    sim.run_until(ms(1001));
    let marked = stored(&sim, Kind::ReplicaSet, "web-1").expect("held by its finalizer");
    assert_eq!(marked.meta().finalizers, vec![ORPHAN_FINALIZER.to_string()]);
    sim.run_until(ms(2000));
    assert!(stored(&sim, Kind::ReplicaSet, "web-1").is_none());
    for name in ["a", "b"] {
        let pod = stored(&sim, Kind::Pod, name).expect("kept");
        assert!(pod.meta().owner_references.is_empty(), "{name}");
        assert!(!pod.meta().is_terminating(), "{name}");
    }
    let rs_commits = commits(&sim, Kind::ReplicaSet);
    let last = rs_commits.last().expect("commits");
    assert_eq!(
        (last.0, last.2, last.3.as_str()),
        (ms(1004), ChangeType::Deleted, GC_USER)
    );
    let orphaned: Vec<SimTime> = commits(&sim, Kind::Pod)
        .into_iter()
        .filter(|c| c.3 == GC_USER)
        .map(|c| c.0)
        .collect();
    assert_eq!(orphaned, vec![ms(1003), ms(1003)]);
}

#[test]
fn foreground_holds_the_owner_until_its_blocking_dependents_are_gone() {
    let mut sim = world();
    let (rs, _, _) = replicaset_with_pods(&mut sim);
    // Marked with foregroundDeletion at 1.001 s; the collector sees it at 1.002 s and checks
    // both pods: each is read (1.003 s), then its owner (1.004 s), which waits for it, so the
    // pod is deleted (1.005 s). `a` goes at once, `b` terminates until 31.005 s. Only then
    // has the ReplicaSet no blocking dependent: the pod's delete reaches the collector at
    // 31.006 s, which reads the ReplicaSet (answered at 31.007 s) and removes the finalizer,
    // which deletes it (31.008 s).
    delete_at(&mut sim, ms(1000), &rs, PropagationPolicy::Foreground);
    sim.run_until(ms(31_000));
    let held = stored(&sim, Kind::ReplicaSet, "web-1").expect("waiting for b");
    assert_eq!(
        held.meta().finalizers,
        vec![FOREGROUND_FINALIZER.to_string()]
    );
    assert!(stored(&sim, Kind::Pod, "a").is_none());
    sim.run_until(ms(32_000));
    assert!(stored(&sim, Kind::Pod, "b").is_none());
    assert!(stored(&sim, Kind::ReplicaSet, "web-1").is_none());
    let rs_commits = commits(&sim, Kind::ReplicaSet);
    let last = rs_commits.last().expect("commits");
    assert_eq!((last.0, last.2), (ms(31_008), ChangeType::Deleted));
    let b_gone = commits(&sim, Kind::Pod)
        .into_iter()
        .find(|c| c.1 == "b" && c.2 == ChangeType::Deleted)
        .expect("b deleted");
    assert_eq!(b_gone.0, ms(31_005));
}

#[test]
fn a_deployment_deleted_in_the_background_takes_its_replicasets_and_their_pods() {
    let mut sim = world();
    let deployment = Deployment {
        metadata: meta("web", None),
        ..Deployment::default()
    };
    let deployment = create_at(&mut sim, ms(100), Object::Deployment(Box::new(deployment)));
    let rs = ReplicaSet {
        metadata: meta("web-1", Some(&deployment)),
        ..ReplicaSet::default()
    };
    let rs = create_at(&mut sim, ms(200), Object::ReplicaSet(Box::new(rs)));
    create_at(&mut sim, ms(300), pod("a", "", Some(&rs)));
    create_at(&mut sim, ms(300), pod("b", "", Some(&rs)));
    delete_at(
        &mut sim,
        ms(1000),
        &deployment,
        PropagationPolicy::Background,
    );
    sim.run_until(ms(2000));
    // Deployment at 1.001 s; the collector deletes the ReplicaSet at 1.004 s (after reading
    // it at 1.003 s); that delete reaches it at 1.005 s and the pods go at 1.007 s.
    assert!(stored(&sim, Kind::Deployment, "web").is_none());
    let gone = |kind| {
        commits(&sim, kind)
            .into_iter()
            .filter(|c| c.2 == ChangeType::Deleted)
            .map(|c| (c.0, c.1))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        gone(Kind::ReplicaSet),
        vec![(ms(1004), "web-1".to_string())]
    );
    assert_eq!(
        gone(Kind::Pod),
        vec![(ms(1007), "a".to_string()), (ms(1007), "b".to_string())]
    );
}

#[test]
fn a_dependent_of_an_owner_that_never_existed_goes_and_one_of_an_unmodelled_kind_stays() {
    let mut sim = world();
    let ghost = Object::ReplicaSet(Box::new(ReplicaSet {
        metadata: ObjectMeta {
            name: "ghost".into(),
            namespace: "default".into(),
            uid: Uid(999),
            ..ObjectMeta::default()
        },
        ..ReplicaSet::default()
    }));
    create_at(&mut sim, ms(100), pod("stray", "", Some(&ghost)));
    let mut stateful = reference_to(&ghost);
    stateful.kind = "StatefulSet".into();
    let mut kept = pod("db-0", "", None);
    kept.meta_mut().owner_references = vec![stateful];
    create_at(&mut sim, ms(100), kept);
    sim.run_until(ms(2000));
    // The pod reaches the collector at 0.102 s with a virtual owner, which it reads (absent
    // at 0.103 s): the virtual node goes, the pod is checked (read at 0.104 s) and deleted
    // at 0.105 s. The StatefulSet cannot be read, so it holds its pod.
    assert!(stored(&sim, Kind::Pod, "stray").is_none());
    assert!(stored(&sim, Kind::Pod, "db-0").is_some());
    let stray_gone = commits(&sim, Kind::Pod)
        .into_iter()
        .find(|c| c.1 == "stray" && c.2 == ChangeType::Deleted)
        .expect("deleted");
    assert_eq!((stray_gone.0, stray_gone.3.as_str()), (ms(105), GC_USER));
    // Nothing is left to do: the graph holds the kept pod and its owner's virtual node.
    let gc = sim.model().controller::<GarbageCollector>().expect("gc");
    assert_eq!(gc.graph_len(), 2);
    let _ = Verb::Delete;
}
