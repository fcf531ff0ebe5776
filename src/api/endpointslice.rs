//! EndpointSlice (`discovery.k8s.io/v1`): a group of a Service's network endpoints (the pods
//! behind it, by address) with their conditions and the ports they serve, and the well-known
//! labels and annotation that tie slices to Services and to the proxies that read them.
//!
//! Fields kubesim does not model (`hints`, `deprecatedTopology`, an endpoint's `hostname`) are
//! ignored with a note when a manifest carries them.

use serde::{Deserialize, Serialize};

use super::meta::{ObjectMeta, Uid};

/// The label naming the Service a slice belongs to (`discovery.LabelServiceName`).
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming the controller that manages a slice (`discovery.LabelManagedBy`).
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// The value of [`LABEL_MANAGED_BY`] on the slices kube-controller-manager's EndpointSlice
/// controller manages (`controllerQualifiedName`).
pub const MANAGED_BY_CONTROLLER: &str = "endpointslice-controller.k8s.io";
/// The label the controller puts on the slices of a headless Service (`v1.IsHeadlessService`);
/// kube-proxy does not watch such slices.
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
/// The label that hands a Service to another proxy than kube-proxy
/// (`apis.LabelServiceProxyName`); kube-proxy watches neither such Services nor their slices.
pub const LABEL_SERVICE_PROXY_NAME: &str = "service.kubernetes.io/service-proxy-name";
/// When the change that a slice's last write reflects happened (RFC 3339 with nanoseconds,
/// `v1.EndpointsLastChangeTriggerTime`): what kube-proxy measures network programming latency
/// from.
pub const ANNOTATION_LAST_CHANGE_TRIGGER_TIME: &str =
    "endpoints.kubernetes.io/last-change-trigger-time";

/// The kind of address a slice holds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum AddressType {
    /// IPv4 addresses.
    #[default]
    IPv4,
    /// IPv6 addresses.
    IPv6,
    /// Fully qualified domain names (kube-proxy ignores such slices).
    FQDN,
}

impl AddressType {
    /// The type as the API spells it.
    pub const fn name(self) -> &'static str {
        match self {
            AddressType::IPv4 => "IPv4",
            AddressType::IPv6 => "IPv6",
            AddressType::FQDN => "FQDN",
        }
    }
}

/// An EndpointSlice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSlice {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// What kind of address every endpoint has.
    pub address_type: AddressType,
    /// The endpoints.
    pub endpoints: Vec<Endpoint>,
    /// The ports every endpoint serves.
    pub ports: Vec<EndpointPort>,
}

impl EndpointSlice {
    /// The Service the slice belongs to (its [`LABEL_SERVICE_NAME`] label), if labelled.
    pub fn service_name(&self) -> Option<&str> {
        self.metadata
            .labels
            .get(LABEL_SERVICE_NAME)
            .map(String::as_str)
            .filter(|name| !name.is_empty())
    }
}

/// One endpoint: a pod, by its addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Endpoint {
    /// Its addresses (one, for a pod of a single-stack cluster).
    pub addresses: Vec<String>,
    /// Whether it takes traffic.
    pub conditions: EndpointConditions,
    /// The object behind it (a Pod).
    pub target_ref: Option<ObjectReference>,
    /// The node it runs on.
    pub node_name: Option<String>,
    /// The zone of that node.
    pub zone: Option<String>,
}

/// An endpoint's conditions. Unset means unknown; consumers read `ready` and `serving` as
/// true and `terminating` as false when unset.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointConditions {
    /// Ready for traffic: serving and not terminating (or the Service publishes not-ready
    /// addresses).
    pub ready: Option<bool>,
    /// Passing its readiness checks, terminating or not.
    pub serving: Option<bool>,
    /// Being deleted.
    pub terminating: Option<bool>,
}

/// A reference to an object (`v1.ObjectReference`, the parts an endpoint uses).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectReference {
    /// Kind of the object.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its uid in this run.
    #[serde(skip_deserializing)]
    pub uid: Uid,
    /// Its uid as a manifest gave it.
    #[serde(rename = "uid", default, skip_serializing)]
    pub source_uid: String,
}

/// A port every endpoint of a slice serves.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointPort {
    /// The Service port's name (empty for an unnamed port).
    pub name: Option<String>,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: Option<String>,
    /// The port number on the endpoints.
    pub port: Option<i32>,
}

impl Endpoint {
    /// `ready`, unset read as true (as kube-proxy reads it).
    pub fn is_ready(&self) -> bool {
        self.conditions.ready.unwrap_or(true)
    }

    /// `serving`, unset read as true.
    pub fn is_serving(&self) -> bool {
        self.conditions.serving.unwrap_or(true)
    }

    /// `terminating`, unset read as false.
    pub fn is_terminating(&self) -> bool {
        self.conditions.terminating.unwrap_or(false)
    }
}
