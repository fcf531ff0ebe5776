//! A component's informers, one per kind, as client-go's shared informer factory keeps them:
//! whatever part of the component needs a kind reads the same cache, fed by one watch
//! (kube-controller-manager's controllers all read one set, as upstream's
//! `CreateControllerContext` hands them one `SharedInformerFactory`).
//!
//! The set starts them together and routes each response and watch event to the informer it
//! belongs to, handing back the kind with the deltas.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::informer::{Delta, Informer, InformerHealth, WatchDeltas};
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{ClientId, ListOptions, RequestId, Response, UserInfo, WatchEvent, WatchId};
use crate::component::ComponentContext;
use crate::sim::SimTime;

/// One informer per kind, in the order they were asked for (which is the order they start).
#[derive(Debug)]
pub struct InformerSet {
    informers: Vec<Informer>,
}

impl InformerSet {
    /// Informers of `kinds` (everything of each kind) for `client` speaking as `user`.
    pub fn new(kinds: &[Kind], client: ClientId, user: &UserInfo) -> Self {
        let informers = kinds
            .iter()
            .map(|&k| Informer::new(k, client, user.clone(), ListOptions::default()))
            .collect();
        InformerSet { informers }
    }

    /// Starts every informer (a LIST each).
    pub fn start(&mut self, cx: &mut ComponentContext<'_>) {
        for informer in &mut self.informers {
            informer.start(cx);
        }
    }

    /// Stops every informer: their watches close (the process that held them is gone).
    pub fn stop(&mut self, api: &mut crate::apiserver::ApiServer) {
        for informer in &mut self.informers {
            informer.stop(api);
        }
    }

    /// How the informers are doing, summed.
    pub fn health(&self) -> InformerHealth {
        let mut health = InformerHealth::default();
        for informer in &self.informers {
            health += informer.health();
        }
        health
    }

    /// Whether every informer has received its first list.
    pub fn has_synced(&self) -> bool {
        self.informers.iter().all(Informer::has_synced)
    }

    /// Whether the informers of every kind in `kinds` have received their first list (a
    /// controller's `WaitForCacheSync` on the informers it uses); a kind the set has no
    /// informer of never syncs.
    pub fn has_synced_kinds(&self, kinds: &[Kind]) -> bool {
        kinds.iter().all(|&kind| {
            self.informers
                .iter()
                .any(|i| i.kind() == kind && i.has_synced())
        })
    }

    /// The kinds the set has informers of, in the order they start.
    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        self.informers.iter().map(Informer::kind)
    }

    /// The cache of `kind` (empty if the set has no informer of it).
    pub fn cache(&self, kind: Kind) -> &BTreeMap<ObjectKey, Arc<Object>> {
        static EMPTY: BTreeMap<ObjectKey, Arc<Object>> = BTreeMap::new();
        self.informers
            .iter()
            .find(|i| i.kind() == kind)
            .map_or(&EMPTY, Informer::cache)
    }

    /// The cached objects of `kind` in `namespace`, in key order (a lister's
    /// `Namespace(ns).List`).
    pub fn in_namespace<'a>(
        &'a self,
        kind: Kind,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Object>)> + 'a {
        namespace_entries(self.cache(kind), namespace)
    }

    /// Routes a response to the informer that sent the request: its kind and deltas, or None
    /// if no informer of the set sent it.
    pub fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) -> Option<(Kind, Vec<Delta>)> {
        self.informers.iter_mut().find_map(|informer| {
            let deltas = informer.on_response(request, response, cx)?;
            Some((informer.kind(), deltas))
        })
    }

    /// Closes the watch `response` opened if none of the set's informers asked for it: a
    /// former process of the component asked, and its connection is gone. Whether it closed
    /// one.
    pub fn close_orphan(&self, response: &Response, api: &mut crate::apiserver::ApiServer) -> bool {
        match response {
            Ok(crate::apiserver::ResponseBody::Watch(watch)) => {
                api.close_watch(*watch);
                true
            }
            _ => false,
        }
    }

    /// Routes a watch event that arrived at `now` to the informer whose watch it is: its kind
    /// and deltas, or None.
    pub fn on_watch_event(
        &mut self,
        watch: WatchId,
        event: &WatchEvent,
        now: SimTime,
    ) -> Option<(Kind, WatchDeltas)> {
        let informer = self.informers.iter_mut().find(|i| i.owns_watch(watch))?;
        Some((informer.kind(), informer.on_watch_event(event, now)))
    }

    /// Routes the end of a watch to the informer whose watch it was; whether one was.
    pub fn on_watch_ended(&mut self, watch: WatchId, cx: &mut ComponentContext<'_>) -> bool {
        self.informers
            .iter_mut()
            .any(|informer| informer.on_watch_ended(watch, cx))
    }
}

/// The entries of an informer's `cache` in `namespace`, in key order (a lister's
/// `Namespace(ns).List`).
pub fn namespace_entries<'a>(
    cache: &'a BTreeMap<ObjectKey, Arc<Object>>,
    namespace: &str,
) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Object>)> {
    cache
        .range(ObjectKey::new(namespace, "")..)
        .take_while(move |(key, _)| key.namespace == namespace)
}
