//! A running digest of the processed event trace.
//!
//! Two runs that process the same events at the same virtual times in the same order have the
//! same digest; `run.json` records it, and the determinism tests compare it. It is a fast
//! non-cryptographic hash (no adversary here), updated once per event, so it costs a few
//! multiplications per event.

use std::fmt;

/// 128 bits of running state, folded from 64-bit words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceDigest {
    a: u64,
    b: u64,
    words: u64,
}

/// Odd constants from the golden ratio and from `splitmix64`: good bit diffusion under multiply.
const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xBF58_476D_1CE4_E5B9;
const K2: u64 = 0x94D0_49BB_1331_11EB;

impl Default for TraceDigest {
    fn default() -> Self {
        TraceDigest::new()
    }
}

impl TraceDigest {
    /// The digest of an empty trace.
    pub const fn new() -> Self {
        TraceDigest {
            a: K0,
            b: K1,
            words: 0,
        }
    }

    /// Folds one word into the digest. Order matters: `[x, y]` and `[y, x]` differ.
    #[inline]
    pub fn update(&mut self, word: u64) {
        self.words = self.words.wrapping_add(1);
        let x = mix(word ^ self.words.wrapping_mul(K2));
        self.a = (self.a ^ x).rotate_left(29).wrapping_mul(K1);
        self.b = (self.b.wrapping_add(x)).rotate_left(31).wrapping_mul(K0) ^ self.a;
    }

    /// Folds a string (length first, so `"ab","c"` and `"a","bc"` differ).
    pub fn update_str(&mut self, s: &str) {
        self.update(s.len() as u64);
        for chunk in s.as_bytes().chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.update(u64::from_le_bytes(buf));
        }
    }

    /// The number of words folded so far.
    pub const fn words(&self) -> u64 {
        self.words
    }

    /// The final 128-bit value.
    pub fn finish(&self) -> u128 {
        let hi = mix(self.a ^ self.words);
        let lo = mix(self.b.wrapping_add(hi));
        (u128::from(hi) << 64) | u128::from(lo)
    }
}

/// The `splitmix64` finaliser.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(K1);
    z = (z ^ (z >> 27)).wrapping_mul(K2);
    z ^ (z >> 31)
}

impl fmt::Display for TraceDigest {
    /// 32 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(words: &[u64]) -> TraceDigest {
        let mut d = TraceDigest::new();
        for &w in words {
            d.update(w);
        }
        d
    }

    #[test]
    fn equal_traces_give_equal_digests() {
        assert_eq!(
            digest_of(&[1, 2, 3]).finish(),
            digest_of(&[1, 2, 3]).finish()
        );
    }

    #[test]
    fn order_length_and_content_matter() {
        let base = digest_of(&[1, 2, 3]).finish();
        assert_ne!(base, digest_of(&[2, 1, 3]).finish());
        assert_ne!(base, digest_of(&[1, 2, 3, 0]).finish());
        assert_ne!(base, digest_of(&[1, 2, 4]).finish());
        assert_ne!(digest_of(&[]).finish(), digest_of(&[0]).finish());
    }

    #[test]
    fn strings_are_length_prefixed() {
        let mut ab_c = TraceDigest::new();
        ab_c.update_str("ab");
        ab_c.update_str("c");
        let mut a_bc = TraceDigest::new();
        a_bc.update_str("a");
        a_bc.update_str("bc");
        assert_ne!(ab_c.finish(), a_bc.finish());
    }

    #[test]
    fn prints_32_hex_digits() {
        let text = digest_of(&[42]).to_string();
        assert_eq!(text.len(), 32);
        assert!(
            text.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
