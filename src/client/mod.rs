//! client-go behaviour shared by every component: informers (list, then watch from the list's
//! resourceVersion, relist when the watch is gone) and the events/v1 recorder.

pub mod event_recorder;
pub mod informer;
