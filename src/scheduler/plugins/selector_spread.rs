//! SelectorSpread: spreads the pods that one Service or controller groups together over nodes
//! and, where nodes carry zone labels, over zones. It is the plugin behind the legacy Policy's
//! `SelectorSpreadPriority` (and `ServiceSpreadingPriority`) when the feature gate
//! `DefaultPodTopologySpread` is off; kube-scheduler dropped it in v1.29, PodTopologySpread's
//! system default constraints having replaced it.
//!
//! * **PreScore** builds the pod's selector from the Services that select it and its
//!   controlling ReplicaSet (upstream's `helper.DefaultSelector`, which PodTopologySpread's
//!   default constraints share), and notes each scored node's zone.
//! * **Score** counts the pods on the node, in the pod's namespace and not being deleted, that
//!   the selector matches (0 when nothing selects the pod).
//! * **NormalizeScore** turns counts into preferences: a node's share is `100 × (max − count) /
//!   max` over the scored nodes; a node with a zone then gets one third of that plus two thirds
//!   of its zone's share, `100 × (max zone total − zone total) / max zone total`, in floating
//!   point, truncated. Nodes without a zone keep the node share alone.
//!
//! A pod with `topologySpreadConstraints` of its own is left to PodTopologySpread: every node
//! scores 0 and nothing is normalized.
//!
//! Upstream: `pkg/scheduler/framework/plugins/selectorspread/selector_spread.go` (unchanged from
//! v1.19 to its removal), zone keys from `pkg/util/node`'s `GetZoneKey` of the same releases,
//! which read the beta `failure-domain.beta.kubernetes.io` labels before the GA ones.

use std::collections::BTreeMap;

use crate::api::labels::{Labels, Selector};
use crate::api::node::{LABEL_REGION, LABEL_ZONE};
use crate::scheduler::framework::{CycleState, ExtensionPoints, MAX_NODE_SCORE, Plugin, Status};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};

use super::pod_topology_spread::default_selector;
use super::written_state;

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "SelectorSpread";

/// The zone label kube-scheduler read first until v1.29 (deprecated since v1.17).
pub const LABEL_ZONE_BETA: &str = "failure-domain.beta.kubernetes.io/zone";
/// The region label kube-scheduler read first until v1.29 (deprecated since v1.17).
pub const LABEL_REGION_BETA: &str = "failure-domain.beta.kubernetes.io/region";

/// The share of a zoned node's score that comes from its zone.
const ZONE_WEIGHTING: f64 = 2.0 / 3.0;

/// What PreScore keeps for Score and NormalizeScore.
struct PreScoreState {
    /// The pod has constraints of its own: every node scores 0, unnormalized.
    stand_aside: bool,
    /// The pods counted (`None` when nothing selects the pod: every count is 0).
    selector: Option<Selector>,
    /// The zone of each scored node, in scoring order, as an index into the zones seen.
    zones: Vec<Option<usize>>,
    /// How many distinct zones the scored nodes are in.
    zone_count: usize,
}

fn pre_score_state(state: &CycleState) -> Result<&PreScoreState, Status> {
    written_state(state, NAME, "PreScore")
}

/// The zone a node is in, as upstream's `GetZoneKey`: region and zone labels (each the beta
/// label when present, else the GA one), `region:\0:zone`; `None` when both are empty.
pub fn zone_key(labels: &Labels) -> Option<String> {
    let read = |beta: &str, ga: &str| {
        labels
            .get(beta)
            .or_else(|| labels.get(ga))
            .map(String::as_str)
            .unwrap_or("")
    };
    let zone = read(LABEL_ZONE_BETA, LABEL_ZONE);
    let region = read(LABEL_REGION_BETA, LABEL_REGION);
    if zone.is_empty() && region.is_empty() {
        None
    } else {
        Some(format!("{region}:\x00:{zone}"))
    }
}

