//! `describe`: the one model and the embedded voices.

use voxgate_plugin_sdk::{AudioContainer, ModelInfo, ProviderInfo, SettingsError, VoiceInfo};

use crate::voice::Voice;

/// The provider id. The host gives this id built-in limits (384 MiB, 120 s, two at once).
pub const PROVIDER_ID: &str = "local";

/// The one model: Piper VITS inference.
pub const MODEL_ID: &str = "piper";

/// The most characters one request may contain.
///
/// Measured on the project machine (2 cores, wasmtime 48, see plugins/local/README.md):
/// 290 characters of English became 17.7 s of speech in 7.1 s of CPU (RTF 0.4), so 2,000
/// characters are about 2 minutes of speech and 50 s of computation, inside the host's
/// 120 s call budget for `local` with the second concurrent synthesis on the other core.
/// The gateway splits longer text at sentence boundaries into requests of this size.
pub const MAX_CHARACTERS: u32 = 2_000;

/// The containers the plugin writes. The gateway does not transcode, so compressed
/// formats are left to providers that make them.
pub const FORMATS: [AudioContainer; 2] = [AudioContainer::Wav, AudioContainer::Pcm];

/// Describes the provider for the embedded voices.
///
/// # Errors
///
/// Returns a settings error naming `voice` when the plugin was built without one, which
/// only a native test build can be.
pub fn describe(voices: &[Voice]) -> Result<ProviderInfo, SettingsError> {
    let Some(default_voice) = voices.first() else {
        return Err(SettingsError {
            name: "voice".to_string(),
            message:
                "the local plugin was built without a voice; rebuild it with `make build-plugins`"
                    .to_string(),
        });
    };

    let mut languages: Vec<String> = voices.iter().map(|voice| voice.language.clone()).collect();
    languages.sort();
    languages.dedup();

    Ok(ProviderInfo {
        id: PROVIDER_ID.to_string(),
        name: "Local (offline Piper voice)".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        models: vec![ModelInfo {
            id: MODEL_ID.to_string(),
            name: "Piper VITS, run inside the plugin".to_string(),
            languages,
            // Runs on the gateway's own CPU: no provider bills it.
            price_per_million_characters: 0.0,
            max_characters: MAX_CHARACTERS,
            formats: FORMATS.to_vec(),
            // The whole clip is computed before it is returned.
            streaming: false,
            instructions: false,
        }],
        voices: voices
            .iter()
            .map(|voice| VoiceInfo {
                id: voice.id.clone(),
                name: voice.name.clone(),
                languages: vec![voice.language.clone()],
                models: vec![MODEL_ID.to_string()],
            })
            .collect(),
        default_model: MODEL_ID.to_string(),
        default_voice: default_voice.id.clone(),
        // No network and no keys: the plugin computes the audio itself.
        hosts: Vec::new(),
        secrets: Vec::new(),
        settings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::tests::SAMPLE_CONFIG;

    #[test]
    fn describes_one_free_offline_model() {
        let voice = Voice::parse(SAMPLE_CONFIG).unwrap();

        let info = describe(&[voice]).unwrap();

        assert_eq!(info.id, "local");
        assert_eq!(info.default_model, "piper");
        assert_eq!(info.default_voice, "sample");
        assert!(info.hosts.is_empty());
        assert!(info.secrets.is_empty());
        assert!(info.settings.is_empty());
        let model = &info.models[0];
        assert_eq!(model.price_per_million_characters, 0.0);
        assert_eq!(
            model.formats,
            vec![AudioContainer::Wav, AudioContainer::Pcm]
        );
        assert_eq!(model.languages, vec!["en-US".to_string()]);
        assert!(!model.streaming);
        assert_eq!(info.voices[0].models, vec!["piper".to_string()]);
    }

    #[test]
    fn no_voice_is_an_error() {
        assert_eq!(describe(&[]).unwrap_err().name, "voice");
    }
}
