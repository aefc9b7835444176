//! Whole syntheses through the plugin's `Guest` functions: every step it returns for scripted
//! fal responses, in sync and queue mode, and every error path.

use voxgate_plugin_sdk::serde_json::{self, Value, json};
use voxgate_plugin_sdk::{
    AudioContainer, AudioFormat, DelayedRequest, Guest, HeaderValue, HttpRequest, HttpResponse,
    Method, ProviderError, RequestHeader, SecretRef, Setting, Step, SynthesisRequest,
};

use crate::Fal;

const KOKORO: &str = "fal-ai/kokoro/american-english";
const F5: &str = "fal-ai/f5-tts";
const ELEVENLABS: &str = "fal-ai/elevenlabs/tts/multilingual-v2";
const REQUEST_ID: &str = "764cabcf-b745-4b3e-ae38-1200ff1d6a0b";
const STATUS_URL: &str =
    "https://queue.fal.run/fal-ai/kokoro/requests/764cabcf-b745-4b3e-ae38-1200ff1d6a0b/status";
const RESPONSE_URL: &str =
    "https://queue.fal.run/fal-ai/kokoro/requests/764cabcf-b745-4b3e-ae38-1200ff1d6a0b";
const CANCEL_URL: &str =
    "https://queue.fal.run/fal-ai/kokoro/requests/764cabcf-b745-4b3e-ae38-1200ff1d6a0b/cancel";
const AUDIO_URL: &str = "https://v3.fal.media/files/koala/abc_tmp0vvkha3s.wav";

fn settings(pairs: &[(&str, &str)]) -> Vec<Setting> {
    pairs
        .iter()
        .map(|(name, value)| Setting {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect()
}

fn request(model: &str, voice: &str, container: AudioContainer) -> SynthesisRequest {
    SynthesisRequest {
        text: "Hello from fal.".to_string(),
        model: model.to_string(),
        voice: voice.to_string(),
        format: AudioFormat {
            container,
            sample_rate: Some(24_000),
            bitrate: None,
        },
        speed: None,
        language: None,
        instructions: None,
        timestamps: false,
        options: String::new(),
    }
}

fn kokoro() -> SynthesisRequest {
    request(KOKORO, "af_heart", AudioContainer::Wav)
}

fn response(status: u16, body: &[u8]) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".to_string(), "application/json".to_string())],
        body: body.to_vec(),
    }
}

fn json_response(status: u16, value: Value) -> HttpResponse {
    response(status, value.to_string().as_bytes())
}

/// Builds a minimal 16-bit mono WAV at `rate` with four samples.
fn wav(rate: u32) -> Vec<u8> {
    let mut data = b"RIFF\x2c\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00".to_vec();
    data.extend_from_slice(&rate.to_le_bytes());
    data.extend_from_slice(&(rate * 2).to_le_bytes());
    data.extend_from_slice(b"\x02\x00\x10\x00data\x08\x00\x00\x00\x01\x00\x02\x00\x03\x00\x04\x00");
    data
}

/// Builds one MPEG-1 Layer III frame header at 44.1 kHz and a little payload.
fn mp3() -> Vec<u8> {
    let mut data = vec![0xFF, 0xFB, 0x90, 0x64];
    data.extend_from_slice(&[0; 32]);
    data
}

fn submit_response() -> HttpResponse {
    json_response(
        200,
        json!({
            "status": "IN_QUEUE",
            "request_id": REQUEST_ID,
            "response_url": RESPONSE_URL,
            "status_url": STATUS_URL,
            "cancel_url": CANCEL_URL,
            "queue_position": 0,
        }),
    )
}

fn status_response(status: &str) -> HttpResponse {
    let code = if status == "COMPLETED" { 200 } else { 202 };
    json_response(code, json!({"status": status, "request_id": REQUEST_ID}))
}

fn output_response(field: &str, url: &str) -> HttpResponse {
    json_response(
        200,
        json!({ field: {"url": url, "content_type": "audio/wav"} }),
    )
}

fn fetch(step: Result<Step, ProviderError>) -> HttpRequest {
    match step {
        Ok(Step::Fetch(request)) => request,
        other => panic!("expected a fetch step, got {other:?}"),
    }
}

fn fetch_after(step: Result<Step, ProviderError>) -> DelayedRequest {
    match step {
        Ok(Step::FetchAfter(delayed)) => delayed,
        other => panic!("expected a fetch-after step, got {other:?}"),
    }
}

