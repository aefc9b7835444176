//! The `cf-aig-*` request headers that the operator configures as settings when a provider is
//! routed through Cloudflare AI Gateway.
//!
//! A plugin routes through AI Gateway when the operator points its `base-url` at
//! `https://gateway.ai.cloudflare.com/v1/{account_id}/{gateway_id}/{provider}` (see
//! [`BaseUrl::ai_gateway_path`]). The settings
//! below then add AI Gateway's own headers to every request (the header semantics are from
//! Cloudflare's AI Gateway docs, `ai-gateway/configuration/caching.mdx`,
//! `observability/custom-metadata.mdx` and `configuration/authentication.mdx`):
//!
//! | setting | header | value |
//! | --- | --- | --- |
//! | `aig-cache-ttl` | `cf-aig-cache-ttl` | seconds, 60 to 2 592 000 |
//! | `aig-skip-cache` | `cf-aig-skip-cache` | `true` sends the header, `false` (the default) sends none |
//! | `aig-metadata` | `cf-aig-metadata` | a JSON object of at most 5 string, number or boolean values |
//! | `aig-authenticated` | `cf-aig-authorization` | `true` sends `Bearer <aig-token>` |
//!
//! The gateway token is the secret `aig-token` (usually from `CF_AIG_TOKEN`), referred to by
//! name like every other secret. A plugin cannot tell whether a secret has a value, and the
//! host rejects a request that refers to a secret without one. The token is therefore sent
//! only when the operator sets `aig-authenticated = "true"`, and only then does the plugin
//! declare the secret.

use serde_json::Value;

use crate::{
    BaseUrl, RequestHeader, SecretInfo, Setting, SettingInfo, SettingsError, bearer, header,
    secret_header, setting,
};

/// The setting whose value becomes `cf-aig-cache-ttl`.
pub const AIG_CACHE_TTL: &str = "aig-cache-ttl";
/// The setting that sends `cf-aig-skip-cache: true`.
pub const AIG_SKIP_CACHE: &str = "aig-skip-cache";
/// The setting whose JSON object becomes `cf-aig-metadata`.
pub const AIG_METADATA: &str = "aig-metadata";
/// The setting that sends `cf-aig-authorization` with the `aig-token` secret.
pub const AIG_AUTHENTICATED: &str = "aig-authenticated";
/// The secret that contains the AI Gateway token.
pub const AIG_TOKEN: &str = "aig-token";
/// The environment variable the host reads `aig-token` from unless the operator names another
/// source.
pub const AIG_TOKEN_ENV: &str = "CF_AIG_TOKEN";

/// AI Gateway's shortest cache TTL, in seconds.
const MIN_CACHE_TTL_S: u64 = 60;
/// AI Gateway's longest cache TTL, "one month", in seconds.
///
/// NOTE: Cloudflare states the maximum as one month without a number of seconds; 30 days is
/// assumed here.
const MAX_CACHE_TTL_S: u64 = 30 * 24 * 60 * 60;
/// AI Gateway keeps at most this many metadata entries and silently drops the rest, so more are
/// rejected here, where the operator can see it.
const MAX_METADATA_ENTRIES: usize = 5;

/// The `cf-aig-*` headers the operator configured, checked once per call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AiGatewayHeaders {
    cache_ttl: Option<u64>,
    skip_cache: bool,
    metadata: Option<String>,
    authenticated: bool,
}

