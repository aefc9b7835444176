//! `synthesize`: checks a synthesis request and turns it into one streamed `POST`.
//!
//! Check in this order: what the provider does not offer first (`unsupported`, so the host
//! falls back to another provider), then what is wrong with the request itself
//! (`invalid-request`, which no other provider would accept either).

use voxgate_plugin_sdk::serde_json::{Map, Value};
use voxgate_plugin_sdk::{
    AudioContainer, AudioFormat, HttpRequest, Method, ProviderError, Setting, Step, StreamRequest,
    SynthesisRequest, bearer, header, json_body, parse_options, secret_header,
};

use crate::catalog::{self, API_KEY, MAX_CHARACTERS, SAMPLE_RATE};
use crate::config::Config;

/// Provider options a caller may pass in `synthesis-request.options`.
const OPTIONS: &[&str] = &["seed"];

/// The speed range the example API accepts.
const SPEED_RANGE: std::ops::RangeInclusive<f32> = 0.5..=2.0;

/// Builds the first and only step of a synthesis.
///
/// # Errors
///
/// `unsupported` for a model, voice, format, sample rate or feature the API does not offer,
/// `invalid-request` for empty or over-long text, a speed out of range or unknown options, and
/// `misconfigured` for settings that `describe` would reject.
pub fn synthesize(request: &SynthesisRequest, settings: &[Setting]) -> Result<Step, ProviderError> {
    let config = Config::from_settings(settings).map_err(ProviderError::Misconfigured)?;
    let format = check_offered(request)?;
    let options = check_request(request)?;

    let mut body = Map::new();
    body.insert("text".to_string(), Value::from(request.text.as_str()));
    body.insert("voice".to_string(), Value::from(request.voice.as_str()));
    body.insert("model".to_string(), Value::from(request.model.as_str()));
    body.insert(
        "format".to_string(),
        Value::from(format_name(format.container)),
    );
    if let Some(speed) = request.speed {
        body.insert("speed".to_string(), Value::from(f64::from(speed)));
    }
    body.extend(options);

    Ok(Step::Stream(StreamRequest {
        request: HttpRequest {
            method: Method::Post,
            url: config.speech_url,
            headers: vec![
                // A reference, not the key: the host fills it in for declared hosts only.
                secret_header("authorization", bearer(API_KEY)),
                header("content-type", "application/json"),
            ],
            body: json_body(&Value::Object(body)),
        },
        format,
        billed_characters_header: None,
    }))
}

/// Returns the format of the audio the API will send, or an `unsupported` error for a
/// request this provider cannot serve.
fn check_offered(request: &SynthesisRequest) -> Result<AudioFormat, ProviderError> {
    let Some(model) = catalog::model(&request.model) else {
        return Err(ProviderError::Unsupported(format!(
            "Example TTS has no model `{}`",
            request.model
        )));
    };
    match catalog::voice(&request.voice) {
        None => {
            return Err(ProviderError::Unsupported(format!(
                "Example TTS has no voice `{}`",
                request.voice
            )));
        }
        Some(models) if !models.is_empty() && !models.contains(&model.id) => {
            return Err(ProviderError::Unsupported(format!(
                "voice `{}` is not offered by model `{}`",
                request.voice, model.id
            )));
        }
        Some(_) => {}
    }

    let container = request.format.container;
    if !model.formats.contains(&container) {
        return Err(ProviderError::Unsupported(format!(
            "model `{}` has no {} output",
            model.id,
            format_name(container)
        )));
    }
    // Raw PCM carries no header, so a caller must get exactly the rate it asked for.
    let sample_rate = match container {
        AudioContainer::Pcm | AudioContainer::Wav => {
            if let Some(rate) = request.format.sample_rate
                && rate != SAMPLE_RATE
            {
                return Err(ProviderError::Unsupported(format!(
                    "Example TTS produces {SAMPLE_RATE} Hz only, not {rate} Hz"
                )));
            }
            Some(SAMPLE_RATE)
        }
        _ => None,
    };
    if request.timestamps {
        return Err(ProviderError::Unsupported(
            "Example TTS returns no timestamps".to_string(),
        ));
    }
    if request
        .instructions
        .as_deref()
        .is_some_and(|text| !text.trim().is_empty())
    {
        return Err(ProviderError::Unsupported(
            "Example TTS models take no instructions".to_string(),
        ));
    }

    Ok(AudioFormat {
        container,
        sample_rate,
        bitrate: None,
    })
}

