"""The fal emulator on its own: the sync and queue APIs, the CDN, validation and faults.

The gateway tests trust this emulator to behave like fal, so these tests pin down what it
does: `Authorization: Key` on every API route, fal's 422 bodies per app, the queue life
cycle with URLs that keep only the app's `owner/alias`, real audio in each app's format on a
second listener, and the fault stages.
"""

import http.client
import json
import secrets
from urllib.parse import urlsplit

import pytest

from support import rawhttp
from support.audio import probe
from support.cases import CASES_DIR, load_cases
from support.fal_emulator import ControlError, FalEmulator

SENTENCE = "The quick brown fox jumps over the lazy sleeping dog."
KOKORO = "fal-ai/kokoro/american-english"

# A valid input for every app, by endpoint id.
VALID_INPUTS = {
    "fal-ai/kokoro/american-english": {"prompt": SENTENCE, "voice": "af_heart"},
    "fal-ai/kokoro/british-english": {"prompt": SENTENCE, "voice": "bf_alice"},
    "fal-ai/kokoro/spanish": {"prompt": SENTENCE, "voice": "ef_dora"},
    "fal-ai/kokoro/french": {"prompt": SENTENCE, "voice": "ff_siwis"},
    "fal-ai/kokoro/hindi": {"prompt": SENTENCE, "voice": "hf_alpha"},
    "fal-ai/kokoro/italian": {"prompt": SENTENCE, "voice": "if_sara"},
    "fal-ai/kokoro/japanese": {"prompt": SENTENCE, "voice": "jf_alpha", "speed": 1.2},
    "fal-ai/kokoro/brazilian-portuguese": {"prompt": SENTENCE, "voice": "pf_dora"},
    "fal-ai/kokoro/mandarin-chinese": {"prompt": SENTENCE, "voice": "zf_xiaobei"},
    "fal-ai/f5-tts": {"gen_text": SENTENCE, "ref_audio_url": "https://example.test/ref.wav", "ref_text": "Some words.", "model_type": "F5-TTS"},
    "fal-ai/elevenlabs/tts/multilingual-v2": {"text": SENTENCE, "voice": "Rachel", "stability": 0.4},
    "fal-ai/elevenlabs/tts/turbo-v2.5": {"text": SENTENCE, "voice": "Aria", "speed": 1.1},
}

# (output key, container, codec, sample rate) of each app family's audio.
KOKORO_OUTPUT = ("audio", "wav", "pcm_s16le", 24000)
F5_OUTPUT = ("audio_url", "wav", "pcm_s16le", 24000)
ELEVENLABS_OUTPUT = ("audio", "mp3", "mp3", 44100)


def output_of(app):
    if app.startswith("fal-ai/kokoro/"):
        return KOKORO_OUTPUT
    return F5_OUTPUT if app == "fal-ai/f5-tts" else ELEVENLABS_OUTPUT


@pytest.fixture(scope="module")
def fal_key():
    return "fal-canary-" + secrets.token_hex(8) + ":" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def fal(tmp_path_factory, fal_key, audio_tools):
    running = FalEmulator(tmp_path_factory.mktemp("fal-emulator"), fal_key)
    yield running
    running.stop()


@pytest.fixture
def upstream(fal):
    fal.reset()
    yield fal
    fal.clear_faults()


def call(upstream, method, url, value=None, key=None, raw=None):
    """Send a request to a full URL on the emulator with `Authorization: Key`."""
    parts = urlsplit(url)
    headers = {"Authorization": f"Key {key or upstream.api_key}"}
    body = raw
    if body is None and value is not None:
        body = json.dumps(value).encode("utf-8")
    if body is not None:
        headers["Content-Type"] = "application/json"
    path = parts.path + ("?" + parts.query if parts.query else "")
    return rawhttp.request(f"{parts.scheme}://{parts.netloc}", method, path, body, headers)


def run_sync(upstream, app, value, key=None):
    return call(upstream, "POST", f"{upstream.url}/{app}", value, key)


def submit(upstream, app, value):
    response = call(upstream, "POST", f"{upstream.queue_url}/{app}", value)
    assert response.status == 200, response.describe()
    return response.json()


def poll_until_done(upstream, job, limit=10):
    """Poll a job's status URL until it completes; return the list of (HTTP status, state)."""
    seen = []
    for _ in range(limit):
        response = call(upstream, "GET", job["status_url"])
        seen.append((response.status, response.json()["status"]))
        if response.json()["status"] == "COMPLETED":
            return seen
    raise AssertionError(f"job did not complete in {limit} polls: {seen}")


