//! `oomKill`: the kernel's OOM killer kills a pod's container — its cgroup went over its
//! memory limit — with SIGKILL, now.
//!
//! To the kubelet this is an exit like any other, seen at the PLEG's next relist, with exit
//! code 137 (128 + SIGKILL) and the reason the runtime reports for it, `OOMKilled`, in the
//! container's `state.terminated` and, once it restarts, its `lastState.terminated`. The rest
//! is as for `podCrash`: readiness drops, and the restart policy and CrashLoopBackOff decide
//! whether and when it runs again (137 is a failure, so `OnFailure` restarts it too).

use super::{ContainerKill, FaultStep, KillCause};
use crate::api::ObjectKey;
use crate::api::pod::Pod;

/// The step of an OOM kill of `container` of `pod` (None: its first container), on its node.
pub fn step(pod: &Pod, container: Option<&str>) -> FaultStep {
    let container = container
        .map(str::to_string)
        .or_else(|| pod.spec.containers.first().map(|c| c.name.clone()));
    FaultStep::Pod(
        pod.spec.node_name.clone(),
        ContainerKill {
            pod: ObjectKey::new(pod.metadata.namespace.clone(), pod.metadata.name.clone()),
            uid: pod.metadata.uid,
            container,
            cause: KillCause::OomKilled,
        },
    )
}
