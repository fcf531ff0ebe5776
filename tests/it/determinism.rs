//! Determinism: a run is a pure function of the scenario bytes, the seed and the kubesim
//! version. Every shipped scenario run twice with one seed gives byte-identical outputs; two
//! seeds give different trace digests wherever the scenario draws random numbers; and the
//! committed report is what the README command regenerates.
//!
//! Every test runs the real binary with the repository root as working directory, as a user
//! following the README would.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use kubesim::world::Components;

/// Whether a scenario draws from the seeded random streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Randomness {
    /// It draws random numbers: different seeds must give different trace digests.
    Draws,
    /// It draws none: the seed must not change the trace digest. (No shipped scenario is one
    /// today: every scenario with nodes and kubelets draws their step durations.)
    #[allow(dead_code)]
    DrawsNothing,
}

/// Every shipped scenario (`scenarios/*.yaml`) and whether it draws random numbers. A new
/// scenario must be added here — `every_shipped_scenario_is_in_the_table` fails until it is —
/// so that someone decides whether its digest must depend on the seed.
const SCENARIOS: &[(&str, Randomness)] = &[
    // The per-node agents' phases ("clients/npd/phase"), generated names aside; checked on its
    // first second only (see UNTIL).
    ("list-storm-npd.yaml", Randomness::Draws),
    // The ReplicaSet controller's pods get generated names ("apiserver/generate-name"), and
    // the scheduler breaks ties between the equally empty nodes ("scheduler/tie-break").
    ("crashloop.yaml", Randomness::Draws),
    // The ReplicaSet controller's pods get generated names, and the scheduler breaks ties
    // between equally loaded nodes (which node a pod lands on decides which drain evicts it).
    ("drain.yaml", Randomness::Draws),
    // Generated pod names, the scheduler's tie-break and the kubelets' lease jitter (which
    // decides when a crashed node is found silent).
    ("node-failure.yaml", Randomness::Draws),
    ("partition.yaml", Randomness::Draws),
    ("zone-outage.yaml", Randomness::Draws),
    // FGD's integer scores tie often; kube-scheduler breaks the ties among the best GPU nodes
    // with the seeded stream "scheduler/tie-break".
    ("gpu-sharing.yaml", Randomness::Draws),
    // The translated Policy packs pods; which empty node a new pack starts on is the seeded
    // tie-break's choice ("scheduler/tie-break").
    ("legacy-policy.yaml", Randomness::Draws),
    // Preemption's random start among candidate nodes cannot matter with two nodes, but the
    // kubelets draw how long each pod takes to start ("kubelet/startup/<node>").
    ("preemption.yaml", Randomness::Draws),
    // manifests/quickstart-batch.yaml creates a pod with `generateName: batch-`; its suffix is
    // drawn from the seeded stream "apiserver/generate-name".
    ("quickstart.yaml", Randomness::Draws),
    // Generated pod names and the scheduler's tie-break among equal nodes, as crashloop.yaml.
    ("rolling-update.yaml", Randomness::Draws),
    // kube-scheduler breaks ties among equally scored nodes with the seeded stream
    // "scheduler/tie-break": thousands of ties between empty nodes here.
    ("scheduling-basic.yaml", Randomness::Draws),
    // Nodes of one zone tie on the hostname-spread score; the seeded tie-break picks one.
    ("topology-spread.yaml", Randomness::Draws),
    // Generated pod names, the scheduler's tie-break, and each informer's watch timeouts and
    // backoff jitter ("client/reflector/<client id>/<resource>"), which spread the relists.
    ("restart-storm.yaml", Randomness::Draws),
    // Which replica each client's connection lands on ("apiserver/load-balancer"), beside
    // the reflectors' jitter and the scheduler's tie-break.
    ("apiserver-rolling-restart.yaml", Randomness::Draws),
    ("restart-storm-compare.yaml", Randomness::Draws),
    // Generated pod names, the tie-break, and each kubelet's housekeeping phase
    // ("kubelet/housekeeping/<node>"), which decides when metrics-server's samples are taken.
    ("hpa-spike.yaml", Randomness::Draws),
    ("hpa-behavior.yaml", Randomness::Draws),
    // As hpa-spike; the metrics adapter's scrapes fall on their grid and draw nothing.
    ("hpa-requests.yaml", Randomness::Draws),
    // As those, and each Service's traffic spread with seeded noise
    // ("traffic/<namespace>/<name>"); checked on its first two hours (see UNTIL).
    ("hpa-diurnal.yaml", Randomness::Draws),
];

