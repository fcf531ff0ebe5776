//! InterPodAffinity: places pods with or away from other pods, by topology domain.
//!
//! * **Filter** runs three checks, in this order: the incoming pod's required affinity (every
//!   term must have a matching pod in the node's domain — the first pod of a group that
//!   matches its own terms may go anywhere the topology labels exist), its required
//!   anti-affinity (no term may have a matching pod in the node's domain), and the required
//!   anti-affinity of pods already placed (no such term may select the incoming pod within
//!   the node's domain).
//! * **Score** sums, per topology domain, the weights of the incoming pod's preferred terms
//!   its matching pods carry (+ for affinity, − for anti-affinity), the existing pods'
//!   preferred terms that select the incoming pod, and `hardPodAffinityWeight` for each
//!   existing pod's required affinity term that selects the incoming pod; a node scores the
//!   sum over its labels, rescaled between the lowest and highest node.
//!
//! A term looks in its pod's own namespace when it lists no `namespaces` and has no
//! `namespaceSelector`; otherwise in the listed namespaces plus those its `namespaceSelector`
//! selects (`{}` selects all). Namespaces are not modelled objects here, so each namespace is
//! taken to carry only the label Kubernetes puts on every namespace,
//! `kubernetes.io/metadata.name=<name>`: a selector on other namespace labels selects none. A
//! term without `labelSelector` selects no pods. `matchLabelKeys` / `mismatchLabelKeys` are
//! applied from the term owner's labels (`key in (value)` / `key notin (value)`), as the
//! apiserver merges them into the selector when the pod is created.
//!
//! Follows kube-scheduler's `pkg/scheduler/framework/plugins/interpodaffinity/`
//! (`plugin.go`, `filtering.go`, `scoring.go`) and the affinity bookkeeping of
//! `pkg/scheduler/framework/types.go`: the snapshot lists the nodes hosting pods with
//! affinity and with required anti-affinity, so that a pod without affinity costs nothing
//! when no placed pod has any.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::affinity::{PodAffinityTerm, WeightedPodAffinityTerm};
use crate::api::labels::{LabelSelector, SelectorOperator};
use crate::api::pod::Pod;
use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventChange, EventResource};
use crate::scheduler::framework::{
    CycleState, ExtensionPoints, MAX_NODE_SCORE, Plugin, PreFilterResult, QueueingHint, Status,
};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "InterPodAffinity";

/// Filter reason when the incoming pod's required affinity is not met on the node.
pub const ERR_REASON_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// Filter reason when the incoming pod's required anti-affinity is violated on the node.
pub const ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't match pod anti-affinity rules";
/// Filter reason when a placed pod's required anti-affinity rejects the incoming pod there.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// The label every namespace carries with its own name; the only namespace label modelled.
pub const LABEL_NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";

const PRE_FILTER_KEY: &str = "PreFilterInterPodAffinity";
const PRE_SCORE_KEY: &str = "PreScoreInterPodAffinity";

/// `InterPodAffinityArgs` of a profile's `pluginConfig`; `Default` is upstream's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InterPodAffinityArgs {
    /// Score added per required affinity term of a placed pod that selects the incoming pod
    /// (0–100; default 1).
    pub hard_pod_affinity_weight: i32,
    /// Skip scoring entirely for pods without preferred (anti-)affinity terms, instead of
    /// still honouring placed pods' preferences (default false).
    pub ignore_preferred_terms_of_existing_pods: bool,
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: false,
        }
    }
}

impl InterPodAffinityArgs {
    /// Rejects a `hardPodAffinityWeight` outside 0–100, as upstream does.
    pub fn validate(&self) -> Result<(), String> {
        if (0..=100).contains(&self.hard_pod_affinity_weight) {
            Ok(())
        } else {
            Err(format!(
                "hardPodAffinityWeight: Invalid value: {}: not in valid range [0, 100]",
                self.hard_pod_affinity_weight
            ))
        }
    }
}

/// The InterPodAffinity plugin (PreFilter, Filter, PreScore, Score, NormalizeScore).
#[derive(Clone, Debug)]
pub struct InterPodAffinity {
    args: InterPodAffinityArgs,
}

impl InterPodAffinity {
    /// A plugin with `args`, validated first.
    pub fn new(args: InterPodAffinityArgs) -> Result<InterPodAffinity, String> {
        args.validate()?;
        Ok(InterPodAffinity { args })
    }
}

fn required_affinity_terms(pod: &Pod) -> &[PodAffinityTerm] {
    pod.spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_affinity.as_ref())
        .map_or(&[], |a| {
            a.required_during_scheduling_ignored_during_execution
                .as_slice()
        })
}

fn required_anti_affinity_terms(pod: &Pod) -> &[PodAffinityTerm] {
    pod.spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .map_or(&[], |a| {
            a.required_during_scheduling_ignored_during_execution
                .as_slice()
        })
}

fn preferred_affinity_terms(pod: &Pod) -> &[WeightedPodAffinityTerm] {
    pod.spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_affinity.as_ref())
        .map_or(&[], |a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_slice()
        })
}

