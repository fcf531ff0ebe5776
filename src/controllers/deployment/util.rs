//! What the Deployment controller computes without asking anyone (upstream
//! `pkg/controller/deployment/util/deployment_util.go` and the ReplicaSet sort orders of
//! `pkg/controller/controller_utils.go`): the rollout's fenceposts (`maxSurge`,
//! `maxUnavailable`), the new ReplicaSet's next size, proportions when a Deployment with
//! several active ReplicaSets is resized, revisions and the annotations that carry them, the
//! pod-template-hash, the `Available` / `Progressing` conditions and when a rollout is
//! complete, progressing or out of time.
//!
//! The pod-template-hash: upstream hashes the template with FNV-32a over Go's object printer
//! (`DeepHashObject`), adds the collision count, and writes the decimal number through
//! `rand.SafeEncodeString`. kubesim cannot print a template byte for byte as Go does, so it
//! hashes the template's canonical JSON instead; the rest is the same. Names therefore differ
//! from a real cluster's, but are as stable: the same template always gets the same hash, a
//! different one (almost always) a different hash.

use std::cmp::Ordering;

use crate::api::deployment::{
    DEPRECATED_ROLLBACK_TO_ANNOTATION, DESIRED_REPLICAS_ANNOTATION, Deployment,
    DeploymentCondition, DeploymentStatus, MAX_REPLICAS_ANNOTATION, POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
};
use crate::api::meta::{IntOrPercentError, IntOrString};
use crate::api::pod::PodTemplateSpec;
use crate::api::replicaset::ReplicaSet;
use crate::sim::{SimDuration, SimTime};

/// `kubectl.kubernetes.io/last-applied-configuration`, never copied between a Deployment and
/// its ReplicaSets.
pub const LAST_APPLIED_CONFIG_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The longest `revision-history` annotation the controller writes (upstream
/// `maxRevHistoryLengthInChars`: about 100 revisions).
pub const MAX_REV_HISTORY_LENGTH_IN_CHARS: usize = 2000;

/// `Progressing` reason: a ReplicaSet of the rollout was scaled.
pub const REPLICA_SET_UPDATED_REASON: &str = "ReplicaSetUpdated";
/// `Progressing` reason: the new ReplicaSet could not be created.
pub const FAILED_RS_CREATE_REASON: &str = "ReplicaSetCreateError";
/// `Progressing` reason: the controller created the new ReplicaSet.
pub const NEW_REPLICA_SET_REASON: &str = "NewReplicaSetCreated";
/// `Progressing` reason: the new ReplicaSet existed already.
pub const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
/// `Progressing` reason: the rollout is complete.
pub const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
/// `Progressing` reason: no progress within `progressDeadlineSeconds`.
pub const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
/// `Progressing` reason: the Deployment is paused.
pub const PAUSED_DEPLOY_REASON: &str = "DeploymentPaused";
/// `Progressing` reason: the Deployment was resumed.
pub const RESUMED_DEPLOY_REASON: &str = "DeploymentResumed";
/// `Available` reason: at least `replicas − maxUnavailable` pods are available.
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
/// `Available` reason: fewer than `replicas − maxUnavailable` pods are available.
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// Annotations that belong to the controller's bookkeeping, not to the user: never copied from
/// a Deployment to its ReplicaSets or back (upstream `annotationsToSkip`).
const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    LAST_APPLIED_CONFIG_ANNOTATION,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    DEPRECATED_ROLLBACK_TO_ANNOTATION,
];

/// Whether `key` is one of the controller's own annotations.
pub fn skip_copy_annotation(key: &str) -> bool {
    ANNOTATIONS_TO_SKIP.contains(&key)
}

// ---------------------------------------------------------------------------------------------
// Fenceposts
// ---------------------------------------------------------------------------------------------

