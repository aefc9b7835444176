//! The operator's settings, read and checked in one place so that `describe` and
//! `synthesize` agree on them.

use voxgate_plugin_sdk::{BaseUrl, Setting, SettingInfo, SettingsError, setting_or};

/// The setting that points the plugin at the API, a proxy or a local emulator.
pub const BASE_URL: &str = "base-url";

/// The example API's origin.
pub const DEFAULT_BASE_URL: &str = "https://api.example-tts.test";

/// The checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The host that requests go to, as `provider-info.hosts` lists it.
    pub host: String,
    /// The absolute URL of the speech endpoint.
    pub speech_url: String,
}

impl Config {
    /// Reads and checks `settings`.
    ///
    /// # Errors
    ///
    /// A `base-url` that is not an absolute http(s) URL is a [`SettingsError`] naming it.
    pub fn from_settings(settings: &[Setting]) -> Result<Self, SettingsError> {
        let base_url = BaseUrl::parse(BASE_URL, setting_or(settings, BASE_URL, DEFAULT_BASE_URL))?;

        Ok(Config {
            // Derived from the same parsed URL as `speech_url`, so the host's allow-list check
            // always matches the requests this plugin builds.
            host: base_url.host(),
            speech_url: base_url.join("/v1/speech"),
        })
    }
}

/// Lists the settings this plugin accepts, for `provider-info.settings`.
pub fn setting_infos() -> Vec<SettingInfo> {
    vec![SettingInfo {
        name: BASE_URL.to_string(),
        description: "Origin of the Example TTS API, or of a proxy or emulator in front of it; speech goes to {base-url}/v1/speech".to_string(),
        default: Some(DEFAULT_BASE_URL.to_string()),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_addresses_example_api() {
        let config = Config::from_settings(&[]).unwrap();

        assert_eq!(config.host, "api.example-tts.test");
        assert_eq!(config.speech_url, "https://api.example-tts.test/v1/speech");
    }

    #[test]
    fn loopback_base_url_keeps_port() {
        let settings = [Setting {
            name: BASE_URL.to_string(),
            value: "http://127.0.0.1:9000/".to_string(),
        }];

        let config = Config::from_settings(&settings).unwrap();

        assert_eq!(config.host, "127.0.0.1:9000");
        assert_eq!(config.speech_url, "http://127.0.0.1:9000/v1/speech");
    }

    #[test]
    fn invalid_base_url_names_setting() {
        let settings = [Setting {
            name: BASE_URL.to_string(),
            value: "ftp://example.com".to_string(),
        }];

        let error = Config::from_settings(&settings).unwrap_err();

        assert_eq!(error.name, BASE_URL);
    }
}
