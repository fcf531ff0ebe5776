//! The machine-readable outputs: `run.json`, `summary.json`, `timeseries.csv`, `events.jsonl`.
//! Their keys and columns are an interface (README documents them); change them only with a
//! version bump.

use crate::scheduler::queue::PendingPods;
use std::io::Write;

use serde::Serialize;

use super::RunInfo;
use crate::api::quantity::{Format, Quantity};
use crate::api::resources::{CPU, MEMORY, PODS};
use crate::api::{Kind, Object};
use crate::apiserver::WriteRecord;
use crate::controllers::disruption::DisruptionController;
use crate::controllers::endpointslice::EndpointSliceController;
use crate::metrics::convergence::{PodStartup, next_later};
use crate::metrics::gpu::GpuSample;
use crate::metrics::{Sample, nearest_rank, nearest_rank_counted};
use crate::sim::{SimDuration, SimTime};
use crate::world::World;
use crate::world::kubectl::ActionOutcome;
use std::collections::BTreeMap;

/// Version of the output formats; bumped when a key or column changes meaning or goes away.
pub const OUTPUT_FORMAT_VERSION: u32 = 6;

/// `run.json`: where a run came from, enough to reproduce it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunJson<'a> {
    kubesim_version: &'a str,
    output_format: u32,
    scenario: &'a str,
    scenario_file: &'a str,
    scenario_hash: &'a str,
    seed: u64,
    duration: String,
    virtual_time: String,
    stop_reason: &'a str,
    events_processed: u64,
    trace_digest: &'a str,
}

/// The bytes of `run.json`.
pub fn run_json(info: &RunInfo<'_>) -> Vec<u8> {
    let run = RunJson {
        kubesim_version: env!("CARGO_PKG_VERSION"),
        output_format: OUTPUT_FORMAT_VERSION,
        scenario: &info.scenario.name,
        scenario_file: &info.scenario_file,
        scenario_hash: &info.scenario.hash,
        seed: info.seed,
        duration: info.scenario.duration.to_string(),
        virtual_time: info.end.to_string(),
        stop_reason: info.stop_reason_name(),
        events_processed: info.events_processed,
        trace_digest: &info.trace_digest,
    };
    to_pretty_json(&run)
}

fn to_pretty_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain structs of strings and numbers cannot fail.
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryJson<'a> {
    scenario: &'a str,
    seed: u64,
    virtual_time: String,
    stop_reason: &'a str,
    placement: Placement,
    zone_spread: Vec<crate::metrics::placement::WorkloadSpread>,
    scheduling: Option<Scheduling>,
    convergence: ConvergenceJson,
    /// EndpointSlices and kube-proxy; null when neither the controller nor kube-proxies run.
    endpoints: Option<EndpointsJson>,
    /// Disruption budgets and drains; only in runs with budgets or drains, so other runs'
    /// summaries stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    disruption: Option<DisruptionJson>,
    /// What faults and disruptions did and how the cluster healed; only in runs where a node
    /// went down or was tainted for it, or a pod was evicted.
    #[serde(skip_serializing_if = "Option::is_none")]
    healing: Option<HealingJson>,
    /// Traffic, HPAs and cost; only in runs with traffic or metrics-server.
    #[serde(skip_serializing_if = "Option::is_none")]
    autoscaling: Option<super::autoscaling::AutoscalingJson>,
    stampede: Stampede,
    timeline: Vec<TimelineJson<'a>>,
    notes: Vec<String>,
}

/// How the cluster reached what was declared (see `metrics::convergence`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConvergenceJson {
    /// Every workload holds its declared state at the end.
    converged: bool,
    workloads_unconverged: u64,
    /// Σ over Deployments of unavailable replicas × seconds.
    unavailable_replica_seconds: f64,
    /// Most pods above `spec.replicas` a Deployment had.
    peak_surge: i64,
    pod_startup: PodStartupJson,
}

/// Pod startup latency over the pods that became Ready, by stage, against the pod startup SLO.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodStartupJson {
    pods: usize,
    created_to_scheduled: Latency,
    scheduled_to_running: Latency,
    running_to_ready: Latency,
    created_to_running: Latency,
    created_to_ready: Latency,
    slo: StartupSlo,
}

/// sig-scalability's pod startup SLO: p99 of created → running (all containers started,
/// observed through a watch) at most 5 s. kubesim's figure includes image pulls, which the SLO
/// excludes: a run with cold images reads high.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StartupSlo {
    threshold: String,
    p99: Option<String>,
    met: Option<bool>,
}

/// The pod startup SLO's threshold (p99).
const POD_STARTUP_SLO: crate::sim::SimDuration = crate::sim::SimDuration::from_secs(5);

fn convergence_json(world: &World, end: SimTime) -> ConvergenceJson {
    let c = world.recorder().convergence();
    let pods = c.started_pods();
    let stage = |from: &dyn Fn(&PodStartup) -> Option<SimTime>,
                 to: &dyn Fn(&PodStartup) -> Option<SimTime>| {
        let values: Vec<_> = pods
            .iter()
            .filter_map(|p| Some(to(p)?.saturating_since(from(p)?)))
            .collect();
        latency(&values)
    };
    let created = |p: &PodStartup| Some(p.created);
    let scheduled = |p: &PodStartup| p.scheduled;
    let running = |p: &PodStartup| p.running;
    let ready = |p: &PodStartup| p.ready;
    let to_running: Vec<_> = pods
        .iter()
        .filter_map(|p| Some(p.running?.saturating_since(p.created)))
        .collect();
    let p99 = nearest_rank(&to_running, 0.99);
    ConvergenceJson {
        converged: c.is_converged(),
        workloads_unconverged: c.unconverged() as u64,
        unavailable_replica_seconds: round2(c.unavailable_replica_seconds(end)),
        peak_surge: c.peak_surge(),
        pod_startup: PodStartupJson {
            pods: pods.len(),
            created_to_scheduled: stage(&created, &scheduled),
            scheduled_to_running: stage(&scheduled, &running),
            running_to_ready: stage(&running, &ready),
            created_to_running: stage(&created, &running),
            created_to_ready: stage(&created, &ready),
            slo: StartupSlo {
                threshold: POD_STARTUP_SLO.to_string(),
                p99: p99.map(|d| d.to_string()),
                met: p99.map(|d| d <= POD_STARTUP_SLO),
            },
        },
    }
}

