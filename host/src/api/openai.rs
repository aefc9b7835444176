//! OpenAI's `POST /v1/audio/speech`, so that OpenAI's SDKs work by changing `base_url`.
//!
//! Validation mirrors OpenAI's schema (`CreateSpeechRequest` has `additionalProperties:
//! false`), and errors use OpenAI's `{"error":{"message","type","param","code"}}` shape.

use serde_json::{Map, Value, json};

use crate::audio::parse_container;
use crate::api::errors::{ApiError, Blame};
use crate::gateway::PluginSet;
use crate::speech::{InvalidRequest, SpeechRequest, quote};
use crate::plugin::wit::{AudioContainer, AudioFormat};

/// OpenAI's documented bounds for `speed`.
const MIN_SPEED: f64 = 0.25;
const MAX_SPEED: f64 = 4.0;

/// The fields of OpenAI's speech request, all of them optional in the schema but `model`,
/// `input` and `voice`, and voxgate's one extension, `provider_options`: a JSON object passed
/// to the provider's plugin (fal's F5-TTS takes its reference clip there). OpenAI's SDKs send
/// it with `extra_body={"provider_options": {...}}`.
const KNOWN_FIELDS: &[&str] =
    &["model", "input", "voice", "instructions", "response_format", "speed", "stream_format", "provider_options"];

/// The framing of the audio sent back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// Raw audio bytes, streamed as they arrive.
    Audio,
    /// Server-sent events, each carrying a base64 chunk of audio.
    Sse,
}

/// A parsed OpenAI speech request.
#[derive(Debug)]
pub struct OpenAiSpeech {
    pub request: SpeechRequest,
    pub stream_format: StreamFormat,
}

/// Parses and checks an OpenAI speech request body.
pub fn parse_speech_request(body: &[u8]) -> Result<OpenAiSpeech, InvalidRequest> {
    let text = std::str::from_utf8(body).map_err(|error| {
        InvalidRequest::new(
            None,
            "invalid_json",
            format!("request body is not valid UTF-8 (invalid byte at offset {})", error.valid_up_to()),
        )
    })?;
    let value: Value = serde_json::from_str(text).map_err(|error| {
        InvalidRequest::new(
            None,
            "invalid_json",
            format!("request body is not valid JSON: {error}; send a JSON object such as {{\"model\":\"tts-1\",\"input\":\"Hello\",\"voice\":\"alloy\"}}"),
        )
    })?;
    let Value::Object(fields) = value else {
        return Err(InvalidRequest::new(None, "invalid_json", "request body must be a JSON object"));
    };

    if let Some(unknown) = fields.keys().find(|key| !KNOWN_FIELDS.contains(&key.as_str())) {
        return Err(InvalidRequest::new(
            None,
            "unknown_parameter",
            format!("unknown parameter `{}`; accepted parameters: {}", quote(unknown), KNOWN_FIELDS.join(", ")),
        ));
    }

    let model = required_string(&fields, "model")?;
    let input = required_string(&fields, "input")?;
    let voice = parse_voice(&fields)?;
    let instructions = optional_string(&fields, "instructions")?;

    let container = match optional_string(&fields, "response_format")? {
        None => AudioContainer::Mp3,
        Some(name) => parse_openai_format(&name).ok_or_else(|| {
            InvalidRequest::new(
                Some("response_format"),
                "invalid_value",
                format!("response_format `{}` is not one of mp3, opus, aac, flac, wav, pcm", quote(&name)),
            )
        })?,
    };

    let speed = match fields.get("speed") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) => {
            let speed = number.as_f64().unwrap_or(f64::NAN);
            if !(MIN_SPEED..=MAX_SPEED).contains(&speed) {
                return Err(InvalidRequest::new(
                    Some("speed"),
                    "invalid_value",
                    format!("speed {number} is out of range; it must be between {MIN_SPEED} and {MAX_SPEED}"),
                ));
            }
            Some(speed as f32)
        }
        Some(other) => return Err(wrong_type("speed", "a number", other)),
    };

    // OpenAI offers `sse` only for its newer models; voxgate wraps any provider's audio.
    let stream_format = match optional_string(&fields, "stream_format")?.as_deref() {
        None | Some("audio") => StreamFormat::Audio,
        Some("sse") => StreamFormat::Sse,
        Some(other) => {
            return Err(InvalidRequest::new(
                Some("stream_format"),
                "invalid_value",
                format!("stream_format `{}` is not one of audio, sse", quote(other)),
            ));
        }
    };

    let options = match fields.get("provider_options") {
        None | Some(Value::Null) => None,
        Some(Value::Object(options)) => Some(options.clone()),
        Some(other) => return Err(wrong_type("provider_options", "an object", other)),
    };

    let request = SpeechRequest {
        model: Some(model),
        voice: Some(voice),
        text: input,
        format: openai_format(container),
        speed,
        language: None,
        instructions,
        timestamps: false,
        options,
        options_provider: None,
        cache: Default::default(),
    };
    Ok(OpenAiSpeech { request, stream_format })
}

