"""The fal text-to-speech apps the fal emulator serves: input schemas, validation, voices, output.

fal's apps are FastAPI services with pydantic models, so an invalid input gets HTTP 422 with
`{"detail": [{"type", "loc", "msg", "input", "ctx"?}, ...]}`, every error listed, in
pydantic v2's lax mode (a numeric string is a number). Fields and voice lists follow the
generated endpoint types of fal's JS client (fal-ai/fal-js `libs/client/src/types/endpoints.ts`
at 381105e1); Kokoro's limits and output follow fal's published Kokoro app
(fal-ai-community/fal_demos `fal_demos/tts/kokoro.py`).
"""

import hashlib
from dataclasses import dataclass, field

# Kokoro's published app rejects prompts of 20 000 characters or more, through fal's
# FieldException, which renders as one 422 item of type `value_error`.
KOKORO_MAX_PROMPT = 20000

KOKORO_VOICES = {
    "american-english": ("en-us", ("af_heart", "af_alloy", "af_aoede", "af_bella", "af_jessica", "af_kore", "af_nicole", "af_nova", "af_river", "af_sarah", "af_sky", "am_adam", "am_echo", "am_eric", "am_fenrir", "am_liam", "am_michael", "am_onyx", "am_puck", "am_santa")),
    "british-english": ("en-gb", ("bf_alice", "bf_emma", "bf_isabella", "bf_lily", "bm_daniel", "bm_fable", "bm_george", "bm_lewis")),
    "spanish": ("es", ("ef_dora", "em_alex", "em_santa")),
    # NOTE: the current client types French `voice` as any string, so any string is accepted.
    "french": ("fr-fr", None),
    "hindi": ("hi", ("hf_alpha", "hf_beta", "hm_omega", "hm_psi")),
    "italian": ("it", ("if_sara", "im_nicola")),
    "japanese": ("ja", ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")),
    "brazilian-portuguese": ("pt-br", ("pf_dora", "pm_alex", "pm_santa")),
    "mandarin-chinese": ("cmn", ("zf_xiaobei", "zf_xiaoni", "zf_xiaoxiao", "zf_xiaoyi", "zm_yunjian", "zm_yunxi", "zm_yunxia", "zm_yunyang")),
}

# `Rachel` is the TTS apps' default; the rest is the voice enum of fal's ElevenLabs-backed
# avatar app. NOTE: which names the TTS apps accept beyond these is not documented.
ELEVENLABS_VOICES = ("Rachel", "Aria", "Roger", "Sarah", "Laura", "Charlie", "George", "Callum", "River", "Liam", "Charlotte", "Alice", "Matilda", "Will", "Jessica", "Eric", "Chris", "Brian", "Daniel", "Lily", "Bill")

# ElevenLabs' own per-request limits for the two models. NOTE: how fal's wrapper reports an
# over-long text is not documented, so the emulator responds as a pydantic max_length would.
ELEVENLABS_MAX_TEXT = {"multilingual-v2": 10000, "turbo-v2.5": 40000}


@dataclass(frozen=True)
class Field:
    """One input field as pydantic would declare it."""

    name: str
    kind: str  # "str", "float", "bool" or "literal"
    required: bool = False
    default: object = None
    choices: tuple = ()
    ge: float = None
    le: float = None
    max_length: int = None


@dataclass(frozen=True)
class Output:
    """The file an app returns: the output key, the container, the content type and the encoding."""

    key: str
    format: str
    content_type: str
    sample_rate: int
    # ffmpeg output arguments after `-ac 1 -ar RATE`.
    ffmpeg_args: tuple = ()


WAV_24K = Output("audio", "wav", "audio/wav", 24000, ("-c:a", "pcm_s16le", "-f", "wav"))
# F5-TTS's output key is `audio_url`, whose value is a file object like the others.
F5_WAV_24K = Output("audio_url", "wav", "audio/wav", 24000, ("-c:a", "pcm_s16le", "-f", "wav"))
# ElevenLabs' default output format, mp3_44100_128.
MP3_44K = Output("audio", "mp3", "audio/mpeg", 44100, ("-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"))


@dataclass
class App:
    """One fal app: its endpoint id, schema, text field, voices and output."""

    endpoint_id: str
    family: str
    fields: list
    text_field: str
    output: Output
    espeak_language: str = "en-us"
    voices: tuple = None
    extra: dict = field(default_factory=dict)


class ValidationFailed(Exception):
    """An input fal's app would reject with 422; `items` is the `detail` list."""

    def __init__(self, items):
        super().__init__(items)
        self.items = items


def build_apps():
    apps = {}
    for language, (espeak_language, voices) in KOKORO_VOICES.items():
        endpoint_id = f"fal-ai/kokoro/{language}"
        american = language == "american-english"
        voice_field = Field("voice", "literal", not american, "af_heart" if american else None, voices) if voices else Field("voice", "str", True)
        fields = [
            # Only American English defaults `prompt` to "" and `voice` to af_heart.
            Field("prompt", "str", not american, "" if american else None),
            voice_field,
            Field("speed", "float", False, 1.0, ge=0.1, le=5.0),
        ]
        if american:
            fields.append(Field("text", "str", False, ""))
        apps[endpoint_id] = App(endpoint_id, "kokoro", fields, "prompt", WAV_24K, espeak_language, voices)

    apps["fal-ai/f5-tts"] = App(
        "fal-ai/f5-tts",
        "f5",
        [
            Field("gen_text", "str", True, max_length=5000),
            Field("ref_audio_url", "str", True),
            Field("ref_text", "str", False, ""),
            Field("model_type", "literal", True, choices=("F5-TTS", "E2-TTS")),
            Field("remove_silence", "bool", False, True),
        ],
        "gen_text",
        F5_WAV_24K,
    )

    for variant, max_text in ELEVENLABS_MAX_TEXT.items():
        endpoint_id = f"fal-ai/elevenlabs/tts/{variant}"
        apps[endpoint_id] = App(
            endpoint_id,
            "elevenlabs",
            [
                Field("text", "str", True, max_length=max_text),
                Field("voice", "str", False, "Rachel"),
                Field("stability", "float", False, 0.5, ge=0.0, le=1.0),
                Field("similarity_boost", "float", False, 0.75, ge=0.0, le=1.0),
                Field("style", "float", False, None, ge=0.0, le=1.0),
                Field("speed", "float", False, 1.0, ge=0.7, le=1.2),
                Field("timestamps", "bool", False, False),
                Field("language_code", "str"),
                Field("previous_text", "str"),
                Field("next_text", "str"),
                Field("apply_text_normalization", "literal", False, "auto", ("auto", "on", "off")),
            ],
            "text",
            MP3_44K,
            voices=ELEVENLABS_VOICES,
        )
    return apps


APPS = build_apps()


def validate_input(app, body):
    """Return the app's input with defaults filled in, or raise ValidationFailed with every error."""
    if not isinstance(body, dict):
        raise ValidationFailed([{
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": body,
        }])

    values = {}
    errors = []
    for spec in app.fields:
        if spec.name not in body or body[spec.name] is None and not spec.required:
            if spec.required:
                errors.append({"type": "missing", "loc": ["body", spec.name], "msg": "Field required", "input": body})
            elif spec.default is not None:
                values[spec.name] = spec.default
            continue
        try:
            values[spec.name] = check_field(spec, body[spec.name])
        except ValidationFailed as failed:
            errors.extend(failed.items)

    if not errors:
        errors = app_checks(app, values)
    if errors:
        raise ValidationFailed(errors)
    return values


def check_field(spec, value):
    """Return `value` converted as pydantic's lax mode would, or raise ValidationFailed."""
    loc = ["body", spec.name]

    def fail(kind, message, ctx=None):
        item = {"type": kind, "loc": loc, "msg": message, "input": value}
        if ctx is not None:
            item["ctx"] = ctx
        raise ValidationFailed([item])

    if spec.kind == "literal":
        if value not in spec.choices:
            expected = literal_list(spec.choices)
            fail("literal_error", f"Input should be {expected}", {"expected": expected})
        return value

    if spec.kind == "str":
        if not isinstance(value, str):
            fail("string_type", "Input should be a valid string")
        if spec.max_length is not None and len(value) > spec.max_length:
            fail("string_too_long", f"String should have at most {spec.max_length} characters", {"max_length": spec.max_length})
        return value

    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        lax = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False, "1": True, "0": False, "t": True, "f": False, "y": True, "n": False}
        if isinstance(value, str) and value.strip().lower() in lax:
            return lax[value.strip().lower()]
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, (str, int, float)):
            fail("bool_parsing", "Input should be a valid boolean, unable to interpret input")
        fail("bool_type", "Input should be a valid boolean")

    # kind == "float"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        fail("float_type", "Input should be a valid number")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        fail("float_parsing", "Input should be a valid number, unable to parse string as a number")
    if spec.ge is not None and number < spec.ge:
        fail("greater_than_equal", f"Input should be greater than or equal to {spec.ge:g}", {"ge": spec.ge})
    if spec.le is not None and number > spec.le:
        fail("less_than_equal", f"Input should be less than or equal to {spec.le:g}", {"le": spec.le})
    return number


