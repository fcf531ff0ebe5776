//! Which pods a pod fault (`podCrash`, `oomKill`) hits, and what can stop it.
//!
//! A scenario names a pod (`pod: NS/NAME`, for a pod it declares itself) or, since most pods
//! are created by controllers under generated names, asks for `count` pods among the running
//! pods a label selector matches in a namespace. Either is resolved when the fault fires,
//! against the pods as the apiserver has them then: a running pod is bound, in phase Running
//! and not being deleted. The selected pods are drawn from the world's seeded stream
//! `faults/pod-choice`, so a run picks the same pods again for the same seed.

use std::fmt;
use std::sync::Arc;

use rand::RngExt;

use crate::api::labels::Selector;
use crate::api::pod::{Pod, PodPhase};
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::store::Store;
use crate::sim::SimRng;

/// The pods a pod fault hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodTarget {
    /// One pod, by namespace and name.
    Named(ObjectKey),
    /// `count` distinct pods drawn among the running pods of `namespace` that `selector`
    /// matches.
    Selected {
        /// The namespace.
        namespace: String,
        /// The label selector.
        selector: Selector,
        /// How many pods.
        count: u32,
    },
}

impl fmt::Display for PodTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PodTarget::Named(key) => write!(f, "pod {key}"),
            PodTarget::Selected {
                namespace,
                selector,
                count,
            } => write!(
                f,
                "{count} running pod(s) of {namespace} matching {selector}"
            ),
        }
    }
}

/// Why a pod fault did not hit what it asked for: the fault action's error in the timeline's
/// outcome.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PodFaultError {
    /// The pod named does not exist.
    #[error("Pod {0} not found")]
    NotFound(ObjectKey),
    /// The pod named exists but does not run.
    #[error("pod {pod} is not running ({state})")]
    NotRunning {
        /// The pod.
        pod: ObjectKey,
        /// What it is instead.
        state: String,
    },
    /// Fewer running pods match than asked for (those that match are hit).
    #[error(
        "only {found} running pod(s) in namespace {namespace} match {selector}; expected {count}"
    )]
    TooFewPods {
        /// The namespace.
        namespace: String,
        /// The selector, as written canonically.
        selector: String,
        /// How many were asked for.
        count: u32,
        /// How many match.
        found: usize,
    },
    /// The pod has no container of that name.
    #[error("pod {pod} has no container {container:?}")]
    NoSuchContainer {
        /// The pod.
        pod: ObjectKey,
        /// The container asked for.
        container: String,
    },
    /// The container is not running (waiting to start, backing off, done, being stopped).
    #[error("container {container:?} of pod {pod} is not running")]
    ContainerNotRunning {
        /// The pod.
        pod: ObjectKey,
        /// The container.
        container: String,
    },
    /// None of the pod's containers is running.
    #[error("no container of pod {0} is running")]
    NoContainerRunning(ObjectKey),
    /// The kubelet of the pod's node does not run the pod (it is down, or has not taken the
    /// pod on).
    #[error("the kubelet of node {node} does not run pod {pod}")]
    NotOnNode {
        /// The node.
        node: String,
        /// The pod.
        pod: ObjectKey,
    },
}

/// What keeps `pod` from counting as running, if anything.
fn not_running(pod: &Pod) -> Option<String> {
    if pod.metadata.is_terminating() {
        Some("terminating".to_string())
    } else if !pod.is_bound() {
        Some("not bound to a node".to_string())
    } else if pod.status.phase != PodPhase::Running {
        Some(format!("phase {}", pod.status.phase.name()))
    } else {
        None
    }
}

