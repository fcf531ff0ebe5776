//! The pod status a kubelet computes (`generateAPIPodStatus`) and how its status manager
//! writes it (`pkg/kubelet/status/status_manager.go`).
//!
//! The status is computed from what the kubelet last saw of its containers (the PLEG's
//! relist) and its probes: the phase (`getPhase`), `startTime`, the conditions
//! `PodReadyToStartContainers`, `Initialized`, `ContainersReady` and `Ready` (each keeping its
//! `lastTransitionTime` while its status holds), and every container's state, last state,
//! readiness, `started` and restart count.
//!
//! A status that changed is queued for writing; the node's status manager writes one pod at a
//! time (it is one goroutine upstream), always the pod's latest status, so changes made while
//! a write is in flight are coalesced into the next. A write is a patch of the `status`
//! subresource (upstream reads the pod first; kubesim folds that read into the patch). A write
//! that fails is retried by `syncBatch`, every 10 s while something is left unwritten. A pod
//! whose readiness someone else changed (the node lifecycle controller marks the pods of a
//! silent node not Ready) gets its status written back at the next `syncBatch`
//! (`needsReconcile`). Once a terminated pod's final status is written, the final delete
//! follows.

use std::collections::VecDeque;

use super::pod_startup::{CONTAINER_CREATING, CRASH_LOOP_BACK_OFF};
use super::pod_worker::{ContainerWork, Exit, PodWork, Runtime, Stage};
use super::wakeups::Wake;
use super::{Env, NodeAgent, Pending};
use crate::api::pod::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, PodCondition, PodIp, PodPhase, PodStatus,
};
use crate::api::{Kind, ObjectKey, Uid};
use crate::apiserver::{ApiError, PatchOp, Request, Response};
use crate::sim::{SimDuration, SimTime};

/// `terminated.reason` of a container the OOM killer killed, as the runtime reports it.
pub const OOM_KILLED: &str = "OOMKilled";

/// The status manager's reconcile period (`syncPeriod` in status_manager.go).
pub const SYNC_BATCH_PERIOD: SimDuration = SimDuration::from_secs(10);

/// The node's queue of pod statuses to write.
#[derive(Debug, Default)]
pub struct StatusQueue {
    queue: VecDeque<Uid>,
    /// The pod being written, and the version sent.
    in_flight: Option<(Uid, u64)>,
    /// A `syncBatch` is due.
    batch_armed: bool,
}

