//! The clients' side of the wire when the apiserver is modelled: client-go's token-bucket rate
//! limiter and its retries, in one place for every component.
//!
//! Components submit requests and get answers as before; the world passes both through here:
//!
//! * **Sending.** A request's first try waits for a token of its client's bucket
//!   (`client/rate_limiter.rs`) before it leaves — a watch's excepted, as client-go does not
//!   throttle watches. [`ClientLimits`] says which bucket each client gets: the one each
//!   component ships (`client/qps_defaults.rs`) — kube-scheduler 50 QPS / burst 100, each of
//!   kube-controller-manager's clients 20 / 30 (its shared informers' client and, with
//!   `--use-service-account-credentials`, one per controller, each its own bucket), each
//!   kubelet 50 / 100, each kube-proxy 5 / 10 — unless the scenario sets it under the
//!   component's own names (`clientConnection.qps`, `kubeAPIQPS`, `--kube-api-qps`, …); each
//!   client population's (`spec.clients`); the scenario's user (kubectl) is not limited;
//!   any other client has client-go's own 5 / 10.
//! * **Answers.** A 429 or 5xx carrying a `Retry-After` is not handed to the component: the
//!   same request is sent again under the same id once the `Retry-After` has passed and the
//!   bucket has a token (`client/retry.rs`), at most 10 times; the answer after that, whatever
//!   it is, goes to the component, which sees one answer under the id it sent.
//!
//! * **Counts.** Every answer is counted by client group, verb and status, each try (a
//!   retried 429 too), and the retried ones apart: the report's requests by client
//!   population, components included.
//!
//! On the ideal path there is no transport: requests leave at once and every answer is
//! delivered, as before.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use super::{
    CONTROLLER_MANAGER_CLIENT, CONTROLLER_MANAGER_LEADER_ELECTION_CLIENT, DEPLOYMENT_CLIENT,
    DISRUPTION_CLIENT, ENDPOINTSLICE_CLIENT, GARBAGE_COLLECTOR_CLIENT, HPA_CLIENT, KUBECTL_CLIENT,
    NODE_LIFECYCLE_CLIENT, REPLICASET_CLIENT, SCHEDULER_CLIENT, SCHEDULER_LEADER_ELECTION_CLIENT,
    TAINT_EVICTION_CLIENT,
};
use crate::apiserver::ConnectionFailure;
use crate::apiserver::{ApiOutput, ApiServer, ClientId, RequestId, Response, ResponseBody, Verb};
use crate::client::qps_defaults::{self, ClientConnectionDefaults};
use crate::client::rate_limiter::ClientRateLimit;
use crate::client::retry::{
    Answer, RequestKind, RequestRetry, RetryDecision, RetryPolicy, TransportFailure,
};
use crate::config::ClientConnection;
use crate::kube_proxy::KUBE_PROXY_CLIENT_BASE;
use crate::kubelet::KUBELET_CLIENT_BASE;
use crate::populations;
use crate::scenario::Scenario;
use crate::sim::SimTime;

/// The clients of kube-controller-manager: its shared informers', each controller's and its
/// leader election's.
const CONTROLLER_CLIENTS: [ClientId; 10] = [
    CONTROLLER_MANAGER_CLIENT,
    REPLICASET_CLIENT,
    DEPLOYMENT_CLIENT,
    ENDPOINTSLICE_CLIENT,
    GARBAGE_COLLECTOR_CLIENT,
    DISRUPTION_CLIENT,
    NODE_LIFECYCLE_CLIENT,
    TAINT_EVICTION_CLIENT,
    HPA_CLIENT,
    CONTROLLER_MANAGER_LEADER_ELECTION_CLIENT,
];

/// The most per-node agents of one kind: kubelets take `100_000 …` and kube-proxies
/// `200_000 …`, a range of this size each.
const PER_NODE_RANGE: u32 = 100_000;

/// The clients of one component or population, and the token bucket each of them gets (a
/// bucket of its own per client, as each process builds its own clientset).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientGroup {
    /// The group's name in reports: the component's binary name (`kubelet`), `kubectl`, or
    /// the population's name.
    pub name: String,
    /// Its client ids, as ranges.
    pub clients: Vec<RangeInclusive<u32>>,
    /// The limiter each of its clients starts with.
    pub limit: ClientRateLimit,
}

