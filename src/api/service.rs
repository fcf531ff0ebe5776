//! Service (v1): a selector over pods and the ports it serves them on; the EndpointSlice
//! controller lists the pods behind it, kube-proxy programs its cluster IP to them.

use serde::{Deserialize, Serialize};

use super::meta::{IntOrString, ObjectMeta};

/// A Service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Service {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Desired state.
    pub spec: ServiceSpec,
}

/// A Service's `spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSpec {
    /// Pods that back the service (equality match on every label).
    pub selector: crate::api::labels::Labels,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// `ClusterIP` (default), `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// The virtual IP; `None` makes the Service headless. The apiserver allocates one when it
    /// is left empty (except for `ExternalName`).
    #[serde(rename = "clusterIP")]
    pub cluster_ip: String,
    /// `IPv4` and/or `IPv6`; the apiserver defaults it to the cluster's family (`IPv4`).
    pub ip_families: Vec<String>,
    /// Publish the addresses of pods that are not ready as ready endpoints.
    pub publish_not_ready_addresses: bool,
}

/// `spec.type` of a Service that has no endpoints of its own, only a DNS name.
pub const TYPE_EXTERNAL_NAME: &str = "ExternalName";
/// `spec.clusterIP` of a headless Service.
pub const CLUSTER_IP_NONE: &str = "None";

impl Service {
    /// Whether the Service has a virtual IP (upstream `IsServiceIPSet`): neither headless nor
    /// without one.
    pub fn is_ip_set(&self) -> bool {
        !self.spec.cluster_ip.is_empty() && self.spec.cluster_ip != CLUSTER_IP_NONE
    }

    /// Whether the Service is an `ExternalName` one.
    pub fn is_external_name(&self) -> bool {
        self.spec.type_.as_deref() == Some(TYPE_EXTERNAL_NAME)
    }
}

/// A service port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePort {
    /// Port name.
    pub name: String,
    /// Port the service listens on.
    pub port: i32,
    /// Port on the pods: a number, or the name of a container port (unset: `port`).
    pub target_port: Option<IntOrString>,
    /// `TCP` (what empty means), `UDP` or `SCTP`.
    pub protocol: String,
}

impl ServicePort {
    /// The protocol, empty read as the default `TCP`.
    pub fn protocol(&self) -> &str {
        protocol_or_tcp(&self.protocol)
    }
}

/// A port protocol, empty read as the API's default `TCP`.
pub fn protocol_or_tcp(protocol: &str) -> &str {
    if protocol.is_empty() { "TCP" } else { protocol }
}
