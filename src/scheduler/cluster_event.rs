//! Cluster events as kube-scheduler's queue sees them (`framework/types.go`,
//! `framework/events.go`): what changed (a resource and action bits), worked out from the old
//! and new object the informers deliver, at upstream's granularity.
//!
//! * A node update is split into the changes that can make a pod schedulable: allocatable,
//!   labels, taints (and a node becoming schedulable again, which upstream reports as a taint
//!   change), condition *statuses*, annotations. A status-only heartbeat (new heartbeat times,
//!   new images) is none of these and moves no pod.
//! * A pod update is split the same way: labels, a scale-down of its requests, added
//!   tolerations, its scheduling gates all removed; an update that changed none of these is
//!   a generic `Update`, heard only by plugins that registered every update. Pods are
//!   `AssignedPod` once bound and
//!   `UnscheduledPod` before; a plugin that registers for `Pod` hears both.
//!
//! Plugins register the events that may change their verdict
//! ([`crate::scheduler::framework::Plugin::events_to_register`]) and may add a queueing hint
//! that looks at the change itself.

use std::sync::Arc;

use crate::api::Object;
use crate::api::node::Node;
use crate::api::pod::Pod;
use crate::api::resources::{CPU, EPHEMERAL_STORAGE, MEMORY, MissingRequests, pod_requests};

/// What an event is about (upstream `EventResource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventResource {
    /// A node.
    Node,
    /// Any pod: what a plugin registers to hear both of the next two.
    Pod,
    /// A pod bound to a node (or assumed there).
    AssignedPod,
    /// A pod not yet bound.
    UnscheduledPod,
    /// Anything: forced moves (the 5-minute timeout, a forgotten assumption).
    WildCard,
}

impl EventResource {
    /// Whether a registration for `self` hears an event about `incoming`.
    fn hears(self, incoming: EventResource) -> bool {
        self == EventResource::WildCard
            || self == incoming
            || (self == EventResource::Pod
                && matches!(
                    incoming,
                    EventResource::AssignedPod | EventResource::UnscheduledPod
                ))
    }

    fn label(self) -> &'static str {
        match self {
            EventResource::Node => "Node",
            EventResource::Pod => "Pod",
            EventResource::AssignedPod => "AssignedPod",
            EventResource::UnscheduledPod => "UnscheduledPod",
            EventResource::WildCard => "WildCard",
        }
    }
}

/// What happened, as bits (upstream `ActionType`); a registration names several at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionType(u32);

impl ActionType {
    /// Nothing.
    pub const NONE: ActionType = ActionType(0);
    /// Created.
    pub const ADD: ActionType = ActionType(1);
    /// Deleted.
    pub const DELETE: ActionType = ActionType(1 << 1);
    /// A node's allocatable changed.
    pub const UPDATE_NODE_ALLOCATABLE: ActionType = ActionType(1 << 2);
    /// A node's labels changed.
    pub const UPDATE_NODE_LABEL: ActionType = ActionType(1 << 3);
    /// A node's taints changed, or it became schedulable again.
    pub const UPDATE_NODE_TAINT: ActionType = ActionType(1 << 4);
    /// A node condition's status changed (not its heartbeat time).
    pub const UPDATE_NODE_CONDITION: ActionType = ActionType(1 << 5);
    /// A node's annotations changed.
    pub const UPDATE_NODE_ANNOTATION: ActionType = ActionType(1 << 6);
    /// A pod's labels changed.
    pub const UPDATE_POD_LABEL: ActionType = ActionType(1 << 7);
    /// A pod's requests went down (in-place resize).
    pub const UPDATE_POD_SCALE_DOWN: ActionType = ActionType(1 << 8);
    /// A pod gained tolerations.
    pub const UPDATE_POD_TOLERATION: ActionType = ActionType(1 << 9);
    /// A pod's last scheduling gate was removed.
    pub const UPDATE_POD_SCHEDULING_GATES_ELIMINATED: ActionType = ActionType(1 << 10);
    /// Any update.
    pub const UPDATE: ActionType = ActionType(0b111_1111_1100);
    /// Anything.
    pub const ALL: ActionType = ActionType(0b111_1111_1111);