/// Checks the caller's text, speed and options, and returns the options to send.
fn check_request(request: &SynthesisRequest) -> Result<Map<String, Value>, ProviderError> {
    if request.text.trim().is_empty() {
        return Err(ProviderError::InvalidRequest(
            "the text is empty or only whitespace".to_string(),
        ));
    }
    // Limits count characters (Unicode scalar values), not bytes.
    let characters = request.text.chars().count();
    if characters > MAX_CHARACTERS as usize {
        return Err(ProviderError::InvalidRequest(format!(
            "the text has {characters} characters, Example TTS accepts at most {MAX_CHARACTERS}"
        )));
    }
    if let Some(speed) = request.speed
        && !SPEED_RANGE.contains(&speed)
    {
        return Err(ProviderError::InvalidRequest(format!(
            "speed {speed} is out of range; Example TTS accepts {} to {}",
            SPEED_RANGE.start(),
            SPEED_RANGE.end()
        )));
    }
    parse_options(&request.options, OPTIONS)
}

fn format_name(container: AudioContainer) -> &'static str {
    match container {
        AudioContainer::Mp3 => "mp3",
        AudioContainer::Wav => "wav",
        AudioContainer::Pcm => "pcm",
        AudioContainer::Opus => "opus",
        AudioContainer::Aac => "aac",
        AudioContainer::Flac => "flac",
        AudioContainer::Ulaw => "ulaw",
        AudioContainer::Alaw => "alaw",
    }
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::serde_json::{self, json};
    use voxgate_plugin_sdk::{HeaderValue, SecretRef};

    use super::*;

    fn request() -> SynthesisRequest {
        SynthesisRequest {
            text: "Hello.".to_string(),
            model: "example-1".to_string(),
            voice: "ada".to_string(),
            format: AudioFormat {
                container: AudioContainer::Mp3,
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

    fn stream(request: &SynthesisRequest) -> StreamRequest {
        match synthesize(request, &[]) {
            Ok(Step::Stream(stream)) => stream,
            other => panic!("expected a stream step, got {other:?}"),
        }
    }

    fn error(request: &SynthesisRequest) -> ProviderError {
        synthesize(request, &[]).expect_err("expected an error")
    }

    #[test]
    fn request_is_exact() {
        let stream = stream(&request());

        assert_eq!(stream.request.method, Method::Post);
        assert_eq!(stream.request.url, "https://api.example-tts.test/v1/speech");
        assert_eq!(
            stream.request.headers[0].value,
            HeaderValue::Secret(SecretRef {
                name: "api-key".to_string(),
                prefix: "Bearer ".to_string(),
                suffix: String::new()
            })
        );
        let body: Value = serde_json::from_slice(&stream.request.body).unwrap();
        assert_eq!(
            body,
            json!({"text": "Hello.", "voice": "ada", "model": "example-1", "format": "mp3"})
        );
    }

    #[test]
    fn options_and_speed_are_sent() {
        let mut request = request();
        request.speed = Some(1.5);
        request.options = r#"{"seed": 7}"#.to_string();

        let body: Value = serde_json::from_slice(&stream(&request).request.body).unwrap();

        assert_eq!(body["speed"], json!(1.5));
        assert_eq!(body["seed"], json!(7));
    }

    #[test]
    fn pcm_states_its_rate() {
        let mut request = request();
        request.format.container = AudioContainer::Pcm;

        assert_eq!(stream(&request).format.sample_rate, Some(24_000));
    }

    #[test]
    fn unsupported_table() {
        let cases: [fn(&mut SynthesisRequest); 6] = [
            |r| r.model = "example-2".to_string(),
            |r| r.voice = "nobody".to_string(),
            |r| r.voice = "linus".to_string(),
            |r| r.format.container = AudioContainer::Opus,
            |r| r.timestamps = true,
            |r| {
                r.format.container = AudioContainer::Pcm;
                r.format.sample_rate = Some(16_000);
            },
        ];
        for (index, change) in cases.iter().enumerate() {
            let mut request = request();
            change(&mut request);

            let error = error(&request);

            assert!(
                matches!(error, ProviderError::Unsupported(_)),
                "case {index}: {error:?}"
            );
        }
    }

    #[test]
    fn invalid_request_table() {
        let cases: [fn(&mut SynthesisRequest); 5] = [
            |r| r.text = String::new(),
            |r| r.text = " \n\t".to_string(),
            |r| r.text = "é".repeat(5001),
            |r| r.speed = Some(3.0),
            |r| r.options = r#"{"pitch": 2}"#.to_string(),
        ];
        for (index, change) in cases.iter().enumerate() {
            let mut request = request();
            change(&mut request);

            let error = error(&request);

            assert!(
                matches!(error, ProviderError::InvalidRequest(_)),
                "case {index}: {error:?}"
            );
        }
    }

    #[test]
    fn max_length_counts_characters() {
        let mut request = request();
        request.text = "é".repeat(5000);

        assert!(synthesize(&request, &[]).is_ok());
    }
}
