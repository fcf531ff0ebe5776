//! The command line on bad input: every class of scenario error exits 1 with the file, line,
//! column, field path and what was expected; nothing panics; no output folder is left behind.
//! Also the usage errors (exit 2), `--help`, `validate`, and `--out` over a foreign folder.
//!
//! Every test runs the real binary. Fixture scenarios are written into a fresh temporary folder
//! and named by absolute path, so the `file:line:column` prefix is predictable; the line and
//! column each test expects are derived by hand in a comment next to the fixture (lines and
//! columns are 1-based, as the error messages print them).

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use crate::support;

/// What a run of the binary printed and returned.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    /// Everything, for failure messages.
    fn describe(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `kubesim ARGS` in `cwd`.
fn kubesim(cwd: &Path, args: &[impl AsRef<OsStr>]) -> Outcome {
    let (code, stdout, stderr) = support::kubesim(args, cwd, &[]);
    Outcome {
        code,
        stdout,
        stderr,
    }
}

/// Runs `kubesim run SCENARIO FLAGS… --out OUT` in `cwd`.
fn run_scenario(cwd: &Path, scenario: &Path, flags: &[&str], out: &Path) -> Outcome {
    let mut args = vec![OsStr::new("run"), scenario.as_os_str()];
    args.extend(flags.iter().map(OsStr::new));
    args.extend([OsStr::new("--out"), out.as_os_str()]);
    kubesim(cwd, &args)
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read the temporary folder")
        .map(|e| {
            e.expect("read a folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// One class of bad input: a scenario file and what the error must say about it.
struct BadInput {
    /// The scenario file's text.
    yaml: &'static str,
    /// Other files the scenario needs, relative to its folder.
    extra_files: &'static [(&'static str, &'static str)],
    /// The file the error must point into, relative to the scenario's folder.
    file: &'static str,
    /// Where in it.
    line: u64,
    column: u64,
    /// The field path the error must name.
    field: &'static str,
    /// Phrases saying what is wrong and what was expected.
    says: &'static [&'static str],
}

/// Runs `kubesim run` on the bad input and checks exit code 1, the position, the field path,
/// the expectation, no panic, and nothing written: neither `out` nor a staging folder.
/// Returns stderr for further checks.
fn assert_rejected(case: &BadInput) -> String {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let scenario = tmp.path().join("scenario.yaml");
    fs::write(&scenario, case.yaml).expect("write the fixture");
    let mut expected_entries = vec!["scenario.yaml".to_string()];
    for (name, text) in case.extra_files {
        let path = tmp.path().join(name);
        fs::create_dir_all(path.parent().expect("a parent folder")).expect("create folders");
        fs::write(&path, text).expect("write a fixture");
        let top = Path::new(name)
            .components()
            .next()
            .expect("a non-empty name");
        expected_entries.push(top.as_os_str().to_string_lossy().into_owned());
    }
    expected_entries.sort();
    expected_entries.dedup();
    let out = tmp.path().join("out");

    let run = run_scenario(tmp.path(), &scenario, &[], &out);

    let all = run.describe();
    assert_eq!(run.code, Some(1), "expected exit code 1\n{all}");
    assert!(!run.stderr.contains("panicked"), "kubesim panicked\n{all}");
    let file = tmp.path().join(case.file);
    let position = format!("{}:{}:{}", file.display(), case.line, case.column);
    assert!(
        run.stderr.contains(&position),
        "stderr does not point at {position}\n{all}"
    );
    let field = format!("field `{}`", case.field);
    assert!(run.stderr.contains(&field), "stderr lacks {field}\n{all}");
    for phrase in case.says {
        assert!(
            run.stderr.contains(phrase),
            "stderr lacks {phrase:?}\n{all}"
        );
    }
    assert!(!out.exists(), "the output folder was created\n{all}");
    // No `out`, no `.out.tmp-<pid>` staging folder: only the fixtures remain.
    assert_eq!(
        entries(tmp.path()),
        expected_entries,
        "something was left in the temporary folder\n{all}"
    );
    run.stderr
}

#[test]
fn yaml_syntax_error() {
    // Line 6 holds the flow sequence; `  nodePools: [{` puts `[` at column 14 and the mapping's
    // `{` at column 15, which the parser reports as never closed (the file ends first).
    assert_rejected(&BadInput {
        yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-syntax
spec:
  nodePools: [{name: general, count: 1
",
        extra_files: &[],
        file: "scenario.yaml",
        line: 6,
        column: 15,
        field: "spec.nodePools",
        says: &["unclosed bracket '{'"],
    });
}

#[test]
fn unknown_field_in_the_scenario_document() {
    // `admissionLatancy` is on line 8; four spaces of indentation put it at column 5.
    assert_rejected(&BadInput {
        yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-field
spec:
  duration: 5m
  apiserver:
    admissionLatancy: 2ms
",
        extra_files: &[],
        file: "scenario.yaml",
        line: 8,
        column: 5,
        field: "spec.apiserver.admissionLatancy",
        says: &[
            "unknown field `admissionLatancy`",
            "expected one of admissionLatency, watchDelay, watchHistory",
        ],
    });
}

#[test]
fn wrong_type() {
    // `  seed: seven` on line 6: `seed` at 3-6, `: ` at 7-8, so the value starts at column 9.
    // The message states what was expected only as "invalid u64": no value found, no "expected".
    assert_rejected(&BadInput {
        yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-type
spec:
  seed: seven
",
        extra_files: &[],
        file: "scenario.yaml",
        line: 6,
        column: 9,
        field: "spec.seed",
        says: &["invalid u64"],
    });
}

#[test]
fn bad_quantity() {
    // The error is in the referenced manifest file, and points there. Line 10 of
    // manifests/pods.yaml is `        requests: {cpu: 2 cores}`: eight spaces, `requests` at
    // 9-16, `: {` at 17-19, `cpu: ` at 20-24, so the value starts at column 25.
    assert_rejected(&BadInput {
        yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-quantity
spec:
  duration: 5m
  manifests: [manifests/pods.yaml]
",
        extra_files: &[(
            "manifests/pods.yaml",
            "\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: c
      image: busybox
      resources:
        requests: {cpu: 2 cores}
",
        )],
        file: "manifests/pods.yaml",
        line: 10,
        column: 25,
        field: "spec.containers[0].resources.requests.cpu",
        says: &[
            "invalid quantity \"2 cores\"",
            "expected a number with an optional suffix",
        ],
    });
}

#[test]
fn bad_quantity_in_a_later_document_names_one_line() {
    // The Pod document starts at its `---` marker on line 5, so `requests:` is line 15 of the
    // file (line 11 of the document); `        requests: {cpu: ` is 24 characters, so the value
    // `2 cores` starts at column 25. The message must not also say line 11.
    let stderr = assert_rejected(&BadInput {
        yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
spec:
  duration: 5m
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: c
      image: busybox
      resources:
        requests: {cpu: 2 cores}
",
        extra_files: &[],
        file: "scenario.yaml",
        line: 15,
        column: 25,
        field: "spec.containers[0].resources.requests.cpu",
        says: &[
            "invalid quantity \"2 cores\"",
            "expected a number with an optional suffix",
        ],
    });
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        !first.contains("line 11"),
        "the message contradicts its own position: {first}"
    );
}

#[test]
fn kind_that_does_not_exist() {
    // The Deployment document starts at its `---` marker on line 7; `apiVersion` is line 8 and
    // `kind: Deploymnet` line 9, whose value starts at column 7 (after `kind: `).
    assert_rejected(&BadInput {
        yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-kind
spec:
  duration: 5m
---
apiVersion: apps/v1
kind: Deploymnet
metadata:
  name: web
",
        extra_files: &[],
        file: "scenario.yaml",
        line: 9,
        column: 7,
        field: "kind",
        says: &[
            "unknown kind \"Deploymnet\" in apps/v1",
            "expected a Kubernetes kind such as Deployment (did you mean Deployment?)",
        ],
    });
}

#[test]
fn missing_referenced_file() {
    // `    - manifests/nope.yaml` on line 8: four spaces, `- `, so the path starts at column 7.
    // A real manifest sits beside it, so only the name is wrong.
    let stderr = assert_rejected(&BadInput {
        yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-reference
spec:
  duration: 5m
  manifests:
    - manifests/nope.yaml
",
        extra_files: &[(
            "manifests/pods.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n",
        )],
        file: "scenario.yaml",
        line: 8,
        column: 7,
        field: "spec.manifests[0]",
        says: &["does not exist; expected a manifest file or folder relative to"],
    });
    assert!(
        stderr.contains("manifests/nope.yaml does not exist"),
        "stderr does not name the missing file\n{stderr}"
    );
}

#[test]
fn time_beyond_the_duration() {
    // The second timeline entry is on line 9: `    - {at: 6m` — four spaces, `- {` at 5-7,
    // `at: ` at 8-11, so `6m` starts at column 12. The first entry (1m) is fine.
    assert_rejected(&BadInput {
        yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-time
spec:
  duration: 5m
  timeline:
    - {at: 1m, cordon: general-0}
    - {at: 6m, cordon: general-1}
",
        extra_files: &[],
        file: "scenario.yaml",
        line: 9,
        column: 12,
        field: "spec.timeline[1].at",
        says: &[
            "time 6m is beyond the scenario's duration 5m",
            "expected at most 5m",
        ],
    });
}

#[test]
fn field_paths_through_spanned_fields_are_as_written() {
    let cases = [
        BadInput {
            // `      count: three` on line 8: the value starts at column 14.
            yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-count
spec:
  nodePools:
    - name: general
      count: three
",
            extra_files: &[],
            file: "scenario.yaml",
            line: 8,
            column: 14,
            field: "spec.nodePools[0].count",
            says: &["u32"],
        },
        BadInput {
            // `      zonez: [zone-a]` on line 9: the key starts at column 7.
            yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-zones
spec:
  nodePools:
    - name: general
      count: 2
      zonez: [zone-a]
",
            extra_files: &[],
            file: "scenario.yaml",
            line: 9,
            column: 7,
            field: "spec.nodePools[0].zonez",
            says: &["expected one of name, count, zones, template"],
        },
        BadInput {
            // Line 10: `        allocatable: {cpu: "8", memory: 32Gx}` — `32Gx` at column 41
            // (`        allocatable: {cpu: "8", memory: ` is 40 characters).
            yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-allocatable
spec:
  nodePools:
    - name: general
      count: 2
      template:
        allocatable: {cpu: \"8\", memory: 32Gx}
",
            extra_files: &[],
            file: "scenario.yaml",
            line: 10,
            column: 41,
            field: "spec.nodePools[0].template.allocatable.memory",
            says: &["invalid quantity \"32Gx\""],
        },
        BadInput {
            // `  duration: 5 minutes` on line 6: the value starts at column 13.
            yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-duration
spec:
  duration: 5 minutes
",
            extra_files: &[],
            file: "scenario.yaml",
            line: 6,
            column: 13,
            field: "spec.duration",
            says: &["expected a duration such as 250ms, 30s, 5m or 1h30m"],
        },
        BadInput {
            // Line 7: `    - {at: 1m, scale: {deployment: default/web, replicas: x}}` — `x`
            // at column 59 (the text before it is 58 characters).
            yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-replicas
spec:
  timeline:
    - {at: 1m, scale: {deployment: default/web, replicas: x}}
",
            extra_files: &[],
            file: "scenario.yaml",
            line: 7,
            column: 59,
            field: "spec.timeline[0].scale.replicas",
            says: &["i32"],
        },
    ];
    for case in &cases {
        let stderr = assert_rejected(case);
        assert!(!stderr.contains(".value"), "{stderr}");
    }
}

#[test]
fn empty_pool_name_points_at_its_pool() {
    // Checks made after parsing point at the pool's entry: `    - name: ""` on line 7, the
    // entry's mapping starting at column 7.
    assert_rejected(&BadInput {
        yaml: "\
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: bad-pool
spec:
  nodePools:
    - name: \"\"
      count: 1
",
        extra_files: &[],
        file: "scenario.yaml",
        line: 7,
        column: 7,
        field: "spec.nodePools[0].name",
        says: &["expected a non-empty pool name"],
    });
}

#[test]
fn validate_reports_the_good_file_ok_and_the_bad_one_with_its_position() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let good = repo_root().join("scenarios/quickstart.yaml");
    let bad = tmp.path().join("bad.yaml");
    // `spek` is on line 3, column 1.
    fs::write(
        &bad,
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nspek: {}\n",
    )
    .expect("write the fixture");

    let run = kubesim(
        tmp.path(),
        &[OsStr::new("validate"), good.as_os_str(), bad.as_os_str()],
    );
    let all = run.describe();
    assert_eq!(run.code, Some(1), "{all}");
    assert!(
        run.stdout
            .contains(&format!("ok: {} — scenario \"quickstart\"", good.display())),
        "the good file is not reported ok\n{all}"
    );
    assert!(
        !run.stdout.contains(&bad.display().to_string()),
        "the bad file is reported ok\n{all}"
    );
    let position = format!("{}:3:1: field `spek`", bad.display());
    assert!(run.stderr.contains(&position), "lacks {position}\n{all}");
    assert!(
        run.stderr
            .contains("expected one of apiVersion, kind, metadata, spec"),
        "{all}"
    );
    assert!(run.stderr.contains("1 of 2 scenario(s) invalid"), "{all}");
    assert!(!run.stderr.contains("panicked"), "{all}");
    assert_eq!(
        entries(tmp.path()),
        ["bad.yaml"],
        "validate wrote something\n{all}"
    );

    let run = kubesim(tmp.path(), &[OsStr::new("validate"), good.as_os_str()]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.starts_with("ok: "), "{}", run.describe());
    assert_eq!(run.stderr, "", "{}", run.describe());
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let cases: [(&[&str], &str); 4] = [
        (
            &["run", "scenarios/quickstart.yaml", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (&["run"], "required arguments were not provided"),
        (&["validate"], "required arguments were not provided"),
        (
            &["run", "scenarios/quickstart.yaml", "--until", "soon"],
            "invalid value 'soon'",
        ),
    ];
    for (args, says) in cases {
        let run = kubesim(tmp.path(), args);
        let all = format!("kubesim {}\n{}", args.join(" "), run.describe());
        assert_eq!(run.code, Some(2), "{all}");
        assert!(run.stderr.contains(says), "stderr lacks {says:?}\n{all}");
        assert!(!run.stderr.contains("panicked"), "{all}");
    }
    assert!(entries(tmp.path()).is_empty(), "a usage error wrote files");
}

#[test]
fn help_exits_0_and_shows_the_examples() {
    let run = kubesim(repo_root(), &["--help"]);
    let all = run.describe();
    assert_eq!(run.code, Some(0), "{all}");
    for line in [
        "Examples:",
        "kubesim run scenarios/quickstart.yaml --seed 7 --out /tmp/qs --events",
        "kubesim validate scenarios/*.yaml",
        "Exit codes: 0 success, 1 bad input or failed run, 2 usage error.",
    ] {
        assert!(run.stdout.contains(line), "--help lacks {line:?}\n{all}");
    }
    let run = kubesim(repo_root(), &["run", "--help"]);
    let all = run.describe();
    assert_eq!(run.code, Some(0), "{all}");
    assert!(
        run.stdout.contains(
            "kubesim run scenarios/quickstart.yaml --seed 7 --out /tmp/qs --events --until 5m"
        ),
        "run --help lacks its example\n{all}"
    );
}

#[test]
fn run_of_a_missing_file_names_the_path() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let missing = tmp.path().join("no-such-scenario.yaml");
    let out = tmp.path().join("out");
    let run = run_scenario(tmp.path(), &missing, &[], &out);
    let all = run.describe();
    assert_eq!(run.code, Some(1), "{all}");
    let says = format!("error: {}: cannot read", missing.display());
    assert!(run.stderr.contains(&says), "stderr lacks {says:?}\n{all}");
    assert!(!run.stderr.contains("panicked"), "{all}");
    assert!(entries(tmp.path()).is_empty(), "files were left\n{all}");
}

#[test]
fn out_over_a_folder_that_is_not_a_report_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out: PathBuf = tmp.path().join("precious");
    fs::create_dir(&out).expect("create the folder");
    fs::write(out.join("thesis.txt"), "do not delete").expect("write the file");
    let scenario = repo_root().join("scenarios/quickstart.yaml");

    let run = run_scenario(repo_root(), &scenario, &["--quiet"], &out);
    let all = run.describe();
    assert_eq!(run.code, Some(1), "{all}");
    let says = format!(
        "{}: exists and is not a kubesim report (no run.json)",
        out.display()
    );
    assert!(run.stderr.contains(&says), "stderr lacks {says:?}\n{all}");
    assert!(!run.stderr.contains("panicked"), "{all}");
    assert_eq!(entries(&out), ["thesis.txt"], "the folder changed\n{all}");
    assert_eq!(
        fs::read_to_string(out.join("thesis.txt")).expect("the file is still there"),
        "do not delete"
    );
    assert_eq!(
        entries(tmp.path()),
        ["precious"],
        "staging left behind\n{all}"
    );
}

/// A KubeSchedulerConfiguration document (a scenario of its own) whose NodeResourcesFit args
/// are `args`, indented under `args:` (10 spaces); `args` starts on line 8.
fn fit_args(args: &str) -> String {
    format!(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n\
         profiles:\n  - schedulerName: default-scheduler\n    pluginConfig:\n      \
         - name: NodeResourcesFit\n        args:\n{args}"
    )
}

#[test]
fn invalid_plugin_args_exit_1_naming_the_field() {
    const ARGS: &str = "profiles[0].pluginConfig[0].args";
    // (args, line, column, field below the args, what the error says). Each is rejected at
    // load, as kube-scheduler refuses to start with it, instead of failing every cycle.
    let cases: Vec<(&str, u64, u64, &str, &[&str])> = vec![
        // Line 11 `              - {name: cpu, weight: -1}`: `-1` at column 37.
        (
            "          scoringStrategy:\n            type: LeastAllocated\n            resources:\n              - {name: cpu, weight: -1}\n",
            11,
            37,
            "scoringStrategy.resources[0].weight",
            &[
                "Invalid value: -1",
                "resource weight of cpu not in valid range (0, 100]",
            ],
        ),
        (
            "          scoringStrategy:\n            type: MostAllocated\n            resources:\n              - {name: cpu, weight: 101}\n",
            11,
            37,
            "scoringStrategy.resources[0].weight",
            &["Invalid value: 101", "not in valid range (0, 100]"],
        ),
        // No requestedToCapacityRatio: the error points at where it belongs, the
        // scoringStrategy map (its first key, `type`, line 9 column 13).
        (
            "          scoringStrategy:\n            type: RequestedToCapacityRatio\n",
            9,
            13,
            "scoringStrategy.requestedToCapacityRatio",
            &["Required value: must be specified when type is RequestedToCapacityRatio"],
        ),
        // Line 13 `                - {utilization: 100, score: 11}`: `11` at column 45.
        (
            "          scoringStrategy:\n            type: RequestedToCapacityRatio\n            requestedToCapacityRatio:\n              shape:\n                - {utilization: 0, score: 0}\n                - {utilization: 100, score: 11}\n",
            13,
            45,
            "scoringStrategy.requestedToCapacityRatio.shape[1].score",
            &["Invalid value: 11: not in valid range [0, 10]"],
        ),
    ];
    for (args, line, column, field, says) in cases {
        let yaml: &'static str = Box::leak(fit_args(args).into_boxed_str());
        let field: &'static str = Box::leak(format!("{ARGS}.{field}").into_boxed_str());
        assert_rejected(&BadInput {
            yaml,
            extra_files: &[],
            file: "scenario.yaml",
            line,
            column,
            field,
            says,
        });
    }
}

#[test]
fn rollout_errors_point_at_their_timeline_entry() {
    // Checks made after parsing point at the entry: `    - {at: 1m, rollout: …}` on line 7,
    // its mapping starting at column 7.
    macro_rules! scenario {
        ($rollout:literal) => {
            concat!(
                "apiVersion: kubesim.io/v1alpha1\n",
                "kind: Scenario\n",
                "metadata:\n",
                "  name: bad-rollout\n",
                "spec:\n",
                "  timeline:\n",
                "    - {at: 1m, rollout: ",
                $rollout,
                "}\n"
            )
        };
    }
    let cases: [(&'static str, &'static str, &'static [&'static str]); 4] = [
        (
            scenario!("{pause: default/web, resume: default/web}"),
            "spec.timeline[0].rollout",
            &["expected exactly one of undo, pause, resume, restart"],
        ),
        (
            scenario!("{undo: default/web, toRevision: -1}"),
            "spec.timeline[0].rollout.toRevision",
            &["expected a revision number, 0 or more"],
        ),
        (
            scenario!("{restart: default/web, toRevision: 2}"),
            "spec.timeline[0].rollout.toRevision",
            &["toRevision goes with undo only"],
        ),
        (
            scenario!("{pause: default/}"),
            "spec.timeline[0].rollout.pause",
            &["expected `deployment: namespace/name`"],
        ),
    ];
    for (yaml, field, says) in cases {
        assert_rejected(&BadInput {
            yaml,
            extra_files: &[],
            file: "scenario.yaml",
            line: 7,
            column: 7,
            field,
            says,
        });
    }
}
