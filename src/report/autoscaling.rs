//! What a run with traffic or HPAs adds to its report: `timeseries.csv`'s per-Service and
//! per-HPA columns, `summary.json`'s `autoscaling` section (requests offered, served and
//! dropped, overload, the latency peak, each HPA's reaction to each change of load, pod- and
//! node-hours and their price) and the `traffic.svg` and `autoscaling.svg` charts.

use std::collections::BTreeMap;

use serde::Serialize;

use super::chart::{LineChart, Mark, Series};
use super::files::round2;
use crate::api::labels::Selector;
use crate::api::{Kind, Object, ObjectKey};
use crate::metrics::Sample;
use crate::metrics::autoscaling::{
    HpaSample, Reaction, ReplicaChange, ServiceSample, hpas, reactions, scale_target,
};
use crate::sim::SimTime;
use crate::world::World;

/// A Service's columns in `timeseries.csv`, each `svc:<namespace>/<name>:<metric>`.
pub const SERVICE_METRICS: [&str; 8] = [
    "offered_rps",
    "served_rps",
    "dropped_rps",
    "ready_endpoints",
    "throttled_pods",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
];

/// An HPA's columns, each `hpa:<namespace>/<name>:<metric>`.
pub const HPA_METRICS: [&str; 7] = [
    "desired_replicas",
    "current_replicas",
    "ready_replicas",
    "cpu_utilization_pct",
    "target_utilization_pct",
    "metric_value",
    "metric_target",
];

/// The HPAs any sample names, in key order as each sample lists them (an HPA may come and
/// go during a run).
fn hpa_names(samples: &[Sample]) -> Vec<&str> {
    let names: BTreeMap<(&str, &str), &str> = samples
        .iter()
        .flat_map(|s| &s.hpas)
        .map(|h| (key_order(&h.name), &*h.name))
        .collect();
    names.into_values().collect()
}

/// `namespace/name` as the (namespace, name) it sorts by: `a/x` before `a-b/x`, as the
/// store lists them, where the text alone would sort `-` before `/`.
pub fn key_order(name: &str) -> (&str, &str) {
    name.split_once('/').unwrap_or(("", name))
}

/// Service `index` of `sample` if it is `name` (every sample lists the Services in scenario
/// order).
pub fn service_at<'s>(sample: &'s Sample, index: usize, name: &str) -> Option<&'s ServiceSample> {
    sample.services.get(index).filter(|v| *v.name == *name)
}

/// HPA `name` of `sample`, found in its key order.
pub fn hpa_in<'s>(sample: &'s Sample, name: &str) -> Option<&'s HpaSample> {
    let at = sample
        .hpas
        .binary_search_by(|h| key_order(&h.name).cmp(&key_order(name)))
        .ok()?;
    sample.hpas.get(at)
}

/// The Services the samples name, in scenario order.
fn service_names(samples: &[Sample]) -> Vec<&str> {
    samples
        .last()
        .map(|s| s.services.iter().map(|v| &*v.name).collect())
        .unwrap_or_default()
}

/// The autoscaling columns of a run's `timeseries.csv`: the Services and HPAs its samples
/// name, found once for the whole table.
pub struct Columns<'a> {
    services: Vec<&'a str>,
    hpas: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    /// The columns for `samples`.
    pub fn new(samples: &'a [Sample]) -> Self {
        Columns {
            services: service_names(samples),
            hpas: hpa_names(samples),
        }
    }

    /// The Services, as `namespace/name`, in scenario order.
    pub fn services(&self) -> &[&'a str] {
        &self.services
    }

    /// The HPAs, as `namespace/name`, in key order.
    pub fn hpas(&self) -> &[&'a str] {
        &self.hpas
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.hpas.is_empty()
    }

    /// The columns' names.
    pub fn names(&self) -> Vec<String> {
        let services = self.services.iter().flat_map(|name| {
            SERVICE_METRICS
                .iter()
                .map(move |m| format!("svc:{name}:{m}"))
        });
        let hpas = self
            .hpas
            .iter()
            .flat_map(|name| HPA_METRICS.iter().map(move |m| format!("hpa:{name}:{m}")));
        services.chain(hpas).collect()
    }

    /// `sample`'s values (empty where a value is not known). Its Services come in scenario
    /// order and its HPAs in key order, as the columns do, so each is found by walking both
    /// lists once.
    pub fn values(&self, sample: &Sample) -> Vec<String> {
        let mut row = Vec::with_capacity(
            self.services.len() * SERVICE_METRICS.len() + self.hpas.len() * HPA_METRICS.len(),
        );
        let mut services = sample.services.iter().peekable();
        for name in &self.services {
            match services.next_if(|v| *v.name == **name) {
                Some(v) => service_values(&mut row, v),
                None => row.extend(SERVICE_METRICS.iter().map(|_| String::new())),
            }
        }
        let mut hpas = sample.hpas.iter().peekable();
        for name in &self.hpas {
            while hpas
                .next_if(|h| key_order(&h.name) < key_order(name))
                .is_some()
            {}
            match hpas.next_if(|h| *h.name == **name) {
                Some(h) => hpa_values(&mut row, h),
                None => row.extend(HPA_METRICS.iter().map(|_| String::new())),
            }
        }
        row
    }
}

