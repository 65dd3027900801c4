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
#   write mix  the same two tests with 60 % writes;
#   far database  PgBouncer near the worker and a fixed delay (20 ms each way) between it and
#              PostgreSQL (bench/delay-proxy, which also counts the database round trips):
#              each operation alone at the same fixed rate, its latency and round trips, then
#              the same at 0 ms (bench/far_report.py; bench/results/far-<time>.json).
# The data is reseeded (100 users × 20 tasks) before each mixed phase.
#
# Settings (environment): BENCH_DATABASE_URL (a PostgreSQL server reached without a password,
# default postgres://postgres@127.0.0.1:5432/postgres), BENCH_CONNECTIONS (100),
# BENCH_RATE (500), BENCH_WARMUP (5 s), BENCH_SECONDS (25 s per measured phase),
# BENCH_CEILING_SECONDS (15 s), BENCH_POOL_SIZE (PgBouncer's server connections per
# database, 20), BENCH_WORKERS (workerd processes the connections are spread over, one per core
# by default), TOOLS_DIR; BENCH_RATE_LIMITS=off runs the worker without its rate-limit
# bindings (a diagnostic), BENCH_LIMITER=miniflare serves them with Miniflare's simulation
# instead of bench/limiter.mjs (see bench/README.md). The far-database phase:
# BENCH_FAR_DELAY_MS (one-way delay, 20 ms), BENCH_FAR_SECONDS (per operation, 10 s),
# BENCH_FAR_RATE (BENCH_RATE), BENCH_FAR_POOL_SIZE (40), BENCH_FAR_CHECK_DELAY (PgBouncer's
# server_check_delay, 3600 s), BENCH_FAR_BASELINE=off skips the same phases at 0 ms;
# BENCH_FAR=off leaves the phase out; BENCH_ONLY=far runs it alone (and writes its results).
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
FAR=${BENCH_FAR:-on}
FAR_DELAY_MS=${BENCH_FAR_DELAY_MS:-20}
FAR_SECONDS=${BENCH_FAR_SECONDS:-10}
FAR_BASELINE=${BENCH_FAR_BASELINE:-on}
FAR_RATE=${BENCH_FAR_RATE:-$RATE}
# At a 40 ms round trip a server connection serves ~24 statements a second, so 500 req/s keep
# ~21 busy (Little's law); 40 leave room without nearing PostgreSQL's 100 connections.
FAR_POOL_SIZE=${BENCH_FAR_POOL_SIZE:-40}
# PgBouncer's server_check_delay for the far pooler (its default, 30, shows what it costs).
FAR_CHECK_DELAY=${BENCH_FAR_CHECK_DELAY:-3600}
ONLY=${BENCH_ONLY:-}
DB=task_api_bench
PGBENCH_DB=task_api_bench_pgbench

log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

bash bench/install.sh
[ -f build/index.js ] || fail "build/index.js is missing: run make build (make bench does)"
LOADGEN="$TOOLS_DIR/bench-loadgen/release/task-api-loadgen"
DELAY_PROXY="$TOOLS_DIR/bench-delay-proxy/release/task-api-delay-proxy"
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
if [ "$ONLY" != far ]; then
  to_completion pgbench -q -i -s 1 "$(with_db "$SERVER_URL" "$PGBENCH_DB")" >/dev/null 2>&1 || fail "pgbench -i"
fi

