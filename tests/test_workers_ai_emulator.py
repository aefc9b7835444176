"""The Workers AI emulator and the AI Gateway emulator: paths, auth, strict validation, real audio,
Cloudflare's error envelopes, faults, and the gateway's checking, recording and forwarding."""

import base64
import json
import subprocess
import sys

import pytest

from support import rawhttp
from support.cases import load_cases, request_body
from support.workers_ai import (
    AURA_1,
    AURA_2_EN,
    MELOTTS,
    SENTENCE,
    WORKERS_AI_SCRIPT,
    AiGatewayEmulator,
    WorkersAiEmulator,
    probe,
)

ACCOUNT = "0123456789abcdef0123456789abcdef"
GATEWAY = "voice-gw"
ENVELOPE_KEYS = {"success", "errors", "messages", "result"}


@pytest.fixture(scope="module")
def api_token():
    return "cf-canary-" + "a1b2" * 10


@pytest.fixture(scope="module")
def workers_ai(tmp_path_factory, api_token, audio_tools):
    running = WorkersAiEmulator(tmp_path_factory.mktemp("workers-ai-emulator"), api_token, ACCOUNT)
    yield running
    running.stop()


@pytest.fixture
def cloudflare(workers_ai):
    """The module's Workers AI emulator with an empty log and no pending faults."""
    workers_ai.reset()
    yield workers_ai
    workers_ai.clear_faults()


@pytest.fixture(scope="module")
def gateway_token():
    return "aig-canary-" + "c3d4" * 8


@pytest.fixture(scope="module")
def ai_gateway(tmp_path_factory, gateway_token, workers_ai, emulator):
    running = AiGatewayEmulator(
        tmp_path_factory.mktemp("ai-gateway-emulator"), gateway_token, ACCOUNT, GATEWAY, openai_upstream=emulator.url, workers_ai_upstream=workers_ai.api_root
    )
    yield running
    running.stop()


@pytest.fixture
def aig(ai_gateway, cloudflare, upstream):
    """The AI Gateway emulator and both providers behind it, with empty logs."""
    ai_gateway.reset()
    yield ai_gateway
    ai_gateway.clear_faults()


def run(emulator, model, body, token=None, account=None, headers=None):
    all_headers = {"Authorization": f"Bearer {token or emulator.api_key}", "Content-Type": "application/json"}
    all_headers.update(headers or {})
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    return rawhttp.request(emulator.url, "POST", emulator.run_path(model, account), raw, all_headers)


def assert_envelope(response, status, code):
    assert response.status == status, f"expected HTTP {status}: {response.describe()}"
    value = response.json()
    assert ENVELOPE_KEYS <= set(value), f"not Cloudflare's envelope: {value}"
    assert value["success"] is False and value["result"] is None, f"failed envelope expected: {value}"
    assert value["errors"][0]["code"] == code, f"expected code {code}: {value}"
    assert value["errors"][0]["message"], f"empty message: {value}"
    return value["errors"][0]


def assert_speech(data, encoding, container, sample_rate):
    info = probe(data, encoding, container, sample_rate)
    assert info.decode_errors == "", f"{encoding}/{container} audio does not decode: {info.decode_errors}"
    assert info.codec == {"linear16": "pcm_s16le", "mulaw": "pcm_mulaw", "alaw": "pcm_alaw"}.get(encoding, encoding), f"codec {info.codec}"
    assert info.channels == 1, f"{info.channels} channels"
    assert info.sample_rate == sample_rate, f"{encoding}/{container} is {info.sample_rate} Hz, expected {sample_rate}"
    # espeak-ng spells English letter by letter in some languages, so the bound is loose.
    assert 1.0 < info.duration_s < 30.0, f"{info.duration_s:.2f} s of audio for one sentence"


# --- Command line ---


def test_cli_prints_one_listening_line(workers_ai):
    assert workers_ai.server.stdout() == f"listening on {workers_ai.url}\n"


