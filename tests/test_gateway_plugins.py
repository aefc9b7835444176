"""The gateway survives deliberately broken plugins and keeps serving the good ones.

One gateway loads the OpenAI plugin and every test plugin. Each test plugin describes one
model `test` and one voice `test`, then misbehaves in one way in `synthesize`. `test-trap`
traps, `test-loop` never returns, `test-alloc` allocates until its memory limit, and
`test-undeclared-host` returns a request that sends its secret to `evil.invalid`.
`test-forbidden-import` imports `wasi:filesystem`, so it must never load. `test-tone`
behaves well and returns a sine tone, 60 ms per character of text.
"""

import time
from pathlib import Path

import pytest
from openai import OpenAI

from support.audio import probe
from support.gateway import GatewaySettings

# The host that test-undeclared-host addresses. `.invalid` never resolves (RFC 2606).
UNDECLARED_HOST = "evil.invalid"

# test-tone speaks 60 ms per character, at 24 kHz.
TONE_SECONDS_PER_CHARACTER = 0.060

LOADABLE_PROVIDERS = ("openai", "test-trap", "test-loop", "test-alloc", "test-undeclared-host", "test-tone")


@pytest.fixture(scope="module")
def gateway(start_gateway, openai_plugin, test_plugins, api_key):
    # The undeclared-host plugin gets the real key, so that a host which released secrets
    # to undeclared hosts would have something to leak.
    providers = {"test-undeclared-host": {"secrets": {"api-key": {"env": "OPENAI_API_KEY"}}}}
    return start_gateway([openai_plugin, *test_plugins.values()], GatewaySettings(providers=providers))


def plugin_speech(gateway, provider_id, text="Testing one two three.", format="wav"):
    return gateway.speech({"model": f"{provider_id}:test", "voice": "test", "input": text, "response_format": format})


def openai_request(gateway):
    return gateway.speech({"model": "tts-1", "voice": "alloy", "input": "Still working.", "response_format": "pcm"})


def test_forbidden_import_not_loaded(gateway):
    provider_ids = [provider.get("id") for provider in gateway.providers()]

    assert "test-forbidden-import" not in provider_ids, f"a plugin that imports wasi:filesystem was loaded: {provider_ids}"


def test_forbidden_import_logged(gateway):
    stderr = gateway.stderr()

    assert "test-forbidden-import.wasm" in stderr, f"stderr does not name the rejected file:\n{stderr[-3000:]}"
    assert "wasi:filesystem" in stderr, f"stderr does not name the forbidden import:\n{stderr[-3000:]}"


@pytest.mark.parametrize("provider_id", LOADABLE_PROVIDERS)
def test_other_plugins_load(gateway, provider_id):
    provider_ids = [provider.get("id") for provider in gateway.providers()]

    assert provider_id in provider_ids, f"{provider_id} did not load next to the rejected plugin: {provider_ids}"


@pytest.mark.parametrize("provider_id", ["test-trap", "test-loop", "test-alloc"])
def test_broken_plugin_contained(gateway, upstream, provider_id):
    response = plugin_speech(gateway, provider_id)

    error = response.error()
    assert response.status == 500, f"{provider_id} did not give HTTP 500: {response.describe()}"
    assert error is not None, f"body is not an OpenAI error object: {response.describe()}"
    assert error.get("code") == "plugin_failed", f"{provider_id} failure has code {error.get('code')!r}: {error}"
    assert provider_id in error.get("message", ""), f"the error does not name the plugin {provider_id}: {error}"
    assert response.headers.get("x-request-id"), f"error response has no x-request-id: {response.headers}"
    follow_up = openai_request(gateway)
    assert follow_up.status == 200, f"the gateway failed a valid request after {provider_id} failed: {follow_up.describe()}"


