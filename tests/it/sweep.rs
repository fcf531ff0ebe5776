//! `kubesim sweep`: overrides of scenario fields (nested paths, list indices, the
//! KubeSchedulerConfiguration behind `scheduler.`, type errors named by key), the plan's order
//! and shards, byte-identical outputs whatever the parallelism, resuming, merging shards, the
//! CLI with the shard from the environment, replay scenarios (`spec.replay`) on a small trace,
//! and, when the real data is beside the project (`../shared/data/openb`), a quick sweep of
//! two policies over two seeds of the openb default trace.

use std::fs;
use std::path::{Path, PathBuf};

use kubesim::api::Object;
use kubesim::scenario::overrides::Override;
use kubesim::scenario::{ScenarioError, load_with_overrides};
use kubesim::sim::SimDuration;
use kubesim::sweep::plan::{Plan, Shard, Vary};
use kubesim::sweep::{self, SweepOutcome, SweepSettings};
use kubesim::world::Components;

use crate::support::{NODES_CSV, first_pods, kubesim, openb_data};

/// A small cluster scenario: one pool, 24 pods created at 1s, a KubeSchedulerConfiguration.
const SMALL: &str = "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: small
spec:
  seed: 3
  duration: 1m
  nodePools:
    - name: node
      count: 4
      zones: [a, b]
      template:
        allocatable: {cpu: \"4\", memory: 16Gi, pods: \"110\"}
        labels: {tier: \"01\", ratio: 1e3}
  timeline:
    - at: 1s
      createPods:
        count: 24
        template:
          metadata: {name: pod, namespace: perf}
          spec:
            containers:
              - name: c
                image: pause
                resources: {requests: {cpu: 300m, memory: 1000Mi}}
---
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: default-scheduler
    pluginConfig:
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: LeastAllocated
            resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
";

const SCORING: &str = "scheduler.profiles[0].pluginConfig[0].args.scoringStrategy.type";

fn write_small(dir: &Path) -> PathBuf {
    let path = dir.join("small.yaml");
    fs::write(&path, SMALL).expect("write the scenario");
    path
}

fn o(key: &str, value: &str) -> Override {
    Override::new(key, value).expect("a valid override path")
}

fn nodes(scenario: &kubesim::scenario::Scenario) -> Vec<&Object> {
    scenario
        .initial
        .iter()
        .filter(|o| matches!(o, Object::Node(_)))
        .collect()
}

#[test]
fn overrides_set_nested_fields_indices_and_the_scheduler_configuration() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let path = write_small(tmp.path());
    let base = load_with_overrides(&path, &[], &Components).expect("the scenario loads");
    assert_eq!(nodes(&base).len(), 4);

    let changed = load_with_overrides(
        &path,
        &[
            o("spec.nodePools[0].count", "7"),
            // A key that does not exist yet: created with its parents.
            o("spec.scheduler.cycleCost.perCycle", "50us"),
            o(SCORING, "MostAllocated"),
            o(
                "spec.nodePools[0].template.labels[\"topology.kubernetes.io/region\"]",
                "r1",
            ),
        ],
        &Components,
    )
    .expect("the overrides apply");
    let pool = nodes(&changed);
    assert_eq!(pool.len(), 7);
    assert_eq!(
        changed.scheduler.cycle_cost.per_cycle,
        "50us".parse::<SimDuration>().expect("a duration")
    );
    assert_eq!(
        changed.scheduler.config.profiles[0].plugin_config[0].args["scoringStrategy"]["type"],
        "MostAllocated"
    );
    let labels = &pool[0].meta().labels;
    assert_eq!(
        labels
            .get("topology.kubernetes.io/region")
            .map(String::as_str),
        Some("r1")
    );
    // Untouched scalars keep their types: the quoted "01" stays a string, and so the label.
    assert_eq!(labels.get("tier").map(String::as_str), Some("01"));
    // The hash is the files' hash: overrides are recorded beside it.
    assert_eq!(changed.hash, base.hash);

    // A scenario without a KubeSchedulerConfiguration gets one from a `scheduler.` override.
    let plain = tmp.path().join("plain.yaml");
    let text = SMALL.split("---").next().expect("the Scenario document");
    fs::write(&plain, text).expect("write");
    let with_config = load_with_overrides(
        &plain,
        &[o("scheduler.percentageOfNodesToScore", "20")],
        &Components,
    )
    .expect("the override creates a configuration");
    assert_eq!(
        with_config.scheduler.config.percentage_of_nodes_to_score,
        Some(20)
    );
}

/// The error of loading `small.yaml` with one override, as (field path, message).
fn override_error(key: &str, value: &str) -> (String, String) {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let path = write_small(tmp.path());
    match load_with_overrides(&path, &[o(key, value)], &Components) {
        Ok(_) => panic!("{key}={value} loaded"),
        Err(e) => {
            let text = e.to_string();
            (e.field_path().unwrap_or_default().to_owned(), text)
        }
    }
}

#[test]
fn values_that_do_not_fit_are_errors_naming_the_key() {
    for (key, value, expected) in [
        (
            "spec.nodePools[0].count",
            "many",
            "expected a non-negative integer",
        ),
        (
            "spec.scheduler.cycleCost.perCycle",
            "fast",
            "expected a duration",
        ),
        (
            "spec.nodePools[3].count",
            "2",
            "index [3] is out of range: `spec.nodePools` has 1 item(s)",
        ),
        ("spec.nodePools[0].cuont", "2", "unknown field `cuont`"),
        ("spec.seed.x", "1", "`spec.seed` is not a map"),
        (SCORING, "Bogus", "expected one of `LeastAllocated`"),
        (
            "scheduler.profiles[0].bogus",
            "1",
            "kubesim does not read this field",
        ),
        (
            "spec.timeline[0].at",
            "5m",
            "beyond the scenario's duration",
        ),
    ] {
        let (path, text) = override_error(key, value);
        assert_eq!(path, key, "{key}={value}: {text}");
        assert!(
            text.contains(expected) && text.contains("small.yaml"),
            "{key}={value}: {text}"
        );
    }
    // Malformed paths are refused before anything loads.
    for bad in [
        "seed=1",
        "spec.nodePools[x].count=1",
        "spec.a=1,,2",
        "spec.a=1,1",
    ] {
        assert!(Vary::parse(bad).is_err(), "{bad}");
    }
    assert!(matches!(
        Override::new("spec..seed", "1"),
        Err(kubesim::scenario::overrides::OverrideError { .. })
    ));
}

#[test]
fn the_plan_is_keys_then_values_then_seeds_and_shards_partition_it() {
    let vary = vec![
        Vary::parse("spec.nodePools[0].count=3,4").expect("vary"),
        Vary::parse(&format!("{SCORING}=LeastAllocated,MostAllocated,'x,y'")).expect("vary"),
    ];
    let plan = Plan::new(vary, vec![5, 6]).expect("a plan");
    assert_eq!(plan.runs.len(), 12);
    let order: Vec<(String, String, u64)> = plan
        .runs
        .iter()
        .map(|r| {
            (
                r.overrides[0].value.clone(),
                r.overrides[1].value.clone(),
                r.seed,
            )
        })
        .collect();
    assert_eq!(order[0], ("3".into(), "LeastAllocated".into(), 5));
    assert_eq!(order[1], ("3".into(), "LeastAllocated".into(), 6));
    assert_eq!(order[2], ("3".into(), "MostAllocated".into(), 5));
    assert_eq!(order[5], ("3".into(), "'x,y'".into(), 6));
    assert_eq!(order[6], ("4".into(), "LeastAllocated".into(), 5));
    assert_eq!(plan.runs[3].folder, "003-count-3_type-MostAllocated_seed-6");
    for (i, r) in plan.runs.iter().enumerate() {
        assert_eq!(r.index, i);
        assert_eq!(r.combination, i / 2);
    }

    for count in 1..=5 {
        let mut seen: Vec<usize> = Vec::new();
        for index in 0..count {
            let shard = Shard::new(index, count).expect("a shard");
            seen.extend(plan.shard(shard).map(|r| r.index));
        }
        seen.sort_unstable();
        // Union = every run; disjoint = no run twice.
        assert_eq!(seen, (0..12).collect::<Vec<_>>(), "{count} shards");
    }
}

fn settings(scenario: &Path, out: &Path, jobs: usize, shard: Shard) -> SweepSettings {
    SweepSettings {
        scenario: scenario.to_path_buf(),
        vary: vec![
            Vary::parse("spec.nodePools[0].count=3,4").expect("vary"),
            Vary::parse(&format!("{SCORING}=LeastAllocated,MostAllocated")).expect("vary"),
        ],
        seeds: Some(vec![1, 2]),
        jobs: Some(jobs),
        out: Some(out.to_path_buf()),
        shard,
    }
}

fn sweep_into(scenario: &Path, out: &Path, jobs: usize, shard: Shard) -> SweepOutcome {
    sweep::run(&settings(scenario, out, jobs, shard), &|_| {}).expect("the sweep runs")
}

/// Every file under `dir` (relative, sorted) with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, into: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in fs::read_dir(dir).expect("read a folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let bytes = fs::read(&path).expect("read a file");
                into.push((path.strip_prefix(root).expect("under").to_path_buf(), bytes));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    let names = |t: &[(PathBuf, Vec<u8>)]| t.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ta), names(&tb), "{} vs {}", a.display(), b.display());
    for ((path, x), (_, y)) in ta.iter().zip(&tb) {
        assert!(
            x == y,
            "{} differs between {} and {}",
            path.display(),
            a.display(),
            b.display()
        );
    }
}

