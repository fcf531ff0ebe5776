//! Node taints and pod tolerations: the value types, the toleration-matching rule
//! (`Toleration.ToleratesTaint` upstream), and the helpers the scheduler's TaintToleration
//! plugin and the NoExecute taint-eviction controller build on. Well-known taint keys the node
//! lifecycle controller applies live here too.

use std::fmt;

use serde::de::IntoDeserializer;
use serde::{Deserialize, Deserializer, Serialize};

/// Node is not ready (Ready condition False).
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Node controller lost contact with the node (Ready condition Unknown).
pub const TAINT_NODE_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Node is cordoned (`spec.unschedulable`).
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Kubelet reports memory pressure.
pub const TAINT_NODE_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// Kubelet reports disk pressure.
pub const TAINT_NODE_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// Kubelet reports PID pressure.
pub const TAINT_NODE_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// Node network is not configured.
pub const TAINT_NODE_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
/// Node was marked out of service by an operator (non-graceful shutdown handling).
pub const TAINT_NODE_OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

/// What a taint does to pods that do not tolerate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaintEffect {
    /// New pods are not scheduled onto the node; running pods stay.
    NoSchedule,
    /// The scheduler avoids the node when it can (a scoring penalty, not a filter).
    PreferNoSchedule,
    /// New pods are not scheduled and running pods are evicted (after their toleration time).
    NoExecute,
}

impl TaintEffect {
    /// The effect as spelled in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node taint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value; may be empty.
    #[serde(default)]
    pub value: String,
    /// Effect on pods that do not tolerate the taint.
    pub effect: TaintEffect,
    /// When the taint was added (RFC 3339); only kept for NoExecute taints upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
}

impl Taint {
    /// A taint without `timeAdded`.
    pub fn new(key: impl Into<String>, value: impl Into<String>, effect: TaintEffect) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            effect,
            time_added: None,
        }
    }

    /// Whether `other` is the same taint slot: a node holds at most one taint per key and
    /// effect, so value and time are ignored (upstream `MatchTaint`).
    pub fn matches_taint(&self, other: &Taint) -> bool {
        self.key == other.key && self.effect == other.effect
    }
}

impl fmt::Display for Taint {
    /// `key=value:Effect`, or `key:Effect` when the value is empty (the `kubectl taint` form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect)
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect)
        }
    }
}

/// How a toleration compares its value with a taint's.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum TolerationOperator {
    /// Values must be equal. The default, and what an empty `operator: ""` means.
    #[default]
    #[serde(alias = "")]
    Equal,
    /// Any value; the toleration's own value should be empty.
    Exists,
}

/// A pod toleration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Toleration {
    /// Taint key to tolerate; empty with `Exists` means every key.
    pub key: String,
    /// Value comparison; `Equal` when omitted.
    pub operator: TolerationOperator,
    /// Value to compare for `Equal`.
    pub value: String,
    /// Effect to tolerate; `None` (omitted or `""`) tolerates every effect.
    #[serde(
        deserialize_with = "deserialize_optional_effect",
        skip_serializing_if = "Option::is_none"
    )]
    pub effect: Option<TaintEffect>,
    /// For NoExecute taints: how long the pod stays bound after the taint appears. `None` means
    /// forever; zero or negative means evict at once. Ignored for other effects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

/// Reads an optional effect where the empty string, as some manifests write, means "all effects".
fn deserialize_optional_effect<'de, D>(deserializer: D) -> Result<Option<TaintEffect>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => TaintEffect::deserialize(s.into_deserializer()).map(Some),
    }
}

impl Toleration {
    /// Whether this toleration tolerates `taint`, exactly as upstream `ToleratesTaint`:
    /// - a set effect must equal the taint's; no effect tolerates all effects;
    /// - a non-empty key must equal the taint's; an empty key matches every key (API
    ///   validation only allows that with `Exists`, but the rule itself does not check);
    /// - `Exists` ignores values, `Equal` needs the values equal (both may be empty).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => true,
            TolerationOperator::Equal => self.value == taint.value,
        }
    }

    /// Whether `other` is the same toleration ignoring `tolerationSeconds` (upstream
    /// `MatchToleration`), used when merging toleration lists.
    pub fn matches_toleration(&self, other: &Toleration) -> bool {
        self.key == other.key
            && self.effect == other.effect
            && self.operator == other.operator
            && self.value == other.value
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerations_tolerate_taint(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// The first taint, in node order, whose effect is one of `effects` and that no toleration
/// tolerates; `None` if every such taint is tolerated. Taints with other effects are skipped,
/// so an empty `effects` never finds one. The scheduler's filter passes
/// `[NoSchedule, NoExecute]`; PreferNoSchedule only affects scoring.
pub fn find_untolerated_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    effects: &[TaintEffect],
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect))
        .find(|t| !tolerations_tolerate_taint(tolerations, t))
}

