# YeboLink: one-command local stack and tests. `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help dev dev-reset test lint build deploy bench fuzz-api clean-tools

help: ## list the targets
	@echo "YeboLink make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-12s %s\n", $$1, $$2 }'
	@echo "Env: PORT=9000 (make dev API port), DDB_PORT (local DynamoDB port), YL_CONCURRENCY=8, RELOAD=1 (make dev rebuilds on change), WATCH_ARGS, CARGO_TEST_ARGS"

dev: ## run the whole API on http://127.0.0.1:9000/api/v1 (PORT=... to change; Ctrl-C stops it; data kept in .data/)
	@bash scripts/dev.sh

dev-reset: ## delete make dev's local data, so the next make dev starts empty
	rm -f .data/dev-dynamodb.sqlite .data/dev-dynamodb.sqlite-wal .data/dev-dynamodb.sqlite-shm

test: ## every test layer: unit, DynamoDB integration, black-box HTTP, API fuzzing, outage, log scan (starts and stops its own stack)
	@bash scripts/test.sh

fuzz-api: ## schemathesis against a running stack (YEBOLINK_BASE_URL, default: make dev's), from docs/openapi.yaml
	@bash scripts/fuzz.sh

lint: ## cargo fmt --check, clippy -D warnings, template (cfn-lint, sam validate) and consistency checks
	@bash scripts/lint.sh

build: ## sam build (arm64 release binaries), then one smoke run of each bootstrap
	@bash scripts/build.sh

deploy: ## sam deploy of what make build built, with the pinned SAM CLI (AWS credentials in your shell; DEPLOY_ARGS=--guided the first time)
	@source scripts/lib.sh && yl_ensure_lint_tools && SAM_CLI_TELEMETRY=0 "$$YL_LINT_VENV/bin/sam" deploy $(DEPLOY_ARGS)

bench: ## cold starts, binary sizes and microbenchmarks (prints a table; see docs/performance.md)
	@bash scripts/bench.sh

clean-tools: ## remove the repo-local tools (.tools/); the next make dev/test reinstalls them
	rm -rf .tools
