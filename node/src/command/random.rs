//! The random source of commands: SplitMix64 and the two samplings the random commands need,
//! written out here so that a seed fixes the outcome forever.
//!
//! A write's random choices (SPOP, SRANDMEMBER or HRANDFIELD inside MULTI, RANDOMKEY) are made
//! by every replica as it applies the mutation, from the seed the mutation carries; replicas
//! agree only if the same seed gives the same picks on every node and every build. `rand`
//! promises neither: `StdRng`'s algorithm and the sampling helpers (`random_range`,
//! `seq::index::sample`, `shuffle`) may change their output between versions, and a rolling
//! upgrade would then apply one log two ways. Nothing here depends on anything outside this
//! file, and the known-answer tests below pin its output.

use std::collections::HashMap;

/// SplitMix64 (Steele, Lea and Flood, 2014; the reference `splitmix64.c`): 64 bits of state,
/// a Weyl sequence through a mixing function. Statistically sound for sampling, and small
/// enough to read at a glance.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`; 0 when `n` is 0. Lemire's multiply-and-shift, with rejection of the
    /// few products that would bias it ("Fast Random Integer Generation in an Interval", 2019).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut product = u128::from(self.next_u64()) * u128::from(n);
        if (product as u64) < n {
            // 2^64 mod n: the low words below it belong to an incomplete last stripe.
            let threshold = n.wrapping_neg() % n;
            while (product as u64) < threshold {
                product = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (product >> 64) as u64
    }

    /// `count` distinct values below `len` (at most `len` of them), in the order drawn: every
    /// ordered selection is equally likely. The first `count` steps of a Fisher-Yates shuffle
    /// of `0..len`, keeping only the positions it has moved, so it costs O(count), not O(len).
    pub fn distinct_below(&mut self, len: u64, count: u64) -> Vec<u64> {
        let count = count.min(len);
        // Position -> the value a swap left there. Only looked up, never iterated, so its
        // order cannot leak into the result.
        let mut moved: HashMap<u64, u64> = HashMap::new();
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let j = i + self.below(len - i);
            let at_i = moved.remove(&i).unwrap_or(i);
            let at_j = if j == i {
                at_i
            } else {
                moved.insert(j, at_i).unwrap_or(j)
            };
            out.push(at_j);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_gives_the_reference_outputs() {
        // The reference splitmix64.c, seeded with 1234567 and with 0.
        let mut r = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423,
                4_593_380_528_125_082_431,
                16_408_922_859_458_223_821,
            ]
        );
        let mut r = SplitMix64::new(0);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            [
                0xe220_a839_7b1d_cdaf,
                0x6e78_9e6a_a1b9_65f4,
                0x06c4_5d18_8009_454f
            ]
        );
    }

    /// The picks of a seed, pinned: replicas of any version must make these same choices.
    /// (Also computed by an independent Python transcription of the two algorithms.)
    #[test]
    fn samplings_of_a_seed_never_change() {
        let mut r = SplitMix64::new(42);
        let below: Vec<u64> = (0..8).map(|_| r.below(10)).collect();
        assert_eq!(below, [7, 1, 2, 3, 0, 8, 2, 8]);
        let mut r = SplitMix64::new(42);
        assert_eq!(r.distinct_below(100, 8), [74, 16, 29, 36, 7, 87, 26, 81]);
    }

    #[test]
    fn below_stays_below_and_covers_the_range() {
        let mut r = SplitMix64::new(7);
        assert_eq!(r.below(0), 0);
        assert_eq!(r.below(1), 0);
        let mut seen = [0u32; 6];
        for _ in 0..6000 {
            seen[r.below(6) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        // Near the top of the range the rejection step matters.
        let n = u64::MAX / 3 * 2;
        assert!((0..1000).all(|_| r.below(n) < n));
    }

    #[test]
    fn distinct_below_draws_distinct_values_uniformly() {
        let mut r = SplitMix64::new(9);
        for (len, count) in [(0, 3), (1, 1), (5, 5), (5, 9), (1000, 10), (1 << 40, 50)] {
            let got = r.distinct_below(len, count);
            assert_eq!(got.len() as u64, count.min(len));
            let mut sorted = got.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), got.len(), "repeats in {got:?}");
            assert!(got.iter().all(|&v| v < len));
        }
        // Each value is as likely in each position.
        let mut first = [0u32; 4];
        let mut second = [0u32; 4];
        for _ in 0..4000 {
            let got = r.distinct_below(4, 2);
            first[got[0] as usize] += 1;
            second[got[1] as usize] += 1;
        }
        for counts in [first, second] {
            assert!(
                counts.iter().all(|&n| (850..1150).contains(&n)),
                "{counts:?}"
            );
        }
    }
}
