//! Rate profiles at chosen instants, each value derived by hand; the CSV reader's rows and
//! its errors (file, line, column, field, what was expected).

use super::*;

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn yaml(text: &str) -> RateProfile {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn a_step_changes_at_its_instant() {
    let p = yaml("step: {from: 100, to: 1000, at: 9h}");
    assert_eq!(p.rate_at(secs(9 * 3600 - 1)), 100.0);
    assert_eq!(p.rate_at(secs(9 * 3600)), 1000.0);
    assert_eq!(yaml("constant: 42.5").rate_at(secs(7)), 42.5);
}

#[test]
fn a_ramp_is_a_straight_line_between_its_ends() {
    // 100 → 1,000 over 10 min from 1 h: a quarter of the way (2.5 min in) is
    // 100 + 900 / 4 = 325.
    let p = yaml("ramp: {from: 100, to: 1000, start: 1h, end: 1h10m}");
    assert_eq!(p.rate_at(secs(1800)), 100.0);
    assert_eq!(p.rate_at(secs(3600 + 150)), 325.0);
    assert_eq!(p.rate_at(secs(3600 + 600)), 1000.0);
    assert_eq!(p.rate_at(secs(5 * 3600)), 1000.0);
}

#[test]
fn a_sine_peaks_at_its_peak_and_bottoms_half_a_period_later() {
    // mean 500 ± 400 over 1 h, peak at 15 min: 900 at 15 min, 500 at 30 min (a quarter
    // period on, cos = 0), 100 at 45 min, 900 again at 1 h 15 min.
    let p = yaml("sine: {mean: 500, amplitude: 400, period: 1h, peakAt: 15m}");
    let at = |m: u64| p.rate_at(secs(m * 60));
    assert_eq!(at(15), 900.0);
    assert!((at(30) - 500.0).abs() < 1e-9, "{}", at(30));
    assert_eq!(at(45), 100.0);
    assert_eq!(at(75), 900.0);
    // Before the peak too: 0 min is a quarter period before it.
    assert!((at(0) - 500.0).abs() < 1e-9, "{}", at(0));
    // A swing below zero is cut at zero.
    let deep = RateProfile::Sine {
        mean: 100.0,
        amplitude: 300.0,
        period: secs(3600),
        peak_at: SimDuration::ZERO,
    };
    assert_eq!(deep.rate_at(secs(1800)), 0.0);
}

#[test]
fn a_diurnal_day_goes_from_its_low_to_its_high_and_back() {
    // 200 at night, 2,000 at the 14:00 peak: 2,000 at 14:00, 200 at 02:00, the mean 1,100 at
    // 08:00 and 20:00; the next day repeats.
    let p = yaml("diurnal: {low: 200, high: 2000}");
    let at = |h: u64| p.rate_at(secs(h * 3600));
    assert_eq!(at(14), 2000.0);
    assert_eq!(at(2), 200.0);
    assert!((at(8) - 1100.0).abs() < 1e-9);
    assert!((at(20) - 1100.0).abs() < 1e-9);
    assert_eq!(at(38), 2000.0);
    let early = yaml("diurnal: {low: 0, high: 10, peakAt: 9h}");
    assert_eq!(early.rate_at(secs(9 * 3600)), 10.0);
}

#[test]
fn a_spike_lasts_its_duration() {
    let p = yaml("spike: {base: 100, peak: 2000, at: 12h, duration: 5m}");
    assert_eq!(p.rate_at(secs(12 * 3600 - 1)), 100.0);
    assert_eq!(p.rate_at(secs(12 * 3600)), 2000.0);
    assert_eq!(p.rate_at(secs(12 * 3600 + 299)), 2000.0);
    assert_eq!(p.rate_at(secs(12 * 3600 + 300)), 100.0);
}

#[test]
fn points_are_joined_by_straight_lines() {
    // (0, 10), (60 s, 70), (120 s, 10): 40 at 30 s, 70 at 60 s, 55 at 75 s; 10 after.
    let p = yaml("points: [{time: 0s, rps: 10}, {time: 1m, rps: 70}, {time: 2m, rps: 10}]");
    assert_eq!(p.rate_at(secs(30)), 40.0);
    assert_eq!(p.rate_at(secs(60)), 70.0);
    assert_eq!(p.rate_at(secs(75)), 55.0);
    assert_eq!(p.rate_at(secs(3600)), 10.0);
    // Before a first point after 0: its rate.
    let late = RateProfile::Points(vec![RatePoint {
        time: secs(60),
        rps: 5.0,
    }]);
    assert_eq!(late.rate_at(secs(0)), 5.0);
}

#[test]
fn validation_says_what_is_wrong() {
    let err = |p: RateProfile| p.validate().expect_err("invalid");
    assert_eq!(
        err(yaml("ramp: {from: 1, to: 2, start: 10m, end: 5m}")),
        "a ramp must end after it starts: start 10m, end 5m"
    );
    assert_eq!(
        err(yaml("constant: -3")),
        "a rate must be a number of requests per second of 0 or more, found -3"
    );
    assert_eq!(
        err(yaml("sine: {mean: 1, amplitude: 1, period: 0s}")),
        "a sine's period must be longer than 0s"
    );
    assert_eq!(
        err(yaml("points: [{time: 1m, rps: 1}, {time: 1m, rps: 2}]")),
        "points must be in time order: 1m after 1m"
    );
    assert!(yaml("diurnal: {low: 1, high: 5}").validate().is_ok());
    // Unknown fields are refused by the scenario reader, not ignored.
    assert!(serde_saphyr::from_str::<RateProfile>("step: {from: 1, to: 2, when: 3s}").is_err());
}

fn write(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), text).expect("write");
    file
}

