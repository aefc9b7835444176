//! Test plugin `test-trap`: describes itself correctly, then panics in `synthesize`.
//!
//! Release builds abort on panic, so the host gets a WebAssembly trap. The host must
//! discard the instance, report an error for this synthesis and keep serving.

use voxgate_plugin_sdk::{
    AudioContainer, Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};
use voxgate_test_plugin_support::{provider_info, unexpected_resume};

const ID: &str = "test-trap";

/// The panicking provider.
pub struct Trap;

impl Guest for Trap {
    fn describe(_settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        let formats = [
            AudioContainer::Mp3,
            AudioContainer::Wav,
            AudioContainer::Pcm,
        ];
        Ok(provider_info(ID, "Test: trap", &formats))
    }

    fn synthesize(
        _request: SynthesisRequest,
        _settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        panic!("{ID} panics in synthesize on purpose");
    }

    fn resume(_response: HttpResponse) -> Result<Step, ProviderError> {
        Err(unexpected_resume(ID))
    }
}

voxgate_plugin_sdk::export!(Trap);

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::AudioFormat;

    use super::*;

    #[test]
    fn describe_is_valid() {
        let info = Trap::describe(Vec::new()).unwrap();

        assert_eq!(info.id, "test-trap");
    }

    #[test]
    #[should_panic(expected = "test-trap panics in synthesize on purpose")]
    fn synthesize_panics() {
        let request = SynthesisRequest {
            text: "hello".to_string(),
            model: "test".to_string(),
            voice: "test".to_string(),
            format: AudioFormat {
                container: AudioContainer::Wav,
                sample_rate: None,
                bitrate: None,
            },
            speed: None,
            language: None,
            instructions: None,
            timestamps: false,
            options: String::new(),
        };

        let _ = Trap::synthesize(request, Vec::new());
    }
}
