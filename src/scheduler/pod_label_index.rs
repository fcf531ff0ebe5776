//! Which assigned pods carry each label, by namespace, with the node-tree position of their
//! node: the index that lets a plugin count the pods a selector matches, node by node,
//! reading only the pods that carry one of the selector's required labels.
//!
//! kube-scheduler counts a topology spread constraint's pods by walking every pod of every
//! node in each cycle (its `countPodsMatchSelector`, parallelised over 16 goroutines). The
//! counts are what matter, not the walk: with 150,000 pods a cycle would read them all, so
//! kubesim answers the same question from this index and gets the same numbers.
//!
//! The same few selectors are asked about again and again (every pod of a Deployment spreads
//! by its ReplicaSet's selector), so the first answer for a selector is kept as a *count
//! view* that every later add and remove updates: a cycle then reads the counts instead of
//! matching each of the workload's pods again.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::Uid;
use crate::api::labels::{Requirement, RequirementOperator, Selector};

use super::node_info::{NodeInfo, PodInfo};

/// The pods carrying one label value: (node position, uid) → pod.
type Carriers = BTreeMap<(usize, Uid), Arc<PodInfo>>;

/// namespace → label key → label value → the pods carrying it.
#[derive(Clone, Debug, Default)]
pub struct PodLabelIndex {
    by_namespace: BTreeMap<String, BTreeMap<String, BTreeMap<String, Carriers>>>,
    /// The selectors asked about so far, with their counts kept in step; filled while a cycle
    /// reads the index (through a shared reference), hence the cell.
    views: RefCell<CountViews>,
}

/// One selector's count of matching pods per node position (only positions with some).
#[derive(Clone, Debug)]
struct CountView {
    namespace: String,
    selector: Selector,
    counts: BTreeMap<usize, i64>,
}

/// The count views, found by selector and by the label each one pins.
#[derive(Clone, Debug, Default)]
struct CountViews {
    views: Vec<CountView>,
    /// namespace → the selector's canonical text → its view.
    by_selector: BTreeMap<String, BTreeMap<String, usize>>,
    /// namespace → label key → label value → the views that require it: a pod can only
    /// count in a view one of whose pinned values it carries, so an add or remove tests only
    /// the views pinned on its own labels.
    by_pin: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<usize>>>>,
}

impl CountViews {
    /// Adds `delta` to every view that counts `pod` (on the node at `position`).
    fn update(&mut self, position: usize, pod: &PodInfo, delta: i64) {
        let meta = &pod.pod.metadata;
        if meta.deletion_timestamp.is_some() {
            return;
        }
        let Some(keys) = self.by_pin.get(&meta.namespace) else {
            return;
        };
        for (key, value) in &meta.labels {
            let Some(ids) = keys.get(key).and_then(|values| values.get(value)) else {
                continue;
            };
            for &id in ids {
                let view = &mut self.views[id];
                if !view.selector.matches(&meta.labels) {
                    continue;
                }
                let count = view.counts.entry(position).or_insert(0);
                *count += delta;
                if *count == 0 {
                    view.counts.remove(&position);
                }
            }
        }
    }

    /// Registers a new view pinned on `pin` (a requirement's key and its values).
    fn insert(&mut self, text: String, view: CountView, pin: (&str, &[String])) {
        let id = self.views.len();
        let (key, values) = pin;
        let values_of_key = self
            .by_pin
            .entry(view.namespace.clone())
            .or_default()
            .entry(key.to_string())
            .or_default();
        for value in values {
            values_of_key.entry(value.clone()).or_default().push(id);
        }
        self.by_selector
            .entry(view.namespace.clone())
            .or_default()
            .insert(text, id);
        self.views.push(view);
    }
}

impl PodLabelIndex {
    /// The index of every pod on `nodes` (node-tree order gives the positions).
    pub fn build(nodes: &[NodeInfo]) -> PodLabelIndex {
        let mut index = PodLabelIndex::default();
        for (position, node) in nodes.iter().enumerate() {
            for pod in &node.pods {
                index.add(position, pod);
            }
        }
        index
    }

