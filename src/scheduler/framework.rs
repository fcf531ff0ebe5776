//! The scheduling framework: plugin statuses, per-cycle state, the [`Plugin`] trait with its
//! extension points, and one scheduling cycle over a [`Snapshot`] — PreFilter, Filter (from a
//! rotating start, stopping after enough feasible nodes), PostFilter hand-off, PreScore, Score,
//! NormalizeScore, weights, host selection with a seeded tie-break, and Reserve on the chosen
//! node — as kube-scheduler's `schedule_one.go` runs them.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, BTreeSet};

use rand::RngExt;

use super::cluster_event::{ActionType, ClusterEvent, EventChange, EventResource};
use super::cycle_trace::CycleTrace;
use super::node_info::{NodeInfo, PodInfo, Snapshot};
use crate::api::node::Node;
use crate::sim::SimRng;

/// Highest score a plugin may give a node.
pub const MAX_NODE_SCORE: i64 = 100;
/// Lowest score a plugin may give a node.
pub const MIN_NODE_SCORE: i64 = 0;

/// Most nodes filtered or scored as one batch (see `Profile::find_feasible` and
/// `Profile::prioritize`): the parts of 128 [`NodeInfo`]s a cycle reads (two cache lines
/// each, 16 KiB) fit in a core's first-level data cache with room to spare, and each plugin's
/// per-batch work (reading its cycle state, looking at the pod) is spread over enough nodes
/// to vanish; 64 cost 5 % more instructions per pod at 5,000 nodes, and 256 save only 2 %.
const NODE_BATCH: usize = 128;

/// Fewest feasible nodes a cycle looks for before it stops filtering.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Lowest adaptive percentage of nodes to score.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// The outcome class of a plugin call, as the framework's `Code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// Passed.
    Success,
    /// Failed, but preemption or a cluster change could help.
    Unschedulable,
    /// Failed, and preemption cannot help on this node.
    UnschedulableAndUnresolvable,
    /// The plugin has nothing to do for this pod (PreFilter / PreScore).
    Skip,
    /// Something went wrong (bad input, a bug).
    Error,
}

/// A plugin's answer: a code, the plugin that gave it and the reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The outcome.
    pub code: Code,
    /// The plugin that failed (empty on success).
    pub plugin: &'static str,
    /// Why, as kube-scheduler words it ("Insufficient cpu", "node(s) were unschedulable").
    pub reasons: Vec<String>,
}

impl Status {
    /// Success (allocates nothing).
    pub const fn success() -> Status {
        Status {
            code: Code::Success,
            plugin: "",
            reasons: Vec::new(),
        }
    }

    /// Skip (allocates nothing).
    pub const fn skip() -> Status {
        Status {
            code: Code::Skip,
            plugin: "",
            reasons: Vec::new(),
        }
    }

    /// A failure with one reason.
    pub fn new(code: Code, plugin: &'static str, reason: impl Into<String>) -> Status {
        Status {
            code,
            plugin,
            reasons: vec![reason.into()],
        }
    }

    /// `Unschedulable` with one reason.
    pub fn unschedulable(plugin: &'static str, reason: impl Into<String>) -> Status {
        Status::new(Code::Unschedulable, plugin, reason)
    }

    /// `UnschedulableAndUnresolvable` with one reason.
    pub fn unresolvable(plugin: &'static str, reason: impl Into<String>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, plugin, reason)
    }

    /// `Error` with one reason.
    pub fn error(plugin: &'static str, reason: impl Into<String>) -> Status {
        Status::new(Code::Error, plugin, reason)
    }

    /// Whether the code is Success.
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// Whether the code is Skip.
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// Whether the code rejects the node.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable
        )
    }
}

/// Data plugins keep for the length of one scheduling cycle (PreFilter results read by Filter,
/// PreScore results read by Score). Each plugin's state has a type of its own, so slots are
/// found by type — a comparison of two integers, which matters because Score reads its state
/// once per node.
#[derive(Default)]
pub struct CycleState {
    slots: Vec<(TypeId, &'static str, Box<dyn Any>)>,
    /// Filter plugins whose PreFilter returned Skip, as a bit per plugin index in the profile.
    pub skip_filter: PluginMask,
    /// Score plugins whose PreScore returned Skip, as a bit per plugin index in the profile.
    pub skip_score: PluginMask,
}

/// A set of plugins of one profile, by their index in [`Profile::plugins`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PluginMask(u64);

impl PluginMask {
    /// Adds plugin `index` (indices from 64 on are never set: profiles are far smaller).
    pub fn insert(&mut self, index: usize) {
        if index < 64 {
            self.0 |= 1 << index;
        }
    }

    /// Whether plugin `index` is in the set.
    pub fn contains(&self, index: usize) -> bool {
        index < 64 && self.0 & (1 << index) != 0
    }
}

impl CycleState {
    /// Stores `value` (replacing a value of the same type); `key` names it for debugging.
    pub fn write<T: Any>(&mut self, key: &'static str, value: T) {
        let id = TypeId::of::<T>();
        match self.slots.iter_mut().find(|(t, _, _)| *t == id) {
            Some(slot) => *slot = (id, key, Box::new(value)),
            None => self.slots.push((id, key, Box::new(value))),
        }
    }

    /// Reads the stored value of type `T`.
    pub fn read<T: Any>(&self, _key: &'static str) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.slots
            .iter()
            .find(|(t, _, _)| *t == id)
            .and_then(|(_, _, b)| b.downcast_ref::<T>())
    }

    /// Reads the stored value of type `T` mutably.
    pub fn read_mut<T: Any>(&mut self, _key: &'static str) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.slots
            .iter_mut()
            .find(|(t, _, _)| *t == id)
            .and_then(|(_, _, b)| b.downcast_mut::<T>())
    }
}

/// Annotations Reserve plugins want on the pod: the scheduler writes them on the assumed pod
/// and on the pod's Binding, whose annotations the apiserver copies onto the pod (upstream
/// `BindingREST.setPodHostAndAnnotations`). A Reserve plugin adds to the value in the
/// [`CycleState`]; the cycle returns it in [`CycleResult::Scheduled`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindingAnnotations(pub crate::api::meta::Annotations);

/// What PreFilter can narrow the search to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreFilterResult {
    /// Every node.
    AllNodes,
    /// Only these nodes (by name).
    Nodes(Vec<String>),
}

/// The extension points a plugin implements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtensionPoints {
    /// PreFilter.
    pub pre_filter: bool,
    /// Filter.
    pub filter: bool,
    /// PreScore.
    pub pre_score: bool,
    /// Score (and NormalizeScore, if the plugin has one).
    pub score: bool,
    /// Reserve.
    pub reserve: bool,
}