fn key_header() -> RequestHeader {
    RequestHeader {
        name: "authorization".to_string(),
        value: HeaderValue::Secret(SecretRef {
            name: "api-key".to_string(),
            prefix: "Key ".to_string(),
            suffix: String::new(),
        }),
    }
}

fn has_secret(request: &HttpRequest) -> bool {
    request
        .headers
        .iter()
        .any(|header| matches!(header.value, HeaderValue::Secret(_)))
}

fn body_json(request: &HttpRequest) -> Value {
    serde_json::from_slice(&request.body).expect("the body is JSON")
}

fn queue_to_media(request: SynthesisRequest, output_field: &str) -> HttpRequest {
    fetch(Fal::synthesize(request, Vec::new()));
    fetch_after(Fal::resume(submit_response()));
    fetch(Fal::resume(status_response("COMPLETED")));
    fetch(Fal::resume(output_response(output_field, AUDIO_URL)))
}

fn expect_error(result: Result<Step, ProviderError>) -> ProviderError {
    match result {
        Err(error) => error,
        Ok(step) => panic!("expected an error, got {step:?}"),
    }
}

// --- Sync mode ---

#[test]
fn sync_kokoro_posts_then_fetches_audio() {
    let run = fetch(Fal::synthesize(kokoro(), settings(&[("mode", "sync")])));

    assert_eq!(run.method, Method::Post);
    assert_eq!(run.url, "https://fal.run/fal-ai/kokoro/american-english");
    assert_eq!(run.headers[0], key_header());
    assert_eq!(
        body_json(&run),
        json!({"prompt": "Hello from fal.", "voice": "af_heart"})
    );

    let media = fetch(Fal::resume(output_response("audio", AUDIO_URL)));

    assert_eq!(media.method, Method::Get);
    assert_eq!(media.url, AUDIO_URL);
    assert!(
        !has_secret(&media),
        "the media request carries a secret: {media:?}"
    );
    assert!(media.body.is_empty());

    let audio = match Fal::resume(response(200, &wav(24_000))) {
        Ok(Step::Audio(audio)) => audio,
        other => panic!("expected audio, got {other:?}"),
    };
    assert_eq!(audio.format.container, AudioContainer::Wav);
    assert_eq!(audio.format.sample_rate, Some(24_000));
    assert_eq!(audio.data, wav(24_000));
}

#[test]
fn sync_elevenlabs_returns_mp3() {
    let mut request = request(ELEVENLABS, "Rachel", AudioContainer::Mp3);
    request.options = r#"{"stability": 0.4}"#.to_string();

    let run = fetch(Fal::synthesize(request, settings(&[("mode", "sync")])));
    assert_eq!(
        run.url,
        "https://fal.run/fal-ai/elevenlabs/tts/multilingual-v2"
    );
    assert_eq!(
        body_json(&run),
        json!({"text": "Hello from fal.", "voice": "Rachel", "stability": 0.4})
    );

    fetch(Fal::resume(output_response(
        "audio",
        "https://v3b.fal.media/files/b/x/out.mp3",
    )));
    let audio = match Fal::resume(response(200, &mp3())) {
        Ok(Step::Audio(audio)) => audio,
        other => panic!("expected audio, got {other:?}"),
    };

    assert_eq!(audio.format.container, AudioContainer::Mp3);
    assert_eq!(audio.format.sample_rate, Some(44_100));
}

#[test]
fn sync_validation_error_is_invalid_request() {
    fetch(Fal::synthesize(kokoro(), settings(&[("mode", "sync")])));

    let body = json!({"detail": [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]});
    let error = expect_error(Fal::resume(json_response(422, body)));

    let ProviderError::InvalidRequest(message) = error else {
        panic!("expected invalid-request, got {error:?}");
    };
    assert!(
        message.contains("body.prompt: Field required (missing)"),
        "{message}"
    );
}

// --- Queue mode ---

