//! Metrics: periodic samples of the world, taken from ground truth (the store and the
//! apiserver's counters) without sending requests, as a monitoring system scrapes them.
//!
//! Column names follow the real Prometheus metric names where one exists, so a simulated run
//! can be held beside a real dashboard.

pub mod autoscaling;
pub mod convergence;
pub mod gpu;
pub mod healing;
pub mod leadership;
pub mod placement;
pub mod restarts;
pub mod tally;

use crate::scheduler::queue::PendingPods;
use std::collections::BTreeMap;

use crate::api::gpu::node_gpu_count;
use crate::api::node::Node;
use crate::api::resources::Resources;
use crate::api::{Kind, Object, ObjectKey, ResourceVersion};
use crate::apiserver::{ApiServer, Store};
use crate::client::informer::InformerHealth;
use crate::kube_proxy::KubeProxies;
use crate::scheduler::kube_scheduler::KubeScheduler;
use crate::sim::SimTime;

/// One sample of the cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// When.
    pub at: SimTime,
    /// Nodes.
    pub nodes: u64,
    /// Cordoned nodes.
    pub nodes_unschedulable: u64,
    /// Pods that exist.
    pub pods: u64,
    /// Pods bound to a node and not finished.
    pub pods_bound: u64,
    /// Pods waiting for a node.
    pub pods_pending: u64,
    /// Pods gracefully terminating.
    pub pods_terminating: u64,
    /// Requests of bound, unfinished pods (CPU in millicores, memory in bytes, pods as count).
    pub requested: Resources,
    /// Allocatable of all nodes.
    pub allocatable: Resources,
    /// Deployments.
    pub deployments: u64,
    /// ReplicaSets.
    pub replicasets: u64,
    /// `apiserver_request_total` summed over labels.
    pub api_requests: u64,
    /// Of which mutating.
    pub api_writes: u64,
    /// Watch events delivered so far.
    pub watch_events: u64,
    /// The store's revision.
    pub revision: u64,
    /// Pods in the scheduler's queue (`scheduler_pending_pods`) by its `queue` label, none
    /// without a scheduler.
    pub scheduler_pending_pods: PendingPods,
    /// Scheduling attempts so far (`scheduler_schedule_attempts_total`).
    pub scheduler_attempts: u64,
    /// Population standard deviation of per-node CPU allocation, in percentage points: how
    /// evenly the requests are spread over the nodes.
    pub cpu_allocation_spread_pct: f64,
    /// GPU allocation and fragmentation, when some node has GPUs.
    pub gpu: Option<gpu::GpuSample>,
    /// Pods by phase (Pending, Running, Succeeded, Failed, Unknown).
    pub pods_by_phase: [u64; 5],
    /// Workloads not holding their declared state (see [`convergence`]).
    pub workloads_unconverged: u64,
    /// Σ `spec.replicas` of Deployments.
    pub deployment_replicas_desired: i64,
    /// Σ `status.updatedReplicas` of Deployments.
    pub deployment_replicas_updated: i64,
    /// Σ `status.availableReplicas` of Deployments.
    pub deployment_replicas_available: i64,
    /// Σ of `spec.replicas − availableReplicas` of Deployments (what is unavailable).
    pub deployment_replicas_unavailable: i64,
    /// EndpointSlices that exist.
    pub endpoint_slices: u64,
    /// Rule syncs of every kube-proxy so far
    /// (`kubeproxy_sync_proxy_rules_duration_seconds_count`).
    pub kube_proxy_syncs: u64,
    /// Nodes by Ready condition and NoExecute taint (see [`healing`]).
    pub node_health: healing::NodeHealthCounts,
    /// Pods evicted so far (marked with the DisruptionTarget condition).
    pub pods_evicted: u64,
    /// Flow control's gauges per level (`LevelMetrics::gauges`, in that order), when the
    /// request path is modelled.
    pub flowcontrol: Option<Vec<(String, [f64; 15])>>,
    /// The apiserver process and its clients, when the request path is modelled.
    pub clients: Option<ClientsSample>,
    /// Each kube-apiserver replica, when there are several (`spec.apiserver.replicas`);
    /// empty with one, whose numbers are the run's.
    pub replicas: Vec<ReplicaSample>,
    /// Each client population's answers so far, by name: the groups `summary.json`'s
    /// `clientPopulations` lists (every `spec.clients` population, and on the modelled path
    /// each component's clients once they got an answer); empty in runs without them.
    pub populations: Vec<PopulationSample>,
    /// Each traffic's Service (runs with traffic), in scenario order.
    pub services: Vec<autoscaling::ServiceSample>,
    /// Each HPA (runs with a load model), in key order.
    pub hpas: Vec<autoscaling::HpaSample>,
}

