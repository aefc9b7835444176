"""State shared by the scenarios of one run: binaries, keys, the work folder, and the
upstreams and gateways it has started."""

import http.client
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harness.gateway import copy_plugins, start_gateway

SPEECH_PATH = "/v1/audio/speech"
SPEECH_BODY = json.dumps({
    "model": "tts-1",
    "input": "The quick brown fox jumps over the lazy dog.",
    "voice": "alloy",
    "response_format": "mp3",
})


@dataclass(frozen=True)
class UpstreamProfile:
    """The benchmark upstream's response: clip length, chunks, and the pause between chunks."""

    body_bytes: int
    chunks: int = 1
    chunk_delay_ms: int = 0


@dataclass(frozen=True)
class Keys:
    """The run's keys: the upstream's (as the gateway's OpenAI key), a client key, the admin key."""

    upstream: str
    client: str
    admin: str


@dataclass
class Options:
    """The sizes of one run; `bench/run.py` fills them from its command line."""

    duration_s: int = 10
    warmup_s: int = 1
    connections: tuple = (1, 16, 64)
    cache_connections: int = 16
    body_bytes: int = 51_200
    stream_chunks: int = 13
    stream_chunk_delay_ms: int = 100
    ttfb_samples: int = 150
    ttfb_connections: int = 10
    streams: int = 1000
    # The held streams last chunks × delay: 13 s with these values, long enough for every
    # stream to have started before the first one ends.
    hold_chunk_delay_ms: int = 1000
    cold_runs: int = 3
    warm_runs: int = 5
    instantiation_iterations: int = 2000


def load_average():
    """Return the 1, 5 and 15 minute load averages, rounded."""
    return [round(value, 2) for value in os.getloadavg()]


def measured(function, *args, **kwargs):
    """Call `function` and add the load average before and after to the dict it returns."""
    before = load_average()
    result = function(*args, **kwargs)
    result["load_average"] = {"before": before, "after": load_average()}
    return result


def post_speech(url, api_key, timeout_s=30):
    """POST the benchmark's speech request once on a new connection; return (status, headers, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    try:
        connection.request("POST", SPEECH_PATH, body=SPEECH_BODY, headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {api_key}",
        })
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def get_text(url, path, api_key=None, timeout_s=10):
    """GET `path` and return (status, text)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


class Bench:
    """One benchmark run's shared state."""

    def __init__(self, repo, workdir, gateway_bin, bench_bin, plugin_files, options, servers):
        self.repo = Path(repo)
        self.workdir = Path(workdir)
        self.gateway_bin = Path(gateway_bin).resolve()
        self.bench_bin = Path(bench_bin).resolve()
        self.options = options
        self.servers = servers
        # Fresh random keys per run, so no real key is ever involved.
        self.keys = Keys(
            upstream="sk-bench-" + secrets.token_hex(16),
            client="vg-bench-" + secrets.token_hex(16),
            admin="vg-bench-admin-" + secrets.token_hex(16),
        )
        self.plugin_files = [Path(path).resolve() for path in plugin_files]
        self.plugin_dir = copy_plugins(self.plugin_files, self.workdir / "plugins")
        # Compiled components shared by every gateway of the run: warm after the first start.
        self.compiled_dir = self.workdir / "compiled"
        self._upstreams = {}
        self._gateway_count = 0

    def upstream(self, profile):
        """Return the upstream serving `profile`, started on first use and kept for the run."""
        if profile not in self._upstreams:
            name = f"upstream-{len(self._upstreams) + 1}"
            self._upstreams[profile] = self.start_upstream(profile, name)
        return self._upstreams[profile]

    def start_upstream(self, profile, name):
        command = [
            self.bench_bin, "upstream",
            "--api-key", self.keys.upstream,
            "--body-bytes", profile.body_bytes,
            "--chunks", profile.chunks,
            "--chunk-delay-ms", profile.chunk_delay_ms,
        ]
        return self.servers.start(name, command, self.workdir)

    def start_proxy(self, upstream):
        """Start `voxgate-bench proxy` in front of `upstream`, with the upstream's key."""
        command = [self.bench_bin, "proxy", "--upstream", upstream.url, "--api-key", self.keys.upstream]
        return self.servers.start("proxy", command, self.workdir)

    def upstream_stats(self, upstream):
        status, text = get_text(upstream.url, "/bench/stats")
        if status != 200:
            raise RuntimeError(f"GET /bench/stats on {upstream.url} returned HTTP {status}: {text}")
        return json.loads(text)

    def start_gateway(self, upstream, cache, compiled_dir=None, label="gateway"):
        """Start a gateway in a folder of its own, in front of `upstream`."""
        self._gateway_count += 1
        name = f"{label}-{self._gateway_count}"
        return start_gateway(
            self.servers,
            self.gateway_bin,
            self.workdir / name,
            self.plugin_dir,
            compiled_dir or self.compiled_dir,
            upstream.url,
            self.keys,
            cache,
            name=name,
        )

    def clip_profile(self):
        return UpstreamProfile(self.options.body_bytes)

    def stream_profile(self):
        return UpstreamProfile(self.options.body_bytes, self.options.stream_chunks, self.options.stream_chunk_delay_ms)

    def hold_profile(self):
        return UpstreamProfile(self.options.body_bytes, self.options.stream_chunks, self.options.hold_chunk_delay_ms)


def wait_until(predicate, timeout_s, interval_s=0.05):
    """Poll `predicate` until it returns a true value or `timeout_s` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = predicate()
    return value
