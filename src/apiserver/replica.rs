//! One kube-apiserver process among `spec.apiserver.replicas`: what each replica of an HA
//! control plane has of its own.
//!
//! Every kube-apiserver is a separate process behind the load balancer
//! (`load_balancer.rs`), sharing only etcd (the hub's [`super::Store`] and the request path's
//! etcd model, whose load is every replica's summed). Each replica has
//!
//! * its own **process**: up or down, its restart history, and after a restart its own watch
//!   caches and their readiness (`restart.rs`);
//! * its own **flow control**: `--max-requests-inflight`, `--max-mutating-requests-inflight`
//!   and APF's seats are limits of one server, so a control plane of three has three times the
//!   seats, and a request waits in or is refused by the queues of the replica its client is
//!   connected to;
//! * the requests it holds: queued, or started and holding seats until their service time
//!   is over.
//!
//! With one replica (the default) this is the apiserver kubesim always modelled.

use std::collections::{BTreeMap, BTreeSet};

use super::flowcontrol::{FlowControl, LevelMetrics, Ticket};
use super::request::RequestId;
use super::request_path::{InService, RequestPathConfig};
use super::restart::Process;
use crate::sim::SimTime;

/// One kube-apiserver replica.
#[derive(Debug, Default)]
pub struct Replica {
    /// Up or down, its restarts and its watch caches.
    pub(super) process: Process,
    /// Its flow control and held requests, on the modelled path.
    pub(super) flow: Option<ReplicaFlow>,
}

/// A replica's flow control and the requests it holds (modelled path only).
#[derive(Debug)]
pub struct ReplicaFlow {
    pub(super) flow_control: FlowControl,
    /// Queued requests by ticket.
    pub(super) queued: BTreeMap<Ticket, RequestId>,
    /// Started requests.
    pub(super) in_service: BTreeMap<RequestId, InService>,
    /// Wakeups scheduled and not yet handled.
    pub(super) wakeups: BTreeSet<SimTime>,
    /// Tickets of requests queued when the process went down: flow control may still start
    /// them, and they finish at once.
    pub(super) abandoned: BTreeSet<Ticket>,
}

impl Replica {
    /// A replica as `config` makes it at `now`: flow control only on the modelled path.
    pub fn new(config: &RequestPathConfig, now: SimTime) -> Self {
        Replica {
            process: Process::default(),
            flow: config
                .build_or_bootstrap(now)
                .map(|flow_control| ReplicaFlow {
                    flow_control,
                    queued: BTreeMap::new(),
                    in_service: BTreeMap::new(),
                    wakeups: BTreeSet::new(),
                    abandoned: BTreeSet::new(),
                }),
        }
    }

    /// Its process: up or down, its restarts and watch caches.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// Its flow control, on the modelled path.
    pub fn flow_control(&self) -> Option<&FlowControl> {
        self.flow.as_ref().map(|f| &f.flow_control)
    }

    /// Its flow control's per-level metrics (none on the ideal path).
    pub fn level_metrics(&self) -> &[LevelMetrics] {
        self.flow
            .as_ref()
            .map_or(&[], |f| f.flow_control.level_metrics())
    }

    /// Requests queued, and requests holding seats, now.
    pub fn occupancy(&self) -> (usize, usize) {
        self.flow
            .as_ref()
            .map_or((0, 0), |f| (f.queued.len(), f.in_service.len()))
    }

    /// Whether it holds started request `id`.
    pub(super) fn serves(&self, id: RequestId) -> bool {
        self.flow
            .as_ref()
            .is_some_and(|f| f.in_service.contains_key(&id))
    }
}

/// The per-level metrics of a control plane: with one replica its own, with more each
/// level's summed over the replicas (seats, requests and counters add up; a demand's
/// standard deviation adds as independent ones do, the root of the summed variances).
pub fn summed_level_metrics(replicas: &[Replica]) -> Vec<LevelMetrics> {
    let mut replicas = replicas.iter();
    let Some(first) = replicas.next() else {
        return Vec::new();
    };
    let mut sum = first.level_metrics().to_vec();
    for replica in replicas {
        for (total, level) in sum.iter_mut().zip(replica.level_metrics()) {
            add_level(total, level);
        }
    }
    sum
}

/// Adds `level`'s numbers into `total` (the same level of another replica).
fn add_level(total: &mut LevelMetrics, level: &LevelMetrics) {
    total.nominal_limit_seats += level.nominal_limit_seats;
    total.lower_limit_seats += level.lower_limit_seats;
    total.upper_limit_seats += level.upper_limit_seats;
    total.current_limit_seats += level.current_limit_seats;
    total.current_inqueue_requests += level.current_inqueue_requests;
    total.current_inqueue_seats += level.current_inqueue_seats;
    total.current_executing_requests += level.current_executing_requests;
    total.current_executing_seats += level.current_executing_seats;
    total.dispatched_requests_total += level.dispatched_requests_total;
    let (r, l) = (
        &mut total.rejected_requests_total,
        &level.rejected_requests_total,
    );
    r.queue_full += l.queue_full;
    r.concurrency_limit += l.concurrency_limit;
    r.time_out += l.time_out;
    r.throttled += l.throttled;
    let (w, l) = (
        &mut total.request_wait_duration_seconds,
        &level.request_wait_duration_seconds,
    );
    for (bucket, n) in w.buckets.iter_mut().zip(l.buckets) {
        *bucket += n;
    }
    w.count += l.count;
    w.sum_nanos += l.sum_nanos;
    total.demand_seats_high_watermark += level.demand_seats_high_watermark;
    total.demand_seats_average += level.demand_seats_average;
    total.demand_seats_stdev = libm::hypot(total.demand_seats_stdev, level.demand_seats_stdev);
    total.demand_seats_smoothed += level.demand_seats_smoothed;
    total.target_seats += level.target_seats;
    for (&seconds, &n) in &level.retry_after_seconds {
        *total.retry_after_seconds.entry(seconds).or_insert(0) += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::FlowControlMode;
    use crate::apiserver::flowcontrol::RejectReason;

    #[test]
    fn a_control_plane_of_two_has_twice_the_seats_and_sums_its_counters() {
        let config = RequestPathConfig {
            mode: FlowControlMode::MaxInflight,
            ..RequestPathConfig::default()
        };
        let mut replicas = vec![
            Replica::new(&config, SimTime::ZERO),
            Replica::new(&config, SimTime::ZERO),
        ];
        // Max-in-flight: 400 reads and 200 writes per server.
        let one = replicas[0].level_metrics().to_vec();
        let sum = summed_level_metrics(&replicas);
        assert_eq!(sum.len(), one.len());
        for (s, o) in sum.iter().zip(&one) {
            assert_eq!(s.name, o.name);
            assert_eq!(s.nominal_limit_seats, 2 * o.nominal_limit_seats);
        }
        // One replica alone: its own numbers, untouched.
        assert_eq!(summed_level_metrics(&replicas[..1]), one);
        // Standard deviations 3 and 4 of independent replicas: 5.
        let mut a = LevelMetrics::named("x");
        a.demand_seats_stdev = 3.0;
        a.reject(RejectReason::QueueFull, 1);
        let mut b = LevelMetrics::named("x");
        b.demand_seats_stdev = 4.0;
        b.reject(RejectReason::QueueFull, 1);
        add_level(&mut a, &b);
        assert_eq!(a.demand_seats_stdev, 5.0);
        assert_eq!(a.rejected_requests_total.queue_full, 2);
        assert_eq!(a.retry_after_seconds.get(&1), Some(&2));
        replicas.clear();
        assert!(summed_level_metrics(&replicas).is_empty());
    }
}
