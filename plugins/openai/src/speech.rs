//! `synthesize`: checks a synthesis request against what OpenAI's speech API accepts and
//! translates it into a streamed `POST /v1/audio/speech`.

use voxgate_plugin_sdk::serde_json::{Map, Number, Value};
use voxgate_plugin_sdk::{
    AudioContainer, AudioFormat, HttpRequest, Method, ProviderError, RequestHeader, Setting,
    SettingsError, Step, StreamRequest, SynthesisRequest, bearer, header, json_body, parse_options,
    secret_header,
};

use crate::catalog::{self, API_KEY, MAX_CHARACTERS, Model};
use crate::config::Config;

/// The sample rate of OpenAI's `pcm` and `wav` output: 24 kHz, 16-bit, mono.
pub const PCM_SAMPLE_RATE: u32 = 24_000;

/// The slowest `speed` OpenAI accepts.
const MIN_SPEED: f32 = 0.25;
/// The fastest `speed` OpenAI accepts.
const MAX_SPEED: f32 = 4.0;

/// OpenAI's limit on `instructions`, in characters (`maxLength` in its OpenAPI spec).
const MAX_INSTRUCTIONS_CHARACTERS: usize = 4096;

/// Provider options this plugin passes through from `synthesis-request.options`: none.
/// OpenAI rejects unknown body fields, and its other documented fields have a place in the
/// synthesis request, except `stream_format`, which must stay `audio` (the default) because
/// the host streams the raw body.
const ACCEPTED_OPTIONS: [&str; 0] = [];

/// Starts a synthesis: returns the `stream` step for `request`.
pub fn synthesize(request: &SynthesisRequest, settings: &[Setting]) -> Result<Step, ProviderError> {
    let config = Config::from_settings(settings).map_err(unusable_setting)?;
    let checked = check(request)?;

    Ok(Step::Stream(StreamRequest {
        request: HttpRequest {
            method: Method::Post,
            url: config.speech_url.clone(),
            headers: headers(&config),
            body: json_body(&body(request, &checked)),
        },
        format: stream_format(request.format.container),
        billed_characters_header: None,
    }))
}

/// The parts of a request that [`check`] resolved for the body.
struct Checked<'a> {
    model: &'static Model,
    response_format: &'static str,
    speed: Option<Value>,
    instructions: Option<&'a str>,
}

/// Checks `request` against what OpenAI accepts.
///
/// What OpenAI cannot serve (model, container, sample rate, instructions, timestamps) is
/// `unsupported`, and is checked first so the host can fall back to another provider.
/// Values that are wrong for any provider (speed out of range, text too long, unknown
/// options) are `invalid-request`.
fn check(request: &SynthesisRequest) -> Result<Checked<'_>, ProviderError> {
    let model = catalog::model(&request.model).ok_or_else(|| {
        ProviderError::Unsupported(format!("OpenAI offers no speech model `{}`", request.model))
    })?;
    let response_format = response_format(&request.format)?;
    if request.timestamps {
        return Err(ProviderError::Unsupported(
            "OpenAI's speech API returns no character timestamps".to_string(),
        ));
    }
    let instructions = request
        .instructions
        .as_deref()
        .filter(|text| !text.is_empty());
    if instructions.is_some() && !model.instructions {
        return Err(ProviderError::Unsupported(format!(
            "the model `{}` does not take instructions, use gpt-4o-mini-tts",
            model.id
        )));
    }

    parse_options(&request.options, &ACCEPTED_OPTIONS)?;
    check_text(&request.text)?;
    if request.voice.is_empty() {
        return Err(ProviderError::InvalidRequest(
            "the voice is empty".to_string(),
        ));
    }
    let speed = request.speed.map(check_speed).transpose()?;
    if let Some(instructions) = instructions {
        check_instructions(instructions)?;
    }

    Ok(Checked {
        model,
        response_format,
        speed,
        instructions,
    })
}

/// Builds the JSON body: `model`, `input`, `voice`, `response_format`, and `speed` and
/// `instructions` when the request sets them.
fn body(request: &SynthesisRequest, checked: &Checked<'_>) -> Value {
    let mut body = Map::new();
    body.insert("model".to_string(), Value::from(checked.model.id));
    body.insert("input".to_string(), Value::from(request.text.as_str()));
    body.insert("voice".to_string(), voice(&request.voice));
    body.insert(
        "response_format".to_string(),
        Value::from(checked.response_format),
    );
    if let Some(speed) = &checked.speed {
        body.insert("speed".to_string(), speed.clone());
    }
    if let Some(instructions) = checked.instructions {
        body.insert("instructions".to_string(), Value::from(instructions));
    }

    Value::Object(body)
}

