//! Labels and the three ways Kubernetes selects objects by them: the structured
//! `LabelSelector` found in manifests, the string selector syntax of `kubectl -l` and list
//! requests (parsed into [`Selector`]), and the string field selector syntax
//! (`metadata.name=x,spec.nodeName!=y`, parsed into [`FieldSelector`]).
//!
//! Semantics follow apimachinery's `labels`, `fields` and `LabelSelectorAsSelector` code,
//! including its corner cases, because controllers and the scheduler in the simulator must
//! select exactly the objects the real ones would.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An object's labels, in key order so iteration, hashing and printing are deterministic.
pub type Labels = super::sorted_map::SortedMap<String, String>;

/// Longest allowed label value, and longest allowed name part of a label key.
pub const MAX_LABEL_NAME_LEN: usize = 63;

/// Longest allowed prefix (DNS subdomain) of a label key.
pub const MAX_LABEL_PREFIX_LEN: usize = 253;

// ---------------------------------------------------------------------------------------------
// Key and value validity
// ---------------------------------------------------------------------------------------------

/// Why a string is not a valid label key (a Kubernetes "qualified name").
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LabelKeyError {
    /// More than one `/` in the key.
    #[error(
        "a key is an optional DNS subdomain prefix and '/' followed by a name; found more than one '/'"
    )]
    TooManySlashes,
    /// A `/` with nothing before it.
    #[error("prefix part must not be empty")]
    EmptyPrefix,
    /// The prefix is longer than 253 bytes.
    #[error("prefix part must be no more than 253 characters (got {0})")]
    PrefixTooLong(usize),
    /// The prefix is not a lowercase DNS subdomain.
    #[error(
        "prefix part must be a lowercase DNS subdomain: dot-separated parts of 'a-z', '0-9' and '-', each starting and ending with an alphanumeric"
    )]
    InvalidPrefix,
    /// Nothing after the prefix (or an empty key).
    #[error("name part must not be empty")]
    EmptyName,
    /// The name part is longer than 63 bytes.
    #[error("name part must be no more than 63 characters (got {0})")]
    NameTooLong(usize),
    /// The name part has characters outside `[-A-Za-z0-9_.]` or does not start and end alphanumeric.
    #[error(
        "name part must consist of alphanumerics, '-', '_' or '.', and must start and end with an alphanumeric"
    )]
    InvalidName,
}

/// Why a string is not a valid label value.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LabelValueError {
    /// Longer than 63 bytes.
    #[error("a label value must be no more than 63 characters (got {0})")]
    TooLong(usize),
    /// Characters outside `[-A-Za-z0-9_.]`, or not starting and ending alphanumeric.
    #[error(
        "a label value must be empty or consist of alphanumerics, '-', '_' or '.', and must start and end with an alphanumeric"
    )]
    Invalid,
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, the shape shared by key names and values.
fn is_qualified_token(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// One dot-separated part of a DNS-1123 subdomain: lowercase alphanumerics and `-`, not at the ends.
fn is_dns_label_part(s: &str) -> bool {
    let lower_alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            lower_alnum(first)
                && lower_alnum(last)
                && b.iter().all(|c| lower_alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

/// Whether `s` is a DNS-1123 label (a namespace's name, a service account's): 1–63 lowercase
/// alphanumerics and `-`, alphanumeric at both ends.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && is_dns_label_part(s)
}

/// Checks a label key: `[prefix/]name`, where the optional prefix is a lowercase DNS subdomain of
/// at most 253 bytes and the name is 1–63 bytes of `[-A-Za-z0-9_.]`, alphanumeric at both ends.
pub fn validate_label_key(key: &str) -> Result<(), LabelKeyError> {
    let mut parts = key.splitn(3, '/');
    let first = parts.next().unwrap_or_default();
    let (prefix, name) = match (parts.next(), parts.next()) {
        (None, _) => (None, first),
        (Some(name), None) => (Some(first), name),
        (Some(_), Some(_)) => return Err(LabelKeyError::TooManySlashes),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err(LabelKeyError::EmptyPrefix);
        }
        if prefix.len() > MAX_LABEL_PREFIX_LEN {
            return Err(LabelKeyError::PrefixTooLong(prefix.len()));
        }
        if !prefix.split('.').all(is_dns_label_part) {
            return Err(LabelKeyError::InvalidPrefix);
        }
    }
    if name.is_empty() {
        return Err(LabelKeyError::EmptyName);
    }
    if name.len() > MAX_LABEL_NAME_LEN {
        return Err(LabelKeyError::NameTooLong(name.len()));
    }
    if !is_qualified_token(name) {
        return Err(LabelKeyError::InvalidName);
    }
    Ok(())
}

/// Checks a label value: empty, or 1–63 bytes of `[-A-Za-z0-9_.]`, alphanumeric at both ends.
pub fn validate_label_value(value: &str) -> Result<(), LabelValueError> {
    if value.len() > MAX_LABEL_NAME_LEN {
        return Err(LabelValueError::TooLong(value.len()));
    }
    if !value.is_empty() && !is_qualified_token(value) {
        return Err(LabelValueError::Invalid);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Requirement operators and errors
// ---------------------------------------------------------------------------------------------

/// Operator of a parsed selector [`Requirement`]; a superset of [`SelectorOperator`] because the
/// string syntax also has equality and integer comparison forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RequirementOperator {
    /// `key=value`: the key is present with that value.
    #[serde(rename = "=")]
    Equals,
    /// `key==value`: same meaning as `=`, kept apart so the selector prints back as written.
    #[serde(rename = "==")]
    DoubleEquals,
    /// `key!=value`: the key is absent or has another value.
    #[serde(rename = "!=")]
    NotEquals,
    /// `key in (a,b)`: the key is present with one of the values.
    #[serde(rename = "in")]
    In,
    /// `key notin (a,b)`: the key is absent or has none of the values.
    #[serde(rename = "notin")]
    NotIn,
    /// `key`: the key is present.
    #[serde(rename = "exists")]
    Exists,
    /// `!key`: the key is absent.
    #[serde(rename = "!")]
    DoesNotExist,
    /// `key>n`: the key's value is an integer greater than `n`.
    #[serde(rename = "gt")]
    GreaterThan,
    /// `key<n`: the key's value is an integer less than `n`.
    #[serde(rename = "lt")]
    LessThan,
}

impl RequirementOperator {
    /// The name Kubernetes gives the operator in messages (`in`, `notin`, `=`, `exists`, `gt`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equals => "=",
            Self::DoubleEquals => "==",
            Self::NotEquals => "!=",
            Self::In => "in",
            Self::NotIn => "notin",
            Self::Exists => "exists",
            Self::DoesNotExist => "!",
            Self::GreaterThan => "gt",
            Self::LessThan => "lt",
        }
    }
}

