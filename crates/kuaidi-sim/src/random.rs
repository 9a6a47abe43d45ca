//! Small sampling helpers over the simulator's one seeded generator, and a stateless hash for values that must be
//! shared between parcels (the truck on a line in a given hour).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The simulator's generator: ChaCha with 8 rounds, named explicitly so that a seed means the same stream on every
/// platform and in every release of `rand`.
pub(crate) type SimRng = ChaCha8Rng;

/// A discrete distribution over `0..n`, sampled by binary search over cumulative weights.
#[derive(Debug, Clone)]
pub(crate) struct Cumulative {
    /// Running sums of the weights; the last one is the total.
    sums: Vec<f64>,
}

impl Cumulative {
    /// Builds the distribution; negative and non-finite weights count as zero.
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Cumulative {
        let mut total = 0.0;
        let sums = weights
            .into_iter()
            .map(|w| {
                total += if w.is_finite() && w > 0.0 { w } else { 0.0 };
                total
            })
            .collect();
        Cumulative { sums }
    }

    /// Whether any index has a positive weight.
    pub fn is_empty(&self) -> bool {
        self.sums.last().is_none_or(|total| *total <= 0.0)
    }

    /// Draws an index; an empty distribution always gives 0.
    pub fn sample(&self, rng: &mut SimRng) -> usize {
        let Some(&total) = self.sums.last() else { return 0 };
        let target = rng.random::<f64>() * total;
        self.sums.partition_point(|&sum| sum <= target).min(self.sums.len() - 1)
    }
}

/// A uniform whole number of seconds in `low..=high` minutes.
pub(crate) fn minutes(rng: &mut SimRng, low: i64, high: i64) -> i64 {
    rng.random_range(low * 60..=high * 60)
}

/// Whether an event of probability `rate` happens; rates are validated to lie in `0..=1` before a run.
pub(crate) fn chance(rng: &mut SimRng, rate: f64) -> bool {
    rng.random::<f64>() < rate
}

/// Picks an element of a non-empty slice; an empty slice gives `fallback`.
pub(crate) fn pick<T: Copy>(rng: &mut SimRng, items: &[T], fallback: T) -> T {
    if items.is_empty() {
        fallback
    } else {
        items[rng.random_range(0..items.len())]
    }
}

/// SplitMix64 finaliser: a stateless, well-mixed hash of one word.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Hashes several words into one, order-sensitively.
pub(crate) fn mix_all(words: &[u64]) -> u64 {
    words.iter().fold(0x5EED_u64, |acc, &w| mix(acc ^ w))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn cumulative_follows_weights() {
        let mut rng = SimRng::seed_from_u64(7);
        let dist = Cumulative::new([1.0, 0.0, 3.0, f64::NAN]);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[dist.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert_eq!(counts[3], 0);
        assert!((9_000..11_000).contains(&counts[0]), "{counts:?}");
        assert!(Cumulative::new([]).is_empty());
        assert_eq!(Cumulative::new([]).sample(&mut rng), 0);
    }
}