fn preferred_anti_affinity_terms(pod: &Pod) -> &[WeightedPodAffinityTerm] {
    pod.spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .map_or(&[], |a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_slice()
        })
}

/// The value of namespace `namespace`'s label `key`: its name for
/// [`LABEL_NAMESPACE_NAME`] (an empty namespace is `default`), nothing otherwise.
fn namespace_label<'a>(namespace: &'a str, key: &str) -> Option<&'a str> {
    (key == LABEL_NAMESPACE_NAME).then_some(if namespace.is_empty() {
        "default"
    } else {
        namespace
    })
}

/// Whether a `namespaceSelector` selects `namespace` (see [`namespace_label`]); evaluated
/// without building a label map.
fn namespace_selector_matches(selector: &LabelSelector, namespace: &str) -> bool {
    selector
        .match_labels
        .iter()
        .all(|(k, v)| namespace_label(namespace, k) == Some(v.as_str()))
        && selector.match_expressions.iter().all(|r| {
            let actual = namespace_label(namespace, &r.key);
            let listed = |a: &str| r.values.iter().any(|v| v == a);
            match r.operator {
                SelectorOperator::In => actual.is_some_and(listed),
                SelectorOperator::NotIn => actual.is_none_or(|a| !listed(a)),
                SelectorOperator::Exists => actual.is_some(),
                SelectorOperator::DoesNotExist => actual.is_none(),
            }
        })
}

/// Whether `term`, which belongs to `owner`, selects `target` (namespace and labels; upstream's
/// `AffinityTerm.Matches`).
fn term_matches(term: &PodAffinityTerm, owner: &Pod, target: &Pod) -> bool {
    let namespace = &target.metadata.namespace;
    let in_namespace = if term.namespaces.is_empty() && term.namespace_selector.is_none() {
        *namespace == owner.metadata.namespace
    } else {
        term.namespaces.iter().any(|n| n == namespace)
            || term
                .namespace_selector
                .as_ref()
                .is_some_and(|s| namespace_selector_matches(s, namespace))
    };
    if !in_namespace {
        return false;
    }
    let Some(selector) = &term.label_selector else {
        return false;
    };
    let labels = target.labels();
    let owner_labels = owner.labels();
    selector.matches(labels)
        && term
            .match_label_keys
            .iter()
            .all(|k| owner_labels.get(k).is_none_or(|v| labels.get(k) == Some(v)))
        && term
            .mismatch_label_keys
            .iter()
            .all(|k| owner_labels.get(k).is_none_or(|v| labels.get(k) != Some(v)))
}

/// Whether `target` matches every one of `terms` (owned by `owner`); false for no terms.
fn matches_all(terms: &[PodAffinityTerm], owner: &Pod, target: &Pod) -> bool {
    !terms.is_empty() && terms.iter().all(|t| term_matches(t, owner, target))
}

/// A pod event helps (upstream `isSchedulableAfterPodChange`) if a bound pod starts matching
/// every required affinity term of the pod, or stops matching (or leaves) every required
/// anti-affinity term; a bound pod with required anti-affinity going away may lift its
/// rejection of the pod too. Events about unbound pods never help.
fn pod_change_hint(pod: &Pod, change: &EventChange) -> QueueingHint {
    let (old, new) = (change.old_pod(), change.new_pod());
    if old.is_some_and(|p| p.spec.node_name.is_empty())
        || new.is_some_and(|p| p.spec.node_name.is_empty())
    {
        return QueueingHint::Skip;
    }
    let affinity = required_affinity_terms(pod);
    let anti = required_anti_affinity_terms(pod);
    QueueingHint::queue_if(match (old, new) {
        (Some(o), Some(n)) => {
            (!matches_all(affinity, pod, o) && matches_all(affinity, pod, n))
                || (matches_all(anti, pod, o) && !matches_all(anti, pod, n))
        }
        (None, Some(n)) => matches_all(affinity, pod, n),
        (Some(o), None) => matches_all(anti, pod, o) || !required_anti_affinity_terms(o).is_empty(),
        (None, None) => false,
    })
}

/// A node event helps (upstream `isSchedulableAfterNodeChange`) if the node carries the
/// topology key of one of the pod's required terms.
fn node_change_hint(pod: &Pod, change: &EventChange) -> QueueingHint {
    let Some(node) = change.new_node() else {
        return QueueingHint::Skip;
    };
    let labels = &node.metadata.labels;
    QueueingHint::queue_if(
        required_affinity_terms(pod)
            .iter()
            .chain(required_anti_affinity_terms(pod))
            .any(|t| labels.contains_key(&t.topology_key)),
    )
}

