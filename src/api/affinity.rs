//! Pod affinity types (`spec.affinity`): node affinity with its node selector terms, and pod
//! (anti-)affinity terms. Node selector matching follows component-helpers' `nodeaffinity`
//! package, corner cases included; pod (anti-)affinity is data only here, since evaluating it
//! needs the cluster's pods and belongs to the scheduler.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::labels::{
    LabelKeyError, LabelSelector, LabelValueError, Labels, validate_label_key, validate_label_value,
};

/// The only field node selector `matchFields` can test.
pub const NODE_FIELD_METADATA_NAME: &str = "metadata.name";

/// `spec.affinity` of a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Affinity {
    /// Constraints on the node's labels and name.
    pub node_affinity: Option<NodeAffinity>,
    /// Co-locate with pods matching the terms.
    pub pod_affinity: Option<PodAffinity>,
    /// Keep away from pods matching the terms.
    pub pod_anti_affinity: Option<PodAntiAffinity>,
}

/// Node affinity: a hard node selector and soft, weighted preferences.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeAffinity {
    /// The node must match this selector; `None` places no constraint.
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    /// Each matching term adds its weight to the node's score.
    pub preferred_during_scheduling_ignored_during_execution: Vec<PreferredSchedulingTerm>,
}

impl NodeAffinity {
    /// Whether the required part admits the node; no required selector admits every node.
    pub fn required_matches(&self, node_name: &str, node_labels: &Labels) -> bool {
        self.required_during_scheduling_ignored_during_execution
            .as_ref()
            .is_none_or(|s| s.matches(node_name, node_labels))
    }

    /// Sum of the weights of matching preferred terms. Terms with weight 0 or no requirements
    /// are skipped, as upstream does. An invalid term contributes nothing here, whereas
    /// upstream fails the pod's scoring step; use [`NodeSelectorTerm::validate`] to catch that.
    pub fn preferred_score(&self, node_name: &str, node_labels: &Labels) -> i64 {
        self.preferred_during_scheduling_ignored_during_execution
            .iter()
            .filter(|p| p.weight != 0 && p.preference.matches(node_name, node_labels))
            .map(|p| i64::from(p.weight))
            .sum()
    }
}

/// A node selector: the OR of its terms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSelector {
    /// At least one term must match.
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

impl NodeSelector {
    /// Whether some term matches the node. No terms, or only empty or invalid terms, match
    /// nothing. An invalid term does not stop a later valid term from matching (upstream's lazy
    /// error handling reports parse errors only when nothing matched).
    pub fn matches(&self, node_name: &str, node_labels: &Labels) -> bool {
        self.node_selector_terms
            .iter()
            .any(|t| t.matches(node_name, node_labels))
    }

    /// The first problem in any non-empty term, as upstream's strict `NewNodeSelector` would
    /// report it. Empty terms are not errors; they just never match.
    pub fn validate(&self) -> Result<(), NodeSelectorError> {
        self.node_selector_terms
            .iter()
            .try_for_each(NodeSelectorTerm::validate)
    }
}

/// A node selector term: the AND of its label expressions and field expressions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on node fields; only `metadata.name` with `In` / `NotIn` and one value.
    pub match_fields: Vec<NodeSelectorRequirement>,
}

impl NodeSelectorTerm {
    /// No expressions and no fields.
    pub fn is_empty(&self) -> bool {
        self.match_expressions.is_empty() && self.match_fields.is_empty()
    }

    /// Whether the node satisfies every expression and every field requirement.
    ///
    /// Corner cases, all as upstream:
    /// - an empty term matches nothing (not everything);
    /// - a term with any invalid requirement matches nothing, even if the rest would match;
    /// - `matchFields` are not checked when `node_name` is empty, because upstream builds the
    ///   node's field set only from a non-empty name and skips field matching on an empty set.
    pub fn matches(&self, node_name: &str, node_labels: &Labels) -> bool {
        if self.is_empty() || self.validate().is_err() {
            return false;
        }
        let labels_ok = self
            .match_expressions
            .iter()
            .all(|r| r.matches_valid_labels(node_labels));
        let fields_ok = node_name.is_empty()
            || self
                .match_fields
                .iter()
                .all(|r| r.matches_valid_fields(node_name));
        labels_ok && fields_ok
    }

