//! An informer for one kind: client-go's reflector loop (`reflector.rs` decides: LIST, WATCH,
//! back off) keeping a local copy of the objects (the informer cache).
//!
//! The component that owns the informer routes the responses, watch events and watch endings
//! it receives to it; the informer turns them into [`Delta`]s for the component to act on and
//! sends what the reflector asks for next:
//!
//! * a LIST (the first one from the watch cache, later ones from the last version seen), whose
//!   objects replace the cache and come out as deltas against it — so a relist after a 410
//!   looks to the component like the changes it missed;
//! * a WATCH from the list's (or the last event's) resourceVersion, asking the server to end it
//!   after a random 5–10 min (`timeoutSeconds`); when it ends cleanly the informer watches again
//!   at once from where it was, without a relist;
//! * after a failure, the reflector's backoff (800 ms doubling to 30 s, jitter 1.0): the next
//!   request is sent when the backoff is over, so the informer needs no timer of its own.
//!
//! With client-go's `WatchListClient` gate on (`spec.clientFeatureGates`; read when the informer
//! starts) a round starts with a streaming list instead: a WATCH with `sendInitialEvents=true`.
//! Its initial events are gathered apart (client-go's temporary store) and replace the cache
//! only when the bookmark that ends them arrives, with the same deltas a LIST would have given;
//! the informer is synced, and follows changes on that same watch, from then on. A server that
//! refuses the streaming list (its `WatchList` gate off: 422) sends the round to a LIST.
//!
//! Each informer draws its watch timeouts and backoff jitter from its own stream,
//! `client/reflector/<client id>/<resource>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::reflector::{
    Failure, ListFrom, Reflector, ReflectorAction, ReflectorConfig, ReflectorPhase, WatchEnd,
};
use crate::api::{Kind, Object, ObjectKey, ResourceVersion};
use crate::apiserver::watch_list::is_initial_events_end;
use crate::apiserver::{
    ApiError, ChangeType, ClientId, ConnectionFailure, ListOptions, Request, RequestId,
    ResourceVersionMatch, Response, ResponseBody, UserInfo, WatchEvent, WatchId,
};
use crate::component::ComponentContext;
use crate::sim::{SimRng, SimTime};

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

/// What a watch event did to an informer's cache, for its component to act on.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchDeltas {
    /// Nothing to act on: a bookmark, or an initial event of a streaming list (kept apart
    /// until the list ends).
    Nothing,
    /// One change.
    One(Delta),
    /// A streaming list ended: the cache was replaced, with these deltas against the old one
    /// (as a LIST's answer gives), and the informer is synced.
    Synced(Vec<Delta>),
}

impl WatchDeltas {
    /// The deltas, in order.
    pub fn as_slice(&self) -> &[Delta] {
        match self {
            WatchDeltas::Nothing => &[],
            WatchDeltas::One(delta) => std::slice::from_ref(delta),
            WatchDeltas::Synced(deltas) => deltas,
        }
    }
}

impl IntoIterator for WatchDeltas {
    type Item = Delta;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Delta>, std::vec::IntoIter<Delta>>;

    fn into_iter(self) -> Self::IntoIter {
        let (one, many) = match self {
            WatchDeltas::Nothing => (None, Vec::new()),
            WatchDeltas::One(delta) => (Some(delta), Vec::new()),
            WatchDeltas::Synced(deltas) => (None, deltas),
        };
        one.into_iter().chain(many)
    }
}

/// What the informer is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    /// Nothing (not started).
    Nothing,
    /// The answer to its LIST.
    List(RequestId),
    /// The answer to its WATCH.
    Watch(RequestId),
    /// The answer to its streaming list (a WATCH with initial events).
    Stream(RequestId),
    /// Events on its open watch.
    Open(WatchId),
}

/// How an informer is doing, for the stampede metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InformerHealth {
    /// Informers counted.
    pub informers: u64,
    /// Of which following changes now: a watch is open, or being opened again after one
    /// ended cleanly. The others are starting, relisting or backing off after a failure.
    pub following: u64,
    /// LISTs answered (with objects or an error), first lists included.
    pub lists: u64,
    /// Streaming lists that filled the cache (their initial events ended); one the server
    /// refused sent its round to a LIST, counted in `lists`.
    pub stream_lists: u64,
    /// WATCH requests answered (opened or refused).
    pub watches: u64,
    /// Backoffs decided.
    pub backoffs: u64,
}

