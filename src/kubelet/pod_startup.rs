//! A pod's life on the node, from admission to its containers' exits and restarts, as the
//! kubelet's pod worker and `kuberuntime`'s `SyncPod` drive it.
//!
//! The start is a chain of steps, each taking a duration drawn from the node's
//! `kubelet/startup/<node>` stream: the sandbox (`RunPodSandbox`), then each container in
//! order — its image (present, or pulled through the node's puller), then its creation and
//! start. An init container must complete (exit 0) before the next starts, a sidecar must have
//! started; app containers start one after the other without waiting for each other to run.
//!
//! The kubelet learns what its containers did from the PLEG, which relists the runtime every
//! `plegRelistPeriod` (1 s) from the kubelet's start: a container's start or exit is seen at
//! the first relist after it, and only then does the pod's status show it and the kubelet act
//! on it (restart an exited container, possibly after its back-off; finish a pod whose
//! containers are all done). A failed liveness or startup probe kills the container (within
//! the pod's grace period) and restarts it in the same sync. A fault (`podCrash`,
//! `oomKill`) ends a running container at once, as its own exit would, and goes the same way.

use std::sync::Arc;

use super::admission;
use super::behavior::Behavior;
use super::image_puller::{Ensure, Waiter};
use super::pod_worker::{ContainerWork, Exit, PodWork, Runtime, Stage};
use super::probes::{ProbeKind, ProbeResult, ProbeWorker};
use super::timing::draw;
use super::wakeups::{PodWake, Wake};
use super::{Env, NodeAgent};
use crate::api::Uid;
use crate::api::pod::{Pod, PodPhase};
use crate::faults::{ContainerKill, KillCause, PodFaultError};
use crate::sim::{SimDuration, SimTime};

/// `waiting.reason` of a container not created yet.
pub const CONTAINER_CREATING: &str = "ContainerCreating";
/// `waiting.reason` of a container whose pod's init containers have not finished.
pub const POD_INITIALIZING: &str = "PodInitializing";
/// `waiting.reason` of a container waiting out its restart back-off.
pub const CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";
/// The exit code of a container killed at the end of its grace period (SIGKILL).
pub const SIGKILL_EXIT_CODE: i32 = 137;

impl NodeAgent {
    /// A pod bound to this node appeared or changed.
    pub(super) fn pod_seen(&mut self, pod: Arc<Pod>, env: &mut Env<'_, '_>) {
        let uid = pod.metadata.uid;
        if let Some(work) = self.pods.get_mut(&uid) {
            let deleting = pod.metadata.is_terminating();
            // `needsReconcile`: someone else changed the pod's readiness (the node lifecycle
            // controller marks pods of a silent node not Ready); the status manager's next
            // `syncBatch` writes the kubelet's own status back.
            let ready =
                |s: &crate::api::pod::PodStatus| s.condition("Ready").map(|c| c.status.clone());
            let reconcile = !deleting
                && work.written_version > 0
                && work.written_version == work.status_version
                && ready(&pod.status) != ready(&work.status);
            work.set_pod(pod);
            if deleting {
                self.begin_termination(uid, env);
            } else if reconcile {
                work.status_version += 1;
                self.arm_sync_batch(env);
            }
            return;
        }
        if self.node.is_none() {
            self.awaiting_node.retain(|p| p.metadata.uid != uid);
            self.awaiting_node.push(pod);
            return;
        }
        if pod.is_terminal() {
            // Finished before this kubelet knew it (a relist): nothing to run.
            let mut work = PodWork::new(Arc::clone(&pod), env.now);
            work.stage = Stage::Finished;
            work.final_phase = Some(pod.status.phase);
            self.pods.insert(uid, work);
            return;
        }
        self.admit_pod(pod, env);
    }

    /// `HandlePodAdditions`: admission, then the start of the pod's sandbox.
    fn admit_pod(&mut self, pod: Arc<Pod>, env: &mut Env<'_, '_>) {
        let Some(node) = self.node.as_deref() else {
            return;
        };
        let uid = pod.metadata.uid;
        let mut work = PodWork::new(Arc::clone(&pod), env.now);
        let others = self
            .pods
            .values()
            .filter(|w| w.is_active())
            .map(|w| (&*w.pod, &w.requests));
        if let Err(rejection) = admission::admit(&pod, node, env.settings.max_pods, others) {
            work.rejection = Some(rejection);
            work.stage = Stage::Rejected;
            work.final_phase = Some(PodPhase::Failed);
            self.pods.insert(uid, work);
            self.update_status(uid, env);
            return;
        }
        work.containers = self.containers_of(&pod, env);
        self.pods.insert(uid, work);
        if pod.metadata.is_terminating() {
            self.begin_termination(uid, env);
            return;
        }
        self.update_status(uid, env);
        let sandbox = draw(&env.settings.timing.sandbox, &mut self.startup_rng);
        env.wake_at(
            env.now + sandbox,
            Wake::Pod {
                uid,
                epoch: 0,
                what: PodWake::SandboxReady,
            },
        );
    }