    /// The first invalid requirement of the term, label expressions first.
    pub fn validate(&self) -> Result<(), NodeSelectorError> {
        self.match_expressions
            .iter()
            .try_for_each(NodeSelectorRequirement::validate_as_label)?;
        self.match_fields
            .iter()
            .try_for_each(NodeSelectorRequirement::validate_as_field)
    }
}

/// Operator of a [`NodeSelectorRequirement`], spelled as in manifests.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum NodeSelectorOperator {
    /// The label is present with one of the values. Also what an omitted operator reads as;
    /// without values that requirement is invalid, so it matches nothing.
    #[default]
    In,
    /// The label is absent or has none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label is present with an integer value greater than the single value.
    Gt,
    /// The label is present with an integer value less than the single value.
    Lt,
}

impl NodeSelectorOperator {
    /// The operator as spelled in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "In",
            Self::NotIn => "NotIn",
            Self::Exists => "Exists",
            Self::DoesNotExist => "DoesNotExist",
            Self::Gt => "Gt",
            Self::Lt => "Lt",
        }
    }
}

impl std::fmt::Display for NodeSelectorOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a node selector requirement is invalid (and so its term never matches).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum NodeSelectorError {
    /// The label key is not a qualified name.
    #[error("invalid label key {key:?}: {source}")]
    InvalidKey {
        /// The offending key.
        key: String,
        /// What is wrong with it.
        source: LabelKeyError,
    },
    /// A value is not a valid label value.
    #[error("invalid value {value:?} for label key {key:?}: {source}")]
    InvalidValue {
        /// The requirement's key.
        key: String,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        source: LabelValueError,
    },
    /// `In` / `NotIn` on labels without values.
    #[error("key {key:?}: operator {operator} needs at least one value")]
    EmptyValues {
        /// The requirement's key.
        key: String,
        /// The operator.
        operator: NodeSelectorOperator,
    },
    /// `Exists` / `DoesNotExist` with values.
    #[error("key {key:?}: operator {operator} takes no values (got {count})")]
    UnexpectedValues {
        /// The requirement's key.
        key: String,
        /// The operator.
        operator: NodeSelectorOperator,
        /// How many values were given.
        count: usize,
    },
    /// `Gt` / `Lt`, or any field requirement, with other than exactly one value.
    #[error("key {key:?}: operator {operator} needs exactly one value (got {count})")]
    NeedsOneValue {
        /// The requirement's key.
        key: String,
        /// The operator.
        operator: NodeSelectorOperator,
        /// How many values were given.
        count: usize,
    },
    /// `Gt` / `Lt` with a value that is not a base-10 64-bit integer.
    #[error("key {key:?}: operator {operator} needs an integer value (got {value:?})")]
    NotAnInteger {
        /// The requirement's key.
        key: String,
        /// The operator.
        operator: NodeSelectorOperator,
        /// The offending value.
        value: String,
    },
    /// A `matchFields` operator other than `In` / `NotIn`.
    #[error("field {key:?}: operator {operator} is not supported for matchFields (only In, NotIn)")]
    UnsupportedFieldOperator {
        /// The field.
        key: String,
        /// The operator.
        operator: NodeSelectorOperator,
    },
    /// A `matchFields` key other than `metadata.name`.
    #[error("field {key:?} is not supported for matchFields (only metadata.name)")]
    UnsupportedField {
        /// The field.
        key: String,
    },
}

/// A requirement on a node label (in `matchExpressions`) or a node field (in `matchFields`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSelectorRequirement {
    /// Label key, or field path for `matchFields`.
    pub key: String,
    /// How the value is tested.
    pub operator: NodeSelectorOperator,
    /// Values: one or more for `In` / `NotIn`, none for `Exists` / `DoesNotExist`, exactly one
    /// integer for `Gt` / `Lt`.
    pub values: Vec<String>,
}

