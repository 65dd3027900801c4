# The two commands: `make dev` serves the API locally, `make test` runs everything CI checks.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# Puts the pinned tools first on PATH. (Not named ENV: `make deploy ENV=…` is the environment.)
TOOLS := source scripts/env.sh

.PHONY: help dev token test soak bench setup setup-test build fmt docs lint unit integration conformance \
	config-check lock-check migrations-lint workflows-lint rollout-check deploy-check lean-check deploy rollback migrate \
	clean client-check browser fuzz fuzz-smoke deny sbom

help:
	@echo "make dev                  serve the API on 127.0.0.1:\$${PORT:-8787} (embedded PostgreSQL unless DATABASE_URL is set)"
	@echo "make token USER_ID=<id>   mint a dev token (EMAIL=, EMAIL_VERIFIED=1, TTL= seconds optional)"
	@echo "make test                 fmt, docs links, config, lock file, migration and workflow lints, clippy (host + wasm32),"
	@echo "                          unit tests, deploy dry runs, the no-Python build/dev check, integration tests,"
	@echo "                          the TypeScript client's checks, the browser suite (Chromium), schemathesis"
	@echo "make deploy ENV=staging   wrangler deploy --env staging (or ENV=production): docs/operations.md"
	@echo "make rollback ENV=…       wrangler rollback --env …: all traffic to the version before (VERSION= another)"
	@echo "make migrate              apply migrations/ to DATABASE_URL (Neon: its direct connection string)"
	@echo "make soak                 100 users for SOAK_SECONDS (300) with database faults every FAULT_EVERY (20) s, then integrity checks"
	@echo "make bench                load test through PgBouncer: capacity at 100 connections and 500 req/s fixed rate (bench/)"
	@echo "make fuzz                 every fuzz target for FUZZ_SECONDS (60) each, with executions and coverage (fuzz/)"
	@echo "make deny                 cargo-deny: licences, banned and duplicated crates, sources (deny.toml)"
	@echo "make sbom                 CycloneDX SBOM of the wasm build's crates: build/sbom/task-api.cdx.json"

dev:
	@bash scripts/dev.sh

token:
	@$(TOOLS); node scripts/token.mjs $(USER_ID)

# Cheap checks first; the test tools (setup-test) before the build tools, so that a fresh clone
# runs `npm ci` once, with the devDependencies.
test: setup-test fmt docs config-check lock-check migrations-lint workflows-lint lint unit build deploy-check \
	rollout-check lean-check integration client-check browser conformance deny fuzz-smoke sbom
	@echo "make test: all checks passed"

# What building, `make dev` and deploying need (no Python, no test packages).
setup:
	@bash scripts/setup.sh

# setup, plus what only the tests need (npm devDependencies, schemathesis, zizmor).
setup-test:
	@bash scripts/setup-test.sh

build: setup
	@bash scripts/build.sh

# The worker, and the crates with their own workspaces (fuzz/, bench/loadgen, bench/delay-proxy).
fmt:
	cargo fmt --all -- --check
	@for crate in fuzz bench/loadgen bench/delay-proxy; do cargo fmt --manifest-path $$crate/Cargo.toml --all -- --check || exit 1; done

docs:
	@$(TOOLS); node scripts/check-docs.mjs

# wrangler.toml's staging and production are complete (bindings and vars are not inherited).
config-check: setup
	@$(TOOLS); node scripts/check-config.mjs

# `npm ci` accepts the lock file on every supported platform.
lock-check:
	@node scripts/lock-platforms.mjs --check