def test_cli_rejects_non_loopback_host():
    completed = subprocess.run(
        [sys.executable, str(WORKERS_AI_SCRIPT), "--host", "0.0.0.0", "--api-key", "k", "--account-id", "a"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )

    assert completed.returncode != 0 and "loopback" in completed.stderr, completed.stderr


# --- Paths and authentication ---


def test_request_log_has_path_token_and_body(cloudflare):
    body = {"text": SENTENCE, "speaker": "asteria", "encoding": "linear16", "container": "none", "sample_rate": 16000}

    response = run(cloudflare, AURA_2_EN, body)

    assert response.status == 200, response.describe()
    [entry] = cloudflare.requests()
    assert entry["method"] == "POST"
    assert entry["path"] == f"/client/v4/accounts/{ACCOUNT}/ai/run/@cf/deepgram/aura-2-en"
    assert entry["headers"]["authorization"] == f"Bearer {cloudflare.api_key}"
    assert json.loads(entry["body"]) == body


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic {token}", "Bearer"])
def test_bad_credentials_are_401(cloudflare, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization.format(token=cloudflare.api_key)
    before = cloudflare.stats()["renders"]

    response = rawhttp.request(cloudflare.url, "POST", cloudflare.run_path(MELOTTS), b'{"prompt":"Hi"}', headers)

    assert_envelope(response, 401, 10000)
    assert cloudflare.stats()["renders"] == before, "a request with bad credentials was rendered"


def test_other_account_is_403(cloudflare):
    assert_envelope(run(cloudflare, MELOTTS, {"prompt": "Hi"}, account="ffff"), 403, 10000)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/client/v4/accounts/{account}/ai/models", 404, 7000),
        ("POST", "/v1/audio/speech", 404, 7000),
        ("GET", "/client/v4/accounts/{account}/ai/run/@cf/deepgram/aura-1", 405, 7001),
        ("POST", "/client/v4/accounts/{account}/ai/run/not-a-model", 404, 3042),
        ("POST", "/client/v4/accounts/{account}/ai/run/@cf/deepgram/aura-9", 400, 5007),
    ],
)
def test_routes(cloudflare, method, path, status, code):
    headers = {"Authorization": f"Bearer {cloudflare.api_key}"}

    response = rawhttp.request(cloudflare.url, method, path.format(account=ACCOUNT), b'{"text":"Hi"}', headers)

    assert_envelope(response, status, code)


def test_percent_encoded_model_is_accepted(cloudflare):
    headers = {"Authorization": f"Bearer {cloudflare.api_key}"}
    path = f"/client/v4/accounts/{ACCOUNT}/ai/run/%40cf%2Fmyshell-ai%2Fmelotts"

    response = rawhttp.request(cloudflare.url, "POST", path, b'{"prompt":"Hi"}', headers)

    assert response.status == 200, response.describe()


# --- Aura ---


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "container", "sample_rate"),
    [
        ({}, "audio/mpeg", "mp3", None, 22050),
        ({"encoding": "mp3", "bit_rate": 32000}, "audio/mpeg", "mp3", None, 22050),
        ({"encoding": "linear16"}, "audio/wav", "linear16", "wav", 24000),
        ({"encoding": "linear16", "container": "wav", "sample_rate": 32000}, "audio/wav", "linear16", "wav", 32000),
        ({"encoding": "linear16", "container": "none", "sample_rate": 8000}, "audio/l16;rate=8000", "linear16", "none", 8000),
        ({"encoding": "linear16", "container": "none", "sample_rate": 48000}, "audio/l16;rate=48000", "linear16", "none", 48000),
        ({"encoding": "mulaw"}, "audio/wav", "mulaw", "wav", 8000),
        ({"encoding": "mulaw", "container": "none", "sample_rate": 16000}, "audio/mulaw;rate=16000", "mulaw", "none", 16000),
        ({"encoding": "alaw", "container": "none"}, "audio/alaw;rate=8000", "alaw", "none", 8000),
        ({"encoding": "alaw", "container": "wav", "sample_rate": 16000}, "audio/wav", "alaw", "wav", 16000),
        ({"encoding": "opus"}, "audio/ogg;codecs=opus", "opus", "ogg", 48000),
        ({"encoding": "opus", "container": "ogg", "bit_rate": 650000}, "audio/ogg;codecs=opus", "opus", "ogg", 48000),
        ({"encoding": "flac", "sample_rate": 8000}, "audio/flac", "flac", None, 8000),
        ({"encoding": "flac", "sample_rate": 22050}, "audio/flac", "flac", None, 22050),
        ({"encoding": "aac", "bit_rate": 192000}, "audio/aac", "aac", None, 22050),
    ],
)
def test_aura_combinations(cloudflare, body, content_type, encoding, container, sample_rate):
    response = run(cloudflare, AURA_2_EN, {"text": SENTENCE, **body})

    assert response.status == 200, response.describe()
    assert response.headers.get("content-type") == content_type, response.headers
    assert response.headers.get("transfer-encoding") == "chunked", response.headers
    assert_speech(response.body, encoding, container, sample_rate)


def test_speakers_sound_different(cloudflare):
    first = run(cloudflare, AURA_1, {"text": SENTENCE, "speaker": "angus", "encoding": "linear16"})
    second = run(cloudflare, AURA_1, {"text": SENTENCE, "speaker": "stella", "encoding": "linear16"})

    assert first.status == second.status == 200
    assert first.body != second.body, "two speakers rendered identical audio"