/// A scheduler plugin. Each implements only the extension points it declares in
/// [`Plugin::points`]; the other methods keep their pass-through defaults.
pub trait Plugin {
    /// The plugin's name, as in KubeSchedulerConfiguration.
    fn name(&self) -> &'static str;

    /// The extension points implemented.
    fn points(&self) -> ExtensionPoints;

    /// Runs once per cycle before filtering; may narrow the nodes or reject the pod.
    fn pre_filter(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> Result<PreFilterResult, Status> {
        Ok(PreFilterResult::AllNodes)
    }

    /// Whether `pod` can go on `node`.
    fn filter(&self, _state: &CycleState, _pod: &PodInfo, _node: &NodeInfo) -> Status {
        Status::success()
    }

    /// Filter over a batch, which is how the cycle filters: removes from `nodes` the nodes
    /// [`Plugin::filter`] rejects, keeping the others in order, and appends each rejected node
    /// with its status to `rejected`. The default calls [`Plugin::filter`] per node; a plugin
    /// overrides it to do its per-cycle work (reading its cycle state, looking at the pod)
    /// once per batch rather than once per node, as a cycle filters hundreds of nodes. It must
    /// reject exactly the nodes, with exactly the statuses, that [`Plugin::filter`] would.
    fn filter_nodes<'n>(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &mut Vec<&'n NodeInfo>,
        rejected: &mut Vec<(&'n NodeInfo, Status)>,
    ) {
        retain_feasible(nodes, rejected, |node| {
            let status = self.filter(state, pod, node);
            (!status.is_success()).then_some(status)
        });
    }

    /// Runs once per cycle before scoring, over the feasible nodes; Skip disables Score.
    fn pre_score(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _snapshot: &Snapshot,
    ) -> Status {
        Status::success()
    }

    /// The node's raw score.
    fn score(&self, _state: &CycleState, _pod: &PodInfo, _node: &NodeInfo) -> Result<i64, Status> {
        Ok(0)
    }

    /// The raw scores of all `nodes` into `scores` (aligned; the first error wins), which is
    /// how the framework scores. The default calls [`Plugin::score`] per node; a plugin
    /// overrides it to do per-cycle work once — read its cycle state, pick its strategy —
    /// rather than once per node, as a cycle scores hundreds of nodes. It must give the scores
    /// [`Plugin::score`] gives.
    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Result<(), Status> {
        for (slot, node) in scores.iter_mut().zip(nodes) {
            *slot = self.score(state, pod, node)?;
        }
        Ok(())
    }

    /// Whether the plugin rescales its scores after scoring every node.
    fn has_normalize(&self) -> bool {
        false
    }

    /// Rescales the raw scores of all scored nodes (aligned with the nodes scored) into
    /// [`MIN_NODE_SCORE`, `MAX_NODE_SCORE`].
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [i64]) -> Status {
        Status::success()
    }

    /// Reserve: claims what the pod needs on the chosen node `node` before the pod is assumed
    /// there; what the pod must carry (which devices it got) goes into the state's
    /// [`BindingAnnotations`]. A failure ends the cycle with that status.
    fn reserve(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _snapshot: &Snapshot,
        _node: &str,
    ) -> Status {
        Status::success()
    }

    /// Unreserve: undoes Reserve, when a later Reserve plugin failed or the pod's bind failed.
    /// The cycle's state is gone by the time a bind fails, so a plugin gets none.
    fn unreserve(&self, _pod: &PodInfo, _node: &str) {}

    /// The cluster events after which a pod this plugin rejected may fit (upstream
    /// `EventsToRegister`). The default: none for a plugin that cannot reject (it neither
    /// pre-filters nor filters), every event for one that can and says no more.
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        const EVERYTHING: &[ClusterEvent] =
            &[ClusterEvent::new(EventResource::WildCard, ActionType::ALL)];
        let points = self.points();
        if points.pre_filter || points.filter {
            EVERYTHING
        } else {
            &[]
        }
    }

    /// Whether `change`, one of the events registered, may make `pod`, which this plugin
    /// rejected, schedulable (upstream's `QueueingHintFn`). The default: it may.
    fn queueing_hint(&self, _pod: &PodInfo, _change: &EventChange) -> QueueingHint {
        QueueingHint::Queue
    }
}

/// A queueing hint's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueingHint {
    /// The change cannot help: the pod stays where it waits.
    Skip,
    /// The change may help: retry the pod (after its backoff).
    Queue,
}

impl QueueingHint {
    /// Queue when `helps`, else Skip.
    pub fn queue_if(helps: bool) -> QueueingHint {
        if helps {
            QueueingHint::Queue
        } else {
            QueueingHint::Skip
        }
    }
}

/// The hint of a filter whose verdict on a node depends only on the node object and the pod:
/// a node event may help if the node, added or updated, now `admits` the pod and did not
/// before the update.
pub fn node_now_admits(change: &EventChange, admits: impl Fn(&Node) -> bool) -> QueueingHint {
    let Some(new) = change.new_node() else {
        return QueueingHint::Skip;
    };
    let admitted_before = change.old_node().is_some_and(&admits);
    QueueingHint::queue_if(!admitted_before && admits(new))
}

/// Whether `change` is an update of the pending pod `pod` itself.
pub fn is_update_of(pod: &PodInfo, change: &EventChange) -> bool {
    change
        .new_pod()
        .is_some_and(|p| p.metadata.uid == pod.uid())
}

/// Keeps the nodes of `nodes` that `rejection` finds nothing against (`None`), in order, and
/// appends the others with their statuses to `rejected`: the body of
/// [`Plugin::filter_nodes`]. A passing node costs no [`Status`] at all, and the loop is
/// written out rather than with `Vec::retain`, whose per-element bookkeeping outweighs a
/// check that reads one flag.
pub fn retain_feasible<'n>(
    nodes: &mut Vec<&'n NodeInfo>,
    rejected: &mut Vec<(&'n NodeInfo, Status)>,
    mut rejection: impl FnMut(&NodeInfo) -> Option<Status>,
) {
    let mut kept = 0;
    for i in 0..nodes.len() {
        let node = nodes[i];
        match rejection(node) {
            None => {
                nodes[kept] = node;
                kept += 1;
            }
            Some(status) => rejected.push((node, status)),
        }
    }
    nodes.truncate(kept);
}