impl AiGatewayHeaders {
    /// Reads the `aig-*` settings for a plugin whose requests go to `base_url`.
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] naming the setting when:
    ///
    /// - `aig-cache-ttl` is not a whole number of seconds from 60 to 2 592 000;
    /// - `aig-skip-cache` or `aig-authenticated` is not `true` or `false`;
    /// - `aig-metadata` is not a JSON object of at most 5 string, number or boolean values;
    /// - `aig-authenticated` is `true` while `base_url` is not an AI Gateway URL, because the
    ///   gateway token would then go to the provider itself.
    pub fn from_settings(settings: &[Setting], base_url: &BaseUrl) -> Result<Self, SettingsError> {
        let cache_ttl = setting(settings, AIG_CACHE_TTL)
            .map(parse_cache_ttl)
            .transpose()?;
        let skip_cache = parse_bool(settings, AIG_SKIP_CACHE)?;
        let metadata = setting(settings, AIG_METADATA)
            .map(parse_metadata)
            .transpose()?;
        let authenticated = parse_bool(settings, AIG_AUTHENTICATED)?;

        if authenticated && base_url.ai_gateway_path().is_none() {
            return Err(invalid(
                AIG_AUTHENTICATED,
                "is true, but base-url is not an AI Gateway URL such as \
                 https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/PROVIDER; the gateway token \
                 would go to the provider, so point base-url at the gateway or set it to false"
                    .to_string(),
            ));
        }

        Ok(AiGatewayHeaders {
            cache_ttl,
            skip_cache,
            metadata,
            authenticated,
        })
    }

    /// Appends the configured `cf-aig-*` headers to `headers`, in a fixed order.
    pub fn append_to(&self, headers: &mut Vec<RequestHeader>) {
        if self.authenticated {
            headers.push(secret_header("cf-aig-authorization", bearer(AIG_TOKEN)));
        }
        if let Some(ttl) = self.cache_ttl {
            headers.push(header("cf-aig-cache-ttl", &ttl.to_string()));
        }
        if self.skip_cache {
            headers.push(header("cf-aig-skip-cache", "true"));
        }
        if let Some(metadata) = &self.metadata {
            headers.push(header("cf-aig-metadata", metadata));
        }
    }

    /// Returns the secrets these headers refer to: `aig-token` when `aig-authenticated` is
    /// true, and none otherwise, so that a provider used without AI Gateway lists no secret
    /// it never needs.
    pub fn secret_infos(&self) -> Vec<SecretInfo> {
        if !self.authenticated {
            return Vec::new();
        }

        vec![SecretInfo {
            name: AIG_TOKEN.to_string(),
            description: "Cloudflare AI Gateway token for an authenticated gateway, sent as \
                          `cf-aig-authorization: Bearer <token>` when aig-authenticated is true"
                .to_string(),
            env: Some(AIG_TOKEN_ENV.to_string()),
            required: false,
        }]
    }

    /// Lists the `aig-*` settings, for `provider-info.settings`.
    pub fn setting_infos() -> Vec<SettingInfo> {
        let info = |name: &str, description: &str, default: Option<&str>| SettingInfo {
            name: name.to_string(),
            description: description.to_string(),
            default: default.map(str::to_string),
        };

        vec![
            info(
                AIG_CACHE_TTL,
                "Cloudflare AI Gateway cache lifetime in seconds (60 to 2592000), sent as \
                 cf-aig-cache-ttl. Unset sends no header.",
                None,
            ),
            info(
                AIG_SKIP_CACHE,
                "true sends cf-aig-skip-cache: true, so AI Gateway bypasses its cache.",
                Some("false"),
            ),
            info(
                AIG_METADATA,
                "A JSON object of at most 5 string, number or boolean values, sent as \
                 cf-aig-metadata for AI Gateway's logs. Unset sends no header.",
                None,
            ),
            info(
                AIG_AUTHENTICATED,
                "true when the AI Gateway is authenticated: requests then carry \
                 cf-aig-authorization: Bearer <aig-token>. Needs base-url on the gateway.",
                Some("false"),
            ),
        ]
    }
}

fn invalid(name: &str, message: String) -> SettingsError {
    SettingsError {
        name: name.to_string(),
        message,
    }
}

fn parse_cache_ttl(value: &str) -> Result<u64, SettingsError> {
    let text = value.trim();
    let seconds = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>().ok()
    } else {
        None
    };

    match seconds {
        Some(seconds) if (MIN_CACHE_TTL_S..=MAX_CACHE_TTL_S).contains(&seconds) => Ok(seconds),
        _ => Err(invalid(
            AIG_CACHE_TTL,
            format!(
                "expected a whole number of seconds from {MIN_CACHE_TTL_S} to {MAX_CACHE_TTL_S}, \
                 the range AI Gateway accepts"
            ),
        )),
    }
}

fn parse_bool(settings: &[Setting], name: &str) -> Result<bool, SettingsError> {
    match setting(settings, name).map(str::trim) {
        None => Ok(false),
        Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(invalid(name, "expected true or false".to_string())),
    }
}