impl InformerHealth {
    /// LISTs and streaming lists beyond each informer's first: the relists.
    pub fn relists(&self) -> u64 {
        (self.lists + self.stream_lists).saturating_sub(self.informers)
    }

    /// What the informers of a process that stopped leave to their component's counters when
    /// a new process replaces them: their requests, not themselves (so the new process's
    /// first lists count as the component's relists).
    pub fn retired(self) -> InformerHealth {
        InformerHealth {
            informers: 0,
            following: 0,
            ..self
        }
    }
}

impl std::ops::AddAssign for InformerHealth {
    fn add_assign(&mut self, other: InformerHealth) {
        self.informers += other.informers;
        self.following += other.following;
        self.lists += other.lists;
        self.stream_lists += other.stream_lists;
        self.watches += other.watches;
        self.backoffs += other.backoffs;
    }
}

/// An informer of one kind.
#[derive(Debug)]
pub struct Informer {
    kind: Kind,
    client: ClientId,
    user: UserInfo,
    options: ListOptions,
    reflector: Reflector,
    /// Drawn from on the first watch (a stream per informer, made when first needed).
    rng: Option<Box<SimRng>>,
    pending: Pending,
    /// Whether it follows changes: set when a watch opens, cleared by any failure.
    following: bool,
    /// LIST and WATCH requests answered.
    answered: (u64, u64),
    /// Streaming lists whose initial events ended.
    stream_lists: u64,
    cache: BTreeMap<ObjectKey, Arc<Object>>,
    /// A streaming list's initial events so far, until the bookmark that ends them (`None`
    /// when no streaming list is open).
    initial: Option<BTreeMap<ObjectKey, Arc<Object>>>,
    synced: bool,
}

/// The reflector's view of a failed request.
fn failure(error: &ApiError) -> Failure {
    match error {
        ApiError::Gone { .. } => Failure::Expired,
        ApiError::TooLargeResourceVersion { .. } => Failure::TooLargeResourceVersion,
        ApiError::TooManyRequests { .. } => Failure::TooManyRequests,
        ApiError::Connection(ConnectionFailure::Refused) => Failure::ConnectionRefused,
        ApiError::Internal { .. } => Failure::Internal,
        _ => Failure::Other,
    }
}

impl Informer {
    /// An informer of `kind` for `client`, selecting with `options` (its resourceVersion and
    /// timeout are ignored: the reflector decides them).
    pub fn new(kind: Kind, client: ClientId, user: UserInfo, options: ListOptions) -> Self {
        let config = ReflectorConfig {
            watch_list: false,
            ..ReflectorConfig::default()
        };
        Informer {
            kind,
            client,
            user,
            options,
            reflector: Reflector::new(config, SimTime::ZERO),
            rng: None,
            pending: Pending::Nothing,
            following: false,
            answered: (0, 0),
            stream_lists: 0,
            cache: BTreeMap::new(),
            initial: None,
            synced: false,
        }
    }

    /// The kind watched.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the first list (or streaming list) has been received.
    pub fn has_synced(&self) -> bool {
        self.synced
    }

    /// The cached objects, by key.
    pub fn cache(&self) -> &BTreeMap<ObjectKey, Arc<Object>> {
        &self.cache
    }

    /// How it is doing.
    pub fn health(&self) -> InformerHealth {
        let stats = self.reflector.stats();
        InformerHealth {
            informers: 1,
            following: u64::from(self.following),
            lists: self.answered.0,
            stream_lists: self.stream_lists,
            watches: self.answered.1,
            backoffs: stats.backoffs,
        }
    }

    /// Starts the first round: a LIST, or a streaming list if the client's `WatchListClient`
    /// gate is on.
    pub fn start(&mut self, cx: &mut ComponentContext<'_>) {
        self.reflector
            .set_watch_list(cx.client_gates().watch_list_client);
        let now = cx.now();
        let action = self.drive(cx, |reflector, rng| reflector.start(now, rng));
        self.act(action, cx);
    }

