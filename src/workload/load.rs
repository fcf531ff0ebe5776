//! The load model: what offered traffic does to the pods that serve it — the part of the
//! world a real cluster gets from its users, and the source of every CPU and memory figure
//! metrics-server later reads.
//!
//! * **Traffic** ([`Traffic`], a scenario's `spec.traffic` entry): a Service's request rate
//!   over time ([`RateProfile`]), re-evaluated every `step` on a grid from time 0.
//! * **Spread**: kube-proxy picks a ready endpoint at random per connection, so each ready
//!   endpoint of the Service's EndpointSlices (as committed, so the EndpointSlice controller's
//!   delay counts) gets an equal share in expectation. With `noise` > 0 each endpoint's share
//!   is weighted by `max(0, 1 + noise · z)` (z standard normal, drawn per endpoint per step
//!   from the stream `traffic/<namespace>/<name>`) and the weights are normalized, so the
//!   Service's total is kept and only its spread varies.
//! * **Serving**: with a `server` ([`Server`]) each pod is an M/M/c/K queue at its share
//!   (served, dropped, latency); without one a pod serves all it is offered.
//! * **Usage**: `cpu = baseCpu + served × cpuPerRequest`, capped at the pod's CPU limit (the
//!   sum of its containers' limits, when each has one): a capped pod is throttled and serves
//!   only what the limit leaves, the rest dropped. `memory = baseMemory + served ×
//!   memoryPerRequest`. A pod of no traffic's Service uses nothing. The annotations
//!   `kubesim.io/cpu-usage` and `kubesim.io/memory-usage` (quantities) pin a pod's usage,
//!   whatever it serves.
//! * **Containers**: a pod's usage is split among its running containers by their CPU
//!   requests (a container without one by its CPU limit, which the apiserver would have made
//!   its request; equally when none has either); each container's CPU is a [`CpuCounter`], what the
//!   kubelet's `/metrics/resource` reports at its housekeeping samples.
//!
//! The model follows the store's commits (pods that run, slices that change) after every
//! event, like an observer, and changes usage only then and at its steps: it is not a
//! component and sends no request.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rand::RngExt;

use super::saturation::{Performance, Server, mixture_latency_quantiles};
use super::traffic::RateProfile;
use crate::api::endpointslice::EndpointSlice;
use crate::api::pod::Pod;
use crate::api::quantity::Quantity;
use crate::api::{Kind, ObjectKey, ResourceVersion};
use crate::apiserver::{Change, ChangeType, Store};
use crate::kubelet::resource_metrics::{CpuCounter, HOUSEKEEPING_INTERVAL, last_sample};
use crate::metrics_server::storage::{ContainerPoint, ScrapedPoint};
use crate::sim::{RngStreams, SimDuration, SimRng, SimTime};

/// The annotation that pins a pod's CPU usage (a quantity, e.g. `250m`).
pub const ANNOTATION_CPU_USAGE: &str = "kubesim.io/cpu-usage";
/// The annotation that pins a pod's memory usage (a quantity, e.g. `300Mi`).
pub const ANNOTATION_MEMORY_USAGE: &str = "kubesim.io/memory-usage";
/// The share of requests dropped above which a Service counts as overloaded (0.1 %).
pub const OVERLOAD_DROPPED_SHARE: f64 = 0.001;
/// How often a traffic's rate is re-evaluated unless its entry says otherwise.
pub const DEFAULT_STEP: SimDuration = SimDuration::from_secs(5);
/// The latency percentiles a Service reports: p50, p95 and p99.
pub const LATENCY_PERCENTILES: [f64; 3] = [0.5, 0.95, 0.99];

/// One Service's offered load and what a request costs the pods that serve it.
#[derive(Clone, Debug, PartialEq)]
pub struct Traffic {
    /// The Service.
    pub service: ObjectKey,
    /// Its request rate over time.
    pub rate: RateProfile,
    /// What serving costs a pod.
    pub cost: RequestCost,
    /// The relative spread of the endpoints' shares (0: equal shares).
    pub noise: f64,
    /// How often the rate is re-evaluated.
    pub step: SimDuration,
    /// How a pod serves (None: everything offered is served at once).
    pub server: Option<Server>,
}

