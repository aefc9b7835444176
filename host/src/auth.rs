//! Client authentication: which configured key a request carries, and what that key may do.

use std::sync::Arc;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::config::{ClientKeyConfig, Config};

/// The sender of a request.
#[derive(Debug, Clone)]
pub enum Client {
    /// No client keys are configured: everyone is let in, under this name in usage records.
    Open,
    Key(Arc<ClientKeyConfig>),
}

impl Client {
    /// The name used in logs, metrics and usage. Never the key.
    pub fn name(&self) -> &str {
        match self {
            Client::Open => "anonymous",
            Client::Key(key) => &key.name,
        }
    }

    pub fn may_use_provider(&self, provider: &str) -> bool {
        match self {
            Client::Open => true,
            Client::Key(key) => key.providers.as_ref().is_none_or(|providers| providers.iter().any(|p| p == provider)),
        }
    }

    /// Whether the key may name this route or tier as its model. Plain model ids are
    /// governed by the provider list instead.
    pub fn may_use_route(&self, route: &str) -> bool {
        match self {
            Client::Open => true,
            Client::Key(key) => key.routes.as_ref().is_none_or(|routes| routes.iter().any(|r| r == route)),
        }
    }
}

/// A reason a request was rejected.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("missing API key; send it as `Authorization: Bearer KEY` (OpenAI API) or `xi-api-key: KEY` (ElevenLabs API)")]
    Missing,
    #[error("invalid API key")]
    Invalid,
    #[error("admin routes need the admin key as `Authorization: Bearer KEY`")]
    AdminRequired,
    #[error("admin routes are disabled: set [admin] key_sha256 in the configuration")]
    AdminDisabled,
}

/// The configured keys, as digests.
pub struct Authenticator {
    keys: Vec<(Vec<u8>, Arc<ClientKeyConfig>)>,
    admin: Option<Vec<u8>>,
    /// Open mode: no client keys and a loopback listener.
    open: bool,
}

impl Authenticator {
    pub fn new(config: &Config) -> Self {
        let keys = config
            .keys
            .iter()
            .filter_map(|key| Some((hex::decode(&key.key_sha256).ok()?, Arc::new(key.clone()))))
            .collect::<Vec<_>>();
        let admin = config.admin.key_sha256.as_deref().and_then(|digest| hex::decode(digest).ok());
        let open = keys.is_empty();
        Self { keys, admin, open }
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Finds the client key a request carries.
    pub fn client(&self, headers: &HeaderMap) -> Result<Client, AuthError> {
        if self.open {
            return Ok(Client::Open);
        }
        let presented = presented_key(headers).ok_or(AuthError::Missing)?;
        let digest = Sha256::digest(presented.as_bytes());
        // Compare against every key, in constant time per key, so timing does not reveal
        // how much of a digest matched.
        let mut found = None;
        for (expected, key) in &self.keys {
            if constant_time_eq(expected, &digest) {
                found = Some(key.clone());
            }
        }
        found.map(Client::Key).ok_or(AuthError::Invalid)
    }

    /// Checks the admin key. Without one configured, admin routes are open only in open mode.
    pub fn admin(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let Some(expected) = &self.admin else {
            return if self.open { Ok(()) } else { Err(AuthError::AdminDisabled) };
        };
        let presented = bearer(headers).ok_or(AuthError::AdminRequired)?;
        if constant_time_eq(expected, &Sha256::digest(presented.as_bytes())) {
            Ok(())
        } else {
            Err(AuthError::AdminRequired)
        }
    }
}

fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get("xi-api-key").and_then(|value| value.to_str().ok()) {
        return Some(value.trim().to_string());
    }
    bearer(headers)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// The hex SHA-256 of a key, as the configuration stores it.
pub fn digest_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(text).unwrap()
    }

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        headers
    }

    #[test]
    fn open_without_keys() {
        let auth = Authenticator::new(&config(""));
        assert!(matches!(auth.client(&HeaderMap::new()), Ok(Client::Open)));
        assert!(auth.admin(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn key_by_bearer_or_xi_header() {
        let text = format!("[[keys]]\nname = \"app\"\nkey_sha256 = \"{}\"\n", digest_key("secret-key"));
        let auth = Authenticator::new(&config(&text));
        let by_bearer = auth.client(&headers("authorization", "Bearer secret-key")).unwrap();
        assert_eq!(by_bearer.name(), "app");
        let by_xi = auth.client(&headers("xi-api-key", "secret-key")).unwrap();
        assert_eq!(by_xi.name(), "app");
        assert!(matches!(auth.client(&headers("authorization", "Bearer wrong")), Err(AuthError::Invalid)));
        assert!(matches!(auth.client(&HeaderMap::new()), Err(AuthError::Missing)));
        assert!(matches!(auth.admin(&HeaderMap::new()), Err(AuthError::AdminDisabled)));
    }

    #[test]
    fn admin_key_checked() {
        let text = format!("[admin]\nkey_sha256 = \"{}\"\n", digest_key("admin-key"));
        let auth = Authenticator::new(&config(&text));
        assert!(auth.admin(&headers("authorization", "Bearer admin-key")).is_ok());
        assert!(auth.admin(&headers("authorization", "Bearer nope")).is_err());
    }

    #[test]
    fn key_policy() {
        let key = ClientKeyConfig {
            name: "k".into(),
            key_sha256: String::new(),
            providers: Some(vec!["openai".into()]),
            routes: Some(vec!["premium".into()]),
            requests_per_minute: None,
            monthly_budget_usd: None,
        };
        let client = Client::Key(Arc::new(key));
        assert!(client.may_use_provider("openai"));
        assert!(!client.may_use_provider("elevenlabs"));
        assert!(client.may_use_route("premium"));
        assert!(!client.may_use_route("fast"));
    }
}
