//! client-go's reflector loop (`tools/cache/reflector.go`) as a state machine: when to LIST,
//! when to WATCH and from which resourceVersion, how long a watch asks to last, and what each
//! way a watch can end leads to — at once, or after the jittered backoff of [`super::backoff`].
//!
//! It decides only; the owner sends the requests it asks for, feeds back what came of them,
//! and sets a timer when told to wait. Objects and the cache stay with the informer.
//!
//! * **A round** (`ListAndWatch`): LIST, then WATCH from the list's resourceVersion. With
//!   streaming lists on (`WatchListClient`, beta and on by default since client-go 1.35), the
//!   round opens a watch with `sendInitialEvents=true` instead and keeps it as the round's watch
//!   once the bookmark that ends the initial events arrives.
//! * **Between rounds** the reflector always waits one backoff step (`delayHandler.Until` with
//!   sliding timing): 800 ms doubling to 30 s, jitter 1.0 — whatever ended the round.
//! * **Where a LIST starts**: `"0"` (any version, from the watch cache) the first time; then
//!   the last resourceVersion seen ("not older than", still servable by the watch cache, which
//!   is what stops a relist storm reaching etcd since Kubernetes 1.18); `""` (a consistent read)
//!   only after a LIST or stream was told that version is gone or too large — and then the LIST
//!   is retried once at once, in the same round.
//! * **How a watch ends**:
//!   - closed cleanly (the server's timeout): watch again at once from the last version, no
//!     relist — unless it was a *very short watch* (under 1 s, no event), which ends the round;
//!   - 410 Expired / Gone: the round ends; after the backoff, relist from the last version;
//!   - 429 (or a refused connection) when opening or during the watch: back off, then watch
//!     again from the same version, no relist;
//!   - an internal error or anything else: the round ends (relist after the backoff).
//!     (`MaxInternalErrorRetryDuration`, which would re-watch internal errors at once, is zero
//!     by default and is not modelled.)
//! * **Watch timeouts**: each watch asks for `timeoutSeconds = ⌊min + u · (max − min)⌋` with
//!   min 5 min, max 10 min — so 300 to 599 whole seconds; a configured `MinWatchTimeout` above
//!   5 min replaces min, and max becomes twice it.

use rand::RngExt;

use super::backoff::{Backoff, BackoffParams};
use crate::sim::{SimDuration, SimRng, SimTime};

/// The least watch timeout client-go asks for, and half the most.
pub const DEFAULT_MIN_WATCH_TIMEOUT: SimDuration = SimDuration::from_mins(5);

/// A watch that ends sooner than this with no event is "very short" and ends the round.
const VERY_SHORT_WATCH: SimDuration = SimDuration::from_secs(1);

/// How a reflector is set up (`ReflectorOptions` and the feature gate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReflectorConfig {
    /// Streaming lists (`WatchListClient`): a round opens a watch with initial events instead
    /// of a LIST. On by default since client-go 1.35; it needs an apiserver that serves them.
    pub watch_list: bool,
    /// `ReflectorOptions.MinWatchTimeout`: only a value above 5 min changes anything.
    pub min_watch_timeout: SimDuration,
    /// The backoff between rounds and before re-watching after a 429.
    pub backoff: BackoffParams,
}

impl Default for ReflectorConfig {
    fn default() -> Self {
        ReflectorConfig {
            watch_list: true,
            min_watch_timeout: DEFAULT_MIN_WATCH_TIMEOUT,
            backoff: BackoffParams::REFLECTOR,
        }
    }
}

impl ReflectorConfig {
    /// The range watch timeouts are drawn from: min and max.
    pub fn watch_timeout_range(&self) -> (SimDuration, SimDuration) {
        let min = self.min_watch_timeout.max(DEFAULT_MIN_WATCH_TIMEOUT);
        (min, min.saturating_mul(2))
    }

