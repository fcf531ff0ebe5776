//! Virtual time: [`SimTime`] (an instant) and [`SimDuration`] (a span), both integer nanoseconds.
//!
//! Time is never a float anywhere in ordering or state, so that a run is reproducible bit for bit
//! on any machine. Durations are written and read the way Go (and so Kubernetes) writes them:
//! `250ms`, `30s`, `5m`, `1h30m`, `1.5s`.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Nanoseconds in one microsecond, millisecond, second, minute and hour.
const NANOS_PER_MICRO: u64 = 1_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;
const NANOS_PER_MIN: u64 = 60 * NANOS_PER_SEC;
const NANOS_PER_HOUR: u64 = 60 * NANOS_PER_MIN;

/// An instant of virtual time: nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The far future: a time no event is ever scheduled at.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> SimTime {
        SimTime(nanos)
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The span from the start of the run to this instant.
    pub const fn since_start(self) -> SimDuration {
        SimDuration(self.0)
    }

    /// Seconds since the start, as a float: for charts and reports only, never for ordering.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// `self + d`, saturating at [`SimTime::MAX`] instead of wrapping.
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// `self - d`, saturating at the start of the run.
    pub const fn saturating_sub(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }

    /// The time elapsed since `earlier` (zero if `earlier` is later).
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// The first instant after this one on the grid of `step` from the start (a zero step
    /// counts as 1 ns): when a periodic activity aligned to time 0 next runs.
    pub const fn next_multiple_of(self, step: SimDuration) -> SimTime {
        let step = if step.0 == 0 { 1 } else { step.0 };
        SimTime((self.0 / step + 1).saturating_mul(step))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        self.saturating_add(rhs)
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.saturating_since(rhs)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.since_start().fmt(f)
    }
}

/// A span of virtual time in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> SimDuration {
        SimDuration(n)
    }
    /// A span of `n` microseconds.
    pub const fn from_micros(n: u64) -> SimDuration {
        SimDuration(n.saturating_mul(NANOS_PER_MICRO))
    }
    /// A span of `n` milliseconds.
    pub const fn from_millis(n: u64) -> SimDuration {
        SimDuration(n.saturating_mul(NANOS_PER_MILLI))
    }
    /// A span of `n` seconds.
    pub const fn from_secs(n: u64) -> SimDuration {
        SimDuration(n.saturating_mul(NANOS_PER_SEC))
    }
    /// A span of `n` minutes.
    pub const fn from_mins(n: u64) -> SimDuration {
        SimDuration(n.saturating_mul(NANOS_PER_MIN))
    }
    /// Nanoseconds in the span.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds in the span, as a float: for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    /// Whether the span is empty.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `self × k`, saturating.
    pub const fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

/// Why a duration string was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {problem}; expected a duration such as 250ms, 30s, 5m or 1h30m"
)]
pub struct DurationParseError {
    /// The text that was parsed.
    pub input: String,
    /// What was wrong with it.
    pub problem: &'static str,
}

impl FromStr for SimDuration {
    type Err = DurationParseError;

    /// Parses Go's duration syntax without a sign: one or more `<number><unit>` terms, where the
    /// number may have a fraction and the unit is one of `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`.
    /// A bare `0` is accepted, as Go accepts it.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |problem| DurationParseError {
            input: input.to_string(),
            problem,
        };
        let text = input.trim();
        if text == "0" {
            return Ok(SimDuration::ZERO);
        }
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        if text.starts_with('-') {
            return Err(fail("durations cannot be negative"));
        }
        let mut rest = text;
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let (term, after) = parse_term(rest).map_err(fail)?;
            total = total
                .checked_add(term)
                .ok_or_else(|| fail("it is too long to represent"))?;
            rest = after;
        }
        Ok(SimDuration(total))
    }
}

/// Parses one `<number><unit>` term at the front of `text`; returns its nanoseconds and the rest.
fn parse_term(text: &str) -> Result<(u64, &str), &'static str> {
    let int_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (int_part, after_int) = text.split_at(int_end);
    let (frac_part, after_number) = match after_int.strip_prefix('.') {
        Some(after_dot) => {
            let frac_end = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            after_dot.split_at(frac_end)
        }
        None => ("", after_int),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err("a number is missing before a unit");
    }
    let unit_end = after_number
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(after_number.len());
    let (unit, rest) = after_number.split_at(unit_end);
    let scale = match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => NANOS_PER_MICRO,
        "ms" => NANOS_PER_MILLI,
        "s" => NANOS_PER_SEC,
        "m" => NANOS_PER_MIN,
        "h" => NANOS_PER_HOUR,
        "" => return Err("a unit (ns, us, ms, s, m, h) is missing"),
        _ => return Err("the unit is not one of ns, us, ms, s, m, h"),
    };
    let too_long = "it is too long to represent";
    let whole: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| too_long)?
    };
    let mut nanos = whole.checked_mul(scale).ok_or(too_long)?;
    // The fraction is applied digit by digit so that `1.5s` is exactly 1_500_000_000 ns; digits
    // finer than a nanosecond are dropped, as Go drops them.
    let mut place = scale;
    for digit in frac_part.bytes() {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos = nanos
            .checked_add(u64::from(digit - b'0') * place)
            .ok_or(too_long)?;
    }
    Ok((nanos, rest))
}

