//! NodeAffinity: a pod fits a node only if the node has every `spec.nodeSelector` label and
//! matches the required node affinity (one of its terms), plus the profile's `addedAffinity`
//! (Filter). Among feasible nodes it prefers those matching the pod's (and the profile's)
//! preferred terms, by the sum of their weights scaled so the best node gets 100 (Score).
//! When every required term pins `metadata.name` with `matchFields`, PreFilter narrows the
//! search to those node names.
//!
//! Upstream: `pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go`.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::api::affinity::{
    NODE_FIELD_METADATA_NAME, NodeAffinity as NodeAffinitySpec, NodeSelector, NodeSelectorError,
    NodeSelectorOperator, PreferredSchedulingTerm,
};
use crate::api::labels::Labels;
use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventChange, EventResource};
use crate::scheduler::framework::{
    CycleState, ExtensionPoints, MAX_NODE_SCORE, Plugin, PreFilterResult, QueueingHint, Status,
    default_normalize_score, node_now_admits,
};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "NodeAffinity";

/// Filter reason when the pod's own selector or required affinity does not match.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";

/// Filter reason when the profile's `addedAffinity` does not match.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";

/// PreFilter reason when the required terms pin node names that no term can satisfy.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

/// `NodeAffinityArgs` (kubescheduler.config.k8s.io/v1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeAffinityArgs {
    /// Node affinity applied to every pod of the profile, on top of the pod's own.
    pub added_affinity: Option<NodeAffinitySpec>,
}

impl NodeAffinityArgs {
    /// The first invalid term of `addedAffinity`, as upstream's argument validation (which
    /// parses the terms strictly) would report it.
    pub fn validate(&self) -> Result<(), NodeSelectorError> {
        let Some(added) = &self.added_affinity else {
            return Ok(());
        };
        if let Some(required) = &added.required_during_scheduling_ignored_during_execution {
            required.validate()?;
        }
        validate_preferred(&added.preferred_during_scheduling_ignored_during_execution)
    }
}

/// Upstream parses preferred terms with weight ≠ 0 and a non-empty preference strictly; the
/// others are dropped without a look.
fn scored_term(term: &PreferredSchedulingTerm) -> bool {
    term.weight != 0 && !term.preference.is_empty()
}

fn validate_preferred(terms: &[PreferredSchedulingTerm]) -> Result<(), NodeSelectorError> {
    terms
        .iter()
        .filter(|t| scored_term(t))
        .try_for_each(|t| t.preference.validate())
}

/// Sum of the weights of the `terms` (all already known to be scored and valid) that match.
fn matching_weight<'a>(
    terms: impl Iterator<Item = &'a PreferredSchedulingTerm>,
    node_name: &str,
    labels: &Labels,
) -> i64 {
    terms
        .filter(|t| t.preference.matches(node_name, labels))
        .map(|t| i64::from(t.weight))
        .sum()
}

/// What PreScore keeps: which of the pod's preferred terms count (indices into the pod's list).
struct PreScoreState {
    pod_terms: Vec<usize>,
}

/// The NodeAffinity plugin.
#[derive(Clone, Debug, Default)]
pub struct NodeAffinity {
    /// `addedAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    added_required: Option<NodeSelector>,
    /// `addedAffinity.preferredDuringSchedulingIgnoredDuringExecution`, only the scored terms.
    added_preferred: Vec<PreferredSchedulingTerm>,
}

impl NodeAffinity {
    /// The plugin with `args` (check them first with [`NodeAffinityArgs::validate`]; an invalid
    /// added term here simply matches nothing).
    pub fn new(args: NodeAffinityArgs) -> Self {
        let (added_required, added_preferred) = match args.added_affinity {
            None => (None, Vec::new()),
            Some(a) => (
                a.required_during_scheduling_ignored_during_execution,
                a.preferred_during_scheduling_ignored_during_execution
                    .into_iter()
                    .filter(scored_term)
                    .collect(),
            ),
        };
        NodeAffinity {
            added_required,
            added_preferred,
        }
    }
}