def fetch_file(url):
    parts = urlsplit(url)
    return rawhttp.request(f"{parts.scheme}://{parts.netloc}", "GET", parts.path)


def assert_audio_file(upstream, output, app):
    key, container, codec, rate = output_of(app)
    file = output[key]
    assert urlsplit(file["url"]).netloc == upstream.media_host, f"{app} file is not on the media listener: {file}"
    assert file["url"].endswith("." + container), file
    response = fetch_file(file["url"])
    assert response.status == 200, response.describe()
    assert file["file_size"] == len(response.body), file

    info = probe(response.body, container)
    assert info.decode_errors == "", f"{app} audio does not decode: {info.decode_errors}"
    assert info.codec == codec, f"{app} audio probed as {info.codec}"
    assert info.sample_rate == rate, f"{app} audio is {info.sample_rate} Hz"
    assert info.channels == 1
    assert info.duration_s > 1.0, f"{app} audio lasts {info.duration_s:.2f} s"


# --- Listeners and authentication ---


def test_listeners_are_separate(fal):
    assert fal.media_host != fal.host
    assert urlsplit(fal.media_url).hostname in ("127.0.0.1", "127.0.0.2")


@pytest.mark.parametrize("authorization", [None, "Bearer {key}", "Key wrong", "key {key}", "Key"])
def test_bad_credentials_rejected(upstream, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization.format(key=upstream.api_key)

    response = rawhttp.request(upstream.url, "POST", f"/{KOKORO}", json.dumps(VALID_INPUTS[KOKORO]).encode(), headers)

    assert response.status == 401, response.describe()
    assert response.json() == {"detail": "Unauthorized"}


def test_queue_urls_need_key(upstream):
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])

    for method, url in (("GET", job["status_url"]), ("GET", job["response_url"]), ("PUT", job["cancel_url"])):
        response = call(upstream, method, url, key="wrong")
        assert response.status == 401, f"{method} {url}: {response.describe()}"


def test_unknown_app_not_found(upstream):
    response = run_sync(upstream, "fal-ai/kokoro", {"prompt": "Hi."})

    assert response.status == 404, response.describe()


# --- Sync API ---


@pytest.mark.parametrize("app", sorted(VALID_INPUTS))
def test_sync_app_returns_audio(upstream, app):
    response = run_sync(upstream, app, VALID_INPUTS[app])

    assert response.status == 200, response.describe()
    assert response.headers.get("x-fal-request-id"), response.headers
    assert_audio_file(upstream, response.json(), app)


def test_elevenlabs_timestamps(upstream):
    value = dict(VALID_INPUTS["fal-ai/elevenlabs/tts/turbo-v2.5"], timestamps=True)

    output = run_sync(upstream, "fal-ai/elevenlabs/tts/turbo-v2.5", value).json()

    assert [item["text"] for item in output["timestamps"]] == SENTENCE.split()


@pytest.mark.parametrize("case", load_cases("fal-emulator/invalid-inputs"))
def test_invalid_input_rejected(upstream, case):
    if "raw_body" in case:
        raw = case["raw_body"].encode("utf-8")
    else:
        value = dict(case["request"])
        if "long_field" in case:
            name, count = case["long_field"]
            value[name] = "a" * count
        raw = json.dumps(value).encode("utf-8")

    response = call(upstream, "POST", f"{upstream.url}/{case['app']}", raw=raw)

    assert response.status == case["expect"]["status"], response.describe()
    detail = response.json()["detail"]
    found = [{"loc": item["loc"], "type": item["type"]} for item in detail]
    assert found == case["expect"]["errors"], detail
    assert all(isinstance(item["msg"], str) and item["msg"] for item in detail), detail
    assert upstream.media_requests() == [], "an invalid input produced a file"


def test_case_files_exist():
    assert len(list((CASES_DIR / "fal-emulator" / "invalid-inputs").glob("*.json"))) >= 20


# --- Queue API ---


