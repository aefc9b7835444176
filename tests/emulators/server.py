"""The provider-independent half of an emulator: HTTP plumbing, request log, faults, control API.

A provider emulator subclasses EmulatorHandler, implements `handle_api`, and calls
`run_emulator` from its `main`. Every request outside `/__emulator/` is recorded in the
request log before `handle_api` runs. Tests drive the emulator through the control
endpoints:

- `GET /__emulator/requests` returns the log as a JSON list, oldest first.
- `DELETE /__emulator/requests` clears it.
- `POST /__emulator/faults` appends a JSON list of faults (kinds and fields in FAULT_FIELDS). Each later speech request that
  passes authentication and validation consumes the oldest pending fault.
- `GET /__emulator/faults` lists pending faults and `DELETE /__emulator/faults` drops them.
- `GET /__emulator/stats` returns render and cache-hit counts, and the API requests in flight
  now and at most at once since the request log was last cleared.

The control endpoints need no credentials; the emulator only ever binds a loopback address.
"""

import argparse
import base64
import collections
import ipaddress
import json
import select
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from audio import Renderer

CONTROL_PREFIX = "/__emulator/"

# Request bodies above this get a 413 response and the connection is closed. Real TTS requests
# are a few KiB, so the limit only stops a runaway client from filling memory.
MAX_REQUEST_BYTES = 32 * 1024 * 1024

# The default `max_seconds` of a `hang` fault.
DEFAULT_HANG_S = 60.0

# How often a held or slowed request checks whether the client left or the emulator is stopping.
POLL_INTERVAL_S = 0.1


class FaultError(ValueError):
    """A fault description that the emulator cannot apply."""


# For each fault kind: the fields it accepts, and a validator per field that raises FaultError.
def _integer(low, high):
    def check(name, value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FaultError(f"'{name}' must be an integer from {low} to {high}, got {value!r}")
    return check


def _number(low, high):
    def check(name, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise FaultError(f"'{name}' must be a number from {low} to {high}, got {value!r}")
    return check


def _string(name, value):
    if not isinstance(value, str):
        raise FaultError(f"'{name}' must be a string, got {value!r}")


def _anything(name, value):
    pass


FAULT_FIELDS = {
    "status": {"status": _integer(400, 599), "retry_after": _number(0, 86400), "body": _anything, "code": _string},
    "hang": {"max_seconds": _number(0, 3600)},
    "slow": {"chunk_delay_ms": _integer(0, 60_000)},
    "reset_mid_body": {"after_bytes": _integer(0, 1 << 30)},
    "malformed_json": {"status": _integer(200, 599)},
    "wrong_content_type": {},
    "oversized": {"bytes": _integer(1, 1 << 32), "status": _integer(200, 599)},
}
REQUIRED_FAULT_FIELDS = {"status": {"status"}, "oversized": {"bytes"}}


def validate_fault(fault):
    """Raise FaultError unless `fault` is a known kind with valid fields."""
    if not isinstance(fault, dict):
        raise FaultError(f"a fault must be a JSON object, got {fault!r}")
    kind = fault.get("kind")
    if kind not in FAULT_FIELDS:
        raise FaultError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_FIELDS)}")

    fields = FAULT_FIELDS[kind]
    for name, value in fault.items():
        if name == "kind":
            continue
        if name not in fields:
            raise FaultError(f"fault kind {kind!r} has no field {name!r}; it accepts {sorted(fields) or 'none'}")
        fields[name](name, value)

    missing = REQUIRED_FAULT_FIELDS.get(kind, set()) - fault.keys()
    if missing:
        raise FaultError(f"fault kind {kind!r} requires {sorted(missing)}")


@dataclass
class ApiRequest:
    """A request to the emulated API, read in full."""

    method: str
    path: str
    query: str
    headers: dict
    body: bytes
    received_at: float


