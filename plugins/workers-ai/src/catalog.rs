//! The plugin's catalog (Workers AI's speech models and their voices) and `describe`.
//!
//! Model ids, speakers and defaults come from Cloudflare's model schemas in
//! `cloudflare/cloudflare-docs`, `src/content/workers-ai-models/{aura-1,aura-2-en,melotts}.json`.

use voxgate_plugin_sdk::{
    AiGatewayHeaders, AudioContainer, ModelInfo, ProviderInfo, SecretInfo, Setting, SettingsError,
    VoiceInfo,
};

use crate::config::{self, Config};

/// The name of the secret that contains the Cloudflare API token.
pub const API_TOKEN: &str = "api-token";

/// Deepgram Aura-2, English.
pub const AURA_2_EN: &str = "@cf/deepgram/aura-2-en";
/// Deepgram Aura (the first generation).
pub const AURA_1: &str = "@cf/deepgram/aura-1";
/// MyShell's MeloTTS.
pub const MELOTTS: &str = "@cf/myshell-ai/melotts";

/// The model used when a request names none.
pub const DEFAULT_MODEL: &str = AURA_2_EN;
/// The voice used when a request names none: aura-2-en's default speaker, which aura-1 also has.
pub const DEFAULT_VOICE: &str = "luna";

/// MeloTTS has no speakers, only a language; this is the one voice the plugin offers for it.
pub const MELOTTS_VOICE: &str = "melotts";

/// The maximum number of characters in one request, for every model.
///
/// NOTE: Cloudflare publishes no text limit for these models. Deepgram's own speak API is
/// commonly quoted at 2000 characters per request, which is unverified. MeloTTS gets the same
/// cap, so that the host splits long texts rather than sending them to fail upstream.
pub const MAX_CHARACTERS: u32 = 2000;

/// The request and response shape of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Deepgram Aura: `text`, `speaker` and output settings in; raw audio out, streamed.
    Aura,
    /// MeloTTS: `prompt` and `lang` in; base64 audio in the JSON result envelope out.
    MeloTts,
}

/// One speech model.
#[derive(Debug)]
pub struct Model {
    /// The model id, sent verbatim in the URL path.
    pub id: &'static str,
    /// A human-readable name.
    pub name: &'static str,
    /// The model's request and response shape.
    pub family: Family,
    /// US dollars per million input characters.
    pub price_per_million_characters: f64,
}

/// The speech models.
pub const MODELS: [Model; 3] = [
    Model {
        id: AURA_2_EN,
        name: "Deepgram Aura-2 (English)",
        family: Family::Aura,
        // 0.03 USD per 1k characters, the `price` property of aura-2-en.json.
        price_per_million_characters: 30.0,
    },
    Model {
        id: AURA_1,
        name: "Deepgram Aura",
        family: Family::Aura,
        // 0.015 USD per 1k characters, from Workers AI's pricing page
        // (`workers-ai/platform/pricing.mdx`) and the model page.
        // NOTE: aura-1.json itself lists a price of 0 per audio minute, which looks like a
        // placeholder.
        price_per_million_characters: 15.0,
    },
    Model {
        id: MELOTTS,
        name: "MeloTTS",
        family: Family::MeloTts,
        // NOTE: an estimate. Cloudflare bills MeloTTS at 0.0002 USD per audio minute. English
        // speech runs at about 15 characters per second (900 per minute), so a million
        // characters make about 1111 minutes, or 0.22 USD. Slow or non-Latin text costs more.
        price_per_million_characters: 0.22,
    },
];

/// aura-1's speakers, in the schema's order (default `angus`).
pub const AURA_1_SPEAKERS: [&str; 12] = [
    "angus", "asteria", "arcas", "orion", "orpheus", "athena", "luna", "zeus", "perseus", "helios",
    "hera", "stella",
];

/// aura-2-en's speakers, in the schema's order (default `luna`).
pub const AURA_2_EN_SPEAKERS: [&str; 40] = [
    "amalthea",
    "andromeda",
    "apollo",
    "arcas",
    "aries",
    "asteria",
    "athena",
    "atlas",
    "aurora",
    "callista",
    "cora",
    "cordelia",
    "delia",
    "draco",
    "electra",
    "harmonia",
    "helena",
    "hera",
    "hermes",
    "hyperion",
    "iris",
    "janus",
    "juno",
    "jupiter",
    "luna",
    "mars",
    "minerva",
    "neptune",
    "odysseus",
    "ophelia",
    "orion",
    "orpheus",
    "pandora",
    "phoebe",
    "pluto",
    "saturn",
    "thalia",
    "theia",
    "vesta",
    "zeus",
];

