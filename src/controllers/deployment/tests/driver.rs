//! A stand-in for the ReplicaSet controller and the kubelets, for the Deployment controller's
//! tests: it keeps each ReplicaSet's pod count at its `spec.replicas`, makes each pod Ready a
//! fixed delay after it was created, and writes each ReplicaSet's status (`replicas`,
//! `readyReplicas`, `availableReplicas` after `minReadySeconds`, `observedGeneration`) through
//! the apiserver, as those components do. [`Driver::kubelets_only`] plays the kubelets alone,
//! beside the real ReplicaSet controller: each pod that appears is Ready its delay later.
//!
//! It is deliberately simple, not faithful: it creates and deletes at once (no slow start), and
//! counts a pod it created as there, and one it deleted as gone, until its cache agrees; it
//! deletes the not-ready pods first, then the most recently ready, then the newest; it gathers
//! what arrives at one instant and acts once for all of it (a timer at the same instant fires
//! after the events already due).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::meta::OwnerReference;
use crate::api::pod::{POD_READY, Pod, PodCondition};
use crate::api::replicaset::{ReplicaSet, ReplicaSetStatus};
use crate::api::{Kind, Object, ObjectKey, ObjectMeta, Uid};
use crate::apiserver::{
    ClientId, ListOptions, PatchOp, Request, RequestId, Response, Subresource, UserInfo,
    WatchEvent, WatchId,
};
use crate::client::informer::{Delta, Informer};
use crate::component::{Component, ComponentContext, Timer};
use crate::sim::{SimDuration, SimTime};

/// The driver's client.
pub const DRIVER_CLIENT: ClientId = ClientId(90);

/// How long after its creation the `n`-th pod created becomes Ready.
pub type ReadyDelay = Box<dyn FnMut(u64) -> SimDuration>;

enum Pending {
    Create { pod: ObjectKey, index: u64 },
    Other,
}

enum Due {
    Flush,
    Ready(ObjectKey),
}

/// The ReplicaSet controller and the kubelets, played.
pub struct Driver {
    user: UserInfo,
    replica_sets: Informer,
    pods: Informer,
    ready_after: ReadyDelay,
    created: u64,
    /// Pods created and not yet in the cache, with their ReplicaSet's uid.
    creating: BTreeMap<ObjectKey, Uid>,
    /// Pods deleted and still in the cache.
    deleting: BTreeSet<ObjectKey>,
    requests: BTreeMap<RequestId, Pending>,
    timers: BTreeMap<u32, Due>,
    next_timer: u32,
    flush_armed: bool,
    /// Only make pods Ready (the ReplicaSet controller runs beside it).
    kubelets_only: bool,
}

impl Driver {
    /// A driver whose `n`-th pod becomes Ready `ready_after(n)` after its creation.
    pub fn new(ready_after: ReadyDelay) -> Self {
        let user = UserInfo::new("test:driver", &["system:masters"]);
        let informer =
            |kind| Informer::new(kind, DRIVER_CLIENT, user.clone(), ListOptions::default());
        Driver {
            replica_sets: informer(Kind::ReplicaSet),
            pods: informer(Kind::Pod),
            user,
            ready_after,
            created: 0,
            creating: BTreeMap::new(),
            deleting: BTreeSet::new(),
            requests: BTreeMap::new(),
            timers: BTreeMap::new(),
            next_timer: 0,
            flush_armed: false,
            kubelets_only: false,
        }
    }

    /// A driver playing the kubelets only: the `n`-th pod to appear becomes Ready
    /// `ready_after(n)` after it appeared.
    pub fn kubelets_only(ready_after: ReadyDelay) -> Self {
        Driver {
            kubelets_only: true,
            ..Driver::new(ready_after)
        }
    }

    /// A new pod, seen as a kubelet sees it: Ready its delay later.
    fn pod_appeared(&mut self, pod: ObjectKey, cx: &mut ComponentContext<'_>) {
        let index = self.created;
        self.created += 1;
        let delay = (self.ready_after)(index);
        self.timer(cx.now() + delay, Due::Ready(pod), cx);
    }

    fn timer(&mut self, at: SimTime, due: Due, cx: &mut ComponentContext<'_>) {
        self.next_timer += 1;
        self.timers.insert(self.next_timer, due);
        cx.set_timer(
            at,
            Timer {
                code: self.next_timer,
                background: false,
                generation: 0,
            },
        );
    }

    fn arm_flush(&mut self, cx: &mut ComponentContext<'_>) {
        if !self.kubelets_only
            && !self.flush_armed
            && self.replica_sets.has_synced()
            && self.pods.has_synced()
        {
            self.flush_armed = true;
            self.timer(cx.now(), Due::Flush, cx);
        }
    }

