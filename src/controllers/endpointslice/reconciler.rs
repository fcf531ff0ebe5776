//! The reconciler (upstream `staging/src/k8s.io/endpointslice/reconciler.go` and
//! `utils.go`): from a Service, the pods its selector selects, the nodes and the slices that
//! exist, the writes that make the slices show the pods. It only plans; the controller sends
//! the writes one at a time and waits for each.
//!
//! Per address type of the Service (IPv4, then IPv6):
//!
//! 1. the desired endpoints, grouped by the ports they serve (pods without an address of the
//!    type are left out; so are pods on a node the controller does not know, which fails the
//!    sync so it is retried — unless the Service publishes not-ready addresses);
//! 2. per group, the existing slices are kept where they still hold desired endpoints —
//!    endpoints no longer desired are dropped, changed ones replaced in place, slices left
//!    empty deleted, slices whose labels no longer mirror the Service's relabelled —, then the
//!    slices already being updated are filled up (fullest first), then the rest goes into the
//!    unchanged slice it fills closest to full, or into new slices of at most
//!    `--max-endpoints-per-slice` each;
//! 3. slices of port groups no longer desired, and slices not owned by this Service, go;
//! 4. a Service with no endpoints keeps one empty *placeholder* slice;
//! 5. creates are turned into updates of slices that would otherwise be deleted, and every
//!    created or updated slice carries the last-change trigger time (or loses it).
//!
//! Slices of an address type the Service no longer has are deleted last. Upstream iterates
//! Go maps and sets here (random order); kubesim goes in name and key order, and takes
//! desired endpoints in address order, so a run is repeatable.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::pod_endpoint::{endpoint_ports, is_ipv6, pod_endpoint, should_be_in_endpoints};
use crate::api::endpointslice::{
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME, AddressType, Endpoint, EndpointPort, EndpointSlice,
    LABEL_HEADLESS, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, MANAGED_BY_CONTROLLER,
};
use crate::api::labels::Labels;
use crate::api::meta::{ObjectMeta, OwnerReference};
use crate::api::pod::Pod;
use crate::api::service::Service;
use crate::api::timestamp::rfc3339_nano;
use crate::api::{Kind, Object, ObjectKey};
use crate::sim::SimTime;

/// What one reconcile works from.
pub struct Inputs<'a> {
    /// The Service.
    pub service: &'a Service,
    /// The pods its selector selects.
    pub pods: &'a [Arc<Pod>],
    /// Every node known, by key.
    pub nodes: &'a BTreeMap<ObjectKey, Arc<Object>>,
    /// The slices the controller manages for the Service (none being deleted).
    pub existing: &'a [EndpointSlice],
    /// `--max-endpoints-per-slice`.
    pub max_endpoints: usize,
    /// The last-change trigger time to annotate written slices with.
    pub trigger_time: Option<SimTime>,
}

/// One write to an EndpointSlice.
#[derive(Clone, Debug, PartialEq)]
pub enum SliceWrite {
    /// Create this slice (its name generated from `<service>-`).
    Create(EndpointSlice),
    /// Replace the slice of this name.
    Update(EndpointSlice),
    /// Delete this slice.
    Delete(EndpointSlice),
}

/// The writes of a reconcile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Runs of writes: within a run the first failure stops the rest (upstream `finalize`
    /// returns at its first error); the next run goes on regardless.
    pub runs: Vec<Vec<SliceWrite>>,
    /// Why some pod was left out (its node is not known): the sync fails once written.
    pub errors: Vec<String>,
}

impl Plan {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.runs.iter().all(Vec::is_empty)
    }
}

/// Plans the writes that make `inputs.existing` show `inputs.pods`.
pub fn reconcile(inputs: &Inputs<'_>) -> Plan {
    let mut plan = Plan::default();
    let supported = address_types(inputs.service);
    let mut by_type: BTreeMap<AddressType, Vec<&EndpointSlice>> = BTreeMap::new();
    let mut stray = Vec::new();
    for slice in inputs.existing {
        if supported.contains(&slice.address_type) {
            by_type.entry(slice.address_type).or_default().push(slice);
        } else {
            stray.push(slice.clone());
        }
    }
    for &address_type in &supported {
        let existing = by_type.remove(&address_type).unwrap_or_default();
        let run = reconcile_address_type(inputs, &existing, address_type, &mut plan.errors);
        plan.runs.push(run);
    }
    // Each stray delete goes on whether another failed (upstream collects the errors).
    plan.runs
        .extend(stray.into_iter().map(|s| vec![SliceWrite::Delete(s)]));
    plan
}

