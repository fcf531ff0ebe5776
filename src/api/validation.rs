//! The apiserver's validation of the fields kubesim models (`pkg/apis/core/validation`):
//! `ValidatePodCreate`, `ValidateNode`, and `ValidatePodUpdate`'s rule that a pod's spec
//! changes only where upstream lets it. Errors are field errors worded as upstream renders
//! them (`spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater
//! than or equal to 0`), with the field path as the API names it.
//!
//! Quantities are checked for what kubesim can hold, too: a request or capacity beyond
//! 2^63 − 1 (thousandths, for cpu) would be silently clamped, so it is an error here.

use std::fmt;

use super::Object;
use super::labels::{LabelSelector, Labels, validate_label_key, validate_label_value};
use super::meta::IntOrString;
use super::node::Node;
use super::pdb::{PodDisruptionBudget, UnhealthyPodEvictionPolicy};
use super::pod::{Container, Pod, TopologySpreadConstraint};
use super::quantity::Quantity;
use super::resources::{CPU, ResourceList};
use super::taints::TolerationOperator;

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path (`spec.containers[0].resources.requests[cpu]`).
    pub field: String,
    /// What is wrong, as upstream words it (`Invalid value: "-1": must be …`).
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The errors of one object, in upstream's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    fn invalid(&mut self, field: impl Into<String>, value: impl fmt::Display, detail: &str) {
        self.0.push(FieldError {
            field: field.into(),
            message: format!("Invalid value: {value}: {detail}"),
        });
    }

    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Whether there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first error.
    pub fn first(&self) -> Option<&FieldError> {
        self.0.first()
    }
}

/// Upstream's aggregate: one error as itself, several as `[a, b]`.
impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                let parts: Vec<String> = many.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// What upstream accepts for `whenUnsatisfiable`.
const WHEN_UNSATISFIABLE: &str = "supported values: \"DoNotSchedule\", \"ScheduleAnyway\"";

/// `ValidatePodCreate` over the fields kubesim models.
pub fn validate_pod(pod: &Pod) -> FieldErrors {
    let mut errors = FieldErrors::default();
    validate_labels(&pod.metadata.labels, "metadata.labels", &mut errors);
    let spec = &pod.spec;
    if spec.containers.is_empty() {
        errors.push("spec.containers", "Required value");
    }
    for (i, c) in spec.containers.iter().enumerate() {
        validate_container(c, &format!("spec.containers[{i}]"), &mut errors);
    }
    for (i, c) in spec.init_containers.iter().enumerate() {
        validate_container(c, &format!("spec.initContainers[{i}]"), &mut errors);
    }
    validate_labels(&spec.node_selector, "spec.nodeSelector", &mut errors);
    validate_affinity(pod, &mut errors);
    for (i, c) in spec.topology_spread_constraints.iter().enumerate() {
        validate_spread(c, i, &spec.topology_spread_constraints, &mut errors);
    }
    validate_tolerations(pod, &mut errors);
    if let Some(policy) = &spec.preemption_policy
        && policy != "PreemptLowerPriority"
        && policy != "Never"
    {
        errors.push(
            "spec.preemptionPolicy",
            format!(
                "Unsupported value: {policy:?}: supported values: \"Never\", \"PreemptLowerPriority\""
            ),
        );
    }
    validate_quantities(&spec.overhead, "spec.overhead", &mut errors);
    errors
}

fn validate_container(c: &Container, path: &str, errors: &mut FieldErrors) {
    if c.name.is_empty() {
        errors.push(format!("{path}.name"), "Required value");
    }
    let limits = &c.resources.limits;
    let requests = &c.resources.requests;
    validate_quantities(limits, &format!("{path}.resources.limits"), errors);
    validate_quantities(requests, &format!("{path}.resources.requests"), errors);
    for (name, request) in requests {
        if let Some(limit) = limits.get(name)
            && request > limit
        {
            errors.invalid(
                format!("{path}.resources.requests"),
                format!("{:?}", request.to_string()),
                &format!("must be less than or equal to {name} limit of {limit}"),
            );
        }
    }
}

/// Each quantity of `list` at `path[name]`: not negative, and within what kubesim holds.
fn validate_quantities(list: &ResourceList, path: &str, errors: &mut FieldErrors) {
    check_quantities(list, |name| format!("{path}[{name}]"), errors);
}