/// One server-sent event with a chunk of audio, as OpenAI's `speech.audio.delta`.
pub fn sse_delta(chunk: &[u8]) -> bytes::Bytes {
    use base64::Engine as _;
    let event = json!({
        "type": "speech.audio.delta",
        "audio": base64::engine::general_purpose::STANDARD.encode(chunk),
    });
    bytes::Bytes::from(format!("data: {event}\n\n"))
}

/// The closing `speech.audio.done` event.
pub fn sse_done() -> bytes::Bytes {
    // NOTE: voxgate does not count tokens, so the usage OpenAI's schema requires is zero.
    let event = json!({
        "type": "speech.audio.done",
        "usage": { "input_tokens": 0, "output_tokens": 0, "total_tokens": 0 },
    });
    bytes::Bytes::from(format!("data: {event}\n\n"))
}

/// The formats OpenAI's API names; the G.711 containers are not among them.
fn parse_openai_format(name: &str) -> Option<AudioContainer> {
    parse_container(name).filter(|container| !matches!(container, AudioContainer::Ulaw | AudioContainer::Alaw))
}

/// OpenAI's PCM and WAV output is 24 kHz 16-bit mono; the other formats leave the rate to
/// the provider.
fn openai_format(container: AudioContainer) -> AudioFormat {
    let sample_rate = match container {
        AudioContainer::Pcm | AudioContainer::Wav => Some(24_000),
        _ => None,
    };
    AudioFormat { container, sample_rate, bitrate: None }
}

fn parse_voice(fields: &Map<String, Value>) -> Result<String, InvalidRequest> {
    match fields.get("voice") {
        None | Some(Value::Null) => Err(missing("voice")),
        Some(Value::String(voice)) if voice.is_empty() => Err(missing("voice")),
        Some(Value::String(voice)) => Ok(voice.clone()),
        // A custom voice is `{"id": "voice_..."}`.
        Some(Value::Object(object)) => match object.get("id") {
            Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
            _ => Err(InvalidRequest::new(
                Some("voice"),
                "invalid_type",
                "voice must be a string or an object with a string `id`",
            )),
        },
        Some(other) => Err(wrong_type("voice", "a string", other)),
    }
}

fn required_string(fields: &Map<String, Value>, name: &'static str) -> Result<String, InvalidRequest> {
    optional_string(fields, name)?.ok_or_else(|| missing(name))
}

fn optional_string(fields: &Map<String, Value>, name: &'static str) -> Result<Option<String>, InvalidRequest> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(wrong_type(name, "a string", other)),
    }
}

fn missing(name: &'static str) -> InvalidRequest {
    InvalidRequest::new(Some(name), "missing_required_parameter", format!("missing required parameter `{name}`"))
}

fn wrong_type(name: &'static str, expected: &str, value: &Value) -> InvalidRequest {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    InvalidRequest::new(Some(name), "invalid_type", format!("`{name}` must be {expected}, not {found}"))
}

/// The body of an error in OpenAI's shape.
pub fn error_body(error: &ApiError) -> Value {
    let kind = match error.blame {
        Blame::Client => "invalid_request_error",
        Blame::RateLimit => "rate_limit_error",
        Blame::Upstream => "upstream_error",
        Blame::Gateway => "server_error",
    };
    json!({
        "error": { "message": error.message, "type": kind, "param": error.param, "code": error.code }
    })
}

