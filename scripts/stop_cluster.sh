#!/usr/bin/env bash
# Stops every local cluster node: SIGTERM, then SIGKILL after 10 s. Without pid files, finds
# kiwi processes started with a cluster_node*.conf.
#   scripts/stop_cluster.sh
set -uo pipefail
source "$(dirname "$0")/cluster_common.sh"
pids=()
for i in $(known_nodes); do
    pf=$(pid_file "$i")
    if [ -f "$pf" ]; then
        pid=$(cat "$pf")
        kill -0 "$pid" 2>/dev/null && pids+=("$pid")
        rm -f "$pf"
    fi
done
if [ ${#pids[@]} -eq 0 ]; then
    mapfile -t pids < <(pgrep -f "kiwi --config .*cluster_node[0-9]+\.conf" || true)
fi
[ ${#pids[@]} -eq 0 ] && { echo "no cluster nodes running"; exit 0; }
kill "${pids[@]}" 2>/dev/null
for _ in $(seq 1 100); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -9 "$p"; done
echo "stopped ${#pids[@]} node(s)"
