"""The OpenAI emulator itself: auth, strict validation, real audio, the request log and faults."""

import base64
import http.client
import json
import signal
import socket
import subprocess
import sys

import pytest

from support import rawhttp
from support.audio import EXPECTED_CODECS, expected_speech_seconds, probe
from support.cases import load_cases, request_body
from support.emulator import EMULATOR_SCRIPT, SENTENCE, SPEECH_PATH, OpenAIEmulator, speech_body

CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def speak(emulator, body=None, key=None, timeout=rawhttp.DEFAULT_TIMEOUT_S):
    """POST a speech request with the emulator's key, or with `key` when given."""
    headers = {"Authorization": f"Bearer {key or emulator.api_key}"}
    return rawhttp.post_json(emulator.url, SPEECH_PATH, body if body is not None else speech_body(), headers, timeout)


def speak_raw(emulator, body):
    headers = {"Authorization": f"Bearer {emulator.api_key}", "Content-Type": "application/json"}
    return rawhttp.request(emulator.url, "POST", SPEECH_PATH, body, headers)


def raw_speech_request(emulator, body):
    """Return the bytes of a speech request with the emulator's key and `Connection: close`."""
    return rawhttp.closing_post(SPEECH_PATH, body, {"Authorization": f"Bearer {emulator.api_key}"})


def assert_openai_error(response, status, param, code):
    """Assert an OpenAI-shaped error with this status, param and code."""
    assert response.status == status, f"expected HTTP {status}: {response.describe()}"
    error = response.error()
    assert error is not None, f"body is not an OpenAI error object: {response.describe()}"
    assert set(error) == {"message", "type", "param", "code"}, f"error keys differ from OpenAI's four: {error}"
    assert isinstance(error["message"], str), f"error message is not a string: {error}"
    assert error["message"], f"error message is empty: {error}"
    assert error["param"] == param, f"expected param {param!r}: {error}"
    assert error["code"] == code, f"expected code {code!r}: {error}"
    assert response.headers.get("x-request-id", "").startswith("req_"), f"no x-request-id header: {response.headers}"
    return error


# --- Command line ---


def test_cli_prints_one_listening_line(emulator):
    stdout = emulator.server.stdout()

    assert stdout == f"listening on {emulator.url}\n", f"stdout should be exactly one listening line, got {stdout!r}"


def test_cli_stops_on_sigterm(tmp_path, audio_tools):
    emulator = OpenAIEmulator(tmp_path, "sk-stop-test")

    status = emulator.stop()

    assert status == 0, f"emulator exited with {status} after SIGTERM; stderr:\n{emulator.server.stderr()}"
    assert "Traceback" not in emulator.server.stderr(), f"emulator printed a traceback:\n{emulator.server.stderr()}"


def test_cli_stops_on_two_signals(tmp_path, audio_tools):
    # A terminal's Ctrl-C reaches the emulator, and its parent then sends SIGTERM: the second
    # signal can arrive while the first handler is still running.
    # NOTE: the hang needs the two signals to overlap, so this catches it only on some runs.
    folders = [tmp_path / f"emulator-{index}" for index in range(4)]
    for folder in folders:
        folder.mkdir()
    emulators = [OpenAIEmulator(folder, "sk-two-signals") for folder in folders]
    for emulator in emulators:
        emulator.server.process.send_signal(signal.SIGINT)
        emulator.server.process.send_signal(signal.SIGTERM)

    for emulator in emulators:
        try:
            status = emulator.server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emulator.server.process.kill()
            pytest.fail("the emulator hung after SIGINT followed by SIGTERM")
        assert status == 0, f"emulator exited with {status}; stderr:\n{emulator.server.stderr()}"


