"""The ElevenLabs emulator itself: auth, strict validation, real audio in every output format,
timestamps, listings, the official SDK against it, the request log and faults."""

import base64
import http.client
import json
import subprocess
import sys

import pytest
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError

from support import rawhttp
from support.cases import load_cases, request_body
from support.elevenlabs import (
    CLONED_VOICE,
    EMULATOR_SCRIPT,
    EXPECTED_CODECS,
    RACHEL,
    SENTENCE,
    ElevenLabsEmulator,
    probe_output,
)

# espeak-ng speaks the ten-word SENTENCE in about 3.3 s.
SENTENCE_SECONDS = 3.3

CONTENT_TYPES = {"mp3": "audio/mpeg", "pcm": "audio/pcm", "ulaw": "audio/basic", "alaw": "audio/alaw", "opus": "audio/ogg", "wav": "audio/wav"}

# One or more formats per codec, across rates and bit rates.
OUTPUT_FORMATS = [
    "mp3_22050_32", "mp3_24000_48", "mp3_44100_64", "mp3_44100_128", "mp3_44100_192",
    "pcm_8000", "pcm_16000", "pcm_22050", "pcm_32000", "pcm_44100", "pcm_48000",
    "ulaw_8000", "alaw_8000", "opus_48000_32", "opus_48000_128",
]
WAV_FORMATS = ["wav_8000", "wav_24000", "wav_48000"]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, audio_tools):
    running = ElevenLabsEmulator(tmp_path_factory.mktemp("elevenlabs-emulator"), "xi-emulator-test-key")
    yield running
    running.stop()


@pytest.fixture
def upstream(emulator):
    emulator.reset()
    yield emulator
    emulator.clear_faults()


@pytest.fixture(scope="module")
def sdk(emulator):
    return ElevenLabs(base_url=emulator.url, api_key=emulator.api_key)


def tts(emulator, body, voice=RACHEL, endpoint="stream", query="", key=None, raw=None):
    """POST to a text-to-speech endpoint with the emulator's key, or with `key` when given."""
    path = f"/v1/text-to-speech/{voice}"
    if endpoint:
        path += f"/{endpoint}"
    if query:
        path += f"?{query}"
    headers = {"Content-Type": "application/json"}
    if key is not False:
        headers["xi-api-key"] = key or emulator.api_key
    payload = raw if raw is not None else json.dumps(body).encode("utf-8")
    return rawhttp.request(emulator.url, "POST", path, payload, headers)


def renders(emulator):
    """How many times the emulator has rendered speech, cache hits included."""
    stats = emulator.stats()
    return stats["renders"] + stats["cache_hits"]


def detail(response):
    """Return the `detail` of an ElevenLabs error body."""
    try:
        return response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        raise AssertionError(f"not an ElevenLabs error body: {response.describe()}")


def assert_coded_error(response, status, code):
    assert response.status == status, f"expected HTTP {status}: {response.describe()}"
    error = detail(response)
    assert isinstance(error, dict), f"detail is not an object: {error!r}"
    assert error.get("status") == code, f"expected detail.status {code!r}: {error}"
    assert isinstance(error.get("message"), str), f"no message: {error}"
    assert error["message"], f"empty message: {error}"
    assert response.headers.get("content-type") == "application/json", f"error is not JSON: {response.headers}"


def assert_speech(audio, output_format, seconds=SENTENCE_SECONDS):
    info = probe_output(audio, output_format)
    codec, rate = output_format.split("_")[:2]

    assert info.decode_errors == "", f"{output_format} does not decode cleanly: {info.decode_errors}"
    assert info.codec == EXPECTED_CODECS[codec], f"{output_format} probed as {info.codec!r}"
    assert info.sample_rate == int(rate), f"{output_format} is {info.sample_rate} Hz"
    assert info.channels == 1, f"{output_format} has {info.channels} channels"
    assert 0.5 * seconds <= info.duration_s <= 2 * seconds, f"{output_format} lasts {info.duration_s:.2f} s, expected about {seconds} s"
    return info


# --- Command line ---


