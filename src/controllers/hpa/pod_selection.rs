//! The pods an HPA's selector picks in its namespace, as the pod lister's `List(selector)`
//! returns them (key order), remembered per HPA until a pod its selector matches (before or
//! after the change) appears, goes or changes its labels.
//!
//! Every HPA syncs every 15 s and each sync lists its namespace's pods by selector: with many
//! HPAs in one namespace that is a test of every pod against every selector, again and again,
//! while the set it yields changes only when its own pods come, go or are relabelled. A
//! selection keeps the pods as the informer's cache holds them, and a change that keeps a
//! pod's labels (its status: Ready, a start time) replaces the pod in the selections that hold
//! it, so a sync reads what the lister would show without looking each pod up again.

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
    /// By HPA.
    picked: BTreeMap<ObjectKey, Picked>,
}

/// One HPA's selection.
#[derive(Debug)]
struct Picked {
    /// A pod the selector matches came, went or was relabelled since it was made.
    stale: bool,
    /// The selector it was made for.
    selector: LabelSelector,
    /// The selected pods, in key order, as the cache holds them.
    pods: Vec<(ObjectKey, Arc<Object>)>,
}

/// The pods one sync reads: their keys and the pods, in key order.
#[derive(Debug, Default)]
pub struct Selected<'a> {
    /// The pods' keys.
    pub keys: Vec<&'a ObjectKey>,
    /// The pods, as the cache holds them now.
    pub pods: Vec<&'a Pod>,
}

impl PodSelections {
    /// Notes a change to the pod informer's cache: the selections of the pod's namespace whose
    /// selector matches it, before or after, are made again at their next sync. An update that
    /// keeps the labels changes no selection: the selections that hold the pod take its new
    /// state.
    pub fn on_pod_delta(&mut self, delta: &Delta) {
        let (object, old_labels) = match delta {
            Delta::Added(o) | Delta::Deleted(o) => (o, None),
            Delta::Updated(old, new) => {
                if old.meta().labels == new.meta().labels {
                    return self.refresh(new);
                }
                (new, Some(&old.meta().labels))
            }
        };
        let meta = object.meta();
        let concerned = |selector: &LabelSelector| {
            selector.matches(&meta.labels) || old_labels.is_some_and(|l| selector.matches(l))
        };
        self.in_namespace(&meta.namespace)
            .filter(|(_, picked)| concerned(&picked.selector))
            .for_each(|(_, picked)| picked.stale = true);
    }

    /// Puts the new state of a pod whose labels stayed in the fresh selections that hold it.
    fn refresh(&mut self, pod: &Arc<Object>) {
        let meta = pod.meta();
        let key = (meta.namespace.as_str(), meta.name.as_str());
        for (_, picked) in self.in_namespace(&meta.namespace) {
            if picked.stale || !picked.selector.matches(&meta.labels) {
                continue;
            }
            let held = picked
                .pods
                .binary_search_by(|(k, _)| (k.namespace.as_str(), k.name.as_str()).cmp(&key));
            match held {
                Ok(at) => picked.pods[at].1 = Arc::clone(pod),
                // Matched but not held: a listing that missed it is made again.
                Err(_) => picked.stale = true,
            }
        }
    }

