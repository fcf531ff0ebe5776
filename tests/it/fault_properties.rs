//! Random faults on a small cluster, checked against properties that must hold whatever
//! breaks: the scheduler never overcommits a node, a pod never moves, every Deployment's
//! replicas stay accounted for, and once every fault has healed the cluster converges in a
//! bounded time.
//!
//! The cluster: 8 nodes `n-0` … `n-7`, 1 cpu each, zones a (even) and b (odd), no
//! kube-proxies; three Deployments — `web` 8 × 200m, `api` 6 × 250m, `batch` 4 × 300m, 4.3 cpu
//! in all — whose images every node has (sandbox 500 ms, container start 200 ms, stop 1 s).
//! With four nodes out (a partition of two and two other faults) or cordoned, the rest cannot
//! hold every pod: nodes fill up to their allocatable and pods wait, which is what the
//! allocatable property is about.
//!
//! The faults, written as the scenario's timeline entries (so the loader reads them as a user's
//! would), each starting between 1 and 10 minutes:
//!
//! * 1–3 node faults on distinct nodes among `n-0` … `n-5` (`n-6` in zone a and `n-7` in zone b
//!   never fail, so no zone is ever wholly down with the other, and the controller never
//!   takes itself for cut off): a `crash` recovering after 20 s – 8 min, or for good (at most
//!   two of those, so a zone keeps at least 2 of its 4 nodes and is Normal once the other
//!   faults heal: its dead nodes are tainted and their pods evicted); a `partition` of one or
//!   two nodes healing after 20 s – 8 min; a `stopKubelet` followed by `startKubelet` 20 s –
//!   8 min later;
//! * 0–2 `drain`s (timeout 3 min) of any node, each followed by an `uncordon` 20 s – 8 min
//!   later.
//!
//! Capacity: at the end at most two nodes are dead, so six nodes of 1000m serve 4300m. A pod
//! of s millicores fits nowhere only if every node has more than 1000 − s in use by the
//! others, i.e. 4300 − s > 6 (1000 − s), s > 340: no pod here (at most 300m) can be left out,
//! whatever the packing.

use std::collections::BTreeMap;

use kubesim::api::pod::Pod;
use kubesim::api::resources::{MissingRequests, Resources, pod_requests};
use kubesim::api::{Kind, Object, Uid};
use kubesim::sim::{SimDuration, SimTime, Simulation};
use kubesim::world::{self, RunOptions, World};
use proptest::prelude::*;

use crate::support::{load_text, proptest_config};

/// The Deployments: name, replicas, cpu request in millicores.
const DEPLOYMENTS: [(&str, i64, i64); 3] = [("web", 8, 200), ("api", 6, 250), ("batch", 4, 300)];

/// Nodes that node faults may hit.
const FAULTABLE: usize = 6;

/// A fault and its end, times in seconds.
#[derive(Clone, Debug)]
enum Fault {
    /// A crash of a node, recovering after the duration if any.
    Crash {
        node: usize,
        at: u64,
        recover: Option<u64>,
    },
    /// A partition of the nodes, healing after the duration.
    Partition {
        nodes: Vec<usize>,
        at: u64,
        heal: u64,
    },
    /// The node's kubelet stopped, started again after the duration.
    Kubelet { node: usize, at: u64, restart: u64 },
    /// A drain of the node, uncordoned after the duration.
    Drain { node: usize, at: u64, uncordon: u64 },
}

impl Fault {
    /// The timeline entries.
    fn entries(&self) -> Vec<String> {
        let n = |i: &usize| format!("n-{i}");
        match self {
            Fault::Crash {
                node,
                at,
                recover: Some(after),
            } => vec![format!(
                "{{at: {at}s, crash: {{node: {}, recoverAfter: {after}s}}}}",
                n(node)
            )],
            Fault::Crash {
                node,
                at,
                recover: None,
            } => vec![format!("{{at: {at}s, crash: {{node: {}}}}}", n(node))],
            Fault::Partition { nodes, at, heal } => {
                let names: Vec<String> = nodes.iter().map(n).collect();
                vec![format!(
                    "{{at: {at}s, partition: {{nodes: [{}], healAfter: {heal}s}}}}",
                    names.join(", ")
                )]
            }
            Fault::Kubelet { node, at, restart } => vec![
                format!("{{at: {at}s, stopKubelet: {}}}", n(node)),
                format!("{{at: {}s, startKubelet: {}}}", at + restart, n(node)),
            ],
            Fault::Drain { node, at, uncordon } => vec![
                format!("{{at: {at}s, drain: {{node: {}, timeout: 3m}}}}", n(node)),
                format!("{{at: {}s, uncordon: {}}}", at + uncordon, n(node)),
            ],
        }
    }

