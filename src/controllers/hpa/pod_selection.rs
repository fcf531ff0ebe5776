//! The pods an HPA's selector picks in its namespace, as the pod lister's `List(selector)`
//! returns them (key order), remembered per HPA until a pod of that namespace appears, goes
//! or changes its labels.
//!
//! Every HPA syncs every 15 s and each sync lists its namespace's pods by selector: with many
//! HPAs in one namespace that is a test of every pod against every selector, again and again,
//! while the set it yields changes only when pods come, go or are relabelled. The pods
//! themselves are read from the informer's cache at each sync, so a status change (Ready, a
//! start time) is seen as the lister would show it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::labels::LabelSelector;
use crate::api::pod::Pod;
use crate::api::{Object, ObjectKey};
use crate::client::informer::Delta;
use crate::client::informer_set::namespace_entries;

/// The remembered selections.
#[derive(Debug, Default)]
pub struct PodSelections {
    /// Per namespace, how many times a pod of it appeared, went or changed its labels.
    generations: BTreeMap<String, u64>,
    /// Per HPA, its last selection.
    picked: BTreeMap<ObjectKey, Picked>,
}

/// One HPA's selection, valid while its namespace's generation has not moved.
#[derive(Debug)]
struct Picked {
    generation: u64,
    selector: LabelSelector,
    keys: Vec<ObjectKey>,
}

impl PodSelections {
    /// Takes note of a change of the pod informer's cache.
    pub fn on_pod_delta(&mut self, delta: &Delta) {
        let object = match delta {
            Delta::Added(o) | Delta::Deleted(o) => o,
            Delta::Updated(old, new) => {
                if old.meta().labels == new.meta().labels {
                    return;
                }
                new
            }
        };
        let namespace = &object.meta().namespace;
        match self.generations.get_mut(namespace) {
            Some(generation) => *generation += 1,
            None => {
                self.generations.insert(namespace.clone(), 1);
            }
        }
    }

    /// The pods of the pod informer's `cache` in the namespace of the HPA `hpa` that
    /// `selector` picks, in key order.
    pub fn select<'a>(
        &mut self,
        hpa: &ObjectKey,
        selector: &LabelSelector,
        cache: &'a BTreeMap<ObjectKey, Arc<Object>>,
    ) -> Vec<&'a Pod> {
        let generation = self.generations.get(&hpa.namespace).copied().unwrap_or(0);
        if let Some(picked) = self.picked.get(hpa)
            && picked.generation == generation
            && picked.selector == *selector
        {
            return picked
                .keys
                .iter()
                .filter_map(|key| cache.get(key)?.as_pod())
                .map(|pod| &**pod)
                .collect();
        }
        let (keys, pods): (Vec<ObjectKey>, Vec<&'a Pod>) = namespace_entries(cache, &hpa.namespace)
            .filter_map(|(key, o)| Some((key, o.as_pod()?)))
            .filter(|(_, p)| selector.matches(&p.metadata.labels))
            .map(|(key, p)| (key.clone(), &**p))
            .unzip();
        self.picked.insert(
            hpa.clone(),
            Picked {
                generation,
                selector: selector.clone(),
                keys,
            },
        );
        pods
    }

    /// Forgets a deleted HPA's selection.
    pub fn forget(&mut self, hpa: &ObjectKey) {
        self.picked.remove(hpa);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::labels::Labels;

    fn pod(namespace: &str, name: &str, app: &str, phase_marker: &str) -> Arc<Object> {
        let mut pod = Pod::default();
        pod.metadata.namespace = namespace.into();
        pod.metadata.name = name.into();
        pod.metadata.labels = Labels::from([("app".to_string(), app.to_string())]);
        Arc::make_mut(&mut pod.spec).node_name = phase_marker.into();
        Arc::new(Object::Pod(Arc::new(pod)))
    }

    fn cache(pods: &[Arc<Object>]) -> BTreeMap<ObjectKey, Arc<Object>> {
        pods.iter().map(|o| (o.key(), o.clone())).collect()
    }

    fn names(pods: &[&Pod]) -> Vec<(String, String)> {
        pods.iter()
            .map(|p| (p.metadata.name.clone(), p.spec.node_name.clone()))
            .collect()
    }

    fn selector(app: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Labels::from([("app".to_string(), app.to_string())]),
            ..LabelSelector::default()
        }
    }

    #[test]
    fn a_selection_follows_added_relabelled_and_deleted_pods_and_fresh_objects() {
        let hpa = ObjectKey::new("a", "web");
        let web = selector("web");
        let (a1, a2) = (pod("a", "w1", "web", "n1"), pod("a", "w2", "web", "n1"));
        // Same app in another namespace, and another app in this one: neither is picked.
        let (b1, a3) = (pod("b", "w1", "web", "n1"), pod("a", "x1", "other", "n1"));
        let mut pods = cache(&[a1.clone(), a2.clone(), b1, a3.clone()]);
        let mut selections = PodSelections::default();
        let want = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            names(&selections.select(&hpa, &web, &pods)),
            want(&[("w1", "n1"), ("w2", "n1")])
        );
        // A status-like change (same labels) keeps the keys but reads the new object.
        let a1_moved = pod("a", "w1", "web", "n2");
        pods.insert(a1_moved.key(), a1_moved.clone());
        selections.on_pod_delta(&Delta::Updated(a1.clone(), a1_moved));
        assert_eq!(
            names(&selections.select(&hpa, &web, &pods)),
            want(&[("w1", "n2"), ("w2", "n1")])
        );
        // Relabelled into the selection.
        let a3_web = pod("a", "x1", "web", "n1");
        pods.insert(a3_web.key(), a3_web.clone());
        selections.on_pod_delta(&Delta::Updated(a3, a3_web));
        assert_eq!(
            names(&selections.select(&hpa, &web, &pods)),
            want(&[("w1", "n2"), ("w2", "n1"), ("x1", "n1")])
        );
        // Deleted.
        pods.remove(&a2.key());
        selections.on_pod_delta(&Delta::Deleted(a2));
        assert_eq!(
            names(&selections.select(&hpa, &web, &pods)),
            want(&[("w1", "n2"), ("x1", "n1")])
        );
        // A changed selector is a new selection at once.
        assert_eq!(
            names(&selections.select(&hpa, &selector("none"), &pods)),
            want(&[])
        );
    }

    #[test]
    fn a_change_in_another_namespace_keeps_the_selection() {
        let hpa = ObjectKey::new("a", "web");
        let web = selector("web");
        let mut pods = cache(&[pod("a", "w1", "web", "n1")]);
        let mut selections = PodSelections::default();
        assert_eq!(selections.select(&hpa, &web, &pods).len(), 1);
        let b1 = pod("b", "w1", "web", "n1");
        pods.insert(b1.key(), b1.clone());
        selections.on_pod_delta(&Delta::Added(b1));
        assert_eq!(selections.generations.get("a"), None);
        assert_eq!(selections.picked[&hpa].generation, 0);
        assert_eq!(selections.select(&hpa, &web, &pods).len(), 1);
    }
}
