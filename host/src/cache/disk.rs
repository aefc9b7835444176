//! The disk backend: one file per entry under `{dir}/tts/{provider}/{digest}`.
//!
//! A write goes to a temporary file in the entry's folder (`.tmp-…`), is flushed with
//! fsync, renamed over the final name, and the folder is flushed so the rename survives a
//! power cut. A crash before the rename leaves only a temporary file, which `get` never
//! opens and `open` deletes. An in-memory index, built by scanning the folder at open,
//! tracks sizes and recency: past `max_bytes` the least recently used entries go. A hit
//! also sets the file's modification time, so the recency order survives a restart.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::entry::{self, CachedAudio, MAX_ENTRY_BYTES, MAX_HEADER_LEN};
use super::{CacheError, CacheKey, CacheStats, PurgeReport, is_expired, now_unix};

use super::lru::LruIndex;

/// Temporary files start with this, which no digest does.
const TEMP_PREFIX: &str = ".tmp-";

/// A cache folder on this machine.
pub struct DiskCache {
    shared: Arc<Shared>,
}

struct Shared {
    root: PathBuf,
    max_bytes: u64,
    ttl_seconds: u64,
    index: Mutex<LruIndex>,
}

impl DiskCache {
    /// Opens (creating if needed) the cache folder `root`, deletes temporary files left by
    /// a crash and entries whose header is unreadable, and indexes the rest.
    pub fn open(root: &Path, max_bytes: u64, ttl_seconds: u64) -> Result<DiskCache, CacheError> {
        let entries_dir = root.join("tts");
        fs::create_dir_all(&entries_dir).map_err(|error| io_error("create the folder", &entries_dir, error))?;

        let mut found = Vec::new();
        for provider_dir in read_dir(&entries_dir)? {
            if provider_dir.is_dir() {
                scan_provider_dir(&provider_dir, &mut found)?;
            }
        }

        // Oldest modification time first, so the most recently used end up last.
        found.sort_by_key(|scanned| scanned.modified);
        let mut index = LruIndex::default();
        for scanned in &found {
            index.insert(&scanned.relative, scanned.bytes, scanned.created_unix);
        }

        let shared = Shared { root: root.to_path_buf(), max_bytes, ttl_seconds, index: Mutex::new(index) };
        // The cap may have been lowered since the last run.
        shared.evict();
        tracing::info!(dir = %root.display(), entries = found.len(), "opened the disk audio cache");
        Ok(DiskCache { shared: Arc::new(shared) })
    }

    pub async fn get(&self, key: &CacheKey) -> Result<Option<CachedAudio>, CacheError> {
        let shared = Arc::clone(&self.shared);
        let relative = key.object_path();
        blocking(move || shared.get(&relative)).await
    }

    pub async fn put(&self, key: &CacheKey, audio: &CachedAudio) -> Result<(), CacheError> {
        let shared = Arc::clone(&self.shared);
        let relative = key.object_path();
        let header = entry::encode_header(audio);
        let data = audio.data.clone();
        let created_unix = audio.created_unix;
        blocking(move || shared.put(&relative, &header, &data, created_unix)).await
    }

    pub async fn stats(&self) -> Result<CacheStats, CacheError> {
        let index = self.shared.lock();
        Ok(CacheStats {
            backend: "disk",
            entries: index.len(),
            bytes: index.total_bytes(),
            max_bytes: Some(self.shared.max_bytes),
        })
    }

    pub async fn purge(&self, provider: Option<&str>, older_than: Option<Duration>) -> Result<PurgeReport, CacheError> {
        let shared = Arc::clone(&self.shared);
        let folder = provider.map(|provider| format!("tts/{provider}/"));
        let now = now_unix();
        let cutoff = older_than.map(|age| now.saturating_sub(age.as_secs()));
        blocking(move || Ok(shared.purge(folder.as_deref(), cutoff))).await
    }

    pub fn ttl_seconds(&self) -> u64 {
        self.shared.ttl_seconds
    }

