//! The parts voxgate's test plugins share: a small valid `describe` output, so the host
//! loads each of them, and the `resume` error of a plugin that sends no requests.
//!
//! The test plugins exist for the host's robustness tests. Each one describes itself
//! correctly and then misbehaves in `synthesize` in one specific way (or, for `test-tone`,
//! behaves well without any network).

use voxgate_plugin_sdk::{AudioContainer, ModelInfo, ProviderError, ProviderInfo, VoiceInfo};

/// The one model every test plugin offers.
pub const MODEL: &str = "test";

/// The one voice every test plugin offers.
pub const VOICE: &str = "test";

/// Maximum characters in one request to a test plugin.
pub const MAX_CHARACTERS: u32 = 1000;

/// The host that the test plugins declare: loopback only, so a test that lets a request
/// through can never reach another machine.
pub const HOST: &str = "127.0.0.1";

/// Builds the `describe` output of the test plugin `id`: one model `test` producing
/// `formats`, one voice `test`, the host `127.0.0.1`, and no secrets or settings.
pub fn provider_info(id: &str, name: &str, formats: &[AudioContainer]) -> ProviderInfo {
    ProviderInfo {
        id: id.to_string(),
        name: name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        models: vec![ModelInfo {
            id: MODEL.to_string(),
            name: "Test".to_string(),
            languages: Vec::new(),
            price_per_million_characters: 0.0,
            max_characters: MAX_CHARACTERS,
            formats: formats.to_vec(),
            streaming: false,
            instructions: false,
        }],
        voices: vec![VoiceInfo {
            id: VOICE.to_string(),
            name: "Test".to_string(),
            languages: Vec::new(),
            models: Vec::new(),
        }],
        default_model: MODEL.to_string(),
        default_voice: VOICE.to_string(),
        hosts: vec![HOST.to_string()],
        secrets: Vec::new(),
        settings: Vec::new(),
    }
}

/// The error for a `resume` call to a plugin whose `synthesize` never returns a `fetch` or
/// `stream` step, so the host should never call it.
pub fn unexpected_resume(id: &str) -> ProviderError {
    ProviderError::InvalidResponse(format!(
        "the {id} plugin sends no requests, so it never expects a response"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_info_is_minimal() {
        let info = provider_info("test-x", "Test X", &[AudioContainer::Wav]);

        assert_eq!(info.id, "test-x");
        assert_eq!(info.models.len(), 1);
        assert_eq!(info.models[0].id, "test");
        assert_eq!(info.models[0].max_characters, 1000);
        assert_eq!(info.models[0].formats, vec![AudioContainer::Wav]);
        assert_eq!(info.voices.len(), 1);
        assert_eq!(info.voices[0].id, "test");
        assert_eq!(info.default_model, "test");
        assert_eq!(info.default_voice, "test");
        assert_eq!(info.hosts, vec!["127.0.0.1".to_string()]);
        assert!(info.secrets.is_empty());
        assert!(info.settings.is_empty());
    }
}
