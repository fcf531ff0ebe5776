//! ImageLocality: prefers nodes that already hold the pod's container images, by their total
//! size — each image's size scaled by the share of nodes that have it, so an image present
//! everywhere does not pull every pod onto the same few nodes. The sum is clamped to
//! [23 MiB, 1000 MiB × containers] and mapped linearly onto 0..=100.
//!
//! Upstream: `pkg/scheduler/framework/plugins/imagelocality/image_locality.go`. Upstream reads
//! the node count and each image's spread from the snapshot inside Score; kubesim's Score sees
//! only the node, so a PreScore step looks them up once per cycle. An image's size is the one
//! the node itself reports (upstream keeps the size first reported cluster-wide; nodes report
//! the same size for the same image).

use super::written_state;
use crate::scheduler::framework::{CycleState, ExtensionPoints, MAX_NODE_SCORE, Plugin, Status};
use crate::scheduler::node_info::{NodeInfo, PodInfo, Snapshot};

/// The plugin's name in KubeSchedulerConfiguration.
pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
/// Below this the score is 0 (typical small images are not worth steering for).
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, above this the score is 100.
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// The name a runtime reports for `image`: `:latest` is added when there is neither a tag nor a
/// digest (no `:` after the last `/`), as upstream's `normalizedImageName`.
pub fn normalized_image_name(image: &str) -> String {
    let last_colon = image.rfind(':');
    let last_slash = image.rfind('/');
    // Go compares LastIndex results, −1 when absent; `Option`'s order puts None lowest too.
    if last_colon <= last_slash {
        format!("{image}:latest")
    } else {
        image.to_string()
    }
}

/// One of the pod's images present somewhere: its normalized name and on how many nodes.
struct PresentImage {
    name: String,
    nodes_with_image: usize,
}

/// What PreScore keeps for Score.
struct PreScoreState {
    /// The pod's images (init containers first) found on at least one node.
    images: Vec<PresentImage>,
    /// Nodes in the snapshot.
    total_nodes: usize,
    /// Init plus app containers: sets the upper clamp.
    num_containers: usize,
}

impl PreScoreState {
    /// The node's score: the scaled sizes of the pod's images it holds, mapped onto 0..=100.
    /// A node reporting no image (its inline flag says so without reading the node object)
    /// holds none.
    fn score(&self, node: &NodeInfo) -> i64 {
        let sum = if node.has_images() {
            self.images
                .iter()
                .filter_map(|img| {
                    node.image_size(&img.name).map(|size| {
                        scaled_image_score(size, img.nodes_with_image, self.total_nodes)
                    })
                })
                .fold(0i64, i64::saturating_add)
        } else {
            0
        };
        calculate_priority(sum, self.num_containers)
    }
}

fn pre_score_state(state: &CycleState) -> Result<&PreScoreState, Status> {
    // Score alone cannot see the snapshot: PreScore must be enabled with Score.
    written_state(state, NAME, "PreScore")
}

/// The ImageLocality score plugin (no args).
#[derive(Clone, Copy, Debug, Default)]
pub struct ImageLocality;

impl ImageLocality {
    /// The plugin.
    pub fn new() -> Self {
        ImageLocality
    }
}

/// The image's size scaled by its spread, truncated as upstream's float arithmetic does.
fn scaled_image_score(size: i64, nodes_with_image: usize, total_nodes: usize) -> i64 {
    if total_nodes == 0 {
        return 0;
    }
    let spread = nodes_with_image as f64 / total_nodes as f64;
    (size as f64 * spread) as i64
}

