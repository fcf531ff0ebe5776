//! client-go's request retries (`rest/with_retry.go`, driven by `rest/request.go`): which
//! answers a client sends again, after how long, and when it gives up.
//!
//! * **What is retried.** An answer with status 429 or any 5xx *that carries a `Retry-After`
//!   header holding a whole number of seconds*; nothing else. A connection-level failure that
//!   upstream counts as retryable (connection reset or EOF on a GET; EOF or timeout on a watch)
//!   is treated as a 500 with `Retry-After: 1`; any other transport failure is final.
//! * **How many.** At most [`DEFAULT_MAX_RETRIES`] (10) retries: the attempt counter goes up on
//!   every failed answer and the request is sent again only while it is at most the limit, so a
//!   request is sent 11 times in all before its last error is returned.
//! * **When.** The retry sleeps for the `Retry-After` seconds (client-go's default backoff
//!   manager is `NoBackoff`, so nothing longer) and then asks the client's rate limiter for a
//!   token again, like any first try: the sleep and the limiter's wait add up. kubesim hands back
//!   the end of the sleep ([`Retry::at`]); the caller reserves its token there
//!   ([`crate::client::rate_limiter::ClientRateLimit::reserve`]). A watch's *first* try takes no
//!   token (watches are not rate limited), but its retries do, as upstream's shared `Before`
//!   hook throttles every retry.
//! * A negative `Retry-After` parses as a number upstream and means no sleep at all.
//!
//! Bodies that cannot be replayed (streamed uploads) are never retried upstream; kubesim's
//! requests carry objects, which can always be sent again.

use crate::sim::{SimDuration, SimTime};

/// client-go's `maxRetries` for every request (`rest.Request`).
pub const DEFAULT_MAX_RETRIES: u32 = 10;

/// The `Retry-After` client-go makes up for a retryable connection failure.
const SYNTHETIC_RETRY_AFTER_SECONDS: i64 = 1;

/// What came back for one try of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP answer: its status and its `Retry-After` header when that holds an integer
    /// (a header that does not parse as one counts as absent, as `strconv.Atoi` fails on it).
    Status {
        /// The HTTP status code.
        code: u16,
        /// `Retry-After`, in seconds, if present and an integer.
        retry_after_seconds: Option<i64>,
    },
    /// No HTTP answer: the connection failed.
    Transport(TransportFailure),
}

/// A connection-level failure, as far as retries care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportFailure {
    /// Connection reset by peer, probable EOF, HTTP/2 connection lost: retried for GETs (a
    /// write may have happened, so upstream does not repeat it) and watches.
    Reset,
    /// The request timed out on the wire: retried for watches only.
    Timeout,
    /// Anything else (connection refused, DNS): never retried here (reflectors back off on
    /// refused watches themselves).
    Other,
}

/// Which kind of request is being retried: what counts as a retryable transport failure, and
/// whether its first try takes a rate-limiter token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// A GET (get or list).
    Get,
    /// Any write (create, update, patch, delete, and POSTs such as bindings or evictions).
    Write,
    /// A watch.
    Watch,
}

impl RequestKind {
    /// Whether the first try of such a request waits for a rate-limiter token (every request
    /// but a watch).
    pub const fn first_try_is_throttled(self) -> bool {
        !matches!(self, RequestKind::Watch)
    }

    fn retries_transport(self, failure: TransportFailure) -> bool {
        matches!(
            (self, failure),
            (
                RequestKind::Get | RequestKind::Watch,
                TransportFailure::Reset
            ) | (RequestKind::Watch, TransportFailure::Timeout)
        )
    }
}

/// The retry settings of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The most retries of one request (`Request.MaxRetries`; 0 never retries).
    pub max_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: DEFAULT_MAX_RETRIES,
        }
    }
}

impl RetryPolicy {
    /// The retry state of one new request of `kind`.
    pub const fn start(self, kind: RequestKind) -> RequestRetry {
        RequestRetry {
            kind,
            max_retries: self.max_retries,
            attempts: 0,
        }
    }
}

/// What to do after a failed try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Send it again: sleep until `at`, then take a rate-limiter token.
    Retry(Retry),
    /// Return the error to the caller.
    GiveUp(GiveUp),
}

/// A retry to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// When the sleep ends and the request asks the rate limiter for a token.
    pub at: SimTime,
    /// The `Retry-After` slept (zero for a negative header).
    pub wait: SimDuration,
    /// Which retry this is: 1 for the first.
    pub retry: u32,
    /// The status being retried (500 for a connection failure).
    pub status: u16,
}

