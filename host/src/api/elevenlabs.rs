//! ElevenLabs' text-to-speech API (`/v1/text-to-speech/{voice_id}` and its streaming and
//! timestamp variants, `/v1/voices`, `/v1/models`), so that ElevenLabs' SDKs work against
//! voxgate by changing their base URL. Any provider can serve these routes.
//!
//! ElevenLabs' own shapes are used throughout: `output_format` in the query string, errors as
//! `{"detail":{"status","message"}}`, and request validation errors as FastAPI's 422
//! `{"detail":[{"loc","msg","type"}]}`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api::errors::ApiError;
use crate::audio::container_name;
use crate::gateway::PluginSet;
use crate::speech::{InvalidRequest, SpeechRequest, quote};
use crate::plugin::wit::{Alignment, AudioContainer, AudioFormat};

/// The plugin id that understands ElevenLabs' own request fields.
const ELEVENLABS_PROVIDER: &str = "elevenlabs";

/// ElevenLabs' default `output_format`.
const DEFAULT_OUTPUT_FORMAT: &str = "mp3_44100_128";

/// Body fields that only ElevenLabs understands. They reach the plugin in the request's
/// `options` when the chosen provider is ElevenLabs, and are dropped for other providers.
const ELEVENLABS_ONLY_FIELDS: &[&str] = &[
    "voice_settings",
    "seed",
    "previous_text",
    "next_text",
    "previous_request_ids",
    "next_request_ids",
    "apply_text_normalization",
    "apply_language_text_normalization",
    "pronunciation_dictionary_locators",
    "use_pvc_as_ivc",
];

/// The speech route that was called, of the four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Convert,
    Stream,
    WithTimestamps,
    StreamWithTimestamps,
}

impl Route {
    /// Splits a path under `/v1/text-to-speech/` into the voice id and the route.
    pub fn parse(rest: &str) -> Option<(&str, Route)> {
        if let Some(voice) = rest.strip_suffix("/stream/with-timestamps") {
            return Some((voice, Route::StreamWithTimestamps));
        }
        if let Some(voice) = rest.strip_suffix("/with-timestamps") {
            return Some((voice, Route::WithTimestamps));
        }
        if let Some(voice) = rest.strip_suffix("/stream") {
            return Some((voice, Route::Stream));
        }
        if rest.contains('/') {
            return None;
        }
        Some((rest, Route::Convert))
    }

    pub fn timestamps(self) -> bool {
        matches!(self, Route::WithTimestamps | Route::StreamWithTimestamps)
    }
}