/// The address types a Service's slices have (upstream `getAddressTypesForService`): its IP
/// families; without any (an apiserver that did not default them), its cluster IP's family,
/// or both for a headless Service.
pub fn address_types(service: &Service) -> BTreeSet<AddressType> {
    let mut types: BTreeSet<AddressType> = service
        .spec
        .ip_families
        .iter()
        .filter_map(|family| match family.as_str() {
            "IPv4" => Some(AddressType::IPv4),
            "IPv6" => Some(AddressType::IPv6),
            _ => None,
        })
        .collect();
    if types.is_empty() {
        if service.is_ip_set() {
            types.insert(if is_ipv6(&service.spec.cluster_ip) {
                AddressType::IPv6
            } else {
                AddressType::IPv4
            });
        } else {
            types.extend([AddressType::IPv4, AddressType::IPv6]);
        }
    }
    types
}

/// The desired endpoints of one port group, by identity (addresses, and the pod they are).
#[derive(Debug, Default)]
struct EndpointSet {
    by_key: BTreeMap<EndpointKey, Endpoint>,
}

/// What identifies an endpoint across writes (upstream `hashEndpoint`): its sorted addresses
/// and the object it stands for. Conditions, node and zone may change in place.
type EndpointKey = (Vec<String>, String, String);

fn key_of(endpoint: &Endpoint) -> EndpointKey {
    let mut addresses = endpoint.addresses.clone();
    addresses.sort();
    let (namespace, name) = endpoint
        .target_ref
        .as_ref()
        .map(|r| (r.namespace.clone(), r.name.clone()))
        .unwrap_or_default();
    (addresses, namespace, name)
}

impl EndpointSet {
    fn insert(&mut self, endpoint: Endpoint) {
        self.by_key.insert(key_of(&endpoint), endpoint);
    }

    /// Takes out the desired endpoint with `endpoint`'s identity, if there is one.
    fn take(&mut self, endpoint: &Endpoint) -> Option<Endpoint> {
        self.by_key.remove(&key_of(endpoint))
    }

    /// Takes out the next endpoint (in address order).
    fn pop(&mut self) -> Option<Endpoint> {
        self.by_key.pop_first().map(|(_, endpoint)| endpoint)
    }

    fn len(&self) -> usize {
        self.by_key.len()
    }

    fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// Whether two endpoints of one identity are the same in what can change in place
/// (upstream `EndpointsEqualBeyondHash`).
fn same_beyond_identity(a: &Endpoint, b: &Endpoint) -> bool {
    a.node_name == b.node_name
        && a.zone == b.zone
        && a.conditions == b.conditions
        && a.target_ref == b.target_ref
}

/// The writes for one address type (upstream `reconcileByAddressType` and `finalize`).
fn reconcile_address_type(
    inputs: &Inputs<'_>,
    existing: &[&EndpointSlice],
    address_type: AddressType,
    errors: &mut Vec<String>,
) -> Vec<SliceWrite> {
    let service = inputs.service;
    let mut to_delete: Vec<EndpointSlice> = Vec::new();
    let mut existing_by_ports: BTreeMap<Vec<EndpointPort>, Vec<EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        if owned_by(slice, service) {
            existing_by_ports
                .entry(sorted(&slice.ports))
                .or_default()
                .push((*slice).clone());
        } else {
            to_delete.push((*slice).clone());
        }
    }
    let desired = desired_endpoints(inputs, address_type, errors);
    let mut to_create = Vec::new();
    let mut to_update = Vec::new();
    for (ports, endpoints) in desired {
        let mut slices = existing_by_ports.remove(&ports).unwrap_or_default();
        slices.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let group = PortGroup {
            service,
            ports,
            address_type,
            max: inputs.max_endpoints.max(1),
        };
        let (created, updated, deleted) = group.reconcile(slices, endpoints);
        to_create.extend(created);
        to_update.extend(updated);
        to_delete.extend(deleted);
    }
    to_delete.extend(existing_by_ports.into_values().flatten());
    if existing.len() == to_delete.len() && to_create.is_empty() {
        let placeholder = new_slice(service, Vec::new(), address_type);
        if to_delete.len() == 1 && is_same_placeholder(&to_delete[0], &placeholder) {
            to_delete.clear();
        } else {
            to_create.push(placeholder);
        }
    }
    finalize(
        service,
        to_create,
        to_update,
        to_delete,
        inputs.trigger_time,
    )
}