/// Service endpoints: the slices at the end, what the EndpointSlice controller did, what the
/// kube-proxies did and how long endpoint changes took to reach the nodes' rules.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndpointsJson {
    endpoint_slices: u64,
    /// Endpoints listed over every slice, and of them the ready ones.
    endpoints: u64,
    ready_endpoints: u64,
    #[serde(rename = "endpoint_slice_controller_syncs")]
    controller_syncs: Option<BTreeMap<&'static str, u64>>,
    #[serde(rename = "endpoint_slice_controller_changes")]
    controller_changes: Option<BTreeMap<&'static str, u64>>,
    kube_proxy: Option<KubeProxyJson>,
}

/// The kube-proxies, over every node.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeProxyJson {
    nodes: usize,
    /// Rule syncs (`kubeproxy_sync_proxy_rules_duration_seconds_count`), of which periodic.
    syncs: u64,
    periodic_syncs: u64,
    /// Service and endpoint changes the syncs programmed (a change counts once per node).
    service_changes: u64,
    endpoint_changes: u64,
    /// `kubeproxy_network_programming_duration_seconds`: from an endpoint change's trigger
    /// time to the sync that programmed it, per node.
    network_programming_latency: CountedLatency,
}

/// PodDisruptionBudgets at the end, what the disruption controller did, and each drain: how
/// often a budget refused an eviction and how long the drain took.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DisruptionJson {
    budgets: Vec<BudgetJson>,
    /// Syncs and status writes of the disruption controller (null when it does not run).
    controller: Option<BTreeMap<&'static str, u64>>,
    drains: Vec<DrainJson>,
}

/// One budget's status at the end.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BudgetJson {
    budget: String,
    expected_pods: i32,
    desired_healthy: i32,
    current_healthy: i32,
    disruptions_allowed: i32,
}

/// One `drain` action.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DrainJson {
    node: String,
    at: String,
    /// Pods it evicts, and those it leaves (DaemonSet and mirror pods).
    pods: u32,
    pods_skipped: u32,
    /// Evictions accepted, refused by a budget (429), and sent again after a refusal.
    evictions: u32,
    evictions_blocked: u32,
    eviction_retries: u32,
    timed_out: bool,
    /// From the action to the last evicted pod gone (null: not by the end of the run).
    finished_after: Option<String>,
}

fn disruption_json(world: &World) -> Option<DisruptionJson> {
    let store = world.api().store();
    let budgets: Vec<BudgetJson> = store
        .iter(Kind::PodDisruptionBudget)
        .filter_map(|o| o.as_pdb())
        .map(|b| BudgetJson {
            budget: format!("{}/{}", b.metadata.namespace, b.metadata.name),
            expected_pods: b.status.expected_pods,
            desired_healthy: b.status.desired_healthy,
            current_healthy: b.status.current_healthy,
            disruptions_allowed: b.status.disruptions_allowed,
        })
        .collect();
    let kubectl = world.kubectl();
    let drains: Vec<DrainJson> = kubectl
        .drains()
        .map(|(index, run)| {
            let at = kubectl
                .outcomes()
                .get(index)
                .map_or(SimTime::ZERO, |o| o.at);
            let stats = &run.stats;
            DrainJson {
                node: run.node().to_string(),
                at: at.to_string(),
                pods: stats.pods,
                pods_skipped: stats.skipped,
                evictions: stats.evicted,
                evictions_blocked: stats.blocked,
                eviction_retries: stats.retries,
                timed_out: stats.timed_out,
                finished_after: stats.finished_at.map(|t| (t - at).to_string()),
            }
        })
        .collect();
    if budgets.is_empty() && drains.is_empty() {
        return None;
    }
    let controller = world.controller::<DisruptionController>().map(|c| {
        let n = c.counters();
        BTreeMap::from([
            ("conflicts", n.conflicts),
            ("failures", n.failures),
            ("statusWrites", n.status_writes),
            ("syncs", n.syncs),
        ])
    });
    Some(DisruptionJson {
        budgets,
        controller,
        drains,
    })
}

/// Percentiles of latencies given as value → count.
#[derive(Serialize)]
struct CountedLatency {
    count: u64,
    p50: Option<String>,
    p90: Option<String>,
    p99: Option<String>,
    max: Option<String>,
}

fn counted_latency(counts: &BTreeMap<SimDuration, u64>) -> CountedLatency {
    let q = |x| nearest_rank_counted(counts, x).map(|d| d.to_string());
    CountedLatency {
        count: counts.values().sum(),
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        max: q(1.0),
    }
}

