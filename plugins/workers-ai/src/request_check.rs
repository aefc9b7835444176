//! The checks a synthesis request must pass before it becomes a Workers AI run request.
//!
//! What the model cannot serve (voice, container, speed, instructions, language, timestamps)
//! is `unsupported`, so that the host falls back to another provider. Values that are wrong
//! for any provider (empty or long text, unknown options) are `invalid-request`.

use voxgate_plugin_sdk::{ProviderError, SynthesisRequest, parse_options};

use crate::catalog::{self, Family, MAX_CHARACTERS, Model};

/// Provider options passed through from `synthesis-request.options`: none. Every field the
/// models' schemas list has a place in the synthesis request.
const ACCEPTED_OPTIONS: [&str; 0] = [];

/// Checks `request` against what its model accepts, every `unsupported` case before any
/// `invalid-request` case, and returns the model.
pub fn check(request: &SynthesisRequest) -> Result<&'static Model, ProviderError> {
    let model = catalog::model(&request.model).ok_or_else(|| {
        ProviderError::Unsupported(format!(
            "Workers AI offers no speech model `{}`",
            request.model
        ))
    })?;
    if !catalog::offers_voice(model, &request.voice) {
        return Err(ProviderError::Unsupported(format!(
            "the model `{}` has no voice `{}`",
            model.id, request.voice
        )));
    }
    let container = request.format.container;
    if !catalog::formats(model.family).contains(&container) {
        return Err(ProviderError::Unsupported(format!(
            "the model `{}` produces no {} audio",
            model.id,
            container.name()
        )));
    }
    check_features(request, model)?;

    parse_options(&request.options, &ACCEPTED_OPTIONS)?;
    check_text(&request.text)?;

    Ok(model)
}

/// Rejects features none of these models has (timestamps, instructions, another speed) and
/// languages the model does not speak.
fn check_features(request: &SynthesisRequest, model: &Model) -> Result<(), ProviderError> {
    let unsupported = |what: &str| {
        Err(ProviderError::Unsupported(format!(
            "the model `{}` {what}",
            model.id
        )))
    };

    if request.timestamps {
        return unsupported("returns no character timestamps");
    }
    if request
        .instructions
        .as_deref()
        .is_some_and(|text| !text.is_empty())
    {
        return unsupported("does not take instructions");
    }
    // Neither Cloudflare schema has a speed parameter.
    if request.speed.is_some_and(|speed| speed != 1.0) {
        return unsupported("has no speed setting, only the normal speed 1.0");
    }
    let language = request.language.as_deref();
    if model.family == Family::Aura && language.is_some_and(|tag| primary_subtag(tag) != "en") {
        return unsupported("speaks English only");
    }
    if model.family == Family::MeloTts
        && let Some(tag) = language
    {
        melotts_lang(tag)?;
    }

    Ok(())
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
            "the text has {characters} characters, the Workers AI plugin accepts at most \
             {MAX_CHARACTERS} per request"
        )));
    }

    Ok(())
}

/// Maps a BCP 47 tag to MeloTTS's `lang`.
///
/// NOTE: Cloudflare's schema gives only `en` and `fr` as examples. The other codes follow
/// MeloTTS's own language names (EN, ES, FR, ZH, JP, KR) in lower case, which is unverified on
/// Workers AI.
pub fn melotts_lang(tag: &str) -> Result<&'static str, ProviderError> {
    match primary_subtag(tag).as_str() {
        "en" => Ok("en"),
        "es" => Ok("es"),
        "fr" => Ok("fr"),
        "zh" => Ok("zh"),
        "ja" => Ok("jp"),
        "ko" => Ok("kr"),
        _ => Err(ProviderError::Unsupported(format!(
            "MeloTTS does not speak `{}`; it speaks en, es, fr, zh, ja and ko",
            tag.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(35)
                .collect::<String>()
        ))),
    }
}

