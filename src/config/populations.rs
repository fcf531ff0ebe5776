//! The scenario's client populations (`spec.clients`), as plain data: each population's name,
//! identity, client rate limit and what its clients do. What a population does with these is
//! its component's ([`crate::populations`]).

use crate::api::Kind;
use crate::sim::SimDuration;

/// The `$(NODE_NAME)` of a per-node agent's selectors: the name of the agent's node, as a
/// DaemonSet's pod gets it from the downward API (`fieldRef: spec.nodeName`) and expands it in
/// its arguments.
pub const NODE_NAME_VARIABLE: &str = "$(NODE_NAME)";

/// client-go's QPS when a population's `qps` is not written (`rest.DefaultQPS`).
pub const DEFAULT_QPS: f32 = crate::client::rate_limiter::DEFAULT_QPS;
/// client-go's burst when a population's `burst` is not written (`rest.DefaultBurst`).
pub const DEFAULT_BURST: i64 = crate::client::rate_limiter::DEFAULT_BURST as i64;

/// The most client populations a scenario may have.
pub const MAX_POPULATIONS: usize = 1000;
/// The most clients one population may have (its replicas, or the nodes of its agents).
pub const MAX_CLIENTS_PER_POPULATION: u32 = 1_000_000;

/// A per-node agent's period when the scenario gives none.
pub const DEFAULT_AGENT_PERIOD: SimDuration = SimDuration::from_secs(10);
/// A scraper's interval when the scenario gives none (Prometheus' `scrape_interval`).
pub const DEFAULT_SCRAPE_INTERVAL: SimDuration = SimDuration::from_mins(1);

/// One client population.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientPopulation {
    /// Its name (a DNS-1123 label, unique in the scenario): the key of its requests in the
    /// report, and of its random stream.
    pub name: String,
    /// The namespace of its service account.
    pub namespace: String,
    /// Its service account: every client of the population authenticates as
    /// `system:serviceaccount:<namespace>:<service account>`.
    pub service_account: String,
    /// `rest.Config.QPS` of each client (checked: it makes a limiter with `burst`).
    pub qps: f32,
    /// `rest.Config.Burst` of each client.
    pub burst: i64,
    /// What its clients do.
    pub kind: PopulationKind,
}

/// What a population's clients do.
#[derive(Clone, Debug, PartialEq)]
pub enum PopulationKind {
    /// One client per node, listing a resource every period.
    PerNodeAgent(PerNodeAgent),
    /// Replicas each running informers.
    Operator(Operator),
    /// One client listing resources every interval.
    Scraper(Scraper),
}

impl PopulationKind {
    /// The population type as `spec.clients[]` spells it.
    pub const fn name(&self) -> &'static str {
        match self {
            PopulationKind::PerNodeAgent(_) => "perNodeAgent",
            PopulationKind::Operator(_) => "operator",
            PopulationKind::Scraper(_) => "scraper",
        }
    }
}

/// `perNodeAgent`: a DaemonSet's pods, one client per node, each listing `resource` every
/// `period` (the next list `period` after the last one's answer).
#[derive(Clone, Debug, PartialEq)]
pub struct PerNodeAgent {
    /// The resource listed.
    pub resource: Kind,
    /// The list's field selector, `$(NODE_NAME)` standing for the agent's node (none: every
    /// object).
    pub field_selector: Option<String>,
    /// The list's label selector, likewise.
    pub label_selector: Option<String>,
    /// From one list's answer to the next list.
    pub period: SimDuration,
}

/// `operator`: `replicas` clients, each with one informer (LIST, then WATCH) per kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    /// How many replicas (each its own client).
    pub replicas: u32,
    /// The kinds each replica watches, cluster-wide.
    pub kinds: Vec<Kind>,
}

/// `scraper`: one client that lists `kinds` every `interval` (the next round `interval`
/// after the last round's answers).
#[derive(Clone, Debug, PartialEq)]
pub struct Scraper {
    /// From one round's last answer to the next round.
    pub interval: SimDuration,
    /// The kinds listed each round, cluster-wide, in this order.
    pub kinds: Vec<Kind>,
}

impl ClientPopulation {
    /// The user every client of the population authenticates as.
    pub fn user_name(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }
}

/// The kind whose REST resource is `resource` (`pods`, `nodes`, …), if kubesim models it.
pub fn kind_of_resource(resource: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.resource() == resource)
}

/// Every resource a population may name, for error messages.
pub fn resource_names() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.resource())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `selector` with the agent's node name in place of `$(NODE_NAME)`.
pub fn expand_node_name(selector: &str, node: &str) -> String {
    selector.replace(NODE_NAME_VARIABLE, node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_node_names() {
        assert_eq!(kind_of_resource("pods"), Some(Kind::Pod));
        assert_eq!(
            kind_of_resource("endpointslices"),
            Some(Kind::EndpointSlice)
        );
        assert_eq!(kind_of_resource("Pod"), None);
        assert_eq!(
            expand_node_name("spec.nodeName=$(NODE_NAME)", "node-7"),
            "spec.nodeName=node-7"
        );
        assert!(resource_names().starts_with("namespaces, priorityclasses, nodes"));
    }
}
