//! kube-controller-manager's settings, as plain data: the flags kubesim models, under their
//! real names, with upstream's defaults.
//!
//! A scenario sets them in `spec.controllerManager`, flag names in camelCase
//! (`--concurrent-replicaset-syncs` is `concurrentReplicasetSyncs`).

use super::leader_election::LeaderElectionSettings;
use crate::sim::SimDuration;

/// `--concurrent-replicaset-syncs`'s default.
pub const DEFAULT_CONCURRENT_REPLICASET_SYNCS: u32 = 5;
/// `--concurrent-deployment-syncs`'s default.
pub const DEFAULT_CONCURRENT_DEPLOYMENT_SYNCS: u32 = 5;
/// `--concurrent-gc-syncs`'s default.
pub const DEFAULT_CONCURRENT_GC_SYNCS: u32 = 20;
/// The most pods a ReplicaSet sync creates or deletes (upstream's `BurstReplicas` constant).
pub const DEFAULT_BURST_REPLICAS: u32 = 500;
/// `--concurrent-service-endpoint-syncs`'s default, and its bounds (1 to 50).
pub const DEFAULT_CONCURRENT_SERVICE_ENDPOINT_SYNCS: u32 = 5;
/// The most `--concurrent-service-endpoint-syncs` may be.
pub const MAX_CONCURRENT_SERVICE_ENDPOINT_SYNCS: u32 = 50;
/// `--max-endpoints-per-slice`'s default.
pub const DEFAULT_MAX_ENDPOINTS_PER_SLICE: u32 = 100;
/// The most `--max-endpoints-per-slice` may be.
pub const MAX_MAX_ENDPOINTS_PER_SLICE: u32 = 1000;

/// `--node-monitor-period`'s default: how often the node lifecycle controller looks at every
/// node's heartbeats.
pub const DEFAULT_NODE_MONITOR_PERIOD: SimDuration = SimDuration::from_secs(5);
/// `--node-monitor-grace-period`'s default (50 s since v1.32; 40 s before).
pub const DEFAULT_NODE_MONITOR_GRACE_PERIOD: SimDuration = SimDuration::from_secs(50);
/// `--node-startup-grace-period`'s default: the grace of a node that never posted Ready.
pub const DEFAULT_NODE_STARTUP_GRACE_PERIOD: SimDuration = SimDuration::from_secs(60);
/// `--node-eviction-rate`'s default, in nodes per second per zone.
pub const DEFAULT_NODE_EVICTION_RATE: f64 = 0.1;
/// `--secondary-node-eviction-rate`'s default, in nodes per second per zone.
pub const DEFAULT_SECONDARY_NODE_EVICTION_RATE: f64 = 0.01;
/// `--unhealthy-zone-threshold`'s default: the share of not-Ready nodes (at least 3) that
/// makes a zone partially disrupted.
pub const DEFAULT_UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
/// `--large-cluster-size-threshold`'s default: zones of more nodes keep evicting at the
/// secondary rate when partially disrupted; smaller ones stop.
pub const DEFAULT_LARGE_CLUSTER_SIZE_THRESHOLD: u32 = 50;

/// `--horizontal-pod-autoscaler-sync-period`'s default.
pub const DEFAULT_HPA_SYNC_PERIOD: SimDuration = SimDuration::from_secs(15);
/// `--concurrent-horizontal-pod-autoscaler-syncs`'s default.
pub const DEFAULT_CONCURRENT_HPA_SYNCS: u32 = 5;
/// `--horizontal-pod-autoscaler-tolerance`'s default.
pub const DEFAULT_HPA_TOLERANCE: f64 = 0.1;
/// `--horizontal-pod-autoscaler-downscale-stabilization`'s default.
pub const DEFAULT_HPA_DOWNSCALE_STABILIZATION: SimDuration = SimDuration::from_mins(5);
/// `--horizontal-pod-autoscaler-cpu-initialization-period`'s default.
pub const DEFAULT_HPA_CPU_INITIALIZATION_PERIOD: SimDuration = SimDuration::from_mins(5);
/// `--horizontal-pod-autoscaler-initial-readiness-delay`'s default.
pub const DEFAULT_HPA_INITIAL_READINESS_DELAY: SimDuration = SimDuration::from_secs(30);

