"""`voxgate cache stats` and `voxgate cache purge` on a cache folder and on an S3 bucket (moto),
and the start/stop helpers in support/services.py.

Entries are written here in the stored format that host/src/cache/entry.rs documents, which
also checks that the documentation and the code agree.
"""

import hashlib
import os
import socket
import struct
import subprocess
import time

import pytest

from support.services import moto_s3, redis_server

COMMAND_TIMEOUT_S = 120
DAY = 24 * 3600


def cache_entry(audio, created_unix, ttl_seconds=30 * DAY, content_type="audio/mpeg", container="mp3", billed=None):
    """Encode one cache entry: the version 1 header, then the audio."""
    content_type_bytes = content_type.encode()
    container_bytes = container.encode()
    header_len = 75 + 2 + len(content_type_bytes) + 2 + len(container_bytes)
    header = b"VOXAUDIO" + struct.pack(
        ">HIQQBIQ",
        1,
        header_len,
        created_unix,
        created_unix + ttl_seconds,
        1 if billed is not None else 0,
        billed or 0,
        len(audio),
    )
    header += hashlib.sha256(audio).digest()
    header += struct.pack(">H", len(content_type_bytes)) + content_type_bytes
    header += struct.pack(">H", len(container_bytes)) + container_bytes
    assert len(header) == header_len
    return header + audio


def digest(number):
    return hashlib.sha256(str(number).encode()).hexdigest()


def run_voxgate(voxgate_bin, config, *args, env=None):
    base_env = {name: value for name, value in os.environ.items() if not name.startswith(("VOXGATE_", "AWS_"))}
    return subprocess.run(
        [str(voxgate_bin), "--config", str(config), *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=COMMAND_TIMEOUT_S,
        env={**base_env, **(env or {})},
        check=False,
        text=True,
    )


@pytest.fixture
def disk_cache(tmp_path):
    """A cache folder with two old and one new openai entry and one old local entry."""
    folder = tmp_path / "audio"
    now = int(time.time())
    entries = {
        ("openai", digest(1)): now - 10 * DAY,
        ("openai", digest(2)): now - 9 * DAY,
        ("openai", digest(3)): now - 60,
        ("local", digest(4)): now - 10 * DAY,
    }
    for (provider, name), created in entries.items():
        path = folder / "tts" / provider / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(cache_entry(b"audio bytes " + name.encode(), created))
    config = tmp_path / "voxgate.toml"
    config.write_text(f'[cache]\ndir = "{folder}"\n', encoding="utf-8")
    return folder, config


def test_stats_counts_disk_entries(voxgate_bin, disk_cache):
    folder, config = disk_cache
    result = run_voxgate(voxgate_bin, config, "cache", "stats")

    assert result.returncode == 0, result.stderr
    assert "entries:  4" in result.stdout, result.stdout
    total = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    assert f"bytes:    {total} of 1073741824" in result.stdout, result.stdout


def test_purge_disk_by_provider_and_age(voxgate_bin, disk_cache):
    folder, config = disk_cache

    result = run_voxgate(voxgate_bin, config, "cache", "purge", "--provider", "openai", "--older-than", "7d")
    assert result.returncode == 0, result.stderr
    assert "deleted 2 entries" in result.stdout, result.stdout
    remaining = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    assert remaining == [f"tts/local/{digest(4)}", f"tts/openai/{digest(3)}"]

    result = run_voxgate(voxgate_bin, config, "cache", "purge")
    assert result.returncode == 0, result.stderr
    assert "deleted 2 entries" in result.stdout, result.stdout
    assert not [path for path in folder.rglob("*") if path.is_file()]


def test_purge_rejects_bad_age(voxgate_bin, disk_cache):
    _, config = disk_cache
    result = run_voxgate(voxgate_bin, config, "cache", "purge", "--older-than", "7w")

    assert result.returncode != 0
    assert "7w" in result.stderr, result.stderr
    assert "12h or 7d" in result.stderr, result.stderr


def test_stats_and_purge_on_s3(voxgate_bin, tmp_path):
    with moto_s3() as s3:
        now = int(time.time())
        for provider, number in [("openai", 1), ("openai", 2), ("local", 3)]:
            s3.put_object(f"team/tts/{provider}/{digest(number)}", cache_entry(b"audio", now))
        config = tmp_path / "voxgate.toml"
        config.write_text(s3.cache_toml(prefix="team"), encoding="utf-8")

        stats = run_voxgate(voxgate_bin, config, "cache", "stats", env=s3.credentials_env())
        purge = run_voxgate(voxgate_bin, config, "cache", "purge", "--provider", "openai", env=s3.credentials_env())
        remaining = s3.list_keys("team/")

    assert stats.returncode == 0, stats.stderr
    assert "backend:  s3" in stats.stdout, stats.stdout
    assert "entries:  3" in stats.stdout, stats.stdout
    assert purge.returncode == 0, purge.stderr
    assert "deleted 2 entries" in purge.stdout, purge.stdout
    assert remaining == [f"team/tts/local/{digest(3)}"]


def test_s3_without_credentials_names_variable(voxgate_bin, tmp_path):
    config = tmp_path / "voxgate.toml"
    config.write_text(
        '[cache]\nbackend = "s3"\n[cache.s3]\nendpoint = "http://127.0.0.1:9"\nbucket = "b"\nallow_http = true\n',
        encoding="utf-8",
    )
    result = run_voxgate(voxgate_bin, config, "cache", "stats")

    assert result.returncode != 0
    assert "AWS_ACCESS_KEY_ID" in result.stderr, result.stderr


def port_is_closed(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_services_start_and_stop():
    with moto_s3() as s3, redis_server() as redis:
        assert s3.list_keys() == []
        s3.put_object("a/b", b"payload")
        assert s3.get_object("a/b") == b"payload"
        assert s3.get_object("missing") is None

        assert redis.command("PING") == b"PONG"
        assert redis.command("INCRBY", "counter", 5) == 5
        assert redis.command("GET", "counter") == b"5"
        assert redis.command("GET", "missing") is None

        processes = (s3.server.process, redis.server.process)
        ports = (s3.port, redis.port)

    for process in processes:
        assert process.poll() is not None, f"process {process.pid} still runs after its context ended"
    for port in ports:
        assert port_is_closed(port), f"port {port} still accepts connections"