/// `GET /v1/models` in OpenAI's list shape: every `provider:model` that can be requested.
pub fn models_body(set: &PluginSet) -> Value {
    let data: Vec<Value> = set
        .plugins
        .values()
        .flat_map(|plugin| {
            plugin.info.models.iter().map(move |model| {
                json!({
                    "id": format!("{}:{}", plugin.id(), model.id),
                    "object": "model",
                    "created": 0,
                    "owned_by": plugin.id(),
                })
            })
        })
        .collect();
    json!({ "object": "list", "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<SpeechRequest, InvalidRequest> {
        parse_speech_request(body.as_bytes()).map(|speech| speech.request)
    }

    #[test]
    fn provider_options_pass_through() {
        let request = parse(r#"{"model":"m","input":"x","voice":"v","provider_options":{"ref_text":"hi"}}"#).unwrap();
        assert_eq!(request.options.unwrap()["ref_text"], "hi");
        let error = parse(r#"{"model":"m","input":"x","voice":"v","provider_options":"x"}"#).unwrap_err();
        assert_eq!(error.param, Some("provider_options"));
    }

    #[test]
    fn sse_stream_format_is_accepted() {
        let speech = parse_speech_request(br#"{"model":"m","input":"x","voice":"v","stream_format":"sse"}"#).unwrap();
        assert_eq!(speech.stream_format, StreamFormat::Sse);
    }

    #[test]
    fn sse_delta_is_one_event() {
        let event = sse_delta(b"abc");
        assert_eq!(&event[..], b"data: {\"audio\":\"YWJj\",\"type\":\"speech.audio.delta\"}\n\n");
    }

    #[test]
    fn minimal_request_defaults_to_mp3() {
        let request = parse(r#"{"model":"tts-1","input":"Hello","voice":"alloy"}"#).unwrap();
        assert_eq!(request.format.container, AudioContainer::Mp3);
        assert_eq!(request.text, "Hello");
    }

    #[test]
    fn custom_voice_object_gives_id() {
        let request = parse(r#"{"model":"tts-1","input":"Hi","voice":{"id":"voice_123"}}"#).unwrap();
        assert_eq!(request.voice.as_deref(), Some("voice_123"));
    }

    #[test]
    fn pcm_is_24_khz() {
        let request = parse(r#"{"model":"tts-1","input":"Hi","voice":"alloy","response_format":"pcm"}"#).unwrap();
        assert_eq!(request.format.sample_rate, Some(24_000));
    }

    #[test]
    fn rejection_table() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("not json", None, "invalid_json"),
            ("[1,2]", None, "invalid_json"),
            (r#"{"model":"tts-1","voice":"alloy"}"#, Some("input"), "missing_required_parameter"),
            (r#"{"input":"x","voice":"alloy"}"#, Some("model"), "missing_required_parameter"),
            (r#"{"model":"tts-1","input":"x"}"#, Some("voice"), "missing_required_parameter"),
            (r#"{"model":"tts-1","input":5,"voice":"alloy"}"#, Some("input"), "invalid_type"),
            (r#"{"model":"tts-1","input":"x","voice":"alloy","speed":"fast"}"#, Some("speed"), "invalid_type"),
            (r#"{"model":"tts-1","input":"x","voice":"alloy","speed":9}"#, Some("speed"), "invalid_value"),
            (r#"{"model":"tts-1","input":"x","voice":"alloy","speed":0.1}"#, Some("speed"), "invalid_value"),
            (r#"{"model":"tts-1","input":"x","voice":"alloy","response_format":"ogg"}"#, Some("response_format"), "invalid_value"),
            (r#"{"model":"tts-1","input":"x","voice":"alloy","response_format":"ulaw"}"#, Some("response_format"), "invalid_value"),
            (r#"{"model":"tts-1","input":"x","voice":"alloy","colour":"red"}"#, None, "unknown_parameter"),
            (r#"{"model":"tts-1","input":"x","voice":{"name":"a"}}"#, Some("voice"), "invalid_type"),
        ];
        for (body, param, code) in cases {
            let error = parse(body).unwrap_err();
            assert_eq!(error.code, *code, "{body}: {}", error.message);
            assert_eq!(error.param, *param, "{body}: {}", error.message);
        }
    }

    #[test]
    fn non_utf8_body_is_invalid_json() {
        let error = parse_speech_request(b"{\"input\":\"\xff\xfe\"}").map(|s| s.request).unwrap_err();
        assert_eq!(error.code, "invalid_json");
        assert!(error.message.contains("UTF-8"), "{}", error.message);
    }
}
