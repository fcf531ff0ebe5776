//! The openb replay (fgd-spec §3.2, §4) end to end: a tiny trace in the openb schema, written
//! into a temporary folder, replayed under every policy (inflation, shuffle, one attempt per pod,
//! the GPU each pod gets inside its node); `kubesim replay openb` and its outputs; malformed rows;
//! and, when the real data is beside the project (`../shared/data/openb`), the numbers fgd-spec
//! states for the default trace.

use std::fs;
use std::path::{Path, PathBuf};

use kubesim::config::gpu_sharing::Policy;
use kubesim::scheduler::gpu::fgd;
use kubesim::scheduler::gpu::fragmentation::ClusterFrag;
use kubesim::scheduler::gpu::replay::{CSV_HEADER, prepare_pods, replay};
use kubesim::scheduler::gpu::select::{best_gpu, exclusive_gpus};
use kubesim::scheduler::gpu::{NodeGpus, PodGpuRequest, TypicalPods};
use kubesim::workload::openb::{NodeSpec, read_nodes, read_pods};
use kubesim::world::Components;

use crate::support::{NODES_CSV, PODS_CSV, kubesim, openb_data};

/// Writes the fixture into a fresh folder; returns it with the node and pod list paths.
fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let nodes = dir.path().join("nodes.csv");
    let pods = dir.path().join("pods.csv");
    fs::write(&nodes, NODES_CSV).expect("write nodes");
    fs::write(&pods, PODS_CSV).expect("write pods");
    (dir, nodes, pods)
}

fn load(nodes: &Path, pods: &Path) -> (Vec<NodeSpec>, Vec<kubesim::workload::openb::PodRow>) {
    (
        read_nodes(nodes, &Components).expect("fixture nodes"),
        read_pods(pods).expect("fixture pods"),
    )
}

#[test]
fn fixture_is_inflated_shuffled_and_each_pod_tried_once() {
    let (_dir, nodes_path, pods_path) = fixture();
    let (nodes, pods) = load(&nodes_path, &pods_path);
    for seed in 42..=46 {
        let prepared = prepare_pods(&pods, 14_000, seed);
        // Inflation: clones appended after the 16 originals, up to the stop rule:
        // the loop ends on a clone whose per-GPU milli would pass 18 200, so the final
        // request is above 18 200 − 1000 (the largest per-GPU milli) and at most
        // 18 200 + 1000 (the only multi-GPU pod, 2 × 1000, is accepted at G ≤ 17 200).
        assert!(prepared.clones > 0, "seed {seed}");
        assert_eq!(prepared.pods.len(), 16 + prepared.clones);
        assert!(
            (17_201..=19_200).contains(&prepared.gpu_milli),
            "seed {seed}: {}",
            prepared.gpu_milli
        );
        assert!(
            prepared.pods[16..]
                .iter()
                .all(|p| p.name.contains("-tuned-"))
        );
        // Shuffle: the originals come first, all of them, not in name order.
        let mut originals: Vec<&str> = prepared.pods[..16]
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let shuffled = originals.clone();
        originals.sort_unstable();
        assert_eq!(
            originals,
            (0..16).map(|i| format!("p{i:02}")).collect::<Vec<_>>()
        );
        assert_ne!(shuffled, originals, "seed {seed}: not shuffled");

        for policy in Policy::ALL {
            let result = replay(&nodes, &pods, policy, seed);
            // One attempt per pod, in list order, one sample after each.
            let names: Vec<&str> = result.attempts.iter().map(|a| a.pod.as_str()).collect();
            let expected: Vec<&str> = prepared.pods.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, expected, "{policy} seed {seed}");
            assert_eq!(result.samples.len(), expected.len());
            assert_eq!(result.prepared.clones, prepared.clones);
            // Arrived counts every pod's GPU request, failed ones too.
            assert_eq!(
                result.samples.last().map(|s| s.arrived_milli),
                Some(prepared.gpu_milli)
            );
            // The cluster is over-subscribed (130 %): some pods must fail.
            assert!(result.failed() > 0, "{policy} seed {seed}");
            assert_eq!(result.bins.len(), 131);
        }
    }
}

