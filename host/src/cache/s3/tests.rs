//! The S3 backend against moto's S3 server on loopback. One server serves every scenario
//! in turn, each under its own key prefix, because moto takes a second or two to start.

use bytes::Bytes;

use super::*;
use crate::cache::AudioCache;
use crate::test_servers::{self, ServerProcess};

const BUCKET: &str = "voxgate-test";
const DAY: u64 = 24 * 3600;
const SECRET: &str = "test-secret-do-not-log";

fn config(endpoint: &str, prefix: &str) -> S3Config {
    S3Config {
        endpoint: endpoint.to_string(),
        bucket: BUCKET.to_string(),
        prefix: prefix.to_string(),
        allow_http: true,
        access_key_env: "TEST_S3_KEY".to_string(),
        secret_key_env: "TEST_S3_SECRET".to_string(),
        connect_timeout_ms: 1_000,
        timeout_ms: 5_000,
        max_retries: 0,
        ..S3Config::default()
    }
}

fn lookup(variable: &str) -> Option<String> {
    match variable {
        "TEST_S3_KEY" => Some("test-key".to_string()),
        "TEST_S3_SECRET" => Some(SECRET.to_string()),
        _ => None,
    }
}

fn open(server: &ServerProcess, prefix: &str, ttl_seconds: u64) -> S3Cache {
    S3Cache::open_with(&config(&format!("http://{}", server.addr), prefix), ttl_seconds, lookup).unwrap()
}

fn key(provider: &str, text: &str) -> CacheKey {
    CacheKey {
        provider: provider.into(),
        model: "model-1".into(),
        voice: "voice-1".into(),
        container: "mp3".into(),
        sample_rate: None,
        bitrate: Some(128_000),
        speed: Some(1.25),
        language: Some("en".into()),
        instructions: None,
        options: r#"{"seed":7}"#.into(),
        text: text.into(),
    }
}

fn audio(data: &'static [u8], created_unix: u64, ttl_seconds: u64) -> CachedAudio {
    CachedAudio::new("audio/mpeg", "mp3", Bytes::from_static(data), Some(42), created_unix, ttl_seconds)
}

#[tokio::test]
async fn s3_backend_against_moto() {
    let Some(server) = test_servers::start_moto(BUCKET) else {
        return;
    };

    round_trip_and_shared(&server).await;
    corrupt_and_truncated_are_deleted(&server).await;
    expired_is_deleted(&server).await;
    stats_and_purge(&server).await;
}

async fn round_trip_and_shared(server: &ServerProcess) {
    let first = AudioCache::S3(open(server, "/round-trip/", 30 * DAY));
    let second = AudioCache::S3(open(server, "round-trip", 30 * DAY));
    let key = key("openai", "Shared between instances.");
    let stored = audio(b"mp3 frames from the provider", now_unix(), DAY);

    assert_eq!(first.get(&key).await.unwrap(), None, "round trip: a fresh bucket had an entry");
    first.put(&key, &stored).await.unwrap();

    assert_eq!(first.get(&key).await.unwrap(), Some(stored.clone()), "round trip: the entry differs");
    assert_eq!(second.get(&key).await.unwrap(), Some(stored), "round trip: another instance missed the entry");

    let AudioCache::S3(s3) = &first else { unreachable!() };
    let object = Path::from(format!("round-trip/{}", key.object_path()));
    assert!(s3.store.head(&object).await.is_ok(), "round trip: no object at {object}");
}

async fn corrupt_and_truncated_are_deleted(server: &ServerProcess) {
    let cache = open(server, "corrupt", 30 * DAY);
    let valid = audio(b"0123456789 audio", now_unix(), DAY);
    let mut stored = entry::encode_header(&valid).to_vec();
    stored.extend_from_slice(&valid.data);

    let flipped_key = key("openai", "flipped");
    let mut flipped = stored.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let truncated_key = key("openai", "truncated");
    let truncated = stored[..stored.len() - 3].to_vec();

    for (key, bytes) in [(&flipped_key, flipped), (&truncated_key, truncated)] {
        let path = cache.path(&key.object_path());
        cache.store.put(&path, PutPayload::from(bytes)).await.unwrap();

        assert_eq!(cache.get(key).await.unwrap(), None, "a corrupt entry at {path} was served");
        let head = cache.store.head(&path).await;
        assert!(matches!(head, Err(object_store::Error::NotFound { .. })), "corrupt entry {path} was not deleted");
    }
}

