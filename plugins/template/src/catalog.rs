//! The provider's catalog of models and voices, and `describe`.
//!
//! Keep the catalog in constants: `describe` lists it, and `synthesize` checks requests
//! against the same values, so the two cannot drift apart.

use voxgate_plugin_sdk::{
    AudioContainer, ModelInfo, ProviderInfo, SecretInfo, Setting, SettingsError, VoiceInfo,
};

use crate::config::{self, Config};

/// The name of the secret that contains the API key, as `secret-ref.name` uses it.
pub const API_KEY: &str = "api-key";

/// The example API's limit on `text`, in characters.
pub const MAX_CHARACTERS: u32 = 5000;

/// The sample rate of `pcm` and `wav` output, in hertz.
pub const SAMPLE_RATE: u32 = 24_000;

/// One model.
pub struct Model {
    pub id: &'static str,
    pub name: &'static str,
    /// US dollars per million characters of text.
    pub price_per_million_characters: f64,
    pub formats: &'static [AudioContainer],
}

/// The models, with their list prices.
pub const MODELS: [Model; 2] = [
    Model {
        id: "example-1",
        name: "Example 1",
        price_per_million_characters: 10.0,
        formats: &[
            AudioContainer::Mp3,
            AudioContainer::Wav,
            AudioContainer::Pcm,
        ],
    },
    Model {
        id: "example-1-hd",
        name: "Example 1 HD",
        price_per_million_characters: 30.0,
        formats: &[AudioContainer::Mp3, AudioContainer::Wav],
    },
];

/// The voices: id, name, and the models that offer the voice (empty for every model).
pub const VOICES: [(&str, &str, &[&str]); 3] = [
    ("ada", "Ada", &[]),
    ("grace", "Grace", &[]),
    ("linus", "Linus", &["example-1-hd"]),
];

/// Looks up a model by id.
pub fn model(id: &str) -> Option<&'static Model> {
    MODELS.iter().find(|model| model.id == id)
}

/// Looks up a voice by id, with the models that offer it.
pub fn voice(id: &str) -> Option<&'static [&'static str]> {
    VOICES
        .iter()
        .find(|(voice, _, _)| *voice == id)
        .map(|(_, _, models)| *models)
}

/// Describes the provider for `settings`.
///
/// # Errors
///
/// Settings that [`Config::from_settings`] rejects.
pub fn describe(settings: &[Setting]) -> Result<ProviderInfo, SettingsError> {
    let config = Config::from_settings(settings)?;

    Ok(ProviderInfo {
        id: "example".to_string(),
        name: "Example TTS".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        models: MODELS.iter().map(model_info).collect(),
        voices: VOICES
            .iter()
            .map(|(id, name, models)| VoiceInfo {
                id: id.to_string(),
                name: name.to_string(),
                languages: vec!["en".to_string()],
                models: models.iter().map(|model| model.to_string()).collect(),
            })
            .collect(),
        default_model: MODELS[0].id.to_string(),
        default_voice: VOICES[0].0.to_string(),
        hosts: vec![config.host],
        secrets: vec![SecretInfo {
            name: API_KEY.to_string(),
            description: "Example TTS API key, sent as `Authorization: Bearer <key>`".to_string(),
            env: Some("EXAMPLE_TTS_API_KEY".to_string()),
            required: true,
        }],
        settings: config::setting_infos(),
    })
}

fn model_info(model: &Model) -> ModelInfo {
    ModelInfo {
        id: model.id.to_string(),
        name: model.name.to_string(),
        languages: vec!["en".to_string()],
        price_per_million_characters: model.price_per_million_characters,
        max_characters: MAX_CHARACTERS,
        formats: model.formats.to_vec(),
        streaming: true,
        instructions: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_lists_catalog() {
        let info = describe(&[]).unwrap();

        assert_eq!(info.id, "example");
        assert_eq!(info.models.len(), 2);
        assert_eq!(info.voices.len(), 3);
        assert_eq!(info.default_model, "example-1");
        assert_eq!(info.default_voice, "ada");
        assert_eq!(info.hosts, vec!["api.example-tts.test".to_string()]);
    }

    #[test]
    fn linus_is_hd_only() {
        assert_eq!(voice("linus"), Some(&["example-1-hd"][..]));
        assert_eq!(voice("ada"), Some(&[][..]));
        assert_eq!(voice("nobody"), None);
    }
}
