"""Start-up and idle costs: memory at rest, cold start to the first served request, and
plugin instantiation."""

import json
import os
import statistics
import subprocess
import time

from harness.context import load_average, post_speech

INSTANTIATION_PREFIX = "voxgate-bench instantiation "


def idle_memory(bench, settle_s=2.0):
    """Read the memory of idle gateways that have loaded every plugin: one that compiled
    them all at start (an empty compiled-component cache), then one that loaded them from
    the filled cache. Returns the figures and the second gateway, still running."""
    plugins = sorted(path.name for path in bench.plugin_files)
    upstream = bench.upstream(bench.clip_profile())
    figures = {}
    for state in ("compiled_cache_cold", "compiled_cache_warm"):
        gateway = bench.start_gateway(upstream, cache=False, label="idle")
        time.sleep(settle_s)
        figures[state] = {**gateway.memory_kib(), "listening_ms": round(gateway.listening_s * 1000, 1), "load_average": load_average()}
        if state == "compiled_cache_cold":
            bench.servers.stop(gateway)
    return {"plugins": plugins, **figures}, gateway


def time_first_request(start, api_key):
    """Start a server with `start()`, send one speech request as soon as it listens, and
    return the times from the fork to listening and to the end of that first response."""
    server = start()
    try:
        status, _, body = post_speech(server.url, api_key)
        served_s = time.monotonic() - server.spawned_at
        if status != 200:
            raise RuntimeError(f"{server.name} responded to its first request with HTTP {status}: {body[:300]!r}; see {server.log_path}")
        return {"listening_ms": round(server.listening_s * 1000, 1), "first_served_ms": round(served_s * 1000, 1)}
    finally:
        server.stop()


def summarize(runs):
    served = [run["first_served_ms"] for run in runs]
    return {
        "runs": runs,
        "first_served_ms": {"median": round(statistics.median(served), 1), "min": min(served), "max": max(served)},
    }


def cold_start(bench):
    """Time to the first served request of a fresh gateway process, with an empty compiled-
    component cache (cold: every plugin is compiled) and with a filled one (warm), and of a
    fresh upstream process for comparison."""
    options = bench.options
    upstream = bench.upstream(bench.clip_profile())
    load_before = load_average()

    def gateway_with(compiled_dir):
        return lambda: bench.start_gateway(upstream, cache=False, compiled_dir=compiled_dir, label="coldstart")

    cold = []
    for run in range(options.cold_runs):
        # A new, empty folder each time, so nothing compiled earlier is found.
        cold.append(time_first_request(gateway_with(bench.workdir / f"compiled-cold-{run}"), bench.keys.client))

    # One unmeasured start fills the shared folder in case no gateway has run yet.
    time_first_request(gateway_with(bench.compiled_dir), bench.keys.client)
    warm = [time_first_request(gateway_with(bench.compiled_dir), bench.keys.client) for _ in range(options.warm_runs)]

    direct = [
        time_first_request(lambda run=run: bench.start_upstream(bench.clip_profile(), f"upstream-coldstart-{run}"), bench.keys.upstream)
        for run in range(options.warm_runs)
    ]
    return {
        "plugins": sorted(path.name for path in bench.plugin_files),
        "compiled_cache_cold": summarize(cold),
        "compiled_cache_warm": summarize(warm),
        "direct_upstream": summarize(direct),
        "load_average": load_before,
    }


def instantiation(bench, plugin_file, profile="release"):
    """Plugin instantiation time from the host's ignored benchmark test, built with `profile`."""
    command = ["cargo", "test", "-p", "voxgate", "--bin", "voxgate"]
    if profile == "release":
        command.append("--release")
    env = dict(os.environ, VOXGATE_BENCH_PLUGIN=str(plugin_file), VOXGATE_BENCH_ITERATIONS=str(bench.options.instantiation_iterations))

    # Build first, so the compile (minutes in release mode on 2 cores) is not in the load
    # average that goes with the figure.
    build = subprocess.run([*command, "--no-run"], cwd=bench.repo, env=env, capture_output=True, text=True, timeout=3600, check=False)
    if build.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} --no-run failed with status {build.returncode}:\n{build.stderr[-3000:]}")

    command += ["--", "--ignored", "--exact", "instantiation_bench::plugin_instantiation_time", "--nocapture"]
    load_before = load_average()
    completed = subprocess.run(command, cwd=bench.repo, env=env, capture_output=True, text=True, timeout=600, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with status {completed.returncode}:\n{completed.stderr[-3000:]}")
    for line in completed.stdout.splitlines():
        if line.startswith(INSTANTIATION_PREFIX):
            result = json.loads(line[len(INSTANTIATION_PREFIX):])
            break
    else:
        raise RuntimeError(f"{' '.join(command)} printed no `{INSTANTIATION_PREFIX.strip()}` line:\n{completed.stdout[-3000:]}")

    result["profile"] = profile
    result["command"] = " ".join(command)
    result["load_average"] = load_before
    return result
