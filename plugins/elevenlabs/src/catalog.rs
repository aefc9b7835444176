//! The plugin's catalog (ElevenLabs' text-to-speech models and premade voices) and
//! `describe`.
//!
//! Model ids, languages and character limits come from ElevenLabs' models page
//! (`elevenlabs/elevenlabs-docs`, `fern/docs/pages/models.mdx`). Voice ids are the premade
//! voices that every ElevenLabs account lists under `GET /v1/voices` with
//! `category: "premade"`.

use voxgate_plugin_sdk::{
    AudioContainer, ModelInfo, ProviderInfo, SecretInfo, Setting, SettingsError, VoiceInfo,
};

use crate::config::{self, Config};

/// The name of the secret that contains the ElevenLabs API key.
pub const API_KEY: &str = "api-key";

/// The model ElevenLabs uses when a request names none (`model_id` default in its OpenAPI
/// spec).
pub const DEFAULT_MODEL: &str = "eleven_multilingual_v2";

/// The voice used when a request names none: Rachel, the `voice_id` example throughout
/// ElevenLabs' OpenAPI spec.
pub const DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

/// One text-to-speech model.
pub struct Model {
    /// The id ElevenLabs expects in `model_id`.
    pub id: &'static str,
    /// A human-readable name.
    pub name: &'static str,
    /// BCP 47 tags of the languages the model speaks.
    pub languages: &'static [&'static str],
    /// The maximum number of characters in one request.
    pub max_characters: u32,
    /// Estimated US dollars per million characters.
    pub price_per_million_characters: f64,
    /// Whether the model takes `language_code` to enforce a language. ElevenLabs' API
    /// documentation describes the other models as rejecting or ignoring it.
    pub language_code: bool,
    /// Whether the model takes `voice_settings.speed`.
    pub speed: bool,
}

/// The 29 languages of Multilingual v2.
const MULTILINGUAL_V2_LANGUAGES: &[&str] = &[
    "en", "ja", "zh", "de", "hi", "fr", "ko", "pt", "it", "es", "id", "nl", "tr", "fil", "pl",
    "sv", "bg", "ro", "ar", "cs", "el", "fi", "hr", "ms", "sk", "da", "ta", "uk", "ru",
];

/// The 32 languages of the v2.5 models: Multilingual v2's plus Hungarian, Norwegian and
/// Vietnamese.
const V2_5_LANGUAGES: &[&str] = &[
    "en", "ja", "zh", "de", "hi", "fr", "ko", "pt", "it", "es", "id", "nl", "tr", "fil", "pl",
    "sv", "bg", "ro", "ar", "cs", "el", "fi", "hr", "ms", "sk", "da", "ta", "uk", "ru", "hu", "no",
    "vi",
];

/// The 74 languages the models page lists for Eleven v3, given there as ISO 639-3 codes and
/// written here in their shortest BCP 47 form (`cmn`, Mandarin, as `zh`).
const V3_LANGUAGES: &[&str] = &[
    "af", "ar", "hy", "as", "az", "be", "bn", "bs", "bg", "ca", "ceb", "ny", "hr", "cs", "da",
    "nl", "en", "et", "fil", "fi", "fr", "gl", "ka", "de", "el", "gu", "ha", "he", "hi", "hu",
    "is", "id", "ga", "it", "ja", "jv", "kn", "kk", "ky", "ko", "lv", "ln", "lt", "lb", "mk", "ms",
    "ml", "zh", "mr", "ne", "no", "ps", "fa", "pl", "pt", "pa", "ro", "ru", "sr", "sd", "sk", "sl",
    "so", "es", "sw", "sv", "ta", "te", "th", "tr", "uk", "ur", "vi", "cy",
];

const ENGLISH: &[&str] = &["en"];

/// The first multilingual model's eight languages.
const MULTILINGUAL_V1_LANGUAGES: &[&str] = &["en", "fr", "de", "hi", "it", "pl", "pt", "es"];