impl fmt::Display for RequirementOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a requirement (structured or parsed) is not a valid selector requirement. These are the
/// cases upstream's `NewRequirement` rejects, so `LabelSelectorAsSelector` rejects them too.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LabelSelectorError {
    /// The key is not a qualified name.
    #[error("invalid label key {key:?}: {source}")]
    InvalidKey {
        /// The offending key.
        key: String,
        /// What is wrong with it.
        source: LabelKeyError,
    },
    /// One of the values is not a valid label value.
    #[error("invalid value {value:?} for label key {key:?}: {source}")]
    InvalidValue {
        /// The requirement's key.
        key: String,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        source: LabelValueError,
    },
    /// `in` / `notin` with no values.
    #[error("key {key:?}: for 'in', 'notin' operators, values set can't be empty")]
    EmptyValues {
        /// The requirement's key.
        key: String,
        /// `In` or `NotIn`.
        operator: RequirementOperator,
    },
    /// `exists` / `!` with values.
    #[error("key {key:?}: values set must be empty for exists and does not exist (got {count})")]
    UnexpectedValues {
        /// The requirement's key.
        key: String,
        /// `Exists` or `DoesNotExist`.
        operator: RequirementOperator,
        /// How many values were given.
        count: usize,
    },
    /// An equality or integer comparison with other than exactly one value.
    #[error("key {key:?}: operator '{operator}' needs exactly one value (got {count})")]
    NeedsOneValue {
        /// The requirement's key.
        key: String,
        /// The operator.
        operator: RequirementOperator,
        /// How many values were given.
        count: usize,
    },
    /// `gt` / `lt` with a value that is not a base-10 64-bit integer.
    #[error("key {key:?}: for 'gt', 'lt' operators, the value must be an integer (got {value:?})")]
    NotAnInteger {
        /// The requirement's key.
        key: String,
        /// The offending value.
        value: String,
    },
}

