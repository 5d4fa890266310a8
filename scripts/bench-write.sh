#!/usr/bin/env bash
# Bench part "write": see scripts/bench-write.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DVFS_CLI:?run this through scripts/bench}"
exec node scripts/bench-write.mjs
