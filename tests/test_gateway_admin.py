"""Client keys, the admin key, and plugins swapped while the gateway serves.

Keys live in the configuration as SHA-256 digests; clients send them as `Authorization:
Bearer` (OpenAI API) or `xi-api-key` (ElevenLabs API). The plugin folder is watched, and a
reload swaps plugins in one step, keeping the last good version of a file that fails.
"""

import hashlib
import os
import shutil
import subprocess
import time

import pytest

from support import rawhttp
from support.emulator import speech_body
from support.gateway import GatewaySettings

CLIENT_KEY = "vg-client-" + "a1" * 16
LIMITED_KEY = "vg-limited-" + "b2" * 16
ADMIN_KEY = "vg-admin-" + "c3" * 16
SWAP_TIMEOUT_S = 30


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


KEYS_TOML = f"""
[[keys]]
name = "app"
key_sha256 = "{digest(CLIENT_KEY)}"

[[keys]]
name = "tone-only"
key_sha256 = "{digest(LIMITED_KEY)}"
providers = ["test-tone"]
routes = ["tone"]

[routes.tone]
candidates = ["openai:tts-1", "test-tone:test"]

[admin]
key_sha256 = "{digest(ADMIN_KEY)}"
"""


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def keyed(start_gateway, openai_plugin, test_plugins):
    settings = GatewaySettings(extra_toml=KEYS_TOML)
    return start_gateway([openai_plugin, test_plugins["test-tone"]], settings)


def test_missing_key_is_401(keyed, upstream):
    response = keyed.speech(speech_body())
    assert response.status == 401, response.describe()
    assert response.error()["code"] == "invalid_api_key"
    assert upstream.speech_requests() == []


def test_wrong_key_is_401(keyed, upstream):
    response = keyed.speech(speech_body(), headers=bearer("vg-wrong"))
    assert response.status == 401, response.describe()
    assert upstream.speech_requests() == []


def test_valid_key_speaks(keyed, upstream):
    response = keyed.speech(speech_body(), headers=bearer(CLIENT_KEY))
    assert response.status == 200, response.describe()
    assert len(upstream.speech_requests()) == 1
    sent = upstream.speech_requests()[0]["headers"]["authorization"]
    assert CLIENT_KEY not in sent, "the client's key must never be forwarded upstream"


def test_xi_api_key_on_elevenlabs_route(keyed):
    path = "/v1/text-to-speech/test?output_format=wav_24000"
    response = rawhttp.post_json(keyed.url, path, {"text": "Hi."}, {"xi-api-key": CLIENT_KEY})
    assert response.status == 200, response.describe()
    refused = rawhttp.post_json(keyed.url, path, {"text": "Hi."}, {"xi-api-key": "nope"})
    assert refused.status == 401
    assert refused.json()["detail"]["status"] == "invalid_api_key"


def test_provider_limit_is_403(keyed, upstream):
    response = keyed.speech(speech_body(), headers=bearer(LIMITED_KEY))
    assert response.status == 403, response.describe()
    assert response.error()["code"] == "permission_denied"
    assert "openai" in response.error()["message"]
    assert upstream.speech_requests() == []


def test_route_limit_is_403(keyed):
    allowed = keyed.speech(speech_body(model="tone", voice="test", response_format="wav"), headers=bearer(LIMITED_KEY))
    assert allowed.status == 200, allowed.describe()
    assert allowed.headers["x-tts-provider"] == "test-tone", "the route's openai candidate is not allowed for this key"
    refused = keyed.speech(speech_body(model="premium", voice="test", response_format="wav"), headers=bearer(LIMITED_KEY))
    assert refused.status == 403, refused.describe()


def test_admin_needs_admin_key(keyed):
    refused = rawhttp.request(keyed.url, "POST", "/admin/plugins/reload", headers=bearer(CLIENT_KEY))
    assert refused.status == 401, refused.describe()
    accepted = rawhttp.request(keyed.url, "POST", "/admin/plugins/reload", headers=bearer(ADMIN_KEY))
    assert accepted.status == 200, accepted.describe()
    assert accepted.json()["rejected"] == []


def test_cli_reload_uses_admin_key(keyed, voxgate_bin):
    env = {**os.environ, "VOXGATE_ADMIN_KEY": ADMIN_KEY}
    result = subprocess.run(
        [str(voxgate_bin), "plugins", "reload", "--url", keyed.url],
        capture_output=True, stdin=subprocess.DEVNULL, env=env, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert '"removed":[]' in result.stdout.decode()


def test_keys_hash_matches(voxgate_bin):
    result = subprocess.run([str(voxgate_bin), "keys", "hash"], input=CLIENT_KEY.encode(), capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == digest(CLIENT_KEY)


def test_open_mode_stays_on_loopback(start_gateway, openai_plugin):
    gateway = start_gateway([openai_plugin], GatewaySettings(listen="0.0.0.0:0"))
    assert gateway.url.startswith("http://127.0.0.1:")
    assert "listening on loopback only" in gateway.stderr()


def wait_for(condition, message):
    deadline = time.monotonic() + SWAP_TIMEOUT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(message)


def provider_ids(gateway):
    return {provider["id"] for provider in gateway.providers()}


def test_plugin_added_and_removed(start_gateway, openai_plugin, test_plugins):
    gateway = start_gateway([openai_plugin], GatewaySettings(watch_interval_ms=100))
    assert provider_ids(gateway) == {"openai"}

    shutil.copy(test_plugins["test-tone"], gateway.plugin_dir / "test-tone.wasm")
    wait_for(lambda: "test-tone" in provider_ids(gateway), "a component copied into the folder was not loaded")
    response = gateway.speech(speech_body(model="test-tone:test", voice="test", response_format="wav"))
    assert response.status == 200, response.describe()

    (gateway.plugin_dir / "test-tone.wasm").unlink()
    wait_for(lambda: "test-tone" not in provider_ids(gateway), "a removed component kept serving")


def test_broken_update_keeps_previous(start_gateway, openai_plugin, upstream):
    gateway = start_gateway([openai_plugin], GatewaySettings(watch_interval_ms=100))
    (gateway.plugin_dir / "openai.wasm").write_bytes(b"\x00asm\x0d\x00\x01\x00 not a component")

    def rejected():
        status, value = rawhttp.get_json(gateway.url, "/v1/providers")
        return any(entry["file"] == "openai.wasm" for entry in value["rejected"])

    wait_for(rejected, "a broken component was not reported")
    assert "openai" in provider_ids(gateway), "the last good version must keep serving"
    response = gateway.speech(speech_body(response_format="wav"))
    assert response.status == 200, response.describe()
    assert "previous version keeps serving" in gateway.stderr()
