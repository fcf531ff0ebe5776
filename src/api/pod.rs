//! Pod: what to run (containers, their requests, images and host ports) and the scheduling
//! constraints (node selector, affinity, tolerations, topology spread, priority).

use serde::{Deserialize, Serialize};

use super::affinity::Affinity;
use super::labels::{LabelSelector, Labels};
use super::meta::ObjectMeta;
use super::resources::{ResourceList, ResourceRequirements};
use super::taints::Toleration;
use crate::sim::SimTime;

/// The name of the default scheduler profile.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// A pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Pod {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Desired state.
    pub spec: std::sync::Arc<PodSpec>,
    /// Observed state.
    pub status: PodStatus,
}

/// `spec.template` of workload kinds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodTemplateSpec {
    /// Metadata given to every pod made from the template.
    pub metadata: ObjectMeta,
    /// The pod spec.
    pub spec: PodSpec,
}

/// A pod's `spec`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    /// The node the pod is bound to; set at creation it bypasses the scheduler.
    pub node_name: String,
    /// Which scheduler profile places the pod.
    pub scheduler_name: String,
    /// Resolved priority; admission fills it from `priorityClassName`.
    pub priority: Option<i32>,
    /// The PriorityClass to take the priority from.
    pub priority_class_name: String,
    /// `PreemptLowerPriority` (default) or `Never`.
    pub preemption_policy: Option<String>,
    /// App containers, running together.
    pub containers: Vec<Container>,
    /// Init containers, run in order before the app containers (sidecars keep running).
    pub init_containers: Vec<Container>,
    /// Per-pod overhead of the runtime class, added to the request.
    pub overhead: ResourceList,
    /// Labels a node must have.
    pub node_selector: crate::api::labels::Labels,
    /// Node and pod (anti-)affinity.
    pub affinity: Option<Affinity>,
    /// Taints the pod tolerates.
    pub tolerations: Vec<Toleration>,
    /// Topology spread constraints.
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// `Always`, `OnFailure` or `Never`.
    pub restart_policy: String,
    /// Grace period of a graceful delete, in seconds (default 30).
    pub termination_grace_period_seconds: Option<i64>,
    /// Scheduling gates; a gated pod is not scheduled until they are removed.
    pub scheduling_gates: Vec<SchedulingGate>,
}

impl Default for PodSpec {
    fn default() -> Self {
        PodSpec {
            node_name: String::new(),
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            priority: None,
            priority_class_name: String::new(),
            preemption_policy: None,
            containers: Vec::new(),
            init_containers: Vec::new(),
            overhead: ResourceList::new(),
            node_selector: Default::default(),
            affinity: None,
            tolerations: Vec::new(),
            topology_spread_constraints: Vec::new(),
            restart_policy: "Always".to_string(),
            termination_grace_period_seconds: None,
            scheduling_gates: Vec::new(),
        }
    }
}

impl PodSpec {
    /// The grace period of a graceful delete (30 s when unset, as the API defaults it).
    pub fn grace_period_seconds(&self) -> i64 {
        self.termination_grace_period_seconds.unwrap_or(30)
    }

    /// Every image the pod runs, init containers first.
    pub fn images(&self) -> impl Iterator<Item = &str> {
        self.init_containers
            .iter()
            .chain(&self.containers)
            .map(|c| c.image.as_str())
            .filter(|i| !i.is_empty())
    }
}

/// A scheduling gate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulingGate {
    /// Gate name.
    pub name: String,
}

/// A container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    /// Container name.
    pub name: String,
    /// Image reference; the node's image list decides whether it must be pulled.
    pub image: String,
    /// Requests and limits.
    pub resources: ResourceRequirements,
    /// Ports, of which `hostPort` ones occupy the node's port.
    pub ports: Vec<ContainerPort>,
    /// `Always` on an init container makes it a sidecar.
    pub restart_policy: Option<String>,
    /// When the container counts as ready (none: ready once started).
    pub readiness_probe: Option<Probe>,
    /// When the kubelet restarts the container (none: never for a failed check).
    pub liveness_probe: Option<Probe>,
    /// Holds the other probes back until it succeeds; failing it restarts the container.
    pub startup_probe: Option<Probe>,
}

