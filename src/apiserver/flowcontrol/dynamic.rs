//! Dynamic Retry-After with multi-level client priority: the fix a large operator put in front
//! of its apiservers after restart storms, modelled as kubesim's third flow-control mode (it is
//! not upstream Kubernetes; its parameters are kubesim's, all overridable).
//!
//! Two ideas. *Multi-level flow control*: clients fall into ordered levels — core control-plane
//! components before kubelets before workloads before monitoring — and a level may only spend
//! the server's capacity while enough is left: each level keeps a reserve, a share of the
//! token bucket below which its requests are refused, so under load monitoring goes first and
//! the control plane last. *Retry-After from a token bucket*: instead of upstream's constant or
//! slowly adapting value, a 429 tells the client to come back sooner the more capacity is left:
//! tokens left ≥ 50 % ⇒ 1 s, ≥ 25 % ⇒ 2 s, ≥ 12.5 % ⇒ 4 s, else 8 s.
//!
//! The bucket holds `bucketSize` tokens and refills at `refillPerSecond`; an admitted request
//! spends its estimated seats (the work estimate APF would give it; so a big LIST costs more
//! than a GET). Besides the bucket, at most the server's concurrency limit of seats execute at
//! once. Tokens are kept in nano-tokens, so the refill is exact in integer virtual time.

use super::classify::matches_subject;
use super::config::{NamedSubject, ServiceAccountSubject, Subject, SubjectKind};
use super::metrics::LevelMetrics;
use super::tickets::Tickets;
use super::work_estimate::{WorkEstimatorConfig, estimate};
use super::{Admission, FlowControlError, RejectReason, Rejection, RequestDigest, Ticket};
use crate::sim::{SimDuration, SimTime};

const NANO: u128 = 1_000_000_000;

/// One client level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynamicLevel {
    /// Name (the metrics' level label).
    pub name: String,
    /// Clients in this level (the first level, in order, with a matching subject wins).
    pub subjects: Vec<Subject>,
    /// Percent of the bucket that must remain after the request for it to be admitted.
    pub reserve_percent: u32,
}

/// The dynamic mode's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynamicConfig {
    /// `bucketSize`: tokens the bucket holds (2000).
    pub bucket_size: u64,
    /// `refillPerSecond`: tokens added per second (1000).
    pub refill_per_second: u64,
    /// The levels, highest priority first.
    pub levels: Vec<DynamicLevel>,
    /// The level of clients no level names (`workloads`).
    pub default_level: String,
}

fn subject(kind: SubjectKind, name: &str) -> Subject {
    let named = Some(NamedSubject {
        name: name.to_string(),
    });
    match kind {
        SubjectKind::User => Subject {
            kind,
            user: named,
            group: None,
            service_account: None,
        },
        SubjectKind::Group => Subject {
            kind,
            user: None,
            group: named,
            service_account: None,
        },
        SubjectKind::ServiceAccount => Subject {
            kind,
            user: None,
            group: None,
            service_account: Some(ServiceAccountSubject {
                namespace: name.to_string(),
                name: "*".to_string(),
            }),
        },
    }
}

impl Default for DynamicConfig {
    fn default() -> Self {
        use SubjectKind::{Group, ServiceAccount, User};
        let level = |name: &str, reserve_percent, subjects| DynamicLevel {
            name: name.to_string(),
            subjects,
            reserve_percent,
        };
        DynamicConfig {
            bucket_size: 2000,
            refill_per_second: 1000,
            levels: vec![
                level(
                    "core",
                    0,
                    vec![
                        subject(Group, "system:masters"),
                        subject(User, "system:kube-controller-manager"),
                        subject(User, "system:kube-scheduler"),
                        subject(ServiceAccount, "kube-system"),
                    ],
                ),
                level("kubelets", 10, vec![subject(Group, "system:nodes")]),
                level("workloads", 25, vec![]),
                level(
                    "monitoring",
                    50,
                    vec![
                        subject(ServiceAccount, "monitoring"),
                        subject(Group, "system:monitoring"),
                    ],
                ),
            ],
            default_level: "workloads".to_string(),
        }
    }
}

/// The Retry-After (seconds) for `tokens` left of `size`: 1, 2, 4 or 8.
pub fn retry_after_secs(tokens: u64, size: u64) -> u64 {
    let (t, s) = (u128::from(tokens), u128::from(size));
    if 2 * t >= s {
        1
    } else if 4 * t >= s {
        2
    } else if 8 * t >= s {
        4
    } else {
        8
    }
}