def test_queue_life_cycle(upstream):
    job = submit(upstream, "fal-ai/kokoro/british-english", VALID_INPUTS["fal-ai/kokoro/british-english"])

    assert job["status"] == "IN_QUEUE"
    assert job["queue_position"] == 0
    base = f"{upstream.queue_url}/fal-ai/kokoro/requests/{job['request_id']}"
    assert job["status_url"] == base + "/status"
    assert job["response_url"] == base
    assert job["cancel_url"] == base + "/cancel"

    seen = poll_until_done(upstream, job)
    assert seen == [(202, "IN_QUEUE"), (202, "IN_PROGRESS"), (200, "COMPLETED")]

    result = call(upstream, "GET", job["response_url"])
    assert result.status == 200, result.describe()
    assert_audio_file(upstream, result.json(), "fal-ai/kokoro/british-english")


def test_status_carries_job_urls(upstream):
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])

    status = call(upstream, "GET", job["status_url"] + "?logs=1").json()

    assert status["request_id"] == job["request_id"]
    assert status["response_url"] == job["response_url"]
    assert status["logs"] == []


def test_app_subpath_urls_not_found(upstream):
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])
    wrong = f"{upstream.queue_url}/{KOKORO}/requests/{job['request_id']}"

    for method, url in (("GET", wrong + "/status"), ("GET", wrong), ("PUT", wrong + "/cancel")):
        response = call(upstream, method, url)
        assert response.status == 404, f"{method} {url}: {response.describe()}"


def test_other_alias_not_found(upstream):
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])

    response = call(upstream, "GET", job["status_url"].replace("fal-ai/kokoro", "fal-ai/f5-tts"))

    assert response.status == 404, response.describe()


def test_early_result_is_pending(upstream):
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])

    response = call(upstream, "GET", job["response_url"])

    assert response.status == 202, response.describe()
    assert response.json()["status"] == "IN_QUEUE"


def test_queue_validation_at_result(upstream):
    job = submit(upstream, "fal-ai/f5-tts", {"gen_text": "Hi.", "ref_audio_url": "https://example.test/r.wav"})

    poll_until_done(upstream, job)
    result = call(upstream, "GET", job["response_url"])

    assert result.status == 422, result.describe()
    assert [item["loc"] for item in result.json()["detail"]] == [["body", "model_type"]]


def test_submit_invalid_json(upstream):
    response = call(upstream, "POST", f"{upstream.queue_url}/{KOKORO}", raw=b"{nope")

    assert response.status == 422, response.describe()
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_cancel_pending_job(upstream):
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])

    first = call(upstream, "PUT", job["cancel_url"])
    second = call(upstream, "PUT", job["cancel_url"])
    missing = call(upstream, "PUT", job["cancel_url"].replace(job["request_id"], "00000000-0000-0000-0000-000000000000"))

    assert (first.status, first.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    assert (second.status, second.json()) == (400, {"status": "ALREADY_COMPLETED"})
    assert (missing.status, missing.json()) == (404, {"status": "NOT_FOUND"})
    listed = [entry for entry in upstream.jobs() if entry["request_id"] == job["request_id"]]
    assert listed[0]["cancelled"] is True


def test_cancel_completed_job(upstream):
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])
    poll_until_done(upstream, job)

    response = call(upstream, "PUT", job["cancel_url"])

    assert (response.status, response.json()) == (400, {"status": "ALREADY_COMPLETED"})


def test_log_covers_both_listeners(upstream):
    output = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO]).json()
    fetch_file(output["audio"]["url"])

    entries = upstream.requests()

    assert [(entry["listener"], entry["method"]) for entry in entries] == [("api", "POST"), ("media", "GET")]
    assert entries[0]["headers"]["authorization"] == f"Key {upstream.api_key}"
    assert "authorization" not in entries[1]["headers"]
    assert entries[1]["headers"]["host"] == upstream.media_host


# --- Faults ---


def test_rate_limit_fault(upstream):
    upstream.add_faults({"kind": "status", "status": 429, "retry_after": 2})

    response = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO])

    assert response.status == 429, response.describe()
    assert response.headers.get("retry-after") == "2"
    assert response.json() == {"detail": "Too many requests"}


def test_status_fault_with_error_type(upstream):
    upstream.add_faults({"kind": "status", "status": 503, "code": "runner_scheduling_failure"})

    response = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO])

    assert response.status == 503, response.describe()
    assert response.headers.get("x-fal-error-type") == "runner_scheduling_failure"
    assert response.json()["error_type"] == "runner_scheduling_failure"


def test_faults_wait_for_valid_input(upstream):
    upstream.add_faults({"kind": "status", "status": 500})

    invalid = run_sync(upstream, KOKORO, {"prompt": "Hi.", "voice": "zz"})
    faulted = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO])

    assert invalid.status == 422
    assert faulted.status == 500


