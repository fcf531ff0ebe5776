//! The kinds kubesim models, and [`Object`], one value of any of them, as the store holds it.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::deployment::Deployment;
use super::endpointslice::EndpointSlice;
use super::event::Event;
use super::hpa::HorizontalPodAutoscaler;
use super::lease::Lease;
use super::meta::{ObjectKey, ObjectMeta};
use super::node::Node;
use super::pdb::PodDisruptionBudget;
use super::pod::Pod;
use super::priority_class::{Namespace, PriorityClass};
use super::replicaset::ReplicaSet;
use super::service::Service;

/// A modelled kind. The order is the order kinds are listed and applied in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    /// v1 Namespace.
    Namespace,
    /// scheduling.k8s.io/v1 PriorityClass.
    PriorityClass,
    /// v1 Node.
    Node,
    /// v1 Service.
    Service,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// autoscaling/v2 HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// v1 Pod.
    Pod,
    /// events.k8s.io/v1 Event.
    Event,
    /// coordination.k8s.io/v1 Lease.
    Lease,
    /// discovery.k8s.io/v1 EndpointSlice.
    EndpointSlice,
    /// policy/v1 PodDisruptionBudget.
    PodDisruptionBudget,
}

impl Kind {
    /// Every modelled kind.
    pub const ALL: [Kind; 12] = [
        Kind::Namespace,
        Kind::PriorityClass,
        Kind::Node,
        Kind::Service,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::HorizontalPodAutoscaler,
        Kind::Pod,
        Kind::Event,
        Kind::Lease,
        Kind::EndpointSlice,
        Kind::PodDisruptionBudget,
    ];

    /// The `kind:` name.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::PriorityClass => "PriorityClass",
            Kind::Node => "Node",
            Kind::Service => "Service",
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            Kind::Pod => "Pod",
            Kind::Event => "Event",
            Kind::Lease => "Lease",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::PodDisruptionBudget => "PodDisruptionBudget",
        }
    }

    /// The API group (empty for the core group).
    pub const fn group(self) -> &'static str {
        match self {
            Kind::Namespace | Kind::Node | Kind::Service | Kind::Pod => "",
            Kind::PriorityClass => "scheduling.k8s.io",
            Kind::Deployment | Kind::ReplicaSet => "apps",
            Kind::HorizontalPodAutoscaler => "autoscaling",
            Kind::Event => "events.k8s.io",
            Kind::Lease => "coordination.k8s.io",
            Kind::EndpointSlice => "discovery.k8s.io",
            Kind::PodDisruptionBudget => "policy",
        }
    }

    /// The `apiVersion` kubesim reads and writes the kind as.
    pub const fn api_version(self) -> &'static str {
        match self {
            Kind::Namespace | Kind::Node | Kind::Service | Kind::Pod => "v1",
            Kind::PriorityClass => "scheduling.k8s.io/v1",
            Kind::Deployment | Kind::ReplicaSet => "apps/v1",
            Kind::HorizontalPodAutoscaler => "autoscaling/v2",
            Kind::Event => "events.k8s.io/v1",
            Kind::Lease => "coordination.k8s.io/v1",
            Kind::EndpointSlice => "discovery.k8s.io/v1",
            Kind::PodDisruptionBudget => "policy/v1",
        }
    }

    /// The REST resource name (`pods`, `deployments`, …), which flow control matches on.
    pub const fn resource(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::PriorityClass => "priorityclasses",
            Kind::Node => "nodes",
            Kind::Service => "services",
            Kind::Deployment => "deployments",
            Kind::ReplicaSet => "replicasets",
            Kind::HorizontalPodAutoscaler => "horizontalpodautoscalers",
            Kind::Pod => "pods",
            Kind::Event => "events",
            Kind::Lease => "leases",
            Kind::EndpointSlice => "endpointslices",
            Kind::PodDisruptionBudget => "poddisruptionbudgets",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub const fn is_namespaced(self) -> bool {
        !matches!(self, Kind::Namespace | Kind::PriorityClass | Kind::Node)
    }

    /// The kind called `name` (the `kind:` field), if modelled.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind whose REST resource, singular name or `kind:` name (any case) is `text`, as
    /// kubectl resolves `pods`, `pod`, `deploy`… (short names included).
    pub fn from_user_text(text: &str) -> Option<Kind> {
        let t = text.to_ascii_lowercase();
        let short = match t.as_str() {
            "ns" => Some(Kind::Namespace),
            "pc" => Some(Kind::PriorityClass),
            "no" => Some(Kind::Node),
            "svc" => Some(Kind::Service),
            "deploy" => Some(Kind::Deployment),
            "rs" => Some(Kind::ReplicaSet),
            "hpa" => Some(Kind::HorizontalPodAutoscaler),
            "po" => Some(Kind::Pod),
            "ev" => Some(Kind::Event),
            "pdb" => Some(Kind::PodDisruptionBudget),
            _ => None,
        };
        short.or_else(|| {
            Kind::ALL.into_iter().find(|k| {
                let name = k.name().to_ascii_lowercase();
                t == name || t == k.resource()
            })
        })
    }

    /// The index of the kind in [`Kind::ALL`], for per-kind arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One object of a modelled kind. Every variant is behind a pointer, so that an `Object` is
/// two words whatever its kind: the store allocates one per version of every object, and a
/// Lease renewal must not cost the size of the largest kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Object {
    /// A Namespace.
    Namespace(Box<Namespace>),
    /// A PriorityClass.
    PriorityClass(Box<PriorityClass>),
    /// A Node (shared: the store, watch events and the scheduler's cache hold the same one).
    Node(Arc<Node>),
    /// A Service.
    Service(Box<Service>),
    /// A Deployment.
    Deployment(Box<Deployment>),
    /// A ReplicaSet.
    ReplicaSet(Box<ReplicaSet>),
    /// An HPA.
    HorizontalPodAutoscaler(Box<HorizontalPodAutoscaler>),
    /// A Pod (shared: the store, watch events and the scheduler's cache hold the same one).
    Pod(Arc<Pod>),
    /// An Event.
    Event(Box<Event>),
    /// A Lease.
    Lease(Box<Lease>),
    /// An EndpointSlice.
    EndpointSlice(Box<EndpointSlice>),
    /// A PodDisruptionBudget.
    PodDisruptionBudget(Box<PodDisruptionBudget>),
}

