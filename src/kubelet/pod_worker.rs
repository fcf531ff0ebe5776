//! What a kubelet keeps of one pod it runs (its pod worker's state): the pod as last seen,
//! where its start is, and each container as the runtime has it and as the last relist saw
//! it. The mechanisms that move this state live beside it: `pod_startup.rs` (start, exits,
//! restarts), `termination.rs`, `probes.rs`, `status_manager.rs`.

use std::sync::Arc;

use super::admission::Rejection;
use super::behavior::Behavior;
use super::probes::{Outcome, ProbeKind, ProbeResult, ProbeView, ProbeWorker};
use super::restart_backoff::Backoff;
use crate::api::pod::{Container, Pod, PodPhase};
use crate::api::resources::{MissingRequests, Resources, pod_requests};
use crate::sim::SimTime;

/// A container as the runtime has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Runtime {
    /// No container yet (its image is pulled or it is being created).
    #[default]
    None,
    /// Running since `since`.
    Running {
        /// Start time.
        since: SimTime,
    },
    /// Ended.
    Exited(Exit),
}

/// How a container ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// When it started.
    pub started: SimTime,
    /// When it ended.
    pub finished: SimTime,
    /// Its exit code.
    pub code: i32,
    /// The kernel's OOM killer killed it (the runtime's reason `OOMKilled`).
    pub oom_killed: bool,
}

/// Where a pod is in its life on the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Refused at admission.
    Rejected,
    /// Being started: the sandbox, then containers in order (`next` is the first container
    /// not yet set going).
    Starting {
        /// Index of the next container to start.
        next: usize,
    },
    /// Every container has been set going once; restarts go container by container.
    Running,
    /// Being killed (deleted); `left` containers are still stopping.
    Terminating {
        /// Containers still stopping.
        left: usize,
    },
    /// Done: terminal, nothing runs (the final delete may still be due).
    Finished,
}

/// One container of a pod (init containers first, then app containers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerWork {
    /// Its name.
    pub name: String,
    /// Its image.
    pub image: String,
    /// An init container (sidecar or not).
    pub init: bool,
    /// An init container that keeps running (`restartPolicy: Always`).
    pub sidecar: bool,
    /// What it does.
    pub behavior: Behavior,
    /// Which container instance is current (1 for the first; 0 before one exists).
    pub instance: u32,
    /// The runtime's state of the current instance.
    pub actual: Runtime,
    /// The state the last relist saw, and of which instance.
    pub seen: Runtime,
    /// The instance `seen` is of.
    pub seen_instance: u32,
    /// How the instance before the one seen ended (the status's `lastState`).
    pub last_exit: Option<Exit>,
    /// The reason it waits, when the kubelet decided it waits (`ContainerCreating`,
    /// `PodInitializing`, `CrashLoopBackOff`).
    pub waiting: Option<&'static str>,
    /// Its restart back-off.
    pub backoff: Backoff,
    /// Its probes (readiness, liveness, startup; those it has).
    pub probes: Vec<ProbeWorker>,
    /// Bumped at each start and stop, so a wakeup for an older state does nothing.
    pub epoch: u32,
    /// A start is under way (image pull or create).
    pub starting: bool,
    /// A stop is under way (a failed probe's kill, or the pod's termination).
    pub stopping: bool,
    /// The stop under way ends in SIGKILL at the end of the grace period.
    pub hard_kill: bool,
    /// The instance whose exit the kubelet has acted on.
    pub exit_handled: u32,
    /// It will not run again (a completed init container, or an exit that is not restarted).
    pub done: bool,
}

impl ContainerWork {
    /// A container not started yet.
    pub fn new(spec: &Container, init: bool, behavior: Behavior) -> ContainerWork {
        ContainerWork {
            name: spec.name.clone(),
            image: spec.image.clone(),
            init,
            sidecar: init && spec.is_sidecar(),
            behavior,
            instance: 0,
            actual: Runtime::None,
            seen: Runtime::None,
            seen_instance: 0,
            last_exit: None,
            waiting: None,
            backoff: Backoff::default(),
            probes: Vec::new(),
            epoch: 0,
            starting: false,
            stopping: false,
            hard_kill: false,
            exit_handled: 0,
            done: false,
        }
    }

    /// An init container that must complete before the next one starts.
    pub fn runs_to_completion(&self) -> bool {
        self.init && !self.sidecar
    }

    /// Whether the relist saw it running.
    pub fn seen_running(&self) -> bool {
        matches!(self.seen, Runtime::Running { .. })
    }

    /// Whether it runs now, as the runtime has it.
    pub fn running(&self) -> bool {
        matches!(self.actual, Runtime::Running { .. })
    }

    /// The probe worker of `kind`, if the container has that probe.
    pub fn probe(&self, kind: ProbeKind) -> Option<&ProbeWorker> {
        self.probes.iter().find(|p| p.kind == kind)
    }

    /// Whether it counts as started: running, and its startup probe (if any) passed.
    pub fn started(&self) -> bool {
        self.seen_running()
            && self
                .probe(ProbeKind::Startup)
                .is_none_or(|p| p.result_for(self.seen_instance) == Some(ProbeResult::Success))
    }

