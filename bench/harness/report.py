"""Targets, the JSON result file and the row appended to RESULTS.md."""

import json
import os
import platform
import subprocess
from pathlib import Path

MB = 1_000_000

RESULTS_HEADER = """\
# voxgate benchmark results

One row per `make bench` run, newest last. Every figure comes from one run, in which each
scenario ran directly against the benchmark upstream (`voxgate-bench upstream`) and through
the gateway back to back. On a 2-core machine shared with other work the absolute numbers
move from run to run, so compare the ratios and the added latencies, and read the load
average next to them. The full figures of the last run are in `results/latest.json`.

Columns:

- **load**: 1-minute load average when the run started.
- **pass-through req/s**: the gateway's requests per second for a 50 KB clip at 1, 16 and
  64 connections (wrk, one thread), with the ratio to direct in brackets.
- **added p50 / p99**: latency the gateway adds at 1 connection, in ms.
- **TTFB added**: time to first byte the gateway adds to a clip streamed in 13 chunks
  100 ms apart, p50, in ms.
- **cache hit**: cache-hit requests per second at 16 connections, as a ratio to the direct
  requests per second for the same body.
- **RSS idle / streams**: gateway resident memory with every plugin loaded from the compiled
  cache and idle, and its peak while 1,000 streamed requests are open, in MB (10^6 bytes).
- **cold start warm / cold**: fork to the end of the first served response, median, in ms,
  with the compiled-component cache filled and empty.
- **inst. p50**: plugin instantiation (`Store` and `instantiate` of openai.wasm), in µs.

| date (UTC) | commit | machine | load | pass-through req/s c1 / c16 / c64 | added p50 / p99 | TTFB added | cache hit | RSS idle / streams | cold start warm / cold | inst. p50 | targets |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
"""


def machine():
    """Cores, memory, processor and kernel of this machine."""
    memory_kib = 0
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "cpu": model,
        "kernel": platform.release(),
    }