/// The nodes a cycle has yet to filter, in filtering order: from the rotating start to the
/// end of the list, then from the beginning, skipping nodes PreFilter ruled out.
struct Candidates<'s, 'a> {
    /// The unvisited rest of the list from the start, then the part before the start.
    parts: [&'s [NodeInfo]; 2],
    /// The nodes PreFilter allows (sorted), if it narrowed them.
    allowed: Option<&'a [String]>,
}

impl<'s> Candidates<'s, '_> {
    /// Appends up to `want` more candidates to `batch`. Without a PreFilter narrowing, whole
    /// runs of the list are copied, with no per-node test or wrap-around arithmetic.
    fn fill(&mut self, batch: &mut Vec<&'s NodeInfo>, want: usize) {
        let target = batch.len() + want;
        while batch.len() < target {
            let [part, next] = &mut self.parts;
            if part.is_empty() {
                if next.is_empty() {
                    return;
                }
                std::mem::swap(part, next);
            }
            match self.allowed {
                None => {
                    let (taken, rest) = part.split_at(part.len().min(target - batch.len()));
                    batch.extend(taken);
                    *part = rest;
                }
                Some(allowed) => {
                    let Some((node, rest)) = part.split_first() else {
                        return;
                    };
                    *part = rest;
                    if allowed
                        .binary_search_by(|n| n.as_str().cmp(node.name()))
                        .is_ok()
                    {
                        batch.push(node);
                    }
                }
            }
        }
    }
}

/// The nodes of `snapshot` in a cycle's filtering order: from `start` to the end of the list,
/// then from the beginning, skipping those outside `allowed` (sorted) when PreFilter narrowed
/// the search. The cycle itself walks this order with [`Candidates`], in runs.
fn filtering_order<'s>(
    snapshot: &'s Snapshot,
    start: usize,
    allowed: Option<&'s [String]>,
) -> impl Iterator<Item = &'s NodeInfo> {
    let (before, from_start) = snapshot.nodes().split_at(start);
    from_start.iter().chain(before).filter(move |node| {
        allowed.is_none_or(|a| a.binary_search_by(|n| n.as_str().cmp(node.name())).is_ok())
    })
}

/// kube-scheduler's `DefaultNormalizeScore`: scales scores to `0..=max_priority` by the
/// largest one (integer division), reversed if asked; all zero stays zero (or becomes
/// `max_priority` when reversed).
pub fn default_normalize_score(max_priority: i64, reverse: bool, scores: &mut [i64]) {
    // All zero (as TaintToleration's scores are wherever nothing is tainted) settles it with
    // a cheaper pass than the maximum's.
    let max = if scores.iter().fold(0, |any, &s| any | s) == 0 {
        0
    } else {
        scores.iter().copied().max().unwrap_or(0)
    };
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max_priority);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = max_priority * *s / max;
        *s = if reverse {
            max_priority - scaled
        } else {
            scaled
        };
    }
}

/// How many feasible nodes a cycle looks for among `num_nodes` (kube-scheduler's
/// `numFeasibleNodesToFind`): all of them under 100; otherwise `percentage`% of them (adaptive
/// `50 − n/125`, at least 5 %, when `percentage` is 0), and never fewer than 100.
pub fn num_feasible_nodes_to_find(percentage: u32, num_nodes: usize) -> usize {
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100 {
        return num_nodes;
    }
    let mut pct = percentage as usize;
    if pct == 0 {
        pct = (50usize).saturating_sub(num_nodes / 125);
        if pct < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND {
            pct = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
        }
    }
    (num_nodes * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// A score plugin and its weight in a profile.
pub struct WeightedPlugin {
    /// Index of the plugin in the profile's plugin list.
    pub plugin: usize,
    /// Weight (1..=100).
    pub weight: i64,
}

/// A scheduling profile: the plugins of each extension point, in order, and score weights.
pub struct Profile {
    /// Profile name (`schedulerName` of the pods it schedules).
    pub name: String,
    /// Every plugin instance of the profile.
    pub plugins: Vec<Box<dyn Plugin>>,
    /// PreFilter plugins (indices into `plugins`), in order.
    pub pre_filter: Vec<usize>,
    /// Filter plugins, in order.
    pub filter: Vec<usize>,
    /// PreScore plugins, in order.
    pub pre_score: Vec<usize>,
    /// Score plugins with weights, in order.
    pub score: Vec<WeightedPlugin>,
    /// Reserve plugins, in order.
    pub reserve: Vec<usize>,
    /// `percentageOfNodesToScore` (0 = adaptive).
    pub percentage_of_nodes_to_score: u32,
}

/// Why every node was rejected (upstream `Diagnosis`): for each node examined the rejecting
/// status, and what the FitError message adds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// Per node (name), the status that rejected it.
    pub node_statuses: BTreeMap<String, Status>,
    /// A PreFilter rejection that applied to every node.
    pub pre_filter: Option<Status>,
    /// The status of the nodes PreFilter left out of the search (upstream's absent-nodes
    /// status: "node(s) didn't satisfy plugin(s) [NodeAffinity]").
    pub absent: Option<Status>,
    /// What PostFilter said (DefaultPreemption's `preemption: …`), empty when it said nothing.
    pub post_filter_msg: String,
}

impl Diagnosis {
    /// Takes the nodes of `rejected` with their statuses, naming `plugin` on a status that
    /// names none.
    fn record(&mut self, rejected: &mut Vec<(&NodeInfo, Status)>, plugin: &'static str) {
        for (node, mut status) in rejected.drain(..) {
            if status.plugin.is_empty() {
                status.plugin = plugin;
            }
            self.node_statuses.insert(node.name().to_string(), status);
        }
    }

    /// The FitError text kube-scheduler writes (`FitError.Error()`): "0/5 nodes are available:"
    /// then either the PreFilter rejection, or each reason with the number of nodes it
    /// rejected, as "<count> <reason>" strings in string order (so "10 …" sorts before "2 …"),
    /// joined by ", " and ended with "."; then PostFilter's message, if any.
    pub fn message(&self, num_nodes: usize) -> String {
        let mut message = format!("0/{num_nodes} nodes are available:");
        if let Some(status) = &self.pre_filter {
            message.push_str(&format!(" {}.", status.reasons.join(", ")));
        } else {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for status in self.node_statuses.values() {
                for reason in &status.reasons {
                    *counts.entry(reason.as_str()).or_insert(0) += 1;
                }
            }
            let absent = num_nodes.saturating_sub(self.node_statuses.len());
            if let Some(status) = self.absent.as_ref().filter(|_| absent > 0) {
                for reason in &status.reasons {
                    *counts.entry(reason.as_str()).or_insert(0) += absent;
                }
            }
            let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
            parts.sort();
            if !parts.is_empty() {
                message.push_str(&format!(" {}.", parts.join(", ")));
            }
        }
        if !self.post_filter_msg.is_empty() {
            message.push(' ');
            message.push_str(&self.post_filter_msg);
        }
        message
    }
}

/// The result of one scheduling cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CycleResult {
    /// The pod goes to this node.
    Scheduled {
        /// Chosen node.
        node: String,
        /// Nodes examined by filters.
        evaluated: usize,
        /// Feasible nodes found.
        feasible: usize,
        /// What the Reserve plugins put in [`BindingAnnotations`].
        annotations: crate::api::meta::Annotations,
    },
    /// The cluster has no node at all (upstream `ErrNoNodesAvailable`; PostFilter does not
    /// run).
    NoNodes,
    /// No node fits (upstream `FitError`).
    Unschedulable(Diagnosis),
    /// A plugin failed with an error.
    Error(Status),
}

