//! `kubectl apply` of an object that exists: the patch kubectl sends, merged onto the live
//! object as the apiserver merges it. What the manifest sets wins; what it leaves out keeps
//! its live value — a pod's `spec.nodeName`, what admission added (priority, default
//! tolerations), labels and annotations others set; the status is the server's. kubectl
//! remembers what it last applied, to tell a field the user removed from one someone else
//! set; kubesim keeps no such record, so a field removed from a manifest keeps its live value.

use std::sync::Arc;

use crate::api::Object;

/// `manifest` applied onto the `live` object: the manifest's fields win; what it leaves empty
/// keeps the live value; the live object's identity and status stay.
pub fn apply_onto(live: &Object, mut manifest: Object) -> Object {
    let live_meta = live.meta();
    let meta = manifest.meta_mut();
    let mut labels = live_meta.labels.clone();
    labels.extend(std::mem::take(&mut meta.labels));
    meta.labels = labels;
    let mut annotations = live_meta.annotations.clone();
    annotations.extend(std::mem::take(&mut meta.annotations));
    meta.annotations = annotations;
    meta.uid = live_meta.uid;
    meta.resource_version = live_meta.resource_version;
    meta.creation_timestamp = live_meta.creation_timestamp;
    meta.generation = live_meta.generation;
    meta.namespace.clone_from(&live_meta.namespace);
    if meta.owner_references.is_empty() {
        meta.owner_references
            .clone_from(&live_meta.owner_references);
    }
    super::admission::keep_allocated(live, &mut manifest);
    if let (Object::Pod(pod), Object::Pod(before)) = (&mut manifest, live) {
        let spec = Arc::make_mut(&mut Arc::make_mut(pod).spec);
        let was = &before.spec;
        if spec.node_name.is_empty() {
            spec.node_name.clone_from(&was.node_name);
        }
        if spec.priority.is_none() {
            spec.priority = was.priority;
        }
        if spec.priority_class_name.is_empty() {
            spec.priority_class_name
                .clone_from(&was.priority_class_name);
        }
        if spec.preemption_policy.is_none() {
            spec.preemption_policy.clone_from(&was.preemption_policy);
        }
        if spec.termination_grace_period_seconds.is_none() {
            spec.termination_grace_period_seconds = was.termination_grace_period_seconds;
        }
        // Tolerations admission added (and any others) stay; the manifest's are added.
        let mut tolerations = was.tolerations.clone();
        for t in &spec.tolerations {
            if !tolerations.contains(t) {
                tolerations.push(t.clone());
            }
        }
        spec.tolerations = tolerations;
    }
    manifest
}
