//! Load and autoscaling, as a run's report shows them: what each Service was offered, served
//! and dropped and how slow it was; what each HPA asked for and what its target had; how long
//! the replicas took to settle after each change of load; and what the cluster cost in pod-
//! and node-hours.
//!
//! * [`service_samples`] and [`hpa_samples`]: the per-sample values (the load model's rates
//!   and latency percentiles; each HPA's status and its target's replicas from the store).
//! * [`Autoscaling`]: from every commit, each Deployment's and ReplicaSet's replica changes
//!   (asked and ready) with their exact times, and the pod- and node-seconds (a pod counts
//!   from its binding until it ends or goes; a node while it exists, priced by its
//!   `node.kubernetes.io/instance-type` label when the scenario gives prices).
//! * [`reactions`]: for each HPA and each change of its Service's load, when the target was
//!   first scaled and when its ready replicas last changed before the next change of load:
//!   the reaction time and the time to settle.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::hpa::HorizontalPodAutoscaler;
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{Change, ChangeType, Store};
use crate::sim::SimTime;
use crate::workload::load::LoadModel;

/// The node label a price is looked up by.
pub const LABEL_INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";

/// One Service's traffic at a sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceSample {
    /// `namespace/name`, shared by every sample (a day of samples holds it thousands of times).
    pub name: Arc<str>,
    /// Requests per second offered.
    pub offered: f64,
    /// Served.
    pub served: f64,
    /// Dropped.
    pub dropped: f64,
    /// Ready endpoints serving.
    pub endpoints: u64,
    /// Pods held at their CPU limit.
    pub throttled: u64,
    /// Latency p50, p95 and p99 in milliseconds (with a `server`).
    pub latency_ms: Option<[f64; 3]>,
}

/// One HPA at a sample.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HpaSample {
    /// `namespace/name`, shared by every sample.
    pub name: Arc<str>,
    /// `status.desiredReplicas`.
    pub desired: i32,
    /// `status.currentReplicas`.
    pub current: i32,
    /// The target's ready replicas.
    pub ready: i32,
    /// The first metric's utilization in percent (`status.currentMetrics`), if it has one.
    pub utilization: Option<i32>,
    /// Its target utilization.
    pub target_utilization: Option<i32>,
    /// The first metric with an `AverageValue` or `Value` target: its value now
    /// (`status.currentMetrics`, per pod for an average), in milli-units, if it has one.
    pub metric_value_milli: Option<i64>,
    /// That metric's target, in milli-units.
    pub metric_target_milli: Option<i64>,
}

/// Each traffic's rates at `now`, in scenario order.
pub fn service_samples(load: &LoadModel) -> Vec<ServiceSample> {
    load.services()
        .enumerate()
        .map(|(i, (_, now))| ServiceSample {
            name: load.service_name(i).cloned().unwrap_or_default(),
            offered: now.offered,
            served: now.served,
            dropped: now.dropped,
            endpoints: now.endpoints as u64,
            throttled: now.throttled as u64,
            latency_ms: load.latency_percentiles(i).map(|q| q.map(|s| s * 1000.0)),
        })
        .collect()
}

/// Every HPA in the store, in key order.
pub fn hpas(store: &Store) -> impl Iterator<Item = &HorizontalPodAutoscaler> {
    store
        .iter(Kind::HorizontalPodAutoscaler)
        .filter_map(|o| match &**o {
            Object::HorizontalPodAutoscaler(h) => Some(&**h),
            _ => None,
        })
}

/// An HPA's scale target as the store holds it, when it is a Deployment or ReplicaSet that
/// exists.
pub fn scale_target<'s>(store: &'s Store, hpa: &HorizontalPodAutoscaler) -> Option<&'s Object> {
    let target = &hpa.spec.scale_target_ref;
    let kind = match target.kind.as_str() {
        "Deployment" => Kind::Deployment,
        "ReplicaSet" => Kind::ReplicaSet,
        _ => return None,
    };
    let key = ObjectKey::new(hpa.metadata.namespace.clone(), target.name.clone());
    store.get(kind, &key).map(|o| &**o)
}

