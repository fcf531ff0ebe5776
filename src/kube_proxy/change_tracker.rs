//! What a kube-proxy has to program at its next rule sync (upstream `ServiceChangeTracker`,
//! `EndpointsChangeTracker` and `EndpointSliceCache`, `pkg/proxy/`): the Services whose
//! proxied form changed, the Services whose endpoints changed, and the last-change trigger
//! times of those endpoint changes.
//!
//! A change counts only if it changes what the proxy programs. For a Service that is its
//! cluster IP, type and ports (a Service without a cluster IP is not proxied at all), compared
//! with what the last sync programmed, so a change undone before the sync is none. For a slice
//! it is its ports and, per endpoint, the addresses, node, zone and conditions — not its
//! annotations or labels.
//!
//! No copy of the programmed state is kept: the informer's previous object of a slice always
//! shows what is programmed or pending for it (each change that counts becomes pending, each
//! that does not leaves it as it was), so comparing a slice event's old and new objects is
//! upstream's comparison with the pending-or-applied state. Services keep, while a change is
//! pending, the object the last sync programmed.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::endpointslice::{
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME, AddressType, Endpoint, EndpointPort, EndpointSlice,
};
use crate::api::service::Service;
use crate::api::timestamp::parse_rfc3339;
use crate::api::{Object, ObjectKey};
use crate::sim::{SimDuration, SimTime};

/// The changes of one kube-proxy not yet synced.
#[derive(Clone, Debug, Default)]
pub struct ChangeTracker {
    /// When the tracker was made (kube-proxy's start): older trigger times are not measured.
    started_at: SimTime,
    /// Services with a pending change, with what the last sync programmed (none: nothing).
    services: BTreeMap<ObjectKey, Option<Arc<Object>>>,
    /// Services whose endpoints changed, by namespace and name, with the trigger times of
    /// those changes. Nested by namespace so that a Service already pending is found from the
    /// slice's own strings: 500 proxies each see every slice change.
    endpoints: BTreeMap<String, BTreeMap<String, Vec<SimTime>>>,
}

/// What a sync took in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkout {
    /// Services whose proxied form changed.
    pub services: usize,
    /// Services whose endpoints changed.
    pub endpoints: usize,
    /// Network programming latencies: from each endpoint change's trigger time to the sync.
    pub latencies: Vec<SimDuration>,
}

impl ChangeTracker {
    /// A tracker of a kube-proxy started at `started_at`.
    pub fn new(started_at: SimTime) -> Self {
        ChangeTracker {
            started_at,
            ..ChangeTracker::default()
        }
    }

    /// A Service went from `old` to `new` (either absent for an add or a delete); whether any
    /// Service change is pending now (upstream `ServiceChangeTracker.Update`).
    pub fn service_changed(
        &mut self,
        old: Option<&Arc<Object>>,
        new: Option<&Arc<Object>>,
    ) -> bool {
        let Some(key) = new.or(old).map(|o| o.key()) else {
            return !self.services.is_empty();
        };
        let programmed = self
            .services
            .entry(key.clone())
            .or_insert_with(|| old.cloned());
        if same_proxied_form(programmed.as_deref(), new.map(|o| &**o)) {
            self.services.remove(&key);
        }
        !self.services.is_empty()
    }

    /// A slice went from `old` to `new` (`new` absent: deleted); whether that changed its
    /// Service's endpoints (upstream `EndpointsChangeTracker.EndpointSliceUpdate`).
    pub fn slice_changed(
        &mut self,
        old: Option<&EndpointSlice>,
        new: Option<&EndpointSlice>,
    ) -> bool {
        let Some(slice) = new.or(old) else {
            return false;
        };
        let Some(service) = slice.service_name() else {
            return false;
        };
        if slice.address_type == AddressType::FQDN {
            return false;
        }
        let changed = match (old, new) {
            (Some(old), Some(new)) => !same_programmed_form(old, new),
            _ => true,
        };
        if !changed {
            return false;
        }
        let started_at = self.started_at;
        let times = self.pending_endpoints(&slice.metadata.namespace, service);
        match new {
            // A deleted slice's trigger time tells of its last update, not of the deletion:
            // upstream drops the Service's times rather than measure from it.
            None => times.clear(),
            Some(new) => {
                let trigger = new
                    .metadata
                    .annotations
                    .get(ANNOTATION_LAST_CHANGE_TRIGGER_TIME)
                    .and_then(|t| parse_rfc3339(t))
                    .filter(|&t| t > started_at);
                times.extend(trigger);
            }
        }
        true
    }

    /// The pending trigger times of Service `namespace/name`, made pending if it was not.
    fn pending_endpoints(&mut self, namespace: &str, name: &str) -> &mut Vec<SimTime> {
        value_under(value_under(&mut self.endpoints, namespace), name)
    }

    /// Takes every pending change for a sync at `now`.
    pub fn checkout(&mut self, now: SimTime) -> Checkout {
        let endpoints = std::mem::take(&mut self.endpoints);
        let latencies = endpoints
            .values()
            .flat_map(BTreeMap::values)
            .flatten()
            .map(|t| now.saturating_since(*t))
            .collect();
        Checkout {
            services: std::mem::take(&mut self.services).len(),
            endpoints: endpoints.values().map(BTreeMap::len).sum(),
            latencies,
        }
    }
}

/// The value under `key`, a default one added when absent: the key is copied only then.
fn value_under<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key)
        .expect("the key is there: added above if it was not")
}

