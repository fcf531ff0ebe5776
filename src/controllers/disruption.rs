//! The disruption controller (upstream `pkg/controller/disruption/disruption.go`): keeps every
//! PodDisruptionBudget's status — the pods it expects, how many must be healthy, how many are,
//! and so how many more may be disrupted — which the eviction subresource spends and
//! kube-scheduler's preemption respects.
//!
//! It reads kube-controller-manager's shared informers of budgets, pods, ReplicaSets and
//! Deployments (the last two only as listers, for the scale of a pod's controller, as upstream
//! has no handlers on them). A budget event queues
//! the budget; a pod event queues the first budget (in key order) whose non-empty selector
//! selects the pod. One worker syncs a budget at a time, after every cache has synced:
//!
//! * **expected pods and desired healthy** (`getExpectedPodCount`): with `maxUnavailable`, the
//!   summed scale of the pods' controllers (a ReplicaSet's, or its Deployment's if it has one;
//!   each controller once) minus `maxUnavailable` (a percentage of it rounded up), at least 0;
//!   with an integer `minAvailable`, that number, the pods themselves being expected; with a
//!   percentage, that share of the controllers' scale, rounded up. A pod without a controller
//!   is unmanaged (upstream warns and carries on); a controller that cannot be found is an
//!   error;
//! * **disrupted pods** (`buildDisruptedPodMap`): the evictions recorded in the status whose
//!   pod is neither terminating yet nor overdue (2 minutes, `DeletionTimeout`), with a recheck
//!   of the budget when the first of them falls due;
//! * **current healthy** (`countHealthyPods`): covered pods that are Ready, not terminating,
//!   and not awaiting their eviction;
//! * **disruptions allowed** = current − desired healthy, 0 if negative or if no pod is
//!   expected; written with `observedGeneration` and `DisruptionAllowed` through the status
//!   subresource, only when something changed. A failed sync (a controller not found, an
//!   invalid selector) writes the fail-safe status instead: no disruption allowed, the
//!   condition False with `SyncFailed`. A conflicting write is retried rate-limited.
//!
//! Left out: the Events upstream records (`NoPods`, `UnmanagedPods`, …), ReplicationControllers
//! and StatefulSets (not modelled; a pod they own has a controller that cannot be found), the
//! generic `/scale` lookup (a pod owned directly by a Deployment or ReplicaSet is resolved from
//! the caches instead), and the stale `DisruptionTarget` condition cleanup.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::meta::{IntOrString, OwnerReference};
use crate::api::pdb::{PodDisruptionBudget, REASON_SYNC_FAILED};
use crate::api::pod::Pod;
use crate::api::{Kind, Object, ObjectKey, Uid};
use crate::apiserver::{ApiError, ClientId, Request, RequestId, Response, Subresource, UserInfo};
use crate::client::informer::Delta;
use crate::client::informer_set::InformerSet;
use crate::client::workqueue::{RateLimits, WorkQueue};
use crate::component::{ComponentContext, Timer};
use crate::controllers::kube_controller_manager::Controller;
use crate::sim::{SimDuration, SimTime};

/// How long after its eviction a pod may still be seen not terminating before the budget
/// counts it again (`DeletionTimeout`).
pub const DELETION_TIMEOUT: SimDuration = SimDuration::from_mins(2);

/// The kinds the controller reads.
const KINDS: [Kind; 4] = [
    Kind::PodDisruptionBudget,
    Kind::Pod,
    Kind::ReplicaSet,
    Kind::Deployment,
];

/// The timer that wakes the work queue and the rechecks.
const QUEUE_WAKE: Timer = Timer {
    code: 1,
    background: false,
    generation: 0,
};

/// What the controller has done, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DisruptionCounters {
    /// Budgets synced.
    pub syncs: u64,
    /// Status writes sent.
    pub status_writes: u64,
    /// Syncs that failed (the fail-safe status was written instead) or whose write failed
    /// otherwise than by a conflict.
    pub failures: u64,
    /// Status writes that conflicted (an eviction spent the budget meanwhile): retried.
    pub conflicts: u64,
}

/// A budget's status as a sync works it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Computed {
    /// `expectedPods`.
    pub expected: i32,
    /// `desiredHealthy`.
    pub desired_healthy: i32,
    /// `currentHealthy`.
    pub current_healthy: i32,
    /// `disruptedPods`, still pending.
    pub disrupted: BTreeMap<String, SimTime>,
    /// When the first pending eviction falls due, if any.
    pub recheck: Option<SimTime>,
    /// Pods without a controller (upstream's `UnmanagedPods` warning).
    pub unmanaged: Vec<String>,
}

