#!/usr/bin/env bash
# Builds kiwi and starts a single node with built-in defaults: RESP on 127.0.0.1:7379, data
# under ./kiwi-data. Extra arguments go to kiwi (see `kiwi --help`). The build is the one
# scripts/test.sh makes (scripts/build_env.sh): running both compiles RocksDB once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=build_env.sh
source scripts/build_env.sh
kiwi_build
exec "$KIWI_DEV_BIN" "$@"
