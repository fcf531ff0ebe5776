//! Admission: what the apiserver does to an object before storing it — defaulting and the
//! default-on admission plugins kubesim models.
//!
//! * Priority: a pod's `priority` comes from its PriorityClass (or the global default class);
//!   naming a class that does not exist is rejected, as upstream.
//! * DefaultTolerationSeconds (`plugin/pkg/admission/defaulttolerationseconds`): a pod that
//!   has no toleration for the `not-ready` (or `unreachable`) NoExecute taint gets one for
//!   `--default-not-ready-toleration-seconds` (`--default-unreachable-toleration-seconds`),
//!   300 s by default, so taint eviction waits five minutes. A toleration counts as having one
//!   when its key is that taint's or empty and its effect is NoExecute or empty — whatever its
//!   operator, as upstream checks.
//! * Defaulting: an empty namespace of a namespaced kind means `default`; an empty name with
//!   `generateName` gets a random suffix; a Service gets a cluster IP and its IP family.

use std::sync::Arc;

use rand::RngExt;

use super::request::ApiError;
use super::store::Store;
use crate::api::pod::{Pod, PodPhase};
use crate::api::priority_class::PriorityClass;
use crate::api::service::Service;
use crate::api::taints::{TaintEffect, Toleration, TolerationOperator};
use crate::api::{Kind, Object};
use crate::sim::SimRng;

/// `--default-not-ready-toleration-seconds`'s default.
pub const DEFAULT_NOT_READY_TOLERATION_SECONDS: i64 = 300;
/// `--default-unreachable-toleration-seconds`'s default.
pub const DEFAULT_UNREACHABLE_TOLERATION_SECONDS: i64 = 300;

/// The `tolerationSeconds` DefaultTolerationSeconds gives the tolerations it adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultTolerationSeconds {
    /// For `node.kubernetes.io/not-ready:NoExecute`.
    pub not_ready: i64,
    /// For `node.kubernetes.io/unreachable:NoExecute`.
    pub unreachable: i64,
}

impl Default for DefaultTolerationSeconds {
    fn default() -> Self {
        DefaultTolerationSeconds {
            not_ready: DEFAULT_NOT_READY_TOLERATION_SECONDS,
            unreachable: DEFAULT_UNREACHABLE_TOLERATION_SECONDS,
        }
    }
}

/// Characters of generated name suffixes (no vowels, no look-alikes), as upstream.
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// Length of a generated name suffix.
const NAME_SUFFIX_LEN: usize = 5;

/// Defaults names and namespaces; runs on every create.
pub fn default_identity(object: &mut Object, rng: &mut SimRng) -> Result<(), ApiError> {
    let kind = object.kind();
    let meta = object.meta_mut();
    if kind.is_namespaced() {
        if meta.namespace.is_empty() {
            meta.namespace = "default".to_string();
        }
    } else {
        meta.namespace.clear();
    }
    if meta.name.is_empty() {
        if meta.generate_name.is_empty() {
            return Err(ApiError::Invalid {
                kind,
                message: "metadata.name or metadata.generateName is required".into(),
            });
        }
        let suffix: String = (0..NAME_SUFFIX_LEN)
            .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
            .collect();
        meta.name = format!("{}{}", meta.generate_name, suffix);
    }
    Ok(())
}

/// Applies pod admission: priority and default toleration seconds.
pub fn admit_pod(
    pod: &mut Pod,
    store: &Store,
    seconds: DefaultTolerationSeconds,
) -> Result<(), ApiError> {
    resolve_priority(pod, store)?;
    add_default_tolerations(pod, seconds);
    pod.status.phase = if pod.status.phase == PodPhase::Unknown {
        PodPhase::Pending
    } else {
        pod.status.phase
    };
    Ok(())
}

