"""The gateway binary with the ElevenLabs plugin, in front of the ElevenLabs emulator, driven
through the gateway's OpenAI-compatible API by the official `openai` SDK.

The tests check what a user of the gateway can observe. The audio decodes in the requested format,
and the provider receives exactly the request that ElevenLabs documents. ElevenLabs' errors
reach the client with the right status in OpenAI's error shape, and the billed characters
come back in a header. No voice id that a caller sends can change the upstream request.
"""

import json
import secrets

import openai
import pytest
from openai import OpenAI

from support import rawhttp
from support.cases import load_cases
from support.elevenlabs import CLONED_VOICE, EXPECTED_CODECS, RACHEL, SENTENCE, ElevenLabsEmulator, probe_output
from support.gateway import Gateway, GatewaySettings

# Each model the plugin declares, with the share of characters ElevenLabs bills for it (its
# Flash and Turbo models cost half a credit per character).
MODELS = {
    "eleven_v3": 1.0,
    "eleven_multilingual_v2": 1.0,
    "eleven_flash_v2_5": 0.5,
    "eleven_turbo_v2_5": 0.5,
    "eleven_flash_v2": 0.5,
    "eleven_turbo_v2": 0.5,
    "eleven_multilingual_v1": 1.0,
    "eleven_monolingual_v1": 1.0,
}

# The OpenAI response_format, the output_format the plugin must ask for, and the endpoint
# after the voice id. OpenAI's pcm and wav are 24 kHz, and ElevenLabs offers wav only on the
# endpoint that returns the whole clip.
FORMATS = {
    "mp3": ("mp3_44100_128", "/stream"),
    "opus": ("opus_48000_64", "/stream"),
    "pcm": ("pcm_24000", "/stream"),
    "wav": ("wav_24000", ""),
}

# Every model with mp3, and every format with two models, keep the product small.
MODEL_FORMAT_PAIRS = [(model, "mp3") for model in MODELS] + [
    (model, format) for format in ("opus", "pcm", "wav") for model in ("eleven_multilingual_v2", "eleven_flash_v2_5")
]

# Each upstream error is queued this many times, so that a gateway that retries meets the
# same error on every attempt. Leftover faults are dropped afterwards.
FAULT_ATTEMPTS = 3

HOSTILE_VOICES = {
    "path-traversal": "../v1/user",
    "encoded-traversal": "..%2Fv1%2Fuser",
    "dot-dot": "..",
    "crlf-header": "x\r\nxi-api-key: stolen",
    "query": "a?output_format=pcm_8000",
    "fragment": "a#b",
    "slash": f"{RACHEL}/stream",
    "huge": "A" * 100 * 1024,
}


@pytest.fixture(scope="module")
def elevenlabs_key():
    """An ElevenLabs key, random per module so that a leak is unmistakable."""
    return "xi-voxgate-canary-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def elevenlabs(tmp_path_factory, elevenlabs_key, audio_tools):
    running = ElevenLabsEmulator(tmp_path_factory.mktemp("elevenlabs-emulator"), elevenlabs_key)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, voxgate_bin, elevenlabs_plugin, elevenlabs, elevenlabs_key):
    provider = {
        "settings": {"base-url": elevenlabs.url, "voices": f"{CLONED_VOICE}=Test Clone"},
        "secrets": {"api-key": {"env": "ELEVENLABS_API_KEY"}},
    }
    running = Gateway(
        voxgate_bin,
        tmp_path_factory.mktemp("voxgate"),
        [elevenlabs_plugin],
        openai_base_url=None,
        api_key="sk-unused",
        settings=GatewaySettings(providers={"elevenlabs": provider}),
        extra_env={"ELEVENLABS_API_KEY": elevenlabs_key},
    )
    yield running
    running.stop()


@pytest.fixture
def upstream(elevenlabs):
    elevenlabs.reset()
    yield elevenlabs
    elevenlabs.clear_faults()


@pytest.fixture
def client(gateway):
    return OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=60)