#[test]
fn queue_polls_status_url_from_submit() {
    let submit = fetch(Fal::synthesize(kokoro(), Vec::new()));

    assert_eq!(submit.method, Method::Post);
    assert_eq!(
        submit.url,
        "https://queue.fal.run/fal-ai/kokoro/american-english"
    );
    assert_eq!(submit.headers[0], key_header());

    let first = fetch_after(Fal::resume(submit_response()));
    assert_eq!(first.delay_ms, 500);
    assert_eq!(first.request.method, Method::Get);
    assert_eq!(first.request.url, STATUS_URL);
    assert_eq!(first.request.headers[0], key_header());

    for status in ["IN_QUEUE", "IN_PROGRESS"] {
        let poll = fetch_after(Fal::resume(status_response(status)));
        assert_eq!(poll.request.url, STATUS_URL, "after {status}");
    }

    let result = fetch(Fal::resume(status_response("COMPLETED")));
    assert_eq!(result.method, Method::Get);
    assert_eq!(result.url, RESPONSE_URL);
    assert_eq!(result.headers[0], key_header());

    let media = fetch(Fal::resume(output_response("audio", AUDIO_URL)));
    assert_eq!(media.url, AUDIO_URL);
    assert!(
        !has_secret(&media),
        "the media request carries a secret: {media:?}"
    );

    assert!(matches!(
        Fal::resume(response(200, &wav(24_000))),
        Ok(Step::Audio(_))
    ));
}

#[test]
fn queue_f5_reads_audio_url_object() {
    let mut request = request(F5, "reference", AudioContainer::Wav);
    request.options =
        r#"{"ref_audio_url": "https://example.test/ref.wav", "ref_text": "Hi."}"#.to_string();

    let submit = fetch(Fal::synthesize(request.clone(), Vec::new()));
    assert_eq!(submit.url, "https://queue.fal.run/fal-ai/f5-tts");
    assert_eq!(body_json(&submit)["model_type"], "F5-TTS");

    let media = queue_to_media(request, "audio_url");

    assert_eq!(media.url, AUDIO_URL);
    assert!(matches!(
        Fal::resume(response(200, &wav(24_000))),
        Ok(Step::Audio(_))
    ));
}

#[test]
fn queue_interval_comes_from_settings() {
    fetch(Fal::synthesize(
        kokoro(),
        settings(&[("poll-interval-ms", "20")]),
    ));

    let poll = fetch_after(Fal::resume(submit_response()));

    assert_eq!(poll.delay_ms, 20);
}

#[test]
fn unfinished_job_is_cancelled() {
    fetch(Fal::synthesize(
        kokoro(),
        settings(&[("max-polls", "3"), ("poll-interval-ms", "10")]),
    ));
    fetch_after(Fal::resume(submit_response()));
    fetch_after(Fal::resume(status_response("IN_QUEUE")));
    fetch_after(Fal::resume(status_response("IN_PROGRESS")));

    let cancel = fetch(Fal::resume(status_response("IN_PROGRESS")));

    assert_eq!(cancel.method, Method::Put);
    assert_eq!(cancel.url, CANCEL_URL);
    assert_eq!(cancel.headers, vec![key_header()]);

    let error = expect_error(Fal::resume(json_response(
        202,
        json!({"status": "CANCELLATION_REQUESTED"}),
    )));
    let ProviderError::Unavailable(message) = error else {
        panic!("expected unavailable, got {error:?}");
    };
    assert!(message.contains("timed out"), "{message}");
    assert!(
        message.contains("after 3 status polls (about 30 ms)"),
        "{message}"
    );
    assert!(message.contains(REQUEST_ID), "{message}");
    assert!(message.contains("(HTTP 202)"), "{message}");
}

#[test]
fn failed_cancel_still_reports_timeout() {
    fetch(Fal::synthesize(kokoro(), settings(&[("max-polls", "1")])));
    fetch_after(Fal::resume(submit_response()));
    fetch(Fal::resume(status_response("IN_QUEUE")));

    let error = expect_error(Fal::resume(json_response(
        400,
        json!({"status": "ALREADY_COMPLETED"}),
    )));

    assert!(
        matches!(&error, ProviderError::Unavailable(message) if message.contains("timed out")),
        "{error:?}"
    );
}

#[test]
fn transient_poll_errors_count_as_polls() {
    fetch(Fal::synthesize(kokoro(), settings(&[("max-polls", "3")])));
    fetch_after(Fal::resume(submit_response()));

    let after_503 = fetch_after(Fal::resume(response(503, b"")));
    let after_429 = fetch_after(Fal::resume(response(429, b"{}")));
    let cancel = fetch(Fal::resume(response(500, b"oops")));

    assert_eq!(after_503.request.url, STATUS_URL);
    assert_eq!(after_429.request.url, STATUS_URL);
    assert_eq!(cancel.url, CANCEL_URL);
}