fn resolve_priority(pod: &mut Pod, store: &Store) -> Result<(), ApiError> {
    let classes = store.iter(Kind::PriorityClass).filter_map(|o| match &**o {
        Object::PriorityClass(pc) => Some(pc),
        _ => None,
    });
    let name = pod.spec.priority_class_name.clone();
    let mut global_default: Option<&PriorityClass> = None;
    let mut named: Option<&PriorityClass> = None;
    for pc in classes {
        if !name.is_empty() && pc.metadata.name == name {
            named = Some(pc);
        }
        // Upstream picks the global default with the highest value if several claim it.
        if pc.global_default && global_default.is_none_or(|g: &PriorityClass| pc.value > g.value) {
            global_default = Some(pc);
        }
    }
    let class = if name.is_empty() {
        global_default
    } else {
        Some(named.ok_or_else(|| ApiError::Invalid {
            kind: Kind::Pod,
            message: format!("no PriorityClass with name {name} was found"),
        })?)
    };
    let spec = Arc::make_mut(&mut pod.spec);
    match class {
        Some(pc) => {
            spec.priority = Some(pc.value);
            spec.priority_class_name = pc.metadata.name.clone();
            if spec.preemption_policy.is_none() {
                spec.preemption_policy = pc.preemption_policy.clone();
            }
        }
        None => {
            spec.priority.get_or_insert(0);
        }
    }
    Ok(())
}

fn add_default_tolerations(pod: &mut Pod, defaults: DefaultTolerationSeconds) {
    use crate::api::taints::{TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE};
    for (key, seconds) in [
        (TAINT_NODE_NOT_READY, defaults.not_ready),
        (TAINT_NODE_UNREACHABLE, defaults.unreachable),
    ] {
        // Upstream looks at key and effect only: an empty key counts whatever the operator
        // (validation refuses an empty key with Equal anyway).
        let already = pod.spec.tolerations.iter().any(|t| {
            let effect_ok = t.effect.is_none() || t.effect == Some(TaintEffect::NoExecute);
            let key_ok = t.key == key || t.key.is_empty();
            effect_ok && key_ok
        });
        if !already {
            Arc::make_mut(&mut pod.spec).tolerations.push(Toleration {
                key: key.to_string(),
                operator: TolerationOperator::Exists,
                value: String::new(),
                effect: Some(TaintEffect::NoExecute),
                toleration_seconds: Some(seconds),
            });
        }
    }
}

/// The cluster IPs the apiserver hands out to Services, from `10.96.0.0/12` (kubeadm's
/// `--service-cluster-ip-range`): in order from `10.96.0.1`, wrapping round after the range's
/// last address. Upstream picks a random free address; counting needs no random draw and
/// gives each Service of a run its own address all the same.
#[derive(Clone, Debug, Default)]
pub struct ClusterIps {
    handed_out: u32,
}

/// `10.96.0.0`.
const SERVICE_RANGE: u32 = 0x0A60_0000;
/// Usable addresses of a `/12` (the network and broadcast addresses aside).
const SERVICE_RANGE_SIZE: u32 = (1 << 20) - 2;

impl ClusterIps {
    fn allocate(&mut self) -> String {
        let offset = 1 + self.handed_out % SERVICE_RANGE_SIZE;
        self.handed_out = self.handed_out.wrapping_add(1);
        let [a, b, c, d] = (SERVICE_RANGE + offset).to_be_bytes();
        format!("{a}.{b}.{c}.{d}")
    }
}

/// Service defaulting on create: a cluster IP for a Service that leaves `clusterIP` empty
/// (an `ExternalName` one gets none), and the cluster's IP family (`IPv4`, kubesim's clusters
/// being single-stack) when `ipFamilies` is empty and the Service has an IP or a selector.
pub fn default_service(service: &mut Service, ips: &mut ClusterIps) {
    if service.is_external_name() {
        return;
    }
    if service.spec.cluster_ip.is_empty() {
        service.spec.cluster_ip = ips.allocate();
    }
    if service.spec.ip_families.is_empty() {
        service.spec.ip_families.push(IPV4_FAMILY.to_string());
    }
}

/// The IP family of kubesim's single-stack clusters.
pub const IPV4_FAMILY: &str = "IPv4";

/// What an update or an apply that leaves a Service's allocated fields empty keeps from the
/// live object (upstream's service REST copies them over: `clusterIP` is immutable once set).
pub fn keep_allocated(live: &Object, next: &mut Object) {
    if let (Object::Service(live), Object::Service(next)) = (live, next) {
        if next.spec.cluster_ip.is_empty() {
            next.spec.cluster_ip.clone_from(&live.spec.cluster_ip);
        }
        if next.spec.ip_families.is_empty() {
            next.spec.ip_families.clone_from(&live.spec.ip_families);
        }
    }
}

