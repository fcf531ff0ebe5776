//! The clients' side of the wire when the apiserver is modelled: client-go's token-bucket rate
//! limiter and its retries, in one place for every component.
//!
//! Components submit requests and get answers as before; the world passes both through here:
//!
//! * **Sending.** A request's first try waits for a token of its client's bucket
//!   (`client/rate_limiter.rs`) before it leaves — a watch's excepted, as client-go does not
//!   throttle watches. The bucket is the one each component ships
//!   (`client/qps_defaults.rs`): kube-scheduler 50 QPS / burst 100, each of
//!   kube-controller-manager's clients 20 / 30 (its shared informers' client and, with
//!   `--use-service-account-credentials`, one per controller, each its own bucket), each
//!   kubelet 50 / 100, each kube-proxy 5 / 10; the scenario's user (kubectl) is not limited;
//!   any other client has client-go's own 5 / 10.
//! * **Answers.** A 429 or 5xx carrying a `Retry-After` is not handed to the component: the
//!   same request is sent again under the same id once the `Retry-After` has passed and the
//!   bucket has a token (`client/retry.rs`), at most 10 times; the answer after that, whatever
//!   it is, goes to the component, which sees one answer under the id it sent.
//!
//! On the ideal path there is no transport: requests leave at once and every answer is
//! delivered, as before.

use std::collections::BTreeMap;

use super::{
    CONTROLLER_MANAGER_CLIENT, DEPLOYMENT_CLIENT, DISRUPTION_CLIENT, ENDPOINTSLICE_CLIENT,
    GARBAGE_COLLECTOR_CLIENT, KUBECTL_CLIENT, NODE_LIFECYCLE_CLIENT, REPLICASET_CLIENT,
    SCHEDULER_CLIENT, TAINT_EVICTION_CLIENT,
};
use crate::apiserver::ConnectionFailure;
use crate::apiserver::{ApiOutput, ApiServer, ClientId, RequestId, Response, Verb};
use crate::client::qps_defaults::{self, ClientConnectionDefaults};
use crate::client::rate_limiter::ClientRateLimit;
use crate::client::retry::{
    Answer, RequestKind, RequestRetry, RetryDecision, RetryPolicy, TransportFailure,
};
use crate::kube_proxy::KUBE_PROXY_CLIENT_BASE;
use crate::kubelet::KUBELET_CLIENT_BASE;
use crate::sim::SimTime;

/// The clients of kube-controller-manager: its shared informers' and each controller's.
const CONTROLLER_CLIENTS: [ClientId; 8] = [
    CONTROLLER_MANAGER_CLIENT,
    REPLICASET_CLIENT,
    DEPLOYMENT_CLIENT,
    ENDPOINTSLICE_CLIENT,
    GARBAGE_COLLECTOR_CLIENT,
    DISRUPTION_CLIENT,
    NODE_LIFECYCLE_CLIENT,
    TAINT_EVICTION_CLIENT,
];

/// The shipped rate limit of `client`'s component; `None`: not limited.
fn shipped_limit(client: ClientId) -> Option<ClientConnectionDefaults> {
    if client == KUBECTL_CLIENT {
        return None;
    }
    Some(if client == SCHEDULER_CLIENT {
        qps_defaults::KUBE_SCHEDULER
    } else if CONTROLLER_CLIENTS.contains(&client) {
        qps_defaults::KUBE_CONTROLLER_MANAGER
    } else if client.0 >= KUBE_PROXY_CLIENT_BASE {
        qps_defaults::KUBE_PROXY
    } else if client.0 >= KUBELET_CLIENT_BASE {
        qps_defaults::KUBELET
    } else {
        qps_defaults::REST_CONFIG
    })
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
}

/// Every client's rate limiter and every request's retries.
#[derive(Debug, Default)]
pub struct Transport {
    limiters: BTreeMap<ClientId, ClientRateLimit>,
    sending: BTreeMap<RequestId, Sending>,
    policy: RetryPolicy,
    /// Retries made, by status retried.
    retries: BTreeMap<u16, u64>,
    /// Requests whose last retry was refused too, answered with the error.
    exhausted: u64,
}

impl Transport {
    /// Retries made so far, by the status they retried.
    pub fn retries(&self) -> &BTreeMap<u16, u64> {
        &self.retries
    }

    /// Requests given up after their last retry.
    pub fn exhausted(&self) -> u64 {
        self.exhausted
    }

    /// Takes a token of `client`'s bucket for a request ready at `now`: when it may go.
    fn reserve(&mut self, client: ClientId, now: SimTime) -> SimTime {
        let limiter = self.limiters.entry(client).or_insert_with(|| {
            shipped_limit(client)
                .and_then(|d| d.rate_limit(None, None).ok())
                .unwrap_or(ClientRateLimit::Unlimited)
        });
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

    #[test]
    fn each_component_gets_its_shipped_bucket() {
        let of = |c: ClientId| shipped_limit(c).map(|d| (d.component, d.qps, d.burst));
        assert_eq!(of(KUBECTL_CLIENT), None);
        assert_eq!(of(SCHEDULER_CLIENT), Some(("kube-scheduler", 50.0, 100)));
        assert_eq!(
            of(REPLICASET_CLIENT),
            Some(("kube-controller-manager", 20.0, 30))
        );
        assert_eq!(
            of(CONTROLLER_MANAGER_CLIENT),
            Some(("kube-controller-manager", 20.0, 30))
        );
        assert_eq!(
            of(ClientId(KUBELET_CLIENT_BASE + 7)),
            Some(("kubelet", 50.0, 100))
        );
        assert_eq!(
            of(ClientId(KUBE_PROXY_CLIENT_BASE + 7)),
            Some(("kube-proxy", 5.0, 10))
        );
        assert_eq!(of(ClientId(42)), Some(("client-go", 5.0, 10)));
    }
}
