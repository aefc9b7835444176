"""The gateway with the Workers AI plugin, in front of the Workers AI emulator, directly and
through the AI Gateway emulator (which also carries the OpenAI plugin's traffic).

Clients are the official `openai` SDK and plain http.client. Each test checks what a user sees
(audio that decodes as the plugin declares it, errors with OpenAI's shape and the documented
status and code) and what the provider received (the exact path, token and body).
"""

import json
import secrets

import openai
import pytest
from openai import OpenAI

from support import rawhttp
from support.cases import load_cases
from support.gateway import Gateway, GatewaySettings
from support.workers_ai import AURA_1, AURA_2_EN, MELOTTS, SENTENCE, AiGatewayEmulator, WorkersAiEmulator, probe

ACCOUNT = "0123456789abcdef0123456789abcdef"
GATEWAY_ID = "voice-gw"
AIG_METADATA = {"team": "voice", "build": 7, "canary": True}

# The output settings the plugin sends to Aura for each OpenAI `response_format` (the OpenAI API
# requests 24 kHz for pcm and wav), and the codec and rate that must arrive. The mapping is the
# plugin's aura_format.rs.
AURA_FORMATS = {
    "mp3": ({"encoding": "mp3"}, "mp3", None, 22050),
    "opus": ({"encoding": "opus", "container": "ogg"}, "opus", "ogg", 48000),
    "aac": ({"encoding": "aac"}, "aac", None, 22050),
    "flac": ({"encoding": "flac", "sample_rate": 48000}, "flac", None, 48000),
    "wav": ({"encoding": "linear16", "container": "wav", "sample_rate": 24000}, "linear16", "wav", 24000),
    "pcm": ({"encoding": "linear16", "container": "none", "sample_rate": 24000}, "linear16", "none", 24000),
}


@pytest.fixture(scope="module")
def api_token():
    """A Cloudflare API token, random per module so that a leak is unmistakable."""
    return "cf-token-canary-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def aig_token():
    return "aig-token-canary-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def workers_ai(tmp_path_factory, api_token, audio_tools):
    running = WorkersAiEmulator(tmp_path_factory.mktemp("workers-ai-emulator"), api_token, ACCOUNT)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ai_gateway(tmp_path_factory, aig_token, workers_ai, emulator):
    running = AiGatewayEmulator(
        tmp_path_factory.mktemp("ai-gateway"), aig_token, ACCOUNT, GATEWAY_ID, openai_upstream=emulator.url, workers_ai_upstream=workers_ai.api_root
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def start(tmp_path_factory, voxgate_bin, api_key, api_token, aig_token):
    """Start gateways that are stopped when the module ends."""
    started = []

    def start_gateway(plugins, providers, openai_base_url=None):
        # One attempt, so upstream request counts are exact, and a breaker that never opens,
        # because the error tests fail this provider many times in a row on purpose.
        resilience = {"max_attempts": 1, "breaker_failures": 1_000_000}
        # Rendering AAC with ffmpeg on a busy 2-core machine can take seconds; 8 s is below
        # the 10 s hang fault, so the timeout test still sees the gateway give up first.
        settings = GatewaySettings(providers=providers, first_byte_timeout_ms=8000, resilience=resilience)
        env = {"CLOUDFLARE_API_TOKEN": api_token, "CF_AIG_TOKEN": aig_token}
        gateway = Gateway(voxgate_bin, tmp_path_factory.mktemp("voxgate"), plugins, openai_base_url, api_key, settings, env)
        started.append(gateway)
        return gateway

    yield start_gateway
    for gateway in started:
        gateway.stop()


@pytest.fixture(scope="module")
def gateway(start, workers_ai_plugin, workers_ai):
    """Workers AI directly, through the REST API."""
    return start([workers_ai_plugin], {"workers-ai": {"settings": {"base-url": workers_ai.api_root, "account-id": ACCOUNT}}})


def aig_settings(base_url, ttl):
    return {
        "base-url": base_url,
        "aig-authenticated": "true",
        "aig-cache-ttl": str(ttl),
        "aig-skip-cache": "true",
        "aig-metadata": json.dumps(AIG_METADATA),
    }


@pytest.fixture(scope="module")
def routed(start, workers_ai_plugin, openai_plugin, ai_gateway):
    """Workers AI and OpenAI through AI Gateway, with every cf-aig-* setting. No account-id: the
    gateway URL names the account."""
    providers = {
        "workers-ai": {"settings": aig_settings(ai_gateway.base_url("workers-ai"), 3600)},
        "openai": {"settings": aig_settings(ai_gateway.base_url("openai"), 600)},
    }
    return start([workers_ai_plugin, openai_plugin], providers, openai_base_url=ai_gateway.base_url("openai"))


@pytest.fixture(scope="module")
def misconfigured(start, workers_ai_plugin, openai_plugin, workers_ai, ai_gateway):
    """Workers AI over REST without an account id, and OpenAI through an authenticated AI
    Gateway without the gateway token."""
    providers = {
        "workers-ai": {"settings": {"base-url": workers_ai.api_root}},
        "openai": {"settings": {"base-url": ai_gateway.base_url("openai")}},
    }
    return start([workers_ai_plugin, openai_plugin], providers, openai_base_url=ai_gateway.base_url("openai"))


@pytest.fixture
def cloudflare(workers_ai, ai_gateway, emulator):
    """The emulators with empty logs and no pending faults."""
    for running in (workers_ai, ai_gateway, emulator):
        running.reset()
    yield workers_ai
    for running in (workers_ai, ai_gateway, emulator):
        running.clear_faults()


def sdk(gateway):
    return OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=60)


