//! The kubelets' configuration: the `KubeletConfiguration` fields kubesim acts on, under their
//! real names and with their real defaults, and kubesim's model of what takes time on a node
//! and of what a container does (neither is in any Kubernetes document).
//!
//! A scenario writes it under `spec.kubelet`; every kubelet of the run shares it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::sim::SimDuration;

/// `nodeStatusUpdateFrequency` (upstream default 10 s).
pub const DEFAULT_NODE_STATUS_UPDATE_FREQUENCY: SimDuration = SimDuration::from_secs(10);
/// `nodeStatusReportFrequency` (upstream default 5 min when the update frequency is not set).
pub const DEFAULT_NODE_STATUS_REPORT_FREQUENCY: SimDuration = SimDuration::from_mins(5);
/// `nodeLeaseDurationSeconds` (upstream default 40).
pub const DEFAULT_NODE_LEASE_DURATION_SECONDS: i32 = 40;
/// `maxPods` (upstream default 110).
pub const DEFAULT_MAX_PODS: i64 = 110;
/// `nodeStatusMaxImages` (upstream default 50; -1 lists every image).
pub const DEFAULT_NODE_STATUS_MAX_IMAGES: i32 = 50;
/// The generic PLEG's relist period (`genericPlegRelistPeriod` in kubelet.go, not configurable
/// upstream).
pub const DEFAULT_PLEG_RELIST_PERIOD: SimDuration = SimDuration::from_secs(1);
/// The size reported for an image the scenario gives none for.
pub const DEFAULT_IMAGE_SIZE_BYTES: i64 = 200 * 1024 * 1024;

/// A duration drawn from a distribution of kubesim's timing model.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum Distribution {
    /// Always this long: `{fixed: 1s}`.
    Fixed(SimDuration),
    /// Uniform between `min` and `max`: `{uniform: {min: 300ms, max: 2s}}`.
    Uniform {
        /// Shortest.
        min: SimDuration,
        /// Longest.
        max: SimDuration,
    },
    /// Log-normal with this median and shape: `{lognormal: {median: 5s, sigma: 0.8}}`.
    #[serde(rename = "lognormal")]
    LogNormal {
        /// The median (e^μ).
        median: SimDuration,
        /// The standard deviation of the logarithm (σ ≥ 0).
        sigma: f64,
    },
}

impl Distribution {
    /// What is wrong with the distribution's parameters, if anything.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Distribution::Fixed(_) => Ok(()),
            Distribution::Uniform { min, max } if min > max => {
                Err(format!("expected min ≤ max, found min {min} and max {max}"))
            }
            Distribution::Uniform { .. } => Ok(()),
            Distribution::LogNormal { sigma, .. } if !(sigma.is_finite() && *sigma >= 0.0) => {
                Err(format!("expected a finite sigma ≥ 0, found {sigma}"))
            }
            Distribution::LogNormal { .. } => Ok(()),
        }
    }
}

/// kubesim's model of how long each step of a pod's life on a node takes.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeletTiming {
    /// RunPodSandbox: the pause container and CNI ADD (default uniform 300 ms – 2 s).
    pub sandbox: Distribution,
    /// One image pull (default log-normal, median 5 s, σ 0.8).
    pub image_pull: Distribution,
    /// Creating and starting one container (default uniform 100 ms – 1 s).
    pub container_start: Distribution,
    /// How long a container takes to stop after SIGTERM (default uniform 100 ms – 1 s); the
    /// grace period caps it, after which the container is killed.
    pub container_stop: Distribution,
    /// The PLEG's relist period: a container's start or exit is seen at the next relist.
    pub pleg_relist_period: SimDuration,
}

impl Default for KubeletTiming {
    fn default() -> Self {
        KubeletTiming {
            sandbox: Distribution::Uniform {
                min: SimDuration::from_millis(300),
                max: SimDuration::from_secs(2),
            },
            image_pull: Distribution::LogNormal {
                median: SimDuration::from_secs(5),
                sigma: 0.8,
            },
            container_start: Distribution::Uniform {
                min: SimDuration::from_millis(100),
                max: SimDuration::from_secs(1),
            },
            container_stop: Distribution::Uniform {
                min: SimDuration::from_millis(100),
                max: SimDuration::from_secs(1),
            },
            pleg_relist_period: DEFAULT_PLEG_RELIST_PERIOD,
        }
    }
}