impl fmt::Display for SimDuration {
    /// Prints the shortest exact form: `0s`, `250ms`, `1.5s`, `5m`, `1h30m`, `1m0.5s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == 0 {
            return f.write_str("0s");
        }
        if n < NANOS_PER_SEC {
            let (scale, unit) = if n < NANOS_PER_MICRO {
                (1, "ns")
            } else if n < NANOS_PER_MILLI {
                (NANOS_PER_MICRO, "us")
            } else {
                (NANOS_PER_MILLI, "ms")
            };
            write_fixed(f, n, scale)?;
            return f.write_str(unit);
        }
        let hours = n / NANOS_PER_HOUR;
        let mins = (n % NANOS_PER_HOUR) / NANOS_PER_MIN;
        let sub_min = n % NANOS_PER_MIN;
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if mins > 0 || (hours > 0 && sub_min > 0) {
            write!(f, "{mins}m")?;
        }
        if sub_min > 0 {
            write_fixed(f, sub_min, NANOS_PER_SEC)?;
            f.write_str("s")?;
        }
        Ok(())
    }
}

/// Writes `value / scale` as a decimal with no trailing zeros in the fraction.
fn write_fixed(f: &mut fmt::Formatter<'_>, value: u64, scale: u64) -> fmt::Result {
    let whole = value / scale;
    let frac = value % scale;
    write!(f, "{whole}")?;
    if frac == 0 {
        return Ok(());
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    write!(f, ".{}", digits.trim_end_matches('0'))
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 250ms, 30s, 5m or 1h30m")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SimDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SimDuration, E> {
                // A bare integer is ambiguous (seconds? nanoseconds?); only 0 means one thing.
                if v == 0 {
                    Ok(SimDuration::ZERO)
                } else {
                    Err(E::custom(format!(
                        "invalid duration {v}: a unit is missing; expected a duration such as {v}s or {v}ms"
                    )))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SimDuration, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom("invalid duration: durations cannot be negative")),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SimDuration {
        match s.parse() {
            Ok(d) => d,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("250ms"), SimDuration::from_millis(250));
        assert_eq!(parse("30s"), SimDuration::from_secs(30));
        assert_eq!(parse("5m"), SimDuration::from_secs(300));
        // 1h30m = 3600 s + 1800 s.
        assert_eq!(parse("1h30m"), SimDuration::from_secs(5400));
        // 1.5 s = 1 500 000 000 ns exactly, no float rounding.
        assert_eq!(parse("1.5s"), SimDuration::from_nanos(1_500_000_000));
        assert_eq!(parse(".5ms"), SimDuration::from_micros(500));
        assert_eq!(parse("10us"), SimDuration::from_micros(10));
        assert_eq!(parse("10µs"), SimDuration::from_micros(10));
        assert_eq!(parse("7ns"), SimDuration::from_nanos(7));
        assert_eq!(parse("0"), SimDuration::ZERO);
        // Digits finer than 1 ns are dropped: 1.0000000009 s = 1 000 000 000 ns.
        assert_eq!(parse("1.0000000009s"), SimDuration::from_secs(1));
    }

    #[test]
    fn rejects_malformed_durations_with_a_reason() {
        for (input, problem) in [
            ("", "it is empty"),
            ("30", "a unit (ns, us, ms, s, m, h) is missing"),
            ("5d", "the unit is not one of ns, us, ms, s, m, h"),
            ("-1s", "durations cannot be negative"),
            ("s", "a number is missing before a unit"),
            ("99999999999h", "it is too long to represent"),
        ] {
            let err = input.parse::<SimDuration>().err();
            assert_eq!(err.map(|e| e.problem), Some(problem), "input {input:?}");
        }
    }

    #[test]
    fn prints_the_shortest_exact_form() {
        for (nanos, text) in [
            (0, "0s"),
            (7, "7ns"),
            (1_500, "1.5us"),
            (250_000_000, "250ms"),
            (1_500_000_000, "1.5s"),
            (30 * NANOS_PER_SEC, "30s"),
            (300 * NANOS_PER_SEC, "5m"),
            (5400 * NANOS_PER_SEC, "1h30m"),
            (3600 * NANOS_PER_SEC, "1h"),
            // 1 h and 0.5 s: the zero minutes are printed so the seconds read as seconds.
            (3600 * NANOS_PER_SEC + 500_000_000, "1h0m0.5s"),
            (90 * NANOS_PER_SEC, "1m30s"),
        ] {
            assert_eq!(SimDuration::from_nanos(nanos).to_string(), text);
        }
    }

    #[test]
    fn printing_round_trips_through_parsing() {
        for nanos in [
            1,
            999,
            1_000_001,
            59_999_999_999,
            3_600_000_000_001,
            u64::MAX / 2,
        ] {
            let d = SimDuration::from_nanos(nanos);
            assert_eq!(parse(&d.to_string()), d, "{d}");
        }
    }

    #[test]
    fn time_arithmetic_saturates() {
        let t = SimTime::from_nanos(10);
        assert_eq!(t + SimDuration::from_nanos(5), SimTime::from_nanos(15));
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(SimTime::from_nanos(3) - t, SimDuration::ZERO);
        assert_eq!(t - SimTime::from_nanos(3), SimDuration::from_nanos(7));
    }

    #[test]
    fn the_next_grid_point_is_strictly_later() {
        let step = SimDuration::from_secs(15);
        let at = |secs: u64| SimTime::from_nanos(secs * 1_000_000_000);
        assert_eq!(at(0).next_multiple_of(step), at(15));
        assert_eq!(at(15).next_multiple_of(step), at(30));
        assert_eq!(at(29).next_multiple_of(step), at(30));
        assert_eq!(
            SimTime::from_nanos(7).next_multiple_of(SimDuration::ZERO),
            SimTime::from_nanos(8)
        );
        assert_eq!(SimTime::MAX.next_multiple_of(step), SimTime::MAX);
    }
}