fn endpoints_json(world: &World) -> Option<EndpointsJson> {
    let controller = world.controller::<EndpointSliceController>();
    let proxies = world.kube_proxies();
    if controller.is_none() && proxies.is_none() {
        return None;
    }
    let (mut endpoints, mut ready) = (0, 0);
    for object in world.api().store().iter(Kind::EndpointSlice) {
        if let Object::EndpointSlice(slice) = &**object {
            endpoints += slice.endpoints.len() as u64;
            ready += slice.endpoints.iter().filter(|e| e.is_ready()).count() as u64;
        }
    }
    Some(EndpointsJson {
        endpoint_slices: world.api().store().count(Kind::EndpointSlice) as u64,
        endpoints,
        ready_endpoints: ready,
        controller_syncs: controller.map(|c| {
            let n = c.counters();
            BTreeMap::from([
                ("error", n.syncs_error),
                ("stale", n.syncs_stale),
                ("success", n.syncs_success),
            ])
        }),
        controller_changes: controller.map(|c| {
            let n = c.counters();
            BTreeMap::from([
                ("create", n.slices_created),
                ("delete", n.slices_deleted),
                ("update", n.slices_updated),
            ])
        }),
        kube_proxy: proxies.map(|p| {
            let stats = p.stats();
            KubeProxyJson {
                nodes: p.node_count(),
                syncs: stats.syncs,
                periodic_syncs: stats.periodic_syncs,
                service_changes: stats.service_changes,
                endpoint_changes: stats.endpoint_changes,
                network_programming_latency: counted_latency(&stats.network_programming_latency),
            }
        }),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Placement {
    nodes: u64,
    nodes_unschedulable: u64,
    pods: PodCounts,
    allocation: Allocation,
    /// Only in runs with GPU nodes, so other runs' summaries stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    gpu: Option<GpuPlacement>,
}

/// GPU sharing at the end of the run (fgd-spec §4).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GpuPlacement {
    nodes: u64,
    gpus: u64,
    allocated_milli: i64,
    capacity_milli: i64,
    allocation_pct: f64,
    fragmentation: GpuFragmentation,
    target_workload: TargetWorkloadJson,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GpuFragmentation {
    /// `F_cluster`, GPU milli.
    amount_milli: f64,
    /// `100 · F_cluster / capacity`.
    amount_pct: f64,
    /// `100 · F_cluster / idle`.
    ratio_pct: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetWorkloadJson {
    pods: u64,
    pod_types: usize,
    typical_types: usize,
}

fn gpu_placement(gpu: &GpuSample) -> GpuPlacement {
    GpuPlacement {
        nodes: gpu.nodes,
        gpus: gpu.gpus,
        allocated_milli: gpu.allocated_milli,
        capacity_milli: gpu.capacity_milli(),
        allocation_pct: round2(gpu.allocation_pct()),
        fragmentation: GpuFragmentation {
            amount_milli: round2(gpu.frag.amount_milli()),
            amount_pct: round2(gpu.frag_amount_pct()),
            ratio_pct: round2(gpu.frag_ratio_pct()),
        },
        target_workload: TargetWorkloadJson {
            pods: gpu.workload_pods,
            pod_types: gpu.workload_types,
            typical_types: gpu.typical_types,
        },
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Scheduling {
    #[serde(rename = "scheduler_schedule_attempts_total")]
    scheduler_schedule_attempts_total: std::collections::BTreeMap<&'static str, u64>,
    failure_reasons: std::collections::BTreeMap<String, u64>,
    pods_bound: u64,
    bind_failures: u64,
    preemptions: u64,
    preemption_victims: u64,
    #[serde(rename = "scheduler_pending_pods")]
    scheduler_pending_pods: usize,
    /// `scheduler_pending_pods` by its `queue` label.
    pending_pods_by_queue: PendingByQueue,
    /// Creation-to-bind latency percentiles of the pods the scheduler bound.
    scheduling_latency: Latency,
    cpu_allocation_spread_pct: f64,
}

/// Pending pods by queue, as `scheduler_pending_pods{queue=…}`.
#[derive(Serialize)]
struct PendingByQueue {
    active: usize,
    backoff: usize,
    unschedulable: usize,
    gated: usize,
}

impl PendingByQueue {
    fn of(p: PendingPods) -> PendingByQueue {
        PendingByQueue {
            active: p.active,
            backoff: p.backoff,
            unschedulable: p.unschedulable,
            gated: p.gated,
        }
    }
}

#[derive(Serialize)]
struct Latency {
    p50: Option<String>,
    p90: Option<String>,
    p99: Option<String>,
    max: Option<String>,
}

fn latency(values: &[crate::sim::SimDuration]) -> Latency {
    let q = |x| nearest_rank(values, x).map(|d| d.to_string());
    Latency {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        max: q(1.0),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodCounts {
    total: u64,
    bound: u64,
    pending: u64,
    terminating: u64,
}

#[derive(Serialize)]
struct Allocation {
    cpu: ResourceAllocation,
    memory: ResourceAllocation,
    pods: ResourceAllocation,
}

#[derive(Serialize)]
struct ResourceAllocation {
    requested: String,
    allocatable: String,
    percent: f64,
}

#[derive(Serialize)]
struct Stampede {
    apiserver_request_total: u64,
    apiserver_request_total_by_verb: std::collections::BTreeMap<&'static str, u64>,
    apiserver_request_total_by_code: std::collections::BTreeMap<String, u64>,
    apiserver_watch_events_total: u64,
    etcd_revision: u64,
    /// Flow control's per-level metrics; only when the request path is modelled, so ideal runs'
    /// summaries stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    flowcontrol: Option<FlowControlJson>,
    /// Retry-After values sent with flow control's 429s: seconds → count (modelled path only).
    #[serde(rename = "retryAfterSeconds", skip_serializing_if = "Option::is_none")]
    retry_after_seconds: Option<std::collections::BTreeMap<String, u64>>,
    /// Requests the clients sent again after a 429 or 5xx with a Retry-After, by status
    /// (modelled path only).
    #[serde(rename = "clientRetries", skip_serializing_if = "Option::is_none")]
    client_retries: Option<std::collections::BTreeMap<String, u64>>,
    /// Requests whose last allowed retry failed too, so the component saw the error.
    #[serde(
        rename = "clientRetriesExhausted",
        skip_serializing_if = "Option::is_none"
    )]
    client_retries_exhausted: Option<u64>,
    /// The clients' informers and the apiserver's restarts (modelled path only).
    #[serde(skip_serializing_if = "Option::is_none")]
    clients: Option<ClientsJson>,
    /// `apiserver_request_duration_seconds` by SLO scope against the API call latency SLOs
    /// (modelled path only).
    #[serde(rename = "apiCallLatency", skip_serializing_if = "Option::is_none")]
    api_call_latency: Option<std::collections::BTreeMap<&'static str, LatencyJson>>,
    /// The most memory LIST answers held at once (modelled path only).
    #[serde(
        rename = "apiserverListMemoryPeakBytes",
        skip_serializing_if = "Option::is_none"
    )]
    apiserver_list_memory_peak_bytes: Option<u64>,
    /// The kube-apiserver replicas and how the load balancer spread the clients over them;
    /// only when the apiserver runs as several (`spec.apiserver.replicas`).
    #[serde(skip_serializing_if = "Option::is_none")]
    apiserver: Option<ApiserverJson>,
    /// Each client population's requests (`spec.clients`), by population name; only in runs
    /// with populations, so other runs' summaries stay as they were.
    #[serde(
        rename = "clientPopulations",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    client_populations: BTreeMap<String, PopulationJson>,
    /// Each electing component's leadership (modelled path with `leaderElect`); empty, and
    /// left out, otherwise, so ideal runs' summaries stay as they were.
    #[serde(rename = "leaderElection", skip_serializing_if = "BTreeMap::is_empty")]
    leader_election: BTreeMap<&'static str, LeaderElectionJson>,
}

/// `stampede.leaderElection.<component>`: how its leader election went.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeaderElectionJson {
    /// The Lease, `namespace/name`.
    lease: String,
    /// Times the lease was won.
    acquired: u64,
    /// Times it was lost (the leader could not renew within the renew deadline).
    lost: u64,
    /// Every change, in order.
    transitions: Vec<TransitionJson>,
    /// Seconds of the run no instance of the component led.
    seconds_without_leader: f64,
    /// Whether it led at the end of the run.
    leading_at_end: bool,
}

/// One change of leadership.
#[derive(Serialize)]
struct TransitionJson {
    /// Virtual time.
    at: String,
    /// `acquired` or `lost`.
    event: &'static str,
}

/// `stampede.leaderElection`: kube-controller-manager's and kube-scheduler's elections, those
/// that run.
fn leader_election_json(world: &World, end: SimTime) -> BTreeMap<&'static str, LeaderElectionJson> {
    use crate::controllers::kube_controller_manager::KubeControllerManager;
    use crate::scheduler::kube_scheduler::KubeScheduler;
    let elections = [
        (
            "kube-controller-manager",
            world.leadership::<KubeControllerManager>(),
        ),
        ("kube-scheduler", world.leadership::<KubeScheduler>()),
    ];
    elections
        .into_iter()
        .filter_map(|(name, lock)| {
            let lock = lock?;
            let changes = lock.changes();
            let acquired = changes.iter().filter(|c| c.acquired).count() as u64;
            let json = LeaderElectionJson {
                lease: lock.key().to_string(),
                acquired,
                lost: changes.len() as u64 - acquired,
                transitions: changes
                    .iter()
                    .map(|c| TransitionJson {
                        at: c.at.to_string(),
                        event: if c.acquired { "acquired" } else { "lost" },
                    })
                    .collect(),
                seconds_without_leader: round_millis(
                    crate::metrics::leadership::time_without_leader(changes, end).as_secs_f64(),
                ),
                leading_at_end: lock.is_leading(),
            };
            Some((name, json))
        })
        .collect()
}

/// `x` to the millisecond.
fn round_millis(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// One SLO scope's request durations in `stampede.apiCallLatency`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LatencyJson {
    count: u64,
    p50_seconds: Option<f64>,
    p90_seconds: Option<f64>,
    p99_seconds: Option<f64>,
    slo_seconds: u64,
    /// Whether p99 is within the SLO (true with no request).
    slo_met: bool,
}

/// `stampede.apiCallLatency`, when the request path is modelled.
fn latency_json(world: &World) -> Option<std::collections::BTreeMap<&'static str, LatencyJson>> {
    use crate::apiserver::latency::SloScope;
    let path = world.api().request_path()?;
    let round = |q: Option<f64>| q.map(|v| (v * 1e6).round() / 1e6);
    Some(
        SloScope::ALL
            .iter()
            .map(|&scope| {
                let h = path.latency(scope);
                let slo = scope.threshold().as_secs_f64();
                let p99 = h.quantile(0.99);
                let json = LatencyJson {
                    count: h.count(),
                    p50_seconds: round(h.quantile(0.5)),
                    p90_seconds: round(h.quantile(0.9)),
                    p99_seconds: round(p99),
                    slo_seconds: slo as u64,
                    slo_met: p99.is_none_or(|p| p <= slo),
                };
                (scope.name(), json)
            })
            .collect(),
    )
}

/// `stampede.clients`: how the informers of every component fared, and what each apiserver
/// restart cost them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientsJson {
    informers: u64,
    informers_following: u64,
    reflector_lists_total: u64,
    reflector_streaming_lists_total: u64,
    reflector_relists_total: u64,
    reflector_watches_total: u64,
    reflector_backoffs_total: u64,
    connections_refused_total: u64,
    connections_reset_total: u64,
    restarts: Vec<RestartJson>,
}

