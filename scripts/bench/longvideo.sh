#!/usr/bin/env bash
# Long-video memory benchmark (BENCHMARKS.md, "A 2-hour video in the
# browser"): a 2-hour 1080p clip (cheap to make: 10 s of a test pattern at
# 5 frames/s padded to the bitrate by x264's CBR filler, repeated by stream
# copy) plays to the end at 16x (or rate) in headless Chromium through the engine and
# its browser storage; the test logs the wasm memory, the JS heap and the
# pieces kept in memory and in OPFS as it goes, and their peaks.
#
# usage: scripts/bench/longvideo.sh [seconds=7200] [kbps=4000] [rate=16]
# (at 16x the player never holds the 2 s of wall time that writes to the
# browser's storage wait for, so they run once it ended; at 4x they run
# while it plays: e.g. scripts/bench/longvideo.sh 1800 4000 4)
# needs: go, chromium, ffmpeg, node + scripts/node/node_modules; about
# 2 x seconds x kbps / 8 bytes of disk (the clip and its copy in OPFS)
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
SWARMTUBE_LONG_SECONDS="${1:-7200}" SWARMTUBE_LONG_KBPS="${2:-4000}" SWARMTUBE_LONG_RATE="${3:-16}" \
	go test -count=1 -run TestLongVideoBoundedMemory -v -timeout 90m ./wasm/e2e
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
