//! The fal apps this plugin speaks through, their voices and prices, and `describe`.
//!
//! Input fields and voice lists come from the generated endpoint types of fal's JS client
//! (`fal-ai/fal-js` `libs/client/src/types/endpoints.ts` at 381105e1, 2026-08-02), unless a
//! comment names another source.

use voxgate_plugin_sdk::{
    AudioContainer, ModelInfo, ProviderInfo, SecretInfo, Setting, SettingsError, VoiceInfo,
};

use crate::config::{self, Config};

/// The name of the secret that contains the fal API key.
pub const API_KEY: &str = "api-key";

/// The model used when a request names none.
pub const DEFAULT_MODEL: &str = "fal-ai/kokoro/american-english";

/// The voice used when a request names none: the `voice` default of Kokoro American English.
pub const DEFAULT_VOICE: &str = "af_heart";

/// The voice of F5-TTS, which speaks in the voice of the reference clip the caller passes in
/// the `ref_audio_url` option, so it has no voice list of its own.
pub const REFERENCE_VOICE: &str = "reference";

/// The input and output shape of a family of apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Kokoro: text in `prompt`, output `{"audio": {"url", ...}}`.
    Kokoro,
    /// F5-TTS: text in `gen_text`, a reference clip, output `{"audio_url": {"url", ...}}`.
    F5,
    /// ElevenLabs on fal: text in `text`, voice names, output `{"audio": {"url", ...}}`.
    ElevenLabs,
}

/// One fal app.
#[derive(Debug)]
pub struct App {
    /// The fal endpoint id, which is also the path under the sync and queue hosts.
    pub id: &'static str,
    /// A human-readable name.
    pub name: &'static str,
    /// The shape of the app's input and output.
    pub family: Family,
    /// BCP 47 tags of the languages the app speaks. Empty means many, with no list.
    pub languages: &'static [&'static str],
    /// US dollars per million input characters.
    pub price_per_million_characters: f64,
    /// The maximum number of characters in one request.
    pub max_characters: u32,
    /// The one container the app returns. The host does not transcode, so this is the only
    /// format the model offers.
    pub format: AudioContainer,
    /// The voice ids the app accepts.
    pub voices: &'static [&'static str],
}

const KOKORO_AMERICAN_ENGLISH_VOICES: &[&str] = &[
    "af_heart",
    "af_alloy",
    "af_aoede",
    "af_bella",
    "af_jessica",
    "af_kore",
    "af_nicole",
    "af_nova",
    "af_river",
    "af_sarah",
    "af_sky",
    "am_adam",
    "am_echo",
    "am_eric",
    "am_fenrir",
    "am_liam",
    "am_michael",
    "am_onyx",
    "am_puck",
    "am_santa",
];
const KOKORO_BRITISH_ENGLISH_VOICES: &[&str] = &[
    "bf_alice",
    "bf_emma",
    "bf_isabella",
    "bf_lily",
    "bm_daniel",
    "bm_fable",
    "bm_george",
    "bm_lewis",
];
const KOKORO_SPANISH_VOICES: &[&str] = &["ef_dora", "em_alex", "em_santa"];
// NOTE: the 2026 client types French `voice` as any string. `ff_siwis` is the one value of
// the enum in the client's 2025 revisions (edd6d93, 2025-12-15), and Kokoro's only French voice.
const KOKORO_FRENCH_VOICES: &[&str] = &["ff_siwis"];
const KOKORO_HINDI_VOICES: &[&str] = &["hf_alpha", "hf_beta", "hm_omega", "hm_psi"];
const KOKORO_ITALIAN_VOICES: &[&str] = &["if_sara", "im_nicola"];
const KOKORO_JAPANESE_VOICES: &[&str] = &[
    "jf_alpha",
    "jf_gongitsune",
    "jf_nezumi",
    "jf_tebukuro",
    "jm_kumo",
];
const KOKORO_PORTUGUESE_VOICES: &[&str] = &["pf_dora", "pm_alex", "pm_santa"];
const KOKORO_MANDARIN_VOICES: &[&str] = &[
    "zf_xiaobei",
    "zf_xiaoni",
    "zf_xiaoxiao",
    "zf_xiaoyi",
    "zm_yunjian",
    "zm_yunxi",
    "zm_yunxia",
    "zm_yunyang",
];

