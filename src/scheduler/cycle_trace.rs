//! What one scheduling cycle looked at and decided, written down as the cycle runs — only for
//! the pods `kubesim explain` asks about, so that the explanation is the decision itself and
//! not a second evaluation that could come out differently.
//!
//! The cycle fills a [`CycleTrace`] at each step ([`super::framework::Profile::schedule_traced`]):
//! where filtering started, PreFilter's outcome, the nominated node tried first, every node it
//! filtered in the order it filtered them, each score plugin's raw and normalized score on
//! each feasible node, the totals, the nodes tied at the best total and the one picked among
//! them. Nodes the cycle did not reach are run through the filters too, after the decision and
//! without changing it, so that the user sees which of them would have fit.

use std::collections::{BTreeMap, BTreeSet};

use super::framework::Status;
use crate::api::pod::Pod;
use crate::api::{ObjectKey, Uid};
use crate::sim::SimTime;

/// One score plugin's scores in a traced cycle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TracedScores {
    /// The plugin.
    pub plugin: &'static str,
    /// Its weight in the profile.
    pub weight: i64,
    /// Whether its PreScore returned Skip (then it scored nothing).
    pub skipped: bool,
    /// Score per feasible node, in [`CycleTrace::feasible`] order.
    pub raw: Vec<i64>,
    /// After NormalizeScore (equal to `raw` for a plugin without one).
    pub normalized: Vec<i64>,
}

/// A scheduling cycle's steps, as it took them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleTrace {
    /// Nodes in the scheduler's snapshot.
    pub num_nodes: usize,
    /// Where filtering started in the node list (`nextStartNodeIndex`).
    pub start_node_index: usize,
    /// How many feasible nodes the cycle looked for before it stopped filtering.
    pub nodes_to_find: usize,
    /// PreFilter's rejection of every node, if it rejected the pod.
    pub pre_filter: Option<Status>,
    /// The nodes PreFilter narrowed the search to (sorted), if it did.
    pub allowed: Option<Vec<String>>,
    /// The PreFilter plugins that narrowed it.
    pub narrowed_by: Vec<&'static str>,
    /// The node the pod was nominated to by an earlier preemption, tried first and alone, with
    /// its verdict.
    pub nominated_node: Option<(String, Status)>,
    /// Every node the cycle filtered, in the order it filtered them, with its verdict.
    pub filtered: Vec<(String, Status)>,
    /// The nodes the cycle did not reach, with the verdict the filters give them (worked out
    /// for the explanation only).
    pub not_reached: Vec<(String, Status)>,
    /// The feasible nodes, in filtering order (the order of every score list).
    pub feasible: Vec<String>,
    /// Each score plugin of the profile, in order (empty when fewer than two nodes fit:
    /// the cycle then scores nothing).
    pub scores: Vec<TracedScores>,
    /// Each feasible node's weighted total.
    pub totals: Vec<i64>,
    /// The feasible nodes with the best total, in filtering order: the tie-break's choices.
    pub tied: Vec<String>,
    /// The node the cycle selected (before Reserve).
    pub selected: Option<String>,
}

impl CycleTrace {
    /// Makes room for the scores of `feasible` nodes by the plugins `plugins` (name, weight,
    /// skipped).
    pub(crate) fn start_scoring(
        &mut self,
        plugins: impl Iterator<Item = (&'static str, i64, bool)>,
    ) {
        let n = self.feasible.len();
        self.scores = plugins
            .map(|(plugin, weight, skipped)| TracedScores {
                plugin,
                weight,
                skipped,
                raw: if skipped { Vec::new() } else { vec![0; n] },
                normalized: if skipped { Vec::new() } else { vec![0; n] },
            })
            .collect();
    }

    /// The scores of the `index`-th active (not skipped) plugin.
    pub(crate) fn active_scores(&mut self, index: usize) -> Option<&mut TracedScores> {
        self.scores.iter_mut().filter(|s| !s.skipped).nth(index)
    }

    /// Records the totals and the tie-break's choices.
    pub(crate) fn finish_scoring(&mut self, totals: &[i64]) {
        self.totals = totals.to_vec();
        let best = totals.iter().copied().max();
        self.tied = self
            .feasible
            .iter()
            .zip(totals)
            .filter(|&(_, &t)| Some(t) == best)
            .map(|(name, _)| name.clone())
            .collect();
    }
}

/// The pods whose cycles the scheduler traces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TracedPods {
    /// None: a run pays nothing for tracing.
    #[default]
    None,
    /// These pods (namespace/name).
    Named(BTreeSet<ObjectKey>),
    /// Every pod.
    All,
}

