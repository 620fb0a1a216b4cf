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
# shellcheck source=bench_common.sh
source scripts/bench_common.sh
bench_kiwi

P_REDIS=$(free_port); P_AOF=$(free_port); P_KIWI=$(free_port); P_KIWI_RAFT=$(free_port)
mkdir -p "$WORK/redis" "$WORK/aof" "$WORK/kiwi"
redis-server --port "$P_REDIS" --save "" --appendonly no --dir "$WORK/redis" >/dev/null & PIDS+=($!)
redis-server --port "$P_AOF" --save "" --appendonly yes --appendfsync always --dir "$WORK/aof" >/dev/null & PIDS+=($!)
"$KIWI" --port "$P_KIWI" --db-path "$WORK/kiwi/data" --raft-addr "127.0.0.1:$P_KIWI_RAFT" --log-dir "$WORK/kiwi" & PIDS+=($!)
wait_ready "$P_REDIS"; wait_ready "$P_AOF"; wait_ready "$P_KIWI"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# One test at a time, so each gets the server's CPU time it used: on a small machine the load
# generator shares the cores, and CPU per request says what throughput alone cannot.
run() { # pid port pipeline -> csv lines "TEST,rps,p50,p99,server CPU us/op"
    local t before after
    for t in ${TESTS//,/ }; do
        before=$(cpu_ticks "$1")
        redis-benchmark -p "$2" -c "$CLIENTS" -n "$REQUESTS" -P "$3" -r 100000 -t "$t" --csv 2>/dev/null \
            | tail -n +2 | tr -d '"' | awk -F, '{printf "%s,%s,%s,%s", $1, $2, $5, $7}'
        after=$(cpu_ticks "$1")
        awk -v d=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$REQUESTS" \
            'BEGIN {printf ",%.1f\n", d / hz * 1e6 / n}'
    done
}

printf "clients=%s requests=%s (ops/s; latency p50/p99 ms; server CPU time per request in us)\n" "$CLIENTS" "$REQUESTS"
for P in 1 16; do
    run "${PIDS[0]}" "$P_REDIS" "$P" > "$WORK/r.csv"
    run "${PIDS[1]}" "$P_AOF" "$P" > "$WORK/a.csv"
    run "${PIDS[2]}" "$P_KIWI" "$P" > "$WORK/k.csv"
    echo
    echo "pipeline -P $P"
    printf "%-8s %12s %12s %12s %9s %9s %14s %18s\n" test redis redis-aof kiwi "kiwi/redis" "kiwi/aof" "kiwi p50/p99" "CPU redis/aof/kiwi"
    join -t, <(sort "$WORK/r.csv") <(sort "$WORK/a.csv") | join -t, - <(sort "$WORK/k.csv") \
        | awk -F, '{printf "%-8s %12.0f %12.0f %12.0f %9.2fx %8.2fx %7s/%s %6s/%s/%s\n", $1, $2, $6, $10, $10/$2, $10/$6, $11, $12, $5, $9, $13}'
done
echo
echo "memory (RSS after the run): redis $(ps -o rss= -p "${PIDS[0]}") KiB, redis-aof $(ps -o rss= -p "${PIDS[1]}") KiB, kiwi $(ps -o rss= -p "${PIDS[2]}") KiB"
