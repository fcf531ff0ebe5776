//! Work estimates (upstream `util/flowcontrol/request`): how many seats a request holds while
//! it executes, and how many it keeps — and for how long — after it returns, for the watch
//! notifications a write sets off.
//!
//! * LIST (and a WATCH that starts with a LIST's worth of events): by object count, one seat
//!   per 100 objects the request will touch (1 for a single named object, every stored object
//!   from the watch cache, stored + limit from etcd with a selector, 2 × limit otherwise); or,
//!   with `SizeBasedListCostEstimate` (beta, on since v1.34), one seat per 100 kB it holds in
//!   memory at once (watch-cache reads counted up to 1 MB). Between 1 seat and the level's
//!   maximum, itself at most 10 (count) or 100 (size) seats.
//! * create / update / patch / delete: 1 seat, plus, when W ≥ 10 watchers may see the change,
//!   ⌈W / 10⌉ final seats (capped at the level's maximum, at most 10) held for as long as
//!   makes their work ⌈W / 10⌉ × 5 ms.
//! * everything else: 1 seat.
//!
//! The object counts come from the store (upstream reads them from its object count tracker,
//! refreshed from etcd every minute; kubesim's store knows them exactly). kubesim keeps no
//! object sizes: a request whose digest carries no average size is estimated by count.

use super::seat_seconds::SeatSeconds;
use super::{ListSource, RequestDigest};
use crate::apiserver::Verb;
use crate::sim::SimDuration;

/// Objects per seat of a count-based LIST estimate.
pub const OBJECTS_PER_SEAT: u64 = 100;
/// Bytes per seat of a size-based LIST estimate.
pub const BYTES_PER_SEAT: u64 = 100_000;
/// The memory a watch-cache LIST is counted for at most (it streams).
pub const CACHE_STREAMING_MAX_BYTES: u64 = 1_000_000;
/// The object size assumed when the average is unknown but objects exist.
pub const MAX_OBJECT_BYTES: u64 = 1_500_000;
/// Watchers per final seat of a write.
pub const WATCHES_PER_SEAT: u64 = 10;
/// The final work per final seat of a write.
pub const EVENT_ADDITIONAL_DURATION: SimDuration = SimDuration::from_millis(5);

/// The work-estimator settings (upstream `WorkEstimatorConfig`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkEstimatorConfig {
    /// The fewest seats a request takes (1).
    pub minimum_seats: u64,
    /// The most seats a LIST takes (10; 100 with the size-based estimate).
    pub maximum_list_seats: u64,
    /// The most seats a write's final phase takes (10).
    pub maximum_mutating_seats: u64,
    /// `SizeBasedListCostEstimate`: estimate LISTs by bytes rather than objects.
    pub size_based_list_cost_estimate: bool,
    /// Whether writes get final seats for their watchers (upstream: always on).
    pub mutating_estimator_enabled: bool,
    /// Whether a WATCH is estimated like a LIST during its initialization (the `WatchList`
    /// feature, on since v1.34); when off every WATCH takes the minimum.
    pub watch_list: bool,
}

impl Default for WorkEstimatorConfig {
    fn default() -> Self {
        WorkEstimatorConfig::for_size_based(true)
    }
}

impl WorkEstimatorConfig {
    /// Upstream's defaults with `SizeBasedListCostEstimate` on or off (its LIST cap follows).
    pub fn for_size_based(size_based: bool) -> Self {
        WorkEstimatorConfig {
            minimum_seats: 1,
            maximum_list_seats: if size_based { 100 } else { 10 },
            maximum_mutating_seats: 10,
            size_based_list_cost_estimate: size_based,
            mutating_estimator_enabled: true,
            watch_list: true,
        }
    }
}

/// What a request is estimated to cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkEstimate {
    /// Seats held while the request executes.
    pub initial_seats: u64,
    /// Seats held after it returns.
    pub final_seats: u64,
    /// How long the final seats are held.
    pub additional_latency: SimDuration,
}

impl WorkEstimate {
    /// One phase of `seats` seats.
    pub const fn seats(seats: u64) -> Self {
        WorkEstimate {
            initial_seats: seats,
            final_seats: 0,
            additional_latency: SimDuration::ZERO,
        }
    }