def app_checks(app, values):
    """Return the errors an app's own code raises after pydantic accepted the input."""
    errors = []
    if app.family == "kokoro":
        prompt = values.get("prompt") or values.get("text") or ""
        if len(prompt) >= KOKORO_MAX_PROMPT:
            errors.append(value_error("prompt", f"Prompt must be less than {KOKORO_MAX_PROMPT} characters.", prompt))
        elif not prompt.strip():
            # NOTE: fal's app has no check for an empty prompt and would fail inside Kokoro;
            # the emulator reports it as the input error it is.
            errors.append(value_error("prompt", "Prompt must not be empty.", prompt))
    elif app.family == "f5":
        url = values["ref_audio_url"]
        if not url.startswith(("http://", "https://", "data:")):
            errors.append(value_error("ref_audio_url", "Input should be a valid URL or data URI.", url))
    elif app.family == "elevenlabs" and values["voice"] not in app.voices:
        # NOTE: the wording of fal's response to an unknown voice name is not documented.
        errors.append(value_error("voice", f"Voice '{values['voice']}' was not found. Available voices: {', '.join(app.voices)}.", values["voice"]))
    return errors


def value_error(name, message, value):
    return {"type": "value_error", "loc": ["body", name], "msg": message, "input": value}


def literal_list(choices):
    """Write choices the way pydantic's literal_error does: 'a', 'b' or 'c'."""
    quoted = [f"'{choice}'" for choice in choices]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def speech_plan(app, values):
    """Return (text, espeak voice, speed) for rendering a validated input."""
    text = values.get(app.text_field) or values.get("text") or ""
    speed = float(values.get("speed", 1.0))

    if app.family == "kokoro":
        voice = values["voice"]
        voices = app.voices or (voice,)
        index = voices.index(voice) if voice in voices else 0
        gender = "m" if voice[1:2] == "m" else "f"
        return text, f"{app.espeak_language}+{gender}{index % 5 + 1}", speed
    if app.family == "f5":
        # A cloned voice: the same reference clip always gives the same espeak-ng variant.
        digest = hashlib.sha256(values["ref_audio_url"].encode("utf-8")).digest()
        return text, f"en-us+f{digest[0] % 5 + 1}", 1.0
    index = app.voices.index(values["voice"])
    return text, f"en-us+{'mf'[index % 2]}{index % 5 + 1}", speed