/// Checks `aig-metadata` and returns it as compact JSON that is safe in a header value.
fn parse_metadata(value: &str) -> Result<String, SettingsError> {
    let object = match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            return Err(invalid(
                AIG_METADATA,
                "expected a JSON object, such as {\"team\": \"voice\"}".to_string(),
            ));
        }
        Err(error) => {
            // serde_json's message gives the line and column, never the text itself.
            return Err(invalid(
                AIG_METADATA,
                format!("the value is not valid JSON ({error}); expected a JSON object"),
            ));
        }
    };

    if object.len() > MAX_METADATA_ENTRIES {
        return Err(invalid(
            AIG_METADATA,
            format!(
                "has {} entries, AI Gateway keeps at most {MAX_METADATA_ENTRIES} and drops the rest",
                object.len()
            ),
        ));
    }
    let nested = object
        .iter()
        .find(|(_, item)| !matches!(item, Value::String(_) | Value::Number(_) | Value::Bool(_)));
    if let Some((key, _)) = nested {
        return Err(invalid(
            AIG_METADATA,
            format!(
                "the value of `{}` must be a string, number or boolean, as AI Gateway requires",
                key.chars()
                    .filter(|c| !c.is_control())
                    .take(40)
                    .collect::<String>()
            ),
        ));
    }

    let compact = serde_json::to_string(&Value::Object(object)).unwrap_or_default();
    Ok(ascii_json(&compact))
}

