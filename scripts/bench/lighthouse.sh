#!/bin/bash
# Lighthouse 12.8.2 (npm, installed into a temporary directory with
# --ignore-scripts) against one fresh pod built from this tree (make build),
# one run per page and preset (desktop, mobile), with a 10 s clip uploaded.
# Prints: page, preset, performance, accessibility, best practices, SEO,
# CLS, LCP (ms), TBT (ms). Usage: scripts/bench/lighthouse.sh (from the repo root).
set -u
bin=$(pwd)/bin/swarmtube
work=$(mktemp -d)
cd "$work"
npm install --ignore-scripts --no-audit --no-fund --loglevel=error lighthouse@12.8.2 >/dev/null
export CHROME_PATH=$(command -v chromium)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf data; mkdir data
"$bin" --listen 127.0.0.1:$port --url http://127.0.0.1:$port --data ./data --admin-password admin-password \
  --bt-port 0 --turn-listen 127.0.0.1:0 --name lh --log-level warn > pod.log 2>&1 &
pod=$!
trap 'kill $pod; wait $pod; rm -rf "$work"' EXIT
until curl -fs http://127.0.0.1:$port/api/v1/pod >/dev/null; do sleep 0.2; done
T=$(curl -s -XPOST -H 'Content-Type: application/json' http://127.0.0.1:$port/api/v1/users/token -d '{"username":"admin","password":"admin-password"}' | jq -r .token)
ffmpeg -loglevel error -y -f lavfi -i testsrc=duration=10:size=640x360:rate=25 -f lavfi -i sine=duration=10 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -movflags +faststart clip.mp4
id=$(curl -s -H "Authorization: Bearer $T" -F file=@clip.mp4 -F name="Harbour at dusk" -F description="Filmed from the pier." http://127.0.0.1:$port/api/v1/videos | jq -r .id)
sleep 8 # the images job
for page in "/" "/videos/$id" "/search?q=harbour" "/upload" "/login"; do
  for preset in desktop mobile; do
    extra=""; [ $preset = desktop ] && extra="--preset=desktop"
    node node_modules/lighthouse/cli/index.js "http://127.0.0.1:$port$page" $extra --quiet \
      --chrome-flags="--headless=new --no-sandbox --disable-gpu --autoplay-policy=no-user-gesture-required" \
      --only-categories=performance,accessibility,best-practices,seo --output=json --output-path=lh.json >/dev/null 2>&1
    jq -r --arg p "$page" --arg m $preset '[$p, $m, (.categories.performance.score*100|round), (.categories.accessibility.score*100|round), (.categories["best-practices"].score*100|round), (.categories.seo.score*100|round), (.audits["cumulative-layout-shift"].numericValue*1000|round/1000), (.audits["largest-contentful-paint"].numericValue|round), (.audits["total-blocking-time"].numericValue|round)] | @tsv' lh.json
  done
done
uptime
