//! Flow control: whether the apiserver serves a request now, holds it, or answers 429 with a
//! Retry-After — in one of three modes.
//!
//! * **max-in-flight** (`--enable-priority-and-fairness=false`): at most
//!   `--max-requests-inflight` (400) reads and `--max-mutating-requests-inflight` (200) writes
//!   at once; beyond that 429 with `Retry-After: 1`. Watches and `system:masters` are exempt.
//! * **API Priority and Fairness** (the default): FlowSchemas classify a request into a
//!   priority level and a flow; each level's share of the server's 600 seats (400 + 200) moves
//!   every 10 s as idle levels lend to busy ones; within a level, shuffle-sharded fair queues;
//!   requests cost seats by estimated work; 429 when a queue is full, when a Reject level is
//!   full, or after 15 s (a quarter of `--request-timeout`) in a queue, with a Retry-After per
//!   level that doubles under sustained drops.
//! * **dynamic** (a large operator's fix, not upstream): clients in ordered levels — core
//!   components before kubelets before monitoring — share a token bucket; a lower level is
//!   refused while tokens are below its reserve, and every 429's Retry-After is 1, 2, 4 or 8 s
//!   by the share of tokens left.
//!
//! This is a library the apiserver hub calls; it never touches the event queue. The hub hands
//! [`FlowControl::admit`] a [`RequestDigest`] and gets an [`Admission`]: start now (with a
//! [`Ticket`]), queued (the ticket starts later), or rejected. It calls
//! [`FlowControl::finish`] when a started request returns. It schedules a wakeup at
//! [`FlowControl::next_wakeup`] (queue-wait deadlines, final seats' release, the 10 s
//! borrowing adjustment — the last never lets APF go quiet, so schedule it as a background
//! event) and calls [`FlowControl::on_wakeup`]. Requests that start or are rejected as a
//! consequence of any call are pushed as [`Outcome`]s into the buffer the caller passes.
//! Every started request must be finished once, watches included: under APF a WATCH holds its
//! seats only while it sends its initial events, so finish it when they are sent (upstream's
//! initialization signal); in max-in-flight mode a watch is never counted but still has a
//! ticket.
//!
//! The configuration is fixed for a run: upstream reconfigures live (FlowSchema and level
//! objects written while it serves, quiescing removed levels); kubesim reads them at start.
//!
//! Files, one algorithm each:
//! * `config.rs` — FlowSchema / PriorityLevelConfiguration manifests, v1 defaults, checks;
//! * `bootstrap.rs` — the mandatory and suggested objects;
//! * `classify.rs` — matching FlowSchemas, the flow distinguisher and hash;
//! * `concurrency.rs` — nominal limits, seat demand, borrowing (the fair allocation);
//! * `shuffle_shard.rs` — the dealer of queues;
//! * `queueset.rs` — fair queuing within a level;
//! * `work_estimate.rs` — seats per request;
//! * `retry_after.rs` — APF's per-level Retry-After;
//! * `apf.rs` — API Priority and Fairness, tying the above together;
//! * `max_inflight.rs`, `dynamic.rs` — the other two modes;
//! * `seat_seconds.rs`, `tickets.rs`, `metrics.rs` — units, the request table, counters.
//!
//! Determinism: virtual time is integer everywhere (virtual finish times in fixed-point
//! seat-seconds, queue waits and the token bucket in nanoseconds); only ordered containers;
//! no randomness (upstream's dispatch has none either — the flow hash is SHA-256).

pub mod apf;
pub mod bootstrap;
pub mod classify;
pub mod concurrency;
pub mod config;
pub mod dynamic;
pub mod max_inflight;
pub mod metrics;
pub mod queueset;
pub mod retry_after;
pub mod seat_seconds;
pub mod shuffle_shard;
pub mod tickets;
pub mod work_estimate;

use thiserror::Error;

use crate::apiserver::{UserInfo, Verb};
use crate::sim::{SimDuration, SimTime};

