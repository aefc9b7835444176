use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::*;
use crate::cache::{AudioCache, CacheKey, now_unix};

const DAY: u64 = 24 * 3600;

fn key(provider: &str, text: &str) -> CacheKey {
    CacheKey {
        provider: provider.into(),
        model: "model-1".into(),
        voice: "voice-1".into(),
        container: "mp3".into(),
        sample_rate: Some(24_000),
        bitrate: None,
        speed: None,
        language: None,
        instructions: None,
        options: String::new(),
        text: text.into(),
    }
}

fn audio(data: &[u8]) -> CachedAudio {
    CachedAudio::new("audio/mpeg", "mp3", Bytes::copy_from_slice(data), Some(data.len() as u32), now_unix(), DAY)
}

fn open(root: &Path, max_bytes: u64) -> AudioCache {
    AudioCache::Disk(DiskCache::open(root, max_bytes, 30 * DAY).unwrap())
}

/// Lists every regular file under `tts/`, with its size.
fn files(root: &Path) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    for provider in fs::read_dir(root.join("tts")).unwrap() {
        let provider = provider.unwrap().path();
        for file in fs::read_dir(&provider).unwrap() {
            let file = file.unwrap();
            let name = file.file_name().to_string_lossy().into_owned();
            found.push((name, file.metadata().unwrap().len()));
        }
    }
    found.sort();
    found
}

fn folder_bytes(root: &Path) -> u64 {
    files(root).iter().map(|(_, size)| size).sum()
}

fn entry_size(data: &[u8]) -> u64 {
    (entry::encode_header(&audio(data)).len() + data.len()) as u64
}

#[tokio::test]
async fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let key = key("openai", "Hello there.");
    let stored = audio(b"mp3 frames");

    assert_eq!(cache.get(&key).await.unwrap(), None);
    cache.put(&key, &stored).await.unwrap();

    assert_eq!(cache.get(&key).await.unwrap(), Some(stored.clone()));
    assert!(dir.path().join(key.object_path()).is_file());
    let stats = cache.stats().await.unwrap();
    assert_eq!(stats.entries, 1);
    assert_eq!(stats.bytes, entry_size(b"mp3 frames"));
    assert_eq!(stats.max_bytes, Some(1 << 20));
    assert_eq!(stats.bytes, folder_bytes(dir.path()));
}

#[tokio::test]
async fn put_replaces_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let key = key("openai", "Again.");

    cache.put(&key, &audio(b"first")).await.unwrap();
    cache.put(&key, &audio(b"second, longer")).await.unwrap();

    assert_eq!(cache.get(&key).await.unwrap().unwrap().data, Bytes::from_static(b"second, longer"));
    assert_eq!(cache.stats().await.unwrap().entries, 1);
    assert_eq!(files(dir.path()).len(), 1);
}

#[tokio::test]
async fn corrupt_entry_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let key = key("openai", "Corrupt me.");
    cache.put(&key, &audio(b"some audio bytes")).await.unwrap();
    let path = dir.path().join(key.object_path());

    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&path, bytes).unwrap();

    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert!(!path.exists(), "the corrupt entry is still on disk");
    assert_eq!(cache.stats().await.unwrap().entries, 0);
}

#[tokio::test]
async fn truncated_entry_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let key = key("openai", "Cut me short.");
    cache.put(&key, &audio(&[7u8; 4096])).await.unwrap();
    let path = dir.path().join(key.object_path());

    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(2000).unwrap();
    drop(file);

    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert!(!path.exists());

    // A file cut inside its header is deleted the same way.
    cache.put(&key, &audio(b"x")).await.unwrap();
    fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(20).unwrap();
    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert!(!path.exists());
}

#[tokio::test]
async fn crash_before_rename_serves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = key("openai", "Interrupted.");
    let relative = key.object_path();
    let digest = key.digest();
    let folder = dir.path().join("tts/openai");
    fs::create_dir_all(&folder).unwrap();

    // What a crash between fsync and rename leaves: a complete entry under a temporary
    // name, and a second temporary file cut short mid-write.
    let complete = audio(b"complete audio");
    let mut bytes = entry::encode_header(&complete).to_vec();
    bytes.extend_from_slice(&complete.data);
    let temp = folder.join(format!("{TEMP_PREFIX}{digest}-00000000000000aa"));
    fs::write(&temp, &bytes).unwrap();
    let partial = folder.join(format!("{TEMP_PREFIX}{digest}-00000000000000bb"));
    fs::write(&partial, &bytes[..10]).unwrap();

    let cache = open(dir.path(), 1 << 20);

    assert!(!temp.exists(), "open left a temporary file");
    assert!(!partial.exists(), "open left a temporary file");
    assert!(!dir.path().join(&relative).exists());
    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert_eq!(cache.stats().await.unwrap().entries, 0);
}

