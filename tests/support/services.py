"""Start the shared stores that a scaled-out gateway uses: moto's S3 server and redis-server.

Each is a context manager that picks a free port on 127.0.0.1, starts the server with its
output in a file, waits until it responds, and on exit stops the process it started (SIGTERM,
then SIGKILL) and waits for it:

    with moto_s3() as s3, redis_server() as redis:
        config = s3.cache_toml() + redis.usage_toml()
        env = {**os.environ, **s3.credentials_env()}
        ...  # start gateways with `config` and `env`
        assert s3.list_keys("tts/")
        assert redis.command("GET", "voxgate:usage:month:2026-12:team-a") == b"1500"

A missing binary raises ServiceMissing with the command that installs it (`make setup`).
"""

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# moto imports Flask and boto before it listens: up to 2 s on a loaded 2-core machine. The
# deadline bounds a hung start; it is not a performance check.
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10
POLL_INTERVAL_S = 0.05

# Every request here goes to 127.0.0.1: never through a proxy from the environment.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Credentials for the gateway's S3 client. moto accepts any; the variable names are the
# ones `cache_toml` configures, so they never collide with real AWS variables.
S3_KEY_ENV = "VOXGATE_TEST_S3_KEY"
S3_SECRET_ENV = "VOXGATE_TEST_S3_SECRET"


class ServiceMissing(Exception):
    """A server binary is not installed."""


class ServiceFailed(Exception):
    """A server exited or did not respond before its deadline."""


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Server:
    """A started server process whose output goes to `log_path`."""

    def __init__(self, name, command, workdir, ready):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if ready():
                return
            if self.process.poll() is not None:
                raise ServiceFailed(f"{name} exited with status {self.process.returncode} before it was ready; log:\n{self.log()[-4000:]}")
            time.sleep(POLL_INTERVAL_S)
        self.stop()
        raise ServiceFailed(f"{name} was not ready within {START_TIMEOUT_S} s; log:\n{self.log()[-4000:]}")

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def stop(self):
        """Stop this process only: SIGTERM, then SIGKILL after STOP_TIMEOUT_S."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class MotoS3:
    """A running moto S3 server with one empty bucket."""

    def __init__(self, server, port, bucket):
        self.server = server
        self.port = port
        self.bucket = bucket
        self.endpoint = f"http://127.0.0.1:{port}"

    def credentials_env(self):
        """Environment variables with the credentials that `cache_toml` names."""
        return {S3_KEY_ENV: "voxgate-test-key", S3_SECRET_ENV: "voxgate-test-secret"}

    def cache_toml(self, prefix=""):
        """A `[cache]` table that points the gateway at this bucket."""
        return (
            "[cache]\n"
            'backend = "s3"\n'
            "[cache.s3]\n"
            f'endpoint = "{self.endpoint}"\n'
            f'bucket = "{self.bucket}"\n'
            f'prefix = "{prefix}"\n'
            "allow_http = true\n"
            f'access_key_env = "{S3_KEY_ENV}"\n'
            f'secret_key_env = "{S3_SECRET_ENV}"\n'
            "max_retries = 0\n"
        )

    def client(self):
        """A boto3 S3 client for this server, signed with the test credentials.

        boto3 comes with moto. An unsigned request is not enough, because moto 5.2.6 rejects
        an unsigned GET of an object with 403.
        """
        import boto3
        from botocore.config import Config

        credentials = self.credentials_env()
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=credentials[S3_KEY_ENV],
            aws_secret_access_key=credentials[S3_SECRET_ENV],
            # Loopback only: no proxy from the environment, and no retries to hide errors.
            config=Config(proxies={}, retries={"max_attempts": 1}),
        )

    def list_keys(self, prefix=""):
        """Return the keys in the bucket that start with `prefix`, sorted."""
        paginator = self.client().get_paginator("list_objects_v2")
        keys = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def get_object(self, key):
        """Return an object's bytes, or None when it does not exist."""
        client = self.client()
        try:
            return client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None

    def put_object(self, key, data):
        """Store raw bytes under `key`, for example to plant a corrupt cache entry."""
        self.client().put_object(Bucket=self.bucket, Key=key, Body=data)


class RedisServer:
    """A running redis-server without persistence."""

    def __init__(self, server, port):
        self.server = server
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/"

    def usage_toml(self, prefix="voxgate:"):
        """A `[usage]` table that points the gateway at this server."""
        return f'[usage]\nbackend = "redis"\nredis_url = "{self.url}"\nredis_prefix = "{prefix}"\n'

    def command(self, *args):
        """Send one command and return its reply: bytes, int, list, or None; an error reply raises RedisError."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
            connection.sendall(_encode_command(args))
            reader = connection.makefile("rb")
            return _read_reply(reader)


class RedisError(Exception):
    """Redis answered with an error reply."""


def _encode_command(args):
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(parts)


def _read_reply(reader):
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        raise RedisError(f"connection closed mid-reply: {line!r}")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RedisError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        length = int(rest)
        if length < 0:
            return None
        data = reader.read(length + 2)
        return data[:-2]
    if kind == b"*":
        count = int(rest)
        if count < 0:
            return None
        return [_read_reply(reader) for _ in range(count)]
    raise RedisError(f"unknown reply type {line!r}")


def _http_status(url, method="GET"):
    try:
        request = urllib.request.Request(url, method=method, data=b"" if method == "PUT" else None)
        with _HTTP.open(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _find_moto():
    binary = Path(os.environ.get("VOXGATE_MOTO_SERVER") or REPO_ROOT / ".venv/bin/moto_server")
    if not binary.is_file():
        raise ServiceMissing(f"moto_server not found at {binary}; run `make setup` to install moto[s3] into .venv")
    return binary


def _find_redis():
    binary = os.environ.get("VOXGATE_REDIS_SERVER") or _which("redis-server")
    if not binary:
        raise ServiceMissing("redis-server not found on PATH; run `make setup` to install the redis-server package")
    return binary


def _which(name):
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextlib.contextmanager
def moto_s3(bucket="voxgate-cache"):
    """Run moto's S3 server on a free loopback port with `bucket` created; yield a MotoS3."""
    binary = _find_moto()
    with tempfile.TemporaryDirectory(prefix="voxgate-moto-") as workdir:
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        server = _Server("moto_server", [str(binary), "-H", "127.0.0.1", "-p", str(port)], workdir, lambda: _http_status(f"{endpoint}/moto-api/") == 200)
        try:
            # moto keeps buckets in memory, so every start needs its bucket created again.
            status = _http_status(f"{endpoint}/{bucket}", method="PUT")
            if status != 200:
                raise ServiceFailed(f"moto_server answered {status} to creating bucket {bucket}; log:\n{server.log()[-4000:]}")
            yield MotoS3(server, port, bucket)
        finally:
            server.stop()


@contextlib.contextmanager
def redis_server():
    """Run redis-server without persistence on a free loopback port; yield a RedisServer."""
    binary = _find_redis()
    with tempfile.TemporaryDirectory(prefix="voxgate-redis-") as workdir:
        port = free_port()
        # Arguments only, so Debian's /etc/redis/redis.conf is not read.
        command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", workdir]
        probe = RedisServer(None, port)

        def ready():
            try:
                return probe.command("PING") == b"PONG"
            except (OSError, RedisError):
                return False

        server = _Server("redis-server", command, workdir, ready)
        try:
            yield RedisServer(server, port)
        finally:
            server.stop()
