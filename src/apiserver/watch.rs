//! Open watches: what each selects, and which event (if any) a committed change means to it.
//!
//! A watch with a selector sees an object enter its selection as ADDED and leave it as DELETED,
//! as the apiserver's watch cache reports it; changes outside its selection are not sent at all.
//!
//! Finding the watches a change concerns does not test every watch of the kind: as the
//! apiserver's watch cache does, watches are indexed by what pins their selection — a pod
//! watch with `spec.nodeName=<node>` (a kubelet's) by that node, any other watch of one
//! namespace by the namespace, a node watch with `metadata.name=<node>` (a kubelet's) by that
//! name (upstream's `NodeNameTriggerFunc`) — so a pod write is tested against the watches of
//! its node and namespace and the cluster-wide ones only, and a node write against its own
//! kubelet's watch and the cluster-wide ones, however many nodes the cluster has.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::request::{ClientId, ListOptions, WatchId};
use super::store::{Change, ChangeType};
use crate::api::labels::FieldSelector;
use crate::api::{Kind, Object, ResourceVersion};
use crate::sim::SimDuration;

/// One event delivered on a watch.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    /// ADDED, MODIFIED or DELETED, from this watch's point of view.
    pub change: ChangeType,
    /// The object after the change.
    pub object: Arc<Object>,
    /// The version of the change.
    pub resource_version: ResourceVersion,
}

/// An open watch.
#[derive(Clone, Debug)]
pub struct Watch {
    /// The watching client.
    pub client: ClientId,
    /// The apiserver replica serving it: its stream is on the client's connection to that
    /// replica and ends when the replica goes down.
    pub replica: u32,
    /// Kind watched.
    pub kind: Kind,
    /// Namespace watched (empty = all).
    pub namespace: String,
    /// Selection.
    pub options: ListOptions,
    /// How long after a commit the client sees it.
    pub delay: SimDuration,
}

impl Watch {
    /// Whether `object` is in this watch's selection.
    pub fn selects(&self, object: &Object) -> bool {
        if object.kind() != self.kind {
            return false;
        }
        if !self.namespace.is_empty() && object.meta().namespace != self.namespace {
            return false;
        }
        if let Some(sel) = &self.options.label_selector
            && !sel.matches(&object.meta().labels)
        {
            return false;
        }
        if let Some(fields) = &self.options.field_selector {
            if !self.pinned_field_matches(fields, object) {
                return false;
            }
            if !fields.matches(|path| object.field(path)) {
                return false;
            }
        }
        true
    }

    /// Whether `object` has the value a kubelet's watch pins (`spec.nodeName` of a pod,
    /// `metadata.name` of a node), compared in place: most objects a kubelet's watch is
    /// tested against (a watch's backlog, a list) fail here without a string being built.
    fn pinned_field_matches(&self, fields: &FieldSelector, object: &Object) -> bool {
        match object {
            Object::Pod(pod) => fields
                .requires_exact_match(NODE_NAME_FIELD)
                .is_none_or(|node| pod.spec.node_name == node),
            Object::Node(node) => fields
                .requires_exact_match(NAME_FIELD)
                .is_none_or(|name| node.metadata.name == name),
            _ => true,
        }
    }

    /// A cheap test of whether a change may concern this watch at all (its kind, and the
    /// node or name it is pinned to), worked out once for the watch: replaying a backlog tests
    /// every change since the watch's version, most of them not its own.
    pub fn may_concern(&self) -> impl Fn(&Change) -> bool + '_ {
        let key = IndexKey::of(self);
        move |change: &Change| {
            if change.object.kind() != self.kind {
                return false;
            }
            let objects = || std::iter::once(&*change.object).chain(change.previous.as_deref());
            match &key {
                IndexKey::NodeName(node) => objects().any(|o| node_of(o) == Some(node.as_str())),
                IndexKey::Name(name) => change.object.meta().name == *name,
                IndexKey::Namespace(_) | IndexKey::All => true,
            }
        }
    }

    /// The event `change` means to this watch, if any.
    pub fn event_for(&self, change: &Change) -> Option<WatchEvent> {
        let now_in = self.selects(&change.object);
        let was_in = change
            .previous
            .as_ref()
            .is_some_and(|prev| self.selects(prev));
        let seen = match change.change {
            ChangeType::Added => now_in.then_some(ChangeType::Added),
            ChangeType::Deleted => was_in.then_some(ChangeType::Deleted),
            ChangeType::Modified => match (was_in, now_in) {
                (true, true) => Some(ChangeType::Modified),
                (false, true) => Some(ChangeType::Added),
                (true, false) => Some(ChangeType::Deleted),
                (false, false) => None,
            },
            // Never committed: the hub makes bookmarks, not the store.
            ChangeType::Bookmark => None,
        }?;
        Some(WatchEvent {
            change: seen,
            object: Arc::clone(&change.object),
            resource_version: change.resource_version,
        })
    }
}

