"""Start the OpenAI emulator and a gateway that uses it, for `make demo`.

Speech then works with no provider key and no internet: the voice is espeak-ng rendered
by the local emulator, not OpenAI's.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEMO_KEY = "sk-demo-local-emulator"
GATEWAY_ADDRESS = os.environ.get("VOXGATE_DEMO_LISTEN", "127.0.0.1:8787")


def read_address(process: subprocess.Popen, name: str) -> str:
    line = process.stdout.readline().strip()
    prefix = "listening on "
    if not line.startswith(prefix):
        process.kill()
        sys.exit(f"{name} did not start (first output line: {line!r})")
    return line[len(prefix):]


def main() -> None:
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="voxgate-demo-"))
    emulator = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/emulators/openai_emulator.py"),
         "--host", "127.0.0.1", "--port", "0", "--api-key", DEMO_KEY],
        stdout=subprocess.PIPE, text=True,
    )
    emulator_url = read_address(emulator, "the OpenAI emulator")

    config = workdir / "voxgate.toml"
    config.write_text(
        f'[server]\nlisten = "{GATEWAY_ADDRESS}"\n\n'
        f'[plugins]\ndir = "{ROOT / "target/plugins"}"\ncache_dir = "{ROOT / "target/voxgate-cache/compiled"}"\n\n'
        f'[providers.openai]\nsettings = {{ base-url = "{emulator_url}" }}\n'
        f'secrets = {{ api-key = {{ env = "VOXGATE_DEMO_OPENAI_KEY" }} }}\n'
    )
    gateway = subprocess.Popen(
        [str(ROOT / "target/debug/voxgate"), "--config", str(config), "serve"],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "VOXGATE_DEMO_OPENAI_KEY": DEMO_KEY},
    )
    gateway_url = read_address(gateway, "the gateway")

    print(f"""
voxgate demo: gateway at {gateway_url}, OpenAI emulator at {emulator_url}.
The voice comes from espeak-ng inside the local emulator, not from OpenAI.

  curl -s {gateway_url}/v1/audio/speech -H 'content-type: application/json' \\
    -d '{{"model":"tts-1","voice":"alloy","input":"Hello from voxgate."}}' -o hello.mp3

Press Ctrl-C to stop.""", flush=True)

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        gateway.wait()
    except KeyboardInterrupt:
        pass
    finally:
        # A terminal sends Ctrl-C to the children too; a second signal must not cut the
        # cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all((gateway, emulator))
        shutil.rmtree(workdir, ignore_errors=True)


def stop_all(processes) -> None:
    """Ask each process to stop, and kill the ones still running after 10 seconds."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
