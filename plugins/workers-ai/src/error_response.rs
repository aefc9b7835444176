//! Classifying a failed response from Workers AI, or from AI Gateway in front of it.
//!
//! Cloudflare's API returns errors in its v4 envelope,
//! `{"success": false, "errors": [{"code": 5007, "message": "..."}], "messages": [], "result": null}`.
//! AI Gateway's own errors use the singular key `error` for the same list
//! (`{"success": false, "error": [{"code": 2009, "message": "Unauthorized"}], ...}`). A known
//! internal code decides the error kind, and the status decides for any other. A body that is
//! not an envelope is quoted as a bounded, cleaned excerpt.

use voxgate_plugin_sdk::serde_json::{self, Value};
use voxgate_plugin_sdk::{
    HttpResponse, ProviderError, RateLimit, body_excerpt, error_for_status, retry_after_ms,
    sanitize,
};

/// Maximum characters of Cloudflare's own error message kept in an error.
const MESSAGE_CHARS: usize = 500;

/// The first error of a Cloudflare envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudflareError {
    /// The internal code, such as 3036.
    pub code: Option<i64>,
    /// The message, cleaned and bounded.
    pub message: String,
}

/// The host's action for a known internal code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    InvalidRequest,
    Unauthorized,
    RateLimited,
    Unavailable,
    Unsupported,
}

/// Returns the kind of each internal code with a documented meaning. Codes and statuses are from
/// Cloudflare's `workers-ai/platform/errors.mdx`, except where noted.
fn meaning(code: i64) -> Option<Meaning> {
    let meaning = match code {
        // 3036: the daily free allocation of 10,000 neurons is used up (429). It resets at
        // 00:00 UTC, so a quick retry will not help, but another provider can serve now.
        3036 => Meaning::RateLimited,
        // 3040: out of capacity, "no more data centers to forward the request to" (429).
        // 3007 and 3008: the request timed out or was aborted (408).
        3040 | 3007 | 3008 => Meaning::Unavailable,
        // 10000: "Authentication error" for a bad API token (401 or 403; seen in many public
        // captures, not in the table). 2009: AI Gateway's "Unauthorized". 5018 and 3041: the
        // account may not use a private model; 5016: the model's terms are not accepted;
        // 3023: the account is blocked (all 403).
        10000 | 2009 | 5018 | 3041 | 5016 | 3023 => Meaning::Unauthorized,
        // 5007: no such model (400); 3042: invalid model id (404); 5005 and 5019: the model
        // does not take this kind of request (405).
        5007 | 3042 | 5005 | 5019 => Meaning::Unsupported,
        // 5004: invalid data; 3003: incomplete request (both 400); 3006: request too large
        // (413). 5006: the input does not match the model's schema (public reports only).
        5004 | 3003 | 3006 | 5006 => Meaning::InvalidRequest,
        _ => return None,
    };
    Some(meaning)
}

/// Classifies `response`, which was not audio, into the error the host acts on. Header values
/// are never copied into the message.
pub fn classify(response: &HttpResponse) -> ProviderError {
    let status = response.status;
    let envelope = parse_envelope(&response.body);

    if (200..300).contains(&status) && envelope.is_none() {
        return ProviderError::InvalidResponse(format!(
            "Workers AI returned HTTP {status} without audio: {}",
            describe_body(&response.body)
        ));
    }

    let Some(error) = envelope else {
        let message = format!(
            "Workers AI returned HTTP {status} without its JSON error envelope: {}",
            describe_body(&response.body)
        );
        return by_status(response, message);
    };

    let message = match error.code {
        Some(code) => format!(
            "Workers AI returned HTTP {status} (code {code}): {}",
            error.message
        ),
        None => format!("Workers AI returned HTTP {status}: {}", error.message),
    };
    match error.code.and_then(meaning) {
        Some(Meaning::InvalidRequest) => ProviderError::InvalidRequest(message),
        Some(Meaning::Unauthorized) => ProviderError::Unauthorized(message),
        Some(Meaning::RateLimited) => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_ms: retry_after_ms(&response.headers),
        }),
        Some(Meaning::Unavailable) => ProviderError::Unavailable(message),
        Some(Meaning::Unsupported) => ProviderError::Unsupported(message),
        None => by_status(response, message),
    }
}

/// Maps a status without a known code: 408 and 409 are transient, 413 is the caller's, the
/// rest as most APIs mean them.
fn by_status(response: &HttpResponse, message: String) -> ProviderError {
    match response.status {
        408 | 409 => ProviderError::Unavailable(message),
        413 => ProviderError::InvalidRequest(message),
        200..=299 => ProviderError::InvalidResponse(message),
        _ => error_for_status(response, message),
    }
}