/// The languages MeloTTS speaks, as BCP 47 tags. MeloTTS's own project lists English,
/// Spanish, French, Chinese, Japanese and Korean.
pub const MELOTTS_LANGUAGES: [&str; 6] = ["en", "es", "fr", "zh", "ja", "ko"];

/// Returns the containers each family can produce.
///
/// Aura's come from Deepgram's table of encodings (`tts-media-output-settings`). MeloTTS
/// returns WAV: Cloudflare's schema states MP3, but two independent public reports decoded
/// the audio as RIFF WAVE, and `resume` checks the bytes themselves.
pub fn formats(family: Family) -> Vec<AudioContainer> {
    match family {
        Family::Aura => vec![
            AudioContainer::Mp3,
            AudioContainer::Opus,
            AudioContainer::Aac,
            AudioContainer::Flac,
            AudioContainer::Wav,
            AudioContainer::Pcm,
            AudioContainer::Ulaw,
            AudioContainer::Alaw,
        ],
        Family::MeloTts => vec![AudioContainer::Wav],
    }
}

/// Looks up a model by id.
pub fn model(id: &str) -> Option<&'static Model> {
    MODELS.iter().find(|model| model.id == id)
}

/// Checks whether `voice` is one of the model's speakers.
pub fn offers_voice(model: &Model, voice: &str) -> bool {
    match model.id {
        AURA_1 => AURA_1_SPEAKERS.contains(&voice),
        AURA_2_EN => AURA_2_EN_SPEAKERS.contains(&voice),
        _ => voice == MELOTTS_VOICE,
    }
}

/// Describes the provider for `settings`.
pub fn describe(settings: &[Setting]) -> Result<ProviderInfo, SettingsError> {
    let config = Config::from_settings(settings)?;

    let mut secrets = vec![SecretInfo {
        name: API_TOKEN.to_string(),
        description: "Cloudflare API token with Workers AI permissions, sent as \
                      `Authorization: Bearer <token>`"
            .to_string(),
        env: Some("CLOUDFLARE_API_TOKEN".to_string()),
        required: true,
    }];
    secrets.extend(config.ai_gateway.secret_infos());

    let mut settings = config::setting_infos();
    settings.extend(AiGatewayHeaders::setting_infos());

    Ok(ProviderInfo {
        id: "workers-ai".to_string(),
        name: "Cloudflare Workers AI".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        models: MODELS.iter().map(model_info).collect(),
        voices: voices(),
        default_model: DEFAULT_MODEL.to_string(),
        default_voice: DEFAULT_VOICE.to_string(),
        hosts: vec![config.host],
        secrets,
        settings,
    })
}

fn model_info(model: &Model) -> ModelInfo {
    let languages = match model.family {
        Family::Aura => vec!["en".to_string()],
        Family::MeloTts => MELOTTS_LANGUAGES
            .iter()
            .map(|tag| tag.to_string())
            .collect(),
    };

    ModelInfo {
        id: model.id.to_string(),
        name: model.name.to_string(),
        languages,
        price_per_million_characters: model.price_per_million_characters,
        max_characters: MAX_CHARACTERS,
        formats: formats(model.family),
        streaming: model.family == Family::Aura,
        instructions: false,
    }
}

/// Lists every Aura speaker once, with the models that have it, then MeloTTS's voice.
fn voices() -> Vec<VoiceInfo> {
    let mut ids: Vec<&str> = AURA_2_EN_SPEAKERS.to_vec();
    for speaker in AURA_1_SPEAKERS {
        if !ids.contains(&speaker) {
            ids.push(speaker);
        }
    }
    ids.sort_unstable();

    let mut voices: Vec<VoiceInfo> = ids
        .into_iter()
        .map(|id| {
            let models = [AURA_2_EN, AURA_1]
                .into_iter()
                .filter(|model_id| model(model_id).is_some_and(|model| offers_voice(model, id)))
                .map(str::to_string)
                .collect();
            VoiceInfo {
                id: id.to_string(),
                name: capitalized(id),
                languages: vec!["en".to_string()],
                models,
            }
        })
        .collect();

    voices.push(VoiceInfo {
        id: MELOTTS_VOICE.to_string(),
        name: "MeloTTS".to_string(),
        languages: MELOTTS_LANGUAGES
            .iter()
            .map(|tag| tag.to_string())
            .collect(),
        models: vec![MELOTTS.to_string()],
    });
    voices
}