    /// Both sets of bits.
    pub const fn or(self, other: ActionType) -> ActionType {
        ActionType(self.0 | other.0)
    }

    /// Whether the two share a bit.
    pub const fn intersects(self, other: ActionType) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Each single bit set, lowest first.
    pub fn bits(self) -> impl Iterator<Item = ActionType> {
        (0..11)
            .map(|i| ActionType(1 << i))
            .filter(move |b| self.intersects(*b))
    }

    fn label(self) -> &'static str {
        match self {
            ActionType::ADD => "Add",
            ActionType::DELETE => "Delete",
            ActionType::UPDATE_NODE_ALLOCATABLE => "UpdateNodeAllocatable",
            ActionType::UPDATE_NODE_LABEL => "UpdateNodeLabel",
            ActionType::UPDATE_NODE_TAINT => "UpdateNodeTaint",
            ActionType::UPDATE_NODE_CONDITION => "UpdateNodeCondition",
            ActionType::UPDATE_NODE_ANNOTATION => "UpdateNodeAnnotation",
            ActionType::UPDATE_POD_LABEL => "UpdatePodLabel",
            ActionType::UPDATE_POD_SCALE_DOWN => "UpdatePodScaleDown",
            ActionType::UPDATE_POD_TOLERATION => "UpdatePodToleration",
            ActionType::UPDATE_POD_SCHEDULING_GATES_ELIMINATED => {
                "UpdatePodSchedulingGatesEliminated"
            }
            ActionType::UPDATE => "Update",
            ActionType::ALL => "All",
            _ => "Mixed",
        }
    }
}

/// A cluster event: a resource and what happened to it. Plugins register these; the
/// scheduler emits them with a single action bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterEvent {
    /// What it is about.
    pub resource: EventResource,
    /// What happened.
    pub action: ActionType,
}

impl ClusterEvent {
    /// A node was added.
    pub const NODE_ADD: ClusterEvent = ClusterEvent::new(EventResource::Node, ActionType::ADD);
    /// A pod was bound or assumed on a node.
    pub const ASSIGNED_POD_ADD: ClusterEvent =
        ClusterEvent::new(EventResource::AssignedPod, ActionType::ADD);
    /// A pod left a node: deleted, finished, or its assumption forgotten.
    pub const ASSIGNED_POD_DELETE: ClusterEvent =
        ClusterEvent::new(EventResource::AssignedPod, ActionType::DELETE);
    /// Pods that waited in the unschedulable pool longer than the limit
    /// (`UnschedulableTimeout`): every pod moves.
    pub const UNSCHEDULABLE_TIMEOUT: ClusterEvent =
        ClusterEvent::new(EventResource::WildCard, ActionType::ALL);

    /// The event of `resource` with `action`.
    pub const fn new(resource: EventResource, action: ActionType) -> ClusterEvent {
        ClusterEvent { resource, action }
    }

    /// Whether a plugin that registered `self` hears `incoming`.
    pub fn hears(&self, incoming: &ClusterEvent) -> bool {
        if self.resource == EventResource::WildCard || incoming.resource == EventResource::WildCard
        {
            return true;
        }
        // A generic `Update` (several bits) is heard only by registrations of at least that
        // much, as upstream compares the bits numerically.
        self.resource.hears(incoming.resource)
            && self.action.intersects(incoming.action)
            && incoming.action <= self.action
    }

    /// Upstream's label for the event (`NodeAdd`, `AssignedPodDelete`, `UnscheduledPodUpdate`…).
    pub fn label(&self) -> String {
        if *self == ClusterEvent::UNSCHEDULABLE_TIMEOUT {
            return "UnschedulableTimeout".to_string();
        }
        format!("{}{}", self.resource.label(), self.action.label())
    }
}

/// An event with the objects it is about, for queueing hints: `old` is absent on an add,
/// `new` on a delete.
#[derive(Clone, Debug)]
pub struct EventChange {
    /// The event.
    pub event: ClusterEvent,
    /// The object before.
    pub old: Option<Arc<Object>>,
    /// The object after.
    pub new: Option<Arc<Object>>,
}

impl EventChange {
    /// A change without objects (forced moves).
    pub fn bare(event: ClusterEvent) -> EventChange {
        EventChange {
            event,
            old: None,
            new: None,
        }
    }