    /// The `timeoutSeconds` of a watch for the draw `u` in [0, 1): ⌊min + u · (max − min)⌋ s,
    /// computed in float seconds as upstream does and truncated to whole seconds.
    pub fn watch_timeout_for(&self, u: f64) -> SimDuration {
        let (min, max) = self.watch_timeout_range();
        let (min_s, max_s) = (min.as_secs_f64(), max.as_secs_f64());
        SimDuration::from_secs((min_s + u * (max_s - min_s)) as u64)
    }
}

/// The resourceVersion a LIST (or a streaming list) starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFrom {
    /// `resourceVersion="0"`: any version, from the watch cache.
    Any,
    /// `resourceVersion=N`: not older than `N` (the watch cache serves it once caught up).
    NotOlderThan(u64),
    /// `resourceVersion=""`: the latest, a consistent read.
    Latest,
}

/// Why a LIST or a watch failed, as far as the reflector cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 410: the version asked for is compacted away (Expired or Gone).
    Expired,
    /// The version asked for is newer than the server has (a 504 with that cause).
    TooLargeResourceVersion,
    /// 429: the server asks the client to come back later.
    TooManyRequests,
    /// The connection was refused (the apiserver is down).
    ConnectionRefused,
    /// 500.
    Internal,
    /// Anything else.
    Other,
}

impl Failure {
    /// The failure an HTTP status stands for (a too-large resourceVersion needs its cause, so
    /// a 504 here is [`Failure::Other`]).
    pub const fn from_status(code: u16) -> Failure {
        match code {
            410 => Failure::Expired,
            429 => Failure::TooManyRequests,
            500 => Failure::Internal,
            _ => Failure::Other,
        }
    }

    const fn version_unavailable(self) -> bool {
        matches!(self, Failure::Expired | Failure::TooLargeResourceVersion)
    }

    const fn rewatchable(self) -> bool {
        matches!(self, Failure::TooManyRequests | Failure::ConnectionRefused)
    }
}

/// How an open watch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// The server closed it without an error (its timeout, a restart).
    Closed,
    /// An ERROR event ended it.
    Failed(Failure),
}

/// What the owner should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReflectorAction {
    /// Send a LIST.
    List {
        /// Where it starts.
        from: ListFrom,
    },
    /// Open a watch from `resource_version`, with bookmarks, asking the server to end it after
    /// `timeout`.
    Watch {
        /// The version to watch from.
        resource_version: u64,
        /// `timeoutSeconds`.
        timeout: SimDuration,
    },
    /// Open a streaming list: a watch with `sendInitialEvents=true` and
    /// `resourceVersionMatch=NotOlderThan`, which ends its initial events with a bookmark.
    StreamList {
        /// Where it starts (never [`ListFrom::Any`]).
        from: ListFrom,
        /// `timeoutSeconds`.
        timeout: SimDuration,
    },
    /// Nothing to send: set a timer and call [`Reflector::on_timer`] then.
    WaitUntil(SimTime),
    /// Nothing to do now.
    Continue,
}

/// What the reflector waits to do after a backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterBackoff {
    /// Start a new round (relist, or stream).
    NewRound,
    /// Watch again from the last version.
    Rewatch,
    /// Open the streaming list again.
    Restream,
}

/// Where the reflector is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReflectorPhase {
    /// Not started.
    Idle,
    /// A LIST is out; `retried` once it is the one-off retry from `""`.
    Listing {
        /// Where it started.
        from: ListFrom,
        /// Whether this is the retry after a version was unavailable.
        retried: bool,
    },
    /// A streaming list is out or streaming its initial events.
    Streaming {
        /// When it was sent.
        started: SimTime,
        /// Events received so far.
        events: u64,
    },
    /// A watch is out or open.
    Watching {
        /// When it was sent (the very-short check counts from here).
        started: SimTime,
        /// Events received so far.
        events: u64,
    },
    /// Waiting out a backoff.
    BackingOff {
        /// When it ends.
        until: SimTime,
        /// What comes next.
        then: AfterBackoff,
    },
}

