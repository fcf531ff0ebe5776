//! The scheduling queue (`pkg/scheduler/backend/queue`): activeQ ordered by PrioritySort,
//! backoffQ for pods waiting out their backoff, the unschedulable pool for pods that wait for
//! a cluster event, and the gated pods that wait for their scheduling gates to go.
//!
//! * PrioritySort: higher priority first, then earlier queue timestamp, then insertion order
//!   (kubesim's deterministic stand-in for heap order among exact ties).
//! * Backoff after `n` failures: `min(initial × 2^(n−1), max)` — 1, 2, 4, 8, 10, 10… s, where `n`
//!   counts consecutive errors if the last attempt was an error, else rejections by plugins
//!   (upstream's `ConsecutiveErrorsCount` / `UnschedulableCount`). The expiry is truncated to a
//!   whole second (the 1-second ordering windows of SchedulerPopFromBackoffQ), and a pod is
//!   still backing off while its expiry is not before the current second: a backoff that ends
//!   at 1.0001 s is over at 2 s.
//! * backoffQ is two queues, as upstream's: pods rejected by plugins, and pods that failed
//!   with an error or with no rejecting plugin (no nodes at all, a failed bind). Both flush to
//!   activeQ once their backoff expires (checked every second). When activeQ is empty, Pop
//!   takes the head of the first, never of the second (SchedulerPopFromBackoffQ, on by
//!   default since 1.33): an error is not retried before its backoff is over.
//! * A failed pod with no rejecting plugin goes to backoffQ. One rejected by plugins goes to
//!   the unschedulable pool, unless a cluster event that arrived while it was in flight may
//!   help it (queueing hints of its rejecting plugins), then to backoffQ. An event moves the
//!   pool's pods whose rejecting plugins registered it and whose hints say Queue: to activeQ
//!   if their backoff is over, else to backoffQ. Every 30 s, pods in the pool for more than 5
//!   minutes are moved anyway.
//! * Whether an event may help a pod is the caller's to say (it knows the profiles' plugins):
//!   every call that can move pods takes a `worth_requeuing` function.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::{ObjectKey, Uid};
use crate::sim::{SimDuration, SimTime};

use super::cluster_event::EventChange;
use super::config::QueueSettings;
use super::node_info::PodInfo;

/// How long a pod may stay in the unschedulable pool before it is retried anyway.
pub const MAX_IN_UNSCHEDULABLE_POOL: SimDuration = SimDuration::from_mins(5);
/// How often the pool is checked for pods past that limit.
pub const UNSCHEDULABLE_FLUSH_PERIOD: SimDuration = SimDuration::from_secs(30);
/// How often completed backoffs move to activeQ.
pub const BACKOFF_FLUSH_PERIOD: SimDuration = SimDuration::from_secs(1);

/// `t` truncated to a whole second.
fn whole_second(t: SimTime) -> SimTime {
    let second = 1_000_000_000;
    SimTime::from_nanos(t.as_nanos() / second * second)
}

/// A queued pod (upstream `QueuedPodInfo`).
#[derive(Clone, Debug)]
pub struct QueuedPod {
    /// The pod as last seen by the informer, with what the scheduler derives from it.
    pub pod: Arc<PodInfo>,
    /// The pod's key.
    pub key: ObjectKey,
    /// The pod's uid (a recreated pod with the same name is another pod).
    pub uid: Uid,
    /// When it was (re)added to the queue.
    pub timestamp: SimTime,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// Attempts rejected by plugins (upstream `UnschedulableCount`).
    pub unschedulable_count: u32,
    /// Attempts that failed with an error since the last rejection (upstream
    /// `ConsecutiveErrorsCount`).
    pub consecutive_errors: u32,
    /// Plugins that rejected it last time (empty after an error).
    pub unschedulable_plugins: BTreeSet<&'static str>,
    /// When it was first queued (for end-to-end latency).
    pub initial_attempt: SimTime,
}

impl QueuedPod {
    /// The pod's priority (PrioritySort).
    pub fn priority(&self) -> i32 {
        self.pod.pod.spec.priority.unwrap_or(0)
    }
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

/// Which of backoffQ's two queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BackoffKind {
    /// Rejected by plugins: Pop may take it early.
    Rejected,
    /// Failed with an error: it waits out its backoff.
    Error,
}

