"""Run the Workers AI and AI Gateway emulators as subprocesses, and probe Aura's audio encodings."""

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from support.audio import opus_input_sample_rate
from support.emulator import OpenAIEmulator
from support.processes import ServerProcess

EMULATORS = Path(__file__).resolve().parents[1] / "emulators"
WORKERS_AI_SCRIPT = EMULATORS / "workers_ai_emulator.py"
AI_GATEWAY_SCRIPT = EMULATORS / "ai_gateway_emulator.py"

AURA_2_EN = "@cf/deepgram/aura-2-en"
AURA_1 = "@cf/deepgram/aura-1"
MELOTTS = "@cf/myshell-ai/melotts"

# Ten words, about 3.3 s of speech at espeak-ng's normal rate.
SENTENCE = "The quick brown fox jumps over the lazy sleeping dog."

# The codec ffprobe reports for each Aura encoding.
EXPECTED_CODECS = {
    "linear16": "pcm_s16le",
    "mulaw": "pcm_mulaw",
    "alaw": "pcm_alaw",
    "mp3": "mp3",
    "opus": "opus",
    "flac": "flac",
    "aac": "aac",
}
# Headerless encodings are probed with their layout stated, as ffprobe cannot guess it.
RAW_INPUT_FORMATS = {"linear16": "s16le", "mulaw": "mulaw", "alaw": "alaw"}


class WorkersAiEmulator(OpenAIEmulator):
    """A running Workers AI emulator that accepts `api_token` as a Bearer token for `account_id`.

    The control endpoints are the framework's (server.py), so the control methods are
    OpenAIEmulator's; only the script and the paths differ.
    """

    def __init__(self, workdir, api_token, account_id, extra_args=()):
        self.api_key = api_token
        self.account_id = account_id
        self.request_log_path = Path(workdir) / "workers-ai-emulator-requests.jsonl"
        command = [sys.executable, str(WORKERS_AI_SCRIPT), "--api-key", api_token, "--account-id", account_id]
        command += ["--request-log", str(self.request_log_path), *extra_args]
        self.server = ServerProcess("workers-ai-emulator", command, str(workdir))
        self.url = self.server.url
        # What an operator sets as the plugin's `base-url`.
        self.api_root = self.url + "/client/v4"

    def run_path(self, model, account_id=None):
        return f"/client/v4/accounts/{account_id or self.account_id}/ai/run/{model}"


class AiGatewayEmulator(OpenAIEmulator):
    """A running AI Gateway emulator that accepts `token` in `cf-aig-authorization`."""

    def __init__(self, workdir, token, account_id, gateway_id, openai_upstream=None, workers_ai_upstream=None):
        self.api_key = token
        self.account_id = account_id
        self.gateway_id = gateway_id
        self.request_log_path = Path(workdir) / "ai-gateway-emulator-requests.jsonl"
        command = [sys.executable, str(AI_GATEWAY_SCRIPT), "--api-key", token, "--account-id", account_id]
        command += ["--request-log", str(self.request_log_path)]
        if openai_upstream:
            command += ["--openai-upstream", openai_upstream]
        if workers_ai_upstream:
            command += ["--workers-ai-upstream", workers_ai_upstream]
        self.server = ServerProcess("ai-gateway-emulator", command, str(workdir))
        self.url = self.server.url

    def base_url(self, provider):
        """What an operator sets as a plugin's `base-url` to route `provider` through the gateway."""
        return f"{self.url}{self.route(provider)}"

    def route(self, provider):
        return f"/v1/{self.account_id}/{self.gateway_id}/{provider}"


@dataclass
class ProbedAudio:
    """What ffprobe and a full decode found in some audio."""

    codec: str
    sample_rate: int
    channels: int
    duration_s: float
    decode_errors: str


def probe(data, encoding, container=None, sample_rate=None):
    """Probe and fully decode `data`, Aura audio in `encoding` (a headerless one at `sample_rate`)."""
    headerless = encoding in RAW_INPUT_FORMATS and container == "none"
    input_args = ["-f", RAW_INPUT_FORMATS[encoding], "-ar", str(sample_rate), "-ac", "1"] if headerless else []

    with tempfile.NamedTemporaryFile(suffix=".audio") as audio_file:
        audio_file.write(data)
        audio_file.flush()
        probed = subprocess.run(
            ["ffprobe", "-v", "error", *input_args, "-show_entries", "stream=codec_name,sample_rate,channels", "-of", "json", audio_file.name],
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
    rate = int(stream.get("sample_rate", 0))
    if encoding == "opus":
        # ffprobe reports every Opus stream at its 48 kHz decode rate; OpusHead has the input rate.
        rate = opus_input_sample_rate(data)
    errors = probed.stderr.decode("utf-8", "replace") + decoded.stderr.decode("utf-8", "replace")
    if decoded.returncode != 0:
        errors += f"\nffmpeg exited with status {decoded.returncode}"

    return ProbedAudio(
        codec=stream.get("codec_name", ""),
        sample_rate=rate,
        channels=int(stream.get("channels", 0)),
        duration_s=len(decoded.stdout) / (2 * 16000),
        decode_errors=errors.strip(),
    )