/// Counts of what a reflector sent, for the stampede metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReflectorStats {
    /// LISTs sent (the first one included).
    pub lists: u64,
    /// Streaming lists opened.
    pub stream_lists: u64,
    /// Watches opened (streaming lists not included).
    pub watches: u64,
    /// Backoff waits taken.
    pub backoffs: u64,
}

/// One reflector's list-and-watch state.
#[derive(Clone, Debug)]
pub struct Reflector {
    config: ReflectorConfig,
    backoff: Backoff,
    phase: ReflectorPhase,
    /// The last resourceVersion seen (`lastSyncResourceVersion`), `None` before the first sync.
    last_rv: Option<u64>,
    /// A LIST or stream was told `last_rv` is expired or too large: start from `""`.
    rv_unavailable: bool,
    stats: ReflectorStats,
}

impl Reflector {
    /// A reflector made at `now` (its backoff's reset interval counts from here).
    pub fn new(config: ReflectorConfig, now: SimTime) -> Self {
        Reflector {
            backoff: Backoff::new(config.backoff, now),
            config,
            phase: ReflectorPhase::Idle,
            last_rv: None,
            rv_unavailable: false,
            stats: ReflectorStats::default(),
        }
    }

    /// Where the reflector is.
    pub fn phase(&self) -> ReflectorPhase {
        self.phase
    }

    /// The last resourceVersion seen.
    pub fn last_resource_version(&self) -> Option<u64> {
        self.last_rv
    }

    /// Turns streaming lists on or off (`WatchListClient`, as the process's gates say) for the
    /// rounds it starts from now on.
    pub fn set_watch_list(&mut self, on: bool) {
        self.config.watch_list = on;
    }

    /// What it has sent so far.
    pub fn stats(&self) -> ReflectorStats {
        self.stats
    }

    /// Starts the first round.
    pub fn start(&mut self, now: SimTime, rng: &mut SimRng) -> ReflectorAction {
        self.new_round(now, rng)
    }

    /// A LIST answered with items at `resource_version`: the cache is replaced (by the owner);
    /// watch from there.
    pub fn on_list(
        &mut self,
        now: SimTime,
        resource_version: u64,
        rng: &mut SimRng,
    ) -> ReflectorAction {
        if !matches!(self.phase, ReflectorPhase::Listing { .. }) {
            return ReflectorAction::Continue;
        }
        self.rv_unavailable = false;
        self.last_rv = Some(resource_version);
        self.watch(now, rng)
    }

    /// A LIST failed.
    pub fn on_list_failed(
        &mut self,
        now: SimTime,
        failure: Failure,
        rng: &mut SimRng,
    ) -> ReflectorAction {
        let ReflectorPhase::Listing { retried, .. } = self.phase else {
            return ReflectorAction::Continue;
        };
        if failure.version_unavailable() && !retried {
            // Retry at once from "" (a consistent read), once, within the round.
            self.rv_unavailable = true;
            return self.list(true);
        }
        self.back_off(now, AfterBackoff::NewRound, rng)
    }

    /// An event arrived on the watch or stream, at `resource_version`; `initial_events_end` when
    /// it is the bookmark that ends a streaming list's initial events.
    pub fn on_event(
        &mut self,
        now: SimTime,
        resource_version: u64,
        initial_events_end: bool,
    ) -> ReflectorAction {
        match &mut self.phase {
            ReflectorPhase::Watching { events, .. } => {
                *events += 1;
                self.last_rv = Some(resource_version);
            }
            ReflectorPhase::Streaming { events, .. } => {
                *events += 1;
                if initial_events_end {
                    // Synced: the stream goes on as the round's watch, its clock restarted.
                    self.rv_unavailable = false;
                    self.last_rv = Some(resource_version);
                    self.phase = ReflectorPhase::Watching {
                        started: now,
                        events: 0,
                    };
                }
            }
            _ => {}
        }
        ReflectorAction::Continue
    }

