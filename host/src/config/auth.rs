//! Configuration of client keys and the admin key. Keys are stored as SHA-256 digests, so the
//! configuration file never contains a usable key; `voxgate keys hash` prints a key's digest.

use serde::Deserialize;

/// One client key and what it may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientKeyConfig {
    /// A name for logs, metrics and usage reports. Never the key itself.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub key_sha256: String,
    /// Provider ids the key may use; all when absent.
    pub providers: Option<Vec<String>>,
    /// Route and tier names the key may request as a model; any when absent.
    pub routes: Option<Vec<String>>,
    /// Requests per minute the key may make.
    pub requests_per_minute: Option<u32>,
    /// Estimated spend the key may reach per calendar month (UTC), in US dollars, computed
    /// from the prices the plugins declare.
    pub monthly_budget_usd: Option<f64>,
}

/// The key that protects the admin routes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Hex SHA-256 of the admin key. Without it, admin routes work only in open mode (no
    /// client keys, loopback listener).
    pub key_sha256: Option<String>,
}

/// Checks that a digest is 64 hex digits.
pub fn check_digest(path: &str, digest: &str) -> anyhow::Result<()> {
    if digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(());
    }
    anyhow::bail!("{path} must be a hex SHA-256 digest (64 hex digits); run `voxgate keys hash` to make one from a key")
}
