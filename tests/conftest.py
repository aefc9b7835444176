"""Fixtures shared by the emulator and gateway tests.

One emulator runs per test module. Gateway tests start one gateway per module too, through
`start_gateway`. Paths to build outputs come from the environment, relative to the
repository root:

- VOXGATE_BIN, default `target/debug/voxgate`
- VOXGATE_PLUGINS, default `target/plugins` (contains `openai.wasm`, `elevenlabs.wasm` and `fal.wasm`)
- VOXGATE_TEST_PLUGINS, default `target/test-plugins` (contains the `test-*.wasm` plugins)

A missing binary or plugin is an error, never a skip.
"""

import os
import secrets
import shutil
from pathlib import Path

import pytest

from support.emulator import OpenAIEmulator
from support.gateway import Gateway, GatewaySettings

REPO_ROOT = Path(__file__).resolve().parents[1]

TEST_PLUGIN_NAMES = (
    "test-trap",
    "test-loop",
    "test-alloc",
    "test-undeclared-host",
    "test-forbidden-import",
    "test-tone",
    "test-huge-output",
    "test-second-step-leak",
)

AUDIO_TOOLS = ("espeak-ng", "ffmpeg", "ffprobe")


def build_output(variable, default):
    """Resolve a build output path from the environment, relative to the repository root."""
    path = Path(os.environ.get(variable) or default)
    return path if path.is_absolute() else REPO_ROOT / path


def require_file(path, description, variable):
    if not path.is_file():
        pytest.fail(f"{description} not found at {path} (set by {variable}); run `make build` first", pytrace=False)
    return path


@pytest.fixture(scope="session")
def audio_tools():
    """Fail unless the programs that render and check audio are installed."""
    missing = [tool for tool in AUDIO_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found on PATH; install espeak-ng and ffmpeg (apt-get install espeak-ng ffmpeg)", pytrace=False)


@pytest.fixture(scope="session")
def voxgate_bin():
    path = require_file(build_output("VOXGATE_BIN", "target/debug/voxgate"), "voxgate binary", "VOXGATE_BIN")
    if not os.access(path, os.X_OK):
        pytest.fail(f"voxgate binary at {path} is not executable; run `make build` first", pytrace=False)
    return path


@pytest.fixture(scope="session")
def openai_plugin():
    plugin_dir = build_output("VOXGATE_PLUGINS", "target/plugins")
    return require_file(plugin_dir / "openai.wasm", "OpenAI plugin", "VOXGATE_PLUGINS")


@pytest.fixture(scope="session")
def elevenlabs_plugin():
    plugin_dir = build_output("VOXGATE_PLUGINS", "target/plugins")
    return require_file(plugin_dir / "elevenlabs.wasm", "ElevenLabs plugin", "VOXGATE_PLUGINS")


@pytest.fixture(scope="session")
def fal_plugin():
    plugin_dir = build_output("VOXGATE_PLUGINS", "target/plugins")
    return require_file(plugin_dir / "fal.wasm", "fal plugin", "VOXGATE_PLUGINS")


@pytest.fixture(scope="session")
def workers_ai_plugin():
    plugin_dir = build_output("VOXGATE_PLUGINS", "target/plugins")
    return require_file(plugin_dir / "workers-ai.wasm", "Workers AI plugin", "VOXGATE_PLUGINS")


@pytest.fixture(scope="session")
def test_plugins():
    """Return the path of each deliberately broken test plugin, by name."""
    plugin_dir = build_output("VOXGATE_TEST_PLUGINS", "target/test-plugins")
    return {name: require_file(plugin_dir / f"{name}.wasm", f"test plugin {name}", "VOXGATE_TEST_PLUGINS") for name in TEST_PLUGIN_NAMES}


@pytest.fixture(scope="module")
def api_key():
    """An OpenAI key shaped like a real one, random per module so that a leak is unmistakable."""
    return "sk-voxgate-canary-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, api_key, audio_tools):
    running = OpenAIEmulator(tmp_path_factory.mktemp("openai-emulator"), api_key)
    yield running
    running.stop()


@pytest.fixture
def upstream(emulator):
    """The module's emulator, with an empty request log and no pending faults."""
    emulator.reset()
    yield emulator
    emulator.clear_faults()


@pytest.fixture(scope="module")
def start_gateway(tmp_path_factory, voxgate_bin, emulator, api_key):
    """Return a function that starts a gateway in front of the module's emulator.

    Call it with the plugin files to load, optionally GatewaySettings, and optionally another
    base URL for the OpenAI plugin. Every gateway it started is stopped when the module ends.
    """
    started = []

    def start(plugin_files, settings=None, openai_base_url=None):
        workdir = tmp_path_factory.mktemp("voxgate")
        gateway = Gateway(voxgate_bin, workdir, plugin_files, openai_base_url or emulator.url, api_key, settings or GatewaySettings())
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