/// The endpoints the pods make, by the (sorted) ports they serve.
fn desired_endpoints(
    inputs: &Inputs<'_>,
    address_type: AddressType,
    errors: &mut Vec<String>,
) -> BTreeMap<Vec<EndpointPort>, EndpointSet> {
    let service = inputs.service;
    let mut desired: BTreeMap<Vec<EndpointPort>, EndpointSet> = BTreeMap::new();
    for pod in inputs.pods {
        if !should_be_in_endpoints(pod) {
            continue;
        }
        // The group exists once a pod serves its ports, whether or not the pod makes it in.
        let set = desired.entry(endpoint_ports(service, pod)).or_default();
        let node = inputs
            .nodes
            .get(&ObjectKey::cluster(pod.spec.node_name.clone()))
            .and_then(|o| o.as_node());
        if node.is_none() && !service.spec.publish_not_ready_addresses {
            errors.push(format!(
                "skipping Pod {} for Service {}/{}: Node {} Not Found",
                pod.metadata.name,
                service.metadata.namespace,
                service.metadata.name,
                pod.spec.node_name
            ));
            continue;
        }
        let endpoint = pod_endpoint(pod, node.map(|n| &**n), service, address_type);
        if !endpoint.addresses.is_empty() {
            set.insert(endpoint);
        }
    }
    desired
}

/// The slices of one Service, address type and set of ports.
struct PortGroup<'s> {
    service: &'s Service,
    ports: Vec<EndpointPort>,
    address_type: AddressType,
    max: usize,
}

impl PortGroup<'_> {
    /// Upstream `reconcileByPortMapping`: the slices to create, update and delete so that
    /// `existing` (in name order) holds `desired`.
    fn reconcile(
        &self,
        existing: Vec<EndpointSlice>,
        mut desired: EndpointSet,
    ) -> (Vec<EndpointSlice>, Vec<EndpointSlice>, Vec<EndpointSlice>) {
        let mut by_name: BTreeMap<String, EndpointSlice> = BTreeMap::new();
        let mut unchanged: BTreeSet<String> = BTreeSet::new();
        let mut to_update: BTreeSet<String> = BTreeSet::new();
        let mut to_delete: BTreeSet<String> = BTreeSet::new();
        // 1. Keep what is still desired, in place; note what changed.
        for mut slice in existing {
            let name = slice.metadata.name.clone();
            let (labels, labels_changed) = slice_labels(&slice.metadata.labels, self.service);
            let mut kept = Vec::with_capacity(slice.endpoints.len());
            let mut endpoint_changed = false;
            for endpoint in &slice.endpoints {
                if let Some(want) = desired.take(endpoint) {
                    endpoint_changed |= !same_beyond_identity(&want, endpoint);
                    kept.push(want);
                }
            }
            if endpoint_changed || kept.len() != slice.endpoints.len() {
                if kept.is_empty() {
                    to_delete.insert(name.clone());
                } else {
                    slice.endpoints = kept;
                    slice.metadata.labels = labels;
                    to_update.insert(name.clone());
                }
            } else if labels_changed {
                slice.metadata.labels = labels;
                to_update.insert(name.clone());
            } else {
                unchanged.insert(name.clone());
            }
            by_name.insert(name, slice);
        }
        // 2. Fill the slices being updated anyway, fullest first.
        if !desired.is_empty() && !to_update.is_empty() {
            let mut order: Vec<&String> = to_update.iter().collect();
            order.sort_by_key(|name| std::cmp::Reverse(by_name[*name].endpoints.len()));
            for name in order {
                if let Some(slice) = by_name.get_mut(name) {
                    self.fill(slice, &mut desired);
                }
            }
        }
        // 3. The rest: into the unchanged slice it fills closest to full, or new slices.
        let mut to_create = Vec::new();
        while !desired.is_empty() {
            let target = (desired.len() < self.max)
                .then(|| self.slice_to_fill(&unchanged, &by_name, desired.len()))
                .flatten();
            match target.and_then(|name| by_name.get_mut(&name)) {
                Some(slice) => {
                    self.fill(slice, &mut desired);
                    let name = slice.metadata.name.clone();
                    unchanged.remove(&name);
                    to_update.insert(name);
                }
                None => {
                    let mut slice = new_slice(self.service, self.ports.clone(), self.address_type);
                    self.fill(&mut slice, &mut desired);
                    to_create.push(slice);
                }
            }
        }
        let take = |names: &BTreeSet<String>, by_name: &mut BTreeMap<String, EndpointSlice>| {
            names
                .iter()
                .filter_map(|name| by_name.remove(name))
                .collect::<Vec<_>>()
        };
        let updated = take(&to_update, &mut by_name);
        let deleted = take(&to_delete, &mut by_name);
        (to_create, updated, deleted)
    }

    /// Moves desired endpoints into `slice` until it is full.
    fn fill(&self, slice: &mut EndpointSlice, desired: &mut EndpointSet) {
        while slice.endpoints.len() < self.max {
            let Some(endpoint) = desired.pop() else { break };
            slice.endpoints.push(endpoint);
        }
    }

    /// Upstream `getSliceToFill`: the unchanged slice that `count` more endpoints fill closest
    /// to full without overflowing it (the first in name order on a tie).
    fn slice_to_fill(
        &self,
        unchanged: &BTreeSet<String>,
        by_name: &BTreeMap<String, EndpointSlice>,
        count: usize,
    ) -> Option<String> {
        let mut best: Option<(usize, &String)> = None;
        for name in unchanged {
            let used = by_name.get(name).map_or(0, |s| s.endpoints.len());
            let Some(room) = self.max.checked_sub(count + used) else {
                continue;
            };
            if best.is_none_or(|(closest, _)| room < closest) && room < self.max {
                best = Some((room, name));
                if room == 0 {
                    break;
                }
            }
        }
        best.map(|(_, name)| name.clone())
    }
}

