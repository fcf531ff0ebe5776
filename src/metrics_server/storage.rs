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

/// One container's point in a scrape, with the pod and container it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScrapedPoint<'a> {
    /// The pod.
    pub pod: &'a ObjectKey,
    /// The container.
    pub container: &'a str,
    /// What the kubelet reported.
    pub point: ContainerPoint,
}

/// One container's usage as the Metrics API serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerUsage<'a> {
    /// The container.
    pub name: &'a str,
    /// CPU in nanocores.
    pub cpu_nanocores: u64,
    /// Memory in bytes.
    pub memory: u64,
}

/// A pod's `PodMetrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodUsage<'a> {
    /// The end of the earliest container's window.
    pub timestamp: SimTime,
    /// That window's length.
    pub window: SimDuration,
    /// Each container's usage, by name.
    pub containers: Vec<ContainerUsage<'a>>,
}

/// A container's last point and the one it is rated against, if any.
#[derive(Clone, Debug)]
struct StoredContainer {
    name: String,
    last: ContainerPoint,
    prev: Option<ContainerPoint>,
}

/// The last two scrapes' points.
#[derive(Clone, Debug, Default)]
pub struct PodStorage {
    /// Each pod of the last scrape: its containers by name.
    pods: BTreeMap<ObjectKey, Vec<StoredContainer>>,
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

    /// Takes a scrape of every node (upstream `Store`), its points in pod order and each
    /// pod's by container name: pods not in it are forgotten. The stored pods are updated in
    /// place, as most of them are in every scrape.
    pub fn store(&mut self, scrape: &[ScrapedPoint<'_>]) {
        let mut scraped = scrape.iter().map(|p| p.pod).peekable();
        self.pods.retain(|pod, _| {
            while scraped.next_if(|scraped| *scraped < pod).is_some() {}
            scraped.peek().is_some_and(|scraped| *scraped == pod)
        });
        let resolution = self.resolution;
        for points in scrape.chunk_by(|a, b| a.pod == b.pod) {
            let pod = points[0].pod;
            match self.pods.get_mut(pod) {
                Some(stored) => update_containers(stored, points, resolution),
                None => {
                    let fresh = points
                        .iter()
                        .map(|p| stored_container(None, p, resolution))
                        .collect();
                    self.pods.insert(pod.clone(), fresh);
                }
            }
        }
    }

    /// The pod's usage, if every container has two points (upstream `GetMetrics`). A
    /// container whose cumulative CPU went down is left out of the pod.
    pub fn pod_usage(&self, pod: &ObjectKey) -> Option<PodUsage<'_>> {
        let stored = self.pods.get(pod)?;
        if stored.is_empty() {
            return None;
        }
        let mut usage = PodUsage {
            timestamp: SimTime::MAX,
            window: SimDuration::ZERO,
            containers: Vec::with_capacity(stored.len()),
        };
        for container in stored {
            let before = container.prev?;
            let point = &container.last;
            let Some((cpu, window)) = cpu_rate(point, &before) else {
                continue;
            };
            usage.containers.push(ContainerUsage {
                name: &container.name,
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

/// A stored pod's containers after a scrape found `points` of it: in place when it found
/// the same containers, else rebuilt, each container keeping what it had.
fn update_containers(
    stored: &mut Vec<StoredContainer>,
    points: &[ScrapedPoint<'_>],
    resolution: SimDuration,
) {
    let same = stored.len() == points.len()
        && stored
            .iter()
            .zip(points)
            .all(|(c, p)| c.name == p.container);
    if same {
        for (container, p) in stored.iter_mut().zip(points) {
            container.prev = previous_point(Some(container), &p.point, resolution);
            container.last = p.point;
        }
    } else {
        *stored = points
            .iter()
            .map(|p| {
                let before = stored.iter().find(|c| c.name == p.container);
                stored_container(before, p, resolution)
            })
            .collect();
    }
}

/// A container as stored after `p`, given what was stored of it.
fn stored_container(
    before: Option<&StoredContainer>,
    p: &ScrapedPoint<'_>,
    resolution: SimDuration,
) -> StoredContainer {
    StoredContainer {
        name: p.container.to_string(),
        last: p.point,
        prev: previous_point(before, &p.point, resolution),
    }
}

/// The point a container's new `point` is rated against, given what was stored of it.
fn previous_point(
    stored: Option<&StoredContainer>,
    point: &ContainerPoint,
    resolution: SimDuration,
) -> Option<ContainerPoint> {
    let age = point.timestamp.saturating_since(point.start_time);
    if point.start_time < point.timestamp
        && age < resolution
        && age >= FRESH_CONTAINER_MIN_RESOLUTION
    {
        // A fresh container is rated against its start.
        return Some(ContainerPoint {
            timestamp: point.start_time,
            cumulative_cpu: 0,
            ..*point
        });
    }
    let stored = stored?;
    if point.start_time >= stored.last.timestamp {
        // Restarted since the stored point.
        return None;
    }
    if point.timestamp > stored.last.timestamp {
        return Some(stored.last);
    }
    stored.prev.filter(|p| p.timestamp < point.timestamp)
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