impl ClientGroup {
    fn has(&self, client: ClientId) -> bool {
        self.clients.iter().any(|r| r.contains(&client.0))
    }
}

/// Which token bucket each client of a run gets: the groups of clients (each component's, the
/// scenario's user's, each client population's) with the limit each group runs with; a client
/// in no group has client-go's own 5 QPS / burst 10.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientLimits {
    groups: Vec<ClientGroup>,
}

impl Default for ClientLimits {
    /// Every component's bucket as it ships.
    fn default() -> Self {
        ClientLimits::of_components(&ComponentConnections::default())
    }
}

/// What a scenario writes of each component's client connection (`None` of a field: unset).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ComponentConnections {
    /// kube-scheduler's `clientConnection`.
    pub kube_scheduler: ClientConnection,
    /// kube-controller-manager's `--kube-api-qps` / `--kube-api-burst`.
    pub kube_controller_manager: ClientConnection,
    /// The kubelets' `kubeAPIQPS` / `kubeAPIBurst`.
    pub kubelet: ClientConnection,
    /// The kube-proxies' `clientConnection`.
    pub kube_proxy: ClientConnection,
}

impl ComponentConnections {
    /// What `scenario` writes.
    pub fn of(scenario: &Scenario) -> Self {
        ComponentConnections {
            kube_scheduler: scenario.scheduler.config.client_connection,
            kube_controller_manager: scenario.controller_manager.kube_api,
            kubelet: scenario.kubelet.kube_api,
            kube_proxy: scenario.kube_proxy.client_connection,
        }
    }
}

impl ClientLimits {
    /// The components' groups with `written` over their shipped numbers. The scenario loader
    /// has checked every value; one that does not make a limiter (only a hand-made scenario
    /// can hold one) leaves the shipped numbers.
    pub fn of_components(written: &ComponentConnections) -> Self {
        let limit = |defaults: &ClientConnectionDefaults, written: ClientConnection| {
            defaults
                .checked_rate_limit(written)
                .or_else(|_| defaults.rate_limit(None, None))
                .unwrap_or(ClientRateLimit::Unlimited)
        };
        let ids = |clients: &[ClientId]| clients.iter().map(|c| c.0..=c.0).collect();
        let per_node = |base: u32| vec![base..=base + (PER_NODE_RANGE - 1)];
        let group = |name: &str, clients, limit| ClientGroup {
            name: name.to_string(),
            clients,
            limit,
        };
        ClientLimits {
            groups: vec![
                group(
                    "kubectl",
                    ids(&[KUBECTL_CLIENT]),
                    ClientRateLimit::Unlimited,
                ),
                group(
                    qps_defaults::KUBE_SCHEDULER.component,
                    ids(&[SCHEDULER_CLIENT, SCHEDULER_LEADER_ELECTION_CLIENT]),
                    limit(&qps_defaults::KUBE_SCHEDULER, written.kube_scheduler),
                ),
                group(
                    qps_defaults::KUBE_CONTROLLER_MANAGER.component,
                    ids(&CONTROLLER_CLIENTS),
                    limit(
                        &qps_defaults::KUBE_CONTROLLER_MANAGER,
                        written.kube_controller_manager,
                    ),
                ),
                group(
                    qps_defaults::KUBELET.component,
                    per_node(KUBELET_CLIENT_BASE),
                    limit(&qps_defaults::KUBELET, written.kubelet),
                ),
                group(
                    qps_defaults::KUBE_PROXY.component,
                    per_node(KUBE_PROXY_CLIENT_BASE),
                    limit(&qps_defaults::KUBE_PROXY, written.kube_proxy),
                ),
            ],
        }
    }

    /// Every group of a run of `scenario`: its components' with what it writes of their
    /// client connections, then each client population's (`spec.clients`) with its `qps` /
    /// `burst` as client-go makes a clientset's limiter of them.
    pub fn of(scenario: &Scenario) -> Self {
        let mut limits = ClientLimits::of_components(&ComponentConnections::of(scenario));
        for (k, population) in scenario.clients.iter().enumerate() {
            limits.push(ClientGroup {
                name: population.name.clone(),
                clients: vec![populations::client_range(k)],
                // The loader checked that these make a limiter.
                limit: ClientRateLimit::from_rest_config(population.qps, population.burst)
                    .unwrap_or(ClientRateLimit::Unlimited),
            });
        }
        limits
    }

