//! `kubesim explain SCENARIO --pod NS/NAME [--attempt N | --at T] [--json]`: why the scheduler
//! put a pod where it did, node by node — its own decision in a run, or what if at a moment.

use std::sync::Arc;

use super::{CliError, ExplainArgs, write_stdout};
use crate::api::{Kind, Object, ObjectKey};
use crate::controllers::hpa::controller::{HpaController, HpaSyncRecord, HpaTrace};
use crate::controllers::hpa::explain as hpa_explain;
use crate::scenario::{self, Scenario};
use crate::scheduler;
use crate::scheduler::cycle_trace::TracedPods;
use crate::scheduler::explain::{Explanation, explain, explain_attempt, to_table};
use crate::scheduler::gpu::workload::typical_of;
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};
use crate::sim::{SimTime, rng};
use crate::world::{self, Components, RunOptions};

/// Explains the placement of the pod, or the syncs of the HPA, named in `args`.
pub fn run(args: &ExplainArgs) -> Result<(), CliError> {
    let scenario = scenario::load(&args.scenario, &Components)
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    if let Some(hpa) = &args.hpa {
        return write_stdout(&hpa_syncs(
            args,
            &scenario,
            &ObjectKey::parse(hpa).or_default_namespace(),
        )?);
    }
    let key = ObjectKey::parse(args.pod.as_deref().unwrap_or_default()).or_default_namespace();
    let explanation = match args.at {
        Some(_) => what_if(args, scenario, &key)?,
        None => decision(args, &scenario, &key)?,
    };
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&explanation)
            .map_err(|e| CliError::bad_input(e.to_string()))?;
        json.push('\n');
        json
    } else {
        to_table(&explanation)
    };
    write_stdout(&text)
}

/// Runs the scenario keeping the HPA's syncs and explains the one at `--at`, or every one.
fn hpa_syncs(args: &ExplainArgs, scenario: &Scenario, key: &ObjectKey) -> Result<String, CliError> {
    if !scenario.controller_manager.enabled || scenario.replay.is_some() {
        return Err(CliError::bad_input(format!(
            "{} does not run kube-controller-manager, so no HPA was synced",
            args.scenario.display()
        )));
    }
    let options = RunOptions {
        seed: args.seed,
        trace_hpas: HpaTrace::Named([key.clone()].into()),
        ..RunOptions::default()
    };
    let mut sim = world::build(scenario, &options);
    sim.run(world::stop_at(scenario, None));
    let records = sim
        .model()
        .controller::<HpaController>()
        .map_or(&[][..], HpaController::records);
    let Some(first) = records.first() else {
        return Err(CliError::bad_input(format!(
            "the HPA controller never synced HorizontalPodAutoscaler {key} in this run: no \
             such HPA was created, or it was created less than one sync period \
             (--horizontal-pod-autoscaler-sync-period) before the end"
        )));
    };
    let window = scenario.controller_manager.hpa.downscale_stabilization;
    let chosen: Vec<&HpaSyncRecord> = match args.at {
        Some(at) => {
            let at = SimTime::ZERO + at;
            let record = hpa_explain::sync_at(records, at).ok_or_else(|| {
                CliError::bad_input(format!(
                    "HorizontalPodAutoscaler {key} was first synced at {}, after {at}",
                    first.at
                ))
            })?;
            vec![record]
        }
        None => records.iter().collect(),
    };
    let explanations = chosen.iter().map(|r| hpa_explain::explain(r, window));
    let mut text = String::new();
    for (i, e) in explanations.enumerate() {
        if args.json {
            let line = if args.at.is_some() {
                serde_json::to_string_pretty(&e)
            } else {
                serde_json::to_string(&e)
            }
            .map_err(|e| CliError::bad_input(e.to_string()))?;
            text.push_str(&line);
            text.push('\n');
        } else {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&hpa_explain::to_text(&e));
        }
    }
    Ok(text)
}

