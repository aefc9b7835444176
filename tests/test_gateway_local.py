"""The offline `local` provider through the gateway: a Piper voice inside the plugin.

One gateway per module loads only `local.wasm`, with no provider key anywhere, and is asked
for speech through the OpenAI-compatible API. The checks are what a listener would notice:
the audio is a valid WAV at the voice's rate, it lasts about as long as the words take to
say, it is not silence, speech recognition hears the words, and nothing in the text is
skipped (numbers, money and unknown words all add speech).
"""

import io
import math
import os
import re
import struct
import subprocess
import wave

import pytest

from conftest import build_output, require_file
from support.gateway import GatewaySettings

MODEL = "local:piper"
VOICE = "joe"
SAMPLE_RATE = 22050
# The rate of OpenAI's headerless `pcm`, which the gateway asks every provider for.
OPENAI_PCM_RATE = 24000

# The gateway's limit on one request's text (long_text.max_characters). Text over the
# plugin's own 2,000 characters is split at sentence boundaries by the gateway instead.
GATEWAY_MAX_CHARACTERS = 100_000

# Long enough for a loaded 2-core machine. A sentence takes about 0.4 s of CPU per second of
# speech, and several tests may wait for the same plugin.
SPEECH_TIMEOUT_S = 120

# joe speaks about 2.5 words per second (an estimate from the clips in these tests). The
# bounds catch only audio that is clearly too short (words dropped) or too long (garbage).
MIN_SECONDS_PER_WORD = 0.2
MAX_SECONDS_PER_WORD = 0.8

# Compiling the five first-party plugins inside the gateway, this 82 MB component among them,
# took its peak resident memory to 670 MB (measured 2026-12-05). Compiled in a child process,
# the gateway's peak was 122 MB: mostly local.wasm, read once to hash it.
MAX_PEAK_KB_AFTER_COLD_START = 300 * 1024