/// What one client population was answered so far, each try counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PopulationSample {
    /// Its name, as `summary.json`'s `clientPopulations` keys it.
    pub name: String,
    /// Every answer (`apiserver_request_total` of its clients).
    pub requests: u64,
    /// Of which 429 Too Many Requests.
    pub rejected: u64,
}

/// One kube-apiserver replica at a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSample {
    /// Whether its process is up.
    pub up: bool,
    /// Clients connected to it through the load balancer.
    pub connected_clients: u64,
    /// Requests holding its seats (modelled path).
    pub inflight_requests: u64,
    /// Requests in its flow control's queues (modelled path).
    pub inqueue_requests: u64,
}

/// The apiserver process and how its clients are doing, at a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientsSample {
    /// Whether the apiserver process is up (with several replicas: whether any is).
    pub apiserver_up: bool,
    /// Requests answered 429 so far (`apiserver_request_total{code="429"}`).
    pub too_many_requests: u64,
    /// Requests refused at the connection while the apiserver (every replica) was down.
    pub connections_refused: u64,
    /// Requests whose connection was reset when their apiserver replica went down.
    pub connections_reset: u64,
    /// Every component's informers, summed.
    pub informers: InformerHealth,
    /// The memory LIST answers being served hold now (the apiserver memory estimate).
    pub list_memory_bytes: u64,
    /// Which components lead now (`leader_election_master_status`).
    pub leaders: LeaderStatus,
}

/// Whether each electing component holds its lease (`None`: it does not elect, or does not
/// run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaderStatus {
    /// kube-controller-manager.
    pub controller_manager: Option<bool>,
    /// kube-scheduler.
    pub scheduler: Option<bool>,
}

impl Sample {
    /// `requested / allocatable` of resource `name` in percent (0 when nothing is allocatable).
    pub fn allocation_pct(&self, name: &str) -> f64 {
        let alloc = self.allocatable.get(name);
        if alloc <= 0 {
            return 0.0;
        }
        100.0 * self.requested.get(name) as f64 / alloc as f64
    }
}

/// The components a sample reads counters of, when the run has them.
#[derive(Clone, Default)]
pub struct Observed<'a> {
    /// kube-scheduler.
    pub scheduler: Option<&'a KubeScheduler>,
    /// The kube-proxies.
    pub kube_proxies: Option<&'a KubeProxies>,
    /// Every component's informers, summed.
    pub informers: InformerHealth,
    /// Which electing components lead.
    pub leaders: LeaderStatus,
    /// Each client population's answers so far, sorted by name.
    pub populations: Vec<PopulationSample>,
    /// The load model, when the run has traffic or metrics-server.
    pub load: Option<&'a crate::workload::load::LoadModel>,
}

/// The samples of a run.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    samples: Vec<Sample>,
    /// Nodes' and pods' totals, from every commit.
    tally: tally::ClusterTally,
    /// Convergence, from every commit.
    convergence: convergence::Convergence,
    /// Nodes' health, evictions and creations, from every commit.
    healing: healing::Healing,
    /// Scaling and cost, from every commit (runs with a load model).
    autoscaling: Option<autoscaling::Autoscaling>,
    /// Each HPA's name, shared by its samples.
    hpa_names: BTreeMap<ObjectKey, std::sync::Arc<str>>,
    /// The last version [`Recorder::observe`] took in.
    observed: ResourceVersion,
}

impl Recorder {
    /// The samples, in time order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The last sample.
    pub fn last(&self) -> Option<&Sample> {
        self.samples.last()
    }

    /// Convergence so far.
    pub fn convergence(&self) -> &convergence::Convergence {
        &self.convergence
    }

    /// How many objects' contributions to the totals the recorder holds (the nodes and pods
    /// that exist: a deleted one's are dropped).
    pub fn cached_resources(&self) -> usize {
        self.tally.len()
    }

    /// Nodes' health, evictions and creations so far.
    pub fn healing(&self) -> &healing::Healing {
        &self.healing
    }