/// How a traced scheduling attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The pod was assumed on the node and its binding sent; no answer yet.
    Binding {
        /// The node.
        node: String,
    },
    /// The binding succeeded.
    Bound {
        /// The node.
        node: String,
    },
    /// The binding failed: the pod went back to the queue.
    BindFailed {
        /// The node it was assumed on.
        node: String,
        /// The apiserver's answer.
        message: String,
    },
    /// No node fit (or the cluster had none).
    Unschedulable {
        /// The FitError text, as in the pod's `PodScheduled` condition.
        message: String,
        /// The node preemption nominated the pod to, if it did.
        nominated: Option<String>,
    },
    /// A plugin failed, or the chosen node was gone by the end of the cycle.
    Error {
        /// The error.
        message: String,
    },
    /// The pod was deleted, or bound by someone else, while its cycle ran.
    Abandoned,
}

/// One traced scheduling attempt of a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleAttempt {
    /// When the cycle started.
    pub at: SimTime,
    /// The pod's uid (a pod deleted and created again under its name has another).
    pub uid: Uid,
    /// The profile that scheduled it.
    pub profile: String,
    /// What the cycle did.
    pub trace: CycleTrace,
    /// How the attempt ended.
    pub outcome: AttemptOutcome,
}

/// The traced attempts of the pods asked about, by pod.
#[derive(Clone, Debug, Default)]
pub struct AttemptLog {
    wanted: TracedPods,
    by_pod: BTreeMap<ObjectKey, Vec<ScheduleAttempt>>,
}

impl AttemptLog {
    /// A log of the attempts of `wanted`.
    pub fn new(wanted: TracedPods) -> AttemptLog {
        AttemptLog {
            wanted,
            by_pod: BTreeMap::new(),
        }
    }

    /// Whether the cycles of `pod` are traced (its key is made only to look it up by name).
    pub fn wants(&self, pod: &Pod) -> bool {
        match &self.wanted {
            TracedPods::None => false,
            TracedPods::Named(keys) => {
                let meta = &pod.metadata;
                keys.contains(&ObjectKey::new(meta.namespace.clone(), meta.name.clone()))
            }
            TracedPods::All => true,
        }
    }

    /// Records an attempt of the pod `key`.
    pub fn push(&mut self, key: ObjectKey, attempt: ScheduleAttempt) {
        self.by_pod.entry(key).or_default().push(attempt);
    }

    /// Settles the attempt of pod `key` (uid `uid`) whose binding is awaited.
    pub fn bind_answered(&mut self, key: &ObjectKey, uid: Uid, error: Option<String>) {
        let Some(attempt) = self.by_pod.get_mut(key).and_then(|attempts| {
            attempts
                .iter_mut()
                .rev()
                .find(|a| a.uid == uid && matches!(a.outcome, AttemptOutcome::Binding { .. }))
        }) else {
            return;
        };
        if let AttemptOutcome::Binding { node } = &attempt.outcome {
            let node = node.clone();
            attempt.outcome = match error {
                None => AttemptOutcome::Bound { node },
                Some(message) => AttemptOutcome::BindFailed { node, message },
            };
        }
    }

    /// The traced attempts of pod `key`, oldest first.
    pub fn attempts(&self, key: &ObjectKey) -> &[ScheduleAttempt] {
        self.by_pod.get(key).map_or(&[], Vec::as_slice)
    }

    /// Every traced pod with its attempts, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &[ScheduleAttempt])> {
        self.by_pod.iter().map(|(k, v)| (k, v.as_slice()))
    }
}