    /// The pod's containers, init containers first, with their behaviour and probe workers.
    fn containers_of(&mut self, pod: &Pod, env: &Env<'_, '_>) -> Vec<ContainerWork> {
        let annotations = &pod.metadata.annotations;
        let defaults = &env.settings.containers;
        let has_init = !pod.spec.init_containers.is_empty();
        let specs = pod
            .spec
            .init_containers
            .iter()
            .map(|c| (c, true))
            .chain(pod.spec.containers.iter().map(|c| (c, false)));
        let mut containers = Vec::new();
        for (spec, init) in specs {
            let to_completion = init && !spec.is_sidecar();
            let behavior = Behavior::of(spec, to_completion, annotations, defaults);
            let mut c = ContainerWork::new(spec, init, behavior);
            c.waiting = Some(if init || has_init {
                POD_INITIALIZING
            } else {
                CONTAINER_CREATING
            });
            if !to_completion {
                let probes = [
                    (ProbeKind::Readiness, &spec.readiness_probe),
                    (ProbeKind::Liveness, &spec.liveness_probe),
                    (ProbeKind::Startup, &spec.startup_probe),
                ];
                for (kind, probe) in probes {
                    if let Some(probe) = probe {
                        let first = self.first_probe_tick(probe.period_seconds(), env.now);
                        c.probes.push(ProbeWorker::new(kind, probe, first));
                    }
                }
            }
            containers.push(c);
        }
        containers
    }

    /// When a new probe worker first probes: at once, or — when the kubelet started less than
    /// a period ago — after a random part of the period, so a restarted kubelet's probes do
    /// not all fire together.
    fn first_probe_tick(&mut self, period_seconds: u64, now: SimTime) -> SimTime {
        use rand::RngExt;
        let period = SimDuration::from_secs(period_seconds);
        let since_start = now - self.started_at.unwrap_or(now);
        if since_start >= period {
            return now;
        }
        let fraction: f64 = self.probe_rng.random();
        now + SimDuration::from_nanos((period.as_nanos() as f64 * fraction) as u64)
    }

