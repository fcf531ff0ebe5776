//! The `kind: Scenario` document: what the cluster looks like and what happens when.
//!
//! Every struct here denies unknown fields: a typo in a scenario must fail loudly, not silently
//! change the experiment. Positions of fields that are checked after parsing (times, references)
//! are kept with [`Spanned`] so that those errors point at the line too.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::api::labels::Labels;
use crate::api::node::ContainerImage;
use crate::api::quantity::Quantity;
use crate::api::resources::ResourceList;
use crate::api::taints::Taint;
use crate::config::kubelet::Distribution;
use crate::sim::SimDuration;

/// The API version of the Scenario document.
pub const SCENARIO_API_VERSION: &str = "kubesim.io/v1alpha1";
/// The kind of the Scenario document.
pub const SCENARIO_KIND: &str = "Scenario";

/// A scenario document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioDoc {
    /// Must be `kubesim.io/v1alpha1`.
    pub api_version: String,
    /// Must be `Scenario`.
    pub kind: String,
    /// The scenario's name (names the default output folder).
    #[serde(default)]
    pub metadata: ScenarioMeta,
    /// Everything else.
    #[serde(default)]
    pub spec: ScenarioSpec,
}

/// `metadata` of a scenario.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioMeta {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Free-form description, shown in the report.
    #[serde(default)]
    pub description: String,
}

/// `spec` of a scenario.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioSpec {
    /// Run seed (the `--seed` flag overrides it; default 1).
    pub seed: Option<u64>,
    /// Virtual time to simulate (default 10m).
    pub duration: Option<Spanned<SimDuration>>,
    /// Stop before `duration` once nothing but periodic work is pending.
    #[serde(default)]
    pub stop_when_quiescent: bool,
    /// Manifest files or folders applied at time 0, relative to the scenario file.
    #[serde(default)]
    pub manifests: Vec<Spanned<String>>,
    /// Groups of identical nodes.
    #[serde(default)]
    pub node_pools: Vec<Spanned<NodePool>>,
    /// Actions at virtual times.
    #[serde(default)]
    pub timeline: Vec<Spanned<TimelineEntry>>,
    /// Apiserver settings.
    #[serde(default)]
    pub apiserver: ApiServerSpec,
    /// Scheduler settings (its plugin configuration comes from a KubeSchedulerConfiguration
    /// document).
    #[serde(default)]
    pub scheduler: SchedulerSpec,
    /// kube-controller-manager settings.
    #[serde(default)]
    pub controller_manager: ControllerManagerSpec,
    /// Kubelet settings: `KubeletConfiguration` fields under their real names, and kubesim's
    /// timing and container behaviour models.
    #[serde(default)]
    pub kubelet: KubeletSpec,
    /// kube-proxy settings: `KubeProxyConfiguration` fields under their real names.
    #[serde(default)]
    pub kube_proxy: KubeProxySpec,
    /// Client populations beside the components: per-node agents, operators, scrapers.
    #[serde(default)]
    pub clients: Vec<Spanned<ClientPopulationSpec>>,
    /// Offered load: a request rate per Service and what a request costs its pods.
    #[serde(default)]
    pub traffic: Vec<Spanned<TrafficSpec>>,
    /// metrics-server (runs by default when the scenario has traffic or HPAs).
    #[serde(default)]
    pub metrics_server: MetricsServerSpec,
    /// The custom and external metrics adapter.
    #[serde(default)]
    pub metrics_adapter: MetricsAdapterSpec,
    /// client-go's feature gates of every client of the run, by name: `WatchListClient`
    /// (default false).
    pub client_feature_gates: Option<Spanned<BTreeMap<String, bool>>>,
    /// Output settings.
    #[serde(default)]
    pub report: ReportSpec,
    /// Replay a GPU-cluster trace instead of simulating the cluster.
    pub replay: Option<ReplaySpec>,
}

/// `spec.replay`: the FGD paper's replay of a GPU-cluster trace under one GPU-sharing policy
/// (what `kubesim replay openb` does), as a scenario, so that sweeps can vary its fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReplaySpec {
    /// Trace format: `openb`.
    pub trace: Spanned<String>,
    /// Node list (openb CSV or Node manifests), relative to the scenario file.
    pub nodes: Spanned<String>,
    /// Pod list (openb CSV), relative to the scenario file.
    pub pods: Spanned<String>,
    /// Policy: random, dotprod, gpuclustering, gpupacking, bestfit or fgd.
    pub policy: Spanned<String>,
}

