//! GPUs on Kubernetes objects, as Alibaba's GPU sharing (the FGD paper's artifact and its openb
//! trace) writes them: what a node declares (the extended resources `alibabacloud.com/gpu-count`
//! and `alibabacloud.com/gpu-milli`, the label `alibabacloud.com/gpu-card-model`), what a pod
//! asks for and holds (its annotations), and the check a node's declaration must pass.
//!
//! These are facts of the objects, read alike by the scenario loader, the scheduler, the trace
//! reader and the metrics; what a GPU request means to a scheduling policy is the scheduler's
//! ([`crate::scheduler::gpu`]).

use super::resources::{ResourceList, Resources};

/// Per-GPU capacity in milli-GPU: a whole GPU is 1000.
pub const GPU_MILLI: i64 = 1000;
/// Most GPUs one node may have (openb nodes have at most 8); a bound so a malformed count cannot
/// allocate without limit.
pub const MAX_GPUS_PER_NODE: u32 = 1024;

/// Node label naming the GPU model.
pub const LABEL_GPU_MODEL: &str = "alibabacloud.com/gpu-card-model";
/// Extended resource: number of GPUs of a node.
pub const RESOURCE_GPU_COUNT: &str = "alibabacloud.com/gpu-count";
/// Extended resource: total GPU milli of a node (1000 per GPU).
pub const RESOURCE_GPU_MILLI: &str = "alibabacloud.com/gpu-milli";

/// Pod annotation: GPU share per GPU in milli (`0..=1000`).
pub const ANNOTATION_GPU_MILLI: &str = "alibabacloud.com/gpu-milli";
/// Pod annotation: number of GPUs.
pub const ANNOTATION_GPU_COUNT: &str = "alibabacloud.com/gpu-count";
/// Pod annotation: allowed GPU models, `|`-separated.
pub const ANNOTATION_GPU_MODEL: &str = "alibabacloud.com/gpu-card-model";
/// Pod annotation: the GPUs a pod holds on its node, by index, `-`-separated (`DeviceIndex`).
pub const ANNOTATION_GPU_INDEX: &str = "alibabacloud.com/gpu-index";
/// Separator of the indices in [`ANNOTATION_GPU_INDEX`] (the artifact's `DevIdSep`).
pub const GPU_INDEX_SEPARATOR: char = '-';

/// The number of GPUs a node declares (`alibabacloud.com/gpu-count` in its allocatable, as
/// [`Resources`]), when it is from 1 to [`MAX_GPUS_PER_NODE`]; `None` otherwise.
pub fn node_gpu_count(allocatable: &Resources) -> Option<u32> {
    u32::try_from(allocatable.get(RESOURCE_GPU_COUNT))
        .ok()
        .filter(|n| (1..=MAX_GPUS_PER_NODE).contains(n))
}

/// Checks a node's GPU declaration in a resource list (its allocatable or capacity), as a
/// scenario is loaded: `alibabacloud.com/gpu-count` a whole number from 0 to
/// [`MAX_GPUS_PER_NODE`], and `alibabacloud.com/gpu-milli`, when given, 1000 per GPU. The error
/// says what was expected.
pub fn validate_gpu_declaration(list: &ResourceList) -> Result<(), String> {
    let Some(count) = list.get(RESOURCE_GPU_COUNT) else {
        return match list.get(RESOURCE_GPU_MILLI) {
            Some(_) => Err(format!(
                "{RESOURCE_GPU_MILLI} without {RESOURCE_GPU_COUNT}; expected the number of GPUs \
                 as {RESOURCE_GPU_COUNT} (and {GPU_MILLI} milli per GPU)"
            )),
            None => Ok(()),
        };
    };
    let milli = count.milli_value();
    let gpus = milli / 1000;
    if milli % 1000 != 0 || !(0..=i64::from(MAX_GPUS_PER_NODE)).contains(&gpus) {
        return Err(format!(
            "{RESOURCE_GPU_COUNT}: expected a whole number of GPUs from 0 to {MAX_GPUS_PER_NODE}, \
             found {count}"
        ));
    }
    match list.get(RESOURCE_GPU_MILLI) {
        Some(total) if total.milli_value() != gpus * GPU_MILLI * 1000 => Err(format!(
            "{RESOURCE_GPU_MILLI}: expected {GPU_MILLI} per GPU, {} for {gpus} GPU(s), found {}",
            gpus * GPU_MILLI,
            total.value()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::quantity::Quantity;

    fn q(text: &str) -> Quantity {
        text.parse().expect("test quantity")
    }

    #[test]
    fn gpu_declarations_are_checked_at_load() {
        let list = |pairs: &[(&str, &str)]| -> ResourceList {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), q(v)))
                .collect()
        };
        assert_eq!(validate_gpu_declaration(&list(&[("cpu", "8")])), Ok(()));
        let ok = list(&[(RESOURCE_GPU_COUNT, "4"), (RESOURCE_GPU_MILLI, "4000")]);
        assert_eq!(validate_gpu_declaration(&ok), Ok(()));
        assert_eq!(
            validate_gpu_declaration(&list(&[(RESOURCE_GPU_COUNT, "1500m")])),
            Err(
                "alibabacloud.com/gpu-count: expected a whole number of GPUs from 0 to 1024, \
                 found 1500m"
                    .into()
            )
        );
        assert_eq!(
            validate_gpu_declaration(&list(&[
                (RESOURCE_GPU_COUNT, "2"),
                (RESOURCE_GPU_MILLI, "1000")
            ])),
            Err(
                "alibabacloud.com/gpu-milli: expected 1000 per GPU, 2000 for 2 GPU(s), found 1000"
                    .into()
            )
        );
        assert!(validate_gpu_declaration(&list(&[(RESOURCE_GPU_MILLI, "1000")])).is_err());
    }
}