/// Counters of the work a cycle did, for the scheduler's virtual cost model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CycleWork {
    /// Nodes run through the filters.
    pub nodes_filtered: usize,
    /// Nodes scored.
    pub nodes_scored: usize,
}

/// Nodes that fail the pod once the pods nominated to them are counted: the first pass of
/// kube-scheduler's `RunFilterPluginsWithNominatedPods`, which the caller works out before the
/// cycle because it changes the snapshot (see `preemption::nominated_rejections`). The
/// cycle rejects these nodes with these statuses and runs its ordinary filters (the second
/// pass, without the nominated pods) on the rest. Usually empty: nominations exist only while
/// preemptors wait for their victims to leave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NominatedRejections {
    /// (node name, rejecting status), sorted by name.
    by_node: Vec<(String, Status)>,
}

impl NominatedRejections {
    /// The rejections of `list` (any order; a later entry for a node replaces an earlier one).
    pub fn new(mut list: Vec<(String, Status)>) -> NominatedRejections {
        list.reverse();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.dedup_by(|a, b| a.0 == b.0);
        NominatedRejections { by_node: list }
    }

    /// Whether no node is rejected.
    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }

    /// The status rejecting node `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Status> {
        self.by_node
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.by_node[i].1)
    }
}

/// What PreFilter settled: the nodes the search is narrowed to (sorted; `None`: all), and the
/// plugins that narrowed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PreFiltered {
    pub allowed: Option<Vec<String>>,
    pub narrowed_by: Vec<&'static str>,
}

/// The rejection when the node sets of the PreFilter plugins `plugins` have nothing in
/// common (upstream's wording, naming one plugin or several).
fn no_node_satisfies(plugins: &[&'static str]) -> Status {
    let plugin = plugins.last().copied().unwrap_or("");
    let reason = if plugins.len() == 1 {
        format!("node(s) didn't satisfy plugin {plugin}")
    } else {
        let mut names = plugins.to_vec();
        names.sort_unstable();
        format!(
            "node(s) didn't satisfy plugin(s) [{}] simultaneously",
            names.join(" ")
        )
    };
    Status::unresolvable(plugin, reason)
}

/// What is settled about the nodes before a cycle filters them.
#[derive(Clone, Copy)]
struct Decided<'a> {
    /// The nodes PreFilter narrowed the search to (sorted), if it did.
    allowed: Option<&'a [String]>,
    /// The nodes that fail with the pods nominated to them counted.
    nominated: &'a NominatedRejections,
}

/// The scheduling algorithm's state that carries over between cycles.
#[derive(Debug, Default)]
pub struct Rotation {
    /// Where the next cycle starts filtering (`nextStartNodeIndex`).
    pub next_start_node_index: usize,
}

impl Profile {
    /// Runs one scheduling cycle for `pod` (PreFilter through host selection, then Reserve on
    /// the chosen node) on a cluster where no pod is nominated to a node.
    pub fn schedule(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        rotation: &mut Rotation,
        tie_break: &mut SimRng,
        work: &mut CycleWork,
    ) -> CycleResult {
        let none = NominatedRejections::default();
        self.schedule_with(pod, snapshot, &none, rotation, tie_break, work)
    }

    /// Runs one scheduling cycle for `pod`, with `nominated` rejecting the nodes that fail
    /// once the pods nominated to them are counted.
    pub fn schedule_with(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nominated: &NominatedRejections,
        rotation: &mut Rotation,
        tie_break: &mut SimRng,
        work: &mut CycleWork,
    ) -> CycleResult {
        self.schedule_traced(pod, snapshot, nominated, rotation, tie_break, work, None)
    }

