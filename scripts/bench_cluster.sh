#!/usr/bin/env bash
# Three-node benchmark: a Kiwi cluster against an etcd cluster on this machine, in one run
# (write and read throughput and latency, memory, and leader kill -9 -> first successful
# write). See tests/src/bin/cluster_bench.rs for the method.
#
#   scripts/bench_cluster.sh [--clients 50] [--seconds 10]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v etcd >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq etcd-server >/dev/null
fi
# shellcheck source=release_env.sh
source scripts/release_env.sh
cargo build --release --bin kiwi --bin cluster_bench
exec "$CARGO_TARGET_DIR/release/cluster_bench" --kiwi "$CARGO_TARGET_DIR/release/kiwi" \
    --etcd "$(command -v etcd)" "$@"