#[test]
fn a_csv_file_replays_its_points() {
    let file = write("time,rps\n# warm-up\n0,10\n90s, 100\n1h,40.5\n");
    let p = read_rate_csv(file.path()).expect("reads");
    assert_eq!(
        p,
        RateProfile::Points(vec![
            RatePoint {
                time: secs(0),
                rps: 10.0
            },
            RatePoint {
                time: secs(90),
                rps: 100.0
            },
            RatePoint {
                time: secs(3600),
                rps: 40.5
            },
        ])
    );
    // 45 s is half-way from (0, 10) to (90 s, 100): 55.
    assert_eq!(p.rate_at(secs(45)), 55.0);
}

#[test]
fn csv_errors_name_the_line_column_and_field() {
    let file = write("time,rps\n0,10\n90x,100\n");
    let name = file.path().display().to_string();
    let err = read_rate_csv(file.path()).expect_err("bad time");
    assert_eq!(
        err.to_string(),
        format!(
            "{name}:3:1: time: expected a duration such as 90s or 1h30m, or a number of \
             seconds, found \"90x\""
        )
    );
    // The column is where the text starts, in characters: `60, -1` has `-1` at column 5
    // (`60,` is three, then a blank the reader trims).
    let file = write("0,10\n60, -1\n");
    let name = file.path().display().to_string();
    let err = read_rate_csv(file.path()).expect_err("negative");
    assert_eq!(
        err.to_string(),
        format!(
            "{name}:2:5: rps: expected a number of requests per second, 0 or more, found \"-1\""
        )
    );
    let file = write("0,10,3\n");
    let name = file.path().display().to_string();
    let err = read_rate_csv(file.path()).expect_err("three columns");
    assert_eq!(
        err.to_string(),
        format!("{name}:1: expected two columns, time and rps, found 3")
    );
    let file = write("60,1\n30,2\n");
    let name = file.path().display().to_string();
    let err = read_rate_csv(file.path()).expect_err("out of order");
    assert_eq!(
        err.to_string(),
        format!("{name}: points must be in time order: 30s after 1m")
    );
    let err = read_rate_csv(Path::new("/nonexistent/rate.csv")).expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/rate.csv: cannot read:")
    );
}
