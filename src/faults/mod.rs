//! Faults a scenario injects on its timeline: what breaks, and what the world does about it.
//! One file per fault; none of them is known to the kernel, which only runs events.
//!
//! * `crash_node.rs` — `crash`: a node goes down (its kubelet and its containers stop;
//!   its pods stay in the API as they were), and optionally comes back after `recoverAfter`;
//! * `kubelet.rs` — `stopKubelet` / `startKubelet`: the kubelet alone stops and starts;
//! * `partition.rs` — `partition`: chosen nodes cannot reach the apiserver (nor it them)
//!   until the partition heals; `flap`: a node loses and regains it again and again;
//! * `zone_outage.rs` — `zoneOutage`: every node of a zone crashes at once;
//! * `pod_crash.rs` — `podCrash`: a pod's container process exits with a code of its own;
//! * `oom_kill.rs` — `oomKill`: the kernel's OOM killer kills a pod's container;
//! * `apiserver_restart.rs` — `apiserverRestart`: an apiserver process (one replica, or
//!   every replica at once) stops and a new one starts after a downtime, with cold watch
//!   caches; `apiserverRollingRestart`: every replica in turn, one down at a time;
//! * `control_plane.rs` — `breakWatches`, `etcdSlowdown`, `etcdLeaderElection`: every watch
//!   broken at once, etcd slower, etcd without a leader for an election;
//! * `pod_target.rs` — which pods a pod fault hits: one named, or some chosen at random
//!   among the running pods a label selector matches, when the fault fires.
//!
//! A fault on a node agent reaches the component that runs the node's agents through
//! [`crate::component::Component::on_node_fault`], routed by the world like any other event;
//! a fault on a pod's containers reaches the same component through
//! [`crate::component::Component::on_container_kill`], as the world acting on the node's
//! container runtime; a partition is the world's own, since it sits between the components
//! and the apiserver.

pub mod apiserver_restart;
pub mod control_plane;
pub mod crash_node;
pub mod kubelet;
pub mod oom_kill;
pub mod partition;
pub mod pod_crash;
pub mod pod_target;
pub mod zone_outage;

use crate::api::{ObjectKey, Uid};
use crate::sim::SimDuration;
pub use pod_target::{PodFaultError, PodTarget};

/// A fault on the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A node goes down, and comes back after the duration if one is given.
    CrashNode {
        /// The node.
        node: String,
        /// When it comes back, from the crash.
        recover_after: Option<SimDuration>,
    },
    /// A node's kubelet stops.
    StopKubelet(String),
    /// A node's kubelet starts again.
    StartKubelet(String),
    /// The nodes lose the apiserver, until the partition heals after the duration if given.
    Partition {
        /// The nodes cut off.
        nodes: Vec<String>,
        /// When the partition heals, from its start.
        heal_after: Option<SimDuration>,
    },
    /// Every node of a zone goes down, and comes back after the duration if given.
    ZoneOutage {
        /// The zone.
        zone: String,
        /// Its nodes, as the scenario declares them (resolved when it is loaded).
        nodes: Vec<String>,
        /// When they come back, from the outage.
        recover_after: Option<SimDuration>,
    },
    /// A node loses the apiserver for `down`, regains it for `up`, `times` times.
    Flap {
        /// The node.
        node: String,
        /// Each loss.
        down: SimDuration,
        /// Each return.
        up: SimDuration,
        /// How many losses.
        times: u32,
    },
    /// A pod's container processes exit with `exit_code`.
    PodCrash {
        /// The pods.
        target: PodTarget,
        /// The container (None: every container of the pod that runs).
        container: Option<String>,
        /// The code they exit with.
        exit_code: i32,
    },
    /// The kernel's OOM killer kills a pod's container.
    OomKill {
        /// The pods.
        target: PodTarget,
        /// The container (None: the pod's first container).
        container: Option<String>,
    },
    /// An apiserver process stops, and a new one starts after `downtime`.
    ApiserverRestart {
        /// From the old process stopping to the new one starting.
        downtime: SimDuration,
        /// The replica restarted; `None`: every replica at once.
        replica: Option<u32>,
    },
    /// Every apiserver replica restarts in turn, 0 first, the next one going down `interval`
    /// after the previous one is up again (one replica unavailable at a time).
    ApiserverRollingRestart {
        /// Each replica's downtime.
        downtime: SimDuration,
        /// From one replica being up again to the next going down.
        interval: SimDuration,
    },
    /// Every watch's stream ends (a network blip).
    BreakWatches,
    /// etcd's work takes `percent` % of its normal time, for `lasting` if given.
    EtcdSlowdown {
        /// Percent of the normal time (over 100: slower).
        percent: u32,
        /// How long; for the rest of the run if not given.
        lasting: Option<SimDuration>,
    },
    /// The etcd leader is lost and a new one elected.
    EtcdLeaderElection,
}

