#!/usr/bin/env python3
"""A loopback emulator of fal.ai's sync and queue APIs for its text-to-speech apps, and of the
CDN fal serves output files from.

Two listeners share one request log:

- the API listener: the sync API as on fal.run (`POST /{app}`), and the queue API as on
  queue.fal.run under `/queue` (`POST /queue/{app}`, then `GET .../requests/{id}/status`,
  `GET .../requests/{id}` and `PUT .../requests/{id}/cancel`, where the URLs keep only the
  app's `owner/alias`, as fal's do). Every route needs `Authorization: Key <api-key>`.
- the media listener (127.0.0.2 when it can be bound): `GET /files/...`, the audio files the
  apps' outputs name. It needs no credentials.

Inputs are validated per app as fal's pydantic models do (fal_apps.py), with fal's 422
`{"detail": [...]}` bodies. In queue mode that happens when the job runs, so the result
carries the 422. A job is IN_QUEUE, then IN_PROGRESS, then COMPLETED over a few status polls
(`--queue-polls`, `--progress-polls`). Speech comes from espeak-ng, encoded in the app's
real output format.

Faults (server.py lists the common kinds) queue per stage: `POST /__emulator/faults` for the
app request (the sync POST or the queue submit), `POST /__emulator/faults/{status,result,media}`
for the later ones. The app request stage also takes fal kinds: `stuck` (the job never
finishes), `infra_error` (`error_type`, `status`: a failed job), `media_url` (`url`: the
output names another file) and `wrong_audio` (`format`: the file is encoded otherwise).
`GET /__emulator/jobs` lists the queue's jobs and `DELETE /__emulator/jobs` deletes them.

Run: python3 tests/emulators/fal_emulator.py --api-key KEY [--port 0] [--media-host 127.0.0.2]
It prints `listening on http://127.0.0.1:PORT`, then `media on http://HOST:PORT`, and serves
until SIGTERM or SIGINT.
"""

import argparse
import ipaddress
import json
import secrets
import signal
import sys
import threading
import uuid

import fal_apps
from fal_jobs import FAL_FAULT_KINDS, STAGES, FalRequestLog, FalState, ListenerLog, validate_stage_fault
from server import DEFAULT_HANG_S, EmulatorHandler, EmulatorServer, FaultError

QUEUE_PREFIX = "/queue/"
FILES_PREFIX = "/files/"
FAULTS_PATH = "/__emulator/faults"

STATUS_PHRASES = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too many requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1></body></html>\n"


