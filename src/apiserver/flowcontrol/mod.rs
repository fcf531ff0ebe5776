//! Flow control: whether the apiserver serves a request now, holds it, or answers 429.
//!
//! This first part holds what API Priority and Fairness decides with, one algorithm per file:
//! * `config.rs` — FlowSchema / PriorityLevelConfiguration manifests, v1 defaults, checks;
//! * `bootstrap.rs` — the mandatory and suggested objects;
//! * `classify.rs` — matching FlowSchemas, the flow distinguisher and hash;
//! * `concurrency.rs` — nominal limits, seat demand, borrowing (the fair allocation);
//! * `shuffle_shard.rs` — the dealer of queues;
//! * `work_estimate.rs` — seats per request;
//! * `retry_after.rs` — APF's per-level Retry-After;
//! * `queueset.rs` — fair queuing within a level;
//! * `seat_seconds.rs`, `tickets.rs`, `metrics.rs` — units, the request table, counters.
//!
//! Determinism: virtual time is integer everywhere; only ordered containers; no randomness
//! (the flow hash is SHA-256, as upstream's).

pub mod bootstrap;
pub mod classify;
pub mod concurrency;
pub mod config;
pub mod metrics;
pub mod queueset;
pub mod retry_after;
pub mod seat_seconds;
pub mod shuffle_shard;
pub mod tickets;
pub mod work_estimate;

use crate::apiserver::{UserInfo, Verb};

pub use config::{ConfigError, FlowSchema, PriorityLevelConfiguration};
pub use metrics::LevelMetrics;
pub use work_estimate::{WorkEstimate, WorkEstimatorConfig};

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
