"""Throughput and latency under wrk: pass-through of a clip and cache hits, each run against
the upstream directly and through the gateway, back to back."""

import re

from harness import wrk
from harness.context import SPEECH_BODY, SPEECH_PATH, get_text, load_average, post_speech, wait_until


def wrk_scripts(bench):
    """Write the two Lua scripts: one with the upstream's key, one with the gateway's."""
    direct = wrk.write_script(bench.workdir / "direct.lua", SPEECH_BODY, bench.keys.upstream)
    gateway = wrk.write_script(bench.workdir / "gateway.lua", SPEECH_BODY, bench.keys.client)
    return direct, gateway


def compare(direct, gateway):
    """Compare the gateway's figures with the direct run's: throughput ratio and added latency."""
    return {
        "throughput_ratio": round(gateway["requests_per_second"] / direct["requests_per_second"], 3) if direct["requests_per_second"] else None,
        "added_latency_ms": {
            percentile: round(gateway["latency_ms"][percentile] - direct["latency_ms"][percentile], 3)
            for percentile in ("p50", "p90", "p99")
        },
    }


def run_pair(bench, upstream, gateway, connections, scripts):
    """Warm both paths up, then measure direct and gateway at `connections`."""
    direct_script, gateway_script = scripts
    options = bench.options
    direct_url = upstream.url + SPEECH_PATH
    gateway_url = gateway.url + SPEECH_PATH
    if options.warmup_s:
        wrk.run(direct_url, direct_script, connections, options.warmup_s)
        wrk.run(gateway_url, gateway_script, connections, options.warmup_s)

    load_before = load_average()
    cpu_before = upstream.cpu_seconds()
    direct = wrk.run(direct_url, direct_script, connections, options.duration_s)
    direct["load_average"] = load_before
    direct["upstream_cpu_us_per_request"] = cpu_per_request(upstream.cpu_seconds() - cpu_before, direct["requests"])

    load_before = load_average()
    upstream_before = bench.upstream_stats(upstream)["speech_requests"]
    cpu_before = (gateway.cpu_seconds(), upstream.cpu_seconds())
    through = wrk.run(gateway_url, gateway_script, connections, options.duration_s)
    through["load_average"] = load_before
    through["gateway_cpu_us_per_request"] = cpu_per_request(gateway.cpu_seconds() - cpu_before[0], through["requests"])
    through["upstream_cpu_us_per_request"] = cpu_per_request(upstream.cpu_seconds() - cpu_before[1], through["requests"])
    through["upstream_requests"] = bench.upstream_stats(upstream)["speech_requests"] - upstream_before

    return {"connections": connections, "direct": direct, "gateway": through, **compare(direct, through)}


def cpu_per_request(cpu_seconds, requests):
    """CPU time per request in microseconds. CPU time does not count waiting for the other
    processes on the cores, so it varies less with the machine's load than latency does. Work
    that outlives the run, such as queued usage records, is counted only in part."""
    return round(cpu_seconds / requests * 1e6, 1) if requests else None


def floor_run(bench, proxy, connections, script):
    """Measure the bare proxy (`voxgate-bench proxy`) at `connections`: the two HTTP exchanges
    of a pass-through and nothing else, the floor under the gateway's figures."""
    url = proxy.url + SPEECH_PATH
    if bench.options.warmup_s:
        wrk.run(url, script, connections, bench.options.warmup_s)
    load_before = load_average()
    run = wrk.run(url, script, connections, bench.options.duration_s)
    run["load_average"] = load_before
    return run


def pass_through(bench, gateway):
    """Measure a 50 KB clip through a gateway with the cache off, at each connection count,
    and through the bare proxy for the floor."""
    upstream = bench.upstream(bench.clip_profile())
    scripts = wrk_scripts(bench)
    proxy = bench.start_proxy(upstream)
    runs = []
    try:
        for connections in bench.options.connections:
            run = run_pair(bench, upstream, gateway, connections, scripts)
            floor = floor_run(bench, proxy, connections, scripts[1])
            direct_rps = run["direct"]["requests_per_second"]
            run["proxy"] = floor
            run["proxy_throughput_ratio"] = round(floor["requests_per_second"] / direct_rps, 3) if direct_rps else None
            run["gateway_to_proxy_ratio"] = (
                round(run["gateway"]["requests_per_second"] / floor["requests_per_second"], 3) if floor["requests_per_second"] else None
            )
            runs.append(run)
    finally:
        bench.servers.stop(proxy)
    return {
        "body_bytes": bench.options.body_bytes,
        "duration_s": bench.options.duration_s,
        "runs": runs,
        "gateway_memory_after": gateway.memory_kib(),
        "instantiation_metric": instantiation_metric(bench, gateway),
    }


def cache_hit(bench):
    """Measure the same request repeated through a gateway with the cache on. After the first
    request, every response comes from the cache and no request reaches the upstream."""
    upstream = bench.upstream(bench.clip_profile())
    gateway = bench.start_gateway(upstream, cache=True, label="cache")
    try:
        first = post_speech(gateway.url, bench.keys.client)
        if first[0] != 200:
            raise RuntimeError(f"the gateway responded to the first cache-hit scenario request with HTTP {first[0]}: {first[2][:300]!r}")
        # The entry is stored once the first response has been read in full; wait for it.
        hit = wait_until(lambda: post_speech(gateway.url, bench.keys.client)[1].get("x-cache", "").upper() == "HIT", timeout_s=5)
        if not hit:
            raise RuntimeError(f"the gateway never served from its cache (no `x-cache: HIT` within 5 s); see {gateway.log_path}")

        run = run_pair(bench, upstream, gateway, bench.options.cache_connections, wrk_scripts(bench))
        return {"body_bytes": bench.options.body_bytes, "duration_s": bench.options.duration_s, **run}
    finally:
        bench.servers.stop(gateway)


def instantiation_metric(bench, gateway):
    """Return what `GET /metrics` reports for `voxgate_plugin_instantiation_seconds`: count
    and mean, or the reason there are no figures."""
    status, text = get_text(gateway.url, "/metrics", bench.keys.admin)
    if status != 200:
        return {"available": False, "reason": f"GET /metrics returned HTTP {status}"}
    counts = re.findall(r"^voxgate_plugin_instantiation_seconds_count\{[^}]*\} (\S+)$", text, re.MULTILINE)
    sums = re.findall(r"^voxgate_plugin_instantiation_seconds_sum\{[^}]*\} (\S+)$", text, re.MULTILINE)
    count = sum(float(value) for value in counts)
    if not count:
        return {"available": False, "reason": "GET /metrics has no voxgate_plugin_instantiation_seconds samples after the load"}
    total = sum(float(value) for value in sums)
    return {"available": True, "count": int(count), "mean_us": round(total / count * 1e6, 1)}

