#!/usr/bin/env bash
# Builds the worker into build/ with the project's pinned tools (installed on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
worker-build --release