/// Parses an ElevenLabs speech request: the voice id from the path (still percent-encoded),
/// the query string and the JSON body.
pub fn parse_speech_request(
    encoded_voice: &str,
    query: Option<&str>,
    body: &[u8],
    route: Route,
) -> Result<SpeechRequest, InvalidRequest> {
    let voice = percent_decode(encoded_voice).ok_or_else(|| {
        InvalidRequest::new(Some("voice_id"), "voice_not_found", "voice id is not valid percent-encoded UTF-8")
    })?;
    if voice.is_empty() {
        return Err(InvalidRequest::new(Some("voice_id"), "voice_not_found", "voice id is empty"));
    }

    let query = parse_query(query.unwrap_or_default());
    let output_format = query.get("output_format").map(String::as_str).unwrap_or(DEFAULT_OUTPUT_FORMAT);
    let format = parse_output_format(output_format)?;
    if format.container == AudioContainer::Wav && matches!(route, Route::Stream | Route::StreamWithTimestamps) {
        return Err(InvalidRequest::new(
            Some("output_format"),
            "invalid_value",
            "wav output formats are offered only by the non-streaming endpoints",
        ));
    }

    let text = std::str::from_utf8(body)
        .map_err(|_| InvalidRequest::new(None, "invalid_json", "request body is not valid UTF-8"))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|error| InvalidRequest::new(None, "invalid_json", format!("request body is not valid JSON: {error}")))?;
    let Value::Object(fields) = value else {
        return Err(InvalidRequest::new(None, "invalid_json", "request body must be a JSON object"));
    };

    let text = match fields.get("text") {
        Some(Value::String(text)) => text.clone(),
        None | Some(Value::Null) => {
            return Err(InvalidRequest::new(Some("text"), "missing_required_parameter", "field `text` is required"));
        }
        Some(_) => return Err(InvalidRequest::new(Some("text"), "invalid_type", "`text` must be a string")),
    };
    let model = optional_string(&fields, "model_id")?;
    let language = optional_string(&fields, "language_code")?;
    let speed = match fields.get("voice_settings") {
        Some(Value::Object(settings)) => match settings.get("speed") {
            Some(Value::Number(speed)) => speed.as_f64().map(|speed| speed as f32),
            None | Some(Value::Null) => None,
            Some(_) => {
                return Err(InvalidRequest::new(Some("voice_settings"), "invalid_type", "`voice_settings.speed` must be a number"));
            }
        },
        None | Some(Value::Null) => None,
        Some(_) => {
            return Err(InvalidRequest::new(Some("voice_settings"), "invalid_type", "`voice_settings` must be an object"));
        }
    };

    let options: Map<String, Value> = fields
        .iter()
        .filter(|(key, value)| ELEVENLABS_ONLY_FIELDS.contains(&key.as_str()) && !value.is_null())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();

    Ok(SpeechRequest {
        model,
        voice: Some(voice),
        text,
        format,
        speed,
        language,
        instructions: None,
        timestamps: route.timestamps(),
        options: if options.is_empty() { None } else { Some(options) },
        options_provider: Some(ELEVENLABS_PROVIDER),
        cache: Default::default(),
    })
}

/// Parses `codec_samplerate[_bitrate]`, such as `mp3_44100_128`, `pcm_24000` or `ulaw_8000`.
pub fn parse_output_format(text: &str) -> Result<AudioFormat, InvalidRequest> {
    let invalid = || {
        InvalidRequest::new(
            Some("output_format"),
            "invalid_value",
            format!(
                "output_format `{}` is not valid; use codec_samplerate[_bitrate] with codec mp3, pcm, ulaw, alaw, opus or wav, such as mp3_44100_128",
                quote(text)
            ),
        )
    };
    let mut parts = text.split('_');
    let container = match parts.next() {
        Some("mp3") => AudioContainer::Mp3,
        Some("pcm") => AudioContainer::Pcm,
        Some("ulaw") => AudioContainer::Ulaw,
        Some("alaw") => AudioContainer::Alaw,
        Some("opus") => AudioContainer::Opus,
        Some("wav") => AudioContainer::Wav,
        _ => return Err(invalid()),
    };
    let sample_rate: u32 = parts.next().and_then(|rate| rate.parse().ok()).ok_or_else(invalid)?;
    let bitrate_kbps: Option<u32> = match parts.next() {
        Some(kbps) => Some(kbps.parse().map_err(|_| invalid())?),
        None => None,
    };
    if parts.next().is_some() || !(8_000..=48_000).contains(&sample_rate) {
        return Err(invalid());
    }
    Ok(AudioFormat { container, sample_rate: Some(sample_rate), bitrate: bitrate_kbps.map(|kbps| kbps * 1000) })
}

/// The `/with-timestamps` response body.
pub fn timestamps_body(audio: &[u8], alignment: Option<&Alignment>) -> Value {
    use base64::Engine as _;
    let alignment = alignment.map(|alignment| {
        json!({
            "characters": alignment.characters,
            "character_start_times_seconds": alignment.start_ms.iter().map(|ms| f64::from(*ms) / 1000.0).collect::<Vec<_>>(),
            "character_end_times_seconds": alignment.end_ms.iter().map(|ms| f64::from(*ms) / 1000.0).collect::<Vec<_>>(),
        })
    });
    json!({
        "audio_base64": base64::engine::general_purpose::STANDARD.encode(audio),
        "alignment": alignment,
        // voxgate does not normalise text, so the normalised alignment is the same.
        "normalized_alignment": alignment,
    })
}