/// Where a watch is indexed among the watches of its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
enum IndexKey {
    /// A pod watch pinned to one `spec.nodeName` (`""`: unbound pods).
    NodeName(String),
    /// A node watch pinned to one `metadata.name`.
    Name(String),
    /// A watch of one namespace.
    Namespace(String),
    /// Every other watch: tested on every change of its kind.
    All,
}

impl IndexKey {
    fn of(watch: &Watch) -> IndexKey {
        let node_name = watch
            .options
            .field_selector
            .as_ref()
            .and_then(|f| f.requires_exact_match(NODE_NAME_FIELD));
        let name = watch
            .options
            .field_selector
            .as_ref()
            .and_then(|f| f.requires_exact_match(NAME_FIELD));
        match (node_name, name) {
            (Some(node), _) if watch.kind == Kind::Pod => IndexKey::NodeName(node.to_string()),
            (_, Some(name)) if watch.kind == Kind::Node => IndexKey::Name(name.to_string()),
            _ if !watch.namespace.is_empty() => IndexKey::Namespace(watch.namespace.clone()),
            _ => IndexKey::All,
        }
    }
}

impl Watch {
    /// The name the watch pins, if the store indexes its history by it: the node of a pod
    /// watch on `spec.nodeName`, the name of a node watch on `metadata.name`.
    pub fn pinned_name(&self) -> Option<String> {
        match IndexKey::of(self) {
            IndexKey::NodeName(name) | IndexKey::Name(name) => Some(name),
            IndexKey::Namespace(_) | IndexKey::All => None,
        }
    }
}

/// The node a pod is bound to (`""` unbound); `None` for other kinds.
fn node_of(object: &Object) -> Option<&str> {
    object.as_pod().map(|p| p.spec.node_name.as_str())
}

/// The field a kubelet's pod watch pins.
const NODE_NAME_FIELD: &str = "spec.nodeName";
/// The field a kubelet's node watch pins.
const NAME_FIELD: &str = "metadata.name";

/// The open watches of one kind, indexed (ids in opening order in every list).
#[derive(Debug, Default)]
struct KindWatches {
    all: Vec<WatchId>,
    by_namespace: BTreeMap<String, Vec<WatchId>>,
    by_node_name: BTreeMap<String, Vec<WatchId>>,
    by_name: BTreeMap<String, Vec<WatchId>>,
}

impl KindWatches {
    fn list(&mut self, key: IndexKey) -> &mut Vec<WatchId> {
        match key {
            IndexKey::NodeName(node) => self.by_node_name.entry(node).or_default(),
            IndexKey::Name(name) => self.by_name.entry(name).or_default(),
            IndexKey::Namespace(ns) => self.by_namespace.entry(ns).or_default(),
            IndexKey::All => &mut self.all,
        }
    }

    fn remove(&mut self, key: IndexKey, id: WatchId) {
        let emptied = {
            let list = self.list(key.clone());
            list.retain(|&other| other != id);
            list.is_empty()
        };
        if emptied {
            match key {
                IndexKey::NodeName(node) => {
                    self.by_node_name.remove(&node);
                }
                IndexKey::Name(name) => {
                    self.by_name.remove(&name);
                }
                IndexKey::Namespace(ns) => {
                    self.by_namespace.remove(&ns);
                }
                IndexKey::All => {}
            }
        }
    }

    fn len(&self) -> usize {
        self.all.len()
            + self.by_namespace.values().map(Vec::len).sum::<usize>()
            + self.by_node_name.values().map(Vec::len).sum::<usize>()
            + self.by_name.values().map(Vec::len).sum::<usize>()
    }
}

/// Every watch ever opened in a run, by id; closed ones are `None`.
#[derive(Debug, Default)]
pub struct WatchRegistry {
    watches: Vec<Option<Watch>>,
    by_kind: [KindWatches; Kind::ALL.len()],
}

impl WatchRegistry {
    /// Registers a watch and returns its id.
    pub fn open(&mut self, watch: Watch) -> WatchId {
        let id = WatchId(self.watches.len() as u32);
        self.by_kind[watch.kind.index()]
            .list(IndexKey::of(&watch))
            .push(id);
        self.watches.push(Some(watch));
        id
    }

