//! The scheduling queue (`pkg/scheduler/backend/queue`): activeQ ordered by PrioritySort,
//! backoffQ for pods waiting out their backoff, and the unschedulable pool for pods that wait
//! for a cluster event.
//!
//! * PrioritySort: higher priority first, then earlier queue timestamp, then insertion order
//!   (kubesim's deterministic stand-in for heap order among exact ties).
//! * Backoff after `n` attempts: `min(initial × 2^(n−1), max)` — 1, 2, 4, 8, 10, 10… s; expiry
//!   truncated to a whole second (the 1-second ordering windows of SchedulerPopFromBackoffQ).
//! * A failed pod goes to backoffQ if a cluster event it cares about arrived during its cycle
//!   (or it failed with an error), else to the unschedulable pool. An event moves the pool's
//!   pods whose rejecting plugins registered for it: to activeQ if their backoff is over, else
//!   to backoffQ. Every 30 s, pods in the pool for more than 5 minutes are moved anyway.
//! * When activeQ is empty, Pop takes the head of backoffQ (SchedulerPopFromBackoffQ, on by
//!   default since 1.33).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{ObjectKey, Uid};
use crate::sim::{SimDuration, SimTime};

use super::config::QueueSettings;

/// How long a pod may stay in the unschedulable pool before it is retried anyway.
pub const MAX_IN_UNSCHEDULABLE_POOL: SimDuration = SimDuration::from_mins(5);
/// How often the pool is checked for pods past that limit.
pub const UNSCHEDULABLE_FLUSH_PERIOD: SimDuration = SimDuration::from_secs(30);
/// How often completed backoffs move to activeQ.
pub const BACKOFF_FLUSH_PERIOD: SimDuration = SimDuration::from_secs(1);

/// A cluster event that can make pods schedulable (upstream `ClusterEvent`, coarsened).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterEvent {
    /// A node was added.
    NodeAdd,
    /// A node changed (labels, taints, allocatable, schedulability).
    NodeUpdate,
    /// A pod was bound or assumed on a node.
    AssignedPodAdd,
    /// A pod on a node changed (labels).
    AssignedPodUpdate,
    /// A pod left a node (deleted, finished, or an assumption forgotten).
    AssignedPodDelete,
}

/// Which plugins may change their verdict after `event` (the events each plugin registers).
pub fn plugin_cares(plugin: &str, event: ClusterEvent) -> bool {
    use ClusterEvent::*;
    match plugin {
        "NodeResourcesFit" | "NodePorts" => {
            matches!(event, NodeAdd | NodeUpdate | AssignedPodDelete)
        }
        "NodeUnschedulable" | "NodeName" | "TaintToleration" | "NodeAffinity" => {
            matches!(event, NodeAdd | NodeUpdate)
        }
        "PodTopologySpread" | "InterPodAffinity" => true,
        // Unknown or error-only rejections: any event may help.
        _ => true,
    }
}

/// A queued pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedPod {
    /// The pod's key.
    pub key: ObjectKey,
    /// The pod's uid (a recreated pod with the same name is another pod).
    pub uid: Uid,
    /// Priority (PrioritySort).
    pub priority: i32,
    /// When it was (re)added to the queue.
    pub timestamp: SimTime,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// Plugins that rejected it last time.
    pub unschedulable_plugins: BTreeSet<String>,
    /// When it was first queued (for end-to-end latency).
    pub initial_attempt: SimTime,
}

/// activeQ order: priority desc, timestamp asc, insertion sequence asc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ActiveKey {
    neg_priority: i64,
    timestamp: SimTime,
    seq: u64,
}

/// backoffQ order: expiry (whole seconds), then activeQ order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct BackoffKey {
    expiry: SimTime,
    active: ActiveKey,
}

/// Where a pod is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active(ActiveKey),
    Backoff(BackoffKey),
    Unschedulable,
    InFlight,
}

