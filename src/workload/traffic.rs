//! Offered load over virtual time: a request rate (requests per second) as a function of the
//! time since the run started, in the shapes capacity planning asks about — constant, a step,
//! a ramp, a sine wave or a day's diurnal curve, a spike — or replayed from a CSV file of
//! `(time, rps)` points joined by straight lines.
//!
//! A profile is data (what a scenario declares, `#[serde(deny_unknown_fields)]`) and a pure
//! function [`RateProfile::rate_at`]; what the rate does to pods (CPU, queueing, the HPA) is
//! for the load model that reads it. Rates are evaluated at integer virtual times and the sine
//! comes from the `libm` crate, so the same profile gives the same rates on every platform.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::sim::SimDuration;

/// A day: the period of [`RateProfile::Diurnal`].
pub const DAY: SimDuration = SimDuration::from_secs(24 * 3600);

/// A request rate over virtual time.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RateProfile {
    /// The same rate throughout.
    Constant(f64),
    /// `from` until `at`, `to` from `at` on.
    Step {
        /// The rate before.
        from: f64,
        /// The rate after.
        to: f64,
        /// When it changes.
        at: SimDuration,
    },
    /// `from` until `start`, a straight line to `to` at `end`, `to` after.
    Ramp {
        /// The rate before.
        from: f64,
        /// The rate after.
        to: f64,
        /// When the ramp starts.
        start: SimDuration,
        /// When it ends.
        end: SimDuration,
    },
    /// `mean + amplitude × cos(2π (t − peakAt) / period)`: highest at `peakAt` (and every
    /// period from it), lowest half a period away.
    #[serde(rename_all = "camelCase")]
    Sine {
        /// The mean rate.
        mean: f64,
        /// How far above and below the mean it swings.
        amplitude: f64,
        /// The length of one cycle.
        period: SimDuration,
        /// When it peaks (default 0).
        #[serde(default)]
        peak_at: SimDuration,
    },
    /// A day's traffic: a sine of period 24 h from `low` to `high`, highest at `peakAt` (a
    /// time of day; the run starts at midnight).
    #[serde(rename_all = "camelCase")]
    Diurnal {
        /// The night's rate.
        low: f64,
        /// The peak rate.
        high: f64,
        /// When the peak comes (default 14h).
        #[serde(default = "afternoon")]
        peak_at: SimDuration,
    },
    /// `base`, except `peak` for `duration` from `at`.
    Spike {
        /// The rate outside the spike.
        base: f64,
        /// The rate during it.
        peak: f64,
        /// When it starts.
        at: SimDuration,
        /// How long it lasts.
        duration: SimDuration,
    },
    /// Straight lines between `(time, rps)` points in time order: the first rate before the
    /// first point, the last after the last ([`read_rate_csv`] reads them from a file).
    Points(Vec<RatePoint>),
}

fn afternoon() -> SimDuration {
    SimDuration::from_secs(14 * 3600)
}

/// One point of a replayed rate.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatePoint {
    /// Time since the start of the run.
    pub time: SimDuration,
    /// Requests per second from then.
    pub rps: f64,
}

impl RateProfile {
    /// Requests per second `t` after the start of the run.
    pub fn rate_at(&self, t: SimDuration) -> f64 {
        match self {
            RateProfile::Constant(rps) => *rps,
            RateProfile::Step { from, to, at } => {
                if t < *at {
                    *from
                } else {
                    *to
                }
            }
            RateProfile::Ramp {
                from,
                to,
                start,
                end,
            } => {
                if t <= *start {
                    *from
                } else if t >= *end {
                    *to
                } else {
                    interpolate((*start, *from), (*end, *to), t)
                }
            }
            RateProfile::Sine {
                mean,
                amplitude,
                period,
                peak_at,
            } => sine(*mean, *amplitude, *period, *peak_at, t),
            RateProfile::Diurnal { low, high, peak_at } => {
                sine((low + high) / 2.0, (high - low) / 2.0, DAY, *peak_at, t)
            }
            RateProfile::Spike {
                base,
                peak,
                at,
                duration,
            } => {
                if t >= *at && t < *at + *duration {
                    *peak
                } else {
                    *base
                }
            }
            RateProfile::Points(points) => points_rate(points, t),
        }
    }

    /// Why the profile cannot be used, if it cannot: a negative rate, a ramp that ends before
    /// it starts, a period of zero, a sine that goes below zero, points out of time order.
    pub fn validate(&self) -> Result<(), String> {
        let rates: Vec<f64> = match self {
            RateProfile::Constant(rps) => vec![*rps],
            RateProfile::Step { from, to, .. } => vec![*from, *to],
            RateProfile::Ramp {
                from,
                to,
                start,
                end,
            } => {
                if end < start {
                    return Err(format!(
                        "a ramp must end after it starts: start {start}, end {end}"
                    ));
                }
                vec![*from, *to]
            }
            RateProfile::Sine {
                mean,
                amplitude,
                period,
                ..
            } => {
                if period.is_zero() {
                    return Err("a sine's period must be longer than 0s".into());
                }
                vec![mean - amplitude.abs()]
            }
            RateProfile::Diurnal { low, high, .. } => {
                if high < low {
                    return Err(format!("a diurnal high ({high}) below its low ({low})"));
                }
                vec![*low]
            }
            RateProfile::Spike { base, peak, .. } => vec![*base, *peak],
            RateProfile::Points(points) => {
                if points.is_empty() {
                    return Err("a replayed rate needs at least one point".into());
                }
                if let Some(w) = points.windows(2).find(|w| w[1].time <= w[0].time) {
                    return Err(format!(
                        "points must be in time order: {} after {}",
                        w[1].time, w[0].time
                    ));
                }
                points.iter().map(|p| p.rps).collect()
            }
        };
        match rates.iter().find(|r| !r.is_finite() || **r < 0.0) {
            Some(r) => Err(format!(
                "a rate must be a number of requests per second of 0 or more, found {r}"
            )),
            None => Ok(()),
        }
    }
}