macro_rules! per_kind {
    ($obj:expr, $v:ident => $body:expr) => {
        match $obj {
            Object::Namespace($v) => $body,
            Object::PriorityClass($v) => $body,
            Object::Node($v) => $body,
            Object::Service($v) => $body,
            Object::Deployment($v) => $body,
            Object::ReplicaSet($v) => $body,
            Object::HorizontalPodAutoscaler($v) => $body,
            Object::Pod($v) => $body,
            Object::Event($v) => $body,
            Object::Lease($v) => $body,
            Object::EndpointSlice($v) => $body,
            Object::PodDisruptionBudget($v) => $body,
        }
    };
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Namespace(_) => Kind::Namespace,
            Object::PriorityClass(_) => Kind::PriorityClass,
            Object::Node(_) => Kind::Node,
            Object::Service(_) => Kind::Service,
            Object::Deployment(_) => Kind::Deployment,
            Object::ReplicaSet(_) => Kind::ReplicaSet,
            Object::HorizontalPodAutoscaler(_) => Kind::HorizontalPodAutoscaler,
            Object::Pod(_) => Kind::Pod,
            Object::Event(_) => Kind::Event,
            Object::Lease(_) => Kind::Lease,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::PodDisruptionBudget(_) => Kind::PodDisruptionBudget,
        }
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        per_kind!(self, o => &o.metadata)
    }

    /// The object's metadata, mutably.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::Node(n) => &mut Arc::make_mut(n).metadata,
            Object::Pod(p) => &mut Arc::make_mut(p).metadata,
            Object::Namespace(o) => &mut o.metadata,
            Object::PriorityClass(o) => &mut o.metadata,
            Object::Service(o) => &mut o.metadata,
            Object::Deployment(o) => &mut o.metadata,
            Object::ReplicaSet(o) => &mut o.metadata,
            Object::HorizontalPodAutoscaler(o) => &mut o.metadata,
            Object::Event(o) => &mut o.metadata,
            Object::Lease(o) => &mut o.metadata,
            Object::EndpointSlice(o) => &mut o.metadata,
            Object::PodDisruptionBudget(o) => &mut o.metadata,
        }
    }

    /// `namespace/name`.
    pub fn key(&self) -> ObjectKey {
        let m = self.meta();
        ObjectKey::new(m.namespace.clone(), m.name.clone())
    }

    /// The pod, if this is one (shared: `Arc::clone` it to keep it).
    pub fn as_pod(&self) -> Option<&Arc<Pod>> {
        match self {
            Object::Pod(p) => Some(p),
            _ => None,
        }
    }

    /// The node, if this is one (shared: `Arc::clone` it to keep it).
    pub fn as_node(&self) -> Option<&Arc<Node>> {
        match self {
            Object::Node(n) => Some(n),
            _ => None,
        }
    }

    /// The EndpointSlice, if this is one.
    pub fn as_endpoint_slice(&self) -> Option<&EndpointSlice> {
        match self {
            Object::EndpointSlice(s) => Some(s),
            _ => None,
        }
    }

    /// The PodDisruptionBudget, if this is one.
    pub fn as_pdb(&self) -> Option<&PodDisruptionBudget> {
        match self {
            Object::PodDisruptionBudget(p) => Some(p),
            _ => None,
        }
    }

    /// The desired replica count of a workload kind (Deployment, ReplicaSet), if it is one.
    pub fn desired_replicas(&self) -> Option<i32> {
        match self {
            Object::Deployment(d) => Some(d.spec.desired_replicas()),
            Object::ReplicaSet(r) => Some(r.spec.replicas.unwrap_or(1)),
            _ => None,
        }
    }

    /// A value a field selector can match (`metadata.name`, `metadata.namespace`,
    /// `spec.nodeName`, `status.phase`, `spec.unschedulable`), as the apiserver supports them.
    pub fn field(&self, path: &str) -> Option<String> {
        match (path, self) {
            ("metadata.name", o) => Some(o.meta().name.clone()),
            ("metadata.namespace", o) => Some(o.meta().namespace.clone()),
            ("spec.nodeName", Object::Pod(p)) => Some(p.spec.node_name.clone()),
            ("spec.schedulerName", Object::Pod(p)) => Some(p.spec.scheduler_name.clone()),
            ("status.phase", Object::Pod(p)) => Some(format!("{:?}", p.status.phase)),
            ("status.nominatedNodeName", Object::Pod(p)) => {
                Some(p.status.nominated_node_name.clone())
            }
            ("spec.unschedulable", Object::Node(n)) => Some(n.spec.unschedulable.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_object_is_two_words() {
        assert_eq!(std::mem::size_of::<super::Object>(), 16);
    }
}