/// ElevenLabs voice names that fal's wrappers accept in `voice`. `Rachel` is the documented
/// default of the TTS apps, which type `voice` as a plain string. The others are the `voice`
/// enum of fal's ElevenLabs-backed avatar app (`AiAvatarMultiTextInput`).
const ELEVENLABS_VOICES: &[&str] = &[
    "Rachel",
    "Aria",
    "Roger",
    "Sarah",
    "Laura",
    "Charlie",
    "George",
    "Callum",
    "River",
    "Liam",
    "Charlotte",
    "Alice",
    "Matilda",
    "Will",
    "Jessica",
    "Eric",
    "Chris",
    "Brian",
    "Daniel",
    "Lily",
    "Bill",
];

// Kokoro returns 24 kHz WAV: fal's published Kokoro app writes it with
// `sf.write(path, audio, 24000)` and `content_type="audio/wav"` (fal-ai-community/fal_demos
// `fal_demos/tts/kokoro.py`). That app also rejects prompts of 20 000 characters or more.
// NOTE: 16-bit mono WAV at 24 kHz is 48 000 bytes a second. The clip of a prompt near this
// limit, about 20 minutes of speech, is larger than the host's default
// upstream.max_response_bytes of 32 MiB, so such a request fails as too large.
const KOKORO_MAX_CHARACTERS: u32 = 19_999;
// NOTE: an estimate. A third-party price list gives 0.02 USD per 1000 characters for every
// Kokoro language; fal's own pricing page was not read.
const KOKORO_PRICE: f64 = 20.0;

const fn kokoro(
    id: &'static str,
    name: &'static str,
    language: &'static [&'static str],
    voices: &'static [&'static str],
) -> App {
    App {
        id,
        name,
        family: Family::Kokoro,
        languages: language,
        price_per_million_characters: KOKORO_PRICE,
        max_characters: KOKORO_MAX_CHARACTERS,
        format: AudioContainer::Wav,
        voices,
    }
}

/// Every app, the default first.
pub const APPS: [App; 12] = [
    kokoro(
        "fal-ai/kokoro/american-english",
        "Kokoro American English",
        &["en-US"],
        KOKORO_AMERICAN_ENGLISH_VOICES,
    ),
    kokoro(
        "fal-ai/kokoro/british-english",
        "Kokoro British English",
        &["en-GB"],
        KOKORO_BRITISH_ENGLISH_VOICES,
    ),
    kokoro(
        "fal-ai/kokoro/spanish",
        "Kokoro Spanish",
        &["es"],
        KOKORO_SPANISH_VOICES,
    ),
    kokoro(
        "fal-ai/kokoro/french",
        "Kokoro French",
        &["fr"],
        KOKORO_FRENCH_VOICES,
    ),
    kokoro(
        "fal-ai/kokoro/hindi",
        "Kokoro Hindi",
        &["hi"],
        KOKORO_HINDI_VOICES,
    ),
    kokoro(
        "fal-ai/kokoro/italian",
        "Kokoro Italian",
        &["it"],
        KOKORO_ITALIAN_VOICES,
    ),
    kokoro(
        "fal-ai/kokoro/japanese",
        "Kokoro Japanese",
        &["ja"],
        KOKORO_JAPANESE_VOICES,
    ),
    kokoro(
        "fal-ai/kokoro/brazilian-portuguese",
        "Kokoro Brazilian Portuguese",
        &["pt-BR"],
        KOKORO_PORTUGUESE_VOICES,
    ),
    kokoro(
        "fal-ai/kokoro/mandarin-chinese",
        "Kokoro Mandarin Chinese",
        &["zh"],
        KOKORO_MANDARIN_VOICES,
    ),
    App {
        id: "fal-ai/f5-tts",
        name: "F5-TTS",
        family: Family::F5,
        // NOTE: F5-TTS's published checkpoints are trained on English and Chinese; fal does
        // not list languages for its app.
        languages: &["en", "zh"],
        // fal's model page: 0.05 USD per 1000 characters.
        price_per_million_characters: 50.0,
        // `gen_text` is documented as "Maximum 5000 characters".
        max_characters: 5000,
        // NOTE: F5-TTS renders 24 kHz audio and fal's examples are WAV files, but no fal
        // source states the container. The plugin checks the bytes it receives.
        format: AudioContainer::Wav,
        voices: &[REFERENCE_VOICE],
    },
    App {
        id: "fal-ai/elevenlabs/tts/multilingual-v2",
        name: "ElevenLabs Multilingual v2 on fal",
        family: Family::ElevenLabs,
        languages: &[],
        // NOTE: an estimate from fal's listed 0.10 USD per 1000 characters for its other
        // ElevenLabs apps; this app's own price was not read.
        price_per_million_characters: 100.0,
        // ElevenLabs' own limit for eleven_multilingual_v2; fal's wrapper states none.
        max_characters: 10_000,
        // NOTE: ElevenLabs' default output is mp3_44100_128 and the wrapper has no
        // output_format input. Third-party notes give audio/mpeg; the bytes are checked.
        format: AudioContainer::Mp3,
        voices: ELEVENLABS_VOICES,
    },
    App {
        id: "fal-ai/elevenlabs/tts/turbo-v2.5",
        name: "ElevenLabs Turbo v2.5 on fal",
        family: Family::ElevenLabs,
        languages: &[],
        // NOTE: an estimate, half the multilingual price as at ElevenLabs itself.
        price_per_million_characters: 50.0,
        // ElevenLabs' own limit for eleven_turbo_v2_5; fal's wrapper states none.
        max_characters: 40_000,
        format: AudioContainer::Mp3,
        voices: ELEVENLABS_VOICES,
    },
];

