//! A pod's GPU-sharing request ([`PodGpuRequest`]): what the GPU-sharing policies see of a pod,
//! built from an openb CSV row or from the pod annotations the FGD artifact writes.
//!
//! fgd-spec §1.2: GPU annotations exist only when `num_gpu != 0`: `gpu-count = num_gpu`,
//! `gpu-milli = gpu_milli` clamped to `0..=1000`, `gpu-card-model = gpu_spec` (empty → none).
//! So a CPU-only pod's `gpu_milli` and `gpu_spec` are ignored. Memory filters but is never
//! scored and is not part of a pod's type (§2.7).
//!
//! The GPUs a placed pod holds are the artifact's `gpu-index` annotation (`"1"`, `"0-1-2-3"`):
//! written at Reserve, carried onto the pod by its Binding ([`parse_gpu_index`],
//! [`format_gpu_index`]).

use crate::api::gpu::{
    ANNOTATION_GPU_COUNT, ANNOTATION_GPU_INDEX, ANNOTATION_GPU_MILLI, ANNOTATION_GPU_MODEL,
    GPU_INDEX_SEPARATOR, GPU_MILLI,
};
use crate::api::pod::Pod;
use crate::api::resources::{MissingRequests, Resources, pod_requests};
use crate::scheduler::node_info::PodInfo;
use crate::workload::openb::PodRow;

/// CPU a container without a CPU request counts for in scores and pod types (the scheduler's
/// "non-zero" request; fgd-spec §1.2). No openb pod has 0 CPU.
pub const DEFAULT_SCORE_MILLI_CPU: i64 = 100;

/// Bytes in a MiB: openb's memory unit.
pub(crate) const MIB: i64 = 1024 * 1024;

/// A pod's GPU-sharing tag, used by GpuClustering (fgd-spec §2.4): `share` for a pod sharing one
/// GPU, `<n>-gpu` for a pod with whole GPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GpuTag {
    /// One GPU, less than all of it.
    Share,
    /// `n` whole GPUs (`1-gpu`, `2-gpu`, …).
    Gpus(u32),
}

impl std::fmt::Display for GpuTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GpuTag::Share => f.write_str("share"),
            GpuTag::Gpus(n) => write!(f, "{n}-gpu"),
        }
    }
}

/// What the GPU-sharing scheduler needs to know about one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodGpuRequest {
    /// CPU request in millicores as written (the filter and the node's accounting use it).
    pub cpu_milli: i64,
    /// CPU as scores and pod types count it: the request, or [`DEFAULT_SCORE_MILLI_CPU`] when the
    /// pod requests none (fgd-spec §1.2 "non-zero" requests).
    pub score_cpu_milli: i64,
    /// Memory request in MiB (filter only).
    pub memory_mib: i64,
    /// Number of GPUs (0 for CPU-only pods).
    pub num_gpu: u32,
    /// Share of each GPU in milli, clamped to `0..=1000`; 0 for CPU-only pods.
    pub gpu_milli: i64,
    /// Allowed GPU models as written (`|`-separated); empty means any model.
    pub gpu_spec: String,
    /// `gpu_spec` split on `|`; empty means any model.
    pub models: Vec<String>,
}

/// A pod annotation that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("annotation {annotation}: expected {expected}, found {found:?}")]
pub struct PodGpuError {
    /// The annotation.
    pub annotation: &'static str,
    /// What it should hold.
    pub expected: &'static str,
    /// What it holds.
    pub found: String,
}

/// `gpu-milli` clamped as the artifact's converter writes it: `0<m≤1000 → m`, `m>1000 → 1000`,
/// `m≤0 → 0`.
pub fn clamp_gpu_milli(milli: i64) -> i64 {
    milli.clamp(0, GPU_MILLI)
}

