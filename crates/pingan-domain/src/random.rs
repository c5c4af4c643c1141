//! SplitMix64: the one small pseudo-random generator of the workspace.
//!
//! Pingan needs random numbers only where they must be *reproducible*: the
//! demo geography (townships, villages and grids generated inside the real
//! county outlines), the national-scale synthetic grids for benchmarks, and
//! the property tests, whose failures must replay from their seed. A given
//! seed must give the same sequence on every platform and in every release,
//! so the generator is written out here instead of taken from a crate whose
//! algorithm or float conversion could change under us: changing a single
//! output here changes every generated polygon, so the sequence is fixed and
//! pinned by the reference values in the tests below.
//!
//! This is **not** a cryptographic generator: its state is its last output
//! plus a constant, and anyone who sees one output can predict all the rest.
//! Never use it for tokens, passwords, salts, nonces or anything secret.
//!
//! The algorithm is Steele, Lea and Flood's SplitMix64 (as in Java's
//! `SplittableRandom` and Vigna's reference C code): the state advances by the
//! golden-ratio increment and each output is the state passed through
//! [`mix64`], which also serves on its own to hash seeds and codes into
//! well-spread seeds.

/// The golden-ratio increment by which the state advances at every draw.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A deterministic SplitMix64 stream: the same seed always yields the same
/// numbers. Not for anything secret (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A stream starting from `seed`. Every `u64`, zero included, is a
    /// good seed; nearby seeds give unrelated streams.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix64(self.0)
    }

    /// Uniform in [0, 1): the top 53 bits of [`next_u64`](Self::next_u64)
    /// scaled by 2⁻⁵³, so every value is a multiple of 2⁻⁵³ and exact. (The
    /// scaling is exact, so multiplying by 2⁻⁵³ and dividing by 2⁵³ give the
    /// same bits.)
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi), computed as `lo + (hi - lo) * next_f64()`.
    pub fn range_f64(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Uniform in `0..n`, by `next_u64() % n`; the modulo bias is negligible
    /// for the small `n` this is used with. `n == 0` is taken as 1 (so the
    /// result is 0), which still consumes one draw.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..hi` (`hi > lo`), as `lo + below(hi - lo)`.
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        lo.wrapping_add(self.below(hi.wrapping_sub(lo) as u64) as i64)
    }

    /// A uniformly chosen element of `items`, which must not be empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// SplitMix64's finaliser: a stateless bijection on `u64` that spreads every
/// input bit over the whole output. Used to derive well-mixed seeds from a
/// caller's seed, lattice positions or region codes. Not a cryptographic hash.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_sequence() {
        // Vigna's splitmix64.c seeded with 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn matches_the_reference_sequence_for_another_seed() {
        // Seed 1234567, as in the test vectors of common SplitMix64 ports.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(rng.next_u64(), 9_817_491_932_198_370_423);
        assert_eq!(rng.next_u64(), 4_593_380_528_125_082_431);
        assert_eq!(rng.next_u64(), 16_408_922_859_458_223_821);
    }

    #[test]
    fn each_output_is_the_finaliser_of_the_advanced_state() {
        let mut rng = SplitMix64::new(42);
        for k in 1..=100u64 {
            assert_eq!(
                rng.next_u64(),
                mix64(42u64.wrapping_add(GAMMA.wrapping_mul(k)))
            );
        }
        assert_eq!(mix64(0), 0);
    }

    #[test]
    fn floats_are_the_top_53_bits_scaled() {
        let mut a = SplitMix64::new(7);
        let mut b = a.clone();
        for _ in 0..10_000 {
            let f = a.next_f64();
            let bits = b.next_u64() >> 11;
            assert!((0.0..1.0).contains(&f));
            // Both conversions used across the workspace agree bit for bit.
            assert_eq!(f.to_bits(), (bits as f64 / (1u64 << 53) as f64).to_bits());
            assert_eq!(f * (1u64 << 53) as f64, bits as f64);
        }
        // The largest value: just below 1.
        let top = ((u64::MAX >> 11) as f64 * (1.0 / (1u64 << 53) as f64)).to_bits();
        assert_eq!(
            top,
            ((u64::MAX >> 11) as f64 / (1u64 << 53) as f64).to_bits()
        );
        assert!(f64::from_bits(top) < 1.0);
    }

    #[test]
    fn ranges_stay_in_bounds_and_follow_the_stream() {
        let mut rng = SplitMix64::new(3);
        let mut raw = rng.clone();
        for _ in 0..10_000 {
            let x = rng.range_f64(-2.5, 4.0);
            assert!((-2.5..4.0).contains(&x));
            assert_eq!(x, -2.5 + 6.5 * raw.next_f64());

            let k = rng.below(7);
            assert_eq!(k, raw.next_u64() % 7);

            let i = rng.range_i64(-10_000_000_000_000, 10_000_000_000_000);
            assert!((-10_000_000_000_000..10_000_000_000_000).contains(&i));
            assert_eq!(
                i,
                -10_000_000_000_000 + (raw.next_u64() % 20_000_000_000_000) as i64
            );

            let items = ['a', 'b', 'c'];
            assert_eq!(*rng.pick(&items), items[(raw.next_u64() % 3) as usize]);
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.range_i64(5, 6), 5);
    }

    #[test]
    fn same_seed_same_stream() {
        let mut a = SplitMix64::new(2024);
        let mut b = SplitMix64::new(2024);
        let mut c = SplitMix64::new(2025);
        let xs: Vec<u64> = (0..64).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..64).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..64).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }
}
