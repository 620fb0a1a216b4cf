#!/usr/bin/env bash
# Runs the whole test suite: unit tests next to the code, and black-box tests in tests/ that
# start real `kiwi` processes (built first, so the black-box tests find the binary).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=build_env.sh
source scripts/build_env.sh
kiwi_build
cargo test --workspace "$@"
