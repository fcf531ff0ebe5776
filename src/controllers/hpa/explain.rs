//! `kubesim explain --hpa`: one HPA sync as the controller computed it, from the record it
//! kept ([`HpaSyncRecord`]) — per metric the pods grouped ready / unready / missing /
//! ignored with their values, the utilization or average, the ratios and the proposal; then
//! the recommendations the stabilization read, the stabilized count, each rate policy's
//! limit, the bounds, the replicas set and the conditions. As JSON (stable field names) or
//! as text for a terminal.

use std::fmt::Write as _;

use serde::Serialize;

use super::controller::HpaSyncRecord;
use super::normalize::{Behavior, PolicyKind, ScalingRules, SelectPolicy, policy_limits};
use super::replica_calculator::PodMetrics;
use super::sync::MetricExplanation;
use crate::sim::{SimDuration, SimTime};

/// One sync, explained.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaExplanation {
    /// The HPA, `namespace/name`.
    pub hpa: String,
    /// When the sync computed (virtual time).
    pub at: String,
    /// The target, `Kind/name`.
    pub target: String,
    /// The target's `spec.replicas` the sync read.
    pub current_replicas: i32,
    /// The target's `status.replicas`.
    pub status_replicas: i32,
    /// `minReplicas`.
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// Each metric in the order declared (CPU at 80 % when none is).
    pub metrics: Vec<MetricStory>,
    /// The largest proposal (what the metrics ask for together), if any metric gave one.
    pub proposed: Option<i32>,
    /// How the proposal became the replicas, when the metrics gave one.
    pub normalization: Option<NormalizationStory>,
    /// The replicas the sync set, if it changed them.
    pub rescale: Option<i32>,
    /// Why (upstream's rescale reason), when it did.
    pub reason: String,
    /// Why the metrics gave no count, if they did not.
    pub error: Option<String>,
    /// The scale write's error, if it failed.
    pub rescale_failed: Option<String>,
    /// The conditions as the sync left them.
    pub conditions: Vec<ConditionStory>,
}

/// One metric of a sync.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricStory {
    /// The metric as the controller names it.
    pub name: String,
    /// The replicas it proposed.
    pub proposal: Option<i32>,
    /// Why it proposed none.
    pub error: Option<String>,
    /// Pods whose values counted as they are.
    pub ready: Vec<PodValue>,
    /// Pods left out (Pending, or for CPU not ready or still warming up), 0 on a scale-up.
    pub unready: Vec<PodValue>,
    /// Running pods without a value: the target on a scale-down, 0 on a scale-up.
    pub missing: Vec<String>,
    /// Pods being deleted or Failed.
    pub ignored: Vec<String>,
    /// Utilization in percent of the requests (Utilization targets).
    pub utilization: Option<i32>,
    /// The average value per ready pod, in milli-units.
    pub average_milli: Option<i64>,
    /// The ready pods' ratio to the target.
    pub ratio: Option<f64>,
    /// The ratio with the missing and unready pods filled in, when they were.
    pub adjusted_ratio: Option<f64>,
}

/// A pod's value as the Metrics API served it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodValue {
    /// The pod's name.
    pub pod: String,
    /// The value, in milli-units (CPU in millicores).
    pub value_milli: Option<i64>,
    /// The end of its window (virtual time).
    pub timestamp: Option<String>,
    /// The window's length.
    pub window: Option<String>,
}

/// The normalization of a sync.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NormalizationStory {
    /// `behavior` or `legacy` (no `behavior`).
    pub path: &'static str,
    /// The recommendations kept for stabilization, this sync's included.
    pub recommendations: Vec<Recommended>,
    /// The proposal after stabilization.
    pub stabilized: i32,
    /// Each scale-up policy's limit (with `behavior`).
    pub scale_up_policies: Vec<PolicyLimit>,
    /// How they combine.
    pub scale_up_select: Option<&'static str>,
    /// Each scale-down policy's limit (with `behavior`).
    pub scale_down_policies: Vec<PolicyLimit>,
    /// How they combine.
    pub scale_down_select: Option<&'static str>,
    /// The most replicas the limits and bounds allowed.
    pub upper_limit: i32,
    /// The fewest.
    pub lower_limit: i32,
    /// The replicas after it.
    pub replicas: i32,
    /// AbleToScale's reason.
    pub able_to_scale: &'static str,
    /// ScalingLimited's reason.
    pub scaling_limited: &'static str,
}

/// A kept recommendation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommended {
    /// Its replicas.
    pub replicas: i32,
    /// When (virtual time).
    pub at: String,
}

