//! What a container does, which no Kubernetes field says: kubesim's behaviour model.
//!
//! The scenario's `spec.kubelet.containers` sets what every container does; a pod's
//! annotations override it for all its containers, and an annotation suffixed with `.<name>`
//! for the container of that name alone:
//!
//! | annotation | meaning |
//! |---|---|
//! | `kubesim.io/ready-after` | from the container's start until its readiness probe passes |
//! | `kubesim.io/started-after` | from its start until its startup probe passes |
//! | `kubesim.io/liveness-fails-after` | from its start until its liveness probe fails (for good) |
//! | `kubesim.io/exit-after` | how long it runs before it exits by itself |
//! | `kubesim.io/exit-code` | its exit code then (a crash loop: `1`, every run) |
//!
//! So `kubesim.io/exit-after: 5s` with `kubesim.io/exit-code: "1"` is a container that crashes
//! five seconds after every start. Init containers that are not sidecars exit after 0 s with
//! code 0 unless an annotation says otherwise. A value that does not parse is ignored here;
//! the scenario loader refuses it in the manifests it reads (`api::behavior`).

use crate::api::pod::Container;
use crate::config::kubelet::ContainerBehavior;
use crate::sim::SimDuration;

pub use crate::api::behavior::{
    EXIT_AFTER, EXIT_CODE, LIVENESS_FAILS_AFTER, READY_AFTER, STARTED_AFTER,
};

/// What one container does, relative to each of its starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Behavior {
    /// Its readiness probe passes from this long after its start.
    pub ready_after: SimDuration,
    /// Its startup probe passes from this long after its start.
    pub started_after: SimDuration,
    /// Its liveness probe fails from this long after its start.
    pub liveness_fails_after: Option<SimDuration>,
    /// It exits this long after its start.
    pub exit_after: Option<SimDuration>,
    /// With this code.
    pub exit_code: i32,
}

impl Behavior {
    /// The behaviour of `container` (an init container that is not a sidecar when
    /// `run_to_completion`) in a pod annotated with `annotations`, over `defaults`.
    pub fn of(
        container: &Container,
        run_to_completion: bool,
        annotations: &crate::api::meta::Annotations,
        defaults: &ContainerBehavior,
    ) -> Behavior {
        let get = |key: &str| {
            annotations
                .get(&format!("{key}.{}", container.name))
                .or_else(|| annotations.get(key))
        };
        let duration = |key: &str| get(key).and_then(|v| v.parse::<SimDuration>().ok());
        let default_exit = if run_to_completion {
            Some(SimDuration::ZERO)
        } else {
            defaults.exit_after
        };
        Behavior {
            ready_after: duration(READY_AFTER).unwrap_or(defaults.ready_after),
            started_after: duration(STARTED_AFTER).unwrap_or(defaults.started_after),
            liveness_fails_after: duration(LIVENESS_FAILS_AFTER).or(defaults.liveness_fails_after),
            exit_after: duration(EXIT_AFTER).or(default_exit),
            exit_code: get(EXIT_CODE).and_then(|v| v.parse().ok()).unwrap_or(
                if run_to_completion {
                    0
                } else {
                    defaults.exit_code
                },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_annotation_beats_the_pod_one_which_beats_the_default() {
        let mut annotations = crate::api::meta::Annotations::new();
        annotations.insert(EXIT_AFTER.to_string(), "5s".to_string());
        annotations.insert(format!("{EXIT_AFTER}.db"), "1m".to_string());
        annotations.insert(EXIT_CODE.to_string(), "1".to_string());
        let defaults = ContainerBehavior {
            ready_after: SimDuration::from_secs(3),
            ..ContainerBehavior::default()
        };
        let web = Container {
            name: "web".into(),
            ..Container::default()
        };
        let db = Container {
            name: "db".into(),
            ..Container::default()
        };
        let w = Behavior::of(&web, false, &annotations, &defaults);
        let d = Behavior::of(&db, false, &annotations, &defaults);
        assert_eq!(w.exit_after, Some(SimDuration::from_secs(5)));
        assert_eq!(d.exit_after, Some(SimDuration::from_secs(60)));
        assert_eq!((w.exit_code, w.ready_after), (1, SimDuration::from_secs(3)));
    }
}
