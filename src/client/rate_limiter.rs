//! client-go's client-side rate limiter: the token bucket every clientset puts in front of its
//! requests (`util/flowcontrol.NewTokenBucketRateLimiter`, which is `golang.org/x/time/rate`'s
//! `Limiter` underneath), in virtual time.
//!
//! * **The bucket.** It holds at most `burst` tokens, starts full, and refills at `qps` tokens a
//!   second. A request *reserves* a token: the count may go negative, and the request then waits
//!   until the refill has paid the debt back. So a full bucket lets `burst` requests through at
//!   once and then one every `1/qps` seconds, each waiting in turn (`Limiter.Wait`). kubesim
//!   cannot block: [`TokenBucket::reserve`] takes the token and says *when* the request may go.
//! * **Arithmetic.** Tokens are an `f64` and the wait is `tokens / qps` seconds truncated to whole
//!   nanoseconds, step for step as upstream computes them, so waits match upstream's to the
//!   nanosecond. `qps` is given as an `f32`, the type of `rest.Config.QPS`, and widened exactly
//!   as Go widens it.
//! * **Which bucket a client gets** ([`ClientRateLimit::from_rest_config`]): a clientset made
//!   with `QPS > 0` shares one bucket between all its API groups and needs `Burst > 0`; `QPS`
//!   unset (zero) falls back to 5 QPS / burst 10 (`rest.DefaultQPS` / `DefaultBurst`); a
//!   negative `QPS` turns the limiter off.
//!
//! Which requests take a token (every first try except a watch's; every retry, watches
//! included) is the caller's business; `retry.rs` says when a retry asks again.

use crate::sim::{SimDuration, SimTime};

/// `rest.DefaultQPS`: what a client whose `QPS` is zero runs at.
pub const DEFAULT_QPS: f32 = 5.0;
/// `rest.DefaultBurst`: the burst of a client whose `Burst` is zero.
pub const DEFAULT_BURST: u32 = 10;

/// Nanoseconds in a second.
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A rate-limiter setting no bucket can be made from.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimiterError {
    /// The rate is not a positive, finite number of requests per second.
    #[error("qps must be a positive finite number, found {0}")]
    InvalidQps(f32),
    /// A limited client needs room for at least one request (`burst ≥ 1`); upstream's clientset
    /// refuses `QPS > 0` with `Burst ≤ 0` ("burst is required to be greater than 0").
    #[error("burst is required to be greater than 0 when qps is greater than 0, found {0}")]
    BurstRequired(i64),
}

/// A token bucket as `golang.org/x/time/rate` keeps one.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    /// Tokens added per second.
    qps: f64,
    /// The most tokens the bucket holds, and how many requests may go at once.
    burst: u32,
    /// Tokens at `last`; negative when requests have reserved ahead of the refill.
    tokens: f64,
    /// When `tokens` was last worked out; `None` before the first reservation (a full bucket,
    /// as upstream's zero time lies so far back that the refill fills it).
    last: Option<SimTime>,
}

impl TokenBucket {
    /// A full bucket refilled at `qps` per second, holding at most `burst` tokens.
    pub fn new(qps: f32, burst: u32) -> Result<Self, RateLimiterError> {
        if !(qps.is_finite() && qps > 0.0) {
            return Err(RateLimiterError::InvalidQps(qps));
        }
        if burst == 0 {
            return Err(RateLimiterError::BurstRequired(0));
        }
        Ok(TokenBucket {
            qps: f64::from(qps),
            burst,
            tokens: f64::from(burst),
            last: None,
        })
    }

    /// Tokens added per second.
    pub fn qps(&self) -> f64 {
        self.qps
    }

    /// The bucket's size.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Takes a token for a request ready at `now`; returns when the request may go (`now` if a
    /// token was there). The token is taken either way: the next request queues behind this one.
    pub fn reserve(&mut self, now: SimTime) -> SimTime {
        let tokens = self.tokens_at(now) - 1.0;
        self.tokens = tokens;
        self.last = Some(now);
        now + wait_for(-tokens, self.qps)
    }

    /// Takes a token only if one is there at `now` (`TryAccept`, a passive limiter's check):
    /// whether the request may go now.
    pub fn try_accept(&mut self, now: SimTime) -> bool {
        let tokens = self.tokens_at(now);
        if tokens < 1.0 {
            return false;
        }
        self.tokens = tokens - 1.0;
        self.last = Some(now);
        true
    }

