//! Test plugin `test-loop`: describes itself correctly, then never returns from
//! `synthesize`.
//!
//! The host must stop the instance when its deadline passes (wasmtime's epoch interruption)
//! and keep serving other requests.

use std::hint::black_box;

use voxgate_plugin_sdk::{
    AudioContainer, Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};
use voxgate_test_plugin_support::{provider_info, unexpected_resume};

const ID: &str = "test-loop";

/// The provider that spins forever.
pub struct Loop;

impl Guest for Loop {
    fn describe(_settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        let formats = [
            AudioContainer::Mp3,
            AudioContainer::Wav,
            AudioContainer::Pcm,
        ];
        Ok(provider_info(ID, "Test: loop", &formats))
    }

    fn synthesize(
        _request: SynthesisRequest,
        _settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        // `black_box` hides the counter from the optimiser, so it cannot prove the loop
        // has no effect and replace it with a trap or remove it.
        let mut iterations: u64 = 0;
        loop {
            iterations = black_box(iterations.wrapping_add(1));
        }
    }

    fn resume(_response: HttpResponse) -> Result<Step, ProviderError> {
        Err(unexpected_resume(ID))
    }
}

voxgate_plugin_sdk::export!(Loop);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_is_valid() {
        let info = Loop::describe(Vec::new()).unwrap();

        assert_eq!(info.id, "test-loop");
    }
}
