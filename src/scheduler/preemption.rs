//! DefaultPreemption: what kube-scheduler's PostFilter does when a cycle finds no node — pick a
//! node where evicting lower-priority pods lets the pod fit, and the fewest, least important
//! pods to evict there.
//!
//! Upstream: `pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go`
//! (eligibility, `SelectVictimsOnNode`, PDB grouping, candidate count) and
//! `pkg/scheduler/framework/preemption/preemption.go` (`Preempt`, `findCandidates`,
//! `DryRunPreemption`, `pickOneNodeForPreemption`, the lower-priority nominated pods), plus
//! `RunFilterPluginsWithNominatedPods` of `framework/runtime/framework.go`.
//!
//! [`preempt`] is a pure function of the scheduler's view; it decides and the caller acts
//! (marks the victims `DisruptionTarget`, deletes them, clears the nominations, sets the pod's
//! `nominatedNodeName`).
//!
//! Where kubesim differs, and why:
//!
//! * Plugins have no PreFilter `AddPod` / `RemovePod` extensions. Instead, each dry-run step
//!   changes the node in the scheduler's own snapshot (borrowed for the preemption and put back
//!   as it was after each node, so nothing is copied) and runs PreFilter again on it
//!   ([`Profile::run_pre_filter_for`]); the state is what the extensions would have produced.
//! * Nodes are dry-run one at a time in node-tree order from the random offset, where upstream
//!   checks them in parallel and lists the potential nodes in map order; the stopping rule (at
//!   least one candidate without PDB violations, and enough candidates in all) is the same.
//! * A pod that has not started counts as started at its creation time; upstream takes the
//!   wall clock's "now" there. Equally important pods keep their order on the node (upstream's
//!   sort is unstable), and the last tie of node selection goes to the first candidate in
//!   dry-run order (upstream: whichever the map yields first).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use rand::RngExt;
use serde::Deserialize;

use super::framework::{
    Code, CycleState, CycleWork, Diagnosis, NominatedRejections, Profile, Status,
};
use super::node_info::{PodInfo, Snapshot};
use crate::api::Uid;
use crate::api::labels::LabelSelector;
use crate::api::pdb::PodDisruptionBudget;
use crate::sim::{SimRng, SimTime};

/// The plugin's name, on the statuses it writes.
pub const NAME: &str = "DefaultPreemption";
/// `spec.preemptionPolicy` that forbids a pod to preempt.
pub const PREEMPT_NEVER: &str = "Never";
/// The condition the scheduler sets on a victim before deleting it.
pub const DISRUPTION_TARGET: &str = "DisruptionTarget";
/// The reason of that condition when the scheduler preempted the pod.
pub const REASON_PREEMPTION_BY_SCHEDULER: &str = "PreemptionByScheduler";

/// Why a pod may not preempt: its policy is `Never`.
pub const MSG_POLICY_NEVER: &str = "not eligible due to preemptionPolicy=Never.";
/// Why a pod may not preempt: victims of its earlier preemption are still terminating.
pub const MSG_TERMINATING_ON_NOMINATED: &str =
    "not eligible due to a terminating pod on the nominated node.";
/// The status of a node with no pod of lower priority.
pub const MSG_NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// The status of every node preemption did not (or could not usefully) look at.
pub const MSG_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// `DefaultPreemptionArgs` (kubescheduler.config.k8s.io/v1): how many candidate nodes a dry
/// run looks for — `max(N × percentage / 100, absolute)`, at most N, for N potential nodes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PreemptionArgs {
    /// Share of the potential nodes to find as candidates (0–100; upstream default 10).
    pub min_candidate_nodes_percentage: u32,
    /// Fewest candidates to find (upstream default 100).
    pub min_candidate_nodes_absolute: u32,
}

impl Default for PreemptionArgs {
    fn default() -> Self {
        PreemptionArgs {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

impl PreemptionArgs {
    /// Checks the args as upstream's validation does; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_candidate_nodes_percentage > 100 {
            return Err(format!(
                "minCandidateNodesPercentage: {}: not in valid range [0, 100]",
                self.min_candidate_nodes_percentage
            ));
        }
        if self.min_candidate_nodes_percentage == 0 && self.min_candidate_nodes_absolute == 0 {
            return Err(
                "minCandidateNodesPercentage, minCandidateNodesAbsolute: both cannot be zero"
                    .to_string(),
            );
        }
        Ok(())
    }

    /// How many candidates to find among `potential` nodes (upstream's
    /// `calculateNumCandidates`).
    pub fn num_candidates(&self, potential: usize) -> usize {
        let by_share = potential.saturating_mul(self.min_candidate_nodes_percentage as usize) / 100;
        by_share
            .max(self.min_candidate_nodes_absolute as usize)
            .min(potential)
    }
}

/// What preemption reads of a PodDisruptionBudget (kube-scheduler's own budget informer is
/// the lister upstream's `getPodDisruptionBudgets` reads).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodDisruptionBudgetView {
    /// The PDB's namespace; it only covers pods there.
    pub namespace: String,
    /// `spec.selector`. An empty or invalid selector covers no pod (as upstream).
    pub selector: LabelSelector,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i32,
    /// Names of the pods in `status.disruptedPods` (already counted by the apiserver, so
    /// evicting them again does not use up the budget).
    pub disrupted_pods: Vec<String>,
}

impl PodDisruptionBudgetView {
    /// The view of `pdb`: an absent selector reads as the empty one, which covers no pod here.
    pub fn of(pdb: &PodDisruptionBudget) -> Self {
        PodDisruptionBudgetView {
            namespace: pdb.metadata.namespace.clone(),
            selector: pdb.spec.selector.clone().unwrap_or_default(),
            disruptions_allowed: pdb.status.disruptions_allowed,
            disrupted_pods: pdb.status.disrupted_pods.keys().cloned().collect(),
        }
    }
}

/// Pods the scheduler has nominated to nodes (set by earlier preemptions and not yet bound),
/// as kube-scheduler's pod nominator keeps them.
#[derive(Clone, Debug, Default)]
pub struct NominatedPods {
    by_node: BTreeMap<String, Vec<Arc<PodInfo>>>,
    node_of: BTreeMap<Uid, String>,
}

impl NominatedPods {
    /// No nominations.
    pub fn new() -> Self {
        NominatedPods::default()
    }

    /// Records `pod` as nominated to `node` (moving it if it was nominated elsewhere; an
    /// empty `node` just removes it).
    pub fn set(&mut self, node: &str, pod: Arc<PodInfo>) {
        self.remove(pod.uid());
        if node.is_empty() {
            return;
        }
        self.node_of.insert(pod.uid(), node.to_string());
        self.by_node.entry(node.to_string()).or_default().push(pod);
    }

    /// Forgets the nomination of the pod with `uid`; returns the pod if it had one.
    pub fn remove(&mut self, uid: Uid) -> Option<Arc<PodInfo>> {
        let node = self.node_of.remove(&uid)?;
        let list = self.by_node.get_mut(&node)?;
        let at = list.iter().position(|p| p.uid() == uid)?;
        let pod = list.remove(at);
        if list.is_empty() {
            self.by_node.remove(&node);
        }
        Some(pod)
    }

