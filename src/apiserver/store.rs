//! The versioned object store: the etcd stand-in behind the apiserver.
//!
//! One global resourceVersion counts every write, as etcd's revision does. Objects are kept as
//! immutable snapshots (`Arc<Object>`), so a list, a watch event and the store share one copy.
//! Every change is appended to a bounded history from which watches are served; asking for a
//! version older than the history holds is answered with 410 Gone, as after an etcd compaction.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use super::request::ApiError;
use crate::api::{Kind, Object, ObjectKey, ResourceVersion};

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeType {
    /// Created.
    Added,
    /// Updated (including a graceful deletion starting).
    Modified,
    /// Removed.
    Deleted,
    /// Only on a watch, never committed: a BOOKMARK, which carries a resourceVersion the
    /// watch has reached (and, ending a streaming list's initial events, the annotation
    /// `k8s.io/initial-events-end`) in an object of the kind with nothing else set.
    Bookmark,
}

impl ChangeType {
    /// The watch event type as Kubernetes spells it.
    pub const fn name(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
            ChangeType::Bookmark => "BOOKMARK",
        }
    }
}

/// One committed change, as kept in the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The version the change was committed at.
    pub resource_version: ResourceVersion,
    /// What happened.
    pub change: ChangeType,
    /// The object after the change (for a delete: its last state).
    pub object: Arc<Object>,
    /// The object before the change (None for a create); watches with selectors need it to
    /// tell an object leaving their selection from one that was never in it.
    pub previous: Option<Arc<Object>>,
}

/// The node `object` is a pod bound to, if it is one.
fn bound_node(object: Option<&Object>) -> Option<&str> {
    object
        .and_then(Object::as_pod)
        .map(|p| p.spec.node_name.as_str())
        .filter(|n| !n.is_empty())
}

/// The names a change is found under by pinned watches: the node of a pod before and after
/// (once if the same), the name of a node; none for other kinds.
fn pins<'a>(object: &'a Object, previous: Option<&'a Object>) -> impl Iterator<Item = &'a str> {
    let (now, before) = match object {
        Object::Pod(pod) => (
            Some(pod.spec.node_name.as_str()),
            previous
                .and_then(Object::as_pod)
                .map(|p| p.spec.node_name.as_str()),
        ),
        Object::Node(node) => (Some(node.metadata.name.as_str()), None),
        _ => (None, None),
    };
    now.into_iter().chain(before.filter(|b| Some(*b) != now))
}

/// The objects and the history.
#[derive(Debug)]
pub struct Store {
    objects: [BTreeMap<ObjectKey, Arc<Object>>; Kind::ALL.len()],
    /// Bound pods by `spec.nodeName`, as the watch cache indexes them: a kubelet's list of its
    /// node's pods reads its node's pods only.
    pods_by_node: BTreeMap<String, BTreeSet<ObjectKey>>,
    revision: u64,
    next_uid: u64,
    history: VecDeque<Change>,
    /// The versions of `history`'s changes to each kind, oldest first: a watch replays the
    /// changes to its kind without reading every other kind's.
    history_by_kind: [VecDeque<ResourceVersion>; Kind::ALL.len()],
    /// The versions of `history`'s changes to each pinned name: a pod's node (before and
    /// after the change) and a node's name, the fields a kubelet's watches pin. A kubelet
    /// opening its watches replays its own node's changes, not the whole cluster's.
    /// Per kind, keyed by the name itself so that a lookup allocates nothing.
    history_by_pin: [BTreeMap<String, VecDeque<ResourceVersion>>; Kind::ALL.len()],
    history_limit: usize,
    /// Versions at or below this are compacted: no longer served to watches.
    compacted: u64,
}

impl Store {
    /// An empty store that keeps the last `history_limit` changes for watches.
    pub fn new(history_limit: usize) -> Self {
        Store {
            objects: Default::default(),
            pods_by_node: BTreeMap::new(),
            revision: 0,
            next_uid: 1,
            history: VecDeque::new(),
            history_by_kind: Default::default(),
            history_by_pin: Default::default(),
            history_limit: history_limit.max(1),
            compacted: 0,
        }
    }

