//! An operator population (`operator`): the replicas of an operator's Deployment, each running
//! its informers — one per kind, cluster-wide, a LIST and then a WATCH from the list's
//! resourceVersion, relisting when the watch fails — through client-go's shared informer
//! factory ([`InformerSet`]). That is the load an operator puts on the apiserver whatever it
//! reconciles: controller-runtime starts its caches in every replica, leader or not, so `N`
//! replicas open `N` × kinds LISTs and WATCHes, and every change of a watched kind reaches
//! every replica. What the operator writes is not modelled.
//!
//! One component holds every replica; replica `i` speaks as the population's client `i` and
//! starts with the component (at the run's start, or once the initial apply has settled).

use super::{Common, PopulationStats};
use crate::apiserver::{ClientId, RequestId, Response, WatchEvent, WatchId};
use crate::client::informer::InformerHealth;
use crate::client::informer_set::InformerSet;
use crate::component::{Component, ComponentContext, Timer};
use crate::config::populations::Operator;

/// The replicas of one operator population.
#[derive(Debug)]
pub struct Operators {
    common: Common,
    replicas: Vec<InformerSet>,
}

impl Operators {
    /// The replicas of `settings`, their informers not started yet.
    pub(super) fn new(common: Common, settings: &Operator) -> Self {
        let mut common = common;
        let replicas = (0..settings.replicas as usize)
            .map(|i| InformerSet::new(&settings.kinds, common.client(i), &common.user))
            .collect();
        common.stats.clients = settings.replicas;
        Operators { common, replicas }
    }

    /// Replica `index`'s informers.
    pub fn replica(&self, index: usize) -> Option<&InformerSet> {
        self.replicas.get(index)
    }

    /// What the replicas asked and were answered.
    pub fn stats(&self) -> &PopulationStats {
        &self.common.stats
    }
}

impl Component for Operators {
    fn clients(&self) -> Vec<ClientId> {
        (0..self.replicas.len())
            .map(|i| self.common.client(i))
            .collect()
    }

    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        for replica in &mut self.replicas {
            self.common.stats.sending(cx, |cx| replica.start(cx));
        }
    }

    fn on_response(
        &mut self,
        client: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        self.common.stats.answered(request, response);
        let Some(index) = self.common.index(client, self.replicas.len()) else {
            return;
        };
        let replica = &mut self.replicas[index];
        // The informer sends its WATCH after its LIST, or relists after a failure.
        self.common.stats.sending(cx, |cx| {
            replica.on_response(request, response, cx);
        });
    }

    fn on_watch_event(
        &mut self,
        client: ClientId,
        watch: WatchId,
        event: &WatchEvent,
        cx: &mut ComponentContext<'_>,
    ) {
        if let Some(index) = self.common.index(client, self.replicas.len()) {
            self.replicas[index].on_watch_event(watch, event, cx.now());
        }
    }

    fn on_watch_ended(&mut self, client: ClientId, watch: WatchId, cx: &mut ComponentContext<'_>) {
        if let Some(index) = self.common.index(client, self.replicas.len()) {
            let replica = &mut self.replicas[index];
            // The reflector watches again from where it was.
            self.common.stats.sending(cx, |cx| {
                replica.on_watch_ended(watch, cx);
            });
        }
    }

    fn informer_health(&self) -> InformerHealth {
        let mut health = InformerHealth::default();
        for replica in &self.replicas {
            health += replica.health();
        }
        health
    }

    fn on_timer(&mut self, _timer: Timer, _cx: &mut ComponentContext<'_>) {}

    fn client_population(&self) -> Option<&PopulationStats> {
        Some(&self.common.stats)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