    /// Checks that the entry's file still exists, before a copy in memory is served. A file
    /// deleted by another process leaves the index, and a file still there counts as used.
    pub fn still_holds(&self, relative: &str) -> bool {
        // One `stat` of a recently read path: cheap enough for the async thread.
        let present = fs::symlink_metadata(self.shared.root.join(relative)).is_ok_and(|metadata| metadata.is_file());
        let mut index = self.shared.lock();
        if present {
            index.touch(relative);
        } else {
            index.remove(relative);
        }
        present
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, LruIndex> {
        // A panic elsewhere while holding the lock leaves the index usable: every update
        // is a few map operations, so there is no half-done state worth refusing.
        self.index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, relative: &str) -> Result<Option<CachedAudio>, CacheError> {
        let path = self.root.join(relative);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // Deleted by another process (a `voxgate cache purge`, an operator).
                self.lock().remove(relative);
                return Ok(None);
            }
            Err(error) => return Err(io_error("open", &path, error)),
        };
        let size = file.metadata().map_err(|error| io_error("read the size of", &path, error))?.len();
        if size > self.max_bytes.min(MAX_ENTRY_BYTES) {
            // No entry this cache writes is that large, so something else wrote the file.
            tracing::warn!(path = %path.display(), size, "deleting an audio cache entry larger than the cache allows");
            self.delete(relative);
            return Ok(None);
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|error| io_error("read", &path, error))?;
        let file_len = bytes.len() as u64;

        let audio = match entry::decode_entry(Bytes::from(bytes)) {
            Ok(audio) => audio,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "deleting a corrupt audio cache entry");
                self.delete(relative);
                return Ok(None);
            }
        };
        if is_expired(audio.created_unix, audio.expires_unix, self.ttl_seconds, now_unix()) {
            tracing::debug!(path = %path.display(), "deleting an expired audio cache entry");
            self.delete(relative);
            return Ok(None);
        }

        {
            let mut index = self.lock();
            if index.contains(relative) {
                index.touch(relative);
            } else if path.is_file() {
                // Files are deleted only under this lock, so the file is still there and
                // the index stays in step with the folder.
                index.insert(relative, file_len, audio.created_unix);
            }
        }
        // Best effort: a failure only loses this hit's place in the order after a restart.
        if let Err(error) = file.set_modified(SystemTime::now()) {
            tracing::debug!(path = %path.display(), %error, "could not update an audio cache entry's modification time");
        }
        Ok(Some(audio))
    }

    fn put(&self, relative: &str, header: &[u8], data: &[u8], created_unix: u64) -> Result<(), CacheError> {
        let size = (header.len() + data.len()) as u64;
        if size > self.max_bytes.min(MAX_ENTRY_BYTES) {
            tracing::debug!(size, max_bytes = self.max_bytes, "audio larger than the cache allows; not stored");
            return Ok(());
        }

        let path = self.root.join(relative);
        let Some(folder) = path.parent() else {
            return Err(io_error("find the folder of", &path, io::ErrorKind::InvalidInput.into()));
        };
        if !folder.is_dir() {
            fs::create_dir_all(folder).map_err(|error| io_error("create the folder", folder, error))?;
            // Flush the new provider folder's entry in `tts/` too.
            if let Some(parent) = folder.parent() {
                sync_dir(parent)?;
            }
        }

        let file_name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = folder.join(format!("{TEMP_PREFIX}{file_name}-{:016x}", rand::random::<u64>()));
        if let Err(error) = write_synced(&temp, header, data) {
            let _ = fs::remove_file(&temp);
            return Err(io_error("write", &temp, error));
        }

        let evicted = {
            let mut index = self.lock();
            if let Err(error) = fs::rename(&temp, &path) {
                let _ = fs::remove_file(&temp);
                return Err(io_error("rename a temporary file to", &path, error));
            }
            index.insert(relative, size, created_unix);
            self.remove_evicted(index.evict_to(self.max_bytes))
        };

        sync_dir(folder)?;
        if evicted > 0 {
            tracing::debug!(evicted, "evicted least recently used audio cache entries");
        }
        Ok(())
    }

    fn purge(&self, folder: Option<&str>, cutoff_unix: Option<u64>) -> PurgeReport {
        let mut index = self.lock();
        let removed = index.remove_where(|path, entry| {
            let in_folder = folder.is_none_or(|folder| path.starts_with(folder));
            let old_enough = cutoff_unix.is_none_or(|cutoff| entry.created_unix <= cutoff);
            in_folder && old_enough
        });

        let mut report = PurgeReport::default();
        for (relative, entry) in removed {
            self.remove_file(&relative);
            report.entries += 1;
            report.bytes += entry.bytes;
        }
        report
    }

    /// Evicts entries down to the cap and returns how many were evicted.
    fn evict(&self) -> usize {
        let evicted = self.lock().evict_to(self.max_bytes);
        self.remove_evicted(evicted)
    }

    fn remove_evicted(&self, evicted: Vec<(String, u64)>) -> usize {
        for (relative, _) in &evicted {
            self.remove_file(relative);
        }
        evicted.len()
    }

    fn delete(&self, relative: &str) {
        let mut index = self.lock();
        index.remove(relative);
        self.remove_file(relative);
    }

    fn remove_file(&self, relative: &str) {
        let path = self.root.join(relative);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(path = %path.display(), %error, "could not delete an audio cache entry"),
        }
    }
}

