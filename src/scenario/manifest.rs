//! Real Kubernetes manifests: which kinds kubesim models, which it knows but skips, and which
//! are not Kubernetes at all.
//!
//! Manifests are read leniently — a real manifest carries many fields kubesim does not model,
//! and they are listed as notes rather than rejected — but a kind that does not exist, or a
//! modelled kind under the wrong apiVersion, is an error: it is almost always a typo.

use std::sync::Arc;

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::ScenarioError;
use super::model::TypeMeta;
use super::yaml::{Document, list_items, locate, parse_lenient};
use crate::api::behavior::check_annotations;
use crate::api::deployment::Deployment;
use crate::api::endpointslice::EndpointSlice;
use crate::api::event::Event;
use crate::api::gpu::validate_gpu_declaration;
use crate::api::hpa::HorizontalPodAutoscaler;
use crate::api::labels::LabelSelector;
use crate::api::lease::Lease;
use crate::api::node::Node;
use crate::api::pdb::PodDisruptionBudget;
use crate::api::pod::{Pod, PodTemplateSpec};
use crate::api::priority_class::{Namespace, PriorityClass};
use crate::api::replicaset::ReplicaSet;
use crate::api::service::Service;
use crate::api::validation::{validate_node, validate_pdb, validate_pod};
use crate::api::{Kind, Object};
use crate::apiserver::flowcontrol;
use crate::config::legacy_policy;

/// The outcome of reading one manifest document.
#[derive(Debug)]
pub enum Manifest {
    /// An object of a modelled kind, with the paths of the fields kubesim ignored.
    Object {
        /// The object.
        object: Box<Object>,
        /// Fields present in the manifest that kubesim does not model.
        ignored_fields: Vec<String>,
    },
    /// A scheduler configuration document, kept as text for the scheduler to read.
    SchedulerConfiguration(Document),
    /// A legacy scheduler Policy (`kind: Policy`, `apiVersion: v1`), kept as text; it is
    /// translated into the scheduler's profile.
    SchedulerPolicy(Document),
    /// A `flowcontrol.apiserver.k8s.io/v1` FlowSchema, kept as text for flow control.
    FlowSchema(Document),
    /// A `flowcontrol.apiserver.k8s.io/v1` PriorityLevelConfiguration, kept as text.
    PriorityLevelConfiguration(Document),
    /// A list (`kind: List`, `PodList`, …): its items, each a document at its place in the
    /// file.
    List(Vec<Document>),
    /// A Kubernetes kind kubesim does not model.
    Skipped {
        /// `apiVersion`.
        api_version: String,
        /// `kind`.
        kind: String,
    },
}

/// Built-in kinds kubesim accepts but does not model, by API group (`""` is the core group).
const UNMODELLED_KINDS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Endpoints",
            "Event",
            "LimitRange",
            "ResourceQuota",
            "ReplicationController",
            "PodTemplate",
        ],
    ),
    ("apps", &["StatefulSet", "DaemonSet", "ControllerRevision"]),
    ("batch", &["Job", "CronJob"]),
    ("autoscaling", &["HorizontalPodAutoscaler"]),
    (
        "networking.k8s.io",
        &["Ingress", "IngressClass", "NetworkPolicy"],
    ),
    (
        "rbac.authorization.k8s.io",
        &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"],
    ),
    (
        "storage.k8s.io",
        &[
            "StorageClass",
            "CSIDriver",
            "CSINode",
            "VolumeAttachment",
            "CSIStorageCapacity",
        ],
    ),
    ("coordination.k8s.io", &["Lease"]),
    ("node.k8s.io", &["RuntimeClass"]),
    (
        "admissionregistration.k8s.io",
        &[
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ],
    ),
    ("apiextensions.k8s.io", &["CustomResourceDefinition"]),
    ("flowcontrol.apiserver.k8s.io", &[]),
    ("certificates.k8s.io", &["CertificateSigningRequest"]),
    ("scheduling.k8s.io", &[]),
    (
        "resource.k8s.io",
        &[
            "ResourceClaim",
            "ResourceClaimTemplate",
            "DeviceClass",
            "ResourceSlice",
        ],
    ),
];

/// The group of the scheduler's configuration API.
const SCHEDULER_CONFIG_GROUP: &str = "kubescheduler.config.k8s.io";
/// The API group of FlowSchema and PriorityLevelConfiguration.
const FLOWCONTROL_GROUP: &str = "flowcontrol.apiserver.k8s.io";

/// The apiVersions kube-scheduler read a legacy scheduler Policy in.
const POLICY_API_VERSIONS: &[&str] = &["v1", "kubescheduler.config.k8s.io/v1"];

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (`""`, `v1`).
fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// Whether `group` is one of Kubernetes' own API groups.
fn is_builtin_group(group: &str) -> bool {
    group.is_empty()
        || group == SCHEDULER_CONFIG_GROUP
        || UNMODELLED_KINDS.iter().any(|(g, _)| *g == group)
        || Kind::ALL.iter().any(|k| k.group() == group)
}

