//! The configuration objects every kube-apiserver keeps (upstream `apis/flowcontrol/bootstrap`):
//! the mandatory `exempt` and `catch-all` levels and schemas, and the suggested ones that
//! give node, controller, scheduler, leader-election and workload traffic their own levels.
//!
//! | level | shares | lendable % | queues / hand / length |
//! |---|---|---|---|
//! | exempt | 0 | 0 | — (never limited) |
//! | catch-all | 5 | 0 | — (Reject) |
//! | system | 30 | 33 | 64 / 6 / 50 |
//! | node-high | 40 | 25 | 64 / 6 / 50 |
//! | leader-election | 10 | 0 | 16 / 4 / 50 |
//! | workload-high | 40 | 50 | 128 / 6 / 50 |
//! | workload-low | 100 | 90 | 128 / 6 / 50 |
//! | global-default | 20 | 50 | 128 / 6 / 50 |

use super::config::{
    CATCH_ALL, DistinguisherMethod, DistinguisherType, EXEMPT, ExemptPriorityLevel, FlowSchema,
    FlowSchemaSpec, LimitResponse, LimitResponseType, LimitedPriorityLevel, NamedSubject,
    NonResourcePolicyRule, PolicyRulesWithSubjects, PriorityLevelConfiguration,
    PriorityLevelReference, PriorityLevelSpec, PriorityLevelType, QueuingConfiguration,
    ResourcePolicyRule, ServiceAccountSubject, Subject, SubjectKind,
};

fn level(name: &str, spec: PriorityLevelSpec) -> PriorityLevelConfiguration {
    let mut plc = PriorityLevelConfiguration::default();
    plc.metadata.name = name.to_string();
    plc.spec = spec;
    plc
}

fn limited(
    name: &str,
    shares: i32,
    lendable: i32,
    queuing: Option<(i32, i32, i32)>,
) -> PriorityLevelConfiguration {
    level(
        name,
        PriorityLevelSpec {
            kind: Some(PriorityLevelType::Limited),
            limited: Some(LimitedPriorityLevel {
                nominal_concurrency_shares: Some(shares),
                lendable_percent: Some(lendable),
                borrowing_limit_percent: None,
                limit_response: match queuing {
                    None => LimitResponse {
                        kind: Some(LimitResponseType::Reject),
                        queuing: None,
                    },
                    Some((queues, hand_size, queue_length_limit)) => LimitResponse {
                        kind: Some(LimitResponseType::Queue),
                        queuing: Some(QueuingConfiguration {
                            queues,
                            hand_size,
                            queue_length_limit,
                        }),
                    },
                },
            }),
            exempt: None,
        },
    )
}