/// Why a request ends with its error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GiveUp {
    /// The answer is not one client-go retries: a status other than 429 or 5xx, or one without
    /// a usable `Retry-After`, or a transport failure this kind of request does not repeat.
    #[error("not retryable: {answer:?}")]
    NotRetryable {
        /// The answer returned to the caller.
        answer: Answer,
    },
    /// Every allowed retry was spent; the last answer is returned.
    #[error("gave up after {retries} retries; last answer {answer:?}")]
    RetriesExhausted {
        /// Retries made.
        retries: u32,
        /// The last answer.
        answer: Answer,
    },
}

/// The retry state of one request (`withRetry`): how many failed tries it has had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestRetry {
    kind: RequestKind,
    max_retries: u32,
    /// Failed tries so far.
    attempts: u32,
}

impl RequestRetry {
    /// Failed tries so far (retries made, once the next one is sent).
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The request's kind.
    pub const fn kind(&self) -> RequestKind {
        self.kind
    }

    /// Judges a try that failed with `answer` at `now` (upstream `IsNextRetry`). A successful
    /// answer needs no judging: the caller is done.
    pub fn on_failure(&mut self, answer: Answer, now: SimTime) -> RetryDecision {
        // Upstream counts the attempt before anything else, so the eleventh failure is
        // refused on the count even when its answer would be retryable.
        self.attempts = self.attempts.saturating_add(1);
        if self.attempts > self.max_retries {
            return RetryDecision::GiveUp(GiveUp::RetriesExhausted {
                retries: self.max_retries,
                answer,
            });
        }
        let (code, retry_after) = match answer {
            Answer::Status {
                code,
                retry_after_seconds,
            } => (code, retry_after_seconds),
            Answer::Transport(failure) if self.kind.retries_transport(failure) => {
                (500, Some(SYNTHETIC_RETRY_AFTER_SECONDS))
            }
            Answer::Transport(_) => {
                return RetryDecision::GiveUp(GiveUp::NotRetryable { answer });
            }
        };
        let retryable_status = code == 429 || code >= 500;
        let Some(seconds) = retry_after.filter(|_| retryable_status) else {
            return RetryDecision::GiveUp(GiveUp::NotRetryable { answer });
        };
        // `time.Duration(seconds) * time.Second`; a negative sleep is no sleep.
        let wait = SimDuration::from_secs(u64::try_from(seconds).unwrap_or(0));
        RetryDecision::Retry(Retry {
            at: now + wait,
            wait,
            retry: self.attempts,
            status: code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::rate_limiter::ClientRateLimit;

    fn secs(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(n)
    }

    fn too_many(retry_after: i64) -> Answer {
        Answer::Status {
            code: 429,
            retry_after_seconds: Some(retry_after),
        }
    }

    fn retry(decision: RetryDecision) -> Retry {
        match decision {
            RetryDecision::Retry(r) => r,
            RetryDecision::GiveUp(g) => panic!("expected a retry, got {g}"),
        }
    }

    #[test]
    fn a_429_with_retry_after_3s_sleeps_3s_then_takes_a_token() {
        // A client at 1 QPS, burst 1. The first try takes the only token at 0 s and goes.
        let mut limiter = match ClientRateLimit::from_rest_config(1.0, 1) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        let mut req = RetryPolicy::default().start(RequestKind::Write);
        assert_eq!(limiter.reserve(SimTime::ZERO), SimTime::ZERO);
        // The 429 comes back at 1 s with Retry-After: 3. The retry sleeps 3 s, to 4 s …
        let r = retry(req.on_failure(too_many(3), secs(1)));
        assert_eq!(r.at, secs(4));
        assert_eq!(r.wait, SimDuration::from_secs(3));
        assert_eq!((r.retry, r.status), (1, 429));
        // … then asks the limiter again: by 4 s the bucket has refilled to its burst of 1, so
        // it goes at once and spends that token: a request of another worker at 4 s now waits
        // the full 1 s.
        assert_eq!(limiter.reserve(r.at), secs(4));
        assert_eq!(limiter.reserve(secs(4)), secs(5));
    }

    #[test]
    fn the_limiter_wait_adds_to_the_sleep() {
        // 1 QPS, burst 1, and another request already took the token at 3.5 s (0 left). The
        // retry's sleep ends at 4 s (Retry-After 3 from 1 s); 0.5 s has refilled 0.5 token, the
        // retry reserves one (−0.5 left) and waits 0.5 / 1 s: it goes at 4.5 s, not 4 s.
        let mut limiter = match ClientRateLimit::from_rest_config(1.0, 1) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        limiter.reserve(SimTime::ZERO);
        assert_eq!(
            limiter.reserve(SimTime::ZERO + SimDuration::from_millis(3500)),
            SimTime::ZERO + SimDuration::from_millis(3500)
        );
        let mut req = RetryPolicy::default().start(RequestKind::Get);
        let r = retry(req.on_failure(too_many(3), secs(1)));
        assert_eq!(
            limiter.reserve(r.at),
            SimTime::ZERO + SimDuration::from_millis(4500)
        );
    }

    #[test]
    fn ten_retries_then_the_error() {
        // Every try answers 503 with Retry-After 1: tries 1 to 10 fail and are retried
        // (attempts 1..=10 ≤ 10); the 11th failure makes attempts 11 > 10: given up, after
        // 11 sends in all.
        let mut req = RetryPolicy::default().start(RequestKind::Get);
        let unavailable = Answer::Status {
            code: 503,
            retry_after_seconds: Some(1),
        };
        let mut now = SimTime::ZERO;
        for n in 1..=10 {
            let r = retry(req.on_failure(unavailable, now));
            assert_eq!(r.retry, n);
            now = r.at;
        }
        // Ten one-second sleeps.
        assert_eq!(now, secs(10));
        assert_eq!(
            req.on_failure(unavailable, now),
            RetryDecision::GiveUp(GiveUp::RetriesExhausted {
                retries: 10,
                answer: unavailable
            })
        );
    }

    #[test]
    fn only_429_and_5xx_with_a_retry_after_are_retried() {
        let give_up = |code, retry_after_seconds| {
            let answer = Answer::Status {
                code,
                retry_after_seconds,
            };
            let mut req = RetryPolicy::default().start(RequestKind::Write);
            req.on_failure(answer, SimTime::ZERO)
                == RetryDecision::GiveUp(GiveUp::NotRetryable { answer })
        };
        // No header: not retried, whatever the status.
        assert!(give_up(429, None));
        assert!(give_up(500, None));
        // A header on a 4xx other than 429: not retried.
        assert!(give_up(409, Some(1)));
        assert!(give_up(404, Some(1)));
        // 504 (too large resource version) with its Retry-After: retried.
        assert!(!give_up(504, Some(1)));
        // Retry-After: 0 retries at once; a negative one too.
        let mut req = RetryPolicy::default().start(RequestKind::Write);
        assert_eq!(retry(req.on_failure(too_many(0), secs(2))).at, secs(2));
        assert_eq!(retry(req.on_failure(too_many(-5), secs(2))).at, secs(2));
    }

    #[test]
    fn connection_failures_retry_as_a_500_after_1s_where_upstream_does() {
        let reset = Answer::Transport(TransportFailure::Reset);
        let timeout = Answer::Transport(TransportFailure::Timeout);
        // A GET after a reset: 1 s later, counted as a 500.
        let mut get = RetryPolicy::default().start(RequestKind::Get);
        let r = retry(get.on_failure(reset, secs(3)));
        assert_eq!((r.at, r.status), (secs(4), 500));
        // A write is not repeated after a reset; a GET not after a timeout.
        let mut write = RetryPolicy::default().start(RequestKind::Write);
        assert!(matches!(
            write.on_failure(reset, secs(3)),
            RetryDecision::GiveUp(GiveUp::NotRetryable { .. })
        ));
        assert!(matches!(
            get.on_failure(timeout, secs(3)),
            RetryDecision::GiveUp(GiveUp::NotRetryable { .. })
        ));
        // A watch retries both.
        let mut watch = RetryPolicy::default().start(RequestKind::Watch);
        assert_eq!(retry(watch.on_failure(timeout, secs(3))).at, secs(4));
        assert_eq!(retry(watch.on_failure(reset, secs(4))).at, secs(5));
        assert!(!RequestKind::Watch.first_try_is_throttled());
        assert!(RequestKind::Get.first_try_is_throttled());
    }

    #[test]
    fn zero_max_retries_never_retries() {
        let mut req = RetryPolicy { max_retries: 0 }.start(RequestKind::Get);
        assert!(matches!(
            req.on_failure(too_many(1), SimTime::ZERO),
            RetryDecision::GiveUp(GiveUp::RetriesExhausted { retries: 0, .. })
        ));
    }
}
