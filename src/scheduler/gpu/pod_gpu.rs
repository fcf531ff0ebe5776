//! A pod's GPU-sharing request ([`PodGpuRequest`]): what the GPU-sharing policies see of a pod,
//! built from an openb CSV row or from the pod annotations the FGD artifact writes.
//!
//! fgd-spec §1.2: GPU annotations exist only when `num_gpu != 0`: `gpu-count = num_gpu`,
//! `gpu-milli = gpu_milli` clamped to `0..=1000`, `gpu-card-model = gpu_spec` (empty → none).
//! So a CPU-only pod's `gpu_milli` and `gpu_spec` are ignored. Memory filters but is never
//! scored and is not part of a pod's type (§2.7).

use std::collections::BTreeMap;

use crate::api::pod::Pod;
use crate::api::resources::{MissingRequests, pod_requests};
use crate::workload::openb::{GPU_MILLI, PodRow};

/// Annotation: GPU share per GPU in milli (`0..=1000`).
pub const ANNOTATION_GPU_MILLI: &str = "alibabacloud.com/gpu-milli";
/// Annotation: number of GPUs.
pub const ANNOTATION_GPU_COUNT: &str = "alibabacloud.com/gpu-count";
/// Annotation: allowed GPU models, `|`-separated.
pub const ANNOTATION_GPU_MODEL: &str = "alibabacloud.com/gpu-card-model";

/// CPU a container without a CPU request counts for in scores and pod types (the scheduler's
/// "non-zero" request; fgd-spec §1.2). No openb pod has 0 CPU.
pub const DEFAULT_SCORE_MILLI_CPU: i64 = 100;

const MIB: i64 = 1024 * 1024;

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
        annotations: &BTreeMap<String, String>,
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
        let written = pod_requests(&pod.spec, MissingRequests::AsZero);
        let scored = pod_requests(&pod.spec, MissingRequests::AsSchedulerDefaults);
        let memory_mib = written.memory / MIB + i64::from(written.memory % MIB > 0);
        let mut request = PodGpuRequest::from_annotations(
            written.milli_cpu,
            memory_mib,
            &pod.metadata.annotations,
        )?;
        request.score_cpu_milli = scored.milli_cpu;
        Ok(request)
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
    fn annotations_as_the_artifact_writes_them() {
        let mut a = BTreeMap::new();
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