/// One line of the `/stream/with-timestamps` response, newline-delimited JSON.
pub fn timestamps_line(audio: &[u8], alignment: Option<&Alignment>) -> bytes::Bytes {
    let mut line = timestamps_body(audio, alignment).to_string();
    line.push('\n');
    bytes::Bytes::from(line)
}

/// The body of an error in ElevenLabs' shape, and its status. Request validation errors use
/// FastAPI's 422 array, as ElevenLabs does; the rest use `{"detail":{"status","message"}}`.
pub fn error_body(error: &ApiError) -> (u16, Value) {
    let validation = matches!(error.code, "invalid_json" | "missing_required_parameter" | "invalid_type");
    if validation {
        let location = match error.param {
            Some("output_format") => json!(["query", "output_format"]),
            Some(param) => json!(["body", param]),
            None => json!(["body"]),
        };
        let kind = match error.code {
            "missing_required_parameter" => "missing",
            "invalid_json" => "json_invalid",
            _ => "type_error",
        };
        let body = json!({ "detail": [{ "loc": location, "msg": error.message, "type": kind }] });
        return (422, body);
    }
    let status = match error.code {
        // ElevenLabs has returned 404 for an unknown voice since 2025.
        "voice_not_found" => 404,
        "string_above_max_length" => 400,
        _ => error.status,
    };
    let code = match error.code {
        "string_above_max_length" => "max_character_limit_exceeded",
        other => other,
    };
    (status, json!({ "detail": { "status": code, "message": error.message } }))
}

/// `GET /v1/voices`: every provider's voices. A voice's id is bare when only one provider
/// offers it, and `provider:voice` otherwise, so every listed id resolves to one voice.
pub fn voices_body(set: &PluginSet) -> Value {
    let counts = count_ids(set.plugins.values().flat_map(|plugin| plugin.info.voices.iter().map(|voice| voice.id.as_str())));
    let voices: Vec<Value> = set
        .plugins
        .values()
        .flat_map(|plugin| {
            let counts = &counts;
            plugin.info.voices.iter().map(move |voice| {
                let id = listed_id(plugin.id(), &voice.id, counts);
                let language = voice.languages.first().cloned();
                json!({
                    "voice_id": id,
                    "name": voice.name,
                    "category": "premade",
                    "labels": { "provider": plugin.id(), "language": language },
                    "description": format!("{} voice from provider {}", voice.name, plugin.info.name),
                    "preview_url": null,
                    "available_for_tiers": [],
                    "high_quality_base_model_ids": voice.models,
                    "verified_languages": voice.languages.iter().map(|language| json!({ "language": language })).collect::<Vec<_>>(),
                })
            })
        })
        .collect();
    json!({ "voices": voices })
}

/// `GET /v2/voices`: the same list in the paginated shape, as one page.
pub fn voices_page_body(set: &PluginSet) -> Value {
    let voices = voices_body(set)["voices"].clone();
    let total = voices.as_array().map_or(0, Vec::len);
    json!({ "voices": voices, "has_more": false, "total_count": total, "next_page_token": null })
}

/// `GET /v1/models`: a bare array, ids listed like voices.
pub fn models_body(set: &PluginSet) -> Value {
    let counts = count_ids(set.plugins.values().flat_map(|plugin| plugin.info.models.iter().map(|model| model.id.as_str())));
    let models: Vec<Value> = set
        .plugins
        .values()
        .flat_map(|plugin| {
            let counts = &counts;
            plugin.info.models.iter().map(move |model| {
                json!({
                    "model_id": listed_id(plugin.id(), &model.id, counts),
                    "name": model.name,
                    "description": format!("{} from provider {}", model.name, plugin.info.name),
                    "can_do_text_to_speech": true,
                    "can_do_voice_conversion": false,
                    "can_be_finetuned": false,
                    "can_use_style": false,
                    "can_use_speaker_boost": false,
                    "serves_pro_voices": false,
                    "requires_alpha_access": false,
                    "token_cost_factor": 1.0,
                    "max_characters_request_free_user": model.max_characters,
                    "max_characters_request_subscribed_user": model.max_characters,
                    "maximum_text_length_per_request": model.max_characters,
                    "languages": model.languages.iter().map(|language| json!({ "language_id": language, "name": language })).collect::<Vec<_>>(),
                    "output_formats": model.formats.iter().map(|format| container_name(*format)).collect::<Vec<_>>(),
                    "concurrency_group": "standard",
                })
            })
        })
        .collect();
    Value::Array(models)
}