/// Each quantity of `list`, at the field `field` names: not negative, and within what
/// kubesim holds.
fn check_quantities(list: &ResourceList, field: impl Fn(&str) -> String, errors: &mut FieldErrors) {
    for (name, q) in list {
        let field = field(name);
        if q.is_negative() {
            errors.invalid(
                field,
                format!("{:?}", q.to_string()),
                "must be greater than or equal to 0",
            );
        } else if !representable(name, q) {
            errors.invalid(
                field,
                format!("{:?}", q.to_string()),
                "larger than kubesim can hold exactly (at most 2^63 − 1 units, \
                 or thousandths of a cpu)",
            );
        }
    }
}

/// Whether `q` of resource `name` fits the integer kubesim keeps it as (thousandths for cpu,
/// units otherwise) without saturating.
fn representable(name: &str, q: &Quantity) -> bool {
    let held = if name == CPU {
        q.milli_value()
    } else {
        q.value()
    };
    held != i64::MAX
}

/// `ValidateLabels`: every key and value, errors at the map's own path.
fn validate_labels(labels: &Labels, path: &str, errors: &mut FieldErrors) {
    for (key, value) in labels {
        if let Err(e) = validate_label_key(key) {
            errors.invalid(path, format!("{key:?}"), &e.to_string());
        }
        if let Err(e) = validate_label_value(value) {
            errors.invalid(path, format!("{value:?}"), &e.to_string());
        }
    }
}