pub use apf::Apf;
pub use config::{ConfigError, FlowSchema, PriorityLevelConfiguration};
pub use dynamic::{DynamicConfig, DynamicLevel, DynamicRetryAfter};
pub use max_inflight::MaxInflight;
pub use metrics::LevelMetrics;
pub use work_estimate::{WorkEstimate, WorkEstimatorConfig};

/// `--max-requests-inflight` default.
pub const DEFAULT_MAX_REQUESTS_INFLIGHT: u32 = 400;
/// `--max-mutating-requests-inflight` default.
pub const DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT: u32 = 200;
/// `--request-timeout` default.
pub const DEFAULT_REQUEST_TIMEOUT: SimDuration = SimDuration::from_secs(60);
/// The longest any request may wait in an APF queue.
pub const MAX_QUEUE_WAIT: SimDuration = SimDuration::from_mins(1);

/// A request's handle while flow control holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

impl Ticket {
    /// A ticket from its raw value.
    pub const fn new(raw: u64) -> Ticket {
        Ticket(raw)
    }
    /// The raw value.
    pub const fn index(self) -> u64 {
        self.0
    }
}

/// Where a LIST is served from, which decides how many objects it touches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListSource {
    /// The watch cache.
    #[default]
    WatchCache,
    /// etcd.
    Etcd,
}

impl ListSource {
    /// Upstream's rule for a LIST (`ShouldDelegateList`, with an etcd that supports progress
    /// notification): an exact resourceVersion (`resourceVersionMatch=Exact`, or a version
    /// other than "0" with a limit) and a continuation go to etcd; everything else — "0",
    /// NotOlderThan, and consistent reads ("") — is served from the cache.
    pub fn for_list(
        resource_version: &str,
        exact_match: bool,
        limit: u64,
        continuing: bool,
    ) -> Self {
        let exact =
            exact_match || (limit > 0 && !resource_version.is_empty() && resource_version != "0");
        if exact || continuing {
            ListSource::Etcd
        } else {
            ListSource::WatchCache
        }
    }
}

/// What the work estimate needs to know beyond the request's identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkInputs {
    /// How many objects of the resource are stored (none: not tracked).
    pub object_count: Option<u64>,
    /// Their average size in bytes, if known.
    pub avg_object_bytes: Option<u64>,
    /// The LIST's `limit` (0: none).
    pub limit: u64,
    /// Whether the LIST has a label or field selector.
    pub has_selector: bool,
    /// Where the LIST is served from.
    pub list_source: ListSource,
    /// For a WATCH: whether it starts by sending the current objects (sendInitialEvents, or a
    /// legacy watch from "" or "0").
    pub sends_initial_events: bool,
    /// For a write: how many watches may receive its event.
    pub watchers: u32,
}

/// A request as flow control sees it (upstream's `RequestDigest`: the user and the request
/// info).
#[derive(Clone, Copy, Debug)]
pub struct RequestDigest<'a> {
    /// Who sends it.
    pub user: &'a UserInfo,
    /// The verb.
    pub verb: Verb,
    /// A resource request (else a non-resource path such as `/healthz`).
    pub resource_request: bool,
    /// API group (`""` for core).
    pub api_group: &'a str,
    /// Resource, plural (`pods`).
    pub resource: &'a str,
    /// Subresource (`status`, `binding`, …) or empty.
    pub subresource: &'a str,
    /// Namespace, empty for cluster-scoped requests.
    pub namespace: &'a str,
    /// Object name, empty for collections.
    pub name: &'a str,
    /// Path of a non-resource request.
    pub path: &'a str,
    /// Inputs of the work estimate.
    pub work: WorkInputs,
}

/// Why a request was refused (`reason` of `apiserver_flowcontrol_rejected_requests_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// The level was full and the flow's queue at its length limit.
    QueueFull,
    /// The level (or the server, in max-in-flight and dynamic modes) had no seats free.
    ConcurrencyLimit,
    /// The request waited its whole queue-wait limit.
    TimeOut,
    /// Dynamic mode: the token bucket was below the client level's reserve.
    Throttled,
}