/// Reads one manifest document whose type fields are `meta`.
pub fn read_manifest(
    doc: &Document,
    file: &Path,
    meta: &TypeMeta,
) -> Result<Manifest, ScenarioError> {
    let at = |field: &Option<serde_saphyr::Spanned<String>>| {
        field
            .as_ref()
            .map(|s| doc.pos(file, &s.referenced))
            .unwrap_or_else(|| doc.start(file))
    };
    let (api_version, kind_name) = (meta.api_version(), meta.kind());
    let invalid_kind = |message: String| ScenarioError::Invalid {
        pos: at(&meta.kind),
        path: "kind".into(),
        message,
    };
    let invalid_version = |message: String| ScenarioError::Invalid {
        pos: at(&meta.api_version),
        path: "apiVersion".into(),
        message,
    };
    if kind_name.is_empty() {
        return Err(invalid_kind(
            "every manifest needs a `kind`, such as Pod or Deployment".into(),
        ));
    }
    if api_version.is_empty() {
        return Err(invalid_version(format!(
            "the {kind_name} manifest needs an `apiVersion`, such as v1 or apps/v1"
        )));
    }
    let (group, _) = split_api_version(api_version);
    if group == SCHEDULER_CONFIG_GROUP && kind_name == "KubeSchedulerConfiguration" {
        return Ok(Manifest::SchedulerConfiguration(doc.clone()));
    }
    if group == FLOWCONTROL_GROUP
        && matches!(kind_name, "FlowSchema" | "PriorityLevelConfiguration")
    {
        // Only v1 is read; an older version (v1beta3 and before) is skipped with a note, as
        // an unmodelled kind is.
        return Ok(if api_version != flowcontrol::config::API_VERSION {
            Manifest::Skipped {
                api_version: api_version.to_string(),
                kind: kind_name.to_string(),
            }
        } else if kind_name == "FlowSchema" {
            Manifest::FlowSchema(doc.clone())
        } else {
            Manifest::PriorityLevelConfiguration(doc.clone())
        });
    }
    if kind_name == legacy_policy::KIND {
        // Policy was no core kind: kube-scheduler decoded it as `v1` or in its configuration
        // group's `v1`, and in no other version.
        if POLICY_API_VERSIONS.contains(&api_version) {
            return Ok(Manifest::SchedulerPolicy(doc.clone()));
        }
        if group.is_empty() || group == SCHEDULER_CONFIG_GROUP {
            return Err(invalid_version(format!(
                "{api_version} Policy is not a scheduler Policy version; expected apiVersion \
                 {} (the legacy scheduler Policy)",
                POLICY_API_VERSIONS.join(" or ")
            )));
        }
    }
    if let Some(kind) = Kind::from_name(kind_name)
        && kind.api_version() == api_version
    {
        return read_object(doc, file, kind);
    }
    if is_list_kind(group, kind_name) {
        return Ok(Manifest::List(list_items(doc, file)?));
    }
    let skipped = || {
        Ok(Manifest::Skipped {
            api_version: api_version.to_string(),
            kind: kind_name.to_string(),
        })
    };
    let known_elsewhere = UNMODELLED_KINDS
        .iter()
        .any(|(g, kinds)| *g == group && kinds.contains(&kind_name));
    if known_elsewhere {
        return skipped();
    }
    if let Some(kind) = Kind::from_name(kind_name)
        && kind.group() == group
    {
        return Err(invalid_version(format!(
            "{api_version} {kind_name} is not served; expected apiVersion {}",
            kind.api_version()
        )));
    }
    if !is_builtin_group(group) {
        // A custom resource: real clusters have plenty, and none of them schedule pods.
        return skipped();
    }
    Err(invalid_kind(format!(
        "unknown kind {kind_name:?} in {api_version}; expected a Kubernetes kind such as {}",
        suggestions(kind_name)
    )))
}

/// Whether `kind` in `group` is a list of objects: `v1 List` (what `kubectl get -o yaml`
/// writes), or a built-in kind's own list (`PodList`, `apps/v1 DeploymentList`).
fn is_list_kind(group: &str, kind: &str) -> bool {
    if group.is_empty() && kind == "List" {
        return true;
    }
    let Some(stem) = kind.strip_suffix("List") else {
        return false;
    };
    Kind::from_name(stem).is_some_and(|k| k.group() == group)
        || UNMODELLED_KINDS
            .iter()
            .any(|(g, kinds)| *g == group && kinds.contains(&stem))
}

