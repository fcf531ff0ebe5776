//! `spec.traffic` and `spec.metricsServer`: the offered load and the metrics pipeline, checked
//! and resolved into the load model's [`Traffic`] and metrics-server's settings. Every error
//! names the field and points at it; a rate file's errors name its line and column too.

use std::path::Path;

use serde_saphyr::{Location, Spanned};

use super::error::{ScenarioError, SourcePos};
use super::load::Note;
use super::model::{MetricsAdapterSpec, MetricsServerSpec, TrafficSpec};
use crate::api::ObjectKey;
use crate::api::quantity::Quantity;
use crate::config::metrics_adapter::MetricsAdapterConfig;
use crate::config::metrics_server::{MIN_METRIC_RESOLUTION, MetricsServerConfig};
use crate::sim::SimDuration;
use crate::workload::load::{DEFAULT_STEP, RequestCost, Traffic};
use crate::workload::traffic::read_rate_csv;

/// Where an entry's fields are.
struct Entry<'a> {
    at: &'a dyn Fn(&Location) -> SourcePos,
    start: SourcePos,
    prefix: String,
}

impl Entry<'_> {
    fn error(&self, location: Option<&Location>, field: &str, message: String) -> ScenarioError {
        ScenarioError::Invalid {
            pos: location.map_or_else(|| self.start.clone(), |l| (self.at)(l)),
            path: format!("{}.{field}", self.prefix),
            message,
        }
    }

    /// A quantity of at least 0 in units of `nanos_per_unit` nano-units (10⁶ for millicores,
    /// 10⁹ for bytes), fractions kept, or 0 when absent.
    fn quantity(
        &self,
        value: &Option<Spanned<String>>,
        field: &str,
        nanos_per_unit: f64,
    ) -> Result<f64, ScenarioError> {
        let Some(v) = value else { return Ok(0.0) };
        let q = Quantity::parse(&v.value).map_err(|e| {
            self.error(
                Some(&v.referenced),
                field,
                format!(
                    "expected a quantity such as 5m or 64Mi, found {:?}: {e}",
                    v.value
                ),
            )
        })?;
        if q.is_negative() {
            return Err(self.error(
                Some(&v.referenced),
                field,
                format!("expected a quantity of at least 0, found {:?}", v.value),
            ));
        }
        // Nano-units keep a fraction of a millicore per request (`500u`).
        let nanos = q.scaled_value(-9) as f64;
        Ok(nanos / nanos_per_unit)
    }
}

/// `spec.traffic`, each entry checked; rate files are read relative to `base`.
pub(super) fn traffic(
    specs: &[Spanned<TrafficSpec>],
    base: &Path,
    at: &dyn Fn(&Location) -> SourcePos,
) -> Result<Vec<Traffic>, ScenarioError> {
    let mut out: Vec<Traffic> = Vec::with_capacity(specs.len());
    for (i, entry) in specs.iter().enumerate() {
        let check = Entry {
            at,
            start: at(&entry.referenced),
            prefix: format!("spec.traffic[{i}]"),
        };
        let spec = &entry.value;
        let service = service_key(&spec.service.value).ok_or_else(|| {
            check.error(
                Some(&spec.service.referenced),
                "service",
                format!(
                    "expected a Service as name or namespace/name, found {:?}",
                    spec.service.value
                ),
            )
        })?;
        if out.iter().any(|t| t.service == service) {
            return Err(check.error(
                Some(&spec.service.referenced),
                "service",
                format!("Service {service} already has traffic; expected one entry per Service"),
            ));
        }
        let rate = match (&spec.rate, &spec.rate_file) {
            (Some(rate), None) => {
                rate.value
                    .validate()
                    .map_err(|message| check.error(Some(&rate.referenced), "rate", message))?;
                rate.value.clone()
            }
            (None, Some(file)) => read_rate_csv(&base.join(&file.value))
                .map_err(|e| check.error(Some(&file.referenced), "rateFile", e.to_string()))?,
            _ => {
                return Err(check.error(
                    None,
                    "rate",
                    "expected exactly one of rate and rateFile".into(),
                ));
            }
        };
        let noise = match &spec.noise {
            Some(n) if !(n.value.is_finite() && n.value >= 0.0) => {
                return Err(check.error(
                    Some(&n.referenced),
                    "noise",
                    format!(
                        "expected a relative spread of at least 0 such as 0.1, found {}",
                        n.value
                    ),
                ));
            }
            Some(n) => n.value,
            None => 0.0,
        };
        let step = match &spec.step {
            Some(s) if s.value.is_zero() => {
                return Err(check.error(
                    Some(&s.referenced),
                    "step",
                    "expected a positive duration such as 5s".into(),
                ));
            }
            Some(s) => s.value,
            None => DEFAULT_STEP,
        };
        if let Some(server) = &spec.server
            && (server.value.concurrency == 0 || server.value.service_time.is_zero())
        {
            return Err(check.error(
                Some(&server.referenced),
                "server",
                "expected a concurrency of at least 1 and a positive serviceTime".into(),
            ));
        }
        out.push(Traffic {
            service,
            rate,
            cost: RequestCost {
                base_cpu: check.quantity(&spec.base_cpu, "baseCpu", 1e6)?,
                cpu_per_request: check.quantity(&spec.cpu_per_request, "cpuPerRequest", 1e6)?,
                base_memory: check.quantity(&spec.base_memory, "baseMemory", 1e9)?,
                memory_per_request: check.quantity(
                    &spec.memory_per_request,
                    "memoryPerRequest",
                    1e9,
                )?,
            },
            noise,
            step,
            server: spec.server.as_ref().map(|s| s.value),
        });
    }
    Ok(out)
}