/// A Service's [`SERVICE_METRICS`] in one sample.
fn service_values(row: &mut Vec<String>, v: &ServiceSample) {
    row.extend([
        format!("{:.2}", round2(v.offered)),
        format!("{:.2}", round2(v.served)),
        format!("{:.2}", round2(v.dropped)),
        v.endpoints.to_string(),
        v.throttled.to_string(),
    ]);
    match v.latency_ms {
        Some(q) => row.extend(q.iter().map(|ms| format!("{ms:.3}"))),
        None => row.extend([String::new(), String::new(), String::new()]),
    }
}

/// An HPA's [`HPA_METRICS`] in one sample.
fn hpa_values(row: &mut Vec<String>, h: &HpaSample) {
    let optional = |v: Option<i32>| v.map_or_else(String::new, |u| u.to_string());
    let milli =
        |v: Option<i64>| v.map_or_else(String::new, |m| format!("{:.3}", m as f64 / 1000.0));
    row.extend([
        h.desired.to_string(),
        h.current.to_string(),
        h.ready.to_string(),
        optional(h.utilization),
        optional(h.target_utilization),
        milli(h.metric_value_milli),
        milli(h.metric_target_milli),
    ]);
}

/// `summary.json`'s `autoscaling`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingJson {
    /// Each traffic's Service.
    services: BTreeMap<String, ServiceJson>,
    /// Each HPA.
    hpas: BTreeMap<String, HpaJson>,
    /// What the pods and nodes cost.
    cost: CostJson,
}

/// One Service's traffic over the run.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceJson {
    offered_requests: f64,
    served_requests: f64,
    dropped_requests: f64,
    /// Dropped of offered, in percent.
    dropped_pct: f64,
    /// Seconds during which more than 0.1 % of the offered requests were dropped.
    overload_seconds: f64,
    /// Pod-seconds held at the CPU limit.
    throttled_pod_seconds: f64,
    /// The highest p99 latency of any sample, with a `server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_p99_max_ms: Option<f64>,
    /// Changes of load (moves of more than 10 %).
    load_changes: usize,
}

/// One HPA over the run.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HpaJson {
    /// `Kind/name`.
    target: String,
    /// The traffic's Service whose selector selects the target's pods, if one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    /// Times the target was asked for more replicas, and for fewer.
    scale_ups: usize,
    scale_downs: usize,
    /// The fewest and most replicas the target was asked for.
    replicas_min: i32,
    replicas_max: i32,
    /// The replicas asked for, summed over the run, in hours: the target's pod-hours.
    pod_hours: f64,
    /// How the target met each change of its Service's load.
    reactions: Vec<ReactionJson>,
}

/// One reaction.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReactionJson {
    /// When the load changed, in seconds.
    load_change_at: f64,
    from_rps: f64,
    to_rps: f64,
    /// The target's ready replicas then and once settled.
    replicas_before: i32,
    replicas_after: i32,
    /// Seconds until the target was first asked for another count.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_scale_seconds: Option<f64>,
    /// Seconds until its ready replicas last changed before the next change of load.
    #[serde(skip_serializing_if = "Option::is_none")]
    settled_seconds: Option<f64>,
}

