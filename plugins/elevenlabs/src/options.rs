//! The optional body fields: the caller's ElevenLabs options (`synthesis-request.options`),
//! the request's `speed` and `language`, checked and merged.
//!
//! Field names and types follow the request body of `POST /v1/text-to-speech/{voice_id}` in
//! ElevenLabs' OpenAPI spec. That spec gives no bounds for `voice_settings`, so the bounds
//! checked here come from its WebSocket schema (speed 0.7 to 1.2) and from its dashboard
//! sliders (stability, similarity and style 0 to 1).

use voxgate_plugin_sdk::serde_json::{Map, Number, Value};
use voxgate_plugin_sdk::{ProviderError, SynthesisRequest, parse_options, sanitize};

use crate::catalog::Model;

/// The options a caller may pass, each one a body field of the same name.
pub const ACCEPTED_OPTIONS: [&str; 8] = [
    "voice_settings",
    "seed",
    "previous_text",
    "next_text",
    "previous_request_ids",
    "next_request_ids",
    "apply_text_normalization",
    "language_code",
];

/// The fields of `voice_settings`.
const VOICE_SETTINGS: [&str; 5] = [
    "stability",
    "similarity_boost",
    "style",
    "use_speaker_boost",
    "speed",
];

/// A closed range of a number option, with its text for messages.
type Range = (f64, f64, &'static str);

/// ElevenLabs' speed range (`RealtimeVoiceSettings.speed` in its AsyncAPI spec).
const MIN_SPEED: f64 = 0.7;
const MAX_SPEED: f64 = 1.2;
const SPEED_RANGE: Range = (MIN_SPEED, MAX_SPEED, "0.7 to 1.2");
/// Stability, similarity and style are fractions.
const UNIT_RANGE: Range = (0.0, 1.0, "0 to 1");

/// `seed` is an unsigned 32-bit integer ("between 0 and 4294967295" in the spec).
const MAX_SEED: u64 = 4_294_967_295;

/// `previous_request_ids` and `next_request_ids` take at most three ids each.
const MAX_REQUEST_IDS: usize = 3;

const TEXT_NORMALIZATION: [&str; 3] = ["auto", "on", "off"];

/// Builds the optional body fields for `request` on `model`.
///
/// # Errors
///
/// `invalid-request` for an unknown option key (named in the message), a value of the wrong
/// type or out of range, or a request `speed` or `language` that contradicts the options.
/// `unsupported` for a request `speed` that ElevenLabs cannot produce (outside 0.7 to 1.2),
/// a speed on a model without it, or `language_code` on a model that does not enforce
/// languages: another provider may serve those.
pub fn body_fields(
    request: &SynthesisRequest,
    model: &Model,
) -> Result<Map<String, Value>, ProviderError> {
    let mut options = parse_options(&request.options, &ACCEPTED_OPTIONS)?;
    // ElevenLabs takes `null` for every optional field; dropping it sends the same request.
    options.retain(|_, value| !value.is_null());
    let mut fields = Map::new();

    let mut voice_settings = match options.remove("voice_settings") {
        Some(value) => check_voice_settings(value)?,
        None => Map::new(),
    };
    if let Some(speed) = request.speed {
        let speed = request_speed(speed)?;
        match voice_settings.get("speed") {
            Some(option) if option.as_f64() != speed.as_f64() => {
                return Err(invalid(format!(
                    "the request's speed {speed} and the option voice_settings.speed {option} \
                     differ; set one of them"
                )));
            }
            _ => {
                voice_settings.insert("speed".to_string(), Value::Number(speed));
            }
        }
    }
    if voice_settings.contains_key("speed") && !model.speed {
        return Err(ProviderError::Unsupported(format!(
            "the model `{}` takes no voice speed",
            model.id
        )));
    }
    if !voice_settings.is_empty() {
        fields.insert("voice_settings".to_string(), Value::Object(voice_settings));
    }

    if let Some(language) = language_code(request, &options, model)? {
        fields.insert("language_code".to_string(), Value::from(language));
    }
    options.remove("language_code");

    for (name, value) in options {
        let value = match name.as_str() {
            "seed" => check_seed(value)?,
            "previous_text" | "next_text" => check_string(&name, value)?,
            "previous_request_ids" | "next_request_ids" => check_request_ids(&name, value)?,
            "apply_text_normalization" => check_normalization(value)?,
            // `parse_options` let through only the accepted names.
            _ => continue,
        };
        fields.insert(name, value);
    }

    Ok(fields)
}

/// Checks the `voice_settings` option: an object of the five known fields.
fn check_voice_settings(value: Value) -> Result<Map<String, Value>, ProviderError> {
    let Value::Object(settings) = value else {
        return Err(invalid(format!(
            "the option voice_settings must be a JSON object with any of {}",
            VOICE_SETTINGS.join(", ")
        )));
    };

    let mut checked = Map::new();
    for (name, value) in settings {
        if value.is_null() {
            continue;
        }
        let value = match name.as_str() {
            "stability" | "similarity_boost" | "style" => check_number(&name, value, UNIT_RANGE)?,
            "speed" => check_number(&name, value, SPEED_RANGE)?,
            "use_speaker_boost" if value.is_boolean() => value,
            "use_speaker_boost" => {
                return Err(invalid(
                    "the option voice_settings.use_speaker_boost must be true or false".to_string(),
                ));
            }
            _ => {
                return Err(invalid(format!(
                    "unknown voice setting `voice_settings.{}`, accepted: {}",
                    sanitize(&name, 64),
                    VOICE_SETTINGS.join(", ")
                )));
            }
        };
        checked.insert(name, value);
    }

    Ok(checked)
}

fn check_number(name: &str, value: Value, range: Range) -> Result<Value, ProviderError> {
    let (low, high, text) = range;
    match value.as_f64() {
        Some(number) if (low..=high).contains(&number) => Ok(value),
        // `value` prints as the caller wrote it; formatting the f64 would pull core's float
        // printing (about 20 KB) into the component.
        Some(_) => Err(invalid(format!(
            "the option voice_settings.{name} is {value}, out of range; ElevenLabs accepts {text}"
        ))),
        None => Err(invalid(format!(
            "the option voice_settings.{name} must be a number from {text}"
        ))),
    }
}

/// Converts the request's speed to the JSON number ElevenLabs receives.
fn request_speed(speed: f32) -> Result<Number, ProviderError> {
    // Rounding to six decimals gives back the number the caller wrote (1.1, not
    // 1.100000023841858), as the OpenAI plugin does.
    let rounded = (f64::from(speed) * 1e6).round() / 1e6;
    let number = Number::from_f64(rounded);

    match number {
        Some(number) if (MIN_SPEED..=MAX_SPEED).contains(&rounded) => Ok(number),
        Some(number) => Err(ProviderError::Unsupported(format!(
            "ElevenLabs speaks at speed {}, not {number}",
            SPEED_RANGE.2
        ))),
        None => Err(invalid("the speed is not a finite number".to_string())),
    }
}

/// Picks `language_code` from the option or the request's language.
///
/// The option is a request to enforce a language, so a model without enforcement is
/// `unsupported`. The request's `language` is a hint: for such a model it is not sent, and
/// the model detects the language from the text.
fn language_code(
    request: &SynthesisRequest,
    options: &Map<String, Value>,
    model: &Model,
) -> Result<Option<String>, ProviderError> {
    let option = match options.get("language_code") {
        None => None,
        Some(Value::String(code)) => Some(iso_639_code(code).ok_or_else(|| {
            invalid(format!(
                "the option language_code `{}` is not an ISO 639-1 code such as `en` or `de`",
                sanitize(code, 20)
            ))
        })?),
        Some(_) => {
            return Err(invalid(
                "the option language_code must be a string such as `en`".to_string(),
            ));
        }
    };
    let from_request = match request.language.as_deref().filter(|tag| !tag.is_empty()) {
        None => None,
        Some(tag) => Some(primary_language(tag).ok_or_else(|| {
            invalid(format!(
                "the language `{}` is not a BCP 47 tag such as `en` or `pt-BR`",
                sanitize(tag, 20)
            ))
        })?),
    };

    match (option, from_request) {
        (Some(option), Some(language)) if option != language => Err(invalid(format!(
            "the request's language `{language}` and the option language_code `{option}` \
             differ; set one of them"
        ))),
        (Some(_), _) if !model.language_code => Err(ProviderError::Unsupported(format!(
            "the model `{}` cannot enforce a language_code; eleven_v3, eleven_flash_v2_5 and \
             eleven_turbo_v2_5 can",
            model.id
        ))),
        (Some(code), _) => Ok(Some(code)),
        (None, Some(code)) if model.language_code => Ok(Some(code)),
        (None, _) => Ok(None),
    }
}

/// Returns the lower-cased code when `code` is two or three ASCII letters.
fn iso_639_code(code: &str) -> Option<String> {
    let letters = (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphabetic());
    letters.then(|| code.to_ascii_lowercase())
}

/// Returns the primary language subtag of a BCP 47 tag, such as `pt` for `pt-BR`.
fn primary_language(tag: &str) -> Option<String> {
    let primary = tag.split(['-', '_']).next().unwrap_or_default();
    iso_639_code(primary)
}

fn check_seed(value: Value) -> Result<Value, ProviderError> {
    match value.as_u64() {
        Some(seed) if seed <= MAX_SEED => Ok(value),
        _ => Err(invalid(format!(
            "the option seed must be an integer from 0 to {MAX_SEED}"
        ))),
    }
}

fn check_string(name: &str, value: Value) -> Result<Value, ProviderError> {
    if value.is_string() {
        return Ok(value);
    }

    Err(invalid(format!("the option {name} must be a string")))
}

fn check_request_ids(name: &str, value: Value) -> Result<Value, ProviderError> {
    let valid = value.as_array().is_some_and(|ids| {
        ids.len() <= MAX_REQUEST_IDS
            && ids
                .iter()
                .all(|id| id.as_str().is_some_and(|id| !id.is_empty()))
    });
    if valid {
        return Ok(value);
    }

    Err(invalid(format!(
        "the option {name} must be a list of at most {MAX_REQUEST_IDS} request ids (the \
         `request-id` header of earlier responses)"
    )))
}

fn check_normalization(value: Value) -> Result<Value, ProviderError> {
    if value
        .as_str()
        .is_some_and(|mode| TEXT_NORMALIZATION.contains(&mode))
    {
        return Ok(value);
    }

    Err(invalid(
        "the option apply_text_normalization must be \"auto\", \"on\" or \"off\"".to_string(),
    ))
}

fn invalid(message: String) -> ProviderError {
    ProviderError::InvalidRequest(message)
}

#[cfg(test)]
mod tests;
