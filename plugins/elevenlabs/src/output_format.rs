//! Choosing ElevenLabs' `output_format` query value from the caller's audio format.
//!
//! ElevenLabs names each format `codec_samplerate[_bitrate]`, such as `mp3_44100_128` or
//! `pcm_24000`, and offers a fixed list (the `output_format` enum of its OpenAPI spec, plus
//! `mp3_24000_48`, `pcm_32000` and the `wav_*` values that its 2026 SDKs add). `wav_*` exists
//! only on the endpoints that return the whole clip, not on `/stream`.

use voxgate_plugin_sdk::{AudioContainer, AudioFormat, ProviderError};

/// MP3 as `(sample rate, kbit/s)`.
const MP3: [(u32, u32); 7] = [
    (22_050, 32),
    (24_000, 48),
    (44_100, 32),
    (44_100, 64),
    (44_100, 96),
    (44_100, 128),
    (44_100, 192),
];

/// Sample rates of raw 16-bit PCM, and of WAV.
const PCM_RATES: [u32; 7] = [8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000];

/// Opus bit rates in kbit/s. ElevenLabs' Opus is always 48 kHz.
const OPUS_KBPS: [u32; 5] = [32, 64, 96, 128, 192];

/// G.711 (`ulaw_8000`, `alaw_8000`) is telephony audio at 8 kHz only.
const G711_RATE: u32 = 8_000;
const OPUS_RATE: u32 = 48_000;

/// The defaults for a request without a rate: ElevenLabs' default `mp3_44100_128`, and
/// 24 kHz for raw and WAV audio, the rate OpenAI-compatible callers expect.
const DEFAULT_MP3: (u32, u32) = (44_100, 128);
const DEFAULT_PCM_RATE: u32 = 24_000;
const DEFAULT_OPUS_KBPS: u32 = 64;

/// An `output_format` value and the audio format it produces.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFormat {
    /// The query value, such as `mp3_44100_128`.
    pub name: String,
    /// The format of the audio ElevenLabs sends for it, with its rate stated.
    pub format: AudioFormat,
}

impl OutputFormat {
    /// Returns whether ElevenLabs offers this format on its streaming endpoints.
    pub fn streams(&self) -> bool {
        self.format.container != AudioContainer::Wav
    }
}

/// Picks the `output_format` for `requested`.
///
/// A missing sample rate or bit rate takes the default of its container, and a rate given
/// alone picks the offered format that has it.
///
/// # Errors
///
/// `unsupported` for a container (AAC, FLAC) or a rate combination that ElevenLabs does not
/// offer; the message lists what it offers.
pub fn choose(requested: &AudioFormat) -> Result<OutputFormat, ProviderError> {
    let kbps = requested.bitrate.map(|bits| bits / 1000);

    match requested.container {
        AudioContainer::Mp3 => choose_mp3(requested.sample_rate, kbps),
        AudioContainer::Pcm => choose_pcm("pcm", AudioContainer::Pcm, requested.sample_rate),
        AudioContainer::Wav => choose_pcm("wav", AudioContainer::Wav, requested.sample_rate),
        AudioContainer::Ulaw => choose_g711("ulaw", AudioContainer::Ulaw, requested.sample_rate),
        AudioContainer::Alaw => choose_g711("alaw", AudioContainer::Alaw, requested.sample_rate),
        AudioContainer::Opus => choose_opus(requested.sample_rate, kbps),
        AudioContainer::Aac | AudioContainer::Flac => Err(ProviderError::Unsupported(format!(
            "ElevenLabs offers no {} output, only mp3, pcm, ulaw, alaw, opus and wav",
            requested.container.name()
        ))),
    }
}

