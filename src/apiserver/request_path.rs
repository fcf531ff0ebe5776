//! The modelled request path: what happens to a request between its arrival at the apiserver
//! and its answer when the scenario turns flow control on (`spec.apiserver.flowControl`).
//!
//! The hub's ideal path executes a request the moment it arrives (a fixed `admissionLatency`
//! after it was sent) and answers at once. The modelled path puts flow control and a service
//! time at that point:
//!
//! 1. **Classify.** The request becomes a [`RequestDigest`]: its user and groups, verb, resource
//!    and API group (from its kind), subresource, namespace and name, and the inputs of the work
//!    estimate — how many objects of the resource are stored (a LIST's cost) and how many
//!    watches may receive a write's event.
//! 2. **Admit.** [`FlowControl::admit`] starts it, queues it, or refuses it. A refusal is
//!    answered 429 `TooManyRequests` with the mode's `Retry-After`; a queued request starts
//!    when seats free up (an [`Outcome::Started`] of a later call) or is refused when its wait
//!    runs out (an [`Outcome::Rejected`] of a wakeup).
//! 3. **Serve.** A started request *holds its seats for its service time* and completes in a
//!    later event ([`ApiEvent::Complete`]): then it is answered and flow control is told
//!    ([`FlowControl::finish`]), which may start queued requests in its place. Reads (get,
//!    list) run against the store when they start — the snapshot they return is the one they
//!    were served from — and their answer waits for the service time; writes and watches run
//!    when they complete, as a write commits when etcd acknowledges it and a watch is
//!    registered once it is initialized. A watch is finished as soon as it is initialized
//!    (upstream's initialization signal), so it holds no seats afterwards.
//! 4. **Wake up.** Flow control's own deadlines (queue-wait timeouts, final seats' release,
//!    APF's 10 s borrowing adjustment) come back as a background [`ApiEvent::FlowControlWakeup`].
//!
//! Service times are a simple, documented cost model ([`ServiceCosts`]): a GET is a
//! linearizable etcd range of one object and a write an etcd commit, both from the etcd model
//! (`etcd.rs`, whose backend quota this path does not enforce yet); a LIST is served from the
//! watch cache at a base cost plus a cost per object returned; a watch's initialization a
//! fixed cost (a watch that resumes from a list's version sends no initial objects), except a
//! streaming list's (`watch_list.rs`), which costs what a LIST of the objects it sends does.
//! The memory estimate counts what LIST answers hold while they are built and sent
//! ([`LIST_MEMORY_FACTOR`] × the answer) and a streaming list's one object in flight.
//!
//! A refused request stays with the hub, so the client's transport can send the very same
//! request again under the same id ([`ApiServer::resend`]) or give it up
//! ([`ApiServer::abandon`]); an eviction that a budget not yet observed refuses with its
//! `Retry-After: 10` is kept the same way.

use std::collections::BTreeMap;

use super::etcd::{Consistency, Etcd, EtcdConfig};
use super::flowcontrol::{
    Admission, DynamicConfig, FlowControl, FlowControlConfig, FlowControlError, FlowSchema,
    Outcome, PriorityLevelConfiguration, RejectReason, Rejection, RequestDigest, Ticket,
    WorkInputs,
};
use super::hub::{ApiEvent, ApiOutput, ApiServer};
use super::latency::{LatencyHistogram, SloScope};
use super::request::{
    ApiError, ClientId, ConnectionFailure, Request, RequestId, Response, Subresource, Verb, WatchId,
};
use super::restart::CacheRefusal;
use super::watch_list::{serves_streaming_list, streaming_list_memory};
use crate::sim::{SimDuration, SimTime};

/// Which request path the apiserver runs (`spec.apiserver.flowControl`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowControlMode {
    /// No limits, no service time: every request runs a fixed latency after it is sent.
    #[default]
    Ideal,
    /// `--enable-priority-and-fairness=false`: the max-in-flight limits.
    MaxInflight,
    /// API Priority and Fairness.
    Apf,
    /// kubesim's token-bucket Retry-After with client levels.
    Dynamic,
}

impl FlowControlMode {
    /// The mode as the scenario spells it.
    pub const fn name(self) -> &'static str {
        match self {
            FlowControlMode::Ideal => "ideal",
            FlowControlMode::MaxInflight => "maxInflight",
            FlowControlMode::Apf => "apf",
            FlowControlMode::Dynamic => "dynamic",
        }
    }

    /// The mode named `name`, as the scenario spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            FlowControlMode::Ideal,
            FlowControlMode::MaxInflight,
            FlowControlMode::Apf,
            FlowControlMode::Dynamic,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

/// The cost model of the modelled path: how long a started request holds its seats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceCosts {
    /// A LIST's fixed cost (handler chain, a watch-cache snapshot).
    pub list_base: SimDuration,
    /// A LIST's cost per object returned (copying and serializing it).
    pub list_per_object: SimDuration,
    /// A watch's initialization (registration with the watch cache).
    pub watch_init: SimDuration,
    /// The size kubesim assumes for every object written or read from etcd.
    pub object_bytes: u64,
}

/// A LIST's fixed cost: 500 µs (unverified: tune).
pub const LIST_BASE_COST: SimDuration = SimDuration::from_micros(500);
/// A LIST's cost per object returned: 10 µs (unverified: tune; KEP-2340 reports LISTs of
/// thousands of objects served from the cache in tens of milliseconds).
pub const LIST_COST_PER_OBJECT: SimDuration = SimDuration::from_micros(10);
/// A watch's initialization: 1 ms (unverified: tune).
pub const WATCH_INIT_COST: SimDuration = SimDuration::from_millis(1);
/// The size of an object in etcd: 2 KiB (a small pod's protobuf is 1–4 KiB).
pub const OBJECT_BYTES: u64 = 2048;

impl Default for ServiceCosts {
    fn default() -> Self {
        ServiceCosts {
            list_base: LIST_BASE_COST,
            list_per_object: LIST_COST_PER_OBJECT,
            watch_init: WATCH_INIT_COST,
            object_bytes: OBJECT_BYTES,
        }
    }
}