impl Computed {
    /// `disruptionsAllowed`: current − desired, never negative, 0 while no pod is expected.
    pub fn disruptions_allowed(&self) -> i32 {
        let allowed = self.current_healthy - self.desired_healthy;
        if self.expected <= 0 || allowed <= 0 {
            0
        } else {
            allowed
        }
    }
}

/// The scale of a pod's controller: the controller's uid (each counted once) and its replicas.
pub type ControllerScale = (Uid, i32);

/// Where a sync finds the scale of a pod's controller (the caches, in the controller).
pub trait ScaleSource {
    /// The scale of the controller `reference` names in `namespace`, if one of the finders
    /// knows it (upstream `finders()`, in order).
    fn scale_of(&self, reference: &OwnerReference, namespace: &str) -> Option<ControllerScale>;
}

/// Works out a budget's status from its pods at `now` (upstream `trySync` up to the write);
/// the error is why the fail-safe status must be written instead.
pub fn compute(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    scales: &dyn ScaleSource,
    now: SimTime,
) -> Result<Computed, String> {
    let (expected, desired_healthy, unmanaged) = expected_pod_count(pdb, pods, scales)?;
    let (disrupted, recheck) = build_disrupted_pod_map(pdb, pods, now);
    let current_healthy = count_healthy_pods(pods, &disrupted, now);
    Ok(Computed {
        expected,
        desired_healthy,
        current_healthy,
        disrupted,
        recheck,
        unmanaged,
    })
}

/// Upstream `getExpectedPodCount`: (expectedPods, desiredHealthy, unmanaged pods).
pub fn expected_pod_count(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    scales: &dyn ScaleSource,
) -> Result<(i32, i32, Vec<String>), String> {
    let scaled = |value: &IntOrString, total: i32| {
        value
            .scaled_value(i64::from(total), true)
            .map(|v| i32::try_from(v).unwrap_or(i32::MAX))
            .map_err(|e| e.to_string())
    };
    if let Some(max_unavailable) = &pdb.spec.max_unavailable {
        let (expected, unmanaged) = expected_scale(pods, scales)?;
        let desired = (expected - scaled(max_unavailable, expected)?).max(0);
        return Ok((expected, desired, unmanaged));
    }
    match &pdb.spec.min_available {
        Some(IntOrString::Int(n)) => {
            let desired = i32::try_from(*n).unwrap_or(i32::MAX);
            Ok((len_i32(pods.len()), desired, Vec::new()))
        }
        Some(percent @ IntOrString::String(_)) => {
            let (expected, unmanaged) = expected_scale(pods, scales)?;
            Ok((expected, scaled(percent, expected)?, unmanaged))
        }
        None => Ok((0, 0, Vec::new())),
    }
}

/// Upstream `getExpectedScale`: the summed scale of the pods' controllers, each once; pods
/// without a controller are listed as unmanaged; a controller no finder knows is an error.
fn expected_scale(pods: &[&Pod], scales: &dyn ScaleSource) -> Result<(i32, Vec<String>), String> {
    let mut by_controller: BTreeMap<Uid, i32> = BTreeMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let Some(reference) = pod.metadata.controller_ref() else {
            unmanaged.push(pod.metadata.name.clone());
            continue;
        };
        if by_controller.contains_key(&reference.uid) {
            continue;
        }
        match scales.scale_of(reference, &pod.metadata.namespace) {
            Some((uid, scale)) => {
                by_controller.insert(uid, scale);
            }
            None => {
                return Err(format!(
                    "found no controllers for pod {:?}",
                    pod.metadata.name
                ));
            }
        }
    }
    let expected = by_controller
        .values()
        .fold(0i32, |a, &b| a.saturating_add(b));
    Ok((expected, unmanaged))
}

