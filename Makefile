# agente-caddy — build, run and test entry points. See README.md.
GO      ?= go
BIN     := bin/agente-caddy
MODULE  := github.com/agentehotel/agente-caddy
CADDY_VERSION := v2.11.9

.PHONY: build run test bench lint xcaddy-build clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/agente-caddy

run: build
	ENVIRONMENT=$${ENVIRONMENT:-development} ./$(BIN) run --config Caddyfile --adapter caddyfile

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

xcaddy-build:
	$(GO) tool xcaddy build $(CADDY_VERSION) --with $(MODULE)=. --output bin/agente-caddy-xcaddy

clean:
	rm -rf bin
