"""The provider key never leaves the gateway except toward the provider's declared host.

For each log format, a gateway with debug logging runs successful and failing requests:
upstream errors including a 401, a reset stream, a timeout, invalid input, and a plugin that
tries to send the key to an undeclared host. The key, an `sk-voxgate-canary-...` value,
must then appear nowhere in the gateway's stdout or stderr, in any response header or body,
or in `GET /v1/providers`.
"""

import base64
import json
from dataclasses import dataclass, field

import pytest
from openai import OpenAI

from support import rawhttp
from support.emulator import SENTENCE, SPEECH_PATH, speech_body
from support.gateway import GatewaySettings

# Each upstream fault is queued this many times, so that a gateway that retries meets the
# same failure on every attempt.
FAULT_ATTEMPTS = 3

UPSTREAM_FAULTS = [
    {"kind": "status", "status": 401, "code": "invalid_api_key"},
    {"kind": "status", "status": 429, "retry_after": 1, "code": "rate_limit_exceeded"},
    {"kind": "status", "status": 429, "code": "insufficient_quota"},
    {"kind": "status", "status": 500},
    {"kind": "malformed_json", "status": 500},
    {"kind": "wrong_content_type"},
    {"kind": "hang"},
]


@dataclass
class SecretRun:
    """Everything a gateway returned or printed during one run of the exercise."""

    api_key: str
    # (label, status, header list, body) for every response.
    responses: list = field(default_factory=list)
    providers_body: bytes = b""
    stdout: str = ""
    stderr: str = ""
    upstream_requests: list = field(default_factory=list)

    def record(self, label, response):
        """Keep a rawhttp.Response."""
        self.responses.append((label, response.status, response.header_list, response.body))

    def record_sdk(self, label, http_response, body):
        """Keep the HTTP response under an SDK result, with the body the SDK read."""
        self.responses.append((label, http_response.status_code, list(http_response.headers.items()), body))


def leak_forms(key):
    """Return the key's random part and encodings of the key that a careless log could contain."""
    random_part = key.rsplit("-", 1)[-1]
    return {
        "the key": key,
        "the key's random part": random_part,
        "the key in base64": base64.b64encode(key.encode()).decode().rstrip("="),
        "the Authorization value in base64": base64.b64encode(f"Bearer {key}".encode()).decode()[4:-4],
    }


def exercise(gateway, upstream, run):
    """Send successful and failing requests through `gateway`, recording every response."""
    client = OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=60)

    speech = client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format="mp3")
    run.record_sdk("sdk mp3", speech.response, speech.content)
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="echo", input=SENTENCE, response_format="wav") as streamed:
        run.record_sdk("sdk streamed wav", streamed.http_response, b"".join(streamed.iter_bytes()))
    run.record("sse", gateway.speech(speech_body(model="gpt-4o-mini-tts", stream_format="sse")))

    run.record("unknown voice", gateway.speech(speech_body(voice="robot")))
    run.record("invalid json", gateway.speech_raw(b'{"model": "tts-1",'))
    run.record("unknown field", gateway.speech(speech_body(api_key="please")))

    for fault in UPSTREAM_FAULTS:
        upstream.add_faults(*[fault] * FAULT_ATTEMPTS)
        run.record(f"upstream {fault}", gateway.speech(speech_body(input=f"Fault {fault['kind']}.")))
        upstream.clear_faults()

    upstream.add_faults(*[{"kind": "reset_mid_body"}] * FAULT_ATTEMPTS)
    reset = rawhttp.raw_chunked_request(gateway.url, rawhttp.closing_post(SPEECH_PATH, speech_body(response_format="wav")))
    run.responses.append(("reset mid body", None, [("raw head", reset.head.decode("latin-1"))], reset.body))
    upstream.clear_faults()

    undeclared = {"model": "test-undeclared-host:test", "voice": "test", "input": "Leak it.", "response_format": "wav"}
    run.record("undeclared host", gateway.speech(undeclared))

    run.record("healthz", rawhttp.request(gateway.url, "GET", "/healthz"))
    providers = rawhttp.request(gateway.url, "GET", "/v1/providers")
    run.record("providers", providers)
    run.providers_body = providers.body
    run.upstream_requests = upstream.requests()


@pytest.fixture(scope="module", params=["text", "json"])
def secret_run(request, start_gateway, openai_plugin, test_plugins, emulator, api_key):
    """Run the exercise against a fresh gateway with this log format, then stop it."""
    providers = {"test-undeclared-host": {"secrets": {"api-key": {"env": "OPENAI_API_KEY"}}}}
    settings = GatewaySettings(log_format=request.param, first_byte_timeout_ms=2000, providers=providers)
    gateway = start_gateway([openai_plugin, test_plugins["test-undeclared-host"]], settings)
    run = SecretRun(api_key)

    emulator.reset()
    try:
        exercise(gateway, emulator, run)
    finally:
        emulator.clear_faults()
        gateway.stop()
    run.stdout = gateway.stdout()
    run.stderr = gateway.stderr()
    return run


def test_key_used_upstream(secret_run):
    authorizations = {entry["headers"].get("authorization") for entry in secret_run.upstream_requests}

    assert f"Bearer {secret_run.api_key}" in authorizations, (
        f"the provider never received the key, so the leak checks prove nothing: {authorizations}"
    )


def test_debug_log_written(secret_run):
    request_ids = [dict((name.lower(), value) for name, value in headers).get("x-request-id") for _, _, headers, _ in secret_run.responses]
    logged = [request_id for request_id in request_ids if request_id and request_id in secret_run.stderr]

    assert logged, f"stderr mentions none of the request ids {request_ids}, so the log checks prove nothing"


def test_key_absent_from_stderr(secret_run):
    for description, form in leak_forms(secret_run.api_key).items():
        position = secret_run.stderr.find(form)
        assert position < 0, f"stderr contains {description}: ...{secret_run.stderr[max(0, position - 300):position + 100]}..."


def test_key_absent_from_stdout(secret_run):
    for description, form in leak_forms(secret_run.api_key).items():
        assert form not in secret_run.stdout, f"stdout contains {description}: {secret_run.stdout[-2000:]}"


def test_key_absent_from_responses(secret_run):
    for label, status, headers, body in secret_run.responses:
        text = body.decode("latin-1") + json.dumps(headers)
        for description, form in leak_forms(secret_run.api_key).items():
            assert form not in text, f"the {label} response (HTTP {status}) contains {description}: {text[:600]}"


def test_key_absent_from_providers(secret_run):
    text = secret_run.providers_body.decode("utf-8", "replace")

    for description, form in leak_forms(secret_run.api_key).items():
        assert form not in text, f"GET /v1/providers contains {description}: {text[:2000]}"


def test_stdout_only_listening_line(secret_run):
    lines = secret_run.stdout.splitlines()

    assert len(lines) == 1, f"stdout should hold only the listening line, got {lines[:10]}"
    assert lines[0].startswith("listening on http://127.0.0.1:"), f"unexpected stdout line {lines[0]!r}"
