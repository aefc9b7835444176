//! Recognising audio from its bytes. fal's file names and content types describe what the app
//! meant to write, but the bytes show what the caller would get.

use voxgate_plugin_sdk::AudioContainer;

/// The kind of file that its first bytes show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// A container the contract names, with the sample rate when its header states one.
    Audio {
        /// The container.
        container: AudioContainer,
        /// Samples per second from the header.
        sample_rate: Option<u32>,
    },
    /// An Ogg stream that does not carry Opus (Vorbis, say), which the contract cannot name.
    OtherOgg,
    /// An MP4 or M4A file, which the contract's `aac` does not promise to callers as a stream.
    Mp4,
    /// Nothing recognisable.
    Unknown,
}

impl Sniffed {
    /// Names what was found, for messages.
    pub fn describe(self) -> String {
        match self {
            Sniffed::Audio { container, .. } => format!("{} audio", container.name()),
            Sniffed::OtherOgg => "an Ogg stream without Opus".to_string(),
            Sniffed::Mp4 => "an MP4 file".to_string(),
            Sniffed::Unknown => "no known audio format".to_string(),
        }
    }
}

/// Recognises the container of `data` from its first bytes.
pub fn sniff(data: &[u8]) -> Sniffed {
    if data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WAVE") {
        return audio(AudioContainer::Wav, wav_sample_rate(data));
    }
    if data.starts_with(b"fLaC") {
        // STREAMINFO follows the 4-byte marker and its 4-byte block header. The rate is the
        // 20 bits from STREAMINFO's 11th byte on.
        let rate = data
            .get(18..21)
            .map(|b| (u32::from(b[0]) << 12) | (u32::from(b[1]) << 4) | (u32::from(b[2]) >> 4))
            .filter(|&rate| rate > 0);
        return audio(AudioContainer::Flac, rate);
    }
    if data.starts_with(b"OggS") {
        // The first Ogg page is short and contains the codec's identification header.
        let head = &data[..data.len().min(512)];
        if head.windows(8).any(|window| window == b"OpusHead") {
            return audio(AudioContainer::Opus, None);
        }
        return Sniffed::OtherOgg;
    }
    if data.get(4..8) == Some(b"ftyp") {
        return Sniffed::Mp4;
    }

    let frame_start = id3_len(data).unwrap_or(0);
    let had_id3 = frame_start > 0;
    match data.get(frame_start..) {
        Some(frame) if is_adts(frame) => audio(AudioContainer::Aac, None),
        Some(frame) => match mp3_sample_rate(frame) {
            Some(rate) => audio(AudioContainer::Mp3, Some(rate)),
            // An ID3 tag in front of something else is still most likely an MP3 file.
            None if had_id3 => audio(AudioContainer::Mp3, None),
            None => Sniffed::Unknown,
        },
        None if had_id3 => audio(AudioContainer::Mp3, None),
        None => Sniffed::Unknown,
    }
}

fn audio(container: AudioContainer, sample_rate: Option<u32>) -> Sniffed {
    Sniffed::Audio {
        container,
        sample_rate,
    }
}

/// Reads the sample rate from the `fmt ` chunk of a RIFF WAVE file.
fn wav_sample_rate(data: &[u8]) -> Option<u32> {
    let mut offset = 12;

    // The fmt chunk comes first in practice. A few chunks are walked in case one precedes it.
    for _ in 0..16 {
        let id = data.get(offset..offset + 4)?;
        let size = u32::from_le_bytes(data.get(offset + 4..offset + 8)?.try_into().ok()?);
        if id == b"fmt " {
            let rate = data.get(offset + 12..offset + 16)?;
            return Some(u32::from_le_bytes(rate.try_into().ok()?)).filter(|&rate| rate > 0);
        }
        // Chunks are padded to an even size.
        let padded = usize::try_from(size)
            .ok()?
            .checked_add(usize::from(size % 2 == 1))?;
        offset = offset.checked_add(8)?.checked_add(padded)?;
    }
    None
}

/// Returns the length of an ID3v2 tag at the start of `data`, footer included.
fn id3_len(data: &[u8]) -> Option<usize> {
    if !data.starts_with(b"ID3") {
        return None;
    }
    let size = data.get(6..10)?;
    // The size is "synchsafe": 7 bits per byte.
    let body = size.iter().fold(0usize, |total, &byte| {
        (total << 7) | usize::from(byte & 0x7F)
    });
    let footer = if data.get(5).is_some_and(|flags| flags & 0x10 != 0) {
        10
    } else {
        0
    };
    Some(10 + body + footer)
}

/// Checks for an ADTS header: 12 sync bits and layer `00`.
fn is_adts(frame: &[u8]) -> bool {
    matches!(frame, [0xFF, second, ..] if second & 0xF6 == 0xF0)
}

