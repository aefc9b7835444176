//! `synthesize`: translates a synthesis request, once `request_check` accepts it, into the
//! Workers AI model's run request.
//!
//! - Aura (`@cf/deepgram/aura-*`) returns raw audio over REST, so its request is a
//!   `stream` step: the host streams a 2xx audio body to the caller and calls `resume` only
//!   for anything else.
//! - MeloTTS returns JSON, `{"result": {"audio": "<base64>"}, ...}`, so its request is a
//!   `fetch` step and `resume` decodes the audio.

use voxgate_plugin_sdk::serde_json::{Map, Value};
use voxgate_plugin_sdk::{
    AudioContainer, HttpRequest, Method, ProviderError, RequestHeader, Setting, Step,
    StreamRequest, SynthesisRequest, bearer, header, json_body, secret_header,
};

use crate::aura_format::{AuraOutput, aura_output};
use crate::catalog::{API_TOKEN, Family};
use crate::config::Config;
use crate::request_check::{check, melotts_lang};

/// The request state that `resume` needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// An Aura `stream` step, whose response reaches `resume` only when it was not audio.
    Aura,
    /// A MeloTTS `fetch` step, and the container the caller requested.
    MeloTts { requested: AudioContainer },
}

/// Starts a synthesis: returns the first step and what `resume` must remember.
pub fn synthesize(
    request: &SynthesisRequest,
    settings: &[Setting],
) -> Result<(Step, Pending), ProviderError> {
    let config = Config::from_settings(settings).map_err(ProviderError::Misconfigured)?;
    let model = check(request)?;
    // The host only synthesizes with settings that `describe` accepted, so the one setting
    // that can still be missing is the account id, checked only now (see `Config::run_url`).
    let url = config
        .run_url(model.id)
        .map_err(ProviderError::Misconfigured)?;

    let mut headers = vec![
        secret_header("authorization", bearer(API_TOKEN)),
        header("content-type", "application/json"),
    ];
    config.ai_gateway.append_to(&mut headers);

    match model.family {
        Family::Aura => {
            let output = aura_output(&request.format)?;
            let step = Step::Stream(StreamRequest {
                request: post(url, headers, aura_body(request, &output)),
                format: output.format,
                billed_characters_header: None,
            });
            Ok((step, Pending::Aura))
        }
        Family::MeloTts => {
            let lang = request.language.as_deref().map(melotts_lang).transpose()?;
            let step = Step::Fetch(post(url, headers, melotts_body(request, lang)));
            let pending = Pending::MeloTts {
                requested: request.format.container,
            };
            Ok((step, pending))
        }
    }
}

/// Builds Aura's body: `text`, `speaker`, `encoding`, and the output settings that apply.
fn aura_body(request: &SynthesisRequest, output: &AuraOutput) -> Value {
    let mut body = Map::new();
    body.insert("text".to_string(), Value::from(request.text.as_str()));
    body.insert("speaker".to_string(), Value::from(request.voice.as_str()));
    body.insert("encoding".to_string(), Value::from(output.encoding));
    if let Some(container) = output.container {
        body.insert("container".to_string(), Value::from(container));
    }
    if let Some(rate) = output.sample_rate {
        body.insert("sample_rate".to_string(), Value::from(rate));
    }
    if let Some(rate) = output.bit_rate {
        body.insert("bit_rate".to_string(), Value::from(rate));
    }

    Value::Object(body)
}

/// Builds MeloTTS's body: `prompt` (the text, despite the schema's description), and `lang`
/// when the request names a language; MeloTTS defaults to `en`.
fn melotts_body(request: &SynthesisRequest, lang: Option<&str>) -> Value {
    let mut body = Map::new();
    body.insert("prompt".to_string(), Value::from(request.text.as_str()));
    if let Some(lang) = lang {
        body.insert("lang".to_string(), Value::from(lang));
    }

    Value::Object(body)
}

