//! The HorizontalPodAutoscaler controller's algorithms (upstream
//! `pkg/controller/podautoscaler/`), one file each:
//!
//! * [`replica_calculator`]: what one metric proposes from its values and the target's pods
//!   (the ready / unready / missing / ignored pods, utilization and usage ratios, tolerance);
//! * [`normalize`]: from the largest proposal to the replicas set — stabilization windows and
//!   rate policies with `behavior`, the legacy downscale stabilization and 2×/4 limit without;
//! * [`sync`]: one sync as a pure function — the metrics, their combination, the
//!   normalization, the conditions and status, the scale to set;
//! * here: how the metrics' proposals combine ([`combine_proposals`]) and the tolerances an
//!   HPA uses ([`tolerances`]).
//!
//! * [`controller`]: the controller in kube-controller-manager that runs a sync of each HPA
//!   every `--horizontal-pod-autoscaler-sync-period`, reading its pods from the shared
//!   informer and its metrics from the Metrics API, and writing `/scale` and `/status`;
//! * [`pod_selection`]: each HPA's pods by selector, listed again only when a pod its
//!   selector matches (before or after) comes, goes or is relabelled;
//! * [`explain`]: one recorded sync told as the controller computed it (`kubesim explain
//!   --hpa`).

pub mod controller;
pub mod explain;
pub mod normalize;
pub mod pod_selection;
pub mod replica_calculator;
pub mod sync;

use crate::api::hpa::HpaBehavior;
use replica_calculator::Tolerances;

/// `--horizontal-pod-autoscaler-tolerance`.
pub const DEFAULT_TOLERANCE: f64 = 0.1;

/// The tolerances of an HPA: each direction's own `tolerance` where its `behavior` sets one
/// (HPAConfigurableTolerance), else the controller's.
pub fn tolerances(behavior: Option<&HpaBehavior>, controller_tolerance: f64) -> Tolerances {
    let own = |rules: Option<&crate::api::hpa::HpaScalingRules>| {
        rules
            .and_then(|r| r.tolerance.as_ref())
            .map_or(controller_tolerance, |q| q.scaled_value(-9) as f64 / 1e9)
    };
    Tolerances {
        scale_down: own(behavior.and_then(|b| b.scale_down.as_ref())),
        scale_up: own(behavior.and_then(|b| b.scale_up.as_ref())),
    }
}

/// One metric's outcome in a sync: the replicas it proposes, or why it could not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricOutcome {
    /// How the metric is named in messages (`cpu resource utilization (percentage of
    /// request)`, `pods metric requests_per_second`, …).
    pub name: String,
    /// The proposal, or the error.
    pub proposal: Result<i32, String>,
}

/// Why the metrics together give no replica count.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid metrics ({invalid} invalid out of {total}), first error is: {first}")]
pub struct InvalidMetrics {
    /// The metrics that failed.
    pub invalid: usize,
    /// All metrics.
    pub total: usize,
    /// The first failure.
    pub first: String,
    /// The index of the first failed metric (its condition is the one set).
    pub first_index: usize,
}

/// Upstream `computeReplicasForMetrics`: the largest proposal and its metric's name. An error
/// when every metric failed, or when some failed and the others would scale below
/// `spec_replicas` — the HPA never scales down on partial data.
pub fn combine_proposals(
    spec_replicas: i32,
    outcomes: &[MetricOutcome],
) -> Result<(i32, String), InvalidMetrics> {
    let mut best: Option<(i32, &str)> = None;
    let mut first_error: Option<(usize, &str)> = None;
    let mut invalid = 0;
    for (i, outcome) in outcomes.iter().enumerate() {
        match &outcome.proposal {
            Ok(replicas) => {
                // Upstream starts from 0 and replaces on 0 or on a larger proposal.
                if best.is_none_or(|(r, _)| r == 0 || *replicas > r) {
                    best = Some((*replicas, &outcome.name));
                }
            }
            Err(e) => {
                invalid += 1;
                first_error.get_or_insert((i, e));
            }
        }
    }
    let replicas = best.map_or(0, |(r, _)| r);
    if let Some((first_index, first)) = first_error
        && (invalid >= outcomes.len() || replicas < spec_replicas)
    {
        return Err(InvalidMetrics {
            invalid,
            total: outcomes.len(),
            first: first.to_string(),
            first_index,
        });
    }
    Ok((
        replicas,
        best.map_or_else(String::new, |(_, n)| n.to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str, r: i32) -> MetricOutcome {
        MetricOutcome {
            name: name.into(),
            proposal: Ok(r),
        }
    }

    fn failed(name: &str) -> MetricOutcome {
        MetricOutcome {
            name: name.into(),
            proposal: Err(format!("{name} unavailable")),
        }
    }

    #[test]
    fn the_largest_proposal_wins_and_names_its_metric() {
        let got = combine_proposals(4, &[ok("cpu", 3), ok("rps", 7), ok("memory", 5)]);
        assert_eq!(got, Ok((7, "rps".to_string())));
    }

    #[test]
    fn a_failed_metric_blocks_a_scale_down_but_not_a_scale_up() {
        // 5 replicas now; cpu proposes 3 while rps fails: 3 < 5 would scale down on partial
        // data, so the sync errs with the first failure.
        let err = combine_proposals(5, &[ok("cpu", 3), failed("rps")]).expect_err("partial");
        assert_eq!((err.invalid, err.total, err.first_index), (1, 2, 1));
        assert_eq!(
            err.to_string(),
            "invalid metrics (1 invalid out of 2), first error is: rps unavailable"
        );
        // cpu proposes 8 > 5: scaling up on what is known is allowed.
        assert_eq!(
            combine_proposals(5, &[failed("rps"), ok("cpu", 8)]),
            Ok((8, "cpu".to_string()))
        );
        // Equal to the current count is not a scale-down.
        assert_eq!(
            combine_proposals(5, &[failed("rps"), ok("cpu", 5)]),
            Ok((5, "cpu".to_string()))
        );
    }

    #[test]
    fn every_metric_failing_is_an_error() {
        let err = combine_proposals(0, &[failed("a"), failed("b")]).expect_err("all failed");
        assert_eq!((err.invalid, err.total, err.first_index), (2, 2, 0));
    }

    #[test]
    fn per_direction_tolerances_override_the_controllers() {
        use crate::api::hpa::HpaScalingRules;
        use crate::api::quantity::Quantity;
        let behavior = HpaBehavior {
            scale_up: Some(HpaScalingRules {
                tolerance: Some(Quantity::parse("0.05").expect("quantity")),
                ..HpaScalingRules::default()
            }),
            scale_down: None,
        };
        let t = tolerances(Some(&behavior), DEFAULT_TOLERANCE);
        assert_eq!((t.scale_up, t.scale_down), (0.05, 0.1));
        // 1.06 is outside +5 % but 0.91 is inside −10 %.
        assert!(!t.is_within(1.06));
        assert!(t.is_within(0.91));
        assert_eq!(tolerances(None, 0.2), Tolerances::both(0.2));
    }
}