/// An entry file found by the scan at open.
struct ScannedEntry {
    relative: String,
    bytes: u64,
    created_unix: u64,
    modified: SystemTime,
}

fn scan_provider_dir(provider_dir: &Path, found: &mut Vec<ScannedEntry>) -> Result<(), CacheError> {
    let Some(provider) = provider_dir.file_name().and_then(|name| name.to_str()) else {
        return Ok(());
    };
    for path in read_dir(provider_dir)? {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if name.starts_with(TEMP_PREFIX) {
            tracing::info!(path = %path.display(), "deleting a temporary audio cache file left by an interrupted write");
            let _ = fs::remove_file(&path);
            continue;
        }
        if !is_digest(name) || !path.is_file() {
            // Not ours: leave it alone rather than delete an operator's file.
            continue;
        }
        match scan_entry(&path) {
            Ok((bytes, created_unix, modified)) => {
                found.push(ScannedEntry { relative: format!("tts/{provider}/{name}"), bytes, created_unix, modified });
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "deleting an unreadable audio cache entry");
                let _ = fs::remove_file(&path);
            }
        }
    }
    Ok(())
}

/// Reads an entry's header only: size, created time, modification time.
fn scan_entry(path: &Path) -> Result<(u64, u64, SystemTime), String> {
    let mut file = File::open(path).map_err(|error| error.to_string())?;
    let metadata = file.metadata().map_err(|error| error.to_string())?;
    let mut head = Vec::with_capacity(MAX_HEADER_LEN);
    (&mut file).take(MAX_HEADER_LEN as u64).read_to_end(&mut head).map_err(|error| error.to_string())?;
    let header = entry::decode_header(&head).map_err(|error| error.to_string())?;
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    Ok((metadata.len(), header.created_unix, modified))
}

fn is_digest(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, CacheError> {
    let entries = fs::read_dir(dir).map_err(|error| io_error("list", dir, error))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| io_error("list", dir, error))?;
        paths.push(entry.path());
    }
    Ok(paths)
}

fn write_synced(path: &Path, header: &[u8], data: &[u8]) -> io::Result<()> {
    let mut file = File::create_new(path)?;
    file.write_all(header)?;
    file.write_all(data)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> Result<(), CacheError> {
    File::open(dir).and_then(|folder| folder.sync_all()).map_err(|error| io_error("flush the folder", dir, error))
}

fn io_error(action: &'static str, path: &Path, error: io::Error) -> CacheError {
    CacheError::Io { action, path: path.to_path_buf(), error }
}

/// Runs file work on tokio's blocking pool, so a slow disk never stalls the runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CacheError> + Send + 'static,
) -> Result<T, CacheError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| CacheError::Task(error.to_string()))?
}

#[cfg(test)]
mod tests;