    /// The watch (or streaming list) request was refused before any event.
    pub fn on_watch_refused(
        &mut self,
        now: SimTime,
        failure: Failure,
        rng: &mut SimRng,
    ) -> ReflectorAction {
        match self.phase {
            ReflectorPhase::Watching { .. } => {
                if failure.rewatchable() {
                    self.back_off(now, AfterBackoff::Rewatch, rng)
                } else {
                    self.back_off(now, AfterBackoff::NewRound, rng)
                }
            }
            ReflectorPhase::Streaming { .. } => self.stream_failed(now, failure, rng),
            _ => ReflectorAction::Continue,
        }
    }

    /// The open watch (or streaming list) ended.
    pub fn on_watch_ended(
        &mut self,
        now: SimTime,
        end: WatchEnd,
        rng: &mut SimRng,
    ) -> ReflectorAction {
        match self.phase {
            ReflectorPhase::Watching { started, events } => match end {
                WatchEnd::Closed if is_very_short(now, started, events) => {
                    self.back_off(now, AfterBackoff::NewRound, rng)
                }
                WatchEnd::Closed => self.watch(now, rng),
                WatchEnd::Failed(Failure::TooManyRequests) => {
                    self.back_off(now, AfterBackoff::Rewatch, rng)
                }
                WatchEnd::Failed(_) => self.back_off(now, AfterBackoff::NewRound, rng),
            },
            ReflectorPhase::Streaming { started, events } => match end {
                // A very short stream is an error that is not retried: fall back to a LIST.
                WatchEnd::Closed if is_very_short(now, started, events) => self.fall_back_to_list(),
                // Closed before its end bookmark: stream again at once.
                WatchEnd::Closed => self.stream(now, rng),
                WatchEnd::Failed(failure) => self.stream_failed(now, failure, rng),
            },
            _ => ReflectorAction::Continue,
        }
    }

    /// A timer set for [`ReflectorAction::WaitUntil`] fired.
    pub fn on_timer(&mut self, now: SimTime, rng: &mut SimRng) -> ReflectorAction {
        let ReflectorPhase::BackingOff { until, then } = self.phase else {
            return ReflectorAction::Continue;
        };
        if now < until {
            return ReflectorAction::WaitUntil(until);
        }
        match then {
            AfterBackoff::NewRound => self.new_round(now, rng),
            AfterBackoff::Rewatch => self.watch(now, rng),
            AfterBackoff::Restream => self.stream(now, rng),
        }
    }

    fn new_round(&mut self, now: SimTime, rng: &mut SimRng) -> ReflectorAction {
        if self.config.watch_list {
            self.stream(now, rng)
        } else {
            self.list(false)
        }
    }

    /// `relistResourceVersion`.
    fn list_from(&self) -> ListFrom {
        match (self.rv_unavailable, self.last_rv) {
            (true, _) => ListFrom::Latest,
            (false, None) => ListFrom::Any,
            (false, Some(rv)) => ListFrom::NotOlderThan(rv),
        }
    }

    fn list(&mut self, retried: bool) -> ReflectorAction {
        let from = self.list_from();
        self.stats.lists += 1;
        self.phase = ReflectorPhase::Listing { from, retried };
        ReflectorAction::List { from }
    }

    fn fall_back_to_list(&mut self) -> ReflectorAction {
        self.list(false)
    }

    fn watch(&mut self, now: SimTime, rng: &mut SimRng) -> ReflectorAction {
        let timeout = self.config.watch_timeout_for(rng.random::<f64>());
        self.stats.watches += 1;
        self.phase = ReflectorPhase::Watching {
            started: now,
            events: 0,
        };
        ReflectorAction::Watch {
            resource_version: self.last_rv.unwrap_or(0),
            timeout,
        }
    }

    /// `rewatchResourceVersion`: a stream starts from the last version, or from "" (never "0").
    fn stream(&mut self, now: SimTime, rng: &mut SimRng) -> ReflectorAction {
        let from = match (self.rv_unavailable, self.last_rv) {
            (false, Some(rv)) => ListFrom::NotOlderThan(rv),
            _ => ListFrom::Latest,
        };
        let timeout = self.config.watch_timeout_for(rng.random::<f64>());
        self.stats.stream_lists += 1;
        self.phase = ReflectorPhase::Streaming {
            started: now,
            events: 0,
        };
        ReflectorAction::StreamList { from, timeout }
    }

