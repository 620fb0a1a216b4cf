#!/usr/bin/env bash
# Benchmark of scripting: the same redis-benchmark EVAL load against kiwi and against
# redis-server on this machine, printed as ops/s and as ratios of Redis's.
#
#   scripts/bench_eval.sh [-n REQUESTS] [-c CLIENTS] [--no-build]
#
# KIWI_BIN=path runs an already built binary instead of building the release one.
#
# Three loads: a writing EVAL (SET through a script: one Raft entry each, the script run on
# every replica), EVAL_RO (a read-only script, on the read path) and EVALSHA of a cached
# script. Baselines: redis-server with no persistence and with `--appendfsync always`.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=20000
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
# shellcheck source=bench_common.sh
source scripts/bench_common.sh
bench_kiwi

P_REDIS=$(free_port); P_AOF=$(free_port); P_KIWI=$(free_port); P_KIWI_RAFT=$(free_port)
mkdir -p "$WORK/redis" "$WORK/aof" "$WORK/kiwi"
redis-server --port "$P_REDIS" --save "" --appendonly no --dir "$WORK/redis" >/dev/null & PIDS+=($!)
redis-server --port "$P_AOF" --save "" --appendonly yes --appendfsync always --dir "$WORK/aof" >/dev/null & PIDS+=($!)
"$KIWI" --port "$P_KIWI" --db-path "$WORK/kiwi/data" --raft-addr "127.0.0.1:$P_KIWI_RAFT" --log-dir "$WORK/kiwi" >/dev/null 2>&1 & PIDS+=($!)
wait_ready "$P_REDIS"; wait_ready "$P_AOF"; wait_ready "$P_KIWI"

WRITE="return redis.call('set',KEYS[1],ARGV[1])"
READ="return redis.call('get',KEYS[1])"
SHA=$(redis-cli -p "$P_REDIS" script load "$WRITE")
redis-cli -p "$P_AOF" script load "$WRITE" >/dev/null
redis-cli -p "$P_KIWI" script load "$WRITE" >/dev/null

# The test's name is the command line, commas and all: the fields are split on '","'.
one() { # port name command... -> "rps"
    local port=$1 name=$2
    shift 2
    redis-benchmark -p "$port" -c "$CLIENTS" -n "$REQUESTS" -r 100000 --csv "$@" 2>/dev/null \
        | tail -n +2 | awk -F'","' -v n="$name" '{printf "%s,%s\n", n, $2}'
}
run() { # port -> csv lines "name,rps"
    one "$1" eval EVAL "$WRITE" 1 key:__rand_int__ v
    one "$1" evalsha EVALSHA "$SHA" 1 key:__rand_int__ v
    one "$1" eval_ro EVAL_RO "$READ" 1 key:__rand_int__
}

printf "clients=%s requests=%s (ops/s)\n" "$CLIENTS" "$REQUESTS"
run "$P_REDIS" > "$WORK/r.csv"
run "$P_AOF" > "$WORK/a.csv"
run "$P_KIWI" > "$WORK/k.csv"
printf "%-8s %12s %12s %12s %9s %9s\n" test redis redis-aof kiwi "kiwi/redis" "kiwi/aof"
join -t, <(sort "$WORK/r.csv") <(sort "$WORK/a.csv") | join -t, - <(sort "$WORK/k.csv") \
    | awk -F, '{printf "%-8s %12.0f %12.0f %12.0f %9.2fx %8.2fx\n", $1, $2, $3, $4, $4/$2, $4/$3}'