def commit(repo):
    """Return the commit checked out, and whether tracked files differ from it."""
    def git(*arguments):
        return subprocess.run(["git", *arguments], cwd=repo, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "--short=12", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def _pass_through_run(scenarios, connections):
    for run in scenarios.get("pass_through", {}).get("runs", []):
        if run["connections"] == connections:
            return run
    return None


def _target(name, target, measured, met, load):
    return {"name": name, "target": target, "measured": measured, "met": met, "load_average": load}


def evaluate(scenarios):
    """Compare the figures with the targets; each target is met, missed, or not run."""
    targets = []

    run = _pass_through_run(scenarios, 16)
    if run:
        ratio = run["throughput_ratio"]
        targets.append(_target(
            "pass-through throughput at 16 connections", ">= 0.35x direct",
            f"{ratio:.2f}x ({run['gateway']['requests_per_second']:.0f} vs {run['direct']['requests_per_second']:.0f} req/s){_floor_text(run)}",
            ratio >= 0.35, run["gateway"]["load_average"]))

    run = _pass_through_run(scenarios, 1)
    if run:
        added = run["added_latency_ms"]
        targets.append(_target("added latency at 1 connection, p50", "<= +0.3 ms", f"{added['p50']:+.3f} ms", added["p50"] <= 0.3, run["gateway"]["load_average"]))
        targets.append(_target("added latency at 1 connection, p99", "<= +2 ms", f"{added['p99']:+.3f} ms", added["p99"] <= 2.0, run["gateway"]["load_average"]))

    ttfb = scenarios.get("streamed_ttfb")
    if ttfb and "added_ttfb_ms" in ttfb:
        added = ttfb["added_ttfb_ms"]["p50"]
        targets.append(_target(
            "TTFB of a streamed clip, p50", "<= +1 ms over direct",
            f"{added:+.3f} ms ({ttfb['gateway']['ttfb_ms']['p50']:.3f} vs {ttfb['direct']['ttfb_ms']['p50']:.3f} ms; p99 added {ttfb['added_ttfb_ms']['p99']:+.3f} ms)",
            added <= 1.0, ttfb["gateway"]["load_average"]))

    cache = scenarios.get("cache_hit")
    if cache and "throughput_ratio" in cache:
        ratio = cache["throughput_ratio"]
        targets.append(_target(
            "cache-hit throughput at 16 connections", ">= 1.0x direct",
            f"{ratio:.2f}x ({cache['gateway']['requests_per_second']:.0f} vs {cache['direct']['requests_per_second']:.0f} req/s)",
            ratio >= 1.0, cache["gateway"]["load_average"]))

    idle = scenarios.get("idle_memory")
    if idle and "compiled_cache_warm" in idle:
        for state, source in (("compiled_cache_warm", "loaded from the compiled cache"), ("compiled_cache_cold", "compiled at start")):
            megabytes = idle[state]["rss_kib"] * 1024 / MB
            targets.append(_target(
                f"RSS idle, all plugins {source}", "<= 64 MB",
                f"{megabytes:.1f} MB ({len(idle['plugins'])} plugins)", megabytes <= 64, idle[state]["load_average"]))

    streams = scenarios.get("concurrent_streams")
    if streams and "gateway" in streams:
        gateway = streams["gateway"]
        megabytes = gateway["peak_rss_kib"] * 1024 / MB
        open_streams = gateway["ready"]["streaming"]
        complete = open_streams == streams["streams"]
        targets.append(_target(
            f"RSS with {streams['streams']} concurrent streams", "<= 256 MB",
            f"{megabytes:.1f} MB peak ({open_streams} of {streams['streams']} streams open at once)",
            megabytes <= 256 and complete, gateway["load_average"]))

    cold = scenarios.get("cold_start")
    if cold and "compiled_cache_warm" in cold:
        median = cold["compiled_cache_warm"]["first_served_ms"]["median"]
        targets.append(_target(
            "cold start to first served request, compiled cache warm", "<= 300 ms",
            f"{median:.1f} ms median (cold cache {cold['compiled_cache_cold']['first_served_ms']['median']:.1f} ms)",
            median <= 300, cold["load_average"]))

    instantiation = scenarios.get("instantiation")
    if instantiation and "instantiate_us" in instantiation:
        p50 = instantiation["instantiate_us"]["p50"]
        targets.append(_target(
            "plugin instantiation, p50", "<= 50 us",
            f"{p50:.1f} us ({instantiation['profile']} build)", p50 <= 50, instantiation["load_average"]))

    return targets


def write_json(path, result):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _floor_text(run):
    """Return the bare proxy's figures for a pass-through run, or "" when the run did not measure them."""
    if not run.get("proxy"):
        return ""
    return f"; bare proxy {run['proxy']['requests_per_second']:.0f} req/s, {run['proxy_throughput_ratio']:.2f}x direct"


def _rps(run):
    if not run:
        return "-"
    floor = f" [proxy {run['proxy_throughput_ratio']:.2f}x]" if run.get("proxy") else ""
    return f"{run['gateway']['requests_per_second']:.0f} ({run['throughput_ratio']:.2f}x){floor}"


def markdown_row(result):
    """Format one RESULTS.md table row that summarizes `result`."""
    scenarios = result["scenarios"]
    host = result["machine"]
    cells = [
        result["started_at"][:16].replace("T", " "),
        result["commit"]["commit"] + ("+dirty" if result["commit"]["dirty"] else ""),
        f"{host['cores']} cores, {host['memory_gib']} GiB",
        f"{result['load_average_at_start'][0]:.1f}",
        " / ".join(_rps(_pass_through_run(scenarios, connections)) for connections in (1, 16, 64)),
    ]

    run = _pass_through_run(scenarios, 1)
    cells.append(f"{run['added_latency_ms']['p50']:+.2f} / {run['added_latency_ms']['p99']:+.2f}" if run else "-")
    ttfb = scenarios.get("streamed_ttfb", {})
    cells.append(f"{ttfb['added_ttfb_ms']['p50']:+.2f}" if "added_ttfb_ms" in ttfb else "-")
    cache = scenarios.get("cache_hit", {})
    cells.append(f"{cache['throughput_ratio']:.2f}x" if "throughput_ratio" in cache else "-")
    idle = scenarios.get("idle_memory", {})
    streams = scenarios.get("concurrent_streams", {}).get("gateway", {})
    idle_text = f"{idle['compiled_cache_warm']['rss_kib'] * 1024 / MB:.0f}" if "compiled_cache_warm" in idle else "-"
    streams_text = f"{streams['peak_rss_kib'] * 1024 / MB:.0f}" if "peak_rss_kib" in streams else "-"
    cells.append(f"{idle_text} / {streams_text}")
    cold = scenarios.get("cold_start", {})
    if "compiled_cache_warm" in cold:
        cells.append(f"{cold['compiled_cache_warm']['first_served_ms']['median']:.0f} / {cold['compiled_cache_cold']['first_served_ms']['median']:.0f}")
    else:
        cells.append("-")
    instantiation = scenarios.get("instantiation", {})
    cells.append(f"{instantiation['instantiate_us']['p50']:.1f}" if "instantiate_us" in instantiation else "-")

    targets = result["targets"]
    met = sum(1 for target in targets if target["met"])
    missed = [target["name"] for target in targets if not target["met"]]
    cells.append(f"{met} of {len(targets)} met" + (f"; missed: {', '.join(missed)}" if missed else ""))
    return "| " + " | ".join(cells) + " |\n"


def append_row(path, result):
    path = Path(path)
    if not path.exists():
        path.write_text(RESULTS_HEADER, encoding="utf-8")
    with open(path, "a", encoding="utf-8") as results:
        results.write(markdown_row(result))