/// What serving costs a pod: a base and a cost per request per second.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RequestCost {
    /// Millicores a pod uses serving nothing.
    pub base_cpu: f64,
    /// Millicores per request per second served.
    pub cpu_per_request: f64,
    /// Bytes a pod uses serving nothing.
    pub base_memory: f64,
    /// Bytes per request per second served.
    pub memory_per_request: f64,
}

/// What a pod does with its share of one Service's traffic now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Share {
    /// Requests per second offered.
    pub offered: f64,
    /// Requests per second served.
    pub served: f64,
    /// Requests per second dropped (a full queue or a throttled pod).
    pub dropped: f64,
}

/// A Service's traffic now, summed over its endpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ServiceNow {
    /// Requests per second offered to the Service.
    pub offered: f64,
    /// Served.
    pub served: f64,
    /// Dropped: at full queues, by throttled pods, or for want of any ready endpoint.
    pub dropped: f64,
    /// Ready endpoints the traffic is spread over.
    pub endpoints: usize,
    /// Of them, pods held at their CPU limit.
    pub throttled: usize,
}

/// A Service's traffic summed over time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ServiceTotals {
    /// Requests offered.
    pub offered: f64,
    /// Requests served.
    pub served: f64,
    /// Requests dropped.
    pub dropped: f64,
    /// Seconds during which more than [`OVERLOAD_DROPPED_SHARE`] of the requests were
    /// dropped: users saw errors. (A finite queue drops a few even when lightly loaded.)
    pub overload_seconds: f64,
    /// Pod-seconds held at the CPU limit.
    pub throttled_pod_seconds: f64,
}

impl ServiceTotals {
    /// Adds `rates` held for `seconds`.
    fn add(&mut self, rates: &ServiceNow, seconds: f64) {
        self.offered += rates.offered * seconds;
        self.served += rates.served * seconds;
        self.dropped += rates.dropped * seconds;
        if rates.dropped > OVERLOAD_DROPPED_SHARE * rates.offered {
            self.overload_seconds += seconds;
        }
        self.throttled_pod_seconds += rates.throttled as f64 * seconds;
    }
}

/// One traffic's state.
#[derive(Clone, Debug)]
struct ServiceLoad {
    traffic: Traffic,
    /// The Service as `namespace/name`, for the samples to share.
    name: Arc<str>,
    rng: SimRng,
    /// Each slice's endpoints (pod names), ready or not.
    slices: BTreeMap<String, Vec<(String, bool)>>,
    /// The ready endpoints, in name order.
    ready: Vec<ObjectKey>,
    /// Every endpoint, ready or not: the pods that belong to the Service.
    members: Vec<ObjectKey>,
    /// The pods the last spread reached (members and ready endpoints), in key order.
    reached: Vec<ObjectKey>,
    now: ServiceNow,
    /// The totals up to `since`, when `now` took effect.
    totals: ServiceTotals,
    since: SimTime,
    /// Each serving pod's steady state with what it serves (with a `server`), for latency.
    serving: Vec<(f64, Performance)>,
    /// The [`LATENCY_PERCENTILES`] of `serving`, worked out when first asked for: a sample
    /// reads them, and samples may come more often than the load changes.
    latency: OnceCell<Option<[f64; 3]>>,
    /// The rate at the last change of load, once the first spread set it.
    level: Option<f64>,
    /// The changes of load: (when, rate before, rate after).
    changes: Vec<(SimTime, f64, f64)>,
}

/// A running container.
#[derive(Clone, Debug)]
struct ContainerLoad {
    name: String,
    start: SimTime,
    weight: f64,
    cpu: CpuCounter,
    memory: u64,
}

/// A pod with running containers.
#[derive(Clone, Debug)]
struct PodLoad {
    node: String,
    containers: Vec<ContainerLoad>,
    pin_cpu: Option<u64>,
    pin_memory: Option<u64>,
    /// The pod's CPU limit in millicores, when every container has one.
    cpu_limit: Option<u64>,
    /// Each traffic's share, by the traffic's place.
    shares: Vec<(usize, Share)>,
    /// Whether its CPU is held at its limit.
    throttled: bool,
    /// The requests it served of each traffic that ever reached it since its containers
    /// started (its `http_requests_total`), in order of the traffic's place.
    requests: Vec<(usize, RequestCounter)>,
}