# Variables that would give a provider a key. The `say` test removes all of them.
KEY_VARIABLES = ("OPENAI_API_KEY", "ELEVENLABS_API_KEY", "FAL_KEY", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID")


@pytest.fixture(scope="module")
def local_plugin():
    plugin_dir = build_output("VOXGATE_PLUGINS", "target/plugins")
    return require_file(plugin_dir / "local.wasm", "local plugin", "VOXGATE_PLUGINS")


@pytest.fixture(scope="module")
def gateway(start_gateway, local_plugin):
    # No key is configured. The host gives `local` built-in limits (384 MiB, 120 s per call).
    return start_gateway([local_plugin], GatewaySettings())


def speech(gateway, text, response_format="wav", **extra):
    body = {"model": MODEL, "voice": VOICE, "input": text, "response_format": response_format, **extra}
    return gateway.speech(body, timeout=SPEECH_TIMEOUT_S)


def wav_samples(data):
    """Return (sample rate, channels, sample width, samples) of WAV bytes."""
    with wave.open(io.BytesIO(data), "rb") as audio:
        rate, channels, width = audio.getframerate(), audio.getnchannels(), audio.getsampwidth()
        frames = audio.readframes(audio.getnframes())
    return rate, channels, width, pcm_samples(frames)


def pcm_samples(data):
    return struct.unpack(f"<{len(data) // 2}h", data)


def duration(samples):
    return len(samples) / SAMPLE_RATE


def voiced_fraction(samples, window_s=0.02, threshold=500):
    """Return the share of 20 ms windows whose RMS is above `threshold` (of 32767)."""
    size = int(SAMPLE_RATE * window_s)
    windows = [samples[start:start + size] for start in range(0, len(samples) - size + 1, size)]
    loud = sum(1 for window in windows if math.sqrt(sum(value * value for value in window) / size) > threshold)
    return loud / max(1, len(windows))


def spoken_seconds(gateway, text):
    response = speech(gateway, text)
    assert response.status == 200, response.describe()
    return duration(wav_samples(response.body)[3])


def transcribe(data):
    """Transcribe WAV bytes with pocketsphinx's bundled US English model."""
    from pocketsphinx import Decoder

    resampled = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "16000", "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    decoder = Decoder(samprate=16000, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(resampled, full_utt=True)
    decoder.end_utt()
    return decoder.hyp().hypstr if decoder.hyp() else ""


def test_cold_start_compiles_in_child(start_gateway, local_plugin):
    gateway = start_gateway([local_plugin], GatewaySettings())

    assert "compiled=Compiled" in gateway.stderr(), "the compile cache was empty, so the plugin must have been compiled"
    entries = list((gateway.workdir / "compiled").glob("*.cwasm"))
    assert len(entries) == 1, f"expected one compiled component in the cache, found {entries}"
    status = open(f"/proc/{gateway.server.process.pid}/status", encoding="ascii").read()
    peak_kb = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
    assert peak_kb < MAX_PEAK_KB_AFTER_COLD_START, (
        f"the gateway's peak resident memory was {peak_kb} kB after compiling local.wasm; compiling in-process "
        f"would explain it (the limit is {MAX_PEAK_KB_AFTER_COLD_START} kB)"
    )
    assert gateway.provider("local").get("configured") is True


def test_describes_a_free_offline_provider(gateway):
    provider = gateway.provider("local")

    models = provider.get("models") or []
    assert [model.get("id") for model in models] == ["piper"], provider
    assert models[0].get("price_per_million_characters") == 0, provider
    assert [voice.get("id") for voice in provider.get("voices") or []] == [VOICE], provider
    assert provider.get("configured") is True, f"the local provider needs no key: {provider}"
    assert provider.get("missing_secrets") == [], provider


def test_wav_speech(gateway):
    text = "Hello from the offline voice of the gateway."

    response = speech(gateway, text)

    assert response.status == 200, response.describe()
    rate, channels, width, samples = wav_samples(response.body)
    assert (rate, channels, width) == (SAMPLE_RATE, 1, 2)
    words = len(text.split())
    seconds = duration(samples)
    assert words * MIN_SECONDS_PER_WORD < seconds < words * MAX_SECONDS_PER_WORD, f"{seconds:.2f} s for {words} words"
    assert voiced_fraction(samples) > 0.4, "the audio is mostly silence"


def test_speech_is_intelligible(gateway):
    response = speech(gateway, "Hello world. This is a test of the local voice.")
    assert response.status == 200, response.describe()

    transcript = transcribe(response.body).split()

    # pocketsphinx mishears some words of any synthetic voice, so most, not all, must match.
    expected = "hello world this is a test of the local voice".split()
    matched = sum(1 for word in expected if word in transcript)
    assert matched >= 6, f"recognised {transcript!r}"


def test_pcm_matches_the_wav(gateway):
    text = "Raw samples, please."

    wav_response = speech(gateway, text)
    pcm_response = speech(gateway, text, response_format="pcm")

    assert pcm_response.status == 200, pcm_response.describe()
    assert len(pcm_response.body) % 2 == 0, "16-bit samples come in whole pairs of bytes"
    # OpenAI's raw pcm is 24 kHz, so the plugin converts the voice's 22,050 Hz for it. The
    # voice's noise is seeded from the text, so both answers hold the same speech.
    wav_seconds = duration(wav_samples(wav_response.body)[3])
    pcm_seconds = len(pcm_samples(pcm_response.body)) / OPENAI_PCM_RATE
    assert pcm_seconds == pytest.approx(wav_seconds, abs=0.001)


def test_numbers_money_and_unknown_words_are_spoken(gateway):
    base = "We paid for the tickets."
    plain = spoken_seconds(gateway, base)

    # Each insertion must add at least the time its shortest reading takes to say.
    insertions = {
        "We paid $1,250.75 for the tickets.": 2.0,  # one thousand two hundred fifty dollars and seventy-five cents
        "We paid for 42 tickets.": 0.4,  # forty-two
        "We paid for the zorblaxian tickets.": 0.4,  # not in the dictionary
    }
    for text, at_least in insertions.items():
        seconds = spoken_seconds(gateway, text)
        assert seconds > plain + at_least, f"{text!r}: {seconds:.2f} s, the base sentence {plain:.2f} s"


def test_faster_speech_is_shorter(gateway):
    text = "The quick brown fox jumps over the lazy dog."

    normal = spoken_seconds(gateway, text)
    response = speech(gateway, text, speed=2.0)

    assert response.status == 200, response.describe()
    fast = duration(wav_samples(response.body)[3])
    assert fast < normal * 0.75, f"speed 2.0 gave {fast:.2f} s, speed 1.0 {normal:.2f} s"


def test_over_long_text_is_rejected(gateway):
    response = speech(gateway, "x" * (GATEWAY_MAX_CHARACTERS + 1))

    assert response.status == 400, response.describe()
    assert response.error() is not None, response.describe()


def test_mp3_is_unsupported(gateway):
    response = speech(gateway, "No transcoding yet.", response_format="mp3")

    assert response.status == 400, response.describe()
    error = response.error() or {}
    # The gateway checks the format against the model's declared formats before the plugin
    # runs (`unsupported_format`); the plugin's own refusal maps to `unsupported_by_provider`.
    assert error.get("code") in {"unsupported_format", "unsupported_by_provider"}, response.describe()


def test_say_needs_no_key(voxgate_bin, gateway, local_plugin, tmp_path):
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "local.wasm").write_bytes(local_plugin.read_bytes())
    # The module gateway's compile cache, so the component is not compiled a second time.
    config = tmp_path / "voxgate.toml"
    config.write_text(f'[plugins]\ndir = "{plugin_dir}"\ncache_dir = "{gateway.workdir / "compiled"}"\n', encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if name not in KEY_VARIABLES and not name.startswith("VOXGATE_")}
    output = tmp_path / "out.wav"

    result = subprocess.run(
        [str(voxgate_bin), "--config", str(config), "say", "Hello", "--provider", "local", "-o", str(output)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=SPEECH_TIMEOUT_S,
        env=env,
        check=False,
    )

    assert result.returncode == 0, result.stderr.decode()
    rate, channels, _, samples = wav_samples(output.read_bytes())
    assert (rate, channels) == (SAMPLE_RATE, 1)
    assert 0.2 < duration(samples) < 2.0
    assert voiced_fraction(samples) > 0.3
