#!/usr/bin/env bash
# Seeder benchmark: aria2c downloads one file over TCP on loopback, first
# from the pod's hybrid seeder (server/seeder, via scripts/bench/seederbench),
# then from another aria2c seeding the same torrent. Both use the same
# .torrent (built by shared/torrentfile) and a fresh opentracker as the
# tracker. Prints MB/s of each run (wall clock from aria2c start to exit,
# which includes ~2-4 s of start-up, announce and connect, and aria2c's own
# average speed) and the ratio pod/aria2 of the medians.
#
# usage: scripts/bench/seeder.sh [size_MB=200] [runs=3]
# needs: go, aria2c, opentracker, python3 (for free ports)
set -euo pipefail

SIZE_MB=${1:-200}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/seederbench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # wait until 127.0.0.1:$1 accepts TCP
	for _ in $(seq 1 200); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "port $1 never opened" >&2
	return 1
}

echo "building seederbench..." >&2
(cd "$ROOT" && go build -o "$W/seederbench" ./scripts/bench/seederbench)
mkdir -p "$W/src"
echo "writing ${SIZE_MB} MB of random data..." >&2
head -c "${SIZE_MB}M" /dev/urandom >"$W/src/bench.mp4"

TPORT=$(free_port)
start_tracker() {
	# Debian's opentracker is built in whitelist mode; it chroots to -d, so
	# the whitelist path is relative to that directory.
	opentracker -i 127.0.0.1 -p "$TPORT" -P "$TPORT" -d "$W/ot" -w /whitelist >"$W/ot.log" 2>&1 &
	TRACKER_PID=$!
	PIDS+=("$TRACKER_PID")
	wait_port "$TPORT"
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

mkdir -p "$W/ot"
chmod 755 "$W" "$W/ot"
"$W/seederbench" torrent -file "$W/src/bench.mp4" -name bench.mp4 \
	-tracker "http://127.0.0.1:$TPORT/announce" -out "$W/bench.torrent" >"$W/ot/whitelist"
chmod 644 "$W/ot/whitelist"

ARIA2_COMMON=(--enable-dht=false --enable-dht6=false --bt-enable-lpd=false
	--enable-peer-exchange=false --disable-ipv6=true --no-conf=true
	--file-allocation=none --bt-tracker-interval=1 --bt-tracker-connect-timeout=5
	--bt-tracker-timeout=5 --summary-interval=0 --console-log-level=warn)

# download <label>: one aria2c download; prints "<wall MB/s> <aria2 avg MiB/s string>"
download() {
	local dir="$W/dl" log="$W/dl.log" t0 t1
	rm -rf "$dir"
	t0=$(date +%s.%N)
	timeout 300 aria2c --dir="$dir" --seed-time=0 --bt-stop-timeout=60 --listen-port="$(free_port)" "${ARIA2_COMMON[@]}" \
		"$W/bench.torrent" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
	t1=$(date +%s.%N)
	cmp -s "$dir/bench.mp4" "$W/src/bench.mp4" || { echo "downloaded file differs" >&2; return 1; }
	local avg
	avg=$(grep -E '^[0-9a-f]{6}\|OK' "$log" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
	# aria2's average counts from its start too, but not process start-up,
	# the final close or exit; convert its "93MiB/s" to MB/s.
	python3 -c "
import re, sys
m = re.fullmatch(r'([0-9.]+)([KMG]?i?B)/s', sys.argv[1])
mult = {'B': 1, 'KiB': 1024, 'MiB': 1048576, 'GiB': 1073741824}[m.group(2)]
print(f'{$SIZE_MB*1048576/1e6/($t1-$t0):.1f} {float(m.group(1))*mult/1e6:.1f}')" "$avg"
}

median() { python3 -c 'import sys,statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.1f}")' "$@"; }

# --- pod seeder ---
start_tracker
"$W/seederbench" seed -torrent "$W/bench.torrent" -file "$W/src/bench.mp4" -data "$W/podseed" >"$W/pod.out" 2>"$W/pod.err" &
POD_PID=$!
PIDS+=("$POD_PID")
for _ in $(seq 1 600); do grep -q '^ready' "$W/pod.out" && break; sleep 0.1; done
grep -q '^ready' "$W/pod.out" || { cat "$W/pod.err" >&2; exit 1; }
sleep 1 # let its first announce reach the tracker
POD=()
PODAVG=()
for i in $(seq 1 "$RUNS"); do
	r=$(download pod)
	echo "pod seeder   run $i: wall ${r%% *} MB/s, aria2 avg ${r##* } MB/s"
	POD+=("${r%% *}")
	PODAVG+=("${r##* }")
done
stop_pid "$POD_PID"
grep '^uploaded' "$W/pod.out" || true
stop_pid "$TRACKER_PID"

# --- aria2 seeder ---
start_tracker
SPORT=$(free_port)
aria2c --dir="$W/src" --seed-ratio=0.0 --seed-time=120 --bt-seed-unverified=true \
	--listen-port="$SPORT" "${ARIA2_COMMON[@]}" "$W/bench.torrent" >"$W/seed.log" 2>&1 &
SEED_PID=$!
PIDS+=("$SEED_PID")
wait_port "$SPORT"
sleep 1
ARIA=()
ARIAAVG=()
for i in $(seq 1 "$RUNS"); do
	r=$(download aria2)
	echo "aria2 seeder run $i: wall ${r%% *} MB/s, aria2 avg ${r##* } MB/s"
	ARIA+=("${r%% *}")
	ARIAAVG+=("${r##* }")
done
stop_pid "$SEED_PID"

P=$(median "${POD[@]}")
A=$(median "${ARIA[@]}")
PA=$(median "${PODAVG[@]}")
AA=$(median "${ARIAAVG[@]}")
echo "file ${SIZE_MB} MiB, ${RUNS} runs each, medians (MB/s = 10^6 B/s):"
echo "  pod seeder (anacrolix v1.57.1): wall ${P}, aria2 avg ${PA}"
echo "  aria2c seeder:                  wall ${A}, aria2 avg ${AA}"
python3 -c "print(f'  ratio pod/aria2: wall {$P/$A:.2f}, aria2 avg {$PA/$AA:.2f}')"
