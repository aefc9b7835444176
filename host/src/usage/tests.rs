//! One behaviour suite for both backends: the embedded store on a temporary file, and the
//! Redis store against a redis-server on loopback that each test starts and kills.

use std::sync::Arc;

use super::*;
use crate::config::UsageConfig;
use crate::test_servers::{self, ServerProcess};

/// 2024-02-29 10:20:00 UTC, a leap day, so month bounds are exercised.
const LEAP_DAY: u64 = 1_709_202_000;
const HOUR: u64 = 3600;
/// 2024-02-01 and 2024-03-01, 00:00 UTC.
const FEBRUARY: u64 = 1_706_745_600;
const MARCH: u64 = 1_709_251_200;

fn record(at_unix: u64, client_key: &str, provider: &str, model: &str, cost: u64) -> UsageRecord {
    UsageRecord {
        at_unix,
        client_key: client_key.into(),
        provider: provider.into(),
        model: model.into(),
        requests: 1,
        characters: 100,
        audio_ms: 2_500,
        cache_hits: 0,
        cost_micro_usd: cost,
    }
}

fn embedded(dir: &tempfile::TempDir) -> UsageStore {
    let config = UsageConfig { path: dir.path().join("nested/usage.redb"), ..UsageConfig::default() };
    UsageStore::open(&config).unwrap()
}

/// Starts a fresh redis-server and opens a store on it, or returns `None` when redis-server
/// is missing.
fn redis(prefix: &str) -> Option<(ServerProcess, UsageStore)> {
    let server = test_servers::start_redis()?;
    let config = UsageConfig {
        backend: UsageBackend::Redis,
        redis_url: format!("redis://{}/", server.addr),
        redis_prefix: prefix.to_string(),
        ..UsageConfig::default()
    };
    let store = UsageStore::open(&config).unwrap();
    Some((server, store))
}

async fn records_add_into_hourly_buckets(store: &UsageStore) {
    // Two records in one hour, one in the next hour, one for another model.
    store.record(&record(LEAP_DAY, "team-a", "openai", "tts-1", 1_500)).await.unwrap();
    store.record(&record(LEAP_DAY + 60, "team-a", "openai", "tts-1", 1_500)).await.unwrap();
    store.record(&record(LEAP_DAY + HOUR, "team-a", "openai", "tts-1", 1_000)).await.unwrap();
    store.record(&record(LEAP_DAY, "team-a", "openai", "tts-1-hd", 3_000)).await.unwrap();
    let mut hit = record(LEAP_DAY, "team-b", "local", "piper", 0);
    hit.cache_hits = 1;
    store.record(&hit).await.unwrap();

    let rows = store.query(&UsageFilter::default()).await.unwrap();

    assert_eq!(rows.len(), 3, "{rows:#?}");
    let tts1 = &rows[0];
    assert_eq!((tts1.client_key.as_str(), tts1.provider.as_str(), tts1.model.as_str()), ("team-a", "openai", "tts-1"));
    assert_eq!(tts1.requests, 3);
    assert_eq!(tts1.characters, 300);
    assert_eq!(tts1.audio_ms, 7_500);
    assert_eq!(tts1.cost_micro_usd, 4_000);
    assert_eq!(rows[1].model, "tts-1-hd");
    assert_eq!(rows[2].client_key, "team-b");
    assert_eq!(rows[2].cache_hits, 1);
}

async fn filters_narrow_rows(store: &UsageStore) {
    store.record(&record(LEAP_DAY, "team-a", "openai", "tts-1", 10)).await.unwrap();
    store.record(&record(LEAP_DAY + 2 * HOUR, "team-a", "openai", "tts-1", 20)).await.unwrap();
    store.record(&record(LEAP_DAY, "team-b", "elevenlabs", "eleven_v3", 40)).await.unwrap();

    let by_client = UsageFilter { client_key: Some("team-b".into()), ..UsageFilter::default() };
    let rows = store.query(&by_client).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].provider, "elevenlabs");

    let by_provider_and_model =
        UsageFilter { provider: Some("openai".into()), model: Some("tts-1".into()), ..UsageFilter::default() };
    assert_eq!(store.query(&by_provider_and_model).await.unwrap()[0].cost_micro_usd, 30);

    // From the middle of the first hour (rounded down) to the start of the third hour
    // (exclusive): only the first hour's buckets.
    let first_hour = UsageFilter { from_unix: Some(LEAP_DAY + 100), to_unix: Some(hour_of(LEAP_DAY) + 2 * HOUR), ..UsageFilter::default() };
    let rows = store.query(&first_hour).await.unwrap();
    assert_eq!(rows.iter().map(|row| row.cost_micro_usd).sum::<u64>(), 50, "{rows:#?}");

    let later = UsageFilter { from_unix: Some(LEAP_DAY + HOUR), ..UsageFilter::default() };
    let rows = store.query(&later).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].cost_micro_usd, 20);

    let nothing = UsageFilter { client_key: Some("team-c".into()), ..UsageFilter::default() };
    assert!(store.query(&nothing).await.unwrap().is_empty());
}