/// Pod- and node-hours.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CostJson {
    pod_hours: f64,
    node_hours: f64,
    /// By `node.kubernetes.io/instance-type` ("" without the label).
    node_hours_by_instance_type: BTreeMap<String, f64>,
    /// The nodes' price at `spec.report.nodePricePerHour`, when the scenario gives prices.
    #[serde(skip_serializing_if = "Option::is_none")]
    node_cost: Option<f64>,
}

/// The target of each HPA that exists at the end, by HPA key: its kind, name and pod
/// template labels.
fn hpa_targets(world: &World) -> BTreeMap<ObjectKey, (String, String, crate::api::labels::Labels)> {
    let store = world.api().store();
    hpas(store)
        .map(|h| {
            let target = &h.spec.scale_target_ref;
            let labels = match scale_target(store, h) {
                Some(Object::Deployment(d)) => Some(d.spec.template.metadata.labels.clone()),
                Some(Object::ReplicaSet(r)) => Some(r.spec.template.metadata.labels.clone()),
                _ => None,
            };
            (
                ObjectKey::new(h.metadata.namespace.clone(), h.metadata.name.clone()),
                (
                    target.kind.clone(),
                    target.name.clone(),
                    labels.unwrap_or_default(),
                ),
            )
        })
        .collect()
}

/// The traffic whose Service selects pods labelled `labels` in `namespace`, by its place.
fn service_of(
    world: &World,
    namespace: &str,
    labels: &crate::api::labels::Labels,
) -> Option<usize> {
    let load = world.load()?;
    let store = world.api().store();
    load.traffic().position(|t| {
        t.service.namespace == namespace
            && store
                .get(Kind::Service, &t.service)
                .and_then(|o| match &**o {
                    Object::Service(s) => Some(s),
                    _ => None,
                })
                .is_some_and(|s| {
                    !s.spec.selector.is_empty()
                        && Selector::from_labels(&s.spec.selector).matches(labels)
                })
    })
}

/// `summary.json`'s `autoscaling`, for a run with a load model.
pub fn summary(
    world: &World,
    end: SimTime,
    prices: &BTreeMap<String, f64>,
) -> Option<AutoscalingJson> {
    let load = world.load()?;
    let samples = world.recorder().samples();
    let autoscaling = world.recorder().autoscaling()?;
    let services = load
        .totals(end)
        .enumerate()
        .map(|(i, (key, t))| {
            let name = key.to_string();
            // Every sample lists the Services in scenario order.
            let latency_p99_max_ms = samples
                .iter()
                .filter_map(|s| s.services.get(i).filter(|v| *v.name == *name))
                .filter_map(|v| v.latency_ms.map(|q| q[2]))
                .fold(None, |max: Option<f64>, v| {
                    Some(max.map_or(v, |m| m.max(v)))
                })
                .map(round2);
            let json = ServiceJson {
                offered_requests: round2(t.offered),
                served_requests: round2(t.served),
                dropped_requests: round2(t.dropped),
                dropped_pct: if t.offered > 0.0 {
                    round2(100.0 * t.dropped / t.offered)
                } else {
                    0.0
                },
                overload_seconds: round2(t.overload_seconds),
                throttled_pod_seconds: round2(t.throttled_pod_seconds),
                latency_p99_max_ms,
                load_changes: load.load_changes(i).len(),
            };
            (name, json)
        })
        .collect();
    let hpas = hpa_targets(world)
        .into_iter()
        .map(|(hpa, (kind, name, labels))| {
            let log = Kind::from_name(&kind).map_or(&[][..], |k| {
                autoscaling.replica_changes(k, &ObjectKey::new(hpa.namespace.clone(), name.clone()))
            });
            let target = format!("{kind}/{name}");
            let service = service_of(world, &hpa.namespace, &labels);
            let changes = service.map_or(&[][..], |i| load.load_changes(i));
            let asked: Vec<i32> = log.iter().map(|c| c.asked).collect();
            let moves = asked.windows(2).filter(|w| w[0] != w[1]);
            let (ups, downs) =
                moves.fold(
                    (0, 0),
                    |(u, d), w| {
                        if w[1] > w[0] { (u + 1, d) } else { (u, d + 1) }
                    },
                );
            let json = HpaJson {
                target,
                service: service
                    .and_then(|i| load.traffic().nth(i))
                    .map(|t| t.service.to_string()),
                scale_ups: ups,
                scale_downs: downs,
                replicas_min: asked.iter().copied().min().unwrap_or(0),
                replicas_max: asked.iter().copied().max().unwrap_or(0),
                pod_hours: round2(asked_hours(log, end)),
                reactions: reactions(changes, log, end)
                    .iter()
                    .map(reaction_json)
                    .collect(),
            };
            (hpa.to_string(), json)
        })
        .collect();
    let cost = autoscaling.cost(end);
    let node_hours: f64 = cost.node_hours.values().sum();
    let node_cost = (!prices.is_empty()).then(|| {
        cost.node_hours
            .iter()
            .map(|(kind, hours)| {
                let price = prices
                    .get(kind)
                    .or_else(|| prices.get("default"))
                    .copied()
                    .unwrap_or(0.0);
                hours * price
            })
            .sum::<f64>()
    });
    Some(AutoscalingJson {
        services,
        hpas,
        cost: CostJson {
            pod_hours: round2(cost.pod_hours),
            node_hours: round2(node_hours),
            node_hours_by_instance_type: cost
                .node_hours
                .into_iter()
                .map(|(k, h)| (k, round2(h)))
                .collect(),
            node_cost: node_cost.map(round2),
        },
    })
}