# --- PgBouncer: the local stand-in for Hyperdrive's pool ------------------------------------
# Transaction pooling: a server connection is lent for one transaction, so 100 clients share
# $POOL_SIZE PostgreSQL connections (2 cores gain nothing from more active backends). The worker
# sends unnamed statements only, which is what makes transaction pooling safe for it.
read -r PG_HOST PG_PORT PG_USER < <(node -e 'const u = new URL(process.argv[1]); console.log(u.hostname, u.port || 5432, decodeURIComponent(u.username) || "postgres")' "$SERVER_URL")
printf '"%s" ""\n' "$PG_USER" >"$work/userlist.txt"
# PgBouncer refuses to run as root; -u drops to the postgres account.
pgbouncer_user=()
[ "$(id -u)" -eq 0 ] && pgbouncer_user=(-u postgres) && chown postgres "$work"
# start_pgbouncer NAME PORT SERVER_HOST SERVER_PORT POOL_SIZE [SETTING…]: a PgBouncer on
# 127.0.0.1:PORT in front of SERVER, configured in $work/NAME.ini (the settings appended),
# logging to $work/NAME.log; sets POOLER_PID and POOLER_URL (the benchmark database through it).
start_pgbouncer() {
  local name=$1 port=$2 host=$3 server_port=$4 pool=$5 setting
  shift 5
  cat >"$work/$name.ini" <<EOF
[databases]
* = host=$host port=$server_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
pool_mode = transaction
default_pool_size = $pool
max_client_conn = 1000
; the server trusts loopback; clients are only ever this benchmark
auth_type = trust
auth_file = $work/userlist.txt
; drivers send it at startup; PgBouncer refuses unknown startup parameters
ignore_startup_parameters = extra_float_digits
; SHOW STATS for the per-request database round trips (bench/cpu.py)
admin_users = $PG_USER
logfile = $work/$name.log
pidfile = $work/$name.pid
EOF
  for setting in "$@"; do printf '%s\n' "$setting" >>"$work/$name.ini"; done
  in_background pgbouncer "${pgbouncer_user[@]}" "$work/$name.ini" >"$work/$name.out" 2>&1
  POOLER_PID=$child
  POOLER_LOG="$work/$name.log"
  POOLER_PORT=$port
  POOLER_URL="postgres://$PG_USER@127.0.0.1:$port/$DB"
  wait_for 15 "PgBouncer on port $port" psql "$POOLER_URL" -Atc "select 1"
}
if [ "$ONLY" != far ]; then
  PGB_PORT=$(free_port 6432)
  start_pgbouncer pgbouncer "$PGB_PORT" "$PG_HOST" "$PG_PORT" "$POOL_SIZE"
  log "PgBouncer $PGB_PORT → $PG_HOST:$PG_PORT, transaction pooling, $POOL_SIZE server connections per database"
fi

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
# One request of each kind before measuring anything: a broken setup fails here, at once.
check_requests() {
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
}
# The far-database phase starts its own workers, on its own pooler.
if [ "$ONLY" != far ]; then
  start_worker
  log "$WORKERS worker(s) at $WORKER_URLS (workerd $(cat "$work/worker.0.url.workerd"), entry: $ENTRY,"\
" rate-limit bindings: $RATE_LIMITS ($LIMITER), profile: $PROFILE)"
  check_requests
fi

# --- load phases ----------------------------------------------------------------------------
# load NAME WORKLOAD SECONDS [RATE]: one Goose run, closed loop, or at RATE requests/s spread
# over the connections (each connection on its own schedule, times corrected from it: see
# bench/loadgen/src/main.rs). Its summary goes to $work/NAME.json. The HTTP client's settings
# (no gzip, 10 s timeout, 2 s idle limit) are set in the load generator, `configure_client`.
# With LOAD_ITERATIONS set, each connection sends that many requests instead of running for
# SECONDS (so every request sent is answered before it ends); LOAD_FIXTURES replaces the
# fixtures file.
load() {
  local name=$1 workload=$2 seconds=$3 rate=${4:-}
  local span=(--run-time "${seconds}s")
  [ -n "${LOAD_ITERATIONS:-}" ] && span=(--iterations "$LOAD_ITERATIONS")
  to_completion env -C "$work" BENCH_WORKLOAD="$workload" \
    BENCH_FIXTURES="${LOAD_FIXTURES:-$work/fixtures.json}" \
    BENCH_OUT="$work/$name.json" BENCH_USERS="$CONNECTIONS" ${rate:+BENCH_RATE=$rate} \
    BENCH_HOSTS="$WORKER_URLS" \
    "$LOADGEN" --host "$WORKER_URL" --users "$CONNECTIONS" --increase-rate "$CONNECTIONS" \
    "${span[@]}" --no-telnet --no-print-metrics -q \
    --no-transaction-metrics --no-scenario-metrics --no-percentiles-over-time \
    >"$work/$name.log" 2>&1 || { tail -20 "$work/$name.log" >&2; fail "load generator ($name)"; }
  # A phase against a dead worker or pooler would only measure refusals.
  local pid
  for pid in "${WORKER_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$work/worker.out" >&2; fail "a worker exited during $name"; }
  done
  kill -0 "$POOLER_PID" 2>/dev/null || { tail -20 "$POOLER_LOG" >&2; fail "PgBouncer exited during $name"; }
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