fn choose_mp3(rate: Option<u32>, kbps: Option<u32>) -> Result<OutputFormat, ProviderError> {
    let chosen = match (rate, kbps) {
        (None, None) => Some(DEFAULT_MP3),
        // A rate alone takes its highest bit rate; a bit rate alone prefers 44.1 kHz.
        (Some(rate), None) => MP3.iter().rev().find(|(r, _)| *r == rate).copied(),
        (None, Some(kbps)) => MP3.iter().rev().find(|(_, k)| *k == kbps).copied(),
        (Some(rate), Some(kbps)) => MP3.iter().find(|pair| **pair == (rate, kbps)).copied(),
    };

    let Some((rate, kbps)) = chosen else {
        let offered: Vec<String> = MP3
            .iter()
            .map(|(rate, kbps)| format!("{rate} Hz at {kbps} kbit/s"))
            .collect();
        return Err(ProviderError::Unsupported(format!(
            "ElevenLabs offers no mp3 at {}; it offers {}",
            describe(rate, kbps),
            offered.join(", ")
        )));
    };

    Ok(output(
        format!("mp3_{rate}_{kbps}"),
        AudioContainer::Mp3,
        rate,
        Some(kbps * 1000),
    ))
}

fn choose_pcm(
    codec: &str,
    container: AudioContainer,
    rate: Option<u32>,
) -> Result<OutputFormat, ProviderError> {
    let rate = rate.unwrap_or(DEFAULT_PCM_RATE);
    if !PCM_RATES.contains(&rate) {
        let offered: Vec<String> = PCM_RATES.iter().map(u32::to_string).collect();
        return Err(ProviderError::Unsupported(format!(
            "ElevenLabs offers no {codec} at {rate} Hz; it offers {} Hz",
            offered.join(", ")
        )));
    }

    Ok(output(format!("{codec}_{rate}"), container, rate, None))
}

fn choose_g711(
    codec: &str,
    container: AudioContainer,
    rate: Option<u32>,
) -> Result<OutputFormat, ProviderError> {
    let rate = rate.unwrap_or(G711_RATE);
    if rate != G711_RATE {
        return Err(ProviderError::Unsupported(format!(
            "ElevenLabs offers {codec} at {G711_RATE} Hz only, not {rate} Hz"
        )));
    }

    Ok(output(
        format!("{codec}_{G711_RATE}"),
        container,
        rate,
        None,
    ))
}

fn choose_opus(rate: Option<u32>, kbps: Option<u32>) -> Result<OutputFormat, ProviderError> {
    let rate = rate.unwrap_or(OPUS_RATE);
    let kbps = kbps.unwrap_or(DEFAULT_OPUS_KBPS);
    if rate != OPUS_RATE || !OPUS_KBPS.contains(&kbps) {
        let offered: Vec<String> = OPUS_KBPS.iter().map(u32::to_string).collect();
        return Err(ProviderError::Unsupported(format!(
            "ElevenLabs offers no opus at {}; it offers {OPUS_RATE} Hz at {} kbit/s",
            describe(Some(rate), Some(kbps)),
            offered.join(", ")
        )));
    }

    Ok(output(
        format!("opus_{rate}_{kbps}"),
        AudioContainer::Opus,
        rate,
        Some(kbps * 1000),
    ))
}

fn output(
    name: String,
    container: AudioContainer,
    rate: u32,
    bitrate: Option<u32>,
) -> OutputFormat {
    OutputFormat {
        name,
        format: AudioFormat {
            container,
            sample_rate: Some(rate),
            bitrate,
        },
    }
}

