//! The legacy scheduler Policy end to end: a scenario with a `kind: Policy` document runs with
//! the profile kube-scheduler 1.22 made of it, and a Policy kube-scheduler would have refused
//! fails to load (exit 1) naming the file, line, column and field.

use std::collections::BTreeMap;
use std::path::Path;

use kubesim::api::{Kind, Object};
use kubesim::scenario::overrides::Override;
use kubesim::scenario::{self, Scenario, load_with_overrides};
use kubesim::scheduler;
use kubesim::sim::SimTime;
use kubesim::world::{self, Components, RunOptions};

use crate::support::{fixture, kubesim, load};

fn load_error(path: &Path) -> String {
    match scenario::load(path, &Components) {
        Ok(_) => panic!("{} should not load", path.display()),
        Err(e) => e.to_string(),
    }
}

/// Runs the scenario at `path` with `seed` to its end; the number of bound pods on each node
/// that has any.
fn pods_per_node(path: &Path, seed: u64) -> BTreeMap<String, usize> {
    let scenario = load(path);
    let options = RunOptions {
        seed: Some(seed),
        ..RunOptions::default()
    };
    let mut sim = world::build(&scenario, &options);
    sim.run_until(SimTime::ZERO + scenario.duration);
    let world = sim.into_model();
    let mut counts = BTreeMap::new();
    for object in world.api().store().iter(Kind::Pod) {
        if let Object::Pod(p) = &**object
            && p.is_bound()
        {
            *counts.entry(p.spec.node_name.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// Four nodes of 4 CPU / 8 Gi, then eight pods of 1 CPU / 1 Gi created at once, scheduled
/// by a Policy that filters with PodFitsResources and scores with `priority` alone.
fn resource_scenario(priority: &str) -> String {
    format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: legacy-policy}}
spec:
  duration: 1m
  nodePools:
    - name: node
      count: 4
      template:
        allocatable: {{cpu: \"4\", memory: 8Gi, pods: \"110\"}}
  timeline:
    - at: 1s
      createPods:
        count: 8
        template:
          metadata: {{name: pod, namespace: default}}
          spec:
            containers:
              - name: c
                image: pause
                resources: {{requests: {{cpu: \"1\", memory: 1Gi}}}}
---
kind: Policy
apiVersion: v1
predicates:
  - name: PodFitsResources
priorities:
  - name: {priority}
    weight: 1
"
    )
}

/// The pod counts of the nodes that have pods, largest first.
fn counts(per_node: &BTreeMap<String, usize>) -> Vec<usize> {
    let mut c: Vec<usize> = per_node.values().copied().collect();
    c.sort_unstable_by(|a, b| b.cmp(a));
    c
}

#[test]
fn a_legacy_policy_with_most_requested_priority_packs_where_least_requested_priority_spreads() {
    // Each pod asks 1 of a node's 4 CPU and 1 of its 8 Gi. On a node already holding n pods,
    // the pod would bring cpu to (n+1)·1000 of 4000 millicores and memory to (n+1) of 8 Gi.
    //
    // MostRequestedPriority (NodeResourcesFit, MostAllocated; cpu and memory weight 1):
    //   score = (⌊100·(n+1)/4⌋ + ⌊100·(n+1)/8⌋) / 2
    //   n = 0: (25 + 12)/2 = 18;  n = 1: (50 + 25)/2 = 37;  n = 2: (75 + 37)/2 = 56;
    //   n = 3: (100 + 50)/2 = 75;  n = 4: PodFitsResources rejects (5000m > 4000m).
    // Pod 1: the four empty nodes tie at 18 and the seeded tie-break picks one, A. Pods 2–4:
    // A scores 37, 56, 75 against 18 elsewhere, so they join it. Pod 5: A is full, the
    // three empty nodes tie, one (B) is picked; pods 6–8 join B as pods 2–4 joined A.
    // Two nodes hold 4 pods each; two stay empty.
    //
    // LeastRequestedPriority (LeastAllocated):
    //   score = (⌊100·(4−n−1)/4⌋ + ⌊100·(8−n−1)/8⌋) / 2
    //   n = 0: (75 + 87)/2 = 81;  n = 1: (50 + 75)/2 = 62;  n = 2: (25 + 62)/2 = 43.
    // Every pod goes to a node with the fewest pods: pods 1–4 one per node (ties broken at
    // random among the empty ones), pods 5–8 one more each. Every node holds 2.
    //
    // Which nodes are A and B depends on the seed; the counts do not.
    for seed in [1, 7] {
        let (_dir, most) = fixture(
            "most.yaml",
            &resource_scenario("MostRequestedPriority"),
            &[],
        );
        let packed = pods_per_node(&most, seed);
        assert_eq!(counts(&packed), [4, 4], "seed {seed}: {packed:?}");

        let (_dir, least) = fixture(
            "least.yaml",
            &resource_scenario("LeastRequestedPriority"),
            &[],
        );
        let spread = pods_per_node(&least, seed);
        assert_eq!(counts(&spread), [2, 2, 2, 2], "seed {seed}: {spread:?}");
    }
}

#[test]
fn selector_spread_priority_runs_selector_spread_with_the_gate_off() {
    // Nodes a1, a2 in zone a and b1, b2 in zone b; Service web selects the four pods, which
    // only SelectorSpread scores (DefaultPodTopologySpread off). With c pods of the Service
    // on a node and z in its zone, its score is ⅓·node share + ⅔·zone share (module docs of
    // selector_spread.rs):
    //   pod 1: nothing placed, all 100; one node, say a1, is picked.
    //   pod 2: a1 0; a2 ⅓·100 + ⅔·0 = 33; b1 and b2 100 → zone b, say b1.
    //   pod 3: a1 and b1 0; a2 and b2 ⅓·100 + ⅔·0 = 33 (both zones hold 1) → say a2.
    //   pod 4: zone a holds 2, b 1: b2 ⅓·100 + ⅔·50 = 66; the others hold a pod: at most
    //          ⅔·50 = 33 → b2.
    // One pod per node, two per zone, whatever the tie-breaks.
    let text = "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: selector-spread}
spec:
  duration: 1m
  scheduler:
    featureGates: {DefaultPodTopologySpread: false}
  nodePools:
    - name: a
      count: 2
      zones: [a]
      template: {allocatable: {cpu: \"4\", memory: 8Gi, pods: \"110\"}}
    - name: b
      count: 2
      zones: [b]
      template: {allocatable: {cpu: \"4\", memory: 8Gi, pods: \"110\"}}
  timeline:
    - at: 1s
      createPods:
        count: 4
        template:
          metadata: {name: web, namespace: default, labels: {app: web}}
          spec:
            containers: [{name: c, image: pause}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Policy
predicates: [{name: GeneralPredicates}]
priorities: [{name: SelectorSpreadPriority, weight: 3}]
";
    let (_dir, path) = fixture("spread.yaml", text, &[]);
    // The profile scores with SelectorSpread alone, at the Policy's weight.
    let config = match scheduler::config::resolve(&load(&path).scheduler.config) {
        Ok(c) => c,
        Err(e) => panic!("resolve: {e}"),
    };
    let profile = &config.profiles[0];
    let scores: Vec<(&str, i64)> = profile
        .score
        .iter()
        .map(|w| (profile.plugins[w.plugin].name(), w.weight))
        .collect();
    assert_eq!(scores, [("SelectorSpread", 3)]);
    for seed in [1, 2, 3] {
        let placed = pods_per_node(&path, seed);
        assert_eq!(counts(&placed), [1, 1, 1, 1], "seed {seed}: {placed:?}");
    }
}

/// A one-node Scenario and a Policy whose `priorities` are the lines `priorities`.
fn policy_with(priorities: &str) -> String {
    format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: p}}
spec:
  nodePools: [{{name: n, count: 1, template: {{allocatable: {{cpu: \"1\", pods: \"10\"}}}}}}]
---
kind: Policy
apiVersion: v1
priorities:
{priorities}"
    )
}

#[test]
fn removed_names_fail_with_exit_1_naming_file_line_column_and_field() {
    // Lines: 1–5 the Scenario, 6 `---`, 7 kind, 8 apiVersion, 9 priorities:, 10–12 the
    // entries; on line 12, `  - {name: ` takes 11 columns, so the name starts at column 12.
    let text = policy_with(
        "  - {name: LeastRequestedPriority, weight: 1}
  - {name: EqualPriority, weight: 1}
  - {name: ResourceLimitsPriority, weight: 1}
",
    );
    let (dir, path) = fixture("old.yaml", &text, &[]);
    let (code, _, stderr) = kubesim(&["validate", "old.yaml"], dir.path(), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("old.yaml:12:12: field `priorities[2].name`: priority \"ResourceLimitsPriority\" was removed in v1.19"),
        "{stderr}"
    );
    // The same scenario loads once the Scenario turns the old alpha gate on.
    let gated = text.replace(
        "spec:\n",
        "spec:\n  scheduler: {featureGates: {ResourceLimitsPriorityFunction: true}}\n",
    );
    std::fs::write(&path, gated).expect("write");
    let (code, _, stderr) = kubesim(&["validate", "old.yaml"], dir.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");

    // A predicate: CheckNodeCondition, gone since v1.17.
    let text = "kind: Policy\napiVersion: v1\npredicates:\n  - name: GeneralPredicates\n  - name: CheckNodeCondition\n";
    let (dir, _) = fixture("pred.yaml", text, &[]);
    let (code, _, stderr) = kubesim(&["validate", "pred.yaml"], dir.path(), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("pred.yaml:5:11: field `predicates[1].name`: predicate \"CheckNodeCondition\" was removed in v1.17"),
        "{stderr}"
    );
}

#[test]
fn a_policy_stands_beside_a_configuration_only_without_profile_plugins() {
    let policy = "---\nkind: Policy\napiVersion: v1\npredicates: [{name: GeneralPredicates}]\n\
                  priorities: [{name: MostRequestedPriority, weight: 2}]\n";
    // Settings outside profiles apply: 50 % of the nodes scored.
    let text = format!(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n\
         percentageOfNodesToScore: 50\n{policy}"
    );
    let (_dir, path) = fixture("both.yaml", &text, &[]);
    let scenario = load(&path);
    let config = &scenario.scheduler.config;
    assert_eq!(config.percentage_of_nodes_to_score, Some(50));
    let score = &config.profiles[0].plugins.score.enabled;
    assert_eq!(
        score
            .iter()
            .map(|r| (r.name.as_str(), r.weight))
            .collect::<Vec<_>>(),
        [("NodeResourcesFit", 2)]
    );
    // Plugins beside a Policy: refused, as kube-scheduler refused them.
    let text = format!(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n\
         profiles:\n  - plugins: {{score: {{disabled: [{{name: ImageLocality}}]}}}}\n{policy}"
    );
    let (_dir, path) = fixture("both.yaml", &text, &[]);
    let err = load_error(&path);
    // `profiles` is the list starting at the `-` of line 4, column 3.
    assert!(
        err.contains(
            "both.yaml:4:3: field `profiles`: cannot set a Plugin config and Policy config"
        ),
        "{err}"
    );
    // One Policy per scenario.
    let (_dir, path) = fixture("two.yaml", &format!("{policy}{policy}"), &[]);
    let err = load_error(&path);
    assert!(err.contains("a second Policy"), "{err}");
}

#[test]
fn policy_notes_and_gate_errors_point_into_the_files() {
    // An unknown gate names the gates there are.
    let text = "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nspec:\n  scheduler:\n    \
                featureGates: {Nope: true}\n---\nkind: Policy\napiVersion: v1\n";
    let (_dir, path) = fixture("gates.yaml", text, &[]);
    let err = load_error(&path);
    assert!(
        err.contains("field `spec.scheduler.featureGates.Nope`: unknown feature gate \"Nope\"; expected one of DefaultPodTopologySpread, ResourceLimitsPriorityFunction"),
        "{err}"
    );
    // What kubesim reads but does not model is noted where it is written.
    let text = "kind: Policy\napiVersion: v1\nalwaysCheckAllPredicates: true\nextenders:\n  \
                - urlPrefix: http://extender\nunknownField: 1\n";
    let (_dir, path) = fixture("noted.yaml", text, &[]);
    let notes: Vec<String> = load(&path)
        .notes
        .iter()
        .map(|n| format!("{}:{} {}", n.pos.line, n.pos.column, n.message))
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("1:1 Policy: fields not modelled, ignored: unknownField")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("5:3 Policy extenders: 1 extender(s) not modelled")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("3:27 Policy alwaysCheckAllPredicates: not modelled")),
        "{notes:?}"
    );
}

fn o(key: &str, value: &str) -> Override {
    match Override::new(key, value) {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn policy_overrides_change_the_policy_as_if_written_there() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/legacy-policy.yaml");
    let fit_args = |s: &Scenario| {
        let profile = &s.scheduler.config.profiles[0];
        // Score plugins in the priorities' name order: BalancedResourceAllocation's first.
        let weight = profile
            .plugins
            .score
            .enabled
            .iter()
            .find(|r| r.name == "NodeResourcesFit")
            .map_or(0, |r| r.weight);
        (
            weight,
            profile.plugin_config[0].args["scoringStrategy"]["type"].clone(),
        )
    };
    // As shipped: MostRequestedPriority ×10 packs.
    assert_eq!(fit_args(&load(&shipped)), (10, "MostAllocated".into()));
    // The first priority's name changed: LeastAllocated, at the same weight.
    let spread = load_with_overrides(
        &shipped,
        &[o("policy.priorities[0].name", "LeastRequestedPriority")],
        &Components,
    );
    match spread {
        Ok(s) => assert_eq!(fit_args(&s), (10, "LeastAllocated".into())),
        Err(e) => panic!("{e}"),
    }
    // A value the Policy refuses is blamed on the override, naming its key and value.
    let err = load_with_overrides(
        &shipped,
        &[o("policy.predicates[1].name", "CheckNodeCondition")],
        &Components,
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.contains("field `policy.predicates[1].name`: override value \"CheckNodeCondition\": predicate \"CheckNodeCondition\" was removed in v1.17"),
        "{err}"
    );
    // A field a Policy does not have, and a Policy override without a Policy.
    let err = load_with_overrides(
        &shipped,
        &[o("policy.percentageOfNodesToScore", "50")],
        &Components,
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("a Policy has no such field"), "{err}");
    let (_dir, plain) = fixture(
        "plain.yaml",
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nspec: {duration: 1m}\n",
        &[],
    );
    let err = load_with_overrides(&plain, &[o("policy.priorities", "[]")], &Components)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("the scenario has no Policy"), "{err}");
}

#[test]
fn a_sweep_over_policy_priorities_compares_packing_and_spreading() {
    // The shipped scenario with its first priority MostRequestedPriority (as shipped) and
    // LeastRequestedPriority: 40 pods of 1 CPU on ten 8-CPU nodes end on 5 nodes (8 each) and
    // on all 10 (4 each); the allocation spread (standard deviation of the nodes' CPU
    // allocation) is 50 points packed (five at 100 %, five at 0 %) and 0 spread (all at 50 %).
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("sweep");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, _, stderr) = kubesim(
        &[
            "sweep",
            "scenarios/legacy-policy.yaml",
            "--vary",
            "policy.priorities[0].name=MostRequestedPriority,LeastRequestedPriority",
            "--quiet",
            "--out",
            out.to_str().expect("a UTF-8 path"),
        ],
        root,
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let csv = std::fs::read_to_string(out.join("sweep.csv")).expect("sweep.csv");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    for (run, spread) in [
        ("000-name-MostRequestedPriority_seed-1", 50.0),
        ("001-name-LeastRequestedPriority_seed-1", 0.0),
    ] {
        let path = out.join("runs").join(run).join("summary.json");
        let text = std::fs::read_to_string(&path).expect("summary.json");
        let summary: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            summary["scheduling"]["cpuAllocationSpreadPct"].as_f64(),
            Some(spread),
            "{run}"
        );
        assert_eq!(
            summary["scheduling"]["podsBound"].as_u64(),
            Some(40),
            "{run}"
        );
    }
}
