//! Configuration of the audio cache: `[cache]` and `[cache.s3]`.

use std::path::PathBuf;

use anyhow::bail;
use serde::Deserialize;

/// Storage and lifetime of cached audio.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Look up and store audio at all. The gateway checks this flag; the `voxgate cache`
    /// commands work on the configured store either way.
    pub enabled: bool,
    /// `disk` for a folder on this machine, `s3` for an S3-compatible bucket shared by
    /// several gateway instances.
    pub backend: CacheBackend,
    /// Folder of the disk backend.
    pub dir: PathBuf,
    /// Size cap of the disk backend, in bytes, headers included. Least recently used
    /// entries are evicted past it. The S3 backend ignores it: size a bucket with a
    /// lifecycle rule instead.
    pub max_bytes: u64,
    /// Recently used clips held in memory in front of the backend, in bytes of audio; 0
    /// turns the memory tier off. A clip over an eighth of this is not held.
    pub memory_max_bytes: u64,
    /// How long an entry may be served after it was stored, in seconds. An entry stored
    /// under a longer TTL is still cut off at this one.
    pub ttl_seconds: u64,
    pub s3: S3Config,
}

/// The store for cached audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    Disk,
    S3,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            backend: CacheBackend::Disk,
            dir: PathBuf::from("target/voxgate-cache/audio"),
            // 1 GiB fits about 10,000 clips of 30 s at 128 kbit/s mp3.
            max_bytes: 1024 * 1024 * 1024,
            // 64 MiB fits about 1,300 clips of 50 KB, a few seconds of speech each.
            memory_max_bytes: 64 * 1024 * 1024,
            // 30 days: long enough to absorb repeated prompts, short enough that a
            // provider's improved voices reach clients within a month.
            ttl_seconds: 30 * 24 * 3600,
            s3: S3Config::default(),
        }
    }
}

/// An S3-compatible bucket (AWS S3, Cloudflare R2, MinIO).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Base URL of the S3 API, such as `https://ACCOUNT.r2.cloudflarestorage.com`. Required:
    /// there is no implicit AWS endpoint, so a missing value never sends audio elsewhere.
    pub endpoint: String,
    /// Bucket name. Required. The gateway does not create it.
    pub bucket: String,
    /// Region used to sign requests; R2 accepts `auto`, MinIO any value.
    pub region: String,
    /// Key prefix inside the bucket, such as `voxgate/prod`, so that one bucket can hold
    /// several caches. Empty for none.
    pub prefix: String,
    /// Accept an `http://` endpoint. Only for a store on a trusted network or loopback.
    pub allow_http: bool,
    /// Environment variable that contains the access key id.
    pub access_key_env: String,
    /// Environment variable that contains the secret access key.
    pub secret_key_env: String,
    /// Time to open a connection to the store, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time for one whole request, body included, in milliseconds.
    pub timeout_ms: u64,
    /// Retries after a failed request. The cache is an optimisation: a store that fails
    /// should cost a request little time, so the default is one retry.
    pub max_retries: u32,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".to_string(),
            prefix: String::new(),
            allow_http: false,
            access_key_env: "AWS_ACCESS_KEY_ID".to_string(),
            secret_key_env: "AWS_SECRET_ACCESS_KEY".to_string(),
            connect_timeout_ms: 2_000,
            // A cached clip is a few MB at most; 10 s is ample on a working network.
            timeout_ms: 10_000,
            max_retries: 1,
        }
    }
}

impl CacheConfig {
    /// Checks the values that serde cannot, naming the key at fault.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.ttl_seconds == 0 {
            bail!("cache.ttl_seconds must be greater than 0; set cache.enabled = false to turn the cache off");
        }
        match self.backend {
            CacheBackend::Disk => {
                if self.max_bytes == 0 {
                    bail!("cache.max_bytes must be greater than 0");
                }
                if self.dir.as_os_str().is_empty() {
                    bail!("cache.dir is empty; name the folder for cached audio");
                }
            }
            CacheBackend::S3 => self.s3.check()?,
        }
        Ok(())
    }
}

