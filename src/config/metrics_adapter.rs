//! The custom and external metrics adapter's settings, as plain data: a Prometheus scraping
//! each pod's request counter and prometheus-adapter serving its rate, under the names those
//! tools give them. A scenario sets them in `spec.metricsAdapter`.

use crate::sim::SimDuration;

/// How often Prometheus scrapes each pod (`scrape_interval`), as kube-prometheus-stack's
/// ServiceMonitors ship it (Prometheus' own global default is 1m).
pub const SHIPPED_SCRAPE_INTERVAL: SimDuration = SimDuration::from_secs(30);
/// The range of the adapter's `rate()` query, as prometheus-adapter's default rules write it.
pub const DEFAULT_RATE_WINDOW: SimDuration = SimDuration::from_mins(5);
/// The metric the adapter serves, as prometheus-adapter's walkthrough names the rate of
/// `http_requests_total`.
pub const DEFAULT_METRIC_NAME: &str = "http_requests_per_second";

/// The adapter as a scenario runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsAdapterConfig {
    /// Prometheus' `scrape_interval` for the pods.
    pub scrape_interval: SimDuration,
    /// The `[range]` of `rate(http_requests_total[range])`.
    pub rate_window: SimDuration,
    /// The name the rate is served under, as a `Pods`, `Object` or `External` metric.
    pub metric_name: String,
}

impl Default for MetricsAdapterConfig {
    fn default() -> Self {
        MetricsAdapterConfig {
            scrape_interval: SHIPPED_SCRAPE_INTERVAL,
            rate_window: DEFAULT_RATE_WINDOW,
            metric_name: DEFAULT_METRIC_NAME.to_string(),
        }
    }
}
