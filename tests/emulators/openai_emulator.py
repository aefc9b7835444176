#!/usr/bin/env python3
"""A loopback emulator of OpenAI's text-to-speech endpoint, `POST /v1/audio/speech`.

It checks the Bearer key, validates the body as strictly as OpenAI's published schema
(`CreateSpeechRequest`, additionalProperties false), renders real speech with espeak-ng and
streams it in the requested format with chunked transfer encoding. Errors use OpenAI's
`{"error": {"message", "type", "param", "code"}}` body. Faults for tests are queued through
the control endpoints described in server.py.

Run: python3 tests/emulators/openai_emulator.py --api-key KEY [--port 0] [--request-log FILE]
It prints `listening on http://127.0.0.1:PORT` once bound and serves until SIGTERM or SIGINT.
Standard library only, plus the espeak-ng and ffmpeg programs.
"""

import base64
import json
import secrets
import sys
import time

from audio import RenderError
from server import DEFAULT_HANG_S, EmulatorHandler, parse_arguments, run_emulator

SPEECH_PATH = "/v1/audio/speech"

MAX_INPUT_CHARACTERS = 4096
MAX_INSTRUCTIONS_CHARACTERS = 4096
MIN_SPEED = 0.25
MAX_SPEED = 4.0

MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
# OpenAI documents that instructions and SSE streaming do not work with these models.
MODELS_WITHOUT_INSTRUCTIONS = ("tts-1", "tts-1-hd")

# The 13 built-in voices that OpenAI's API reference lists, each given a distinct espeak-ng
# variant so that different voices produce different audio.
VOICES = {
    "alloy": "en-us",
    "ash": "en-us+m3",
    "ballad": "en-us+m5",
    "coral": "en-us+f2",
    "echo": "en-us+m2",
    "fable": "en-gb",
    "onyx": "en-us+m1",
    "nova": "en-us+f3",
    "sage": "en-us+f4",
    "shimmer": "en-us+f1",
    "verse": "en-us+m4",
    "marin": "en-us+f5",
    "cedar": "en-us+m6",
}
CUSTOM_VOICE_ESPEAK = "en-us"

# Real responses carry a format-specific type even though the OpenAPI document declares
# application/octet-stream.
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}

FIELDS = ("model", "input", "voice", "instructions", "response_format", "speed", "stream_format")
REQUIRED_FIELDS = ("model", "input", "voice")
STREAM_FORMATS = ("audio", "sse")

INVALID_REQUEST = "invalid_request_error"

