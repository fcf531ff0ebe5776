//! Convergence: how long the cluster takes to reach what was declared, measured from every
//! committed change (ground truth, as the apiserver's watch would show it).
//!
//! * A **Deployment** holds its declared state when its controller has seen its latest spec
//!   (`observedGeneration` ≥ `generation`) and `updatedReplicas` = `availableReplicas` =
//!   `replicas` = `spec.replicas`: every pod is of the current template and available, and the
//!   old ReplicaSets have no pods left (the rollout is complete). A paused Deployment holds
//!   what it declares by not rolling out, so it counts as converged.
//! * A **ReplicaSet** no Deployment controls holds when its controller has seen its spec and
//!   `replicas` = `availableReplicas` = `spec.replicas`.
//!
//! The cluster is converged when every workload is. Each change of that state is kept, so a
//! timeline action's convergence time is read off afterwards ([`Convergence::settle_times`]).
//! Alongside: unavailable-replica-seconds (Σ over Deployments of `spec.replicas −
//! availableReplicas`, integrated over time), the peak surge (most pods above `spec.replicas`
//! a Deployment had), and each pod's startup milestones (created, scheduled, running, ready).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::pod::{Pod, PodPhase};
use crate::api::{Kind, Object, ObjectKey, Uid};
use crate::apiserver::{Change, ChangeType};
use crate::sim::{SimDuration, SimTime};

/// A workload's counts as its last status write gave them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkloadCounts {
    /// `spec.replicas`.
    pub desired: i64,
    /// `status.replicas`: pods of all its ReplicaSets.
    pub replicas: i64,
    /// `status.updatedReplicas` (a ReplicaSet: its replicas).
    pub updated: i64,
    /// `status.availableReplicas`.
    pub available: i64,
}

/// When a pod reached each startup milestone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodStartup {
    /// Created.
    pub created: SimTime,
    /// Bound to a node.
    pub scheduled: Option<SimTime>,
    /// Phase Running (every container started).
    pub running: Option<SimTime>,
    /// Ready.
    pub ready: Option<SimTime>,
}

/// A Deployment's unavailable replicas integrated over time.
#[derive(Clone, Copy, Debug, Default)]
struct LostReplicas {
    /// Unavailable replicas now.
    unavailable: i64,
    /// Since when.
    since: SimTime,
    /// Unavailable replicas × nanoseconds before `since`.
    nanos: u128,
}

impl LostReplicas {
    fn nanos_until(&self, now: SimTime) -> u128 {
        let elapsed = now.saturating_since(self.since).as_nanos();
        self.nanos + u128::from(elapsed) * self.unavailable.max(0) as u128
    }
}

/// The time of the first of `actions` (times in order) later than the `i`-th: actions at the
/// same instant act together, and each is measured up to the next later one.
pub fn next_later(actions: &[SimTime], i: usize) -> Option<SimTime> {
    let at = *actions.get(i)?;
    actions[i..].iter().copied().find(|&t| t > at)
}

/// The convergence tracker.
#[derive(Clone, Debug, Default)]
pub struct Convergence {
    /// Deployments and uncontrolled ReplicaSets, with their counts.
    workloads: BTreeMap<(Kind, ObjectKey), WorkloadCounts>,
    /// The workloads not holding their declared state.
    unconverged: BTreeSet<(Kind, ObjectKey)>,
    /// Each change of the cluster's converged state: (when, converged after it).
    transitions: Vec<(SimTime, bool)>,
    /// Σ over Deployments of unavailable replicas now.
    unavailable: i64,
    /// When `unavailable` last changed.
    unavailable_since: SimTime,
    /// Unavailable replicas × nanoseconds so far.
    unavailable_nanos: u128,
    /// The same, per Deployment (kept after the Deployment is deleted).
    lost: BTreeMap<ObjectKey, LostReplicas>,
    peak_surge: i64,
    /// Pods not Ready yet, by uid.
    starting: BTreeMap<Uid, PodStartup>,
    /// Pods that reached Ready, in the order they did.
    started: Vec<PodStartup>,
}

impl Convergence {
    /// Takes in one committed change at `now`.
    pub fn observe(&mut self, now: SimTime, change: &Change) {
        match &*change.object {
            Object::Deployment(d) => {
                let key = (Kind::Deployment, change.object.key());
                let counts = WorkloadCounts {
                    desired: i64::from(d.spec.desired_replicas()),
                    replicas: i64::from(d.status.replicas),
                    updated: i64::from(d.status.updated_replicas),
                    available: i64::from(d.status.available_replicas),
                };
                let holds = d.spec.paused
                    || (d.status.observed_generation >= d.metadata.generation
                        && counts.updated == counts.desired
                        && counts.available == counts.desired
                        && counts.replicas == counts.desired);
                self.workload(now, key, change.change, counts, holds);
            }
            Object::ReplicaSet(rs) if rs.metadata.controller_ref().is_none() => {
                let key = (Kind::ReplicaSet, change.object.key());
                let desired = i64::from(rs.spec.replicas.unwrap_or(1));
                let counts = WorkloadCounts {
                    desired,
                    replicas: i64::from(rs.status.replicas),
                    updated: i64::from(rs.status.replicas),
                    available: i64::from(rs.status.available_replicas),
                };
                let holds = rs.status.observed_generation >= rs.metadata.generation
                    && counts.replicas == desired
                    && counts.available == desired;
                self.workload(now, key, change.change, counts, holds);
            }
            Object::Pod(pod) => self.pod(now, change.change, pod),
            _ => {}
        }
    }

