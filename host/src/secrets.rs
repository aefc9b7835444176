//! Operator secrets (provider API keys) and where they come from.
//!
//! A secret's value lives only in a [`Secret`], whose `Debug` and `Display` print a
//! placeholder, so a value cannot reach a log line or an error message by accident. Plugins
//! never see values: they name a secret, and the upstream client fills it in.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::SecretSource;

/// A secret value that never prints itself.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for the one place that writes it into an upstream request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a secret has no value.
#[derive(Debug, Clone)]
pub enum MissingSecret {
    /// The environment variable is unset or empty.
    EnvUnset(String),
    /// The plugin names no environment variable and the operator configured no source.
    NoSource,
    /// The file could not be read.
    FileUnreadable { path: String, reason: String },
}

impl fmt::Display for MissingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissingSecret::EnvUnset(var) => write!(f, "environment variable {var} is not set"),
            MissingSecret::NoSource => {
                f.write_str("no source is configured; set `env` or `file` for it in the configuration")
            }
            MissingSecret::FileUnreadable { path, reason } => {
                write!(f, "file {path} could not be read: {reason}")
            }
        }
    }
}

/// The secrets of one provider, resolved once when its plugin loads.
#[derive(Debug, Clone, Default)]
pub struct SecretStore {
    values: BTreeMap<String, Secret>,
    missing: BTreeMap<String, MissingSecret>,
}

impl SecretStore {
    /// Resolves each secret the plugin declares, from the operator's source for it or else
    /// from the environment variable the plugin suggests.
    pub fn resolve<'a>(
        declared: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
        configured: &BTreeMap<String, SecretSource>,
    ) -> Self {
        let mut store = SecretStore::default();
        for (name, default_env) in declared {
            let result = match configured.get(name) {
                Some(source) => read_source(source),
                None => match default_env {
                    Some(var) => read_env(var),
                    None => Err(MissingSecret::NoSource),
                },
            };
            match result {
                Ok(secret) => {
                    store.values.insert(name.to_string(), secret);
                }
                Err(missing) => {
                    store.missing.insert(name.to_string(), missing);
                }
            }
        }
        store
    }

    pub fn get(&self, name: &str) -> Result<&Secret, SecretLookupError> {
        if let Some(secret) = self.values.get(name) {
            return Ok(secret);
        }
        match self.missing.get(name) {
            Some(missing) => Err(SecretLookupError::Missing(name.to_string(), missing.clone())),
            None => Err(SecretLookupError::Undeclared(name.to_string())),
        }
    }

    /// Secrets that have no value, with the reason.
    pub fn missing(&self) -> impl Iterator<Item = (&str, &MissingSecret)> {
        self.missing.iter().map(|(name, why)| (name.as_str(), why))
    }

    /// Every value, so that error text from upstream can be scrubbed of them.
    pub fn values(&self) -> impl Iterator<Item = &Secret> {
        self.values.values()
    }
}

/// A secret that a request refers to and the host cannot supply.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretLookupError {
    #[error("secret `{0}` has no value: {1}")]
    Missing(String, MissingSecret),
    #[error("secret `{0}` is not declared by the plugin")]
    Undeclared(String),
}

fn read_source(source: &SecretSource) -> Result<Secret, MissingSecret> {
    if let Some(var) = &source.env {
        return read_env(var);
    }
    let Some(path) = &source.file else {
        return Err(MissingSecret::NoSource);
    };
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim_end().is_empty() => Ok(Secret::new(text.trim_end().to_string())),
        Ok(_) => Err(MissingSecret::FileUnreadable {
            path: path.display().to_string(),
            reason: "the file is empty".to_string(),
        }),
        Err(error) => Err(MissingSecret::FileUnreadable {
            path: path.display().to_string(),
            reason: error.kind().to_string(),
        }),
    }
}

fn read_env(var: &str) -> Result<Secret, MissingSecret> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
        _ => Err(MissingSecret::EnvUnset(var.to_string())),
    }
}

/// Replaces every occurrence of a secret value in `text` with `<redacted>`. Upstream error
/// bodies are quoted in messages, and a provider may echo the key it was sent.
pub fn scrub<'a>(text: &str, secrets: impl IntoIterator<Item = &'a Secret>) -> String {
    let mut scrubbed = text.to_string();
    for secret in secrets {
        // Short values would redact ordinary words; no real API key is this short.
        if secret.expose().len() >= 8 {
            scrubbed = scrubbed.replace(secret.expose(), "<redacted>");
        }
    }
    scrubbed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_value() {
        let secret = Secret::new("sk-very-secret".to_string());
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let secret = Secret::new("sk-very-secret".to_string());
        let text = scrub("bad key sk-very-secret (sk-very-secret)", [&secret]);
        assert_eq!(text, "bad key <redacted> (<redacted>)");
    }

    #[test]
    fn unset_env_is_reported_by_name() {
        let store = SecretStore::resolve(
            [("api-key", Some("VOXGATE_TEST_SURELY_UNSET_VARIABLE"))],
            &BTreeMap::new(),
        );
        let error = store.get("api-key").unwrap_err().to_string();
        assert!(error.contains("VOXGATE_TEST_SURELY_UNSET_VARIABLE"), "{error}");
    }

    #[test]
    fn file_source_trims_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "sk-from-file\n").unwrap();
        let configured = BTreeMap::from([(
            "api-key".to_string(),
            SecretSource { env: None, file: Some(path) },
        )]);
        let store = SecretStore::resolve([("api-key", None)], &configured);
        assert_eq!(store.get("api-key").unwrap().expose(), "sk-from-file");
    }
}
