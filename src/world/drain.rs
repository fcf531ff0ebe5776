//! `kubectl drain <node> --ignore-daemonsets --delete-emptydir-data --force`, as the scenario's
//! user runs it (upstream `staging/src/k8s.io/kubectl/pkg/drain`): cordon the node, list its
//! pods, evict each through the eviction API, and wait for every evicted pod to be gone.
//!
//! * **Which pods** (`GetPodsForDeletion`'s filters): a pod whose controller is a DaemonSet is
//!   left alone, unless it has finished (`--ignore-daemonsets`); so is a mirror pod (annotation
//!   `kubernetes.io/config.mirror`), which the API cannot delete. Pods with local storage and
//!   pods without a controller go too (`--delete-emptydir-data`, `--force`). kubesim does not
//!   model DaemonSets, so a DaemonSet named by a pod's controller reference is taken to exist
//!   (upstream reads it, and with `--force` would evict the pod of one that is gone).
//! * **Evictions** (`evictPods`), all pods at once: an eviction refused with 429 (a disruption
//!   budget at zero) is sent again 5 s later; 404 means the pod is gone already; any other
//!   error gives up on that pod.
//! * **Waiting** (`waitForDelete`): after its eviction, the pod is read at once and then every
//!   second until it is gone (404, or a pod of that name with another uid).
//! * **Timeout** (`--timeout`, counted from the first eviction; none by default): a pod whose
//!   eviction is retried or whose deletion is polled once the time is up is given up with
//!   "global timeout reached"; the node stays cordoned, as kubectl leaves it.
//!
//! The drain is done when every pod it evicts is gone or given up on; it counts what a
//! disruption budget made it do (refusals, retries) for the report.

use crate::api::labels::{FieldOperator, FieldRequirement, FieldSelector};
use crate::api::pod::{Pod, PodPhase};
use crate::api::{Kind, ObjectKey, Uid};
use crate::apiserver::{
    ApiError, ClientId, DeleteOptions, ListOptions, PatchOp, Request, Response, ResponseBody,
    UserInfo,
};
use crate::scenario::Drain;
use crate::sim::{SimDuration, SimTime};

/// How long kubectl waits before sending an eviction a budget refused again.
pub const EVICTION_RETRY: SimDuration = SimDuration::from_secs(5);
/// How often kubectl reads an evicted pod until it is gone (`waitForDelete`'s interval).
pub const DELETE_POLL: SimDuration = SimDuration::from_secs(1);
/// The annotation of a mirror pod (a static pod's shadow in the API).
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// What a request of a drain was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainStep {
    /// The cordon patch.
    Cordon,
    /// The list of the node's pods.
    List,
    /// The eviction of pod `n` of the drain.
    Evict(usize),
    /// A read of evicted pod `n`.
    Poll(usize),
}

/// What a drain has done, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainStats {
    /// Pods the drain set out to evict.
    pub pods: u32,
    /// Pods left alone: DaemonSet pods and mirror pods.
    pub skipped: u32,
    /// Evictions the apiserver accepted.
    pub evicted: u32,
    /// Evictions a disruption budget refused (429).
    pub blocked: u32,
    /// Evictions sent again after a refusal.
    pub retries: u32,
    /// Whether the timeout gave up on some pod.
    pub timed_out: bool,
    /// When every pod was gone or given up on (None: still draining at the end).
    pub finished_at: Option<SimTime>,
}

/// Where one pod of a drain is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PodState {
    /// Its eviction is to be sent (again) at this time.
    EvictAt(SimTime),
    /// Its eviction is out.
    Evicting,
    /// It is to be read at this time, to see whether it is gone.
    PollAt(SimTime),
    /// A read is out.
    Polling,
    /// Gone, or given up on.
    Done,
}

#[derive(Clone, Debug)]
struct DrainPod {
    key: ObjectKey,
    uid: Uid,
    state: PodState,
    /// Evictions sent for it so far.
    attempts: u32,
}

