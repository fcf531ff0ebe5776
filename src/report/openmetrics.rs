//! `metrics.om`: the run's samples — the series `timeseries.csv` carries — as OpenMetrics text
//! (exposition format 1.0.0) with a timestamp on every sample, which
//! `promtool tsdb create-blocks-from openmetrics` imports into Prometheus, so a simulated run
//! can be held beside a real cluster in the same dashboards.
//!
//! This module owns the mapping from a [`Sample`] to metric families (name, type, unit, help
//! and labels of each series), the instant virtual time 0 stands for ([`Start`],
//! `--openmetrics-start`), and the text itself.
//!
//! * **Names.** A series that mirrors a real Prometheus metric keeps its upstream name
//!   (`apiserver_request_total`, `scheduler_pending_pods`, `apiserver_flowcontrol_*`,
//!   `etcd_debugging_mvcc_current_revision`); the others are `kubesim_` and snake case, in
//!   base units (`_cores`, `_bytes`, `_ratio` instead of millicores and percentages), with a
//!   `# UNIT` line whose unit is the name's last word.
//! * **Labels.** What `timeseries.csv` spreads over columns of one quantity becomes a label
//!   of one family: `scheduler_pending_pods{queue}`, `kubesim_pods_by_phase{phase}`,
//!   `kubesim_nodes_by_ready_status{status}`, `kubesim_nodes_tainted{taint}`, and flow
//!   control's `<level>:<metric>` columns `<metric>{priority_level="<level>"}`, and with
//!   several kube-apiserver replicas the `replica-<i>:<metric>` columns
//!   `kubesim_<metric>{replica="<i>"}`, and each client population's
//!   `<population>:apiserver_request_total` and `<population>:apiserver_request_total_429`
//!   columns `kubesim_client_population_requests_total{population}` and
//!   `kubesim_client_population_rejected_requests_total{population}`, and the autoscaling
//!   columns: `svc:<service>:<metric>` as `kubesim_service_<metric>{service}` (the three
//!   latency percentiles one family, `kubesim_service_latency_seconds{service,quantile}`)
//!   and `hpa:<namespace>/<name>:<metric>` with kube-state-metrics' labels
//!   `{namespace,horizontalpodautoscaler}` (and its names for the desired and current
//!   replicas). The sum over
//!   such a label is the total, so `timeseries.csv`'s `scheduler_pending_pods` (the sum) is
//!   not written a second time. Every sample also carries `kubesim_scenario` and
//!   `kubesim_seed`, so that imported runs never merge with each other or with a real
//!   cluster's series of the same name.
//! * **Types.** A cumulative column is a counter (family `foo`, samples `foo_total`); a level
//!   is a gauge. `kubeproxy_sync_proxy_rules_duration_seconds_count` is upstream the count of
//!   a histogram kubesim has no buckets for: it is the counter
//!   `kubesim_kubeproxy_sync_proxy_rules_total`. `etcd_revision` is a gauge, as etcd exports
//!   it.
//! * **Time.** A sample at virtual time `t` is stamped `start + t` in seconds since the Unix
//!   epoch, to the millisecond (what Prometheus keeps; the rest is dropped); when two samples
//!   fall in one millisecond only the later is written. The default start is
//!   [`DEFAULT_START`], a fixed instant: the output never depends on the wall clock.
//! * **Values.** Counts as integers, cores as exact decimals, everything else as Rust prints
//!   an `f64` (the shortest text that reads back to the same number; never an exponent), at
//!   full precision rather than `timeseries.csv`'s two decimals.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::api::resources::{CPU, MEMORY, PODS};
use crate::api::timestamp::{parse_rfc3339, rfc3339_nano};
use crate::apiserver::flowcontrol::LevelMetrics;
use crate::metrics::Sample;
use crate::sim::SimTime;

/// The file's name in a report folder.
pub const FILE: &str = "metrics.om";

/// The instant virtual time 0 stands for unless `--openmetrics-start` says otherwise.
pub const DEFAULT_START: &str = "2026-01-01T00:00:00Z";

/// [`DEFAULT_START`] in milliseconds since the Unix epoch.
const DEFAULT_START_MILLIS: u64 = 1_767_225_600_000;

/// The last start accepted, 2499-12-31T23:59:59.999Z, in milliseconds: far enough, and
/// every millisecond up to it still reads back exactly through Prometheus's `f64` seconds.
const MAX_START_MILLIS: u64 = 16_725_225_599_999;

const NANOS_PER_MILLI: u64 = 1_000_000;

/// The wall-clock instant virtual time 0 stands for in `metrics.om`, to the millisecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    unix_millis: u64,
}

impl Default for Start {
    /// [`DEFAULT_START`].
    fn default() -> Self {
        Start {
            unix_millis: DEFAULT_START_MILLIS,
        }
    }
}

impl Start {
    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> u64 {
        self.unix_millis
    }

    /// Milliseconds since the Unix epoch of virtual time `at`: the start plus `at`, whose
    /// sub-millisecond part is dropped.
    pub fn millis_at(self, at: SimTime) -> u64 {
        self.unix_millis
            .saturating_add(at.as_nanos() / NANOS_PER_MILLI)
    }
}

/// Why a `--openmetrics-start` value is not an instant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Neither an RFC 3339 time nor Unix seconds.
    #[error(
        "{text:?}: expected an RFC 3339 time such as 2026-01-01T00:00:00Z or \
         2026-01-01T01:00:00+01:00, or Unix seconds such as 1767225600"
    )]
    Malformed {
        /// The value given.
        text: String,
    },
    /// Finer than a millisecond, which Prometheus cannot keep.
    #[error("{text:?}: more precise than a millisecond, which is all Prometheus keeps")]
    TooPrecise {
        /// The value given.
        text: String,
    },
    /// Before the Unix epoch or after 2499-12-31T23:59:59.999Z.
    #[error("{text:?}: outside 1970-01-01T00:00:00Z to 2499-12-31T23:59:59.999Z")]
    OutOfRange {
        /// The value given.
        text: String,
    },
}

impl FromStr for Start {
    type Err = StartError;

    /// RFC 3339 (`2026-01-01T00:00:00Z`, a fraction of up to nine digits, `Z` or a `±hh:mm`
    /// offset) or Unix seconds (`1767225600`, `1767225600.5`); at most millisecond precision.
    fn from_str(text: &str) -> Result<Start, StartError> {
        let nanos = if text.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            unix_seconds_nanos(text)
        } else {
            rfc3339_nanos(text)
        };
        let nanos = nanos.ok_or_else(|| StartError::Malformed { text: text.into() })?;
        if nanos < 0 {
            return Err(StartError::OutOfRange { text: text.into() });
        }
        if nanos % i128::from(NANOS_PER_MILLI) != 0 {
            return Err(StartError::TooPrecise { text: text.into() });
        }
        let millis = u64::try_from(nanos / i128::from(NANOS_PER_MILLI))
            .ok()
            .filter(|&m| m <= MAX_START_MILLIS)
            .ok_or_else(|| StartError::OutOfRange { text: text.into() })?;
        Ok(Start {
            unix_millis: millis,
        })
    }
}

impl fmt::Display for Start {
    /// RFC 3339 in UTC, with the milliseconds when there are any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = SimTime::from_nanos(self.unix_millis * NANOS_PER_MILLI);
        f.write_str(&rfc3339_nano(at))
    }
}

/// Nanoseconds since the epoch of `digits[.fraction]` seconds (a fraction of up to nine
/// digits); `None` when malformed or too large.
fn unix_seconds_nanos(text: &str) -> Option<i128> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }
    let seconds: i128 = whole.parse().ok()?;
    let fraction_nanos: i128 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().ok()?
    };
    Some(seconds * 1_000_000_000 + fraction_nanos)
}

/// Nanoseconds since the epoch of an RFC 3339 time with `Z` or a `±hh:mm` offset (the `T` and
/// `Z` in either case); `None` when malformed or before 1970 as written.
fn rfc3339_nanos(text: &str) -> Option<i128> {
    let text = text.to_ascii_uppercase();
    if text.ends_with('Z') {
        return parse_rfc3339(&text).map(|t| i128::from(t.as_nanos()));
    }
    // `±hh:mm`: the clock reads local time; UTC is that minus the offset.
    let split = text.len().checked_sub(6)?;
    let (local, offset) = (text.get(..split)?, text.get(split..)?);
    let sign: i128 = match offset.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return None,
    };
    let (hours, minutes) = offset.get(1..)?.split_once(':')?;
    let field = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i128>().ok())
            .flatten()
    };
    let (hours, minutes) = (field(hours)?, field(minutes)?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    let local = parse_rfc3339(&format!("{local}Z"))?;
    Some(i128::from(local.as_nanos()) - sign * (hours * 3600 + minutes * 60) * 1_000_000_000)
}

