# agente-caddy — build, run and test entry points. See README.md.
GO      ?= go
BIN     := bin/agente-caddy
MODULE  := github.com/agentehotel/agente-caddy
CADDY_VERSION := v2.11.9
# Whole-suite timeout, far above the 126 s a full `CI=true make test` took
# (build included) on 2 shared cores.
TEST_TIMEOUT ?= 12m

.PHONY: build run test test-in-env bench bench-all lint xcaddy-build clean \
	docker-build docker-up docker-down health synthetic-health-check canary-diff \
	slo-rules slo-rules-update alertmanager-config promtool-check promtool-test \
	backup restore

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/agente-caddy

## run: build and serve Caddyfile on :8080 (development, in memory, demo PMS).
run: build
	ENVIRONMENT=$${ENVIRONMENT:-development} ./$(BIN) run --config Caddyfile --adapter caddyfile

## test: every test, against real Postgres, Redis and QloApps (reused from
## POSTGRES_URL/REDIS_URL/QLOAPPS_* when they answer, else started and torn
## down here; QloApps needs its tarball, see README.md), and Dovecot (installed
## here when missing; each email test starts its own).
test: build
	$(GO) run ./test/services -- $(MAKE) --no-print-directory test-in-env

test-in-env:
	AGENTE_CADDY_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## bench: the staircase (BENCHMARKS.md): the webhook's ack rate from plain
## `respond` to the shipped configuration, each stage as a ratio to `respond`
## in the same run, with p50/p99 and accepted vs processed.
## STAIRCASE_N, STAIRCASE_CONNS, STAIRCASE_ROUNDS tune it.
bench: build
	SERVICES_DURABLE=1 AGENTE_CADDY_BIN=$(CURDIR)/$(BIN) $(GO) run ./test/services -- \
		$(GO) test -count=1 -timeout 30m -run '^$$' -bench '^BenchmarkStaircase$$' -benchtime 1x ./test/e2e/

## bench-all: every benchmark, each next to its same-run reference.
bench-all: build
	SERVICES_DURABLE=1 AGENTE_CADDY_BIN=$(CURDIR)/$(BIN) $(GO) run ./test/services -- $(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

xcaddy-build:
	$(GO) tool xcaddy build $(CADDY_VERSION) --with $(MODULE)@v0.0.0=. --output bin/agente-caddy-xcaddy

clean:
	rm -rf bin

## ---------------------------------------------------------------- operations
## (README.md "Operations"; compose.yaml needs a .env: cp .env.example .env)
PROM_DIR := observability/prometheus
HEALTH_CHECK_URL ?= http://localhost:8080

docker-build:
	docker build -t agente-caddy:local .

## docker-up: the whole stack (add COMPOSE_PROFILES=qloapps for QloApps + MySQL).
docker-up:
	@test -f .env || { echo "no .env: cp .env.example .env and replace every CHANGE_ME"; exit 1; }
	docker compose up -d --build

docker-down:
	docker compose down

## health: container states (when the stack runs) and the synthetic check of HEALTH_CHECK_URL.
health: build
	@if docker compose ps >/dev/null 2>&1; then docker compose ps; fi
	HEALTH_CHECK_URL=$(HEALTH_CHECK_URL) ./$(BIN) synthetic-health-check

## synthetic-health-check: /health/live, /health/ready, /metrics of HEALTH_CHECK_URL; exit 0 OK, 1 degraded, 2 down.
synthetic-health-check: build
	HEALTH_CHECK_URL=$(HEALTH_CHECK_URL) ./$(BIN) synthetic-health-check

## canary-diff: baseline vs canary report in .playbook/canary_diff_report.json (exit 0 PASS, 1 FAIL, 2 INCONCLUSIVE).
canary-diff: build
	./$(BIN) canary-diff $(CANARY_DIFF_ARGS)

## slo-rules: SLO recording rules for SLO_TARGET (ERROR_BUDGET_FRACTION, SLO_TRAFFIC_FLOOR, SLO_PERIOD) on stdout.
slo-rules: build
	@./$(BIN) slo-rules

## slo-rules-update: regenerate the committed default rules after changing internal/slo.
slo-rules-update: build
	env -u SLO_TARGET -u ERROR_BUDGET_FRACTION -u SLO_TRAFFIC_FLOOR -u SLO_PERIOD \
		./$(BIN) slo-rules --out $(PROM_DIR)/generated/slo_rules.yml

## backup: a backup of POSTGRES_URL and REDIS_URL (REDIS_KEY_PREFIX) into
## BACKUP_DIR, keeping the BACKUP_KEEP newest (README "Backups"; needs pg_dump
## of the server's major version: Debian's postgresql-client).
BACKUP_DIR ?= backups
BACKUP_KEEP ?= 7
backup: build
	./$(BIN) backup --dir $(BACKUP_DIR) --keep $(BACKUP_KEEP)

## restore: BACKUP=<backup directory> into POSTGRES_URL and REDIS_URL; the
## database must be empty unless RESTORE_FLAGS=--replace (stop the instances first).
restore: build
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=$(BACKUP_DIR)/<time> [RESTORE_FLAGS=--replace]"; exit 2; }
	./$(BIN) restore $(RESTORE_FLAGS) $(BACKUP)

## alertmanager-config: the Alertmanager config the current environment renders.
alertmanager-config: build
	@./$(BIN) alertmanager-config

promtool-check:
	cd $(PROM_DIR) && promtool check config prometheus.yml && \
		promtool check rules alerts.yml recording_rules.yml generated/*.yml

promtool-test:
	cd $(PROM_DIR) && promtool test rules tests/*.yml