/// What a drain asks for next: requests to send, a time to be woken at, errors to report.
#[derive(Debug, Default)]
pub struct Next {
    /// Requests to send now, with what each is.
    pub requests: Vec<(Request, DrainStep)>,
    /// When to be woken (the earliest pending retry or read).
    pub wake_at: Option<SimTime>,
    /// Errors, in kubectl's words.
    pub errors: Vec<String>,
}

/// One drain in progress.
#[derive(Debug)]
pub struct DrainRun {
    drain: Drain,
    client: ClientId,
    user: UserInfo,
    deadline: Option<SimTime>,
    /// Whether the node's pods have been listed.
    listed: bool,
    pods: Vec<DrainPod>,
    /// What it has done.
    pub stats: DrainStats,
}

impl DrainRun {
    /// A drain as `user`; it starts with the cordon, returned in `Next`.
    pub fn start(drain: Drain, client: ClientId, user: UserInfo) -> (Self, Next) {
        let key = ObjectKey::cluster(drain.node.clone());
        let cordon = Request::patch(
            client,
            user.clone(),
            Kind::Node,
            &key,
            PatchOp::Unschedulable(true),
        );
        let run = DrainRun {
            drain,
            client,
            user,
            deadline: None,
            listed: false,
            pods: Vec::new(),
            stats: DrainStats::default(),
        };
        let next = Next {
            requests: vec![(cordon, DrainStep::Cordon)],
            ..Next::default()
        };
        (run, next)
    }

    /// The node drained.
    pub fn node(&self) -> &str {
        &self.drain.node
    }

    /// The answer to one of its requests, at `now`.
    pub fn on_response(&mut self, step: DrainStep, response: &Response, now: SimTime) -> Next {
        let mut next = Next::default();
        match step {
            DrainStep::Cordon => match response {
                Ok(_) => {
                    let list = self.list_request();
                    next.requests.push((list, DrainStep::List));
                }
                Err(e) => {
                    next.errors.push(e.to_string());
                    self.stats.finished_at = Some(now);
                }
            },
            DrainStep::List => match response {
                Ok(ResponseBody::List { items, .. }) => {
                    let pods: Vec<&Pod> = items
                        .iter()
                        .filter_map(|o| o.as_pod())
                        .map(|p| &**p)
                        .collect();
                    self.begin_evictions(&pods, now);
                }
                Ok(_) => self.stats.finished_at = Some(now),
                Err(e) => {
                    next.errors.push(e.to_string());
                    self.stats.finished_at = Some(now);
                }
            },
            DrainStep::Evict(i) => self.on_evicted(i, response, now, &mut next),
            DrainStep::Poll(i) => self.on_polled(i, response, now, &mut next),
        }
        self.advance(now, &mut next);
        next
    }

    /// Sends what is due at `now`.
    pub fn wake(&mut self, now: SimTime) -> Next {
        let mut next = Next::default();
        self.advance(now, &mut next);
        next
    }

    fn list_request(&self) -> Request {
        let on_node = FieldRequirement {
            field: "spec.nodeName".into(),
            operator: FieldOperator::Equals,
            value: self.drain.node.clone(),
        };
        let options = ListOptions {
            field_selector: Some(FieldSelector::from_requirements(vec![on_node])),
            ..ListOptions::default()
        };
        Request::list(self.client, self.user.clone(), Kind::Pod, "", options)
    }

    /// The pods to evict among the node's (the filters of `GetPodsForDeletion`), each due now.
    fn begin_evictions(&mut self, pods: &[&Pod], now: SimTime) {
        self.deadline = self.drain.timeout.map(|t| now + t);
        self.listed = true;
        for pod in pods {
            if !to_evict(pod) {
                self.stats.skipped += 1;
                continue;
            }
            self.pods.push(DrainPod {
                key: ObjectKey::new(pod.metadata.namespace.clone(), pod.metadata.name.clone()),
                uid: pod.metadata.uid,
                state: PodState::EvictAt(now),
                attempts: 0,
            });
        }
        self.stats.pods = self.pods.len() as u32;
    }

