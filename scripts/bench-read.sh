#!/usr/bin/env bash
# Bench part "read": see scripts/bench-read.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DVFS_CLI:?run this through scripts/bench}"
exec node scripts/bench-read.mjs