/// A count of requests served, growing at the served rate (a counter as an application
/// exports it: it starts at 0 with the process).
#[derive(Clone, Copy, Debug, PartialEq)]
struct RequestCounter {
    /// The count at `since`.
    total: f64,
    /// Requests per second served from `since` on.
    rate: f64,
    since: SimTime,
}

impl RequestCounter {
    fn at(&self, t: SimTime) -> f64 {
        self.total + self.rate * t.saturating_since(self.since).as_secs_f64()
    }

    fn set_rate(&mut self, now: SimTime, rate: f64) {
        self.total = self.at(now);
        self.since = now;
        self.rate = rate;
    }
}

/// Every Service's load and every running pod's usage.
#[derive(Clone, Debug)]
pub struct LoadModel {
    services: Vec<ServiceLoad>,
    by_service: BTreeMap<ObjectKey, usize>,
    pods: BTreeMap<ObjectKey, PodLoad>,
    observed: ResourceVersion,
    /// The traffics whose endpoints changed since their last spread (all of them before the
    /// first), in scenario order: only these are spread again after a commit.
    stale: BTreeSet<usize>,
}

impl LoadModel {
    /// A model of `traffic`, its noise drawn from the run's `streams`.
    pub fn new(traffic: &[Traffic], streams: RngStreams) -> Self {
        let services: Vec<ServiceLoad> = traffic
            .iter()
            .map(|t| ServiceLoad {
                name: Arc::from(t.service.to_string()),
                rng: streams.stream(&format!(
                    "traffic/{}/{}",
                    t.service.namespace, t.service.name
                )),
                traffic: t.clone(),
                slices: BTreeMap::new(),
                ready: Vec::new(),
                members: Vec::new(),
                reached: Vec::new(),
                now: ServiceNow::default(),
                totals: ServiceTotals::default(),
                since: SimTime::ZERO,
                serving: Vec::new(),
                latency: OnceCell::new(),
                level: None,
                changes: Vec::new(),
            })
            .collect();
        let by_service = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.traffic.service.clone(), i))
            .collect();
        LoadModel {
            by_service,
            stale: (0..services.len()).collect(),
            services,
            pods: BTreeMap::new(),
            observed: ResourceVersion(0),
        }
    }

    /// The traffics, in scenario order.
    pub fn traffic(&self) -> impl Iterator<Item = &Traffic> {
        self.services.iter().map(|s| &s.traffic)
    }

    /// Each traffic's Service and what it does now, in scenario order.
    pub fn services(&self) -> impl Iterator<Item = (&ObjectKey, ServiceNow)> {
        self.services.iter().map(|s| (&s.traffic.service, s.now))
    }

    /// Traffic `index`'s Service as `namespace/name`.
    pub fn service_name(&self, index: usize) -> Option<&Arc<str>> {
        self.services.get(index).map(|s| &s.name)
    }

    /// Each traffic's totals up to `at` (at or after the last change), in scenario order.
    pub fn totals(&self, at: SimTime) -> impl Iterator<Item = (&ObjectKey, ServiceTotals)> {
        self.services.iter().map(move |s| {
            let mut totals = s.totals;
            totals.add(&s.now, at.saturating_since(s.since).as_secs_f64());
            (&s.traffic.service, totals)
        })
    }

    /// Traffic `index`'s changes of load: (when, rate before, rate after), each a move of more
    /// than [`LOAD_CHANGE`] from the rate at the change before.
    pub fn load_changes(&self, index: usize) -> &[(SimTime, f64, f64)] {
        self.services
            .get(index)
            .map_or(&[], |s| s.changes.as_slice())
    }

    /// Traffic `index`'s latency percentiles ([`LATENCY_PERCENTILES`], in seconds) now, over
    /// its pods weighted by what each serves; None without a `server` or while nothing is
    /// served.
    pub fn latency_percentiles(&self, index: usize) -> Option<[f64; 3]> {
        let service = self.services.get(index)?;
        *service.latency.get_or_init(|| {
            let pods: Vec<(f64, &Performance)> = service
                .serving
                .iter()
                .filter(|(w, _)| *w > 0.0)
                .map(|(w, p)| (*w, p))
                .collect();
            (!pods.is_empty()).then(|| mixture_latency_quantiles(&pods, LATENCY_PERCENTILES))
        })
    }

    /// The share of traffic `index` pod `pod` has now, if it has one.
    pub fn share(&self, pod: &ObjectKey, index: usize) -> Option<Share> {
        let pod = self.pods.get(pod)?;
        pod.shares
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, s)| *s)
    }

    /// Pods with running containers.
    pub fn running_pods(&self) -> usize {
        self.pods.len()
    }

    /// A pod's CPU usage now, in millicores (None when it runs no container).
    pub fn cpu_millicores(&self, pod: &ObjectKey) -> Option<u64> {
        let pod = self.pods.get(pod)?;
        Some(pod.containers.iter().map(|c| c.cpu.millicores()).sum())
    }

    /// The first time after `now` at which some traffic's rate is re-evaluated.
    pub fn next_step(&self, now: SimTime) -> Option<SimTime> {
        self.services
            .iter()
            .map(|s| now.next_multiple_of(s.traffic.step))
            .min()
    }

    /// Follows the store's commits since the last call: pods that start or stop running,
    /// slices that change; then spreads the traffic of each Service whose endpoints changed.
    pub fn observe(&mut self, now: SimTime, store: &Store) {
        if store.revision() == self.observed {
            return;
        }
        if let Ok(changes) = store.changes_since(self.observed) {
            for change in changes {
                match change.object.kind() {
                    Kind::Pod => self.pod_changed(now, change),
                    Kind::EndpointSlice => self.slice_changed(change),
                    _ => {}
                }
            }
        }
        self.observed = store.revision();
        while let Some(index) = self.stale.pop_first() {
            self.spread(index, now);
        }
    }

    /// Re-evaluates the rate of every traffic whose step falls at `now`.
    pub fn step(&mut self, now: SimTime) {
        for index in 0..self.services.len() {
            let step = self.services[index].traffic.step.as_nanos().max(1);
            if now.as_nanos().is_multiple_of(step) {
                self.spread(index, now);
            }
        }
    }

    fn pod_changed(&mut self, now: SimTime, change: &Change) {
        let key = change.object.key();
        let pod = match (&change.change, change.object.as_pod()) {
            (ChangeType::Deleted, _) | (_, None) => {
                self.pods.remove(&key);
                return;
            }
            (_, Some(pod)) => pod,
        };
        let running = running_containers(pod);
        if running.is_empty() {
            self.pods.remove(&key);
            return;
        }
        let same = self.pods.get(&key).is_some_and(|p| {
            p.containers.len() == running.len()
                && p.containers
                    .iter()
                    .zip(&running)
                    .all(|(c, (name, start))| c.name == *name && c.start == *start)
        });
        if !same {
            let weights = cpu_weights(pod, &running);
            let shares = self.pods.remove(&key).map(|p| p.shares).unwrap_or_default();
            let containers = running
                .into_iter()
                .zip(weights)
                .map(|((name, start), weight)| ContainerLoad {
                    name,
                    start,
                    weight,
                    cpu: CpuCounter::new(start, 0),
                    memory: 0,
                })
                .collect();
            self.pods.insert(
                key.clone(),
                PodLoad {
                    node: pod.spec.node_name.clone(),
                    containers,
                    pin_cpu: None,
                    pin_memory: None,
                    cpu_limit: cpu_limit(pod),
                    shares,
                    throttled: false,
                    // The containers (re)started: the application counts from 0 again.
                    requests: Vec::new(),
                },
            );
        }
        if let Some(load) = self.pods.get_mut(&key) {
            load.pin_cpu = pinned(pod, ANNOTATION_CPU_USAGE, Quantity::milli_value);
            load.pin_memory = pinned(pod, ANNOTATION_MEMORY_USAGE, Quantity::value);
            let services = &self.services;
            apply_usage(load, services, now);
        }
    }

    fn slice_changed(&mut self, change: &Change) {
        let Some(slice) = change.object.as_endpoint_slice() else {
            return;
        };
        let Some(service) = slice.service_name() else {
            return;
        };
        let key = ObjectKey::new(slice.metadata.namespace.clone(), service.to_string());
        let Some(&index) = self.by_service.get(&key) else {
            return;
        };
        let load = &mut self.services[index];
        if change.change == ChangeType::Deleted {
            load.slices.remove(&slice.metadata.name);
        } else {
            load.slices
                .insert(slice.metadata.name.clone(), endpoints_of(slice));
        }
        let mut ready: Vec<ObjectKey> = Vec::new();
        let mut members: Vec<ObjectKey> = Vec::new();
        for (name, is_ready) in load.slices.values().flatten() {
            let pod = ObjectKey::new(key.namespace.clone(), name.clone());
            if *is_ready {
                ready.push(pod.clone());
            }
            members.push(pod);
        }
        ready.sort();
        ready.dedup();
        members.sort();
        members.dedup();
        load.ready = ready;
        load.members = members;
        self.stale.insert(index);
    }

    /// Spreads traffic `index`'s rate at `now` over its ready endpoints and sets the usage of
    /// every pod it touches (a pod that left gets nothing more from it).
    fn spread(&mut self, index: usize, now: SimTime) {
        let (rate, offered, server) = {
            self.stale.remove(&index);
            let service = &mut self.services[index];
            let rate = service.traffic.rate.rate_at(now.since_start()).max(0.0);
            record_level(service, rate, now);
            // Only endpoints the model sees running take traffic (kube-proxy sends only to
            // ready ones, and a ready pod runs).
            let pods = &self.pods;
            let serving: Vec<ObjectKey> = service
                .ready
                .iter()
                .filter(|k| pods.contains_key(*k))
                .cloned()
                .collect();
            let weights = spread_weights(serving.len(), service.traffic.noise, &mut service.rng);
            let total: f64 = weights.iter().sum();
            let offered: BTreeMap<ObjectKey, f64> = serving
                .into_iter()
                .zip(weights)
                .map(|(key, w)| (key, if total > 0.0 { rate * w / total } else { 0.0 }))
                .collect();
            (rate, offered, service.traffic.server)
        };
        // Every member gets its share (0 when not ready), and so its base usage; a pod this
        // traffic reached before and no longer does loses its share.
        let mut reached: Vec<ObjectKey> = self.services[index]
            .members
            .iter()
            .chain(offered.keys())
            .cloned()
            .collect();
        reached.sort();
        reached.dedup();
        let before = std::mem::take(&mut self.services[index].reached);
        {
            let service = &mut self.services[index];
            let held = now.saturating_since(service.since).as_secs_f64();
            service.totals.add(&service.now, held);
            service.since = now;
            service.serving.clear();
        }
        let mut serving: Vec<(f64, Performance)> = Vec::new();
        let mut now_total = ServiceNow {
            offered: rate,
            endpoints: offered.len(),
            dropped: if offered.is_empty() { rate } else { 0.0 },
            ..ServiceNow::default()
        };
        for key in &reached {
            let Some(pod) = self.pods.get_mut(key) else {
                continue;
            };
            let (share, performance) = serve(server, offered.get(key).copied().unwrap_or(0.0));
            if let Some(p) = performance {
                serving.push((share.served, p));
            }
            match pod.shares.iter_mut().find(|(i, _)| *i == index) {
                Some((_, s)) => *s = share,
                None => pod.shares.push((index, share)),
            }
            apply_usage(pod, &self.services, now);
            if let Some((_, s)) = pod.shares.iter().find(|(i, _)| *i == index) {
                now_total.served += s.served;
                now_total.dropped += s.dropped;
            }
            now_total.throttled += usize::from(pod.throttled && offered.contains_key(key));
        }
        for key in before {
            if reached.binary_search(&key).is_ok() {
                continue;
            }
            if let Some(pod) = self.pods.get_mut(&key) {
                pod.shares.retain(|(i, _)| *i != index);
                apply_usage(pod, &self.services, now);
            }
        }
        let service = &mut self.services[index];
        service.reached = reached;
        service.now = now_total;
        service.serving = serving;
        service.latency = OnceCell::new();
    }

    /// Each running endpoint of each traffic's Service with the requests it served of that
    /// traffic by `now` (its `http_requests_total`): (the traffic's place, the pod, the
    /// count), as Prometheus scrapes the Service's endpoints; in pod order, then the
    /// traffic's. A pod is an endpoint of a traffic exactly while the traffic holds a share
    /// of it (0 when not ready).
    pub fn request_counts(&self, now: SimTime) -> impl Iterator<Item = (usize, &ObjectKey, f64)> {
        self.pods.iter().flat_map(move |(key, pod)| {
            pod.requests
                .iter()
                .filter(|(index, _)| pod.shares.iter().any(|(i, _)| i == index))
                .map(move |(index, counter)| (*index, key, counter.at(now)))
        })
    }

    /// Every running pod's containers as the kubelets' `/metrics/resource` report them at
    /// `now`: each node's last housekeeping sample (at the node's `phase` plus whole
    /// intervals), in pod order and each pod's containers by name. A pod with a container
    /// started after its node's sample is left out.
    pub fn resource_points(
        &self,
        now: SimTime,
        mut phase: impl FnMut(&str) -> SimDuration,
    ) -> Vec<ScrapedPoint<'_>> {
        let mut points = Vec::with_capacity(self.pods.len());
        for (key, pod) in &self.pods {
            let Some(sampled) = last_sample(now, phase(&pod.node), HOUSEKEEPING_INTERVAL) else {
                continue;
            };
            if pod.containers.iter().any(|c| c.start > sampled) {
                continue;
            }
            let first = points.len();
            points.extend(pod.containers.iter().map(|c| ScrapedPoint {
                pod: key,
                container: &c.name,
                point: ContainerPoint {
                    start_time: c.start,
                    timestamp: sampled,
                    cumulative_cpu: c.cpu.used_at(sampled),
                    memory: c.memory,
                },
            }));
            points[first..].sort_by(|a, b| a.container.cmp(b.container));
        }
        points
    }
}