    /// The same recorder following scaling and cost too.
    pub fn with_autoscaling(mut self) -> Self {
        self.autoscaling = Some(autoscaling::Autoscaling::default());
        self
    }

    /// Scaling and cost so far, if the recorder follows them.
    pub fn autoscaling(&self) -> Option<&autoscaling::Autoscaling> {
        self.autoscaling.as_ref()
    }

    /// Takes in the changes committed since the last call (at `now`, when they were).
    pub fn observe(&mut self, now: SimTime, api: &ApiServer) {
        let store = api.store();
        if store.revision() == self.observed {
            return;
        }
        if let Ok(changes) = store.changes_since(self.observed) {
            for change in changes {
                self.convergence.observe(now, change);
                self.healing.observe(now, change);
                self.tally.apply(change);
                if let Some(a) = self.autoscaling.as_mut() {
                    a.observe(now, change);
                }
            }
        }
        self.observed = store.revision();
    }

    /// Takes a sample at `now`; a second sample at the same time replaces the first.
    pub fn sample(&mut self, now: SimTime, api: &ApiServer, components: Observed<'_>) {
        self.observe(now, api);
        let mut sample = take_sample(now, api, &self.tally);
        sample.kube_proxy_syncs = components.kube_proxies.map_or(0, |p| p.stats().syncs);
        let totals = self.convergence.deployment_totals();
        sample.workloads_unconverged = self.convergence.unconverged() as u64;
        sample.deployment_replicas_desired = totals.desired;
        sample.deployment_replicas_updated = totals.updated;
        sample.deployment_replicas_available = totals.available;
        sample.deployment_replicas_unavailable = (totals.desired - totals.available).max(0);
        sample.node_health = self.healing.nodes();
        sample.pods_evicted = self.healing.evicted() as u64;
        sample.flowcontrol = api.request_path().map(|_| {
            api.level_metrics()
                .iter()
                .map(|m| (m.name.clone(), m.gauges().map(|(_, value)| value)))
                .collect()
        });
        sample.replicas = replica_samples(api);
        sample.populations = components.populations;
        if let Some(load) = components.load {
            sample.services = autoscaling::service_samples(load);
            sample.hpas = autoscaling::hpa_samples(api.store(), &mut self.hpa_names);
        }
        sample.clients = api.request_path().map(|_| ClientsSample {
            apiserver_up: api.is_up(),
            too_many_requests: api
                .counters()
                .requests
                .iter()
                .filter(|((_, _, code), _)| *code == 429)
                .map(|(_, n)| n)
                .sum(),
            connections_refused: api.connections_refused(),
            connections_reset: api.connections_reset(),
            informers: components.informers,
            list_memory_bytes: api.request_path().map_or(0, |p| p.list_memory_bytes().0),
            leaders: components.leaders,
        });
        if let Some(s) = components.scheduler {
            sample.scheduler_pending_pods = s.pending_pods();
            sample.scheduler_attempts = s.stats().attempts.values().sum();
        }
        if self.samples.last().is_some_and(|s| s.at == now) {
            self.samples.pop();
        }
        self.samples.push(sample);
    }
}

/// Each replica's sample when the apiserver runs as several; none when it runs as one.
fn replica_samples(api: &ApiServer) -> Vec<ReplicaSample> {
    let replicas = api.replicas();
    if replicas.len() < 2 {
        return Vec::new();
    }
    let connections = api.load_balancer().replicas();
    replicas
        .iter()
        .zip(connections)
        .map(|(replica, connections)| {
            let (queued, serving) = replica.occupancy();
            ReplicaSample {
                up: !replica.process().is_down(),
                connected_clients: connections.connected,
                inflight_requests: serving as u64,
                inqueue_requests: queued as u64,
            }
        })
        .collect()
}

fn take_sample(now: SimTime, api: &ApiServer, tally: &tally::ClusterTally) -> Sample {
    let store = api.store();
    let t = tally.totals();
    let mut s = Sample {
        at: now,
        nodes: t.nodes,
        nodes_unschedulable: t.nodes_unschedulable,
        allocatable: t.allocatable.clone(),
        pods: t.pods,
        pods_by_phase: t.pods_by_phase,
        pods_terminating: t.pods_terminating,
        pods_bound: t.pods_bound,
        pods_pending: t.pods_pending,
        requested: t.requested.clone(),
        cpu_allocation_spread_pct: spread_pct(tally.cpu_by_node()),
        deployments: store.count(Kind::Deployment) as u64,
        replicasets: store.count(Kind::ReplicaSet) as u64,
        endpoint_slices: store.count(Kind::EndpointSlice) as u64,
        revision: store.revision().0,
        ..Sample::default()
    };
    if tally.has_gpu_nodes() {
        s.gpu = Some(gpu_sample(store));
    }
    let counters = api.counters();
    for (&(verb, _, _), &n) in &counters.requests {
        s.api_requests += n;
        if verb.is_mutating() {
            s.api_writes += n;
        }
    }
    s.watch_events = counters.watch_events_delivered;
    s
}

