//! Classification (upstream `util/flowcontrol/rule.go` and the flow part of
//! `apf_controller.go`): the first FlowSchema in matching order whose rules match a request
//! picks its priority level; the schema's distinguisher and name make the flow, and the flow's
//! hash picks its queues.
//!
//! Matching is upstream's, including its corners: a list of verbs, groups, resources or
//! namespaces matches everything only when it is exactly `["*"]`; a subresource is matched as
//! `resource/subresource`; a namespaced request needs its namespace listed, a cluster-scoped one
//! needs `clusterScope`; a non-resource path rule `/foo` or `/foo/*` also matches `/foo/…`.

use sha2::{Digest, Sha256};

use super::RequestDigest;
use super::config::{
    DistinguisherType, NonResourcePolicyRule, PolicyRulesWithSubjects, ResolvedSchema,
    ResourcePolicyRule, Subject, SubjectKind,
};
use crate::apiserver::UserInfo;

const WILDCARD: &str = "*";
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// Index of the first schema (in matching order) that matches `digest`, if any.
pub fn classify(schemas: &[ResolvedSchema], digest: &RequestDigest<'_>) -> Option<usize> {
    schemas
        .iter()
        .position(|fs| fs.rules.iter().any(|rule| matches_rule(digest, rule)))
}

fn matches_rule(digest: &RequestDigest<'_>, rule: &PolicyRulesWithSubjects) -> bool {
    if !rule
        .subjects
        .iter()
        .any(|s| matches_subject(digest.user, s))
    {
        return false;
    }
    if digest.resource_request {
        rule.resource_rules
            .iter()
            .any(|r| matches_resource_rule(digest, r))
    } else {
        rule.non_resource_rules
            .iter()
            .any(|r| matches_non_resource_rule(digest, r))
    }
}

/// Whether `subject` names `user` (a user, one of its groups, or its service account).
pub fn matches_subject(user: &UserInfo, subject: &Subject) -> bool {
    match subject.kind {
        SubjectKind::User => subject
            .user
            .as_ref()
            .is_some_and(|u| u.name == WILDCARD || u.name == user.name),
        SubjectKind::Group => subject
            .group
            .as_ref()
            .is_some_and(|g| g.name == WILDCARD || user.groups.contains(&g.name)),
        SubjectKind::ServiceAccount => subject.service_account.as_ref().is_some_and(|sa| {
            let Some(rest) = user.name.strip_prefix(SERVICE_ACCOUNT_PREFIX) else {
                return false;
            };
            let Some(rest) = rest.strip_prefix(sa.namespace.as_str()) else {
                return false;
            };
            let Some(account) = rest.strip_prefix(':') else {
                return false;
            };
            sa.name == WILDCARD || account == sa.name
        }),
    }
}

/// `x` is in `list`, or `list` is exactly the wildcard.
fn contains(list: &[String], x: &str) -> bool {
    (list.len() == 1 && list[0] == WILDCARD) || list.iter().any(|y| y == x)
}

fn matches_resource_rule(digest: &RequestDigest<'_>, rule: &ResourcePolicyRule) -> bool {
    if !contains(&rule.verbs, digest.verb.name()) {
        return false;
    }
    let resource_matches = if digest.subresource.is_empty() {
        contains(&rule.resources, digest.resource)
    } else {
        (rule.resources.len() == 1 && rule.resources[0] == WILDCARD)
            || rule.resources.iter().any(|r| {
                r.strip_prefix(digest.resource)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .is_some_and(|sub| sub == digest.subresource)
            })
    };
    if !resource_matches || !contains(&rule.api_groups, digest.api_group) {
        return false;
    }
    if digest.namespace.is_empty() {
        rule.cluster_scope
    } else {
        contains(&rule.namespaces, digest.namespace)
    }
}