#[test]
fn completed_with_error_type_is_unavailable() {
    fetch(Fal::synthesize(kokoro(), Vec::new()));
    fetch_after(Fal::resume(submit_response()));

    let status = json!({"status": "COMPLETED", "error": "Runner disconnected", "error_type": "runner_disconnected"});
    let error = expect_error(Fal::resume(json_response(200, status)));

    let ProviderError::Unavailable(message) = error else {
        panic!("expected unavailable, got {error:?}");
    };
    assert!(
        message.contains("(runner_disconnected): Runner disconnected"),
        "{message}"
    );
}

#[test]
fn completed_with_error_fetches_result() {
    fetch(Fal::synthesize(kokoro(), Vec::new()));
    fetch_after(Fal::resume(submit_response()));

    let status = json!({"status": "COMPLETED", "error": "Unprocessable Entity"});
    let result = fetch(Fal::resume(json_response(200, status)));
    assert_eq!(result.url, RESPONSE_URL);

    let detail = json!({"detail": [{"loc": ["body", "voice"], "msg": "Input should be 'af_heart'", "type": "literal_error"}]});
    let error = expect_error(Fal::resume(json_response(422, detail)));

    let ProviderError::InvalidRequest(message) = error else {
        panic!("expected invalid-request, got {error:?}");
    };
    assert!(
        message.contains("fal's queue for fal-ai/kokoro/american-english returned HTTP 422"),
        "{message}"
    );
    assert!(
        message.contains("body.voice: Input should be 'af_heart'"),
        "{message}"
    );
}

#[test]
fn completed_error_without_output_is_unavailable() {
    fetch(Fal::synthesize(kokoro(), Vec::new()));
    fetch_after(Fal::resume(submit_response()));
    fetch(Fal::resume(json_response(
        200,
        json!({"status": "COMPLETED", "error": "Out of memory"}),
    )));

    let error = expect_error(Fal::resume(json_response(200, json!({}))));

    assert!(
        matches!(&error, ProviderError::Unavailable(message) if message.contains("Out of memory")),
        "{error:?}"
    );
}

#[test]
fn result_infrastructure_error_is_unavailable() {
    fetch(Fal::synthesize(kokoro(), Vec::new()));
    fetch_after(Fal::resume(submit_response()));
    fetch(Fal::resume(status_response("COMPLETED")));

    let body = json!({"detail": "Request timed out", "error_type": "request_timeout"});
    let error = expect_error(Fal::resume(json_response(504, body)));

    assert!(
        matches!(&error, ProviderError::Unavailable(message) if message.contains("request_timeout")),
        "{error:?}"
    );
}

#[test]
fn job_errors_map_to_kinds() {
    // (status of a poll response, expected kind)
    let cases = [
        (401, "unauthorized"),
        (403, "unauthorized"),
        (404, "unavailable"),
        (410, "invalid-response"),
    ];

    for (status, expected) in cases {
        fetch(Fal::synthesize(kokoro(), Vec::new()));
        fetch_after(Fal::resume(submit_response()));

        let error = expect_error(Fal::resume(json_response(status, json!({"detail": "no"}))));

        assert_eq!(kind(&error), expected, "status {status}: {error:?}");
    }
}

#[test]
fn unknown_job_state_is_unavailable() {
    fetch(Fal::synthesize(kokoro(), Vec::new()));
    fetch_after(Fal::resume(submit_response()));

    let error = expect_error(Fal::resume(json_response(
        200,
        json!({"status": "CANCELLED"}),
    )));

    assert!(
        matches!(&error, ProviderError::Unavailable(message) if message.contains("ended as CANCELLED")),
        "{error:?}"
    );
}

#[test]
fn malformed_status_is_invalid_response() {
    fetch(Fal::synthesize(kokoro(), Vec::new()));
    fetch_after(Fal::resume(submit_response()));

    let error = expect_error(Fal::resume(response(200, b"{\"status\": ")));

    assert_eq!(kind(&error), "invalid-response", "{error:?}");
}

