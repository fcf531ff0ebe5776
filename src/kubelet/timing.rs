//! Draws from kubesim's timing distributions (`spec.kubelet.timing`), each from the seeded
//! stream of the node that takes the step.

use rand::RngExt;

use crate::config::kubelet::Distribution;
use crate::sim::{SimDuration, SimRng};

/// One duration from `distribution`.
pub fn draw(distribution: &Distribution, rng: &mut SimRng) -> SimDuration {
    match distribution {
        Distribution::Fixed(d) => *d,
        Distribution::Uniform { min, max } => {
            let span = max.as_nanos().saturating_sub(min.as_nanos());
            SimDuration::from_nanos(min.as_nanos() + rng.random_range(0..=span))
        }
        Distribution::LogNormal { median, sigma } => {
            let z = standard_normal(rng);
            let factor = libm::exp(sigma * z);
            let nanos = median.as_nanos() as f64 * factor;
            // Far tails saturate rather than wrap.
            SimDuration::from_nanos(if nanos >= u64::MAX as f64 {
                u64::MAX
            } else {
                nanos.round() as u64
            })
        }
    }
}

/// A standard normal draw (Box–Muller, through `libm` so every platform gets the same bits).
fn standard_normal(rng: &mut SimRng) -> f64 {
    // u1 in (0, 1]: the logarithm must stay finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    #[test]
    fn fixed_is_fixed_and_uniform_stays_in_range() {
        let mut rng = stream(1, "test/kubelet-timing");
        let one = SimDuration::from_secs(1);
        assert_eq!(draw(&Distribution::Fixed(one), &mut rng), one);
        let uniform = Distribution::Uniform {
            min: SimDuration::from_millis(300),
            max: SimDuration::from_secs(2),
        };
        for _ in 0..1000 {
            let d = draw(&uniform, &mut rng);
            assert!(d >= SimDuration::from_millis(300) && d <= SimDuration::from_secs(2));
        }
    }

    #[test]
    fn lognormal_draws_centre_on_the_median() {
        // Half the draws of a log-normal fall below its median.
        let mut rng = stream(1, "test/kubelet-timing");
        let d = Distribution::LogNormal {
            median: SimDuration::from_secs(5),
            sigma: 0.8,
        };
        let below = (0..4000)
            .filter(|_| draw(&d, &mut rng) < SimDuration::from_secs(5))
            .count();
        assert!(
            (1800..2200).contains(&below),
            "{below} of 4000 below the median"
        );
    }
}
