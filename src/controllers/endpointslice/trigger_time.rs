//! The last-change trigger time of a Service's endpoints (upstream `TriggerTimeTracker`,
//! `staging/src/k8s.io/endpointslice/util/trigger_time_tracker.go`): when the earliest change
//! that the coming slice writes reflect happened. kube-proxy measures network programming
//! latency from it.
//!
//! A pod's change time is its `Ready` condition's last transition; the Service's is its
//! creation. Each sync compares them with what the previous sync of the Service saw: the
//! earliest that moved is the trigger time; none moved, none (the annotation goes). The first
//! sync of a Service answers its creation time. Like upstream, a pod that changed twice
//! between two syncs counts once, at its later change.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::ObjectKey;
use crate::api::pod::{POD_READY, Pod};
use crate::api::service::Service;
use crate::sim::SimTime;

/// What the last sync of a Service saw.
#[derive(Clone, Debug, Default)]
struct Seen {
    service: SimTime,
    pods: BTreeMap<String, SimTime>,
}

/// The change times every Service's last sync saw.
#[derive(Clone, Debug, Default)]
pub struct TriggerTimes {
    by_service: BTreeMap<ObjectKey, Seen>,
}

/// A pod's change time: its `Ready` condition's last transition, if it has one.
fn pod_change_time(pod: &Pod) -> Option<SimTime> {
    pod.status
        .condition(POD_READY)
        .map(|c| c.last_transition_time)
}

impl TriggerTimes {
    /// The trigger time of a sync of `service` (keyed `key`) over `pods`, remembering what it
    /// saw for the next sync.
    pub fn compute(
        &mut self,
        key: &ObjectKey,
        service: &Service,
        pods: &[Arc<Pod>],
    ) -> Option<SimTime> {
        let known = self.by_service.get(key);
        let mut earliest: Option<SimTime> = None;
        let mut seen = Seen {
            service: service.metadata.creation_timestamp,
            pods: BTreeMap::new(),
        };
        let mut moved = |t: SimTime| earliest = Some(earliest.map_or(t, |e| e.min(t)));
        for pod in pods {
            let Some(t) = pod_change_time(pod) else {
                continue;
            };
            let before = known.and_then(|k| k.pods.get(&pod.metadata.name));
            if before.is_none_or(|&b| t > b) {
                moved(t);
            }
            seen.pods.insert(pod.metadata.name.clone(), t);
        }
        if known.is_none_or(|k| seen.service > k.service) {
            moved(seen.service);
        }
        let first = known.is_none();
        self.by_service.insert(key.clone(), seen);
        if first {
            return Some(service.metadata.creation_timestamp);
        }
        earliest
    }

    /// Forgets a deleted Service.
    pub fn delete_service(&mut self, key: &ObjectKey) {
        self.by_service.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pod::PodCondition;
    use crate::sim::SimDuration;

    fn at(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    fn pod(name: &str, ready_changed: Option<u64>) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        if let Some(secs) = ready_changed {
            p.status.conditions.push(PodCondition {
                type_: POD_READY.into(),
                status: "True".into(),
                last_transition_time: at(secs),
                ..PodCondition::default()
            });
        }
        Arc::new(p)
    }

    #[test]
    fn the_earliest_change_since_the_last_sync_is_the_trigger() {
        let key = ObjectKey::new("default", "web");
        let mut service = Service::default();
        service.metadata.creation_timestamp = at(1);
        let mut times = TriggerTimes::default();
        // First sync: the Service's creation, whatever the pods say.
        let first = [pod("a", Some(5)), pod("b", None)];
        assert_eq!(times.compute(&key, &service, &first), Some(at(1)));
        // Nothing moved: no trigger time.
        assert_eq!(times.compute(&key, &service, &first), None);
        // a changed at 9, b got a Ready condition at 7: the earliest, 7.
        let second = [pod("a", Some(9)), pod("b", Some(7))];
        assert_eq!(times.compute(&key, &service, &second), Some(at(7)));
        // A new pod c (changed at 4, before the others): counts, it was not seen before.
        let third = [pod("a", Some(9)), pod("b", Some(7)), pod("c", Some(4))];
        assert_eq!(times.compute(&key, &service, &third), Some(at(4)));
        // Forgotten: the next sync is a first one again.
        times.delete_service(&key);
        assert_eq!(times.compute(&key, &service, &third), Some(at(1)));
    }
}