impl Fault {
    /// A short description for logs and reports.
    pub fn describe(&self) -> String {
        match self {
            Fault::CrashNode {
                node,
                recover_after: Some(after),
            } => format!("crash node {node}, recovering after {after}"),
            Fault::CrashNode { node, .. } => format!("crash node {node}"),
            Fault::StopKubelet(node) => format!("stop the kubelet of {node}"),
            Fault::StartKubelet(node) => format!("start the kubelet of {node}"),
            Fault::Partition {
                nodes,
                heal_after: Some(after),
            } => format!(
                "partition {} from the apiserver for {after}",
                nodes.join(", ")
            ),
            Fault::Partition { nodes, .. } => {
                format!("partition {} from the apiserver", nodes.join(", "))
            }
            Fault::ZoneOutage {
                zone,
                nodes,
                recover_after,
            } => {
                let back =
                    recover_after.map_or(String::new(), |d| format!(", recovering after {d}"));
                format!("zone {zone} down ({} nodes){back}", nodes.len())
            }
            Fault::Flap {
                node,
                down,
                up,
                times,
            } => format!("flap node {node}: {times} × ({down} cut off, {up} back)"),
            Fault::PodCrash {
                target,
                container,
                exit_code,
            } => {
                let which = container
                    .as_ref()
                    .map_or("every container".to_string(), |c| format!("container {c}"));
                format!("crash {which} of {target} (exit code {exit_code})")
            }
            Fault::OomKill { target, container } => {
                let which = container
                    .as_ref()
                    .map_or("the first container".to_string(), |c| {
                        format!("container {c}")
                    });
                format!("OOM-kill {which} of {target}")
            }
            Fault::ApiserverRestart {
                downtime,
                replica: None,
            } => format!("restart the apiserver ({downtime} down)"),
            Fault::ApiserverRestart {
                downtime,
                replica: Some(r),
            } => format!("restart apiserver replica {r} ({downtime} down)"),
            Fault::ApiserverRollingRestart { downtime, interval } => format!(
                "rolling restart of the apiservers ({downtime} down each, {interval} between)"
            ),
            Fault::BreakWatches => "break every watch".to_string(),
            Fault::EtcdSlowdown { percent, lasting } => {
                let lasting = lasting.map_or(String::new(), |d| format!(" for {d}"));
                format!("slow etcd down to {percent} % of its normal time{lasting}")
            }
            Fault::EtcdLeaderElection => "lose the etcd leader".to_string(),
        }
    }

    /// The nodes the fault names.
    pub fn nodes(&self) -> Vec<&str> {
        match self {
            Fault::CrashNode { node, .. }
            | Fault::StopKubelet(node)
            | Fault::StartKubelet(node)
            | Fault::Flap { node, .. } => {
                vec![node.as_str()]
            }
            Fault::Partition { nodes, .. } | Fault::ZoneOutage { nodes, .. } => {
                nodes.iter().map(String::as_str).collect()
            }
            Fault::PodCrash { .. }
            | Fault::OomKill { .. }
            | Fault::ApiserverRestart { .. }
            | Fault::ApiserverRollingRestart { .. }
            | Fault::BreakWatches
            | Fault::EtcdSlowdown { .. }
            | Fault::EtcdLeaderElection => Vec::new(),
        }
    }

    /// The pods a pod fault hits, if it is one.
    pub fn pod_target(&self) -> Option<&PodTarget> {
        match self {
            Fault::PodCrash { target, .. } | Fault::OomKill { target, .. } => Some(target),
            _ => None,
        }
    }
}

/// What happens to a node's agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeFault {
    /// The node goes down: its agents stop and what they ran is gone.
    Crash,
    /// The node's kubelet stops (and, in kubesim, what it ran with it).
    StopKubelet,
    /// The node's kubelet starts afresh: it lists its node and pods and syncs them.
    StartKubelet,
}

/// Why a container dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillCause {
    /// Its process exits by itself with this code (`reason: Error`, or `Completed` for 0).
    Crash(i32),
    /// The kernel's OOM killer sends it SIGKILL (exit code 137, `reason: OOMKilled`).
    OomKilled,
}

/// The exit code of a container the OOM killer killed: 128 + SIGKILL (9).
pub const OOM_KILLED_EXIT_CODE: i32 = 137;

impl KillCause {
    /// The exit code the container ends with.
    pub fn exit_code(self) -> i32 {
        match self {
            KillCause::Crash(code) => code,
            KillCause::OomKilled => OOM_KILLED_EXIT_CODE,
        }
    }
}

/// Containers of one pod die: what the world asks of the container runtime of the pod's node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerKill {
    /// The pod.
    pub pod: ObjectKey,
    /// Its uid (a pod of the same name created since is another pod).
    pub uid: Uid,
    /// The container (None: every container of the pod that runs).
    pub container: Option<String>,
    /// How they die.
    pub cause: KillCause,
}

/// A step of a fault the world carries out at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultStep {
    /// Something happens to a node's agents.
    Node(String, NodeFault),
    /// Containers of a pod on the node die.
    Pod(String, ContainerKill),
    /// The nodes are cut off from the apiserver.
    Cut(Vec<String>),
    /// The nodes reach the apiserver again.
    Heal(Vec<String>),
    /// An apiserver replica's process goes away (`None`: every replica's).
    ApiserverDown(Option<u32>),
    /// A new process of an apiserver replica starts (`None`: of every replica).
    ApiserverUp(Option<u32>),
    /// Every watch's stream ends.
    BreakWatches,
    /// etcd works at this percentage of its normal time (100: normal).
    EtcdSlowdown(u32),
    /// The etcd leader is lost.
    EtcdLeaderLoss,
}