/// Reads the first error of a Cloudflare envelope, or `None` when the body is not a failed
/// envelope.
pub fn parse_envelope(body: &[u8]) -> Option<CloudflareError> {
    let value: Value = serde_json::from_slice(body).ok()?;
    if value.get("success") == Some(&Value::Bool(true)) {
        return None;
    }
    let errors = value
        .get("errors")
        .or_else(|| value.get("error"))?
        .as_array()?;
    let first = errors.first()?;

    let code = first.get("code").and_then(Value::as_i64);
    let message = first
        .get("message")
        .and_then(Value::as_str)
        .map(|text| sanitize(text, MESSAGE_CHARS))
        .unwrap_or_else(|| "no message".to_string());

    Some(CloudflareError { code, message })
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
    use voxgate_plugin_sdk::serde_json::json;

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

    fn envelope(code: i64, message: &str) -> String {
        json!({
            "success": false,
            "errors": [{"code": code, "message": message}],
            "messages": [],
            "result": null,
        })
        .to_string()
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
    fn every_documented_code_maps() {
        // (status, code, kind), statuses as Cloudflare's table gives them.
        let cases = [
            (400, 5007, "unsupported"),
            (400, 5004, "invalid-request"),
            (400, 3003, "invalid-request"),
            (400, 5006, "invalid-request"),
            (403, 5018, "unauthorized"),
            (403, 5016, "unauthorized"),
            (403, 3023, "unauthorized"),
            (403, 3041, "unauthorized"),
            (405, 5019, "unsupported"),
            (405, 5005, "unsupported"),
            (404, 3042, "unsupported"),
            (413, 3006, "invalid-request"),
            (408, 3007, "unavailable"),
            (408, 3008, "unavailable"),
            (429, 3036, "rate-limited"),
            (429, 3040, "unavailable"),
            (401, 10000, "unauthorized"),
            (403, 10000, "unauthorized"),
        ];

        for (status, code, expected) in cases {
            let error = classify(&response(status, &[], &envelope(code, "boom")));

            assert_eq!(kind(&error), expected, "code {code}");
        }
    }

    #[test]
    fn allocation_used_up_is_rate_limited_with_delay() {
        let body = envelope(
            3036,
            "You have used up your daily free allocation of 10,000 neurons.",
        );

        let error = classify(&response(429, &[("retry-after", "30")], &body));

        assert_eq!(
            error,
            ProviderError::RateLimited(RateLimit {
                message: "Workers AI returned HTTP 429 (code 3036): You have used up your daily \
                          free allocation of 10,000 neurons."
                    .to_string(),
                retry_after_ms: Some(30_000),
            })
        );
    }

    #[test]
    fn capacity_is_unavailable() {
        let body = envelope(3040, "No more data centers to forward the request to");

        let error = classify(&response(429, &[("retry-after", "1")], &body));

        assert_eq!(
            error,
            ProviderError::Unavailable(
                "Workers AI returned HTTP 429 (code 3040): No more data centers to forward the \
                 request to"
                    .to_string()
            )
        );
    }

    #[test]
    fn gateway_error_uses_singular_key() {
        let body = r#"{"success":false,"result":[],"messages":[],"error":[{"code":2009,"message":"Unauthorized"}],"name":"AiGatewayError","httpCode":401,"internalCode":2009}"#;

        let error = classify(&response(401, &[], body));

        assert_eq!(
            error,
            ProviderError::Unauthorized(
                "Workers AI returned HTTP 401 (code 2009): Unauthorized".to_string()
            )
        );
    }

    #[test]
    fn unknown_code_falls_back_to_status() {
        let cases = [
            (400, "invalid-request"),
            (401, "unauthorized"),
            (403, "unauthorized"),
            (408, "unavailable"),
            (413, "invalid-request"),
            (429, "rate-limited"),
            (500, "unavailable"),
            (503, "unavailable"),
            (418, "invalid-response"),
        ];

        for (status, expected) in cases {
            let error = classify(&response(status, &[], &envelope(9999, "odd")));

            assert_eq!(kind(&error), expected, "status {status}");
        }
    }

    #[test]
    fn error_without_code_keeps_message() {
        let body = r#"{"success":false,"errors":[{"message":"Something broke"}]}"#;

        let error = classify(&response(500, &[], body));

        assert_eq!(
            error,
            ProviderError::Unavailable("Workers AI returned HTTP 500: Something broke".to_string())
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
                "Workers AI returned HTTP 502 without its JSON error envelope: the body starts \
                 with \"<html>  <head><title>502 Bad Gateway</title></head> xxx"
            ),
            "{message}"
        );
        assert!(!message.contains(['\r', '\n']), "{message}");
        assert!(message.chars().count() < 300, "{message}");
    }

    #[test]
    fn truncated_json_uses_excerpt() {
        let error = classify(&response(
            500,
            &[],
            r#"{"success":false,"errors":[{"code":30"#,
        ));

        let ProviderError::Unavailable(message) = error else {
            panic!("expected unavailable, got {error:?}");
        };
        assert!(
            message.contains("without its JSON error envelope"),
            "{message}"
        );
    }

    #[test]
    fn success_without_audio_is_invalid_response() {
        let cases = [
            (r#"{"success":true,"result":{}}"#, "the body starts with"),
            ("", "the body is empty"),
        ];

        for (body, fragment) in cases {
            let error = classify(&response(200, &[("content-type", "text/html")], body));

            let ProviderError::InvalidResponse(message) = error else {
                panic!("expected invalid-response, got {error:?}");
            };
            assert!(message.contains("HTTP 200 without audio"), "{message}");
            assert!(message.contains(fragment), "{message}");
        }
    }

    #[test]
    fn failed_envelope_on_success_status_is_classified() {
        let error = classify(&response(200, &[], &envelope(3040, "busy")));

        assert_eq!(kind(&error), "unavailable");
    }

    #[test]
    fn message_is_sanitized_and_bounded() {
        let long = format!("line one\nline two\u{7}{}", "y".repeat(1000));

        let error = classify(&response(400, &[], &envelope(5004, &long)));

        let ProviderError::InvalidRequest(message) = error else {
            panic!("expected invalid-request, got {error:?}");
        };
        assert!(message.contains("line one line two"), "{message}");
        assert!(!message.contains(['\n', '\u{7}']), "{message}");
        assert!(message.chars().count() < 600, "{message}");
    }

    #[test]
    fn header_values_are_not_echoed() {
        let headers = [
            ("retry-after", "3"),
            ("set-cookie", "session=secret-cookie"),
            ("cf-ray", "secret-ray"),
        ];

        for status in [200, 401, 429, 500] {
            let error = classify(&response(status, &headers, "oops"));

            let text = format!("{error:?}");
            assert!(!text.contains("secret"), "status {status}: {text}");
        }
    }
}
