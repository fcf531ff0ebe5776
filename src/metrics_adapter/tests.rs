//! The adapter's series and queries, each rate derived by hand: scrapes every 30 s over a 5m
//! window unless a test says otherwise.

use super::*;
use crate::sim::SimDuration;

fn at(secs: u64) -> SimTime {
    SimTime::from_nanos(secs * 1_000_000_000)
}

fn key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey::new(namespace, name)
}

/// Two traffics: `shop/web` and `shop/api`.
fn adapter() -> MetricsAdapter {
    MetricsAdapter::new(
        MetricsAdapterConfig::default(),
        vec![key("shop", "web"), key("shop", "api")],
    )
}

fn selector(label: &str, value: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Labels::from([(label.to_string(), value.to_string())]),
        ..LabelSelector::default()
    }
}

/// Scrapes every 30 s from `from` to `until` s, in pod order: pod `w1` of web serving 10 rps
/// and pod `w2` 20 rps from 0 s; pod `a1` of api 4 rps; `w1` also serves api at 1 rps.
fn scrape_between(adapter: &mut MetricsAdapter, from: u64, until: u64) {
    let (w1, w2, a1) = (key("shop", "w1"), key("shop", "w2"), key("shop", "a1"));
    for t in (from..=until).step_by(30) {
        let secs = t as f64;
        adapter.scrape(
            at(t),
            [
                (1, &a1, 4.0 * secs),
                (0, &w1, 10.0 * secs),
                (1, &w1, secs),
                (0, &w2, 20.0 * secs),
            ],
        );
    }
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a rate");
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn a_full_window_serves_each_pods_and_each_services_rate() {
    // At 300 s the range (0, 300] holds the samples at 30 … 300 s: each series' slope,
    // extrapolated 30 s back to the range's start (30 s < 1.1 × 30 s; each counter's zero
    // is 30 s back too), so exactly the rate: w1 = 10 + 1 = 11, w2 = 20, web = 30, api = 5.
    let mut a = adapter();
    scrape_between(&mut a, 30, 300);
    close(a.pod_rate(&key("shop", "w1"), None, at(300)), 11.0);
    close(a.pod_rate(&key("shop", "w2"), None, at(300)), 20.0);
    close(a.service_rate(&key("shop", "web"), None, at(300)), 30.0);
    close(a.service_rate(&key("shop", "api"), None, at(300)), 5.0);
    // External: every series of the namespace, or those the selector picks.
    close(a.external_rate("shop", None, at(300)), 35.0);
    close(
        a.external_rate("shop", Some(&selector("service", "api")), at(300)),
        5.0,
    );
    close(
        a.pod_rate(
            &key("shop", "w1"),
            Some(&selector("service", "web")),
            at(300),
        ),
        10.0,
    );
    assert_eq!(a.external_rate("other", None, at(300)), None);
    assert_eq!(
        a.external_rate("shop", Some(&selector("team", "x")), at(300)),
        None
    );
}

#[test]
fn a_young_series_reads_low_and_one_sample_is_nothing() {
    // After one scrape (30 s) no series has a rate. After two (30, 60 s: 300, 600 for w1's
    // web), at 60 s over (−240, 60]: sampled 30 s, to the start 270 s ≥ 33 s ⇒ 15 s, but the
    // zero point is 30 × 300 / 300 = 30 s away, farther; to the end 0. 300 × (30 + 15) / 30
    // / 300 = 1.5 of w1's web 10 rps (and 0.15 of its api 1 rps): 1.65.
    let mut a = adapter();
    scrape_between(&mut a, 30, 30);
    assert_eq!(a.pod_rate(&key("shop", "w1"), None, at(30)), None);
    scrape_between(&mut a, 60, 60);
    close(a.pod_rate(&key("shop", "w1"), None, at(60)), 1.65);
}

#[test]
fn samples_leave_with_the_window_and_a_gone_pod_counts_until_its_last_one_does() {
    // Samples at 30 … 300 s, then only w2 and a1 are scraped (w1 is gone) at 330 … 600 s.
    // At 600 s (range (300, 600]) w1 has no sample left: web is w2 alone, 20 rps; the
    // window's samples of w1 were dropped at the scrape of 600 s.
    let mut a = adapter();
    scrape_between(&mut a, 30, 300);
    let (w2, a1) = (key("shop", "w2"), key("shop", "a1"));
    for t in (330..=600).step_by(30) {
        let secs = t as f64;
        a.scrape(at(t), [(1, &a1, 4.0 * secs), (0, &w2, 20.0 * secs)]);
    }
    assert_eq!(a.pod_rate(&key("shop", "w1"), None, at(600)), None);
    assert!(a.series.iter().all(|s| s.pod != key("shop", "w1")));
    close(a.service_rate(&key("shop", "web"), None, at(600)), 20.0);
    // At 450 s w1's samples at 180 … 300 s are still in range (150, 450]: 5 of them, slope
    // 10 rps, to the start 30 s (covered), to the end 150 s ≥ 33 s ⇒ 15 s: 1,200 × (120 +
    // 30 + 15) / 120 / 300 = 5.5 from web, the same 0.55 from api's 1 rps.
    let mut b = adapter();
    scrape_between(&mut b, 30, 300);
    for t in (330..=450).step_by(30) {
        let secs = t as f64;
        b.scrape(at(t), [(1, &a1, 4.0 * secs), (0, &w2, 20.0 * secs)]);
    }
    close(b.pod_rate(&key("shop", "w1"), None, at(450)), 6.05);
}

#[test]
fn scrapes_fall_on_the_interval_grid_and_only_the_named_metric_is_served() {
    let config = MetricsAdapterConfig {
        scrape_interval: SimDuration::from_secs(15),
        ..MetricsAdapterConfig::default()
    };
    let a = MetricsAdapter::new(config, Vec::new());
    assert_eq!(a.next_scrape(at(0)), at(15));
    assert_eq!(a.next_scrape(at(15)), at(30));
    assert_eq!(a.next_scrape(at(16)), at(30));
    assert!(a.serves("http_requests_per_second"));
    assert!(!a.serves("requests"));
    assert_eq!(rate_to_milli(1.2345678), 1234);
}

#[test]
fn a_pod_that_appears_between_others_gets_its_own_series() {
    // w1 and w3 scraped from 30 s at 10 rps; w2 (between them in key order) started at
    // 110 s serving 6 rps, scraped from 120 s. Over a 1m window at 150 s, (90, 150] holds
    // the samples of 120 and 150 s. w1 and w3: 300 more over 30 s, the start 30 s before
    // the first (< 33 s, covered), their zero far back: 300 × 60 / 30 / 60 = 10. w2: 60 then
    // 240, to the start 30 s but its zero 30 × 60 / 180 = 10 s back: 180 × 40 / 30 / 60 = 4.
    let mut a = MetricsAdapter::new(
        MetricsAdapterConfig {
            rate_window: SimDuration::from_secs(60),
            ..MetricsAdapterConfig::default()
        },
        vec![key("shop", "web")],
    );
    let (w1, w2, w3) = (key("shop", "w1"), key("shop", "w2"), key("shop", "w3"));
    for t in (30..=150).step_by(30) {
        let secs = t as f64;
        let mut counts = vec![(0, &w1, 10.0 * secs)];
        if t >= 120 {
            counts.push((0, &w2, 6.0 * (secs - 110.0)));
        }
        counts.push((0, &w3, 10.0 * secs));
        a.scrape(at(t), counts);
    }
    close(a.pod_rate(&w1, None, at(150)), 10.0);
    close(a.pod_rate(&w2, None, at(150)), 4.0);
    close(a.pod_rate(&w3, None, at(150)), 10.0);
    close(a.service_rate(&key("shop", "web"), None, at(150)), 24.0);
    let order: Vec<&str> = a.series.iter().map(|s| s.pod.name.as_str()).collect();
    assert_eq!(order, ["w1", "w2", "w3"]);
}