/// A `spec.traffic` entry: one Service's request rate and what a request costs the pods that
/// serve it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrafficSpec {
    /// The Service, `name` (in `default`) or `namespace/name`.
    pub service: Spanned<String>,
    /// The request rate over time.
    pub rate: Option<Spanned<crate::workload::traffic::RateProfile>>,
    /// A `time,rps` CSV file to replay instead, relative to the scenario file.
    pub rate_file: Option<Spanned<String>>,
    /// CPU per request per second served (a quantity, e.g. `2m`).
    pub cpu_per_request: Option<Spanned<String>>,
    /// CPU a pod uses serving nothing.
    pub base_cpu: Option<Spanned<String>>,
    /// Memory per request per second served.
    pub memory_per_request: Option<Spanned<String>>,
    /// Memory a pod uses serving nothing.
    pub base_memory: Option<Spanned<String>>,
    /// The relative spread of the endpoints' shares (default 0).
    pub noise: Option<Spanned<f64>>,
    /// How often the rate is re-evaluated (default 5s).
    pub step: Option<Spanned<SimDuration>>,
    /// How a pod serves: concurrency, serviceTime, queueLimit.
    pub server: Option<Spanned<crate::workload::saturation::Server>>,
}

/// `spec.metricsServer`: metrics-server's flags, in camelCase.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricsServerSpec {
    /// Run it (default: when the scenario has traffic or HPAs).
    pub enabled: Option<bool>,
    /// `--metric-resolution` (default 15s, as its manifests ship; at least 10s).
    pub metric_resolution: Option<Spanned<SimDuration>>,
}

/// `spec.metricsAdapter`: the custom and external metrics adapter (Prometheus and
/// prometheus-adapter) serving the rate of each pod's requests.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricsAdapterSpec {
    /// Run it (default: when the scenario has traffic).
    pub enabled: Option<bool>,
    /// Prometheus' `scrape_interval` (default 30s).
    pub scrape_interval: Option<Spanned<SimDuration>>,
    /// The range of the `rate()` query (default 5m).
    pub rate_window: Option<Spanned<SimDuration>>,
    /// The metric name it serves (default `http_requests_per_second`).
    pub metric_name: Option<Spanned<String>>,
}

/// `spec.scheduler`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SchedulerSpec {
    /// Run kube-scheduler (default true).
    pub enabled: Option<bool>,
    /// Virtual cost of a scheduling cycle.
    #[serde(default)]
    pub cycle_cost: CycleCostSpec,
    /// kube-scheduler feature gates (`--feature-gates`) a legacy Policy's translation reads,
    /// by name: `DefaultPodTopologySpread` (default true), `ResourceLimitsPriorityFunction`
    /// (default false).
    pub feature_gates: Option<Spanned<BTreeMap<String, bool>>>,
}

/// `spec.scheduler.cycleCost`: the virtual time one scheduling cycle takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CycleCostSpec {
    /// Fixed cost per cycle (default 100us).
    pub per_cycle: Option<SimDuration>,
    /// Cost per node filtered (default 1us).
    pub per_node_filtered: Option<SimDuration>,
    /// Cost per node scored (default 1us).
    pub per_node_scored: Option<SimDuration>,
}

/// `spec.kubelet`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeletSpec {
    /// Run a kubelet on every node (default true).
    pub enabled: Option<bool>,
    /// How often a kubelet computes its node's status (default 10s).
    pub node_status_update_frequency: Option<Spanned<SimDuration>>,
    /// How often an unchanged node status is written (default 5m, or the update frequency
    /// when only that is set, as upstream defaults it).
    pub node_status_report_frequency: Option<Spanned<SimDuration>>,
    /// The node lease's duration; it is renewed every quarter of it (default 40).
    pub node_lease_duration_seconds: Option<Spanned<i32>>,
    /// One image pull at a time per node (default true).
    pub serialize_image_pulls: Option<bool>,
    /// Parallel pulls per node when they are not serialized (default: no limit).
    pub max_parallel_image_pulls: Option<Spanned<i32>>,
    /// Pod capacity reported for a node that declares none (default 110).
    pub max_pods: Option<Spanned<i64>>,
    /// The largest images listed in a node's `status.images` (default 50, -1 for all).
    pub node_status_max_images: Option<Spanned<i32>>,
    /// How long each step takes.
    #[serde(default)]
    pub timing: KubeletTimingSpec,
    /// Image sizes for `status.images`, by image name.
    #[serde(default)]
    pub image_sizes: BTreeMap<String, Quantity>,
    /// The size of an image not in `imageSizes` (default 200Mi).
    pub default_image_size: Option<Quantity>,
    /// What containers do unless their pod's `kubesim.io/*` annotations say otherwise.
    #[serde(default)]
    pub containers: ContainerBehaviorSpec,
    /// `kubeAPIQPS`: the QPS of every kubelet's API client (default 50; 0 reaches client-go,
    /// which runs at 5).
    #[serde(rename = "kubeAPIQPS")]
    pub kube_api_qps: Option<Spanned<i32>>,
    /// `kubeAPIBurst`: its burst (default 100; 0 means unset).
    #[serde(rename = "kubeAPIBurst")]
    pub kube_api_burst: Option<Spanned<i32>>,
}

