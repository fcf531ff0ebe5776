//! Resource lists and the resource vector the scheduler does arithmetic on.
//!
//! Manifests say `cpu: 500m`, `memory: 1Gi`, `nvidia.com/gpu: 1`; the scheduler works on integers:
//! millicores, bytes, counts. [`Resources`] is that integer vector, and [`pod_requests`] counts a
//! pod's request the way kube-scheduler does (containers, init containers, sidecars, overhead).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pod::{Container, PodSpec};
use super::quantity::Quantity;

/// `cpu`.
pub const CPU: &str = "cpu";
/// `memory`.
pub const MEMORY: &str = "memory";
/// `ephemeral-storage`.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// `pods`: how many pods a node accepts.
pub const PODS: &str = "pods";

/// CPU the scheduler assumes for a container without a CPU request, when scoring (100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory the scheduler assumes for a container without a memory request, when scoring (200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A map from resource name to quantity, as in `resources.requests` or `status.allocatable`.
pub type ResourceList = super::sorted_map::SortedMap<String, Quantity>;

/// A container's `resources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceRequirements {
    /// What the container is guaranteed; what the scheduler counts.
    pub requests: ResourceList,
    /// The most the container may use. When a limit is set without a request, the request
    /// defaults to the limit (apiserver defaulting), see [`effective_requests`].
    pub limits: ResourceList,
}

/// An integer resource vector: millicores, bytes and counts.
///
/// The scheduler keeps three per node and reads them on every node it examines, so the
/// struct is kept small: the scalar resources, which almost every pod and node lacks, take one
/// pointer ([`ScalarResources`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Pod slots (only meaningful for node capacity).
    pub pods: i64,
    /// Extended and other scalar resources (`nvidia.com/gpu`, hugepages, …) as integer values.
    pub scalar: ScalarResources,
}

/// Scalar resources by name: a map that, while empty (the usual case), is one null pointer
/// rather than a `BTreeMap` inline (three words), which keeps [`Resources`] at five words.
/// Reads go through `Deref` to the map; writes through [`ScalarResources::insert`] and
/// [`ScalarResources::slot`].
// The box is the point: one word in place of a map's three, in every resource vector.
#[allow(clippy::box_collection)]
#[derive(Clone, Debug, Default)]
pub struct ScalarResources(Option<Box<BTreeMap<String, i64>>>);

/// What an absent map reads as.
static NO_SCALARS: BTreeMap<String, i64> = BTreeMap::new();

impl ScalarResources {
    /// Sets resource `name` to `value`.
    pub fn insert(&mut self, name: String, value: i64) -> Option<i64> {
        self.0.get_or_insert_default().insert(name, value)
    }

    /// The value of resource `name`, inserted as 0 if absent.
    pub fn slot(&mut self, name: &str) -> &mut i64 {
        self.0
            .get_or_insert_default()
            .entry(name.to_string())
            .or_insert(0)
    }
}

impl std::ops::Deref for ScalarResources {
    type Target = BTreeMap<String, i64>;

    fn deref(&self) -> &BTreeMap<String, i64> {
        self.0.as_deref().unwrap_or(&NO_SCALARS)
    }
}

impl<'a> IntoIterator for &'a ScalarResources {
    type Item = (&'a String, &'a i64);
    type IntoIter = std::collections::btree_map::Iter<'a, String, i64>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Equal when the maps are (an empty map equals an absent one).
impl PartialEq for ScalarResources {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for ScalarResources {}

impl Serialize for ScalarResources {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl FromIterator<(String, i64)> for ScalarResources {
    fn from_iter<I: IntoIterator<Item = (String, i64)>>(iter: I) -> Self {
        let map: BTreeMap<String, i64> = iter.into_iter().collect();
        ScalarResources((!map.is_empty()).then(|| Box::new(map)))
    }
}

impl Resources {
    /// Converts a resource list: cpu in millicores, everything else by `Quantity::value` (which
    /// rounds up, so `100m` of memory is 1 byte, as upstream).
    pub fn from_list(list: &ResourceList) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list {
            r.set(
                name,
                if name == CPU {
                    q.milli_value()
                } else {
                    q.value()
                },
            );
        }
        r
    }

    /// The amount of resource `name` (0 when absent).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.pods,
            _ => self.scalar.get(name).copied().unwrap_or(0),
        }
    }

    /// Sets the amount of resource `name`.
    pub fn set(&mut self, name: &str, value: i64) {
        match name {
            CPU => self.milli_cpu = value,
            MEMORY => self.memory = value,
            EPHEMERAL_STORAGE => self.ephemeral_storage = value,
            PODS => self.pods = value,
            _ => {
                self.scalar.insert(name.to_string(), value);
            }
        }
    }

    /// Adds `other` component-wise.
    pub fn add(&mut self, other: &Resources) {
        self.combine(other, |a, b| a.saturating_add(b));
    }

    /// Subtracts `other` component-wise.
    pub fn sub(&mut self, other: &Resources) {
        self.combine(other, |a, b| a.saturating_sub(b));
    }

    /// Replaces each component with the larger of the two.
    pub fn max_with(&mut self, other: &Resources) {
        self.combine(other, i64::max);
    }

    fn combine(&mut self, other: &Resources, f: impl Fn(i64, i64) -> i64) {
        self.milli_cpu = f(self.milli_cpu, other.milli_cpu);
        self.memory = f(self.memory, other.memory);
        self.ephemeral_storage = f(self.ephemeral_storage, other.ephemeral_storage);
        self.pods = f(self.pods, other.pods);
        for (name, &v) in &other.scalar {
            let slot = self.scalar.slot(name);
            *slot = f(*slot, v);
        }
    }

