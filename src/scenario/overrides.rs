//! Overrides: a value for one field of a scenario, named by a dotted path with indices, as
//! `kubesim sweep --vary` sets them.
//!
//! A path names a field of the `kind: Scenario` document (`spec.nodePools[0].count`,
//! `metadata.name`) or, behind the prefix `scheduler.`, a field of the scenario's
//! KubeSchedulerConfiguration document
//! (`scheduler.profiles[0].pluginConfig[0].args.scoringStrategy.type`), or, behind the prefix
//! `policy.`, a field of its legacy scheduler Policy (`policy.priorities[0].name`). Segments
//! are field names, `[N]` list indices, or `["a.b"]` for a map key that holds dots (a label
//! key).
//!
//! The value is YAML text, parsed as a value of that document: `1000` is a number, `50us` and
//! `MostAllocated` are strings, `'1000'` is a string, `{cpu: "8"}` is a map. Applying an override
//! is a change of the parsed document tree before the typed parse (see
//! [`super::load::load_with_overrides`]), so an override is checked exactly as the same value
//! written into the file would be.

use std::fmt;

/// The prefix of paths into the KubeSchedulerConfiguration document.
pub const SCHEDULER_PREFIX: &str = "scheduler.";
/// The prefix of paths into the legacy scheduler Policy document.
pub const POLICY_PREFIX: &str = "policy.";

/// A value for one field.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Override {
    /// The path as the user wrote it.
    pub key: String,
    /// The value, YAML text.
    pub value: String,
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// Which document of a scenario an override changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The `kind: Scenario` document.
    Scenario,
    /// The KubeSchedulerConfiguration document (created when the scenario has none).
    SchedulerConfiguration,
    /// The legacy scheduler Policy document (which the scenario must have: an empty Policy
    /// would not be an empty change).
    Policy,
}

impl Target {
    /// The prefix of paths into this document (empty for the Scenario document).
    pub fn prefix(self) -> &'static str {
        match self {
            Target::Scenario => "",
            Target::SchedulerConfiguration => SCHEDULER_PREFIX,
            Target::Policy => POLICY_PREFIX,
        }
    }
}

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A parsed override path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    /// The document.
    pub target: Target,
    /// The steps inside the document, never empty.
    pub segments: Vec<Segment>,
}

