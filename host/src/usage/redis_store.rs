//! The Redis backend: usage totals and rate-limit counters shared by gateway instances.
//!
//! Keys, each after the configured prefix (default `voxgate:`):
//!
//! | key | type | contents |
//! | --- | --- | --- |
//! | `usage:h:{hour}:{client}:{provider}:{model}` | hash | fields `requests`, `characters`, `audio_ms`, `cache_hits`, `cost_micro_usd` for one UTC hour (`hour` is its start in Unix seconds), added with HINCRBY |
//! | `usage:h:{hour}:index` | set | `{client}:{provider}:{model}` of every hash of that hour, so a query needs no SCAN |
//! | `usage:hours` | sorted set | every hour that has buckets, scored by itself, so a query visits only those hours |
//! | `usage:month:{YYYY-MM}:{client}` | string | the client key's cost in that UTC month, in millionths of a US dollar, added with INCRBY |
//! | `rate:{client}:{minute}` | string | requests in that minute (`minute` is Unix seconds / 60), INCR, expires after 120 s |
//!
//! `%` and `:` inside a client key name, provider or model are written `%25` and `%3A`, so
//! the parts of a key split unambiguously. Usage keys expire `redis_retention_days` after
//! their last write. Each batch of records is one MULTI/EXEC transaction, so a reader never
//! sees half of one.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::calendar::{hour_start, month_bounds, month_label};
use super::rate::{self, RateDecision};
use super::{Aggregate, Totals, UsageError, UsageFilter, UsageRecord, UsageRow, matches};
use crate::config::UsageConfig;

const FIELDS: [&str; 5] = ["requests", "characters", "audio_ms", "cache_hits", "cost_micro_usd"];
/// Hours or buckets fetched per round trip when a query reads a range.
const HOURS_PER_PIPELINE: usize = 500;
/// A rate counter outlives its minute by another minute, so a clock a little behind on
/// another instance still finds it.
const RATE_KEY_TTL_SECONDS: u64 = 120;

/// Usage totals and counters in Redis.
pub struct RedisStore {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    timeout: Duration,
    /// The URL with any password replaced, for messages.
    redacted_url: String,
    prefix: String,
    retention_seconds: u64,
}

impl RedisStore {
    /// Checks the URL and prepares a client; the connection opens on first use.
    pub fn open(config: &UsageConfig) -> Result<RedisStore, UsageError> {
        let url = if config.redis_url_env.is_empty() {
            config.redis_url.clone()
        } else {
            std::env::var(&config.redis_url_env).map_err(|_| {
                UsageError::Config(format!(
                    "usage.redis_url_env names the environment variable {}, which is not set",
                    config.redis_url_env
                ))
            })?
        };
        let redacted_url = redact_url(&url);
        let client = redis::Client::open(url.as_str())
            .map_err(|error| UsageError::Config(format!("usage.redis_url {redacted_url} is invalid: {error}")))?;

        tracing::info!(url = %redacted_url, prefix = %config.redis_prefix, "using the Redis usage store");
        Ok(RedisStore {
            client,
            connection: OnceCell::new(),
            timeout: config.redis_timeout(),
            redacted_url,
            prefix: config.redis_prefix.clone(),
            retention_seconds: u64::from(config.redis_retention_days) * 24 * 3600,
        })
    }