    /// The nodes pods are nominated to, by name.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.by_node.keys().map(String::as_str)
    }

    /// The pods nominated to `node`, in the order they were nominated.
    pub fn for_node(&self, node: &str) -> &[Arc<PodInfo>] {
        self.by_node.get(node).map_or(&[], Vec::as_slice)
    }

    /// The node the pod with `uid` is nominated to.
    pub fn node_of(&self, uid: Uid) -> Option<&str> {
        self.node_of.get(&uid).map(String::as_str)
    }

    /// How many pods are nominated.
    pub fn len(&self) -> usize {
        self.node_of.len()
    }

    /// Whether no pod is nominated.
    pub fn is_empty(&self) -> bool {
        self.node_of.is_empty()
    }
}

/// The cluster as preemption sees it.
pub struct PreemptionView<'a> {
    /// The scheduler's snapshot (bound and assumed pods; terminating pods have their
    /// `deletionTimestamp` set). The dry runs change a node's pods and put them back.
    pub snapshot: &'a mut Snapshot,
    /// Nominated pods.
    pub nominated: &'a NominatedPods,
    /// PodDisruptionBudgets.
    pub pdbs: &'a [PodDisruptionBudgetView],
}

/// The chosen preemption.
#[derive(Clone, Debug)]
pub struct Preemption {
    /// The node to nominate the pod to.
    pub node: String,
    /// The pods to evict there, most important first. Some may already be terminating
    /// (`deletionTimestamp` set); upstream sends no API call for those.
    pub victims: Vec<Arc<PodInfo>>,
    /// How many victims are evicted against their PodDisruptionBudget.
    pub pdb_violations: usize,
    /// Lower-priority pods nominated to the node, whose `nominatedNodeName` must be cleared
    /// (they may no longer fit there).
    pub clear_nominations: Vec<Arc<PodInfo>>,
}

/// What [`preempt`] decided.
#[derive(Clone, Debug)]
pub enum PreemptionOutcome {
    /// The pod may not preempt now ([`MSG_POLICY_NEVER`] or [`MSG_TERMINATING_ON_NOMINATED`]);
    /// leave its `nominatedNodeName` as it is.
    NotEligible(&'static str),
    /// Preemption cannot make room anywhere: clear the pod's `nominatedNodeName`. The
    /// diagnosis has a status for every node (its dry-run result, or [`MSG_NOT_HELPFUL`]) so
    /// [`Diagnosis::message`] words it as upstream's FitError does.
    NoCandidates(Diagnosis),
    /// Evict the victims on the node and nominate the pod there.
    Preempt(Preemption),
    /// A dry run failed with an error and no candidate was found; the pod is retried later.
    Error(Status),
}

/// Runs DefaultPreemption for `pod` after a cycle ended with `diagnosis`: eligibility, the
/// potential nodes (rejected as `Unschedulable`), dry runs from a random offset drawn from
/// `rng` until enough candidates are found, and the choice of one. Filter runs are counted in
/// `work.nodes_filtered`.
pub fn preempt(
    args: &PreemptionArgs,
    profile: &Profile,
    pod: &PodInfo,
    view: PreemptionView<'_>,
    diagnosis: &Diagnosis,
    rng: &mut SimRng,
    work: &mut CycleWork,
) -> PreemptionOutcome {
    if let Some(reason) = not_eligible(pod, view.snapshot, diagnosis) {
        return PreemptionOutcome::NotEligible(reason);
    }
    let snapshot = view.snapshot;
    if snapshot.is_empty() {
        return PreemptionOutcome::Error(Status::error(NAME, "no nodes available"));
    }
    // Positions in node-tree order: the dry runs change pods, never the order of nodes.
    let potential: Vec<usize> = snapshot
        .nodes()
        .iter()
        .enumerate()
        .filter(|(_, n)| status_code(diagnosis, n.name()) == Code::Unschedulable)
        .map(|(i, _)| i)
        .collect();
    let mut statuses: BTreeMap<String, Status> = BTreeMap::new();
    let mut errors: Vec<String> = Vec::new();
    let mut with_pdb_ok: Vec<Candidate> = Vec::new();
    let mut violating: Vec<Candidate> = Vec::new();
    if !potential.is_empty() {
        let n = potential.len();
        let offset = rng.random_range(0..n);
        let wanted = args.num_candidates(n);
        let mut dry = DryRun {
            profile,
            pod,
            working: snapshot,
            nominated: view.nominated,
            work,
        };
        for i in 0..n {
            let position = potential[(offset + i) % n];
            let node_name = dry.working.nodes()[position].name().to_string();
            let node = node_name.as_str();
            let status = match dry.select_victims(node, view.pdbs) {
                Ok(c) if c.victims.is_empty() => Status::error(
                    NAME,
                    format!("expected at least one victim pod on node {node:?}"),
                ),
                Ok(c) => {
                    let list = if c.pdb_violations == 0 {
                        &mut with_pdb_ok
                    } else {
                        &mut violating
                    };
                    if list.len() < wanted {
                        list.push(c);
                    }
                    if !with_pdb_ok.is_empty() && with_pdb_ok.len() + violating.len() >= wanted {
                        break;
                    }
                    continue;
                }
                Err(status) => status,
            };
            if status.code == Code::Error {
                errors.extend(status.reasons.iter().cloned());
            }
            statuses.insert(node.to_string(), status);
        }
    }
    let mut candidates = with_pdb_ok;
    candidates.append(&mut violating);
    if candidates.is_empty() {
        if !errors.is_empty() {
            return PreemptionOutcome::Error(Status {
                code: Code::Error,
                plugin: NAME,
                reasons: errors,
            });
        }
        // Every node not dry-run (not a potential node) is one preemption cannot help.
        return PreemptionOutcome::NoCandidates(Diagnosis {
            node_statuses: statuses,
            absent: Some(Status::unresolvable(NAME, MSG_NOT_HELPFUL)),
            ..Diagnosis::default()
        });
    }
    let chosen = candidates.swap_remove(pick_one(&candidates));
    let priority = pod.priority();
    let clear_nominations = view
        .nominated
        .for_node(&chosen.node)
        .iter()
        .filter(|p| p.priority() < priority)
        .cloned()
        .collect();
    PreemptionOutcome::Preempt(Preemption {
        node: chosen.node,
        victims: chosen.victims,
        pdb_violations: chosen.pdb_violations,
        clear_nominations,
    })
}

/// Runs the Filter plugins for `pod` on node `node` of `snapshot` as kube-scheduler's
/// `RunFilterPluginsWithNominatedPods` does. `state` is the PreFilter state for `snapshot` as
/// it is. If pods of at least the pod's priority are nominated to the node, the filters run
/// twice and both must pass: first with those pods added to the node
/// ([`filter_with_nominated_pods_added`]), then without them (with `state`), since they may
/// never arrive. Each pass counts one node in `work.nodes_filtered`.
pub fn run_filters_with_nominated_pods(
    profile: &Profile,
    state: &CycleState,
    pod: &PodInfo,
    snapshot: &mut Snapshot,
    node: &str,
    nominated: &NominatedPods,
    work: &mut CycleWork,
) -> Status {
    if let Some(status) =
        filter_with_nominated_pods_added(profile, pod, snapshot, node, nominated, work)
    {
        return status;
    }
    match snapshot.get(node) {
        Some(info) => {
            work.nodes_filtered += 1;
            profile.run_filters(state, pod, info)
        }
        None => Status::unresolvable(NAME, format!("node {node:?} not found")),
    }
}

/// The first pass of `RunFilterPluginsWithNominatedPods` on node `node`: the pods nominated
/// there with at least the pod's priority (not the pod itself, not pods already on the node)
/// are added to the node, PreFilter runs again over the snapshot with them (standing in for
/// the `AddPod` extensions), and the filters run on the node. Returns the rejecting status,
/// or `None` when no such pod is nominated there or the node passes. `snapshot` is changed
/// only for the pass and restored; the pass counts one node in `work.nodes_filtered`.
pub fn filter_with_nominated_pods_added(
    profile: &Profile,
    pod: &PodInfo,
    snapshot: &mut Snapshot,
    node: &str,
    nominated: &NominatedPods,
    work: &mut CycleWork,
) -> Option<Status> {
    let info = snapshot.get(node)?;
    let priority = pod.priority();
    let added: Vec<Arc<PodInfo>> = nominated
        .for_node(node)
        .iter()
        .filter(|p| {
            p.priority() >= priority
                && p.uid() != pod.uid()
                && !info.pods.iter().any(|q| q.uid() == p.uid())
        })
        .cloned()
        .collect();
    if added.is_empty() {
        return None;
    }
    for p in &added {
        snapshot.add_pod(node, Arc::clone(p));
    }
    let status = match profile.run_pre_filter_for(pod, snapshot) {
        Ok(with_nominated) => snapshot.get(node).map(|info| {
            work.nodes_filtered += 1;
            profile.run_filters(&with_nominated, pod, info)
        }),
        Err(status) => Some(status),
    };
    for p in &added {
        snapshot.remove_pod(node, p.uid());
    }
    status.filter(|s| !s.is_success())
}

/// The first pass of `RunFilterPluginsWithNominatedPods` for every node that pods of at
/// least `pod`'s priority are nominated to, as a regular cycle needs it
/// ([`Profile::schedule_with`]): the nodes that fail once those pods are counted.
pub fn nominated_rejections(
    profile: &Profile,
    pod: &PodInfo,
    snapshot: &mut Snapshot,
    nominated: &NominatedPods,
    work: &mut CycleWork,
) -> NominatedRejections {
    let rejected = nominated
        .nodes()
        .filter_map(|node| {
            filter_with_nominated_pods_added(profile, pod, snapshot, node, nominated, work)
                .map(|status| (node.to_string(), status))
        })
        .collect();
    NominatedRejections::new(rejected)
}

/// Why `pod` may not preempt now, if it may not (upstream's `PodEligibleToPreemptOthers`).
fn not_eligible(pod: &PodInfo, snapshot: &Snapshot, diagnosis: &Diagnosis) -> Option<&'static str> {
    let p = &pod.pod;
    if p.spec.preemption_policy.as_deref() == Some(PREEMPT_NEVER) {
        return Some(MSG_POLICY_NEVER);
    }
    let nominated = p.status.nominated_node_name.as_str();
    if nominated.is_empty() {
        return None;
    }
    // Filters now reject the nominated node for good: the pod may look elsewhere.
    if status_code(diagnosis, nominated) == Code::UnschedulableAndUnresolvable {
        return None;
    }
    let priority = pod.priority();
    let waiting = snapshot.get(nominated).is_some_and(|node| {
        node.pods
            .iter()
            .any(|v| v.priority() < priority && terminating_by_preemption(v))
    });
    waiting.then_some(MSG_TERMINATING_ON_NOMINATED)
}

