//! The GPU-sharing policies as kube-scheduler framework plugins, named as the FGD artifact
//! registers them: [`open_gpu_share`] (`Open-Gpu-Share`: Filter and Reserve) and
//! [`gpu_score`] (`RandomScore`, `DotProductScore`, `GpuClusteringScore`, `GpuPackingScore`,
//! `BestFitScore`, `FGDScore`). The registry (`scheduler/plugins/registry.rs`) builds them from
//! a profile's configuration.

pub mod gpu_score;
pub mod open_gpu_share;