/// Shipped scenarios too long for a debug build (minutes each, run four times here): the
/// tests below skip them, and `shipped_heavy_scenarios_are_deterministic` (ignored; run it
/// with `cargo test --release -- --ignored`) checks them. A smaller storm of the same shape
/// runs in every build: `a_small_restart_storm_gives_byte_identical_outputs`.
const HEAVY: &[&str] = &["restart-storm.yaml", "restart-storm-compare.yaml"];

/// Scenarios too large to run whole here, four times, in a debug build: each is run up to
/// the time given (`--until`). list-storm-npd's first second already holds its 4,000 nodes,
/// 120,000 pod creations, every component's first lists and the agents' first LISTs and 429s;
/// hpa-diurnal's first two hours hold its night's scale-downs and its twelve Services' noise.
const UNTIL: &[(&str, &str)] = &[("list-storm-npd.yaml", "1s"), ("hpa-diurnal.yaml", "2h")];

/// `--until` for `name`, if it is run only so far.
fn until_args(name: &str) -> Vec<&'static str> {
    UNTIL
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(Vec::new, |(_, t)| vec!["--until", t])
}

/// The seed of the byte-identity runs (not any scenario's own seed, to exercise `--seed`).
const SEED: &str = "11";

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The file names of `scenarios/*.yaml`, sorted.
fn shipped_scenarios() -> Vec<String> {
    let dir = repo_root().join("scenarios");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("read a folder entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
        // Replay scenarios (spec.replay) write a replay's outputs; tests/it/sweep.rs runs them.
        .filter(|p| !matches!(kubesim::scenario::load(p, &Components), Ok(s) if s.replay.is_some()))
        .map(|p| {
            p.file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// `scenarios/NAME`, relative to the repository root, as the README spells it.
fn shipped(name: &str) -> PathBuf {
    Path::new("scenarios").join(name)
}

/// Runs `kubesim run SCENARIO ARGS --quiet --out OUT` from the repository root; panics with
/// stderr unless it succeeds.
fn run(scenario: &Path, out: &Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .arg("run")
        .arg(scenario)
        .args(args)
        .args([OsStr::new("--quiet"), OsStr::new("--out"), out.as_os_str()])
        .current_dir(repo_root())
        .output()
        .expect("the kubesim binary runs");
    assert!(
        output.status.success(),
        "kubesim run {} {} failed with {:?}\n--- stderr ---\n{}",
        scenario.display(),
        args.join(" "),
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `traceDigest` of the report in `dir`.
fn trace_digest(dir: &Path) -> String {
    let path = dir.join("run.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let digest = json["traceDigest"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no string traceDigest\n{text}", path.display()));
    assert!(
        digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "{}: traceDigest {digest:?} is not 32 hex digits",
        path.display()
    );
    digest.to_string()
}

/// Every file under `dir`, as sorted paths relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, into: &mut Vec<PathBuf>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("read a folder entry").path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                into.push(
                    path.strip_prefix(root)
                        .expect("a path under the root")
                        .to_path_buf(),
                );
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

/// Where two byte strings first differ, for failure messages: the line number and both lines.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let line = a[..at].iter().filter(|&&c| c == b'\n').count() + 1;
    let line_of = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .nth(line - 1)
            .unwrap_or("<end of file>")
            .chars()
            .take(300)
            .collect::<String>()
    };
    format!(
        "sizes {} and {} bytes; first difference at byte {at}, line {line}:\n  < {}\n  > {}",
        a.len(),
        b.len(),
        line_of(a),
        line_of(b)
    )
}

/// Asserts that folders `a` and `b` hold the same files with the same bytes; on failure lists
/// every file only in one of them and every file that differs, with its first difference.
fn assert_same_files(a: &Path, b: &Path, what: &str) {
    let files_a = files_under(a);
    let files_b = files_under(b);
    let mut problems = Vec::new();
    for file in files_a.iter().filter(|f| !files_b.contains(f)) {
        problems.push(format!("{}: only in {}", file.display(), a.display()));
    }
    for file in files_b.iter().filter(|f| !files_a.contains(f)) {
        problems.push(format!("{}: only in {}", file.display(), b.display()));
    }
    for file in files_a.iter().filter(|f| files_b.contains(f)) {
        let bytes_a = fs::read(a.join(file)).expect("read a report file");
        let bytes_b = fs::read(b.join(file)).expect("read a report file");
        if bytes_a != bytes_b {
            problems.push(format!(
                "{}: {}",
                file.display(),
                first_difference(&bytes_a, &bytes_b)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: {} (<) and {} (>) differ:\n{}",
        a.display(),
        b.display(),
        problems.join("\n")
    );
}

#[test]
fn every_shipped_scenario_is_in_the_table() {
    let shipped = shipped_scenarios();
    assert!(
        !shipped.is_empty(),
        "no scenarios/*.yaml found under {}",
        repo_root().display()
    );
    let mut listed: Vec<String> = SCENARIOS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(
        shipped, listed,
        "tests/it/determinism.rs SCENARIOS must list every scenarios/*.yaml exactly once, \
         marked as drawing random numbers or not"
    );
}

#[test]
fn same_seed_gives_byte_identical_outputs() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    for name in shipped_scenarios() {
        if HEAVY.contains(&name.as_str()) {
            continue;
        }
        assert_byte_identical_runs(tmp.path(), &shipped(&name), &name);
    }
}

/// Runs `scenario` twice with [`SEED`] and `--events` (and its `--until`, if [`UNTIL`] has
/// one) into `tmp` and asserts that the two reports are byte-identical and complete.
fn assert_byte_identical_runs(tmp: &Path, scenario: &Path, name: &str) {
    let first = tmp.join(format!("{name}-first"));
    let second = tmp.join(format!("{name}-second"));
    let mut args = vec!["--seed", SEED, "--events"];
    args.extend(until_args(name));
    run(scenario, &first, &args);
    run(scenario, &second, &args);

    let files: Vec<String> = files_under(&first)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    for expected in [
        "events.jsonl",
        "report.html",
        "run.json",
        "summary.json",
        "timeseries.csv",
    ] {
        assert!(
            files.iter().any(|f| f == expected),
            "{name}: no {expected} in {files:?}"
        );
    }
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("charts/") && f.ends_with(".svg")),
        "{name}: no charts/*.svg in {files:?}"
    );
    assert_same_files(&first, &second, &format!("{name} with seed {SEED}"));
    assert_eq!(
        trace_digest(&first),
        trace_digest(&second),
        "{name}: traceDigest"
    );
}

#[test]
fn different_seeds_change_the_digest_where_random_numbers_are_drawn() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    for &(name, randomness) in SCENARIOS {
        if HEAVY.contains(&name) {
            continue;
        }
        let one = tmp.path().join(format!("{name}-seed-1"));
        let two = tmp.path().join(format!("{name}-seed-2"));
        let until = until_args(name);
        run(
            &shipped(name),
            &one,
            &[&["--seed", "1"], until.as_slice()].concat(),
        );
        run(
            &shipped(name),
            &two,
            &[&["--seed", "2"], until.as_slice()].concat(),
        );
        let (d1, d2) = (trace_digest(&one), trace_digest(&two));
        match randomness {
            Randomness::Draws => assert_ne!(
                d1, d2,
                "{name} draws random numbers, yet seeds 1 and 2 give the same traceDigest"
            ),
            Randomness::DrawsNothing => assert_eq!(
                d1, d2,
                "{name} is marked as drawing no random numbers, yet seeds 1 and 2 give \
                 different traceDigests"
            ),
        }
    }
}

#[test]
#[ignore = "minutes in a debug build: run with `cargo test --release -- --ignored`"]
fn shipped_heavy_scenarios_are_deterministic() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    for &name in HEAVY {
        assert_byte_identical_runs(tmp.path(), &shipped(name), name);
    }
}

