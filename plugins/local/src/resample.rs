//! Sample-rate conversion for raw PCM, whose bytes cannot state their rate.
//!
//! The gateway's OpenAI-compatible route asks for OpenAI's 24 kHz and checks that raw
//! `pcm` comes at the rate it asked for, while a Piper voice speaks at its own rate
//! (22,050 Hz for joe). WAV states its rate in its header and is returned unconverted.

/// The lowest rate the plugin converts to: telephone audio.
pub const MIN_RATE: u32 = 8_000;
/// The highest rate the plugin converts to.
pub const MAX_RATE: u32 = 48_000;

/// Converts 16-bit samples from `from` Hz to `to` Hz by linear interpolation.
///
/// NOTE: linear interpolation is transparent for the small upward step from 22,050 to
/// 24,000 Hz, but converting down to 8 or 16 kHz adds some aliasing, since no low-pass
/// filter runs first.
pub fn resample(samples: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || from == 0 || samples.is_empty() {
        return samples.to_vec();
    }

    let length = (samples.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..length)
        .map(|index| {
            let position = index as f64 * step;
            let left = position.floor() as usize;
            let fraction = position - left as f64;
            let a = f64::from(samples[left.min(samples.len() - 1)]);
            let b = f64::from(samples[(left + 1).min(samples.len() - 1)]);
            (a + (b - a) * fraction).round() as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_rate_is_unchanged() {
        assert_eq!(resample(&[1, 2, 3], 22050, 22050), vec![1, 2, 3]);
    }

    #[test]
    fn length_follows_the_ratio() {
        let one_second = vec![0i16; 22050];

        assert_eq!(resample(&one_second, 22050, 24000).len(), 24000);
        assert_eq!(resample(&one_second, 22050, 16000).len(), 16000);
    }

    #[test]
    fn interpolates_between_samples() {
        assert_eq!(resample(&[0, 100], 1, 2), vec![0, 50, 100, 100]);
    }

    #[test]
    fn keeps_a_sine_wave() {
        let tone: Vec<i16> = (0..22050)
            .map(|index| {
                (10_000.0 * (2.0 * std::f64::consts::PI * 440.0 * index as f64 / 22050.0).sin())
                    as i16
            })
            .collect();

        let converted = resample(&tone, 22050, 24000);

        for (index, &sample) in converted.iter().enumerate().step_by(997) {
            let expected =
                10_000.0 * (2.0 * std::f64::consts::PI * 440.0 * index as f64 / 24000.0).sin();
            assert!(
                (f64::from(sample) - expected).abs() < 200.0,
                "{index}: {sample} vs {expected}"
            );
        }
    }
}
