#!/usr/bin/env python3
"""A loopback emulator of Cloudflare AI Gateway's provider routes, in front of other emulators.

`/v1/{account_id}/{gateway_id}/{provider}/{provider path}` is checked and forwarded:

- `openai/...` to `{--openai-upstream}/v1/...` (AI Gateway's `openai` stands for
  `https://api.openai.com/v1`);
- `workers-ai/{model}` to `{--workers-ai-upstream}/accounts/{account_id}/ai/run/{model}`
  (`workers-ai` stands for Cloudflare's `.../accounts/{account_id}/ai/run`), with the
  upstream given as the API root, such as `http://127.0.0.1:PORT/client/v4`.

The gateway is authenticated: every request needs `cf-aig-authorization: Bearer TOKEN`, where
TOKEN is `--api-key`. The provider's own credentials (`Authorization`) pass through untouched,
the `cf-aig-*` headers are checked, kept in the request log and not forwarded, and the
provider's response streams back with `cf-aig-cache-status: MISS` (AI Gateway caches only text
and image responses, never audio). The gateway's own errors use its envelope with the singular
key `error`. A queued `status` fault is returned by the gateway itself (401 defaults to code
2009), and a `hang` fault keeps the request open without a response. The routes, headers and limits are from
Cloudflare's AI Gateway docs (`ai-gateway/usage/providers/openai.mdx` and `workersai.mdx`,
`configuration/authentication.mdx` and `caching.mdx`, `observability/custom-metadata.mdx`). The
error envelope and code 2009 are from a public report that quotes a real response.

Run: python3 tests/emulators/ai_gateway_emulator.py --api-key GATEWAY_TOKEN
     [--openai-upstream URL] [--workers-ai-upstream URL] [--account-id ID] [--port 0]
"""

import argparse
import http.client
import ipaddress
import json
import re
import secrets
import sys
from urllib.parse import urlsplit

from server import DEFAULT_HANG_S, EmulatorHandler, parse_arguments, run_emulator

GATEWAY_PATH = re.compile(r"^/v1/([^/]+)/([^/]+)/([^/]+)(/.*)?$")

# Maximum cache TTL in seconds: AI Gateway documents "one month".
# NOTE: 30 days is assumed, as in the SDK's helper.
MIN_CACHE_TTL_S = 60
MAX_CACHE_TTL_S = 30 * 24 * 60 * 60
MAX_METADATA_ENTRIES = 5

# Hop-by-hop headers (RFC 9110), and the ones http.client or the handler set themselves, are
# never forwarded.
NOT_FORWARDED = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length", "server", "date"}

# The gateway's own error codes. 2009 "Unauthorized" is quoted in public reports.
# NOTE: the other codes are the emulator's own; AI Gateway's code table is not documented.
ERRORS = {401: (2009, "Unauthorized"), 400: (2008, "Invalid request"), 404: (2007, "No such route"), 429: (2003, "Rate limited"), 502: (2005, "Provider request failed")}

UPSTREAM_TIMEOUT_S = 120
CHUNK_BYTES = 16384


def gateway_error(status, code=None, message=None):
    default_code, default_message = ERRORS.get(status, (2000, "Gateway error"))
    code = code if code is not None else default_code
    return {
        "success": False,
        "result": [],
        "messages": [],
        "error": [{"code": code, "message": message or default_message}],
        "name": "AiGatewayError",
        "httpCode": status,
        "internalCode": code,
    }


class GatewayError(Exception):
    def __init__(self, status, message=None):
        super().__init__(message)
        self.status = status
        self.message = message


def check_aig_headers(headers):
    """Raise GatewayError(400) when a cf-aig-* header breaks a documented rule."""
    ttl = headers.get("cf-aig-cache-ttl")
    if ttl is not None and not (ttl.isdigit() and MIN_CACHE_TTL_S <= int(ttl) <= MAX_CACHE_TTL_S):
        raise GatewayError(400, f"cf-aig-cache-ttl must be whole seconds from {MIN_CACHE_TTL_S} to {MAX_CACHE_TTL_S}")
    skip = headers.get("cf-aig-skip-cache")
    if skip is not None and skip not in ("true", "false"):
        raise GatewayError(400, "cf-aig-skip-cache must be true or false")
    metadata = headers.get("cf-aig-metadata")
    if metadata is not None:
        try:
            value = json.loads(metadata)
        except ValueError:
            raise GatewayError(400, "cf-aig-metadata is not valid JSON")
        if not isinstance(value, dict):
            raise GatewayError(400, "cf-aig-metadata must be a JSON object")
        # AI Gateway silently drops entries past the fifth; the emulator refuses them so that a
        # test notices a client that sends more.
        if len(value) > MAX_METADATA_ENTRIES or any(isinstance(item, (dict, list)) or item is None for item in value.values()):
            raise GatewayError(400, "cf-aig-metadata takes at most 5 string, number or boolean values")


