"""Real speech for the Workers AI emulator: Deepgram Aura's output combinations and MeloTTS's WAV.

Aura's valid combinations of `encoding`, `container`, `sample_rate` and `bit_rate` are Deepgram's
("Audio Format Combinations" in deepgram/deepgram-docs, fern/docs/tts-media-output-settings.mdx);
Cloudflare's model schemas list the same parameters without saying which combinations work.
`aura_output` checks a request against that table, and `SpeechRenderer` encodes espeak-ng's
speech exactly as the combination states, so a test can check the rate and codec a client
receives.
"""

import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass

from audio import RENDER_TIMEOUT_S, RenderError, espeak_rate

ENCODINGS = ("linear16", "flac", "mulaw", "alaw", "mp3", "opus", "aac")
CONTAINERS = ("none", "wav", "ogg")


@dataclass(frozen=True)
class Combination:
    """One row of Deepgram's table."""

    containers: tuple
    default_container: str | None
    # Rates the caller may choose; empty when the rate is fixed.
    sample_rates: tuple
    # The rate used when the caller names none, or the fixed rate.
    default_sample_rate: int
    # A tuple of allowed values, a (low, high) range as a list, or None when not applicable.
    bit_rates: object
    default_bit_rate: int | None


COMBINATIONS = {
    "linear16": Combination(("wav", "none"), "wav", (8000, 16000, 24000, 32000, 48000), 24000, None, None),
    "mulaw": Combination(("wav", "none"), "wav", (8000, 16000), 8000, None, None),
    "alaw": Combination(("wav", "none"), "wav", (8000, 16000), 8000, None, None),
    "mp3": Combination((), None, (), 22050, (32000, 48000), 48000),
    "opus": Combination(("ogg",), "ogg", (), 48000, [4000, 650000], 12000),
    # NOTE: Deepgram's table names no default rate for flac; 48000 is assumed.
    "flac": Combination((), None, (8000, 16000, 22050, 32000, 48000), 48000, None, None),
    "aac": Combination((), None, (), 22050, [4000, 192000], 48000),
}

# Deepgram's "Audio Format Outputs" table. Headerless audio names its rate in the type.
# NOTE: that Workers AI passes these types through unchanged is assumed. A live test in a public
# report confirms only audio/mpeg, the default.
CONTENT_TYPES = {
    ("linear16", "wav"): "audio/wav",
    ("linear16", "none"): "audio/l16;rate={rate}",
    ("mulaw", "wav"): "audio/wav",
    ("mulaw", "none"): "audio/mulaw;rate={rate}",
    ("alaw", "wav"): "audio/wav",
    ("alaw", "none"): "audio/alaw;rate={rate}",
    ("mp3", None): "audio/mpeg",
    ("opus", "ogg"): "audio/ogg;codecs=opus",
    ("flac", None): "audio/flac",
    ("aac", None): "audio/aac",
}

# libopus encodes at most 256 kbit/s per channel. Deepgram accepts up to 650000 bps for opus;
# above the libopus limit the emulator encodes at the limit.
LIBOPUS_MAX_BIT_RATE = 256000

# MeloTTS's own models synthesize at 44.1 kHz.
# NOTE: the rate of the WAV that Workers AI returns is not documented; 44100 is assumed.
MELOTTS_SAMPLE_RATE = 44100


class CombinationError(ValueError):
    """A combination of output settings that Deepgram's table does not allow."""


@dataclass(frozen=True)
class AuraOutput:
    """A checked combination, with every default filled in."""

    encoding: str
    container: str | None
    sample_rate: int
    bit_rate: int | None

    def content_type(self):
        return CONTENT_TYPES[(self.encoding, self.container)].format(rate=self.sample_rate)

    def ffmpeg_args(self):
        rate = ["-ar", str(self.sample_rate)]
        if self.encoding == "linear16":
            return rate + (["-c:a", "pcm_s16le", "-f", "wav"] if self.container == "wav" else ["-f", "s16le"])
        if self.encoding in ("mulaw", "alaw"):
            codec = "pcm_mulaw" if self.encoding == "mulaw" else "pcm_alaw"
            return rate + (["-c:a", codec, "-f", "wav"] if self.container == "wav" else ["-f", self.encoding])
        if self.encoding == "mp3":
            return rate + ["-c:a", "libmp3lame", "-b:a", str(self.bit_rate), "-id3v2_version", "0", "-write_xing", "0", "-f", "mp3"]
        if self.encoding == "opus":
            return rate + ["-c:a", "libopus", "-b:a", str(min(self.bit_rate, LIBOPUS_MAX_BIT_RATE)), "-f", "ogg"]
        if self.encoding == "flac":
            return rate + ["-c:a", "flac", "-f", "flac"]
        return rate + ["-c:a", "aac", "-b:a", str(self.bit_rate), "-f", "adts"]


