//! metrics-server (`sigs.k8s.io/metrics-server`): scrapes every kubelet's resource metrics
//! every `--metric-resolution` (15 s as shipped; the binary's default is 60 s) and serves the
//! Metrics API (`metrics.k8s.io`) the HPA reads.
//!
//! * [`storage`]: the last two scrapes' points per container and the usage served from them
//!   (CPU as the rate between them, memory as the last value) — why a new pod has no metric
//!   for one scrape and why every value is a window late.
//! * [`MetricsServer`]: the scrapes, on a grid of the resolution from time 0. A scrape reads
//!   each node's last cAdvisor housekeeping sample (every 10 s, at a phase drawn per node from
//!   the stream `kubelet/housekeeping/<node>`), from the world's load model — the kubelets'
//!   `/metrics/resource`, which metrics-server reads directly, not through the apiserver.
//!
//! The apiserver serves `metrics.k8s.io` by proxying to metrics-server; a component reads it
//! through its context ([`crate::component::ComponentContext::metrics_api`]) as the proxied
//! answer would be at that instant. Not modelled: the proxy's own latency and flow control
//! cost, a scrape's duration (upstream's timeout is 0.9 × the resolution), a node whose kubelet
//! is down failing its scrape (its pods keep their last points until the load model drops
//! them).

pub mod storage;

use std::collections::BTreeMap;

use rand::RngExt;

use crate::api::ObjectKey;
use crate::config::metrics_server::MetricsServerConfig;
use crate::kubelet::resource_metrics::HOUSEKEEPING_INTERVAL;
use crate::sim::{RngStreams, SimDuration, SimTime};
use crate::workload::load::LoadModel;
use storage::{PodStorage, PodUsage};

/// The scraper and the Metrics API it serves.
#[derive(Clone, Debug)]
pub struct MetricsServer {
    config: MetricsServerConfig,
    storage: PodStorage,
    /// Each node's housekeeping phase, drawn when the node is first scraped.
    phases: BTreeMap<String, SimDuration>,
    streams: RngStreams,
    scrapes: u64,
}

impl MetricsServer {
    /// A metrics-server with `config`, its nodes' phases drawn from `streams`.
    pub fn new(config: MetricsServerConfig, streams: RngStreams) -> Self {
        MetricsServer {
            storage: PodStorage::new(config.metric_resolution),
            config,
            phases: BTreeMap::new(),
            streams,
            scrapes: 0,
        }
    }

    /// `--metric-resolution`.
    pub fn resolution(&self) -> SimDuration {
        self.config.metric_resolution
    }

    /// The first scrape after `now`.
    pub fn next_scrape(&self, now: SimTime) -> SimTime {
        now.next_multiple_of(self.config.metric_resolution)
    }

    /// Scrapes every node at `now`.
    pub fn scrape(&mut self, now: SimTime, load: &LoadModel) {
        let (phases, streams) = (&mut self.phases, self.streams);
        let batch = load.resource_points(now, |node| {
            if let Some(phase) = phases.get(node) {
                return *phase;
            }
            let mut rng = streams.stream(&format!("kubelet/housekeeping/{node}"));
            // Whole milliseconds: as exact as the timestamps a report prints.
            let interval_ms = HOUSEKEEPING_INTERVAL.as_nanos() / 1_000_000;
            let phase = SimDuration::from_millis(rng.random_range(0..interval_ms));
            phases.insert(node.to_string(), phase);
            phase
        });
        self.storage.store(&batch);
        self.scrapes += 1;
    }

    /// Scrapes so far.
    pub fn scrapes(&self) -> u64 {
        self.scrapes
    }

    /// A pod's `PodMetrics`, if the Metrics API has them.
    pub fn pod_usage(&self, pod: &ObjectKey) -> Option<PodUsage<'_>> {
        self.storage.pod_usage(pod)
    }
}