def assert_audio(data, encoding, container, sample_rate):
    info = probe(data, encoding, container, sample_rate)
    assert info.decode_errors == "", f"{encoding} audio from the gateway does not decode: {info.decode_errors}"
    assert info.channels == 1 and info.sample_rate == sample_rate, f"{encoding}: {info}"
    assert 1.5 < info.duration_s < 10, f"{info.duration_s:.2f} s for one sentence"


def one_request(emulator):
    entries = emulator.requests()
    assert len(entries) == 1, f"expected one upstream request, got {len(entries)}: {entries}"
    return entries[0]


def assert_run_request(workers_ai, model, body):
    entry = one_request(workers_ai)
    assert entry["method"] == "POST"
    assert entry["path"] == workers_ai.run_path(model), entry["path"]
    assert entry["headers"].get("authorization") == f"Bearer {workers_ai.api_key}", entry["headers"]
    assert json.loads(entry["body"]) == body, entry["body"]
    return entry


# --- Speech through the official SDK ---


@pytest.mark.parametrize("response_format", AURA_FORMATS)
@pytest.mark.parametrize(("model", "voice"), [(AURA_2_EN, "thalia"), (AURA_1, "angus")])
def test_aura_every_format(gateway, cloudflare, model, voice, response_format):
    output, encoding, container, sample_rate = AURA_FORMATS[response_format]

    speech = sdk(gateway).audio.speech.create(model=f"workers-ai:{model}", voice=voice, input=SENTENCE, response_format=response_format)

    assert_audio(speech.content, encoding, container, sample_rate)
    assert_run_request(cloudflare, model, {"text": SENTENCE, "speaker": voice, **output})


def test_aura_streams(gateway, cloudflare):
    with sdk(gateway).audio.speech.with_streaming_response.create(model=f"workers-ai:{AURA_2_EN}", voice="luna", input=SENTENCE) as response:
        headers = response.headers
        audio = b"".join(response.iter_bytes())

    assert headers.get("transfer-encoding") == "chunked", dict(headers)
    assert headers.get("x-voxgate-provider") == "workers-ai", dict(headers)
    assert_audio(audio, "mp3", None, 22050)