    /// The node before, if the change is about a node.
    pub fn old_node(&self) -> Option<&Node> {
        match self.old.as_deref() {
            Some(Object::Node(n)) => Some(n),
            _ => None,
        }
    }

    /// The node after, if the change is about a node.
    pub fn new_node(&self) -> Option<&Node> {
        match self.new.as_deref() {
            Some(Object::Node(n)) => Some(n),
            _ => None,
        }
    }

    /// The pod before, if the change is about a pod.
    pub fn old_pod(&self) -> Option<&Pod> {
        match self.old.as_deref() {
            Some(Object::Pod(p)) => Some(p),
            _ => None,
        }
    }

    /// The pod after, if the change is about a pod.
    pub fn new_pod(&self) -> Option<&Pod> {
        match self.new.as_deref() {
            Some(Object::Pod(p)) => Some(p),
            _ => None,
        }
    }
}

/// The scheduling-relevant changes of a node update (upstream
/// `NodeSchedulingPropertiesChange`), one action bit each, in upstream's order.
pub fn node_changes(old: &Node, new: &Node) -> ActionType {
    let mut changes = ActionType::NONE;
    // Becoming unschedulable cannot help a pod; becoming schedulable again is reported as a
    // taint change, as upstream does.
    if old.spec.unschedulable && !new.spec.unschedulable {
        changes = changes.or(ActionType::UPDATE_NODE_TAINT);
    }
    if old.status.effective_allocatable() != new.status.effective_allocatable() {
        changes = changes.or(ActionType::UPDATE_NODE_ALLOCATABLE);
    }
    if old.metadata.labels != new.metadata.labels {
        changes = changes.or(ActionType::UPDATE_NODE_LABEL);
    }
    if old.spec.taints != new.spec.taints {
        changes = changes.or(ActionType::UPDATE_NODE_TAINT);
    }
    if condition_statuses(old) != condition_statuses(new) {
        changes = changes.or(ActionType::UPDATE_NODE_CONDITION);
    }
    if old.metadata.annotations != new.metadata.annotations {
        changes = changes.or(ActionType::UPDATE_NODE_ANNOTATION);
    }
    changes
}

/// Each condition type with its status, in type order: what a condition change compares
/// (heartbeat and transition times, reasons and messages do not count).
fn condition_statuses(node: &Node) -> Vec<(&str, &str)> {
    let mut statuses: Vec<(&str, &str)> = node
        .status
        .conditions
        .iter()
        .map(|c| (c.type_.as_str(), c.status.as_str()))
        .collect();
    statuses.sort_unstable();
    statuses.dedup_by(|a, b| a.0 == b.0);
    statuses
}

/// The actions of a pod update (upstream `PodSchedulingPropertiesChange`): one per changed
/// property kubesim models, or the generic `Update` when none of them changed.
pub fn pod_update_actions(old: &Pod, new: &Pod) -> Vec<ActionType> {
    let changes = pod_changes(old, new);
    if changes.is_empty() {
        vec![ActionType::UPDATE]
    } else {
        changes.bits().collect()
    }
}

/// The scheduling-relevant properties that changed between two versions of a pod.
fn pod_changes(old: &Pod, new: &Pod) -> ActionType {
    let mut changes = ActionType::NONE;
    if old.metadata.labels != new.metadata.labels {
        changes = changes.or(ActionType::UPDATE_POD_LABEL);
    }
    if requests_went_down(old, new) {
        changes = changes.or(ActionType::UPDATE_POD_SCALE_DOWN);
    }
    // Tolerations can only be added to a pod, so a change shows in their number.
    if old.spec.tolerations.len() != new.spec.tolerations.len() {
        changes = changes.or(ActionType::UPDATE_POD_TOLERATION);
    }
    if !old.spec.scheduling_gates.is_empty() && new.spec.scheduling_gates.is_empty() {
        changes = changes.or(ActionType::UPDATE_POD_SCHEDULING_GATES_ELIMINATED);
    }
    changes
}

