//! Turning fal's error responses into the errors the host acts on.
//!
//! fal has two error bodies (fal's docs, "errors" and "request errors" pages):
//!
//! - model and validation errors, typically 422: `{"detail": [{"loc", "msg", "type", ...}]}`,
//!   or, from some apps, `{"detail": "text"}`;
//! - infrastructure errors: `{"detail": "text", "error_type": "code"}` with the same code in
//!   the `x-fal-error-type` header, such as `request_timeout` (504) or
//!   `runner_scheduling_failure` (503).

use voxgate_plugin_sdk::serde_json::{self, Value};
use voxgate_plugin_sdk::{
    HttpResponse, ProviderError, RateLimit, body_excerpt, response_header, retry_after_ms, sanitize,
};

/// The maximum number of validation items quoted in one message.
const MAX_QUOTED_ITEMS: usize = 3;
/// The maximum number of characters kept from one piece of fal's text.
const DETAIL_CHARS: usize = 300;

/// The part of a synthesis an error response came from, for the message and for statuses
/// whose meaning depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The sync request or the queue submit, addressed to an app's own path.
    Submit,
    /// A status poll, result fetch or cancel of a queued job.
    Job,
}

/// The parts of a fal error body that the plugin reads.
#[derive(Debug, Default, PartialEq)]
pub struct FalError {
    /// The validation items or the detail text, ready for a message.
    pub detail: Option<String>,
    /// The infrastructure error code, from the body or the `x-fal-error-type` header.
    pub error_type: Option<String>,
}

/// Reads fal's error body and header from `response`.
pub fn parse(response: &HttpResponse) -> FalError {
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    let detail = body
        .as_ref()
        .and_then(|body| body.get("detail"))
        .and_then(describe_detail);
    let body_type = body
        .as_ref()
        .and_then(|body| body.get("error_type"))
        .and_then(Value::as_str);
    let error_type = body_type
        .or_else(|| response_header(&response.headers, "x-fal-error-type"))
        .map(|code| sanitize(code, 64))
        .filter(|code| !code.is_empty());

    FalError { detail, error_type }
}

/// Classifies an error response from fal's sync or queue API.
///
/// 400 and 422 are the caller's input (`invalid-request`), 401 and 403 `unauthorized`, 402
/// `quota-exceeded`, 429 `rate-limited`, 408 and 5xx `unavailable`, and any response with an
/// `error_type` is an infrastructure failure, so `unavailable` whatever its status. A 404 on
/// an app's path means fal has no such app (`unsupported`); on a job URL, that fal lost the
/// job (`unavailable`).
pub fn classify(response: &HttpResponse, phase: Phase, app: &str) -> ProviderError {
    let status = response.status;
    let error = parse(response);

    let what = match phase {
        Phase::Submit => format!("fal's {app} app"),
        Phase::Job => format!("fal's queue for {app}"),
    };
    let text = match &error.detail {
        Some(detail) => detail.clone(),
        None => describe_body(&response.body),
    };
    let message = match &error.error_type {
        Some(code) => format!("{what} returned HTTP {status} ({code}): {text}"),
        None => format!("{what} returned HTTP {status}: {text}"),
    };

    if error.error_type.is_some() && status != 429 {
        return ProviderError::Unavailable(message);
    }
    match status {
        400 | 422 => ProviderError::InvalidRequest(message),
        401 | 403 => ProviderError::Unauthorized(message),
        402 => ProviderError::QuotaExceeded(message),
        404 if phase == Phase::Submit => ProviderError::Unsupported(message),
        404 | 408 | 500..=599 => ProviderError::Unavailable(message),
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_ms: retry_after_ms(&response.headers),
        }),
        _ => ProviderError::InvalidResponse(message),
    }
}

