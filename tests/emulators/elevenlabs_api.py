"""The ElevenLabs API as the emulator serves it: models, voices, output formats, and the
checks a text-to-speech request must pass.

Facts come from ElevenLabs' OpenAPI spec (2025-08, the request body
`Body_Text_to_speech_v1_text_to_speech__voice_id__post` and the `output_format` enum), its
2026 Python SDK (the formats added since) and its models page (character limits).
Schema errors are FastAPI's 422
`{"detail": [{"type", "loc", "msg", "input"}]}`; errors the API raises itself are
`{"detail": {"status", "message"}}`.
"""

import json
import math
from urllib.parse import parse_qs

# model_id: (name, character limit, BCP 47 languages, credits per character)
V2_LANGUAGES = "en ja zh de hi fr ko pt it es id nl tr fil pl sv bg ro ar cs el fi hr ms sk da ta uk ru".split()
V2_5_LANGUAGES = V2_LANGUAGES + ["hu", "no", "vi"]
V3_LANGUAGES = (
    "af ar hy as az be bn bs bg ca ceb ny hr cs da nl en et fil fi fr gl ka de el gu ha he hi hu is id ga it ja jv "
    "kn kk ky ko lv ln lt lb mk ms ml zh mr ne no ps fa pl pt pa ro ru sr sd sk sl so es sw sv ta te th tr uk ur vi cy"
).split()
MODELS = {
    "eleven_v3": ("Eleven v3", 5_000, V3_LANGUAGES, 1.0),
    "eleven_multilingual_v2": ("Eleven Multilingual v2", 10_000, V2_LANGUAGES, 1.0),
    "eleven_flash_v2_5": ("Eleven Flash v2.5", 40_000, V2_5_LANGUAGES, 0.5),
    "eleven_turbo_v2_5": ("Eleven Turbo v2.5", 40_000, V2_5_LANGUAGES, 0.5),
    "eleven_flash_v2": ("Eleven Flash v2", 30_000, ["en"], 0.5),
    "eleven_turbo_v2": ("Eleven Turbo v2", 30_000, ["en"], 0.5),
    "eleven_multilingual_v1": ("Eleven Multilingual v1", 10_000, "en fr de hi it pl pt es".split(), 1.0),
    "eleven_monolingual_v1": ("Eleven English v1", 10_000, ["en"], 1.0),
}
DEFAULT_MODEL = "eleven_multilingual_v2"

# Premade voices: voice_id: (name, gender, accent, espeak-ng voice). Each gets its own
# espeak-ng variant, so that different voices give different audio.
PREMADE_VOICES = {
    "9BWtsMINqrJLrRacOk9x": ("Aria", "female", "american", "en-us+f1"),
    "CwhRBWXzGAHq8TQ4Fs17": ("Roger", "male", "american", "en-us+m1"),
    "EXAVITQu4vr4xnSDxMaL": ("Sarah", "female", "american", "en-us+f2"),
    "FGY2WhTYpPnrIDTdsKH5": ("Laura", "female", "american", "en-us+f3"),
    "IKne3meq5aSn9XLyUdCD": ("Charlie", "male", "australian", "en-us+m2"),
    "JBFqnCBsd6RMkjVDRZzb": ("George", "male", "british", "en-gb+m3"),
    "N2lVS1w4EtoT3dr4eOWO": ("Callum", "male", "transatlantic", "en-us+m4"),
    "SAz9YHcvj6GT2YYXdXww": ("River", "neutral", "american", "en-us+f4"),
    "TX3LPaxmHKxFdv7VOQHJ": ("Liam", "male", "american", "en-us+m5"),
    "XB0fDUnXU5powFXDhCwa": ("Charlotte", "female", "swedish", "en-gb+f1"),
    "Xb7hH8MSUJpSbSDYk0k2": ("Alice", "female", "british", "en-gb+f2"),
    "XrExE9yKIg1WjnnlVkGX": ("Matilda", "female", "american", "en-us+f5"),
    "bIHbv24MWmeRgasZH58o": ("Will", "male", "american", "en-us+m6"),
    "cgSgspJ2msm6clMCkdW9": ("Jessica", "female", "american", "en-us+f3"),
    "cjVigY5qzO86Huf0OWal": ("Eric", "male", "american", "en-us+m7"),
    "iP95p4xoKVk53GoZ742B": ("Chris", "male", "american", "en-us+m3"),
    "nPczCjzI2devNBz1zQrb": ("Brian", "male", "american", "en-us+m2"),
    "onwK4e9ZLuTAKqWW03F9": ("Daniel", "male", "british", "en-gb+m1"),
    "pFZP5JQG7iQjIQuC4Bku": ("Lily", "female", "british", "en-gb+f3"),
    "pqHfZKP75CvOlQylNhV4": ("Bill", "male", "american", "en-us+m1"),
    "21m00Tcm4TlvDq8ikWAM": ("Rachel", "female", "american", "en-us"),
    "pNInz6obpgDQGcFmaJgB": ("Adam", "male", "american", "en-us+m3"),
}
# A cloned voice that exists only in this emulated account, for tests of account voices.
CLONED_VOICES = {
    "vxgCloneTest00000001": ("Voxgate Test Clone", "female", "british", "en-gb+f4"),
}
ALL_VOICES = {**PREMADE_VOICES, **CLONED_VOICES}

