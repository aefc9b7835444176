//! The gateway's configuration: one TOML file, every value with a documented default.
//!
//! `voxgate.example.toml` at the repository root documents each key. Unknown keys are
//! errors, reported with their name and line, so a typo never silently falls back to a
//! default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

mod auth;
mod cache;
mod routing;
mod usage;

pub use auth::{AdminConfig, ClientKeyConfig};
pub use cache::{CacheBackend, CacheConfig, S3Config};

pub use routing::{CapacityConfig, LongTextConfig, ResilienceConfig, RouteConfig, TiersConfig, TimeoutsConfig, VoiceAliases};
pub use usage::{UsageBackend, UsageConfig};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub plugins: PluginsConfig,
    pub engine: EngineConfig,
    pub upstream: UpstreamConfig,
    /// Per-provider settings, keyed by the plugin's id.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Named routes, usable wherever a request names a model.
    pub routes: BTreeMap<String, RouteConfig>,
    /// Overrides of the `fast`, `standard` and `premium` routes.
    pub tiers: TiersConfig,
    /// Voice aliases: `[voices.NAME]` maps provider ids to that provider's voice id.
    pub voices: VoiceAliases,
    pub resilience: ResilienceConfig,
    pub long_text: LongTextConfig,
    /// Client keys. With none, the gateway is open and listens on loopback only.
    pub keys: Vec<ClientKeyConfig>,
    pub admin: AdminConfig,
    /// The audio cache: `[cache]` and `[cache.s3]`.
    pub cache: CacheConfig,
    /// Usage totals and shared rate-limit counters: `[usage]`.
    pub usage: UsageConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default: exposing the gateway is a deliberate choice.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes. OpenAI's 4096-character input is at most
    /// 16 KiB of UTF-8, so 1 MiB leaves room for options without inviting abuse.
    pub max_request_bytes: usize,
    /// On SIGTERM or SIGINT, how long requests in flight may take to finish before the
    /// gateway exits anyway, in milliseconds.
    pub shutdown_timeout_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            max_request_bytes: 1024 * 1024,
            shutdown_timeout_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Folder of provider components (`*.wasm`).
    pub dir: PathBuf,
    /// Folder for compiled components, keyed by content hash. Empty disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// How often the gateway checks the plugin folder for changes, in milliseconds; 0 turns
    /// the watcher off (`POST /admin/plugins/reload` still works).
    pub watch_interval_ms: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("target/plugins"),
            cache_dir: Some(PathBuf::from("target/voxgate-cache/compiled")),
            watch_interval_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Linear memory one plugin instance may grow to, in MiB. A translator plugin needs a few
    /// MiB for a request and a response body; 64 leaves headroom for a large buffered response.
    pub memory_limit_mib: u64,
    /// Wall-clock budget for one call into a plugin, in milliseconds. A translator returns in
    /// microseconds; the budget only stops a plugin that loops.
    pub call_timeout_ms: u64,
    /// Plugin instances that may exist at once across all requests. Sizes the pooling
    /// allocator; requests past it wait for a free slot.
    pub max_instances: u32,
    /// Steps (`fetch`, `fetch-after` and `stream` round trips) one synthesis may take before
    /// the host gives up on a plugin that never finishes. Polling a queued job takes one step
    /// per poll.
    pub max_steps: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            memory_limit_mib: 64,
            call_timeout_ms: 2000,
            max_instances: 256,
            max_steps: 64,
        }
    }
}

impl EngineConfig {
    pub fn memory_limit_bytes(&self) -> usize {
        usize::try_from(self.memory_limit_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Time to establish a TCP (and TLS) connection to a provider, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time from sending a request to receiving the response headers, in milliseconds.
    /// Providers render before they respond, so this is the longest wait of a request.
    pub first_byte_timeout_ms: u64,
    /// Maximum time a whole upstream exchange may take, body included, in milliseconds.
    pub total_timeout_ms: u64,
    /// Maximum gap between two body chunks of a streamed response, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Largest response body buffered for a plugin (`fetch` steps, error bodies), in bytes.
    /// Streamed audio is not buffered and has no such cap.
    pub max_response_bytes: usize,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 5_000,
            first_byte_timeout_ms: 60_000,
            total_timeout_ms: 300_000,
            idle_timeout_ms: 30_000,
            max_response_bytes: 32 * 1024 * 1024,
        }
    }
}