    /// Whether it is ready: started, and its readiness probe (if any) passes.
    pub fn ready(&self) -> bool {
        self.started()
            && self
                .probe(ProbeKind::Readiness)
                .is_none_or(|p| p.result_for(self.seen_instance) == Some(ProbeResult::Success))
    }

    /// What the probe worker of `kind` sees of this container.
    pub fn probe_view(&self, kind: ProbeKind, terminating: bool) -> ProbeView {
        let running_since = match self.seen {
            Runtime::Running { since } => Some(since),
            _ => None,
        };
        let after = |d: crate::sim::SimDuration| running_since.map(|s| s + d);
        let outcome = match kind {
            ProbeKind::Readiness => Outcome {
                before: false,
                switch_at: after(self.behavior.ready_after),
            },
            ProbeKind::Startup => Outcome {
                before: false,
                switch_at: after(self.behavior.started_after),
            },
            ProbeKind::Liveness => Outcome {
                before: true,
                switch_at: self.behavior.liveness_fails_after.and_then(after),
            },
        };
        ProbeView {
            instance: self.seen_instance,
            running_since,
            started: self.started(),
            finished: self.done,
            terminating,
            outcome,
        }
    }
}

/// One pod on the node.
#[derive(Clone, Debug, PartialEq)]
pub struct PodWork {
    /// The pod as last seen from the apiserver.
    pub pod: Arc<Pod>,
    /// Where it is.
    pub stage: Stage,
    /// Why it was refused, if it was.
    pub rejection: Option<Rejection>,
    /// Its containers: init containers, then app containers.
    pub containers: Vec<ContainerWork>,
    /// When the kubelet took it on (`status.startTime`).
    pub start_time: SimTime,
    /// The sandbox is up.
    pub sandbox_ready: bool,
    /// The address the pod got with its sandbox.
    pub pod_ip: Option<String>,
    /// Bumped when the pod's start is abandoned (deletion), so its pending steps do nothing.
    pub epoch: u32,
    /// The phase once terminal.
    pub final_phase: Option<PodPhase>,
    /// The status the kubelet last computed (its conditions keep their transition times),
    /// and its version.
    pub status: crate::api::pod::PodStatus,
    /// Bumped whenever `status` changes.
    pub status_version: u64,
    /// The version the apiserver has.
    pub written_version: u64,
    /// Waiting in the status manager's queue (or being written).
    pub queued: bool,
    /// The final delete is due once the terminal status is written.
    pub delete_when_written: bool,
    /// The final delete has been sent.
    pub delete_sent: bool,
    /// The pod's requests, as admission sums them for the pods already running (worked out
    /// when the pod is taken on, and again only if its spec changes).
    pub requests: Resources,
}

impl PodWork {
    /// Takes the pod's latest version, keeping its requests in step with its spec.
    pub fn set_pod(&mut self, pod: Arc<Pod>) {
        if !Arc::ptr_eq(&self.pod.spec, &pod.spec) {
            self.requests = pod_requests(&pod.spec, MissingRequests::AsZero);
        }
        self.pod = pod;
    }

    /// A pod just taken on at `now`.
    pub fn new(pod: Arc<Pod>, now: SimTime) -> PodWork {
        PodWork {
            requests: pod_requests(&pod.spec, MissingRequests::AsZero),
            pod,
            stage: Stage::Starting { next: 0 },
            rejection: None,
            containers: Vec::new(),
            start_time: now,
            sandbox_ready: false,
            pod_ip: None,
            epoch: 0,
            final_phase: None,
            status: crate::api::pod::PodStatus::default(),
            status_version: 0,
            written_version: 0,
            queued: false,
            delete_when_written: false,
            delete_sent: false,
        }
    }

    /// Whether the pod still holds the node's resources (admitted and not terminal).
    pub fn is_active(&self) -> bool {
        self.rejection.is_none() && self.final_phase.is_none()
    }

    /// Whether the pod is being deleted.
    pub fn terminating(&self) -> bool {
        self.pod.metadata.is_terminating() || matches!(self.stage, Stage::Terminating { .. })
    }

    /// The pod's `restartPolicy` (`Always` when unset).
    pub fn restart_policy(&self) -> &str {
        match self.pod.spec.restart_policy.as_str() {
            "" => "Always",
            p => p,
        }
    }

    /// Whether every init container has done its part (completed, or a sidecar started).
    pub fn initialized(&self) -> bool {
        self.containers.iter().filter(|c| c.init).all(|c| {
            if c.sidecar {
                c.started()
            } else {
                c.done && c.last_exit_ok()
            }
        })
    }
}

impl ContainerWork {
    /// Whether its last seen exit was a success.
    pub fn last_exit_ok(&self) -> bool {
        matches!(self.seen, Runtime::Exited(Exit { code: 0, .. }))
    }

    /// The latest exit of the container: the current instance's if it ended, else the one
    /// before (what `doBackOff` finds among the runtime's containers).
    pub fn latest_exit(&self) -> Option<Exit> {
        match self.actual {
            Runtime::Exited(e) => Some(e),
            _ => self.last_exit,
        }
    }
}
