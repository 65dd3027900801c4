#!/usr/bin/env bash
# `make rollback ENV=staging|production [VERSION=<version id>]` and the rollback workflow:
# `wrangler rollback --env ENV`: all traffic to VERSION at once, by default the version that
# served before the current one. The database is not rolled back (no migration is undone):
# that is why every migration must work with the version before it (docs/operations.md).
# A rollout still at its first percentage is undone by scripts/rollout.sh itself.
set -euo pipefail
cd "$(dirname "$0")/.."
env_name=${1:-}
version=${2:-}
case "$env_name" in
  staging | production) ;;
  *) echo "usage: make rollback ENV=staging|production [VERSION=<version id>]" >&2; exit 2 ;;
esac
# A version id is a UUID; anything else (a flag, say) is refused rather than passed on.
if [ -n "$version" ] && ! [[ $version =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; then
  echo "rollback: '$version' is not a version id (wrangler versions list --env $env_name)" >&2
  exit 2
fi
source scripts/env.sh
wrangler rollback ${version:+"$version"} --env "$env_name" --yes --message "${ROLLBACK_MESSAGE:-make rollback ENV=$env_name}"