/// The SelectorSpread plugin (PreScore, Score, NormalizeScore; no args).
#[derive(Clone, Copy, Debug, Default)]
pub struct SelectorSpread;

impl SelectorSpread {
    /// The plugin.
    pub fn new() -> Self {
        SelectorSpread
    }
}

/// Pods on `node` in `namespace`, not being deleted, that `selector` matches.
fn count_matching(node: &NodeInfo, namespace: &str, selector: &Selector) -> i64 {
    node.pods
        .iter()
        .filter(|p| {
            let meta = &p.pod.metadata;
            meta.namespace == namespace
                && meta.deletion_timestamp.is_none()
                && selector.matches(&meta.labels)
        })
        .count() as i64
}

/// NormalizeScore's arithmetic over counts `scores` of nodes in `zones` (aligned; see the
/// module documentation), in place.
fn normalize_counts(scores: &mut [i64], zones: &[Option<usize>], zone_count: usize) {
    let max_by_node = scores.iter().copied().fold(0, i64::max);
    let mut by_zone = vec![0i64; zone_count];
    for (&score, zone) in scores.iter().zip(zones) {
        if let Some(z) = zone {
            by_zone[*z] = by_zone[*z].saturating_add(score);
        }
    }
    let max_by_zone = by_zone.iter().copied().fold(0, i64::max);
    let max_score = MAX_NODE_SCORE as f64;
    for (score, zone) in scores.iter_mut().zip(zones) {
        let mut f = max_score;
        if max_by_node > 0 {
            f = max_score * ((max_by_node - *score) as f64 / max_by_node as f64);
        }
        if let Some(z) = zone {
            let mut zone_score = max_score;
            if max_by_zone > 0 {
                zone_score = max_score * ((max_by_zone - by_zone[*z]) as f64 / max_by_zone as f64);
            }
            f = f * (1.0 - ZONE_WEIGHTING) + ZONE_WEIGHTING * zone_score;
        }
        // Truncation toward zero, as Go's int64(float64).
        *score = f as i64;
    }
}

