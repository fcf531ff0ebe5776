//! Timestamps as the API writes them in text (annotations such as `kubectl rollout restart`'s
//! `restartedAt` and the EndpointSlice controller's last-change trigger time): RFC 3339 in
//! UTC, counting the start of the run as the Unix epoch.

use crate::sim::{SimDuration, SimTime};

const NANOS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: u64 = 86_400;

/// Virtual time in whole seconds, as Go's `time.RFC3339` layout writes it
/// (`1970-01-01T00:01:30Z`).
pub fn rfc3339(t: SimTime) -> String {
    let secs = t.as_nanos() / NANOS_PER_SEC;
    format!("{}Z", date_and_clock(secs))
}

/// Virtual time with its nanoseconds, as Go's `time.RFC3339Nano` layout writes it: the
/// fraction without trailing zeros, and none at all on a whole second
/// (`1970-01-01T00:01:30.25Z`).
pub fn rfc3339_nano(t: SimTime) -> String {
    let nanos = t.as_nanos();
    let (secs, fraction) = (nanos / NANOS_PER_SEC, nanos % NANOS_PER_SEC);
    if fraction == 0 {
        return rfc3339(t);
    }
    let digits = format!("{fraction:09}");
    format!("{}.{}Z", date_and_clock(secs), digits.trim_end_matches('0'))
}

/// Reads an RFC 3339 UTC time (`Z`, with or without a fraction of up to nine digits) back
/// into virtual time; `None` for anything else, or a time before the run's start (which Go's
/// parser would read, and which no virtual time can be).
pub fn parse_rfc3339(text: &str) -> Option<SimTime> {
    let rest = text.strip_suffix('Z')?;
    let (date, clock) = rest.split_once('T')?;
    let (clock, fraction) = match clock.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (clock, None),
    };
    let date: Vec<&str> = date.split('-').collect();
    let clock: Vec<&str> = clock.split(':').collect();
    let [year, month, day] = date.as_slice() else {
        return None;
    };
    let [hour, minute, second] = clock.as_slice() else {
        return None;
    };
    let field = |s: &str, width: usize| (s.len() == width).then(|| s.parse::<u64>().ok())?;
    let (year, month, day) = (field(year, 4)?, field(month, 2)?, field(day, 2)?);
    let (hour, minute, second) = (field(hour, 2)?, field(minute, 2)?, field(second, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 59 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year as i64, month as u32, day as u32)).ok()?;
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u64>().ok()? * 10u64.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second;
    let total = secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)?;
    Some(SimTime::ZERO + SimDuration::from_nanos(total))
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` seconds after the epoch.
fn date_and_clock(secs: u64) -> String {
    let (days, rest) = (secs / SECS_PER_DAY, secs % SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (the inverse of [`civil_from_days`]).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let shifted = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * shifted + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(nanos: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_nanos(nanos)
    }

    #[test]
    fn restart_times_are_rfc3339_from_the_epoch() {
        assert_eq!(rfc3339(SimTime::ZERO), "1970-01-01T00:00:00Z");
        // 90 minutes and 5.9 s: whole seconds only.
        let t = SimTime::ZERO + SimDuration::from_millis(90 * 60_000 + 5_900);
        assert_eq!(rfc3339(t), "1970-01-01T01:30:05Z");
        // 59 days in: 31 of January, 28 of February 1970, so March 1st.
        assert_eq!(
            rfc3339(SimTime::ZERO + SimDuration::from_secs(59 * 86_400)),
            "1970-03-01T00:00:00Z"
        );
        // 2000-02-29 is day 11016.
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
    }

    #[test]
    fn nano_times_drop_trailing_zeros_and_read_back() {
        // 90.25 s: ".25"; 1 ns: all nine digits; a whole second: no fraction (RFC3339Nano).
        assert_eq!(rfc3339_nano(at(90_250_000_000)), "1970-01-01T00:01:30.25Z");
        assert_eq!(rfc3339_nano(at(1)), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(rfc3339_nano(at(5_000_000_000)), "1970-01-01T00:00:05Z");
        for nanos in [0, 1, 90_250_000_000, 59 * 86_400 * 1_000_000_000 + 7] {
            assert_eq!(parse_rfc3339(&rfc3339_nano(at(nanos))), Some(at(nanos)));
        }
    }

    #[test]
    fn what_does_not_parse_is_none() {
        for text in [
            "",
            "1970-01-01T00:00:00",
            "1970-01-01T00:00:00+01:00",
            "1970-13-01T00:00:00Z",
            "1970-01-01T00:00:00.Z",
            "1970-01-01T00:00:00.1234567890Z",
            "1969-12-31T23:59:59Z",
            "70-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
    }
}
