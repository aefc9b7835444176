"""Start and stop the servers that tests run: the emulators and the gateway.

Each server prints one `listening on http://127.0.0.1:PORT` line on stdout once it is bound.
Both output streams go to files, so a test can read everything the server printed, before or
after it stops.
"""

import os
import re
import signal
import subprocess
import time

LISTENING_LINE = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)\n")

# Compiling plugins in a debug gateway can take a while on a loaded 2-core machine.
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 10
POLL_INTERVAL_S = 0.05


class ServerFailed(Exception):
    """A server exited or printed something unexpected before it was ready."""


class ServerProcess:
    """A running server whose stdout and stderr are captured in files under `workdir`."""

    def __init__(self, name, command, workdir, env=None):
        self.name = name
        self.command = command
        self.stdout_path = os.path.join(workdir, f"{name}.stdout")
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        with open(self.stdout_path, "wb") as stdout, open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env)
        self.url = self._wait_for_listening_line()

    def _wait_for_listening_line(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            stdout = self.stdout()
            if "\n" in stdout:
                match = LISTENING_LINE.match(stdout)
                if match is None:
                    self.stop()
                    raise ServerFailed(f"{self.name} printed {stdout.splitlines()[0]!r} instead of 'listening on http://127.0.0.1:PORT'")
                return match.group(1)
            if self.process.poll() is not None:
                raise ServerFailed(f"{self.name} exited with status {self.process.returncode} before listening; stderr:\n{self.stderr()[-4000:]}")
            time.sleep(POLL_INTERVAL_S)

        self.stop()
        raise ServerFailed(f"{self.name} printed no 'listening on' line within {START_TIMEOUT_S} s; stderr:\n{self.stderr()[-4000:]}")

    def stdout(self):
        with open(self.stdout_path, encoding="utf-8", errors="replace") as stdout:
            return stdout.read()

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as stderr:
            return stderr.read()

    def running(self):
        return self.process.poll() is None

    def stop(self):
        """Send SIGTERM, wait, then SIGKILL. Return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