/// Every HPA's status and its target's ready replicas, in key order; `names` keeps each HPA's
/// name for the samples to share.
pub fn hpa_samples(store: &Store, names: &mut BTreeMap<ObjectKey, Arc<str>>) -> Vec<HpaSample> {
    hpas(store)
        .map(|h| {
            let key = ObjectKey::new(h.metadata.namespace.clone(), h.metadata.name.clone());
            let ready = match scale_target(store, h) {
                Some(Object::Deployment(d)) => Some(d.status.ready_replicas),
                Some(Object::ReplicaSet(r)) => Some(r.status.ready_replicas),
                _ => None,
            };
            let (utilization, target_utilization) = cpu_utilization(h);
            let (metric_value_milli, metric_target_milli) = value_metric(h);
            let name = names
                .entry(key)
                .or_insert_with_key(|key| Arc::from(key.to_string()))
                .clone();
            HpaSample {
                name,
                desired: h.status.desired_replicas,
                current: h.status.current_replicas,
                ready: ready.unwrap_or(0),
                utilization,
                target_utilization,
                metric_value_milli,
                metric_target_milli,
            }
        })
        .collect()
}

/// An HPA's CPU utilization now and its target, in percent: of its first CPU metric with a
/// Utilization target (Resource or ContainerResource), or of the 80 % an HPA without metrics
/// gets; (None, None) when it has no such metric.
fn cpu_utilization(hpa: &HorizontalPodAutoscaler) -> (Option<i32>, Option<i32>) {
    if hpa.spec.metrics.is_empty() {
        let current = hpa.status.current_metrics.first();
        return (current.and_then(|m| m.average_utilization), Some(80));
    }
    let cpu = hpa.spec.metrics.iter().find_map(|m| {
        let (type_, target) = match (&m.resource, &m.container_resource) {
            (Some(r), _) if r.name == "cpu" => ("Resource", &r.target),
            (None, Some(c)) if c.name == "cpu" => ("ContainerResource", &c.target),
            _ => return None,
        };
        target.average_utilization.map(|t| (type_, t))
    });
    let Some((type_, target)) = cpu else {
        return (None, None);
    };
    let current = hpa
        .status
        .current_metrics
        .iter()
        .find(|m| m.type_ == type_ && m.name == "cpu")
        .and_then(|m| m.average_utilization);
    (current, Some(target))
}

/// An HPA's first metric with an `AverageValue` or `Value` target (a Pods, Object or External
/// metric, or a resource by value): its value now and its target, in milli-units; (None,
/// None) when it has none.
fn value_metric(hpa: &HorizontalPodAutoscaler) -> (Option<i64>, Option<i64>) {
    let first = hpa.spec.metrics.iter().find_map(|m| {
        let (name, target) = match m.type_.as_str() {
            "Resource" => m.resource.as_ref().map(|r| (&r.name, &r.target)),
            "ContainerResource" => m.container_resource.as_ref().map(|c| (&c.name, &c.target)),
            "Pods" => m.pods.as_ref().map(|p| (&p.metric.name, &p.target)),
            "Object" => m.object.as_ref().map(|o| (&o.metric.name, &o.target)),
            "External" => m.external.as_ref().map(|e| (&e.metric.name, &e.target)),
            _ => None,
        }?;
        if target.average_utilization.is_some() {
            return None;
        }
        let average = target.average_value.as_ref().map(|q| q.milli_value());
        let total = target.value.as_ref().map(|q| q.milli_value());
        Some((&m.type_, name, average.is_some(), average.or(total)?))
    });
    let Some((type_, name, average, target)) = first else {
        return (None, None);
    };
    let current = hpa
        .status
        .current_metrics
        .iter()
        .find(|m| m.type_ == *type_ && m.name == *name)
        .and_then(|m| {
            if average {
                m.average_value_milli
            } else {
                m.value_milli
            }
        });
    (current, Some(target))
}

/// A workload's replicas at one time: asked (`spec.replicas`) and ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaChange {
    /// When it was committed.
    pub at: SimTime,
    /// `spec.replicas`.
    pub asked: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
}

