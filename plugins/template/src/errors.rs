//! `resume`: classifies a response to the speech request that was not audio.
//!
//! The status decides the error kind; the example API's `{"error": {"code", "message"}}`
//! body refines it and supplies the message. Any other body (a proxy's HTML page, a cut-off
//! response) is quoted as a short excerpt, never in full.

use voxgate_plugin_sdk::serde_json::{self, Value};
use voxgate_plugin_sdk::{HttpResponse, ProviderError, body_excerpt, error_for_status, sanitize};

/// The maximum characters of the API's own message kept in an error.
const MESSAGE_CHARS: usize = 300;

/// Classifies `response` into the error the host acts on.
pub fn classify(response: &HttpResponse) -> ProviderError {
    let status = response.status;
    let error = parse_error_body(&response.body);

    // The host calls `resume` for a `stream` step only when the response was not audio, so even
    // a 2xx status here means the API sent something this plugin cannot use.
    if (200..300).contains(&status) {
        return ProviderError::InvalidResponse(format!(
            "Example TTS returned HTTP {status} without audio: {}",
            describe_body(&response.body)
        ));
    }

    let message = match &error {
        Some((code, message)) => format!("Example TTS returned HTTP {status} ({code}): {message}"),
        None => format!(
            "Example TTS returned HTTP {status}: {}",
            describe_body(&response.body)
        ),
    };
    match error.as_ref().map(|(code, _)| code.as_str()) {
        // The example API reports an exhausted balance with 403 or 429 and this code: falling
        // back helps, retrying does not.
        Some("quota_exceeded") => ProviderError::QuotaExceeded(message),
        Some("voice_not_found" | "model_not_found") => ProviderError::Unsupported(message),
        _ => error_for_status(response, message),
    }
}

/// Reads `{"error": {"code", "message"}}`, or `None` when the body is anything else.
fn parse_error_body(body: &[u8]) -> Option<(String, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let code = error.get("code")?.as_str()?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some((sanitize(code, 64), sanitize(message, MESSAGE_CHARS)))
}

fn describe_body(body: &[u8]) -> String {
    let excerpt = body_excerpt(body);
    if excerpt.is_empty() {
        return "the body is empty".to_string();
    }
    format!("the body starts with \"{excerpt}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn kind(error: &ProviderError) -> &'static str {
        match error {
            ProviderError::InvalidRequest(_) => "invalid-request",
            ProviderError::Unauthorized(_) => "unauthorized",
            ProviderError::QuotaExceeded(_) => "quota-exceeded",
            ProviderError::RateLimited(_) => "rate-limited",
            ProviderError::Unavailable(_) => "unavailable",
            ProviderError::Unsupported(_) => "unsupported",
            ProviderError::InvalidResponse(_) => "invalid-response",
            ProviderError::Misconfigured(_) => "misconfigured",
        }
    }

    #[test]
    fn status_table() {
        let cases = [
            (
                400,
                r#"{"error": {"code": "bad_speed", "message": "speed"}}"#,
                "invalid-request",
            ),
            (401, "", "unauthorized"),
            (
                403,
                r#"{"error": {"code": "quota_exceeded", "message": "no credit"}}"#,
                "quota-exceeded",
            ),
            (
                404,
                r#"{"error": {"code": "voice_not_found", "message": "no"}}"#,
                "unsupported",
            ),
            (409, "", "unavailable"),
            (429, "", "rate-limited"),
            (503, "<html>busy</html>", "unavailable"),
            (200, "{}", "invalid-response"),
        ];
        for (status, body, expected) in cases {
            let error = classify(&response(status, &[], body));

            assert_eq!(kind(&error), expected, "HTTP {status} {body}");
        }
    }

    #[test]
    fn retry_after_is_read() {
        let error = classify(&response(429, &[("retry-after", "2")], ""));

        let ProviderError::RateLimited(limit) = error else {
            panic!("expected rate-limited, got {error:?}");
        };
        assert_eq!(limit.retry_after_ms, Some(2000));
    }

    #[test]
    fn long_body_is_cut() {
        let body = "x".repeat(10_000);

        let error = classify(&response(500, &[], &body));

        assert!(format!("{error:?}").len() < 1000, "{error:?}");
    }
}
