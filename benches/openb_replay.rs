//! One FGD replay of the openb default trace (fgd-spec §3.2): 8152 pods tuned to ≈10.8k, each
//! scheduled once over 1213 nodes with the cluster's fragmentation measured after every pod.
//! The data is read once, outside the timed region. Skipped, with a message, when the data is
//! not beside the project (`../shared/data/openb`).

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use kubesim::config::gpu_sharing::Policy;
use kubesim::scheduler::gpu::replay::replay;
use kubesim::workload::openb::{read_nodes, read_pods};
use kubesim::world::Components;

fn openb_replay(c: &mut Criterion) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openb");
    let nodes = read_nodes(&data.join("openb_node_list_gpu_node.csv"), &Components);
    let pods = read_pods(&data.join("openb_pod_list_default.csv"));
    let (Ok(nodes), Ok(pods)) = (nodes, pods) else {
        eprintln!(
            "openb data not found at {}: skipping the openb replay bench",
            data.display()
        );
        return;
    };
    let mut group = c.benchmark_group("openb_replay");
    // A run takes a few hundred milliseconds: ten samples of equal iteration counts suffice.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("fgd_default_seed42", |b| {
        b.iter(|| replay(black_box(&nodes), black_box(&pods), Policy::Fgd, 42));
    });
    group.finish();
}

criterion_group!(benches, openb_replay);
criterion_main!(benches);