/// The dynamic mode.
#[derive(Clone, Debug)]
pub struct DynamicRetryAfter {
    config: DynamicConfig,
    default_level: usize,
    estimator: WorkEstimatorConfig,
    concurrency_limit: u64,
    seats_in_use: u64,
    /// Tokens × 10⁹.
    nano_tokens: u128,
    last_refill: SimTime,
    requests: Tickets<(usize, u64)>,
    metrics: Vec<LevelMetrics>,
}

impl DynamicRetryAfter {
    /// The mode with `config`, at most `concurrency_limit` seats executing, a full bucket at
    /// `now`.
    pub fn new(
        config: DynamicConfig,
        concurrency_limit: u32,
        estimator: WorkEstimatorConfig,
        now: SimTime,
    ) -> Result<Self, FlowControlError> {
        if config.bucket_size == 0 {
            return Err(FlowControlError::Dynamic(
                "bucketSize must be positive".into(),
            ));
        }
        if let Some(l) = config.levels.iter().find(|l| l.reserve_percent > 100) {
            return Err(FlowControlError::Dynamic(format!(
                "level {:?}: reservePercent {} is above 100",
                l.name, l.reserve_percent
            )));
        }
        let default_level = config
            .levels
            .iter()
            .position(|l| l.name == config.default_level)
            .ok_or_else(|| {
                FlowControlError::Dynamic(format!(
                    "defaultLevel {:?} is not one of the levels",
                    config.default_level
                ))
            })?;
        let metrics = config
            .levels
            .iter()
            .map(|l| {
                let mut m = LevelMetrics::named(&l.name);
                m.current_limit_seats = u64::from(concurrency_limit);
                m
            })
            .collect();
        Ok(DynamicRetryAfter {
            nano_tokens: u128::from(config.bucket_size) * NANO,
            config,
            default_level,
            estimator,
            concurrency_limit: u64::from(concurrency_limit),
            seats_in_use: 0,
            last_refill: now,
            requests: Tickets::default(),
            metrics,
        })
    }

    /// Metrics per client level.
    pub fn level_metrics(&self) -> &[LevelMetrics] {
        &self.metrics
    }

    /// Whole tokens in the bucket as of the last call.
    pub fn tokens(&self) -> u64 {
        u64::try_from(self.nano_tokens / NANO).unwrap_or(u64::MAX)
    }

    fn refill(&mut self, now: SimTime) {
        let dt = u128::from(now.saturating_since(self.last_refill).as_nanos());
        self.last_refill = self.last_refill.max(now);
        let cap = u128::from(self.config.bucket_size) * NANO;
        // refill/s × dt ns = refill × dt nano-tokens.
        self.nano_tokens =
            (self.nano_tokens + dt * u128::from(self.config.refill_per_second)).min(cap);
    }

    fn level_of(&self, digest: &RequestDigest<'_>) -> usize {
        self.config
            .levels
            .iter()
            .position(|l| l.subjects.iter().any(|s| matches_subject(digest.user, s)))
            .unwrap_or(self.default_level)
    }

    /// Admits or refuses a request at `now`; nothing is ever queued.
    pub fn admit(&mut self, digest: &RequestDigest<'_>, now: SimTime) -> Admission {
        self.refill(now);
        let li = self.level_of(digest);
        let seats = estimate(&self.estimator, digest, 0).initial_seats.max(1);
        let size = u128::from(self.config.bucket_size) * NANO;
        let reserve = size * u128::from(self.config.levels[li].reserve_percent) / 100;
        let cost = u128::from(seats) * NANO;
        let reason = if self.seats_in_use + seats > self.concurrency_limit {
            Some(RejectReason::ConcurrencyLimit)
        } else if self.nano_tokens < reserve + cost {
            Some(RejectReason::Throttled)
        } else {
            None
        };
        if let Some(reason) = reason {
            let secs = retry_after_secs(self.tokens(), self.config.bucket_size);
            self.metrics[li].reject(reason, secs);
            return Admission::Reject(Rejection {
                reason,
                retry_after: SimDuration::from_secs(secs),
                level: li,
            });
        }
        self.nano_tokens -= cost;
        self.seats_in_use += seats;
        let m = &mut self.metrics[li];
        m.dispatched_requests_total += 1;
        m.current_executing_requests += 1;
        m.current_executing_seats += seats;
        let ticket = self.requests.insert((li, seats));
        Admission::Dispatch { ticket, seats }
    }