/// Whether two states of a Service are proxied alike: both not proxied (absent, or without a
/// cluster IP), or the same cluster IP, type and ports (name, number, protocol).
fn same_proxied_form(a: Option<&Object>, b: Option<&Object>) -> bool {
    match (proxied(a), proxied(b)) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.spec.cluster_ip == b.spec.cluster_ip
                && a.spec.type_ == b.spec.type_
                && same_ports(a, b)
        }
        _ => false,
    }
}

/// The Service in `object`, if it is one with a cluster IP (what kube-proxy programs).
fn proxied(object: Option<&Object>) -> Option<&Service> {
    match object {
        Some(Object::Service(s)) if s.is_ip_set() => Some(s),
        _ => None,
    }
}

fn same_ports(a: &Service, b: &Service) -> bool {
    let form = |s: &Service| {
        s.spec
            .ports
            .iter()
            .map(|p| (p.name.clone(), p.port, p.protocol().to_string()))
            .collect::<Vec<_>>()
    };
    form(a) == form(b)
}

/// Whether two states of a slice program the same (upstream compares `endpointSliceInfo`s):
/// the same ports by number, the same endpoints by address with the same node, zone and
/// conditions. Most updates keep the endpoints' order, so that is tried first.
fn same_programmed_form(a: &EndpointSlice, b: &EndpointSlice) -> bool {
    if a.endpoints.len() != b.endpoints.len() || !same_ports_by_number(a, b) {
        return false;
    }
    let same = |x: &Endpoint, y: &Endpoint| programmed(x) == programmed(y);
    if a.endpoints
        .iter()
        .zip(&b.endpoints)
        .all(|(x, y)| same(x, y))
    {
        return true;
    }
    sorted_endpoints(a) == sorted_endpoints(b)
}

/// A slice's endpoints as programmed, in order.
fn sorted_endpoints(s: &EndpointSlice) -> Vec<ProgrammedEndpoint<'_>> {
    let mut endpoints: Vec<_> = s.endpoints.iter().map(programmed).collect();
    endpoints.sort();
    endpoints
}

/// What a proxy programs of an endpoint: addresses, node, zone, ready / serving / terminating.
type ProgrammedEndpoint<'e> = (&'e [String], Option<&'e str>, Option<&'e str>, [bool; 3]);

/// An endpoint as a proxy programs it: conditions unset read as upstream reads them.
fn programmed(e: &Endpoint) -> ProgrammedEndpoint<'_> {
    (
        &e.addresses,
        e.node_name.as_deref(),
        e.zone.as_deref(),
        [e.is_ready(), e.is_serving(), e.is_terminating()],
    )
}

fn same_ports_by_number(a: &EndpointSlice, b: &EndpointSlice) -> bool {
    a.ports.len() == b.ports.len() && ports_by_number(a) == ports_by_number(b)
}

fn ports_by_number(s: &EndpointSlice) -> Vec<&EndpointPort> {
    let mut ports: Vec<_> = s.ports.iter().collect();
    ports.sort_by_key(|p| p.port);
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    fn slice(ready: &[bool], trigger_ms: Option<u64>) -> EndpointSlice {
        crate::kube_proxy::tests::web_slice(ready, trigger_ms.map(at_ms))
    }

    #[test]
    fn only_changes_a_proxy_programs_count_and_carry_their_trigger_time() {
        let mut tracker = ChangeTracker::new(at_ms(1_000));
        // A new slice with a trigger time after the proxy started: a change, measured.
        assert!(tracker.slice_changed(None, Some(&slice(&[true], Some(2_000)))));
        // The same endpoints with another annotation: not a change, not measured.
        let relabelled = slice(&[true], Some(2_500));
        assert!(!tracker.slice_changed(Some(&slice(&[true], Some(2_000))), Some(&relabelled)));
        // The endpoints in another order: not a change either.
        let mut reordered = slice(&[true, false], Some(3_000));
        let two = reordered.clone();
        reordered.endpoints.reverse();
        assert!(!tracker.slice_changed(Some(&two), Some(&reordered)));
        // An endpoint turning not-ready: a change; its trigger time from before the proxy
        // started (500 ms) is not measured.
        assert!(tracker.slice_changed(
            Some(&slice(&[true], None)),
            Some(&slice(&[false], Some(500)))
        ));
        // At 5 s the sync takes one Service's endpoints and one latency: 5 s − 2 s.
        let checkout = tracker.checkout(at_ms(5_000));
        assert_eq!(checkout.endpoints, 1);
        assert_eq!(checkout.latencies, vec![SimDuration::from_secs(3)]);
        assert_eq!(tracker.checkout(at_ms(6_000)), Checkout::default());
    }

    #[test]
    fn a_service_change_undone_before_the_sync_is_none() {
        let service = |ip: &str| {
            let mut s = Service::default();
            s.metadata.name = "web".into();
            s.spec.cluster_ip = ip.into();
            Arc::new(Object::Service(Box::new(s)))
        };
        let mut tracker = ChangeTracker::new(SimTime::ZERO);
        let (a, b) = (service("10.96.0.1"), service("10.96.0.2"));
        assert!(tracker.service_changed(Some(&a), Some(&b)));
        // Back to what was programmed: nothing pending.
        assert!(!tracker.service_changed(Some(&b), Some(&a)));
        // A headless Service appearing is not proxied: no change.
        assert!(!tracker.service_changed(None, Some(&service("None"))));
    }
}