fn count_ids<'a>(ids: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for id in ids {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

fn listed_id(provider: &str, id: &str, counts: &BTreeMap<&str, usize>) -> String {
    if counts.get(id).copied().unwrap_or(0) > 1 { format!("{provider}:{id}") } else { id.to_string() }
}

fn optional_string(fields: &Map<String, Value>, name: &'static str) -> Result<Option<String>, InvalidRequest> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(InvalidRequest::new(Some(name), "invalid_type", format!("`{name}` must be a string"))),
    }
}

/// Parses `a=1&b=2`, percent-decoding names and values; a pair that does not decode is
/// dropped.
fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(&name.replace('+', " "))?, percent_decode(&value.replace('+', " "))?))
        })
        .collect()
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3)?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            decoded.push(value);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table() {
        assert_eq!(Route::parse("abc"), Some(("abc", Route::Convert)));
        assert_eq!(Route::parse("abc/stream"), Some(("abc", Route::Stream)));
        assert_eq!(Route::parse("abc/with-timestamps"), Some(("abc", Route::WithTimestamps)));
        assert_eq!(Route::parse("abc/stream/with-timestamps"), Some(("abc", Route::StreamWithTimestamps)));
        assert_eq!(Route::parse("abc/other"), None);
    }

    #[test]
    fn output_format_table() {
        let mp3 = parse_output_format("mp3_44100_128").unwrap();
        assert_eq!((mp3.container, mp3.sample_rate, mp3.bitrate), (AudioContainer::Mp3, Some(44_100), Some(128_000)));
        let pcm = parse_output_format("pcm_24000").unwrap();
        assert_eq!((pcm.container, pcm.sample_rate, pcm.bitrate), (AudioContainer::Pcm, Some(24_000), None));
        for bad in ["mp3", "ogg_44100", "pcm_abc", "pcm_1", "mp3_44100_x", "mp3_44100_128_1", ""] {
            assert!(parse_output_format(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn voice_id_is_percent_decoded() {
        let request = parse_speech_request("openai%3Aalloy", None, br#"{"text":"hi"}"#, Route::Convert).unwrap();
        assert_eq!(request.voice.as_deref(), Some("openai:alloy"));
        assert!(parse_speech_request("%zz", None, br#"{"text":"hi"}"#, Route::Convert).is_err());
    }

    #[test]
    fn options_keep_elevenlabs_fields() {
        let body = br#"{"text":"hi","model_id":"m","seed":7,"voice_settings":{"stability":0.5,"speed":1.1},"unknown":1}"#;
        let request = parse_speech_request("v", Some("output_format=pcm_16000"), body, Route::Convert).unwrap();
        let options = request.options.unwrap();
        assert_eq!(options["seed"], 7);
        assert!(options.contains_key("voice_settings"));
        assert!(!options.contains_key("unknown"));
        assert_eq!(request.speed, Some(1.1));
        assert_eq!(request.format.container, AudioContainer::Pcm);
    }

    #[test]
    fn wav_is_rejected_on_stream() {
        let error = parse_speech_request("v", Some("output_format=wav_24000"), br#"{"text":"hi"}"#, Route::Stream).unwrap_err();
        assert_eq!(error.param, Some("output_format"));
    }

    #[test]
    fn missing_text_is_422_array() {
        let error = parse_speech_request("v", None, br#"{}"#, Route::Convert).unwrap_err();
        let (status, body) = error_body(&ApiError::from(&error));
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "text"]));
    }

    #[test]
    fn unknown_voice_is_404() {
        let invalid = InvalidRequest::new(Some("voice"), "voice_not_found", "no such voice");
        let (status, body) = error_body(&ApiError::from(&invalid));
        assert_eq!(status, 404);
        assert_eq!(body["detail"]["status"], "voice_not_found");
    }
}