/// `spec.kubelet.timing`: kubesim's distributions of each step's duration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeletTimingSpec {
    /// Creating the pod sandbox.
    pub sandbox: Option<Spanned<Distribution>>,
    /// One image pull.
    pub image_pull: Option<Spanned<Distribution>>,
    /// Creating and starting a container.
    pub container_start: Option<Spanned<Distribution>>,
    /// A container's stop after SIGTERM (the grace period caps it).
    pub container_stop: Option<Spanned<Distribution>>,
    /// The PLEG's relist period (default 1s).
    pub pleg_relist_period: Option<Spanned<SimDuration>>,
}

/// `spec.kubelet.containers`: the default container behaviour.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerBehaviorSpec {
    /// Time from start until the readiness probe passes (default 0s).
    pub ready_after: Option<SimDuration>,
    /// Time from start until the startup probe passes (default 0s).
    pub started_after: Option<SimDuration>,
    /// Time from start after which the liveness probe fails (default never).
    pub liveness_fails_after: Option<SimDuration>,
    /// How long an app container runs before it exits (default: until killed).
    pub exit_after: Option<SimDuration>,
    /// The exit code of such an exit (default 0).
    pub exit_code: Option<i32>,
}

/// A pool of identical nodes named `<name>-<index>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePool {
    /// Pool name, the prefix of node names.
    pub name: String,
    /// How many nodes.
    pub count: u32,
    /// Zones, assigned round-robin to the pool's nodes (sets `topology.kubernetes.io/zone`).
    #[serde(default)]
    pub zones: Vec<String>,
    /// What every node of the pool looks like.
    #[serde(default)]
    pub template: NodeTemplate,
}

/// The node template of a pool.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeTemplate {
    /// Allocatable resources (what the scheduler sees).
    #[serde(default)]
    pub allocatable: ResourceList,
    /// Capacity (defaults to allocatable).
    #[serde(default)]
    pub capacity: ResourceList,
    /// Labels besides the ones a kubelet sets.
    #[serde(default)]
    pub labels: Labels,
    /// Annotations.
    #[serde(default)]
    pub annotations: crate::api::meta::Annotations,
    /// Taints.
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// Images already present.
    #[serde(default)]
    pub images: Vec<ContainerImage>,
    /// Start cordoned.
    #[serde(default)]
    pub unschedulable: bool,
}

/// One timeline entry: a time and exactly one action.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimelineEntry {
    /// When, from the start of the run.
    pub at: Spanned<SimDuration>,
    /// Apply the manifests of a file or folder (relative to the scenario file).
    pub apply: Option<Spanned<String>>,
    /// Delete an object: `{pod: ns/name}`, `{deployment: ns/name}`, `{node: name}`, ….
    pub delete: Option<BTreeMap<String, String>>,
    /// Set a workload's replicas.
    pub scale: Option<ScaleAction>,
    /// Set a container image.
    pub set: Option<SetAction>,
    /// Mark a node unschedulable.
    pub cordon: Option<String>,
    /// Mark a node schedulable again.
    pub uncordon: Option<String>,
    /// Create many pods from one template (scheduler_perf's `createPods`).
    pub create_pods: Option<CreatePodsAction>,
    /// `kubectl rollout undo | pause | resume | restart` of a Deployment.
    pub rollout: Option<RolloutAction>,
    /// `kubectl drain`: cordon a node and evict its pods, respecting their disruption budgets.
    pub drain: Option<DrainAction>,
    /// Evict one pod through the eviction API (`pods/<name>/eviction`).
    pub evict: Option<EvictAction>,
    /// A node goes down (fault).
    pub crash: Option<CrashAction>,
    /// A node's kubelet stops (fault).
    pub stop_kubelet: Option<String>,
    /// A node's kubelet starts again (fault).
    pub start_kubelet: Option<String>,
    /// Nodes lose the apiserver (fault).
    pub partition: Option<PartitionAction>,
    /// Every node of a zone goes down (fault).
    pub zone_outage: Option<ZoneOutageAction>,
    /// A node loses and regains the apiserver again and again (fault).
    pub flap: Option<FlapAction>,
    /// A pod's container process exits (fault).
    pub pod_crash: Option<PodCrashAction>,
    /// The OOM killer kills a pod's container (fault).
    pub oom_kill: Option<OomKillAction>,
    /// The apiserver process stops and a new one starts (fault).
    pub apiserver_restart: Option<ApiserverRestartAction>,
    /// Every apiserver replica restarts in turn (fault).
    pub apiserver_rolling_restart: Option<ApiserverRollingRestartAction>,
    /// Every watch's stream ends at once (fault).
    pub break_watches: Option<EmptyAction>,
    /// etcd slows down (fault).
    pub etcd_slowdown: Option<EtcdSlowdownAction>,
    /// The etcd leader is lost (fault).
    pub etcd_leader_election: Option<EmptyAction>,
}