# --- far database -----------------------------------------------------------------------------
# PgBouncer near the worker, as Hyperdrive is, and a fixed delay between it and PostgreSQL
# (bench/delay-proxy, which counts the database round trips that cross it). Each operation
# runs alone at the fixed rate with every connection sending the same number of requests, all
# answered before the phase ends, so the round trips counted between the phase's two readings
# of the delay point's counters, divided by its requests, are what one such request costs.
# Then the same phases once more with the delay set to 0 (same proxy, pooler, connections and
# workers): what the operation costs here without the distance.
FAR_OPS=(list get put complete create delete)
# far_control PATH [METHOD]: the delay point's control port (GET /stats, POST /delay?ms=N).
far_control() {
  python3 -c 'import sys, urllib.request
request = urllib.request.Request(sys.argv[1], method=sys.argv[2])
sys.stdout.write(urllib.request.urlopen(request, timeout=10).read().decode())' \
    "http://127.0.0.1:$FAR_CONTROL$1" "${2:-GET}" || fail "the delay point's control port ($1)"
}
far_stats() { far_control /stats >"$1"; }
# far_doomed N: N tasks for each connection to delete, and $work/fixtures.delete.json listing
# them (the load generator's `doomed`).
far_doomed() {
  local users per_user
  users=$(psql -At "$DB_URL" -c "select count(*) from users")
  per_user=$((($1 * CONNECTIONS + users - 1) / users))
  psql -q -v ON_ERROR_STOP=1 "$DB_URL" -c "insert into tasks (user_id, title)
    select id, format('doomed task %s', n) from users, generate_series(1, $per_user) as n" >/dev/null
  psql -At -v ON_ERROR_STOP=1 "$DB_URL" -c "select json_object_agg(user_id, ids) from (
    select user_id, json_agg(id order by title) as ids from tasks
    where title like 'doomed task %' group by user_id) as doomed" >"$work/doomed.json"
  python3 -c 'import json, sys
fixtures, doomed = (json.load(open(f)) for f in sys.argv[1:3])
for user in fixtures["users"]:
    user["doomed"] = doomed.get(user["id"], [])