    /// The current (latest committed) version.
    pub fn revision(&self) -> ResourceVersion {
        ResourceVersion(self.revision)
    }

    /// The object `key` of `kind`.
    pub fn get(&self, kind: Kind, key: &ObjectKey) -> Option<&Arc<Object>> {
        self.objects[kind.index()].get(key)
    }

    /// All objects of `kind`, in key order.
    pub fn iter(&self, kind: Kind) -> impl Iterator<Item = &Arc<Object>> {
        self.objects[kind.index()].values()
    }

    /// All objects of `kind` in `namespace`, in key order.
    pub fn iter_namespace<'a>(
        &'a self,
        kind: Kind,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Object>> {
        let start = ObjectKey::new(namespace, "");
        self.objects[kind.index()]
            .range(start..)
            .take_while(move |(k, _)| k.namespace == namespace)
            .map(|(_, v)| v)
    }

    /// The pods bound to `node`, in key order.
    pub fn iter_pods_on_node<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Arc<Object>> {
        let pods = &self.objects[Kind::Pod.index()];
        self.pods_by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(move |key| pods.get(key))
    }

    /// Keeps the node index in step with a pod going from `before` to `after` (either absent).
    fn index_pod(&mut self, before: Option<&Object>, after: Option<&Object>) {
        let (was, now) = (bound_node(before), bound_node(after));
        if was == now {
            return;
        }
        if let (Some(node), Some(object)) = (was, before)
            && let Some(keys) = self.pods_by_node.get_mut(node)
        {
            keys.remove(&object.key());
            if keys.is_empty() {
                self.pods_by_node.remove(node);
            }
        }
        if let (Some(node), Some(object)) = (now, after) {
            self.pods_by_node
                .entry(node.to_string())
                .or_default()
                .insert(object.key());
        }
    }

    /// How many objects of `kind` exist.
    pub fn count(&self, kind: Kind) -> usize {
        self.objects[kind.index()].len()
    }

    /// Creates `object`, assigning uid, version and creation metadata. Fails if it exists.
    pub fn create(&mut self, mut object: Object) -> Result<Arc<Object>, ApiError> {
        let kind = object.kind();
        let key = object.key();
        if self.objects[kind.index()].contains_key(&key) {
            return Err(ApiError::AlreadyExists { kind, key });
        }
        self.revision += 1;
        let meta = object.meta_mut();
        meta.uid = crate::api::Uid(self.next_uid);
        self.next_uid += 1;
        meta.resource_version = ResourceVersion(self.revision);
        meta.generation = 1;
        let stored = Arc::new(object);
        self.objects[kind.index()].insert(key, Arc::clone(&stored));
        self.index_pod(None, Some(&stored));
        self.record(ChangeType::Added, Arc::clone(&stored), None);
        Ok(stored)
    }

    /// Replaces the stored object with `object`, which must carry the stored version or version
    /// 0 (an unconditional update). `finish` merges the stored object into the new one (keeping
    /// server-owned fields); it may refuse with an error.
    pub fn update(
        &mut self,
        object: Object,
        finish: impl FnOnce(&Object, &mut Object) -> Result<(), ApiError>,
    ) -> Result<Arc<Object>, ApiError> {
        let kind = object.kind();
        let key = object.key();
        let Some(current) = self.objects[kind.index()].get(&key) else {
            return Err(ApiError::NotFound { kind, key });
        };
        let sent = object.meta().resource_version.0;
        let stored_rv = current.meta().resource_version.0;
        if sent != 0 && sent != stored_rv {
            return Err(ApiError::Conflict {
                kind,
                key,
                sent,
                current: stored_rv,
            });
        }
        let current = Arc::clone(current);
        let mut next = object;
        finish(&current, &mut next)?;
        Ok(self.commit_modification(&key, current, next))
    }