/// Checks `key`, the value count for `operator`, and every value, in upstream's order.
fn validate_requirement(
    key: &str,
    operator: RequirementOperator,
    values: &[String],
) -> Result<(), LabelSelectorError> {
    use RequirementOperator as Op;
    validate_label_key(key).map_err(|source| LabelSelectorError::InvalidKey {
        key: key.to_owned(),
        source,
    })?;
    match operator {
        Op::In | Op::NotIn if values.is_empty() => {
            return Err(LabelSelectorError::EmptyValues {
                key: key.to_owned(),
                operator,
            });
        }
        Op::Exists | Op::DoesNotExist if !values.is_empty() => {
            return Err(LabelSelectorError::UnexpectedValues {
                key: key.to_owned(),
                operator,
                count: values.len(),
            });
        }
        Op::Equals | Op::DoubleEquals | Op::NotEquals | Op::GreaterThan | Op::LessThan
            if values.len() != 1 =>
        {
            return Err(LabelSelectorError::NeedsOneValue {
                key: key.to_owned(),
                operator,
                count: values.len(),
            });
        }
        Op::GreaterThan | Op::LessThan => {
            if let Some(v) = values.iter().find(|v| v.parse::<i64>().is_err()) {
                return Err(LabelSelectorError::NotAnInteger {
                    key: key.to_owned(),
                    value: v.clone(),
                });
            }
        }
        _ => {}
    }
    for value in values {
        validate_label_value(value).map_err(|source| LabelSelectorError::InvalidValue {
            key: key.to_owned(),
            value: value.clone(),
            source,
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Structured LabelSelector (metav1.LabelSelector)
// ---------------------------------------------------------------------------------------------

/// Operator of a [`LabelSelectorRequirement`], spelled as in manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SelectorOperator {
    /// The key is present with one of the values.
    In,
    /// The key is absent, or present with none of the values.
    NotIn,
    /// The key is present (values must be empty).
    Exists,
    /// The key is absent (values must be empty).
    DoesNotExist,
}

impl From<SelectorOperator> for RequirementOperator {
    fn from(op: SelectorOperator) -> Self {
        match op {
            SelectorOperator::In => Self::In,
            SelectorOperator::NotIn => Self::NotIn,
            SelectorOperator::Exists => Self::Exists,
            SelectorOperator::DoesNotExist => Self::DoesNotExist,
        }
    }
}

/// One `matchExpressions` entry of a [`LabelSelector`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key the requirement is about.
    pub key: String,
    /// How the key's value is tested.
    pub operator: SelectorOperator,
    /// Values for `In` / `NotIn`; must be empty for `Exists` / `DoesNotExist`.
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelectorRequirement {
    /// Whether `labels` satisfy this requirement, evaluated literally without validation: an
    /// `In` with no values matches nothing, a `NotIn` with no values matches everything, and
    /// values given to `Exists` / `DoesNotExist` are ignored. [`LabelSelector::validate`] is what
    /// rejects such requirements, as the apiserver would.
    pub fn matches(&self, labels: &Labels) -> bool {
        let actual = labels.get(&self.key);
        match self.operator {
            SelectorOperator::In => actual.is_some_and(|v| self.values.contains(v)),
            // An absent key has no value that could be excluded, so NotIn holds.
            SelectorOperator::NotIn => actual.is_none_or(|v| !self.values.contains(v)),
            SelectorOperator::Exists => actual.is_some(),
            SelectorOperator::DoesNotExist => actual.is_none(),
        }
    }

    /// Checks the requirement as `LabelSelectorAsSelector` does.
    pub fn validate(&self) -> Result<(), LabelSelectorError> {
        validate_requirement(&self.key, self.operator.into(), &self.values)
    }
}

/// A structured label selector (`selector:` of a ReplicaSet, Deployment, affinity term...). All
/// of `matchLabels` and all of `matchExpressions` must hold; an empty selector selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelector {
    /// Each key must be present with exactly this value.
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub match_labels: Labels,
    /// Each expression must hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    /// A selector requiring exactly these labels.
    pub fn from_match_labels(match_labels: Labels) -> Self {
        Self {
            match_labels,
            match_expressions: Vec::new(),
        }
    }

    /// No `matchLabels` and no `matchExpressions`: the selector selects every object.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy the selector. An empty selector matches everything (upstream's
    /// `Everything`); an absent (`None`) selector, where a field is optional, is the caller's
    /// business and upstream treats it as matching nothing. Expressions are evaluated literally
    /// (see [`LabelSelectorRequirement::matches`]); call [`validate`](Self::validate) first to
    /// reject what the apiserver would.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// Rejects what `LabelSelectorAsSelector` rejects: invalid keys or values, `In` / `NotIn`
    /// without values, `Exists` / `DoesNotExist` with values. `matchLabels` entries are checked
    /// first, in key order, then expressions in order, so the reported error is deterministic.
    pub fn validate(&self) -> Result<(), LabelSelectorError> {
        for (key, value) in &self.match_labels {
            validate_requirement(
                key,
                RequirementOperator::Equals,
                std::slice::from_ref(value),
            )?;
        }
        self.match_expressions
            .iter()
            .try_for_each(LabelSelectorRequirement::validate)
    }

    /// The validated equivalent [`Selector`], as `LabelSelectorAsSelector` builds it.
    pub fn to_selector(&self) -> Result<Selector, LabelSelectorError> {
        self.validate()?;
        Ok(Selector::from(self))
    }
}

// ---------------------------------------------------------------------------------------------
// Parsed selector: Requirement and Selector
// ---------------------------------------------------------------------------------------------

/// One requirement of a [`Selector`]: a key, an operator and its values. Values are kept sorted
/// and de-duplicated (they are a set), which also makes printing canonical.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Requirement {
    key: String,
    operator: RequirementOperator,
    values: Vec<String>,
}

impl Requirement {
    /// A validated requirement; fails where upstream's `NewRequirement` fails.
    pub fn new(
        key: impl Into<String>,
        operator: RequirementOperator,
        values: Vec<String>,
    ) -> Result<Self, LabelSelectorError> {
        let key = key.into();
        validate_requirement(&key, operator, &values)?;
        Ok(Self::new_unchecked(key, operator, values))
    }

    /// Builds without validation, for conversions that must not fail (see `From<&LabelSelector>`).
    fn new_unchecked(key: String, operator: RequirementOperator, mut values: Vec<String>) -> Self {
        values.sort_unstable();
        values.dedup();
        Self {
            key,
            operator,
            values,
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> RequirementOperator {
        self.operator
    }

    /// The values, sorted and without duplicates.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, value: &str) -> bool {
        self.values
            .binary_search_by(|v| v.as_str().cmp(value))
            .is_ok()
    }

    /// Whether `labels` satisfy the requirement. `!=` and `notin` hold when the key is absent;
    /// `gt` / `lt` need the key present with a base-10 integer value, anything else fails.
    pub fn matches(&self, labels: &Labels) -> bool {
        use RequirementOperator as Op;
        let actual = labels.get(&self.key);
        match self.operator {
            Op::Equals | Op::DoubleEquals | Op::In => actual.is_some_and(|v| self.has_value(v)),
            Op::NotEquals | Op::NotIn => actual.is_none_or(|v| !self.has_value(v)),
            Op::Exists => actual.is_some(),
            Op::DoesNotExist => actual.is_none(),
            Op::GreaterThan | Op::LessThan => {
                let Some(Ok(have)) = actual.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let [bound] = self.values.as_slice() else {
                    return false;
                };
                let Ok(bound) = bound.parse::<i64>() else {
                    return false;
                };
                if self.operator == Op::GreaterThan {
                    have > bound
                } else {
                    have < bound
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// The canonical string form: `key=v`, `key==v`, `key!=v`, `key in (a,b)`,
    /// `key notin (a,b)`, `key`, `!key`, `key>n`, `key<n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RequirementOperator as Op;
        let joined = self.values.join(",");
        match self.operator {
            Op::Exists => write!(f, "{}", self.key),
            Op::DoesNotExist => write!(f, "!{}", self.key),
            Op::In => write!(f, "{} in ({joined})", self.key),
            Op::NotIn => write!(f, "{} notin ({joined})", self.key),
            Op::Equals => write!(f, "{}={joined}", self.key),
            Op::DoubleEquals => write!(f, "{}=={joined}", self.key),
            Op::NotEquals => write!(f, "{}!={joined}", self.key),
            Op::GreaterThan => write!(f, "{}>{joined}", self.key),
            Op::LessThan => write!(f, "{}<{joined}", self.key),
        }
    }
}

impl TryFrom<String> for Requirement {
    type Error = LabelSelectorParseError;

    /// Parses a selector string that must hold exactly one requirement.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let selector = parse_label_selector(&s)?;
        let count = selector.requirements.len();
        match <[Requirement; 1]>::try_from(selector.requirements) {
            Ok([only]) => Ok(only),
            Err(_) => Err(LabelSelectorParseError::NotOneRequirement { count }),
        }
    }
}

impl From<Requirement> for String {
    fn from(r: Requirement) -> Self {
        r.to_string()
    }
}

/// A conjunction of [`Requirement`]s, ordered by key (stably, so requirements on the same key
/// keep their written order). The empty selector matches everything. Serialises as its
/// canonical string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector that matches every label set.
    pub fn everything() -> Self {
        Self::default()
    }

    /// A selector from requirements, sorted by key.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self { requirements }
    }

    /// A selector requiring exactly these labels (upstream `SelectorFromSet`; not validated,
    /// as upstream leaves that to the server).
    pub fn from_labels(labels: &Labels) -> Self {
        Self {
            requirements: labels
                .iter()
                .map(|(k, v)| {
                    Requirement::new_unchecked(
                        k.clone(),
                        RequirementOperator::Equals,
                        vec![v.clone()],
                    )
                })
                .collect(),
        }
    }

    /// Adds a requirement, keeping key order.
    pub fn add(&mut self, requirement: Requirement) {
        let at = self
            .requirements
            .partition_point(|r| r.key <= requirement.key);
        self.requirements.insert(at, requirement);
    }

    /// The requirements, in key order.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// No requirements: selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The single value `key` must have, if the selector pins it (the first requirement on
    /// `key` is `=`, `==`, or `in` with one value). Lets list paths use an index.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        use RequirementOperator as Op;
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Op::Equals | Op::DoubleEquals | Op::In, [only]) => Some(only),
            _ => None,
        }
    }
}

/// Writes `items` joined by `,`: the printed form of both kinds of selector.
fn write_comma_separated(f: &mut fmt::Formatter<'_>, items: &[impl fmt::Display]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// A selector's string form both ways, as serde uses it (`try_from = "String"`,
/// `into = "String"`): parsing with `$parse` (failing with `$error`) and printing with
/// `Display`.
macro_rules! string_form {
    ($selector:ty, $error:ty, $parse:ident) => {
        impl FromStr for $selector {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $parse(s)
            }
        }

        impl TryFrom<String> for $selector {
            type Error = $error;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                $parse(&s)
            }
        }

        impl From<$selector> for String {
            fn from(s: $selector) -> Self {
                s.to_string()
            }
        }
    };
}

