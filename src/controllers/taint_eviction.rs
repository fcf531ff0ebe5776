//! The taint eviction controller (upstream `pkg/controller/tainteviction/
//! taint_eviction.go`, its own controller since `SeparateTaintEvictionController`): deletes the
//! pods of nodes with NoExecute taints they do not tolerate long enough.
//!
//! It reads kube-controller-manager's shared node and pod informers. For each pod on a node
//! with NoExecute taints:
//!
//! * a taint it does not tolerate ⇒ it is deleted now;
//! * every taint tolerated, the smallest `tolerationSeconds` of the tolerations used (the
//!   first that tolerates each taint, [`min_toleration_seconds`]) is `n` ⇒ it is deleted `n`
//!   seconds after the controller saw the taints (a pod whose deletion is already scheduled
//!   keeps its time, as upstream's `processPodOnNode` keeps the earlier work);
//! * tolerated without `tolerationSeconds` ⇒ never; and once the node has no NoExecute taint
//!   left, every scheduled deletion of its pods is cancelled.
//!
//! A node event counts only if its NoExecute taints changed; a pod event only if its node or
//! tolerations changed (or it is gone, which cancels its deletion). The deletion
//! (`addConditionAndDeletePod`) first sets the pod's `DisruptionTarget` condition (reason
//! `DeletionByTaintManager`), then deletes it with its own grace period. Left out: the
//! Events upstream records (`TaintManagerEviction`), and the five retries of a failed delete.

use crate::controllers::pods_by_node::{PodsByNode, pod_key, pods_of};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::pod::{DISRUPTION_TARGET, Pod, PodCondition};
use crate::api::taints::{Taint, TaintEffect, find_untolerated_taint, min_toleration_seconds};
use crate::api::{Kind, ObjectKey};
use crate::apiserver::{ClientId, PatchOp, Request, RequestId, Response, UserInfo};
use crate::client::informer::Delta;
use crate::client::informer_set::InformerSet;
use crate::component::{ComponentContext, Timer};
use crate::controllers::kube_controller_manager::Controller;
use crate::sim::{SimDuration, SimTime};

/// The kinds the controller reads.
const KINDS: [Kind; 2] = [Kind::Node, Kind::Pod];

/// The timer that wakes the controller when a deletion is due.
const EVICTION_DUE: Timer = Timer {
    code: 1,
    background: false,
    generation: 0,
};

/// A pod's scheduled deletion (upstream's `TimedWorker`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Scheduled {
    created_at: SimTime,
    fire_at: SimTime,
}

/// What the controller has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaintEvictionCounters {
    /// Pods deleted.
    pub evictions: u64,
    /// Scheduled deletions cancelled.
    pub cancelled: u64,
}

/// The taint eviction controller.
pub struct TaintEvictionController {
    client: ClientId,
    user: UserInfo,
    /// Each tainted node's NoExecute taints (`taintedNodes`).
    tainted: BTreeMap<String, Vec<Taint>>,
    /// The pods bound to each node.
    pods_by_node: PodsByNode,
    scheduled: BTreeMap<ObjectKey, Scheduled>,
    due: BTreeSet<(SimTime, ObjectKey)>,
    /// Nodes and pods whose handling is due (the controller's two work queues).
    nodes_to_handle: BTreeSet<String>,
    pods_to_handle: BTreeSet<ObjectKey>,
    wakes: BTreeSet<SimTime>,
    counters: TaintEvictionCounters,
}

/// The NoExecute taints of `taints`.
fn no_execute(taints: &[Taint]) -> Vec<Taint> {
    taints
        .iter()
        .filter(|t| t.effect == TaintEffect::NoExecute)
        .cloned()
        .collect()
}

impl TaintEvictionController {
    /// The controller speaking as `client`, with its service account.
    pub fn new(client: ClientId) -> Self {
        let user = UserInfo::kube_system_service_account("taint-eviction-controller");
        TaintEvictionController {
            client,
            user,
            tainted: BTreeMap::new(),
            pods_by_node: PodsByNode::default(),
            scheduled: BTreeMap::new(),
            due: BTreeSet::new(),
            nodes_to_handle: BTreeSet::new(),
            pods_to_handle: BTreeSet::new(),
            wakes: BTreeSet::new(),
            counters: TaintEvictionCounters::default(),
        }
    }

    /// What the controller has done so far.
    pub fn counters(&self) -> TaintEvictionCounters {
        self.counters
    }

    /// When each pod's deletion is due, by pod.
    pub fn scheduled_deletions(&self) -> BTreeMap<ObjectKey, SimTime> {
        self.scheduled
            .iter()
            .map(|(k, s)| (k.clone(), s.fire_at))
            .collect()
    }

    fn cancel(&mut self, key: &ObjectKey) {
        if let Some(s) = self.scheduled.remove(key) {
            self.due.remove(&(s.fire_at, key.clone()));
            self.counters.cancelled += 1;
        }
    }

    fn schedule(&mut self, key: &ObjectKey, created_at: SimTime, fire_at: SimTime) {
        self.scheduled.insert(
            key.clone(),
            Scheduled {
                created_at,
                fire_at,
            },
        );
        self.due.insert((fire_at, key.clone()));
    }

    fn pod(informers: &InformerSet, key: &ObjectKey) -> Option<Arc<Pod>> {
        informers
            .cache(Kind::Pod)
            .get(key)
            .and_then(|o| o.as_pod().cloned())
    }

