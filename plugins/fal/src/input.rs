//! Checking a synthesis request against one fal app and building the app's input JSON.
//!
//! Every value from the caller goes into the JSON body, serialised by `serde_json`; none of
//! it reaches a URL or a header.

use voxgate_plugin_sdk::serde_json::{Map, Number, Value};
use voxgate_plugin_sdk::{ProviderError, SynthesisRequest, parse_options, sanitize};

use crate::catalog::{App, Family};

/// Options F5-TTS takes from `synthesis-request.options`.
pub const F5_OPTIONS: [&str; 4] = ["ref_audio_url", "ref_text", "model_type", "remove_silence"];
/// Options ElevenLabs on fal takes from `synthesis-request.options`; all are numbers from 0
/// to 1 (fal's input type: stability default 0.5, similarity_boost 0.75, style unset).
pub const ELEVENLABS_OPTIONS: [&str; 3] = ["stability", "similarity_boost", "style"];

/// F5-TTS's `model_type` values; the input is required and has no default.
const F5_MODEL_TYPES: [&str; 2] = ["F5-TTS", "E2-TTS"];

/// An inclusive `speed` range and how messages write it. The text is written out because
/// formatting an `f32` would add core's float printing, about 20 KB, to the component.
type SpeedRange = (f32, f32, &'static str);

/// Kokoro's `speed` range (`ge=0.1, le=5.0` in fal's published Kokoro app).
const KOKORO_SPEED: SpeedRange = (0.1, 5.0, "0.1 to 5");
/// ElevenLabs on fal's `speed` range, documented as 0.7 to 1.2.
const ELEVENLABS_SPEED: SpeedRange = (0.7, 1.2, "0.7 to 1.2");

/// Checks `request` against `app` and builds the JSON input the app expects.
///
/// What the app cannot do (voice, container, timestamps, instructions, language, speed on
/// F5-TTS) is `unsupported`, so the host can fall back. Values that are wrong for any
/// provider (empty or long text, a speed out of range, bad or missing options) are
/// `invalid-request`.
pub fn app_input(app: &App, request: &SynthesisRequest) -> Result<Value, ProviderError> {
    check_capabilities(app, request)?;
    check_text(app, &request.text)?;

    match app.family {
        Family::Kokoro => kokoro_input(request),
        Family::F5 => f5_input(request),
        Family::ElevenLabs => elevenlabs_input(request),
    }
}

fn check_capabilities(app: &App, request: &SynthesisRequest) -> Result<(), ProviderError> {
    if !app.voices.contains(&request.voice.as_str()) {
        return Err(ProviderError::Unsupported(format!(
            "fal's {} app has no voice `{}`; it offers {}",
            app.id,
            sanitize(&request.voice, 64),
            app.voices.join(", ")
        )));
    }
    if request.format.container != app.format {
        return Err(ProviderError::Unsupported(format!(
            "fal's {} app returns {} only, not {}",
            app.id,
            app.format.name(),
            request.format.container.name()
        )));
    }
    if request.timestamps {
        return Err(ProviderError::Unsupported(format!(
            "the plugin returns no character timestamps for fal's {} app",
            app.id
        )));
    }
    if request
        .instructions
        .as_deref()
        .is_some_and(|text| !text.is_empty())
    {
        return Err(ProviderError::Unsupported(format!(
            "fal's {} app takes no speaking instructions",
            app.id
        )));
    }
    if let Some(language) = &request.language
        && !app.languages.is_empty()
        && !app.languages.iter().any(|tag| same_language(tag, language))
    {
        return Err(ProviderError::Unsupported(format!(
            "fal's {} app speaks {}, not `{}`",
            app.id,
            app.languages.join(", "),
            sanitize(language, 35)
        )));
    }
    Ok(())
}

/// Compares the primary language subtags of two BCP 47 tags, so `en` matches `en-US`.
fn same_language(declared: &str, requested: &str) -> bool {
    let primary = |tag: &str| {
        tag.split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    primary(declared) == primary(requested)
}

fn check_text(app: &App, text: &str) -> Result<(), ProviderError> {
    if text.trim().is_empty() {
        return Err(ProviderError::InvalidRequest(
            "the text is empty".to_string(),
        ));
    }

    let characters = text.chars().count();
    if characters > app.max_characters as usize {
        return Err(ProviderError::InvalidRequest(format!(
            "the text has {characters} characters, fal's {} app accepts at most {}",
            app.id, app.max_characters
        )));
    }
    Ok(())
}

/// `{"prompt", "voice", "speed"?}`. Kokoro's text field is `prompt`; it has no `text`.
fn kokoro_input(request: &SynthesisRequest) -> Result<Value, ProviderError> {
    parse_options(&request.options, &[])?;

    let mut input = Map::new();
    input.insert("prompt".to_string(), Value::from(request.text.as_str()));
    input.insert("voice".to_string(), Value::from(request.voice.as_str()));
    if let Some(speed) = request.speed {
        input.insert(
            "speed".to_string(),
            speed_value(speed, KOKORO_SPEED, "Kokoro")?,
        );
    }

    Ok(Value::Object(input))
}

/// `{"gen_text", "ref_audio_url", "ref_text", "model_type", "remove_silence"?}`.
fn f5_input(request: &SynthesisRequest) -> Result<Value, ProviderError> {
    let options = parse_options(&request.options, &F5_OPTIONS)?;
    if request.speed.is_some_and(|speed| speed != 1.0) {
        return Err(ProviderError::Unsupported(
            "fal's F5-TTS app has no speed input".to_string(),
        ));
    }

    // The reference clip and its transcript are both required here, although fal would
    // transcribe an empty `ref_text` itself: a transcript the caller chose keeps the same
    // request speaking the same way, which the gateway's cache relies on.
    let ref_audio_url = required_text(&options, "ref_audio_url", "the URL of a reference clip")?;
    let ref_text = required_text(
        &options,
        "ref_text",
        "the words spoken in the reference clip",
    )?;

    let model_type = match options.get("model_type") {
        None => "F5-TTS",
        Some(Value::String(value)) if F5_MODEL_TYPES.contains(&value.as_str()) => value.as_str(),
        Some(_) => {
            return Err(ProviderError::InvalidRequest(
                "the option `model_type` must be \"F5-TTS\" or \"E2-TTS\"".to_string(),
            ));
        }
    };

    let mut input = Map::new();
    input.insert("gen_text".to_string(), Value::from(request.text.as_str()));
    input.insert("ref_audio_url".to_string(), Value::from(ref_audio_url));
    input.insert("ref_text".to_string(), Value::from(ref_text));
    input.insert("model_type".to_string(), Value::from(model_type));
    match options.get("remove_silence") {
        None => {}
        Some(Value::Bool(remove)) => {
            input.insert("remove_silence".to_string(), Value::Bool(*remove));
        }
        Some(_) => {
            return Err(ProviderError::InvalidRequest(
                "the option `remove_silence` must be true or false".to_string(),
            ));
        }
    }

    Ok(Value::Object(input))
}

/// `{"text", "voice", "speed"?, "stability"?, "similarity_boost"?, "style"?, "language_code"?}`.
fn elevenlabs_input(request: &SynthesisRequest) -> Result<Value, ProviderError> {
    let options = parse_options(&request.options, &ELEVENLABS_OPTIONS)?;

    let mut input = Map::new();
    input.insert("text".to_string(), Value::from(request.text.as_str()));
    input.insert("voice".to_string(), Value::from(request.voice.as_str()));
    if let Some(speed) = request.speed {
        input.insert(
            "speed".to_string(),
            speed_value(speed, ELEVENLABS_SPEED, "ElevenLabs on fal")?,
        );
    }
    for name in ELEVENLABS_OPTIONS {
        let Some(value) = options.get(name) else {
            continue;
        };
        let in_range = value
            .as_f64()
            .is_some_and(|number| (0.0..=1.0).contains(&number));
        if !in_range {
            return Err(ProviderError::InvalidRequest(format!(
                "the option `{name}` must be a number from 0 to 1"
            )));
        }
        input.insert(name.to_string(), value.clone());
    }
    if let Some(language) = &request.language {
        input.insert(
            "language_code".to_string(),
            Value::from(language_code(language)?),
        );
    }

    Ok(Value::Object(input))
}

/// Reads a required string option; an absent, empty or non-string value is named.
fn required_text<'a>(
    options: &'a Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<&'a str, ProviderError> {
    match options.get(name) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text),
        Some(Value::String(_)) | None => Err(ProviderError::InvalidRequest(format!(
            "fal's F5-TTS app needs the option `{name}`: {what}"
        ))),
        Some(_) => Err(ProviderError::InvalidRequest(format!(
            "the option `{name}` must be a string: {what}"
        ))),
    }
}

