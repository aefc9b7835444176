"""Run the ElevenLabs emulator as a subprocess and drive its control endpoints."""

import sys
from pathlib import Path

from support.emulator import OpenAIEmulator
from support.processes import ServerProcess

EMULATOR_SCRIPT = Path(__file__).resolve().parents[1] / "emulators" / "elevenlabs_emulator.py"
TTS_PREFIX = "/v1/text-to-speech/"

# Rachel, ElevenLabs' premade voice in the examples of its OpenAPI spec.
RACHEL = "21m00Tcm4TlvDq8ikWAM"
# A cloned voice that only the emulator's account has; the gateway offers it only when the
# `voices` setting names it.
CLONED_VOICE = "vxgCloneTest00000001"

# Ten words, about 3.3 s of speech at espeak-ng's normal rate.
SENTENCE = "The quick brown fox jumps over the lazy sleeping dog."


class ElevenLabsEmulator(OpenAIEmulator):
    """A running ElevenLabs emulator that accepts `api_key` as `xi-api-key`.

    The control endpoints are the framework's (server.py), so the control methods are
    OpenAIEmulator's; only the script and the speech paths differ.
    """

    def __init__(self, workdir, api_key, extra_args=()):
        self.api_key = api_key
        self.request_log_path = Path(workdir) / "elevenlabs-emulator-requests.jsonl"
        command = [sys.executable, str(EMULATOR_SCRIPT), "--api-key", api_key, "--request-log", str(self.request_log_path), *extra_args]
        self.server = ServerProcess("elevenlabs-emulator", command, str(workdir))
        self.url = self.server.url

    def speech_requests(self):
        """Return the text-to-speech requests in the log, oldest first."""
        return [entry for entry in self.requests() if entry["path"].startswith(TTS_PREFIX)]
