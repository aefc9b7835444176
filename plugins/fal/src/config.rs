//! The operator's settings for this plugin, read and checked in one place so that
//! `describe` and `synthesize` agree.

use voxgate_plugin_sdk::{BaseUrl, Setting, SettingInfo, SettingsError, setting, setting_or};

use crate::urls::HostPattern;

/// The setting for the synchronous host, where `POST {base-url}/{app}` returns the result.
pub const BASE_URL: &str = "base-url";
/// The setting for the queue host, where jobs are submitted and polled.
pub const QUEUE_URL: &str = "queue-url";
/// The setting that picks the sync or queue API.
pub const MODE: &str = "mode";
/// The setting that lists the hosts audio files may be fetched from.
pub const MEDIA_HOSTS: &str = "media-hosts";
/// The setting for the pause between two status polls of a queued job.
pub const POLL_INTERVAL_MS: &str = "poll-interval-ms";
/// The setting for how many status polls a job gets before it is cancelled.
pub const MAX_POLLS: &str = "max-polls";

/// fal's synchronous host (`fal.run` in fal's JS client, `buildUrl`).
pub const DEFAULT_BASE_URL: &str = "https://fal.run";
/// fal's queue host (`queue.fal.run` in fal's JS and Python clients).
pub const DEFAULT_QUEUE_URL: &str = "https://queue.fal.run";
/// The hosts fal serves output files from: `fal.media`, `v3.fal.media` and `v3b.fal.media`
/// appear in fal's examples, and fal's Python client names `v3.fal.media` as its CDN.
pub const DEFAULT_MEDIA_HOSTS: &str = "fal.media,*.fal.media";
/// fal's JS client polls a queued job every 500 ms by default.
pub const DEFAULT_POLL_INTERVAL_MS: u32 = 500;
/// With the default interval, 50 polls wait about 25 s for a job, far longer than a TTS job
/// takes once it runs. Each poll is one host step, and the host's `engine.max_steps`
/// (64 by default) must leave room for the submit, result, audio and cancel requests.
pub const DEFAULT_MAX_POLLS: u32 = 50;

/// The host waits at most 10 s before a `fetch-after` request, so a longer interval would
/// not be honoured.
const MAX_POLL_INTERVAL_MS: u32 = 10_000;
/// A bound that keeps a typo from turning one synthesis into hours of polling.
const MAX_MAX_POLLS: u32 = 1000;

/// The fal API a synthesis goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Submit to the queue, poll the job's status, then fetch its result.
    Queue,
    /// One `POST` to the synchronous host, which responds when the app has finished.
    Sync,
}

/// The checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The origin of sync requests.
    pub base_url: BaseUrl,
    /// The origin of queue requests, and the only origin that queue URLs from fal may use.
    pub queue_url: BaseUrl,
    /// The API to use.
    pub mode: Mode,
    /// The hosts that audio files may be fetched from.
    pub media_hosts: Vec<HostPattern>,
    /// Milliseconds between two status polls.
    pub poll_interval_ms: u32,
    /// Status polls before the job is cancelled.
    pub max_polls: u32,
}

impl Config {
    /// Reads and checks `settings`.
    ///
    /// # Errors
    ///
    /// A value that cannot be used is a [`SettingsError`] naming the setting.
    pub fn from_settings(settings: &[Setting]) -> Result<Self, SettingsError> {
        let base_url = BaseUrl::parse(BASE_URL, setting_or(settings, BASE_URL, DEFAULT_BASE_URL))?;
        let queue_url = BaseUrl::parse(
            QUEUE_URL,
            setting_or(settings, QUEUE_URL, DEFAULT_QUEUE_URL),
        )?;

        let mode = match setting(settings, MODE).map(str::trim) {
            None | Some("queue") => Mode::Queue,
            Some("sync") => Mode::Sync,
            Some(_) => return Err(invalid(MODE, "expected `queue` or `sync`")),
        };

        let media_hosts =
            parse_media_hosts(setting_or(settings, MEDIA_HOSTS, DEFAULT_MEDIA_HOSTS))?;
        let poll_interval_ms = parse_number(
            settings,
            POLL_INTERVAL_MS,
            DEFAULT_POLL_INTERVAL_MS,
            MAX_POLL_INTERVAL_MS,
        )?;
        let max_polls = parse_number(settings, MAX_POLLS, DEFAULT_MAX_POLLS, MAX_MAX_POLLS)?;

        Ok(Config {
            base_url,
            queue_url,
            mode,
            media_hosts,
            poll_interval_ms,
            max_polls,
        })
    }

    /// Lists every host the plugin may address: the sync and queue hosts, then the media
    /// host patterns, each once.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts = vec![self.base_url.host(), self.queue_url.host()];
        hosts.extend(self.media_hosts.iter().map(HostPattern::to_string));

        let mut unique = Vec::new();
        for host in hosts {
            if !unique.contains(&host) {
                unique.push(host);
            }
        }
        unique
    }
}

fn parse_media_hosts(value: &str) -> Result<Vec<HostPattern>, SettingsError> {
    let patterns = value
        .split(',')
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(HostPattern::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| invalid(MEDIA_HOSTS, &message))?;

    if patterns.is_empty() {
        return Err(invalid(
            MEDIA_HOSTS,
            "list at least one host, such as `fal.media,*.fal.media`",
        ));
    }
    Ok(patterns)
}

