//! The runs of a sweep: the cartesian product of the varied values and the seeds, in a fixed
//! order (vary keys in the order given, each key's values in the order given, seeds
//! innermost), each with its index, its overrides and its folder name; and the shard of them
//! one process runs.

use serde::{Deserialize, Serialize};

use crate::scenario::overrides::{Override, OverrideError, parse_path, split_values};

/// One `--vary KEY=V1,V2,…`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vary {
    /// The field path.
    pub key: String,
    /// Its values, YAML text, in order.
    pub values: Vec<String>,
}

impl Vary {
    /// Parses `KEY=V1,V2,…`: commas inside quotes, `[]` or `{}` do not split, so a value can
    /// be a YAML list or map.
    pub fn parse(text: &str) -> Result<Vary, OverrideError> {
        let err = |key: &str, message: String| OverrideError {
            key: key.to_owned(),
            message,
        };
        let Some((key, values)) = text.split_once('=') else {
            return Err(err(
                text,
                "expected KEY=V1,V2,… such as spec.nodePools[0].count=1000,2000".into(),
            ));
        };
        let key = key.trim();
        parse_path(key)?;
        let values = split_values(values);
        if values.iter().any(String::is_empty) {
            return Err(err(
                key,
                "an empty value; expected comma-separated values (quote an empty string: '')"
                    .into(),
            ));
        }
        for (i, v) in values.iter().enumerate() {
            if values[..i].contains(v) {
                return Err(err(key, format!("value {v:?} is listed twice")));
            }
        }
        Ok(Vary {
            key: key.to_owned(),
            values,
        })
    }
}

/// Parses `--seeds`: `7`, `1..10` (inclusive), `1..=10`, or a comma list of these.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, String> {
    /// More seeds than this is a typo, not an experiment.
    const MAX_SEEDS: u64 = 1_000_000;
    let mut seeds: Vec<u64> = Vec::new();
    for part in text.split(',').map(str::trim) {
        let number = |t: &str| {
            t.trim().parse::<u64>().map_err(|_| {
                format!("{t:?} is not a seed; expected a non-negative integer, A..B or a list")
            })
        };
        let range = part
            .split_once("..=")
            .or_else(|| part.split_once(".."))
            .map(|(a, b)| -> Result<(u64, u64), String> { Ok((number(a)?, number(b)?)) });
        let (from, to) = match range {
            Some(r) => r?,
            None => {
                let n = number(part)?;
                (n, n)
            }
        };
        if from > to {
            return Err(format!(
                "{part:?} is an empty range; expected A..B with A ≤ B (both included)"
            ));
        }
        if to - from >= MAX_SEEDS || seeds.len() as u64 + (to - from) >= MAX_SEEDS {
            return Err(format!("more than {MAX_SEEDS} seeds"));
        }
        for seed in from..=to {
            if seeds.contains(&seed) {
                return Err(format!("seed {seed} is listed twice"));
            }
            seeds.push(seed);
        }
    }
    Ok(seeds)
}

/// Which runs one process runs: those with `index % count == index_of_shard`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

/// The environment variable with the shard count of a Kubernetes Indexed Job.
pub const ENV_SHARDS: &str = "KUBESIM_SHARDS";
/// The shard index a Kubernetes Indexed Job gives each pod.
pub const ENV_JOB_INDEX: &str = "JOB_COMPLETION_INDEX";
/// The task id of a Slurm job array.
pub const ENV_SLURM_ID: &str = "SLURM_ARRAY_TASK_ID";
/// The task count of a Slurm job array.
pub const ENV_SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
/// The smallest task id of a Slurm job array (`--array=1-8` starts at 1).
pub const ENV_SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";