    /// Runs one scheduling cycle like [`Profile::schedule_with`], writing its steps into
    /// `trace` when given one. The trace only watches: the cycle decides the same either way.
    // The cycle's inputs and what carries over between cycles; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub fn schedule_traced(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nominated: &NominatedRejections,
        rotation: &mut Rotation,
        tie_break: &mut SimRng,
        work: &mut CycleWork,
        trace: Option<&mut CycleTrace>,
    ) -> CycleResult {
        let mut state = CycleState::default();
        let result = self.select_node(
            &mut state, pod, snapshot, nominated, rotation, tie_break, work, trace,
        );
        match result {
            CycleResult::Scheduled {
                node,
                evaluated,
                feasible,
                ..
            } => match self.run_reserve(&mut state, pod, snapshot, &node) {
                Ok(annotations) => CycleResult::Scheduled {
                    node,
                    evaluated,
                    feasible,
                    annotations,
                },
                Err(status) => CycleResult::Error(status),
            },
            other => other,
        }
    }

    /// Reserve on `node`; on a failure, Unreserve on every Reserve plugin in reverse order (as
    /// upstream's `RunReservePluginsUnreserve`) and the failing status.
    fn run_reserve(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        node: &str,
    ) -> Result<crate::api::meta::Annotations, Status> {
        for &i in &self.reserve {
            let plugin = &self.plugins[i];
            let mut status = plugin.reserve(state, pod, snapshot, node);
            if !status.is_success() {
                self.run_unreserve(pod, node);
                if status.plugin.is_empty() {
                    status.plugin = plugin.name();
                }
                return Err(status);
            }
        }
        Ok(state
            .read_mut::<BindingAnnotations>("BindingAnnotations")
            .map(|a| std::mem::take(&mut a.0))
            .unwrap_or_default())
    }

    /// Whether `change` may make `pod` schedulable, as upstream's `isPodWorthRequeuing`: a pod
    /// rejected by no plugin (an error) always may; otherwise some plugin that rejected it
    /// must have registered the event and its hint must say Queue.
    pub fn worth_requeuing(
        &self,
        rejectors: &BTreeSet<&'static str>,
        pod: &PodInfo,
        change: &EventChange,
    ) -> bool {
        if rejectors.is_empty() || change.event.resource == EventResource::WildCard {
            return true;
        }
        self.plugins.iter().any(|plugin| {
            rejectors.contains(plugin.name())
                && plugin
                    .events_to_register()
                    .iter()
                    .any(|registered| registered.hears(&change.event))
                && plugin.queueing_hint(pod, change) == QueueingHint::Queue
        })
    }

    /// Unreserve on every Reserve plugin, in reverse order: the pod will not stay on `node`.
    pub fn run_unreserve(&self, pod: &PodInfo, node: &str) {
        for &i in self.reserve.iter().rev() {
            self.plugins[i].unreserve(pod, node);
        }
    }

    /// PreFilter through host selection.
    // The cycle's inputs and what carries over between cycles; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn select_node(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nominated: &NominatedRejections,
        rotation: &mut Rotation,
        tie_break: &mut SimRng,
        work: &mut CycleWork,
        mut trace: Option<&mut CycleTrace>,
    ) -> CycleResult {
        if snapshot.is_empty() {
            return CycleResult::NoNodes;
        }
        if let Some(t) = trace.as_deref_mut() {
            t.num_nodes = snapshot.len();
            t.start_node_index = rotation.next_start_node_index % snapshot.len();
        }
        let pre_filtered = self.run_pre_filter(state, pod, snapshot);
        if let Some(t) = trace.as_deref_mut() {
            match &pre_filtered {
                Ok(p) => {
                    t.allowed.clone_from(&p.allowed);
                    t.narrowed_by.clone_from(&p.narrowed_by);
                    t.nodes_to_find =
                        self.nodes_to_find(p.allowed.as_ref().map_or(snapshot.len(), Vec::len));
                }
                Err(status) => t.pre_filter = Some(status.clone()),
            }
        }
        let PreFiltered {
            allowed,
            narrowed_by,
        } = match pre_filtered {
            Ok(a) => a,
            Err(status) if status.code == Code::Error => return CycleResult::Error(status),
            Err(status) => {
                return CycleResult::Unschedulable(Diagnosis {
                    pre_filter: Some(status),
                    ..Diagnosis::default()
                });
            }
        };
        // The node this pod is nominated to (by an earlier preemption) is tried first, alone.
        let own_node = &pod.pod.status.nominated_node_name;
        if !own_node.is_empty()
            && let Some(node) = snapshot.get(own_node)
            && allowed.as_ref().is_none_or(|a| a.contains(own_node))
        {
            work.nodes_filtered += 1;
            let status = match nominated.get(own_node) {
                Some(rejection) => rejection.clone(),
                None => self.run_filters(state, pod, node),
            };
            let fits = status.is_success();
            if let Some(t) = trace.as_deref_mut() {
                t.nominated_node = Some((own_node.clone(), status));
                if fits {
                    t.selected = Some(own_node.clone());
                }
            }
            if fits {
                return CycleResult::Scheduled {
                    node: own_node.clone(),
                    evaluated: 1,
                    feasible: 1,
                    annotations: Default::default(),
                };
            }
        }
        let decided = Decided {
            allowed: allowed.as_deref(),
            nominated,
        };
        let start = rotation.next_start_node_index % snapshot.len();
        let (feasible, mut diagnosis, processed) =
            self.find_feasible(state, pod, snapshot, decided, rotation, work);
        if let Some(t) = trace.as_deref_mut() {
            self.trace_filtering(t, state, pod, snapshot, decided, (start, processed));
            t.feasible = feasible.iter().map(|n| n.name().to_string()).collect();
            t.filtered = filtering_order(snapshot, start, decided.allowed)
                .take(processed)
                .map(|node| {
                    let status = diagnosis
                        .node_statuses
                        .get(node.name())
                        .cloned()
                        .unwrap_or_else(Status::success);
                    (node.name().to_string(), status)
                })
                .collect();
        }
        if feasible.is_empty() {
            if !narrowed_by.is_empty() {
                diagnosis.absent = Some(Status::unresolvable(
                    "",
                    format!(
                        "node(s) didn't satisfy plugin(s) [{}]",
                        narrowed_by.join(" ")
                    ),
                ));
            }
            return CycleResult::Unschedulable(diagnosis);
        }
        if feasible.len() == 1 {
            if let Some(t) = trace {
                t.selected = Some(feasible[0].name().to_string());
            }
            return CycleResult::Scheduled {
                node: feasible[0].name().to_string(),
                evaluated: processed,
                feasible: 1,
                annotations: Default::default(),
            };
        }
        let totals =
            match self.prioritize(state, pod, &feasible, snapshot, work, trace.as_deref_mut()) {
                Ok(t) => t,
                Err(status) => return CycleResult::Error(status),
            };
        let chosen = select_host(&totals, tie_break);
        if let Some(t) = trace {
            t.finish_scoring(&totals);
            t.selected = Some(feasible[chosen].name().to_string());
        }
        CycleResult::Scheduled {
            node: feasible[chosen].name().to_string(),
            evaluated: processed,
            feasible: feasible.len(),
            annotations: Default::default(),
        }
    }

    /// Writes into `trace` the verdict of the filters on the nodes the cycle did not reach
    /// (`reached`: where filtering started, and how many nodes it filtered), and on those
    /// PreFilter left out. Only an explanation pays for this; the cycle's decision is made.
    fn trace_filtering(
        &self,
        trace: &mut CycleTrace,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        decided: Decided<'_>,
        reached: (usize, usize),
    ) {
        let (start, processed) = reached;
        trace.not_reached = filtering_order(snapshot, start, decided.allowed)
            .skip(processed)
            .map(|node| {
                let status = match decided.nominated.get(node.name()) {
                    Some(rejection) => rejection.clone(),
                    None => self.run_filters(state, pod, node),
                };
                (node.name().to_string(), status)
            })
            .collect();
        if let Some(allowed) = decided.allowed {
            let plugins = trace.narrowed_by.join(" ");
            let plugin = trace.narrowed_by.last().copied().unwrap_or("");
            let left_out = filtering_order(snapshot, start, None)
                .filter(|node| {
                    allowed
                        .binary_search_by(|n| n.as_str().cmp(node.name()))
                        .is_err()
                })
                .map(|node| {
                    let reason = format!("node(s) didn't satisfy plugin(s) [{plugins}]");
                    (
                        node.name().to_string(),
                        Status::unresolvable(plugin, reason),
                    )
                });
            trace.not_reached.extend(left_out);
        }
    }

    /// PreFilter over every plugin (upstream `RunPreFilterPlugins`): a rejection that no
    /// node can get past (UnschedulableAndUnresolvable) or an error ends it at once; an
    /// Unschedulable rejection is kept while the other plugins still run; the node sets
    /// plugins narrow the search to are intersected, and an empty intersection rejects the pod.
    pub(crate) fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<PreFiltered, Status> {
        let mut pre_filtered = PreFiltered::default();
        let mut rejection: Option<Status> = None;
        for &i in &self.pre_filter {
            let plugin = &self.plugins[i];
            match plugin.pre_filter(state, pod, snapshot) {
                Ok(PreFilterResult::AllNodes) => {}
                Ok(PreFilterResult::Nodes(mut names)) => {
                    names.sort();
                    pre_filtered.narrowed_by.push(plugin.name());
                    pre_filtered.allowed = Some(match pre_filtered.allowed.take() {
                        None => names,
                        Some(prev) => prev
                            .into_iter()
                            .filter(|n| names.binary_search(n).is_ok())
                            .collect(),
                    });
                    if pre_filtered.allowed.as_ref().is_some_and(Vec::is_empty) {
                        return Err(no_node_satisfies(&pre_filtered.narrowed_by));
                    }
                }
                Err(status) if status.is_skip() => state.skip_filter.insert(i),
                Err(mut status) => {
                    if status.plugin.is_empty() {
                        status.plugin = plugin.name();
                    }
                    if status.code == Code::Unschedulable {
                        rejection.get_or_insert(status);
                    } else {
                        return Err(status);
                    }
                }
            }
        }
        match rejection {
            Some(status) => Err(status),
            None => Ok(pre_filtered),
        }
    }

    /// Runs the PreFilter plugins for `pod` over `snapshot` into a fresh [`CycleState`], for
    /// callers outside the cycle (preemption's dry runs) that then call
    /// [`Profile::run_filters`]. The node set a PreFilter may narrow to is not returned; a
    /// rejection (or error) is.
    pub fn run_pre_filter_for(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<CycleState, Status> {
        let mut state = CycleState::default();
        self.run_pre_filter(&mut state, pod, snapshot)?;
        Ok(state)
    }

    /// Runs every Filter plugin on one node; the first rejection wins.
    pub fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for &i in &self.filter {
            if state.skip_filter.contains(i) {
                continue;
            }
            let plugin = &self.plugins[i];
            let mut status = plugin.filter(state, pod, node);
            if !status.is_success() {
                if status.plugin.is_empty() {
                    status.plugin = plugin.name();
                }
                return status;
            }
        }
        Status::success()
    }

    /// How many feasible nodes a cycle looks for among `candidates` nodes: one when the
    /// profile has no score plugin to tell several apart.
    fn nodes_to_find(&self, candidates: usize) -> usize {
        if self.score.is_empty() {
            1
        } else {
            num_feasible_nodes_to_find(self.percentage_of_nodes_to_score, candidates)
        }
    }

    /// Filters nodes from the rotating start until enough feasible ones are found.
    ///
    /// Nodes go through the filters in batches, each plugin over the whole batch in turn
    /// ([`Plugin::filter_nodes`]), rather than one node at a time through every plugin: a
    /// plugin then does its per-cycle work once per batch, and the framework makes one call
    /// per plugin rather than one per plugin and node. The outcome is the node-at-a-time one:
    /// a batch holds no more nodes than feasible ones are still wanted, so one at a time would
    /// also have examined every node of it, and each node still meets the plugins in order
    /// and is rejected by the first that rejects it. Batches are also kept small enough
    /// ([`NODE_BATCH`]) that a batch's nodes, loaded into the cache by the first plugin,
    /// are still there for the others.
    fn find_feasible<'s>(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &'s Snapshot,
        decided: Decided<'_>,
        rotation: &mut Rotation,
        work: &mut CycleWork,
    ) -> (Vec<&'s NodeInfo>, Diagnosis, usize) {
        let Decided { allowed, nominated } = decided;
        let nodes = snapshot.nodes();
        let to_find = self.nodes_to_find(allowed.map_or(nodes.len(), <[String]>::len));
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(to_find.min(nodes.len()));
        let mut diagnosis = Diagnosis::default();
        let mut processed = 0;
        let start = rotation.next_start_node_index % nodes.len();
        // From `start` round to `start - 1`, as two slices rather than `(start + i) % len`:
        // a division per node costs more than the cheap filters that follow it.
        let (before, from_start) = nodes.split_at(start);
        let mut candidates = Candidates {
            parts: [from_start, before],
            allowed,
        };
        let mut batch: Vec<&NodeInfo> = Vec::with_capacity(to_find.min(NODE_BATCH));
        let mut rejected: Vec<(&NodeInfo, Status)> = Vec::new();
        while feasible.len() < to_find {
            batch.clear();
            candidates.fill(&mut batch, (to_find - feasible.len()).min(NODE_BATCH));
            if batch.is_empty() {
                break;
            }
            processed += batch.len();
            if !nominated.is_empty() {
                retain_feasible(&mut batch, &mut rejected, |node| {
                    nominated.get(node.name()).cloned()
                });
                diagnosis.record(&mut rejected, "");
            }
            for &i in &self.filter {
                if batch.is_empty() {
                    break;
                }
                if state.skip_filter.contains(i) {
                    continue;
                }
                let plugin = &self.plugins[i];
                plugin.filter_nodes(state, pod, &mut batch, &mut rejected);
                diagnosis.record(&mut rejected, plugin.name());
            }
            feasible.append(&mut batch);
        }
        work.nodes_filtered += processed;
        rotation.next_start_node_index = (start + processed) % nodes.len();
        (feasible, diagnosis, processed)
    }

    /// PreScore, Score, NormalizeScore and weights; returns each feasible node's total.
    fn prioritize(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        feasible: &[&NodeInfo],
        snapshot: &Snapshot,
        work: &mut CycleWork,
        mut trace: Option<&mut CycleTrace>,
    ) -> Result<Vec<i64>, Status> {
        for &i in &self.pre_score {
            let plugin = &self.plugins[i];
            let status = plugin.pre_score(state, pod, feasible, snapshot);
            if status.is_skip() {
                state.skip_score.insert(i);
            } else if !status.is_success() {
                return Err(status);
            }
        }
        work.nodes_scored += feasible.len();
        let active: Vec<&WeightedPlugin> = self
            .score
            .iter()
            .filter(|w| !state.skip_score.contains(w.plugin))
            .collect();
        if let Some(t) = trace.as_deref_mut() {
            t.start_scoring(self.score.iter().map(|w| {
                let plugin = self.plugins[w.plugin].name();
                (plugin, w.weight, state.skip_score.contains(w.plugin))
            }));
        }
        let n = feasible.len();
        let mut totals = vec![0i64; n];
        // Each active plugin's first score outside 0..=100 (after normalization), in node order.
        let mut invalid: Vec<Option<i64>> = vec![None; active.len()];
        // A plugin with NormalizeScore needs every node's raw score before any is final: a
        // row of `n` each. The others' scores are final as they come, and go into the totals
        // straight from a batch-sized buffer.
        let normalizing: Vec<usize> = (0..active.len())
            .filter(|&a| self.plugins[active[a].plugin].has_normalize())
            .collect();
        let mut rows = vec![0i64; n * normalizing.len()];
        let mut batch_scores = [0i64; NODE_BATCH];
        // Nodes are scored a batch at a time, every plugin over the batch in turn (as
        // kube-scheduler runs every plugin on a node before the next), so that a batch's
        // nodes, loaded into the cache by the first plugin, are still there for the others.
        for start in (0..n).step_by(NODE_BATCH) {
            let end = (start + NODE_BATCH).min(n);
            let nodes = &feasible[start..end];
            let mut row = 0;
            for (a, weighted) in active.iter().enumerate() {
                let plugin = &self.plugins[weighted.plugin];
                if plugin.has_normalize() {
                    let scores = &mut rows[row * n + start..row * n + end];
                    plugin.score_nodes(state, pod, nodes, scores)?;
                    row += 1;
                } else {
                    let scores = &mut batch_scores[..end - start];
                    plugin.score_nodes(state, pod, nodes, scores)?;
                    if let Some(traced) = trace.as_deref_mut().and_then(|t| t.active_scores(a)) {
                        traced.raw[start..end].copy_from_slice(scores);
                        traced.normalized[start..end].copy_from_slice(scores);
                    }
                    add_weighted(
                        &mut totals[start..end],
                        scores,
                        weighted.weight,
                        &mut invalid[a],
                    );
                }
            }
        }
        for (&a, scores) in normalizing.iter().zip(rows.chunks_exact_mut(n.max(1))) {
            let plugin = &self.plugins[active[a].plugin];
            let mut traced = trace.as_deref_mut().and_then(|t| t.active_scores(a));
            if let Some(traced) = traced.as_deref_mut() {
                traced.raw.copy_from_slice(scores);
            }
            let status = plugin.normalize(state, pod, scores);
            if let Some(traced) = traced {
                traced.normalized.copy_from_slice(scores);
            }
            if !status.is_success() {
                return Err(status);
            }
            add_weighted(&mut totals, scores, active[a].weight, &mut invalid[a]);
        }
        // As upstream, an out-of-range score is an error only once every plugin has scored and
        // normalized; the first such plugin in profile order is named. The totals, which such
        // a score may have wrapped, are then thrown away.
        if let Some((a, score)) = invalid
            .iter()
            .enumerate()
            .find_map(|(a, bad)| bad.map(|score| (a, score)))
        {
            let name = self.plugins[active[a].plugin].name();
            return Err(Status::error(
                name,
                format!("plugin {name} returned an invalid score {score}"),
            ));
        }
        Ok(totals)
    }
}

