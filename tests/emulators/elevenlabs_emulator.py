#!/usr/bin/env python3
"""A loopback emulator of ElevenLabs' text-to-speech API.

Routes, as ElevenLabs serves them:

- `POST /v1/text-to-speech/{voice_id}`: the whole clip, with a Content-Length;
- `POST /v1/text-to-speech/{voice_id}/stream`: the clip with chunked transfer encoding;
- `POST /v1/text-to-speech/{voice_id}/with-timestamps`: JSON with `audio_base64` and the
  character alignment;
- `POST /v1/text-to-speech/{voice_id}/stream/with-timestamps`: the same as one JSON object
  per line;
- `GET /v1/voices`, `GET /v2/voices` (paginated) and `GET /v1/models` (a bare JSON array).

Every route needs the `xi-api-key` header. Requests are validated as ElevenLabs does
(elevenlabs_api.py), speech is rendered with espeak-ng and encoded by ffmpeg in the requested
`output_format` (elevenlabs_audio.py), and faults for tests are queued through the control
endpoints described in server.py.

Run: python3 tests/emulators/elevenlabs_emulator.py --api-key KEY [--port 0] [--request-log FILE]
It prints `listening on http://127.0.0.1:PORT` once bound and serves until SIGTERM or SIGINT.
"""

import base64
import json
import secrets
import string
import sys
import threading
import time
from urllib.parse import parse_qs, unquote

from audio import RenderError
from elevenlabs_api import (
    ALL_VOICES,
    CONTENT_TYPES,
    MODELS,
    STREAM_OUTPUT_FORMATS,
    WHOLE_CLIP_OUTPUT_FORMATS,
    ApiError,
    ValidationFailed,
    character_cost,
    model_object,
    validate_tts_request,
    voice_object,
)
from elevenlabs_audio import ElevenLabsRenderer, spread_alignment
from server import DEFAULT_HANG_S, EmulatorHandler, parse_arguments, run_emulator

TTS_PREFIX = "/v1/text-to-speech/"
# The endpoint after the voice id: (streams the audio, returns JSON with timestamps).
ENDPOINTS = {
    "": (False, False),
    "stream": (True, False),
    "with-timestamps": (False, True),
    "stream/with-timestamps": (True, True),
}

# GET /v2/voices: `page_size` defaults to 10 and is capped at 100 (ElevenLabs' spec).
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100

# Headers of a successful response that the emulator does not compute (ElevenLabs' plan limits).
CONCURRENCY_HEADERS = [("current-concurrent-requests", "1"), ("maximum-concurrent-requests", "10")]
EXPOSED_HEADERS = "request-id, history-item-id, character-cost, current-concurrent-requests, maximum-concurrent-requests"

# Messages for the `detail.status` codes that `status` faults may name, from ElevenLabs'
# error-code page and from captured responses quoted in public issues.
CODE_MESSAGES = {
    "invalid_api_key": "Invalid API key",
    "missing_permissions": "The API key you used is missing the permission text_to_speech to execute this operation.",
    "quota_exceeded": "This request exceeds your quota of 10000. You have 12 credits remaining, while 56 credits are required for this request.",
    "voice_not_found": "A voice with the voice_id {voice_id} was not found.",
    "max_character_limit_exceeded": "You are sending too many characters in a single request for this model.",
    "too_many_concurrent_requests": "Too many concurrent requests. Your current subscription is associated with a maximum of 2 concurrent requests. Please upgrade your subscription or try again later.",
    "system_busy": "We're experiencing heavy traffic, please try again later.",
    "only_for_creator+": "This feature is only available for Creator tier subscribers and above.",
}
DEFAULT_CODE_FOR_STATUS = {
    400: "invalid_request",
    401: "invalid_api_key",
    402: "payment_required",
    403: "only_for_creator+",
    404: "voice_not_found",
    429: "too_many_concurrent_requests",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}

_RENDERER_LOCK = threading.Lock()