def epoch_thread_switches(gateway):
    """Return how often the gateway's epoch ticker thread has been switched out."""
    for task in Path(f"/proc/{gateway.server.process.pid}/task").iterdir():
        if (task / "comm").read_text(encoding="ascii").strip() == "voxgate-epoch":
            status = (task / "status").read_text(encoding="ascii").splitlines()
            return sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
    raise AssertionError("the gateway has no voxgate-epoch thread")


def test_epoch_ticker_sleeps_while_idle(gateway):
    # No plugin instance is alive between requests, so the ticker parks instead of waking
    # every 10 ms (about 100 times in the second watched here).
    assert openai_request(gateway).status == 200
    before = epoch_thread_switches(gateway)
    time.sleep(1.0)
    woken = epoch_thread_switches(gateway) - before

    assert woken <= 5, f"the epoch ticker woke {woken} times in 1 s while the gateway was idle"
    looping = plugin_speech(gateway, "test-loop")
    assert looping.status == 500, f"a looping plugin must still be stopped after the ticker slept: {looping.describe()}"


@pytest.mark.parametrize("provider_id", ["test-trap", "test-loop", "test-alloc"])
def test_broken_plugin_fails_again(gateway, provider_id):
    # Each synthesis gets a fresh instance, so a second call fails the same way instead of
    # reusing a poisoned one or hanging.
    first = plugin_speech(gateway, provider_id)

    second = plugin_speech(gateway, provider_id)

    assert first.status == 500, f"first call to {provider_id}: {first.describe()}"
    assert second.status == 500, f"second call to {provider_id}: {second.describe()}"
    assert (second.error() or {}).get("code") == "plugin_failed", f"second call to {provider_id}: {second.describe()}"


def test_undeclared_host_refused(gateway, upstream, api_key):
    response = plugin_speech(gateway, "test-undeclared-host")

    error = response.error()
    assert 500 <= response.status < 600, f"a request to an undeclared host was not a 5xx: {response.describe()}"
    assert error is not None, f"body is not an OpenAI error object: {response.describe()}"
    assert UNDECLARED_HOST in error.get("message", ""), f"the error does not name the refused host {UNDECLARED_HOST}: {error}"
    assert api_key not in response.body.decode("utf-8", "replace"), "the error body contains the secret"
    assert upstream.requests() == [], f"the gateway sent something to the emulator: {upstream.requests()}"
    assert openai_request(gateway).status == 200, "the gateway failed a valid request after the refusal"


def test_tone_returns_wav(gateway):
    text = "Hello tone."

    response = plugin_speech(gateway, "test-tone", text=text)

    assert response.status == 200, f"test-tone failed: {response.describe()}"
    assert response.headers.get("content-type") == "audio/wav", f"wrong content type: {response.headers}"
    assert response.headers.get("x-voxgate-provider") == "test-tone", f"wrong x-voxgate-provider: {response.headers}"
    info = probe(response.body, "wav")
    assert info.decode_errors == "", f"tone WAV does not decode cleanly: {info.decode_errors}"
    assert info.codec == "pcm_s16le", f"tone WAV probed as codec {info.codec!r}"
    assert info.channels == 1, f"tone WAV has {info.channels} channels"
    assert info.sample_rate == 24000, f"tone WAV is {info.sample_rate} Hz"
    expected_seconds = TONE_SECONDS_PER_CHARACTER * len(text)
    assert abs(info.duration_s - expected_seconds) < 0.002, f"tone lasts {info.duration_s:.3f} s, expected {expected_seconds:.3f} s"


def test_tone_through_sdk(gateway):
    client = OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=60)

    speech = client.audio.speech.create(model="test-tone:test", voice="test", input="Hi there.", response_format="pcm")

    info = probe(speech.content, "pcm")
    assert info.decode_errors == "", f"tone PCM does not decode cleanly: {info.decode_errors}"
    assert abs(info.duration_s - TONE_SECONDS_PER_CHARACTER * len("Hi there.")) < 0.002, f"tone PCM lasts {info.duration_s:.3f} s"