/// The bootstrap priority levels: the mandatory two, and the suggested six if `suggested`.
pub fn priority_levels(suggested: bool) -> Vec<PriorityLevelConfiguration> {
    let mut out = vec![
        limited(CATCH_ALL, 5, 0, None),
        level(
            EXEMPT,
            PriorityLevelSpec {
                kind: Some(PriorityLevelType::Exempt),
                limited: None,
                exempt: Some(ExemptPriorityLevel {
                    nominal_concurrency_shares: Some(0),
                    lendable_percent: Some(0),
                }),
            },
        ),
    ];
    if suggested {
        out.extend([
            limited("system", 30, 33, Some((64, 6, 50))),
            limited("node-high", 40, 25, Some((64, 6, 50))),
            limited("leader-election", 10, 0, Some((16, 4, 50))),
            limited("workload-high", 40, 50, Some((128, 6, 50))),
            limited("workload-low", 100, 90, Some((128, 6, 50))),
            limited("global-default", 20, 50, Some((128, 6, 50))),
        ]);
    }
    out
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn groups(names: &[&str]) -> Vec<Subject> {
    names
        .iter()
        .map(|n| Subject {
            kind: SubjectKind::Group,
            user: None,
            group: Some(NamedSubject {
                name: n.to_string(),
            }),
            service_account: None,
        })
        .collect()
}

fn users(names: &[&str]) -> Vec<Subject> {
    names
        .iter()
        .map(|n| Subject {
            kind: SubjectKind::User,
            user: Some(NamedSubject {
                name: n.to_string(),
            }),
            group: None,
            service_account: None,
        })
        .collect()
}

fn kube_system_service_accounts() -> Subject {
    Subject {
        kind: SubjectKind::ServiceAccount,
        user: None,
        group: None,
        service_account: Some(ServiceAccountSubject {
            namespace: "kube-system".into(),
            name: "*".into(),
        }),
    }
}

fn resource_rule(
    verbs: &[&str],
    api_groups: &[&str],
    resources: &[&str],
    cluster_scope: bool,
) -> ResourcePolicyRule {
    ResourcePolicyRule {
        verbs: strings(verbs),
        api_groups: strings(api_groups),
        resources: strings(resources),
        cluster_scope,
        namespaces: strings(&["*"]),
    }
}

/// Everything, resource or not.
fn everything(subjects: Vec<Subject>) -> PolicyRulesWithSubjects {
    PolicyRulesWithSubjects {
        subjects,
        resource_rules: vec![resource_rule(&["*"], &["*"], &["*"], true)],
        non_resource_rules: vec![NonResourcePolicyRule {
            verbs: strings(&["*"]),
            non_resource_urls: strings(&["*"]),
        }],
    }
}

fn schema(
    name: &str,
    level: &str,
    precedence: i32,
    distinguisher: Option<DistinguisherType>,
    rules: Vec<PolicyRulesWithSubjects>,
) -> FlowSchema {
    let mut fs = FlowSchema::default();
    fs.metadata.name = name.to_string();
    fs.spec = FlowSchemaSpec {
        priority_level_configuration: PriorityLevelReference {
            name: level.to_string(),
        },
        matching_precedence: precedence,
        distinguisher_method: distinguisher.map(|kind| DistinguisherMethod { kind }),
        rules,
    };
    fs
}

/// The bootstrap FlowSchemas: the mandatory two, and the suggested nine if `suggested`.
pub fn flow_schemas(suggested: bool) -> Vec<FlowSchema> {
    use DistinguisherType::{ByNamespace, ByUser};
    const KCM: &str = "system:kube-controller-manager";
    const SCHED: &str = "system:kube-scheduler";
    let every_user = || groups(&["system:unauthenticated", "system:authenticated"]);
    let mut out = vec![
        schema(
            EXEMPT,
            EXEMPT,
            1,
            None,
            vec![everything(groups(&["system:masters"]))],
        ),
        schema(
            CATCH_ALL,
            CATCH_ALL,
            10_000,
            Some(ByUser),
            vec![everything(every_user())],
        ),
    ];
    if !suggested {
        return out;
    }
    let mut leader_subjects = users(&[KCM, SCHED]);
    leader_subjects.push(kube_system_service_accounts());
    out.extend([
        schema(
            "system-nodes",
            "system",
            500,
            Some(ByUser),
            vec![everything(groups(&["system:nodes"]))],
        ),
        schema(
            "system-node-high",
            "node-high",
            400,
            Some(ByUser),
            vec![PolicyRulesWithSubjects {
                subjects: groups(&["system:nodes"]),
                resource_rules: vec![
                    resource_rule(&["*"], &[""], &["nodes", "nodes/status"], true),
                    resource_rule(&["*"], &["coordination.k8s.io"], &["leases"], false),
                ],
                non_resource_rules: vec![],
            }],
        ),
        schema(
            "probes",
            EXEMPT,
            2,
            None,
            vec![PolicyRulesWithSubjects {
                subjects: every_user(),
                resource_rules: vec![],
                non_resource_rules: vec![NonResourcePolicyRule {
                    verbs: strings(&["get"]),
                    non_resource_urls: strings(&["/healthz", "/readyz", "/livez"]),
                }],
            }],
        ),
        schema(
            "system-leader-election",
            "leader-election",
            100,
            Some(ByUser),
            vec![PolicyRulesWithSubjects {
                subjects: leader_subjects,
                resource_rules: vec![resource_rule(
                    &["get", "create", "update"],
                    &["coordination.k8s.io"],
                    &["leases"],
                    false,
                )],
                non_resource_rules: vec![],
            }],
        ),
        schema(
            "kube-controller-manager",
            "workload-high",
            800,
            Some(ByNamespace),
            vec![everything(users(&[KCM]))],
        ),
        schema(
            "kube-scheduler",
            "workload-high",
            800,
            Some(ByNamespace),
            vec![everything(users(&[SCHED]))],
        ),
        schema(
            "kube-system-service-accounts",
            "workload-high",
            900,
            Some(ByNamespace),
            vec![everything(vec![kube_system_service_accounts()])],
        ),
        schema(
            "service-accounts",
            "workload-low",
            9000,
            Some(ByUser),
            vec![everything(groups(&["system:serviceaccounts"]))],
        ),
        schema(
            "global-default",
            "global-default",
            9900,
            Some(ByUser),
            vec![everything(every_user())],
        ),
    ]);
    out
}