#[test]
fn one_job_and_two_jobs_give_byte_identical_sweeps() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let scenario = write_small(tmp.path());
    let one = tmp.path().join("j1");
    let two = tmp.path().join("j2");
    let a = sweep_into(&scenario, &one, 1, Shard::default());
    let b = sweep_into(&scenario, &two, 2, Shard::default());
    assert_eq!((a.planned, a.ran, a.skipped, a.missing), (8, 8, 0, 0));
    assert!(a.failed.is_empty() && b.failed.is_empty());
    assert_eq!(a.answer, b.answer);
    assert_same_tree(&one, &two);

    let files: Vec<String> = tree(&one)
        .iter()
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .filter(|p| !p.starts_with("runs"))
        .collect();
    for expected in [
        "charts/pods_pending.svg",
        "charts/scheduling_latency_p99_ms.svg",
        "comparison.csv",
        "report.html",
        "sweep.csv",
        "sweep.json",
    ] {
        assert!(
            files.iter().any(|f| f == expected),
            "{expected} in {files:?}"
        );
    }
    let csv = fs::read_to_string(one.join("sweep.csv")).expect("sweep.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 9, "{csv}");
    assert_eq!(
        lines[0],
        format!(
            "index,spec.nodePools[0].count,{SCORING},seed,pods_bound,pods_pending,\
             scheduling_latency_p50_ms,scheduling_latency_p99_ms,cpu_allocation_pct,api_requests"
        )
    );
    assert!(
        lines[1].starts_with("0,3,LeastAllocated,1,24,0,"),
        "{}",
        lines[1]
    );
    let comparison = fs::read_to_string(one.join("comparison.csv")).expect("comparison.csv");
    assert_eq!(comparison.lines().count(), 5, "{comparison}");
    // Each run folder is a full report with the sweep's mark in run.json.
    let run = one.join("runs/005-count-4_type-LeastAllocated_seed-2");
    for file in ["summary.json", "timeseries.csv", "report.html", "run.json"] {
        assert!(run.join(file).is_file(), "{file} in {}", run.display());
    }
    let run_json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("run.json")).expect("run.json"))
            .expect("JSON");
    assert_eq!(run_json["seed"], 2);
    assert_eq!(run_json["sweep"]["index"], 5);
    assert_eq!(run_json["sweep"]["overrides"][0]["value"], "4");
    let html = fs::read_to_string(one.join("report.html")).expect("report.html");
    assert!(
        html.contains("Best by fewest") || html.contains("Best by lowest"),
        "answer first"
    );
}

