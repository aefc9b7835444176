"""The voxgate command line: `say`, `plugins`, configuration errors and the compile cache.

Each test runs the real binary as an operator would, with a configuration file written to a
temporary folder.
"""

import os
import subprocess

import pytest

from support.audio import probe
from support.gateway import Gateway, GatewaySettings

COMMAND_TIMEOUT_S = 120


def write_config(folder, plugin_dir, extra=""):
    config = folder / "voxgate.toml"
    config.write_text(
        f'[plugins]\ndir = "{plugin_dir}"\ncache_dir = "{folder / "compiled"}"\n\n'
        f'[usage]\npath = "{folder / "usage.redb"}"\n\n[cache]\ndir = "{folder / "audio"}"\n{extra}',
        encoding="utf-8",
    )
    return config


def run_voxgate(voxgate_bin, config, *args, env=None):
    base_env = {name: value for name, value in os.environ.items() if not name.startswith(("VOXGATE_", "OPENAI_"))}
    return subprocess.run(
        [str(voxgate_bin), "--config", str(config), *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=COMMAND_TIMEOUT_S,
        env={**base_env, **(env or {})},
        check=False,
    )


@pytest.fixture
def plugin_dir(tmp_path, openai_plugin, test_plugins):
    folder = tmp_path / "plugins"
    folder.mkdir()
    for path in (openai_plugin, test_plugins["test-tone"], test_plugins["test-forbidden-import"]):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_say_writes_wav(voxgate_bin, tmp_path, plugin_dir):
    config = write_config(tmp_path, plugin_dir)
    output = tmp_path / "tone.wav"
    result = run_voxgate(voxgate_bin, config, "say", "Hello there", "--provider", "test-tone", "-o", str(output))
    assert result.returncode == 0, result.stderr.decode()
    info = probe(output.read_bytes(), "wav")
    assert info.codec == "pcm_s16le", info.decode_errors
    # test-tone speaks 60 ms per character.
    assert info.duration_s == pytest.approx(len("Hello there") * 0.060, abs=0.01)


def test_say_through_openai(voxgate_bin, tmp_path, plugin_dir, emulator, api_key):
    extra = f'[providers.openai]\nsettings = {{ base-url = "{emulator.url}" }}\n'
    config = write_config(tmp_path, plugin_dir, extra)
    output = tmp_path / "hello.mp3"
    result = run_voxgate(voxgate_bin, config, "say", "Hello from the command line.", "--voice", "nova", "-o", str(output), env={"OPENAI_API_KEY": api_key})
    assert result.returncode == 0, result.stderr.decode()
    assert probe(output.read_bytes(), "mp3").codec == "mp3"
    assert api_key not in result.stderr.decode(), "the key must never be printed"


def test_say_unknown_voice_fails(voxgate_bin, tmp_path, plugin_dir):
    config = write_config(tmp_path, plugin_dir)
    result = run_voxgate(voxgate_bin, config, "say", "Hi", "--provider", "test-tone", "--voice", "nobody", "-o", str(tmp_path / "x.wav"))
    assert result.returncode != 0
    assert "nobody" in result.stderr.decode()
    assert not (tmp_path / "x.wav").exists()


def test_say_unknown_provider_is_named(voxgate_bin, tmp_path, plugin_dir):
    config = write_config(tmp_path, plugin_dir)
    # A user error prints its message, never a backtrace, even with RUST_BACKTRACE set.
    result = run_voxgate(voxgate_bin, config, "say", "Hi", "--provider", "nosuch", "-o", str(tmp_path / "x.wav"), env={"RUST_BACKTRACE": "1"})
    stderr = result.stderr.decode()
    assert result.returncode != 0
    assert "provider `nosuch` is not loaded" in stderr, stderr
    assert "test-tone" in stderr, "the message lists the providers that are loaded"
    assert "Stack backtrace" not in stderr, stderr
    assert "stack backtrace" not in stderr, stderr
    assert not (tmp_path / "x.wav").exists()


def test_plugins_lists_loaded_and_rejected(voxgate_bin, tmp_path, plugin_dir):
    config = write_config(tmp_path, plugin_dir)
    result = run_voxgate(voxgate_bin, config, "plugins")
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    loaded = [line for line in lines if line.startswith("loaded")]
    rejected = [line for line in lines if line.startswith("rejected")]
    assert any(" openai " in line for line in loaded), lines
    assert any(" test-tone " in line for line in loaded), lines
    assert len(rejected) == 1, lines
    assert "test-forbidden-import.wasm" in rejected[0]
    assert "wasi:filesystem" in rejected[0]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "does not start with the WebAssembly magic bytes"),
        (b"MZ\x90\x00 not wasm at all", "does not start with the WebAssembly magic bytes"),
        (b"\x00asm", "the file ends inside the 8-byte WebAssembly header"),
        (b"\x00asm\x01\x00\x00\x00", "it is a core WebAssembly module"),
        (b"\x00asm\x02\x00\x00\x00", "its version and layer bytes are [02, 00, 00, 00]"),
        (b"\x00asm\x0d\x00\x01\x00\x07", "not a valid WebAssembly component"),
    ],
    ids=["empty", "not-wasm", "magic-only", "core-module", "version-2", "truncated-component"],
)
def test_non_component_rejected_in_one_line(voxgate_bin, tmp_path, content, reason):
    plugin_folder = tmp_path / "plugins"
    plugin_folder.mkdir()
    (plugin_folder / "broken.wasm").write_bytes(content)
    config = write_config(tmp_path, plugin_folder)

    result = run_voxgate(voxgate_bin, config, "plugins")

    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    rejected = [line for line in lines if line.startswith("rejected")]
    assert len(rejected) == 1, lines
    assert "broken.wasm" in rejected[0], rejected
    assert reason in rejected[0], rejected
    assert lines[1:] == rejected, f"the reason spans more than one line: {lines}"


