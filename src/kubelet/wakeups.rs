//! The kubelets' timers. A timer's code is a slot in this table, which says which node and
//! what is due; a slot is freed when its timer fires and reused by the next timer, so the table
//! holds only the timers pending, however long the run.
//!
//! Most wakeups concern one pod's container, step or probe; each carries the epoch of what it
//! concerns, and finds it moved on (a restart, a kill, a deletion) when the epoch no longer
//! matches: a stale wakeup does nothing, so nothing needs cancelling.

use crate::api::Uid;

/// What is due for a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodWake {
    /// The sandbox is up.
    SandboxReady,
    /// Container `index` (init containers first) has been created and started.
    ContainerStarted(usize),
    /// The PLEG's relist sees container `index` as it now is.
    Relist(usize),
    /// Container `index` exits by itself.
    ContainerExits(usize),
    /// Container `index`'s restart back-off is over.
    BackOffOver(usize),
    /// A probe of container `index` is due (`kind` 0 readiness, 1 liveness, 2 startup).
    Probe(usize, u8),
    /// A killed container `index` has stopped.
    ContainerStopped(usize),
}

/// What a kubelet timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The kubelet starts (its node has been applied).
    Start,
    /// Compute the node status, and write it if due.
    NodeStatus,
    /// Renew the node's lease.
    Lease,
    /// The status manager's reconcile (`syncBatch`).
    SyncBatch,
    /// An image pull has finished.
    ImagePulled(u32),
    /// Something of pod `uid`, valid while its `epoch` is current.
    Pod {
        /// The pod.
        uid: Uid,
        /// The epoch of the container, step or probe concerned.
        epoch: u32,
        /// What.
        what: PodWake,
    },
}

/// A pending timer: the node, the incarnation of its kubelet that set it (a kubelet started
/// again after a crash ignores its predecessor's timers), and what is due.
pub type Slot = (u32, u32, Wake);

/// The pending kubelet timers, by timer code.
#[derive(Debug, Default)]
pub struct Wakeups {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
}

impl Wakeups {
    /// Keeps `wake` of node `node`'s kubelet `incarnation`; returns the timer code.
    pub fn insert(&mut self, node: u32, incarnation: u32, wake: Wake) -> u32 {
        let slot = Some((node, incarnation, wake));
        match self.free.pop() {
            Some(code) => {
                self.slots[code as usize] = slot;
                code
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// The node, incarnation and wake of timer `code`, freeing its slot.
    pub fn take(&mut self, code: u32) -> Option<Slot> {
        let taken = self.slots.get_mut(code as usize)?.take();
        if taken.is_some() {
            self.free.push(code);
        }
        taken
    }

    /// How many timers are pending.
    pub fn pending(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_once_fired() {
        let mut w = Wakeups::default();
        let a = w.insert(0, 0, Wake::Start);
        let b = w.insert(1, 0, Wake::Lease);
        assert_ne!(a, b);
        assert_eq!(w.take(a), Some((0, 0, Wake::Start)));
        assert_eq!(w.take(a), None);
        // The freed slot serves the next timer.
        assert_eq!(w.insert(2, 1, Wake::NodeStatus), a);
        assert_eq!(w.pending(), 2);
    }
}
