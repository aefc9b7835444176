//! Deepgram Aura's output settings (`encoding`, `container`, `sample_rate`, `bit_rate`) for a
//! requested audio format.
//!
//! Only the combinations in Deepgram's table are ever sent (`deepgram/deepgram-docs`,
//! `fern/docs/tts-media-output-settings.mdx`, "Audio Format Combinations"); Cloudflare's schema
//! lists the same parameters and leaves the combinations to Deepgram:
//!
//! | encoding | container | sample rate (Hz) | bit rate (bps) |
//! | --- | --- | --- | --- |
//! | linear16 | wav (default), none | 8000, 16000, 24000 (default), 32000, 48000 | n/a |
//! | mulaw, alaw | wav (default), none | 8000 (default), 16000 | n/a |
//! | mp3 | n/a | fixed 22050 | 32000, 48000 (default) |
//! | opus | ogg (default) | fixed 48000 | 4000 to 650000, default 12000 |
//! | flac | n/a | 8000, 16000, 22050, 32000, 48000 | n/a |
//! | aac | n/a | fixed 22050 | 4000 to 192000, default 48000 |
//!
//! A requested rate or bit rate is a preference for containers that describe themselves
//! (mp3, opus, aac, flac, wav): when Aura cannot produce it, the default is used and the
//! stream's format states what arrives. Headerless audio (pcm, ulaw, alaw) cannot be read
//! without knowing its rate, so a rate Aura cannot produce is `unsupported`.

use voxgate_plugin_sdk::{AudioContainer, AudioFormat, ProviderError};

/// The rates Deepgram offers for linear16.
const LINEAR16_RATES: [u32; 5] = [8000, 16000, 24000, 32000, 48000];
/// The rates Deepgram offers for mulaw and alaw.
const G711_RATES: [u32; 2] = [8000, 16000];
/// The rates Deepgram offers for flac. The table names no default.
const FLAC_RATES: [u32; 5] = [8000, 16000, 22050, 32000, 48000];

