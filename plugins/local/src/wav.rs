//! 16-bit PCM samples from the voice's float output, and the WAV container around them.

/// Bytes per 16-bit sample.
const BYTES_PER_SAMPLE: u32 = 2;

/// The quietest peak that is scaled up to full volume. Below it an utterance is treated
/// as near-silence and not amplified further, as Piper does (piper-tts `audio_float_to_int16`
/// uses the same 0.01 floor).
const MIN_PEAK: f32 = 0.01;

/// Converts one utterance to 16-bit samples, scaled so that its loudest sample is at
/// full scale, as Piper does for each sentence.
pub fn to_pcm16(samples: &[f32], pcm: &mut Vec<i16>) {
    let peak = samples
        .iter()
        .filter(|sample| sample.is_finite())
        .fold(0.0f32, |peak, sample| peak.max(sample.abs()));
    let gain = f32::from(i16::MAX) / peak.max(MIN_PEAK);

    pcm.extend(samples.iter().map(|&sample| {
        let scaled = if sample.is_finite() {
            sample * gain
        } else {
            0.0
        };
        scaled.clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
    }));
}

/// Appends `seconds` of silence at `sample_rate`.
pub fn silence(seconds: f32, sample_rate: u32, pcm: &mut Vec<i16>) {
    let count = (seconds * sample_rate as f32).round() as usize;
    pcm.resize(pcm.len() + count, 0);
}

/// Headerless little-endian 16-bit mono PCM.
pub fn pcm_bytes(pcm: &[i16]) -> Vec<u8> {
    pcm.iter().flat_map(|sample| sample.to_le_bytes()).collect()
}

/// Writes a RIFF WAVE file: the canonical 44-byte header, then the samples.
pub fn wav_bytes(pcm: &[i16], sample_rate: u32) -> Vec<u8> {
    let data_size = u32::try_from(pcm.len())
        .unwrap_or(u32::MAX / BYTES_PER_SAMPLE)
        .saturating_mul(BYTES_PER_SAMPLE);
    let mut bytes = Vec::with_capacity(44 + data_size as usize);

    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&data_size.saturating_add(36).to_le_bytes());
    bytes.extend_from_slice(b"WAVE");
    bytes.extend_from_slice(b"fmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&sample_rate.to_le_bytes());
    bytes.extend_from_slice(&(sample_rate * BYTES_PER_SAMPLE).to_le_bytes());
    bytes.extend_from_slice(&(BYTES_PER_SAMPLE as u16).to_le_bytes()); // block align
    bytes.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_size.to_le_bytes());
    bytes.extend(pcm.iter().flat_map(|sample| sample.to_le_bytes()));
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_goes_to_full_scale() {
        let mut pcm = Vec::new();
        to_pcm16(&[0.0, 0.25, -0.5, f32::NAN], &mut pcm);
        assert_eq!(pcm, vec![0, 16383, -32767, 0]);
    }

    #[test]
    fn near_silence_is_not_amplified() {
        let mut pcm = Vec::new();
        to_pcm16(&[0.001], &mut pcm);
        assert_eq!(pcm, vec![3276]);
    }

    #[test]
    fn silence_length() {
        let mut pcm = vec![1];
        silence(0.5, 22050, &mut pcm);
        assert_eq!(pcm.len(), 1 + 11025);
    }

    #[test]
    fn wav_header() {
        let bytes = wav_bytes(&[1, -2], 22050);

        assert_eq!(bytes.len(), 48);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 40);
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 22050);
        assert_eq!(u32::from_le_bytes(bytes[28..32].try_into().unwrap()), 44100);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 4);
        assert_eq!(&bytes[44..], &[1, 0, 254, 255]);
        assert_eq!(pcm_bytes(&[1, -2]), vec![1, 0, 254, 255]);
    }
}
