//! The max-in-flight filter (upstream `server/filters/maxinflight.go`), kube-apiserver's flow
//! control when API Priority and Fairness is off.
//!
//! Two counters: reads (get, list, watch) against `--max-requests-inflight`, writes against
//! `--max-mutating-requests-inflight`; a limit of 0 leaves that kind unlimited. Long-running
//! requests (watches) are not counted. A request beyond its limit gets 429 with a constant
//! `Retry-After: 1` — unless its user is in `system:masters`, which is served regardless (and
//! uncounted) so an administrator can always reach a saturated server. Nothing queues.

use super::metrics::LevelMetrics;
use super::tickets::Tickets;
use super::{Admission, FlowControlError, RejectReason, Rejection, RequestDigest, Ticket};
use crate::apiserver::Verb;
use crate::sim::SimDuration;

/// The Retry-After of every max-in-flight 429.
pub const RETRY_AFTER: SimDuration = SimDuration::from_secs(1);
const MASTERS: &str = "system:masters";

/// Index of the read-only counter in [`MaxInflight::level_metrics`].
pub const READ_ONLY: usize = 0;
/// Index of the mutating counter.
pub const MUTATING: usize = 1;

/// What a ticket counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    /// One of the two counters.
    Counted(usize),
    /// Nothing (a watch, an administrator beyond the limit, an unlimited kind).
    Uncounted,
}

/// The max-in-flight limits.
#[derive(Clone, Debug)]
pub struct MaxInflight {
    limits: [u32; 2],
    inflight: [u32; 2],
    requests: Tickets<Held>,
    metrics: Vec<LevelMetrics>,
}

impl MaxInflight {
    /// Limits of `read_only` reads and `mutating` writes (0: unlimited).
    pub fn new(read_only: u32, mutating: u32) -> Self {
        let mut metrics = vec![
            LevelMetrics::named("readOnly"),
            LevelMetrics::named("mutating"),
        ];
        for (m, limit) in metrics.iter_mut().zip([read_only, mutating]) {
            m.nominal_limit_seats = u64::from(limit);
            m.lower_limit_seats = u64::from(limit);
            m.upper_limit_seats = u64::from(limit);
            m.current_limit_seats = u64::from(limit);
        }
        MaxInflight {
            limits: [read_only, mutating],
            inflight: [0, 0],
            requests: Tickets::default(),
            metrics,
        }
    }

    /// Requests in flight: (reads, writes) — upstream's `apiserver_current_inflight_requests`
    /// by `request_kind`.
    pub fn inflight(&self) -> (u32, u32) {
        (self.inflight[READ_ONLY], self.inflight[MUTATING])
    }

    /// Metrics, `readOnly` then `mutating`.
    pub fn level_metrics(&self) -> &[LevelMetrics] {
        &self.metrics
    }

    /// Admits or refuses a request; nothing is ever queued.
    pub fn admit(&mut self, digest: &RequestDigest<'_>) -> Admission {
        if self.limits == [0, 0] || digest.verb == Verb::Watch {
            let ticket = self.requests.insert(Held::Uncounted);
            return Admission::Dispatch { ticket, seats: 1 };
        }
        let kind = if digest.verb.is_mutating() {
            MUTATING
        } else {
            READ_ONLY
        };
        let held = if self.limits[kind] == 0 {
            Held::Uncounted
        } else if self.inflight[kind] < self.limits[kind] {
            self.inflight[kind] += 1;
            Held::Counted(kind)
        } else if digest.user.groups.iter().any(|g| g == MASTERS) {
            Held::Uncounted
        } else {
            self.metrics[kind].reject(RejectReason::ConcurrencyLimit, 1);
            return Admission::Reject(Rejection {
                reason: RejectReason::ConcurrencyLimit,
                retry_after: RETRY_AFTER,
                level: kind,
            });
        };
        let m = &mut self.metrics[kind];
        m.dispatched_requests_total += 1;
        m.current_executing_requests = u64::from(self.inflight[kind]);
        m.current_executing_seats = u64::from(self.inflight[kind]);
        let ticket = self.requests.insert(held);
        Admission::Dispatch { ticket, seats: 1 }
    }

    /// A request returned.
    pub fn finish(&mut self, ticket: Ticket) -> Result<(), FlowControlError> {
        match self.requests.remove(ticket) {
            None => Err(FlowControlError::UnknownTicket(ticket)),
            Some(Held::Uncounted) => Ok(()),
            Some(Held::Counted(kind)) => {
                self.inflight[kind] -= 1;
                self.metrics[kind].current_executing_requests = u64::from(self.inflight[kind]);
                self.metrics[kind].current_executing_seats = u64::from(self.inflight[kind]);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::UserInfo;
    use crate::apiserver::flowcontrol::WorkInputs;

    fn digest(user: &UserInfo, verb: Verb) -> RequestDigest<'_> {
        RequestDigest {
            user,
            verb,
            resource_request: true,
            api_group: "",
            resource: "pods",
            subresource: "",
            namespace: "default",
            name: "",
            path: "",
            work: WorkInputs::default(),
        }
    }

    #[test]
    fn four_hundred_reads_two_hundred_writes_then_429_retry_after_1s() {
        let mut m = MaxInflight::new(400, 200);
        let u = UserInfo::new("u", &["system:authenticated"]);
        let mut reads = Vec::new();
        for _ in 0..400 {
            let Admission::Dispatch { ticket, .. } = m.admit(&digest(&u, Verb::List)) else {
                panic!("read refused below the limit");
            };
            reads.push(ticket);
        }
        for _ in 0..200 {
            assert!(matches!(
                m.admit(&digest(&u, Verb::Create)),
                Admission::Dispatch { .. }
            ));
        }
        // The 401st read and the 201st write are refused with Retry-After 1 s.
        for verb in [Verb::Get, Verb::Patch] {
            let Admission::Reject(r) = m.admit(&digest(&u, verb)) else {
                panic!("expected 429");
            };
            assert_eq!(r.retry_after, SimDuration::from_secs(1));
            assert_eq!(r.reason, RejectReason::ConcurrencyLimit);
        }
        // Watches are long-running and never counted; system:masters gets through.
        assert!(matches!(
            m.admit(&digest(&u, Verb::Watch)),
            Admission::Dispatch { .. }
        ));
        let admin = UserInfo::new("admin", &["system:masters"]);
        assert!(matches!(
            m.admit(&digest(&admin, Verb::Get)),
            Admission::Dispatch { .. }
        ));
        assert_eq!(m.inflight(), (400, 200));
        // A finished read frees a place.
        m.finish(reads[0]).unwrap();
        assert!(matches!(
            m.admit(&digest(&u, Verb::Get)),
            Admission::Dispatch { .. }
        ));
        assert_eq!(
            m.level_metrics()[READ_ONLY].rejected_requests_total.total(),
            1
        );
    }
}