impl fmt::Display for Selector {
    /// Requirements joined by `,`; the empty selector prints as the empty string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_comma_separated(f, &self.requirements)
    }
}

impl From<&LabelSelector> for Selector {
    /// Converts as `LabelSelectorAsSelector` does (matchLabels become `=` requirements), but
    /// without validation, so the result matches exactly what [`LabelSelector::matches`] does.
    /// Use [`LabelSelector::to_selector`] to reject invalid selectors.
    fn from(ls: &LabelSelector) -> Self {
        let mut requirements: Vec<Requirement> = ls
            .match_labels
            .iter()
            .map(|(k, v)| {
                Requirement::new_unchecked(k.clone(), RequirementOperator::Equals, vec![v.clone()])
            })
            .collect();
        requirements.extend(ls.match_expressions.iter().map(|e| {
            // Values of Exists / DoesNotExist carry no meaning; dropping them keeps the
            // printed form parseable.
            let values = match e.operator {
                SelectorOperator::Exists | SelectorOperator::DoesNotExist => Vec::new(),
                SelectorOperator::In | SelectorOperator::NotIn => e.values.clone(),
            };
            Requirement::new_unchecked(e.key.clone(), e.operator.into(), values)
        }));
        Self::from_requirements(requirements)
    }
}

string_form!(Selector, LabelSelectorParseError, parse_label_selector);

// ---------------------------------------------------------------------------------------------
// Label selector string parser
// ---------------------------------------------------------------------------------------------

/// Why a label selector string does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LabelSelectorParseError {
    /// A token where the grammar does not allow it.
    #[error("unable to parse requirement: found {}, expected: {expected} (at byte {position})", describe_found(.found))]
    Unexpected {
        /// Byte offset of the offending token.
        position: usize,
        /// The offending token's text; empty for the end of the input.
        found: String,
        /// What the grammar allows there.
        expected: &'static str,
    },
    /// The syntax is fine but a requirement is not valid (bad key or value, wrong value count).
    #[error("unable to parse requirement: {0}")]
    Invalid(#[from] LabelSelectorError),
    /// A single requirement was expected (deserialising a [`Requirement`]).
    #[error("expected exactly one requirement, found {count}")]
    NotOneRequirement {
        /// How many requirements the string held.
        count: usize,
    },
}

fn describe_found(found: &str) -> String {
    if found.is_empty() {
        "end of string".to_owned()
    } else {
        format!("'{found}'")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'a> {
    /// A run of non-blank, non-symbol characters; `in` and `notin` are recognised by position.
    Ident(&'a str),
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    End,
}

impl Tok<'_> {
    fn text(self) -> &'static str {
        match self {
            Tok::Ident(_) | Tok::End => "",
            Tok::Bang => "!",
            Tok::Eq => "=",
            Tok::DoubleEq => "==",
            Tok::NotEq => "!=",
            Tok::Gt => ">",
            Tok::Lt => "<",
            Tok::Open => "(",
            Tok::Close => ")",
            Tok::Comma => ",",
        }
    }
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_symbol(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits the input into tokens with their byte offsets; always ends with `End`. Symbols are
/// matched longest-first (`!=`, `==` before `!`, `=`), as upstream's lexer does.
fn lex(input: &str) -> Vec<(usize, Tok<'_>)> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_blank(b) {
            i += 1;
            continue;
        }
        let next = bytes.get(i + 1).copied();
        let (tok, len) = match (b, next) {
            (b'!', Some(b'=')) => (Tok::NotEq, 2),
            (b'!', _) => (Tok::Bang, 1),
            (b'=', Some(b'=')) => (Tok::DoubleEq, 2),
            (b'=', _) => (Tok::Eq, 1),
            (b'>', _) => (Tok::Gt, 1),
            (b'<', _) => (Tok::Lt, 1),
            (b'(', _) => (Tok::Open, 1),
            (b')', _) => (Tok::Close, 1),
            (b',', _) => (Tok::Comma, 1),
            _ => {
                let start = i;
                while i < bytes.len() && !is_blank(bytes[i]) && !is_symbol(bytes[i]) {
                    i += 1;
                }
                // Only ASCII bytes end an identifier, so both ends are char boundaries.
                out.push((start, Tok::Ident(&input[start..i])));
                continue;
            }
        };
        out.push((i, tok));
        i += len;
    }
    out.push((input.len(), Tok::End));
    out
}

