//! Metrics: periodic samples of the world, taken from ground truth (the store and the
//! apiserver's counters) without sending requests, as a monitoring system scrapes them.
//!
//! Column names follow the real Prometheus metric names where one exists, so a simulated run
//! can be held beside a real dashboard.

use crate::api::pod::PodPhase;
use crate::api::resources::{MissingRequests, Resources, pod_requests};
use crate::api::{Kind, Object};
use crate::apiserver::ApiServer;
use crate::sim::SimTime;

/// One sample of the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// When.
    pub at: SimTime,
    /// Nodes.
    pub nodes: u64,
    /// Cordoned nodes.
    pub nodes_unschedulable: u64,
    /// Pods that exist.
    pub pods: u64,
    /// Pods bound to a node and not finished.
    pub pods_bound: u64,
    /// Pods waiting for a node.
    pub pods_pending: u64,
    /// Pods gracefully terminating.
    pub pods_terminating: u64,
    /// Requests of bound, unfinished pods (CPU in millicores, memory in bytes, pods as count).
    pub requested: Resources,
    /// Allocatable of all nodes.
    pub allocatable: Resources,
    /// Deployments.
    pub deployments: u64,
    /// ReplicaSets.
    pub replicasets: u64,
    /// `apiserver_request_total` summed over labels.
    pub api_requests: u64,
    /// Of which mutating.
    pub api_writes: u64,
    /// Watch events delivered so far.
    pub watch_events: u64,
    /// The store's revision.
    pub revision: u64,
}

impl Sample {
    /// `requested / allocatable` of resource `name` in percent (0 when nothing is allocatable).
    pub fn allocation_pct(&self, name: &str) -> f64 {
        let alloc = self.allocatable.get(name);
        if alloc <= 0 {
            return 0.0;
        }
        100.0 * self.requested.get(name) as f64 / alloc as f64
    }
}

/// The samples of a run.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    samples: Vec<Sample>,
}

impl Recorder {
    /// The samples, in time order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The last sample.
    pub fn last(&self) -> Option<&Sample> {
        self.samples.last()
    }

    /// Takes a sample at `now`; a second sample at the same time replaces the first.
    pub fn sample(&mut self, now: SimTime, api: &ApiServer) {
        let sample = take_sample(now, api);
        if self.samples.last().is_some_and(|s| s.at == now) {
            self.samples.pop();
        }
        self.samples.push(sample);
    }
}

fn take_sample(now: SimTime, api: &ApiServer) -> Sample {
    let store = api.store();
    let mut s = Sample {
        at: now,
        deployments: store.count(Kind::Deployment) as u64,
        replicasets: store.count(Kind::ReplicaSet) as u64,
        revision: store.revision().0,
        ..Sample::default()
    };
    for object in store.iter(Kind::Node) {
        if let Object::Node(node) = &**object {
            s.nodes += 1;
            s.nodes_unschedulable += u64::from(node.spec.unschedulable);
            s.allocatable
                .add(&Resources::from_list(&node.status.effective_allocatable()));
        }
    }
    for object in store.iter(Kind::Pod) {
        let Object::Pod(pod) = &**object else {
            continue;
        };
        s.pods += 1;
        if pod.metadata.is_terminating() {
            s.pods_terminating += 1;
        }
        let finished = matches!(pod.status.phase, PodPhase::Succeeded | PodPhase::Failed);
        if pod.is_bound() && !finished {
            s.pods_bound += 1;
            let mut req = pod_requests(&pod.spec, MissingRequests::AsZero);
            req.pods = 1;
            s.requested.add(&req);
        } else if !pod.is_bound() && !finished {
            s.pods_pending += 1;
        }
    }
    let counters = api.counters();
    for (&(verb, _, _), &n) in &counters.requests {
        s.api_requests += n;
        if verb.is_mutating() {
            s.api_writes += n;
        }
    }
    s.watch_events = counters.watch_events_delivered;
    s
}