def test_infra_error_sync(upstream):
    upstream.add_faults({"kind": "infra_error", "error_type": "request_timeout", "status": 504})

    response = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO])

    assert response.status == 504, response.describe()
    assert response.json()["error_type"] == "request_timeout"
    assert response.headers.get("x-fal-error-type") == "request_timeout"


def test_infra_error_queue(upstream):
    upstream.add_faults({"kind": "infra_error", "error_type": "runner_disconnected", "status": 503})
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])

    poll_until_done(upstream, job)
    status = call(upstream, "GET", job["status_url"]).json()
    result = call(upstream, "GET", job["response_url"])

    assert status["error_type"] == "runner_disconnected"
    assert status["error"]
    assert result.status == 503, result.describe()


def test_stuck_job_never_completes(upstream):
    upstream.add_faults({"kind": "stuck"})
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])

    states = [call(upstream, "GET", job["status_url"]).json()["status"] for _ in range(6)]

    assert states == ["IN_PROGRESS"] * 6


def test_media_url_fault(upstream):
    upstream.add_faults({"kind": "media_url", "url": "http://127.0.0.3:9/files/x.wav"})

    output = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO]).json()

    assert output["audio"]["url"] == "http://127.0.0.3:9/files/x.wav"


def test_wrong_audio_fault(upstream):
    upstream.add_faults({"kind": "wrong_audio", "format": "mp3"})

    output = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO]).json()
    response = fetch_file(output["audio"]["url"])

    assert output["audio"]["url"].endswith(".wav")
    assert response.headers["content-type"] == "audio/wav"
    assert probe(response.body, "mp3").codec == "mp3"


def test_status_stage_fault(upstream):
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])
    upstream.add_faults({"kind": "status", "status": 500}, stage="status")

    faulted = call(upstream, "GET", job["status_url"])
    normal = call(upstream, "GET", job["status_url"])

    assert faulted.status == 500, faulted.describe()
    assert normal.status == 202, normal.describe()


def test_result_stage_fault(upstream):
    job = submit(upstream, KOKORO, VALID_INPUTS[KOKORO])
    poll_until_done(upstream, job)
    upstream.add_faults({"kind": "malformed_json", "status": 200}, stage="result")

    response = call(upstream, "GET", job["response_url"])

    assert response.status == 200
    with pytest.raises(ValueError):
        response.json()


def test_media_stage_reset(upstream):
    output = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO]).json()
    upstream.add_faults({"kind": "reset_mid_body", "after_bytes": 1000}, stage="media")

    response = fetch_file(output["audio"]["url"])

    assert response.read_error is not None, response.describe()
    assert len(response.body) <= 1000


def test_media_stage_slow(upstream):
    output = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO]).json()
    expected = fetch_file(output["audio"]["url"]).body
    upstream.add_faults({"kind": "slow", "chunk_delay_ms": 5}, stage="media")

    response = fetch_file(output["audio"]["url"])

    assert response.headers.get("transfer-encoding") == "chunked", response.headers
    assert response.body == expected


def test_media_stage_oversized(upstream):
    output = run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO]).json()
    upstream.add_faults({"kind": "oversized", "bytes": 300_000}, stage="media")

    response = fetch_file(output["audio"]["url"])

    assert response.status == 200
    assert len(response.body) == 300_000
    assert response.body.startswith(b"RIFF")


def test_hang_fault_closes_connection(upstream):
    upstream.add_faults({"kind": "hang", "max_seconds": 0.3})

    # The emulator closes the connection without a status line.
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        run_sync(upstream, KOKORO, VALID_INPUTS[KOKORO])


@pytest.mark.parametrize(
    "stage, fault",
    [
        ("status", {"kind": "stuck"}),
        ("media", {"kind": "wrong_audio", "format": "mp3"}),
        ("run", {"kind": "wrong_audio", "format": "ogg"}),
        ("run", {"kind": "media_url"}),
        ("run", {"kind": "infra_error", "status": "504"}),
        ("run", {"kind": "teleport"}),
    ],
)
def test_invalid_faults_rejected(upstream, stage, fault):
    with pytest.raises(ControlError):
        upstream.add_faults(fault, stage=stage)


def test_unknown_stage_rejected(upstream):
    response = rawhttp.request(upstream.url, "POST", "/__emulator/faults/submit", b"[]", {"Content-Type": "application/json"})

    assert response.status == 404, response.describe()
