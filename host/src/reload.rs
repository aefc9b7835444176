//! Swapping plugins while the gateway serves: a reload on demand, and a watcher that
//! reloads when the plugin folder changes.
//!
//! A reload compiles and checks every component off the request path, then replaces the
//! loaded set in one step. Requests in flight keep the plugin version they started with,
//! because each holds its own reference to it. A file that fails its checks leaves the last
//! good version of the same file serving, and the failure is logged and shown in
//! `GET /v1/providers`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::gateway::{Gateway, PluginSet};
use crate::plugin::{Rejection, load_dir};
use crate::text::escape_controls;

/// The changes a reload made.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ReloadReport {
    /// Plugin ids that are new, or whose component changed.
    pub loaded: Vec<String>,
    /// Plugin ids whose file was removed.
    pub removed: Vec<String>,
    /// Files that failed their checks, with the reason.
    pub rejected: Vec<RejectedFile>,
    /// Plugin ids that still serve their previous version because the new file failed.
    pub kept_previous: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectedFile {
    pub file: String,
    pub reason: String,
}

/// Reloads the plugin folder. Compiling components is CPU work, so async callers run this
/// on a blocking thread.
pub fn reload(gateway: &Gateway) -> anyhow::Result<ReloadReport> {
    let report = load_dir(&gateway.engine, gateway.config())?;
    let old = gateway.plugins();
    let mut next = PluginSet::from(report);
    let mut summary = ReloadReport::default();

    // A file that now fails keeps serving its last good version.
    for rejection in &next.rejected {
        let previous = old.plugins.values().find(|plugin| plugin.file == rejection.file);
        if let Some(previous) = previous
            && !next.plugins.contains_key(previous.id())
        {
            summary.kept_previous.push(previous.id().to_string());
            next.plugins.insert(previous.id().to_string(), previous.clone());
        }
    }

    for (id, plugin) in &next.plugins {
        let changed = old.plugins.get(id).is_none_or(|previous| previous.digest != plugin.digest);
        if changed {
            summary.loaded.push(id.clone());
        }
    }
    summary.removed = old.plugins.keys().filter(|id| !next.plugins.contains_key(*id)).cloned().collect();
    summary.rejected = next.rejected.iter().map(rejected_file).collect();

    for id in &summary.loaded {
        let plugin = &next.plugins[id];
        tracing::info!(provider = %id, version = %plugin.info.version, file = %escape_controls(&plugin.file.display().to_string()), "plugin swapped in");
    }
    for id in &summary.removed {
        tracing::info!(provider = %id, "plugin removed");
    }
    for rejection in &next.rejected {
        tracing::error!(file = %escape_controls(&rejection.file.display().to_string()), reason = %rejection.reason, "rejected plugin");
    }
    for id in &summary.kept_previous {
        tracing::warn!(provider = %id, "the new component failed its checks; the previous version keeps serving");
    }

    gateway.replace_plugins(next);
    Ok(summary)
}

fn rejected_file(rejection: &Rejection) -> RejectedFile {
    RejectedFile {
        file: rejection.file.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default(),
        reason: rejection.reason.clone(),
    }
}

/// The name, size and modification time of each component in the folder.
type FolderState = BTreeMap<PathBuf, (u64, Option<SystemTime>)>;

fn folder_state(dir: &Path) -> FolderState {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return FolderState::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "wasm"))
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            Some((entry.path(), (metadata.len(), metadata.modified().ok())))
        })
        .collect()
}

/// Polls the plugin folder every `interval` and reloads once a change has held still for
/// one more interval, so a file being copied in is not loaded half written.
pub fn spawn_watcher(gateway: Arc<Gateway>, interval: Duration) {
    tokio::spawn(async move {
        let dir = gateway.config().plugins.dir.clone();
        let mut loaded_state = folder_state(&dir);
        let mut pending: Option<FolderState> = None;
        loop {
            tokio::time::sleep(interval).await;
            let current = folder_state(&dir);
            if current == loaded_state {
                pending = None;
                continue;
            }
            if pending.as_ref() != Some(&current) {
                pending = Some(current);
                continue;
            }

            tracing::info!(dir = %dir.display(), "plugin folder changed; reloading");
            let worker = gateway.clone();
            match tokio::task::spawn_blocking(move || reload(&worker)).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::error!(error = %format!("{error:#}"), "plugin reload failed"),
                Err(error) => tracing::error!(%error, "plugin reload task failed"),
            }
            loaded_state = pending.take().unwrap_or_default();
        }
    });
}
