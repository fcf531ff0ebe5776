//! `podCrash`: a pod's container process exits by itself, now, with the code the scenario
//! gives (default 1) — a bug, a failed assertion, a panic.
//!
//! Nothing tells the kubelet: its PLEG sees the exit at its next relist, and from there the
//! kubelet does what it does with any exit. The container's status shows it `terminated`
//! (reason `Error`, or `Completed` for code 0, with its start and finish) and its readiness
//! drops, so the pod is not Ready and leaves its Services' ready endpoints and its
//! Deployment's available replicas. The pod's `restartPolicy` decides what follows: `Always`
//! (and `OnFailure` for a non-zero code) restarts the container — at once the first time,
//! then after the CrashLoopBackOff delays (10 s doubling to 5 min) — each restart counted in
//! `restartCount`, the exit kept in `lastState.terminated`; `Never` (or `OnFailure` after
//! code 0) leaves it terminated, and once every container of the pod is, the pod ends
//! Succeeded if all exited 0, else Failed.

use super::{ContainerKill, FaultStep, KillCause};
use crate::api::ObjectKey;
use crate::api::pod::Pod;

/// The step of a crash of `container` (None: every container) of `pod`, on its node.
pub fn step(pod: &Pod, container: Option<&str>, exit_code: i32) -> FaultStep {
    FaultStep::Pod(
        pod.spec.node_name.clone(),
        ContainerKill {
            pod: ObjectKey::new(pod.metadata.namespace.clone(), pod.metadata.name.clone()),
            uid: pod.metadata.uid,
            container: container.map(str::to_string),
            cause: KillCause::Crash(exit_code),
        },
    )
}
