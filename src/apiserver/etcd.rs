//! The cost of etcd behind the apiserver: when a write commits and answers, what a range read
//! costs, the database size against its quota, a slowed-down member and a leader election.
//! A queueing model with parameters, not a Raft implementation: it says *when*, the store
//! (`store.rs`) says *what*.
//!
//! **Writes** follow etcd's commit path, each stage with its own clock:
//! 1. the request reaches the leader half a client round trip after it is sent
//!    (`client_round_trip / 2`);
//! 2. *WAL batching*: the leader's raft loop writes and fsyncs the entries that arrived while the
//!    previous fsync was running as one batch. A write arriving before the batch being filled
//!    starts joins it; one arriving later opens the next batch, which starts when both it and
//!    the disk are ready. So under load one fsync serves many writes, and idle, one write waits
//!    for one fsync;
//! 3. the batch commits when a majority has it on disk: the followers' copies go out with the
//!    leader's own fsync, so commit = batch start + `peer_round_trip` + `wal_fsync`;
//! 4. *apply* is serial, one write after another, each taking `1 s / max_writes_per_second`
//!    plus its bytes at `apply_bytes_per_second` — the throughput ceiling;
//! 5. the answer is back half a client round trip later.
//!
//! With the defaults an idle write answers in 150 + 875 + 400 + 25 + 150 µs = 1.6 ms, the
//! single-client put latency of etcd's benchmark (3.2, SSD); the ceiling is 40 000 writes/s
//! (the benchmark reaches 44 000–50 000 with 1000 clients).
//!
//! **Reads** (a range of `objects` objects, `bytes` long) cost the client round trip, a
//! ReadIndex round to the peers when linearizable, and their size (`range_per_object`,
//! `range_bytes_per_second`); defaults: 0.3 ms serializable, 0.7 ms linearizable for a small
//! range, as benchmarked. Reads do not queue behind one another (bbolt reads run concurrently).
//!
//! **Quota.** Each put costs its bytes + 256 (etcd's per-key overhead) of backend space, counted
//! against `--quota-backend-bytes` (2 GiB default; etcd warns above 8 GiB). A put that would
//! reach the quota is refused with `mvcc: database space exceeded` and raises the NOSPACE alarm,
//! after which every put is refused until an operator compacts, defragments and disarms
//! ([`Etcd::compact`], [`Etcd::defragment`]). Compaction frees space inside the file, which
//! later puts reuse; only a defragmentation shrinks the file the quota is measured on. A put
//! over `--max-request-bytes` (1.5 MiB) is refused outright. Deletes cost no quota.
//!
//! **Faults.** A slowdown multiplies every duration of etcd's own work (fsync, peer round
//! trip, apply, range cost) by a percentage. A leader election stops writes and linearizable
//! reads until a new leader is chosen: a randomized election timeout of 10–19 ticks of 100 ms
//! (etcd's `[electionTimeout, 2 × electionTimeout)`), plus one vote round trip.
//!
//! Not modelled: snapshots and backend commit spikes, follower reads, write contention in
//! bbolt, reads waiting for pending applies.

use rand::RngExt;

use crate::sim::{SimDuration, SimRng, SimTime};

/// `--quota-backend-bytes`'s default: 2 GiB.
pub const DEFAULT_QUOTA_BACKEND_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// The largest quota etcd recommends (it warns above): 8 GiB.
pub const MAX_RECOMMENDED_QUOTA_BACKEND_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// `--max-request-bytes`'s default: 1.5 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 1024 * 1024 * 3 / 2;
/// Backend space etcd charges each put beyond its key and value.
pub const KV_OVERHEAD_BYTES: u64 = 256;
/// `--heartbeat-interval`'s default: one raft tick.
pub const DEFAULT_HEARTBEAT_INTERVAL: SimDuration = SimDuration::from_millis(100);
/// `--election-timeout`'s default.
pub const DEFAULT_ELECTION_TIMEOUT: SimDuration = SimDuration::from_millis(1000);