/// Maps the summed scaled sizes onto 0..=100 after clamping to the thresholds.
fn calculate_priority(sum: i64, num_containers: usize) -> i64 {
    let containers = i64::try_from(num_containers).unwrap_or(i64::MAX);
    let max_threshold = MAX_CONTAINER_THRESHOLD.saturating_mul(containers);
    // Lower clamp first, as upstream. A pod without containers has no images, so its sum (0)
    // clamps to the minimum and the score is 0; the divisor is then negative, never zero.
    let clamped = if sum < MIN_THRESHOLD {
        MIN_THRESHOLD
    } else if sum > max_threshold {
        max_threshold
    } else {
        sum
    };
    let (span, range) = (clamped - MIN_THRESHOLD, max_threshold - MIN_THRESHOLD);
    // 64-bit when it cannot overflow (always, for real sizes): a 128-bit division is a slow
    // library call, and this runs per node.
    if let Some(q) = MAX_NODE_SCORE
        .checked_mul(span)
        .and_then(|p| p.checked_div(range))
    {
        return q;
    }
    let q = i128::from(MAX_NODE_SCORE) * i128::from(span) / i128::from(range);
    i64::try_from(q).unwrap_or(0)
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> ExtensionPoints {
        ExtensionPoints {
            pre_score: true,
            score: true,
            ..ExtensionPoints::default()
        }
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        let spec = &pod.pod.spec;
        let images = spec
            .init_containers
            .iter()
            .chain(&spec.containers)
            .filter_map(|c| {
                let name = normalized_image_name(&c.image);
                let nodes_with_image = snapshot.nodes_with_image(&name);
                // An image on no node adds nothing anywhere: Score need not look for it.
                (nodes_with_image > 0).then_some(PresentImage {
                    name,
                    nodes_with_image,
                })
            })
            .collect();
        state.write(
            NAME,
            PreScoreState {
                images,
                total_nodes: snapshot.len(),
                num_containers: spec.init_containers.len() + spec.containers.len(),
            },
        );
        Status::success()
    }

    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(pre_score_state(state)?.score(node))
    }

    /// Every node with one read of the cycle state; when none of the pod's images is on any
    /// node, every node gets the same score, worked out once.
    fn score_nodes(
        &self,
        state: &CycleState,
        _pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Result<(), Status> {
        let s = pre_score_state(state)?;
        if s.images.is_empty() {
            scores.fill(calculate_priority(0, s.num_containers));
            return Ok(());
        }
        for (slot, node) in scores.iter_mut().zip(nodes) {
            *slot = s.score(node);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::test_util::{MIB, NodeBuilder, PodBuilder, score};

    #[test]
    fn image_names_get_latest_unless_tagged_or_digested() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.25"), "nginx:1.25");
        // The registry port's colon comes before the last slash: still untagged.
        assert_eq!(
            normalized_image_name("registry:5000/app"),
            "registry:5000/app:latest"
        );
        assert_eq!(
            normalized_image_name("registry:5000/app:v2"),
            "registry:5000/app:v2"
        );
        assert_eq!(normalized_image_name("app@sha256:abc"), "app@sha256:abc");
        assert_eq!(normalized_image_name(""), ":latest");
    }

    /// Four nodes: "a:v1" (400 MiB) only on n1; "b:latest" (200 MiB) on n1 and n2.
    fn nodes() -> Vec<NodeInfo> {
        vec![
            NodeBuilder::new("n1")
                .image(&["a:v1"], 400 * MIB)
                .image(&["b:latest", "b@sha256:1"], 200 * MIB)
                .info(),
            NodeBuilder::new("n2")
                .image(&["b:latest"], 200 * MIB)
                .info(),
            NodeBuilder::new("n3").info(),
            NodeBuilder::new("n4").info(),
        ]
    }

    #[test]
    fn spread_scales_each_image_and_the_sum_maps_linearly() {
        // Two containers: max = 2000 MiB, min = 23 MiB.
        // n1: a 400·(1/4) = 100 MiB + b 200·(2/4) = 100 MiB = 200 MiB →
        //     100·(200 − 23)/(2000 − 23) = 17700/1977 = 8.
        // n2: b only, 100 MiB → 100·77/1977 = 3.
        // n3, n4: nothing → clamped to 23 MiB → 0.
        let pod = PodBuilder::new("p").image("a:v1").image("b").info();
        assert_eq!(score(&ImageLocality, &pod, nodes()), Ok(vec![8, 3, 0, 0]));
    }

    #[test]
    fn small_sums_clamp_to_zero() {
        // 40 MiB on 2 of 4 nodes → 20 MiB < 23 MiB → 0 (without the spread it would score).
        let nodes = vec![
            NodeBuilder::new("n1").image(&["small:1"], 40 * MIB).info(),
            NodeBuilder::new("n2").image(&["small:1"], 40 * MIB).info(),
            NodeBuilder::new("n3").info(),
            NodeBuilder::new("n4").info(),
        ];
        let pod = PodBuilder::new("p").image("small:1").info();
        assert_eq!(score(&ImageLocality, &pod, nodes), Ok(vec![0, 0, 0, 0]));
    }

    #[test]
    fn large_sums_clamp_to_the_per_container_maximum() {
        // 3000 MiB on every node: spread 1 → 3000 MiB > 1000 MiB × 1 container → 100.
        // The same image with two containers: 6000 MiB > 2000 MiB → 100 too.
        let nodes = || {
            vec![
                NodeBuilder::new("n1").image(&["big:1"], 3000 * MIB).info(),
                NodeBuilder::new("n2").image(&["big:1"], 3000 * MIB).info(),
            ]
        };
        let one = PodBuilder::new("p").image("big:1").info();
        assert_eq!(score(&ImageLocality, &one, nodes()), Ok(vec![100, 100]));
        let two = PodBuilder::new("p").image("big:1").image("big:1").info();
        assert_eq!(score(&ImageLocality, &two, nodes()), Ok(vec![100, 100]));
        // One 1500 MiB image but two containers (one image missing): 1500 of (23..2000):
        // 100·(1500 − 23)/1977 = 147700/1977 = 74.
        let nodes = vec![
            NodeBuilder::new("n1").image(&["mid:1"], 1500 * MIB).info(),
            NodeBuilder::new("n2").image(&["mid:1"], 1500 * MIB).info(),
        ];
        let pod = PodBuilder::new("p").image("mid:1").image("absent:1").info();
        assert_eq!(score(&ImageLocality, &pod, nodes), Ok(vec![74, 74]));
    }

    #[test]
    fn init_container_images_count_and_raise_the_maximum() {
        // Init "a:v1" and app "b": the same two images as above, both present on n1:
        // n1 = 200 MiB of a 2000 MiB maximum → 8.
        let pod = PodBuilder::new("p").init_image("a:v1").image("b").info();
        assert_eq!(score(&ImageLocality, &pod, nodes()), Ok(vec![8, 3, 0, 0]));
        // An app container without the image still raises the maximum: three containers →
        // max 3000 MiB; n1 = 200 MiB → 100·177/2977 = 5.
        let pod = PodBuilder::new("p")
            .init_image("a:v1")
            .image("b")
            .image("c:1")
            .info();
        assert_eq!(score(&ImageLocality, &pod, nodes()), Ok(vec![5, 2, 0, 0]));
    }

    #[test]
    fn priority_formula_edges() {
        assert_eq!(calculate_priority(0, 1), 0);
        assert_eq!(calculate_priority(23 * MIB, 1), 0);
        assert_eq!(calculate_priority(1000 * MIB, 1), 100);
        // No containers (so no images): score 0, no division by zero.
        assert_eq!(calculate_priority(0, 0), 0);
        // Spread with a fraction that is not a power of two: 300 MiB · (1/3), truncated.
        assert_eq!(
            scaled_image_score(300 * MIB, 1, 3),
            (300.0 * MIB as f64 * (1.0 / 3.0)) as i64
        );
    }
}