class RequestLog:
    """Every API request in arrival order, in memory and optionally appended to a JSON-lines file."""

    def __init__(self, path=None):
        self._entries = []
        self._lock = threading.Lock()
        self._path = path

    def record(self, request):
        entry = {
            "time": datetime.fromtimestamp(request.received_at, timezone.utc).isoformat(),
            "method": request.method,
            "path": request.path + ("?" + request.query if request.query else ""),
            "headers": request.headers,
        }
        try:
            entry["body"] = request.body.decode("utf-8")
        except UnicodeDecodeError:
            entry["body"] = None
            entry["body_base64"] = base64.b64encode(request.body).decode("ascii")

        with self._lock:
            self._entries.append(entry)
            if self._path:
                with open(self._path, "a", encoding="utf-8") as log_file:
                    log_file.write(json.dumps(entry) + "\n")

    def entries(self):
        with self._lock:
            return list(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()


class FaultQueue:
    """Pending faults, oldest first."""

    def __init__(self):
        self._faults = collections.deque()
        self._lock = threading.Lock()

    def extend(self, faults):
        with self._lock:
            self._faults.extend(faults)
            return len(self._faults)

    def pop(self):
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def pending(self):
        with self._lock:
            return list(self._faults)

    def clear(self):
        with self._lock:
            self._faults.clear()


class Concurrency:
    """Counts API requests being handled at once, and the peak since the last reset."""

    def __init__(self):
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def enter(self):
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def leave(self):
        with self._lock:
            self.current -= 1

    def reset_peak(self):
        with self._lock:
            self.peak = self.current


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the emulator's shared state."""

    daemon_threads = True

    def __init__(self, address, handler_class, *, api_key, request_log_path, chunk_size, chunk_delay_s):
        super().__init__(address, handler_class)
        self.api_key = api_key
        self.request_log = RequestLog(request_log_path)
        self.concurrency = Concurrency()
        self.faults = FaultQueue()
        self.renderer = Renderer()
        self.chunk_size = chunk_size
        self.chunk_delay_s = chunk_delay_s
        self.stopping = threading.Event()


class ClientGone(Exception):
    """The client closed or reset the connection while the emulator was writing."""


class EmulatorHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler that reads whole requests and offers response helpers."""

    protocol_version = "HTTP/1.1"
    server_version = "voxgate-emulator"
    # Whether this request is in the server's in-flight count.
    _counted = False
    # BaseHTTPRequestHandler writes the headers and the body in separate sends. With Nagle's
    # algorithm on, delayed ACKs then add about 40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def log_message(self, format, *args):
        # Access logs would bury the emulator's own errors, and the request log records every request.
        pass

    def handle_api(self, request):
        """Respond to one API request. Subclasses implement this."""
        raise NotImplementedError

    def error_body(self, status, message, code=None):
        """Return a provider-shaped error body for a control or transport error."""
        return {"error": {"message": message, "code": code}}

    # --- Dispatch ---

    def _dispatch(self):
        received_at = time.time()
        url = urlsplit(self.path)

        body = self._read_body()
        if body is None:
            return

        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        request = ApiRequest(self.command, url.path, url.query, headers, body, received_at)

        try:
            if url.path.startswith(CONTROL_PREFIX):
                self._handle_control(request)
                return
            self.server.request_log.record(request)
            self.server.concurrency.enter()
            self._counted = True
            try:
                self.handle_api(request)
            finally:
                self._stop_counting()
        except ClientGone:
            self.close_connection = True

    def _read_body(self):
        """Read the request body, or send a 400 or 413 response and return None."""
        transfer_encoding = self.headers.get("transfer-encoding", "").lower()
        if "chunked" in transfer_encoding:
            return self._read_chunked_body()

        length_header = self.headers.get("content-length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            self.send_json(400, self.error_body(400, f"Invalid Content-Length header: {length_header!r}."))
            return None
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            self.send_json(413, self.error_body(413, f"Request body of {length} bytes exceeds the limit of {MAX_REQUEST_BYTES} bytes."))
            return None
        return self.rfile.read(length)

    def _read_chunked_body(self):
        parts = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self.send_json(400, self.error_body(400, "Malformed chunked request body."))
                return None
            if size == 0:
                break
            total += size
            if total > MAX_REQUEST_BYTES:
                self.close_connection = True
                self.send_json(413, self.error_body(413, f"Request body exceeds the limit of {MAX_REQUEST_BYTES} bytes."))
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

        # Skip trailer fields up to the blank line that ends the message.
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(parts)

    # --- Control endpoints ---

    def _handle_control(self, request):
        route = (request.method, request.path)
        server = self.server

        if route == ("GET", "/__emulator/requests"):
            self.send_json(200, server.request_log.entries())
        elif route == ("DELETE", "/__emulator/requests"):
            server.request_log.clear()
            server.concurrency.reset_peak()
            self.send_empty(204)
        elif route == ("GET", "/__emulator/faults"):
            self.send_json(200, server.faults.pending())
        elif route == ("DELETE", "/__emulator/faults"):
            server.faults.clear()
            self.send_empty(204)
        elif route == ("POST", "/__emulator/faults"):
            self._add_faults(request.body)
        elif route == ("GET", "/__emulator/stats"):
            renderer = server.renderer
            self.send_json(200, {
                "renders": renderer.renders,
                "cache_hits": renderer.cache_hits,
                "in_flight": server.concurrency.current,
                "max_in_flight": server.concurrency.peak,
            })
        else:
            self.send_json(404, {"error": f"no control endpoint {request.method} {request.path}"})

    def _add_faults(self, body):
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
                validate_fault(fault)
            except FaultError as error:
                self.send_json(400, {"error": f"fault {index}: {error}"})
                return
        pending = self.server.faults.extend(faults)
        self.send_json(200, {"pending": pending})

    # --- Response helpers ---

    def _stop_counting(self):
        """Take this request out of the in-flight count, once.

        Responses call this just before writing their last bytes. A client may start its next
        request as soon as those bytes arrive, before this handler's thread runs again, and the
        finished request must not be counted beside it.
        """
        if self._counted:
            self._counted = False
            self.server.concurrency.leave()

    def send_json(self, status, value, headers=()):
        body = json.dumps(value).encode("utf-8")
        self.send_bytes(status, "application/json", body, headers)

    def send_bytes(self, status, content_type, body, headers=()):
        """Send a complete response with a Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self._end_headers_or_raise()
        self._stop_counting()
        self._write(body)

    def send_empty(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self._stop_counting()
        self._end_headers_or_raise()

    def start_chunked(self, status, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers:
            self.send_header(name, value)
        self._end_headers_or_raise()

    def write_chunk(self, data):
        if data:
            self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunked(self):
        self._stop_counting()
        self._write(b"0\r\n\r\n")

    def stream_chunked(self, status, content_type, body, headers=(), chunk_delay_s=None):
        """Send `body` with chunked transfer encoding, in chunks of the server's chunk size."""
        if chunk_delay_s is None:
            chunk_delay_s = self.server.chunk_delay_s
        self.start_chunked(status, content_type, headers)
        for offset in range(0, len(body), self.server.chunk_size):
            if offset and chunk_delay_s:
                self.wait(chunk_delay_s)
            self.write_chunk(body[offset:offset + self.server.chunk_size])
        self.end_chunked()

    def wait(self, seconds):
        """Sleep, but raise ClientGone early when the client leaves or the emulator stops."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.server.stopping.is_set() or self._client_left(min(remaining, POLL_INTERVAL_S)):
                raise ClientGone()

    def hold(self, max_seconds):
        """Send nothing until the client leaves, `max_seconds` pass or the emulator stops, then close."""
        try:
            self.wait(max_seconds)
        except ClientGone:
            pass
        self.close_connection = True

    def reset_connection(self):
        """Close the connection with a TCP RST instead of an orderly FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile holds a reference to the socket; the descriptor closes only when both are closed.
        self.rfile.close()
        self.connection.close()
        self.close_connection = True

    def _client_left(self, timeout):
        """Wait up to `timeout` seconds and return True if the client closed its side."""
        readable, _, _ = select.select([self.connection], [], [], timeout)
        if not readable:
            return False
        try:
            data = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True
        if data:
            # The client sent more bytes (a pipelined request); it is still there. Sleep so
            # that the readable socket does not turn this into a busy loop.
            time.sleep(timeout)
            return False
        return True

    def _end_headers_or_raise(self):
        try:
            self.end_headers()
        except (BrokenPipeError, ConnectionResetError) as error:
            raise ClientGone() from error

    def _write(self, data):
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError) as error:
            raise ClientGone() from error


def parse_arguments(description, argv=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default 0)")
    parser.add_argument("--api-key", required=True, help="the only API key the emulator accepts")
    parser.add_argument("--request-log", metavar="FILE", help="also append every API request to FILE as a JSON line")
    parser.add_argument("--chunk-size", type=int, default=4096, help="bytes per chunk of streamed audio (default 4096)")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="pause between audio chunks, in milliseconds (default 0)")
    arguments = parser.parse_args(argv)

    if not _is_loopback(arguments.host):
        parser.error(f"--host {arguments.host!r} is not a loopback address; the emulator binds only loopback")
    if arguments.chunk_size < 1:
        parser.error("--chunk-size must be at least 1")
    return arguments


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_emulator(handler_class, arguments):
    """Serve until SIGTERM or SIGINT. Prints one `listening on URL` line once bound."""
    server = EmulatorServer(
        (arguments.host, arguments.port),
        handler_class,
        api_key=arguments.api_key,
        request_log_path=arguments.request_log,
        chunk_size=arguments.chunk_size,
        chunk_delay_s=arguments.chunk_delay_ms / 1000,
    )

    stop_requested = threading.Event()
    stopping = []

    def request_stop(signum, frame):
        # A second signal can arrive while the first handler is inside Event.set(), which
        # holds a lock that is not reentrant: only the first signal sets the event.
        if stopping:
            return
        stopping.append(signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    # serve_forever runs in a thread because shutdown() blocks until serve_forever returns,
    # which would deadlock if both ran on the main thread.
    serving = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    serving.start()

    host, port = server.server_address[:2]
    display_host = f"[{host}]" if ":" in host else host
    print(f"listening on http://{display_host}:{port}", flush=True)

    while not stop_requested.wait(1.0):
        pass

    server.stopping.set()
    server.shutdown()
    server.server_close()
    print(f"stopped after {len(server.request_log.entries())} requests", file=sys.stderr, flush=True)