/// Whether some resource the old pod requested is requested less now.
fn requests_went_down(old: &Pod, new: &Pod) -> bool {
    let before = pod_requests(&old.spec, MissingRequests::AsZero);
    let after = pod_requests(&new.spec, MissingRequests::AsZero);
    let scalars = before.scalar.keys().map(String::as_str);
    [CPU, MEMORY, EPHEMERAL_STORAGE]
        .into_iter()
        .chain(scalars)
        .any(|name| after.get(name) < before.get(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::node::NodeCondition;
    use crate::api::taints::{Taint, TaintEffect};
    use crate::sim::SimTime;

    fn node() -> Node {
        let mut n = Node::default();
        n.metadata.name = "n1".into();
        n.status.conditions = vec![NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "KubeletReady".into(),
            message: String::new(),
            last_heartbeat_time: SimTime::from_nanos(1),
            last_transition_time: SimTime::ZERO,
        }];
        n
    }

    #[test]
    fn a_heartbeat_changes_nothing_the_scheduler_cares_about() {
        let old = node();
        let mut new = old.clone();
        new.status.conditions[0].last_heartbeat_time = SimTime::from_nanos(10_000_000_000);
        new.status.images.push(Default::default());
        assert!(node_changes(&old, &new).is_empty());
        // Ready turning False is a condition change.
        new.status.conditions[0].status = "False".into();
        assert_eq!(node_changes(&old, &new), ActionType::UPDATE_NODE_CONDITION);
    }

    #[test]
    fn uncordoning_is_a_taint_change_and_cordoning_is_none() {
        let mut cordoned = node();
        cordoned.spec.unschedulable = true;
        assert_eq!(
            node_changes(&cordoned, &node()),
            ActionType::UPDATE_NODE_TAINT
        );
        assert!(node_changes(&node(), &cordoned).is_empty());
    }

    #[test]
    fn several_changes_give_several_bits() {
        let old = node();
        let mut new = old.clone();
        new.metadata.labels.insert("tier".into(), "a".into());
        new.spec.taints.push(Taint {
            key: "dedicated".into(),
            value: String::new(),
            effect: TaintEffect::NoSchedule,
            time_added: None,
        });
        let bits: Vec<ActionType> = node_changes(&old, &new).bits().collect();
        assert_eq!(
            bits,
            vec![ActionType::UPDATE_NODE_LABEL, ActionType::UPDATE_NODE_TAINT]
        );
    }

    #[test]
    fn registrations_hear_matching_events_only() {
        let fit_node = ClusterEvent::new(
            EventResource::Node,
            ActionType::ADD.or(ActionType::UPDATE_NODE_ALLOCATABLE),
        );
        assert!(fit_node.hears(&ClusterEvent::NODE_ADD));
        let label = ClusterEvent::new(EventResource::Node, ActionType::UPDATE_NODE_LABEL);
        assert!(!fit_node.hears(&label));
        // `Pod` hears assigned and unscheduled pods; `AssignedPod` only the former.
        let any_pod = ClusterEvent::new(EventResource::Pod, ActionType::DELETE);
        assert!(any_pod.hears(&ClusterEvent::ASSIGNED_POD_DELETE));
        let unscheduled_delete =
            ClusterEvent::new(EventResource::UnscheduledPod, ActionType::DELETE);
        assert!(any_pod.hears(&unscheduled_delete));
        let assigned = ClusterEvent::new(EventResource::AssignedPod, ActionType::DELETE);
        assert!(!assigned.hears(&unscheduled_delete));
        // The timeout moves everyone.
        assert!(label.hears(&ClusterEvent::UNSCHEDULABLE_TIMEOUT));
        // A generic pod update is heard by `Update` or `All` registrations, not by one bit.
        let generic = ClusterEvent::new(EventResource::UnscheduledPod, ActionType::UPDATE);
        let label_only = ClusterEvent::new(EventResource::Pod, ActionType::UPDATE_POD_LABEL);
        assert!(!label_only.hears(&generic));
        assert!(ClusterEvent::new(EventResource::Pod, ActionType::ALL).hears(&generic));
        assert_eq!(label.label(), "NodeUpdateNodeLabel");
        assert_eq!(
            ClusterEvent::ASSIGNED_POD_DELETE.label(),
            "AssignedPodDelete"
        );
    }
}
