//! Work in seat-seconds, the unit fair queuing measures virtual time and request cost in.
//!
//! Upstream keeps seat-seconds in fixed point (an unsigned 64-bit count of 10⁻⁸ seat-seconds)
//! so that virtual time never drifts through float rounding; kubesim keeps the same scale, so
//! every value here is the value upstream would compute, and does the products in 128-bit
//! integers instead of floats (virtual time is an integer here as everywhere in kubesim).

use crate::sim::SimDuration;

/// Units per seat-second (upstream's `ssScale`): one unit is 10 seat-nanoseconds.
const SCALE: u128 = 100_000_000;
/// Nanoseconds per second.
const NANOS: u128 = 1_000_000_000;

/// An amount of work, or a virtual time, in 10⁻⁸ seat-seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeatSeconds(pub u64);

impl SeatSeconds {
    /// No work.
    pub const ZERO: SeatSeconds = SeatSeconds(0);
    /// The largest representable amount (upstream's `MaxSeatSeconds`).
    pub const MAX: SeatSeconds = SeatSeconds(u64::MAX);

    /// `seats × duration`, rounded to the nearest unit (half away from zero, as Go's
    /// `math.Round` in upstream's `SeatsTimesDuration`).
    pub fn seats_times(seats: u64, duration: SimDuration) -> SeatSeconds {
        Self::ratio_times(u128::from(seats), 1, duration)
    }

    /// `(num / den) seats × duration`, rounded to the nearest unit: the growth of virtual time
    /// over `duration` when `num` seats are shared by `den` queues. `den` must not be 0.
    pub fn ratio_times(num: u128, den: u128, duration: SimDuration) -> SeatSeconds {
        let numer = num * u128::from(duration.as_nanos()) * SCALE;
        let denom = den.max(1) * NANOS;
        let rounded = (numer + denom / 2) / denom;
        SeatSeconds(u64::try_from(rounded).unwrap_or(u64::MAX))
    }

    /// The duration for which `seats` seats do this much work (upstream's `DurationPerSeat`,
    /// truncated to whole nanoseconds as Go's conversion to `time.Duration` truncates).
    pub fn duration_per_seat(self, seats: u64) -> SimDuration {
        let nanos = u128::from(self.0) * NANOS / (SCALE * u128::from(seats.max(1)));
        SimDuration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// `self + other`, saturating.
    pub fn saturating_add(self, other: SeatSeconds) -> SeatSeconds {
        SeatSeconds(self.0.saturating_add(other.0))
    }

    /// `self − other`, saturating at zero.
    pub fn saturating_sub(self, other: SeatSeconds) -> SeatSeconds {
        SeatSeconds(self.0.saturating_sub(other.0))
    }

    /// Seat-seconds as a float, for reports only.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / SCALE as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_round_to_ten_seat_nanoseconds() {
        // 1 seat × 3 ms = 0.003 seat-s = 300,000 units of 1e-8.
        assert_eq!(
            SeatSeconds::seats_times(1, SimDuration::from_millis(3)),
            SeatSeconds(300_000)
        );
        // 2 seats shared by 3 queues for 1 µs: 2/3 × 1e-6 s = 6.67e-7 seat-s = 66.67 units → 67.
        assert_eq!(
            SeatSeconds::ratio_times(2, 3, SimDuration::from_micros(1)),
            SeatSeconds(67)
        );
        // 25 final seats × 5 ms = 0.125 seat-s, spread over 10 seats: 12.5 ms each.
        let work = SeatSeconds::seats_times(25, SimDuration::from_millis(5));
        assert_eq!(work.duration_per_seat(10), SimDuration::from_micros(12_500));
    }
}
