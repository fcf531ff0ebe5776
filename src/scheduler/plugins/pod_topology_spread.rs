//! PodTopologySpread: keeps pods that a label selector groups together evenly spread over
//! topology domains (zones, nodes, any node label).
//!
//! * **Filter** (`whenUnsatisfiable: DoNotSchedule` constraints) rejects a node when placing the
//!   pod there would make `matching pods in the node's domain + (1 if the pod matches itself) −
//!   global minimum` exceed `maxSkew`, or when the node lacks a constraint's topology label.
//! * **Score** (`ScheduleAnyway` constraints) prefers nodes whose domains hold fewer matching
//!   pods, each constraint weighted by `ln(number of domains + 2)`.
//! * A pod without constraints gets the profile's default constraints; with `defaultingType:
//!   System` those are hostname (maxSkew 3) and zone (maxSkew 5), both ScheduleAnyway, with a
//!   selector deduced from the Services and controllers that select or own the pod.
//!
//! What counts is the constraint's label selector, not ownership: upstream's
//! `countPodsMatchSelector` counts, on each node, the pods in the incoming pod's namespace whose
//! labels the selector matches, skipping pods being deleted. Owners matter only when building
//! the *default* selector, where the pod's controller (found through its controller owner
//! reference) contributes its selector.
//!
//! Follows kube-scheduler's `pkg/scheduler/framework/plugins/podtopologyspread/` (`plugin.go`,
//! `common.go`, `filtering.go`, `scoring.go`) and `plugins/helper/spread.go`, with the feature
//! gates of current releases on (minDomains, node inclusion policies, matchLabelKeys). A
//! constraint without `labelSelector` selects no pods; one with an empty selector (`{}`)
//! selects every pod in the namespace (the behaviour of upstream's fix for issue #141339).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::labels::{Labels, Requirement, RequirementOperator, Selector};
use crate::api::node::Node;
use crate::api::node::{LABEL_HOSTNAME, LABEL_ZONE};
use crate::api::pod::{Pod, TopologySpreadConstraint};
use crate::api::taints::{TaintEffect, find_untolerated_taint};
use crate::scheduler::cluster_event::{ActionType, ClusterEvent, EventChange, EventResource};
use crate::scheduler::framework::{
    CycleState, ExtensionPoints, MAX_NODE_SCORE, Plugin, PreFilterResult, QueueingHint, Status,
};
use crate::scheduler::node_info::{
    ControllerKind, NodeInfo, NodeLabelKey, PodInfo, Snapshot, WorkloadSelectors,
};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "PodTopologySpread";

/// Filter reason when a DoNotSchedule constraint's skew would exceed maxSkew.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
/// Filter reason when the node lacks a DoNotSchedule constraint's topology label.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// `whenUnsatisfiable` of constraints the filter enforces.
pub const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
/// `whenUnsatisfiable` of constraints only scoring uses.
pub const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";
/// Node inclusion policy value that makes a constraint respect the pod's node affinity or the
/// node's taints when deciding which nodes count.
pub const POLICY_HONOR: &str = "Honor";

const PRE_FILTER_KEY: &str = "PreFilterPodTopologySpread";
const PRE_SCORE_KEY: &str = "PreScorePodTopologySpread";

/// How a pod without constraints of its own gets default ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefaultingType {
    /// The built-in hostname / zone constraints ([`system_default_constraints`]);
    /// `defaultConstraints` must then be empty.
    #[default]
    System,
    /// The `defaultConstraints` of the args (none if empty).
    List,
}

/// `PodTopologySpreadArgs` of a profile's `pluginConfig`. `Default` is upstream's v1 default:
/// System defaulting, no listed constraints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodTopologySpreadArgs {
    /// Constraints for pods that have none (used with `defaultingType: List`); they must not
    /// have a `labelSelector`, which is deduced for each pod.
    pub default_constraints: Vec<TopologySpreadConstraint>,
    /// Where default constraints come from.
    pub defaulting_type: DefaultingType,
}

impl PodTopologySpreadArgs {
    /// Rejects what upstream's `ValidatePodTopologySpreadArgs` rejects: listed constraints with
    /// System defaulting, maxSkew ≤ 0, an empty or invalid topology key, an unknown
    /// `whenUnsatisfiable`, a `labelSelector`, or a repeated (topologyKey, whenUnsatisfiable).
    pub fn validate(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        if self.defaulting_type == DefaultingType::System && !self.default_constraints.is_empty() {
            errors.push(
                "defaultingType: Invalid value: \"System\": when .defaultConstraints are not empty"
                    .to_string(),
            );
        }
        for (i, c) in self.default_constraints.iter().enumerate() {
            let path = format!("defaultConstraints[{i}]");
            if c.max_skew <= 0 {
                errors.push(format!(
                    "{path}.maxSkew: Invalid value: {}: not in valid range (0, inf)",
                    c.max_skew
                ));
            }
            if c.topology_key.is_empty() {
                errors.push(format!(
                    "{path}.topologyKey: Required value: can not be empty"
                ));
            } else if let Err(e) = crate::api::labels::validate_label_key(&c.topology_key) {
                errors.push(format!(
                    "{path}.topologyKey: Invalid value: {:?}: {e}",
                    c.topology_key
                ));
            }
            match c.when_unsatisfiable.as_str() {
                DO_NOT_SCHEDULE | SCHEDULE_ANYWAY => {}
                "" => errors.push(format!(
                    "{path}.whenUnsatisfiable: Required value: can not be empty"
                )),
                other => errors.push(format!(
                    "{path}.whenUnsatisfiable: Unsupported value: {other:?}: supported values: \
                     \"{DO_NOT_SCHEDULE}\", \"{SCHEDULE_ANYWAY}\""
                )),
            }
            if c.label_selector.is_some() {
                errors.push(format!(
                    "{path}.labelSelector: Forbidden: constraint must not define a selector, as \
                     they deduced for each pod"
                ));
            }
            let repeated = self.default_constraints[..i].iter().any(|o| {
                o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
            });
            if repeated {
                errors.push(format!(
                    "defaultConstraints[{i}]: Duplicate value: \"{{{}, {}}}\"",
                    c.topology_key, c.when_unsatisfiable
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join(", "))
        }
    }
}

/// The constraints `defaultingType: System` gives pods without their own: spread over nodes
/// (maxSkew 3) and zones (maxSkew 5), both ScheduleAnyway (scoring only).
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    let soft = |key: &str, max_skew: i32| TopologySpreadConstraint {
        max_skew,
        topology_key: key.to_string(),
        when_unsatisfiable: SCHEDULE_ANYWAY.to_string(),
        ..TopologySpreadConstraint::default()
    };
    vec![soft(LABEL_HOSTNAME, 3), soft(LABEL_ZONE, 5)]
}

/// The PodTopologySpread plugin (PreFilter, Filter, PreScore, Score, NormalizeScore).
///
/// Default constraints read the Services' and controllers' selectors from
/// [`Snapshot::workloads`], which the scheduler keeps up to date.
#[derive(Clone, Debug)]
pub struct PodTopologySpread {
    default_constraints: Vec<TopologySpreadConstraint>,
    /// Whether the defaults are the System ones: then nodes lacking a default constraint's
    /// topology label are still scored (upstream's `systemDefaulted`).
    system_defaulted: bool,
}

impl PodTopologySpread {
    /// A plugin with `args`, validated first.
    pub fn new(args: PodTopologySpreadArgs) -> Result<PodTopologySpread, String> {
        args.validate()?;
        let system_defaulted = args.defaulting_type == DefaultingType::System;
        Ok(PodTopologySpread {
            default_constraints: if system_defaulted {
                system_default_constraints()
            } else {
                args.default_constraints
            },
            system_defaulted,
        })
    }

