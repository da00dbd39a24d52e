# YeboLink: one-command local stack and tests. `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help dev test lint build bench clean-tools

help: ## list the targets
	@echo "YeboLink make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-12s %s\n", $$1, $$2 }'
	@echo "Env: PORT=9000 (make dev API port), DDB_PORT (local DynamoDB port), WATCH_ARGS, CARGO_TEST_ARGS"

dev: ## run the whole API on http://127.0.0.1:9000/api/v1 (PORT=... to change; Ctrl-C stops it)
	@bash scripts/dev.sh

test: ## unit tests, DynamoDB integration tests and the black-box HTTP suite (starts and stops its own stack)
	@bash scripts/test.sh

lint: ## template and consistency checks
	@bash scripts/lint.sh

build: ## sam build (arm64 release binaries)
	@bash scripts/build.sh

bench: ## benchmarks (not yet)
	@echo "make bench: not implemented yet"

clean-tools: ## remove the repo-local tools (.tools/); the next make dev/test reinstalls them
	rm -rf .tools