/// An action with no parameters, written `{}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyAction {}

/// `etcdSlowdown:` — etcd's work takes `percent` % of its normal time (above 100: slower),
/// for `for` if given, else to the end of the run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EtcdSlowdownAction {
    /// Percent of the normal time.
    pub percent: u32,
    /// How long it lasts.
    #[serde(rename = "for")]
    pub lasting: Option<SimDuration>,
}

/// `apiserverRestart:` — the kube-apiserver process stops, and a new one starts `downtime`
/// later (default 0s: at once) with empty watch caches: of replica `replica` (an index below
/// `spec.apiserver.replicas`), or without it of every replica at the same instant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiserverRestartAction {
    /// From the old process stopping to the new one starting.
    #[serde(default)]
    pub downtime: SimDuration,
    /// The replica restarted (default: every replica at once).
    pub replica: Option<u32>,
}

/// `apiserverRollingRestart:` — every kube-apiserver replica restarts in turn, 0 first, each
/// down for `downtime` (default 0s), the next going down `interval` (default 0s) after the
/// previous one is up again: a rolling update with one replica unavailable at a time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiserverRollingRestartAction {
    /// Each replica's downtime.
    #[serde(default)]
    pub downtime: SimDuration,
    /// From one replica being up again to the next going down.
    #[serde(default)]
    pub interval: SimDuration,
}

/// `podCrash:` — containers of pods exit with `exitCode` (default 1): of the pod `pod`
/// (`namespace/name`), or of `count` (default 1) running pods chosen at random among those
/// `selector` matches in `namespace` (default `default`); `container` alone (default: every
/// container of the pod that runs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodCrashAction {
    /// The pod, `namespace/name`.
    pub pod: Option<String>,
    /// A label selector (`app=web`), instead of `pod`.
    pub selector: Option<String>,
    /// How many of the pods `selector` matches.
    pub count: Option<u32>,
    /// The namespace `selector` looks in.
    pub namespace: Option<String>,
    /// The container.
    pub container: Option<String>,
    /// The code the containers exit with.
    pub exit_code: Option<i32>,
}

/// `oomKill:` — the OOM killer kills a container (default: the first) of the pod `pod`, or
/// of `count` running pods chosen among those `selector` matches in `namespace`, as for
/// `podCrash`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OomKillAction {
    /// The pod, `namespace/name`.
    pub pod: Option<String>,
    /// A label selector (`app=web`), instead of `pod`.
    pub selector: Option<String>,
    /// How many of the pods `selector` matches.
    pub count: Option<u32>,
    /// The namespace `selector` looks in.
    pub namespace: Option<String>,
    /// The container.
    pub container: Option<String>,
}

/// `drain:` — `kubectl drain <node> --ignore-daemonsets --delete-emptydir-data --force`:
/// cordon, then evict every pod of the node but DaemonSet pods and mirror pods, retrying an
/// eviction a disruption budget refuses every 5 s, until `timeout`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DrainAction {
    /// The node.
    pub node: String,
    /// How long the drain may take (`--timeout`; absent or 0: no limit).
    pub timeout: Option<SimDuration>,
    /// The pods' grace period (`--grace-period`; absent or negative: each pod's own).
    pub grace_period: Option<i64>,
}

/// `evict:` — one eviction of a pod, `namespace/name` (no retry: a refusal is the action's
/// error).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EvictAction {
    /// The pod, `namespace/name` (`default` when no namespace is given).
    pub pod: String,
    /// The grace period of its deletion (absent or negative: the pod's own).
    pub grace_period: Option<i64>,
}

/// `crash:` — a node goes down, and comes back after `recoverAfter` if given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CrashAction {
    /// The node.
    pub node: String,
    /// When it boots again, from the crash.
    pub recover_after: Option<SimDuration>,
}

/// `partition:` — the nodes and the apiserver cannot reach each other, until `healAfter`
/// if given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PartitionAction {
    /// The nodes cut off.
    pub nodes: Vec<String>,
    /// When the partition heals, from its start.
    pub heal_after: Option<SimDuration>,
}