    /// The pod's constraints with `whenUnsatisfiable == action`, parsed, or the default ones
    /// when the pod has none. Empty when nothing applies.
    fn constraints(
        &self,
        pod: &Pod,
        snapshot: &Snapshot,
        action: &str,
    ) -> Result<Vec<Constraint>, String> {
        let own = &pod.spec.topology_spread_constraints;
        if !own.is_empty() {
            return parse_constraints(own, pod.labels(), action);
        }
        if !self
            .default_constraints
            .iter()
            .any(|c| c.when_unsatisfiable == action)
        {
            return Ok(Vec::new());
        }
        let Some(selector) = default_selector(pod, snapshot.workloads()) else {
            return Ok(Vec::new());
        };
        let mut constraints = parse_constraints(&self.default_constraints, pod.labels(), action)?;
        for c in &mut constraints {
            c.selector = Some(selector.clone());
        }
        Ok(constraints)
    }
}

/// PodTopologySpread's queueing hints (upstream `isSchedulableAfterPodChange` and
/// `isSchedulableAfterNodeChange`), over the pod's own DoNotSchedule constraints, the ones
/// its Filter enforces. A pod filtered under default constraints is retried on any
/// registered event: its default selector depends on Services and controllers the hint does
/// not see.
impl PodTopologySpread {
    fn hint(&self, pod: &PodInfo, change: &EventChange) -> QueueingHint {
        let own = &pod.pod.spec.topology_spread_constraints;
        if own.is_empty() {
            return QueueingHint::Queue;
        }
        let Ok(constraints) = parse_constraints(own, pod.pod.labels(), DO_NOT_SCHEDULE) else {
            return QueueingHint::Queue;
        };
        if change.event.resource == EventResource::Node {
            node_change_hint(&constraints, change)
        } else {
            pod_change_hint(&constraints, pod, change)
        }
    }
}

/// A pod event helps if it changes how many selected pods a domain holds: a bound pod of the
/// namespace that the constraints select appearing or going, or its labels changing whether
/// it is selected; or the pod itself gaining tolerations when taints decide the domains.
fn pod_change_hint(
    constraints: &[Constraint],
    pod: &PodInfo,
    change: &EventChange,
) -> QueueingHint {
    let (old, new) = (change.old_pod(), change.new_pod());
    let Some(changed) = new.or(old) else {
        return QueueingHint::Skip;
    };
    if changed.metadata.uid == pod.uid() {
        let more_tolerations = old
            .zip(new)
            .is_some_and(|(o, n)| o.spec.tolerations.len() != n.spec.tolerations.len());
        return QueueingHint::queue_if(
            more_tolerations && constraints.iter().any(|c| c.honor_node_taints),
        );
    }
    if changed.spec.node_name.is_empty() || changed.metadata.namespace != pod.pod.metadata.namespace
    {
        return QueueingHint::Skip;
    }
    let selected = |p: &Pod| constraints.iter().any(|c| c.selects(p.labels()));
    QueueingHint::queue_if(match (old, new) {
        (Some(o), Some(n)) => {
            o.labels() != n.labels()
                && constraints
                    .iter()
                    .any(|c| c.selects(o.labels()) != c.selects(n.labels()))
        }
        (None, Some(n)) => selected(n),
        (Some(o), None) => selected(o),
        (None, None) => false,
    })
}

/// A node event helps if it adds or removes a domain: a node carrying every topology key
/// arriving or going, a node gaining or losing one, or a complete node moving between domains
/// or changing its taints.
fn node_change_hint(constraints: &[Constraint], change: &EventChange) -> QueueingHint {
    let has_all_keys = |n: &Node| {
        constraints
            .iter()
            .all(|c| n.metadata.labels.contains_key(c.topology_key.as_str()))
    };
    QueueingHint::queue_if(match (change.old_node(), change.new_node()) {
        (None, Some(n)) => has_all_keys(n),
        (Some(o), None) => has_all_keys(o),
        (Some(o), Some(n)) => {
            has_all_keys(o) != has_all_keys(n)
                || (has_all_keys(n)
                    && (o.spec.taints != n.spec.taints
                        || constraints.iter().any(|c| {
                            let key = c.topology_key.as_str();
                            o.metadata.labels.get(key) != n.metadata.labels.get(key)
                        })))
        }
        (None, None) => false,
    })
}

/// Whether `pod`'s own constraints (or, without any, the defaults) include one with `action`;
/// allocates nothing, so plain pods leave at once.
fn wants(pod: &Pod, defaults: &[TopologySpreadConstraint], action: &str) -> bool {
    let own = &pod.spec.topology_spread_constraints;
    let list = if own.is_empty() { defaults } else { own };
    list.iter().any(|c| c.when_unsatisfiable == action)
}

/// A constraint ready to evaluate (upstream's internal `topologySpreadConstraint`).
#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i32,
    topology_key: NodeLabelKey,
    /// `None` selects no pod (a constraint without `labelSelector`).
    selector: Option<Selector>,
    min_domains: i32,
    honor_node_affinity: bool,
    honor_node_taints: bool,
}

impl Constraint {
    fn selects(&self, labels: &Labels) -> bool {
        self.selector.as_ref().is_some_and(|s| s.matches(labels))
    }

    fn is_hostname(&self) -> bool {
        self.topology_key == NodeLabelKey::Hostname
    }

    /// Pods on `node` in `namespace` the selector matches, not counting pods being deleted.
    fn count_on(&self, node: &NodeInfo, namespace: &str) -> i64 {
        let Some(selector) = &self.selector else {
            return 0;
        };
        node.pods
            .iter()
            .filter(|p| {
                let meta = &p.pod.metadata;
                meta.deletion_timestamp.is_none()
                    && meta.namespace == namespace
                    && selector.matches(&meta.labels)
            })
            .count() as i64
    }

    /// The constraint's matching pods node by node, counted once for the cycle.
    fn node_counts(&self, snapshot: &Snapshot, namespace: &str) -> NodeCounts {
        match &self.selector {
            None => NodeCounts::Indexed(Vec::new()),
            Some(selector) => snapshot
                .count_matching_by_node(namespace, selector)
                .map_or(NodeCounts::Walk, NodeCounts::Indexed),
        }
    }
}

/// A constraint's matching pods per node for one cycle: from the snapshot's label index
/// (node position → count, only nodes with some, in position order), or by walking each
/// node's pods when the selector pins no label. Both give upstream's numbers; the index
/// reads only the pods carrying the selector's label instead of every pod of the cluster.
enum NodeCounts {
    Indexed(Vec<(usize, i64)>),
    Walk,
}

impl NodeCounts {
    /// The count on the node at `position`.
    fn on(&self, c: &Constraint, position: usize, node: &NodeInfo, namespace: &str) -> i64 {
        match self {
            NodeCounts::Indexed(counts) => counts
                .binary_search_by_key(&position, |&(p, _)| p)
                .map_or(0, |i| counts[i].1),
            NodeCounts::Walk => c.count_on(node, namespace),
        }
    }
}

