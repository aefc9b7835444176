"""Text longer than a model accepts: split at sentences, synthesised in parts, joined into one
valid file.

tts-1 accepts 4,096 characters. A 20,000-character text goes through the gateway as several
upstream requests, each within the limit, and comes back as one WAV (or MP3, or PCM) whose
audio is exactly the parts' audio in order.
"""

import json
import struct

import pytest

from support import rawhttp
from support.audio import probe
from support.emulator import speech_body
from support.gateway import GatewaySettings

SENTENCES = [
    "The committee met on a grey morning to review the harbour plans.",
    "Nobody expected the vote to be close, yet every seat was taken.",
    "Outside, the gulls argued over the remains of a fishing boat's catch.",
    "By noon the chair had read every objection aloud, one after another.",
]
MODEL_LIMIT = 4096


def long_text(characters):
    text = ""
    index = 0
    while len(text) < characters:
        text += SENTENCES[index % len(SENTENCES)] + " "
        index += 1
    return text[:characters].rsplit(" ", 1)[0] + "."


def in_text_order(text, parts):
    """Order parts as they appear in the text. Parts run a few at a time, so they reach the
    emulator in any order; identical parts are interchangeable, so a greedy walk suffices."""
    remaining = list(parts)
    ordered = []
    position = 0
    while remaining:
        while position < len(text) and text[position].isspace():
            position += 1
        match = next((part for part in remaining if text.startswith(part, position)), None)
        assert match is not None, f"no part starts at character {position}: {text[position:position + 60]!r}"
        remaining.remove(match)
        ordered.append(match)
        position += len(match)
    return ordered


def wav_data(clip):
    """Return the sample bytes of a WAV clip, checking that its sizes are consistent."""
    assert clip[:4] == b"RIFF" and clip[8:12] == b"WAVE", clip[:12]
    riff_size = struct.unpack_from("<I", clip, 4)[0]
    assert riff_size == len(clip) - 8, f"RIFF size {riff_size} does not match the file's {len(clip) - 8}"
    offset = 12
    while offset + 8 <= len(clip):
        chunk_id = clip[offset:offset + 4]
        size = struct.unpack_from("<I", clip, offset + 4)[0]
        if chunk_id == b"data":
            data = clip[offset + 8:offset + 8 + size]
            assert len(data) == size, "the data chunk is shorter than its header says"
            return data
        offset += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


@pytest.fixture(scope="module")
def gateway(start_gateway, openai_plugin):
    # Rendering a 4,096-character part with espeak-ng takes seconds on a busy machine, so the
    # emulator's first byte comes late; this is not a speed check.
    return start_gateway([openai_plugin], GatewaySettings(first_byte_timeout_ms=120_000, total_timeout_ms=300_000))


def direct_from_emulator(emulator, text, response_format):
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    response = rawhttp.post_json(emulator.url, "/v1/audio/speech", speech_body(input=text, response_format=response_format), headers)
    assert response.status == 200, response.describe()
    return response.body


def test_long_text_joins_wav(gateway, upstream, emulator):
    text = long_text(20_000)
    response = gateway.speech(speech_body(input=text, response_format="wav"), timeout=300)
    assert response.status == 200, response.describe()

    sent = in_text_order(text, [json.loads(entry["body"])["input"] for entry in upstream.speech_requests()])
    assert len(sent) >= 5, f"20,000 characters need at least 5 parts of 4,096, got {len(sent)}"
    assert all(len(part) <= MODEL_LIMIT for part in sent), [len(part) for part in sent]
    assert " ".join(sent).split() == text.split(), "the parts must carry every word, in order"
    assert all(part.endswith(".") for part in sent), "parts end at sentence boundaries"

    joined = wav_data(response.body)
    parts = b"".join(wav_data(direct_from_emulator(emulator, part, "wav")) for part in sent)
    assert joined == parts, "the joined audio is the parts' audio in order"
    info = probe(response.body, "wav")
    assert info.duration_s == pytest.approx(len(parts) / 48_000, abs=0.01)


def test_long_text_joins_mp3(gateway, upstream):
    text = long_text(9_000)
    response = gateway.speech(speech_body(input=text, response_format="mp3"), timeout=300)
    assert response.status == 200, response.describe()
    assert len(upstream.speech_requests()) == 3
    info = probe(response.body, "mp3")
    assert info.codec == "mp3", info.decode_errors
    assert info.decode_errors == ""
    # espeak-ng speaks about 2.4 words a second at its default rate.
    assert info.duration_s > len(text.split()) / 4


def test_long_text_refused_for_opus(gateway, upstream):
    response = gateway.speech(speech_body(input=long_text(5_000), response_format="opus"))
    assert response.status == 400, response.describe()
    assert response.error()["code"] == "string_above_max_length"
    assert upstream.speech_requests() == []


def test_text_over_gateway_limit(gateway, upstream):
    response = gateway.speech(speech_body(input="a" * 100_001))
    assert response.status == 400, response.describe()
    assert response.error()["code"] == "string_above_max_length"
    assert "long_text.max_characters" in response.error()["message"]
    assert upstream.speech_requests() == []
