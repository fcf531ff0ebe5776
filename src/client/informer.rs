//! An informer for one kind: LIST, then WATCH from the list's resourceVersion, as client-go's
//! reflector does, keeping a local copy of the objects (the informer cache).
//!
//! The component that owns the informer routes the responses and watch events it receives to
//! it; the informer turns them into [`Delta`]s for the component to act on. When the watch
//! fails (410 Gone, an error), the informer relists; the relist's objects replace the cache and
//! come out as deltas against it, so the component sees one consistent stream either way.
//! Backoff and jitter of client-go's reflector arrive with the flow-control work.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{
    ApiOutput, ApiServer, ChangeType, ClientId, ListOptions, Request, RequestId, Response,
    ResponseBody, UserInfo, WatchEvent, WatchId,
};
use crate::sim::SimTime;

/// A change the owning component should act on.
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    /// The object appeared (in the first list, a relist, or a watch event).
    Added(Arc<Object>),
    /// The object changed: old and new.
    Updated(Arc<Object>, Arc<Object>),
    /// The object went away (its last known state).
    Deleted(Arc<Object>),
}

/// Where the informer is in its list-and-watch loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Listing(RequestId),
    StartingWatch(RequestId),
    Watching(WatchId),
}

/// An informer of one kind.
#[derive(Debug)]
pub struct Informer {
    kind: Kind,
    client: ClientId,
    user: UserInfo,
    options: ListOptions,
    phase: Phase,
    cache: BTreeMap<ObjectKey, Arc<Object>>,
    synced: bool,
    /// Lists sent so far (1 = no relist yet).
    pub lists: u64,
}

impl Informer {
    /// An informer of `kind` for `client`, selecting with `options` (its resourceVersion is
    /// ignored: the informer decides where to start).
    pub fn new(kind: Kind, client: ClientId, user: UserInfo, options: ListOptions) -> Self {
        Informer {
            kind,
            client,
            user,
            options,
            phase: Phase::Idle,
            cache: BTreeMap::new(),
            synced: false,
            lists: 0,
        }
    }

    /// The kind watched.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the first list has been received.
    pub fn has_synced(&self) -> bool {
        self.synced
    }

    /// The cached objects, by key.
    pub fn cache(&self) -> &BTreeMap<ObjectKey, Arc<Object>> {
        &self.cache
    }

    /// Starts (or restarts) with a LIST.
    pub fn start(&mut self, now: SimTime, api: &mut ApiServer, out: &mut Vec<ApiOutput>) {
        let mut options = self.options.clone();
        options.resource_version = None;
        let request = Request::list(self.client, self.user.clone(), self.kind, "", options);
        self.lists += 1;
        self.phase = Phase::Listing(api.submit(now, request, out));
    }

    /// Handles a response; returns `None` if the request was not this informer's.
    pub fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) -> Option<Vec<Delta>> {
        match self.phase {
            Phase::Listing(id) if id == request => {
                let Ok(ResponseBody::List {
                    items,
                    resource_version,
                }) = response
                else {
                    // A failed list is retried (client-go backs off; flow control will add it).
                    self.start(now, api, out);
                    return Some(Vec::new());
                };
                let deltas = self.replace(items);
                self.synced = true;
                let mut options = self.options.clone();
                options.resource_version = Some(*resource_version);
                let watch = Request::watch(self.client, self.user.clone(), self.kind, "", options);
                self.phase = Phase::StartingWatch(api.submit(now, watch, out));
                Some(deltas)
            }
            Phase::StartingWatch(id) if id == request => {
                match response {
                    Ok(ResponseBody::Watch(watch)) => self.phase = Phase::Watching(*watch),
                    // 410 Gone or any other failure: relist.
                    _ => self.start(now, api, out),
                }
                Some(Vec::new())
            }
            _ => None,
        }
    }

    /// Whether `watch` is this informer's watch.
    pub fn owns_watch(&self, watch: WatchId) -> bool {
        self.phase == Phase::Watching(watch)
    }

    /// Applies a watch event to the cache; returns the delta.
    pub fn on_watch_event(&mut self, event: &WatchEvent) -> Delta {
        let key = event.object.key();
        match event.change {
            ChangeType::Added | ChangeType::Modified => {
                match self.cache.insert(key, Arc::clone(&event.object)) {
                    Some(old) => Delta::Updated(old, Arc::clone(&event.object)),
                    None => Delta::Added(Arc::clone(&event.object)),
                }
            }
            ChangeType::Deleted => {
                let last = self
                    .cache
                    .remove(&key)
                    .unwrap_or_else(|| Arc::clone(&event.object));
                Delta::Deleted(last)
            }
        }
    }

    /// Replaces the cache with a list; returns the deltas against the old cache.
    fn replace(&mut self, items: &[Arc<Object>]) -> Vec<Delta> {
        let mut fresh: BTreeMap<ObjectKey, Arc<Object>> = BTreeMap::new();
        let mut deltas = Vec::new();
        for item in items {
            let key = item.key();
            match self.cache.get(&key) {
                Some(old) if old.meta().resource_version == item.meta().resource_version => {}
                Some(old) => deltas.push(Delta::Updated(Arc::clone(old), Arc::clone(item))),
                None => deltas.push(Delta::Added(Arc::clone(item))),
            }
            fresh.insert(key, Arc::clone(item));
        }
        for (key, old) in &self.cache {
            if !fresh.contains_key(key) {
                deltas.push(Delta::Deleted(Arc::clone(old)));
            }
        }
        self.cache = fresh;
        deltas
    }
}
