#!/usr/bin/env bash
# Builds the worker into build/ with the project's pinned tools (installed on first use), and copies
# the API reference's script into public/ for the /docs page (both git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
worker-build --release

# /docs (src/openapi.rs, DOCS_HTML) loads the API reference's script from the worker's own origin,
# never from a CDN: the standalone browser bundle of the npm package @scalar/api-reference, at the
# exact version package-lock.json pins, served from public/ as Workers Static Assets ([assets] in
# wrangler.toml). Copied, not committed (git-ignored): an upgrade is a change to package.json.
scalar=node_modules/@scalar/api-reference/dist/browser/standalone.js
test -f "$scalar" || { echo "build: $scalar is missing (scripts/setup.sh installs it)" >&2; exit 1; }
cp "$scalar" public/docs/assets/scalar-api-reference.js
