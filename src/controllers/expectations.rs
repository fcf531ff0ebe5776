//! What a controller expects its own writes to bring back through its informers, so it does
//! not act twice on a cache that has not caught up: upstream's `ControllerExpectations` with
//! the deletions tracked by pod (`UIDTrackingControllerExpectations`,
//! `pkg/controller/controller_utils.go`).
//!
//! Before creating `n` pods a ReplicaSet expects `n` creations; before deleting pods it
//! expects those pods' deletions. Each creation and each deletion of an expected pod its
//! informer sees lowers the count. It syncs again (creates or deletes more) only once the
//! counts are down to zero, or once they are more than 5 minutes old: a write whose event
//! never came must not freeze the controller for ever.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::ObjectKey;
use crate::sim::{SimDuration, SimTime};

/// How long expectations hold before the controller syncs anyway (`ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT: SimDuration = SimDuration::from_secs(5 * 60);

/// One controller's outstanding expectations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Expected {
    /// Creations still to be seen.
    add: i64,
    /// Deletions still to be seen.
    del: i64,
    /// When they were set.
    since: SimTime,
    /// The pods whose deletion is expected.
    deleting: BTreeSet<ObjectKey>,
}

/// Every controller's expectations, by controller key.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    by_controller: BTreeMap<ObjectKey, Expected>,
}

impl Expectations {
    /// Whether controller `key` may act at `now`: it expects nothing (none set, or all
    /// seen), or what it expects was set more than [`EXPECTATIONS_TIMEOUT`] ago.
    pub fn satisfied(&self, key: &ObjectKey, now: SimTime) -> bool {
        self.by_controller.get(key).is_none_or(|e| {
            (e.add <= 0 && e.del <= 0) || now.saturating_since(e.since) > EXPECTATIONS_TIMEOUT
        })
    }

    /// Controller `key` is about to create `count` pods (replacing what it expected).
    pub fn expect_creations(&mut self, key: &ObjectKey, count: usize, now: SimTime) {
        let expected = Expected {
            add: count as i64,
            since: now,
            ..Expected::default()
        };
        self.by_controller.insert(key.clone(), expected);
    }

    /// Controller `key` is about to delete `pods` (replacing what it expected).
    pub fn expect_deletions(&mut self, key: &ObjectKey, pods: &[ObjectKey], now: SimTime) {
        let deleting: BTreeSet<ObjectKey> = pods.iter().cloned().collect();
        let expected = Expected {
            del: deleting.len() as i64,
            since: now,
            deleting,
            ..Expected::default()
        };
        self.by_controller.insert(key.clone(), expected);
    }

    /// The informer saw one of controller `key`'s pods created.
    pub fn creation_observed(&mut self, key: &ObjectKey) {
        self.lower(key, 1);
    }

    /// Creations controller `key` expected but will not see (they failed, or were never sent).
    pub fn lower(&mut self, key: &ObjectKey, creations: usize) {
        if let Some(e) = self.by_controller.get_mut(key) {
            e.add -= creations as i64;
        }
    }

    /// The informer saw `pod` deleted (or being deleted), or its deletion failed: counted if
    /// controller `key` expected it, once.
    pub fn deletion_observed(&mut self, key: &ObjectKey, pod: &ObjectKey) {
        if let Some(e) = self.by_controller.get_mut(key)
            && e.deleting.remove(pod)
        {
            e.del -= 1;
        }
    }

    /// Forgets controller `key`'s expectations (it was deleted).
    pub fn forget(&mut self, key: &ObjectKey) {
        self.by_controller.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs() -> ObjectKey {
        ObjectKey::new("shop", "web-5d8f")
    }

    fn pod(name: &str) -> ObjectKey {
        ObjectKey::new("shop", name)
    }

    fn at(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    #[test]
    fn a_controller_acts_again_once_it_has_seen_its_creations() {
        let mut e = Expectations::default();
        // Nothing expected yet: a new controller syncs.
        assert!(e.satisfied(&rs(), at(0)));
        e.expect_creations(&rs(), 3, at(0));
        assert!(!e.satisfied(&rs(), at(1)));
        e.creation_observed(&rs());
        e.creation_observed(&rs());
        assert!(!e.satisfied(&rs(), at(1)));
        e.creation_observed(&rs());
        assert!(e.satisfied(&rs(), at(1)));
        // Four expected, two failed to be created: two left to see.
        e.expect_creations(&rs(), 4, at(2));
        e.lower(&rs(), 2);
        e.creation_observed(&rs());
        assert!(!e.satisfied(&rs(), at(2)));
        e.creation_observed(&rs());
        assert!(e.satisfied(&rs(), at(2)));
    }

    #[test]
    fn deletions_count_once_and_only_for_the_pods_expected() {
        let mut e = Expectations::default();
        e.expect_deletions(&rs(), &[pod("a"), pod("b")], at(0));
        // Another pod's deletion, and the same pod seen twice (deleting, then deleted),
        // count nothing beyond the first.
        e.deletion_observed(&rs(), &pod("c"));
        e.deletion_observed(&rs(), &pod("a"));
        e.deletion_observed(&rs(), &pod("a"));
        assert!(!e.satisfied(&rs(), at(1)));
        e.deletion_observed(&rs(), &pod("b"));
        assert!(e.satisfied(&rs(), at(1)));
    }

    #[test]
    fn expectations_older_than_5_minutes_no_longer_hold_the_controller() {
        let mut e = Expectations::default();
        e.expect_creations(&rs(), 1, at(10));
        // Exactly 5 minutes later they still hold (upstream: expired when the age is more
        // than the timeout); a nanosecond later they do not.
        assert!(!e.satisfied(&rs(), at(310)));
        let just_after = at(310) + SimDuration::from_nanos(1);
        assert!(e.satisfied(&rs(), just_after));
        // Forgotten (the ReplicaSet is gone): nothing holds.
        e.expect_creations(&rs(), 1, at(400));
        e.forget(&rs());
        assert!(e.satisfied(&rs(), at(400)));
    }
}
