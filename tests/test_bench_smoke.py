"""The benchmark harness in its tiny mode: `bench/run.py --tiny` starts the benchmark upstream
and a gateway, runs one short pass-through scenario directly and through the gateway, and
writes its JSON result. It checks that the harness works, not how fast anything is: the
figures of a one-second run on a shared machine mean nothing.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_MD = REPO_ROOT / "bench" / "RESULTS.md"
# The run takes a few seconds; the limit only stops a hung harness.
RUN_TIMEOUT_S = 120


def read_or_none(path):
    return path.read_text(encoding="utf-8") if path.exists() else None


def test_tiny_run_writes_json(tmp_path, voxgate_bin, openai_plugin):
    output = tmp_path / "tiny.json"
    results_before = read_or_none(RESULTS_MD)
    command = [
        sys.executable, str(REPO_ROOT / "bench" / "run.py"), "--tiny",
        "--gateway-bin", str(voxgate_bin),
        "--plugins", str(openai_plugin.parent),
        "--output", str(output),
    ]

    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S, check=False)

    assert completed.returncode == 0, f"bench/run.py --tiny failed:\n{completed.stdout}\n{completed.stderr}"
    assert output.is_file(), f"no JSON at {output}:\n{completed.stdout}"
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["mode"] == "tiny"
    assert result["machine"]["cores"] >= 1
    assert set(result["scenarios"]) == {"pass_through"}

    (run,) = result["scenarios"]["pass_through"]["runs"]
    assert run["connections"] == 1
    for path in ("direct", "gateway"):
        assert run[path]["requests"] > 0, f"{path}: {run[path]}"
        assert run[path]["failed"] == 0, f"{path}: {run[path]['errors']}"
        assert run[path]["bytes"] >= run[path]["requests"] * 51_200, f"{path} responses are shorter than the clip"
    # With the cache off, every gateway request reached the upstream; at most the one in
    # flight when wrk stopped was not counted by wrk.
    assert run["gateway"]["requests"] <= run["gateway"]["upstream_requests"] <= run["gateway"]["requests"] + 1

    names = [target["name"] for target in result["targets"]]
    assert names == ["added latency at 1 connection, p50", "added latency at 1 connection, p99"]
    assert all(isinstance(target["met"], bool) for target in result["targets"])

    assert read_or_none(RESULTS_MD) == results_before, "a tiny run must not append to bench/RESULTS.md"