/// A warning for each traffic entry whose Service no manifest of the scenario defines (a typo,
/// most likely): its requests are all dropped, as they would be by a cluster with no such
/// Service, until one is created.
pub(super) fn traffic_without_service(
    specs: &[Spanned<TrafficSpec>],
    traffic: &[Traffic],
    services: &[ObjectKey],
    at: &dyn Fn(&Location) -> SourcePos,
) -> Vec<Note> {
    specs
        .iter()
        .zip(traffic)
        .filter(|(_, t)| !services.contains(&t.service))
        .map(|(spec, t)| Note {
            pos: at(&spec.value.service.referenced),
            message: format!(
                "no manifest of the scenario defines Service {}: the traffic offered to it is \
                 dropped, as a cluster without it would drop it",
                t.service
            ),
        })
        .collect()
}

/// `name` (in `default`) or `namespace/name`.
fn service_key(text: &str) -> Option<ObjectKey> {
    let (namespace, name) = match text.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => ("default", text),
    };
    let valid = |s: &str| crate::api::labels::is_dns1123_label(s);
    (valid(namespace) && valid(name)).then(|| ObjectKey::new(namespace, name))
}

/// `spec.metricsServer` resolved: run when enabled, or when left unsaid and something reads
/// the Metrics API or feeds it (`wanted`: the scenario has traffic or HPAs).
pub(super) fn metrics_server(
    spec: &MetricsServerSpec,
    wanted: bool,
    at: &dyn Fn(&Location) -> SourcePos,
) -> Result<Option<MetricsServerConfig>, ScenarioError> {
    let mut config = MetricsServerConfig::default();
    if let Some(r) = &spec.metric_resolution {
        if r.value < MIN_METRIC_RESOLUTION {
            return Err(ScenarioError::Invalid {
                pos: at(&r.referenced),
                path: "spec.metricsServer.metricResolution".into(),
                message: format!(
                    "expected at least {MIN_METRIC_RESOLUTION} (metrics-server refuses less), found {}",
                    r.value
                ),
            });
        }
        config.metric_resolution = r.value;
    }
    Ok(spec.enabled.unwrap_or(wanted).then_some(config))
}

/// `spec.metricsAdapter` resolved: run when enabled, or when left unsaid and there is traffic
/// to count (`wanted`). Its interval and window must be positive, its metric named.
pub(super) fn metrics_adapter(
    spec: &MetricsAdapterSpec,
    wanted: bool,
    at: &dyn Fn(&Location) -> SourcePos,
) -> Result<Option<MetricsAdapterConfig>, ScenarioError> {
    let mut config = MetricsAdapterConfig::default();
    let positive = |d: &Spanned<SimDuration>, field: &str| {
        if d.value.is_zero() {
            return Err(ScenarioError::Invalid {
                pos: at(&d.referenced),
                path: format!("spec.metricsAdapter.{field}"),
                message: "expected a positive duration, found 0s".into(),
            });
        }
        Ok(d.value)
    };
    if let Some(d) = &spec.scrape_interval {
        config.scrape_interval = positive(d, "scrapeInterval")?;
    }
    if let Some(d) = &spec.rate_window {
        config.rate_window = positive(d, "rateWindow")?;
    }
    if let Some(name) = &spec.metric_name {
        if name.value.trim().is_empty() {
            return Err(ScenarioError::Invalid {
                pos: at(&name.referenced),
                path: "spec.metricsAdapter.metricName".into(),
                message: "expected a metric name, found an empty string".into(),
            });
        }
        config.metric_name = name.value.clone();
    }
    Ok(spec.enabled.unwrap_or(wanted).then_some(config))
}

/// `spec.report.nodePricePerHour`, each price finite and at least 0.
pub(super) fn node_prices(
    prices: &std::collections::BTreeMap<String, Spanned<f64>>,
    at: &dyn Fn(&Location) -> SourcePos,
) -> Result<std::collections::BTreeMap<String, f64>, ScenarioError> {
    prices
        .iter()
        .map(|(kind, price)| {
            if price.value.is_finite() && price.value >= 0.0 {
                Ok((kind.clone(), price.value))
            } else {
                Err(ScenarioError::Invalid {
                    pos: at(&price.referenced),
                    path: format!("spec.report.nodePricePerHour.{kind}"),
                    message: format!("expected a price of at least 0, found {}", price.value),
                })
            }
        })
        .collect()
}