/// The model's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EtcdConfig {
    /// apiserver ↔ etcd round trip including gRPC handling (half each way). Default 300 µs,
    /// from the benchmark's 0.3 ms serializable range.
    pub client_round_trip: SimDuration,
    /// Leader ↔ follower round trip. Default 400 µs (linearizable 0.7 ms − serializable 0.3 ms).
    pub peer_round_trip: SimDuration,
    /// One WAL fdatasync. Default 875 µs (an SSD; the benchmark's 1.6 ms put less the rest).
    pub wal_fsync: SimDuration,
    /// The apply ceiling: writes applied per second at most. Default 40 000.
    pub max_writes_per_second: u32,
    /// Bytes a second the apply of a write's value costs on top. Default 1 GB/s (1 ns a byte).
    pub apply_bytes_per_second: u64,
    /// Cost of each object a range returns. Default 2 µs (unverified: tune).
    pub range_per_object: SimDuration,
    /// Bytes a second a range returns. Default 100 MB/s (unverified: tune).
    pub range_bytes_per_second: u64,
    /// `--quota-backend-bytes`.
    pub quota_backend_bytes: u64,
    /// `--max-request-bytes`.
    pub max_request_bytes: u64,
    /// `--heartbeat-interval`: the raft tick.
    pub heartbeat_interval: SimDuration,
    /// `--election-timeout`.
    pub election_timeout: SimDuration,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            client_round_trip: SimDuration::from_micros(300),
            peer_round_trip: SimDuration::from_micros(400),
            wal_fsync: SimDuration::from_micros(875),
            max_writes_per_second: 40_000,
            apply_bytes_per_second: 1_000_000_000,
            range_per_object: SimDuration::from_micros(2),
            range_bytes_per_second: 100_000_000,
            quota_backend_bytes: DEFAULT_QUOTA_BACKEND_BYTES,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            election_timeout: DEFAULT_ELECTION_TIMEOUT,
        }
    }
}

/// Settings the model cannot run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EtcdConfigError {
    /// A rate is zero.
    #[error("{0} must be greater than zero")]
    ZeroRate(&'static str),
    /// The election timeout is not a whole number (at least one) of heartbeat ticks.
    #[error("the election timeout must be a positive multiple of the heartbeat interval")]
    ElectionTimeout,
}

impl EtcdConfig {
    /// Whether the model can run with these settings.
    pub fn validate(&self) -> Result<(), EtcdConfigError> {
        if self.max_writes_per_second == 0 {
            return Err(EtcdConfigError::ZeroRate("maxWritesPerSecond"));
        }
        if self.apply_bytes_per_second == 0 {
            return Err(EtcdConfigError::ZeroRate("applyBytesPerSecond"));
        }
        if self.range_bytes_per_second == 0 {
            return Err(EtcdConfigError::ZeroRate("rangeBytesPerSecond"));
        }
        let tick = self.heartbeat_interval.as_nanos();
        let timeout = self.election_timeout.as_nanos();
        if tick == 0 || timeout < tick || !timeout.is_multiple_of(tick) {
            return Err(EtcdConfigError::ElectionTimeout);
        }
        Ok(())
    }

    /// Whether the quota is above what etcd recommends (etcd starts, with a warning).
    pub fn quota_above_recommended(&self) -> bool {
        self.quota_backend_bytes > MAX_RECOMMENDED_QUOTA_BACKEND_BYTES
    }
}

/// Why etcd refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EtcdError {
    /// `etcdserver: request is too large`.
    #[error("etcdserver: request is too large ({bytes} bytes, limit {limit})")]
    RequestTooLarge {
        /// The request's size.
        bytes: u64,
        /// `--max-request-bytes`.
        limit: u64,
    },
    /// `etcdserver: mvcc: database space exceeded` (the NOSPACE alarm).
    #[error("etcdserver: mvcc: database space exceeded ({size} of {quota} bytes)")]
    NoSpace {
        /// The backend's size.
        size: u64,
        /// `--quota-backend-bytes`.
        quota: u64,
    },
}

/// A refused request: why, and when the refusal reaches the apiserver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error} (answered at {at})")]
pub struct Rejected {
    /// When the answer is back.
    pub at: SimTime,
    /// Why.
    pub error: EtcdError,
}

/// How a range is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Confirmed with the peers first (ReadIndex): the default for a read at the latest version.
    Linearizable,
    /// From the member's own state.
    Serializable,
}

