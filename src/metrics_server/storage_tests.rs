//! metrics-server's two-point rule, each rate derived by hand: scrapes every 15 s, a container
//! using a constant CPU unless a test says otherwise.

use std::sync::LazyLock;

use super::*;
use crate::kubelet::resource_metrics::CpuCounter;

fn at(secs: u64) -> SimTime {
    SimTime::from_nanos(secs * 1_000_000_000)
}

static POD: LazyLock<ObjectKey> = LazyLock::new(|| ObjectKey::new("default", "web-1"));

fn pod() -> &'static ObjectKey {
    &POD
}

/// Container `name` of [`pod`] at `point`.
fn container(name: &'static str, point: ContainerPoint) -> ScrapedPoint<'static> {
    ScrapedPoint {
        pod: pod(),
        container: name,
        point,
    }
}

/// Container `app` of [`pod`] sampled at `ts` with `counter`.
fn scrape(counter: &CpuCounter, start: u64, ts: u64) -> [ScrapedPoint<'static>; 1] {
    let point = ContainerPoint {
        start_time: at(start),
        timestamp: at(ts),
        cumulative_cpu: counter.used_at(at(ts)),
        memory: 64 << 20,
    };
    [container("app", point)]
}

fn storage() -> PodStorage {
    PodStorage::new(SimDuration::from_secs(15))
}

#[test]
fn a_pod_is_served_from_its_second_point_at_the_rate_between_the_two() {
    // 500m since 0 s: 30 core-s at 60 s, 37.5 at 75 s: 7.5 core-s over 15 s = 500,000,000
    // nanocores, stamped 75 s with a 15 s window. After the first scrape alone: nothing.
    let cpu = CpuCounter::new(at(0), 500);
    let mut s = storage();
    s.store(&scrape(&cpu, 0, 60));
    assert_eq!(s.pod_usage(pod()), None);
    s.store(&scrape(&cpu, 0, 75));
    let usage = s.pod_usage(pod()).expect("two points");
    assert_eq!(
        (usage.timestamp, usage.window),
        (at(75), SimDuration::from_secs(15))
    );
    assert_eq!(usage.containers[0].cpu_nanocores, 500_000_000);
    assert_eq!(usage.containers[0].memory, 64 << 20);
    assert_eq!(
        nanocores_to_millicores(usage.containers[0].cpu_nanocores),
        500
    );
}

#[test]
fn a_change_of_usage_shows_a_window_late_and_averaged() {
    // 200m until 70 s, then 800m. Points at 60 s and 75 s: 10 s at 200m + 5 s at 800m =
    // 2 + 4 = 6 core-s over 15 s = 400m. Only the next window (75–90 s) shows 800m.
    let mut cpu = CpuCounter::new(at(0), 200);
    let mut s = storage();
    s.store(&scrape(&cpu, 0, 60));
    cpu.set_usage(at(70), 800);
    s.store(&scrape(&cpu, 0, 75));
    let cpu_of = |s: &PodStorage| s.pod_usage(pod()).expect("served").containers[0].cpu_nanocores;
    assert_eq!(cpu_of(&s), 400_000_000);
    s.store(&scrape(&cpu, 0, 90));
    assert_eq!(cpu_of(&s), 800_000_000);
}

#[test]
fn a_fresh_container_is_rated_against_its_start() {
    // Started at 50 s, first point at 62 s: 12 s old, at least 10 s and under the 15 s
    // resolution, so rated against (50 s, 0): 300m × 12 s / 12 s = 300m at once.
    let cpu = CpuCounter::new(at(50), 300);
    let mut s = storage();
    s.store(&scrape(&cpu, 50, 62));
    let usage = s.pod_usage(pod()).expect("fresh");
    assert_eq!(
        (usage.timestamp, usage.window),
        (at(62), SimDuration::from_secs(12))
    );
    assert_eq!(usage.containers[0].cpu_nanocores, 300_000_000);
    // 5 s old is too young: nothing until the next scrape.
    let mut s = storage();
    s.store(&scrape(&CpuCounter::new(at(57), 300), 57, 62));
    assert_eq!(s.pod_usage(pod()), None);
}

#[test]
fn a_scrape_that_finds_no_new_sample_keeps_serving_the_last_rate() {
    // Points at 60 s and 75 s, then a scrape that finds the 75 s sample again: the 60 s point
    // is kept as the previous one, so the pod is still served, at the same rate.
    let cpu = CpuCounter::new(at(0), 500);
    let mut s = storage();
    s.store(&scrape(&cpu, 0, 60));
    s.store(&scrape(&cpu, 0, 75));
    s.store(&scrape(&cpu, 0, 75));
    let usage = s.pod_usage(pod()).expect("still served");
    assert_eq!(
        (usage.timestamp, usage.containers[0].cpu_nanocores),
        (at(75), 500_000_000)
    );
}

#[test]
fn a_restart_drops_the_old_point() {
    // Restarted at 85 s (after the stored point of 75 s): the 90 s point (5 s old, too young
    // to be fresh) has nothing to be rated against. At 105 s it is rated against 90 s.
    let cpu = CpuCounter::new(at(0), 500);
    let mut s = storage();
    s.store(&scrape(&cpu, 0, 60));
    s.store(&scrape(&cpu, 0, 75));
    let again = CpuCounter::new(at(85), 100);
    s.store(&scrape(&again, 85, 90));
    assert_eq!(s.pod_usage(pod()), None);
    s.store(&scrape(&again, 85, 105));
    let usage = s.pod_usage(pod()).expect("two points since the restart");
    assert_eq!(usage.containers[0].cpu_nanocores, 100_000_000);
}

#[test]
fn a_counter_that_goes_down_leaves_its_container_out() {
    let point = |ts, cpu| ContainerPoint {
        start_time: at(0),
        timestamp: at(ts),
        cumulative_cpu: cpu,
        memory: 1,
    };
    let batch = |p| [container("app", p)];
    let mut s = storage();
    s.store(&batch(point(60, 100)));
    s.store(&batch(point(75, 50)));
    let usage = s.pod_usage(pod()).expect("the pod, without the container");
    assert!(usage.containers.is_empty());
    assert_eq!(usage.timestamp, SimTime::ZERO);
}

#[test]
fn the_pod_carries_its_earliest_containers_window_and_leaves_with_the_scrape() {
    let point = |ts: u64, cpu: u128| ContainerPoint {
        start_time: at(0),
        timestamp: at(ts),
        cumulative_cpu: cpu,
        memory: 1,
    };
    let batch = |a: ContainerPoint, b: ContainerPoint| [container("app", a), container("proxy", b)];
    let mut s = storage();
    s.store(&batch(point(60, 0), point(60, 0)));
    // app: 15 s up to 75 s; proxy: 14 s up to 74 s, 1.4 core-s: 100m.
    s.store(&batch(point(75, 15_000_000_000), point(74, 1_400_000_000)));
    let usage = s.pod_usage(pod()).expect("both containers");
    assert_eq!(
        (usage.timestamp, usage.window),
        (at(74), SimDuration::from_secs(14))
    );
    assert_eq!(usage.containers[1].cpu_nanocores, 100_000_000);
    // A scrape without the pod forgets it.
    s.store(&[]);
    assert_eq!(s.pod_usage(pod()), None);
}

#[test]
fn the_hpa_reads_millicores_rounded_up() {
    assert_eq!(nanocores_to_millicores(500_000_000), 500);
    assert_eq!(nanocores_to_millicores(500_000_001), 501);
    assert_eq!(nanocores_to_millicores(0), 0);
}