    /// The seats the request holds from dispatch until its final phase ends.
    pub fn max_seats(&self) -> u64 {
        self.initial_seats.max(self.final_seats)
    }

    /// The final phase's work.
    pub fn final_work(&self) -> SeatSeconds {
        SeatSeconds::seats_times(self.final_seats, self.additional_latency)
    }
}

/// Estimates `digest`'s work for a level whose per-request maximum is `level_max_seats`
/// (0: the level sets none, as Reject and Exempt levels do).
pub fn estimate(
    config: &WorkEstimatorConfig,
    digest: &RequestDigest<'_>,
    level_max_seats: u64,
) -> WorkEstimate {
    match digest.verb {
        Verb::List => WorkEstimate::seats(list_seats(config, digest, level_max_seats)),
        Verb::Watch if config.watch_list => {
            WorkEstimate::seats(list_seats(config, digest, level_max_seats))
        }
        Verb::Create | Verb::Update | Verb::Patch | Verb::Delete => {
            mutating(config, digest, level_max_seats)
        }
        _ => WorkEstimate::seats(config.minimum_seats),
    }
}

fn cap(level_max_seats: u64, limit: u64) -> u64 {
    if level_max_seats == 0 || level_max_seats > limit {
        limit
    } else {
        level_max_seats
    }
}

fn list_seats(config: &WorkEstimatorConfig, digest: &RequestDigest<'_>, level_max: u64) -> u64 {
    let min = config.minimum_seats;
    let max = cap(level_max, config.maximum_list_seats);
    let work = &digest.work;
    if digest.verb == Verb::Watch && !work.sends_initial_events {
        // A watch that starts from a given version sends no initial events: minimum cost.
        return min;
    }
    // An unknown resource (upstream: no count tracked, e.g. an aggregated API) costs the
    // minimum rather than the maximum, so proxied calls are not overestimated.
    let Some(stored) = work.object_count else {
        return min;
    };
    let from_cache = digest.verb == Verb::Watch || work.list_source == ListSource::WatchCache;
    let single = !digest.name.is_empty();
    let limited = if work.limit > 0 && work.limit < stored {
        work.limit
    } else {
        stored
    };
    let seats = match (config.size_based_list_cost_estimate, work.avg_object_bytes) {
        (true, Some(avg)) => {
            let avg = if avg == 0 && stored != 0 {
                MAX_OBJECT_BYTES
            } else {
                avg
            };
            let objects = if single {
                1
            } else if from_cache {
                limited
            } else if work.has_selector {
                limited.max(stored / 2)
            } else {
                limited
            };
            let mut bytes = objects.saturating_mul(avg);
            if from_cache {
                bytes = bytes.min(CACHE_STREAMING_MAX_BYTES);
            }
            bytes.div_ceil(BYTES_PER_SEAT)
        }
        _ => {
            let objects = if single {
                1
            } else if from_cache {
                stored
            } else if work.has_selector {
                stored.saturating_add(limited)
            } else {
                limited.saturating_mul(2)
            };
            objects.div_ceil(OBJECTS_PER_SEAT)
        }
    };
    seats.clamp(min, max.max(min))
}

fn mutating(
    config: &WorkEstimatorConfig,
    digest: &RequestDigest<'_>,
    level_max: u64,
) -> WorkEstimate {
    let min = config.minimum_seats;
    let max = cap(level_max, config.maximum_mutating_seats);
    // Creating a service account token sends no watch event.
    let exempt = digest.resource == "serviceaccounts" && digest.subresource == "token";
    let watchers = u64::from(digest.work.watchers);
    if !config.mutating_estimator_enabled || exempt || watchers < WATCHES_PER_SEAT {
        return WorkEstimate::seats(min);
    }
    let wanted = watchers.div_ceil(WATCHES_PER_SEAT);
    // The final work stays what the uncapped seats would do; capping makes it narrower and
    // longer, so one wide write does not hold back every other dispatch.
    let work = SeatSeconds::seats_times(wanted, EVENT_ADDITIONAL_DURATION);
    let final_seats = wanted.min(max);
    WorkEstimate {
        initial_seats: 1,
        final_seats,
        additional_latency: work.duration_per_seat(final_seats),
    }
}