@pytest.mark.parametrize("case", load_cases("workers-ai-emulator/invalid-requests"))
def test_invalid_requests(cloudflare, case):
    before = cloudflare.stats()["renders"]

    response = run(cloudflare, case["model"], request_body(case))

    assert_envelope(response, case["expect"]["status"], case["expect"]["code"])
    assert cloudflare.stats()["renders"] == before, "an invalid request was rendered"


# --- MeloTTS ---


@pytest.mark.parametrize("lang", [None, "en", "es", "fr", "zh", "jp", "kr", "xx"])
def test_melotts_answers_base64_wav(cloudflare, lang):
    body = {"prompt": SENTENCE} if lang is None else {"prompt": SENTENCE, "lang": lang}

    response = run(cloudflare, MELOTTS, body)

    assert response.status == 200, response.describe()
    assert response.headers.get("content-type") == "application/json"
    value = response.json()
    assert value["success"] is True and value["errors"] == [] and value["messages"] == [], value
    audio = base64.b64decode(value["result"]["audio"])
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE", f"MeloTTS audio is not WAV: {audio[:12]!r}"
    assert_speech(audio, "linear16", "wav", 44100)


# --- Errors and faults ---


@pytest.mark.parametrize("case", load_cases("workers-ai-errors"))
def test_documented_errors(cloudflare, case):
    cloudflare.add_faults(case["fault"])
    model = case.get("model", AURA_2_EN)
    body = {"prompt": "Hi"} if model == MELOTTS else {"text": "Hi"}

    response = run(cloudflare, model, body)

    assert_envelope(response, case["emulator"]["status"], case["emulator"]["code"])
    retry_after = case["fault"].get("retry_after")
    if retry_after is not None:
        assert response.headers.get("retry-after") == f"{retry_after:g}", response.headers


def test_fault_waits_for_a_valid_request(cloudflare):
    cloudflare.add_faults({"kind": "status", "status": 429, "code": "3040"})

    invalid = run(cloudflare, AURA_2_EN, {"speaker": "luna"})
    faulted = run(cloudflare, AURA_2_EN, {"text": "Hi"})

    assert_envelope(invalid, 400, 5006)
    assert_envelope(faulted, 429, 3040)
    assert cloudflare.pending_faults() == []


def test_raw_body_fault(cloudflare):
    cloudflare.add_faults({"kind": "status", "status": 502, "body": "<html>bad gateway</html>"})

    response = run(cloudflare, AURA_2_EN, {"text": "Hi"})

    assert (response.status, response.body) == (502, b"<html>bad gateway</html>")


def test_malformed_json_fault(cloudflare):
    cloudflare.add_faults({"kind": "malformed_json", "status": 200})

    response = run(cloudflare, MELOTTS, {"prompt": "Hi"})

    assert response.status == 200
    with pytest.raises(ValueError):
        response.json()


def test_wrong_content_type_fault(cloudflare):
    cloudflare.add_faults({"kind": "wrong_content_type"})

    response = run(cloudflare, AURA_2_EN, {"text": "Hi"})

    assert response.status == 200 and response.headers["content-type"].startswith("text/html"), response.describe()


def test_hang_fault_sends_nothing(cloudflare):
    cloudflare.add_faults({"kind": "hang", "max_seconds": 5})

    with pytest.raises(OSError):
        rawhttp.request(
            cloudflare.url, "POST", cloudflare.run_path(AURA_2_EN), b'{"text":"Hi"}', {"Authorization": f"Bearer {cloudflare.api_key}"}, timeout=0.5
        )


def test_reset_and_oversized_faults(cloudflare):
    cloudflare.add_faults({"kind": "reset_mid_body", "after_bytes": 1000}, {"kind": "oversized", "bytes": 300000}, {"kind": "slow", "chunk_delay_ms": 1})
    body = {"text": SENTENCE, "encoding": "linear16"}

    reset = run(cloudflare, AURA_2_EN, body)
    oversized = run(cloudflare, AURA_2_EN, body)
    slow = run(cloudflare, AURA_2_EN, body)

    assert reset.read_error is not None and len(reset.body) <= 1000, reset.describe()
    assert oversized.status == 200 and len(oversized.body) == 300000, len(oversized.body)
    assert slow.status == 200 and slow.read_error is None
    assert_speech(slow.body, "linear16", "wav", 24000)


# --- AI Gateway emulator ---


def gateway_post(aig, route, body, headers):
    raw = json.dumps(body).encode("utf-8")
    return rawhttp.request(aig.url, "POST", route, raw, {"Content-Type": "application/json", **headers})