@pytest.mark.parametrize(("output_format", "encoding", "sample_rate"), [("ulaw_8000", "mulaw", 8000), ("alaw_16000", "alaw", 16000), ("pcm_16000", "linear16", 16000)])
def test_g711_through_elevenlabs_api(gateway, cloudflare, output_format, encoding, sample_rate):
    body = {"text": SENTENCE, "model_id": f"workers-ai:{AURA_2_EN}"}

    response = rawhttp.post_json(gateway.url, f"/v1/text-to-speech/luna?output_format={output_format}", body)

    assert response.status == 200, response.describe()
    assert_audio(response.body, encoding, "none", sample_rate)
    assert_run_request(cloudflare, AURA_2_EN, {"text": SENTENCE, "speaker": "luna", "encoding": encoding, "container": "none", "sample_rate": sample_rate})


def test_melotts_wav(gateway, cloudflare):
    speech = sdk(gateway).audio.speech.create(model=f"workers-ai:{MELOTTS}", voice="melotts", input=SENTENCE, response_format="wav")

    # The plugin reads the rate from the WAV header (the emulator renders 44.1 kHz).
    assert speech.content[:4] == b"RIFF"
    assert_audio(speech.content, "linear16", "wav", 44100)
    assert_run_request(cloudflare, MELOTTS, {"prompt": SENTENCE})


def test_melotts_mp3_is_refused_before_upstream(gateway, cloudflare):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(gateway).audio.speech.create(model=f"workers-ai:{MELOTTS}", voice="melotts", input=SENTENCE, response_format="mp3")

    assert "wav" in str(caught.value), caught.value
    assert cloudflare.requests() == []


def test_providers_lists_workers_ai(gateway):
    provider = gateway.provider("workers-ai")

    assert provider["configured"] is True, provider
    assert [model["id"] for model in provider["models"]] == [AURA_2_EN, AURA_1, MELOTTS]
    assert len(provider["voices"]) == 45


# --- Errors ---


@pytest.mark.parametrize("case", load_cases("workers-ai-errors"))
def test_documented_errors(gateway, cloudflare, case):
    cloudflare.add_faults(*[case["fault"]] * 3)
    model = case.get("model", AURA_2_EN)
    voice, response_format = ("melotts", "wav") if model == MELOTTS else ("luna", "mp3")

    with pytest.raises(openai.APIStatusError) as caught:
        sdk(gateway).audio.speech.create(model=f"workers-ai:{model}", voice=voice, input="Hello.", response_format=response_format)

    error = caught.value
    assert (error.status_code, error.code) == (case["gateway"]["status"], case["gateway"]["code"]), error.body
    assert set(error.body) >= {"message", "type", "param", "code"}, error.body
    retry_after = case["fault"].get("retry_after")
    if retry_after is not None:
        assert error.response.headers.get("retry-after") == str(retry_after), error.response.headers


@pytest.mark.parametrize(
    ("fault", "model", "status", "code"),
    [
        ({"kind": "wrong_content_type"}, AURA_2_EN, 502, "invalid_upstream_response"),
        ({"kind": "malformed_json", "status": 500}, AURA_2_EN, 503, "provider_unavailable"),
        ({"kind": "malformed_json", "status": 200}, MELOTTS, 502, "invalid_upstream_response"),
        ({"kind": "hang", "max_seconds": 10}, AURA_2_EN, 504, "upstream_timeout"),
    ],
)
def test_upstream_faults(gateway, cloudflare, fault, model, status, code):
    cloudflare.add_faults(*[fault] * 3)
    voice, response_format = ("melotts", "wav") if model == MELOTTS else ("luna", "mp3")

    response = gateway.speech({"model": f"workers-ai:{model}", "voice": voice, "input": "Hello.", "response_format": response_format})

    assert (response.status, response.error()["code"]) == (status, code), response.describe()


def test_missing_account_id_names_the_setting(misconfigured, cloudflare):
    response = misconfigured.speech({"model": f"workers-ai:{AURA_2_EN}", "voice": "luna", "input": "Hello."})

    assert (response.status, response.error()["code"]) == (503, "provider_not_configured"), response.describe()
    assert "account-id" in response.error()["message"], response.error()
    assert cloudflare.requests() == []


# --- Through AI Gateway ---