/// One apiserver restart in `stampede.clients.restarts`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RestartJson {
    /// The replica that restarted, when the apiserver runs as several.
    #[serde(skip_serializing_if = "Option::is_none")]
    replica: Option<usize>,
    down_at: String,
    up_at: String,
    watch_caches_ready_at: String,
    /// The first sample where every informer followed changes again and 429s were back to
    /// their rate before the restart; null if that never happened.
    recovered_at: Option<String>,
    /// From the process going down.
    recovered_after: Option<String>,
    relists: u64,
    apiserver_request_total_429: u64,
    informers_not_following_peak: u64,
}

/// `stampede.clients`, when the request path is modelled.
fn clients_json(world: &World) -> Option<ClientsJson> {
    let samples = world.recorder().samples();
    let last = samples.iter().rev().find_map(|s| s.clients)?;
    let informers = last.informers;
    let history = world.api().restart_history();
    let records: Vec<_> = history.iter().map(|&(_, record)| record).collect();
    let several = world.api().replicas().len() > 1;
    let restarts = crate::metrics::restarts::restart_outcomes(samples, &records)
        .into_iter()
        .zip(&history)
        .map(|(o, &(replica, _))| RestartJson {
            replica: several.then_some(replica),
            down_at: o.record.down_at.to_string(),
            up_at: o.record.up_at.to_string(),
            watch_caches_ready_at: o.record.caches_ready_at.to_string(),
            recovered_at: o.recovered_at.map(|t| t.to_string()),
            recovered_after: o
                .recovered_at
                .map(|t| t.saturating_since(o.record.down_at).to_string()),
            relists: o.relists,
            apiserver_request_total_429: o.too_many_requests,
            informers_not_following_peak: o.informers_not_following_peak,
        })
        .collect();
    Some(ClientsJson {
        informers: informers.informers,
        informers_following: informers.following,
        reflector_lists_total: informers.lists,
        reflector_streaming_lists_total: informers.stream_lists,
        reflector_relists_total: informers.relists(),
        reflector_watches_total: informers.watches,
        reflector_backoffs_total: informers.backoffs,
        connections_refused_total: last.connections_refused,
        connections_reset_total: last.connections_reset,
        restarts,
    })
}

/// `stampede.apiserver`: the replicas behind the load balancer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiserverJson {
    /// `--goaway-chance`.
    goaway_chance: f64,
    replicas: Vec<ReplicaJson>,
}

/// One replica in `stampede.apiserver.replicas`: its clients, its requests, its restarts.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReplicaJson {
    replica: usize,
    /// Up at the end of the run.
    up: bool,
    /// Clients connected to it at the end of the run.
    connected_clients: u64,
    /// The most clients connected to it at once.
    connected_clients_peak: u64,
    /// Connections the load balancer gave it.
    connections_total: u64,
    /// Requests that arrived at it.
    apiserver_request_total: u64,
    /// GOAWAYs it sent (`--goaway-chance`).
    goaways_total: u64,
    /// Requests whose connection it reset when it went down.
    connections_reset_total: u64,
    restarts: u32,
}