/// Parses the constraints with `whenUnsatisfiable == action`: the selector (merged with the
/// pod's values of `matchLabelKeys`), minDomains (default 1) and the inclusion policies
/// (node affinity honoured and taints ignored by default).
fn parse_constraints(
    specs: &[TopologySpreadConstraint],
    pod_labels: &Labels,
    action: &str,
) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
    for c in specs.iter().filter(|c| c.when_unsatisfiable == action) {
        let mut selector = match &c.label_selector {
            None => None,
            Some(ls) => Some(ls.to_selector().map_err(|e| e.to_string())?),
        };
        // A missing selector stays "nothing": upstream merges matchLabelKeys only into a
        // selector that has requirements to add to.
        if let Some(sel) = &mut selector {
            for key in &c.match_label_keys {
                if let Some(value) = pod_labels.get(key) {
                    let r = Requirement::new(
                        key.clone(),
                        RequirementOperator::Equals,
                        vec![value.clone()],
                    )
                    .map_err(|e| e.to_string())?;
                    sel.add(r);
                }
            }
        }
        out.push(Constraint {
            max_skew: c.max_skew,
            topology_key: NodeLabelKey::new(&c.topology_key),
            selector,
            min_domains: c.min_domains.unwrap_or(1),
            honor_node_affinity: c
                .node_affinity_policy
                .as_deref()
                .is_none_or(|p| p == POLICY_HONOR),
            honor_node_taints: c.node_taints_policy.as_deref() == Some(POLICY_HONOR),
        });
    }
    Ok(out)
}

/// The selector default constraints (and SelectorSpread) use for `pod` (upstream's
/// `helper.DefaultSelector`): the labels every Service in the pod's namespace that selects the
/// pod asks for, plus the selector of the pod's controlling ReplicaSet, ReplicationController
/// or StatefulSet. `None` when that comes to no requirement at all (then the pod gets no
/// default constraints).
/// Allocates only when something selects or owns the pod.
pub(crate) fn default_selector(pod: &Pod, workloads: &WorkloadSelectors) -> Option<Selector> {
    let namespace = &pod.metadata.namespace;
    let pod_labels = pod.labels();
    let mut service_labels: Option<Labels> = None;
    for selector in workloads.services(namespace) {
        // A Service without a selector selects nothing (and an empty one adds nothing).
        if !selector.is_empty() && selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)) {
            let set = service_labels.get_or_insert_with(Labels::new);
            set.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let controller = pod.metadata.controller_ref().and_then(|owner| {
        let kind = ControllerKind::from_owner(&owner.api_version, &owner.kind)?;
        workloads.controller(kind, namespace, &owner.name)
    });
    if service_labels.is_none() && controller.is_none_or(|c| c.is_empty()) {
        return None;
    }
    let mut selector = service_labels
        .as_ref()
        .map(Selector::from_labels)
        .unwrap_or_default();
    // An invalid controller selector is skipped, as upstream skips one it cannot parse.
    if let Some(Ok(extra)) = controller.map(|c| c.to_selector()) {
        for r in extra.requirements() {
            selector.add(r.clone());
        }
    }
    (!selector.is_empty()).then_some(selector)
}

/// Whether `node` passes the pod's required node affinity: `nodeSelector` and the required
/// node affinity terms (upstream's `GetRequiredNodeAffinity(pod).Match`).
fn matches_required_node_affinity(pod: &Pod, node: &NodeInfo) -> bool {
    let labels = node.labels();
    pod.spec
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && pod
            .spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .is_none_or(|na| na.required_matches(node.name(), labels))
}

/// Whether the pod tolerates every NoSchedule / NoExecute taint of `node`.
fn tolerates_node(pod: &Pod, node: &NodeInfo) -> bool {
    find_untolerated_taint(
        &node.node.spec.taints,
        &pod.spec.tolerations,
        &[TaintEffect::NoSchedule, TaintEffect::NoExecute],
    )
    .is_none()
}

/// The node inclusion policies of one node, worked out at most once per node.
struct Inclusion<'a> {
    pod: &'a Pod,
    node: &'a NodeInfo,
    affinity: Option<bool>,
    taints: Option<bool>,
}

impl<'a> Inclusion<'a> {
    fn new(pod: &'a Pod, node: &'a NodeInfo) -> Inclusion<'a> {
        Inclusion {
            pod,
            node,
            affinity: None,
            taints: None,
        }
    }

    /// Whether the node's domain counts for constraint `c` (upstream's
    /// `matchNodeInclusionPolicies`).
    fn admits(&mut self, c: &Constraint) -> bool {
        let (pod, node) = (self.pod, self.node);
        if c.honor_node_affinity
            && !*self
                .affinity
                .get_or_insert_with(|| matches_required_node_affinity(pod, node))
        {
            return false;
        }
        !c.honor_node_taints || *self.taints.get_or_insert_with(|| tolerates_node(pod, node))
    }
}

/// A DoNotSchedule constraint with its counts.
struct HardConstraint {
    constraint: Constraint,
    /// Eligible domain (topology value) → matching pods in it.
    counts: BTreeMap<String, i64>,
    /// The global minimum the skew is measured from: the smallest count over eligible
    /// domains, or 0 when there are fewer eligible domains than minDomains.
    min_match: i64,
}

/// What PreFilter leaves for Filter.
struct PreFilterState {
    constraints: Vec<HardConstraint>,
}

/// A ScheduleAnyway constraint with its counts and weight.
struct SoftConstraint {
    constraint: Constraint,
    /// Topology value of the scored nodes → matching pods in that domain over all eligible
    /// nodes; empty for hostname constraints, which count on the node itself at Score.
    counts: BTreeMap<String, i64>,
    /// `ln(domains among the scored nodes + 2)`.
    weight: f64,
    /// For a hostname constraint whose pods the label index counted: (node position,
    /// matching pods) for the nodes with some, in position order (None: Score walks the
    /// node's pods).
    on_node: Option<Vec<(usize, i64)>>,
}

/// The running total of `node`'s domain for constraint `c`, if the node passes the inclusion
/// policies and its domain is among the scored nodes' ones.
fn scored_domain_total<'a>(
    c: &Constraint,
    totals: &'a mut BTreeMap<String, i64>,
    pod: &Pod,
    node: &NodeInfo,
) -> Option<&'a mut i64> {
    if !Inclusion::new(pod, node).admits(c) {
        return None;
    }
    // Upstream reads a missing label as "", which then counts as a domain.
    let value = node.label(&c.topology_key).unwrap_or("");
    totals.get_mut(value)
}

impl SoftConstraint {
    /// The matching pods on `node` itself, for a hostname constraint.
    fn count_on_node(&self, node: &NodeInfo, namespace: &str) -> i64 {
        match &self.on_node {
            Some(counts) => counts
                .binary_search_by_key(&node.position(), |&(p, _)| p)
                .map_or(0, |i| counts[i].1),
            None => self.constraint.count_on(node, namespace),
        }
    }
}

/// What PreScore leaves for Score and NormalizeScore.
struct PreScoreState {
    constraints: Vec<SoftConstraint>,
    /// Whether a scored node must carry every topology label (false only for System
    /// defaults, so that nodes without a zone still get hostname spreading).
    require_all_topologies: bool,
    /// Aligned with the nodes PreScore saw: nodes lacking a required topology label, which
    /// score 0.
    ignored: Vec<bool>,
}

