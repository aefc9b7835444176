//! `voxgate cache stats` and `voxgate cache purge`.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;

use super::AudioCache;
use crate::config::CacheConfig;

/// Commands on the configured audio cache.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print the number of entries and bytes in the cache.
    Stats,
    /// Delete cached audio: all of it, one provider's, or entries older than an age.
    Purge {
        /// Only this provider's entries, such as `openai`.
        #[arg(long)]
        provider: Option<String>,
        /// Only entries stored at least this long ago: a number with s, m, h or d, such
        /// as `12h` or `7d`.
        #[arg(long, value_parser = parse_age)]
        older_than: Option<Duration>,
    },
}

/// Runs one cache command against the configured backend.
pub async fn run(config: &CacheConfig, command: CacheCommand) -> anyhow::Result<()> {
    let cache = AudioCache::open(config).context("failed to open the audio cache")?;
    let location = location(config);

    match command {
        CacheCommand::Stats => {
            let stats = cache.stats().await?;
            println!("backend:  {} ({location})", stats.backend);
            println!("entries:  {}", stats.entries);
            match stats.max_bytes {
                Some(max) => println!("bytes:    {} of {} ({:.1} %)", stats.bytes, max, percent(stats.bytes, max)),
                None => println!("bytes:    {} (no cap; a bucket lifecycle rule bounds the size)", stats.bytes),
            }
        }
        CacheCommand::Purge { provider, older_than } => {
            let report = cache.purge(provider.as_deref(), older_than).await?;
            println!("deleted {} entries, {} bytes, from {location}", report.entries, report.bytes);
        }
    }
    Ok(())
}

fn location(config: &CacheConfig) -> String {
    match config.backend {
        crate::config::CacheBackend::Disk => config.dir.display().to_string(),
        crate::config::CacheBackend::S3 => {
            let prefix = config.s3.normalized_prefix();
            format!("bucket {} at {}{}{}", config.s3.bucket, config.s3.endpoint, if prefix.is_empty() { "" } else { ", prefix " }, prefix)
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    part as f64 * 100.0 / whole as f64
}

/// Parses an age such as `90s`, `30m`, `12h` or `7d`.
pub fn parse_age(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<u64>() else {
        bail!("`{text}` is not an age; write a number and a unit, such as 12h or 7d");
    };
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        _ => bail!("`{text}` has no unit s, m, h or d; write, for example, 12h or 7d"),
    };
    let Some(seconds) = number.checked_mul(seconds_per_unit) else {
        bail!("`{text}` is too long an age");
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_age("30m").unwrap(), Duration::from_secs(1_800));
        assert_eq!(parse_age("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn bad_ages_are_rejected() {
        for text in ["", "7", "d", "7w", "-1d", "1.5h", "99999999999999999999d"] {
            assert!(parse_age(text).is_err(), "`{text}` parsed");
        }
    }
}