    /// Indexes `pod`, on the node at `position`, under each of its labels.
    pub fn add(&mut self, position: usize, pod: &Arc<PodInfo>) {
        let meta = &pod.pod.metadata;
        let keys = self.by_namespace.entry(meta.namespace.clone()).or_default();
        for (key, value) in &meta.labels {
            let values = match keys.get_mut(key) {
                Some(values) => values,
                None => keys.entry(key.clone()).or_default(),
            };
            let carriers = match values.get_mut(value) {
                Some(carriers) => carriers,
                None => values.entry(value.clone()).or_default(),
            };
            carriers.insert((position, meta.uid), Arc::clone(pod));
        }
        self.views.get_mut().update(position, pod, 1);
    }

    /// Forgets `pod` (as it was indexed: with the labels it had then) on the node at
    /// `position`; empty entries go, so the index holds only labels pods carry.
    pub fn remove(&mut self, position: usize, pod: &PodInfo) {
        let meta = &pod.pod.metadata;
        self.views.get_mut().update(position, pod, -1);
        let Some(keys) = self.by_namespace.get_mut(&meta.namespace) else {
            return;
        };
        for (key, value) in &meta.labels {
            let Some(values) = keys.get_mut(key) else {
                continue;
            };
            if let Some(carriers) = values.get_mut(value) {
                carriers.remove(&(position, meta.uid));
                if carriers.is_empty() {
                    values.remove(value);
                }
            }
            if values.is_empty() {
                keys.remove(key);
            }
        }
        if keys.is_empty() {
            self.by_namespace.remove(&meta.namespace);
        }
    }

    /// Per node position, the pods in `namespace` that `selector` matches and that are not
    /// being deleted (upstream's `countPodsMatchSelector` on each node), listing only nodes
    /// with at least one. `None` when the selector pins no label to a value (no `=`, `==` or
    /// `in` requirement): then only a walk over every pod can tell.
    pub fn count_by_node(&self, namespace: &str, selector: &Selector) -> Option<Vec<(usize, i64)>> {
        let text = selector.to_string();
        let mut views = self.views.borrow_mut();
        let known = views
            .by_selector
            .get(namespace)
            .and_then(|by_text| by_text.get(&text))
            .copied();
        let id = match known {
            Some(id) => id,
            None => {
                let (pin, carriers) = self.narrowest(namespace, selector)?;
                let view = CountView {
                    namespace: namespace.to_string(),
                    selector: selector.clone(),
                    counts: count_carriers(&carriers, selector),
                };
                views.insert(text, view, (pin.key(), pin.values()));
                views.views.len() - 1
            }
        };
        let counts = &views.views[id].counts;
        Some(counts.iter().map(|(&p, &n)| (p, n)).collect())
    }

    /// The carriers of the pinned requirement with the fewest candidate pods: an `in` over
    /// several values reads each value's carriers (a pod carries one value per key, so no pod
    /// is read twice).
    fn narrowest<'a>(
        &'a self,
        namespace: &str,
        selector: &'a Selector,
    ) -> Option<(&'a Requirement, Vec<&'a Carriers>)> {
        use RequirementOperator as Op;
        let keys = self.by_namespace.get(namespace);
        let mut best: Option<(usize, &Requirement, Vec<&Carriers>)> = None;
        for r in selector.requirements() {
            if !matches!(r.operator(), Op::Equals | Op::DoubleEquals | Op::In) {
                continue;
            }
            let values = keys.and_then(|k| k.get(r.key()));
            let carriers: Vec<&Carriers> = r
                .values()
                .iter()
                .filter_map(|v| values.and_then(|vals| vals.get(v)))
                .collect();
            let size = carriers.iter().map(|c| c.len()).sum();
            if best.as_ref().is_none_or(|(s, _, _)| size < *s) {
                best = Some((size, r, carriers));
            }
        }
        best.map(|(_, r, carriers)| (r, carriers))
    }
}