impl NodeSelectorRequirement {
    /// Checks the requirement as a label expression, as upstream's `NewRequirement` does.
    pub fn validate_as_label(&self) -> Result<(), NodeSelectorError> {
        use NodeSelectorOperator as Op;
        let key = &self.key;
        validate_label_key(key).map_err(|source| NodeSelectorError::InvalidKey {
            key: key.clone(),
            source,
        })?;
        let count = self.values.len();
        match self.operator {
            Op::In | Op::NotIn if count == 0 => {
                return Err(NodeSelectorError::EmptyValues {
                    key: key.clone(),
                    operator: self.operator,
                });
            }
            Op::Exists | Op::DoesNotExist if count != 0 => {
                return Err(NodeSelectorError::UnexpectedValues {
                    key: key.clone(),
                    operator: self.operator,
                    count,
                });
            }
            Op::Gt | Op::Lt if count != 1 => {
                return Err(NodeSelectorError::NeedsOneValue {
                    key: key.clone(),
                    operator: self.operator,
                    count,
                });
            }
            Op::Gt | Op::Lt => {
                if let Some(v) = self.values.iter().find(|v| v.parse::<i64>().is_err()) {
                    return Err(NodeSelectorError::NotAnInteger {
                        key: key.clone(),
                        operator: self.operator,
                        value: v.clone(),
                    });
                }
            }
            _ => {}
        }
        for value in &self.values {
            validate_label_value(value).map_err(|source| NodeSelectorError::InvalidValue {
                key: key.clone(),
                value: value.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Checks the requirement as a field expression: `metadata.name`, `In` / `NotIn`, one value.
    pub fn validate_as_field(&self) -> Result<(), NodeSelectorError> {
        if !matches!(
            self.operator,
            NodeSelectorOperator::In | NodeSelectorOperator::NotIn
        ) {
            return Err(NodeSelectorError::UnsupportedFieldOperator {
                key: self.key.clone(),
                operator: self.operator,
            });
        }
        if self.values.len() != 1 {
            return Err(NodeSelectorError::NeedsOneValue {
                key: self.key.clone(),
                operator: self.operator,
                count: self.values.len(),
            });
        }
        // Upstream's matcher would read any other field as empty; the API rejects such keys,
        // so they are treated as invalid here rather than silently matching `NotIn`.
        if self.key != NODE_FIELD_METADATA_NAME {
            return Err(NodeSelectorError::UnsupportedField {
                key: self.key.clone(),
            });
        }
        Ok(())
    }

    /// Whether the node's labels satisfy this requirement as a label expression. An invalid
    /// requirement matches nothing. `NotIn` and `DoesNotExist` hold when the key is absent;
    /// `Gt` / `Lt` need the key present and both sides base-10 integers — a non-integer label
    /// value (or requirement value) means no match.
    pub fn matches(&self, node_labels: &Labels) -> bool {
        self.validate_as_label().is_ok() && self.matches_valid_labels(node_labels)
    }

    /// Whether a node named `node_name` satisfies this requirement as a field expression
    /// (`metadata.name In [x]` means the name is `x`, `NotIn` the opposite). An invalid
    /// requirement matches nothing.
    pub fn matches_fields(&self, node_name: &str) -> bool {
        self.validate_as_field().is_ok() && self.matches_valid_fields(node_name)
    }

    fn matches_valid_labels(&self, node_labels: &Labels) -> bool {
        use NodeSelectorOperator as Op;
        let actual = node_labels.get(&self.key);
        match self.operator {
            Op::In => actual.is_some_and(|v| self.values.contains(v)),
            Op::NotIn => actual.is_none_or(|v| !self.values.contains(v)),
            Op::Exists => actual.is_some(),
            Op::DoesNotExist => actual.is_none(),
            Op::Gt | Op::Lt => {
                let Some(Ok(have)) = actual.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let Some(Ok(bound)) = self.values.first().map(|v| v.parse::<i64>()) else {
                    return false;
                };
                if self.operator == Op::Gt {
                    have > bound
                } else {
                    have < bound
                }
            }
        }
    }

    fn matches_valid_fields(&self, node_name: &str) -> bool {
        let wanted = self.values.first().map(String::as_str);
        match self.operator {
            NodeSelectorOperator::NotIn => wanted != Some(node_name),
            _ => wanted == Some(node_name),
        }
    }
}

/// A weighted node preference.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PreferredSchedulingTerm {
    /// Weight added to a matching node's score (1–100 in valid manifests).
    pub weight: i32,
    /// The term a node must match to earn the weight.
    pub preference: NodeSelectorTerm,
}

/// A pod (anti-)affinity term: pods matching `label_selector` in the chosen namespaces, grouped
/// by the nodes' `topology_key` label.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodAffinityTerm {
    /// Which pods the term is about; `None` selects no pods (upstream's nil selector).
    pub label_selector: Option<LabelSelector>,
    /// Namespaces to look in; with no `namespace_selector` either, the pod's own namespace.
    pub namespaces: Vec<String>,
    /// Node label whose equal values make one topology domain (e.g. `kubernetes.io/hostname`).
    pub topology_key: String,
    /// Namespaces selected by their labels, added to `namespaces`; an empty selector means all.
    pub namespace_selector: Option<LabelSelector>,
    /// Keys whose values on the incoming pod are added to the selector as `key In (value)`.
    pub match_label_keys: Vec<String>,
    /// Keys whose values on the incoming pod are added to the selector as `key NotIn (value)`.
    pub mismatch_label_keys: Vec<String>,
}

/// A pod affinity term with a weight, for the preferred lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WeightedPodAffinityTerm {
    /// Weight added (affinity) or subtracted (anti-affinity) per matching pod's node (1–100).
    pub weight: i32,
    /// The term.
    pub pod_affinity_term: PodAffinityTerm,
}

/// Pod affinity: be placed in a topology domain with pods matching the terms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodAffinity {
    /// Every term must be satisfied.
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Weighted preferences.
    pub preferred_during_scheduling_ignored_during_execution: Vec<WeightedPodAffinityTerm>,
}

