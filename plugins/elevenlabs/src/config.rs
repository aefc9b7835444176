//! The operator's settings for this plugin, read and checked in one place so that
//! `describe` and `synthesize` agree.

use voxgate_plugin_sdk::{BaseUrl, Setting, SettingInfo, SettingsError, setting, setting_or};

/// The setting that points the plugin at ElevenLabs, a data-residency host, a proxy or a
/// local emulator.
pub const BASE_URL: &str = "base-url";
/// The setting that adds account voices (cloned, designed or library voices) as
/// `id=Name,id2=Name2`.
pub const VOICES: &str = "voices";

/// ElevenLabs' own API origin.
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";

/// The maximum length of an account voice id, in bytes. ElevenLabs' ids are 20 characters,
/// so the bound only stops a paragraph pasted into the setting by mistake.
const MAX_VOICE_ID_BYTES: usize = 64;
/// The maximum length of an account voice name, in characters.
const MAX_VOICE_NAME_CHARS: usize = 100;

/// The checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The host that requests address, as `provider-info.hosts` lists it.
    pub host: String,
    /// The absolute URL of `/v1/text-to-speech`, without a trailing slash.
    pub text_to_speech_url: String,
    /// The operator's account voices as `(id, name)`, in the order written.
    pub account_voices: Vec<(String, String)>,
}

impl Config {
    /// Reads and checks `settings`.
    ///
    /// # Errors
    ///
    /// A `base-url` that is not an absolute http(s) URL, or a `voices` value that is not a
    /// list of `id=Name`, is a [`SettingsError`] naming the setting.
    pub fn from_settings(settings: &[Setting]) -> Result<Self, SettingsError> {
        let base_url = BaseUrl::parse(BASE_URL, setting_or(settings, BASE_URL, DEFAULT_BASE_URL))?;
        let account_voices = match setting(settings, VOICES) {
            Some(value) => parse_voices(value)?,
            None => Vec::new(),
        };

        Ok(Config {
            host: base_url.host(),
            text_to_speech_url: text_to_speech_url(&base_url),
            account_voices,
        })
    }
}

/// Builds the URL of `/v1/text-to-speech` under `base_url`.
///
/// ElevenLabs serves its API under `/v1` (and `/v2` for some listings), so the base URL is
/// an origin, or a proxy's prefix before that `/v1` (Cloudflare AI Gateway's
/// `.../ACCOUNT/GATEWAY/elevenlabs`). An operator who wrote the `/v1` into the base URL
/// gets it once, not twice.
fn text_to_speech_url(base_url: &BaseUrl) -> String {
    let has_v1 = base_url
        .path()
        .rsplit('/')
        .next()
        .is_some_and(|segment| segment.eq_ignore_ascii_case("v1"));

    if has_v1 {
        base_url.join("/text-to-speech")
    } else {
        base_url.join("/v1/text-to-speech")
    }
}

/// Parses `id=Name,id2=Name2`. Whitespace around entries, ids and names is ignored, and an
/// empty entry (a trailing comma) is skipped.
fn parse_voices(value: &str) -> Result<Vec<(String, String)>, SettingsError> {
    let invalid = |message: String| SettingsError {
        name: VOICES.to_string(),
        message,
    };
    let mut voices: Vec<(String, String)> = Vec::new();

    for (index, entry) in value.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let position = index + 1;

        let Some((id, name)) = entry.split_once('=') else {
            return Err(invalid(format!(
                "entry {position} has no `=`; write each voice as `voice_id=Name`, separated \
                 by commas"
            )));
        };
        let id = id.trim();
        let name = name.trim();

        let id_ok = !id.is_empty()
            && id.len() <= MAX_VOICE_ID_BYTES
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(invalid(format!(
                "entry {position} has an invalid voice id; an ElevenLabs voice id is 1 to \
                 {MAX_VOICE_ID_BYTES} letters, digits, `-` or `_`, as GET /v1/voices lists it"
            )));
        }
        let name_ok = !name.is_empty()
            && name.chars().count() <= MAX_VOICE_NAME_CHARS
            && !name.chars().any(char::is_control);
        if !name_ok {
            return Err(invalid(format!(
                "entry {position} (voice `{id}`) needs a name of 1 to {MAX_VOICE_NAME_CHARS} \
                 printable characters after `=`"
            )));
        }
        if voices.iter().any(|(known, _)| known == id) {
            return Err(invalid(format!(
                "voice `{id}` is listed twice; keep one entry per voice id"
            )));
        }

        voices.push((id.to_string(), name.to_string()));
    }

    Ok(voices)
}

