"""The gateway binary with the fal plugin, in front of the fal emulator, driven through the
gateway's OpenAI-compatible API by the official `openai` SDK.

Two gateways run, one per fal API (`mode = queue` and `mode = sync`), both pointed at the
emulator's API listener and allowed to fetch files from its media listener only. The tests
check what a user or an operator would. The audio decodes as the format the model declares.
The emulator saw exactly fal's request sequence: submit, polls on the status URL the submit
returned, result, file. The key went to the API hosts only. fal's errors reach the client with
the right status and OpenAI's error shape. Nothing a caller sends changes where the plugin's
requests go or which headers they carry.
"""

import json
import secrets

import openai
import pytest
from openai import OpenAI

from support import rawhttp
from support.audio import expected_speech_seconds, probe
from support.cases import load_cases
from support.fal_emulator import FalEmulator
from support.gateway import Gateway, GatewaySettings

SENTENCE = "The quick brown fox jumps over the lazy sleeping dog."
MODES = ("queue", "sync")

# Every model the plugin declares that the OpenAI route can drive, with a voice and the one
# format the model produces. F5-TTS needs provider options, which the OpenAI route cannot
# carry; it has its own test below.
MODELS = {
    "fal-ai/kokoro/american-english": ("af_heart", "wav"),
    "fal-ai/kokoro/british-english": ("bm_george", "wav"),
    "fal-ai/kokoro/spanish": ("em_alex", "wav"),
    "fal-ai/kokoro/french": ("ff_siwis", "wav"),
    "fal-ai/kokoro/hindi": ("hm_psi", "wav"),
    "fal-ai/kokoro/italian": ("im_nicola", "wav"),
    "fal-ai/kokoro/japanese": ("jf_nezumi", "wav"),
    "fal-ai/kokoro/brazilian-portuguese": ("pm_santa", "wav"),
    "fal-ai/kokoro/mandarin-chinese": ("zm_yunxi", "wav"),
    "fal-ai/elevenlabs/tts/multilingual-v2": ("Charlotte", "mp3"),
    "fal-ai/elevenlabs/tts/turbo-v2.5": ("Roger", "mp3"),
}

# (codec, sample rate) that ffprobe must find: fal's Kokoro writes 24 kHz 16-bit WAV, and
# ElevenLabs' default output is 44.1 kHz MP3.
EXPECTED_AUDIO = {"wav": ("pcm_s16le", 24000), "mp3": ("mp3", 44100)}
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}

# Short polls keep the queue tests fast. The emulator completes a job on its third poll.
POLL_INTERVAL_MS = 20
MAX_POLLS = 6
EMULATOR_POLLS_TO_COMPLETE = 3
# Long enough for the emulator to render a sentence on a loaded machine, short enough that
# the hang cases take seconds.
FIRST_BYTE_TIMEOUT_MS = 2500


@pytest.fixture(scope="module")
def fal_key():
    """A fal key shaped like a real one (`id:secret`), random per module so a leak is unmistakable."""
    return f"fal-canary-{secrets.token_hex(6)}:{secrets.token_hex(16)}"


@pytest.fixture(scope="module")
def fal(tmp_path_factory, fal_key, audio_tools):
    running = FalEmulator(tmp_path_factory.mktemp("fal-emulator"), fal_key)
    yield running
    running.stop()


def fal_provider(fal, mode):
    return {
        "settings": {
            "mode": mode,
            "base-url": fal.url,
            "queue-url": fal.queue_url,
            "media-hosts": fal.media_host,
            "poll-interval-ms": str(POLL_INTERVAL_MS),
            "max-polls": str(MAX_POLLS),
        },
        "timeouts": {"first_byte_timeout_ms": FIRST_BYTE_TIMEOUT_MS},
    }


def start_fal_gateway(tmp_path_factory, voxgate_bin, fal_plugin, fal, key, mode):
    # One attempt and a breaker that never opens, so that every request reaches the emulator
    # exactly once and error tests do not affect each other.
    settings = GatewaySettings(
        providers={"fal": fal_provider(fal, mode)},
        resilience={"max_attempts": 1, "breaker_failures": 1_000_000},
    )
    return Gateway(
        voxgate_bin,
        tmp_path_factory.mktemp(f"voxgate-fal-{mode}"),
        [fal_plugin],
        openai_base_url=None,
        api_key="sk-unused",
        settings=settings,
        extra_env={"FAL_KEY": key},
    )


@pytest.fixture(scope="module")
def gateways(tmp_path_factory, voxgate_bin, fal_plugin, fal, fal_key):
    started = {mode: start_fal_gateway(tmp_path_factory, voxgate_bin, fal_plugin, fal, fal_key, mode) for mode in MODES}
    yield started
    for gateway in started.values():
        gateway.stop()