impl NodeAgent {
    /// Recomputes pod `uid`'s status; queues a write if it changed.
    pub(super) fn update_status(&mut self, uid: Uid, env: &mut Env<'_, '_>) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        let status = generate(work, env.now);
        if status == work.status {
            return;
        }
        work.status = status;
        work.status_version += 1;
        if !work.queued {
            work.queued = true;
            self.status.queue.push_back(uid);
        }
        self.pump_status(env);
    }

    /// Sends the next queued status, unless one is in flight.
    fn pump_status(&mut self, env: &mut Env<'_, '_>) {
        if self.status.in_flight.is_some() {
            return;
        }
        while let Some(uid) = self.status.queue.pop_front() {
            let Some(work) = self.pods.get_mut(&uid) else {
                continue;
            };
            work.queued = false;
            if work.written_version >= work.status_version {
                continue;
            }
            let op = PatchOp::KubeletPodStatus(Box::new(work.status.clone()));
            let key = ObjectKey::new(
                work.pod.metadata.namespace.clone(),
                work.pod.metadata.name.clone(),
            );
            let request = Request::patch(self.client, self.user.clone(), Kind::Pod, &key, op);
            let id = env.submit(request);
            self.requests.insert(id, Pending::PodStatus(uid));
            self.status.in_flight = Some((uid, work.status_version));
            return;
        }
    }

    /// The apiserver answered a status write.
    pub(super) fn status_written(&mut self, uid: Uid, response: &Response, env: &mut Env<'_, '_>) {
        let sent = match self.status.in_flight.take() {
            Some((pod, version)) if pod == uid => version,
            other => {
                self.status.in_flight = other;
                return;
            }
        };
        match response {
            Ok(_) => {
                if let Some(work) = self.pods.get_mut(&uid) {
                    work.written_version = work.written_version.max(sent);
                    if work.status_version > work.written_version && !work.queued {
                        work.queued = true;
                        self.status.queue.push_back(uid);
                    }
                }
                self.delete_if_written(uid, env);
            }
            // The pod is gone; its deletion reaches the kubelet through its watch.
            Err(ApiError::NotFound { .. }) => {}
            Err(_) => self.arm_sync_batch(env),
        }
        self.pump_status(env);
    }

    pub(super) fn arm_sync_batch(&mut self, env: &mut Env<'_, '_>) {
        if !self.status.batch_armed {
            self.status.batch_armed = true;
            env.wake_background(env.now + SYNC_BATCH_PERIOD, Wake::SyncBatch);
        }
    }

    /// `syncBatch`: every pod whose latest status the apiserver lacks is queued again.
    pub(super) fn sync_batch(&mut self, env: &mut Env<'_, '_>) {
        self.status.batch_armed = false;
        for (uid, work) in &mut self.pods {
            let in_flight = self.status.in_flight.is_some_and(|(u, _)| u == *uid);
            if work.status_version > work.written_version && !work.queued && !in_flight {
                work.queued = true;
                self.status.queue.push_back(*uid);
            }
        }
        self.pump_status(env);
    }

    /// Sends the final delete of a terminated pod once its final status is written.
    pub(super) fn delete_if_written(&mut self, uid: Uid, env: &mut Env<'_, '_>) {
        let in_flight = self.status.in_flight.is_some_and(|(u, _)| u == uid);
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        if !work.delete_when_written
            || work.delete_sent
            || in_flight
            || work.written_version < work.status_version
        {
            return;
        }
        work.delete_sent = true;
        let key = ObjectKey::new(
            work.pod.metadata.namespace.clone(),
            work.pod.metadata.name.clone(),
        );
        let request = Request::delete(self.client, self.user.clone(), Kind::Pod, &key, Some(0));
        let id = env.submit(request);
        self.requests.insert(id, Pending::FinalDelete);
    }
}

/// The pod's status now, as the kubelet computes it; updates the kept conditions.
pub fn generate(work: &PodWork, now: SimTime) -> PodStatus {
    let mut status = PodStatus {
        phase: phase(work),
        start_time: Some(work.start_time),
        ..PodStatus::default()
    };
    if let Some(rejection) = &work.rejection {
        status.reason.clone_from(&rejection.reason);
        status.message.clone_from(&rejection.message);
        return status;
    }
    if let Some(ip) = &work.pod_ip {
        status.pod_ip.clone_from(ip);
        status.pod_ips = vec![PodIp { ip: ip.clone() }];
    }
    let pod = &work.pod;
    for c in &work.containers {
        let s = container_status(c, pod);
        if c.init {
            status.init_container_statuses.push(s);
        } else {
            status.container_statuses.push(s);
        }
    }
    // The last computed status holds the conditions as they were, with the times they
    // last changed.
    let fresh = conditions(work);
    for mut condition in fresh {
        if let Some(old) = work
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == condition.type_ && c.status == condition.status)
        {
            condition.last_transition_time = old.last_transition_time;
        } else {
            condition.last_transition_time = now;
        }
        status.conditions.push(condition);
    }
    status
}

/// `getPhase`: the phase from the containers as last seen.
fn phase(work: &PodWork) -> PodPhase {
    if let Some(phase) = work.final_phase {
        return phase;
    }
    if !work.initialized() {
        return PodPhase::Pending;
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in work.containers.iter().filter(|c| !c.init) {
        match c.seen {
            Runtime::Running { .. } => running += 1,
            Runtime::Exited(e) => {
                stopped += 1;
                succeeded += usize::from(e.code == 0);
            }
            Runtime::None if c.last_exit.is_some() => stopped += 1,
            Runtime::None => waiting += 1,
        }
    }
    if waiting > 0 {
        return PodPhase::Pending;
    }
    if running > 0 {
        return PodPhase::Running;
    }
    if stopped == 0 {
        return PodPhase::Pending;
    }
    match work.restart_policy() {
        "Always" => PodPhase::Running,
        _ if stopped == succeeded => PodPhase::Succeeded,
        "Never" => PodPhase::Failed,
        _ => PodPhase::Running,
    }
}

fn condition(type_: &str, ok: bool, reason: &str, message: String) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: if ok {
            String::new()
        } else {
            reason.to_string()
        },
        message: if ok { String::new() } else { message },
        last_transition_time: SimTime::ZERO,
    }
}