impl RejectReason {
    /// The label value.
    pub const fn name(self) -> &'static str {
        match self {
            RejectReason::QueueFull => "queue-full",
            RejectReason::ConcurrencyLimit => "concurrency-limit",
            RejectReason::TimeOut => "time-out",
            RejectReason::Throttled => "throttled",
        }
    }
}

/// A 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub reason: RejectReason,
    /// The `Retry-After` header (whole seconds).
    pub retry_after: SimDuration,
    /// The level that refused it, an index into [`FlowControl::level_metrics`].
    pub level: usize,
}

/// The answer to [`FlowControl::admit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Start it now; call [`FlowControl::finish`] with the ticket when it returns.
    Dispatch {
        /// Its ticket.
        ticket: Ticket,
        /// Seats it holds while executing.
        seats: u64,
    },
    /// It waits; an [`Outcome`] later says it started or was rejected.
    Queued {
        /// Its ticket.
        ticket: Ticket,
    },
    /// Answer 429.
    Reject(Rejection),
}

/// Something that happened to a held request as a consequence of another call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A queued request starts now.
    Started {
        /// Its ticket.
        ticket: Ticket,
        /// Seats it holds while executing.
        seats: u64,
        /// How long it waited.
        waited: SimDuration,
    },
    /// A queued request is answered 429 (its wait timed out).
    Rejected {
        /// Its ticket, now void.
        ticket: Ticket,
        /// The 429.
        rejection: Rejection,
    },
}

/// Which mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Max-in-flight limits.
    MaxInflight,
    /// API Priority and Fairness.
    PriorityAndFairness,
    /// Token-bucket Retry-After with client levels.
    Dynamic,
}

/// Flow control's settings, under kube-apiserver's flag names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowControlConfig {
    /// `--enable-priority-and-fairness` (true).
    pub enable_priority_and_fairness: bool,
    /// `--max-requests-inflight` (400; 0 is no limit).
    pub max_requests_inflight: u32,
    /// `--max-mutating-requests-inflight` (200; 0 is no limit).
    pub max_mutating_requests_inflight: u32,
    /// `--request-timeout` (60 s): a quarter of it, at most a minute, is the APF queue wait.
    pub request_timeout: SimDuration,
    /// The work estimator's settings.
    pub work_estimator: WorkEstimatorConfig,
    /// Whether the suggested FlowSchemas and levels exist beside the mandatory ones (true, as
    /// the apiserver keeps them).
    pub suggested_configuration: bool,
    /// kubesim: the dynamic mode's settings; when set, it replaces the other two.
    pub dynamic: Option<DynamicConfig>,
}

impl Default for FlowControlConfig {
    fn default() -> Self {
        FlowControlConfig {
            enable_priority_and_fairness: true,
            max_requests_inflight: DEFAULT_MAX_REQUESTS_INFLIGHT,
            max_mutating_requests_inflight: DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            work_estimator: WorkEstimatorConfig::default(),
            suggested_configuration: true,
            dynamic: None,
        }
    }
}

impl FlowControlConfig {
    /// The mode the settings select.
    pub fn mode(&self) -> Mode {
        if self.dynamic.is_some() {
            Mode::Dynamic
        } else if self.enable_priority_and_fairness {
            Mode::PriorityAndFairness
        } else {
            Mode::MaxInflight
        }
    }

    /// The server's concurrency limit under APF: the two in-flight limits together.
    pub fn server_concurrency_limit(&self) -> u32 {
        self.max_requests_inflight
            .saturating_add(self.max_mutating_requests_inflight)
    }

    /// How long a request may wait in an APF queue: min(request timeout / 4, 1 min).
    pub fn queue_wait_limit(&self) -> SimDuration {
        SimDuration::from_nanos(self.request_timeout.as_nanos() / 4).min(MAX_QUEUE_WAIT)
    }
}

