"""Retries, fallbacks, circuit breakers and capacity limits, observed from both ends.

The gateway loads the OpenAI plugin (in front of the OpenAI emulator, whose faults decide
each upstream answer) and the `test-tone` plugin, which always succeeds without a network.
A route `openai:tts-1` then `test-tone:test` shows fallback. Every test asserts the exact
sequence of upstream requests from the emulator's log, the final status and the headers.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support import rawhttp
from support.audio import probe
from support.emulator import SENTENCE, speech_body
from support.gateway import GatewaySettings

ROUTE = '[routes.resilient]\ncandidates = ["openai:tts-1", "test-tone:test"]\n'
ALIASES = '[voices.narrator]\nopenai = "nova"\ntest-tone = "test"\n\n[voices.only-openai]\nopenai = "echo"\n'

RESILIENCE = {
    "max_attempts": 3,
    "max_total_attempts": 6,
    "retry_base_ms": 10,
    "retry_max_ms": 50,
    "retry_after_cap_ms": 1500,
    "breaker_failures": 1000,
}


@pytest.fixture(scope="module")
def gateway(start_gateway, openai_plugin, test_plugins):
    settings = GatewaySettings(resilience=RESILIENCE, extra_toml=ROUTE + "\n" + ALIASES, first_byte_timeout_ms=1000)
    return start_gateway([openai_plugin, test_plugins["test-tone"]], settings)


def routed(gateway, **overrides):
    """Send through the route, with a voice alias that every candidate can speak."""
    fields = {"model": "resilient", "voice": "narrator", "response_format": "wav"}
    fields.update(overrides)
    return gateway.speech(speech_body(**fields))


def direct(gateway, **overrides):
    return gateway.speech(speech_body(response_format="wav", **overrides))


def header(response, name):
    return response.headers.get(name)


def test_retry_then_success(gateway, upstream):
    upstream.add_faults({"kind": "status", "status": 503})
    response = direct(gateway)
    assert response.status == 200, response.describe()
    assert len(upstream.speech_requests()) == 2, "one failed attempt, one retry"
    assert header(response, "x-voxgate-attempts") == "2"
    assert header(response, "x-tts-provider") == "openai"


def test_rate_limit_honours_retry_after(gateway, upstream):
    upstream.add_faults({"kind": "status", "status": 429, "retry_after": 1})
    started = time.monotonic()
    response = direct(gateway)
    waited = time.monotonic() - started
    assert response.status == 200, response.describe()
    assert len(upstream.speech_requests()) == 2
    # Not a speed check: the gateway must not retry before the provider allowed it.
    assert waited >= 1.0, f"retried after {waited:.2f} s, before Retry-After: 1 ran out"


def test_long_retry_after_falls_back(gateway, upstream):
    upstream.add_faults({"kind": "status", "status": 429, "retry_after": 30})
    response = routed(gateway)
    assert response.status == 200, response.describe()
    assert len(upstream.speech_requests()) == 1, "a Retry-After over the cap is not waited for"
    assert header(response, "x-tts-provider") == "test-tone"
    assert header(response, "x-voxgate-attempts") == "2"


def test_unauthorized_falls_back_without_retry(gateway, upstream):
    upstream.add_faults({"kind": "status", "status": 401, "code": "invalid_api_key"})
    response = routed(gateway)
    assert response.status == 200, response.describe()
    assert len(upstream.speech_requests()) == 1
    assert header(response, "x-tts-provider") == "test-tone"


def test_invalid_request_no_retry_no_fallback(gateway, upstream):
    upstream.add_faults({"kind": "status", "status": 400, "code": "invalid_value"})
    response = routed(gateway)
    assert response.status == 400, response.describe()
    assert response.error()["code"] == "provider_rejected_request"
    assert len(upstream.speech_requests()) == 1


def test_exhausted_retries_fall_back(gateway, upstream):
    upstream.add_faults(*[{"kind": "status", "status": 500}] * 3)
    response = routed(gateway)
    assert response.status == 200, response.describe()
    assert len(upstream.speech_requests()) == 3, "max_attempts at openai, then the next candidate"
    assert header(response, "x-tts-provider") == "test-tone"
    assert header(response, "x-voxgate-attempts") == "4"


def test_hang_times_out_then_falls_back(gateway, upstream):
    upstream.add_faults(*[{"kind": "hang"}] * 3)
    response = routed(gateway)
    assert response.status == 200, response.describe()
    assert len(upstream.speech_requests()) == 3
    assert header(response, "x-tts-provider") == "test-tone"


def test_wrong_content_type_retried(gateway, upstream):
    upstream.add_faults({"kind": "wrong_content_type"})
    response = direct(gateway)
    # HTML on a 200 goes to the plugin, which calls it an invalid response: next candidate,
    # and a direct request has none, so the client sees a 502.
    assert response.status == 502, response.describe()
    assert len(upstream.speech_requests()) == 1


def test_reset_after_first_byte_not_spliced(gateway, upstream):
    upstream.add_faults({"kind": "reset_mid_body"})
    response = routed(gateway, input=SENTENCE)
    assert not (response.status == 200 and response.read_error is None), "a broken stream looked complete"
    assert len(upstream.speech_requests()) == 1, "no retry once audio reached the client"
    assert header(response, "x-tts-provider") == "openai", "no other provider's audio is spliced in"


def test_alias_maps_voice_per_provider(gateway, upstream):
    response = routed(gateway, voice="narrator")
    assert response.status == 200, response.describe()
    sent = json.loads(upstream.speech_requests()[0]["body"])
    assert sent["voice"] == "nova"


def test_alias_without_mapping_skips(gateway, upstream):
    upstream.add_faults({"kind": "status", "status": 401})
    response = routed(gateway, voice="only-openai")
    # test-tone has no voice for the alias, so after openai fails nothing is left.
    assert response.status == 502, response.describe()
    assert len(upstream.speech_requests()) == 1


def test_premium_tier_skips_missing(gateway, upstream):
    response = gateway.speech(speech_body(model="premium", response_format="wav"))
    assert response.status == 200, response.describe()
    assert header(response, "x-voxgate-model") == "tts-1-hd", "elevenlabs is not loaded, so openai's HD model serves"


def test_cheapest_picks_free_provider(gateway, upstream):
    response = gateway.speech(speech_body(model="cheapest", voice="test", response_format="wav"))
    assert response.status == 200, response.describe()
    assert header(response, "x-tts-provider") == "test-tone"
    assert upstream.speech_requests() == []


def test_retry_budget_exhausted(start_gateway, openai_plugin, upstream):
    no_budget = dict(RESILIENCE, retry_budget_ratio=0.0, retry_budget_min_per_second=0)
    gateway = start_gateway([openai_plugin], GatewaySettings(resilience=no_budget))
    upstream.add_faults({"kind": "status", "status": 500}, {"kind": "status", "status": 500})
    response = direct(gateway)
    assert response.status == 503, response.describe()
    assert len(upstream.speech_requests()) == 1, "with no budget, a 500 is not retried"


def test_breaker_opens_probes_closes(start_gateway, openai_plugin, upstream):
    settings = GatewaySettings(resilience=dict(RESILIENCE, max_attempts=1, breaker_failures=2, breaker_cooldown_ms=800))
    gateway = start_gateway([openai_plugin], settings)
    upstream.add_faults({"kind": "status", "status": 500}, {"kind": "status", "status": 500})
    assert direct(gateway).status == 503
    assert direct(gateway).status == 503
    assert gateway.provider("openai")["circuit_breaker"] == "open"

    rejected = direct(gateway)
    assert rejected.status == 503, rejected.describe()
    assert rejected.error()["code"] == "provider_circuit_open"
    assert len(upstream.speech_requests()) == 2, "an open breaker sends nothing upstream"

    time.sleep(1.0)
    probe = direct(gateway)
    assert probe.status == 200, probe.describe()
    assert gateway.provider("openai")["circuit_breaker"] == "closed"
    assert len(upstream.speech_requests()) == 3


def test_full_queue_answers_429(start_gateway, openai_plugin, upstream):
    capacity = {"max_concurrent_requests": 1, "max_queued_requests": 0}
    settings = GatewaySettings(resilience=RESILIENCE, providers={"openai": {"capacity": capacity}})
    gateway = start_gateway([openai_plugin], settings)
    upstream.add_faults({"kind": "slow", "chunk_delay_ms": 300})

    holder = threading.Thread(target=direct, args=(gateway,))
    holder.start()
    deadline = time.monotonic() + 10
    while not upstream.speech_requests() and time.monotonic() < deadline:
        time.sleep(0.02)
    refused = direct(gateway)
    holder.join()

    assert refused.status == 429, refused.describe()
    assert refused.error()["code"] == "provider_capacity_exceeded"
    assert refused.headers.get("retry-after") is not None
    assert len(upstream.speech_requests()) == 1


def test_concurrency_limit_holds(start_gateway, openai_plugin, upstream):
    capacity = {"max_concurrent_requests": 10, "max_queued_requests": 500}
    settings = GatewaySettings(resilience=RESILIENCE, providers={"openai": {"capacity": capacity}})
    gateway = start_gateway([openai_plugin], settings)
    upstream.add_faults(*[{"kind": "slow", "chunk_delay_ms": 5}] * 200)

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(lambda _: direct(gateway, input="Short.").status, range(200)))
    upstream.clear_faults()

    assert statuses.count(200) == 200, f"statuses: {sorted(set(statuses))}"
    assert len(upstream.speech_requests()) == 200
    peak = upstream.stats()["max_in_flight"]
    assert peak <= 10, f"{peak} upstream requests were in flight at once, over the limit of 10"
    assert peak >= 2, "the test did not overlap requests, so it proves nothing"


def test_requests_per_minute_limit(start_gateway, openai_plugin, upstream):
    settings = GatewaySettings(resilience=RESILIENCE, providers={"openai": {"capacity": {"requests_per_minute": 2}}})
    gateway = start_gateway([openai_plugin], settings)
    assert direct(gateway, input="One.").status == 200
    assert direct(gateway, input="Two.").status == 200
    third = direct(gateway, input="Three.")
    assert third.status == 429, third.describe()
    assert third.error()["code"] == "provider_capacity_exceeded"
    # Two requests a minute refill one token every 30 s.
    assert 1 <= int(third.headers["retry-after"]) <= 30
    assert len(upstream.speech_requests()) == 2


def test_sigterm_finishes_request_in_flight(start_gateway, openai_plugin, upstream):
    gateway = start_gateway([openai_plugin], GatewaySettings(resilience=RESILIENCE))
    upstream.add_faults({"kind": "slow", "chunk_delay_ms": 100})
    outcome = {}
    holder = threading.Thread(target=lambda: outcome.update(response=direct(gateway)))
    holder.start()
    deadline = time.monotonic() + 10
    while not upstream.speech_requests() and time.monotonic() < deadline:
        time.sleep(0.02)

    status = gateway.stop()
    holder.join()

    response = outcome["response"]
    assert response.status == 200, response.describe()
    assert response.read_error is None, "the request in flight was cut off by the shutdown"
    assert probe(response.body, "wav").decode_errors == ""
    assert status == 0, f"the gateway exited with status {status}"
    assert "gateway stopped" in gateway.stderr()


def test_start_warns_of_routes_to_missing_providers(start_gateway, openai_plugin):
    broken = (
        '[routes.stale]\ncandidates = ["openai:tts-1", "gone:model", "openai:no-such-model"]\n\n'
        '[voices.lost]\nopenai = "nobody"\ngone = "x"\n'
    )
    gateway = start_gateway([openai_plugin], GatewaySettings(extra_toml=broken))

    log = gateway.stderr()
    assert "[routes.stale] entry `gone:model`: provider `gone` is not loaded" in log, log
    assert "[routes.stale] entry `openai:no-such-model`: provider `openai` has no model `no-such-model`" in log, log
    assert "[voices.lost]: provider `openai` has no voice `nobody`" in log, log
    assert "[voices.lost]: provider `gone` is not loaded" in log, log
    assert "entry `openai:tts-1`" not in log, "a valid entry is not reported"
    assert gateway.speech(speech_body(model="stale", input="Still served.")).status == 200