async fn expired_is_deleted(server: &ServerProcess) {
    let cache = open(server, "expired", 30 * DAY);
    let key = key("openai", "Yesterday's news.");
    cache.put(&key, &audio(b"old", now_unix() - 2 * DAY, DAY)).await.unwrap();

    assert_eq!(cache.get(&key).await.unwrap(), None, "expired: the entry was served");
    let head = cache.store.head(&cache.path(&key.object_path())).await;
    assert!(matches!(head, Err(object_store::Error::NotFound { .. })), "expired: the entry was not deleted");

    // Within its own expiry, but past the TTL the cache is configured with now.
    let short_ttl = open(server, "expired", DAY);
    short_ttl.put(&key, &audio(b"old", now_unix() - 2 * DAY, 365 * DAY)).await.unwrap();
    assert_eq!(short_ttl.get(&key).await.unwrap(), None, "expired: the configured TTL was ignored");
}

async fn stats_and_purge(server: &ServerProcess) {
    let cache = AudioCache::S3(open(server, "purge", 30 * DAY));
    let openai = [key("openai", "one"), key("openai", "two")];
    let local = key("local", "three");
    for key in openai.iter().chain([&local]) {
        cache.put(key, &audio(b"12345", now_unix(), DAY)).await.unwrap();
    }
    let entry_bytes = (entry::encode_header(&audio(b"12345", 0, DAY)).len() + 5) as u64;

    let stats = cache.stats().await.unwrap();
    assert_eq!(stats.entries, 3, "stats: {stats:?}");
    assert_eq!(stats.bytes, 3 * entry_bytes, "stats: {stats:?}");
    assert_eq!(stats.max_bytes, None);

    // Every entry was stored moments ago, so nothing is a day old.
    let report = cache.purge(None, Some(Duration::from_secs(DAY))).await.unwrap();
    assert_eq!(report, PurgeReport::default(), "purge by age removed fresh entries");

    let report = cache.purge(Some("openai"), Some(Duration::ZERO)).await.unwrap();
    assert_eq!(report.entries, 2, "purge by provider: {report:?}");
    assert_eq!(report.bytes, 2 * entry_bytes);
    assert_eq!(cache.get(&openai[0]).await.unwrap(), None);
    assert!(cache.get(&local).await.unwrap().is_some(), "purge by provider removed another provider's entry");

    let report = cache.purge(None, None).await.unwrap();
    assert_eq!(report.entries, 1);
    assert_eq!(cache.stats().await.unwrap().entries, 0);

    // Entries of other prefixes are untouched.
    let other = open(server, "round-trip", 30 * DAY);
    assert_eq!(other.stats().await.unwrap().entries, 1, "purge reached outside its prefix");
}

#[tokio::test]
async fn dead_store_fails_without_secret() {
    // A port with nothing listening: bound, then closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let endpoint = format!("http://{addr}");
    let cache = S3Cache::open_with(&config(&endpoint, ""), DAY, lookup).unwrap();

    let error = cache.get(&key("openai", "anyone there?")).await.unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, CacheError::Store { .. }), "{error:?}");
    assert!(message.contains(&endpoint), "{message}");
    assert!(message.contains(BUCKET), "{message}");
    assert!(!message.contains(SECRET), "the error shows the secret key: {message}");
    assert!(!format!("{error:?}").contains(SECRET), "the error's debug form shows the secret key");
}

#[test]
fn missing_credential_names_variable() {
    let config = config("http://127.0.0.1:9", "");
    let result = S3Cache::open_with(&config, DAY, |variable| (variable == "TEST_S3_KEY").then(|| "key".to_string()));

    let Err(error) = result else { panic!("opened without a secret key") };
    let message = error.to_string();
    assert!(message.contains("cache.s3.secret_key_env"), "{message}");
    assert!(message.contains("TEST_S3_SECRET"), "{message}");
}

#[test]
fn endpoint_with_credentials_is_rejected() {
    let config = config("http://user:hunter2@127.0.0.1:9", "");
    let result = S3Cache::open_with(&config, DAY, lookup);

    let Err(error) = result else { panic!("opened an endpoint with credentials in it") };
    let message = error.to_string();
    assert!(message.contains("cache.s3.endpoint"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}