impl S3Config {
    fn check(&self) -> anyhow::Result<()> {
        if self.endpoint.is_empty() {
            bail!("cache.s3.endpoint is required with cache.backend = \"s3\", such as \"https://ACCOUNT.r2.cloudflarestorage.com\"");
        }
        let Ok(endpoint) = url::Url::parse(&self.endpoint) else {
            bail!("cache.s3.endpoint `{}` is not a URL", self.endpoint);
        };
        match endpoint.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => bail!("cache.s3.endpoint uses http://; set cache.s3.allow_http = true to allow it"),
            scheme => bail!("cache.s3.endpoint has scheme `{scheme}`; use https:// (or http:// with allow_http)"),
        }
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            bail!("cache.s3.endpoint must not contain credentials; set cache.s3.access_key_env and secret_key_env");
        }
        if self.bucket.is_empty() {
            bail!("cache.s3.bucket is required with cache.backend = \"s3\"");
        }
        if self.region.is_empty() {
            bail!("cache.s3.region is empty; use the store's region, or `auto` for R2");
        }
        let prefix_ok = self.prefix.split('/').filter(|part| !part.is_empty()).all(|part| {
            part != "." && part != ".." && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
        if !prefix_ok {
            bail!("cache.s3.prefix `{}` may only contain letters, digits, `-`, `_`, `.` and `/`", self.prefix);
        }
        if self.access_key_env.is_empty() || self.secret_key_env.is_empty() {
            bail!("cache.s3.access_key_env and cache.s3.secret_key_env must name environment variables");
        }
        if self.connect_timeout_ms == 0 || self.timeout_ms == 0 {
            bail!("cache.s3.connect_timeout_ms and cache.s3.timeout_ms must be greater than 0");
        }
        Ok(())
    }

    /// Returns the prefix without leading or trailing slashes, or an empty string for none.
    pub fn normalized_prefix(&self) -> String {
        self.prefix.split('/').filter(|part| !part.is_empty()).collect::<Vec<_>>().join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<CacheConfig> {
        let config: CacheConfig = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    #[test]
    fn defaults_are_disk() {
        let config = parse("").unwrap();
        assert!(config.enabled);
        assert_eq!(config.backend, CacheBackend::Disk);
        assert_eq!(config.max_bytes, 1 << 30);
        assert_eq!(config.ttl_seconds, 2_592_000);
        assert_eq!(config.s3.access_key_env, "AWS_ACCESS_KEY_ID");
    }

    #[test]
    fn s3_needs_endpoint_and_bucket() {
        let error = parse("backend = \"s3\"\n").unwrap_err().to_string();
        assert!(error.contains("cache.s3.endpoint"), "{error}");

        let error = parse("backend = \"s3\"\n[s3]\nendpoint = \"https://s3.example\"\n").unwrap_err().to_string();
        assert!(error.contains("cache.s3.bucket"), "{error}");
    }

    #[test]
    fn s3_http_needs_allow_http() {
        let text = "backend = \"s3\"\n[s3]\nendpoint = \"http://127.0.0.1:9000\"\nbucket = \"b\"\n";
        let error = parse(text).unwrap_err().to_string();
        assert!(error.contains("allow_http"), "{error}");

        let config = parse(&format!("{text}allow_http = true\n")).unwrap();
        assert!(config.s3.allow_http);
    }

    #[test]
    fn s3_prefix_is_checked() {
        let base = "backend = \"s3\"\n[s3]\nendpoint = \"https://s3.example\"\nbucket = \"b\"\n";
        let config = parse(&format!("{base}prefix = \"/voxgate/prod/\"\n")).unwrap();
        assert_eq!(config.s3.normalized_prefix(), "voxgate/prod");

        let error = parse(&format!("{base}prefix = \"a/../b\"\n")).unwrap_err().to_string();
        assert!(error.contains("cache.s3.prefix"), "{error}");
    }

    #[test]
    fn example_file_shows_defaults() {
        let example = include_str!("../../../voxgate.example.toml");
        let value: toml::Table = toml::from_str(example).unwrap();
        let cache: CacheConfig = value["cache"].clone().try_into().unwrap();
        let defaults = CacheConfig::default();

        assert_eq!(cache.enabled, defaults.enabled);
        assert_eq!(cache.backend, defaults.backend);
        assert_eq!(cache.dir, defaults.dir);
        assert_eq!(cache.max_bytes, defaults.max_bytes);
        assert_eq!(cache.ttl_seconds, defaults.ttl_seconds);
        assert_eq!(cache.s3.region, defaults.s3.region);
        assert_eq!(cache.s3.prefix, defaults.s3.prefix);
        assert_eq!(cache.s3.allow_http, defaults.s3.allow_http);
        assert_eq!(cache.s3.access_key_env, defaults.s3.access_key_env);
        assert_eq!(cache.s3.secret_key_env, defaults.s3.secret_key_env);
        assert_eq!(cache.s3.connect_timeout_ms, defaults.s3.connect_timeout_ms);
        assert_eq!(cache.s3.timeout_ms, defaults.s3.timeout_ms);
        assert_eq!(cache.s3.max_retries, defaults.s3.max_retries);
    }

    #[test]
    fn unknown_backend_is_named() {
        let error = parse("backend = \"redis\"\n").unwrap_err().to_string();
        assert!(error.contains("redis"), "{error}");
        assert!(error.contains("disk"), "{error}");
    }
}
