"""The gateway under test: its configuration, and a start that waits for it to listen."""

import hashlib
import json
import shutil
from pathlib import Path

from harness.processes import clean_environment

# The name of the one client key in `[[keys]]`. A configured key keeps the request path as
# an operator runs it, because open mode skips authentication.
CLIENT_KEY_NAME = "bench"


def copy_plugins(plugin_files, folder):
    """Copy the plugin components into a folder of the run, so that a `make build` running
    meanwhile cannot swap a plugin under the benchmark."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for plugin_file in plugin_files:
        shutil.copy(plugin_file, folder / Path(plugin_file).name)
    return folder


def sha256_hex(key):
    return hashlib.sha256(key.encode()).hexdigest()


def render_config(workdir, plugin_dir, compiled_dir, upstream_url, keys, cache):
    """Return the TOML of one gateway: every default, except the paths, the OpenAI plugin's
    `base-url` pointing at the benchmark upstream, the client and admin keys, and the cache
    switch."""
    workdir = Path(workdir)
    lines = [
        "[server]",
        'listen = "127.0.0.1:0"',
        "",
        "[plugins]",
        f"dir = {json.dumps(str(plugin_dir))}",
        f"cache_dir = {json.dumps(str(compiled_dir))}",
        "",
        "[providers.openai]",
        f"settings = {{ base-url = {json.dumps(upstream_url)} }}",
        'secrets = { api-key = { env = "OPENAI_API_KEY" } }',
        "",
        "[cache]",
        f"enabled = {'true' if cache else 'false'}",
        f"dir = {json.dumps(str(workdir / 'audio-cache'))}",
        "",
        "[usage]",
        f"path = {json.dumps(str(workdir / 'usage.redb'))}",
        "",
        "[admin]",
        f'key_sha256 = "{sha256_hex(keys.admin)}"',
        "",
        "[[keys]]",
        f'name = "{CLIENT_KEY_NAME}"',
        f'key_sha256 = "{sha256_hex(keys.client)}"',
    ]
    return "\n".join(lines) + "\n"


def start_gateway(servers, binary, workdir, plugin_dir, compiled_dir, upstream_url, keys, cache, name="voxgate"):
    """Write the configuration into `workdir` and start `voxgate serve` with it. `keys` has
    the `upstream`, `client` and `admin` keys of the run."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "voxgate.toml"
    config_path.write_text(render_config(workdir, plugin_dir, compiled_dir, upstream_url, keys, cache), encoding="utf-8")
    env = clean_environment(OPENAI_API_KEY=keys.upstream, VOXGATE_LOG="info")
    command = [binary, "serve", "--config", config_path]
    # Compiling a large plugin (the local voice embeds its model) into an empty compiled-
    # component cache can take minutes on a loaded 2-core machine.
    return servers.start(name, command, workdir, env=env, ready_timeout_s=600)