/// Adds `scores` × `weight` to `totals` and, if `first_invalid` is still `None`, records there
/// the first score outside 0..=100.
///
/// The range check rides along with the sum, without a comparison per node: for a score s in
/// 0..=100 both s and s + 27 are in 0..=127, so `s | (s + 27)` has no bit above the lowest 7,
/// while a score above 100 makes s + 27 at least 128, and one below 0 sets s's high bits. The
/// first bad score is looked for only when there is one. A weight of 1, the most common,
/// needs no multiplication.
fn add_weighted(totals: &mut [i64], scores: &[i64], weight: i64, first_invalid: &mut Option<i64>) {
    const _: () = assert!(MIN_NODE_SCORE == 0 && MAX_NODE_SCORE == 100);
    let range_bits = |s: i64| s | s.wrapping_add(27);
    let mut bits = 0;
    if weight == 1 {
        for (total, &s) in totals.iter_mut().zip(scores) {
            bits |= range_bits(s);
            *total = total.wrapping_add(s);
        }
    } else {
        for (total, &s) in totals.iter_mut().zip(scores) {
            bits |= range_bits(s);
            *total = total.wrapping_add(s.wrapping_mul(weight));
        }
    }
    if bits & !127 != 0 && first_invalid.is_none() {
        *first_invalid = scores
            .iter()
            .copied()
            .find(|s| !(MIN_NODE_SCORE..=MAX_NODE_SCORE).contains(s));
    }
}