/// Turns a BCP 47 tag into the ISO 639-1 code ElevenLabs expects, such as `pt-BR` to `pt`.
fn language_code(tag: &str) -> Result<String, ProviderError> {
    let primary = tag.split(['-', '_']).next().unwrap_or("");
    let valid =
        (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    if !valid {
        return Err(ProviderError::InvalidRequest(format!(
            "the language `{}` is not a BCP 47 tag such as `en` or `pt-BR`",
            sanitize(tag, 35)
        )));
    }
    Ok(primary.to_ascii_lowercase())
}

/// Checks `speed` against `range` and converts it to the JSON number the app receives.
fn speed_value(speed: f32, range: SpeedRange, app: &str) -> Result<Value, ProviderError> {
    // Widening the f32 directly would send 1.100000023841858 for 1.1. Rounding to six
    // decimals, about an f32's precision in this range, gives back the number the caller wrote.
    let rounded = (f64::from(speed) * 1e6).round() / 1e6;
    let (min, max, text) = range;

    match Number::from_f64(rounded) {
        Some(number) if (min..=max).contains(&speed) => Ok(Value::Number(number)),
        _ => Err(ProviderError::InvalidRequest(format!(
            "the speed is out of range, {app} accepts {text}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::serde_json::json;
    use voxgate_plugin_sdk::{AudioContainer, AudioFormat};

    use super::*;
    use crate::catalog;

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

    fn kokoro() -> SynthesisRequest {
        request(
            "fal-ai/kokoro/american-english",
            "af_heart",
            AudioContainer::Wav,
        )
    }

    fn f5() -> SynthesisRequest {
        let mut request = request("fal-ai/f5-tts", "reference", AudioContainer::Wav);
        request.options =
            r#"{"ref_audio_url": "https://example.test/ref.wav", "ref_text": "Some words."}"#
                .to_string();
        request
    }

    fn elevenlabs() -> SynthesisRequest {
        request(
            "fal-ai/elevenlabs/tts/turbo-v2.5",
            "Aria",
            AudioContainer::Mp3,
        )
    }

    fn input(request: &SynthesisRequest) -> Result<Value, ProviderError> {
        app_input(catalog::app(&request.model).unwrap(), request)
    }

    fn invalid_message(request: &SynthesisRequest) -> String {
        match input(request) {
            Err(ProviderError::InvalidRequest(message)) => message,
            other => panic!("expected invalid-request, got {other:?}"),
        }
    }

    fn unsupported_message(request: &SynthesisRequest) -> String {
        match input(request) {
            Err(ProviderError::Unsupported(message)) => message,
            other => panic!("expected unsupported, got {other:?}"),
        }
    }

    #[test]
    fn kokoro_uses_prompt() {
        let mut request = kokoro();
        request.speed = Some(1.1);

        assert_eq!(
            input(&request).unwrap(),
            json!({"prompt": "Hello there.", "voice": "af_heart", "speed": 1.1})
        );
    }

    #[test]
    fn kokoro_languages_need_their_voices() {
        let mut request = kokoro();
        request.model = "fal-ai/kokoro/japanese".to_string();
        request.voice = "jf_alpha".to_string();

        assert_eq!(
            input(&request).unwrap(),
            json!({"prompt": "Hello there.", "voice": "jf_alpha"})
        );

        request.voice = "af_heart".to_string();
        let message = unsupported_message(&request);
        assert!(message.contains("no voice `af_heart`"), "{message}");
        assert!(message.contains("jf_alpha, jf_gongitsune"), "{message}");
    }

    #[test]
    fn kokoro_speed_range() {
        for speed in [0.1, 2.5, 5.0] {
            let mut request = kokoro();
            request.speed = Some(speed);
            assert!(input(&request).is_ok(), "speed {speed}");
        }
        for speed in [0.05, 5.5, f32::NAN, f32::INFINITY] {
            let mut request = kokoro();
            request.speed = Some(speed);
            assert!(
                invalid_message(&request).contains("0.1 to 5"),
                "speed {speed}"
            );
        }
    }

    #[test]
    fn kokoro_takes_no_options() {
        let mut request = kokoro();
        request.options = r#"{"ref_text": "x"}"#.to_string();

        assert!(invalid_message(&request).contains("unknown provider option `ref_text`"));
    }

    #[test]
    fn f5_builds_reference_input() {
        assert_eq!(
            input(&f5()).unwrap(),
            json!({
                "gen_text": "Hello there.",
                "ref_audio_url": "https://example.test/ref.wav",
                "ref_text": "Some words.",
                "model_type": "F5-TTS",
            })
        );
    }

    #[test]
    fn f5_passes_model_type_and_silence() {
        let mut request = f5();
        request.options = r#"{"ref_audio_url": "https://example.test/r.wav", "ref_text": "Hi.",
            "model_type": "E2-TTS", "remove_silence": false}"#
            .to_string();

        let value = input(&request).unwrap();

        assert_eq!(value["model_type"], "E2-TTS");
        assert_eq!(value["remove_silence"], false);
    }

    #[test]
    fn f5_missing_option_is_named() {
        // (options, the option the message must name)
        let cases = [
            ("", "`ref_audio_url`"),
            (r#"{"ref_text": "Hi."}"#, "`ref_audio_url`"),
            (r#"{"ref_audio_url": "https://e.test/r.wav"}"#, "`ref_text`"),
            (
                r#"{"ref_audio_url": " ", "ref_text": "Hi."}"#,
                "`ref_audio_url`",
            ),
            (
                r#"{"ref_audio_url": 7, "ref_text": "Hi."}"#,
                "`ref_audio_url` must be a string",
            ),
            (
                r#"{"ref_audio_url": "https://e.test/r.wav", "ref_text": ""}"#,
                "`ref_text`",
            ),
        ];

        for (options, fragment) in cases {
            let mut request = f5();
            request.options = options.to_string();

            let message = invalid_message(&request);

            assert!(message.contains(fragment), "{options}: {message}");
        }
    }

    #[test]
    fn f5_rejects_bad_option_values() {
        let cases = [
            r#"{"ref_audio_url": "u", "ref_text": "t", "model_type": "F5"}"#,
            r#"{"ref_audio_url": "u", "ref_text": "t", "model_type": null}"#,
            r#"{"ref_audio_url": "u", "ref_text": "t", "remove_silence": "no"}"#,
            r#"{"ref_audio_url": "u", "ref_text": "t", "voice": "x"}"#,
        ];

        for options in cases {
            let mut request = f5();
            request.options = options.to_string();

            invalid_message(&request);
        }
    }

    #[test]
    fn f5_has_no_speed() {
        let mut request = f5();
        request.speed = Some(1.5);

        assert!(unsupported_message(&request).contains("no speed"));

        request.speed = Some(1.0);
        assert!(input(&request).is_ok());
    }

    #[test]
    fn elevenlabs_passes_settings() {
        let mut request = elevenlabs();
        request.speed = Some(0.9);
        request.language = Some("pt-BR".to_string());
        request.options = r#"{"stability": 0.3, "similarity_boost": 1, "style": 0}"#.to_string();

        assert_eq!(
            input(&request).unwrap(),
            json!({
                "text": "Hello there.",
                "voice": "Aria",
                "speed": 0.9,
                "stability": 0.3,
                "similarity_boost": 1,
                "style": 0,
                "language_code": "pt",
            })
        );
    }

    #[test]
    fn elevenlabs_rejects_out_of_range_values() {
        let cases = [
            (Some(0.5), ""),
            (Some(1.3), ""),
            (None, r#"{"stability": 1.5}"#),
            (None, r#"{"similarity_boost": -0.1}"#),
            (None, r#"{"style": "high"}"#),
            (None, r#"{"speed": 1}"#),
        ];

        for (speed, options) in cases {
            let mut request = elevenlabs();
            request.speed = speed;
            request.options = options.to_string();

            invalid_message(&request);
        }
    }

    #[test]
    fn elevenlabs_rejects_bad_language() {
        let mut request = elevenlabs();
        request.language = Some("english!".to_string());

        assert!(invalid_message(&request).contains("BCP 47"));
    }

    #[test]
    fn capabilities_are_unsupported() {
        let mut wrong_format = kokoro();
        wrong_format.format.container = AudioContainer::Mp3;
        let mut timestamps = elevenlabs();
        timestamps.timestamps = true;
        let mut instructions = kokoro();
        instructions.instructions = Some("Whisper.".to_string());
        let mut language = kokoro();
        language.language = Some("fr".to_string());

        assert!(unsupported_message(&wrong_format).contains("returns wav only, not mp3"));
        assert!(unsupported_message(&timestamps).contains("timestamps"));
        assert!(unsupported_message(&instructions).contains("instructions"));
        assert!(unsupported_message(&language).contains("speaks en-US, not `fr`"));
    }

    #[test]
    fn matching_language_is_accepted() {
        let mut request = kokoro();
        request.language = Some("en".to_string());

        assert!(input(&request).is_ok());
    }

    #[test]
    fn text_is_checked() {
        let mut empty = kokoro();
        empty.text = " \n".to_string();
        let mut long = f5();
        long.text = "é".repeat(5001);

        assert!(invalid_message(&empty).contains("empty"));
        assert!(invalid_message(&long).contains("5001 characters"));

        long.text = "é".repeat(5000);
        assert!(input(&long).is_ok());
    }

    #[test]
    fn hostile_values_stay_in_body() {
        let mut request = f5();
        request.text = "\"}, \"model_type\": \"E2-TTS".to_string();
        request.options =
            r#"{"ref_audio_url": "http://169.254.169.254/\r\nx: y", "ref_text": "a\"b"}"#
                .to_string();

        let value = input(&request).unwrap();

        assert_eq!(value["gen_text"], "\"}, \"model_type\": \"E2-TTS");
        assert_eq!(value["model_type"], "F5-TTS");
        assert_eq!(value["ref_audio_url"], "http://169.254.169.254/\r\nx: y");
    }
}
