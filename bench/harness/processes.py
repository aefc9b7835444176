"""Child processes of a benchmark run: start them, learn their address, read their memory,
stop them.

Every server this module starts prints `listening on http://ADDR` on stdout once it accepts
connections; the benchmark upstream and `voxgate serve` both do. Their stderr goes to a log
file in the run's work folder, never to a pipe that could fill up and stall them.
"""

import os
import selectors
import signal
import subprocess
import threading
import time
from pathlib import Path

LISTENING_PREFIX = b"listening on "
# Variables that could change the gateway's behaviour or hand it a real provider key.
INHERITED_PREFIXES_TO_DROP = ("VOXGATE_", "OPENAI_", "ELEVENLABS_", "FAL_", "CLOUDFLARE_", "CF_AIG_", "AWS_", "RUST_LOG")


class StartFailed(RuntimeError):
    """A server exited or stayed silent before it printed its address."""


def clean_environment(**extra):
    """Return this process's environment without provider keys or voxgate settings, plus `extra`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(INHERITED_PREFIXES_TO_DROP)}
    env.update(extra)
    return env


class Server:
    """A running server process and what is known about its start."""

    def __init__(self, name, command, workdir, env=None, ready_timeout_s=120.0):
        self.name = name
        self.log_path = Path(workdir) / f"{name}.log"
        self._log = open(self.log_path, "ab")
        # Both clocks start just before the fork, so `listening_s` includes exec and start-up.
        self.spawned_at = time.monotonic()
        self.process = subprocess.Popen(
            [str(part) for part in command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=str(workdir),
        )
        try:
            self.url = self._read_address(ready_timeout_s)
        except Exception:
            self.stop()
            raise
        self.listening_s = time.monotonic() - self.spawned_at
        threading.Thread(target=self._drain_stdout, name=f"{name}-stdout", daemon=True).start()

    def _read_address(self, timeout_s):
        """Read stdout until the `listening on` line; return the URL it names."""
        deadline = time.monotonic() + timeout_s
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    raise StartFailed(f"{self.name} exited with status {self.process.wait()} before listening; see {self.log_path}")
                buffer += chunk
                for line in buffer.split(b"\n")[:-1]:
                    if line.startswith(LISTENING_PREFIX):
                        return line[len(LISTENING_PREFIX):].decode().strip()
        raise StartFailed(f"{self.name} printed no `listening on` line within {timeout_s:.0f} s; see {self.log_path}")

    def _drain_stdout(self):
        while self.process.stdout.read(65536):
            pass

    def memory_kib(self):
        """Return the resident set now (`VmRSS`), its peak so far (`VmHWM`) and its anonymous
        and file-backed parts, in KiB, with the process's thread count."""
        fields = {"VmRSS": "rss_kib", "VmHWM": "peak_rss_kib", "RssAnon": "rss_anonymous_kib", "RssFile": "rss_file_kib", "Threads": "threads"}
        values = {}
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in fields:
                    values[fields[key]] = int(rest.split()[0])
        return values

    def cpu_seconds(self):
        """Return the CPU time the process has used so far, user and system, in seconds."""
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            # The command name in field 2 may contain spaces, so count fields after its `)`.
            fields = stat.read().rpartition(")")[2].split()
        # utime and stime are fields 14 and 15 of proc_pid_stat(5), in clock ticks.
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout_s=15.0):
        """Send SIGTERM, wait, and SIGKILL a process that does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class ServerGroup:
    """Servers started during a run, all stopped when the `with` block ends, even on error."""

    def __init__(self):
        self._servers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()

    def start(self, *args, **kwargs):
        server = Server(*args, **kwargs)
        self._servers.append(server)
        return server

    def stop(self, server):
        server.stop()
        self._servers.remove(server)