class FalHandlerBase(EmulatorHandler):
    """Control routes for per-stage faults and jobs, and responses shaped by a fault."""

    def error_body(self, status, message, code=None):
        return {"detail": message}

    def _handle_control(self, request):
        path = request.path
        if path == "/__emulator/jobs" and request.method == "GET":
            self.send_json(200, self.server.fal.describe_jobs())
            return
        if path == "/__emulator/jobs" and request.method == "DELETE":
            self.server.fal.clear_jobs()
            self.send_empty(204)
            return
        if path != FAULTS_PATH and not path.startswith(FAULTS_PATH + "/"):
            super()._handle_control(request)
            return

        stage = path[len(FAULTS_PATH) + 1:] or "run"
        if stage not in STAGES:
            self.send_json(404, {"error": f"no fault stage {stage!r}; stages are {list(STAGES)}"})
            return
        queue = self.server.fal.faults[stage]
        if request.method == "GET":
            self.send_json(200, queue.pending())
        elif request.method == "DELETE":
            for cleared in ([queue] if path != FAULTS_PATH else self.server.fal.faults.values()):
                cleared.clear()
            self.send_empty(204)
        elif request.method == "POST":
            self._add_stage_faults(stage, queue, request.body)
        else:
            self.send_json(405, {"error": f"{request.method} is not supported on {path}"})

    def _add_stage_faults(self, stage, queue, body):
        try:
            faults = json.loads(body)
        except ValueError as error:
            self.send_json(400, {"error": f"the body must be a JSON list of faults: {error}"})
            return
        if not isinstance(faults, list):
            self.send_json(400, {"error": "the body must be a JSON list of faults"})
            return
        for index, fault in enumerate(faults):
            try:
                validate_stage_fault(stage, fault)
            except FaultError as error:
                self.send_json(400, {"error": f"fault {index}: {error}"})
                return
        self.send_json(200, {"pending": queue.extend(faults)})

    def respond(self, status, content_type, body, headers=(), fault=None):
        """Send a response, or what a common fault makes of it."""
        kind = fault["kind"] if fault else None

        if kind == "status":
            self.send_status_fault(fault, headers)
        elif kind == "hang":
            self.hold(fault.get("max_seconds", DEFAULT_HANG_S))
        elif kind == "malformed_json":
            self.send_bytes(fault.get("status", 500), "application/json", b'{"detail": "Internal Server Err', headers)
        elif kind == "wrong_content_type":
            self.send_bytes(200, "text/html; charset=utf-8", HTML_PAGE, headers)
        elif kind == "slow":
            self.stream_chunked(status, content_type, body, headers, chunk_delay_s=fault.get("chunk_delay_ms", 200) / 1000)
        elif kind == "reset_mid_body":
            self.send_reset_mid_body(status, content_type, body, headers, fault.get("after_bytes"))
        elif kind == "oversized":
            self.send_oversized(fault.get("status", 200), content_type, body, headers, fault["bytes"])
        else:
            self.send_bytes(status, content_type, body, headers)

    def send_detail(self, status, detail, headers=()):
        self.send_json(status, {"detail": detail}, headers)

    def send_status_fault(self, fault, headers):
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

        code = fault.get("code")
        if code:
            headers.append(("x-fal-error-type", code))
            self.send_json(status, {"detail": f"Emulated {code} error.", "error_type": code}, headers)
        elif status == 422:
            self.send_detail(status, [{"type": "value_error", "loc": ["body"], "msg": "Emulated validation error.", "input": {}}], headers)
        else:
            self.send_detail(status, STATUS_PHRASES.get(status, f"Emulated error {status}."), headers)

    def send_reset_mid_body(self, status, content_type, body, headers, after_bytes):
        if after_bytes is None:
            after_bytes = max(1, len(body) // 2)
        self.start_chunked(status, content_type, headers)
        self.write_chunk(body[:after_bytes])
        self.reset_connection()

    def send_oversized(self, status, content_type, body, headers, size):
        """Send `size` bytes: the body repeated when it succeeds, a padded detail when it fails."""
        if status >= 400:
            start, end = b'{"detail": "', b'"}'
            block, content_type = b"x" * 65536, "application/json"
        else:
            start, end = b"", b""
            block = body * max(1, 65536 // max(1, len(body)))
        self.start_chunked(status, content_type, headers)
        self.write_chunk(start)
        sent = len(start) + len(end)
        while sent < size:
            piece = block[:size - sent]
            self.write_chunk(piece)
            sent += len(piece)
        self.write_chunk(end)
        self.end_chunked()


class FalApiHandler(FalHandlerBase):
    """The sync API at `/{app}` and the queue API under `/queue/`."""

    def handle_api(self, request):
        fal = self.server.fal
        request_id = str(uuid.uuid4())
        headers = [("x-fal-request-id", request_id)]

        queued = request.path.startswith(QUEUE_PREFIX)
        path = request.path[len(QUEUE_PREFIX) - 1:] if queued else request.path
        route = fal.route(path, queued)
        if route is None:
            self.send_detail(404, "Not Found", headers)
            return
        if route.method != request.method:
            self.send_detail(405, "Method Not Allowed", headers)
            return
        if not self.authorized(request):
            self.send_detail(401, "Unauthorized", headers)
            return

        if route.kind == "run":
            self.handle_run(request, route.app, queued, request_id, headers)
            return
        job = fal.job(route.alias, route.request_id)
        if job is None:
            self.send_json(404, {"status": "NOT_FOUND"} if route.kind == "cancel" else {"detail": f"Request {route.request_id} not found"}, headers)
            return
        if route.kind == "status":
            self.handle_status(job, request.query, headers)
        elif route.kind == "result":
            self.handle_result(job, headers)
        else:
            self.handle_cancel(job, headers)

    def authorized(self, request):
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme == "Key" and secrets.compare_digest(key.encode("utf-8"), self.server.api_key.encode("utf-8"))

    def handle_run(self, request, app, queued, request_id, headers):
        fal = self.server.fal
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            detail = [{"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error", "input": {}, "ctx": {"error": str(error)}}]
            self.send_detail(422, detail, headers)
            return

        if queued:
            fault = fal.faults["run"].pop()
            fal_fault = fault if fault and fault["kind"] in FAL_FAULT_KINDS else None
            job = fal.submit(app, body, fal_fault)
            common = fault if fal_fault is None else None
            self.respond(200, "application/json", json.dumps(fal.submit_body(job)).encode("utf-8"), headers, common)
            return

        try:
            values = fal_apps.validate_input(app, body)
        except fal_apps.ValidationFailed as failed:
            self.send_detail(422, failed.items, headers)
            return
        fault = fal.faults["run"].pop()
        kind = fault["kind"] if fault else None
        if kind == "stuck":
            self.hold(fault.get("max_seconds", DEFAULT_HANG_S))
            return
        status, extra_headers, result = fal.run_app(app, values, fault if kind in FAL_FAULT_KINDS else None)
        common = fault if kind not in FAL_FAULT_KINDS else None
        self.respond(status, "application/json", json.dumps(result).encode("utf-8"), headers + extra_headers, common)

    def handle_status(self, job, query, headers):
        fal = self.server.fal
        fault = fal.faults["status"].pop()
        status, body = fal.poll(job, with_logs="logs=1" in query.split("&"))
        self.respond(status, "application/json", json.dumps(body).encode("utf-8"), headers, fault)

    def handle_result(self, job, headers):
        fal = self.server.fal
        fault = fal.faults["result"].pop()
        status, extra_headers, body = fal.result(job)
        self.respond(status, "application/json", json.dumps(body).encode("utf-8"), headers + extra_headers, fault)

    def handle_cancel(self, job, headers):
        status, body = self.server.fal.cancel(job)
        self.send_json(status, body, headers)


class MediaHandler(FalHandlerBase):
    """The CDN: `GET /files/...` returns a file an app wrote."""

    def handle_api(self, request):
        if request.method != "GET" or not request.path.startswith(FILES_PREFIX):
            self.send_bytes(404, "text/plain", b"Not Found")
            return
        stored = self.server.fal.file(request.path)
        if stored is None:
            self.send_bytes(404, "text/plain", b"Not Found")
            return
        content_type, data = stored
        fault = self.server.fal.faults["media"].pop()
        self.respond(200, content_type, data, [("cache-control", "max-age=31536000")], fault)


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description="Emulate fal.ai's sync and queue TTS APIs and its file CDN on loopback addresses.")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address of the API listener (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port of the API listener; 0 picks a free one (default 0)")
    parser.add_argument("--media-host", help="loopback address of the media listener (default 127.0.0.2, or --host when 127.0.0.2 cannot be bound)")
    parser.add_argument("--media-port", type=int, default=0, help="TCP port of the media listener (default 0)")
    parser.add_argument("--api-key", required=True, help="the only key accepted, as `Authorization: Key KEY`")
    parser.add_argument("--request-log", metavar="FILE", help="also append every request to FILE as a JSON line")
    parser.add_argument("--queue-polls", type=int, default=1, help="status polls that return IN_QUEUE for a new job (default 1)")
    parser.add_argument("--progress-polls", type=int, default=1, help="status polls that then return IN_PROGRESS (default 1)")
    parser.add_argument("--chunk-size", type=int, default=4096, help="bytes per chunk of a slowed body (default 4096)")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="pause between chunks of a streamed body, in milliseconds (default 0)")
    arguments = parser.parse_args(argv)

    for name in ("host", "media_host"):
        value = getattr(arguments, name)
        if value is not None and not is_loopback(value):
            parser.error(f"--{name.replace('_', '-')} {value!r} is not a loopback address; the emulator binds only loopback")
    if arguments.queue_polls < 0 or arguments.progress_polls < 0:
        parser.error("--queue-polls and --progress-polls must be 0 or more")
    if arguments.chunk_size < 1:
        parser.error("--chunk-size must be at least 1")
    return arguments


def is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def make_server(host, port, handler_class, arguments):
    return EmulatorServer(
        (host, port),
        handler_class,
        api_key=arguments.api_key,
        request_log_path=None,
        chunk_size=arguments.chunk_size,
        chunk_delay_s=arguments.chunk_delay_ms / 1000,
    )


def bind_media(arguments):
    """Bind the media listener on --media-host, or on 127.0.0.2, falling back to --host."""
    if arguments.media_host is not None:
        return make_server(arguments.media_host, arguments.media_port, MediaHandler, arguments)
    try:
        return make_server("127.0.0.2", arguments.media_port, MediaHandler, arguments)
    except OSError as error:
        print(f"cannot bind 127.0.0.2 ({error}); serving media on {arguments.host}", file=sys.stderr, flush=True)
        return make_server(arguments.host, arguments.media_port, MediaHandler, arguments)


def server_url(server):
    host, port = server.server_address[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def main(argv=None):
    arguments = parse_arguments(argv)
    api = make_server(arguments.host, arguments.port, FalApiHandler, arguments)
    media = bind_media(arguments)

    log = FalRequestLog(arguments.request_log)
    state = FalState(server_url(api), server_url(media), api.renderer, arguments.queue_polls, arguments.progress_polls)
    for server, listener in ((api, "api"), (media, "media")):
        server.request_log = ListenerLog(log, listener)
        server.fal = state
        server.renderer = api.renderer
    api.faults = state.faults["run"]
    media.faults = state.faults["media"]

    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop_requested.set())
    for server in (api, media):
        threading.Thread(target=server.serve_forever, name="serve", daemon=True).start()

    # One write, so that a reader never sees the first line without the second.
    print(f"listening on {server_url(api)}\nmedia on {server_url(media)}", flush=True)
    while not stop_requested.wait(1.0):
        pass

    for server in (api, media):
        server.stopping.set()
        server.shutdown()
        server.server_close()
    print(f"stopped after {len(log.entries())} requests", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
