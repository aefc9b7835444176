"""The conformance kit, `voxgate conformance PLUGIN.wasm`, run as plugin authors and CI run it.

Every first-party plugin in target/plugins must pass, and so must the plugin template. Each
deliberately broken test plugin must fail with a reason that names what it did wrong, and the
kit must end on its own (no hang) with exit status 1 (no crash). The JUnit and JSON reports
must agree with the summary.
"""

import json
import os
import subprocess
import warnings
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from conftest import REPO_ROOT, build_output

# Bounds one kit run, far above a normal run, so that it only catches a hang. A looping plugin
# costs the call budget (2 s) per case until the kit stops after 3 faults. A plugin that
# computes speech in the component takes longer per call.
KIT_TIMEOUT_S = 900

TEMPLATE = REPO_ROOT / "plugins/target/wasm32-wasip2/release/voxgate_template.wasm"
TEMPLATE_CASES = REPO_ROOT / "plugins/template/conformance"

# Configuration that some plugins need, passed as an operator would: the kit applies the
# configuration file's settings and limits, as the gateway does. Workers AI builds no request
# without an account id. The JavaScript plugin's engine needs more memory than the default to
# read a body as large as the host passes on (upstream.max_response_bytes).
PROVIDER_CONFIG = """
[providers.workers-ai.settings]
account-id = "0123456789abcdef0123456789abcdef"

[providers.openai-js.limits]
memory_limit_mib = 128
"""

# Cases that a first-party plugin fails today, by plugin, each with the reason. A listed case
# that passes gives a warning, so that the entry is removed with the fix, without failing a
# run in which another engineer lands the fix.
KNOWN_FAILURES = {
    "fal": {
        # fal's plugin classifies 409 as invalid-response; a conflict is transient.
        "generic/http-errors/409-conflict": "409 is classified as invalid-response",
        # F5-TTS clones a voice from a reference clip that only the caller can name, so the
        # plugin rejects a request without the `ref_audio_url` option.
        "generic/steps/every-model-format [fal-ai/f5-tts wav]": "F5-TTS needs the ref_audio_url option",
        "generic/text/max-length [fal-ai/f5-tts]": "F5-TTS needs the ref_audio_url option",
    },
}

# What each broken test plugin does wrong, and the text the kit's output must contain for it.
BROKEN_PLUGINS = {
    "test-trap": ["trapped", "unreachable instruction"],
    "test-loop": ["did not return within its time budget"],
    "test-alloc": ["ran out of memory"],
    "test-undeclared-host": ["host `evil.invalid` is not among the hosts the plugin declared", "carries secret `api-key`"],
    "test-forbidden-import": ["FAIL load", "wasi:filesystem"],
    "test-huge-output": ["the request body is 25165824 bytes", "the error message is 4194304 bytes"],
    "test-second-step-leak": ["fetch POST http://evil.invalid/collect", "carries secret `api-key`"],
}


def first_party_plugins():
    plugin_dir = build_output("VOXGATE_PLUGINS", "target/plugins")
    polyglot_dir = build_output("VOXGATE_POLYGLOT_PLUGINS", "target/polyglot")
    return sorted(plugin_dir.glob("*.wasm")) + sorted(polyglot_dir.glob("*.wasm"))


@pytest.fixture(scope="module")
def kit_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("conformance") / "voxgate.toml"
    path.write_text(PROVIDER_CONFIG)
    return path


@pytest.fixture(scope="module")
def run_kit(voxgate_bin, kit_config):
    """Return a function that runs the kit on a plugin with extra arguments."""

    def run(plugin, *args):
        environment = dict(os.environ, RUST_BACKTRACE="0", VOXGATE_LOG="warn")
        command = [str(voxgate_bin), "--config", str(kit_config), "conformance", str(plugin), *map(str, args)]
        return subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=KIT_TIMEOUT_S)

    return run


def counts(stdout):
    """Read the closing `N passed, N failed, N skipped` line."""
    last = stdout.strip().splitlines()[-1]
    passed, failed, skipped = (int(part.split()[0]) for part in last.split(", "))
    return passed, failed, skipped


def describe_run(result):
    return f"exit status {result.returncode}\nstdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr[-2000:]}"


def test_first_party_plugins_exist(openai_plugin):
    names = [path.name for path in first_party_plugins()]

    assert "openai.wasm" in names, f"target/plugins has no openai.wasm: {names}"


@pytest.mark.parametrize("plugin", first_party_plugins(), ids=lambda path: path.stem)
def test_first_party_plugin_passes(run_kit, plugin, tmp_path):
    report = tmp_path / "report.xml"

    result = run_kit(plugin, "--report", "junit", report)

    known = KNOWN_FAILURES.get(plugin.stem, {})
    failed_cases = {line[len("FAIL "):] for line in result.stdout.splitlines() if line.startswith("FAIL ")}
    unexpected = failed_cases - set(known)
    fixed = set(known) - failed_cases
    assert not unexpected, f"{plugin.name} failed {sorted(unexpected)}:\n{describe_run(result)}"
    if fixed:
        warnings.warn(f"{plugin.name} now passes {sorted(fixed)}; remove them from KNOWN_FAILURES")
    assert result.returncode == (1 if failed_cases else 0), describe_run(result)
    passed, _, _ = counts(result.stdout)
    assert passed > 20, f"only {passed} cases passed; were the generic cases found?\n{describe_run(result)}"
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite.get("failures") == str(len(failed_cases)), ElementTree.tostring(suite, encoding="unicode")[:3000]