#[test]
fn an_interrupted_sweep_resumes_and_skips_finished_runs() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let scenario = write_small(tmp.path());
    let out = tmp.path().join("out");
    let first = sweep_into(&scenario, &out, 2, Shard::default());
    assert_eq!((first.ran, first.skipped), (8, 0));
    let before = tree(&out);
    // An interruption: two runs never finished, one left a folder without run.json.
    fs::remove_dir_all(out.join("runs/001-count-3_type-LeastAllocated_seed-2")).expect("rm");
    fs::remove_dir_all(out.join("runs/006-count-4_type-MostAllocated_seed-1")).expect("rm");
    fs::remove_file(out.join("runs/004-count-4_type-LeastAllocated_seed-1/run.json")).expect("rm");
    for f in ["sweep.csv", "comparison.csv", "report.html"] {
        fs::remove_file(out.join(f)).expect("rm");
    }
    let second = sweep_into(&scenario, &out, 2, Shard::default());
    assert_eq!((second.ran, second.skipped, second.missing), (3, 5, 0));
    assert_eq!(tree(&out), before);
    let third = sweep_into(&scenario, &out, 1, Shard::default());
    assert_eq!((third.ran, third.skipped), (0, 8));

    // Another sweep (other seeds) into the same folder is refused.
    let mut other = settings(&scenario, &out, 1, Shard::default());
    other.seeds = Some(vec![1, 2, 3]);
    let err = sweep::run(&other, &|_| {}).err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("different sweep")),
        "{err:?}"
    );
}