def speak(client, model="eleven_multilingual_v2", voice=RACHEL, text=SENTENCE, **fields):
    return client.audio.speech.create(model=f"elevenlabs:{model}", voice=voice, input=text, **fields)


def assert_audio(audio, output_format):
    """Assert that `audio` decodes as ElevenLabs' `output_format`, mono, at its stated rate."""
    info = probe_output(audio, output_format)
    codec, rate = output_format.split("_")[:2]
    # OpenAI-compatible callers get Ogg Opus, probed at its 48 kHz decode rate.
    assert info.decode_errors == "", f"{output_format} from the gateway does not decode cleanly: {info.decode_errors}"
    assert info.codec == EXPECTED_CODECS[codec], f"{output_format} probed as codec {info.codec!r}"
    assert info.sample_rate == int(rate), f"{output_format} probed at {info.sample_rate} Hz"
    assert info.channels == 1, f"{output_format} has {info.channels} channels"
    assert 1.5 <= info.duration_s <= 7, f"{output_format} lasts {info.duration_s:.2f} s for the ten-word sentence"
    return info


def only_request(upstream):
    entries = upstream.requests()
    assert len(entries) == 1, f"expected one upstream request, got {len(entries)}: {[entry['path'] for entry in entries]}"
    return entries[0]


def assert_upstream_request(upstream, key, path, body):
    """Assert the emulator received exactly one request: this path and query, the key, this JSON body."""
    entry = only_request(upstream)
    assert entry["method"] == "POST", f"upstream request used {entry['method']}"
    assert entry["path"] == path, f"upstream request went to {entry['path']!r}, expected {path!r}"
    assert entry["headers"].get("xi-api-key") == key, "upstream request did not carry the configured key as xi-api-key"
    assert entry["headers"].get("content-type") == "application/json", f"content type {entry['headers'].get('content-type')!r}"
    assert "authorization" not in entry["headers"], "the key also went out as an Authorization header"
    assert json.loads(entry["body"]) == body, f"upstream body {entry['body']}"


# --- Speech through the official OpenAI SDK ---