/// Pod anti-affinity: stay out of topology domains holding pods matching the terms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodAntiAffinity {
    /// Every term must be satisfied.
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Weighted preferences.
    pub preferred_during_scheduling_ignored_during_execution: Vec<WeightedPodAffinityTerm>,
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::api::test_util::{fields, labels, req, term};
    use NodeSelectorOperator::{DoesNotExist, Exists, Gt, In, Lt, NotIn};

    #[test]
    fn in_operator() {
        let r = req("zone", In, &["a", "b"]);
        assert!(r.matches(&labels(&[("zone", "b")])), "listed value");
        assert!(!r.matches(&labels(&[("zone", "c")])), "unlisted value");
        assert!(!r.matches(&Labels::new()), "In needs the key present");
        // In with no values is invalid, so it matches nothing.
        assert!(!req("zone", In, &[]).matches(&labels(&[("zone", "")])));
    }

    #[test]
    fn not_in_operator_matches_absent_key() {
        let r = req("zone", NotIn, &["a"]);
        // Absent key has no excluded value: match.
        assert!(r.matches(&Labels::new()));
        assert!(r.matches(&labels(&[("zone", "b")])));
        assert!(!r.matches(&labels(&[("zone", "a")])));
    }

    #[test]
    fn exists_and_does_not_exist() {
        let node = labels(&[("gpu", "")]);
        // Present with an empty value still exists.
        assert!(req("gpu", Exists, &[]).matches(&node));
        assert!(!req("gpu", DoesNotExist, &[]).matches(&node));
        assert!(req("gpu", DoesNotExist, &[]).matches(&Labels::new()));
        assert!(!req("gpu", Exists, &[]).matches(&Labels::new()));
        // Values on Exists make it invalid: matches nothing.
        assert!(!req("gpu", Exists, &["x"]).matches(&node));
    }

    #[test]
    fn gt_and_lt_compare_integers() {
        let node = labels(&[("cores", "8"), ("name", "big")]);
        assert!(req("cores", Gt, &["4"]).matches(&node), "8 > 4");
        assert!(!req("cores", Gt, &["8"]).matches(&node), "strict");
        assert!(req("cores", Lt, &["16"]).matches(&node), "8 < 16");
        assert!(!req("cores", Lt, &["-3"]).matches(&node));
        // Non-integer label value: no match.
        assert!(!req("name", Gt, &["1"]).matches(&node));
        // Non-integer requirement value: invalid, no match (even for Lt, which 8 would pass).
        assert!(!req("cores", Lt, &["many"]).matches(&node));
        assert_eq!(
            req("cores", Gt, &["1.5"]).validate_as_label(),
            Err(NodeSelectorError::NotAnInteger {
                key: "cores".into(),
                operator: Gt,
                value: "1.5".into()
            })
        );
        // Two values: invalid.
        assert!(!req("cores", Gt, &["1", "2"]).matches(&node));
        // Absent key: no match.
        assert!(!req("memory", Lt, &["10"]).matches(&node));
    }

    #[test]
    fn empty_term_matches_nothing() {
        let empty = NodeSelectorTerm::default();
        // An empty term is "select nothing", not "select everything".
        assert!(!empty.matches("node-a", &labels(&[("a", "b")])));
        let sel = NodeSelector {
            node_selector_terms: vec![empty.clone()],
        };
        assert!(!sel.matches("node-a", &Labels::new()));
        // A selector with no terms matches nothing either.
        assert!(!NodeSelector::default().matches("node-a", &Labels::new()));
        // An empty term is not a validation error.
        assert_eq!(sel.validate(), Ok(()));
    }

    #[test]
    fn terms_are_or_and_expressions_are_and() {
        let sel = NodeSelector {
            node_selector_terms: vec![
                term(vec![req("zone", In, &["a"]), req("disk", In, &["ssd"])]),
                term(vec![req("zone", In, &["b"])]),
            ],
        };
        // First term: both expressions hold.
        assert!(sel.matches("n", &labels(&[("zone", "a"), ("disk", "ssd")])));
        // First term needs both; second term needs zone b: neither.
        assert!(!sel.matches("n", &labels(&[("zone", "a"), ("disk", "hdd")])));
        // Second term alone suffices.
        assert!(sel.matches("n", &labels(&[("zone", "b")])));
    }

    #[test]
    fn invalid_term_only_disables_itself() {
        let sel = NodeSelector {
            node_selector_terms: vec![
                // Invalid (In without values) alongside a true expression: the term fails.
                term(vec![req("zone", Exists, &[]), req("x", In, &[])]),
                term(vec![req("zone", In, &["b"])]),
            ],
        };
        let node = labels(&[("zone", "b")]);
        assert!(!sel.node_selector_terms[0].matches("n", &node));
        // The later valid term still matches.
        assert!(sel.matches("n", &node));
        assert_eq!(
            sel.validate(),
            Err(NodeSelectorError::EmptyValues {
                key: "x".into(),
                operator: In
            })
        );
    }

    #[test]
    fn match_fields_metadata_name() {
        let in_term = fields(vec![req("metadata.name", In, &["node-a"])]);
        assert!(in_term.matches("node-a", &Labels::new()));
        assert!(!in_term.matches("node-b", &Labels::new()));
        let not_in = fields(vec![req("metadata.name", NotIn, &["node-a"])]);
        assert!(!not_in.matches("node-a", &Labels::new()));
        assert!(not_in.matches("node-b", &Labels::new()));
        // Fields and expressions are ANDed within a term.
        let both = NodeSelectorTerm {
            match_expressions: vec![req("zone", In, &["a"])],
            match_fields: vec![req("metadata.name", In, &["node-a"])],
        };
        assert!(both.matches("node-a", &labels(&[("zone", "a")])));
        assert!(!both.matches("node-a", &labels(&[("zone", "b")])));
        assert!(!both.matches("node-b", &labels(&[("zone", "a")])));
    }

    #[test]
    fn match_fields_invalid_forms_match_nothing() {
        // Only metadata.name is supported.
        let other = req("spec.unschedulable", NotIn, &["true"]);
        assert!(!other.matches_fields("node-a"));
        assert_eq!(
            other.validate_as_field(),
            Err(NodeSelectorError::UnsupportedField {
                key: "spec.unschedulable".into()
            })
        );
        // Exactly one value.
        assert!(!req("metadata.name", In, &["a", "b"]).matches_fields("a"));
        // Only In / NotIn.
        assert_eq!(
            req("metadata.name", Exists, &[]).validate_as_field(),
            Err(NodeSelectorError::UnsupportedFieldOperator {
                key: "metadata.name".into(),
                operator: Exists
            })
        );
        assert!(req("metadata.name", In, &["a"]).matches_fields("a"));
    }

    #[test]
    fn match_fields_skipped_for_unnamed_node() {
        // Upstream builds no field set for a node without a name and then skips matchFields.
        let t = fields(vec![req("metadata.name", In, &["node-a"])]);
        assert!(t.matches("", &Labels::new()));
    }

    #[test]
    fn invalid_label_key_or_value_matches_nothing() {
        // `NotIn` would hold for an absent key, but the key is invalid.
        assert!(!req("bad key", NotIn, &["x"]).matches(&Labels::new()));
        assert!(matches!(
            req("zone", NotIn, &["bad value"]).validate_as_label(),
            Err(NodeSelectorError::InvalidValue { .. })
        ));
        // Omitted operator defaults to In, which needs values: invalid.
        let r: NodeSelectorRequirement =
            serde_json::from_str(r#"{"key":"zone"}"#).expect("operator may be omitted");
        assert_eq!(r.operator, In);
        assert!(!r.matches(&labels(&[("zone", "a")])));
    }

    #[test]
    fn node_affinity_required_and_preferred() {
        let na = NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![term(vec![req("zone", In, &["a", "b"])])],
            }),
            preferred_during_scheduling_ignored_during_execution: vec![
                PreferredSchedulingTerm {
                    weight: 10,
                    preference: term(vec![req("disk", In, &["ssd"])]),
                },
                PreferredSchedulingTerm {
                    weight: 5,
                    preference: term(vec![req("zone", In, &["a"])]),
                },
                // Empty preference never scores.
                PreferredSchedulingTerm {
                    weight: 50,
                    preference: NodeSelectorTerm::default(),
                },
            ],
        };
        let node = labels(&[("zone", "a"), ("disk", "ssd")]);
        assert!(na.required_matches("n", &node));
        assert!(!na.required_matches("n", &labels(&[("zone", "c")])));
        // 10 (disk) + 5 (zone) = 15; the empty term adds nothing.
        assert_eq!(na.preferred_score("n", &node), 15);
        assert_eq!(na.preferred_score("n", &labels(&[("zone", "b")])), 0);
        // No required selector admits every node.
        assert!(NodeAffinity::default().required_matches("n", &Labels::new()));
    }

    #[test]
    fn serde_uses_kubernetes_field_names() {
        let json = r#"{
          "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
              "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}],
                 "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n0"]}]}
              ]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
              {"weight": 3, "preference": {"matchExpressions": [{"key": "z", "operator": "Lt", "values": ["2"]}]}}
            ]
          },
          "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
              {"labelSelector": {"matchLabels": {"app": "web"}},
               "topologyKey": "kubernetes.io/hostname",
               "matchLabelKeys": ["pod-template-hash"],
               "unknownFutureField": {"x": 1}}
            ],
            "preferredDuringSchedulingIgnoredDuringExecution": [
              {"weight": 7, "podAffinityTerm": {"topologyKey": "zone",
               "namespaceSelector": {}, "mismatchLabelKeys": ["tenant"], "namespaces": ["a"]}}
            ]
          }
        }"#;
        let a: Affinity = serde_json::from_str(json).expect("affinity json");
        let na = a.node_affinity.as_ref().expect("node affinity present");
        let sel = na
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .expect("required present");
        // cores 8 > 4 and name n1 not in [n0]: match.
        assert!(sel.matches("n1", &labels(&[("cores", "8")])));
        assert!(!sel.matches("n0", &labels(&[("cores", "8")])));
        assert_eq!(
            na.preferred_during_scheduling_ignored_during_execution[0]
                .preference
                .match_expressions[0]
                .operator,
            Lt
        );
        assert!(a.pod_affinity.is_none());
        let anti = a.pod_anti_affinity.as_ref().expect("anti-affinity present");
        let t = &anti.required_during_scheduling_ignored_during_execution[0];
        assert_eq!(t.topology_key, "kubernetes.io/hostname");
        assert_eq!(t.match_label_keys, ["pod-template-hash"]);
        assert!(t.namespace_selector.is_none());
        let w = &anti.preferred_during_scheduling_ignored_during_execution[0];
        assert_eq!(w.weight, 7);
        // `namespaceSelector: {}` is present-and-empty, distinct from absent.
        assert_eq!(
            w.pod_affinity_term.namespace_selector,
            Some(LabelSelector::default())
        );
        assert_eq!(w.pod_affinity_term.mismatch_label_keys, ["tenant"]);
        // Round trip keeps everything.
        let back: Affinity =
            serde_json::from_str(&serde_json::to_string(&a).expect("serialise")).expect("parse");
        assert_eq!(back, a);
        // Everything defaults.
        let empty: Affinity = serde_json::from_str("{}").expect("empty");
        assert_eq!(empty, Affinity::default());
    }
}
