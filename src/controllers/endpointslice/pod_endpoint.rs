//! What a pod is to the Services that select it (upstream `podToEndpoint`,
//! `getEndpointPorts`, `FindPort`, `ShouldPodBeInEndpoints` and `podEndpointsChanged`): its
//! endpoint — addresses of one family, conditions, node, zone, the pod itself — the ports it
//! serves a Service on, and whether a change of the pod can change its endpoints.

use crate::api::endpointslice::{
    AddressType, Endpoint, EndpointConditions, EndpointPort, ObjectReference,
};
use crate::api::meta::IntOrString;
use crate::api::node::{LABEL_ZONE, Node};
use crate::api::pod::Pod;
use crate::api::service::{CLUSTER_IP_NONE, Service, ServicePort, protocol_or_tcp};

/// Whether `pod` belongs in a Service's endpoints at all: not finished, with an address
/// (terminating pods stay, marked terminating).
pub fn should_be_in_endpoints(pod: &Pod) -> bool {
    !pod.is_terminal() && pod.status.ips().next().is_some()
}

/// Whether `address` is an IPv6 one (it has a colon; an IPv4 address never does).
pub fn is_ipv6(address: &str) -> bool {
    address.contains(':')
}

/// The endpoint `pod` makes for `service` among addresses of `address_type`, on `node` (none
/// when the node is not known). Serving is the pod's readiness; ready is serving and not
/// terminating, or always when the Service publishes not-ready addresses.
pub fn pod_endpoint(
    pod: &Pod,
    node: Option<&Node>,
    service: &Service,
    address_type: AddressType,
) -> Endpoint {
    let serving = pod.status.ready_since().is_some();
    let terminating = pod.metadata.is_terminating();
    let ready = service.spec.publish_not_ready_addresses || (serving && !terminating);
    let want_ipv6 = address_type == AddressType::IPv6;
    Endpoint {
        addresses: pod
            .status
            .ips()
            .filter(|ip| is_ipv6(ip) == want_ipv6)
            .map(str::to_string)
            .collect(),
        conditions: EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        },
        target_ref: Some(ObjectReference {
            kind: "Pod".into(),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid,
            source_uid: String::new(),
        }),
        node_name: (!pod.spec.node_name.is_empty()).then(|| pod.spec.node_name.clone()),
        zone: node
            .and_then(|n| n.metadata.labels.get(LABEL_ZONE))
            .filter(|zone| !zone.is_empty())
            .cloned(),
    }
}

/// The ports `pod` serves `service` on, one per Service port whose target the pod has (a
/// headless Service may have none). They come sorted, as the slices keep them.
pub fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    if service.spec.ports.is_empty() && service.spec.cluster_ip == CLUSTER_IP_NONE {
        return Vec::new();
    }
    let mut ports: Vec<EndpointPort> = service
        .spec
        .ports
        .iter()
        .filter_map(|port| {
            Some(EndpointPort {
                name: Some(port.name.clone()),
                protocol: Some(port.protocol().to_string()),
                port: Some(target_port(pod, port)?),
            })
        })
        .collect();
    ports.sort();
    ports
}

/// The container port a Service port targets on `pod` (upstream `FindPort`): a number as
/// it is (unset: the Service port itself, as the API defaults `targetPort`); a name looked
/// up among the containers' ports of the same protocol, then the sidecars'.
fn target_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let name = match &port.target_port {
        None => return Some(port.port),
        Some(IntOrString::Int(n)) => return i32::try_from(*n).ok(),
        Some(IntOrString::String(name)) => name,
    };
    let sidecars = pod.spec.init_containers.iter().filter(|c| c.is_sidecar());
    pod.spec
        .containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| &c.ports)
        .find(|p| p.name == *name && protocol_or_tcp(&p.protocol) == port.protocol())
        .map(|p| p.container_port)
}