/// `maxSurge` and `maxUnavailable` resolved against `desired` (upstream `ResolveFenceposts`):
/// a percentage of surge rounds up, of unavailability down; if both come to 0, one pod may be
/// unavailable, for surge might be impossible (a quota) and the rollout must move.
pub fn resolve_fenceposts(
    max_surge: &IntOrString,
    max_unavailable: &IntOrString,
    desired: i32,
) -> Result<(i32, i32), IntOrPercentError> {
    let surge = max_surge.scaled_value(i64::from(desired), true)?;
    let mut unavailable = max_unavailable.scaled_value(i64::from(desired), false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((clamp_i32(surge), clamp_i32(unavailable)))
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// The surge a rolling Deployment allows (0 for Recreate; 0 if the values do not parse, which
/// the apiserver's validation would have refused).
pub fn max_surge(d: &Deployment) -> i32 {
    if !d.spec.strategy.is_rolling_update() {
        return 0;
    }
    let s = &d.spec.strategy;
    resolve_fenceposts(
        &s.max_surge(),
        &s.max_unavailable(),
        d.spec.desired_replicas(),
    )
    .map_or(0, |(surge, _)| surge)
}

/// The unavailability a rolling Deployment allows, at most `replicas` (0 for Recreate or zero
/// replicas).
pub fn max_unavailable(d: &Deployment) -> i32 {
    let replicas = d.spec.desired_replicas();
    if !d.spec.strategy.is_rolling_update() || replicas == 0 {
        return 0;
    }
    let s = &d.spec.strategy;
    resolve_fenceposts(&s.max_surge(), &s.max_unavailable(), replicas)
        .map_or(0, |(_, unavailable)| unavailable.min(replicas))
}

/// The fewest available pods a rolling Deployment keeps (0 for Recreate).
pub fn min_available(d: &Deployment) -> i32 {
    if !d.spec.strategy.is_rolling_update() {
        return 0;
    }
    d.spec.desired_replicas() - max_unavailable(d)
}

/// The new ReplicaSet's next size (upstream `NewRSNewReplicas`): for a rolling update, as many
/// more as the surge allows over every ReplicaSet's size, never beyond `replicas`; for
/// Recreate, `replicas` at once.
pub fn new_rs_new_replicas(
    d: &Deployment,
    all: &[&ReplicaSet],
    new_rs: &ReplicaSet,
) -> Result<i32, IntOrPercentError> {
    let desired = d.spec.desired_replicas();
    if d.spec.strategy.is_recreate() {
        return Ok(desired);
    }
    let surge = clamp_i32(
        d.spec
            .strategy
            .max_surge()
            .scaled_value(i64::from(desired), true)?,
    );
    let current = replica_count(all.iter().copied());
    let max_total = desired + surge;
    if current >= max_total {
        return Ok(new_rs.replicas());
    }
    let scale_up = (max_total - current).min(desired - new_rs.replicas());
    Ok(new_rs.replicas() + scale_up)
}

/// Whether the new ReplicaSet has the whole Deployment, all of it available (upstream
/// `IsSaturated`): its size, its `desired-replicas` annotation and its available pods all
/// equal `replicas`.
pub fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else {
        return false;
    };
    let desired = d.spec.desired_replicas();
    desired_replicas_annotation(rs) == Some(desired)
        && rs.replicas() == desired
        && rs.status.available_replicas == desired
}

// ---------------------------------------------------------------------------------------------
// Proportional scaling
// ---------------------------------------------------------------------------------------------

/// How many replicas `rs` gains (or loses) when `to_add` are spread over the active
/// ReplicaSets and `added` are spread already (upstream `GetProportion`): its fraction, but
/// never beyond what is left to spread.
pub fn get_proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs.replicas() == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// The change that keeps `rs`'s share of the Deployment when the Deployment's largest size
/// goes from the `max-replicas` it was last scaled at to `replicas + maxSurge` (upstream
/// `getReplicaSetFraction`), rounded half away from zero. Scaling to zero takes everything; a
/// missing or zero annotation falls back to `status.replicas`, and to no change if that is 0.
pub fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    let replicas = rs.replicas();
    if d.spec.desired_replicas() == 0 {
        return -replicas;
    }
    let max_now = d.spec.desired_replicas() + max_surge(d);
    let before = match max_replicas_annotation(rs) {
        Some(v) if v != 0 => v,
        _ => d.status.replicas,
    };
    if before == 0 {
        return 0;
    }
    let size = (replicas as f64 * max_now as f64) / before as f64;
    round_to_i32(size) - replicas
}

/// `integer.RoundToInt32`: half away from zero, truncating the rest.
fn round_to_i32(a: f64) -> i32 {
    if a < 0.0 {
        (a - 0.5) as i32
    } else {
        (a + 0.5) as i32
    }
}

