//! Checks a synthesis request against what the local voice can do.
//!
//! What this provider cannot serve (another model, voice, container, language,
//! timestamps, instructions, a speed outside its range) is `unsupported`, so
//! the host can fall back to another provider. Values wrong for any provider (empty or
//! over-long text, unknown options, a speed that is not a positive number) are
//! `invalid-request`.

use voxgate_plugin_sdk::{AudioContainer, ProviderError, SynthesisRequest, parse_options};

use crate::catalog::{MAX_CHARACTERS, MODEL_ID};
use crate::resample::{MAX_RATE, MIN_RATE};
use crate::voice::Voice;

/// The slowest speed offered. Slower speech has more frames per phoneme, so it needs more
/// memory, which the utterance limit offsets by shrinking with speed.
// NOTE: below 0.5 the voice is expected to drag; that is an estimate, not a measurement.
pub const MIN_SPEED: f32 = 0.5;

/// The fastest speed offered. Beyond 2 the voice swallows syllables.
pub const MAX_SPEED: f32 = 2.0;

/// Provider options the plugin accepts: none.
const ACCEPTED_OPTIONS: [&str; 0] = [];

/// A request the plugin can serve.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<'a> {
    /// The index of the requested voice in the voice list.
    pub voice: usize,
    /// Wav or pcm.
    pub container: AudioContainer,
    /// 1.0 is the voice's normal pace.
    pub speed: f32,
    /// The text to speak.
    pub text: &'a str,
}

/// Checks `request` against the plugin's voices.
pub fn check<'a>(
    request: &'a SynthesisRequest,
    voices: &[Voice],
) -> Result<Checked<'a>, ProviderError> {
    if request.model != MODEL_ID {
        return Err(ProviderError::Unsupported(format!(
            "the local provider has no model `{}`; its model is `{MODEL_ID}`",
            request.model
        )));
    }
    let Some(voice) = voices.iter().position(|voice| voice.id == request.voice) else {
        let known: Vec<&str> = voices.iter().map(|voice| voice.id.as_str()).collect();
        return Err(ProviderError::Unsupported(format!(
            "the local provider has no voice `{}`; its voices are {}",
            request.voice,
            known.join(", ")
        )));
    };
    let container = request.format.container;
    if !matches!(container, AudioContainer::Wav | AudioContainer::Pcm) {
        return Err(ProviderError::Unsupported(format!(
            "the local provider writes wav and pcm only, not {}",
            container.name()
        )));
    }
    // WAV comes at the voice's rate, which its header states, whatever rate was requested.
    // Raw PCM comes at the requested rate (see `resample`), within the range converted.
    if let Some(requested) = request.format.sample_rate
        && container == AudioContainer::Pcm
        && !(MIN_RATE..=MAX_RATE).contains(&requested)
    {
        return Err(ProviderError::Unsupported(format!(
            "the local provider writes pcm at {MIN_RATE} to {MAX_RATE} Hz, not {requested} Hz"
        )));
    }
    if let Some(language) = &request.language
        && !speaks(&voices[voice], language)
    {
        return Err(ProviderError::Unsupported(format!(
            "the voice `{}` speaks {}, not {language}",
            request.voice, voices[voice].language
        )));
    }
    if request.timestamps {
        return Err(ProviderError::Unsupported(
            "the local provider returns no timestamps".to_string(),
        ));
    }
    if request
        .instructions
        .as_deref()
        .is_some_and(|text| !text.trim().is_empty())
    {
        return Err(ProviderError::Unsupported(
            "the local provider takes no instructions".to_string(),
        ));
    }

    parse_options(&request.options, &ACCEPTED_OPTIONS)?;
    let speed = check_speed(request.speed)?;
    check_text(&request.text)?;

    Ok(Checked {
        voice,
        container,
        speed,
        text: &request.text,
    })
}

/// Returns whether a voice speaks a BCP 47 tag: "en" and "en-US" match an en-US voice.
fn speaks(voice: &Voice, language: &str) -> bool {
    let requested = language.to_ascii_lowercase();
    let own = voice.language.to_ascii_lowercase();
    let own_primary = own.split('-').next().unwrap_or("");
    requested == own || requested == own_primary
}

