//! Usage accounting and shared rate-limit counters.
//!
//! [`UsageStore`] adds each [`UsageRecord`] into an hourly bucket per client key, provider
//! and model, returns totals over a time range, keeps a running cost per client key and
//! UTC calendar month for budgets, and counts requests per client key and minute for rate
//! limits. The embedded backend ([`embedded`]) keeps totals in a redb file and counters in
//! memory; the Redis backend ([`redis_store`]) shares both between gateway instances.
//!
//! Client keys appear here only by their configured name, never the key itself.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::PathBuf;

use crate::config::{UsageBackend, UsageConfig};

mod calendar;
mod embedded;
mod rate;
mod redis_store;
mod writer;

pub use calendar::month_bounds;
pub use rate::RateDecision;
pub use writer::UsageWriter;

use embedded::EmbeddedStore;
use redis_store::RedisStore;

/// Usage of one request, or of one part of a split request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageRecord {
    /// When it happened, Unix seconds; it counts in the UTC hour that contains it.
    pub at_unix: u64,
    /// The client key's configured name, never the key.
    pub client_key: String,
    pub provider: String,
    pub model: String,
    pub requests: u64,
    /// Characters as the provider bills them.
    pub characters: u64,
    /// Duration of the audio sent, in milliseconds.
    pub audio_ms: u64,
    /// Requests served from the cache (also counted in `requests`).
    pub cache_hits: u64,
    /// Estimated cost in millionths of a US dollar, from the plugin's prices.
    pub cost_micro_usd: u64,
}

/// Selection of the usage to total. Every `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFilter {
    pub client_key: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Start of the range, Unix seconds, rounded down to the hour: a bucket counts when
    /// its hour starts at or after `from_unix - from_unix % 3600`.
    pub from_unix: Option<u64>,
    /// End of the range, Unix seconds, exclusive: a bucket counts when its hour starts
    /// before it.
    pub to_unix: Option<u64>,
}

/// Totals of one client key, provider and model over a filter's range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageRow {
    pub client_key: String,
    pub provider: String,
    pub model: String,
    pub requests: u64,
    pub characters: u64,
    pub audio_ms: u64,
    pub cache_hits: u64,
    pub cost_micro_usd: u64,
}

/// A failure of the usage store.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("usage store {}: {action} failed: {error}", path.display())]
    Database { action: &'static str, path: PathBuf, error: String },
    #[error("usage store {path} is open in another process; the embedded store serves one gateway per file (use usage.backend = \"redis\" to share)", path = path.display())]
    DatabaseInUse { path: PathBuf },
    #[error("usage store at {url}: {action} failed: {error}")]
    Redis { action: &'static str, url: String, error: redis::RedisError },
    #[error("usage store: invalid configuration: {0}")]
    Config(String),
    #[error("usage store: a background task failed: {0}")]
    Task(String),
}

/// Usage totals and rate-limit counters on one backend.
pub enum UsageStore {
    Embedded(EmbeddedStore),
    Redis(RedisStore),
}

impl UsageStore {
    /// Opens the configured backend. This is synchronous. The embedded backend opens or
    /// creates its file. The Redis backend connects on first use, so call
    /// [`UsageStore::ping`] at start-up to find a wrong URL early.
    pub fn open(config: &UsageConfig) -> Result<UsageStore, UsageError> {
        match config.backend {
            UsageBackend::Embedded => Ok(UsageStore::Embedded(EmbeddedStore::open(&config.path)?)),
            UsageBackend::Redis => Ok(UsageStore::Redis(RedisStore::open(config)?)),
        }
    }

    /// Adds a record into its hourly bucket and its month's cost.
    #[cfg(test)]
    pub async fn record(&self, record: &UsageRecord) -> Result<(), UsageError> {
        self.record_batch(std::slice::from_ref(record)).await
    }

    /// Adds several records at once: one transaction (embedded) or one atomic pipeline
    /// (Redis), so a reader sees all of them or none.
    pub async fn record_batch(&self, records: &[UsageRecord]) -> Result<(), UsageError> {
        match self {
            UsageStore::Embedded(store) => store.record_batch(records).await,
            UsageStore::Redis(store) => store.record_batch(records).await,
        }
    }

    /// Totals per client key, provider and model over the filter's range, sorted by those
    /// three.
    pub async fn query(&self, filter: &UsageFilter) -> Result<Vec<UsageRow>, UsageError> {
        match self {
            UsageStore::Embedded(store) => store.query(filter).await,
            UsageStore::Redis(store) => store.query(filter).await,
        }
    }

    /// Returns the cost recorded for `client_key` in the UTC calendar month that contains
    /// `now_unix`, in millionths of a US dollar.
    pub async fn month_cost_micro_usd(&self, client_key: &str, now_unix: u64) -> Result<u64, UsageError> {
        match self {
            UsageStore::Embedded(store) => store.month_cost_micro_usd(client_key, now_unix).await,
            UsageStore::Redis(store) => store.month_cost_micro_usd(client_key, now_unix).await,
        }
    }

    /// Counts one request against `client_key`'s per-minute limit and decides whether it
    /// may go ahead. The Redis backend shares the count between gateway instances.
    pub async fn take_rate(&self, client_key: &str, limit_per_minute: u32, now_unix: u64) -> Result<RateDecision, UsageError> {
        match self {
            UsageStore::Embedded(store) => Ok(store.take_rate(client_key, limit_per_minute, now_unix)),
            UsageStore::Redis(store) => store.take_rate(client_key, limit_per_minute, now_unix).await,
        }
    }

    /// Checks that the store responds.
    pub async fn ping(&self) -> Result<(), UsageError> {
        match self {
            UsageStore::Embedded(_) => Ok(()),
            UsageStore::Redis(store) => store.ping().await,
        }
    }
}

/// The five counters of a bucket, in a fixed order for storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub requests: u64,
    pub characters: u64,
    pub audio_ms: u64,
    pub cache_hits: u64,
    pub cost_micro_usd: u64,
}