async fn month_cost_follows_calendar(store: &UsageStore) {
    store.record(&record(FEBRUARY - 1, "team-a", "openai", "tts-1", 7)).await.unwrap(); // 31 January
    store.record(&record(FEBRUARY, "team-a", "openai", "tts-1", 100)).await.unwrap();
    store.record(&record(LEAP_DAY, "team-a", "elevenlabs", "eleven_v3", 200)).await.unwrap();
    store.record(&record(MARCH - 1, "team-a", "openai", "tts-1", 300)).await.unwrap();
    store.record(&record(MARCH, "team-a", "openai", "tts-1", 5_000)).await.unwrap();
    store.record(&record(LEAP_DAY, "team-b", "openai", "tts-1", 9_999)).await.unwrap();

    assert_eq!(store.month_cost_micro_usd("team-a", LEAP_DAY).await.unwrap(), 600);
    assert_eq!(store.month_cost_micro_usd("team-a", FEBRUARY).await.unwrap(), 600);
    assert_eq!(store.month_cost_micro_usd("team-a", FEBRUARY - 1).await.unwrap(), 7);
    assert_eq!(store.month_cost_micro_usd("team-a", MARCH).await.unwrap(), 5_000);
    assert_eq!(store.month_cost_micro_usd("team-b", LEAP_DAY).await.unwrap(), 9_999);
    assert_eq!(store.month_cost_micro_usd("team-c", LEAP_DAY).await.unwrap(), 0);
}

async fn rate_limit_per_minute(store: &UsageStore) {
    let minute = 1_709_202_000; // 0 s into a minute
    for expected_remaining in [2, 1, 0] {
        let decision = store.take_rate("team-a", 3, minute + 10).await.unwrap();
        assert_eq!(decision, RateDecision::Allowed { remaining: expected_remaining });
    }
    assert_eq!(store.take_rate("team-a", 3, minute + 15).await.unwrap(), RateDecision::Denied { retry_after_seconds: 45 });
    assert_eq!(store.take_rate("team-b", 3, minute + 15).await.unwrap(), RateDecision::Allowed { remaining: 2 });
    assert_eq!(store.take_rate("team-a", 3, minute + 60).await.unwrap(), RateDecision::Allowed { remaining: 2 });
}

async fn awkward_names_stay_apart(store: &UsageStore) {
    // Separators and escapes inside names must not merge or split dimensions.
    store.record(&record(LEAP_DAY, "a:b", "c", "d", 1)).await.unwrap();
    store.record(&record(LEAP_DAY, "a", "b:c", "d", 2)).await.unwrap();
    store.record(&record(LEAP_DAY, "50%3A", "openai", "@cf/x/y", 4)).await.unwrap();

    let rows = store.query(&UsageFilter::default()).await.unwrap();
    let costs: Vec<(&str, &str, u64)> =
        rows.iter().map(|row| (row.client_key.as_str(), row.provider.as_str(), row.cost_micro_usd)).collect();
    assert_eq!(costs, [("50%3A", "openai", 4), ("a", "b:c", 2), ("a:b", "c", 1)]);
    assert_eq!(store.month_cost_micro_usd("a:b", LEAP_DAY).await.unwrap(), 1);
}

