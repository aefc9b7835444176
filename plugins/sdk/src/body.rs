//! JSON request bodies and the provider options that callers pass as a JSON object.

use serde_json::{Map, Value};

use crate::ProviderError;

/// Serialises `value` as a compact JSON request body.
pub fn json_body(value: &Value) -> Vec<u8> {
    // `to_vec` fails only for a map with non-string keys, which a `Value` cannot contain,
    // so the empty fallback never runs.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Parses `synthesis-request.options`, a JSON object or an empty string, and checks that
/// every key is one of `accepted`.
///
/// # Errors
///
/// Returns `invalid-request` when `options` is not a JSON object, or names a key that is not
/// in `accepted`. The message names the first such key in sorted order.
pub fn parse_options(
    options: &str,
    accepted: &[&str],
) -> Result<Map<String, Value>, ProviderError> {
    if options.trim().is_empty() {
        return Ok(Map::new());
    }

    let object = match serde_json::from_str::<Value>(options) {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            return Err(ProviderError::InvalidRequest(
                "provider options must be a JSON object".to_string(),
            ));
        }
        Err(error) => {
            return Err(ProviderError::InvalidRequest(format!(
                "provider options are not valid JSON: {error}"
            )));
        }
    };

    let unknown = object.keys().find(|key| !accepted.contains(&key.as_str()));
    if let Some(key) = unknown {
        let accepted = match accepted {
            [] => "none".to_string(),
            names => names
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        return Err(ProviderError::InvalidRequest(format!(
            "unknown provider option `{}`, accepted options: {accepted}",
            crate::sanitize(key, 64)
        )));
    }

    Ok(object)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_body_is_compact() {
        let body = json_body(&json!({"model": "tts-1", "speed": 1.5}));

        assert_eq!(body, br#"{"model":"tts-1","speed":1.5}"#);
    }

    #[test]
    fn empty_options_are_empty_map() {
        assert_eq!(parse_options("", &[]), Ok(Map::new()));
        assert_eq!(parse_options("  ", &["seed"]), Ok(Map::new()));
        assert_eq!(parse_options("{}", &[]), Ok(Map::new()));
    }

    #[test]
    fn accepted_options_are_returned() {
        let options = parse_options(r#"{"seed": 7}"#, &["seed", "style"]).unwrap();

        assert_eq!(options.get("seed"), Some(&json!(7)));
    }

    #[test]
    fn unknown_option_is_named() {
        let error = parse_options(r#"{"seed": 7, "bogus": true}"#, &["seed"]).unwrap_err();

        assert_eq!(
            error,
            ProviderError::InvalidRequest(
                "unknown provider option `bogus`, accepted options: `seed`".to_string()
            )
        );
    }

    #[test]
    fn unknown_option_without_accepted() {
        let error = parse_options(r#"{"voice_id": "x"}"#, &[]).unwrap_err();

        assert_eq!(
            error,
            ProviderError::InvalidRequest(
                "unknown provider option `voice_id`, accepted options: none".to_string()
            )
        );
    }

    #[test]
    fn non_object_options_are_rejected() {
        for options in ["[]", "3", "\"text\"", "null"] {
            let error = parse_options(options, &[]).unwrap_err();

            assert_eq!(
                error,
                ProviderError::InvalidRequest("provider options must be a JSON object".to_string()),
                "{options}"
            );
        }
    }

    #[test]
    fn malformed_options_are_rejected() {
        let error = parse_options("{seed: 7}", &[]).unwrap_err();

        let ProviderError::InvalidRequest(message) = error else {
            panic!("expected invalid-request, got {error:?}");
        };
        assert!(
            message.starts_with("provider options are not valid JSON"),
            "{message}"
        );
    }
}
