#!/usr/bin/env python3
"""A loopback emulator of Cloudflare Workers AI's REST API for text-to-speech models.

`POST /client/v4/accounts/{account_id}/ai/run/{model}` with `Authorization: Bearer TOKEN`, for
`@cf/deepgram/aura-2-en`, `@cf/deepgram/aura-1` and `@cf/myshell-ai/melotts`. It validates the
body as strictly as the models' schemas (speaker enums, types, MeloTTS's required `prompt`) and
Aura's output settings against Deepgram's combination table. Aura returns raw audio in the
requested encoding. MeloTTS returns the JSON result envelope with base64 WAV inside, which is
what the real service returns although its documentation states MP3. Errors use Cloudflare's v4
envelope, `{"success": false, "errors": [{"code", "message"}], "messages": [], "result": null}`,
with the codes of Cloudflare's Workers AI error table. Faults are queued through the control
endpoints described in server.py; a `status` fault takes a Workers AI `code` such as "3036".

Run: python3 tests/emulators/workers_ai_emulator.py --api-key TOKEN [--account-id ID] [--port 0]
It prints `listening on http://127.0.0.1:PORT` once bound and serves until SIGTERM or SIGINT.
The API root for a client is `http://127.0.0.1:PORT/client/v4`.
"""

import argparse
import base64
import json
import re
import secrets
import sys
import threading
from urllib.parse import unquote

from audio import RenderError
from server import DEFAULT_HANG_S, EmulatorHandler, parse_arguments, run_emulator
from workers_ai_audio import CONTAINERS, ENCODINGS, CombinationError, SpeechRenderer, aura_output

RUN_PATH = re.compile(r"^/client/v4/accounts/([^/]+)/ai/run/(.+)$")

AURA_1 = "@cf/deepgram/aura-1"
AURA_2_EN = "@cf/deepgram/aura-2-en"
MELOTTS = "@cf/myshell-ai/melotts"

# The speaker enums and defaults of Cloudflare's aura-1.json and aura-2-en.json.
AURA_SPEAKERS = {
    AURA_1: ("angus", "asteria", "arcas", "orion", "orpheus", "athena", "luna", "zeus", "perseus", "helios", "hera", "stella"),
    AURA_2_EN: (
        "amalthea", "andromeda", "apollo", "arcas", "aries", "asteria", "athena", "atlas", "aurora", "callista",
        "cora", "cordelia", "delia", "draco", "electra", "harmonia", "helena", "hera", "hermes", "hyperion",
        "iris", "janus", "juno", "jupiter", "luna", "mars", "minerva", "neptune", "odysseus", "ophelia",
        "orion", "orpheus", "pandora", "phoebe", "pluto", "saturn", "thalia", "theia", "vesta", "zeus",
    ),
}
DEFAULT_SPEAKERS = {AURA_1: "angus", AURA_2_EN: "luna"}

# Each speaker gets an espeak-ng variant by its position, so different speakers sound different.
ESPEAK_VARIANTS = ("en-us", "en-us+f2", "en-us+m3", "en-gb", "en-us+f3", "en-us+m1", "en-gb+f2", "en-us+m5", "en-us+f4", "en-us+m2")

# MeloTTS `lang` values and the espeak-ng voice for each.
# NOTE: Cloudflare's schema shows only `en` and `fr`; the rest follow MeloTTS's language names.
# An unknown `lang` is spoken in English, because Workers AI's response to one is not documented.
MELOTTS_VOICES = {"en": "en-us", "es": "es", "fr": "fr-fr", "zh": "cmn", "jp": "ja", "kr": "ko"}

# Cloudflare's Workers AI error table (workers-ai/platform/errors.mdx): code -> (status, message).
# 10000 is the API's authentication error from public captures; 5006 (schema validation),
# 7000 and 7001 (no route, wrong method) and 3000 (internal error) are from public reports.
# NOTE: the messages are short paraphrases, not Cloudflare's exact text.
ERRORS = {
    5007: (400, "No such model {model} or task"),
    5004: (400, "Invalid data"),
    3003: (400, "Request is missing headers or body"),
    5006: (400, "Input does not match the model's schema"),
    5018: (403, "The account is not allowed to access this model"),
    5016: (403, "The model's terms have not been accepted"),
    3023: (403, "Service unavailable for account"),
    3041: (403, "The account is not allowed to access this model"),
    5019: (405, "Deprecated SDK version"),
    5005: (405, "The model {model} does not support LoRa inference"),
    3042: (404, "The model name is invalid"),
    3006: (413, "Request is too large"),
    3007: (408, "Request timeout"),
    3008: (408, "Request was aborted"),
    3036: (429, "Daily free allocation of 10,000 neurons used up; upgrade to Workers Paid to continue"),
    3040: (429, "No more data centers to forward the request to"),
    10000: (401, "Authentication error"),
    7000: (404, "No route for that URI"),
    7001: (405, "Method not allowed"),
    3000: (500, "Unknown internal error"),
}
# The code a `status` fault without one uses.
DEFAULT_CODES = {400: 5006, 401: 10000, 403: 10000, 404: 3042, 405: 7001, 408: 3007, 413: 3006, 429: 3040}
DEFAULT_SERVER_ERROR_CODE = 3000

