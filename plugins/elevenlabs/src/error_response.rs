//! `resume`: classifies an ElevenLabs response that was not audio.
//!
//! ElevenLabs sends two error bodies:
//!
//! - `{"detail": {"status": "<code>", "message": "<text>"}}`. Here `status` names the error
//!   and decides its kind more reliably than the HTTP status. ElevenLabs' error-code page
//!   and captured responses show `quota_exceeded` as a 401, and `voice_not_found` came as a
//!   400 in 2024 and as a 404 since 2025.
//! - FastAPI's validation error, `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`
//!   with HTTP 422, the only error its OpenAPI spec declares.
//!
//! Anything else (a proxy's HTML page, a truncated body) is classified by the HTTP status,
//! with a short sanitized excerpt of the body.

use voxgate_plugin_sdk::serde_json::{self, Value};
use voxgate_plugin_sdk::{
    HttpResponse, ProviderError, RateLimit, body_excerpt, error_for_status, retry_after_ms,
    sanitize,
};

/// Maximum characters of ElevenLabs' own message kept in an error.
const MESSAGE_CHARS: usize = 300;

/// The number of validation errors quoted from one 422 response. The rest are counted.
const MAX_QUOTED_VALIDATION_ERRORS: usize = 3;

/// The parsed `detail` of an error body.
enum Detail {
    /// `{"detail": {"status", "message"}}`.
    Coded { status: String, message: String },
    /// FastAPI's list of validation errors, each as `loc: msg`, and how many there were.
    Validation { quoted: Vec<String>, total: usize },
    /// `{"detail": "<text>"}`, FastAPI's plain HTTP error.
    Text(String),
}

/// Classifies `response` into the error the host acts on. Header values are never copied
/// into the message.
pub fn classify(response: &HttpResponse) -> ProviderError {
    let status = response.status;

    if (200..300).contains(&status) {
        return ProviderError::InvalidResponse(format!(
            "ElevenLabs returned HTTP {status} without audio: {}",
            describe_body(&response.body)
        ));
    }

    match parse_detail(&response.body) {
        Some(Detail::Coded {
            status: code,
            message,
        }) => {
            let message = format!("ElevenLabs returned HTTP {status} ({code}): {message}");
            classify_code(response, &code, message)
        }
        Some(Detail::Validation { quoted, total }) => {
            let mut message = format!(
                "ElevenLabs rejected the request (HTTP {status}): {}",
                quoted.join("; ")
            );
            if total > quoted.len() {
                message.push_str(&format!(" (and {} more)", total - quoted.len()));
            }
            ProviderError::InvalidRequest(message)
        }
        Some(Detail::Text(text)) => classify_status(
            response,
            format!("ElevenLabs returned HTTP {status}: {text}"),
        ),
        None => classify_status(
            response,
            format!(
                "ElevenLabs returned HTTP {status} without its JSON error body: {}",
                describe_body(&response.body)
            ),
        ),
    }
}

/// Classifies by ElevenLabs' `detail.status`, falling back to the HTTP status for codes
/// that carry no meaning of their own.
fn classify_code(response: &HttpResponse, code: &str, message: String) -> ProviderError {
    match code {
        // ElevenLabs' error-code page lists each of these.
        "invalid_api_key" | "missing_permissions" => ProviderError::Unauthorized(message),
        "quota_exceeded" => ProviderError::QuotaExceeded(message),
        // Another provider has other voices; the host should fall back.
        "voice_not_found" | "voice_does_not_exist" => ProviderError::Unsupported(message),
        // A feature of a higher plan, such as 192 kbit/s MP3 or 44.1 kHz PCM.
        "only_for_creator+" => ProviderError::Unsupported(message),
        "max_character_limit_exceeded" => ProviderError::InvalidRequest(message),
        "too_many_concurrent_requests" | "system_busy" => rate_limited(response, message),
        _ => classify_status(response, message),
    }
}

/// Classifies by HTTP status alone.
fn classify_status(response: &HttpResponse, message: String) -> ProviderError {
    match response.status {
        // ElevenLabs returns 404 for a voice or model this account cannot use.
        404 => ProviderError::Unsupported(message),
        // Request timeout and conflict are transient, as ElevenLabs' SDKs treat them.
        408 | 409 => ProviderError::Unavailable(message),
        429 => rate_limited(response, message),
        // 400 and 422 invalid-request, 401 and 403 unauthorized, 402 quota-exceeded, 5xx
        // unavailable, the rest invalid-response.
        _ => error_for_status(response, message),
    }
}

fn rate_limited(response: &HttpResponse, message: String) -> ProviderError {
    ProviderError::RateLimited(RateLimit {
        message,
        retry_after_ms: retry_after_ms(&response.headers),
    })
}

/// Reads the `detail` of an error body, or `None` when the body is not one.
fn parse_detail(body: &[u8]) -> Option<Detail> {
    let value: Value = serde_json::from_slice(body).ok()?;

    match value.get("detail")? {
        Value::Object(detail) => {
            let text = |key: &str| detail.get(key).and_then(Value::as_str);
            let message = text("message");
            match (text("status"), message) {
                (Some(status), _) => Some(Detail::Coded {
                    status: sanitize(status, 64),
                    message: sanitize(message.unwrap_or("no message"), MESSAGE_CHARS),
                }),
                // A message without a code still explains more than the HTTP status alone.
                (None, Some(message)) => Some(Detail::Text(sanitize(message, MESSAGE_CHARS))),
                (None, None) => None,
            }
        }
        Value::Array(errors) => {
            let quoted = errors
                .iter()
                .take(MAX_QUOTED_VALIDATION_ERRORS)
                .map(validation_error)
                .collect();
            Some(Detail::Validation {
                quoted,
                total: errors.len(),
            })
        }
        Value::String(text) => Some(Detail::Text(sanitize(text, MESSAGE_CHARS))),
        _ => None,
    }
}

/// Formats one FastAPI validation error as `body.voice_settings.speed: <msg>`.
fn validation_error(error: &Value) -> String {
    let location = match error.get("loc").and_then(Value::as_array) {
        Some(parts) => parts
            .iter()
            .map(|part| match part {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("."),
        None => "request".to_string(),
    };
    let message = error
        .get("msg")
        .and_then(Value::as_str)
        .unwrap_or("invalid value");

    format!(
        "{}: {}",
        sanitize(&location, 100),
        sanitize(message, MESSAGE_CHARS)
    )
}

fn describe_body(body: &[u8]) -> String {
    let excerpt = body_excerpt(body);
    if excerpt.is_empty() {
        return "the body is empty".to_string();
    }

    format!("the body starts with \"{excerpt}\"")
}

#[cfg(test)]
mod tests;
