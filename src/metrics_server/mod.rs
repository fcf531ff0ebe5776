//! metrics-server (`sigs.k8s.io/metrics-server`): scrapes every kubelet's resource metrics
//! every `--metric-resolution` (15 s as shipped; the binary's default is 60 s) and serves the
//! Metrics API (`metrics.k8s.io`) the HPA reads.
//!
//! * [`storage`]: the last two scrapes' points per container and the usage served from them
//!   (CPU as the rate between them, memory as the last value) — why a new pod has no metric
//!   for one scrape and why every value is a window late.
//!
//! The component that scrapes on its period and answers through the apiserver's aggregation
//! layer comes with the HPA controller that reads it.

pub mod storage;

/// `--metric-resolution` as metrics-server's manifests and chart ship it.
pub const SHIPPED_METRIC_RESOLUTION: crate::sim::SimDuration =
    crate::sim::SimDuration::from_secs(15);