/// What a container does when nothing about the pod says otherwise (the `kubesim.io/*`
/// annotations override it per pod or per container).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerBehavior {
    /// Time from the container's start until its readiness probe passes.
    pub ready_after: SimDuration,
    /// Time from the container's start until its startup probe passes.
    pub started_after: SimDuration,
    /// Time from the container's start after which its liveness probe fails (none: never).
    pub liveness_fails_after: Option<SimDuration>,
    /// How long an app container runs before it exits (none: it runs until killed). Init
    /// containers that are not sidecars exit after 0 s unless told otherwise.
    pub exit_after: Option<SimDuration>,
    /// The exit code when it exits by itself.
    pub exit_code: i32,
}

/// Every kubelet's settings in a run.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeletSettings {
    /// Whether kubelets run (default true). Without them pods stay as the scheduler left them
    /// and the apiserver finishes graceful deletions itself.
    pub enabled: bool,
    /// `nodeStatusUpdateFrequency`: how often the kubelet computes its node's status.
    pub node_status_update_frequency: SimDuration,
    /// `nodeStatusReportFrequency`: how often it writes an unchanged status.
    pub node_status_report_frequency: SimDuration,
    /// `nodeLeaseDurationSeconds`; the lease is renewed every quarter of it.
    pub node_lease_duration_seconds: i32,
    /// `serializeImagePulls`: one pull at a time per node.
    pub serialize_image_pulls: bool,
    /// `maxParallelImagePulls` when pulls are not serialized (none: no limit).
    pub max_parallel_image_pulls: Option<u32>,
    /// `maxPods`: the pod capacity the kubelet reports for a node that declares none.
    pub max_pods: i64,
    /// `nodeStatusMaxImages`: the largest images reported in `status.images` (-1: all).
    pub node_status_max_images: i32,
    /// kubesim's timing model.
    pub timing: KubeletTiming,
    /// Image sizes in bytes, by image name, for `status.images` (ImageLocality scores them).
    pub image_sizes: BTreeMap<String, i64>,
    /// The size of an image not in `image_sizes`.
    pub default_image_size: i64,
    /// What containers do unless their pod says otherwise.
    pub containers: ContainerBehavior,
    /// `kubeAPIQPS` / `kubeAPIBurst`: every kubelet's API client (default 50 / 100; an
    /// absent QPS is unset, an explicit 0 reaches client-go, which runs at 5).
    pub kube_api: super::ClientConnection,
}

impl Default for KubeletSettings {
    fn default() -> Self {
        KubeletSettings {
            enabled: true,
            node_status_update_frequency: DEFAULT_NODE_STATUS_UPDATE_FREQUENCY,
            node_status_report_frequency: DEFAULT_NODE_STATUS_REPORT_FREQUENCY,
            node_lease_duration_seconds: DEFAULT_NODE_LEASE_DURATION_SECONDS,
            serialize_image_pulls: true,
            max_parallel_image_pulls: None,
            max_pods: DEFAULT_MAX_PODS,
            node_status_max_images: DEFAULT_NODE_STATUS_MAX_IMAGES,
            timing: KubeletTiming::default(),
            image_sizes: BTreeMap::new(),
            default_image_size: DEFAULT_IMAGE_SIZE_BYTES,
            containers: ContainerBehavior::default(),
            kube_api: super::ClientConnection::default(),
        }
    }
}

impl KubeletSettings {
    /// How often the lease is renewed: `nodeLeaseDurationSeconds` × 0.25
    /// (`nodeLeaseRenewIntervalFraction`), 10 s by default.
    pub fn lease_renew_interval(&self) -> SimDuration {
        SimDuration::from_millis(
            u64::from(self.node_lease_duration_seconds.max(1).unsigned_abs()) * 250,
        )
    }

    /// The size reported for `image`.
    pub fn image_size(&self, image: &str) -> i64 {
        self.image_sizes
            .get(image)
            .copied()
            .unwrap_or(self.default_image_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_is_renewed_every_quarter_of_its_duration() {
        // 40 s × 0.25 = 10 s, as upstream's nodeLeaseRenewIntervalFraction gives.
        assert_eq!(
            KubeletSettings::default().lease_renew_interval(),
            SimDuration::from_secs(10)
        );
    }

    #[test]
    fn distributions_check_their_parameters() {
        let backwards = Distribution::Uniform {
            min: SimDuration::from_secs(2),
            max: SimDuration::from_secs(1),
        };
        assert!(backwards.check().is_err());
        let negative = Distribution::LogNormal {
            median: SimDuration::from_secs(1),
            sigma: -0.5,
        };
        assert!(negative.check().is_err());
        assert!(KubeletTiming::default().image_pull.check().is_ok());
    }
}
