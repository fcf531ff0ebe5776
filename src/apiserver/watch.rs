//! Open watches: what each selects, and which event (if any) a committed change means to it.
//!
//! A watch with a selector sees an object enter its selection as ADDED and leave it as DELETED,
//! as the apiserver's watch cache reports it; changes outside its selection are not sent at all.

use std::sync::Arc;

use super::request::{ClientId, ListOptions, WatchId};
use super::store::{Change, ChangeType};
use crate::api::{Kind, Object, ResourceVersion};
use crate::sim::SimDuration;

/// One event delivered on a watch.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    /// ADDED, MODIFIED or DELETED, from this watch's point of view.
    pub change: ChangeType,
    /// The object after the change.
    pub object: Arc<Object>,
    /// The version of the change.
    pub resource_version: ResourceVersion,
}

/// An open watch.
#[derive(Clone, Debug)]
pub struct Watch {
    /// The watching client.
    pub client: ClientId,
    /// Kind watched.
    pub kind: Kind,
    /// Namespace watched (empty = all).
    pub namespace: String,
    /// Selection.
    pub options: ListOptions,
    /// How long after a commit the client sees it.
    pub delay: SimDuration,
}

impl Watch {
    /// Whether `object` is in this watch's selection.
    pub fn selects(&self, object: &Object) -> bool {
        if object.kind() != self.kind {
            return false;
        }
        if !self.namespace.is_empty() && object.meta().namespace != self.namespace {
            return false;
        }
        if let Some(sel) = &self.options.label_selector
            && !sel.matches(&object.meta().labels)
        {
            return false;
        }
        if let Some(fields) = &self.options.field_selector
            && !fields.matches(|path| object.field(path))
        {
            return false;
        }
        true
    }

    /// The event `change` means to this watch, if any.
    pub fn event_for(&self, change: &Change) -> Option<WatchEvent> {
        let now_in = self.selects(&change.object);
        let was_in = change
            .previous
            .as_ref()
            .is_some_and(|prev| self.selects(prev));
        let seen = match change.change {
            ChangeType::Added => now_in.then_some(ChangeType::Added),
            ChangeType::Deleted => was_in.then_some(ChangeType::Deleted),
            ChangeType::Modified => match (was_in, now_in) {
                (true, true) => Some(ChangeType::Modified),
                (false, true) => Some(ChangeType::Added),
                (true, false) => Some(ChangeType::Deleted),
                (false, false) => None,
            },
        }?;
        Some(WatchEvent {
            change: seen,
            object: Arc::clone(&change.object),
            resource_version: change.resource_version,
        })
    }
}

/// Every watch ever opened in a run, by id; closed ones are `None`.
#[derive(Debug, Default)]
pub struct WatchRegistry {
    watches: Vec<Option<Watch>>,
    by_kind: [Vec<WatchId>; Kind::ALL.len()],
}

impl WatchRegistry {
    /// Registers a watch and returns its id.
    pub fn open(&mut self, watch: Watch) -> WatchId {
        let id = WatchId(self.watches.len() as u32);
        self.by_kind[watch.kind.index()].push(id);
        self.watches.push(Some(watch));
        id
    }

    /// Closes a watch; later deliveries to it are dropped.
    pub fn close(&mut self, id: WatchId) {
        if let Some(slot) = self.watches.get_mut(id.0 as usize)
            && let Some(w) = slot.take()
        {
            self.by_kind[w.kind.index()].retain(|&other| other != id);
        }
    }

    /// The open watch `id`.
    pub fn get(&self, id: WatchId) -> Option<&Watch> {
        self.watches.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// Open watches of `kind`, in opening order.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = (WatchId, &Watch)> {
        self.by_kind[kind.index()]
            .iter()
            .filter_map(|&id| self.get(id).map(|w| (id, w)))
    }

    /// How many watches are open.
    pub fn open_count(&self) -> usize {
        self.by_kind.iter().map(Vec::len).sum()
    }
}
