#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, only what is
# missing: the real peers we test against (Chromium, aria2, opentracker),
# iproute2 and nftables for the network-namespace lab (internal/netlab),
# ffmpeg to make test clips, Node.js, and the pinned npm reference peers.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v aria2c >/dev/null || need+=(aria2)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v opentracker >/dev/null || need+=(opentracker)
command -v brotli >/dev/null || need+=(brotli)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --ignore-scripts: the optional native WebRTC addon (node-datachannel)
# downloads a prebuilt binary from outside the registries; the tests only
# need the tracker server and the browser bundle, which have no addon.
lock=scripts/node/package-lock.json
stamp=scripts/node/node_modules/.installed-lock
if ! cmp -s "$lock" "$stamp" 2>/dev/null; then
  (cd scripts/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$lock" "$stamp"
fi