/// The most seats one request may take at a Queue level: max(1, min(⌈0.15 × nominal⌉,
/// nominal / handSize)) (upstream `apf_controller.go`; 15 % kept the old 10-seat cap at the
/// default 600 seats).
pub fn level_max_seats(nominal: u32, hand_size: u32) -> u64 {
    // ⌈0.15 × n⌉ in integers; upstream's f64 product gives the same ceiling for every n up
    // to far beyond any server's seats.
    let fifteen_percent = (u64::from(nominal) * 15).div_ceil(100);
    let per_hand = u64::from(nominal / hand_size.max(1));
    fifteen_percent.min(per_hand).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::UserInfo;
    use crate::apiserver::flowcontrol::WorkInputs;

    fn list<'a>(user: &'a UserInfo, objects: u64, source: ListSource) -> RequestDigest<'a> {
        RequestDigest {
            user,
            verb: Verb::List,
            resource_request: true,
            api_group: "",
            resource: "pods",
            subresource: "",
            namespace: "",
            name: "",
            path: "",
            work: WorkInputs {
                object_count: Some(objects),
                list_source: source,
                ..WorkInputs::default()
            },
        }
    }

    #[test]
    fn list_seats_by_object_count() {
        let config = WorkEstimatorConfig::for_size_based(false);
        let u = UserInfo::new("u", &[]);
        let seats = |n, source| estimate(&config, &list(&u, n, source), 0).initial_seats;
        // From the watch cache every stored object is touched: ⌈n / 100⌉, within [1, 10].
        //   1 object       → ⌈0.01⌉ = 1
        //   100 objects    → ⌈1⌉ = 1
        //   10,000         → ⌈100⌉ = 100 → capped at 10
        //   1,000,000      → ⌈10,000⌉ → 10
        assert_eq!(seats(1, ListSource::WatchCache), 1);
        assert_eq!(seats(100, ListSource::WatchCache), 1);
        assert_eq!(seats(10_000, ListSource::WatchCache), 10);
        assert_eq!(seats(1_000_000, ListSource::WatchCache), 10);
        // From etcd without a selector or limit: 2 × stored. 100 → ⌈200/100⌉ = 2; 450 → 9.
        assert_eq!(seats(100, ListSource::Etcd), 2);
        assert_eq!(seats(450, ListSource::Etcd), 9);
        // From etcd with limit 50 of 1,000 and a selector: 1,000 + 50 = 1,050 → 11 → 10.
        let mut d = list(&u, 1_000, ListSource::Etcd);
        d.work.limit = 50;
        d.work.has_selector = true;
        assert_eq!(estimate(&config, &d, 0).initial_seats, 10);
        // Without the selector: 2 × 50 = 100 → 1.
        d.work.has_selector = false;
        assert_eq!(estimate(&config, &d, 0).initial_seats, 1);
        // One named object: 1 seat whatever the count.
        let mut one = list(&u, 1_000_000, ListSource::WatchCache);
        one.name = "web-0";
        assert_eq!(estimate(&config, &one, 0).initial_seats, 1);
        // The level's maximum caps further: global-default at 600 seats allows 8.
        assert_eq!(
            estimate(&config, &list(&u, 1_000_000, ListSource::WatchCache), 8).initial_seats,
            8
        );
        // An untracked resource costs the minimum.
        let mut unknown = list(&u, 0, ListSource::WatchCache);
        unknown.work.object_count = None;
        assert_eq!(estimate(&config, &unknown, 0).initial_seats, 1);
    }

    #[test]
    fn list_seats_by_size() {
        let config = WorkEstimatorConfig::for_size_based(true);
        let u = UserInfo::new("u", &[]);
        let mut d = list(&u, 10_000, ListSource::WatchCache);
        d.work.avg_object_bytes = Some(2_000);
        // 10,000 × 2 kB = 20 MB, counted as 1 MB from the cache: ⌈1e6 / 1e5⌉ = 10 seats.
        assert_eq!(estimate(&config, &d, 0).initial_seats, 10);
        // From etcd, no cap on memory: 20 MB / 100 kB = 200 → the LIST cap of 100.
        d.work.list_source = ListSource::Etcd;
        assert_eq!(estimate(&config, &d, 0).initial_seats, 100);
        // 300 objects of 2 kB from etcd: 600 kB → 6 seats.
        d.work.object_count = Some(300);
        assert_eq!(estimate(&config, &d, 0).initial_seats, 6);
        // Without a known size kubesim falls back to counting: ⌈2 × 300 / 100⌉ = 6.
        d.work.avg_object_bytes = None;
        assert_eq!(estimate(&config, &d, 0).initial_seats, 6);
    }

    #[test]
    fn writes_with_many_watchers_hold_final_seats() {
        let config = WorkEstimatorConfig::default();
        let u = UserInfo::new("u", &[]);
        let mut d = list(&u, 0, ListSource::WatchCache);
        d.verb = Verb::Update;
        // 9 watchers: below 10, one seat and nothing after.
        d.work.watchers = 9;
        assert_eq!(estimate(&config, &d, 0), WorkEstimate::seats(1));
        // 10 watchers: ⌈10/10⌉ = 1 final seat for 1 × 5 ms / 1 = 5 ms.
        d.work.watchers = 10;
        let e = estimate(&config, &d, 0);
        assert_eq!((e.initial_seats, e.final_seats), (1, 1));
        assert_eq!(e.additional_latency, SimDuration::from_millis(5));
        // 250 watchers: 25 seats wanted, capped at 10; work 25 × 5 ms = 125 seat-ms, so
        // 125 / 10 = 12.5 ms.
        d.work.watchers = 250;
        let e = estimate(&config, &d, 0);
        assert_eq!((e.initial_seats, e.final_seats), (1, 10));
        assert_eq!(e.additional_latency, SimDuration::from_micros(12_500));
        assert_eq!(e.max_seats(), 10);
        // At a level allowing 8: 125 / 8 = 15.625 ms.
        let e = estimate(&config, &d, 8);
        assert_eq!(e.final_seats, 8);
        assert_eq!(e.additional_latency, SimDuration::from_nanos(15_625_000));
        // A token request for a service account sends no event.
        d.resource = "serviceaccounts";
        d.subresource = "token";
        assert_eq!(estimate(&config, &d, 0), WorkEstimate::seats(1));
    }

    #[test]
    fn watches_cost_a_list_only_when_they_send_initial_events() {
        let config = WorkEstimatorConfig::for_size_based(false);
        let u = UserInfo::new("u", &[]);
        let mut d = list(&u, 5_000, ListSource::Etcd);
        d.verb = Verb::Watch;
        assert_eq!(estimate(&config, &d, 0).initial_seats, 1);
        // sendInitialEvents (or a legacy watch from "" / "0"): read from the cache like a
        // LIST, 5,000 / 100 = 50 → 10.
        d.work.sends_initial_events = true;
        assert_eq!(estimate(&config, &d, 0).initial_seats, 10);
    }

    #[test]
    fn per_level_maximum_seats() {
        // Default levels at 600 seats (nominal, handSize):
        //   global-default (49, 6): min(⌈7.35⌉ = 8, 49/6 = 8) = 8
        //   leader-election (25, 4): min(⌈3.75⌉ = 4, 6) = 4
        //   system (74, 6): min(⌈11.1⌉ = 12, 12) = 12
        //   node-high / workload-high (98, 6): min(⌈14.7⌉ = 15, 16) = 15
        //   workload-low (245, 6): min(⌈36.75⌉ = 37, 40) = 37
        assert_eq!(level_max_seats(49, 6), 8);
        assert_eq!(level_max_seats(25, 4), 4);
        assert_eq!(level_max_seats(74, 6), 12);
        assert_eq!(level_max_seats(98, 6), 15);
        assert_eq!(level_max_seats(245, 6), 37);
        // Tiny levels still allow one seat; a hand of 1 leaves the 15 % rule: ⌈15⌉ = 15.
        assert_eq!(level_max_seats(3, 8), 1);
        assert_eq!(level_max_seats(100, 1), 15);
    }
}