/// The index of the highest total; ties are broken uniformly at random. kube-scheduler's
/// `selectHost` draws once per tied node (reservoir sampling); drawing once over the number of
/// tied nodes gives the same uniform choice with one random number per cycle rather than
/// hundreds when every node scores alike, as on an empty cluster.
pub fn select_host(totals: &[i64], rng: &mut SimRng) -> usize {
    // Three simple passes (the best, how many reach it, the chosen one among them) rather
    // than one with a three-way comparison per node: the first two have no branch per node.
    let Some(&best) = totals.iter().max() else {
        return 0;
    };
    let ties = totals.iter().filter(|&&t| t == best).count();
    let nth = if ties > 1 {
        rng.random_range(0..ties as u64) as usize
    } else {
        0
    };
    totals
        .iter()
        .enumerate()
        .filter(|&(_, &t)| t == best)
        .nth(nth)
        .map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pod::Pod;

    #[test]
    fn feasible_node_count_follows_the_adaptive_formula() {
        // Under 100 nodes: all. 1000 nodes: 50 − 1000/125 = 42 % → 420. 5000 nodes: 50 − 40 =
        // 10 % → 500. 10000 nodes: 50 − 80 < 5 → 5 % → 500. 150 nodes: 49 % → 73, raised to 100.
        assert_eq!(num_feasible_nodes_to_find(0, 99), 99);
        assert_eq!(num_feasible_nodes_to_find(0, 100), 100);
        assert_eq!(num_feasible_nodes_to_find(0, 1000), 420);
        assert_eq!(num_feasible_nodes_to_find(0, 5000), 500);
        assert_eq!(num_feasible_nodes_to_find(0, 10000), 500);
        assert_eq!(num_feasible_nodes_to_find(0, 150), 100);
        // An explicit percentage: 30 % of 1000 = 300; 100 % = all.
        assert_eq!(num_feasible_nodes_to_find(30, 1000), 300);
        assert_eq!(num_feasible_nodes_to_find(100, 1000), 1000);
    }

    #[test]
    fn default_normalize_scales_by_the_maximum() {
        // max 50: 10 → 100·10/50 = 20, 25 → 50, 50 → 100.
        let mut s = vec![10, 25, 50];
        default_normalize_score(100, false, &mut s);
        assert_eq!(s, vec![20, 50, 100]);
        let mut r = vec![10, 25, 50];
        default_normalize_score(100, true, &mut r);
        assert_eq!(r, vec![80, 50, 0]);
        let mut zeros = vec![0, 0];
        default_normalize_score(100, true, &mut zeros);
        assert_eq!(zeros, vec![100, 100]);
        // A maximum of 0 with a negative score below it: reversed, every node gets 100 (as
        // upstream, which tests only the maximum); not reversed, nothing changes.
        let mut r = vec![-3, 0];
        default_normalize_score(100, true, &mut r);
        assert_eq!(r, vec![100, 100]);
        let mut s = vec![-3, 0];
        default_normalize_score(100, false, &mut s);
        assert_eq!(s, vec![-3, 0]);
    }

    #[test]
    fn ties_are_broken_uniformly() {
        let mut rng = crate::sim::rng::stream(1, "test/tie-break");
        let totals = [5, 9, 9, 3, 9];
        let mut counts = [0u32; 5];
        for _ in 0..3000 {
            counts[select_host(&totals, &mut rng)] += 1;
        }
        // Only indices 1, 2 and 4 hold the maximum; each should get about 1000 of 3000.
        assert_eq!((counts[0], counts[3]), (0, 0));
        for i in [1, 2, 4] {
            assert!((850..1150).contains(&counts[i]), "{counts:?}");
        }
    }

    /// Scores each node by the number in its name ("n-1" → −1, "n101" → 101).
    struct NameScore;

    impl Plugin for NameScore {
        fn name(&self) -> &'static str {
            "NameScore"
        }

        fn points(&self) -> ExtensionPoints {
            ExtensionPoints {
                score: true,
                ..ExtensionPoints::default()
            }
        }

        fn score(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
            Ok(node.name()[1..].parse().unwrap_or(0))
        }
    }

    fn cycle_over(names: &[&str]) -> CycleResult {
        use crate::api::node::Node;
        use std::sync::Arc;
        let nodes = names
            .iter()
            .map(|name| {
                let mut n = Node::default();
                n.metadata.name = (*name).to_string();
                NodeInfo::new(Arc::new(n))
            })
            .collect();
        let mut snapshot = Snapshot::new(nodes);
        snapshot.refresh();
        let profile = Profile {
            name: "default-scheduler".into(),
            plugins: vec![Box::new(NameScore)],
            pre_filter: vec![],
            filter: vec![],
            pre_score: vec![],
            score: vec![WeightedPlugin {
                plugin: 0,
                weight: 2,
            }],
            percentage_of_nodes_to_score: 0,
            reserve: vec![],
        };
        let pod = PodInfo::new(Arc::new(Pod::default()));
        profile.schedule(
            &pod,
            &snapshot,
            &mut Rotation::default(),
            &mut crate::sim::rng::stream(1, "test/tie-break"),
            &mut CycleWork::default(),
        )
    }

    #[test]
    fn scores_outside_0_to_100_fail_the_cycle() {
        // 7, 100 and 0 are valid: n100 wins (2·100 against 2·7 and 0).
        match cycle_over(&["n7", "n100", "n0"]) {
            CycleResult::Scheduled { node, .. } => assert_eq!(node, "n100"),
            other => panic!("{other:?}"),
        }
        // The first score out of range, in node order, is named: 101, and −1 (which, read
        // unsigned, is far above 100).
        for (names, bad) in [
            (["n7", "n101", "n-1"], "101"),
            (["n7", "n-1", "n101"], "-1"),
        ] {
            match cycle_over(&names) {
                CycleResult::Error(status) => assert_eq!(
                    status.reasons,
                    [format!("plugin NameScore returned an invalid score {bad}")]
                ),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn weighted_sums_flag_exactly_the_scores_outside_0_to_100() {
        // Weight 2 over 0 and 100: totals 5 + 0 and 5 + 200, nothing flagged.
        let mut totals = [5, 5];
        let mut first_invalid = None;
        add_weighted(&mut totals, &[0, 100], 2, &mut first_invalid);
        assert_eq!((totals, first_invalid), ([5, 205], None));
        // Each bad score is caught, including 101..=127 (whose s + 27 first reaches bit 7)
        // and the extremes, where s + 27 wraps.
        for bad in [101, 127, 128, -1, -27, -28, i64::MIN, i64::MAX] {
            let mut first_invalid = None;
            add_weighted(&mut [0, 0, 0], &[50, bad, 200], 1, &mut first_invalid);
            assert_eq!(first_invalid, Some(bad), "{bad}");
        }
        // The first bad score of a plugin stays recorded across later batches.
        let mut first_invalid = Some(-5);
        add_weighted(&mut [0], &[300], 1, &mut first_invalid);
        assert_eq!(first_invalid, Some(-5));
    }

    #[test]
    fn diagnosis_words_the_fit_error_like_kube_scheduler() {
        let mut d = Diagnosis::default();
        for (node, reason) in [
            ("a", "Insufficient cpu"),
            ("b", "Insufficient cpu"),
            ("c", "node(s) were unschedulable"),
        ] {
            d.node_statuses
                .insert(node.into(), Status::unschedulable("X", reason));
        }
        // upstream sorts the whole "<count> <reason>" strings: "1 node(s)…" < "2 Insufficient…".
        assert_eq!(
            d.message(5),
            "0/5 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
        );
        // As strings, "10 …" sorts before "2 …"; a node with two reasons counts in both.
        let mut d = Diagnosis::default();
        for i in 0..10 {
            d.node_statuses.insert(
                format!("n{i}"),
                Status::unschedulable("X", "node(s) didn't match Pod's node affinity/selector"),
            );
        }
        let both = Status {
            code: Code::Unschedulable,
            plugin: "NodeResourcesFit",
            reasons: vec!["Insufficient cpu".into(), "Insufficient memory".into()],
        };
        d.node_statuses.insert("m0".into(), both.clone());
        d.node_statuses.insert("m1".into(), both);
        // Nodes PreFilter left out (here 3 of 15) count under the absent status.
        d.absent = Some(Status::unresolvable(
            "",
            "node(s) didn't satisfy plugin(s) [NodeAffinity]",
        ));
        d.post_filter_msg = "preemption: not eligible due to preemptionPolicy=Never.".into();
        assert_eq!(
            d.message(15),
            "0/15 nodes are available: 10 node(s) didn't match Pod's node affinity/selector, \
             2 Insufficient cpu, 2 Insufficient memory, \
             3 node(s) didn't satisfy plugin(s) [NodeAffinity]. \
             preemption: not eligible due to preemptionPolicy=Never."
        );
        // A PreFilter rejection is the whole story: no per-node counts.
        let d = Diagnosis {
            pre_filter: Some(Status::unresolvable("X", "pod affinity terms conflict")),
            ..Diagnosis::default()
        };
        assert_eq!(
            d.message(3),
            "0/3 nodes are available: pod affinity terms conflict."
        );
        // No reason at all: the bare prefix, as upstream prints it.
        assert_eq!(Diagnosis::default().message(0), "0/0 nodes are available:");
    }
}
