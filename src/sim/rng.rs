//! Named, seeded random streams.
//!
//! Every random draw in a run comes from a stream named after what it decides ("scheduler/tie-break",
//! "workload/arrivals", …). A stream's seed is derived from the run seed and the stream's name
//! alone, so adding a stream, or drawing more from one, never changes another stream's draws. That
//! also gives common random numbers when two policies are compared on the same seed.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

/// The generator behind every stream: fast, portable and reproducible on every platform.
pub type SimRng = ChaCha8Rng;

/// Version tag mixed into every derivation, so a future change of scheme cannot silently reuse
/// old seeds with new meaning.
const DERIVATION_TAG: &[u8] = b"kubesim/rng-stream/v1\0";

/// Derives the generator of the stream `name` for the run seeded with `seed`.
///
/// The 32-byte ChaCha seed is SHA-256(tag ‖ seed as little-endian u64 ‖ name), so distinct names
/// give independent streams and the mapping is the same on every machine.
pub fn stream(seed: u64, name: &str) -> SimRng {
    let mut hasher = Sha256::new();
    hasher.update(DERIVATION_TAG);
    hasher.update(seed.to_le_bytes());
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    let mut key = [0u8; 32];
    key.copy_from_slice(&digest);
    SimRng::from_seed(key)
}

/// The run seed, handed to components so each can derive the streams it owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngStreams {
    seed: u64,
}

impl RngStreams {
    /// Streams for a run with this seed.
    pub const fn new(seed: u64) -> Self {
        RngStreams { seed }
    }

    /// The run seed.
    pub const fn seed(self) -> u64 {
        self.seed
    }

    /// The generator of the stream `name`; calling twice gives two generators at the same start.
    pub fn stream(self, name: &str) -> SimRng {
        stream(self.seed, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::Rng;

    fn first_draws(mut rng: SimRng) -> [u64; 3] {
        [rng.next_u64(), rng.next_u64(), rng.next_u64()]
    }

    #[test]
    fn same_seed_and_name_give_the_same_draws() {
        assert_eq!(first_draws(stream(7, "a")), first_draws(stream(7, "a")));
    }

    #[test]
    fn names_and_seeds_separate_streams() {
        let base = first_draws(stream(7, "a"));
        assert_ne!(base, first_draws(stream(7, "b")));
        assert_ne!(base, first_draws(stream(8, "a")));
    }

    #[test]
    fn derivation_is_stable_across_versions_of_the_code() {
        // Pinned so that an accidental change of the derivation (which would change every
        // shipped report) fails here first. The value is whatever the scheme above produces.
        let draw = stream(1, "kernel/test").next_u64();
        assert_eq!(draw, PINNED_FIRST_DRAW, "derivation changed: got {draw:#x}");
    }

    const PINNED_FIRST_DRAW: u64 = 0xfbd1_8238_8cea_06d6;
}
