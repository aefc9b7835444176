//! Test plugin `test-tone`: a well-behaved provider that needs no network. `synthesize`
//! returns an `audio` step with a 400 Hz sine tone, 60 ms per character of text, as WAV or
//! raw PCM (16-bit, mono, 24 kHz). With `timestamps` it also returns one 60 ms slot per
//! character.
//!
//! The host can run its whole request path (routing, streaming to the client, caching,
//! accounting) against this plugin offline. `speed`, `language` and `instructions` are
//! ignored, so the output depends only on the text and the format.

mod wav;

use voxgate_plugin_sdk::{
    Alignment, Audio, AudioContainer, AudioFormat, Guest, HttpResponse, ProviderError,
    ProviderInfo, Setting, SettingsError, Step, SynthesisRequest,
};
use voxgate_test_plugin_support::{provider_info, unexpected_resume};

pub use wav::SAMPLE_RATE;

const ID: &str = "test-tone";

/// Tone length per character of text, in milliseconds.
pub const MS_PER_CHARACTER: u32 = 60;

/// Samples per character: 60 ms at 24 kHz is 1440.
const SAMPLES_PER_CHARACTER: usize = (SAMPLE_RATE / 1000 * MS_PER_CHARACTER) as usize;

/// The offline tone provider.
pub struct Tone;

impl Guest for Tone {
    fn describe(_settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        let mut info = provider_info(
            ID,
            "Test: tone",
            &[AudioContainer::Wav, AudioContainer::Pcm],
        );
        // This plugin sends no requests, so it addresses no host.
        info.hosts.clear();
        Ok(info)
    }

    fn synthesize(
        request: SynthesisRequest,
        _settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        let container = request.format.container;
        if !matches!(container, AudioContainer::Wav | AudioContainer::Pcm) {
            return Err(ProviderError::Unsupported(format!(
                "{ID} produces only wav and pcm, not {}",
                container.name()
            )));
        }
        if let Some(rate) = request.format.sample_rate
            && rate != SAMPLE_RATE
        {
            return Err(ProviderError::Unsupported(format!(
                "{ID} produces {SAMPLE_RATE} Hz only, not {rate} Hz"
            )));
        }

        let characters: Vec<char> = request.text.chars().collect();
        if request.text.trim().is_empty() {
            return Err(ProviderError::InvalidRequest(
                "the text is empty or only whitespace".to_string(),
            ));
        }
        let limit = voxgate_test_plugin_support::MAX_CHARACTERS as usize;
        if characters.len() > limit {
            return Err(ProviderError::InvalidRequest(format!(
                "the text has {} characters, {ID} accepts at most {limit}",
                characters.len()
            )));
        }

        let pcm = wav::pcm(characters.len() * SAMPLES_PER_CHARACTER);
        let data = match container {
            AudioContainer::Wav => wav::wav(&pcm),
            _ => pcm,
        };
        let alignment = request.timestamps.then(|| alignment(&characters));

        Ok(Step::Audio(Audio {
            format: AudioFormat {
                container,
                sample_rate: Some(SAMPLE_RATE),
                bitrate: None,
            },
            data,
            alignment,
            billed_characters: None,
        }))
    }

    fn resume(_response: HttpResponse) -> Result<Step, ProviderError> {
        Err(unexpected_resume(ID))
    }
}

/// Gives each character its own [`MS_PER_CHARACTER`] slot, in text order.
fn alignment(characters: &[char]) -> Alignment {
    let starts = (0u32..).map(|index| index * MS_PER_CHARACTER);

    Alignment {
        characters: characters.iter().map(char::to_string).collect(),
        start_ms: starts.clone().take(characters.len()).collect(),
        end_ms: starts
            .map(|start| start + MS_PER_CHARACTER)
            .take(characters.len())
            .collect(),
    }
}

voxgate_plugin_sdk::export!(Tone);

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str, container: AudioContainer) -> SynthesisRequest {
        SynthesisRequest {
            text: text.to_string(),
            model: "test".to_string(),
            voice: "test".to_string(),
            format: AudioFormat {
                container,
                sample_rate: None,
                bitrate: None,
            },
            speed: None,
            language: None,
            instructions: None,
            timestamps: false,
            options: String::new(),
        }
    }

    fn audio(request: SynthesisRequest) -> Audio {
        match Tone::synthesize(request, Vec::new()) {
            Ok(Step::Audio(audio)) => audio,
            other => panic!("expected an audio step, got {other:?}"),
        }
    }

    #[test]
    fn describe_offers_wav_and_pcm() {
        let info = Tone::describe(Vec::new()).unwrap();

        assert_eq!(info.id, "test-tone");
        assert_eq!(
            info.models[0].formats,
            vec![AudioContainer::Wav, AudioContainer::Pcm]
        );
        assert!(info.hosts.is_empty());
        assert!(info.secrets.is_empty());
    }

    #[test]
    fn pcm_length_follows_text() {
        let audio = audio(request("hello", AudioContainer::Pcm));

        // 5 characters × 60 ms × 24 samples/ms × 2 bytes.
        assert_eq!(audio.data.len(), 5 * 1440 * 2);
        assert_eq!(
            audio.format,
            AudioFormat {
                container: AudioContainer::Pcm,
                sample_rate: Some(24_000),
                bitrate: None,
            }
        );
        assert_eq!(audio.alignment, None);
    }

    #[test]
    fn wav_has_header_and_samples() {
        let audio = audio(request("héllo", AudioContainer::Wav));

        assert_eq!(audio.data.len(), 44 + 5 * 1440 * 2);
        assert_eq!(&audio.data[..4], b"RIFF");
        assert_eq!(audio.format.container, AudioContainer::Wav);
    }

    #[test]
    fn timestamps_give_each_character_a_slot() {
        let mut request = request("ab", AudioContainer::Pcm);
        request.timestamps = true;

        let audio = audio(request);

        assert_eq!(
            audio.alignment,
            Some(Alignment {
                characters: vec!["a".to_string(), "b".to_string()],
                start_ms: vec![0, 60],
                end_ms: vec![60, 120],
            })
        );
    }

    #[test]
    fn explicit_24000_is_accepted() {
        let mut request = request("a", AudioContainer::Wav);
        request.format.sample_rate = Some(24_000);

        assert!(Tone::synthesize(request, Vec::new()).is_ok());
    }

    #[test]
    fn other_formats_are_unsupported() {
        let mut wrong_rate = request("a", AudioContainer::Pcm);
        wrong_rate.format.sample_rate = Some(16_000);

        for request in [request("a", AudioContainer::Mp3), wrong_rate] {
            let error = Tone::synthesize(request, Vec::new()).unwrap_err();

            assert!(matches!(error, ProviderError::Unsupported(_)), "{error:?}");
        }
    }

    #[test]
    fn text_is_checked() {
        let empty = request("", AudioContainer::Pcm);
        let blank = request(" \n\t ", AudioContainer::Pcm);
        let long = request(&"a".repeat(1001), AudioContainer::Pcm);

        for request in [empty, blank, long] {
            let error = Tone::synthesize(request, Vec::new()).unwrap_err();

            assert!(
                matches!(error, ProviderError::InvalidRequest(_)),
                "{error:?}"
            );
        }
    }
}