impl FieldPath {
    /// The path inside its document in serde's notation (`profiles.0.args`), as
    /// `serde_ignored` reports the fields it skipped.
    pub fn dotted(&self) -> String {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Key(k) => k.clone(),
                Segment::Index(i) => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The path inside its document as error messages write it (`profiles[0].args`).
    pub fn display(&self) -> String {
        display_segments(&self.segments)
    }
}

/// Segments as error messages write them: `profiles[0].args`.
pub fn display_segments(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A malformed override.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--vary {key}: {message}")]
pub struct OverrideError {
    /// The key (or the whole argument, when it has no key).
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Override {
    /// An override of `key` with `value`; the path is checked here.
    pub fn new(key: &str, value: &str) -> Result<Override, OverrideError> {
        parse_path(key)?;
        Ok(Override {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }

    /// The parsed path.
    pub fn path(&self) -> Result<FieldPath, OverrideError> {
        parse_path(&self.key)
    }
}

/// Parses `spec.nodePools[0].count`, `scheduler.profiles[0].schedulerName`,
/// `spec.nodePools[0].template.labels["topology.kubernetes.io/zone"]`.
pub fn parse_path(key: &str) -> Result<FieldPath, OverrideError> {
    let err = |message: String| OverrideError {
        key: key.to_owned(),
        message,
    };
    let (target, rest) = if let Some(rest) = key.strip_prefix(SCHEDULER_PREFIX) {
        (Target::SchedulerConfiguration, rest)
    } else if let Some(rest) = key.strip_prefix(POLICY_PREFIX) {
        (Target::Policy, rest)
    } else {
        (Target::Scenario, key)
    };
    let segments = parse_segments(rest).map_err(err)?;
    let first = match segments.first() {
        Some(Segment::Key(k)) => k.as_str(),
        Some(Segment::Index(_)) | None => {
            return Err(err(
                "expected a path starting with a field name, such as spec.nodePools[0].count"
                    .into(),
            ));
        }
    };
    match target {
        Target::Scenario if first != "spec" && first != "metadata" => Err(err(format!(
            "expected a path under spec. or metadata. (or scheduler. for the \
             KubeSchedulerConfiguration, policy. for the legacy Policy), found `{first}`"
        ))),
        Target::SchedulerConfiguration if first == "apiVersion" || first == "kind" => Err(err(
            "the KubeSchedulerConfiguration's apiVersion and kind cannot be changed".into(),
        )),
        Target::Policy if first == "apiVersion" || first == "kind" => Err(err(
            "the Policy's apiVersion and kind cannot be changed".into(),
        )),
        _ => Ok(FieldPath { target, segments }),
    }
}

fn parse_segments(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    // Whether a `.` must come before the next name (after a name or an index).
    let mut need_dot = false;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                if !need_dot {
                    return Err(format!("empty field name at character {}", i + 1));
                }
                need_dot = false;
                i += 1;
                if i == chars.len() {
                    return Err("the path ends with `.`; expected a field name after it".into());
                }
            }
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .map(|p| p + i)
                    .ok_or_else(|| format!("`[` at character {} is never closed", i + 1))?;
                let inner: String = chars[i + 1..close].iter().collect();
                if let Some(quoted) = inner
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .filter(|_| inner.len() >= 2)
                {
                    segments.push(Segment::Key(quoted.to_owned()));
                } else {
                    let index = inner.parse::<usize>().map_err(|_| {
                        format!(
                            "`[{inner}]` is not a list index; expected [N] with N a \
                             non-negative integer, or [\"key\"] for a map key"
                        )
                    })?;
                    segments.push(Segment::Index(index));
                }
                need_dot = true;
                i = close + 1;
            }
            ']' => return Err(format!("unexpected `]` at character {}", i + 1)),
            _ => {
                if need_dot {
                    return Err(format!("expected `.` or `[` at character {}", i + 1));
                }
                let start = i;
                while i < chars.len() && !matches!(chars[i], '.' | '[' | ']') {
                    i += 1;
                }
                segments.push(Segment::Key(chars[start..i].iter().collect()));
                need_dot = true;
            }
        }
    }
    if segments.is_empty() {
        return Err("empty path; expected a field such as spec.nodePools[0].count".into());
    }
    Ok(segments)
}

/// Splits `V1,V2,…` at the commas that are not inside quotes, `[]` or `{}`, so a value can be
/// a YAML list or map; each value is trimmed.
pub fn split_values(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                current.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    current.push(c);
                }
                '[' | '{' => {
                    depth += 1;
                    current.push(c);
                }
                ']' | '}' => {
                    depth -= 1;
                    current.push(c);
                }
                ',' if depth <= 0 => values.push(std::mem::take(&mut current).trim().to_owned()),
                _ => current.push(c),
            },
        }
    }
    values.push(current.trim().to_owned());
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_keys_and_indices() {
        let p = parse_path("spec.nodePools[0].template.labels[\"topology.kubernetes.io/zone\"]");
        assert_eq!(
            p.map(|p| p.segments),
            Ok(vec![
                Segment::Key("spec".into()),
                Segment::Key("nodePools".into()),
                Segment::Index(0),
                Segment::Key("template".into()),
                Segment::Key("labels".into()),
                Segment::Key("topology.kubernetes.io/zone".into()),
            ])
        );
        let p = parse_path("policy.priorities[0].weight");
        assert_eq!(
            p.map(|p| (p.target, p.display())),
            Ok((Target::Policy, "priorities[0].weight".to_owned()))
        );
        let s = parse_path("scheduler.profiles[1].pluginConfig[0].args");
        assert_eq!(
            s.as_ref().map(|p| (p.target, p.display(), p.dotted())),
            Ok((
                Target::SchedulerConfiguration,
                "profiles[1].pluginConfig[0].args".to_owned(),
                "profiles.1.pluginConfig.0.args".to_owned()
            ))
        );
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in [
            "",
            "spec..seed",
            "spec.seed.",
            "spec.nodePools[x]",
            "spec.nodePools[0",
            "spec.nodePools[0]count",
            "seed",
            "[0].a",
            "scheduler.kind",
            "scheduler.",
            "policy.apiVersion",
            "policy.",
        ] {
            assert!(parse_path(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn values_split_at_top_level_commas() {
        assert_eq!(split_values("a, b ,c"), vec!["a", "b", "c"]);
        assert_eq!(
            split_values("[a, b],{x: 1, y: 2},'p,q'"),
            vec!["[a, b]", "{x: 1, y: 2}", "'p,q'"]
        );
    }
}
