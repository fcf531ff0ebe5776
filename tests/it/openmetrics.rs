//! `kubesim run --openmetrics`: `metrics.om` against the OpenMetrics 1.0.0 text format.
//!
//! Acceptance criteria of the issue: "`kubesim run --openmetrics` also writes the sampled series
//! as OpenMetrics text with timestamps (`metrics.om`), which `promtool tsdb create-blocks-from
//! openmetrics` imports … (test the format against the OpenMetrics grammar)".
//!
//! [`check`] is a checker written from the format's ABNF and the rules around it: descriptor
//! lines (`# HELP`, `# TYPE`, `# UNIT`), sample lines `name{labels} value timestamp`, the final
//! `# EOF`; metric and label names, label value and help escaping (`\\`, `\"`, `\n` only),
//! number syntax; a family's descriptors before its samples, each family once and contiguous,
//! each series contiguous with strictly increasing timestamps; a counter family `foo` without
//! `_total` whose samples are `foo_total` (non-negative); a unit that ends its family's name.
//! On top of the format, what promtool's import needs and kubesim promises: every sample has a
//! timestamp, every family a `# TYPE` (gauge or counter) and `# HELP`, no exemplars.
//! Timestamps are read the way Prometheus reads them, `int64(seconds × 1000)`.

use std::path::Path;

use crate::support::{fixture, kubesim};

/// A label set: (name, value) pairs in the order written, unescaped.
type Labels = Vec<(String, String)>;

/// One sample line, unescaped.
#[derive(Clone, Debug, PartialEq)]
struct Sample {
    name: String,
    labels: Labels,
    value: f64,
    /// Milliseconds since the epoch, as Prometheus reads the timestamp.
    millis: i64,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One metric family: its descriptors and samples, in file order.
#[derive(Debug, Default)]
struct Family {
    name: String,
    kind: Option<String>,
    unit: Option<String>,
    help: Option<String>,
    samples: Vec<Sample>,
}

fn is_metricname(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `escaped-string`: any character but a line feed, `"` and `\`, or `\n`, `\"`, `\\`. Returns
/// the text unescaped.
fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                other => return Err(format!("bad escape \\{other:?} in {text:?}")),
            },
            '"' | '\n' => return Err(format!("unescaped {c:?} in {text:?}")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `realnumber`: `[sign] 1*DIGIT ["." *DIGIT] ["e" [sign] 1*DIGIT]` or
/// `[sign] *DIGIT "." 1*DIGIT ["e" [sign] 1*DIGIT]`.
fn realnumber(text: &str) -> Result<f64, String> {
    let bad = || format!("{text:?} is not a realnumber");
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let mantissa_ok = digits(whole)
        && match fraction {
            None => !whole.is_empty(),
            Some(f) => digits(f) && !(whole.is_empty() && f.is_empty()),
        };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if !mantissa_ok || !exponent_ok {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

/// `number`: a realnumber, `[sign] inf / infinity` or `nan`, case-insensitive.
fn number(text: &str) -> Result<f64, String> {
    let lower = text.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if unsigned == "inf" || unsigned == "infinity" {
        return Ok(if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return Ok(f64::NAN);
    }
    realnumber(text)
}

/// `labels = "{" [label *(COMMA label)] "}"` at the start of `text`: the labels and the rest.
fn labels(text: &str) -> Result<(Labels, &str), String> {
    let mut rest = text
        .strip_prefix('{')
        .ok_or_else(|| format!("expected {{ at {text:?}"))?;
    let mut labels: Labels = Vec::new();
    if let Some(after) = rest.strip_prefix('}') {
        return Ok((labels, after));
    }
    loop {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("expected a label at {rest:?}"))?;
        if !is_label_name(name) || name.starts_with("__") {
            return Err(format!("bad label name {name:?}"));
        }
        let value_and_more = after
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name}: expected a quoted value"))?;
        // The value ends at the first quote that no backslash escapes.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in value_and_more.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("label {name}: unterminated value"))?;
        let value = unescape(&value_and_more[..end])?;
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name} twice"));
        }
        labels.push((name.to_string(), value));
        rest = &value_and_more[end + 1..];
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        rest = rest
            .strip_prefix(',')
            .ok_or_else(|| format!("expected , or }} at {rest:?}"))?;
    }
}

/// A sample line.
fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metricname(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let (labels, rest) = if line[name_end..].starts_with('{') {
        labels(&line[name_end..])?
    } else {
        (Vec::new(), &line[name_end..])
    };
    let rest = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("expected a space before the value in {line:?}"))?;
    let mut fields = rest.split(' ');
    let value = number(fields.next().unwrap_or_default())?;
    let timestamp = fields
        .next()
        .ok_or_else(|| format!("no timestamp in {line:?} (promtool needs one)"))?;
    if timestamp == "#" {
        return Err(format!("an exemplar in {line:?}"));
    }
    let seconds = realnumber(timestamp)?;
    if let Some(more) = fields.next() {
        return Err(format!(
            "unexpected {more:?} after the timestamp in {line:?}"
        ));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        millis: (seconds * 1000.0) as i64,
    })
}

