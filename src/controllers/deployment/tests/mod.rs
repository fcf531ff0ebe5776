//! The Deployment controller in a running world, with [`driver::Driver`] playing the
//! ReplicaSet controller and the kubelets (pods Ready a fixed delay after they are created).
//! The scenarios are real scenario files; the sizes are read from the apiserver's write
//! records, which `events.jsonl` prints. The driver makes all the pods of a step Ready
//! together and reports them in one status write, so the sequences here are the textbook
//! ones; with the real ReplicaSet controller, kube-scheduler and kubelets (the integration
//! tests' `rollout` module) a step's pods are created, bound and reported one after the
//! other, and a rollout whose steps hold several pods takes smaller steps.

mod algorithms;
mod driver;
mod rollout;

use std::collections::BTreeMap;
use std::path::Path;

use driver::{Driver, ReadyDelay};

use super::DeploymentController;
use crate::controllers::kube_controller_manager::KubeControllerManager;

use crate::api::deployment::Deployment;
use crate::api::replicaset::ReplicaSet;
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{ChangeType, Subresource, WriteRecord};
use crate::scenario::{self, Scenario};
use crate::sim::{SimDuration, SimTime, Simulation};
use crate::world::{self, Components, RunOptions, World};

/// The Deployment every scenario here starts from: `web` in `default`, pods `app: web` of image
/// `web:v1`; `spec` lines (indented by four) are added to its spec.
fn deployment(replicas: i32, spec: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
    replicas: {replicas}
    selector: {{matchLabels: {{app: web}}}}
{spec}
    template:
      metadata: {{labels: {{app: web}}}}
      spec:
        containers: [{{name: web, image: \"web:v1\"}}]
"
    )
}

/// The text of a scenario of `manifests` with the scheduler (pods need no node here) and
/// kube-controller-manager off, and `timeline` (entries indented by four).
fn scenario_text(timeline: &str, manifests: &str) -> String {
    format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: deployment-test}}
spec:
  duration: 60m
  scheduler: {{enabled: false}}
  controllerManager: {{enabled: false}}
  timeline:
{timeline}
---
{manifests}"
    )
}

/// Loads scenario `text` from a file in `dir`.
fn load_text(dir: &Path, text: &str) -> Scenario {
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).expect("write the scenario");
    scenario::load(&path, &Components).expect("the scenario loads")
}

/// The scenario of `scenario_text`.
fn scenario(dir: &Path, timeline: &str, manifests: &str) -> Scenario {
    load_text(dir, &scenario_text(timeline, manifests))
}

/// The world of `scenario` (kube-controller-manager off) with the Deployment controller and
/// the driver in the ReplicaSet controller's place, every write recorded.
fn world_with_driver(scenario: &Scenario, ready_after: ReadyDelay) -> Simulation<World> {
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    let mut sim = world::build(scenario, &options);
    let controller = DeploymentController::new(world::DEPLOYMENT_CLIENT, 5);
    let manager =
        KubeControllerManager::new(world::CONTROLLER_MANAGER_CLIENT, vec![Box::new(controller)]);
    world::add_component(&mut sim, Box::new(manager));
    world::add_component(&mut sim, Box::new(Driver::new(ready_after)));
    sim
}

fn at(secs: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(secs)
}

/// Every pod Ready `secs` after its creation.
fn ready_after(secs: u64) -> ReadyDelay {
    Box::new(move |_| SimDuration::from_secs(secs))
}

/// The sizes of the first ReplicaSet (the old one) and of the second (the new one) after each
/// write that changed either, as (new, old); a ReplicaSet not yet created counts 0.
fn size_sequence(writes: &[WriteRecord]) -> Vec<(i32, i32)> {
    let mut order: Vec<String> = Vec::new();
    let mut sizes: BTreeMap<String, i32> = BTreeMap::new();
    let mut sequence = Vec::new();
    for w in writes.iter().filter(|w| w.kind == Kind::ReplicaSet) {
        let name = w.key.name.clone();
        if !order.contains(&name) {
            order.push(name.clone());
        }
        let size = if w.change == ChangeType::Deleted {
            0
        } else {
            w.replicas.unwrap_or(0)
        };
        sizes.insert(name, size);
        let size_of = |i: usize| {
            order
                .get(i)
                .and_then(|n| sizes.get(n))
                .copied()
                .unwrap_or(0)
        };
        let pair = (size_of(1), size_of(0));
        if sequence.last() != Some(&pair) {
            sequence.push(pair);
        }
    }
    sequence
}

/// The stored Deployment `default/web`.
fn stored_deployment(sim: &Simulation<World>) -> Deployment {
    match sim
        .model()
        .api()
        .store()
        .get(Kind::Deployment, &ObjectKey::new("default", "web"))
        .map(|o| (**o).clone())
    {
        Some(Object::Deployment(d)) => *d,
        other => panic!("no Deployment default/web: {other:?}"),
    }
}

