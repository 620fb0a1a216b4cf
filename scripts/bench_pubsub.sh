#!/usr/bin/env bash
# Pub/Sub fan-out benchmark: one publisher and S subscribers on one channel (S = 1, 10, 50),
# against kiwi and against redis-server on this machine, in the same run; messages published
# and delivered per second, and kiwi's ratio of Redis's. Driven by tests/src/bin/pubsub_bench.rs.
#
#   scripts/bench_pubsub.sh [-n MESSAGES] [-s SIZE] [--no-build]
#
# KIWI_BIN=path runs an already built kiwi instead of building the release one (the bench
# driver is then taken from the same directory).
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES=100000
SIZE=64
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        -n) MESSAGES="$2"; shift 2 ;;
        -s) SIZE="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench_common.sh
source scripts/bench_common.sh
bench_kiwi pubsub_bench
BENCH="$(dirname "$KIWI")/pubsub_bench"
[ -x "$BENCH" ] || { echo "no pubsub_bench beside $KIWI: build the workspace" >&2; exit 1; }

P_REDIS=$(free_port); P_KIWI=$(free_port); P_KIWI_RAFT=$(free_port)
mkdir -p "$WORK/redis" "$WORK/kiwi"
redis-server --port "$P_REDIS" --save "" --appendonly no --dir "$WORK/redis" >/dev/null & PIDS+=($!)
"$KIWI" --port "$P_KIWI" --db-path "$WORK/kiwi/data" --raft-addr "127.0.0.1:$P_KIWI_RAFT" --log-dir "$WORK/kiwi" & PIDS+=($!)
wait_ready "$P_REDIS"; wait_ready "$P_KIWI"

printf "messages=%s size=%s bytes, 1 publisher (pipeline 64)\n" "$MESSAGES" "$SIZE"
printf "%-12s %14s %14s %14s %14s %10s %10s %8s\n" subscribers "redis pub/s" "kiwi pub/s" "redis dlv/s" "kiwi dlv/s" "pub ratio" "dlv ratio" "lost k/r"
for S in 1 10 50; do
    R=$("$BENCH" --port "$P_REDIS" --subscribers "$S" --messages "$MESSAGES" --size "$SIZE")
    K=$("$BENCH" --port "$P_KIWI" --subscribers "$S" --messages "$MESSAGES" --size "$SIZE")
    echo "$R,$K" | awk -F, '{printf "%-12s %14.0f %14.0f %14.0f %14.0f %9.2fx %9.2fx %4s/%s\n", $1, $3, $8, $4, $9, $8/$3, $9/$4, $10, $5}'
done
