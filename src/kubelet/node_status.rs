//! The kubelet's heartbeats: its node's status (`pkg/kubelet/kubelet_node_status.go`,
//! `pkg/kubelet/nodestatus`) and its lease (`pkg/kubelet/nodelease`, component-helpers'
//! lease controller).
//!
//! Node status: every `nodeStatusUpdateFrequency` (10 s, plus up to 4 % jitter as
//! `wait.JitterUntil` adds, from the node's `kubelet/heartbeat/<node>` stream) the kubelet
//! computes its node's status — the `Ready`, `MemoryPressure`, `DiskPressure` and
//! `PIDPressure` conditions with a fresh heartbeat, the images on the node (largest first, at
//! most `nodeStatusMaxImages`), its pod capacity (`maxPods`) where the node declares none —
//! and patches it only if it differs from the node it knows (heartbeat times aside) or
//! `nodeStatusReportFrequency` (5 min) has passed since its last report.
//!
//! Lease: `kube-node-lease/<node>`, held by the node, `nodeLeaseDurationSeconds` (40) long and
//! renewed every quarter of it (10 s, plus up to 4 % jitter, counted from the end of the
//! previous renewal): got (and created when missing) once, then updated from the version the
//! last write returned; a conflict gets it again.
//!
//! Both loops start when the kubelet first sees its node, and their timers are background
//! work: they do not keep a run from ending as quiescent.

use std::sync::Arc;

use rand::RngExt;

use super::wakeups::Wake;
use super::{Env, NodeAgent, Pending};
use crate::api::lease::{Lease, NODE_LEASE_NAMESPACE};
use crate::api::meta::{OwnerReference, ResourceVersion};
use crate::api::node::{Node, NodeCondition};
use crate::api::quantity::{Format, Quantity};
use crate::api::resources::PODS;
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{ApiError, NodeStatusPatch, PatchOp, Request, Response, ResponseBody};
use crate::sim::{SimDuration, SimRng, SimTime};

/// The jitter factor of both heartbeat loops (`wait.JitterUntil(…, 0.04, …)`).
const JITTER_FACTOR: f64 = 0.04;

/// Which request of a lease sync is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseStep {
    /// Getting the lease.
    Get,
    /// Creating it.
    Create,
    /// Renewing it.
    Update,
}

/// The state of a kubelet's heartbeat loops.
#[derive(Debug, Default)]
pub struct Heartbeat {
    running: bool,
    /// When the node status was last written.
    last_report: Option<SimTime>,
    status_in_flight: bool,
    /// The lease as the last write returned it.
    lease: Option<Arc<Object>>,
    lease_in_flight: bool,
    /// The node version and the count of images on the node when the node was last found to
    /// report what the kubelet would: until either moves, it still does.
    status_matched: Option<(ResourceVersion, usize)>,
}

impl Heartbeat {
    /// Whether the loops have started.
    pub fn running(&self) -> bool {
        self.running
    }
}

/// `period` plus up to `JITTER_FACTOR` of it.
fn jittered(period: SimDuration, rng: &mut SimRng) -> SimDuration {
    let extra: f64 = rng.random::<f64>() * JITTER_FACTOR * period.as_nanos() as f64;
    SimDuration::from_nanos(period.as_nanos() + extra as u64)
}

impl NodeAgent {
    /// Starts the node status and lease loops (each syncs at once, then periodically).
    pub(super) fn start_heartbeats(&mut self, env: &mut Env<'_, '_>) {
        self.heartbeat.running = true;
        self.node_status_tick(env);
        self.lease_tick(env);
    }