/// The cost model's state.
#[derive(Clone, Debug)]
pub struct Etcd {
    config: EtcdConfig,
    /// When the batch being filled starts its fsync (`None` before the first write).
    batch_start: Option<SimTime>,
    /// When the disk finishes the last scheduled fsync.
    disk_free: SimTime,
    /// When the apply loop finishes the last scheduled apply.
    apply_free: SimTime,
    /// Until when no leader serves writes and linearizable reads.
    no_leader_until: SimTime,
    /// Durations of etcd's own work, in percent (100: normal).
    slowdown_percent: u32,
    /// Backend space in use.
    in_use_bytes: u64,
    /// The backend file's size (what the quota is measured on).
    size_bytes: u64,
    /// The NOSPACE alarm.
    no_space_alarm: bool,
    /// Writes committed so far.
    writes: u64,
    /// Fsync batches so far.
    batches: u64,
}

impl Etcd {
    /// An empty etcd with `config`.
    pub fn new(config: EtcdConfig) -> Result<Self, EtcdConfigError> {
        config.validate()?;
        Ok(Etcd {
            config,
            batch_start: None,
            disk_free: SimTime::ZERO,
            apply_free: SimTime::ZERO,
            no_leader_until: SimTime::ZERO,
            slowdown_percent: 100,
            in_use_bytes: 0,
            size_bytes: 0,
            no_space_alarm: false,
            writes: 0,
            batches: 0,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &EtcdConfig {
        &self.config
    }

    /// The backend file's size, which the quota is measured on.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Backend space in use (what compaction leaves).
    pub fn in_use_bytes(&self) -> u64 {
        self.in_use_bytes
    }

    /// Whether the NOSPACE alarm is raised.
    pub fn no_space_alarm(&self) -> bool {
        self.no_space_alarm
    }

    /// Writes accepted so far, and the fsync batches that carried them.
    pub fn writes_and_batches(&self) -> (u64, u64) {
        (self.writes, self.batches)
    }

    /// A put of `bytes` (key and value) sent at `now`: when its answer is back.
    pub fn submit_write(&mut self, now: SimTime, bytes: u64) -> Result<SimTime, Rejected> {
        let refuse = |error| Rejected {
            at: now + self.config.client_round_trip,
            error,
        };
        if bytes > self.config.max_request_bytes {
            return Err(refuse(EtcdError::RequestTooLarge {
                bytes,
                limit: self.config.max_request_bytes,
            }));
        }
        let cost = bytes.saturating_add(KV_OVERHEAD_BYTES);
        if self.no_space_alarm || self.size_after(cost) >= self.config.quota_backend_bytes {
            self.no_space_alarm = true;
            return Err(refuse(EtcdError::NoSpace {
                size: self.size_bytes,
                quota: self.config.quota_backend_bytes,
            }));
        }
        self.in_use_bytes = self.in_use_bytes.saturating_add(cost);
        self.size_bytes = self.size_bytes.max(self.in_use_bytes);
        Ok(self.commit(now, bytes))
    }

    /// A delete sent at `now`: when its answer is back. Deletes cost no quota and pass the alarm.
    pub fn submit_delete(&mut self, now: SimTime) -> SimTime {
        self.commit(now, 0)
    }

    /// A range of `objects` objects totalling `bytes`, sent at `now`: when its answer is back.
    pub fn range(
        &self,
        now: SimTime,
        objects: u64,
        bytes: u64,
        consistency: Consistency,
    ) -> SimTime {
        let half_trip = half(self.config.client_round_trip);
        let mut at = now + half_trip;
        if consistency == Consistency::Linearizable {
            at = at.max(self.no_leader_until) + self.slowed(self.config.peer_round_trip);
        }
        let size_cost = self.config.range_per_object.saturating_mul(objects)
            + per_rate(bytes, self.config.range_bytes_per_second);
        at + self.slowed(size_cost) + half_trip
    }

    /// Compaction leaves `live_bytes` in use; the file keeps its size (its free pages
    /// are reused by later puts).
    pub fn compact(&mut self, live_bytes: u64) {
        self.in_use_bytes = live_bytes.min(self.in_use_bytes);
    }

    /// Defragmentation shrinks the file to what is in use, and the operator disarms the alarm.
    pub fn defragment(&mut self) {
        self.size_bytes = self.in_use_bytes;
        self.no_space_alarm = false;
    }

    /// A slowdown fault: etcd's own work takes `percent` % of its normal time (100 ends it).
    pub fn set_slowdown_percent(&mut self, percent: u32) {
        self.slowdown_percent = percent;
    }

    /// The leader is lost at `now`: no writes or linearizable reads until a new one is elected,
    /// after a randomized election timeout and a vote round. Returns when that is.
    pub fn lose_leader(&mut self, now: SimTime, rng: &mut SimRng) -> SimTime {
        let ticks = self.election_ticks();
        let extra = rng.random_range(0..ticks);
        self.lose_leader_with(now, extra)
    }

    /// [`Etcd::lose_leader`] with the random part of the election timeout given: `extra_ticks`
    /// heartbeat ticks beyond the election timeout (0 to ticks − 1).
    pub fn lose_leader_with(&mut self, now: SimTime, extra_ticks: u64) -> SimTime {
        let timeout = self.config.election_timeout
            + self.config.heartbeat_interval.saturating_mul(extra_ticks);
        let elected = now + timeout + self.slowed(self.config.peer_round_trip);
        self.no_leader_until = self.no_leader_until.max(elected);
        elected
    }

    fn election_ticks(&self) -> u64 {
        (self.config.election_timeout.as_nanos() / self.config.heartbeat_interval.as_nanos().max(1))
            .max(1)
    }

    fn size_after(&self, cost: u64) -> u64 {
        self.size_bytes.max(self.in_use_bytes.saturating_add(cost))
    }

    /// Steps 1–5 of the write path for a write of `bytes` sent at `now`.
    fn commit(&mut self, now: SimTime, bytes: u64) -> SimTime {
        let half_trip = half(self.config.client_round_trip);
        let arrival = (now + half_trip).max(self.no_leader_until);
        let fsync = self.slowed(self.config.wal_fsync);
        let start = match self.batch_start {
            // The batch being filled has not started its fsync: join it.
            Some(start) if arrival < start => start,
            _ => {
                let start = arrival.max(self.disk_free);
                self.batch_start = Some(start);
                self.disk_free = start + fsync;
                self.batches += 1;
                start
            }
        };
        let committed = start + self.slowed(self.config.peer_round_trip) + fsync;
        let apply = self.slowed(
            SimDuration::from_nanos(1_000_000_000 / u64::from(self.config.max_writes_per_second))
                + per_rate(bytes, self.config.apply_bytes_per_second),
        );
        let applied = committed.max(self.apply_free) + apply;
        self.apply_free = applied;
        self.writes += 1;
        applied + half_trip
    }

    fn slowed(&self, d: SimDuration) -> SimDuration {
        if self.slowdown_percent == 100 {
            return d;
        }
        let nanos = u128::from(d.as_nanos()) * u128::from(self.slowdown_percent) / 100;
        SimDuration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

fn half(d: SimDuration) -> SimDuration {
    SimDuration::from_nanos(d.as_nanos() / 2)
}

/// `bytes` at `per_second` bytes a second, in whole nanoseconds (truncated).
fn per_rate(bytes: u64, per_second: u64) -> SimDuration {
    let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(per_second.max(1));
    SimDuration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    fn us(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_micros(n)
    }

    fn etcd(config: EtcdConfig) -> Etcd {
        match Etcd::new(config) {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        }
    }

    fn write(e: &mut Etcd, now: SimTime, bytes: u64) -> SimTime {
        match e.submit_write(now, bytes) {
            Ok(at) => at,
            Err(r) => panic!("write refused: {r}"),
        }
    }

    #[test]
    fn an_idle_write_takes_one_fsync_and_one_peer_round_trip() {
        // Sent at 0: at the leader at 150 µs; fsync 150 → 1025 µs, and the followers' copies
        // commit 400 µs of round trip later: 1425 µs; applied by 1450 µs (1 s / 40 000 = 25 µs,
        // plus 0 bytes); back at 1600 µs = 1.6 ms.
        let mut e = etcd(EtcdConfig::default());
        assert_eq!(write(&mut e, SimTime::ZERO, 0), us(1600));
        // A 1000-byte value applies 1000 ns longer at 1 GB/s: sent at 10 ms, back at
        // 10 ms + 1.6 ms + 1 µs.
        assert_eq!(write(&mut e, us(10_000), 1000), us(11_601));
    }

    #[test]
    fn writes_arriving_during_an_fsync_share_the_next_one() {
        let mut e = etcd(EtcdConfig::default());
        // A at 0 s: batch 1 fsyncs 150 → 1025 µs; A is back at 1600 µs (as above).
        assert_eq!(write(&mut e, SimTime::ZERO, 0), us(1600));
        // B at 100 µs and C at 500 µs reach the leader at 250 and 650 µs, during batch 1's
        // fsync: both go into batch 2, which starts when the disk is free, at 1025 µs; commits
        // at 1025 + 400 + 875 = 2300 µs; B applies 2300 → 2325, C 2325 → 2350; back 150 µs
        // later.
        assert_eq!(write(&mut e, us(100), 0), us(2475));
        assert_eq!(write(&mut e, us(500), 0), us(2500));
        // D reaches the leader at 1100 µs, after batch 2 started: batch 3 at 1900 µs (the disk
        // is busy until 1025 + 875); commit 3175; apply 3175 → 3200; back at 3350 µs.
        assert_eq!(write(&mut e, us(950), 0), us(3350));
        assert_eq!(e.writes_and_batches(), (4, 3));
    }

    #[test]
    fn the_apply_loop_caps_throughput_at_40000_writes_a_second() {
        // 1001 writes sent at 0: the first takes batch 1 alone (back at 1600 µs); the other
        // 1000 arrive together during its fsync and share batch 2 (start 1025 µs, commit
        // 2300 µs). Their applies queue 25 µs apart: the k-th of them (k = 1..1000) is applied
        // at 2300 + 25 k µs and back 150 µs later; the last at 2300 + 25 000 + 150 = 27 450 µs.
        // 1000 writes in 25 ms: 40 000 a second.
        let mut e = etcd(EtcdConfig::default());
        let answers: Vec<SimTime> = (0..1001).map(|_| write(&mut e, SimTime::ZERO, 0)).collect();
        assert_eq!(answers[0], us(1600));
        assert_eq!(answers[1], us(2475));
        assert_eq!(answers[1000], us(27_450));
        assert_eq!(e.writes_and_batches(), (1001, 2));
    }

    #[test]
    fn range_reads_cost_by_size() {
        let e = etcd(EtcdConfig::default());
        // One small object: serializable 150 + 2 + 150 µs (+ 100 bytes at 100 MB/s = 1 µs)
        // = 303 µs; linearizable adds the 400 µs ReadIndex round: 703 µs.
        assert_eq!(
            e.range(SimTime::ZERO, 1, 100, Consistency::Serializable),
            us(303)
        );
        assert_eq!(
            e.range(SimTime::ZERO, 1, 100, Consistency::Linearizable),
            us(703)
        );
        // A LIST of 150 000 pods of 10 000 bytes each (1.5 GB) from etcd: 150 000 × 2 µs
        // = 300 ms, plus 1.5e9 B / 1e8 B/s = 15 s, plus 700 µs of round trips: 15.3007 s.
        assert_eq!(
            e.range(
                SimTime::ZERO,
                150_000,
                1_500_000_000,
                Consistency::Linearizable
            ),
            us(15_300_700)
        );
    }

    #[test]
    fn the_quota_refuses_puts_until_compaction_and_defragmentation() {
        // A 1 MiB quota: each put of 10 000 bytes costs 10 256 of it. 102 puts use
        // 1 046 112 bytes; a 103rd would bring it to 1 056 368 ≥ 1 048 576: refused, alarm up.
        let config = EtcdConfig {
            quota_backend_bytes: 1024 * 1024,
            ..EtcdConfig::default()
        };
        let mut e = etcd(config);
        for i in 0..102 {
            write(&mut e, us(i * 10_000), 10_000);
        }
        assert_eq!(e.size_bytes(), 1_046_112);
        let refused = e.submit_write(us(2_000_000), 10_000);
        assert_eq!(
            refused,
            Err(Rejected {
                at: us(2_000_300),
                error: EtcdError::NoSpace {
                    size: 1_046_112,
                    quota: 1_048_576
                }
            })
        );
        // With the alarm up even a tiny put is refused; deletes still go.
        assert!(e.submit_write(us(2_100_000), 1).is_err());
        assert_eq!(e.submit_delete(us(3_000_000)), us(3_001_600));
        // Compaction alone frees space inside the file, but the file (and the alarm) stay.
        e.compact(100_000);
        assert!(e.submit_write(us(4_000_000), 1).is_err());
        // Defragmented and disarmed: the file is 100 000 bytes and puts go again.
        e.defragment();
        assert_eq!(e.size_bytes(), 100_000);
        assert!(e.submit_write(us(5_000_000), 10_000).is_ok());
        // The default quota and its recommended ceiling.
        assert_eq!(EtcdConfig::default().quota_backend_bytes, 2_147_483_648);
        assert!(!EtcdConfig::default().quota_above_recommended());
        let big = EtcdConfig {
            quota_backend_bytes: 16 * 1024 * 1024 * 1024,
            ..EtcdConfig::default()
        };
        assert!(big.quota_above_recommended());
    }

    #[test]
    fn a_request_over_max_request_bytes_is_refused() {
        // 1.5 MiB = 1 572 864 bytes is allowed; one byte more is not.
        let mut e = etcd(EtcdConfig::default());
        assert!(e.submit_write(SimTime::ZERO, 1_572_864).is_ok());
        assert_eq!(
            e.submit_write(SimTime::ZERO, 1_572_865)
                .map_err(|r| r.error),
            Err(EtcdError::RequestTooLarge {
                bytes: 1_572_865,
                limit: 1_572_864
            })
        );
    }

    #[test]
    fn a_slow_disk_and_network_slow_every_stage() {
        // At 300 %: fsync 2625 µs, peer round trip 1200 µs, apply 75 µs; the client round trip
        // is the apiserver's network, unchanged. An idle write: 150 + 2625 + 1200 + 75 + 150
        // = 4200 µs.
        let mut e = etcd(EtcdConfig::default());
        e.set_slowdown_percent(300);
        assert_eq!(write(&mut e, SimTime::ZERO, 0), us(4200));
        e.set_slowdown_percent(100);
        assert_eq!(write(&mut e, us(100_000), 0), us(101_600));
    }

    #[test]
    fn a_leader_election_pauses_writes_and_linearizable_reads() {
        // Leader lost at 1 s; the new one is elected after the 1 s election timeout, 3 extra
        // ticks of 100 ms and a 400 µs vote round: 1 s + 1.3 s + 0.4 ms = 2.3004 s.
        let mut e = etcd(EtcdConfig::default());
        let elected = e.lose_leader_with(us(1_000_000), 3);
        assert_eq!(elected, us(2_300_400));
        // A write sent at 1.5 s waits for the leader: batch at 2.3004 s, back 875 + 400 + 25
        // + 150 µs later: 2.30185 s.
        assert_eq!(write(&mut e, us(1_500_000), 0), us(2_301_850));
        // A linearizable read sent at 1.5 s waits too; a serializable one does not.
        assert_eq!(
            e.range(us(1_500_000), 1, 0, Consistency::Linearizable),
            us(2_300_400 + 400 + 2 + 150)
        );
        assert_eq!(
            e.range(us(1_500_000), 1, 0, Consistency::Serializable),
            us(1_500_302)
        );
        // Drawn: 10 + (0..10) ticks, so elected 1.0004 s to 1.9004 s after the loss.
        let mut rng = stream(5, "etcd/election");
        let mut e = etcd(EtcdConfig::default());
        let at = e.lose_leader(SimTime::ZERO, &mut rng);
        assert!(at >= us(1_000_400) && at <= us(1_900_400));
        assert_eq!((at.as_nanos() - 400_000) % 100_000_000, 0);
    }

    #[test]
    fn settings_the_model_cannot_run_with_are_refused() {
        let zero = EtcdConfig {
            max_writes_per_second: 0,
            ..EtcdConfig::default()
        };
        assert_eq!(
            Etcd::new(zero).map(|_| ()),
            Err(EtcdConfigError::ZeroRate("maxWritesPerSecond"))
        );
        let odd = EtcdConfig {
            election_timeout: SimDuration::from_millis(1050),
            ..EtcdConfig::default()
        };
        assert_eq!(
            Etcd::new(odd).map(|_| ()),
            Err(EtcdConfigError::ElectionTimeout)
        );
    }
}