/// GPU allocation and fragmentation over the nodes with GPUs (a walk over every pod, as the
/// fragmentation measure needs each node's pods).
fn gpu_sample(store: &Store) -> gpu::GpuSample {
    let nodes: Vec<(&Node, Resources)> = store
        .iter(Kind::Node)
        .filter_map(|object| match &**object {
            Object::Node(node) => {
                let alloc = Resources::from_list(&node.status.effective_allocatable());
                node_gpu_count(&alloc)
                    .is_some()
                    .then_some((node.as_ref(), alloc))
            }
            _ => None,
        })
        .collect();
    let refs: Vec<_> = nodes.iter().map(|(n, a)| (*n, a)).collect();
    gpu::sample(store, &refs)
}

/// Population standard deviation of `requested / allocatable` (percent) over nodes with
/// something allocatable.
fn spread_pct(nodes: impl Iterator<Item = (i64, i64)>) -> f64 {
    let shares: Vec<f64> = nodes
        .filter(|(_, alloc)| *alloc > 0)
        .map(|(req, alloc)| 100.0 * req as f64 / alloc as f64)
        .collect();
    if shares.is_empty() {
        return 0.0;
    }
    let n = shares.len() as f64;
    let mean = shares.iter().sum::<f64>() / n;
    (shares.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
}

/// The `q`-quantile (0..=1) of `values` by the nearest-rank method: the smallest value with at
/// least `q × n` values at or below it. `None` for no values.
pub fn nearest_rank<T: Copy + Ord>(values: &[T], q: f64) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// The `q`-quantile (0..=1) by the nearest-rank method of values given as value → how many
/// times it was seen. `None` for no values.
pub fn nearest_rank_counted<T: Copy + Ord>(counts: &BTreeMap<T, u64>, q: f64) -> Option<T> {
    let total: u64 = counts.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    counts.iter().find_map(|(&value, &n)| {
        seen += n;
        (seen >= rank).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=10).collect();
        // p50 of 1..=10: rank ceil(5) = 5 → 5; p90: rank 9 → 9; p99: rank ceil(9.9) = 10 → 10.
        assert_eq!(nearest_rank(&v, 0.5), Some(5));
        assert_eq!(nearest_rank(&v, 0.9), Some(9));
        assert_eq!(nearest_rank(&v, 0.99), Some(10));
        assert_eq!(nearest_rank(&v, 0.0), Some(1));
        assert_eq!(nearest_rank::<u32>(&[], 0.5), None);
    }

    #[test]
    fn counted_percentiles_agree_with_the_values_spelled_out() {
        // 1 ×3, 2 ×1, 7 ×6: ten values, 1 1 1 2 7 7 7 7 7 7. p30 is rank 3 → 1; p40 rank 4
        // → 2; p50 rank 5 → 7.
        let counts = BTreeMap::from([(1u32, 3u64), (2, 1), (7, 6)]);
        let spelled = [1u32, 1, 1, 2, 7, 7, 7, 7, 7, 7];
        for q in [0.0, 0.3, 0.4, 0.5, 0.99, 1.0] {
            assert_eq!(
                nearest_rank_counted(&counts, q),
                nearest_rank(&spelled, q),
                "{q}"
            );
        }
        assert_eq!(nearest_rank_counted(&counts, 0.4), Some(2));
        assert_eq!(nearest_rank_counted::<u32>(&BTreeMap::new(), 0.5), None);
    }

    #[test]
    fn spread_is_the_population_standard_deviation() {
        // Shares 25 % and 75 %: mean 50, deviations ±25, std 25.
        let nodes = [(1000, 4000), (3000, 4000), (0, 0)];
        assert!((spread_pct(nodes.into_iter()) - 25.0).abs() < 1e-9);
    }
}