/// `stampede.apiserver`, when the apiserver runs as several replicas.
fn apiserver_json(world: &World) -> Option<ApiserverJson> {
    use crate::apiserver::load_balancer::PARTS_PER_BILLION;
    let api = world.api();
    if api.replicas().len() < 2 {
        return None;
    }
    let replicas = api
        .replicas()
        .iter()
        .zip(api.load_balancer().replicas())
        .enumerate()
        .map(|(i, (replica, lb))| ReplicaJson {
            replica: i,
            up: !replica.process().is_down(),
            connected_clients: lb.connected,
            connected_clients_peak: lb.connected_peak,
            connections_total: lb.connections_made,
            apiserver_request_total: lb.requests,
            goaways_total: lb.goaways,
            connections_reset_total: replica.process().reset(),
            restarts: replica.process().restarts(),
        })
        .collect();
    Some(ApiserverJson {
        goaway_chance: f64::from(api.config().goaway_chance_ppb) / f64::from(PARTS_PER_BILLION),
        replicas,
    })
}

/// `stampede.clientPopulations.<name>`: who a population's clients are and what they asked.
#[derive(Serialize)]
struct PopulationJson {
    /// `perNodeAgent`, `operator` or `scraper`; `component` for a component's clients.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The user its clients authenticate as (a population's).
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    /// How many clients (a component's: how many got an answer).
    clients: u64,
    /// Every answer its clients got, each try counted as `apiserver_request_total` counts it:
    /// verb → status → count.
    requests: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// Of these, the answers client-go sent again (a 429 or 5xx with a Retry-After): verb →
    /// status → count (modelled path only).
    #[serde(rename = "clientRetries", skip_serializing_if = "Option::is_none")]
    client_retries: Option<BTreeMap<&'static str, BTreeMap<String, u64>>>,
}

/// Counts by (verb, status) as verb → status → count.
fn by_verb_and_status(
    counts: &BTreeMap<(crate::apiserver::Verb, u16), u64>,
) -> BTreeMap<&'static str, BTreeMap<String, u64>> {
    let mut out: BTreeMap<&'static str, BTreeMap<String, u64>> = BTreeMap::new();
    for (&(verb, status), &n) in counts {
        *out.entry(verb.name())
            .or_default()
            .entry(status.to_string())
            .or_insert(0) += n;
    }
    out
}

/// Every client population's requests. On the modelled path every answer passes the
/// transport, which counts them by client group, each try counted: every population, and each
/// component's clients (`kubelet`, `kube-proxy`, `kube-scheduler`, `kube-controller-manager`,
/// `kubectl`) as a population of type `component`. On the ideal path each population counts
/// the answers its clients got (there are no retries).
fn client_populations_json(world: &World) -> BTreeMap<String, PopulationJson> {
    let populations: BTreeMap<&str, &crate::populations::PopulationStats> = world
        .client_populations()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let Some(transport) = world.transport() else {
        return populations
            .values()
            .map(|p| {
                let json = PopulationJson {
                    kind: p.kind,
                    user: Some(p.user.clone()),
                    clients: u64::from(p.clients),
                    requests: by_verb_and_status(&p.answers),
                    client_retries: None,
                };
                (p.name.clone(), json)
            })
            .collect();
    };
    let mut out = BTreeMap::new();
    for (g, group) in transport.limits().groups().iter().enumerate() {
        let requests = transport.answers(g);
        let population = populations.get(group.name.as_str());
        if requests.is_empty() && population.is_none() {
            continue;
        }
        let json = PopulationJson {
            kind: population.map_or("component", |p| p.kind),
            user: population.map(|p| p.user.clone()),
            clients: population.map_or(transport.clients_answered(g) as u64, |p| {
                u64::from(p.clients)
            }),
            requests: by_verb_and_status(&requests),
            client_retries: Some(by_verb_and_status(&transport.retried(g))),
        };
        out.insert(group.name.clone(), json);
    }
    out
}

/// `stampede.flowcontrol`: each priority level's (max-in-flight: each request kind's;
/// dynamic: each client level's) metrics under their Prometheus names.
#[derive(Serialize)]
struct FlowControlJson {
    /// The mode: maxInflight, apf or dynamic.
    mode: &'static str,
    #[serde(rename = "priorityLevels")]
    priority_levels:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, serde_json::Value>>,
}