// ---------------------------------------------------------------------------------------------
// Annotations and revisions
// ---------------------------------------------------------------------------------------------

/// A non-negative 32-bit integer annotation (upstream `getNonNegativeInt32FromAnnotation`):
/// digits only, at most `MaxInt32`; anything else is no value.
fn non_negative_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    let value = rs.metadata.annotations.get(key)?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<i32>().ok()
}

/// The `desired-replicas` annotation.
pub fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    non_negative_annotation(rs, DESIRED_REPLICAS_ANNOTATION)
}

/// The `max-replicas` annotation.
pub fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    non_negative_annotation(rs, MAX_REPLICAS_ANNOTATION)
}

/// Sets `desired-replicas` and `max-replicas`; returns whether either changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = &mut rs.metadata.annotations;
    let mut updated = false;
    for (key, value) in [
        (DESIRED_REPLICAS_ANNOTATION, desired),
        (MAX_REPLICAS_ANNOTATION, max),
    ] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_string(), value);
            updated = true;
        }
    }
    updated
}

/// Whether `desired-replicas` or `max-replicas` differ from these.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = &rs.metadata.annotations;
    annotations.get(DESIRED_REPLICAS_ANNOTATION) != Some(&desired.to_string())
        || annotations.get(MAX_REPLICAS_ANNOTATION) != Some(&max.to_string())
}

/// The revision a ReplicaSet (or Deployment) carries: 0 without the annotation, an error if it
/// is not a number (upstream `Revision`).
pub fn revision(annotations: &crate::api::meta::Annotations) -> Result<i64, String> {
    match annotations.get(REVISION_ANNOTATION) {
        None => Ok(0),
        Some(v) => v.parse::<i64>().map_err(|e| format!("{v:?}: {e}")),
    }
}

/// The highest revision among `rss` (those whose revision does not parse are skipped).
pub fn max_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    rss.into_iter()
        .filter_map(|rs| revision(&rs.metadata.annotations).ok())
        .fold(0, i64::max)
}

/// The second highest revision among `rss`: the one before the current (upstream
/// `LastRevision`).
pub fn last_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    let (mut max, mut second) = (0, 0);
    for v in rss
        .into_iter()
        .filter_map(|rs| revision(&rs.metadata.annotations).ok())
    {
        if v >= max {
            second = max;
            max = v;
        } else if v > second {
            second = v;
        }
    }
    second
}

/// Sets the Deployment's revision annotation; returns whether it changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let annotations = &mut d.metadata.annotations;
    if annotations.get(REVISION_ANNOTATION).map(String::as_str) == Some(revision) {
        return false;
    }
    annotations.insert(REVISION_ANNOTATION.to_string(), revision.to_string());
    true
}

/// Brings the new ReplicaSet's annotations up to date (upstream
/// `SetNewReplicaSetAnnotations`): the Deployment's own annotations copied, the revision
/// raised to `new_revision` if lower (a ReplicaSet rolled back to keeps the revisions it served
/// in `revision-history`, at most `history_limit_chars` long), and for a ReplicaSet about to
/// be created the replicas annotations. Returns whether anything changed.
pub fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    history_limit_chars: usize,
) -> bool {
    let mut changed = copy_deployment_annotations(d, rs);
    let annotations = &mut rs.metadata.annotations;
    let old = annotations.get(REVISION_ANNOTATION).cloned();
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            // A revision that is not a number is left alone, as upstream does.
            Err(_) => return false,
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION_ANNOTATION.to_string(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            append_revision_history(annotations, &old, history_limit_chars);
        }
    }
    if !exists {
        let desired = d.spec.desired_replicas();
        changed |= set_replicas_annotations(rs, desired, desired + max_surge(d));
    }
    changed
}

