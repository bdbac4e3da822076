#!/usr/bin/env bash
# Builds the browser peer: web/static/client.wasm (+ .gz, and .br when the
# brotli tool is installed) and copies the toolchain's wasm_exec.js next to
# it. Usage: scripts/build-wasm.sh [outdir]   (default web/static)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-web/static}"
mkdir -p "$out"
GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o "$out/client.wasm" ./wasm/cmd/client
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$out/wasm_exec.js"
gzip -9 -n -k -f "$out/client.wasm"
if command -v brotli >/dev/null; then
	brotli -q 11 -f -o "$out/client.wasm.br" "$out/client.wasm"
fi
ls -l "$out"/client.wasm*