def test_gateway_forwards_workers_ai(aig, cloudflare, gateway_token):
    headers = {
        "Authorization": f"Bearer {cloudflare.api_key}",
        "cf-aig-authorization": f"Bearer {gateway_token}",
        "cf-aig-cache-ttl": "3600",
        "cf-aig-skip-cache": "true",
        "cf-aig-metadata": '{"team":"voice","build":7}',
    }

    response = gateway_post(aig, aig.route("workers-ai") + "/" + AURA_1, {"text": SENTENCE, "encoding": "linear16"}, headers)

    assert response.status == 200, response.describe()
    assert response.headers.get("cf-aig-cache-status") == "MISS", response.headers
    assert_speech(response.body, "linear16", "wav", 24000)
    [seen] = aig.requests()
    assert seen["path"] == f"/v1/{ACCOUNT}/{GATEWAY}/workers-ai/@cf/deepgram/aura-1"
    assert seen["headers"]["cf-aig-metadata"] == '{"team":"voice","build":7}'
    assert seen["headers"]["cf-aig-cache-ttl"] == "3600" and seen["headers"]["cf-aig-skip-cache"] == "true"
    [forwarded] = cloudflare.requests()
    assert forwarded["path"] == f"/client/v4/accounts/{ACCOUNT}/ai/run/@cf/deepgram/aura-1"
    assert forwarded["headers"]["authorization"] == f"Bearer {cloudflare.api_key}"
    assert not [name for name in forwarded["headers"] if name.startswith("cf-aig-")], forwarded["headers"]


def test_gateway_forwards_openai(aig, upstream, gateway_token):
    headers = {"Authorization": f"Bearer {upstream.api_key}", "cf-aig-authorization": f"Bearer {gateway_token}"}

    response = gateway_post(aig, aig.route("openai") + "/audio/speech", {"model": "tts-1", "input": SENTENCE, "voice": "alloy", "response_format": "wav"}, headers)

    assert response.status == 200, response.describe()
    assert response.headers.get("content-type") == "audio/wav"
    assert [entry["path"] for entry in upstream.requests()] == ["/v1/audio/speech"]


def test_gateway_passes_provider_errors_through(aig, cloudflare, gateway_token):
    cloudflare.add_faults({"kind": "status", "status": 429, "code": "3036", "retry_after": 4})
    headers = {"Authorization": f"Bearer {cloudflare.api_key}", "cf-aig-authorization": f"Bearer {gateway_token}"}

    response = gateway_post(aig, aig.route("workers-ai") + "/" + MELOTTS, {"prompt": "Hi"}, headers)

    assert_envelope(response, 429, 3036)
    assert response.headers.get("retry-after") == "4"


@pytest.mark.parametrize("token", [None, "Bearer wrong", "{token}"])
def test_gateway_needs_its_token(aig, cloudflare, gateway_token, token):
    headers = {"Authorization": f"Bearer {cloudflare.api_key}"}
    if token:
        headers["cf-aig-authorization"] = token.format(token=gateway_token)

    response = gateway_post(aig, aig.route("workers-ai") + "/" + MELOTTS, {"prompt": "Hi"}, headers)

    assert response.status == 401, response.describe()
    assert response.json()["error"] == [{"code": 2009, "message": "Unauthorized"}]
    assert cloudflare.requests() == [], "an unauthenticated request was forwarded"


@pytest.mark.parametrize(
    ("header", "value"),
    [("cf-aig-cache-ttl", "59"), ("cf-aig-cache-ttl", "1h"), ("cf-aig-skip-cache", "yes"), ("cf-aig-metadata", "[1]"), ("cf-aig-metadata", '{"a":{"b":1}}'), ("cf-aig-metadata", json.dumps({str(i): i for i in range(6)}))],
)
def test_gateway_checks_aig_headers(aig, gateway_token, header, value):
    headers = {"cf-aig-authorization": f"Bearer {gateway_token}", header: value}

    response = gateway_post(aig, aig.route("workers-ai") + "/" + MELOTTS, {"prompt": "Hi"}, headers)

    assert response.status == 400 and "error" in response.json(), response.describe()


@pytest.mark.parametrize(("route", "status"), [(f"/v1/{ACCOUNT}/{GATEWAY}/fal/fal-ai/kokoro", 400), (f"/v1/other/{GATEWAY}/openai/audio/speech", 404), ("/client/v4/x", 404)])
def test_gateway_routes(aig, gateway_token, route, status):
    response = gateway_post(aig, route, {}, {"cf-aig-authorization": f"Bearer {gateway_token}"})

    assert response.status == status, response.describe()


def test_gateway_status_fault_answers_as_gateway(aig, cloudflare, gateway_token):
    aig.add_faults({"kind": "status", "status": 429, "retry_after": 1})
    headers = {"Authorization": f"Bearer {cloudflare.api_key}", "cf-aig-authorization": f"Bearer {gateway_token}"}

    response = gateway_post(aig, aig.route("workers-ai") + "/" + MELOTTS, {"prompt": "Hi"}, headers)

    assert response.status == 429 and response.json()["name"] == "AiGatewayError", response.describe()
    assert cloudflare.requests() == []