    /// When it is over: the node is back (or, for a crash for good, the crash itself).
    fn end(&self) -> u64 {
        match self {
            Fault::Crash { at, recover, .. } => at + recover.unwrap_or(0),
            Fault::Partition { at, heal, .. } => at + heal,
            Fault::Kubelet { at, restart, .. } => at + restart,
            Fault::Drain { at, uncordon, .. } => at + uncordon,
        }
    }

    /// The node it kills for good, if it does.
    fn dead(&self) -> Option<usize> {
        match self {
            Fault::Crash {
                node,
                recover: None,
                ..
            } => Some(*node),
            _ => None,
        }
    }
}

/// What a node fault is, before it gets its nodes.
#[derive(Clone, Debug)]
enum NodeFaultKind {
    Crash(Option<u64>),
    Partition(bool, u64),
    Kubelet(u64),
}

fn duration() -> impl Strategy<Value = u64> {
    20..=480u64
}

fn start() -> impl Strategy<Value = u64> {
    60..=600u64
}

fn node_fault() -> impl Strategy<Value = (NodeFaultKind, u64)> {
    let kind = prop_oneof![
        proptest::option::of(duration()).prop_map(NodeFaultKind::Crash),
        (any::<bool>(), duration()).prop_map(|(two, d)| NodeFaultKind::Partition(two, d)),
        duration().prop_map(NodeFaultKind::Kubelet),
    ];
    (kind, start())
}

/// 1–3 node faults on distinct faultable nodes (at most two crashes for good) and 0–2 drains.
fn faults() -> impl Strategy<Value = Vec<Fault>> {
    let nodes: Vec<usize> = (0..FAULTABLE).collect();
    (
        proptest::collection::vec(node_fault(), 1..=3),
        Just(nodes).prop_shuffle(),
        proptest::collection::vec((0..8usize, start(), duration()), 0..=2),
    )
        .prop_map(|(kinds, order, drains)| {
            let mut free = order.into_iter();
            let mut faults = Vec::new();
            let mut dead = 0;
            for (kind, at) in kinds {
                let Some(node) = free.next() else { break };
                faults.push(match kind {
                    NodeFaultKind::Crash(None) if dead == 2 => Fault::Crash {
                        node,
                        at,
                        recover: Some(60),
                    },
                    NodeFaultKind::Crash(recover) => {
                        dead += usize::from(recover.is_none());
                        Fault::Crash { node, at, recover }
                    }
                    NodeFaultKind::Partition(two, heal) => {
                        let mut nodes = vec![node];
                        if two && let Some(other) = free.next() {
                            nodes.push(other);
                        }
                        Fault::Partition { nodes, at, heal }
                    }
                    NodeFaultKind::Kubelet(restart) => Fault::Kubelet { node, at, restart },
                });
            }
            faults.extend(drains.into_iter().map(|(node, at, uncordon)| Fault::Drain {
                node,
                at,
                uncordon,
            }));
            faults
        })
}

fn scenario(faults: &[Fault], duration: u64) -> kubesim::scenario::Scenario {
    let mut timeline = String::new();
    for fault in faults {
        for entry in fault.entries() {
            timeline.push_str(&format!("    - {entry}\n"));
        }
    }
    let mut text = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: fault-properties}}
