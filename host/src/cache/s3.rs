//! The S3 backend: one object per entry at `{prefix}/tts/{provider}/{digest}` in a bucket
//! that several gateway instances share.
//!
//! An S3 PUT replaces an object whole, so readers never see part of an entry. The size cap
//! and LRU eviction of the disk backend are not enforced here: listing a bucket on every
//! write would cost more than the cache saves. Operators bound the bucket with a lifecycle
//! rule (expire objects under the prefix after `ttl_seconds`), and `get` checks the TTL of
//! each entry it reads.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, StaticCredentialProvider,
};

use super::entry::{self, CachedAudio, MAX_ENTRY_BYTES};
use super::{CacheError, CacheKey, CacheStats, PurgeReport, is_expired, now_unix};
use crate::config::S3Config;

/// A bucket in an S3-compatible store.
pub struct S3Cache {
    store: Arc<AmazonS3>,
    /// For error messages; the configuration check keeps credentials out of it.
    endpoint: String,
    bucket: String,
    /// Key prefix without slashes at either end; empty for none.
    prefix: String,
    ttl_seconds: u64,
}

impl S3Cache {
    /// Builds a client for the configured bucket. Makes no request.
    ///
    /// Credentials always come from the two configured environment variables and are
    /// passed as a static credential provider. So the client never falls back to AWS's
    /// instance metadata, container or web identity providers. The endpoint is always
    /// explicit, so the client never addresses AWS by default.
    pub fn open(config: &S3Config, ttl_seconds: u64) -> Result<S3Cache, CacheError> {
        Self::open_with(config, ttl_seconds, |variable| std::env::var(variable).ok())
    }

    /// Opens like [`S3Cache::open`], but reads environment variables through `lookup`.
    pub fn open_with(
        config: &S3Config,
        ttl_seconds: u64,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<S3Cache, CacheError> {
        if config.endpoint.is_empty() || config.bucket.is_empty() {
            return Err(CacheError::Config(
                "cache.s3.endpoint and cache.s3.bucket are required with cache.backend = \"s3\"".to_string(),
            ));
        }
        // The endpoint is logged and named in errors, so it must not carry credentials.
        let has_userinfo = url::Url::parse(&config.endpoint)
            .map(|endpoint| !endpoint.username().is_empty() || endpoint.password().is_some())
            .unwrap_or(false);
        if has_userinfo {
            return Err(CacheError::Config(
                "cache.s3.endpoint must not contain credentials; set cache.s3.access_key_env and secret_key_env".to_string(),
            ));
        }
        let key_id = read_credential(&lookup, "access_key_env", &config.access_key_env)?;
        let secret_key = read_credential(&lookup, "secret_key_env", &config.secret_key_env)?;
        let credentials = StaticCredentialProvider::new(AwsCredential { key_id, secret_key, token: None });

        let timeout = Duration::from_millis(config.timeout_ms);
        let client_options = ClientOptions::new()
            .with_allow_http(config.allow_http)
            .with_connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .with_timeout(timeout);
        // object_store retries 10 times for up to 3 minutes by default; a cache must give
        // up fast and let the request go to the provider.
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(500),
                base: 2.0,
            },
            max_retries: config.max_retries as usize,
            retry_timeout: timeout,
        };

        let store = AmazonS3Builder::new()
            .with_endpoint(&config.endpoint)
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_credentials(Arc::new(credentials))
            .with_allow_http(config.allow_http)
            // Path-style requests (`{endpoint}/{bucket}/{key}`) work on every
            // S3-compatible store; virtual-hosted style needs DNS per bucket.
            .with_virtual_hosted_style_request(false)
            .with_client_options(client_options)
            .with_retry(retry)
            .build()
            .map_err(|error| CacheError::Config(format!("cache.s3: {error}")))?;

