//! Object metadata shared by every kind: identity, labels, ownership, lifecycle timestamps.
//!
//! Fields the apiserver sets (uid, resourceVersion, timestamps) are never read from manifests:
//! a manifest that carries them gets them replaced at creation, as the real apiserver does.

use serde::{Deserialize, Serialize};

use super::labels::Labels;
use crate::sim::SimTime;

/// The finalizer that holds an object deleted with `propagationPolicy: Orphan` until the
/// garbage collector has removed the references its dependents hold to it.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer that holds an object deleted with `propagationPolicy: Foreground` until the
/// garbage collector has deleted its dependents that block owner deletion.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// A globally unique object id, assigned by the apiserver in creation order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Uid(pub u64);

/// The store's version counter; every write gets a new, larger one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ResourceVersion(pub u64);

/// An object's annotations, in key order.
pub type Annotations = super::sorted_map::SortedMap<String, String>;

/// A status condition of the common shape (pods', ReplicaSets' and HPAs'): a type, its status,
/// why, and when the status last changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// Virtual time of the last status change.
    #[serde(skip)]
    pub last_transition_time: SimTime,
}

/// `metadata` of a Kubernetes object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// Object name, unique per kind and namespace.
    pub name: String,
    /// Prefix for a server-generated name when `name` is empty.
    pub generate_name: String,
    /// Namespace; empty for cluster-scoped kinds (and means `default` for namespaced ones).
    pub namespace: String,
    /// Labels.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Annotations,
    /// Owners; at most one has `controller: true`.
    pub owner_references: Vec<OwnerReference>,
    /// Finalizers that hold deletion until removed.
    pub finalizers: Vec<String>,
    /// Set by the apiserver.
    #[serde(skip_deserializing)]
    pub uid: Uid,
    /// The uid the object had where it was read from (a dump of a real cluster): kubesim
    /// gives every object its own `uid` at creation, and matches a dump's owner references
    /// by this one.
    #[serde(rename = "uid", default, skip_serializing)]
    pub source_uid: String,
    /// Set by the apiserver on every write.
    #[serde(skip_deserializing)]
    pub resource_version: ResourceVersion,
    /// Incremented by the apiserver when the spec changes.
    #[serde(skip_deserializing)]
    pub generation: i64,
    /// Virtual time of creation, set by the apiserver.
    #[serde(skip)]
    pub creation_timestamp: SimTime,
    /// Virtual time after which a gracefully deleted object is gone; set by a graceful delete.
    #[serde(skip)]
    pub deletion_timestamp: Option<SimTime>,
    /// The grace period of a pending graceful deletion.
    #[serde(skip_deserializing)]
    pub deletion_grace_period_seconds: Option<i64>,
}

impl ObjectMeta {
    /// The owner reference marked `controller: true`, if any.
    pub fn controller_ref(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|r| r.controller)
    }

    /// Whether a graceful deletion is pending.
    pub fn is_terminating(&self) -> bool {
        self.deletion_timestamp.is_some()
    }

    /// Whether a deletion is pending and nothing holds it any longer: no finalizer left and no
    /// grace period to wait for (upstream `shouldDeleteDuringUpdate`): the write that got it
    /// here deletes it.
    pub fn deletion_is_due(&self) -> bool {
        self.deletion_timestamp.is_some()
            && self.finalizers.is_empty()
            && self.deletion_grace_period_seconds.unwrap_or(0) == 0
    }
}

/// A reference from an object to the object that owns it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerReference {
    /// API version of the owner.
    pub api_version: String,
    /// Kind of the owner.
    pub kind: String,
    /// Name of the owner.
    pub name: String,
    /// Uid of the owner (0 until known: a manifest names its owner, and whoever creates the
    /// object fills in the live owner's uid).
    #[serde(skip_deserializing)]
    pub uid: Uid,
    /// The owner's uid as the manifest or dump gave it.
    #[serde(rename = "uid", default, skip_serializing)]
    pub source_uid: String,
    /// Whether the owner is the managing controller.
    pub controller: bool,
    /// Whether the owner cannot be deleted before this object.
    pub block_owner_deletion: bool,
}

/// `namespace/name`, the key every controller and cache uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    /// Namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// A key in a namespace.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// A key of a cluster-scoped object.
    pub fn cluster(name: impl Into<String>) -> Self {
        ObjectKey::new("", name)
    }

    /// Parses `namespace/name`, or `name` alone (namespace `default` for namespaced kinds is
    /// left to the caller, which knows the kind).
    pub fn parse(text: &str) -> ObjectKey {
        match text.split_once('/') {
            Some((ns, name)) => ObjectKey::new(ns, name),
            None => ObjectKey::new("", text),
        }
    }

    /// The key with the namespace `default` where it names none, as kubectl and the
    /// apiserver fill it in for a namespaced object.
    pub fn or_default_namespace(mut self) -> ObjectKey {
        if self.namespace.is_empty() {
            self.namespace = "default".into();
        }
        self
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// Kubernetes' `IntOrString` (e.g. `maxSurge: 25%` or `maxSurge: 2`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// An absolute number.
    Int(i64),
    /// A string, usually a percentage such as `25%`.
    String(String),
}

/// Why an `IntOrString` could not be turned into a number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {0:?}: expected an integer or a percentage such as 25%")]
pub struct IntOrPercentError(pub String);

impl IntOrString {
    /// Resolves against `total` like upstream `GetScaledValueFromIntOrPercent`: an integer as is,
    /// a percentage `p%` as `p × total / 100` rounded up or down as asked.
    pub fn scaled_value(&self, total: i64, round_up: bool) -> Result<i64, IntOrPercentError> {
        match self {
            IntOrString::Int(v) => Ok(*v),
            IntOrString::String(s) => {
                let pct: i64 = s
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse().ok())
                    .ok_or_else(|| IntOrPercentError(s.clone()))?;
                let product = pct * total;
                Ok(if round_up {
                    product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
                } else {
                    product.div_euclid(100)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_asked() {
        let pct = IntOrString::String("25%".into());
        // 25% of 10 = 2.5: up gives 3 (maxSurge), down gives 2 (maxUnavailable).
        assert_eq!(pct.scaled_value(10, true), Ok(3));
        assert_eq!(pct.scaled_value(10, false), Ok(2));
        assert_eq!(IntOrString::Int(4).scaled_value(10, true), Ok(4));
        assert!(
            IntOrString::String("x".into())
                .scaled_value(1, true)
                .is_err()
        );
    }

    #[test]
    fn keys_print_and_parse() {
        assert_eq!(ObjectKey::parse("ns/a"), ObjectKey::new("ns", "a"));
        assert_eq!(ObjectKey::new("ns", "a").to_string(), "ns/a");
        assert_eq!(ObjectKey::cluster("n1").to_string(), "n1");
    }
}
