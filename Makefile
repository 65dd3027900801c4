# The two commands: `make dev` serves the API locally, `make test` runs everything CI checks.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := source scripts/env.sh

.PHONY: help dev token test soak bench setup build fmt docs lint unit integration conformance deploy-check migrate clean

help:
	@echo "make dev                  serve the API on 127.0.0.1:\$${PORT:-8787} (embedded PostgreSQL unless DATABASE_URL is set)"
	@echo "make token USER_ID=<id>   mint a dev token (EMAIL=, EMAIL_VERIFIED=1, TTL= seconds optional)"
	@echo "make test                 fmt, docs links, clippy (host + wasm32), unit tests, integration tests, schemathesis, deploy dry run"
	@echo "make soak                 100 users for SOAK_SECONDS (300) with database faults every FAULT_EVERY (20) s, then integrity checks"
	@echo "make bench                load test through PgBouncer: capacity at 100 connections and 500 req/s fixed rate (bench/)"
	@echo "make migrate              apply migrations/ to DATABASE_URL"

dev:
	@bash scripts/dev.sh

token:
	@$(ENV); node scripts/token.mjs $(USER_ID)

test: setup fmt docs lint unit build integration conformance deploy-check
	@echo "make test: all checks passed"

setup:
	@bash scripts/setup.sh

build: setup
	@bash scripts/build.sh

fmt:
	cargo fmt --all -- --check

docs:
	@$(ENV); node scripts/check-docs.mjs

lint: setup
	cargo clippy --all-targets --locked -- -D warnings
	cargo clippy --lib --locked --target wasm32-unknown-unknown -- -D warnings

unit:
	@if cargo nextest --version >/dev/null 2>&1; then cargo nextest run --locked; else cargo test --locked; fi

soak: build
	@$(ENV); node tests/soak/soak.mjs

bench: build
	@bash bench/run.sh

integration: build
	@$(ENV); node --test --test-reporter=spec tests/integration/main.test.mjs

# schemathesis against /openapi.json: every check, positive and negative data, all phases.
conformance: build
	@$(ENV); node tests/schemathesis/run.mjs

deploy-check: build
	@$(ENV); wrangler deploy --dry-run --outdir dist

migrate: setup
	@test -n "$$DATABASE_URL" || { echo "set DATABASE_URL"; exit 2; }
	@$(ENV); dbmate --url "$$(node scripts/dburl.mjs migrate "$$DATABASE_URL")" --migrations-dir migrations --no-dump-schema up

clean:
	rm -rf build dist target .wrangler