impl Shard {
    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let parsed = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) => Shard::new(index, count),
            None => Err(format!(
                "{text:?} is not a shard; expected I/N such as 0/4 (shards are numbered from 0)"
            )),
        }
    }

    /// Shard `index` of `count`, checked.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index}/{count}: expected 0 ≤ I < N (shards are numbered from 0)"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard from the environment: `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job)
    /// with the count in `KUBESIM_SHARDS`, else `SLURM_ARRAY_TASK_ID` (less
    /// `SLURM_ARRAY_TASK_MIN`) of `SLURM_ARRAY_TASK_COUNT`. `var` reads a variable.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            match var(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name}={v:?} is not a non-negative integer")),
            }
        };
        if let Some(index) = number(ENV_JOB_INDEX)? {
            let count = number(ENV_SHARDS)?.ok_or_else(|| {
                format!(
                    "{ENV_JOB_INDEX} is set but {ENV_SHARDS} is not; set it to the Job's \
                     completions (the number of shards)"
                )
            })?;
            return Shard::new(index, count);
        }
        if let Some(id) = number(ENV_SLURM_ID)? {
            let count = number(ENV_SLURM_COUNT)?
                .ok_or_else(|| format!("{ENV_SLURM_ID} is set but {ENV_SLURM_COUNT} is not"))?;
            let min = number(ENV_SLURM_MIN)?.unwrap_or(0);
            let index = id
                .checked_sub(min)
                .ok_or_else(|| format!("{ENV_SLURM_ID}={id} is below {ENV_SLURM_MIN}={min}"))?;
            return Shard::new(index, count);
        }
        Err(format!(
            "--shard-from-env: neither {ENV_JOB_INDEX} (with {ENV_SHARDS}) nor {ENV_SLURM_ID} \
             (with {ENV_SLURM_COUNT}) is set"
        ))
    }

    /// Whether run `index` belongs to this shard.
    pub fn includes(&self, index: usize) -> bool {
        index as u64 % self.count == self.index
    }
}

/// One run of a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRun {
    /// Position in the sweep's order, from 0.
    pub index: usize,
    /// Which value of each varied key (indices into [`Vary::values`]).
    pub combination: usize,
    /// One override per varied key, in the order of the keys.
    pub overrides: Vec<Override>,
    /// The run's seed.
    pub seed: u64,
    /// Folder name under `runs/`: `<index>-<slug>`.
    pub folder: String,
}

/// Every run of a sweep, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The varied keys.
    pub vary: Vec<Vary>,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// The value combinations, in order: each is one value per key.
    pub combinations: Vec<Vec<String>>,
    /// The runs: combinations × seeds, seeds innermost.
    pub runs: Vec<PlannedRun>,
}

/// A sweep larger than this is a typo.
pub const MAX_RUNS: usize = 10_000_000;

impl Plan {
    /// The plan of `vary` × `seeds`.
    pub fn new(vary: Vec<Vary>, seeds: Vec<u64>) -> Result<Plan, String> {
        for (i, v) in vary.iter().enumerate() {
            if vary[..i].iter().any(|w| w.key == v.key) {
                return Err(format!("--vary {}: the key is varied twice", v.key));
            }
        }
        if seeds.is_empty() {
            return Err("no seeds".into());
        }
        let mut combinations: Vec<Vec<String>> = vec![Vec::new()];
        for v in &vary {
            let mut next = Vec::with_capacity(combinations.len() * v.values.len());
            for prefix in &combinations {
                for value in &v.values {
                    let mut c = prefix.clone();
                    c.push(value.clone());
                    next.push(c);
                }
            }
            if next.len().saturating_mul(seeds.len()) > MAX_RUNS {
                return Err(format!("more than {MAX_RUNS} runs"));
            }
            combinations = next;
        }
        let total = combinations.len() * seeds.len();
        let width = total.saturating_sub(1).to_string().len().max(3);
        let mut runs = Vec::with_capacity(total);
        for (combination, values) in combinations.iter().enumerate() {
            for &seed in &seeds {
                let index = runs.len();
                let overrides: Vec<Override> = vary
                    .iter()
                    .zip(values)
                    .map(|(v, value)| Override {
                        key: v.key.clone(),
                        value: value.clone(),
                    })
                    .collect();
                let folder = format!("{index:0width$}-{}", slug(&overrides, seed));
                runs.push(PlannedRun {
                    index,
                    combination,
                    overrides,
                    seed,
                    folder,
                });
            }
        }
        Ok(Plan {
            vary,
            seeds,
            combinations,
            runs,
        })
    }

