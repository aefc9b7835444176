"""A provider plugin written in JavaScript serves speech through the gateway.

plugins/polyglot/openai-js is the OpenAI speech adapter written in JavaScript and built into
a component with ComponentizeJS (`make build` writes target/polyglot/openai-js.wasm). The
gateway loads it through the same checks as a Rust plugin and sends its request to the local
OpenAI emulator. The emulator checks the key, so a 200 also proves the key was filled in.
"""

import json

import pytest

from conftest import build_output, require_file
from support.audio import probe
from support.gateway import GatewaySettings

PROVIDER_ID = "openai-js"

# StarlingMonkey's heap needs more than the default 64 MiB when the plugin reads a large error
# body. Measured with the conformance kit: a 32 MiB body fails at 64 MiB and passes at 96 MiB.
# The operator therefore gives this plugin more, as docs/plugins.md explains.
MEMORY_LIMIT_MIB = 128


@pytest.fixture(scope="module")
def js_plugin():
    path = build_output("VOXGATE_POLYGLOT_PLUGINS", "target/polyglot") / "openai-js.wasm"
    return require_file(path, "JavaScript plugin", "VOXGATE_POLYGLOT_PLUGINS")


@pytest.fixture(scope="module")
def gateway(start_gateway, js_plugin, emulator):
    provider = {"settings": {"base-url": emulator.url}, "limits": {"memory_limit_mib": MEMORY_LIMIT_MIB}}
    return start_gateway([js_plugin], GatewaySettings(providers={PROVIDER_ID: provider}))


def test_javascript_plugin_loads(gateway):
    provider = gateway.provider(PROVIDER_ID)

    assert [model["id"] for model in provider.get("models", [])] == ["tts-1", "tts-1-hd"], provider


def test_javascript_plugin_serves_speech(gateway, upstream, api_key):
    response = gateway.speech({"model": f"{PROVIDER_ID}:tts-1", "voice": "nova", "input": "Hello from a JavaScript plugin.", "response_format": "mp3"})

    assert response.status == 200, response.describe()
    info = probe(response.body, "mp3")
    assert info.codec == "mp3", info
    assert info.decode_errors == "", info.decode_errors
    assert info.duration_s > 0.5, info
    sent = upstream.speech_requests()
    assert len(sent) == 1, sent
    body = json.loads(sent[0]["body"])
    assert body == {"model": "tts-1", "input": "Hello from a JavaScript plugin.", "voice": "nova", "response_format": "mp3"}, body
    headers = {name.lower(): value for name, value in dict(sent[0]["headers"]).items()}
    assert headers.get("authorization") == f"Bearer {api_key}", "the key was not filled in for the declared host"


def test_javascript_plugin_classifies_rate_limit(gateway, upstream):
    # The gateway makes one attempt per request in these tests (GatewaySettings' default).
    upstream.add_faults({"kind": "status", "status": 429, "retry_after": 2, "code": "rate_limit_exceeded"})

    response = gateway.speech({"model": f"{PROVIDER_ID}:tts-1", "voice": "nova", "input": "Slow down.", "response_format": "mp3"})

    upstream.clear_faults()
    assert response.status == 429, response.describe()
    assert response.headers.get("retry-after", "").isdigit(), response.headers
    assert len(upstream.speech_requests()) == 1, upstream.speech_requests()