#[test]
fn merging_two_shard_folders_equals_the_unsharded_sweep() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let scenario = write_small(tmp.path());
    let whole = tmp.path().join("whole");
    sweep_into(&scenario, &whole, 2, Shard::default());
    let a = tmp.path().join("shard-0");
    let b = tmp.path().join("shard-1");
    let sa = sweep_into(&scenario, &a, 1, Shard::new(0, 2).expect("shard"));
    let sb = sweep_into(&scenario, &b, 1, Shard::new(1, 2).expect("shard"));
    assert_eq!((sa.in_shard, sa.ran, sa.missing), (4, 4, 4));
    assert_eq!((sb.in_shard, sb.ran, sb.missing), (4, 4, 4));
    assert!(sa.answer.is_none() && !a.join("sweep.csv").exists());
    let merged = tmp.path().join("merged");
    let outcome = sweep::merge(&[a.clone(), b.clone()], Some(&merged)).expect("merge");
    assert_eq!((outcome.runs, outcome.copied), (8, 8));
    assert_same_tree(&whole, &merged);
    // Merging in place into the first shard's folder gives the same too.
    sweep::merge(&[a.clone(), b], None).expect("merge in place");
    assert_same_tree(&whole, &a);
    // A folder that lacks runs cannot make the comparison.
    let lonely = tmp.path().join("lonely");
    sweep_into(&scenario, &lonely, 1, Shard::new(1, 3).expect("shard"));
    let err = sweep::merge(&[lonely], None).err().map(|e| e.to_string());
    assert!(
        err.as_deref().is_some_and(|e| e.contains("not finished")),
        "{err:?}"
    );
}

