//! A sine tone as 16-bit mono PCM, raw or in a RIFF WAVE container.

/// The sample rate of every tone: 24 kHz, as OpenAI's PCM, so the host's PCM handling is
/// exercised with a realistic rate.
pub const SAMPLE_RATE: u32 = 24_000;

/// The tone's frequency. At 24 kHz one period is exactly 60 samples, so the waveform can be
/// computed once and repeated without drift.
const FREQUENCY_HZ: u32 = 400;

/// Peak amplitude, a quarter of full scale, loud enough to see and quiet enough not to clip.
const AMPLITUDE: f64 = 8192.0;

/// Length of the RIFF WAVE header for 16-bit PCM, in bytes.
pub const WAV_HEADER_BYTES: usize = 44;

/// Renders `samples` samples of the tone as signed 16-bit little-endian PCM, mono.
pub fn pcm(samples: usize) -> Vec<u8> {
    let period = (SAMPLE_RATE / FREQUENCY_HZ) as usize;
    let cycle: Vec<[u8; 2]> = (0..period)
        .map(|index| {
            let phase = std::f64::consts::TAU * index as f64 / period as f64;
            let sample = (AMPLITUDE * phase.sin()).round() as i16;
            sample.to_le_bytes()
        })
        .collect();

    let mut data = Vec::with_capacity(samples * 2);
    for index in 0..samples {
        data.extend_from_slice(&cycle[index % period]);
    }
    data
}

/// Wraps 16-bit mono PCM at [`SAMPLE_RATE`] in a RIFF WAVE header.
pub fn wav(pcm: &[u8]) -> Vec<u8> {
    let data_bytes = pcm.len() as u32;
    let channels: u16 = 1;
    let bits_per_sample: u16 = 16;
    let block_align = channels * bits_per_sample / 8;
    let byte_rate = SAMPLE_RATE * u32::from(block_align);

    let mut wav = Vec::with_capacity(WAV_HEADER_BYTES + pcm.len());
    wav.extend_from_slice(b"RIFF");
    // The RIFF size counts everything after this field: "WAVE", the fmt chunk, the data chunk.
    wav.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    wav.extend_from_slice(b"WAVE");

    wav.extend_from_slice(b"fmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    // Format 1 is integer PCM.
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&channels.to_le_bytes());
    wav.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    wav.extend_from_slice(&byte_rate.to_le_bytes());
    wav.extend_from_slice(&block_align.to_le_bytes());
    wav.extend_from_slice(&bits_per_sample.to_le_bytes());

    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_bytes.to_le_bytes());
    wav.extend_from_slice(pcm);
    wav
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(bytes: &[u8], offset: usize) -> u16 {
        u16::from_le_bytes([bytes[offset], bytes[offset + 1]])
    }

    fn u32_at(bytes: &[u8], offset: usize) -> u32 {
        u32::from_le_bytes([
            bytes[offset],
            bytes[offset + 1],
            bytes[offset + 2],
            bytes[offset + 3],
        ])
    }

    #[test]
    fn pcm_has_two_bytes_per_sample() {
        assert_eq!(pcm(0).len(), 0);
        assert_eq!(pcm(1440).len(), 2880);
    }

    #[test]
    fn pcm_is_a_bounded_sine() {
        let data = pcm(120);
        let samples: Vec<i16> = data
            .chunks_exact(2)
            .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
            .collect();

        assert_eq!(samples[0], 0);
        // A quarter period in, the sine peaks.
        assert_eq!(samples[15], 8192);
        assert_eq!(samples[45], -8192);
        // The waveform repeats every 60 samples.
        assert_eq!(samples[..60], samples[60..]);
        assert!(samples.iter().all(|sample| sample.unsigned_abs() <= 8192));
    }

    #[test]
    fn wav_header_describes_pcm() {
        let data = pcm(100);

        let file = wav(&data);

        assert_eq!(file.len(), 44 + 200);
        assert_eq!(&file[0..4], b"RIFF");
        assert_eq!(u32_at(&file, 4), 36 + 200);
        assert_eq!(&file[8..12], b"WAVE");
        assert_eq!(&file[12..16], b"fmt ");
        assert_eq!(u32_at(&file, 16), 16);
        assert_eq!(u16_at(&file, 20), 1, "PCM format");
        assert_eq!(u16_at(&file, 22), 1, "channels");
        assert_eq!(u32_at(&file, 24), 24_000, "sample rate");
        assert_eq!(u32_at(&file, 28), 48_000, "byte rate");
        assert_eq!(u16_at(&file, 32), 2, "block align");
        assert_eq!(u16_at(&file, 34), 16, "bits per sample");
        assert_eq!(&file[36..40], b"data");
        assert_eq!(u32_at(&file, 40), 200);
        assert_eq!(&file[44..], &data[..]);
    }
}
