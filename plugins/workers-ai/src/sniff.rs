//! Recognising the container of audio bytes from their first bytes, for responses whose format
//! the documentation gets wrong (MeloTTS's "MP3" is WAV).

use voxgate_plugin_sdk::AudioContainer;

/// The container the bytes turned out to be, and its sample rate where the header states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// The container.
    pub container: AudioContainer,
    /// The sample rate, where the header states it (WAV's `fmt ` chunk).
    pub sample_rate: Option<u32>,
}

/// Recognises WAV, MP3, Ogg Opus, FLAC and ADTS AAC. Headerless audio (pcm, ulaw, alaw) has no
/// signature and is never recognised.
pub fn detect(bytes: &[u8]) -> Option<Detected> {
    let found = |container| Detected {
        container,
        sample_rate: None,
    };

    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WAVE") {
        return Some(Detected {
            container: AudioContainer::Wav,
            sample_rate: wav_sample_rate(bytes),
        });
    }
    if bytes.starts_with(b"fLaC") {
        return Some(found(AudioContainer::Flac));
    }
    // An Ogg page header is 27 bytes plus one lacing byte for the single-segment first
    // page, so the first packet, `OpusHead` for Opus, starts at offset 28 (RFC 7845).
    if bytes.starts_with(b"OggS") {
        let is_opus = bytes.get(28..36) == Some(b"OpusHead");
        return is_opus.then(|| found(AudioContainer::Opus));
    }
    if bytes.starts_with(b"ID3") {
        return Some(found(AudioContainer::Mp3));
    }

    match bytes {
        // An MPEG audio frame starts with 11 set bits. ADTS also does, with layer bits 00,
        // which MPEG audio never uses for MP3 (layer III is 01).
        [0xff, second, ..] if second & 0xe0 == 0xe0 => {
            if second & 0x06 == 0 {
                Some(found(AudioContainer::Aac))
            } else {
                Some(found(AudioContainer::Mp3))
            }
        }
        _ => None,
    }
}

/// Reads the sample rate from a RIFF WAVE file's `fmt ` chunk, walking the chunks in order
/// because encoders may put `LIST` or `JUNK` chunks first.
fn wav_sample_rate(bytes: &[u8]) -> Option<u32> {
    let mut offset = 12;
    while let Some(chunk_header) = bytes.get(offset..offset + 8) {
        let size = u32::from_le_bytes(chunk_header[4..8].try_into().ok()?) as usize;
        let body = offset + 8;
        if &chunk_header[..4] == b"fmt " {
            // Format tag (2 bytes), channels (2), then the sample rate (4), little-endian.
            let rate = bytes.get(body + 4..body + 8)?;
            return Some(u32::from_le_bytes(rate.try_into().ok()?));
        }
        // Chunks are padded to an even size.
        offset = body.checked_add(size)?.checked_add(size % 2)?;
    }

    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a canonical 44-byte WAV header (16-bit mono at `rate`) followed by two samples.
    pub(crate) fn wav(rate: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&40u32.to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&rate.to_le_bytes());
        bytes.extend_from_slice(&(rate * 2).to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&4u32.to_le_bytes());
        bytes.extend_from_slice(&[0, 0, 1, 0]);
        bytes
    }

    fn container(bytes: &[u8]) -> Option<AudioContainer> {
        detect(bytes).map(|found| found.container)
    }

    #[test]
    fn wav_rate_is_read() {
        let found = detect(&wav(44_100)).unwrap();

        assert_eq!(found.container, AudioContainer::Wav);
        assert_eq!(found.sample_rate, Some(44_100));
    }

    #[test]
    fn wav_rate_after_other_chunks() {
        let plain = wav(24_000);
        let mut bytes = plain[..12].to_vec();
        // A LIST chunk of odd size 3, padded to 4.
        bytes.extend_from_slice(b"LIST");
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 0]);
        bytes.extend_from_slice(&plain[12..]);

        assert_eq!(detect(&bytes).unwrap().sample_rate, Some(24_000));
    }

    #[test]
    fn truncated_wav_has_no_rate() {
        let bytes = wav(16_000);

        let found = detect(&bytes[..26]).unwrap();

        assert_eq!(found.container, AudioContainer::Wav);
        assert_eq!(found.sample_rate, None);
    }

    #[test]
    fn huge_chunk_size_does_not_overflow() {
        let mut bytes = wav(16_000)[..12].to_vec();
        bytes.extend_from_slice(b"JUNK");
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());

        assert_eq!(detect(&bytes).unwrap().sample_rate, None);
    }

    #[test]
    fn other_containers_are_recognised() {
        let mut ogg_opus = b"OggS".to_vec();
        ogg_opus.resize(28, 0);
        ogg_opus.extend_from_slice(b"OpusHead");
        let mut ogg_vorbis = b"OggS".to_vec();
        ogg_vorbis.resize(28, 0);
        ogg_vorbis.extend_from_slice(b"\x01vorbis\0");

        let cases: [(&[u8], Option<AudioContainer>); 9] = [
            (b"ID3\x04\0\0\0\0\0\0", Some(AudioContainer::Mp3)),
            (&[0xff, 0xf3, 0x64, 0xc4], Some(AudioContainer::Mp3)),
            (&[0xff, 0xfb, 0x90, 0x64], Some(AudioContainer::Mp3)),
            (&[0xff, 0xf1, 0x50, 0x80], Some(AudioContainer::Aac)),
            (b"fLaC\0\0\0\x22", Some(AudioContainer::Flac)),
            (&ogg_opus, Some(AudioContainer::Opus)),
            (&ogg_vorbis, None),
            (b"{\"result\":{}}", None),
            (&[], None),
        ];

        for (bytes, expected) in cases {
            assert_eq!(container(bytes), expected, "{bytes:?}");
        }
    }
}
