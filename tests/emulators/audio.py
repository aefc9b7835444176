"""Real speech for the provider emulators: espeak-ng speaks the text, ffmpeg encodes it.

Renders are cached in memory, so a test suite that requests the same sentence many times
runs espeak-ng and ffmpeg once per (text, voice, format, speed).
"""

import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass

# espeak-ng 1.51 speaks 175 words per minute by default. It accepts faster rates (1400 was
# measured to work) but silently raises anything below 80 to 80, so slower speeds need
# ffmpeg's atempo filter for the remainder.
ESPEAK_DEFAULT_WPM = 175
ESPEAK_MIN_WPM = 80

# Every emulated provider here streams 24 kHz mono, like OpenAI's speech endpoint.
SAMPLE_RATE = 24000

# The ffmpeg output arguments for each container. Every output can be written to a pipe, so
# there is no MP4. The metadata and bitexact flags make the bytes identical across runs. They
# also drop the ID3 tag and Xing frame before the first MP3 frame and the WAV LIST chunk, and
# fix the Ogg serial number.
FFMPEG_OUTPUT_ARGS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-id3v2_version", "0", "-write_xing", "0", "-f", "mp3"],
    "opus": ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"],
    "aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "pcm": ["-c:a", "pcm_s16le", "-f", "s16le"],
}

# A render of one sentence takes well under a second, so this only stops a wedged process.
RENDER_TIMEOUT_S = 60


class RenderError(Exception):
    """espeak-ng or ffmpeg failed; the message contains the tool's stderr."""


@dataclass(frozen=True)
class RenderKey:
    """The inputs that determine a render's bytes."""

    text: str
    espeak_voice: str
    format: str
    speed: float


class Renderer:
    """Renders and caches speech. Safe to share between request threads."""

    def __init__(self):
        self._cache = {}
        self._lock = threading.Lock()
        self.renders = 0
        self.cache_hits = 0

    def render(self, text, espeak_voice, format, speed=1.0):
        """Return `text` spoken by `espeak_voice` as `format` bytes at 24 kHz mono.

        `speed` is a rate multiplier where 1.0 is espeak-ng's normal rate. Raises
        RenderError when a tool fails and ValueError for a format it does not know.
        """
        if format not in FFMPEG_OUTPUT_ARGS:
            raise ValueError(f"unknown audio format {format!r}; expected one of {sorted(FFMPEG_OUTPUT_ARGS)}")
        key = RenderKey(text, espeak_voice, format, float(speed))

        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self.cache_hits += 1
                return cached

        audio = _render_uncached(key)

        with self._lock:
            self._cache[key] = audio
            self.renders += 1
        return audio


def espeak_rate(speed):
    """Split `speed` into an espeak-ng words-per-minute rate and a residual atempo factor."""
    wanted_wpm = ESPEAK_DEFAULT_WPM * speed
    wpm = max(ESPEAK_MIN_WPM, round(wanted_wpm))
    return wpm, wanted_wpm / wpm


def _render_uncached(key):
    wpm, tempo = espeak_rate(key.speed)

    with tempfile.TemporaryDirectory(prefix="voxgate-emulator-") as workdir:
        text_path = os.path.join(workdir, "input.txt")
        speech_path = os.path.join(workdir, "speech.wav")
        encoded_path = os.path.join(workdir, "encoded")

        # The text goes through a file so that input starting with "-" is never read as an
        # option. -b 1 declares the file as UTF-8.
        with open(text_path, "w", encoding="utf-8") as text_file:
            text_file.write(key.text)
        _run(["espeak-ng", "-b", "1", "-v", key.espeak_voice, "-s", str(wpm), "-w", speech_path, "-f", text_path])

        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", speech_path]
        if abs(tempo - 1.0) > 1e-6:
            command += ["-af", f"atempo={tempo:.6f}"]
        command += ["-ac", "1", "-ar", str(SAMPLE_RATE), "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
        command += FFMPEG_OUTPUT_ARGS[key.format]
        command.append(encoded_path)
        _run(command)

        with open(encoded_path, "rb") as encoded_file:
            return encoded_file.read()


def _run(command):
    try:
        completed = subprocess.run(command, capture_output=True, timeout=RENDER_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RenderError(f"{command[0]} could not run: {error}") from error
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"{command[0]} exited with status {completed.returncode}: {stderr}")