    /// Closes a watch; later deliveries to it are dropped.
    pub fn close(&mut self, id: WatchId) {
        if let Some(slot) = self.watches.get_mut(id.0 as usize)
            && let Some(w) = slot.take()
        {
            self.by_kind[w.kind.index()].remove(IndexKey::of(&w), id);
        }
    }

    /// The watches `change` may concern, in opening order: the cluster-wide ones of its kind,
    /// those of its namespace, and for a pod those pinned to its node before or after the
    /// change. Each still decides with [`Watch::event_for`].
    pub fn concerned_by(&self, change: &Change) -> impl Iterator<Item = (WatchId, &Watch)> {
        let object = &change.object;
        let watches = &self.by_kind[object.kind().index()];
        let mut ids: Vec<WatchId> = watches.all.clone();
        if let Some(list) = watches.by_namespace.get(&object.meta().namespace) {
            ids.extend(list);
        }
        if !watches.by_node_name.is_empty() {
            let now = node_of(object);
            let before = change.previous.as_deref().and_then(node_of);
            for node in [now, before.filter(|b| Some(*b) != now)]
                .into_iter()
                .flatten()
            {
                if let Some(list) = watches.by_node_name.get(node) {
                    ids.extend(list);
                }
            }
        }
        if let Some(list) = watches.by_name.get(&object.meta().name) {
            ids.extend(list);
        }
        ids.sort_unstable();
        ids.into_iter()
            .filter_map(|id| self.get(id).map(|w| (id, w)))
    }

    /// The open watch `id`.
    pub fn get(&self, id: WatchId) -> Option<&Watch> {
        self.watches.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// The open watches, in opening order (who watches what: per-client watch counts).
    pub fn open_watches(&self) -> impl Iterator<Item = (WatchId, &Watch)> {
        self.watches
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.as_ref().map(|w| (WatchId(i as u32), w)))
    }

    /// How many open watches of `kind` a write of the object `name` in `namespace` may
    /// concern, as flow control's work estimate counts a write's watchers: the cluster-wide
    /// watches of the kind, those of the namespace and those pinned to the name. Watches
    /// pinned to a node (the kubelets' pod watches) are left out: the write of one pod reaches
    /// one node's, not every node's (upstream's watch tracker counts them the same way, by
    /// index).
    pub fn interested_count(&self, kind: Kind, namespace: &str, name: &str) -> usize {
        let watches = &self.by_kind[kind.index()];
        watches.all.len()
            + watches.by_namespace.get(namespace).map_or(0, Vec::len)
            + watches.by_name.get(name).map_or(0, Vec::len)
    }

