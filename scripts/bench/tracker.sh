#!/usr/bin/env bash
# Tracker benchmark: the pod's tracker (server/tracker, served by
# scripts/bench/trackerbench) against the npm bittorrent-tracker server
# (WebSocket) and opentracker (HTTP), with the same Go load generator
# (scripts/bench/trackerload). Each server is pinned to CPU 0 and the
# generator to CPU 1 (taskset), so "per core" means the server's one core.
#
# WebSocket: C connections announce in a closed loop with 5 offers of
# ~600-byte SDP over T info hashes; prints announces/s, p50/p99
# announce->reply latency, offers relayed/s, errors, server peak RSS (MB),
# server and generator CPU use (100 = one core; a server below ~90% is not
# the bottleneck), and ours/bittorrent-tracker ratios.
# HTTP: W workers announce (compact, no keep-alive) over T hashes; prints
# announces/s of ours and opentracker (whitelist mode) and the ratio.
#
# The machine may be shared: each line reports the server's and the
# generator's CPU use, and the ratios include announces per server
# CPU-second, which contention distorts less than raw throughput.
# SKIP_WS=1 runs only the HTTP part.
#
# usage: scripts/bench/tracker.sh [duration_s=10] [conns="100 1000 5000"] [hashes=10]
# needs: go, node + scripts/node/node_modules, opentracker, taskset, python3
set -euo pipefail

DUR=${1:-10}
CONNS=${2:-"100 1000 5000"}
HASHES=${3:-10}
HTTP_WORKERS=${HTTP_WORKERS:-64}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NM="$ROOT/scripts/node/node_modules"
W=$(mktemp -d /tmp/trackerbench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

# 5000 connections need 5000+ descriptors in each process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt 12000 ]; then echo "warning: ulimit -n is $(ulimit -n)" >&2; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 1 200); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "port $1 never opened" >&2
	return 1
}
per_cpu() { python3 -c "import sys; a,c=(float(x or 0) for x in sys.argv[1:3]); print('%.0f' % (a*100/c) if c else 0)" "$(field announces_per_s "$1")" "$(field server_cpu_pct "$1")"; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
ratio() { python3 -c "import sys; a,b=(float(x or 0) for x in sys.argv[1:3]); print('%.2f' % (a/b) if b else 'n/a')" "$1" "$2"; }

echo "building..." >&2
(cd "$ROOT" && go build -o "$W/trackerbench" ./scripts/bench/trackerbench && go build -o "$W/trackerload" ./scripts/bench/trackerload)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# run_ws <ours|bt> <conns>: starts a fresh server, prints the generator line.
run_ws() {
	local port; port=$(free_port)
	if [ "$1" = ours ]; then
		taskset -c 0 "$W/trackerbench" -listen "127.0.0.1:$port" & local sp=$!
	else
		taskset -c 0 node "$ROOT/scripts/bench/tracker-bt.mjs" "$NM" "$port" 2>/dev/null & local sp=$!
	fi
	PIDS+=("$sp")
	wait_port "$port"
	taskset -c 1 "$W/trackerload" -mode ws -url "ws://127.0.0.1:$port/tracker/socket" -conns "$2" -hashes "$HASHES" \
		-offers 5 -duration "${DUR}s" -warmup 3s -pid "$sp" || echo "mode=ws conns=$2 failed"
	stop "$sp"
}

if [ -z "${SKIP_WS:-}" ]; then
echo
echo "== WebSocket tracker: ${DUR}s per run, 5 offers/announce, $HASHES info hashes"
printf '%-6s %-8s %12s %9s %9s %12s %7s %9s %8s %8s\n' conns server announce/s p50_ms p99_ms relayed/s errors rss_MB srv_cpu% gen_cpu%
for c in $CONNS; do
	ours=$(run_ws ours "$c")
	bt=$(run_ws bt "$c")
	for l in "ours|$ours" "bt|$bt"; do
		n=${l%%|*}; r=${l#*|}
		printf '%-6s %-8s %12s %9s %9s %12s %7s %9s %8s %8s\n' "$c" "$n" "$(field announces_per_s "$r")" "$(field p50_ms "$r")" \
			"$(field p99_ms "$r")" "$(field relayed_per_s "$r")" "$(field errors "$r")" "$(field peak_rss_mb "$r")" \
			"$(field server_cpu_pct "$r")" "$(field loadgen_cpu_pct "$r")"
	done
	echo "C=$c ratios ours/bittorrent-tracker: throughput $(ratio "$(field announces_per_s "$ours")" "$(field announces_per_s "$bt")")x," \
		"p99 $(ratio "$(field p99_ms "$ours")" "$(field p99_ms "$bt")")x, peak RSS $(ratio "$(field peak_rss_mb "$ours")" "$(field peak_rss_mb "$bt")")x," \
		"announces per server CPU-second $(ratio "$(per_cpu "$ours")" "$(per_cpu "$bt")")x"
done
fi

echo
echo "== HTTP tracker: ${DUR}s, $HTTP_WORKERS workers, compact, no keep-alive, $HASHES info hashes"
# Fixed hashes, so that opentracker can whitelist them.
python3 -c "import os; print('\n'.join(os.urandom(20).hex() for _ in range($HASHES)))" >"$W/hashes"
port=$(free_port)
taskset -c 0 "$W/trackerbench" -listen "127.0.0.1:$port" & sp=$!; PIDS+=("$sp")
wait_port "$port"
ours=$(taskset -c 1 "$W/trackerload" -mode http -url "http://127.0.0.1:$port/tracker/announce" -hashfile "$W/hashes" \
	-conns "$HTTP_WORKERS" -duration "${DUR}s" -pid "$sp")
stop "$sp"
echo "ours:        $ours"
if command -v opentracker >/dev/null; then
	port=$(free_port)
	# opentracker chroots into -d, so the whitelist path is relative to it.
	# It drops to user nobody, so the chroot and list must be readable.
	chmod 755 "$W"; chmod 644 "$W/hashes"
	taskset -c 0 opentracker -i 127.0.0.1 -p "$port" -P "$port" -d "$W" -w /hashes >"$W/ot.log" 2>&1 & sp=$!; PIDS+=("$sp")
	wait_port "$port"
	# ... and serves from a child process: measure and stop that one too.
	child=$(pgrep -P "$sp" | head -1 || true)
	if [ -n "$child" ]; then PIDS+=("$child"); sp_all="$sp $child"; sp=$child; else sp_all=$sp; fi
	ot=$(taskset -c 1 "$W/trackerload" -mode http -url "http://127.0.0.1:$port/announce" -hashfile "$W/hashes" \
		-conns "$HTTP_WORKERS" -duration "${DUR}s" -pid "$sp")
	for p in $sp_all; do stop "$p"; done
	echo "opentracker: $ot"
	echo "HTTP ratio ours/opentracker: $(ratio "$(field announces_per_s "$ours")" "$(field announces_per_s "$ot")")x," \
		"per server CPU-second $(ratio "$(per_cpu "$ours")" "$(per_cpu "$ot")")x"
else
	echo "opentracker not installed: skipped"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
