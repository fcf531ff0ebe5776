//! The apiserver process going away and coming back (`apiserverRestart`): what its clients see
//! while it is down, and what a freshly started one cannot serve yet.
//!
//! * **Going down.** Every open watch ends as a stream that closed (client-go sees an EOF and
//!   re-watches at once); every request being served or queued is answered with a reset
//!   connection (client-go sends a GET, LIST or WATCH again after a synthetic 1 s Retry-After; a
//!   write is not repeated, as it may have happened); flow control lets go of their seats.
//! * **Down.** A request that arrives is refused at the connection: it never reaches the
//!   handler chain, so `apiserver_request_total` does not count it. With several replicas
//!   (`replica.rs`) only this replica's clients lose their connection; the load balancer puts
//!   their next requests on a replica that is up, and refuses them only when none is.
//! * **Coming back.** A new process: flow control starts over with its configuration, and every
//!   resource's watch cache (`storage/cacher`) is empty until it has listed its objects from etcd
//!   — a range of all of them, costed by the etcd model. Until a resource's cache is ready, WATCH
//!   and LIST of it are answered 429 with upstream's `calculateRetryAfterForUnreadyCache`:
//!   `Retry-After = ⌊clamp(e^(0.06 × downtime), 1, 30)⌋` s, where the downtime is the time since
//!   the cache became unready, that is since the new process started (KEP-4568, GA in 1.34).
//!   GETs and writes go to etcd and are served. (Upstream also sends a paginated LIST without
//!   selectors to etcd; kubesim's LISTs are not paginated, so every LIST waits for the cache.)
//! * **The cache's window.** A cache starts at the revision it listed at: a watch from an older
//!   resourceVersion is answered 410 Expired ("too old resource version"), which sends the
//!   client's reflector back to a LIST — the relist storm that follows every restart.

use std::collections::BTreeMap;

use crate::api::Kind;
use crate::sim::{SimDuration, SimTime};

/// The `Retry-After` of a request an unready watch cache refuses, `downtime` after it became
/// unready: ⌊clamp(e^(0.06 s⁻¹ × downtime), 1, 30)⌋ seconds.
pub fn unready_cache_retry_after(downtime: SimDuration) -> u32 {
    let result = libm::exp(0.06 * downtime.as_secs_f64()).clamp(1.0, 30.0);
    result as u32
}

/// One resource's watch cache after a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct WatchCache {
    /// When its LIST from etcd is back and it serves.
    ready_at: SimTime,
    /// The revision it listed at: a watch must start at or after it.
    listed_at_revision: u64,
}

/// One restart, as it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartRecord {
    /// When the old process went down.
    pub down_at: SimTime,
    /// When the new one started.
    pub up_at: SimTime,
    /// When the last of its watch caches was ready.
    pub caches_ready_at: SimTime,
}

/// Whether the apiserver process is up, and the state of a restarted one's watch caches.
#[derive(Clone, Debug, Default)]
pub struct Process {
    /// The restarts so far.
    history: Vec<RestartRecord>,
    /// While down: when it went down.
    down_since: Option<SimTime>,
    /// When the running process started (its caches' downtime counts from here).
    started_at: SimTime,
    /// Restarts so far.
    restarts: u32,
    /// Each resource's cache, once the process has restarted (before that, every cache has
    /// been filling since the cluster began and serves the whole retained history).
    caches: BTreeMap<Kind, WatchCache>,
    /// Requests whose connection was reset when the process went down.
    reset: u64,
}

/// Why a watch cache does not serve a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheRefusal {
    /// It is not ready: 429 with this `Retry-After` (seconds).
    NotReady {
        /// Seconds.
        retry_after_seconds: u32,
    },
    /// The watch starts before the cache's window: 410, the oldest version it could start from.
    TooOld {
        /// The revision the cache listed at.
        oldest: u64,
    },
}