    /// The node status loop's tick.
    pub(super) fn node_status_tick(&mut self, env: &mut Env<'_, '_>) {
        let period = env.settings.node_status_update_frequency;
        let next = env.now + jittered(period, &mut self.heartbeat_rng);
        env.wake_background(next, Wake::NodeStatus);
        if self.heartbeat.status_in_flight {
            return;
        }
        let Some(node) = self.node.clone() else {
            return;
        };
        let changed = self.status_changed(&node, env);
        let report_due = self
            .heartbeat
            .last_report
            .is_some_and(|at| env.now - at >= env.settings.node_status_report_frequency);
        if !changed && !report_due {
            return;
        }
        let patch = self.node_status(&node, env);
        let op = PatchOp::KubeletNodeStatus(Box::new(patch));
        let key = ObjectKey::cluster(self.name.clone());
        let request = Request::patch(self.client, self.user.clone(), Kind::Node, &key, op);
        let id = env.submit(request);
        self.requests.insert(id, super::Pending::NodeStatus);
        self.heartbeat.status_in_flight = true;
    }

    /// The status the kubelet reports for `node` now.
    fn node_status(&self, node: &Node, env: &Env<'_, '_>) -> NodeStatusPatch {
        let now = env.now;
        let conditions = HEALTHY_CONDITIONS
            .into_iter()
            .map(|(type_, status, reason, message)| NodeCondition {
                type_: type_.to_string(),
                status: status.to_string(),
                reason: reason.to_string(),
                message: message.to_string(),
                last_heartbeat_time: now,
                last_transition_time: transition_time(node, type_, status, now),
            })
            .collect();
        let mut patch = NodeStatusPatch {
            conditions,
            images: self
                .images
                .status_images(env.settings.node_status_max_images)
                .to_vec(),
            ..NodeStatusPatch::default()
        };
        let max_pods = Quantity::from_int(env.settings.max_pods, Format::DecimalSI);
        if !node.status.capacity.contains_key(PODS) {
            patch.capacity.insert(PODS.to_string(), max_pods);
        }
        if !node.status.allocatable.contains_key(PODS) {
            patch.allocatable.insert(PODS.to_string(), max_pods);
        }
        patch
    }

    /// Whether the status [`node_status`](Self::node_status) would report differs from what
    /// the node has, heartbeat times aside (`nodeStatusHasChanged`). Compared in place rather
    /// than built: most ticks find nothing to write.
    fn status_changed(&mut self, node: &Node, env: &Env<'_, '_>) -> bool {
        let seen = (node.metadata.resource_version, self.images.image_count());
        if self.heartbeat.status_matched == Some(seen) {
            return false;
        }
        let changed = self.status_differs(node, env);
        // A node not from the apiserver (version 0) has no version to go by.
        self.heartbeat.status_matched = (!changed && seen.0.0 != 0).then_some(seen);
        changed
    }

    /// [`status_changed`](Self::status_changed), compared field by field.
    fn status_differs(&self, node: &Node, env: &Env<'_, '_>) -> bool {
        let condition_differs =
            HEALTHY_CONDITIONS
                .into_iter()
                .any(|(type_, status, reason, message)| {
                    node.status
                        .conditions
                        .iter()
                        .find(|c| c.type_ == type_)
                        .is_none_or(|c| {
                            c.status != status
                                || c.reason != reason
                                || c.message != message
                                || c.last_transition_time
                                    != transition_time(node, type_, status, env.now)
                        })
                });
        condition_differs
            || node.status.images
                != self
                    .images
                    .status_images(env.settings.node_status_max_images)
            || !node.status.capacity.contains_key(PODS)
            || !node.status.allocatable.contains_key(PODS)
    }

    /// The apiserver answered a node status write.
    pub(super) fn node_status_written(&mut self, response: &Response, env: &mut Env<'_, '_>) {
        self.heartbeat.status_in_flight = false;
        if response.is_ok() {
            self.heartbeat.last_report = Some(env.now);
        }
    }

    /// The lease loop's tick.
    pub(super) fn lease_tick(&mut self, env: &mut Env<'_, '_>) {
        if self.heartbeat.lease_in_flight {
            return;
        }
        match self.heartbeat.lease.clone() {
            Some(latest) => self.renew_lease(&latest, env),
            None => {
                let key = ObjectKey::new(NODE_LEASE_NAMESPACE, self.name.clone());
                let request = Request::get(self.client, self.user.clone(), Kind::Lease, &key);
                self.send_lease(request, LeaseStep::Get, env);
            }
        }
    }

