"""The gateway binary with the OpenAI plugin, in front of the OpenAI emulator.

Clients are the official `openai` SDK and plain http.client. Every test checks what a user
of the gateway would: the audio decodes as asked, errors have OpenAI's shape and the
documented status and code, nothing invalid reaches the provider, and the gateway keeps
serving after a failure.
"""

import base64
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from openai import OpenAI

from support import rawhttp
from support.audio import EXPECTED_CODECS, expected_speech_seconds, probe
from support.cases import load_cases, request_body
from support.emulator import SENTENCE, SPEECH_PATH, speech_body
from support.gateway import GatewaySettings
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
ERROR_KEYS = {"message", "type", "param", "code"}

# Each upstream fault is queued this many times, so that a gateway that retries meets the
# same failure on every attempt. Leftover faults are dropped before the next request.
FAULT_ATTEMPTS = 3

# The test gateway's [upstream] max_response_bytes, the GatewaySettings default.
MAX_RESPONSE_BYTES = GatewaySettings().max_response_bytes


@pytest.fixture(scope="module")
def gateway(start_gateway, openai_plugin):
    return start_gateway([openai_plugin])


@pytest.fixture
def client(gateway):
    return OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=60)


def good_request(gateway):
    """Send a small valid request, the kind that must work after any failure."""
    return gateway.speech({"model": "tts-1", "input": "Still working.", "voice": "alloy", "response_format": "pcm"})


def assert_audio(audio, format, text=SENTENCE, speed=1.0):
    """Assert that `audio` decodes as `format`, mono, 24 kHz, with a duration plausible for `text`."""
    info = probe(audio, format)
    expected_seconds = expected_speech_seconds(text, speed)

    assert info.decode_errors == "", f"{format} audio from the gateway does not decode cleanly: {info.decode_errors}"
    assert info.codec == EXPECTED_CODECS[format], f"{format} audio probed as codec {info.codec!r}"
    assert info.channels == 1, f"{format} audio has {info.channels} channels, expected mono"
    assert info.sample_rate == 24000, f"{format} audio is {info.sample_rate} Hz, expected 24000"
    assert 0.5 * expected_seconds <= info.duration_s <= 3 * expected_seconds, (
        f"{format} audio lasts {info.duration_s:.2f} s; about {expected_seconds:.2f} s expected for {text!r}"
    )


def assert_one_upstream_request(upstream, expected_body):
    """Assert that the emulator received exactly one speech request carrying these fields and the key."""
    entries = upstream.requests()
    assert len(entries) == 1, f"expected one upstream request, got {len(entries)}: {entries}"

    entry = entries[0]
    assert entry["method"] == "POST", f"upstream request used {entry['method']}"
    assert entry["path"] == SPEECH_PATH, f"upstream request went to {entry['path']}"
    assert entry["headers"].get("authorization") == f"Bearer {upstream.api_key}", (
        f"upstream request did not carry the configured key as a Bearer token: {entry['headers'].get('authorization')!r}"
    )
    sent = json.loads(entry["body"])
    for name, value in expected_body.items():
        assert sent.get(name) == value, f"upstream body field {name!r} is {sent.get(name)!r}, expected {value!r}; body {sent}"


def assert_gateway_error(response, status, code, param=None, check_param=True):
    """Assert an OpenAI-shaped error with this status and code, and an x-request-id header."""
    assert response.status == status, f"expected HTTP {status}: {response.describe()}"
    error = response.error()
    assert error is not None, f"body is not an OpenAI error object: {response.describe()}"
    assert ERROR_KEYS <= set(error), f"error lacks some of {sorted(ERROR_KEYS)}: {error}"
    assert isinstance(error["message"], str), f"error message is not a string: {error}"
    assert error["message"], f"error message is empty: {error}"
    assert error["code"] == code, f"expected code {code!r}: {error}"
    if check_param:
        assert error["param"] == param, f"expected param {param!r}: {error}"
    assert response.headers.get("x-request-id"), f"error response has no x-request-id: {response.headers}"
    return error


# --- Speech through the official SDK ---


