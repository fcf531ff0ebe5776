//! `spec.clients`: the Scenario's client populations checked and resolved into
//! [`crate::config::populations`] data. Every error names the field and points at it.

use serde_saphyr::{Location, Spanned};

use super::error::{ScenarioError, SourcePos};
use super::model::{ClientPopulationSpec, OperatorSpec, PerNodeAgentSpec, ScraperSpec};
use crate::api::Kind;
use crate::api::labels::{is_dns1123_label, parse_field_selector, parse_label_selector};
use crate::client::qps_defaults;
use crate::client::rate_limiter::ClientRateLimit;
use crate::config::populations::{
    ClientPopulation, DEFAULT_AGENT_PERIOD, DEFAULT_BURST, DEFAULT_QPS, DEFAULT_SCRAPE_INTERVAL,
    MAX_CLIENTS_PER_POPULATION, MAX_POPULATIONS, Operator, PerNodeAgent, PopulationKind, Scraper,
    expand_node_name, kind_of_resource, resource_names,
};
use crate::sim::SimDuration;

/// The names of the client groups the components already have in reports; a population may
/// not take one.
const COMPONENT_NAMES: [&str; 5] = [
    "kubectl",
    qps_defaults::KUBE_SCHEDULER.component,
    qps_defaults::KUBE_CONTROLLER_MANAGER.component,
    qps_defaults::KUBELET.component,
    qps_defaults::KUBE_PROXY.component,
];

/// What a check needs to point at a field: where positions in the Scenario document are in
/// its file, and where the entry being checked starts.
struct Check<'a> {
    at: &'a dyn Fn(&Location) -> SourcePos,
    entry: SourcePos,
    prefix: String,
}

impl Check<'_> {
    /// An error at `location` (the entry's start without one), about `field` of the entry.
    fn error(&self, location: Option<&Location>, field: &str, message: String) -> ScenarioError {
        ScenarioError::Invalid {
            pos: location.map_or_else(|| self.entry.clone(), |l| (self.at)(l)),
            path: if field.is_empty() {
                self.prefix.clone()
            } else {
                format!("{}.{field}", self.prefix)
            },
            message,
        }
    }

    /// A positive duration, or `default` when absent.
    fn positive(
        &self,
        value: &Option<Spanned<SimDuration>>,
        field: &str,
        default: SimDuration,
    ) -> Result<SimDuration, ScenarioError> {
        match value {
            Some(d) if d.value.is_zero() => Err(self.error(
                Some(&d.referenced),
                field,
                "expected a positive duration such as 10s".into(),
            )),
            Some(d) => Ok(d.value),
            None => Ok(default),
        }
    }

    /// The kind of a resource name.
    fn resource(&self, name: &str, at: &Location, field: &str) -> Result<Kind, ScenarioError> {
        kind_of_resource(name).ok_or_else(|| {
            self.error(
                Some(at),
                field,
                format!(
                    "unknown resource {name:?}; expected one of {}",
                    resource_names()
                ),
            )
        })
    }

    /// A non-empty list of distinct resource names, as kinds.
    fn resources(
        &self,
        names: &Spanned<Vec<String>>,
        field: &str,
    ) -> Result<Vec<Kind>, ScenarioError> {
        if names.value.is_empty() {
            return Err(self.error(
                Some(&names.referenced),
                field,
                "expected at least one resource, such as [pods, nodes]".into(),
            ));
        }
        let mut kinds = Vec::with_capacity(names.value.len());
        for (i, name) in names.value.iter().enumerate() {
            let kind = self.resource(name, &names.referenced, &format!("{field}[{i}]"))?;
            if kinds.contains(&kind) {
                return Err(self.error(
                    Some(&names.referenced),
                    &format!("{field}[{i}]"),
                    format!("{name} is listed twice; expected each resource once"),
                ));
            }
            kinds.push(kind);
        }
        Ok(kinds)
    }

    /// A selector as written, checked by `parse` once `$(NODE_NAME)` stands for a node.
    fn selector<E: std::fmt::Display>(
        &self,
        value: &Option<Spanned<String>>,
        field: &str,
        parse: impl Fn(&str) -> Result<(), E>,
    ) -> Result<Option<String>, ScenarioError> {
        let Some(written) = value else {
            return Ok(None);
        };
        parse(&expand_node_name(&written.value, "node"))
            .map(|()| Some(written.value.clone()))
            .map_err(|e| {
                self.error(
                    Some(&written.referenced),
                    field,
                    format!("{e}; expected a selector such as spec.nodeName=$(NODE_NAME)"),
                )
            })
    }

    fn per_node_agent(&self, spec: &PerNodeAgentSpec) -> Result<PerNodeAgent, ScenarioError> {
        let resource = match &spec.resource {
            Some(r) => self.resource(&r.value, &r.referenced, "perNodeAgent.resource")?,
            None => Kind::Pod,
        };
        Ok(PerNodeAgent {
            resource,
            field_selector: self.selector(
                &spec.field_selector,
                "perNodeAgent.fieldSelector",
                |s| parse_field_selector(s).map(|_| ()),
            )?,
            label_selector: self.selector(
                &spec.label_selector,
                "perNodeAgent.labelSelector",
                |s| parse_label_selector(s).map(|_| ()),
            )?,
            period: self.positive(&spec.period, "perNodeAgent.period", DEFAULT_AGENT_PERIOD)?,
        })
    }

    fn operator(&self, spec: &OperatorSpec) -> Result<Operator, ScenarioError> {
        let replicas = match &spec.replicas {
            Some(r) if r.value == 0 || r.value > MAX_CLIENTS_PER_POPULATION => {
                return Err(self.error(
                    Some(&r.referenced),
                    "operator.replicas",
                    format!(
                        "expected 1 to {MAX_CLIENTS_PER_POPULATION} replicas, found {}",
                        r.value
                    ),
                ));
            }
            Some(r) => r.value,
            None => 1,
        };
        Ok(Operator {
            replicas,
            kinds: self.resources(&spec.resources, "operator.resources")?,
        })
    }

    fn scraper(&self, spec: &ScraperSpec) -> Result<Scraper, ScenarioError> {
        Ok(Scraper {
            interval: self.positive(&spec.interval, "scraper.interval", DEFAULT_SCRAPE_INTERVAL)?,
            kinds: self.resources(&spec.resources, "scraper.resources")?,
        })
    }

    /// A DNS-1123 label (a namespace's or service account's name), or `default`.
    fn dns_label(
        &self,
        value: &Option<Spanned<String>>,
        field: &str,
        default: &str,
    ) -> Result<String, ScenarioError> {
        match value {
            Some(v) if !is_dns1123_label(&v.value) => Err(self.error(
                Some(&v.referenced),
                field,
                format!(
                    "{:?} is not a DNS-1123 label; expected 1–63 lowercase letters, digits \
                     and '-', starting and ending with a letter or digit",
                    v.value
                ),
            )),
            Some(v) => Ok(v.value.clone()),
            None => Ok(default.to_string()),
        }
    }
}