#[tokio::test]
async fn temp_file_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let key = key("openai", "Not yet renamed.");
    let folder = dir.path().join("tts/openai");
    fs::create_dir_all(&folder).unwrap();

    let complete = audio(b"audio");
    let mut bytes = entry::encode_header(&complete).to_vec();
    bytes.extend_from_slice(&complete.data);
    fs::write(folder.join(format!("{TEMP_PREFIX}{}-0000000000000001", key.digest())), &bytes).unwrap();

    assert_eq!(cache.get(&key).await.unwrap(), None);
}

#[tokio::test]
async fn expired_entry_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let key = key("openai", "Old news.");
    let now = now_unix();

    // Expired by its own expiry time.
    let stale = CachedAudio::new("audio/mpeg", "mp3", Bytes::from_static(b"a"), None, now - 2 * DAY, DAY);
    cache.put(&key, &stale).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert!(!dir.path().join(key.object_path()).exists());

    // Within its own expiry, but older than the cache's TTL (lowered after storing).
    let short_ttl = AudioCache::Disk(DiskCache::open(dir.path(), 1 << 20, DAY).unwrap());
    let long_lived = CachedAudio::new("audio/mpeg", "mp3", Bytes::from_static(b"a"), None, now - 2 * DAY, 365 * DAY);
    short_ttl.put(&key, &long_lived).await.unwrap();
    assert_eq!(short_ttl.get(&key).await.unwrap(), None);
    assert!(!dir.path().join(key.object_path()).exists());
}

#[tokio::test]
async fn eviction_keeps_folder_under_cap() {
    let dir = tempfile::tempdir().unwrap();
    let data = [1u8; 1000];
    let size = entry_size(&data);
    let cap = 3 * size + size / 2;
    let cache = open(dir.path(), cap);

    let keys: Vec<CacheKey> = (0..10).map(|i| key("openai", &format!("clip {i}"))).collect();
    for key in &keys[..3] {
        cache.put(key, &audio(&data)).await.unwrap();
    }
    // Using clip 0 makes clip 1 the least recently used.
    assert!(cache.get(&keys[0]).await.unwrap().is_some());
    cache.put(&keys[3], &audio(&data)).await.unwrap();

    assert!(cache.get(&keys[0]).await.unwrap().is_some(), "the recently used entry was evicted");
    assert_eq!(cache.get(&keys[1]).await.unwrap(), None, "the least recently used entry was kept");
    assert!(folder_bytes(dir.path()) <= cap);

    for key in &keys[4..] {
        cache.put(key, &audio(&data)).await.unwrap();
        assert!(folder_bytes(dir.path()) <= cap, "the folder grew past the cap");
    }
    let stats = cache.stats().await.unwrap();
    assert_eq!(stats.entries, 3);
    assert_eq!(stats.bytes, folder_bytes(dir.path()));
}

#[tokio::test]
async fn entry_larger_than_cap_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 500);
    let key = key("openai", "Too big.");

    cache.put(&key, &audio(&[0u8; 1000])).await.unwrap();

    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert_eq!(folder_bytes(dir.path()), 0);
}

#[tokio::test]
async fn oversized_file_is_deleted_unread() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 4096);
    let key = key("openai", "Planted.");
    let path = dir.path().join(key.object_path());
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, vec![0u8; 5000]).unwrap();

    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert!(!path.exists(), "the oversized file is still on disk");
}

