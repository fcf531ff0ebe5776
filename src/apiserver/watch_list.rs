//! Streaming lists (KEP-3157, the `WatchList` feature): a WATCH with `sendInitialEvents=true`
//! that starts with the objects it selects now, so that an informer fills its cache from a
//! watch instead of a LIST.
//!
//! What the apiserver does with one, as upstream's watch cache does it:
//!
//! * **Checked** as upstream's `ValidateListOptions` checks a watch: `sendInitialEvents` needs
//!   `resourceVersionMatch=NotOlderThan`, `resourceVersionMatch` needs `sendInitialEvents`, and
//!   with the `WatchList` gate off `sendInitialEvents` is forbidden — each a 422 Invalid, which
//!   sends client-go's reflector back to a LIST.
//! * **Served from the watch cache**: the objects that match the watch's selectors now (a
//!   kubelet's pods from the node index, one namespace's from the namespace index), each an
//!   ADDED event at its own resourceVersion, then — if the client allows bookmarks, as
//!   client-go always does — a BOOKMARK at the cache's resourceVersion carrying the annotation
//!   `k8s.io/initial-events-end: "true"`; then the watch goes on like any other. "Not older
//!   than" a version the cache has moved past is served with the cache's state: no 410, unlike
//!   a watch that must resume from that version. A version the store has not reached yet is
//!   refused as it is for any watch (upstream waits up to 3 s for it, then says the same).
//! * **Costed on the modelled path** (`request_path.rs`) like a LIST from the cache: its work
//!   estimate counts the objects of the resource, its seats are held for a LIST's service time
//!   of the objects it sends, and a watch cache that is not ready after a restart refuses it
//!   429 like any LIST or WATCH. Its memory is not a LIST's ([`streaming_list_memory`]).

use std::sync::Arc;

use super::hub::ApiServer;
use super::request::{ApiError, ListOptions, Request, ResourceVersionMatch, ResponseBody, Verb};
use super::store::ChangeType;
use super::watch::{Watch, WatchEvent};
use crate::api::{Kind, Object, ResourceVersion};

/// The annotation on the bookmark that ends a streaming list's initial events.
pub const INITIAL_EVENTS_END_ANNOTATION: &str = "k8s.io/initial-events-end";

/// The memory a streaming list holds while it sends its initial events, given the size of an
/// object. A LIST builds its whole answer before the first byte leaves (KEP-3157 measured
/// about 5 × the response); a streaming list sends the cache's objects one at a time, so what
/// it holds does not grow with the answer: KEP-3157's goal is O(watchers × a constant), the
/// constant (about 2 MB) being the one object in flight at its largest (1.5 MB in etcd) with
/// its encoding. kubesim's objects all have one size, so the constant is that size.
pub const fn streaming_list_memory(object_bytes: u64) -> u64 {
    object_bytes
}

/// Whether `request` is a streaming list an apiserver with the `WatchList` gate `enabled`
/// serves.
pub fn serves_streaming_list(request: &Request, enabled: bool) -> bool {
    request.verb == Verb::Watch && request.options.send_initial_events && enabled
}