fn post(url: String, headers: Vec<RequestHeader>, body: Value) -> HttpRequest {
    HttpRequest {
        method: Method::Post,
        url,
        headers,
        body: json_body(&body),
    }
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::serde_json::{self, json};
    use voxgate_plugin_sdk::{AudioFormat, HeaderValue, SecretRef};

    use super::*;

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

    fn request(model: &str, voice: &str, container: AudioContainer) -> SynthesisRequest {
        SynthesisRequest {
            text: "Hello there.".to_string(),
            model: model.to_string(),
            voice: voice.to_string(),
            format: AudioFormat {
                container,
                sample_rate: None,
                bitrate: None,
            },
            speed: None,
            language: None,
            instructions: None,
            timestamps: false,
            options: String::new(),
        }
    }

    fn aura() -> SynthesisRequest {
        request("@cf/deepgram/aura-2-en", "luna", AudioContainer::Mp3)
    }

    fn melotts() -> SynthesisRequest {
        request("@cf/myshell-ai/melotts", "melotts", AudioContainer::Wav)
    }

    fn settings(pairs: &[(&str, &str)]) -> Vec<Setting> {
        let mut list = vec![Setting {
            name: "account-id".to_string(),
            value: ACCOUNT.to_string(),
        }];
        list.extend(pairs.iter().map(|(name, value)| Setting {
            name: name.to_string(),
            value: value.to_string(),
        }));
        list
    }

    fn stream(request: &SynthesisRequest, settings: &[Setting]) -> StreamRequest {
        match synthesize(request, settings) {
            Ok((Step::Stream(stream), Pending::Aura)) => stream,
            other => panic!("expected an Aura stream step, got {other:?}"),
        }
    }

    fn fetch(request: &SynthesisRequest, settings: &[Setting]) -> HttpRequest {
        match synthesize(request, settings) {
            Ok((Step::Fetch(fetch), Pending::MeloTts { .. })) => fetch,
            other => panic!("expected a MeloTTS fetch step, got {other:?}"),
        }
    }

    fn body(request: &HttpRequest) -> Value {
        serde_json::from_slice(&request.body).expect("body is JSON")
    }

    fn expect_error(request: &SynthesisRequest) -> ProviderError {
        synthesize(request, &settings(&[])).expect_err("expected an error")
    }

    fn expect_unsupported(request: &SynthesisRequest, fragment: &str) {
        match expect_error(request) {
            ProviderError::Unsupported(message) => assert!(message.contains(fragment), "{message}"),
            other => panic!("expected unsupported, got {other:?}"),
        }
    }

    fn auth_headers() -> Vec<RequestHeader> {
        vec![
            RequestHeader {
                name: "authorization".to_string(),
                value: HeaderValue::Secret(SecretRef {
                    name: "api-token".to_string(),
                    prefix: "Bearer ".to_string(),
                    suffix: String::new(),
                }),
            },
            RequestHeader {
                name: "content-type".to_string(),
                value: HeaderValue::Text("application/json".to_string()),
            },
        ]
    }

    #[test]
    fn aura_request_is_exact() {
        let stream = stream(&aura(), &settings(&[]));

        assert_eq!(stream.request.method, Method::Post);
        assert_eq!(
            stream.request.url,
            format!(
                "https://api.cloudflare.com/client/v4/accounts/{ACCOUNT}/ai/run/@cf/deepgram/aura-2-en"
            )
        );
        assert_eq!(stream.request.headers, auth_headers());
        assert_eq!(
            body(&stream.request),
            json!({"text": "Hello there.", "speaker": "luna", "encoding": "mp3"})
        );
        assert_eq!(
            stream.format,
            AudioFormat {
                container: AudioContainer::Mp3,
                sample_rate: Some(22_050),
                bitrate: Some(48_000),
            }
        );
        assert_eq!(stream.billed_characters_header, None);
    }

    #[test]
    fn aura_body_for_every_container() {
        let cases = [
            (AudioContainer::Mp3, json!({"encoding": "mp3"})),
            (
                AudioContainer::Opus,
                json!({"encoding": "opus", "container": "ogg"}),
            ),
            (AudioContainer::Aac, json!({"encoding": "aac"})),
            (
                AudioContainer::Flac,
                json!({"encoding": "flac", "sample_rate": 48000}),
            ),
            (
                AudioContainer::Wav,
                json!({"encoding": "linear16", "container": "wav", "sample_rate": 24000}),
            ),
            (
                AudioContainer::Pcm,
                json!({"encoding": "linear16", "container": "none", "sample_rate": 24000}),
            ),
            (
                AudioContainer::Ulaw,
                json!({"encoding": "mulaw", "container": "none", "sample_rate": 8000}),
            ),
            (
                AudioContainer::Alaw,
                json!({"encoding": "alaw", "container": "none", "sample_rate": 8000}),
            ),
        ];

        for (container, output) in cases {
            let mut request = aura();
            request.format.container = container;

            let stream = stream(&request, &settings(&[]));

            let mut expected = json!({"text": "Hello there.", "speaker": "luna"});
            for (key, value) in output.as_object().unwrap() {
                expected[key] = value.clone();
            }
            assert_eq!(body(&stream.request), expected, "{}", container.name());
            assert_eq!(stream.format.container, container);
        }
    }

    #[test]
    fn aura_1_speaker_and_bit_rate() {
        let mut request = request("@cf/deepgram/aura-1", "angus", AudioContainer::Opus);
        request.format.bitrate = Some(32_000);

        let stream = stream(&request, &settings(&[]));

        assert!(
            stream.request.url.ends_with("/ai/run/@cf/deepgram/aura-1"),
            "{}",
            stream.request.url
        );
        assert_eq!(
            body(&stream.request),
            json!({"text": "Hello there.", "speaker": "angus", "encoding": "opus", "container": "ogg", "bit_rate": 32000})
        );
    }

    #[test]
    fn melotts_request_is_exact() {
        let fetch = fetch(&melotts(), &settings(&[]));

        assert_eq!(fetch.method, Method::Post);
        assert_eq!(
            fetch.url,
            format!(
                "https://api.cloudflare.com/client/v4/accounts/{ACCOUNT}/ai/run/@cf/myshell-ai/melotts"
            )
        );
        assert_eq!(fetch.headers, auth_headers());
        assert_eq!(body(&fetch), json!({"prompt": "Hello there."}));
    }

    #[test]
    fn melotts_remembers_requested_container() {
        let (_, pending) = synthesize(&melotts(), &settings(&[])).unwrap();

        assert_eq!(
            pending,
            Pending::MeloTts {
                requested: AudioContainer::Wav
            }
        );
    }

    #[test]
    fn melotts_body_carries_lang() {
        let cases = [
            ("en-US", "en"),
            ("es", "es"),
            ("FR-ca", "fr"),
            ("zh-Hans", "zh"),
            ("ja", "jp"),
            ("ko_KR", "kr"),
        ];

        for (language, lang) in cases {
            let mut request = melotts();
            request.language = Some(language.to_string());

            let fetch = fetch(&request, &settings(&[]));

            assert_eq!(
                body(&fetch),
                json!({"prompt": "Hello there.", "lang": lang}),
                "{language}"
            );
        }
    }

    #[test]
    fn missing_account_is_misconfigured() {
        let error = synthesize(&aura(), &[]).unwrap_err();

        let ProviderError::Misconfigured(error) = error else {
            panic!("expected misconfigured, got {error:?}");
        };
        assert_eq!(error.name, "account-id");
    }

    #[test]
    fn bad_setting_is_misconfigured() {
        let error =
            synthesize(&aura(), &settings(&[("base-url", "ftp://example.com")])).unwrap_err();

        assert!(
            matches!(&error, ProviderError::Misconfigured(error) if error.name == "base-url"),
            "{error:?}"
        );
    }

    #[test]
    fn gateway_url_and_headers() {
        let gateway = [
            (
                "base-url",
                "https://gateway.ai.cloudflare.com/v1/acc/voice/workers-ai",
            ),
            ("aig-authenticated", "true"),
            ("aig-skip-cache", "true"),
        ];
        // On AI Gateway the account is in the URL, so account-id is not needed.
        let list: Vec<Setting> = gateway
            .iter()
            .map(|(name, value)| Setting {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect();

        let stream = stream(&aura(), &list);

        assert_eq!(
            stream.request.url,
            "https://gateway.ai.cloudflare.com/v1/acc/voice/workers-ai/@cf/deepgram/aura-2-en"
        );
        let names: Vec<&str> = stream
            .request
            .headers
            .iter()
            .map(|h| h.name.as_str())
            .collect();
        assert_eq!(
            names,
            vec![
                "authorization",
                "content-type",
                "cf-aig-authorization",
                "cf-aig-skip-cache"
            ]
        );
    }

    #[test]
    fn headerless_rate_is_checked() {
        let mut request = aura();
        request.format = AudioFormat {
            container: AudioContainer::Pcm,
            sample_rate: Some(44_100),
            bitrate: None,
        };

        expect_unsupported(&request, "not 44100 Hz");
    }
}