/// Kinds to suggest for an unknown one: a close spelling first, then the modelled kinds.
fn suggestions(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    let close: Vec<&str> = Kind::ALL
        .iter()
        .map(|k| k.name())
        .chain(
            UNMODELLED_KINDS
                .iter()
                .flat_map(|(_, ks)| ks.iter().copied()),
        )
        .filter(|k| edit_distance(&k.to_ascii_lowercase(), &lower) <= 2)
        .collect();
    if let Some(best) = close.first() {
        return format!("{best} (did you mean {best}?)");
    }
    Kind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

fn read_object(doc: &Document, file: &Path, kind: Kind) -> Result<Manifest, ScenarioError> {
    fn parse<T: DeserializeOwned>(
        doc: &Document,
        file: &Path,
    ) -> Result<(T, Vec<String>), ScenarioError> {
        parse_lenient(doc, file)
    }
    let (object, mut ignored) =
        match kind {
            Kind::Namespace => {
                parse::<Namespace>(doc, file).map(|(o, i)| (Object::Namespace(Box::new(o)), i))
            }
            Kind::PriorityClass => parse::<PriorityClass>(doc, file)
                .map(|(o, i)| (Object::PriorityClass(Box::new(o)), i)),
            Kind::Node => parse::<Node>(doc, file).map(|(o, i)| (Object::Node(Arc::new(o)), i)),
            Kind::Service => {
                parse::<Service>(doc, file).map(|(o, i)| (Object::Service(Box::new(o)), i))
            }
            Kind::Deployment => {
                parse::<Deployment>(doc, file).map(|(o, i)| (Object::Deployment(Box::new(o)), i))
            }
            Kind::ReplicaSet => {
                parse::<ReplicaSet>(doc, file).map(|(o, i)| (Object::ReplicaSet(Box::new(o)), i))
            }
            Kind::HorizontalPodAutoscaler => parse::<HorizontalPodAutoscaler>(doc, file)
                .map(|(o, i)| (Object::HorizontalPodAutoscaler(Box::new(o)), i)),
            Kind::Pod => parse::<Pod>(doc, file).map(|(o, i)| (Object::Pod(Arc::new(o)), i)),
            Kind::Event => parse::<Event>(doc, file).map(|(o, i)| (Object::Event(Box::new(o)), i)),
            Kind::Lease => parse::<Lease>(doc, file).map(|(o, i)| (Object::Lease(Box::new(o)), i)),
            Kind::EndpointSlice => parse::<EndpointSlice>(doc, file)
                .map(|(o, i)| (Object::EndpointSlice(Box::new(o)), i)),
            Kind::PodDisruptionBudget => parse::<PodDisruptionBudget>(doc, file)
                .map(|(o, i)| (Object::PodDisruptionBudget(Box::new(o)), i)),
        }?;
    ignored.retain(|p| p != "apiVersion" && p != "kind");
    validate(&object).map_err(|(path, message)| ScenarioError::Invalid {
        pos: locate(doc, file, &path).unwrap_or_else(|| doc.start(file)),
        path,
        message,
    })?;
    Ok(Manifest::Object {
        object: Box::new(object),
        ignored_fields: ignored,
    })
}

/// The checks the real apiserver's validation would reject a manifest for, that matter to a
/// simulation: a missing name, a workload whose selector does not select its own template.
fn validate(object: &Object) -> Result<(), (String, String)> {
    validate_shape(object).map_err(|(path, message)| (path.to_string(), message))?;
    let errors = match object {
        Object::Pod(p) => validate_pod(p),
        Object::Node(n) => validate_node(n),
        Object::PodDisruptionBudget(p) => validate_pdb(p),
        _ => return Ok(()),
    };
    match errors.first() {
        Some(first) => Err((first.field.clone(), first.message.clone())),
        None => Ok(()),
    }
}

/// What kubesim needs of a manifest before the apiserver's own validation: a name, a workload
/// that selects its own template, a GPU declaration that adds up, an HPA's bounds.
fn validate_shape(object: &Object) -> Result<(), (&'static str, String)> {
    let meta = object.meta();
    check_annotations(&meta.annotations).map_err(|m| ("metadata.annotations", m))?;
    if meta.name.is_empty() && meta.generate_name.is_empty() {
        return Err((
            "metadata.name",
            format!(
                "a {} needs metadata.name (or metadata.generateName)",
                object.kind()
            ),
        ));
    }
    match object {
        Object::Deployment(d) => {
            validate_workload(&d.spec.selector, &d.spec.template, d.spec.replicas)
        }
        Object::ReplicaSet(r) => {
            validate_workload(&r.spec.selector, &r.spec.template, r.spec.replicas)
        }
        Object::Node(n) => {
            validate_gpu_declaration(&n.status.allocatable)
                .map_err(|m| ("status.allocatable", m))?;
            validate_gpu_declaration(&n.status.capacity).map_err(|m| ("status.capacity", m))
        }
        Object::HorizontalPodAutoscaler(h) => {
            let min = h.spec.min_replicas.unwrap_or(1);
            if h.spec.max_replicas < 1 {
                return Err((
                    "spec.maxReplicas",
                    "expected an integer of at least 1".into(),
                ));
            }
            if min > h.spec.max_replicas {
                return Err((
                    "spec.minReplicas",
                    format!("{min} is greater than maxReplicas {}", h.spec.max_replicas),
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn validate_workload(
    selector: &LabelSelector,
    template: &PodTemplateSpec,
    replicas: Option<i32>,
) -> Result<(), (&'static str, String)> {
    if replicas.is_some_and(|r| r < 0) {
        return Err(("spec.replicas", "expected a non-negative integer".into()));
    }
    check_annotations(&template.metadata.annotations)
        .map_err(|m| ("spec.template.metadata.annotations", m))?;
    if selector.match_labels.is_empty() && selector.match_expressions.is_empty() {
        return Err((
            "spec.selector",
            "a workload needs a non-empty selector".into(),
        ));
    }
    if let Err(e) = selector.validate() {
        return Err(("spec.selector", e.to_string()));
    }
    if !selector.matches(&template.metadata.labels) {
        return Err((
            "spec.template.metadata.labels",
            "`selector` does not match template `labels`".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::yaml::split_documents;

    fn read(text: &str) -> Result<Manifest, ScenarioError> {
        let docs = split_documents(text);
        let meta: TypeMeta =
            match crate::scenario::yaml::parse_lenient(&docs[0], Path::new("m.yaml")) {
                Ok((m, _)) => m,
                Err(e) => return Err(e),
            };
        read_manifest(&docs[0], Path::new("m.yaml"), &meta)
    }

    #[test]
    fn modelled_kinds_parse_and_list_ignored_fields() {
        let m = read(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, uid: x}\nspec:\n  dnsPolicy: ClusterFirst\n  containers: [{name: c, image: i}]\n",
        );
        let Ok(Manifest::Object {
            object,
            ignored_fields,
        }) = m
        else {
            panic!("expected an object, got {m:?}");
        };
        assert_eq!(object.kind(), Kind::Pod);
        // The uid is kept aside, to match a dump's owner references by.
        assert_eq!(object.meta().source_uid, "x");
        assert_eq!(ignored_fields, vec!["spec.dnsPolicy"]);
    }

    #[test]
    fn known_unmodelled_kinds_and_custom_resources_are_skipped() {
        for text in [
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\n",
            "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: s}\n",
        ] {
            assert!(matches!(read(text), Ok(Manifest::Skipped { .. })), "{text}");
        }
    }

    #[test]
    fn unknown_kinds_are_errors_with_a_suggestion() {
        let err = read("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: d}\n").err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("unknown kind \"Deploymnet\""), "{msg}");
        assert!(msg.contains("did you mean Deployment?"), "{msg}");
        // `kind: Deploymnet` is on line 2; its value starts at column 7.
        assert!(msg.starts_with("m.yaml:2:7: field `kind`"), "{msg}");
    }

    #[test]
    fn legacy_scheduler_policies_are_recognised_in_both_versions() {
        for version in ["v1", "kubescheduler.config.k8s.io/v1"] {
            let text = format!("apiVersion: {version}\nkind: Policy\npriorities: []\n");
            assert!(
                matches!(read(&text), Ok(Manifest::SchedulerPolicy(_))),
                "{version}"
            );
        }
        // No other version of the scheduler's group, nor a Policy of another group (a custom
        // resource, skipped like any other).
        let err = read("apiVersion: kubescheduler.config.k8s.io/v1beta1\nkind: Policy\n").err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.starts_with("m.yaml:1:13: field `apiVersion`")
                && msg.contains("expected apiVersion v1 or kubescheduler.config.k8s.io/v1"),
            "{msg}"
        );
        let custom = read("apiVersion: example.com/v1\nkind: Policy\nmetadata: {name: p}\n");
        assert!(matches!(custom, Ok(Manifest::Skipped { .. })), "{custom:?}");
    }

    #[test]
    fn wrong_api_version_of_a_modelled_kind_is_an_error() {
        let err = read("apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: d}\n").err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("expected apiVersion apps/v1"), "{msg}");
    }

    #[test]
    fn workloads_must_select_their_own_template() {
        let err = read(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: b}}\n",
        )
        .err();
        assert_eq!(
            err.as_ref().and_then(|e| e.field_path()),
            Some("spec.template.metadata.labels")
        );
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("deployment", "deploymnet"), 2);
        assert_eq!(edit_distance("pod", "pods"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
