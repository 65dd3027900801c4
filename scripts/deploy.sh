#!/usr/bin/env bash
# `make deploy ENV=staging|production`: `wrangler deploy --env ENV`, all traffic to the new
# version at once (the pipeline deploys production gradually instead: scripts/rollout.sh).
# Refuses while wrangler.toml still has the environment's placeholder Hyperdrive id.
#
#   scripts/deploy.sh ENV --dry-run   build and bundle as `wrangler deploy --env ENV` would (and,
#                                     for production, `wrangler versions upload`), upload nothing
#                                     (`make deploy-check`, no login needed); output in dist/ENV*
# A real deploy needs a login: `wrangler login`, or CLOUDFLARE_API_TOKEN and
# CLOUDFLARE_ACCOUNT_ID in the environment (the pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
env_name=${1:-}
case "$env_name" in
  staging | production) ;;
  *) echo "usage: make deploy ENV=staging|production (scripts/deploy.sh ENV [--dry-run])" >&2; exit 2 ;;
esac
source scripts/env.sh

if [ "${2:-}" = "--dry-run" ]; then
  node scripts/check-config.mjs
  rm -rf "dist/$env_name" "dist/$env_name-version"
  wrangler deploy --env "$env_name" --dry-run --outdir "dist/$env_name"
  # Only production is deployed as uploaded versions (scripts/rollout.sh).
  if [ "$env_name" = production ]; then
    wrangler versions upload --env "$env_name" --dry-run --outdir "dist/$env_name-version"
  fi
  exit 0
fi
node scripts/check-config.mjs --deployable "$env_name" >/dev/null
wrangler deploy --env "$env_name" --message "${DEPLOY_MESSAGE:-make deploy ENV=$env_name}"