// NOTE: ElevenLabs bills in credits, not dollars, so these prices are estimates for cost
// accounting. Its pay-as-you-go API pricing lists 0.10 USD per 1,000 characters for
// Multilingual v2 and v3 (1 credit per character) and 0.05 USD for Flash and Turbo (0.5
// credit per character). Subscription plans make a credit cheaper.
const FULL_PRICE: f64 = 100.0;
const HALF_PRICE: f64 = 50.0;

/// The text-to-speech models, newest first.
pub const MODELS: [Model; 8] = [
    Model {
        id: "eleven_v3",
        name: "Eleven v3",
        languages: V3_LANGUAGES,
        // NOTE: the models page listed 3,000 in 2025-08 and lists 5,000 in later versions.
        // If the lower limit applies, ElevenLabs rejects a longer text with
        // `max_character_limit_exceeded`, which `resume` reports as an invalid request.
        max_characters: 5_000,
        price_per_million_characters: FULL_PRICE,
        language_code: true,
        speed: true,
    },
    Model {
        id: "eleven_multilingual_v2",
        name: "Eleven Multilingual v2",
        languages: MULTILINGUAL_V2_LANGUAGES,
        max_characters: 10_000,
        price_per_million_characters: FULL_PRICE,
        language_code: false,
        speed: true,
    },
    Model {
        id: "eleven_flash_v2_5",
        name: "Eleven Flash v2.5",
        languages: V2_5_LANGUAGES,
        max_characters: 40_000,
        price_per_million_characters: HALF_PRICE,
        language_code: true,
        speed: true,
    },
    Model {
        id: "eleven_turbo_v2_5",
        name: "Eleven Turbo v2.5",
        languages: V2_5_LANGUAGES,
        max_characters: 40_000,
        price_per_million_characters: HALF_PRICE,
        language_code: true,
        speed: true,
    },
    Model {
        id: "eleven_flash_v2",
        name: "Eleven Flash v2",
        languages: ENGLISH,
        max_characters: 30_000,
        price_per_million_characters: HALF_PRICE,
        language_code: false,
        speed: true,
    },
    Model {
        id: "eleven_turbo_v2",
        name: "Eleven Turbo v2",
        languages: ENGLISH,
        max_characters: 30_000,
        price_per_million_characters: HALF_PRICE,
        language_code: false,
        speed: true,
    },
    // NOTE: the two v1 models are legacy ("maintained for backward compatibility") and
    // predate voice speed (February 2025), so the plugin does not send a speed to them.
    Model {
        id: "eleven_multilingual_v1",
        name: "Eleven Multilingual v1",
        languages: MULTILINGUAL_V1_LANGUAGES,
        max_characters: 10_000,
        price_per_million_characters: FULL_PRICE,
        language_code: false,
        speed: false,
    },
    Model {
        id: "eleven_monolingual_v1",
        name: "Eleven English v1",
        languages: ENGLISH,
        // NOTE: the models page gives no limit for this model; 10,000 is its sibling
        // Multilingual v1's.
        max_characters: 10_000,
        price_per_million_characters: FULL_PRICE,
        language_code: false,
        speed: false,
    },
];

/// The containers ElevenLabs offers through `output_format`. It has no AAC or FLAC.
pub const FORMATS: [AudioContainer; 6] = [
    AudioContainer::Mp3,
    AudioContainer::Pcm,
    AudioContainer::Ulaw,
    AudioContainer::Alaw,
    AudioContainer::Opus,
    AudioContainer::Wav,
];