@pytest.fixture
def upstream(fal):
    fal.reset()
    yield fal
    fal.clear_faults()


def client_for(gateway):
    return OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=60)


def speak(gateways, mode, model, voice, text=SENTENCE, **fields):
    return client_for(gateways[mode]).audio.speech.create(model=f"fal:{model}", voice=voice, input=text, **fields)


def speak_error(gateways, mode, model, voice, text=SENTENCE, **fields):
    with pytest.raises(openai.APIStatusError) as raised:
        speak(gateways, mode, model, voice, text, **fields)
    error = raised.value
    assert isinstance(error.body, dict) and {"message", "type", "param", "code"} <= set(error.body), f"not OpenAI's error shape: {error.body}"
    return error


def assert_audio(audio, format, text=SENTENCE):
    codec, rate = EXPECTED_AUDIO[format]
    info = probe(audio, format)
    expected_seconds = expected_speech_seconds(text)

    assert info.decode_errors == "", f"{format} audio does not decode cleanly: {info.decode_errors}"
    assert info.codec == codec, f"{format} audio probed as {info.codec!r}"
    assert info.sample_rate == rate, f"{format} audio is {info.sample_rate} Hz, expected {rate}"
    assert info.channels == 1
    # espeak-ng's Japanese voice spells English words out, so the upper bound is loose.
    assert 0.5 * expected_seconds <= info.duration_s <= 5 * expected_seconds, f"audio lasts {info.duration_s:.2f} s"


def assert_queue_sequence(upstream, model):
    """Assert submit, polls on the returned status URL, result and file, in that order."""
    entries = upstream.requests()
    jobs = upstream.jobs()
    assert len(jobs) == 1, jobs
    alias = "/".join(model.split("/")[:2])
    job_path = f"/queue/{alias}/requests/{jobs[0]['request_id']}"

    steps = [(entry["listener"], entry["method"], entry["path"]) for entry in entries]
    expected = [("api", "POST", f"/queue/{model}")]
    expected += [("api", "GET", job_path + "/status")] * EMULATOR_POLLS_TO_COMPLETE
    expected += [("api", "GET", job_path)]
    assert steps[:-1] == expected, steps
    assert steps[-1][:2] == ("media", "GET"), steps
    assert steps[-1][2].startswith("/files/"), steps
    return entries


def assert_key_only_on_api(upstream, entries):
    for entry in entries:
        authorization = entry["headers"].get("authorization")
        if entry["listener"] == "api":
            assert authorization == f"Key {upstream.api_key}", entry
        else:
            assert authorization is None, f"the media host received an Authorization header: {entry}"
            assert not any(upstream.api_key in value for value in entry["headers"].values()), entry
            assert entry["headers"]["host"] == upstream.media_host, entry


# --- Speech for every model, in both modes ---


def test_providers_lists_fal(gateways):
    provider = gateways["queue"].provider("fal")

    assert provider["configured"] is True
    assert len(provider["models"]) == 12


@pytest.mark.parametrize("model", sorted(MODELS))
def test_queue_model_speech(gateways, upstream, model):
    voice, format = MODELS[model]

    speech = speak(gateways, "queue", model, voice, response_format=format)

    assert speech.response.headers.get("content-type") == CONTENT_TYPES[format]
    assert_audio(speech.content, format)
    entries = assert_queue_sequence(upstream, model)
    assert_key_only_on_api(upstream, entries)
    sent = json.loads(entries[0]["body"])
    text_field = "prompt" if model.startswith("fal-ai/kokoro/") else "text"
    assert sent == {text_field: SENTENCE, "voice": voice}, sent


@pytest.mark.parametrize("model", sorted(MODELS))
def test_sync_model_speech(gateways, upstream, model):
    voice, format = MODELS[model]

    speech = speak(gateways, "sync", model, voice, response_format=format)

    assert_audio(speech.content, format)
    entries = upstream.requests()
    steps = [(entry["listener"], entry["method"], entry["path"].split("/files/")[0]) for entry in entries]
    assert steps == [("api", "POST", f"/{model}"), ("media", "GET", "")], steps
    assert_key_only_on_api(upstream, entries)
    assert upstream.jobs() == []


@pytest.mark.parametrize("mode", MODES)
def test_speed_is_forwarded(gateways, upstream, mode):
    speech = speak(gateways, mode, "fal-ai/kokoro/american-english", "af_bella", response_format="wav", speed=1.5)

    assert_audio(speech.content, "wav")
    sent = json.loads(upstream.api_requests()[0]["body"])
    assert sent["speed"] == 1.5, sent