/// `zoneOutage:` — every node of the zone (by `topology.kubernetes.io/zone`) goes down, and
/// comes back after `recoverAfter` if given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ZoneOutageAction {
    /// The zone.
    pub zone: String,
    /// When its nodes boot again, from the outage.
    pub recover_after: Option<SimDuration>,
}

/// `flap:` — the node is cut off from the apiserver for `down`, then reaches it for `up`,
/// `times` times.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FlapAction {
    /// The node.
    pub node: String,
    /// How long each loss lasts.
    pub down: SimDuration,
    /// How long the node is back between losses.
    pub up: SimDuration,
    /// How many losses.
    pub times: u32,
}

/// `rollout:` — exactly one of `undo`, `pause`, `resume`, `restart`, naming a Deployment
/// `ns/name`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloutAction {
    /// Roll back to a revision (`kubectl rollout undo`).
    pub undo: Option<String>,
    /// The revision `undo` goes back to (default 0: the previous one; `--to-revision`).
    pub to_revision: Option<i64>,
    /// Stop rolling out (`kubectl rollout pause`).
    pub pause: Option<String>,
    /// Roll out again (`kubectl rollout resume`).
    pub resume: Option<String>,
    /// Replace every pod (`kubectl rollout restart`: a `restartedAt` template annotation).
    pub restart: Option<String>,
}

/// `createPods:` — `count` pods from a Pod manifest, named `<name>-<index>` (or generated
/// from `generateName`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePodsAction {
    /// How many pods.
    pub count: u32,
    /// The pod manifest each is made from (`apiVersion`/`kind` may be omitted).
    pub template: Box<crate::api::pod::Pod>,
}

/// `scale:` — exactly one of the workload keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleAction {
    /// A Deployment `ns/name`.
    pub deployment: Option<String>,
    /// A ReplicaSet `ns/name`.
    pub replicaset: Option<String>,
    /// The new replica count.
    pub replicas: i32,
}

/// `set:` — change a container image (`kubectl set image`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetAction {
    /// A Deployment `ns/name`.
    pub deployment: Option<String>,
    /// A ReplicaSet `ns/name`.
    pub replicaset: Option<String>,
    /// A Pod `ns/name`.
    pub pod: Option<String>,
    /// The container (all containers when omitted).
    pub container: Option<String>,
    /// The new image.
    pub image: String,
}

/// `spec.apiserver`: the apiserver's settings: the ideal path's latencies, and the modelled
/// path's flow control under kube-apiserver's flag names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiServerSpec {
    /// Time from a request's submission to its arrival, where the ideal path executes it
    /// (default 1ms).
    pub admission_latency: Option<SimDuration>,
    /// Time from a commit to a watcher seeing it (default 1ms).
    pub watch_delay: Option<SimDuration>,
    /// Changes kept for watches; older resourceVersions get 410 Gone (default 100000).
    pub watch_history: Option<usize>,
    /// How long an Event lives after its last write (kube-apiserver `--event-ttl`, default 1h).
    #[serde(rename = "eventTTL")]
    pub event_ttl: Option<SimDuration>,
    /// `--default-not-ready-toleration-seconds` (default 300).
    pub default_not_ready_toleration_seconds: Option<Spanned<i64>>,
    /// `--default-unreachable-toleration-seconds` (default 300).
    pub default_unreachable_toleration_seconds: Option<Spanned<i64>>,
    /// kubesim: the request path — `ideal` (default), `maxInflight`, `apf` or `dynamic`.
    pub flow_control: Option<Spanned<String>>,
    /// `--enable-priority-and-fairness`: alone, `true` selects `apf` and `false`
    /// `maxInflight`; beside `flowControl` it must agree with it.
    pub enable_priority_and_fairness: Option<Spanned<bool>>,
    /// `--max-requests-inflight` (default 400; 0: no limit).
    pub max_requests_inflight: Option<Spanned<u32>>,
    /// `--max-mutating-requests-inflight` (default 200; 0: no limit).
    pub max_mutating_requests_inflight: Option<Spanned<u32>>,
    /// `--request-timeout` (default 60s): a quarter of it, at most a minute, is APF's queue
    /// wait.
    pub request_timeout: Option<Spanned<SimDuration>>,
    /// kubesim: the dynamic mode's token bucket.
    pub dynamic_flow_control: Option<DynamicFlowControlSpec>,
    /// kube-apiserver processes behind a load balancer (default 1), each with its own flow
    /// control and watch caches.
    pub replicas: Option<Spanned<u32>>,
    /// `--goaway-chance`: the probability that a request makes its client reconnect through
    /// the load balancer (default 0, at most 0.02).
    pub goaway_chance: Option<Spanned<f64>>,
    /// `--feature-gates` kubesim models, by name: `WatchList` (default false).
    pub feature_gates: Option<Spanned<BTreeMap<String, bool>>>,
}