/// The labels every sample of a run carries.
#[derive(Clone, Copy, Debug)]
pub struct RunLabels<'a> {
    /// The scenario's name (`kubesim_scenario`).
    pub scenario: &'a str,
    /// The run's seed (`kubesim_seed`).
    pub seed: u64,
}

/// A metric family's type, as `# TYPE` writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// A value that goes up and down; its samples carry the family's name.
    Gauge,
    /// A cumulative count; its samples are named `<family>_total`.
    Counter,
}

impl MetricType {
    /// The word `# TYPE` writes.
    pub fn name(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
        }
    }
}

/// A sample's value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Value {
    /// A count.
    Count(u64),
    /// A signed integer.
    Int(i64),
    /// Thousandths, written as an exact decimal (millicores as cores).
    Milli(i64),
    /// Anything else.
    Float(f64),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Milli(n) => {
                let sign = if n < 0 { "-" } else { "" };
                let (whole, rest) = (n.unsigned_abs() / 1000, n.unsigned_abs() % 1000);
                if rest == 0 {
                    write!(f, "{sign}{whole}")
                } else {
                    let fraction = format!("{rest:03}");
                    write!(f, "{sign}{whole}.{}", fraction.trim_end_matches('0'))
                }
            }
            Value::Float(x) if x.is_nan() => f.write_str("NaN"),
            Value::Float(x) if x.is_infinite() => {
                f.write_str(if x > 0.0 { "+Inf" } else { "-Inf" })
            }
            // Rust writes a finite f64 as the shortest decimal that reads back to it, without
            // an exponent: OpenMetrics' realnumber.
            Value::Float(x) => write!(f, "{x}"),
        }
    }
}

/// How a series reads its value from a sample; `None` where the sample has none.
type Read = fn(&Sample) -> Option<Value>;

/// One family of the sampled columns.
struct Column {
    family: &'static str,
    kind: MetricType,
    /// The unit `# UNIT` names; the family's name ends in `_<unit>`.
    unit: Option<&'static str>,
    help: &'static str,
    /// Each series: its label (name and value), if it has one, and how it reads a sample.
    series: &'static [(Option<(&'static str, &'static str)>, Read)],
}

impl Column {
    const fn gauge(
        family: &'static str,
        help: &'static str,
        series: &'static [(Option<(&'static str, &'static str)>, Read)],
    ) -> Column {
        Column {
            family,
            kind: MetricType::Gauge,
            unit: None,
            help,
            series,
        }
    }

    const fn counter(
        family: &'static str,
        help: &'static str,
        series: &'static [(Option<(&'static str, &'static str)>, Read)],
    ) -> Column {
        Column {
            kind: MetricType::Counter,
            ..Column::gauge(family, help, series)
        }
    }

    const fn unit(self, unit: &'static str) -> Column {
        Column {
            unit: Some(unit),
            ..self
        }
    }
}

fn count(n: u64) -> Option<Value> {
    Some(Value::Count(n))
}

fn int(n: i64) -> Option<Value> {
    Some(Value::Int(n))
}

fn float(x: f64) -> Option<Value> {
    Some(Value::Float(x))
}

fn milli(n: i64) -> Option<Value> {
    Some(Value::Milli(n))
}

/// `part / whole`, 0 when nothing is there to share (as `timeseries.csv`'s percentages).
fn ratio(part: f64, whole: f64) -> Option<Value> {
    float(if whole > 0.0 { part / whole } else { 0.0 })
}

fn allocation_ratio(s: &Sample, resource: &str) -> Option<Value> {
    ratio(
        s.requested.get(resource) as f64,
        s.allocatable.get(resource) as f64,
    )
}