/// The GPU indices of a `gpu-index` annotation (`"2"`, `"0-1-2-3"`; empty text: none), in the
/// order written, as the artifact's `GpuIdStrToIntList` reads them.
pub fn parse_gpu_index(text: &str) -> Result<Vec<usize>, PodGpuError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(GPU_INDEX_SEPARATOR)
        .map(|part| {
            part.trim().parse::<usize>().map_err(|_| PodGpuError {
                annotation: ANNOTATION_GPU_INDEX,
                expected: "GPU indices separated by '-' (\"1\", \"0-1-2-3\")",
                found: text.to_owned(),
            })
        })
        .collect()
}

/// The `gpu-index` annotation of these GPUs (`[0, 1]` → `"0-1"`).
pub fn format_gpu_index(gpus: &[usize]) -> String {
    let parts: Vec<String> = gpus.iter().map(usize::to_string).collect();
    parts.join(&GPU_INDEX_SEPARATOR.to_string())
}

/// The GPUs a pod's annotations say it holds: `None` without a `gpu-index` annotation.
pub fn gpu_index_of(
    annotations: &crate::api::meta::Annotations,
) -> Result<Option<Vec<usize>>, PodGpuError> {
    annotations
        .get(ANNOTATION_GPU_INDEX)
        .map(|text| parse_gpu_index(text))
        .transpose()
}

/// A pod's CPU as written (millicores), memory (MiB, rounded up) and CPU as scores count it.
fn pod_cpu_memory(pod: &Pod) -> (i64, i64, i64) {
    let written = pod_requests(&pod.spec, MissingRequests::AsZero);
    let scored = pod_requests(&pod.spec, MissingRequests::AsSchedulerDefaults);
    cpu_memory(&written, &scored)
}

/// [`pod_cpu_memory`] from the pod's requests as written (`written`, missing ones as 0) and as
/// scores count them (`scored`, missing ones as the scheduler's defaults).
fn cpu_memory(written: &Resources, scored: &Resources) -> (i64, i64, i64) {
    let memory_mib = written.memory / MIB + i64::from(written.memory % MIB > 0);
    (written.milli_cpu, memory_mib, scored.milli_cpu)
}

impl PodGpuRequest {
    /// The request of a pod with these values: applies the annotation rules of fgd-spec §1.2
    /// (GPU fields only when `num_gpu != 0`, milli clamped).
    pub fn new(
        cpu_milli: i64,
        memory_mib: i64,
        num_gpu: u32,
        gpu_milli: i64,
        gpu_spec: &str,
    ) -> Self {
        let (gpu_milli, gpu_spec) = if num_gpu == 0 {
            (0, String::new())
        } else {
            (clamp_gpu_milli(gpu_milli), gpu_spec.trim().to_owned())
        };
        let models = if gpu_spec.is_empty() {
            Vec::new()
        } else {
            gpu_spec.split('|').map(str::to_owned).collect()
        };
        PodGpuRequest {
            cpu_milli,
            score_cpu_milli: if cpu_milli == 0 {
                DEFAULT_SCORE_MILLI_CPU
            } else {
                cpu_milli
            },
            memory_mib,
            num_gpu,
            gpu_milli,
            gpu_spec,
            models,
        }
    }

    /// The request of an openb pod-list row.
    pub fn from_row(row: &PodRow) -> Self {
        PodGpuRequest::new(
            row.cpu_milli,
            row.memory_mib,
            row.num_gpu,
            row.gpu_milli,
            &row.gpu_spec,
        )
    }

    /// The request given CPU and memory and the artifact's GPU annotations. A missing
    /// `gpu-count` means a CPU-only pod; a missing `gpu-milli` means 0 milli per GPU.
    pub fn from_annotations(
        cpu_milli: i64,
        memory_mib: i64,
        annotations: &crate::api::meta::Annotations,
    ) -> Result<Self, PodGpuError> {
        let num_gpu = match annotations.get(ANNOTATION_GPU_COUNT) {
            None => 0,
            Some(text) => text.trim().parse::<u32>().map_err(|_| PodGpuError {
                annotation: ANNOTATION_GPU_COUNT,
                expected: "a non-negative integer",
                found: text.clone(),
            })?,
        };
        let gpu_milli = match annotations.get(ANNOTATION_GPU_MILLI) {
            None => 0,
            Some(text) => text.trim().parse::<i64>().map_err(|_| PodGpuError {
                annotation: ANNOTATION_GPU_MILLI,
                expected: "an integer (milli-GPU per GPU, 0 to 1000)",
                found: text.clone(),
            })?,
        };
        let spec = annotations
            .get(ANNOTATION_GPU_MODEL)
            .map(String::as_str)
            .unwrap_or_default();
        Ok(PodGpuRequest::new(
            cpu_milli, memory_mib, num_gpu, gpu_milli, spec,
        ))
    }