fn describe(rate: Option<u32>, kbps: Option<u32>) -> String {
    match (rate, kbps) {
        (Some(rate), Some(kbps)) => format!("{rate} Hz and {kbps} kbit/s"),
        (Some(rate), None) => format!("{rate} Hz"),
        (None, Some(kbps)) => format!("{kbps} kbit/s"),
        (None, None) => "its default rate".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(container: AudioContainer, rate: Option<u32>, bitrate: Option<u32>) -> AudioFormat {
        AudioFormat {
            container,
            sample_rate: rate,
            bitrate,
        }
    }

    #[test]
    fn requests_map_to_output_formats() {
        use AudioContainer::*;
        // (container, rate, bit/s, output_format, stated rate, stated bit/s)
        let cases = [
            (Mp3, None, None, "mp3_44100_128", 44_100, Some(128_000)),
            (
                Mp3,
                Some(22_050),
                None,
                "mp3_22050_32",
                22_050,
                Some(32_000),
            ),
            (
                Mp3,
                Some(24_000),
                None,
                "mp3_24000_48",
                24_000,
                Some(48_000),
            ),
            (
                Mp3,
                Some(44_100),
                None,
                "mp3_44100_192",
                44_100,
                Some(192_000),
            ),
            (
                Mp3,
                None,
                Some(32_000),
                "mp3_44100_32",
                44_100,
                Some(32_000),
            ),
            (
                Mp3,
                None,
                Some(48_000),
                "mp3_24000_48",
                24_000,
                Some(48_000),
            ),
            (
                Mp3,
                Some(44_100),
                Some(96_000),
                "mp3_44100_96",
                44_100,
                Some(96_000),
            ),
            (
                Mp3,
                Some(22_050),
                Some(32_000),
                "mp3_22050_32",
                22_050,
                Some(32_000),
            ),
            (Pcm, None, None, "pcm_24000", 24_000, None),
            (Pcm, Some(8_000), None, "pcm_8000", 8_000, None),
            (Pcm, Some(44_100), None, "pcm_44100", 44_100, None),
            (Pcm, Some(48_000), Some(768_000), "pcm_48000", 48_000, None),
            (Wav, None, None, "wav_24000", 24_000, None),
            (Wav, Some(16_000), None, "wav_16000", 16_000, None),
            (Ulaw, None, None, "ulaw_8000", 8_000, None),
            (Alaw, Some(8_000), None, "alaw_8000", 8_000, None),
            (Opus, None, None, "opus_48000_64", 48_000, Some(64_000)),
            (
                Opus,
                Some(48_000),
                Some(192_000),
                "opus_48000_192",
                48_000,
                Some(192_000),
            ),
            (
                Opus,
                None,
                Some(32_000),
                "opus_48000_32",
                48_000,
                Some(32_000),
            ),
        ];

        for (container, rate, bitrate, name, stated_rate, stated_bitrate) in cases {
            let chosen = choose(&format(container, rate, bitrate)).unwrap();

            assert_eq!(chosen.name, name, "{container:?} {rate:?} {bitrate:?}");
            assert_eq!(chosen.format.container, container, "{name}");
            assert_eq!(chosen.format.sample_rate, Some(stated_rate), "{name}");
            assert_eq!(chosen.format.bitrate, stated_bitrate, "{name}");
        }
    }

    #[test]
    fn unoffered_combinations_are_unsupported() {
        use AudioContainer::*;
        // (container, rate, bit/s, a fragment the message must contain)
        let cases = [
            (Mp3, Some(48_000), None, "no mp3 at 48000 Hz"),
            (
                Mp3,
                Some(22_050),
                Some(128_000),
                "no mp3 at 22050 Hz and 128 kbit/s",
            ),
            (Mp3, None, Some(320_000), "no mp3 at 320 kbit/s"),
            (Pcm, Some(11_025), None, "no pcm at 11025 Hz"),
            (Wav, Some(96_000), None, "no wav at 96000 Hz"),
            (Ulaw, Some(16_000), None, "ulaw at 8000 Hz only"),
            (Alaw, Some(44_100), None, "alaw at 8000 Hz only"),
            (Opus, Some(24_000), None, "no opus at 24000 Hz"),
            (
                Opus,
                None,
                Some(256_000),
                "no opus at 48000 Hz and 256 kbit/s",
            ),
            (Aac, None, None, "no aac output"),
            (Flac, Some(44_100), None, "no flac output"),
        ];

        for (container, rate, bitrate, fragment) in cases {
            let error = choose(&format(container, rate, bitrate)).unwrap_err();

            let ProviderError::Unsupported(message) = error else {
                panic!("{container:?} {rate:?}: expected unsupported, got {error:?}");
            };
            assert!(message.contains(fragment), "{message}");
        }
    }

    #[test]
    fn only_wav_needs_whole_clip_endpoint() {
        use AudioContainer::*;

        for container in [Mp3, Pcm, Ulaw, Alaw, Opus] {
            assert!(choose(&format(container, None, None)).unwrap().streams());
        }
        assert!(!choose(&format(Wav, None, None)).unwrap().streams());
    }
}