struct Parser<'a> {
    toks: Vec<(usize, Tok<'a>)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Tok<'a> {
        self.toks.get(self.pos).map_or(Tok::End, |t| t.1)
    }

    fn next(&mut self) -> Tok<'a> {
        let t = self.peek();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    /// Error about the token just consumed (`consumed`) or the one ahead.
    fn unexpected(&self, consumed: bool, expected: &'static str) -> LabelSelectorParseError {
        let idx = if consumed {
            self.pos.saturating_sub(1)
        } else {
            self.pos
        };
        let (position, tok) = self.toks.get(idx).copied().unwrap_or((0, Tok::End));
        let found = match tok {
            Tok::Ident(s) => s.to_owned(),
            other => other.text().to_owned(),
        };
        LabelSelectorParseError::Unexpected {
            position,
            found,
            expected,
        }
    }

    fn selector(&mut self) -> Result<Vec<Requirement>, LabelSelectorParseError> {
        let mut reqs = Vec::new();
        match self.peek() {
            Tok::End => return Ok(reqs),
            Tok::Ident(_) | Tok::Bang => {}
            _ => return Err(self.unexpected(false, "!, identifier, or 'end of string'")),
        }
        loop {
            reqs.push(self.requirement()?);
            match self.next() {
                Tok::End => return Ok(reqs),
                Tok::Comma => {
                    // A trailing or doubled comma is an error, not an empty requirement.
                    if !matches!(self.peek(), Tok::Ident(_) | Tok::Bang) {
                        return Err(self.unexpected(false, "identifier after ','"));
                    }
                }
                _ => return Err(self.unexpected(true, "',' or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, LabelSelectorParseError> {
        use RequirementOperator as Op;
        let negated = self.peek() == Tok::Bang;
        if negated {
            self.next();
        }
        let key = match self.next() {
            Tok::Ident(k) => k,
            _ => return Err(self.unexpected(true, "identifier")),
        };
        // The key is checked before the rest is parsed, so a bad key is reported even when
        // the remainder is also malformed.
        validate_label_key(key).map_err(|source| LabelSelectorError::InvalidKey {
            key: key.to_owned(),
            source,
        })?;
        if negated {
            // `!key` takes nothing further; anything after it is the caller's syntax error.
            return Ok(Requirement::new(key, Op::DoesNotExist, Vec::new())?);
        }
        if matches!(self.peek(), Tok::End | Tok::Comma) {
            return Ok(Requirement::new(key, Op::Exists, Vec::new())?);
        }
        let op = match self.next() {
            Tok::Ident("in") => Op::In,
            Tok::Ident("notin") => Op::NotIn,
            Tok::Eq => Op::Equals,
            Tok::DoubleEq => Op::DoubleEquals,
            Tok::NotEq => Op::NotEquals,
            Tok::Gt => Op::GreaterThan,
            Tok::Lt => Op::LessThan,
            _ => return Err(self.unexpected(true, "in, notin, =, ==, !=, >, <")),
        };
        let values = match op {
            Op::In | Op::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Ok(Requirement::new(key, op, values)?)
    }

    /// `( v1, v2, ... )`. Empty slots stand for the empty value: `()` is `{""}`, `(a,,b)` is
    /// `{"", a, b}`, as upstream parses them.
    fn value_set(&mut self) -> Result<Vec<String>, LabelSelectorParseError> {
        if self.next() != Tok::Open {
            return Err(self.unexpected(true, "'('"));
        }
        let mut values: Vec<String> = Vec::new();
        match self.peek() {
            Tok::Close => {
                self.next();
                return Ok(vec![String::new()]);
            }
            Tok::Ident(_) | Tok::Comma => {}
            _ => return Err(self.unexpected(false, "',', ')' or identifier")),
        }
        loop {
            match self.next() {
                Tok::Ident(v) => {
                    values.push(v.to_owned());
                    match self.peek() {
                        Tok::Comma => {}
                        Tok::Close => break,
                        _ => return Err(self.unexpected(false, "',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.peek() {
                        Tok::Close => {
                            values.push(String::new());
                            break;
                        }
                        Tok::Comma => {
                            self.next();
                            values.push(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(self.unexpected(true, "',', or identifier")),
            }
        }
        if self.next() != Tok::Close {
            return Err(self.unexpected(true, "')'"));
        }
        Ok(values)
    }

    /// The single value after `=`, `==`, `!=`, `>`, `<`; nothing before `,` or the end means "".
    fn exact_value(&mut self) -> Result<Vec<String>, LabelSelectorParseError> {
        match self.peek() {
            Tok::End | Tok::Comma => Ok(vec![String::new()]),
            Tok::Ident(v) => {
                self.next();
                Ok(vec![v.to_owned()])
            }
            _ => Err(self.unexpected(false, "identifier")),
        }
    }
}

/// Parses the string selector syntax of `kubectl -l` and list requests: comma-separated (ANDed)
/// requirements `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n`, `k<n`,
/// with blanks allowed between tokens. Keys and values must be valid label keys and values.
/// The empty string parses to the selector that matches everything.
pub fn parse_label_selector(s: &str) -> Result<Selector, LabelSelectorParseError> {
    let mut parser = Parser {
        toks: lex(s),
        pos: 0,
    };
    let requirements = parser.selector()?;
    Ok(Selector::from_requirements(requirements))
}

// ---------------------------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------------------------

/// Operator of a field selector term. `==` parses to `Equals`, as upstream does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FieldOperator {
    /// The field has this value.
    #[serde(rename = "=")]
    Equals,
    /// The field does not have this value.
    #[serde(rename = "!=")]
    NotEquals,
}

/// One term of a [`FieldSelector`]: `field=value` or `field!=value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRequirement {
    /// Field path, e.g. `spec.nodeName`. Not checked here: which fields exist depends on the
    /// kind, and the apiserver is the one that rejects unsupported ones.
    pub field: String,
    /// The comparison.
    pub operator: FieldOperator,
    /// The value, unescaped.
    pub value: String,
}

impl FieldRequirement {
    /// Whether a field whose value is `actual` satisfies the term.
    pub fn matches_value(&self, actual: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_field_value(&self.value))
    }
}

/// Why a field selector string does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FieldSelectorParseError {
    /// A term without `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    NoOperator {
        /// The whole selector.
        selector: String,
        /// The term without an operator.
        term: String,
    },
    /// A backslash not followed by `\`, `,` or `=` (or at the very end).
    #[error("invalid field selector: invalid escape sequence: {sequence}")]
    InvalidEscape {
        /// The offending sequence, backslash included.
        sequence: String,
    },
    /// A `,` or `=` inside a value that is not escaped with a backslash.
    #[error("invalid field selector: unescaped {character:?} in value")]
    UnescapedCharacter {
        /// The character.
        character: char,
    },
}

/// A conjunction of field terms, e.g. `metadata.name=x,spec.nodeName!=y`. The empty selector
/// matches everything. Serialises as its string form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// A selector from terms, kept in the given order.
    pub fn from_requirements(requirements: Vec<FieldRequirement>) -> Self {
        Self { requirements }
    }

    /// The terms.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// No terms: selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether every term holds. `fields` returns an object's value for a field path; a field
    /// it does not know (`None`) reads as the empty string, as a missing entry of upstream's
    /// `fields.Set` does, so `x!=foo` holds and `x=foo` fails. Callers that must reject
    /// unsupported fields should check [`requirements`](Self::requirements) up front.
    pub fn matches(&self, fields: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let actual = fields(&r.field);
            r.matches_value(actual.as_deref().unwrap_or(""))
        })
    }

    /// The value `field` must equal, if a `=` term pins it (first such term wins).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_comma_separated(f, &self.requirements)
    }
}

string_form!(FieldSelector, FieldSelectorParseError, parse_field_selector);

/// Escapes `\`, `,` and `=` in a field selector value so it survives splitting.
fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Undoes [`escape_field_value`], rejecting unknown escapes and bare `,` / `=`.
fn unescape_field_value(raw: &str) -> Result<String, FieldSelectorParseError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(other) => {
                    return Err(FieldSelectorParseError::InvalidEscape {
                        sequence: format!("\\{other}"),
                    });
                }
                None => {
                    return Err(FieldSelectorParseError::InvalidEscape {
                        sequence: "\\".to_owned(),
                    });
                }
            },
            ',' | '=' => return Err(FieldSelectorParseError::UnescapedCharacter { character: c }),
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// Splits on commas not preceded by an escaping backslash; escapes stay in the pieces.
fn split_field_terms(s: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits a term at the first operator. The field name has no escaping, so the first `!=`,
/// `==` or `=` found scanning left to right is the split point (`!=` and `==` win over `=` at
/// the same position).
fn split_field_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        if let Some(v) = rest.strip_prefix("!=") {
            Some((&term[..i], FieldOperator::NotEquals, v))
        } else if let Some(v) = rest.strip_prefix("==") {
            Some((&term[..i], FieldOperator::Equals, v))
        } else {
            rest.strip_prefix('=')
                .map(|v| (&term[..i], FieldOperator::Equals, v))
        }
    })
}

