#!/usr/bin/env bash
# Builds kiwi (release) and starts a single node with built-in defaults:
# RESP on 127.0.0.1:7379, data under ./kiwi-data. Extra arguments go to kiwi (see `kiwi --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=release_env.sh
source scripts/release_env.sh
cargo build --release --bin kiwi
exec "$CARGO_TARGET_DIR/release/kiwi" "$@"
