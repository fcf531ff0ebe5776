//! `kubesim explain --pod`: why the scheduler put a pod where it did, node by node.
//!
//! Two questions, two answers:
//!
//! * **The decision** ([`explain_attempt`]): one of the scheduler's own cycles for the pod, as
//!   its [`ScheduleAttempt`] recorded it while the run went on — where filtering started, each
//!   node's filter verdict in the order the cycle reached it, every score plugin's raw,
//!   normalized and weighted score on each feasible node, the totals, the nodes tied at the
//!   best total and the one the tie-break took. `chosen` is the node the cycle picked, so for a
//!   bound pod it is the node it was bound to, by construction.
//! * **What if** ([`explain`]): the pod evaluated against every node of the cluster as it is
//!   at some moment. Every feasible node is scored (even when only one is feasible, and even
//!   outside the sampled set) so the user sees every number; `sampled` says which nodes a
//!   real cycle would have looked at, and `chosen` is picked among those only.

use std::collections::BTreeMap;

use serde::Serialize;

use super::cycle_trace::{AttemptOutcome, CycleTrace, ScheduleAttempt};
use super::framework::{
    CycleState, PreFiltered, Profile, Status, num_feasible_nodes_to_find, select_host,
};
use super::kube_scheduler::scheduled_note;
use super::node_info::{NodeInfo, PodInfo, Snapshot};
use crate::sim::SimRng;

/// One plugin's score on one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PluginScore {
    /// The plugin scored the node.
    Scored {
        /// The plugin's Score.
        raw: i64,
        /// After its NormalizeScore (equal to raw without one).
        normalized: i64,
        /// `normalized × weight`.
        weighted: i64,
    },
    /// The plugin's PreScore returned Skip.
    Skipped {
        /// Always true.
        skipped: bool,
    },
}

/// Why a node was filtered out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FilterVerdict {
    /// The first plugin that rejected the node.
    pub plugin: String,
    /// Its reasons, joined.
    pub reason: String,
}

/// One node's evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeExplanation {
    /// Node name.
    pub name: String,
    /// Whether every filter passed.
    pub feasible: bool,
    /// Whether a real cycle would have looked at this node (omitted when true).
    #[serde(skip_serializing_if = "is_true")]
    pub sampled: bool,
    /// Where the cycle reached this node: 1 for the first node it filtered (omitted for what-if
    /// explanations, and for nodes the cycle did not reach).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<usize>,
    /// The rejecting filter, if any.
    pub filter: Option<FilterVerdict>,
    /// Per score plugin (empty for infeasible nodes).
    pub scores: BTreeMap<String, PluginScore>,
    /// Sum of weighted scores (null for infeasible nodes).
    pub total: Option<i64>,
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Which of the scheduler's attempts an explanation is, and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptSummary {
    /// 1 for the pod's first attempt.
    pub number: usize,
    /// How many attempts the pod had in the run.
    pub of: usize,
    /// `bound`, `binding`, `bindFailed`, `unschedulable`, `error` or `abandoned`.
    pub outcome: &'static str,
    /// Nodes in the scheduler's cache.
    pub num_nodes: usize,
    /// Where filtering started in the node list (`nextStartNodeIndex`).
    pub start_node_index: usize,
    /// How many feasible nodes the cycle looked for (`numFeasibleNodesToFind`).
    pub nodes_to_find: usize,
    /// The node an earlier preemption nominated the pod to, tried first and alone: the cycle
    /// took it if it fit, and filtered no other node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominated_node: Option<NominatedNode>,
    /// The node this attempt's preemption nominated the pod to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominates: Option<String>,
}

/// The nominated node's verdict, when the cycle tried it first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NominatedNode {
    /// The node.
    pub name: String,
    /// Whether it fit (then it was taken).
    pub fits: bool,
    /// The rejecting filter, if it did not fit.
    pub filter: Option<FilterVerdict>,
}