/// `spec.apiserver.dynamicFlowControl`: the dynamic mode's token bucket.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DynamicFlowControlSpec {
    /// Tokens the bucket holds (default 2000).
    pub bucket_size: Option<Spanned<u64>>,
    /// Tokens added per second (default 1000).
    pub refill_per_second: Option<Spanned<u64>>,
}

/// `spec.controllerManager`: kube-controller-manager's flags, in camelCase.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControllerManagerSpec {
    /// Run the controllers (default true).
    pub enabled: Option<bool>,
    /// `--concurrent-replicaset-syncs` (default 5).
    pub concurrent_replicaset_syncs: Option<Spanned<u32>>,
    /// `--concurrent-deployment-syncs` (default 5).
    pub concurrent_deployment_syncs: Option<Spanned<u32>>,
    /// `--concurrent-gc-syncs` (default 20).
    pub concurrent_gc_syncs: Option<Spanned<u32>>,
    /// The most pods one ReplicaSet sync creates or deletes (upstream's constant 500).
    pub burst_replicas: Option<Spanned<u32>>,
    /// `--concurrent-service-endpoint-syncs` (default 5, at most 50).
    pub concurrent_service_endpoint_syncs: Option<Spanned<u32>>,
    /// `--max-endpoints-per-slice` (default 100, at most 1000).
    pub max_endpoints_per_slice: Option<Spanned<u32>>,
    /// `--endpoint-updates-batch-period` (default 0s).
    pub endpoint_updates_batch_period: Option<SimDuration>,
    /// `--node-monitor-period` (default 5s).
    pub node_monitor_period: Option<Spanned<SimDuration>>,
    /// `--node-monitor-grace-period` (default 50s).
    pub node_monitor_grace_period: Option<Spanned<SimDuration>>,
    /// `--node-startup-grace-period` (default 1m).
    pub node_startup_grace_period: Option<Spanned<SimDuration>>,
    /// `--node-eviction-rate`, nodes per second per zone (default 0.1).
    pub node_eviction_rate: Option<Spanned<f64>>,
    /// `--secondary-node-eviction-rate` (default 0.01).
    pub secondary_node_eviction_rate: Option<Spanned<f64>>,
    /// `--unhealthy-zone-threshold` (default 0.55).
    pub unhealthy_zone_threshold: Option<Spanned<f64>>,
    /// `--large-cluster-size-threshold` (default 50).
    pub large_cluster_size_threshold: Option<u32>,
    /// `--horizontal-pod-autoscaler-sync-period` (default 15s).
    pub horizontal_pod_autoscaler_sync_period: Option<Spanned<SimDuration>>,
    /// `--concurrent-horizontal-pod-autoscaler-syncs` (default 5).
    pub concurrent_horizontal_pod_autoscaler_syncs: Option<Spanned<u32>>,
    /// `--horizontal-pod-autoscaler-tolerance` (default 0.1).
    pub horizontal_pod_autoscaler_tolerance: Option<Spanned<f64>>,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (default 5m).
    pub horizontal_pod_autoscaler_downscale_stabilization: Option<SimDuration>,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (default 5m).
    pub horizontal_pod_autoscaler_cpu_initialization_period: Option<SimDuration>,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (default 30s).
    pub horizontal_pod_autoscaler_initial_readiness_delay: Option<SimDuration>,
    /// `--kube-api-qps`: the QPS of each of its API clients (default 20; 0 means unset, a
    /// negative value no limit).
    pub kube_api_qps: Option<Spanned<f32>>,
    /// `--kube-api-burst` (default 30; 0 means unset).
    pub kube_api_burst: Option<Spanned<i32>>,
    /// KubeControllerManagerConfiguration's `generic` section: of it kubesim reads
    /// `leaderElection`.
    #[serde(default)]
    pub generic: GenericControllerManagerSpec,
    /// `--leader-elect` (default true): the same as `generic.leaderElection.leaderElect`.
    pub leader_elect: Option<bool>,
    /// `--leader-elect-lease-duration` (default 15s).
    pub leader_elect_lease_duration: Option<Spanned<SimDuration>>,
    /// `--leader-elect-renew-deadline` (default 10s).
    pub leader_elect_renew_deadline: Option<Spanned<SimDuration>>,
    /// `--leader-elect-retry-period` (default 2s).
    pub leader_elect_retry_period: Option<Spanned<SimDuration>>,
    /// `--leader-elect-resource-name` (default kube-controller-manager).
    pub leader_elect_resource_name: Option<String>,
    /// `--leader-elect-resource-namespace` (default kube-system).
    pub leader_elect_resource_namespace: Option<String>,
}

