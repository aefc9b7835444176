//! `resume`: classifies a response to the speech request that was not audio.
//!
//! OpenAI's error body is `{"error": {"message", "type", "param", "code"}}`. The status
//! decides the error kind, and the body adds OpenAI's message, or an excerpt of whatever
//! else came back (a proxy's HTML page, a truncated body).

use voxgate_plugin_sdk::serde_json::{self, Value};
use voxgate_plugin_sdk::{
    HttpResponse, ProviderError, RateLimit, body_excerpt, error_for_status, retry_after_ms,
    sanitize,
};

/// Maximum characters of OpenAI's own error message kept in an error.
const MESSAGE_CHARS: usize = 500;

/// The error that OpenAI sends with an exhausted quota or credit balance, as `code` and
/// `type` of a 429.
const INSUFFICIENT_QUOTA: &str = "insufficient_quota";

/// The parts of OpenAI's error body that classification uses.
struct OpenAiError {
    message: String,
    kind: Option<String>,
    code: Option<String>,
}

/// Classifies `response` into the error the host acts on.
///
/// The host calls `resume` for a `stream` step only when the response was not audio, so
/// even a 2xx response here is an `invalid-response`. Header values are never copied into the
/// message.
pub fn classify(response: &HttpResponse) -> ProviderError {
    let status = response.status;

    if (200..300).contains(&status) {
        return ProviderError::InvalidResponse(format!(
            "OpenAI returned HTTP {status} without audio: {}",
            describe_body(&response.body)
        ));
    }

    let error = parse_error_body(&response.body);
    let message = match &error {
        Some(error) => {
            let detail = error.code.as_deref().or(error.kind.as_deref());
            match detail {
                Some(detail) => format!(
                    "OpenAI returned HTTP {status} ({detail}): {}",
                    error.message
                ),
                None => format!("OpenAI returned HTTP {status}: {}", error.message),
            }
        }
        None => format!(
            "OpenAI returned HTTP {status} without its JSON error body: {}",
            describe_body(&response.body)
        ),
    };

    match status {
        // OpenAI returns 404 for a model it does not serve to this key. Another provider
        // may serve the request, so the host should fall back.
        404 => ProviderError::Unsupported(message),
        // OpenAI's Python SDK retries 408 and 409 (request timeout, lock conflict) as
        // transient failures.
        408 | 409 => ProviderError::Unavailable(message),
        429 if error.as_ref().is_some_and(is_insufficient_quota) => {
            ProviderError::QuotaExceeded(message)
        }
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_ms: retry_after_ms(&response.headers),
        }),
        // 400 is invalid-request, 401 and 403 unauthorized, 5xx unavailable, the rest
        // invalid-response: OpenAI means the same as most APIs there.
        _ => error_for_status(response, message),
    }
}

fn is_insufficient_quota(error: &OpenAiError) -> bool {
    error.code.as_deref() == Some(INSUFFICIENT_QUOTA)
        || error.kind.as_deref() == Some(INSUFFICIENT_QUOTA)
}

/// Reads OpenAI's error body, or `None` when the body is not one.
fn parse_error_body(body: &[u8]) -> Option<OpenAiError> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_string);

    let message = text("message")?;

    Some(OpenAiError {
        message: redact_keys(&sanitize(&message, MESSAGE_CHARS)),
        kind: text("type").map(|kind| sanitize(&kind, 64)),
        code: text("code").map(|code| sanitize(&code, 64)),
    })
}

