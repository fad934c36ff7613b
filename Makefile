# Pulsepoint. `make dev` runs the product; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
BUF := .tools/venv/bin/buf
export PULSEPOINT_TEST_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: help dev dev-stop test test-rust test-smoke lint fmt proto proto-breaking bench k8s-validate docker services clean-test-dbs

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

services: ## start PostgreSQL and Redis if they are not running (installs them if missing)
	bash scripts/backing-services.sh

dev: ## the whole product on this machine: services, migrations, demo tenant, URLs
	bash scripts/dev.sh

dev-stop: ## stop what `make dev` started
	bash scripts/dev-stop.sh

test: services lint test-rust test-smoke k8s-validate ## everything CI runs
	@echo "make test: all green"

lint: ## rustfmt, buf lint, clippy -D warnings
	bash scripts/tools.sh
	$(CARGO) fmt --all -- --check
	$(BUF) lint
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

test-rust: clean-test-dbs ## unit and end-to-end tests against real PostgreSQL and Redis
	$(CARGO) build --workspace --bins --locked
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --locked --no-fail-fast; \
	else \
		$(CARGO) test --workspace --locked --no-fail-fast; \
	fi

test-smoke: ## grpcurl and curl (grpc-web, CORS) against the real binaries
	bash scripts/grpcurl-smoke.sh

clean-test-dbs: ## drop databases left by earlier test runs
	@psql "$(PULSEPOINT_TEST_ADMIN_URL)" -tAc "select datname from pg_database where datname like 'pp\_test\_%' or datname like 'pp\_smoke\_%'" \
		| while read -r db; do [ -n "$$db" ] && psql "$(PULSEPOINT_TEST_ADMIN_URL)" -q -c "drop database if exists \"$$db\" with (force)"; done; true

proto: ## lint the contracts
	bash scripts/tools.sh
	$(BUF) lint

proto-breaking: ## buf breaking against the previous commit (BASE=<rev> to choose)
	bash scripts/tools.sh
	$(BUF) breaking --against ".git#ref=$${BASE:-HEAD~1}"

bench: ## load generator: figures to target/bench/results.json, table in docs/performance.md
	bash scripts/bench.sh

k8s-validate: ## render and validate k8s/, Dockerfile, compose statically
	bash scripts/validate-deploy.sh

docker: ## build one image per service: the pulsepoint-* targets of deploy/Dockerfile (needs a Docker engine)
	set -e; targets="$$(bash scripts/docker-targets.sh)"; \
	for target in $$targets; do docker build -f deploy/Dockerfile --target "$$target" -t "$$target:dev" . || exit 1; done
