//! FlowSchema and PriorityLevelConfiguration (`flowcontrol.apiserver.k8s.io/v1`) as manifests
//! write them, their API defaults, and the checks the apiserver's validation makes.
//!
//! The types deserialize real manifests (fields kubesim does not model, such as `status`, are
//! left to the scenario reader to note and ignore). `resolve` turns a set of them into the
//! checked, defaulted form the rest of flow control works from: every optional field filled
//! with its v1 default, the schemas in matching order, every reference checked.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::shuffle_shard::{Dealer, DealerError};
use crate::api::meta::ObjectMeta;

/// `apiVersion` of both kinds.
pub const API_VERSION: &str = "flowcontrol.apiserver.k8s.io/v1";
/// The mandatory exempt priority level's (and FlowSchema's) name.
pub const EXEMPT: &str = "exempt";
/// The mandatory catch-all priority level's (and FlowSchema's) name.
pub const CATCH_ALL: &str = "catch-all";

/// v1 default of `matchingPrecedence`.
pub const DEFAULT_MATCHING_PRECEDENCE: i32 = 1000;
/// v1 default of a Limited level's `nominalConcurrencyShares`.
pub const DEFAULT_NOMINAL_CONCURRENCY_SHARES: i32 = 30;
/// v1 default of `queuing.queues`.
pub const DEFAULT_QUEUES: i32 = 64;
/// v1 default of `queuing.handSize`.
pub const DEFAULT_HAND_SIZE: i32 = 8;
/// v1 default of `queuing.queueLengthLimit`.
pub const DEFAULT_QUEUE_LENGTH_LIMIT: i32 = 50;

/// A FlowSchema: which requests go to which priority level, and how they split into flows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowSchema {
    /// Metadata (only the name matters).
    pub metadata: ObjectMeta,
    /// The schema.
    pub spec: FlowSchemaSpec,
}

/// A FlowSchema's `spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowSchemaSpec {
    /// The priority level matching requests go to.
    pub priority_level_configuration: PriorityLevelReference,
    /// Lower wins; 1..=10000; 0 (absent) defaults to 1000.
    pub matching_precedence: i32,
    /// How matching requests split into flows; absent puts them all in one flow.
    pub distinguisher_method: Option<DistinguisherMethod>,
    /// The schema matches a request if any rule does.
    pub rules: Vec<PolicyRulesWithSubjects>,
}

/// `spec.priorityLevelConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PriorityLevelReference {
    /// The level's name.
    pub name: String,
}

/// `spec.distinguisherMethod`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistinguisherMethod {
    /// `ByUser` or `ByNamespace`.
    #[serde(rename = "type")]
    pub kind: DistinguisherType,
}

/// What tells flows apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DistinguisherType {
    /// The requesting user's name.
    ByUser,
    /// The request's namespace (empty for cluster-scoped requests).
    ByNamespace,
}

/// One rule: who, and what.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyRulesWithSubjects {
    /// Any of these users, groups or service accounts.
    pub subjects: Vec<Subject>,
    /// Resource requests this rule matches.
    pub resource_rules: Vec<ResourcePolicyRule>,
    /// Non-resource requests (paths) this rule matches.
    pub non_resource_rules: Vec<NonResourcePolicyRule>,
}

/// A subject: `kind` and the one field of that kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: SubjectKind,
    /// For `User`.
    #[serde(default)]
    pub user: Option<NamedSubject>,
    /// For `Group`.
    #[serde(default)]
    pub group: Option<NamedSubject>,
    /// For `ServiceAccount`.
    #[serde(default)]
    pub service_account: Option<ServiceAccountSubject>,
}

/// The subject kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubjectKind {
    /// A user by name (`*` is every user).
    User,
    /// A group by name (`*` is every group).
    Group,
    /// A service account by namespace and name (`*` is every one of the namespace).
    ServiceAccount,
}

/// A user or group subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NamedSubject {
    /// The name, or `*`.
    pub name: String,
}

/// A service-account subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceAccountSubject {
    /// Its namespace.
    pub namespace: String,
    /// Its name, or `*`.
    pub name: String,
}

