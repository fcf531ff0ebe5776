//! A `KubeSchedulerConfiguration` (the document is [`crate::config::kube_scheduler`]) resolved
//! into the scheduler's profiles, which plugins run at which extension point with which weight
//! and args, and its queue settings — merged with the default profile exactly as kube-scheduler
//! merges them; every plugin name, weight and args checked on the way, the error naming the
//! field.
//!
//! Merging (upstream `mergePlugins`, per extension point): a default plugin is dropped if the
//! user disables it (or `"*"`); a default the user enables again keeps its place with the
//! user's settings; other user plugins are appended in order. MultiPoint plugins then expand
//! to every extension point they implement, unless disabled at that point; a plugin enabled
//! explicitly at a point overrides its MultiPoint entry there and comes first.

use super::framework::{ExtensionPoints, Profile, WeightedPlugin};
use super::gpu::plugins::open_gpu_share;
use super::plugins::{self, PluginArgs};
use super::preemption::{self, PreemptionArgs};
use crate::api::pod::DEFAULT_SCHEDULER_NAME;
use crate::config::ConfigError;
use crate::config::kube_scheduler::{
    KubeSchedulerConfiguration, PluginRef, PluginSet, ProfileConfig,
};
use crate::sim::rng::RngStreams;

/// Score weight above which a configuration is rejected.
pub const MAX_WEIGHT: i64 = 100;

/// The default profile's plugins, in order, with their score weights (0 = not a score plugin)
/// — `pkg/scheduler/apis/config/v1/default_plugins.go`.
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    ("VolumeBinding", 0),
    ("VolumeZone", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
];

/// Scheduler-wide settings besides the profiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    /// `podInitialBackoffSeconds`.
    pub initial_backoff_seconds: i64,
    /// `podMaxBackoffSeconds`.
    pub max_backoff_seconds: i64,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            initial_backoff_seconds: 1,
            max_backoff_seconds: 10,
        }
    }
}

/// The resolved scheduler configuration.
pub struct SchedulerConfig {
    /// Profiles, by scheduler name order of the document.
    pub profiles: Vec<Profile>,
    /// Per profile (same order): DefaultPreemption's args when it runs at PostFilter.
    pub preemption: Vec<Option<PreemptionArgs>>,
    /// Queue settings.
    pub queue: QueueSettings,
}

/// Resolves the profiles and plugins of `config`; errors name the field path. Plugins that draw
/// random numbers get the streams of seed 0: use [`resolve_seeded`] for a run.
pub fn resolve(config: &KubeSchedulerConfiguration) -> Result<SchedulerConfig, ConfigError> {
    resolve_seeded(config, 0)
}

/// [`resolve`] for a run with this seed: a plugin that draws random numbers draws from the
/// stream `scheduler/<profile>/<plugin>` of it.
pub fn resolve_seeded(
    config: &KubeSchedulerConfiguration,
    seed: u64,
) -> Result<SchedulerConfig, ConfigError> {
    let streams = RngStreams::new(seed);
    let global_pct = validate_percentage(
        config.percentage_of_nodes_to_score,
        "percentageOfNodesToScore",
    )?;
    let queue = QueueSettings {
        initial_backoff_seconds: positive(
            config.pod_initial_backoff_seconds,
            1,
            "podInitialBackoffSeconds",
        )?,
        max_backoff_seconds: positive(config.pod_max_backoff_seconds, 10, "podMaxBackoffSeconds")?,
    };
    if queue.max_backoff_seconds < queue.initial_backoff_seconds {
        return Err(ConfigError {
            path: "podMaxBackoffSeconds".into(),
            message: format!(
                "must be at least podInitialBackoffSeconds ({})",
                queue.initial_backoff_seconds
            ),
        });
    }
    let default_profile = [ProfileConfig::default()];
    let configs: &[ProfileConfig] = if config.profiles.is_empty() {
        &default_profile
    } else {
        &config.profiles
    };
    let max_weight = config.max_weight.unwrap_or(MAX_WEIGHT);
    let mut profiles = Vec::with_capacity(configs.len());
    let mut preemption = Vec::with_capacity(configs.len());
    for (i, config) in configs.iter().enumerate() {
        let prefix = format!("profiles[{i}]");
        let name = config
            .scheduler_name
            .clone()
            .unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_string());
        if profiles.iter().any(|p: &Profile| p.name == name) {
            return Err(ConfigError {
                path: format!("{prefix}.schedulerName"),
                message: format!("duplicate profile name {name:?}"),
            });
        }
        let pct = validate_percentage(
            config.percentage_of_nodes_to_score,
            &format!("{prefix}.percentageOfNodesToScore"),
        )?
        .unwrap_or(global_pct.unwrap_or(0));
        preemption.push(preemption_args(config, &prefix, &name, streams)?);
        let built = build_profile(name, pct, config, &prefix, streams, max_weight)?;
        profiles.push(built);
    }
    Ok(SchedulerConfig {
        profiles,
        preemption,
        queue,
    })
}