impl PodTarget {
    /// The pods the fault hits now, in key order, and why it hits fewer than it asks for.
    /// Draws from `rng` only for a selector, one draw per pod chosen.
    pub fn resolve(&self, store: &Store, rng: &mut SimRng) -> (Vec<Arc<Pod>>, Vec<PodFaultError>) {
        match self {
            PodTarget::Named(key) => {
                let pod = store.get(Kind::Pod, key).and_then(|o| match &**o {
                    Object::Pod(p) => Some(Arc::clone(p)),
                    _ => None,
                });
                match pod {
                    None => (Vec::new(), vec![PodFaultError::NotFound(key.clone())]),
                    Some(p) => match not_running(&p) {
                        Some(state) => (
                            Vec::new(),
                            vec![PodFaultError::NotRunning {
                                pod: key.clone(),
                                state,
                            }],
                        ),
                        None => (vec![p], Vec::new()),
                    },
                }
            }
            PodTarget::Selected {
                namespace,
                selector,
                count,
            } => {
                // Key order: the draws depend on nothing but the pods and the stream.
                let mut candidates: Vec<Arc<Pod>> = store
                    .iter_namespace(Kind::Pod, namespace)
                    .filter_map(|o| match &**o {
                        Object::Pod(p) => Some(p),
                        _ => None,
                    })
                    .filter(|p| not_running(p).is_none() && selector.matches(&p.metadata.labels))
                    .cloned()
                    .collect();
                let found = candidates.len();
                let wanted = (*count as usize).min(found);
                // A partial Fisher–Yates shuffle: the first `wanted` places hold distinct pods,
                // each equally likely.
                for i in 0..wanted {
                    let j = rng.random_range(i..found);
                    candidates.swap(i, j);
                }
                candidates.truncate(wanted);
                candidates.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
                let errors = if found < *count as usize {
                    vec![PodFaultError::TooFewPods {
                        namespace: namespace.clone(),
                        selector: selector.to_string(),
                        count: *count,
                        found,
                    }]
                } else {
                    Vec::new()
                };
                (candidates, errors)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::labels::parse_label_selector;
    use crate::sim::rng::stream;

    fn pod(name: &str, app: &str, phase: PodPhase) -> Object {
        let mut p = Pod::default();
        p.metadata.namespace = "default".into();
        p.metadata.name = name.into();
        p.metadata.labels.insert("app".into(), app.into());
        Arc::make_mut(&mut p.spec).node_name = "n1".into();
        p.status.phase = phase;
        Object::Pod(Arc::new(p))
    }

    fn store() -> Store {
        let mut store = Store::new(1000);
        for (name, app, phase) in [
            ("a", "web", PodPhase::Running),
            ("b", "web", PodPhase::Running),
            ("c", "web", PodPhase::Pending),
            ("d", "db", PodPhase::Running),
            ("e", "web", PodPhase::Running),
            ("f", "web", PodPhase::Running),
        ] {
            store.create(pod(name, app, phase)).expect("created");
        }
        store
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<&str> {
        pods.iter().map(|p| p.metadata.name.as_str()).collect()
    }

    #[test]
    fn a_selector_picks_distinct_running_matching_pods_the_same_way_for_a_seed() {
        let store = store();
        let target = PodTarget::Selected {
            namespace: "default".into(),
            selector: parse_label_selector("app=web").expect("a selector"),
            count: 3,
        };
        let pick = |seed| {
            let mut rng = stream(seed, "faults/pod-choice");
            let (pods, errors) = target.resolve(&store, &mut rng);
            assert!(errors.is_empty());
            names(&pods)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        let first = pick(1);
        assert_eq!(first.len(), 3);
        // Running web pods only: a, b, e, f (c is Pending, d is db).
        assert!(
            first
                .iter()
                .all(|n| ["a", "b", "e", "f"].contains(&n.as_str()))
        );
        assert_eq!(pick(1), first);
        // Some seed picks another set (every 3-subset of 4 is possible).
        assert!((2..20).any(|seed| pick(seed) != first));
    }

    #[test]
    fn too_few_matches_hit_those_there_are_and_say_so() {
        let store = store();
        let target = PodTarget::Selected {
            namespace: "default".into(),
            selector: parse_label_selector("app=db").expect("a selector"),
            count: 2,
        };
        let (pods, errors) = target.resolve(&store, &mut stream(1, "faults/pod-choice"));
        assert_eq!(names(&pods), vec!["d"]);
        assert_eq!(
            errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            vec!["only 1 running pod(s) in namespace default match app=db; expected 2"]
        );
    }

    #[test]
    fn a_named_pod_must_exist_and_run() {
        let store = store();
        let mut rng = stream(1, "faults/pod-choice");
        let named = |name: &str| PodTarget::Named(ObjectKey::new("default", name));
        let (pods, errors) = named("zz").resolve(&store, &mut rng);
        assert!(pods.is_empty());
        assert_eq!(errors[0].to_string(), "Pod default/zz not found");
        let (_, errors) = named("c").resolve(&store, &mut rng);
        assert_eq!(
            errors[0].to_string(),
            "pod default/c is not running (phase Pending)"
        );
        let (pods, errors) = named("a").resolve(&store, &mut rng);
        assert_eq!((names(&pods), errors.len()), (vec!["a"], 0));
    }
}