/// Builds the request headers. The API key is a secret reference, which the host fills in.
fn headers(config: &Config) -> Vec<RequestHeader> {
    let mut headers = vec![
        secret_header("authorization", bearer(API_KEY)),
        header("content-type", "application/json"),
        // OpenAI's Python SDK sends this header on speech requests.
        header("accept", "application/octet-stream"),
    ];
    if let Some(organization) = &config.organization {
        headers.push(header("openai-organization", organization));
    }
    if let Some(project) = &config.project {
        headers.push(header("openai-project", project));
    }
    config.ai_gateway.append_to(&mut headers);

    headers
}

/// Maps the requested container to OpenAI's `response_format` and checks the sample rate.
fn response_format(format: &AudioFormat) -> Result<&'static str, ProviderError> {
    // OpenAI's `response_format` values are the WIT container names, minus G.711.
    let name = format.container.name();
    if matches!(
        format.container,
        AudioContainer::Ulaw | AudioContainer::Alaw
    ) {
        return Err(ProviderError::Unsupported(format!(
            "OpenAI offers no {name} output, only mp3, opus, aac, flac, wav and pcm"
        )));
    }

    // NOTE: OpenAI documents the rate of pcm (and so wav) only. A rate requested for a
    // compressed container is not checked, and the stream's format leaves it unstated.
    let fixed_rate = matches!(format.container, AudioContainer::Pcm | AudioContainer::Wav);
    if let Some(rate) = format.sample_rate
        && fixed_rate
        && rate != PCM_SAMPLE_RATE
    {
        return Err(ProviderError::Unsupported(format!(
            "OpenAI's {name} output is {PCM_SAMPLE_RATE} Hz only, not {rate} Hz"
        )));
    }

    Ok(name)
}

/// Builds the format of the audio that a successful response streams.
fn stream_format(container: AudioContainer) -> AudioFormat {
    let sample_rate = match container {
        AudioContainer::Pcm | AudioContainer::Wav => Some(PCM_SAMPLE_RATE),
        _ => None,
    };

    AudioFormat {
        container,
        sample_rate,
        // OpenAI has no bit-rate parameter and does not state the rate it encodes at.
        bitrate: None,
    }
}

fn check_text(text: &str) -> Result<(), ProviderError> {
    // Text of only whitespace has nothing to speak: the caller's error, like empty text.
    if text.trim().is_empty() {
        return Err(ProviderError::InvalidRequest(
            "the text is empty or only whitespace".to_string(),
        ));
    }

    // OpenAI's limit counts characters, so a multi-byte letter counts once.
    let characters = text.chars().count();
    if characters > MAX_CHARACTERS as usize {
        return Err(ProviderError::InvalidRequest(format!(
            "the text has {characters} characters, OpenAI accepts at most {MAX_CHARACTERS} \
             per request"
        )));
    }

    Ok(())
}

fn check_instructions(instructions: &str) -> Result<(), ProviderError> {
    let characters = instructions.chars().count();
    if characters > MAX_INSTRUCTIONS_CHARACTERS {
        return Err(ProviderError::InvalidRequest(format!(
            "the instructions have {characters} characters, OpenAI accepts at most \
             {MAX_INSTRUCTIONS_CHARACTERS}"
        )));
    }

    Ok(())
}

/// Checks `speed` and converts it to the JSON number OpenAI receives.
fn check_speed(speed: f32) -> Result<Value, ProviderError> {
    // Widening the f32 directly would send 1.100000023841858 for 1.1. Rounding to six
    // decimals, about the precision of an f32 in this range, gives back the number the
    // caller wrote. serde_json then prints its shortest form, without core's float
    // formatting, which would add about 20 KB to the component.
    let rounded = (f64::from(speed) * 1e6).round() / 1e6;
    let number = Number::from_f64(rounded);

    let in_range = (MIN_SPEED..=MAX_SPEED).contains(&speed);
    match number {
        Some(number) if in_range => Ok(Value::Number(number)),
        Some(number) => Err(speed_out_of_range(&number.to_string())),
        None => Err(speed_out_of_range("not a finite number")),
    }
}

fn speed_out_of_range(speed: &str) -> ProviderError {
    ProviderError::InvalidRequest(format!(
        "the speed {speed} is out of range, OpenAI accepts 0.25 to 4.0"
    ))
}

