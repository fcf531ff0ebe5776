//! The rollout actions (`kubectl rollout undo / pause / resume / restart`), resizing in the
//! middle of a rollout, history cleanup and the progress deadline, end to end.

use super::*;
use crate::api::deployment::{
    DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, RESTARTED_AT_ANNOTATION,
    REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
};

fn rolling(replicas: i32) -> String {
    deployment(
        replicas,
        "    strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}",
    )
}

fn image(d: &Deployment) -> String {
    d.spec.template.spec.containers[0].image.clone()
}

fn revision_of(rs: &ReplicaSet) -> &str {
    rs.metadata
        .annotations
        .get(REVISION_ANNOTATION)
        .map_or("", String::as_str)
}

/// The outcome of each timeline action: its errors.
fn action_errors(sim: &Simulation<World>) -> Vec<Vec<String>> {
    sim.model()
        .kubectl()
        .outcomes()
        .iter()
        .map(|o| o.errors.clone())
        .collect()
}

#[test]
fn undo_goes_back_to_the_previous_revision_which_becomes_the_newest() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}
    - {at: 300s, rollout: {undo: default/web}}";
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &rolling(4)), ready_after(5));
    sim.run_until(at(600));
    let d = stored_deployment(&sim);
    assert_eq!(image(&d), "web:v1");
    // The revision-1 ReplicaSet is the new one again, as revision 3, remembering it was 1; the
    // Deployment is at revision 3.
    let rss = stored_replica_sets(&sim);
    assert_eq!(rss.len(), 2);
    let (first, second) = (&rss[0], &rss[1]);
    assert_eq!(revision_of(first), "3");
    assert_eq!(
        first.metadata.annotations.get(REVISION_HISTORY_ANNOTATION),
        Some(&"1".to_string())
    );
    assert_eq!(revision_of(second), "2");
    assert_eq!((first.replicas(), second.replicas()), (4, 0));
    assert_eq!(
        d.metadata.annotations.get(REVISION_ANNOTATION),
        Some(&"3".to_string())
    );
    assert!(action_errors(&sim).iter().all(Vec::is_empty));
}

#[test]
fn undo_to_a_revision_and_kubectls_refusals() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}
    - {at: 120s, set: {deployment: default/web, image: \"web:v3\"}}
    - {at: 200s, rollout: {undo: default/web, toRevision: 1}}
    - {at: 300s, rollout: {undo: default/web, toRevision: 7}}
    - {at: 310s, rollout: {pause: default/web}}
    - {at: 320s, rollout: {pause: default/web}}
    - {at: 330s, rollout: {undo: default/web}}
    - {at: 340s, rollout: {restart: default/web}}";
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &rolling(2)), ready_after(5));
    sim.run_until(at(400));
    let d = stored_deployment(&sim);
    assert_eq!(image(&d), "web:v1");
    // v1 (rolled back to: 4), v2 (2), v3 (3).
    let rss = stored_replica_sets(&sim);
    assert_eq!(
        rss.iter().map(revision_of).collect::<Vec<_>>(),
        ["4", "2", "3"]
    );
    let errors = action_errors(&sim);
    // Index 0 is the initial apply; then the eight actions in order.
    assert_eq!(
        errors[4],
        ["unable to find specified revision 7 in history"]
    );
    assert!(errors[5].is_empty());
    assert_eq!(errors[6], ["deployments.apps \"web\" is already paused"]);
    assert_eq!(
        errors[7],
        [
            "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
        ]
    );
    assert_eq!(
        errors[8],
        ["deployments.apps \"web\" can't restart paused deployment (run rollout resume first)"]
    );
}

#[test]
fn a_paused_deployment_does_not_roll_out_until_resumed() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let timeline = "    - {at: 60s, rollout: {pause: default/web}}
    - {at: 61s, set: {deployment: default/web, image: \"web:v2\"}}
    - {at: 120s, rollout: {resume: default/web}}";
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &rolling(4)), ready_after(5));
    sim.run_until(at(119));
    // Paused: the template changed but no new ReplicaSet exists; Progressing is Unknown.
    assert_eq!(stored_replica_sets(&sim).len(), 1);
    let d = stored_deployment(&sim);
    let progressing = d.status.condition("Progressing").expect("Progressing");
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_str()),
        ("Unknown", "DeploymentPaused")
    );
    assert_eq!(progressing.last_update_time, at(60));
    sim.run_until(at(300));
    let rss = stored_replica_sets(&sim);
    assert_eq!(
        rss.iter().map(ReplicaSet::replicas).collect::<Vec<_>>(),
        [0, 4]
    );
    let d = stored_deployment(&sim);
    let progressing = d.status.condition("Progressing").expect("Progressing");
    assert_eq!(progressing.reason, "NewReplicaSetAvailable");
    // The first write after the resume said so, at the resume's sync.
    let resumed = sim
        .model()
        .api()
        .writes()
        .iter()
        .any(|w| w.kind == Kind::Deployment && w.at >= at(120) && w.at < at(121));
    assert!(resumed);
}