/// The stored ReplicaSets, oldest first.
fn stored_replica_sets(sim: &Simulation<World>) -> Vec<ReplicaSet> {
    let mut all: Vec<ReplicaSet> = sim
        .model()
        .api()
        .store()
        .iter(Kind::ReplicaSet)
        .filter_map(|o| match &**o {
            Object::ReplicaSet(rs) => Some((**rs).clone()),
            _ => None,
        })
        .collect();
    all.sort_by(super::util::by_creation);
    all
}

/// The Deployment controller's spec writes of ReplicaSets (creates and updates, not status).
fn controller_rs_writes(writes: &[WriteRecord]) -> Vec<&WriteRecord> {
    writes
        .iter()
        .filter(|w| {
            w.kind == Kind::ReplicaSet
                && w.user == super::DEPLOYMENT_CONTROLLER_USER
                && w.subresource != Some(Subresource::Status)
        })
        .collect()
}

#[test]
fn a_rolling_update_of_10_with_25_percent_surge_and_unavailability_steps_as_upstream() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let manifest = deployment(
        10,
        "    strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}",
    );
    let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}";
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &manifest), ready_after(10));
    sim.run_until(at(600));
    // Fenceposts for 10 replicas: surge ⌈25% × 10⌉ = 3, unavailable ⌊25% × 10⌋ = 2, so at
    // most 13 pods and at least 8 available. Every pod is Ready 10 s after it is created.
    //
    // At 0 s the Deployment's first ReplicaSet is created at 10 (0 pods, room for 13, capped
    // at 10): (new, old) is still "old only", so the first pair is (0, 10).
    // At 60 s the image changes. One sync: the new ReplicaSet is created at 3 (13 − 10 room,
    // at most 10); in the same sync the old one may lose 13 − 8 − 3 (the new pods are not
    // available) = 2 of its 10 available pods beyond the 8 to keep: (3, 10), then (3, 8).
    // The next sync (the old ReplicaSet's update) finds 11 of 13: the new one grows by 2:
    // (5, 8). Nothing more until new pods are available.
    // At 70 s the first 3 new pods are available: 13 − 8 − (5 − 3) = 3 may go, and 8 + 3 = 11
    // available is 3 above 8: (5, 5); then 10 of 13: the new one grows by 3 to 8: (8, 5).
    // A few milliseconds later the 2 pods of the second step are available: 13 − 8 − (8 − 5)
    // = 2 may go, 5 + 5 = 10 available is 2 above 8: (8, 3); then 11 of 13: +2, capped at
    // 10: (10, 3).
    // At 80 s the 3 pods of (8, 5) are available: 13 − 8 − (10 − 8) = 3, 3 + 8 = 11 is 3 above
    // 8: (10, 0). The last 2 pods are available a few milliseconds later: complete.
    assert_eq!(
        size_sequence(sim.model().api().writes()),
        [
            (0, 10),
            (3, 10),
            (3, 8),
            (5, 8),
            (5, 5),
            (8, 5),
            (8, 3),
            (10, 3),
            (10, 0)
        ]
    );
    let d = stored_deployment(&sim);
    assert_eq!(
        (
            d.status.replicas,
            d.status.updated_replicas,
            d.status.available_replicas
        ),
        (10, 10, 10)
    );
    let progressing = d.status.condition("Progressing").expect("Progressing");
    assert_eq!(progressing.reason, "NewReplicaSetAvailable");
    assert_eq!(
        d.metadata
            .annotations
            .get("deployment.kubernetes.io/revision"),
        Some(&"2".to_string())
    );
}

#[test]
fn a_rolling_update_with_surge_1_and_no_unavailability_replaces_one_pod_at_a_time() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let manifest = deployment(
        10,
        "    strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}",
    );
    let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}";
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &manifest), ready_after(10));
    sim.run_until(at(600));
    // Surge 1, unavailable 0: at most 11 pods, all 10 available at all times. The new
    // ReplicaSet is created at 1 (11 − 10 room): (1, 10). No old pod may go until the new one
    // is available (11 − 10 − 1 unavailable new pod = 0); then one may (11 − 10 − 0 = 1, and
    // 10 + 1 available is 1 above 10), and the next sync fills the freed room: every 10 s the
    // old ReplicaSet loses one pod and the new one gains one, (k, 11 − k) then (k, 10 − k) for
    // k = 1…10.
    let mut expected = vec![(0, 10)];
    for k in 1..=10 {
        expected.push((k, 11 - k));
        expected.push((k, 10 - k));
    }
    assert_eq!(size_sequence(sim.model().api().writes()), expected);
    // The last old pod goes 100 s after the change: ten rounds of 10 s.
    let last = controller_rs_writes(sim.model().api().writes())
        .last()
        .map(|w| w.at)
        .expect("writes");
    assert!(last >= at(160) && last < at(161), "last scale at {last}");
}