/// The straight line through `a` and `b` at `t`.
fn interpolate(a: (SimDuration, f64), b: (SimDuration, f64), t: SimDuration) -> f64 {
    let span = b.0.as_secs_f64() - a.0.as_secs_f64();
    if span <= 0.0 {
        return b.1;
    }
    let along = (t.as_secs_f64() - a.0.as_secs_f64()) / span;
    a.1 + (b.1 - a.1) * along
}

fn sine(
    mean: f64,
    amplitude: f64,
    period: SimDuration,
    peak_at: SimDuration,
    t: SimDuration,
) -> f64 {
    // The phase from whole nanoseconds modulo the period, so that a long run loses no
    // precision to a large angle.
    let period_ns = period.as_nanos().max(1);
    let offset =
        (t.as_nanos() % period_ns + period_ns - peak_at.as_nanos() % period_ns) % period_ns;
    let angle = 2.0 * std::f64::consts::PI * offset as f64 / period_ns as f64;
    (mean + amplitude * libm::cos(angle)).max(0.0)
}

fn points_rate(points: &[RatePoint], t: SimDuration) -> f64 {
    let after = points.partition_point(|p| p.time <= t);
    match (after.checked_sub(1).map(|i| points[i]), points.get(after)) {
        (None, Some(first)) => first.rps,
        (Some(last), None) => last.rps,
        (Some(a), Some(b)) => interpolate((a.time, a.rps), (b.time, b.rps), t),
        (None, None) => 0.0,
    }
}

/// Why a rate file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// The file could not be read.
    #[error("{}: cannot read: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// A line is not two fields.
    #[error("{}:{line}: expected two columns, time and rps, found {found}", path.display())]
    BadRow {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: u64,
        /// How many fields it has.
        found: usize,
    },
    /// A field does not parse.
    #[error("{}:{line}:{column}: {field}: expected {expected}, found {found:?}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: u64,
        /// The column (from 1, in characters) where the field's text starts.
        column: usize,
        /// `time` or `rps`.
        field: &'static str,
        /// What would have parsed.
        expected: &'static str,
        /// The text found.
        found: String,
    },
    /// The points do not make a rate.
    #[error("{}: {message}", path.display())]
    BadProfile {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// The column (from 1, in characters) where field `index` (from 0) of the comma-separated
/// `line` starts, past its leading blanks (the reader trims them).
fn field_column(line: &str, index: usize) -> usize {
    let start: usize = line
        .split(',')
        .take(index)
        .map(|f| f.chars().count() + 1)
        .sum();
    let field = line.split(',').nth(index).unwrap_or("");
    let blanks = field.chars().take_while(|c| c.is_whitespace()).count();
    start + blanks + 1
}

/// Reads a replayed rate: a CSV file of `time,rps` rows (a header row whose first field is
/// `time` is skipped; `#` starts a comment line). A time is a duration (`90s`, `1h30m`) or a
/// number of seconds; rows must come in time order.
pub fn read_rate_csv(path: &Path) -> Result<RateProfile, TrafficError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrafficError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut points = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| TrafficError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if points.is_empty()
            && record
                .get(0)
                .is_some_and(|f| f.eq_ignore_ascii_case("time"))
        {
            continue;
        }
        if record.len() != 2 {
            return Err(TrafficError::BadRow {
                path: path.to_path_buf(),
                line,
                found: record.len(),
            });
        }
        let line_text = usize::try_from(line)
            .ok()
            .and_then(|l| text.lines().nth(l.saturating_sub(1)))
            .unwrap_or("");
        let bad = |index: usize, field, expected, found: &str| TrafficError::BadValue {
            path: path.to_path_buf(),
            line,
            column: field_column(line_text, index),
            field,
            expected,
            found: found.to_string(),
        };
        let (time, rps) = (&record[0], &record[1]);
        let time = parse_time(time).ok_or_else(|| {
            bad(
                0,
                "time",
                "a duration such as 90s or 1h30m, or a number of seconds",
                time,
            )
        })?;
        let rps = rps
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r >= 0.0)
            .ok_or_else(|| bad(1, "rps", "a number of requests per second, 0 or more", rps))?;
        points.push(RatePoint { time, rps });
    }
    let profile = RateProfile::Points(points);
    profile
        .validate()
        .map_err(|message| TrafficError::BadProfile {
            path: path.to_path_buf(),
            message,
        })?;
    Ok(profile)
}

/// A duration, or plain seconds (whole or with a fraction, at most nanosecond precision).
fn parse_time(text: &str) -> Option<SimDuration> {
    if let Ok(d) = text.parse::<SimDuration>() {
        return Some(d);
    }
    let seconds: f64 = text.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| SimDuration::from_nanos((seconds * 1e9).round() as u64))
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
