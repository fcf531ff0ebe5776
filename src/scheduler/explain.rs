//! `kubesim explain --pod`: one pod evaluated against every node, as kube-scheduler would
//! evaluate it — each node's filter verdict (the first failing plugin and its reason), each
//! score plugin's raw, normalized and weighted score, the totals, the node the scheduler's own
//! rule picks, and the summary line kube-scheduler writes.
//!
//! Unlike a real cycle, every feasible node is scored (even when only one is feasible, and
//! even outside the sampled set) so the user sees every number; `sampled` says which nodes a
//! real cycle would have looked at, and `chosen` is picked among those only.

use std::collections::BTreeMap;

use serde::Serialize;

use super::framework::{
    CycleState, PreFiltered, Profile, Status, num_feasible_nodes_to_find, select_host,
};
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

/// The whole explanation, as `--json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// `namespace/name`.
    pub pod: String,
    /// The virtual time evaluated at.
    pub at: String,
    /// The profile that schedules the pod.
    pub profile: String,
    /// Every node, in name order.
    pub nodes: Vec<NodeExplanation>,
    /// The node the scheduler's rule picks (null when none is feasible).
    pub chosen: Option<String>,
    /// kube-scheduler's summary line.
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
                filter: (!status.is_success()).then(|| FilterVerdict {
                    plugin: status.plugin.to_string(),
                    reason: status.reasons.join(", "),
                }),
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
        message: summary(&statuses),
        nodes: explained,
        chosen,
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
    let mut header = vec!["NODE".to_string(), "FILTER".to_string()];
    header.extend(plugins.iter().cloned());
    header.push("TOTAL".into());
    rows.push(header);
    for n in &e.nodes {
        let mark = if e.chosen.as_deref() == Some(n.name.as_str()) {
            "* "
        } else {
            "  "
        };
        let mut row = vec![
            format!("{mark}{}", n.name),
            match &n.filter {
                None if n.sampled => "ok".to_string(),
                None => "ok (not sampled)".to_string(),
                Some(f) => format!("{}: {}", f.plugin, f.reason),
            },
        ];
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
    let mut out = format!("pod {} at {} (profile {})\n", e.pod, e.at, e.profile);
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "chosen: {}\n{}\n",
        e.chosen.as_deref().unwrap_or("none"),
        e.message
    ));
    out
}
