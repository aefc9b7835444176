"""Check audio bytes the way a user would: ffprobe for the codec, ffmpeg for a full decode."""

import json
import struct
import subprocess
import tempfile
from dataclasses import dataclass

# The raw `pcm` format has no header, so it is probed with its layout stated.
PCM_INPUT_ARGS = ["-f", "s16le", "-ar", "24000", "-ac", "1"]

# The codec ffprobe reports for each OpenAI response_format.
EXPECTED_CODECS = {
    "mp3": "mp3",
    "opus": "opus",
    "aac": "aac",
    "flac": "flac",
    "wav": "pcm_s16le",
    "pcm": "pcm_s16le",
}

# espeak-ng speaks 175 words per minute at its normal rate.
SPEECH_WORDS_PER_MINUTE = 175


@dataclass
class AudioInfo:
    """What ffprobe and a full decode found in some audio bytes."""

    codec: str
    channels: int
    # For Ogg Opus this is the input sample rate from the OpusHead packet, because ffprobe
    # always reports Opus at its 48 kHz decode rate.
    sample_rate: int
    duration_s: float
    decode_errors: str


def probe(data, format):
    """Probe and fully decode `data`, which is audio in OpenAI's `format`."""
    input_args = PCM_INPUT_ARGS if format == "pcm" else []

    with tempfile.NamedTemporaryFile(suffix="." + format) as audio_file:
        audio_file.write(data)
        audio_file.flush()

        probed = subprocess.run(
            ["ffprobe", "-v", "error", *input_args, "-show_entries", "stream=codec_name,sample_rate,channels", "-of", "json", audio_file.name],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        streams = json.loads(probed.stdout or b"{}").get("streams") or [{}]
        stream = streams[0]

        # Decoding to 16-bit mono PCM at 24 kHz gives an exact duration for every format,
        # where ffprobe only estimates it for ADTS and for MP3 without a Xing frame.
        decoded = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", *input_args, "-i", audio_file.name, "-f", "s16le", "-ac", "1", "-ar", "24000", "pipe:1"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    sample_rate = int(stream.get("sample_rate", 0))
    if format == "opus":
        sample_rate = opus_input_sample_rate(data)
    decode_errors = probed.stderr.decode("utf-8", "replace") + decoded.stderr.decode("utf-8", "replace")
    if decoded.returncode != 0:
        decode_errors += f"\nffmpeg exited with status {decoded.returncode}"

    return AudioInfo(
        codec=stream.get("codec_name", ""),
        channels=int(stream.get("channels", 0)),
        sample_rate=sample_rate,
        duration_s=len(decoded.stdout) / (2 * 24000),
        decode_errors=decode_errors.strip(),
    )


def opus_input_sample_rate(data):
    """Return the input sample rate stored in the OpusHead packet of an Ogg Opus stream, or 0."""
    start = data.find(b"OpusHead")
    if start < 0 or len(data) < start + 16:
        return 0
    # OpusHead: magic (8 bytes), version (1), channel count (1), pre-skip (2), input rate (4, LE).
    return struct.unpack_from("<I", data, start + 12)[0]


def expected_speech_seconds(text, speed=1.0):
    """Estimate how long espeak-ng takes to say `text`, from its words-per-minute rate."""
    words = len(text.split())
    return words * 60.0 / SPEECH_WORDS_PER_MINUTE / speed