fn capitalized(id: &str) -> String {
    let mut name = id.to_string();
    if let Some(first) = name.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    name
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

    fn voice<'a>(info: &'a ProviderInfo, id: &str) -> &'a VoiceInfo {
        info.voices
            .iter()
            .find(|voice| voice.id == id)
            .unwrap_or_else(|| panic!("no voice {id}"))
    }

    #[test]
    fn describe_names_provider_without_account() {
        let info = describe(&[]).unwrap();

        assert_eq!(info.id, "workers-ai");
        assert_eq!(info.version, "0.1.0");
        assert_eq!(info.default_model, "@cf/deepgram/aura-2-en");
        assert_eq!(info.default_voice, "luna");
        assert_eq!(info.hosts, vec!["api.cloudflare.com".to_string()]);
    }

    #[test]
    fn describe_lists_models() {
        let info = describe(&[]).unwrap();

        let summary: Vec<(&str, f64, bool, usize)> = info
            .models
            .iter()
            .map(|model| {
                (
                    model.id.as_str(),
                    model.price_per_million_characters,
                    model.streaming,
                    model.formats.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("@cf/deepgram/aura-2-en", 30.0, true, 8),
                ("@cf/deepgram/aura-1", 15.0, true, 8),
                ("@cf/myshell-ai/melotts", 0.22, false, 1),
            ]
        );
        assert_eq!(info.models[2].formats, vec![AudioContainer::Wav]);
        assert_eq!(info.models[2].languages.len(), 6);
        assert!(info.models.iter().all(|model| !model.instructions));
        assert!(info.models.iter().all(|model| model.max_characters == 2000));
    }

    #[test]
    fn shared_speakers_list_both_models() {
        let info = describe(&[]).unwrap();

        assert_eq!(
            voice(&info, "luna").models,
            vec!["@cf/deepgram/aura-2-en", "@cf/deepgram/aura-1"]
        );
        assert_eq!(voice(&info, "angus").models, vec!["@cf/deepgram/aura-1"]);
        assert_eq!(
            voice(&info, "thalia").models,
            vec!["@cf/deepgram/aura-2-en"]
        );
        assert_eq!(
            voice(&info, "melotts").models,
            vec!["@cf/myshell-ai/melotts"]
        );
        assert_eq!(voice(&info, "zeus").name, "Zeus");
    }

    #[test]
    fn every_speaker_is_a_voice_once() {
        let info = describe(&[]).unwrap();

        // 40 aura-2-en speakers, 4 more from aura-1 (angus, perseus, helios, stella), MeloTTS.
        assert_eq!(info.voices.len(), 45);
        for speaker in AURA_1_SPEAKERS.iter().chain(AURA_2_EN_SPEAKERS.iter()) {
            let count = info.voices.iter().filter(|v| v.id == *speaker).count();
            assert_eq!(count, 1, "{speaker}");
        }
    }

    #[test]
    fn describe_declares_secrets_and_settings() {
        let info = describe(&[]).unwrap();

        assert_eq!(info.secrets.len(), 1);
        assert_eq!(info.secrets[0].name, "api-token");
        assert_eq!(info.secrets[0].env.as_deref(), Some("CLOUDFLARE_API_TOKEN"));
        assert!(info.secrets[0].required);

        let settings: Vec<(&str, Option<&str>)> = info
            .settings
            .iter()
            .map(|setting| (setting.name.as_str(), setting.default.as_deref()))
            .collect();
        assert_eq!(
            settings,
            vec![
                ("base-url", Some("https://api.cloudflare.com/client/v4")),
                ("account-id", None),
                ("aig-cache-ttl", None),
                ("aig-skip-cache", Some("false")),
                ("aig-metadata", None),
                ("aig-authenticated", Some("false")),
            ]
        );
        let account = &info.settings[1].description;
        assert!(account.contains("configuration"), "{account}");
    }

    #[test]
    fn authenticated_gateway_declares_token() {
        let settings = [
            setting("base-url", "http://127.0.0.1:9000/v1/acc/gw/workers-ai"),
            setting("aig-authenticated", "true"),
        ];

        let info = describe(&settings).unwrap();

        let names: Vec<&str> = info.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["api-token", "aig-token"]);
        assert_eq!(info.hosts, vec!["127.0.0.1:9000".to_string()]);
    }

    #[test]
    fn describe_rejects_bad_settings() {
        let cases = [
            ("base-url", "gopher://example.com"),
            ("account-id", "abc/../def"),
            ("aig-metadata", "[1, 2]"),
        ];

        for (name, value) in cases {
            let error = describe(&[setting(name, value)]).unwrap_err();

            assert_eq!(error.name, name, "{value}");
        }
    }
}