    /// The runs of `shard`, in order.
    pub fn shard(&self, shard: Shard) -> impl Iterator<Item = &PlannedRun> {
        self.runs.iter().filter(move |r| shard.includes(r.index))
    }

    /// A combination as `key=value, key=value` (or `(defaults)` when nothing varies).
    pub fn describe(&self, combination: usize) -> String {
        let values = self
            .combinations
            .get(combination)
            .cloned()
            .unwrap_or_default();
        if values.is_empty() {
            return "(scenario as written)".into();
        }
        self.vary
            .iter()
            .zip(&values)
            .map(|(v, value)| format!("{}={value}", v.key))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A combination's values only, `v1, v2`.
    pub fn values_label(&self, combination: usize) -> String {
        let values = self
            .combinations
            .get(combination)
            .cloned()
            .unwrap_or_default();
        if values.is_empty() {
            "(scenario as written)".into()
        } else {
            values.join(", ")
        }
    }
}

/// A file-name-safe summary of a run: the last field name and value of each override, then
/// the seed: `count-2000_type-MostAllocated_seed-3`.
fn slug(overrides: &[Override], seed: u64) -> String {
    const MAX_PART: usize = 40;
    let clean = |text: &str| -> String {
        let mut out = String::new();
        for c in text.chars() {
            if c.is_ascii_alphanumeric() || c == '.' {
                out.push(c);
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        let trimmed = out.trim_matches(['-', '.']).to_owned();
        trimmed.chars().take(MAX_PART).collect()
    };
    let mut parts: Vec<String> = overrides
        .iter()
        .map(|o| {
            let field = o
                .key
                .rsplit(['.', '['])
                .map(|s| s.trim_end_matches(']').trim_matches('"'))
                .find(|s| !s.is_empty() && s.parse::<usize>().is_err())
                .unwrap_or("value");
            format!("{}-{}", clean(field), clean(&o.value))
        })
        .collect();
    parts.push(format!("seed-{seed}"));
    parts.join("_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_and_safe() {
        let o = |k: &str, v: &str| Override {
            key: k.into(),
            value: v.into(),
        };
        assert_eq!(
            slug(
                &[
                    o("spec.nodePools[0].count", "2000"),
                    o("spec.scheduler.cycleCost.perCycle", "50us"),
                    o("spec.x[1]", "{a: 1}")
                ],
                3
            ),
            "count-2000_perCycle-50us_x-a-1_seed-3"
        );
    }

    #[test]
    fn seeds_parse_inclusive_ranges_and_lists() {
        assert_eq!(parse_seeds("1..3"), Ok(vec![1, 2, 3]));
        assert_eq!(parse_seeds("1..=2,7"), Ok(vec![1, 2, 7]));
        assert!(parse_seeds("3..1").is_err());
        assert!(parse_seeds("1,1").is_err());
        assert!(parse_seeds("x").is_err());
    }

    #[test]
    fn shards_come_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Shard::from_env(env(&[
                ("JOB_COMPLETION_INDEX", "2"),
                ("KUBESIM_SHARDS", "4")
            ])),
            Ok(Shard { index: 2, count: 4 })
        );
        assert_eq!(
            Shard::from_env(env(&[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_ARRAY_TASK_MIN", "1")
            ])),
            Ok(Shard { index: 2, count: 3 })
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "2")])).is_err());
        assert!(Shard::from_env(env(&[])).is_err());
        assert!(Shard::parse("4/4").is_err());
    }
}
