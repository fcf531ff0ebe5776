//! A sync as a worker of the real controller runs it: straight through, blocked on each API
//! call until it is answered. kubesim cannot block, so a sync is *replayed*: it is a
//! deterministic function of the snapshot it started from and of the answers it has had so
//! far. Each time an answer arrives, the sync runs again from the top; calls already answered
//! return their recorded answers at once, and the first unanswered call suspends the run and
//! is sent. When a run reaches the end, the sync is over and the worker is free.
//!
//! So a sync reads like upstream's Go (each `?` is an `if err != nil { return err }`, and a
//! suspension travels up the same way), takes the virtual time its requests take, and sees the
//! clock move between calls as a blocked worker would: [`Calls::now`] is the time the last
//! answer arrived. Syncs make a handful of calls, so replaying from the top costs little.

use std::sync::Arc;

use crate::api::Object;
use crate::apiserver::{ApiError, Request, Response, ResponseBody};
use crate::sim::{SimDuration, SimTime};

/// Why a step of a sync did not return a value.
#[derive(Clone, Debug, PartialEq)]
pub enum Flow {
    /// The step waits for the answer to a request: the run stops here for now.
    Suspend,
    /// The apiserver refused a request.
    Api(ApiError),
    /// The controller gave up on its own (an unparsable value, a missing object).
    Failed(String),
}

impl From<ApiError> for Flow {
    fn from(e: ApiError) -> Self {
        Flow::Api(e)
    }
}

impl std::fmt::Display for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flow::Suspend => f.write_str("waiting for the apiserver"),
            Flow::Api(e) => write!(f, "{e}"),
            Flow::Failed(m) => f.write_str(m),
        }
    }
}

/// The outcome of one step of a sync.
pub type Step<T> = Result<T, Flow>;

/// An error that upstream logs and carries on after: `None` for an error, the value otherwise;
/// a suspension still suspends.
pub fn ignore_error<T>(step: Step<T>) -> Step<Option<T>> {
    match step {
        Ok(v) => Ok(Some(v)),
        Err(Flow::Suspend) => Err(Flow::Suspend),
        Err(_) => Ok(None),
    }
}

/// One answered call.
#[derive(Clone, Debug)]
pub struct Reply {
    /// What the apiserver answered.
    pub response: Response,
    /// When the answer arrived.
    pub at: SimTime,
    /// The controller's cached copy of the object the call named, read when the answer
    /// arrived (a failed create looks at its cache to tell its own object from a collision).
    pub cached: Option<Arc<Object>>,
}

/// What a sync asks of the work queue besides its result, applied once the sync is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Sync the Deployment again after this long (`enqueueAfter`).
    EnqueueAfter(SimDuration),
    /// Sync it again, rate-limited (`enqueueRateLimited`).
    EnqueueRateLimited,
}

/// The calls of one run of a sync: the answers recorded so far, and the next request to send.
#[derive(Debug)]
pub struct Calls<'a> {
    replies: &'a [Reply],
    next: usize,
    start: SimTime,
    pending: Option<Request>,
    effects: Vec<Effect>,
}

impl<'a> Calls<'a> {
    /// A run of a sync that started at `start` and has had `replies`.
    pub fn new(start: SimTime, replies: &'a [Reply]) -> Self {
        Calls {
            replies,
            next: 0,
            start,
            pending: None,
            effects: Vec::new(),
        }
    }

    /// The time as the blocked worker sees it here: when the last answer came, or the start.
    pub fn now(&self) -> SimTime {
        match self.next.checked_sub(1) {
            Some(i) => self.replies.get(i).map_or(self.start, |r| r.at),
            None => self.start,
        }
    }

    /// Makes `request`: its recorded answer if it has one, else the run suspends here.
    pub fn call(&mut self, request: Request) -> Step<ResponseBody> {
        let Some(reply) = self.replies.get(self.next) else {
            self.pending = Some(request);
            return Err(Flow::Suspend);
        };
        self.next += 1;
        reply.response.clone().map_err(Flow::Api)
    }

    /// The cached object recorded with the last answer.
    pub fn cached_at_last_reply(&self) -> Option<Arc<Object>> {
        let i = self.next.checked_sub(1)?;
        self.replies.get(i)?.cached.clone()
    }

    /// Asks the queue for `effect` once the sync is over.
    pub fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// The request the run suspended on.
    pub fn take_pending(&mut self) -> Option<Request> {
        self.pending.take()
    }

    /// The effects asked for.
    pub fn into_effects(self) -> Vec<Effect> {
        self.effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Kind, ObjectKey};
    use crate::apiserver::{ClientId, UserInfo};

    fn get(name: &str) -> Request {
        let user = UserInfo::new("test", &[]);
        Request::get(
            ClientId(3),
            user,
            Kind::Deployment,
            &ObjectKey::new("ns", name),
        )
    }

    /// A sync of two calls that returns how many succeeded, reading the clock before each.
    fn two_calls(calls: &mut Calls<'_>) -> Step<(u32, Vec<SimTime>)> {
        let mut ok = 0;
        let mut times = vec![calls.now()];
        if ignore_error(calls.call(get("a")))?.is_some() {
            ok += 1;
        }
        times.push(calls.now());
        calls.call(get("b"))?;
        Ok((ok + 1, times))
    }

    #[test]
    fn a_run_suspends_at_the_first_unanswered_call_and_replays_the_answered_ones() {
        let at = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let mut calls = Calls::new(at(1), &[]);
        assert_eq!(two_calls(&mut calls), Err(Flow::Suspend));
        assert_eq!(calls.take_pending(), Some(get("a")));
        // The first call failed (swallowed, as upstream logs and goes on); the run goes on to
        // the second call, seeing the clock at the failure's arrival.
        let not_found = ApiError::NotFound {
            kind: Kind::Deployment,
            key: ObjectKey::new("ns", "a"),
        };
        let replies = vec![Reply {
            response: Err(not_found),
            at: at(2),
            cached: None,
        }];
        let mut calls = Calls::new(at(1), &replies);
        assert_eq!(two_calls(&mut calls), Err(Flow::Suspend));
        assert_eq!(calls.take_pending(), Some(get("b")));
        let mut replies = replies;
        replies.push(Reply {
            response: Ok(ResponseBody::Deleted),
            at: at(3),
            cached: None,
        });
        let mut calls = Calls::new(at(1), &replies);
        assert_eq!(two_calls(&mut calls), Ok((1, vec![at(1), at(2)])));
        assert_eq!(calls.now(), at(3));
        assert_eq!(calls.take_pending(), None);
    }
}
