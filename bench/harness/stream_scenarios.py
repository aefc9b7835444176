"""Streamed clips: time to first byte, and memory with many streams open at once."""

import json
import subprocess
import time

from harness.context import SPEECH_PATH, load_average


def run_client(bench, arguments, timeout_s):
    """Run a `voxgate-bench` client command and return the JSON lines it printed."""
    command = [str(part) for part in [bench.bench_bin, *arguments]]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed with status {completed.returncode}: {completed.stderr.strip()[:2000]}")
    return [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]


def measure_ttfb(bench, url, api_key):
    options = bench.options
    stream_s = options.stream_chunks * options.stream_chunk_delay_ms / 1000
    # Enough time for every sample at the chosen concurrency, twice over.
    max_time_s = int(2 * (options.ttfb_samples / options.ttfb_connections + 1) * (stream_s + 1)) + 10
    arguments = [
        "ttfb",
        "--url", url + SPEECH_PATH,
        "--api-key", api_key,
        "--samples", options.ttfb_samples,
        "--connections", options.ttfb_connections,
        "--max-time", max_time_s,
    ]
    load_before = load_average()
    (summary,) = run_client(bench, arguments, timeout_s=max_time_s + 30)
    summary["load_average"] = load_before
    return summary


def streamed_ttfb(bench):
    """Time to first byte of a clip that the upstream sends in timed chunks, directly and
    through a gateway with the cache off."""
    upstream = bench.upstream(bench.stream_profile())
    gateway = bench.start_gateway(upstream, cache=False, label="stream")
    try:
        direct = measure_ttfb(bench, upstream.url, bench.keys.upstream)
        through = measure_ttfb(bench, gateway.url, bench.keys.client)
    finally:
        bench.servers.stop(gateway)

    added = {
        percentile: round(through["ttfb_ms"][percentile] - direct["ttfb_ms"][percentile], 3)
        for percentile in ("p50", "p90", "p99")
        if percentile in direct["ttfb_ms"] and percentile in through["ttfb_ms"]
    }
    return {
        "chunks": bench.options.stream_chunks,
        "chunk_delay_ms": bench.options.stream_chunk_delay_ms,
        "direct": direct,
        "gateway": through,
        "added_ttfb_ms": added,
    }


def hold_streams(bench, server, url, api_key):
    """Hold `options.streams` streams open against `url` and read `server`'s memory while
    they are all open. Returns the holder's reports and the memory figures."""
    options = bench.options
    stream_s = options.stream_chunks * options.hold_chunk_delay_ms / 1000
    max_time_s = int(stream_s * 3) + 30
    command = [str(part) for part in [
        bench.bench_bin, "hold",
        "--url", url + SPEECH_PATH,
        "--api-key", api_key,
        "--connections", options.streams,
        "--ramp-timeout", int(stream_s),
        "--max-time", max_time_s,
    ]]
    idle = server.memory_kib()
    load_before = load_average()
    holder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = json.loads(holder.stdout.readline() or "null")
        # Sample for a second while every stream is open, and keep the largest figure.
        samples = []
        for _ in range(10):
            samples.append(server.memory_kib())
            time.sleep(0.1)
        done = json.loads(holder.stdout.readline() or "null")
        holder.wait(timeout=max_time_s + 30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    if ready is None or done is None:
        raise RuntimeError(f"voxgate-bench hold ended without its reports: {holder.stderr.read().strip()[:2000]}")

    after = server.memory_kib()
    largest = max(samples, key=lambda sample: sample["rss_kib"])
    return {
        "ready": ready,
        "done": done,
        "idle": idle,
        "while_open": largest,
        "after": after,
        "peak_rss_kib": after["peak_rss_kib"],
        "load_average": load_before,
    }


def concurrent_streams(bench):
    """Many streamed requests held open at once: the upstream's memory when clients reach it
    directly, and the gateway's when they go through it."""
    upstream = bench.upstream(bench.hold_profile())
    direct = hold_streams(bench, upstream, upstream.url, bench.keys.upstream)
    gateway = bench.start_gateway(upstream, cache=False, label="hold")
    try:
        through = hold_streams(bench, gateway, gateway.url, bench.keys.client)
    finally:
        bench.servers.stop(gateway)
    return {
        "streams": bench.options.streams,
        "chunks": bench.options.stream_chunks,
        "chunk_delay_ms": bench.options.hold_chunk_delay_ms,
        "direct_upstream": direct,
        "gateway": through,
    }
