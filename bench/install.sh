#!/usr/bin/env bash
# Installs what bench/run.sh needs, each pinned and skipped when already present:
# - PgBouncer, Debian's package (the stand-in for Hyperdrive's pooling); its system service is
#   stopped and disabled, as run.sh starts its own with its own configuration and port;
# - the load generator (bench/loadgen, Goose from crates.io), built with its lock file into
#   $TOOLS_DIR/bench-loadgen (cargo rebuilds only what changed: a second or so when current);
# - the far-database phase's delay point (bench/delay-proxy, standard library only), built into
#   $TOOLS_DIR/bench-delay-proxy (seconds);
# - matplotlib for the plot, in bench/.venv (git-ignored), from bench/requirements.txt.
# The worker itself, Miniflare/workerd, dbmate and Node come from `make build` (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# Debian 12's PgBouncer; set BENCH_PGBOUNCER_DEB to another exact version on another release.
PGBOUNCER_DEB=${BENCH_PGBOUNCER_DEB:-1.18.0-1+deb12u1}

log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ "$(dpkg-query -W -f='${Version}' pgbouncer 2>/dev/null || true)" != "$PGBOUNCER_DEB" ]; then
  log "installing pgbouncer $PGBOUNCER_DEB (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "pgbouncer=$PGBOUNCER_DEB" >/dev/null
  # The package enables a service on port 6432; the benchmark runs its own instance instead.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now pgbouncer >/dev/null 2>&1 || true
  else
    as_root service pgbouncer stop >/dev/null 2>&1 || true
    as_root update-rc.d pgbouncer disable >/dev/null 2>&1 || true
  fi
fi

log "building the load generator (bench/loadgen; minutes the first time, then seconds)"
cargo build -q --release --locked --manifest-path bench/loadgen/Cargo.toml \
  --target-dir "$TOOLS_DIR/bench-loadgen"
cargo build -q --release --locked --manifest-path bench/delay-proxy/Cargo.toml \
  --target-dir "$TOOLS_DIR/bench-delay-proxy"

if ! cmp -s bench/requirements.txt bench/.venv/requirements.installed 2>/dev/null; then
  log "installing matplotlib into bench/.venv"
  rm -rf bench/.venv
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt bench/.venv/requirements.installed
fi
