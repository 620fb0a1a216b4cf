#!/usr/bin/env bash
# Soak run, by hand (not in CI): a three-node Kiwi cluster on loopback under a mixed
# SET/INCR/GET/MULTI load for N minutes while one fault at a time hits it (kill -9, SIGSTOP, a
# partition), then durability, linearizability and convergence checks. Exits non-zero on a
# violation. See tests/src/bin/soak.rs for the method.
#
#   scripts/soak.sh [--minutes 5] [--seed S] [--clients 4] [--keys 10] [--ops-per-key 100]
#
# KIWI_BIN=path runs an already built kiwi instead of building the dev one (point it at a copy
# if other builds share the target dir: restarted nodes run whatever the path holds then).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=build_env.sh
source scripts/build_env.sh
# One build of every binary (kiwi and soak among them), shared with the other scripts.
kiwi_build
export KIWI_BIN="${KIWI_BIN:-$KIWI_DEV_BIN}"
exec "$CARGO_TARGET_DIR/debug/soak" "$@"
