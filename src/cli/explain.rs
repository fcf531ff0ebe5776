//! `kubesim explain SCENARIO --pod NS/NAME [--at T] [--json]`: why the scheduler would put a
//! pod where it does, node by node.

use std::sync::Arc;

use super::{CliError, ExplainArgs};
use crate::api::{Kind, Object, ObjectKey};
use crate::scenario;
use crate::scheduler::explain::{explain, to_table};
use crate::scheduler::gpu::workload::typical_of;
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};
use crate::sim::{SimTime, rng};
use crate::world::{self, RunOptions};

/// Explains the placement of the pod named in `args`.
pub fn run(args: &ExplainArgs) -> Result<(), CliError> {
    let mut scenario =
        scenario::load(&args.scenario).map_err(|e| CliError::bad_input(e.to_string()))?;
    let seed = args.seed.unwrap_or(scenario.seed);
    // The profile must exist even when the scenario does not run the scheduler.
    let config = scenario
        .scheduler
        .config
        .resolve_seeded(seed)
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    scenario.scheduler.enabled = true;
    let key = {
        let mut k = ObjectKey::parse(&args.pod);
        if k.namespace.is_empty() {
            k.namespace = "default".into();
        }
        k
    };
    let at = SimTime::ZERO + args.at.unwrap_or_default();
    let mut sim = world::build(&scenario, &RunOptions::default());
    // Everything due at `at` has been applied once its requests executed and their watch
    // events arrived.
    let settle = scenario.apiserver.admission_latency + scenario.apiserver.watch_delay;
    sim.run_until(at + settle);
    let world = sim.model();
    let store = world.api().store();
    let Some(object) = store.get(Kind::Pod, &key) else {
        return Err(CliError::bad_input(format!(
            "pod {key} does not exist at {}; expected the namespace/name of a pod in the scenario",
            at
        )));
    };
    let Object::Pod(pod) = &**object else {
        return Err(CliError::bad_input(format!("{key} is not a pod")));
    };
    let uid = pod.metadata.uid;
    let mut unplaced = pod.clone();
    unplaced.spec.node_name.clear();
    let pod_info = PodInfo::new(Arc::new(unplaced));
    let (mut snapshot, start) = match world.scheduler() {
        Some(s) => (s.snapshot().clone(), s.next_start_node_index()),
        None => (snapshot_from_store(world), 0),
    };
    snapshot.refresh();
    if let Some(node) = pod_node(&snapshot, uid) {
        snapshot.remove_pod(&node, uid);
    }
    let Some(profile) = config
        .profiles
        .iter()
        .find(|p| p.name == pod.spec.scheduler_name)
    else {
        return Err(CliError::bad_input(format!(
            "pod {key} asks for scheduler {:?}, which no profile serves",
            pod.spec.scheduler_name
        )));
    };
    let mut tie_break = rng::stream(seed, "explain/tie-break");
    let mut explanation = explain(profile, &pod_info, &snapshot, start, &mut tie_break);
    explanation.at = at.to_string();
    if args.json {
        let text = serde_json::to_string_pretty(&explanation)
            .map_err(|e| CliError::bad_input(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", to_table(&explanation));
    }
    Ok(())
}

fn pod_node(snapshot: &Snapshot, uid: crate::api::Uid) -> Option<String> {
    snapshot
        .nodes()
        .iter()
        .find(|n| n.pods.iter().any(|p| p.uid() == uid))
        .map(|n| n.name().to_string())
}

/// The cluster as stored, for scenarios that do not run the scheduler.
fn snapshot_from_store(world: &world::World) -> Snapshot {
    let store = world.api().store();
    let mut nodes: Vec<NodeInfo> = store
        .iter(Kind::Node)
        .filter_map(|o| o.as_node().map(|n| NodeInfo::new(Arc::new(n.clone()))))
        .collect();
    let gpu_cluster = nodes.iter().any(|n| n.gpus.is_some());
    for object in store.iter(Kind::Pod) {
        if let Some(pod) = object.as_pod()
            && pod.is_bound()
            && !pod.is_terminal()
            && let Some(node) = nodes.iter_mut().find(|n| n.name() == pod.spec.node_name)
        {
            node.add_pod(Arc::new(PodInfo::new(Arc::new(pod.clone()))));
        }
    }
    let mut snapshot = Snapshot::new(nodes);
    if gpu_cluster {
        // The target workload the scheduler would have kept: every pod that exists.
        let pods = store.iter(Kind::Pod).filter_map(|o| o.as_pod());
        snapshot.set_gpu_workload(Arc::new(typical_of(pods)));
    }
    snapshot
}