/// Whether `pod` is being deleted because the scheduler preempted it: a deletion timestamp and
/// a `DisruptionTarget` condition that is `True` with reason `PreemptionByScheduler`.
pub fn terminating_by_preemption(pod: &PodInfo) -> bool {
    let p = &pod.pod;
    p.metadata.deletion_timestamp.is_some()
        && p.status
            .condition(DISRUPTION_TARGET)
            .is_some_and(|c| c.status == "True" && c.reason == REASON_PREEMPTION_BY_SCHEDULER)
}

/// The code of the status that rejected `node` in the cycle: its own, or the PreFilter
/// rejection that applied to every node, or — for a node the cycle did not report —
/// `UnschedulableAndUnresolvable`, as upstream's absent-node status.
fn status_code(diagnosis: &Diagnosis, node: &str) -> Code {
    match (diagnosis.node_statuses.get(node), &diagnosis.pre_filter) {
        (Some(status), _) => status.code,
        (None, Some(status)) => status.code,
        (None, None) => Code::UnschedulableAndUnresolvable,
    }
}

/// When a pod started: `status.startTime`, or its creation time if it has not started.
fn start_time(pod: &PodInfo) -> SimTime {
    pod.pod
        .status
        .start_time
        .unwrap_or(pod.pod.metadata.creation_timestamp)
}

/// Orders the more important pod first: higher priority, then earlier start (upstream's
/// `MoreImportantPod`).
fn by_importance(a: &Arc<PodInfo>, b: &Arc<PodInfo>) -> Ordering {
    b.priority()
        .cmp(&a.priority())
        .then_with(|| start_time(a).cmp(&start_time(b)))
}

/// A node where preemption makes room, with what it costs.
#[derive(Clone, Debug)]
struct Candidate {
    node: String,
    victims: Vec<Arc<PodInfo>>,
    pdb_violations: usize,
}

/// The dry runs of one preemption, on the scheduler's snapshot: each node's dry run changes
/// the node's pods and then restores them, so a dry run costs what the node holds, not what
/// the cluster holds.
struct DryRun<'a> {
    profile: &'a Profile,
    pod: &'a PodInfo,
    working: &'a mut Snapshot,
    nominated: &'a NominatedPods,
    work: &'a mut CycleWork,
}

impl DryRun<'_> {
    /// Upstream's `SelectVictimsOnNode`: the candidate on `node`, or the status saying why
    /// there is none.
    fn select_victims(
        &mut self,
        node: &str,
        pdbs: &[PodDisruptionBudgetView],
    ) -> Result<Candidate, Status> {
        let Some(info) = self.working.get(node) else {
            return Err(Status::unresolvable(
                NAME,
                format!("node {node:?} not found"),
            ));
        };
        let priority = self.pod.priority();
        let mut potential: Vec<Arc<PodInfo>> = info
            .pods
            .iter()
            .filter(|p| p.priority() < priority)
            .cloned()
            .collect();
        if potential.is_empty() {
            return Err(Status::unresolvable(NAME, MSG_NO_VICTIMS));
        }
        let original = info.pods.clone();
        for v in &potential {
            self.working.remove_pod(node, v.uid());
        }
        let result = match self.fits(node) {
            Err(status) => Err(status),
            Ok(()) => {
                potential.sort_by(by_importance);
                let (violating, others) = split_by_pdb(potential, pdbs);
                let regroup = !violating.is_empty() && !others.is_empty();
                let mut victims = Vec::new();
                let mut pdb_violations = 0;
                for v in violating {
                    if !self.reprieve(node, v, &mut victims) {
                        pdb_violations += 1;
                    }
                }
                for v in others {
                    self.reprieve(node, v, &mut victims);
                }
                if regroup {
                    victims.sort_by(by_importance);
                }
                Ok(Candidate {
                    node: node.to_string(),
                    victims,
                    pdb_violations,
                })
            }
        };
        // Put the node back as it was, pods in their original order.
        let present: Vec<Uid> = self
            .working
            .get(node)
            .map(|n| n.pods.iter().map(|p| p.uid()).collect())
            .unwrap_or_default();
        for uid in present {
            self.working.remove_pod(node, uid);
        }
        for p in original {
            self.working.add_pod(node, p);
        }
        result
    }

    /// Whether the pod passes the filters on `node` of `working` (PreFilter run afresh, with
    /// nominated pods); the rejecting status if not.
    fn fits(&mut self, node: &str) -> Result<(), Status> {
        let state = self.profile.run_pre_filter_for(self.pod, self.working)?;
        let status = run_filters_with_nominated_pods(
            self.profile,
            &state,
            self.pod,
            self.working,
            node,
            self.nominated,
            self.work,
        );
        if status.is_success() {
            Ok(())
        } else {
            Err(status)
        }
    }

    /// Puts `victim` back on `node`; if the pod no longer fits, takes it off again and records
    /// it as a victim. Returns whether it could stay.
    fn reprieve(
        &mut self,
        node: &str,
        victim: Arc<PodInfo>,
        victims: &mut Vec<Arc<PodInfo>>,
    ) -> bool {
        self.working.add_pod(node, Arc::clone(&victim));
        if self.fits(node).is_ok() {
            return true;
        }
        self.working.remove_pod(node, victim.uid());
        victims.push(victim);
        false
    }
}

