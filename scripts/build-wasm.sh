#!/usr/bin/env bash
# Builds the browser peer: web/static/client.wasm (+ .gz, and .br when the
# brotli tool is installed) and copies the toolchain's wasm_exec.js next to
# it. Usage: scripts/build-wasm.sh [outdir]   (default web/static)
#
# The Go build is cached and reproducible (-trimpath), so it is always run;
# the compression (brotli -q 11 takes ~25 s) runs only when the wasm's bytes
# changed, so `make build` with nothing changed does nothing costly.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-web/static}"
mkdir -p "$out"
# Every output is written under a name of its own and renamed into place,
# so two builds at once (a second `make run LISTEN=…` started beside the
# first) neither remove each other's files nor let `go build` embed a
# half-written one.
tmp="$(mktemp "$out/client.wasm.XXXXXX")"
trap 'rm -f "$tmp" "$tmp.gz" "$tmp.br" "$tmp.js"' EXIT
GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o "$tmp" ./wasm/cmd/client
chmod 0644 "$tmp" # mktemp's 0600 would pass to the copies brotli makes
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$tmp.js" && mv -f "$tmp.js" "$out/wasm_exec.js"
want_br=0
command -v brotli >/dev/null && want_br=1
if cmp -s "$tmp" "$out/client.wasm" && [ -f "$out/client.wasm.gz" ] &&
	{ [ "$want_br" = 0 ] || [ -f "$out/client.wasm.br" ]; }; then
	echo "client.wasm is up to date"
	exit 0
fi
gzip -9 -n -c "$tmp" >"$tmp.gz"
if [ "$want_br" = 1 ]; then
	brotli -q 11 -f -o "$tmp.br" "$tmp"
	mv -f "$tmp.br" "$out/client.wasm.br"
fi
mv -f "$tmp.gz" "$out/client.wasm.gz"
mv -f "$tmp" "$out/client.wasm"
ls -l "$out"/client.wasm*