/// Checks a watch's streaming options as upstream's `ValidateListOptions` does, with the
/// `WatchList` gate `enabled` or not.
pub fn check_options(kind: Kind, options: &ListOptions, enabled: bool) -> Result<(), ApiError> {
    let invalid = |field: &str, detail: &str| {
        Err(ApiError::Invalid {
            kind,
            message: format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: {detail}"),
        })
    };
    let not_older_than = options.resource_version_match == Some(ResourceVersionMatch::NotOlderThan);
    if options.send_initial_events {
        if !not_older_than {
            return invalid(
                "resourceVersionMatch",
                "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            );
        }
        if !enabled {
            return invalid(
                "sendInitialEvents",
                "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList \
                 feature gate is enabled",
            );
        }
    } else if options.resource_version_match.is_some() {
        return invalid(
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents \
             is provided",
        );
    }
    Ok(())
}

/// The bookmark that ends the initial events at `revision`: an object of `kind` with only its
/// resourceVersion and the annotation set, as upstream sends it.
pub fn initial_events_end(kind: Kind, revision: ResourceVersion) -> WatchEvent {
    let mut object = empty(kind);
    let meta = object.meta_mut();
    meta.resource_version = revision;
    meta.annotations
        .insert(INITIAL_EVENTS_END_ANNOTATION.into(), "true".into());
    WatchEvent {
        change: ChangeType::Bookmark,
        object: Arc::new(object),
        resource_version: revision,
    }
}

/// Whether a watch event is the bookmark that ends a streaming list's initial events.
pub fn is_initial_events_end(event: &WatchEvent) -> bool {
    event.change == ChangeType::Bookmark
        && event
            .object
            .meta()
            .annotations
            .get(INITIAL_EVENTS_END_ANNOTATION)
            .is_some_and(|v| v == "true")
}

/// An object of `kind` with nothing set.
fn empty(kind: Kind) -> Object {
    match kind {
        Kind::Namespace => Object::Namespace(Box::default()),
        Kind::PriorityClass => Object::PriorityClass(Box::default()),
        Kind::Node => Object::Node(Arc::default()),
        Kind::Service => Object::Service(Box::default()),
        Kind::Deployment => Object::Deployment(Box::default()),
        Kind::ReplicaSet => Object::ReplicaSet(Box::default()),
        Kind::HorizontalPodAutoscaler => Object::HorizontalPodAutoscaler(Box::default()),
        Kind::Pod => Object::Pod(Arc::default()),
        Kind::Event => Object::Event(Box::default()),
        Kind::Lease => Object::Lease(Box::default()),
        Kind::EndpointSlice => Object::EndpointSlice(Box::default()),
        Kind::PodDisruptionBudget => Object::PodDisruptionBudget(Box::default()),
    }
}

impl ApiServer {
    /// Whether `request` is a streaming list this apiserver serves (its `WatchList` gate on):
    /// one whose start is costed like a LIST.
    pub(super) fn serves_streaming_list(&self, request: &Request) -> bool {
        serves_streaming_list(request, self.config.feature_gates.watch_list)
    }

    /// How many objects a streaming list of `request` would send now.
    pub(super) fn initial_event_count(&self, request: &Request) -> u64 {
        match self.list(request.kind, &request.namespace, &request.options) {
            ResponseBody::List { items, .. } => items.len() as u64,
            _ => 0,
        }
    }

    /// The initial events of `watch`: every object it selects now as ADDED, in the cache's
    /// order, then the bookmark at the cache's version if the client allows bookmarks.
    pub(super) fn initial_events(&self, watch: &Watch) -> Vec<WatchEvent> {
        let ResponseBody::List {
            items,
            resource_version,
        } = self.list(watch.kind, &watch.namespace, &watch.options)
        else {
            return Vec::new();
        };
        let mut events: Vec<WatchEvent> = items
            .into_iter()
            .map(|object| WatchEvent {
                change: ChangeType::Added,
                resource_version: object.meta().resource_version,
                object,
            })
            .collect();
        if watch.options.allow_watch_bookmarks {
            events.push(initial_events_end(watch.kind, resource_version));
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streaming() -> ListOptions {
        ListOptions {
            send_initial_events: true,
            resource_version_match: Some(ResourceVersionMatch::NotOlderThan),
            allow_watch_bookmarks: true,
            ..ListOptions::default()
        }
    }

    #[test]
    fn a_streaming_watch_is_refused_422_unless_the_gate_is_on_and_it_asks_not_older_than() {
        assert_eq!(check_options(Kind::Pod, &streaming(), true), Ok(()));
        let off = check_options(Kind::Pod, &streaming(), false);
        let Err(error) = off else {
            panic!("the gate off refuses it");
        };
        assert_eq!(error.code(), 422);
        assert!(format!("{error:?}").contains("unless the WatchList feature gate is enabled"));
        let exact = ListOptions {
            resource_version_match: Some(ResourceVersionMatch::Exact),
            ..streaming()
        };
        assert!(check_options(Kind::Pod, &exact, true).is_err());
        // resourceVersionMatch alone on a watch is refused too; a plain watch is fine.
        let alone = ListOptions {
            send_initial_events: false,
            ..streaming()
        };
        assert!(check_options(Kind::Pod, &alone, true).is_err());
        assert_eq!(
            check_options(Kind::Pod, &ListOptions::default(), false),
            Ok(())
        );
    }

    #[test]
    fn the_end_bookmark_is_an_empty_object_of_the_kind_at_the_version() {
        let event = initial_events_end(Kind::Node, ResourceVersion(42));
        assert!(is_initial_events_end(&event));
        assert_eq!(event.object.kind(), Kind::Node);
        assert_eq!(event.object.meta().resource_version, ResourceVersion(42));
        assert_eq!(event.object.meta().name, "");
        assert_eq!(event.change.name(), "BOOKMARK");
        // A bookmark without the annotation does not end anything.
        let mut plain = empty(Kind::Node);
        plain.meta_mut().resource_version = ResourceVersion(43);
        let plain = WatchEvent {
            change: ChangeType::Bookmark,
            object: Arc::new(plain),
            resource_version: ResourceVersion(43),
        };
        assert!(!is_initial_events_end(&plain));
    }
}