#[test]
fn restart_rolls_out_a_template_with_the_restart_time() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let timeline = "    - {at: 90s, rollout: {restart: default/web}}";
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &rolling(3)), ready_after(5));
    sim.run_until(at(300));
    let d = stored_deployment(&sim);
    let restarted = d
        .spec
        .template
        .metadata
        .annotations
        .get(RESTARTED_AT_ANNOTATION);
    assert_eq!(restarted, Some(&"1970-01-01T00:01:30Z".to_string()));
    let rss = stored_replica_sets(&sim);
    assert_eq!(
        rss.iter().map(ReplicaSet::replicas).collect::<Vec<_>>(),
        [0, 3]
    );
    assert_eq!(
        rss[1]
            .spec
            .template
            .metadata
            .annotations
            .get(RESTARTED_AT_ANNOTATION),
        restarted
    );
}

#[test]
fn a_resize_mid_rollout_is_spread_in_proportion() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}
    - {at: 120s, scale: {deployment: default/web, replicas: 20}}";
    // The first 10 pods (the old ReplicaSet's) are Ready after 1 s; the new ones never.
    let never = Box::new(|n| {
        if n < 10 {
            SimDuration::from_secs(1)
        } else {
            SimDuration::from_mins(600)
        }
    });
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &rolling(10)), never);
    sim.run_until(at(119));
    // The rollout is stuck at (5, 8), as in the rolling-update test: 13 pods, new ones never
    // available.
    assert_eq!(
        size_sequence(sim.model().api().writes()).last(),
        Some(&(5, 8))
    );
    sim.run_until(at(300));
    // Resized to 20: room for 20 + ⌈25% × 20⌉ = 25, 13 now, 12 to add. Largest first (the old,
    // 8): 8 × 25 / 13 = 15.38, rounds to 15: +7. Then the new (5): 5 × 25 / 13 = 9.62, rounds
    // to 10: +5 (what is left: 12 − 7 = 5). Nothing left over.
    let sequence = size_sequence(sim.model().api().writes());
    assert_eq!(sequence[sequence.len() - 2..], [(5, 15), (10, 15)]);
    for rs in stored_replica_sets(&sim) {
        let annotations = &rs.metadata.annotations;
        assert_eq!(
            annotations.get(DESIRED_REPLICAS_ANNOTATION),
            Some(&"20".to_string())
        );
        assert_eq!(
            annotations.get(MAX_REPLICAS_ANNOTATION),
            Some(&"25".to_string())
        );
    }
}

#[test]
fn old_replica_sets_beyond_the_history_limit_are_deleted() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let manifest = deployment(
        2,
        "    revisionHistoryLimit: 1
    strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}",
    );
    let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}
    - {at: 120s, set: {deployment: default/web, image: \"web:v3\"}}";
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &manifest), ready_after(5));
    sim.run_until(at(300));
    // Revisions 1, 2, 3; one old one is kept: revision 1 is deleted once the rollout of 3 is
    // complete.
    let rss = stored_replica_sets(&sim);
    assert_eq!(rss.iter().map(revision_of).collect::<Vec<_>>(), ["2", "3"]);
    let deleted: Vec<&WriteRecord> = sim
        .model()
        .api()
        .writes()
        .iter()
        .filter(|w| w.kind == Kind::ReplicaSet && w.change == ChangeType::Deleted)
        .collect();
    assert_eq!(deleted.len(), 1);
    assert!(deleted[0].at > at(120));
}

#[test]
fn a_rollout_without_progress_times_out_at_its_deadline() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let manifest = deployment(
        2,
        "    progressDeadlineSeconds: 30
    strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}",
    );
    let timeline = "    - {at: 60s, set: {deployment: default/web, image: \"web:v2\"}}";
    let stuck = Box::new(|n| {
        if n < 2 {
            SimDuration::from_secs(1)
        } else {
            SimDuration::from_mins(600)
        }
    });
    let mut sim = world_with_driver(&scenario(dir.path(), timeline, &manifest), stuck);
    sim.run_until(at(600));
    // The last progress was reported at 60 s (whole seconds); with no further event the
    // controller looks again 30 s + 1 s later, at 91 s, and finds 60 + 30 < 91: timed out.
    let d = stored_deployment(&sim);
    let progressing = d.status.condition("Progressing").expect("Progressing");
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_str()),
        ("False", "ProgressDeadlineExceeded")
    );
    assert_eq!(progressing.last_update_time, at(91));
    assert_eq!(
        progressing.message,
        format!(
            "ReplicaSet {:?} has timed out progressing.",
            stored_replica_sets(&sim)[1].metadata.name
        )
    );
}
