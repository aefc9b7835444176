//! The operator's settings for this plugin, read and checked in one place so that
//! `describe` and `synthesize` agree.

use voxgate_plugin_sdk::{
    AiGatewayHeaders, BaseUrl, Setting, SettingInfo, SettingsError, header_setting, setting_or,
};

use crate::endpoint::speech_url;

/// The setting that points the plugin at OpenAI, a proxy or a local emulator.
pub const BASE_URL: &str = "base-url";
/// The setting sent as the `OpenAI-Organization` header.
pub const ORGANIZATION: &str = "organization";
/// The setting sent as the `OpenAI-Project` header.
pub const PROJECT: &str = "project";

/// OpenAI's own API origin.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com";

/// The checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The host that requests address, as `provider-info.hosts` lists it.
    pub host: String,
    /// The absolute URL of the speech endpoint.
    pub speech_url: String,
    /// The `OpenAI-Organization` header value, when set.
    pub organization: Option<String>,
    /// The `OpenAI-Project` header value, when set.
    pub project: Option<String>,
    /// The `cf-aig-*` headers for Cloudflare AI Gateway, from the SDK's `aig-*` settings.
    pub ai_gateway: AiGatewayHeaders,
}

impl Config {
    /// Reads and checks `settings`.
    ///
    /// # Errors
    ///
    /// A `base-url` that is not an absolute http(s) URL, an `organization` or `project`
    /// that cannot be sent as a header value, or an invalid `aig-*` setting is a
    /// [`SettingsError`] naming the setting.
    pub fn from_settings(settings: &[Setting]) -> Result<Self, SettingsError> {
        let base_url = BaseUrl::parse(BASE_URL, setting_or(settings, BASE_URL, DEFAULT_BASE_URL))?;
        let organization = header_setting(settings, ORGANIZATION)?;
        let project = header_setting(settings, PROJECT)?;
        let ai_gateway = AiGatewayHeaders::from_settings(settings, &base_url)?;

        Ok(Config {
            host: base_url.host(),
            speech_url: speech_url(&base_url),
            organization: organization.map(str::to_string),
            project: project.map(str::to_string),
            ai_gateway,
        })
    }
}

/// Lists the settings this plugin accepts, for `provider-info.settings`.
pub fn setting_infos() -> Vec<SettingInfo> {
    vec![
        SettingInfo {
            name: BASE_URL.to_string(),
            description: "Origin of the OpenAI API, or of a proxy in front of it. Speech goes to \
                          {base-url}/v1/audio/speech, or to {base-url}/audio/speech when the \
                          path already ends in /v1 or the host is Cloudflare AI Gateway."
                .to_string(),
            default: Some(DEFAULT_BASE_URL.to_string()),
        },
        SettingInfo {
            name: ORGANIZATION.to_string(),
            description: "OpenAI organization id, sent as the OpenAI-Organization header. \
                          Unset sends no header, and OpenAI uses the key's default organization."
                .to_string(),
            default: None,
        },
        SettingInfo {
            name: PROJECT.to_string(),
            description: "OpenAI project id, sent as the OpenAI-Project header. Unset sends no \
                          header, and OpenAI uses the key's default project."
                .to_string(),
            default: None,
        },
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
    fn defaults_address_openai() {
        let config = Config::from_settings(&[]).unwrap();

        assert_eq!(
            config,
            Config {
                host: "api.openai.com".to_string(),
                speech_url: "https://api.openai.com/v1/audio/speech".to_string(),
                organization: None,
                project: None,
                ai_gateway: AiGatewayHeaders::default(),
            }
        );
    }

    #[test]
    fn loopback_base_url_declares_port() {
        let config =
            Config::from_settings(&settings(&[(BASE_URL, "http://127.0.0.1:18001")])).unwrap();

        assert_eq!(config.host, "127.0.0.1:18001");
        assert_eq!(config.speech_url, "http://127.0.0.1:18001/v1/audio/speech");
    }

    #[test]
    fn organization_and_project_are_read() {
        let list = settings(&[(ORGANIZATION, "org-abc"), (PROJECT, "proj_xyz")]);

        let config = Config::from_settings(&list).unwrap();

        assert_eq!(config.organization.as_deref(), Some("org-abc"));
        assert_eq!(config.project.as_deref(), Some("proj_xyz"));
    }

    #[test]
    fn invalid_settings_name_the_setting() {
        let cases = [
            (BASE_URL, "ftp://api.openai.com"),
            (BASE_URL, "api.openai.com"),
            (ORGANIZATION, "org\r\nx-evil: 1"),
            (PROJECT, "proj\n"),
            ("aig-metadata", "{\"nested\": {}}"),
            ("aig-authenticated", "true"),
        ];

        for (name, value) in cases {
            let error = Config::from_settings(&settings(&[(name, value)])).unwrap_err();

            assert_eq!(error.name, name, "value {value:?}");
        }
    }
}