    /// Adds a group (a client population's); its clients must be in no other group.
    pub fn push(&mut self, group: ClientGroup) {
        self.groups.push(group);
    }

    /// The groups, in the order they were made.
    pub fn groups(&self) -> &[ClientGroup] {
        &self.groups
    }

    /// The place of `client`'s group, if it is in one.
    pub fn group_of(&self, client: ClientId) -> Option<usize> {
        self.groups.iter().position(|g| g.has(client))
    }

    /// The limiter `client` starts with.
    pub fn limit_of(&self, client: ClientId) -> ClientRateLimit {
        match self.group_of(client) {
            Some(g) => self.groups[g].limit.clone(),
            None => qps_defaults::REST_CONFIG
                .rate_limit(None, None)
                .unwrap_or(ClientRateLimit::Unlimited),
        }
    }
}

/// The counts of `group`, by verb and status.
fn of_group(
    counts: &BTreeMap<(usize, Verb, u16), u64>,
    group: usize,
) -> BTreeMap<(Verb, u16), u64> {
    counts
        .range((group, Verb::Get, 0)..=(group, Verb::Delete, u16::MAX))
        .map(|(&(_, verb, status), &n)| ((verb, status), n))
        .collect()
}

/// What the world does with an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Hand it to the component.
    Deliver,
    /// Swallowed: the request is sent again.
    Retried,
}

/// A request on its way, between its first try and the answer its component gets.
#[derive(Clone, Copy, Debug)]
struct Sending {
    retry: RequestRetry,
    verb: Verb,
}

/// Every client's rate limiter and every request's retries.
#[derive(Debug, Default)]
pub struct Transport {
    /// Which limiter each client starts with.
    limits: ClientLimits,
    limiters: BTreeMap<ClientId, ClientRateLimit>,
    sending: BTreeMap<RequestId, Sending>,
    policy: RetryPolicy,
    /// Retries made, by status retried.
    retries: BTreeMap<u16, u64>,
    /// Requests whose last retry was refused too, answered with the error.
    exhausted: u64,
    /// Answers sent again, by client group (its place in `limits`), verb and status.
    retried_by_group: BTreeMap<(usize, Verb, u16), u64>,
    /// Every answer, each try counted, by client group, verb and status.
    answers_by_group: BTreeMap<(usize, Verb, u16), u64>,
    /// The clients that got an answer.
    answered_clients: BTreeSet<ClientId>,
    /// Every answer and the 429s of each client group (its place in `limits`), kept as the
    /// answers come so that a sample reads them without summing `answers_by_group`.
    totals_by_group: Vec<GroupTotals>,
}

/// What a client group was answered so far, each try counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupTotals {
    /// Every answer.
    pub requests: u64,
    /// Of which 429 Too Many Requests.
    pub rejected: u64,
}

impl Transport {
    /// A transport whose clients start with the limiters `limits` gives them.
    pub fn new(limits: ClientLimits) -> Self {
        Transport {
            limits,
            ..Transport::default()
        }
    }

    /// Which limiter each client starts with.
    pub fn limits(&self) -> &ClientLimits {
        &self.limits
    }

    /// Retries made so far, by the status they retried.
    pub fn retries(&self) -> &BTreeMap<u16, u64> {
        &self.retries
    }

    /// Requests given up after their last retry.
    pub fn exhausted(&self) -> u64 {
        self.exhausted
    }

    /// What the clients of group `group` (its place in [`ClientLimits::groups`]) were
    /// answered, each try counted, by verb and status.
    pub fn answers(&self, group: usize) -> BTreeMap<(Verb, u16), u64> {
        of_group(&self.answers_by_group, group)
    }

    /// Of [`Transport::answers`], those client-go sent again (a 429 or 5xx with a
    /// Retry-After, which the component never sees), by verb and status.
    pub fn retried(&self, group: usize) -> BTreeMap<(Verb, u16), u64> {
        of_group(&self.retried_by_group, group)
    }