    /// `handleNodeUpdate`: the node's NoExecute taints as they are now, applied to its pods.
    fn handle_node(&mut self, informers: &InformerSet, name: &str, now: SimTime) {
        let node = informers
            .cache(Kind::Node)
            .get(&ObjectKey::cluster(name))
            .and_then(|o| o.as_node().cloned());
        let taints = node.map(|n| no_execute(&n.spec.taints)).unwrap_or_default();
        if taints.is_empty() {
            self.tainted.remove(name);
        } else {
            self.tainted.insert(name.to_string(), taints.clone());
        }
        for key in self.pods_by_node.on(name) {
            if taints.is_empty() {
                self.cancel(&key);
                continue;
            }
            if let Some(pod) = Self::pod(informers, &key) {
                self.process_pod_on_node(&key, &pod, &taints, now);
            }
        }
    }

    /// `handlePodUpdate`: a pod gone cancels its deletion; one on a tainted node is looked at.
    fn handle_pod(&mut self, informers: &InformerSet, key: &ObjectKey, now: SimTime) {
        let Some(pod) = Self::pod(informers, key) else {
            self.cancel(key);
            return;
        };
        let Some(taints) = self.tainted.get(&pod.spec.node_name).cloned() else {
            return;
        };
        self.process_pod_on_node(key, &pod, &taints, now);
    }

    /// `processPodOnNode`.
    fn process_pod_on_node(&mut self, key: &ObjectKey, pod: &Pod, taints: &[Taint], now: SimTime) {
        if taints.is_empty() {
            self.cancel(key);
            return;
        }
        let tolerations = &pod.spec.tolerations;
        if find_untolerated_taint(taints, tolerations, &[TaintEffect::NoExecute]).is_some() {
            self.cancel(key);
            self.schedule(key, now, now);
            return;
        }
        let Some(seconds) = min_toleration_seconds(tolerations, taints) else {
            // Tolerated forever.
            self.cancel(key);
            return;
        };
        let wait = SimDuration::from_secs(seconds);
        let trigger = now + wait;
        let mut start = now;
        if let Some(existing) = self.scheduled.get(key).copied() {
            start = existing.created_at;
            if start + wait < trigger {
                // The earlier work stands.
                return;
            }
            self.cancel(key);
        }
        self.schedule(key, start, trigger);
    }

    /// Deletes the pods whose time has come.
    fn evict_due(&mut self, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        while let Some((at, key)) = self.due.first().cloned() {
            if at > now {
                break;
            }
            self.due.remove(&(at, key.clone()));
            self.scheduled.remove(&key);
            self.counters.evictions += 1;
            let condition = PodCondition {
                type_: DISRUPTION_TARGET.into(),
                status: "True".into(),
                reason: "DeletionByTaintManager".into(),
                message: "Taint manager: deleting due to NoExecute taint".into(),
                last_transition_time: now,
            };
            let op = PatchOp::PodStatus {
                condition: Some(condition),
                nominated_node_name: None,
            };
            let user = self.user.clone();
            let patch = Request::patch(self.client, user.clone(), Kind::Pod, &key, op);
            cx.api.submit(now, patch, cx.out);
            let delete = Request::delete(self.client, user, Kind::Pod, &key, None);
            cx.api.submit(now, delete, cx.out);
        }
        if let Some(&(at, _)) = self.due.first()
            && self.wakes.insert(at)
        {
            cx.set_timer(at, EVICTION_DUE);
        }
    }
}

impl Controller for TaintEvictionController {
    fn client(&self) -> ClientId {
        self.client
    }

    fn kinds(&self) -> &[Kind] {
        &KINDS
    }

    fn on_delta(&mut self, kind: Kind, delta: Delta, _informers: &InformerSet, _now: SimTime) {
        match kind {
            Kind::Node => {
                let (old, new) = match &delta {
                    Delta::Added(n) => (None, Some(n)),
                    Delta::Updated(o, n) => (Some(o), Some(n)),
                    Delta::Deleted(o) => (Some(o), None),
                };
                let taints = |o: Option<&Arc<crate::api::Object>>| {
                    o.and_then(|o| o.as_node())
                        .map(|n| no_execute(&n.spec.taints))
                        .unwrap_or_default()
                };
                // `NodeUpdated`: only a change of NoExecute taints counts.
                if old.is_some() && new.is_some() && taints(old) == taints(new) {
                    return;
                }
                let name = new
                    .or(old)
                    .and_then(|o| o.as_node())
                    .map(|n| n.metadata.name.clone());
                if let Some(name) = name {
                    self.nodes_to_handle.insert(name);
                }
            }
            Kind::Pod => {
                let (old, new) = pods_of(&delta);
                self.pods_by_node.apply(old, new);
                // `PodUpdated`: only a change of node or tolerations counts.
                if let (Some(old), Some(new)) = (old, new)
                    && old.spec.node_name == new.spec.node_name
                    && old.spec.tolerations == new.spec.tolerations
                {
                    return;
                }
                if let Some(pod) = new.or(old) {
                    self.pods_to_handle.insert(pod_key(pod));
                }
            }
            _ => {}
        }
    }

    fn on_response(
        &mut self,
        _request: RequestId,
        _response: &Response,
        _informers: &InformerSet,
        _cx: &mut ComponentContext<'_>,
    ) {
    }

    fn settle(&mut self, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if !informers.has_synced_kinds(&KINDS) {
            return;
        }
        let now = cx.now();
        for name in std::mem::take(&mut self.nodes_to_handle) {
            self.handle_node(informers, &name, now);
        }
        for key in std::mem::take(&mut self.pods_to_handle) {
            self.handle_pod(informers, &key, now);
        }
        self.evict_due(cx);
    }

    fn on_timer(&mut self, timer: Timer, informers: &InformerSet, cx: &mut ComponentContext<'_>) {
        if timer == EVICTION_DUE {
            let now = cx.now();
            self.wakes.retain(|&at| at > now);
            self.settle(informers, cx);
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests;