/// Parses a field selector: comma-separated `field=value`, `field==value` or `field!=value`
/// terms (no set or existence forms). In values, `\,`, `\=` and `\\` escape those characters.
/// Empty terms are skipped; terms are ordered by their raw text, as upstream sorts them. No
/// blanks are trimmed: upstream treats them as part of the field or value.
pub fn parse_field_selector(s: &str) -> Result<FieldSelector, FieldSelectorParseError> {
    if s.is_empty() {
        return Ok(FieldSelector::everything());
    }
    let mut terms = split_field_terms(s);
    terms.sort_unstable();
    let mut requirements = Vec::with_capacity(terms.len());
    for term in terms.into_iter().filter(|t| !t.is_empty()) {
        let (field, operator, raw) =
            split_field_term(term).ok_or_else(|| FieldSelectorParseError::NoOperator {
                selector: s.to_owned(),
                term: term.to_owned(),
            })?;
        requirements.push(FieldRequirement {
            field: field.to_owned(),
            operator,
            value: unescape_field_value(raw)?,
        });
    }
    Ok(FieldSelector { requirements })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_util::labels;

    fn expr(key: &str, operator: SelectorOperator, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_owned(),
            operator,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    fn sel(s: &str) -> Selector {
        match parse_label_selector(s) {
            Ok(sel) => sel,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn parse_err(s: &str) -> String {
        match parse_label_selector(s) {
            Ok(sel) => panic!("{s:?} should be rejected, parsed as {sel}"),
            Err(e) => e.to_string(),
        }
    }

    // ---- structured LabelSelector ----

    #[test]
    fn empty_label_selector_matches_everything() {
        // No requirements at all is upstream's Everything, even for an unlabelled object.
        assert!(LabelSelector::default().matches(&Labels::new()));
        assert!(LabelSelector::default().matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn match_labels_need_every_pair() {
        let s = LabelSelector::from_match_labels(labels(&[("app", "web"), ("tier", "fe")]));
        // Both pairs present: match; extra labels on the object do not matter.
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "fe"), ("x", "y")])));
        // One pair has a different value: no match.
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "be")])));
        // One key missing: no match.
        assert!(!s.matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn in_operator_needs_key_with_listed_value() {
        let r = expr("env", SelectorOperator::In, &["prod", "staging"]);
        assert!(r.matches(&labels(&[("env", "prod")])), "listed value");
        assert!(!r.matches(&labels(&[("env", "dev")])), "unlisted value");
        assert!(
            !r.matches(&Labels::new()),
            "In requires the key to be present"
        );
    }

    #[test]
    fn not_in_operator_matches_absent_key() {
        let r = expr("env", SelectorOperator::NotIn, &["prod"]);
        // Absent key: nothing to exclude, so upstream says it matches.
        assert!(r.matches(&Labels::new()));
        assert!(r.matches(&labels(&[("env", "dev")])), "other value");
        assert!(!r.matches(&labels(&[("env", "prod")])), "excluded value");
    }

    #[test]
    fn exists_and_does_not_exist() {
        let exists = expr("gpu", SelectorOperator::Exists, &[]);
        let absent = expr("gpu", SelectorOperator::DoesNotExist, &[]);
        let with = labels(&[("gpu", "")]);
        // An empty value still counts as present.
        assert!(exists.matches(&with));
        assert!(!absent.matches(&with));
        assert!(!exists.matches(&Labels::new()));
        assert!(absent.matches(&Labels::new()));
    }

    #[test]
    fn validate_rejects_what_label_selector_as_selector_rejects() {
        let with = |e: LabelSelectorRequirement| LabelSelector {
            match_expressions: vec![e],
            ..LabelSelector::default()
        };
        let s = with(expr("env", SelectorOperator::In, &[]));
        assert_eq!(
            s.validate(),
            Err(LabelSelectorError::EmptyValues {
                key: "env".into(),
                operator: RequirementOperator::In
            })
        );
        let s = with(expr("env", SelectorOperator::NotIn, &[]));
        assert!(matches!(
            s.validate(),
            Err(LabelSelectorError::EmptyValues { .. })
        ));
        let s = with(expr("env", SelectorOperator::Exists, &["x"]));
        assert_eq!(
            s.validate(),
            Err(LabelSelectorError::UnexpectedValues {
                key: "env".into(),
                operator: RequirementOperator::Exists,
                count: 1
            })
        );
        let s = with(expr("env", SelectorOperator::DoesNotExist, &["x"]));
        assert!(matches!(
            s.validate(),
            Err(LabelSelectorError::UnexpectedValues { .. })
        ));
        // Bad key in matchLabels is caught too.
        let bad = LabelSelector::from_match_labels(labels(&[("-bad", "v")]));
        assert_eq!(
            bad.validate(),
            Err(LabelSelectorError::InvalidKey {
                key: "-bad".into(),
                source: LabelKeyError::InvalidName
            })
        );
        // A well-formed selector passes.
        let ok = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![expr("env", SelectorOperator::In, &["a", "b"])],
        };
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn label_selector_serde_uses_kubernetes_names_and_ignores_unknown_fields() {
        let json = r#"{"matchLabels":{"app":"web"},"matchExpressions":[
            {"key":"env","operator":"NotIn","values":["dev"]},
            {"key":"gpu","operator":"DoesNotExist"}],"futureField":1}"#;
        let s: LabelSelector = serde_json::from_str(json).expect("valid selector json");
        assert_eq!(s.match_labels, labels(&[("app", "web")]));
        assert_eq!(s.match_expressions[0].operator, SelectorOperator::NotIn);
        // Omitted values default to empty.
        assert!(s.match_expressions[1].values.is_empty());
        // Omitting both lists gives the empty (match-everything) selector.
        let empty: LabelSelector = serde_json::from_str("{}").expect("empty object");
        assert!(empty.is_empty());
    }

    #[test]
    fn selector_from_label_selector_is_sorted_and_equivalent() {
        let ls = LabelSelector {
            match_labels: labels(&[("tier", "fe")]),
            match_expressions: vec![
                expr("env", SelectorOperator::In, &["prod", "dev"]),
                expr("app", SelectorOperator::Exists, &[]),
            ],
        };
        let s = Selector::from(&ls);
        // Keys sorted; set values sorted.
        assert_eq!(s.to_string(), "app,env in (dev,prod),tier=fe");
        let obj = labels(&[("app", "x"), ("env", "dev"), ("tier", "fe")]);
        assert!(s.matches(&obj));
        assert!(ls.matches(&obj));
        assert_eq!(ls.to_selector(), Ok(s));
    }

    // ---- key / value validity ----

    #[test]
    fn key_validity_rules() {
        assert_eq!(validate_label_key("app"), Ok(()));
        assert_eq!(validate_label_key("example.com/My_app.v1"), Ok(()));
        assert_eq!(validate_label_key(""), Err(LabelKeyError::EmptyName));
        assert_eq!(validate_label_key("/a"), Err(LabelKeyError::EmptyPrefix));
        assert_eq!(validate_label_key("a/"), Err(LabelKeyError::EmptyName));
        assert_eq!(
            validate_label_key("a/b/c"),
            Err(LabelKeyError::TooManySlashes)
        );
        // Prefixes are lowercase DNS subdomains.
        assert_eq!(
            validate_label_key("Example.com/a"),
            Err(LabelKeyError::InvalidPrefix)
        );
        assert_eq!(
            validate_label_key("a..b/c"),
            Err(LabelKeyError::InvalidPrefix)
        );
        // 63 is the limit for the name part.
        assert_eq!(validate_label_key(&"a".repeat(63)), Ok(()));
        assert_eq!(
            validate_label_key(&"a".repeat(64)),
            Err(LabelKeyError::NameTooLong(64))
        );
        // 253 is the limit for the prefix.
        let long_prefix = format!("{}.{}", "a".repeat(63), "b".repeat(189));
        assert_eq!(validate_label_key(&format!("{long_prefix}/x")), Ok(()));
        assert_eq!(
            validate_label_key(&format!("{long_prefix}c/x")),
            Err(LabelKeyError::PrefixTooLong(254))
        );
        assert_eq!(validate_label_key("a_"), Err(LabelKeyError::InvalidName));
    }

    #[test]
    fn value_validity_rules() {
        // The empty value is valid.
        assert_eq!(validate_label_value(""), Ok(()));
        assert_eq!(validate_label_value("v1.2_x-y"), Ok(()));
        assert_eq!(validate_label_value("-v"), Err(LabelValueError::Invalid));
        assert_eq!(validate_label_value("a b"), Err(LabelValueError::Invalid));
        assert_eq!(
            validate_label_value(&"v".repeat(64)),
            Err(LabelValueError::TooLong(64))
        );
    }

    // ---- string selector ----

    #[test]
    fn parse_equality_forms() {
        let s = sel("app=web");
        assert_eq!(s.requirements()[0].operator(), RequirementOperator::Equals);
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&Labels::new()), "= needs the key");

        let s = sel("app==web");
        assert_eq!(
            s.requirements()[0].operator(),
            RequirementOperator::DoubleEquals
        );
        // `==` prints back as written.
        assert_eq!(s.to_string(), "app==web");
        assert!(s.matches(&labels(&[("app", "web")])));

        let s = sel("app!=web");
        // != holds for an absent key, like notin.
        assert!(s.matches(&Labels::new()));
        assert!(s.matches(&labels(&[("app", "db")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn parse_set_forms() {
        let s = sel("env in (prod, staging)");
        assert!(s.matches(&labels(&[("env", "staging")])));
        assert!(!s.matches(&labels(&[("env", "dev")])));
        assert!(!s.matches(&Labels::new()));
        assert_eq!(s.to_string(), "env in (prod,staging)");

        let s = sel("env notin (prod)");
        // notin holds for an absent key.
        assert!(s.matches(&Labels::new()));
        assert!(!s.matches(&labels(&[("env", "prod")])));
    }

    #[test]
    fn parse_existence_forms() {
        let s = sel("gpu");
        assert_eq!(s.requirements()[0].operator(), RequirementOperator::Exists);
        assert!(s.matches(&labels(&[("gpu", "")])));
        assert!(!s.matches(&Labels::new()));

        let s = sel("!gpu");
        assert_eq!(
            s.requirements()[0].operator(),
            RequirementOperator::DoesNotExist
        );
        assert!(s.matches(&Labels::new()));
        assert!(!s.matches(&labels(&[("gpu", "a100")])));
    }

    #[test]
    fn parse_integer_comparisons() {
        let gt = sel("cores>4");
        assert!(gt.matches(&labels(&[("cores", "8")])));
        assert!(!gt.matches(&labels(&[("cores", "4")])), "strictly greater");
        // A non-integer label value never satisfies gt/lt.
        assert!(!gt.matches(&labels(&[("cores", "many")])));
        assert!(!gt.matches(&Labels::new()), "absent key fails");
        let lt = sel("cores<4");
        assert!(lt.matches(&labels(&[("cores", "-1")])));
        assert!(!lt.matches(&labels(&[("cores", "4")])));
    }

    #[test]
    fn parse_conjunction_sorts_by_key_and_tolerates_blanks() {
        let s = sel("  zone in (a,b) , app = web,!legacy ");
        // Sorted by key: app, legacy, zone.
        assert_eq!(s.to_string(), "app=web,!legacy,zone in (a,b)");
        assert!(s.matches(&labels(&[("app", "web"), ("zone", "b")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("zone", "b"), ("legacy", "1")])));
        // Printing is canonical, so it parses back to the same selector.
        assert_eq!(sel(&s.to_string()), s);
    }

    #[test]
    fn parse_empty_string_is_everything() {
        let s = sel("");
        assert!(s.is_empty());
        assert!(s.matches(&labels(&[("a", "b")])));
        assert_eq!(sel("   "), Selector::everything());
    }

    #[test]
    fn parse_empty_values_as_upstream() {
        // `()` is the set holding the empty value; `(a,,b)` holds "", a, b; `k=` is k="".
        assert_eq!(sel("x in ()").requirements()[0].values(), [""]);
        assert_eq!(
            sel("x in (b,,a)").requirements()[0].values(),
            ["", "a", "b"]
        );
        assert_eq!(sel("x=").requirements()[0].values(), [""]);
        assert!(sel("x=").matches(&labels(&[("x", "")])));
        // `in` / `notin` are only operators in operator position.
        assert_eq!(sel("in in (in)").to_string(), "in in (in)");
    }

    #[test]
    fn parse_rejects_invalid_strings_with_messages() {
        assert_eq!(
            parse_err("a=b,"),
            "unable to parse requirement: found end of string, expected: identifier after ',' (at byte 4)"
        );
        assert_eq!(
            parse_err(",a"),
            "unable to parse requirement: found ',', expected: !, identifier, or 'end of string' (at byte 0)"
        );
        assert_eq!(
            parse_err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, >, < (at byte 2)"
        );
        assert_eq!(
            parse_err("a in b"),
            "unable to parse requirement: found 'b', expected: '(' (at byte 5)"
        );
        assert_eq!(
            parse_err("a in (x y)"),
            "unable to parse requirement: found 'y', expected: ',' or ')' (at byte 8)"
        );
        assert_eq!(
            parse_err("a in (x"),
            "unable to parse requirement: found end of string, expected: ',' or ')' (at byte 7)"
        );
        assert_eq!(
            parse_err("!a=b"),
            "unable to parse requirement: found '=', expected: ',' or 'end of string' (at byte 2)"
        );
        assert_eq!(
            parse_err("a=(b)"),
            "unable to parse requirement: found '(', expected: identifier (at byte 2)"
        );
        assert_eq!(
            parse_err("-a=b"),
            "unable to parse requirement: invalid label key \"-a\": name part must consist of alphanumerics, '-', '_' or '.', and must start and end with an alphanumeric"
        );
        assert_eq!(
            parse_err("a=b c"),
            "unable to parse requirement: found 'c', expected: ',' or 'end of string' (at byte 4)"
        );
        assert_eq!(
            parse_err("a>x"),
            "unable to parse requirement: key \"a\": for 'gt', 'lt' operators, the value must be an integer (got \"x\")"
        );
        assert!(matches!(
            parse_label_selector("a=b$"),
            Err(LabelSelectorParseError::Invalid(
                LabelSelectorError::InvalidValue { .. }
            ))
        ));
        assert!(matches!(
            parse_label_selector(&format!("a={}", "v".repeat(64))),
            Err(LabelSelectorParseError::Invalid(
                LabelSelectorError::InvalidValue {
                    source: LabelValueError::TooLong(64),
                    ..
                }
            ))
        ));
    }

    #[test]
    fn requires_exact_match_reports_pinned_values() {
        let s = sel("app=web,env in (prod),tier in (a,b)");
        assert_eq!(s.requires_exact_match("app"), Some("web"));
        // A one-value `in` pins the value too.
        assert_eq!(s.requires_exact_match("env"), Some("prod"));
        assert_eq!(s.requires_exact_match("tier"), None, "two values");
        assert_eq!(s.requires_exact_match("missing"), None);
    }

    #[test]
    fn selector_serde_round_trips_as_string() {
        let s = sel("b!=2,a in (x,y)");
        let json = serde_json::to_string(&s).expect("serialise");
        assert_eq!(json, r#""a in (x,y),b!=2""#);
        let back: Selector = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, s);
        assert!(serde_json::from_str::<Selector>(r#""a in""#).is_err());
        let r: Requirement = serde_json::from_str(r#""!gpu""#).expect("one requirement");
        assert_eq!(r.operator(), RequirementOperator::DoesNotExist);
        assert!(serde_json::from_str::<Requirement>(r#""a,b""#).is_err());
    }

    #[test]
    fn selector_add_and_from_labels() {
        let mut s = Selector::from_labels(&labels(&[("b", "1"), ("d", "2")]));
        let req = Requirement::new("c", RequirementOperator::Exists, Vec::new())
            .expect("valid requirement");
        s.add(req);
        assert_eq!(s.to_string(), "b=1,c,d=2");
        assert_eq!(
            Requirement::new("c", RequirementOperator::Equals, Vec::new()),
            Err(LabelSelectorError::NeedsOneValue {
                key: "c".into(),
                operator: RequirementOperator::Equals,
                count: 0
            })
        );
    }

    // ---- field selectors ----

    fn pod_fields(name: &str) -> Option<String> {
        match name {
            "metadata.name" => Some("web-1".to_owned()),
            "spec.nodeName" => Some("node-a".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn field_selector_equality_and_inequality() {
        let s = parse_field_selector("metadata.name=web-1,spec.nodeName!=node-b")
            .expect("valid field selector");
        assert!(s.matches(pod_fields));
        let s = parse_field_selector("spec.nodeName==node-b").expect("== accepted");
        assert_eq!(s.requirements()[0].operator, FieldOperator::Equals);
        assert!(!s.matches(pod_fields), "node-a is not node-b");
        let s = parse_field_selector("spec.nodeName!=node-a").expect("valid");
        assert!(!s.matches(pod_fields));
    }

    #[test]
    fn field_selector_unknown_field_reads_as_empty() {
        // Unknown field reads as "", so `!=x` holds and `=x` fails, as with upstream's fields.Set.
        let ne = parse_field_selector("status.phase!=Running").expect("valid");
        assert!(ne.matches(pod_fields));
        let eq = parse_field_selector("status.phase=Running").expect("valid");
        assert!(!eq.matches(pod_fields));
        // And `=` with an empty value matches the unknown field.
        let empty = parse_field_selector("status.phase=").expect("valid");
        assert!(empty.matches(pod_fields));
    }

    #[test]
    fn field_selector_sorting_escaping_and_empty() {
        let s = parse_field_selector("spec.nodeName=,metadata.name=a\\,b").expect("valid");
        // Terms sorted by raw text; the escaped comma is part of the value.
        assert_eq!(s.requirements()[0].field, "metadata.name");
        assert_eq!(s.requirements()[0].value, "a,b");
        assert_eq!(s.to_string(), "metadata.name=a\\,b,spec.nodeName=");
        assert_eq!(s.requires_exact_match("spec.nodeName"), Some(""));
        assert_eq!(s.to_string().parse::<FieldSelector>(), Ok(s));
        // Empty input and empty terms select everything.
        assert!(parse_field_selector("").expect("empty").is_empty());
        assert!(parse_field_selector(",,").expect("empty terms").is_empty());
        assert!(FieldSelector::everything().matches(|_: &str| None));
    }

    #[test]
    fn field_selector_rejects_invalid_strings_with_messages() {
        let e = parse_field_selector("metadata.name").expect_err("no operator");
        assert_eq!(
            e.to_string(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
        );
        // Set syntax is label-only.
        assert!(matches!(
            parse_field_selector("metadata.name in (a)"),
            Err(FieldSelectorParseError::NoOperator { .. })
        ));
        let e = parse_field_selector("a=b\\x").expect_err("bad escape");
        assert_eq!(
            e.to_string(),
            "invalid field selector: invalid escape sequence: \\x"
        );
        // `a===b` splits at `==`, leaving a bare `=` in the value.
        assert_eq!(
            parse_field_selector("a===b"),
            Err(FieldSelectorParseError::UnescapedCharacter { character: '=' })
        );
        assert_eq!(
            parse_field_selector("a=b\\"),
            Err(FieldSelectorParseError::InvalidEscape {
                sequence: "\\".into()
            })
        );
    }
}