/// Why flow control could not be built or a call was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FlowControlError {
    /// The FlowSchemas or priority levels are invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A mandatory object is missing (only possible if the bootstrap ones were left out).
    #[error("the mandatory {0} is missing")]
    MissingMandatory(&'static str),
    /// The dynamic mode's settings are invalid.
    #[error("dynamic flow control: {0}")]
    Dynamic(String),
    /// `finish` was called with a ticket that is not executing.
    #[error("ticket {0:?} is not an executing request")]
    UnknownTicket(Ticket),
}

/// Flow control in one of its modes.
#[derive(Clone, Debug)]
pub enum FlowControl {
    /// Max-in-flight limits.
    MaxInflight(MaxInflight),
    /// API Priority and Fairness.
    Apf(Box<Apf>),
    /// Token-bucket Retry-After with client levels.
    Dynamic(DynamicRetryAfter),
}

impl FlowControl {
    /// Flow control as `config` selects, with the scenario's FlowSchemas and levels (used by
    /// APF only; the bootstrap objects fill in what they do not name), starting at `now`.
    pub fn new(
        config: &FlowControlConfig,
        levels: &[PriorityLevelConfiguration],
        schemas: &[FlowSchema],
        now: SimTime,
    ) -> Result<FlowControl, FlowControlError> {
        Ok(match config.mode() {
            Mode::MaxInflight => FlowControl::MaxInflight(MaxInflight::new(
                config.max_requests_inflight,
                config.max_mutating_requests_inflight,
            )),
            Mode::PriorityAndFairness => {
                FlowControl::Apf(Box::new(Apf::new(config, levels, schemas, now)?))
            }
            Mode::Dynamic => {
                let dynamic = config.dynamic.clone().unwrap_or_default();
                FlowControl::Dynamic(DynamicRetryAfter::new(
                    dynamic,
                    config.server_concurrency_limit(),
                    config.work_estimator,
                    now,
                )?)
            }
        })
    }

    /// Decides what happens to a new request at `now`. Other requests that start as a
    /// consequence are pushed to `out`.
    pub fn admit(
        &mut self,
        digest: &RequestDigest<'_>,
        now: SimTime,
        out: &mut Vec<Outcome>,
    ) -> Admission {
        match self {
            FlowControl::MaxInflight(m) => m.admit(digest),
            FlowControl::Apf(a) => a.admit(digest, now, out),
            FlowControl::Dynamic(d) => d.admit(digest, now),
        }
    }

    /// A started request returned at `now`; requests that start in its place go to `out`.
    pub fn finish(
        &mut self,
        ticket: Ticket,
        now: SimTime,
        out: &mut Vec<Outcome>,
    ) -> Result<(), FlowControlError> {
        match self {
            FlowControl::MaxInflight(m) => m.finish(ticket),
            FlowControl::Apf(a) => a.finish(ticket, now, out),
            FlowControl::Dynamic(d) => d.finish(ticket),
        }
    }

    /// When [`FlowControl::on_wakeup`] next has something to do.
    pub fn next_wakeup(&self) -> Option<SimTime> {
        match self {
            FlowControl::Apf(a) => a.next_wakeup(),
            FlowControl::MaxInflight(_) | FlowControl::Dynamic(_) => None,
        }
    }

    /// Does what is due at `now`: queue-wait timeouts, final seats' release, borrowing.
    pub fn on_wakeup(&mut self, now: SimTime, out: &mut Vec<Outcome>) {
        if let FlowControl::Apf(a) = self {
            a.on_wakeup(now, out);
        }
    }

    /// Per-level metrics (priority levels; request kinds for max-in-flight; client levels for
    /// dynamic).
    pub fn level_metrics(&self) -> &[LevelMetrics] {
        match self {
            FlowControl::MaxInflight(m) => m.level_metrics(),
            FlowControl::Apf(a) => a.level_metrics(),
            FlowControl::Dynamic(d) => d.level_metrics(),
        }
    }
}