/// The tie-break among the best nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TieBreak {
    /// The best total.
    pub best: i64,
    /// The feasible nodes with it, in filtering order; the cycle took one uniformly at random.
    pub tied: Vec<String>,
}

/// The whole explanation, as `--json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// `namespace/name`.
    pub pod: String,
    /// The virtual time evaluated at (the cycle's start, for a decision).
    pub at: String,
    /// The profile that schedules the pod.
    pub profile: String,
    /// For a decision: which attempt, and how it went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<AttemptSummary>,
    /// Every node, in name order (a decision's `order` gives the order the cycle reached them).
    pub nodes: Vec<NodeExplanation>,
    /// For a decision that scored several nodes: the tie-break.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tie_break: Option<TieBreak>,
    /// The node the scheduler's rule picks (null when none is feasible); for a decision, the
    /// node the pod was assumed on and bound to.
    pub chosen: Option<String>,
    /// kube-scheduler's summary line; for a decision, what it wrote: the `Scheduled` Event's
    /// note, or the FitError text of the pod's `PodScheduled` condition.
    pub message: String,
}

/// Evaluates `pod` on every node of `snapshot` with `profile`. `start` is where a real cycle
/// would start filtering (the scheduler's rotating index); `rng` breaks ties among the best.
pub fn explain(
    profile: &Profile,
    pod: &PodInfo,
    snapshot: &Snapshot,
    start: usize,
    rng: &mut SimRng,
) -> Explanation {
    let mut state = CycleState::default();
    let pre_filter = profile.run_pre_filter(&mut state, pod, snapshot);
    let nodes = snapshot.nodes();
    let statuses: Vec<Status> = nodes
        .iter()
        .map(|node| match &pre_filter {
            Err(status) => status.clone(),
            Ok(PreFiltered {
                allowed: Some(allowed),
                narrowed_by,
            }) if !allowed.iter().any(|n| n == node.name()) => Status::unresolvable(
                "",
                format!(
                    "node(s) didn't satisfy plugin(s) [{}]",
                    narrowed_by.join(" ")
                ),
            ),
            Ok(_) => profile.run_filters(&state, pod, node),
        })
        .collect();
    let sampled = sampled_nodes(profile, &statuses, start);
    let feasible: Vec<usize> = (0..nodes.len())
        .filter(|&i| statuses[i].is_success())
        .collect();
    let feasible_nodes: Vec<&NodeInfo> = feasible.iter().map(|&i| &nodes[i]).collect();
    let scores = score_all(profile, &mut state, pod, &feasible_nodes, snapshot);
    let totals: Vec<i64> = scores
        .iter()
        .map(|per_plugin| {
            per_plugin
                .values()
                .map(|s| match s {
                    PluginScore::Scored { weighted, .. } => *weighted,
                    PluginScore::Skipped { .. } => 0,
                })
                .sum()
        })
        .collect();
    let chosen = choose(&feasible, &sampled, &totals, rng).map(|i| nodes[i].name().to_string());
    let mut explained: Vec<NodeExplanation> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let slot = feasible.iter().position(|&f| f == i);
            let status = &statuses[i];
            NodeExplanation {
                name: node.name().to_string(),
                feasible: status.is_success(),
                sampled: !status.is_success() || sampled[i],
                order: None,
                filter: verdict(status),
                scores: slot.map(|s| scores[s].clone()).unwrap_or_default(),
                total: slot.map(|s| totals[s]),
            }
        })
        .collect();
    explained.sort_by(|a, b| a.name.cmp(&b.name));
    Explanation {
        pod: pod.key().to_string(),
        at: String::new(),
        profile: profile.name.clone(),
        attempt: None,
        message: summary(&statuses),
        nodes: explained,
        tie_break: None,
        chosen,
    }
}