    /// The request of a Pod object: its requests as the scheduler counts them (memory rounded
    /// up to whole MiB) and its GPU annotations.
    pub fn from_pod(pod: &Pod) -> Result<Self, PodGpuError> {
        let (cpu, memory_mib, score_cpu) = pod_cpu_memory(pod);
        let mut request =
            PodGpuRequest::from_annotations(cpu, memory_mib, &pod.metadata.annotations)?;
        request.score_cpu_milli = score_cpu;
        Ok(request)
    }

    /// [`PodGpuRequest::from_pod`], reading GPU annotations that do not parse as absent (a
    /// CPU-only pod), as the artifact's annotation readers do (they return 0 on a parse error).
    /// For what a pod already placed holds; the scheduler's filter rejects such a pod instead.
    pub fn from_pod_lenient(pod: &Pod) -> Self {
        Self::lenient(pod, pod_cpu_memory(pod))
    }

    /// [`PodGpuRequest::from_pod_lenient`] for a pod whose requests the scheduler has already
    /// worked out ([`PodInfo::new`]).
    pub fn from_pod_info_lenient(pod: &PodInfo) -> Self {
        Self::lenient(&pod.pod, cpu_memory(&pod.requests, &pod.non_zero_requests))
    }

    /// The request of `pod` with its (CPU, memory MiB, scored CPU).
    fn lenient(pod: &Pod, (cpu, memory_mib, score_cpu): (i64, i64, i64)) -> Self {
        let mut request =
            PodGpuRequest::from_annotations(cpu, memory_mib, &pod.metadata.annotations)
                .unwrap_or_else(|_| PodGpuRequest::new(cpu, memory_mib, 0, 0, ""));
        request.score_cpu_milli = score_cpu;
        request
    }

    /// Whether the pod asks for GPU at all (`gpu_milli > 0`, the Open-Gpu-Share filter's test).
    pub fn is_gpu(&self) -> bool {
        self.gpu_milli > 0
    }

    /// Whether the pod shares one GPU (`num_gpu = 1`, `0 < milli < 1000`).
    pub fn is_sharing(&self) -> bool {
        self.num_gpu == 1 && self.gpu_milli > 0 && self.gpu_milli < GPU_MILLI
    }

    /// Whether the pod takes whole GPUs (`milli = 1000`, any `num_gpu ≥ 1`).
    pub fn is_exclusive(&self) -> bool {
        self.num_gpu >= 1 && self.gpu_milli == GPU_MILLI
    }

    /// Total GPU request `num_gpu · milli`.
    pub fn total_gpu_milli(&self) -> i64 {
        i64::from(self.num_gpu) * self.gpu_milli
    }