impl Plugin for SelectorSpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            pre_score: true,
            score: true,
            ..ExtensionPoints::default()
        }
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        if !pod.pod.spec.topology_spread_constraints.is_empty() {
            state.write(
                NAME,
                PreScoreState {
                    stand_aside: true,
                    selector: None,
                    zones: Vec::new(),
                    zone_count: 0,
                },
            );
            return Status::success();
        }
        let selector = default_selector(&pod.pod, snapshot.workloads());
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        let zones = nodes
            .iter()
            .map(|node| {
                zone_key(node.labels()).map(|key| {
                    let next = ids.len();
                    *ids.entry(key).or_insert(next)
                })
            })
            .collect();
        state.write(
            NAME,
            PreScoreState {
                stand_aside: false,
                selector,
                zones,
                zone_count: ids.len(),
            },
        );
        Status::success()
    }

    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = pre_score_state(state)?;
        match &s.selector {
            Some(selector) if !s.stand_aside && !node.pods.is_empty() => {
                Ok(count_matching(node, &pod.pod.metadata.namespace, selector))
            }
            _ => Ok(0),
        }
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize(&self, state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        let s = match pre_score_state(state) {
            Ok(s) => s,
            Err(status) => return status,
        };
        if s.stand_aside {
            return Status::success();
        }
        if s.zones.len() != scores.len() {
            return Status::error(
                NAME,
                format!(
                    "normalizing {} scores, but PreScore saw {} nodes",
                    scores.len(),
                    s.zones.len()
                ),
            );
        }
        normalize_counts(scores, &s.zones, s.zone_count);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::labels::LabelSelector;
    use crate::api::meta::OwnerReference;
    use crate::api::pod::TopologySpreadConstraint;
    use crate::api::test_util::labels;
    use crate::scheduler::node_info::ControllerKind;
    use crate::scheduler::plugins::test_util::{info, node, pod, score_all};

    /// A pod of the `web` Service (label app=web) in namespace `ns`.
    fn web(name: &str) -> PodInfo {
        info(pod(name, "ns", &[("app", "web")]))
    }

    /// A snapshot of `nodes` (name, zone, pods on it), with Service `ns/web` selecting
    /// app=web.
    fn cluster(nodes: &[(&str, Option<&str>, Vec<PodInfo>)]) -> Snapshot {
        let infos = nodes
            .iter()
            .map(|(name, zone, pods)| {
                let mut n = NodeInfo::new(Arc::new(node(name, *zone, &[])));
                for p in pods {
                    n.add_pod(Arc::new(p.clone()));
                }
                n
            })
            .collect();
        let mut snap = Snapshot::new(infos);
        snap.workloads_mut()
            .set_service("ns", "web", labels(&[("app", "web")]));
        snap
    }

    fn normalized(results: &[(String, i64, i64)]) -> Vec<(&str, i64, i64)> {
        results
            .iter()
            .map(|(n, raw, norm)| (n.as_str(), *raw, *norm))
            .collect()
    }

    #[test]
    fn nodes_without_zones_score_by_their_own_counts() {
        // Counts 2, 1, 0 on n1, n2, n3: max 2, so 100·(2−2)/2 = 0, 100·(2−1)/2 = 50, 100.
        // The pod in another namespace and the one being deleted on n3 do not count, nor
        // does the pod the Service does not select.
        let mut deleting = pod("gone", "ns", &[("app", "web")]);
        deleting.metadata.deletion_timestamp = Some(crate::sim::SimTime::ZERO);
        let snap = cluster(&[
            ("n1", None, vec![web("a"), web("b")]),
            (
                "n2",
                None,
                vec![web("c"), info(pod("db", "ns", &[("app", "db")]))],
            ),
            (
                "n3",
                None,
                vec![info(pod("x", "other", &[("app", "web")])), info(deleting)],
            ),
        ]);
        let got = score_all(&SelectorSpread, &web("new"), &snap);
        assert_eq!(
            got.as_deref().map(normalized),
            Some(vec![("n1", 2, 0), ("n2", 1, 50), ("n3", 0, 100)])
        );
    }

    #[test]
    fn zones_weigh_two_thirds() {
        // Zone a: n1 (2 pods), n2 (0); zone b: n3 (1), n4 (0); n5 has no zone (1 pod).
        // Node shares (max count 2): n1 0, n2 100, n3 50, n4 100, n5 50.
        // Zone totals: a = 2, b = 1 (n5 counts in no zone); max 2: a 0, b 50.
        // Zoned nodes: share/3 + 2·zone/3:
        //   n1: 0·⅓ + ⅔·0 = 0
        //   n2: 100·⅓ + ⅔·0 = 33.33… → 33
        //   n3: 50·⅓ + ⅔·50 = 16.66… + 33.33… = 50 (exactly 50.0 in floating point) → 50
        //   n4: 100·⅓ + ⅔·50 = 33.33… + 33.33… = 66.66… → 66
        // n5 keeps its node share, 50.
        let snap = cluster(&[
            ("n1", Some("a"), vec![web("p1"), web("p2")]),
            ("n2", Some("a"), vec![]),
            ("n3", Some("b"), vec![web("p3")]),
            ("n4", Some("b"), vec![]),
            ("n5", None, vec![web("p4")]),
        ]);
        let got = score_all(&SelectorSpread, &web("new"), &snap);
        assert_eq!(
            got.as_deref().map(normalized),
            Some(vec![
                ("n1", 2, 0),
                ("n2", 0, 33),
                ("n3", 1, 50),
                ("n4", 0, 66),
                ("n5", 1, 50),
            ])
        );
    }

    #[test]
    fn normalization_in_floating_point_truncates() {
        // Counts 3, 0 and 1 in zones a, a, b (zone totals a 3, b 1; max node 3, max zone 3):
        //   node shares: 0, 100, 100·2/3 = 66.66…
        //   zone shares: a 0, b 100·2/3 = 66.66…
        //   first:  0 → 0
        //   second: 100·⅓ + 0 = 33.33… → 33
        //   third:  66.66…·⅓ + ⅔·66.66… = 66.66… → 66
        let mut scores = [3, 0, 1];
        normalize_counts(&mut scores, &[Some(0), Some(0), Some(1)], 2);
        assert_eq!(scores, [0, 33, 66]);
        // All zero (nothing matches anywhere): every node 100, zoned or not.
        let mut zeros = [0, 0, 0];
        normalize_counts(&mut zeros, &[Some(0), None, Some(1)], 2);
        assert_eq!(zeros, [100, 100, 100]);
    }

    #[test]
    fn a_pod_nothing_selects_scores_alike_everywhere() {
        // No Service or controller selects app=batch: counts are 0 and every node gets 100.
        let snap = cluster(&[
            ("n1", Some("a"), vec![web("p1")]),
            ("n2", Some("b"), vec![]),
        ]);
        let lone = info(pod("job", "ns", &[("app", "batch")]));
        let got = score_all(&SelectorSpread, &lone, &snap);
        assert_eq!(
            got.as_deref().map(normalized),
            Some(vec![("n1", 0, 100), ("n2", 0, 100)])
        );
    }

    #[test]
    fn a_pod_with_its_own_constraints_is_left_alone() {
        // The pod spreads itself: raw 0 everywhere and normalization changes nothing.
        let snap = cluster(&[("n1", None, vec![web("p1")]), ("n2", None, vec![])]);
        let mut p = pod("new", "ns", &[("app", "web")]);
        Arc::make_mut(&mut p.spec).topology_spread_constraints = vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "kubernetes.io/hostname".into(),
            when_unsatisfiable: "DoNotSchedule".into(),
            ..TopologySpreadConstraint::default()
        }];
        let got = score_all(&SelectorSpread, &info(p), &snap);
        assert_eq!(
            got.as_deref().map(normalized),
            Some(vec![("n1", 0, 0), ("n2", 0, 0)])
        );
    }

    #[test]
    fn the_controlling_replicaset_narrows_the_selector() {
        // The pod is app=web (the Service) and owned by ReplicaSet web-v2 (app=web,
        // version=v2): only pods matching both count. n1 holds a v1 pod, n2 a v2 pod.
        let owned = |name: &str, version: &str| {
            let mut p = pod(name, "ns", &[("app", "web"), ("version", version)]);
            p.metadata.owner_references = vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: format!("web-{version}"),
                controller: true,
                ..OwnerReference::default()
            }];
            info(p)
        };
        let mut snap = cluster(&[
            ("n1", None, vec![owned("old", "v1")]),
            ("n2", None, vec![owned("cur", "v2")]),
        ]);
        snap.workloads_mut().set_controller(
            ControllerKind::ReplicaSet,
            "ns",
            "web-v2",
            LabelSelector::from_match_labels(labels(&[("app", "web"), ("version", "v2")])),
        );
        let got = score_all(&SelectorSpread, &owned("new", "v2"), &snap);
        // Counts 0 and 1; max 1: n1 100, n2 0.
        assert_eq!(
            got.as_deref().map(normalized),
            Some(vec![("n1", 0, 100), ("n2", 1, 0)])
        );
    }

    #[test]
    fn zone_keys_read_the_beta_labels_first() {
        let key = |pairs: &[(&str, &str)]| zone_key(&labels(pairs));
        assert_eq!(key(&[]), None);
        assert_eq!(key(&[(LABEL_ZONE, "a")]), Some(":\x00:a".into()));
        assert_eq!(key(&[(LABEL_REGION, "r")]), Some("r:\x00:".into()));
        assert_eq!(
            key(&[
                (LABEL_ZONE, "ga"),
                (LABEL_ZONE_BETA, "beta"),
                (LABEL_REGION, "r")
            ]),
            Some("r:\x00:beta".into())
        );
    }
}