/// Appends `old` to `revision-history`, dropping the oldest entries while the result would
/// be longer than `limit` characters.
fn append_revision_history(
    annotations: &mut crate::api::meta::Annotations,
    old: &str,
    limit: usize,
) {
    let history = annotations
        .get(REVISION_HISTORY_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    if history.is_empty() {
        annotations.insert(REVISION_HISTORY_ANNOTATION.to_string(), old.to_string());
        return;
    }
    let revisions: Vec<&str> = history.split(',').collect();
    let mut total = history.len() + old.len() + 1;
    let mut start = 0;
    while total > limit && start < revisions.len() {
        total -= revisions[start].len() + 1;
        start += 1;
    }
    if total <= limit {
        let mut kept = revisions[start..].to_vec();
        kept.push(old);
        annotations.insert(REVISION_HISTORY_ANNOTATION.to_string(), kept.join(","));
    }
}

/// Copies the Deployment's annotations (but the controller's own) onto `rs`; returns whether
/// any changed.
fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let mut changed = false;
    for (k, v) in &d.metadata.annotations {
        if skip_copy_annotation(k) || rs.metadata.annotations.get(k) == Some(v) {
            continue;
        }
        rs.metadata.annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// The Deployment's annotations after rolling back to `rs` (upstream
/// `SetDeploymentAnnotationsTo`): the controller's own kept, the rest taken from `rs`.
pub fn annotations_rolled_back_to(
    d: &Deployment,
    rs: &ReplicaSet,
) -> crate::api::meta::Annotations {
    let mut annotations: crate::api::meta::Annotations = d
        .metadata
        .annotations
        .iter()
        .filter(|(k, _)| skip_copy_annotation(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in &rs.metadata.annotations {
        if !skip_copy_annotation(k) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    annotations
}

/// `template` without the pod-template-hash label: what a rollback writes into the Deployment
/// (upstream `SetFromReplicaSetTemplate`).
pub fn template_without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    t.metadata.labels.remove(POD_TEMPLATE_HASH_LABEL);
    t
}

/// Whether two templates are equal but for the pod-template-hash label (upstream
/// `EqualIgnoreHash`).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let labels_equal = {
        let strip = |t: &PodTemplateSpec| {
            t.metadata
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != POD_TEMPLATE_HASH_LABEL)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        strip(a) == strip(b)
    };
    if !labels_equal {
        return false;
    }
    let mut a_meta = a.metadata.clone();
    let mut b_meta = b.metadata.clone();
    a_meta.labels.clear();
    b_meta.labels.clear();
    a_meta == b_meta && a.spec == b.spec
}

// ---------------------------------------------------------------------------------------------
// pod-template-hash
// ---------------------------------------------------------------------------------------------

/// The characters `rand.SafeEncodeString` writes (no vowels, no look-alikes).
const SAFE_ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The pod-template-hash of `template` (upstream `controller.ComputeHash`): FNV-32a over the
/// template (its canonical JSON here, see the module docs), then, if there were collisions,
/// the count as 4 little-endian bytes and 4 zero bytes; the decimal number safe-encoded.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    // Serializing plain data to JSON cannot fail; an empty input would still hash.
    let bytes = serde_json::to_vec(template).unwrap_or_default();
    let mut hash = fnv32a(0x811c_9dc5, &bytes);
    if let Some(count) = collision_count {
        let mut extra = [0u8; 8];
        extra[..4].copy_from_slice(&(count as u32).to_le_bytes());
        hash = fnv32a(hash, &extra);
    }
    safe_encode(&hash.to_string())
}

/// FNV-1a, 32 bits, continuing from `hash`.
fn fnv32a(mut hash: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// `rand.SafeEncodeString`: each byte mapped onto the safe alphabet by its value modulo 27.
fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| SAFE_ALPHANUMS[usize::from(b) % SAFE_ALPHANUMS.len()] as char)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Finding the new and old ReplicaSets; orders
// ---------------------------------------------------------------------------------------------

/// Oldest first, ties by name (upstream `ReplicaSetsByCreationTimestamp`).
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    a.metadata
        .creation_timestamp
        .cmp(&b.metadata.creation_timestamp)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Larger first, then older (upstream `ReplicaSetsBySizeOlder`): who gives up replicas first.
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    b.replicas()
        .cmp(&a.replicas())
        .then_with(|| by_creation(a, b))
}

/// Larger first, then newer (upstream `ReplicaSetsBySizeNewer`): who gains replicas first.
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    b.replicas()
        .cmp(&a.replicas())
        .then_with(|| by_creation(b, a))
}

/// Lower revision first; a revision that does not parse, or equal ones, by creation (upstream
/// `ReplicaSetsByRevision`).
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    match (
        revision(&a.metadata.annotations),
        revision(&b.metadata.annotations),
    ) {
        (Ok(x), Ok(y)) if x != y => x.cmp(&y),
        _ => by_creation(a, b),
    }
}

