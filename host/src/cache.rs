//! The audio cache: finished audio stored under a digest of everything that shaped it.
//!
//! [`AudioCache`] dispatches to a folder on this machine ([`disk`]) or to an S3-compatible
//! bucket that several gateway instances share ([`s3`]). Both store the same bytes (see
//! [`entry`]): a header with the content type, times, billed characters and the audio's
//! SHA-256, then the audio. A read verifies length and checksum before anything is
//! returned; a corrupt, truncated or expired entry is deleted and reported as a miss.
//! [`TieredCache`], which the gateway uses, keeps recently used clips in memory in front
//! of either backend ([`memory`]).
//!
//! ```no_run
//! # async fn example(config: &crate::config::CacheConfig, key: crate::cache::CacheKey) -> Result<(), crate::cache::CacheError> {
//! let cache = crate::cache::AudioCache::open(config)?;
//! if let Some(audio) = cache.get(&key).await? {
//!     println!("hit: {} bytes of {}", audio.data.len(), audio.content_type);
//! }
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{CacheBackend, CacheConfig};

pub mod cli;
mod disk;
mod entry;
mod key;
mod lru;
mod memory;
mod s3;

pub use entry::CachedAudio;
pub use key::CacheKey;

use disk::DiskCache;
use memory::MemoryTier;
use s3::S3Cache;

/// A cache of finished audio on one backend.
pub enum AudioCache {
    Disk(DiskCache),
    S3(S3Cache),
}

/// Counts of a cache's entries and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStats {
    /// `disk` or `s3`.
    pub backend: &'static str,
    pub entries: u64,
    /// Stored bytes, headers included.
    pub bytes: u64,
    /// The disk backend's size cap; `None` for S3, where a bucket lifecycle rule bounds
    /// the size.
    pub max_bytes: Option<u64>,
}

/// Counts of the entries a purge deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub entries: u64,
    /// Stored bytes removed, headers included.
    pub bytes: u64,
}