/// The request path's settings (part of [`super::ApiServerConfig`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestPathConfig {
    /// Which path.
    pub mode: FlowControlMode,
    /// Flow control's flags (`--max-requests-inflight`, …); the mode decides
    /// `enable_priority_and_fairness` and `dynamic`.
    pub flow_control: FlowControlConfig,
    /// The dynamic mode's settings (its defaults when absent).
    pub dynamic: Option<DynamicConfig>,
    /// The scenario's FlowSchemas (the bootstrap ones fill in the rest).
    pub flow_schemas: Vec<FlowSchema>,
    /// The scenario's PriorityLevelConfigurations.
    pub priority_levels: Vec<PriorityLevelConfiguration>,
    /// Service times.
    pub costs: ServiceCosts,
}

impl RequestPathConfig {
    /// Flow control's settings for the mode: APF on only in `apf`, the dynamic settings only
    /// in `dynamic`.
    pub fn flow_control_config(&self) -> FlowControlConfig {
        let mut config = self.flow_control.clone();
        config.enable_priority_and_fairness = self.mode == FlowControlMode::Apf;
        config.dynamic = match self.mode {
            FlowControlMode::Dynamic => Some(self.dynamic.clone().unwrap_or_default()),
            _ => None,
        };
        config
    }

    /// Flow control as this configuration makes it at `now`; `None` on the ideal path.
    pub fn build(&self, now: SimTime) -> Result<Option<FlowControl>, FlowControlError> {
        if self.mode == FlowControlMode::Ideal {
            return Ok(None);
        }
        FlowControl::new(
            &self.flow_control_config(),
            &self.priority_levels,
            &self.flow_schemas,
            now,
        )
        .map(Some)
    }

    /// Flow control as [`RequestPathConfig::build`] makes it; `None` on the ideal path. A
    /// configuration the loader has checked always builds; one that does not falls back to the
    /// bootstrap FlowSchemas and levels, so a run never dies of it.
    pub fn build_or_bootstrap(&self, now: SimTime) -> Option<FlowControl> {
        match self.build(now) {
            Ok(fc) => fc,
            Err(_) => {
                let bare = RequestPathConfig {
                    flow_schemas: Vec::new(),
                    priority_levels: Vec::new(),
                    ..self.clone()
                };
                bare.build(now).ok()?
            }
        }
    }
}

/// A started request until it completes.
#[derive(Debug)]
pub(super) struct InService {
    ticket: Ticket,
    /// Who sent it.
    client: ClientId,
    /// A read's answer, computed when it started (or a watch cache's refusal); `None` for a
    /// write or watch, which runs when it completes.
    answer: Option<Response>,
    /// The request, when it has already been answered (a read, a refusal): kept so the client
    /// can send it again if the answer is a Retry-After or the connection is reset.
    request: Option<Request>,
    /// The memory a LIST's answer holds while it is built and sent.
    memory: u64,
}

/// How much memory the apiserver spends on a LIST's answer, as a multiple of its size: KEP-3157
/// measured about 5 × the response for a LIST served from the watch cache.
pub const LIST_MEMORY_FACTOR: u64 = 5;

/// The modelled path's shared state, held by the hub: etcd and what is counted over every
/// replica. Each replica's flow control and the requests it holds are its own
/// (`replica.rs`).
#[derive(Debug)]
pub struct RequestPath {
    etcd: Etcd,
    costs: ServiceCosts,
    /// Refused requests the client may send again.
    refused: BTreeMap<RequestId, Request>,
    /// Retry-After values sent with flow control's 429s: seconds → count.
    retry_after_seconds: BTreeMap<u64, u64>,
    /// Requests arrived and not answered yet: when, and what the latency SLOs count them as
    /// (watches are not counted).
    arrivals: BTreeMap<RequestId, (SimTime, SloScope)>,
    /// `apiserver_request_duration_seconds` by SLO scope.
    latency: [LatencyHistogram; 3],
    /// Memory held by LIST answers being served now, and the most it held.
    list_memory: (u64, u64),
    /// Outcomes of the call being handled (kept to reuse the allocation).
    outcomes: Vec<Outcome>,
}

impl RequestPath {
    /// The path of `config` at `now`; `None` on the ideal path.
    pub fn new(config: &RequestPathConfig, now: SimTime) -> Option<Self> {
        config.build_or_bootstrap(now)?;
        // The backend quota is not this path's concern yet: an unbounded one never refuses.
        let etcd = Etcd::new(EtcdConfig {
            quota_backend_bytes: u64::MAX,
            ..EtcdConfig::default()
        })
        .ok()?;
        Some(RequestPath {
            etcd,
            costs: config.costs,
            refused: BTreeMap::new(),
            arrivals: BTreeMap::new(),
            latency: Default::default(),
            list_memory: (0, 0),
            retry_after_seconds: BTreeMap::new(),
            outcomes: Vec::new(),
        })
    }

    /// Retry-After values sent with 429s, seconds → count.
    pub fn retry_after_seconds(&self) -> &BTreeMap<u64, u64> {
        &self.retry_after_seconds
    }

    /// `apiserver_request_duration_seconds` of the requests of `scope` answered so far.
    pub fn latency(&self, scope: SloScope) -> &LatencyHistogram {
        &self.latency[scope as usize]
    }

    /// The apiserver memory estimate: what the LIST answers being served hold now
    /// ([`LIST_MEMORY_FACTOR`] × objects × their size), and the most they held at once.
    pub fn list_memory_bytes(&self) -> (u64, u64) {
        self.list_memory
    }

    /// Request `id` is answered at `now`: its latency is recorded.
    fn answered(&mut self, id: RequestId, now: SimTime) {
        if let Some((arrived, scope)) = self.arrivals.remove(&id) {
            self.latency[scope as usize].observe(now.saturating_since(arrived));
        }
    }