fn parse_number(
    settings: &[Setting],
    name: &str,
    default: u32,
    max: u32,
) -> Result<u32, SettingsError> {
    let Some(text) = setting(settings, name) else {
        return Ok(default);
    };

    match text.trim().parse::<u32>() {
        Ok(value) if (1..=max).contains(&value) => Ok(value),
        _ => Err(invalid(
            name,
            &format!("expected a whole number from 1 to {max}"),
        )),
    }
}

fn invalid(name: &str, message: &str) -> SettingsError {
    SettingsError {
        name: name.to_string(),
        message: message.to_string(),
    }
}

/// Lists the settings this plugin accepts, for `provider-info.settings`.
pub fn setting_infos() -> Vec<SettingInfo> {
    let info = |name: &str, description: &str, default: Option<String>| SettingInfo {
        name: name.to_string(),
        description: description.to_string(),
        default,
    };

    vec![
        info(
            BASE_URL,
            "Origin of fal's synchronous API. In sync mode speech is POST {base-url}/{app}.",
            Some(DEFAULT_BASE_URL.to_string()),
        ),
        info(
            QUEUE_URL,
            "Origin of fal's queue API. In queue mode jobs are POST {queue-url}/{app}, and the \
             status, result and cancel URLs fal returns must be on this origin.",
            Some(DEFAULT_QUEUE_URL.to_string()),
        ),
        info(
            MODE,
            "`queue` submits a job and polls it; `sync` waits on one request.",
            Some("queue".to_string()),
        ),
        info(
            MEDIA_HOSTS,
            "Comma-separated hosts that audio files may be fetched from, as `name`, \
             `name:port` or `*.domain`. The API key is never sent to them.",
            Some(DEFAULT_MEDIA_HOSTS.to_string()),
        ),
        info(
            POLL_INTERVAL_MS,
            "Milliseconds between two status polls of a queued job, 1 to 10000.",
            Some(DEFAULT_POLL_INTERVAL_MS.to_string()),
        ),
        info(
            MAX_POLLS,
            "Status polls before an unfinished job is cancelled, 1 to 1000. Keep it at least \
             4 below the host's engine.max_steps.",
            Some(DEFAULT_MAX_POLLS.to_string()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(name, value)| Setting {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect()
    }

    #[test]
    fn defaults_address_fal() {
        let config = Config::from_settings(&[]).unwrap();

        assert_eq!(config.base_url.join("/x"), "https://fal.run/x");
        assert_eq!(config.queue_url.join("/x"), "https://queue.fal.run/x");
        assert_eq!(config.mode, Mode::Queue);
        assert_eq!(config.poll_interval_ms, 500);
        assert_eq!(config.max_polls, 50);
        assert_eq!(
            config.hosts(),
            vec!["fal.run", "queue.fal.run", "fal.media", "*.fal.media"]
        );
    }

    #[test]
    fn loopback_settings_are_read() {
        let list = settings(&[
            (BASE_URL, "http://127.0.0.1:4000"),
            (QUEUE_URL, "http://127.0.0.1:4000/"),
            (MODE, "sync"),
            (MEDIA_HOSTS, " 127.0.0.2:4001 , ,*.media.test "),
            (POLL_INTERVAL_MS, "20"),
            (MAX_POLLS, "3"),
        ]);

        let config = Config::from_settings(&list).unwrap();

        assert_eq!(config.mode, Mode::Sync);
        assert_eq!(config.poll_interval_ms, 20);
        assert_eq!(config.max_polls, 3);
        assert_eq!(
            config.hosts(),
            vec!["127.0.0.1:4000", "127.0.0.2:4001", "*.media.test"]
        );
    }

    #[test]
    fn empty_values_use_defaults() {
        let list = settings(&[(MODE, ""), (MEDIA_HOSTS, ""), (MAX_POLLS, "")]);

        let config = Config::from_settings(&list).unwrap();

        assert_eq!(config.mode, Mode::Queue);
        assert_eq!(config.max_polls, DEFAULT_MAX_POLLS);
        assert_eq!(config.media_hosts.len(), 2);
    }

    #[test]
    fn invalid_settings_name_the_setting() {
        let cases = [
            (BASE_URL, "fal.run"),
            (QUEUE_URL, "ftp://queue.fal.run"),
            (MODE, "Queue"),
            (MODE, "stream"),
            (MEDIA_HOSTS, "https://v3.fal.media"),
            (MEDIA_HOSTS, " , "),
            (MEDIA_HOSTS, "v3.*.media"),
            (POLL_INTERVAL_MS, "0"),
            (POLL_INTERVAL_MS, "10001"),
            (POLL_INTERVAL_MS, "fast"),
            (MAX_POLLS, "-1"),
            (MAX_POLLS, "1001"),
        ];

        for (name, value) in cases {
            let error = Config::from_settings(&settings(&[(name, value)])).unwrap_err();

            assert_eq!(error.name, name, "value {value:?}: {}", error.message);
        }
    }

    #[test]
    fn setting_infos_list_defaults() {
        let infos: Vec<(String, Option<String>)> = setting_infos()
            .into_iter()
            .map(|info| (info.name, info.default))
            .collect();

        assert_eq!(
            infos,
            vec![
                ("base-url".to_string(), Some("https://fal.run".to_string())),
                (
                    "queue-url".to_string(),
                    Some("https://queue.fal.run".to_string())
                ),
                ("mode".to_string(), Some("queue".to_string())),
                (
                    "media-hosts".to_string(),
                    Some("fal.media,*.fal.media".to_string())
                ),
                ("poll-interval-ms".to_string(), Some("500".to_string())),
                ("max-polls".to_string(), Some("50".to_string())),
            ]
        );
    }
}
