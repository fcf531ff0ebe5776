//! kube-controller-manager's settings, as plain data: the flags kubesim models, under their
//! real names, with upstream's defaults.
//!
//! A scenario sets them in `spec.controllerManager`, flag names in camelCase
//! (`--concurrent-replicaset-syncs` is `concurrentReplicasetSyncs`).

/// `--concurrent-replicaset-syncs`'s default.
pub const DEFAULT_CONCURRENT_REPLICASET_SYNCS: u32 = 5;
/// `--concurrent-deployment-syncs`'s default.
pub const DEFAULT_CONCURRENT_DEPLOYMENT_SYNCS: u32 = 5;
/// `--concurrent-gc-syncs`'s default.
pub const DEFAULT_CONCURRENT_GC_SYNCS: u32 = 20;
/// The most pods a ReplicaSet sync creates or deletes (upstream's `BurstReplicas` constant).
pub const DEFAULT_BURST_REPLICAS: u32 = 500;

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
}

impl Default for KubeControllerManagerConfig {
    fn default() -> Self {
        KubeControllerManagerConfig {
            enabled: true,
            concurrent_replicaset_syncs: DEFAULT_CONCURRENT_REPLICASET_SYNCS,
            concurrent_deployment_syncs: DEFAULT_CONCURRENT_DEPLOYMENT_SYNCS,
            concurrent_gc_syncs: DEFAULT_CONCURRENT_GC_SYNCS,
            burst_replicas: DEFAULT_BURST_REPLICAS,
        }
    }
}