/// Runs the scenario as `kubesim run` does, tracing the pod's scheduling cycles, and explains
/// the attempt asked for.
fn decision(
    args: &ExplainArgs,
    scenario: &Scenario,
    key: &ObjectKey,
) -> Result<Explanation, CliError> {
    if scenario.replay.is_some() || !scenario.scheduler.enabled {
        return Err(CliError::bad_input(format!(
            "{} does not run kube-scheduler, so it made no decision to explain; \
             --at T evaluates the pod against the cluster at time T",
            args.scenario.display()
        )));
    }
    let options = RunOptions {
        seed: args.seed,
        trace_pods: TracedPods::Named([key.clone()].into()),
        ..RunOptions::default()
    };
    let mut sim = world::build(scenario, &options);
    sim.run(world::stop_at(scenario, None));
    let attempts = sim
        .model()
        .scheduler()
        .map_or(&[][..], |s| s.attempts().attempts(key));
    if attempts.is_empty() {
        return Err(CliError::bad_input(format!(
            "kube-scheduler never tried to schedule pod {key} in this run: no such pod was \
             created, or it names its node in spec.nodeName, or its schedulerName is no \
             profile's; --at T evaluates it against the cluster at time T"
        )));
    }
    let number = args.attempt.map_or(attempts.len(), |n| n as usize);
    explain_attempt(&key.to_string(), attempts, number).ok_or_else(|| {
        CliError::bad_input(format!(
            "pod {key} had {} scheduling attempt(s); --attempt must be between 1 and {}",
            attempts.len(),
            attempts.len()
        ))
    })
}

/// What if: the pod against every node of the cluster as it is at `args.at`.
fn what_if(
    args: &ExplainArgs,
    mut scenario: Scenario,
    key: &ObjectKey,
) -> Result<Explanation, CliError> {
    let seed = args.seed.unwrap_or(scenario.seed);
    // The profile must exist even when the scenario does not run the scheduler.
    let config = scheduler::config::resolve_seeded(&scenario.scheduler.config, seed)
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    scenario.scheduler.enabled = true;
    let at = SimTime::ZERO + args.at.unwrap_or_default();
    let mut sim = world::build(&scenario, &RunOptions::default());
    // Everything due at `at` has been applied once its requests executed and their watch
    // events arrived.
    let settle = scenario.apiserver.admission_latency + scenario.apiserver.watch_delay;
    sim.run_until(at + settle);
    let world = sim.model();
    let store = world.api().store();
    let Some(object) = store.get(Kind::Pod, key) else {
        return Err(CliError::bad_input(format!(
            "pod {key} does not exist at {}; expected the namespace/name of a pod in the scenario",
            at
        )));
    };
    let Object::Pod(pod) = &**object else {
        return Err(CliError::bad_input(format!("{key} is not a pod")));
    };
    let uid = pod.metadata.uid;
    let mut unplaced = (**pod).clone();
    Arc::make_mut(&mut unplaced.spec).node_name.clear();
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
    Ok(explanation)
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
        .filter_map(|o| o.as_node().map(|n| NodeInfo::new(Arc::clone(n))))
        .collect();
    let gpu_cluster = nodes.iter().any(|n| n.gpus.is_some());
    for object in store.iter(Kind::Pod) {
        if let Some(pod) = object.as_pod()
            && pod.is_bound()
            && !pod.is_terminal()
            && let Some(node) = nodes.iter_mut().find(|n| n.name() == pod.spec.node_name)
        {
            node.add_pod(Arc::new(PodInfo::new(Arc::clone(pod))));
        }
    }
    let mut snapshot = Snapshot::new(nodes);
    if gpu_cluster {
        // The target workload the scheduler would have kept: every pod that exists.
        let pods = store
            .iter(Kind::Pod)
            .filter_map(|o| o.as_pod().map(AsRef::as_ref));
        snapshot.set_gpu_workload(Arc::new(typical_of(pods)));
    }
    snapshot
}