/// The family a descriptor of `name` belongs to: the current one if it is `name` and has no
/// samples yet, else a new one — unless `name` was a family already.
fn family_for<'f>(families: &'f mut Vec<Family>, name: &str) -> Result<&'f mut Family, String> {
    let current = families.last().is_some_and(|f| f.name == name);
    if current && families.last().is_some_and(|f| !f.samples.is_empty()) {
        return Err(format!("a descriptor of {name} after its samples"));
    }
    if !current {
        if families.iter().any(|f| f.name == name) {
            return Err(format!("family {name} twice (families must be contiguous)"));
        }
        families.push(Family {
            name: name.to_string(),
            ..Family::default()
        });
    }
    families.last_mut().ok_or_else(|| "no family".to_string())
}

/// A descriptor line (`line` without its `# `).
fn descriptor(families: &mut Vec<Family>, line: &str) -> Result<(), String> {
    let mut parts = line.splitn(3, ' ');
    let (keyword, name) = (parts.next().unwrap_or_default(), parts.next());
    let name = name.ok_or_else(|| format!("# {line}: no metric name"))?;
    let text = parts
        .next()
        .ok_or_else(|| format!("# {line}: nothing after the name"))?;
    if !is_metricname(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let family = family_for(families, name)?;
    let slot = match keyword {
        "HELP" => &mut family.help,
        "TYPE" => &mut family.kind,
        "UNIT" => &mut family.unit,
        other => return Err(format!("# {other}: not a descriptor")),
    };
    if slot.is_some() {
        return Err(format!("# {keyword} {name} twice"));
    }
    let value = match keyword {
        "HELP" => unescape(text)?,
        "TYPE" => match text {
            "gauge" => text.to_string(),
            "counter" if name.ends_with("_total") => {
                return Err(format!("counter family {name} ends in _total"));
            }
            "counter" => text.to_string(),
            _ => {
                return Err(format!(
                    "type {text:?} of {name}: expected gauge or counter"
                ));
            }
        },
        _ => {
            let unit_chars = text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !unit_chars || !name.ends_with(&format!("_{text}")) {
                return Err(format!("unit {text:?} does not end {name}"));
            }
            text.to_string()
        }
    };
    *slot = Some(value);
    Ok(())
}

/// Checks `text` against the OpenMetrics text format (and the rules above); the families.
fn check(text: &str) -> Result<Vec<Family>, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .or_else(|| text.strip_suffix("# EOF"))
        .ok_or("the exposition does not end with # EOF")?;
    if !body.is_empty() && !body.ends_with('\n') {
        return Err("# EOF is not on a line of its own".into());
    }
    let mut families: Vec<Family> = Vec::new();
    let lines = body.strip_suffix('\n').map(|b| b.split('\n'));
    for (index, line) in lines.into_iter().flatten().enumerate() {
        let at = |e: String| format!("line {}: {e}", index + 1);
        if line.is_empty() {
            return Err(at("a blank line".into()));
        }
        if line.contains('\r') {
            return Err(at("a carriage return".into()));
        }
        if line == "# EOF" {
            return Err(at("# EOF before the end".into()));
        }
        if let Some(rest) = line.strip_prefix("# ") {
            descriptor(&mut families, rest).map_err(at)?;
            continue;
        }
        let sample = sample(line).map_err(at)?;
        let family = families
            .last_mut()
            .ok_or_else(|| at(format!("{} before any # TYPE", sample.name)))?;
        let kind = family
            .kind
            .clone()
            .ok_or_else(|| at(format!("family {} without # TYPE", family.name)))?;
        let own_name = match kind.as_str() {
            "counter" => format!("{}_total", family.name),
            _ => family.name.clone(),
        };
        if sample.name != own_name {
            return Err(at(format!(
                "{} is not a sample of the {kind} family {} (expected {own_name})",
                sample.name, family.name
            )));
        }
        if kind == "counter" && (sample.value.is_nan() || sample.value < 0.0) {
            return Err(at(format!("counter {} at {}", sample.name, sample.value)));
        }
        let mut key = sample.labels.clone();
        key.sort();
        let same_series = |s: &Sample| {
            let mut k = s.labels.clone();
            k.sort();
            k == key
        };
        match family.samples.last() {
            Some(last) if same_series(last) && sample.millis <= last.millis => {
                return Err(at(format!(
                    "{}: timestamp {} ms not after {} ms",
                    sample.name, sample.millis, last.millis
                )));
            }
            Some(last) if same_series(last) => {}
            _ if family.samples.iter().any(same_series) => {
                return Err(at(format!("series of {} interleaved", sample.name)));
            }
            _ => {}
        }
        family.samples.push(sample);
    }
    for family in &families {
        if family.help.is_none() || family.samples.is_empty() {
            return Err(format!("family {} without # HELP or samples", family.name));
        }
    }
    Ok(families)
}