/// Looks up an app by its endpoint id, compared exactly.
pub fn app(id: &str) -> Option<&'static App> {
    APPS.iter().find(|app| app.id == id)
}

/// Describes the provider for `settings`.
pub fn describe(settings: &[Setting]) -> Result<ProviderInfo, SettingsError> {
    let config = Config::from_settings(settings)?;

    Ok(ProviderInfo {
        id: "fal".to_string(),
        name: "fal.ai".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        models: APPS.iter().map(model_info).collect(),
        voices: voice_infos(),
        default_model: DEFAULT_MODEL.to_string(),
        default_voice: DEFAULT_VOICE.to_string(),
        hosts: config.hosts(),
        secrets: vec![SecretInfo {
            name: API_KEY.to_string(),
            description: "fal API key, sent as `Authorization: Key <key>` to the sync and \
                          queue hosts only, never to the media hosts"
                .to_string(),
            env: Some("FAL_KEY".to_string()),
            required: true,
        }],
        settings: config::setting_infos(),
    })
}

fn model_info(app: &App) -> ModelInfo {
    ModelInfo {
        id: app.id.to_string(),
        name: app.name.to_string(),
        languages: app.languages.iter().map(|tag| tag.to_string()).collect(),
        price_per_million_characters: app.price_per_million_characters,
        max_characters: app.max_characters,
        formats: vec![app.format],
        // fal responds with JSON naming a file, which the plugin fetches whole.
        streaming: false,
        instructions: false,
    }
}

/// Lists every voice once, with the apps that accept it. ElevenLabs names belong to both
/// ElevenLabs apps.
fn voice_infos() -> Vec<VoiceInfo> {
    let mut voices: Vec<VoiceInfo> = Vec::new();

    for app in &APPS {
        for &id in app.voices {
            if let Some(voice) = voices.iter_mut().find(|voice| voice.id == id) {
                voice.models.push(app.id.to_string());
                continue;
            }
            voices.push(VoiceInfo {
                id: id.to_string(),
                name: voice_name(app.family, id),
                languages: app.languages.iter().map(|tag| tag.to_string()).collect(),
                models: vec![app.id.to_string()],
            });
        }
    }

    voices
}