    /// Applies `change` to the stored object `key` atomically (a patch: no version check).
    pub fn modify(
        &mut self,
        kind: Kind,
        key: &ObjectKey,
        change: impl FnOnce(&mut Object) -> Result<(), ApiError>,
    ) -> Result<Arc<Object>, ApiError> {
        let Some(current) = self.objects[kind.index()].get(key) else {
            return Err(ApiError::NotFound {
                kind,
                key: key.clone(),
            });
        };
        let current = Arc::clone(current);
        let mut next = (*current).clone();
        change(&mut next)?;
        Ok(self.commit_modification(key, current, next))
    }

    /// Stores `next` in place of `current`, unless nothing changed: like the real apiserver, a
    /// no-op write keeps the old resourceVersion and sends no watch event.
    fn commit_modification(
        &mut self,
        key: &ObjectKey,
        current: Arc<Object>,
        mut next: Object,
    ) -> Arc<Object> {
        {
            let (old, meta) = (current.meta(), next.meta_mut());
            meta.uid = old.uid;
            meta.creation_timestamp = old.creation_timestamp;
            meta.resource_version = old.resource_version;
        }
        if next == *current {
            return current;
        }
        self.revision += 1;
        next.meta_mut().resource_version = ResourceVersion(self.revision);
        let stored = Arc::new(next);
        let kind = stored.kind();
        if stored.meta().deletion_is_due() {
            // The last finalizer went (or the grace period ended): the write is the delete.
            self.objects[kind.index()].remove(key);
            self.index_pod(Some(&current), None);
            self.record(ChangeType::Deleted, Arc::clone(&stored), Some(current));
            return stored;
        }
        // The entry is there (`current` was read from it): replaced in place, its key kept.
        if let Some(slot) = self.objects[kind.index()].get_mut(key) {
            *slot = Arc::clone(&stored);
        }
        self.index_pod(Some(&current), Some(&stored));
        self.record(ChangeType::Modified, Arc::clone(&stored), Some(current));
        stored
    }

    /// Removes `key`; the deleted object carries the version of the delete, as a watch sees it.
    pub fn delete(&mut self, kind: Kind, key: &ObjectKey) -> Result<Arc<Object>, ApiError> {
        let Some(current) = self.objects[kind.index()].remove(key) else {
            return Err(ApiError::NotFound {
                kind,
                key: key.clone(),
            });
        };
        self.index_pod(Some(&current), None);
        self.revision += 1;
        let mut last = (*current).clone();
        last.meta_mut().resource_version = ResourceVersion(self.revision);
        let last = Arc::new(last);
        self.record(ChangeType::Deleted, Arc::clone(&last), Some(current));
        Ok(last)
    }

    fn record(&mut self, change: ChangeType, object: Arc<Object>, previous: Option<Arc<Object>>) {
        if self.history.len() == self.history_limit {
            self.evict_oldest();
        }
        let rv = ResourceVersion(self.revision);
        let kind = object.kind().index();
        self.history_by_kind[kind].push_back(rv);
        let by_pin = &mut self.history_by_pin[kind];
        for pin in pins(&object, previous.as_deref()) {
            let versions = match by_pin.get_mut(pin) {
                Some(versions) => versions,
                None => by_pin.entry(pin.to_string()).or_default(),
            };
            versions.push_back(rv);
        }
        self.history.push_back(Change {
            resource_version: rv,
            change,
            object,
            previous,
        });
    }

    /// Drops the oldest retained change.
    fn evict_oldest(&mut self) {
        if let Some(evicted) = self.history.pop_front() {
            self.compacted = evicted.resource_version.0;
            let kind = evicted.object.kind().index();
            self.history_by_kind[kind].pop_front();
            let by_pin = &mut self.history_by_pin[kind];
            for pin in pins(&evicted.object, evicted.previous.as_deref()) {
                if let Some(versions) = by_pin.get_mut(pin) {
                    versions.pop_front();
                    if versions.is_empty() {
                        by_pin.remove(pin);
                    }
                }
            }
        }
    }

    /// The newest change, if any.
    pub fn last_change(&self) -> Option<&Change> {
        self.history.back()
    }