/// Replaces every word that starts with OpenAI's key prefix `sk-` with `[redacted]`.
///
/// OpenAI's 401 message quotes the rejected key, masked but with its start and end. Even
/// that part of a secret must not reach a log or a client.
fn redact_keys(message: &str) -> String {
    message
        .split(' ')
        .map(|word| {
            let start = word.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
            if start.starts_with("sk-") {
                "[redacted]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe_body(body: &[u8]) -> String {
    let excerpt = redact_keys(&body_excerpt(body));
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

    fn openai_body(message: &str, kind: &str, code: Option<&str>) -> String {
        serde_json::json!({
            "error": {"message": message, "type": kind, "param": null, "code": code}
        })
        .to_string()
    }

    #[test]
    fn bad_request_keeps_openai_message() {
        let body = openai_body(
            "Input of 2132 tokens is over the maximum input limit of 2000 tokens",
            "invalid_request_error",
            Some("invalid_value"),
        );

        let error = classify(&response(400, &[], &body));

        assert_eq!(
            error,
            ProviderError::InvalidRequest(
                "OpenAI returned HTTP 400 (invalid_value): Input of 2132 tokens is over the \
                 maximum input limit of 2000 tokens"
                    .to_string()
            )
        );
    }

    #[test]
    fn type_is_used_without_code() {
        let body = openai_body("Invalid voice", "invalid_request_error", None);

        let error = classify(&response(400, &[], &body));

        assert_eq!(
            error,
            ProviderError::InvalidRequest(
                "OpenAI returned HTTP 400 (invalid_request_error): Invalid voice".to_string()
            )
        );
    }

    #[test]
    fn auth_failures_are_unauthorized() {
        for status in [401, 403] {
            let body = openai_body(
                "Incorrect API key provided",
                "invalid_request_error",
                Some("invalid_api_key"),
            );

            let error = classify(&response(status, &[], &body));

            let ProviderError::Unauthorized(message) = error else {
                panic!("status {status}: expected unauthorized, got {error:?}");
            };
            assert!(message.contains("Incorrect API key provided"), "{message}");
        }
    }

    #[test]
    fn key_in_message_is_redacted() {
        let body = openai_body(
            "Incorrect API key provided: sk-proj-abc1****wxyz. You can find your API key at \
             https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            Some("invalid_api_key"),
        );

        let error = classify(&response(401, &[], &body));

        assert_eq!(
            error,
            ProviderError::Unauthorized(
                "OpenAI returned HTTP 401 (invalid_api_key): Incorrect API key provided: \
                 [redacted] You can find your API key at \
                 https://platform.openai.com/account/api-keys."
                    .to_string()
            )
        );
    }

    #[test]
    fn redaction_spares_other_words() {
        assert_eq!(
            redact_keys("risk-free (sk-abc) 'sk-x' ask-me"),
            "risk-free [redacted] [redacted] ask-me"
        );
    }

    #[test]
    fn key_in_html_is_redacted() {
        let error = classify(&response(502, &[], "<p>bad key sk-live-123</p>"));

        let text = format!("{error:?}");
        assert!(!text.contains("sk-live"), "{text}");
    }

    #[test]
    fn not_found_is_unsupported() {
        let body = openai_body(
            "The model `tts-9` does not exist or you do not have access to it.",
            "invalid_request_error",
            Some("model_not_found"),
        );

        let error = classify(&response(404, &[], &body));

        let ProviderError::Unsupported(message) = error else {
            panic!("expected unsupported, got {error:?}");
        };
        assert!(message.contains("model_not_found"), "{message}");
        assert!(message.contains("`tts-9` does not exist"), "{message}");
    }

    #[test]
    fn insufficient_quota_is_quota_exceeded() {
        let by_code = openai_body(
            "You exceeded your current quota",
            "insufficient_quota",
            Some("insufficient_quota"),
        );
        let by_type = openai_body(
            "You exceeded your current quota",
            "insufficient_quota",
            None,
        );
        let by_code_only = openai_body(
            "You exceeded your current quota",
            "requests",
            Some("insufficient_quota"),
        );

        for body in [by_code, by_type, by_code_only] {
            let error = classify(&response(429, &[("retry-after", "20")], &body));

            assert!(
                matches!(error, ProviderError::QuotaExceeded(_)),
                "{body}: {error:?}"
            );
        }
    }

    #[test]
    fn rate_limit_carries_delay() {
        let body = openai_body(
            "Rate limit reached for requests",
            "requests",
            Some("rate_limit_exceeded"),
        );
        let headers = [("retry-after", "7"), ("x-ratelimit-reset-requests", "6.5s")];

        let error = classify(&response(429, &headers, &body));

        assert_eq!(
            error,
            ProviderError::RateLimited(RateLimit {
                message: "OpenAI returned HTTP 429 (rate_limit_exceeded): Rate limit reached \
                          for requests"
                    .to_string(),
                retry_after_ms: Some(7000),
            })
        );
    }

    #[test]
    fn rate_limit_prefers_milliseconds() {
        let headers = [("retry-after-ms", "1500"), ("retry-after", "2")];

        let error = classify(&response(429, &headers, "Too Many Requests"));

        let ProviderError::RateLimited(limit) = error else {
            panic!("expected rate-limited, got {error:?}");
        };
        assert_eq!(limit.retry_after_ms, Some(1500));
    }

    #[test]
    fn rate_limit_without_delay() {
        let headers = [("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")];

        let error = classify(&response(429, &headers, ""));

        let ProviderError::RateLimited(limit) = error else {
            panic!("expected rate-limited, got {error:?}");
        };
        assert_eq!(limit.retry_after_ms, None);
    }

    #[test]
    fn server_errors_are_unavailable() {
        for status in [500, 502, 503, 504] {
            let body = openai_body("The server had an error", "server_error", None);

            let error = classify(&response(status, &[], &body));

            assert!(
                matches!(error, ProviderError::Unavailable(_)),
                "status {status}: {error:?}"
            );
        }
    }

    #[test]
    fn transient_conflicts_are_unavailable() {
        for status in [408, 409] {
            let error = classify(&response(status, &[], ""));

            assert!(
                matches!(error, ProviderError::Unavailable(_)),
                "status {status}: {error:?}"
            );
        }
    }

    #[test]
    fn other_statuses_follow_sdk_mapping() {
        let cases = [
            (402, "quota-exceeded"),
            (422, "invalid-request"),
            (302, "invalid-response"),
            (418, "invalid-response"),
        ];

        for (status, expected) in cases {
            let error = classify(&response(status, &[], "{}"));

            let kind = match error {
                ProviderError::QuotaExceeded(_) => "quota-exceeded",
                ProviderError::InvalidRequest(_) => "invalid-request",
                ProviderError::InvalidResponse(_) => "invalid-response",
                _ => "other",
            };
            assert_eq!(kind, expected, "status {status}");
        }
    }

    #[test]
    fn success_without_audio_is_invalid_response() {
        let headers = [("content-type", "application/json")];

        let error = classify(&response(200, &headers, r#"{"object": "list"}"#));

        assert_eq!(
            error,
            ProviderError::InvalidResponse(
                "OpenAI returned HTTP 200 without audio: the body starts with \
                 \"{\"object\": \"list\"}\""
                    .to_string()
            )
        );
    }

    #[test]
    fn html_body_is_quoted_and_bounded() {
        let page = format!(
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\n{}</html>",
            "x".repeat(500)
        );

        let error = classify(&response(502, &[], &page));

        let ProviderError::Unavailable(message) = error else {
            panic!("expected unavailable, got {error:?}");
        };
        assert!(
            message.starts_with(
                "OpenAI returned HTTP 502 without its JSON error body: the body starts with \
                 \"<html>  <head><title>502 Bad Gateway</title></head> xxx"
            ),
            "{message}"
        );
        assert!(!message.contains(['\r', '\n']), "{message}");
        let quoted = message.split_once('"').map(|(_, rest)| rest).unwrap_or("");
        assert_eq!(
            quoted.chars().count(),
            200 + "…\"".chars().count(),
            "{message}"
        );
    }

    #[test]
    fn non_openai_json_uses_excerpt() {
        let body = r#"{"success":false,"error":[{"code":2009,"message":"Unauthorized"}]}"#;

        let error = classify(&response(401, &[], body));

        let ProviderError::Unauthorized(message) = error else {
            panic!("expected unauthorized, got {error:?}");
        };
        assert!(message.contains("without its JSON error body"), "{message}");
        assert!(message.contains("\"code\":2009"), "{message}");
    }

    #[test]
    fn empty_body_is_named() {
        let error = classify(&response(503, &[], ""));

        assert_eq!(
            error,
            ProviderError::Unavailable(
                "OpenAI returned HTTP 503 without its JSON error body: the body is empty"
                    .to_string()
            )
        );
    }

    #[test]
    fn openai_message_is_sanitized() {
        let long = format!("line one\nline two\u{7}{}", "y".repeat(1000));
        let body = openai_body(&long, "server_error", None);

        let error = classify(&response(500, &[], &body));

        let ProviderError::Unavailable(message) = error else {
            panic!("expected unavailable, got {error:?}");
        };
        assert!(message.contains("line one line two"), "{message}");
        assert!(!message.contains(['\n', '\u{7}']), "{message}");
        assert!(
            message.chars().count() < 600,
            "{} characters",
            message.chars().count()
        );
    }

    #[test]
    fn header_values_are_not_echoed() {
        let headers = [
            ("retry-after", "3"),
            ("set-cookie", "session=secret-cookie"),
            ("www-authenticate", "Bearer realm=secret-realm"),
            ("content-type", "text/html; secret-type"),
        ];

        for status in [200, 401, 429, 500] {
            let error = classify(&response(status, &headers, "oops"));

            let text = format!("{error:?}");
            assert!(!text.contains("secret"), "status {status}: {text}");
        }
    }
}
