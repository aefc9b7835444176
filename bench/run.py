#!/usr/bin/env python3
"""Benchmark the voxgate gateway against a benchmark upstream on loopback.

`make bench` runs this script. It builds the gateway in release mode and the benchmark tools
(bench/, crate `voxgate-bench`), starts the benchmark upstream and gateways on 127.0.0.1,
and runs each scenario directly against the upstream and through the gateway in the same
run. It writes every figure to bench/results/latest.json, appends a summary row to
bench/RESULTS.md, and prints each target as met or missed.

`--tiny` runs one short pass-through scenario with whatever gateway build exists (debug
first) and writes only its JSON file. The test suite uses it to check the harness.

Only the Python standard library is needed. The load comes from wrk (Debian package `wrk`,
installed by `make setup`) and from `voxgate-bench`. Every load run is bounded in requests
or seconds, and every server the script starts is stopped when it ends.
"""

import argparse
import datetime
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

from harness import load_scenarios, report, startup_scenarios, stream_scenarios, wrk
from harness.context import Bench, Options, load_average, measured
from harness.processes import ServerGroup

REPO = Path(__file__).resolve().parents[1]
BENCH_TARGET_DIR = REPO / "target" / "bench"
SCENARIOS = ("idle_memory", "pass_through", "cache_hit", "streamed_ttfb", "concurrent_streams", "cold_start", "instantiation")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="one short pass-through scenario with the existing gateway build, for the smoke test")
    parser.add_argument("--only", help=f"comma-separated scenarios to run, out of: {', '.join(SCENARIOS)}")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run (default 10)")
    parser.add_argument("--gateway-bin", type=Path, help="voxgate binary to run instead of building target/release/voxgate")
    parser.add_argument("--plugins", type=Path, default=REPO / "target" / "plugins", help="folder of plugin components to load (default target/plugins)")
    parser.add_argument("--output", type=Path, help="JSON result file (default bench/results/latest.json; target/bench/tiny.json with --tiny)")
    parser.add_argument("--no-record", action="store_true", help="do not append a row to bench/RESULTS.md")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the run's temporary folder (configurations and logs)")
    return parser.parse_args(argv)


def cargo_build(arguments, description):
    print(f"building {description}: cargo {' '.join(arguments)}", flush=True)
    completed = subprocess.run(["cargo", *arguments], cwd=REPO, check=False)
    if completed.returncode != 0:
        sys.exit(f"building {description} failed (cargo exited with status {completed.returncode})")


def gateway_binary(arguments):
    """Return the gateway to measure: a release build, or in tiny mode whichever build exists."""
    if arguments.gateway_bin:
        return arguments.gateway_bin.resolve()
    if arguments.tiny:
        for profile in ("debug", "release"):
            candidate = REPO / "target" / profile / "voxgate"
            if candidate.is_file():
                return candidate
        sys.exit("no voxgate binary in target/debug or target/release; run `make build` first")
    cargo_build(["build", "--release", "-p", "voxgate"], "the gateway")
    return REPO / "target" / "release" / "voxgate"


def bench_binary(tiny):
    """Build `voxgate-bench`: in release mode for measuring, in debug mode for the smoke test,
    where the `make build` step has already built it."""
    arguments = ["build", "--manifest-path", str(REPO / "bench" / "Cargo.toml"), "--target-dir", str(BENCH_TARGET_DIR)]
    if not tiny:
        arguments.append("--release")
    cargo_build(arguments, "voxgate-bench")
    return BENCH_TARGET_DIR / ("debug" if tiny else "release") / "voxgate-bench"


def plugin_files(arguments):
    folder = arguments.plugins
    files = sorted(folder.glob("*.wasm"))
    if arguments.tiny:
        files = [path for path in files if path.name == "openai.wasm"]
    if not any(path.name == "openai.wasm" for path in files):
        sys.exit(f"no openai.wasm in {folder}; run `make build` first")
    return files