    fn stream_failed(
        &mut self,
        now: SimTime,
        failure: Failure,
        rng: &mut SimRng,
    ) -> ReflectorAction {
        if failure.rewatchable() {
            self.back_off(now, AfterBackoff::Restream, rng)
        } else if failure.version_unavailable() {
            self.rv_unavailable = true;
            self.stream(now, rng)
        } else {
            self.fall_back_to_list()
        }
    }

    fn back_off(&mut self, now: SimTime, then: AfterBackoff, rng: &mut SimRng) -> ReflectorAction {
        let until = now + self.backoff.next(now, rng);
        self.stats.backoffs += 1;
        self.phase = ReflectorPhase::BackingOff { until, then };
        ReflectorAction::WaitUntil(until)
    }
}

fn is_very_short(now: SimTime, started: SimTime, events: u64) -> bool {
    events == 0 && now.saturating_since(started) < VERY_SHORT_WATCH
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    fn secs(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(n)
    }

    fn list_then_watch() -> ReflectorConfig {
        ReflectorConfig {
            watch_list: false,
            ..ReflectorConfig::default()
        }
    }

    fn rng() -> SimRng {
        stream(7, "client/reflector")
    }

    #[test]
    fn watch_timeouts_are_whole_seconds_from_300_to_599() {
        let config = ReflectorConfig::default();
        // ⌊300 + u · 300⌋: u = 0 → 300 s; u = 0.5 → 450 s; u just below 1 → 599 s.
        assert_eq!(config.watch_timeout_for(0.0), SimDuration::from_secs(300));
        assert_eq!(config.watch_timeout_for(0.5), SimDuration::from_secs(450));
        assert_eq!(
            config.watch_timeout_for(0.999_999),
            SimDuration::from_secs(599)
        );
        // The fraction of a second is dropped: 300 + 0.0041 × 300 = 301.23 → 301 s.
        assert_eq!(
            config.watch_timeout_for(0.0041),
            SimDuration::from_secs(301)
        );
        // A MinWatchTimeout of 1 min is below the default: ignored. 8 min: 480–959 s.
        let short = ReflectorConfig {
            min_watch_timeout: SimDuration::from_mins(1),
            ..config
        };
        assert_eq!(short.watch_timeout_for(0.0), SimDuration::from_secs(300));
        let long = ReflectorConfig {
            min_watch_timeout: SimDuration::from_mins(8),
            ..config
        };
        assert_eq!(long.watch_timeout_for(0.0), SimDuration::from_secs(480));
        assert_eq!(
            long.watch_timeout_for(0.999_999),
            SimDuration::from_secs(959)
        );
        // Drawn from a stream, always within the range.
        let mut r = rng();
        let mut refl = Reflector::new(list_then_watch(), SimTime::ZERO);
        refl.start(SimTime::ZERO, &mut r);
        for i in 0..50u64 {
            match refl.on_list(secs(i), i + 1, &mut r) {
                ReflectorAction::Watch { timeout, .. } => {
                    assert!(timeout >= SimDuration::from_secs(300));
                    assert!(timeout < SimDuration::from_secs(600));
                }
                other => panic!("expected a watch, got {other:?}"),
            }
            refl.phase = ReflectorPhase::Listing {
                from: ListFrom::Any,
                retried: false,
            };
        }
    }

    #[test]
    fn lists_from_zero_then_watches_and_rewatches_after_a_timeout_without_relisting() {
        let mut r = rng();
        let mut refl = Reflector::new(list_then_watch(), SimTime::ZERO);
        assert_eq!(
            refl.start(SimTime::ZERO, &mut r),
            ReflectorAction::List {
                from: ListFrom::Any
            }
        );
        let ReflectorAction::Watch {
            resource_version, ..
        } = refl.on_list(secs(1), 100, &mut r)
        else {
            panic!("a list is followed by a watch");
        };
        assert_eq!(resource_version, 100);
        refl.on_event(secs(2), 105, false);
        refl.on_event(secs(3), 107, false);
        // The server ends the watch at its timeout: watch again from 107 at once.
        let again = refl.on_watch_ended(secs(400), WatchEnd::Closed, &mut r);
        assert!(matches!(
            again,
            ReflectorAction::Watch {
                resource_version: 107,
                ..
            }
        ));
        assert_eq!(refl.stats().lists, 1);
        assert_eq!(refl.stats().watches, 2);
        assert_eq!(refl.stats().backoffs, 0);
    }

    #[test]
    fn a_410_relists_from_the_last_version_after_the_backoff() {
        let mut r = rng();
        let mut refl = Reflector::new(list_then_watch(), SimTime::ZERO);
        refl.start(SimTime::ZERO, &mut r);
        refl.on_list(secs(1), 100, &mut r);
        refl.on_event(secs(2), 120, false);
        let wait = refl.on_watch_ended(secs(10), WatchEnd::Failed(Failure::Expired), &mut r);
        let ReflectorAction::WaitUntil(until) = wait else {
            panic!("a 410 backs off first");
        };
        // The first backoff step: 800 ms stretched by up to 100 %.
        let waited = until.saturating_since(secs(10));
        assert!(waited >= SimDuration::from_millis(800) && waited < SimDuration::from_millis(1600));
        // A stale timer does nothing but say when to come back.
        assert_eq!(
            refl.on_timer(secs(10), &mut r),
            ReflectorAction::WaitUntil(until)
        );
        // Then a relist from 120, the last version seen — not "" (no etcd read).
        assert_eq!(
            refl.on_timer(until, &mut r),
            ReflectorAction::List {
                from: ListFrom::NotOlderThan(120)
            }
        );
    }

    #[test]
    fn an_expired_list_retries_once_at_once_from_latest() {
        let mut r = rng();
        let mut refl = Reflector::new(list_then_watch(), SimTime::ZERO);
        refl.start(SimTime::ZERO, &mut r);
        refl.on_list(secs(1), 100, &mut r);
        let ReflectorAction::WaitUntil(until) =
            refl.on_watch_ended(secs(5), WatchEnd::Failed(Failure::Expired), &mut r)
        else {
            panic!("backoff expected");
        };
        assert_eq!(
            refl.on_timer(until, &mut r),
            ReflectorAction::List {
                from: ListFrom::NotOlderThan(100)
            }
        );
        // 100 is compacted away too: retry at once with "".
        assert_eq!(
            refl.on_list_failed(until, Failure::Expired, &mut r),
            ReflectorAction::List {
                from: ListFrom::Latest
            }
        );
        // That fails again (say, 500): the round ends; backoff.
        assert!(matches!(
            refl.on_list_failed(until, Failure::Internal, &mut r),
            ReflectorAction::WaitUntil(_)
        ));
        // The next round still lists from "" until a list succeeds.
        let ReflectorPhase::BackingOff { until: next, .. } = refl.phase() else {
            panic!("backing off");
        };
        assert_eq!(
            refl.on_timer(next, &mut r),
            ReflectorAction::List {
                from: ListFrom::Latest
            }
        );
        refl.on_list(next, 500, &mut r);
        assert_eq!(refl.last_resource_version(), Some(500));
        assert_eq!(refl.stats().lists, 4);
    }

    #[test]
    fn a_429_rewatches_after_the_backoff_without_relisting() {
        let mut r = rng();
        let mut refl = Reflector::new(list_then_watch(), SimTime::ZERO);
        refl.start(SimTime::ZERO, &mut r);
        refl.on_list(secs(1), 100, &mut r);
        // The watch request itself is refused with a 429 (a watch cache still initializing).
        let ReflectorAction::WaitUntil(until) =
            refl.on_watch_refused(secs(1), Failure::TooManyRequests, &mut r)
        else {
            panic!("backoff expected");
        };
        assert!(matches!(
            refl.on_timer(until, &mut r),
            ReflectorAction::Watch {
                resource_version: 100,
                ..
            }
        ));
        // Any other refusal ends the round: relist after the backoff.
        let ReflectorAction::WaitUntil(until) =
            refl.on_watch_refused(until, Failure::Other, &mut r)
        else {
            panic!("backoff expected");
        };
        assert_eq!(
            refl.on_timer(until, &mut r),
            ReflectorAction::List {
                from: ListFrom::NotOlderThan(100)
            }
        );
        assert_eq!(refl.stats().lists, 2);
    }

    #[test]
    fn a_very_short_watch_ends_the_round() {
        let mut r = rng();
        let mut refl = Reflector::new(list_then_watch(), SimTime::ZERO);
        refl.start(SimTime::ZERO, &mut r);
        refl.on_list(secs(1), 100, &mut r);
        // Closed 500 ms after it was sent, no event: an error; backoff then relist.
        let at = secs(1) + SimDuration::from_millis(500);
        assert!(matches!(
            refl.on_watch_ended(at, WatchEnd::Closed, &mut r),
            ReflectorAction::WaitUntil(_)
        ));
    }

    #[test]
    fn backoffs_grow_across_failing_rounds() {
        // Every relist fails with a 500 at once. The waits are the backoff's steps: bases
        // 0.8, 1.6, 3.2, 6.4 s, each stretched by [0, 100 %).
        let mut r = rng();
        let mut refl = Reflector::new(list_then_watch(), SimTime::ZERO);
        refl.start(SimTime::ZERO, &mut r);
        let mut now = SimTime::ZERO;
        for base_ms in [800u64, 1600, 3200, 6400] {
            let ReflectorAction::WaitUntil(until) =
                refl.on_list_failed(now, Failure::Internal, &mut r)
            else {
                panic!("backoff expected");
            };
            let waited = until.saturating_since(now).as_nanos();
            let base = base_ms * 1_000_000;
            assert!(
                waited >= base && waited < 2 * base,
                "{waited} for base {base}"
            );
            now = until;
            assert_eq!(
                refl.on_timer(now, &mut r),
                ReflectorAction::List {
                    from: ListFrom::Any
                }
            );
        }
    }

    #[test]
    fn streaming_lists_replace_the_list_and_fall_back_to_it() {
        let mut r = rng();
        let mut refl = Reflector::new(ReflectorConfig::default(), SimTime::ZERO);
        let ReflectorAction::StreamList { from, .. } = refl.start(SimTime::ZERO, &mut r) else {
            panic!("a streaming list first");
        };
        // The first stream asks for the latest (never "0").
        assert_eq!(from, ListFrom::Latest);
        refl.on_event(secs(1), 10, false);
        refl.on_event(secs(1), 11, false);
        refl.on_event(secs(2), 50, true);
        assert_eq!(refl.last_resource_version(), Some(50));
        assert!(matches!(refl.phase(), ReflectorPhase::Watching { .. }));
        // The stream goes on as the watch; its timeout then re-watches from the last version.
        refl.on_event(secs(3), 51, false);
        assert!(matches!(
            refl.on_watch_ended(secs(400), WatchEnd::Closed, &mut r),
            ReflectorAction::Watch {
                resource_version: 51,
                ..
            }
        ));
        // A 410 ends the round; the next round streams from 51.
        let ReflectorAction::WaitUntil(until) =
            refl.on_watch_ended(secs(500), WatchEnd::Failed(Failure::Expired), &mut r)
        else {
            panic!("backoff expected");
        };
        assert!(matches!(
            refl.on_timer(until, &mut r),
            ReflectorAction::StreamList {
                from: ListFrom::NotOlderThan(51),
                ..
            }
        ));
        // The server does not stream (any other error): fall back to a LIST in this round.
        assert_eq!(
            refl.on_watch_refused(until, Failure::Other, &mut r),
            ReflectorAction::List {
                from: ListFrom::NotOlderThan(51)
            }
        );
    }
}