/// Returns the language subtag of a BCP 47 tag, lower-case: `pt` for `pt-BR`.
fn primary_subtag(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::{AudioContainer, AudioFormat};

    use super::*;

    fn request(model: &str, voice: &str, container: AudioContainer) -> SynthesisRequest {
        SynthesisRequest {
            text: "Hello there.".to_string(),
            model: model.to_string(),
            voice: voice.to_string(),
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

    fn aura() -> SynthesisRequest {
        request("@cf/deepgram/aura-2-en", "luna", AudioContainer::Mp3)
    }

    fn melotts() -> SynthesisRequest {
        request("@cf/myshell-ai/melotts", "melotts", AudioContainer::Wav)
    }

    fn expect_unsupported(request: &SynthesisRequest, fragment: &str) {
        match check(request) {
            Err(ProviderError::Unsupported(message)) => {
                assert!(message.contains(fragment), "{message}")
            }
            other => panic!("expected unsupported, got {other:?}"),
        }
    }

    fn expect_invalid(request: &SynthesisRequest, fragment: &str) {
        match check(request) {
            Err(ProviderError::InvalidRequest(message)) => {
                assert!(message.contains(fragment), "{message}")
            }
            other => panic!("expected invalid-request, got {other:?}"),
        }
    }

    #[test]
    fn melotts_lang_from_language() {
        let cases = [
            ("en-US", "en"),
            ("es", "es"),
            ("FR-ca", "fr"),
            ("zh-Hans", "zh"),
            ("ja", "jp"),
            ("ko_KR", "kr"),
        ];

        for (language, lang) in cases {
            assert_eq!(melotts_lang(language), Ok(lang), "{language}");
        }
    }

    #[test]
    fn melotts_other_language_is_unsupported() {
        let error = melotts_lang("de-DE").unwrap_err();

        assert_eq!(
            error,
            ProviderError::Unsupported(
                "MeloTTS does not speak `de-DE`; it speaks en, es, fr, zh, ja and ko".to_string()
            )
        );
    }

    #[test]
    fn aura_speaks_english_only() {
        let mut request = aura();
        request.language = Some("en-GB".to_string());
        assert!(check(&request).is_ok());

        request.language = Some("es".to_string());
        expect_unsupported(&request, "speaks English only");
    }

    #[test]
    fn unknown_model_and_voice_are_unsupported() {
        expect_unsupported(
            &request("@cf/deepgram/aura-9", "luna", AudioContainer::Mp3),
            "no speech model",
        );
        expect_unsupported(
            &request("@cf/deepgram/aura-1", "thalia", AudioContainer::Mp3),
            "has no voice `thalia`",
        );
        expect_unsupported(
            &request("@cf/myshell-ai/melotts", "luna", AudioContainer::Wav),
            "has no voice `luna`",
        );
    }

    #[test]
    fn melotts_other_container_is_unsupported() {
        let mut request = melotts();
        request.format.container = AudioContainer::Mp3;

        expect_unsupported(&request, "produces no mp3 audio");
    }

    #[test]
    fn features_are_unsupported() {
        let mut timestamps = aura();
        timestamps.timestamps = true;
        expect_unsupported(&timestamps, "timestamps");

        let mut instructions = melotts();
        instructions.instructions = Some("Whisper.".to_string());
        expect_unsupported(&instructions, "does not take instructions");

        let mut speed = aura();
        speed.speed = Some(1.5);
        expect_unsupported(&speed, "no speed setting");
    }

    #[test]
    fn normal_speed_and_empty_instructions_are_accepted() {
        let mut request = aura();
        request.speed = Some(1.0);
        request.instructions = Some(String::new());

        assert!(check(&request).is_ok());
    }

    #[test]
    fn text_is_checked() {
        let mut request = aura();
        request.text = " ".to_string();
        expect_invalid(&request, "the text is empty");

        request.text = "é".repeat(2001);
        expect_invalid(&request, "2001 characters");

        request.text = "é".repeat(2000);
        assert!(check(&request).is_ok());
    }

    #[test]
    fn options_are_checked() {
        let mut request = aura();
        request.options = r#"{"bit_rate": 32000}"#.to_string();

        expect_invalid(&request, "unknown provider option `bit_rate`");
    }

    #[test]
    fn melotts_language_is_checked_first() {
        let mut request = melotts();
        request.language = Some("de".to_string());
        request.text = String::new();

        expect_unsupported(&request, "MeloTTS does not speak `de`");
    }

    #[test]
    fn unsupported_wins_over_invalid() {
        let mut request = aura();
        request.speed = Some(2.0);
        request.text = String::new();

        expect_unsupported(&request, "no speed setting");
    }
}
