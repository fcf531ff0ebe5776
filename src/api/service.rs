//! Service (v1): a selector over pods; its endpoints and the load sent to it come later.

use std::collections::BTreeMap;

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
    pub selector: BTreeMap<String, String>,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// `ClusterIP` (default), `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

/// A service port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePort {
    /// Port name.
    pub name: String,
    /// Port the service listens on.
    pub port: i32,
    /// Port on the pods.
    pub target_port: Option<IntOrString>,
    /// Protocol.
    pub protocol: String,
}