impl Process {
    /// Whether the process is down.
    pub fn is_down(&self) -> bool {
        self.down_since.is_some()
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// The restarts so far, in order (a process still down is not in it yet).
    pub fn history(&self) -> &[RestartRecord] {
        &self.history
    }

    /// Requests whose connection was reset when the process went down.
    pub fn reset(&self) -> u64 {
        self.reset
    }

    /// When the last resource's cache became ready after the last restart (`None`: never
    /// restarted, or still down).
    pub fn caches_ready_at(&self) -> Option<SimTime> {
        if self.is_down() {
            return None;
        }
        self.caches.values().map(|c| c.ready_at).max()
    }

    /// Goes down at `now`.
    pub(super) fn go_down(&mut self, now: SimTime) {
        self.down_since.get_or_insert(now);
    }

    /// Comes up at `now`; `ready_at(kind)` is when `kind`'s cache has listed from etcd, and
    /// `revision` the store's revision it lists at.
    pub(super) fn come_up(
        &mut self,
        now: SimTime,
        revision: u64,
        ready_at: impl Fn(Kind) -> SimTime,
    ) {
        let Some(down_at) = self.down_since.take() else {
            return;
        };
        self.started_at = now;
        self.restarts += 1;
        self.caches = Kind::ALL
            .iter()
            .map(|&kind| {
                let cache = WatchCache {
                    ready_at: ready_at(kind),
                    listed_at_revision: revision,
                };
                (kind, cache)
            })
            .collect();
        self.history.push(RestartRecord {
            down_at,
            up_at: now,
            caches_ready_at: self.caches_ready_at().unwrap_or(now),
        });
    }

    /// Counts a request whose connection was reset.
    pub(super) fn count_reset(&mut self) {
        self.reset += 1;
    }

    /// Whether `kind`'s watch cache serves a LIST now: `None` if it does.
    pub fn refuses_list(&self, kind: Kind, now: SimTime) -> Option<CacheRefusal> {
        let cache = self.caches.get(&kind)?;
        (now < cache.ready_at).then(|| CacheRefusal::NotReady {
            retry_after_seconds: unready_cache_retry_after(now.saturating_since(self.started_at)),
        })
    }

    /// Whether `kind`'s watch cache serves a watch from `from` now: `None` if it does.
    pub fn refuses_watch(
        &self,
        kind: Kind,
        from: Option<u64>,
        now: SimTime,
    ) -> Option<CacheRefusal> {
        if let Some(refusal) = self.refuses_list(kind, now) {
            return Some(refusal);
        }
        let cache = self.caches.get(&kind)?;
        let from = from?;
        (from < cache.listed_at_revision).then_some(CacheRefusal::TooOld {
            oldest: cache.listed_at_revision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    #[test]
    fn retry_after_grows_with_the_caches_downtime_from_1_to_30_seconds() {
        // e^(0.06 t): t = 0 → 1; t = 11 s → e^0.66 = 1.93 → 1; t = 12 s → e^0.72 = 2.05 → 2;
        // t = 30 s → e^1.8 = 6.05 → 6; t = 56 s → e^3.36 = 28.8 → 28; t = 57 s → e^3.42 =
        // 30.6 → capped at 30; an hour → 30.
        let cases = [
            (0, 1),
            (11, 1),
            (12, 2),
            (30, 6),
            (56, 28),
            (57, 30),
            (3600, 30),
        ];
        for (t, expected) in cases {
            assert_eq!(unready_cache_retry_after(secs(t)), expected, "after {t} s");
        }
        // 100 ms: e^0.006 = 1.006 → 1.
        assert_eq!(unready_cache_retry_after(SimDuration::from_millis(100)), 1);
    }

    #[test]
    fn a_restarted_process_refuses_until_each_cache_is_ready_then_only_old_watches() {
        let t = |s| SimTime::ZERO + secs(s);
        let mut process = Process::default();
        // Never restarted: everything is served.
        assert_eq!(process.refuses_watch(Kind::Pod, Some(1), t(5)), None);
        process.go_down(t(10));
        assert!(process.is_down());
        assert_eq!(process.caches_ready_at(), None);
        // Up at 40 s at revision 500; pods' cache lists for 3 s, every other kind's for 1 s.
        process.come_up(t(40), 500, |kind| {
            t(40) + if kind == Kind::Pod { secs(3) } else { secs(1) }
        });
        assert!(!process.is_down());
        assert_eq!(process.restarts(), 1);
        assert_eq!(process.caches_ready_at(), Some(t(43)));
        assert_eq!(
            process.history(),
            [RestartRecord {
                down_at: t(10),
                up_at: t(40),
                caches_ready_at: t(43)
            }]
        );
        // At 42 s the pod cache is 2 s unready: e^0.12 = 1.13 → Retry-After 1.
        assert_eq!(
            process.refuses_list(Kind::Pod, t(42)),
            Some(CacheRefusal::NotReady {
                retry_after_seconds: 1
            })
        );
        // Nodes are served at 42 s; a watch from 499 is too old, from 500 fine.
        assert_eq!(process.refuses_list(Kind::Node, t(42)), None);
        assert_eq!(
            process.refuses_watch(Kind::Node, Some(499), t(42)),
            Some(CacheRefusal::TooOld { oldest: 500 })
        );
        assert_eq!(process.refuses_watch(Kind::Node, Some(500), t(42)), None);
        // A watch with no resourceVersion ("from now") is never too old.
        assert_eq!(process.refuses_watch(Kind::Pod, None, t(43)), None);
    }
}