RENDERER_LOCK = threading.Lock()


def envelope(code, message):
    return {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}


class ApiError(Exception):
    """An error response in Cloudflare's envelope."""

    def __init__(self, code, message=None, status=None, model=""):
        default_status, template = ERRORS.get(code, (500, "Error"))
        super().__init__(message or template.format(model=model))
        self.code = code
        self.status = status or default_status
        self.message = message or template.format(model=model)


def invalid(message):
    return ApiError(5006, f"AiError: {message}")


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_body(body):
    if not body:
        raise ApiError(3003)
    try:
        params = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise invalid("the body is not valid JSON")
    if not isinstance(params, dict):
        raise invalid("the input must be a JSON object")
    return params


def validate_aura(model, params):
    """Return (text, espeak voice, AuraOutput) or raise ApiError, like the schema and Deepgram would."""
    for name in ("text", "speaker", "encoding", "container"):
        if name in params and not isinstance(params[name], str):
            raise invalid(f"Type mismatch of '/{name}', expected a string")
    for name in ("sample_rate", "bit_rate"):
        if name in params and not is_number(params[name]):
            raise invalid(f"Type mismatch of '/{name}', expected a number")
    if "text" not in params:
        raise invalid("required properties at '/' are 'text'")
    # NOTE: the schema sets no minimum length; Deepgram has nothing to speak in an empty text.
    if not params["text"].strip():
        raise invalid("'/text' must not be empty")

    speakers = AURA_SPEAKERS[model]
    speaker = params.get("speaker", DEFAULT_SPEAKERS[model])
    if speaker not in speakers:
        raise invalid(f"'/speaker' must be one of {', '.join(speakers)}")
    # Workers AI returns MP3 when no encoding is named, unlike Deepgram's own REST default.
    encoding = params.get("encoding", "mp3")
    if encoding not in ENCODINGS:
        raise invalid(f"'/encoding' must be one of {', '.join(ENCODINGS)}")
    container = params.get("container")
    if container is not None and container not in CONTAINERS:
        raise invalid(f"'/container' must be one of {', '.join(CONTAINERS)}")

    try:
        output = aura_output(encoding, container, params.get("sample_rate"), params.get("bit_rate"))
    except CombinationError as error:
        raise invalid(str(error))
    voice = ESPEAK_VARIANTS[speakers.index(speaker) % len(ESPEAK_VARIANTS)]
    return params["text"], voice, output


def validate_melotts(params):
    """Return (prompt, espeak voice) or raise ApiError, as MeloTTS's schema requires."""
    if "prompt" not in params:
        raise invalid("required properties at '/' are 'prompt'")
    if not isinstance(params["prompt"], str):
        raise invalid("Type mismatch of '/prompt', expected a string")
    if len(params["prompt"]) < 1:
        raise invalid("'/prompt' must NOT have fewer than 1 characters")
    lang = params.get("lang", "en")
    if not isinstance(lang, str):
        raise invalid("Type mismatch of '/lang', expected a string")
    return params["prompt"], MELOTTS_VOICES.get(lang.lower(), "en-us")