/// How far the rate must move from its level to count as a change of load: the HPA's
/// default tolerance, below which it would not act either.
pub const LOAD_CHANGE: f64 = 0.1;

/// Records a change of load when `rate` is more than [`LOAD_CHANGE`] away from the level.
fn record_level(service: &mut ServiceLoad, rate: f64, now: SimTime) {
    match service.level {
        None => service.level = Some(rate),
        Some(level) if (rate - level).abs() > LOAD_CHANGE * level.max(f64::MIN_POSITIVE) => {
            service.changes.push((now, level, rate));
            service.level = Some(rate);
        }
        Some(_) => {}
    }
}

/// A share served by `server` (all of it, at once, without one), and the pod's steady state.
fn serve(server: Option<Server>, offered: f64) -> (Share, Option<Performance>) {
    match server {
        Some(server) if offered > 0.0 => {
            let p = server.performance(offered);
            let share = Share {
                offered,
                served: p.served,
                dropped: p.dropped,
            };
            (share, Some(p))
        }
        _ => {
            let share = Share {
                offered,
                served: offered,
                dropped: 0.0,
            };
            (share, None)
        }
    }
}

/// The endpoints' weights: 1 each, or `max(0, 1 + noise · z)` with z standard normal
/// (Box–Muller on two uniform draws, `libm` for portability).
fn spread_weights(n: usize, noise: f64, rng: &mut SimRng) -> Vec<f64> {
    if noise <= 0.0 {
        return vec![1.0; n];
    }
    (0..n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            let z = libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2);
            (1.0 + noise * z).max(0.0)
        })
        .collect()
}

