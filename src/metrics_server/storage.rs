//! metrics-server's pod storage (upstream `sigs.k8s.io/metrics-server/pkg/storage/pod.go`): the
//! points of the last two scrapes of each container, and the usage the Metrics API serves
//! from them.
//!
//! * CPU is a rate: the cumulative CPU between the previous and the last point over the time
//!   between them, in nanocores (truncated). The pod's `timestamp` and `window` are its
//!   earliest container's last point and that span. A pod appears only once every container
//!   has two points — a new pod has no metric for one scrape (the HPA counts it missing) —
//!   except that a container started between 10 s and one metric resolution before its first
//!   point gets a point at its start with nothing used, so it is served at once.
//! * Memory is the last point's working set.
//! * A container whose start time is not before the stored point restarted: its old point is
//!   dropped, and it is served again only after two new ones.
//! * A point no newer than the stored one keeps the stored previous point, if that is older.

use std::collections::BTreeMap;

use crate::api::ObjectKey;
use crate::sim::{SimDuration, SimTime};

/// The shortest age at which a container's first point may be rated against its start
/// (`freshContainerMinMetricsResolution`).
pub const FRESH_CONTAINER_MIN_RESOLUTION: SimDuration = SimDuration::from_secs(10);

/// One container as a scrape found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContainerPoint {
    /// When the container started.
    pub start_time: SimTime,
    /// When the kubelet sampled it.
    pub timestamp: SimTime,
    /// CPU used since its start, in core-nanoseconds.
    pub cumulative_cpu: u128,
    /// Its memory working set, in bytes.
    pub memory: u64,
}

/// One pod's containers as one scrape found them, by container name.
pub type PodPoints = BTreeMap<String, ContainerPoint>;

/// One container's usage as the Metrics API serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerUsage {
    /// The container.
    pub name: String,
    /// CPU in nanocores.
    pub cpu_nanocores: u64,
    /// Memory in bytes.
    pub memory: u64,
}

/// A pod's `PodMetrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodUsage {
    /// The end of the earliest container's window.
    pub timestamp: SimTime,
    /// That window's length.
    pub window: SimDuration,
    /// Each container's usage, by name.
    pub containers: Vec<ContainerUsage>,
}

/// The last two scrapes' points.
#[derive(Clone, Debug, Default)]
pub struct PodStorage {
    last: BTreeMap<ObjectKey, PodPoints>,
    prev: BTreeMap<ObjectKey, PodPoints>,
    /// `--metric-resolution`: the scrape period.
    resolution: SimDuration,
}

impl PodStorage {
    /// An empty storage for scrapes every `resolution`.
    pub fn new(resolution: SimDuration) -> Self {
        PodStorage {
            resolution,
            ..PodStorage::default()
        }
    }

    /// Takes a scrape of every node (upstream `Store`): pods not in it are forgotten.
    pub fn store(&mut self, batch: BTreeMap<ObjectKey, PodPoints>) {
        // In key order, so collecting builds each map in one pass.
        let prev = batch
            .iter()
            .filter_map(|(pod, points)| {
                let kept: PodPoints = points
                    .iter()
                    .filter_map(|(name, point)| {
                        Some((name.clone(), self.previous_point(pod, name, point)?))
                    })
                    .collect();
                (!kept.is_empty()).then(|| (pod.clone(), kept))
            })
            .collect();
        self.last = batch;
        self.prev = prev;
    }

    /// The point a container's new `point` is rated against, if any.
    fn previous_point(
        &self,
        pod: &ObjectKey,
        name: &str,
        point: &ContainerPoint,
    ) -> Option<ContainerPoint> {
        let age = point.timestamp.saturating_since(point.start_time);
        if point.start_time < point.timestamp
            && age < self.resolution
            && age >= FRESH_CONTAINER_MIN_RESOLUTION
        {
            // A fresh container is rated against its start.
            return Some(ContainerPoint {
                timestamp: point.start_time,
                cumulative_cpu: 0,
                ..*point
            });
        }
        let stored = self.last.get(pod)?.get(name)?;
        if point.start_time >= stored.timestamp {
            // Restarted since the stored point.
            return None;
        }
        if point.timestamp > stored.timestamp {
            return Some(*stored);
        }
        self.prev
            .get(pod)
            .and_then(|p| p.get(name))
            .filter(|p| p.timestamp < point.timestamp)
            .copied()
    }

    /// The pod's usage, if every container has two points (upstream `GetMetrics`). A
    /// container whose cumulative CPU went down is left out of the pod.
    pub fn pod_usage(&self, pod: &ObjectKey) -> Option<PodUsage> {
        let (last, prev) = (self.last.get(pod)?, self.prev.get(pod)?);
        let mut usage = PodUsage {
            timestamp: SimTime::MAX,
            window: SimDuration::ZERO,
            containers: Vec::new(),
        };
        for (name, point) in last {
            let before = prev.get(name)?;
            let Some((cpu, window)) = cpu_rate(point, before) else {
                continue;
            };
            usage.containers.push(ContainerUsage {
                name: name.clone(),
                cpu_nanocores: cpu,
                memory: point.memory,
            });
            if point.timestamp < usage.timestamp {
                usage.timestamp = point.timestamp;
                usage.window = window;
            }
        }
        if usage.containers.is_empty() {
            // Upstream's zero time: no container could be rated.
            usage.timestamp = SimTime::ZERO;
        }
        Some(usage)
    }
}

/// Nanocores between two points (truncated) and the window, or `None` for a counter that went
/// down or a zero window.
fn cpu_rate(last: &ContainerPoint, prev: &ContainerPoint) -> Option<(u64, SimDuration)> {
    let used = last.cumulative_cpu.checked_sub(prev.cumulative_cpu)?;
    let window = last.timestamp.saturating_since(prev.timestamp);
    if window.is_zero() {
        return None;
    }
    // core-ns per ns is cores; × 1e9 is nanocores.
    let nanocores = used * 1_000_000_000 / u128::from(window.as_nanos());
    Some((u64::try_from(nanocores).unwrap_or(u64::MAX), window))
}

/// A CPU usage in nanocores as the HPA's metrics client reads it: milli-cores rounded up
/// (`Quantity.MilliValue()` of a nano quantity).
pub fn nanocores_to_millicores(nanocores: u64) -> i64 {
    i64::try_from(nanocores.div_ceil(1_000_000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
