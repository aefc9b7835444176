//! The API-neutral speech request, its validation against a plugin's declared models and
//! voices, and the errors a request can end with.

use crate::audio::container_name;
use crate::plugin::LoadedPlugin;
use crate::plugin::wit::{AudioFormat, SynthesisRequest};
use crate::delivery::CachePolicy;
use crate::routing::{CapacityError, find_model};
use crate::synthesis::SynthesisError;

/// A request to speak, in no particular API's terms.
#[derive(Debug, Clone)]
pub struct SpeechRequest {
    /// `model`, `provider:model`, or `None` for the default model of the provider chosen by
    /// the voice, or of the first provider.
    pub model: Option<String>,
    /// `voice`, `provider:voice`, or `None` for the provider's default voice.
    pub voice: Option<String>,
    pub text: String,
    pub format: AudioFormat,
    pub speed: Option<f32>,
    pub language: Option<String>,
    pub instructions: Option<String>,
    pub timestamps: bool,
    /// Provider-specific options, a JSON object.
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
    /// The provider the options are meant for, when the API that received them is one
    /// provider's own. Another provider gets no options, since its plugin would reject keys
    /// it does not know.
    pub options_provider: Option<&'static str>,
    /// The request's cache directives.
    pub cache: CachePolicy,
}

/// A request the gateway rejects before any provider receives it. The fields map onto each
/// API's error shape (OpenAI's `param` and `code`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct InvalidRequest {
    pub message: String,
    /// The request field at fault, in the called API's naming.
    pub param: Option<&'static str>,
    pub code: &'static str,
}

impl InvalidRequest {
    pub fn new(param: Option<&'static str>, code: &'static str, message: impl Into<String>) -> Self {
        Self { message: message.into(), param, code }
    }
}

/// A reason a speech request failed.
#[derive(Debug, thiserror::Error)]
pub enum SpeakError {
    #[error(transparent)]
    Invalid(#[from] InvalidRequest),
    #[error(transparent)]
    Synthesis(#[from] SynthesisError),
    #[error(transparent)]
    Capacity(#[from] CapacityError),
    #[error("provider {provider} is failing and its circuit breaker is open; try again later")]
    CircuitOpen { provider: String },
    #[error("no provider can serve the request: {}", if skipped.is_empty() { "the route has no candidates".to_string() } else { skipped.join("; ") })]
    NoCandidate { skipped: Vec<String> },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    ClientLimit { message: String, retry_after_seconds: u64 },
}

/// Checks a request against what the plugin declared and builds the contract's request.
pub fn validate(
    plugin: &LoadedPlugin,
    model_id: &str,
    voice: Option<String>,
    request: SpeechRequest,
) -> Result<SynthesisRequest, InvalidRequest> {
    let Some(model) = find_model(plugin, model_id) else {
        return Err(InvalidRequest::new(
            Some("model"),
            "model_not_found",
            format!("model `{}` is not offered by provider `{}`", quote(model_id), plugin.id()),
        ));
    };

    if request.text.trim().is_empty() {
        return Err(InvalidRequest::new(
            Some("input"),
            "empty_input",
            "the text to speak is empty",
        ));
    }
    let characters = request.text.chars().count();
    if characters > model.max_characters as usize {
        return Err(InvalidRequest::new(
            Some("input"),
            "string_above_max_length",
            format!(
                "the text is {characters} characters long; model `{}` of provider `{}` accepts at most {}",
                model.id,
                plugin.id(),
                model.max_characters
            ),
        ));
    }

    let voice = voice.unwrap_or_else(|| plugin.info.default_voice.clone());
    let Some(voice_info) = plugin.info.voices.iter().find(|candidate| candidate.id == voice) else {
        let known: Vec<&str> = plugin.info.voices.iter().map(|voice| voice.id.as_str()).collect();
        return Err(InvalidRequest::new(
            Some("voice"),
            "voice_not_found",
            format!(
                "voice `{}` is not offered by provider `{}`; available voices: {}",
                quote(&voice),
                plugin.id(),
                known.join(", ")
            ),
        ));
    };
    if !voice_info.models.is_empty() && !voice_info.models.iter().any(|m| m == model_id) {
        return Err(InvalidRequest::new(
            Some("voice"),
            "voice_not_found",
            format!(
                "voice `{voice}` is not offered with model `{model_id}`; it is offered with: {}",
                voice_info.models.join(", ")
            ),
        ));
    }

    if !model.formats.contains(&request.format.container) {
        let offered: Vec<&str> = model.formats.iter().map(|format| container_name(*format)).collect();
        return Err(InvalidRequest::new(
            Some("response_format"),
            "unsupported_format",
            format!(
                "model `{model_id}` of provider `{}` cannot produce {}; it offers: {}",
                plugin.id(),
                container_name(request.format.container),
                offered.join(", ")
            ),
        ));
    }
    if request.instructions.is_some() && !model.instructions {
        return Err(InvalidRequest::new(
            Some("instructions"),
            "unsupported_parameter",
            format!("model `{model_id}` does not accept instructions"),
        ));
    }

    let meant_for_this_provider = request.options_provider.is_none_or(|id| id == plugin.id());
    let options = match request.options {
        Some(map) if !map.is_empty() && meant_for_this_provider => serde_json::Value::Object(map).to_string(),
        _ => String::new(),
    };
    Ok(SynthesisRequest {
        text: request.text,
        model: model_id.to_string(),
        voice,
        format: request.format,
        speed: request.speed,
        language: request.language,
        instructions: request.instructions,
        timestamps: request.timestamps,
        options,
    })
}

/// Client text quoted in an error message: bounded and without control characters.
pub fn quote(text: &str) -> String {
    crate::text::excerpt(text, 100)
}

pub fn join_or_none(items: impl Iterator<Item = impl AsRef<str>>) -> String {
    let items: Vec<String> = items.map(|item| item.as_ref().to_string()).collect();
    if items.is_empty() { "none".to_string() } else { items.join(", ") }
}