/// Where a pod is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active(ActiveKey),
    Backoff(BackoffKind, BackoffKey),
    Unschedulable,
    Gated,
    InFlight,
}

/// How many pods wait where, as `scheduler_pending_pods` labels them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingPods {
    /// `queue="active"`.
    pub active: usize,
    /// `queue="backoff"` (both of backoffQ's queues).
    pub backoff: usize,
    /// `queue="unschedulable"`.
    pub unschedulable: usize,
    /// `queue="gated"`: pods waiting for their scheduling gates to be removed.
    pub gated: usize,
}

impl PendingPods {
    /// Every pending pod.
    pub fn total(&self) -> usize {
        self.active + self.backoff + self.unschedulable + self.gated
    }
}

/// The scheduling queue.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    settings: QueueSettings,
    pods: BTreeMap<Uid, (QueuedPod, Place)>,
    active: BTreeMap<ActiveKey, Uid>,
    /// podBackoffQ: pods rejected by plugins.
    backoff: BTreeMap<BackoffKey, Uid>,
    /// podErrorBackoffQ: pods that failed with an error.
    error_backoff: BTreeMap<BackoffKey, Uid>,
    /// The pods in the unschedulable pool (kept apart so events do not scan every pod).
    unschedulable: BTreeSet<Uid>,
    /// How many pods are gated.
    gated: usize,
    /// How many pods are in flight (popped, not yet requeued or done).
    in_flight: usize,
    seq: u64,
    /// Cycle counter: bumped by every Pop.
    cycle: u64,
    /// Events that arrived while pods were in flight, with the cycle they arrived in.
    recent_events: Vec<(u64, EventChange)>,
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new(settings: QueueSettings) -> Self {
        SchedulingQueue {
            settings,
            ..SchedulingQueue::default()
        }
    }

    /// The backoff settings it was made with.
    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn active_key(&mut self, pod: &QueuedPod) -> ActiveKey {
        ActiveKey {
            neg_priority: -i64::from(pod.priority()),
            timestamp: pod.timestamp,
            seq: self.next_seq(),
        }
    }

    /// Pods waiting, by `scheduler_pending_pods` label (in-flight pods are in none).
    pub fn pending(&self) -> PendingPods {
        PendingPods {
            active: self.active.len(),
            backoff: self.backoff.len() + self.error_backoff.len(),
            unschedulable: self.unschedulable.len(),
            gated: self.gated,
        }
    }

    /// Pods the queue holds in any state, in-flight ones included.
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

    /// The queued pod `uid`.
    pub fn get(&self, uid: Uid) -> Option<&QueuedPod> {
        self.pods.get(&uid).map(|(p, _)| p)
    }

    /// Adds a new pending pod: to activeQ, or aside while it has scheduling gates (upstream's
    /// PreEnqueue, SchedulingGates).
    pub fn add(&mut self, pod: Arc<PodInfo>, now: SimTime) {
        let uid = pod.uid();
        if self.pods.contains_key(&uid) {
            return;
        }
        let queued = QueuedPod {
            key: pod.key(),
            uid,
            pod,
            timestamp: now,
            attempts: 0,
            unschedulable_count: 0,
            consecutive_errors: 0,
            unschedulable_plugins: BTreeSet::new(),
            initial_attempt: now,
        };
        let gated = !queued.pod.pod.spec.scheduling_gates.is_empty();
        self.pods.insert(uid, (queued, Place::InFlight));
        if gated {
            self.place(uid, Place::Gated);
        } else {
            self.place_active(uid);
        }
    }

    /// A pending pod changed (upstream `Update`): the queue keeps the new object, re-sorts it
    /// where it waits (its priority may have changed), lets it in once its last gate is gone,
    /// and moves it out of the unschedulable pool if one of `changes` (its `UnscheduledPod`
    /// update events) may make it schedulable.
    pub fn update(
        &mut self,
        pod: Arc<PodInfo>,
        changes: &[EventChange],
        now: SimTime,
        worth_requeuing: impl Fn(&QueuedPod, &EventChange) -> bool,
    ) {
        let uid = pod.uid();
        let Some((queued, place)) = self.pods.get_mut(&uid) else {
            self.add(pod, now);
            return;
        };
        queued.pod = pod;
        let place = *place;
        match place {
            Place::InFlight => {
                let cycle = self.cycle;
                self.recent_events
                    .extend(changes.iter().map(|c| (cycle, c.clone())));
            }
            Place::Active(_) | Place::Backoff(..) => self.resort(uid, place),
            Place::Gated => {
                if self.pods[&uid].0.pod.pod.spec.scheduling_gates.is_empty() {
                    self.unplace(uid, place);
                    self.place_active(uid);
                }
            }
            Place::Unschedulable => {
                let queued = &self.pods[&uid].0;
                if changes.iter().any(|c| worth_requeuing(queued, c)) {
                    self.unplace(uid, place);
                    self.place_after_backoff(uid, now);
                }
            }
        }
    }

    /// Files a pod again where it waits, under its current priority, keeping its timestamp,
    /// its insertion order among equals and its backoff expiry.
    fn resort(&mut self, uid: Uid, place: Place) {
        let neg_priority = -i64::from(self.pods[&uid].0.priority());
        self.unplace(uid, place);
        let moved = match place {
            Place::Active(k) => Place::Active(ActiveKey { neg_priority, ..k }),
            Place::Backoff(kind, k) => Place::Backoff(
                kind,
                BackoffKey {
                    active: ActiveKey {
                        neg_priority,
                        ..k.active
                    },
                    ..k
                },
            ),
            other => other,
        };
        self.place(uid, moved);
    }

    /// Removes a pod (deleted, or bound by someone else).
    pub fn remove(&mut self, uid: Uid) -> Option<QueuedPod> {
        let place = self.pods.get(&uid)?.1;
        self.unplace(uid, place);
        let (pod, _) = self.pods.remove(&uid)?;
        self.prune_events();
        Some(pod)
    }

    /// Pops the next pod to schedule: the head of activeQ, else the head of the plugin-rejected
    /// part of backoffQ even if its backoff is not over.
    pub fn pop(&mut self) -> Option<QueuedPod> {
        let (uid, place) = match self.active.first_key_value() {
            Some((&k, &uid)) => (uid, Place::Active(k)),
            None => {
                let (&k, &uid) = self.backoff.first_key_value()?;
                (uid, Place::Backoff(BackoffKind::Rejected, k))
            }
        };
        self.unplace(uid, place);
        self.cycle += 1;
        self.place(uid, Place::InFlight);
        let (pod, _) = self.pods.get_mut(&uid)?;
        pod.attempts += 1;
        // A new attempt: what rejected it last time no longer says anything.
        pod.unschedulable_plugins.clear();
        Some(pod.clone())
    }

    /// The scheduling cycle number of the last Pop.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// The backoff a pod has earned after `failures` failures of one kind.
    pub fn backoff_duration(&self, failures: u32) -> SimDuration {
        if failures == 0 {
            return SimDuration::ZERO;
        }
        let initial = self.settings.initial_backoff_seconds.max(0) as u64;
        let max = self.settings.max_backoff_seconds.max(0) as u64;
        let shift = (failures - 1).min(62);
        let secs = initial.saturating_mul(1u64 << shift).min(max);
        SimDuration::from_secs(secs)
    }

    /// When the pod's backoff ends: its timestamp plus the backoff it has earned, truncated to
    /// a whole second (the 1-second ordering windows); `None` if it has earned none.
    pub fn backoff_expiry(&self, pod: &QueuedPod) -> Option<SimTime> {
        let failures = if pod.consecutive_errors > 0 {
            pod.consecutive_errors
        } else {
            pod.unschedulable_count
        };
        if failures == 0 || self.settings.max_backoff_seconds <= 0 {
            return None;
        }
        Some(whole_second(
            pod.timestamp + self.backoff_duration(failures),
        ))
    }

    /// Whether the pod is still backing off at `now` (upstream `isPodBackingoff`): its expiry
    /// is not before the current second.
    fn is_backing_off(&self, pod: &QueuedPod, now: SimTime) -> bool {
        self.backoff_expiry(pod)
            .is_some_and(|expiry| expiry >= whole_second(now))
    }

    /// Returns a pod that failed in cycle `cycle`, rejected by `plugins` (none: an error, or
    /// no node at all), as upstream's `AddUnschedulableIfNotPresent`.
    pub fn requeue_failed(
        &mut self,
        uid: Uid,
        plugins: BTreeSet<&'static str>,
        cycle: u64,
        now: SimTime,
        worth_requeuing: impl Fn(&QueuedPod, &EventChange) -> bool,
    ) {
        let Some((pod, place)) = self.pods.get_mut(&uid) else {
            return;
        };
        if *place != Place::InFlight {
            return;
        }
        pod.timestamp = now;
        if plugins.is_empty() {
            pod.consecutive_errors += 1;
        } else {
            pod.unschedulable_count += 1;
            pod.consecutive_errors = 0;
        }
        pod.unschedulable_plugins = plugins;
        let pod = &*pod;
        // An error retries after its backoff; a rejection waits in the pool unless something
        // that may help it happened while it was in flight.
        let after_backoff = pod.unschedulable_plugins.is_empty()
            || self
                .recent_events
                .iter()
                .any(|(c, change)| *c >= cycle && worth_requeuing(pod, change));
        self.unplace(uid, Place::InFlight);
        if after_backoff {
            self.place_after_backoff(uid, now);
        } else {
            self.place(uid, Place::Unschedulable);
        }
        self.prune_events();
    }

    /// Forgets the events remembered for in-flight pods once none is in flight.
    fn prune_events(&mut self) {
        if self.in_flight == 0 {
            self.recent_events.clear();
        }
    }

    /// A cluster event (upstream `MoveAllToActiveOrBackoffQueue`): moves the pool's pods for
    /// which `worth_requeuing` says the change may help, and remembers the change for the pods
    /// in flight.
    pub fn on_event(
        &mut self,
        change: EventChange,
        now: SimTime,
        worth_requeuing: impl Fn(&QueuedPod, &EventChange) -> bool,
    ) {
        if !self.unschedulable.is_empty() {
            let movable: Vec<Uid> = self
                .unschedulable
                .iter()
                .filter(|uid| {
                    self.pods
                        .get(uid)
                        .is_some_and(|(pod, _)| worth_requeuing(pod, &change))
                })
                .copied()
                .collect();
            for uid in movable {
                self.unplace(uid, Place::Unschedulable);
                self.place_after_backoff(uid, now);
            }
        }
        if self.in_flight > 0 {
            self.recent_events.push((self.cycle, change));
        }
    }

    /// Moves pods whose backoff has expired to activeQ (runs every second).
    pub fn flush_backoff_completed(&mut self, now: SimTime) {
        for kind in [BackoffKind::Rejected, BackoffKind::Error] {
            loop {
                let queue = match kind {
                    BackoffKind::Rejected => &self.backoff,
                    BackoffKind::Error => &self.error_backoff,
                };
                let Some((&k, &uid)) = queue.first_key_value() else {
                    break;
                };
                if k.expiry >= whole_second(now) {
                    break;
                }
                self.unplace(uid, Place::Backoff(kind, k));
                // It keeps its place in activeQ's order.
                self.active.insert(k.active, uid);
                self.set_place(uid, Place::Active(k.active));
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
            self.unplace(uid, Place::Unschedulable);
            self.place_after_backoff(uid, now);
        }
    }

    /// Marks a pod done (bound): it leaves the queue.
    pub fn done(&mut self, uid: Uid) -> Option<QueuedPod> {
        self.remove(uid)
    }

    /// To backoffQ if its backoff is not over, else to activeQ.
    fn place_after_backoff(&mut self, uid: Uid, now: SimTime) {
        let Some((pod, _)) = self.pods.get(&uid) else {
            return;
        };
        if let Some(expiry) = self.backoff_expiry(pod)
            && self.is_backing_off(pod, now)
        {
            let kind = if pod.unschedulable_plugins.is_empty() {
                BackoffKind::Error
            } else {
                BackoffKind::Rejected
            };
            let pod = pod.clone();
            let k = BackoffKey {
                expiry,
                active: self.active_key(&pod),
            };
            self.place(uid, Place::Backoff(kind, k));
        } else {
            self.place_active(uid);
        }
    }

    fn place_active(&mut self, uid: Uid) {
        let Some((pod, _)) = self.pods.get(&uid) else {
            return;
        };
        let pod = pod.clone();
        let k = self.active_key(&pod);
        self.place(uid, Place::Active(k));
    }

    /// Files `uid` at `place` (its entry must already be out of any other).
    fn place(&mut self, uid: Uid, place: Place) {
        match place {
            Place::Active(k) => {
                self.active.insert(k, uid);
            }
            Place::Backoff(BackoffKind::Rejected, k) => {
                self.backoff.insert(k, uid);
            }
            Place::Backoff(BackoffKind::Error, k) => {
                self.error_backoff.insert(k, uid);
            }
            Place::Unschedulable => {
                self.unschedulable.insert(uid);
            }
            Place::Gated => self.gated += 1,
            Place::InFlight => self.in_flight += 1,
        }
        self.set_place(uid, place);
    }

    fn set_place(&mut self, uid: Uid, place: Place) {
        if let Some((_, p)) = self.pods.get_mut(&uid) {
            *p = place;
        }
    }

    /// Takes `uid` out of the structure that holds it at `place`.
    fn unplace(&mut self, uid: Uid, place: Place) {
        match place {
            Place::Active(k) => {
                self.active.remove(&k);
            }
            Place::Backoff(BackoffKind::Rejected, k) => {
                self.backoff.remove(&k);
            }
            Place::Backoff(BackoffKind::Error, k) => {
                self.error_backoff.remove(&k);
            }
            Place::Unschedulable => {
                self.unschedulable.remove(&uid);
            }
            Place::Gated => self.gated -= 1,
            Place::InFlight => self.in_flight -= 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pod::Pod;
    use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventResource};

    fn t(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    fn queue() -> SchedulingQueue {
        SchedulingQueue::new(QueueSettings::default())
    }

    fn pod(name: &str, uid: u64, priority: i32) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(raw_pod(name, uid, priority))))
    }

    fn raw_pod(name: &str, uid: u64, priority: i32) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = "d".into();
        p.metadata.name = name.into();
        p.metadata.uid = Uid(uid);
        Arc::make_mut(&mut p.spec).priority = Some(priority);
        p
    }

    /// NodeResourcesFit's registrations, without hints: a node added, or an assigned pod gone.
    fn fit_cares(pod: &QueuedPod, change: &EventChange) -> bool {
        pod.unschedulable_plugins.contains("NodeResourcesFit")
            && matches!(
                change.event,
                ClusterEvent::NODE_ADD | ClusterEvent::ASSIGNED_POD_DELETE
            )
    }

    fn generic_update() -> EventChange {
        EventChange::bare(ClusterEvent::new(
            EventResource::UnscheduledPod,
            ActionType::UPDATE,
        ))
    }

    fn fail(q: &mut SchedulingQueue, uid: u64, plugins: &[&'static str], now: SimTime) {
        let cycle = q.cycle();
        q.requeue_failed(
            Uid(uid),
            plugins.iter().copied().collect(),
            cycle,
            now,
            fit_cares,
        );
    }

    fn popped(q: &mut SchedulingQueue) -> Vec<u64> {
        std::iter::from_fn(|| q.pop()).map(|p| p.uid.0).collect()
    }

    #[test]
    fn priority_then_timestamp_then_insertion_order() {
        let mut q = queue();
        q.add(pod("low", 1, 0), t(0));
        q.add(pod("high", 2, 100), t(5));
        q.add(pod("low2", 3, 0), t(0));
        // Priority 100 first; then the two priority-0 pods added at 0 s, in insertion order.
        assert_eq!(popped(&mut q), vec![2, 1, 3]);
    }

    #[test]
    fn a_priority_update_resorts_the_pod() {
        let mut q = queue();
        q.add(pod("a", 1, 0), t(0));
        q.add(pod("b", 2, 0), t(0));
        // b's priority rises to 10: it now goes first.
        q.update(pod("b", 2, 10), &[generic_update()], t(1), fit_cares);
        assert_eq!(popped(&mut q), vec![2, 1]);
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
        q.add(pod("p", 1, 0), t(0));
        assert!(q.pop().is_some());
        fail(&mut q, 1, &["NodeResourcesFit"], t(1));
        assert_eq!(q.pending().unschedulable, 1);
        // A pod added elsewhere does not help NodeResourcesFit: it stays.
        q.on_event(
            EventChange::bare(ClusterEvent::ASSIGNED_POD_ADD),
            t(2),
            fit_cares,
        );
        assert_eq!(q.pending().unschedulable, 1);
        // A new node does: the pod failed at 1 s after 1 attempt, so its backoff (1 s) is over
        // at 2 s and it goes straight to activeQ.
        q.on_event(EventChange::bare(ClusterEvent::NODE_ADD), t(3), fit_cares);
        let pending = q.pending();
        assert_eq!((pending.unschedulable, pending.active), (0, 1));
    }

    #[test]
    fn an_event_during_the_cycle_sends_the_pod_to_backoff() {
        let mut q = queue();
        q.add(pod("p", 1, 0), t(0));
        let _ = q.pop();
        q.on_event(EventChange::bare(ClusterEvent::NODE_ADD), t(0), fit_cares);
        fail(&mut q, 1, &["NodeResourcesFit"], t(0));
        assert_eq!(q.pending().backoff, 1);
        // One rejection: 1 s of backoff, expiry 0 s + 1 s = 1 s. The pod backs off while its
        // expiry is not before the current second: still at 1.5 s (second 1), over at 2 s.
        q.flush_backoff_completed(SimTime::from_nanos(1_500_000_000));
        assert_eq!(q.pending().active, 0);
        q.flush_backoff_completed(t(2));
        assert_eq!(q.pending().active, 1);
    }

    #[test]
    fn pool_pods_are_retried_after_five_minutes() {
        let mut q = queue();
        q.add(pod("p", 1, 0), t(0));
        let _ = q.pop();
        fail(&mut q, 1, &["NodeAffinity"], t(0));
        q.flush_unschedulable_leftover(t(300));
        assert_eq!(
            q.pending().unschedulable,
            1,
            "exactly 5 minutes is not more than 5 minutes"
        );
        q.flush_unschedulable_leftover(t(330));
        assert_eq!(q.pending().active, 1);
    }

    #[test]
    fn pop_takes_a_rejected_pod_early_but_never_an_error() {
        let mut q = queue();
        q.add(pod("rejected", 1, 0), t(0));
        q.add(pod("error", 2, 0), t(0));
        let _ = q.pop();
        let _ = q.pop();
        // The rejected pod goes to backoffQ (an event during its cycle), the other failed
        // with an error: both back off (1 s each).
        q.on_event(EventChange::bare(ClusterEvent::NODE_ADD), t(0), fit_cares);
        fail(&mut q, 1, &["NodeResourcesFit"], t(0));
        fail(&mut q, 2, &[], t(0));
        assert_eq!(q.pending().backoff, 2);
        // activeQ is empty, so Pop takes the rejected pod at once, and then nothing.
        assert_eq!(q.pop().map(|p| (p.uid.0, p.attempts)), Some((1, 2)));
        assert!(q.pop().is_none());
        // The error's backoff (1 s, expiry 1 s) is over at the 2 s flush, not before.
        q.flush_backoff_completed(t(1));
        assert!(q.pop().is_none());
        q.flush_backoff_completed(t(2));
        assert_eq!(q.pop().map(|p| p.uid.0), Some(2));
    }

    #[test]
    fn gated_pods_wait_for_their_last_gate() {
        let mut q = queue();
        let mut gated = raw_pod("g", 1, 0);
        Arc::make_mut(&mut gated.spec).scheduling_gates =
            vec![Default::default(), Default::default()];
        let info = |p: &Pod| Arc::new(PodInfo::new(Arc::new(p.clone())));
        q.add(info(&gated), t(0));
        assert_eq!((q.pending().gated, q.pending().active), (1, 0));
        assert!(q.pop().is_none());
        // One gate left: still gated.
        Arc::make_mut(&mut gated.spec).scheduling_gates.pop();
        q.update(info(&gated), &[generic_update()], t(1), fit_cares);
        assert_eq!(q.pending().gated, 1);
        Arc::make_mut(&mut gated.spec).scheduling_gates.pop();
        q.update(info(&gated), &[generic_update()], t(2), fit_cares);
        assert_eq!((q.pending().gated, q.pending().active), (0, 1));
        assert_eq!(q.pending().total(), 1);
    }
}