/// Explains attempt `number` (1-based) of the pod `pod`'s attempts `attempts`: the decision
/// the scheduler made in that cycle, as it made it.
pub fn explain_attempt(
    pod: &str,
    attempts: &[ScheduleAttempt],
    number: usize,
) -> Option<Explanation> {
    let attempt = attempts.get(number.checked_sub(1)?)?;
    let trace = &attempt.trace;
    let (outcome, chosen, message) = outcome_of(pod, &attempt.outcome, trace);
    let tie_break = (trace.totals.len() > 1).then(|| TieBreak {
        best: trace.totals.iter().copied().max().unwrap_or(0),
        tied: trace.tied.clone(),
    });
    Some(Explanation {
        pod: pod.to_string(),
        at: attempt.at.to_string(),
        profile: attempt.profile.clone(),
        attempt: Some(AttemptSummary {
            number,
            of: attempts.len(),
            outcome,
            num_nodes: trace.num_nodes,
            start_node_index: trace.start_node_index,
            nodes_to_find: trace.nodes_to_find,
            nominated_node: trace
                .nominated_node
                .as_ref()
                .map(|(name, status)| NominatedNode {
                    name: name.clone(),
                    fits: status.is_success(),
                    filter: verdict(status),
                }),
            nominates: match &attempt.outcome {
                AttemptOutcome::Unschedulable { nominated, .. } => nominated.clone(),
                _ => None,
            },
        }),
        nodes: {
            let mut nodes = traced_nodes(trace);
            nodes.sort_by(|a, b| a.name.cmp(&b.name));
            nodes
        },
        tie_break,
        chosen,
        message,
    })
}

/// The outcome's name, the node chosen (for an attempt that got as far as binding) and what
/// kube-scheduler wrote about it.
fn outcome_of(
    pod: &str,
    outcome: &AttemptOutcome,
    trace: &CycleTrace,
) -> (&'static str, Option<String>, String) {
    let assigned = |node: &str| scheduled_note(&pod, node);
    match outcome {
        AttemptOutcome::Bound { node } => ("bound", Some(node.clone()), assigned(node)),
        AttemptOutcome::Binding { node } => ("binding", Some(node.clone()), assigned(node)),
        AttemptOutcome::BindFailed { node, message } => (
            "bindFailed",
            Some(node.clone()),
            format!("binding to {node} failed: {message}"),
        ),
        AttemptOutcome::Unschedulable { message, .. } => ("unschedulable", None, message.clone()),
        AttemptOutcome::Error { message } => ("error", None, message.clone()),
        AttemptOutcome::Abandoned => (
            "abandoned",
            trace.selected.clone(),
            "the pod was deleted, or bound by another scheduler, while its cycle ran".into(),
        ),
    }
}

/// The rejecting filter of a node, if `status` rejected it.
fn verdict(status: &Status) -> Option<FilterVerdict> {
    (!status.is_success()).then(|| FilterVerdict {
        plugin: status.plugin.to_string(),
        reason: status.reasons.join(", "),
    })
}

/// The nodes of a traced cycle: the nominated node alone if it was tried and taken;
/// otherwise every node in the order the cycle filtered it (a nominated node that did not fit
/// is filtered again with the others), then the nodes it did not reach.
fn traced_nodes(trace: &CycleTrace) -> Vec<NodeExplanation> {
    let mut nodes = Vec::new();
    let mut order = 0;
    let mut reached = |name: &str, status: &Status, scored: Option<usize>| {
        order += 1;
        node_row(trace, name, status, Some(order), scored)
    };
    if let Some((name, status)) = trace
        .nominated_node
        .as_ref()
        .filter(|(_, s)| s.is_success())
    {
        nodes.push(reached(name, status, None));
    }
    let mut feasible_slot = 0;
    for (name, status) in &trace.filtered {
        let slot = status.is_success().then(|| {
            feasible_slot += 1;
            feasible_slot - 1
        });
        nodes.push(reached(name, status, slot));
    }
    for (name, status) in &trace.not_reached {
        let mut row = node_row(trace, name, status, None, None);
        row.sampled = false;
        nodes.push(row);
    }
    nodes
}

