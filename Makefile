# agente-caddy — build, run and test entry points. See README.md.
GO      ?= go
BIN     := bin/agente-caddy
MODULE  := github.com/agentehotel/agente-caddy
CADDY_VERSION := v2.11.9
# Whole-suite timeout; a full `make test` takes a few minutes on 2 cores.
TEST_TIMEOUT ?= 12m

.PHONY: build run test test-in-env bench lint xcaddy-build clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/agente-caddy

## run: build and serve Caddyfile on :8080 (development, in memory, demo PMS).
run: build
	ENVIRONMENT=$${ENVIRONMENT:-development} ./$(BIN) run --config Caddyfile --adapter caddyfile

## test: every test, against real Postgres and Redis (reused from
## POSTGRES_URL/REDIS_URL when they answer, else started and torn down here).
test: build
	$(GO) run ./test/services -- $(MAKE) --no-print-directory test-in-env

test-in-env:
	AGENTE_CADDY_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## bench: the benchmarks, each next to its same-run reference.
bench: build
	$(GO) run ./test/services -- $(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

xcaddy-build:
	$(GO) tool xcaddy build $(CADDY_VERSION) --with $(MODULE)@v0.0.0=. --output bin/agente-caddy-xcaddy

clean:
	rm -rf bin