/// The flow-control part of the stampede metrics, when the request path is modelled.
fn flowcontrol_json(world: &World) -> Option<FlowControlJson> {
    use serde_json::{Value, json};
    world.api().request_path()?;
    let mode = world.api().config().request_path.mode.name();
    let mut priority_levels = std::collections::BTreeMap::new();
    for level in world.api().level_metrics().iter() {
        let mut metrics: std::collections::BTreeMap<String, Value> = level
            .gauges()
            .iter()
            .map(|&(name, value)| (name.to_string(), json!(round2(value))))
            .collect();
        let rejected = &level.rejected_requests_total;
        metrics.insert(
            "apiserver_flowcontrol_rejected_requests_total_by_reason".into(),
            json!({
                "queue-full": rejected.queue_full,
                "concurrency-limit": rejected.concurrency_limit,
                "time-out": rejected.time_out,
                "throttled": rejected.throttled,
            }),
        );
        let wait = &level.request_wait_duration_seconds;
        let mut cumulative = 0;
        let mut buckets = serde_json::Map::new();
        for (i, bound) in crate::apiserver::flowcontrol::metrics::WAIT_BUCKETS_SECS
            .iter()
            .enumerate()
        {
            cumulative += wait.buckets[i];
            buckets.insert(bound.to_string(), json!(cumulative));
        }
        buckets.insert("+Inf".into(), json!(wait.count));
        metrics.insert(
            "apiserver_flowcontrol_request_wait_duration_seconds".into(),
            json!({
                "count": wait.count,
                "sum": round2(wait.sum_nanos as f64 / 1e9),
                "buckets": buckets,
            }),
        );
        priority_levels.insert(level.name.clone(), metrics);
    }
    Some(FlowControlJson {
        mode,
        priority_levels,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TimelineJson<'a> {
    at: String,
    action: &'a str,
    requests: u32,
    errors: &'a [String],
    /// How long after the action every workload held its declared state again (null: not by
    /// the end of the run).
    converged_after: Option<String>,
    /// Pods evicted from the action until the next later action (or the end of the run);
    /// actions at the same instant share the span.
    pods_evicted: usize,
    /// Pods created over the same span: among them, the replacements.
    pods_created: usize,
}

/// Nodes down or tainted at the worst moment, pods evicted and the replica-seconds each
/// Deployment lost (see `metrics::healing`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HealingJson {
    /// Most nodes down at once: Ready before, not Ready (False or Unknown) then.
    nodes_down_peak: u64,
    /// Most nodes with the not-ready or unreachable NoExecute taint at once.
    nodes_tainted_peak: u64,
    /// Nodes down at the end.
    nodes_down_at_end: u64,
    /// Pods evicted, by the DisruptionTarget condition's reason.
    pods_evicted: BTreeMap<String, usize>,
    /// Unavailable replica-seconds of each Deployment that lost any, most first.
    replica_seconds_lost: Vec<LostJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LostJson {
    deployment: String,
    replica_seconds: f64,
}

fn healing_json(world: &World, end: SimTime) -> Option<HealingJson> {
    let recorder = world.recorder();
    let healing = recorder.healing();
    if !healing.anything_happened() {
        return None;
    }
    let mut lost: Vec<LostJson> = recorder
        .convergence()
        .replica_seconds_lost(end)
        .into_iter()
        .map(|(key, seconds)| LostJson {
            deployment: key.to_string(),
            replica_seconds: round2(seconds),
        })
        .collect();
    // Most first; the sort is stable, so equal losses stay in name order.
    lost.sort_by(|a, b| b.replica_seconds.total_cmp(&a.replica_seconds));
    Some(HealingJson {
        nodes_down_peak: healing.peak_down(),
        nodes_tainted_peak: healing.peak_tainted(),
        nodes_down_at_end: healing.down(),
        pods_evicted: healing
            .evicted_by_reason()
            .into_iter()
            .map(|(reason, n)| (reason.to_string(), n))
            .collect(),
        replica_seconds_lost: lost,
    })
}

/// Rounds a percentage to two decimals so reports do not show float noise.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn allocation(sample: &Sample, name: &str) -> ResourceAllocation {
    let (req, alloc) = (sample.requested.get(name), sample.allocatable.get(name));
    let show = |v: i64| match name {
        CPU => Quantity::from_milli(v).to_string(),
        MEMORY => Quantity::from_int(v, Format::BinarySI).to_string(),
        _ => v.to_string(),
    };
    ResourceAllocation {
        requested: show(req),
        allocatable: show(alloc),
        percent: round2(sample.allocation_pct(name)),
    }
}

/// The bytes of `summary.json`.
pub fn summary_json(info: &RunInfo<'_>, world: &World) -> Vec<u8> {
    let empty = Sample::default();
    let last = world.recorder().last().unwrap_or(&empty);
    let counters = world.api().counters();
    let mut by_verb = std::collections::BTreeMap::new();
    let mut by_code = std::collections::BTreeMap::new();
    for (&(verb, _, code), &n) in &counters.requests {
        *by_verb.entry(verb.name()).or_insert(0) += n;
        *by_code.entry(code.to_string()).or_insert(0) += n;
    }
    let summary = SummaryJson {
        scenario: &info.scenario.name,
        seed: info.seed,
        virtual_time: info.end.to_string(),
        stop_reason: info.stop_reason_name(),
        placement: Placement {
            nodes: last.nodes,
            nodes_unschedulable: last.nodes_unschedulable,
            pods: PodCounts {
                total: last.pods,
                bound: last.pods_bound,
                pending: last.pods_pending,
                terminating: last.pods_terminating,
            },
            allocation: Allocation {
                cpu: allocation(last, CPU),
                memory: allocation(last, MEMORY),
                pods: allocation(last, PODS),
            },
            gpu: last.gpu.as_ref().map(gpu_placement),
        },
        zone_spread: crate::metrics::placement::zone_spread(world.api().store()),
        scheduling: world.scheduler().map(|sched| {
            let stats = sched.stats();
            Scheduling {
                scheduler_schedule_attempts_total: stats.attempts.clone(),
                failure_reasons: stats.failure_reasons.clone(),
                pods_bound: stats.bound,
                bind_failures: stats.bind_failures,
                preemptions: stats.preemptions,
                preemption_victims: stats.preemption_victims,
                scheduler_pending_pods: last.scheduler_pending_pods.total(),
                pending_pods_by_queue: PendingByQueue::of(last.scheduler_pending_pods),
                scheduling_latency: latency(&stats.latencies),
                cpu_allocation_spread_pct: round2(last.cpu_allocation_spread_pct),
            }
        }),
        stampede: Stampede {
            apiserver_request_total: last.api_requests,
            apiserver_request_total_by_verb: by_verb,
            apiserver_request_total_by_code: by_code,
            apiserver_watch_events_total: counters.watch_events_delivered,
            etcd_revision: last.revision,
            flowcontrol: flowcontrol_json(world),
            retry_after_seconds: world.api().request_path().map(|p| {
                p.retry_after_seconds()
                    .iter()
                    .map(|(s, n)| (s.to_string(), *n))
                    .collect()
            }),
            client_retries: world.transport().map(|t| {
                t.retries()
                    .iter()
                    .map(|(code, n)| (code.to_string(), *n))
                    .collect()
            }),
            client_retries_exhausted: world.transport().map(|t| t.exhausted()),
            clients: clients_json(world),
            api_call_latency: latency_json(world),
            apiserver_list_memory_peak_bytes: world
                .api()
                .request_path()
                .map(|p| p.list_memory_bytes().1),
            apiserver: apiserver_json(world),
            client_populations: client_populations_json(world),
            leader_election: leader_election_json(world, info.end),
        },
        convergence: convergence_json(world, info.end),
        endpoints: endpoints_json(world),
        disruption: disruption_json(world),
        healing: healing_json(world, info.end),
        autoscaling: super::autoscaling::summary(world, info.end, &info.scenario.node_prices),
        timeline: timeline_json(world, info.end),
        notes: info
            .scenario
            .notes
            .iter()
            .map(|n| format!("{}: {}", n.pos.relative_to(&info.scenario.root), n.message))
            .collect(),
    };
    to_pretty_json(&summary)
}

fn timeline_json(world: &World, end: SimTime) -> Vec<TimelineJson<'_>> {
    let outcomes = world.kubectl().outcomes();
    let times: Vec<SimTime> = outcomes.iter().map(|o| o.at).collect();
    let settled = world.recorder().convergence().settle_times(&times);
    let healing = world.recorder().healing();
    outcomes
        .iter()
        .zip(settled)
        .enumerate()
        .map(|(i, (o, settled)): (usize, (&ActionOutcome, _))| {
            // Up to the next later action (actions at the same instant share the span).
            let until = next_later(&times, i).unwrap_or(end + SimDuration::from_nanos(1));
            TimelineJson {
                at: o.at.to_string(),
                action: &o.description,
                requests: o.requests,
                errors: &o.errors,
                converged_after: settled.map(|d| d.to_string()),
                pods_evicted: healing.evicted_between(o.at, until),
                pods_created: healing.created_between(o.at, until),
            }
        })
        .collect()
}