fn pod_node_affinity(pod: &PodInfo) -> Option<&NodeAffinitySpec> {
    pod.pod
        .spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
}

/// The node names the required terms allow, when every term pins names: each term allows the
/// intersection of its `metadata.name In` field requirements, and the terms are ORed. `None`
/// when some term pins no name (then any node may match).
fn pinned_node_names(required: &NodeSelector) -> Option<BTreeSet<&str>> {
    let mut union: BTreeSet<&str> = BTreeSet::new();
    for term in &required.node_selector_terms {
        let mut term_names: Option<BTreeSet<&str>> = None;
        for r in &term.match_fields {
            if r.key == NODE_FIELD_METADATA_NAME && r.operator == NodeSelectorOperator::In {
                let values: BTreeSet<&str> = r.values.iter().map(String::as_str).collect();
                term_names = Some(match term_names {
                    None => values,
                    Some(prev) => prev.intersection(&values).copied().collect(),
                });
            }
        }
        union.extend(term_names?);
    }
    Some(union)
}

impl NodeAffinity {
    /// Why the node called `name` with `labels` does not match: the scheduler-enforced
    /// affinity, or the pod's node selector and required terms.
    fn mismatch(&self, pod: &PodInfo, name: &str, labels: &Labels) -> Option<&'static str> {
        if let Some(added) = &self.added_required
            && !added.matches(name, labels)
        {
            return Some(ERR_REASON_ENFORCED);
        }
        let selector_ok = pod
            .pod
            .spec
            .node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v));
        if !selector_ok || !pod_node_affinity(pod).is_none_or(|a| a.required_matches(name, labels))
        {
            return Some(ERR_REASON_POD);
        }
        None
    }
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            pre_filter: true,
            filter: true,
            pre_score: true,
            score: true,
            ..ExtensionPoints::default()
        }
    }

    fn pre_filter(
        &self,
        _state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> Result<PreFilterResult, Status> {
        let required = pod_node_affinity(pod).and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
        if required.is_none()
            && self.added_required.is_none()
            && pod.pod.spec.node_selector.is_empty()
        {
            // Nothing for Filter to check.
            return Err(Status::skip());
        }
        // Filter reads the pod's selector and terms directly; nothing to precompute.
        let Some(required) = required else {
            return Ok(PreFilterResult::AllNodes);
        };
        if required.node_selector_terms.is_empty() {
            return Ok(PreFilterResult::AllNodes);
        }
        match pinned_node_names(required) {
            None => Ok(PreFilterResult::AllNodes),
            // Every term pins names, but no name survives: no node can match.
            Some(names) if names.is_empty() => Err(Status::unresolvable(NAME, ERR_REASON_CONFLICT)),
            Some(names) => Ok(PreFilterResult::Nodes(
                names.into_iter().map(str::to_string).collect(),
            )),
        }
    }

    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        // Relabelling a node is not something preemption can do, hence unresolvable.
        match self.mismatch(pod, node.name(), node.labels()) {
            Some(reason) => Status::unresolvable(NAME, reason),
            None => Status::success(),
        }
    }

    /// A node added, or relabelled, so that it matches the pod.
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[ClusterEvent::new(
            EventResource::Node,
            ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
        )];
        EVENTS
    }

    fn queueing_hint(&self, pod: &PodInfo, change: &EventChange) -> QueueingHint {
        node_now_admits(change, |node| {
            self.mismatch(pod, &node.metadata.name, &node.metadata.labels)
                .is_none()
        })
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _snapshot: &Snapshot,
    ) -> Status {
        let terms = pod_node_affinity(pod)
            .map(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_slice()
            })
            .unwrap_or_default();
        // Upstream fails the cycle on an invalid preferred term rather than ignoring it.
        if let Err(e) = validate_preferred(terms) {
            return Status::error(NAME, format!("invalid preferred node affinity term: {e}"));
        }
        if terms.is_empty() && self.added_preferred.is_empty() {
            return Status::skip();
        }
        let pod_terms = terms
            .iter()
            .enumerate()
            .filter(|(_, t)| scored_term(t))
            .map(|(i, _)| i)
            .collect();
        state.write(NAME, PreScoreState { pod_terms });
        Status::success()
    }

    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let name = node.name();
        let labels = node.labels();
        let mut total = matching_weight(self.added_preferred.iter(), name, labels);
        let terms = pod_node_affinity(pod)
            .map(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_slice()
            })
            .unwrap_or_default();
        match state.read::<PreScoreState>(NAME) {
            Some(s) => {
                total += matching_weight(
                    s.pod_terms.iter().filter_map(|&i| terms.get(i)),
                    name,
                    labels,
                );
            }
            // PreScore did not run (not enabled at that point): work it out here, as upstream.
            None => {
                if let Err(e) = validate_preferred(terms) {
                    return Err(Status::error(
                        NAME,
                        format!("invalid preferred node affinity term: {e}"),
                    ));
                }
                total += matching_weight(terms.iter().filter(|t| scored_term(t)), name, labels);
            }
        }
        Ok(total)
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, false, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::affinity::NodeSelectorTerm;
    use crate::api::test_util::{fields, req, term};
    use crate::scheduler::framework::Code;
    use crate::scheduler::plugins::test_util::{
        NodeBuilder, PodBuilder, filter, pre_filter, score,
    };
    use NodeSelectorOperator::{Exists, In, NotIn};

    #[test]
    fn queueing_hint_waits_for_a_node_that_starts_to_match() {
        use crate::scheduler::cluster_event::{ActionType, EventResource};
        use crate::scheduler::plugins::test_util::{NodeBuilder, change, hint};
        let pl = plugin();
        let pod = PodBuilder::new("p").node_selector("disk", "ssd").info();
        let ssd = || NodeBuilder::new("n").label("disk", "ssd").object();
        let hdd = || NodeBuilder::new("n").label("disk", "hdd").object();
        let relabel = |old, new| {
            change(
                EventResource::Node,
                ActionType::UPDATE_NODE_LABEL,
                Some(old),
                Some(new),
            )
        };
        assert_eq!(hint(&pl, &pod, &relabel(hdd(), ssd())), QueueingHint::Queue);
        assert_eq!(hint(&pl, &pod, &relabel(ssd(), hdd())), QueueingHint::Skip);
        // It matched before the update too: the update is not what it waited for.
        assert_eq!(hint(&pl, &pod, &relabel(ssd(), ssd())), QueueingHint::Skip);
        let added = change(EventResource::Node, ActionType::ADD, None, Some(hdd()));
        assert_eq!(hint(&pl, &pod, &added), QueueingHint::Skip);
    }

    fn required(terms: Vec<NodeSelectorTerm>) -> NodeAffinitySpec {
        NodeAffinitySpec {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: terms,
            }),
            ..NodeAffinitySpec::default()
        }
    }

    fn preferred(terms: Vec<(i32, NodeSelectorTerm)>) -> NodeAffinitySpec {
        NodeAffinitySpec {
            preferred_during_scheduling_ignored_during_execution: terms
                .into_iter()
                .map(|(weight, preference)| PreferredSchedulingTerm { weight, preference })
                .collect(),
            ..NodeAffinitySpec::default()
        }
    }

    fn plugin() -> NodeAffinity {
        NodeAffinity::new(NodeAffinityArgs::default())
    }

    #[test]
    fn pre_filter_skips_a_pod_with_no_constraints() {
        let pod = PodBuilder::new("p").info();
        let r = pre_filter(&plugin(), &pod, vec![]);
        assert!(r.is_err_and(|s| s.is_skip()));
    }

    #[test]
    fn node_selector_needs_every_label() {
        let pod = PodBuilder::new("p")
            .node_selector("zone", "a")
            .node_selector("disk", "ssd")
            .info();
        let both = NodeBuilder::new("n1")
            .label("zone", "a")
            .label("disk", "ssd")
            .info();
        assert!(filter(&plugin(), &pod, &both).is_success());
        let one = NodeBuilder::new("n2").label("zone", "a").info();
        let status = filter(&plugin(), &pod, &one);
        assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(status.reasons, vec![ERR_REASON_POD.to_string()]);
    }

    #[test]
    fn required_terms_are_ored_and_anded_with_the_node_selector() {
        // (zone in [a]) OR (gpu exists); and nodeSelector env=prod.
        let pod = PodBuilder::new("p")
            .node_selector("env", "prod")
            .node_affinity(required(vec![
                term(vec![req("zone", In, &["a"])]),
                term(vec![req("gpu", Exists, &[])]),
            ]))
            .info();
        let cases = [
            (
                NodeBuilder::new("a")
                    .label("env", "prod")
                    .label("zone", "a"),
                true,
            ),
            (
                NodeBuilder::new("b").label("env", "prod").label("gpu", ""),
                true,
            ),
            // Neither term.
            (
                NodeBuilder::new("c")
                    .label("env", "prod")
                    .label("zone", "b"),
                false,
            ),
            // A term matches but the nodeSelector does not.
            (
                NodeBuilder::new("d").label("env", "dev").label("zone", "a"),
                false,
            ),
        ];
        for (node, ok) in cases {
            let node = node.info();
            assert_eq!(
                filter(&plugin(), &pod, &node).is_success(),
                ok,
                "{}",
                node.name()
            );
        }
    }

    #[test]
    fn required_selector_without_terms_matches_nothing() {
        let pod = PodBuilder::new("p").node_affinity(required(vec![])).info();
        assert!(!filter(&plugin(), &pod, &NodeBuilder::new("n").info()).is_success());
    }

    #[test]
    fn pre_filter_narrows_to_pinned_node_names() {
        let pod = PodBuilder::new("p")
            .node_affinity(required(vec![
                fields(vec![req(NODE_FIELD_METADATA_NAME, In, &["n1"])]),
                fields(vec![req(NODE_FIELD_METADATA_NAME, In, &["n3"])]),
            ]))
            .info();
        assert_eq!(
            pre_filter(&plugin(), &pod, vec![]),
            Ok(PreFilterResult::Nodes(vec!["n1".into(), "n3".into()]))
        );
        // Filter agrees: n1 matches, n2 does not.
        assert!(filter(&plugin(), &pod, &NodeBuilder::new("n1").info()).is_success());
        assert!(!filter(&plugin(), &pod, &NodeBuilder::new("n2").info()).is_success());
    }

    #[test]
    fn pre_filter_keeps_all_nodes_when_some_term_pins_no_name() {
        let pod = PodBuilder::new("p")
            .node_affinity(required(vec![
                fields(vec![req(NODE_FIELD_METADATA_NAME, In, &["n1"])]),
                term(vec![req("zone", In, &["a"])]),
            ]))
            .info();
        assert_eq!(
            pre_filter(&plugin(), &pod, vec![]),
            Ok(PreFilterResult::AllNodes)
        );
        // NotIn pins nothing either.
        let pod = PodBuilder::new("p")
            .node_affinity(required(vec![fields(vec![req(
                NODE_FIELD_METADATA_NAME,
                NotIn,
                &["n1"],
            )])]))
            .info();
        assert_eq!(
            pre_filter(&plugin(), &pod, vec![]),
            Ok(PreFilterResult::AllNodes)
        );
    }

    #[test]
    fn pre_filter_rejects_terms_that_pin_disjoint_names() {
        // One term asks for name n1 AND name n2: the intersection is empty, so is the union.
        let pod = PodBuilder::new("p")
            .node_affinity(required(vec![fields(vec![
                req(NODE_FIELD_METADATA_NAME, In, &["n1"]),
                req(NODE_FIELD_METADATA_NAME, In, &["n2"]),
            ])]))
            .info();
        let err = pre_filter(&plugin(), &pod, vec![]).expect_err("conflict");
        assert_eq!(err.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(err.reasons, vec![ERR_REASON_CONFLICT.to_string()]);
    }

    #[test]
    fn added_affinity_is_enforced_with_its_own_reason() {
        let args: NodeAffinityArgs = serde_json::from_str(
            r#"{"addedAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms":[{"matchExpressions":
                    [{"key":"pool","operator":"In","values":["batch"]}]}]}}}"#,
        )
        .expect("args");
        assert_eq!(args.validate(), Ok(()));
        let pl = NodeAffinity::new(args);
        // A pod with no constraints of its own is not skipped: the added selector applies.
        let pod = PodBuilder::new("p").info();
        assert!(
            filter(
                &pl,
                &pod,
                &NodeBuilder::new("a").label("pool", "batch").info()
            )
            .is_success()
        );
        let status = filter(&pl, &pod, &NodeBuilder::new("b").info());
        assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(status.reasons, vec![ERR_REASON_ENFORCED.to_string()]);
    }

    #[test]
    fn invalid_added_affinity_fails_validation() {
        let args = NodeAffinityArgs {
            added_affinity: Some(required(vec![term(vec![req("zone", In, &[])])])),
        };
        assert!(args.validate().is_err());
    }

    #[test]
    fn score_sums_matching_preferred_weights_then_normalizes() {
        let pod = PodBuilder::new("p")
            .node_affinity(preferred(vec![
                (2, term(vec![req("zone", In, &["a"])])),
                (5, term(vec![req("disk", In, &["ssd"])])),
                // Weight 0 never counts.
                (0, term(vec![req("zone", Exists, &[])])),
            ]))
            .info();
        let nodes = vec![
            NodeBuilder::new("n1")
                .label("zone", "a")
                .label("disk", "ssd")
                .info(),
            NodeBuilder::new("n2").label("zone", "a").info(),
            NodeBuilder::new("n3").label("zone", "b").info(),
        ];
        // Raw: n1 = 2 + 5 = 7, n2 = 2, n3 = 0. Normalized by max 7: 100, 100·2/7 = 28, 0.
        assert_eq!(score(&plugin(), &pod, nodes), Ok(vec![100, 28, 0]));
    }

    #[test]
    fn added_preferred_terms_add_to_the_pods_own() {
        let args = NodeAffinityArgs {
            added_affinity: Some(preferred(vec![(3, term(vec![req("zone", In, &["b"])]))])),
        };
        let pl = NodeAffinity::new(args);
        let pod = PodBuilder::new("p")
            .node_affinity(preferred(vec![(1, term(vec![req("disk", In, &["ssd"])]))]))
            .info();
        let nodes = vec![
            NodeBuilder::new("n1")
                .label("zone", "b")
                .label("disk", "ssd")
                .info(),
            NodeBuilder::new("n2").label("disk", "ssd").info(),
            NodeBuilder::new("n3").label("zone", "b").info(),
        ];
        // Raw: n1 = 3 + 1 = 4, n2 = 1, n3 = 3. Max 4: 100, 25, 75.
        assert_eq!(score(&pl, &pod, nodes), Ok(vec![100, 25, 75]));
        // A pod without preferences is still scored by the added ones (no Skip).
        let bare = PodBuilder::new("q").info();
        let nodes = vec![
            NodeBuilder::new("n1").label("zone", "b").info(),
            NodeBuilder::new("n2").info(),
        ];
        assert_eq!(score(&pl, &bare, nodes), Ok(vec![100, 0]));
    }

    #[test]
    fn pre_score_skips_without_preferred_terms_and_errors_on_invalid_ones() {
        let pod = PodBuilder::new("p").node_selector("zone", "a").info();
        let r = score(&plugin(), &pod, vec![NodeBuilder::new("n").info()]);
        assert!(r.is_err_and(|s| s.is_skip()));
        let bad = PodBuilder::new("p")
            .node_affinity(preferred(vec![(1, term(vec![req("zone", In, &[])]))]))
            .info();
        let r = score(&plugin(), &bad, vec![NodeBuilder::new("n").info()]);
        assert!(r.is_err_and(|s| s.code == Code::Error));
    }
}