    /// How long a request holds its seats. `returned` is the number of objects a LIST
    /// returns.
    fn service_time(&mut self, now: SimTime, verb: Verb, returned: u64) -> SimDuration {
        let costs = self.costs;
        let done = match verb {
            Verb::Get => self
                .etcd
                .range(now, 1, costs.object_bytes, Consistency::Linearizable),
            Verb::List => {
                return costs.list_base + costs.list_per_object.saturating_mul(returned);
            }
            Verb::Watch => return costs.watch_init,
            Verb::Delete => self.etcd.submit_delete(now),
            Verb::Create | Verb::Update | Verb::Patch => self
                .etcd
                .submit_write(now, costs.object_bytes)
                .unwrap_or_else(|refused| refused.at),
        };
        done.saturating_since(now)
    }
}

/// The 429 of a flow-control refusal, as the apiserver words it.
fn too_many_requests(rejection: &Rejection) -> ApiError {
    let reason = match rejection.reason {
        RejectReason::TimeOut => "the request waited too long in its queue",
        RejectReason::QueueFull => "the priority level's queue is full",
        RejectReason::ConcurrencyLimit | RejectReason::Throttled => "the server is busy",
    };
    ApiError::TooManyRequests {
        message: "Too many requests, please try again later.".into(),
        cause: reason.into(),
        retry_after_seconds: u32::try_from(rejection.retry_after.as_nanos() / 1_000_000_000)
            .unwrap_or(u32::MAX),
    }
}

/// The 429 of a watch cache that is not ready, as upstream words it.
fn cache_not_ready(retry_after_seconds: u32) -> ApiError {
    ApiError::TooManyRequests {
        message: "Too many requests, please try again later.".into(),
        cause: "storage is (re)initializing".into(),
        retry_after_seconds,
    }
}

/// Whether an answer carries a `Retry-After` a client would retry on.
fn retryable(response: &Response) -> bool {
    matches!(
        response,
        Err(ApiError::TooManyRequests {
            retry_after_seconds, ..
        }) if *retry_after_seconds > 0
    )
}

impl ApiServer {
    /// The modelled path, if the scenario turned it on.
    pub fn request_path(&self) -> Option<&RequestPath> {
        self.path.as_deref()
    }

    /// Request `id` arrived at replica `replica`: classify it and ask the replica's flow
    /// control.
    pub(super) fn arrive(
        &mut self,
        now: SimTime,
        id: RequestId,
        replica: usize,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(path) = self.path.as_deref_mut() else {
            return;
        };
        let Some(flow) = self.replicas.get_mut(replica).and_then(|r| r.flow.as_mut()) else {
            return;
        };
        let Some(request) = self.in_flight.get(&id) else {
            return;
        };
        let kind = request.kind;
        let verb = request.verb;
        let scope = match verb {
            Verb::Watch => None,
            Verb::List if request.namespace.is_empty() => Some(SloScope::Cluster),
            Verb::List => Some(SloScope::Namespace),
            _ => Some(SloScope::Resource),
        };
        if let Some(scope) = scope {
            path.arrivals.insert(id, (now, scope));
        }
        let object_count =
            matches!(verb, Verb::List | Verb::Watch).then(|| self.store.count(kind) as u64);
        let watchers = if verb.is_mutating() {
            self.watches
                .interested_count(kind, &request.namespace, &request.name)
        } else {
            0
        };
        // With the `WatchList` gate off upstream estimates every WATCH at the minimum.
        let sends_initial_events =
            serves_streaming_list(request, self.config.feature_gates.watch_list);
        let digest = RequestDigest {
            user: &request.user,
            verb,
            resource_request: true,
            api_group: kind.group(),
            resource: kind.resource(),
            subresource: request.subresource.map_or("", Subresource::name),
            namespace: &request.namespace,
            name: &request.name,
            path: "",
            work: WorkInputs {
                object_count,
                watchers: u32::try_from(watchers).unwrap_or(u32::MAX),
                sends_initial_events,
                ..WorkInputs::default()
            },
        };
        let mut outcomes = std::mem::take(&mut path.outcomes);
        let admission = flow.flow_control.admit(&digest, now, &mut outcomes);
        match admission {
            Admission::Dispatch { ticket, .. } => self.start(now, id, replica, ticket, out),
            Admission::Queued { ticket } => {
                flow.queued.insert(ticket, id);
            }
            Admission::Reject(rejection) => self.refuse(now, id, &rejection, out),
        }
        self.settle(now, replica, outcomes, out);
    }

    /// Request `id` starts holding its seats of replica `replica` under `ticket`.
    fn start(
        &mut self,
        now: SimTime,
        id: RequestId,
        replica: usize,
        ticket: Ticket,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(request) = self.in_flight.get(&id) else {
            return;
        };
        let verb = request.verb;
        let client = request.client;
        // A streaming list is served like a LIST from the cache: its objects are counted now,
        // and sent when it completes and its watch opens.
        let streamed = self
            .serves_streaming_list(request)
            .then(|| self.initial_event_count(request));
        let unready = match (verb, self.replicas.get(replica)) {
            (Verb::List | Verb::Watch, Some(r)) => r.process.refuses_list(request.kind, now),
            _ => None,
        };
        let (answer, request, returned) = match unready {
            Some(CacheRefusal::NotReady {
                retry_after_seconds,
            }) => {
                let Some(request) = self.in_flight.remove(&id) else {
                    return;
                };
                let answer = Err(cache_not_ready(retry_after_seconds));
                self.count_request(verb, request.kind, &answer);
                if let Some(path) = self.path.as_deref_mut() {
                    *path
                        .retry_after_seconds
                        .entry(u64::from(retry_after_seconds))
                        .or_insert(0) += 1;
                }
                (Some(answer), Some(request), 0)
            }
            _ if matches!(verb, Verb::Get | Verb::List) => {
                let Some(request) = self.in_flight.remove(&id) else {
                    return;
                };
                let answer = self.serve_read(&request);
                let returned = match &answer {
                    Ok(super::request::ResponseBody::List { items, .. }) => items.len() as u64,
                    _ => 1,
                };
                (Some(answer), Some(request), returned)
            }
            _ => (None, None, 0),
        };
        let Some(path) = self.path.as_deref_mut() else {
            return;
        };
        let Some(flow) = self.replicas.get_mut(replica).and_then(|r| r.flow.as_mut()) else {
            return;
        };
        // A cache's refusal costs what an empty LIST does.
        let service = match (unready, streamed) {
            (Some(_), _) => path.costs.list_base,
            (None, Some(objects)) => path.service_time(now, Verb::List, objects),
            (None, None) => path.service_time(now, verb, returned),
        };
        let memory = match (verb, unready, streamed) {
            (Verb::List, _, _) => LIST_MEMORY_FACTOR * returned * path.costs.object_bytes,
            (Verb::Watch, None, Some(_)) => streaming_list_memory(path.costs.object_bytes),
            _ => 0,
        };
        path.list_memory.0 += memory;
        path.list_memory.1 = path.list_memory.1.max(path.list_memory.0);
        flow.in_service.insert(
            id,
            InService {
                ticket,
                client,
                answer,
                request,
                memory,
            },
        );
        out.push(ApiOutput::Schedule(now + service, ApiEvent::Complete(id)));
    }

