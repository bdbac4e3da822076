# Swarmtube. `make help` lists the targets.
GO        ?= go
BIN       := bin/swarmtube
LISTEN    ?= 127.0.0.1:9000
DATA      ?= ./data
# The pod's STUN/TURN port follows its HTTP port (9000 → 3478, 9100 → 3578),
# so a second `make run LISTEN=…` does not collide with the first; the host
# is LISTEN's, split at its last colon (":9100" all interfaces, "[::1]:9100").
TURN_LISTEN ?= $(shell l='$(LISTEN)'; echo "$${l%:*}:$$(( $$(echo "$$l" | sed 's/.*://') - 5522 ))")
GOTESTFLAGS ?= -timeout 20m

.PHONY: help run build server wasm deps test vet fmt-check bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: build ## build everything, install ffmpeg if missing (Debian), start one pod on http://localhost:9000 (data in ./data)
	scripts/install-run-deps.sh
	$(BIN) --listen $(LISTEN) --url http://localhost:$(lastword $(subst :, ,$(LISTEN))) --data $(DATA) --turn-listen $(TURN_LISTEN)

build: wasm server ## build the wasm peer, then the pod binary (which embeds it)

server: ## build the pod binary into bin/
	$(GO) build -o $(BIN) ./server/cmd/swarmtube

wasm: ## build the browser peer into web/static (client.wasm + compressed copies, wasm_exec.js)
	@if [ -x scripts/build-wasm.sh ]; then scripts/build-wasm.sh; fi

deps: ## install test dependencies that are missing (apt: chromium ffmpeg aria2 opentracker brotli nodejs; npm: pinned peers)
	scripts/install-test-deps.sh

vet: ## go vet, for native and wasm builds
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./shared/... $(shell [ -d wasm ] && echo ./wasm/...)

fmt-check: ## fail if any Go file is not gofmt'ed
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './scripts/node/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: deps build vet fmt-check ## install test deps, build, vet, and run every test
	$(GO) test $(GOTESTFLAGS) ./...

bench: build ## run the benchmark scripts (see BENCHMARKS.md)
	@for s in scripts/bench/*.sh; do echo "== $$s"; $$s || exit 1; done

clean: ## remove build outputs (not ./data)
	rm -rf bin web/static/client.wasm web/static/client.wasm.gz web/static/client.wasm.br web/static/wasm_exec.js