/// Reads the sample rate of an MPEG audio Layer III frame header.
fn mp3_sample_rate(frame: &[u8]) -> Option<u32> {
    let [0xFF, second, third, ..] = frame else {
        return None;
    };
    if second & 0xE0 != 0xE0 {
        return None;
    }
    // Layer bits `01` are Layer III.
    if (second >> 1) & 0b11 != 0b01 {
        return None;
    }

    let base = match third >> 2 & 0b11 {
        0 => 44_100,
        1 => 48_000,
        2 => 32_000,
        _ => return None,
    };
    match (second >> 3) & 0b11 {
        0b11 => Some(base),     // MPEG-1
        0b10 => Some(base / 2), // MPEG-2
        0b00 => Some(base / 4), // MPEG-2.5
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a 44-byte WAV header for 16-bit mono PCM at `rate`, followed by two samples.
    fn wav(rate: u32) -> Vec<u8> {
        let mut data = b"RIFF\x28\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00".to_vec();
        data.extend_from_slice(&rate.to_le_bytes());
        data.extend_from_slice(&(rate * 2).to_le_bytes());
        data.extend_from_slice(b"\x02\x00\x10\x00data\x04\x00\x00\x00\x00\x00\x00\x00");
        data
    }

    #[test]
    fn wav_rate_is_read() {
        assert_eq!(
            sniff(&wav(24_000)),
            Sniffed::Audio {
                container: AudioContainer::Wav,
                sample_rate: Some(24_000)
            }
        );
    }

    #[test]
    fn wav_rate_after_list_chunk() {
        let mut data = b"RIFF\x00\x00\x00\x00WAVELIST\x03\x00\x00\x00abc\x00".to_vec();
        data.extend_from_slice(&wav(22_050)[12..]);

        assert_eq!(
            sniff(&data),
            Sniffed::Audio {
                container: AudioContainer::Wav,
                sample_rate: Some(22_050)
            }
        );
    }

    #[test]
    fn truncated_wav_has_no_rate() {
        let data = &wav(24_000)[..20];

        assert_eq!(
            sniff(data),
            Sniffed::Audio {
                container: AudioContainer::Wav,
                sample_rate: None
            }
        );
    }

    #[test]
    fn mp3_frames_are_recognised() {
        // (first bytes, sample rate): MPEG-1 at 44.1 kHz, MPEG-2 at 24 kHz, MPEG-2.5 at 8 kHz.
        let cases: [(&[u8], u32); 3] = [
            (&[0xFF, 0xFB, 0x90, 0x64], 44_100),
            (&[0xFF, 0xF3, 0x64, 0xC4], 24_000),
            (&[0xFF, 0xE3, 0x88, 0xC4], 8000),
        ];

        for (data, rate) in cases {
            assert_eq!(
                sniff(data),
                Sniffed::Audio {
                    container: AudioContainer::Mp3,
                    sample_rate: Some(rate)
                },
                "{data:02x?}"
            );
        }
    }

    #[test]
    fn mp3_after_id3_tag() {
        let mut data = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
        data.extend_from_slice(&[0xFF, 0xFB, 0x94, 0x64]);

        assert_eq!(
            sniff(&data),
            Sniffed::Audio {
                container: AudioContainer::Mp3,
                sample_rate: Some(48_000)
            }
        );
    }

    #[test]
    fn other_containers_are_named() {
        let opus = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00OpusHead\x01\x01";
        let vorbis = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01vorbis";
        let flac = b"fLaC\x00\x00\x00\x22\x10\x00\x10\x00\x00\x00\x00\x00\x00\x00\x05\xdc\x00\xf0";

        assert_eq!(sniff(opus).describe(), "opus audio");
        assert_eq!(sniff(vorbis), Sniffed::OtherOgg);
        assert_eq!(
            sniff(flac),
            Sniffed::Audio {
                container: AudioContainer::Flac,
                sample_rate: Some(24_000)
            }
        );
        assert_eq!(sniff(b"\x00\x00\x00\x20ftypM4A "), Sniffed::Mp4);
        assert_eq!(sniff(&[0xFF, 0xF1, 0x50, 0x80]).describe(), "aac audio");
    }

    #[test]
    fn text_is_unknown() {
        for data in [
            &b""[..],
            b"<html>",
            b"{\"detail\": 1}",
            b"ID3",
            &[0xFF, 0xFF, 0xFF, 0xFF],
        ] {
            let sniffed = sniff(data);

            assert!(
                matches!(sniffed, Sniffed::Unknown) || data.starts_with(b"ID3"),
                "{data:?}: {sniffed:?}"
            );
        }
    }

    #[test]
    fn huge_id3_size_does_not_panic() {
        let data = b"ID3\x04\x00\x10\x7f\x7f\x7f\x7f";

        assert_eq!(sniff(data).describe(), "mp3 audio");
    }

    #[test]
    fn huge_wav_chunk_does_not_panic() {
        let data = b"RIFF\x00\x00\x00\x00WAVEjunk\xff\xff\xff\xff";

        assert_eq!(
            sniff(data),
            Sniffed::Audio {
                container: AudioContainer::Wav,
                sample_rate: None
            }
        );
    }
}