/// Sets `pod`'s usage from its pins or its shares, capping CPU at its limit.
fn apply_usage(pod: &mut PodLoad, services: &[ServiceLoad], now: SimTime) {
    let mut cpu = 0.0;
    let mut memory = 0.0;
    let mut throttled = false;
    for (index, share) in pod.shares.iter_mut() {
        let cost = services[*index].traffic.cost;
        let mut need = cost.base_cpu + share.served * cost.cpu_per_request;
        if let Some(limit) = pod.cpu_limit.map(|l| l as f64)
            && need > limit
            && pod.pin_cpu.is_none()
        {
            // Throttled: the limit serves what it can, the rest is dropped.
            let capacity = if cost.cpu_per_request > 0.0 {
                ((limit - cost.base_cpu) / cost.cpu_per_request).max(0.0)
            } else {
                share.served
            };
            let cut = (share.served - capacity).max(0.0);
            share.served -= cut;
            share.dropped += cut;
            need = limit;
            throttled = true;
        }
        cpu += need;
        memory += cost.base_memory + share.served * cost.memory_per_request;
    }
    if let Some(limit) = pod.cpu_limit.map(|l| l as f64) {
        cpu = cpu.min(limit);
    }
    pod.throttled = throttled;
    count_requests(pod, now);
    let cpu = pod.pin_cpu.unwrap_or(cpu.round().max(0.0) as u64);
    let memory = pod.pin_memory.unwrap_or(memory.round().max(0.0) as u64);
    let total_weight: f64 = pod.containers.iter().map(|c| c.weight).sum();
    let last = pod.containers.len().saturating_sub(1);
    let (mut cpu_left, mut memory_left) = (cpu, memory);
    for (i, c) in pod.containers.iter_mut().enumerate() {
        // The last container takes the remainder, so the parts sum to the whole.
        let (c_cpu, c_memory) = if i == last {
            (cpu_left, memory_left)
        } else {
            let part = c.weight / total_weight;
            ((cpu as f64 * part) as u64, (memory as f64 * part) as u64)
        };
        cpu_left -= c_cpu.min(cpu_left);
        memory_left -= c_memory.min(memory_left);
        c.cpu.set_usage(now, c_cpu);
        c.memory = c_memory;
    }
}