def assert_aig_headers(entry, aig_token, ttl):
    headers = entry["headers"]
    assert headers.get("cf-aig-authorization") == f"Bearer {aig_token}", headers
    assert headers.get("cf-aig-cache-ttl") == str(ttl), headers
    assert headers.get("cf-aig-skip-cache") == "true", headers
    assert json.loads(headers.get("cf-aig-metadata", "null")) == AIG_METADATA, headers


@pytest.mark.parametrize(("model", "voice", "response_format"), [(AURA_2_EN, "luna", "pcm"), (MELOTTS, "melotts", "wav")])
def test_workers_ai_through_ai_gateway(routed, ai_gateway, cloudflare, aig_token, model, voice, response_format):
    speech = sdk(routed).audio.speech.create(model=f"workers-ai:{model}", voice=voice, input=SENTENCE, response_format=response_format)

    assert_audio(speech.content, "linear16", "none" if response_format == "pcm" else "wav", 24000 if response_format == "pcm" else 44100)
    entry = one_request(ai_gateway)
    assert entry["path"] == f"{ai_gateway.route('workers-ai')}/{model}", entry["path"]
    assert entry["headers"].get("authorization") == f"Bearer {cloudflare.api_key}", entry["headers"]
    assert_aig_headers(entry, aig_token, 3600)
    forwarded = one_request(cloudflare)
    assert forwarded["path"] == cloudflare.run_path(model), forwarded["path"]


def test_openai_through_ai_gateway(routed, ai_gateway, cloudflare, emulator, aig_token):
    speech = sdk(routed).audio.speech.create(model="openai:tts-1", voice="alloy", input=SENTENCE, response_format="wav")

    assert speech.content[:4] == b"RIFF"
    entry = one_request(ai_gateway)
    assert entry["path"] == f"{ai_gateway.route('openai')}/audio/speech", entry["path"]
    assert entry["headers"].get("authorization") == f"Bearer {emulator.api_key}", entry["headers"]
    assert_aig_headers(entry, aig_token, 600)
    assert [item["path"] for item in emulator.requests()] == ["/v1/audio/speech"]


def test_gateway_error_reaches_client(routed, ai_gateway, cloudflare):
    ai_gateway.add_faults(*[{"kind": "status", "status": 401}] * 3)

    response = routed.speech({"model": f"workers-ai:{AURA_2_EN}", "voice": "luna", "input": "Hello."})

    assert (response.status, response.error()["code"]) == (502, "provider_unauthorized"), response.describe()
    assert cloudflare.requests() == []


def test_missing_gateway_token_is_unauthorized(misconfigured, ai_gateway, cloudflare, emulator):
    response = misconfigured.speech({"model": "openai:tts-1", "voice": "alloy", "input": "Hello."})

    assert (response.status, response.error()["code"]) == (502, "provider_unauthorized"), response.describe()
    assert "cf-aig-authorization" not in one_request(ai_gateway)["headers"]
    assert emulator.requests() == []


def test_tokens_never_leak(routed, ai_gateway, cloudflare, api_token, aig_token):
    # An upstream that echoes both tokens in its error must not pass them to the client.
    echo = json.dumps({"success": False, "errors": [{"code": 10000, "message": f"bad token {api_token} via {aig_token}"}]})
    cloudflare.add_faults({"kind": "status", "status": 401, "body": echo})

    failed = routed.speech({"model": f"workers-ai:{AURA_2_EN}", "voice": "luna", "input": "Hello."})
    cloudflare.clear_faults()
    spoken = routed.speech({"model": f"workers-ai:{AURA_2_EN}", "voice": "luna", "input": "Hello.", "response_format": "wav"})

    assert failed.status == 502 and spoken.status == 200, (failed.describe(), spoken.status)
    for token in (api_token, aig_token):
        for response in (failed, spoken):
            assert token.encode() not in response.body, f"a token reached the client: {response.describe()}"
            assert token not in json.dumps(response.headers), response.headers
        assert token not in routed.stdout() + routed.stderr(), "a token reached the gateway's log"
