//! Turning an HTTP error response into a [`ProviderError`] the host can act on.

use crate::{HttpResponse, ProviderError, RateLimit};

/// Maximum characters of a response body that [`body_excerpt`] keeps for a message.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// Maps an HTTP status to the [`ProviderError`] kind that most APIs mean by it, with
/// `message` as the error's text.
///
/// | status | error |
/// | --- | --- |
/// | 400, 404, 422 | `invalid-request` |
/// | 401, 403 | `unauthorized` |
/// | 402 | `quota-exceeded` |
/// | 408, 409 | `unavailable`: a timeout or a conflict that a retry may clear |
/// | 429 | `rate-limited`, with the delay from [`retry_after_ms`] |
/// | 500–599 | `unavailable` |
/// | anything else, 2xx included | `invalid-response` |
///
/// A plugin whose provider gives a status another meaning (OpenAI's 404 for an unknown
/// model, a 429 that means an exhausted quota) handles that status first and calls this for
/// the rest.
pub fn error_for_status(response: &HttpResponse, message: impl Into<String>) -> ProviderError {
    let message = message.into();

    match response.status {
        400 | 404 | 422 => ProviderError::InvalidRequest(message),
        401 | 403 => ProviderError::Unauthorized(message),
        402 => ProviderError::QuotaExceeded(message),
        408 | 409 => ProviderError::Unavailable(message),
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_ms: retry_after_ms(&response.headers),
        }),
        500..=599 => ProviderError::Unavailable(message),
        _ => ProviderError::InvalidResponse(message),
    }
}

/// Reads how long the provider asked the caller to wait, in milliseconds.
///
/// `retry-after-ms` (milliseconds, as OpenAI sends it) wins over `retry-after` (seconds).
/// Both may be fractional, and the delay is rounded up so a retry never comes early. A
/// `retry-after-ms` of zero is ignored, as OpenAI's own clients do. A `retry-after` that is
/// an HTTP date is treated as absent, because a plugin has no clock to subtract it from.
pub fn retry_after_ms(headers: &[(String, String)]) -> Option<u64> {
    let from_milliseconds = response_header(headers, "retry-after-ms")
        .and_then(|value| parse_decimal_scaled(value, 0))
        .filter(|&ms| ms > 0);
    if from_milliseconds.is_some() {
        return from_milliseconds;
    }

    response_header(headers, "retry-after").and_then(|value| parse_decimal_scaled(value, 3))
}

/// Returns the first value of the response header `name`, compared case-insensitively.
pub fn response_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(header, _)| header.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Returns the start of a response body for an error message: at most
/// [`BODY_EXCERPT_CHARS`] characters, decoded as UTF-8 with invalid bytes replaced, and
/// cleaned by [`sanitize`].
pub fn body_excerpt(body: &[u8]) -> String {
    // A UTF-8 character is at most 4 bytes, so this many bytes hold one character more than
    // the excerpt keeps (enough for `sanitize` to see that the body goes on), and a large
    // body is never decoded in full.
    let head = &body[..body.len().min((BODY_EXCERPT_CHARS + 1) * 4)];
    let text = String::from_utf8_lossy(head);

    sanitize(&text, BODY_EXCERPT_CHARS)
}

/// Makes provider text safe to put in a one-line message: line breaks and tabs become
/// spaces, other control characters are dropped, surrounding whitespace is trimmed, and text
/// beyond `max_chars` characters is cut and marked with `…`.
pub fn sanitize(text: &str, max_chars: usize) -> String {
    let mut cleaned = String::new();
    let mut kept = 0;
    let mut cut = false;

    for c in text.trim().chars() {
        if kept == max_chars {
            cut = true;
            break;
        }
        if c.is_whitespace() {
            cleaned.push(' ');
        } else if c.is_control() {
            continue;
        } else {
            cleaned.push(c);
        }
        kept += 1;
    }

    let mut cleaned = cleaned.trim_end().to_string();
    if cut {
        cleaned.push('…');
    }
    cleaned
}