/// Moves the pod's request counters to what each traffic's share serves from `now` on: a
/// traffic that no longer reaches it leaves its counter standing, one that first does starts
/// one at 0.
fn count_requests(pod: &mut PodLoad, now: SimTime) {
    let served = |index: usize| {
        pod.shares
            .iter()
            .find(|(i, _)| *i == index)
            .map_or(0.0, |(_, share)| share.served)
    };
    for (index, counter) in &mut pod.requests {
        counter.set_rate(now, served(*index));
    }
    for (index, share) in &pod.shares {
        let at = pod.requests.partition_point(|(i, _)| i < index);
        if pod.requests.get(at).is_none_or(|(i, _)| i != index) {
            let counter = RequestCounter {
                total: 0.0,
                rate: share.served,
                since: now,
            };
            pod.requests.insert(at, (*index, counter));
        }
    }
}

/// The running containers of a bound pod, with their start times, in status order.
fn running_containers(pod: &Pod) -> Vec<(String, SimTime)> {
    if pod.spec.node_name.is_empty() {
        return Vec::new();
    }
    pod.status
        .container_statuses
        .iter()
        .filter_map(|s| {
            s.state
                .running
                .as_ref()
                .map(|r| (s.name.clone(), r.started_at))
        })
        .collect()
}