    /// Request `id` is refused with a 429.
    fn refuse(
        &mut self,
        now: SimTime,
        id: RequestId,
        rejection: &Rejection,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(request) = self.in_flight.remove(&id) else {
            return;
        };
        let error = too_many_requests(rejection);
        *self
            .counters
            .requests
            .entry((request.verb, request.kind, error.code()))
            .or_insert(0) += 1;
        let client = request.client;
        if let Some(path) = self.path.as_deref_mut() {
            let seconds = rejection.retry_after.as_nanos() / 1_000_000_000;
            *path.retry_after_seconds.entry(seconds).or_insert(0) += 1;
            path.refused.insert(id, request);
            path.answered(id, now);
        }
        out.push(ApiOutput::Respond {
            client,
            request: id,
            response: Err(error),
        });
    }

    /// Request `id`'s service time is over: answer it and free its seats of the replica that
    /// serves it.
    pub(super) fn complete(&mut self, now: SimTime, id: RequestId, out: &mut Vec<ApiOutput>) {
        // A handful of replicas at most: finding the one that holds the request is cheap.
        let Some(replica) = self.replicas.iter().position(|r| r.serves(id)) else {
            return;
        };
        let Some(service) = self.replicas[replica]
            .flow
            .as_mut()
            .and_then(|f| f.in_service.remove(&id))
        else {
            return;
        };
        let answer = match service.answer {
            // A read ran when it started; a refusal was decided then.
            Some(answer) => {
                if let (Some(request), true) = (service.request, retryable(&answer))
                    && let Some(path) = self.path.as_deref_mut()
                {
                    path.refused.insert(id, request);
                }
                Some(answer)
            }
            None => self.in_flight.remove(&id).map(|request| {
                // An eviction refused with a Retry-After may be sent again as it was.
                let keep =
                    (request.subresource == Some(Subresource::Eviction)).then(|| request.clone());
                let answer = self.execute(now, request, replica, out);
                if let (Some(kept), true) = (keep, retryable(&answer))
                    && let Some(path) = self.path.as_deref_mut()
                {
                    path.refused.insert(id, kept);
                }
                answer
            }),
        };
        if let Some(answer) = answer {
            out.push(ApiOutput::Respond {
                client: service.client,
                request: id,
                response: answer,
            });
        }
        let Some(path) = self.path.as_deref_mut() else {
            return;
        };
        path.answered(id, now);
        path.list_memory.0 -= service.memory;
        let mut outcomes = std::mem::take(&mut path.outcomes);
        if let Some(flow) = self.replicas[replica].flow.as_mut() {
            // Only a ticket flow control did not issue fails here; nothing is held for it.
            let _ = flow.flow_control.finish(service.ticket, now, &mut outcomes);
        }
        self.settle(now, replica, outcomes, out);
    }

    /// Replica `replica`'s flow control's wakeup at `now`.
    pub(super) fn flow_control_wakeup(
        &mut self,
        now: SimTime,
        replica: usize,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(path) = self.path.as_deref_mut() else {
            return;
        };
        let Some(flow) = self.replicas.get_mut(replica).and_then(|r| r.flow.as_mut()) else {
            return;
        };
        flow.wakeups.remove(&now);
        let mut outcomes = std::mem::take(&mut path.outcomes);
        flow.flow_control.on_wakeup(now, &mut outcomes);
        self.settle(now, replica, outcomes, out);
    }

    /// Carries out what replica `replica`'s flow control decided for held requests, then
    /// schedules its next wakeup.
    fn settle(
        &mut self,
        now: SimTime,
        replica: usize,
        mut outcomes: Vec<Outcome>,
        out: &mut Vec<ApiOutput>,
    ) {
        // Starting a request never calls flow control; finishing an abandoned one does, and
        // its outcomes join the list.
        let mut next = 0;
        while next < outcomes.len() {
            let outcome = outcomes[next];
            next += 1;
            let Some(flow) = self.replicas.get_mut(replica).and_then(|r| r.flow.as_mut()) else {
                return;
            };
            match outcome {
                Outcome::Started { ticket, .. } if flow.abandoned.remove(&ticket) => {
                    let mut more = Vec::new();
                    let _ = flow.flow_control.finish(ticket, now, &mut more);
                    outcomes.extend(more);
                }
                Outcome::Started { ticket, .. } => {
                    if let Some(id) = flow.queued.remove(&ticket) {
                        self.start(now, id, replica, ticket, out);
                    }
                }
                Outcome::Rejected { ticket, rejection } => {
                    flow.abandoned.remove(&ticket);
                    if let Some(id) = flow.queued.remove(&ticket) {
                        self.refuse(now, id, &rejection, out);
                    }
                }
            }
        }
        outcomes.clear();
        let Some(path) = self.path.as_deref_mut() else {
            return;
        };
        path.outcomes = outcomes;
        let Some(flow) = self.replicas.get_mut(replica).and_then(|r| r.flow.as_mut()) else {
            return;
        };
        if let Some(at) = flow.flow_control.next_wakeup() {
            let at = at.max(now);
            if flow.wakeups.insert(at) {
                out.push(ApiOutput::Schedule(
                    at,
                    ApiEvent::FlowControlWakeup(replica as u32),
                ));
            }
        }
    }