/// ElevenLabs' premade voices as `(voice_id, name)`: the default voices of the current
/// voice library, then Rachel and Adam, older premade voices still widely used.
pub const PREMADE_VOICES: [(&str, &str); 22] = [
    ("9BWtsMINqrJLrRacOk9x", "Aria"),
    ("CwhRBWXzGAHq8TQ4Fs17", "Roger"),
    ("EXAVITQu4vr4xnSDxMaL", "Sarah"),
    ("FGY2WhTYpPnrIDTdsKH5", "Laura"),
    ("IKne3meq5aSn9XLyUdCD", "Charlie"),
    ("JBFqnCBsd6RMkjVDRZzb", "George"),
    ("N2lVS1w4EtoT3dr4eOWO", "Callum"),
    ("SAz9YHcvj6GT2YYXdXww", "River"),
    ("TX3LPaxmHKxFdv7VOQHJ", "Liam"),
    ("XB0fDUnXU5powFXDhCwa", "Charlotte"),
    ("Xb7hH8MSUJpSbSDYk0k2", "Alice"),
    ("XrExE9yKIg1WjnnlVkGX", "Matilda"),
    ("bIHbv24MWmeRgasZH58o", "Will"),
    ("cgSgspJ2msm6clMCkdW9", "Jessica"),
    ("cjVigY5qzO86Huf0OWal", "Eric"),
    ("iP95p4xoKVk53GoZ742B", "Chris"),
    ("nPczCjzI2devNBz1zQrb", "Brian"),
    ("onwK4e9ZLuTAKqWW03F9", "Daniel"),
    ("pFZP5JQG7iQjIQuC4Bku", "Lily"),
    ("pqHfZKP75CvOlQylNhV4", "Bill"),
    ("21m00Tcm4TlvDq8ikWAM", "Rachel"),
    ("pNInz6obpgDQGcFmaJgB", "Adam"),
];

/// Looks up a model by id.
pub fn model(id: &str) -> Option<&'static Model> {
    MODELS.iter().find(|model| model.id == id)
}

/// Describes the provider for `settings`.
pub fn describe(settings: &[Setting]) -> Result<ProviderInfo, SettingsError> {
    let config = Config::from_settings(settings)?;

    Ok(ProviderInfo {
        id: "elevenlabs".to_string(),
        name: "ElevenLabs".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        models: MODELS.iter().map(model_info).collect(),
        voices: voices(&config),
        default_model: DEFAULT_MODEL.to_string(),
        default_voice: DEFAULT_VOICE.to_string(),
        hosts: vec![config.host.clone()],
        secrets: vec![SecretInfo {
            name: API_KEY.to_string(),
            description: "ElevenLabs API key, sent as the `xi-api-key` header".to_string(),
            env: Some("ELEVENLABS_API_KEY".to_string()),
            required: true,
        }],
        settings: config::setting_infos(),
    })
}

/// Lists the premade voices, then the operator's account voices. An account voice with a
/// premade voice's id renames it.
fn voices(config: &Config) -> Vec<VoiceInfo> {
    let mut voices: Vec<VoiceInfo> = PREMADE_VOICES
        .iter()
        .map(|(id, name)| voice_info(id, name))
        .collect();

    for (id, name) in &config.account_voices {
        match voices.iter_mut().find(|voice| voice.id == *id) {
            Some(voice) => voice.name.clone_from(name),
            None => voices.push(voice_info(id, name)),
        }
    }

    voices
}

fn model_info(model: &Model) -> ModelInfo {
    ModelInfo {
        id: model.id.to_string(),
        name: model.name.to_string(),
        languages: model.languages.iter().map(|tag| tag.to_string()).collect(),
        price_per_million_characters: model.price_per_million_characters,
        max_characters: model.max_characters,
        formats: FORMATS.to_vec(),
        streaming: true,
        instructions: false,
    }
}