#[test]
fn each_policy_chooses_gpus_inside_the_node_by_its_rule() {
    // Replays the attempts on a copy of the cluster and checks every GPU choice against the
    // rule of fgd-spec §1.4 for the state just before it.
    let (_dir, nodes_path, pods_path) = fixture();
    let (nodes, pods) = load(&nodes_path, &pods_path);
    let requests: Vec<PodGpuRequest> = pods.iter().map(PodGpuRequest::from_row).collect();
    let typical = TypicalPods::from_pods(&requests);
    for policy in Policy::ALL {
        let mut checked_sharing = 0;
        for seed in 42..=44 {
            let prepared = prepare_pods(&pods, 14_000, seed);
            let result = replay(&nodes, &pods, policy, seed);
            let mut state: Vec<NodeGpus> = nodes.iter().map(NodeGpus::new).collect();
            for (attempt, row) in result.attempts.iter().zip(&prepared.pods) {
                let pod = PodGpuRequest::from_row(row);
                let Some(n) = attempt.node else { continue };
                let node = &state[n];
                if !pod.is_gpu() {
                    assert!(attempt.gpus.is_empty());
                } else if pod.is_exclusive() {
                    // Every policy: the lowest-index fully free GPUs.
                    assert_eq!(attempt.gpus, exclusive_gpus(node, pod.num_gpu as usize));
                } else {
                    let &[gpu] = attempt.gpus.as_slice() else {
                        panic!("{policy}: sharing pod got {:?}", attempt.gpus)
                    };
                    assert!(node.gpu_left[gpu] >= pod.gpu_milli);
                    match policy {
                        // Random: any GPU that fits (checked above).
                        Policy::Random => {}
                        Policy::Fgd => {
                            assert_eq!(Some(gpu), fgd::evaluate(node, &pod, &typical).1)
                        }
                        _ => assert_eq!(Some(gpu), best_gpu(node, pod.gpu_milli), "{policy}"),
                    }
                    checked_sharing += 1;
                }
                state[n].place(&pod, &attempt.gpus);
            }
            // The replay's own accounting agrees with the replayed placements.
            let used: i64 = state.iter().map(NodeGpus::allocated_milli).sum();
            assert_eq!(result.samples.last().map(|s| s.used_milli), Some(used));
            let frag = ClusterFrag::of(&state, &typical);
            assert_eq!(
                result.samples.last().map(|s| s.frag_scaled),
                Some(frag.frag_scaled)
            );
        }
        assert!(checked_sharing > 10, "{policy}: {checked_sharing}");
    }
}

#[test]
fn policies_differ_and_runs_repeat() {
    let (_dir, nodes_path, pods_path) = fixture();
    let (nodes, pods) = load(&nodes_path, &pods_path);
    let a = replay(&nodes, &pods, Policy::Fgd, 42);
    let b = replay(&nodes, &pods, Policy::Fgd, 42);
    assert_eq!(a.attempts, b.attempts);
    assert_eq!(a.bins, b.bins);
    // Same seed, same pod order under every policy (common random numbers).
    let r = replay(&nodes, &pods, Policy::Random, 42);
    let names = |x: &kubesim::scheduler::gpu::replay::ReplayResult| {
        x.attempts.iter().map(|t| t.pod.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&a), names(&r));
}

/// `kubesim replay openb --nodes nodes.csv --pods PODS --policy POLICY --seed SEED EXTRA…` in
/// `cwd`.
fn replay_openb(
    cwd: &Path,
    pods: &str,
    policy: &str,
    seed: &str,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let mut args = vec![
        "replay",
        "openb",
        "--nodes",
        "nodes.csv",
        "--pods",
        pods,
        "--policy",
        policy,
        "--seed",
        seed,
    ];
    args.extend(extra);
    kubesim(&args, cwd, &[])
}