def test_cli_prints_one_listening_line(emulator):
    assert emulator.server.stdout() == f"listening on {emulator.url}\n"


def test_cli_stops_on_sigterm(tmp_path, audio_tools):
    running = ElevenLabsEmulator(tmp_path, "xi-stop")

    status = running.stop()

    assert status == 0, f"exit status {status}; stderr:\n{running.server.stderr()}"
    assert "Traceback" not in running.server.stderr()


def test_cli_rejects_non_loopback_host():
    completed = subprocess.run(
        [sys.executable, str(EMULATOR_SCRIPT), "--host", "0.0.0.0", "--api-key", "k"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )

    assert completed.returncode != 0, f"accepted --host 0.0.0.0: {completed.stdout!r}"
    assert "loopback" in completed.stderr


# --- Authentication ---


@pytest.mark.parametrize("key", [False, "xi-wrong-key"], ids=["missing", "wrong"])
def test_auth_rejects_key(upstream, key):
    before = renders(upstream)

    response = tts(upstream, {"text": SENTENCE}, key=key)

    assert_coded_error(response, 401, "invalid_api_key")
    assert renders(upstream) == before, "a request without the right key was rendered"


@pytest.mark.parametrize("path", ["/v1/voices", "/v2/voices", "/v1/models"])
def test_auth_guards_listings(upstream, path):
    response = rawhttp.request(upstream.url, "GET", path, headers={"xi-api-key": "wrong"})

    assert_coded_error(response, 401, "invalid_api_key")


def test_unknown_route_and_method(upstream):
    missing = rawhttp.request(upstream.url, "POST", "/v1/text-to-speech/x/y/z", b"{}", {"xi-api-key": upstream.api_key})
    wrong_method = rawhttp.request(upstream.url, "GET", f"/v1/text-to-speech/{RACHEL}", headers={"xi-api-key": upstream.api_key})

    assert (missing.status, missing.json()) == (404, {"detail": "Not Found"})
    assert (wrong_method.status, wrong_method.json()) == (405, {"detail": "Method Not Allowed"})


# --- Validation ---


@pytest.mark.parametrize("case", load_cases("elevenlabs-emulator/invalid-requests"))
def test_validation_rejects(upstream, case):
    expected = case["expect"]
    request = dict(case.get("request", {}))
    if "text_characters" in case:
        request["text"] = "a" * case["text_characters"]
    raw = None if "request" in case else request_body(case)
    before = renders(upstream)

    response = tts(upstream, request, voice=case.get("voice_id", RACHEL), endpoint=case.get("endpoint", "stream"), query=case.get("query", ""), raw=raw)

    if "code" in expected:
        assert_coded_error(response, expected["status"], expected["code"])
    else:
        assert response.status == 422, f"expected 422: {response.describe()}"
        errors = detail(response)
        assert isinstance(errors, list), f"detail is not FastAPI's list: {errors!r}"
        assert errors, "the 422 lists no error"
        assert all({"type", "loc", "msg"} <= set(error) for error in errors), f"an error lacks type, loc or msg: {errors}"
        assert [expected["loc"], expected["type"]] in [[error["loc"], error["type"]] for error in errors], f"no {expected} in {errors}"
    assert renders(upstream) == before, "an invalid request was rendered"


def test_validation_reports_every_error(upstream):
    body = {"text": 1, "voice_settings": {"stability": 2, "speed": 0}}

    response = tts(upstream, body, query="output_format=flac")

    locations = [error["loc"] for error in detail(response)]
    assert response.status == 422
    assert locations == [["query", "output_format"], ["body", "text"], ["body", "voice_settings", "stability"], ["body", "voice_settings", "speed"]]


def test_validation_accepts_bounds_and_extras(upstream):
    body = {
        "text": "Bounds.",
        "model_id": "eleven_turbo_v2_5",
        "language_code": "en",
        "voice_settings": {"stability": 0, "similarity_boost": 1, "style": 0.0, "use_speaker_boost": False, "speed": 1.2},
        "seed": 4294967295,
        "previous_request_ids": ["a", "b", "c"],
        "apply_text_normalization": "off",
        "pronunciation_dictionary_locators": [{"pronunciation_dictionary_id": "d1", "version_id": None}],
        "an_unknown_field": True,
    }

    response = tts(upstream, body, query="output_format=pcm_16000&optimize_streaming_latency=2&enable_logging=false")

    assert response.status == 200, response.describe()


def test_text_at_limit_is_accepted(upstream):
    upstream.add_faults({"kind": "status", "status": 500})

    response = tts(upstream, {"text": "é" * 5000, "model_id": "eleven_v3"})

    # The limit counts characters, so 5,000 two-byte letters pass validation and meet the fault.
    assert_coded_error(response, 500, "internal_server_error")


def test_encoded_voice_id_is_one_segment(upstream):
    response = tts(upstream, {"text": "Hi."}, voice="..%2Fv1%2Fuser%3Fx%3D1")

    assert_coded_error(response, 404, "voice_not_found")
    assert "../v1/user?x=1" in detail(response)["message"]
    assert upstream.requests()[0]["path"] == "/v1/text-to-speech/..%2Fv1%2Fuser%3Fx%3D1/stream"


# --- Audio ---


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_stream_renders_format(upstream, output_format):
    response = tts(upstream, {"text": SENTENCE, "model_id": "eleven_flash_v2_5"}, query=f"output_format={output_format}")

    assert response.status == 200, response.describe()
    assert response.headers.get("transfer-encoding") == "chunked"
    assert response.headers.get("content-type") == CONTENT_TYPES[output_format.split("_")[0]]
    info = assert_speech(response.body, output_format)
    if output_format.startswith("mp3_"):
        assert info.bit_rate == int(output_format.split("_")[2]) * 1000, f"mp3 bit rate {info.bit_rate}"


@pytest.mark.parametrize("output_format", WAV_FORMATS)
def test_whole_clip_renders_wav(upstream, output_format):
    response = tts(upstream, {"text": SENTENCE}, endpoint="", query=f"output_format={output_format}")

    assert response.status == 200, response.describe()
    assert response.headers.get("content-length") == str(len(response.body)), f"whole clip is not sent with a length: {response.headers}"
    assert response.headers.get("content-type") == "audio/wav"
    assert_speech(response.body, output_format)


def test_default_format_is_mp3_44100_128(upstream):
    response = tts(upstream, {"text": SENTENCE}, endpoint="")

    info = assert_speech(response.body, "mp3_44100_128")
    assert info.bit_rate == 128_000


def test_voices_and_speed_change_audio(upstream):
    rachel = tts(upstream, {"text": SENTENCE}, query="output_format=pcm_16000").body
    george = tts(upstream, {"text": SENTENCE}, voice="JBFqnCBsd6RMkjVDRZzb", query="output_format=pcm_16000").body
    slow = tts(upstream, {"text": SENTENCE, "voice_settings": {"speed": 0.7}}, query="output_format=pcm_16000").body

    assert rachel != george, "two voices gave the same audio"
    assert len(slow) > 1.25 * len(rachel), f"speed 0.7 gave {len(slow)} bytes against {len(rachel)}"


def test_success_headers(upstream):
    text = "Twelve chars"
    full = tts(upstream, {"text": text, "model_id": "eleven_multilingual_v2"})
    half = tts(upstream, {"text": text, "model_id": "eleven_flash_v2_5"})

    assert full.headers.get("character-cost") == "12"
    assert half.headers.get("character-cost") == "6", "Flash is billed half"
    for name in ("request-id", "history-item-id", "current-concurrent-requests", "maximum-concurrent-requests", "tts-latency-ms"):
        assert full.headers.get(name), f"no {name}: {full.headers}"
    assert len(full.headers["request-id"]) == 20


# --- Timestamps ---


def assert_alignment(alignment, text, seconds):
    starts = alignment["character_start_times_seconds"]
    ends = alignment["character_end_times_seconds"]
    assert "".join(alignment["characters"]) == text
    assert len(starts) == len(ends) == len(text)
    assert starts[0] == 0
    assert all(start <= end for start, end in zip(starts, ends)), "a character ends before it starts"
    assert all(ends[index] <= starts[index + 1] + 1e-9 for index in range(len(text) - 1)), "characters overlap"
    assert abs(ends[-1] - seconds) < 0.05, f"the alignment ends at {ends[-1]} s, the audio at {seconds:.2f} s"


def test_with_timestamps_json(upstream):
    response = tts(upstream, {"text": SENTENCE}, endpoint="with-timestamps", query="output_format=pcm_24000")

    body = response.json()
    audio = base64.b64decode(body["audio_base64"])
    info = assert_speech(audio, "pcm_24000")
    assert_alignment(body["alignment"], SENTENCE, info.duration_s)
    assert body["normalized_alignment"]["characters"] == list(SENTENCE)
    assert response.headers.get("character-cost") == str(len(SENTENCE))


def test_stream_with_timestamps_lines(upstream):
    response = tts(upstream, {"text": SENTENCE}, endpoint="stream/with-timestamps", query="output_format=mp3_44100_128")

    lines = [json.loads(line) for line in response.body.decode("utf-8").splitlines() if line.strip()]
    assert len(lines) > 1, "the stream came as one object"
    audio = b"".join(base64.b64decode(line["audio_base64"]) for line in lines)
    info = assert_speech(audio, "mp3_44100_128")
    merged = {key: sum((line["alignment"][key] for line in lines), []) for key in lines[0]["alignment"]}
    assert_alignment(merged, SENTENCE, info.duration_s)


# --- Listings ---


def test_v1_voices_lists_premade_and_cloned(upstream):
    body = rawhttp.request(upstream.url, "GET", "/v1/voices", headers={"xi-api-key": upstream.api_key}).json()

    by_id = {voice["voice_id"]: voice for voice in body["voices"]}
    assert by_id[RACHEL]["name"] == "Rachel"
    assert by_id[RACHEL]["category"] == "premade"
    assert by_id[CLONED_VOICE]["category"] == "cloned"
    required = {"voice_id", "name", "category", "labels", "available_for_tiers", "high_quality_base_model_ids"}
    assert all(required <= set(voice) for voice in body["voices"])


def test_v2_voices_paginates(upstream):
    def page(query):
        return rawhttp.request(upstream.url, "GET", f"/v2/voices?{query}", headers={"xi-api-key": upstream.api_key}).json()

    first = page("page_size=5")
    second = page(f"page_size=5&next_page_token={first['next_page_token']}")
    search = page("search=rach")

    assert (len(first["voices"]), first["has_more"], first["total_count"]) == (5, True, 23)
    assert {v["voice_id"] for v in first["voices"]}.isdisjoint(v["voice_id"] for v in second["voices"])
    assert [voice["name"] for voice in search["voices"]] == ["Rachel"]
    assert search["has_more"] is False


def test_v1_models_is_bare_array(upstream):
    models = rawhttp.request(upstream.url, "GET", "/v1/models", headers={"xi-api-key": upstream.api_key}).json()

    assert isinstance(models, list)
    limits = {model["model_id"]: model["maximum_text_length_per_request"] for model in models}
    assert limits["eleven_v3"] == 5000
    assert limits["eleven_flash_v2_5"] == 40000
    assert limits["eleven_multilingual_v2"] == 10000


# --- The official SDK ---


def test_sdk_convert_and_stream(sdk, upstream):
    converted = b"".join(sdk.text_to_speech.convert(RACHEL, text=SENTENCE, model_id="eleven_turbo_v2_5", output_format="mp3_22050_32"))
    streamed = b"".join(sdk.text_to_speech.stream(RACHEL, text=SENTENCE, output_format="ulaw_8000"))

    assert_speech(converted, "mp3_22050_32")
    assert_speech(streamed, "ulaw_8000")
    paths = [entry["path"] for entry in upstream.requests()]
    assert paths == [f"/v1/text-to-speech/{RACHEL}?output_format=mp3_22050_32", f"/v1/text-to-speech/{RACHEL}/stream?output_format=ulaw_8000"]
    assert upstream.requests()[0]["headers"]["xi-api-key"] == upstream.api_key


def test_sdk_with_timestamps(sdk, upstream):
    result = sdk.text_to_speech.convert_with_timestamps(RACHEL, text="Hello there.", output_format="pcm_16000")

    assert_speech(base64.b64decode(result.audio_base_64), "pcm_16000", seconds=0.8)
    assert "".join(result.alignment.characters) == "Hello there."


def test_sdk_listings(sdk, upstream):
    voices = sdk.voices.get_all().voices
    page = sdk.voices.search(page_size=3)
    models = sdk.models.list()

    assert RACHEL in [voice.voice_id for voice in voices]
    assert len(page.voices) == 3
    assert page.has_more
    assert "eleven_v3" in [model.model_id for model in models]


def test_sdk_sees_errors(sdk, upstream):
    with pytest.raises(ApiError) as raised:
        b"".join(sdk.text_to_speech.convert("nonexistentVoice0000", text="Hi.", request_options={"max_retries": 0}))

    assert raised.value.status_code == 404
    assert raised.value.body["detail"]["status"] == "voice_not_found"


# --- Faults ---


def test_status_fault_bodies(upstream):
    upstream.add_faults(
        {"kind": "status", "status": 429, "retry_after": 2},
        {"kind": "status", "status": 401, "code": "quota_exceeded"},
        {"kind": "status", "status": 422, "body": {"detail": [{"loc": ["body", "text"], "msg": "bad", "type": "value_error"}]}},
    )

    limited = tts(upstream, {"text": "One."})
    quota = tts(upstream, {"text": "Two."})
    validation = tts(upstream, {"text": "Three."})

    assert_coded_error(limited, 429, "too_many_concurrent_requests")
    assert limited.headers.get("retry-after") == "2"
    assert_coded_error(quota, 401, "quota_exceeded")
    assert validation.status == 422
    assert detail(validation)[0]["msg"] == "bad"


def test_faults_wait_for_a_valid_request(upstream):
    upstream.add_faults({"kind": "status", "status": 503})

    invalid = tts(upstream, {"text": 3})
    faulted = tts(upstream, {"text": "Valid."})

    assert invalid.status == 422
    assert_coded_error(faulted, 503, "service_unavailable")


def test_body_faults(upstream):
    upstream.add_faults({"kind": "malformed_json"}, {"kind": "wrong_content_type"}, {"kind": "reset_mid_body", "after_bytes": 100})

    malformed = tts(upstream, {"text": "One."})
    html = tts(upstream, {"text": "Two."})
    reset = tts(upstream, {"text": SENTENCE})

    assert malformed.status == 500
    assert malformed.body.startswith(b'{"detail": {"status"')
    assert html.status == 200
    assert html.headers["content-type"].startswith("text/html")
    assert reset.status == 200
    assert reset.read_error is not None
    assert len(reset.body) <= 100


def test_oversized_and_slow_faults(upstream):
    upstream.add_faults({"kind": "oversized", "bytes": 300_000}, {"kind": "slow", "chunk_delay_ms": 20})

    oversized = tts(upstream, {"text": "Big."}, query="output_format=pcm_8000")
    slow = tts(upstream, {"text": SENTENCE}, query="output_format=pcm_8000")

    assert len(oversized.body) == 300_000
    assert_speech(slow.body, "pcm_8000")


def test_hang_fault_holds(upstream):
    upstream.add_faults({"kind": "hang", "max_seconds": 0.5})

    # The emulator closes the connection after max_seconds without a status line.
    with pytest.raises(http.client.RemoteDisconnected):
        tts(upstream, {"text": "Wait."})


def test_request_log_records_requests(upstream):
    tts(upstream, {"text": "Logged."}, query="output_format=alaw_8000")

    entry = upstream.requests()[-1]
    assert entry["method"] == "POST"
    assert entry["path"] == f"/v1/text-to-speech/{RACHEL}/stream?output_format=alaw_8000"
    assert json.loads(entry["body"]) == {"text": "Logged."}
    assert entry["headers"]["xi-api-key"] == upstream.api_key