/// The families of `timeseries.csv`'s columns, in its order (flow control's come after, one
/// per metric of [`LevelMetrics::gauges`]).
const COLUMNS: &[Column] = &[
    Column::gauge(
        "kubesim_nodes",
        "Nodes that exist.",
        &[(None, |s| count(s.nodes))],
    ),
    Column::gauge(
        "kubesim_nodes_unschedulable",
        "Cordoned nodes (spec.unschedulable).",
        &[(None, |s| count(s.nodes_unschedulable))],
    ),
    Column::gauge(
        "kubesim_pods",
        "Pods that exist.",
        &[(None, |s| count(s.pods))],
    ),
    Column::gauge(
        "kubesim_pods_bound",
        "Pods bound to a node and not finished.",
        &[(None, |s| count(s.pods_bound))],
    ),
    Column::gauge(
        "kubesim_pods_pending",
        "Pods without a node yet, not finished.",
        &[(None, |s| count(s.pods_pending))],
    ),
    Column::gauge(
        "kubesim_pods_terminating",
        "Pods whose graceful deletion is under way.",
        &[(None, |s| count(s.pods_terminating))],
    ),
    Column::gauge(
        "kubesim_cpu_requested_cores",
        "CPU requests of bound, unfinished pods.",
        &[(None, |s| milli(s.requested.milli_cpu))],
    )
    .unit("cores"),
    Column::gauge(
        "kubesim_cpu_allocatable_cores",
        "Allocatable CPU of all nodes.",
        &[(None, |s| milli(s.allocatable.milli_cpu))],
    )
    .unit("cores"),
    Column::gauge(
        "kubesim_cpu_allocation_ratio",
        "Requested over allocatable CPU.",
        &[(None, |s| allocation_ratio(s, CPU))],
    )
    .unit("ratio"),
    Column::gauge(
        "kubesim_memory_requested_bytes",
        "Memory requests of bound, unfinished pods.",
        &[(None, |s| int(s.requested.memory))],
    )
    .unit("bytes"),
    Column::gauge(
        "kubesim_memory_allocatable_bytes",
        "Allocatable memory of all nodes.",
        &[(None, |s| int(s.allocatable.memory))],
    )
    .unit("bytes"),
    Column::gauge(
        "kubesim_memory_allocation_ratio",
        "Requested over allocatable memory.",
        &[(None, |s| allocation_ratio(s, MEMORY))],
    )
    .unit("ratio"),
    Column::gauge(
        "kubesim_pods_allocation_ratio",
        "Bound, unfinished pods over the nodes' pod slots.",
        &[(None, |s| allocation_ratio(s, PODS))],
    )
    .unit("ratio"),
    Column::gauge(
        "kubesim_deployments",
        "Deployments that exist.",
        &[(None, |s| count(s.deployments))],
    ),
    Column::gauge(
        "kubesim_replicasets",
        "ReplicaSets that exist.",
        &[(None, |s| count(s.replicasets))],
    ),
    Column::counter(
        "apiserver_request",
        "Requests the apiserver answered, summed over verb, resource and code.",
        &[(None, |s| count(s.api_requests))],
    ),
    Column::counter(
        "kubesim_apiserver_mutating_request",
        "Of apiserver_request_total, the mutating requests.",
        &[(None, |s| count(s.api_writes))],
    ),
    Column::counter(
        "apiserver_watch_events",
        "Watch events delivered to watchers.",
        &[(None, |s| count(s.watch_events))],
    ),
    Column::gauge(
        "etcd_debugging_mvcc_current_revision",
        "The current revision of store (the store's resourceVersion).",
        &[(None, |s| count(s.revision))],
    ),
    Column::gauge(
        "scheduler_pending_pods",
        "Pods in kube-scheduler's queues, by queue.",
        &[
            (Some(("queue", "active")), |s| {
                count(s.scheduler_pending_pods.active as u64)
            }),
            (Some(("queue", "backoff")), |s| {
                count(s.scheduler_pending_pods.backoff as u64)
            }),
            (Some(("queue", "unschedulable")), |s| {
                count(s.scheduler_pending_pods.unschedulable as u64)
            }),
            (Some(("queue", "gated")), |s| {
                count(s.scheduler_pending_pods.gated as u64)
            }),
        ],
    ),
    Column::counter(
        "scheduler_schedule_attempts",
        "Scheduling attempts, summed over result and profile.",
        &[(None, |s| count(s.scheduler_attempts))],
    ),
    Column::gauge(
        "kubesim_cpu_allocation_spread_ratio",
        "Population standard deviation over nodes of their CPU allocation ratio.",
        &[(None, |s| float(s.cpu_allocation_spread_pct / 100.0))],
    )
    .unit("ratio"),
    Column::gauge(
        "kubesim_pods_by_phase",
        "Pods by status.phase.",
        &[
            (Some(("phase", "Pending")), |s| count(s.pods_by_phase[0])),
            (Some(("phase", "Running")), |s| count(s.pods_by_phase[1])),
            (Some(("phase", "Succeeded")), |s| count(s.pods_by_phase[2])),
            (Some(("phase", "Failed")), |s| count(s.pods_by_phase[3])),
            (Some(("phase", "Unknown")), |s| count(s.pods_by_phase[4])),
        ],
    ),
    Column::gauge(
        "kubesim_workloads_unconverged",
        "Deployments and uncontrolled ReplicaSets not holding their declared state.",
        &[(None, |s| count(s.workloads_unconverged))],
    ),
    Column::gauge(
        "kubesim_deployment_replicas_desired",
        "Sum over Deployments of spec.replicas.",
        &[(None, |s| int(s.deployment_replicas_desired))],
    ),
    Column::gauge(
        "kubesim_deployment_replicas_updated",
        "Sum over Deployments of status.updatedReplicas.",
        &[(None, |s| int(s.deployment_replicas_updated))],
    ),
    Column::gauge(
        "kubesim_deployment_replicas_available",
        "Sum over Deployments of status.availableReplicas.",
        &[(None, |s| int(s.deployment_replicas_available))],
    ),
    Column::gauge(
        "kubesim_deployment_replicas_unavailable",
        "Sum over Deployments of spec.replicas less status.availableReplicas.",
        &[(None, |s| int(s.deployment_replicas_unavailable))],
    ),
    Column::gauge(
        "kubesim_endpoint_slices",
        "EndpointSlices that exist.",
        &[(None, |s| count(s.endpoint_slices))],
    ),
    Column::counter(
        "kubesim_kubeproxy_sync_proxy_rules",
        "Rule syncs of every kube-proxy (kubeproxy_sync_proxy_rules_duration_seconds_count).",
        &[(None, |s| count(s.kube_proxy_syncs))],
    ),
    Column::gauge(
        "kubesim_nodes_by_ready_status",
        "Nodes by the status of their Ready condition (unknown: not posted yet).",
        &[
            (Some(("status", "true")), |s| count(s.node_health.ready)),
            (Some(("status", "false")), |s| {
                count(s.node_health.not_ready)
            }),
            (Some(("status", "unknown")), |s| {
                count(s.node_health.unknown)
            }),
        ],
    ),
    Column::gauge(
        "kubesim_nodes_tainted",
        "Nodes with the NoExecute taint.",
        &[
            (Some(("taint", "node.kubernetes.io/not-ready")), |s| {
                count(s.node_health.tainted_not_ready)
            }),
            (Some(("taint", "node.kubernetes.io/unreachable")), |s| {
                count(s.node_health.tainted_unreachable)
            }),
        ],
    ),
    Column::counter(
        "kubesim_pods_evicted",
        "Pods marked with the DisruptionTarget condition.",
        &[(None, |s| count(s.pods_evicted))],
    ),
    Column::gauge(
        "kubesim_gpu_allocation_ratio",
        "GPU milli bound pods hold over the GPU capacity.",
        &[(None, |s| {
            let g = s.gpu.as_ref()?;
            ratio(g.allocated_milli as f64, g.capacity_milli() as f64)
        })],
    )
    .unit("ratio"),
    Column::gauge(
        "kubesim_gpu_fragmentation_capacity_ratio",
        "GPU fragmentation against the target workload over the GPU capacity.",
        &[(None, |s| {
            let g = s.gpu.as_ref()?;
            ratio(g.frag.amount_milli(), g.capacity_milli() as f64)
        })],
    )
    .unit("ratio"),
    Column::gauge(
        "kubesim_gpu_fragmentation_idle_ratio",
        "GPU fragmentation against the target workload over the idle GPU.",
        &[(None, |s| {
            let g = s.gpu.as_ref()?;
            ratio(g.frag.amount_milli(), g.frag.idle_milli as f64)
        })],
    )
    .unit("ratio"),
    Column::gauge(
        "kubesim_apiserver_up",
        "1 while the apiserver process runs, 0 while it is down (modelled apiserver only).",
        &[(None, |s| count(u64::from(s.clients?.apiserver_up)))],
    ),
    Column::counter(
        "kubesim_apiserver_too_many_requests",
        "Requests the apiserver answered 429 (apiserver_request_total with code 429).",
        &[(None, |s| count(s.clients?.too_many_requests))],
    ),
    Column::counter(
        "kubesim_connections_refused",
        "Requests refused at the connection while the apiserver was down.",
        &[(None, |s| count(s.clients?.connections_refused))],
    ),
    Column::counter(
        "kubesim_connections_reset",
        "Requests whose connection was reset when the apiserver went down.",
        &[(None, |s| count(s.clients?.connections_reset))],
    ),
    Column::gauge(
        "kubesim_informers",
        "Informers of every component.",
        &[(None, |s| count(s.clients?.informers.informers))],
    ),
    Column::gauge(
        "kubesim_informers_following",
        "Informers with a watch open, or re-opening after a clean end.",
        &[(None, |s| count(s.clients?.informers.following))],
    ),
    Column::counter(
        "kubesim_reflector_lists",
        "LIST requests of informers answered, first lists included.",
        &[(None, |s| count(s.clients?.informers.lists))],
    ),
    Column::counter(
        "kubesim_reflector_streaming_lists",
        "Streaming lists (WATCH with sendInitialEvents) that filled an informer's cache.",
        &[(None, |s| count(s.clients?.informers.stream_lists))],
    ),
    Column::counter(
        "kubesim_reflector_relists",
        "LIST requests and streaming lists of informers beyond each one's first.",
        &[(None, |s| count(s.clients?.informers.relists()))],
    ),
    Column::counter(
        "kubesim_reflector_watches",
        "WATCH requests of informers answered.",
        &[(None, |s| count(s.clients?.informers.watches))],
    ),
    Column::counter(
        "kubesim_reflector_backoffs",
        "Backoffs the informers' reflectors decided.",
        &[(None, |s| count(s.clients?.informers.backoffs))],
    ),
    Column::gauge(
        "kubesim_apiserver_list_memory_bytes",
        "Memory the LIST answers being served hold (5 x objects x 2 KiB) and streaming lists sending their initial events (2 KiB each), the apiserver memory estimate.",
        &[(None, |s| count(s.clients?.list_memory_bytes))],
    )
    .unit("bytes"),
    Column::gauge(
        "leader_election_master_status",
        "Whether the component leads (1) or not (0), on its leader election's Lease.",
        &[
            (Some(("name", "kube-controller-manager")), |s| {
                count(u64::from(s.clients?.leaders.controller_manager?))
            }),
            (Some(("name", "kube-scheduler")), |s| {
                count(u64::from(s.clients?.leaders.scheduler?))
            }),
        ],
    ),
];

/// The help of flow control's metric `name` (one of [`LevelMetrics::gauges`]).
fn flow_control_help(name: &str) -> &'static str {
    match name {
        "apiserver_flowcontrol_nominal_limit_seats" => {
            "Nominal number of execution seats configured for each priority level."
        }
        "apiserver_flowcontrol_lower_limit_seats" => {
            "Configured lower bound on the execution seats of each priority level."
        }
        "apiserver_flowcontrol_upper_limit_seats" => {
            "Configured upper bound on the execution seats of each priority level."
        }
        "apiserver_flowcontrol_current_limit_seats" => {
            "Execution seats each priority level may use now."
        }
        "apiserver_flowcontrol_current_inqueue_requests" => {
            "Requests waiting in the queues of each priority level."
        }
        "apiserver_flowcontrol_current_inqueue_seats" => {
            "Seats of the requests waiting in the queues of each priority level."
        }
        "apiserver_flowcontrol_current_executing_requests" => {
            "Requests executing in each priority level."
        }
        "apiserver_flowcontrol_current_executing_seats" => {
            "Seats occupied by requests executing in each priority level."
        }
        "apiserver_flowcontrol_dispatched_requests" => {
            "Requests released by each priority level for service."
        }
        "apiserver_flowcontrol_rejected_requests" => {
            "Requests rejected by each priority level, summed over reason."
        }
        "apiserver_flowcontrol_demand_seats_high_watermark" => {
            "Highest seat demand of each priority level in the last adjustment period."
        }
        "apiserver_flowcontrol_demand_seats_average" => {
            "Time-weighted mean seat demand of each priority level in the last adjustment period."
        }
        "apiserver_flowcontrol_demand_seats_stdev" => {
            "Time-weighted standard deviation of the same seat demand."
        }
        "apiserver_flowcontrol_demand_seats_smoothed" => {
            "Smoothed seat demands of each priority level."
        }
        "apiserver_flowcontrol_target_seats" => "Seat allocation targets of each priority level.",
        _ => "A flow-control metric of each priority level.",
    }
}

/// The families of the per-replica columns `replica-<i>:<metric>`, in
/// [`crate::report::files::REPLICA_TIMESERIES_METRICS`]'s order: (metric, family, help); each
/// a gauge with the label `replica`.
const REPLICA_FAMILIES: &[(&str, &str, &str)] = &[
    (
        "apiserver_replica_up",
        "kubesim_apiserver_replica_up",
        "1 while the kube-apiserver replica's process runs, 0 while it is down.",
    ),
    (
        "apiserver_connected_clients",
        "kubesim_apiserver_connected_clients",
        "Clients whose connection the load balancer put on the replica.",
    ),
    (
        "apiserver_inflight_requests",
        "kubesim_apiserver_inflight_requests",
        "Requests holding the replica's flow-control seats.",
    ),
    (
        "apiserver_inqueue_requests",
        "kubesim_apiserver_inqueue_requests",
        "Requests waiting in the replica's flow-control queues.",
    ),
];

