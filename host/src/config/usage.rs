//! Configuration of usage accounting and shared counters: `[usage]`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

/// Storage of usage totals and rate-limit counters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    /// `embedded` keeps totals in a file on this machine and rate-limit counters in
    /// memory; `redis` shares both between gateway instances.
    pub backend: UsageBackend,
    /// Database file of the embedded backend. Only one process may open it at a time.
    pub path: PathBuf,
    /// URL of the Redis server, `redis://[:PASSWORD@]HOST[:PORT][/DB]`. Ignored when
    /// `redis_url_env` is set.
    pub redis_url: String,
    /// Environment variable that contains the Redis URL, for URLs with a password.
    /// Empty to use `redis_url`.
    pub redis_url_env: String,
    /// Prefix of every Redis key the gateway writes, so one Redis can serve several
    /// deployments.
    pub redis_prefix: String,
    /// Days that hourly usage buckets stay in Redis before they expire. The embedded
    /// backend keeps every bucket.
    pub redis_retention_days: u32,
    /// Time to connect to Redis, and to wait for one reply, in milliseconds.
    pub redis_timeout_ms: u64,
}

/// The store for usage totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageBackend {
    Embedded,
    Redis,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            backend: UsageBackend::Embedded,
            path: PathBuf::from("target/voxgate-usage.redb"),
            redis_url: "redis://127.0.0.1:6379/".to_string(),
            redis_url_env: String::new(),
            redis_prefix: "voxgate:".to_string(),
            // 400 days keeps the same month of last year for comparison.
            redis_retention_days: 400,
            // Usage is recorded after the audio is sent and rate limits are checked
            // before it: 2 s bounds what a stalled Redis can add to a request.
            redis_timeout_ms: 2_000,
        }
    }
}

impl UsageConfig {
    /// Returns the timeout for connecting to Redis and for each reply.
    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }

    /// Checks the values that serde cannot, naming the key at fault.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.backend {
            UsageBackend::Embedded => {
                if self.path.as_os_str().is_empty() {
                    bail!("usage.path is empty; name the database file for usage totals");
                }
            }
            UsageBackend::Redis => {
                if self.redis_url_env.is_empty() && self.redis_url.is_empty() {
                    bail!("usage.redis_url is empty; set it or usage.redis_url_env");
                }
                if self.redis_timeout_ms == 0 {
                    bail!("usage.redis_timeout_ms must be greater than 0");
                }
                if self.redis_retention_days == 0 {
                    bail!("usage.redis_retention_days must be greater than 0");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_embedded() {
        let config: UsageConfig = toml::from_str("").unwrap();
        config.check().unwrap();
        assert_eq!(config.backend, UsageBackend::Embedded);
        assert_eq!(config.path, PathBuf::from("target/voxgate-usage.redb"));
        assert_eq!(config.redis_prefix, "voxgate:");
    }

    #[test]
    fn example_file_shows_defaults() {
        let example = include_str!("../../../voxgate.example.toml");
        let value: toml::Table = toml::from_str(example).unwrap();
        let usage: UsageConfig = value["usage"].clone().try_into().unwrap();
        let defaults = UsageConfig::default();

        assert_eq!(usage.backend, defaults.backend);
        assert_eq!(usage.path, defaults.path);
        assert_eq!(usage.redis_url, defaults.redis_url);
        assert_eq!(usage.redis_url_env, defaults.redis_url_env);
        assert_eq!(usage.redis_prefix, defaults.redis_prefix);
        assert_eq!(usage.redis_retention_days, defaults.redis_retention_days);
        assert_eq!(usage.redis_timeout_ms, defaults.redis_timeout_ms);
    }

    #[test]
    fn redis_needs_a_url() {
        let config: UsageConfig = toml::from_str("backend = \"redis\"\nredis_url = \"\"\n").unwrap();
        let error = config.check().unwrap_err().to_string();
        assert!(error.contains("usage.redis_url"), "{error}");
    }
}
