//! A node's images and its image puller (`pkg/kubelet/images`): the images present (those the
//! node was created with, and every image pulled since, which the node status reports and
//! ImageLocality scores), and the pulls. With `serializeImagePulls` (the default) one pull
//! runs at a time and the others wait in order; otherwise up to `maxParallelImagePulls` run at
//! once. A container that wants an image already being pulled, or waiting to be, waits for
//! that pull rather than queueing another (the runtime would find its layers present).

use std::collections::{BTreeMap, VecDeque};

use crate::api::Uid;
use crate::api::node::ContainerImage;

/// A container waiting for an image: its pod, its index in the pod, and its epoch then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// The pod.
    pub uid: Uid,
    /// The container's index (init containers first).
    pub container: usize,
    /// The container's epoch when it asked.
    pub epoch: u32,
}

/// One pull, queued or running.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pull {
    id: u32,
    image: String,
    waiters: Vec<Waiter>,
}

/// What asking for an image gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ensure {
    /// The image is present: go on.
    Present,
    /// The container waits for a pull (already running or queued).
    Waiting,
    /// A pull must start now: the caller draws its duration and sets its timer.
    Start(u32),
}

/// The images of one node and its pulls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImagePuller {
    /// Images present: name → size in bytes.
    present: BTreeMap<String, i64>,
    /// The images as first listed (several names per image), kept to report them as they were,
    /// in `status.images` order: largest first, ties by first name, then by listing.
    listed: Vec<ContainerImage>,
    running: Vec<Pull>,
    queued: VecDeque<Pull>,
    next_id: u32,
    /// How many pulls may run at once.
    limit: usize,
}

impl ImagePuller {
    /// A puller allowing `limit` pulls at once, with the images `present` on the node.
    pub fn new(limit: usize, present: &[ContainerImage]) -> ImagePuller {
        let mut listed = present.to_vec();
        // A stable sort: equal images stay in their listing order.
        listed.sort_by(status_order);
        let mut puller = ImagePuller {
            limit: limit.max(1),
            listed,
            ..ImagePuller::default()
        };
        for image in present {
            for name in &image.names {
                puller.present.insert(name.clone(), image.size_bytes);
            }
        }
        puller
    }

    /// Whether `image` is on the node.
    pub fn has(&self, image: &str) -> bool {
        self.present.contains_key(image)
    }

    /// `EnsureImageExists` for `waiter`.
    pub fn ensure(&mut self, image: &str, waiter: Waiter) -> Ensure {
        if image.is_empty() || self.has(image) {
            return Ensure::Present;
        }
        if let Some(pull) = self
            .running
            .iter_mut()
            .chain(self.queued.iter_mut())
            .find(|p| p.image == image)
        {
            pull.waiters.push(waiter);
            return Ensure::Waiting;
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let pull = Pull {
            id,
            image: image.to_string(),
            waiters: vec![waiter],
        };
        if self.running.len() < self.limit {
            self.running.push(pull);
            Ensure::Start(id)
        } else {
            self.queued.push_back(pull);
            Ensure::Waiting
        }
    }

    /// Pull `id` finished: the image is present, `size_of` it bytes large. Returns its
    /// waiters, and the queued pull that starts now, if one does.
    pub fn finished(
        &mut self,
        id: u32,
        size_of: impl Fn(&str) -> i64,
    ) -> (Vec<Waiter>, Option<u32>) {
        let Some(at) = self.running.iter().position(|p| p.id == id) else {
            return (Vec::new(), None);
        };
        let pull = self.running.remove(at);
        let size = size_of(&pull.image);
        self.present.insert(pull.image.clone(), size);
        let image = ContainerImage {
            names: vec![pull.image],
            size_bytes: size,
        };
        // After every image it does not precede: its place had all images been sorted at once.
        let at = self
            .listed
            .partition_point(|listed| status_order(listed, &image).is_le());
        self.listed.insert(at, image);
        let next = self.queued.pop_front().map(|p| {
            let id = p.id;
            self.running.push(p);
            id
        });
        (pull.waiters, next)
    }

    /// How many images the node has: it only grows, so it tells whether the list changed.
    pub fn image_count(&self) -> usize {
        self.listed.len()
    }

    /// The images for `status.images`: largest first (ties by first name), at most `max`
    /// (-1: all), as the kubelet's image setter lists them. Kept in that order, so that the
    /// status check every heartbeat compares without building anything.
    pub fn status_images(&self, max: i32) -> &[ContainerImage] {
        match usize::try_from(max) {
            Ok(max) => &self.listed[..max.min(self.listed.len())],
            Err(_) => &self.listed,
        }
    }
}

/// The order of `status.images`: largest first, ties by first name.
fn status_order(a: &ContainerImage, b: &ContainerImage) -> std::cmp::Ordering {
    b.size_bytes
        .cmp(&a.size_bytes)
        .then_with(|| a.names.first().cmp(&b.names.first()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(n: u64) -> Waiter {
        Waiter {
            uid: Uid(n),
            container: 0,
            epoch: 0,
        }
    }

    #[test]
    fn serialized_pulls_run_one_at_a_time_and_share_an_image() {
        let mut p = ImagePuller::new(1, &[]);
        assert_eq!(p.ensure("a", waiter(1)), Ensure::Start(0));
        assert_eq!(p.ensure("b", waiter(2)), Ensure::Waiting);
        assert_eq!(p.ensure("a", waiter(3)), Ensure::Waiting);
        let (waiters, next) = p.finished(0, |_| 100);
        assert_eq!(waiters, vec![waiter(1), waiter(3)]);
        assert_eq!(next, Some(1));
        assert!(p.has("a"));
        assert_eq!(p.ensure("a", waiter(4)), Ensure::Present);
        let (waiters, next) = p.finished(1, |_| 300);
        assert_eq!((waiters, next), (vec![waiter(2)], None));
        let names: Vec<_> = p
            .status_images(-1)
            .iter()
            .map(|i| i.names[0].clone())
            .collect();
        assert_eq!(names, vec!["b".to_string(), "a".to_string()]);
        assert_eq!(p.status_images(1).len(), 1);
    }

    #[test]
    fn status_images_stay_largest_first_with_ties_by_first_name_as_pulls_finish() {
        let image = |name: &str, size: i64| ContainerImage {
            names: vec![name.to_string()],
            size_bytes: size,
        };
        // Listed z, a (both 100 bytes): the tie goes by first name, so a comes first.
        let mut p = ImagePuller::new(2, &[image("z", 100), image("a", 100)]);
        assert_eq!(p.ensure("m", waiter(1)), Ensure::Start(0));
        assert_eq!(p.ensure("big", waiter(2)), Ensure::Start(1));
        // m (100 bytes) sorts between a and z; big (500 bytes) before all.
        p.finished(0, |_| 100);
        p.finished(1, |_| 500);
        let names: Vec<&str> = p
            .status_images(-1)
            .iter()
            .map(|i| i.names[0].as_str())
            .collect();
        assert_eq!(names, ["big", "a", "m", "z"]);
        // At most two reported: the two largest, in that order.
        assert_eq!(p.status_images(2), &[image("big", 500), image("a", 100)]);
        assert_eq!(p.status_images(9).len(), 4);
    }
}