/// Names a voice for people: Kokoro's `af_heart` becomes `Heart`, ElevenLabs names stay.
fn voice_name(family: Family, id: &str) -> String {
    match family {
        Family::Kokoro => {
            let base = id.split_once('_').map_or(id, |(_, name)| name);
            let mut name = base.to_string();
            if let Some(first) = name.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            name
        }
        Family::F5 => "Reference clip (from the ref_audio_url option)".to_string(),
        Family::ElevenLabs => id.to_string(),
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

        assert_eq!(info.id, "fal");
        assert_eq!(info.version, "0.1.0");
        assert_eq!(info.default_model, "fal-ai/kokoro/american-english");
        assert_eq!(info.default_voice, "af_heart");
    }

    #[test]
    fn describe_lists_every_app() {
        let info = describe_default();

        let ids: Vec<&str> = info.models.iter().map(|model| model.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "fal-ai/kokoro/american-english",
                "fal-ai/kokoro/british-english",
                "fal-ai/kokoro/spanish",
                "fal-ai/kokoro/french",
                "fal-ai/kokoro/hindi",
                "fal-ai/kokoro/italian",
                "fal-ai/kokoro/japanese",
                "fal-ai/kokoro/brazilian-portuguese",
                "fal-ai/kokoro/mandarin-chinese",
                "fal-ai/f5-tts",
                "fal-ai/elevenlabs/tts/multilingual-v2",
                "fal-ai/elevenlabs/tts/turbo-v2.5",
            ]
        );
    }

    #[test]
    fn models_declare_one_real_format() {
        let info = describe_default();

        for model in &info.models {
            let expected = if model.id.starts_with("fal-ai/elevenlabs/") {
                AudioContainer::Mp3
            } else {
                AudioContainer::Wav
            };
            assert_eq!(model.formats, vec![expected], "{}", model.id);
            assert!(!model.streaming, "{}", model.id);
            assert!(!model.instructions, "{}", model.id);
        }
    }

    #[test]
    fn models_declare_prices_and_limits() {
        // (model, price per million characters, max characters)
        let cases = [
            ("fal-ai/kokoro/american-english", 20.0, 19_999),
            ("fal-ai/kokoro/japanese", 20.0, 19_999),
            ("fal-ai/f5-tts", 50.0, 5000),
            ("fal-ai/elevenlabs/tts/multilingual-v2", 100.0, 10_000),
            ("fal-ai/elevenlabs/tts/turbo-v2.5", 50.0, 40_000),
        ];
        let info = describe_default();

        for (id, price, max_characters) in cases {
            let model = info.models.iter().find(|model| model.id == id).unwrap();

            assert_eq!(model.price_per_million_characters, price, "{id}");
            assert_eq!(model.max_characters, max_characters, "{id}");
        }
    }

    #[test]
    fn voices_belong_to_their_apps() {
        let info = describe_default();
        let voice = |id: &str| info.voices.iter().find(|voice| voice.id == id).unwrap();

        assert_eq!(
            voice("af_heart").models,
            vec!["fal-ai/kokoro/american-english"]
        );
        assert_eq!(voice("af_heart").name, "Heart");
        assert_eq!(voice("jm_kumo").models, vec!["fal-ai/kokoro/japanese"]);
        assert_eq!(voice("jm_kumo").languages, vec!["ja"]);
        assert_eq!(voice("reference").models, vec!["fal-ai/f5-tts"]);
        assert_eq!(
            voice("Rachel").models,
            vec![
                "fal-ai/elevenlabs/tts/multilingual-v2",
                "fal-ai/elevenlabs/tts/turbo-v2.5"
            ]
        );
    }

    #[test]
    fn voice_ids_are_unique() {
        let info = describe_default();

        let mut ids: Vec<&str> = info.voices.iter().map(|voice| voice.id.as_str()).collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();

        assert_eq!(ids.len(), count);
        assert_eq!(count, 20 + 8 + 3 + 1 + 4 + 2 + 5 + 3 + 8 + 1 + 21);
    }

    #[test]
    fn every_app_has_its_default_voice_listed() {
        for app in &APPS {
            assert!(!app.voices.is_empty(), "{}", app.id);
        }
        assert!(app(DEFAULT_MODEL).unwrap().voices.contains(&DEFAULT_VOICE));
    }

    #[test]
    fn app_lookup_is_exact() {
        assert!(app("fal-ai/f5-tts").is_some());
        assert!(app("fal-ai/F5-TTS").is_none());
        assert!(app("fal-ai/f5-tts/").is_none());
        assert!(app("fal-ai/kokoro").is_none());
    }

    #[test]
    fn describe_declares_secret() {
        let info = describe_default();

        assert_eq!(info.secrets.len(), 1);
        assert_eq!(info.secrets[0].name, "api-key");
        assert_eq!(info.secrets[0].env.as_deref(), Some("FAL_KEY"));
        assert!(info.secrets[0].required);
    }

    #[test]
    fn describe_rejects_bad_settings() {
        let settings = [Setting {
            name: "mode".to_string(),
            value: "batch".to_string(),
        }];

        let error = describe(&settings).unwrap_err();

        assert_eq!(error.name, "mode");
    }
}
