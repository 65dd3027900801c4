#!/usr/bin/env bash
# Installs what only the tests use, on top of scripts/setup.sh's build tools: the npm
# devDependencies (Miniflare, pg, Better Auth, playwright-core, squawk), the TypeScript client's
# own packages (clients/typescript: openapi-fetch, openapi-typescript, TypeScript), Debian's
# chromium for the browser suite, and two PyPI tools, each
# in its own virtualenv under $TOOLS_DIR: schemathesis (`make conformance`) and zizmor
# (`make workflows-lint`), and three cargo tools (cargo-fuzz, cargo-deny, cargo-cyclonedx). This is the only script that needs Python (3 with venv); `make dev`,
# the build and `wrangler deploy` never run it. Idempotent, like setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_NPM_DEV=1 bash scripts/setup.sh
source scripts/env.sh

SCHEMATHESIS_VERSION=4.32.5
ZIZMOR_VERSION=1.32.0

log() { printf '\033[1m[setup-test]\033[0m %s\n' "$*" >&2; }

# A PyPI tool in its own virtualenv at $TOOLS_DIR/<name>, reinstalled when `<name> --version`
# does not print the pinned version.
pypi_tool() {
  local name=$1 version=$2
  if [ "$("$TOOLS_DIR/$name/bin/$name" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n 1)" != "$version" ]; then
    command -v python3 >/dev/null || { log "the tests need python3 (with venv) for $name"; exit 1; }
    log "installing $name $version into $TOOLS_DIR/$name"
    rm -rf "${TOOLS_DIR:?}/$name"
    python3 -m venv "$TOOLS_DIR/$name"
    "$TOOLS_DIR/$name/bin/pip" install --quiet --disable-pip-version-check "$name==$version"
  fi
}
pypi_tool schemathesis "$SCHEMATHESIS_VERSION"
pypi_tool zizmor "$ZIZMOR_VERSION"

# Debian's Chromium for the browser suite (tests/browser/, driven by playwright-core), when the
# machine has none; playwright's own browser download is never used. CHROMIUM names another.
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  command -v apt-get >/dev/null || { log "the browser suite needs Chromium (/usr/bin/chromium or CHROMIUM=)"; exit 1; }
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  log "installing Debian's chromium (apt-get) for tests/browser/"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# clients/typescript's packages, from its own lock file into its own node_modules: in the root's,
# TypeScript would also be an optional peer of a build package (vue, under @scalar/api-reference),
# so `npm ci --omit=dev` would install it for `make dev` and deploys too. The stamp records the
# lock file's hash, as scripts/setup.sh does.
client_lock_hash=$(node -e 'const c=require("crypto");process.stdout.write(c.createHash("sha256").update(require("fs").readFileSync("clients/typescript/package-lock.json")).digest("hex"))')
if [ "$(cat clients/typescript/node_modules/.setup-stamp 2>/dev/null || true)" != "$client_lock_hash" ]; then
  log "installing clients/typescript's npm packages (npm ci)"
  npm ci --prefix clients/typescript --no-audit --no-fund --loglevel=error
  echo "$client_lock_hash" > clients/typescript/node_modules/.setup-stamp
fi

# Cargo tools for the security checks, each pinned and built once into $TOOLS_DIR/bin:
# cargo-fuzz (`make fuzz`, `make fuzz-smoke`), cargo-deny (`make deny`),
# cargo-cyclonedx (`make sbom`). Skipped when `cargo <name> --version` prints the pinned version.
CARGO_FUZZ_VERSION=0.13.2
CARGO_DENY_VERSION=0.20.2
CARGO_CYCLONEDX_VERSION=0.5.9
cargo_tool() {
  local crate=$1 subcommand=$2 version=$3
  if ! cargo "$subcommand" --version 2>/dev/null | grep -qw -- "$version"; then
    log "installing $crate $version into $TOOLS_DIR (a few minutes, once)"
    cargo install -q --root "$TOOLS_DIR" --locked "$crate" --version "$version" --force
  fi
}
cargo_tool cargo-fuzz fuzz "$CARGO_FUZZ_VERSION"
cargo_tool cargo-deny deny "$CARGO_DENY_VERSION"
cargo_tool cargo-cyclonedx cyclonedx "$CARGO_CYCLONEDX_VERSION"