/// A probe's timing (`readinessProbe`, `livenessProbe`, `startupProbe`). What the probe runs
/// (exec, httpGet, tcpSocket, grpc) is read and ignored: kubesim takes the outcome from the
/// pod's behaviour (`kubesim.io/*` annotations), the kubelet only decides when it probes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Probe {
    /// Seconds after the container started before the first probe counts (default 0).
    pub initial_delay_seconds: Option<i32>,
    /// Seconds between probes (default 10).
    pub period_seconds: Option<i32>,
    /// Seconds a probe may take (default 1); kubesim's probes answer at once.
    pub timeout_seconds: Option<i32>,
    /// Consecutive successes that make the result Success (default 1; must be 1 for liveness
    /// and startup probes).
    pub success_threshold: Option<i32>,
    /// Consecutive failures that make the result Failure (default 3).
    pub failure_threshold: Option<i32>,
}

impl Probe {
    /// `initialDelaySeconds`, defaulted (0) and never negative.
    pub fn initial_delay_seconds(&self) -> u64 {
        self.initial_delay_seconds.unwrap_or(0).max(0) as u64
    }

    /// `periodSeconds`, defaulted (10) and at least 1 (the apiserver rejects less).
    pub fn period_seconds(&self) -> u64 {
        self.period_seconds.unwrap_or(10).max(1) as u64
    }

    /// `successThreshold`, defaulted (1) and at least 1.
    pub fn success_threshold(&self) -> u32 {
        self.success_threshold.unwrap_or(1).max(1) as u32
    }

    /// `failureThreshold`, defaulted (3) and at least 1.
    pub fn failure_threshold(&self) -> u32 {
        self.failure_threshold.unwrap_or(3).max(1) as u32
    }
}

impl Container {
    /// Whether this (init) container is a sidecar: started in order, then kept running.
    pub fn is_sidecar(&self) -> bool {
        self.restart_policy.as_deref() == Some("Always")
    }
}

/// A container port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    /// Port name.
    pub name: String,
    /// Port inside the container.
    pub container_port: i32,
    /// Port on the node (0 = none).
    pub host_port: i32,
    /// Host IP the host port binds (empty = all).
    #[serde(rename = "hostIP")]
    pub host_ip: String,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: String,
}

/// A topology spread constraint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopologySpreadConstraint {
    /// Largest allowed difference between domains.
    pub max_skew: i32,
    /// Node label that defines the domains.
    pub topology_key: String,
    /// `DoNotSchedule` (filter) or `ScheduleAnyway` (score).
    pub when_unsatisfiable: String,
    /// Which pods count.
    pub label_selector: Option<LabelSelector>,
    /// Minimum number of eligible domains.
    pub min_domains: Option<i32>,
    /// `Honor` (default) or `Ignore` the pod's node affinity when counting domains.
    pub node_affinity_policy: Option<String>,
    /// `Honor` or `Ignore` (default) node taints when counting domains.
    pub node_taints_policy: Option<String>,
    /// Pod label keys whose values are added to the selector.
    pub match_label_keys: Vec<String>,
}

/// Pod lifecycle phase.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum PodPhase {
    /// Accepted, not all containers running yet (includes waiting for a node).
    #[default]
    Pending,
    /// Bound and running.
    Running,
    /// All containers exited successfully.
    Succeeded,
    /// All containers exited, some failed.
    Failed,
    /// The node stopped reporting.
    Unknown,
}

impl PodPhase {
    /// The phase as the API spells it.
    pub const fn name(self) -> &'static str {
        match self {
            PodPhase::Pending => "Pending",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Succeeded",
            PodPhase::Failed => "Failed",
            PodPhase::Unknown => "Unknown",
        }
    }
}

/// A pod condition (`PodScheduled`, `Ready`, `DisruptionTarget`, …).
pub type PodCondition = super::meta::Condition;

