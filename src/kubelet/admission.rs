//! Pod admission as the kubelet does it before running a pod (`lifecycle/predicate.go`): the
//! scheduler's general predicates re-checked against the node as the kubelet knows it and the
//! pods it has already admitted — resources (pods first, then cpu, memory, ephemeral-storage,
//! extended resources), the required node affinity and node selector, the node name, host
//! ports — then the node's `NoExecute` taints. The first failure is the pod's reason:
//! `OutOfcpu`, `OutOfmemory`, `OutOfpods`, `OutOf<resource>` for resources, else the
//! predicate's name (`NodeAffinity`, `TaintToleration`, …). A rejected pod is `Failed` with
//! that reason and the message `Pod was rejected: …`.

use crate::api::node::Node;
use crate::api::pod::Pod;
use crate::api::resources::{
    CPU, EPHEMERAL_STORAGE, MEMORY, MissingRequests, PODS, Resources, pod_requests,
};
use crate::api::taints::{TaintEffect, find_untolerated_taint};
use crate::scheduler::node_info::host_ports;
use crate::scheduler::plugins::{node_affinity, node_name, node_ports, taint_toleration};

/// The kubelet's taint check message (`tainttoleration.ErrReasonNotMatch`).
const ERR_REASON_TAINTS: &str = "node(s) had taints that the pod didn't tolerate";

/// Why the kubelet refused a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// `status.reason`.
    pub reason: String,
    /// `status.message`.
    pub message: String,
}

impl Rejection {
    fn predicate(name: &str, description: &str) -> Rejection {
        Rejection {
            reason: name.to_string(),
            message: format!("Pod was rejected: Predicate {name} failed: {description}"),
        }
    }
}

/// Whether the kubelet of `node` admits `pod`, given the pods it already runs (`others`:
/// admitted and not terminal, each with its requests, which the kubelet works out once per
/// pod rather than at every admission); `max_pods` is the pod capacity of a node that declares
/// none.
pub fn admit<'a>(
    pod: &Pod,
    node: &Node,
    max_pods: i64,
    others: impl Iterator<Item = (&'a Pod, &'a Resources)>,
) -> Result<(), Rejection> {
    let others: Vec<(&Pod, &Resources)> = others.collect();
    if let Some(rejection) = insufficient_resource(pod, node, max_pods, &others) {
        return Err(rejection);
    }
    let name = &node.metadata.name;
    let labels = &node.metadata.labels;
    let selector_ok = pod
        .spec
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v));
    let affinity_ok = pod
        .spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .is_none_or(|a| a.required_matches(name, labels));
    if !selector_ok || !affinity_ok {
        return Err(Rejection::predicate(
            node_affinity::NAME,
            node_affinity::ERR_REASON_POD,
        ));
    }
    if pod.is_bound() && pod.spec.node_name != *name {
        return Err(Rejection::predicate(node_name::NAME, node_name::ERR_REASON));
    }
    let wanted = host_ports(pod);
    if !wanted.is_empty()
        && others
            .iter()
            .flat_map(|(o, _)| host_ports(o))
            .any(|taken| wanted.iter().any(|w| w.conflicts_with(&taken)))
    {
        return Err(Rejection::predicate(
            node_ports::NAME,
            node_ports::ERR_REASON,
        ));
    }
    // The kubelet is only interested in NoExecute taints.
    if find_untolerated_taint(
        &node.spec.taints,
        &pod.spec.tolerations,
        &[TaintEffect::NoExecute],
    )
    .is_some()
    {
        return Err(Rejection::predicate(
            taint_toleration::NAME,
            ERR_REASON_TAINTS,
        ));
    }
    Ok(())
}