    fn workload(
        &mut self,
        now: SimTime,
        key: (Kind, ObjectKey),
        change: ChangeType,
        counts: WorkloadCounts,
        holds: bool,
    ) {
        let was_converged = self.unconverged.is_empty();
        let before = self.workloads.get(&key).copied();
        let is_deployment = key.0 == Kind::Deployment;
        let name = key.1.clone();
        if change == ChangeType::Deleted {
            self.workloads.remove(&key);
            self.unconverged.remove(&key);
        } else {
            self.workloads.insert(key.clone(), counts);
            if holds {
                self.unconverged.remove(&key);
            } else {
                self.unconverged.insert(key);
            }
            if is_deployment {
                self.peak_surge = self.peak_surge.max(counts.replicas - counts.desired);
            }
        }
        if is_deployment {
            let unavailable =
                |c: Option<WorkloadCounts>| c.map_or(0, |c| (c.desired - c.available).max(0));
            let after = (change != ChangeType::Deleted).then_some(counts);
            let lost = self.lost.entry(name).or_default();
            *lost = LostReplicas {
                unavailable: unavailable(after),
                since: now,
                nanos: lost.nanos_until(now),
            };
            let delta = unavailable(after) - unavailable(before);
            if delta != 0 {
                self.integrate(now);
                self.unavailable += delta;
            }
        }
        let converged = self.unconverged.is_empty();
        if converged != was_converged {
            self.transitions.push((now, converged));
        }
    }

    fn integrate(&mut self, now: SimTime) {
        let elapsed = now.saturating_since(self.unavailable_since).as_nanos();
        self.unavailable_nanos += u128::from(elapsed) * self.unavailable.max(0) as u128;
        self.unavailable_since = now;
    }

    fn pod(&mut self, now: SimTime, change: ChangeType, pod: &Pod) {
        let uid = pod.metadata.uid;
        if change == ChangeType::Deleted {
            self.starting.remove(&uid);
            return;
        }
        let Some(startup) = self.starting.get_mut(&uid) else {
            if change == ChangeType::Added {
                let mut startup = PodStartup {
                    created: now,
                    ..PodStartup::default()
                };
                mark(&mut startup, pod, now);
                self.finish_if_ready(uid, startup);
            }
            return;
        };
        mark(startup, pod, now);
        let startup = *startup;
        self.starting.remove(&uid);
        self.finish_if_ready(uid, startup);
    }

    fn finish_if_ready(&mut self, uid: Uid, startup: PodStartup) {
        if startup.ready.is_some() {
            self.started.push(startup);
        } else {
            self.starting.insert(uid, startup);
        }
    }

    /// Whether every workload holds its declared state now.
    pub fn is_converged(&self) -> bool {
        self.unconverged.is_empty()
    }

    /// Workloads not holding their declared state now.
    pub fn unconverged(&self) -> usize {
        self.unconverged.len()
    }

    /// Deployments' counts summed: desired, replicas, updated, available.
    pub fn deployment_totals(&self) -> WorkloadCounts {
        let mut total = WorkloadCounts::default();
        for ((kind, _), c) in &self.workloads {
            if *kind == Kind::Deployment {
                total.desired += c.desired;
                total.replicas += c.replicas;
                total.updated += c.updated;
                total.available += c.available;
            }
        }
        total
    }

    /// Unavailable replica-seconds of Deployments up to `now`.
    pub fn unavailable_replica_seconds(&self, now: SimTime) -> f64 {
        let pending = u128::from(now.saturating_since(self.unavailable_since).as_nanos())
            * self.unavailable.max(0) as u128;
        (self.unavailable_nanos + pending) as f64 / 1e9
    }

    /// Unavailable replica-seconds of each Deployment that had some up to `now`, by key
    /// (Deployments deleted since included).
    pub fn replica_seconds_lost(&self, now: SimTime) -> Vec<(&ObjectKey, f64)> {
        self.lost
            .iter()
            .map(|(key, lost)| (key, lost.nanos_until(now) as f64 / 1e9))
            .filter(|&(_, seconds)| seconds > 0.0)
            .collect()
    }

    /// The most pods above `spec.replicas` any Deployment had.
    pub fn peak_surge(&self) -> i64 {
        self.peak_surge
    }