/// What the commits say of scaling and cost.
#[derive(Clone, Debug, Default)]
pub struct Autoscaling {
    /// Each Deployment's and ReplicaSet's replica changes, by kind and key.
    workloads: BTreeMap<(Kind, ObjectKey), Vec<ReplicaChange>>,
    /// Pods holding a node: bound, not finished.
    pods: BTreeSet<ObjectKey>,
    /// Nodes' instance types ("" without the label), by node name.
    nodes: BTreeMap<String, String>,
    /// How many nodes of each instance type there are.
    nodes_by_type: BTreeMap<String, usize>,
    pod_seconds: f64,
    node_seconds: BTreeMap<String, f64>,
    since: SimTime,
}

/// The pod- and node-hours of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cost {
    /// Pods bound and not finished, summed over time, in hours.
    pub pod_hours: f64,
    /// Nodes summed over time, in hours, by instance type ("" without the label).
    pub node_hours: BTreeMap<String, f64>,
}

impl Autoscaling {
    /// Takes in one commit at `now`.
    pub fn observe(&mut self, now: SimTime, change: &Change) {
        self.advance(now);
        let deleted = change.change == ChangeType::Deleted;
        match &*change.object {
            Object::Pod(p) => {
                let key = change.object.key();
                let holds = !deleted && p.is_bound() && !p.is_terminal();
                if holds {
                    self.pods.insert(key);
                } else {
                    self.pods.remove(&key);
                }
            }
            Object::Node(n) => {
                let kind = match n.metadata.labels.get(LABEL_INSTANCE_TYPE) {
                    _ if deleted => None,
                    Some(kind) => Some(kind.as_str()),
                    None => Some(""),
                };
                self.set_node_type(&n.metadata.name, kind);
            }
            Object::Deployment(d) => {
                let replicas = (d.spec.replicas.unwrap_or(1), d.status.ready_replicas);
                self.record(Kind::Deployment, change.object.key(), now, replicas);
            }
            Object::ReplicaSet(r) => {
                let replicas = (r.spec.replicas.unwrap_or(1), r.status.ready_replicas);
                self.record(Kind::ReplicaSet, change.object.key(), now, replicas);
            }
            _ => {}
        }
    }

    /// Node `name` is now of instance type `kind` (None: gone). A heartbeat that changes
    /// nothing costs one lookup: nodes write their status every few seconds.
    fn set_node_type(&mut self, name: &str, kind: Option<&str>) {
        let before = self.nodes.get(name).map(String::as_str);
        if before == kind {
            return;
        }
        if let Some(before) = before
            && let Some(count) = self.nodes_by_type.get_mut(before)
        {
            *count -= 1;
        }
        match kind {
            Some(kind) => {
                *self.nodes_by_type.entry(kind.to_owned()).or_default() += 1;
                self.nodes.insert(name.to_owned(), kind.to_owned());
            }
            None => {
                self.nodes.remove(name);
            }
        }
    }

    /// A workload's (asked, ready) replicas at `at`, kept when they changed.
    fn record(&mut self, kind: Kind, key: ObjectKey, at: SimTime, (asked, ready): (i32, i32)) {
        let log = self.workloads.entry((kind, key)).or_default();
        if log
            .last()
            .is_none_or(|l| l.asked != asked || l.ready != ready)
        {
            log.push(ReplicaChange { at, asked, ready });
        }
    }

    /// Counts the pods and nodes held since the last change up to `now`.
    fn advance(&mut self, now: SimTime) {
        let seconds = now.saturating_since(self.since).as_secs_f64();
        if seconds > 0.0 {
            accrue(
                (self.pods.len(), &self.nodes_by_type),
                seconds,
                (&mut self.pod_seconds, &mut self.node_seconds),
            );
        }
        self.since = self.since.max(now);
    }

    /// The replica changes of the Deployment or ReplicaSet `key`.
    pub fn replica_changes(&self, kind: Kind, key: &ObjectKey) -> &[ReplicaChange] {
        self.workloads
            .get(&(kind, key.clone()))
            .map_or(&[], Vec::as_slice)
    }

    /// The pod- and node-hours up to `now`.
    pub fn cost(&self, now: SimTime) -> Cost {
        let seconds = now.saturating_since(self.since).as_secs_f64();
        let (mut pod_seconds, mut node_seconds) = (self.pod_seconds, self.node_seconds.clone());
        accrue(
            (self.pods.len(), &self.nodes_by_type),
            seconds,
            (&mut pod_seconds, &mut node_seconds),
        );
        Cost {
            pod_hours: pod_seconds / 3600.0,
            node_hours: node_seconds
                .into_iter()
                .map(|(k, s)| (k, s / 3600.0))
                .collect(),
        }
    }
}