/// A failure of the cache's store. Callers treat it as a miss and carry on: the cache
/// only ever saves work.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("audio cache: failed to {action} {}: {error}", path.display())]
    Io { action: &'static str, path: PathBuf, error: std::io::Error },
    #[error("audio cache: failed to {action} `{path}` in bucket `{bucket}` at {endpoint}: {error}")]
    Store { action: &'static str, endpoint: String, bucket: String, path: String, error: object_store::Error },
    #[error("audio cache: cache.s3.{key} names the environment variable {variable}, which is not set; export it or name another variable")]
    MissingCredential { key: &'static str, variable: String },
    #[error("audio cache: invalid configuration: {0}")]
    Config(String),
    #[error("audio cache: `{0}` is not a provider id; ids contain only a-z, 0-9 and `-`")]
    InvalidProvider(String),
    #[error("audio cache: a background task failed: {0}")]
    Task(String),
}

impl AudioCache {
    /// Opens the configured backend. This is synchronous. The disk backend scans its folder
    /// to build its index and removes temporary files that a crash left. The S3 backend only
    /// builds a client and sends no request until the first `get` or `put`.
    pub fn open(config: &CacheConfig) -> Result<AudioCache, CacheError> {
        match config.backend {
            CacheBackend::Disk => Ok(AudioCache::Disk(DiskCache::open(&config.dir, config.max_bytes, config.ttl_seconds)?)),
            CacheBackend::S3 => Ok(AudioCache::S3(S3Cache::open(&config.s3, config.ttl_seconds)?)),
        }
    }

    /// Looks up `key`. A missing, expired, corrupt or truncated entry is `Ok(None)`; the
    /// last three are deleted. An error means the store itself failed.
    pub async fn get(&self, key: &CacheKey) -> Result<Option<CachedAudio>, CacheError> {
        match self {
            AudioCache::Disk(disk) => disk.get(key).await,
            AudioCache::S3(s3) => s3.get(key).await,
        }
    }

    /// Stores complete audio under `key`, replacing any entry there. A reader sees the old
    /// entry or the new one, never part of one.
    pub async fn put(&self, key: &CacheKey, audio: &CachedAudio) -> Result<(), CacheError> {
        match self {
            AudioCache::Disk(disk) => disk.put(key, audio).await,
            AudioCache::S3(s3) => s3.put(key, audio).await,
        }
    }

    /// Counts entries and bytes. On S3 this lists the whole prefix.
    pub async fn stats(&self) -> Result<CacheStats, CacheError> {
        match self {
            AudioCache::Disk(disk) => disk.stats().await,
            AudioCache::S3(s3) => s3.stats().await,
        }
    }

    /// Deletes the entries of `provider` (all when `None`) that were stored at least
    /// `older_than` ago (all when `None`). The disk backend goes by each entry's created
    /// time; S3 by the object's last-modified time, which is when it was stored.
    pub async fn purge(&self, provider: Option<&str>, older_than: Option<Duration>) -> Result<PurgeReport, CacheError> {
        if let Some(provider) = provider
            && !key::is_provider_id(provider)
        {
            return Err(CacheError::InvalidProvider(provider.to_string()));
        }
        match self {
            AudioCache::Disk(disk) => disk.purge(provider, older_than).await,
            AudioCache::S3(s3) => s3.purge(provider, older_than).await,
        }
    }

    /// Returns the configured time to live, for building entries with [`CachedAudio::new`].
    pub fn ttl_seconds(&self) -> u64 {
        match self {
            AudioCache::Disk(disk) => disk.ttl_seconds(),
            AudioCache::S3(s3) => s3.ttl_seconds(),
        }
    }

    /// Checks whether the entry at `path` (see [`CacheKey::object_path`]) may still be
    /// served from a copy in memory. The disk backend checks that its file exists and counts
    /// the use for its eviction order. S3 relies on the memory tier's trust window.
    fn still_holds(&self, path: &str) -> bool {
        match self {
            AudioCache::Disk(disk) => disk.still_holds(path),
            AudioCache::S3(_) => true,
        }
    }
}

/// The gateway's cache: recently used clips in memory (`cache.memory_max_bytes`) in front of
/// the configured backend.
pub struct TieredCache {
    backend: AudioCache,
    memory: MemoryTier,
}

impl TieredCache {
    /// Opens the configured backend when `cache.enabled` is set, else returns `None`.
    pub fn open_if_enabled(config: &CacheConfig) -> Result<Option<TieredCache>, CacheError> {
        if !config.enabled {
            return Ok(None);
        }
        let backend = AudioCache::open(config)?;
        let trust = match config.backend {
            CacheBackend::Disk => None,
            CacheBackend::S3 => Some(memory::S3_TRUST),
        };
        Ok(Some(TieredCache { backend, memory: MemoryTier::new(config.memory_max_bytes, trust) }))
    }

    /// Looks `key` up in memory, then in the backend; a clip found in the backend is held in
    /// memory for the next request.
    pub async fn get(&self, key: &CacheKey) -> Result<Option<CachedAudio>, CacheError> {
        let path = key.object_path();
        let ttl_seconds = self.backend.ttl_seconds();
        let now = now_unix();
        let expired = |audio: &CachedAudio| is_expired(audio.created_unix, audio.expires_unix, ttl_seconds, now);
        if let Some(audio) = self.memory.get(&path, expired) {
            if self.backend.still_holds(&path) {
                return Ok(Some(audio));
            }
            self.memory.remove(&path);
        }
        let found = self.backend.get(key).await?;
        if let Some(audio) = &found {
            self.memory.put(&path, audio);
        }
        Ok(found)
    }

    /// Stores complete audio in the backend, then keeps a copy in memory.
    pub async fn put(&self, key: &CacheKey, audio: &CachedAudio) -> Result<(), CacheError> {
        self.backend.put(key, audio).await?;
        self.memory.put(&key.object_path(), audio);
        Ok(())
    }
}

/// Checks whether an entry may no longer be served at `now_unix`, because it is past its own
/// expiry or older than the configured TTL. The TTL may have been lowered since the entry was
/// stored.
pub(crate) fn is_expired(audio_created: u64, audio_expires: u64, ttl_seconds: u64, now_unix: u64) -> bool {
    now_unix >= audio_expires || now_unix >= audio_created.saturating_add(ttl_seconds)
}

/// Returns the current time in Unix seconds, or 0 if the clock is before 1970.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn cache_is_shareable_across_tasks() {
        assert_send_sync::<AudioCache>();

        let dir = tempfile::tempdir().unwrap();
        let config = CacheConfig { dir: dir.path().to_path_buf(), ..CacheConfig::default() };
        let cache = AudioCache::open(&config).unwrap();
        let key = CacheKey {
            provider: "openai".into(),
            model: "tts-1".into(),
            voice: "alloy".into(),
            container: "mp3".into(),
            sample_rate: None,
            bitrate: None,
            speed: None,
            language: None,
            instructions: None,
            options: String::new(),
            text: "Hi.".into(),
        };
        let audio = CachedAudio::new("audio/mpeg", "mp3", bytes::Bytes::new(), None, 0, 1);
        // A request handler spawns these futures on tokio, which needs them to be Send.
        assert_send(&cache.get(&key));
        assert_send(&cache.put(&key, &audio));
        assert_send(&cache.stats());
        assert_send(&cache.purge(None, None));
    }

    #[test]
    fn expiry_uses_both_limits() {
        assert!(!is_expired(100, 200, 1000, 150));
        assert!(is_expired(100, 200, 1000, 200));
        // A TTL lowered to 10 s cuts off an entry stored with 100 s.
        assert!(is_expired(100, 200, 10, 110));
        assert!(!is_expired(100, 200, 10, 109));
        assert!(!is_expired(u64::MAX - 1, u64::MAX, u64::MAX, 5));
    }
}