impl UpstreamConfig {
    /// This configuration with one provider's timeout overrides applied.
    pub fn with_overrides(&self, timeouts: &TimeoutsConfig) -> Self {
        Self {
            connect_timeout_ms: timeouts.connect_timeout_ms.unwrap_or(self.connect_timeout_ms),
            first_byte_timeout_ms: timeouts.first_byte_timeout_ms.unwrap_or(self.first_byte_timeout_ms),
            total_timeout_ms: timeouts.total_timeout_ms.unwrap_or(self.total_timeout_ms),
            idle_timeout_ms: timeouts.idle_timeout_ms.unwrap_or(self.idle_timeout_ms),
            max_response_bytes: self.max_response_bytes,
        }
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn first_byte_timeout(&self) -> Duration {
        Duration::from_millis(self.first_byte_timeout_ms)
    }

    pub fn total_timeout(&self) -> Duration {
        Duration::from_millis(self.total_timeout_ms)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}

/// The operator's configuration of one provider plugin.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    /// Set to false to keep the plugin unloaded.
    pub enabled: Option<bool>,
    /// Settings passed to the plugin, such as `base-url`.
    pub settings: BTreeMap<String, String>,
    /// Sources of the secrets, by name. A secret not listed here is read from the environment
    /// variable the plugin names for it.
    pub secrets: BTreeMap<String, SecretSource>,
    /// Hosts the plugin may address. Defaults to every host the plugin declares; a host
    /// listed here that the plugin does not declare is still refused.
    pub allowed_hosts: Option<Vec<String>>,
    /// Limits for this plugin's instances, overriding the `[engine]` defaults.
    pub limits: ProviderLimitsConfig,
    /// How much traffic the provider takes.
    pub capacity: CapacityConfig,
    /// Overrides of the `[upstream]` timeouts for this provider.
    pub timeouts: TimeoutsConfig,
}

/// Per-provider overrides of the engine's limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderLimitsConfig {
    /// Linear memory one instance may use, in MiB.
    pub memory_limit_mib: Option<u64>,
    /// Wall-clock budget for one call into the plugin, in milliseconds.
    pub call_timeout_ms: Option<u64>,
    /// Syntheses that may run in this plugin at once; further requests wait.
    pub max_concurrency: Option<u32>,
}

/// The limits one plugin's instances run under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginLimits {
    pub memory_limit_mib: u64,
    pub call_timeout_ms: u64,
    pub max_concurrency: Option<u32>,
}