fn voice_info(id: &str, name: &str) -> VoiceInfo {
    VoiceInfo {
        id: id.to_string(),
        name: name.to_string(),
        // Premade voices speak every language of the model they run on.
        languages: Vec::new(),
        models: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(name: &str, value: &str) -> Setting {
        Setting {
            name: name.to_string(),
            value: value.to_string(),
        }
    }

    #[test]
    fn describe_names_provider() {
        let info = describe(&[]).unwrap();

        assert_eq!(info.id, "elevenlabs");
        assert_eq!(info.name, "ElevenLabs");
        assert_eq!(info.version, "0.1.0");
        assert_eq!(info.default_model, "eleven_multilingual_v2");
        assert_eq!(info.default_voice, "21m00Tcm4TlvDq8ikWAM");
        assert_eq!(info.hosts, vec!["api.elevenlabs.io".to_string()]);
    }

    #[test]
    fn describe_lists_models_with_limits() {
        let info = describe(&[]).unwrap();

        let summary: Vec<(&str, u32, f64, usize)> = info
            .models
            .iter()
            .map(|model| {
                (
                    model.id.as_str(),
                    model.max_characters,
                    model.price_per_million_characters,
                    model.languages.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("eleven_v3", 5_000, 100.0, 74),
                ("eleven_multilingual_v2", 10_000, 100.0, 29),
                ("eleven_flash_v2_5", 40_000, 50.0, 32),
                ("eleven_turbo_v2_5", 40_000, 50.0, 32),
                ("eleven_flash_v2", 30_000, 50.0, 1),
                ("eleven_turbo_v2", 30_000, 50.0, 1),
                ("eleven_multilingual_v1", 10_000, 100.0, 8),
                ("eleven_monolingual_v1", 10_000, 100.0, 1),
            ]
        );
        for model in &info.models {
            assert_eq!(model.formats, FORMATS.to_vec(), "{}", model.id);
            assert!(model.streaming, "{}", model.id);
            assert!(!model.instructions, "{}", model.id);
        }
    }

    #[test]
    fn language_lists_have_no_duplicates() {
        for model in &MODELS {
            let mut tags = model.languages.to_vec();
            tags.sort_unstable();
            tags.dedup();
            assert_eq!(tags.len(), model.languages.len(), "{}", model.id);
        }
    }

    #[test]
    fn describe_lists_premade_voices() {
        let info = describe(&[]).unwrap();

        assert_eq!(info.voices.len(), PREMADE_VOICES.len());
        let rachel = info.voices.iter().find(|voice| voice.id == DEFAULT_VOICE);
        assert_eq!(rachel.map(|voice| voice.name.as_str()), Some("Rachel"));
        assert!(info.voices.iter().all(|voice| voice.models.is_empty()));
    }

    #[test]
    fn account_voices_are_added() {
        let settings = [setting(
            "voices",
            "abcDEF0123456789wxyz=My Clone, 21m00Tcm4TlvDq8ikWAM=Narrator",
        )];

        let info = describe(&settings).unwrap();

        assert_eq!(info.voices.len(), PREMADE_VOICES.len() + 1);
        let last = info.voices.last().unwrap();
        assert_eq!(
            (last.id.as_str(), last.name.as_str()),
            ("abcDEF0123456789wxyz", "My Clone")
        );
        let renamed = info.voices.iter().find(|voice| voice.id == DEFAULT_VOICE);
        assert_eq!(renamed.map(|voice| voice.name.as_str()), Some("Narrator"));
    }

    #[test]
    fn describe_declares_secret_and_settings() {
        let info = describe(&[]).unwrap();

        assert_eq!(
            info.secrets,
            vec![SecretInfo {
                name: "api-key".to_string(),
                description: "ElevenLabs API key, sent as the `xi-api-key` header".to_string(),
                env: Some("ELEVENLABS_API_KEY".to_string()),
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
                ("base-url", Some("https://api.elevenlabs.io")),
                ("voices", None)
            ]
        );
    }

    #[test]
    fn describe_derives_hosts_from_base_url() {
        let info = describe(&[setting("base-url", "http://127.0.0.1:18002")]).unwrap();

        assert_eq!(info.hosts, vec!["127.0.0.1:18002".to_string()]);
    }

    #[test]
    fn describe_rejects_bad_settings() {
        for (name, value) in [("base-url", "gopher://x"), ("voices", "no-equals-sign")] {
            let error = describe(&[setting(name, value)]).unwrap_err();

            assert_eq!(error.name, name, "{value}");
        }
    }
}
