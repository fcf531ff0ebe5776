//! Placement measures computed from the cluster as stored: how each workload is spread over
//! the zones.
//!
//! A workload is the set of pods with the same controller (owner reference with
//! `controller: true`), or, for pods without one, the same `app` label in the same namespace;
//! other pods are not grouped. Skew is what PodTopologySpread calls it: the largest zone
//! count minus the smallest, over every zone that has nodes (a zone with none of the
//! workload's pods counts 0).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::api::node::LABEL_ZONE;
use crate::api::{Kind, Object};
use crate::apiserver::Store;

/// How one workload is spread over zones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkloadSpread {
    /// `namespace/Kind/name` of the controller, or `namespace/app=<value>`.
    pub workload: String,
    /// Bound pods per zone (every zone with nodes listed).
    pub zones: BTreeMap<String, u64>,
    /// Largest minus smallest zone count.
    pub skew: u64,
}

/// The zone spread of every workload with bound pods, in workload order.
pub fn zone_spread(store: &Store) -> Vec<WorkloadSpread> {
    let mut node_zone: BTreeMap<&str, &str> = BTreeMap::new();
    let mut zones: BTreeSet<&str> = BTreeSet::new();
    for object in store.iter(Kind::Node) {
        if let Object::Node(n) = &**object
            && let Some(zone) = n.metadata.labels.get(LABEL_ZONE)
        {
            node_zone.insert(n.metadata.name.as_str(), zone.as_str());
            zones.insert(zone.as_str());
        }
    }
    if zones.is_empty() {
        return Vec::new();
    }
    let mut groups: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for object in store.iter(Kind::Pod) {
        let Object::Pod(pod) = &**object else {
            continue;
        };
        if !pod.is_bound() || pod.is_terminal() {
            continue;
        }
        let meta = &pod.metadata;
        let workload = match (meta.controller_ref(), meta.labels.get("app")) {
            (Some(owner), _) => format!("{}/{}/{}", meta.namespace, owner.kind, owner.name),
            (None, Some(app)) => format!("{}/app={app}", meta.namespace),
            (None, None) => continue,
        };
        let Some(zone) = node_zone.get(pod.spec.node_name.as_str()) else {
            continue;
        };
        let counts = groups
            .entry(workload)
            .or_insert_with(|| zones.iter().map(|z| (z.to_string(), 0)).collect());
        *counts.entry(zone.to_string()).or_insert(0) += 1;
    }
    groups
        .into_iter()
        .map(|(workload, zones)| {
            let max = zones.values().copied().max().unwrap_or(0);
            let min = zones.values().copied().min().unwrap_or(0);
            WorkloadSpread {
                workload,
                zones,
                skew: max - min,
            }
        })
        .collect()
}