    /// Handles a response; returns `None` if the request was not this informer's.
    pub fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) -> Option<Vec<Delta>> {
        let now = cx.now();
        match self.pending {
            Pending::List(id) if id == request => {
                self.pending = Pending::Nothing;
                self.answered.0 += 1;
                let (deltas, action) = match response {
                    Ok(ResponseBody::List {
                        items,
                        resource_version,
                    }) => {
                        let deltas = self.replace(items.iter().cloned());
                        self.synced = true;
                        let rv = resource_version.0;
                        let action = self.drive(cx, |r, rng| r.on_list(now, rv, rng));
                        (deltas, action)
                    }
                    Ok(_) => (Vec::new(), ReflectorAction::Continue),
                    Err(error) => {
                        self.following = false;
                        let failure = failure(error);
                        let action = self.drive(cx, |r, rng| r.on_list_failed(now, failure, rng));
                        (Vec::new(), action)
                    }
                };
                self.act(action, cx);
                Some(deltas)
            }
            Pending::Watch(id) if id == request => {
                self.pending = Pending::Nothing;
                self.answered.1 += 1;
                match response {
                    Ok(ResponseBody::Watch(watch)) => {
                        self.pending = Pending::Open(*watch);
                        self.following = true;
                    }
                    Ok(_) => {}
                    Err(error) => self.watch_refused(now, error, cx),
                }
                Some(Vec::new())
            }
            Pending::Stream(id) if id == request => {
                self.pending = Pending::Nothing;
                match response {
                    Ok(ResponseBody::Watch(watch)) => {
                        // Not following yet: the cache fills when the initial events end.
                        self.pending = Pending::Open(*watch);
                        self.initial = Some(BTreeMap::new());
                    }
                    Ok(_) => {}
                    Err(error) => self.watch_refused(now, error, cx),
                }
                Some(Vec::new())
            }
            _ => None,
        }
    }

    /// Stops: its open watch is closed (the process that held it is gone), and nothing it
    /// sent is waited for any more.
    pub fn stop(&mut self, api: &mut crate::apiserver::ApiServer) {
        if let Pending::Open(watch) = self.pending {
            api.close_watch(watch);
        }
        self.pending = Pending::Nothing;
        self.following = false;
        self.initial = None;
    }

    /// Whether `watch` is this informer's watch.
    pub fn owns_watch(&self, watch: WatchId) -> bool {
        self.pending == Pending::Open(watch)
    }

    /// Applies a watch event that arrived at `now` to the cache (or, during a streaming list's
    /// initial events, to what will replace it); returns what changed.
    pub fn on_watch_event(&mut self, event: &WatchEvent, now: SimTime) -> WatchDeltas {
        let end = is_initial_events_end(event);
        let _ = self.reflector.on_event(now, event.resource_version.0, end);
        if let Some(initial) = self.initial.as_mut() {
            if end {
                return self.end_initial_events();
            }
            // client-go's temporary store: the events before the end bookmark build the state
            // that replaces the cache at once.
            let key = event.object.key();
            match event.change {
                ChangeType::Added | ChangeType::Modified => {
                    initial.insert(key, Arc::clone(&event.object));
                }
                ChangeType::Deleted => {
                    initial.remove(&key);
                }
                ChangeType::Bookmark => {}
            }
            return WatchDeltas::Nothing;
        }
        let key = event.object.key();
        WatchDeltas::One(match event.change {
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
            // A bookmark only moves the version the reflector resumes from.
            ChangeType::Bookmark => return WatchDeltas::Nothing,
        })
    }

    /// The bookmark ending a streaming list's initial events arrived: they replace the cache,
    /// the informer is synced and follows changes on the same watch.
    fn end_initial_events(&mut self) -> WatchDeltas {
        let initial = self.initial.take().unwrap_or_default();
        let deltas = self.replace(initial.into_values());
        self.synced = true;
        self.following = true;
        self.stream_lists += 1;
        WatchDeltas::Synced(deltas)
    }

    /// The stream of `watch` ended; returns whether it was this informer's. The reflector
    /// watches again at once from the last version (or backs off, after a very short watch).
    pub fn on_watch_ended(&mut self, watch: WatchId, cx: &mut ComponentContext<'_>) -> bool {
        if !self.owns_watch(watch) {
            return false;
        }
        self.pending = Pending::Nothing;
        // A streaming list cut off before its end leaves the cache as it was.
        self.initial = None;
        let now = cx.now();
        let action = self.drive(cx, |r, rng| r.on_watch_ended(now, WatchEnd::Closed, rng));
        // A very short watch sends the reflector back to a LIST.
        if !matches!(action, ReflectorAction::Watch { .. }) {
            self.following = false;
        }
        self.act(action, cx);
        true
    }

    /// Lets `step` move the reflector with the informer's random stream (made on first use).
    fn drive(
        &mut self,
        cx: &ComponentContext<'_>,
        step: impl FnOnce(&mut Reflector, &mut SimRng) -> ReflectorAction,
    ) -> ReflectorAction {
        let (client, kind) = (self.client, self.kind);
        let rng = self.rng.get_or_insert_with(|| {
            let name = format!("client/reflector/{}/{}", client.0, kind.resource());
            Box::new(cx.streams().stream(&name))
        });
        step(&mut self.reflector, rng)
    }

    /// Sends what the reflector asked for: at once, or when its backoff is over.
    /// A watch (or a streaming list) was not opened: the reflector decides when to try again.
    fn watch_refused(&mut self, now: SimTime, error: &ApiError, cx: &mut ComponentContext<'_>) {
        self.following = false;
        let failure = failure(error);
        let action = self.drive(cx, |r, rng| r.on_watch_refused(now, failure, rng));
        self.act(action, cx);
    }

    fn act(&mut self, mut action: ReflectorAction, cx: &mut ComponentContext<'_>) {
        let mut at = cx.now();
        loop {
            match action {
                ReflectorAction::List { .. } => {
                    let mut options = self.options.clone();
                    options.resource_version = None;
                    options.timeout = None;
                    let list =
                        Request::list(self.client, self.user.clone(), self.kind, "", options);
                    self.pending = Pending::List(cx.api.submit(at, list, cx.out));
                    return;
                }
                ReflectorAction::Watch {
                    resource_version,
                    timeout,
                } => {
                    let mut options = self.options.clone();
                    options.resource_version = Some(ResourceVersion(resource_version));
                    options.timeout = Some(timeout);
                    let watch =
                        Request::watch(self.client, self.user.clone(), self.kind, "", options);
                    self.pending = Pending::Watch(cx.api.submit(at, watch, cx.out));
                    return;
                }
                ReflectorAction::StreamList { from, timeout } => {
                    let mut options = self.options.clone();
                    options.resource_version = match from {
                        ListFrom::NotOlderThan(rv) => Some(ResourceVersion(rv)),
                        // "" (the latest): the reflector never streams from "0".
                        ListFrom::Latest | ListFrom::Any => None,
                    };
                    options.timeout = Some(timeout);
                    options.send_initial_events = true;
                    options.resource_version_match = Some(ResourceVersionMatch::NotOlderThan);
                    options.allow_watch_bookmarks = true;
                    let stream =
                        Request::watch(self.client, self.user.clone(), self.kind, "", options);
                    self.pending = Pending::Stream(cx.api.submit(at, stream, cx.out));
                    return;
                }
                ReflectorAction::WaitUntil(until) => {
                    // Nothing happens to a backing-off reflector before `until` but its timer:
                    // decide now what it sends then.
                    at = until;
                    action = self.drive(cx, |r, rng| r.on_timer(until, rng));
                }
                ReflectorAction::Continue => return,
            }
        }
    }

    /// Where its reflector is.
    pub fn phase(&self) -> ReflectorPhase {
        self.reflector.phase()
    }

    /// Replaces the cache with a list; returns the deltas against the old cache.
    fn replace(&mut self, items: impl IntoIterator<Item = Arc<Object>>) -> Vec<Delta> {
        let mut fresh: BTreeMap<ObjectKey, Arc<Object>> = BTreeMap::new();
        let mut deltas = Vec::new();
        for item in items {
            let key = item.key();
            match self.cache.get(&key) {
                Some(old) if old.meta().resource_version == item.meta().resource_version => {}
                Some(old) => deltas.push(Delta::Updated(Arc::clone(old), Arc::clone(&item))),
                None => deltas.push(Delta::Added(Arc::clone(&item))),
            }
            fresh.insert(key, item);
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