impl Totals {
    pub fn of(record: &UsageRecord) -> Self {
        Totals {
            requests: record.requests,
            characters: record.characters,
            audio_ms: record.audio_ms,
            cache_hits: record.cache_hits,
            cost_micro_usd: record.cost_micro_usd,
        }
    }

    /// Adds counters, saturating at `u64::MAX` rather than wrapping.
    pub fn add(&mut self, other: &Totals) {
        self.requests = self.requests.saturating_add(other.requests);
        self.characters = self.characters.saturating_add(other.characters);
        self.audio_ms = self.audio_ms.saturating_add(other.audio_ms);
        self.cache_hits = self.cache_hits.saturating_add(other.cache_hits);
        self.cost_micro_usd = self.cost_micro_usd.saturating_add(other.cost_micro_usd);
    }

    pub fn to_array(self) -> [u64; 5] {
        [self.requests, self.characters, self.audio_ms, self.cache_hits, self.cost_micro_usd]
    }

    pub fn from_array(values: [u64; 5]) -> Self {
        let [requests, characters, audio_ms, cache_hits, cost_micro_usd] = values;
        Totals { requests, characters, audio_ms, cache_hits, cost_micro_usd }
    }
}

/// Adds up records that fall into the same bucket (UTC hour, client key, provider, model),
/// keeping the order in which each bucket first appears.
pub(crate) fn merge_records(records: Vec<UsageRecord>) -> Vec<UsageRecord> {
    let mut merged: Vec<UsageRecord> = Vec::with_capacity(records.len().min(64));
    let mut index: HashMap<(u64, String, String, String), usize> = HashMap::new();
    for record in records {
        let bucket = (calendar::hour_start(record.at_unix), record.client_key.clone(), record.provider.clone(), record.model.clone());
        match index.get(&bucket) {
            Some(&position) => {
                let total = &mut merged[position];
                let mut sum = Totals::of(total);
                sum.add(&Totals::of(&record));
                total.requests = sum.requests;
                total.characters = sum.characters;
                total.audio_ms = sum.audio_ms;
                total.cache_hits = sum.cache_hits;
                total.cost_micro_usd = sum.cost_micro_usd;
            }
            None => {
                index.insert(bucket, merged.len());
                merged.push(record);
            }
        }
    }
    merged
}

/// Checks a bucket's dimensions against the filter's client key, provider and model.
pub(crate) fn matches(filter: &UsageFilter, client_key: &str, provider: &str, model: &str) -> bool {
    filter.client_key.as_deref().is_none_or(|wanted| wanted == client_key)
        && filter.provider.as_deref().is_none_or(|wanted| wanted == provider)
        && filter.model.as_deref().is_none_or(|wanted| wanted == model)
}

/// Totals per (client key, provider, model), sorted, for the two backends to fill.
#[derive(Debug, Default)]
pub(crate) struct Aggregate {
    rows: BTreeMap<(String, String, String), Totals>,
}

impl Aggregate {
    pub fn add(&mut self, client_key: &str, provider: &str, model: &str, totals: &Totals) {
        let dimensions = (client_key.to_string(), provider.to_string(), model.to_string());
        self.rows.entry(dimensions).or_default().add(totals);
    }

    pub fn into_rows(self) -> Vec<UsageRow> {
        self.rows
            .into_iter()
            .map(|((client_key, provider, model), totals)| UsageRow {
                client_key,
                provider,
                model,
                requests: totals.requests,
                characters: totals.characters,
                audio_ms: totals.audio_ms,
                cache_hits: totals.cache_hits,
                cost_micro_usd: totals.cost_micro_usd,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