# output_format values of the four endpoints: the 2025-08 spec enum, plus mp3_24000_48 and
# pcm_32000 from the 2026 SDK. wav_* exists only on the two endpoints without /stream.
STREAM_OUTPUT_FORMATS = (
    "mp3_22050_32", "mp3_24000_48", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96", "mp3_44100_128", "mp3_44100_192",
    "pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_32000", "pcm_44100", "pcm_48000",
    "ulaw_8000", "alaw_8000",
    "opus_48000_32", "opus_48000_64", "opus_48000_96", "opus_48000_128", "opus_48000_192",
)
WAV_OUTPUT_FORMATS = tuple(f"wav_{rate}" for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000))
WHOLE_CLIP_OUTPUT_FORMATS = STREAM_OUTPUT_FORMATS + WAV_OUTPUT_FORMATS
DEFAULT_OUTPUT_FORMAT = "mp3_44100_128"

# NOTE: ElevenLabs documents content types only for MP3 (`audio/mpeg`); the others are the
# registered or usual names for each encoding.
CONTENT_TYPES = {"mp3": "audio/mpeg", "pcm": "audio/pcm", "ulaw": "audio/basic", "alaw": "audio/alaw", "opus": "audio/ogg", "wav": "audio/wav"}

# Bounds of voice_settings: speed from ElevenLabs' WebSocket schema, the others the 0 to 1 of
# its sliders.
VOICE_SETTING_BOUNDS = {"stability": (0.0, 1.0), "similarity_boost": (0.0, 1.0), "style": (0.0, 1.0), "speed": (0.7, 1.2)}
MAX_SEED = 4_294_967_295
MAX_REQUEST_IDS = 3
MAX_DICTIONARY_LOCATORS = 3
TEXT_NORMALIZATION = ("auto", "on", "off")
STRING_FIELDS = ("text", "model_id", "language_code", "previous_text", "next_text")
BOOLEAN_FIELDS = ("use_pvc_as_ivc", "apply_language_text_normalization")


class ValidationFailed(Exception):
    """A request FastAPI rejects with 422; `errors` is the `detail` list."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class ApiError(Exception):
    """An error ElevenLabs raises itself: `{"detail": {"status", "message"}}`."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self):
        return {"detail": {"status": self.code, "message": self.message}}


def error_item(type, loc, msg, input, ctx=None):
    item = {"type": type, "loc": list(loc), "msg": msg, "input": input}
    if ctx is not None:
        item["ctx"] = ctx
    return item


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def parse_query(query, allowed_formats):
    """Return (output_format, errors) for the query string."""
    params = {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}
    errors = []

    output_format = params.get("output_format", DEFAULT_OUTPUT_FORMAT)
    if output_format not in allowed_formats:
        expected = ", ".join(f"'{name}'" for name in allowed_formats[:-1]) + f" or '{allowed_formats[-1]}'"
        errors.append(error_item("enum", ("query", "output_format"), f"Input should be {expected}", output_format, {"expected": expected}))

    if "optimize_streaming_latency" in params:
        try:
            int(params["optimize_streaming_latency"])
        except ValueError:
            errors.append(error_item("int_parsing", ("query", "optimize_streaming_latency"), "Input should be a valid integer, unable to parse string as an integer", params["optimize_streaming_latency"]))
    if "enable_logging" in params and params["enable_logging"].lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        errors.append(error_item("bool_parsing", ("query", "enable_logging"), "Input should be a valid boolean, unable to interpret input", params["enable_logging"]))

    return output_format, errors


