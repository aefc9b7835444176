"""Plain HTTP requests for tests that must see exactly what went over the wire.

The SDKs hide status codes, headers and chunk framing behind exceptions and parsed objects;
these helpers use http.client or a raw socket instead.
"""

import http.client
import json
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_TIMEOUT_S = 60


@dataclass
class Response:
    """A response read in full, or as far as the server sent it."""

    status: int
    reason: str
    headers: dict
    body: bytes
    # The exception that ended reading the body early, such as http.client.IncompleteRead,
    # or None when the body ended cleanly.
    read_error: Exception = None
    header_list: list = field(default_factory=list)

    def json(self):
        return json.loads(self.body)

    def error(self):
        """Return the OpenAI-style `error` object of the body, or None when there is none."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("error"), dict):
            return None
        return value["error"]

    def describe(self):
        """Summarize the response for an assertion message."""
        body = self.body[:600].decode("utf-8", "replace")
        return f"HTTP {self.status} {self.reason}, headers {self.headers}, body {body!r}, read error {self.read_error!r}"


def request(base_url, method, path, body=None, headers=None, timeout=DEFAULT_TIMEOUT_S, encode_chunked=False):
    """Send one request on a new connection and read the whole response.

    With `encode_chunked`, `body` is an iterable of byte strings sent as one chunk each.
    """
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        send_error = None
        try:
            connection.request(method, path, body=body, headers=headers or {}, encode_chunked=encode_chunked)
        except (BrokenPipeError, ConnectionResetError) as error:
            # A server may send a response (a 413, say) and close before reading a large body.
            # The response can still be waiting in the receive buffer.
            send_error = error
        try:
            response = connection.getresponse()
        except (http.client.HTTPException, OSError):
            if send_error is not None:
                raise send_error
            raise
        return _read_response(response)
    finally:
        connection.close()


def post_json(base_url, path, value, headers=None, timeout=DEFAULT_TIMEOUT_S):
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return request(base_url, "POST", path, json.dumps(value).encode("utf-8"), all_headers, timeout)


def get_json(base_url, path, timeout=DEFAULT_TIMEOUT_S):
    response = request(base_url, "GET", path, timeout=timeout)
    return response.status, response.json()


def _read_response(response):
    headers = {}
    for name, value in response.getheaders():
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value

    body = b""
    read_error = None
    try:
        body = response.read()
    except http.client.IncompleteRead as error:
        body = error.partial
        read_error = error
    except (http.client.HTTPException, OSError) as error:
        read_error = error
    return Response(response.status, response.reason, headers, body, read_error, response.getheaders())


def closing_post(path, value, headers=None):
    """Return the bytes of a JSON POST request that carries `Connection: close`."""
    payload = json.dumps(value).encode("utf-8")
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", f"Content-Length: {len(payload)}", "Connection: close"]
    lines += [f"{name}: {header_value}" for name, header_value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


@dataclass
class RawChunkedResponse:
    """A chunked response parsed by hand, so that chunk boundaries and the last chunk are visible."""

    head: bytes
    chunks: list
    # True when the zero-length last chunk arrived, which is how a chunked body ends cleanly.
    terminated: bool
    read_error: Exception = None

    @property
    def body(self):
        return b"".join(self.chunks)


def raw_chunked_request(base_url, request_bytes, timeout=DEFAULT_TIMEOUT_S):
    """Send raw request bytes and parse the chunked response until the server closes or resets.

    The request must carry `Connection: close` (see `closing_post`), because reading stops
    only at the end of the stream.
    """
    url = urlsplit(base_url)
    received = b""
    read_error = None
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as connection:
        connection.sendall(request_bytes)
        while True:
            try:
                data = connection.recv(65536)
            except OSError as error:
                read_error = error
                break
            if not data:
                break
            received += data

    head, _, rest = received.partition(b"\r\n\r\n")
    chunks, terminated = parse_chunks(rest)
    return RawChunkedResponse(head, chunks, terminated, read_error)


def parse_chunks(data):
    """Split a chunked body into its chunks; return (chunks, whether the last chunk arrived)."""
    chunks = []
    position = 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return chunks, False
        try:
            size = int(data[position:line_end].split(b";")[0], 16)
        except ValueError:
            return chunks, False
        if size == 0:
            return chunks, True
        start = line_end + 2
        chunk = data[start:start + size]
        if len(chunk) < size or data[start + size:start + size + 2] != b"\r\n":
            if chunk:
                chunks.append(chunk)
            return chunks, False
        chunks.append(chunk)
        position = start + size + 2