/// Splits `pods` (kept in order) into those whose eviction would take a PDB below zero
/// disruptions allowed, and the others, using up each PDB's budget along the way (upstream's
/// `filterPodsWithPDBViolation`).
fn split_by_pdb(
    pods: Vec<Arc<PodInfo>>,
    pdbs: &[PodDisruptionBudgetView],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let usable: Vec<bool> = pdbs
        .iter()
        .map(|b| !b.selector.is_empty() && b.selector.validate().is_ok())
        .collect();
    let mut allowed: Vec<i32> = pdbs.iter().map(|b| b.disruptions_allowed).collect();
    let (mut violating, mut others) = (Vec::new(), Vec::new());
    for pod in pods {
        let meta = &pod.pod.metadata;
        let mut violated = false;
        if !meta.labels.is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.namespace != meta.namespace
                    || !usable[i]
                    || !pdb.selector.matches(&meta.labels)
                    || pdb.disrupted_pods.contains(&meta.name)
                {
                    continue;
                }
                allowed[i] = allowed[i].saturating_sub(1);
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(pod);
        } else {
            others.push(pod);
        }
    }
    (violating, others)
}

/// The index of the candidate to preempt on (upstream's `pickOneNodeForPreemption`): each
/// criterion in turn keeps the best-scoring candidates until one is left — (a) fewest PDB
/// violations, (b) lowest highest victim priority, (c) smallest sum of victim priorities (each
/// plus 2³¹), (d) fewest victims, (e) latest earliest start among the highest-priority
/// victims — and then (f) the first remaining one.
fn pick_one(candidates: &[Candidate]) -> usize {
    fn highest(c: &Candidate) -> i64 {
        c.victims
            .first()
            .map_or(i64::MIN, |v| i64::from(v.priority()))
    }
    let criteria: [fn(&Candidate) -> i64; 5] = [
        |c| -i64::try_from(c.pdb_violations).unwrap_or(i64::MAX),
        |c| -highest(c),
        |c| {
            -c.victims
                .iter()
                .map(|v| i64::from(v.priority()) + (1i64 << 31))
                .sum::<i64>()
        },
        |c| -i64::try_from(c.victims.len()).unwrap_or(i64::MAX),
        |c| {
            let top = highest(c);
            c.victims
                .iter()
                .filter(|v| i64::from(v.priority()) == top)
                .map(|v| start_time(v).as_nanos())
                .min()
                .map_or(i64::MIN, |t| i64::try_from(t).unwrap_or(i64::MAX))
        },
    ];
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for score in criteria {
        let best = remaining
            .iter()
            .map(|&i| score(&candidates[i]))
            .max()
            .unwrap_or(i64::MIN);
        remaining.retain(|&i| score(&candidates[i]) == best);
        if remaining.len() == 1 {
            break;
        }
    }
    remaining.first().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::labels::Labels;
    use crate::api::node::Node;
    use crate::api::pod::{Container, Pod, PodCondition};
    use crate::api::quantity::Quantity;
    use crate::api::resources::ResourceList;
    use crate::scheduler::framework::{
        CycleResult, ExtensionPoints, Plugin, PreFilterResult, Rotation,
    };
    use crate::scheduler::node_info::NodeInfo;
    use crate::sim::rng::stream;

    /// Stand-in for NodeResourcesFit's cpu check. PreFilter stores the pod's cpu request,
    /// which Filter needs (so a dry run without PreFilter state would fail with an error).
    struct CpuFit;

    struct CpuRequest(i64);

    impl Plugin for CpuFit {
        fn name(&self) -> &'static str {
            "CpuFit"
        }

        fn points(&self) -> ExtensionPoints {
            ExtensionPoints {
                pre_filter: true,
                filter: true,
                ..ExtensionPoints::default()
            }
        }

        fn pre_filter(
            &self,
            state: &mut CycleState,
            pod: &PodInfo,
            _snapshot: &Snapshot,
        ) -> Result<PreFilterResult, Status> {
            state.write("CpuFit", CpuRequest(pod.requests.milli_cpu));
            Ok(PreFilterResult::AllNodes)
        }

        fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
            let Some(CpuRequest(want)) = state.read::<CpuRequest>("CpuFit") else {
                return Status::error("CpuFit", "no PreFilter state");
            };
            let alloc = node.allocatable.milli_cpu;
            if *want > alloc {
                Status::unresolvable("CpuFit", "node too small")
            } else if *want > alloc - node.requested.milli_cpu {
                Status::unschedulable("CpuFit", "Insufficient cpu")
            } else {
                Status::success()
            }
        }
    }

    fn profile_with(plugin: Box<dyn Plugin>) -> Profile {
        Profile {
            name: "default-scheduler".into(),
            plugins: vec![plugin],
            pre_filter: vec![0],
            filter: vec![0],
            pre_score: vec![],
            score: vec![],
            reserve: vec![],
            percentage_of_nodes_to_score: 0,
        }
    }

    fn quantity(s: &str) -> Quantity {
        s.parse().expect("test quantity")
    }

    fn resources(pairs: &[(&str, &str)]) -> ResourceList {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), quantity(v)))
            .collect()
    }

    /// A pod: uid, priority, cpu request in millicores, started at `start` seconds.
    fn pod(name: &str, uid: u64, priority: i32, milli_cpu: i64, start: u64) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.metadata.namespace = "default".into();
        p.metadata.uid = Uid(uid);
        Arc::make_mut(&mut p.spec).priority = Some(priority);
        let mut c = Container::default();
        c.resources.requests = resources(&[("cpu", &format!("{milli_cpu}m"))]);
        Arc::make_mut(&mut p.spec).containers.push(c);
        p.status.start_time = Some(SimTime::from_nanos(start * 1_000_000_000));
        p
    }

    fn info(p: Pod) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    fn labelled(mut p: Pod, key: &str, value: &str) -> Pod {
        p.metadata.labels.insert(key.into(), value.into());
        p
    }

    fn node(name: &str, milli_cpu: i64, pods: Vec<Pod>) -> NodeInfo {
        let mut n = Node::default();
        n.metadata.name = name.into();
        n.status.allocatable = resources(&[
            ("cpu", &format!("{milli_cpu}m")),
            ("memory", "64Gi"),
            ("pods", "110"),
        ]);
        let mut ni = NodeInfo::new(Arc::new(n));
        for p in pods {
            ni.add_pod(info(p));
        }
        ni
    }

    fn pdb(key: &str, value: &str, allowed: i32) -> PodDisruptionBudgetView {
        let labels: Labels = [(key.to_string(), value.to_string())].into();
        PodDisruptionBudgetView {
            namespace: "default".into(),
            selector: LabelSelector::from_match_labels(labels),
            disruptions_allowed: allowed,
            disrupted_pods: Vec::new(),
        }
    }

    /// Runs a cycle (which must fail) to get the diagnosis, then preemption; also returns how
    /// many nodes preemption ran through the filters.
    fn run(
        profile: &Profile,
        preemptor: &PodInfo,
        snapshot: &Snapshot,
        nominated: &NominatedPods,
        pdbs: &[PodDisruptionBudgetView],
        args: &PreemptionArgs,
        seed: u64,
    ) -> (PreemptionOutcome, usize) {
        let mut tie = stream(seed, "test/tie-break");
        let diagnosis = match profile.schedule(
            preemptor,
            snapshot,
            &mut Rotation::default(),
            &mut tie,
            &mut CycleWork::default(),
        ) {
            CycleResult::Unschedulable(d) => d,
            other => panic!("cycle should fail, got {other:?}"),
        };
        let mut working = snapshot.clone();
        let view = PreemptionView {
            snapshot: &mut working,
            nominated,
            pdbs,
        };
        let mut rng = stream(seed, "test/preemption");
        let mut work = CycleWork::default();
        let outcome = preempt(
            args, profile, preemptor, view, &diagnosis, &mut rng, &mut work,
        );
        // The dry runs put every node back as it was: same pods, same order, same requests.
        let layout = |s: &Snapshot| -> Vec<(String, Vec<Uid>, i64)> {
            s.nodes()
                .iter()
                .map(|n| {
                    let pods = n.pods.iter().map(|p| p.uid()).collect();
                    (n.name().to_string(), pods, n.requested.milli_cpu)
                })
                .collect()
        };
        assert_eq!(layout(&working), layout(snapshot));
        (outcome, work.nodes_filtered)
    }

    /// Preemption with CpuFit, nothing nominated, no PDBs, default args, seed 1.
    fn simple(snapshot: &Snapshot, preemptor: &PodInfo) -> PreemptionOutcome {
        run(
            &profile_with(Box::new(CpuFit)),
            preemptor,
            snapshot,
            &NominatedPods::new(),
            &[],
            &PreemptionArgs::default(),
            1,
        )
        .0
    }

    fn chosen(outcome: PreemptionOutcome) -> Preemption {
        match outcome {
            PreemptionOutcome::Preempt(p) => p,
            other => panic!("expected a preemption, got {other:?}"),
        }
    }

    /// The preemption chosen with nothing nominated and default args, which must be one.
    fn chosen_with(
        profile: &Profile,
        preemptor: &PodInfo,
        snapshot: &Snapshot,
        pdbs: &[PodDisruptionBudgetView],
        seed: u64,
    ) -> Preemption {
        let nominated = NominatedPods::new();
        let args = PreemptionArgs::default();
        chosen(run(profile, preemptor, snapshot, &nominated, pdbs, &args, seed).0)
    }

    fn names(pods: &[Arc<PodInfo>]) -> Vec<&str> {
        pods.iter().map(|p| p.pod.metadata.name.as_str()).collect()
    }

    /// n1 (4000m), full: hi (prio 20, started 1 s), a (prio 1, 10 s), b (prio 5, 20 s) and
    /// c (prio 1, 5 s), 1000m each.
    fn four_on_n1() -> Snapshot {
        Snapshot::new(vec![node(
            "n1",
            4000,
            vec![
                pod("hi", 1, 20, 1000, 1),
                pod("a", 2, 1, 1000, 10),
                pod("b", 3, 5, 1000, 20),
                pod("c", 4, 1, 1000, 5),
            ],
        )])
    }

    #[test]
    fn evicts_the_minimal_set_after_reprieve() {
        // n1 (4000m) is full: hi (prio 20, 1000m), a (prio 1, 1000m, started 10 s),
        // b (prio 5, 1000m, 20 s), c (prio 1, 1000m, 5 s). P (prio 10) wants 1500m.
        // Lower priority than 10: a, b, c. Without them 3000m is free: P fits.
        // By importance: b (prio 5), c (prio 1, started first), a. Reprieve b: 2000m free ≥
        // 1500m, stays. Reprieve c: 1000m free < 1500m, victim. Reprieve a: same, victim.
        // Victims: [c, a].
        let snap = four_on_n1();
        let p = chosen(simple(&snap, &info(pod("p", 99, 10, 1500, 0))));
        assert_eq!(p.node, "n1");
        assert_eq!(names(&p.victims), ["c", "a"]);
        assert_eq!(p.pdb_violations, 0);
        assert!(p.clear_nominations.is_empty());
    }

    #[test]
    fn pdb_protected_pods_are_reprieved_first() {
        // n1 (3000m): x (prio 1, app=x, 1 s), y (prio 1, app=y, 2 s), z (prio 2, app=z).
        // P (prio 10) wants 2000m; with all three gone 3000m is free.
        let pods = || {
            vec![
                labelled(pod("x", 1, 1, 1000, 1), "app", "x"),
                labelled(pod("y", 2, 1, 1000, 2), "app", "y"),
                labelled(pod("z", 3, 2, 1000, 3), "app", "z"),
            ]
        };
        let snap = Snapshot::new(vec![node("n1", 3000, pods())]);
        let preemptor = info(pod("p", 99, 10, 2000, 0));
        let profile = profile_with(Box::new(CpuFit));
        let go =
            |pdbs: &[PodDisruptionBudgetView]| chosen_with(&profile, &preemptor, &snap, pdbs, 1);
        // No PDB: order z, x, y. z stays (2000m free), x and y go. Victims [x, y].
        let p = go(&[]);
        assert_eq!((names(&p.victims), p.pdb_violations), (vec!["x", "y"], 0));
        // PDB on app=x allowing 0: x is violating and reprieved first (stays, 2000m free);
        // then z (1000m free < 2000m) goes, then y goes. Victims [z, y], no violation.
        let p = go(&[pdb("app", "x", 0)]);
        assert_eq!((names(&p.victims), p.pdb_violations), (vec!["z", "y"], 0));
        // PDBs on x and z allowing 0: violating [z, x] by importance. z stays, x cannot (one
        // violation), then y goes. Victims re-sorted by importance: [x (1 s), y (2 s)].
        let p = go(&[pdb("app", "x", 0), pdb("app", "z", 0)]);
        assert_eq!((names(&p.victims), p.pdb_violations), (vec!["x", "y"], 1));
        // A PDB allowing 1 disruption is not violated by evicting x.
        let p = go(&[pdb("app", "x", 1)]);
        assert_eq!((names(&p.victims), p.pdb_violations), (vec!["x", "y"], 0));
        // A PDB on y allowing 0, and a preemptor wanting all 3000m: y is tried (and evicted)
        // first, then z and x; the victims come back in importance order [z, x, y].
        let big = info(pod("big", 98, 10, 3000, 0));
        let p = chosen_with(&profile, &big, &snap, &[pdb("app", "y", 0)], 1);
        assert_eq!(
            (names(&p.victims), p.pdb_violations),
            (vec!["z", "x", "y"], 1)
        );
    }

    /// Two nodes of 2000m each; P (prio 100) wants 2000m, so every lower-priority pod on the
    /// chosen node goes. Returns the chosen node, trying several seeds (so several candidate
    /// orders) and checking they agree.
    fn choice(n1: Vec<Pod>, n2: Vec<Pod>, pdbs: &[PodDisruptionBudgetView]) -> String {
        let snap = Snapshot::new(vec![node("n1", 2000, n1), node("n2", 2000, n2)]);
        let preemptor = info(pod("p", 99, 100, 2000, 0));
        let profile = profile_with(Box::new(CpuFit));
        let picks: Vec<String> = (1..=6)
            .map(|seed| chosen_with(&profile, &preemptor, &snap, pdbs, seed).node)
            .collect();
        assert!(picks.iter().all(|p| *p == picks[0]), "{picks:?}");
        picks[0].clone()
    }

    /// A budget over `app: <app>` as the scheduler's informer holds it, read through
    /// [`PodDisruptionBudgetView::of`].
    fn budget(app: &str, allowed: i32, disrupted: &[&str]) -> PodDisruptionBudgetView {
        let mut b = PodDisruptionBudget::default();
        b.metadata.namespace = "default".into();
        let labels: Labels = [("app".to_string(), app.to_string())].into();
        b.spec.selector = Some(LabelSelector::from_match_labels(labels));
        b.status.disruptions_allowed = allowed;
        for name in disrupted {
            b.status
                .disrupted_pods
                .insert(name.to_string(), SimTime::ZERO);
        }
        PodDisruptionBudgetView::of(&b)
    }

    #[test]
    fn the_fewest_budget_violations_win_over_every_later_criterion() {
        // Three nodes of 2000m; P (prio 100) wants 2000m, so every pod on the chosen node
        // goes (none can be reprieved: each takes 1000m or more).
        //   n1: a1, a2 (app=a, prio 1, 1000m);  n2: b1, b2 (app=b, prio 1, 1000m);
        //   n3: c1 (app=c, prio 50, 2000m).
        let n1 = || {
            vec![
                labelled(pod("a1", 1, 1, 1000, 1), "app", "a"),
                labelled(pod("a2", 2, 1, 1000, 2), "app", "a"),
            ]
        };
        let n2 = || {
            vec![
                labelled(pod("b1", 3, 1, 1000, 1), "app", "b"),
                labelled(pod("b2", 4, 1, 1000, 2), "app", "b"),
            ]
        };
        let n3 = || vec![labelled(pod("c1", 5, 50, 2000, 1), "app", "c")];
        let snap = Snapshot::new(vec![
            node("n1", 2000, n1()),
            node("n2", 2000, n2()),
            node("n3", 2000, n3()),
        ]);
        let preemptor = info(pod("p", 99, 100, 2000, 0));
        let profile = profile_with(Box::new(CpuFit));
        let pick = |pdbs: &[PodDisruptionBudgetView]| {
            let picks: Vec<(String, usize)> = (1..=6)
                .map(|seed| {
                    let p = chosen_with(&profile, &preemptor, &snap, pdbs, seed);
                    (p.node, p.pdb_violations)
                })
                .collect();
            assert!(picks.iter().all(|p| *p == picks[0]), "{picks:?}");
            picks[0].clone()
        };
        // Budget a allows 1: a1 spends it (0 left), a2 takes it to −1: n1 has 1 violation.
        // Budget b allows 0: b1 and b2 each take it below 0: n2 has 2. n3 has none: n3, though
        // its victim's priority (50) is the highest of all.
        let (a, b) = (budget("a", 1, &[]), budget("b", 0, &[]));
        assert_eq!(pick(&[a.clone(), b.clone()]), ("n3".to_string(), 0));
        // Budget c allows 0 too: n1 and n3 tie at 1 violation, n2 has 2; then (b) the lowest
        // highest victim priority: n1 (1) before n3 (50).
        let c = budget("c", 0, &[]);
        assert_eq!(pick(&[a, b.clone(), c.clone()]), ("n1".to_string(), 1));
        // Budget a allows 2: n1 has no violation. Budget b allows 0, but b2's eviction is
        // already recorded (disruptedPods) and spends nothing: only b1 takes it below 0, n2
        // has 1. n3 has 1 (c allows 0). n1 alone has none: n1.
        let a_roomy = budget("a", 2, &[]);
        let b_seen = budget("b", 0, &["b2"]);
        assert_eq!(pick(&[a_roomy, b_seen, c]), ("n1".to_string(), 0));
        // A budget without a selector covers no pod: beside a and b of the first case it
        // changes nothing, n3 still has no violation.
        let mut unselecting = PodDisruptionBudget::default();
        unselecting.metadata.namespace = "default".into();
        let unselecting = PodDisruptionBudgetView::of(&unselecting);
        let (a, b) = (budget("a", 1, &[]), budget("b", 0, &[]));
        assert_eq!(pick(&[a, b, unselecting]), ("n3".to_string(), 0));
    }

    #[test]
    fn node_choice_follows_the_criteria_in_order() {
        // (a) n1's only victim is PDB-protected (1 violation); n2's victim has priority 50
        // but no PDB: n2, although its victim's priority is higher.
        let guarded = labelled(pod("g", 1, 1, 2000, 1), "app", "g");
        assert_eq!(
            choice(
                vec![guarded],
                vec![pod("v", 2, 50, 2000, 1)],
                &[pdb("app", "g", 0)]
            ),
            "n2"
        );
        // (b) n1: one victim of priority 10; n2: two of priority 5 (larger sum, more victims).
        // Highest victim priority 5 < 10: n2.
        assert_eq!(
            choice(
                vec![pod("a", 1, 10, 2000, 1)],
                vec![pod("b", 2, 5, 1000, 1), pod("c", 3, 5, 1000, 1)],
                &[]
            ),
            "n2"
        );
        // (c) Both highest 5, both two victims: n1 sums 5+5, n2 sums 5+3: n2.
        assert_eq!(
            choice(
                vec![pod("a", 1, 5, 1000, 1), pod("b", 2, 5, 1000, 1)],
                vec![pod("c", 3, 5, 1000, 1), pod("d", 4, 3, 1000, 1)],
                &[]
            ),
            "n2"
        );
        // (d) Both highest 5 and equal sums — n1: (5 + 2³¹); n2: (5 + 2³¹) + (−2³¹ + 2³¹) —
        // but n1 has one victim, n2 two: n1.
        assert_eq!(
            choice(
                vec![pod("a", 1, 5, 2000, 1)],
                vec![pod("b", 2, 5, 1000, 1), pod("c", 3, i32::MIN, 1000, 1)],
                &[]
            ),
            "n1"
        );
        // (e) One victim of priority 5 each; n1's started at 10 s, n2's at 20 s: the latest
        // start, n2.
        assert_eq!(
            choice(
                vec![pod("a", 1, 5, 2000, 10)],
                vec![pod("b", 2, 5, 2000, 20)],
                &[]
            ),
            "n2"
        );
        // (e) looks at the highest-priority victims only: n1's priority-5 victim started at
        // 30 s (its priority-1 victim at 1 s); n2's at 20 s: n1.
        assert_eq!(
            choice(
                vec![pod("a", 1, 5, 1000, 30), pod("b", 2, 1, 1000, 1)],
                vec![pod("c", 3, 5, 1000, 20), pod("d", 4, 1, 1000, 40)],
                &[]
            ),
            "n1"
        );
    }

    #[test]
    fn a_full_tie_goes_to_the_first_candidate_in_dry_run_order() {
        // Identical nodes: the first candidate is potential[offset], offset drawn from the
        // preemption stream (0 → n1, 1 → n2).
        let snap = Snapshot::new(vec![
            node("n1", 2000, vec![pod("a", 1, 5, 2000, 1)]),
            node("n2", 2000, vec![pod("b", 2, 5, 2000, 1)]),
        ]);
        let preemptor = info(pod("p", 99, 100, 2000, 0));
        let profile = profile_with(Box::new(CpuFit));
        let mut seen = Vec::new();
        for seed in 1..=8 {
            let offset = stream(seed, "test/preemption").random_range(0..2usize);
            let p = chosen_with(&profile, &preemptor, &snap, &[], seed);
            assert_eq!(p.node, ["n1", "n2"][offset]);
            seen.push(offset);
        }
        seen.sort_unstable();
        seen.dedup();
        assert!(seen.len() > 1, "both offsets should occur over 8 seeds");
    }

    #[test]
    fn preemption_policy_never_does_not_preempt() {
        let snap = Snapshot::new(vec![node("n1", 1000, vec![pod("a", 1, 1, 1000, 1)])]);
        let mut p = pod("p", 99, 10, 1000, 0);
        Arc::make_mut(&mut p.spec).preemption_policy = Some("Never".into());
        match simple(&snap, &info(p)) {
            PreemptionOutcome::NotEligible(reason) => assert_eq!(reason, MSG_POLICY_NEVER),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn waits_while_earlier_victims_terminate_on_the_nominated_node() {
        // n1 (2000m) holds a victim of an earlier preemption, still terminating (1000m), and
        // another lower-priority pod; P, nominated to n1, wants 2000m.
        let mut victim = pod("old", 1, 1, 1000, 1);
        victim.metadata.deletion_timestamp = Some(SimTime::from_nanos(5));
        victim.status.conditions.push(PodCondition {
            type_: DISRUPTION_TARGET.into(),
            status: "True".into(),
            reason: REASON_PREEMPTION_BY_SCHEDULER.into(),
            ..PodCondition::default()
        });
        let other = pod("b", 2, 1, 1000, 2);
        let mut p = pod("p", 99, 10, 2000, 0);
        p.status.nominated_node_name = "n1".into();
        let snap = Snapshot::new(vec![node("n1", 2000, vec![victim.clone(), other.clone()])]);
        match simple(&snap, &info(p.clone())) {
            PreemptionOutcome::NotEligible(reason) => {
                assert_eq!(reason, MSG_TERMINATING_ON_NOMINATED)
            }
            o => panic!("{o:?}"),
        }
        // Deleted for another reason (no DisruptionTarget condition): preempt again. Both
        // pods must go; the terminating one is listed too (the caller skips its delete).
        let mut deleted = victim.clone();
        deleted.status.conditions.clear();
        let snap = Snapshot::new(vec![node("n1", 2000, vec![deleted, other.clone()])]);
        let got = chosen(simple(&snap, &info(p.clone())));
        assert_eq!(names(&got.victims), ["old", "b"]);
        // If filters reject the nominated node for good, the pod may preempt elsewhere.
        let snap = Snapshot::new(vec![
            node("n1", 1000, vec![victim]),
            node("n2", 2000, vec![other]),
        ]);
        let got = chosen(simple(&snap, &info(p)));
        assert_eq!((got.node.as_str(), names(&got.victims)), ("n2", vec!["b"]));
    }

    #[test]
    fn no_lower_priority_pods_means_no_candidates() {
        // Both nodes are full of pods of P's own priority or higher.
        let snap = Snapshot::new(vec![
            node("n1", 1000, vec![pod("a", 1, 10, 1000, 1)]),
            node("n2", 1000, vec![pod("b", 2, 50, 1000, 1)]),
        ]);
        match simple(&snap, &info(pod("p", 99, 10, 1000, 0))) {
            PreemptionOutcome::NoCandidates(d) => {
                assert_eq!(
                    d.message(2),
                    "0/2 nodes are available: 2 No preemption victims found for incoming pod."
                );
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn unresolvable_nodes_are_not_considered() {
        // n1 (1000m) is smaller than P's 2000m request: UnschedulableAndUnresolvable, so its
        // low-priority pod is never a victim. n2 (2000m) is merely full: its pod goes.
        let snap = Snapshot::new(vec![
            node("n1", 1000, vec![pod("a", 1, 1, 1000, 1)]),
            node("n2", 2000, vec![pod("b", 2, 5, 2000, 1)]),
        ]);
        let got = chosen(simple(&snap, &info(pod("p", 99, 10, 2000, 0))));
        assert_eq!((got.node.as_str(), names(&got.victims)), ("n2", vec!["b"]));
        // With only n1, there is no potential node at all.
        let snap = Snapshot::new(vec![node("n1", 1000, vec![pod("a", 1, 1, 1000, 1)])]);
        match simple(&snap, &info(pod("p", 99, 10, 2000, 0))) {
            PreemptionOutcome::NoCandidates(d) => {
                assert_eq!(
                    d.message(1),
                    format!("0/1 nodes are available: 1 {MSG_NOT_HELPFUL}.")
                )
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn higher_priority_nominated_pods_count_and_lower_ones_are_cleared() {
        // n1 (4000m): a (prio 1, 2000m, 1 s), b (prio 1, 2000m, 2 s). P (prio 10) wants 2000m.
        // Q (prio 20, 2000m) and L (prio 5, 1000m) are nominated to n1.
        // Q counts as present (priority ≥ 10); L does not. With a and b gone: 4000 − 2000 (Q)
        // = 2000m free, P fits. Reprieve a: 0m free with Q, victim; b likewise.
        // Victims [a, b]; L's nomination is cleared, Q's is not.
        let snap = Snapshot::new(vec![node(
            "n1",
            4000,
            vec![pod("a", 1, 1, 2000, 1), pod("b", 2, 1, 2000, 2)],
        )]);
        let preemptor = info(pod("p", 99, 10, 2000, 0));
        let profile = profile_with(Box::new(CpuFit));
        let mut nominated = NominatedPods::new();
        nominated.set("n1", info(pod("q", 10, 20, 2000, 0)));
        nominated.set("n1", info(pod("l", 11, 5, 1000, 0)));
        // The preemptor's own nomination is never counted against it.
        nominated.set("n1", Arc::clone(&preemptor));
        let args = PreemptionArgs::default();
        let go = |nominated: &NominatedPods| {
            chosen(run(&profile, &preemptor, &snap, nominated, &[], &args, 1).0)
        };
        let p = go(&nominated);
        assert_eq!(names(&p.victims), ["a", "b"]);
        assert_eq!(names(&p.clear_nominations), ["l"]);
        // Without Q, a is reprieved (2000m free after it) and only b goes.
        assert!(nominated.remove(Uid(10)).is_some());
        let p = go(&nominated);
        assert_eq!(names(&p.victims), ["b"]);
        assert_eq!(nominated.len(), 2);
        assert_eq!(nominated.node_of(Uid(11)), Some("n1"));
    }

    /// 250 nodes of 2000m, each full with one priority-5 pod, except the node 150 places
    /// after the offset, whose pod has priority 1 (the best choice by (b)).
    fn sampled(seed: u64, args: &PreemptionArgs) -> (String, usize, usize) {
        let offset = stream(seed, "test/preemption").random_range(0..250usize);
        let special = (offset + 150) % 250;
        let nodes = (0..250u64)
            .map(|i| {
                let prio = if i as usize == special { 1 } else { 5 };
                node(
                    &format!("n{i:03}"),
                    2000,
                    vec![pod(&format!("v{i:03}"), i + 1, prio, 2000, 1)],
                )
            })
            .collect();
        let snap = Snapshot::new(nodes);
        let preemptor = info(pod("p", 9999, 100, 2000, 0));
        let profile = profile_with(Box::new(CpuFit));
        let nominated = NominatedPods::new();
        let (outcome, filtered) = run(&profile, &preemptor, &snap, &nominated, &[], args, seed);
        (chosen(outcome).node, offset, filtered)
    }

    #[test]
    fn candidate_sampling_starts_at_a_seeded_offset() {
        // 250 potential nodes: max(250 × 10 %, 100) = 100 candidates, dry-run from the offset.
        // Each costs two filter runs (all victims removed; reprieve of its one pod). The
        // priority-1 node lies 150 places on, outside the window: all 100 candidates tie, and
        // the first, potential[offset], wins.
        for seed in [3, 11] {
            let (node, offset, filtered) = sampled(seed, &PreemptionArgs::default());
            assert_eq!(node, format!("n{offset:03}"));
            assert_eq!(filtered, 200);
            // Same seed, same answer.
            assert_eq!(sampled(seed, &PreemptionArgs::default()).0, node);
        }
        assert_ne!(
            sampled(3, &PreemptionArgs::default()).1,
            sampled(11, &PreemptionArgs::default()).1
        );
        // Looking at every node (100 %) finds the priority-1 node.
        let all = PreemptionArgs {
            min_candidate_nodes_percentage: 100,
            min_candidate_nodes_absolute: 0,
        };
        let (node, offset, filtered) = sampled(3, &all);
        assert_eq!(node, format!("n{:03}", (offset + 150) % 250));
        assert_eq!(filtered, 500);
    }

    #[test]
    fn args_default_validate_and_count() {
        let args: PreemptionArgs =
            serde_json::from_str(r#"{"minCandidateNodesPercentage": 20}"#).expect("args");
        assert_eq!(args.min_candidate_nodes_absolute, 100);
        assert_eq!(args.num_candidates(1000), 200);
        assert_eq!(PreemptionArgs::default().num_candidates(5000), 500);
        assert_eq!(PreemptionArgs::default().num_candidates(250), 100);
        assert_eq!(PreemptionArgs::default().num_candidates(30), 30);
        assert!(PreemptionArgs::default().validate().is_ok());
        let zero = PreemptionArgs {
            min_candidate_nodes_percentage: 0,
            min_candidate_nodes_absolute: 0,
        };
        assert!(zero.validate().is_err());
        let over = PreemptionArgs {
            min_candidate_nodes_percentage: 101,
            ..PreemptionArgs::default()
        };
        assert!(over.validate().is_err());
    }

    #[test]
    fn works_with_the_real_node_resources_fit() {
        use crate::scheduler::plugins::node_resources_fit::NodeResourcesFit;
        // Same cluster as `evicts_the_minimal_set_after_reprieve`, filtered by the real
        // plugin (cpu 4 = 4000m; memory and pod slots are plentiful): victims [c, a].
        let snap = four_on_n1();
        let profile = profile_with(Box::new(NodeResourcesFit::default()));
        let got = chosen_with(&profile, &info(pod("p", 99, 10, 1500, 0)), &snap, &[], 1);
        assert_eq!(
            (got.node.as_str(), names(&got.victims)),
            ("n1", vec!["c", "a"])
        );
    }

    #[test]
    fn regular_cycles_count_pods_nominated_to_a_node() {
        // n1 and n2 have 1000m each and nothing bound. H (prio 100, 800m) is nominated to n1.
        // L (prio 0, 500m): on n1 with H counted 800 + 500 > 1000 → rejected there by the
        // pass with nominated pods ("Insufficient cpu"); n2 fits → n2, the only feasible node.
        // T (prio 200, 500m): H has lower priority, so it is not counted → n1 fits, and, the
        // profile having no score plugin, the cycle takes the first feasible node from the
        // start (n1).
        // B (prio 0, 500m) once n2 is full (a 600m pod bound): n1 rejected with H counted,
        // n2 rejected as full → "0/2 nodes are available: 2 Insufficient cpu."
        let mut snap = Snapshot::new(vec![node("n1", 1000, vec![]), node("n2", 1000, vec![])]);
        snap.refresh();
        let profile = profile_with(Box::new(CpuFit));
        let mut nominated = NominatedPods::new();
        nominated.set("n1", info(pod("h", 1, 100, 800, 0)));
        let cycle = |snap: &mut Snapshot, p: &PodInfo| {
            let mut work = CycleWork::default();
            let rejections = nominated_rejections(&profile, p, snap, &nominated, &mut work);
            let result = profile.schedule_with(
                p,
                snap,
                &rejections,
                &mut Rotation::default(),
                &mut stream(1, "test/tie-break"),
                &mut work,
            );
            (rejections, result, work.nodes_filtered)
        };
        let low = info(pod("l", 2, 0, 500, 0));
        let (rejections, result, filtered) = cycle(&mut snap, &low);
        assert_eq!(
            rejections.get("n1").map(|s| s.reasons.clone()),
            Some(vec!["Insufficient cpu".to_string()])
        );
        assert_eq!(rejections.get("n2"), None);
        // One pass with H on n1, then n1 (rejected before the filters) and n2 in the cycle.
        assert_eq!(filtered, 3);
        match result {
            CycleResult::Scheduled { node, feasible, .. } => {
                assert_eq!((node.as_str(), feasible), ("n2", 1));
            }
            other => panic!("{other:?}"),
        }
        let top = info(pod("t", 3, 200, 500, 0));
        let (rejections, result, _) = cycle(&mut snap, &top);
        assert!(rejections.is_empty());
        match result {
            CycleResult::Scheduled { node, .. } => assert_eq!(node, "n1"),
            other => panic!("{other:?}"),
        }
        snap.add_pod("n2", info(pod("full", 4, 0, 600, 0)));
        let (_, result, _) = cycle(&mut snap, &info(pod("b", 5, 0, 500, 0)));
        match result {
            CycleResult::Unschedulable(d) => {
                assert_eq!(d.message(2), "0/2 nodes are available: 2 Insufficient cpu.");
            }
            other => panic!("{other:?}"),
        }
        // The snapshot is as it was: H was added for the passes only.
        assert!(snap.get("n1").is_some_and(|n| n.pods.is_empty()));
    }
}