/// One node's row; `slot` is its place among the feasible nodes (for its scores).
fn node_row(
    trace: &CycleTrace,
    name: &str,
    status: &Status,
    order: Option<usize>,
    slot: Option<usize>,
) -> NodeExplanation {
    let scored = slot.filter(|&j| j < trace.totals.len());
    NodeExplanation {
        name: name.to_string(),
        feasible: status.is_success(),
        sampled: true,
        order,
        filter: verdict(status),
        scores: scored
            .map(|j| {
                trace
                    .scores
                    .iter()
                    .map(|s| {
                        let score = if s.skipped {
                            PluginScore::Skipped { skipped: true }
                        } else {
                            PluginScore::Scored {
                                raw: s.raw[j],
                                normalized: s.normalized[j],
                                weighted: s.normalized[j] * s.weight,
                            }
                        };
                        (s.plugin.to_string(), score)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        total: scored.map(|j| trace.totals[j]),
    }
}

/// Which nodes a real cycle would filter: from `start`, round the node list, until enough
/// feasible nodes are found (every node when the profile has no score plugin to need more).
fn sampled_nodes(profile: &Profile, statuses: &[Status], start: usize) -> Vec<bool> {
    let n = statuses.len();
    let mut sampled = vec![false; n];
    if n == 0 {
        return sampled;
    }
    let to_find = if profile.score.is_empty() {
        1
    } else {
        num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score, n)
    };
    let mut found = 0;
    for offset in 0..n {
        if found >= to_find {
            break;
        }
        let i = (start + offset) % n;
        sampled[i] = true;
        if statuses[i].is_success() {
            found += 1;
        }
    }
    sampled
}

/// PreScore, Score and NormalizeScore of every score plugin over the feasible nodes.
fn score_all(
    profile: &Profile,
    state: &mut CycleState,
    pod: &PodInfo,
    feasible: &[&NodeInfo],
    snapshot: &Snapshot,
) -> Vec<BTreeMap<String, PluginScore>> {
    let mut out = vec![BTreeMap::new(); feasible.len()];
    if feasible.is_empty() {
        return out;
    }
    for &i in &profile.pre_score {
        let plugin = &profile.plugins[i];
        if plugin.pre_score(state, pod, feasible, snapshot).is_skip() {
            state.skip_score.insert(i);
        }
    }
    for weighted in &profile.score {
        let plugin = &profile.plugins[weighted.plugin];
        let name = plugin.name().to_string();
        if state.skip_score.contains(weighted.plugin) {
            for per_node in &mut out {
                per_node.insert(name.clone(), PluginScore::Skipped { skipped: true });
            }
            continue;
        }
        let raw: Vec<i64> = feasible
            .iter()
            .map(|node| plugin.score(state, pod, node).unwrap_or(0))
            .collect();
        let mut normalized = raw.clone();
        if plugin.has_normalize() {
            let _ = plugin.normalize(state, pod, &mut normalized);
        }
        for (j, per_node) in out.iter_mut().enumerate() {
            per_node.insert(
                name.clone(),
                PluginScore::Scored {
                    raw: raw[j],
                    normalized: normalized[j],
                    weighted: normalized[j] * weighted.weight,
                },
            );
        }
    }
    out
}

/// The scheduler's rule: a lone feasible node is taken as is; otherwise the best total among
/// the sampled feasible nodes, ties broken at random.
fn choose(feasible: &[usize], sampled: &[bool], totals: &[i64], rng: &mut SimRng) -> Option<usize> {
    let candidates: Vec<usize> = (0..feasible.len())
        .filter(|&j| sampled[feasible[j]])
        .collect();
    match candidates.len() {
        0 => None,
        1 => Some(feasible[candidates[0]]),
        _ => {
            let candidate_totals: Vec<i64> = candidates.iter().map(|&j| totals[j]).collect();
            Some(feasible[candidates[select_host(&candidate_totals, rng)]])
        }
    }
}

/// "3/5 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable."
fn summary(statuses: &[Status]) -> String {
    let available = statuses.iter().filter(|s| s.is_success()).count();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for status in statuses.iter().filter(|s| !s.is_success()) {
        for reason in &status.reasons {
            *counts.entry(reason.as_str()).or_insert(0) += 1;
        }
    }
    let mut message = format!("{available}/{} nodes are available", statuses.len());
    if !counts.is_empty() {
        let parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
        message.push_str(": ");
        message.push_str(&parts.join(", "));
    }
    message.push('.');
    message
}

/// The explanation as a table for people: one row per node, the chosen one marked.
pub fn to_table(e: &Explanation) -> String {
    let plugins: Vec<String> = e
        .nodes
        .iter()
        .flat_map(|n| n.scores.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let decision = e.attempt.is_some();
    let mut header = vec!["NODE".to_string()];
    if decision {
        header.push("ORDER".into());
    }
    header.push("FILTER".into());
    header.extend(plugins.iter().cloned());
    header.push("TOTAL".into());
    rows.push(header);
    for n in &e.nodes {
        let mark = if e.chosen.as_deref() == Some(n.name.as_str()) {
            "* "
        } else {
            "  "
        };
        let mut row = vec![format!("{mark}{}", n.name)];
        if decision {
            row.push(n.order.map_or(String::new(), |o| o.to_string()));
        }
        row.push(match &n.filter {
            None if n.sampled => "ok".to_string(),
            None if decision => "ok (not reached)".to_string(),
            None => "ok (not sampled)".to_string(),
            Some(f) => format!("{}: {}", f.plugin, f.reason),
        });
        for p in &plugins {
            row.push(match n.scores.get(p) {
                Some(PluginScore::Scored {
                    raw,
                    normalized,
                    weighted,
                }) => {
                    format!("{weighted} ({raw}→{normalized})")
                }
                Some(PluginScore::Skipped { .. }) => "skip".into(),
                None => "-".into(),
            });
        }
        row.push(n.total.map_or("-".to_string(), |t| t.to_string()));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = match &e.attempt {
        None => format!("pod {} at {} (profile {})\n", e.pod, e.at, e.profile),
        Some(a) => {
            let mut head = format!(
                "pod {}: attempt {} of {} at {} (profile {}): {}\n",
                e.pod, a.number, a.of, e.at, e.profile, a.outcome
            );
            match &a.nominated_node {
                Some(n) if n.fits => head.push_str(&format!(
                    "nominated node {} (by an earlier preemption) tried first: it fits, so no \
                     other node was filtered\n",
                    n.name
                )),
                other => {
                    if let Some(NominatedNode {
                        name,
                        filter: Some(f),
                        ..
                    }) = other
                    {
                        head.push_str(&format!(
                            "nominated node {name} (by an earlier preemption) tried first: {}: {}\n",
                            f.plugin, f.reason
                        ));
                    }
                    head.push_str(&format!(
                        "filtering from node {} of {}, looking for {} feasible node(s)\n",
                        a.start_node_index, a.num_nodes, a.nodes_to_find
                    ));
                }
            }
            head
        }
    };
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if let Some(tie) = &e.tie_break {
        out.push_str(&tie_break_line(tie));
    }
    out.push_str(&format!(
        "chosen: {}\n{}\n",
        e.chosen.as_deref().unwrap_or("none"),
        e.message
    ));
    out
}

/// "tie-break: 3 nodes at 187: a, b, c" (the first ten named).
fn tie_break_line(tie: &TieBreak) -> String {
    const NAMED: usize = 10;
    let mut names = tie
        .tied
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if tie.tied.len() > NAMED {
        names.push_str(&format!(" and {} more", tie.tied.len() - NAMED));
    }
    match tie.tied.len() {
        1 => format!("best total {}: {names}\n", tie.best),
        n => format!(
            "tie-break: {n} nodes at the best total {}, one taken at random: {names}\n",
            tie.best
        ),
    }
}