#[test]
fn a_small_restart_storm_gives_byte_identical_outputs() {
    // The shipped comparison storm shrunk to 30 nodes and 3 Deployments of 100 pods, the
    // restart at 2m of 5m: the same documents, the same fault, a size a debug build runs in
    // seconds.
    let shipped = fs::read_to_string(repo_root().join("scenarios/restart-storm-compare.yaml"))
        .expect("read the shipped storm");
    let mut text = String::new();
    let mut deployments = 0;
    for line in shipped.lines() {
        if line.starts_with("  - {apiVersion: apps/v1") {
            deployments += 1;
        }
        if deployments > 3 {
            break;
        }
        text.push_str(line);
        text.push('\n');
    }
    let text = text
        .replace("count: 500", "count: 30")
        .replace("replicas: 1500", "replicas: 100")
        .replace("duration: 10m", "duration: 5m")
        .replace("at: 5m, apiserverRestart", "at: 2m, apiserverRestart");
    for (from, to) in [
        ("count: 30", 1),
        ("replicas: 100", 3),
        ("at: 2m, apiserverRestart", 1),
    ] {
        assert_eq!(
            text.matches(from).count(),
            to,
            "the shrunk storm has {from} {to} time(s)"
        );
    }
    let tmp = tempfile::tempdir().expect("temporary folder");
    let scenario = tmp.path().join("small-storm.yaml");
    fs::write(&scenario, text).expect("write the small storm");
    assert_byte_identical_runs(tmp.path(), &scenario, "small-storm.yaml");
    let summary = fs::read_to_string(tmp.path().join("small-storm.yaml-first/summary.json"))
        .expect("summary.json");
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("JSON");
    let restart = &summary["stampede"]["clients"]["restarts"][0];
    assert_eq!(restart["downAt"], "2m", "{restart}");
    assert!(
        restart["recoveredAfter"].is_string(),
        "the small storm recovers: {restart}"
    );
    assert!(
        tmp.path()
            .join("small-storm.yaml-first/charts/stampede.svg")
            .exists()
    );
}