/// Checks the incoming pod's terms as upstream's `NewPodInfo` parses them: a selector that
/// does not parse makes the pod unschedulable.
fn validate_terms<'a>(terms: impl Iterator<Item = &'a PodAffinityTerm>) -> Result<(), String> {
    for t in terms {
        if let Some(s) = &t.label_selector {
            s.validate().map_err(|e| e.to_string())?;
        }
        if let Some(s) = &t.namespace_selector {
            s.validate().map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// topology key → topology value → count (or score).
type TopologyCounts = BTreeMap<String, BTreeMap<String, i64>>;

/// Adds `delta` to the count of `node`'s domain for `key`, if the node has that label.
fn add(counts: &mut TopologyCounts, node: &NodeInfo, key: &str, delta: i64) {
    let Some(value) = node.labels().get(key) else {
        return;
    };
    if !counts.contains_key(key) {
        counts.insert(key.to_string(), BTreeMap::new());
    }
    let Some(values) = counts.get_mut(key) else {
        return;
    };
    match values.get_mut(value.as_str()) {
        Some(c) => *c += delta,
        None => {
            values.insert(value.clone(), delta);
        }
    }
}

/// The count of domain (`key`, `value`).
fn count(counts: &TopologyCounts, key: &str, value: &str) -> i64 {
    counts
        .get(key)
        .and_then(|v| v.get(value))
        .copied()
        .unwrap_or(0)
}

/// What PreFilter leaves for Filter.
struct PreFilterState {
    /// Domains where placed pods' required anti-affinity terms select the incoming pod.
    existing_anti_affinity: TopologyCounts,
    /// Domains of placed pods matching all the incoming pod's required affinity terms.
    affinity: TopologyCounts,
    /// Domains of placed pods matching the incoming pod's required anti-affinity terms.
    anti_affinity: TopologyCounts,
}

/// What PreScore leaves for Score.
struct PreScoreState {
    topology_score: TopologyCounts,
}

impl InterPodAffinity {
    /// Adds one placed pod's contributions to the score map (upstream's `processExistingPod`).
    fn score_existing_pod(
        &self,
        scores: &mut TopologyCounts,
        incoming: &Pod,
        existing: &Pod,
        node: &NodeInfo,
    ) {
        if node.labels().is_empty() {
            return;
        }
        // The incoming pod's preferences about this pod.
        for w in preferred_affinity_terms(incoming) {
            if term_matches(&w.pod_affinity_term, incoming, existing) {
                add(
                    scores,
                    node,
                    &w.pod_affinity_term.topology_key,
                    i64::from(w.weight),
                );
            }
        }
        for w in preferred_anti_affinity_terms(incoming) {
            if term_matches(&w.pod_affinity_term, incoming, existing) {
                add(
                    scores,
                    node,
                    &w.pod_affinity_term.topology_key,
                    -i64::from(w.weight),
                );
            }
        }
        // This pod's rules about the incoming pod.
        if self.args.hard_pod_affinity_weight > 0 {
            for t in required_affinity_terms(existing) {
                if term_matches(t, existing, incoming) {
                    add(
                        scores,
                        node,
                        &t.topology_key,
                        i64::from(self.args.hard_pod_affinity_weight),
                    );
                }
            }
        }
        for w in preferred_affinity_terms(existing) {
            if term_matches(&w.pod_affinity_term, existing, incoming) {
                add(
                    scores,
                    node,
                    &w.pod_affinity_term.topology_key,
                    i64::from(w.weight),
                );
            }
        }
        for w in preferred_anti_affinity_terms(existing) {
            if term_matches(&w.pod_affinity_term, existing, incoming) {
                add(
                    scores,
                    node,
                    &w.pod_affinity_term.topology_key,
                    -i64::from(w.weight),
                );
            }
        }
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            pre_filter: true,
            filter: true,
            pre_score: true,
            score: true,
            reserve: false,
        }
    }

    /// Counts, per topology domain, the placed pods whose required anti-affinity selects the
    /// incoming pod, and the placed pods matching the incoming pod's required affinity (all
    /// terms) and anti-affinity terms. Skip when the pod has no required terms and no placed
    /// pod's anti-affinity selects it.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<PreFilterResult, Status> {
        let p = &pod.pod;
        let affinity = required_affinity_terms(p);
        let anti = required_anti_affinity_terms(p);
        let mut guarded = snapshot
            .nodes_with_pods_with_required_anti_affinity()
            .peekable();
        if affinity.is_empty() && anti.is_empty() && guarded.peek().is_none() {
            return Err(Status::skip());
        }
        validate_terms(affinity.iter().chain(anti)).map_err(|e| {
            Status::unresolvable(NAME, format!("parsing pod: requiredAffinityTerms: {e}"))
        })?;

        let mut existing_anti_affinity = TopologyCounts::new();
        for node in guarded {
            for existing in &node.pods_with_required_anti_affinity {
                for t in required_anti_affinity_terms(&existing.pod) {
                    if term_matches(t, &existing.pod, p) {
                        add(&mut existing_anti_affinity, node, &t.topology_key, 1);
                    }
                }
            }
        }

        let mut affinity_counts = TopologyCounts::new();
        let mut anti_counts = TopologyCounts::new();
        if !affinity.is_empty() || !anti.is_empty() {
            for node in snapshot.nodes() {
                for existing in &node.pods {
                    if matches_all(affinity, p, &existing.pod) {
                        for t in affinity {
                            add(&mut affinity_counts, node, &t.topology_key, 1);
                        }
                    }
                    for t in anti {
                        if term_matches(t, p, &existing.pod) {
                            add(&mut anti_counts, node, &t.topology_key, 1);
                        }
                    }
                }
            }
        }

        if existing_anti_affinity.is_empty() && affinity.is_empty() && anti.is_empty() {
            return Err(Status::skip());
        }
        state.write(
            PRE_FILTER_KEY,
            PreFilterState {
                existing_anti_affinity,
                affinity: affinity_counts,
                anti_affinity: anti_counts,
            },
        );
        Ok(PreFilterResult::AllNodes)
    }

    /// The three checks, in upstream's order: required affinity (unresolvable), required
    /// anti-affinity, placed pods' anti-affinity (both unschedulable: preemption may help).
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::error(
                NAME,
                format!("error reading {PRE_FILTER_KEY:?} from cycleState: not found"),
            );
        };
        let p = &pod.pod;
        let labels = node.labels();

        // Every affinity term needs the node's topology label, and a matching pod there.
        let affinity = required_affinity_terms(p);
        let mut pods_exist = true;
        for t in affinity {
            match labels.get(&t.topology_key) {
                None => return Status::unresolvable(NAME, ERR_REASON_AFFINITY_RULES_NOT_MATCH),
                Some(value) => {
                    if count(&s.affinity, &t.topology_key, value) <= 0 {
                        pods_exist = false;
                    }
                }
            }
        }
        // The first pod of a group with affinity to itself: if no pod anywhere matches the
        // terms and the pod matches them itself, any node with the topology labels will do.
        if !pods_exist {
            let first_of_group = s.affinity.is_empty() && matches_all(affinity, p, p);
            if !first_of_group {
                return Status::unresolvable(NAME, ERR_REASON_AFFINITY_RULES_NOT_MATCH);
            }
        }

        if !s.anti_affinity.is_empty() {
            for t in required_anti_affinity_terms(p) {
                if let Some(value) = labels.get(&t.topology_key)
                    && count(&s.anti_affinity, &t.topology_key, value) > 0
                {
                    return Status::unschedulable(NAME, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
                }
            }
        }

        for (key, values) in &s.existing_anti_affinity {
            if let Some(value) = labels.get(key)
                && values.get(value.as_str()).is_some_and(|&c| c > 0)
            {
                return Status::unschedulable(
                    NAME,
                    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,
                );
            }
        }
        Status::success()
    }

    /// Sums the weights per topology domain. With preferred terms of its own the incoming pod
    /// is compared with every placed pod; otherwise only placed pods with affinity matter.
    /// Skip when nothing contributes.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        let p = &pod.pod;
        let preferred = preferred_affinity_terms(p);
        let preferred_anti = preferred_anti_affinity_terms(p);
        let has_constraints = !preferred.is_empty() || !preferred_anti.is_empty();
        if !has_constraints
            && (self.args.ignore_preferred_terms_of_existing_pods
                || snapshot.nodes_with_pods_with_affinity().next().is_none())
        {
            return Status::skip();
        }
        let own_terms = preferred
            .iter()
            .chain(preferred_anti)
            .map(|w| &w.pod_affinity_term);
        if let Err(e) = validate_terms(own_terms) {
            return Status::error(NAME, format!("failed to parse pod: {e}"));
        }

        let mut scores = TopologyCounts::new();
        if has_constraints {
            for node in snapshot.nodes() {
                for existing in &node.pods {
                    self.score_existing_pod(&mut scores, p, &existing.pod, node);
                }
            }
        } else {
            for node in snapshot.nodes_with_pods_with_affinity() {
                for existing in &node.pods_with_affinity {
                    self.score_existing_pod(&mut scores, p, &existing.pod, node);
                }
            }
        }
        if scores.is_empty() {
            return Status::skip();
        }
        state.write(
            PRE_SCORE_KEY,
            PreScoreState {
                topology_score: scores,
            },
        );
        Status::success()
    }

    /// The sum of the domain scores of the node's labels (negative when anti-affinity wins).
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return Err(Status::error(
                NAME,
                format!("failed to read {PRE_SCORE_KEY:?} from cycleState: not found"),
            ));
        };
        let labels = node.labels();
        Ok(s.topology_score
            .iter()
            .filter_map(|(key, values)| labels.get(key).and_then(|v| values.get(v.as_str())))
            .sum())
    }

    /// Pods appearing, going or relabelled; nodes appearing, relabelled or retainted.
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[
            ClusterEvent::new(
                EventResource::Pod,
                ActionType::ADD
                    .or(ActionType::UPDATE_POD_LABEL)
                    .or(ActionType::DELETE),
            ),
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD
                    .or(ActionType::UPDATE_NODE_LABEL)
                    .or(ActionType::UPDATE_NODE_TAINT),
            ),
        ];
        EVENTS
    }

    fn queueing_hint(&self, pod: &PodInfo, change: &EventChange) -> QueueingHint {
        if change.event.resource == EventResource::Node {
            node_change_hint(&pod.pod, change)
        } else {
            pod_change_hint(&pod.pod, change)
        }
    }

    fn has_normalize(&self) -> bool {
        true
    }

    /// `⌊100 × (score − min) / (max − min)⌋` with min and max over the scored nodes; all 0
    /// when every node scores the same.
    fn normalize(&self, state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return Status::error(
                NAME,
                format!("failed to read {PRE_SCORE_KEY:?} from cycleState: not found"),
            );
        };
        if s.topology_score.is_empty() || scores.is_empty() {
            return Status::success();
        }
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        let diff = max - min;
        for score in scores.iter_mut() {
            *score = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((*score - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::Uid;
    use crate::api::affinity::{Affinity, PodAffinity, PodAntiAffinity};
    use crate::api::labels::{LabelSelectorRequirement, Labels};
    use crate::api::node::{LABEL_HOSTNAME, LABEL_ZONE, Node};
    use crate::api::test_util::labels;
    use crate::scheduler::framework::Code;
    use crate::scheduler::plugins::test_util::{
        Verdict, assert_skips_cheaply, filter_all, info, node, passing, pod, score_all,
    };

    const ZONE: &str = LABEL_ZONE;
    const HOST: &str = LABEL_HOSTNAME;

    /// A term selecting `app=<app>` over `key`.
    fn term(app: &str, key: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            label_selector: Some(LabelSelector::from_match_labels(labels(&[("app", app)]))),
            topology_key: key.to_string(),
            ..PodAffinityTerm::default()
        }
    }

    fn weighted(weight: i32, t: PodAffinityTerm) -> WeightedPodAffinityTerm {
        WeightedPodAffinityTerm {
            weight,
            pod_affinity_term: t,
        }
    }

    fn with_affinity(mut p: Pod, affinity: PodAffinity) -> Pod {
        Arc::make_mut(&mut p.spec)
            .affinity
            .get_or_insert_with(Affinity::default)
            .pod_affinity = Some(affinity);
        p
    }

    fn with_anti_affinity(mut p: Pod, anti: PodAntiAffinity) -> Pod {
        Arc::make_mut(&mut p.spec)
            .affinity
            .get_or_insert_with(Affinity::default)
            .pod_anti_affinity = Some(anti);
        p
    }

    fn required(terms: Vec<PodAffinityTerm>) -> PodAffinity {
        PodAffinity {
            required_during_scheduling_ignored_during_execution: terms,
            ..PodAffinity::default()
        }
    }

    fn required_anti(terms: Vec<PodAffinityTerm>) -> PodAntiAffinity {
        PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: terms,
            ..PodAntiAffinity::default()
        }
    }

    /// A snapshot whose pods are added through [`Snapshot::add_pod`] (distinct uids).
    fn snapshot(nodes: Vec<(Node, Vec<Pod>)>) -> Snapshot {
        let mut snap = Snapshot::new(
            nodes
                .iter()
                .map(|(n, _)| NodeInfo::new(Arc::new(n.clone())))
                .collect(),
        );
        let mut uid = 500;
        for (n, pods) in nodes {
            for mut p in pods {
                uid += 1;
                p.metadata.uid = Uid(uid);
                assert!(snap.add_pod(&n.metadata.name, Arc::new(info(p))));
            }
        }
        snap
    }

    /// zone1: node-a, node-b; zone2: node-x; node-n has no zone.
    fn cluster(a: Vec<Pod>, b: Vec<Pod>, x: Vec<Pod>) -> Snapshot {
        snapshot(vec![
            (node("node-a", Some("zone1"), &[]), a),
            (node("node-b", Some("zone1"), &[]), b),
            (node("node-x", Some("zone2"), &[]), x),
            (node("node-n", None, &[]), vec![]),
        ])
    }

    fn plugin() -> InterPodAffinity {
        InterPodAffinity::new(InterPodAffinityArgs::default()).expect("default args")
    }

    fn outcome<'a>(results: &'a [Verdict], name: &str) -> (Code, &'a str) {
        results
            .iter()
            .find(|r| r.0 == name)
            .map_or((Code::Error, "missing"), |r| (r.1, r.2.as_str()))
    }

    #[test]
    fn required_affinity_in_a_zone() {
        // A db pod on node-b (zone1). The incoming pod needs app=db in its zone: zone1 nodes
        // pass; node-x (zone2) and node-n (no zone) fail as unresolvable.
        let snap = cluster(vec![], vec![pod("db", "default", &[("app", "db")])], vec![]);
        let p = info(with_affinity(
            pod("web", "default", &[("app", "web")]),
            required(vec![term("db", ZONE)]),
        ));
        let r = filter_all(&plugin(), &p, &snap).expect("not skipped");
        assert_eq!(passing(&r), ["node-a", "node-b"]);
        for n in ["node-x", "node-n"] {
            assert_eq!(
                outcome(&r, n),
                (
                    Code::UnschedulableAndUnresolvable,
                    ERR_REASON_AFFINITY_RULES_NOT_MATCH
                )
            );
        }
        // The db pod in another namespace does not count: no pod matches, and the incoming
        // pod does not match app=db itself, so nothing passes.
        let snap2 = cluster(vec![], vec![pod("db", "other", &[("app", "db")])], vec![]);
        let r2 = filter_all(&plugin(), &p, &snap2).expect("not skipped");
        assert!(passing(&r2).is_empty());
        // ...unless the term names that namespace.
        let mut t = term("db", ZONE);
        t.namespaces = vec!["other".into()];
        let p3 = info(with_affinity(
            pod("web", "default", &[("app", "web")]),
            required(vec![t]),
        ));
        let r3 = filter_all(&plugin(), &p3, &snap2).expect("not skipped");
        assert_eq!(passing(&r3), ["node-a", "node-b"]);
    }

    #[test]
    fn required_anti_affinity_in_a_zone() {
        // A db pod on node-b (zone1); the incoming pod must not share a zone with app=db.
        // node-n has no zone label, so the term cannot be violated there.
        let snap = cluster(vec![], vec![pod("db", "default", &[("app", "db")])], vec![]);
        let p = info(with_anti_affinity(
            pod("web", "default", &[("app", "web")]),
            required_anti(vec![term("db", ZONE)]),
        ));
        let r = filter_all(&plugin(), &p, &snap).expect("not skipped");
        assert_eq!(passing(&r), ["node-n", "node-x"]);
        assert_eq!(
            outcome(&r, "node-a"),
            (
                Code::Unschedulable,
                ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH
            )
        );
    }

    #[test]
    fn existing_pods_anti_affinity_blocks() {
        // A guard pod on node-b (namespace "a") refuses app=web pods in its zone.
        let guard = |ns_term: PodAffinityTerm| {
            with_anti_affinity(
                pod("guard", "a", &[("app", "guard")]),
                required_anti(vec![ns_term]),
            )
        };
        let web_in = |ns: &str| info(pod("web", ns, &[("app", "web")]));
        let pl = plugin();

        // Same namespace: zone1 nodes are refused, node-x and node-n pass.
        let snap = cluster(vec![], vec![guard(term("web", ZONE))], vec![]);
        let r = filter_all(&pl, &web_in("a"), &snap).expect("not skipped");
        assert_eq!(passing(&r), ["node-n", "node-x"]);
        assert_eq!(
            outcome(&r, "node-a"),
            (
                Code::Unschedulable,
                ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH
            )
        );
        // A pod the term does not select, or one in another namespace, is not affected: with
        // no terms of its own, PreFilter skips.
        assert!(filter_all(&pl, &info(pod("db", "a", &[("app", "db")])), &snap).is_none());
        assert!(filter_all(&pl, &web_in("b"), &snap).is_none());

        // namespaceSelector {} selects every namespace; a selector on the namespace's name
        // label selects that namespace; any other namespace label selects none.
        let mut all = term("web", ZONE);
        all.namespace_selector = Some(LabelSelector::default());
        let snap = cluster(vec![], vec![guard(all)], vec![]);
        let r = filter_all(&pl, &web_in("b"), &snap).expect("not skipped");
        assert_eq!(passing(&r), ["node-n", "node-x"]);

        let mut by_name = term("web", ZONE);
        by_name.namespace_selector = Some(LabelSelector {
            match_labels: Labels::new(),
            match_expressions: vec![LabelSelectorRequirement {
                key: LABEL_NAMESPACE_NAME.into(),
                operator: SelectorOperator::In,
                values: vec!["b".into(), "c".into()],
            }],
        });
        let snap = cluster(vec![], vec![guard(by_name)], vec![]);
        assert!(filter_all(&pl, &web_in("b"), &snap).is_some());
        assert!(filter_all(&pl, &web_in("d"), &snap).is_none());

        let mut by_team = term("web", ZONE);
        by_team.namespace_selector =
            Some(LabelSelector::from_match_labels(labels(&[("team", "x")])));
        let snap = cluster(vec![], vec![guard(by_team)], vec![]);
        assert!(filter_all(&pl, &web_in("b"), &snap).is_none());
    }

    #[test]
    fn first_pod_of_a_self_affine_group() {
        // The incoming pod (app=web) wants app=web in its zone and no web pod exists yet: it
        // matches its own term, so every node with a zone label passes; node-n does not.
        let self_affine = |labels_: &[(&str, &str)]| {
            info(with_affinity(
                pod("web", "default", labels_),
                required(vec![term("web", ZONE)]),
            ))
        };
        let pl = plugin();
        let empty = cluster(vec![], vec![pod("db", "default", &[("app", "db")])], vec![]);
        let r = filter_all(&pl, &self_affine(&[("app", "web")]), &empty).expect("not skipped");
        assert_eq!(passing(&r), ["node-a", "node-b", "node-x"]);
        // A pod that does not match its own term gets no such pass.
        let r = filter_all(&pl, &self_affine(&[("app", "api")]), &empty).expect("not skipped");
        assert!(passing(&r).is_empty());
        // Once a web pod runs in zone2, only zone2 qualifies.
        let one = cluster(
            vec![],
            vec![],
            vec![pod("w1", "default", &[("app", "web")])],
        );
        let r = filter_all(&pl, &self_affine(&[("app", "web")]), &one).expect("not skipped");
        assert_eq!(passing(&r), ["node-x"]);
    }

    #[test]
    fn match_and_mismatch_label_keys_come_from_the_term_owner() {
        // Anti-affinity to app=web in the zone, only against pods of the same version.
        let snap = cluster(
            vec![pod("w", "default", &[("app", "web"), ("hash", "v1")])],
            vec![],
            vec![],
        );
        let incoming = |hash: &str, keys: (&[&str], &[&str])| {
            let mut t = term("web", ZONE);
            t.match_label_keys = keys.0.iter().map(|k| (*k).to_string()).collect();
            t.mismatch_label_keys = keys.1.iter().map(|k| (*k).to_string()).collect();
            info(with_anti_affinity(
                pod("web", "default", &[("app", "web"), ("hash", hash)]),
                required_anti(vec![t]),
            ))
        };
        let pl = plugin();
        let zone1_blocked = |p: &PodInfo| {
            let r = filter_all(&pl, p, &snap).expect("not skipped");
            passing(&r) == ["node-n", "node-x"]
        };
        assert!(zone1_blocked(&incoming("v1", (&["hash"], &[]))));
        assert!(!zone1_blocked(&incoming("v2", (&["hash"], &[]))));
        // mismatchLabelKeys: only pods of *other* versions count.
        assert!(!zone1_blocked(&incoming("v1", (&[], &["hash"]))));
        assert!(zone1_blocked(&incoming("v2", (&[], &["hash"]))));
    }

    /// Pods for the scoring tests, on nodes a, b (zone1), x (zone2), y (zone3):
    /// - node-a: P1 app=db;
    /// - node-b: P5 app=client, requires app=web on its hostname (hard affinity);
    /// - node-x: P2 app=cache, P3 app=web;
    /// - node-y: P4 app=batch, prefers (weight 10) no app=web in its zone.
    fn scoring_cluster() -> Snapshot {
        let p5 = with_affinity(
            pod("p5", "default", &[("app", "client")]),
            required(vec![term("web", HOST)]),
        );
        let p4 = with_anti_affinity(
            pod("p4", "default", &[("app", "batch")]),
            PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: vec![weighted(
                    10,
                    term("web", ZONE),
                )],
                ..PodAntiAffinity::default()
            },
        );
        snapshot(vec![
            (
                node("node-a", Some("zone1"), &[]),
                vec![pod("p1", "default", &[("app", "db")])],
            ),
            (node("node-b", Some("zone1"), &[]), vec![p5]),
            (
                node("node-x", Some("zone2"), &[]),
                vec![
                    pod("p2", "default", &[("app", "cache")]),
                    pod("p3", "default", &[("app", "web")]),
                ],
            ),
            (node("node-y", Some("zone3"), &[]), vec![p4]),
        ])
    }

    /// app=web, preferring app=db in its zone (5), avoiding app=cache in its zone (8) and
    /// app=web on its node (3).
    fn preferring_web() -> PodInfo {
        let p = with_affinity(
            pod("web", "default", &[("app", "web")]),
            PodAffinity {
                preferred_during_scheduling_ignored_during_execution: vec![weighted(
                    5,
                    term("db", ZONE),
                )],
                ..PodAffinity::default()
            },
        );
        info(with_anti_affinity(
            p,
            PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: vec![
                    weighted(8, term("cache", ZONE)),
                    weighted(3, term("web", HOST)),
                ],
                ..PodAntiAffinity::default()
            },
        ))
    }

    #[test]
    fn preferred_scoring_with_negative_sums() {
        // Domain scores:
        //   zone1 +5 (P1 matches the db preference), zone2 −8 (P2 cache), zone3 −10 (P4's
        //   preference against web), host x −3 (P3 web), host b +1 (P5's required affinity
        //   selects the incoming pod; hardPodAffinityWeight 1).
        // Nodes: a = 5, b = 5 + 1 = 6, x = −8 − 3 = −11, y = −10.
        // Normalize (min −11, max 6, range 17): a ⌊100·16/17⌋ = 94, b 100, x 0, y ⌊100/17⌋ = 5.
        let snap = scoring_cluster();
        assert_eq!(
            score_all(&plugin(), &preferring_web(), &snap),
            Some(vec![
                ("node-a".into(), 5, 94),
                ("node-b".into(), 6, 100),
                ("node-x".into(), -11, 0),
                ("node-y".into(), -10, 5),
            ])
        );
        // hardPodAffinityWeight 0: no +1 on b. a = b = 5, x = −11, y = −10; range 16:
        // a, b 100, x 0, y ⌊100/16⌋ = 6.
        let no_hard = InterPodAffinity::new(InterPodAffinityArgs {
            hard_pod_affinity_weight: 0,
            ..InterPodAffinityArgs::default()
        })
        .expect("valid");
        assert_eq!(
            score_all(&no_hard, &preferring_web(), &snap)
                .map(|v| v.iter().map(|s| s.2).collect::<Vec<_>>()),
            Some(vec![100, 100, 0, 6])
        );
    }

    #[test]
    fn plain_pod_scored_only_by_existing_pods_affinity() {
        // No preferences of its own: only P4 (zone3 −10) and P5 (host b +1) matter.
        // a 0, b 1, x 0, y −10; range 11: a, x ⌊100·10/11⌋ = 90, b 100, y 0.
        let snap = scoring_cluster();
        let web = info(pod("web", "default", &[("app", "web")]));
        assert_eq!(
            score_all(&plugin(), &web, &snap),
            Some(vec![
                ("node-a".into(), 0, 90),
                ("node-b".into(), 1, 100),
                ("node-x".into(), 0, 90),
                ("node-y".into(), -10, 0),
            ])
        );
        // ignorePreferredTermsOfExistingPods: such a pod is not scored at all…
        let ignoring = InterPodAffinity::new(InterPodAffinityArgs {
            ignore_preferred_terms_of_existing_pods: true,
            ..InterPodAffinityArgs::default()
        })
        .expect("valid");
        assert_eq!(score_all(&ignoring, &web, &snap), None);
        // …while a pod with preferences is scored as before.
        assert_eq!(
            score_all(&ignoring, &preferring_web(), &snap).map(|v| v.len()),
            Some(4)
        );
        // A pod no term selects gets nothing to score.
        let other = info(pod("x", "default", &[("app", "other")]));
        assert_eq!(score_all(&plugin(), &other, &snap), None);
    }

    #[test]
    fn plain_pods_skip_cheaply() {
        let snap = cluster(vec![pod("db", "default", &[("app", "db")])], vec![], vec![]);
        let p = info(pod("web", "default", &[("app", "web")]));
        assert_skips_cheaply(&plugin(), &p, &snap);
    }

    #[test]
    fn invalid_incoming_selector_is_unresolvable() {
        let mut t = term("db", ZONE);
        if let Some(s) = &mut t.label_selector {
            s.match_expressions.push(LabelSelectorRequirement {
                key: "tier".into(),
                operator: SelectorOperator::In,
                values: Vec::new(),
            });
        }
        let p = info(with_affinity(pod("web", "default", &[]), required(vec![t])));
        let snap = cluster(vec![], vec![], vec![]);
        let mut state = CycleState::default();
        let err = plugin()
            .pre_filter(&mut state, &p, &snap)
            .expect_err("rejected");
        assert_eq!(err.code, Code::UnschedulableAndUnresolvable);
        assert!(err.reasons[0].starts_with("parsing pod"), "{err:?}");
    }

    #[test]
    fn args_defaults_and_validation() {
        let args: InterPodAffinityArgs = serde_json::from_str("{}").expect("empty");
        assert_eq!(args, InterPodAffinityArgs::default());
        assert_eq!(args.hard_pod_affinity_weight, 1);
        let set: InterPodAffinityArgs = serde_json::from_str(
            r#"{"hardPodAffinityWeight": 100, "ignorePreferredTermsOfExistingPods": true}"#,
        )
        .expect("set");
        assert!(set.ignore_preferred_terms_of_existing_pods);
        assert!(InterPodAffinity::new(set).is_ok());
        let bad = InterPodAffinityArgs {
            hard_pod_affinity_weight: 101,
            ..InterPodAffinityArgs::default()
        };
        assert!(InterPodAffinity::new(bad).is_err());
    }

    #[test]
    fn queueing_hints_follow_the_required_terms() {
        use crate::api::Object;
        use crate::scheduler::cluster_event::{ActionType, EventResource};
        use crate::scheduler::framework::QueueingHint::{Queue, Skip};
        use crate::scheduler::plugins::test_util::{change, hint};
        let pl = plugin();
        let bound = |name: &str, app: &str| {
            let mut p = pod(name, "default", &[("app", app)]);
            Arc::make_mut(&mut p.spec).node_name = "n1".into();
            Arc::new(Object::Pod(Arc::new(p)))
        };
        let pod_event = |action, old, new| change(EventResource::Pod, action, old, new);
        // Affinity to app=db: a db pod bound somewhere may open a domain; a web pod cannot.
        let affine = info(with_affinity(
            pod("p", "default", &[]),
            required(vec![term("db", ZONE)]),
        ));
        let added = |p| pod_event(ActionType::ADD, None, Some(p));
        assert_eq!(hint(&pl, &affine, &added(bound("db-0", "db"))), Queue);
        assert_eq!(hint(&pl, &affine, &added(bound("web-0", "web"))), Skip);
        // Anti-affinity to app=db: a db pod going away may open a domain.
        let averse = info(with_anti_affinity(
            pod("p", "default", &[]),
            required_anti(vec![term("db", ZONE)]),
        ));
        let deleted = |p| pod_event(ActionType::DELETE, Some(p), None);
        assert_eq!(hint(&pl, &averse, &deleted(bound("db-1", "db"))), Queue);
        assert_eq!(hint(&pl, &averse, &deleted(bound("web-1", "web"))), Skip);
        // A node helps only if it has a topology key of the terms.
        let node_added = |n: Node| {
            change(
                EventResource::Node,
                ActionType::ADD,
                None,
                Some(Arc::new(Object::Node(Arc::new(n)))),
            )
        };
        assert_eq!(
            hint(&pl, &affine, &node_added(node("z", Some("zone-c"), &[]))),
            Queue
        );
        assert_eq!(hint(&pl, &affine, &node_added(node("y", None, &[]))), Skip);
    }
}