@pytest.mark.parametrize("mode", MODES)
def test_f5_needs_reference_option(gateways, upstream, mode):
    # Without `provider_options`, the plugin names the missing option before anything is sent.
    error = speak_error(gateways, mode, "fal-ai/f5-tts", "reference", response_format="wav")

    assert error.status_code == 400
    assert error.body["code"] == "provider_rejected_request", error.body
    assert "`ref_audio_url`" in error.body["message"], error.body
    assert upstream.requests() == []


@pytest.mark.parametrize("mode", MODES)
def test_f5_with_provider_options(gateways, upstream, mode):
    # voxgate's one extension to OpenAI's request: `provider_options`, sent by OpenAI's SDK
    # through `extra_body`, reaches the plugin as its options.
    reference = {"ref_audio_url": "https://example.invalid/reference.wav", "ref_text": "A reference clip."}
    speech = speak(
        gateways, mode, "fal-ai/f5-tts", "reference", response_format="wav", extra_body={"provider_options": reference}
    )

    assert_audio(speech.content, "wav")
    sent = json.loads(upstream.api_requests()[0]["body"])
    assert sent["ref_audio_url"] == reference["ref_audio_url"], sent
    assert sent["ref_text"] == reference["ref_text"], sent


@pytest.mark.parametrize(
    "model, voice, fields, code",
    [
        ("fal-ai/kokoro/american-english", "af_heart", {"response_format": "mp3"}, "unsupported_format"),
        ("fal-ai/elevenlabs/tts/turbo-v2.5", "Aria", {"response_format": "wav"}, "unsupported_format"),
        ("fal-ai/kokoro/japanese", "af_heart", {"response_format": "wav"}, "voice_not_found"),
        ("fal-ai/elevenlabs/tts/turbo-v2.5", "Aria", {"response_format": "mp3", "speed": 2.0}, "provider_rejected_request"),
    ],
)
def test_rejected_before_upstream(gateways, upstream, model, voice, fields, code):
    error = speak_error(gateways, "queue", model, voice, **fields)

    assert error.status_code == 400
    assert error.body["code"] == code, error.body
    assert upstream.requests() == []


# --- Queue behaviour ---


def test_unfinished_job_is_cancelled(gateways, upstream):
    upstream.add_faults({"kind": "stuck"})

    error = speak_error(gateways, "queue", "fal-ai/kokoro/american-english", "af_heart", response_format="wav")

    assert error.status_code == 503, error.body
    assert error.body["code"] == "provider_unavailable", error.body
    assert "timed out" in error.body["message"], error.body
    jobs = upstream.jobs()
    assert len(jobs) == 1, jobs
    assert jobs[0]["cancelled"] is True, jobs
    steps = [(entry["method"], entry["path"]) for entry in upstream.requests()]
    job_path = f"/queue/fal-ai/kokoro/requests/{jobs[0]['request_id']}"
    assert steps == [("POST", "/queue/fal-ai/kokoro/american-english")] + [("GET", job_path + "/status")] * MAX_POLLS + [("PUT", job_path + "/cancel")], steps


def test_transient_poll_errors_are_retried(gateways, upstream):
    upstream.add_faults({"kind": "status", "status": 503}, {"kind": "status", "status": 429}, stage="status")

    speech = speak(gateways, "queue", "fal-ai/kokoro/american-english", "af_heart", response_format="wav")

    # The emulator's job moves on with every poll, faulted or not, as a real job moves on
    # with time, so the two faulted polls are the first two of the usual three.
    assert_audio(speech.content, "wav")
    assert upstream.pending_faults("status") == []
    assert_queue_sequence(upstream, "fal-ai/kokoro/american-english")


# --- fal's errors, as the client sees them ---


UPSTREAM_ERRORS = [
    pytest.param(mode, param.values[0], id=f"{mode}-{param.id}")
    for param in load_cases("gateway-fal/upstream-errors")
    for mode in MODES
    if mode in param.values[0]["modes"]
]


@pytest.mark.parametrize("mode, case", UPSTREAM_ERRORS)
def test_fal_error_reaches_client(gateways, upstream, mode, case):
    upstream.add_faults(case["fault"], stage=case["stage"])
    expected = case["expect"]

    error = speak_error(gateways, mode, "fal-ai/kokoro/american-english", "af_heart", response_format="wav")

    assert error.status_code == expected["status"], f"HTTP {error.status_code}: {error.body}"
    assert error.body["code"] == expected["code"], error.body
    assert expected.get("message_contains", "") in error.body["message"], error.body
    if "retry_after" in expected:
        assert error.response.headers.get("retry-after") == expected["retry_after"], dict(error.response.headers)
    assert upstream.pending_faults(case["stage"]) == [], "the fault was never reached"
    assert upstream.api_key not in json.dumps(error.body)