    /// Whether a node of `model` satisfies the pod's model constraint (empty spec: any model).
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }

    /// The GpuClustering tag, `None` for a CPU-only pod.
    pub fn tag(&self) -> Option<GpuTag> {
        if !self.is_gpu() {
            None
        } else if self.is_sharing() {
            Some(GpuTag::Share)
        } else {
            Some(GpuTag::Gpus(self.num_gpu))
        }
    }

    /// The pod's type (fgd-spec §2.7): `(cpu, milli per GPU, num_gpu, gpu_spec)`, memory excluded.
    pub fn type_key(&self) -> super::typical_pods::PodTypeKey {
        super::typical_pods::PodTypeKey {
            cpu_milli: self.score_cpu_milli,
            gpu_milli: self.gpu_milli,
            num_gpu: self.num_gpu,
            gpu_spec: self.gpu_spec.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_only_pods_drop_gpu_fields_and_milli_is_clamped() {
        let cpu_only = PodGpuRequest::new(4000, 10, 0, 500, "T4");
        assert_eq!((cpu_only.gpu_milli, cpu_only.gpu_spec.as_str()), (0, ""));
        assert!(!cpu_only.is_gpu() && cpu_only.tag().is_none());
        assert!(cpu_only.allows("V100M32"));
        assert_eq!(PodGpuRequest::new(1, 1, 1, 1500, "").gpu_milli, 1000);
        assert_eq!(PodGpuRequest::new(1, 1, 1, -3, "").gpu_milli, 0);
        let share = PodGpuRequest::new(1, 1, 1, 470, "V100M16|V100M32");
        assert!(share.is_sharing() && !share.is_exclusive());
        assert_eq!(share.tag(), Some(GpuTag::Share));
        assert!(share.allows("V100M32") && !share.allows("T4"));
        let multi = PodGpuRequest::new(1, 1, 8, 1000, "");
        assert!(multi.is_exclusive());
        assert_eq!(multi.tag().map(|t| t.to_string()), Some("8-gpu".into()));
        assert_eq!(multi.total_gpu_milli(), 8000);
        // A pod without CPU counts 100m in scores and types, 0 in the filter.
        let zero = PodGpuRequest::new(0, 1, 1, 1000, "");
        assert_eq!((zero.cpu_milli, zero.score_cpu_milli), (0, 100));
        assert_eq!(zero.type_key().cpu_milli, 100);
    }

    #[test]
    fn gpu_index_round_trips_and_rejects_garbage() {
        assert_eq!(parse_gpu_index("1"), Ok(vec![1]));
        assert_eq!(parse_gpu_index(" 0-1-2-3 "), Ok(vec![0, 1, 2, 3]));
        assert_eq!(parse_gpu_index(""), Ok(vec![]));
        assert_eq!(format_gpu_index(&[0, 1, 2, 3]), "0-1-2-3");
        assert_eq!(format_gpu_index(&[5]), "5");
        assert_eq!(parse_gpu_index(&format_gpu_index(&[3, 7])), Ok(vec![3, 7]));
        let err = parse_gpu_index("0,1").map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("annotation alibabacloud.com/gpu-index: expected GPU indices separated by '-' (\"1\", \"0-1-2-3\"), found \"0,1\"".into())
        );
        let mut a = crate::api::meta::Annotations::new();
        assert_eq!(gpu_index_of(&a), Ok(None));
        a.insert(ANNOTATION_GPU_INDEX.to_owned(), "2-3".to_owned());
        assert_eq!(gpu_index_of(&a), Ok(Some(vec![2, 3])));
    }

    #[test]
    fn annotations_as_the_artifact_writes_them() {
        let mut a = crate::api::meta::Annotations::new();
        assert_eq!(
            PodGpuRequest::from_annotations(2000, 5, &a),
            Ok(PodGpuRequest::new(2000, 5, 0, 0, ""))
        );
        a.insert(ANNOTATION_GPU_COUNT.to_owned(), "1".to_owned());
        a.insert(ANNOTATION_GPU_MILLI.to_owned(), "470".to_owned());
        a.insert(ANNOTATION_GPU_MODEL.to_owned(), "G2|T4".to_owned());
        let r = PodGpuRequest::from_annotations(2000, 5, &a);
        assert_eq!(r, Ok(PodGpuRequest::new(2000, 5, 1, 470, "G2|T4")));
        a.insert(ANNOTATION_GPU_COUNT.to_owned(), "two".to_owned());
        let err = PodGpuRequest::from_annotations(2000, 5, &a).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("annotation alibabacloud.com/gpu-count: expected a non-negative integer, found \"two\"".into())
        );
    }
}
