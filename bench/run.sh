#!/usr/bin/env bash
# make bench: the task API under load, on this machine, against the built worker (build/) in
# workerd with a real PostgreSQL behind PgBouncer. Prints a table and writes
# bench/results/<time>.json, bench/results/latest.json and bench/results/latest.png.
#
# Phases (bench/README.md says why each is there):
#   ceilings   through the same workerd at 100 connections: a 401 for a request without a
#              token and the router's 404 for GET / (no database), GET /health (one pooled
#              connection and `select 1`, no auth); and `pgbench -S` through the same
#              PgBouncer at 100 clients;
#   read mix   capacity (closed loop, 100 connections, no think time), then a fixed 500 req/s
#              over 100 connections, coordinated omission corrected;
#   write mix  the same two tests with 60 % writes.
# The data is reseeded (100 users × 20 tasks) before each mixed phase.
#
# Settings (environment): BENCH_DATABASE_URL (a PostgreSQL server reached without a password,
# default postgres://postgres@127.0.0.1:5432/postgres), BENCH_CONNECTIONS (100),
# BENCH_RATE (500), BENCH_WARMUP (5 s), BENCH_SECONDS (25 s per measured phase),
# BENCH_CEILING_SECONDS (15 s), BENCH_POOL_SIZE (PgBouncer's server connections per
# database, 20), BENCH_WORKERS (workerd processes the connections are spread over, one per core
# by default), TOOLS_DIR; BENCH_RATE_LIMITS=off runs the worker without its rate-limit
# bindings (a diagnostic), BENCH_LIMITER=miniflare serves them with Miniflare's simulation
# instead of bench/limiter.mjs (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

SERVER_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
CONNECTIONS=${BENCH_CONNECTIONS:-100}
RATE=${BENCH_RATE:-500}
WARMUP=${BENCH_WARMUP:-5}
SECONDS_PER_PHASE=${BENCH_SECONDS:-25}
CEILING_SECONDS=${BENCH_CEILING_SECONDS:-15}
POOL_SIZE=${BENCH_POOL_SIZE:-20}
RATE_LIMITS=${BENCH_RATE_LIMITS:-on}
ENTRY=${BENCH_ENTRY:-direct}
LIMITER=${BENCH_LIMITER:-in-isolate}
# One workerd process per core: workerd runs an isolate's JavaScript on one thread, and for a
# stateless worker its way to use more cores is more processes, load-balanced (bench/README.md).
WORKERS=${BENCH_WORKERS:-$(nproc)}
PROFILE=${BENCH_PROFILE:-off}
DB=task_api_bench
PGBENCH_DB=task_api_bench_pgbench

log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

bash bench/install.sh
[ -f build/index.js ] || fail "build/index.js is missing: run make build (make bench does)"
LOADGEN="$TOOLS_DIR/bench-loadgen/release/task-api-loadgen"
PGBIN=$(pg_config --bindir 2>/dev/null || true)
PATH="$PATH:${PGBIN:-/usr/lib/postgresql/15/bin}"
command -v pgbench >/dev/null || fail "pgbench not found (PostgreSQL's client programs)"

# --- clean up whatever this script started, however it ends (Ctrl-C included) --------------
# Long-running steps run in the background and are waited for: `wait` returns as soon as a
# trapped signal arrives, while a foreground child that handles Ctrl-C itself (Goose does)
# would leave the script running on. Background children ignore the terminal's Ctrl-C, so
# cleanup stops each one by its pid.
work=$(mktemp -d "${TMPDIR:-/tmp}/task-api-bench.XXXXXX")
chmod 755 "$work"
pids=()
forget() { local keep=() pid; for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done; pids=("${keep[@]}"); }
# in_background COMMAND…: runs it as a child this script stops on exit; its pid is in $child.
in_background() { "$@" & child=$!; pids+=("$child"); }
# to_completion COMMAND…: runs it in the background and waits for it (interruptible).
to_completion() { local rc=0; in_background "$@"; wait "$child" || rc=$?; forget "$child"; return "$rc"; }
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql -q "$SERVER_URL" -c "drop database if exists $DB with (force)" \
    -c "drop database if exists $PGBENCH_DB with (force)" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