def test_file_name_controls_escaped(voxgate_bin, tmp_path):
    plugin_folder = tmp_path / "plugins"
    plugin_folder.mkdir()
    (plugin_folder / "evil\nloaded   fake.wasm").write_bytes(b"not wasm")
    config = write_config(tmp_path, plugin_folder)

    result = run_voxgate(voxgate_bin, config, "plugins")

    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert not any(line.startswith("loaded") for line in lines), f"a file name forged a line: {lines}"
    assert len(lines) == 2, lines
    assert lines[1].startswith("rejected evil\\nloaded   fake.wasm"), lines


def test_unknown_config_key_names_key_and_line(voxgate_bin, tmp_path, plugin_dir):
    config = write_config(tmp_path, plugin_dir, "\n[server]\nlisen = \"127.0.0.1:0\"\n")
    typo_line = config.read_text().splitlines().index('lisen = "127.0.0.1:0"') + 1
    result = run_voxgate(voxgate_bin, config, "serve")
    stderr = result.stderr.decode()
    assert result.returncode != 0
    assert "lisen" in stderr, stderr
    assert f"line {typo_line}" in stderr, stderr


def test_unknown_provider_setting_rejects_plugin(voxgate_bin, tmp_path, plugin_dir):
    config = write_config(tmp_path, plugin_dir, '\n[providers.openai]\nsettings = { bass-url = "http://127.0.0.1:1" }\n')
    result = run_voxgate(voxgate_bin, config, "plugins")
    stdout = result.stdout.decode()
    rejected = [line for line in stdout.splitlines() if line.startswith("rejected") and "openai.wasm" in line]
    assert rejected, stdout
    assert "providers.openai.settings.bass-url" in rejected[0]
    assert "base-url" in rejected[0], "the message should list the accepted settings"


def test_restart_uses_compile_cache(voxgate_bin, tmp_path, openai_plugin, emulator, api_key):
    # Two gateways in turn with the same workdir share one compiled-component folder.
    first = Gateway(voxgate_bin, tmp_path / "first", [openai_plugin], emulator.url, api_key, GatewaySettings())
    first.stop()
    assert "compiled=Compiled" in first.stderr(), first.stderr()

    cache = tmp_path / "first" / "compiled"
    assert any(cache.iterdir()), "the first start should have stored the compiled plugin"
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    (second_dir / "compiled").symlink_to(cache)
    second = Gateway(voxgate_bin, second_dir, [openai_plugin], emulator.url, api_key, GatewaySettings())
    second.stop()
    assert "compiled=Cached" in second.stderr(), second.stderr()


def test_unwritable_compile_cache_is_reported(voxgate_bin, tmp_path, openai_plugin, emulator, api_key):
    # A regular file where the compile cache folder should be: no child process could store
    # its output, so the gateway compiles the plugin itself and logs one warning.
    workdir = tmp_path / "gateway"
    workdir.mkdir()
    (workdir / "compiled").write_text("not a folder", encoding="utf-8")
    gateway = Gateway(voxgate_bin, workdir, [openai_plugin], emulator.url, api_key, GatewaySettings())
    try:
        assert gateway.provider("openai").get("configured") is True
    finally:
        gateway.stop()

    log = gateway.stderr()
    warnings = [line for line in log.splitlines() if "failed to store a compiled component" in line]
    assert len(warnings) == 1, log
    assert "openai.wasm" in warnings[0], "the warning names the plugin file"
    assert "check plugins.cache_dir" in warnings[0], warnings[0]
    assert "compiling in a child process failed" not in log, "no child should start when the cache folder cannot exist"


def test_first_party_plugins_all_load(voxgate_bin, tmp_path, openai_plugin):
    # Every component `make build` puts in the plugin folder must pass the host's checks,
    # the allowed-imports check among them.
    plugin_folder = openai_plugin.parent
    config = write_config(tmp_path, plugin_folder)
    result = run_voxgate(voxgate_bin, config, "plugins")
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    loaded = [line for line in lines if line.startswith("loaded")]
    rejected = [line for line in lines if line.startswith("rejected")]
    assert rejected == [], lines
    assert len(loaded) == len(list(plugin_folder.glob("*.wasm"))), lines