    /// Whether every component is zero.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.pods == 0
            && self.scalar.values().all(|&v| v == 0)
    }
}

/// A container's requests after apiserver defaulting: a resource with a limit but no request
/// requests its limit.
pub fn effective_requests(container: &Container) -> Resources {
    let mut list = container.resources.limits.clone();
    for (name, q) in &container.resources.requests {
        list.insert(name.clone(), *q);
    }
    Resources::from_list(&list)
}

/// Whether missing CPU and memory requests count as zero (the Filter view) or as the scheduler's
/// defaults of 100m and 200 MiB (the Score view, so that best-effort pods do not all pile onto
/// one node).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingRequests {
    /// Count what is written (NodeResourcesFit filter, BalancedAllocation).
    AsZero,
    /// Count 100m CPU / 200 MiB memory for a container that does not request them (scoring).
    AsSchedulerDefaults,
}

fn container_requests(container: &Container, missing: MissingRequests) -> Resources {
    let mut r = effective_requests(container);
    if missing == MissingRequests::AsSchedulerDefaults {
        let has = |name: &str| {
            container.resources.requests.contains_key(name)
                || container.resources.limits.contains_key(name)
        };
        if !has(CPU) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has(MEMORY) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

/// A pod's resource request as kube-scheduler counts it (`resourcehelper.PodRequests`):
///
/// * regular containers run together, so their requests add up;
/// * sidecars (init containers with `restartPolicy: Always`) start in order and keep running, so
///   each adds to everything after it;
/// * ordinary init containers run one at a time before the app containers, each alongside the
///   sidecars started before it, so only the largest such moment counts;
/// * the result is the component-wise max of the steady state (containers + all sidecars) and the
///   largest init moment, plus the pod overhead.
pub fn pod_requests(spec: &PodSpec, missing: MissingRequests) -> Resources {
    let mut steady = Resources::default();
    for c in &spec.containers {
        steady.add(&container_requests(c, missing));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in &spec.init_containers {
        let req = container_requests(c, missing);
        let mut moment = sidecars.clone();
        moment.add(&req);
        init_peak.max_with(&moment);
        if c.is_sidecar() {
            sidecars.add(&req);
        }
    }
    steady.add(&sidecars);
    steady.max_with(&init_peak);
    steady.add(&Resources::from_list(&spec.overhead));
    steady
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        match s.parse() {
            Ok(q) => q,
            Err(e) => panic!("bad test quantity {s}: {e}"),
        }
    }

    fn container(cpu: Option<&str>, mem: Option<&str>) -> Container {
        let mut c = Container::default();
        if let Some(cpu) = cpu {
            c.resources.requests.insert(CPU.into(), q(cpu));
        }
        if let Some(mem) = mem {
            c.resources.requests.insert(MEMORY.into(), q(mem));
        }
        c
    }

    #[test]
    fn containers_add_and_init_containers_take_the_max() {
        // The init container needs more CPU (500m > 300m) but less memory (1Gi < 2Gi).
        let mut spec = PodSpec {
            containers: vec![
                container(Some("100m"), Some("1Gi")),
                container(Some("200m"), Some("1Gi")),
            ],
            init_containers: vec![container(Some("500m"), Some("1Gi"))],
            ..PodSpec::default()
        };
        spec.overhead.insert(CPU.into(), q("10m"));
        let r = pod_requests(&spec, MissingRequests::AsZero);
        // cpu = max(100+200, 500) + 10 overhead = 510m; memory = max(2Gi, 1Gi) = 2Gi.
        assert_eq!(r.milli_cpu, 510);
        assert_eq!(r.memory, 2 * 1024 * 1024 * 1024);
    }

    #[test]
    fn sidecars_run_alongside_everything_after_them() {
        let mut spec = PodSpec::default();
        let mut sidecar = container(Some("100m"), None);
        sidecar.restart_policy = Some("Always".into());
        spec.init_containers = vec![sidecar, container(Some("300m"), None)];
        spec.containers = vec![container(Some("150m"), None)];
        let r = pod_requests(&spec, MissingRequests::AsZero);
        // Init moment 2: sidecar 100 + init 300 = 400m. Steady: 150 + sidecar 100 = 250m.
        // max(400, 250) = 400m.
        assert_eq!(r.milli_cpu, 400);
    }

    #[test]
    fn scoring_view_fills_in_missing_requests() {
        let spec = PodSpec {
            containers: vec![container(None, None), container(Some("50m"), None)],
            ..PodSpec::default()
        };
        let filter = pod_requests(&spec, MissingRequests::AsZero);
        assert_eq!((filter.milli_cpu, filter.memory), (50, 0));
        let score = pod_requests(&spec, MissingRequests::AsSchedulerDefaults);
        // Container 1: 100m + 200Mi defaults; container 2: 50m written + 200Mi default.
        assert_eq!(score.milli_cpu, 150);
        assert_eq!(score.memory, 2 * DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn limits_stand_in_for_missing_requests() {
        let mut c = Container::default();
        c.resources.limits.insert(CPU.into(), q("2"));
        c.resources.limits.insert("nvidia.com/gpu".into(), q("1"));
        let r = effective_requests(&c);
        assert_eq!(r.milli_cpu, 2000);
        assert_eq!(r.get("nvidia.com/gpu"), 1);
    }

    #[test]
    fn memory_in_milli_units_rounds_up_to_a_byte() {
        let mut list = ResourceList::new();
        list.insert(MEMORY.into(), q("100m"));
        assert_eq!(Resources::from_list(&list).memory, 1);
    }
}