/// `ValidateLabelSelector` for the parts the label syntax can get wrong (operators are typed
/// and checked when the manifest is read).
fn validate_selector(selector: &LabelSelector, path: &str, errors: &mut FieldErrors) {
    validate_labels(
        &selector.match_labels,
        &format!("{path}.matchLabels"),
        errors,
    );
    for (i, r) in selector.match_expressions.iter().enumerate() {
        let at = format!("{path}.matchExpressions[{i}]");
        use super::labels::SelectorOperator::*;
        match (r.operator, r.values.is_empty()) {
            (In | NotIn, true) => errors.push(
                format!("{at}.values"),
                "Required value: must be specified when `operator` is 'In' or 'NotIn'",
            ),
            (Exists | DoesNotExist, false) => errors.push(
                format!("{at}.values"),
                "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
            _ => {}
        }
        if let Err(e) = validate_label_key(&r.key) {
            errors.invalid(format!("{at}.key"), format!("{:?}", r.key), &e.to_string());
        }
        for (j, v) in r.values.iter().enumerate() {
            if let Err(e) = validate_label_value(v) {
                errors.invalid(
                    format!("{at}.values[{j}]"),
                    format!("{v:?}"),
                    &e.to_string(),
                );
            }
        }
    }
}

fn validate_affinity(pod: &Pod, errors: &mut FieldErrors) {
    let Some(affinity) = &pod.spec.affinity else {
        return;
    };
    const NODE: &str = "spec.affinity.nodeAffinity";
    if let Some(node) = &affinity.node_affinity {
        if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
            if required.node_selector_terms.is_empty() {
                errors.push(
                    format!(
                        "{NODE}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
                    ),
                    "Required value: must have at least one node selector term",
                );
            }
            if let Err(e) = required.validate() {
                errors.invalid(
                    format!("{NODE}.requiredDuringSchedulingIgnoredDuringExecution"),
                    "nodeSelectorTerms",
                    &e.to_string(),
                );
            }
        }
        for (i, t) in node
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .enumerate()
        {
            if !(1..=100).contains(&t.weight) {
                errors.invalid(
                    format!("{NODE}.preferredDuringSchedulingIgnoredDuringExecution[{i}].weight"),
                    t.weight,
                    "must be in the range 1-100",
                );
            }
        }
    }
    let pod_terms = [
        (
            "podAffinity",
            affinity.pod_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            affinity.pod_anti_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (name, terms) in pod_terms {
        let Some((required, preferred)) = terms else {
            continue;
        };
        let base = format!("spec.affinity.{name}");
        for (i, t) in required.iter().enumerate() {
            let at = format!("{base}.requiredDuringSchedulingIgnoredDuringExecution[{i}]");
            validate_pod_affinity_term(t, &at, errors);
        }
        for (i, w) in preferred.iter().enumerate() {
            let at = format!("{base}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            if !(1..=100).contains(&w.weight) {
                errors.invalid(
                    format!("{at}.weight"),
                    w.weight,
                    "must be in the range 1-100",
                );
            }
            validate_pod_affinity_term(
                &w.pod_affinity_term,
                &format!("{at}.podAffinityTerm"),
                errors,
            );
        }
    }
}

fn validate_pod_affinity_term(
    term: &super::affinity::PodAffinityTerm,
    path: &str,
    errors: &mut FieldErrors,
) {
    if term.topology_key.is_empty() {
        errors.push(
            format!("{path}.topologyKey"),
            "Required value: can not be empty",
        );
    } else if let Err(e) = validate_label_key(&term.topology_key) {
        errors.invalid(
            format!("{path}.topologyKey"),
            format!("{:?}", term.topology_key),
            &e.to_string(),
        );
    }
    if let Some(s) = &term.label_selector {
        validate_selector(s, &format!("{path}.labelSelector"), errors);
    }
    if let Some(s) = &term.namespace_selector {
        validate_selector(s, &format!("{path}.namespaceSelector"), errors);
    }
}

/// `validateTopologySpreadConstraints` for constraint `i` of `all`.
fn validate_spread(
    c: &TopologySpreadConstraint,
    i: usize,
    all: &[TopologySpreadConstraint],
    errors: &mut FieldErrors,
) {
    let at = format!("spec.topologySpreadConstraints[{i}]");
    if c.max_skew <= 0 {
        errors.invalid(
            format!("{at}.maxSkew"),
            c.max_skew,
            "must be greater than zero",
        );
    }
    if c.topology_key.is_empty() {
        errors.push(
            format!("{at}.topologyKey"),
            "Required value: can not be empty",
        );
    }
    let when = c.when_unsatisfiable.as_str();
    if when != "DoNotSchedule" && when != "ScheduleAnyway" {
        errors.push(
            format!("{at}.whenUnsatisfiable"),
            format!("Unsupported value: {when:?}: {WHEN_UNSATISFIABLE}"),
        );
    }
    // The earlier of two equal constraints is the one named, as upstream compares each with
    // those after it.
    if all[i + 1..]
        .iter()
        .any(|o| o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable)
    {
        errors.push(
            format!("{at}.{{topologyKey, whenUnsatisfiable}}"),
            format!(
                "Duplicate value: \"{{{}, {}}}\"",
                c.topology_key, c.when_unsatisfiable
            ),
        );
    }
    if let Some(min) = c.min_domains {
        if min <= 0 {
            errors.invalid(format!("{at}.minDomains"), min, "must be greater than zero");
        }
        if when != "DoNotSchedule" {
            errors.invalid(
                format!("{at}.minDomains"),
                min,
                &format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}"),
            );
        }
    }
    for (field, policy) in [
        ("nodeAffinityPolicy", &c.node_affinity_policy),
        ("nodeTaintsPolicy", &c.node_taints_policy),
    ] {
        if let Some(p) = policy
            && p != "Honor"
            && p != "Ignore"
        {
            errors.push(
                format!("{at}.{field}"),
                format!("Unsupported value: {p:?}: supported values: \"Honor\", \"Ignore\""),
            );
        }
    }
    if !c.match_label_keys.is_empty() && c.label_selector.is_none() {
        errors.push(
            format!("{at}.matchLabelKeys"),
            "Forbidden: must not be specified when labelSelector is not set",
        );
    }
    if let Some(s) = &c.label_selector {
        validate_selector(s, &format!("{at}.labelSelector"), errors);
    }
}

/// `ValidateTolerations`.
fn validate_tolerations(pod: &Pod, errors: &mut FieldErrors) {
    for (i, t) in pod.spec.tolerations.iter().enumerate() {
        let at = format!("spec.tolerations[{i}]");
        if !t.key.is_empty()
            && let Err(e) = validate_label_key(&t.key)
        {
            errors.invalid(format!("{at}.key"), format!("{:?}", t.key), &e.to_string());
        }
        if t.key.is_empty() && t.operator != TolerationOperator::Exists {
            errors.invalid(
                format!("{at}.operator"),
                "\"Equal\"",
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            );
        }
        if t.toleration_seconds.is_some() && t.effect != Some(super::taints::TaintEffect::NoExecute)
        {
            let effect = t.effect.map(|e| format!("{e:?}")).unwrap_or_default();
            errors.invalid(
                format!("{at}.effect"),
                format!("{effect:?}"),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            );
        }
        match t.operator {
            TolerationOperator::Exists if !t.value.is_empty() => errors.invalid(
                format!("{at}.operator"),
                format!("{:?}", t.value),
                "value must be empty when `operator` is 'Exists'",
            ),
            TolerationOperator::Equal => {
                if let Err(e) = validate_label_value(&t.value) {
                    errors.invalid(
                        format!("{at}.operator"),
                        format!("{:?}", t.value),
                        &e.to_string(),
                    );
                }
            }
            TolerationOperator::Exists => {}
        }
    }
}

/// `ValidateNode` over the fields kubesim models: labels, taints (at `metadata.taints`, as
/// upstream names them), capacity and allocatable.
pub fn validate_node(node: &Node) -> FieldErrors {
    let mut errors = FieldErrors::default();
    validate_labels(&node.metadata.labels, "metadata.labels", &mut errors);
    for (i, t) in node.spec.taints.iter().enumerate() {
        let at = format!("metadata.taints[{i}]");
        if let Err(e) = validate_label_key(&t.key) {
            errors.invalid(format!("{at}.key"), format!("{:?}", t.key), &e.to_string());
        }
        if let Err(e) = validate_label_value(&t.value) {
            errors.invalid(
                format!("{at}.value"),
                format!("{:?}", t.value),
                &e.to_string(),
            );
        }
        if node.spec.taints[..i]
            .iter()
            .any(|o| o.key == t.key && o.effect == t.effect)
        {
            errors.push(
                at,
                format!(
                    "Duplicate value: {{\"key\":{:?},\"value\":{:?},\"effect\":\"{:?}\"}}: \
                     taints must be unique by key and effect pair",
                    t.key, t.value, t.effect
                ),
            );
        }
    }
    // Node resource lists are named with dots (`status.capacity.cpu`), as upstream does.
    for (list, path) in [
        (&node.status.capacity, "status.capacity"),
        (&node.status.allocatable, "status.allocatable"),
    ] {
        check_quantities(list, |name| format!("{path}.{name}"), &mut errors);
    }
    errors
}

/// The checks of an update of `old` to `new` (not of its status): a pod's spec rules, a
/// node's own validation, the selector a workload may not change (apps/v1's rule).
pub fn validate_update(old: &Object, new: &Object) -> FieldErrors {
    match (old, new) {
        (Object::Pod(a), Object::Pod(b)) => validate_pod_update(a, b),
        (_, Object::Pod(b)) => validate_pod(b),
        (_, Object::Node(b)) => validate_node(b),
        (_, Object::PodDisruptionBudget(b)) => validate_pdb(b),
        (Object::Deployment(a), Object::Deployment(b)) => {
            immutable_selector(&a.spec.selector, &b.spec.selector)
        }
        (Object::ReplicaSet(a), Object::ReplicaSet(b)) => {
            immutable_selector(&a.spec.selector, &b.spec.selector)
        }
        _ => FieldErrors::default(),
    }
}

/// `ValidatePodDisruptionBudget` (`pkg/apis/policy/validation`): at most one of
/// `minAvailable` and `maxUnavailable`, each a non-negative integer or a percentage of at most
/// 100%; a valid selector; a known unhealthy pod eviction policy.
pub fn validate_pdb(pdb: &PodDisruptionBudget) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let spec = &pdb.spec;
    if let (Some(min), Some(_)) = (&spec.min_available, &spec.max_unavailable) {
        errors.invalid(
            "spec.minAvailable",
            int_or_string_text(min),
            "minAvailable and maxUnavailable cannot be both set",
        );
    }
    for (field, value) in [
        ("spec.minAvailable", &spec.min_available),
        ("spec.maxUnavailable", &spec.max_unavailable),
    ] {
        if let Some(value) = value {
            validate_positive_int_or_percent(value, field, &mut errors);
        }
    }
    if let Some(selector) = &spec.selector {
        validate_selector(selector, "spec.selector", &mut errors);
    }
    if let Some(policy) = &spec.unhealthy_pod_eviction_policy
        && UnhealthyPodEvictionPolicy::from_name(policy).is_none()
    {
        let supported: Vec<String> = UnhealthyPodEvictionPolicy::NAMES
            .iter()
            .map(|n| format!("{n:?}"))
            .collect();
        errors.push(
            "spec.unhealthyPodEvictionPolicy",
            format!(
                "Unsupported value: {policy:?}: supported values: {}",
                supported.join(", ")
            ),
        );
    }
    errors
}