/// A resource rule. A list that is exactly `["*"]` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourcePolicyRule {
    /// Verbs (`get`, `list`, `create`, …).
    pub verbs: Vec<String>,
    /// API groups (`""` is core).
    pub api_groups: Vec<String>,
    /// Resources, `resource/subresource` for a subresource.
    pub resources: Vec<String>,
    /// Whether cluster-scoped requests match.
    pub cluster_scope: bool,
    /// Namespaces namespaced requests must be in.
    pub namespaces: Vec<String>,
}

/// A non-resource rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NonResourcePolicyRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// Paths; a trailing `*` matches the subtree.
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

/// A PriorityLevelConfiguration: a share of the server's concurrency and what happens to
/// requests beyond it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PriorityLevelConfiguration {
    /// Metadata (only the name matters).
    pub metadata: ObjectMeta,
    /// The level.
    pub spec: PriorityLevelSpec,
}

/// A PriorityLevelConfiguration's `spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PriorityLevelSpec {
    /// `Exempt` or `Limited`.
    #[serde(rename = "type")]
    pub kind: Option<PriorityLevelType>,
    /// For `Limited`.
    pub limited: Option<LimitedPriorityLevel>,
    /// For `Exempt`.
    pub exempt: Option<ExemptPriorityLevel>,
}

/// Whether a level is limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PriorityLevelType {
    /// Never limited, never queued.
    Exempt,
    /// Limited to its share of the server's concurrency.
    Limited,
}

/// `spec.limited`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LimitedPriorityLevel {
    /// Shares of the server's concurrency (default 30; 0 is allowed in v1).
    pub nominal_concurrency_shares: Option<i32>,
    /// Percent of its nominal seats others may borrow (default 0).
    pub lendable_percent: Option<i32>,
    /// Percent of its nominal seats it may borrow; absent is no limit.
    pub borrowing_limit_percent: Option<i32>,
    /// What happens beyond the limit.
    pub limit_response: LimitResponse,
}

/// `spec.exempt`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExemptPriorityLevel {
    /// Shares (default 0): counted in the share sum, so they carve seats out of the others.
    pub nominal_concurrency_shares: Option<i32>,
    /// Percent of its nominal seats others may borrow (default 0).
    pub lendable_percent: Option<i32>,
}

/// `limitResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LimitResponse {
    /// `Queue` or `Reject`.
    #[serde(rename = "type")]
    pub kind: Option<LimitResponseType>,
    /// For `Queue`.
    pub queuing: Option<QueuingConfiguration>,
}

/// Queue or reject beyond the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LimitResponseType {
    /// Hold requests in fair queues.
    Queue,
    /// Reject at once (429).
    Reject,
}

/// `limitResponse.queuing`; zero fields take their defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueuingConfiguration {
    /// Number of queues (default 64).
    pub queues: i32,
    /// Queues each flow is dealt (default 8).
    pub hand_size: i32,
    /// Requests a queue holds before the level rejects (default 50).
    pub queue_length_limit: i32,
}

/// Why a flow-control configuration is not usable; names the object and field.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An object has no name.
    #[error("a {kind} has no metadata.name")]
    Unnamed {
        /// `FlowSchema` or `PriorityLevelConfiguration`.
        kind: &'static str,
    },
    /// Two objects of a kind share a name.
    #[error("{kind} {name:?} is given twice")]
    Duplicate {
        /// Kind.
        kind: &'static str,
        /// Name.
        name: String,
    },
    /// A field is out of its range or missing.
    #[error("{kind} {name:?}: {field} {problem}")]
    Invalid {
        /// Kind.
        kind: &'static str,
        /// Name.
        name: String,
        /// Field path.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A FlowSchema names a priority level that does not exist.
    #[error(
        "FlowSchema {schema:?}: spec.priorityLevelConfiguration.name {level:?} names no \
         PriorityLevelConfiguration"
    )]
    DanglingLevel {
        /// The schema.
        schema: String,
        /// The missing level.
        level: String,
    },
}

/// What beyond-the-limit handling a resolved level has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelShape {
    /// Exempt: never limited.
    Exempt,
    /// Limited, rejecting beyond the limit.
    Reject,
    /// Limited, queuing beyond the limit.
    Queue {
        /// Number of queues.
        queues: u32,
        /// Hand size.
        hand_size: u32,
        /// Queue length limit.
        queue_length_limit: u32,
    },
}