@pytest.mark.parametrize("model,format", MODEL_FORMAT_PAIRS)
def test_sdk_speech(client, upstream, elevenlabs_key, model, format):
    output_format, endpoint = FORMATS[format]

    speech = speak(client, model=model, response_format=format)

    assert_audio(speech.content, output_format)
    assert_upstream_request(
        upstream,
        elevenlabs_key,
        f"/v1/text-to-speech/{RACHEL}{endpoint}?output_format={output_format}",
        {"text": SENTENCE, "model_id": model},
    )
    headers = speech.response.headers
    billed = -(-len(SENTENCE) * MODELS[model] // 1)
    assert headers.get("x-voxgate-billed-characters") == str(int(billed)), f"billed characters header: {dict(headers)}"
    assert headers.get("x-voxgate-provider") == "elevenlabs"
    assert headers.get("x-voxgate-model") == model


def test_sdk_streaming_speech(client, upstream, elevenlabs_key):
    with client.audio.speech.with_streaming_response.create(model="elevenlabs:eleven_turbo_v2_5", voice=RACHEL, input=SENTENCE, response_format="mp3") as response:
        headers = response.headers
        chunks = list(response.iter_bytes())

    assert headers.get("content-type") == "audio/mpeg"
    assert headers.get("transfer-encoding") == "chunked"
    assert_audio(b"".join(chunks), "mp3_44100_128")
    assert only_request(upstream)["path"].endswith("/stream?output_format=mp3_44100_128")


def test_default_format_is_mp3(client, upstream):
    speech = speak(client, model="eleven_flash_v2")

    assert speech.response.headers.get("content-type") == "audio/mpeg"
    assert_audio(speech.content, "mp3_44100_128")


def test_account_voice_from_setting(client, upstream, elevenlabs_key):
    speech = speak(client, voice=CLONED_VOICE, response_format="pcm")

    assert_audio(speech.content, "pcm_24000")
    assert_upstream_request(
        upstream, elevenlabs_key, f"/v1/text-to-speech/{CLONED_VOICE}/stream?output_format=pcm_24000", {"text": SENTENCE, "model_id": "eleven_multilingual_v2"}
    )


def test_speed_becomes_voice_settings(client, upstream, elevenlabs_key):
    speech = speak(client, model="eleven_v3", response_format="pcm", speed=1.2)

    assert_audio(speech.content, "pcm_24000")
    body = json.loads(only_request(upstream)["body"])
    assert body == {"text": SENTENCE, "model_id": "eleven_v3", "voice_settings": {"speed": 1.2}}


@pytest.mark.parametrize("model,speed", [("eleven_multilingual_v2", 2.0), ("eleven_turbo_v2_5", 0.5), ("eleven_monolingual_v1", 1.0)])
def test_speed_elevenlabs_cannot_serve(client, upstream, model, speed):
    with pytest.raises(openai.BadRequestError) as raised:
        speak(client, model=model, speed=speed)

    assert raised.value.body["code"] == "unsupported_by_provider", raised.value.body
    assert upstream.requests() == [], "a request ElevenLabs cannot serve reached it"


def test_unicode_text_forwarded(client, upstream):
    text = "Grüße aus Köln, naïve café"

    speak(client, model="eleven_multilingual_v2", text=text, response_format="pcm")

    assert json.loads(only_request(upstream)["body"])["text"] == text


def test_text_limit_counts_characters(client, upstream):
    # 5,000 two-byte letters fit eleven_v3's 5,000-character limit. The queued fault is
    # returned in place of rendering them.
    upstream.add_faults(*[{"kind": "status", "status": 500}] * FAULT_ATTEMPTS)

    with pytest.raises(openai.APIStatusError):
        speak(client, model="eleven_v3", text="é" * 5000)

    upstream.clear_faults()
    assert json.loads(upstream.speech_requests()[0]["body"])["text"] == "é" * 5000


def test_long_text_is_stitched(client, upstream, elevenlabs_key):
    # Longer than eleven_v3's 5,000 characters: the gateway splits it at sentences and sends
    # each part with its neighbours as previous_text and next_text (request stitching).
    text = "The fox runs far. " * 300

    speech = speak(client, model="eleven_v3", text=text.strip(), response_format="pcm")

    bodies = [json.loads(entry["body"]) for entry in upstream.speech_requests()]
    assert len(bodies) >= 2, f"{len(bodies)} upstream request for {len(text)} characters"
    assert all(len(body["text"]) <= 5000 for body in bodies), [len(body["text"]) for body in bodies]
    # Parts run a few at a time, so they reach the emulator in any order; follow the
    # previous_text and next_text links from the one part that has no predecessor.
    firsts = [index for index, body in enumerate(bodies) if "previous_text" not in body]
    assert len(firsts) == 1, f"exactly one part starts the text: {firsts}"
    order = [firsts[0]]
    while "next_text" in bodies[order[-1]]:
        previous = bodies[order[-1]]
        following = [
            index
            for index, body in enumerate(bodies)
            if index not in order and body["text"] == previous["next_text"] and body.get("previous_text") == previous["text"]
        ]
        assert following, f"no part continues after part {order[-1]}"
        order.append(following[0])
    assert len(order) == len(bodies), "every part is linked into one chain"
    assert " ".join(bodies[index]["text"] for index in order) == text.strip()
    info = probe_output(speech.content, "pcm_24000")
    assert info.decode_errors == "", info.decode_errors
    assert info.duration_s > 60, f"joined audio lasts {info.duration_s:.1f} s"


@pytest.mark.parametrize("format", ["aac", "flac"])
def test_formats_elevenlabs_lacks_rejected(client, upstream, format):
    with pytest.raises(openai.BadRequestError) as raised:
        speak(client, response_format=format)

    assert raised.value.body["code"] == "unsupported_format", raised.value.body
    assert upstream.requests() == []


@pytest.mark.parametrize("format", ["ulaw", "alaw"])
def test_g711_not_in_openai_api(gateway, upstream, format):
    # ElevenLabs offers ulaw_8000 and alaw_8000 and the plugin declares them, but OpenAI's
    # response_format has no G.711, so this API cannot ask for them.
    response = gateway.speech({"model": "elevenlabs:eleven_flash_v2_5", "voice": RACHEL, "input": SENTENCE, "response_format": format})

    assert response.status == 400, response.describe()
    assert response.error()["param"] == "response_format"
    assert upstream.requests() == []


# --- Voices ---


def test_unknown_voice_rejected(client, upstream):
    with pytest.raises(openai.BadRequestError) as raised:
        speak(client, voice="AAAAAAAAAAAAAAAAAAAA")

    assert raised.value.body["code"] == "voice_not_found", raised.value.body
    assert upstream.requests() == []


@pytest.mark.parametrize("voice", list(HOSTILE_VOICES.values()), ids=list(HOSTILE_VOICES))
def test_hostile_voice_rejected(gateway, upstream, voice):
    response = gateway.speech({"model": "elevenlabs:eleven_multilingual_v2", "voice": voice, "input": "Hi.", "response_format": "mp3"})

    assert response.status == 400, response.describe()
    assert response.error() is not None, f"not an OpenAI error: {response.describe()}"
    assert len(response.body) < 16 * 1024, f"the error repeats the {len(voice)}-character voice id"
    assert upstream.requests() == [], f"a hostile voice id reached the provider: {upstream.requests()[0]['path'][:200]!r}"


def test_providers_lists_elevenlabs(gateway):
    provider = gateway.provider("elevenlabs")

    models = {model["id"]: model for model in provider["models"]}
    voices = {voice["id"]: voice["name"] for voice in provider["voices"]}
    assert set(models) == set(MODELS)
    assert models["eleven_flash_v2_5"]["max_characters"] == 40000
    assert voices[RACHEL] == "Rachel"
    assert voices[CLONED_VOICE] == "Test Clone"


# --- ElevenLabs errors ---


@pytest.mark.parametrize("case", load_cases("gateway-elevenlabs/upstream-errors"))
def test_upstream_error_mapped(client, upstream, case):
    expected = case["expect"]
    upstream.add_faults(*[case["fault"]] * FAULT_ATTEMPTS)

    with pytest.raises(openai.APIStatusError) as raised:
        speak(client, response_format="pcm")

    upstream.clear_faults()
    error = raised.value
    assert error.status_code == expected["status"], f"HTTP {error.status_code}: {error.body}"
    assert isinstance(error.body, dict), f"not a JSON error: {error.body!r}"
    assert {"message", "type", "param", "code"} <= set(error.body), f"not OpenAI's error shape: {error.body}"
    assert error.body["code"] == expected["code"], error.body
    assert expected.get("message_contains", "") in error.body["message"], error.body
    assert error.response.headers.get("x-request-id"), "error without x-request-id"
    if "retry_after" in expected:
        assert error.response.headers.get("retry-after") == str(expected["retry_after"]), dict(error.response.headers)
    assert upstream.speech_requests(), "the gateway never called ElevenLabs"
    assert speak(client, model="eleven_flash_v2_5", text="Still working.", response_format="pcm").content, "no audio after the error"


def test_key_never_leaves_for_the_client(gateway, client, upstream, elevenlabs_key):
    upstream.add_faults(*[{"kind": "status", "status": 401, "code": "invalid_api_key"}] * FAULT_ATTEMPTS)
    with pytest.raises(openai.APIStatusError) as raised:
        speak(client)
    upstream.clear_faults()
    providers = rawhttp.request(gateway.url, "GET", "/v1/providers")

    random_part = elevenlabs_key.rsplit("-", 1)[-1]
    for label, text in [("error", json.dumps(raised.value.body)), ("providers", providers.body.decode()), ("stdout", gateway.stdout()), ("stderr", gateway.stderr())]:
        assert random_part not in text, f"the ElevenLabs key appears in the gateway's {label}"