/// The points (milliseconds, value) of the series named `name` whose labels include `with`.
fn points(families: &[Family], name: &str, with: &[(&str, &str)]) -> Vec<(i64, f64)> {
    families
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|s| s.name == name && with.iter().all(|&(k, v)| s.label(k) == Some(v)))
        .map(|s| (s.millis, s.value))
        .collect()
}

fn checked(text: &str) -> Vec<Family> {
    match check(text) {
        Ok(families) => families,
        Err(e) => panic!("metrics.om does not follow the format: {e}"),
    }
}

#[test]
fn the_checker_reads_a_well_formed_exposition() {
    let text = "\
# HELP reqs Requests \\\"served\\\",\\nall.
# TYPE reqs counter
reqs_total{code=\"200\",path=\"C:\\\\tmp \\\"x\\\"\\n\"} 1 1767225600
reqs_total{code=\"200\",path=\"C:\\\\tmp \\\"x\\\"\\n\"} 3 1767225690.25
reqs_total{code=\"500\",path=\"/\"} 0 1767225600
# TYPE mem_bytes gauge
# UNIT mem_bytes bytes
# HELP mem_bytes Memory.
mem_bytes 1.5e3 1767225600
mem_bytes -Inf 1767225601
mem_bytes NaN 1767225602.
mem_bytes .5 1767225603
# EOF
";
    let families = checked(text);
    assert_eq!(families.len(), 2);
    assert_eq!(
        families[0].help.as_deref(),
        Some("Requests \"served\",\nall.")
    );
    assert_eq!(families[1].unit.as_deref(), Some("bytes"));
    let first = &families[0].samples[0];
    assert_eq!(first.label("path"), Some("C:\\tmp \"x\"\n"));
    assert_eq!(first.millis, 1_767_225_600_000);
    assert_eq!(
        points(&families, "reqs_total", &[("code", "200")]),
        [(1_767_225_600_000, 1.0), (1_767_225_690_250, 3.0)]
    );
    let mem = points(&families, "mem_bytes", &[]);
    assert_eq!(mem[0], (1_767_225_600_000, 1500.0));
    assert_eq!(mem[1], (1_767_225_601_000, f64::NEG_INFINITY));
    assert!(mem[2].1.is_nan());
    assert_eq!(mem[3], (1_767_225_603_000, 0.5));
}

#[test]
fn the_checker_refuses_what_the_format_refuses() {
    let head = "# HELP g G.\n# TYPE g gauge\n";
    let cases: &[(&str, String)] = &[
        ("no # EOF", format!("{head}g 1 1\n")),
        ("data after # EOF", format!("{head}g 1 1\n# EOF\ng 1 2\n")),
        ("a blank line", format!("{head}\ng 1 1\n# EOF\n")),
        (
            "counter sample without _total",
            "# HELP c C.\n# TYPE c counter\nc 1 1\n# EOF\n".into(),
        ),
        (
            "counter family named _total",
            "# HELP c_total C.\n# TYPE c_total counter\nc_total 1 1\n# EOF\n".into(),
        ),
        (
            "negative counter",
            "# HELP c C.\n# TYPE c counter\nc_total -1 1\n# EOF\n".into(),
        ),
        (
            "family twice",
            format!(
                "{head}g 1 1\n# HELP h H.\n# TYPE h gauge\nh 1 1\n\
                 # HELP g G.\n# TYPE g gauge\ng 2 2\n# EOF\n"
            ),
        ),
        (
            "sample of another family",
            format!("{head}g 1 1\n# HELP h H.\n# TYPE h gauge\ng 2 2\n# EOF\n"),
        ),
        (
            "descriptor after samples",
            format!("{head}g 1 1\n# HELP g again\n# EOF\n"),
        ),
        ("time going back", format!("{head}g 1 2\ng 1 1\n# EOF\n")),
        (
            "time standing still",
            format!("{head}g 1 1.5\ng 2 1.5\n# EOF\n"),
        ),
        (
            "interleaved series",
            format!("{head}g{{a=\"1\"}} 1 1\ng{{a=\"2\"}} 1 1\ng{{a=\"1\"}} 1 2\n# EOF\n"),
        ),
        ("no timestamp", format!("{head}g 1\n# EOF\n")),
        ("exemplar", format!("{head}g 1 1 # {{a=\"b\"}} 1\n# EOF\n")),
        (
            "bad metric name",
            "# HELP 1g G.\n# TYPE 1g gauge\n1g 1 1\n# EOF\n".into(),
        ),
        (
            "bad label name",
            format!("{head}g{{a-b=\"1\"}} 1 1\n# EOF\n"),
        ),
        (
            "reserved label name",
            format!("{head}g{{__a=\"1\"}} 1 1\n# EOF\n"),
        ),
        (
            "label twice",
            format!("{head}g{{a=\"1\",a=\"2\"}} 1 1\n# EOF\n"),
        ),
        (
            "trailing comma",
            format!("{head}g{{a=\"1\",}} 1 1\n# EOF\n"),
        ),
        ("bad escape", format!("{head}g{{a=\"\\t\"}} 1 1\n# EOF\n")),
        (
            "raw quote in help",
            "# HELP g say \"hi\"\n# TYPE g gauge\ng 1 1\n# EOF\n".into(),
        ),
        (
            "unterminated value",
            format!("{head}g{{a=\"1}} 1 1\n# EOF\n"),
        ),
        ("hex value", format!("{head}g 0x10 1\n# EOF\n")),
        ("two points", format!("{head}g 1.2.3 1\n# EOF\n")),
        ("empty exponent", format!("{head}g 1e 1\n# EOF\n")),
        ("infinite timestamp", format!("{head}g 1 +Inf\n# EOF\n")),
        (
            "unit not ending the name",
            "# HELP g G.\n# TYPE g gauge\n# UNIT g seconds\ng 1 1\n# EOF\n".into(),
        ),
        ("no # TYPE", "# HELP g G.\ng 1 1\n# EOF\n".into()),
        ("no # HELP", "# TYPE g gauge\ng 1 1\n# EOF\n".into()),
        (
            "a histogram",
            "# HELP g G.\n# TYPE g histogram\n# EOF\n".into(),
        ),
        ("two spaces", format!("{head}g  1 1\n# EOF\n")),
        ("carriage return", format!("{head}g 1 1\r\n# EOF\n")),
    ];
    for (why, text) in cases {
        assert!(check(text).is_err(), "{why}: accepted\n{text}");
    }
}

/// A 2-minute run of 3 nodes with kubelets and a Deployment of 6, flow control modelled by
/// API Priority and Fairness; its name needs every escape a label value has.
const APF_SCENARIO: &str = "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: \"storm \\\"A\\\" \\\\ 1\\nB\"}
spec:
  seed: 3
  duration: 2m
  nodePools:
    - name: w
      count: 3
      template:
        allocatable: {cpu: \"8\", memory: 32Gi, pods: \"110\"}
  apiserver: {flowControl: apf}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx, resources: {requests: {cpu: 100m}}}]
";

/// The scenario's name as YAML reads it.
const APF_NAME: &str = "storm \"A\" \\ 1\nB";

/// Runs `scenario` (a file in `dir`) with `flags` into `dir/<out>`; fails on a non-zero exit.
fn run(dir: &Path, scenario: &Path, out: &str, flags: &[&str]) -> std::path::PathBuf {
    let out = dir.join(out);
    let mut args = vec![
        "run".as_ref(),
        scenario.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--quiet".as_ref(),
    ];
    args.extend(flags.iter().map(std::ffi::OsStr::new));
    let (code, _, stderr) = kubesim(&args, dir, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `timeseries.csv` as its header and rows of numbers (an empty cell as NaN).
fn timeseries(out: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = read(&out.join("timeseries.csv"));
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    (header, rows)
}

/// The column `name` of `rows`.
fn column(header: &[String], rows: &[Vec<f64>], name: &str) -> Vec<f64> {
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rows.iter().map(|r| r[i]).collect()
}

/// Asserts that the series' values are the column's, within `tolerance` (the column's
/// rounding), one point per row.
fn assert_series_is_column(series: &[(i64, f64)], column: &[f64], tolerance: f64, what: &str) {
    assert_eq!(series.len(), column.len(), "{what}: points vs rows");
    for (i, ((_, value), expected)) in series.iter().zip(column).enumerate() {
        assert!(
            (value - expected).abs() <= tolerance,
            "{what}, row {i}: {value} in metrics.om, {expected} in timeseries.csv"
        );
    }
}

#[test]
fn an_apf_run_writes_metrics_om_that_follows_the_format_and_carries_its_timeseries() {
    let (dir, path) = fixture("storm.yaml", APF_SCENARIO, &[]);
    let out = run(
        dir.path(),
        &path,
        "out",
        &[
            "--openmetrics",
            "--openmetrics-start",
            "2026-03-01T12:00:00+01:00",
        ],
    );
    let families = checked(&read(&out.join("metrics.om")));
    let (header, rows) = timeseries(&out);
    // Virtual 0 is 2026-03-01T11:00:00Z: 1 767 225 600 + 59 days + 11 h = 1 772 362 800 s.
    // A sample every 10 s of the 2 minutes, 0 s to 120 s: 13 rows, 13 points per series.
    assert_eq!(rows.len(), 13);
    let nodes = points(&families, "kubesim_nodes", &[]);
    let stamps: Vec<i64> = nodes.iter().map(|&(ms, _)| ms).collect();
    let expected: Vec<i64> = (0..13).map(|i| 1_772_362_800_000 + i * 10_000).collect();
    assert_eq!(stamps, expected);
    // Every sample is labelled with the run, escapes read back.
    for sample in families.iter().flat_map(|f| &f.samples) {
        assert_eq!(
            sample.label("kubesim_scenario"),
            Some(APF_NAME),
            "{sample:?}"
        );
        assert_eq!(sample.label("kubesim_seed"), Some("3"), "{sample:?}");
    }
    // The cluster's own series are timeseries.csv's columns, point by point.
    for (series, csv, scale, tolerance) in [
        ("kubesim_nodes", "nodes", 1.0, 0.0),
        ("kubesim_pods", "pods", 1.0, 0.0),
        ("kubesim_pods_bound", "pods_bound", 1.0, 0.0),
        (
            "kubesim_cpu_requested_cores",
            "cpu_requested_millicores",
            1000.0,
            0.0,
        ),
        (
            "kubesim_cpu_allocation_ratio",
            "cpu_allocation_pct",
            100.0,
            0.005,
        ),
        (
            "kubesim_memory_allocatable_bytes",
            "memory_allocatable_bytes",
            1.0,
            0.0,
        ),
        (
            "apiserver_request_total",
            "apiserver_request_total",
            1.0,
            0.0,
        ),
        (
            "kubesim_apiserver_mutating_request_total",
            "apiserver_mutating_request_total",
            1.0,
            0.0,
        ),
        (
            "apiserver_watch_events_total",
            "apiserver_watch_events_total",
            1.0,
            0.0,
        ),
        (
            "etcd_debugging_mvcc_current_revision",
            "etcd_revision",
            1.0,
            0.0,
        ),
        (
            "scheduler_schedule_attempts_total",
            "scheduler_schedule_attempts_total",
            1.0,
            0.0,
        ),
        (
            "kubesim_deployment_replicas_available",
            "deployment_replicas_available",
            1.0,
            0.0,
        ),
    ] {
        let scaled: Vec<(i64, f64)> = points(&families, series, &[])
            .into_iter()
            .map(|(ms, v)| (ms, v * scale))
            .collect();
        assert_series_is_column(&scaled, &column(&header, &rows, csv), tolerance, series);
    }
    for queue in ["active", "backoff", "unschedulable", "gated"] {
        assert_series_is_column(
            &points(&families, "scheduler_pending_pods", &[("queue", queue)]),
            &column(&header, &rows, &format!("scheduler_pending_pods_{queue}")),
            0.0,
            queue,
        );
    }
    // Every labelled column <label>:<metric> is the series <metric>{…}: flow control's
    // <level>:<metric> is <metric>{priority_level}, each electing component's
    // <component>:leader_election_master_status is leader_election_master_status{name}, each
    // client population's <population>:apiserver_request_total[_429] is
    // kubesim_client_population_[rejected_]requests_total{population}.
    let mut levels = Vec::new();
    let mut electing = 0;
    let mut populations = Vec::new();
    for name in header.iter().filter(|h| h.contains(':')) {
        let (label, metric) = name.split_once(':').unwrap_or_default();
        let (key, metric) = match metric {
            "leader_election_master_status" => {
                electing += 1;
                ("name", metric)
            }
            "apiserver_request_total" => {
                populations.push(label);
                ("population", "kubesim_client_population_requests_total")
            }
            "apiserver_request_total_429" => (
                "population",
                "kubesim_client_population_rejected_requests_total",
            ),
            _ => {
                if !levels.contains(&label) {
                    levels.push(label);
                }
                ("priority_level", metric)
            }
        };
        let series = points(&families, metric, &[(key, label)]);
        assert_series_is_column(&series, &column(&header, &rows, name), 0.005, name);
    }
    assert!(levels.contains(&"workload-low"), "{levels:?}");
    // kube-controller-manager and kube-scheduler.
    assert_eq!(electing, 2);
    // The components whose clients were answered, as summary.json's clientPopulations.
    let summary: serde_json::Value =
        serde_json::from_str(&read(&out.join("summary.json"))).expect("summary.json");
    let named: Vec<&str> = summary["stampede"]["clientPopulations"]
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(populations, named);
    assert!(populations.contains(&"kubelet"), "{populations:?}");
    assert_eq!(
        header.iter().filter(|h| h.contains(':')).count(),
        15 * levels.len() + electing + 2 * populations.len()
    );
    let family = |name: &str| families.iter().find(|f| f.name == name);
    for (name, kind) in [
        ("apiserver_flowcontrol_current_inqueue_requests", "gauge"),
        ("apiserver_flowcontrol_nominal_limit_seats", "gauge"),
        ("apiserver_flowcontrol_dispatched_requests", "counter"),
        ("apiserver_flowcontrol_rejected_requests", "counter"),
    ] {
        assert_eq!(
            family(name).and_then(|f| f.kind.as_deref()),
            Some(kind),
            "{name}"
        );
    }
    // The last points are what summary.json reports at the end.
    let last =
        |name: &str, with: &[(&str, &str)]| points(&families, name, with).last().map(|p| p.1);
    assert_eq!(
        last("apiserver_request_total", &[]),
        summary["stampede"]["apiserver_request_total"].as_f64()
    );
    assert_eq!(last("kubesim_pods_bound", &[]), Some(6.0));
    assert_eq!(last("kubesim_nodes", &[]), Some(3.0));
    let levels_json = &summary["stampede"]["flowcontrol"]["priorityLevels"];
    for level in &levels {
        for metric in [
            "apiserver_flowcontrol_dispatched_requests_total",
            "apiserver_flowcontrol_nominal_limit_seats",
        ] {
            assert_eq!(
                last(metric, &[("priority_level", level)]),
                levels_json[level][metric].as_f64(),
                "{level} {metric}"
            );
        }
    }
    // kube-controller-manager's service accounts are workload-high's, the kubelets node-high's.
    for level in ["workload-high", "node-high"] {
        let dispatched = last(
            "apiserver_flowcontrol_dispatched_requests_total",
            &[("priority_level", level)],
        );
        assert!(
            dispatched.is_some_and(|n| n > 0.0),
            "{level}: {dispatched:?}"
        );
    }
}

#[test]
fn the_same_run_twice_writes_byte_identical_metrics_om() {
    let (dir, path) = fixture("storm.yaml", APF_SCENARIO, &[]);
    let first = run(dir.path(), &path, "first", &["--openmetrics"]);
    let second = run(dir.path(), &path, "second", &["--openmetrics"]);
    let (a, b) = (
        read(&first.join("metrics.om")),
        read(&second.join("metrics.om")),
    );
    assert!(a == b, "two runs of one scenario and seed differ");
    // The default start: virtual 0 at 2026-01-01T00:00:00Z.
    let families = checked(&a);
    assert_eq!(
        points(&families, "kubesim_nodes", &[]).first().map(|p| p.0),
        Some(1_767_225_600_000)
    );
    // Another seed is another run: another label, so an import keeps both.
    let other = run(
        dir.path(),
        &path,
        "seed4",
        &["--openmetrics", "--seed", "4"],
    );
    let families = checked(&read(&other.join("metrics.om")));
    assert!(
        families
            .iter()
            .flat_map(|f| &f.samples)
            .all(|s| s.label("kubesim_seed") == Some("4"))
    );
}

#[test]
fn shipped_scenarios_write_metrics_om_that_follows_the_format() {
    // Without flow control; with GPU nodes (the GPU families); with a node going down (node
    // health, taints, evictions).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    for (file, family) in [
        ("quickstart.yaml", "kubesim_pods_by_phase"),
        ("gpu-sharing.yaml", "kubesim_gpu_allocation_ratio"),
        ("node-failure.yaml", "kubesim_nodes_tainted"),
    ] {
        let scenario = root.join("scenarios").join(file);
        let out = run(dir.path(), &scenario, file, &["--openmetrics"]);
        let families = match check(&read(&out.join("metrics.om"))) {
            Ok(families) => families,
            Err(e) => panic!("{file}: {e}"),
        };
        assert!(
            families.iter().any(|f| f.name == family),
            "{file}: no {family}"
        );
        assert!(
            !families
                .iter()
                .any(|f| f.name.starts_with("apiserver_flowcontrol")),
            "{file}: an ideal run has no flow control"
        );
        let (header, rows) = timeseries(&out);
        assert_series_is_column(
            &points(&families, "kubesim_pods", &[]),
            &column(&header, &rows, "pods"),
            0.0,
            file,
        );
    }
}

#[test]
fn openmetrics_flags_are_checked_and_metrics_om_is_only_written_when_asked() {
    let (dir, path) = fixture("storm.yaml", APF_SCENARIO, &[]);
    let out = run(dir.path(), &path, "plain", &[]);
    assert!(out.join("timeseries.csv").is_file());
    assert!(!out.join("metrics.om").exists());
    let usage = |flags: &[&str]| {
        let mut args = vec!["run".as_ref(), path.as_os_str()];
        args.extend(flags.iter().map(std::ffi::OsStr::new));
        kubesim(&args, dir.path(), &[])
    };
    // A start without --openmetrics, and a start that is no instant: usage errors.
    let (code, _, stderr) = usage(&["--openmetrics-start", "2026-01-01T00:00:00Z"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--openmetrics"), "{stderr}");
    let (code, _, stderr) = usage(&["--openmetrics", "--openmetrics-start", "yesterday"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("expected an RFC 3339 time"), "{stderr}");
    let (code, _, stderr) = usage(&["--openmetrics", "--openmetrics-start", "1767225600.0001"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("more precise than a millisecond"),
        "{stderr}"
    );
    // A replay places pods once and samples nothing: bad input, nothing written.
    let replay = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/openb-policies.yaml");
    let target = dir.path().join("replay");
    let (code, _, stderr) = kubesim(
        &[
            "run".as_ref(),
            replay.as_os_str(),
            "--openmetrics".as_ref(),
            "--out".as_ref(),
            target.as_os_str(),
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--openmetrics do not apply"), "{stderr}");
    assert!(!target.exists());
}