    fn send(&mut self, request: Request, pending: Pending, cx: &mut ComponentContext<'_>) {
        let id = cx.api.submit(cx.now(), request, cx.out);
        self.requests.insert(id, pending);
    }

    /// The active pods of each ReplicaSet (by uid), not counting those being deleted.
    fn pods_by_rs(&self) -> BTreeMap<Uid, Vec<Arc<Pod>>> {
        let mut by_rs: BTreeMap<Uid, Vec<Arc<Pod>>> = BTreeMap::new();
        for o in self.pods.cache().values() {
            let Some(pod) = o.as_pod() else { continue };
            let Some(owner) = pod.metadata.controller_ref() else {
                continue;
            };
            if pod.metadata.is_terminating() || pod.is_terminal() {
                continue;
            }
            by_rs.entry(owner.uid).or_default().push(Arc::clone(pod));
        }
        by_rs
    }

    /// Creates or deletes pods to match every ReplicaSet, and writes the statuses.
    fn flush(&mut self, cx: &mut ComponentContext<'_>) {
        self.flush_armed = false;
        let cache = self.pods.cache();
        self.creating.retain(|pod, _| !cache.contains_key(pod));
        self.deleting.retain(|pod| cache.contains_key(pod));
        let by_rs = self.pods_by_rs();
        let replica_sets: Vec<ReplicaSet> = self
            .replica_sets
            .cache()
            .values()
            .filter_map(|o| match &**o {
                Object::ReplicaSet(rs) => Some((**rs).clone()),
                _ => None,
            })
            .collect();
        let mut next_available: Option<SimTime> = None;
        for rs in &replica_sets {
            let pods = by_rs.get(&rs.metadata.uid).cloned().unwrap_or_default();
            self.manage(rs, &pods, cx);
            let (status, next) = status_of(rs, &pods, cx.now());
            if let Some(t) = next {
                next_available = Some(next_available.map_or(t, |n: SimTime| n.min(t)));
            }
            if status != rs.status {
                let mut updated = rs.clone();
                updated.status = status;
                let request = Request::update(
                    DRIVER_CLIENT,
                    self.user.clone(),
                    Object::ReplicaSet(Box::new(updated)),
                    Some(Subresource::Status),
                );
                self.send(request, Pending::Other, cx);
            }
        }
        if let Some(at) = next_available {
            self.timer(at, Due::Flush, cx);
        }
    }

    fn manage(&mut self, rs: &ReplicaSet, pods: &[Arc<Pod>], cx: &mut ComponentContext<'_>) {
        let live: Vec<&Arc<Pod>> = pods
            .iter()
            .filter(|p| !self.deleting.contains(&key_of(&p.metadata)))
            .collect();
        let creating = self
            .creating
            .values()
            .filter(|&&uid| uid == rs.metadata.uid)
            .count() as i32;
        let have = live.len() as i32 + creating;
        let want = rs.replicas();
        if have < want {
            for _ in 0..want - have {
                self.create_pod(rs, cx);
            }
        } else if have > want && creating == 0 {
            let mut victims = live;
            victims.sort_by(|a, b| deletion_order(a, b));
            for pod in victims.into_iter().take((have - want) as usize) {
                let key = key_of(&pod.metadata);
                self.deleting.insert(key.clone());
                let request =
                    Request::delete(DRIVER_CLIENT, self.user.clone(), Kind::Pod, &key, None);
                self.send(request, Pending::Other, cx);
            }
        }
    }

    fn create_pod(&mut self, rs: &ReplicaSet, cx: &mut ComponentContext<'_>) {
        let index = self.created;
        self.created += 1;
        let template = &rs.spec.template;
        let pod = Pod {
            metadata: ObjectMeta {
                name: format!("{}-{index}", rs.metadata.name),
                namespace: rs.metadata.namespace.clone(),
                labels: template.metadata.labels.clone(),
                annotations: template.metadata.annotations.clone(),
                owner_references: vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "ReplicaSet".into(),
                    name: rs.metadata.name.clone(),
                    uid: rs.metadata.uid,
                    controller: true,
                    block_owner_deletion: true,
                    ..OwnerReference::default()
                }],
                ..ObjectMeta::default()
            },
            spec: template.spec.clone().into(),
            status: Default::default(),
        };
        let key = key_of(&pod.metadata);
        self.creating.insert(key.clone(), rs.metadata.uid);
        let request = Request::create(DRIVER_CLIENT, self.user.clone(), Object::Pod(Arc::new(pod)));
        let pending = Pending::Create { pod: key, index };
        self.send(request, pending, cx);
    }

    fn make_ready(&mut self, key: &ObjectKey, cx: &mut ComponentContext<'_>) {
        // A pod deleted meanwhile answers 404, which changes nothing.
        let op = PatchOp::PodStatus {
            condition: Some(PodCondition {
                type_: POD_READY.into(),
                status: "True".into(),
                last_transition_time: cx.now(),
                ..PodCondition::default()
            }),
            nominated_node_name: None,
        };
        let request = Request::patch(DRIVER_CLIENT, self.user.clone(), Kind::Pod, key, op);
        self.send(request, Pending::Other, cx);
    }
}

