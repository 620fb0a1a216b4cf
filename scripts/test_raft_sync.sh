#!/usr/bin/env bash
# Checks replication: writes N keys through the leader, then reads every key from every node's
# own storage (READONLY, no forwarding) and reports whether all nodes agree.
#   scripts/test_raft_sync.sh [N]
set -euo pipefail
source "$(dirname "$0")/cluster_common.sh"
N="${1:-10}"
leader=$(leader_node) || { echo "no leader; is the cluster started and initialized?" >&2; exit 1; }
echo "1. writing $N keys through the leader (node $leader)"
stamp=$(date +%s%N)
for k in $(seq 1 "$N"); do
    out=$(redis-cli -h "$HOST" -p "$(resp_port "$leader")" set "sync:$k" "value-$k-$stamp")
    [ "$out" = OK ] || { echo "write of sync:$k failed: $out" >&2; exit 1; }
done
echo "2. waiting for every running node to apply them"
target=$(http_get "$leader" /raft/metrics | python3 -c 'import sys,json; print(json.load(sys.stdin)["committed"])')
for i in $(known_nodes); do
    is_running "$i" || continue
    for _ in $(seq 1 100); do
        applied=$(http_get "$i" /raft/metrics | python3 -c 'import sys,json; print(json.load(sys.stdin)["last_applied"] or 0)' 2>/dev/null || echo 0)
        [ "$applied" -ge "$target" ] && break
        sleep 0.1
    done
done
echo "3. reading every key from every node's local storage"
bad=0
for i in $(known_nodes); do
    if ! is_running "$i"; then echo "node $i: down, skipped"; continue; fi
    ok=0
    for k in $(seq 1 "$N"); do
        v=$(printf 'READONLY\nGET sync:%s\n' "$k" | redis-cli -h "$HOST" -p "$(resp_port "$i")" | tail -n 1)
        [ "$v" = "value-$k-$stamp" ] && ok=$((ok + 1))
    done
    echo "node $i: $ok/$N keys consistent"
    [ "$ok" = "$N" ] || bad=1
done
echo "4. reading through a follower (forwarded to the leader)"
for i in $(known_nodes); do
    if [ "$i" != "$leader" ] && is_running "$i"; then
        v=$(redis-cli -h "$HOST" -p "$(resp_port "$i")" get "sync:1")
        echo "node $i GET sync:1 -> $v"
        [ "$v" = "value-1-$stamp" ] || bad=1
        break
    fi
done
if [ "$bad" = 0 ]; then echo "all nodes consistent"; else echo "INCONSISTENT" >&2; exit 1; fi