    /// What the clients of group `group` were answered so far, each try counted.
    pub fn totals(&self, group: usize) -> GroupTotals {
        self.totals_by_group.get(group).copied().unwrap_or_default()
    }

    /// How many clients of group `group` got an answer.
    pub fn clients_answered(&self, group: usize) -> usize {
        self.answered_clients
            .iter()
            .filter(|&&c| self.limits.group_of(c) == Some(group))
            .count()
    }

    /// Takes a token of `client`'s bucket for a request ready at `now`: when it may go.
    fn reserve(&mut self, client: ClientId, now: SimTime) -> SimTime {
        let limits = &self.limits;
        let limiter = self
            .limiters
            .entry(client)
            .or_insert_with(|| limits.limit_of(client));
        limiter.reserve(now)
    }

    /// Request `id`, sent at `now`, was to arrive at `at`: when it arrives once its client's
    /// limiter has let it go. A retry (a request already on its way) took its token when the
    /// retry was decided, so it passes unchanged.
    pub fn on_send(
        &mut self,
        id: RequestId,
        at: SimTime,
        now: SimTime,
        api: &ApiServer,
    ) -> SimTime {
        if self.sending.contains_key(&id) {
            return at;
        }
        let Some((client, verb)) = api.pending_request(id).map(|r| (r.client, r.verb)) else {
            return at;
        };
        let kind = match verb {
            Verb::Watch => RequestKind::Watch,
            Verb::Get | Verb::List => RequestKind::Get,
            _ => RequestKind::Write,
        };
        self.sending.insert(
            id,
            Sending {
                retry: self.policy.start(kind),
                verb,
            },
        );
        if !kind.first_try_is_throttled() {
            return at;
        }
        // A request may be sent later than it was submitted (a reflector's after its backoff):
        // its token is taken when it leaves.
        let latency = api.config().admission_latency;
        let sent = now.max(SimTime::ZERO + at.saturating_since(SimTime::ZERO + latency));
        let goes = self.reserve(client, sent);
        at + goes.saturating_since(sent)
    }