def parse_body(body):
    """Return (fields, errors) for the JSON body, checked against the spec's schema."""
    try:
        fields = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as error:
        return None, [error_item("json_invalid", ("body", 0), "JSON decode error", {}, {"error": str(error)})]
    if not isinstance(fields, dict):
        return None, [error_item("model_attributes_type", ("body",), "Input should be a valid dictionary or object to extract fields from", fields)]

    errors = []
    if "text" not in fields:
        errors.append(error_item("missing", ("body", "text"), "Field required", fields))
    for name in STRING_FIELDS:
        value = fields.get(name)
        # Only `text` and `model_id` are non-nullable.
        if name in fields and not isinstance(value, str) and not (value is None and name not in ("text", "model_id")):
            errors.append(error_item("string_type", ("body", name), "Input should be a valid string", value))
    for name in BOOLEAN_FIELDS:
        if name in fields and not isinstance(fields[name], bool):
            errors.append(error_item("bool_type", ("body", name), "Input should be a valid boolean", fields[name]))

    errors += _check_voice_settings(fields.get("voice_settings"))
    errors += _check_seed(fields.get("seed"))
    for name in ("previous_request_ids", "next_request_ids"):
        errors += _check_string_list(name, fields.get(name), MAX_REQUEST_IDS)
    errors += _check_locators(fields.get("pronunciation_dictionary_locators"))
    normalization = fields.get("apply_text_normalization", "auto")
    if normalization not in TEXT_NORMALIZATION:
        errors.append(error_item("enum", ("body", "apply_text_normalization"), "Input should be 'auto', 'on' or 'off'", normalization, {"expected": "'auto', 'on' or 'off'"}))

    return fields, errors


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_voice_settings(settings):
    if settings is None:
        return []
    if not isinstance(settings, dict):
        return [error_item("model_attributes_type", ("body", "voice_settings"), "Input should be a valid dictionary or object to extract fields from", settings)]

    errors = []
    for name, (low, high) in VOICE_SETTING_BOUNDS.items():
        value = settings.get(name)
        loc = ("body", "voice_settings", name)
        if value is None:
            continue
        if not _is_number(value):
            errors.append(error_item("float_type", loc, "Input should be a valid number", value))
        elif value < low:
            errors.append(error_item("greater_than_equal", loc, f"Input should be greater than or equal to {low:g}", value, {"ge": low}))
        elif value > high:
            errors.append(error_item("less_than_equal", loc, f"Input should be less than or equal to {high:g}", value, {"le": high}))
    boost = settings.get("use_speaker_boost")
    if boost is not None and not isinstance(boost, bool):
        errors.append(error_item("bool_type", ("body", "voice_settings", "use_speaker_boost"), "Input should be a valid boolean", boost))
    return errors


def _check_seed(seed):
    loc = ("body", "seed")
    if seed is None:
        return []
    if isinstance(seed, bool) or not isinstance(seed, int):
        return [error_item("int_type", loc, "Input should be a valid integer", seed)]
    if seed < 0:
        return [error_item("greater_than_equal", loc, "Input should be greater than or equal to 0", seed, {"ge": 0})]
    if seed > MAX_SEED:
        return [error_item("less_than_equal", loc, f"Input should be less than or equal to {MAX_SEED}", seed, {"le": MAX_SEED})]
    return []


def _check_string_list(name, value, limit):
    loc = ("body", name)
    if value is None:
        return []
    if not isinstance(value, list):
        return [error_item("list_type", loc, "Input should be a valid list", value)]
    errors = [error_item("string_type", (*loc, index), "Input should be a valid string", item) for index, item in enumerate(value) if not isinstance(item, str)]
    if len(value) > limit:
        errors.append(error_item("too_long", loc, f"List should have at most {limit} items after validation, not {len(value)}", value, {"field_type": "List", "max_length": limit, "actual_length": len(value)}))
    return errors


