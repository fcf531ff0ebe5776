//! API Priority and Fairness: the filter that classifies a request, estimates its work, hands it
//! to its level's queues, and answers 429 with the level's Retry-After when it is dropped; and
//! the controller that moves seats between levels every 10 s (upstream `apf_filter.go`,
//! `apf_controller.go`, `filters/priority-and-fairness.go`).

use std::collections::BTreeSet;

use super::classify::{classify, distinguisher, flow_hash};
use super::concurrency::{
    BORROWING_PERIOD_SECS, BorrowInput, DemandIntegrator, LevelLimits, SeatDemand, adjust,
    level_limits,
};
use super::config::{CATCH_ALL, LevelShape, ResolvedSchema, resolve, with_bootstrap};
use super::metrics::LevelMetrics;
use super::queueset::{QueueSet, StartOutcome, Started};
use super::retry_after::DroppedRequests;
use super::tickets::Tickets;
use super::work_estimate::{WorkEstimatorConfig, estimate, level_max_seats};
use super::{
    Admission, FlowControlConfig, FlowControlError, FlowSchema, Outcome,
    PriorityLevelConfiguration, RejectReason, Rejection, RequestDigest, Ticket,
};
use crate::sim::{SimDuration, SimTime};

/// One priority level's state.
#[derive(Clone, Debug)]
struct Level {
    shape: LevelShape,
    limits: LevelLimits,
    max_seats: u64,
    queues: QueueSet,
    demand: DemandIntegrator,
    seat_demand: SeatDemand,
    dropped: DroppedRequests,
    current: u32,
}

impl Level {
    fn exempt(&self) -> bool {
        self.shape == LevelShape::Exempt
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// In a queue until `deadline`.
    Waiting { queue: u32, deadline: SimTime },
    /// Executing since `since`.
    Executing { started: Started, since: SimTime },
    /// Returned; its final seats are held until `until`.
    Holding { started: Started, until: SimTime },
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    level: usize,
    arrival: SimTime,
    state: State,
}

/// API Priority and Fairness.
#[derive(Clone, Debug)]
pub struct Apf {
    schemas: Vec<ResolvedSchema>,
    catch_all: usize,
    levels: Vec<Level>,
    metrics: Vec<LevelMetrics>,
    requests: Tickets<Entry>,
    /// Queue-wait deadlines and final-seat releases, by time then ticket.
    timers: BTreeSet<(SimTime, Ticket)>,
    next_adjustment: SimTime,
    estimator: WorkEstimatorConfig,
    wait_limit: SimDuration,
    fair_frac: f64,
    started: Vec<Started>,
}

impl Apf {
    /// APF over the scenario's objects plus the bootstrap ones, starting at `now`.
    pub fn new(
        config: &FlowControlConfig,
        levels: &[PriorityLevelConfiguration],
        schemas: &[FlowSchema],
        now: SimTime,
    ) -> Result<Apf, FlowControlError> {
        let (levels, schemas) = with_bootstrap(levels, schemas, config.suggested_configuration);
        let resolved = resolve(&levels, &schemas)?;
        let catch_all = resolved
            .schemas
            .iter()
            .position(|s| s.name == CATCH_ALL)
            .ok_or(FlowControlError::MissingMandatory("catch-all FlowSchema"))?;
        let limits = level_limits(&resolved.levels, config.server_concurrency_limit());
        let mut out_levels = Vec::with_capacity(limits.len());
        let mut metrics = Vec::with_capacity(limits.len());
        for (level, limits) in resolved.levels.iter().zip(limits) {
            let max_seats = match level.shape {
                LevelShape::Queue { hand_size, .. } => level_max_seats(limits.nominal, hand_size),
                _ => 0,
            };
            out_levels.push(Level {
                shape: level.shape,
                limits,
                max_seats,
                queues: QueueSet::new(level.shape, limits.initial, now),
                demand: DemandIntegrator::new(now),
                seat_demand: SeatDemand::default(),
                dropped: DroppedRequests::default(),
                current: limits.initial,
            });
            let mut m = LevelMetrics::named(&level.name);
            m.nominal_limit_seats = u64::from(limits.nominal);
            m.lower_limit_seats = u64::from(limits.min);
            m.upper_limit_seats = u64::from(limits.max);
            metrics.push(m);
        }
        let mut apf = Apf {
            schemas: resolved.schemas,
            catch_all,
            levels: out_levels,
            metrics,
            requests: Tickets::default(),
            timers: BTreeSet::new(),
            next_adjustment: now + SimDuration::from_secs(BORROWING_PERIOD_SECS),
            estimator: config.work_estimator,
            wait_limit: config.queue_wait_limit(),
            fair_frac: 0.0,
            started: Vec::new(),
        };
        // Upstream adjusts once as soon as it digests the configuration (over a period of no
        // length), so the starting limits are already an allocation.
        let mut ignored = Vec::new();
        apf.adjust_borrowing(now, &mut ignored);
        Ok(apf)
    }