/// The kubelet's four conditions.
fn conditions(work: &PodWork) -> Vec<PodCondition> {
    let names = |pick: &dyn Fn(&ContainerWork) -> bool| -> String {
        let list: Vec<&str> = work
            .containers
            .iter()
            .filter(|c| pick(c))
            .map(|c| c.name.as_str())
            .collect();
        format!("[{}]", list.join(" "))
    };
    let sandbox = condition(
        "PodReadyToStartContainers",
        work.sandbox_ready && !matches!(work.stage, Stage::Finished),
        "",
        String::new(),
    );
    let initialized = condition(
        "Initialized",
        work.initialized(),
        "ContainersNotInitialized",
        format!(
            "containers with incomplete status: {}",
            names(&|c| c.runs_to_completion() && !(c.done && c.last_exit_ok()))
        ),
    );
    let counted = |c: &ContainerWork| !c.init || c.sidecar;
    let (ready, reason, message) = if work.final_phase.is_some() {
        (false, "PodCompleted", String::new())
    } else {
        let unready = names(&|c| counted(c) && !c.ready());
        let all = work
            .containers
            .iter()
            .filter(|c| counted(c))
            .all(|c| c.ready());
        (
            all,
            "ContainersNotReady",
            format!("containers with unready status: {unready}"),
        )
    };
    vec![
        sandbox,
        initialized,
        condition("ContainersReady", ready, reason, message.clone()),
        condition("Ready", ready, reason, message),
    ]
}

/// One container's status as last seen.
fn container_status(c: &ContainerWork, pod: &crate::api::pod::Pod) -> ContainerStatus {
    let terminated = |e: Exit| ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: e.code,
            reason: if e.oom_killed {
                OOM_KILLED
            } else if e.code == 0 {
                "Completed"
            } else {
                "Error"
            }
            .to_string(),
            started_at: e.started,
            finished_at: e.finished,
        }),
        ..ContainerState::default()
    };
    let waiting = |reason: &str| ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: reason.to_string(),
            message: if reason == CRASH_LOOP_BACK_OFF {
                format!(
                    "back-off {} restarting failed container={} pod={}_{}({})",
                    go_duration(c.backoff.current()),
                    c.name,
                    pod.metadata.name,
                    pod.metadata.namespace,
                    pod.metadata.uid.0
                )
            } else {
                String::new()
            },
        }),
        ..ContainerState::default()
    };
    let previous = |this: Option<Exit>| {
        c.last_exit
            .filter(|e| Some(*e) != this)
            .map(terminated)
            .unwrap_or_default()
    };
    let (state, last_state) = match c.seen {
        Runtime::Running { since } => (
            ContainerState {
                running: Some(ContainerStateRunning { started_at: since }),
                ..ContainerState::default()
            },
            previous(None),
        ),
        Runtime::Exited(e) => match c.waiting {
            Some(reason) if !c.done => (waiting(reason), terminated(e)),
            _ => (terminated(e), previous(Some(e))),
        },
        Runtime::None => (
            waiting(c.waiting.unwrap_or(CONTAINER_CREATING)),
            previous(None),
        ),
    };
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone(),
        state,
        last_state,
        ready: c.ready(),
        started: Some(c.started()),
        restart_count: c.seen_instance.saturating_sub(1) as i32,
    }
}

/// A whole-second duration as Go prints it (`10s`, `5m0s`).
fn go_duration(d: SimDuration) -> String {
    let secs = d.as_nanos() / 1_000_000_000;
    if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::go_duration;
    use crate::sim::SimDuration;

    #[test]
    fn back_off_durations_print_as_go_prints_them() {
        assert_eq!(go_duration(SimDuration::from_secs(10)), "10s");
        assert_eq!(go_duration(SimDuration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(SimDuration::from_secs(160)), "2m40s");
    }
}