/// `ports` in the order the key and the slices keep them.
fn sorted(ports: &[EndpointPort]) -> Vec<EndpointPort> {
    let mut ports = ports.to_vec();
    ports.sort();
    ports
}

/// Upstream `finalize`'s planning: creates become updates of slices that would otherwise be
/// deleted (same address type, owned by the Service), no slice is created for a Service being
/// deleted, and every written slice gets the trigger time.
fn finalize(
    service: &Service,
    mut to_create: Vec<EndpointSlice>,
    mut to_update: Vec<EndpointSlice>,
    mut to_delete: Vec<EndpointSlice>,
    trigger_time: Option<SimTime>,
) -> Vec<SliceWrite> {
    let mut i = 0;
    while i < to_delete.len() {
        let Some(last) = to_create.last() else { break };
        let reusable =
            to_delete[i].address_type == last.address_type && owned_by(&to_delete[i], service);
        if reusable && let Some(mut slice) = to_create.pop() {
            slice.metadata.name = to_delete.remove(i).metadata.name;
            to_update.push(slice);
        } else {
            i += 1;
        }
    }
    if service.metadata.deletion_timestamp.is_some() {
        // The garbage collector is about to delete the slices: creating more would race it.
        to_create.clear();
    }
    let mut writes = Vec::with_capacity(to_create.len() + to_update.len() + to_delete.len());
    for mut slice in to_create {
        annotate_trigger_time(&mut slice, trigger_time);
        writes.push(SliceWrite::Create(slice));
    }
    for mut slice in to_update {
        annotate_trigger_time(&mut slice, trigger_time);
        writes.push(SliceWrite::Update(slice));
    }
    writes.extend(to_delete.into_iter().map(SliceWrite::Delete));
    writes
}

/// Sets the last-change trigger time annotation, or removes it when there is none.
fn annotate_trigger_time(slice: &mut EndpointSlice, trigger_time: Option<SimTime>) {
    let annotations = &mut slice.metadata.annotations;
    match trigger_time {
        Some(t) => {
            annotations.insert(ANNOTATION_LAST_CHANGE_TRIGGER_TIME.into(), rfc3339_nano(t));
        }
        None => {
            annotations.remove(ANNOTATION_LAST_CHANGE_TRIGGER_TIME);
        }
    }
}