/// Adds `n` to `counts[value]`, allocating the key only the first time.
fn add_count(counts: &mut BTreeMap<String, i64>, value: &str, n: i64) {
    match counts.get_mut(value) {
        Some(c) => *c += n,
        None => {
            counts.insert(value.to_string(), n);
        }
    }
}

impl Plugin for PodTopologySpread {
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

    /// Counts, for each DoNotSchedule constraint, the matching pods per eligible domain.
    /// Eligible nodes carry every constraint's topology label and pass the constraint's
    /// inclusion policies. Skip when no DoNotSchedule constraint applies.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<PreFilterResult, Status> {
        let p = &pod.pod;
        if !wants(p, &self.default_constraints, DO_NOT_SCHEDULE) {
            return Err(Status::skip());
        }
        let constraints = self.constraints(p, snapshot, DO_NOT_SCHEDULE).map_err(|e| {
            Status::error(
                NAME,
                format!("get constraints from pod: obtaining pod's hard topology spread constraints: {e}"),
            )
        })?;
        if constraints.is_empty() {
            return Err(Status::skip());
        }
        let mut hard: Vec<HardConstraint> = constraints
            .into_iter()
            .map(|constraint| HardConstraint {
                constraint,
                counts: BTreeMap::new(),
                min_match: 0,
            })
            .collect();
        let namespace = p.metadata.namespace.as_str();
        let node_counts: Vec<NodeCounts> = hard
            .iter()
            .map(|h| h.constraint.node_counts(snapshot, namespace))
            .collect();
        // Every eligible node, even one without matching pods: its domain counts (at 0)
        // towards the global minimum.
        for (position, node) in snapshot.nodes().iter().enumerate() {
            if !hard
                .iter()
                .all(|h| node.label(&h.constraint.topology_key).is_some())
            {
                continue;
            }
            let mut inclusion = Inclusion::new(p, node);
            for (h, counts) in hard.iter_mut().zip(&node_counts) {
                if !inclusion.admits(&h.constraint) {
                    continue;
                }
                let Some(value) = node.label(&h.constraint.topology_key) else {
                    continue;
                };
                let n = counts.on(&h.constraint, position, node, namespace);
                add_count(&mut h.counts, value, n);
            }
        }
        for h in &mut hard {
            let domains = h.counts.len() as i64;
            h.min_match = if domains < i64::from(h.constraint.min_domains) {
                0
            } else {
                h.counts
                    .values()
                    .copied()
                    .min()
                    .unwrap_or(i64::from(i32::MAX))
            };
        }
        state.write(PRE_FILTER_KEY, PreFilterState { constraints: hard });
        Ok(PreFilterResult::AllNodes)
    }

    /// For every DoNotSchedule constraint: the node must carry the topology label, and
    /// `matching pods in its domain + self-match − global minimum ≤ maxSkew`.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::error(
                NAME,
                format!("reading {PRE_FILTER_KEY:?} from cycleState: not found"),
            );
        };
        for h in &s.constraints {
            let c = &h.constraint;
            let Some(value) = node.label(&c.topology_key) else {
                return Status::unresolvable(NAME, ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let self_match = i64::from(c.selects(pod.labels()));
            let match_num = h.counts.get(value).copied().unwrap_or(0);
            let skew = match_num + self_match - h.min_match;
            if skew > i64::from(c.max_skew) {
                return Status::unschedulable(NAME, ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }

    /// Counts, for each ScheduleAnyway constraint, the matching pods per domain of the nodes
    /// to score (over every eligible node of the cluster), and weighs each constraint by the
    /// number of such domains. Skip when no ScheduleAnyway constraint applies.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        let p = &pod.pod;
        if !wants(p, &self.default_constraints, SCHEDULE_ANYWAY) || snapshot.is_empty() {
            return Status::skip();
        }
        let constraints = match self.constraints(p, snapshot, SCHEDULE_ANYWAY) {
            Ok(c) => c,
            Err(e) => {
                return Status::error(
                    NAME,
                    format!(
                        "calculating preScoreState: obtaining pod's soft topology spread \
                         constraints: {e}"
                    ),
                );
            }
        };
        if constraints.is_empty() {
            return Status::skip();
        }
        // Only System defaults let nodes without every topology label be scored.
        let require_all = !p.spec.topology_spread_constraints.is_empty() || !self.system_defaulted;
        let mut ignored = Vec::with_capacity(nodes.len());
        let mut ignored_count = 0usize;
        let mut soft: Vec<SoftConstraint> = constraints
            .into_iter()
            .map(|constraint| SoftConstraint {
                constraint,
                counts: BTreeMap::new(),
                weight: 0.0,
                on_node: None,
            })
            .collect();
        for node in nodes {
            let skip = require_all
                && !soft
                    .iter()
                    .all(|s| node.label(&s.constraint.topology_key).is_some());
            ignored.push(skip);
            if skip {
                ignored_count += 1;
                continue;
            }
            for s in &mut soft {
                if s.constraint.is_hostname() {
                    continue;
                }
                // Upstream reads a missing label as "", which then counts as a domain.
                let value = node.label(&s.constraint.topology_key).unwrap_or("");
                add_count(&mut s.counts, value, 0);
            }
        }
        for s in &mut soft {
            let size = if s.constraint.is_hostname() {
                nodes.len() - ignored_count
            } else {
                s.counts.len()
            };
            s.weight = topology_normalizing_weight(size);
        }
        let namespace = p.metadata.namespace.as_str();
        let required: Vec<NodeLabelKey> = if require_all {
            soft.iter()
                .map(|s| s.constraint.topology_key.clone())
                .collect()
        } else {
            Vec::new()
        };
        let has_required = |node: &NodeInfo| required.iter().all(|key| node.label(key).is_some());
        let nodes = snapshot.nodes();
        for s in &mut soft {
            let counts = s.constraint.node_counts(snapshot, namespace);
            if s.constraint.is_hostname() {
                // Counted on the node itself at Score.
                if let NodeCounts::Indexed(counts) = counts {
                    s.on_node = Some(counts);
                }
                continue;
            }
            match counts {
                // Nodes without matching pods add nothing to their domain: only the nodes
                // with some are read.
                NodeCounts::Indexed(counts) => {
                    for (i, n) in counts {
                        let Some(node) = nodes.get(i).filter(|node| has_required(node)) else {
                            continue;
                        };
                        if let Some(total) =
                            scored_domain_total(&s.constraint, &mut s.counts, p, node)
                        {
                            *total += n;
                        }
                    }
                }
                NodeCounts::Walk => {
                    for node in nodes.iter().filter(|node| has_required(node)) {
                        if let Some(total) =
                            scored_domain_total(&s.constraint, &mut s.counts, p, node)
                        {
                            *total += s.constraint.count_on(node, namespace);
                        }
                    }
                }
            }
        }
        state.write(
            PRE_SCORE_KEY,
            PreScoreState {
                constraints: soft,
                require_all_topologies: require_all,
                ignored,
            },
        );
        Status::success()
    }

    /// `Σ over constraints whose label the node has: matching pods in its domain × weight +
    /// (maxSkew − 1)`, rounded; ignored nodes score 0.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return Err(Status::error(
                NAME,
                format!("reading {PRE_SCORE_KEY:?} from cycleState: not found"),
            ));
        };
        let namespace = pod.pod.metadata.namespace.as_str();
        let mut score = 0.0f64;
        for sc in &s.constraints {
            let c = &sc.constraint;
            let Some(value) = node.label(&c.topology_key) else {
                if s.require_all_topologies {
                    return Ok(0);
                }
                continue;
            };
            let count = if c.is_hostname() {
                sc.count_on_node(node, namespace)
            } else {
                sc.counts.get(value).copied().unwrap_or(0)
            };
            score += count as f64 * sc.weight + f64::from(c.max_skew - 1);
        }
        Ok(score.round() as i64)
    }

    /// Pods appearing, going or relabelled; the pod gaining tolerations; nodes appearing,
    /// going, relabelled or retainted.
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        const EVENTS: &[ClusterEvent] = &[
            ClusterEvent::new(
                EventResource::Pod,
                ActionType::ADD
                    .or(ActionType::UPDATE_POD_LABEL)
                    .or(ActionType::UPDATE_POD_TOLERATION)
                    .or(ActionType::DELETE),
            ),
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD
                    .or(ActionType::DELETE)
                    .or(ActionType::UPDATE_NODE_LABEL)
                    .or(ActionType::UPDATE_NODE_TAINT),
            ),
        ];
        EVENTS
    }

    fn queueing_hint(&self, pod: &PodInfo, change: &EventChange) -> QueueingHint {
        self.hint(pod, change)
    }

    fn has_normalize(&self) -> bool {
        true
    }

    /// Fewer matching pods is better: `100 × (max + min − score) / max` over the nodes not
    /// ignored (all 100 when max is 0); ignored nodes get 0.
    fn normalize(&self, state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return Status::error(
                NAME,
                format!("reading {PRE_SCORE_KEY:?} from cycleState: not found"),
            );
        };
        if s.ignored.len() != scores.len() {
            return Status::error(
                NAME,
                format!(
                    "normalizing {} scores, but PreScore saw {} nodes",
                    scores.len(),
                    s.ignored.len()
                ),
            );
        }
        let mut min = i64::MAX;
        let mut max = 0i64;
        for (&score, &ignored) in scores.iter().zip(&s.ignored) {
            if !ignored {
                min = min.min(score);
                max = max.max(score);
            }
        }
        for (score, &ignored) in scores.iter_mut().zip(&s.ignored) {
            *score = if ignored {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *score) / max
            };
        }
        Status::success()
    }
}

