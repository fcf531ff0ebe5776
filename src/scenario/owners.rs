//! Owner references in the inputs, resolved as an import of a cluster needs them.
//!
//! A dump (`kubectl get -o yaml`) names each object's owners by kind, name and the owner's uid
//! in that cluster. kubesim gives every object a uid of its own when it creates it, so a
//! reference is kept when its owner is among the inputs (the same kind and name in the
//! object's namespace, and the same uid when both the reference and the owner carry one);
//! `kubectl` then points it at the owner it created (see `world::kubectl`). A reference to an
//! owner that is not in the inputs is dropped, with a note: the object stays as an orphan, as
//! it would be after its owner was deleted with `--cascade=orphan`, instead of being taken by
//! the garbage collector for an owner kubesim never saw.
//!
//! A reference to a kind kubesim does not model (a DaemonSet, a StatefulSet, a Job) is kept:
//! no such owner can be in the inputs, and none is needed — no controller of kubesim acts for
//! it and the garbage collector leaves such references alone — while the reference still tells
//! `kubectl drain` that a DaemonSet runs the pod, and other controllers that it is not theirs.

use std::collections::BTreeMap;

use super::error::SourcePos;
use super::load::{Action, Note, TimedAction};
use crate::api::{Kind, Object};

/// An object's identity among the inputs: kind, namespace, name.
type Identity = (Kind, String, String);

/// Drops the owner references of `initial` and of the timeline's applies whose owner is not
/// among them, noting each at the object's definition.
pub(super) fn resolve_owner_references(
    initial: &mut [Object],
    timeline: &mut [TimedAction],
    defined_at: &BTreeMap<Identity, SourcePos>,
    notes: &mut Vec<Note>,
) {
    let applied = timeline.iter().flat_map(|a| match &a.action {
        Action::Apply(objects) => objects.as_slice(),
        _ => &[],
    });
    let present: BTreeMap<Identity, String> = initial
        .iter()
        .chain(applied)
        .map(|o| (identity(o), o.meta().source_uid.clone()))
        .collect();
    let applied = timeline.iter_mut().flat_map(|a| match &mut a.action {
        Action::Apply(objects) => objects.as_mut_slice(),
        _ => &mut [],
    });
    for object in initial.iter_mut().chain(applied) {
        drop_absent_owners(object, &present, defined_at, notes);
    }
}

fn identity(object: &Object) -> Identity {
    let meta = object.meta();
    (object.kind(), meta.namespace.clone(), meta.name.clone())
}

fn drop_absent_owners(
    object: &mut Object,
    present: &BTreeMap<Identity, String>,
    defined_at: &BTreeMap<Identity, SourcePos>,
    notes: &mut Vec<Note>,
) {
    let own = identity(object);
    let namespace = own.1.clone();
    let mut dropped = Vec::new();
    object.meta_mut().owner_references.retain(|reference| {
        let owner = Kind::from_name(&reference.kind).map(|kind| {
            let namespace = if kind.is_namespaced() {
                namespace.clone()
            } else {
                String::new()
            };
            (kind, namespace, reference.name.clone())
        });
        let Some(owner) = owner else {
            return true;
        };
        let found = present.get(&owner).is_some_and(|uid| {
            uid.is_empty() || reference.source_uid.is_empty() || *uid == reference.source_uid
        });
        if !found {
            dropped.push(format!("{} {}", reference.kind, reference.name));
        }
        found
    });
    if dropped.is_empty() {
        return;
    }
    let Some(pos) = defined_at.get(&own) else {
        return;
    };
    notes.push(Note {
        pos: pos.clone(),
        message: format!(
            "{} {}: owner {} is not in the inputs; the reference is dropped and the object stays \
             as an orphan",
            own.0,
            own.2,
            dropped.join(", ")
        ),
    });
}
