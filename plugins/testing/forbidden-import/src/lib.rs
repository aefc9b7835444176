//! Test plugin `test-forbidden-import`: a valid provider whose component imports
//! `wasi:filesystem`, because `synthesize` lists the root directory.
//!
//! A provider plugin may import only what Rust's standard library needs for a pure
//! translator (`wasi:cli`, `wasi:io`, `wasi:clocks`, `wasi:random`). The host must reject
//! this component at load time and name the import, so `synthesize` should never run.

use voxgate_plugin_sdk::{
    AudioContainer, Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};
use voxgate_test_plugin_support::{provider_info, unexpected_resume};

const ID: &str = "test-forbidden-import";

/// The provider that reaches for the filesystem.
pub struct ForbiddenImport;

impl Guest for ForbiddenImport {
    fn describe(_settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        let formats = [
            AudioContainer::Mp3,
            AudioContainer::Wav,
            AudioContainer::Pcm,
        ];
        Ok(provider_info(ID, "Test: forbidden import", &formats))
    }

    fn synthesize(
        _request: SynthesisRequest,
        _settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        // Using the result keeps the call, and with it the `wasi:filesystem` import, in the
        // optimised component.
        let listing = match std::fs::read_dir("/") {
            Ok(entries) => format!("{} entries", entries.count()),
            Err(error) => format!("error {error}"),
        };

        Err(ProviderError::Unavailable(format!(
            "{ID} ran and read the root directory ({listing}), so the host did not reject \
             its wasi:filesystem import"
        )))
    }

    fn resume(_response: HttpResponse) -> Result<Step, ProviderError> {
        Err(unexpected_resume(ID))
    }
}

voxgate_plugin_sdk::export!(ForbiddenImport);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_is_valid() {
        let info = ForbiddenImport::describe(Vec::new()).unwrap();

        assert_eq!(info.id, "test-forbidden-import");
    }
}
