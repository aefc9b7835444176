"""The audio cache, request coalescing, usage and cost accounting, client limits and metrics.

Each test starts gateways with the cache turned on (on local disk, or in a real S3-compatible
server), drives them with real requests, and checks what a user or operator would: the
`x-cache` header, the bytes, the emulator's request log, `GET /v1/usage` and `GET /metrics`.
"""

import hashlib
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support import rawhttp
from support.emulator import SENTENCE, speech_body
from support.gateway import Gateway, GatewaySettings
from support.services import S3_KEY_ENV, S3_SECRET_ENV, moto_s3, redis_server

ADMIN_KEY = "vg-admin-" + "d4" * 16
CLIENT_KEY = "vg-client-" + "e5" * 16
# tts-1 is declared at 15 US dollars per million characters.
TTS_1_PRICE = 15.0


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


ADMIN_TOML = f'[admin]\nkey_sha256 = "{digest(ADMIN_KEY)}"\n'


def cached_settings(**overrides):
    values = {"cache": {"enabled": True}, "extra_toml": ADMIN_TOML}
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
def gateway(start_gateway, openai_plugin):
    return start_gateway([openai_plugin], cached_settings())


def admin_get(gateway, path):
    response = rawhttp.request(gateway.url, "GET", path, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status == 200, response.describe()
    return response


def usage_rows(gateway, query=""):
    return admin_get(gateway, "/v1/usage" + query).json()["usage"]


def test_miss_then_hit(gateway, upstream):
    first = gateway.speech(speech_body(input="Cache me once."))
    second = gateway.speech(speech_body(input="Cache me once."))

    assert first.status == 200 and second.status == 200
    assert first.headers["x-cache"] == "MISS"
    assert second.headers["x-cache"] == "HIT"
    assert second.headers["content-type"] == "audio/mpeg"
    assert second.body == first.body, "a hit must serve the stored bytes"
    assert len(upstream.speech_requests()) == 1


def test_normalised_text_hits(gateway, upstream):
    gateway.speech(speech_body(input="Spaces   between\twords."))
    again = gateway.speech(speech_body(input="  Spaces between words. "))
    assert again.headers["x-cache"] == "HIT", "whitespace runs and ends are normalised in the key"
    assert len(upstream.speech_requests()) == 1


def test_different_voice_misses(gateway, upstream):
    gateway.speech(speech_body(input="Same words.", voice="alloy"))
    other = gateway.speech(speech_body(input="Same words.", voice="nova"))
    assert other.headers["x-cache"] == "MISS"
    assert len(upstream.speech_requests()) == 2


def test_bypass_headers(gateway, upstream):
    gateway.speech(speech_body(input="Bypass me."))
    for headers in ({"Cache-Control": "no-cache"}, {"cf-aig-skip-cache": "true"}):
        response = gateway.speech(speech_body(input="Bypass me."), headers=headers)
        assert response.headers["x-cache"] == "BYPASS", headers
    assert len(upstream.speech_requests()) == 3


def test_ttl_expiry(gateway, upstream):
    gateway.speech(speech_body(input="Short lived."), headers={"cf-aig-cache-ttl": "1"})
    time.sleep(2.1)
    again = gateway.speech(speech_body(input="Short lived."))
    assert again.headers["x-cache"] == "MISS", "an expired entry must not be served"
    assert len(upstream.speech_requests()) == 2


def cache_files(gateway):
    root = gateway.workdir / "audio-cache"
    return [path for path in root.rglob("*") if path.is_file() and not path.name.startswith(".")]


def wait_for_cache_files(gateway, count):
    deadline = time.monotonic() + 10
    while len(cache_files(gateway)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return cache_files(gateway)


def damage_the_only_entry(gateway):
    """Flip a byte of the audio in the one stored entry, once it has been written."""
    files = wait_for_cache_files(gateway, 1)
    assert len(files) == 1, files
    data = bytearray(files[0].read_bytes())
    data[-10] ^= 0xFF
    files[0].write_bytes(bytes(data))


def test_corrupt_entry_regenerated(start_gateway, openai_plugin, upstream):
    # Without the memory tier, so the hit reads the damaged file.
    gateway = start_gateway([openai_plugin], cached_settings(cache={"enabled": True, "memory_max_bytes": 0}))
    first = gateway.speech(speech_body(input="Corrupt me."))
    damage_the_only_entry(gateway)

    second = gateway.speech(speech_body(input="Corrupt me."))
    assert second.headers["x-cache"] == "MISS", "a corrupt entry must never be served"
    assert second.body == first.body
    assert len(upstream.speech_requests()) == 2


def test_memory_tier_serves_the_checked_copy(gateway, upstream):
    first = gateway.speech(speech_body(input="Held in memory."))
    damage_the_only_entry(gateway)

    second = gateway.speech(speech_body(input="Held in memory."))

    assert second.headers["x-cache"] == "HIT"
    assert second.body == first.body, "the copy in memory was checked when stored; damage on disk does not reach it"
    assert len(upstream.speech_requests()) == 1


def test_purge_reaches_a_running_gateway(gateway, upstream, voxgate_bin):
    gateway.speech(speech_body(input="Purge me while serving."))
    assert gateway.speech(speech_body(input="Purge me while serving.")).headers["x-cache"] == "HIT"
    assert len(wait_for_cache_files(gateway, 1)) == 1

    purge = subprocess.run(
        [str(voxgate_bin), "--config", str(gateway.config_path), "cache", "purge"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
    )
    assert purge.returncode == 0, purge.stderr

    again = gateway.speech(speech_body(input="Purge me while serving."))
    assert again.headers["x-cache"] == "MISS", "a purged entry must not be served from memory"
    assert len(upstream.speech_requests()) == 2


def test_broken_stream_not_cached(gateway, upstream):
    upstream.add_faults({"kind": "reset_mid_body"})
    broken = gateway.speech(speech_body(input=SENTENCE, response_format="wav"))
    assert broken.read_error is not None or broken.status != 200
    again = gateway.speech(speech_body(input=SENTENCE, response_format="wav"))
    assert again.headers["x-cache"] == "MISS", "only complete audio is stored"
    assert len(upstream.speech_requests()) == 2


def test_eviction_keeps_cap(start_gateway, openai_plugin, upstream):
    # Each MP3 clip is about 10 KB, so the cap holds a few of the eight.
    cap = 30_000
    gateway = start_gateway([openai_plugin], cached_settings(cache={"enabled": True, "max_bytes": cap}))
    for index in range(8):
        response = gateway.speech(speech_body(input=f"Sentence number {index} is here to fill the cache."))
        assert response.status == 200
    time.sleep(0.5)
    total = sum(path.stat().st_size for path in cache_files(gateway))
    assert 0 < total <= cap, f"the cache holds {total} bytes, over its cap of {cap}"


def test_coalesces_identical_requests(gateway, upstream):
    upstream.add_faults({"kind": "slow", "chunk_delay_ms": 50})
    body = speech_body(input="Fifty listeners, one synthesis.", response_format="wav")
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: gateway.speech(body), range(50)))
    upstream.clear_faults()

    assert [response.status for response in responses] == [200] * 50
    assert len({response.body for response in responses}) == 1, "every waiter gets the same audio"
    assert len(upstream.speech_requests()) == 1, "identical concurrent requests make one upstream call"


def test_usage_and_cost(gateway, upstream):
    # Spaces, punctuation, an emoji sequence of five code points and a combining accent:
    # OpenAI bills characters, which voxgate counts as Unicode code points.
    text = "Count every character: spaces, punctuation, \U0001F469\u200D\U0001F469\u200D\U0001F467 and e\u0301 too!"

    def usage_after(requests):
        deadline = time.monotonic() + 10
        rows = []
        while time.monotonic() < deadline:
            rows = usage_rows(gateway, "?provider=openai")
            if rows and rows[0]["requests"] == requests:
                break
            time.sleep(0.1)
        assert len(rows) == 1, rows
        return rows[0]

    gateway.speech(speech_body(input=text))
    miss = usage_after(1)
    gateway.speech(speech_body(input=text))
    row = usage_after(2)

    assert row["cache_hits"] == 1
    assert row["characters"] == len(text), "OpenAI bills every character once; the hit is free"
    assert row["cost_micro_usd"] == round(len(text) * TTS_1_PRICE)
    assert miss["audio_seconds"] > 1.0
    assert round(row["audio_seconds"] * 1000) == 2 * round(miss["audio_seconds"] * 1000), "the hit counts the same audio as the miss"


def test_usage_survives_restart(start_gateway, openai_plugin, voxgate_bin, emulator, api_key, tmp_path, upstream):
    usage_path = tmp_path / "usage.redb"
    settings = cached_settings(cache={"enabled": False}, usage={"path": str(usage_path)})
    first = Gateway(voxgate_bin, tmp_path / "one", [openai_plugin], emulator.url, api_key, settings)
    first.speech(speech_body(input="Remember me."))
    time.sleep(0.5)
    first.stop()

    second = Gateway(voxgate_bin, tmp_path / "two", [openai_plugin], emulator.url, api_key, settings)
    try:
        rows = usage_rows(second)
        assert sum(row["requests"] for row in rows) == 1, rows
    finally:
        second.stop()


def test_metrics_exported(gateway, upstream, api_key):
    gateway.speech(speech_body(input="Metrics please."))
    gateway.speech(speech_body(input="Metrics please."))
    text = admin_get(gateway, "/metrics").body.decode()
    assert 'voxgate_requests_total{route="openai_speech",provider="openai",model="tts-1",status="200"} 2' in text
    # The second request is a hit, or joins the first while its entry is being stored.
    assert 'voxgate_cache_lookups_total{result="hit"} 1' in text or 'voxgate_cache_lookups_total{result="coalesced"} 1' in text, text
    assert "voxgate_upstream_attempts_total" in text
    assert api_key not in text
    assert "Metrics please" not in text, "request text must never become a label"


def test_metrics_need_admin_key(gateway):
    response = rawhttp.request(gateway.url, "GET", "/metrics")
    assert response.status == 401


def client_settings(**key_fields):
    fields = "\n".join(f"{name} = {json.dumps(value)}" for name, value in key_fields.items())
    keys = f'[[keys]]\nname = "team-a"\nkey_sha256 = "{digest(CLIENT_KEY)}"\n{fields}\n'
    return cached_settings(cache={"enabled": False}, extra_toml=ADMIN_TOML + "\n" + keys)


def client_speech(gateway, text):
    return gateway.speech(speech_body(input=text), headers={"Authorization": f"Bearer {CLIENT_KEY}"})


def test_client_rate_limit(start_gateway, openai_plugin, upstream):
    gateway = start_gateway([openai_plugin], client_settings(requests_per_minute=2))
    assert client_speech(gateway, "One.").status == 200
    assert client_speech(gateway, "Two.").status == 200
    third = client_speech(gateway, "Three.")
    assert third.status == 429, third.describe()
    assert third.error()["code"] == "client_limit_exceeded"
    assert int(third.headers["retry-after"]) >= 1
    assert len(upstream.speech_requests()) == 2


def test_client_budget(start_gateway, openai_plugin, upstream):
    # 20 characters of tts-1 cost 300 micro-dollars, over a budget of 100.
    gateway = start_gateway([openai_plugin], client_settings(monthly_budget_usd=0.0001))
    assert client_speech(gateway, "Twenty characters!!.").status == 200
    time.sleep(0.5)
    over = client_speech(gateway, "Any more?")
    assert over.status == 429, over.describe()
    assert "budget" in over.error()["message"]
    assert len(upstream.speech_requests()) == 1


def test_two_instances_share_cache_and_limits(voxgate_bin, openai_plugin, emulator, api_key, tmp_path, upstream):
    with moto_s3() as s3, redis_server() as redis:
        s3_table = {"bucket": s3.bucket, "endpoint": s3.endpoint, "allow_http": True, "access_key_env": S3_KEY_ENV, "secret_key_env": S3_SECRET_ENV, "max_retries": 0}
        settings = client_settings(requests_per_minute=3)
        settings.cache = {"enabled": True, "backend": "s3", "s3": s3_table}
        settings.usage = {"backend": "redis", "redis_url": redis.url}
        env = s3.credentials_env()
        one = Gateway(voxgate_bin, tmp_path / "one", [openai_plugin], emulator.url, api_key, settings, extra_env=env)
        two = Gateway(voxgate_bin, tmp_path / "two", [openai_plugin], emulator.url, api_key, settings, extra_env=env)
        try:
            first = client_speech(one, "Shared between instances.")
            assert first.headers["x-cache"] == "MISS"
            deadline = time.monotonic() + 10
            while not s3.list_keys("tts/") and time.monotonic() < deadline:
                time.sleep(0.05)
            second = client_speech(two, "Shared between instances.")
            assert second.headers["x-cache"] == "HIT", "a clip made through one instance is a hit through the other"
            assert second.body == first.body
            assert len(upstream.speech_requests()) == 1

            # The limit counts per calendar minute; start the count early in a fresh minute so
            # that the four requests fall in one window.
            while time.time() % 60 > 40:
                time.sleep(0.5)
            statuses = [client_speech(gateway, f"Request {index}.").status for index, gateway in enumerate([one, two, one, two])]
            assert statuses.count(429) >= 1, f"the key's limit of 3 a minute must hold across instances: {statuses}"
        finally:
            one.stop()
            two.stop()