/// The per-replica families of `samples` (none with one replica).
fn replica_families(samples: &[(&Sample, u64)]) -> Vec<Family> {
    let replicas = samples
        .iter()
        .map(|(s, _)| s.replicas.len())
        .max()
        .unwrap_or(0);
    REPLICA_FAMILIES
        .iter()
        .enumerate()
        .map(|(index, &(_, name, help))| Family {
            name,
            kind: MetricType::Gauge,
            unit: None,
            help,
            series: (0..replicas)
                .map(|r| Series {
                    labels: vec![("replica", r.to_string())],
                    points: samples
                        .iter()
                        .filter_map(|&(s, ms)| {
                            let replica = s.replicas.get(r)?;
                            let value = crate::report::files::replica_metric(replica, index);
                            Some((ms, Value::Count(value)))
                        })
                        .collect(),
                })
                .filter(|series| !series.points.is_empty())
                .collect(),
        })
        .collect()
}

/// The families of the per-population columns `<population>:<metric>`, in
/// [`crate::report::files::POPULATION_TIMESERIES_METRICS`]'s order: (metric, family, help);
/// each a counter with the label `population`.
const POPULATION_FAMILIES: &[(&str, &str, &str)] = &[
    (
        "apiserver_request_total",
        "kubesim_client_population_requests",
        "Answers the client population's clients got, each try counted (apiserver_request_total of its clients).",
    ),
    (
        "apiserver_request_total_429",
        "kubesim_client_population_rejected_requests",
        "Of those, the answers 429 Too Many Requests.",
    ),
];