/// The values `bit_rate` may take for an encoding.
enum BitRates {
    /// The encoding has no bit rate.
    None,
    /// One of these values; the first is the default.
    OneOf(&'static [u32]),
    /// A value in `min..=max`, with a default.
    Range { min: u32, max: u32, default: u32 },
}

/// The values `sample_rate` may take for an encoding.
enum SampleRates {
    /// Deepgram sets this rate and does not accept the parameter.
    Fixed(u32),
    /// One of these values, sent explicitly, with the rate used when the request names none.
    OneOf { rates: &'static [u32], default: u32 },
}

/// One row of Deepgram's table, for the voxgate container it produces.
struct Encoding {
    encoding: &'static str,
    container: Option<&'static str>,
    sample_rates: SampleRates,
    bit_rates: BitRates,
}

/// The body fields and the format of the audio that comes back.
#[derive(Debug, Clone, PartialEq)]
pub struct AuraOutput {
    /// `encoding`.
    pub encoding: &'static str,
    /// `container`, omitted where Deepgram's table marks it not applicable.
    pub container: Option<&'static str>,
    /// `sample_rate`, omitted where Deepgram fixes the rate.
    pub sample_rate: Option<u32>,
    /// `bit_rate`, sent only when the request names one that Aura offers.
    pub bit_rate: Option<u32>,
    /// The audio that a successful response carries.
    pub format: AudioFormat,
}

fn encoding(container: AudioContainer) -> Encoding {
    let linear16 = SampleRates::OneOf {
        rates: &LINEAR16_RATES,
        default: 24_000,
    };
    let g711 = SampleRates::OneOf {
        rates: &G711_RATES,
        default: 8000,
    };

    match container {
        AudioContainer::Mp3 => Encoding {
            encoding: "mp3",
            container: None,
            sample_rates: SampleRates::Fixed(22_050),
            bit_rates: BitRates::OneOf(&[48_000, 32_000]),
        },
        AudioContainer::Opus => Encoding {
            encoding: "opus",
            container: Some("ogg"),
            sample_rates: SampleRates::Fixed(48_000),
            bit_rates: BitRates::Range {
                min: 4000,
                max: 650_000,
                default: 12_000,
            },
        },
        AudioContainer::Aac => Encoding {
            encoding: "aac",
            container: None,
            sample_rates: SampleRates::Fixed(22_050),
            bit_rates: BitRates::Range {
                min: 4000,
                max: 192_000,
                default: 48_000,
            },
        },
        AudioContainer::Flac => Encoding {
            encoding: "flac",
            container: None,
            // With no default in the table, the highest rate is sent: nothing the model
            // renders is lost.
            sample_rates: SampleRates::OneOf {
                rates: &FLAC_RATES,
                default: 48_000,
            },
            bit_rates: BitRates::None,
        },
        AudioContainer::Wav => Encoding {
            encoding: "linear16",
            container: Some("wav"),
            sample_rates: linear16,
            bit_rates: BitRates::None,
        },
        AudioContainer::Pcm => Encoding {
            encoding: "linear16",
            container: Some("none"),
            sample_rates: linear16,
            bit_rates: BitRates::None,
        },
        AudioContainer::Ulaw => Encoding {
            encoding: "mulaw",
            container: Some("none"),
            sample_rates: g711,
            bit_rates: BitRates::None,
        },
        AudioContainer::Alaw => Encoding {
            encoding: "alaw",
            container: Some("none"),
            sample_rates: g711,
            bit_rates: BitRates::None,
        },
    }
}

/// Maps `requested` to Aura's output settings.
///
/// # Errors
///
/// `unsupported` when a headerless container (pcm, ulaw, alaw) requests a rate that Aura does
/// not produce for it.
pub fn aura_output(requested: &AudioFormat) -> Result<AuraOutput, ProviderError> {
    let row = encoding(requested.container);
    let headerless = matches!(
        requested.container,
        AudioContainer::Pcm | AudioContainer::Ulaw | AudioContainer::Alaw
    );

    let (sample_rate, actual_rate) = match row.sample_rates {
        SampleRates::Fixed(rate) => (None, rate),
        SampleRates::OneOf { rates, default } => match requested.sample_rate {
            None => (Some(default), default),
            Some(rate) if rates.contains(&rate) => (Some(rate), rate),
            Some(rate) if headerless => {
                return Err(ProviderError::Unsupported(format!(
                    "Workers AI's Aura models produce {} at {} Hz, not {rate} Hz",
                    requested.container.name(),
                    join(rates)
                )));
            }
            Some(_) => (Some(default), default),
        },
    };

    let (bit_rate, actual_bit_rate) = match row.bit_rates {
        BitRates::None => (None, None),
        BitRates::OneOf(rates) => match requested.bitrate {
            Some(rate) if rates.contains(&rate) => (Some(rate), Some(rate)),
            _ => (None, Some(rates[0])),
        },
        BitRates::Range { min, max, default } => match requested.bitrate {
            Some(rate) if (min..=max).contains(&rate) => (Some(rate), Some(rate)),
            _ => (None, Some(default)),
        },
    };

    Ok(AuraOutput {
        encoding: row.encoding,
        container: row.container,
        sample_rate,
        bit_rate,
        format: AudioFormat {
            container: requested.container,
            sample_rate: Some(actual_rate),
            bitrate: actual_bit_rate,
        },
    })
}

fn join(rates: &[u32]) -> String {
    let names: Vec<String> = rates.iter().map(u32::to_string).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(
        container: AudioContainer,
        sample_rate: Option<u32>,
        bitrate: Option<u32>,
    ) -> AudioFormat {
        AudioFormat {
            container,
            sample_rate,
            bitrate,
        }
    }

    /// (encoding, container, sample_rate, bit_rate, declared rate, declared bit rate)
    type Row = (
        &'static str,
        Option<&'static str>,
        Option<u32>,
        Option<u32>,
        u32,
        Option<u32>,
    );

    fn row(output: &AuraOutput) -> Row {
        (
            output.encoding,
            output.container,
            output.sample_rate,
            output.bit_rate,
            output.format.sample_rate.unwrap_or(0),
            output.format.bitrate,
        )
    }

    #[test]
    fn defaults_follow_deepgram_table() {
        let cases: [(AudioContainer, Row); 8] = [
            (
                AudioContainer::Mp3,
                ("mp3", None, None, None, 22_050, Some(48_000)),
            ),
            (
                AudioContainer::Opus,
                ("opus", Some("ogg"), None, None, 48_000, Some(12_000)),
            ),
            (
                AudioContainer::Aac,
                ("aac", None, None, None, 22_050, Some(48_000)),
            ),
            (
                AudioContainer::Flac,
                ("flac", None, Some(48_000), None, 48_000, None),
            ),
            (
                AudioContainer::Wav,
                ("linear16", Some("wav"), Some(24_000), None, 24_000, None),
            ),
            (
                AudioContainer::Pcm,
                ("linear16", Some("none"), Some(24_000), None, 24_000, None),
            ),
            (
                AudioContainer::Ulaw,
                ("mulaw", Some("none"), Some(8000), None, 8000, None),
            ),
            (
                AudioContainer::Alaw,
                ("alaw", Some("none"), Some(8000), None, 8000, None),
            ),
        ];

        for (container, expected) in cases {
            let output = aura_output(&format(container, None, None)).unwrap();

            assert_eq!(row(&output), expected, "{}", container.name());
            assert_eq!(output.format.container, container);
        }
    }

    #[test]
    fn offered_rates_are_sent() {
        let cases = [
            (AudioContainer::Pcm, 8000),
            (AudioContainer::Pcm, 48_000),
            (AudioContainer::Wav, 16_000),
            (AudioContainer::Flac, 22_050),
            (AudioContainer::Ulaw, 16_000),
            (AudioContainer::Alaw, 16_000),
        ];

        for (container, rate) in cases {
            let output = aura_output(&format(container, Some(rate), None)).unwrap();

            assert_eq!(
                output.sample_rate,
                Some(rate),
                "{} {rate}",
                container.name()
            );
            assert_eq!(output.format.sample_rate, Some(rate));
        }
    }

    #[test]
    fn headerless_rate_must_be_offered() {
        let cases = [
            (
                AudioContainer::Pcm,
                44_100,
                "8000, 16000, 24000, 32000, 48000 Hz, not 44100",
            ),
            (
                AudioContainer::Ulaw,
                24_000,
                "ulaw at 8000, 16000 Hz, not 24000 Hz",
            ),
            (AudioContainer::Alaw, 22_050, "alaw at 8000, 16000 Hz"),
        ];

        for (container, rate, fragment) in cases {
            let error = aura_output(&format(container, Some(rate), None)).unwrap_err();

            let ProviderError::Unsupported(message) = error else {
                panic!("expected unsupported, got {error:?}");
            };
            assert!(message.contains(fragment), "{message}");
        }
    }

    #[test]
    fn self_describing_rate_falls_back_to_default() {
        let cases = [
            (AudioContainer::Wav, 44_100, Some(24_000), 24_000),
            (AudioContainer::Flac, 24_000, Some(48_000), 48_000),
            (AudioContainer::Mp3, 44_100, None, 22_050),
            (AudioContainer::Opus, 24_000, None, 48_000),
            (AudioContainer::Aac, 44_100, None, 22_050),
        ];

        for (container, asked, sent, declared) in cases {
            let output = aura_output(&format(container, Some(asked), None)).unwrap();

            assert_eq!(output.sample_rate, sent, "{}", container.name());
            assert_eq!(
                output.format.sample_rate,
                Some(declared),
                "{}",
                container.name()
            );
        }
    }

    #[test]
    fn bit_rates_within_table_are_sent() {
        let cases = [
            (AudioContainer::Mp3, 32_000),
            (AudioContainer::Mp3, 48_000),
            (AudioContainer::Opus, 4000),
            (AudioContainer::Opus, 650_000),
            (AudioContainer::Aac, 192_000),
        ];

        for (container, bitrate) in cases {
            let output = aura_output(&format(container, None, Some(bitrate))).unwrap();

            assert_eq!(
                output.bit_rate,
                Some(bitrate),
                "{} {bitrate}",
                container.name()
            );
            assert_eq!(output.format.bitrate, Some(bitrate));
        }
    }

    #[test]
    fn other_bit_rates_use_default() {
        let cases = [
            (AudioContainer::Mp3, 128_000, 48_000),
            (AudioContainer::Opus, 3999, 12_000),
            (AudioContainer::Aac, 192_001, 48_000),
        ];

        for (container, asked, declared) in cases {
            let output = aura_output(&format(container, None, Some(asked))).unwrap();

            assert_eq!(output.bit_rate, None, "{}", container.name());
            assert_eq!(
                output.format.bitrate,
                Some(declared),
                "{}",
                container.name()
            );
        }
    }

    #[test]
    fn uncompressed_bit_rate_is_ignored() {
        for container in [
            AudioContainer::Wav,
            AudioContainer::Flac,
            AudioContainer::Ulaw,
        ] {
            let output = aura_output(&format(container, None, Some(64_000))).unwrap();

            assert_eq!(output.bit_rate, None, "{}", container.name());
            assert_eq!(output.format.bitrate, None, "{}", container.name());
        }
    }
}
