#!/usr/bin/env bash
# The pipeline's gradual deploy of an environment (production), after its migrations:
#
#   1. `wrangler versions upload --env ENV`: the new version, serving no traffic yet;
#   2. `wrangler versions deploy NEW@P% OLD@(100-P)%`: P % of requests (ROLLOUT_PERCENT, 10) go to
#      it, the rest stay on the version that served all of them;
#   3. scripts/smoke.mjs against the new version (pinned by the version-override header), again
#      after ROLLOUT_WAIT_SECONDS (300) of real traffic;
#   4. `wrangler versions deploy NEW@100%`, and a last smoke test.
# A failed check in 3 or 4 gives the old version all traffic back (`versions deploy OLD@100%`)
# and fails. The first deploy of an environment is `make deploy ENV=…` by hand (docs/operations.md):
# this script needs a version serving all traffic to come back to, and refuses a split it did
# not make (a rollout left half-way: finish or undo it first).
#
#   scripts/rollout.sh ENV        needs CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, BASE_URL
#                                 (the environment's URL) and SMOKE_JWT_SECRET
set -euo pipefail
cd "$(dirname "$0")/.."
env_name=${1:?usage: scripts/rollout.sh staging|production}
: "${BASE_URL:?set BASE_URL to the URL of the environment}"
percent=${ROLLOUT_PERCENT:-10}
wait_seconds=${ROLLOUT_WAIT_SECONDS:-300}
source scripts/env.sh
log() { printf '\033[1m[rollout]\033[0m %s\n' "$*" >&2; }

worker=$(node scripts/check-config.mjs --deployable "$env_name")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The version serving all traffic now.
wrangler deployments status --env "$env_name" --json > "$work/status.json"
old=$(node -e '
  const versions = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).versions ?? [];
  if (versions.length !== 1 || versions[0].percentage !== 100) {
    console.error(`the current deployment splits traffic (${JSON.stringify(versions)}): finish or undo that rollout first`);
    process.exit(1);
  }
  console.log(versions[0].version_id);' "$work/status.json")

message="${GITHUB_SHA:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
WRANGLER_OUTPUT_FILE_PATH="$work/upload.ndjson" \
  wrangler versions upload --env "$env_name" --message "$message"
new=$(node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
  const upload = lines.find((line) => line.type === "version-upload");
  if (!upload?.version_id) { console.error("wrangler reported no uploaded version"); process.exit(1); }
  console.log(upload.version_id);' "$work/upload.ndjson")
log "uploaded $worker version $new; $old serves all traffic"

wrangler versions deploy "$new@$percent%" "$old@$((100 - percent))%" --env "$env_name" --yes \
  --message "rollout of $message: $percent %"
check() { node scripts/smoke.mjs "$BASE_URL" --version "$worker=$new"; }
undo() {
  log "the new version failed its checks: all traffic back to $old"
  wrangler versions deploy "$old@100%" --env "$env_name" --yes --message "rollout of $message undone: checks failed"
  exit 1
}
check || undo
log "waiting ${wait_seconds}s with $percent % of traffic on $new"
sleep "$wait_seconds"
check || undo
wrangler versions deploy "$new@100%" --env "$env_name" --yes --message "rollout of $message: 100 %"
node scripts/smoke.mjs "$BASE_URL" || undo
log "$worker: $new serves all traffic (the one before, for wrangler rollback: $old)"
