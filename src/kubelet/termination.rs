//! Graceful termination (`SyncTerminatingPod`, `killPod`): when the kubelet sees a pod's
//! `deletionTimestamp`, it abandons whatever of the pod's start is still to come and stops
//! every running container at once, each taking its drawn stop time (`timing.containerStop`)
//! but never more than the pod's grace period (`deletionGracePeriodSeconds`), after which it
//! is killed. A container that stopped within the grace period exits 0, one killed exits 137.
//! Once all have stopped, the pod is terminal — Succeeded if every app container exited 0,
//! else Failed — and the status manager writes that status, then sends the final delete
//! (grace period 0), which removes the pod from the apiserver.

use super::pod_startup::SIGKILL_EXIT_CODE;
use super::pod_worker::{Exit, Runtime, Stage};
use super::timing::draw;
use super::wakeups::{PodWake, Wake};
use super::{Env, NodeAgent};
use crate::api::Uid;
use crate::api::pod::PodPhase;
use crate::sim::SimDuration;

impl NodeAgent {
    /// The pod is being deleted: stop its containers.
    pub(super) fn begin_termination(&mut self, uid: Uid, env: &mut Env<'_, '_>) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        match work.stage {
            Stage::Terminating { .. } => return,
            Stage::Finished | Stage::Rejected => {
                // Terminal already: nothing runs. The apiserver removes a terminal pod at
                // once; one it did not know terminal yet gets its final delete here.
                work.delete_when_written = true;
                self.delete_if_written(uid, env);
                return;
            }
            Stage::Starting { .. } | Stage::Running => {}
        }
        let grace_seconds = work
            .pod
            .metadata
            .deletion_grace_period_seconds
            .unwrap_or_else(|| work.pod.spec.grace_period_seconds())
            .max(0);
        let grace = SimDuration::from_secs(grace_seconds as u64);
        work.epoch = work.epoch.wrapping_add(1);
        let mut left = 0;
        for (index, c) in work.containers.iter_mut().enumerate() {
            c.starting = false;
            c.epoch = c.epoch.wrapping_add(1);
            if !c.running() {
                c.done = true;
                continue;
            }
            let drawn = draw(&env.settings.timing.container_stop, &mut self.startup_rng);
            c.stopping = true;
            c.hard_kill = drawn >= grace;
            left += 1;
            env.wake_at(
                env.now + drawn.min(grace),
                Wake::Pod {
                    uid,
                    epoch: c.epoch,
                    what: PodWake::ContainerStopped(index),
                },
            );
        }
        work.stage = Stage::Terminating { left };
        if left == 0 {
            self.finish_termination(uid, env);
        } else {
            self.sync_pod(uid, env);
        }
    }

    /// One of a terminating pod's containers has stopped.
    pub(super) fn stopped_for_termination(
        &mut self,
        uid: Uid,
        index: usize,
        env: &mut Env<'_, '_>,
    ) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        let Stage::Terminating { left } = work.stage else {
            return;
        };
        let Some(c) = work.containers.get_mut(index) else {
            return;
        };
        let Runtime::Running { since } = c.actual else {
            return;
        };
        c.actual = Runtime::Exited(Exit {
            started: since,
            finished: env.now,
            code: if c.hard_kill { SIGKILL_EXIT_CODE } else { 0 },
            oom_killed: false,
        });
        c.stopping = false;
        c.done = true;
        let left = left.saturating_sub(1);
        work.stage = Stage::Terminating { left };
        if left == 0 {
            self.finish_termination(uid, env);
        }
    }

    /// Every container has stopped: the pod is terminal, its status written, then deleted.
    fn finish_termination(&mut self, uid: Uid, env: &mut Env<'_, '_>) {
        let Some(work) = self.pods.get_mut(&uid) else {
            return;
        };
        // The kubelet waits for the runtime here: what it reports is what the runtime has.
        for c in &mut work.containers {
            c.seen = c.actual;
            c.seen_instance = c.instance;
            if matches!(c.seen, Runtime::Running { .. } | Runtime::None) {
                c.waiting = None;
            }
        }
        let succeeded = work
            .containers
            .iter()
            .filter(|c| !c.init)
            .all(|c| c.last_exit_ok());
        work.final_phase = Some(if succeeded {
            PodPhase::Succeeded
        } else {
            PodPhase::Failed
        });
        work.stage = Stage::Finished;
        work.delete_when_written = true;
        self.update_status(uid, env);
        self.delete_if_written(uid, env);
    }

    /// The pod is gone from the apiserver: the kubelet forgets it (its pending steps and
    /// probes find nothing when they come due).
    pub(super) fn pod_removed(&mut self, uid: Uid) {
        self.awaiting_node.retain(|p| p.metadata.uid != uid);
        self.pods.remove(&uid);
    }
}