    /// The selections of the HPAs in `namespace`.
    fn in_namespace<'s>(
        &'s mut self,
        namespace: &'s str,
    ) -> impl Iterator<Item = (&'s ObjectKey, &'s mut Picked)> {
        self.picked
            .range_mut(ObjectKey::new(namespace, "")..)
            .take_while(move |(hpa, _)| hpa.namespace == namespace)
    }

    /// The pods of `hpa`'s namespace that `selector` selects: the remembered ones while they
    /// hold, else a fresh listing of `cache` (the pod informer's).
    pub fn select<'a>(
        &'a mut self,
        hpa: &ObjectKey,
        selector: &LabelSelector,
        cache: &BTreeMap<ObjectKey, Arc<Object>>,
    ) -> Selected<'a> {
        let fresh = self
            .picked
            .get(hpa)
            .is_some_and(|picked| !picked.stale && picked.selector == *selector);
        if !fresh {
            let pods = namespace_entries(cache, &hpa.namespace)
                .filter(|(_, o)| {
                    o.as_pod()
                        .is_some_and(|p| selector.matches(&p.metadata.labels))
                })
                .map(|(key, o)| (key.clone(), Arc::clone(o)))
                .collect();
            self.picked.insert(
                hpa.clone(),
                Picked {
                    stale: false,
                    selector: selector.clone(),
                    pods,
                },
            );
        }
        let picked = self.picked.get(hpa).map_or(&[][..], |p| p.pods.as_slice());
        let (keys, pods) = picked
            .iter()
            .filter_map(|(key, object)| Some((key, &**object.as_pod()?)))
            .unzip();
        Selected { keys, pods }
    }

    /// Forgets `hpa`'s selection (the HPA is gone).
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
            names(&selections.select(&hpa, &web, &pods).pods),
            want(&[("w1", "n1"), ("w2", "n1")])
        );
        // A status-like change (same labels) keeps the selection, which takes the new object
        // from the delta (no listing again: it stays fresh).
        let a1_moved = pod("a", "w1", "web", "n2");
        pods.insert(a1_moved.key(), a1_moved.clone());
        selections.on_pod_delta(&Delta::Updated(a1.clone(), a1_moved));
        assert!(!selections.picked[&hpa].stale);
        assert_eq!(
            names(&selections.select(&hpa, &web, &pods).pods),
            want(&[("w1", "n2"), ("w2", "n1")])
        );
        // Relabelled into the selection.
        let a3_web = pod("a", "x1", "web", "n1");
        pods.insert(a3_web.key(), a3_web.clone());
        selections.on_pod_delta(&Delta::Updated(a3, a3_web));
        assert_eq!(
            names(&selections.select(&hpa, &web, &pods).pods),
            want(&[("w1", "n2"), ("w2", "n1"), ("x1", "n1")])
        );
        // Deleted.
        pods.remove(&a2.key());
        selections.on_pod_delta(&Delta::Deleted(a2));
        assert_eq!(
            names(&selections.select(&hpa, &web, &pods).pods),
            want(&[("w1", "n2"), ("x1", "n1")])
        );
        // A changed selector is a new selection at once.
        assert_eq!(
            names(&selections.select(&hpa, &selector("none"), &pods).pods),
            want(&[])
        );
    }

    #[test]
    fn only_a_change_to_a_pod_the_selector_matches_makes_the_selection_again() {
        let hpa = ObjectKey::new("a", "web");
        let web = selector("web");
        let w1 = pod("a", "w1", "web", "n1");
        let mut pods = cache(std::slice::from_ref(&w1));
        let mut selections = PodSelections::default();
        let picked = selections.select(&hpa, &web, &pods);
        assert_eq!(picked.keys, vec![&ObjectKey::new("a", "w1")]);
        assert_eq!(picked.pods.len(), 1);
        // The same app in another namespace, another app in this one: still fresh.
        let (b1, a_other) = (pod("b", "w1", "web", "n1"), pod("a", "o1", "other", "n1"));
        for added in [b1, a_other.clone()] {
            pods.insert(added.key(), added.clone());
            selections.on_pod_delta(&Delta::Added(added));
        }
        assert!(!selections.picked[&hpa].stale);
        assert_eq!(selections.select(&hpa, &web, &pods).keys.len(), 1);
        // A pod relabelled out of the selection matched before: made again, without it.
        let w1_out = pod("a", "w1", "gone", "n1");
        pods.insert(w1_out.key(), w1_out.clone());
        selections.on_pod_delta(&Delta::Updated(w1, w1_out));
        assert!(selections.picked[&hpa].stale);
        assert_eq!(selections.select(&hpa, &web, &pods).keys.len(), 0);
        assert!(!selections.picked[&hpa].stale);
    }
}