fn matches_non_resource_rule(digest: &RequestDigest<'_>, rule: &NonResourcePolicyRule) -> bool {
    if !contains(&rule.verbs, digest.verb.name()) {
        return false;
    }
    rule.non_resource_urls.iter().any(|url| {
        if url == WILDCARD || url == digest.path {
            return true;
        }
        // `/foo` and `/foo/*` both cover the subtree `/foo/…`.
        let prefix = url.strip_suffix('*').unwrap_or(url);
        if prefix.ends_with('/') {
            digest.path.starts_with(prefix)
        } else {
            digest
                .path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
        }
    })
}

/// The flow distinguisher of a request under a schema's method: the user name, the
/// namespace, or nothing.
pub fn distinguisher<'a>(method: Option<DistinguisherType>, digest: &RequestDigest<'a>) -> &'a str {
    match method {
        None => "",
        Some(DistinguisherType::ByUser) => digest.user.name.as_str(),
        Some(DistinguisherType::ByNamespace) => digest.namespace,
    }
}

/// The flow's hash: the first 8 bytes, little-endian, of SHA-256(schema name ‖ 0x00 ‖
/// distinguisher) — upstream's `hashFlowID`, so a flow lands in the same queues as upstream.
pub fn flow_hash(schema: &str, distinguisher: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(schema.as_bytes());
    h.update([0u8]);
    h.update(distinguisher.as_bytes());
    let sum = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&sum[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::Verb;
    use crate::apiserver::flowcontrol::WorkInputs;
    use crate::apiserver::flowcontrol::bootstrap;
    use crate::apiserver::flowcontrol::config::{resolve, with_bootstrap};

    fn schemas() -> Vec<ResolvedSchema> {
        let (l, s) = with_bootstrap(&[], &[], true);
        resolve(&l, &s).unwrap().schemas
    }

    fn digest<'a>(
        user: &'a UserInfo,
        verb: Verb,
        group: &'a str,
        resource: &'a str,
        sub: &'a str,
        ns: &'a str,
    ) -> RequestDigest<'a> {
        RequestDigest {
            user,
            verb,
            resource_request: true,
            api_group: group,
            resource,
            subresource: sub,
            namespace: ns,
            name: "",
            path: "",
            work: WorkInputs::default(),
        }
    }

    fn schema_of(d: &RequestDigest<'_>) -> String {
        let all = schemas();
        all[classify(&all, d).unwrap()].name.clone()
    }

    #[test]
    fn default_schemas_route_the_usual_clients() {
        assert_eq!(bootstrap::flow_schemas(true).len(), 11);
        let kubelet = UserInfo::new("system:node:n1", &["system:nodes", "system:authenticated"]);
        // A kubelet's node status write: system-node-high (400) before system-nodes (500).
        assert_eq!(
            schema_of(&digest(&kubelet, Verb::Patch, "", "nodes", "status", "")),
            "system-node-high"
        );
        // Its lease renewal in kube-node-lease: system-node-high's namespaced leases rule.
        assert_eq!(
            schema_of(&digest(
                &kubelet,
                Verb::Update,
                "coordination.k8s.io",
                "leases",
                "",
                "kube-node-lease"
            )),
            "system-node-high"
        );
        // Its pod status write: system-nodes.
        assert_eq!(
            schema_of(&digest(
                &kubelet,
                Verb::Patch,
                "",
                "pods",
                "status",
                "default"
            )),
            "system-nodes"
        );
        let sched = UserInfo::new("system:kube-scheduler", &["system:authenticated"]);
        assert_eq!(
            schema_of(&digest(
                &sched,
                Verb::Update,
                "coordination.k8s.io",
                "leases",
                "",
                "kube-system"
            )),
            "system-leader-election"
        );
        assert_eq!(
            schema_of(&digest(
                &sched,
                Verb::Create,
                "",
                "pods",
                "binding",
                "default"
            )),
            "kube-scheduler"
        );
        let rs = UserInfo::kube_system_service_account("replicaset-controller");
        assert_eq!(
            schema_of(&digest(&rs, Verb::Create, "", "pods", "", "default")),
            "kube-system-service-accounts"
        );
        let app = UserInfo::new(
            "system:serviceaccount:monitoring:prometheus",
            &["system:serviceaccounts", "system:authenticated"],
        );
        assert_eq!(
            schema_of(&digest(&app, Verb::List, "", "pods", "", "")),
            "service-accounts"
        );
        let admin = UserInfo::new("admin", &["system:masters", "system:authenticated"]);
        assert_eq!(
            schema_of(&digest(
                &admin,
                Verb::Delete,
                "apps",
                "deployments",
                "",
                "x"
            )),
            "exempt"
        );
        let alice = UserInfo::new("alice", &["system:authenticated"]);
        assert_eq!(
            schema_of(&digest(&alice, Verb::Get, "", "pods", "", "x")),
            "global-default"
        );
        let mut probe = digest(&alice, Verb::Get, "", "", "", "");
        probe.resource_request = false;
        probe.path = "/readyz";
        assert_eq!(schema_of(&probe), "probes");
        probe.path = "/readyz/etcd";
        assert_eq!(schema_of(&probe), "probes");
        probe.path = "/metrics";
        assert_eq!(schema_of(&probe), "global-default");
        // A user in no group matches nothing but a schema naming them.
        let nobody = UserInfo::new("nobody", &[]);
        assert_eq!(
            classify(&schemas(), &digest(&nobody, Verb::Get, "", "pods", "", "x")),
            None
        );
    }

    #[test]
    fn service_account_subjects_need_the_namespace_boundary() {
        let sa = Subject {
            kind: SubjectKind::ServiceAccount,
            user: None,
            group: None,
            service_account: Some(
                crate::apiserver::flowcontrol::config::ServiceAccountSubject {
                    namespace: "kube".into(),
                    name: "*".into(),
                },
            ),
        };
        // "kube-system" starts with "kube" but the next character is not the separator.
        let ks = UserInfo::kube_system_service_account("x");
        assert!(!matches_subject(&ks, &sa));
        let k = UserInfo::new("system:serviceaccount:kube:x", &[]);
        assert!(matches_subject(&k, &sa));
    }

    #[test]
    fn flow_hash_is_sha256_of_name_nul_distinguisher() {
        // Empty name and distinguisher hash the single byte 0x00, whose SHA-256 is
        // 6e340b9c ffb37a98 9ca544e6 …; its first 8 bytes read little-endian are
        // 0x987ab3ff_9c0b346e.
        assert_eq!(flow_hash("", ""), 0x987a_b3ff_9c0b_346e);
        // The separator matters: ("ab", "") and ("a", "b") are different flows.
        assert_ne!(flow_hash("ab", ""), flow_hash("a", "b"));
    }

    #[test]
    fn a_flows_hand_of_queues() {
        use crate::apiserver::flowcontrol::shuffle_shard::{Dealer, MAX_HAND_SIZE};
        // alice under global-default: SHA-256("global-default\0alice") begins b7 f6 cd 2c d4
        // 3b de f4 (computed independently), so the hash is 0xf4de3bd4_2ccdf6b7 =
        // 17,644,606,172,554,983,095. global-default has 128 queues and hands of 6; dividing
        // by 128, 127, 126, 125, 124, 123 in turn leaves the digits 55, 61, 124, 123, 103, 1,
        // which skip the cards already dealt: 55; 61 → 62; 124 → 126; 123 → 125; 103 → 105; 1.
        let hash = flow_hash("global-default", "alice");
        assert_eq!(hash, 0xf4de_3bd4_2ccd_f6b7);
        let mut hand = [0; MAX_HAND_SIZE];
        let n = Dealer::new(128, 6).unwrap().deal(hash, &mut hand);
        assert_eq!(&hand[..n], &[55, 62, 126, 125, 105, 1]);
    }
}
