#!/usr/bin/env bash
# Shows each node's process state, role, term and indexes, and the leader.
#   scripts/cluster_status.sh
set -uo pipefail
source "$(dirname "$0")/cluster_common.sh"
printf "%-5s %-17s %-8s %-8s %-10s %-6s %-10s %-10s %-10s\n" node id pid state role term last_log committed applied
for i in $(known_nodes); do
    if is_running "$i"; then
        pid=$(cat "$(pid_file "$i")")
        line=$(http_get "$i" /raft/metrics | python3 -c '
import sys, json
m = json.load(sys.stdin)
print(m["id"], m["state"], m["current_term"], m["last_log_index"], m["committed"], m["last_applied"])' 2>/dev/null) || line="? ? ? ? ? ?"
        read -r id role term last committed applied <<< "$line"
        printf "%-5s %-17s %-8s %-8s %-10s %-6s %-10s %-10s %-10s\n" "$i" "$id" "$pid" up "$role" "$term" "$last" "$committed" "$applied"
    else
        printf "%-5s %-17s %-8s %-8s\n" "$i" - - down
    fi
done
if leader=$(leader_node); then
    echo "leader: node $leader, id $(node_id "$leader") (resp $HOST:$(resp_port "$leader"), http $HOST:$(raft_port "$leader"))"
else
    echo "leader: none"
fi
echo
echo "try: redis-cli -p $(resp_port 1) set k v   |   curl http://$HOST:$(raft_port 1)/raft/metrics"