    /// Something of pod `uid` is due.
    pub(super) fn pod_wake(&mut self, uid: Uid, epoch: u32, what: PodWake, env: &mut Env<'_, '_>) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        let container_epoch = |i: usize| work.containers.get(i).map(|c| c.epoch);
        match what {
            PodWake::SandboxReady if epoch == work.epoch => {
                work.sandbox_ready = true;
                // The network plugin gives the sandbox its address; the status carries it from
                // the next write on (upstream's first status after the sandbox, once the
                // containers are started).
                work.pod_ip = Some(self.ipam.allocate());
                self.advance_chain(uid, env);
            }
            PodWake::ContainerStarted(i) if container_epoch(i) == Some(epoch) => {
                self.container_started(uid, i, env);
            }
            PodWake::ContainerExits(i) if container_epoch(i) == Some(epoch) => {
                self.container_exits(uid, i, env);
            }
            PodWake::BackOffOver(i) if container_epoch(i) == Some(epoch) => {
                self.back_off_over(uid, i, env);
            }
            PodWake::ContainerStopped(i) if container_epoch(i) == Some(epoch) => {
                self.container_stopped(uid, i, env);
            }
            PodWake::Relist(i) => self.relist(uid, i, env),
            PodWake::Probe(i, kind) => self.probe_due(uid, i, kind, epoch, env),
            _ => {}
        }
    }

    /// Moves the start chain on as far as it can go now.
    fn advance_chain(&mut self, uid: Uid, env: &mut Env<'_, '_>) {
        loop {
            let Some(work) = self.pods.get_mut(&uid) else {
                return;
            };
            let Stage::Starting { next } = work.stage else {
                return;
            };
            if !work.sandbox_ready {
                return;
            }
            let Some(c) = work.containers.get(next) else {
                work.stage = Stage::Running;
                return;
            };
            if c.instance == 0 && !c.starting {
                self.begin_start(uid, next, env);
                return;
            }
            let passed = if c.runs_to_completion() {
                c.done && c.last_exit_ok()
            } else if c.sidecar {
                c.started()
            } else {
                c.instance > 0
            };
            if !passed {
                return;
            }
            work.stage = Stage::Starting { next: next + 1 };
        }
    }

    /// Starts container `index`: its image, then its creation.
    fn begin_start(&mut self, uid: Uid, index: usize, env: &mut Env<'_, '_>) {
        let Some(c) = self
            .pods
            .get_mut(&uid)
            .and_then(|w| w.containers.get_mut(index))
        else {
            return;
        };
        c.starting = true;
        c.epoch = c.epoch.wrapping_add(1);
        if !c.init && c.waiting == Some(POD_INITIALIZING) {
            // The init containers are done: the container is being created now.
            c.waiting = Some(CONTAINER_CREATING);
        }
        let waiter = Waiter {
            uid,
            container: index,
            epoch: c.epoch,
        };
        match self.images.ensure(&c.image, waiter) {
            Ensure::Present => self.create_container(waiter, env),
            Ensure::Waiting => {}
            Ensure::Start(id) => {
                let pull = draw(&env.settings.timing.image_pull, &mut self.startup_rng);
                env.wake_at(env.now + pull, Wake::ImagePulled(id));
            }
        }
    }

    /// The image is there: create and start the container.
    fn create_container(&mut self, waiter: Waiter, env: &mut Env<'_, '_>) {
        let start = draw(&env.settings.timing.container_start, &mut self.startup_rng);
        env.wake_at(
            env.now + start,
            Wake::Pod {
                uid: waiter.uid,
                epoch: waiter.epoch,
                what: PodWake::ContainerStarted(waiter.container),
            },
        );
    }

    /// An image pull finished: its waiters go on, and the next queued pull starts.
    pub(super) fn image_pulled(&mut self, id: u32, env: &mut Env<'_, '_>) {
        let settings = env.settings;
        let (waiters, next) = self.images.finished(id, |image| settings.image_size(image));
        for waiter in waiters {
            let current = self
                .pods
                .get(&waiter.uid)
                .and_then(|w| w.containers.get(waiter.container))
                .is_some_and(|c| c.epoch == waiter.epoch && c.starting);
            if current {
                self.create_container(waiter, env);
            }
        }
        if let Some(next) = next {
            let pull = draw(&env.settings.timing.image_pull, &mut self.startup_rng);
            env.wake_at(env.now + pull, Wake::ImagePulled(next));
        }
    }

    /// The first relist strictly after `t`, on the grid of the kubelet's start.
    pub(super) fn next_relist(&self, t: SimTime, env: &Env<'_, '_>) -> SimTime {
        let start = self.started_at.unwrap_or(t);
        let period = env.settings.timing.pleg_relist_period.as_nanos().max(1);
        let elapsed = (t - start).as_nanos();
        start + SimDuration::from_nanos((elapsed / period + 1) * period)
    }

    /// Has the PLEG see container `index` at its next relist.
    pub(super) fn relist_later(&mut self, uid: Uid, index: usize, env: &mut Env<'_, '_>) {
        let at = self.next_relist(env.now, env);
        env.wake_at(
            at,
            Wake::Pod {
                uid,
                epoch: 0,
                what: PodWake::Relist(index),
            },
        );
    }

    /// Container `index` has been created and started.
    fn container_started(&mut self, uid: Uid, index: usize, env: &mut Env<'_, '_>) {
        let Some(c) = self
            .pods
            .get_mut(&uid)
            .and_then(|w| w.containers.get_mut(index))
        else {
            return;
        };
        c.starting = false;
        c.instance += 1;
        c.actual = Runtime::Running { since: env.now };
        if let Some(after) = c.behavior.exit_after {
            let epoch = c.epoch;
            env.wake_at(
                env.now + after,
                Wake::Pod {
                    uid,
                    epoch,
                    what: PodWake::ContainerExits(index),
                },
            );
        }
        self.relist_later(uid, index, env);
        self.advance_chain(uid, env);
    }

    /// Container `index` exits by itself.
    fn container_exits(&mut self, uid: Uid, index: usize, env: &mut Env<'_, '_>) {
        let code = self
            .pods
            .get(&uid)
            .and_then(|w| w.containers.get(index))
            .map(|c| c.behavior.exit_code);
        if let Some(code) = code {
            self.container_ends(uid, index, code, false, env);
        }
    }

    /// Running container `index` ends now with `code` (killed by the OOM killer if
    /// `oom_killed`); the PLEG sees it at its next relist. The epoch moves on, so the exit its
    /// behaviour had planned for this run does not happen.
    fn container_ends(
        &mut self,
        uid: Uid,
        index: usize,
        code: i32,
        oom_killed: bool,
        env: &mut Env<'_, '_>,
    ) {
        let Some(c) = self
            .pods
            .get_mut(&uid)
            .and_then(|w| w.containers.get_mut(index))
        else {
            return;
        };
        let Runtime::Running { since } = c.actual else {
            return;
        };
        c.actual = Runtime::Exited(Exit {
            started: since,
            finished: env.now,
            code,
            oom_killed,
        });
        c.epoch = c.epoch.wrapping_add(1);
        self.relist_later(uid, index, env);
    }

    /// A fault of the world's on the node's container runtime (`podCrash`, `oomKill`): the
    /// containers `kill` names die now, as if their process had exited or been OOM-killed.
    /// The kubelet learns it as it learns any exit, from its next relist. Refused, with
    /// nothing killed, for a pod this kubelet does not run, one being deleted or finished, a
    /// container it does not have, or one that is not running (starting, backing off, done,
    /// or already being stopped).
    pub(super) fn kill_containers(
        &mut self,
        kill: &ContainerKill,
        env: &mut Env<'_, '_>,
    ) -> Result<(), PodFaultError> {
        let pod = || kill.pod.clone();
        let Some(work) = self.pods.get(&kill.uid) else {
            return Err(PodFaultError::NotOnNode {
                node: self.name.clone(),
                pod: pod(),
            });
        };
        if work.terminating() || !work.is_active() {
            let state = if work.terminating() {
                "terminating"
            } else {
                "finished"
            };
            return Err(PodFaultError::NotRunning {
                pod: pod(),
                state: state.to_string(),
            });
        }
        let runs = |c: &ContainerWork| c.running() && !c.stopping;
        let targets: Vec<usize> = match &kill.container {
            Some(name) => {
                let Some(index) = work.containers.iter().position(|c| c.name == *name) else {
                    return Err(PodFaultError::NoSuchContainer {
                        pod: pod(),
                        container: name.clone(),
                    });
                };
                if !runs(&work.containers[index]) {
                    return Err(PodFaultError::ContainerNotRunning {
                        pod: pod(),
                        container: name.clone(),
                    });
                }
                vec![index]
            }
            None => {
                let running: Vec<usize> = (0..work.containers.len())
                    .filter(|&i| runs(&work.containers[i]))
                    .collect();
                if running.is_empty() {
                    return Err(PodFaultError::NoContainerRunning(pod()));
                }
                running
            }
        };
        let code = kill.cause.exit_code();
        let oom_killed = kill.cause == KillCause::OomKilled;
        for index in targets {
            self.container_ends(kill.uid, index, code, oom_killed, env);
        }
        Ok(())
    }

    /// The PLEG relists: container `index` is seen as the runtime has it.
    fn relist(&mut self, uid: Uid, index: usize, env: &mut Env<'_, '_>) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        let terminating = work.terminating();
        let Some(c) = work.containers.get_mut(index) else {
            return;
        };
        if c.seen == c.actual && c.seen_instance == c.instance {
            return;
        }
        c.seen = c.actual;
        c.seen_instance = c.instance;
        let exit = match c.seen {
            Runtime::Running { .. } => {
                c.waiting = None;
                None
            }
            Runtime::Exited(exit) if c.exit_handled != c.instance && !terminating => Some(exit),
            _ => None,
        };
        if let Some(exit) = exit {
            self.exited(uid, index, exit, env);
        }
        self.sync_pod(uid, env);
    }

    /// The kubelet acts on container `index`'s exit: done, restarted, or backed off.
    fn exited(&mut self, uid: Uid, index: usize, exit: Exit, env: &mut Env<'_, '_>) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        let policy = work.restart_policy().to_string();
        let Some(c) = work.containers.get_mut(index) else {
            return;
        };
        c.exit_handled = c.instance;
        let restart = if c.sidecar {
            true
        } else if c.init {
            exit.code != 0 && policy != "Never"
        } else {
            policy == "Always" || (policy == "OnFailure" && exit.code != 0)
        };
        if !restart {
            c.done = true;
            return;
        }
        match c.backoff.restart_at(exit.finished, env.now) {
            None => self.restart(uid, index, env),
            Some(at) => {
                c.waiting = Some(CRASH_LOOP_BACK_OFF);
                let epoch = c.epoch;
                env.wake_at(
                    at,
                    Wake::Pod {
                        uid,
                        epoch,
                        what: PodWake::BackOffOver(index),
                    },
                );
            }
        }
    }

    /// Starts a new instance of exited container `index`.
    fn restart(&mut self, uid: Uid, index: usize, env: &mut Env<'_, '_>) {
        if let Some(c) = self
            .pods
            .get_mut(&uid)
            .and_then(|w| w.containers.get_mut(index))
        {
            c.last_exit = c.latest_exit();
        }
        self.begin_start(uid, index, env);
    }

    /// A restart back-off is over: the pod is synced and the container restarts (unless the
    /// latest exit still holds it back).
    fn back_off_over(&mut self, uid: Uid, index: usize, env: &mut Env<'_, '_>) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        if work.terminating() {
            return;
        }
        let Some(c) = work.containers.get_mut(index) else {
            return;
        };
        let Some(exit) = c.latest_exit() else {
            return;
        };
        match c.backoff.restart_at(exit.finished, env.now) {
            None => self.restart(uid, index, env),
            Some(at) => {
                let epoch = c.epoch;
                env.wake_at(
                    at,
                    Wake::Pod {
                        uid,
                        epoch,
                        what: PodWake::BackOffOver(index),
                    },
                );
            }
        }
    }

    /// A failed liveness or startup probe: the container is killed within the pod's grace
    /// period, then restarted in the same sync if the restart policy allows.
    fn kill_for_probe(&mut self, uid: Uid, index: usize, env: &mut Env<'_, '_>) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        let grace = SimDuration::from_secs(work.pod.spec.grace_period_seconds().max(0) as u64);
        let Some(c) = work.containers.get_mut(index) else {
            return;
        };
        if !c.running() || c.stopping {
            return;
        }
        let drawn = draw(&env.settings.timing.container_stop, &mut self.startup_rng);
        let stop = drawn.min(grace);
        c.stopping = true;
        c.hard_kill = drawn >= grace;
        c.epoch = c.epoch.wrapping_add(1);
        let epoch = c.epoch;
        env.wake_at(
            env.now + stop,
            Wake::Pod {
                uid,
                epoch,
                what: PodWake::ContainerStopped(index),
            },
        );
    }

    /// A container the kubelet killed has stopped.
    fn container_stopped(&mut self, uid: Uid, index: usize, env: &mut Env<'_, '_>) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        if matches!(work.stage, Stage::Terminating { .. }) {
            self.stopped_for_termination(uid, index, env);
            return;
        }
        let policy = work.restart_policy().to_string();
        let Some(c) = work.containers.get_mut(index) else {
            return;
        };
        let Runtime::Running { since } = c.actual else {
            return;
        };
        let hard = c.hard_kill;
        c.stopping = false;
        c.hard_kill = false;
        // The sync that killed it took its view of exited containers before the kill: the
        // back-off is checked against the exit before this one.
        let previous = c.last_exit;
        c.actual = Runtime::Exited(Exit {
            started: since,
            finished: env.now,
            code: if hard { SIGKILL_EXIT_CODE } else { 0 },
            oom_killed: false,
        });
        c.exit_handled = c.instance;
        if policy == "Never" {
            c.done = true;
            self.relist_later(uid, index, env);
            return;
        }
        match previous.and_then(|p| c.backoff.restart_at(p.finished, env.now)) {
            None => self.restart(uid, index, env),
            Some(until) => {
                // The sync ends in back-off; the one at its end checks again, against this
                // exit.
                c.waiting = Some(CRASH_LOOP_BACK_OFF);
                let epoch = c.epoch;
                env.wake_at(
                    until,
                    Wake::Pod {
                        uid,
                        epoch,
                        what: PodWake::BackOffOver(index),
                    },
                );
                self.relist_later(uid, index, env);
            }
        }
    }

    /// The kubelet's sync of a pod after a change: its status, its probes, its start chain,
    /// and whether it is finished.
    pub(super) fn sync_pod(&mut self, uid: Uid, env: &mut Env<'_, '_>) {
        self.check_finished(uid);
        self.update_status(uid, env);
        let changed = self.plan_probes(uid, env);
        for (index, kind) in changed {
            self.probe_result_changed(uid, index, kind, env);
        }
        self.advance_chain(uid, env);
    }

    /// A pod whose containers are all done (none will run again) is finished: Succeeded if
    /// every app container exited 0, else Failed; so is one whose init container failed for
    /// good.
    fn check_finished(&mut self, uid: Uid) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        if !matches!(work.stage, Stage::Starting { .. } | Stage::Running) {
            return;
        }
        let init_failed = work
            .containers
            .iter()
            .any(|c| c.runs_to_completion() && c.done && !c.last_exit_ok());
        let apps: Vec<&ContainerWork> = work.containers.iter().filter(|c| !c.init).collect();
        let all_done = !apps.is_empty() && apps.iter().all(|c| c.done);
        if !init_failed && !all_done {
            return;
        }
        let succeeded = !init_failed && apps.iter().all(|c| c.last_exit_ok());
        work.final_phase = Some(if succeeded {
            PodPhase::Succeeded
        } else {
            PodPhase::Failed
        });
        work.stage = Stage::Finished;
        work.epoch = work.epoch.wrapping_add(1);
    }

    /// Replans every probe worker of the pod after a sync, running the readiness probes the
    /// sync triggers (started, not ready); returns the probes whose result changed.
    fn plan_probes(&mut self, uid: Uid, env: &mut Env<'_, '_>) -> Vec<(usize, ProbeKind)> {
        let Some(work) = self.pods.get_mut(&uid) else {
            return Vec::new();
        };
        let terminating = work.terminating();
        let mut changed = Vec::new();
        let mut timers = Vec::new();
        for (index, c) in work.containers.iter_mut().enumerate() {
            for p in 0..c.probes.len() {
                let kind = c.probes[p].kind;
                let view = c.probe_view(kind, terminating);
                let manual = kind == ProbeKind::Readiness
                    && view.started
                    && view.running_since.is_some()
                    && c.probes[p].result_for(view.instance) != Some(ProbeResult::Success);
                if manual && c.probes[p].probe_now(env.now, &view) {
                    changed.push((index, kind));
                }
                if let Some(at) = c.probes[p].plan(env.now, &view) {
                    timers.push((at, index, kind, c.probes[p].epoch));
                }
            }
        }
        for (at, index, kind, epoch) in timers {
            env.wake_at(
                at,
                Wake::Pod {
                    uid,
                    epoch,
                    what: PodWake::Probe(index, kind as u8),
                },
            );
        }
        changed
    }

    /// A probe worker's tick is due.
    fn probe_due(&mut self, uid: Uid, index: usize, kind: u8, epoch: u32, env: &mut Env<'_, '_>) {
        let Some(kind) = ProbeKind::from_code(kind) else {
            return;
        };
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        let terminating = work.terminating();
        let Some(c) = work.containers.get_mut(index) else {
            return;
        };
        let view = c.probe_view(kind, terminating);
        let Some(worker) = c.probes.iter_mut().find(|p| p.kind == kind) else {
            return;
        };
        let changed = worker.on_timer(epoch, env.now, &view);
        let next = worker.plan(env.now, &view);
        let epoch = worker.epoch;
        if let Some(at) = next {
            env.wake_at(
                at,
                Wake::Pod {
                    uid,
                    epoch,
                    what: PodWake::Probe(index, kind as u8),
                },
            );
        }
        if changed {
            self.probe_result_changed(uid, index, kind, env);
        }
    }

    /// A probe's result changed: a failed liveness or startup probe kills the container; any
    /// change syncs the pod.
    fn probe_result_changed(
        &mut self,
        uid: Uid,
        index: usize,
        kind: ProbeKind,
        env: &mut Env<'_, '_>,
    ) {
        let failed = self
            .pods
            .get(&uid)
            .and_then(|w| w.containers.get(index))
            .and_then(|c| c.probe(kind).map(|p| (p, c.seen_instance)))
            .is_some_and(|(p, instance)| p.result_for(instance) == Some(ProbeResult::Failure));
        if failed && kind != ProbeKind::Readiness {
            self.kill_for_probe(uid, index, env);
        }
        self.sync_pod(uid, env);
    }
}