/// `spec.controllerManager.generic`: KubeControllerManagerConfiguration's
/// `GenericControllerManagerConfiguration`, the fields kubesim reads.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GenericControllerManagerSpec {
    /// `leaderElection`.
    #[serde(default)]
    pub leader_election: LeaderElectionSpec,
}

/// A `leaderElection` section (component-base's `LeaderElectionConfiguration`): the fields
/// kubesim reads, durations as Go duration strings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LeaderElectionSpec {
    /// Campaign for the lease before running (default true).
    pub leader_elect: Option<bool>,
    /// `leaseDuration` (default 15s).
    pub lease_duration: Option<Spanned<SimDuration>>,
    /// `renewDeadline` (default 10s).
    pub renew_deadline: Option<Spanned<SimDuration>>,
    /// `retryPeriod` (default 2s).
    pub retry_period: Option<Spanned<SimDuration>>,
    /// `resourceName`: the Lease's name.
    pub resource_name: Option<String>,
    /// `resourceNamespace`: the Lease's namespace (default kube-system).
    pub resource_namespace: Option<String>,
}

/// `spec.kubeProxy`: the `KubeProxyConfiguration` fields kubesim acts on, under their real
/// names (`kubeproxy.config.k8s.io/v1alpha1`'s per-mode sections, or `v1alpha2`'s root
/// `syncPeriod` and `minSyncPeriod`, which win when both are given).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeProxySpec {
    /// Run a kube-proxy on every node (default: wherever kubelets run).
    pub enabled: Option<bool>,
    /// `iptables` (default), `ipvs` or `nftables`.
    pub mode: Option<Spanned<String>>,
    /// The sync runner's retry interval (v1alpha2's root field).
    pub sync_period: Option<Spanned<SimDuration>>,
    /// The least time between two rule syncs (v1alpha2's root field).
    pub min_sync_period: Option<Spanned<SimDuration>>,
    /// `iptables` mode's periods.
    #[serde(default)]
    pub iptables: SyncPeriodsSpec,
    /// `ipvs` mode's periods.
    #[serde(default)]
    pub ipvs: SyncPeriodsSpec,
    /// `nftables` mode's periods.
    #[serde(default)]
    pub nftables: SyncPeriodsSpec,
    /// `clientConnection`: the QPS and burst of every kube-proxy's API client.
    #[serde(default)]
    pub client_connection: ClientConnectionSpec,
}

/// A `clientConnection` section (component-base's `ClientConnectionConfiguration`): the fields
/// kubesim acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientConnectionSpec {
    /// Requests per second (0 means unset; negative: no limit).
    pub qps: Option<Spanned<f32>>,
    /// Burst (0 means unset).
    pub burst: Option<Spanned<i32>>,
}

/// A proxy mode's `syncPeriod` and `minSyncPeriod`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncPeriodsSpec {
    /// The sync runner's retry interval (default 30s).
    pub sync_period: Option<Spanned<SimDuration>>,
    /// The least time between two rule syncs (default 1s; 0s for ipvs).
    pub min_sync_period: Option<Spanned<SimDuration>>,
}

/// `spec.clients[]`: one client population — a name, who its clients are and how fast they
/// may go, and exactly one of `perNodeAgent`, `operator`, `scraper`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientPopulationSpec {
    /// The population's name (a DNS-1123 label, unique in the scenario).
    pub name: String,
    /// The namespace of its service account (default `default`).
    pub namespace: Option<Spanned<String>>,
    /// Its service account (default: the population's name).
    pub service_account: Option<Spanned<String>>,
    /// `rest.Config.QPS` of each client (default client-go's 5; 0: client-go's 5; negative:
    /// no limit).
    pub qps: Option<Spanned<f32>>,
    /// `rest.Config.Burst` of each client (default client-go's 10; at least 1 with a positive
    /// QPS).
    pub burst: Option<Spanned<i64>>,
    /// One client per node listing a resource every period.
    pub per_node_agent: Option<PerNodeAgentSpec>,
    /// Replicas each running informers.
    pub operator: Option<OperatorSpec>,
    /// One client listing resources every interval.
    pub scraper: Option<ScraperSpec>,
}

/// `spec.clients[].perNodeAgent`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PerNodeAgentSpec {
    /// The resource listed (default `pods`).
    pub resource: Option<Spanned<String>>,
    /// The list's field selector; `$(NODE_NAME)` is the agent's node.
    pub field_selector: Option<Spanned<String>>,
    /// The list's label selector; `$(NODE_NAME)` likewise.
    pub label_selector: Option<Spanned<String>>,
    /// From one list's answer to the next list (default 10s).
    pub period: Option<Spanned<SimDuration>>,
}

