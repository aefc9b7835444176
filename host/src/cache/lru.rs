//! Size and recency of cache entries, for eviction: the disk backend's index of its files
//! and the memory tier's order of held clips.

use std::collections::{BTreeMap, HashMap};

/// One indexed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// File size in bytes, header included.
    pub bytes: u64,
    /// When the audio was stored, Unix seconds, from the entry's header.
    pub created_unix: u64,
    /// Position in the recency order; larger is more recent.
    tick: u64,
}

/// Entries by relative path (`tts/{provider}/{digest}`), with a least-recently-used order.
/// Recency is a counter, not a clock, so ordering never depends on clock resolution.
#[derive(Debug, Default)]
pub(crate) struct LruIndex {
    entries: HashMap<String, IndexEntry>,
    by_recency: BTreeMap<u64, String>,
    next_tick: u64,
    total_bytes: u64,
}

impl LruIndex {
    /// Adds or replaces an entry and makes it the most recently used.
    pub fn insert(&mut self, path: &str, bytes: u64, created_unix: u64) {
        self.remove(path);
        let tick = self.take_tick();
        self.entries.insert(path.to_string(), IndexEntry { bytes, created_unix, tick });
        self.by_recency.insert(tick, path.to_string());
        self.total_bytes = self.total_bytes.saturating_add(bytes);
    }

    /// Makes an entry the most recently used; does nothing for an unknown path.
    pub fn touch(&mut self, path: &str) {
        let tick = self.take_tick();
        let Some(entry) = self.entries.get_mut(path) else {
            return;
        };
        self.by_recency.remove(&entry.tick);
        entry.tick = tick;
        self.by_recency.insert(tick, path.to_string());
    }

    pub fn remove(&mut self, path: &str) -> Option<IndexEntry> {
        let entry = self.entries.remove(path)?;
        self.by_recency.remove(&entry.tick);
        self.total_bytes = self.total_bytes.saturating_sub(entry.bytes);
        Some(entry)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    /// Removes least recently used entries until the total is at most `max_bytes`, and
    /// returns their paths and sizes so that the caller deletes the files.
    pub fn evict_to(&mut self, max_bytes: u64) -> Vec<(String, u64)> {
        let mut evicted = Vec::new();
        while self.total_bytes > max_bytes {
            let Some((_, path)) = self.by_recency.pop_first() else {
                break;
            };
            if let Some(entry) = self.entries.remove(&path) {
                self.total_bytes = self.total_bytes.saturating_sub(entry.bytes);
                evicted.push((path, entry.bytes));
            }
        }
        evicted
    }

    /// Removes every entry for which `select` returns true, and returns them.
    pub fn remove_where(&mut self, mut select: impl FnMut(&str, &IndexEntry) -> bool) -> Vec<(String, IndexEntry)> {
        let chosen: Vec<String> =
            self.entries.iter().filter(|(path, entry)| select(path, entry)).map(|(path, _)| path.clone()).collect();
        chosen.into_iter().filter_map(|path| self.remove(&path).map(|entry| (path, entry))).collect()
    }

    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    fn take_tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recent_first() {
        let mut index = LruIndex::default();
        index.insert("a", 10, 0);
        index.insert("b", 10, 0);
        index.insert("c", 10, 0);
        index.touch("a");

        let evicted = index.evict_to(15);

        let paths: Vec<&str> = evicted.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, ["b", "c"]);
        assert_eq!(index.total_bytes(), 10);
        assert!(index.contains("a"));
    }

    #[test]
    fn replacing_updates_total() {
        let mut index = LruIndex::default();
        index.insert("a", 10, 0);
        index.insert("a", 25, 0);
        assert_eq!(index.len(), 1);
        assert_eq!(index.total_bytes(), 25);
        assert_eq!(index.remove("a").map(|entry| entry.bytes), Some(25));
        assert_eq!(index.total_bytes(), 0);
    }

    #[test]
    fn remove_where_selects() {
        let mut index = LruIndex::default();
        index.insert("tts/openai/1", 1, 100);
        index.insert("tts/local/2", 2, 100);
        index.insert("tts/openai/3", 4, 900);

        let removed = index.remove_where(|path, entry| path.starts_with("tts/openai/") && entry.created_unix < 500);

        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].0, "tts/openai/1");
        assert_eq!(index.total_bytes(), 6);
    }
}