/// The index in `rss` of the Deployment's new ReplicaSet: the oldest whose template equals the
/// Deployment's, but for the hash label (upstream `FindNewReplicaSet`).
pub fn find_new_replica_set(d: &Deployment, rss: &[ReplicaSet]) -> Option<usize> {
    let mut order: Vec<usize> = (0..rss.len()).collect();
    order.sort_by(|&i, &j| by_creation(&rss[i], &rss[j]));
    order
        .into_iter()
        .find(|&i| equal_ignore_hash(&rss[i].spec.template, &d.spec.template))
}

// ---------------------------------------------------------------------------------------------
// Counts
// ---------------------------------------------------------------------------------------------

/// Σ `spec.replicas`.
pub fn replica_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(ReplicaSet::replicas).sum()
}

/// Σ `status.replicas`: the pods that exist.
pub fn actual_replica_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(|rs| rs.status.replicas).sum()
}

/// Σ `status.readyReplicas`.
pub fn ready_replica_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(|rs| rs.status.ready_replicas).sum()
}

/// Σ `status.availableReplicas`.
pub fn available_replica_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(|rs| rs.status.available_replicas).sum()
}

// ---------------------------------------------------------------------------------------------
// Conditions and progress
// ---------------------------------------------------------------------------------------------

/// A condition written at `now`. Its times are whole seconds: the API keeps `metav1.Time` to
/// the second, and the controller reads its conditions back from its cache.
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: SimTime,
) -> DeploymentCondition {
    let now = whole_seconds(now);
    DeploymentCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        last_update_time: now,
        last_transition_time: now,
        reason: reason.to_string(),
        message,
    }
}

/// `t` truncated to the second, as `metav1.Time` travels.
pub fn whole_seconds(t: SimTime) -> SimTime {
    const NANOS: u64 = 1_000_000_000;
    SimTime::from_nanos(t.as_nanos() / NANOS * NANOS)
}

/// Sets `condition` (upstream `SetDeploymentCondition`): nothing happens if one of its type
/// has the same status and reason; the transition time is kept if the status is.
pub fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = status.condition(&condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time;
        }
    }
    remove_condition(status, &condition.type_);
    status.conditions.push(condition);
}

/// Removes the condition of type `type_`.
pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    status.conditions.retain(|c| c.type_ != type_);
}

/// Whether every desired pod is updated and available and no old pod is left, for the
/// Deployment's current generation (upstream `DeploymentComplete`).
pub fn deployment_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let desired = d.spec.desired_replicas();
    status.updated_replicas == desired
        && status.replicas == desired
        && status.available_replicas == desired
        && status.observed_generation >= d.metadata.generation
}

/// Whether `new` shows progress over the Deployment's current status (upstream
/// `DeploymentProgressing`): more updated pods, fewer old ones, more ready or available.
pub fn deployment_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = &d.status;
    let old_old = old.replicas - old.updated_replicas;
    let new_old = new.replicas - new.updated_replicas;
    new.updated_replicas > old.updated_replicas
        || new_old < old_old
        || new.ready_replicas > old.ready_replicas
        || new.available_replicas > old.available_replicas
}

/// Whether the rollout has gone `progressDeadlineSeconds` without progress at `now` (upstream
/// `DeploymentTimedOut`): the `Progressing` condition's last update plus the deadline is
/// before now; never for a completed rollout; always once timed out.
pub fn deployment_timed_out(d: &Deployment, new: &DeploymentStatus, now: SimTime) -> bool {
    if !d.spec.has_progress_deadline() {
        return false;
    }
    let Some(condition) = new.condition(crate::api::deployment::DEPLOYMENT_PROGRESSING) else {
        return false;
    };
    if condition.reason == NEW_RS_AVAILABLE_REASON {
        return false;
    }
    if condition.reason == TIMED_OUT_REASON {
        return true;
    }
    condition.last_update_time + deadline(d) < now
}

/// `progressDeadlineSeconds` as a span (a negative value counts as none).
pub fn deadline(d: &Deployment) -> SimDuration {
    SimDuration::from_secs(u64::try_from(d.spec.progress_deadline_seconds()).unwrap_or(0))
}

#[cfg(test)]
mod tests;
