//! The custom and external metrics adapter: Prometheus scraping each pod's count of requests
//! served and prometheus-adapter serving its rate to the HPA, as `custom.metrics.k8s.io` (a
//! `Pods` metric per pod, an `Object` metric of a Service) and `external.metrics.k8s.io`.
//!
//! Not a component: like metrics-server it reads the load model (each pod's
//! `http_requests_total`, which the pod's application exports) on its own grid, every
//! `scrapeInterval` from time 0, through the Service's endpoints as a ServiceMonitor does.
//! Each series is a (Service, pod) pair labelled `namespace`, `service` and `pod`. A query at
//! time t is prometheus-adapter's `sum(rate(http_requests_total{…}[rateWindow])) by (…)`:
//! PromQL's extrapolated rate ([`rate`]) of every series with two samples or more in
//! `(t − rateWindow, t]`, summed per pod (a `Pods` metric), per Service (`Object`) or over all
//! the series the selector picks (`External`). So the HPA sees a change of load only as the
//! window fills: half of a step shows after half a window.

pub mod rate;

use crate::api::ObjectKey;
use crate::api::labels::{LabelSelector, Labels};
use crate::config::metrics_adapter::MetricsAdapterConfig;
use crate::sim::SimTime;
use rate::{CounterSample, extrapolated_rate};

/// Prometheus with prometheus-adapter in front of it.
#[derive(Clone, Debug)]
pub struct MetricsAdapter {
    config: MetricsAdapterConfig,
    /// Each traffic's Service, by the traffic's place.
    services: Vec<ObjectKey>,
    /// Every series with a sample in the last window, in order of pod, then traffic.
    series: Vec<Series>,
}

/// One pod's requests of one traffic, as Prometheus stored them.
#[derive(Clone, Debug)]
struct Series {
    pod: ObjectKey,
    /// The traffic's place.
    traffic: usize,
    /// The samples of the last window, oldest first.
    samples: Vec<CounterSample>,
}

impl MetricsAdapter {
    /// An adapter over the traffics to `services` (by the traffic's place).
    pub fn new(config: MetricsAdapterConfig, services: Vec<ObjectKey>) -> Self {
        MetricsAdapter {
            config,
            services,
            series: Vec::new(),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &MetricsAdapterConfig {
        &self.config
    }

    /// The first scrape after `now`, on the grid of `scrapeInterval` from time 0.
    pub fn next_scrape(&self, now: SimTime) -> SimTime {
        now.next_multiple_of(self.config.scrape_interval)
    }

    /// Takes a scrape at `now` of every endpoint of every traffic's Service: (the traffic's
    /// place, the pod, its count) in order of pod, then traffic, as
    /// [`crate::workload::load::LoadModel::request_counts`] reads them. Samples no later
    /// query can reach (at or before `now − rateWindow`) are forgotten, and the series left
    /// without any. Both lists are in the same order, so they are merged in one pass.
    pub fn scrape<'a>(
        &mut self,
        now: SimTime,
        counts: impl IntoIterator<Item = (usize, &'a ObjectKey, f64)>,
    ) {
        let horizon = now.saturating_sub(self.config.rate_window);
        let mut stored = std::mem::take(&mut self.series).into_iter().peekable();
        let mut merged = Vec::with_capacity(stored.len());
        let mut keep = |mut series: Series| {
            let old = series.samples.partition_point(|s| s.at <= horizon);
            series.samples.drain(..old);
            if !series.samples.is_empty() {
                merged.push(series);
            }
        };
        for (traffic, pod, value) in counts {
            while let Some(before) = stored.next_if(|s| (&s.pod, s.traffic) < (pod, traffic)) {
                keep(before);
            }
            let mut series = stored
                .next_if(|s| s.pod == *pod && s.traffic == traffic)
                .unwrap_or_else(|| Series {
                    pod: pod.clone(),
                    traffic,
                    samples: Vec::new(),
                });
            series.samples.push(CounterSample { at: now, value });
            keep(series);
        }
        stored.for_each(keep);
        self.series = merged;
    }

    /// Whether the adapter serves a metric called `name`.
    pub fn serves(&self, name: &str) -> bool {
        name == self.config.metric_name
    }

    /// The requests per second `pod` served at `now` (its series summed), when some series of
    /// it matching `selector` has a rate.
    pub fn pod_rate(
        &self,
        pod: &ObjectKey,
        selector: Option<&LabelSelector>,
        now: SimTime,
    ) -> Option<f64> {
        let first = self.series.partition_point(|s| s.pod < *pod);
        let of_pod = self.series[first..].iter().take_while(|s| s.pod == *pod);
        self.sum_rates(of_pod, now, |service, _| matches(selector, service, pod))
    }

    /// The requests per second the pods of `service` served at `now`, over the series
    /// `selector` picks; None when none has a rate.
    pub fn service_rate(
        &self,
        service: &ObjectKey,
        selector: Option<&LabelSelector>,
        now: SimTime,
    ) -> Option<f64> {
        self.sum_rates(self.series.iter(), now, |series_service, pod| {
            series_service == service && matches(selector, series_service, pod)
        })
    }

    /// The requests per second of every series of `namespace` that `selector` picks (an
    /// `External` metric), when some has a rate.
    pub fn external_rate(
        &self,
        namespace: &str,
        selector: Option<&LabelSelector>,
        now: SimTime,
    ) -> Option<f64> {
        self.sum_rates(self.series.iter(), now, |service, pod| {
            service.namespace == namespace && matches(selector, service, pod)
        })
    }

    /// The sum of the rates at `now` of those of `series` that `pick` takes (by Service and
    /// pod); None when none of them has one.
    fn sum_rates<'a>(
        &self,
        series: impl Iterator<Item = &'a Series>,
        now: SimTime,
        pick: impl Fn(&ObjectKey, &ObjectKey) -> bool,
    ) -> Option<f64> {
        let range_secs = self.config.rate_window.as_secs_f64();
        let start = now.saturating_sub(self.config.rate_window);
        let mut total = None;
        for one in series {
            let Some(service) = self.services.get(one.traffic) else {
                continue;
            };
            if !pick(service, &one.pod) {
                continue;
            }
            // The range is left-open, as Prometheus 3 selects it.
            let samples = &one.samples;
            let from = samples.partition_point(|s| s.at <= start);
            let to = samples.partition_point(|s| s.at <= now);
            let in_range = samples.get(from..to).unwrap_or_default();
            if let Some(rate) = extrapolated_rate(in_range, now, range_secs) {
                *total.get_or_insert(0.0) += rate;
            }
        }
        total
    }
}

/// Whether a series of `service` and `pod` has the labels `selector` asks for.
fn matches(selector: Option<&LabelSelector>, service: &ObjectKey, pod: &ObjectKey) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    let labels = Labels::from([
        ("namespace".to_string(), service.namespace.clone()),
        ("pod".to_string(), pod.name.clone()),
        ("service".to_string(), service.name.clone()),
    ]);
    selector.matches(&labels)
}

/// A rate as the custom and external metrics APIs carry it: milli-units, truncated
/// (prometheus-adapter's `NewMilliQuantity(int64(value × 1000))`).
pub fn rate_to_milli(rate: f64) -> i64 {
    (rate * 1000.0) as i64
}

#[cfg(test)]
mod tests;