/// The HorizontalPodAutoscaler controller's flags.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HpaControllerConfig {
    /// `--horizontal-pod-autoscaler-sync-period`: how often each HPA is synced.
    pub sync_period: SimDuration,
    /// `--concurrent-horizontal-pod-autoscaler-syncs`: workers.
    pub concurrent_syncs: u32,
    /// `--horizontal-pod-autoscaler-tolerance`: the change of ratio ignored.
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`: the legacy path's window and
    /// `behavior.scaleDown`'s default one.
    pub downscale_stabilization: SimDuration,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`.
    pub cpu_initialization_period: SimDuration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`.
    pub initial_readiness_delay: SimDuration,
}

impl Default for HpaControllerConfig {
    fn default() -> Self {
        HpaControllerConfig {
            sync_period: DEFAULT_HPA_SYNC_PERIOD,
            concurrent_syncs: DEFAULT_CONCURRENT_HPA_SYNCS,
            tolerance: DEFAULT_HPA_TOLERANCE,
            downscale_stabilization: DEFAULT_HPA_DOWNSCALE_STABILIZATION,
            cpu_initialization_period: DEFAULT_HPA_CPU_INITIALIZATION_PERIOD,
            initial_readiness_delay: DEFAULT_HPA_INITIAL_READINESS_DELAY,
        }
    }
}

/// What kube-controller-manager runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeControllerManagerConfig {
    /// Whether the controllers run at all (a still cluster: workloads stay as written).
    pub enabled: bool,
    /// ReplicaSets synced at once (`--concurrent-replicaset-syncs`).
    pub concurrent_replicaset_syncs: u32,
    /// Deployments synced at once (`--concurrent-deployment-syncs`).
    pub concurrent_deployment_syncs: u32,
    /// Garbage-collector workers, for deletions and for orphaning each (`--concurrent-gc-syncs`).
    pub concurrent_gc_syncs: u32,
    /// The most pods one ReplicaSet sync creates or deletes. Upstream compiles it in
    /// (`replicaset.BurstReplicas`); kubesim lets a scenario change it.
    pub burst_replicas: u32,
    /// Services whose EndpointSlices are synced at once
    /// (`--concurrent-service-endpoint-syncs`, 1 to 50).
    pub concurrent_service_endpoint_syncs: u32,
    /// Endpoints one EndpointSlice holds at most (`--max-endpoints-per-slice`, 1 to 1000).
    pub max_endpoints_per_slice: u32,
    /// How long a pod change waits before its Services are synced, so that changes batch
    /// (`--endpoint-updates-batch-period`, default 0).
    pub endpoint_updates_batch_period: SimDuration,
    /// How often the node lifecycle controller checks node health (`--node-monitor-period`).
    pub node_monitor_period: SimDuration,
    /// How long a node may go without a heartbeat before its conditions become Unknown
    /// (`--node-monitor-grace-period`).
    pub node_monitor_grace_period: SimDuration,
    /// The same for a node that never posted Ready (`--node-startup-grace-period`).
    pub node_startup_grace_period: SimDuration,
    /// Nodes per second per healthy zone that get NoExecute taints (`--node-eviction-rate`).
    pub node_eviction_rate: f64,
    /// The rate in a partially disrupted zone larger than `large_cluster_size_threshold`
    /// (`--secondary-node-eviction-rate`).
    pub secondary_node_eviction_rate: f64,
    /// The share of not-Ready nodes from which a zone is partially disrupted
    /// (`--unhealthy-zone-threshold`).
    pub unhealthy_zone_threshold: f64,
    /// Zones of at most this many nodes stop tainting when partially disrupted
    /// (`--large-cluster-size-threshold`).
    pub large_cluster_size_threshold: u32,
    /// `--kube-api-qps` / `--kube-api-burst`: each of its API clients (default 20 / 30; zero
    /// means unset).
    pub kube_api: super::ClientConnection,
    /// `generic.leaderElection` (`--leader-elect`, `--leader-elect-lease-duration`, …).
    pub leader_election: LeaderElectionSettings,
    /// The HorizontalPodAutoscaler controller's flags.
    pub hpa: HpaControllerConfig,
}

impl Default for KubeControllerManagerConfig {
    fn default() -> Self {
        KubeControllerManagerConfig {
            enabled: true,
            concurrent_replicaset_syncs: DEFAULT_CONCURRENT_REPLICASET_SYNCS,
            concurrent_deployment_syncs: DEFAULT_CONCURRENT_DEPLOYMENT_SYNCS,
            concurrent_gc_syncs: DEFAULT_CONCURRENT_GC_SYNCS,
            burst_replicas: DEFAULT_BURST_REPLICAS,
            concurrent_service_endpoint_syncs: DEFAULT_CONCURRENT_SERVICE_ENDPOINT_SYNCS,
            max_endpoints_per_slice: DEFAULT_MAX_ENDPOINTS_PER_SLICE,
            endpoint_updates_batch_period: SimDuration::ZERO,
            node_monitor_period: DEFAULT_NODE_MONITOR_PERIOD,
            node_monitor_grace_period: DEFAULT_NODE_MONITOR_GRACE_PERIOD,
            node_startup_grace_period: DEFAULT_NODE_STARTUP_GRACE_PERIOD,
            node_eviction_rate: DEFAULT_NODE_EVICTION_RATE,
            secondary_node_eviction_rate: DEFAULT_SECONDARY_NODE_EVICTION_RATE,
            unhealthy_zone_threshold: DEFAULT_UNHEALTHY_ZONE_THRESHOLD,
            large_cluster_size_threshold: DEFAULT_LARGE_CLUSTER_SIZE_THRESHOLD,
            kube_api: super::ClientConnection::default(),
            leader_election: LeaderElectionSettings::defaults("kube-controller-manager"),
            hpa: HpaControllerConfig::default(),
        }
    }
}