with_db() { node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' "$1" "$2"; }
free_port() { # the preferred port when it is free, else any free one
  python3 -c 'import socket, sys
for port in (int(sys.argv[1]), 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(s.getsockname()[1])
    break' "$1"
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what did not come up within the time allowed"
    sleep 0.2
  done
}

# --- database: fresh, migrated like the harness (dbmate, migrations/), seeded with SQL -------
DB_URL=$(with_db "$SERVER_URL" "$DB")
log "creating $DB and $PGBENCH_DB on $(node scripts/dburl.mjs redact "$SERVER_URL")"
psql -q -v ON_ERROR_STOP=1 "$SERVER_URL" \
  -c "drop database if exists $DB with (force)" -c "create database $DB" \
  -c "drop database if exists $PGBENCH_DB with (force)" -c "create database $PGBENCH_DB" >/dev/null
dbmate --url "$(node scripts/dburl.mjs migrate "$DB_URL")" --migrations-dir migrations \
  --no-dump-schema up >/dev/null
seed() { psql -q -v ON_ERROR_STOP=1 "$DB_URL" -f bench/seed.sql >/dev/null; }
seed
# pgbench's own tables (scale 1: 100,000 accounts) for the pooler's ceiling.
to_completion pgbench -q -i -s 1 "$(with_db "$SERVER_URL" "$PGBENCH_DB")" >/dev/null 2>&1 || fail "pgbench -i"

# --- PgBouncer: the local stand-in for Hyperdrive's pool ------------------------------------
# Transaction pooling: a server connection is lent for one transaction, so 100 clients share
# $POOL_SIZE PostgreSQL connections (2 cores gain nothing from more active backends). The worker
# sends unnamed statements only, which is what makes transaction pooling safe for it.
PGB_PORT=$(free_port 6432)
read -r PG_HOST PG_PORT PG_USER < <(node -e 'const u = new URL(process.argv[1]); console.log(u.hostname, u.port || 5432, decodeURIComponent(u.username) || "postgres")' "$SERVER_URL")
cat >"$work/pgbouncer.ini" <<EOF
[databases]
* = host=$PG_HOST port=$PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 1000
; the server trusts loopback; clients are only ever this benchmark
auth_type = trust
auth_file = $work/userlist.txt
; drivers send it at startup; PgBouncer refuses unknown startup parameters
ignore_startup_parameters = extra_float_digits
; SHOW STATS for the per-request database round trips (bench/cpu.py)
admin_users = $PG_USER
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
EOF
printf '"%s" ""\n' "$PG_USER" >"$work/userlist.txt"
# PgBouncer refuses to run as root; -u drops to the postgres account.
pgbouncer_user=()
[ "$(id -u)" -eq 0 ] && pgbouncer_user=(-u postgres) && chown postgres "$work"
in_background pgbouncer "${pgbouncer_user[@]}" "$work/pgbouncer.ini" >"$work/pgbouncer.out" 2>&1
POOLER_PID=$child
POOLER_URL="postgres://$PG_USER@127.0.0.1:$PGB_PORT/$DB"
wait_for 15 "PgBouncer on port $PGB_PORT" psql "$POOLER_URL" -Atc "select 1"
log "PgBouncer $PGB_PORT → $PG_HOST:$PG_PORT, transaction pooling, $POOL_SIZE server connections per database"

# --- the worker in workerd (Miniflare), Hyperdrive → PgBouncer ------------------------------
worker_args=(--entry "$ENTRY" --limiter "$LIMITER")
[ "$RATE_LIMITS" = off ] && worker_args+=(--no-rate-limits)
if [ "$PROFILE" = on ]; then
  INSPECTOR_PORT=$(free_port 9229)
  worker_args+=(--inspector-port "$INSPECTOR_PORT")
  WORKERS=1 # the inspector samples one isolate
fi
# One secret for every worker of the run, so each accepts the fixtures' tokens.
BENCH_AUTH_SECRET=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
export BENCH_AUTH_SECRET
WORKER_PIDS=()
# Starts the workers ($WORKERS workerd processes, each the same build and bindings), replacing
# the running ones: each measured phase gets fresh ones (see bench/README.md, "A fresh worker per
# phase"). WORKER_URL is the first, WORKER_URLS all of them (comma-separated) for the load
# generator, which spreads its connections over them. The log files collect every worker's lines.
start_worker() {
  local pid i
  for pid in "${WORKER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget "$pid"
  done
  WORKER_PIDS=()
  for ((i = 0; i < WORKERS; i++)); do
    rm -f "$work/worker.$i.url"
    in_background node bench/worker.mjs --database "$DB_URL" --pooler "$POOLER_URL" \
      --fixtures "$work/fixtures.$i.json" --ready "$work/worker.$i.url" --log "$work/worker.log" \
      "${worker_args[@]}" >>"$work/worker.out" 2>&1
    WORKER_PIDS+=("$child")
  done
  WORKER_URLS=
  for ((i = 0; i < WORKERS; i++)); do
    wait_for 60 "worker $i" test -s "$work/worker.$i.url"
    WORKER_URLS+="${WORKER_URLS:+,}$(cat "$work/worker.$i.url")"
  done
  WORKER_URL=${WORKER_URLS%%,*}
  cp "$work/fixtures.0.json" "$work/fixtures.json"
}
start_worker
log "$WORKERS worker(s) at $WORKER_URLS (workerd $(cat "$work/worker.0.url.workerd"), entry: $ENTRY,"\
" rate-limit bindings: $RATE_LIMITS ($LIMITER), profile: $PROFILE)"

# One request of each kind before measuring anything: a broken setup fails here, at once.
node -e '
  const [base, file] = process.argv.slice(1);
  const { users: [u] } = JSON.parse(require("fs").readFileSync(file, "utf8"));
  const h = { Authorization: `Bearer ${u.token}`, "Content-Type": "application/json" };
  const t = `${base}/api/${u.id}/tasks`;
  const checks = [
    ["GET", t, undefined, 200], ["GET", `${t}/${u.tasks[0]}`, undefined, 200],
    ["PUT", `${t}/${u.tasks[0]}`, JSON.stringify({ title: "checked" }), 200],
    ["PATCH", `${t}/${u.tasks[0]}/complete`, undefined, 200],
    ["POST", t, JSON.stringify({ title: "checked" }), 201],
    ["GET", `${base}/api/nobody/tasks`, undefined, 401],
  ];
  (async () => {
    for (const [method, url, body, want] of checks) {
      const r = await fetch(url, { method, body, headers: want === 401 ? {} : h });
      if (r.status !== want) throw new Error(`${method} ${url}: ${r.status} ${await r.text()}`);
    }
  })().catch((e) => { console.error(e.message); process.exit(1); });
' "$WORKER_URL" "$work/fixtures.json" || { tail -5 "$work/worker.log" >&2; fail "a request of the workload failed"; }

# --- load phases ----------------------------------------------------------------------------
# load NAME WORKLOAD SECONDS [RATE]: one Goose run, closed loop, or at RATE requests/s spread
# over the connections (each connection on its own schedule, times corrected from it: see
# bench/loadgen/src/main.rs). Its summary goes to $work/NAME.json. The HTTP client's settings
# (no gzip, 10 s timeout, 2 s idle limit) are set in the load generator, `configure_client`.
load() {
  local name=$1 workload=$2 seconds=$3 rate=${4:-}
  to_completion env -C "$work" BENCH_WORKLOAD="$workload" BENCH_FIXTURES="$work/fixtures.json" \
    BENCH_OUT="$work/$name.json" BENCH_USERS="$CONNECTIONS" ${rate:+BENCH_RATE=$rate} \
    BENCH_HOSTS="$WORKER_URLS" \
    "$LOADGEN" --host "$WORKER_URL" --users "$CONNECTIONS" --increase-rate "$CONNECTIONS" \
    --run-time "${seconds}s" --no-telnet --no-print-metrics -q \
    --no-transaction-metrics --no-scenario-metrics --no-percentiles-over-time \
    >"$work/$name.log" 2>&1 || { tail -20 "$work/$name.log" >&2; fail "load generator ($name)"; }
  # A phase against a dead worker or pooler would only measure refusals.
  local pid
  for pid in "${WORKER_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$work/worker.out" >&2; fail "a worker exited during $name"; }
  done
  kill -0 "$POOLER_PID" 2>/dev/null || { tail -20 "$work/pgbouncer.log" >&2; fail "PgBouncer exited during $name"; }
}
# measure NAME WORKLOAD SECONDS [RATE]: the same, with the CPU used by each program (and
# PgBouncer's transactions) sampled over the steady part of the run.
measure() {
  local name=$1 seconds=$3
  in_background python3 bench/cpu.py --delay 3 --seconds $((seconds - 4)) \
    --out "$work/$name.cpu.json" --pooler "postgres://$PG_USER@127.0.0.1:$PGB_PORT/pgbouncer" \
    --database "$DB"
  local sampler=$child
  log "$name: $seconds s${4:+ at $4 requests/s}"
  load "$@"
  wait "$sampler" || fail "CPU sampler ($name)"
  forget "$sampler"
}

# The one-phase and profile runs use the worker started above; a full run starts a fresh one
# per phase (`fresh`, below).
# Like `fresh` below, the warm-up runs the measured phase's own load: at its fixed rate, if any.
if [ -n "${BENCH_ONLY:-}" ] || [ "$PROFILE" = on ]; then
  phase=${BENCH_ONLY:-${BENCH_PROFILE_WORKLOAD:-read}}
  warmup_rate=
  [ "${phase%@*}" != "$phase" ] && warmup_rate=${phase#*@}
  log "warming up the worker ($WARMUP s${warmup_rate:+ at $warmup_rate requests/s})"
  load warmup "${phase%@*}" "$WARMUP" $warmup_rate
fi

# One phase only, for iterating: BENCH_ONLY=read, read@500 (fixed rate), write, health, ...
# Prints that phase's summary; writes no results.
if [ -n "${BENCH_ONLY:-}" ]; then
  workload=${BENCH_ONLY%@*}
  rate=
  [ "$workload" != "$BENCH_ONLY" ] && rate=${BENCH_ONLY#*@}
  seed
  measure only "$workload" "$SECONDS_PER_PHASE" $rate
  python3 - "$work/only.json" "$work/only.cpu.json" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
def row(name, op):
    lat = op.get("corrected_latency_ms") or op["latency_ms"]
    print(f"  {name:<10} {op['rps']:>8.1f} {op['errors']:>6} " + " ".join(f"{lat[k]:>8.2f}" for k in ("p50", "p95", "p99", "max")))
print("             req/s errors      p50      p95      p99      max  ms")
row("overall", result["overall"])
for name, op in sorted(result["operations"].items()):
    row(name, op)
if result["overall"].get("corrected_latency_ms"):
    lat = result["overall"]["latency_ms"]
    print("  uncorrected (from sending): " + ", ".join(f"{k} {lat[k]:.2f}" for k in ("p50", "p95", "p99", "max")))
for message in result.get("error_messages") or []:
    print(f"  error: {message}"[:300])
cpu = json.load(open(sys.argv[2]))
per_request = {name: 1000 * cores / result["overall"]["rps"] for name, cores in cpu["by_program"].items()}
print("  CPU per request (ms): " + ", ".join(f"{name} {ms:.3f}" for name, ms in sorted(per_request.items(), key=lambda kv: -kv[1])[:4]))
PY
  grep -v '^{' "$work/worker.log" "$work/worker.out" 2>/dev/null | head -n 10 | sed 's/^/  worker: /' || true
  exit 0
fi

# A profile run measures nothing: the inspector's sampling slows the worker down. It samples
# the worker while the chosen workload runs at capacity, writes the summary and stops.
if [ "$PROFILE" = on ]; then
  phase=${BENCH_PROFILE_WORKLOAD:-read} # read, write, health, ...; read@500 for a fixed rate
  workload=${phase%@*}
  rate=
  [ "$workload" != "$phase" ] && rate=${phase#*@}
  mkdir -p bench/results
  out="bench/results/profile-$workload${rate:+-at-$rate}-$(date -u +%Y%m%dT%H%M%SZ)"
  seed
  in_background node bench/profile.mjs --port "$INSPECTOR_PORT" --seconds $((SECONDS_PER_PHASE - 4)) \
    --url "$WORKER_URL" --settle 8 --heap-snapshot --out "$work/profile.cpuprofile"
  profiler=$child
  sleep 2
  log "profiling $workload at ${rate:+$rate requests/s}${rate:-capacity} ($SECONDS_PER_PHASE s)"
  load "profile-$workload" "$workload" "$SECONDS_PER_PHASE" $rate
  wait "$profiler" || fail "profiler"
  forget "$profiler"
  cp "$work/profile.txt" "$out.txt"
  cp "$work/profile.cpuprofile" "$out.cpuprofile"
  python3 -c 'import json, sys; print("throughput under the profiler:", json.load(open(sys.argv[1]))["overall"]["rps"], "requests/s")' \
    "$work/profile-$workload.json" >&2
  cat "$out.txt"
  log "wrote $out.txt and $out.cpuprofile (the profile opens in Chrome DevTools or speedscope)"
  exit 0
fi
# fresh NAME WORKLOAD [RATE]: new workers, warmed up with the load they are about to serve: the
# same workload, and for a fixed-rate phase the same rate. (A closed-loop warm-up before a
# fixed-rate phase first drove the workers through overload, and the phase started from the
# heap that left behind.)
fresh() {
  start_worker
  [ "$2" = read ] || [ "$2" = write ] && seed
  load "$1-warmup" "$2" "$WARMUP" ${3:-}
  [ "$2" = read ] || [ "$2" = write ] && seed
  return 0
}

fresh trivial trivial
measure trivial trivial "$CEILING_SECONDS"
fresh not-found not-found
measure not-found not-found "$CEILING_SECONDS"
fresh health health
measure health health "$CEILING_SECONDS"

log "pgbench -S through PgBouncer: $CONNECTIONS clients, $CEILING_SECONDS s"
to_completion pgbench -n -S -c "$CONNECTIONS" -j 2 -T "$CEILING_SECONDS" \
  "postgres://$PG_USER@127.0.0.1:$PGB_PORT/$PGBENCH_DB" >"$work/pgbench.txt" 2>&1 || {
  cat "$work/pgbench.txt" >&2; fail "pgbench"; }

for mix in read write; do
  fresh "$mix-capacity" "$mix"
  measure "$mix-capacity" "$mix" "$SECONDS_PER_PHASE"
  fresh "$mix-fixed" "$mix" "$RATE"
  measure "$mix-fixed" "$mix" "$SECONDS_PER_PHASE" "$RATE"
done

# --- report ---------------------------------------------------------------------------------
grep -h "prepared statement" "$work/worker.log" "$work/pgbouncer.log" >"$work/prepared.txt" 2>/dev/null || true
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
bench/.venv/bin/python bench/report.py --work "$work" --out "bench/results/$stamp.json" \
  --database-url "$DB_URL" --pgbouncer-log "$work/pgbouncer.log" \
  --setting connections="$CONNECTIONS" --setting rate="$RATE" --setting warmup_s="$WARMUP" \
  --setting seconds="$SECONDS_PER_PHASE" --setting ceiling_seconds="$CEILING_SECONDS" \
  --setting pool_size="$POOL_SIZE" --setting rate_limits="$RATE_LIMITS" --setting entry="$ENTRY" \
  --setting workers="$WORKERS" --setting limiter="$LIMITER" \
  --setting worker="fresh per phase"
cp "bench/results/$stamp.json" bench/results/latest.json
bench/.venv/bin/python bench/plot.py bench/results/latest.json bench/results/latest.png
log "wrote bench/results/$stamp.json, latest.json and latest.png"