#[test]
fn the_seed_alone_does_not_change_the_digest() {
    // The control for the test above: a scenario that draws nothing (every pod named, no
    // generateName, no kubelets, whose step durations and heartbeats are drawn) must give the
    // same digest under any seed, so a digest that differs between seeds really reflects random
    // draws rather than the seed being hashed in.
    let tmp = tempfile::tempdir().expect("temporary folder");
    let scenario = tmp.path().join("no-draws.yaml");
    fs::write(
        &scenario,
        "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: no-draws
spec:
  duration: 5m
  kubelet: {enabled: false}
  nodePools:
    - {name: n, count: 2, template: {allocatable: {cpu: \"4\", memory: 8Gi, pods: \"10\"}}}
  timeline:
    - {at: 1m, cordon: n-1}
    - {at: 2m, delete: {pod: default/a}}
---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec:
  nodeName: n-0
  containers: [{name: c, image: busybox, resources: {requests: {cpu: \"1\"}}}]
",
    )
    .expect("write the fixture");
    let mut digests = Vec::new();
    for seed in ["1", "2"] {
        let out = tmp.path().join(format!("out-{seed}"));
        run(&scenario, &out, &["--seed", seed]);
        digests.push(trace_digest(&out));
    }
    assert_eq!(
        digests[0], digests[1],
        "the digest depends on the seed alone"
    );
}

#[test]
fn committed_report_is_regenerated_byte_identically() {
    let committed = repo_root().join("reports/quickstart");
    if !committed.is_dir() {
        eprintln!(
            "SKIPPED committed_report_is_regenerated_byte_identically: {} does not exist yet; \
             generate it with `kubesim run scenarios/quickstart.yaml`",
            committed.display()
        );
        return;
    }
    // The README command, `kubesim run scenarios/quickstart.yaml`, with the scenario's own
    // seed and no --events; only the output folder differs.
    let seed = kubesim::scenario::load(&repo_root().join("scenarios/quickstart.yaml"), &Components)
        .expect("quickstart loads")
        .seed;
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = tmp.path().join("quickstart");
    run(
        &shipped("quickstart.yaml"),
        &out,
        &["--seed", &seed.to_string()],
    );
    assert_same_files(
        &out,
        &committed,
        "reports/quickstart/ is stale: regenerate it with `kubesim run scenarios/quickstart.yaml`",
    );
}

#[test]
fn the_report_does_not_depend_on_how_the_path_is_spelled() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let plain = tmp.path().join("plain");
    let dotted = tmp.path().join("dotted");
    run(Path::new("scenarios/quickstart.yaml"), &plain, &[]);
    run(Path::new("./scenarios/quickstart.yaml"), &dotted, &[]);
    let read = |dir: &Path| fs::read_to_string(dir.join("run.json")).expect("read run.json");
    assert_eq!(read(&plain), read(&dotted));
}
