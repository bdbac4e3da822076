#!/bin/sh
# Starts three pods on http://localhost:9001, :9002 and :9003 with clean
# data (scripts/clean_test.sh), admin password "admin-password", logs in
# ./data/pod900N.log. Ctrl-C (or SIGTERM) stops all three. They form a test
# network: each accepts every introduction (--federation-accept open) and
# may reach the others on localhost (--federation-allow-private). Extra
# arguments are passed to every pod and win (e.g. --friend-retry-max 2s,
# or --federation-accept manual to try consent).
#
# Then make them friends and watch a video travel (README, "Federation"):
#   TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' localhost:9002/api/v1/users/token \
#     -d '{"username":"admin","password":"admin-password"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
#   curl -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
#     localhost:9002/api/v1/pods/makefriends \
#     -d '{"pods":["http://localhost:9003"]}'
set -eu
cd "$(dirname "$0")/.."
# make build, not go build: the pod embeds the browser peer (client.wasm),
# which only make builds; without it the pages play with no peer to peer.
${MAKE:-make} -s build
scripts/clean_test.sh
mkdir -p data

pids=""
stop() {
	trap - INT TERM EXIT
	for pid in $pids; do kill "$pid" 2>/dev/null || true; done
	for pid in $pids; do wait "$pid" 2>/dev/null || true; done
	echo "run_servers: stopped"
}
trap stop INT TERM EXIT

for n in 1 2 3; do
	port=900$n
	bin/swarmtube --listen "127.0.0.1:$port" --url "http://localhost:$port" --data "./data/pod$port" \
		--admin-password admin-password --bt-port 0 --turn-listen "127.0.0.1:$((port + 1000))" --name "pod$n" \
		--federation-accept open --federation-allow-private "$@" >"./data/pod$port.log" 2>&1 &
	pids="$pids $!"
done

for port in 9001 9002 9003; do
	i=0
	until curl -fs "http://localhost:$port/api/v1/pod" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 100 ]; then
			echo "run_servers: pod on $port did not start; see ./data/pod$port.log" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "run_servers: http://localhost:$port is up (log: ./data/pod$port.log)"
done
echo "run_servers: admin password: admin-password; Ctrl-C stops the pods"
wait
