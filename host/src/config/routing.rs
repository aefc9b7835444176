//! Configuration of routing and resilience: named routes, quality tiers, voice aliases,
//! retries and circuit breakers, and each provider's capacity and timeouts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// A named route: candidates tried in order, each `provider[:model[:voice]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub candidates: Vec<String>,
}

/// Overrides of the built-in quality tiers. A tier is a route whose name a request uses in
/// place of a model.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TiersConfig {
    pub fast: Option<Vec<String>>,
    pub standard: Option<Vec<String>>,
    pub premium: Option<Vec<String>>,
}

/// The built-in tiers, used for a tier the operator does not set. They follow common
/// practice: a quick small model for `fast`, a good-value neural voice for `standard`, the
/// most natural voices for `premium`. Each ends with the offline `local` voice, which needs
/// no key and cannot be rate-limited. Candidates whose provider is not loaded are skipped.
pub const DEFAULT_TIERS: &[(&str, &[&str])] = &[
    ("fast", &["workers-ai:@cf/myshell-ai/melotts", "openai:tts-1", "local"]),
    ("standard", &["workers-ai:@cf/deepgram/aura-2-en", "openai:tts-1", "fal:fal-ai/kokoro/american-english", "local"]),
    ("premium", &["elevenlabs:eleven_multilingual_v2", "openai:tts-1-hd", "local"]),
];

impl TiersConfig {
    /// The candidates of a tier, the operator's or the built-in ones.
    pub fn candidates(&self, tier: &str) -> Option<Vec<String>> {
        let configured = match tier {
            "fast" => self.fast.clone(),
            "standard" => self.standard.clone(),
            "premium" => self.premium.clone(),
            _ => None,
        };
        configured.or_else(|| {
            DEFAULT_TIERS
                .iter()
                .find(|(name, _)| *name == tier)
                .map(|(_, candidates)| candidates.iter().map(|candidate| candidate.to_string()).collect())
        })
    }
}

/// Retries, backoff and circuit breakers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResilienceConfig {
    /// Attempts at one candidate, the first included, before moving to the next.
    pub max_attempts: u32,
    /// Attempts across all candidates of one request.
    pub max_total_attempts: u32,
    /// First backoff step, in milliseconds. Each retry waits a random time between zero and
    /// `retry_base_ms * 2^retry`, capped by `retry_max_ms` ("full jitter").
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Longest `Retry-After` the gateway waits for, in milliseconds. A provider that requests
    /// a longer wait is skipped for the next candidate instead.
    pub retry_after_cap_ms: u64,
    /// Share of requests that retries may add, gateway-wide: 0.2 lets retries add at most
    /// 20 % to the load on providers, so a failing provider is not hammered.
    pub retry_budget_ratio: f64,
    /// Retries always allowed per second, so that a quiet gateway can still retry.
    pub retry_budget_min_per_second: u32,
    /// Consecutive failures that open a provider's circuit breaker.
    pub breaker_failures: u32,
    /// Milliseconds an open breaker waits before letting one probe request through.
    pub breaker_cooldown_ms: u64,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_total_attempts: 6,
            retry_base_ms: 100,
            retry_max_ms: 2_000,
            retry_after_cap_ms: 10_000,
            retry_budget_ratio: 0.2,
            retry_budget_min_per_second: 10,
            breaker_failures: 5,
            breaker_cooldown_ms: 30_000,
        }
    }
}

impl ResilienceConfig {
    pub fn breaker_cooldown(&self) -> Duration {
        Duration::from_millis(self.breaker_cooldown_ms)
    }
}

/// How much traffic one provider takes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapacityConfig {
    /// Upstream requests in flight at once, streamed responses included until they end.
    pub max_concurrent_requests: Option<u32>,
    /// Requests that may wait for a free slot; past this the provider is full and the
    /// request moves on to the next candidate, or gets 429.
    pub max_queued_requests: Option<u32>,
    /// Requests started per minute.
    pub requests_per_minute: Option<u32>,
    /// Characters of text sent per minute.
    pub characters_per_minute: Option<u32>,
}

/// Per-provider overrides of the `[upstream]` timeouts, in milliseconds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsConfig {
    pub connect_timeout_ms: Option<u64>,
    pub first_byte_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub total_timeout_ms: Option<u64>,
}

/// Voice aliases: one logical name mapped to each provider's voice id.
pub type VoiceAliases = BTreeMap<String, BTreeMap<String, String>>;

/// Text longer than a model accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LongTextConfig {
    /// Split such text at sentence boundaries and join the audio, instead of rejecting it.
    pub split: bool,
    /// The maximum text length accepted at all, in characters.
    pub max_characters: usize,
    /// Parts synthesised at once.
    pub parallelism: usize,
}

impl Default for LongTextConfig {
    fn default() -> Self {
        // 100 000 characters is about two hours of speech, past what one HTTP response
        // should carry; 3 parts at once keeps the wait short without flooding a provider.
        Self { split: true, max_characters: 100_000, parallelism: 3 }
    }
}