/// Not ready first, then the most recently ready, then the newest, then by name (last first).
fn deletion_order(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    let (ra, rb) = (a.status.ready_since(), b.status.ready_since());
    ra.is_some()
        .cmp(&rb.is_some())
        .then_with(|| rb.cmp(&ra))
        .then_with(|| {
            b.metadata
                .creation_timestamp
                .cmp(&a.metadata.creation_timestamp)
        })
        .then_with(|| b.metadata.name.cmp(&a.metadata.name))
}

/// The ReplicaSet's status from its pods at `now`, and when a ready pod not yet available
/// becomes so. Available: Ready, and for more than `minReadySeconds` (upstream
/// `IsPodAvailable`: the transition plus the delay must be before now).
fn status_of(
    rs: &ReplicaSet,
    pods: &[Arc<Pod>],
    now: SimTime,
) -> (ReplicaSetStatus, Option<SimTime>) {
    let min_ready = SimDuration::from_secs(u64::try_from(rs.spec.min_ready_seconds).unwrap_or(0));
    let mut status = ReplicaSetStatus {
        replicas: pods.len() as i32,
        fully_labeled_replicas: pods.len() as i32,
        observed_generation: rs.metadata.generation,
        ..ReplicaSetStatus::default()
    };
    let mut next = None;
    for pod in pods {
        let Some(since) = pod.status.ready_since() else {
            continue;
        };
        status.ready_replicas += 1;
        if min_ready.is_zero() || since + min_ready < now {
            status.available_replicas += 1;
        } else {
            let at = since + min_ready + SimDuration::from_nanos(1);
            next = Some(next.map_or(at, |n: SimTime| n.min(at)));
        }
    }
    (status, next)
}

fn key_of(meta: &ObjectMeta) -> ObjectKey {
    ObjectKey::new(meta.namespace.clone(), meta.name.clone())
}

impl Component for Driver {
    fn clients(&self) -> Vec<ClientId> {
        vec![DRIVER_CLIENT]
    }

    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        self.replica_sets.start(cx);
        self.pods.start(cx);
    }

    fn on_response(
        &mut self,
        _: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        let now = cx.now();
        if self
            .replica_sets
            .on_response(request, response, cx)
            .is_some()
            || self.pods.on_response(request, response, cx).is_some()
        {
            self.arm_flush(cx);
            return;
        }
        match self.requests.remove(&request) {
            Some(Pending::Create { pod, index }) => {
                if response.is_ok() {
                    let delay = (self.ready_after)(index);
                    self.timer(now + delay, Due::Ready(pod), cx);
                } else {
                    self.creating.remove(&pod);
                    self.arm_flush(cx);
                }
            }
            Some(Pending::Other) | None => {}
        }
    }

    fn on_watch_event(
        &mut self,
        _: ClientId,
        watch: WatchId,
        event: &WatchEvent,
        cx: &mut ComponentContext<'_>,
    ) {
        if self.replica_sets.owns_watch(watch) {
            self.replica_sets.on_watch_event(event, cx.now());
        } else if self.pods.owns_watch(watch) {
            for delta in self.pods.on_watch_event(event, cx.now()) {
                if let (true, Delta::Added(pod)) = (self.kubelets_only, delta) {
                    self.pod_appeared(pod.key(), cx);
                }
            }
        } else {
            return;
        }
        self.arm_flush(cx);
    }

    fn on_watch_ended(&mut self, _: ClientId, watch: WatchId, cx: &mut ComponentContext<'_>) {
        if !self.replica_sets.on_watch_ended(watch, cx) {
            self.pods.on_watch_ended(watch, cx);
        }
    }

    fn on_timer(&mut self, timer: Timer, cx: &mut ComponentContext<'_>) {
        match self.timers.remove(&timer.code) {
            Some(Due::Flush) => self.flush(cx),
            Some(Due::Ready(key)) => self.make_ready(&key, cx),
            None => {}
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