#[tokio::test]
async fn reopen_rebuilds_index_and_recency() {
    let dir = tempfile::tempdir().unwrap();
    let data = [2u8; 500];
    let size = entry_size(&data);
    let keys: Vec<CacheKey> = ["a", "b", "c"].iter().map(|text| key("local", text)).collect();
    {
        let cache = open(dir.path(), 1 << 20);
        for key in &keys {
            cache.put(key, &audio(&data)).await.unwrap();
        }
    }
    // Recency across a restart comes from modification times. Set them explicitly, so the
    // order does not depend on the clock's resolution. b is the least recently used.
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for (key, offset) in keys.iter().zip([3u64, 1, 2]) {
        let file = File::options().write(true).open(dir.path().join(key.object_path())).unwrap();
        file.set_modified(base + Duration::from_secs(offset)).unwrap();
    }

    let reopened = open(dir.path(), 1 << 20);
    assert_eq!(reopened.stats().await.unwrap().entries, 3);
    assert_eq!(reopened.stats().await.unwrap().bytes, 3 * size);
    drop(reopened);

    // Reopening with a cap for two entries evicts the least recently used at open.
    let smaller = open(dir.path(), 2 * size);
    assert_eq!(smaller.get(&keys[1]).await.unwrap(), None);
    assert!(smaller.get(&keys[0]).await.unwrap().is_some());
    assert!(smaller.get(&keys[2]).await.unwrap().is_some());
}

#[tokio::test]
async fn open_deletes_unreadable_and_keeps_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("tts/openai");
    fs::create_dir_all(&folder).unwrap();
    let garbage = folder.join("a".repeat(64));
    fs::write(&garbage, b"not an entry").unwrap();
    let foreign = folder.join("README");
    fs::write(&foreign, b"operator notes").unwrap();

    let cache = open(dir.path(), 1 << 20);

    assert!(!garbage.exists());
    assert!(foreign.exists());
    assert_eq!(cache.stats().await.unwrap().entries, 0);
}

#[tokio::test]
async fn purge_by_provider_and_age() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let now = now_unix();
    let aged = |days: u64| CachedAudio::new("audio/mpeg", "mp3", Bytes::from_static(b"x"), None, now - days * DAY, 30 * DAY);

    let old_openai = key("openai", "old");
    let new_openai = key("openai", "new");
    let old_local = key("local", "old");
    cache.put(&old_openai, &aged(10)).await.unwrap();
    cache.put(&new_openai, &aged(1)).await.unwrap();
    cache.put(&old_local, &aged(10)).await.unwrap();

    let report = cache.purge(Some("openai"), Some(Duration::from_secs(7 * DAY))).await.unwrap();

    assert_eq!(report.entries, 1);
    assert_eq!(report.bytes, folder_bytes(dir.path()) / 2);
    assert_eq!(cache.get(&old_openai).await.unwrap(), None);
    assert!(cache.get(&new_openai).await.unwrap().is_some());
    assert!(cache.get(&old_local).await.unwrap().is_some());

    let report = cache.purge(Some("local"), None).await.unwrap();
    assert_eq!(report.entries, 1);
    assert_eq!(cache.get(&old_local).await.unwrap(), None);

    let report = cache.purge(None, None).await.unwrap();
    assert_eq!(report.entries, 1);
    assert_eq!(folder_bytes(dir.path()), 0);
    assert_eq!(cache.stats().await.unwrap().entries, 0);
}

#[tokio::test]
async fn purge_rejects_bad_provider() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let error = cache.purge(Some("../x"), None).await.unwrap_err();
    assert!(error.to_string().contains("`../x`"), "{error}");
}

#[tokio::test]
async fn deleted_file_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let key = key("openai", "Gone.");
    cache.put(&key, &audio(b"a")).await.unwrap();

    fs::remove_file(dir.path().join(key.object_path())).unwrap();

    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert_eq!(cache.stats().await.unwrap().entries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_respect_cap() {
    let dir = tempfile::tempdir().unwrap();
    let data = [3u8; 700];
    let cap = 5 * entry_size(&data);
    let cache = std::sync::Arc::new(open(dir.path(), cap));

    let mut tasks = Vec::new();
    for writer in 0..8 {
        let cache = std::sync::Arc::clone(&cache);
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let key = key("openai", &format!("writer {writer} clip {}", i % 7));
                cache.put(&key, &audio(&data)).await.unwrap();
                let _ = cache.get(&key).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let stats = cache.stats().await.unwrap();
    assert!(folder_bytes(dir.path()) <= cap);
    assert_eq!(stats.bytes, folder_bytes(dir.path()));
    assert_eq!(stats.entries, files(dir.path()).len() as u64);
}