/// An `IntOrString` as a validation message shows it.
fn int_or_string_text(value: &IntOrString) -> String {
    match value {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => format!("{s:?}"),
    }
}

/// `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`.
fn validate_positive_int_or_percent(value: &IntOrString, field: &str, errors: &mut FieldErrors) {
    let text = int_or_string_text(value);
    match value {
        IntOrString::Int(n) if *n < 0 => {
            errors.invalid(field, text, "must be greater than or equal to 0");
        }
        IntOrString::Int(_) => {}
        IntOrString::String(s) => {
            let percent = s
                .strip_suffix('%')
                .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|digits| digits.parse::<u64>().ok());
            match percent {
                None => errors.invalid(field, text, "must be an integer or percentage (e.g '5%')"),
                Some(p) if p > 100 => errors.invalid(field, text, "must not be greater than 100%"),
                Some(_) => {}
            }
        }
    }
}

/// `spec.selector: Invalid value: {…}: field is immutable`, when it changed.
fn immutable_selector(old: &LabelSelector, new: &LabelSelector) -> FieldErrors {
    let mut errors = FieldErrors::default();
    if old != new {
        let value = serde_json::to_string(new).unwrap_or_default();
        errors.invalid("spec.selector", value, "field is immutable");
    }
    errors
}

