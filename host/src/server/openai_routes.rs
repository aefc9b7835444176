//! Routes of OpenAI's API: `POST /v1/audio/speech` and `GET /v1/models`, plus voxgate's own
//! `GET /v1/providers`, which responds in the same style.

use std::time::Instant;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::audio_response::{Framing, audio_response};
use super::{Api, Body, error_response, json_response, read_body};
use crate::api::errors::ApiError;
use crate::api::openai::{self, StreamFormat};
use crate::audio::container_name;
use crate::auth::Client;
use crate::delivery::CachePolicy;
use crate::gateway::Gateway;
use crate::routing::BreakerState;

/// `POST /v1/audio/speech`.
pub async fn speech(
    gateway: &Gateway,
    client: &Client,
    request: Request<Incoming>,
    max_request_bytes: usize,
    request_id: &str,
    started: Instant,
) -> Response<Body> {
    let headers = request.headers().clone();
    let body = match read_body(request, max_request_bytes).await {
        Ok(body) => body,
        Err(error) => return error_response(Api::OpenAi, &error),
    };
    let speech = match openai::parse_speech_request(&body) {
        Ok(speech) => speech,
        Err(invalid) => {
            tracing::info!(code = invalid.code, error = %invalid.message, "invalid request");
            return error_response(Api::OpenAi, &ApiError::from(&invalid));
        }
    };
    let mut speech = speech;
    speech.request.cache = CachePolicy::from_headers(&headers);
    let framing = match speech.stream_format {
        StreamFormat::Audio => Framing::Raw,
        StreamFormat::Sse => Framing::OpenAiEvents,
    };

    match gateway.speak(speech.request, client).await {
        Ok(synthesized) => {
            let span = tracing::Span::current();
            span.record("provider", synthesized.provider.as_str());
            span.record("model", synthesized.model.as_str());
            audio_response(synthesized, framing, request_id, started, gateway.sink())
        }
        Err(error) => {
            tracing::warn!(error = %error, "speech request failed");
            error_response(Api::OpenAi, &ApiError::from(&error))
        }
    }
}

/// `GET /v1/models` in OpenAI's list shape.
pub fn models(gateway: &Gateway) -> Response<Body> {
    json_response(StatusCode::OK, openai::models_body(&gateway.plugins()))
}

/// `GET /v1/providers`: loaded plugins with their models, voices and prices, and the files
/// that were rejected with the reason.
pub fn providers(gateway: &Gateway) -> Response<Body> {
    let set = gateway.plugins();
    let providers: Vec<Value> = set
        .plugins
        .values()
        .map(|plugin| {
            let info = &plugin.info;
            let models: Vec<Value> = info
                .models
                .iter()
                .map(|model| {
                    json!({
                        "id": model.id,
                        "name": model.name,
                        "languages": model.languages,
                        "price_per_million_characters": model.price_per_million_characters,
                        "max_characters": model.max_characters,
                        "formats": model.formats.iter().map(|format| container_name(*format)).collect::<Vec<_>>(),
                        "streaming": model.streaming,
                        "instructions": model.instructions,
                    })
                })
                .collect();
            let voices: Vec<Value> = info
                .voices
                .iter()
                .map(|voice| json!({ "id": voice.id, "name": voice.name, "languages": voice.languages, "models": voice.models }))
                .collect();
            let settings: Vec<Value> = info
                .settings
                .iter()
                .map(|setting| json!({ "name": setting.name, "description": setting.description, "default": setting.default }))
                .collect();
            let missing: Vec<&str> = plugin.missing_required_secrets().map(|(name, _)| name).collect();
            let breaker = gateway.breaker_state(&info.id).unwrap_or(BreakerState::Closed);
            json!({
                "id": info.id,
                "name": info.name,
                "version": info.version,
                "digest": plugin.digest,
                "default_model": info.default_model,
                "default_voice": info.default_voice,
                "configured": missing.is_empty(),
                "circuit_breaker": breaker.name(),
                "missing_secrets": missing,
                "settings": settings,
                "models": models,
                "voices": voices,
            })
        })
        .collect();
    let rejected: Vec<Value> = set
        .rejected
        .iter()
        .map(|rejection| {
            json!({
                "file": rejection.file.file_name().map(|name| name.to_string_lossy().into_owned()),
                "reason": rejection.reason,
            })
        })
        .collect();
    json_response(StatusCode::OK, json!({ "providers": providers, "rejected": rejected }))
}