/// `spec.clients` checked and resolved: each entry's name, identity and rate limit, and its
/// one population type.
pub(super) fn client_populations(
    specs: &[Spanned<ClientPopulationSpec>],
    at: &dyn Fn(&Location) -> SourcePos,
) -> Result<Vec<ClientPopulation>, ScenarioError> {
    let mut out: Vec<ClientPopulation> = Vec::with_capacity(specs.len());
    for (i, entry) in specs.iter().enumerate() {
        let check = Check {
            at,
            entry: at(&entry.referenced),
            prefix: format!("spec.clients[{i}]"),
        };
        if i >= MAX_POPULATIONS {
            return Err(check.error(
                None,
                "",
                format!("expected at most {MAX_POPULATIONS} client populations"),
            ));
        }
        let spec = &entry.value;
        if !is_dns1123_label(&spec.name) {
            return Err(check.error(
                None,
                "name",
                format!(
                    "{:?} is not a DNS-1123 label; expected 1–63 lowercase letters, digits and \
                     '-', such as node-problem-detector",
                    spec.name
                ),
            ));
        }
        if COMPONENT_NAMES.contains(&spec.name.as_str()) {
            return Err(check.error(
                None,
                "name",
                format!(
                    "{} is a component's name in reports; expected another name",
                    spec.name
                ),
            ));
        }
        if let Some(first) = out.iter().position(|p| p.name == spec.name) {
            return Err(check.error(
                None,
                "name",
                format!(
                    "{} is already the name of spec.clients[{first}]; expected a unique name",
                    spec.name
                ),
            ));
        }
        let kind = match (&spec.per_node_agent, &spec.operator, &spec.scraper) {
            (Some(agent), None, None) => PopulationKind::PerNodeAgent(check.per_node_agent(agent)?),
            (None, Some(operator), None) => PopulationKind::Operator(check.operator(operator)?),
            (None, None, Some(scraper)) => PopulationKind::Scraper(check.scraper(scraper)?),
            _ => {
                return Err(check.error(
                    None,
                    "",
                    "expected exactly one of perNodeAgent, operator or scraper".into(),
                ));
            }
        };
        let qps = spec.qps.as_ref().map_or(DEFAULT_QPS, |q| q.value);
        let burst = spec.burst.as_ref().map_or(DEFAULT_BURST, |b| b.value);
        // What a clientset made from `rest.Config{QPS, Burst}` refuses (`kubernetes.NewForConfig`).
        if let Err(e) = ClientRateLimit::from_rest_config(qps, burst) {
            let (location, field, expected) = match e {
                crate::client::rate_limiter::RateLimiterError::InvalidQps(_) => (
                    spec.qps.as_ref().map(|q| &q.referenced),
                    "qps",
                    "expected a finite number of requests per second",
                ),
                _ => (
                    spec.burst.as_ref().map(|b| &b.referenced),
                    "burst",
                    "expected a burst of at least 1 beside a positive qps",
                ),
            };
            return Err(check.error(location, field, format!("{e}; {expected}")));
        }
        out.push(ClientPopulation {
            name: spec.name.clone(),
            namespace: check.dns_label(&spec.namespace, "namespace", "default")?,
            service_account: check.dns_label(
                &spec.service_account,
                "serviceAccount",
                &spec.name,
            )?,
            qps,
            burst,
            kind,
        });
    }
    Ok(out)
}