/// A priority level with every default applied and every check passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedLevel {
    /// Name.
    pub name: String,
    /// Exempt, reject or queue.
    pub shape: LevelShape,
    /// `nominalConcurrencyShares`.
    pub shares: u32,
    /// `lendablePercent`.
    pub lendable_percent: u32,
    /// `borrowingLimitPercent`, `None` when unlimited.
    pub borrowing_limit_percent: Option<u32>,
}

/// A FlowSchema with defaults applied and its level resolved to an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedSchema {
    /// Name.
    pub name: String,
    /// Index into the resolved levels.
    pub level: usize,
    /// `matchingPrecedence`.
    pub matching_precedence: i32,
    /// Distinguisher, if any.
    pub distinguisher: Option<DistinguisherType>,
    /// The rules.
    pub rules: Vec<PolicyRulesWithSubjects>,
}

/// A whole configuration: levels in name order, schemas in matching order (precedence, then
/// name, as upstream sorts them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedConfig {
    /// The levels.
    pub levels: Vec<ResolvedLevel>,
    /// The schemas.
    pub schemas: Vec<ResolvedSchema>,
}

fn invalid(kind: &'static str, name: &str, field: &'static str, problem: String) -> ConfigError {
    ConfigError::Invalid {
        kind,
        name: name.to_string(),
        field,
        problem,
    }
}

fn percent(
    name: &str,
    field: &'static str,
    value: Option<i32>,
) -> Result<Option<u32>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if (0..=100).contains(&v) => Ok(Some(v as u32)),
        Some(v) => Err(invalid(
            "PriorityLevelConfiguration",
            name,
            field,
            format!("is {v}; expected 0 to 100"),
        )),
    }
}

/// Applies the v1 defaults to a level and checks it as the apiserver's validation does.
pub fn resolve_level(plc: &PriorityLevelConfiguration) -> Result<ResolvedLevel, ConfigError> {
    const KIND: &str = "PriorityLevelConfiguration";
    let name = plc.metadata.name.as_str();
    if name.is_empty() {
        return Err(ConfigError::Unnamed { kind: KIND });
    }
    let spec = &plc.spec;
    match spec.kind {
        None => Err(invalid(
            KIND,
            name,
            "spec.type",
            "is missing; expected Exempt or Limited".into(),
        )),
        Some(PriorityLevelType::Exempt) => {
            if name != EXEMPT {
                // Upstream ties the Exempt type to the mandatory level's name.
                return Err(invalid(
                    KIND,
                    name,
                    "spec.type",
                    "is Exempt, which only the level named exempt may be".into(),
                ));
            }
            let exempt = spec.exempt.clone().unwrap_or_default();
            let shares = exempt.nominal_concurrency_shares.unwrap_or(0);
            if shares < 0 {
                return Err(invalid(
                    KIND,
                    name,
                    "spec.exempt.nominalConcurrencyShares",
                    format!("is {shares}; expected at least 0"),
                ));
            }
            Ok(ResolvedLevel {
                name: name.to_string(),
                shape: LevelShape::Exempt,
                shares: shares as u32,
                lendable_percent: percent(
                    name,
                    "spec.exempt.lendablePercent",
                    exempt.lendable_percent,
                )?
                .unwrap_or(0),
                borrowing_limit_percent: None,
            })
        }
        Some(PriorityLevelType::Limited) => {
            let Some(limited) = &spec.limited else {
                return Err(invalid(
                    KIND,
                    name,
                    "spec.limited",
                    "is missing for type Limited".into(),
                ));
            };
            let shares = limited
                .nominal_concurrency_shares
                .unwrap_or(DEFAULT_NOMINAL_CONCURRENCY_SHARES);
            if shares < 0 {
                return Err(invalid(
                    KIND,
                    name,
                    "spec.limited.nominalConcurrencyShares",
                    format!("is {shares}; expected at least 0"),
                ));
            }
            let lendable = percent(
                name,
                "spec.limited.lendablePercent",
                limited.lendable_percent,
            )?
            .unwrap_or(0);
            let borrowing = match limited.borrowing_limit_percent {
                None => None,
                Some(v) if v >= 0 => Some(v as u32),
                Some(v) => {
                    return Err(invalid(
                        KIND,
                        name,
                        "spec.limited.borrowingLimitPercent",
                        format!("is {v}; expected at least 0"),
                    ));
                }
            };
            let shape = match limited.limit_response.kind {
                None => {
                    return Err(invalid(
                        KIND,
                        name,
                        "spec.limited.limitResponse.type",
                        "is missing; expected Queue or Reject".into(),
                    ));
                }
                Some(LimitResponseType::Reject) => LevelShape::Reject,
                Some(LimitResponseType::Queue) => {
                    let q = limited.limit_response.queuing.unwrap_or_default();
                    let or_default = |v: i32, d: i32| if v == 0 { d } else { v };
                    let queues = or_default(q.queues, DEFAULT_QUEUES);
                    let hand = or_default(q.hand_size, DEFAULT_HAND_SIZE);
                    let qll = or_default(q.queue_length_limit, DEFAULT_QUEUE_LENGTH_LIMIT);
                    for (field, v) in [
                        ("spec.limited.limitResponse.queuing.queues", queues),
                        ("spec.limited.limitResponse.queuing.handSize", hand),
                        ("spec.limited.limitResponse.queuing.queueLengthLimit", qll),
                    ] {
                        if v < 0 {
                            return Err(invalid(
                                KIND,
                                name,
                                field,
                                format!("is {v}; expected a positive number"),
                            ));
                        }
                    }
                    Dealer::new(queues as u32, hand as u32).map_err(|e: DealerError| {
                        invalid(
                            KIND,
                            name,
                            "spec.limited.limitResponse.queuing.handSize",
                            e.to_string(),
                        )
                    })?;
                    LevelShape::Queue {
                        queues: queues as u32,
                        hand_size: hand as u32,
                        queue_length_limit: qll as u32,
                    }
                }
            };
            Ok(ResolvedLevel {
                name: name.to_string(),
                shape,
                shares: shares as u32,
                lendable_percent: lendable,
                borrowing_limit_percent: borrowing,
            })
        }
    }
}