def test_wrong_key_is_unauthorized(tmp_path_factory, voxgate_bin, fal_plugin, fal, upstream):
    gateway = start_fal_gateway(tmp_path_factory, voxgate_bin, fal_plugin, fal, "fal-wrong-key:" + secrets.token_hex(8), "queue")
    try:
        error = speak_error({"queue": gateway}, "queue", "fal-ai/kokoro/american-english", "af_heart", response_format="wav")
    finally:
        gateway.stop()

    assert error.status_code == 502, error.body
    assert error.body["code"] == "provider_unauthorized", error.body
    assert [entry["path"] for entry in upstream.requests()] == ["/queue/fal-ai/kokoro/american-english"]


# --- Hostile input ---


HOSTILE_MODELS = [
    "fal:fal-ai/kokoro/american-english/../../f5-tts",
    "fal:fal-ai/kokoro/american-english?fal_webhook=http://127.0.0.9/",
    "fal:fal-ai/kokoro/american-english#x",
    "fal:https://127.0.0.9/fal-ai/kokoro/american-english",
    "fal:fal-ai/kokoro/american-english\r\nauthorization: Key stolen",
    "fal:../queue/fal-ai/kokoro/american-english",
    "fal:fal-ai/kokoro",
]

HOSTILE_VOICES = ["af_heart/../../x", "af_heart\r\nx-fal-queue-priority: low", "af_heart?x=1", "../af_heart", "AF_HEART"]


@pytest.mark.parametrize("model", HOSTILE_MODELS)
def test_hostile_model_never_sent(gateways, upstream, model):
    with pytest.raises(openai.APIStatusError) as raised:
        client_for(gateways["queue"]).audio.speech.create(model=model, voice="af_heart", input=SENTENCE, response_format="wav")

    assert raised.value.status_code == 400, raised.value.body
    assert upstream.requests() == []


@pytest.mark.parametrize("voice", HOSTILE_VOICES)
def test_hostile_voice_never_sent(gateways, upstream, voice):
    error = speak_error(gateways, "queue", "fal-ai/kokoro/american-english", voice, response_format="wav")

    assert error.status_code == 400, error.body
    assert error.body["code"] == "voice_not_found", error.body
    assert upstream.requests() == []


def test_options_have_no_openai_field(gateways, upstream):
    body = {"model": "fal:fal-ai/f5-tts", "voice": "reference", "input": SENTENCE, "response_format": "wav", "ref_audio_url": "http://169.254.169.254/latest"}

    response = rawhttp.post_json(gateways["queue"].url, "/v1/audio/speech", body)

    assert response.status == 400, response.describe()
    assert response.error()["code"] == "unknown_parameter", response.describe()
    assert upstream.requests() == []


@pytest.mark.parametrize("mode", MODES)
def test_hostile_text_stays_in_body(gateways, upstream, mode):
    clean = speak(gateways, mode, "fal-ai/kokoro/american-english", "af_heart", response_format="wav")
    clean_entries = upstream.requests()
    upstream.reset()
    text = "Hello.\r\nHost: 127.0.0.9\r\nAuthorization: Key stolen\r\n\r\n../../fal-ai/f5-tts?x=1#y {\"voice\": \"am_adam\"}"

    hostile = speak(gateways, mode, "fal-ai/kokoro/american-english", "af_heart", text=text, response_format="wav")

    assert clean.content and hostile.content
    entries = upstream.requests()
    assert len(entries) == len(clean_entries)
    for before, after in zip(clean_entries, entries):
        assert after["listener"] == before["listener"]
        assert after["method"] == before["method"]
        assert sorted(after["headers"]) == sorted(before["headers"]), (before["headers"], after["headers"])
        if after["listener"] == "api" and not after["path"].startswith("/files/"):
            assert after["path"].split("/requests/")[0] == before["path"].split("/requests/")[0], (before["path"], after["path"])
    assert json.loads(entries[0]["body"]) == {"prompt": text, "voice": "af_heart"}
    assert_key_only_on_api(upstream, entries)


# --- Secrets ---


def test_key_never_leaks(gateways, fal, fal_key):
    # Runs after the tests above in this module, so the logs cover every success and error.
    for mode, gateway in gateways.items():
        providers = rawhttp.request(gateway.url, "GET", "/v1/providers")
        for label, text in (("providers", providers.body.decode()), ("stdout", gateway.stdout()), ("stderr", gateway.stderr())):
            assert fal_key not in text, f"the fal key appears in the {mode} gateway's {label}"
            assert fal_key.split(":")[1] not in text, f"the key's secret part appears in the {mode} gateway's {label}"

    lines = fal.request_log_path.read_text(encoding="utf-8").splitlines()
    media = [json.loads(line) for line in lines if json.loads(line)["listener"] == "media"]
    assert media, "no media request was logged"
    for entry in media:
        assert "authorization" not in entry["headers"], entry
        assert not any(fal_key.split(":")[1] in value for value in entry["headers"].values()), entry