    /// Pods that reached Ready, with their milestones.
    pub fn started_pods(&self) -> &[PodStartup] {
        &self.started
    }

    /// For each of `actions` (their times, in order), how long after it the cluster held its
    /// declared state again: zero if nothing became unconverged before the next later action,
    /// None if it never converged again.
    pub fn settle_times(&self, actions: &[SimTime]) -> Vec<Option<SimDuration>> {
        actions
            .iter()
            .enumerate()
            .map(|(i, &at)| {
                let next = next_later(actions, i).unwrap_or(SimTime::MAX);
                let unconverged_at_start = !self.converged_at(at);
                let broke = self
                    .transitions
                    .iter()
                    .find(|&&(t, converged)| t >= at && t < next && !converged)
                    .map(|&(t, _)| t);
                let from = match (unconverged_at_start, broke) {
                    (true, _) => at,
                    (false, Some(t)) => t,
                    (false, None) => return Some(SimDuration::ZERO),
                };
                self.transitions
                    .iter()
                    .find(|&&(t, converged)| t >= from && converged)
                    .map(|&(t, _)| t.saturating_since(at))
            })
            .collect()
    }

    /// Whether the cluster was converged just before `at` (after every transition before it).
    fn converged_at(&self, at: SimTime) -> bool {
        self.transitions
            .iter()
            .rev()
            .find(|&&(t, _)| t < at)
            .is_none_or(|&(_, converged)| converged)
    }
}

/// Records the milestones `pod` shows at `now` that `startup` has not seen yet.
fn mark(startup: &mut PodStartup, pod: &Pod, now: SimTime) {
    if startup.scheduled.is_none() && pod.is_bound() {
        startup.scheduled = Some(now);
    }
    if startup.running.is_none() && pod.status.phase == PodPhase::Running {
        startup.running = Some(now);
    }
    if startup.ready.is_none() && pod.status.ready_since().is_some() {
        startup.ready = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::ResourceVersion;
    use crate::api::deployment::Deployment;

    fn s(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    fn deployment(generation: i64, desired: i32, status: (i64, i32, i32, i32)) -> Change {
        let mut d = Deployment::default();
        d.metadata.name = "web".into();
        d.metadata.namespace = "default".into();
        d.metadata.generation = generation;
        d.spec.replicas = Some(desired);
        d.status.observed_generation = status.0;
        d.status.replicas = status.1;
        d.status.updated_replicas = status.2;
        d.status.available_replicas = status.3;
        Change {
            resource_version: ResourceVersion(1),
            change: ChangeType::Modified,
            object: Arc::new(Object::Deployment(Box::new(d))),
            previous: None,
        }
    }

    #[test]
    fn a_rollout_converges_when_updated_available_and_replicas_match() {
        let mut c = Convergence::default();
        // 0 s: created, converged at once (3 of 3 available, generation observed).
        c.observe(s(0), &deployment(1, 3, (1, 3, 3, 3)));
        assert!(c.is_converged());
        // 60 s: new image (generation 2), not yet observed: unconverged.
        c.observe(s(60), &deployment(2, 3, (1, 3, 3, 3)));
        // 61 s: surge to 4 pods, 1 updated, 2 available: 1 unavailable from 61 s.
        c.observe(s(61), &deployment(2, 3, (2, 4, 1, 2)));
        // 90 s: everything updated and available again.
        c.observe(s(90), &deployment(2, 3, (2, 3, 3, 3)));
        assert!(c.is_converged());
        // The 60 s action settled 30 s later; an action at 200 s that changed nothing, at once.
        assert_eq!(
            c.settle_times(&[s(0), s(60), s(200)]),
            vec![
                Some(SimDuration::ZERO),
                Some(SimDuration::from_secs(30)),
                Some(SimDuration::ZERO)
            ]
        );
        // One replica unavailable from 61 s to 90 s: 29 replica-seconds, all of it this
        // Deployment's.
        assert!((c.unavailable_replica_seconds(s(100)) - 29.0).abs() < 1e-9);
        let lost = c.replica_seconds_lost(s(100));
        assert_eq!(lost.len(), 1);
        assert!((lost[0].1 - 29.0).abs() < 1e-9);
        assert_eq!(c.peak_surge(), 1);
    }

    #[test]
    fn an_action_that_never_converges_has_no_settle_time() {
        let mut c = Convergence::default();
        c.observe(s(10), &deployment(1, 3, (1, 1, 1, 0)));
        assert_eq!(
            c.settle_times(&[s(0), s(5)]),
            vec![Some(SimDuration::ZERO), None]
        );
        // 3 unavailable from 10 s: 30 replica-seconds by 20 s, still growing for the
        // Deployment on its own (3 more each second).
        assert!((c.unavailable_replica_seconds(s(20)) - 30.0).abs() < 1e-9);
        assert!((c.replica_seconds_lost(s(21))[0].1 - 33.0).abs() < 1e-9);
    }
}