/// Resolves a set of levels and schemas: each checked and defaulted, names unique, every
/// schema's level present, schemas sorted into matching order.
pub fn resolve(
    levels: &[PriorityLevelConfiguration],
    schemas: &[FlowSchema],
) -> Result<ResolvedConfig, ConfigError> {
    let mut resolved_levels = levels
        .iter()
        .map(resolve_level)
        .collect::<Result<Vec<_>, _>>()?;
    resolved_levels.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in resolved_levels.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(ConfigError::Duplicate {
                kind: "PriorityLevelConfiguration",
                name: pair[0].name.clone(),
            });
        }
    }
    let mut resolved_schemas = Vec::with_capacity(schemas.len());
    for fs in schemas {
        const KIND: &str = "FlowSchema";
        let name = fs.metadata.name.as_str();
        if name.is_empty() {
            return Err(ConfigError::Unnamed { kind: KIND });
        }
        let precedence = match fs.spec.matching_precedence {
            0 => DEFAULT_MATCHING_PRECEDENCE,
            p if (1..=10_000).contains(&p) => p,
            p => {
                return Err(invalid(
                    KIND,
                    name,
                    "spec.matchingPrecedence",
                    format!("is {p}; expected 1 to 10000"),
                ));
            }
        };
        let level_name = &fs.spec.priority_level_configuration.name;
        let level = resolved_levels
            .binary_search_by(|l| l.name.as_str().cmp(level_name))
            .map_err(|_| ConfigError::DanglingLevel {
                schema: name.to_string(),
                level: level_name.clone(),
            })?;
        for rule in &fs.spec.rules {
            for subject in &rule.subjects {
                let present = match subject.kind {
                    SubjectKind::User => subject.user.is_some(),
                    SubjectKind::Group => subject.group.is_some(),
                    SubjectKind::ServiceAccount => subject.service_account.is_some(),
                };
                if !present {
                    return Err(invalid(
                        KIND,
                        name,
                        "spec.rules.subjects",
                        format!("has kind {:?} without its field", subject.kind),
                    ));
                }
            }
        }
        resolved_schemas.push(ResolvedSchema {
            name: name.to_string(),
            level,
            matching_precedence: precedence,
            distinguisher: fs.spec.distinguisher_method.map(|d| d.kind),
            rules: fs.spec.rules.clone(),
        });
    }
    resolved_schemas.sort_by(|a, b| {
        a.matching_precedence
            .cmp(&b.matching_precedence)
            .then_with(|| a.name.cmp(&b.name))
    });
    for pair in resolved_schemas.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(ConfigError::Duplicate {
                kind: "FlowSchema",
                name: pair[0].name.clone(),
            });
        }
    }
    Ok(ResolvedConfig {
        levels: resolved_levels,
        schemas: resolved_schemas,
    })
}

