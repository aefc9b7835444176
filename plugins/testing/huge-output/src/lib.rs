//! Test plugin `test-huge-output`: describes itself correctly, then returns outputs far
//! larger than any provider needs. `synthesize` asks the host to upload 24 MiB for a short
//! text, and `resume` returns an error whose message is 4 MiB long.
//!
//! Both stay within the memory limit, so the host carries them out. The conformance kit must
//! flag both, since such output fills logs and wastes upstream bandwidth.

use voxgate_plugin_sdk::{
    AudioContainer, Guest, HttpRequest, HttpResponse, Method, ProviderError, ProviderInfo, Setting,
    SettingsError, Step, SynthesisRequest, header,
};
use voxgate_test_plugin_support::provider_info;

const ID: &str = "test-huge-output";

/// The request body `synthesize` returns: 24 MiB, whatever the text.
pub const BODY_BYTES: usize = 24 << 20;

/// The error message `resume` returns: 4 MiB.
pub const MESSAGE_BYTES: usize = 4 << 20;

/// The provider with oversized output.
pub struct HugeOutput;

impl Guest for HugeOutput {
    fn describe(_settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        let formats = [
            AudioContainer::Mp3,
            AudioContainer::Wav,
            AudioContainer::Pcm,
        ];
        Ok(provider_info(ID, "Test: huge output", &formats))
    }

    fn synthesize(
        _request: SynthesisRequest,
        _settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        Ok(Step::Fetch(HttpRequest {
            method: Method::Post,
            url: "http://127.0.0.1/upload".to_string(),
            headers: vec![header("content-type", "application/octet-stream")],
            body: vec![b'x'; BODY_BYTES],
        }))
    }

    fn resume(_response: HttpResponse) -> Result<Step, ProviderError> {
        Err(ProviderError::Unavailable("y".repeat(MESSAGE_BYTES)))
    }
}

voxgate_plugin_sdk::export!(HugeOutput);

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::AudioFormat;

    use super::*;

    #[test]
    fn synthesize_returns_huge_body() {
        let request = SynthesisRequest {
            text: "hi".to_string(),
            model: "test".to_string(),
            voice: "test".to_string(),
            format: AudioFormat {
                container: AudioContainer::Mp3,
                sample_rate: None,
                bitrate: None,
            },
            speed: None,
            language: None,
            instructions: None,
            timestamps: false,
            options: String::new(),
        };

        let Ok(Step::Fetch(request)) = HugeOutput::synthesize(request, Vec::new()) else {
            panic!("expected a fetch step");
        };

        assert_eq!(request.body.len(), BODY_BYTES);
    }

    #[test]
    fn resume_returns_huge_message() {
        let response = HttpResponse {
            status: 500,
            headers: Vec::new(),
            body: Vec::new(),
        };

        let Err(ProviderError::Unavailable(message)) = HugeOutput::resume(response) else {
            panic!("expected unavailable");
        };

        assert_eq!(message.len(), MESSAGE_BYTES);
    }
}