        tracing::info!(endpoint = %config.endpoint, bucket = %config.bucket, prefix = %config.normalized_prefix(), "opened the S3 audio cache");
        Ok(S3Cache {
            store: Arc::new(store),
            endpoint: config.endpoint.clone(),
            bucket: config.bucket.clone(),
            prefix: config.normalized_prefix(),
            ttl_seconds,
        })
    }

    pub async fn get(&self, key: &CacheKey) -> Result<Option<CachedAudio>, CacheError> {
        let path = self.path(&key.object_path());

        let result = match self.store.get(&path).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(self.error("read", &path, error)),
        };
        if result.meta.size > MAX_ENTRY_BYTES {
            // No entry this cache writes is that large, so something else wrote the object.
            tracing::warn!(bucket = %self.bucket, path = %path, size = result.meta.size, "deleting an audio cache entry larger than the cache allows");
            self.delete(&path).await;
            return Ok(None);
        }
        let bytes = result.bytes().await.map_err(|error| self.error("read", &path, error))?;

        let audio = match entry::decode_entry(bytes) {
            Ok(audio) => audio,
            Err(error) => {
                tracing::warn!(bucket = %self.bucket, path = %path, %error, "deleting a corrupt audio cache entry");
                self.delete(&path).await;
                return Ok(None);
            }
        };
        if is_expired(audio.created_unix, audio.expires_unix, self.ttl_seconds, now_unix()) {
            tracing::debug!(bucket = %self.bucket, path = %path, "deleting an expired audio cache entry");
            self.delete(&path).await;
            return Ok(None);
        }
        Ok(Some(audio))
    }

    pub async fn put(&self, key: &CacheKey, audio: &CachedAudio) -> Result<(), CacheError> {
        let path = self.path(&key.object_path());
        let header = entry::encode_header(audio);
        let size = (header.len() + audio.data.len()) as u64;
        if size > MAX_ENTRY_BYTES {
            tracing::debug!(size, "audio larger than the cache allows; not stored");
            return Ok(());
        }
        // Two chunks, so the audio is sent from its buffer without a copy.
        let payload = PutPayload::from_iter([header, audio.data.clone()]);
        self.store.put(&path, payload).await.map_err(|error| self.error("write", &path, error))?;
        Ok(())
    }

    pub async fn stats(&self) -> Result<CacheStats, CacheError> {
        let folder = self.path("tts");
        let mut listing = self.store.list(Some(&folder));
        let mut stats = CacheStats { backend: "s3", entries: 0, bytes: 0, max_bytes: None };
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|error| self.error("list", &folder, error))?;
            stats.entries += 1;
            stats.bytes += meta.size;
        }
        Ok(stats)
    }

    pub async fn purge(&self, provider: Option<&str>, older_than: Option<Duration>) -> Result<PurgeReport, CacheError> {
        let folder = match provider {
            Some(provider) => self.path(&format!("tts/{provider}")),
            None => self.path("tts"),
        };
        let cutoff = older_than.map(|age| now_unix().saturating_sub(age.as_secs()));

        let mut chosen = Vec::new();
        let mut report = PurgeReport::default();
        let mut listing = self.store.list(Some(&folder));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|error| self.error("list", &folder, error))?;
            // Last-modified is when the entry was stored: entries are never updated in place.
            let stored_unix = u64::try_from(meta.last_modified.timestamp()).unwrap_or(0);
            if cutoff.is_some_and(|cutoff| stored_unix > cutoff) {
                continue;
            }
            report.bytes += meta.size;
            chosen.push(meta.location);
        }

        let locations = futures_util::stream::iter(chosen.into_iter().map(Ok)).boxed();
        let mut deleted = self.store.delete_stream(locations);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) => report.entries += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(self.error("delete entries under", &folder, error)),
            }
        }
        Ok(report)
    }

    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }

    fn path(&self, relative: &str) -> Path {
        if self.prefix.is_empty() {
            return Path::from(relative);
        }
        Path::from(format!("{}/{relative}", self.prefix))
    }

    /// Deletes one entry; a failure is logged, because the caller already treats the entry
    /// as a miss.
    async fn delete(&self, path: &Path) {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(bucket = %self.bucket, path = %path, %error, "could not delete an audio cache entry");
            }
        }
    }

    fn error(&self, action: &'static str, path: &Path, error: object_store::Error) -> CacheError {
        CacheError::Store {
            action,
            endpoint: self.endpoint.clone(),
            bucket: self.bucket.clone(),
            path: path.to_string(),
            error,
        }
    }
}

fn read_credential(
    lookup: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    variable: &str,
) -> Result<String, CacheError> {
    match lookup(variable) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(CacheError::MissingCredential { key, variable: variable.to_string() }),
    }
}

#[cfg(test)]
mod tests;