# Default bodies for `status` faults, keyed by (status, code).
STATUS_FAULT_ERRORS = {
    (429, "rate_limit_exceeded"): (
        "requests",
        "Rate limit reached for {model} in organization org-emulator on requests per min (RPM): "
        "Limit 50, Used 50, Requested 1. Please try again in {retry}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
    ),
    (429, "insufficient_quota"): (
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
    ),
    (401, "invalid_api_key"): (
        INVALID_REQUEST,
        "Incorrect API key provided: {masked_key}. "
        "You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    (500, None): ("server_error", "The server had an error while processing your request. Sorry about that!"),
    (502, None): ("server_error", "Bad gateway."),
    (503, None): ("server_error", "The engine is currently overloaded, please try again later."),
}
DEFAULT_CODE_FOR_STATUS = {429: "rate_limit_exceeded", 401: "invalid_api_key"}


class InvalidRequest(Exception):
    """A request that OpenAI would reject with 400."""

    def __init__(self, message, param=None, code=None, status=400):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status


def json_type_name(value):
    """Name a decoded JSON value's type the way OpenAI's messages do."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def quoted_list(values):
    return ", ".join(f"'{value}'" for value in values)


def mask_key(key):
    """Mask a key the way OpenAI's 401 message does: the first 3 and last 4 characters stay."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


def reject_json_constant(name):
    """Reject NaN and Infinity, which Python's json module accepts but JSON does not."""
    raise ValueError(f"{name} is not valid JSON")


def validate_speech_request(body):
    """Return the validated request fields, or raise InvalidRequest like OpenAI would."""
    try:
        params = json.loads(body.decode("utf-8"), parse_constant=reject_json_constant)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
            "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
            "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
            "contact us through our help center at help.openai.com.)"
        )
    if not isinstance(params, dict):
        raise InvalidRequest(
            f"Invalid type for request body: expected an object, but got {json_type_name(params)} instead.",
            code="invalid_type",
        )

    for name in params:
        if name not in FIELDS:
            raise InvalidRequest(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    for name in REQUIRED_FIELDS:
        if name not in params:
            raise InvalidRequest(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")

    for name in ("model", "input", "instructions", "response_format", "stream_format"):
        if name in params and not isinstance(params[name], str):
            raise_invalid_type(name, "a string", params[name])
    voice = params["voice"]
    if not isinstance(voice, (str, dict)):
        raise_invalid_type("voice", "a string or an object", voice)
    if "speed" in params and not is_number(params["speed"]):
        raise_invalid_type("speed", "a number", params["speed"])

    model = params["model"]
    text = params["input"]
    response_format = params.get("response_format", "mp3")
    speed = params.get("speed", 1.0)
    stream_format = params.get("stream_format", "audio")

    if len(text) > MAX_INPUT_CHARACTERS:
        raise_string_too_long("input", MAX_INPUT_CHARACTERS, text)
    # NOTE: public reports show the real API returning 404 "Invalid URL (POST /v1/audio/speech)"
    # for a model that exists but does not speak, such as whisper-1. The emulator returns 400
    # model_not_found for every model it does not know.
    if model not in MODELS:
        raise InvalidRequest(
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    espeak_voice = validate_voice(voice)
    if response_format not in CONTENT_TYPES:
        raise_invalid_value("response_format", response_format, CONTENT_TYPES)
    if speed < MIN_SPEED:
        raise InvalidRequest(
            f"Invalid 'speed': decimal below minimum value. Expected a value >= {MIN_SPEED}, but got {speed} instead.",
            param="speed",
            code="decimal_below_min_value",
        )
    if speed > MAX_SPEED:
        raise InvalidRequest(
            f"Invalid 'speed': decimal above maximum value. Expected a value <= {MAX_SPEED}, but got {speed} instead.",
            param="speed",
            code="decimal_above_max_value",
        )
    if stream_format not in STREAM_FORMATS:
        raise_invalid_value("stream_format", stream_format, STREAM_FORMATS)

    if "instructions" in params:
        if len(params["instructions"]) > MAX_INSTRUCTIONS_CHARACTERS:
            raise_string_too_long("instructions", MAX_INSTRUCTIONS_CHARACTERS, params["instructions"])
        if model in MODELS_WITHOUT_INSTRUCTIONS:
            raise InvalidRequest(
                f"Unsupported parameter: 'instructions' is not supported with the model {model}.",
                param="instructions",
                code="unsupported_parameter",
            )
    if stream_format == "sse" and model in MODELS_WITHOUT_INSTRUCTIONS:
        raise InvalidRequest(
            f"Unsupported value: 'stream_format' does not support 'sse' with the model {model}.",
            param="stream_format",
            code="unsupported_value",
        )

    return {
        "model": model,
        "input": text,
        "espeak_voice": espeak_voice,
        "response_format": response_format,
        "speed": float(speed),
        "stream_format": stream_format,
    }


def validate_voice(voice):
    """Return the espeak-ng voice for a built-in voice name or a custom voice object."""
    if isinstance(voice, str):
        if voice not in VOICES:
            raise_invalid_value("voice", voice, VOICES)
        return VOICES[voice]

    if set(voice) != {"id"}:
        unknown = sorted(set(voice) - {"id"})
        if unknown:
            raise InvalidRequest(f"Unknown parameter: 'voice.{unknown[0]}'.", param=f"voice.{unknown[0]}", code="unknown_parameter")
        raise InvalidRequest("Missing required parameter: 'voice.id'.", param="voice.id", code="missing_required_parameter")
    if not isinstance(voice["id"], str):
        raise_invalid_type("voice.id", "a string", voice["id"])
    # NOTE: the emulator cannot create custom voices, so any custom voice id is accepted and
    # spoken with the default espeak-ng voice.
    return CUSTOM_VOICE_ESPEAK


def raise_invalid_type(name, expected, value):
    raise InvalidRequest(
        f"Invalid type for '{name}': expected {expected}, but got {json_type_name(value)} instead.",
        param=name,
        code="invalid_type",
    )


def raise_invalid_value(name, value, supported):
    raise InvalidRequest(
        f"Invalid value: '{value}'. Supported values are: {quoted_list(supported)}.",
        param=name,
        code="invalid_value",
    )


def raise_string_too_long(name, limit, value):
    raise InvalidRequest(
        f"Invalid '{name}': string too long. Expected a string with maximum length {limit}, "
        f"but got a string with length {len(value)} instead.",
        param=name,
        code="string_above_max_length",
    )


def error_body(message, type=INVALID_REQUEST, param=None, code=None):
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class OpenAIHandler(EmulatorHandler):
    """Handler for `POST /v1/audio/speech`. Any other method or path gets OpenAI's 404 "Invalid URL" error."""

    def error_body(self, status, message, code=None):
        return error_body(message, type=INVALID_REQUEST if status < 500 else "server_error", code=code)

    def handle_api(self, request):
        request_id = "req_" + secrets.token_hex(16)
        common_headers = [("x-request-id", request_id), ("openai-version", "2020-10-01")]

        if (request.method, request.path) != ("POST", SPEECH_PATH):
            message = f"Invalid URL ({request.method} {request.path})"
            self.send_json(404, error_body(message), common_headers)
            return

        key = bearer_token(request.headers.get("authorization", ""))
        if key is None:
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field "
                "(with blank username) if you're accessing the API from your browser and are prompted for "
                "a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys."
            )
            self.send_json(401, error_body(message, code="invalid_api_key"), common_headers)
            return
        if not secrets.compare_digest(key.encode("utf-8"), self.server.api_key.encode("utf-8")):
            message = STATUS_FAULT_ERRORS[(401, "invalid_api_key")][1].format(masked_key=mask_key(key))
            self.send_json(401, error_body(message, code="invalid_api_key"), common_headers)
            return

        try:
            speech = validate_speech_request(request.body)
        except InvalidRequest as invalid:
            body = error_body(invalid.message, param=invalid.param, code=invalid.code)
            self.send_json(invalid.status, body, common_headers)
            return

        fault = self.server.faults.pop()
        if fault is not None and self.apply_early_fault(fault, speech, key, common_headers):
            return

        try:
            audio = self.server.renderer.render(speech["input"], speech["espeak_voice"], speech["response_format"], speech["speed"])
        except RenderError as error:
            print(f"render failed for request {request_id}: {error}", file=sys.stderr, flush=True)
            body = error_body(f"The server had an error while processing your request: {error}", type="server_error")
            self.send_json(500, body, common_headers)
            return

        processing_ms = max(1, round((time.time() - request.received_at) * 1000))
        headers = common_headers + [("openai-processing-ms", str(processing_ms))]
        self.send_audio(speech, audio, headers, fault)

    def apply_early_fault(self, fault, speech, key, headers):
        """Apply a fault that replaces the response entirely. Return False for faults that need the audio."""
        kind = fault["kind"]

        if kind == "status":
            self.send_status_fault(fault, speech, key, headers)
        elif kind == "hang":
            self.hold(fault.get("max_seconds", DEFAULT_HANG_S))
        elif kind == "malformed_json":
            body = b'{"error": {"message": "The server had an error while processing your request. Sorry ab'
            self.send_bytes(fault.get("status", 500), "application/json", body, headers)
        elif kind == "wrong_content_type":
            body = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1><hr><center>cloudflare</center></body></html>\n"
            self.send_bytes(200, "text/html; charset=utf-8", body, headers)
        else:
            return False
        return True

    def send_status_fault(self, fault, speech, key, headers):
        status = fault["status"]
        code = fault.get("code", DEFAULT_CODE_FOR_STATUS.get(status))
        retry_after = fault.get("retry_after")

        headers = list(headers)
        if retry_after is not None:
            headers.append(("retry-after", f"{retry_after:g}"))
        if status == 429:
            headers += [
                ("x-ratelimit-limit-requests", "50"),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", f"{retry_after or 1:g}s"),
            ]

        if "body" in fault:
            body = fault["body"]
            if isinstance(body, str):
                self.send_bytes(status, "application/json", body.encode("utf-8"), headers)
            else:
                self.send_json(status, body, headers)
            return

        default_type = "server_error" if status >= 500 else INVALID_REQUEST
        error_type, template = STATUS_FAULT_ERRORS.get((status, code), STATUS_FAULT_ERRORS.get((status, None), (default_type, "Emulated error {status}.")))
        message = template.format(model=speech["model"], retry=f"{retry_after or 1:g}s", masked_key=mask_key(key), status=status)
        self.send_json(status, error_body(message, type=error_type, code=code), headers)

    def send_audio(self, speech, audio, headers, fault):
        """Stream the audio, shaped by a `slow`, `reset_mid_body` or `oversized` fault if one is given."""
        content_type = CONTENT_TYPES[speech["response_format"]]
        kind = fault["kind"] if fault else None

        if speech["stream_format"] == "sse":
            self.send_sse(speech, audio, headers)
        elif kind == "slow":
            self.stream_chunked(200, content_type, audio, headers, chunk_delay_s=fault.get("chunk_delay_ms", 200) / 1000)
        elif kind == "reset_mid_body":
            self.send_reset_mid_body(content_type, audio, headers, fault.get("after_bytes"))
        elif kind == "oversized" and fault.get("status", 200) != 200:
            self.send_oversized_error(fault["status"], headers, fault["bytes"])
        elif kind == "oversized":
            self.send_oversized(content_type, audio, headers, fault["bytes"])
        else:
            self.stream_chunked(200, content_type, audio, headers)

    def send_reset_mid_body(self, content_type, audio, headers, after_bytes):
        if after_bytes is None:
            after_bytes = max(1, len(audio) // 2)
        self.start_chunked(200, content_type, headers)
        sent = 0
        while sent < after_bytes:
            piece = audio[sent:min(after_bytes, sent + self.server.chunk_size)]
            if not piece:
                break
            self.write_chunk(piece)
            sent += len(piece)
        self.reset_connection()

    def send_oversized(self, content_type, audio, headers, size):
        """Send `size` bytes of audio: the real render repeated, as if the audio never ended."""
        block = audio * max(1, 65536 // max(1, len(audio)))
        self.start_chunked(200, content_type, headers)
        sent = 0
        while sent < size:
            piece = block[:size - sent]
            self.write_chunk(piece)
            sent += len(piece)
        self.end_chunked()

    def send_oversized_error(self, status, headers, size):
        """Send a valid OpenAI error body padded to `size` bytes, for clients that buffer error bodies."""
        start = b'{"error": {"message": "'
        end = b'", "type": "server_error", "param": null, "code": null}}'
        padding = b"x" * max(0, size - len(start) - len(end))
        self.start_chunked(status, "application/json", headers)
        self.write_chunk(start)
        for offset in range(0, len(padding), 65536):
            self.write_chunk(padding[offset:offset + 65536])
        self.write_chunk(end)
        self.end_chunked()

    def send_sse(self, speech, audio, headers):
        """Stream `speech.audio.delta` events with base64 audio, then one `speech.audio.done` event."""
        self.start_chunked(200, "text/event-stream", headers)
        for offset in range(0, len(audio), self.server.chunk_size):
            if offset and self.server.chunk_delay_s:
                self.wait(self.server.chunk_delay_s)
            chunk = audio[offset:offset + self.server.chunk_size]
            event = {"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode("ascii")}
            self.write_chunk(f"data: {json.dumps(event)}\n\n".encode("utf-8"))

        # NOTE: the token counts are estimates (about 4 characters per input token), not a tokenizer's.
        input_tokens = max(1, len(speech["input"]) // 4)
        output_tokens = max(1, len(audio) // 64)
        usage = {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}
        done = {"type": "speech.audio.done", "usage": usage}
        self.write_chunk(f"data: {json.dumps(done)}\n\n".encode("utf-8"))
        self.end_chunked()


def bearer_token(authorization):
    """Return the token of a `Bearer TOKEN` header value, or None when there is none."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def main(argv=None):
    arguments = parse_arguments("Emulate OpenAI's POST /v1/audio/speech on a loopback address.", argv)
    run_emulator(OpenAIHandler, arguments)


if __name__ == "__main__":
    main()