/// How many taints with an effect in `effects` are not tolerated. The scheduler's
/// TaintToleration score counts untolerated PreferNoSchedule taints this way.
pub fn count_untolerated_taints(
    taints: &[Taint],
    tolerations: &[Toleration],
    effects: &[TaintEffect],
) -> usize {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect) && !tolerations_tolerate_taint(tolerations, t))
        .count()
}

/// How many seconds a pod may stay on a node carrying `taints` before the NoExecute taint
/// manager evicts it, following upstream's `GetMatchingTolerations` + `getMinTolerationTime`.
/// Only `NoExecute` taints are considered.
///
/// - `None`: no eviction — the node has no NoExecute taint, or every one is tolerated by a
///   toleration without `tolerationSeconds` (tolerated forever).
/// - `Some(0)`: evict now — some NoExecute taint is not tolerated, or the toleration used for
///   one has `tolerationSeconds` ≤ 0 (negative values are treated as 0).
/// - `Some(n)`: evict after `n` seconds, the smallest `tolerationSeconds` among the tolerations
///   used.
///
/// For each taint only the *first* tolerating toleration (in pod order) is used, as upstream
/// does: a later toleration with a shorter or longer time for the same taint is not consulted.
pub fn min_toleration_seconds(tolerations: &[Toleration], taints: &[Taint]) -> Option<u64> {
    let mut min: Option<u64> = None;
    for taint in taints.iter().filter(|t| t.effect == TaintEffect::NoExecute) {
        let Some(used) = tolerations.iter().find(|t| t.tolerates(taint)) else {
            // One untolerated NoExecute taint is enough to evict at once.
            return Some(0);
        };
        let Some(secs) = used.toleration_seconds else {
            continue;
        };
        let secs = u64::try_from(secs).unwrap_or(0);
        if secs == 0 {
            return Some(0);
        }
        min = Some(min.map_or(secs, |m| m.min(secs)));
    }
    min
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tol(
        key: &str,
        op: TolerationOperator,
        value: &str,
        effect: Option<TaintEffect>,
    ) -> Toleration {
        Toleration {
            key: key.to_owned(),
            operator: op,
            value: value.to_owned(),
            effect,
            toleration_seconds: None,
        }
    }

    fn with_secs(mut t: Toleration, secs: i64) -> Toleration {
        t.toleration_seconds = Some(secs);
        t
    }

    use TaintEffect::{NoExecute, NoSchedule, PreferNoSchedule};
    use TolerationOperator::{Equal, Exists};

    #[test]
    fn equal_operator_compares_values() {
        let taint = Taint::new("dedicated", "gpu", NoSchedule);
        assert!(tol("dedicated", Equal, "gpu", Some(NoSchedule)).tolerates(&taint));
        // Different value: Equal fails.
        assert!(!tol("dedicated", Equal, "cpu", Some(NoSchedule)).tolerates(&taint));
        // Different key: fails before values are looked at.
        assert!(!tol("other", Equal, "gpu", Some(NoSchedule)).tolerates(&taint));
        // Empty value only equals an empty taint value.
        assert!(tol("k", Equal, "", Some(NoSchedule)).tolerates(&Taint::new("k", "", NoSchedule)));
    }

    #[test]
    fn exists_operator_ignores_value() {
        let taint = Taint::new("dedicated", "gpu", NoExecute);
        assert!(tol("dedicated", Exists, "", Some(NoExecute)).tolerates(&taint));
        // Exists ignores even a (mis)set toleration value.
        assert!(tol("dedicated", Exists, "whatever", Some(NoExecute)).tolerates(&taint));
        assert!(!tol("other", Exists, "", Some(NoExecute)).tolerates(&taint));
    }

    #[test]
    fn exists_with_empty_key_tolerates_every_key() {
        let any = tol("", Exists, "", None);
        // Empty key + Exists + no effect tolerates everything.
        assert!(any.tolerates(&Taint::new("a", "1", NoSchedule)));
        assert!(any.tolerates(&Taint::new("b", "", NoExecute)));
        assert!(any.tolerates(&Taint::new(TAINT_NODE_UNREACHABLE, "", PreferNoSchedule)));
        // With an effect it still matches every key, but only that effect.
        let ns = tol("", Exists, "", Some(NoSchedule));
        assert!(ns.tolerates(&Taint::new("zzz", "", NoSchedule)));
        assert!(!ns.tolerates(&Taint::new("zzz", "", NoExecute)));
    }

    #[test]
    fn empty_key_with_equal_compares_values_only() {
        // Upstream's rule does not forbid this (validation does): any key, values must match.
        let t = tol("", Equal, "v", None);
        assert!(t.tolerates(&Taint::new("anything", "v", NoSchedule)));
        assert!(!t.tolerates(&Taint::new("anything", "w", NoSchedule)));
    }

    #[test]
    fn empty_effect_tolerates_each_effect() {
        let t = tol("k", Exists, "", None);
        // No effect on the toleration: each of the three effects is tolerated.
        for effect in [NoSchedule, PreferNoSchedule, NoExecute] {
            assert!(t.tolerates(&Taint::new("k", "", effect)), "{effect}");
        }
    }

    #[test]
    fn set_effect_must_match_each_effect() {
        // A NoSchedule toleration does not cover PreferNoSchedule or NoExecute.
        let t = tol("k", Exists, "", Some(NoSchedule));
        assert!(t.tolerates(&Taint::new("k", "", NoSchedule)));
        assert!(!t.tolerates(&Taint::new("k", "", PreferNoSchedule)));
        assert!(!t.tolerates(&Taint::new("k", "", NoExecute)));
        let p = tol("k", Exists, "", Some(PreferNoSchedule));
        assert!(p.tolerates(&Taint::new("k", "", PreferNoSchedule)));
        let e = tol("k", Exists, "", Some(NoExecute));
        assert!(e.tolerates(&Taint::new("k", "", NoExecute)));
        assert!(!e.tolerates(&Taint::new("k", "", NoSchedule)));
    }

    #[test]
    fn find_untolerated_respects_effect_filter() {
        let taints = [
            Taint::new("soft", "", PreferNoSchedule),
            Taint::new("a", "", NoSchedule),
            Taint::new("b", "", NoExecute),
        ];
        let tolerations = [tol("a", Exists, "", None)];
        let filter = [NoSchedule, NoExecute];
        // `soft` is filtered out, `a` is tolerated, so `b` is the first untolerated.
        assert_eq!(
            find_untolerated_taint(&taints, &tolerations, &filter),
            Some(&taints[2])
        );
        // Tolerating everything leaves nothing.
        assert_eq!(
            find_untolerated_taint(&taints, &[tol("", Exists, "", None)], &filter),
            None
        );
        // An empty filter considers no taint at all.
        assert_eq!(find_untolerated_taint(&taints, &[], &[]), None);
        // Only PreferNoSchedule counts for scoring: one untolerated.
        assert_eq!(
            count_untolerated_taints(&taints, &tolerations, &[PreferNoSchedule]),
            1
        );
        assert!(tolerations_tolerate_taint(&tolerations, &taints[1]));
        assert!(!tolerations_tolerate_taint(&tolerations, &taints[2]));
    }

    #[test]
    fn min_toleration_seconds_semantics() {
        let not_ready = Taint::new(TAINT_NODE_NOT_READY, "", NoExecute);
        let unreachable = Taint::new(TAINT_NODE_UNREACHABLE, "", NoExecute);
        let taints = [not_ready.clone(), unreachable.clone()];

        // No tolerations: evict now.
        assert_eq!(min_toleration_seconds(&[], &taints), Some(0));
        // One taint untolerated: evict now, even though the other is tolerated forever.
        let only_nr = [tol(TAINT_NODE_NOT_READY, Exists, "", Some(NoExecute))];
        assert_eq!(min_toleration_seconds(&only_nr, &taints), Some(0));
        // All tolerated without seconds: never evicted.
        assert_eq!(
            min_toleration_seconds(&[tol("", Exists, "", None)], &taints),
            None
        );
        // Minimum over the tolerations used: 300 and 60 give 60.
        let timed = [
            with_secs(tol(TAINT_NODE_NOT_READY, Exists, "", Some(NoExecute)), 300),
            with_secs(tol(TAINT_NODE_UNREACHABLE, Exists, "", Some(NoExecute)), 60),
        ];
        assert_eq!(min_toleration_seconds(&timed, &taints), Some(60));
        // A forever toleration for one taint does not lift the other's limit.
        let mixed = [
            tol(TAINT_NODE_NOT_READY, Exists, "", None),
            with_secs(tol(TAINT_NODE_UNREACHABLE, Exists, "", None), 30),
        ];
        assert_eq!(min_toleration_seconds(&mixed, &taints), Some(30));
        // Negative seconds clamp to 0: evict now.
        let negative = [with_secs(tol("", Exists, "", None), -5)];
        assert_eq!(min_toleration_seconds(&negative, &taints), Some(0));
        // Only the first tolerating toleration counts: the later 10s one is not consulted.
        let first_wins = [
            tol(TAINT_NODE_NOT_READY, Exists, "", None),
            with_secs(tol(TAINT_NODE_NOT_READY, Exists, "", None), 10),
        ];
        assert_eq!(
            min_toleration_seconds(&first_wins, std::slice::from_ref(&not_ready)),
            None
        );
        // Non-NoExecute taints never cause eviction.
        let soft = [Taint::new("x", "", NoSchedule)];
        assert_eq!(min_toleration_seconds(&[], &soft), None);
        assert_eq!(min_toleration_seconds(&[], &[]), None);
    }

    #[test]
    fn matching_helpers_and_display() {
        let a = Taint::new("k", "v1", NoSchedule);
        let b = Taint::new("k", "v2", NoSchedule);
        // Same key and effect is the same taint slot, whatever the value.
        assert!(a.matches_taint(&b));
        assert!(!a.matches_taint(&Taint::new("k", "v1", NoExecute)));
        assert_eq!(a.to_string(), "k=v1:NoSchedule");
        assert_eq!(Taint::new("k", "", NoExecute).to_string(), "k:NoExecute");
        let t1 = with_secs(tol("k", Equal, "v", Some(NoExecute)), 5);
        let t2 = tol("k", Equal, "v", Some(NoExecute));
        // tolerationSeconds is not part of a toleration's identity.
        assert!(t1.matches_toleration(&t2));
        assert!(!t1.matches_toleration(&tol("k", Exists, "v", Some(NoExecute))));
    }

    #[test]
    fn serde_names_defaults_and_empty_effect() {
        let taint: Taint = serde_json::from_str(
            r#"{"key":"k","effect":"NoExecute","timeAdded":"2024-01-01T00:00:00Z","extra":true}"#,
        )
        .expect("taint json");
        // Value defaults to empty; unknown fields are ignored.
        assert_eq!(taint.value, "");
        assert_eq!(taint.time_added.as_deref(), Some("2024-01-01T00:00:00Z"));

        let t: Toleration =
            serde_json::from_str(r#"{"key":"k","tolerationSeconds":30}"#).expect("toleration json");
        // Operator defaults to Equal, effect to all.
        assert_eq!(t.operator, Equal);
        assert_eq!(t.effect, None);
        assert_eq!(t.toleration_seconds, Some(30));

        let t: Toleration =
            serde_json::from_str(r#"{"operator":"Exists","effect":""}"#).expect("empty effect");
        // `effect: ""` means all effects.
        assert_eq!(t.effect, None);
        assert_eq!(t.operator, Exists);
        let t: Toleration =
            serde_json::from_str(r#"{"operator":"","effect":"PreferNoSchedule"}"#).expect("ok");
        // `operator: ""` is Equal.
        assert_eq!(t.operator, Equal);
        assert_eq!(t.effect, Some(PreferNoSchedule));
        assert!(serde_json::from_str::<Toleration>(r#"{"effect":"Sometimes"}"#).is_err());

        let out = serde_json::to_value(with_secs(tol("k", Exists, "", Some(NoExecute)), 7))
            .expect("serialise");
        assert_eq!(out["tolerationSeconds"], 7);
        assert_eq!(out["effect"], "NoExecute");
    }
}