#[cfg(test)]
mod toleration_tests {
    use super::*;
    use crate::api::taints::{TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE};

    fn toleration(key: &str, effect: Option<TaintEffect>, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: key.into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect,
            toleration_seconds: seconds,
        }
    }

    fn admitted(
        tolerations: Vec<Toleration>,
        seconds: DefaultTolerationSeconds,
    ) -> Vec<Toleration> {
        let mut pod = Pod::default();
        Arc::make_mut(&mut pod.spec).tolerations = tolerations;
        add_default_tolerations(&mut pod, seconds);
        pod.spec.tolerations.clone()
    }

    #[test]
    fn pods_tolerate_not_ready_and_unreachable_for_the_configured_seconds() {
        // Nothing tolerated: both added, with 300 s each by default.
        let added = admitted(Vec::new(), DefaultTolerationSeconds::default());
        assert_eq!(
            added,
            vec![
                toleration(
                    TAINT_NODE_NOT_READY,
                    Some(TaintEffect::NoExecute),
                    Some(300)
                ),
                toleration(
                    TAINT_NODE_UNREACHABLE,
                    Some(TaintEffect::NoExecute),
                    Some(300)
                ),
            ]
        );
        // The flags change the seconds.
        let flags = DefaultTolerationSeconds {
            not_ready: 30,
            unreachable: 60,
        };
        let added = admitted(Vec::new(), flags);
        assert_eq!(added[0].toleration_seconds, Some(30));
        assert_eq!(added[1].toleration_seconds, Some(60));
    }

    #[test]
    fn a_pod_that_already_tolerates_keeps_its_own_toleration() {
        let defaults = DefaultTolerationSeconds::default();
        // Its own unreachable toleration (any effect) stays; only not-ready is added.
        let own = toleration(TAINT_NODE_UNREACHABLE, None, Some(5));
        let added = admitted(vec![own.clone()], defaults);
        assert_eq!(added.len(), 2);
        assert_eq!(added[0], own);
        assert_eq!(added[1].key, TAINT_NODE_NOT_READY);
        // An empty key with NoExecute tolerates both: nothing added.
        let all = toleration("", Some(TaintEffect::NoExecute), None);
        assert_eq!(admitted(vec![all.clone()], defaults), vec![all]);
        // A NoSchedule toleration of not-ready does not count.
        let no_schedule = toleration(TAINT_NODE_NOT_READY, Some(TaintEffect::NoSchedule), None);
        assert_eq!(admitted(vec![no_schedule], defaults).len(), 3);
    }
}

#[cfg(test)]
mod service_tests {
    use super::*;

    #[test]
    fn services_get_addresses_in_order_and_keep_them() {
        let mut ips = ClusterIps::default();
        let mut first = Service::default();
        default_service(&mut first, &mut ips);
        assert_eq!(first.spec.cluster_ip, "10.96.0.1");
        assert_eq!(first.spec.ip_families, vec!["IPv4".to_string()]);
        // A headless Service keeps `None`; an ExternalName one gets nothing.
        let mut headless = Service::default();
        headless.spec.cluster_ip = "None".into();
        default_service(&mut headless, &mut ips);
        assert_eq!(headless.spec.cluster_ip, "None");
        let mut external = Service::default();
        external.spec.type_ = Some("ExternalName".into());
        default_service(&mut external, &mut ips);
        assert!(external.spec.cluster_ip.is_empty());
        let mut second = Service::default();
        default_service(&mut second, &mut ips);
        assert_eq!(second.spec.cluster_ip, "10.96.0.2");
        // An update that leaves the address out keeps it.
        let mut update = Object::Service(Box::default());
        keep_allocated(&Object::Service(Box::new(second)), &mut update);
        let Object::Service(update) = update else {
            unreachable!("a Service stays a Service")
        };
        assert_eq!(update.spec.cluster_ip, "10.96.0.2");
    }
}
