//! The plugin through its `Guest` entry points: exact request shapes, hostile voice ids,
//! and the two-step timestamps flow.

use voxgate_plugin_sdk::serde_json::{self, Value, json};
use voxgate_plugin_sdk::{
    AudioContainer, AudioFormat, HeaderValue, HttpRequest, Method, SecretRef, StreamRequest,
};

use super::*;

const RACHEL: &str = "21m00Tcm4TlvDq8ikWAM";
const BASE_URL: &str = "http://127.0.0.1:18002";

fn request() -> SynthesisRequest {
    SynthesisRequest {
        text: "Hello there.".to_string(),
        model: "eleven_multilingual_v2".to_string(),
        voice: RACHEL.to_string(),
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

fn settings() -> Vec<Setting> {
    vec![Setting {
        name: "base-url".to_string(),
        value: BASE_URL.to_string(),
    }]
}

fn stream(request: &SynthesisRequest) -> StreamRequest {
    match ElevenLabs::synthesize(request.clone(), settings()) {
        Ok(Step::Stream(stream)) => stream,
        other => panic!("expected a stream step, got {other:?}"),
    }
}

fn fetch(request: &SynthesisRequest) -> HttpRequest {
    match ElevenLabs::synthesize(request.clone(), settings()) {
        Ok(Step::Fetch(fetch)) => fetch,
        other => panic!("expected a fetch step, got {other:?}"),
    }
}

fn body_json(request: &HttpRequest) -> Value {
    serde_json::from_slice(&request.body).expect("the body is JSON")
}

#[test]
fn stream_request_is_exact() {
    let stream = stream(&request());

    assert_eq!(
        stream,
        StreamRequest {
            request: HttpRequest {
                method: Method::Post,
                url: format!(
                    "{BASE_URL}/v1/text-to-speech/{RACHEL}/stream?output_format=mp3_44100_128"
                ),
                headers: vec![
                    voxgate_plugin_sdk::RequestHeader {
                        name: "xi-api-key".to_string(),
                        value: HeaderValue::Secret(SecretRef {
                            name: "api-key".to_string(),
                            prefix: String::new(),
                            suffix: String::new(),
                        }),
                    },
                    voxgate_plugin_sdk::header("content-type", "application/json"),
                    voxgate_plugin_sdk::header("accept", "*/*"),
                ],
                body: br#"{"model_id":"eleven_multilingual_v2","text":"Hello there."}"#.to_vec(),
            },
            format: AudioFormat {
                container: AudioContainer::Mp3,
                sample_rate: Some(44_100),
                bitrate: Some(128_000),
            },
            billed_characters_header: Some("character-cost".to_string()),
        }
    );
}

#[test]
fn default_base_url_is_elevenlabs() {
    let step = ElevenLabs::synthesize(request(), Vec::new()).unwrap();

    let Step::Stream(stream) = step else {
        panic!("expected a stream step, got {step:?}");
    };
    assert!(
        stream
            .request
            .url
            .starts_with("https://api.elevenlabs.io/v1/text-to-speech/"),
        "{}",
        stream.request.url
    );
}

#[test]
fn every_format_uses_its_endpoint() {
    use AudioContainer::*;
    // (container, sample rate, path after the voice id, output_format)
    let cases = [
        (Mp3, None, "/stream", "mp3_44100_128"),
        (Pcm, Some(24_000), "/stream", "pcm_24000"),
        (Ulaw, Some(8_000), "/stream", "ulaw_8000"),
        (Alaw, None, "/stream", "alaw_8000"),
        (Opus, None, "/stream", "opus_48000_64"),
        (Wav, Some(24_000), "", "wav_24000"),
        (Wav, Some(44_100), "", "wav_44100"),
    ];

    for (container, rate, path, output_format) in cases {
        let mut request = request();
        request.format.container = container;
        request.format.sample_rate = rate;

        let stream = stream(&request);

        assert_eq!(
            stream.request.url,
            format!("{BASE_URL}/v1/text-to-speech/{RACHEL}{path}?output_format={output_format}"),
            "{container:?}"
        );
        assert_eq!(stream.format.container, container);
    }
}

#[test]
fn every_model_is_sent_as_model_id() {
    for model in catalog::MODELS.iter() {
        let mut request = request();
        request.model = model.id.to_string();

        let body = body_json(&stream(&request).request);

        assert_eq!(body["model_id"], json!(model.id));
    }
}

#[test]
fn options_and_speed_reach_the_body() {
    let mut request = request();
    request.model = "eleven_turbo_v2_5".to_string();
    request.speed = Some(1.1);
    request.language = Some("pt-BR".to_string());
    request.options = json!({
        "voice_settings": {"stability": 0.4, "similarity_boost": 0.8, "style": 0, "use_speaker_boost": true},
        "seed": 42,
        "previous_text": "Before.",
        "next_text": "After.",
        "previous_request_ids": ["a1"],
        "next_request_ids": ["b1", "b2"],
        "apply_text_normalization": "off",
    })
    .to_string();

    let body = body_json(&stream(&request).request);

    assert_eq!(
        body,
        json!({
            "text": "Hello there.",
            "model_id": "eleven_turbo_v2_5",
            "language_code": "pt",
            "voice_settings": {
                "stability": 0.4,
                "similarity_boost": 0.8,
                "style": 0,
                "use_speaker_boost": true,
                "speed": 1.1,
            },
            "seed": 42,
            "previous_text": "Before.",
            "next_text": "After.",
            "previous_request_ids": ["a1"],
            "next_request_ids": ["b1", "b2"],
            "apply_text_normalization": "off",
        })
    );
}

#[test]
fn unknown_model_and_format_are_unsupported() {
    let mut unknown_model = request();
    unknown_model.model = "tts-1".to_string();
    let mut aac = request();
    aac.format.container = AudioContainer::Aac;
    let mut instructions = request();
    instructions.instructions = Some("Whisper.".to_string());

    for request in [unknown_model, aac, instructions] {
        let error = ElevenLabs::synthesize(request.clone(), settings()).unwrap_err();

        assert!(matches!(error, ProviderError::Unsupported(_)), "{error:?}");
    }
}

#[test]
fn text_is_checked_against_the_model() {
    let mut request = request();
    request.model = "eleven_v3".to_string();
    request.text = "é".repeat(5_000);
    assert!(ElevenLabs::synthesize(request.clone(), settings()).is_ok());

    request.text.push('é');
    let error = ElevenLabs::synthesize(request.clone(), settings()).unwrap_err();
    assert_eq!(
        error,
        ProviderError::InvalidRequest(
            "the text has 5001 characters; the model `eleven_v3` accepts at most 5000".to_string()
        )
    );

    request.text = "  ".to_string();
    let error = ElevenLabs::synthesize(request, settings()).unwrap_err();
    assert!(
        matches!(error, ProviderError::InvalidRequest(_)),
        "{error:?}"
    );
}

#[test]
fn invalid_settings_are_misconfigured() {
    let settings = vec![Setting {
        name: "voices".to_string(),
        value: "broken".to_string(),
    }];

    let error = ElevenLabs::synthesize(request(), settings).unwrap_err();

    let ProviderError::Misconfigured(error) = error else {
        panic!("expected misconfigured, got {error:?}");
    };
    assert_eq!(error.name, "voices");
}

/// Parses `url` by the WHATWG rules the host uses, into path segments, query and fragment.
fn parse(url: &str) -> (Vec<String>, Option<String>, Option<String>) {
    let parsed = url::Url::parse(url).unwrap_or_else(|error| panic!("{url}: {error}"));
    let segments = parsed
        .path_segments()
        .map(|segments| segments.map(str::to_string).collect())
        .unwrap_or_default();

    (
        segments,
        parsed.query().map(str::to_string),
        parsed.fragment().map(str::to_string),
    )
}

#[test]
fn hostile_voice_ids_stay_in_one_segment() {
    let hostile = [
        "../v1/user",
        "../../v1/voices?x=",
        "a/b",
        "a?output_format=pcm_8000",
        "a#fragment",
        "x\r\nxi-api-key: stolen",
        "x\nhost: evil.invalid",
        "%2e%2e",
        "%2F..%2F",
        ".%2e",
        "a b\t",
        "\\..\\..",
        "é/../ü",
    ];

    for voice in hostile {
        for timestamps in [false, true] {
            let mut request = request();
            request.voice = voice.to_string();
            request.timestamps = timestamps;

            let http_request = match ElevenLabs::synthesize(request, settings()).unwrap() {
                Step::Stream(stream) => stream.request,
                Step::Fetch(fetch) => fetch,
                other => panic!("unexpected step {other:?}"),
            };

            let (segments, query, fragment) = parse(&http_request.url);
            let last = if timestamps {
                "with-timestamps"
            } else {
                "stream"
            };
            assert_eq!(segments.len(), 4, "{voice:?}: {segments:?}");
            assert_eq!(segments[..2], ["v1", "text-to-speech"], "{voice:?}");
            let encoded_only = segments[2]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'-' | b'_' | b'~'));
            assert!(encoded_only, "{voice:?}: {}", segments[2]);
            assert_eq!(segments[3], last, "{voice:?}: {segments:?}");
            assert_eq!(
                query.as_deref(),
                Some("output_format=mp3_44100_128"),
                "{voice:?}"
            );
            assert_eq!(fragment, None, "{voice:?}");
            assert_eq!(http_request.headers.len(), 3, "{voice:?}");
            assert!(
                !http_request.url.contains(['\r', '\n', ' ', '\t']),
                "{voice:?}: {}",
                http_request.url
            );
        }
    }
}