    /// Per-level metrics, levels in name order.
    pub fn level_metrics(&self) -> &[LevelMetrics] {
        &self.metrics
    }

    /// The level index of `name`.
    pub fn level_index(&self, name: &str) -> Option<usize> {
        self.metrics.iter().position(|m| m.name == name)
    }

    /// `apiserver_flowcontrol_seat_fair_frac`: the last adjustment's fair proportion.
    pub fn seat_fair_frac(&self) -> f64 {
        self.fair_frac
    }

    /// The FlowSchema and priority level a request classifies into, by name.
    pub fn classify(&self, digest: &RequestDigest<'_>) -> (&str, &str) {
        let s = self.schema_of(digest);
        (&s.name, &self.metrics[s.level].name)
    }

    /// The FlowSchema a request matches. A request no schema matches (a user in neither
    /// system:authenticated nor system:unauthenticated) falls back to catch-all, as upstream
    /// does.
    fn schema_of(&self, digest: &RequestDigest<'_>) -> &ResolvedSchema {
        &self.schemas[classify(&self.schemas, digest).unwrap_or(self.catch_all)]
    }

    /// See [`super::FlowControl::admit`].
    pub fn admit(
        &mut self,
        digest: &RequestDigest<'_>,
        now: SimTime,
        out: &mut Vec<Outcome>,
    ) -> Admission {
        let schema = self.schema_of(digest);
        let li = schema.level;
        let level = &self.levels[li];
        let hash = match level.shape {
            LevelShape::Queue { queues, .. } if queues > 1 => {
                flow_hash(&schema.name, distinguisher(schema.distinguisher, digest))
            }
            _ => 0,
        };
        let work = estimate(&self.estimator, digest, level.max_seats);
        let ticket = self.requests.insert(Entry {
            level: li,
            arrival: now,
            state: State::Waiting {
                queue: 0,
                deadline: now,
            },
        });
        let mut started = std::mem::take(&mut self.started);
        started.clear();
        let outcome = self.levels[li]
            .queues
            .start(now, ticket, work, hash, &mut started);
        let admission = match outcome {
            StartOutcome::Rejected(reason) => {
                self.requests.remove(ticket);
                Admission::Reject(self.drop_request(li, reason, now))
            }
            StartOutcome::Started(s) => {
                self.begin(ticket, s, now);
                Admission::Dispatch {
                    ticket,
                    seats: work.initial_seats,
                }
            }
            StartOutcome::Queued { queue } => {
                let deadline = now + self.wait_limit;
                if let Some(e) = self.requests.get_mut(ticket) {
                    e.state = State::Waiting { queue, deadline };
                }
                self.timers.insert((deadline, ticket));
                Admission::Queued { ticket }
            }
        };
        // The new request may itself have started at once from its queue.
        let mut admission = admission;
        for s in started.drain(..) {
            if s.ticket == ticket {
                self.timers.remove(&(now + self.wait_limit, ticket));
                self.begin(ticket, s, now);
                admission = Admission::Dispatch {
                    ticket,
                    seats: work.initial_seats,
                };
            } else {
                self.start_waiting(s, now, out);
            }
        }
        self.started = started;
        self.refresh(li, now);
        admission
    }

