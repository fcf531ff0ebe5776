//! client-go behaviour shared by every component: informers (list, then watch from the list's
//! resourceVersion, relist when the watch is gone).

pub mod informer;
