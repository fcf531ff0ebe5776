//! Shuffle sharding: the hand of queues a flow may use (upstream `util/shufflesharding`).
//!
//! A flow's 64-bit hash deals `hand_size` distinct cards out of a deck of `deck_size` queues.
//! The hash is read as a mixed-radix number: the first digit is the remainder modulo
//! `deck_size`, the next modulo `deck_size − 1`, and so on, as dealing without replacement
//! from a shrinking deck would. Each digit is then turned into a card index of the full deck
//! by skipping the cards already dealt. Two flows collide on a whole hand only if their hashes
//! agree on every digit, which is what keeps one heavy flow from crowding out the rest.

use thiserror::Error;

/// Upstream caps the hash bits a deal may consume at 60, so that the last digit is not badly
/// skewed by the top of the 64-bit range.
pub const MAX_HASH_BITS: u32 = 60;
/// The largest hand upstream deals (its remainders array has 15 slots).
pub const MAX_HAND_SIZE: usize = 15;
/// The largest deck upstream accepts.
pub const MAX_DECK_SIZE: u32 = 1 << 26;

/// Why a deck and hand size cannot be dealt.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DealerError {
    /// A size is zero.
    #[error("deck size {deck} and hand size {hand} must both be positive")]
    NotPositive {
        /// Deck size.
        deck: u32,
        /// Hand size.
        hand: u32,
    },
    /// The hand is bigger than the deck.
    #[error("hand size {hand} is greater than deck size {deck}")]
    HandTooBig {
        /// Deck size.
        deck: u32,
        /// Hand size.
        hand: u32,
    },
    /// More than 2^26 queues.
    #[error("deck size {0} is impractically large (at most 67108864)")]
    DeckTooBig(u32),
    /// The deal would need more than 60 bits of the hash.
    #[error("deck size {deck} and hand size {hand} need {bits} bits of entropy, more than 60")]
    TooMuchEntropy {
        /// Deck size.
        deck: u32,
        /// Hand size.
        hand: u32,
        /// Bits needed.
        bits: u32,
    },
}

/// The bits of hash a deal consumes, estimated as upstream does: ⌈log2(deck) × hand⌉.
pub fn required_entropy_bits(deck: u32, hand: u32) -> u32 {
    // libm's log2 rather than the platform's, so the bound is the same everywhere.
    libm::ceil(libm::log2(f64::from(deck)) * f64::from(hand)) as u32
}

/// Deals hands of `hand_size` queues out of `deck_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dealer {
    deck_size: u32,
    hand_size: u32,
}

impl Dealer {
    /// A dealer, if the sizes pass upstream's checks.
    pub fn new(deck_size: u32, hand_size: u32) -> Result<Dealer, DealerError> {
        if deck_size == 0 || hand_size == 0 {
            return Err(DealerError::NotPositive {
                deck: deck_size,
                hand: hand_size,
            });
        }
        if hand_size > deck_size {
            return Err(DealerError::HandTooBig {
                deck: deck_size,
                hand: hand_size,
            });
        }
        if deck_size > MAX_DECK_SIZE {
            return Err(DealerError::DeckTooBig(deck_size));
        }
        let bits = required_entropy_bits(deck_size, hand_size);
        if bits > MAX_HASH_BITS {
            return Err(DealerError::TooMuchEntropy {
                deck: deck_size,
                hand: hand_size,
                bits,
            });
        }
        Ok(Dealer {
            deck_size,
            hand_size,
        })
    }

    /// The hand size.
    pub fn hand_size(&self) -> usize {
        self.hand_size as usize
    }

    /// Deals the hand of `hash` into `hand` (its first `hand_size` slots), in dealing order.
    pub fn deal(&self, mut hash: u64, hand: &mut [usize; MAX_HAND_SIZE]) -> usize {
        let n = self.hand_size();
        let mut digits = [0usize; MAX_HAND_SIZE];
        for (i, digit) in digits.iter_mut().enumerate().take(n) {
            let radix = u64::from(self.deck_size) - i as u64;
            *digit = (hash % radix) as usize;
            hash /= radix;
        }
        for i in 0..n {
            // Digit i indexes the deck with the i cards before it removed; walking back over
            // the earlier digits, each one at or below the card shifts it up by one. The
            // earlier digits are themselves indexes into smaller decks, which is why the
            // walk goes from the latest to the first.
            let mut card = digits[i];
            for j in (0..i).rev() {
                if card >= digits[j] {
                    card += 1;
                }
            }
            hand[i] = card;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deals_by_successive_divisions() {
        // Deck 128, hand 6 (workload-low), hash 1_000_000:
        //   1_000_000 = 7812·128 + 64        → digit 64
        //        7812 =   61·127 + 65        → digit 65
        //          61 =    0·126 + 61        → digit 61
        //           0 → digits 0, 0, 0
        // Cards: 64; 65 ≥ 64 → 66; 61 (< 65 and < 64) → 61;
        //        0: vs 61 no, vs 65 no, vs 64 no → 0;
        //        0: vs 0 → 1, vs 61 no, vs 65 no, vs 64 no → 1;
        //        0: vs 0 → 1, vs 0 → 2, then 2 < 61, 65, 64 → 2.
        let dealer = Dealer::new(128, 6).unwrap();
        let mut hand = [0; MAX_HAND_SIZE];
        let n = dealer.deal(1_000_000, &mut hand);
        assert_eq!(&hand[..n], &[64, 66, 61, 0, 1, 2]);
    }

    #[test]
    fn hands_are_distinct_cards() {
        let dealer = Dealer::new(16, 4).unwrap();
        let mut hand = [0; MAX_HAND_SIZE];
        for hash in [0u64, 1, 15, 16, 12345, u64::MAX >> 4, 0xdead_beef] {
            let n = dealer.deal(hash, &mut hand);
            let mut cards = hand[..n].to_vec();
            cards.sort_unstable();
            cards.dedup();
            assert_eq!(cards.len(), 4, "hash {hash}");
            assert!(cards.iter().all(|&c| c < 16));
        }
    }

    #[test]
    fn rejects_what_upstream_rejects() {
        assert!(matches!(
            Dealer::new(0, 1),
            Err(DealerError::NotPositive { .. })
        ));
        assert!(matches!(
            Dealer::new(4, 5),
            Err(DealerError::HandTooBig { .. })
        ));
        // ⌈log2(128) × 9⌉ = 63 > 60; ⌈7 × 8⌉ = 56 passes.
        assert_eq!(required_entropy_bits(128, 9), 63);
        assert!(matches!(
            Dealer::new(128, 9),
            Err(DealerError::TooMuchEntropy { bits: 63, .. })
        ));
        assert!(Dealer::new(128, 8).is_ok());
    }
}