#[test]
fn hostile_voice_id_round_trips() {
    let voice = "../v1/user?x=1#y\r\n";
    let mut request = request();
    request.voice = voice.to_string();

    let url = url::Url::parse(&stream(&request).request.url).unwrap();

    let segment = url.path_segments().unwrap().nth(2).unwrap();
    let decoded: Vec<u8> = url::form_urlencoded::parse(format!("v={segment}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned().into_bytes())
        .unwrap();
    assert_eq!(decoded, voice.as_bytes());
}

#[test]
fn unsafe_voice_ids_are_rejected() {
    let huge = "A".repeat(100 * 1024);
    for voice in ["", ".", "..", huge.as_str()] {
        let mut request = request();
        request.voice = voice.to_string();

        let error = ElevenLabs::synthesize(request, settings()).unwrap_err();

        assert!(
            matches!(error, ProviderError::InvalidRequest(_)),
            "{}: {error:?}",
            voice.len()
        );
    }
}

#[test]
fn timestamps_fetch_then_audio() {
    let mut request = request();
    request.timestamps = true;
    request.format.container = AudioContainer::Pcm;
    request.format.sample_rate = Some(16_000);

    let fetch = fetch(&request);
    assert_eq!(
        fetch.url,
        format!("{BASE_URL}/v1/text-to-speech/{RACHEL}/with-timestamps?output_format=pcm_16000")
    );
    assert_eq!(
        fetch.headers[2],
        voxgate_plugin_sdk::header("accept", "application/json")
    );

    let response = HttpResponse {
        status: 200,
        headers: vec![("character-cost".to_string(), "12".to_string())],
        body: json!({
            "audio_base64": "AAABAAIA",
            "alignment": {
                "characters": ["H", "i"],
                "character_start_times_seconds": [0.0, 0.05],
                "character_end_times_seconds": [0.05, 0.1],
            },
        })
        .to_string()
        .into_bytes(),
    };
    let step = ElevenLabs::resume(response).unwrap();

    let Step::Audio(audio) = step else {
        panic!("expected audio, got {step:?}");
    };
    assert_eq!(audio.data, vec![0, 0, 1, 0, 2, 0]);
    assert_eq!(audio.format.container, AudioContainer::Pcm);
    assert_eq!(audio.format.sample_rate, Some(16_000));
    assert_eq!(audio.billed_characters, Some(12));
    assert_eq!(audio.alignment.map(|a| a.end_ms), Some(vec![50, 100]));
}

#[test]
fn timestamps_error_is_classified() {
    let pending = Pending::Timestamps(output_format::choose(&request().format).unwrap());
    let response = HttpResponse {
        status: 401,
        headers: Vec::new(),
        body: br#"{"detail":{"status":"quota_exceeded","message":"No credits left."}}"#.to_vec(),
    };

    let error = resume(&response, Some(pending)).unwrap_err();

    assert!(
        matches!(error, ProviderError::QuotaExceeded(_)),
        "{error:?}"
    );
}

#[test]
fn stream_response_is_error_on_success() {
    let response = HttpResponse {
        status: 200,
        headers: Vec::new(),
        body: b"<html>captive portal</html>".to_vec(),
    };

    let error = resume(&response, Some(Pending::Stream)).unwrap_err();

    assert!(
        matches!(error, ProviderError::InvalidResponse(_)),
        "{error:?}"
    );
}

#[test]
fn resume_without_a_request_is_invalid_response() {
    let response = HttpResponse {
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
    };

    let error = resume(&response, None).unwrap_err();

    assert!(
        matches!(error, ProviderError::InvalidResponse(_)),
        "{error:?}"
    );
}