/// The weight of a constraint with `size` domains: `ln(size + 2)`, so that counts in a
/// topology with few domains are not watered down by one with many.
fn topology_normalizing_weight(size: usize) -> f64 {
    libm::log(size as f64 + 2.0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::Uid;
    use crate::api::affinity::{Affinity, NodeAffinity, NodeSelector, NodeSelectorOperator};
    use crate::api::labels::{LabelSelector, LabelSelectorRequirement, SelectorOperator};
    use crate::api::meta::OwnerReference;
    use crate::api::node::Node;
    use crate::api::taints::Taint;
    use crate::api::test_util::{labels, req, term};
    use crate::scheduler::framework::Code;
    use crate::scheduler::plugins::test_util::{
        self, Verdict, assert_skips_cheaply, info, node, passing, pod, score_all,
    };
    use crate::sim::SimTime;

    const ZONE: &str = LABEL_ZONE;

    /// A snapshot of `nodes`, each with its pods (given distinct uids).
    fn snapshot(nodes: Vec<(Node, Vec<Pod>)>) -> Snapshot {
        let mut uid = 1000;
        let infos = nodes
            .into_iter()
            .map(|(n, pods)| {
                let mut ni = NodeInfo::new(Arc::new(n));
                for mut p in pods {
                    uid += 1;
                    p.metadata.uid = Uid(uid);
                    ni.add_pod(Arc::new(info(p)));
                }
                ni
            })
            .collect();
        Snapshot::new(infos)
    }

    /// `count` pods labelled `foo=bar` in namespace `default`.
    fn foos(count: usize) -> Vec<Pod> {
        (0..count)
            .map(|i| pod(&format!("foo-{i}"), "default", &[("foo", "bar")]))
            .collect()
    }

    fn foo_selector() -> Option<LabelSelector> {
        Some(LabelSelector {
            match_labels: Labels::new(),
            match_expressions: vec![LabelSelectorRequirement {
                key: "foo".into(),
                operator: SelectorOperator::Exists,
                values: Vec::new(),
            }],
        })
    }

    fn constraint(key: &str, max_skew: i32, when: &str) -> TopologySpreadConstraint {
        TopologySpreadConstraint {
            max_skew,
            topology_key: key.to_string(),
            when_unsatisfiable: when.to_string(),
            label_selector: foo_selector(),
            ..TopologySpreadConstraint::default()
        }
    }

    fn incoming(constraints: Vec<TopologySpreadConstraint>) -> PodInfo {
        let mut p = pod("incoming", "default", &[("foo", "bar")]);
        Arc::make_mut(&mut p.spec).topology_spread_constraints = constraints;
        info(p)
    }

    fn plugin() -> PodTopologySpread {
        PodTopologySpread::new(PodTopologySpreadArgs::default()).expect("default args are valid")
    }

    /// PreFilter then Filter on every node (PreFilter never skips these pods).
    fn filter_all(pl: &PodTopologySpread, pod: &PodInfo, snap: &Snapshot) -> Vec<Verdict> {
        test_util::filter_all(pl, pod, snap).expect("not skipped")
    }

    #[test]
    fn two_zones_max_skew_one() {
        // zone1: node-a (1 foo), node-b (1 foo) → 2; zone2: node-x (1 foo), node-y (0) → 1.
        // A foo pod in another namespace and one being deleted do not count.
        let mut deleted = pod("gone", "default", &[("foo", "bar")]);
        deleted.metadata.deletion_timestamp = Some(SimTime::ZERO);
        let snap = snapshot(vec![
            (node("node-a", Some("zone1"), &[]), foos(1)),
            (node("node-b", Some("zone1"), &[]), foos(1)),
            (
                node("node-x", Some("zone2"), &[]),
                vec![
                    pod("x", "default", &[("foo", "bar")]),
                    pod("other-ns", "other", &[("foo", "bar")]),
                    deleted,
                ],
            ),
            (node("node-y", Some("zone2"), &[]), vec![]),
        ]);
        let pl = plugin();
        // Zone, maxSkew 1: global min 1. zone1: 2 + 1 − 1 = 2 > 1 → denied;
        // zone2: 1 + 1 − 1 = 1 → allowed.
        let pod1 = incoming(vec![constraint(ZONE, 1, DO_NOT_SCHEDULE)]);
        let r = filter_all(&pl, &pod1, &snap);
        assert_eq!(passing(&r), ["node-x", "node-y"]);
        let denied = r.iter().find(|x| x.0 == "node-a").expect("node-a");
        assert_eq!(
            (denied.1, denied.2.as_str()),
            (Code::Unschedulable, ERR_REASON_CONSTRAINTS_NOT_MATCH)
        );
        // Adding hostname, maxSkew 1: per-node counts a1 b1 x1 y0, min 0. node-x: 1 + 1 − 0 = 2
        // > 1 → denied; node-y: 0 + 1 − 0 = 1 → allowed. Only node-y passes both.
        let pod2 = incoming(vec![
            constraint(ZONE, 1, DO_NOT_SCHEDULE),
            constraint(LABEL_HOSTNAME, 1, DO_NOT_SCHEDULE),
        ]);
        assert_eq!(passing(&filter_all(&pl, &pod2, &snap)), ["node-y"]);
        // A pod that does not match its own selector adds no self-match: zone1: 2 + 0 − 1 =
        // 1 → every node passes.
        let mut p3 = pod("loner", "default", &[]);
        Arc::make_mut(&mut p3.spec).topology_spread_constraints =
            vec![constraint(ZONE, 1, DO_NOT_SCHEDULE)];
        assert_eq!(passing(&filter_all(&pl, &info(p3), &snap)).len(), 4);
    }

    #[test]
    fn min_domains_forces_global_minimum_zero() {
        // Two zones with one foo each: 2 eligible domains.
        let snap = snapshot(vec![
            (node("node-a", Some("zone1"), &[]), foos(1)),
            (node("node-x", Some("zone2"), &[]), foos(1)),
        ]);
        let pl = plugin();
        // minDomains unset (1): min 1, skew 1 + 1 − 1 = 1 → both pass.
        let pod1 = incoming(vec![constraint(ZONE, 1, DO_NOT_SCHEDULE)]);
        assert_eq!(
            passing(&filter_all(&pl, &pod1, &snap)),
            ["node-a", "node-x"]
        );
        // minDomains 3 > 2 domains: global min is 0, skew 1 + 1 − 0 = 2 > 1 → both denied.
        let mut c = constraint(ZONE, 1, DO_NOT_SCHEDULE);
        c.min_domains = Some(3);
        let pod2 = incoming(vec![c.clone()]);
        assert!(passing(&filter_all(&pl, &pod2, &snap)).is_empty());
        // minDomains 2 = 2 domains: the real minimum (1) is used again → both pass.
        c.min_domains = Some(2);
        let pod3 = incoming(vec![c]);
        assert_eq!(passing(&filter_all(&pl, &pod3, &snap)).len(), 2);
    }

    #[test]
    fn missing_topology_key_is_unresolvable_and_not_counted() {
        // node-n has no zone label: its 5 foos are ignored, and it is rejected as
        // unresolvable. zone1 has 1 foo, zone2 0: min 0, zone1 1 + 1 − 0 = 2 > 1 → denied.
        let snap = snapshot(vec![
            (node("node-a", Some("zone1"), &[]), foos(1)),
            (node("node-x", Some("zone2"), &[]), vec![]),
            (node("node-n", None, &[]), foos(5)),
        ]);
        let r = filter_all(
            &plugin(),
            &incoming(vec![constraint(ZONE, 1, DO_NOT_SCHEDULE)]),
            &snap,
        );
        assert_eq!(passing(&r), ["node-x"]);
        let n = r.iter().find(|x| x.0 == "node-n").expect("node-n");
        assert_eq!(
            (n.1, n.2.as_str()),
            (
                Code::UnschedulableAndUnresolvable,
                ERR_REASON_NODE_LABEL_NOT_MATCH
            )
        );
    }

    #[test]
    fn node_affinity_policy_honor_and_ignore() {
        // node-a (zone1, ssd, 1 foo), node-b (zone2, ssd, 1 foo), node-c (zone3, hdd, 0).
        // The pod wants disk=ssd (nodeSelector).
        let snap = snapshot(vec![
            (node("node-a", Some("zone1"), &[("disk", "ssd")]), foos(1)),
            (node("node-b", Some("zone2"), &[("disk", "ssd")]), foos(1)),
            (node("node-c", Some("zone3"), &[("disk", "hdd")]), vec![]),
        ]);
        let pl = plugin();
        let with_policy = |policy: Option<&str>| {
            let mut c = constraint(ZONE, 1, DO_NOT_SCHEDULE);
            c.node_affinity_policy = policy.map(str::to_string);
            let mut p = pod("incoming", "default", &[("foo", "bar")]);
            Arc::make_mut(&mut p.spec).topology_spread_constraints = vec![c];
            Arc::make_mut(&mut p.spec)
                .node_selector
                .insert("disk".to_string(), "ssd".to_string());
            info(p)
        };
        // Honor (default): zone3 is not eligible, domains zone1 = 1, zone2 = 1, min 1:
        // node-a 1 + 1 − 1 = 1 → pass. (node-c's own domain has no count: 0 + 1 − 1 = 0.)
        for policy in [None, Some("Honor")] {
            assert_eq!(
                passing(&filter_all(&pl, &with_policy(policy), &snap)),
                ["node-a", "node-b", "node-c"]
            );
        }
        // Ignore: zone3 counts with 0, min 0: node-a 1 + 1 − 0 = 2 > 1 → denied.
        assert_eq!(
            passing(&filter_all(&pl, &with_policy(Some("Ignore")), &snap)),
            ["node-c"]
        );
        // The same through required node affinity instead of nodeSelector.
        let mut c = constraint(ZONE, 1, DO_NOT_SCHEDULE);
        c.node_affinity_policy = None;
        let mut p = pod("incoming", "default", &[("foo", "bar")]);
        Arc::make_mut(&mut p.spec).topology_spread_constraints = vec![c];
        Arc::make_mut(&mut p.spec).affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![term(vec![req(
                        "disk",
                        NodeSelectorOperator::In,
                        &["ssd"],
                    )])],
                }),
                ..NodeAffinity::default()
            }),
            ..Affinity::default()
        });
        assert_eq!(passing(&filter_all(&pl, &info(p), &snap)).len(), 3);
    }

    #[test]
    fn node_taints_policy_honor_excludes_tainted_domains() {
        // node-c (zone3, 0 foos) is tainted NoSchedule. Ignore (default): zone3 counts, min 0,
        // node-a 1 + 1 − 0 = 2 > 1 → only node-c passes. Honor: zone3 is out, min 1 → all pass.
        let mut tainted = node("node-c", Some("zone3"), &[]);
        tainted.spec.taints = vec![Taint::new("dedicated", "x", TaintEffect::NoSchedule)];
        let snap = snapshot(vec![
            (node("node-a", Some("zone1"), &[]), foos(1)),
            (node("node-b", Some("zone2"), &[]), foos(1)),
            (tainted, vec![]),
        ]);
        let pl = plugin();
        let ignore = incoming(vec![constraint(ZONE, 1, DO_NOT_SCHEDULE)]);
        assert_eq!(passing(&filter_all(&pl, &ignore, &snap)), ["node-c"]);
        let mut c = constraint(ZONE, 1, DO_NOT_SCHEDULE);
        c.node_taints_policy = Some("Honor".into());
        assert_eq!(
            passing(&filter_all(&pl, &incoming(vec![c]), &snap)).len(),
            3
        );
    }

    #[test]
    fn selectors_nil_empty_and_match_label_keys() {
        // node-a: 2 pods app=web (hash v1), node-x: 1 pod app=web (hash v2).
        let web = |hash: &str| pod("w", "default", &[("app", "web"), ("hash", hash)]);
        let snap = snapshot(vec![
            (
                node("node-a", Some("zone1"), &[]),
                vec![web("v1"), web("v1")],
            ),
            (node("node-x", Some("zone2"), &[]), vec![web("v2")]),
        ]);
        let pl = plugin();
        let mk = |selector: Option<LabelSelector>, keys: &[&str]| {
            let mut p = pod("incoming", "default", &[("app", "web"), ("hash", "v2")]);
            Arc::make_mut(&mut p.spec).topology_spread_constraints =
                vec![TopologySpreadConstraint {
                    label_selector: selector,
                    match_label_keys: keys.iter().map(|k| (*k).to_string()).collect(),
                    ..constraint(ZONE, 1, DO_NOT_SCHEDULE)
                }];
            info(p)
        };
        let app_web = Some(LabelSelector::from_match_labels(labels(&[("app", "web")])));
        // app=web: zone1 2, zone2 1, min 1: zone1 2 + 1 − 1 = 2 > 1 → only node-x.
        assert_eq!(
            passing(&filter_all(&pl, &mk(app_web.clone(), &[]), &snap)),
            ["node-x"]
        );
        // With matchLabelKeys [hash] the incoming v2 pod counts only v2 pods: zone1 0, zone2
        // 1, min 0: zone2 1 + 1 − 0 = 2 > 1 → only node-a.
        assert_eq!(
            passing(&filter_all(&pl, &mk(app_web, &["hash"]), &snap)),
            ["node-a"]
        );
        // No selector: selects nothing, no self-match either → skew 0 everywhere.
        assert_eq!(
            passing(&filter_all(&pl, &mk(None, &["hash"]), &snap)).len(),
            2
        );
        // Empty selector `{}`: every pod of the namespace counts, like app=web here.
        assert_eq!(
            passing(&filter_all(
                &pl,
                &mk(Some(LabelSelector::default()), &[]),
                &snap
            )),
            ["node-x"]
        );
    }

    #[test]
    fn scoring_with_hostname_and_zone() {
        // node-a (zone1): 2 foos, node-b (zone1): 1 foo, node-x (zone2): 0.
        let snap = snapshot(vec![
            (node("node-a", Some("zone1"), &[]), foos(2)),
            (node("node-b", Some("zone1"), &[]), foos(1)),
            (node("node-x", Some("zone2"), &[]), vec![]),
        ]);
        // zone maxSkew 2: 2 domains → weight ln 4 = 1.386294; zone1 = 3, zone2 = 0.
        // hostname maxSkew 1: 3 nodes → weight ln 5 = 1.609438.
        // node-a: 3·1.386294 + 1 + 2·1.609438 + 0 = 8.377759 → 8
        // node-b: 3·1.386294 + 1 + 1·1.609438 = 6.768321 → 7
        // node-x: 0 + 1 + 0 = 1 → 1
        // normalize (max 8, min 1): a 100·(9−8)/8 = 12, b 100·(9−7)/8 = 25, x 100·8/8 = 100.
        let p = incoming(vec![
            constraint(ZONE, 2, SCHEDULE_ANYWAY),
            constraint(LABEL_HOSTNAME, 1, SCHEDULE_ANYWAY),
        ]);
        let pl = plugin();
        assert_eq!(
            score_all(&pl, &p, &snap),
            Some(vec![
                ("node-a".into(), 8, 12),
                ("node-b".into(), 7, 25),
                ("node-x".into(), 1, 100),
            ])
        );
        // A pod's own soft constraints require every topology label: node-n (no zone) is
        // ignored (raw 0, normalized 0) and does not count as a hostname domain.
        let snap2 = snapshot(vec![
            (node("node-a", Some("zone1"), &[]), foos(2)),
            (node("node-b", Some("zone1"), &[]), foos(1)),
            (node("node-x", Some("zone2"), &[]), vec![]),
            (node("node-n", None, &[]), foos(4)),
        ]);
        let scored = score_all(&pl, &p, &snap2).expect("scored");
        assert_eq!(scored[2], ("node-n".into(), 0, 0));
        assert_eq!(scored[0], ("node-a".into(), 8, 12));
        // Only DoNotSchedule constraints: nothing to score.
        let hard = incoming(vec![constraint(ZONE, 1, DO_NOT_SCHEDULE)]);
        assert_eq!(score_all(&pl, &hard, &snap), None);
    }

    #[test]
    fn all_counts_zero_scores_everyone_100() {
        // No foos anywhere, maxSkew 1: every raw score is 0 → max 0 → all 100.
        let snap = snapshot(vec![
            (node("node-a", Some("zone1"), &[]), vec![]),
            (node("node-x", Some("zone2"), &[]), vec![]),
        ]);
        let p = incoming(vec![constraint(ZONE, 1, SCHEDULE_ANYWAY)]);
        let scored = score_all(&plugin(), &p, &snap).expect("scored");
        assert!(scored.iter().all(|s| s.1 == 0 && s.2 == 100), "{scored:?}");
    }

    /// A pod labelled app=web owned by ReplicaSet `web-rs`.
    fn owned_web_pod(name: &str) -> Pod {
        let mut p = pod(name, "default", &[("app", "web")]);
        p.metadata.owner_references = vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web-rs".into(),
            controller: true,
            ..OwnerReference::default()
        }];
        p
    }

    fn web_cluster() -> Snapshot {
        snapshot(vec![
            (
                node("node-a", Some("zone1"), &[]),
                vec![owned_web_pod("w0")],
            ),
            (node("node-b", Some("zone1"), &[]), vec![]),
            (node("node-x", Some("zone2"), &[]), vec![]),
            (node("node-n", None, &[]), vec![]),
        ])
    }

    #[test]
    fn system_defaults_apply_only_when_a_workload_selects_the_pod() {
        let pl = plugin();
        let p = info(owned_web_pod("incoming"));
        let mut snap = web_cluster();
        // Nothing selects or owns the pod in the snapshot: no default constraints.
        let mut state = CycleState::default();
        assert!(
            pl.pre_filter(&mut state, &p, &snap)
                .is_err_and(|s| s.is_skip())
        );
        assert_eq!(score_all(&pl, &p, &snap), None);
        // A Service in another namespace, or one selecting other pods, changes nothing.
        snap.workloads_mut()
            .set_service("other", "web", labels(&[("app", "web")]));
        snap.workloads_mut()
            .set_service("default", "db", labels(&[("app", "db")]));
        assert_eq!(score_all(&pl, &p, &snap), None);

        // The owning ReplicaSet (selector app=web) is known: hostname maxSkew 3 and zone
        // maxSkew 5, both soft. PreFilter still skips (no DoNotSchedule default).
        snap.workloads_mut().set_controller(
            ControllerKind::ReplicaSet,
            "default",
            "web-rs",
            LabelSelector::from_match_labels(labels(&[("app", "web")])),
        );
        assert!(
            pl.pre_filter(&mut state, &p, &snap)
                .is_err_and(|s| s.is_skip())
        );
        // System defaults do not require every label, so node-n (no zone) is scored; its
        // missing zone still makes a "" domain: zone domains {zone1, zone2, ""} → weight ln 5
        // = 1.609438; hostname over 4 nodes → ln 6 = 1.791759. Matching pods: node-a 1.
        // node-a: host 1·1.791759 + 2, zone 1·1.609438 + 4 → 9.401197 → 9
        // node-b: host 2, zone 1·1.609438 + 4 → 7.609438 → 8
        // node-x: host 2, zone 0 + 4 → 6
        // node-n: host 2 only (no zone label) → 2
        // normalize (max 9, min 2): a 100·2/9 = 22, b 100·3/9 = 33, x 100·5/9 = 55, n 100.
        let expect = Some(vec![
            ("node-a".into(), 9, 22),
            ("node-b".into(), 8, 33),
            ("node-n".into(), 2, 100),
            ("node-x".into(), 6, 55),
        ]);
        assert_eq!(score_all(&pl, &p, &snap), expect);

        // A Service selecting the pod is enough on its own, too.
        snap.workloads_mut()
            .remove_controller(ControllerKind::ReplicaSet, "default", "web-rs");
        assert_eq!(score_all(&pl, &p, &snap), None);
        snap.workloads_mut()
            .set_service("default", "web", labels(&[("app", "web")]));
        assert_eq!(score_all(&pl, &p, &snap), expect);

        // List defaulting with no constraints: never any default.
        let list = PodTopologySpread::new(PodTopologySpreadArgs {
            defaulting_type: DefaultingType::List,
            default_constraints: Vec::new(),
        })
        .expect("valid");
        assert_eq!(score_all(&list, &p, &snap), None);
    }

    #[test]
    fn listed_default_constraints_filter_and_require_labels() {
        // List defaulting with a hard zone constraint: the pod (selected by Service app=web)
        // gets it with the selector app=web. zone1 1 pod, zone2 0, min 0: zone1 1 + 1 − 0 = 2
        // > 1 → node-a and node-b denied; node-n lacks the zone → unresolvable.
        let pl = PodTopologySpread::new(PodTopologySpreadArgs {
            defaulting_type: DefaultingType::List,
            default_constraints: vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: ZONE.into(),
                when_unsatisfiable: DO_NOT_SCHEDULE.into(),
                ..TopologySpreadConstraint::default()
            }],
        })
        .expect("valid");
        let mut snap = web_cluster();
        snap.workloads_mut()
            .set_service("default", "web", labels(&[("app", "web")]));
        let p = info(owned_web_pod("incoming"));
        let r = filter_all(&pl, &p, &snap);
        assert_eq!(passing(&r), ["node-x"]);
        assert_eq!(
            r.iter().find(|x| x.0 == "node-n").map(|x| x.1),
            Some(Code::UnschedulableAndUnresolvable)
        );
    }

    #[test]
    fn plain_pods_skip_cheaply() {
        let snap = snapshot(vec![(node("node-a", Some("zone1"), &[]), foos(3))]);
        let p = info(pod("plain", "default", &[("foo", "bar")]));
        assert_skips_cheaply(&plugin(), &p, &snap);
    }

    #[test]
    fn args_defaults_serde_and_validation() {
        let args: PodTopologySpreadArgs = serde_json::from_str("{}").expect("empty args");
        assert_eq!(args, PodTopologySpreadArgs::default());
        assert_eq!(args.defaulting_type, DefaultingType::System);
        let list: PodTopologySpreadArgs = serde_json::from_str(
            r#"{"defaultingType":"List","defaultConstraints":[
                {"maxSkew":2,"topologyKey":"topology.kubernetes.io/zone",
                 "whenUnsatisfiable":"DoNotSchedule"}]}"#,
        )
        .expect("list args");
        assert_eq!(list.default_constraints[0].max_skew, 2);
        assert!(PodTopologySpread::new(list.clone()).is_ok());
        // Listed constraints with System defaulting are rejected.
        let bad = PodTopologySpreadArgs {
            defaulting_type: DefaultingType::System,
            ..list.clone()
        };
        assert!(bad.validate().is_err_and(|e| e.contains("defaultingType")));
        // maxSkew 0, a selector, an unknown action and a duplicate are each reported.
        let mut c = list.default_constraints[0].clone();
        c.max_skew = 0;
        c.label_selector = Some(LabelSelector::default());
        let mut d = c.clone();
        d.when_unsatisfiable = "Sometimes".into();
        let bad = PodTopologySpreadArgs {
            defaulting_type: DefaultingType::List,
            default_constraints: vec![c.clone(), d, c],
        };
        let err = bad.validate().expect_err("invalid");
        for part in ["maxSkew", "labelSelector", "Sometimes", "Duplicate"] {
            assert!(err.contains(part), "{err}");
        }
    }

    #[test]
    fn queueing_hints_follow_the_counted_pods_and_the_domains() {
        use crate::api::Object;
        use crate::scheduler::cluster_event::{ActionType, EventResource};
        use crate::scheduler::framework::QueueingHint::{Queue, Skip};
        use crate::scheduler::plugins::test_util::{change, hint};
        let pl = plugin();
        let mut target = incoming(vec![constraint(ZONE, 1, DO_NOT_SCHEDULE)]);
        Arc::make_mut(&mut target.pod).metadata.uid = Uid(1);
        let obj = |p: Pod| Arc::new(Object::Pod(Arc::new(p)));
        let bound = |name: &str, labels: &[(&str, &str)]| {
            let mut p = pod(name, "default", labels);
            Arc::make_mut(&mut p.spec).node_name = "n1".into();
            p.metadata.uid = Uid(2);
            p
        };
        let pod_event = |action, old, new| change(EventResource::Pod, action, old, new);
        // A counted pod (foo) bound or deleted changes a domain's count; another does not.
        let added = |p| pod_event(ActionType::ADD, None, Some(obj(p)));
        assert_eq!(
            hint(&pl, &target, &added(bound("a", &[("foo", "x")]))),
            Queue
        );
        assert_eq!(
            hint(&pl, &target, &added(bound("b", &[("app", "x")]))),
            Skip
        );
        let deleted = pod_event(
            ActionType::DELETE,
            Some(obj(bound("c", &[("foo", "x")]))),
            None,
        );
        assert_eq!(hint(&pl, &target, &deleted), Queue);
        // A pending pod counts nowhere; a pod of another namespace is not counted.
        let pending = pod("d", "default", &[("foo", "x")]);
        assert_eq!(hint(&pl, &target, &added(pending)), Skip);
        let mut elsewhere = bound("e", &[("foo", "x")]);
        elsewhere.metadata.namespace = "other".into();
        assert_eq!(hint(&pl, &target, &added(elsewhere)), Skip);
        // Relabelling in or out of the selector counts; a change of another label does not.
        let relabel = |from: &[(&str, &str)], to: &[(&str, &str)]| {
            pod_event(
                ActionType::UPDATE_POD_LABEL,
                Some(obj(bound("f", from))),
                Some(obj(bound("f", to))),
            )
        };
        assert_eq!(hint(&pl, &target, &relabel(&[], &[("foo", "x")])), Queue);
        assert_eq!(
            hint(
                &pl,
                &target,
                &relabel(&[("foo", "x")], &[("foo", "x"), ("v", "2")])
            ),
            Skip
        );
        // Nodes: a node with the zone label is a domain; one without is not.
        let node_added = |n: Node| {
            change(
                EventResource::Node,
                ActionType::ADD,
                None,
                Some(Arc::new(Object::Node(Arc::new(n)))),
            )
        };
        assert_eq!(
            hint(&pl, &target, &node_added(node("z", Some("zone-c"), &[]))),
            Queue
        );
        assert_eq!(hint(&pl, &target, &node_added(node("y", None, &[]))), Skip);
    }
}