/// Formats `detail`: a string as it is, a list as `loc: msg` items such as
/// `body.voice: Input should be 'af_heart' or 'af_alloy'`.
fn describe_detail(detail: &Value) -> Option<String> {
    match detail {
        Value::String(text) => Some(sanitize(text, DETAIL_CHARS)).filter(|text| !text.is_empty()),
        Value::Array(items) => {
            let mut parts: Vec<String> = items
                .iter()
                .take(MAX_QUOTED_ITEMS)
                .map(describe_item)
                .collect();
            if items.len() > MAX_QUOTED_ITEMS {
                parts.push(format!("and {} more", items.len() - MAX_QUOTED_ITEMS));
            }
            Some(parts.join("; ")).filter(|text| !text.is_empty())
        }
        _ => None,
    }
}

fn describe_item(item: &Value) -> String {
    let location: Vec<String> = item
        .get("loc")
        .and_then(Value::as_array)
        .map(|loc| {
            loc.iter()
                .map(|part| match part {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let message = item
        .get("msg")
        .and_then(Value::as_str)
        .unwrap_or("invalid value");
    let kind = item.get("type").and_then(Value::as_str);

    let mut text = String::new();
    if !location.is_empty() {
        text.push_str(&location.join("."));
        text.push_str(": ");
    }
    text.push_str(message);
    if let Some(kind) = kind {
        text.push_str(&format!(" ({kind})"));
    }
    sanitize(&text, DETAIL_CHARS)
}

/// Describes a body that is not fal's error JSON.
pub fn describe_body(body: &[u8]) -> String {
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

    const APP: &str = "fal-ai/kokoro/american-english";

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
            _ => "other",
        }
    }

    fn message(error: &ProviderError) -> &str {
        match error {
            ProviderError::InvalidRequest(message)
            | ProviderError::Unauthorized(message)
            | ProviderError::QuotaExceeded(message)
            | ProviderError::Unavailable(message)
            | ProviderError::Unsupported(message)
            | ProviderError::InvalidResponse(message) => message,
            ProviderError::RateLimited(limit) => &limit.message,
            _ => "",
        }
    }

    #[test]
    fn validation_error_quotes_loc_and_msg() {
        let body = json!({"detail": [{
            "loc": ["body", "voice"],
            "msg": "Input should be 'af_heart' or 'af_alloy'",
            "type": "literal_error",
            "input": "zz",
        }]})
        .to_string();

        let error = classify(&response(422, &[], &body), Phase::Submit, APP);

        assert_eq!(
            error,
            ProviderError::InvalidRequest(
                "fal's fal-ai/kokoro/american-english app returned HTTP 422: body.voice: Input \
                 should be 'af_heart' or 'af_alloy' (literal_error)"
                    .to_string()
            )
        );
    }

    #[test]
    fn validation_error_lists_a_few_items() {
        let items: Vec<Value> = (0..5)
            .map(|index| json!({"loc": ["body", "field", index], "msg": "bad", "type": "t"}))
            .collect();
        let body = json!({ "detail": items }).to_string();

        let error = classify(&response(422, &[], &body), Phase::Job, APP);

        assert_eq!(
            message(&error),
            "fal's queue for fal-ai/kokoro/american-english returned HTTP 422: \
             body.field.0: bad (t); body.field.1: bad (t); body.field.2: bad (t); and 2 more"
        );
    }

    #[test]
    fn string_detail_is_quoted() {
        let body = r#"{"detail": "Unauthorized"}"#;

        let error = classify(&response(401, &[], body), Phase::Submit, APP);

        assert_eq!(kind(&error), "unauthorized");
        assert!(
            message(&error).ends_with("HTTP 401: Unauthorized"),
            "{error:?}"
        );
    }

    #[test]
    fn infrastructure_errors_are_unavailable() {
        // (status, body, header)
        let cases = [
            (
                504,
                r#"{"detail": "Request timed out", "error_type": "request_timeout"}"#,
                None,
            ),
            (
                503,
                r#"{"detail": "No runner", "error_type": "runner_scheduling_failure"}"#,
                None,
            ),
            (
                500,
                r#"{"detail": "Runner went away"}"#,
                Some("runner_disconnected"),
            ),
            (
                422,
                r#"{"detail": "x", "error_type": "startup_timeout"}"#,
                None,
            ),
        ];

        for (status, body, header) in cases {
            let headers: Vec<(&str, &str)> = header
                .map(|code| ("x-fal-error-type", code))
                .into_iter()
                .collect();

            let error = classify(&response(status, &headers, body), Phase::Job, APP);

            assert_eq!(kind(&error), "unavailable", "{status} {body}");
            assert!(
                message(&error).contains(&format!("HTTP {status} (")),
                "{error:?}"
            );
        }
    }

    #[test]
    fn statuses_map_to_kinds() {
        // (status, phase, kind)
        let cases = [
            (400, Phase::Submit, "invalid-request"),
            (422, Phase::Job, "invalid-request"),
            (401, Phase::Job, "unauthorized"),
            (403, Phase::Submit, "unauthorized"),
            (402, Phase::Submit, "quota-exceeded"),
            (404, Phase::Submit, "unsupported"),
            (404, Phase::Job, "unavailable"),
            (408, Phase::Submit, "unavailable"),
            (429, Phase::Submit, "rate-limited"),
            (500, Phase::Submit, "unavailable"),
            (502, Phase::Job, "unavailable"),
            (503, Phase::Submit, "unavailable"),
            (200, Phase::Submit, "invalid-response"),
            (302, Phase::Job, "invalid-response"),
            (418, Phase::Submit, "invalid-response"),
        ];

        for (status, phase, expected) in cases {
            let error = classify(&response(status, &[], "{}"), phase, APP);

            assert_eq!(kind(&error), expected, "{status} {phase:?}");
        }
    }

    #[test]
    fn rate_limit_carries_delay() {
        let error = classify(
            &response(
                429,
                &[("retry-after", "3")],
                r#"{"detail": "Too many requests"}"#,
            ),
            Phase::Submit,
            APP,
        );

        let ProviderError::RateLimited(limit) = error else {
            panic!("expected rate-limited, got {error:?}");
        };
        assert_eq!(limit.retry_after_ms, Some(3000));
        assert!(
            limit.message.ends_with("Too many requests"),
            "{}",
            limit.message
        );
    }

    #[test]
    fn non_json_body_is_excerpted() {
        let page = format!(
            "<html>\r\n<title>502 Bad Gateway</title>{}</html>",
            "x".repeat(500)
        );

        let error = classify(&response(502, &[], &page), Phase::Submit, APP);

        let text = message(&error);
        assert!(
            text.contains("the body starts with \"<html>  <title>502"),
            "{text}"
        );
        assert!(!text.contains(['\r', '\n']), "{text}");
        assert!(text.chars().count() < 300, "{text}");
    }

    #[test]
    fn empty_body_is_named() {
        let error = classify(&response(503, &[], ""), Phase::Submit, APP);

        assert!(
            message(&error).ends_with("HTTP 503: the body is empty"),
            "{error:?}"
        );
    }

    #[test]
    fn long_detail_is_bounded() {
        let body = json!({"detail": format!("a\nb{}", "y".repeat(5000))}).to_string();

        let error = classify(&response(500, &[], &body), Phase::Submit, APP);

        let text = message(&error);
        assert!(text.contains("a b"), "{text}");
        assert!(text.chars().count() < 400, "{}", text.chars().count());
    }

    #[test]
    fn header_values_are_not_echoed() {
        let headers = [("set-cookie", "session=secret"), ("retry-after", "1")];

        for status in [401, 429, 500] {
            let error = classify(&response(status, &headers, "oops"), Phase::Submit, APP);

            assert!(!format!("{error:?}").contains("secret"), "{status}");
        }
    }
}
