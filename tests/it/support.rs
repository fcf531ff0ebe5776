//! What several test modules share: running the kubesim binary, scenario fixtures written to
//! a fresh folder, the real openb trace beside the project, a tiny openb trace, and the
//! property tests' configuration.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use kubesim::world::Components;
use proptest::test_runner::Config as ProptestConfig;

/// Runs the kubesim binary with `args` in `cwd`, with the variables that pick a sweep shard
/// taken from the environment and `env` added; returns the exit code, stdout and stderr.
pub fn kubesim(
    args: &[impl AsRef<OsStr>],
    cwd: &Path,
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(args)
        .current_dir(cwd)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("KUBESIM_SHARDS")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .env_remove("SLURM_ARRAY_TASK_MIN")
        .envs(env.iter().copied())
        .output()
        .expect("the kubesim binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The nodes of the tiny openb trace: a T4, a V100 and a G2 node.
pub const NODES_CSV: &str = "\
sn,cpu_milli,memory_mib,gpu,model
n-t4,32000,131072,4,T4
n-v100,16000,65536,2,V100M32
n-g2,96000,393216,8,G2
";

/// 16 pods: sharing pods of several sizes (so GPUs end up partly used and the GPU choice
/// matters), whole-GPU and multi-GPU pods, CPU-only pods, and a model-constrained pod.
/// GPU request: 200+300+450+500+600+700+800+250+350+650+1000+1000+2000+1000 = 9800 milli,
/// below the 14 GPUs' 14 000, so tuning clones pods up to 1.3 × 14 000 = 18 200.
pub const PODS_CSV: &str = "\
name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
p00,2000,4096,1,200,,LS,Running,0,10,0
p01,2000,4096,1,300,,LS,Running,0,10,0
p02,3000,4096,1,450,,BE,Running,0,10,
p03,4000,4096,1,500,,LS,Running,0,10,0
p04,4000,4096,1,600,,LS,Running,0,10,0
p05,2000,4096,1,700,,LS,Running,0,10,0
p06,6000,4096,1,800,,LS,Running,0,10,0
p07,1000,2048,1,250,,LS,Running,0,10,0
p08,1000,2048,1,350,,LS,Running,0,10,0
p09,1000,2048,1,650,,LS,Running,0,10,0
p10,8000,16384,1,1000,,LS,Running,0,10,0
p11,8000,16384,1,1000,V100M32,LS,Running,0,10,0
p12,16000,32768,2,1000,,LS,Running,0,10,0
p13,12000,8192,0,0,,BE,Running,0,10,0
p14,4000,8192,0,0,,BE,Running,0,10,0
p15,8000,16384,1,1000,,LS,Running,0,10,0
";

/// The first `count` pods of [`PODS_CSV`], as a pod list of their own.
pub fn first_pods(count: usize) -> String {
    PODS_CSV
        .lines()
        .take(1 + count)
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The real openb trace beside the project (`../shared/data/openb`), if it is there. A test
/// that checks numbers of the real trace skips without it on a developer's machine, but under
/// CI (`CI=true`), where the data is always laid beside the clone, its absence is a failure:
/// a check that silently stops running is worse than a red build.
pub fn openb_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openb");
    if dir.join("openb_pod_list_default.csv").is_file() {
        return Some(dir);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !in_ci,
        "CI=true but the openb trace is not at {}: the real-trace checks cannot run",
        dir.display()
    );
    eprintln!(
        "openb data not found at {}: skipping the real-trace checks",
        dir.display()
    );
    None
}

/// Writes `text` as `name` in a fresh folder, with `extra` (name, text) files beside it;
/// returns the folder (removed when dropped) and the path of `name`.
pub fn fixture(name: &str, text: &str, extra: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (other, body) in extra {
        std::fs::write(dir.path().join(other), body).expect("write a fixture");
    }
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write a fixture");
    (dir, path)
}

/// The scenario at `path`; a test fails with the load error if it does not load.
pub fn load(path: &Path) -> kubesim::scenario::Scenario {
    match kubesim::scenario::load(path, &Components) {
        Ok(s) => s,
        Err(e) => panic!("{} should load: {e}", path.display()),
    }
}

/// The scenario `text` (with `extra` files beside it), loaded: what it refers to is read at
/// load, so the folder may go.
pub fn load_text(text: &str, extra: &[(&str, &str)]) -> kubesim::scenario::Scenario {
    let (_dir, path) = fixture("scenario.yaml", text, extra);
    load(&path)
}

/// The load error of the scenario `text` written as `name` (a test fails if it loads): what
/// a user reads, file, line and column included.
pub fn load_error(name: &str, text: &str) -> String {
    let (_dir, path) = fixture(name, text, &[]);
    match kubesim::scenario::load(&path, &Components) {
        Ok(_) => panic!("{name} should not load:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Runs the scenario `text` with `kubesim run … --quiet` and `args` into a fresh folder; the
/// folder (removed when dropped) and the output folder in it. A failed run fails the test
/// with its stderr.
pub fn run_in_folder(text: &str, args: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = fixture("scenario.yaml", text, &[]);
    let out = dir.path().join("out");
    let mut all: Vec<std::ffi::OsString> = vec!["run".into(), path.into_os_string()];
    all.extend(args.iter().map(|a| a.into()));
    all.extend([
        "--quiet".into(),
        "--out".into(),
        out.clone().into_os_string(),
    ]);
    let (code, _, stderr) = kubesim(&all, dir.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    (dir, out)
}

/// The `summary.json` a run wrote into `out`.
pub fn summary_in(out: &Path) -> serde_json::Value {
    let bytes = std::fs::read(out.join("summary.json")).expect("summary.json");
    serde_json::from_slice(&bytes).expect("summary.json is JSON")
}

/// A property test's configuration: `cases` cases, failures kept in the test output only (no
/// regression files written into the tree).
pub fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every pod in the store of `sim`, as it is now.
pub fn store_pods(
    sim: &kubesim::sim::Simulation<kubesim::world::World>,
) -> Vec<kubesim::api::pod::Pod> {
    sim.model()
        .api()
        .store()
        .iter(kubesim::api::Kind::Pod)
        .filter_map(|o| o.as_pod())
        .map(|p| kubesim::api::pod::Pod::clone(p))
        .collect()
}

/// A Deployment `default/web` of `replicas` pods, each one container `web:v1` requesting
/// 100m CPU and 64Mi, as a manifest document (starting with `---`).
pub fn web_deployment(replicas: u32) -> String {
    format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: "web:v1"
          resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
"#
    )
}