json.dump(fixtures, open(sys.argv[3], "w"))' "$work/fixtures.json" "$work/doomed.json" "$work/fixtures.delete.json"
}
# far_phases PREFIX: each operation alone, its results in $work/PREFIX-<op>.*.
far_phases() {
  local prefix=$1 op fixtures sampler
  local sampled=$((FAR_SECONDS > 5 ? FAR_SECONDS - 3 : 2))
  for op in "${FAR_OPS[@]}"; do
    seed
    fixtures=$work/fixtures.json
    if [ "$op" = delete ]; then
      far_doomed "$FAR_ITERATIONS"
      fixtures=$work/fixtures.delete.json
    fi
    log "far database ($prefix), $op: $((FAR_ITERATIONS * CONNECTIONS)) requests at $FAR_RATE requests/s"
    far_stats "$work/$prefix-$op.before.json"
    # The CPU each program used, and PgBouncer's wait for a server connection, mid-phase.
    in_background python3 bench/cpu.py --delay 2 --seconds "$sampled" --out "$work/$prefix-$op.cpu.json" \
      --pooler "postgres://$PG_USER@127.0.0.1:$POOLER_PORT/pgbouncer" --database "$DB"
    sampler=$child
    LOAD_ITERATIONS=$FAR_ITERATIONS LOAD_FIXTURES=$fixtures load "$prefix-$op" "$op" 0 "$FAR_RATE"
    far_stats "$work/$prefix-$op.after.json"
    wait "$sampler" || fail "CPU sampler ($prefix $op)"
    forget "$sampler"
    kill -0 "$DELAY_PID" 2>/dev/null || { cat "$work/delay.err" >&2; fail "the delay point exited during $op"; }
  done
}
far_database() {
  # Requests per connection, so each phase offers FAR_RATE requests/s for about FAR_SECONDS.
  FAR_ITERATIONS=$(((FAR_RATE * FAR_SECONDS + CONNECTIONS - 1) / CONNECTIONS))
  local open deadline stamp
  # The near pooler's server connections go back to PostgreSQL (max_connections) first.
  if [ -n "${POOLER_PID:-}" ]; then
    kill "$POOLER_PID" 2>/dev/null || true
    wait "$POOLER_PID" 2>/dev/null || true
    forget "$POOLER_PID"
  fi
  rm -f "$work/delay.ready"
  in_background "$DELAY_PROXY" --target "$PG_HOST:$PG_PORT" --delay-ms "$FAR_DELAY_MS" \
    --ready "$work/delay.ready" 2>"$work/delay.err"
  DELAY_PID=$child
  wait_for 15 "the delay point" test -s "$work/delay.ready"
  read -r DELAY_PORT FAR_CONTROL < <(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["port"], r["control"])' "$work/delay.ready")
  # Warm server connections are reused as they are: in transaction pooling PgBouncer sends no
  # reset query (server_reset_query runs in session pooling only), and server_check_delay
  # (30 s by default) would put a `select 1` round trip before a connection idle that long.
  # min_pool_size keeps the pool at its size (the warm-up below opens it).
  start_pgbouncer pgbouncer-far "$(free_port 6433)" 127.0.0.1 "$DELAY_PORT" "$FAR_POOL_SIZE" \
    "; the far-database phase (bench/run.sh, far_database)" \
    "min_pool_size = $FAR_POOL_SIZE" "server_check_delay = $FAR_CHECK_DELAY"
  log "far database: PgBouncer → delay point ($FAR_DELAY_MS ms each way) → $PG_HOST:$PG_PORT," \
    "$FAR_POOL_SIZE server connections"
  seed
  start_worker
  check_requests
  log "far database: warming up (3 s closed loop, then $WARMUP s of the write mix at $FAR_RATE requests/s)"
  far_stats "$work/far-warmup.before.json"
  # The whole pool is opened before the phases, so none pays a connection setup. PgBouncer
  # 1.18 fills min_pool_size only while clients are active, a few connections a second, so a
  # low rate would still be opening connections in the first phases: a closed loop at
  # $CONNECTIONS connections wants more server connections than the pool has, and opens them all.
  load far-fill write 3
  load far-warmup write "$WARMUP" "$FAR_RATE"
  # A guard: the phases should find the whole pool open (one that opens connections shows it).
  deadline=$((SECONDS + 30))
  until open=$(far_control /stats | python3 -c 'import json, sys; s = json.load(sys.stdin); print(s["connections_opened"] - s["connections_closed"])') &&
    [ "$open" -ge "$FAR_POOL_SIZE" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { log "only $open of $FAR_POOL_SIZE server connections open; going on"; break; }
    sleep 0.5
  done
  far_stats "$work/far-warmup.after.json"
  far_phases far
  if [ "$FAR_BASELINE" = on ]; then
    far_control "/delay?ms=0" POST >/dev/null
    far_phases local
  fi
  mkdir -p bench/results
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  python3 bench/far_report.py --work "$work" --out "bench/results/far-$stamp.json" \
    --database-url "$DB_URL" --operations "${FAR_OPS[*]}" \
    --setting delay_ms_each_way="$FAR_DELAY_MS" --setting rate="$FAR_RATE" \
    --setting connections="$CONNECTIONS" --setting requests_per_connection="$FAR_ITERATIONS" \
    --setting pool_size="$FAR_POOL_SIZE" --setting min_pool_size="$FAR_POOL_SIZE" \
    --setting server_check_delay_s="$FAR_CHECK_DELAY" --setting warmup_s="$WARMUP" \
    --setting baseline="$FAR_BASELINE" \
    --setting workers="$WORKERS" --setting rate_limits="$RATE_LIMITS" --setting limiter="$LIMITER" \
    --setting entry="$ENTRY" || fail "far-database report"
  cp "bench/results/far-$stamp.json" bench/results/far-latest.json
  log "wrote bench/results/far-$stamp.json and far-latest.json"
}
if [ "$ONLY" = far ]; then
  far_database
  exit 0
fi

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

if [ "$FAR" = on ]; then
  far_database
fi