@pytest.mark.parametrize("format", FORMATS)
def test_sdk_speech_format(client, upstream, format):
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format=format)

    assert_audio(speech.content, format)
    assert_one_upstream_request(upstream, {"model": "tts-1", "voice": "alloy", "input": SENTENCE, "response_format": format})


def test_sdk_streaming_speech(client, upstream):
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="nova", input=SENTENCE, response_format="mp3") as response:
        headers = response.headers
        chunks = list(response.iter_bytes())

    assert headers.get("content-type") == "audio/mpeg", f"streamed mp3 has content type {headers.get('content-type')!r}"
    assert headers.get("transfer-encoding") == "chunked", f"streamed response is not chunked: {dict(headers)}"
    assert chunks, "the streamed response had no body"
    assert_audio(b"".join(chunks), "mp3")
    assert_one_upstream_request(upstream, {"model": "tts-1", "voice": "nova", "input": SENTENCE})


def test_sdk_default_format_mp3(client, upstream):
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE)

    assert speech.response.headers.get("content-type") == "audio/mpeg", f"default format is not mp3: {speech.response.headers}"
    assert_audio(speech.content, "mp3")


def test_sdk_speed_forwarded(client, upstream):
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format="pcm", speed=2.0)

    assert_audio(speech.content, "pcm", speed=2.0)
    assert_one_upstream_request(upstream, {"speed": 2.0})


def test_sdk_instructions_forwarded(client, upstream):
    speech = client.audio.speech.create(
        model="gpt-4o-mini-tts", voice="coral", input=SENTENCE, response_format="wav", instructions="Speak cheerfully."
    )

    assert_audio(speech.content, "wav")
    assert_one_upstream_request(upstream, {"model": "gpt-4o-mini-tts", "instructions": "Speak cheerfully."})


@pytest.mark.parametrize("format", FORMATS)
def test_speech_response_headers(gateway, upstream, format):
    response = gateway.speech(speech_body(input=SENTENCE, response_format=format))

    assert response.status == 200, f"speech request failed: {response.describe()}"
    assert response.headers.get("content-type") == CONTENT_TYPES[format], f"wrong content type for {format}: {response.headers}"
    assert response.headers.get("transfer-encoding") == "chunked", f"{format} response is not chunked: {response.headers}"
    assert response.headers.get("x-request-id"), f"no x-request-id: {response.headers}"
    assert response.headers.get("x-voxgate-provider") == "openai", f"wrong x-voxgate-provider: {response.headers}"
    assert response.headers.get("x-voxgate-model") == "tts-1", f"wrong x-voxgate-model: {response.headers}"


def test_provider_prefixed_model(gateway, upstream):
    response = gateway.speech(speech_body(model="openai:tts-1-hd", input=SENTENCE, response_format="flac"))

    assert response.status == 200, f"openai:tts-1-hd was not accepted: {response.describe()}"
    assert response.headers.get("x-voxgate-model") == "tts-1-hd", f"wrong x-voxgate-model: {response.headers}"
    assert_audio(response.body, "flac")
    assert_one_upstream_request(upstream, {"model": "tts-1-hd"})


def test_sse_stream_format(gateway, upstream):
    response = gateway.speech(speech_body(model="gpt-4o-mini-tts", input=SENTENCE, stream_format="sse"))

    assert response.status == 200, f"SSE request failed: {response.describe()}"
    assert response.headers.get("content-type", "").startswith("text/event-stream"), f"wrong content type: {response.headers}"
    lines = response.body.decode("utf-8").splitlines()
    events = [json.loads(line[len("data: "):]) for line in lines if line.startswith("data: ")]
    deltas = [event for event in events if event.get("type") == "speech.audio.delta"]
    assert deltas, f"no speech.audio.delta events: {response.body[:300]!r}"
    assert events[-1].get("type") == "speech.audio.done", f"last event is not speech.audio.done: {events[-1]}"
    assert_audio(b"".join(base64.b64decode(event["audio"]) for event in deltas), "mp3")


@pytest.mark.parametrize("speed", [0.25, 4.0])
def test_speed_bounds_accepted(gateway, upstream, speed):
    response = gateway.speech(speech_body(input=SENTENCE, response_format="pcm", speed=speed))

    assert response.status == 200, f"speed {speed} is within OpenAI's range but was rejected: {response.describe()}"
    assert_audio(response.body, "pcm", speed=speed)