/// The configuration in effect: the scenario's objects, and every bootstrap object the scenario
/// does not name itself (upstream's apiserver keeps the mandatory and suggested objects in
/// existence; one of the same name from the scenario replaces it).
pub fn with_bootstrap(
    levels: &[PriorityLevelConfiguration],
    schemas: &[FlowSchema],
    suggested: bool,
) -> (Vec<PriorityLevelConfiguration>, Vec<FlowSchema>) {
    let boot_levels = super::bootstrap::priority_levels(suggested);
    let boot_schemas = super::bootstrap::flow_schemas(suggested);
    let mut all_levels = levels.to_vec();
    for l in boot_levels {
        if !levels.iter().any(|x| x.metadata.name == l.metadata.name) {
            all_levels.push(l);
        }
    }
    let mut all_schemas = schemas.to_vec();
    for s in boot_schemas {
        if !schemas.iter().any(|x| x.metadata.name == s.metadata.name) {
            all_schemas.push(s);
        }
    }
    (all_levels, all_schemas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::yaml::{Document, parse_lenient};
    use std::path::Path;

    fn doc(text: &str) -> Document {
        Document {
            text: text.to_string(),
            first_line: 1,
        }
    }

    #[test]
    fn reads_real_manifests_and_applies_v1_defaults() {
        let plc: PriorityLevelConfiguration = parse_lenient(
            &doc(r#"
metadata:
  name: batch
  annotations: {apf.kubernetes.io/autoupdate-spec: "false"}
spec:
  type: Limited
  limited:
    lendablePercent: 10
    limitResponse:
      type: Queue
      queuing: {handSize: 4}
status: {}
"#),
            Path::new("t.yaml"),
        )
        .unwrap()
        .0;
        let level = resolve_level(&plc).unwrap();
        // Unset shares default to 30; unset queues and queueLengthLimit to 64 and 50.
        assert_eq!(level.shares, 30);
        assert_eq!(level.lendable_percent, 10);
        assert_eq!(level.borrowing_limit_percent, None);
        assert_eq!(
            level.shape,
            LevelShape::Queue {
                queues: 64,
                hand_size: 4,
                queue_length_limit: 50
            }
        );
        let (fs, _): (FlowSchema, _) = parse_lenient(
            &doc(r#"
metadata: {name: batch-jobs}
spec:
  priorityLevelConfiguration: {name: batch}
  distinguisherMethod: {type: ByNamespace}
  rules:
  - subjects:
    - kind: ServiceAccount
      serviceAccount: {namespace: batch, name: "*"}
    resourceRules:
    - verbs: ["*"]
      apiGroups: ["*"]
      resources: ["*"]
      namespaces: ["*"]
    nonResourceRules:
    - verbs: [get]
      nonResourceURLs: ["/metrics"]
"#),
            Path::new("t.yaml"),
        )
        .unwrap();
        let resolved = resolve(&[plc], &[fs]).unwrap();
        assert_eq!(resolved.schemas[0].matching_precedence, 1000);
        assert_eq!(
            resolved.schemas[0].distinguisher,
            Some(DistinguisherType::ByNamespace)
        );
        assert_eq!(
            resolved.schemas[0].rules[0].non_resource_rules[0].non_resource_urls,
            vec!["/metrics".to_string()]
        );
    }

    #[test]
    fn checks_what_the_apiserver_checks() {
        let mut plc = PriorityLevelConfiguration::default();
        plc.metadata.name = "x".into();
        plc.spec.kind = Some(PriorityLevelType::Limited);
        plc.spec.limited = Some(LimitedPriorityLevel {
            lendable_percent: Some(101),
            limit_response: LimitResponse {
                kind: Some(LimitResponseType::Reject),
                queuing: None,
            },
            ..Default::default()
        });
        assert!(matches!(
            resolve_level(&plc),
            Err(ConfigError::Invalid {
                field: "spec.limited.lendablePercent",
                ..
            })
        ));
        let mut fs = FlowSchema::default();
        fs.metadata.name = "f".into();
        fs.spec.priority_level_configuration.name = "missing".into();
        assert!(matches!(
            resolve(&[], &[fs]),
            Err(ConfigError::DanglingLevel { .. })
        ));
    }
}
