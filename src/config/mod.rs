//! Configuration documents of the components, as plain data: what a user writes to configure a
//! component (kube-scheduler's `KubeSchedulerConfiguration`, its legacy `Policy`, the
//! GPU-sharing policy of a replay, the virtual cost of a scheduling cycle), and the errors and
//! notes that name a field of one.
//!
//! The rule, as for the object model ([`crate::api`]): no behaviour. A document here knows its
//! fields, their defaults and the checks that need nothing but the document (a range, a name
//! among its own); it knows no component. What a document *means* — resolving a
//! `KubeSchedulerConfiguration` into profiles of plugins, translating a `Policy` into one —
//! belongs to the component that reads it ([`crate::scheduler::config`],
//! [`crate::scheduler::legacy_policy`]). So the scenario reader can read every document without
//! knowing any component, and a component's configuration can be read without its runtime.
//!
//! A plugin's `args` stay raw here (`pluginConfig[].args`): each plugin parses them into its
//! own args type, beside the plugin. The few value types both a plugin's args and a legacy
//! Policy spell out ([`kube_scheduler::ResourceSpec`], [`kube_scheduler::UtilizationShapePoint`])
//! live here, so that the Policy document needs no plugin.

pub mod feature_gates;
pub mod gpu_sharing;
pub mod kube_controller_manager;
pub mod kube_proxy;
pub mod kube_scheduler;
pub mod kubelet;
pub mod leader_election;
pub mod legacy_policy;
pub mod metrics_adapter;
pub mod metrics_server;
pub mod populations;

/// A configuration document that does not resolve: the field path inside the document and
/// what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{path}`: {message}")]
pub struct ConfigError {
    /// Field path inside the document (`profiles[0].plugins.score.enabled[1].weight`).
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// A component's client connection settings as written: the QPS and burst of its API client's
/// token bucket, `None` where the user wrote nothing. What zero means, and which values the
/// component refuses, is the component's ([`crate::client::qps_defaults`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientConnection {
    /// Requests per second (`qps`, `kubeAPIQPS`, `--kube-api-qps`).
    pub qps: Option<f32>,
    /// Burst (`burst`, `kubeAPIBurst`, `--kube-api-burst`).
    pub burst: Option<i32>,
}
