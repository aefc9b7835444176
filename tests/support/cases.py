"""Data-driven test cases: one JSON file per case under tests/cases/, described in its README."""

import base64
import json
from pathlib import Path

import pytest

CASES_DIR = Path(__file__).resolve().parents[1] / "cases"


def load_cases(relative_dir):
    """Return one pytest.param per JSON file in tests/cases/`relative_dir`, with the file stem as its id."""
    directory = CASES_DIR / relative_dir
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no *.json case files in {directory}")
    return [pytest.param(json.loads(path.read_text(encoding="utf-8")), id=path.stem) for path in paths]


def request_body(case):
    """Return the bytes a case sends as its request body."""
    if "raw_body" in case:
        return case["raw_body"].encode("utf-8")
    if "raw_body_base64" in case:
        return base64.b64decode(case["raw_body_base64"])

    request = dict(case["request"])
    # Long strings are generated, so that the case files stay small and readable.
    if "input_characters" in case:
        request["input"] = "a" * case["input_characters"]
    if "instructions_characters" in case:
        request["instructions"] = "a" * case["instructions_characters"]
    return json.dumps(request).encode("utf-8")
