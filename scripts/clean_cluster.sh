#!/usr/bin/env bash
# Removes the local cluster's configs, data and logs (cluster_node*.conf, raft_data_*, db_node*,
# cluster_logs/).
#   scripts/clean_cluster.sh [--force] [--stop]
set -euo pipefail
source "$(dirname "$0")/cluster_common.sh"
FORCE=0; STOP=0
for a in "$@"; do
    case "$a" in
        --force) FORCE=1 ;;
        --stop) STOP=1 ;;
        *) echo "unknown option: $a" >&2; exit 2 ;;
    esac
done
[ "$STOP" = 1 ] && bash "$(dirname "$0")/stop_cluster.sh"
running=0
for i in $(known_nodes); do is_running "$i" && running=1; done
if [ "$running" = 1 ]; then
    echo "nodes are still running; stop them first (or pass --stop)" >&2
    exit 1
fi
if [ "$FORCE" != 1 ]; then
    read -r -p "delete cluster configs, data and logs in $ROOT? [y/N] " answer
    [ "$answer" = y ] || [ "$answer" = Y ] || { echo "aborted"; exit 1; }
fi
rm -rf "$ROOT"/cluster_node*.conf "$ROOT"/raft_data_* "$ROOT"/db_node* "$LOG_DIR"
echo "cleaned"