def _check_locators(locators):
    loc = ("body", "pronunciation_dictionary_locators")
    if locators is None:
        return []
    if not isinstance(locators, list):
        return [error_item("list_type", loc, "Input should be a valid list", locators)]
    errors = []
    for index, locator in enumerate(locators):
        if not isinstance(locator, dict) or not isinstance(locator.get("pronunciation_dictionary_id"), str):
            errors.append(error_item("missing", (*loc, index, "pronunciation_dictionary_id"), "Field required", locator))
    if len(locators) > MAX_DICTIONARY_LOCATORS:
        errors.append(error_item("too_long", loc, f"List should have at most {MAX_DICTIONARY_LOCATORS} items after validation, not {len(locators)}", locators))
    return errors


def validate_tts_request(voice_id, query, body, allowed_formats):
    """Check a text-to-speech request the way ElevenLabs does, in its order.

    Returns the request's fields with `output_format`, `model_id`, `espeak_voice` and
    `speed` resolved. Raises ValidationFailed for schema errors (query and body together, as
    FastAPI reports them), then ApiError for what the API itself checks: the voice, the
    model, and the text against the model's limit.
    """
    output_format, errors = parse_query(query, allowed_formats)
    fields, body_errors = parse_body(body)
    errors += body_errors
    if errors:
        raise ValidationFailed(errors)

    voice = ALL_VOICES.get(voice_id)
    if voice is None:
        # 404 since 2025 (a maintainer's example in elevenlabs-docs PR #1317); 400 before.
        raise ApiError(404, "voice_not_found", f"A voice with the voice_id {voice_id} was not found.")

    model_id = fields.get("model_id") or DEFAULT_MODEL
    model = MODELS.get(model_id)
    if model is None:
        # NOTE: the status code of an unknown model is not documented.
        raise ApiError(400, "model_not_found", f"A model with model ID {model_id} does not exist.")

    text = fields["text"]
    limit = model[1]
    if len(text) > limit:
        raise ApiError(400, "max_character_limit_exceeded", f"You are sending {len(text)} characters, but the model {model_id} accepts at most {limit} characters per request.")
    if not text.strip():
        # NOTE: the code for empty text is not documented either.
        raise ApiError(400, "invalid_text", "The text is empty; send at least one character to speak.")

    settings = fields.get("voice_settings") or {}
    return {
        **fields,
        "model_id": model_id,
        "output_format": output_format,
        "espeak_voice": voice[3],
        "speed": float(settings.get("speed") or 1.0),
    }


def character_cost(text, model_id):
    """Characters billed, as the `character-cost` header states: half for Flash and Turbo."""
    factor = MODELS[model_id][3]
    return max(1, math.ceil(len(text) * factor))


def voice_object(voice_id):
    """One `Voice` of `GET /v1/voices`, with the fields the spec requires."""
    name, gender, accent, _ = ALL_VOICES[voice_id]
    category = "premade" if voice_id in PREMADE_VOICES else "cloned"
    return {
        "voice_id": voice_id,
        "name": name,
        "category": category,
        "labels": {"gender": gender, "accent": accent},
        "description": None,
        "preview_url": None,
        "available_for_tiers": [],
        "settings": None,
        "high_quality_base_model_ids": ["eleven_multilingual_v2", "eleven_turbo_v2_5", "eleven_flash_v2_5"],
        "is_owner": category != "premade",
        "is_legacy": False,
        "is_mixed": False,
    }


def model_object(model_id):
    """One model of `GET /v1/models`, with the fields the spec requires."""
    name, limit, languages, factor = MODELS[model_id]
    return {
        "model_id": model_id,
        "name": name,
        "can_be_finetuned": model_id != "eleven_v3",
        "can_do_text_to_speech": True,
        "can_do_voice_conversion": False,
        "can_use_style": True,
        "can_use_speaker_boost": True,
        "serves_pro_voices": False,
        "token_cost_factor": factor,
        "description": f"{name}, emulated.",
        "requires_alpha_access": False,
        "max_characters_request_free_user": min(limit, 2_500),
        "max_characters_request_subscribed_user": limit,
        "maximum_text_length_per_request": limit,
        "languages": [{"language_id": tag, "name": tag} for tag in languages],
        "model_rates": {"character_cost_multiplier": factor},
        "concurrency_group": "turbo" if factor < 1 else "standard",
    }