/// A pod's `status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    /// Phase.
    pub phase: PodPhase,
    /// Why the pod is in this phase, in one word (`OutOfcpu` for a pod the kubelet rejected).
    pub reason: String,
    /// The same for humans.
    pub message: String,
    /// Conditions.
    pub conditions: Vec<PodCondition>,
    /// Node the scheduler nominated after preempting victims there.
    pub nominated_node_name: String,
    /// Virtual time the kubelet started the pod.
    #[serde(skip)]
    pub start_time: Option<SimTime>,
    /// Each init container's state as the kubelet reports it.
    pub init_container_statuses: Vec<ContainerStatus>,
    /// Each container's state as the kubelet reports it.
    pub container_statuses: Vec<ContainerStatus>,
    /// The pod's address, once its sandbox is up (the first of `podIPs`).
    #[serde(rename = "podIP")]
    pub pod_ip: String,
    /// The pod's addresses, one per IP family.
    #[serde(rename = "podIPs")]
    pub pod_ips: Vec<PodIp>,
}

/// One of a pod's addresses (`status.podIPs[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodIp {
    /// The address.
    pub ip: String,
}

/// One container's status (`status.containerStatuses[]`), the parts kubesim models.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
    /// The container's name.
    pub name: String,
    /// The image it runs.
    pub image: String,
    /// What it is doing now.
    pub state: ContainerState,
    /// How its previous run ended (empty before the first restart).
    pub last_state: ContainerState,
    /// Whether it passes its readiness probe.
    pub ready: bool,
    /// Whether it passed its startup probe (true once running when it has none).
    pub started: Option<bool>,
    /// How many times the kubelet restarted it.
    pub restart_count: i32,
}

/// A container's state: at most one of waiting, running and terminated is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerState {
    /// Not running yet, or waiting for its restart.
    pub waiting: Option<ContainerStateWaiting>,
    /// Running.
    pub running: Option<ContainerStateRunning>,
    /// Ended.
    pub terminated: Option<ContainerStateTerminated>,
}

/// Why a container waits (`ContainerCreating`, `PodInitializing`, `CrashLoopBackOff`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStateWaiting {
    /// One word.
    pub reason: String,
    /// For humans.
    pub message: String,
}

/// A running container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStateRunning {
    /// Virtual time it started.
    #[serde(skip)]
    pub started_at: SimTime,
}

/// A container that ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStateTerminated {
    /// Its exit code.
    pub exit_code: i32,
    /// `Completed` (exit code 0), `Error`, or `OOMKilled` (killed by the OOM killer).
    pub reason: String,
    /// Virtual time it started.
    #[serde(skip)]
    pub started_at: SimTime,
    /// Virtual time it ended.
    #[serde(skip)]
    pub finished_at: SimTime,
}

impl PodStatus {
    /// The condition of type `type_`, if present.
    pub fn condition(&self, type_: &str) -> Option<&PodCondition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// The pod's addresses: `podIPs`, or `podIP` alone when only that is set (a manifest
    /// written by hand).
    pub fn ips(&self) -> impl Iterator<Item = &str> {
        let single = self.pod_ips.is_empty() && !self.pod_ip.is_empty();
        self.pod_ips
            .iter()
            .map(|p| p.ip.as_str())
            .chain(single.then_some(self.pod_ip.as_str()))
    }

    /// When the pod became Ready, if it is (its `Ready` condition is `True`; upstream
    /// `IsPodReady` and the condition's `lastTransitionTime`).
    pub fn ready_since(&self) -> Option<SimTime> {
        self.condition(POD_READY)
            .filter(|c| c.status == "True")
            .map(|c| c.last_transition_time)
    }
}

/// The pod condition a kubelet sets once every container is ready.
pub const POD_READY: &str = "Ready";
/// The pod condition set on a pod about to be disrupted on purpose (preempted, evicted).
pub const DISRUPTION_TARGET: &str = "DisruptionTarget";

impl Pod {
    /// Whether the pod is bound to a node.
    pub fn is_bound(&self) -> bool {
        !self.spec.node_name.is_empty()
    }

    /// Whether the pod has finished (Succeeded or Failed) and no longer holds resources.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.phase, PodPhase::Succeeded | PodPhase::Failed)
    }

    /// The pod's labels.
    pub fn labels(&self) -> &Labels {
        &self.metadata.labels
    }
}