    fn send_lease(&mut self, request: Request, step: LeaseStep, env: &mut Env<'_, '_>) {
        let id = env.submit(request);
        self.requests.insert(id, Pending::Lease(step));
        self.heartbeat.lease_in_flight = true;
    }

    /// Renews `latest` (an update from the version it has).
    fn renew_lease(&mut self, latest: &Object, env: &mut Env<'_, '_>) {
        let Object::Lease(lease) = latest else {
            return;
        };
        let mut lease = lease.clone();
        lease.spec.renew_time = Some(env.now);
        let request = Request::update(self.client, self.user.clone(), Object::Lease(lease), None);
        self.send_lease(request, LeaseStep::Update, env);
    }

    /// The lease this kubelet creates: held by the node, owned by the Node object.
    fn new_lease(&self, now: SimTime, env: &Env<'_, '_>) -> Lease {
        let mut lease = Lease::default();
        lease.metadata.name.clone_from(&self.name);
        lease.metadata.namespace = NODE_LEASE_NAMESPACE.to_string();
        if let Some(node) = &self.node {
            lease.metadata.owner_references = vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: self.name.clone(),
                uid: node.metadata.uid,
                ..OwnerReference::default()
            }];
        }
        lease.spec.holder_identity.clone_from(&self.name);
        lease.spec.lease_duration_seconds = env.settings.node_lease_duration_seconds;
        lease.spec.renew_time = Some(now);
        lease
    }

    /// The apiserver answered a lease request.
    pub(super) fn lease_answered(
        &mut self,
        step: LeaseStep,
        response: &Response,
        env: &mut Env<'_, '_>,
    ) {
        self.heartbeat.lease_in_flight = false;
        let object = match response {
            Ok(ResponseBody::Object(object)) => Some(Arc::clone(object)),
            _ => None,
        };
        match (step, object, response) {
            (LeaseStep::Get, Some(found), _) => {
                // It exists: renew it now.
                self.renew_lease(&found, env);
                return;
            }
            (LeaseStep::Get, None, Err(ApiError::NotFound { .. })) => {
                let lease = self.new_lease(env.now, env);
                let request = Request::create(
                    self.client,
                    self.user.clone(),
                    Object::Lease(Box::new(lease)),
                );
                self.send_lease(request, LeaseStep::Create, env);
                return;
            }
            (LeaseStep::Create | LeaseStep::Update, Some(written), _) => {
                self.heartbeat.lease = Some(written);
            }
            (LeaseStep::Update, None, Err(ApiError::Conflict { .. }))
            | (LeaseStep::Create, None, Err(ApiError::AlreadyExists { .. })) => {
                // Someone else wrote it: get it again, then renew.
                self.heartbeat.lease = None;
                let key = ObjectKey::new(NODE_LEASE_NAMESPACE, self.name.clone());
                let request = Request::get(self.client, self.user.clone(), Kind::Lease, &key);
                self.send_lease(request, LeaseStep::Get, env);
                return;
            }
            _ => self.heartbeat.lease = None,
        }
        // The loop slides: the next renewal is a period after this one ended.
        let interval = env.settings.lease_renew_interval();
        let next = env.now + jittered(interval, &mut self.heartbeat_rng);
        env.wake_background(next, Wake::Lease);
    }
}

/// The conditions a healthy node's kubelet reports: type, status, reason, message.
const HEALTHY_CONDITIONS: [(&str, &str, &str, &str); 4] = [
    (
        "Ready",
        "True",
        "KubeletReady",
        "kubelet is posting ready status",
    ),
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    (
        "DiskPressure",
        "False",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
    ),
    (
        "PIDPressure",
        "False",
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
    ),
];

/// When `node`'s condition `type_` turned `status`, or `now` if it is not in that status.
fn transition_time(node: &Node, type_: &str, status: &str, now: SimTime) -> SimTime {
    node.status
        .conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or(now, |c| c.last_transition_time)
}