/// The fields of a pod's spec an update may change, in upstream's words.
const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,\
`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions \
to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it \
was previously negative)";

/// `ValidatePodUpdate`'s spec rule: containers are neither added nor removed, existing
/// tolerations stay, scheduling gates may only go, and apart from images, tolerations,
/// gates and the grace period the spec stays as it is (`spec.nodeName` changes only through
/// a binding).
pub fn validate_pod_update(old: &Pod, new: &Pod) -> FieldErrors {
    let mut errors = validate_pod(new);
    if old.spec.containers.len() != new.spec.containers.len() {
        errors.push(
            "spec.containers",
            "Forbidden: pod updates may not add or remove containers",
        );
        return errors;
    }
    if old.spec.init_containers.len() != new.spec.init_containers.len() {
        errors.push(
            "spec.initContainers",
            "Forbidden: pod updates may not add or remove containers",
        );
        return errors;
    }
    let kept = old.spec.tolerations.iter().all(|t| {
        new.spec.tolerations.iter().any(|n| {
            n.key == t.key && n.operator == t.operator && n.value == t.value && n.effect == t.effect
        })
    });
    if !kept {
        errors.push(
            "spec.tolerations",
            "Forbidden: existing toleration can not be modified except its tolerationSeconds",
        );
    }
    for (i, gate) in new.spec.scheduling_gates.iter().enumerate() {
        if !old
            .spec
            .scheduling_gates
            .iter()
            .any(|g| g.name == gate.name)
        {
            errors.push(
                format!("spec.schedulingGates[{i}].name"),
                format!(
                    "Forbidden: only deletion is allowed, but found new scheduling gate '{}'",
                    gate.name
                ),
            );
        }
    }
    // The new spec with what may change taken from the old: anything else that differs is
    // forbidden.
    let mut munged = (*new.spec).clone();
    for (m, o) in munged.containers.iter_mut().zip(&old.spec.containers) {
        m.image = o.image.clone();
    }
    for (m, o) in munged
        .init_containers
        .iter_mut()
        .zip(&old.spec.init_containers)
    {
        m.image = o.image.clone();
    }
    munged.tolerations = old.spec.tolerations.clone();
    munged.scheduling_gates = old.spec.scheduling_gates.clone();
    if old
        .spec
        .termination_grace_period_seconds
        .is_some_and(|s| s < 0)
        && new.spec.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old.spec.termination_grace_period_seconds;
    }
    if munged != *old.spec {
        errors.push(
            "spec",
            format!("Forbidden: pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}"),
        );
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::ResourceList;

    fn quantity(text: &str) -> Quantity {
        text.parse().expect("quantity")
    }

    fn pod_with(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Pod {
        let list = |pairs: &[(&str, &str)]| -> ResourceList {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), quantity(v)))
                .collect()
        };
        let mut pod = Pod::default();
        pod.metadata.name = "p".into();
        let mut c = Container {
            name: "c".into(),
            image: "i".into(),
            ..Container::default()
        };
        c.resources.requests = list(requests);
        c.resources.limits = list(limits);
        std::sync::Arc::make_mut(&mut pod.spec).containers.push(c);
        pod
    }

    #[test]
    fn requests_must_be_non_negative_and_within_limits() {
        assert!(validate_pod(&pod_with(&[("cpu", "1")], &[("cpu", "2")])).is_empty());
        let negative = validate_pod(&pod_with(&[("cpu", "-1")], &[]));
        assert_eq!(
            negative.to_string(),
            "spec.containers[0].resources.requests[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"
        );
        // A request above its limit is reported at `requests` itself, as upstream does.
        let over = validate_pod(&pod_with(&[("cpu", "500m")], &[("cpu", "100m")]));
        assert_eq!(
            over.to_string(),
            "spec.containers[0].resources.requests: Invalid value: \"500m\": must be less than or equal to cpu limit of 100m"
        );
        // 2^63 thousandths of a cpu would be clamped: an error rather than a silent change.
        let huge = validate_pod(&pod_with(&[("cpu", "9223372036854776")], &[]));
        assert_eq!(
            huge.first().map(|e| e.field.as_str()),
            Some("spec.containers[0].resources.requests[cpu]")
        );
    }

    #[test]
    fn spread_constraints_follow_upstreams_rules() {
        let mut pod = pod_with(&[], &[]);
        let constraint = |skew: i32, when: &str| TopologySpreadConstraint {
            max_skew: skew,
            topology_key: "zone".into(),
            when_unsatisfiable: when.into(),
            ..TopologySpreadConstraint::default()
        };
        std::sync::Arc::make_mut(&mut pod.spec).topology_spread_constraints =
            vec![constraint(0, "DoNotSchedule")];
        assert_eq!(
            validate_pod(&pod).to_string(),
            "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero"
        );
        let mut with_min = constraint(1, "ScheduleAnyway");
        with_min.min_domains = Some(2);
        std::sync::Arc::make_mut(&mut pod.spec).topology_spread_constraints = vec![with_min];
        assert_eq!(
            validate_pod(&pod).to_string(),
            "spec.topologySpreadConstraints[0].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway"
        );
        // Two equal constraints: the first is named.
        std::sync::Arc::make_mut(&mut pod.spec).topology_spread_constraints = vec![
            constraint(1, "DoNotSchedule"),
            constraint(2, "DoNotSchedule"),
        ];
        assert_eq!(
            validate_pod(&pod).to_string(),
            "spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: \"{zone, DoNotSchedule}\""
        );
    }

    #[test]
    fn node_capacity_must_be_non_negative() {
        let mut node = Node::default();
        node.metadata.name = "n".into();
        node.status.capacity.insert("cpu".into(), quantity("-1"));
        assert_eq!(
            validate_node(&node).to_string(),
            "status.capacity.cpu: Invalid value: \"-1\": must be greater than or equal to 0"
        );
    }

    #[test]
    fn a_pod_update_may_change_images_but_not_requests() {
        let old = pod_with(&[("cpu", "1")], &[]);
        let mut image = old.clone();
        std::sync::Arc::make_mut(&mut image.spec).containers[0].image = "i:2".into();
        assert!(validate_pod_update(&old, &image).is_empty());
        let resized = pod_with(&[("cpu", "2")], &[]);
        let errors = validate_pod_update(&old, &resized);
        assert_eq!(
            errors.to_string(),
            format!(
                "spec: Forbidden: pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}"
            )
        );
        let mut moved = old.clone();
        std::sync::Arc::make_mut(&mut moved.spec).node_name = "n1".into();
        assert!(!validate_pod_update(&old, &moved).is_empty());
    }

    #[test]
    fn a_deployments_selector_is_immutable() {
        use crate::api::deployment::Deployment;
        let mut old = Deployment::default();
        old.metadata.name = "web".into();
        old.spec
            .selector
            .match_labels
            .insert("app".into(), "web".into());
        let mut scaled = old.clone();
        scaled.spec.replicas = Some(5);
        let same = validate_update(
            &Object::Deployment(Box::new(old.clone())),
            &Object::Deployment(Box::new(scaled)),
        );
        assert!(same.is_empty());
        let mut moved = old.clone();
        moved
            .spec
            .selector
            .match_labels
            .insert("app".into(), "api".into());
        let errors = validate_update(
            &Object::Deployment(Box::new(old)),
            &Object::Deployment(Box::new(moved)),
        );
        assert_eq!(
            errors.to_string(),
            "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"api\"}}: field is immutable"
        );
    }
}
