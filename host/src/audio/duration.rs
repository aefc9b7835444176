//! The playing time of a clip, read from its bytes, for usage accounting.

use crate::plugin::wit::{AudioContainer, AudioFormat};

/// The clip's duration in milliseconds, when the format allows knowing it without decoding.
pub fn duration_ms(format: &AudioFormat, audio: &[u8]) -> Option<u64> {
    match format.container {
        AudioContainer::Pcm => bytes_duration(audio.len(), format.sample_rate?, 2),
        AudioContainer::Ulaw | AudioContainer::Alaw => bytes_duration(audio.len(), format.sample_rate.unwrap_or(8_000), 1),
        AudioContainer::Wav => wav_duration(audio),
        AudioContainer::Mp3 => mp3_duration(audio),
        AudioContainer::Opus => ogg_opus_duration(audio),
        AudioContainer::Aac | AudioContainer::Flac => None,
    }
}

fn bytes_duration(length: usize, sample_rate: u32, bytes_per_sample: u64) -> Option<u64> {
    let samples = length as u64 / bytes_per_sample;
    Some(samples * 1000 / u64::from(sample_rate.max(1)))
}

/// Reads the byte rate from the `fmt ` chunk and the length of the `data` chunk.
fn wav_duration(audio: &[u8]) -> Option<u64> {
    let mut offset = 12;
    let mut byte_rate = None;
    while offset + 8 <= audio.len() {
        let id = &audio[offset..offset + 4];
        let size = u32::from_le_bytes(audio[offset + 4..offset + 8].try_into().ok()?) as usize;
        let body = offset + 8;
        if id == b"fmt " {
            byte_rate = Some(u32::from_le_bytes(audio.get(body + 8..body + 12)?.try_into().ok()?));
        } else if id == b"data" {
            let data_len = size.min(audio.len() - body) as u64;
            return Some(data_len * 1000 / u64::from(byte_rate?.max(1)));
        }
        offset = body.checked_add(size)?.checked_add(size & 1)?;
    }
    None
}

/// Walks MPEG audio frame headers and adds up their samples.
fn mp3_duration(audio: &[u8]) -> Option<u64> {
    let mut offset = skip_id3(audio);
    let mut total_samples_ms_scaled: u64 = 0;
    let mut frames = 0;
    while offset + 4 <= audio.len() {
        let header = &audio[offset..offset + 4];
        let Some((frame_len, samples, sample_rate)) = mpeg_frame(header) else {
            offset += 1;
            continue;
        };
        total_samples_ms_scaled += samples * 1_000_000 / sample_rate;
        frames += 1;
        offset += frame_len;
    }
    (frames > 0).then_some(total_samples_ms_scaled / 1000)
}

/// Parses an MPEG-1/2/2.5 Layer III frame header: (frame length in bytes, samples, rate).
fn mpeg_frame(header: &[u8]) -> Option<(usize, u64, u64)> {
    if header[0] != 0xFF || header[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (header[1] >> 3) & 0b11; // 0: 2.5, 2: 2, 3: 1
    let layer = (header[1] >> 1) & 0b11; // 1: layer III
    if version == 1 || layer != 1 {
        return None;
    }
    let bitrate_index = (header[2] >> 4) as usize;
    let rate_index = ((header[2] >> 2) & 0b11) as usize;
    let padding = u64::from((header[2] >> 1) & 1);
    if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    const MPEG1_KBPS: [u64; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const MPEG2_KBPS: [u64; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    const RATES: [u64; 3] = [44_100, 48_000, 32_000];
    let (kbps, rate, samples) = match version {
        3 => (MPEG1_KBPS[bitrate_index], RATES[rate_index], 1152),
        2 => (MPEG2_KBPS[bitrate_index], RATES[rate_index] / 2, 576),
        _ => (MPEG2_KBPS[bitrate_index], RATES[rate_index] / 4, 576),
    };
    let length = samples / 8 * kbps * 1000 / rate + padding;
    (length >= 4).then_some((length as usize, samples, rate))
}

fn skip_id3(audio: &[u8]) -> usize {
    if audio.len() < 10 || !audio.starts_with(b"ID3") {
        return 0;
    }
    let size = audio[6..10].iter().fold(0usize, |size, byte| (size << 7) | usize::from(byte & 0x7F));
    10 + size
}

/// The granule position of the last Ogg page is the stream's length in 48 kHz samples, for
/// Opus (RFC 7845, section 4), less the pre-skip.
fn ogg_opus_duration(audio: &[u8]) -> Option<u64> {
    let last_page = audio.windows(4).rposition(|window| window == b"OggS")?;
    let granule = u64::from_le_bytes(audio.get(last_page + 6..last_page + 14)?.try_into().ok()?);
    let head = audio.windows(8).position(|window| window == b"OpusHead")?;
    let pre_skip = u64::from(u16::from_le_bytes(audio.get(head + 10..head + 12)?.try_into().ok()?));
    Some(granule.saturating_sub(pre_skip) * 1000 / 48_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(container: AudioContainer, sample_rate: Option<u32>) -> AudioFormat {
        AudioFormat { container, sample_rate, bitrate: None }
    }

    #[test]
    fn pcm_duration() {
        assert_eq!(duration_ms(&format(AudioContainer::Pcm, Some(24_000)), &vec![0; 48_000]), Some(1000));
        assert_eq!(duration_ms(&format(AudioContainer::Pcm, None), &[0; 10]), None);
    }

    #[test]
    fn mp3_frames_add_up() {
        // MPEG-1 layer III, 128 kbps, 44.1 kHz, no padding: 417-byte frames of 1152 samples.
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
        let audio: Vec<u8> = frame.repeat(100);
        let expected = 100 * 1152 * 1000 / 44_100;
        assert_eq!(duration_ms(&format(AudioContainer::Mp3, None), &audio), Some(expected));
    }
}
