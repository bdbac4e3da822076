#!/usr/bin/env bash
# Desktop clients benchmark (issue 19): Transmission 3.00, libtorrent-rasterbar
# 2.0 (python3-libtorrent) and aria2c, each behind a home NAT in the
# network-namespace lab, download one clip first from the pod's seeder at
# 203.0.113.1, then from an aria2c seeder of the same torrent (found through
# a second pod used as an open tracker), one download at a time. Prints
# MB/s from each client's first 64 KiB to completion, and the load average.
# See internal/clientlab (TestClientRates).
#
# usage: sudo scripts/bench/clients.sh [size_MB=48]
# needs: root (network namespaces), go, ip, nft, ffmpeg, aria2c,
#        transmission-cli, python3-libtorrent
set -euo pipefail
cd "$(dirname "$0")/../.."
SWARMTUBE_CLIENTLAB_BENCH_MB=${1:-48} go test -count=1 -run '^TestClientRates$' -v -timeout 20m ./internal/clientlab |
	grep -E 'rates_test|\||MB/s|load average|^(ok|FAIL|---)'
