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
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kiwi-target}"
if [ -z "${KIWI_BIN:-}" ]; then
    cargo build -p kiwi-node --bin kiwi
    export KIWI_BIN="$CARGO_TARGET_DIR/debug/kiwi"
fi
cargo build -p kiwi-tests --bin soak
exec "$CARGO_TARGET_DIR/debug/soak" "$@"