/// Each running container's part of the pod's usage: its CPU request (equal parts when none
/// has one).
fn cpu_weights(pod: &Pod, running: &[(String, SimTime)]) -> Vec<f64> {
    let requests: Vec<f64> = running
        .iter()
        .map(|(name, _)| {
            pod.spec
                .containers
                .iter()
                .find(|c| c.name == *name)
                .map_or(0, |c| {
                    let r = &c.resources;
                    r.requests
                        .get("cpu")
                        .or_else(|| r.limits.get("cpu"))
                        .map_or(0, Quantity::milli_value)
                }) as f64
        })
        .collect();
    if requests.iter().all(|r| *r <= 0.0) {
        vec![1.0; running.len()]
    } else {
        requests
    }
}

/// The pod's CPU limit in millicores, when every container has one.
fn cpu_limit(pod: &Pod) -> Option<u64> {
    pod.spec
        .containers
        .iter()
        .map(|c| c.resources.limits.get("cpu").map(Quantity::milli_value))
        .sum::<Option<i64>>()
        .and_then(|m| u64::try_from(m).ok())
}

/// A pinned usage from `annotation`, read with `value` (millicores or bytes).
fn pinned(pod: &Pod, annotation: &str, value: fn(&Quantity) -> i64) -> Option<u64> {
    let text = pod.metadata.annotations.get(annotation)?;
    let quantity = Quantity::parse(text).ok()?;
    u64::try_from(value(&quantity)).ok()
}

/// A slice's endpoints that point at pods, with whether each is ready.
fn endpoints_of(slice: &EndpointSlice) -> Vec<(String, bool)> {
    slice
        .endpoints
        .iter()
        .filter_map(|e| {
            let target = e.target_ref.as_ref().filter(|t| t.kind == "Pod")?;
            Some((target.name.clone(), e.is_ready()))
        })
        .collect()
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
