//! The pods of each node, by key, as a controller's pod informer shows them: what the node
//! lifecycle controller marks not Ready and the taint eviction controller looks at when a
//! node's taints change, found without walking every pod of the cluster.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::pod::Pod;
use crate::api::{Object, ObjectKey};
use crate::client::informer::Delta;

/// Node name → keys of the pods bound to it.
#[derive(Clone, Debug, Default)]
pub struct PodsByNode {
    by_node: BTreeMap<String, BTreeSet<ObjectKey>>,
}

impl PodsByNode {
    /// Takes in one pod change: `old` leaves its node, `new` joins its own (an unbound pod is
    /// on none).
    pub fn apply(&mut self, old: Option<&Pod>, new: Option<&Pod>) {
        if let Some(old) = old
            && let Some(keys) = self.by_node.get_mut(&old.spec.node_name)
        {
            keys.remove(&pod_key(old));
            if keys.is_empty() {
                self.by_node.remove(&old.spec.node_name);
            }
        }
        if let Some(new) = new
            && !new.spec.node_name.is_empty()
        {
            self.by_node
                .entry(new.spec.node_name.clone())
                .or_default()
                .insert(pod_key(new));
        }
    }

    /// The keys of the pods on `node`, in key order.
    pub fn on(&self, node: &str) -> Vec<ObjectKey> {
        self.by_node
            .get(node)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The pods a pod informer's delta is about: (before, after).
pub fn pods_of(delta: &Delta) -> (Option<&Pod>, Option<&Pod>) {
    match delta {
        Delta::Added(new) => (None, pod(new)),
        Delta::Updated(old, new) => (pod(old), pod(new)),
        Delta::Deleted(old) => (pod(old), None),
    }
}

fn pod(object: &Object) -> Option<&Pod> {
    object.as_pod().map(|p| &**p)
}

/// A pod's namespace and name.
pub fn pod_key(pod: &Pod) -> ObjectKey {
    ObjectKey::new(pod.metadata.namespace.clone(), pod.metadata.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = "default".into();
        p.metadata.name = name.into();
        std::sync::Arc::make_mut(&mut p.spec).node_name = node.into();
        p
    }

    #[test]
    fn a_pod_is_on_its_node_until_it_moves_or_goes() {
        let mut index = PodsByNode::default();
        let (a, b) = (pod("a", "n1"), pod("b", "n1"));
        index.apply(None, Some(&pod("p", "")));
        index.apply(None, Some(&a));
        index.apply(None, Some(&b));
        let key = |n: &str| ObjectKey::new("default", n);
        assert_eq!(index.on("n1"), vec![key("a"), key("b")]);
        assert!(index.on("").is_empty());
        index.apply(Some(&b), Some(&pod("b", "n2")));
        index.apply(Some(&a), None);
        assert!(index.on("n1").is_empty());
        assert_eq!(index.on("n2"), vec![key("b")]);
    }
}
