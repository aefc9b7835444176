"""Run the fal emulator as a subprocess and drive its control endpoints."""

import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from support import rawhttp
from support.processes import POLL_INTERVAL_S, ServerFailed, ServerProcess

EMULATOR_SCRIPT = Path(__file__).resolve().parents[1] / "emulators" / "fal_emulator.py"

# The emulator prints the media line in the same write as the first line; this only covers a
# slow pipe.
MEDIA_LINE_TIMEOUT_S = 10


class ControlError(Exception):
    """A control endpoint returned an unexpected status."""


class FalEmulator:
    """A running fal emulator that accepts `api_key`, logging both listeners to a file in `workdir`.

    `url` is the sync API (fal.run), `queue_url` the queue API (queue.fal.run) and `media_url`
    the file CDN, on its own loopback address when 127.0.0.2 can be bound.
    """

    def __init__(self, workdir, api_key, extra_args=()):
        self.api_key = api_key
        self.request_log_path = Path(workdir) / "fal-emulator-requests.jsonl"
        command = [sys.executable, str(EMULATOR_SCRIPT), "--api-key", api_key, "--request-log", str(self.request_log_path), *extra_args]
        self.server = ServerProcess("fal-emulator", command, str(workdir))
        self.url = self.server.url
        self.queue_url = self.url + "/queue"
        self.media_url = self._read_media_url()
        self.host = urlsplit(self.url).netloc
        self.media_host = urlsplit(self.media_url).netloc

    def _read_media_url(self):
        deadline = time.monotonic() + MEDIA_LINE_TIMEOUT_S
        while time.monotonic() < deadline:
            lines = self.server.stdout().splitlines()
            if len(lines) >= 2 and lines[1].startswith("media on http://"):
                return lines[1].split(" ", 2)[2]
            time.sleep(POLL_INTERVAL_S)
        self.stop()
        raise ServerFailed(f"fal-emulator printed no 'media on http://HOST:PORT' line; stdout:\n{self.server.stdout()}")

    def stop(self):
        return self.server.stop()

    def requests(self):
        """Return every request either listener received since the last `clear`, oldest first."""
        return self._control("GET", "/__emulator/requests", 200)

    def api_requests(self):
        return [entry for entry in self.requests() if entry["listener"] == "api"]

    def media_requests(self):
        return [entry for entry in self.requests() if entry["listener"] == "media"]

    def jobs(self):
        return self._control("GET", "/__emulator/jobs", 200)

    def clear(self):
        self._control("DELETE", "/__emulator/requests", 204)

    def add_faults(self, *faults, stage="run"):
        """Queue faults for a stage: `run` (the app request), `status`, `result` or `media`."""
        path = "/__emulator/faults" if stage == "run" else f"/__emulator/faults/{stage}"
        return self._control("POST", path, 200, list(faults))

    def pending_faults(self, stage="run"):
        path = "/__emulator/faults" if stage == "run" else f"/__emulator/faults/{stage}"
        return self._control("GET", path, 200)

    def clear_faults(self):
        """Drop the pending faults of every stage."""
        self._control("DELETE", "/__emulator/faults", 204)

    def clear_jobs(self):
        self._control("DELETE", "/__emulator/jobs", 204)

    def reset(self):
        """Drop the request log, the queue's jobs and every pending fault, so that a test
        observes only its own traffic."""
        self.clear()
        self.clear_jobs()
        self.clear_faults()

    def _control(self, method, path, expected_status, value=None):
        body = None if value is None else json.dumps(value).encode("utf-8")
        response = rawhttp.request(self.url, method, path, body, {"Content-Type": "application/json"} if body else None)
        if response.status != expected_status:
            raise ControlError(f"{method} {path} returned {response.describe()}, expected HTTP {expected_status}")
        return response.json() if response.body else None
