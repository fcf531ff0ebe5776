//! kube-controller-manager's settings, as plain data: the flags kubesim models, under their
//! real names, with upstream's defaults.
//!
//! A scenario sets them in `spec.controllerManager`, flag names in camelCase
//! (`--concurrent-replicaset-syncs` is `concurrentReplicasetSyncs`).

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

/// What kube-controller-manager runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
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
        }
    }
}
