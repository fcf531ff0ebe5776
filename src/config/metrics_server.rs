//! metrics-server's settings, as plain data: its flags kubesim models, under their real
//! names, with the defaults its shipped manifests use. A scenario sets them in
//! `spec.metricsServer` (`--metric-resolution` is `metricResolution`).

use crate::sim::SimDuration;

/// `--metric-resolution` as metrics-server's manifests and chart ship it.
pub const SHIPPED_METRIC_RESOLUTION: SimDuration = SimDuration::from_secs(15);
/// The shortest `--metric-resolution` metrics-server accepts.
pub const MIN_METRIC_RESOLUTION: SimDuration = SimDuration::from_secs(10);

/// metrics-server as a scenario runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsServerConfig {
    /// `--metric-resolution`.
    pub metric_resolution: SimDuration,
}

impl Default for MetricsServerConfig {
    fn default() -> Self {
        MetricsServerConfig {
            metric_resolution: SHIPPED_METRIC_RESOLUTION,
        }
    }
}
