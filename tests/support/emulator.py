"""Run the OpenAI emulator as a subprocess and drive its control endpoints."""

import json
import sys
from pathlib import Path

from support import rawhttp
from support.processes import ServerProcess

EMULATOR_SCRIPT = Path(__file__).resolve().parents[1] / "emulators" / "openai_emulator.py"
SPEECH_PATH = "/v1/audio/speech"

# Ten words, about 3.3 s of speech at espeak-ng's normal rate.
SENTENCE = "The quick brown fox jumps over the lazy sleeping dog."


def speech_body(**overrides):
    """Return a valid OpenAI speech request body, changed by `overrides`."""
    body = {"model": "tts-1", "input": SENTENCE, "voice": "alloy"}
    body.update(overrides)
    return body


class ControlError(Exception):
    """A control endpoint returned an unexpected status."""


class OpenAIEmulator:
    """A running emulator that accepts `api_key`, logging requests to a file in `workdir`."""

    def __init__(self, workdir, api_key, extra_args=()):
        self.api_key = api_key
        self.request_log_path = Path(workdir) / "openai-emulator-requests.jsonl"
        command = [sys.executable, str(EMULATOR_SCRIPT), "--api-key", api_key, "--request-log", str(self.request_log_path), *extra_args]
        self.server = ServerProcess("openai-emulator", command, str(workdir))
        self.url = self.server.url

    def stop(self):
        return self.server.stop()

    def requests(self):
        """Return every API request the emulator received since the last `clear`, oldest first."""
        return self._control("GET", "/__emulator/requests", 200)

    def speech_requests(self):
        return [entry for entry in self.requests() if entry["path"] == SPEECH_PATH]

    def clear(self):
        self._control("DELETE", "/__emulator/requests", 204)

    def add_faults(self, *faults):
        """Queue faults; each applies to one later valid speech request, in order."""
        return self._control("POST", "/__emulator/faults", 200, list(faults))

    def pending_faults(self):
        return self._control("GET", "/__emulator/faults", 200)

    def clear_faults(self):
        self._control("DELETE", "/__emulator/faults", 204)

    def stats(self):
        return self._control("GET", "/__emulator/stats", 200)

    def reset(self):
        """Drop the request log and pending faults, so that a test observes only its own traffic."""
        self.clear()
        self.clear_faults()

    def _control(self, method, path, expected_status, value=None):
        body = None if value is None else json.dumps(value).encode("utf-8")
        response = rawhttp.request(self.url, method, path, body, {"Content-Type": "application/json"} if body else None)
        if response.status != expected_status:
            raise ControlError(f"{method} {path} returned {response.describe()}, expected HTTP {expected_status}")
        return response.json() if response.body else None

