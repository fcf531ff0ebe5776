//! Which slice writes the controller still waits to see (upstream `EndpointSliceTracker`,
//! `staging/src/k8s.io/endpointslice/util/endpointslice_tracker.go`): per Service, the
//! generation each slice it wrote had, or that it deleted the slice.
//!
//! Its informer lags its own writes. A sync that reads slices older than it wrote, slices it
//! deleted, or misses slices it created, would act on a stale cache — write again, create
//! twice — so it fails as *stale* and is retried. Informer events of slices whose generation
//! the controller wrote itself do not call for a sync.

use std::collections::BTreeMap;

use crate::api::endpointslice::EndpointSlice;
use crate::api::{ObjectKey, Uid};

/// What the controller expects of one slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    /// It wrote this generation.
    Generation(i64),
    /// It deleted the slice.
    Deletion,
}

/// The expected slices of every Service.
#[derive(Clone, Debug, Default)]
pub struct SliceTracker {
    by_service: BTreeMap<ObjectKey, BTreeMap<Uid, Expected>>,
    /// The uid of each tracked Service, to forget a deleted Service's writes when another of
    /// the same name replaces it.
    service_uids: BTreeMap<ObjectKey, Uid>,
}

/// The Service a slice belongs to, by its service-name label.
fn service_of(slice: &EndpointSlice) -> ObjectKey {
    let name = slice.service_name().unwrap_or_default();
    ObjectKey::new(slice.metadata.namespace.clone(), name)
}

impl SliceTracker {
    /// Whether something is expected of `slice`.
    pub fn has(&self, slice: &EndpointSlice) -> bool {
        self.by_service
            .get(&service_of(slice))
            .is_some_and(|slices| slices.contains_key(&slice.metadata.uid))
    }

    /// Whether an informer event of `slice` calls for a sync: the controller did not write
    /// this slice, or someone wrote it after the controller did (a newer generation).
    pub fn should_sync(&self, slice: &EndpointSlice) -> bool {
        match self
            .by_service
            .get(&service_of(slice))
            .and_then(|slices| slices.get(&slice.metadata.uid))
        {
            Some(Expected::Generation(g)) => slice.metadata.generation > *g,
            Some(Expected::Deletion) | None => true,
        }
    }

    /// Whether `slices`, the Service's slices in the cache (none being deleted), lag the
    /// controller's writes: one older than written, one it deleted, or one it wrote missing.
    /// A Service of a new uid forgets what its namesake's writes left expected.
    pub fn stale_slices(
        &mut self,
        service: &ObjectKey,
        uid: Uid,
        slices: &[EndpointSlice],
    ) -> bool {
        if self
            .service_uids
            .insert(service.clone(), uid)
            .is_some_and(|known| known != uid)
        {
            self.by_service.remove(service);
        }
        let Some(expected) = self.by_service.get(service) else {
            return false;
        };
        let lagging = slices
            .iter()
            .any(|slice| match expected.get(&slice.metadata.uid) {
                Some(Expected::Deletion) => true,
                Some(Expected::Generation(g)) => *g > slice.metadata.generation,
                None => false,
            });
        lagging
            || expected.iter().any(|(uid, e)| {
                matches!(e, Expected::Generation(_))
                    && !slices.iter().any(|s| s.metadata.uid == *uid)
            })
    }

    /// The controller wrote `slice` (as the apiserver answered it).
    pub fn update(&mut self, slice: &EndpointSlice) {
        self.by_service
            .entry(service_of(slice))
            .or_default()
            .insert(
                slice.metadata.uid,
                Expected::Generation(slice.metadata.generation),
            );
    }

    /// The controller deleted `slice`.
    pub fn expect_deletion(&mut self, slice: &EndpointSlice) {
        self.by_service
            .entry(service_of(slice))
            .or_default()
            .insert(slice.metadata.uid, Expected::Deletion);
    }

    /// The informer saw `slice` go: whether the controller expected it (else the Service
    /// needs a sync).
    pub fn handle_deletion(&mut self, slice: &EndpointSlice) -> bool {
        let Some(slices) = self.by_service.get_mut(&service_of(slice)) else {
            return true;
        };
        !matches!(
            slices.remove(&slice.metadata.uid),
            Some(Expected::Generation(_))
        )
    }

    /// Forgets a deleted Service.
    pub fn delete_service(&mut self, service: &ObjectKey) {
        self.by_service.remove(service);
        self.service_uids.remove(service);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::endpointslice::LABEL_SERVICE_NAME;

    fn slice(uid: u64, generation: i64) -> EndpointSlice {
        let mut s = EndpointSlice::default();
        s.metadata.namespace = "default".into();
        s.metadata.uid = Uid(uid);
        s.metadata.generation = generation;
        s.metadata
            .labels
            .insert(LABEL_SERVICE_NAME.into(), "web".into());
        s
    }

    #[test]
    fn a_cache_behind_the_controller_s_writes_is_stale() {
        let web = ObjectKey::new("default", "web");
        let mut tracker = SliceTracker::default();
        // Nothing written: never stale, every event calls for a sync.
        assert!(!tracker.stale_slices(&web, Uid(1), &[slice(10, 1)]));
        assert!(tracker.should_sync(&slice(10, 1)));
        // The controller wrote generation 2 of slice 10 and created slice 11.
        tracker.update(&slice(10, 2));
        tracker.update(&slice(11, 1));
        // The events of its own writes need no sync; a later write by someone else does.
        assert!(!tracker.should_sync(&slice(10, 2)));
        assert!(tracker.should_sync(&slice(10, 3)));
        // Generation 1 still cached, or slice 11 not seen yet: stale. Both caught up: not.
        assert!(tracker.stale_slices(&web, Uid(1), &[slice(10, 1), slice(11, 1)]));
        assert!(tracker.stale_slices(&web, Uid(1), &[slice(10, 2)]));
        assert!(!tracker.stale_slices(&web, Uid(1), &[slice(10, 2), slice(11, 1)]));
        // Deleted by the controller but still cached: stale, until the informer sees it go.
        tracker.expect_deletion(&slice(11, 1));
        assert!(tracker.stale_slices(&web, Uid(1), &[slice(10, 2), slice(11, 1)]));
        assert!(tracker.handle_deletion(&slice(11, 1)));
        assert!(!tracker.stale_slices(&web, Uid(1), &[slice(10, 2)]));
        // A deletion the controller did not make calls for a sync.
        assert!(!tracker.handle_deletion(&slice(10, 2)));
        // A new Service of the same name forgets the old one's writes.
        tracker.update(&slice(12, 1));
        assert!(tracker.stale_slices(&web, Uid(1), &[]));
        assert!(!tracker.stale_slices(&web, Uid(2), &[]));
    }
}