def aura_output(encoding, container, sample_rate, bit_rate):
    """Check one request's output settings against Deepgram's table; raise CombinationError."""
    row = COMBINATIONS[encoding]

    if container is not None and container not in row.containers:
        allowed = ", ".join(row.containers) or "none (omit `container`)"
        raise CombinationError(f"container '{container}' is not available for encoding '{encoding}'; allowed: {allowed}")
    if sample_rate is not None and not row.sample_rates:
        raise CombinationError(f"sample_rate is not configurable for encoding '{encoding}' (it is {row.default_sample_rate})")
    if sample_rate is not None and sample_rate not in row.sample_rates:
        allowed = ", ".join(str(rate) for rate in row.sample_rates)
        raise CombinationError(f"sample_rate {sample_rate:g} is not available for encoding '{encoding}'; allowed: {allowed}")
    if bit_rate is not None:
        check_bit_rate(encoding, row.bit_rates, bit_rate)

    return AuraOutput(
        encoding=encoding,
        container=container or row.default_container,
        sample_rate=int(sample_rate or row.default_sample_rate),
        bit_rate=int(bit_rate) if bit_rate is not None else row.default_bit_rate,
    )


def check_bit_rate(encoding, allowed, bit_rate):
    if allowed is None:
        raise CombinationError(f"bit_rate is not applicable to encoding '{encoding}'")
    if isinstance(allowed, tuple) and bit_rate not in allowed:
        raise CombinationError(f"bit_rate {bit_rate:g} is not available for encoding '{encoding}'; allowed: {', '.join(map(str, allowed))}")
    if isinstance(allowed, list) and not allowed[0] <= bit_rate <= allowed[1]:
        raise CombinationError(f"bit_rate {bit_rate:g} is out of range for encoding '{encoding}': {allowed[0]} to {allowed[1]}")


class SpeechRenderer:
    """espeak-ng speech encoded by one ffmpeg call, cached by (text, voice, ffmpeg arguments)."""

    def __init__(self):
        self._cache = {}
        self._lock = threading.Lock()
        self.renders = 0
        self.cache_hits = 0

    def aura(self, text, espeak_voice, output):
        return self._render(text, espeak_voice, tuple(output.ffmpeg_args()))

    def melotts_wav(self, text, espeak_voice):
        return self._render(text, espeak_voice, ("-ar", str(MELOTTS_SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav"))

    def _render(self, text, espeak_voice, output_args):
        key = (text, espeak_voice, output_args)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self.cache_hits += 1
                return cached

        audio = render(text, espeak_voice, list(output_args))

        with self._lock:
            self._cache[key] = audio
            self.renders += 1
        return audio


def render(text, espeak_voice, output_args):
    """Speak `text` with espeak-ng and encode it mono with `output_args`. Raise RenderError."""
    wpm, _ = espeak_rate(1.0)
    with tempfile.TemporaryDirectory(prefix="voxgate-workers-ai-") as workdir:
        text_path = os.path.join(workdir, "input.txt")
        speech_path = os.path.join(workdir, "speech.wav")
        encoded_path = os.path.join(workdir, "encoded")

        # The text goes through a file so that input starting with "-" is never an option.
        with open(text_path, "w", encoding="utf-8") as text_file:
            text_file.write(text)
        run(["espeak-ng", "-b", "1", "-v", espeak_voice, "-s", str(wpm), "-w", speech_path, "-f", text_path])

        # The metadata and bitexact flags make the bytes identical across runs and drop the
        # ID3 tag, the Xing frame and the WAV LIST chunk, as audio.py does.
        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", speech_path, "-ac", "1"]
        command += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
        command += output_args + [encoded_path]
        run(command)

        with open(encoded_path, "rb") as encoded_file:
            return encoded_file.read()


def run(command):
    try:
        completed = subprocess.run(command, capture_output=True, timeout=RENDER_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RenderError(f"{command[0]} could not run: {error}") from error
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"{command[0]} exited with status {completed.returncode}: {stderr}")
