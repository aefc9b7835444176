//! Test plugin `test-alloc`: describes itself correctly, then allocates in `synthesize`
//! until memory runs out.
//!
//! Each block is written to, so the linear memory really grows. When the host's memory
//! limit refuses to grow it further, the allocator fails, the plugin aborts, and the host
//! gets a trap. The host must survive that and keep serving.

use std::hint::black_box;

use voxgate_plugin_sdk::{
    AudioContainer, Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};
use voxgate_test_plugin_support::{provider_info, unexpected_resume};

const ID: &str = "test-alloc";

/// The size of each allocation: 1 MiB, so the limit is reached in a few dozen steps.
const BLOCK_BYTES: usize = 1 << 20;

/// The provider that exhausts its memory.
pub struct Alloc;

impl Guest for Alloc {
    fn describe(_settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        let formats = [
            AudioContainer::Mp3,
            AudioContainer::Wav,
            AudioContainer::Pcm,
        ];
        Ok(provider_info(ID, "Test: alloc", &formats))
    }

    fn synthesize(
        _request: SynthesisRequest,
        _settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = vec![0u8; BLOCK_BYTES];
            block[BLOCK_BYTES - 1] = 1;
            // `black_box` keeps the optimiser from dropping blocks that are never read.
            blocks.push(black_box(block));
            black_box(&blocks);
        }
    }

    fn resume(_response: HttpResponse) -> Result<Step, ProviderError> {
        Err(unexpected_resume(ID))
    }
}

voxgate_plugin_sdk::export!(Alloc);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_is_valid() {
        let info = Alloc::describe(Vec::new()).unwrap();

        assert_eq!(info.id, "test-alloc");
    }
}