/// Builds the `voice` field. OpenAI's spec takes a built-in voice as a string and a custom
/// voice (an id OpenAI issues with the prefix `voice_`) as `{"id": ...}`.
fn voice(voice: &str) -> Value {
    if voice.starts_with("voice_") {
        let mut object = Map::new();
        object.insert("id".to_string(), Value::from(voice));
        return Value::Object(object);
    }

    Value::from(voice)
}

/// Turns settings that `describe` would have rejected into an error for this synthesis.
fn unusable_setting(error: SettingsError) -> ProviderError {
    // The host only synthesizes with settings that `describe` accepted, so this is an
    // operator error that no retry fixes.
    ProviderError::Misconfigured(error)
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::serde_json::{self, json};
    use voxgate_plugin_sdk::{HeaderValue, SecretRef};

    use super::*;

    fn request() -> SynthesisRequest {
        SynthesisRequest {
            text: "Hello there.".to_string(),
            model: "tts-1".to_string(),
            voice: "alloy".to_string(),
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
        }
    }

    fn setting(name: &str, value: &str) -> Setting {
        Setting {
            name: name.to_string(),
            value: value.to_string(),
        }
    }

    fn stream(request: &SynthesisRequest, settings: &[Setting]) -> StreamRequest {
        match synthesize(request, settings) {
            Ok(Step::Stream(stream)) => stream,
            other => panic!("expected a stream step, got {other:?}"),
        }
    }

    fn body_json(stream: &StreamRequest) -> Value {
        serde_json::from_slice(&stream.request.body).expect("body is JSON")
    }

    fn expect_unsupported(request: &SynthesisRequest, fragment: &str) {
        match synthesize(request, &[]) {
            Err(ProviderError::Unsupported(message)) => {
                assert!(message.contains(fragment), "{message}");
            }
            other => panic!("expected unsupported, got {other:?}"),
        }
    }

    fn expect_invalid(request: &SynthesisRequest, fragment: &str) {
        match synthesize(request, &[]) {
            Err(ProviderError::InvalidRequest(message)) => {
                assert!(message.contains(fragment), "{message}");
            }
            other => panic!("expected invalid-request, got {other:?}"),
        }
    }

    #[test]
    fn request_is_exact() {
        let stream = stream(&request(), &[]);

        assert_eq!(stream.request.method, Method::Post);
        assert_eq!(stream.request.url, "https://api.openai.com/v1/audio/speech");
        assert_eq!(
            stream.request.headers,
            vec![
                RequestHeader {
                    name: "authorization".to_string(),
                    value: HeaderValue::Secret(SecretRef {
                        name: "api-key".to_string(),
                        prefix: "Bearer ".to_string(),
                        suffix: String::new(),
                    }),
                },
                RequestHeader {
                    name: "content-type".to_string(),
                    value: HeaderValue::Text("application/json".to_string()),
                },
                RequestHeader {
                    name: "accept".to_string(),
                    value: HeaderValue::Text("application/octet-stream".to_string()),
                },
            ]
        );
        assert_eq!(
            body_json(&stream),
            json!({
                "model": "tts-1",
                "input": "Hello there.",
                "voice": "alloy",
                "response_format": "mp3",
            })
        );
        assert_eq!(
            stream.format,
            AudioFormat {
                container: AudioContainer::Mp3,
                sample_rate: None,
                bitrate: None,
            }
        );
        assert_eq!(stream.billed_characters_header, None);
    }

    #[test]
    fn body_is_compact_json() {
        let stream = stream(&request(), &[]);

        let body = String::from_utf8(stream.request.body.clone()).unwrap();
        assert!(!body.contains('\n'), "{body}");
        assert!(body.starts_with('{'), "{body}");
    }

    #[test]
    fn optional_fields_are_sent() {
        let mut request = request();
        request.model = "gpt-4o-mini-tts".to_string();
        request.voice = "coral".to_string();
        request.speed = Some(1.1);
        request.instructions = Some("Speak like a lighthouse keeper.".to_string());
        request.format.container = AudioContainer::Opus;

        let stream = stream(&request, &[]);

        assert_eq!(
            body_json(&stream),
            json!({
                "model": "gpt-4o-mini-tts",
                "input": "Hello there.",
                "voice": "coral",
                "response_format": "opus",
                "speed": 1.1,
                "instructions": "Speak like a lighthouse keeper.",
            })
        );
    }

    #[test]
    fn speed_keeps_written_decimal() {
        let mut request = request();
        request.speed = Some(0.3);

        let body = String::from_utf8(stream(&request, &[]).request.body).unwrap();

        assert!(body.contains(r#""speed":0.3"#), "{body}");
    }

    #[test]
    fn empty_instructions_are_omitted() {
        let mut request = request();
        request.instructions = Some(String::new());

        let body = body_json(&stream(&request, &[]));

        assert_eq!(body.get("instructions"), None);
    }

    #[test]
    fn custom_voice_is_an_object() {
        let mut request = request();
        request.voice = "voice_1234abcd".to_string();

        let body = body_json(&stream(&request, &[]));

        assert_eq!(body["voice"], json!({"id": "voice_1234abcd"}));
    }

    #[test]
    fn language_is_not_sent() {
        let mut request = request();
        request.language = Some("pt-BR".to_string());

        let body = body_json(&stream(&request, &[]));

        assert_eq!(body.as_object().map(Map::len), Some(4));
    }

    #[test]
    fn settings_add_headers_and_url() {
        let settings = [
            setting("base-url", "http://127.0.0.1:18001"),
            setting("organization", "org-abc"),
            setting("project", "proj_xyz"),
        ];

        let stream = stream(&request(), &settings);

        assert_eq!(stream.request.url, "http://127.0.0.1:18001/v1/audio/speech");
        let extra: Vec<(&str, &HeaderValue)> = stream.request.headers[3..]
            .iter()
            .map(|header| (header.name.as_str(), &header.value))
            .collect();
        assert_eq!(
            extra,
            vec![
                (
                    "openai-organization",
                    &HeaderValue::Text("org-abc".to_string())
                ),
                ("openai-project", &HeaderValue::Text("proj_xyz".to_string())),
            ]
        );
    }

    #[test]
    fn ai_gateway_url_is_used() {
        let settings = [setting(
            "base-url",
            "https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/openai",
        )];

        let stream = stream(&request(), &settings);

        assert_eq!(
            stream.request.url,
            "https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/openai/audio/speech"
        );
    }

    #[test]
    fn ai_gateway_headers_follow_settings() {
        let settings = [
            setting("base-url", "http://127.0.0.1:18003/v1/acc/gw/openai"),
            setting("aig-authenticated", "true"),
            setting("aig-cache-ttl", "3600"),
            setting("aig-metadata", r#"{"team": "voice"}"#),
        ];

        let stream = stream(&request(), &settings);

        assert_eq!(
            stream.request.url,
            "http://127.0.0.1:18003/v1/acc/gw/openai/audio/speech"
        );
        let extra: Vec<(&str, &HeaderValue)> = stream.request.headers[3..]
            .iter()
            .map(|header| (header.name.as_str(), &header.value))
            .collect();
        assert_eq!(
            extra,
            vec![
                (
                    "cf-aig-authorization",
                    &HeaderValue::Secret(SecretRef {
                        name: "aig-token".to_string(),
                        prefix: "Bearer ".to_string(),
                        suffix: String::new(),
                    })
                ),
                ("cf-aig-cache-ttl", &HeaderValue::Text("3600".to_string())),
                (
                    "cf-aig-metadata",
                    &HeaderValue::Text(r#"{"team":"voice"}"#.to_string())
                ),
            ]
        );
    }

    #[test]
    fn invalid_setting_is_misconfigured() {
        let settings = [setting("base-url", "ftp://example.com")];

        let error = synthesize(&request(), &settings).unwrap_err();

        let ProviderError::Misconfigured(error) = error else {
            panic!("expected misconfigured, got {error:?}");
        };
        assert_eq!(error.name, "base-url");
    }

    #[test]
    fn every_container_maps() {
        let cases = [
            (AudioContainer::Mp3, "mp3", None),
            (AudioContainer::Opus, "opus", None),
            (AudioContainer::Aac, "aac", None),
            (AudioContainer::Flac, "flac", None),
            (AudioContainer::Wav, "wav", Some(24_000)),
            (AudioContainer::Pcm, "pcm", Some(24_000)),
        ];

        for (container, name, sample_rate) in cases {
            let mut request = request();
            request.format.container = container;

            let stream = stream(&request, &[]);

            assert_eq!(body_json(&stream)["response_format"], json!(name));
            assert_eq!(stream.format.container, container, "{name}");
            assert_eq!(stream.format.sample_rate, sample_rate, "{name}");
            assert_eq!(stream.format.bitrate, None, "{name}");
        }
    }

    #[test]
    fn pcm_at_24000_is_accepted() {
        for container in [AudioContainer::Pcm, AudioContainer::Wav] {
            let mut request = request();
            request.format.container = container;
            request.format.sample_rate = Some(24_000);

            let stream = stream(&request, &[]);

            assert_eq!(stream.format.sample_rate, Some(24_000));
        }
    }

    #[test]
    fn compressed_rate_is_not_checked() {
        let mut request = request();
        request.format.sample_rate = Some(44_100);
        request.format.bitrate = Some(128_000);

        let stream = stream(&request, &[]);

        assert_eq!(stream.format.sample_rate, None);
        assert_eq!(stream.format.bitrate, None);
    }

    #[test]
    fn other_pcm_rate_is_unsupported() {
        for container in [AudioContainer::Pcm, AudioContainer::Wav] {
            let mut request = request();
            request.format.container = container;
            request.format.sample_rate = Some(16_000);

            expect_unsupported(&request, "24000 Hz only, not 16000 Hz");
        }
    }

    #[test]
    fn g711_is_unsupported() {
        for (container, name) in [
            (AudioContainer::Ulaw, "ulaw"),
            (AudioContainer::Alaw, "alaw"),
        ] {
            let mut request = request();
            request.format.container = container;
            request.format.sample_rate = Some(8_000);

            expect_unsupported(&request, &format!("no {name} output"));
        }
    }

    #[test]
    fn instructions_need_capable_model() {
        for model in ["tts-1", "tts-1-hd"] {
            let mut request = request();
            request.model = model.to_string();
            request.instructions = Some("Whisper.".to_string());

            expect_unsupported(&request, &format!("`{model}` does not take instructions"));
        }
    }

    #[test]
    fn unknown_model_is_unsupported() {
        let mut request = request();
        request.model = "tts-2".to_string();

        expect_unsupported(&request, "no speech model `tts-2`");
    }

    #[test]
    fn timestamps_are_unsupported() {
        let mut request = request();
        request.timestamps = true;

        expect_unsupported(&request, "timestamps");
    }

    #[test]
    fn unsupported_wins_over_invalid() {
        let mut request = request();
        request.format.container = AudioContainer::Ulaw;
        request.text = "a".repeat(5000);
        request.speed = Some(9.0);

        // Another provider may take this text and speed, so the host should fall back.
        expect_unsupported(&request, "no ulaw output");
    }

    #[test]
    fn speed_bounds_are_inclusive() {
        for speed in [0.25, 1.0, 4.0] {
            let mut request = request();
            request.speed = Some(speed);

            let body = body_json(&stream(&request, &[]));

            assert_eq!(body["speed"].as_f64(), Some(f64::from(speed)));
        }
    }

    #[test]
    fn speed_out_of_range_is_invalid() {
        for speed in [0.0, 0.24, 4.01, 10.0, -1.0, f32::NAN, f32::INFINITY] {
            let mut request = request();
            request.speed = Some(speed);

            expect_invalid(&request, "OpenAI accepts 0.25 to 4");
        }
    }

    #[test]
    fn text_limit_counts_characters() {
        let mut request = request();
        // 4096 two-byte characters are 8192 bytes but within the limit.
        request.text = "é".repeat(4096);

        let stream = stream(&request, &[]);

        assert_eq!(
            body_json(&stream)["input"]
                .as_str()
                .map(|text| text.chars().count()),
            Some(4096)
        );
    }

    #[test]
    fn text_over_limit_is_invalid() {
        let mut request = request();
        request.text = "é".repeat(4097);

        expect_invalid(&request, "4097 characters, OpenAI accepts at most 4096");
    }

    #[test]
    fn empty_text_is_invalid() {
        let mut request = request();
        request.text = String::new();

        expect_invalid(&request, "text is empty");
    }

    #[test]
    fn whitespace_text_is_invalid() {
        let mut request = request();
        request.text = " \n\t ".to_string();

        expect_invalid(&request, "only whitespace");
    }

    #[test]
    fn empty_voice_is_invalid() {
        let mut request = request();
        request.voice = String::new();

        expect_invalid(&request, "voice is empty");
    }

    #[test]
    fn long_instructions_are_invalid() {
        let mut request = request();
        request.model = "gpt-4o-mini-tts".to_string();
        request.instructions = Some("a".repeat(4097));

        expect_invalid(&request, "instructions have 4097 characters");
    }

    #[test]
    fn options_are_checked() {
        let mut request = request();
        request.options = r#"{"stream_format": "sse"}"#.to_string();

        expect_invalid(&request, "unknown provider option `stream_format`");

        request.options = "{}".to_string();
        assert!(synthesize(&request, &[]).is_ok());

        request.options = "[1]".to_string();
        expect_invalid(&request, "must be a JSON object");
    }
}