    /// A request returned.
    pub fn finish(&mut self, ticket: Ticket) -> Result<(), FlowControlError> {
        let (li, seats) = self
            .requests
            .remove(ticket)
            .ok_or(FlowControlError::UnknownTicket(ticket))?;
        self.seats_in_use -= seats;
        let m = &mut self.metrics[li];
        m.current_executing_requests -= 1;
        m.current_executing_seats -= seats;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::flowcontrol::WorkInputs;
    use crate::apiserver::{UserInfo, Verb};

    fn get(user: &UserInfo) -> RequestDigest<'_> {
        RequestDigest {
            user,
            verb: Verb::Get,
            resource_request: true,
            api_group: "",
            resource: "pods",
            subresource: "",
            namespace: "default",
            name: "p",
            path: "",
            work: WorkInputs::default(),
        }
    }

    #[test]
    fn retry_after_is_1_2_4_or_8_by_the_share_left() {
        // Bucket of 1000: ≥ 500 → 1; ≥ 250 → 2; ≥ 125 → 4; below → 8.
        assert_eq!(retry_after_secs(1000, 1000), 1);
        assert_eq!(retry_after_secs(500, 1000), 1);
        assert_eq!(retry_after_secs(499, 1000), 2);
        assert_eq!(retry_after_secs(250, 1000), 2);
        assert_eq!(retry_after_secs(249, 1000), 4);
        assert_eq!(retry_after_secs(125, 1000), 4);
        assert_eq!(retry_after_secs(124, 1000), 8);
        assert_eq!(retry_after_secs(0, 1000), 8);
        for t in 0..=1000 {
            assert!([1, 2, 4, 8].contains(&retry_after_secs(t, 1000)));
        }
    }

    #[test]
    fn lower_levels_are_shed_first_and_the_bucket_refills() {
        // Bucket 100, refill 10/s, 1000 seats of concurrency; reserves: core 0, kubelets
        // 10 (10 tokens), workloads 25 (25), monitoring 50 (50).
        let config = DynamicConfig {
            bucket_size: 100,
            refill_per_second: 10,
            ..DynamicConfig::default()
        };
        let mut d =
            DynamicRetryAfter::new(config, 1000, WorkEstimatorConfig::default(), SimTime::ZERO)
                .unwrap();
        let prom = UserInfo::new(
            "system:serviceaccount:monitoring:prometheus",
            &["system:serviceaccounts", "system:authenticated"],
        );
        let app = UserInfo::new("alice", &["system:authenticated"]);
        let kubelet = UserInfo::new("system:node:n1", &["system:nodes"]);
        let kcm = UserInfo::new("system:kube-controller-manager", &[]);
        let t0 = SimTime::ZERO;
        // Monitoring may spend down to 50 tokens: 50 one-seat GETs, then the 51st is refused
        // with 50 left (≥ 50 % → Retry-After 1 s).
        for _ in 0..50 {
            assert!(matches!(
                d.admit(&get(&prom), t0),
                Admission::Dispatch { .. }
            ));
        }
        let Admission::Reject(r) = d.admit(&get(&prom), t0) else {
            panic!()
        };
        assert_eq!(
            (r.reason, r.retry_after),
            (RejectReason::Throttled, SimDuration::from_secs(1))
        );
        // Workloads go on down to 25: 25 more; then 2 s (25 left = 25 %).
        for _ in 0..25 {
            assert!(matches!(
                d.admit(&get(&app), t0),
                Admission::Dispatch { .. }
            ));
        }
        let Admission::Reject(r) = d.admit(&get(&app), t0) else {
            panic!()
        };
        assert_eq!(r.retry_after, SimDuration::from_secs(2));
        // Kubelets down to 10: 15 more; then 8 s (10 left < 12.5 %).
        for _ in 0..15 {
            assert!(matches!(
                d.admit(&get(&kubelet), t0),
                Admission::Dispatch { .. }
            ));
        }
        let Admission::Reject(r) = d.admit(&get(&kubelet), t0) else {
            panic!()
        };
        assert_eq!(r.retry_after, SimDuration::from_secs(8));
        // The control plane spends the last 10.
        for _ in 0..10 {
            assert!(matches!(
                d.admit(&get(&kcm), t0),
                Admission::Dispatch { .. }
            ));
        }
        assert!(matches!(d.admit(&get(&kcm), t0), Admission::Reject(_)));
        // 5 s later 50 tokens are back: monitoring is still refused (it needs 51), workloads
        // are not.
        let t5 = SimTime::ZERO + SimDuration::from_secs(5);
        assert!(matches!(d.admit(&get(&prom), t5), Admission::Reject(_)));
        assert!(matches!(
            d.admit(&get(&app), t5),
            Admission::Dispatch { .. }
        ));
        assert_eq!(d.level_metrics()[3].rejected_requests_total.throttled, 2);
        assert_eq!(d.level_metrics()[3].retry_after_seconds.get(&1), Some(&2));
    }
}