/// Records sent through the batching writer from many tasks at once all arrive, merged into
/// the same totals that one-by-one writes give.
async fn writer_batches_lose_nothing(store: UsageStore) {
    let store = Arc::new(store);
    let writer = UsageWriter::start(store.clone());
    let mut tasks = Vec::new();
    for task in 0..20u64 {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..50u64 {
                // Two hours and two clients, so a batch contains several buckets.
                let at = LEAP_DAY + (n % 2) * HOUR;
                let client = if task % 2 == 0 { "even" } else { "odd" };
                writer.submit(record(at, client, "openai", "tts-1", 10));
                if n % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    writer.flush().await;

    let rows = store.query(&UsageFilter::default()).await.unwrap();
    let requests: u64 = rows.iter().map(|row| row.requests).sum();
    assert_eq!(requests, 1_000, "{rows:#?}");
    let even = store.query(&UsageFilter { client_key: Some("even".into()), ..UsageFilter::default() }).await.unwrap();
    assert_eq!(even[0].characters, 500 * 100);
    assert_eq!(store.month_cost_micro_usd("odd", LEAP_DAY).await.unwrap(), 500 * 10);
    let first_hour = UsageFilter { to_unix: Some(hour_of(LEAP_DAY) + HOUR), ..UsageFilter::default() };
    let first: u64 = store.query(&first_hour).await.unwrap().iter().map(|row| row.requests).sum();
    assert_eq!(first, 500);
}

#[test]
fn merging_keeps_buckets_apart() {
    let mut hit = record(LEAP_DAY + 5, "a", "openai", "tts-1", 0);
    hit.cache_hits = 1;
    let merged = merge_records(vec![
        record(LEAP_DAY, "a", "openai", "tts-1", 10),
        record(LEAP_DAY + HOUR, "a", "openai", "tts-1", 10),
        hit,
        record(LEAP_DAY, "a", "openai", "tts-1-hd", 10),
    ]);

    assert_eq!(merged.len(), 3, "{merged:#?}");
    assert_eq!((merged[0].requests, merged[0].cache_hits, merged[0].cost_micro_usd), (2, 1, 10));
    assert_eq!(merged[0].at_unix, LEAP_DAY, "a merged record keeps the first record's time");
    assert_eq!(merged[1].at_unix, LEAP_DAY + HOUR);
    assert_eq!(merged[2].model, "tts-1-hd");
}

fn hour_of(unix: u64) -> u64 {
    unix - unix % HOUR
}

#[tokio::test]
async fn embedded_records_and_queries() {
    let dir = tempfile::tempdir().unwrap();
    records_add_into_hourly_buckets(&embedded(&dir)).await;
}

#[tokio::test]
async fn embedded_filters() {
    let dir = tempfile::tempdir().unwrap();
    filters_narrow_rows(&embedded(&dir)).await;
}

#[tokio::test]
async fn embedded_month_cost() {
    let dir = tempfile::tempdir().unwrap();
    month_cost_follows_calendar(&embedded(&dir)).await;
}

#[tokio::test]
async fn embedded_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    rate_limit_per_minute(&embedded(&dir)).await;
}

#[tokio::test]
async fn embedded_awkward_names() {
    let dir = tempfile::tempdir().unwrap();
    awkward_names_stay_apart(&embedded(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_writer_batches() {
    let dir = tempfile::tempdir().unwrap();
    writer_batches_lose_nothing(embedded(&dir)).await;
}

#[tokio::test]
async fn embedded_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = embedded(&dir);
        store.record(&record(LEAP_DAY, "team-a", "openai", "tts-1", 123)).await.unwrap();
    }

    let reopened = embedded(&dir);

    assert_eq!(reopened.month_cost_micro_usd("team-a", LEAP_DAY).await.unwrap(), 123);
    assert_eq!(reopened.query(&UsageFilter::default()).await.unwrap()[0].requests, 1);
}

#[tokio::test]
async fn embedded_second_open_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let _first = embedded(&dir);

    let config = UsageConfig { path: dir.path().join("nested/usage.redb"), ..UsageConfig::default() };
    let Err(error) = UsageStore::open(&config) else { panic!("a second open of the same file succeeded") };

    assert!(matches!(error, UsageError::DatabaseInUse { .. }), "{error:?}");
    assert!(error.to_string().contains("usage.redb"), "{error}");
}

#[tokio::test]
async fn redis_records_and_queries() {
    let Some((_server, store)) = redis("voxgate:") else { return };
    records_add_into_hourly_buckets(&store).await;
}

#[tokio::test]
async fn redis_filters() {
    let Some((_server, store)) = redis("voxgate:") else { return };
    filters_narrow_rows(&store).await;
}

#[tokio::test]
async fn redis_month_cost() {
    let Some((_server, store)) = redis("voxgate:") else { return };
    month_cost_follows_calendar(&store).await;
}

#[tokio::test]
async fn redis_rate_limit() {
    let Some((_server, store)) = redis("voxgate:") else { return };
    rate_limit_per_minute(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_writer_batches() {
    let Some((_server, store)) = redis("voxgate:") else { return };
    writer_batches_lose_nothing(store).await;
}

#[tokio::test]
async fn redis_awkward_names() {
    let Some((_server, store)) = redis("voxgate:") else { return };
    awkward_names_stay_apart(&store).await;
}

#[tokio::test]
async fn redis_instances_share_totals_and_limits() {
    let Some((server, first)) = redis("shared:") else { return };
    let config = UsageConfig {
        backend: UsageBackend::Redis,
        redis_url: format!("redis://{}/", server.addr),
        redis_prefix: "shared:".to_string(),
        ..UsageConfig::default()
    };
    let second = UsageStore::open(&config).unwrap();
    let other_deployment = UsageStore::open(&UsageConfig { redis_prefix: "other:".to_string(), ..config }).unwrap();

    first.record(&record(LEAP_DAY, "team-a", "openai", "tts-1", 5)).await.unwrap();
    second.record(&record(LEAP_DAY, "team-a", "openai", "tts-1", 7)).await.unwrap();

    assert_eq!(first.month_cost_micro_usd("team-a", LEAP_DAY).await.unwrap(), 12);
    assert_eq!(second.query(&UsageFilter::default()).await.unwrap()[0].requests, 2);
    assert_eq!(other_deployment.month_cost_micro_usd("team-a", LEAP_DAY).await.unwrap(), 0);

    // Two requests through each instance against a shared limit of 3 per minute.
    let minute = 1_709_202_000;
    let decisions = [
        first.take_rate("team-a", 3, minute).await.unwrap(),
        second.take_rate("team-a", 3, minute).await.unwrap(),
        first.take_rate("team-a", 3, minute).await.unwrap(),
        second.take_rate("team-a", 3, minute).await.unwrap(),
    ];
    let allowed = decisions.iter().filter(|decision| matches!(decision, RateDecision::Allowed { .. })).count();
    assert_eq!(allowed, 3, "{decisions:?}");
    assert_eq!(decisions[3], RateDecision::Denied { retry_after_seconds: 60 });
}

#[tokio::test]
async fn redis_keys_are_documented_names() {
    let Some((server, store)) = redis("voxgate:") else { return };
    store.record(&record(LEAP_DAY, "team:a", "openai", "tts-1", 5)).await.unwrap();
    store.take_rate("team:a", 10, LEAP_DAY).await.unwrap();

    let client = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut connection).await.unwrap();
    keys.sort();

    let hour = hour_of(LEAP_DAY);
    let minute = LEAP_DAY / 60;
    assert_eq!(
        keys,
        [
            format!("voxgate:rate:team%3Aa:{minute}"),
            format!("voxgate:usage:h:{hour}:index"),
            format!("voxgate:usage:h:{hour}:team%3Aa:openai:tts-1"),
            "voxgate:usage:hours".to_string(),
            "voxgate:usage:month:2024-02:team%3Aa".to_string(),
        ]
    );
    let ttl: i64 = redis::cmd("TTL").arg(&keys[1]).query_async(&mut connection).await.unwrap();
    assert!(ttl > 0, "usage keys have no expiry");
}

#[tokio::test]
async fn redis_down_is_an_error_without_password() {
    // A port with nothing listening: bound, then closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = UsageConfig {
        backend: UsageBackend::Redis,
        redis_url: format!("redis://:hunter2@{addr}/"),
        redis_timeout_ms: 500,
        ..UsageConfig::default()
    };
    let store = UsageStore::open(&config).unwrap();

    let error = store.record(&record(LEAP_DAY, "team-a", "openai", "tts-1", 1)).await.unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, UsageError::Redis { .. }), "{error:?}");
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(!message.contains("hunter2"), "the error shows the password: {message}");
    assert!(!format!("{error:?}").contains("hunter2"), "the error's debug form shows the password");
    assert!(store.ping().await.is_err());
}

#[test]
fn store_is_shareable_across_tasks() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<UsageStore>();

    let dir = tempfile::tempdir().unwrap();
    let store = embedded(&dir);
    let record = record(LEAP_DAY, "team-a", "openai", "tts-1", 1);
    let filter = UsageFilter::default();
    // A request handler spawns these futures on tokio, which needs them to be Send.
    assert_send(&store.record(&record));
    assert_send(&store.query(&filter));
    assert_send(&store.month_cost_micro_usd("team-a", LEAP_DAY));
    assert_send(&store.take_rate("team-a", 1, LEAP_DAY));
}
