//! Lease (`coordination.k8s.io/v1`): a holder's claim renewed in time. Each kubelet holds one in
//! `kube-node-lease`, named after its node, as its heartbeat; kube-controller-manager and
//! kube-scheduler each elect their leader on one in `kube-system` (client-go's `LeaseLock`).

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use crate::sim::SimTime;

/// The namespace of the node heartbeat leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// A Lease.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Lease {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// The claim.
    pub spec: LeaseSpec,
}

/// A Lease's `spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LeaseSpec {
    /// Who holds it (a kubelet: its node's name).
    pub holder_identity: String,
    /// How long the claim lasts after a renewal.
    pub lease_duration_seconds: i32,
    /// Virtual time the holder took it.
    #[serde(skip)]
    pub acquire_time: Option<SimTime>,
    /// Virtual time the holder last renewed it.
    #[serde(skip)]
    pub renew_time: Option<SimTime>,
    /// How many times the lease changed hands (a leader election's; node leases leave it
    /// unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i32>,
}
