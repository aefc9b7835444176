"""Run the voxgate binary with a generated configuration, the way an operator would."""

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from support import rawhttp
from support.processes import ServerProcess

# Environment variables that could change the gateway's behaviour behind a test's back.
INHERITED_PREFIXES_TO_DROP = ("VOXGATE_", "OPENAI_", "ELEVENLABS_", "FAL_", "CLOUDFLARE_", "CF_AIG_", "RUST_LOG")


@dataclass
class GatewaySettings:
    """The configuration values a test may change; the defaults follow the documented example."""

    max_request_bytes: int = 1_048_576
    memory_limit_mib: int = 64
    call_timeout_ms: int = 2000
    connect_timeout_ms: int = 2000
    first_byte_timeout_ms: int = 5000
    total_timeout_ms: int = 30000
    max_response_bytes: int = 8_388_608
    log_format: str = None
    # Extra `[providers.ID]` tables: provider id to a dict of TOML values.
    providers: dict = field(default_factory=dict)
    # The `[resilience]` table. One attempt by default, so that a test's count of upstream
    # requests is exact; the resilience tests set retries themselves.
    resilience: dict = field(default_factory=lambda: {"max_attempts": 1})
    # Further TOML appended as it is, for `[routes.NAME]`, `[tiers]`, `[voices.NAME]`,
    # `[[keys]]` and `[admin]`.
    extra_toml: str = ""
    # How often the gateway polls its plugin folder, in milliseconds; 0 turns it off.
    watch_interval_ms: int = 0
    # The `[cache]` table. Off by default, so that repeating a request reaches the provider;
    # the cache tests turn it on. `dir` defaults to a folder in the gateway's workdir.
    cache: dict = field(default_factory=lambda: {"enabled": False})
    # The `[usage]` table; `path` defaults to a file in the gateway's workdir.
    usage: dict = field(default_factory=dict)
    listen: str = "127.0.0.1:0"


def toml_value(value):
    """Format a str, bool, int or dict as TOML. JSON string escapes are valid TOML basic strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(key)} = {toml_value(item)}" for key, item in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def render_config(plugin_dir, cache_dir, openai_base_url, settings):
    """Return the TOML configuration text for one gateway.

    With `openai_base_url` None there is no `[providers.openai]` table; `settings.providers`
    then describes every provider.
    """
    lines = [
        "[server]",
        f"listen = {toml_value(settings.listen)}",
        f"max_request_bytes = {settings.max_request_bytes}",
        "",
        "[plugins]",
        f"dir = {toml_value(str(plugin_dir))}",
        f"cache_dir = {toml_value(str(cache_dir))}",
        f"watch_interval_ms = {settings.watch_interval_ms}",
        "",
        "[engine]",
        f"memory_limit_mib = {settings.memory_limit_mib}",
        f"call_timeout_ms = {settings.call_timeout_ms}",
        "",
        "[upstream]",
        f"connect_timeout_ms = {settings.connect_timeout_ms}",
        f"first_byte_timeout_ms = {settings.first_byte_timeout_ms}",
        f"total_timeout_ms = {settings.total_timeout_ms}",
        f"max_response_bytes = {settings.max_response_bytes}",
    ]
    providers = dict(settings.providers)
    if openai_base_url is not None:
        # Extra keys a test gives for openai (capacity, limits) join the emulator's settings.
        openai = {"settings": {"base-url": openai_base_url}, "secrets": {"api-key": {"env": "OPENAI_API_KEY"}}}
        openai.update(providers.pop("openai", {}))
        providers = {"openai": openai, **providers}
    for provider_id, table in providers.items():
        lines += ["", f"[providers.{provider_id}]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    cache = dict(settings.cache)
    if cache.get("backend", "disk") == "disk":
        cache.setdefault("dir", str(Path(cache_dir).parent / "audio-cache"))
    lines += ["", "[cache]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in cache.items() if not isinstance(value, dict)]
    for key, value in cache.items():
        if isinstance(value, dict):
            lines += ["", f"[cache.{key}]"]
            lines += [f"{name} = {toml_value(item)}" for name, item in value.items()]
    usage = dict(settings.usage)
    if usage.get("backend", "embedded") == "embedded":
        usage.setdefault("path", str(Path(cache_dir).parent / "usage.redb"))
    lines += ["", "[usage]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in usage.items()]
    lines += ["", "[resilience]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in settings.resilience.items()]
    if settings.extra_toml:
        lines += ["", settings.extra_toml]
    return "\n".join(lines) + "\n"


class Gateway:
    """A running `voxgate serve` with its own plugin directory, compile cache and log files."""

    def __init__(self, binary, workdir, plugin_files, openai_base_url, api_key, settings=None, extra_env=None):
        """Start the gateway. `extra_env` adds environment variables, such as another provider's key."""
        self.settings = settings or GatewaySettings()
        self.workdir = Path(workdir)
        self.plugin_dir = self.workdir / "plugins"
        self.plugin_dir.mkdir(parents=True)
        for plugin_file in plugin_files:
            shutil.copy(plugin_file, self.plugin_dir / Path(plugin_file).name)

        self.config_path = self.workdir / "voxgate.toml"
        config = render_config(self.plugin_dir, self.workdir / "compiled", openai_base_url, self.settings)
        self.config_path.write_text(config, encoding="utf-8")

        env = {name: value for name, value in os.environ.items() if not name.startswith(INHERITED_PREFIXES_TO_DROP)}
        env["OPENAI_API_KEY"] = api_key
        # Debug logging, so that the secret tests check everything the gateway could ever log.
        env["VOXGATE_LOG"] = "debug"
        env.update(extra_env or {})

        command = [str(binary), "serve", "--config", str(self.config_path)]
        if self.settings.log_format:
            command += ["--log-format", self.settings.log_format]
        self.server = ServerProcess("voxgate", command, str(self.workdir), env)
        self.url = self.server.url

    def stop(self):
        return self.server.stop()

    def stdout(self):
        return self.server.stdout()

    def stderr(self):
        return self.server.stderr()

    def providers(self):
        status, value = rawhttp.get_json(self.url, "/v1/providers")
        if status != 200:
            raise AssertionError(f"GET /v1/providers returned HTTP {status}: {value!r}")
        return value["providers"]

    def provider(self, provider_id):
        """Return the `/v1/providers` entry with this id; fail with the ids that exist."""
        providers = self.providers()
        for provider in providers:
            if provider.get("id") == provider_id:
                return provider
        raise AssertionError(f"provider {provider_id!r} not in GET /v1/providers; ids are {[p.get('id') for p in providers]}")

    def speech(self, value, headers=None, timeout=rawhttp.DEFAULT_TIMEOUT_S):
        """POST a JSON value to /v1/audio/speech and read the whole response."""
        return rawhttp.post_json(self.url, "/v1/audio/speech", value, headers, timeout)

    def speech_raw(self, body, headers=None, timeout=rawhttp.DEFAULT_TIMEOUT_S):
        """POST raw bytes to /v1/audio/speech, for bodies that are not valid JSON."""
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        return rawhttp.request(self.url, "POST", "/v1/audio/speech", body, all_headers, timeout)