    /// The change committed at `rv`, if still retained.
    pub fn change_at(&self, rv: ResourceVersion) -> Option<&Change> {
        let idx = self
            .history
            .binary_search_by_key(&rv, |c| c.resource_version)
            .ok()?;
        self.history.get(idx)
    }

    /// Every retained change after `rv`, oldest first; 410 Gone if changes after `rv` were
    /// already compacted away.
    pub fn changes_since(
        &self,
        rv: ResourceVersion,
    ) -> Result<impl Iterator<Item = &Change>, ApiError> {
        if rv.0 < self.compacted {
            return Err(ApiError::Gone {
                requested: rv.0,
                oldest: self.compacted,
            });
        }
        let start = self.history.partition_point(|c| c.resource_version <= rv);
        Ok(self.history.range(start..))
    }

    /// Every retained change to `kind` after `rv` (only those touching `pin`, if given: a
    /// pod's node or a node's name), oldest first; 410 Gone as [`Store::changes_since`].
    pub fn changes_to_kind_since(
        &self,
        kind: Kind,
        pin: Option<&str>,
        rv: ResourceVersion,
    ) -> Result<impl Iterator<Item = &Change>, ApiError> {
        if rv.0 < self.compacted {
            return Err(ApiError::Gone {
                requested: rv.0,
                oldest: self.compacted,
            });
        }
        static NONE: VecDeque<ResourceVersion> = VecDeque::new();
        let versions = match pin {
            None => &self.history_by_kind[kind.index()],
            Some(pin) => self.history_by_pin[kind.index()].get(pin).unwrap_or(&NONE),
        };
        let start = versions.partition_point(|&v| v <= rv);
        // Every commit is recorded with the next version, so the history is contiguous and a
        // change is found by its distance from the oldest.
        let oldest = self.history.front().map_or(0, |c| c.resource_version.0);
        Ok(versions
            .range(start..)
            .filter_map(move |v| self.history.get((v.0 - oldest) as usize)))
    }

    /// Drops history at or below `rv` (an explicit compaction, as etcd's periodic one).
    pub fn compact(&mut self, rv: ResourceVersion) {
        while let Some(front) = self.history.front() {
            if front.resource_version > rv {
                break;
            }
            self.evict_oldest();
        }
        self.compacted = self.compacted.max(rv.0.min(self.revision));
    }

