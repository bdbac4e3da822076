#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, only what is
# missing: the real peers we test against (Chromium, aria2, opentracker,
# Transmission, libtorrent-rasterbar, rtorrent),
# iproute2 and nftables for the network-namespace lab (internal/netlab),
# Caddy and nginx for the reverse-proxy tests (server/internal/deploy),
# certutil (libnss3-tools) to make Chromium trust the NAT lab's test CA,
# ffmpeg to make test clips, Node.js, and the pinned npm packages (reference
# peers, axe-core and Lighthouse).
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
command -v caddy >/dev/null || need+=(caddy)
/usr/bin/python3 -c 'import feedparser' 2>/dev/null || need+=(python3-feedparser) # a real feed parser for the feed tests
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v certutil >/dev/null || need+=(libnss3-tools)
# The README walk-through (internal/readmetest) runs its curl and jq lines.
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
# Desktop clients the pod is tested against (internal/clientlab).
command -v transmission-remote >/dev/null || need+=(transmission-cli)
command -v transmission-daemon >/dev/null || need+=(transmission-daemon)
command -v rtorrent >/dev/null || need+=(rtorrent)
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || need+=(python3-libtorrent)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  # caddy and nginx ship services that would start on ports 80 and 443;
  # the tests run their own instances on free ports, so keep them stopped
  # (policy-rc.d, honoured by invoke-rc.d and deb-systemd-invoke), removing
  # the policy afterwards only if it is ours.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
  fi
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