/// Per node position, the pods among `carriers` that `selector` matches and that are not
/// being deleted; only positions with some.
fn count_carriers(carriers: &[&Carriers], selector: &Selector) -> BTreeMap<usize, i64> {
    let mut counts: BTreeMap<usize, i64> = BTreeMap::new();
    for ((position, _), pod) in carriers.iter().flat_map(|c| c.iter()) {
        let meta = &pod.pod.metadata;
        if meta.deletion_timestamp.is_none() && selector.matches(&meta.labels) {
            *counts.entry(*position).or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::labels::Requirement;
    use crate::api::pod::Pod;
    use crate::sim::SimTime;

    fn pod(uid: u64, namespace: &str, labels: &[(&str, &str)]) -> Arc<PodInfo> {
        let mut p = Pod::default();
        p.metadata.uid = Uid(uid);
        p.metadata.namespace = namespace.into();
        p.metadata.name = format!("p{uid}");
        p.metadata.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    fn selector(requirements: &[(&str, RequirementOperator, &[&str])]) -> Selector {
        Selector::from_requirements(
            requirements
                .iter()
                .map(|(k, op, values)| {
                    let values = values.iter().map(|v| v.to_string()).collect();
                    Requirement::new(*k, *op, values).expect("valid requirement")
                })
                .collect(),
        )
    }

    #[test]
    fn counts_per_node_follow_adds_and_removes() {
        use RequirementOperator as Op;
        let mut index = PodLabelIndex::default();
        let web = [("app", "web"), ("tier", "front")];
        let a = pod(1, "default", &web);
        let b = pod(2, "default", &web);
        let c = pod(3, "default", &[("app", "web")]);
        let other_ns = pod(4, "other", &web);
        let db = pod(5, "default", &[("app", "db"), ("tier", "front")]);
        index.add(0, &a);
        index.add(0, &b);
        index.add(2, &c);
        index.add(1, &other_ns);
        index.add(1, &db);
        let sel = selector(&[("app", Op::Equals, &["web"]), ("tier", Op::Exists, &[])]);
        // a and b on node 0 carry both labels; c has no tier; the other namespace's pod and
        // the db pod do not count.
        assert_eq!(index.count_by_node("default", &sel), Some(vec![(0, 2)]));
        let any_app = selector(&[("app", Op::In, &["db", "web"])]);
        assert_eq!(
            index.count_by_node("default", &any_app),
            Some(vec![(0, 2), (1, 1), (2, 1)])
        );
        index.remove(0, &a);
        assert_eq!(index.count_by_node("default", &sel), Some(vec![(0, 1)]));
        index.remove(0, &b);
        index.remove(2, &c);
        assert_eq!(index.count_by_node("default", &sel), Some(vec![]));
        // Emptied entries leave: only db remains in the namespace.
        let keys = &index.by_namespace["default"];
        assert_eq!(keys["app"].keys().collect::<Vec<_>>(), ["db"]);
    }

    #[test]
    fn pods_being_deleted_do_not_count_and_unpinned_selectors_need_a_walk() {
        use RequirementOperator as Op;
        let mut index = PodLabelIndex::default();
        let mut leaving = Pod::default();
        leaving.metadata.uid = Uid(9);
        leaving.metadata.namespace = "default".into();
        leaving.metadata.labels = [("app".to_string(), "web".to_string())].into();
        leaving.metadata.deletion_timestamp = Some(SimTime::ZERO);
        index.add(3, &Arc::new(PodInfo::new(Arc::new(leaving))));
        index.add(3, &pod(1, "default", &[("app", "web")]));
        let web = selector(&[("app", Op::Equals, &["web"])]);
        assert_eq!(index.count_by_node("default", &web), Some(vec![(3, 1)]));
        let exists = selector(&[("app", Op::Exists, &[])]);
        assert_eq!(index.count_by_node("default", &exists), None);
        let absent_value = selector(&[("app", Op::Equals, &["none"])]);
        assert_eq!(index.count_by_node("default", &absent_value), Some(vec![]));
    }
}