/// Parses a non-negative decimal such as `2` or `1.25` and returns it multiplied by
/// `10^scale`, rounded up. Signs, exponents, `inf` and `NaN` are rejected. A value too large
/// for `u64` saturates.
fn parse_decimal_scaled(text: &str, scale: u32) -> Option<u64> {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };

    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }

    let mut value: u64 = 0;
    for digit in whole.bytes() {
        value = value
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'));
    }

    let mut fraction_digits = fraction.bytes();
    for _ in 0..scale {
        let digit = fraction_digits.next().map_or(0, |digit| digit - b'0');
        value = value.saturating_mul(10).saturating_add(u64::from(digit));
    }

    let remainder = fraction_digits.any(|digit| digit != b'0');
    if remainder {
        value = value.saturating_add(1);
    }

    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Headers = &'static [(&'static str, &'static str)];

    fn response(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: Vec::new(),
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
    fn error_for_status_maps_each_status() {
        let cases = [
            (400, "invalid-request"),
            (404, "invalid-request"),
            (422, "invalid-request"),
            (401, "unauthorized"),
            (403, "unauthorized"),
            (402, "quota-exceeded"),
            (429, "rate-limited"),
            (500, "unavailable"),
            (502, "unavailable"),
            (503, "unavailable"),
            (599, "unavailable"),
            (200, "invalid-response"),
            (204, "invalid-response"),
            (302, "invalid-response"),
            (408, "unavailable"),
            (409, "unavailable"),
            (418, "invalid-response"),
            (600, "invalid-response"),
            (100, "invalid-response"),
        ];

        for (status, expected) in cases {
            let error = error_for_status(&response(status, &[]), "boom");

            assert_eq!(kind(&error), expected, "status {status}");
        }
    }

    #[test]
    fn error_for_status_keeps_message() {
        let error = error_for_status(&response(503, &[]), "upstream down");

        assert_eq!(
            error,
            ProviderError::Unavailable("upstream down".to_string())
        );
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let error = error_for_status(&response(429, &[("Retry-After", "2")]), "slow down");

        assert_eq!(
            error,
            ProviderError::RateLimited(RateLimit {
                message: "slow down".to_string(),
                retry_after_ms: Some(2000),
            })
        );
    }

    #[test]
    fn retry_after_ms_reads_headers() {
        // (headers, expected delay in ms)
        let cases: [(Headers, Option<u64>); 14] = [
            (&[], None),
            (&[("retry-after", "3")], Some(3000)),
            (&[("retry-after", " 3 ")], Some(3000)),
            (&[("retry-after", "1.5")], Some(1500)),
            (&[("retry-after", "0.0001")], Some(1)),
            (&[("retry-after", "0")], Some(0)),
            (&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], None),
            (&[("retry-after", "-1")], None),
            (&[("retry-after", "1e3")], None),
            (&[("retry-after", "inf")], None),
            (
                &[("retry-after-ms", "250"), ("retry-after", "9")],
                Some(250),
            ),
            (&[("retry-after-ms", "12.2")], Some(13)),
            (&[("retry-after-ms", "0"), ("retry-after", "4")], Some(4000)),
            (
                &[("retry-after-ms", "soon"), ("retry-after", "4")],
                Some(4000),
            ),
        ];

        for (headers, expected) in cases {
            let response = response(429, headers);

            assert_eq!(retry_after_ms(&response.headers), expected, "{headers:?}");
        }
    }

    #[test]
    fn retry_after_saturates() {
        let response = response(429, &[("retry-after", "99999999999999999999999")]);

        assert_eq!(retry_after_ms(&response.headers), Some(u64::MAX));
    }

    #[test]
    fn decimal_rejects_malformed_numbers() {
        for text in ["", ".", "1.", ".5", "1.2.3", "+1", "0x10", "NaN", "1 2"] {
            assert_eq!(parse_decimal_scaled(text, 3), None, "{text:?}");
        }
    }

    #[test]
    fn response_header_ignores_case() {
        let response = response(
            200,
            &[("Content-Type", "audio/mpeg"), ("content-type", "x")],
        );

        assert_eq!(
            response_header(&response.headers, "content-type"),
            Some("audio/mpeg")
        );
        assert_eq!(response_header(&response.headers, "x-missing"), None);
    }

    #[test]
    fn excerpt_strips_control_characters() {
        let excerpt = body_excerpt(b"  <html>\r\n<body>\x1b[31mBad\tGateway\x07</body>  \n");

        assert_eq!(excerpt, "<html>  <body>[31mBad Gateway</body>");
    }

    #[test]
    fn excerpt_is_bounded() {
        let body = "é".repeat(1000);

        let excerpt = body_excerpt(body.as_bytes());

        assert_eq!(excerpt.chars().count(), BODY_EXCERPT_CHARS + 1);
        assert!(excerpt.ends_with('…'));
    }

    #[test]
    fn excerpt_tolerates_invalid_utf8() {
        let excerpt = body_excerpt(&[0x66, 0x6f, 0xff, 0x6f]);

        assert_eq!(excerpt, "fo\u{fffd}o");
    }

    #[test]
    fn sanitize_keeps_short_text() {
        assert_eq!(sanitize("short", 10), "short");
        assert_eq!(sanitize("exactly10!", 10), "exactly10!");
        assert_eq!(sanitize("eleven chars", 10), "eleven cha…");
        assert_eq!(sanitize("", 10), "");
    }
}
