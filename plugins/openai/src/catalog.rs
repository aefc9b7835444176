//! The plugin's catalog (OpenAI's speech models and voices) and `describe`.

use voxgate_plugin_sdk::{
    AiGatewayHeaders, AudioContainer, ModelInfo, ProviderInfo, SecretInfo, Setting, SettingsError,
    VoiceInfo,
};

use crate::config::{self, Config};

/// The name of the secret that contains the OpenAI API key.
pub const API_KEY: &str = "api-key";

/// OpenAI's limit on `input`, in characters (`maxLength` 4096 in OpenAI's OpenAPI spec).
pub const MAX_CHARACTERS: u32 = 4096;

/// The model used when a request names none.
pub const DEFAULT_MODEL: &str = "tts-1";

/// The voice used when a request names none.
pub const DEFAULT_VOICE: &str = "alloy";

/// One speech model.
pub struct Model {
    /// The model id OpenAI expects in `model`.
    pub id: &'static str,
    /// A human-readable name.
    pub name: &'static str,
    /// US dollars per million input characters.
    pub price_per_million_characters: f64,
    /// Whether the model accepts `instructions`. OpenAI's spec says `tts-1` and `tts-1-hd`
    /// do not.
    pub instructions: bool,
}

/// The speech models, with OpenAI's list prices.
pub const MODELS: [Model; 3] = [
    Model {
        id: "tts-1",
        name: "TTS-1",
        price_per_million_characters: 15.0,
        instructions: false,
    },
    Model {
        id: "tts-1-hd",
        name: "TTS-1 HD",
        price_per_million_characters: 30.0,
        instructions: false,
    },
    Model {
        id: "gpt-4o-mini-tts",
        name: "GPT-4o mini TTS",
        // NOTE: an estimate. OpenAI bills this model per token (0.60 USD per million text
        // tokens in, 12 USD per million audio tokens out) and estimates 0.015 USD per minute
        // of audio. English speech runs at about 15 characters per second, which makes
        // roughly 16 USD per million characters. Slow voices and long instructions cost more.
        price_per_million_characters: 16.0,
        instructions: true,
    },
];

/// The containers OpenAI offers as `response_format`. It has no G.711 (`ulaw`, `alaw`).
pub const FORMATS: [AudioContainer; 6] = [
    AudioContainer::Mp3,
    AudioContainer::Opus,
    AudioContainer::Aac,
    AudioContainer::Flac,
    AudioContainer::Wav,
    AudioContainer::Pcm,
];

/// The voice ids that OpenAI's API reference lists for speech.
///
/// NOTE: which model accepts which voice is not documented, so each voice declares every
/// model (an empty `models` list) and OpenAI's own response decides.
pub const VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
    "marin", "cedar",
];

/// Looks up a model by id.
pub fn model(id: &str) -> Option<&'static Model> {
    MODELS.iter().find(|model| model.id == id)
}

/// Describes the provider for `settings`.
pub fn describe(settings: &[Setting]) -> Result<ProviderInfo, SettingsError> {
    let config = Config::from_settings(settings)?;

    let mut secrets = vec![SecretInfo {
        name: API_KEY.to_string(),
        description: "OpenAI API key, sent as `Authorization: Bearer <key>`".to_string(),
        env: Some("OPENAI_API_KEY".to_string()),
        required: true,
    }];
    // `aig-token`, only when the operator configured an authenticated AI Gateway.
    secrets.extend(config.ai_gateway.secret_infos());
    let mut settings = config::setting_infos();
    settings.extend(AiGatewayHeaders::setting_infos());

    Ok(ProviderInfo {
        id: "openai".to_string(),
        name: "OpenAI".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        models: MODELS.iter().map(model_info).collect(),
        voices: VOICES.iter().map(|id| voice_info(id)).collect(),
        default_model: DEFAULT_MODEL.to_string(),
        default_voice: DEFAULT_VOICE.to_string(),
        hosts: vec![config.host],
        secrets,
        settings,
    })
}