#[test]
fn in_the_shipped_rolling_update_only_the_new_replica_set_is_ever_scaled_up() {
    // scenarios/rolling-update.yaml as shipped, with the real ReplicaSet controller and
    // kubelets: three rollouts of `web` (10 replicas), started by the admin's writes of the
    // Deployment at 1m (image nginx:1.27, 25 %/25 %), 5m (nginx:1.27.1, surge 1 / unavailable
    // 0) and 9m (undo, back to nginx:1.27's ReplicaSet).
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rolling-update.yaml");
    let scenario = scenario::load(&path, &Components).expect("the scenario loads");
    let options = RunOptions {
        record_writes: true,
        ..RunOptions::default()
    };
    let mut sim = world::build(&scenario, &options);
    sim.run_until(SimTime::ZERO + scenario.duration);
    // Between two of the admin's writes the replicas never change, so no resize (no scaling
    // event, no proportional scaling): the Deployment controller only rolls. Upstream's
    // rolloutRolling scales the new ReplicaSet up (reconcileNewReplicaSet) and old ones only
    // down (reconcileOldReplicaSets, whose cleanupUnhealthyReplicas refuses a "scale-down"
    // that would raise a ReplicaSet whose status still counts more available pods than its
    // replicas). So in each stretch exactly one ReplicaSet grows, that rollout's new one: the
    // first (web-7746c47bfd, created at 10) before 1m, nginx:1.27's from 1m, nginx:1.27.1's
    // from 5m, nginx:1.27's again from 9m. Raising an old one (as web-7746c47bfd went 1 → 2
    // at 1m14.043s before the fix, then 2 → 0) is a second name in a stretch.
    let writes = sim.model().api().writes();
    let mut sizes: BTreeMap<&str, i32> = BTreeMap::new();
    let mut stretches: Vec<Vec<(SimTime, &str, i32, i32)>> = vec![Vec::new()];
    for w in writes {
        let admin_rollout = w.kind == Kind::Deployment
            && w.user != super::DEPLOYMENT_CONTROLLER_USER
            && w.subresource.is_none()
            && w.change == ChangeType::Modified;
        if admin_rollout {
            stretches.push(Vec::new());
            continue;
        }
        if w.kind != Kind::ReplicaSet {
            continue;
        }
        let size = match w.change {
            ChangeType::Deleted => 0,
            _ => w.replicas.unwrap_or(0),
        };
        let before = sizes.insert(&w.key.name, size).unwrap_or(0);
        let by_controller = w.user == super::DEPLOYMENT_CONTROLLER_USER && w.subresource.is_none();
        if by_controller && size > before {
            let stretch = stretches.last_mut().expect("a stretch");
            stretch.push((w.at, w.key.name.as_str(), before, size));
        }
    }
    assert_eq!(stretches.len(), 4, "the creation and three rollouts");
    for (i, raises) in stretches.iter().enumerate() {
        let names: std::collections::BTreeSet<&str> =
            raises.iter().map(|&(_, name, _, _)| name).collect();
        assert_eq!(
            names.len(),
            1,
            "stretch {i}: one ReplicaSet scaled up, not {raises:?}"
        );
    }
    // The rollback's new ReplicaSet is the first rollout's (nginx:1.27's).
    let new_of = |i: usize| stretches[i][0].1;
    assert_eq!(new_of(0), "web-7746c47bfd");
    assert_eq!(new_of(3), new_of(1));
    assert_ne!(new_of(2), new_of(1));
    let d = stored_deployment(&sim);
    assert!(super::util::deployment_complete(&d, &d.status));
}

#[test]
fn recreate_scales_the_old_replica_set_to_zero_before_the_new_one_exists() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let manifest = deployment(10, "    strategy: {type: Recreate}");
    let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}";
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &manifest), ready_after(10));
    sim.run_until(at(600));
    // Recreate: the old ReplicaSet goes to 0; the new one is created only once the old one
    // reports no pods and none is left, and at once at 10.
    assert_eq!(
        size_sequence(sim.model().api().writes()),
        [(0, 10), (0, 0), (10, 0)]
    );
    let d = stored_deployment(&sim);
    assert_eq!(d.status.available_replicas, 10);
    assert_eq!(d.status.updated_replicas, 10);
}

mod property {
    use proptest::prelude::*;

    use super::*;
    use crate::api::pod::Pod;
    use crate::controllers::deployment::util::{deployment_complete, max_surge, max_unavailable};