impl PluginLimits {
    pub fn memory_limit_bytes(&self) -> usize {
        usize::try_from(self.memory_limit_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

/// Built-in limits for bundled plugins that compute audio themselves, used unless the
/// operator's `[providers.ID.limits]` sets the value. The offline `local` voice runs a
/// neural network inside the component: one 3 to 7 s sentence needs 256 to 352 MiB of
/// linear memory and about 0.3 times its duration of CPU time, measured with tract 0.23 on a
/// 2-core x86_64 machine.
const BUILT_IN_LIMITS: &[(&str, ProviderLimitsConfig)] = &[(
    "local",
    ProviderLimitsConfig { memory_limit_mib: Some(384), call_timeout_ms: Some(120_000), max_concurrency: Some(2) },
)];

impl ProviderConfig {
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// The source of one secret's value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// Name of an environment variable that contains the value.
    pub env: Option<String>,
    /// Path of a file whose contents, without trailing whitespace, are the value.
    pub file: Option<PathBuf>,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read configuration file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid configuration file {}", path.display()))
    }

    /// Parses configuration text. The error names the key and the line.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: Config = toml::from_str(text).map_err(|error| anyhow::anyhow!("{error}"))?;
        config.check()?;
        Ok(config)
    }

    /// The limits for one provider's instances: the operator's override, else the built-in
    /// one for that provider, else the `[engine]` default.
    pub fn limits_for(&self, provider: &str) -> PluginLimits {
        let configured = self.providers.get(provider).map(|provider| &provider.limits);
        let built_in = BUILT_IN_LIMITS.iter().find(|(id, _)| *id == provider).map(|(_, limits)| limits);
        let pick = |field: fn(&ProviderLimitsConfig) -> Option<u64>| {
            configured.and_then(field).or_else(|| built_in.and_then(field))
        };
        PluginLimits {
            memory_limit_mib: pick(|limits| limits.memory_limit_mib).unwrap_or(self.engine.memory_limit_mib),
            call_timeout_ms: pick(|limits| limits.call_timeout_ms).unwrap_or(self.engine.call_timeout_ms),
            max_concurrency: configured
                .and_then(|limits| limits.max_concurrency)
                .or_else(|| built_in.and_then(|limits| limits.max_concurrency)),
        }
    }

    /// The largest memory limit any plugin may get, which sizes the engine's memory pool.
    pub fn largest_memory_limit_mib(&self) -> u64 {
        let configured = self.providers.values().filter_map(|provider| provider.limits.memory_limit_mib);
        let built_in = BUILT_IN_LIMITS.iter().filter_map(|(_, limits)| limits.memory_limit_mib);
        configured.chain(built_in).fold(self.engine.memory_limit_mib, u64::max)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.server.max_request_bytes == 0 {
            bail!("server.max_request_bytes must be greater than 0");
        }
        if self.engine.memory_limit_mib == 0 {
            bail!("engine.memory_limit_mib must be greater than 0");
        }
        if self.engine.call_timeout_ms == 0 {
            bail!("engine.call_timeout_ms must be greater than 0");
        }
        if self.engine.max_instances == 0 {
            bail!("engine.max_instances must be greater than 0");
        }
        if self.engine.max_steps == 0 {
            bail!("engine.max_steps must be greater than 0");
        }
        let resilience = &self.resilience;
        if resilience.max_attempts == 0 || resilience.max_total_attempts == 0 {
            bail!("resilience.max_attempts and resilience.max_total_attempts must be greater than 0");
        }
        if !(0.0..=1.0).contains(&resilience.retry_budget_ratio) {
            bail!("resilience.retry_budget_ratio must be between 0 and 1, such as 0.2 for 20 %");
        }
        if resilience.breaker_failures == 0 {
            bail!("resilience.breaker_failures must be greater than 0");
        }
        for (index, key) in self.keys.iter().enumerate() {
            auth::check_digest(&format!("keys[{index}].key_sha256"), &key.key_sha256)?;
            if key.name.trim().is_empty() {
                bail!("keys[{index}].name is empty; give each client key a name for logs and usage");
            }
            if key.monthly_budget_usd.is_some_and(|budget| !budget.is_finite() || budget < 0.0) {
                bail!("keys[{index}].monthly_budget_usd must be a non-negative number");
            }
        }
        if let Some(digest) = &self.admin.key_sha256 {
            auth::check_digest("admin.key_sha256", digest)?;
        }
        if self.long_text.max_characters == 0 || self.long_text.parallelism == 0 {
            bail!("long_text.max_characters and long_text.parallelism must be greater than 0");
        }
        self.cache.check()?;
        self.usage.check()?;
        for (name, route) in &self.routes {
            if ["fast", "standard", "premium", "cheapest"].contains(&name.as_str()) {
                bail!("routes.{name} is a built-in tier; set it under [tiers] instead");
            }
            if route.candidates.is_empty() {
                bail!("routes.{name}.candidates is empty; list at least one `provider[:model[:voice]]`");
            }
        }
        for (id, provider) in &self.providers {
            // Plugins treat an absent setting as "use the default", so an empty value would
            // silently send requests to the provider's real host instead of the one intended.
            if let Some((name, _)) = provider.settings.iter().find(|(_, value)| value.trim().is_empty()) {
                bail!("providers.{id}.settings.{name} is empty; remove it to use the plugin's default, or give it a value");
            }
            let limits = &provider.limits;
            if limits.memory_limit_mib == Some(0) || limits.call_timeout_ms == Some(0) || limits.max_concurrency == Some(0) {
                bail!("providers.{id}.limits values must be greater than 0");
            }
            for (name, source) in &provider.secrets {
                match (&source.env, &source.file) {
                    (Some(_), None) | (None, Some(_)) => {}
                    _ => bail!(
                        "providers.{id}.secrets.{name} must set exactly one of `env` or `file`"
                    ),
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
    fn empty_file_uses_defaults() {
        let config = Config::parse("").unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8787");
        assert_eq!(config.engine.memory_limit_mib, 64);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let error = Config::parse("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("lisen"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn empty_setting_is_rejected() {
        let error = Config::parse("[providers.openai]\nsettings = { base-url = \"  \" }\n").unwrap_err().to_string();
        assert!(error.contains("providers.openai.settings.base-url is empty"), "{error}");
    }

    #[test]
    fn provider_settings_and_secrets() {
        let config = Config::parse(
            "[providers.openai]\nsettings = { base-url = \"http://127.0.0.1:9\" }\nsecrets = { api-key = { env = \"K\" } }\n",
        )
        .unwrap();
        let openai = &config.providers["openai"];
        assert_eq!(openai.settings["base-url"], "http://127.0.0.1:9");
        assert_eq!(openai.secrets["api-key"].env.as_deref(), Some("K"));
    }

    #[test]
    fn limits_override_order() {
        let config = Config::parse(
            "[engine]\nmemory_limit_mib = 32\n[providers.openai.limits]\ncall_timeout_ms = 500\n[providers.local.limits]\nmemory_limit_mib = 512\n",
        )
        .unwrap();
        let openai = config.limits_for("openai");
        assert_eq!((openai.memory_limit_mib, openai.call_timeout_ms), (32, 500));
        let local = config.limits_for("local");
        assert_eq!((local.memory_limit_mib, local.call_timeout_ms, local.max_concurrency), (512, 120_000, Some(2)));
        assert_eq!(config.largest_memory_limit_mib(), 512);
    }

    #[test]
    fn secret_needs_one_source() {
        let error = Config::parse("[providers.openai.secrets.api-key]\n").unwrap_err();
        assert!(format!("{error:#}").contains("providers.openai.secrets.api-key"));
    }
}
