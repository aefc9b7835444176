//! Seeded Gaussian noise for the two places where Piper samples: the duration predictor
//! and the prior.
//!
//! The preparation step replaced the graph's RandomNormalLike nodes with inputs, so the
//! same text gives the same audio (the gateway caches audio by its request), and no
//! operating-system randomness is needed inside the component.

/// A SplitMix64 generator (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", 2014) with Box-Muller normals. Statistical quality far beyond what
/// speech noise needs, in a few lines and without a dependency.
#[derive(Debug, Clone)]
pub struct Noise {
    state: u64,
    spare: Option<f32>,
}

impl Noise {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare: None,
        }
    }

    /// A generator seeded from the phoneme ids of an utterance, so each utterance has its
    /// own noise and the same utterance always the same.
    pub fn for_ids(ids: &[i64]) -> Self {
        // FNV-1a, 64 bit.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for id in ids {
            for byte in id.to_le_bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        Self::new(hash)
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// Returns a uniform sample in (0, 1], never 0, so its logarithm is finite.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Returns a standard normal sample.
    pub fn normal(&mut self) -> f32 {
        if let Some(spare) = self.spare.take() {
            return spare;
        }
        let radius = (-2.0 * self.uniform().ln()).sqrt();
        let angle = std::f64::consts::TAU * self.uniform();
        self.spare = Some((radius * angle.sin()) as f32);
        (radius * angle.cos()) as f32
    }

    /// `count` standard normal samples.
    pub fn normals(&mut self, count: usize) -> Vec<f32> {
        (0..count).map(|_| self.normal()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_noise() {
        assert_eq!(Noise::new(7).normals(10), Noise::new(7).normals(10));
        assert_ne!(
            Noise::for_ids(&[1, 2]).normals(4),
            Noise::for_ids(&[2, 1]).normals(4)
        );
    }

    #[test]
    fn looks_standard_normal() {
        let samples = Noise::new(42).normals(100_000);
        let count = samples.len() as f64;
        let mean = samples.iter().map(|&x| f64::from(x)).sum::<f64>() / count;
        let variance = samples
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / count;

        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.02, "variance {variance}");
        assert!(samples.iter().all(|x| x.is_finite()));
    }
}