/// A rate policy and the limit it set.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyLimit {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its value.
    pub value: i32,
    /// Its period.
    pub period_seconds: i32,
    /// The limit it set.
    pub limit: i32,
}

/// A condition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConditionStory {
    /// Its type.
    #[serde(rename = "type")]
    pub type_: String,
    /// True or False.
    pub status: String,
    /// Its reason.
    pub reason: String,
    /// Its message.
    pub message: String,
}

/// `record` explained; `downscale_stabilization` is the controller's flag (the legacy window
/// and `behavior.scaleDown`'s default).
pub fn explain(record: &HpaSyncRecord, downscale_stabilization: SimDuration) -> HpaExplanation {
    let hpa = &record.hpa;
    let outcome = record.outcome.as_ref();
    let metrics: Vec<MetricStory> = outcome
        .map(|o| o.metrics.iter().map(metric_story).collect())
        .unwrap_or_default();
    let proposed = metrics.iter().filter_map(|m| m.proposal).max();
    let normalization = outcome.and_then(|o| {
        let n = o.normalized.as_ref()?;
        let current = record.scale.spec_replicas;
        let (up, down) = match &hpa.spec.behavior {
            Some(b) => {
                let behavior = Behavior::new(b, downscale_stabilization);
                let limits = |rules: &ScalingRules, up: bool| {
                    policy_limits(&record.history, rules, current, record.at, up)
                        .into_iter()
                        .map(|(p, limit)| PolicyLimit {
                            kind: match p.kind {
                                PolicyKind::Pods => "Pods",
                                PolicyKind::Percent => "Percent",
                            },
                            value: p.value,
                            period_seconds: p.period_seconds,
                            limit,
                        })
                        .collect::<Vec<_>>()
                };
                (
                    (
                        limits(&behavior.scale_up, true),
                        Some(select(behavior.scale_up.select_policy)),
                    ),
                    (
                        limits(&behavior.scale_down, false),
                        Some(select(behavior.scale_down.select_policy)),
                    ),
                )
            }
            None => ((Vec::new(), None), (Vec::new(), None)),
        };
        Some(NormalizationStory {
            path: if hpa.spec.behavior.is_some() {
                "behavior"
            } else {
                "legacy"
            },
            recommendations: record
                .history
                .recommendations
                .iter()
                .map(|r| Recommended {
                    replicas: r.replicas,
                    at: r.at.to_string(),
                })
                .collect(),
            stabilized: n.stabilized,
            scale_up_policies: up.0,
            scale_up_select: up.1,
            scale_down_policies: down.0,
            scale_down_select: down.1,
            upper_limit: n.upper_limit,
            lower_limit: n.lower_limit,
            replicas: n.replicas,
            able_to_scale: n.able_to_scale.reason,
            scaling_limited: n.scaling_limited.reason,
        })
    });
    let target = &hpa.spec.scale_target_ref;
    HpaExplanation {
        hpa: record.key.to_string(),
        at: record.at.to_string(),
        target: format!("{}/{}", target.kind, target.name),
        current_replicas: record.scale.spec_replicas,
        status_replicas: record.scale.status_replicas,
        min_replicas: hpa.spec.min_replicas.unwrap_or(1),
        max_replicas: hpa.spec.max_replicas,
        metrics,
        proposed,
        normalization,
        rescale: outcome.and_then(|o| o.rescale),
        reason: outcome.map(|o| o.reason.clone()).unwrap_or_default(),
        error: outcome.and_then(|o| o.error.clone()),
        rescale_failed: record.rescale_failed.clone(),
        conditions: record
            .status
            .conditions
            .iter()
            .map(|c| ConditionStory {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect(),
    }
}

fn select(policy: SelectPolicy) -> &'static str {
    match policy {
        SelectPolicy::Max => "Max",
        SelectPolicy::Min => "Min",
        SelectPolicy::Disabled => "Disabled",
    }
}

fn metric_story(m: &MetricExplanation) -> MetricStory {
    let values = |names: &std::collections::BTreeSet<String>| -> Vec<PodValue> {
        names.iter().map(|n| pod_value(n, &m.values)).collect()
    };
    let calc = m.calculation.as_ref();
    MetricStory {
        name: m.name.clone(),
        proposal: m.outcome.as_ref().ok().copied(),
        error: m.outcome.as_ref().err().cloned(),
        ready: calc.map(|c| values(&c.groups.ready)).unwrap_or_default(),
        unready: calc.map(|c| values(&c.groups.unready)).unwrap_or_default(),
        missing: calc
            .map(|c| c.groups.missing.iter().cloned().collect())
            .unwrap_or_default(),
        ignored: calc
            .map(|c| c.groups.ignored.iter().cloned().collect())
            .unwrap_or_default(),
        utilization: calc.map(|c| c.utilization).filter(|u| *u > 0),
        average_milli: calc.map(|c| c.average),
        ratio: calc.map(|c| c.ratio),
        adjusted_ratio: calc.and_then(|c| c.adjusted_ratio),
    }
}

fn pod_value(name: &str, values: &PodMetrics) -> PodValue {
    let v = values.get(name);
    PodValue {
        pod: name.to_string(),
        value_milli: v.map(|v| v.value),
        timestamp: v.map(|v| v.timestamp.to_string()),
        window: v.map(|v| v.window.to_string()),
    }
}

/// The explanation as text for a terminal.
pub fn to_text(e: &HpaExplanation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "HPA {} at {}: {} with {} replicas ({} in status), bounds {}..{}",
        e.hpa,
        e.at,
        e.target,
        e.current_replicas,
        e.status_replicas,
        e.min_replicas,
        e.max_replicas
    );
    for m in &e.metrics {
        match (&m.proposal, &m.error) {
            (Some(p), _) => {
                let _ = writeln!(out, "  metric {}: proposes {p}", m.name);
            }
            (None, Some(err)) => {
                let _ = writeln!(out, "  metric failed: {err}");
            }
            (None, None) => {}
        }
        for (group, pods) in [("ready", &m.ready), ("unready", &m.unready)] {
            for p in pods {
                let value = p
                    .value_milli
                    .map_or_else(|| "no value".to_string(), |v| format!("{v}m"));
                let window = match (&p.timestamp, &p.window) {
                    (Some(t), Some(w)) => format!(" over {w} to {t}"),
                    _ => String::new(),
                };
                let _ = writeln!(out, "    {group:<8} {:<40} {value}{window}", p.pod);
            }
        }
        for (group, pods) in [("missing", &m.missing), ("ignored", &m.ignored)] {
            for p in pods {
                let _ = writeln!(out, "    {group:<8} {p}");
            }
        }
        if let Some(ratio) = m.ratio {
            let mut line = String::from("    ");
            if let Some(u) = m.utilization {
                let _ = write!(line, "utilization {u}% of requests, ");
            } else if let Some(a) = m.average_milli {
                let _ = write!(line, "average {a}m, ");
            }
            let _ = write!(line, "ratio {ratio:.3}");
            if let Some(adjusted) = m.adjusted_ratio {
                let _ = write!(
                    line,
                    ", {adjusted:.3} with missing and unready pods filled in"
                );
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if let Some(p) = e.proposed {
        let _ = writeln!(out, "  proposed (largest of the metrics): {p}");
    }
    if let Some(n) = &e.normalization {
        let recs: Vec<String> = n
            .recommendations
            .iter()
            .map(|r| format!("{} at {}", r.replicas, r.at))
            .collect();
        let _ = writeln!(
            out,
            "  normalization ({}): recommendations kept [{}]; stabilized {}",
            n.path,
            recs.join(", "),
            n.stabilized
        );
        for (direction, policies, how) in [
            ("up", &n.scale_up_policies, n.scale_up_select),
            ("down", &n.scale_down_policies, n.scale_down_select),
        ] {
            for p in policies {
                let _ = writeln!(
                    out,
                    "    scale-{direction} policy {} {} per {}s: limit {}",
                    p.kind, p.value, p.period_seconds, p.limit
                );
            }
            if let Some(how) = how {
                let _ = writeln!(out, "    scale-{direction} selectPolicy {how}");
            }
        }
        let _ = writeln!(
            out,
            "    allowed {}..{} → {} ({}, {})",
            n.lower_limit, n.upper_limit, n.replicas, n.able_to_scale, n.scaling_limited
        );
    }
    match (e.rescale, &e.error) {
        (Some(r), _) => {
            let _ = writeln!(out, "  scaled {} → {r}: {}", e.current_replicas, e.reason);
        }
        (None, Some(err)) => {
            let _ = writeln!(out, "  no count: {err}");
        }
        (None, None) => {
            let _ = writeln!(out, "  replicas stay {}", e.current_replicas);
        }
    }
    if let Some(failed) = &e.rescale_failed {
        let _ = writeln!(out, "  the scale write failed: {failed}");
    }
    for c in &e.conditions {
        let _ = writeln!(
            out,
            "  {} {} {}: {}",
            c.type_, c.status, c.reason, c.message
        );
    }
    out
}

/// The record of the sync at or last before `at`, if one came by then.
pub fn sync_at(records: &[HpaSyncRecord], at: SimTime) -> Option<&HpaSyncRecord> {
    records.iter().rev().find(|r| r.at <= at)
}
