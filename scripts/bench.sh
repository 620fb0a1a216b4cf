#!/usr/bin/env bash
# Benchmark: the same redis-benchmark load against kiwi and against redis-server on this machine,
# in the same run, printed as ops/s and as ratios of Redis's.
#
#   scripts/bench.sh [-n REQUESTS] [-c CLIENTS] [--no-build]
#
# KIWI_BIN=path runs an already built binary instead of building the release one.
#
# Baselines: `redis-server` with no persistence (the speed bar for reads) and with
# `--appendonly yes --appendfsync always` (durable on every write, as kiwi is).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=100000
CLIENTS=50
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        -n) REQUESTS="$2"; shift 2 ;;
        -c) CLIENTS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
TESTS="set,get,incr,lpush,hset"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kiwi-target}"
if [ -n "${KIWI_BIN:-}" ]; then
    KIWI="$KIWI_BIN"
else
    # shellcheck source=release_env.sh
    source scripts/release_env.sh
    if [ "$BUILD" = 1 ]; then cargo build --release --bin kiwi; fi
    KIWI="$CARGO_TARGET_DIR/release/kiwi"
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
    local port=$1
    for _ in $(seq 1 500); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    echo "server on port $port did not start" >&2; exit 1
}

P_REDIS=$(free_port); P_AOF=$(free_port); P_KIWI=$(free_port); P_KIWI_RAFT=$(free_port)
mkdir -p "$WORK/redis" "$WORK/aof" "$WORK/kiwi"
redis-server --port "$P_REDIS" --save "" --appendonly no --dir "$WORK/redis" >/dev/null & PIDS+=($!)
redis-server --port "$P_AOF" --save "" --appendonly yes --appendfsync always --dir "$WORK/aof" >/dev/null & PIDS+=($!)
"$KIWI" --port "$P_KIWI" --db-path "$WORK/kiwi/data" --raft-addr "127.0.0.1:$P_KIWI_RAFT" --log-dir "$WORK/kiwi" & PIDS+=($!)
wait_ready "$P_REDIS"; wait_ready "$P_AOF"; wait_ready "$P_KIWI"

run() { # port pipeline -> csv lines "TEST,rps,p50,p99"
    redis-benchmark -p "$1" -c "$CLIENTS" -n "$REQUESTS" -P "$2" -r 100000 -t "$TESTS" --csv 2>/dev/null \
        | tail -n +2 | tr -d '"' | awk -F, '{print $1","$2","$5","$7}'
}

printf "clients=%s requests=%s (ops/s; latency p50/p99 ms)\n" "$CLIENTS" "$REQUESTS"
for P in 1 16; do
    run "$P_REDIS" "$P" > "$WORK/r.csv"
    run "$P_AOF" "$P" > "$WORK/a.csv"
    run "$P_KIWI" "$P" > "$WORK/k.csv"
    echo
    echo "pipeline -P $P"
    printf "%-8s %12s %12s %12s %9s %11s %14s\n" test redis redis-aof kiwi "kiwi/redis" "kiwi/aof" "kiwi p50/p99"
    join -t, <(sort "$WORK/r.csv") <(sort "$WORK/a.csv") | join -t, - <(sort "$WORK/k.csv") \
        | awk -F, '{printf "%-8s %12.0f %12.0f %12.0f %9.2fx %10.2fx %7s/%s\n", $1, $2, $5, $8, $8/$2, $8/$5, $9, $10}'
done
echo
echo "memory (RSS after the run): redis $(ps -o rss= -p "${PIDS[0]}") KiB, redis-aof $(ps -o rss= -p "${PIDS[1]}") KiB, kiwi $(ps -o rss= -p "${PIDS[2]}") KiB"