/// A new, empty slice of the Service (upstream `newEndpointSlice`): named from `<service>-`,
/// owned by the Service as its controller, labelled as its slices are.
fn new_slice(
    service: &Service,
    ports: Vec<EndpointPort>,
    address_type: AddressType,
) -> EndpointSlice {
    let meta = &service.metadata;
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: format!("{}-", meta.name),
            namespace: meta.namespace.clone(),
            labels: slice_labels(&Labels::new(), service).0,
            owner_references: vec![owner_reference(service)],
            ..ObjectMeta::default()
        },
        address_type,
        endpoints: Vec::new(),
        ports,
    }
}

/// The Service as a slice's controlling owner (`metav1.NewControllerRef`).
fn owner_reference(service: &Service) -> OwnerReference {
    OwnerReference {
        api_version: Kind::Service.api_version().into(),
        kind: Kind::Service.name().into(),
        name: service.metadata.name.clone(),
        uid: service.metadata.uid,
        controller: true,
        block_owner_deletion: true,
        ..OwnerReference::default()
    }
}

/// Whether the slice names the Service as an owner (upstream `ownedBy`).
fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    slice.metadata.owner_references.iter().any(|r| {
        r.uid == service.metadata.uid
            && r.kind == Kind::Service.name()
            && r.api_version == Kind::Service.api_version()
    })
}

/// Whether `existing` is the placeholder a Service with no endpoints keeps (upstream
/// `placeholderSliceCompare`: namespace, labels, owners, address type, no endpoints, no
/// ports; the name and annotations do not count).
fn is_same_placeholder(existing: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    existing.metadata.namespace == placeholder.metadata.namespace
        && existing.metadata.labels == placeholder.metadata.labels
        && same_owners(
            &existing.metadata.owner_references,
            &placeholder.metadata.owner_references,
        )
        && existing.address_type == placeholder.address_type
        && existing.endpoints.is_empty()
        && existing.ports.is_empty()
}