# squawk over migrations/ (.squawk.toml); every exception is justified in its file.
migrations-lint: setup-test
	@$(TOOLS); squawk --config .squawk.toml migrations/*.sql && echo "squawk: migrations/ clean"

# zizmor over the workflows, offline (no GitHub API calls).
workflows-lint: setup-test
	@$(TOOLS); "$$TOOLS_DIR/zizmor/bin/zizmor" --offline --no-progress --strict-collection .github/workflows

lint: setup
	cargo clippy --all-targets --locked -- -D warnings
	cargo clippy --lib --locked --target wasm32-unknown-unknown -- -D warnings

unit:
	@if cargo nextest --version >/dev/null 2>&1; then cargo nextest run --locked; else cargo test --locked; fi

soak: setup-test build
	@$(TOOLS); node tests/soak/soak.mjs

bench: setup-test build
	@bash bench/run.sh

integration: setup-test build
	@$(TOOLS); node --test --test-reporter=spec tests/integration/main.test.mjs

# clients/typescript: its src/schema.d.ts is what openapi-typescript makes of the built worker's
# /openapi.json (else: stale, regenerate and commit), and the client type-checks with tsc, as do
# README.md's TypeScript snippets and the browser suite's page script (scripts/check-snippets.mjs).
client-check: setup-test build
	@$(TOOLS); node clients/typescript/scripts/generate-schema.mjs --check
	@$(TOOLS); clients/typescript/node_modules/.bin/tsc -p clients/typescript --noEmit && echo "tsc: clients/typescript type-checks"
	@$(TOOLS); node scripts/check-snippets.mjs
	@$(TOOLS); node --test --test-reporter=dot clients/typescript/test/token.test.mjs && echo "clients/typescript: token handling tests pass"

# Headless Chromium (tests/browser/): a front end on another origin through Better Auth's client
# and clients/typescript; /docs rendered, with screenshots in tests/browser/artifacts/.
browser: setup-test build
	@$(TOOLS); node --test --test-reporter=spec --test-concurrency=1 tests/browser/main.test.mjs

# schemathesis against /openapi.json: every check, positive and negative data, all phases.
conformance: setup-test build
	@$(TOOLS); node tests/schemathesis/run.mjs

# Both environments bundled as `wrangler deploy --env` would, and production as `wrangler versions
# upload --env` would (the pipeline's rollout).
deploy-check: build
	@bash scripts/deploy.sh staging --dry-run
	@bash scripts/deploy.sh production --dry-run

# scripts/rollout.sh's decisions, against a stand-in wrangler and a stand-in Worker.
rollout-check: setup-test
	@$(TOOLS); node --test --test-reporter=spec tests/deploy/rollout.test.mjs

# Setup, build, deploy dry runs and `make dev` in a copy of the tree with Python hidden.
lean-check: build
	@$(TOOLS); node tests/lean/check.mjs

deploy: setup
	@bash scripts/deploy.sh "$(ENV)"

rollback: setup
	@bash scripts/rollback.sh "$(ENV)" "$(VERSION)"

migrate: setup
	@test -n "$$DATABASE_URL" || { echo "set DATABASE_URL"; exit 2; }
	@$(TOOLS); dbmate --url "$$(node scripts/dburl.mjs migrate "$$DATABASE_URL")" --migrations-dir migrations --no-dump-schema up

# Coverage-guided fuzzing of the parsers that see attacker bytes (fuzz/README.md): every target
# for FUZZ_SECONDS each; fuzz-smoke (in `make test`) a few seconds each, seeds included.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
fuzz: setup-test
	@bash fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: setup-test
	@bash fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

# Licences, bans and duplicates, sources (deny.toml). Advisories need the RustSec database,
# which these machines cannot fetch: SECURITY.md gives the command to run where it can be.
deny: setup-test
	@$(TOOLS); cargo deny --locked check licenses bans sources

# The software bill of materials of the deployed wasm build's crates (CycloneDX JSON), an
# artifact under build/ (git-ignored): regenerate it for the commit you ship.
sbom: setup-test
	@$(TOOLS); cargo cyclonedx --format json --spec-version 1.5 --target wasm32-unknown-unknown --override-filename task-api.cdx \
		&& mkdir -p build/sbom && mv task-api.cdx.json build/sbom/ && echo "sbom: build/sbom/task-api.cdx.json"

clean:
	rm -rf build dist target .wrangler
