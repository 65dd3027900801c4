#!/usr/bin/env bash
# `make dev`: install what is missing, provide a migrated database, and serve the API with
# `wrangler dev` on 127.0.0.1:${PORT:-8787} until interrupted, stopping everything it started.
#
#   DATABASE_URL          use this database (local PostgreSQL or Neon); otherwise an embedded
#                         PostgreSQL (PGlite) with its data in .data/pglite, kept across runs
#   JWT_SECRET            the HS256 secret (or BETTER_AUTH_SECRET); otherwise .dev.vars
#   BETTER_AUTH_URL       a Better Auth server whose JWKS-signed tokens to accept (likewise
#                         BETTER_AUTH_JWKS_URL, BETTER_AUTH_JWKS, JWT_ISSUER, JWT_AUDIENCE)
#                         With none of these anywhere, a JWT_SECRET is generated into .dev.vars;
#                         with a Better Auth URL but no secret, a CURSOR_SECRET.
#   CURSOR_SECRET         signs paging cursors (defaults to the HS256 secret)
#   PORT                  the API's port (8787); PGLITE_PORT the embedded database's (54329)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

PORT=${PORT:-8787}
PGLITE_PORT=${PGLITE_PORT:-54329}
log() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }

pids=()
runtime_dir=$(mktemp -d "${TMPDIR:-/tmp}/task-api-dev.XXXXXX")
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$runtime_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- auth -----------------------------------------------------------------------------------
secret=$(node scripts/token.mjs --print-secret 2>/dev/null || true)
auth_env=$(node scripts/token.mjs --auth-env)
if [ -z "$secret" ] && ! grep -qE "^BETTER_AUTH_(URL|JWKS_URL|JWKS)='.+'" <<<"$auth_env"; then
  log "no JWT_SECRET, BETTER_AUTH_SECRET or BETTER_AUTH_URL in the environment or .dev.vars: generating a JWT_SECRET into .dev.vars"
  secret=$(node -e 'console.log(require("crypto").randomBytes(48).toString("base64url"))')
  printf 'JWT_SECRET=%s\n' "$secret" >> .dev.vars
  chmod 600 .dev.vars
  auth_env=$(node scripts/token.mjs --auth-env)
fi
# JWKS-only: the worker refuses to sign paging cursors without a secret (docs/auth.md).
if [ -z "$secret" ] && ! grep -qE "^CURSOR_SECRET='.+'" <<<"$auth_env"; then
  log "JWKS tokens without JWT_SECRET, BETTER_AUTH_SECRET or CURSOR_SECRET: generating a CURSOR_SECRET into .dev.vars"
  printf 'CURSOR_SECRET=%s\n' "$(node -e 'console.log(require("crypto").randomBytes(48).toString("base64url"))')" >> .dev.vars
  chmod 600 .dev.vars
  auth_env=$(node scripts/token.mjs --auth-env)
fi
better_auth_url=$(node -e 'import("./scripts/token.mjs").then((m) => console.log(m.readDevVar("BETTER_AUTH_URL") ?? ""))')
# Handed to wrangler through a private file, never on a command line.
umask 077
printf '%s\n' "$auth_env" > "$runtime_dir/vars.env"

# --- database -------------------------------------------------------------------------------
if [ -n "${DATABASE_URL:-}" ]; then
  database_url=$DATABASE_URL
  log "using DATABASE_URL ($(node scripts/dburl.mjs redact "$database_url"))"
else
  mkdir -p .data
  log "starting the embedded PostgreSQL (PGlite) on 127.0.0.1:$PGLITE_PORT, data in .data/pglite"
  pglite-server -d .data/pglite -h 127.0.0.1 -p "$PGLITE_PORT" -m 100 &
  pids+=($!)
  database_url="postgres://postgres:postgres@127.0.0.1:$PGLITE_PORT/postgres"
fi

log "applying migrations"
dbmate --url "$(node scripts/dburl.mjs migrate "$database_url")" --migrations-dir migrations \
  --no-dump-schema --wait --wait-timeout 30s up

# --- serve ----------------------------------------------------------------------------------
export CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE
CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE=$(node scripts/dburl.mjs hyperdrive "$database_url")
log "building and starting wrangler dev on http://127.0.0.1:$PORT"
wrangler dev --ip 127.0.0.1 --port "$PORT" --env-file "$runtime_dir/vars.env" \
  --show-interactive-dev-session=false &
pids+=($!)

for _ in $(seq 1 600); do
  if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status < 500 ? 0 : 1), () => process.exit(1))' \
    "http://127.0.0.1:$PORT/health"; then break; fi
  if ! kill -0 "${pids[-1]}" 2>/dev/null; then log "wrangler dev exited"; exit 1; fi
  sleep 0.5
done

printf '\n  The task API is up on http://127.0.0.1:%s (Ctrl-C stops it and everything it started).\n' "$PORT" >&2
if [ -n "$secret" ]; then
  user=${DEV_USER_ID:-dev-user}
  token=$(JWT_SECRET=$secret node scripts/token.mjs "$user")
  cat >&2 <<MSG

  HS256 tokens signed with JWT_SECRET (else BETTER_AUTH_SECRET) are accepted. One for user
  '$user', valid for an hour (make token USER_ID=… mints more):

  curl -s -X POST http://127.0.0.1:$PORT/api/$user/tasks \\
    -H "Authorization: Bearer $token" \\
    -H 'Content-Type: application/json' -d '{"title":"Try the API"}'

  curl -s http://127.0.0.1:$PORT/api/$user/tasks -H "Authorization: Bearer $token"
MSG
fi
if [ -n "$better_auth_url" ]; then
  cat >&2 <<MSG

  Better Auth tokens are accepted, verified with the JWKS of $better_auth_url.
  Sign in there and take a token from its jwt plugin, e.g.:

  curl -s -c jar -X POST $better_auth_url/api/auth/sign-in/email \\
    -H 'Content-Type: application/json' -d '{"email":"you@example.com","password":"…"}'
  curl -s -b jar $better_auth_url/api/auth/token      # {"token":"…"}; "sub" is your user id
MSG
fi
echo >&2
wait "${pids[-1]}"