    /// How many watches are open.
    pub fn open_count(&self) -> usize {
        self.by_kind.iter().map(KindWatches::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::labels::parse_field_selector;
    use crate::api::pod::Pod;

    fn pod(namespace: &str, node: &str) -> Arc<Object> {
        let mut p = Pod::default();
        p.metadata.name = "web".into();
        p.metadata.namespace = namespace.into();
        Arc::make_mut(&mut p.spec).node_name = node.into();
        Arc::new(Object::Pod(Arc::new(p)))
    }

    fn watch(kind: Kind, namespace: &str, field: &str) -> Watch {
        Watch {
            client: ClientId(1),
            replica: 0,
            kind,
            namespace: namespace.into(),
            options: ListOptions {
                field_selector: (!field.is_empty())
                    .then(|| parse_field_selector(field).expect("a valid selector")),
                ..ListOptions::default()
            },
            delay: SimDuration::ZERO,
        }
    }

    /// The ids of the watches a pod change from `before` (none: a create) to `after` concerns.
    fn concerned(
        registry: &WatchRegistry,
        before: Option<Arc<Object>>,
        after: Arc<Object>,
    ) -> Vec<u32> {
        let change = Change {
            resource_version: ResourceVersion(2),
            change: if before.is_some() {
                ChangeType::Modified
            } else {
                ChangeType::Added
            },
            object: after,
            previous: before,
        };
        registry.concerned_by(&change).map(|(id, _)| id.0).collect()
    }

    #[test]
    fn a_pod_change_concerns_its_node_s_and_namespace_s_watches_and_the_cluster_wide_ones() {
        let mut registry = WatchRegistry::default();
        // 0: the scheduler's pod watch (every pod); 1..=1000: a kubelet's pod watch per node;
        // 1001: a controller's pod watch in namespace "shop"; 1002: a node watch.
        registry.open(watch(Kind::Pod, "", ""));
        for n in 0..1000 {
            registry.open(watch(Kind::Pod, "", &format!("spec.nodeName=n{n}")));
        }
        registry.open(watch(Kind::Pod, "shop", ""));
        registry.open(watch(Kind::Node, "", ""));
        assert_eq!(registry.open_count(), 1003);
        // A pod created unbound in "shop": the cluster-wide and the namespace's watches (no
        // kubelet watches unbound pods).
        assert_eq!(concerned(&registry, None, pod("shop", "")), vec![0, 1001]);
        // Bound to n7 (watch 8): n7's kubelet sees it arrive.
        assert_eq!(
            concerned(&registry, Some(pod("shop", "")), pod("shop", "n7")),
            vec![0, 8, 1001]
        );
        // A pod in another namespace moving from n7 to n9 (a node-changing update, as a
        // test can make): both kubelets, in opening order.
        assert_eq!(
            concerned(&registry, Some(pod("other", "n9")), pod("other", "n7")),
            vec![0, 8, 10]
        );
        // Closing n7's watch takes it out of the index.
        registry.close(WatchId(8));
        assert_eq!(
            concerned(&registry, Some(pod("shop", "")), pod("shop", "n7")),
            vec![0, 1001]
        );
        assert_eq!(registry.open_count(), 1002);
    }

    #[test]
    fn a_node_change_concerns_its_kubelet_s_node_watch_only() {
        let node = |name: &str| {
            let mut n = crate::api::node::Node::default();
            n.metadata.name = name.into();
            Arc::new(Object::Node(Arc::new(n)))
        };
        let mut registry = WatchRegistry::default();
        // 0: the scheduler's node watch; 1..=1000: each kubelet's watch of its own Node.
        registry.open(watch(Kind::Node, "", ""));
        for n in 0..1000 {
            registry.open(watch(Kind::Node, "", &format!("metadata.name=n{n}")));
        }
        assert_eq!(
            concerned(&registry, Some(node("n7")), node("n7")),
            vec![0, 8]
        );
        registry.close(WatchId(8));
        assert_eq!(concerned(&registry, Some(node("n7")), node("n7")), vec![0]);
    }

    #[test]
    fn a_pod_write_never_touches_the_proxies_watches_and_a_slice_write_reaches_all() {
        use crate::api::endpointslice::{EndpointSlice, LABEL_SERVICE_NAME};
        use crate::api::labels::parse_label_selector;
        let proxy_watch = |kind| Watch {
            options: ListOptions {
                label_selector: parse_label_selector(
                    "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless",
                )
                .ok(),
                ..ListOptions::default()
            },
            ..watch(kind, "", "")
        };
        let mut registry = WatchRegistry::default();
        // 0: the scheduler's pod watch; 1..=1000: each kubelet's pod watch; then each of the
        // 1000 kube-proxies' slice watch (1001..=2000) and Service watch (2001..=3000).
        registry.open(watch(Kind::Pod, "", ""));
        for n in 0..1000 {
            registry.open(watch(Kind::Pod, "", &format!("spec.nodeName=n{n}")));
        }
        for _ in 0..1000 {
            registry.open(proxy_watch(Kind::EndpointSlice));
        }
        for _ in 0..1000 {
            registry.open(proxy_watch(Kind::Service));
        }
        // A pod status write on n7: the scheduler's and n7's kubelet's watches, nothing else.
        assert_eq!(
            concerned(&registry, Some(pod("shop", "n7")), pod("shop", "n7")),
            vec![0, 8]
        );
        // A slice write: every kube-proxy's slice watch, and those only — inherent, every
        // node programs every Service.
        let mut slice = EndpointSlice::default();
        slice.metadata.namespace = "shop".into();
        slice
            .metadata
            .labels
            .insert(LABEL_SERVICE_NAME.into(), "web".into());
        let slice = Arc::new(Object::EndpointSlice(Box::new(slice)));
        let ids = concerned(&registry, Some(Arc::clone(&slice)), slice);
        assert_eq!(ids, (1001..=2000).collect::<Vec<u32>>());
    }

    #[test]
    fn only_pod_watches_are_indexed_by_node_name() {
        // A Node has no spec.nodeName, which reads as "": `spec.nodeName=` selects every
        // node, so such a node watch is tested on every node change.
        let mut registry = WatchRegistry::default();
        registry.open(watch(Kind::Node, "", "spec.nodeName="));
        let mut node = crate::api::node::Node::default();
        node.metadata.name = "n1".into();
        let node = Arc::new(Object::Node(Arc::new(node)));
        assert_eq!(concerned(&registry, None, node), vec![0]);
    }
}