    /// Tokens in the bucket at `now` (negative while reservations are ahead of the refill).
    pub fn tokens_at(&self, now: SimTime) -> f64 {
        let Some(last) = self.last else {
            return f64::from(self.burst);
        };
        // Upstream treats a time before `last` as no time passed; virtual time only does this
        // when a caller reserves for an earlier instant than the one before.
        let elapsed = seconds(now.saturating_since(last));
        (self.tokens + elapsed * self.qps).min(f64::from(self.burst))
    }
}

/// How long `debt` tokens take to refill at `qps` (`Limit.durationFromTokens`): seconds as a
/// float, truncated to whole nanoseconds; nothing when there is no debt.
fn wait_for(debt: f64, qps: f64) -> SimDuration {
    if debt <= 0.0 {
        return SimDuration::ZERO;
    }
    // `as` saturates: a wait beyond u64 nanoseconds (five centuries) is forever.
    SimDuration::from_nanos((debt / qps * NANOS_PER_SEC as f64) as u64)
}

/// A span in seconds as Go's `Duration.Seconds` works it out (whole seconds, plus the rest over
/// 1e9), so the refill matches upstream's float arithmetic bit for bit.
fn seconds(d: SimDuration) -> f64 {
    let nanos = d.as_nanos();
    (nanos / NANOS_PER_SEC) as f64 + (nanos % NANOS_PER_SEC) as f64 / 1e9
}

/// The rate limiter a clientset ends up with.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientRateLimit {
    /// No client-side limit (`QPS < 0`).
    Unlimited,
    /// One bucket for every request of the client.
    Bucket(TokenBucket),
}

impl ClientRateLimit {
    /// The limiter of a clientset built from `rest.Config{QPS: qps, Burst: burst}`.
    ///
    /// `qps > 0` needs `burst > 0` (`kubernetes.NewForConfig`); `qps == 0` is unset and falls back
    /// to [`DEFAULT_QPS`] with `burst`, or [`DEFAULT_BURST`] if that is zero too
    /// (`rest.RESTClientFor`; upstream then gives each API group its own such bucket, which
    /// kubesim, with one bucket per client, does not); `qps < 0` means no limit.
    pub fn from_rest_config(qps: f32, burst: i64) -> Result<Self, RateLimiterError> {
        if qps.is_nan() || qps.is_infinite() {
            return Err(RateLimiterError::InvalidQps(qps));
        }
        if qps < 0.0 {
            return Ok(ClientRateLimit::Unlimited);
        }
        let (qps, burst) = if qps == 0.0 {
            let burst = if burst == 0 {
                i64::from(DEFAULT_BURST)
            } else {
                burst
            };
            (DEFAULT_QPS, burst)
        } else {
            (qps, burst)
        };
        let burst = u32::try_from(burst)
            .ok()
            .filter(|&b| b > 0)
            .ok_or(RateLimiterError::BurstRequired(burst))?;
        TokenBucket::new(qps, burst).map(ClientRateLimit::Bucket)
    }

