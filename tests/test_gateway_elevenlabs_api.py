"""The gateway's ElevenLabs-compatible API, driven by ElevenLabs' official Python SDK.

The gateway loads the OpenAI plugin (in front of the OpenAI emulator) and the `test-tone`
plugin, which times every character. So these tests show that any provider can answer
ElevenLabs' routes: a voice id picks the provider that offers it, and errors come back in
ElevenLabs' `{"detail": ...}` shape.
"""

import base64
import json

import pytest
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError

from support import rawhttp
from support.audio import probe

NO_RETRIES = {"max_retries": 0}


@pytest.fixture(scope="module")
def gateway(start_gateway, openai_plugin, test_plugins):
    return start_gateway([openai_plugin, test_plugins["test-tone"]])


@pytest.fixture(scope="module")
def client(gateway):
    # The SDK adds /v1 itself, so the base URL is the gateway's origin.
    return ElevenLabs(base_url=gateway.url, api_key="xi-client-key")


def test_voices_list_every_provider(client):
    voices = {voice.voice_id: voice for voice in client.voices.get_all().voices}
    assert "alloy" in voices, f"OpenAI voice missing from {sorted(voices)}"
    assert "test" in voices, f"test-tone voice missing from {sorted(voices)}"
    assert voices["alloy"].labels["provider"] == "openai"


def test_voices_v2_page(client):
    page = client.voices.search(page_size=10)
    assert page.has_more is False
    assert page.total_count == len(page.voices)


def test_models_bare_array(client):
    model_ids = [model.model_id for model in client.models.list()]
    assert "tts-1" in model_ids
    assert "test" in model_ids


def test_models_openai_shape_with_bearer(gateway):
    response = rawhttp.request(gateway.url, "GET", "/v1/models", headers={"Authorization": "Bearer sk-x"})
    assert response.status == 200
    value = response.json()
    assert value["object"] == "list"
    assert "openai:tts-1" in [model["id"] for model in value["data"]]


def test_convert_through_openai(client, upstream):
    audio = b"".join(
        client.text_to_speech.convert(
            voice_id="alloy", text="Hello from the ElevenLabs SDK.", model_id="tts-1", output_format="mp3_44100_128"
        )
    )
    info = probe(audio, "mp3")
    assert info.codec == "mp3", info.decode_errors
    assert info.duration_s > 0.5

    sent = upstream.speech_requests()
    assert len(sent) == 1, sent
    body = json.loads(sent[0]["body"])
    assert body["voice"] == "alloy"
    assert body["input"] == "Hello from the ElevenLabs SDK."


def test_stream_pcm_through_openai(client):
    audio = b"".join(client.text_to_speech.stream(voice_id="nova", text="Streaming hello.", output_format="pcm_24000"))
    info = probe(audio, "pcm")
    assert info.duration_s > 0.3, info.decode_errors
    assert len(audio) % 2 == 0, "16-bit PCM must have an even length"


def test_voice_picks_provider(client, gateway):
    # No model_id: the voice `test` belongs to test-tone alone.
    response = client.text_to_speech.with_raw_response.convert(voice_id="test", text="Tone.", output_format="wav_24000")
    with response as raw:
        audio = b"".join(raw.data)
        provider = raw.headers.get("x-voxgate-provider")
    assert provider == "test-tone"
    assert audio[:4] == b"RIFF"


def test_timestamps_have_alignment(client):
    text = "Time me."
    result = client.text_to_speech.convert_with_timestamps(voice_id="test", text=text, output_format="wav_24000")
    audio = base64.b64decode(result.audio_base_64)
    assert audio[:4] == b"RIFF"
    alignment = result.alignment
    assert alignment is not None, "test-tone times characters, so alignment must be present"
    assert "".join(alignment.characters) == text
    starts = alignment.character_start_times_seconds
    ends = alignment.character_end_times_seconds
    assert len(starts) == len(text)
    assert all(start < end for start, end in zip(starts, ends)), list(zip(starts, ends))
    assert starts == sorted(starts)


def test_timestamps_null_without_provider_support(client):
    result = client.text_to_speech.convert_with_timestamps(voice_id="alloy", text="No timing here.", model_id="tts-1")
    assert result.alignment is None
    assert base64.b64decode(result.audio_base_64)[:2] == b"\xff\xf3"


def test_stream_with_timestamps_lines(client):
    chunks = list(client.text_to_speech.stream_with_timestamps(voice_id="test", text="Lines.", output_format="pcm_24000"))
    assert chunks, "expected at least one JSON line"
    audio = b"".join(base64.b64decode(chunk.audio_base_64) for chunk in chunks)
    # test-tone speaks 60 ms per character: 6 characters at 24 kHz, 16-bit.
    assert len(audio) == 6 * 0.060 * 24000 * 2


def test_unknown_voice_is_404(client, upstream):
    with pytest.raises(ApiError) as raised:
        b"".join(client.text_to_speech.convert(voice_id="nobody", text="x", request_options=NO_RETRIES))
    assert raised.value.status_code == 404
    assert raised.value.body["detail"]["status"] == "voice_not_found"
    message = raised.value.body["detail"]["message"]
    assert "any loaded provider" in message, "no single provider is blamed when no model narrows them"
    assert "openai" in message
    assert "test-tone" in message
    assert upstream.speech_requests() == []


def test_text_over_limit_is_400(client, upstream):
    with pytest.raises(ApiError) as raised:
        # Opus clips cannot be joined, so the text is not split and tts-1's limit applies.
        b"".join(
            client.text_to_speech.convert(
                voice_id="alloy", text="x" * 5000, model_id="tts-1", output_format="opus_48000_64", request_options=NO_RETRIES
            )
        )
    assert raised.value.status_code == 400
    assert raised.value.body["detail"]["status"] == "max_character_limit_exceeded"
    assert upstream.speech_requests() == []


def test_missing_text_is_422_array(gateway):
    response = rawhttp.post_json(gateway.url, "/v1/text-to-speech/alloy", {"model_id": "tts-1"})
    assert response.status == 422
    assert response.json()["detail"][0]["loc"] == ["body", "text"]


def test_bad_output_format_is_400(gateway):
    response = rawhttp.post_json(gateway.url, "/v1/text-to-speech/alloy?output_format=ogg_1", {"text": "x"})
    assert response.status == 400
    assert response.json()["detail"]["status"] == "invalid_value"


@pytest.mark.parametrize(
    "voice_path",
    ["..%2F..%2Fv1%2Fuser", "alloy%0D%0AX-Injected:%201", "alloy%3Fq=1", "a" * 1000],
)
def test_hostile_voice_id_rejected(gateway, upstream, voice_path):
    response = rawhttp.post_json(gateway.url, f"/v1/text-to-speech/{voice_path}", {"text": "x"})
    assert response.status in (400, 404), response.body
    assert response.json()["detail"]["status"] == "voice_not_found"
    assert upstream.requests() == []