/// The scheduling queue.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    settings: QueueSettings,
    pods: BTreeMap<Uid, (QueuedPod, Place)>,
    active: BTreeMap<ActiveKey, Uid>,
    backoff: BTreeMap<BackoffKey, Uid>,
    /// The pods in the unschedulable pool (kept apart so events do not scan every pod).
    unschedulable: BTreeSet<Uid>,
    /// How many pods are in flight (popped, not yet requeued or done).
    in_flight: usize,
    seq: u64,
    /// Cycle counter: bumped by every Pop.
    cycle: u64,
    /// Events that arrived while pods were in flight, with the cycle they arrived in.
    recent_events: Vec<(u64, ClusterEvent)>,
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new(settings: QueueSettings) -> Self {
        SchedulingQueue {
            settings,
            ..SchedulingQueue::default()
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn active_key(&mut self, pod: &QueuedPod) -> ActiveKey {
        ActiveKey {
            neg_priority: -i64::from(pod.priority),
            timestamp: pod.timestamp,
            seq: self.next_seq(),
        }
    }

    /// Pods waiting in activeQ.
    pub fn active_len(&self) -> usize {
        self.active.len()
    }

    /// Pods in backoffQ.
    pub fn backoff_len(&self) -> usize {
        self.backoff.len()
    }

    /// Pods in the unschedulable pool.
    pub fn unschedulable_len(&self) -> usize {
        self.unschedulable.len()
    }

    /// Pods the queue holds in any state (pending pods), in-flight ones included.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether the queue holds no pod.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// Whether the pod is queued (in any state).
    pub fn contains(&self, uid: Uid) -> bool {
        self.pods.contains_key(&uid)
    }

    /// Adds a new pending pod to activeQ.
    pub fn add(&mut self, key: ObjectKey, uid: Uid, priority: i32, now: SimTime) {
        if self.pods.contains_key(&uid) {
            return;
        }
        let pod = QueuedPod {
            key,
            uid,
            priority,
            timestamp: now,
            attempts: 0,
            unschedulable_plugins: BTreeSet::new(),
            initial_attempt: now,
        };
        let k = self.active_key(&pod);
        self.active.insert(k, uid);
        self.pods.insert(uid, (pod, Place::Active(k)));
    }

    /// Updates the priority of a queued pod (re-sorting it where it waits).
    pub fn update_priority(&mut self, uid: Uid, priority: i32) {
        if let Some((pod, _)) = self.pods.get_mut(&uid) {
            pod.priority = priority;
        }
    }

    /// Removes a pod (deleted, or bound by someone else).
    pub fn remove(&mut self, uid: Uid) -> Option<QueuedPod> {
        let (pod, place) = self.pods.remove(&uid)?;
        match place {
            Place::Active(k) => {
                self.active.remove(&k);
            }
            Place::Backoff(k) => {
                self.backoff.remove(&k);
            }
            Place::Unschedulable => {
                self.unschedulable.remove(&uid);
            }
            Place::InFlight => self.in_flight -= 1,
        }
        Some(pod)
    }

    /// Pops the next pod to schedule: the head of activeQ, else the head of backoffQ.
    pub fn pop(&mut self) -> Option<QueuedPod> {
        let uid = match self.active.pop_first() {
            Some((_, uid)) => uid,
            None => self.backoff.pop_first()?.1,
        };
        self.cycle += 1;
        let (pod, place) = self.pods.get_mut(&uid)?;
        pod.attempts += 1;
        *place = Place::InFlight;
        self.in_flight += 1;
        Some(pod.clone())
    }

    /// The scheduling cycle number of the last Pop.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// The backoff a pod has earned after `attempts` attempts.
    pub fn backoff_duration(&self, attempts: u32) -> SimDuration {
        if attempts == 0 {
            return SimDuration::ZERO;
        }
        let initial = self.settings.initial_backoff_seconds.max(0) as u64;
        let max = self.settings.max_backoff_seconds.max(0) as u64;
        let shift = (attempts - 1).min(62);
        let secs = initial.saturating_mul(1u64 << shift).min(max);
        SimDuration::from_secs(secs)
    }

    fn backoff_expiry(&self, pod: &QueuedPod) -> SimTime {
        let expiry = pod.timestamp + self.backoff_duration(pod.attempts);
        // One-second ordering windows: expiries are truncated to whole seconds.
        let second = 1_000_000_000;
        SimTime::from_nanos(expiry.as_nanos() / second * second)
    }

    /// Returns a pod that failed in cycle `cycle` (rejected by `plugins`; empty = an error).
    pub fn requeue_failed(
        &mut self,
        uid: Uid,
        plugins: BTreeSet<String>,
        cycle: u64,
        now: SimTime,
    ) {
        let relevant_event = self.recent_events.iter().any(|&(c, event)| {
            c >= cycle && (plugins.is_empty() || plugins.iter().any(|p| plugin_cares(p, event)))
        });
        let to_backoff = plugins.is_empty() || relevant_event;
        let Some((pod, place)) = self.pods.get_mut(&uid) else {
            return;
        };
        if *place != Place::InFlight {
            return;
        }
        self.in_flight -= 1;
        pod.timestamp = now;
        pod.unschedulable_plugins = plugins;
        if to_backoff {
            let pod = pod.clone();
            let k = BackoffKey {
                expiry: self.backoff_expiry(&pod),
                active: self.active_key(&pod),
            };
            self.backoff.insert(k, uid);
            if let Some((_, place)) = self.pods.get_mut(&uid) {
                *place = Place::Backoff(k);
            }
        } else {
            *place = Place::Unschedulable;
            self.unschedulable.insert(uid);
        }
        self.prune_events();
    }

    /// Forgets the events remembered for in-flight pods once none is in flight.
    fn prune_events(&mut self) {
        if self.in_flight == 0 {
            self.recent_events.clear();
        }
    }

    /// A cluster event: moves pool pods whose rejecting plugins care about it.
    pub fn on_event(&mut self, event: ClusterEvent, now: SimTime) {
        if self.in_flight > 0 {
            self.recent_events.push((self.cycle, event));
        }
        if self.unschedulable.is_empty() {
            return;
        }
        let movable: Vec<Uid> = self
            .unschedulable
            .iter()
            .filter(|uid| {
                self.pods.get(uid).is_some_and(|(pod, _)| {
                    pod.unschedulable_plugins.is_empty()
                        || pod
                            .unschedulable_plugins
                            .iter()
                            .any(|p| plugin_cares(p, event))
                })
            })
            .copied()
            .collect();
        for uid in movable {
            self.move_to_active_or_backoff(uid, now);
        }
    }

    fn move_to_active_or_backoff(&mut self, uid: Uid, now: SimTime) {
        let Some((pod, _)) = self.pods.get(&uid) else {
            return;
        };
        self.unschedulable.remove(&uid);
        let pod = pod.clone();
        let expiry = self.backoff_expiry(&pod);
        let place = if expiry > now {
            let k = BackoffKey {
                expiry,
                active: self.active_key(&pod),
            };
            self.backoff.insert(k, uid);
            Place::Backoff(k)
        } else {
            let k = self.active_key(&pod);
            self.active.insert(k, uid);
            Place::Active(k)
        };
        if let Some((_, p)) = self.pods.get_mut(&uid) {
            *p = place;
        }
    }

    /// Moves pods whose backoff has expired to activeQ (runs every second).
    pub fn flush_backoff_completed(&mut self, now: SimTime) {
        while let Some((&k, &uid)) = self.backoff.first_key_value() {
            if k.expiry > now {
                break;
            }
            self.backoff.remove(&k);
            let active = k.active;
            self.active.insert(active, uid);
            if let Some((_, p)) = self.pods.get_mut(&uid) {
                *p = Place::Active(active);
            }
        }
    }

    /// Moves pods that have waited in the pool longer than five minutes (runs every 30 s).
    pub fn flush_unschedulable_leftover(&mut self, now: SimTime) {
        let stale: Vec<Uid> = self
            .unschedulable
            .iter()
            .filter(|uid| {
                self.pods.get(uid).is_some_and(|(pod, _)| {
                    now.saturating_since(pod.timestamp) > MAX_IN_UNSCHEDULABLE_POOL
                })
            })
            .copied()
            .collect();
        for uid in stale {
            self.move_to_active_or_backoff(uid, now);
        }
    }

    /// The queued pod `uid`.
    pub fn get(&self, uid: Uid) -> Option<&QueuedPod> {
        self.pods.get(&uid).map(|(p, _)| p)
    }

    /// Marks a pod done (bound): it leaves the queue.
    pub fn done(&mut self, uid: Uid) -> Option<QueuedPod> {
        self.remove(uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    fn queue() -> SchedulingQueue {
        SchedulingQueue::new(QueueSettings::default())
    }

    #[test]
    fn priority_then_timestamp_then_insertion_order() {
        let mut q = queue();
        q.add(ObjectKey::new("d", "low"), Uid(1), 0, t(0));
        q.add(ObjectKey::new("d", "high"), Uid(2), 100, t(5));
        q.add(ObjectKey::new("d", "low2"), Uid(3), 0, t(0));
        let order: Vec<u64> = std::iter::from_fn(|| q.pop()).map(|p| p.uid.0).collect();
        // Priority 100 first; then the two priority-0 pods added at 0 s, in insertion order.
        assert_eq!(order, vec![2, 1, 3]);
    }

    #[test]
    fn backoff_doubles_to_the_maximum() {
        let q = queue();
        let secs: Vec<u64> = (0..7)
            .map(|a| q.backoff_duration(a).as_nanos() / 1_000_000_000)
            .collect();
        // 0 attempts: none; then 1, 2, 4, 8, capped at 10.
        assert_eq!(secs, vec![0, 1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn a_failed_pod_waits_for_an_event_its_plugins_care_about() {
        let mut q = queue();
        q.add(ObjectKey::new("d", "p"), Uid(1), 0, t(0));
        let popped = q.pop();
        assert!(popped.is_some());
        let cycle = q.cycle();
        q.requeue_failed(Uid(1), ["NodeResourcesFit".to_string()].into(), cycle, t(1));
        assert_eq!(q.unschedulable_len(), 1);
        // A pod added elsewhere does not help NodeResourcesFit: it stays.
        q.on_event(ClusterEvent::AssignedPodAdd, t(2));
        assert_eq!(q.unschedulable_len(), 1);
        // A new node does: the pod failed at 1 s after 1 attempt, so its backoff (1 s) is over
        // at 2 s and it goes straight to activeQ.
        q.on_event(ClusterEvent::NodeAdd, t(3));
        assert_eq!((q.unschedulable_len(), q.active_len()), (0, 1));
    }

    #[test]
    fn an_event_during_the_cycle_sends_the_pod_to_backoff() {
        let mut q = queue();
        q.add(ObjectKey::new("d", "p"), Uid(1), 0, t(0));
        let _ = q.pop();
        let cycle = q.cycle();
        q.on_event(ClusterEvent::NodeAdd, t(0));
        q.requeue_failed(Uid(1), ["NodeResourcesFit".to_string()].into(), cycle, t(0));
        assert_eq!(q.backoff_len(), 1);
        // Backoff of 1 attempt = 1 s: not expired at 0.5 s, expired at 1 s.
        q.flush_backoff_completed(SimTime::from_nanos(500_000_000));
        assert_eq!(q.active_len(), 0);
        q.flush_backoff_completed(t(1));
        assert_eq!(q.active_len(), 1);
    }

    #[test]
    fn pool_pods_are_retried_after_five_minutes() {
        let mut q = queue();
        q.add(ObjectKey::new("d", "p"), Uid(1), 0, t(0));
        let _ = q.pop();
        let cycle = q.cycle();
        q.requeue_failed(Uid(1), ["NodeAffinity".to_string()].into(), cycle, t(0));
        q.flush_unschedulable_leftover(t(300));
        assert_eq!(
            q.unschedulable_len(),
            1,
            "exactly 5 minutes is not more than 5 minutes"
        );
        q.flush_unschedulable_leftover(t(330));
        assert_eq!(q.active_len(), 1);
    }

    #[test]
    fn pop_falls_back_to_backoff_when_active_is_empty() {
        let mut q = queue();
        q.add(ObjectKey::new("d", "p"), Uid(1), 0, t(0));
        let _ = q.pop();
        let cycle = q.cycle();
        q.requeue_failed(Uid(1), BTreeSet::new(), cycle, t(0));
        assert_eq!(q.backoff_len(), 1);
        assert_eq!(q.pop().map(|p| p.attempts), Some(2));
    }
}
