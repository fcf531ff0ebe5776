//! Exact integer ↔ `f64` steps for the resource-scoring fast paths, written so that the
//! compiler can run them on several nodes per instruction.
//!
//! NodeResourcesFit and BalancedAllocation score hundreds of nodes a cycle with a few
//! divisions each. Their float arithmetic vectorizes, but x86-64's baseline instruction set
//! (SSE2) converts between 64-bit integers and floats one value at a time, and has no
//! vector rounding. For amounts up to [`LANE_LIMIT`] the steps here replace those conversions
//! and `floor` with additions and bit operations on 2^52, where the spacing of `f64`s is
//! exactly 1, and are exact: they give the values the scalar operations would.
//! [`score_in_groups`] runs such a path over [`LANES`] nodes at a time.

use crate::scheduler::node_info::NodeInfo;

/// Nodes a fast path scores together: enough to fill the vector registers a few times over.
pub(crate) const LANES: usize = 8;

/// Scores `nodes` into `scores` (aligned), [`LANES`] at a time with `group`, which may hand a
/// group back (returning `false`, having written nothing that counts); groups handed back and
/// the nodes left over are scored one at a time with `single`.
pub(crate) fn score_in_groups(
    nodes: &[&NodeInfo],
    scores: &mut [i64],
    mut group: impl FnMut(&[&NodeInfo; LANES], &mut [i64; LANES]) -> bool,
    single: impl Fn(&NodeInfo) -> i64,
) {
    debug_assert_eq!(nodes.len(), scores.len());
    let (node_groups, node_rest) = nodes.as_chunks::<LANES>();
    let (slot_groups, slot_rest) = scores.as_chunks_mut::<LANES>();
    for (nodes, slots) in node_groups.iter().zip(slot_groups) {
        if !group(nodes, slots) {
            for (slot, node) in slots.iter_mut().zip(nodes) {
                *slot = single(node);
            }
        }
    }
    for (slot, node) in slot_rest.iter_mut().zip(node_rest) {
        *slot = single(node);
    }
}

/// Amounts above 2^51 (2 PiB of memory) are not taken by [`exact_f64`]: callers check
/// `amount >> LANE_BITS == 0` (or, for a capacity that must be above 0,
/// `(capacity - 1) >> LANE_BITS == 0`) and otherwise take their general path.
pub(crate) const LANE_BITS: u32 = 51;

/// 2^[`LANE_BITS`].
pub(crate) const LANE_LIMIT: i64 = 1 << LANE_BITS;

/// 2^52: from here up, consecutive `f64`s are 1 apart.
const TWO_TO_52: f64 = 4_503_599_627_370_496.0;

/// `x as f64`, for `x` in `0..=LANE_LIMIT` (any x below 2^52 would do): x becomes the low
/// mantissa bits of 2^52 + x, and 2^52 is taken off again.
#[inline]
pub(crate) fn exact_f64(x: i64) -> f64 {
    debug_assert!((0..=LANE_LIMIT).contains(&x));
    f64::from_bits(x as u64 | TWO_TO_52.to_bits()) - TWO_TO_52
}

/// `x.floor()`, for `x` in `0.0..LANE_LIMIT as f64`: adding 2^52 rounds to the nearest
/// integer (exactly, as the sum is below 2^53), which is one too many when it rounded up.
#[inline]
pub(crate) fn floor(x: f64) -> f64 {
    debug_assert!((0.0..LANE_LIMIT as f64).contains(&x));
    let nearest = (x + TWO_TO_52) - TWO_TO_52;
    nearest - if nearest > x { 1.0 } else { 0.0 }
}

/// `x as i64`, for a whole number `x` in `0.0..LANE_LIMIT as f64`: the inverse of
/// [`exact_f64`].
#[inline]
pub(crate) fn whole_to_i64(x: f64) -> i64 {
    debug_assert!(x == floor(x));
    nearest_i64(x)
}

/// The integer nearest to `x` (halves to even), for `x` in `0.0..2^52`: adding 2^52 rounds
/// it there, and the sum's mantissa bits are that integer.
#[inline]
pub(crate) fn nearest_i64(x: f64) -> i64 {
    debug_assert!((0.0..TWO_TO_52).contains(&x));
    ((x + TWO_TO_52).to_bits() - TWO_TO_52.to_bits()) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn conversions_are_exact(x in 0i64..=LANE_LIMIT) {
            proptest::prop_assert_eq!(exact_f64(x), x as f64);
            proptest::prop_assert_eq!(whole_to_i64(exact_f64(x)), x);
        }

        /// Whole numbers, halves (where rounding to nearest ties to even, up or down) and
        /// everything between.
        #[test]
        fn floor_is_floor(whole in 0i64..LANE_LIMIT - 1, frac in 0.0f64..1.0) {
            let w = whole as f64;
            for x in [w, w + 0.5, w + frac, (w + 1.0).next_down()] {
                proptest::prop_assert_eq!(floor(x), x.floor(), "{}", x);
            }
        }
    }

    #[test]
    fn corner_cases() {
        // 2.5 and 3.5 round to the even neighbours 2 and 4: floor corrects the second.
        assert_eq!((floor(2.5), floor(3.5)), (2.0, 3.0));
        assert_eq!((floor(0.0), floor(0.999_999_999_999_999_9)), (0.0, 0.0));
        let top = LANE_LIMIT - 1;
        assert_eq!(whole_to_i64(floor(exact_f64(top) + 0.5)), top);
    }
}