/// Upstream `buildDisruptedPodMap`: the recorded evictions still pending (the pod exists, is
/// not terminating, and its time plus [`DELETION_TIMEOUT`] is not past), and the earliest such
/// deadline, when the budget must be looked at again.
pub fn build_disrupted_pod_map(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    now: SimTime,
) -> (BTreeMap<String, SimTime>, Option<SimTime>) {
    let mut pending = BTreeMap::new();
    let mut recheck: Option<SimTime> = None;
    for pod in pods {
        if pod.metadata.is_terminating() {
            continue;
        }
        let Some(&evicted) = pdb.status.disrupted_pods.get(&pod.metadata.name) else {
            continue;
        };
        let due = evicted + DELETION_TIMEOUT;
        // Overdue: the pod was expected to go and did not (upstream's `NotDeleted` warning).
        if due < now {
            continue;
        }
        recheck = Some(recheck.map_or(due, |r| r.min(due)));
        pending.insert(pod.metadata.name.clone(), evicted);
    }
    (pending, recheck)
}

/// Upstream `countHealthyPods`: Ready pods, but those terminating or whose eviction is pending.
pub fn count_healthy_pods(
    pods: &[&Pod],
    disrupted: &BTreeMap<String, SimTime>,
    now: SimTime,
) -> i32 {
    let healthy = pods
        .iter()
        .filter(|p| !p.metadata.is_terminating())
        .filter(|p| {
            disrupted
                .get(&p.metadata.name)
                .is_none_or(|&at| at + DELETION_TIMEOUT <= now)
        })
        .filter(|p| p.status.ready_since().is_some())
        .count();
    len_i32(healthy)
}

fn len_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Upstream `updatePdbStatus`: the budget with its new status, or None if the stored one says
/// the same already.
pub fn updated_status(
    pdb: &PodDisruptionBudget,
    computed: &Computed,
    now: SimTime,
) -> Option<PodDisruptionBudget> {
    let allowed = computed.disruptions_allowed();
    let status = &pdb.status;
    if status.current_healthy == computed.current_healthy
        && status.desired_healthy == computed.desired_healthy
        && status.expected_pods == computed.expected
        && status.disruptions_allowed == allowed
        && status.disrupted_pods == computed.disrupted
        && status.observed_generation == pdb.metadata.generation
        && pdb.conditions_are_up_to_date()
    {
        return None;
    }
    let mut next = pdb.clone();
    next.status.current_healthy = computed.current_healthy;
    next.status.desired_healthy = computed.desired_healthy;
    next.status.expected_pods = computed.expected;
    next.status.disruptions_allowed = allowed;
    next.status.disrupted_pods = computed.disrupted.clone();
    next.status.observed_generation = pdb.metadata.generation;
    next.update_disruption_allowed_condition(now);
    Some(next)
}

/// Upstream `failSafe`: no disruption allowed, and why, on a budget whose status could not be
/// worked out.
pub fn fail_safe(pdb: &PodDisruptionBudget, error: String, now: SimTime) -> PodDisruptionBudget {
    let mut next = pdb.clone();
    next.status.disruptions_allowed = 0;
    let generation = next.status.observed_generation;
    next.set_condition("False", REASON_SYNC_FAILED, error, generation, now);
    next
}

/// The status write a worker waits for.
#[derive(Debug)]
struct Writing {
    request: RequestId,
    key: ObjectKey,
    recheck: Option<SimTime>,
}

/// The disruption controller.
pub struct DisruptionController {
    client: ClientId,
    user: UserInfo,
    queue: WorkQueue<ObjectKey>,
    /// Budgets to queue again (rate-limited) once a pending eviction falls due, by key: the
    /// earliest time asked for (upstream's `recheckQueue`).
    rechecks: BTreeMap<ObjectKey, SimTime>,
    wakes: BTreeSet<SimTime>,
    /// The one worker's status write in flight.
    writing: Option<Writing>,
    counters: DisruptionCounters,
}

impl DisruptionController {
    /// The controller speaking as `client`, with its service account.
    pub fn new(client: ClientId) -> Self {
        let user = UserInfo::kube_system_service_account("disruption-controller");
        DisruptionController {
            client,
            user,
            queue: WorkQueue::new(RateLimits::default()),
            rechecks: BTreeMap::new(),
            wakes: BTreeSet::new(),
            writing: None,
            counters: DisruptionCounters::default(),
        }
    }

    /// What the controller has done so far.
    pub fn counters(&self) -> DisruptionCounters {
        self.counters
    }

    fn handle_delta(&mut self, kind: Kind, delta: Delta, informers: &InformerSet) {
        let (Delta::Added(object) | Delta::Updated(_, object) | Delta::Deleted(object)) = delta;
        match kind {
            Kind::PodDisruptionBudget => self.queue.add(object.key()),
            Kind::Pod => {
                if let Some(pod) = object.as_pod()
                    && let Some(key) = budget_for_pod(informers, pod)
                {
                    self.queue.add(key);
                }
            }
            _ => {}
        }
    }

