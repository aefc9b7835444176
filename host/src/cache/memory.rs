//! The memory tier: recently used clips held in this process in front of the backend.
//!
//! A hit served from memory skips the backend's read and checksum, which for a clip of a
//! few dozen kilobytes costs more than the rest of the request. Entries are immutable (the
//! key is a digest of everything that shaped the audio), so the tier only has to notice
//! that an entry went away. The disk backend checks that the file still exists before a
//! clip from memory is served. A clip from S3 is served from memory for at most
//! [`S3_TRUST`] and then read from the bucket again, so a purge by another instance takes
//! effect within that time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::CachedAudio;
use super::lru::LruIndex;

/// How long a clip read from S3 is served from memory before the bucket is asked again.
pub(crate) const S3_TRUST: Duration = Duration::from_secs(60);

/// Clips held in memory, least recently used evicted past `max_bytes`.
pub(crate) struct MemoryTier {
    max_bytes: u64,
    /// How long a held clip is served without asking the backend; `None` for no limit.
    trust: Option<Duration>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    order: LruIndex,
    clips: HashMap<String, StoredClip>,
}

struct StoredClip {
    audio: CachedAudio,
    stored_at: Instant,
}

impl MemoryTier {
    pub fn new(max_bytes: u64, trust: Option<Duration>) -> Self {
        Self { max_bytes, trust, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a few map operations, so a panic elsewhere leaves nothing half done.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the clip stored under `path`. A clip that `expired` rejects, or that was stored
    /// longer ago than the trust window, is dropped and `None` is returned.
    pub fn get(&self, path: &str, expired: impl Fn(&CachedAudio) -> bool) -> Option<CachedAudio> {
        let mut state = self.lock();
        let stored = state.clips.get(path)?;
        let stale = self.trust.is_some_and(|trust| stored.stored_at.elapsed() > trust);
        if stale || expired(&stored.audio) {
            state.remove(path);
            return None;
        }
        let audio = stored.audio.clone();
        state.order.touch(path);
        Some(audio)
    }

    /// Holds a clip, evicting the least recently used ones past the size cap. A clip larger
    /// than an eighth of the cap is not held, so one long clip cannot empty the tier.
    pub fn put(&self, path: &str, audio: &CachedAudio) {
        let bytes = audio.data.len() as u64;
        if self.max_bytes == 0 || bytes > self.max_bytes / 8 {
            return;
        }
        let mut state = self.lock();
        state.order.insert(path, bytes, audio.created_unix);
        state.clips.insert(path.to_string(), StoredClip { audio: audio.clone(), stored_at: Instant::now() });
        for (evicted, _) in state.order.evict_to(self.max_bytes) {
            state.clips.remove(&evicted);
        }
    }

    pub fn remove(&self, path: &str) {
        self.lock().remove(path);
    }

    #[cfg(test)]
    fn held_bytes(&self) -> u64 {
        self.lock().order.total_bytes()
    }
}

impl State {
    fn remove(&mut self, path: &str) {
        self.order.remove(path);
        self.clips.remove(path);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn clip(bytes: usize) -> CachedAudio {
        CachedAudio::new("audio/mpeg", "mp3", Bytes::from(vec![7u8; bytes]), Some(3), 100, 1_000)
    }

    #[test]
    fn evicts_least_recently_used() {
        let tier = MemoryTier::new(800, None);
        tier.put("a", &clip(100));
        tier.put("b", &clip(100));
        assert!(tier.get("a", |_| false).is_some(), "a is now the most recently used");

        for name in ["c", "d", "e", "f", "g", "h", "i"] {
            tier.put(name, &clip(100));
        }

        assert!(tier.get("b", |_| false).is_none(), "b was the least recently used");
        assert!(tier.get("a", |_| false).is_some());
        assert_eq!(tier.held_bytes(), 800);
    }

    #[test]
    fn skips_oversized_clip() {
        let tier = MemoryTier::new(800, None);
        tier.put("big", &clip(101));
        assert!(tier.get("big", |_| false).is_none());
        assert_eq!(tier.held_bytes(), 0);
    }

    #[test]
    fn drops_expired_and_stale_clips() {
        let tier = MemoryTier::new(8_000, None);
        tier.put("a", &clip(10));
        assert!(tier.get("a", |audio| audio.expires_unix <= 1_100).is_none());
        assert!(tier.get("a", |_| false).is_none(), "an expired clip is gone for good");

        let tier = MemoryTier::new(8_000, Some(Duration::ZERO));
        tier.put("a", &clip(10));
        std::thread::sleep(Duration::from_millis(2));
        assert!(tier.get("a", |_| false).is_none(), "past the trust window the backend is asked again");
    }

    #[test]
    fn zero_cap_stores_nothing() {
        let tier = MemoryTier::new(0, None);
        tier.put("a", &clip(1));
        assert!(tier.get("a", |_| false).is_none());
    }
}