fn model_info(model: &Model) -> ModelInfo {
    ModelInfo {
        id: model.id.to_string(),
        name: model.name.to_string(),
        // OpenAI's models speak many languages, but no list is published.
        languages: Vec::new(),
        price_per_million_characters: model.price_per_million_characters,
        max_characters: MAX_CHARACTERS,
        formats: FORMATS.to_vec(),
        streaming: true,
        instructions: model.instructions,
    }
}

fn voice_info(id: &str) -> VoiceInfo {
    let mut name = id.to_string();
    if let Some(first) = name.get_mut(..1) {
        first.make_ascii_uppercase();
    }

    VoiceInfo {
        id: id.to_string(),
        name,
        languages: Vec::new(),
        models: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe_default() -> ProviderInfo {
        describe(&[]).unwrap()
    }

    #[test]
    fn describe_names_provider() {
        let info = describe_default();

        assert_eq!(info.id, "openai");
        assert_eq!(info.version, "0.1.0");
        assert_eq!(info.default_model, "tts-1");
        assert_eq!(info.default_voice, "alloy");
        assert_eq!(info.hosts, vec!["api.openai.com".to_string()]);
    }

    #[test]
    fn describe_lists_models() {
        let info = describe_default();

        let summary: Vec<(&str, f64, bool)> = info
            .models
            .iter()
            .map(|model| {
                (
                    model.id.as_str(),
                    model.price_per_million_characters,
                    model.instructions,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("tts-1", 15.0, false),
                ("tts-1-hd", 30.0, false),
                ("gpt-4o-mini-tts", 16.0, true),
            ]
        );

        for model in &info.models {
            assert_eq!(model.max_characters, 4096, "{}", model.id);
            assert_eq!(model.formats, FORMATS.to_vec(), "{}", model.id);
            assert!(model.streaming, "{}", model.id);
        }
    }

    #[test]
    fn describe_lists_open_voices() {
        let info = describe_default();

        let ids: Vec<&str> = info.voices.iter().map(|voice| voice.id.as_str()).collect();
        assert_eq!(ids, VOICES.to_vec());
        assert!(info.voices.iter().all(|voice| voice.models.is_empty()));
        assert_eq!(info.voices[0].name, "Alloy");
        assert_eq!(info.voices[12].name, "Cedar");
    }

    #[test]
    fn describe_declares_secret_and_settings() {
        let info = describe_default();

        assert_eq!(
            info.secrets,
            vec![SecretInfo {
                name: "api-key".to_string(),
                description: "OpenAI API key, sent as `Authorization: Bearer <key>`".to_string(),
                env: Some("OPENAI_API_KEY".to_string()),
                required: true,
            }]
        );

        let settings: Vec<(&str, Option<&str>)> = info
            .settings
            .iter()
            .map(|setting| (setting.name.as_str(), setting.default.as_deref()))
            .collect();
        assert_eq!(
            settings,
            vec![
                ("base-url", Some("https://api.openai.com")),
                ("organization", None),
                ("project", None),
                ("aig-cache-ttl", None),
                ("aig-skip-cache", Some("false")),
                ("aig-metadata", None),
                ("aig-authenticated", Some("false")),
            ]
        );
    }

    #[test]
    fn authenticated_gateway_declares_token() {
        let settings = [
            Setting {
                name: "base-url".to_string(),
                value: "https://gateway.ai.cloudflare.com/v1/acc/gw/openai".to_string(),
            },
            Setting {
                name: "aig-authenticated".to_string(),
                value: "true".to_string(),
            },
        ];

        let info = describe(&settings).unwrap();

        let names: Vec<&str> = info.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["api-key", "aig-token"]);
        assert!(!info.secrets[1].required);
    }

    #[test]
    fn describe_derives_hosts_from_base_url() {
        let settings = [Setting {
            name: "base-url".to_string(),
            value: "http://127.0.0.1:18001".to_string(),
        }];

        let info = describe(&settings).unwrap();

        assert_eq!(info.hosts, vec!["127.0.0.1:18001".to_string()]);
    }

    #[test]
    fn describe_rejects_bad_base_url() {
        let settings = [Setting {
            name: "base-url".to_string(),
            value: "gopher://example.com".to_string(),
        }];

        let error = describe(&settings).unwrap_err();

        assert_eq!(error.name, "base-url");
    }
}
