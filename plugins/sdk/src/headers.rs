//! Request headers with literal values or references to operator secrets.

use crate::{HeaderValue, RequestHeader, SecretRef};

/// Builds a header with a literal value.
pub fn header(name: &str, value: &str) -> RequestHeader {
    RequestHeader {
        name: name.to_string(),
        value: HeaderValue::Text(value.to_string()),
    }
}

/// Builds a header whose value the host fills in from an operator secret.
pub fn secret_header(name: &str, secret: SecretRef) -> RequestHeader {
    RequestHeader {
        name: name.to_string(),
        value: HeaderValue::Secret(secret),
    }
}

/// Refers to the secret `name`, sent as it is with nothing around it.
pub fn secret(name: &str) -> SecretRef {
    SecretRef {
        name: name.to_string(),
        prefix: String::new(),
        suffix: String::new(),
    }
}

/// Refers to the secret `name` as an RFC 6750 bearer token: `Bearer <secret>`.
pub fn bearer(name: &str) -> SecretRef {
    SecretRef {
        prefix: "Bearer ".to_string(),
        ..secret(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_literal() {
        let built = header("content-type", "application/json");

        assert_eq!(built.name, "content-type");
        assert_eq!(
            built.value,
            HeaderValue::Text("application/json".to_string())
        );
    }

    #[test]
    fn bearer_prefixes_secret() {
        let reference = bearer("api-key");

        assert_eq!(reference.name, "api-key");
        assert_eq!(reference.prefix, "Bearer ");
        assert_eq!(reference.suffix, "");
    }

    #[test]
    fn secret_header_carries_reference() {
        let built = secret_header("xi-api-key", secret("api-key"));

        assert_eq!(built.name, "xi-api-key");
        assert_eq!(
            built.value,
            HeaderValue::Secret(SecretRef {
                name: "api-key".to_string(),
                prefix: String::new(),
                suffix: String::new(),
            })
        );
    }
}