class WorkersAiHandler(EmulatorHandler):
    """Handler for the `ai/run` path. Any other path gets Cloudflare's 404 "No route" error."""

    # Set by main from --account-id; None accepts any account.
    account_id = None

    def error_body(self, status, message, code=None):
        return envelope(DEFAULT_CODES.get(status, DEFAULT_SERVER_ERROR_CODE), message)

    @property
    def speech(self):
        """The server's renderer, replaced once by one that encodes Aura's combinations, so
        that `GET /__emulator/stats` counts its renders."""
        with RENDERER_LOCK:
            if not isinstance(self.server.renderer, SpeechRenderer):
                self.server.renderer = SpeechRenderer()
            return self.server.renderer

    def handle_api(self, request):
        headers = [("cf-ray", secrets.token_hex(8) + "-EMU")]
        try:
            model, params = self.check_request(request)
            if model == MELOTTS:
                prompt, voice = validate_melotts(params)
            else:
                text, voice, output = validate_aura(model, params)
        except ApiError as error:
            self.send_json(error.status, envelope(error.code, error.message), headers)
            return

        fault = self.server.faults.pop()
        if fault is not None and self.apply_early_fault(fault, model, headers):
            return

        try:
            if model == MELOTTS:
                audio = self.speech.melotts_wav(prompt, voice)
                encoded = base64.b64encode(audio).decode("ascii")
                result = {"result": {"audio": encoded}, "success": True, "errors": [], "messages": []}
                self.send_body(200, "application/json", json.dumps(result).encode("utf-8"), headers, fault)
            else:
                audio = self.speech.aura(text, voice, output)
                # NOTE: the neuron count is a rough figure, not Cloudflare's formula.
                headers.append(("cf-ai-neurons", f"{len(text) * 1.36:.2f}"))
                self.send_body(200, output.content_type(), audio, headers, fault)
        except RenderError as error:
            print(f"render failed: {error}", file=sys.stderr, flush=True)
            self.send_json(500, envelope(3000, f"Unknown internal error: {error}"), headers)

    def check_request(self, request):
        """Route, authenticate and parse; return (model, params) or raise ApiError."""
        match = RUN_PATH.match(request.path)
        if match is None:
            raise ApiError(7000)
        if request.method != "POST":
            raise ApiError(7001)

        token = bearer_token(request.headers.get("authorization", ""))
        if token is None or not secrets.compare_digest(token.encode("utf-8"), self.server.api_key.encode("utf-8")):
            raise ApiError(10000)
        account, model = unquote(match.group(1)), unquote(match.group(2))
        # A valid token for another account is refused like a bad token.
        if self.account_id is not None and account != self.account_id:
            raise ApiError(10000, status=403)

        if not re.fullmatch(r"@[a-z0-9-]+/[a-z0-9_.-]+/[a-z0-9_.-]+", model):
            raise ApiError(3042)
        if model not in (AURA_1, AURA_2_EN, MELOTTS):
            raise ApiError(5007, model=model)
        return model, parse_body(request.body)

    def apply_early_fault(self, fault, model, headers):
        """Apply a fault that replaces the response. Return False for those that shape the audio."""
        kind = fault["kind"]
        if kind == "status":
            self.send_status_fault(fault, model, headers)
        elif kind == "hang":
            self.hold(fault.get("max_seconds", DEFAULT_HANG_S))
        elif kind == "malformed_json":
            body = b'{"success": false, "errors": [{"code": 3000, "message": "Unknown internal er'
            self.send_bytes(fault.get("status", 500), "application/json", body, headers)
        elif kind == "wrong_content_type":
            body = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>\n"
            self.send_bytes(200, "text/html; charset=UTF-8", body, headers)
        else:
            return False
        return True

    def send_status_fault(self, fault, model, headers):
        status = fault["status"]
        headers = list(headers)
        if fault.get("retry_after") is not None:
            headers.append(("retry-after", f"{fault['retry_after']:g}"))
        if "body" in fault:
            body = fault["body"]
            raw = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
            self.send_bytes(status, "application/json", raw, headers)
            return

        code = fault.get("code")
        if code is not None and not code.isdigit():
            self.send_json(status, envelope(3000, f"emulator fault: code {code!r} is not a number"), headers)
            return
        code = int(code) if code else DEFAULT_CODES.get(status, DEFAULT_SERVER_ERROR_CODE)
        message = ERRORS.get(code, (status, f"Emulated error {code}"))[1].format(model=model)
        self.send_json(status, envelope(code, message), headers)

    def send_body(self, status, content_type, body, headers, fault):
        """Send a success body, shaped by a `slow`, `reset_mid_body` or `oversized` fault."""
        kind = fault["kind"] if fault else None
        if kind == "slow":
            self.stream_chunked(status, content_type, body, headers, chunk_delay_s=fault.get("chunk_delay_ms", 200) / 1000)
        elif kind == "reset_mid_body":
            self.send_reset_mid_body(content_type, body, headers, fault.get("after_bytes"))
        elif kind == "oversized" and fault.get("status", 200) != 200:
            padding = "x" * max(0, fault["bytes"] - 100)
            self.send_json(fault["status"], envelope(3000, "Unknown internal error " + padding), headers)
        elif kind == "oversized":
            repeated = body * (fault["bytes"] // max(1, len(body)) + 1)
            self.stream_chunked(status, content_type, repeated[:fault["bytes"]], headers)
        else:
            self.stream_chunked(status, content_type, body, headers)

    def send_reset_mid_body(self, content_type, body, headers, after_bytes):
        if after_bytes is None:
            after_bytes = max(1, len(body) // 2)
        self.start_chunked(200, content_type, headers)
        self.write_chunk(body[:after_bytes])
        self.reset_connection()


def bearer_token(authorization):
    """Return the token of a `Bearer TOKEN` header value, or None when there is none."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def main(argv=None):
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--account-id", help="the only account id accepted in the path (default: any)")
    known, rest = extra.parse_known_args(argv)
    arguments = parse_arguments("Emulate Cloudflare Workers AI's ai/run REST API for TTS models on a loopback address.", rest)

    WorkersAiHandler.account_id = known.account_id
    run_emulator(WorkersAiHandler, arguments)


if __name__ == "__main__":
    main()