    fn on_evicted(&mut self, i: usize, response: &Response, now: SimTime, next: &mut Next) {
        let Some(pod) = self.pods.get_mut(i) else {
            return;
        };
        pod.state = match response {
            Ok(_) => {
                self.stats.evicted += 1;
                PodState::PollAt(now)
            }
            Err(ApiError::NotFound { .. }) => PodState::Done,
            Err(ApiError::TooManyRequests { .. }) => {
                self.stats.blocked += 1;
                PodState::EvictAt(now + EVICTION_RETRY)
            }
            Err(e) => {
                next.errors.push(format!(
                    "error when evicting pods/{:?} -n {:?}: {e}",
                    pod.key.name, pod.key.namespace
                ));
                PodState::Done
            }
        };
    }

    fn on_polled(&mut self, i: usize, response: &Response, now: SimTime, next: &mut Next) {
        let deadline = self.deadline;
        let Some(pod) = self.pods.get_mut(i) else {
            return;
        };
        let gone = match response {
            Err(ApiError::NotFound { .. }) => true,
            Ok(ResponseBody::Object(o)) => o.meta().uid != pod.uid,
            _ => false,
        };
        pod.state = if gone {
            PodState::Done
        } else if deadline.is_some_and(|d| now >= d) {
            next.errors.push(format!(
                "error when waiting for pod {:?} terminating: global timeout reached: {}",
                pod.key.name,
                self.drain.timeout.unwrap_or_default()
            ));
            self.stats.timed_out = true;
            PodState::Done
        } else {
            PodState::PollAt(now + DELETE_POLL)
        };
    }

    /// Sends every eviction and read due at `now`, gives up on retries past the deadline, and
    /// says when to wake next; notes the end once every pod is done.
    fn advance(&mut self, now: SimTime, next: &mut Next) {
        let timeout = self.drain.timeout.unwrap_or_default();
        for (i, pod) in self.pods.iter_mut().enumerate() {
            match pod.state {
                PodState::EvictAt(at) if at <= now => {
                    if pod.attempts > 0 && self.deadline.is_some_and(|d| now >= d) {
                        next.errors.push(format!(
                            "error when evicting pods/{:?} -n {:?}: global timeout reached: {timeout}",
                            pod.key.name, pod.key.namespace
                        ));
                        self.stats.timed_out = true;
                        pod.state = PodState::Done;
                        continue;
                    }
                    if pod.attempts > 0 {
                        self.stats.retries += 1;
                    }
                    pod.attempts += 1;
                    let options = DeleteOptions {
                        grace_period_seconds: self.drain.grace_period,
                        ..DeleteOptions::default()
                    };
                    let evict = Request::evict(self.client, self.user.clone(), &pod.key, options);
                    next.requests.push((evict, DrainStep::Evict(i)));
                    pod.state = PodState::Evicting;
                }
                PodState::PollAt(at) if at <= now => {
                    let get = Request::get(self.client, self.user.clone(), Kind::Pod, &pod.key);
                    next.requests.push((get, DrainStep::Poll(i)));
                    pod.state = PodState::Polling;
                }
                PodState::EvictAt(at) | PodState::PollAt(at) => {
                    next.wake_at = Some(next.wake_at.map_or(at, |w| w.min(at)));
                }
                PodState::Evicting | PodState::Polling | PodState::Done => {}
            }
        }
        if self.listed
            && self.stats.finished_at.is_none()
            && self.pods.iter().all(|p| p.state == PodState::Done)
        {
            self.stats.finished_at = Some(now);
        }
    }
}

/// Whether a drain evicts `pod` (the daemon set and mirror pod filters; the others pass with
/// `--force` and `--delete-emptydir-data`).
pub fn to_evict(pod: &Pod) -> bool {
    let finished = matches!(pod.status.phase, PodPhase::Succeeded | PodPhase::Failed);
    let daemon = pod
        .metadata
        .controller_ref()
        .is_some_and(|r| r.kind == "DaemonSet");
    if daemon && !finished {
        return false;
    }
    !pod.metadata.annotations.contains_key(MIRROR_POD_ANNOTATION)
}