/// How a pod change may change endpoints (upstream `podEndpointsChanged`): whether its
/// endpoint may differ (deletion began, readiness flipped, addresses changed), and whether
/// the Services selecting it may differ (labels changed).
pub fn pod_endpoints_changed(old: &Pod, new: &Pod) -> (bool, bool) {
    let labels_changed = old.metadata.labels != new.metadata.labels;
    let endpoint_changed = old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        || old.status.ready_since().is_some() != new.status.ready_since().is_some()
        || !old.status.ips().eq(new.status.ips());
    (endpoint_changed, labels_changed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::pod::{Container, ContainerPort, POD_READY, PodCondition, PodIp};

    fn pod_with_ports(ports: &[(&str, i32, &str)]) -> Pod {
        let mut pod = Pod::default();
        Arc::make_mut(&mut pod.spec).containers.push(Container {
            name: "app".into(),
            ports: ports
                .iter()
                .map(|&(name, port, protocol)| ContainerPort {
                    name: name.into(),
                    container_port: port,
                    protocol: protocol.into(),
                    ..ContainerPort::default()
                })
                .collect(),
            ..Container::default()
        });
        pod
    }

    fn service_port(name: &str, port: i32, target: Option<IntOrString>) -> ServicePort {
        ServicePort {
            name: name.into(),
            port,
            target_port: target,
            protocol: String::new(),
        }
    }

    #[test]
    fn target_ports_resolve_by_number_by_name_and_by_default() {
        let pod = pod_with_ports(&[("http", 8080, ""), ("dns", 53, "UDP")]);
        let mut service = Service::default();
        service.spec.ports = vec![
            // Unset: the Service port; a number: as is; "http": the TCP container port 8080;
            // "dns": only a UDP port has that name, so a TCP Service port finds nothing.
            service_port("a", 80, None),
            service_port("b", 81, Some(IntOrString::Int(9090))),
            service_port("c", 82, Some(IntOrString::String("http".into()))),
            service_port("d", 83, Some(IntOrString::String("dns".into()))),
        ];
        let ports: Vec<(Option<String>, Option<i32>)> = endpoint_ports(&service, &pod)
            .into_iter()
            .map(|p| (p.name, p.port))
            .collect();
        assert_eq!(
            ports,
            vec![
                (Some("a".into()), Some(80)),
                (Some("b".into()), Some(9090)),
                (Some("c".into()), Some(8080)),
            ]
        );
        // A headless Service without ports has no endpoint ports.
        let mut headless = Service::default();
        headless.spec.cluster_ip = "None".into();
        assert!(endpoint_ports(&headless, &pod).is_empty());
    }

    #[test]
    fn conditions_follow_readiness_deletion_and_publish_not_ready() {
        let mut pod = Pod::default();
        pod.metadata.name = "web-1".into();
        Arc::make_mut(&mut pod.spec).node_name = "n1".into();
        pod.status.pod_ips = vec![PodIp {
            ip: "10.64.0.1".into(),
        }];
        let service = Service::default();
        let conditions = |pod: &Pod, service: &Service| {
            let c = pod_endpoint(pod, None, service, AddressType::IPv4).conditions;
            (c.ready, c.serving, c.terminating)
        };
        // Not ready: neither ready nor serving.
        assert_eq!(
            conditions(&pod, &service),
            (Some(false), Some(false), Some(false))
        );
        pod.status.conditions.push(PodCondition {
            type_: POD_READY.into(),
            status: "True".into(),
            ..PodCondition::default()
        });
        assert_eq!(
            conditions(&pod, &service),
            (Some(true), Some(true), Some(false))
        );
        // Terminating: still serving, no longer ready.
        pod.metadata.deletion_timestamp = Some(crate::sim::SimTime::ZERO);
        assert_eq!(
            conditions(&pod, &service),
            (Some(false), Some(true), Some(true))
        );
        // publishNotReadyAddresses: ready whatever the pod says.
        let mut publish = Service::default();
        publish.spec.publish_not_ready_addresses = true;
        assert_eq!(
            conditions(&pod, &publish),
            (Some(true), Some(true), Some(true))
        );
        // An IPv6 slice takes none of an IPv4 pod's addresses.
        assert!(
            pod_endpoint(&pod, None, &service, AddressType::IPv6)
                .addresses
                .is_empty()
        );
    }
}
