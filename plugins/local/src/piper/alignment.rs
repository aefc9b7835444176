//! Expands the encoder's per-phoneme statistics to per-frame ones and samples the prior.
//!
//! This is the step between the two halves of the graph, done in Rust: for batch size 1,
//! VITS's `generate_path` repeats each phoneme's column of `m_p` and `logs_p` as many
//! times as its duration says, and the prior sample is
//! `z_p = m_p + noise * exp(logs_p) * noise_scale` (Kim et al., "Conditional Variational
//! Autoencoder with Adversarial Learning for End-to-End Text-to-Speech", 2021; piper's
//! `SynthesizerTrn.infer`).

use super::noise::Noise;

/// Frames for each phoneme id, from the encoder's `w_ceil` (already rounded up and
/// scaled by the length scale). Negative or non-finite values count as zero.
pub fn frame_counts(w_ceil: &[f32]) -> Vec<usize> {
    w_ceil
        .iter()
        .map(|&frames| {
            if frames.is_finite() && frames > 0.0 {
                frames as usize
            } else {
                0
            }
        })
        .collect()
}

/// Builds `z_p` in `[channels, frames]` order (row-major, channel first) from `m_p` and
/// `logs_p` in `[channels, phonemes]` order.
///
/// Returns an empty vector when the shapes do not agree.
pub fn prior_sample(
    m_p: &[f32],
    logs_p: &[f32],
    channels: usize,
    frames_per_phoneme: &[usize],
    noise_scale: f32,
    noise: &mut Noise,
) -> Vec<f32> {
    let phonemes = frames_per_phoneme.len();
    if m_p.len() != channels * phonemes || logs_p.len() != m_p.len() {
        return Vec::new();
    }
    let frames: usize = frames_per_phoneme.iter().sum();

    // The phoneme that each frame belongs to.
    let mut owner = Vec::with_capacity(frames);
    for (phoneme, &count) in frames_per_phoneme.iter().enumerate() {
        owner.extend(std::iter::repeat_n(phoneme, count));
    }

    let mut z_p = Vec::with_capacity(channels * frames);
    for channel in 0..channels {
        let row = channel * phonemes;
        for &phoneme in &owner {
            let mean = m_p[row + phoneme];
            let log_deviation = logs_p[row + phoneme];
            z_p.push(mean + noise.normal() * log_deviation.exp() * noise_scale);
        }
    }
    z_p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_clamp() {
        assert_eq!(
            frame_counts(&[2.0, 0.0, -1.0, f32::NAN, 3.0]),
            vec![2, 0, 0, 0, 3]
        );
    }

    #[test]
    fn repeats_columns_without_noise() {
        // Two channels, two phonemes: m_p = [[1, 2], [3, 4]].
        let m_p = [1.0, 2.0, 3.0, 4.0];
        let logs_p = [0.0; 4];

        let z_p = prior_sample(&m_p, &logs_p, 2, &[1, 3], 0.0, &mut Noise::new(1));

        assert_eq!(z_p, vec![1.0, 2.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0]);
    }

    #[test]
    fn noise_scales_with_exp_logs() {
        let m_p = [0.0];
        let noise_scale = 0.5;
        let expected = Noise::new(9).normal() * 2f32.ln().exp() * noise_scale;

        let z_p = prior_sample(&m_p, &[2f32.ln()], 1, &[1], noise_scale, &mut Noise::new(9));

        assert!((z_p[0] - expected).abs() < 1e-6);
    }

    #[test]
    fn mismatched_shapes_give_nothing() {
        assert!(prior_sample(&[0.0; 3], &[0.0; 3], 2, &[1, 1], 1.0, &mut Noise::new(1)).is_empty());
    }
}