/// DefaultPreemption's args if it runs at PostFilter in this profile (it is a default
/// MultiPoint plugin; disabling it at `postFilter` or `multiPoint` turns preemption off).
fn preemption_args(
    config: &ProfileConfig,
    prefix: &str,
    profile: &str,
    streams: RngStreams,
) -> Result<Option<PreemptionArgs>, ConfigError> {
    let p = &config.plugins;
    let name = preemption::NAME;
    let from_multi = merge(DEFAULT_PLUGINS, &p.multi_point)
        .iter()
        .any(|(n, _)| n == name);
    let disabled_here = p
        .post_filter
        .disabled
        .iter()
        .any(|r| r.name == name || r.name == "*");
    let enabled_here = p.post_filter.enabled.iter().any(|r| r.name == name);
    if !(enabled_here || (from_multi && !disabled_here)) {
        return Ok(None);
    }
    let (args, path) = match config
        .plugin_config
        .iter()
        .enumerate()
        .find(|(_, e)| e.name == name)
    {
        Some((j, e)) => (Some(&e.args), format!("{prefix}.pluginConfig[{j}].args")),
        None => (None, String::new()),
    };
    let parsed: PreemptionArgs = PluginArgs {
        value: args,
        path: &path,
        streams,
        profile,
    }
    .parse()?;
    parsed
        .validate()
        .map_err(|message| ConfigError { path, message })?;
    Ok(Some(parsed))
}

fn validate_percentage(value: Option<i32>, path: &str) -> Result<Option<u32>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if (0..=100).contains(&v) => Ok(Some(v as u32)),
        Some(v) => Err(ConfigError {
            path: path.to_string(),
            message: format!("{v} is not a percentage; expected an integer from 0 to 100"),
        }),
    }
}

fn positive(value: Option<i64>, default: i64, path: &str) -> Result<i64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if v > 0 => Ok(v),
        Some(v) => Err(ConfigError {
            path: path.to_string(),
            message: format!("{v} must be greater than 0"),
        }),
    }
}

/// The plugins of one extension point after merging with the defaults: (name, weight).
fn merge(defaults: &[(&str, i64)], custom: &PluginSet) -> Vec<(String, i64)> {
    let disabled_all = custom.disabled.iter().any(|p| p.name == "*");
    let mut merged: Vec<(String, i64)> = Vec::new();
    let mut replaced = vec![false; custom.enabled.len()];
    for &(name, weight) in defaults {
        if disabled_all || custom.disabled.iter().any(|p| p.name == name) {
            continue;
        }
        match custom.enabled.iter().position(|p| p.name == name) {
            Some(i) => {
                replaced[i] = true;
                merged.push((name.to_string(), custom.enabled[i].weight));
            }
            None => merged.push((name.to_string(), weight)),
        }
    }
    for (i, p) in custom.enabled.iter().enumerate() {
        if !replaced[i] {
            merged.push((p.name.clone(), p.weight));
        }
    }
    merged
}

