#!/usr/bin/env bash
# Builds the component with ComponentizeJS, the engine behind `jco componentize`: it wraps
# src/provider.js in the StarlingMonkey JavaScript engine. Every optional WASI feature is
# disabled. The component then imports no WASI interface at all, only the contract's types,
# so it passes the gateway's import check (the conformance kit prints the import list).
#
# NOTE: `jco componentize` 1.35.0 fails here before building anything ("failed to get path
# metadata", from the wasm-tools it runs to read the WIT), so this calls the
# componentize-js command directly, with the same options.
#
# Usage: ./build.sh [OUTPUT.wasm], after `npm ci` in this folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
output="$(realpath -m "${1:-$here/target/openai-js.wasm}")"
mkdir -p "$(dirname "$output")"
"$here/node_modules/.bin/componentize-js" "$here/src/provider.js" \
  --wit "$here/../../../wit" --world-name plugin \
  --disable stdio random clocks http fetch-event \
  -o "$output"
