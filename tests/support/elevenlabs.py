"""Run the ElevenLabs emulator as a subprocess, drive its control endpoints, and probe audio in ElevenLabs' output formats."""

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
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


# The codec ffprobe reports for each ElevenLabs codec.
EXPECTED_CODECS = {"mp3": "mp3", "pcm": "pcm_s16le", "wav": "pcm_s16le", "ulaw": "pcm_mulaw", "alaw": "pcm_alaw", "opus": "opus"}

# Headerless codecs are probed with their layout stated, as ffprobe cannot guess it.
RAW_INPUT_FORMATS = {"pcm": "s16le", "ulaw": "mulaw", "alaw": "alaw"}


@dataclass
class ProbedAudio:
    """What ffprobe and a full decode found in audio of one `output_format`."""

    codec: str
    sample_rate: int
    channels: int
    # Bits per second of the first audio stream, 0 when ffprobe states none.
    bit_rate: int
    duration_s: float
    decode_errors: str


def probe_output(data, output_format):
    """Probe and fully decode `data`, audio in ElevenLabs' `output_format` (such as `pcm_16000`)."""
    codec, rate = output_format.split("_")[:2]
    input_args = ["-f", RAW_INPUT_FORMATS[codec], "-ar", rate, "-ac", "1"] if codec in RAW_INPUT_FORMATS else []

    with tempfile.NamedTemporaryFile(suffix="." + codec) as audio_file:
        audio_file.write(data)
        audio_file.flush()
        probed = subprocess.run(
            ["ffprobe", "-v", "error", *input_args, "-show_entries", "stream=codec_name,sample_rate,channels,bit_rate", "-of", "json", audio_file.name],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        # A decode to 16 kHz mono gives an exact duration for every codec.
        decoded = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", *input_args, "-i", audio_file.name, "-f", "s16le", "-ac", "1", "-ar", "16000", "pipe:1"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    stream = (json.loads(probed.stdout or b"{}").get("streams") or [{}])[0]
    errors = probed.stderr.decode("utf-8", "replace") + decoded.stderr.decode("utf-8", "replace")
    if decoded.returncode != 0:
        errors += f"\nffmpeg exited with status {decoded.returncode}"
    return ProbedAudio(
        codec=stream.get("codec_name", ""),
        sample_rate=int(stream.get("sample_rate", 0)),
        channels=int(stream.get("channels", 0)),
        bit_rate=int(stream.get("bit_rate") or 0),
        duration_s=len(decoded.stdout) / (2 * 16000),
        decode_errors=errors.strip(),
    )