def choose_scenarios(arguments):
    if arguments.tiny:
        return ("pass_through",)
    if not arguments.only:
        return SCENARIOS
    chosen = tuple(name.strip() for name in arguments.only.split(",") if name.strip())
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    return chosen


def options_for(arguments):
    if arguments.tiny:
        return Options(duration_s=1, warmup_s=0, connections=(1,))
    return Options(duration_s=arguments.duration)


def run_scenarios(bench, chosen):
    """Run the chosen scenarios in order; a failed scenario is recorded and the rest still run."""
    results = {}
    passthrough_gateway = None
    for name in SCENARIOS:
        if name not in chosen:
            continue
        print(f"scenario {name} (load average {load_average()[0]})", flush=True)
        try:
            if name == "idle_memory":
                # The idle gateway that loaded from the filled cache serves the pass-through.
                results[name], passthrough_gateway = startup_scenarios.idle_memory(bench)
            elif name == "pass_through":
                if passthrough_gateway is None:
                    passthrough_gateway = bench.start_gateway(bench.upstream(bench.clip_profile()), cache=False, label="passthrough")
                results[name] = measured(load_scenarios.pass_through, bench, passthrough_gateway)
            elif name == "cache_hit":
                results[name] = measured(load_scenarios.cache_hit, bench)
            elif name == "streamed_ttfb":
                results[name] = measured(stream_scenarios.streamed_ttfb, bench)
            elif name == "concurrent_streams":
                results[name] = measured(stream_scenarios.concurrent_streams, bench)
            elif name == "cold_start":
                results[name] = startup_scenarios.cold_start(bench)
            elif name == "instantiation":
                results[name] = startup_scenarios.instantiation(bench, bench.plugin_dir / "openai.wasm")
        except Exception as error:  # noqa: BLE001 - one failed scenario must not lose the others' figures
            traceback.print_exc()
            results[name] = {"error": f"{type(error).__name__}: {error}"}
        if passthrough_gateway is not None and name == "pass_through":
            bench.servers.stop(passthrough_gateway)
            passthrough_gateway = None
    if passthrough_gateway is not None:
        bench.servers.stop(passthrough_gateway)
    return results


def print_targets(targets):
    for target in targets:
        verdict = "met   " if target["met"] else "MISSED"
        print(f"{verdict} {target['name']}: {target['measured']} (target {target['target']}; load {target['load_average']})")


def main(argv=None):
    arguments = parse_arguments(argv)
    wrk.require_wrk()
    chosen = choose_scenarios(arguments)
    gateway_bin = gateway_binary(arguments)
    bench_bin = bench_binary(arguments.tiny)
    plugins = plugin_files(arguments)
    output = arguments.output or (BENCH_TARGET_DIR / "tiny.json" if arguments.tiny else REPO / "bench" / "results" / "latest.json")

    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load_at_start = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="voxgate-bench-"))
    options = options_for(arguments)
    try:
        with ServerGroup() as servers:
            bench = Bench(REPO, workdir, gateway_bin, bench_bin, plugins, options, servers)
            scenarios = run_scenarios(bench, chosen)
    finally:
        if arguments.keep_workdir:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    result = {
        "schema": 1,
        "mode": "tiny" if arguments.tiny else "full",
        "started_at": started_at,
        "commit": report.commit(REPO),
        "machine": report.machine(),
        "load_average_at_start": load_at_start,
        "gateway_binary": str(gateway_bin),
        "options": vars(options),
        "scenarios": scenarios,
    }
    result["targets"] = report.evaluate(scenarios)
    report.write_json(output, result)
    print(f"results written to {output}")
    if not arguments.tiny and not arguments.no_record:
        report.append_row(REPO / "bench" / "RESULTS.md", result)
        print("row appended to bench/RESULTS.md")
    print_targets(result["targets"])

    failed = [name for name, value in scenarios.items() if "error" in value]
    if failed:
        print(f"scenarios that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