    /// Marks `ticket` executing from `now` and counts its dispatch.
    fn begin(&mut self, ticket: Ticket, started: Started, now: SimTime) {
        let Some(e) = self.requests.get_mut(ticket) else {
            return;
        };
        e.state = State::Executing {
            started,
            since: now,
        };
        let waited = now.saturating_since(e.arrival);
        let li = e.level;
        let m = &mut self.metrics[li];
        m.dispatched_requests_total += 1;
        if !self.levels[li].exempt() {
            m.request_wait_duration_seconds.observe(waited);
        }
    }

    /// A queued request starts: drop its deadline, report it.
    fn start_waiting(&mut self, s: Started, now: SimTime, out: &mut Vec<Outcome>) {
        if let Some(Entry {
            state: State::Waiting { deadline, .. },
            ..
        }) = self.requests.get(s.ticket).copied()
        {
            self.timers.remove(&(deadline, s.ticket));
        }
        self.begin(s.ticket, s, now);
        out.push(Outcome::Started {
            ticket: s.ticket,
            seats: s.work.initial_seats,
            waited: now.saturating_since(s.arrival),
        });
    }

    /// Counts a dropped request at level `li` and builds its 429.
    fn drop_request(&mut self, li: usize, reason: RejectReason, now: SimTime) -> Rejection {
        let secs = self.levels[li].dropped.record(now);
        self.metrics[li].reject(reason, secs);
        Rejection {
            reason,
            retry_after: SimDuration::from_secs(secs),
            level: li,
        }
    }

    /// Brings level `li`'s gauges and demand integrator up to date.
    fn refresh(&mut self, li: usize, now: SimTime) {
        let level = &mut self.levels[li];
        level.demand.set(now, level.queues.seat_demand());
        let m = &mut self.metrics[li];
        m.current_inqueue_requests = u64::from(level.queues.waiting_requests());
        m.current_inqueue_seats = level.queues.waiting_seats();
        m.current_executing_requests = u64::from(level.queues.executing_requests());
        m.current_executing_seats = level.queues.seats_in_use();
        m.current_limit_seats = u64::from(level.current);
    }

    /// See [`super::FlowControl::finish`].
    pub fn finish(
        &mut self,
        ticket: Ticket,
        now: SimTime,
        out: &mut Vec<Outcome>,
    ) -> Result<(), FlowControlError> {
        let Some(Entry {
            level: li,
            state: State::Executing { started: s, since },
            ..
        }) = self.requests.get(ticket).copied()
        else {
            return Err(FlowControlError::UnknownTicket(ticket));
        };
        let mut started = std::mem::take(&mut self.started);
        started.clear();
        self.levels[li].queues.finish(now, &s, since, &mut started);
        if s.work.additional_latency.is_zero() {
            self.requests.remove(ticket);
        } else {
            let until = now + s.work.additional_latency;
            if let Some(e) = self.requests.get_mut(ticket) {
                e.state = State::Holding { started: s, until };
            }
            self.timers.insert((until, ticket));
        }
        for s in started.drain(..) {
            self.start_waiting(s, now, out);
        }
        self.started = started;
        self.refresh(li, now);
        Ok(())
    }

    /// See [`super::FlowControl::next_wakeup`]: the earliest timer, or the next adjustment.
    pub fn next_wakeup(&self) -> Option<SimTime> {
        let timer = self.timers.first().map(|&(t, _)| t);
        Some(timer.map_or(self.next_adjustment, |t| t.min(self.next_adjustment)))
    }

    /// See [`super::FlowControl::on_wakeup`].
    pub fn on_wakeup(&mut self, now: SimTime, out: &mut Vec<Outcome>) {
        while let Some(&(t, ticket)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            let Some(entry) = self.requests.get(ticket).copied() else {
                continue;
            };
            let li = entry.level;
            match entry.state {
                State::Waiting { queue, deadline } if deadline == t => {
                    self.levels[li].queues.remove_waiting(now, ticket, queue);
                    self.requests.remove(ticket);
                    self.metrics[li]
                        .request_wait_duration_seconds
                        .observe(now.saturating_since(entry.arrival));
                    let rejection = self.drop_request(li, RejectReason::TimeOut, now);
                    out.push(Outcome::Rejected { ticket, rejection });
                }
                State::Holding { started: s, until } if until == t => {
                    let mut started = std::mem::take(&mut self.started);
                    started.clear();
                    self.levels[li].queues.release(now, &s, &mut started);
                    self.requests.remove(ticket);
                    for s in started.drain(..) {
                        self.start_waiting(s, now, out);
                    }
                    self.started = started;
                }
                _ => {}
            }
            self.refresh(li, now);
        }
        while self.next_adjustment <= now {
            self.next_adjustment += SimDuration::from_secs(BORROWING_PERIOD_SECS);
            self.adjust_borrowing(now, out);
        }
    }

