//! Prometheus metrics, served at `GET /metrics` in the text exposition format.
//!
//! Label values are route names, provider and model ids, status codes, outcome kinds and
//! client key names. None is ever a secret, a key or request text.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub provider: String,
    pub model: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub provider: String,
    /// `success`, or the failure's kind, such as `rate_limited` or `upstream_timeout`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UsageLabels {
    pub provider: String,
    pub model: String,
    pub client: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `hit`, `miss` or `bypass`.
    pub result: String,
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Family<RouteLabels, Histogram>,
    pub time_to_first_byte: Family<ProviderLabels, Histogram>,
    pub attempts: Family<AttemptLabels, Counter>,
    pub retries: Family<ProviderLabels, Counter>,
    pub fallbacks: Family<ProviderLabels, Counter>,
    pub stream_aborts: Family<ProviderLabels, Counter>,
    /// 0 closed, 1 open, 2 half-open.
    pub breaker_state: Family<ProviderLabels, Gauge>,
    pub cache_lookups: Family<CacheLabels, Counter>,
    pub cache_bytes_served: Counter,
    pub cache_bytes_stored: Counter,
    pub characters: Family<UsageLabels, Counter>,
    pub cost_micro_usd: Family<UsageLabels, Counter>,
    pub audio_milliseconds: Family<UsageLabels, Counter>,
    pub plugin_instantiation: Family<ProviderLabels, Histogram>,
    pub plugin_faults: Family<ProviderLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 65 s in doublings: covers a cache hit and a long synthesis alike.
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

fn instantiation_histogram() -> Histogram {
    // 5 µs to about 80 ms: a pooled instance takes tens of microseconds.
    Histogram::new(exponential_buckets(0.000_005, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Self {
        let metrics = Self {
            registry: Mutex::new(Registry::with_prefix("voxgate")),
            requests: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            time_to_first_byte: Family::new_with_constructor(latency_histogram),
            attempts: Family::default(),
            retries: Family::default(),
            fallbacks: Family::default(),
            stream_aborts: Family::default(),
            breaker_state: Family::default(),
            cache_lookups: Family::default(),
            cache_bytes_served: Counter::default(),
            cache_bytes_stored: Counter::default(),
            characters: Family::default(),
            cost_micro_usd: Family::default(),
            audio_milliseconds: Family::default(),
            plugin_instantiation: Family::new_with_constructor(instantiation_histogram),
            plugin_faults: Family::default(),
        };
        metrics.register();
        metrics
    }

    fn register(&self) {
        let mut registry = self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        registry.register("requests", "Client requests by route, provider, model and status", self.requests.clone());
        registry.register("request_duration_seconds", "Time from request to the end of the response", self.request_duration.clone());
        registry.register("time_to_first_byte_seconds", "Time from request to the first audio byte sent", self.time_to_first_byte.clone());
        registry.register("upstream_attempts", "Upstream attempts by provider and outcome", self.attempts.clone());
        registry.register("retries", "Retries of the same provider", self.retries.clone());
        registry.register("fallbacks", "Moves from a failed provider to the next candidate", self.fallbacks.clone());
        registry.register("stream_aborts", "Audio streams cut off after the response started", self.stream_aborts.clone());
        registry.register("circuit_breaker_state", "Breaker state per provider: 0 closed, 1 open, 2 half-open", self.breaker_state.clone());
        registry.register("cache_lookups", "Audio cache lookups by result", self.cache_lookups.clone());
        registry.register("cache_served_bytes", "Audio bytes served from the cache", self.cache_bytes_served.clone());
        registry.register("cache_stored_bytes", "Audio bytes written to the cache", self.cache_bytes_stored.clone());
        registry.register("characters", "Characters billed, by provider, model and client key name", self.characters.clone());
        registry.register("cost_micro_usd", "Estimated cost in millionths of a US dollar, from plugin prices", self.cost_micro_usd.clone());
        registry.register("audio_milliseconds", "Audio delivered, in milliseconds", self.audio_milliseconds.clone());
        registry.register("plugin_instantiation_seconds", "Time to create a plugin instance", self.plugin_instantiation.clone());
        registry.register("plugin_faults", "Plugin traps, timeouts and memory exhaustion", self.plugin_faults.clone());
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let registry = self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

pub fn provider(provider: &str) -> ProviderLabels {
    ProviderLabels { provider: provider.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counter_with_labels() {
        let metrics = Metrics::new();
        metrics
            .requests
            .get_or_create(&RequestLabels { route: "openai_speech".into(), provider: "openai".into(), model: "tts-1".into(), status: 200 })
            .inc();
        let text = metrics.render();
        assert!(text.contains("voxgate_requests_total{route=\"openai_speech\",provider=\"openai\",model=\"tts-1\",status=\"200\"} 1"), "{text}");
    }
}