#[test]
fn the_cli_takes_its_shard_from_an_indexed_job_and_merges() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    write_small(tmp.path());
    let args = [
        "sweep",
        "small.yaml",
        "--vary",
        "spec.nodePools[0].count=3,4,5",
        "--seeds",
        "1..2",
        "--out",
        "results",
        "--shard-from-env",
    ];
    // Shards 0 and 1 of 3 (a Kubernetes Indexed Job): runs 0, 3 and 1, 4 of 6.
    for index in ["0", "1"] {
        let (code, stdout, stderr) = kubesim(
            &args,
            tmp.path(),
            &[("JOB_COMPLETION_INDEX", index), ("KUBESIM_SHARDS", "3")],
        );
        assert_eq!(code, Some(0), "{stdout}{stderr}");
        assert!(stdout.contains("2 ran, 0 already done"), "{stdout}");
        assert!(stdout.contains("kubesim sweep merge results"), "{stdout}");
    }
    let runs = fs::read_dir(tmp.path().join("results/runs"))
        .expect("runs")
        .count();
    assert_eq!(runs, 4);
    assert!(!tmp.path().join("results/sweep.csv").exists());
    // The last shard (a Slurm array numbered from 1) finds every run there and compares.
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "3"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
    ];
    let (code, stdout, stderr) = kubesim(&args, tmp.path(), &slurm);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("(shard 2/3): 2 ran, 0 already done"),
        "{stdout}"
    );
    assert!(
        stdout.contains("best: spec.nodePools[0].count="),
        "{stdout}"
    );
    assert!(tmp.path().join("results/report.html").is_file());
    let (code, stdout, stderr) = kubesim(&args, tmp.path(), &slurm);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("0 ran, 2 already done"), "{stdout}");
    let (code, stdout, stderr) = kubesim(&["sweep", "merge", "results"], tmp.path(), &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("merged: 6 runs (0 copied"), "{stdout}");

    let (code, _, stderr) = kubesim(&args, tmp.path(), &[]);
    assert_eq!(code, Some(1), "no shard in the environment: {stderr}");
    assert!(stderr.contains("KUBESIM_SHARDS"), "{stderr}");
    let (code, _, stderr) = kubesim(
        &[
            "sweep",
            "small.yaml",
            "--vary",
            "spec.nodePools[0].count=x",
            "--out",
            "bad",
        ],
        tmp.path(),
        &[],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("field `spec.nodePools[0].count`: override value \"x\""),
        "{stderr}"
    );
    assert!(!tmp.path().join("bad/runs").exists(), "nothing ran");
    let (code, _, stderr) = kubesim(&["sweep", "small.yaml", "--shard", "2/2"], tmp.path(), &[]);
    assert_eq!(code, Some(2), "{stderr}");
}

fn replay_scenario(dir: &Path, nodes: &str, pods: &str, policy: &str) -> PathBuf {
    let path = dir.join("replay.yaml");
    fs::write(
        &path,
        format!(
            "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: tiny-replay}}\n\
             spec:\n  seed: 4\n  replay: {{trace: openb, nodes: {nodes}, pods: {pods}, policy: {policy}}}\n"
        ),
    )
    .expect("write the scenario");
    path
}