    /// Replica `replica`'s process goes away at `now` (see `restart.rs`): every watch it
    /// serves ends as a closed stream, every connection to it breaks (its clients connect to
    /// another replica with their next request), every request it is serving or has queued
    /// loses its connection (a read or watch is kept so its client can send it again, a write
    /// is gone), and its flow control lets go of their seats.
    pub fn shut_down(&mut self, now: SimTime, replica: usize, out: &mut Vec<ApiOutput>) {
        let Some(r) = self.replicas.get_mut(replica) else {
            return;
        };
        if r.process.is_down() {
            return;
        }
        r.process.go_down(now);
        self.balancer.drop_replica(replica as u32);
        self.break_watches_of(Some(replica as u32), out);
        let Some(path) = self.path.as_deref_mut() else {
            return;
        };
        let Some(flow) = self.replicas[replica].flow.as_mut() else {
            return;
        };
        let in_service = std::mem::take(&mut flow.in_service);
        let queued = std::mem::take(&mut flow.queued);
        // Cut off, not answered: no latency to record, no answer held in memory.
        for id in in_service.keys().chain(queued.values()) {
            path.arrivals.remove(id);
        }
        path.list_memory.0 -= in_service.values().map(|s| s.memory).sum::<u64>();
        flow.abandoned.extend(queued.keys().copied());
        let mut outcomes = std::mem::take(&mut path.outcomes);
        for service in in_service.values() {
            let _ = flow.flow_control.finish(service.ticket, now, &mut outcomes);
        }
        for (id, service) in in_service {
            let request = service.request.or_else(|| self.in_flight.remove(&id));
            self.reset_connection(id, replica, service.client, request, out);
        }
        for id in queued.into_values() {
            if let Some(request) = self.in_flight.remove(&id) {
                self.reset_connection(id, replica, request.client, Some(request), out);
            }
        }
        self.settle(now, replica, outcomes, out);
    }

    /// Replica `replica`'s process is back at `now`: a new process whose watch caches each
    /// list their resource from etcd before they serve (see `restart.rs`).
    pub fn come_up(&mut self, now: SimTime, replica: usize) {
        let revision = self.store.revision().0;
        let store = &self.store;
        let path = self.path.as_deref();
        let Some(r) = self.replicas.get_mut(replica) else {
            return;
        };
        r.process.come_up(now, revision, |kind| {
            let Some(path) = path else {
                return now;
            };
            let objects = store.count(kind) as u64;
            let bytes = objects.saturating_mul(path.costs.object_bytes);
            path.etcd
                .range(now, objects, bytes, Consistency::Linearizable)
        });
    }

    /// Every watch's stream ends at once (a network blip): the clients see EOF.
    pub fn break_watches(&mut self, out: &mut Vec<ApiOutput>) {
        self.break_watches_of(None, out);
    }

    /// The streams of the watches replica `replica` serves (every replica's: `None`) end.
    fn break_watches_of(&mut self, replica: Option<u32>, out: &mut Vec<ApiOutput>) {
        let open: Vec<(WatchId, ClientId)> = self
            .watches
            .open_watches()
            .filter(|(_, watch)| replica.is_none_or(|r| watch.replica == r))
            .map(|(id, watch)| (id, watch.client))
            .collect();
        for (watch, client) in open {
            self.watches.close(watch);
            out.push(ApiOutput::WatchEnded { client, watch });
        }
    }

    /// etcd's work takes `percent` % of its normal time from now on (modelled path only).
    pub fn slow_etcd(&mut self, percent: u32) {
        if let Some(path) = self.path.as_deref_mut() {
            path.etcd.set_slowdown_percent(percent);
        }
    }

    /// The etcd leader is lost at `now`; when a new one is elected (modelled path only).
    pub fn lose_etcd_leader(
        &mut self,
        now: SimTime,
        rng: &mut crate::sim::SimRng,
    ) -> Option<SimTime> {
        let path = self.path.as_deref_mut()?;
        Some(path.etcd.lose_leader(now, rng))
    }

    /// Request `id` arrived while no replica is up: the connection is refused (the load
    /// balancer counted it).
    pub(super) fn refuse_connection(&mut self, id: RequestId, out: &mut Vec<ApiOutput>) {
        let Some(request) = self.in_flight.remove(&id) else {
            return;
        };
        out.push(ApiOutput::Respond {
            client: request.client,
            request: id,
            response: Err(ApiError::Connection(ConnectionFailure::Refused)),
        });
    }

    /// Request `id` of `client` loses its connection to replica `replica`; a read or watch is
    /// kept for a resend.
    fn reset_connection(
        &mut self,
        id: RequestId,
        replica: usize,
        client: ClientId,
        request: Option<Request>,
        out: &mut Vec<ApiOutput>,
    ) {
        if let Some(r) = self.replicas.get_mut(replica) {
            r.process.count_reset();
        }
        if let (Some(request), Some(path)) = (request, self.path.as_deref_mut())
            && matches!(request.verb, Verb::Get | Verb::List | Verb::Watch)
        {
            path.refused.insert(id, request);
        }
        out.push(ApiOutput::Respond {
            client,
            request: id,
            response: Err(ApiError::Connection(ConnectionFailure::Reset)),
        });
    }

    /// Whether refused request `id` is held for the client to send again.
    pub fn can_resend(&self, id: RequestId) -> bool {
        self.path
            .as_deref()
            .is_some_and(|p| p.refused.contains_key(&id))
    }