/// The columns `timeseries.csv` adds after [`TIMESERIES_COLUMNS`] in runs with GPU nodes
/// (empty in a row sampled before the first GPU node); README documents each.
pub const GPU_TIMESERIES_COLUMNS: &[&str] = &[
    "gpu_allocation_pct",
    "gpu_frag_amount_pct",
    "gpu_frag_ratio_pct",
];

/// The columns `timeseries.csv` adds after those of GPUs in runs with a modelled apiserver
/// (`spec.apiserver.flowControl` other than `ideal`), before flow control's; README documents
/// each.
pub const CLIENT_TIMESERIES_COLUMNS: &[&str] = &[
    "apiserver_up",
    "apiserver_request_total_429",
    "connections_refused_total",
    "connections_reset_total",
    "informers",
    "informers_following",
    "reflector_lists_total",
    "reflector_streaming_lists_total",
    "reflector_relists_total",
    "reflector_watches_total",
    "reflector_backoffs_total",
    "apiserver_list_memory_bytes",
    "kube-controller-manager:leader_election_master_status",
    "kube-scheduler:leader_election_master_status",
];

/// The metrics `timeseries.csv` adds per kube-apiserver replica `i`, as columns
/// `replica-<i>:<metric>` after flow control's, when the apiserver runs as several replicas;
/// README documents each.
pub const REPLICA_TIMESERIES_METRICS: &[&str] = &[
    "apiserver_replica_up",
    "apiserver_connected_clients",
    "apiserver_inflight_requests",
    "apiserver_inqueue_requests",
];

/// The metrics `timeseries.csv` adds per client population, as columns
/// `<population>:<metric>` after the replicas', in runs whose `summary.json` has
/// `clientPopulations` (the same names, sorted); README documents each.
pub const POPULATION_TIMESERIES_METRICS: &[&str] =
    &["apiserver_request_total", "apiserver_request_total_429"];

/// The value of population metric `index` (of [`POPULATION_TIMESERIES_METRICS`]) in
/// `population`.
pub fn population_metric(population: &crate::metrics::PopulationSample, index: usize) -> u64 {
    match index {
        0 => population.requests,
        _ => population.rejected,
    }
}

/// The population names of `samples`' columns: the last sample's, which has every name an
/// earlier one has (a group is listed from its first answer on, and counts only grow).
pub fn population_names(samples: &[Sample]) -> Vec<&str> {
    samples
        .last()
        .map(|s| s.populations.iter().map(|p| p.name.as_str()).collect())
        .unwrap_or_default()
}

/// Population `name`'s metric `index` in `sample`: 0 before its group was listed.
pub fn population_value(sample: &Sample, name: &str, index: usize) -> u64 {
    // Samples keep their populations sorted by name.
    sample
        .populations
        .binary_search_by(|p| p.name.as_str().cmp(name))
        .ok()
        .and_then(|i| sample.populations.get(i))
        .map_or(0, |p| population_metric(p, index))
}

/// The value of replica metric `index` (of [`REPLICA_TIMESERIES_METRICS`]) in `replica`.
pub fn replica_metric(replica: &crate::metrics::ReplicaSample, index: usize) -> u64 {
    match index {
        0 => u64::from(replica.up),
        1 => replica.connected_clients,
        2 => replica.inflight_requests,
        _ => replica.inqueue_requests,
    }
}

/// The columns of `timeseries.csv`, in order; README documents each.
pub const TIMESERIES_COLUMNS: &[&str] = &[
    "t_seconds",
    "nodes",
    "nodes_unschedulable",
    "pods",
    "pods_bound",
    "pods_pending",
    "pods_terminating",
    "cpu_requested_millicores",
    "cpu_allocatable_millicores",
    "cpu_allocation_pct",
    "memory_requested_bytes",
    "memory_allocatable_bytes",
    "memory_allocation_pct",
    "pods_allocation_pct",
    "deployments",
    "replicasets",
    "apiserver_request_total",
    "apiserver_mutating_request_total",
    "apiserver_watch_events_total",
    "etcd_revision",
    "scheduler_pending_pods",
    "scheduler_pending_pods_active",
    "scheduler_pending_pods_backoff",
    "scheduler_pending_pods_unschedulable",
    "scheduler_pending_pods_gated",
    "scheduler_schedule_attempts_total",
    "cpu_allocation_spread_pct",
    "pods_phase_pending",
    "pods_phase_running",
    "pods_phase_succeeded",
    "pods_phase_failed",
    "pods_phase_unknown",
    "workloads_unconverged",
    "deployment_replicas_desired",
    "deployment_replicas_updated",
    "deployment_replicas_available",
    "deployment_replicas_unavailable",
    "endpoint_slices",
    "kubeproxy_sync_proxy_rules_duration_seconds_count",
    "nodes_ready",
    "nodes_not_ready",
    "nodes_ready_unknown",
    "nodes_tainted_not_ready",
    "nodes_tainted_unreachable",
    "pods_evicted_total",
];

/// `leader_election_master_status` of a component: 1 leading, 0 not, empty when it does not
/// elect.
fn master_status(leading: Option<bool>) -> String {
    leading.map_or_else(String::new, |l| u8::from(l).to_string())
}