    /// `maxSurge` / `maxUnavailable` as a manifest writes them: a number or a percentage.
    fn fencepost() -> impl Strategy<Value = String> {
        prop_oneof![
            (0..4i32).prop_map(|n| n.to_string()),
            (0..=60i32).prop_map(|p| format!("\"{p}%\"")),
        ]
    }

    /// Pods of `default` that exist and are not terminating, and those of them available at
    /// `now` (Ready, and for more than `minReadySeconds`).
    fn pods_and_available(sim: &Simulation<World>, min_ready: SimDuration) -> (i32, i32) {
        let now = sim.now();
        let pods: Vec<&Pod> = sim
            .model()
            .api()
            .store()
            .iter(Kind::Pod)
            .filter_map(|o| o.as_pod().map(|p| &**p))
            .filter(|p| !p.metadata.is_terminating())
            .collect();
        let available = pods
            .iter()
            .filter_map(|p| p.status.ready_since())
            .filter(|&since| min_ready.is_zero() || since + min_ready < now)
            .count();
        (pods.len() as i32, available as i32)
    }

    /// The world of `scenario` with kube-controller-manager's controllers on and the driver
    /// playing the kubelets only.
    fn world_with_controllers(scenario: &Scenario, ready_after: ReadyDelay) -> Simulation<World> {
        let mut sim = world::build(scenario, &RunOptions::default());
        world::add_component(&mut sim, Box::new(Driver::kubelets_only(ready_after)));
        sim
    }

    /// Checks the bounds after every event from 60 s to 15 min, and that both rollouts
    /// complete.
    fn check_rollout(
        mut sim: Simulation<World>,
        replicas: i32,
        min_ready: u64,
    ) -> Result<(), TestCaseError> {
        sim.run_until(at(59));
        let d = stored_deployment(&sim);
        prop_assert!(
            deployment_complete(&d, &d.status),
            "first rollout: {:?}",
            d.status
        );
        let (most, least) = (replicas + max_surge(&d), replicas - max_unavailable(&d));
        let min_ready = SimDuration::from_secs(min_ready);
        while let Some(t) = sim.step() {
            if t > at(900) {
                break;
            }
            let (pods, available) = pods_and_available(&sim, min_ready);
            prop_assert!(pods <= most, "{pods} pods at {t}, at most {most}");
            prop_assert!(
                available >= least,
                "{available} available at {t}, at least {least}"
            );
        }
        let d = stored_deployment(&sim);
        prop_assert!(
            deployment_complete(&d, &d.status),
            "second rollout: {:?}",
            d.status
        );
        let sizes: Vec<i32> = stored_replica_sets(&sim)
            .iter()
            .map(|rs| rs.replicas())
            .collect();
        prop_assert_eq!(sizes, vec![0, replicas]);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

        /// The same, against kubesim's ReplicaSet controller, the driver making pods Ready.
        #[test]
        fn with_the_replicaset_controller_a_rolling_update_keeps_its_bounds_and_completes(
            replicas in 1..9i32,
            surge in fencepost(),
            unavailable in fencepost(),
            min_ready in 0..3u64,
            delays in prop::collection::vec(500..20_000u64, 1..12),
        ) {
            let dir = tempfile::tempdir().expect("temporary folder");
            let spec = format!(
                "    minReadySeconds: {min_ready}
    strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: {surge}, maxUnavailable: {unavailable}}}}}"
            );
            let manifest = deployment(replicas, &spec);
            let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}";
            let text = scenario_text(timeline, &manifest).replace("  controllerManager: {enabled: false}\n", "");
            let ready: ReadyDelay = Box::new(move |n| {
                SimDuration::from_millis(delays[n as usize % delays.len()])
            });
            let sim = world_with_controllers(&load_text(dir.path(), &text), ready);
            check_rollout(sim, replicas, min_ready)?;
        }

        /// A rolling update never has more than `replicas + maxSurge` pods, never fewer than
        /// `replicas − maxUnavailable` available once the first rollout completed, and
        /// completes.
        #[test]
        fn a_rolling_update_keeps_its_bounds_and_completes(
            replicas in 1..9i32,
            surge in fencepost(),
            unavailable in fencepost(),
            min_ready in 0..3u64,
            delays in prop::collection::vec(500..20_000u64, 1..12),
        ) {
            let dir = tempfile::tempdir().expect("temporary folder");
            let spec = format!(
                "    minReadySeconds: {min_ready}
    strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: {surge}, maxUnavailable: {unavailable}}}}}"
            );
            let manifest = deployment(replicas, &spec);
            let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}";
            let ready: ReadyDelay = Box::new(move |n| {
                SimDuration::from_millis(delays[n as usize % delays.len()])
            });
            let sim = world_with_driver(&scenario(dir.path(), timeline, &manifest), ready);
            check_rollout(sim, replicas, min_ready)?;
        }
    }
}
