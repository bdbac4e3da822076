#!/usr/bin/env bash
# Browser peer benchmarks (results go to BENCHMARKS.md via
# /work/notes/BENCH-wasm.md): wasm size, SHA-1 verification throughput in
# Chromium, start-up time (our engine vs plain HTTP <video> vs JS
# webtorrent, same run) and server offload with N viewers.
#
# usage: scripts/bench/wasm.sh [viewers=8] [runs=3]
# needs: go, chromium, ffmpeg, node + scripts/node/node_modules
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT=$(mktemp -d /tmp/wasmbench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
scripts/build-wasm.sh "$OUT" >/dev/null
go run ./scripts/bench/wasmbench -root "$ROOT" -wasm "$OUT" -viewers "${1:-8}" -runs "${2:-3}"