    /// The periodic borrowing adjustment at `now`: every level's seat demand over the period
    /// becomes new current limits, and each level starts what its new limit allows.
    fn adjust_borrowing(&mut self, now: SimTime, out: &mut Vec<Outcome>) {
        let inputs: Vec<BorrowInput> = self
            .levels
            .iter_mut()
            .map(|l| {
                let stats = l.demand.reset(now);
                l.seat_demand.update(stats);
                BorrowInput {
                    limits: l.limits,
                    exempt: l.exempt(),
                    demand: l.seat_demand,
                    current: l.current,
                }
            })
            .collect();
        let (limits, fair) = adjust(&inputs);
        self.fair_frac = fair;
        let mut started = std::mem::take(&mut self.started);
        for (li, cl) in limits.into_iter().enumerate() {
            let level = &mut self.levels[li];
            level.current = cl;
            started.clear();
            level.queues.set_limit(now, cl, &mut started);
            let demand = level.seat_demand;
            let min_current = if level.exempt() {
                u64::from(level.limits.min).max(demand.last.high_watermark)
            } else {
                u64::from(level.limits.min)
                    .max(u64::from(level.limits.nominal).min(demand.last.high_watermark))
            };
            let m = &mut self.metrics[li];
            m.demand_seats_high_watermark = demand.last.high_watermark;
            m.demand_seats_average = demand.last.average;
            m.demand_seats_stdev = demand.last.std_dev;
            m.demand_seats_smoothed = demand.smoothed;
            m.target_seats = (min_current as f64).max(demand.smoothed);
            for s in started.drain(..) {
                self.start_waiting(s, now, out);
            }
            self.refresh(li, now);
        }
        self.started = started;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::flowcontrol::{FlowControl, WorkInputs};
    use crate::apiserver::{UserInfo, Verb};

    fn get<'a>(user: &'a UserInfo, ns: &'a str) -> RequestDigest<'a> {
        RequestDigest {
            user,
            verb: Verb::Get,
            resource_request: true,
            api_group: "",
            resource: "pods",
            subresource: "",
            namespace: ns,
            name: "p",
            path: "",
            work: WorkInputs::default(),
        }
    }

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    fn apf(config: &FlowControlConfig) -> Apf {
        Apf::new(config, &[], &[], SimTime::ZERO).unwrap()
    }

    #[test]
    fn starting_limits_are_the_idle_allocation() {
        let a = apf(&FlowControlConfig::default());
        let by_name = |n: &str| a.level_metrics()[a.level_index(n).unwrap()].clone();
        // See concurrency.rs: idle levels share 602 seats in proportion to their lower limits.
        assert_eq!(by_name("catch-all").current_limit_seats, 30);
        assert_eq!(by_name("workload-low").current_limit_seats, 56);
        assert_eq!(by_name("node-high").nominal_limit_seats, 98);
        assert_eq!(by_name("system").lower_limit_seats, 50);
    }

    #[test]
    fn queue_full_and_queue_wait_timeouts() {
        // One level "tight" for alice: 1 queue, hand 1, queue length 2, no lending or
        // borrowing.
        let plc: PriorityLevelConfiguration = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "tight"},
            "spec": {"type": "Limited", "limited": {
                "nominalConcurrencyShares": 245, "lendablePercent": 0, "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Queue",
                    "queuing": {"queues": 1, "handSize": 1, "queueLengthLimit": 2}}}}
        }))
        .unwrap();
        let fs: FlowSchema = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "tight"},
            "spec": {"priorityLevelConfiguration": {"name": "tight"}, "matchingPrecedence": 500,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{"subjects": [{"kind": "User", "user": {"name": "alice"}}],
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                        "namespaces": ["*"], "clusterScope": true}]}]}
        }))
        .unwrap();
        // With the mandatory levels only, Σ shares = 245 + 5 = 250. A server of 1 + 1 = 2
        // seats gives tight ⌈2 × 245/250⌉ = 2 nominal seats (min = max = 2) and catch-all
        // ⌈2 × 5/250⌉ = 1; the nominal sum 3 equals the lower limits' sum, so each level's
        // current limit is its lower limit: tight 2.
        let config = FlowControlConfig {
            max_requests_inflight: 1,
            max_mutating_requests_inflight: 1,
            suggested_configuration: false,
            ..FlowControlConfig::default()
        };
        let mut fc = FlowControl::new(&config, &[plc], &[fs], SimTime::ZERO).unwrap();
        let alice = UserInfo::new("alice", &["system:authenticated"]);
        let mut out = Vec::new();
        let d = get(&alice, "x");
        let a = fc.admit(&d, secs(0), &mut out);
        let b = fc.admit(&d, secs(0), &mut out);
        assert!(matches!(a, Admission::Dispatch { seats: 1, .. }));
        assert!(matches!(b, Admission::Dispatch { .. }));
        // Two seats busy: the next two queue, the fifth finds the queue full.
        let c = fc.admit(&d, secs(0), &mut out);
        let e = fc.admit(&d, secs(1), &mut out);
        assert!(matches!(c, Admission::Queued { .. }));
        assert!(matches!(e, Admission::Queued { .. }));
        let Admission::Reject(r) = fc.admit(&d, secs(1), &mut out) else {
            panic!("expected a 429");
        };
        assert_eq!(r.reason, RejectReason::QueueFull);
        assert_eq!(r.retry_after, SimDuration::from_secs(1));
        // The queue wait is 60 s / 4 = 15 s: c times out at 15 s, e at 16 s. The borrowing
        // adjustment at 10 s comes first and changes nothing (tight's demand peaked at 4, but
        // the lower limits still take the whole nominal sum).
        assert_eq!(fc.next_wakeup(), Some(secs(10)));
        fc.on_wakeup(secs(10), &mut out);
        assert!(out.is_empty());
        assert_eq!(fc.next_wakeup(), Some(secs(15)));
        fc.on_wakeup(secs(15), &mut out);
        let Admission::Queued { ticket: tc } = c else {
            unreachable!()
        };
        assert!(matches!(
            out[0],
            Outcome::Rejected { ticket, rejection }
                if ticket == tc && rejection.reason == RejectReason::TimeOut
        ));
        // When a finishes at 15.5 s, e (still queued) starts, having waited 14.5 s.
        out.clear();
        let Admission::Dispatch { ticket: ta, .. } = a else {
            unreachable!()
        };
        let t = secs(15) + SimDuration::from_millis(500);
        fc.finish(ta, t, &mut out).unwrap();
        assert!(matches!(
            out[0],
            Outcome::Started { waited, .. } if waited == SimDuration::from_millis(14_500)
        ));
        let tight = fc
            .level_metrics()
            .iter()
            .find(|m| m.name == "tight")
            .unwrap();
        assert_eq!(tight.rejected_requests_total.queue_full, 1);
        assert_eq!(tight.rejected_requests_total.time_out, 1);
        assert_eq!(tight.dispatched_requests_total, 3);
        assert_eq!(tight.current_executing_requests, 2);
        // A finished ticket cannot finish twice.
        assert!(fc.finish(ta, t, &mut out).is_err());
    }

    #[test]
    fn exempt_requests_always_start() {
        let mut a = apf(&FlowControlConfig::default());
        let admin = UserInfo::new("admin", &["system:masters"]);
        let mut out = Vec::new();
        for _ in 0..1000 {
            assert!(matches!(
                a.admit(&get(&admin, "x"), SimTime::ZERO, &mut out),
                Admission::Dispatch { .. }
            ));
        }
        let exempt = &a.level_metrics()[a.level_index("exempt").unwrap()];
        assert_eq!(exempt.current_executing_seats, 1000);
        // Their demand counts at the next adjustment: exempt's peak 1000 > 602, so every
        // limited level falls to its lower limit (catch-all 13).
        a.on_wakeup(secs(10), &mut out);
        let catch_all = &a.level_metrics()[a.level_index("catch-all").unwrap()];
        assert_eq!(catch_all.current_limit_seats, 13);
    }

    #[test]
    fn a_busy_level_borrows_at_the_next_adjustment() {
        // 100 GETs from one service account (service-accounts → workload-low) at t = 0.
        // workload-low starts at 56 seats (the idle allocation): 56 start, 44 queue.
        let mut a = apf(&FlowControlConfig::default());
        let app = UserInfo::new(
            "system:serviceaccount:default:app",
            &["system:serviceaccounts", "system:authenticated"],
        );
        let mut out = Vec::new();
        let mut queued = 0;
        for _ in 0..100 {
            if let Admission::Queued { .. } =
                a.admit(&get(&app, "default"), SimTime::ZERO, &mut out)
            {
                queued += 1;
            }
        }
        assert_eq!(queued, 44);
        let wl = a.level_index("workload-low").unwrap();
        assert_eq!(a.level_metrics()[wl].current_inqueue_requests, 44);
        // At 10 s its demand was a steady 100 seats (56 executing + 44 waiting): the
        // allocation of concurrency.rs's busy case gives it 180 seats, and the 44 start,
        // each having waited 10 s.
        a.on_wakeup(secs(10), &mut out);
        assert_eq!(a.level_metrics()[wl].current_limit_seats, 180);
        assert_eq!(a.level_metrics()[wl].demand_seats_high_watermark, 100);
        assert_eq!(out.len(), 44);
        assert!(out.iter().all(|o| matches!(
            o,
            Outcome::Started { waited, .. } if *waited == SimDuration::from_secs(10)
        )));
    }

    #[test]
    fn catch_all_rejects_when_full() {
        // A user in no group matches no schema and falls back to catch-all, a Reject level
        // whose idle allocation is 30 seats: the 31st concurrent GET is refused at once.
        let mut a = apf(&FlowControlConfig::default());
        let stranger = UserInfo::new("stranger", &[]);
        let mut out = Vec::new();
        assert_eq!(a.classify(&get(&stranger, "x")), ("catch-all", "catch-all"));
        for _ in 0..30 {
            assert!(matches!(
                a.admit(&get(&stranger, "x"), SimTime::ZERO, &mut out),
                Admission::Dispatch { .. }
            ));
        }
        let Admission::Reject(r) = a.admit(&get(&stranger, "x"), SimTime::ZERO, &mut out) else {
            panic!("expected a 429");
        };
        assert_eq!(r.reason, RejectReason::ConcurrencyLimit);
        assert_eq!(a.level_metrics()[r.level].name, "catch-all");
    }

    #[test]
    fn every_request_ends_once_and_the_levels_drain() {
        use crate::apiserver::flowcontrol::ListSource;
        use crate::sim::rng::stream;
        use rand::RngExt;
        use std::collections::BTreeMap;
        // A small server (20 + 10 seats) under a burst of mixed clients: every admitted
        // request must end exactly once (started then finished, or rejected), and once the
        // load stops everything drains.
        let config = FlowControlConfig {
            max_requests_inflight: 20,
            max_mutating_requests_inflight: 10,
            ..FlowControlConfig::default()
        };
        let mut fc = FlowControl::new(&config, &[], &[], SimTime::ZERO).unwrap();
        let users = [
            UserInfo::new("system:node:n1", &["system:nodes", "system:authenticated"]),
            UserInfo::new("system:node:n2", &["system:nodes", "system:authenticated"]),
            UserInfo::kube_system_service_account("replicaset-controller"),
            UserInfo::new(
                "system:serviceaccount:default:app",
                &["system:serviceaccounts", "system:authenticated"],
            ),
            UserInfo::new("alice", &["system:authenticated"]),
            UserInfo::new("stranger", &[]),
        ];
        /// The clients' side of the stress test: what runs (by end time), what waits, and
        /// how many requests have ended.
        struct Driver {
            rng: crate::sim::SimRng,
            running: BTreeMap<(SimTime, u64), Ticket>,
            waiting: BTreeSet<Ticket>,
            seq: u64,
            ended: u64,
            out: Vec<Outcome>,
        }
        impl Driver {
            /// A request starts at `now` and runs 1 to 399 ms.
            fn start(&mut self, ticket: Ticket, now: SimTime) {
                self.seq += 1;
                let d = SimDuration::from_millis(self.rng.random_range(1..400));
                self.running.insert((now + d, self.seq), ticket);
            }
            /// Takes what flow control reported at `now`.
            fn settle(&mut self, now: SimTime) {
                for o in std::mem::take(&mut self.out) {
                    match o {
                        Outcome::Started { ticket, .. } => {
                            assert!(self.waiting.remove(&ticket));
                            self.start(ticket, now);
                        }
                        Outcome::Rejected { ticket, .. } => {
                            assert!(self.waiting.remove(&ticket));
                            self.ended += 1;
                        }
                    }
                }
            }
            /// Finishes requests and fires flow control's wake-ups, in time order, up to
            /// `limit`.
            fn run_until(&mut self, fc: &mut FlowControl, limit: SimTime) {
                loop {
                    let next_finish = self.running.keys().next().map(|k| k.0);
                    let wake = fc.next_wakeup().unwrap();
                    let t = next_finish.map_or(wake, |f| f.min(wake));
                    if t > limit {
                        return;
                    }
                    if next_finish == Some(t) {
                        let (_, ticket) = self.running.pop_first().unwrap();
                        fc.finish(ticket, t, &mut self.out).unwrap();
                        self.ended += 1;
                    } else {
                        fc.on_wakeup(t, &mut self.out);
                    }
                    self.settle(t);
                }
            }
        }
        let mut driver = Driver {
            rng: stream(7, "test/apf-stress"),
            running: BTreeMap::new(),
            waiting: BTreeSet::new(),
            seq: 0,
            ended: 0,
            out: Vec::new(),
        };
        let mut admitted = 0u64;
        let mut now = SimTime::ZERO;
        for i in 0..4000u64 {
            // Arrivals every 0.5 ms for 2 s.
            now = SimTime::ZERO + SimDuration::from_micros(500 * i);
            driver.run_until(&mut fc, now);
            let rng = &mut driver.rng;
            let user = &users[rng.random_range(0..users.len())];
            let verb = [Verb::Get, Verb::List, Verb::Update][rng.random_range(0..3)];
            let mut d = get(user, "default");
            d.verb = verb;
            d.work.object_count = Some(rng.random_range(0..3000));
            d.work.list_source = ListSource::WatchCache;
            d.work.watchers = rng.random_range(0..200);
            if verb == Verb::List {
                d.name = "";
            }
            admitted += 1;
            match fc.admit(&d, now, &mut driver.out) {
                Admission::Dispatch { ticket, .. } => driver.start(ticket, now),
                Admission::Queued { ticket } => {
                    driver.waiting.insert(ticket);
                }
                Admission::Reject(_) => driver.ended += 1,
            }
            assert!(
                driver
                    .out
                    .iter()
                    .all(|o| matches!(o, Outcome::Started { .. }))
            );
            driver.settle(now);
        }
        // Drain: finish what runs, let timers fire, for a minute of virtual time.
        driver.run_until(&mut fc, now + SimDuration::from_secs(60));
        let (ended, waiting, running) = (driver.ended, driver.waiting, driver.running);
        assert_eq!(ended, admitted);
        assert!(waiting.is_empty() && running.is_empty());
        let mut rejected = 0;
        for m in fc.level_metrics() {
            assert_eq!(m.current_inqueue_requests, 0, "{}", m.name);
            assert_eq!(m.current_executing_seats, 0, "{}", m.name);
            rejected += m.rejected_requests_total.total();
        }
        // The burst overloads the small server: some requests are refused.
        assert!(rejected > 0);
    }
}