/// The replicas asked for in `log`, summed over time up to `end`, in hours.
fn asked_hours(log: &[ReplicaChange], end: SimTime) -> f64 {
    let seconds: f64 = log
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let until = log.get(i + 1).map_or(end, |next| next.at);
            f64::from(c.asked) * until.saturating_since(c.at).as_secs_f64()
        })
        .sum();
    seconds / 3600.0
}

fn reaction_json(r: &Reaction) -> ReactionJson {
    let since =
        |t: Option<SimTime>| t.map(|t| round2(t.saturating_since(r.load_change_at).as_secs_f64()));
    ReactionJson {
        load_change_at: round2(r.load_change_at.as_secs_f64()),
        from_rps: round2(r.rps.0),
        to_rps: round2(r.rps.1),
        replicas_before: r.replicas_before.1,
        replicas_after: r.replicas_after,
        first_scale_seconds: since(r.first_scale_at),
        settled_seconds: since(r.settled_at),
    }
}

/// At most this many Services or HPAs get series of their own; more are summed.
const OWN_SERIES: usize = 3;

fn series(name: String, samples: &[Sample], value: impl Fn(&Sample) -> Option<f64>) -> Series {
    Series {
        name,
        points: samples
            .iter()
            .filter_map(|s| value(s).map(|v| (s.at.as_secs_f64(), v)))
            .collect(),
    }
}

fn chart(title: &str, y_label: &str, series: Vec<Series>, marks: Vec<Mark>) -> LineChart {
    LineChart {
        title: title.to_string(),
        x_label: "virtual time".to_string(),
        y_label: y_label.to_string(),
        series,
        y_min_zero: true,
        spans: Vec::new(),
        marks,
    }
}