#[test]
fn a_replay_scenario_runs_the_replay_and_sweeps_its_policy() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    fs::create_dir_all(tmp.path().join("trace")).expect("mkdir");
    fs::write(tmp.path().join("trace/nodes.csv"), NODES_CSV).expect("write");
    fs::write(tmp.path().join("trace/pods.csv"), first_pods(14)).expect("write");
    let scenario = replay_scenario(tmp.path(), "trace/nodes.csv", "trace/pods.csv", "fgd");

    // `kubesim run` on a replay scenario writes the replay outputs, from any working folder.
    let (code, stdout, stderr) = kubesim(
        &[
            "run",
            "replay.yaml",
            "--seed",
            "7",
            "--out",
            "one",
            "--quiet",
        ],
        tmp.path(),
        &[],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for file in [
        "replay.csv",
        "summary.json",
        "charts/replay.svg",
        "run.json",
    ] {
        assert!(tmp.path().join("one").join(file).is_file(), "{file}");
    }
    let run_json = fs::read_to_string(tmp.path().join("one/run.json")).expect("run.json");
    assert!(
        run_json.contains("\"nodesFile\": \"trace/nodes.csv\""),
        "{run_json}"
    );
    assert!(run_json.contains("\"policy\": \"fgd\""), "{run_json}");

    let out = tmp.path().join("policies");
    let policies = "random,dotprod,gpuclustering,gpupacking,bestfit,fgd";
    let outcome = sweep::run(
        &SweepSettings {
            scenario: scenario.clone(),
            vary: vec![Vary::parse(&format!("spec.replay.policy={policies}")).expect("vary")],
            seeds: Some(vec![1, 2]),
            jobs: Some(2),
            out: Some(out.clone()),
            shard: Shard::default(),
        },
        &|_| {},
    )
    .expect("the replay sweep runs");
    assert_eq!((outcome.ran, outcome.missing), (12, 0));
    let csv = fs::read_to_string(out.join("sweep.csv")).expect("sweep.csv");
    assert!(
        csv.starts_with(
            "index,spec.replay.policy,seed,gpu_alloc_pct_at_100,gpu_alloc_pct_at_130,\
             frag_amount_pct_at_130,failed_pods\n0,random,1,"
        ),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 13);
    assert!(out.join("charts/gpu_alloc_pct_at_130.svg").is_file());
    // The sweep's run of fgd with seed 2 is the replay `kubesim run --seed 2` writes.
    let (code, stdout, stderr) = kubesim(
        &[
            "run",
            "replay.yaml",
            "--seed",
            "2",
            "--out",
            "fgd-2",
            "--quiet",
        ],
        tmp.path(),
        &[],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for file in ["replay.csv", "summary.json", "charts/replay.svg"] {
        assert_eq!(
            fs::read(out.join("runs/011-policy-fgd_seed-2").join(file)).expect("sweep run"),
            fs::read(tmp.path().join("fgd-2").join(file)).expect("single run"),
            "{file}"
        );
    }

    // Bad replay sections are errors naming the field.
    for (nodes, policy, path, expected) in [
        (
            "trace/nodes.csv",
            "fastest",
            "spec.replay.policy",
            "unknown policy",
        ),
        ("trace/none.csv", "fgd", "spec.replay.nodes", "cannot read"),
    ] {
        let bad = replay_scenario(tmp.path(), nodes, "trace/pods.csv", policy);
        let err = kubesim::scenario::load(&bad, &Components).err();
        assert!(
            matches!(&err, Some(ScenarioError::Invalid { path: p, message, .. })
                if p == path && message.contains(expected)),
            "{err:?}"
        );
    }
}

#[test]
fn a_quick_sweep_of_two_policies_on_the_openb_default_trace() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/openb-policies.yaml");
    if openb_data().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = tmp.path().join("openb");
    let outcome = sweep::run(
        &SweepSettings {
            scenario,
            vary: vec![Vary::parse("spec.replay.policy=bestfit,fgd").expect("vary")],
            seeds: Some(vec![1, 2]),
            jobs: Some(2),
            out: Some(out.clone()),
            shard: Shard::default(),
        },
        &|_| {},
    )
    .expect("the sweep runs");
    assert_eq!((outcome.ran, outcome.missing), (4, 0));
    let comparison = fs::read_to_string(out.join("comparison.csv")).expect("comparison.csv");
    let rows: Vec<&str> = comparison.lines().collect();
    assert_eq!(rows.len(), 3, "{comparison}");
    assert!(
        rows[1].starts_with("bestfit,2,") && rows[2].starts_with("fgd,2,"),
        "{comparison}"
    );
    // fgd-spec: FGD allocates more of the GPUs than Best-fit once the cluster is oversubscribed.
    assert!(
        outcome
            .answer
            .as_deref()
            .is_some_and(|a| a.contains("spec.replay.policy=fgd")),
        "{:?}",
        outcome.answer
    );
}

/// A small restart storm: 3 nodes, kubelets and kube-proxies, a Deployment of 6 pods, the
/// apiserver down at 60 s for 10 s; `flowControl` is what the sweep varies.
fn write_storm(dir: &Path) -> PathBuf {
    let text = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: storm}}
spec:
  duration: 4m
  apiserver: {{flowControl: apf}}
  nodePools:
    - name: n
      count: 3
      zones: [a]
      template:
        allocatable: {{cpu: \"8\", memory: 32Gi, pods: \"110\"}}
  timeline:
    - {{at: 60s, apiserverRestart: {{downtime: 10s}}}}
  report: {{sampleEvery: 5s}}
{}",
        crate::support::web_deployment(6)
    );
    let path = dir.join("storm.yaml");
    fs::write(&path, text).expect("write the scenario");
    path
}