#[test]
fn status_url_off_queue_is_never_polled() {
    fetch(Fal::synthesize(kokoro(), Vec::new()));
    let mut submitted = json!({
        "request_id": REQUEST_ID,
        "status_url": "https://v3.fal.media/steal",
        "response_url": RESPONSE_URL,
        "cancel_url": CANCEL_URL,
    });

    let error = expect_error(Fal::resume(json_response(200, submitted.clone())));
    assert_eq!(kind(&error), "invalid-response", "{error:?}");

    fetch(Fal::synthesize(kokoro(), Vec::new()));
    submitted["status_url"] = json!(STATUS_URL);
    submitted["cancel_url"] = json!("http://169.254.169.254/latest/meta-data");
    let error = expect_error(Fal::resume(json_response(200, submitted)));
    assert_eq!(kind(&error), "invalid-response", "{error:?}");
}

// --- Submit errors ---

#[test]
fn submit_errors_map_to_kinds() {
    // (status, body, expected kind)
    let cases = [
        (401, json!({"detail": "Unauthorized"}), "unauthorized"),
        (403, json!({"detail": "Forbidden"}), "unauthorized"),
        (429, json!({"detail": "Too many requests"}), "rate-limited"),
        (
            422,
            json!({"detail": [{"loc": ["body", "prompt"], "msg": "bad", "type": "t"}]}),
            "invalid-request",
        ),
        (
            404,
            json!({"detail": "Application not found"}),
            "unsupported",
        ),
        (500, json!({"detail": "Internal error"}), "unavailable"),
        (
            503,
            json!({"detail": "No runner", "error_type": "runner_scheduling_failure"}),
            "unavailable",
        ),
    ];

    for mode in ["queue", "sync"] {
        for (status, body, expected) in &cases {
            fetch(Fal::synthesize(kokoro(), settings(&[("mode", mode)])));

            let error = expect_error(Fal::resume(json_response(*status, body.clone())));

            assert_eq!(kind(&error), *expected, "{mode} {status}: {error:?}");
        }
    }
}

// --- The audio file ---

#[test]
fn media_host_must_be_allowed() {
    let cases = [
        ("https://evil.test/files/a.wav", "evil.test"),
        ("https://queue.fal.run/files/a.wav", "queue.fal.run"),
        ("http://169.254.169.254/latest", "169.254.169.254"),
        ("https://v3.fal.media:8443/a.wav", "v3.fal.media:8443"),
    ];

    for (url, host) in cases {
        fetch(Fal::synthesize(kokoro(), settings(&[("mode", "sync")])));

        let error = expect_error(Fal::resume(output_response("audio", url)));

        let ProviderError::InvalidResponse(message) = error else {
            panic!("{url}: expected invalid-response, got {error:?}");
        };
        assert!(
            message.contains(&format!("on {host}, which is not a media host")),
            "{message}"
        );
    }
}

#[test]
fn media_fetch_never_carries_key() {
    // Even when the operator lists an API host as a media host, the file request has no key.
    let list = settings(&[("mode", "sync"), ("media-hosts", "fal.run,queue.fal.run")]);
    fetch(Fal::synthesize(kokoro(), list));

    let media = fetch(Fal::resume(output_response(
        "audio",
        "https://fal.run/files/a.wav",
    )));

    assert!(!has_secret(&media), "{media:?}");
    assert_eq!(
        media.headers,
        vec![RequestHeader {
            name: "accept".to_string(),
            value: HeaderValue::Text("*/*".to_string()),
        }]
    );
}

#[test]
fn invalid_audio_url_is_invalid_response() {
    for url in [
        "/files/a.wav",
        "https://user:pw@v3.fal.media/a.wav",
        "data:audio/wav;base64,UklG",
    ] {
        fetch(Fal::synthesize(kokoro(), settings(&[("mode", "sync")])));

        let error = expect_error(Fal::resume(output_response("audio", url)));

        assert_eq!(kind(&error), "invalid-response", "{url}: {error:?}");
    }
}

#[test]
fn audio_bytes_must_match_app_format() {
    // (bytes, what the message names)
    let cases = [
        (mp3(), "mp3 audio where wav audio was expected"),
        (
            b"<html><body>404</body></html>".to_vec(),
            "no known audio format",
        ),
        (Vec::new(), "no known audio format"),
    ];

    for (bytes, fragment) in cases {
        fetch(Fal::synthesize(kokoro(), settings(&[("mode", "sync")])));
        fetch(Fal::resume(output_response("audio", AUDIO_URL)));

        let error = expect_error(Fal::resume(response(200, &bytes)));

        let ProviderError::InvalidResponse(message) = error else {
            panic!("expected invalid-response, got {error:?}");
        };
        assert!(message.contains(fragment), "{message}");
    }
}