/// Whether two owner lists name the same owners the same way (the uid as the apiserver
/// gave it; a manifest's own uid text does not count).
fn same_owners(a: &[OwnerReference], b: &[OwnerReference]) -> bool {
    let same = |x: &OwnerReference, y: &OwnerReference| {
        (
            &x.api_version,
            &x.kind,
            &x.name,
            x.uid,
            x.controller,
            x.block_owner_deletion,
        ) == (
            &y.api_version,
            &y.kind,
            &y.name,
            y.uid,
            y.controller,
            y.block_owner_deletion,
        )
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

/// The labels a slice of `service` must have (upstream `setEndpointSliceLabels`): the
/// Service's own (its reserved ones aside), the headless label for a Service without a
/// cluster IP, the Service's name and the controller's. Also whether the slice's own labels
/// (reserved ones aside) differ from the Service's, which calls for an update.
pub fn slice_labels(current: &Labels, service: &Service) -> (Labels, bool) {
    let reserved =
        |key: &str| key == LABEL_SERVICE_NAME || key == LABEL_MANAGED_BY || key == LABEL_HEADLESS;
    let mine = current.iter().filter(|(k, _)| !reserved(k));
    let mut labels: Labels = service
        .metadata
        .labels
        .iter()
        .filter(|(k, _)| !reserved(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let changed = !mine.eq(labels.iter());
    if !service.is_ip_set() {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(LABEL_SERVICE_NAME.into(), service.metadata.name.clone());
    labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY_CONTROLLER.into());
    (labels, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Uid;
    use crate::api::node::Node;
    use crate::api::pod::{POD_READY, PodCondition, PodIp};
    use crate::api::service::ServicePort;

    fn service() -> Service {
        let mut s = Service::default();
        s.metadata.name = "web".into();
        s.metadata.namespace = "default".into();
        s.metadata.uid = Uid(1);
        s.spec.cluster_ip = "10.96.0.1".into();
        s.spec.ip_families = vec!["IPv4".into()];
        s.spec.selector = [("app".to_string(), "web".to_string())].into();
        s.spec.ports = vec![ServicePort {
            name: "http".into(),
            port: 80,
            ..ServicePort::default()
        }];
        s
    }

    /// Ready pod `i` on `n1`, address `10.64.<i / 250>.<1 + i % 250>`.
    fn pod(i: usize) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = format!("web-{i:03}");
        p.metadata.namespace = "default".into();
        Arc::make_mut(&mut p.spec).node_name = "n1".into();
        p.status.pod_ips = vec![PodIp {
            ip: format!("10.64.{}.{}", i / 250, 1 + i % 250),
        }];
        p.status.conditions.push(PodCondition {
            type_: POD_READY.into(),
            status: "True".into(),
            ..PodCondition::default()
        });
        Arc::new(p)
    }

    fn nodes() -> BTreeMap<ObjectKey, Arc<Object>> {
        let mut n = Node::default();
        n.metadata.name = "n1".into();
        BTreeMap::from([(
            ObjectKey::cluster("n1"),
            Arc::new(Object::Node(Arc::new(n))),
        )])
    }

    /// Slice `name` of the Service holding pods `range`, as the controller would have made it.
    fn existing(name: &str, range: std::ops::Range<usize>) -> EndpointSlice {
        let service = service();
        let probe = pod(0);
        let mut slice = new_slice(
            &service,
            endpoint_ports(&service, &probe),
            AddressType::IPv4,
        );
        slice.metadata.name = name.into();
        slice.endpoints = range
            .map(|i| pod_endpoint(&pod(i), None, &service, AddressType::IPv4))
            .collect();
        slice
    }

    fn plan(pods: &[Arc<Pod>], slices: &[EndpointSlice]) -> Plan {
        let service = service();
        let nodes = nodes();
        reconcile(&Inputs {
            service: &service,
            pods,
            nodes: &nodes,
            existing: slices,
            max_endpoints: 100,
            trigger_time: None,
        })
    }

    /// (verb, slice name, endpoints) of each write.
    fn summary(plan: &Plan) -> Vec<(&'static str, String, usize)> {
        plan.runs
            .iter()
            .flatten()
            .map(|w| match w {
                SliceWrite::Create(s) => (
                    "create",
                    s.metadata.generate_name.clone(),
                    s.endpoints.len(),
                ),
                SliceWrite::Update(s) => ("update", s.metadata.name.clone(), s.endpoints.len()),
                SliceWrite::Delete(s) => ("delete", s.metadata.name.clone(), s.endpoints.len()),
            })
            .collect()
    }

    #[test]
    fn new_endpoints_top_up_the_unchanged_slice_they_fill_closest_to_full() {
        // web-a holds pods 0–99 (full), web-b pods 100–149. Thirty new pods (150–179): fewer
        // than 100, so they go into an unchanged slice if one has room: web-a has none
        // (100 − (30 + 100) < 0), web-b is left 100 − (30 + 50) = 20 short — the one. Nothing
        // is created.
        let pods: Vec<Arc<Pod>> = (0..180).map(pod).collect();
        let slices = [existing("web-a", 0..100), existing("web-b", 100..150)];
        assert_eq!(
            summary(&plan(&pods, &slices)),
            vec![("update", "web-b".into(), 80)]
        );
        // Sixty new pods fit in neither (web-b: 100 − 110 < 0): a new slice of 60.
        let pods: Vec<Arc<Pod>> = (0..210).map(pod).collect();
        assert_eq!(
            summary(&plan(&pods, &slices)),
            vec![("create", "web-".into(), 60)]
        );
    }

    #[test]
    fn a_slice_updated_anyway_is_filled_first() {
        // Pod 0 is gone and pod 150 is new: web-a loses an endpoint, so it is updated anyway,
        // and step 2 fills it back to 100 with pod 150 before any other slice is looked at.
        let pods: Vec<Arc<Pod>> = (1..151).map(pod).collect();
        let slices = [existing("web-a", 0..100), existing("web-b", 100..150)];
        assert_eq!(
            summary(&plan(&pods, &slices)),
            vec![("update", "web-a".into(), 100)]
        );
        // Nothing changed: nothing to write.
        let pods: Vec<Arc<Pod>> = (0..150).map(pod).collect();
        assert!(plan(&pods, &slices).is_empty());
    }

    #[test]
    fn emptied_slices_go_and_one_becomes_the_placeholder() {
        // Every pod gone: both slices would be deleted and an empty placeholder created;
        // `finalize` turns the create into an update of the first slice it may reuse (web-a,
        // in name order), and web-b is deleted.
        let slices = [existing("web-a", 0..100), existing("web-b", 100..150)];
        assert_eq!(
            summary(&plan(&[], &slices)),
            vec![
                ("update", "web-a".into(), 0),
                ("delete", "web-b".into(), 50)
            ]
        );
    }
}