    /// `client`'s request `id` was answered `response` at `now`: whether the component gets it,
    /// or the request is sent again (through `api`, its outputs into `out`).
    pub fn on_answer(
        &mut self,
        client: ClientId,
        id: RequestId,
        response: &Response,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) -> Delivery {
        // Whatever is not sent again is final: the hub need not keep a refused request.
        let Some(mut sending) = self.sending.remove(&id) else {
            api.abandon(id);
            return Delivery::Deliver;
        };
        let group = self.limits.group_of(client);
        if let Some(group) = group {
            let status = match response {
                Ok(ResponseBody::Object(_)) if sending.verb == Verb::Create => 201,
                Ok(_) => 200,
                Err(e) => e.code(),
            };
            *self
                .answers_by_group
                .entry((group, sending.verb, status))
                .or_insert(0) += 1;
            if self.totals_by_group.len() <= group {
                self.totals_by_group
                    .resize(group + 1, GroupTotals::default());
            }
            let totals = &mut self.totals_by_group[group];
            totals.requests += 1;
            totals.rejected += u64::from(status == 429);
            self.answered_clients.insert(client);
        }
        let Err(error) = response else {
            return Delivery::Deliver;
        };
        let retry_after_seconds = match error {
            crate::apiserver::ApiError::TooManyRequests {
                retry_after_seconds,
                ..
            } if *retry_after_seconds > 0 => Some(i64::from(*retry_after_seconds)),
            _ => None,
        };
        let answer = match error {
            crate::apiserver::ApiError::Connection(ConnectionFailure::Reset) => {
                Answer::Transport(TransportFailure::Reset)
            }
            crate::apiserver::ApiError::Connection(ConnectionFailure::Refused) => {
                Answer::Transport(TransportFailure::Other)
            }
            _ => Answer::Status {
                code: error.code(),
                retry_after_seconds,
            },
        };
        match sending.retry.on_failure(answer, now) {
            RetryDecision::Retry(retry) if api.can_resend(id) => {
                let goes = self.reserve(client, retry.at);
                // `can_resend` held, so the hub sends it.
                if api.resend(id, goes, out) {
                    *self.retries.entry(retry.status).or_insert(0) += 1;
                    if let Some(group) = group {
                        *self
                            .retried_by_group
                            .entry((group, sending.verb, retry.status))
                            .or_insert(0) += 1;
                    }
                    self.sending.insert(id, sending);
                    return Delivery::Retried;
                }
                Delivery::Deliver
            }
            RetryDecision::Retry(_) => {
                api.abandon(id);
                Delivery::Deliver
            }
            RetryDecision::GiveUp(give_up) => {
                if matches!(
                    give_up,
                    crate::client::retry::GiveUp::RetriesExhausted { .. }
                ) {
                    self.exhausted += 1;
                }
                api.abandon(id);
                Delivery::Deliver
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::rate_limiter::TokenBucket;

    /// The (qps, burst) of the bucket `client` starts with; None: not limited.
    fn bucket(limits: &ClientLimits, client: ClientId) -> Option<(f64, u32)> {
        match limits.limit_of(client) {
            ClientRateLimit::Bucket(b) => Some((b.qps(), b.burst())),
            ClientRateLimit::Unlimited => None,
        }
    }

    #[test]
    fn each_component_gets_its_shipped_bucket() {
        let limits = ClientLimits::default();
        let of = |c: ClientId| bucket(&limits, c);
        assert_eq!(of(KUBECTL_CLIENT), None);
        assert_eq!(of(SCHEDULER_CLIENT), Some((50.0, 100)));
        assert_eq!(of(REPLICASET_CLIENT), Some((20.0, 30)));
        assert_eq!(of(CONTROLLER_MANAGER_CLIENT), Some((20.0, 30)));
        assert_eq!(of(ClientId(KUBELET_CLIENT_BASE + 7)), Some((50.0, 100)));
        assert_eq!(of(ClientId(KUBE_PROXY_CLIENT_BASE + 7)), Some((5.0, 10)));
        // Any other client: client-go's own bucket.
        assert_eq!(of(ClientId(42)), Some((5.0, 10)));
        assert_eq!(
            of(ClientId(KUBE_PROXY_CLIENT_BASE + PER_NODE_RANGE)),
            Some((5.0, 10))
        );
        let names: Vec<&str> = limits.groups().iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "kubectl",
                "kube-scheduler",
                "kube-controller-manager",
                "kubelet",
                "kube-proxy"
            ]
        );
    }

    #[test]
    fn written_settings_replace_the_shipped_numbers() {
        let written = ComponentConnections {
            // clientConnection: {qps: 200, burst: 0}: the burst stays kube-scheduler's 100.
            kube_scheduler: ClientConnection {
                qps: Some(200.0),
                burst: Some(0),
            },
            // --kube-api-qps=-1: no limit.
            kube_controller_manager: ClientConnection {
                qps: Some(-1.0),
                burst: None,
            },
            // kubeAPIQPS: 0 written out reaches client-go: 5 QPS, with the kubelet's burst.
            kubelet: ClientConnection {
                qps: Some(0.0),
                burst: None,
            },
            kube_proxy: ClientConnection {
                qps: Some(7.0),
                burst: Some(3),
            },
        };
        let limits = ClientLimits::of_components(&written);
        assert_eq!(bucket(&limits, SCHEDULER_CLIENT), Some((200.0, 100)));
        assert_eq!(bucket(&limits, DEPLOYMENT_CLIENT), None);
        assert_eq!(
            bucket(&limits, ClientId(KUBELET_CLIENT_BASE)),
            Some((5.0, 100))
        );
        assert_eq!(
            bucket(&limits, ClientId(KUBE_PROXY_CLIENT_BASE + 3)),
            Some((7.0, 3))
        );
        assert_eq!(bucket(&limits, KUBECTL_CLIENT), None);
    }

    #[test]
    fn a_pushed_group_is_found_by_its_clients() {
        let mut limits = ClientLimits::default();
        let limit = ClientRateLimit::Bucket(TokenBucket::new(1.0, 2).expect("a bucket"));
        limits.push(ClientGroup {
            name: "agents".into(),
            clients: vec![1_000_000..=1_000_002],
            limit,
        });
        assert_eq!(limits.group_of(ClientId(1_000_002)), Some(5));
        assert_eq!(bucket(&limits, ClientId(1_000_001)), Some((1.0, 2)));
        assert_eq!(limits.group_of(ClientId(1_000_003)), None);
    }
}