/// `noderesources.Fits` as the kubelet reports it: the first resource short.
fn insufficient_resource(
    pod: &Pod,
    node: &Node,
    max_pods: i64,
    others: &[(&Pod, &Resources)],
) -> Option<Rejection> {
    let list = node.status.effective_allocatable();
    let mut allocatable = Resources::from_list(&list);
    if !list.contains_key(PODS) {
        allocatable.pods = max_pods;
    }
    let mut used = Resources::default();
    for (_, requests) in others {
        used.add(requests);
    }
    let pods_here = others.len() as i64;
    if pods_here + 1 > allocatable.pods {
        return Some(short(PODS, 1, pods_here, allocatable.pods));
    }
    let want = pod_requests(&pod.spec, MissingRequests::AsZero);
    for name in [CPU, MEMORY, EPHEMERAL_STORAGE] {
        let (w, u, a) = (want.get(name), used.get(name), allocatable.get(name));
        if w > 0 && w > a.saturating_sub(u) {
            return Some(short(name, w, u, a));
        }
    }
    for (name, &w) in &want.scalar {
        // Extended resources the node does not know are not the kubelet's to check
        // (`removeMissingExtendedResources`).
        let a = allocatable.scalar.get(name).copied();
        let Some(a) = a else { continue };
        let u = used.get(name);
        if w > 0 && w > a.saturating_sub(u) {
            return Some(short(name, w, u, a));
        }
    }
    None
}

/// An `InsufficientResourceError` as the pod's reason and message.
fn short(resource: &str, requested: i64, used: i64, capacity: i64) -> Rejection {
    Rejection {
        reason: format!("OutOf{resource}"),
        message: format!(
            "Pod was rejected: Node didn't have enough resource: {resource}, requested: \
             {requested}, used: {used}, capacity: {capacity}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pod::Container;
    use crate::api::quantity::Quantity;
    use crate::api::taints::Taint;

    fn q(s: &str) -> Quantity {
        s.parse()
            .unwrap_or_else(|e| panic!("bad quantity {s}: {e}"))
    }

    fn node(cpu: &str, pods: &str) -> Node {
        let mut n = Node::default();
        n.metadata.name = "n1".into();
        n.status.allocatable.insert(CPU.into(), q(cpu));
        n.status.allocatable.insert(PODS.into(), q(pods));
        n
    }

    fn requests(pod: &Pod) -> Resources {
        pod_requests(&pod.spec, MissingRequests::AsZero)
    }

    fn pod(cpu: &str) -> Pod {
        let mut c = Container::default();
        c.resources.requests.insert(CPU.into(), q(cpu));
        let mut p = Pod::default();
        std::sync::Arc::make_mut(&mut p.spec).node_name = "n1".into();
        std::sync::Arc::make_mut(&mut p.spec).containers = vec![c];
        p
    }

    #[test]
    fn a_pod_that_does_not_fit_is_out_of_cpu() {
        // 4 cpus, 3 taken: 2 more do not fit (2000 > 4000 − 3000).
        let running = pod("3");
        let err = admit(
            &pod("2"),
            &node("4", "110"),
            110,
            [(&running, &requests(&running))].into_iter(),
        )
        .expect_err("does not fit");
        assert_eq!(err.reason, "OutOfcpu");
        assert_eq!(
            err.message,
            "Pod was rejected: Node didn't have enough resource: cpu, requested: 2000, used: \
             3000, capacity: 4000"
        );
        assert!(
            admit(
                &pod("1"),
                &node("4", "110"),
                110,
                [(&running, &requests(&running))].into_iter()
            )
            .is_ok()
        );
    }

    #[test]
    fn the_pod_count_is_checked_first() {
        let running = pod("1");
        let err = admit(
            &pod("8"),
            &node("4", "1"),
            110,
            [(&running, &requests(&running))].into_iter(),
        )
        .expect_err("node full");
        assert_eq!(err.reason, "OutOfpods");
    }

    #[test]
    fn only_no_execute_taints_count() {
        let mut n = node("4", "110");
        n.spec.taints = vec![Taint::new("gpu", "yes", TaintEffect::NoSchedule)];
        assert!(admit(&pod("1"), &n, 110, std::iter::empty()).is_ok());
        n.spec.taints = vec![Taint::new("gpu", "yes", TaintEffect::NoExecute)];
        let err = admit(&pod("1"), &n, 110, std::iter::empty()).expect_err("untolerated");
        assert_eq!(err.reason, "TaintToleration");
        let mut p = pod("1");
        std::sync::Arc::make_mut(&mut p.spec)
            .node_selector
            .insert("zone".into(), "a".into());
        let err = admit(&p, &node("4", "110"), 110, std::iter::empty()).expect_err("no label");
        assert_eq!(err.reason, "NodeAffinity");
    }
}