    /// Hands the next budget to the worker, if it is free and the caches have synced; sets the
    /// wake-up for the next held key or recheck.
    fn pump(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        while self.writing.is_none() && informers.has_synced_kinds(&KINDS) {
            let Some(key) = self.queue.get() else { break };
            self.sync(informers, key, cx);
        }
        let next = self
            .queue
            .next_wake()
            .into_iter()
            .chain(self.rechecks.values().copied())
            .min();
        if let Some(at) = next
            && self.wakes.insert(at)
        {
            cx.set_timer(at, QUEUE_WAKE);
        }
    }

    /// Upstream `sync`: works the budget's status out and sends it if it changed.
    fn sync(&mut self, informers: &InformerSet, key: ObjectKey, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        self.counters.syncs += 1;
        let Some(pdb) = informers
            .cache(Kind::PodDisruptionBudget)
            .get(&key)
            .and_then(|o| o.as_pdb())
            .cloned()
        else {
            self.finish(&key, true, now);
            return;
        };
        let pods = pods_of(informers, &pdb);
        let refs: Vec<&Pod> = pods.iter().map(|p| &**p).collect();
        let caches = Caches { informers };
        let (write, recheck) = match compute(&pdb, &refs, &caches, now) {
            Ok(computed) => (updated_status(&pdb, &computed, now), computed.recheck),
            Err(error) => {
                self.counters.failures += 1;
                (Some(fail_safe(&pdb, error, now)), None)
            }
        };
        let Some(next) = write else {
            self.after_success(&key, recheck, now);
            return;
        };
        self.counters.status_writes += 1;
        let object = Object::PodDisruptionBudget(Box::new(next));
        let update = Request::update(
            self.client,
            self.user.clone(),
            object,
            Some(Subresource::Status),
        );
        let request = cx.api.submit(now, update, cx.out);
        self.writing = Some(Writing {
            request,
            key,
            recheck,
        });
    }

    /// A sync that succeeded: forgotten, and looked at again when its first pending eviction
    /// falls due.
    fn after_success(&mut self, key: &ObjectKey, recheck: Option<SimTime>, now: SimTime) {
        if let Some(at) = recheck {
            let due = self.rechecks.entry(key.clone()).or_insert(at);
            *due = (*due).min(at);
        }
        self.finish(key, true, now);
    }

    fn finish(&mut self, key: &ObjectKey, ok: bool, now: SimTime) {
        self.queue.done(key);
        if ok {
            self.queue.forget(key);
        } else {
            self.queue.add_rate_limited(key.clone(), now);
        }
    }

    fn on_write_answered(&mut self, response: &Response, now: SimTime) {
        let Some(writing) = self.writing.take() else {
            return;
        };
        match response {
            Ok(_) => self.after_success(&writing.key, writing.recheck, now),
            // Deleted meanwhile: nothing left to keep.
            Err(ApiError::NotFound { .. }) => self.finish(&writing.key, true, now),
            Err(ApiError::Conflict { .. }) => {
                self.counters.conflicts += 1;
                self.finish(&writing.key, false, now);
            }
            Err(_) => {
                self.counters.failures += 1;
                self.finish(&writing.key, false, now);
            }
        }
    }
}

/// Upstream `getPdbForPod`: the first of the pod's budgets as the lister finds them.
fn budget_for_pod(informers: &InformerSet, pod: &Pod) -> Option<ObjectKey> {
    let namespace = pod.metadata.namespace.as_str();
    informers
        .in_namespace(Kind::PodDisruptionBudget, namespace)
        .find(|(_, o)| {
            o.as_pdb()
                .is_some_and(|b| b.lists_for(namespace, &pod.metadata.labels))
        })
        .map(|(key, _)| key.clone())
}

/// The budget's pods, as the pod lister selects them (`getPodsForPdb`).
fn pods_of(informers: &InformerSet, pdb: &PodDisruptionBudget) -> Vec<Arc<Pod>> {
    let namespace = pdb.metadata.namespace.as_str();
    informers
        .in_namespace(Kind::Pod, namespace)
        .filter_map(|(_, o)| o.as_pod())
        .filter(|p| pdb.covers(namespace, &p.metadata.labels))
        .cloned()
        .collect()
}