    /// Takes a token for a request ready at `now`; returns when it may go.
    pub fn reserve(&mut self, now: SimTime) -> SimTime {
        match self {
            ClientRateLimit::Unlimited => now,
            ClientRateLimit::Bucket(bucket) => bucket.reserve(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(n)
    }

    fn bucket(qps: f32, burst: u32) -> TokenBucket {
        match TokenBucket::new(qps, burst) {
            Ok(b) => b,
            Err(e) => panic!("valid bucket refused: {e}"),
        }
    }

    #[test]
    fn a_full_bucket_lets_burst_through_then_one_per_refill() {
        // kube-controller-manager's 20 QPS, burst 30: 30 requests at 0 s go at once; the 31st
        // finds −1 token and waits 1/20 s = 50 ms; the 32nd −2 tokens, 100 ms; the 33rd 150 ms.
        let mut b = bucket(20.0, 30);
        let goes: Vec<SimTime> = (0..33).map(|_| b.reserve(SimTime::ZERO)).collect();
        assert!(goes[..30].iter().all(|&t| t == SimTime::ZERO));
        assert_eq!(&goes[30..], &[ms(50), ms(100), ms(150)]);
        // At 1 s the refill has added 20 tokens: −3 + 20 = 17 left before this one; it goes at
        // once and leaves 16.
        assert_eq!(b.reserve(ms(1000)), ms(1000));
        assert!((b.tokens_at(ms(1000)) - 16.0).abs() < 1e-9);
    }

    #[test]
    fn the_refill_stops_at_the_burst() {
        // 5 QPS, burst 10 (rest.Config's defaults). Empty the bucket at 0 s (10 reservations),
        // then wait an hour: 18 000 tokens' worth of refill, but it holds only 10. So 10 go at
        // once again and the 11th waits 1/5 s = 200 ms.
        let mut b = bucket(5.0, 10);
        for _ in 0..10 {
            assert_eq!(b.reserve(SimTime::ZERO), SimTime::ZERO);
        }
        let hour = ms(3_600_000);
        for _ in 0..10 {
            assert_eq!(b.reserve(hour), hour);
        }
        assert_eq!(b.reserve(hour), ms(3_600_200));
    }

    #[test]
    fn a_partial_refill_shortens_the_wait() {
        // 5 QPS, burst 1: at 0 s the one token goes. At 120 ms the refill has added
        // 0.12 s × 5 = 0.6 token; the request takes one and leaves −0.4, which takes
        // 0.4 / 5 = 80 ms: it goes at 200 ms, exactly 1/5 s after the first.
        let mut b = bucket(5.0, 1);
        assert_eq!(b.reserve(SimTime::ZERO), SimTime::ZERO);
        assert_eq!(b.reserve(ms(120)), ms(200));
        // A third at 120 ms too: −1.4 tokens, 1.4 / 5 = 280 ms → 400 ms.
        assert_eq!(b.reserve(ms(120)), ms(400));
    }

    #[test]
    fn waits_are_truncated_to_whole_nanoseconds() {
        // 3 QPS, burst 1: the second request at 0 s waits 1/3 s = 333 333 333.33… ns,
        // truncated to 333 333 333 ns.
        let mut b = bucket(3.0, 1);
        b.reserve(SimTime::ZERO);
        assert_eq!(b.reserve(SimTime::ZERO), SimTime::from_nanos(333_333_333));
    }

    #[test]
    fn try_accept_takes_a_token_only_when_there_is_one() {
        let mut b = bucket(10.0, 2);
        assert!(b.try_accept(SimTime::ZERO));
        assert!(b.try_accept(SimTime::ZERO));
        assert!(!b.try_accept(SimTime::ZERO));
        // 50 ms refills half a token: still not one.
        assert!(!b.try_accept(ms(50)));
        // 100 ms: exactly one.
        assert!(b.try_accept(ms(100)));
    }

    #[test]
    fn rest_config_defaulting() {
        // QPS and Burst unset: 5 / 10.
        let Ok(ClientRateLimit::Bucket(b)) = ClientRateLimit::from_rest_config(0.0, 0) else {
            panic!("unset QPS should give the default bucket");
        };
        assert_eq!((b.qps(), b.burst()), (5.0, 10));
        // QPS unset, Burst set: 5 QPS with that burst.
        let Ok(ClientRateLimit::Bucket(b)) = ClientRateLimit::from_rest_config(0.0, 3) else {
            panic!("unset QPS should give a bucket");
        };
        assert_eq!((b.qps(), b.burst()), (5.0, 3));
        // A negative QPS switches the limiter off.
        let mut off = ClientRateLimit::from_rest_config(-1.0, 0).ok();
        assert_eq!(off, Some(ClientRateLimit::Unlimited));
        if let Some(off) = off.as_mut() {
            assert_eq!(off.reserve(ms(7)), ms(7));
        }
        // QPS set without a burst is refused, as the clientset refuses it.
        assert_eq!(
            ClientRateLimit::from_rest_config(20.0, 0),
            Err(RateLimiterError::BurstRequired(0))
        );
        assert!(matches!(
            ClientRateLimit::from_rest_config(f32::NAN, 10),
            Err(RateLimiterError::InvalidQps(q)) if q.is_nan()
        ));
    }

    #[test]
    fn an_f32_rate_widens_as_go_widens_it() {
        // 0.1 as an f32 is 0.100000001490116…; the bucket keeps exactly that.
        let b = bucket(0.1, 1);
        assert_eq!(b.qps(), f64::from(0.1f32));
        assert_ne!(b.qps(), 0.1);
    }
}