    pub async fn record_batch(&self, records: &[UsageRecord]) -> Result<(), UsageError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for record in records {
            self.add_record(&mut pipe, record);
        }
        let mut connection = self.connection().await?;
        pipe.exec_async(&mut connection).await.map_err(|error| self.error("record usage", error))
    }

    fn add_record(&self, pipe: &mut redis::Pipeline, record: &UsageRecord) {
        let hour = hour_start(record.at_unix);
        let dimensions = dimensions(&record.client_key, &record.provider, &record.model);
        let bucket = format!("{}usage:h:{hour}:{dimensions}", self.prefix);
        let index = self.index_key(hour);
        let month = format!("{}usage:month:{}:{}", self.prefix, month_label(record.at_unix), escape(&record.client_key));
        let retention = self.retention_seconds;

        for (field, value) in FIELDS.iter().zip(Totals::of(record).to_array()) {
            pipe.hincr(&bucket, *field, clamp(value)).ignore();
        }
        pipe.expire(&bucket, retention as i64).ignore();
        pipe.sadd(&index, &dimensions).ignore();
        pipe.expire(&index, retention as i64).ignore();
        let hours = self.hours_key();
        pipe.zadd(&hours, hour, hour).ignore();
        // Hours whose buckets have expired leave the list too.
        pipe.zrembyscore(&hours, "-inf", format!("({}", hour.saturating_sub(retention))).ignore();
        pipe.expire(&hours, retention as i64).ignore();
        pipe.incr(&month, clamp(record.cost_micro_usd)).ignore();
        pipe.expire(&month, retention as i64).ignore();
    }

    pub async fn query(&self, filter: &UsageFilter) -> Result<Vec<UsageRow>, UsageError> {
        let from = hour_start(filter.from_unix.unwrap_or(0));
        let to = match filter.to_unix {
            Some(to) => format!("({to}"),
            None => "+inf".to_string(),
        };
        let mut connection = self.connection().await?;
        let hours: Vec<u64> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.hours_key())
            .arg(from)
            .arg(to)
            .query_async(&mut connection)
            .await
            .map_err(|error| self.error("list usage hours", error))?;

        // Which dimensions each hour has, one pipeline per batch of hours.
        let mut buckets = Vec::new();
        for batch in hours.chunks(HOURS_PER_PIPELINE) {
            let mut pipe = redis::pipe();
            for hour in batch {
                pipe.smembers(self.index_key(*hour));
            }
            let members: Vec<Vec<String>> =
                pipe.query_async(&mut connection).await.map_err(|error| self.error("list usage buckets", error))?;
            for (hour, members) in batch.iter().zip(members) {
                for member in members {
                    let Some((client_key, provider, model)) = split_dimensions(&member) else {
                        tracing::warn!(hour, member, "skipping a malformed usage index entry in Redis");
                        continue;
                    };
                    if matches(filter, &client_key, &provider, &model) {
                        buckets.push((*hour, member, client_key, provider, model));
                    }
                }
            }
        }

        // The counters of each matching bucket.
        let mut aggregate = Aggregate::default();
        for batch in buckets.chunks(HOURS_PER_PIPELINE) {
            let mut pipe = redis::pipe();
            for (hour, member, ..) in batch {
                pipe.hmget(format!("{}usage:h:{hour}:{member}", self.prefix), &FIELDS[..]);
            }
            let values: Vec<Vec<Option<u64>>> =
                pipe.query_async(&mut connection).await.map_err(|error| self.error("read usage buckets", error))?;
            for ((_, _, client_key, provider, model), fields) in batch.iter().zip(values) {
                let mut counters = [0u64; 5];
                for (counter, value) in counters.iter_mut().zip(fields) {
                    *counter = value.unwrap_or(0);
                }
                aggregate.add(client_key, provider, model, &Totals::from_array(counters));
            }
        }
        Ok(aggregate.into_rows())
    }

    pub async fn month_cost_micro_usd(&self, client_key: &str, now_unix: u64) -> Result<u64, UsageError> {
        let (month_start, _) = month_bounds(now_unix);
        let key = format!("{}usage:month:{}:{}", self.prefix, month_label(month_start), escape(client_key));
        let mut connection = self.connection().await?;
        let cost: Option<u64> =
            redis::cmd("GET").arg(&key).query_async(&mut connection).await.map_err(|error| self.error("read the month's cost", error))?;
        Ok(cost.unwrap_or(0))
    }

    pub async fn take_rate(&self, client_key: &str, limit_per_minute: u32, now_unix: u64) -> Result<RateDecision, UsageError> {
        let key = format!("{}rate:{}:{}", self.prefix, escape(client_key), rate::window(now_unix));
        let mut connection = self.connection().await?;
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, RATE_KEY_TTL_SECONDS as i64)
            .ignore()
            .query_async(&mut connection)
            .await
            .map_err(|error| self.error("count a request", error))?;
        Ok(rate::decide(count, limit_per_minute, now_unix))
    }

    pub async fn ping(&self) -> Result<(), UsageError> {
        let mut connection = self.connection().await?;
        let _: String = redis::cmd("PING").query_async(&mut connection).await.map_err(|error| self.error("ping", error))?;
        Ok(())
    }

    /// Returns the shared connection, opened on first use. The next call retries a failed
    /// open. Once open, the manager reconnects by itself.
    async fn connection(&self) -> Result<ConnectionManager, UsageError> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    // Reconnect attempts after a lost connection, before calls fail.
                    .set_number_of_retries(2);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .map_err(|error| self.error("connect", error))?;
        Ok(connection.clone())
    }

    fn hours_key(&self) -> String {
        format!("{}usage:hours", self.prefix)
    }

    fn index_key(&self, hour: u64) -> String {
        format!("{}usage:h:{hour}:index", self.prefix)
    }

    fn error(&self, action: &'static str, error: redis::RedisError) -> UsageError {
        UsageError::Redis { action, url: self.redacted_url.clone(), error }
    }
}

/// Redis integers are signed 64-bit; larger counts are stored as the largest one.
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn dimensions(client_key: &str, provider: &str, model: &str) -> String {
    format!("{}:{}:{}", escape(client_key), escape(provider), escape(model))
}

fn split_dimensions(member: &str) -> Option<(String, String, String)> {
    let mut parts = member.split(':');
    let client_key = unescape(parts.next()?)?;
    let provider = unescape(parts.next()?)?;
    let model = unescape(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    Some((client_key, provider, model))
}

fn escape(part: &str) -> String {
    part.replace('%', "%25").replace(':', "%3A")
}

fn unescape(part: &str) -> Option<String> {
    let mut out = String::with_capacity(part.len());
    let mut rest = part;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("%25") => out.push('%'),
            Some("%3A") => out.push(':'),
            _ => return None,
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// Replaces the URL's password with `***`, so the URL is safe for logs and messages.
pub(crate) fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(a Redis URL that does not parse)".to_string();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_round_trip() {
        for (client_key, provider, model) in [("team:a", "workers-ai", "@cf/deepgram/aura-2-en"), ("50%", "openai", "tts-1"), ("", "", "")] {
            let joined = dimensions(client_key, provider, model);
            assert_eq!(joined.matches(':').count(), 2, "{joined}");
            assert_eq!(
                split_dimensions(&joined),
                Some((client_key.to_string(), provider.to_string(), model.to_string()))
            );
        }
        assert_eq!(split_dimensions("a:b"), None);
        assert_eq!(split_dimensions("a%zz:b:c"), None);
    }

    #[test]
    fn url_password_is_redacted() {
        let redacted = redact_url("redis://:hunter2@127.0.0.1:6380/2");
        assert!(!redacted.contains("hunter2"), "{redacted}");
        assert!(redacted.contains("127.0.0.1:6380"), "{redacted}");

        let redacted = redact_url("redis://user:hunter2@127.0.0.1/");
        assert!(!redacted.contains("hunter2"), "{redacted}");
        assert!(!redact_url("redis://hunter2@[").contains("hunter2"));
    }
}
