//! Every documented ElevenLabs error, and the bodies it may send instead.

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

fn coded(code: &str, message: &str) -> String {
    json!({"detail": {"status": code, "message": message}}).to_string()
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

fn message(error: &ProviderError) -> String {
    match error {
        ProviderError::InvalidRequest(message)
        | ProviderError::Unauthorized(message)
        | ProviderError::QuotaExceeded(message)
        | ProviderError::Unavailable(message)
        | ProviderError::Unsupported(message)
        | ProviderError::InvalidResponse(message) => message.clone(),
        ProviderError::RateLimited(limit) => limit.message.clone(),
        ProviderError::Misconfigured(error) => error.message.clone(),
    }
}

#[test]
fn detail_status_decides_the_kind() {
    // (HTTP status, detail.status, kind)
    let cases = [
        (401, "invalid_api_key", "unauthorized"),
        (401, "missing_permissions", "unauthorized"),
        (401, "quota_exceeded", "quota-exceeded"),
        (400, "quota_exceeded", "quota-exceeded"),
        (400, "voice_not_found", "unsupported"),
        (404, "voice_not_found", "unsupported"),
        (400, "voice_does_not_exist", "unsupported"),
        (403, "only_for_creator+", "unsupported"),
        (400, "max_character_limit_exceeded", "invalid-request"),
        (401, "max_character_limit_exceeded", "invalid-request"),
        (429, "too_many_concurrent_requests", "rate-limited"),
        (429, "system_busy", "rate-limited"),
        (503, "system_busy", "rate-limited"),
        (400, "invalid_uid", "invalid-request"),
        (500, "internal_error", "unavailable"),
        (404, "model_not_found", "unsupported"),
    ];

    for (status, code, expected) in cases {
        let error = classify(&response(status, &[], &coded(code, "text")));

        assert_eq!(kind(&error), expected, "HTTP {status} {code}");
    }
}

#[test]
fn invalid_api_key_message_is_kept() {
    let error = classify(&response(
        401,
        &[],
        &coded("invalid_api_key", "Invalid API key"),
    ));

    assert_eq!(
        error,
        ProviderError::Unauthorized(
            "ElevenLabs returned HTTP 401 (invalid_api_key): Invalid API key".to_string()
        )
    );
}

#[test]
fn quota_error_with_extra_keys_is_read() {
    // Older quota errors carried the account's counts beside status and message.
    let body = json!({"detail": {
        "status": "quota_exceeded",
        "message": "This request exceeds your quota. You have 12 credits remaining.",
        "character_used": 9988,
        "character_limit": 10000,
    }})
    .to_string();

    let error = classify(&response(401, &[], &body));

    assert_eq!(kind(&error), "quota-exceeded");
    assert!(
        message(&error).contains("12 credits remaining"),
        "{error:?}"
    );
}

#[test]
fn rate_limit_carries_retry_after() {
    let body = coded(
        "too_many_concurrent_requests",
        "Too many concurrent requests for this model.",
    );

    let error = classify(&response(429, &[("retry-after", "3")], &body));

    assert_eq!(
        error,
        ProviderError::RateLimited(RateLimit {
            message: "ElevenLabs returned HTTP 429 (too_many_concurrent_requests): Too many \
                      concurrent requests for this model."
                .to_string(),
            retry_after_ms: Some(3000),
        })
    );
}

#[test]
fn rate_limit_without_delay() {
    let error = classify(&response(429, &[], &coded("system_busy", "Busy.")));

    let ProviderError::RateLimited(limit) = error else {
        panic!("expected rate-limited, got {error:?}");
    };
    assert_eq!(limit.retry_after_ms, None);
}

#[test]
fn validation_errors_quote_location_and_message() {
    let body = json!({"detail": [
        {"loc": ["body", "voice_settings", "stability"], "msg": "Input should be less than or equal to 1", "type": "less_than_equal"},
        {"loc": ["query", "output_format"], "msg": "Input should be 'mp3_22050_32' or 'pcm_8000'", "type": "enum"},
    ]})
    .to_string();

    let error = classify(&response(422, &[], &body));

    assert_eq!(
        error,
        ProviderError::InvalidRequest(
            "ElevenLabs rejected the request (HTTP 422): body.voice_settings.stability: Input \
             should be less than or equal to 1; query.output_format: Input should be \
             'mp3_22050_32' or 'pcm_8000'"
                .to_string()
        )
    );
}

#[test]
fn validation_errors_are_bounded() {
    let errors: Vec<_> = (0..10)
        .map(|index| json!({"loc": ["body", index], "msg": "x".repeat(1000), "type": "t"}))
        .collect();
    let body = json!({"detail": errors}).to_string();

    let error = classify(&response(422, &[], &body));

    let text = message(&error);
    assert_eq!(kind(&error), "invalid-request");
    assert!(text.contains("body.0: xxx"), "{text}");
    assert!(text.contains("body.2: "), "{text}");
    assert!(!text.contains("body.3: "), "{text}");
    assert!(text.ends_with("(and 7 more)"), "{text}");
    assert!(
        text.chars().count() < 1200,
        "{} characters",
        text.chars().count()
    );
}

#[test]
fn plain_text_detail_uses_status() {
    let body = json!({"detail": "Not Found"}).to_string();

    let error = classify(&response(404, &[], &body));

    assert_eq!(
        error,
        ProviderError::Unsupported("ElevenLabs returned HTTP 404: Not Found".to_string())
    );
}

#[test]
fn message_without_code_uses_status() {
    let body = json!({"detail": {"message": "Service temporarily unavailable."}}).to_string();

    let error = classify(&response(503, &[], &body));

    assert_eq!(
        error,
        ProviderError::Unavailable(
            "ElevenLabs returned HTTP 503: Service temporarily unavailable.".to_string()
        )
    );
}

#[test]
fn unparsable_bodies_use_status() {
    // (status, body, kind)
    let cases = [
        (500, "Internal Server Error", "unavailable"),
        (502, "<html><body>Bad Gateway</body></html>", "unavailable"),
        (503, "", "unavailable"),
        (504, "{\"detail\":", "unavailable"),
        (400, "oops", "invalid-request"),
        (401, "{}", "unauthorized"),
        (402, "{\"detail\": 5}", "quota-exceeded"),
        (403, "Forbidden", "unauthorized"),
        (404, "", "unsupported"),
        (408, "", "unavailable"),
        (409, "", "unavailable"),
        (422, "{\"error\": \"x\"}", "invalid-request"),
        (429, "Too Many Requests", "rate-limited"),
        (302, "", "invalid-response"),
        (418, "", "invalid-response"),
    ];

    for (status, body, expected) in cases {
        let error = classify(&response(status, &[], body));

        assert_eq!(kind(&error), expected, "HTTP {status} {body:?}");
    }
}

#[test]
fn unparsable_body_is_quoted_sanitized_and_bounded() {
    let page = format!(
        "<html>\r\n<title>502 Bad Gateway</title>\n\u{1b}[31m{}</html>",
        "y".repeat(500)
    );

    let error = classify(&response(502, &[], &page));

    let text = message(&error);
    assert!(
        text.starts_with(
            "ElevenLabs returned HTTP 502 without its JSON error body: the body starts with \
             \"<html>  <title>502 Bad Gateway</title> [31myyy"
        ),
        "{text}"
    );
    assert!(!text.contains(['\r', '\n', '\u{1b}']), "{text}");
    assert!(text.ends_with("…\""), "{text}");
    assert!(
        text.chars().count() < 300,
        "{} characters",
        text.chars().count()
    );
}

#[test]
fn empty_body_is_named() {
    let error = classify(&response(503, &[], ""));

    assert_eq!(
        error,
        ProviderError::Unavailable(
            "ElevenLabs returned HTTP 503 without its JSON error body: the body is empty"
                .to_string()
        )
    );
}

#[test]
fn success_without_audio_is_invalid_response() {
    let error = classify(&response(
        200,
        &[("content-type", "application/json")],
        "{\"a\":1}",
    ));

    assert_eq!(
        error,
        ProviderError::InvalidResponse(
            "ElevenLabs returned HTTP 200 without audio: the body starts with \"{\"a\":1}\""
                .to_string()
        )
    );
}

#[test]
fn provider_message_is_sanitized() {
    let long = format!("line one\nline two\u{7}{}", "z".repeat(2000));

    let error = classify(&response(500, &[], &coded("internal\nerror", &long)));

    let text = message(&error);
    assert!(
        text.contains("(internal error): line one line two"),
        "{text}"
    );
    assert!(!text.contains(['\n', '\u{7}']), "{text}");
    assert!(
        text.chars().count() < 400,
        "{} characters",
        text.chars().count()
    );
}

#[test]
fn header_values_are_not_echoed() {
    let headers = [
        ("retry-after", "3"),
        ("set-cookie", "session=secret-cookie"),
        ("x-trace-id", "secret-trace"),
    ];

    for status in [200, 401, 429, 500] {
        let error = classify(&response(status, &headers, "oops"));

        let text = format!("{error:?}");
        assert!(!text.contains("secret"), "status {status}: {text}");
    }
}