/// `traffic.svg` (rates, and latency with a `server`) and `autoscaling.svg` (replicas), for
/// a run with traffic or HPAs; each change of load is marked.
pub fn charts(world: &World) -> Vec<(&'static str, LineChart)> {
    let Some(load) = world.load() else {
        return Vec::new();
    };
    let samples = world.recorder().samples();
    let marks: Vec<Mark> = (0..load.traffic().count())
        .flat_map(|i| load.load_changes(i).iter())
        .take(12)
        .map(|(at, _, to)| Mark {
            label: format!("{:.0} rps", to),
            x: at.as_secs_f64(),
        })
        .collect();
    let mut out = Vec::new();
    let services = service_names(samples);
    if !services.is_empty() {
        let pick =
            |name: &str, s: &Sample, f: fn(&crate::metrics::autoscaling::ServiceSample) -> f64| {
                s.services.iter().find(|v| *v.name == *name).map(f)
            };
        let mut lines = Vec::new();
        if services.len() <= OWN_SERIES {
            for name in &services {
                let prefix = if services.len() == 1 {
                    String::new()
                } else {
                    format!("{name} ")
                };
                lines.push(series(format!("{prefix}offered"), samples, |s| {
                    pick(name, s, |v| v.offered)
                }));
                lines.push(series(format!("{prefix}served"), samples, |s| {
                    pick(name, s, |v| v.served)
                }));
                lines.push(series(format!("{prefix}dropped"), samples, |s| {
                    pick(name, s, |v| v.dropped)
                }));
            }
        } else {
            let total = |f: fn(&crate::metrics::autoscaling::ServiceSample) -> f64| {
                move |s: &Sample| Some(s.services.iter().map(f).sum::<f64>())
            };
            lines.push(series(
                "offered (all Services)".into(),
                samples,
                total(|v| v.offered),
            ));
            lines.push(series("served".into(), samples, total(|v| v.served)));
            lines.push(series("dropped".into(), samples, total(|v| v.dropped)));
        }
        out.push((
            "traffic.svg",
            chart("Traffic", "requests per second", lines, marks.clone()),
        ));
        let with_latency = samples
            .iter()
            .any(|s| s.services.iter().any(|v| v.latency_ms.is_some()));
        if with_latency {
            // The worst Service's percentiles at each sample.
            let worst = |q: usize| {
                move |s: &Sample| {
                    s.services
                        .iter()
                        .filter_map(|v| v.latency_ms.map(|l| l[q]))
                        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
                }
            };
            let lines = vec![
                series("p50".into(), samples, worst(0)),
                series("p95".into(), samples, worst(1)),
                series("p99".into(), samples, worst(2)),
            ];
            out.push((
                "latency.svg",
                chart(
                    "Latency (slowest Service)",
                    "milliseconds",
                    lines,
                    marks.clone(),
                ),
            ));
        }
    }
    let hpas = hpa_names(samples);
    if !hpas.is_empty() {
        let pick =
            |name: &str, s: &Sample, f: fn(&crate::metrics::autoscaling::HpaSample) -> i32| {
                hpa_in(s, name).map(|h| f64::from(f(h)))
            };
        let mut lines = Vec::new();
        if hpas.len() <= OWN_SERIES {
            for name in &hpas {
                let prefix = if hpas.len() == 1 {
                    String::new()
                } else {
                    format!("{name} ")
                };
                lines.push(series(format!("{prefix}desired"), samples, |s| {
                    pick(name, s, |h| h.desired)
                }));
                lines.push(series(format!("{prefix}ready"), samples, |s| {
                    pick(name, s, |h| h.ready)
                }));
            }
        } else {
            let total = |f: fn(&crate::metrics::autoscaling::HpaSample) -> i32| {
                move |s: &Sample| Some(f64::from(s.hpas.iter().map(f).sum::<i32>()))
            };
            lines.push(series(
                "desired (all HPAs)".into(),
                samples,
                total(|h| h.desired),
            ));
            lines.push(series("ready".into(), samples, total(|h| h.ready)));
        }
        out.push((
            "autoscaling.svg",
            chart("Autoscaling", "replicas", lines, marks),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hpa(name: &str, desired: i32) -> HpaSample {
        HpaSample {
            name: name.into(),
            desired,
            ..HpaSample::default()
        }
    }

    #[test]
    fn hpa_columns_follow_the_stores_key_order_and_leave_gaps_empty() {
        // The store lists `a/x` before `a-b/x` (namespace `a` < `a-b`), though the text
        // `a-b/x` sorts first ('-' < '/'). The first sample has both; the second only
        // `a-b/x`, so `a/x`'s cells are empty there.
        let samples = vec![
            Sample {
                hpas: vec![hpa("a/x", 3), hpa("a-b/x", 5)],
                ..Sample::default()
            },
            Sample {
                hpas: vec![hpa("a-b/x", 6)],
                ..Sample::default()
            },
        ];
        let columns = Columns::new(&samples);
        let names = columns.names();
        assert_eq!(names[0], "hpa:a/x:desired_replicas");
        assert_eq!(names[HPA_METRICS.len()], "hpa:a-b/x:desired_replicas");
        let first = columns.values(&samples[0]);
        assert_eq!(
            (first[0].as_str(), first[HPA_METRICS.len()].as_str()),
            ("3", "5")
        );
        let second = columns.values(&samples[1]);
        assert_eq!(
            (second[0].as_str(), second[HPA_METRICS.len()].as_str()),
            ("", "6")
        );
        assert_eq!(second.len(), 2 * HPA_METRICS.len());
    }
}