/// Which of the named extension points a set of points implements.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Point {
    PreFilter,
    Filter,
    PreScore,
    Score,
    Reserve,
}

impl Point {
    fn implemented_by(self, points: &ExtensionPoints) -> bool {
        match self {
            Point::PreFilter => points.pre_filter,
            Point::Filter => points.filter,
            Point::PreScore => points.pre_score,
            Point::Score => points.score,
            Point::Reserve => points.reserve,
        }
    }
}

fn build_profile(
    name: String,
    percentage: u32,
    config: &ProfileConfig,
    prefix: &str,
    streams: RngStreams,
    max_weight: i64,
) -> Result<Profile, ConfigError> {
    let p = &config.plugins;
    let multi_point = merge(DEFAULT_PLUGINS, &p.multi_point);
    let points = [
        (Point::PreFilter, &p.pre_filter, "preFilter"),
        (Point::Filter, &p.filter, "filter"),
        (Point::PreScore, &p.pre_score, "preScore"),
        (Point::Score, &p.score, "score"),
        (Point::Reserve, &p.reserve, "reserve"),
    ];
    // Validate every name and weight the user wrote, with its path.
    let sets = [
        (&p.multi_point, "multiPoint"),
        (&p.pre_enqueue, "preEnqueue"),
        (&p.queue_sort, "queueSort"),
        (&p.pre_filter, "preFilter"),
        (&p.filter, "filter"),
        (&p.post_filter, "postFilter"),
        (&p.pre_score, "preScore"),
        (&p.score, "score"),
        (&p.reserve, "reserve"),
        (&p.permit, "permit"),
        (&p.pre_bind, "preBind"),
        (&p.bind, "bind"),
        (&p.post_bind, "postBind"),
    ];
    for (set, point) in sets {
        for (list, which) in [(&set.enabled, "enabled"), (&set.disabled, "disabled")] {
            for (j, r) in list.iter().enumerate() {
                let path = format!("{prefix}.plugins.{point}.{which}[{j}]");
                if r.name != "*" && !plugins::is_known(&r.name) {
                    return Err(ConfigError {
                        path: format!("{path}.name"),
                        message: format!(
                            "unknown plugin {:?}; expected one of {}",
                            r.name,
                            plugins::KNOWN_PLUGINS.join(", ")
                        ),
                    });
                }
                if !(0..=max_weight).contains(&r.weight) {
                    return Err(ConfigError {
                        path: format!("{path}.weight"),
                        message: format!(
                            "{} is out of range; expected 0 to {max_weight}",
                            r.weight
                        ),
                    });
                }
            }
        }
    }
    // One instance per plugin name, with its args.
    let mut names: Vec<String> = multi_point.iter().map(|(n, _)| n.clone()).collect();
    for (_, set, _) in &points {
        for r in &set.enabled {
            if !names.contains(&r.name) {
                names.push(r.name.clone());
            }
        }
    }
    let args_of = |plugin_name: &str| match config
        .plugin_config
        .iter()
        .enumerate()
        .find(|(_, e)| e.name == plugin_name)
    {
        Some((j, e)) => (Some(&e.args), format!("{prefix}.pluginConfig[{j}].args")),
        None => (None, String::new()),
    };
    let mut instances = Vec::with_capacity(names.len());
    for plugin_name in &names {
        let (args, path) = args_of(plugin_name);
        let plugin = plugins::new_plugin(
            plugin_name,
            PluginArgs {
                value: args,
                path: &path,
                streams,
                profile: &name,
            },
        )?;
        instances.push(plugin);
    }
    let mut profile = Profile {
        name,
        plugins: Vec::new(),
        pre_filter: Vec::new(),
        filter: Vec::new(),
        pre_score: Vec::new(),
        score: Vec::new(),
        reserve: Vec::new(),
        percentage_of_nodes_to_score: percentage,
    };
    for (point, set, _) in points {
        let mut ordered: Vec<(usize, i64)> = Vec::new();
        if !set.disabled.iter().any(|r| r.name == "*") {
            let explicit: Vec<&PluginRef> = set.enabled.iter().collect();
            // Part 1: explicitly enabled plugins that also come through MultiPoint, in their
            // explicit order; part 2: MultiPoint plugins; part 3: the other explicit ones.
            let mut overrides = Vec::new();
            let mut from_multi = Vec::new();
            for (n, w) in &multi_point {
                let Some(idx) = names.iter().position(|x| x == n) else {
                    continue;
                };
                let Some(plugin) = instances.get(idx).and_then(|p| p.as_ref()) else {
                    continue;
                };
                if !point.implemented_by(&plugin.points())
                    || set.disabled.iter().any(|r| &r.name == n)
                {
                    continue;
                }
                if explicit.iter().any(|r| &r.name == n) {
                    overrides.push(n.clone());
                } else {
                    from_multi.push((idx, *w));
                }
            }
            for r in &explicit {
                if overrides.contains(&r.name) {
                    push_instance(&mut ordered, &names, &r.name, r.weight);
                }
            }
            ordered.extend(from_multi);
            for r in &explicit {
                if !overrides.contains(&r.name) {
                    push_instance(&mut ordered, &names, &r.name, r.weight);
                }
            }
        } else {
            for r in &set.enabled {
                push_instance(&mut ordered, &names, &r.name, r.weight);
            }
        }
        for (idx, weight) in ordered {
            let implements = instances
                .get(idx)
                .and_then(|p| p.as_ref())
                .is_some_and(|p| point.implemented_by(&p.points()));
            if !implements {
                continue;
            }
            match point {
                Point::PreFilter => profile.pre_filter.push(idx),
                Point::Filter => profile.filter.push(idx),
                Point::PreScore => profile.pre_score.push(idx),
                Point::Score => profile.score.push(WeightedPlugin {
                    plugin: idx,
                    weight: if weight == 0 { 1 } else { weight },
                }),
                Point::Reserve => profile.reserve.push(idx),
            }
        }
    }
    // Open-Gpu-Share without a gpuSelMethod chooses GPUs as the profile's GPU score plugin
    // does, as the artifact's experiment scripts configure it: it is built again with that
    // method once the profile's score plugins and weights are known.
    if let Some(idx) = names.iter().position(|n| n == open_gpu_share::NAME) {
        let (args, path) = args_of(open_gpu_share::NAME);
        let unset = args.is_none_or(|a| a.get("gpuSelMethod").is_none_or(|m| m.is_null()));
        let scorers = profile
            .score
            .iter()
            .map(|w| (names[w.plugin].as_str(), w.weight));
        if unset && let Some(method) = open_gpu_share::default_gpu_sel_method(scorers) {
            let mut value = match args {
                Some(serde_json::Value::Object(map)) => map.clone(),
                _ => serde_json::Map::new(),
            };
            value.insert("gpuSelMethod".into(), method.into());
            let value = serde_json::Value::Object(value);
            instances[idx] = plugins::new_plugin(
                open_gpu_share::NAME,
                PluginArgs {
                    value: Some(&value),
                    path: &path,
                    streams,
                    profile: &profile.name,
                },
            )?;
        }
    }
    // Keep instances aligned with indices; plugins kubesim does not model (volumes, binder,
    // queue sort, which live elsewhere) have no instance.
    profile.plugins = instances
        .into_iter()
        .map(|p| p.unwrap_or_else(|| Box::new(plugins::NoOp)))
        .collect();
    Ok(profile)
}

fn push_instance(ordered: &mut Vec<(usize, i64)>, names: &[String], name: &str, weight: i64) {
    if let Some(idx) = names.iter().position(|n| n == name)
        && !ordered.iter().any(|(i, _)| *i == idx)
    {
        ordered.push((idx, weight));
    }
}
