//! A scraper population (`scraper`): one client that, every interval, LISTs each of its kinds
//! cluster-wide — a monitoring agent or script that polls the API for the state it reports
//! (an inventory exporter, a cron job running `kubectl get pods -A`), the read load of
//! monitoring done by polling.
//!
//! Not every monitoring tool is one: kube-state-metrics runs informers (model it as an
//! `operator` population), and Prometheus scraping `/metrics` endpoints of pods and nodes
//! sends no API request at all (its Kubernetes service discovery is informers too).
//!
//! **When it lists.** Its first round goes at a phase after the component starts, a uniform
//! draw in `[0, interval)` from the seeded stream `clients/<name>/phase`; a round sends one
//! LIST per kind at once, in the order written (its token bucket spaces them if it must); the
//! next round goes `interval` after the round's last answer (sliding, as `wait.Until`).

use rand::RngExt;

use super::{Common, PopulationStats};
use crate::api::Kind;
use crate::apiserver::{ClientId, ListOptions, Request, RequestId, Response, WatchEvent, WatchId};
use crate::component::{Component, ComponentContext, Timer};
use crate::config::populations;
use crate::sim::{RngStreams, SimDuration, SimTime};

/// The timer of the next round (background work, as every periodic poll).
const ROUND: Timer = Timer {
    code: 0,
    background: true,
    generation: 0,
};

/// One scraper population.
#[derive(Debug)]
pub struct Scraper {
    common: Common,
    kinds: Vec<Kind>,
    interval: SimDuration,
    /// The first round's delay after the start.
    phase: SimDuration,
    /// When the next round is due, if one is.
    due: Option<SimTime>,
    /// LISTs of the round under way not answered yet.
    outstanding: usize,
    /// Rounds started.
    rounds: u64,
}

impl Scraper {
    /// The scraper of `settings`, its phase drawn from the population's stream of `streams`.
    pub(super) fn new(
        common: Common,
        settings: &populations::Scraper,
        streams: RngStreams,
    ) -> Self {
        let mut rng = streams.stream(&super::phase_stream(&common.stats.name));
        let phase = SimDuration::from_nanos(rng.random_range(0..settings.interval.as_nanos()));
        let mut common = common;
        common.stats.clients = 1;
        Scraper {
            common,
            kinds: settings.kinds.clone(),
            interval: settings.interval,
            phase,
            due: None,
            outstanding: 0,
            rounds: 0,
        }
    }

    /// The first round's delay after the start.
    pub fn phase(&self) -> SimDuration {
        self.phase
    }

    /// Rounds started so far.
    pub fn rounds(&self) -> u64 {
        self.rounds
    }

    /// What the scraper asked and was answered.
    pub fn stats(&self) -> &PopulationStats {
        &self.common.stats
    }

    fn wake_at(&mut self, at: SimTime, cx: &mut ComponentContext<'_>) {
        self.due = Some(at);
        cx.set_timer(at, ROUND);
    }
}

impl Component for Scraper {
    fn clients(&self) -> Vec<ClientId> {
        vec![self.common.client(0)]
    }

    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        let at = cx.now() + self.phase;
        self.wake_at(at, cx);
    }

    fn on_response(
        &mut self,
        _client: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        self.common.stats.answered(request, response);
        self.outstanding = self.outstanding.saturating_sub(1);
        if self.outstanding == 0 && self.due.is_none() {
            let at = cx.now() + self.interval;
            self.wake_at(at, cx);
        }
    }

    fn on_watch_event(
        &mut self,
        _client: ClientId,
        _watch: WatchId,
        _event: &WatchEvent,
        _cx: &mut ComponentContext<'_>,
    ) {
    }

    fn on_watch_ended(&mut self, _: ClientId, _: WatchId, _: &mut ComponentContext<'_>) {}

    fn on_timer(&mut self, _timer: Timer, cx: &mut ComponentContext<'_>) {
        let now = cx.now();
        if self.due != Some(now) {
            return;
        }
        self.due = None;
        self.rounds += 1;
        self.outstanding = self.kinds.len();
        let client = self.common.client(0);
        for &kind in &self.kinds {
            let request = Request::list(
                client,
                self.common.user.clone(),
                kind,
                "",
                ListOptions::default(),
            );
            self.common.stats.sending(cx, |cx| {
                cx.api.submit(now, request, cx.out);
            });
        }
    }

    fn client_population(&self) -> Option<&PopulationStats> {
        Some(&self.common.stats)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