def test_unicode_input_forwarded(gateway, upstream):
    text = "Grüße aus Köln, naïve café — 東京 👋"

    response = gateway.speech(speech_body(input=text, response_format="pcm"))

    assert response.status == 200, f"non-ASCII input failed: {response.describe()}"
    assert_one_upstream_request(upstream, {"input": text})


def test_max_length_counts_characters(gateway, upstream):
    # 4096 two-byte characters are 8192 bytes of UTF-8 but within OpenAI's 4096-character
    # limit. The emulator returns a queued 500 in place of speech, so nothing long is rendered.
    text = "é" * 4096
    upstream.add_faults({"kind": "status", "status": 500})

    response = gateway.speech(speech_body(input=text))

    error = response.error() or {}
    assert error.get("code") != "string_above_max_length", f"the limit was applied to bytes, not characters: {error}"
    assert_one_upstream_request(upstream, {"input": text})


def test_concurrent_requests(gateway, upstream):
    formats = [FORMATS[index % len(FORMATS)] for index in range(12)]

    def speak(format):
        client = OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=60)
        return client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format=format).content

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(speak, formats))

    for format, audio in zip(formats, results):
        assert probe(audio, format).codec == EXPECTED_CODECS[format], f"a concurrent {format} request returned other audio"
    assert len(upstream.speech_requests()) == len(formats), "the gateway did not send one upstream request per client request"


def test_client_disconnect_mid_stream(gateway, upstream):
    upstream.add_faults({"kind": "slow", "chunk_delay_ms": 300})
    request = rawhttp.closing_post(SPEECH_PATH, speech_body(input=SENTENCE, response_format="wav"))

    with socket.create_connection(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])), timeout=30) as connection:
        connection.sendall(request)
        first_bytes = connection.recv(4096)

    assert first_bytes.startswith(b"HTTP/1.1 200"), f"the slow stream did not start: {first_bytes[:200]!r}"
    follow_up = good_request(gateway)
    assert follow_up.status == 200, f"the gateway failed a valid request after a client left mid-stream: {follow_up.describe()}"


def test_unknown_route_error(gateway):
    response = rawhttp.request(gateway.url, "GET", "/v1/nothing-here")

    error = response.error()
    assert response.status == 404, f"an unknown route did not give 404: {response.describe()}"
    assert error is not None, f"the 404 body is not an OpenAI error object: {response.describe()}"
    assert ERROR_KEYS <= set(error), f"error lacks some of {sorted(ERROR_KEYS)}: {error}"
    assert response.headers.get("x-request-id"), f"the 404 has no x-request-id: {response.headers}"


@pytest.mark.parametrize(
    "method, path, allow",
    [("GET", "/v1/audio/speech", "POST"), ("DELETE", "/v1/models", "GET"), ("POST", "/healthz", "GET"), ("GET", "/v1/text-to-speech/alloy", "POST")],
)
def test_wrong_method_names_allowed_one(gateway, method, path, allow):
    response = rawhttp.request(gateway.url, method, path)

    assert response.status == 405, response.describe()
    assert response.headers.get("allow") == allow, f"a 405 must say which method the path takes: {response.headers}"


def test_healthz_ok(gateway):
    response = rawhttp.request(gateway.url, "GET", "/healthz")

    assert response.status == 200, f"/healthz failed: {response.describe()}"


def test_providers_list_openai(gateway):
    openai = gateway.provider("openai")

    model_ids = [model.get("id") for model in openai.get("models", [])]
    voice_ids = [voice.get("id") for voice in openai.get("voices", [])]
    assert openai.get("name"), f"openai has no name: {openai}"
    assert openai.get("version"), f"openai has no version: {openai}"
    assert "tts-1" in model_ids, f"tts-1 not among the models: {model_ids}"
    assert "alloy" in voice_ids, f"alloy not among the voices: {voice_ids}"


# --- Invalid requests never reach the provider ---