/// Lists the settings this plugin accepts, for `provider-info.settings`.
pub fn setting_infos() -> Vec<SettingInfo> {
    vec![
        SettingInfo {
            name: BASE_URL.to_string(),
            description: "Origin of the ElevenLabs API, a data-residency host such as \
                          https://api.eu.residency.elevenlabs.io, or a proxy in front of it. \
                          Speech goes to {base-url}/v1/text-to-speech/{voice_id}."
                .to_string(),
            default: Some(DEFAULT_BASE_URL.to_string()),
        },
        SettingInfo {
            name: VOICES.to_string(),
            description: "Account voices to offer besides the premade ones (cloned, designed \
                          or added from the voice library), as `voice_id=Name,voice_id=Name` \
                          with the ids that GET /v1/voices lists. A plugin cannot list an \
                          account's voices itself."
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
    fn defaults_address_elevenlabs() {
        let config = Config::from_settings(&[]).unwrap();

        assert_eq!(
            config,
            Config {
                host: "api.elevenlabs.io".to_string(),
                text_to_speech_url: "https://api.elevenlabs.io/v1/text-to-speech".to_string(),
                account_voices: Vec::new(),
            }
        );
    }

    #[test]
    fn base_url_becomes_text_to_speech_url() {
        // (base-url, host, text-to-speech URL)
        let cases = [
            (
                "http://127.0.0.1:18002",
                "127.0.0.1:18002",
                "http://127.0.0.1:18002/v1/text-to-speech",
            ),
            (
                "https://api.elevenlabs.io/v1/",
                "api.elevenlabs.io",
                "https://api.elevenlabs.io/v1/text-to-speech",
            ),
            (
                "https://api.eu.residency.elevenlabs.io",
                "api.eu.residency.elevenlabs.io",
                "https://api.eu.residency.elevenlabs.io/v1/text-to-speech",
            ),
            (
                "https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/elevenlabs",
                "gateway.ai.cloudflare.com",
                "https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/elevenlabs/v1/text-to-speech",
            ),
        ];

        for (base_url, host, url) in cases {
            let config = Config::from_settings(&settings(&[(BASE_URL, base_url)])).unwrap();

            assert_eq!(config.host, host, "{base_url}");
            assert_eq!(config.text_to_speech_url, url, "{base_url}");
        }
    }

    #[test]
    fn voices_are_parsed() {
        let list = settings(&[(VOICES, " abc123=My Clone ,x_y-z = Narrator (UK),, ")]);

        let config = Config::from_settings(&list).unwrap();

        assert_eq!(
            config.account_voices,
            vec![
                ("abc123".to_string(), "My Clone".to_string()),
                ("x_y-z".to_string(), "Narrator (UK)".to_string()),
            ]
        );
    }

    #[test]
    fn invalid_voices_name_the_setting() {
        // (value, a fragment the message must contain)
        let cases = [
            ("abc", "entry 1 has no `=`"),
            ("a=A,b", "entry 2 has no `=`"),
            ("=Name", "invalid voice id"),
            ("../v1/user=Evil", "invalid voice id"),
            ("id?x=Evil", "invalid voice id"),
            ("id\r\nx-evil: 1=Evil", "invalid voice id"),
            ("abc=", "needs a name"),
            ("abc=line\nbreak", "needs a name"),
            ("abc=A,abc=B", "listed twice"),
        ];

        for (value, fragment) in cases {
            let error = Config::from_settings(&settings(&[(VOICES, value)])).unwrap_err();

            assert_eq!(error.name, VOICES, "{value:?}");
            assert!(
                error.message.contains(fragment),
                "{value:?}: {}",
                error.message
            );
        }
    }

    #[test]
    fn long_voice_id_is_rejected() {
        let value = format!("{}=Long", "a".repeat(65));

        let error = Config::from_settings(&settings(&[(VOICES, &value)])).unwrap_err();

        assert!(error.message.contains("1 to 64"), "{}", error.message);
    }

    #[test]
    fn invalid_base_url_names_the_setting() {
        let error = Config::from_settings(&settings(&[(BASE_URL, "ftp://x")])).unwrap_err();

        assert_eq!(error.name, BASE_URL);
    }
}