/// The bytes of `timeseries.csv`.
pub fn timeseries_csv(samples: &[Sample]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let gpu = samples.iter().any(|s| s.gpu.is_some());
    let mut header = TIMESERIES_COLUMNS.to_vec();
    if gpu {
        header.extend(GPU_TIMESERIES_COLUMNS);
    }
    let clients = samples.iter().any(|s| s.clients.is_some());
    if clients {
        header.extend(CLIENT_TIMESERIES_COLUMNS);
    }
    // Flow control's levels are fixed for a run: the first sample names them.
    let levels: Vec<String> = samples
        .iter()
        .find_map(|s| s.flowcontrol.as_ref())
        .map(|levels| levels.iter().map(|(name, _)| name.clone()).collect())
        .unwrap_or_default();
    let gauge_names = crate::apiserver::flowcontrol::LevelMetrics::default()
        .gauges()
        .map(|(name, _)| name);
    let flowcontrol_columns: Vec<String> = levels
        .iter()
        .flat_map(|level| gauge_names.iter().map(move |g| format!("{level}:{g}")))
        .collect();
    header.extend(flowcontrol_columns.iter().map(String::as_str));
    // Replicas are fixed for a run too.
    let replicas = samples.iter().map(|s| s.replicas.len()).max().unwrap_or(0);
    let replica_columns: Vec<String> = (0..replicas)
        .flat_map(|i| {
            REPLICA_TIMESERIES_METRICS
                .iter()
                .map(move |m| format!("replica-{i}:{m}"))
        })
        .collect();
    header.extend(replica_columns.iter().map(String::as_str));
    let populations = population_names(samples);
    let population_columns: Vec<String> = populations
        .iter()
        .flat_map(|name| {
            POPULATION_TIMESERIES_METRICS
                .iter()
                .map(move |m| format!("{name}:{m}"))
        })
        .collect();
    header.extend(population_columns.iter().map(String::as_str));
    let autoscaling = super::autoscaling::Columns::new(samples);
    let autoscaling_columns = autoscaling.names();
    header.extend(autoscaling_columns.iter().map(String::as_str));
    // Writing records into a Vec cannot fail; errors would only come from the sink.
    let _ = w.write_record(&header);
    for s in samples {
        let mut row = vec![
            format!("{:.3}", s.at.as_secs_f64()),
            s.nodes.to_string(),
            s.nodes_unschedulable.to_string(),
            s.pods.to_string(),
            s.pods_bound.to_string(),
            s.pods_pending.to_string(),
            s.pods_terminating.to_string(),
            s.requested.milli_cpu.to_string(),
            s.allocatable.milli_cpu.to_string(),
            format!("{:.2}", s.allocation_pct(CPU)),
            s.requested.memory.to_string(),
            s.allocatable.memory.to_string(),
            format!("{:.2}", s.allocation_pct(MEMORY)),
            format!("{:.2}", s.allocation_pct(PODS)),
            s.deployments.to_string(),
            s.replicasets.to_string(),
            s.api_requests.to_string(),
            s.api_writes.to_string(),
            s.watch_events.to_string(),
            s.revision.to_string(),
            s.scheduler_pending_pods.total().to_string(),
            s.scheduler_pending_pods.active.to_string(),
            s.scheduler_pending_pods.backoff.to_string(),
            s.scheduler_pending_pods.unschedulable.to_string(),
            s.scheduler_pending_pods.gated.to_string(),
            s.scheduler_attempts.to_string(),
            format!("{:.2}", s.cpu_allocation_spread_pct),
        ];
        row.extend(s.pods_by_phase.iter().map(u64::to_string));
        row.extend([
            s.workloads_unconverged.to_string(),
            s.deployment_replicas_desired.to_string(),
            s.deployment_replicas_updated.to_string(),
            s.deployment_replicas_available.to_string(),
            s.deployment_replicas_unavailable.to_string(),
            s.endpoint_slices.to_string(),
            s.kube_proxy_syncs.to_string(),
            s.node_health.ready.to_string(),
            s.node_health.not_ready.to_string(),
            s.node_health.unknown.to_string(),
            s.node_health.tainted_not_ready.to_string(),
            s.node_health.tainted_unreachable.to_string(),
            s.pods_evicted.to_string(),
        ]);
        if gpu {
            match &s.gpu {
                Some(g) => row.extend([
                    format!("{:.2}", g.allocation_pct()),
                    format!("{:.2}", g.frag_amount_pct()),
                    format!("{:.2}", g.frag_ratio_pct()),
                ]),
                None => row.extend(GPU_TIMESERIES_COLUMNS.iter().map(|_| String::new())),
            }
        }
        if let Some(c) = &s.clients {
            let i = &c.informers;
            row.extend([
                u64::from(c.apiserver_up).to_string(),
                c.too_many_requests.to_string(),
                c.connections_refused.to_string(),
                c.connections_reset.to_string(),
                i.informers.to_string(),
                i.following.to_string(),
                i.lists.to_string(),
                i.stream_lists.to_string(),
                i.relists().to_string(),
                i.watches.to_string(),
                i.backoffs.to_string(),
                c.list_memory_bytes.to_string(),
                master_status(c.leaders.controller_manager),
                master_status(c.leaders.scheduler),
            ]);
        }
        if let Some(sampled) = &s.flowcontrol {
            for (_, gauges) in sampled {
                row.extend(gauges.iter().map(|v| format!("{:.2}", round2(*v))));
            }
        }
        for replica in &s.replicas {
            row.extend(
                (0..REPLICA_TIMESERIES_METRICS.len())
                    .map(|m| replica_metric(replica, m).to_string()),
            );
        }
        for name in &populations {
            row.extend(
                (0..POPULATION_TIMESERIES_METRICS.len())
                    .map(|m| population_value(s, name, m).to_string()),
            );
        }
        if !autoscaling.is_empty() {
            row.extend(autoscaling.values(s));
        }
        let _ = w.write_record(&row);
    }
    w.into_inner().unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventJson<'a> {
    t: u64,
    time: String,
    verb: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subresource: Option<&'static str>,
    kind: &'static str,
    namespace: &'a str,
    name: &'a str,
    resource_version: u64,
    #[serde(rename = "type")]
    change: &'static str,
    user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    desired_replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ready: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ready_replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    available_replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_timestamp: Option<u64>,
}

/// Writes `events.jsonl`: one API write per line, in commit order.
pub fn write_events(out: &mut dyn Write, writes: &[WriteRecord]) -> std::io::Result<()> {
    for w in writes {
        let event = EventJson {
            t: w.at.as_nanos(),
            time: w.at.to_string(),
            verb: w.verb.name(),
            subresource: w.subresource.map(|s| s.name()),
            kind: w.kind.name(),
            namespace: &w.key.namespace,
            name: &w.key.name,
            resource_version: w.resource_version.0,
            change: w.change.name(),
            user: &w.user,
            replicas: w.replicas,
            current_replicas: w.hpa_replicas.map(|h| h.0),
            desired_replicas: w.hpa_replicas.map(|h| h.1),
            node: w.node.as_deref(),
            reason: w.reason.as_deref(),
            phase: w.pod_status.map(|(phase, _)| phase.name()),
            ready: w.pod_status.map(|(_, ready)| ready),
            ready_replicas: w.workload_status.map(|s| s.0),
            available_replicas: w.workload_status.map(|s| s.1),
            deletion_timestamp: w.deletion_timestamp.map(SimTime::as_nanos),
        };
        serde_json::to_writer(&mut *out, &event)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Requests per second between consecutive samples, for charts.
pub fn rates(samples: &[Sample], value: impl Fn(&Sample) -> u64) -> Vec<(f64, f64)> {
    samples
        .windows(2)
        .filter_map(|w| {
            let dt = (w[1].at - w[0].at).as_secs_f64();
            (dt > 0.0).then(|| {
                let dv = value(&w[1]).saturating_sub(value(&w[0]));
                (w[1].at.as_secs_f64(), dv as f64 / dt)
            })
        })
        .collect()
}