@pytest.mark.parametrize("case", load_cases("gateway-openai/bad-requests"))
def test_bad_request_rejected(gateway, upstream, case):
    expected = case["expect"]

    response = gateway.speech_raw(request_body(case))

    assert_gateway_error(response, expected["status"], expected["code"], expected.get("param"), check_param="param" in expected)
    assert upstream.requests() == [], f"an invalid request reached the provider: {upstream.requests()}"
    follow_up = good_request(gateway)
    assert follow_up.status == 200, f"a valid request failed after the rejected one: {follow_up.describe()}"


def test_chunked_body_accepted(gateway, upstream):
    body = json.dumps(speech_body(input=SENTENCE, response_format="pcm")).encode("utf-8")
    chunks = [body[:7], body[7:30], body[30:]]

    response = rawhttp.request(gateway.url, "POST", SPEECH_PATH, iter(chunks), {"Content-Type": "application/json"}, encode_chunked=True)

    assert response.status == 200, f"a chunked request body was not accepted: {response.describe()}"
    assert_one_upstream_request(upstream, {"input": SENTENCE})


def test_chunked_body_too_large(gateway, upstream):
    # Without a Content-Length the gateway can only enforce max_request_bytes while reading.
    body = json.dumps(speech_body(input="a" * 3 * GatewaySettings().max_request_bytes)).encode("utf-8")
    chunks = (body[offset:offset + 65536] for offset in range(0, len(body), 65536))

    response = rawhttp.request(gateway.url, "POST", SPEECH_PATH, chunks, {"Content-Type": "application/json"}, encode_chunked=True)

    assert_gateway_error(response, 413, "request_too_large", check_param=False)
    assert upstream.requests() == [], f"an oversized chunked request reached the provider: {upstream.requests()}"


def test_unknown_field_named(gateway, upstream):
    response = gateway.speech(speech_body(colour="blue"))

    error = assert_gateway_error(response, 400, "unknown_parameter", check_param=False)
    assert "colour" in f"{error['param']} {error['message']}", f"the error does not name the unknown field: {error}"


# --- Upstream failures ---

@pytest.mark.parametrize("case", load_cases("gateway-openai/upstream-faults"))
def test_upstream_fault_mapped(gateway, upstream, case):
    expected = case["expect"]
    upstream.add_faults(*[case["fault"]] * FAULT_ATTEMPTS)

    response = gateway.speech(speech_body(input=SENTENCE))

    upstream.clear_faults()
    assert response.status in expected["status"], f"expected HTTP {expected['status']}: {response.describe()}"
    error = response.error()
    assert error is not None, f"body is not an OpenAI error object: {response.describe()}"
    assert ERROR_KEYS <= set(error), f"error lacks some of {sorted(ERROR_KEYS)}: {error}"
    assert error["code"] in expected["code"], f"expected code in {expected['code']}: {error}"
    assert response.headers.get("x-request-id"), f"error response has no x-request-id: {response.headers}"
    assert upstream.speech_requests(), "the gateway never called the provider"
    follow_up = good_request(gateway)
    assert follow_up.status == 200, f"the gateway failed a valid request after the fault: {follow_up.describe()}"


def test_upstream_unreachable(start_gateway, openai_plugin):
    # A port that was free a moment ago: connecting to it is refused.
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        closed_port = probe_socket.getsockname()[1]
    gateway = start_gateway([openai_plugin], openai_base_url=f"http://127.0.0.1:{closed_port}")

    response = gateway.speech(speech_body(input=SENTENCE))

    assert_gateway_error(response, 503, "provider_unavailable", check_param=False)


def test_rate_limit_retry_after(gateway, upstream):
    upstream.add_faults(*[{"kind": "status", "status": 429, "retry_after": 2, "code": "rate_limit_exceeded"}] * FAULT_ATTEMPTS)

    response = gateway.speech(speech_body(input=SENTENCE))

    upstream.clear_faults()
    retry_after = response.headers.get("retry-after", "")
    assert response.status == 429, f"expected HTTP 429: {response.describe()}"
    assert retry_after.isdigit(), f"429 has no Retry-After in whole seconds: {response.headers}"
    assert int(retry_after) >= 1, f"Retry-After is {retry_after}, expected at least 1 second"