/// The controller's listers as the scale finders read them.
struct Caches<'a> {
    informers: &'a InformerSet,
}

impl Caches<'_> {
    fn get<'b>(&'b self, kind: Kind, namespace: &str, name: &str) -> Option<&'b Object> {
        self.informers
            .cache(kind)
            .get(&ObjectKey::new(namespace, name))
            .map(|o| &**o)
    }
}

/// Whether `reference` names `kind` in one of `groups` (upstream `verifyGroupKind`).
fn is_group_kind(reference: &OwnerReference, kind: &str, groups: &[&str]) -> bool {
    let group = reference
        .api_version
        .rsplit_once('/')
        .map_or("", |(g, _)| g);
    reference.kind == kind && groups.contains(&group)
}

impl ScaleSource for Caches<'_> {
    fn scale_of(&self, reference: &OwnerReference, namespace: &str) -> Option<ControllerScale> {
        const APPS: &[&str] = &["apps", "extensions"];
        if is_group_kind(reference, "ReplicaSet", APPS) {
            let Some(Object::ReplicaSet(rs)) =
                self.get(Kind::ReplicaSet, namespace, &reference.name)
            else {
                return None;
            };
            if rs.metadata.uid != reference.uid {
                return None;
            }
            // getPodDeployment: a ReplicaSet of a Deployment counts as the Deployment.
            if let Some(owner) = rs.metadata.controller_ref()
                && owner.kind == "Deployment"
            {
                return self.deployment_scale(owner, namespace);
            }
            return Some((rs.metadata.uid, rs.spec.replicas.unwrap_or(1)));
        }
        if is_group_kind(reference, "Deployment", APPS) {
            return self.deployment_scale(reference, namespace);
        }
        None
    }
}

impl Caches<'_> {
    fn deployment_scale(
        &self,
        reference: &OwnerReference,
        namespace: &str,
    ) -> Option<ControllerScale> {
        if !is_group_kind(reference, "Deployment", &["apps", "extensions"]) {
            return None;
        }
        match self.get(Kind::Deployment, namespace, &reference.name) {
            Some(Object::Deployment(d)) if d.metadata.uid == reference.uid => {
                Some((d.metadata.uid, d.spec.desired_replicas()))
            }
            _ => None,
        }
    }
}

impl Controller for DisruptionController {
    fn client(&self) -> ClientId {
        self.client
    }

    fn kinds(&self) -> &[Kind] {
        &KINDS
    }

    fn on_delta(&mut self, kind: Kind, delta: Delta, informers: &InformerSet, _now: SimTime) {
        self.handle_delta(kind, delta, informers);
    }

    fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        _informers: &InformerSet,
        cx: &mut ComponentContext<'_>,
    ) {
        if self.writing.as_ref().is_some_and(|w| w.request == request) {
            self.on_write_answered(response, cx.now());
        }
    }

    fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        self.pump(informers, cx);
    }

    fn on_timer(&mut self, timer: Timer, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if timer != QUEUE_WAKE {
            return;
        }
        let now = cx.now();
        self.wakes.retain(|&at| at > now);
        let due: Vec<ObjectKey> = self
            .rechecks
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.rechecks.remove(&key);
            self.queue.add_rate_limited(key, now);
        }
        self.queue.wake(now);
        self.pump(informers, cx);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::labels::LabelSelector;
    use crate::api::pod::{POD_READY, PodCondition};

    fn at(seconds: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(seconds)
    }

    /// Every pod's controller is one ReplicaSet (uid 7) whose scale is `scale`.
    struct OneController {
        scale: i32,
    }

    impl ScaleSource for OneController {
        fn scale_of(&self, reference: &OwnerReference, _: &str) -> Option<ControllerScale> {
            (reference.uid == Uid(7)).then_some((Uid(7), self.scale))
        }
    }

    fn pod(name: &str, ready: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.metadata.namespace = "default".into();
        p.metadata.labels.insert("app".into(), "web".into());
        p.metadata.owner_references.push(OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web-1".into(),
            uid: Uid(7),
            controller: true,
            ..OwnerReference::default()
        });
        if ready {
            p.status.conditions.push(PodCondition {
                type_: POD_READY.into(),
                status: "True".into(),
                ..PodCondition::default()
            });
        }
        p
    }

    fn budget(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudget {
        let mut b = PodDisruptionBudget::default();
        b.metadata.name = "web-pdb".into();
        b.metadata.namespace = "default".into();
        b.metadata.generation = 1;
        let web = [("app".to_string(), "web".to_string())]
            .into_iter()
            .collect();
        b.spec.selector = Some(LabelSelector::from_match_labels(web));
        b.spec.min_available = min;
        b.spec.max_unavailable = max;
        b
    }

    fn int(n: i64) -> Option<IntOrString> {
        Some(IntOrString::Int(n))
    }

    fn pct(p: &str) -> Option<IntOrString> {
        Some(IntOrString::String(p.into()))
    }

    /// (expected, desired, current, allowed) of `pdb` over `pods` of a controller of `scale`.
    fn status(pdb: &PodDisruptionBudget, pods: &[Pod], scale: i32) -> (i32, i32, i32, i32) {
        let refs: Vec<&Pod> = pods.iter().collect();
        let c = compute(pdb, &refs, &OneController { scale }, at(100)).expect("computes");
        (
            c.expected,
            c.desired_healthy,
            c.current_healthy,
            c.disruptions_allowed(),
        )
    }

    fn ready_pods(n: usize) -> Vec<Pod> {
        (0..n).map(|i| pod(&format!("web-{i}"), true)).collect()
    }

    #[test]
    fn integer_and_percent_minimums() {
        // Five Ready pods of a controller of scale 5.
        let pods = ready_pods(5);
        // minAvailable 3: an integer expects the pods themselves (5); 5 − 3 = 2 allowed.
        assert_eq!(status(&budget(int(3), None), &pods, 5), (5, 3, 5, 2));
        // minAvailable 50 %: of the scale 5, 2.5 rounded up = 3 desired; 2 allowed.
        assert_eq!(status(&budget(pct("50%"), None), &pods, 5), (5, 3, 5, 2));
        // minAvailable 90 %: 4.5 rounded up = 5 desired; none allowed.
        assert_eq!(status(&budget(pct("90%"), None), &pods, 5), (5, 5, 5, 0));
        // minAvailable 7 > 5 pods: 5 − 7 < 0 gives 0, never negative.
        assert_eq!(status(&budget(int(7), None), &pods, 5), (5, 7, 5, 0));
        // A percentage counts the controller's scale, not the pods: scale 8 with 5 pods,
        // 50 % of 8 = 4 desired, 5 − 4 = 1 allowed.
        assert_eq!(status(&budget(pct("50%"), None), &pods, 8), (8, 4, 5, 1));
    }

    #[test]
    fn integer_and_percent_maximums() {
        let pods = ready_pods(5);
        // maxUnavailable 1: expected is the scale 5; 5 − 1 = 4 desired; 5 − 4 = 1 allowed.
        assert_eq!(status(&budget(None, int(1)), &pods, 5), (5, 4, 5, 1));
        // maxUnavailable 30 %: 1.5 rounded up = 2 (upstream rounds up here too); desired
        // 5 − 2 = 3; 2 allowed.
        assert_eq!(status(&budget(None, pct("30%")), &pods, 5), (5, 3, 5, 2));
        // maxUnavailable 10 %: 0.5 rounded up = 1; desired 4; 1 allowed.
        assert_eq!(status(&budget(None, pct("10%")), &pods, 5), (5, 4, 5, 1));
        // maxUnavailable 0 %: desired 5, none allowed.
        assert_eq!(status(&budget(None, pct("0%")), &pods, 5), (5, 5, 5, 0));
        // maxUnavailable 9 > scale 5: desired 5 − 9 clamps to 0; all 5 healthy may go.
        assert_eq!(status(&budget(None, int(9)), &pods, 5), (5, 0, 5, 5));
        // Two of the five not Ready: current 3; maxUnavailable 1 → desired 4 → 0 allowed.
        let mut some_unready = ready_pods(3);
        some_unready.extend([pod("web-3", false), pod("web-4", false)]);
        assert_eq!(
            status(&budget(None, int(1)), &some_unready, 5),
            (5, 4, 3, 0)
        );
    }

    #[test]
    fn no_expected_pods_allow_no_disruption() {
        // Scale 0 and no pods: expected 0, so 0 allowed even with maxUnavailable 1 (desired
        // 0 − 1 clamps to 0, current 0).
        assert_eq!(status(&budget(None, int(1)), &[], 0), (0, 0, 0, 0));
        // minAvailable 0 of no pods: expected 0 (the pods), 0 allowed.
        assert_eq!(status(&budget(int(0), None), &[], 3), (0, 0, 0, 0));
    }

    #[test]
    fn a_controller_no_finder_knows_fails_the_sync_safe() {
        let mut orphaned = ready_pods(2);
        orphaned[1].metadata.owner_references[0].uid = Uid(99);
        let refs: Vec<&Pod> = orphaned.iter().collect();
        let pdb = budget(None, int(1));
        let err = compute(&pdb, &refs, &OneController { scale: 2 }, at(1));
        assert_eq!(
            err,
            Err("found no controllers for pod \"web-1\"".to_string())
        );
        let safe = fail_safe(&pdb, "found no controllers".into(), at(1));
        assert_eq!(safe.status.disruptions_allowed, 0);
        let condition = safe.condition(crate::api::pdb::DISRUPTION_ALLOWED).cloned();
        assert_eq!(
            condition.map(|c| (c.status, c.reason)),
            Some(("False".into(), "SyncFailed".into()))
        );
        // With an integer minAvailable the controllers are not looked at: the pod without
        // a controller is fine, and a pod with none at all is merely unmanaged with a percent.
        assert!(
            compute(
                &budget(int(1), None),
                &refs,
                &OneController { scale: 2 },
                at(1)
            )
            .is_ok()
        );
        let mut unmanaged = ready_pods(3);
        unmanaged[2].metadata.owner_references.clear();
        let refs: Vec<&Pod> = unmanaged.iter().collect();
        let c = compute(
            &budget(pct("50%"), None),
            &refs,
            &OneController { scale: 2 },
            at(1),
        )
        .expect("unmanaged pods are a warning");
        // Scale 2 (the unmanaged pod adds nothing): 50 % of 2 = 1 desired; 3 Ready − 1 = 2.
        assert_eq!(
            (c.expected, c.desired_healthy, c.disruptions_allowed()),
            (2, 1, 2)
        );
        assert_eq!(c.unmanaged, vec!["web-2".to_string()]);
    }

    #[test]
    fn an_evicted_pod_counts_as_away_for_two_minutes() {
        let pods = ready_pods(3);
        let mut pdb = budget(None, int(1));
        // web-0 was evicted at 100 s and is not terminating yet; web-1 at 10 s, long ago.
        pdb.status.disrupted_pods.insert("web-0".into(), at(100));
        pdb.status.disrupted_pods.insert("web-1".into(), at(10));
        let refs: Vec<&Pod> = pods.iter().collect();
        let c = compute(&pdb, &refs, &OneController { scale: 3 }, at(150)).expect("computes");
        // web-0 is due at 100 + 120 = 220 s > 150 s: still pending, not healthy; web-1 was
        // due at 130 s < 150 s: overdue, dropped and healthy again. current 2, desired
        // 3 − 1 = 2: none allowed; recheck at 220 s.
        assert_eq!(c.disrupted.keys().collect::<Vec<_>>(), vec!["web-0"]);
        assert_eq!(c.recheck, Some(at(220)));
        assert_eq!((c.current_healthy, c.disruptions_allowed()), (2, 0));
        // At 220 s exactly the entry is kept (not yet before now) but web-0 counts again.
        let c = compute(&pdb, &refs, &OneController { scale: 3 }, at(220)).expect("computes");
        assert_eq!((c.current_healthy, c.disrupted.len()), (3, 1));
        // A terminating pod is never counted, nor kept in the map.
        let mut going = ready_pods(3);
        going[0].metadata.deletion_timestamp = Some(at(130));
        let refs: Vec<&Pod> = going.iter().collect();
        let c = compute(&pdb, &refs, &OneController { scale: 3 }, at(150)).expect("computes");
        assert!(c.disrupted.is_empty());
        assert_eq!(c.current_healthy, 2);
    }

    #[test]
    fn the_status_is_written_only_when_it_changes() {
        let pods = ready_pods(3);
        let refs: Vec<&Pod> = pods.iter().collect();
        let pdb = budget(None, int(1));
        let c = compute(&pdb, &refs, &OneController { scale: 3 }, at(5)).expect("computes");
        let written = updated_status(&pdb, &c, at(5)).expect("a first status");
        assert_eq!(written.status.observed_generation, 1);
        assert_eq!(written.status.disruptions_allowed, 1);
        assert!(written.conditions_are_up_to_date());
        assert_eq!(updated_status(&written, &c, at(6)), None);
    }
}