    /// The highest compacted version: watches must start at or after it.
    pub fn compacted_revision(&self) -> ResourceVersion {
        ResourceVersion(self.compacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pod::Pod;

    fn pod(namespace: &str, name: &str, node: &str) -> Object {
        let mut p = Pod::default();
        p.metadata.namespace = namespace.into();
        p.metadata.name = name.into();
        Arc::make_mut(&mut p.spec).node_name = node.into();
        Object::Pod(Arc::new(p))
    }

    fn on_node(store: &Store, node: &str) -> Vec<String> {
        store
            .iter_pods_on_node(node)
            .map(|o| o.key().to_string())
            .collect()
    }

    fn node(name: &str) -> Object {
        let mut n = crate::api::node::Node::default();
        n.metadata.name = name.into();
        Object::Node(Arc::new(n))
    }

    /// Binds pod `key` to `node`, as the binding subresource does.
    fn bind(store: &mut Store, key: &ObjectKey, node: &str) {
        store
            .modify(Kind::Pod, key, |o| {
                if let Object::Pod(p) = o {
                    Arc::make_mut(&mut Arc::make_mut(p).spec).node_name = node.into();
                }
                Ok(())
            })
            .expect("bound");
    }

    fn versions_of(store: &Store, kind: Kind, since: u64) -> Result<Vec<u64>, ApiError> {
        Ok(store
            .changes_to_kind_since(kind, None, ResourceVersion(since))?
            .map(|c| c.resource_version.0)
            .collect())
    }

    #[test]
    fn a_kind_replays_only_its_own_changes_and_compaction_still_answers_gone() {
        // Versions 1..=6 alternate pod, node, pod, node, pod, node; a history of 4 keeps 3..=6.
        let mut store = Store::new(4);
        for i in 0..3 {
            store
                .create(pod("a", &format!("p{i}"), ""))
                .expect("created");
            store.create(node(&format!("n{i}"))).expect("created");
        }
        assert_eq!(versions_of(&store, Kind::Pod, 2), Ok(vec![3, 5]));
        assert_eq!(versions_of(&store, Kind::Node, 2), Ok(vec![4, 6]));
        assert_eq!(versions_of(&store, Kind::Node, 4), Ok(vec![6]));
        assert_eq!(versions_of(&store, Kind::Lease, 2), Ok(vec![]));
        // Version 1 is older than the oldest retained change's predecessor (2).
        assert_eq!(
            versions_of(&store, Kind::Pod, 1),
            Err(ApiError::Gone {
                requested: 1,
                oldest: 2
            })
        );
        store.compact(ResourceVersion(4));
        assert_eq!(versions_of(&store, Kind::Pod, 4), Ok(vec![5]));
        assert_eq!(versions_of(&store, Kind::Node, 4), Ok(vec![6]));
    }

    #[test]
    fn a_pinned_watch_replays_only_the_changes_to_its_node() {
        let mut store = Store::new(100);
        store.create(pod("a", "web", "")).expect("created"); // 1
        store.create(node("n1")).expect("created"); // 2
        store.create(pod("a", "db", "n2")).expect("created"); // 3
        let key = ObjectKey::new("a", "web");
        bind(&mut store, &key, "n1"); // 4: leaves "" and reaches n1
        let pinned = |store: &Store, kind, pin| -> Vec<u64> {
            store
                .changes_to_kind_since(kind, Some(pin), ResourceVersion(2))
                .expect("retained")
                .map(|c| c.resource_version.0)
                .collect()
        };
        // Changes after version 2.
        assert_eq!(pinned(&store, Kind::Pod, "n1"), [4]);
        assert_eq!(pinned(&store, Kind::Pod, ""), [4]);
        assert_eq!(pinned(&store, Kind::Pod, "n2"), [3]);
        assert!(pinned(&store, Kind::Node, "n1").is_empty());
        assert_eq!(
            store.history_by_pin[Kind::Pod.index()][""],
            [ResourceVersion(1), ResourceVersion(4)]
        );
        // Evicting versions 1 and 2 drops them from their pins too.
        store.compact(ResourceVersion(2));
        assert_eq!(pinned(&store, Kind::Pod, ""), [4]);
        assert_eq!(
            store.history_by_pin[Kind::Pod.index()][""],
            [ResourceVersion(4)]
        );
        assert!(!store.history_by_pin[Kind::Node.index()].contains_key("n1"));
    }

    #[test]
    fn bound_pods_are_indexed_by_node_through_create_bind_and_delete() {
        let mut store = Store::new(100);
        for (ns, name, node) in [("b", "web", "n1"), ("a", "db", "n1"), ("a", "job", "n2")] {
            store.create(pod(ns, name, node)).expect("created");
        }
        store.create(pod("a", "pending", "")).expect("created");
        // Key order (namespace, then name), as a plain list gives them.
        assert_eq!(on_node(&store, "n1"), ["a/db", "b/web"]);
        assert_eq!(on_node(&store, "n2"), ["a/job"]);
        // Unbound pods are not indexed: a list of `spec.nodeName=` scans.
        assert!(on_node(&store, "").is_empty());
        // A binding moves the pod into its node's entry.
        let key = ObjectKey::new("a", "pending");
        bind(&mut store, &key, "n2");
        assert_eq!(on_node(&store, "n2"), ["a/job", "a/pending"]);
        store
            .delete(Kind::Pod, &ObjectKey::new("a", "job"))
            .expect("deleted");
        assert_eq!(on_node(&store, "n2"), ["a/pending"]);
        store
            .delete(Kind::Pod, &ObjectKey::new("a", "pending"))
            .expect("deleted");
        assert!(on_node(&store, "n2").is_empty());
        assert_eq!(
            store.pods_by_node.len(),
            1,
            "an emptied node leaves the index"
        );
    }
}
