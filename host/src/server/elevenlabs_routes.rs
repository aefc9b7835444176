//! Routes of ElevenLabs' API: the four text-to-speech routes, `GET /v1/voices`,
//! `GET /v2/voices` and `GET /v1/models`.

use std::time::Instant;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::audio_response::{Framing, audio_response, with_outcome_headers};
use super::{Api, Body, error_response, json_response, read_body};
use crate::api::elevenlabs::{self, Route};
use crate::api::errors::ApiError;
use crate::auth::Client;
use crate::delivery::CachePolicy;
use crate::gateway::Gateway;
use crate::speech::{SpeakError, SpeechRequest};
use crate::plugin::wit::ProviderError;
use crate::synthesis::{AudioBody, SynthesisError, Synthesized};

/// `POST /v1/text-to-speech/{voice_id}[/stream][/with-timestamps]`. `rest` is the path after
/// `/v1/text-to-speech/`.
pub async fn speech(
    gateway: &Gateway,
    client: &Client,
    request: Request<Incoming>,
    rest: &str,
    max_request_bytes: usize,
    request_id: &str,
    started: Instant,
) -> Response<Body> {
    let Some((voice, route)) = Route::parse(rest) else {
        return error_response(Api::ElevenLabs, &ApiError::new(404, crate::api::errors::Blame::Client, "not_found", "no such text-to-speech route"));
    };
    let voice = voice.to_string();
    let query = request.uri().query().map(str::to_string);
    let cache = CachePolicy::from_headers(request.headers());
    let body = match read_body(request, max_request_bytes).await {
        Ok(body) => body,
        Err(error) => return error_response(Api::ElevenLabs, &error),
    };
    let mut speech = match elevenlabs::parse_speech_request(&voice, query.as_deref(), &body, route) {
        Ok(speech) => speech,
        Err(invalid) => {
            tracing::info!(code = invalid.code, error = %invalid.message, "invalid request");
            return error_response(Api::ElevenLabs, &ApiError::from(&invalid));
        }
    };

    speech.cache = cache;
    let synthesized = match speak_with_optional_timestamps(gateway, client, speech).await {
        Ok(synthesized) => synthesized,
        Err(error) => {
            tracing::warn!(error = %error, "speech request failed");
            return error_response(Api::ElevenLabs, &ApiError::from(&error));
        }
    };
    let span = tracing::Span::current();
    span.record("provider", synthesized.provider.as_str());
    span.record("model", synthesized.model.as_str());

    match route {
        Route::Convert | Route::Stream => audio_response(synthesized, Framing::Raw, request_id, started, gateway.sink()),
        Route::StreamWithTimestamps => {
            audio_response(synthesized, Framing::ElevenLabsLines, request_id, started, gateway.sink())
        }
        Route::WithTimestamps => timestamps_response(gateway, synthesized).await,
    }
}

/// Runs a request that asked for timestamps, and runs it again without them when the
/// provider cannot time characters: ElevenLabs' shape allows a null alignment, and audio
/// without timing serves the caller better than an error.
async fn speak_with_optional_timestamps(gateway: &Gateway, client: &Client, speech: SpeechRequest) -> Result<Synthesized, SpeakError> {
    if !speech.timestamps {
        return gateway.speak(speech, client).await;
    }
    let mut retry = speech.clone();
    match gateway.speak(speech, client).await {
        Err(SpeakError::Synthesis(SynthesisError::Provider { error: ProviderError::Unsupported(reason), provider })) => {
            tracing::info!(%provider, %reason, "provider cannot time characters; responding without alignment");
            retry.timestamps = false;
            gateway.speak(retry, client).await
        }
        other => other,
    }
}

/// `/with-timestamps` returns one JSON object, so a streamed clip is read whole first.
async fn timestamps_response(gateway: &Gateway, mut synthesized: Synthesized) -> Response<Body> {
    let provider = synthesized.provider.clone();
    let model = synthesized.model.clone();
    let delivery = synthesized.delivery.take();
    let audio = match synthesized.body {
        AudioBody::Complete(bytes) => bytes,
        AudioBody::Stream(stream) => match stream.collect().await {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(%error, "audio stream failed");
                if let Some(delivery) = delivery {
                    gateway.sink().finish(delivery, None);
                }
                let error = ApiError::new(502, crate::api::errors::Blame::Upstream, "upstream_connection_failed", error.to_string());
                return error_response(Api::ElevenLabs, &error);
            }
        },
    };
    tracing::debug!(bytes = audio.len(), "audio complete");
    if let Some(delivery) = delivery {
        gateway.sink().finish(delivery, Some(audio.clone()));
    }
    let body = elevenlabs::timestamps_body(&audio, synthesized.alignment.as_ref()).to_string();
    let mut builder = Response::builder().status(StatusCode::OK).header(http::header::CONTENT_TYPE, "application/json");
    builder = with_outcome_headers(builder, &provider, &model, synthesized.attempts);
    if let Some(characters) = synthesized.billed_characters {
        builder = builder.header("x-voxgate-billed-characters", characters);
    }
    builder
        .body(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync())
        .unwrap_or_else(|_| json_response(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({"detail": {"status": "internal_error", "message": "internal error"}})))
}

/// `GET /v1/voices`.
pub fn voices(gateway: &Gateway) -> Response<Body> {
    json_response(StatusCode::OK, elevenlabs::voices_body(&gateway.plugins()))
}

/// `GET /v2/voices`.
pub fn voices_page(gateway: &Gateway) -> Response<Body> {
    json_response(StatusCode::OK, elevenlabs::voices_page_body(&gateway.plugins()))
}

/// `GET /v1/models` in ElevenLabs' bare-array shape.
pub fn models(gateway: &Gateway) -> Response<Body> {
    json_response(StatusCode::OK, elevenlabs::models_body(&gateway.plugins()))
}