class AiGatewayHandler(EmulatorHandler):
    """Checks and forwards provider routes."""

    # Set by main: provider segment -> upstream base URL, and the one account accepted.
    upstreams = {}
    account_id = None

    def error_body(self, status, message, code=None):
        return gateway_error(status, message=message)

    def handle_api(self, request):
        try:
            target = self.route(request)
        except GatewayError as error:
            self.send_json(error.status, gateway_error(error.status, message=error.message))
            return

        fault = self.server.faults.pop()
        if fault is not None and fault["kind"] == "status":
            headers = [("retry-after", f"{fault['retry_after']:g}")] if fault.get("retry_after") is not None else []
            code = int(fault["code"]) if str(fault.get("code", "")).isdigit() else None
            self.send_json(fault["status"], gateway_error(fault["status"], code), headers)
            return
        if fault is not None and fault["kind"] == "hang":
            self.hold(fault.get("max_seconds", DEFAULT_HANG_S))
            return

        self.forward(request, target)

    def route(self, request):
        """Check the path, the gateway token and the cf-aig-* headers; return the upstream URL."""
        match = GATEWAY_PATH.match(request.path)
        if match is None:
            raise GatewayError(404)
        account, _gateway, provider, rest = match.group(1), match.group(2), match.group(3), match.group(4) or ""
        if self.account_id is not None and account != self.account_id:
            raise GatewayError(404, f"no gateway for account {account}")

        token = bearer_token(request.headers.get("cf-aig-authorization", ""))
        if token is None or not secrets.compare_digest(token.encode("utf-8"), self.server.api_key.encode("utf-8")):
            raise GatewayError(401)
        check_aig_headers(request.headers)

        upstream = self.upstreams.get(provider)
        if upstream is None:
            raise GatewayError(400, f"this emulator forwards only {', '.join(sorted(self.upstreams)) or 'nothing'}, not {provider}")
        if provider == "workers-ai":
            path = f"/accounts/{account}/ai/run{rest}"
        else:
            path = f"/v1{rest}"
        query = f"?{request.query}" if request.query else ""
        return upstream + path + query

    def forward(self, request, target):
        url = urlsplit(target)
        headers = {name: value for name, value in request.headers.items() if name not in NOT_FORWARDED and not name.startswith("cf-aig-")}
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=UPSTREAM_TIMEOUT_S)
        try:
            connection.request(request.method, url.path + (f"?{url.query}" if url.query else ""), body=request.body or None, headers=headers)
            answer = connection.getresponse()
        except OSError as error:
            connection.close()
            print(f"upstream {url.netloc} failed: {error}", file=sys.stderr, flush=True)
            self.send_json(502, gateway_error(502, message=f"the provider could not be reached: {error}"))
            return

        try:
            passed = [(name, value) for name, value in answer.getheaders() if name.lower() not in NOT_FORWARDED and name.lower() != "content-type"]
            passed += [("cf-aig-cache-status", "MISS"), ("cf-aig-log-id", secrets.token_hex(13))]
            self.start_chunked(answer.status, answer.getheader("content-type", "application/octet-stream"), passed)
            while True:
                chunk = answer.read1(CHUNK_BYTES)
                if not chunk:
                    break
                self.write_chunk(chunk)
            self.end_chunked()
        except (http.client.HTTPException, OSError) as error:
            # The provider broke off mid-body, so the client's response breaks off too.
            print(f"upstream {url.netloc} broke off: {error}", file=sys.stderr, flush=True)
            self.reset_connection()
        finally:
            connection.close()


def bearer_token(authorization):
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_url(parser, option, value):
    """Return `value` without a trailing slash, or exit when it is not a loopback http URL."""
    url = urlsplit(value)
    if url.scheme != "http" or not url.hostname or not is_loopback(url.hostname):
        parser.error(f"{option} {value!r} must be an http:// URL on a loopback address")
    return value.rstrip("/")


def main(argv=None):
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--openai-upstream", help="OpenAI API origin to forward `openai` routes to")
    extra.add_argument("--workers-ai-upstream", help="Cloudflare API root (ending in /client/v4) to forward `workers-ai` routes to")
    extra.add_argument("--account-id", help="the only account id accepted in the path (default: any)")
    known, rest = extra.parse_known_args(argv)
    arguments = parse_arguments("Emulate Cloudflare AI Gateway's provider routes on a loopback address.", rest)

    upstreams = {}
    if known.openai_upstream:
        upstreams["openai"] = loopback_url(extra, "--openai-upstream", known.openai_upstream)
    if known.workers_ai_upstream:
        upstreams["workers-ai"] = loopback_url(extra, "--workers-ai-upstream", known.workers_ai_upstream)
    AiGatewayHandler.upstreams = upstreams
    AiGatewayHandler.account_id = known.account_id
    run_emulator(AiGatewayHandler, arguments)


if __name__ == "__main__":
    main()