#[test]
fn media_errors_map_to_kinds() {
    for (status, expected) in [
        (404, "invalid-response"),
        (403, "invalid-response"),
        (503, "unavailable"),
    ] {
        fetch(Fal::synthesize(kokoro(), settings(&[("mode", "sync")])));
        fetch(Fal::resume(output_response("audio", AUDIO_URL)));

        let error = expect_error(Fal::resume(response(status, b"")));

        assert_eq!(kind(&error), expected, "status {status}: {error:?}");
        assert!(
            format!("{error:?}").contains("media host v3.fal.media"),
            "{error:?}"
        );
    }
}

// --- Requests the host never lets through ---

#[test]
fn hostile_input_never_moves_url_or_headers() {
    let expected_headers = fetch(Fal::synthesize(kokoro(), Vec::new())).headers;
    let mut hostile = Vec::new();
    for voice in ["af_heart/../../x", "af_heart\r\nx-evil: 1", "af_heart?x=1"] {
        let mut request = kokoro();
        request.voice = voice.to_string();
        hostile.push(request);
    }
    for model in [
        "fal-ai/kokoro/american-english/../../x",
        "https://evil.test/x",
        "fal-ai/kokoro/american-english?x",
    ] {
        let mut request = kokoro();
        request.model = model.to_string();
        hostile.push(request);
    }
    let mut text = kokoro();
    text.text = "\r\nhost: evil.test\r\n\r\n#?/../".to_string();
    hostile.push(text);
    let mut options = request(F5, "reference", AudioContainer::Wav);
    options.options =
        r#"{"ref_audio_url": "https://evil.test/\r\nauthorization: x", "ref_text": "../../"}"#
            .to_string();
    hostile.push(options);

    for request in hostile {
        let described = format!("{:?} {:?} {:?}", request.model, request.voice, request.text);
        match Fal::synthesize(request.clone(), Vec::new()) {
            Ok(Step::Fetch(sent)) => {
                let url = url::Url::parse(&sent.url).unwrap();
                assert_eq!(url.host_str(), Some("queue.fal.run"), "{described}");
                assert!(url.query().is_none(), "{described}");
                assert!(
                    ["/fal-ai/kokoro/american-english", "/fal-ai/f5-tts"].contains(&url.path()),
                    "{described}: {}",
                    url.path()
                );
                assert_eq!(sent.headers, expected_headers, "{described}");
            }
            Err(ProviderError::Unsupported(_) | ProviderError::InvalidRequest(_)) => {}
            other => panic!("{described}: unexpected {other:?}"),
        }
    }
}

#[test]
fn bad_settings_are_misconfigured() {
    let error = expect_error(Fal::synthesize(
        kokoro(),
        settings(&[("queue-url", "queue.fal.run")]),
    ));

    let ProviderError::Misconfigured(setting) = error else {
        panic!("expected misconfigured, got {error:?}");
    };
    assert_eq!(setting.name, "queue-url");
}

#[test]
fn unknown_model_is_unsupported() {
    let mut request = kokoro();
    request.model = "fal-ai/kokoro".to_string();

    assert_eq!(
        kind(&expect_error(Fal::synthesize(request, Vec::new()))),
        "unsupported"
    );
}

#[test]
fn resume_after_finish_is_an_error() {
    fetch(Fal::synthesize(kokoro(), settings(&[("mode", "sync")])));
    expect_error(Fal::resume(json_response(500, json!({"detail": "x"}))));

    let error = expect_error(Fal::resume(response(200, b"{}")));

    assert!(
        matches!(&error, ProviderError::Unavailable(message) if message.contains("without a synthesis")),
        "{error:?}"
    );
}

fn kind(error: &ProviderError) -> &'static str {
    match error {
        ProviderError::InvalidRequest(_) => "invalid-request",
        ProviderError::Unauthorized(_) => "unauthorized",
        ProviderError::QuotaExceeded(_) => "quota-exceeded",
        ProviderError::RateLimited(_) => "rate-limited",
        ProviderError::Unavailable(_) => "unavailable",
        ProviderError::Unsupported(_) => "unsupported",
        ProviderError::InvalidResponse(_) => "invalid-response",
        ProviderError::Misconfigured(_) => "misconfigured",
    }
}
