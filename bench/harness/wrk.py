"""Load with wrk: a Lua script for the speech POST, and the run's figures as a dict.

wrk sends GET without a script, so each target gets a script that sets the method, the JSON
body and the headers. Its `done` hook prints the summary as one JSON line, which avoids
parsing wrk's human-readable output and gives latency percentiles in whole microseconds.
"""

import json
import shutil
import subprocess
from pathlib import Path

RESULT_PREFIX = "voxgate-bench wrk "

DONE_HOOK = r"""
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    "RESULT_PREFIX", summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


class WrkFailed(RuntimeError):
    """wrk could not run, or printed no summary."""


def require_wrk():
    """Return wrk's path, or raise with the command that installs it."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkFailed("wrk is not installed; run `make setup` (it installs Debian's wrk package)")
    return path


def lua_string(text):
    """Quote `text` as a Lua long string, whose contents need no escapes."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def write_script(path, body, api_key):
    """Write the Lua script that POSTs `body` with `Authorization: Bearer api_key`."""
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {lua_string(body)}",
        'wrk.headers["Content-Type"] = "application/json"',
        f'wrk.headers["Authorization"] = {lua_string("Bearer " + api_key)}',
        DONE_HOOK.replace("RESULT_PREFIX", RESULT_PREFIX),
    ]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def run(url, script, connections, duration_s, request_timeout_s=5):
    """Run wrk with one thread for `duration_s` seconds and return its summary.

    One thread, because on a 2-core machine wrk shares the cores with the servers it
    measures. The result adds `requests_per_second` and `latency_ms` to wrk's own figures.
    """
    command = [
        require_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{duration_s}s",
        f"--timeout={request_timeout_s}s",
        "-s", str(script),
        url,
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    except subprocess.TimeoutExpired as error:
        raise WrkFailed(f"wrk did not finish within {duration_s + 60} s: {' '.join(command)}") from error

    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            summary = json.loads(line[len(RESULT_PREFIX):])
            break
    else:
        raise WrkFailed(f"wrk exited with status {completed.returncode} and no summary: {completed.stderr.strip() or completed.stdout.strip()}")

    seconds = summary["duration_us"] / 1e6
    summary["connections"] = connections
    summary["requests_per_second"] = round(summary["requests"] / seconds, 1) if seconds else 0.0
    summary["latency_ms"] = {key: round(value / 1000, 3) for key, value in summary["latency_us"].items()}
    summary["failed"] = sum(summary["errors"].values())
    return summary