def test_insufficient_quota_error(gateway, upstream):
    upstream.add_faults(*[{"kind": "status", "status": 429, "code": "insufficient_quota"}] * FAULT_ATTEMPTS)

    response = gateway.speech(speech_body(input=SENTENCE))

    upstream.clear_faults()
    error = response.error()
    assert response.status >= 400, f"an exhausted quota was reported as success: {response.describe()}"
    assert error is not None, f"body is not an OpenAI error object: {response.describe()}"
    assert error.get("code") != "rate_limited", f"an exhausted quota is not a rate limit that waiting fixes: {error}"
    assert good_request(gateway).status == 200, "the gateway failed a valid request after the quota error"


def test_slow_upstream_completes(gateway, upstream):
    upstream.add_faults({"kind": "slow", "chunk_delay_ms": 200})

    response = gateway.speech(speech_body(input=SENTENCE, response_format="mp3"))

    assert response.status == 200, f"a slow but steady upstream failed: {response.describe()}"
    assert response.read_error is None, f"the slow response broke off: {response.read_error!r}"
    assert_audio(response.body, "mp3")


def test_reset_mid_body_not_success(gateway, upstream):
    upstream.add_faults(*[{"kind": "reset_mid_body"}] * FAULT_ATTEMPTS)
    request = rawhttp.closing_post(SPEECH_PATH, speech_body(input=SENTENCE, response_format="wav"))

    response = rawhttp.raw_chunked_request(gateway.url, request)

    upstream.clear_faults()
    status_line = response.head.split(b"\r\n", 1)[0].decode("latin-1")
    if status_line.startswith("HTTP/1.1 200"):
        assert not response.terminated, (
            f"the upstream reset mid-body, yet the gateway ended its chunked response cleanly after {len(response.body)} bytes"
        )
    else:
        assert " 5" in status_line, f"expected a 200 that breaks off or a 5xx, got {status_line!r}"
    assert good_request(gateway).status == 200, "the gateway failed a valid request after the reset"


def test_reset_mid_body_http_client(gateway, upstream):
    upstream.add_faults(*[{"kind": "reset_mid_body"}] * FAULT_ATTEMPTS)

    response = gateway.speech(speech_body(input=SENTENCE, response_format="wav"))

    upstream.clear_faults()
    clean_success = response.status == 200 and response.read_error is None
    assert not clean_success, f"a reset upstream reached the client as a complete {len(response.body)}-byte success"


def test_oversized_error_body(gateway, upstream):
    oversized = {"kind": "oversized", "bytes": MAX_RESPONSE_BYTES + 1024 * 1024, "status": 500}
    upstream.add_faults(*[oversized] * FAULT_ATTEMPTS)

    response = gateway.speech(speech_body(input=SENTENCE))

    upstream.clear_faults()
    error = response.error()
    assert response.status in (502, 503), f"an error body over max_response_bytes was not a 502 or 503: {response.describe()}"
    assert error is not None, f"body is not an OpenAI error object: {response.describe()}"
    assert error["code"] in ("invalid_upstream_response", "provider_unavailable"), f"unexpected code: {error}"
    assert len(response.body) < 64 * 1024, f"the gateway relayed a {len(response.body)}-byte error body"
    assert good_request(gateway).status == 200, "the gateway failed a valid request after the oversized error body"


def test_long_audio_streams_through(gateway, upstream):
    # max_response_bytes caps what the gateway buffers for a plugin; streamed audio is not buffered.
    size = MAX_RESPONSE_BYTES + 1024 * 1024
    upstream.add_faults({"kind": "oversized", "bytes": size})

    response = rawhttp.raw_chunked_request(gateway.url, rawhttp.closing_post(SPEECH_PATH, speech_body(input=SENTENCE)))

    assert response.head.startswith(b"HTTP/1.1 200"), f"long audio was not streamed: {response.head[:200]!r}"
    assert response.terminated, f"long audio broke off after {len(response.body)} bytes: {response.read_error!r}"
    assert len(response.body) == size, f"relayed {len(response.body)} of {size} audio bytes"