#[test]
fn cli_writes_the_report_and_rejects_bad_rows() {
    let (dir, _, _) = fixture();
    let cwd = dir.path();
    let (code, stdout, stderr) = replay_openb(cwd, "pods.csv", "FGD", "42", &[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let out = cwd.join("reports/replay-fgd-42");
    let csv = fs::read_to_string(out.join("replay.csv")).expect("replay.csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(CSV_HEADER));
    assert_eq!(csv.lines().count(), 1 + 131);
    assert!(csv.lines().nth(1).is_some_and(|l| l.starts_with("0,")));
    assert!(csv.lines().last().is_some_and(|l| l.starts_with("130,")));
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("summary.json")).expect("summary.json"))
            .expect("summary.json parses");
    assert_eq!(summary["policy"], "fgd");
    assert_eq!(summary["seed"], 42);
    assert!(summary["failedPods"].as_u64().is_some_and(|f| f > 0));
    assert!(summary["failedPodGroups"].is_array());
    let svg = fs::read_to_string(out.join("charts/replay.svg")).expect("chart");
    assert!(svg.contains("openb replay: FGD, seed 42"));
    assert!(svg.contains(">\n100%\n</text>") || svg.contains(">\n120%\n</text>"));
    // Same inputs, same bytes; and a second run may replace its own report.
    let (code, _, stderr) = replay_openb(cwd, "pods.csv", "FGD", "42", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        fs::read_to_string(out.join("replay.csv")).expect("replay.csv"),
        csv
    );

    // A malformed row: exit 1, file, line, column and expectation; nothing written.
    fs::write(
        cwd.join("bad.csv"),
        PODS_CSV.replace("p07,1000,2048,1,250", "p07,1000,2048,x,250"),
    )
    .expect("write bad pods");
    let (code, _, stderr) = replay_openb(cwd, "bad.csv", "bestfit", "1", &["--out", "bad-out"]);
    assert_eq!(code, Some(1), "{stderr}");
    // Header = line 1, p00 = line 2, so p07 is line 9.
    assert!(
        stderr.contains("bad.csv:9: column num_gpu: expected a non-negative integer, found \"x\""),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    assert!(!cwd.join("bad-out").exists());
    let (code, _, stderr) = replay_openb(cwd, "pods.csv", "first-fit", "1", &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unknown policy"), "{stderr}");
}

#[test]
fn default_trace_typical_pods_and_initial_fragmentation() {
    let Some(data) = openb_data() else { return };
    let pods = read_pods(&data.join("openb_pod_list_default.csv")).expect("default pods");
    let nodes =
        read_nodes(&data.join("openb_node_list_gpu_node.csv"), &Components).expect("gpu nodes");
    assert_eq!((pods.len(), nodes.len()), (8152, 1213));
    assert_eq!(nodes.iter().map(|n| i64::from(n.gpus)).sum::<i64>(), 6212);
    let requests: Vec<PodGpuRequest> = pods.iter().map(PodGpuRequest::from_row).collect();
    assert_eq!(
        requests
            .iter()
            .map(PodGpuRequest::total_gpu_milli)
            .sum::<i64>(),
        6_086_800
    );
    // fgd-spec §2.7: 91 types, 35 typical covering 95.26 %, CPU-only Σp = 0.1360; the top
    // types (3152 m, 810 × 1) 0.1348 and (11300 m, 1000 × 1) 0.1125.
    let typical = TypicalPods::from_pods(&requests);
    assert_eq!(typical.distinct_types(), 91);
    assert_eq!(typical.types().len(), 35);
    assert_eq!((10_000.0 * typical.coverage()).round(), 9526.0);
    assert_eq!((10_000.0 * typical.cpu_only_popularity()).round(), 1360.0);
    let top = &typical.types()[0].key;
    assert_eq!((top.cpu_milli, top.gpu_milli, top.num_gpu), (3152, 810, 1));
    assert_eq!((10_000.0 * typical.popularity(0)).round(), 1348.0);
    let second = &typical.types()[1].key;
    assert_eq!(
        (second.cpu_milli, second.gpu_milli, second.num_gpu),
        (11300, 1000, 1)
    );
    assert_eq!((10_000.0 * typical.popularity(1)).round(), 1125.0);
    // fgd-spec §6: empty cluster F = 866,233 milli = 13.94 % of 6,212,000.
    let state: Vec<NodeGpus> = nodes.iter().map(NodeGpus::new).collect();
    let frag = ClusterFrag::of(&state, &typical);
    assert_eq!(frag.amount_milli().round(), 866_233.0);
    assert_eq!(
        (10_000.0 * frag.amount_milli() / 6_212_000.0).round(),
        1394.0
    );
}

#[test]
fn node_manifests_and_node_csv_describe_the_same_cluster() {
    let Some(data) = openb_data() else { return };
    let csv =
        read_nodes(&data.join("openb_node_list_gpu_node.csv"), &Components).expect("csv nodes");
    let yaml = read_nodes(
        &data.join("node_yaml/openb_node_list_gpu_node.yaml"),
        &Components,
    )
    .expect("yaml nodes");
    assert_eq!(csv, yaml);
}

#[test]
fn every_pod_list_of_the_trace_reads() {
    let Some(data) = openb_data() else { return };
    let mut lists = 0;
    for entry in fs::read_dir(&data).expect("data folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.starts_with("openb_pod_list_") && n.ends_with(".csv")) {
            let pods = read_pods(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!pods.is_empty(), "{}", path.display());
            lists += 1;
        }
    }
    assert_eq!(lists, 24);
}