#[test]
fn a_sweep_of_the_flow_control_modes_compares_their_restart_storms() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let scenario = write_storm(tmp.path());
    let out = tmp.path().join("modes");
    let settings = SweepSettings {
        scenario,
        vary: vec![
            Vary::parse("spec.apiserver.flowControl=maxInflight,apf,dynamic").expect("vary"),
        ],
        seeds: None,
        jobs: Some(1),
        out: Some(out.clone()),
        shard: Shard::default(),
    };
    sweep::run(&settings, &|_| {}).expect("the sweep runs");

    // sweep.csv: the cluster's columns, then the restart's, each read from the run's summary.
    let csv = fs::read_to_string(out.join("sweep.csv")).expect("sweep.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    for column in [
        "recovered_after_s",
        "restart_relists",
        "restart_429s",
        "informers_not_following_peak",
        "flowcontrol_rejected",
    ] {
        assert!(header.contains(&column), "no {column} in {header:?}");
    }
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or(usize::MAX);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3);
    let folders: Vec<PathBuf> = {
        let mut f: Vec<PathBuf> = fs::read_dir(out.join("runs"))
            .expect("runs")
            .map(|e| e.expect("entry").path())
            .collect();
        f.sort();
        f
    };
    for (row, folder) in rows.iter().zip(&folders) {
        let summary: serde_json::Value =
            serde_json::from_slice(&fs::read(folder.join("summary.json")).expect("summary"))
                .expect("JSON");
        let clients = &summary["stampede"]["clients"];
        let restart = &clients["restarts"][0];
        let after: SimDuration = restart["recoveredAfter"]
            .as_str()
            .unwrap_or("none")
            .parse()
            .expect("recovered from");
        assert_eq!(
            row[col("recovered_after_s")].parse::<f64>().ok(),
            Some(after.as_nanos() as f64 / 1e9),
            "{}",
            folder.display()
        );
        assert_eq!(row[col("restart_relists")], restart["relists"].to_string());
        assert_eq!(
            row[col("restart_429s")],
            restart["apiserverRequestTotal429"].to_string()
        );
        // Every informer was cut off while the apiserver was down.
        assert_eq!(
            row[col("informers_not_following_peak")],
            clients["informers"].to_string()
        );
        let rejected: f64 = summary["stampede"]["flowcontrol"]["priorityLevels"]
            .as_object()
            .expect("levels")
            .values()
            .map(|l| {
                l["apiserver_flowcontrol_rejected_requests_total"]
                    .as_f64()
                    .unwrap_or(0.0)
            })
            .sum();
        assert_eq!(row[col("flowcontrol_rejected")], format!("{rejected:.0}"));
    }

    // The report: the overlay of the three storms and the rejections by level side by side.
    let chart = fs::read_to_string(out.join("charts/informers_not_following.svg"))
        .expect("charts/informers_not_following.svg");
    for mode in ["maxInflight", "apf", "dynamic"] {
        assert!(chart.contains(mode), "no {mode} in the overlay's legend");
    }
    let html = fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("Informers not following changes"));
    assert!(html.contains("Requests rejected by flow control, by level"));
    // APF's levels and max-in-flight's request kinds are columns of the same table.
    assert!(html.contains("workload-low"), "no APF level in the table");
    assert!(html.contains("clients recovered after the restart"));
}

#[test]
fn a_sweep_without_a_modelled_apiserver_has_no_restart_columns() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let scenario = write_small(tmp.path());
    let out = tmp.path().join("plain");
    let settings = SweepSettings {
        scenario,
        vary: vec![Vary::parse("spec.nodePools[0].count=3,4").expect("vary")],
        seeds: None,
        jobs: Some(1),
        out: Some(out.clone()),
        shard: Shard::default(),
    };
    sweep::run(&settings, &|_| {}).expect("the sweep runs");
    let csv = fs::read_to_string(out.join("sweep.csv")).expect("sweep.csv");
    assert!(!csv.contains("recovered_after_s"), "{csv}");
    assert!(!out.join("charts/informers_not_following.svg").exists());
}