/// `spec.clients[].operator`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperatorSpec {
    /// How many replicas (default 1).
    pub replicas: Option<Spanned<u32>>,
    /// The resources each replica watches through informers.
    pub resources: Spanned<Vec<String>>,
}

/// `spec.clients[].scraper`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScraperSpec {
    /// From one round's last answer to the next round (default 1m).
    pub interval: Option<Spanned<SimDuration>>,
    /// The resources listed each round.
    pub resources: Spanned<Vec<String>>,
}

/// `spec.report`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReportSpec {
    /// Sampling period of `timeseries.csv` (default 10s).
    pub sample_every: Option<Spanned<SimDuration>>,
    /// The price of a node per hour by its `node.kubernetes.io/instance-type` label (`default`
    /// for nodes without a listed type), for the report's node cost.
    #[serde(default)]
    pub node_price_per_hour: BTreeMap<String, Spanned<f64>>,
}

/// Just the type fields of any document, to decide how to parse the rest; positions kept so
/// errors about them point at the value.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeMeta {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: Option<Spanned<String>>,
    /// `kind`.
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
}

impl TypeMeta {
    /// `apiVersion`, empty when absent.
    pub fn api_version(&self) -> &str {
        self.api_version.as_ref().map_or("", |s| s.value.as_str())
    }

    /// `kind`, empty when absent.
    pub fn kind(&self) -> &str {
        self.kind.as_ref().map_or("", |s| s.value.as_str())
    }
}

/// The field path of an error as the user wrote it. Fields kept with [`Spanned`] show up in
/// serde's path with an extra `value` segment (`spec.nodePools[0].value.count`); it is dropped
/// here. A real field called `value` (a taint's) never follows one of these.
pub fn user_field_path(path: &str) -> String {
    const SPANNED_FIELDS: &[&str] = &[
        "duration",
        "at",
        "apply",
        "sampleEvery",
        "trace",
        "nodes",
        "pods",
        "policy",
        "nodeStatusUpdateFrequency",
        "nodeStatusReportFrequency",
        "nodeLeaseDurationSeconds",
        "maxParallelImagePulls",
        "maxPods",
        "nodeStatusMaxImages",
        "sandbox",
        "imagePull",
        "containerStart",
        "containerStop",
        "plegRelistPeriod",
        "concurrentServiceEndpointSyncs",
        "maxEndpointsPerSlice",
        "nodeMonitorPeriod",
        "nodeMonitorGracePeriod",
        "nodeStartupGracePeriod",
        "nodeEvictionRate",
        "secondaryNodeEvictionRate",
        "unhealthyZoneThreshold",
        "defaultNotReadyTolerationSeconds",
        "defaultUnreachableTolerationSeconds",
        "mode",
        "syncPeriod",
        "minSyncPeriod",
        "kubeAPIQPS",
        "kubeAPIBurst",
        "kubeApiQps",
        "kubeApiBurst",
        "qps",
        "burst",
        "namespace",
        "serviceAccount",
        "resource",
        "fieldSelector",
        "labelSelector",
        "period",
        "replicas",
        "resources",
        "interval",
        "leaseDuration",
        "renewDeadline",
        "retryPeriod",
        "leaderElectLeaseDuration",
        "leaderElectRenewDeadline",
        "leaderElectRetryPeriod",
    ];
    const SPANNED_LISTS: &[&str] = &["manifests", "nodePools", "timeline", "clients"];
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('.') {
        let after_spanned = kept.last().is_some_and(|prev: &&str| {
            let list = prev.split_once('[').map(|(name, _)| name);
            SPANNED_FIELDS.contains(prev) || list.is_some_and(|l| SPANNED_LISTS.contains(&l))
        });
        if segment == "value" && after_spanned {
            continue;
        }
        kept.push(segment);
    }
    kept.join(".")
}

#[cfg(test)]
mod tests {
    use super::user_field_path;

    #[test]
    fn spanned_wrappers_do_not_show_in_field_paths() {
        for (serde_path, user_path) in [
            ("spec.nodePools[0].value.count", "spec.nodePools[0].count"),
            ("spec.duration.value", "spec.duration"),
            ("spec.timeline[2].value.at.value", "spec.timeline[2].at"),
            ("spec.manifests[1].value", "spec.manifests[1]"),
            (
                "spec.nodePools[0].value.template.taints[0].value",
                "spec.nodePools[0].template.taints[0].value",
            ),
            ("spec.seed", "spec.seed"),
        ] {
            assert_eq!(user_field_path(serde_path), user_path);
        }
    }
}
