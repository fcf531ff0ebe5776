//! client-go behaviour shared by every component: informers (list, then watch from the list's
//! resourceVersion, relist when the watch is gone), the events/v1 recorder, and the rate-limited
//! work queue controllers take their keys from.

pub mod backoff;
pub mod event_recorder;
pub mod informer;
pub mod informer_set;
pub mod leader_election;
pub mod lease_lock;
pub mod qps_defaults;
pub mod rate_limiter;
pub mod reflector;
pub mod retry;
pub mod workqueue;
