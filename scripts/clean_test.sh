#!/bin/sh
# Removes the data of the three local test pods (scripts/run_servers.sh),
# so the next start is a first start: new keys, no users but admin, no
# friends, no videos. Stop the pods first.
set -eu
cd "$(dirname "$0")/.."
for port in 9001 9002 9003; do
	rm -rf "./data/pod$port" "./data/pod$port.log"
done
echo "clean: removed ./data/pod9001 ./data/pod9002 ./data/pod9003"
