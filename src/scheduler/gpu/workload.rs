//! The target workload of a cluster run ([`TargetWorkload`]): the typical pods (fgd-spec §2.7)
//! that FGD scores against and the fragmentation metric measures against, kept as pods come
//! and go.
//!
//! The artifact takes the trace's pods, every one of them known before the first is scheduled.
//! A cluster run learns its pods as they are created, so its target workload is the pods that
//! exist: every pod object — pending, bound or finished, CPU-only included — until it is
//! deleted, counted by type `(cpu, milli per GPU, GPUs, models)` and cut to the 95 % typical
//! prefix. When a scenario creates all its pods at once, that is the artifact's list.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::pod_gpu::PodGpuRequest;
use super::typical_pods::{PodTypeKey, TypicalPods};
use crate::api::Uid;
use crate::api::pod::Pod;

/// A pod's type for the target workload (GPU annotations that do not parse read as none).
pub fn type_key(pod: &Pod) -> PodTypeKey {
    PodGpuRequest::from_pod_lenient(pod).type_key()
}

/// The typical pods of `pods`, counted once each.
pub fn typical_of<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> TypicalPods {
    let mut counts: BTreeMap<PodTypeKey, u64> = BTreeMap::new();
    for pod in pods {
        *counts.entry(type_key(pod)).or_insert(0) += 1;
    }
    TypicalPods::from_type_counts(&counts)
}

/// The pods' types, counted incrementally, and their typical prefix, rebuilt when asked for
/// after a change.
#[derive(Clone, Debug, Default)]
pub struct TargetWorkload {
    /// Each counted pod's type.
    types: BTreeMap<Uid, PodTypeKey>,
    /// Pods per type (types whose pods are all gone stay, with 0).
    counts: BTreeMap<PodTypeKey, u64>,
    /// The typical prefix of `counts`, as last rebuilt.
    typical: Arc<TypicalPods>,
    /// `counts` changed since `typical` was built.
    dirty: bool,
}

impl TargetWorkload {
    /// Counts `pod` (again, if its type changed).
    pub fn upsert(&mut self, pod: &Pod) {
        let key = type_key(pod);
        if self.types.get(&pod.metadata.uid) == Some(&key) {
            return;
        }
        self.remove(pod.metadata.uid);
        *self.counts.entry(key.clone()).or_insert(0) += 1;
        self.types.insert(pod.metadata.uid, key);
        self.dirty = true;
    }

    /// Stops counting the pod with `uid`.
    pub fn remove(&mut self, uid: Uid) {
        if let Some(key) = self.types.remove(&uid)
            && let Some(count) = self.counts.get_mut(&key)
        {
            *count = count.saturating_sub(1);
            self.dirty = true;
        }
    }

    /// The typical pods of the pods counted now.
    pub fn typical(&mut self) -> Arc<TypicalPods> {
        if self.dirty {
            self.typical = Arc::new(TypicalPods::from_type_counts(&self.counts));
            self.dirty = false;
        }
        Arc::clone(&self.typical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::gpu::{ANNOTATION_GPU_COUNT, ANNOTATION_GPU_MILLI};
    use crate::scheduler::gpu::test_util::gpu_pod;

    fn pod(uid: u64, cpu: &str, gpu: Option<(&str, &str)>) -> Pod {
        let annotations = gpu.map_or(Vec::new(), |(count, milli)| {
            vec![(ANNOTATION_GPU_COUNT, count), (ANNOTATION_GPU_MILLI, milli)]
        });
        let mut pod = gpu_pod(cpu, &annotations);
        pod.metadata.uid = Uid(uid);
        pod
    }

    #[test]
    fn counts_follow_pods_and_rebuild_only_after_a_change() {
        let mut w = TargetWorkload::default();
        // 3 sharing pods (4 cores, 500 milli) and 1 CPU-only pod (2 cores): 4 pods, 2 types;
        // the first type alone covers 75 % < 95 %, so both are typical: counts 3 and 1.
        for uid in 1..=3 {
            w.upsert(&pod(uid, "4", Some(("1", "500"))));
        }
        w.upsert(&pod(4, "2", None));
        let t = w.typical();
        let counts: Vec<(i64, i64, u64)> = t
            .types()
            .iter()
            .map(|t| (t.key.cpu_milli, t.key.gpu_milli, t.count))
            .collect();
        assert_eq!(counts, vec![(4000, 500, 3), (2000, 0, 1)]);
        // Nothing changed: the same list, not a rebuilt one.
        w.upsert(&pod(2, "4", Some(("1", "500"))));
        assert!(Arc::ptr_eq(&t, &w.typical()));
        // Pod 2 changes type, pod 4 goes: 2 × (4 cores, 500) and 1 × (4 cores, 1000).
        w.upsert(&pod(2, "4", Some(("1", "1000"))));
        w.remove(Uid(4));
        w.remove(Uid(99));
        let t = w.typical();
        assert_eq!((t.pods(), t.total(), t.distinct_types()), (3, 3, 2));
        assert_eq!(t.types()[0].key.gpu_milli, 500);
        assert_eq!(typical_of([&pod(7, "1", None)]).pods(), 1);
    }
}