def test_cli_rejects_non_loopback_host():
    completed = subprocess.run(
        [sys.executable, str(EMULATOR_SCRIPT), "--host", "0.0.0.0", "--api-key", "k"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )

    assert completed.returncode != 0, f"emulator accepted --host 0.0.0.0: {completed.stdout!r}"
    assert "loopback" in completed.stderr, f"error does not explain the loopback rule: {completed.stderr!r}"


# --- Authentication ---


def test_auth_missing_key(upstream):
    response = rawhttp.post_json(upstream.url, SPEECH_PATH, speech_body())

    error = assert_openai_error(response, 401, None, "invalid_api_key")
    assert error["type"] == "invalid_request_error", f"unexpected error type: {error}"


def test_auth_wrong_key(upstream):
    wrong_key = "sk-wrong-key-0123456789abcdef"

    response = speak(upstream, key=wrong_key)

    error = assert_openai_error(response, 401, None, "invalid_api_key")
    assert wrong_key not in error["message"], f"the 401 message repeats the whole key: {error}"
    assert "cdef" in error["message"], f"the 401 message should show the key's masked form like OpenAI: {error}"


def test_auth_basic_scheme(upstream):
    headers = {"Authorization": f"Basic {upstream.api_key}"}

    response = rawhttp.post_json(upstream.url, SPEECH_PATH, speech_body(), headers)

    assert_openai_error(response, 401, None, "invalid_api_key")


def render_counts(upstream):
    """The emulator's render and cache-hit counts; its other stats change with every request."""
    stats = upstream.stats()
    return stats["renders"], stats["cache_hits"]


def test_auth_failure_not_rendered(upstream):
    before = render_counts(upstream)

    speak(upstream, key="sk-wrong")

    assert render_counts(upstream) == before, "a request with a wrong key was rendered"


# --- Validation ---

@pytest.mark.parametrize("case", load_cases("openai-emulator/invalid-requests"))
def test_validation_rejects(upstream, case):
    before = render_counts(upstream)
    expected = case["expect"]

    response = speak_raw(upstream, request_body(case))

    error = assert_openai_error(response, expected["status"], expected["param"], expected["code"])
    assert error["type"] == "invalid_request_error", f"unexpected error type: {error}"
    assert render_counts(upstream) == before, "an invalid request was rendered"


@pytest.mark.parametrize(
    "overrides",
    [
        {"speed": 0.25},
        {"speed": 4},
        {"voice": {"id": "voice_1234"}},
        {"model": "gpt-4o-mini-tts", "instructions": "x" * 4096},
        {"model": "gpt-4o-mini-tts-2025-12-15", "stream_format": "audio"},
        {"model": "tts-1-hd", "voice": "cedar"},
    ],
    ids=["speed_min", "speed_max", "custom_voice", "instructions_max", "dated_model", "hd_model"],
)
def test_validation_accepts(upstream, overrides):
    response = speak(upstream, speech_body(response_format="pcm", **overrides))

    assert response.status == 200, f"a valid request was rejected: {response.describe()}"


def test_unknown_path_not_found(upstream):
    response = rawhttp.request(upstream.url, "GET", "/v1/models", headers={"Authorization": f"Bearer {upstream.api_key}"})

    error = assert_openai_error(response, 404, None, None)
    assert error["message"] == "Invalid URL (GET /v1/models)", f"unexpected 404 message: {error}"


def test_speech_get_not_found(upstream):
    response = rawhttp.request(upstream.url, "GET", SPEECH_PATH, headers={"Authorization": f"Bearer {upstream.api_key}"})

    assert_openai_error(response, 404, None, None)


# --- Audio ---


@pytest.mark.parametrize("format", list(CONTENT_TYPES))
def test_format_decodes(upstream, format):
    response = speak(upstream, speech_body(response_format=format))

    assert response.status == 200, f"speech request failed: {response.describe()}"
    assert response.headers.get("content-type") == CONTENT_TYPES[format], f"wrong content type: {response.headers}"
    assert response.headers.get("transfer-encoding") == "chunked", f"response is not chunked: {response.headers}"
    assert response.headers.get("x-request-id", "").startswith("req_"), f"no x-request-id: {response.headers}"
    assert response.headers.get("openai-processing-ms", "").isdigit(), f"no openai-processing-ms: {response.headers}"

    info = probe(response.body, format)
    expected_seconds = expected_speech_seconds(SENTENCE)
    assert info.decode_errors == "", f"{format} audio does not decode cleanly: {info.decode_errors}"
    assert info.codec == EXPECTED_CODECS[format], f"{format} audio probed as codec {info.codec!r}"
    assert info.channels == 1, f"{format} audio has {info.channels} channels, expected mono"
    assert info.sample_rate == 24000, f"{format} audio is {info.sample_rate} Hz, expected 24000"
    assert 0.5 * expected_seconds <= info.duration_s <= 3 * expected_seconds, (
        f"{format} audio lasts {info.duration_s:.2f} s; about {expected_seconds:.2f} s expected for {SENTENCE!r}"
    )


def test_mp3_starts_with_frame(upstream):
    response = speak(upstream, speech_body(response_format="mp3"))

    assert response.body[:3] != b"ID3", "mp3 starts with an ID3 tag instead of an MPEG frame"
    assert response.body[0] == 0xFF, f"mp3 does not start with frame sync: {response.body[:4].hex()}"
    assert response.body[1] & 0xE0 == 0xE0, f"mp3 does not start with frame sync: {response.body[:4].hex()}"


def test_wav_has_canonical_header(upstream):
    response = speak(upstream, speech_body(response_format="wav"))

    assert response.body[:4] == b"RIFF", f"not a RIFF file: {response.body[:12]!r}"
    assert response.body[8:12] == b"WAVE", f"not a WAVE file: {response.body[:12]!r}"
    assert response.body[36:40] == b"data", f"WAV header is not the 44-byte canonical form: {response.body[:44]!r}"


def test_speed_changes_duration(upstream):
    normal = probe(speak(upstream, speech_body(response_format="pcm")).body, "pcm").duration_s
    fast = probe(speak(upstream, speech_body(response_format="pcm", speed=2.0)).body, "pcm").duration_s
    slowest = probe(speak(upstream, speech_body(response_format="pcm", speed=0.25)).body, "pcm").duration_s

    assert fast < 0.7 * normal, f"speed 2.0 lasts {fast:.2f} s against {normal:.2f} s at 1.0"
    assert slowest > 2.5 * normal, f"speed 0.25 lasts {slowest:.2f} s against {normal:.2f} s at 1.0"


def test_voices_sound_different(upstream):
    alloy = speak(upstream, speech_body(response_format="pcm", voice="alloy")).body
    nova = speak(upstream, speech_body(response_format="pcm", voice="nova")).body

    assert alloy != nova, "two voices produced identical audio"


def test_audio_streams_in_chunks(upstream):
    response = rawhttp.raw_chunked_request(upstream.url, raw_speech_request(upstream, speech_body(response_format="wav")))

    assert response.head.startswith(b"HTTP/1.1 200"), f"unexpected status line: {response.head[:80]!r}"
    assert response.terminated, f"chunked body did not end with the last chunk; read error {response.read_error!r}"
    assert len(response.chunks) > 1, f"audio arrived in {len(response.chunks)} chunk(s), expected several"
    assert max(len(chunk) for chunk in response.chunks) <= 4096, "a chunk is larger than the 4 KiB chunk size"


def test_repeated_request_cached(upstream):
    body = speech_body(input="Caching makes repeated renders cheap.", response_format="flac")
    first = speak(upstream, body)
    before = upstream.stats()

    second = speak(upstream, body)

    after = upstream.stats()
    assert second.body == first.body, "a repeated request returned different audio"
    assert after["renders"] == before["renders"], f"a repeated request was rendered again: {before} -> {after}"
    assert after["cache_hits"] == before["cache_hits"] + 1, f"a repeated request was not a cache hit: {before} -> {after}"


def test_sse_stream_events(upstream):
    response = speak(upstream, speech_body(model="gpt-4o-mini-tts", stream_format="sse"))

    assert response.status == 200, f"SSE request failed: {response.describe()}"
    assert response.headers.get("content-type") == "text/event-stream", f"wrong content type: {response.headers}"
    events = [json.loads(line[len("data: "):]) for line in response.body.decode("utf-8").splitlines() if line.startswith("data: ")]
    deltas = [event for event in events if event["type"] == "speech.audio.delta"]
    assert deltas, f"no speech.audio.delta events in {response.body[:200]!r}"
    assert events[-1]["type"] == "speech.audio.done", f"last event is not speech.audio.done: {events[-1]}"
    assert events[-1]["usage"]["total_tokens"] > 0, f"done event has no usage: {events[-1]}"
    audio = b"".join(base64.b64decode(event["audio"]) for event in deltas)
    assert probe(audio, "mp3").codec == "mp3", "the SSE deltas do not decode as mp3"


# --- Request log ---


def test_request_log_records_request(upstream):
    speak(upstream, speech_body(response_format="pcm"))

    entries = upstream.requests()
    assert len(entries) == 1, f"expected one logged request, got {entries}"
    entry = entries[0]
    assert entry["method"] == "POST", f"wrong method logged: {entry}"
    assert entry["path"] == SPEECH_PATH, f"wrong path logged: {entry}"
    assert entry["headers"]["authorization"] == f"Bearer {upstream.api_key}", f"authorization header not logged: {entry}"
    assert json.loads(entry["body"]) == speech_body(response_format="pcm"), f"body not logged as sent: {entry}"


def test_request_log_records_rejected(upstream):
    speak(upstream, key="sk-wrong")
    rawhttp.request(upstream.url, "GET", "/v1/nothing")

    paths = [entry["path"] for entry in upstream.requests()]

    assert paths == [SPEECH_PATH, "/v1/nothing"], f"rejected requests were not all logged: {paths}"


def test_request_log_skips_control(upstream):
    upstream.requests()
    upstream.stats()

    assert upstream.requests() == [], "control endpoint requests appear in the request log"


def test_request_log_binary_body(upstream):
    speak_raw(upstream, b"\xff\xfe\x00binary")

    entry = upstream.requests()[0]

    assert entry["body"] is None, f"a non-UTF-8 body was logged as text: {entry}"
    assert base64.b64decode(entry["body_base64"]) == b"\xff\xfe\x00binary", f"binary body not kept as base64: {entry}"


def test_request_log_clear(upstream):
    speak(upstream, key="sk-wrong")

    upstream.clear()

    assert upstream.requests() == [], "DELETE /__emulator/requests left entries behind"


def test_request_log_file(upstream):
    speak(upstream, speech_body(input="Written to the log file.", response_format="pcm"))

    with open(upstream.request_log_path, encoding="utf-8") as log_file:
        last_line = log_file.readlines()[-1]

    assert json.loads(last_line) == upstream.requests()[-1], "the request log file's last line differs from the in-memory log"


# --- Faults ---


def test_fault_rate_limit(upstream):
    upstream.add_faults({"kind": "status", "status": 429, "retry_after": 2, "code": "rate_limit_exceeded"})

    response = speak(upstream)

    error = assert_openai_error(response, 429, None, "rate_limit_exceeded")
    assert error["type"] == "requests", f"rate limit error type differs from OpenAI's: {error}"
    assert response.headers.get("retry-after") == "2", f"no Retry-After: 2 header: {response.headers}"
    assert response.headers.get("x-ratelimit-remaining-requests") == "0", f"no rate-limit headers: {response.headers}"


def test_fault_insufficient_quota(upstream):
    upstream.add_faults({"kind": "status", "status": 429, "code": "insufficient_quota"})

    response = speak(upstream)

    error = assert_openai_error(response, 429, None, "insufficient_quota")
    assert error["type"] == "insufficient_quota", f"quota error type differs from OpenAI's: {error}"
    assert "retry-after" not in response.headers, f"a quota error should not invite a retry: {response.headers}"


@pytest.mark.parametrize("status", [500, 503])
def test_fault_server_error(upstream, status):
    upstream.add_faults({"kind": "status", "status": status})

    response = speak(upstream)

    error = assert_openai_error(response, status, None, None)
    assert error["type"] == "server_error", f"server error type differs from OpenAI's: {error}"


def test_fault_unauthorized(upstream):
    upstream.add_faults({"kind": "status", "status": 401})

    response = speak(upstream)

    error = assert_openai_error(response, 401, None, "invalid_api_key")
    assert upstream.api_key not in error["message"], f"the 401 message repeats the whole key: {error}"


def test_fault_custom_body(upstream):
    custom = {"error": {"message": "custom", "type": "server_error", "param": None, "code": "custom_code"}}
    upstream.add_faults({"kind": "status", "status": 502, "body": custom})

    response = speak(upstream)

    assert response.status == 502, f"custom status not applied: {response.describe()}"
    assert response.json() == custom, f"custom body not sent as given: {response.describe()}"


def test_fault_one_per_request(upstream):
    upstream.add_faults({"kind": "status", "status": 500}, {"kind": "status", "status": 503})

    statuses = [speak(upstream, speech_body(response_format="pcm")).status for _ in range(3)]

    assert statuses == [500, 503, 200], f"faults were not applied once each, in order: {statuses}"


def test_fault_waits_for_valid_request(upstream):
    upstream.add_faults({"kind": "status", "status": 500})

    invalid = speak(upstream, speech_body(voice="robot"))
    valid = speak(upstream)

    assert invalid.status == 400, f"an invalid request was not rejected first: {invalid.describe()}"
    assert valid.status == 500, f"the fault did not apply to the next valid request: {valid.describe()}"


def test_fault_hang_until_client_leaves(upstream):
    upstream.add_faults({"kind": "hang"})

    with pytest.raises((socket.timeout, TimeoutError)):
        speak(upstream, timeout=1.0)

    after = speak(upstream, speech_body(response_format="pcm"))
    assert after.status == 200, f"emulator stopped serving after a hang: {after.describe()}"


def test_fault_hang_gives_up(upstream):
    upstream.add_faults({"kind": "hang", "max_seconds": 0.5})

    with pytest.raises(http.client.RemoteDisconnected):
        speak(upstream, timeout=30)


def test_fault_slow(upstream):
    body = speech_body(response_format="wav")
    expected = speak(upstream, body).body
    upstream.add_faults({"kind": "slow", "chunk_delay_ms": 20})

    response = rawhttp.raw_chunked_request(upstream.url, raw_speech_request(upstream, body))

    assert response.terminated, f"slow response did not finish cleanly: {response.read_error!r}"
    assert len(response.chunks) > 1, f"slow response arrived in {len(response.chunks)} chunk(s)"
    assert response.body == expected, "slow response differs from the normal audio"


def test_fault_reset_mid_body(upstream):
    body = speech_body(response_format="wav")
    full_length = len(speak(upstream, body).body)
    upstream.add_faults({"kind": "reset_mid_body"})

    response = rawhttp.raw_chunked_request(upstream.url, raw_speech_request(upstream, body))

    assert response.head.startswith(b"HTTP/1.1 200"), f"headers were not sent before the reset: {response.head[:80]!r}"
    assert not response.terminated, "a reset response ended with a clean last chunk"
    assert 0 < len(response.body) < full_length, f"expected part of the {full_length}-byte body, got {len(response.body)} bytes"


def test_fault_reset_seen_by_http_client(upstream):
    upstream.add_faults({"kind": "reset_mid_body"})

    response = speak(upstream, speech_body(response_format="wav"))

    assert response.status == 200, f"headers were not sent before the reset: {response.describe()}"
    assert response.read_error is not None, "http.client read a reset response as complete"


def test_fault_malformed_json(upstream):
    upstream.add_faults({"kind": "malformed_json", "status": 500})

    response = speak(upstream)

    assert response.status == 500, f"malformed_json status not applied: {response.describe()}"
    assert response.headers.get("content-type") == "application/json", f"malformed body is not labelled JSON: {response.headers}"
    with pytest.raises(ValueError):
        json.loads(response.body)


def test_fault_wrong_content_type(upstream):
    upstream.add_faults({"kind": "wrong_content_type"})

    response = speak(upstream)

    assert response.status == 200, f"wrong_content_type should answer 200: {response.describe()}"
    assert response.headers.get("content-type", "").startswith("text/html"), f"content type is not HTML: {response.headers}"
    assert response.body.startswith(b"<!DOCTYPE html>"), f"body is not HTML: {response.body[:80]!r}"


def test_fault_oversized(upstream):
    upstream.add_faults({"kind": "oversized", "bytes": 300_000})

    response = speak(upstream)

    assert response.status == 200, f"oversized should answer 200: {response.describe()}"
    assert response.headers.get("content-type") == "audio/mpeg", f"oversized body is not labelled audio: {response.headers}"
    assert len(response.body) == 300_000, f"oversized body has {len(response.body)} bytes, expected 300000"


def test_fault_oversized_error(upstream):
    upstream.add_faults({"kind": "oversized", "bytes": 300_000, "status": 500})

    response = speak(upstream)

    assert response.status == 500, f"oversized error status not applied: {response.describe()}"
    assert len(response.body) == 300_000, f"oversized error body has {len(response.body)} bytes, expected 300000"
    assert response.error()["type"] == "server_error", "oversized error body is not a valid OpenAI error"


@pytest.mark.parametrize(
    "faults",
    [
        [{"kind": "explode"}],
        [{"kind": "status"}],
        [{"kind": "status", "status": 200}],
        [{"kind": "slow", "delay": 5}],
        {"kind": "hang"},
    ],
    ids=["unknown_kind", "missing_status", "status_out_of_range", "unknown_field", "not_a_list"],
)
def test_fault_rejects_invalid(upstream, faults):
    response = rawhttp.post_json(upstream.url, "/__emulator/faults", faults)

    assert response.status == 400, f"invalid faults were accepted: {response.describe()}"
    assert upstream.pending_faults() == [], "an invalid fault list was partly queued"


def test_fault_list_and_clear(upstream):
    upstream.add_faults({"kind": "wrong_content_type"}, {"kind": "status", "status": 503})
    pending = upstream.pending_faults()

    upstream.clear_faults()

    assert [fault["kind"] for fault in pending] == ["wrong_content_type", "status"], f"pending faults not listed in order: {pending}"
    assert upstream.pending_faults() == [], "DELETE /__emulator/faults left faults pending"