def new_id():
    """A 20-character id like ElevenLabs' request and history ids."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def detail_body(code, message):
    return {"detail": {"status": code, "message": message}}


class ElevenLabsHandler(EmulatorHandler):
    """Handler for ElevenLabs' routes. Unknown paths get FastAPI's 404 `{"detail": "Not Found"}`."""

    def error_body(self, status, message, code=None):
        return detail_body(code or DEFAULT_CODE_FOR_STATUS.get(status, "error"), message)

    @property
    def renderer(self):
        # The framework's server has a 24 kHz renderer, and this emulator needs its own for
        # ElevenLabs' rates. It is swapped in once, so /__emulator/stats counts its renders.
        server = self.server
        with _RENDERER_LOCK:
            if not isinstance(server.renderer, ElevenLabsRenderer):
                server.renderer = ElevenLabsRenderer()
            return server.renderer

    def handle_api(self, request):
        headers = [("request-id", new_id()), ("x-trace-id", secrets.token_hex(16))]
        route = self.route(request)
        if route is None:
            self.send_json(404, {"detail": "Not Found"}, headers)
            return
        method, handler = route
        if request.method != method:
            self.send_json(405, {"detail": "Method Not Allowed"}, headers)
            return

        key = request.headers.get("xi-api-key")
        if key is None or not secrets.compare_digest(key.encode("utf-8"), self.server.api_key.encode("utf-8")):
            message = "Invalid API key" if key else "Missing the xi-api-key header with your API key."
            self.send_json(401, detail_body("invalid_api_key", message), headers)
            return

        handler(request, headers)

    def route(self, request):
        """Return (method, handler) for the request's path, or None."""
        if request.path == "/v1/voices":
            return "GET", self.list_voices
        if request.path == "/v2/voices":
            return "GET", self.search_voices
        if request.path == "/v1/models":
            return "GET", self.list_models
        if not request.path.startswith(TTS_PREFIX):
            return None

        segment, _, rest = request.path[len(TTS_PREFIX):].partition("/")
        if not segment or rest not in ENDPOINTS:
            return None
        streams, timestamps = ENDPOINTS[rest]
        voice_id = unquote(segment)
        return "POST", lambda request, headers: self.text_to_speech(request, headers, voice_id, streams, timestamps)

    # --- Listings ---

    def list_voices(self, request, headers):
        self.send_json(200, {"voices": [voice_object(voice_id) for voice_id in ALL_VOICES]}, headers)

    def search_voices(self, request, headers):
        params = {name: values[-1] for name, values in parse_qs(request.query).items()}
        try:
            page_size = int(params.get("page_size", DEFAULT_PAGE_SIZE))
            offset = int(params.get("next_page_token") or 0)
        except ValueError:
            self.send_json(422, {"detail": [{"type": "int_parsing", "loc": ["query", "page_size"], "msg": "Input should be a valid integer", "input": params.get("page_size")}]}, headers)
            return
        page_size = max(1, min(page_size, MAX_PAGE_SIZE))

        voices = [voice_object(voice_id) for voice_id in ALL_VOICES]
        search = params.get("search", "").lower()
        if search:
            voices = [voice for voice in voices if search in voice["name"].lower()]
        if params.get("category"):
            voices = [voice for voice in voices if voice["category"] == params["category"]]

        page = voices[offset:offset + page_size]
        has_more = offset + page_size < len(voices)
        self.send_json(
            200,
            {"voices": page, "has_more": has_more, "total_count": len(voices), "next_page_token": str(offset + page_size) if has_more else None},
            headers,
        )

    def list_models(self, request, headers):
        self.send_json(200, [model_object(model_id) for model_id in MODELS], headers)

    # --- Text to speech ---

    def text_to_speech(self, request, headers, voice_id, streams, timestamps):
        allowed = STREAM_OUTPUT_FORMATS if streams else WHOLE_CLIP_OUTPUT_FORMATS
        try:
            speech = validate_tts_request(voice_id, request.query, request.body, allowed)
        except ValidationFailed as failed:
            self.send_json(422, {"detail": failed.errors}, headers)
            return
        except ApiError as error:
            self.send_json(error.status, error.body(), headers)
            return

        fault = self.server.faults.pop()
        if fault is not None and self.apply_early_fault(fault, voice_id, headers):
            return

        try:
            rendered = self.renderer.render(speech["text"], speech["espeak_voice"], speech["output_format"], speech["speed"])
        except RenderError as error:
            print(f"render failed: {error}", file=sys.stderr, flush=True)
            self.send_json(500, detail_body("internal_server_error", f"Rendering failed: {error}"), headers)
            return

        latency_ms = max(1, round((time.time() - request.received_at) * 1000))
        headers = headers + CONCURRENCY_HEADERS + [
            ("history-item-id", new_id()),
            ("character-cost", str(character_cost(speech["text"], speech["model_id"]))),
            ("tts-latency-ms", str(latency_ms)),
            ("access-control-expose-headers", EXPOSED_HEADERS),
        ]

        if timestamps:
            alignment = spread_alignment(speech["text"], rendered.duration_s)
            if streams:
                self.send_timestamp_lines(rendered.audio, alignment, headers, fault)
            else:
                body = {"audio_base64": base64.b64encode(rendered.audio).decode("ascii"), "alignment": alignment, "normalized_alignment": alignment}
                self.send_body(200, "application/json", json.dumps(body).encode("utf-8"), headers, fault, streams=False)
            return

        codec = speech["output_format"].split("_")[0]
        self.send_body(200, CONTENT_TYPES[codec], rendered.audio, headers, fault, streams=streams)

    def send_timestamp_lines(self, audio, alignment, headers, fault):
        """Send the audio as JSON lines, each with its slice of audio and of the characters."""
        chunk_size = self.server.chunk_size
        pieces = [audio[offset:offset + chunk_size] for offset in range(0, len(audio), chunk_size)] or [b""]
        characters = alignment["characters"]
        per_piece = -(-len(characters) // len(pieces))

        lines = []
        for index, piece in enumerate(pieces):
            chosen = slice(index * per_piece, (index + 1) * per_piece)
            part = {key: values[chosen] for key, values in alignment.items()}
            chunk = {"audio_base64": base64.b64encode(piece).decode("ascii"), "alignment": part, "normalized_alignment": part}
            lines.append(json.dumps(chunk).encode("utf-8") + b"\n")

        # NOTE: the spec labels this stream application/json; its exact type is not documented.
        self.send_body(200, "application/json", b"".join(lines), headers, fault, streams=True)

    # --- Faults ---

    def apply_early_fault(self, fault, voice_id, headers):
        """Apply a fault that replaces the response. Return False for faults that shape the audio."""
        kind = fault["kind"]
        if kind == "status":
            self.send_status_fault(fault, voice_id, headers)
        elif kind == "hang":
            self.hold(fault.get("max_seconds", DEFAULT_HANG_S))
        elif kind == "malformed_json":
            body = b'{"detail": {"status": "internal_server_error", "message": "An unexpected err'
            self.send_bytes(fault.get("status", 500), "application/json", body, headers)
        elif kind == "wrong_content_type":
            body = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1><hr><center>cloudflare</center></body></html>\n"
            self.send_bytes(200, "text/html; charset=utf-8", body, headers)
        elif kind == "oversized" and fault.get("status", 200) != 200:
            self.send_oversized_error(fault["status"], headers, fault["bytes"])
        else:
            return False
        return True

    def send_status_fault(self, fault, voice_id, headers):
        status = fault["status"]
        headers = list(headers)
        if fault.get("retry_after") is not None:
            headers.append(("retry-after", f"{fault['retry_after']:g}"))

        if "body" in fault:
            body = fault["body"]
            if isinstance(body, str):
                self.send_bytes(status, "application/json", body.encode("utf-8"), headers)
            else:
                self.send_json(status, body, headers)
            return

        code = fault.get("code") or DEFAULT_CODE_FOR_STATUS.get(status, "error")
        message = CODE_MESSAGES.get(code, f"Emulated error {status}.").format(voice_id=voice_id)
        self.send_json(status, detail_body(code, message), headers)

    def send_body(self, status, content_type, body, headers, fault, streams):
        """Send a successful body, shaped by a `slow`, `reset_mid_body` or `oversized` fault."""
        kind = fault["kind"] if fault else None
        if kind == "slow":
            self.stream_chunked(status, content_type, body, headers, chunk_delay_s=fault.get("chunk_delay_ms", 200) / 1000)
        elif kind == "reset_mid_body":
            self.send_reset_mid_body(content_type, body, headers, fault.get("after_bytes"))
        elif kind == "oversized":
            self.send_oversized(content_type, body, headers, fault["bytes"])
        elif streams:
            self.stream_chunked(status, content_type, body, headers)
        else:
            self.send_bytes(status, content_type, body, headers)

    def send_reset_mid_body(self, content_type, body, headers, after_bytes):
        if after_bytes is None:
            after_bytes = max(1, len(body) // 2)
        self.start_chunked(200, content_type, headers)
        self.write_chunk(body[:after_bytes])
        self.reset_connection()

    def send_oversized(self, content_type, body, headers, size):
        """Send `size` bytes: the real body repeated, as if it never ended."""
        block = body * max(1, 65536 // max(1, len(body)))
        self.start_chunked(200, content_type, headers)
        sent = 0
        while sent < size:
            piece = block[:size - sent]
            self.write_chunk(piece)
            sent += len(piece)
        self.end_chunked()

    def send_oversized_error(self, status, headers, size):
        """Send a valid ElevenLabs error body padded to `size` bytes."""
        start = b'{"detail": {"status": "internal_server_error", "message": "'
        end = b'"}}'
        padding = b"x" * max(0, size - len(start) - len(end))
        self.start_chunked(status, "application/json", headers)
        self.write_chunk(start)
        for offset in range(0, len(padding), 65536):
            self.write_chunk(padding[offset:offset + 65536])
        self.write_chunk(end)
        self.end_chunked()


def main(argv=None):
    arguments = parse_arguments("Emulate ElevenLabs' text-to-speech API on a loopback address.", argv)
    run_emulator(ElevenLabsHandler, arguments)


if __name__ == "__main__":
    main()
