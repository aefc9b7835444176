"""Real speech in ElevenLabs' output formats: espeak-ng speaks, ffmpeg encodes.

ElevenLabs names a format `codec_samplerate[_bitrate]` (`mp3_44100_128`, `pcm_16000`,
`ulaw_8000`, `opus_48000_64`, `wav_24000`), so unlike the shared 24 kHz renderer in audio.py
this one encodes at the rate and bit rate the name states. Renders are cached in memory by
(text, voice, format, speed), and each render also reports the speech's duration, which the
timestamps endpoints spread the characters over.
"""

import os
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass

from audio import RENDER_TIMEOUT_S, RenderError, espeak_rate


@dataclass(frozen=True)
class OutputFormat:
    """One parsed `output_format` value."""

    name: str
    codec: str
    sample_rate: int
    # kbit/s for mp3 and opus, None for the uncompressed codecs.
    bitrate_kbps: int | None


def parse_output_format(name):
    """Split `mp3_44100_128` into its parts. The caller has checked the name against the list."""
    parts = name.split("_")
    bitrate = int(parts[2]) if len(parts) > 2 else None
    return OutputFormat(name, parts[0], int(parts[1]), bitrate)


# ffmpeg output arguments per codec. The metadata and bitexact flags make the bytes identical
# across runs and drop the ID3 tag, the Xing frame and the WAV LIST chunk, as audio.py does.
def ffmpeg_output_args(output):
    rate = ["-ar", str(output.sample_rate)]
    if output.codec == "mp3":
        return rate + ["-c:a", "libmp3lame", "-b:a", f"{output.bitrate_kbps}k", "-id3v2_version", "0", "-write_xing", "0", "-f", "mp3"]
    if output.codec == "opus":
        return rate + ["-c:a", "libopus", "-b:a", f"{output.bitrate_kbps}k", "-f", "ogg"]
    if output.codec == "pcm":
        return rate + ["-c:a", "pcm_s16le", "-f", "s16le"]
    if output.codec == "wav":
        return rate + ["-c:a", "pcm_s16le", "-f", "wav"]
    if output.codec == "ulaw":
        return rate + ["-f", "mulaw"]
    if output.codec == "alaw":
        return rate + ["-f", "alaw"]
    raise ValueError(f"unknown codec {output.codec!r}")


@dataclass(frozen=True)
class Speech:
    """A finished render."""

    audio: bytes
    duration_s: float


class ElevenLabsRenderer:
    """Renders and caches speech in ElevenLabs' formats. Safe to share between threads.

    `renders` and `cache_hits` count like audio.Renderer's, for `/__emulator/stats`.
    """

    def __init__(self):
        self._cache = {}
        self._lock = threading.Lock()
        self.renders = 0
        self.cache_hits = 0

    def render(self, text, espeak_voice, output_format, speed=1.0):
        """Return a Speech of `text` in `output_format` (a name such as `pcm_16000`).

        Raises RenderError when espeak-ng or ffmpeg fails.
        """
        key = (text, espeak_voice, output_format, float(speed))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self.cache_hits += 1
                return cached

        speech = _render(text, espeak_voice, parse_output_format(output_format), float(speed))

        with self._lock:
            self._cache[key] = speech
            self.renders += 1
        return speech


def _render(text, espeak_voice, output, speed):
    wpm, tempo = espeak_rate(speed)

    with tempfile.TemporaryDirectory(prefix="voxgate-elevenlabs-") as workdir:
        text_path = os.path.join(workdir, "input.txt")
        speech_path = os.path.join(workdir, "speech.wav")
        encoded_path = os.path.join(workdir, "encoded")

        # The text goes through a file so that text starting with "-" is never an option;
        # -b 1 declares it UTF-8.
        with open(text_path, "w", encoding="utf-8") as text_file:
            text_file.write(text)
        _run(["espeak-ng", "-b", "1", "-v", espeak_voice, "-s", str(wpm), "-w", speech_path, "-f", text_path])
        with wave.open(speech_path, "rb") as spoken:
            duration_s = spoken.getnframes() / spoken.getframerate() / tempo

        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", speech_path]
        if abs(tempo - 1.0) > 1e-6:
            command += ["-af", f"atempo={tempo:.6f}"]
        command += ["-ac", "1", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
        command += ffmpeg_output_args(output)
        command.append(encoded_path)
        _run(command)

        with open(encoded_path, "rb") as encoded_file:
            return Speech(encoded_file.read(), duration_s)


def _run(command):
    try:
        completed = subprocess.run(command, capture_output=True, timeout=RENDER_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RenderError(f"{command[0]} could not run: {error}") from error
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"{command[0]} exited with status {completed.returncode}: {stderr}")


def spread_alignment(text, duration_s):
    """Return ElevenLabs' alignment object for `text`, each character a slice of the duration.

    Letters and digits get twice the time of spaces and punctuation, which is closer to how
    speech spends its time than an even split. Times are seconds with three decimals.
    """
    characters = list(text)
    weights = [2.0 if character.isalnum() else 1.0 for character in characters]
    total = sum(weights) or 1.0

    starts, ends = [], []
    elapsed = 0.0
    for weight in weights:
        start = elapsed
        elapsed += duration_s * weight / total
        starts.append(round(start, 3))
        ends.append(round(elapsed, 3))
    return {
        "characters": characters,
        "character_start_times_seconds": starts,
        "character_end_times_seconds": ends,
    }