spec:
  duration: {duration}s
  kubeProxy: {{enabled: false}}
  kubelet:
    timing: {{sandbox: {{fixed: 500ms}}, containerStart: {{fixed: 200ms}}, containerStop: {{fixed: 1s}}}}
  nodePools:
    - name: n
      count: 8
      zones: [a, b]
      template:
        allocatable: {{cpu: \"1\", memory: 4Gi, pods: \"110\"}}
        images: [{{names: [\"app:v1\"], sizeBytes: 1000000}}]
  timeline:
{timeline}"
    );
    for (name, replicas, cpu) in DEPLOYMENTS {
        text.push_str(&format!(
            "---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: app
          image: \"app:v1\"
          resources: {{requests: {{cpu: {cpu}m, memory: 128Mi}}}}
"
        ));
    }
    load_text(&text, &[])
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

/// What the properties track between commits.
#[derive(Default)]
struct Watch {
    /// Each pod's node, once bound.
    bound: BTreeMap<Uid, String>,
    /// Since when each Deployment has had fewer active pods than it wants.
    short_since: BTreeMap<&'static str, SimTime>,
}

/// The longest a Deployment may have fewer active pods than it wants: its ReplicaSet
/// controller sees a pod deleted 1 ms after the commit and creates the replacement at once
/// (committed 1 ms later); a second covers its queue and retries many times over.
const SHORT_AT_MOST: SimDuration = SimDuration::from_secs(1);

impl Watch {
    /// Checks the properties after a commit at `now`.
    fn check(&mut self, sim: &Simulation<World>, now: SimTime) -> Result<(), TestCaseError> {
        let store = sim.model().api().store();
        let pods: Vec<&Pod> = store
            .iter(Kind::Pod)
            .filter_map(|o| o.as_pod().map(|p| &**p))
            .collect();
        // No pod changes node once bound.
        for pod in &pods {
            if pod.spec.node_name.is_empty() {
                continue;
            }
            let was = self
                .bound
                .entry(pod.metadata.uid)
                .or_insert_with(|| pod.spec.node_name.clone());
            prop_assert_eq!(
                &*was,
                &pod.spec.node_name,
                "{} moved at {}",
                &pod.metadata.name,
                now
            );
        }
        // No node holds more than its allocatable: the requests of the pods bound to it that
        // have not finished (terminating ones included: they hold their resources until
        // gone).
        for o in store.iter(Kind::Node) {
            let Some(node) = o.as_node() else { continue };
            let allocatable = Resources::from_list(&node.status.effective_allocatable());
            let mut used = Resources::default();
            let mut count = 0;
            for p in store.iter_pods_on_node(&node.metadata.name) {
                let Some(p) = p.as_pod() else { continue };
                if p.is_terminal() {
                    continue;
                }
                used.add(&pod_requests(&p.spec, MissingRequests::AsZero));
                count += 1;
            }
            for resource in ["cpu", "memory"] {
                prop_assert!(
                    used.get(resource) <= allocatable.get(resource),
                    "{} over its {resource} at {}: {} > {} ({count} pods)",
                    &node.metadata.name,
                    now,
                    used.get(resource),
                    allocatable.get(resource)
                );
            }
        }
        // Every Deployment's replicas accounted for: its ReplicaSets want exactly its
        // replicas, it never has more active pods (not terminating, not finished) than that,
        // and fewer only for an instant.
        for (name, replicas, _) in DEPLOYMENTS {
            let wanted: i64 = store
                .iter(Kind::ReplicaSet)
                .filter_map(|o| match &**o {
                    Object::ReplicaSet(rs)
                        if rs.metadata.labels.get("app").map(String::as_str) == Some(name) =>
                    {
                        Some(i64::from(rs.spec.replicas.unwrap_or(1)))
                    }
                    _ => None,
                })
                .sum();
            prop_assert!(
                wanted == replicas || wanted == 0,
                "{name}'s ReplicaSets want {wanted} at {now}"
            );
            let active = pods
                .iter()
                .filter(|p| p.metadata.labels.get("app").map(String::as_str) == Some(name))
                .filter(|p| !p.metadata.is_terminating() && !p.is_terminal())
                .count() as i64;
            prop_assert!(active <= replicas, "{name}: {active} active pods at {now}");
            if active < replicas && wanted == replicas {
                let since = *self.short_since.entry(name).or_insert(now);
                prop_assert!(
                    now - since <= SHORT_AT_MOST,
                    "{name}: {active} of {replicas} pods since {since}, still at {now}"
                );
            } else {
                self.short_since.remove(name);
            }
        }
        Ok(())
    }
}

/// How long after the last fault is over the cluster takes to converge, at most, when no node
/// stays dead. At `healed` every node is back: a restarted kubelet posts its status (Ready) as
/// it starts; a partitioned one gets the answers and watch events held for it and posts Ready
/// at its next status tick, within 10.4 s (10 s + 4 % jitter); an uncordoned node is
/// schedulable at once. The Ready update lifts the unreachable NoSchedule taint at once (the
/// NoExecute one, tolerated by the pods for 300 s, does not keep them off). A pod left pending
/// meanwhile goes back to the scheduler's queue on that node update and waits out what is left
/// of its backoff, 10 s at most; bound, it starts in 0.7 s, the PLEG (every second) sees it
/// running and it is Ready, the ReplicaSet and Deployment statuses written milliseconds later:
/// healed + 10.4 + 10 + 0.7 + 1 s + ms ≈ healed + 22.2 s, within 30 s. A pod of a restarted
/// kubelet restarts in 1.7 s.
const CONVERGED_WITHIN: u64 = 30;

/// The same when a node stays dead (crashed at `c ≤ healed`): its last renewal is seen by the
/// pass after the crash (probe timestamp ≤ c + 5.001 s), so it is set Unknown within 55 s
/// more (its pods marked not Ready) and queued for tainting 5 s later: ≤ c + 65.001 s. Its
/// zone keeps at least 2 of its 4 nodes, so once the other faults are over (the nodes Ready
/// again within 10.4 s and seen by a monitor pass within 5 s more) it is Normal again: rate 0.1 nodes/s, the
/// bucket drained by a swap from a Partial rate of 0 full again 10 s later (≤ healed +
/// 25.5 s); at most one other dead node of the zone goes first, 10 s more. So the taint is on
/// by healed + 75.1 s; its pods (tolerating it 300 s) are evicted 300 s after, their
/// replacements created and bound at once — six live nodes always have room, see the module
/// comment — and Ready ≤ 2 s later: healed + 377.1 s, within 380 s (the pods pending at
/// `healed` are placed by healed + 22.2 s, as without a dead node).
const CONVERGED_WITHIN_DEAD: u64 = 380;

proptest! {
    #![proptest_config(proptest_config(48))]

    /// After every commit, whatever the faults: no node holds more than its allocatable, no
    /// pod changes node, every Deployment's ReplicaSets want exactly its replicas and it has
    /// never more active pods than that and fewer for at most a second. Once every fault is
    /// over (`healed`: the last recovery, heal, kubelet start, uncordon, or crash for good),
    /// the cluster is converged within [`CONVERGED_WITHIN`] (or [`CONVERGED_WITHIN_DEAD`] with
    /// a node dead for good), and still is a minute later: every Deployment's pods available,
    /// none of them on a dead node.
    #[test]
    fn faults_keep_the_invariants_and_the_cluster_converges_once_healed(
        faults in faults(),
        seed in any::<u64>(),
    ) {
        let healed = faults.iter().map(Fault::end).max().unwrap_or(0);
        let dead: Vec<String> = faults
            .iter()
            .filter_map(Fault::dead)
            .map(|n| format!("n-{n}"))
            .collect();
        let within = if dead.is_empty() { CONVERGED_WITHIN } else { CONVERGED_WITHIN_DEAD };
        let (deadline, end) = (secs(healed + within), secs(healed + within + 60));
        let options = RunOptions { seed: Some(seed), ..RunOptions::default() };
        let mut sim = world::build(&scenario(&faults, healed + within + 61), &options);
        let mut watch = Watch::default();
        let mut seen = sim.model().api().store().revision();
        let mut checked_deadline = false;
        while let Some(now) = sim.step() {
            if !checked_deadline && now > deadline {
                checked_deadline = true;
                prop_assert!(
                    sim.model().recorder().convergence().is_converged(),
                    "not converged {within} s after the faults ended at {healed} s"
                );
            }
            if now > end {
                break;
            }
            let revision = sim.model().api().store().revision();
            if revision == seen {
                continue;
            }
            seen = revision;
            watch.check(&sim, now)?;
        }
        prop_assert!(checked_deadline, "the run ended before {deadline}");
        prop_assert!(sim.model().recorder().convergence().is_converged());
        let store = sim.model().api().store();
        for (name, replicas, _) in DEPLOYMENTS {
            let available = store
                .iter(Kind::Deployment)
                .find_map(|o| match &**o {
                    Object::Deployment(d) if d.metadata.name == name => {
                        Some(i64::from(d.status.available_replicas))
                    }
                    _ => None,
                });
            prop_assert_eq!(available, Some(replicas), "{} available", name);
        }
        for o in store.iter(Kind::Pod) {
            let Some(p) = o.as_pod() else { continue };
            prop_assert!(
                p.metadata.is_terminating() || !dead.contains(&p.spec.node_name),
                "{} still counted on dead {}",
                &p.metadata.name,
                &p.spec.node_name
            );
        }
    }
}