/// Adds `seconds` of `held` (pods, and nodes by instance type) to the pod- and node-seconds
/// `totals`.
fn accrue(
    (pods, nodes_by_type): (usize, &BTreeMap<String, usize>),
    seconds: f64,
    (pod_seconds, node_seconds): (&mut f64, &mut BTreeMap<String, f64>),
) {
    *pod_seconds += pods as f64 * seconds;
    for (kind, count) in nodes_by_type.iter().filter(|(_, n)| **n > 0) {
        *node_seconds.entry(kind.clone()).or_default() += *count as f64 * seconds;
    }
}

/// How an HPA's target met one change of load.
#[derive(Clone, Debug, PartialEq)]
pub struct Reaction {
    /// When the load changed.
    pub load_change_at: SimTime,
    /// The rate before and after (requests per second).
    pub rps: (f64, f64),
    /// The target's asked and ready replicas when the load changed.
    pub replicas_before: (i32, i32),
    /// When the target was first asked for another count after it, if it was before the next
    /// change of load.
    pub first_scale_at: Option<SimTime>,
    /// When its ready replicas last changed before the next change of load (or the end), if
    /// they did: from then on it held them.
    pub settled_at: Option<SimTime>,
    /// The ready replicas it settled at.
    pub replicas_after: i32,
}

/// For each change of load in `changes` (time, rate before, rate after), how the workload
/// whose replica log is `log` met it, up to `end`.
pub fn reactions(
    changes: &[(SimTime, f64, f64)],
    log: &[ReplicaChange],
    end: SimTime,
) -> Vec<Reaction> {
    let at_or_before = |t: SimTime| {
        log.iter()
            .rev()
            .find(|c| c.at <= t)
            .map_or((0, 0), |c| (c.asked, c.ready))
    };
    changes
        .iter()
        .enumerate()
        .map(|(i, &(at, before, after))| {
            let until = changes.get(i + 1).map_or(end, |c| c.0);
            let during: Vec<&ReplicaChange> =
                log.iter().filter(|c| c.at > at && c.at < until).collect();
            let replicas_before = at_or_before(at);
            let first_scale_at = during
                .iter()
                .find(|c| c.asked != replicas_before.0)
                .map(|c| c.at);
            let mut ready = replicas_before.1;
            let mut settled_at = None;
            for c in &during {
                if c.ready != ready {
                    ready = c.ready;
                    settled_at = Some(c.at);
                }
            }
            Reaction {
                load_change_at: at,
                rps: (before, after),
                replicas_before,
                first_scale_at,
                settled_at,
                replicas_after: ready,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SimTime {
        SimTime::from_nanos(s * 1_000_000_000)
    }

    fn change(s: u64, asked: i32, ready: i32) -> ReplicaChange {
        ReplicaChange {
            at: at(s),
            asked,
            ready,
        }
    }

    #[test]
    fn a_reaction_runs_from_the_change_of_load_to_the_last_ready_change_before_the_next() {
        // Load up at 120 s, down at 600 s. Asked 2 → 4 at 136 s, 4 → 5 at 166 s; ready 3, 4
        // at 145 s, 146 s, 5 at 175 s: first scale 16 s after, settled 55 s after. After the
        // change down nothing moves within the run: no scale, no settling, still 5.
        let log = [
            change(1, 2, 0),
            change(10, 2, 2),
            change(136, 4, 2),
            change(145, 4, 3),
            change(146, 4, 4),
            change(166, 5, 4),
            change(175, 5, 5),
        ];
        let changes = [(at(120), 100.0, 1000.0), (at(600), 1000.0, 100.0)];
        let r = reactions(&changes, &log, at(700));
        assert_eq!(r[0].replicas_before, (2, 2));
        assert_eq!(r[0].first_scale_at, Some(at(136)));
        assert_eq!(r[0].settled_at, Some(at(175)));
        assert_eq!(r[0].replicas_after, 5);
        assert_eq!(r[1].replicas_before, (5, 5));
        assert_eq!((r[1].first_scale_at, r[1].settled_at), (None, None));
        assert_eq!(r[1].replicas_after, 5);
    }
}