/// The per-population families of `samples` (none in runs without client populations).
fn population_families(samples: &[(&Sample, u64)]) -> Vec<Family> {
    // The last sample's names, as timeseries.csv takes them from its last row (the run's
    // last sample is always written: no later one shares its millisecond).
    let names: Vec<&str> = samples
        .last()
        .map(|(s, _)| s.populations.iter().map(|p| p.name.as_str()).collect())
        .unwrap_or_default();
    POPULATION_FAMILIES
        .iter()
        .enumerate()
        .map(|(index, &(_, name, help))| Family {
            name,
            kind: MetricType::Counter,
            unit: None,
            help,
            series: names
                .iter()
                .map(|&population| Series {
                    labels: vec![("population", population.to_string())],
                    points: samples
                        .iter()
                        .map(|&(s, ms)| {
                            let value =
                                crate::report::files::population_value(s, population, index);
                            (ms, Value::Count(value))
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

/// The families of the per-Service columns `svc:<service>:<metric>`, in
/// [`crate::report::autoscaling::SERVICE_METRICS`]'s order but for the three latency
/// percentiles, which are one family with a `quantile` label: (family, help, read); each a
/// gauge with the label `service`.
type ServiceRead = fn(&crate::metrics::autoscaling::ServiceSample) -> Option<f64>;
const SERVICE_FAMILIES: &[(&str, &str, ServiceRead)] = &[
    (
        "kubesim_service_offered_requests_per_second",
        "Requests per second offered to the Service (spec.traffic).",
        |v| Some(v.offered),
    ),
    (
        "kubesim_service_served_requests_per_second",
        "Of those, served by its pods.",
        |v| Some(v.served),
    ),
    (
        "kubesim_service_dropped_requests_per_second",
        "Of those, dropped: a full queue, a throttled pod, no ready endpoint.",
        |v| Some(v.dropped),
    ),
    (
        "kubesim_service_ready_endpoints",
        "Ready endpoints the Service's traffic is spread over.",
        |v| Some(v.endpoints as f64),
    ),
    (
        "kubesim_service_throttled_pods",
        "The Service's pods held at their CPU limit.",
        |v| Some(v.throttled as f64),
    ),
];

/// The latency quantiles of `svc:<service>:latency_p50_ms`, `…_p95_ms` and `…_p99_ms`.
const LATENCY_QUANTILES: [&str; 3] = ["0.5", "0.95", "0.99"];

/// The families of the per-HPA columns `hpa:<namespace>/<name>:<metric>`, in
/// [`crate::report::autoscaling::HPA_METRICS`]'s order: (family, help, read); each a gauge
/// with kube-state-metrics' labels `namespace` and `horizontalpodautoscaler`, and its names
/// where it has the metric.
type HpaRead = fn(&crate::metrics::autoscaling::HpaSample) -> Option<Value>;
const HPA_FAMILIES: &[(&str, &str, HpaRead)] = &[
    (
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "Desired number of replicas of pods managed by this autoscaler.",
        |h| int(i64::from(h.desired)),
    ),
    (
        "kube_horizontalpodautoscaler_status_current_replicas",
        "Current number of replicas of pods managed by this autoscaler.",
        |h| int(i64::from(h.current)),
    ),
    (
        "kubesim_horizontalpodautoscaler_target_ready_replicas",
        "Ready replicas of the autoscaler's target.",
        |h| int(i64::from(h.ready)),
    ),
    (
        "kubesim_horizontalpodautoscaler_cpu_utilization_ratio",
        "The autoscaler's CPU utilization of the pods' requests, as its status reports it.",
        |h| h.utilization.and_then(|u| float(f64::from(u) / 100.0)),
    ),
    (
        "kubesim_horizontalpodautoscaler_cpu_target_utilization_ratio",
        "The autoscaler's target CPU utilization.",
        |h| {
            h.target_utilization
                .and_then(|u| float(f64::from(u) / 100.0))
        },
    ),
    (
        "kubesim_horizontalpodautoscaler_metric_value",
        "The value of the autoscaler's first metric with an AverageValue or Value target (per pod for an average), as its status reports it.",
        |h| h.metric_value_milli.and_then(|m| float(m as f64 / 1000.0)),
    ),
    (
        "kubesim_horizontalpodautoscaler_metric_target",
        "The target of that metric.",
        |h| h.metric_target_milli.and_then(|m| float(m as f64 / 1000.0)),
    ),
];

/// The per-Service and per-HPA families of `samples` (none in runs without traffic or a
/// metrics-server).
fn autoscaling_families(samples: &[(&Sample, u64)], all: &[Sample]) -> Vec<Family> {
    use crate::report::autoscaling::{Columns, hpa_in, key_order, service_at};
    let columns = Columns::new(all);
    let services = columns.services();
    let service_series =
        |read: &dyn Fn(&crate::metrics::autoscaling::ServiceSample) -> Option<f64>,
         extra: Option<(&'static str, &str)>| {
            services
                .iter()
                .enumerate()
                .map(|(index, &name)| {
                    let mut labels = vec![("service", name.to_string())];
                    labels.extend(extra.map(|(k, v)| (k, v.to_string())));
                    Series {
                        labels,
                        points: samples
                            .iter()
                            .filter_map(|&(s, ms)| {
                                Some((ms, Value::Float(read(service_at(s, index, name)?)?)))
                            })
                            .collect(),
                    }
                })
                .filter(|series| !series.points.is_empty())
                .collect::<Vec<_>>()
        };
    let mut families: Vec<Family> = SERVICE_FAMILIES
        .iter()
        .map(|&(name, help, read)| Family {
            name,
            kind: MetricType::Gauge,
            unit: None,
            help,
            series: service_series(&read, None),
        })
        .collect();
    families.push(Family {
        name: "kubesim_service_latency_seconds",
        kind: MetricType::Gauge,
        unit: Some("seconds"),
        help: "Latency of the Service's served requests at the quantile (with a server).",
        series: LATENCY_QUANTILES
            .iter()
            .enumerate()
            .flat_map(|(q, quantile)| {
                service_series(
                    &|v| v.latency_ms.map(|l| l[q] / 1000.0),
                    Some(("quantile", quantile)),
                )
            })
            .collect(),
    });
    families.extend(HPA_FAMILIES.iter().map(|&(name, help, read)| {
        Family {
            name,
            kind: MetricType::Gauge,
            unit: None,
            help,
            series: columns
                .hpas()
                .iter()
                .map(|&hpa| {
                    let (namespace, object) = key_order(hpa);
                    Series {
                        labels: vec![
                            ("namespace", namespace.to_string()),
                            ("horizontalpodautoscaler", object.to_string()),
                        ],
                        points: samples
                            .iter()
                            .filter_map(|&(s, ms)| Some((ms, read(hpa_in(s, hpa)?)?)))
                            .collect(),
                    }
                })
                .filter(|series| !series.points.is_empty())
                .collect(),
        }
    }));
    families
}

/// One series: its own labels and its points (milliseconds since the epoch, value).
struct Series {
    labels: Vec<(&'static str, String)>,
    points: Vec<(u64, Value)>,
}

/// One family with the series that have points.
struct Family {
    name: &'static str,
    kind: MetricType,
    unit: Option<&'static str>,
    help: &'static str,
    series: Vec<Series>,
}

/// Each sample with the millisecond it is stamped with, leaving out a sample when the next
/// one falls in the same millisecond (Prometheus would refuse two values at one instant).
fn stamped(samples: &[Sample], start: Start) -> Vec<(&Sample, u64)> {
    let stamps: Vec<u64> = samples.iter().map(|s| start.millis_at(s.at)).collect();
    samples
        .iter()
        .zip(&stamps)
        .enumerate()
        .filter(|&(i, (_, &ms))| stamps.get(i + 1) != Some(&ms))
        .map(|(_, (s, &ms))| (s, ms))
        .collect()
}

/// The families of `samples`, in `timeseries.csv`'s order; families without a point (GPU
/// families without GPU nodes, flow control in an ideal run) are left out.
fn families(samples: &[(&Sample, u64)], all: &[Sample]) -> Vec<Family> {
    let mut families = Vec::new();
    for column in COLUMNS {
        let series = column
            .series
            .iter()
            .map(|&(label, read)| Series {
                labels: label
                    .map(|(name, value)| vec![(name, value.to_string())])
                    .unwrap_or_default(),
                points: samples
                    .iter()
                    .filter_map(|&(s, ms)| Some((ms, read(s)?)))
                    .collect(),
            })
            .filter(|series| !series.points.is_empty())
            .collect();
        families.push(Family {
            name: column.family,
            kind: column.kind,
            unit: column.unit,
            help: column.help,
            series,
        });
    }
    // Flow control's levels, in the order the samples first name them.
    let mut levels: Vec<&str> = Vec::new();
    for (s, _) in samples {
        for (level, _) in s.flowcontrol.iter().flatten() {
            if !levels.contains(&level.as_str()) {
                levels.push(level);
            }
        }
    }
    let metrics = LevelMetrics::default().gauges();
    for (index, &(metric, _)) in metrics.iter().enumerate() {
        let (name, kind) = match metric.strip_suffix("_total") {
            Some(family) => (family, MetricType::Counter),
            None => (metric, MetricType::Gauge),
        };
        let series = levels
            .iter()
            .map(|&level| Series {
                labels: vec![("priority_level", level.to_string())],
                points: samples
                    .iter()
                    .filter_map(|&(s, ms)| {
                        let (_, gauges) = s
                            .flowcontrol
                            .as_ref()?
                            .iter()
                            .find(|(name, _)| name == level)?;
                        Some((ms, Value::Float(*gauges.get(index)?)))
                    })
                    .collect(),
            })
            .filter(|series| !series.points.is_empty())
            .collect();
        families.push(Family {
            name,
            kind,
            unit: None,
            help: flow_control_help(name),
            series,
        });
    }
    families.extend(replica_families(samples));
    families.extend(population_families(samples));
    families.extend(autoscaling_families(samples, all));
    families.retain(|f| !f.series.is_empty());
    families
}

/// `text` escaped for a label value or help text: `\` as `\\`, `"` as `\"`, a line feed as
/// `\n`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds since the epoch of `millis`: whole seconds, or with the milliseconds (trailing
/// zeros dropped). Prometheus reads it back as `int64(seconds × 1000)`, exactly these
/// milliseconds.
fn seconds(millis: u64) -> String {
    let (whole, rest) = (millis / 1000, millis % 1000);
    if rest == 0 {
        whole.to_string()
    } else {
        let fraction = format!("{rest:03}");
        format!("{whole}.{}", fraction.trim_end_matches('0'))
    }
}

/// The bytes of `metrics.om`: every family of `samples`, each sample stamped `start` plus its
/// virtual time and labelled with `run`, then `# EOF`.
pub fn render(samples: &[Sample], run: &RunLabels<'_>, start: Start) -> Vec<u8> {
    let stamped = stamped(samples, start);
    let run_labels = format!(
        "kubesim_scenario=\"{}\",kubesim_seed=\"{}\"",
        escape(run.scenario),
        run.seed
    );
    let mut out = String::new();
    for family in families(&stamped, samples) {
        // Writing into a String cannot fail.
        let _ = writeln!(out, "# HELP {} {}", family.name, escape(family.help));
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.name());
        if let Some(unit) = family.unit {
            let _ = writeln!(out, "# UNIT {} {unit}", family.name);
        }
        let suffix = match family.kind {
            MetricType::Counter => "_total",
            MetricType::Gauge => "",
        };
        for series in &family.series {
            let mut labels = String::new();
            for (name, value) in &series.labels {
                let _ = write!(labels, "{name}=\"{}\",", escape(value));
            }
            labels.push_str(&run_labels);
            for (ms, value) in &series.points {
                let _ = writeln!(
                    out,
                    "{}{suffix}{{{labels}}} {value} {}",
                    family.name,
                    seconds(*ms)
                );
            }
        }
    }
    out.push_str("# EOF\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::Resources;
    use crate::metrics::healing::NodeHealthCounts;
    use crate::scheduler::queue::PendingPods;
    use crate::sim::SimDuration;

    fn start(text: &str) -> Start {
        match text.parse() {
            Ok(start) => start,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn at_secs(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    fn text(samples: &[Sample], scenario: &str, start: Start) -> String {
        let bytes = render(samples, &RunLabels { scenario, seed: 7 }, start);
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// The lines of `text` that are samples of `name` (exactly, before its labels).
    fn lines_of<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
        text.lines()
            .filter(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with('{')))
            .collect()
    }

    #[test]
    fn the_default_start_is_the_first_instant_of_2026() {
        // 2026-01-01 is 20 454 days after 1970-01-01 (56 years, 14 of them leap years):
        // 20 454 × 86 400 = 1 767 225 600 s.
        assert_eq!(Start::default().unix_millis(), 1_767_225_600_000);
        assert_eq!(start(DEFAULT_START), Start::default());
        assert_eq!(Start::default().to_string(), DEFAULT_START);
    }

    #[test]
    fn starts_read_rfc3339_with_offsets_and_unix_seconds() {
        let cases = [
            ("2026-01-01T00:00:00Z", 1_767_225_600_000),
            ("2026-01-01t00:00:00z", 1_767_225_600_000),
            ("2026-01-01T01:00:00+01:00", 1_767_225_600_000),
            ("2025-12-31T19:30:00-04:30", 1_767_225_600_000),
            ("2026-01-01T00:00:00.25Z", 1_767_225_600_250),
            ("2026-01-01T00:00:00.123000000Z", 1_767_225_600_123),
            ("1767225600", 1_767_225_600_000),
            ("1767225600.5", 1_767_225_600_500),
            ("0", 0),
            ("1970-01-01T00:00:00Z", 0),
            ("2499-12-31T23:59:59.999Z", 16_725_225_599_999),
        ];
        for (text, millis) in cases {
            assert_eq!(start(text).unix_millis(), millis, "{text}");
        }
        assert_eq!(start("1767225600.5").to_string(), "2026-01-01T00:00:00.5Z");
    }

    #[test]
    fn bad_starts_say_why() {
        for text in [
            "",
            "yesterday",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00+24:00",
            "1767225600.",
            ".5",
            "1.2.3",
            "-1",
            "1e9",
        ] {
            assert!(
                matches!(text.parse::<Start>(), Err(StartError::Malformed { .. })),
                "{text:?}: {:?}",
                text.parse::<Start>()
            );
        }
        for text in ["1767225600.0005", "2026-01-01T00:00:00.0001Z"] {
            assert!(
                matches!(text.parse::<Start>(), Err(StartError::TooPrecise { .. })),
                "{text}"
            );
        }
        // Half an hour before the epoch in UTC; the first instant of 2500, as a time and in
        // seconds.
        for text in [
            "1970-01-01T00:30:00+01:00",
            "2500-01-01T00:00:00Z",
            "16725225600",
        ] {
            assert!(
                matches!(text.parse::<Start>(), Err(StartError::OutOfRange { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn timestamps_are_seconds_to_the_millisecond_that_prometheus_reads_back() {
        let s = Start::default();
        // Virtual 90 s from 2026-01-01T00:00:00Z: 1 767 225 600 + 90.
        assert_eq!(seconds(s.millis_at(at_secs(90))), "1767225690");
        // 90.25 s, and 1.5 ms past it: the half millisecond is dropped.
        let t = SimTime::from_nanos(90_250_000_000);
        assert_eq!(seconds(s.millis_at(t)), "1767225690.25");
        let t = SimTime::from_nanos(90_001_500_000);
        assert_eq!(seconds(s.millis_at(t)), "1767225690.001");
        // Prometheus's parser takes `int64(float64(text) * 1000)`: every millisecond of a
        // 10-minute run, and of the last seconds RFC 3339 can write, comes back exact.
        for base in [DEFAULT_START_MILLIS, MAX_START_MILLIS - 599_999] {
            for ms in (base..base + 600_000).step_by(7) {
                let text = seconds(ms);
                let read = text.parse::<f64>().map(|x| (x * 1000.0) as i64);
                assert_eq!(read, Ok(ms as i64), "{text}");
            }
        }
    }

    #[test]
    fn values_are_integers_exact_decimals_or_shortest_floats() {
        assert_eq!(Value::Count(42).to_string(), "42");
        assert_eq!(Value::Int(-3).to_string(), "-3");
        assert_eq!(Value::Milli(1500).to_string(), "1.5");
        assert_eq!(Value::Milli(2000).to_string(), "2");
        assert_eq!(Value::Milli(7).to_string(), "0.007");
        assert_eq!(Value::Milli(-250).to_string(), "-0.25");
        assert_eq!(Value::Float(0.375).to_string(), "0.375");
        assert_eq!(Value::Float(12.0).to_string(), "12");
        assert_eq!(Value::Float(1e-7).to_string(), "0.0000001");
        assert_eq!(Value::Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Value::Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Value::Float(f64::NEG_INFINITY).to_string(), "-Inf");
    }

    #[test]
    fn label_values_and_help_escape_backslash_quote_and_newline() {
        assert_eq!(escape(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape("two\nlines"), "two\\nlines");
        assert_eq!(escape("plain ü"), "plain ü");
    }

    /// Two samples: at 0 s a bare cluster, at 90 s two nodes of 4 cores and 8 GiB, three pods,
    /// 1.5 cores and 1 GiB requested, five requests of which two writes.
    fn two_samples() -> Vec<Sample> {
        let empty = Sample::default();
        let later = Sample {
            at: at_secs(90),
            nodes: 2,
            pods: 3,
            pods_bound: 3,
            requested: Resources {
                milli_cpu: 1500,
                memory: 1 << 30,
                pods: 3,
                ..Resources::default()
            },
            allocatable: Resources {
                milli_cpu: 8000,
                memory: 8 << 30,
                pods: 220,
                ..Resources::default()
            },
            api_requests: 5,
            api_writes: 2,
            revision: 9,
            scheduler_pending_pods: PendingPods {
                active: 1,
                backoff: 0,
                unschedulable: 2,
                gated: 0,
            },
            pods_by_phase: [0, 3, 0, 0, 0],
            node_health: NodeHealthCounts {
                ready: 2,
                ..NodeHealthCounts::default()
            },
            ..Sample::default()
        };
        vec![empty, later]
    }

    #[test]
    fn a_sample_at_90s_is_stamped_1767225690_with_its_values() {
        let text = text(&two_samples(), "quickstart", Start::default());
        let run = r#"kubesim_scenario="quickstart",kubesim_seed="7""#;
        assert_eq!(
            lines_of(&text, "kubesim_nodes"),
            [
                format!("kubesim_nodes{{{run}}} 0 1767225600"),
                format!("kubesim_nodes{{{run}}} 2 1767225690"),
            ]
        );
        // A counter's samples are `_total`; its family, in # TYPE, is not.
        assert!(text.contains("# TYPE apiserver_request counter\n"));
        assert_eq!(
            lines_of(&text, "apiserver_request_total")[1],
            format!("apiserver_request_total{{{run}}} 5 1767225690")
        );
        assert_eq!(
            lines_of(&text, "kubesim_apiserver_mutating_request_total")[1],
            format!("kubesim_apiserver_mutating_request_total{{{run}}} 2 1767225690")
        );
        // 1500 millicores are 1.5 cores; 1.5 of 8 cores is 0.1875; 1 of 8 GiB is 0.125.
        assert_eq!(
            lines_of(&text, "kubesim_cpu_requested_cores")[1],
            format!("kubesim_cpu_requested_cores{{{run}}} 1.5 1767225690")
        );
        assert_eq!(
            lines_of(&text, "kubesim_cpu_allocation_ratio")[1],
            format!("kubesim_cpu_allocation_ratio{{{run}}} 0.1875 1767225690")
        );
        assert_eq!(
            lines_of(&text, "kubesim_memory_requested_bytes")[1],
            format!("kubesim_memory_requested_bytes{{{run}}} 1073741824 1767225690")
        );
        assert_eq!(
            lines_of(&text, "kubesim_memory_allocation_ratio")[1],
            format!("kubesim_memory_allocation_ratio{{{run}}} 0.125 1767225690")
        );
        // Nothing allocatable at 0 s: a ratio of 0, as timeseries.csv's 0.00 %.
        assert_eq!(
            lines_of(&text, "kubesim_pods_allocation_ratio")[0],
            format!("kubesim_pods_allocation_ratio{{{run}}} 0 1767225600")
        );
        assert_eq!(
            lines_of(&text, "etcd_debugging_mvcc_current_revision")[1],
            format!("etcd_debugging_mvcc_current_revision{{{run}}} 9 1767225690")
        );
        // The queue is a label, each series' samples together, in time order.
        assert_eq!(
            lines_of(&text, "scheduler_pending_pods"),
            [
                format!(r#"scheduler_pending_pods{{queue="active",{run}}} 0 1767225600"#),
                format!(r#"scheduler_pending_pods{{queue="active",{run}}} 1 1767225690"#),
                format!(r#"scheduler_pending_pods{{queue="backoff",{run}}} 0 1767225600"#),
                format!(r#"scheduler_pending_pods{{queue="backoff",{run}}} 0 1767225690"#),
                format!(r#"scheduler_pending_pods{{queue="unschedulable",{run}}} 0 1767225600"#),
                format!(r#"scheduler_pending_pods{{queue="unschedulable",{run}}} 2 1767225690"#),
                format!(r#"scheduler_pending_pods{{queue="gated",{run}}} 0 1767225600"#),
                format!(r#"scheduler_pending_pods{{queue="gated",{run}}} 0 1767225690"#),
            ]
        );
        assert_eq!(
            lines_of(&text, "kubesim_pods_by_phase")[3],
            format!(r#"kubesim_pods_by_phase{{phase="Running",{run}}} 3 1767225690"#)
        );
        // No GPU node and no modelled request path: no such families at all.
        assert!(!text.contains("kubesim_gpu"));
        assert!(!text.contains("apiserver_flowcontrol"));
        assert!(text.ends_with("\n# EOF\n"));
        assert!(!text.contains("\n\n"));
    }

    #[test]
    fn descriptors_come_first_and_units_end_the_name() {
        let text = text(&two_samples(), "quickstart", Start::default());
        let head: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("# HELP kubesim_cpu_requested_cores "))
            .take(4)
            .collect();
        assert_eq!(
            head,
            [
                "# HELP kubesim_cpu_requested_cores CPU requests of bound, unfinished pods.",
                "# TYPE kubesim_cpu_requested_cores gauge",
                "# UNIT kubesim_cpu_requested_cores cores",
                "kubesim_cpu_requested_cores{kubesim_scenario=\"quickstart\",\
                 kubesim_seed=\"7\"} 0 1767225600",
            ]
        );
        let mut names: Vec<&str> = COLUMNS.iter().map(|c| c.family).collect();
        for column in COLUMNS {
            if let Some(unit) = column.unit {
                assert!(
                    column.family.ends_with(&format!("_{unit}")),
                    "{}",
                    column.family
                );
            }
            assert!(!column.family.ends_with("_total"), "{}", column.family);
        }
        let flow: Vec<&str> = LevelMetrics::default()
            .gauges()
            .iter()
            .map(|(name, _)| name.strip_suffix("_total").unwrap_or(name))
            .collect();
        names.extend(&flow);
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a family name twice");
        for name in flow {
            assert_ne!(
                flow_control_help(name),
                flow_control_help("none"),
                "{name} has no help"
            );
        }
    }

    /// Each `timeseries.csv` column (but the time) and the family that carries it.
    const CSV_FAMILIES: &[(&str, &str)] = &[
        ("nodes", "kubesim_nodes"),
        ("nodes_unschedulable", "kubesim_nodes_unschedulable"),
        ("pods", "kubesim_pods"),
        ("pods_bound", "kubesim_pods_bound"),
        ("pods_pending", "kubesim_pods_pending"),
        ("pods_terminating", "kubesim_pods_terminating"),
        ("cpu_requested_millicores", "kubesim_cpu_requested_cores"),
        (
            "cpu_allocatable_millicores",
            "kubesim_cpu_allocatable_cores",
        ),
        ("cpu_allocation_pct", "kubesim_cpu_allocation_ratio"),
        ("memory_requested_bytes", "kubesim_memory_requested_bytes"),
        (
            "memory_allocatable_bytes",
            "kubesim_memory_allocatable_bytes",
        ),
        ("memory_allocation_pct", "kubesim_memory_allocation_ratio"),
        ("pods_allocation_pct", "kubesim_pods_allocation_ratio"),
        ("deployments", "kubesim_deployments"),
        ("replicasets", "kubesim_replicasets"),
        ("apiserver_request_total", "apiserver_request"),
        (
            "apiserver_mutating_request_total",
            "kubesim_apiserver_mutating_request",
        ),
        ("apiserver_watch_events_total", "apiserver_watch_events"),
        ("etcd_revision", "etcd_debugging_mvcc_current_revision"),
        ("scheduler_pending_pods", "scheduler_pending_pods"),
        ("scheduler_pending_pods_active", "scheduler_pending_pods"),
        ("scheduler_pending_pods_backoff", "scheduler_pending_pods"),
        (
            "scheduler_pending_pods_unschedulable",
            "scheduler_pending_pods",
        ),
        ("scheduler_pending_pods_gated", "scheduler_pending_pods"),
        (
            "scheduler_schedule_attempts_total",
            "scheduler_schedule_attempts",
        ),
        (
            "cpu_allocation_spread_pct",
            "kubesim_cpu_allocation_spread_ratio",
        ),
        ("pods_phase_pending", "kubesim_pods_by_phase"),
        ("pods_phase_running", "kubesim_pods_by_phase"),
        ("pods_phase_succeeded", "kubesim_pods_by_phase"),
        ("pods_phase_failed", "kubesim_pods_by_phase"),
        ("pods_phase_unknown", "kubesim_pods_by_phase"),
        ("workloads_unconverged", "kubesim_workloads_unconverged"),
        (
            "deployment_replicas_desired",
            "kubesim_deployment_replicas_desired",
        ),
        (
            "deployment_replicas_updated",
            "kubesim_deployment_replicas_updated",
        ),
        (
            "deployment_replicas_available",
            "kubesim_deployment_replicas_available",
        ),
        (
            "deployment_replicas_unavailable",
            "kubesim_deployment_replicas_unavailable",
        ),
        ("endpoint_slices", "kubesim_endpoint_slices"),
        (
            "kubeproxy_sync_proxy_rules_duration_seconds_count",
            "kubesim_kubeproxy_sync_proxy_rules",
        ),
        ("nodes_ready", "kubesim_nodes_by_ready_status"),
        ("nodes_not_ready", "kubesim_nodes_by_ready_status"),
        ("nodes_ready_unknown", "kubesim_nodes_by_ready_status"),
        ("nodes_tainted_not_ready", "kubesim_nodes_tainted"),
        ("nodes_tainted_unreachable", "kubesim_nodes_tainted"),
        ("pods_evicted_total", "kubesim_pods_evicted"),
        ("gpu_allocation_pct", "kubesim_gpu_allocation_ratio"),
        (
            "gpu_frag_amount_pct",
            "kubesim_gpu_fragmentation_capacity_ratio",
        ),
        ("gpu_frag_ratio_pct", "kubesim_gpu_fragmentation_idle_ratio"),
        ("apiserver_up", "kubesim_apiserver_up"),
        (
            "apiserver_request_total_429",
            "kubesim_apiserver_too_many_requests",
        ),
        ("connections_refused_total", "kubesim_connections_refused"),
        ("connections_reset_total", "kubesim_connections_reset"),
        ("informers", "kubesim_informers"),
        ("informers_following", "kubesim_informers_following"),
        ("reflector_lists_total", "kubesim_reflector_lists"),
        (
            "reflector_streaming_lists_total",
            "kubesim_reflector_streaming_lists",
        ),
        ("reflector_relists_total", "kubesim_reflector_relists"),
        ("reflector_watches_total", "kubesim_reflector_watches"),
        ("reflector_backoffs_total", "kubesim_reflector_backoffs"),
        (
            "apiserver_list_memory_bytes",
            "kubesim_apiserver_list_memory_bytes",
        ),
        (
            "kube-controller-manager:leader_election_master_status",
            "leader_election_master_status",
        ),
        (
            "kube-scheduler:leader_election_master_status",
            "leader_election_master_status",
        ),
    ];

    #[test]
    fn every_timeseries_column_has_its_family() {
        // A column added to timeseries.csv without a family here (or a family without a
        // column) fails: metrics.om carries exactly timeseries.csv's series.
        use crate::report::files::{
            CLIENT_TIMESERIES_COLUMNS, GPU_TIMESERIES_COLUMNS, TIMESERIES_COLUMNS,
        };
        let csv: Vec<&str> = TIMESERIES_COLUMNS
            .iter()
            .chain(GPU_TIMESERIES_COLUMNS)
            .chain(CLIENT_TIMESERIES_COLUMNS)
            .copied()
            .filter(|&c| c != "t_seconds")
            .collect();
        let mapped: Vec<&str> = CSV_FAMILIES.iter().map(|&(c, _)| c).collect();
        assert_eq!(mapped, csv);
        let mut families: Vec<&str> = CSV_FAMILIES.iter().map(|&(_, f)| f).collect();
        families.dedup();
        let columns: Vec<&str> = COLUMNS.iter().map(|c| c.family).collect();
        assert_eq!(families, columns);
        // A column per label value: the series of a labelled family are its columns (the
        // pending pods' total aside, which is their sum).
        for column in COLUMNS {
            let carried = CSV_FAMILIES
                .iter()
                .filter(|&&(c, f)| f == column.family && c != "scheduler_pending_pods")
                .count();
            assert_eq!(column.series.len(), carried, "{}", column.family);
        }
    }

    #[test]
    fn every_replica_column_has_its_family_with_a_replica_label() {
        use crate::metrics::ReplicaSample;
        use crate::report::files::REPLICA_TIMESERIES_METRICS;
        let metrics: Vec<&str> = REPLICA_FAMILIES.iter().map(|&(m, _, _)| m).collect();
        assert_eq!(metrics, REPLICA_TIMESERIES_METRICS);
        for &(metric, family, _) in REPLICA_FAMILIES {
            assert_eq!(family, format!("kubesim_{metric}"));
        }
        // Two replicas, the second down with nobody connected.
        let mut samples = two_samples();
        for s in &mut samples {
            s.replicas = vec![
                ReplicaSample {
                    up: true,
                    connected_clients: 12,
                    inflight_requests: 3,
                    inqueue_requests: 1,
                },
                ReplicaSample::default(),
            ];
        }
        let text = text(&samples, "ha", start("2026-01-01T00:00:00Z"));
        let clients = lines_of(&text, "kubesim_apiserver_connected_clients");
        assert_eq!(clients.len(), 4, "{clients:?}");
        assert!(clients[0].starts_with(
            "kubesim_apiserver_connected_clients{replica=\"0\",kubesim_scenario=\"ha\""
        ));
        assert!(clients[0].contains("} 12 "), "{}", clients[0]);
        assert!(clients[2].contains("replica=\"1\""), "{}", clients[2]);
        assert!(text.contains("# TYPE kubesim_apiserver_replica_up gauge"));
        // One replica: no such family.
        let plain = text_of_two();
        assert!(!plain.contains("kubesim_apiserver_connected_clients"));
    }

    #[test]
    fn every_population_column_has_its_counter_with_a_population_label() {
        use crate::metrics::PopulationSample;
        use crate::report::files::{POPULATION_TIMESERIES_METRICS, timeseries_csv};
        let metrics: Vec<&str> = POPULATION_FAMILIES.iter().map(|&(m, _, _)| m).collect();
        assert_eq!(metrics, POPULATION_TIMESERIES_METRICS);
        // The scraper is listed from the second sample on (a group appears with its first
        // answer), kubectl from the first: 6 answers, 3 of them 429, by 90 s.
        let mut samples = two_samples();
        let population = |name: &str, requests, rejected| PopulationSample {
            name: name.into(),
            requests,
            rejected,
        };
        samples[0].populations = vec![population("kubectl", 1, 0)];
        samples[1].populations = vec![population("inventory", 6, 3), population("kubectl", 1, 0)];
        let csv = String::from_utf8(timeseries_csv(&samples)).unwrap_or_default();
        let header: Vec<&str> = csv.lines().next().unwrap_or_default().split(',').collect();
        assert_eq!(
            header[header.len() - 4..],
            [
                "inventory:apiserver_request_total",
                "inventory:apiserver_request_total_429",
                "kubectl:apiserver_request_total",
                "kubectl:apiserver_request_total_429",
            ]
        );
        // Before its first answer a population's counts are 0.
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert!(rows[0].ends_with(",0,0,1,0"), "{}", rows[0]);
        assert!(rows[1].ends_with(",6,3,1,0"), "{}", rows[1]);
        let text = text(&samples, "p", start("2026-01-01T00:00:00Z"));
        assert!(text.contains("# TYPE kubesim_client_population_requests counter\n"));
        assert_eq!(
            lines_of(&text, "kubesim_client_population_rejected_requests_total"),
            [
                "kubesim_client_population_rejected_requests_total{population=\"inventory\",\
                 kubesim_scenario=\"p\",kubesim_seed=\"7\"} 0 1767225600",
                "kubesim_client_population_rejected_requests_total{population=\"inventory\",\
                 kubesim_scenario=\"p\",kubesim_seed=\"7\"} 3 1767225690",
                "kubesim_client_population_rejected_requests_total{population=\"kubectl\",\
                 kubesim_scenario=\"p\",kubesim_seed=\"7\"} 0 1767225600",
                "kubesim_client_population_rejected_requests_total{population=\"kubectl\",\
                 kubesim_scenario=\"p\",kubesim_seed=\"7\"} 0 1767225690",
            ]
        );
        // Without populations: neither columns nor families.
        let plain = text_of_two();
        assert!(!plain.contains("kubesim_client_population"));
        let plain_csv = String::from_utf8(timeseries_csv(&two_samples())).unwrap_or_default();
        assert!(!plain_csv.contains("apiserver_request_total_429"));
    }

    #[test]
    fn service_and_hpa_columns_become_gauges_with_their_labels() {
        use crate::metrics::autoscaling::{HpaSample, ServiceSample};
        // One Service in both samples, its latency known only in the first; one HPA only in
        // the first: a family's series have a point only where the column has a value.
        let mut samples = two_samples();
        let web = |offered: f64, latency_ms| ServiceSample {
            name: "default/web".into(),
            offered,
            served: offered,
            endpoints: 2,
            latency_ms,
            ..ServiceSample::default()
        };
        samples[0].services = vec![web(100.0, Some([20.0, 50.0, 80.0]))];
        samples[1].services = vec![web(1000.0, None)];
        samples[0].hpas = vec![HpaSample {
            name: "shop/api".into(),
            desired: 3,
            current: 2,
            ready: 2,
            utilization: Some(45),
            target_utilization: Some(60),
            metric_value_milli: Some(123_456),
            metric_target_milli: Some(100_000),
        }];
        let text = text(&samples, "s", start("2026-01-01T00:00:00Z"));
        let run = "kubesim_scenario=\"s\",kubesim_seed=\"7\"";
        assert_eq!(
            lines_of(&text, "kubesim_service_offered_requests_per_second"),
            [
                format!(
                    "kubesim_service_offered_requests_per_second{{service=\"default/web\",{run}}} 100 1767225600"
                ),
                format!(
                    "kubesim_service_offered_requests_per_second{{service=\"default/web\",{run}}} 1000 1767225690"
                ),
            ]
        );
        // 80 ms is 0.08 s; the second sample has no latency, so no point.
        assert_eq!(
            lines_of(&text, "kubesim_service_latency_seconds"),
            [
                format!(
                    "kubesim_service_latency_seconds{{service=\"default/web\",quantile=\"0.5\",{run}}} 0.02 1767225600"
                ),
                format!(
                    "kubesim_service_latency_seconds{{service=\"default/web\",quantile=\"0.95\",{run}}} 0.05 1767225600"
                ),
                format!(
                    "kubesim_service_latency_seconds{{service=\"default/web\",quantile=\"0.99\",{run}}} 0.08 1767225600"
                ),
            ]
        );
        assert_eq!(
            lines_of(
                &text,
                "kube_horizontalpodautoscaler_status_desired_replicas"
            ),
            [format!(
                "kube_horizontalpodautoscaler_status_desired_replicas{{namespace=\"shop\",\
                 horizontalpodautoscaler=\"api\",{run}}} 3 1767225600"
            )]
        );
        // 45 % as a ratio.
        assert!(
            text.contains("kubesim_horizontalpodautoscaler_cpu_utilization_ratio{namespace=\"shop\",horizontalpodautoscaler=\"api\",kubesim_scenario=\"s\",kubesim_seed=\"7\"} 0.45 1767225600"),
            "{text}"
        );
        // A value metric: 123,456m is 123.456, its target 100.
        assert!(
            text.contains("kubesim_horizontalpodautoscaler_metric_value{namespace=\"shop\",horizontalpodautoscaler=\"api\",kubesim_scenario=\"s\",kubesim_seed=\"7\"} 123.456 1767225600"),
            "{text}"
        );
        assert!(
            text.contains("kubesim_horizontalpodautoscaler_metric_target{namespace=\"shop\",horizontalpodautoscaler=\"api\",kubesim_scenario=\"s\",kubesim_seed=\"7\"} 100 1767225600"),
            "{text}"
        );
        assert!(text.contains("# TYPE kubesim_service_latency_seconds gauge\n"));
        // Without traffic or HPAs: none of these families.
        let plain = text_of_two();
        assert!(!plain.contains("kubesim_service_") && !plain.contains("horizontalpodautoscaler"));
    }

    fn text_of_two() -> String {
        text(&two_samples(), "one", start("2026-01-01T00:00:00Z"))
    }

    #[test]
    fn the_scenario_label_is_escaped_and_the_start_shifts_every_stamp() {
        let text = text(
            &two_samples(),
            "storm \"A\"\\1\nB",
            start("2026-03-01T12:00:00+01:00"),
        );
        // 2026-03-01T11:00:00Z is 1 767 225 600 + (31 + 28) × 86 400 + 11 × 3600.
        assert_eq!(
            lines_of(&text, "kubesim_nodes")[1],
            r#"kubesim_nodes{kubesim_scenario="storm \"A\"\\1\nB",kubesim_seed="7"} 2 1772362890"#
        );
    }

    #[test]
    fn samples_in_one_millisecond_keep_the_later() {
        let mut samples = two_samples();
        let mut end = samples[1].clone();
        end.at = SimTime::from_nanos(90_000_400_000);
        end.nodes = 3;
        samples.push(end);
        let text = text(&samples, "x", Start::default());
        assert_eq!(
            lines_of(&text, "kubesim_nodes"),
            [
                r#"kubesim_nodes{kubesim_scenario="x",kubesim_seed="7"} 0 1767225600"#,
                r#"kubesim_nodes{kubesim_scenario="x",kubesim_seed="7"} 3 1767225690"#,
            ]
        );
    }

    #[test]
    fn flow_control_columns_become_families_with_a_priority_level_label() {
        let mut samples = two_samples();
        let mut gauges = [0.0; 15];
        gauges[0] = 24.0; // nominal limit seats
        gauges[4] = 3.0; // in-queue requests
        gauges[8] = 120.0; // dispatched
        gauges[9] = 4.0; // rejected
        gauges[11] = 2.5; // demand average
        samples[0].flowcontrol = Some(vec![
            ("workload-low".into(), [0.0; 15]),
            ("global-default".into(), [0.0; 15]),
        ]);
        samples[1].flowcontrol = Some(vec![
            ("workload-low".into(), gauges),
            ("global-default".into(), [0.0; 15]),
        ]);
        let text = text(&samples, "x", Start::default());
        assert!(text.contains("# TYPE apiserver_flowcontrol_nominal_limit_seats gauge\n"));
        assert!(text.contains("# TYPE apiserver_flowcontrol_dispatched_requests counter\n"));
        assert!(text.contains("# TYPE apiserver_flowcontrol_rejected_requests counter\n"));
        // `name{priority_level="level",…run labels} value seconds`.
        let line = |name: &str, level: &str, value: &str, seconds: &str| {
            format!(
                "apiserver_flowcontrol_{name}{{priority_level=\"{level}\",\
                 kubesim_scenario=\"x\",kubesim_seed=\"7\"}} {value} {seconds}"
            )
        };
        assert_eq!(
            lines_of(&text, "apiserver_flowcontrol_current_inqueue_requests"),
            [
                line(
                    "current_inqueue_requests",
                    "workload-low",
                    "0",
                    "1767225600"
                ),
                line(
                    "current_inqueue_requests",
                    "workload-low",
                    "3",
                    "1767225690"
                ),
                line(
                    "current_inqueue_requests",
                    "global-default",
                    "0",
                    "1767225600"
                ),
                line(
                    "current_inqueue_requests",
                    "global-default",
                    "0",
                    "1767225690"
                ),
            ]
        );
        for (name, value) in [
            ("nominal_limit_seats", "24"),
            ("dispatched_requests_total", "120"),
            ("rejected_requests_total", "4"),
            ("demand_seats_average", "2.5"),
        ] {
            let lines = lines_of(&text, &format!("apiserver_flowcontrol_{name}"));
            assert_eq!(lines.len(), 4, "{name}");
            assert_eq!(
                lines[1],
                line(name, "workload-low", value, "1767225690"),
                "{name}"
            );
        }
    }
}