/// Escapes every character of serialised JSON outside printable ASCII as `\uXXXX`, so that
/// the JSON stays equal but fits in an HTTP header value. Such characters only occur inside
/// strings, where the escape means the same character.
fn ascii_json(json: &str) -> String {
    let mut escaped = String::with_capacity(json.len());
    for c in json.chars() {
        if (' '..='~').contains(&c) {
            escaped.push(c);
            continue;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            escaped.push_str(&format!("\\u{unit:04x}"));
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{HeaderValue, SecretRef};

    const GATEWAY: &str = "https://gateway.ai.cloudflare.com/v1/acc123/my-gw/workers-ai";

    fn settings(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(name, value)| Setting {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect()
    }

    fn base(url: &str) -> BaseUrl {
        BaseUrl::parse("base-url", url).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<RequestHeader> {
        let gateway = AiGatewayHeaders::from_settings(&settings(pairs), &base(GATEWAY)).unwrap();
        let mut headers = Vec::new();
        gateway.append_to(&mut headers);
        headers
    }

    fn error(pairs: &[(&str, &str)]) -> SettingsError {
        AiGatewayHeaders::from_settings(&settings(pairs), &base(GATEWAY)).unwrap_err()
    }

    fn text(value: &HeaderValue) -> &str {
        match value {
            HeaderValue::Text(text) => text,
            HeaderValue::Secret(_) => panic!("expected a literal header value"),
        }
    }

    #[test]
    fn no_settings_add_no_headers() {
        assert!(headers(&[]).is_empty());
        assert!(headers(&[(AIG_SKIP_CACHE, "false"), (AIG_AUTHENTICATED, "FALSE")]).is_empty());
    }

    #[test]
    fn every_setting_adds_its_header() {
        let headers = headers(&[
            (AIG_CACHE_TTL, "3600"),
            (AIG_SKIP_CACHE, "true"),
            (
                AIG_METADATA,
                r#"{"team": "voice", "build": 7, "beta": true}"#,
            ),
            (AIG_AUTHENTICATED, "True"),
        ]);

        let names: Vec<&str> = headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "cf-aig-authorization",
                "cf-aig-cache-ttl",
                "cf-aig-skip-cache",
                "cf-aig-metadata",
            ]
        );
        assert_eq!(
            headers[0].value,
            HeaderValue::Secret(SecretRef {
                name: "aig-token".to_string(),
                prefix: "Bearer ".to_string(),
                suffix: String::new(),
            })
        );
        assert_eq!(text(&headers[1].value), "3600");
        assert_eq!(text(&headers[2].value), "true");
        let metadata: Value = serde_json::from_str(text(&headers[3].value)).unwrap();
        assert_eq!(metadata, json!({"team": "voice", "build": 7, "beta": true}));
    }

    #[test]
    fn metadata_is_ascii_json() {
        let headers = headers(&[(AIG_METADATA, r#"{"café": "naïve 東京 👋", "tab": "a\tb"}"#)]);

        let value = text(&headers[0].value);
        assert!(value.chars().all(|c| (' '..='~').contains(&c)), "{value}");
        let metadata: Value = serde_json::from_str(value).unwrap();
        assert_eq!(metadata, json!({"café": "naïve 東京 👋", "tab": "a\tb"}));
    }

    #[test]
    fn cache_ttl_bounds() {
        for ttl in ["60", "2592000", " 120 "] {
            assert_eq!(headers(&[(AIG_CACHE_TTL, ttl)]).len(), 1, "{ttl}");
        }
        for ttl in [
            "59",
            "2592001",
            "-60",
            "1.5",
            "1e3",
            "an hour",
            "99999999999999999999999",
        ] {
            let error = error(&[(AIG_CACHE_TTL, ttl)]);

            assert_eq!(error.name, AIG_CACHE_TTL, "{ttl}");
            assert!(error.message.contains("60 to 2592000"), "{}", error.message);
        }
    }

    #[test]
    fn booleans_are_checked() {
        for name in [AIG_SKIP_CACHE, AIG_AUTHENTICATED] {
            let error = error(&[(name, "yes")]);

            assert_eq!(error.name, name);
            assert_eq!(error.message, "expected true or false");
        }
    }

    #[test]
    fn bad_metadata_names_the_setting() {
        // (value, a fragment the message must contain)
        let cases = [
            ("{team: voice}", "not valid JSON"),
            (r#"["team"]"#, "expected a JSON object"),
            ("42", "expected a JSON object"),
            (r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}"#, "has 6 entries"),
            (r#"{"nested": {"a": 1}}"#, "value of `nested`"),
            (r#"{"list": [1]}"#, "value of `list`"),
            (r#"{"none": null}"#, "value of `none`"),
        ];

        for (value, fragment) in cases {
            let error = error(&[(AIG_METADATA, value)]);

            assert_eq!(error.name, AIG_METADATA, "{value}");
            assert!(
                error.message.contains(fragment),
                "{value}: {}",
                error.message
            );
        }
    }

    #[test]
    fn bad_metadata_does_not_echo_value() {
        let error = error(&[(AIG_METADATA, r#"{"secret-ish": "hunter2""#)]);

        assert!(!error.message.contains("hunter2"), "{}", error.message);
    }

    #[test]
    fn token_needs_gateway_base_url() {
        let list = settings(&[(AIG_AUTHENTICATED, "true")]);

        let error =
            AiGatewayHeaders::from_settings(&list, &base("https://api.openai.com")).unwrap_err();

        assert_eq!(error.name, AIG_AUTHENTICATED);
        assert!(
            error.message.contains("not an AI Gateway URL"),
            "{}",
            error.message
        );
    }

    #[test]
    fn other_headers_work_without_gateway() {
        let list = settings(&[(AIG_CACHE_TTL, "600")]);

        let gateway =
            AiGatewayHeaders::from_settings(&list, &base("http://127.0.0.1:9000")).unwrap();

        let mut headers = Vec::new();
        gateway.append_to(&mut headers);
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn token_secret_is_declared_only_when_used() {
        let plain = AiGatewayHeaders::default();
        let authenticated = AiGatewayHeaders::from_settings(
            &settings(&[(AIG_AUTHENTICATED, "true")]),
            &base(GATEWAY),
        )
        .unwrap();

        assert!(plain.secret_infos().is_empty());
        let secrets = authenticated.secret_infos();
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets[0].name, "aig-token");
        assert_eq!(secrets[0].env.as_deref(), Some("CF_AIG_TOKEN"));
        assert!(!secrets[0].required);
    }

    #[test]
    fn settings_are_listed() {
        let names: Vec<String> = AiGatewayHeaders::setting_infos()
            .into_iter()
            .map(|info| info.name)
            .collect();

        assert_eq!(
            names,
            vec![
                "aig-cache-ttl",
                "aig-skip-cache",
                "aig-metadata",
                "aig-authenticated"
            ]
        );
    }
}