fn check_speed(speed: Option<f32>) -> Result<f32, ProviderError> {
    let Some(speed) = speed else {
        return Ok(1.0);
    };
    if !speed.is_finite() || speed <= 0.0 {
        return Err(ProviderError::InvalidRequest(format!(
            "speed must be a positive number, not {speed}"
        )));
    }
    if !(MIN_SPEED..=MAX_SPEED).contains(&speed) {
        return Err(ProviderError::Unsupported(format!(
            "the local voice speaks at speeds from {MIN_SPEED} to {MAX_SPEED}, not {speed}"
        )));
    }
    Ok(speed)
}

fn check_text(text: &str) -> Result<(), ProviderError> {
    if text.trim().is_empty() {
        return Err(ProviderError::InvalidRequest(
            "the text is empty".to_string(),
        ));
    }
    let characters = text.chars().count();
    if characters > MAX_CHARACTERS as usize {
        return Err(ProviderError::InvalidRequest(format!(
            "the text has {characters} characters, the local provider accepts at most {MAX_CHARACTERS} per request"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::AudioFormat;

    use super::*;
    use crate::voice::tests::SAMPLE_CONFIG;

    fn request() -> SynthesisRequest {
        SynthesisRequest {
            text: "Hello there.".to_string(),
            model: "piper".to_string(),
            voice: "sample".to_string(),
            format: AudioFormat {
                container: AudioContainer::Wav,
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

    fn outcome(
        change: impl FnOnce(&mut SynthesisRequest),
    ) -> Result<(usize, AudioContainer, f32), ProviderError> {
        let voices = [Voice::parse(SAMPLE_CONFIG).unwrap()];
        let mut request = request();
        change(&mut request);
        check(&request, &voices).map(|checked| (checked.voice, checked.container, checked.speed))
    }

    fn is_unsupported(result: Result<(usize, AudioContainer, f32), ProviderError>) -> bool {
        matches!(result, Err(ProviderError::Unsupported(_)))
    }

    fn is_invalid(result: Result<(usize, AudioContainer, f32), ProviderError>) -> bool {
        matches!(result, Err(ProviderError::InvalidRequest(_)))
    }

    #[test]
    fn accepts_wav_and_pcm() {
        assert_eq!(outcome(|_| {}), Ok((0, AudioContainer::Wav, 1.0)));
        assert_eq!(
            outcome(|request| request.format.container = AudioContainer::Pcm),
            Ok((0, AudioContainer::Pcm, 1.0))
        );
        assert_eq!(
            outcome(|request| request.speed = Some(1.5)),
            Ok((0, AudioContainer::Wav, 1.5))
        );
        assert!(outcome(|request| request.format.sample_rate = Some(16000)).is_ok());
        assert!(outcome(|request| request.format.sample_rate = Some(24000)).is_ok());
        assert!(outcome(|request| request.language = Some("en".to_string())).is_ok());
        assert!(outcome(|request| request.language = Some("EN-us".to_string())).is_ok());
    }

    #[test]
    fn what_it_cannot_do_is_unsupported() {
        assert!(is_unsupported(outcome(
            |request| request.model = "tts-1".to_string()
        )));
        assert!(is_unsupported(outcome(
            |request| request.voice = "alloy".to_string()
        )));
        assert!(is_unsupported(outcome(|request| request
            .format
            .container =
            AudioContainer::Mp3)));
        assert!(is_unsupported(outcome(
            |request| request.language = Some("de".to_string())
        )));
        assert!(is_unsupported(outcome(|request| {
            request.format.container = AudioContainer::Pcm;
            request.format.sample_rate = Some(96000);
        })));
        assert!(is_unsupported(outcome(|request| request.timestamps = true)));
        assert!(is_unsupported(outcome(
            |request| request.instructions = Some("whisper".to_string())
        )));
        assert!(is_unsupported(outcome(|request| request.speed = Some(4.0))));
    }

    #[test]
    fn bad_values_are_invalid() {
        assert!(is_invalid(outcome(
            |request| request.text = "  ".to_string()
        )));
        assert!(is_invalid(outcome(
            |request| request.text = "a".repeat(MAX_CHARACTERS as usize + 1)
        )));
        assert!(outcome(|request| request.text = "é".repeat(MAX_CHARACTERS as usize)).is_ok());
        assert!(is_invalid(outcome(|request| request.speed = Some(0.0))));
        assert!(is_invalid(
            outcome(|request| request.speed = Some(f32::NAN))
        ));
        assert!(is_invalid(outcome(
            |request| request.options = r#"{"seed": 1}"#.to_string()
        )));
    }
}
