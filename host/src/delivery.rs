//! Accounting for a response once its audio has reached the client in full, or failed to:
//! the audio cache is filled, usage and cost are recorded, metrics are counted, and requests
//! that coalesced on the same synthesis are woken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::watch;

use crate::audio::container_name;
use crate::audio::content_type;
use crate::audio::duration::duration_ms;
use crate::cache::{CacheKey, CachedAudio, TieredCache};
use crate::metrics::{Metrics, UsageLabels, provider as provider_label};
use crate::plugin::wit::AudioFormat;
use crate::usage::{UsageRecord, UsageStore, UsageWriter};

/// The request's use of the audio cache, sent to the client as `x-cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Bypass,
}

impl CacheStatus {
    pub fn name(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Bypass => "BYPASS",
        }
    }
}

/// A request's cache directives: `Cache-Control: no-cache` or `cf-aig-skip-cache: true`
/// bypass the cache, and `cf-aig-cache-ttl: SECONDS` sets the entry's lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CachePolicy {
    pub bypass: bool,
    pub ttl_seconds: Option<u64>,
}

impl CachePolicy {
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        let value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
        let no_cache = value("cache-control").is_some_and(|directives| {
            directives.split(',').any(|directive| matches!(directive.trim().to_ascii_lowercase().as_str(), "no-cache" | "no-store"))
        });
        let skip = value("cf-aig-skip-cache").is_some_and(|flag| flag.eq_ignore_ascii_case("true"));
        let ttl_seconds = value("cf-aig-cache-ttl").and_then(|seconds| seconds.parse().ok());
        Self { bypass: no_cache || skip, ttl_seconds }
    }
}

/// Everything needed to account for one response once its audio has been sent.
pub struct Delivery {
    /// The client key's name, never the key.
    pub client: String,
    pub provider: String,
    pub model: String,
    pub format: AudioFormat,
    /// Characters billed: the provider's count when it gave one, else the text's length.
    pub characters: u64,
    /// The model's price, US dollars per million characters.
    pub price_per_million: f64,
    pub cache_status: CacheStatus,
    /// The key to store the audio under, on a cache miss.
    pub cache_key: Option<CacheKey>,
    pub ttl_seconds: u64,
    /// The coalesced flight this response leads, woken when it ends.
    pub flight: Option<FlightGuard>,
    /// The audio's playing time when already known, as for a cached clip.
    pub audio_ms: Option<u64>,
}

/// The shared state that finishes deliveries.
pub struct DeliverySink {
    pub cache: Option<Arc<TieredCache>>,
    pub usage: Arc<UsageStore>,
    /// Batches records into `usage`.
    pub usage_writer: UsageWriter,
    pub metrics: Arc<Metrics>,
    pub flights: Arc<Flights>,
}

impl DeliverySink {
    /// Accounts for a response. `audio` is the whole clip as sent, or `None` when the
    /// response broke off (then nothing is cached and waiters retry on their own).
    pub fn finish(&self, mut delivery: Delivery, audio: Option<Bytes>) {
        let labels = UsageLabels {
            provider: delivery.provider.clone(),
            model: delivery.model.clone(),
            client: delivery.client.clone(),
        };
        let Some(audio) = audio else {
            self.metrics.stream_aborts.get_or_create(&provider_label(&delivery.provider)).inc();
            // Dropping the guard wakes waiters with a failure.
            drop(delivery.flight.take());
            return;
        };

        let hit = delivery.cache_status == CacheStatus::Hit;
        let characters = if hit { 0 } else { delivery.characters };
        // Price per million characters in dollars is price micro-dollars per character.
        let cost_micro_usd = (characters as f64 * delivery.price_per_million).round() as u64;
        let known_ms = delivery.audio_ms.or_else(|| duration_ms(&delivery.format, &audio));
        let audio_ms = known_ms.unwrap_or(0);
        self.metrics.characters.get_or_create(&labels).inc_by(characters);
        self.metrics.cost_micro_usd.get_or_create(&labels).inc_by(cost_micro_usd);
        self.metrics.audio_milliseconds.get_or_create(&labels).inc_by(audio_ms);

        let record = UsageRecord {
            at_unix: now_unix(),
            client_key: delivery.client.clone(),
            provider: delivery.provider.clone(),
            model: delivery.model.clone(),
            requests: 1,
            characters,
            audio_ms,
            cache_hits: u64::from(hit),
            cost_micro_usd,
        };
        self.usage_writer.submit(record);

        let entry = Arc::new(CachedAudio::new(
            content_type(delivery.format.container),
            container_name(delivery.format.container),
            audio.clone(),
            u32::try_from(delivery.characters).ok(),
            now_unix(),
            delivery.ttl_seconds,
        )
        .with_audio_ms(known_ms));
        // The flight stays open until the entry is stored, so that a request arriving in
        // between joins it instead of missing the cache and synthesizing again.
        let flight = delivery.flight.take();
        let (Some(cache), Some(key)) = (self.cache.clone(), delivery.cache_key.take()) else {
            if let Some(flight) = flight {
                flight.complete(entry);
            }
            return;
        };
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            match cache.put(&key, &entry).await {
                Ok(()) => {
                    metrics.cache_bytes_stored.inc_by(entry.data.len() as u64);
                }
                Err(error) => tracing::warn!(error = %error, provider = %key.provider, "storing audio in the cache failed"),
            }
            if let Some(flight) = flight {
                flight.complete(entry);
            }
        });
    }
}

pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

/// The outcome of a coalesced synthesis: the audio, or `None` when the leader failed.
type FlightOutcome = Option<Arc<CachedAudio>>;

/// Identical requests in flight, by cache key digest, so that they make one upstream call.
#[derive(Default)]
pub struct Flights {
    in_flight: Mutex<HashMap<String, watch::Receiver<Option<FlightOutcome>>>>,
}

/// Whether this request leads a synthesis or waits for an identical one.
pub enum Join {
    Leader(FlightGuard),
    Follower(watch::Receiver<Option<FlightOutcome>>),
}

impl Flights {
    pub fn join(self: &Arc<Self>, digest: &str) -> Join {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(receiver) = in_flight.get(digest) {
            return Join::Follower(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        in_flight.insert(digest.to_string(), receiver);
        Join::Leader(FlightGuard { digest: digest.to_string(), flights: self.clone(), sender: Some(sender) })
    }

    fn remove(&self, digest: &str) {
        self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(digest);
    }
}

/// Held by the request that leads a flight. Completing it hands the audio to the waiters;
/// dropping it unfinished lets each of them synthesize on its own.
pub struct FlightGuard {
    digest: String,
    flights: Arc<Flights>,
    sender: Option<watch::Sender<Option<FlightOutcome>>>,
}

impl FlightGuard {
    pub fn complete(mut self, audio: Arc<CachedAudio>) {
        self.flights.remove(&self.digest);
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(Some(Some(audio)));
        }
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            self.flights.remove(&self.digest);
            let _ = sender.send(Some(None));
        }
    }
}

/// Waits for a flight's outcome; `None` when the leader failed or went away.
pub async fn wait(mut receiver: watch::Receiver<Option<FlightOutcome>>) -> FlightOutcome {
    loop {
        if let Some(outcome) = receiver.borrow().clone() {
            return outcome;
        }
        if receiver.changed().await.is_err() {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_from_headers() {
        let mut headers = http::HeaderMap::new();
        headers.insert("cache-control", "max-age=0, no-cache".parse().unwrap());
        headers.insert("cf-aig-cache-ttl", "60".parse().unwrap());
        let policy = CachePolicy::from_headers(&headers);
        assert!(policy.bypass);
        assert_eq!(policy.ttl_seconds, Some(60));

        let mut headers = http::HeaderMap::new();
        headers.insert("cf-aig-skip-cache", "TRUE".parse().unwrap());
        assert!(CachePolicy::from_headers(&headers).bypass);
        assert!(!CachePolicy::from_headers(&http::HeaderMap::new()).bypass);
    }

    #[tokio::test]
    async fn follower_gets_leader_audio() {
        let flights = Arc::new(Flights::default());
        let Join::Leader(guard) = flights.join("k") else { panic!("first joiner leads") };
        let Join::Follower(receiver) = flights.join("k") else { panic!("second joiner follows") };
        let audio = Arc::new(CachedAudio::new("audio/mpeg", "mp3", Bytes::from_static(b"abc"), None, 0, 60));
        guard.complete(audio.clone());
        assert_eq!(wait(receiver).await, Some(audio));
        assert!(matches!(flights.join("k"), Join::Leader(_)), "a finished flight is removed");
    }

    #[tokio::test]
    async fn dropped_leader_fails_followers() {
        let flights = Arc::new(Flights::default());
        let Join::Leader(guard) = flights.join("k") else { panic!() };
        let Join::Follower(receiver) = flights.join("k") else { panic!() };
        drop(guard);
        assert_eq!(wait(receiver).await, None);
    }
}