    /// The client sends refused request `id` again at `at`, under the same id: it arrives
    /// `admissionLatency` later, as any request does. False if no such request is held.
    pub fn resend(&mut self, id: RequestId, at: SimTime, out: &mut Vec<ApiOutput>) -> bool {
        let Some(request) = self.path.as_deref_mut().and_then(|p| p.refused.remove(&id)) else {
            return false;
        };
        self.in_flight.insert(id, request);
        out.push(ApiOutput::Schedule(
            at + self.config.admission_latency,
            ApiEvent::Execute(id),
        ));
        true
    }

    /// The client gave refused request `id` up (its error was final).
    pub fn abandon(&mut self, id: RequestId) {
        if let Some(path) = self.path.as_deref_mut() {
            path.refused.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::request::ResponseBody;
    use super::*;
    use crate::apiserver::flowcontrol::Mode;

    #[test]
    fn the_switch_decides_the_flow_control_mode() {
        for mode in [
            FlowControlMode::Ideal,
            FlowControlMode::MaxInflight,
            FlowControlMode::Apf,
            FlowControlMode::Dynamic,
        ] {
            assert_eq!(FlowControlMode::from_name(mode.name()), Some(mode));
        }
        assert_eq!(FlowControlMode::from_name("APF"), None);
        let config = |mode| RequestPathConfig {
            mode,
            ..RequestPathConfig::default()
        };
        // The switch wins over whatever the flags' struct says.
        assert_eq!(
            config(FlowControlMode::MaxInflight)
                .flow_control_config()
                .mode(),
            Mode::MaxInflight
        );
        assert_eq!(
            config(FlowControlMode::Apf).flow_control_config().mode(),
            Mode::PriorityAndFairness
        );
        assert_eq!(
            config(FlowControlMode::Dynamic)
                .flow_control_config()
                .mode(),
            Mode::Dynamic
        );
        // The ideal path builds no flow control and no path at all.
        assert!(matches!(
            config(FlowControlMode::Ideal).build(SimTime::ZERO),
            Ok(None)
        ));
        assert!(RequestPath::new(&config(FlowControlMode::Ideal), SimTime::ZERO).is_none());
    }

    #[test]
    fn service_times_follow_the_cost_model() {
        let Some(mut path) = RequestPath::new(
            &RequestPathConfig {
                mode: FlowControlMode::MaxInflight,
                ..RequestPathConfig::default()
            },
            SimTime::ZERO,
        ) else {
            panic!("a modelled path");
        };
        let t = SimTime::ZERO + SimDuration::from_secs(1);
        // A LIST: 500 µs + 250 × 10 µs = 3 ms; a watch's initialization 1 ms.
        assert_eq!(
            path.service_time(t, Verb::List, 250),
            SimDuration::from_millis(3)
        );
        assert_eq!(
            path.service_time(t, Verb::Watch, 0),
            SimDuration::from_millis(1)
        );
        // A GET: a linearizable range of one 2 KiB object: 150 µs + 400 µs + 2 µs + 20.48 µs
        // (2048 bytes at 100 MB/s) + 150 µs = 722.48 µs.
        assert_eq!(
            path.service_time(t, Verb::Get, 1),
            SimDuration::from_nanos(722_480)
        );
        // An idle write: 1.6 ms + 2.048 µs of apply.
        assert_eq!(
            path.service_time(t, Verb::Create, 0),
            SimDuration::from_nanos(1_602_048)
        );
    }

    /// A hub on the modelled path driven by hand: its events in time order, its answers and
    /// ended watches written down.
    struct Driver {
        api: ApiServer,
        queue: BTreeMap<(SimTime, u64), ApiEvent>,
        seq: u64,
        answers: BTreeMap<RequestId, (SimTime, Response)>,
        ended: Vec<WatchId>,
    }

    impl Driver {
        fn new() -> Self {
            let config = super::super::ApiServerConfig {
                request_path: RequestPathConfig {
                    mode: FlowControlMode::Apf,
                    ..RequestPathConfig::default()
                },
                ..super::super::ApiServerConfig::default()
            };
            Driver {
                api: ApiServer::new(config, crate::sim::rng::stream(1, "test")),
                queue: BTreeMap::new(),
                seq: 0,
                answers: BTreeMap::new(),
                ended: Vec::new(),
            }
        }

        fn absorb(&mut self, now: SimTime, out: Vec<ApiOutput>) {
            for output in out {
                match output {
                    ApiOutput::Schedule(at, event) => {
                        self.queue.insert((at, self.seq), event);
                        self.seq += 1;
                    }
                    ApiOutput::Respond {
                        request, response, ..
                    } => {
                        self.answers.insert(request, (now, response));
                    }
                    ApiOutput::WatchEnded { watch, .. } => self.ended.push(watch),
                    ApiOutput::Deliver { .. } => {}
                }
            }
        }

        fn send(&mut self, at: SimTime, request: Request) -> RequestId {
            let mut out = Vec::new();
            let id = self.api.submit(at, request, &mut out);
            self.absorb(at, out);
            id
        }

        fn run_until(&mut self, until: SimTime) {
            while let Some(entry) = self.queue.first_entry() {
                if entry.key().0 > until {
                    break;
                }
                let ((at, _), event) = entry.remove_entry();
                let mut out = Vec::new();
                self.api.handle(at, event, &mut out);
                self.absorb(at, out);
            }
        }

        fn answer(&self, id: RequestId) -> &(SimTime, Response) {
            match self.answers.get(&id) {
                Some(answer) => answer,
                None => panic!("request {id:?} is not answered"),
            }
        }
    }

    fn admin() -> super::super::UserInfo {
        super::super::UserInfo::new("admin", &["system:masters"])
    }

    fn kubelet() -> super::super::UserInfo {
        super::super::UserInfo::new("system:node:n1", &["system:nodes"])
    }

    fn test_pod(i: usize) -> crate::api::Object {
        use crate::api::pod::{Container, Pod, PodSpec};
        crate::api::Object::Pod(std::sync::Arc::new(Pod {
            metadata: crate::api::ObjectMeta {
                name: format!("p{i}"),
                namespace: "default".into(),
                ..Default::default()
            },
            spec: std::sync::Arc::new(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: "img:0".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    #[test]
    fn a_restart_resets_refuses_then_serves_each_cache_once_it_has_listed() {
        use super::super::ListOptions;
        use crate::api::{Kind, ObjectKey};
        let ms = |m: u64| SimTime::ZERO + SimDuration::from_millis(m);
        let us = |u: u64| SimDuration::from_micros(u);
        let client = ClientId(42);
        let mut hub = Driver::new();
        for i in 0..1000 {
            hub.send(SimTime::ZERO, Request::create(client, admin(), test_pod(i)));
        }
        hub.run_until(ms(9_000));
        let before = hub.api.store().revision().0;
        assert_eq!(hub.api.store().count(Kind::Pod), 1000);
        let list = |user| Request::list(client, user, Kind::Pod, "", ListOptions::default());
        let watch_from = |rv: u64| {
            let options = ListOptions {
                resource_version: Some(crate::api::ResourceVersion(rv)),
                ..ListOptions::default()
            };
            Request::watch(client, kubelet(), Kind::Pod, "", options)
        };
        // A watch open before the restart, and a write after the version it starts from.
        let open = hub.send(ms(9_000), watch_from(before));
        hub.send(ms(9_500), Request::create(client, admin(), test_pod(2000)));
        // A LIST arriving at 9.999 s holds its seats for 500 µs + 1000 × 10 µs = 10.5 ms, a
        // create 1.6 ms: both are being served when the process goes down at 10 s.
        let listing = hub.send(ms(9_998), list(kubelet()));
        let creating = hub.send(
            ms(9_998),
            Request::create(client, kubelet(), test_pod(1000)),
        );
        hub.run_until(ms(9_999) + us(999));
        let Ok(ResponseBody::Watch(watch)) = hub.answer(open).1 else {
            panic!("the watch opens");
        };
        let mut out = Vec::new();
        hub.api.shut_down(ms(10_000), 0, &mut out);
        hub.absorb(ms(10_000), out);
        // The watch ends; both requests lose their connection; only the LIST may be sent
        // again (a write may have happened, as far as the client knows).
        assert_eq!(hub.ended, [watch]);
        let reset = Err(ApiError::Connection(ConnectionFailure::Reset));
        assert_eq!(hub.answer(listing), &(ms(10_000), reset.clone()));
        assert_eq!(hub.answer(creating), &(ms(10_000), reset));
        assert!(hub.api.can_resend(listing));
        assert!(!hub.api.can_resend(creating));
        assert_eq!(hub.api.store().count(Kind::Pod), 1001);
        // While down, a request is refused at its arrival, 1 ms after it is sent.
        let refused = hub.send(ms(15_000), list(kubelet()));
        hub.run_until(ms(16_000));
        let refused_answer = Err(ApiError::Connection(ConnectionFailure::Refused));
        assert_eq!(hub.answer(refused), &(ms(15_001), refused_answer));
        // Up at 20 s. The pods' cache lists 1001 objects of 2 KiB from etcd: 150 µs + 400 µs
        // (linearizable) + 1001 × 2 µs + 2 050 048 B / 100 MB/s (20.50048 ms) + 150 µs =
        // 23.20248 ms; the nodes' cache, empty, 700 µs.
        hub.api.come_up(ms(20_000), 0);
        assert_eq!(
            hub.api.process().caches_ready_at(),
            Some(ms(20_000) + SimDuration::from_nanos(23_202_480))
        );
        let early_pods = hub.send(ms(20_000), list(kubelet()));
        let early_nodes = hub.send(
            ms(20_000),
            Request::list(client, kubelet(), Kind::Node, "", ListOptions::default()),
        );
        let early_get = hub.send(
            ms(20_000),
            Request::get(
                client,
                kubelet(),
                Kind::Pod,
                &ObjectKey::new("default", "p7"),
            ),
        );
        let early_watch = hub.send(ms(20_000), watch_from(before));
        hub.run_until(ms(20_100));
        // Arriving at 20.001 s, 1 ms after the new process started: e^0.00006 → Retry-After 1.
        for id in [early_pods, early_watch] {
            match &hub.answer(id).1 {
                Err(ApiError::TooManyRequests {
                    cause,
                    retry_after_seconds,
                    ..
                }) => {
                    assert_eq!(cause, "storage is (re)initializing");
                    assert_eq!(*retry_after_seconds, 1);
                }
                other => panic!("expected a 429, got {other:?}"),
            }
        }
        assert!(hub.api.can_resend(early_pods));
        assert!(matches!(
            hub.answer(early_nodes).1,
            Ok(ResponseBody::List { ref items, .. }) if items.is_empty()
        ));
        assert!(matches!(
            hub.answer(early_get).1,
            Ok(ResponseBody::Object(_))
        ));
        // Once ready: the pods are listed; a watch from before the write of 9.5 s is 410 (the
        // cache listed after it), one from the revision the cache listed at opens.
        let late_pods = hub.send(ms(20_100), list(kubelet()));
        let old_watch = hub.send(ms(20_100), watch_from(before));
        let new_watch = hub.send(ms(20_100), watch_from(hub.api.store().revision().0));
        hub.run_until(ms(21_000));
        assert!(matches!(
            hub.answer(late_pods).1,
            Ok(ResponseBody::List { ref items, .. }) if items.len() == 1001
        ));
        assert!(matches!(
            hub.answer(old_watch).1,
            Err(ApiError::Gone { .. })
        ));
        assert!(matches!(
            hub.answer(new_watch).1,
            Ok(ResponseBody::Watch(_))
        ));
        assert_eq!(hub.api.connections_refused(), 1);
        assert_eq!(hub.api.process().reset(), 2);
    }

    #[test]
    fn a_watch_ends_at_its_timeout_on_the_modelled_path() {
        use super::super::ListOptions;
        use crate::api::Kind;
        let mut hub = Driver::new();
        let options = ListOptions {
            timeout: Some(SimDuration::from_secs(300)),
            ..ListOptions::default()
        };
        let user = super::super::UserInfo::new("system:node:n1", &["system:nodes"]);
        let id = hub.send(
            SimTime::ZERO,
            Request::watch(ClientId(1), user, Kind::Pod, "", options),
        );
        hub.run_until(SimTime::ZERO + SimDuration::from_secs(299));
        let Ok(ResponseBody::Watch(watch)) = hub.answer(id).1 else {
            panic!("the watch opens");
        };
        assert!(hub.ended.is_empty());
        // Opened when its initialization ended, 1 ms + 1 ms after it was sent: it ends 300 s
        // later.
        hub.run_until(SimTime::ZERO + SimDuration::from_millis(300_001));
        assert!(hub.ended.is_empty());
        hub.run_until(SimTime::ZERO + SimDuration::from_millis(300_002));
        assert_eq!(hub.ended, [watch]);
        assert!(hub.api.watches().get(watch).is_none());
    }

    #[test]
    fn an_etcd_slowdown_stretches_writes_and_a_leader_election_holds_them() {
        let Some(mut path) = RequestPath::new(
            &RequestPathConfig {
                mode: FlowControlMode::Apf,
                ..RequestPathConfig::default()
            },
            SimTime::ZERO,
        ) else {
            panic!("a modelled path");
        };
        let t = SimTime::ZERO + SimDuration::from_secs(1);
        // At 200 % etcd's own work doubles: 150 µs + 2 × (400 + 875 + 25 + 2.048) µs +
        // 150 µs = 2 904.096 µs (the client's half trips are the network's, not etcd's).
        path.etcd.set_slowdown_percent(200);
        assert_eq!(
            path.service_time(t, Verb::Create, 0),
            SimDuration::from_nanos(2_904_096)
        );
        path.etcd.set_slowdown_percent(100);
        // A leader lost at 2 s with 3 extra heartbeat ticks: elected at 2 s + 1 s + 3 × 100 ms
        // + a 400 µs vote round. A write sent then waits for it: 1.3004 s, then its 1.452048 ms
        // of fsync, peer round trip, apply and the half trip back.
        let lost = SimTime::ZERO + SimDuration::from_secs(2);
        assert_eq!(
            path.etcd.lose_leader_with(lost, 3),
            lost + SimDuration::from_nanos(1_300_400_000)
        );
        assert_eq!(
            path.service_time(lost, Verb::Create, 0),
            SimDuration::from_nanos(1_301_852_048)
        );
    }

    #[test]
    fn an_etcd_leader_election_through_the_hub_delays_a_write_past_it() {
        let mut hub = Driver::new();
        let lost = SimTime::ZERO + SimDuration::from_secs(5);
        let mut rng = crate::sim::rng::stream(1, "faults/etcd-leader-election");
        let Some(elected) = hub.api.lose_etcd_leader(lost, &mut rng) else {
            panic!("a modelled apiserver has an etcd");
        };
        // 1 s + 0 to 9 ticks of 100 ms + 400 µs.
        let after = elected.saturating_since(lost);
        assert!(after >= SimDuration::from_nanos(1_000_400_000), "{after}");
        assert!(after <= SimDuration::from_nanos(1_900_400_000), "{after}");
        let id = hub.send(lost, Request::create(ClientId(1), admin(), test_pod(1)));
        hub.run_until(lost + SimDuration::from_secs(3));
        let (answered, response) = hub.answer(id);
        assert!(response.is_ok());
        assert!(*answered > elected, "{answered} after {elected}");
    }

    #[test]
    fn lists_hold_five_times_their_answer_and_every_answer_is_timed_by_slo_scope() {
        use super::super::ListOptions;
        use super::super::latency::SloScope;
        use crate::api::Kind;
        let mut hub = Driver::new();
        let client = ClientId(42);
        for i in 0..1000 {
            hub.send(SimTime::ZERO, Request::create(client, admin(), test_pod(i)));
        }
        hub.run_until(SimTime::ZERO + SimDuration::from_secs(5));
        let t = SimTime::ZERO + SimDuration::from_secs(10);
        let all = Request::list(client, admin(), Kind::Pod, "", ListOptions::default());
        let one = Request::list(
            client,
            admin(),
            Kind::Pod,
            "default",
            ListOptions::default(),
        );
        hub.send(t, all);
        hub.send(t, one);
        // Both arrive at 10.001 s and hold their seats 500 µs + 1000 × 10 µs = 10.5 ms, each
        // answer 5 × 1000 × 2 KiB = 10 240 000 bytes: 20 480 000 at once.
        hub.run_until(t + SimDuration::from_millis(5));
        let Some(path) = hub.api.request_path() else {
            panic!("a modelled path");
        };
        assert_eq!(path.list_memory_bytes(), (20_480_000, 20_480_000));
        hub.run_until(t + SimDuration::from_secs(1));
        let Some(path) = hub.api.request_path() else {
            panic!("a modelled path");
        };
        assert_eq!(path.list_memory_bytes(), (0, 20_480_000));
        // 10.5 ms each: in the (0.01, 0.025] bucket of its scope; the 1000 creates are
        // single-object requests.
        for scope in [SloScope::Cluster, SloScope::Namespace] {
            let h = path.latency(scope);
            assert_eq!(h.count(), 1, "{scope:?}");
            assert_eq!(h.sum(), SimDuration::from_micros(10_500));
            assert_eq!(h.cumulative().nth(1), Some((Some(0.01), 0)));
            assert_eq!(h.cumulative().nth(2), Some((Some(0.025), 1)));
        }
        assert_eq!(path.latency(SloScope::Resource).count(), 1000);
    }
}