def test_openai_runs_its_own_cases(run_kit, openai_plugin):
    result = run_kit(openai_plugin)

    assert result.returncode == 0, describe_run(result)
    assert "ok   openai/request-shape" in result.stdout, describe_run(result)
    assert "ok   openai/insufficient-quota" in result.stdout, describe_run(result)


def test_template_passes(run_kit):
    assert TEMPLATE.is_file(), f"{TEMPLATE} not found; run `make build` first"

    result = run_kit(TEMPLATE, "--cases", TEMPLATE_CASES)

    assert result.returncode == 0, describe_run(result)
    assert "ok   template/request-shape" in result.stdout, describe_run(result)


def test_tone_plugin_passes(run_kit, test_plugins):
    result = run_kit(test_plugins["test-tone"])

    assert result.returncode == 0, describe_run(result)
    _, _, skipped = counts(result.stdout)
    assert skipped > 0, f"upstream cases should be skipped for a plugin that sends no request:\n{describe_run(result)}"
    assert "not applicable: the plugin returns audio without sending a request" in result.stdout, describe_run(result)


@pytest.mark.parametrize("name", sorted(BROKEN_PLUGINS))
def test_broken_plugin_fails_clearly(run_kit, test_plugins, name, tmp_path):
    report = tmp_path / "report.json"

    result = run_kit(test_plugins[name], "--report", "json", report)

    assert result.returncode == 1, f"{name} should fail with exit status 1, not crash or pass:\n{describe_run(result)}"
    _, failed, _ = counts(result.stdout)
    assert failed > 0, describe_run(result)
    for fragment in BROKEN_PLUGINS[name]:
        assert fragment in result.stdout, f"{name}: the output does not say {fragment!r}:\n{describe_run(result)}"
    assert "conformance cases failed" in result.stderr, describe_run(result)
    data = json.loads(report.read_text())
    assert data["failed"] == failed, data["failed"]


def test_faulting_plugin_is_cut_short(run_kit, test_plugins):
    result = run_kit(test_plugins["test-loop"])

    assert "not run: the plugin already faulted in 3 cases" in result.stdout, describe_run(result)


def test_json_report_matches_summary(run_kit, openai_plugin, tmp_path):
    report = tmp_path / "openai.json"

    result = run_kit(openai_plugin, "--report", "json", report)

    data = json.loads(report.read_text())
    assert (data["passed"], data["failed"], data["skipped"]) == counts(result.stdout)
    assert data["plugin"]["id"] == "openai"
    assert len(data["plugin"]["sha256"]) == 64
    assert all(name.startswith(("wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/", "voxgate:provider/types")) for name in data["plugin"]["imports"]), data["plugin"]["imports"]
    statuses = {case["status"] for case in data["cases"]}
    assert statuses <= {"passed", "failed", "skipped"}, statuses
    names = [case["name"] for case in data["cases"]]
    assert "generic/http-errors/429-retry-after" in names, names
    assert any(name.startswith("generic/steps/every-model-format [gpt-4o-mini-tts") for name in names), names


def test_junit_report_names_failure(run_kit, test_plugins, tmp_path):
    report = tmp_path / "trap.xml"

    run_kit(test_plugins["test-trap"], "--report", "junit", report)

    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite.get("name") == "test-trap"
    failures = suite.findall("testcase/failure")
    assert failures, ElementTree.tostring(suite, encoding="unicode")[:3000]
    assert "trapped" in failures[0].get("message"), failures[0].get("message")


def test_invalid_case_file_is_named(run_kit, openai_plugin, tmp_path):
    cases = tmp_path / "mine"
    cases.mkdir()
    (cases / "broken.toml").write_text('description = "no expect table"\n')

    result = run_kit(openai_plugin, "--cases", cases)

    assert result.returncode == 1, describe_run(result)
    assert "broken.toml" in result.stdout, describe_run(result)
    assert "missing field `expect`" in result.stdout, describe_run(result)


def test_custom_case_checks_steps(run_kit, openai_plugin, tmp_path):
    cases = tmp_path / "mine"
    cases.mkdir()
    (cases / "wrong-path.toml").write_text(
        'description = "a deliberately wrong expectation"\n'
        '[expect]\noutcome = "unanswered"\n'
        '[[expect.steps]]\nkind = "stream"\npath = "/v2/speak"\n'
    )

    result = run_kit(openai_plugin, "--cases", cases, "--filter", "mine/")

    assert result.returncode == 1, describe_run(result)
    assert "FAIL mine/wrong-path" in result.stdout, describe_run(result)
    assert "expected path `/v2/speak`, got URL `https://api.openai.com/v1/audio/speech`" in result.stdout, describe_run(result)


def test_bad_report_format_is_rejected(run_kit, openai_plugin, tmp_path):
    result = run_kit(openai_plugin, "--report", "yaml", tmp_path / "x.yaml")

    assert result.returncode != 0
    assert "`junit` or `json`" in result.stderr, describe_run(result)
